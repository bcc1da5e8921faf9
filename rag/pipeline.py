"""Question → retrieved evidence → streamed, checked answer. The one public API the CLI
and the web chat consume::

    pipe = Pipeline(Settings.load())
    for event in pipe.ask_stream("Combien d'entreprises ont rejoint l'association ?"):
        ...   # Status, Retrieved, Token..., Status("checking"), then Done(answer)

Each part of the question (one, or two for "X and Y?" questions) is answered cite-first:
the model reads lettered sentences and its reply is forced to start with ``Source:``;
the probabilities of the letters and of NONE are read there, the answer then continues
from the most likely sentence (same KV cache). While the answer streams nothing is
decided; after it, the hard grounding rules, a graded check of the cited sentence and the
learned gate (``rag.gate``) decide whether it is shown or replaced by a refusal that says
which check refused.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

from . import (answertype, attribution, citations, followup, gate, generation, grounding, language, multipart, prompts,
               replyguard, storage, timefilter)
from .embedding import Embedder, SentenceTransformerEmbedder
from .evidence import Evidence, select
from .generation import Generator
from .models import embed_model_path
from .prompts import ANSWER_PREFIX, GRADE_PREFIX, NONE_LABEL, QUOTE, TEXT, answer_messages, grade_messages
from .retrieval import retrieve
from .scope import Scope
from .settings import Settings
from .store import Store

MAX_QUESTION_CHARS = 2000
GRADES = ["0", "1", "2"]


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
    reason: str = ""                # why it was refused (the check, in English, for logs and --json)
    checks: list[dict] = field(default_factory=list)   # per part: the gate's decision and its features

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


@dataclass
class _Part:
    """One part of a question with what was retrieved for it (evidence numbered from 1)."""
    question: str
    passages: list[dict]
    evidence: list[Evidence]
    best: float
    offset: int = 0                 # its evidence's numbers in the whole answer: n + offset
    when: timefilter.TimeCondition | None = None   # the question's time condition, if any


@dataclass
class _Result:
    text: str                       # the answer shown for this part (refusal sentence if refused)
    refused: bool
    reason: str = ""
    cited: list[int] = field(default_factory=list)   # evidence numbers, in the whole answer
    withdrawn: str = ""
    check: dict = field(default_factory=dict)
    prompt_tokens: int = 0


@dataclass(frozen=True)
class _Text:
    text: str
    prompt_tokens: int
    protocol: str = ""              # the reply was only the answer format (rag.replyguard): its lines


def _label_list(evidence: list[Evidence]) -> list[str]:
    return [f" {e.label}" for e in evidence] + [f" {NONE_LABEL}"]


class Pipeline:
    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 generator: Generator | None = None, store: Store | None = None,
                 gate_model: gate.GateModel | None = None):
        self.settings = settings
        self._embedder = embedder
        self._generator = generator
        self._store = store
        self._gate = gate_model
        self._store_lock = threading.Lock()

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
    def gate_model(self) -> gate.GateModel:
        if self._gate is None:
            self._gate = gate.GateModel.load(self.settings.gate_file or gate.MODEL_FILE)
        return self._gate

    @property
    def store(self) -> Store:
        """The index, built on first use if missing and refreshed if the articles changed."""
        with self._store_lock:
            if self._store is None:
                self._store = storage.open_index(self.settings, self.embedder)
            return self._store

    def refresh(self, progress: bool = False):
        """Re-index the corpus folder (articles added, changed or removed) and answer from the
        new index at once; → the BuildReport. Answers under way keep the index they started with."""
        report = storage.build(self.settings, self.embedder, progress=progress)
        with self._store_lock:
            self._store = None
        return report

    def warm_up(self) -> None:
        """Load everything now (the web chat does this before it opens)."""
        _ = self.store
        if self.settings.gate:
            _ = self.gate_model
        self.embedder.encode(["warm up"], "query")
        # Computes the fixed system prompt once, so the first question reuses it from the KV cache.
        messages = answer_messages("warm up", [], {}, "en")
        try:
            self.generator.label_probabilities(messages, ANSWER_PREFIX, [f" {NONE_LABEL}"])
        except generation.Unsupported:      # a server without token probabilities: one token of a reply
            self.generator.stream(messages, 1, ANSWER_PREFIX).text()

    # ---- asking --------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, lang: str | None = None,
            scope: Scope | None = None) -> Answer:
        for event in self.ask_stream(question, history, lang, scope):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("ask_stream ended without an answer")

    def ask_stream(self, question: str, history: list[dict] | None = None,
                   lang: str | None = None, scope: Scope | None = None) -> Iterator[Event]:
        """``scope``: only the articles (or dates) the user chose; the question's own time words
        ("en avril", "latest") rank the articles by date."""
        t0 = time.perf_counter()
        s = self.settings
        question = " ".join(str(question or "").split())
        setting = lang or s.lang
        default = setting if setting in ("fr", "en") else s.default_lang
        qlang = language.detect(question, default=default) if question else default
        out_lang = setting if setting in ("fr", "en") else qlang
        timings = {"retrieve_s": None, "first_token_s": None, "total_s": None}
        text = TEXT[out_lang]

        def done(answer_text: str, refused: bool, reason: str = "", **extra) -> Done:
            timings["total_s"] = round(time.perf_counter() - t0, 3)
            return Done(Answer(question=question, lang=out_lang, answer=answer_text, refused=refused,
                               timings=timings, **{"citations": [], "passages": [], "prompt_tokens": 0,
                                                   "query": question, "reason": reason, **extra}))

        if not re.search(r"[^\W_]{2,}", question):     # nothing to search for: "", "?!", "a", "🙂"
            yield done(text["empty"], True, "empty question")
            return
        if len(question) > MAX_QUESTION_CHARS:
            yield done(text["too_long"].format(n=len(question), max=MAX_QUESTION_CHARS), True, "question too long")
            return
        if language.foreign_language(question):
            yield done(TEXT[default]["foreign"], True, "unsupported language")
            return

        query = question
        if followup.needs_rewrite(question, history):
            yield Status(text["rewriting"])
            query = followup.standalone(self.generator, question, history)
        yield Status(text["searching"])
        split = multipart.split(query) if s.split_questions else multipart.Split([query])
        parts = self._retrieve(split.parts, query, scope)
        evidence = [dataclasses.replace(e, n=e.n + p.offset) for p in parts for e in p.evidence]
        passages = list({p["passage_id"]: p for part in parts for p in part.passages}.values())
        timings["retrieve_s"] = round(time.perf_counter() - t0, 3)
        yield Retrieved(query, out_lang, passages, evidence, timings["retrieve_s"])

        results: list[_Result] = []
        for part in parts:
            result = yield from self._answer(part, out_lang, timings, t0, lead=" " if results else "")
            results.append(result)
        yield self._combine(results, split, parts, evidence, passages, query, out_lang, done)

    # ---- steps ---------------------------------------------------------------------------------
    def _retrieve(self, questions: list[str], whole: str, scope: Scope | None) -> list[_Part]:
        """Search for each part (among the articles ``scope`` allows); a part is searched with the
        whole question too, since a second part often leans on the first ("…, and what did that
        city unveil?"). The question's time words ("en avril", "latest") rank articles by date."""
        s = self.settings
        store = self.store
        when = timefilter.parse(whole)
        texts = questions + ([whole] if len(questions) > 1 else [])
        vectors = self.embedder.encode(texts, "query")
        # A multi-part question shares the evidence budget between its parts.
        budget, most = s.evidence_tokens // len(questions), max(2, s.max_sentences // len(questions))
        parts, offset = [], 0
        for i, q in enumerate(questions):
            rows = [i, len(texts) - 1] if len(questions) > 1 else [i]
            queries = [texts[r] for r in rows]
            hits = retrieve(store, queries, vectors[rows], s.top_k, s.candidates, s.hybrid, scope=scope, when=when)
            passages = [{"doc": store.passages[h.row].doc, "passage_id": store.passages[h.row].passage_id,
                         "score": round(h.dense, 4), "text": store.passages[h.row].text,
                         **store.describe(store.passages[h.row].doc, store.passages[h.row].start)} for h in hits]
            evidence = select(store, hits, vectors[i:i + 1], [q], budget, most, self.generator.count_tokens)
            parts.append(_Part(q, passages, evidence, max((h.dense for h in hits), default=0.0), offset, when))
            offset += len(evidence)
        return parts

    def _answer(self, part: _Part, lang: str, timings: dict, t0: float, lead: str) -> Iterator[Event]:
        """Answer one part: stream it, then check it. Returns a ``_Result`` (``yield from``)."""
        s, text = self.settings, TEXT[lang]
        evidence = part.evidence

        def refuse(why: str, reason: str, **extra) -> _Result:
            words = text["why"][why].format(**extra.pop("fmt", {}))
            return _Result(text["refused"].format(why=words), True, reason, **extra)

        if not evidence or part.best < s.min_score:
            return refuse("no_evidence", f"no passage scored above {s.min_score} (best {part.best:.3f})")
        # A figure the question is conditioned on ("in 2020") that no retrieved passage
        # mentions: the articles don't cover that case, and the model would answer with
        # the nearest figure. Refused before generating.
        # "In 2024" is answered by an article dated 2024 even if its text never says the year:
        # the dates of the articles the time condition picked count as mentions.
        dates = [p["date"] for p in part.passages]
        picked = [d for d in dates if part.when and timefilter.discriminates(part.when, dates) and part.when.matches(d)]
        passage_figures = [f for t in [*(p["text"] for p in part.passages), *picked] for f in grounding.figures(t)]
        absent = [f.text for f in grounding.figures(part.question, lang)
                  if not any(f.values & g.values for g in passage_figures)]
        if absent:
            return refuse("missing_figure", f"no retrieved passage mentions {', '.join(absent)}",
                          fmt={"figures": ", ".join(absent)})

        titles = {e.doc: self.store.docs[e.doc].title for e in evidence if e.doc in self.store.docs}
        messages = answer_messages(part.question, evidence, titles, lang)
        features = {"retrieval": part.best, "evidence": max(e.score for e in evidence), "english": float(lang == "en")}
        letters = []
        try:
            probs = self.generator.label_probabilities(messages, ANSWER_PREFIX, _label_list(evidence))
            choice = attribution.choose(evidence, probs, self.gate_model.source_weight)
            chosen = choice.evidence
            features.update(p_none=probs[f" {NONE_LABEL}"], p_source=choice.p_source)
            # Every letter's probability and score: what rag calibrate refits the choice on.
            letters = [{"label": e.label, "p": round(probs[f" {e.label}"], 4), "score": e.score, "doc": e.doc,
                        "text": e.text} for e in evidence]
        except generation.Unsupported:
            # A server that returns no token probabilities: answer from the best-scored sentence;
            # the gate takes the missing features at their mean (it decides on the others).
            chosen = max(evidence, key=lambda e: e.score)

        # Attribute first, then generate: the app writes the chosen sentence into the reply,
        # so the answer is written from it (measured: without the quote the 1.5B model named
        # the right letter, then answered from another sentence).
        prefix = f"{ANSWER_PREFIX} {chosen.label}" + QUOTE.format(sentence=" ".join(chosen.text.split()))
        if lang == "en" and s.english_via_french:
            # Extract in the articles' language, then phrase that short answer in English
            # (lever 6 of the answer-trust issue: measured against the single pass).
            french = yield from self._generate(answer_messages(part.question, evidence, titles, "fr"), prefix,
                                               timings, t0, lead, shown=False)
            if french.protocol:
                return refuse("protocol", f"protocol: the reply was only its format, {french.protocol!r}",
                              withdrawn=french.protocol, prompt_tokens=french.prompt_tokens)
            answer = yield from self._generate(prompts.translate_messages(part.question, french.text), "",
                                               timings, t0, lead)
            prompt_tokens = french.prompt_tokens + answer.prompt_tokens
        else:
            answer = yield from self._generate(messages, prefix, timings, t0, lead)
            if answer.text and language.detect(citations.strip(answer.text), default=lang) != lang:
                yield Restart(f"answer not in {lang}")
                answer = yield from self._generate(answer_messages(part.question, evidence, titles, lang,
                                                                  strict_language=True), prefix, timings, t0, lead)
            prompt_tokens = answer.prompt_tokens
        if answer.protocol:
            return refuse("protocol", f"protocol: the reply was only its format, {answer.protocol!r}",
                          withdrawn=answer.protocol, prompt_tokens=prompt_tokens)
        answer = answer.text

        cited = [chosen]
        yield Status(text["checking"])
        verdict = grounding.check(answer, part.question, cited, evidence, lang)
        for n in verdict.recite:
            cited.append(evidence[n - 1])
        features["type_match"] = float(answertype.matches(answertype.expected(part.question), answer, lang))
        features["names_missing"] = float(len(verdict.names_missing))
        if verdict.ok:
            try:
                grades = self.generator.label_probabilities(grade_messages(part.question, [e.text for e in cited]),
                                                            GRADE_PREFIX, GRADES)
                features["grade"] = sum(int(k) * v for k, v in grades.items())
            except generation.Unsupported:
                pass
        decision = gate.decide(features, verdict, self.gate_model) if s.gate else \
            gate.Decision(verdict.ok, verdict.failed, verdict.detail, None, 0.0, features)
        check = {**asdict(decision), "source": chosen.label, "cited": [e.n + part.offset for e in cited],
                 "letters": letters}
        numbers = [e.n + part.offset for e in cited]
        if not decision.answer:
            words = text["why"].get(decision.failed, text["why"]["p_source"])
            return _Result(text["refused"].format(why=words), True, f"{decision.failed}: {decision.detail}",
                           withdrawn=answer, check=check, prompt_tokens=prompt_tokens)
        answer = re.sub(r"\s*\[\d+(?:[,\s]+\d+)*\]", "", answer).rstrip()
        marks = "".join(f"[{n}]" for n in numbers)
        shown = re.sub(r"\s*([.!?…]*)$", lambda m: f" {marks}{m.group(1)}", answer, count=1)
        return _Result(shown, False, cited=numbers, check=check, prompt_tokens=prompt_tokens)

    def _generate(self, messages: list[dict], prefix: str, timings: dict, t0: float, lead: str,
                  shown: bool = True) -> Iterator[Event]:
        """Stream one line of answer (as ``Token`` events when ``shown``); returns a ``_Text``."""
        response = self.generator.stream(messages, self.settings.max_tokens, prefix=prefix)
        line = replyguard.AnswerLine()
        try:
            for piece in itertools.chain(response, [None]):   # None: the reply has ended
                piece = line.feed(piece) if piece is not None else line.finish()
                if piece:
                    if shown and timings["first_token_s"] is None:
                        timings["first_token_s"] = round(time.perf_counter() - t0, 3)
                    if shown:
                        yield Token(lead + piece if line.text == piece else piece)
                if line.done:
                    break
        finally:
            response.close()
        protocol = "\n".join(line.skipped) if line.protocol_only else ""
        return _Text(line.text.strip(), response.usage.prompt_tokens, protocol)

    def _sourced(self, e: Evidence) -> dict:
        """A citation with its article's title, date, source (and page, copies)."""
        return {**e.to_dict(), **self.store.describe(e.doc, e.start)}

    def _combine(self, results: list[_Result], split: multipart.Split, parts: list[_Part],
                 evidence: list[Evidence], passages: list[dict], query: str, lang: str, done) -> Done:
        text = TEXT[lang]
        by_n = {e.n: self._sourced(e) for e in evidence}
        common = {"passages": passages, "query": query, "prompt_tokens": sum(r.prompt_tokens for r in results),
                  "checks": [r.check for r in results]}
        if len(results) == 1:
            r = results[0]
            cited = [by_n[n] for n in r.cited]
            shown = r.text
            if not r.refused and parts[0].when:     # "en avril", "latest": say which date the figure is from
                shown = timefilter.with_dates(shown, [c["date"] for c in cited], lang)
            return done(shown, r.refused, r.reason, withdrawn=r.withdrawn, citations=cited, **common)
        sentences, cited = [], []
        for part, r in zip(parts, results):
            if r.refused:
                why = r.text.split(":", 1)[-1].strip().rstrip(".")
                sentences.append(text["part_refused"].format(part=part.question.rstrip(" ?"), why=why))
            else:
                sentences.append(r.text)
                cited += [n for n in r.cited if n not in cited]
        if split.compare and not any(r.refused for r in results):
            found = [grounding.figures(r.text, lang) for r in results]
            if all(found):
                i = multipart.compare([max(max(f.values) for f in figs) for figs in found], split.compare)
                sentences.append(text["larger" if split.compare == "max" else "smaller"].format(
                    subject=split.subjects[i], figure=found[i][0].text))
        refused = all(r.refused for r in results)
        reasons = "; ".join(r.reason for r in results if r.refused)
        return done(" ".join(sentences), refused, reasons, citations=[by_n[n] for n in cited],
                    withdrawn=" | ".join(r.withdrawn for r in results if r.withdrawn), **common)
