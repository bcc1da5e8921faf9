"""Question → retrieved evidence → streamed, checked answer. The one public API the CLI
and the web chat consume::

    pipe = Pipeline(Settings.load())
    for event in pipe.ask_stream("Combien d'entreprises ont rejoint l'association ?"):
        ...   # Status (searching), Retrieved, Status (reading, writing), Token…, Status (checking), Done

Each part of the question (one, or two for "X and Y?" questions) is answered in four steps: retrieve the
passages; **read** their sentences with the trained reader (``rag.reader``: the sentence that states the
answer, the answer's words, a calibrated P(answerable)); **write** the answer from that sentence alone (the
LLM phrases the reader's words in the question's language; with ``RAG_ANSWER=extract`` the words themselves
are the answer, no LLM); **check** it with the declared checks (``rag.answer.checks``), the reader's
probability against the gate's threshold first (``rag.answer.gate``), so an unanswerable question is refused
before the model is asked anything.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from typing import Callable, Iterator

from rag.answer import checks, compose, followup, gate, grounding, replyguard
from rag.answer.compose import PartAnswer
from rag.answer.prompts import TEXT, WRITE_PREFIX, write_messages
from rag.models import generation
from rag.models.embedding import Embedder
from rag.models.generation import Generator, Usage
from rag.pipeline import parts as factory
from rag.pipeline import steps
from rag.pipeline.events import Answer, Done, Event, Restart, Retrieved, Status, Token
from rag.pipeline.steps import Draft, Part, Read
from rag.reader import Reader
from rag.retrieval import multipart, timefilter
from rag.retrieval.evidence import Evidence, select
from rag.retrieval.scope import Scope
from rag.retrieval.search import retrieve
from rag.settings import Settings
from rag.store import storage
from rag.store.contract import Store
from rag.text import citations, language

MAX_QUESTION_CHARS = 2000


class _Metered(Generator):
    """The pipeline's generator for one question, keeping the ``Usage`` of every call made before the
    first answer token (until ``recording`` is turned off): the follow-up's rewrite, the letters'
    streamed reply's prompt. What they computed is the
    question's ``timings.prefill_tokens``, the latency figure that does not depend on the machine
    (``first_token_s`` does, and on what else it runs)."""

    def __init__(self, generator: Callable[[], Generator]):
        self._generator = generator         # read on first use: the model loads when it is first needed, as before
        self.recording = True
        self.usages: list[Usage] = []

    @property
    def generator(self) -> Generator:
        return self._generator()

    @property
    def model_id(self) -> str:
        return self.generator.model_id

    def stream(self, messages: list[dict], max_tokens: int, prefix: str = "") -> generation.Response:
        response = self.generator.stream(messages, max_tokens, prefix)
        if self.recording:
            self.usages.append(response.usage)
        return response

    def count_tokens(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def prefill_tokens(self) -> int:
        """Prompt tokens computed, not reused from a cache. Read once the answer is done: a server
        reports a streamed reply's usage at its end."""
        return sum(u.new_prompt_tokens for u in self.usages)


def _timing_first_token(steps: Iterator[Event], timings: dict, t0: float, meter: _Metered) -> Iterator[Event]:
    """Relay ``steps``' events, noting when the first answer token went out (and ending ``meter``'s
    count there); returns what ``steps`` returns. Closing this closes ``steps`` (the Stop button ends
    the generation at once)."""
    try:
        while True:
            try:
                event = next(steps)
            except StopIteration as end:
                return end.value
            if isinstance(event, Token) and timings["first_token_s"] is None:
                timings["first_token_s"] = round(time.perf_counter() - t0, 3)
                meter.recording = False
            yield event
    finally:
        steps.close()


class Pipeline:
    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 generator: Generator | None = None, store: Store | None = None,
                 gate_model: gate.Gate | None = None, reader: Reader | None = None):
        # Bound once: every answer, refresh and upload works on the index's own folder.
        self.settings = storage.bind(settings)
        self._embedder = embedder
        self._generator = generator
        self._store = store
        self._gate = gate_model
        self._reader = reader
        self._store_lock = threading.Lock()
        # Users asking at once on a cold pipeline (a server's first questions) must share one model:
        # two loads would hold two copies, and llama-cpp-python's loads swap the process's stdout.
        self._parts_lock = threading.Lock()

    # ---- lazily loaded parts ---------------------------------------------------------------
    def _part(self, name: str, make):
        if getattr(self, name) is None:
            with self._parts_lock:
                if getattr(self, name) is None:
                    setattr(self, name, make(self.settings))
        return getattr(self, name)

    @property
    def embedder(self) -> Embedder:
        return self._part("_embedder", factory.embedder)

    @property
    def generator(self) -> Generator:
        return self._part("_generator", factory.generator)

    @property
    def gate_model(self) -> gate.Gate:
        return self._part("_gate", factory.gate_model)

    @property
    def reader(self) -> Reader:
        return self._part("_reader", factory.reader)

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

    def remove(self, ids: list[str]):
        """Keep these articles and their wire copies out of the index, and answer without them at
        once; → the BuildReport (None for a shared archive opened without its folder)."""
        store = self.store
        store.remove(sorted(set(ids) | {c for i in ids for c in store.copies.get(i, [])}))
        if self.settings.corpus is None:
            with self._store_lock:
                self._store = None
            return None
        return self.refresh()

    def warm_up(self) -> None:
        """Load everything now (the web chat does this before it opens)."""
        _ = self.store
        if self.settings.gate:
            _ = self.gate_model
        self.embedder.encode(["warm up"], "query")
        self.reader.read("warm up", ["warm up"])
        if self.settings.answer == "llm":
            # Computes the fixed system prompt once, so the first question reuses it from the KV cache.
            self.generator.stream(write_messages("warm up", "warm up", None, "en"), 1, WRITE_PREFIX).text()

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
        timings = {"retrieve_s": None, "first_token_s": None, "prefill_tokens": None, "total_s": None}
        text = TEXT[out_lang]
        meter = _Metered(lambda: self.generator)

        def done(answer_text: str, refused: bool, reason: str = "", **extra) -> Done:
            timings["total_s"] = round(time.perf_counter() - t0, 3)
            if timings["first_token_s"] is not None:        # like the first token's time: none without one
                timings["prefill_tokens"] = meter.prefill_tokens()
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
        if s.answer == "llm" and followup.needs_rewrite(question, history):   # extract mode asks no LLM
            yield Status(text["rewriting"], "rewriting")
            query = followup.standalone(meter, question, history)
        yield Status(text["searching"], "searching")
        split = multipart.split(query) if s.split_questions else multipart.Split([query])
        parts = self._retrieve(split.parts, query, scope)
        evidence = [dataclasses.replace(e, n=e.n + p.offset) for p in parts for e in p.evidence]
        passages = list({p["passage_id"]: p for part in parts for p in part.passages}.values())
        timings["retrieve_s"] = round(time.perf_counter() - t0, 3)
        yield Retrieved(query, out_lang, passages, evidence, timings["retrieve_s"])
        if evidence:
            yield Status(text["reading"].format(n=len(evidence)), "reading", len(evidence))

        results: list[PartAnswer] = []
        for part in parts:
            result = yield from _timing_first_token(self._answer(part, out_lang, meter, lead=" " if results else ""),
                                                    timings, t0, meter)
            results.append(result)
        yield self._combine(results, split, parts, evidence, passages, query, out_lang, done)

    # ---- steps ---------------------------------------------------------------------------------
    def _retrieve(self, questions: list[str], whole: str, scope: Scope | None) -> list[Part]:
        """Search for each part (among the articles ``scope`` allows); a part is searched with the
        whole question too, since a second part often leans on the first ("…, and what did that
        city unveil?"). The question's time words ("en avril", "latest") rank articles by date."""
        s = self.settings
        store = self.store
        when = timefilter.parse(whole)
        texts = questions + ([whole] if len(questions) > 1 else [])
        vectors = self.embedder.encode(texts, "query")
        # A multi-part question shares the reader's candidates between its parts.
        most = max(4, s.reader_sentences // len(questions))
        parts, offset = [], 0
        for i, q in enumerate(questions):
            rows = [i, len(texts) - 1] if len(questions) > 1 else [i]
            queries = [texts[r] for r in rows]
            hits = retrieve(store, queries, vectors[rows], s.top_k, s.candidates, s.hybrid, scope=scope, when=when)
            passages = [{"doc": store.passages[h.row].doc, "passage_id": store.passages[h.row].passage_id,
                         "score": round(h.dense, 4), "text": store.passages[h.row].text,
                         **store.describe(store.passages[h.row].doc, store.passages[h.row].start)} for h in hits]
            evidence = select(store, hits, vectors[i:i + 1], [q], most)
            parts.append(Part(q, passages, evidence, max((h.dense for h in hits), default=0.0), offset, when))
            offset += len(evidence)
        return parts

    def _answer(self, part: Part, lang: str, generator: Generator, lead: str) -> Iterator[Event]:
        """Answer one part: the retrieval checks, the reader, its probability against the gate, then the answer
        written from its sentence (or its span, in extract mode) and checked; returns the ``PartAnswer``
        (``yield from``) with the reader's record."""
        s = self.settings
        threshold = self.gate_model.threshold if s.gate else 0.0

        def refused(v: checks.Verdict, r: Read | None, withdrawn: str = "", prompt_tokens: int = 0) -> PartAnswer:
            return compose.compose(withdrawn, [], v, lang, steps.check_record(v, r, part.offset), prompt_tokens,
                                   reader=steps.reader_record(r, self._sourced, part.offset),
                                   closest=steps.closest(part, r))

        context = steps.context(part, lang, s.answer, threshold, s.min_score)
        v = checks.verdict(context, "retrieval")
        if not v.ok:
            return refused(v, None)
        r = steps.read(self.reader, part)
        article = self.store.docs.get(r.chosen.doc) if r.chosen else None
        context = steps.with_reading(context, r, article.text if article else "",
                                     self._language_of(r.chosen) if r.chosen else "")
        v = checks.verdict(context, "reader")
        if not v.ok:
            return refused(v, r)
        if s.answer == "extract":
            text = self._quoted(r, lang)
            draft = Draft(text, 0)
        else:
            yield Status(TEXT[lang]["writing"], "writing")
            draft = yield from self._draft(part, r, lang, generator, lead)
            yield Status(TEXT[lang]["checking"], "checking")
        v = checks.verdict(dataclasses.replace(context, answer=draft.text, protocol=draft.protocol), "answer")
        if not v.ok:
            return refused(v, r, draft.text or draft.protocol, draft.prompt_tokens)
        cited = [r.chosen.n + part.offset] + [n + part.offset for n in
                                              grounding.recite(draft.text, [r.chosen], part.evidence, lang)]
        return compose.compose(draft.text, cited, v, lang, steps.check_record(v, r, part.offset), draft.prompt_tokens,
                               reader=steps.reader_record(r, self._sourced, part.offset))

    def _quoted(self, r: Read, lang: str) -> str:
        """The extract mode's answer: the reader's words, marked as a quote in the article's language when the
        question is in another one."""
        span = r.span or r.chosen.text
        article = self._language_of(r.chosen)
        if article != lang:
            return TEXT[lang]["quoted"].format(span=span, article_lang=TEXT[lang]["languages"][article])
        return span

    def _draft(self, part: Part, r: Read, lang: str, generator: Generator, lead: str) -> Iterator[Event]:
        """Stream the answer phrased from the reader's sentence and words, in ``lang``; returns a ``Draft``.
        An answer in the wrong language is written again with the language stressed (``Restart``)."""
        draft = yield from self._generate(generator, write_messages(part.question, r.chosen.text, r.span, lang),
                                          WRITE_PREFIX, lead)
        if draft.text and language.detect(citations.strip(draft.text), default=lang) != lang:
            yield Restart(f"answer not in {lang}")
            draft = yield from self._generate(generator, write_messages(part.question, r.chosen.text, r.span, lang,
                                                                        strict_language=True), WRITE_PREFIX, lead)
        return draft

    def _language_of(self, e: Evidence) -> str:
        """The language of the article ``e`` is from (detected when it was indexed), else of the sentence."""
        docs = self.store.docs
        return (docs[e.doc].lang if e.doc in docs else "") or language.detect(e.text, default="fr")

    def _generate(self, generator: Generator, messages: list[dict], prefix: str, lead: str,
                  shown: bool = True) -> Iterator[Event]:
        """Stream one line of answer (as ``Token`` events when ``shown``); returns a ``Draft``."""
        response = generator.stream(messages, self.settings.max_tokens, prefix=prefix)
        line = replyguard.AnswerLine()
        try:
            for piece in itertools.chain(response, [None]):   # None: the reply has ended
                piece = line.feed(piece) if piece is not None else line.finish()
                if piece and shown:
                    yield Token(lead + piece if line.text == piece else piece)
                if line.done:
                    break
        finally:
            response.close()
        protocol = "\n".join(line.skipped) if line.protocol_only else ""
        return Draft(line.text.strip(), response.usage.prompt_tokens, protocol)

    def _sourced(self, e: Evidence) -> dict:
        """A citation with its article's title, date, source (and page, copies)."""
        return {**e.to_dict(), **self.store.describe(e.doc, e.start)}

    def _combine(self, results: list[PartAnswer], split: multipart.Split, parts: list[Part],
                 evidence: list[Evidence], passages: list[dict], query: str, lang: str, done) -> Done:
        text = TEXT[lang]
        by_n = {e.n: self._sourced(e) for e in evidence}
        common = {"passages": passages, "query": query, "prompt_tokens": sum(r.prompt_tokens for r in results),
                  "checks": [r.check for r in results], "reader": next((r.reader for r in results if r.reader), None)}
        if len(results) == 1:
            r = results[0]
            shown = r.text
            if not r.refused and parts[0].when:     # "en avril", "latest": say which date the figure is from
                shown = timefilter.with_dates(shown, [by_n[n]["date"] for n in r.cited], lang)
            shown, cited = compose.numbered(shown, [by_n[n] for n in r.cited])
            closest = by_n[r.closest.n + parts[0].offset] if r.refused and r.closest else None
            return done(shown, r.refused, r.reason, withdrawn=r.withdrawn, citations=cited, closest=closest, **common)
        sentences, cited = [], []
        for part, r in zip(parts, results):
            if r.refused:
                why = r.text.split(":", 1)[-1].strip().rstrip(".")
                sentences.append(text["part_refused"].format(part=part.question.rstrip(" ?"), why=why))
            else:
                # An extract-mode part is the reader's words alone: a full stop keeps the parts apart.
                sentences.append(r.text if re.search(r"[.!?…»”)]$", r.text) else r.text + ".")
                cited += [n for n in r.cited if n not in cited]
        if split.compare and not any(r.refused for r in results):
            found = [grounding.figures(r.text, lang) for r in results]
            if all(found):
                i = multipart.compare([max(max(f.values) for f in figs) for figs in found], split.compare)
                sentences.append(text["larger" if split.compare == "max" else "smaller"].format(
                    subject=split.subjects[i], figure=found[i][0].text))
        refused = all(r.refused for r in results)
        reasons = "; ".join(r.reason for r in results if r.refused)
        shown, numbered = compose.numbered(" ".join(sentences), [by_n[n] for n in cited])
        return done(shown, refused, reasons, citations=numbered,
                    withdrawn=" | ".join(r.withdrawn for r in results if r.withdrawn), **common)
