"""The typed steps of answering one part of a question, between retrieval and the shown answer:
each takes dataclasses and returns one, so what a step decided is a value the next one reads.

    Part (question, passages, candidate sentences)
      → read: Read (the reader's sentence, span and P(answerable))
      → the streamed draft from that sentence alone (``Pipeline._draft``), or the span itself (extract mode)
      → rag.answer.checks: Verdict (the declared checks, the first that failed)
      → rag.answer.compose: PartAnswer (the answer with its markers, or the refusal naming what was found)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from rag.answer import checks
from rag.reader import Reader, Reading
from rag.retrieval import timefilter
from rag.retrieval.evidence import Evidence


@dataclass
class Part:
    """One part of a question with what was retrieved for it (candidate sentences numbered from 1)."""
    question: str
    passages: list[dict]
    evidence: list[Evidence]
    best: float
    offset: int = 0                 # its evidence's numbers in the whole answer: n + offset
    when: timefilter.TimeCondition | None = None   # the question's time condition, if any


@dataclass(frozen=True)
class Read:
    """What the reader found in a part's sentences."""
    reading: Reading
    chosen: Evidence | None         # the sentence that most likely states the answer
    span: str | None                # its answer words
    seconds: float = 0.0            # the reader's time
    ranked: tuple[Evidence, ...] = ()   # its three best sentences, best first

    @property
    def p_answer(self) -> float:
        return self.reading.p_answer

    def second(self, evidence: list[Evidence]) -> Evidence | None:
        order = self.reading.order
        return evidence[order[1]] if len(order) > 1 else None


@dataclass(frozen=True)
class Draft:
    text: str
    prompt_tokens: int
    protocol: str = ""              # the reply was only the answer format (rag.answer.replyguard): its lines


def read(reader: Reader, part: Part) -> Read:
    """The reader over the part's candidate sentences (one batched forward)."""
    t0 = time.perf_counter()
    reading = reader.read(part.question, [e.text for e in part.evidence])
    chosen = part.evidence[reading.best] if reading.best is not None else None
    return Read(reading, chosen, reading.span_text, round(time.perf_counter() - t0, 4),
                tuple(part.evidence[i] for i in reading.order[:3]))


def reader_record(r: Read | None, sourced, offset: int = 0) -> dict | None:
    """``--json``'s ``reader``: the reader's own sentence (sourced like a citation, numbered as the whole
    answer's evidence), its span and P(answerable)."""
    if r is None:
        return None
    sentence = sourced(dataclasses.replace(r.chosen, n=r.chosen.n + offset)) if r.chosen else None
    return {"p_answer": r.p_answer, "sentence": sentence, "span": r.span, "candidates": len(r.reading.sentences),
            "ranked": [{"n": e.n + offset, "doc": e.doc, "start": e.start, "end": e.end, "text": e.text}
                       for e in r.ranked], "seconds": r.seconds}


def context(part: Part, lang: str, mode: str, threshold: float, min_score: float) -> checks.Context:
    """What the checks read for this part before the reader has read it (one per part; the reading and
    the answer are added as they come: ``with_reading``, ``dataclasses.replace``)."""
    dates = [p["date"] for p in part.passages]
    picked = [d for d in dates if part.when and timefilter.discriminates(part.when, dates) and part.when.matches(d)]
    return checks.Context(part.question, lang, mode, evidence=part.evidence, threshold=threshold, best=part.best,
                          min_score=min_score, passages=part.passages, dates=picked)


def with_reading(c: checks.Context, r: Read, article: str = "", article_lang: str = "") -> checks.Context:
    """``c`` with what the reader found: its sentence, its words, P(answerable), the text and language of
    the sentence's article."""
    return dataclasses.replace(c, span=r.span, cited=[r.chosen] if r.chosen else [], p_answer=r.p_answer,
                               article=article, article_lang=article_lang)


def check_record(v: checks.Verdict, r: Read | None, offset: int) -> dict:
    """The decision as ``--json`` shows it under ``checks``: the checks run, the first that failed, the
    reader's probability; sentences as evidence numbers (``citations[].evidence``)."""
    return {"answer": v.ok, "failed": v.failed, "detail": v.detail, "checked": v.checked,
            "p_answer": r.p_answer if r else None,
            "source": r.chosen.n + offset if r and r.chosen else None}


def closest(part: Part, r: Read | None) -> Evidence | None:
    """The sentence a refusal points the reader to: the reader's best, else the best-scored one read;
    None when none was read.

    >>> ev = [Evidence(1, "d", "d#0", 0, 5, "Une.", 0.7), Evidence(2, "d", "d#0", 6, 9, "Deux.", 0.9)]
    >>> closest(Part("q", [], ev, 0.9), None).text, closest(Part("q", [], [], 0), None)
    ('Deux.', None)
    """
    if r is not None and r.chosen is not None:
        return r.chosen
    return max(part.evidence, key=lambda e: e.score, default=None)
