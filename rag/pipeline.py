"""Question → retrieved evidence → streamed, verified answer. The one public API the
CLI and the web chat consume::

    pipe = Pipeline(Settings.load())
    for event in pipe.ask_stream("Combien d'entreprises ont rejoint l'association ?"):
        ...   # Status, Retrieved, Token..., then Done(answer)

The app owns the rules a 1.5B model cannot be trusted with: refusing when the
evidence is weak, keeping only citations that point at given evidence, refusing
answers whose figures the cited evidence does not contain, and answering in the
question's language (one regeneration with a stricter instruction if not).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np

from . import citations, language, verify
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import RagError
from .evidence import Evidence, select
from . import generation
from .generation import Generator
from .models import embed_model_path
from .prompts import TEXT, answer_messages, rewrite_messages, translate_messages
from .retrieval import retrieve
from .settings import Settings
from . import storage
from .store import Store

MAX_QUESTION_CHARS = 2000
CORPUS_LANG = "fr"
# Follow-ups that lean on the conversation: short, or opening with a connective / pronoun.
_DEPENDENT = re.compile(r"^(et|and|mais|but|also|aussi|what about|how about|quid|ou|or)\b|"
                        r"\b(it|they|them|its|their|this|that|those|there|il|elle|ils|elles|leur|leurs|"
                        r"celui|celle|ceux|cela|ça|y|en)\b", re.IGNORECASE)


@dataclass
class Answer:
    question: str
    lang: str
    answer: str
    refused: bool
    citations: list[dict]
    passages: list[dict]
    timings: dict
    prompt_tokens: int
    query: str = ""                 # what was searched (the rewritten follow-up, if any)
    dangling: list[int] = field(default_factory=list)
    withdrawn: str = ""             # a generated answer replaced by a refusal, kept for inspection
    reason: str = ""                # why it was refused

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Status:
    text: str


@dataclass
class Retrieved:
    query: str
    lang: str
    passages: list[dict]
    evidence: list[Evidence]
    seconds: float


@dataclass
class Token:
    text: str


@dataclass
class Restart:
    """The streamed text so far is discarded (wrong language): a new attempt follows."""
    reason: str


@dataclass
class Done:
    answer: Answer


Event = Status | Retrieved | Token | Restart | Done


def _cite(text: str, n: int) -> str:
    """Add a citation at the end of the answer, before its final punctuation.

    >>> _cite("91 entreprises [2].", 1)
    '91 entreprises [2] [1].'
    """
    return re.sub(r"\s*([.!?…]*)\s*$", lambda m: f" [{n}]{m.group(1)}", text, count=1)


class Pipeline:
    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 generator: Generator | None = None, store: Store | None = None):
        self.settings = settings
        self._embedder = embedder
        self._generator = generator
        self._store = store
        self._store_lock = threading.Lock()
        self._translations: dict[str, str] = {}

    # ---- lazily loaded parts ---------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            path = embed_model_path(self.settings.embed_model, self.settings.cache_dir)
            model_id = self.settings.embed_model or "multilingual-e5-small"
            self._embedder = SentenceTransformerEmbedder(path, model_id=model_id)
        return self._embedder

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = generation.create(self.settings)
        return self._generator

    @property
    def store(self) -> Store:
        """The index, built on first use if missing and refreshed if the articles changed."""
        with self._store_lock:
            if self._store is None:
                self._store = storage.open_index(self.settings, self.embedder)
            return self._store

    def warm_up(self) -> None:
        """Load everything now (the web chat does this before it opens)."""
        _ = self.store
        self.embedder.encode(["warm up"], "query")
        _ = self.generator.count_tokens("warm up")

    # ---- asking --------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, lang: str | None = None) -> Answer:
        for event in self.ask_stream(question, history, lang):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("ask_stream ended without an answer")

    def ask_stream(self, question: str, history: list[dict] | None = None,
                   lang: str | None = None) -> Iterator[Event]:
        t0 = time.perf_counter()
        s = self.settings
        question = " ".join(str(question or "").split())
        setting = lang or s.lang
        default = setting if setting in ("fr", "en") else s.default_lang
        qlang = language.detect(question, default=default) if question else default
        out_lang = setting if setting in ("fr", "en") else qlang
        timings = {"retrieve_s": None, "first_token_s": None, "total_s": None}

        def finish(answer_text: str, refused: bool, reason: str = "", **extra) -> Done:
            timings["total_s"] = round(time.perf_counter() - t0, 3)
            return Done(Answer(question=question, lang=out_lang, answer=answer_text, refused=refused,
                               citations=extra.get("citations", []), passages=extra.get("passages", []),
                               timings=timings, prompt_tokens=extra.get("prompt_tokens", 0),
                               query=extra.get("query", question), dangling=extra.get("dangling", []),
                               withdrawn=extra.get("withdrawn", ""), reason=reason))

        if not re.search(r"[^\W_]{2,}", question):     # nothing to search for: "", "?!", "a", "🙂"
            yield finish(TEXT[out_lang]["empty"], True, "empty question")
            return
        if len(question) > MAX_QUESTION_CHARS:
            yield finish(TEXT[out_lang]["too_long"].format(n=len(question), max=MAX_QUESTION_CHARS), True,
                         "question too long")
            return
        if language.foreign_language(question):
            yield finish(TEXT[default]["foreign"], True, "unsupported language")
            return

        query = question
        if history and _DEPENDENT.search(question) or (history and len(question.split()) <= 4):
            yield Status(TEXT[out_lang]["rewriting"])
            query = self._rewrite(question, history)
        yield Status(TEXT[out_lang]["searching"])
        queries = [query]
        if s.translate_query and language.detect(query, default=qlang) != CORPUS_LANG:
            queries.append(self._translate(query, CORPUS_LANG))
        store = self.store
        vectors = self.embedder.encode(queries, "query")
        hits = retrieve(store, queries, vectors, s.top_k, s.candidates, s.hybrid)
        passages = [{"doc": store.passages[h.row].doc, "passage_id": store.passages[h.row].passage_id,
                     "score": round(h.dense, 4), "text": store.passages[h.row].text} for h in hits]
        evidence = select(store, hits, vectors, queries, s.evidence_tokens, s.max_sentences, self._count_tokens)
        timings["retrieve_s"] = round(time.perf_counter() - t0, 3)
        yield Retrieved(query, out_lang, passages, evidence, timings["retrieve_s"])
        common = {"passages": passages, "query": query}

        best = max((h.dense for h in hits), default=0.0)
        if not evidence or best < s.min_score:
            yield finish(TEXT[out_lang]["refusal"], True, f"no passage scored above {s.min_score} (best {best:.3f})",
                         **common)
            return

        # A figure the question is conditioned on ("in 2020", "the 45 billion target") that no
        # retrieved passage contains: the articles don't cover that case, and the model would
        # answer with the nearest figure. Refused before generating.
        absent = s.verify_support and verify.unsupported_numbers(question, "", [p["text"] for p in passages])
        if absent:
            yield finish(TEXT[out_lang]["missing_figure"].format(figures=", ".join(absent)), True,
                         f"no retrieved passage mentions {', '.join(absent)}", **common)
            return

        yield Status(TEXT[out_lang]["reading"].format(n=len(evidence)))
        text, prompt_tokens = "", 0
        for attempt in range(2):
            messages = answer_messages(question if query == question else query, evidence, out_lang,
                                       strict_language=attempt > 0)
            text = ""
            response = self.generator.stream(messages, s.max_tokens)
            try:
                for piece in response:
                    if timings["first_token_s"] is None:
                        timings["first_token_s"] = round(time.perf_counter() - t0, 3)
                    text += piece
                    yield Token(piece)
            finally:
                response.close()
            prompt_tokens = response.usage.prompt_tokens
            if attempt == 0 and language.detect(citations.strip(text), default=out_lang) != out_lang:
                yield Restart(f"answer not in {out_lang}")
                continue
            break
        yield self._verified(text, query, evidence, out_lang, finish, prompt_tokens, common)

    # ---- helpers -------------------------------------------------------------------------------
    def _verified(self, text: str, question: str, evidence: list[Evidence], lang: str, finish, prompt_tokens: int,
                  common: dict) -> Done:
        checked = citations.check(text, len(evidence))
        extra = {**common, "prompt_tokens": prompt_tokens, "dangling": checked.dangling}
        if not checked.text or verify.is_model_refusal(checked.text):
            return finish(TEXT[lang]["refusal"], True, "the model found no answer in the evidence",
                          withdrawn=text, **extra)
        cited = checked.cited
        answer_text = checked.text
        evidence_texts = [e.text for e in evidence]
        if verify.lacks_substance(answer_text, question):
            return finish(TEXT[lang]["refusal"], True, "the answer says nothing the question asks for",
                          withdrawn=text, **extra)
        if not cited:
            # The model forgot to cite (it often does, measured): attribute the answer to the
            # snippet holding all its figures, else to the one closest in meaning if close enough.
            holders = [e.n for e in evidence if verify.numbers(answer_text)
                       and not verify.unsupported_numbers(answer_text, question, [e.text])]
            n = holders[0] if holders else self._closest_evidence(answer_text, evidence)
            if n is None:
                return finish(TEXT[lang]["refusal"], True, "the answer cites no evidence and matches none",
                              withdrawn=text, **extra)
            cited = [n]
            answer_text = _cite(answer_text, n)
        if self.settings.verify_support:
            missing = verify.unsupported_numbers(answer_text, question, [evidence[n - 1].text for n in cited])
            invented = verify.unsupported_numbers(" ".join(missing), question, evidence_texts)
            if invented:
                return finish(TEXT[lang]["unsupported"], True, f"figures not in the evidence: {', '.join(invented)}",
                              withdrawn=text, **extra)
            # A figure cited to the wrong snippet: point the reader at the snippet that holds it.
            for figure in missing:
                holder = next(e.n for e in evidence if not verify.unsupported_numbers(figure, question, [e.text]))
                if holder not in cited:
                    cited.append(holder)
                    answer_text = _cite(answer_text, holder)
        return finish(answer_text, False, citations=[evidence[n - 1].to_dict() for n in cited], **extra)

    def _closest_evidence(self, answer: str, evidence: list[Evidence]) -> int | None:
        """The number of the snippet most similar to the answer, if similar enough to attribute."""
        vectors = self.embedder.encode([citations.strip(answer), *(e.text for e in evidence)], "passage")
        similarity = vectors[1:] @ vectors[0]
        best = int(np.argmax(similarity))
        return evidence[best].n if similarity[best] >= self.settings.attribution_score else None

    def _count_tokens(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def _complete(self, messages: list[dict], max_tokens: int) -> str:
        return self.generator.stream(messages, max_tokens).text().strip()

    def _rewrite(self, question: str, history: list[dict]) -> str:
        rewritten = self._complete(rewrite_messages(question, history), 60).splitlines()
        rewritten = rewritten[0].strip().strip('"«» ') if rewritten else ""
        return rewritten if 3 <= len(rewritten) <= 400 else question

    def _translate(self, question: str, target: str) -> str:
        if question not in self._translations:
            translated = self._complete(translate_messages(question, target), 60).splitlines()
            self._translations[question] = translated[0].strip() if translated else question
        return self._translations[question]
