"""Question → retrieved evidence → streamed, checked answer. The one public API the CLI
and the web chat consume::

    pipe = Pipeline(Settings.load())
    for event in pipe.ask_stream("Combien d'entreprises ont rejoint l'association ?"):
        ...   # Status (searching), Retrieved, Status (reading, writing), Token…, Status (checking), Done

Each part of the question (one, or two for "X and Y?" questions) is answered cite-first:
the model reads lettered sentences and its reply is forced to start with ``Source:``;
the probabilities of the letters and of NONE are read there, the answer then continues
from the most likely sentence (same KV cache). While the answer streams nothing is
decided; after it, the hard grounding rules, a graded check of the cited sentence and the
learned gate (``rag.answer.gate``) decide whether it is shown or replaced by a refusal that says
which check refused.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from typing import Callable, Iterator

from rag.answer import answertype, compose, followup, gate, grounding, prompts, replyguard
from rag.answer.compose import PartAnswer
from rag.answer.prompts import ANSWER_PREFIX, NONE_LABEL, TEXT, answer_messages
from rag.models import generation
from rag.models.embedding import Embedder
from rag.models.generation import Generator, Usage
from rag.pipeline import parts as factory
from rag.pipeline import steps
from rag.pipeline.events import Answer, Done, Event, Restart, Retrieved, Status, Token
from rag.pipeline.steps import Choice, Draft, Part
from rag.retrieval import multipart, ranker, timefilter
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
    read, a hidden French draft, the prompt of the streamed reply. What they computed is the
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

    def label_probabilities(self, messages: list[dict], prefix: str, labels: list[str],
                            usage: Usage | None = None) -> dict[str, float]:
        usage = Usage() if usage is None else usage
        if self.recording:
            self.usages.append(usage)
        return self.generator.label_probabilities(messages, prefix, labels, usage)

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
                 gate_model: gate.GateModel | None = None):
        # Bound once: every answer, refresh and upload works on the index's own folder.
        self.settings = storage.bind(settings)
        self._embedder = embedder
        self._generator = generator
        self._store = store
        self._gate = gate_model
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
    def gate_model(self) -> gate.GateModel:
        return self._part("_gate", factory.gate_model)

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
        if followup.needs_rewrite(question, history):
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
        # A multi-part question shares the evidence budget between its parts.
        budget, most = s.evidence_tokens // len(questions), max(2, s.max_sentences // len(questions))
        weights = ranker.load() if s.sentence_ranker else None
        parts, offset = [], 0
        for i, q in enumerate(questions):
            rows = [i, len(texts) - 1] if len(questions) > 1 else [i]
            queries = [texts[r] for r in rows]
            hits = retrieve(store, queries, vectors[rows], s.top_k, s.candidates, s.hybrid, scope=scope, when=when)
            passages = [{"doc": store.passages[h.row].doc, "passage_id": store.passages[h.row].passage_id,
                         "score": round(h.dense, 4), "text": store.passages[h.row].text,
                         **store.describe(store.passages[h.row].doc, store.passages[h.row].start)} for h in hits]
            evidence = select(store, hits, vectors[i:i + 1], [q], budget, most, self.generator.count_tokens,
                              weights, answertype.holds(q) if weights else None)
            parts.append(Part(q, passages, evidence, max((h.dense for h in hits), default=0.0), offset, when))
            offset += len(evidence)
        return parts

    def _answer(self, part: Part, lang: str, generator: Generator, lead: str) -> Iterator[Event]:
        """Answer one part with ``generator`` (the question's metered one): choose its sentence, stream
        the draft, check it; returns the ``PartAnswer`` (``yield from``)."""
        s = self.settings
        early = compose.early_refusal(part.question, part.evidence, part.passages, part.best, s.min_score,
                                      part.when, lang)
        if early:
            return early
        titles = {e.doc: self.store.docs[e.doc].title for e in part.evidence if e.doc in self.store.docs}
        choice = steps.choose(generator, answer_messages(part.question, part.evidence, titles, lang),
                              part.evidence, self.gate_model.source_weight)
        yield Status(TEXT[lang]["writing"], "writing")
        draft = yield from self._draft(part, choice, titles, lang, generator, lead)
        if draft.protocol:
            return compose.compose(draft.protocol, [], "protocol", lang,
                                   f"protocol: the reply was only its format, {draft.protocol!r}",
                                   prompt_tokens=draft.prompt_tokens)
        yield Status(TEXT[lang]["checking"], "checking")
        checked = steps.check(generator, part, choice, draft, lang, self.gate_model if s.gate else None)
        decision = checked.decision
        return compose.compose(draft.text, checked.numbers(part.offset), None if decision.answer else decision.failed,
                               lang, f"{decision.failed}: {decision.detail}",
                               steps.check_record(checked, choice, part.offset), draft.prompt_tokens)

    def _draft(self, part: Part, choice: Choice, titles: dict, lang: str, generator: Generator,
               lead: str) -> Iterator[Event]:
        """Stream the answer from the chosen sentence (attribute first, then generate: the app writes
        that sentence into the reply, so the answer is written from it — measured: without the quote
        the 1.5B model named the right letter, then answered from another sentence); returns a ``Draft``."""
        if steps.via_french(lang, self._language_of(choice.chosen), self.settings.english_via_french):
            # Extract in the quote's language, then phrase that short answer in English
            # (lever 6 of the answer-trust issue: measured against the single pass).
            french = yield from self._generate(generator, answer_messages(part.question, part.evidence, titles, "fr"),
                                               choice.prefix, lead, shown=False)
            if french.protocol:
                return french
            english = yield from self._generate(generator, prompts.translate_messages(part.question, french.text),
                                                "", lead)
            return Draft(english.text, french.prompt_tokens + english.prompt_tokens)
        draft = yield from self._generate(generator, answer_messages(part.question, part.evidence, titles, lang),
                                          choice.prefix, lead)
        if draft.text and language.detect(citations.strip(draft.text), default=lang) != lang:
            yield Restart(f"answer not in {lang}")
            draft = yield from self._generate(generator, answer_messages(part.question, part.evidence, titles, lang,
                                                                         strict_language=True), choice.prefix, lead)
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
                  "checks": [r.check for r in results]}
        if len(results) == 1:
            r = results[0]
            shown = r.text
            if not r.refused and parts[0].when:     # "en avril", "latest": say which date the figure is from
                shown = timefilter.with_dates(shown, [by_n[n]["date"] for n in r.cited], lang)
            shown, cited = compose.numbered(shown, [by_n[n] for n in r.cited])
            closest = by_n[near.n] if r.refused and (near := steps.closest(parts[0], r.check)) else None
            return done(shown, r.refused, r.reason, withdrawn=r.withdrawn, citations=cited, closest=closest, **common)
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
        shown, numbered = compose.numbered(" ".join(sentences), [by_n[n] for n in cited])
        return done(shown, refused, reasons, citations=numbered,
                    withdrawn=" | ".join(r.withdrawn for r in results if r.withdrawn), **common)
