"""What a reader is: given a question and candidate sentences, which one states the answer, whether any
does, and the answer's words.

A reader backend implements :meth:`Reader.score` (one number and one span per sentence); the shared
:meth:`Reader.read` turns that into a :class:`Reading`. A larger reader is one more file with its own
``score``.

>>> class Longest(Reader):
...     def score(self, question, sentences):
...         return [SentenceScore(float(len(s)), (0, len(s))) for s in sentences]
...     def probability(self, score):
...         return min(1.0, score / 10)
>>> r = Longest().read("q", ["court", "le plus long"])
>>> r.best, r.p_answer, r.span_text
(1, 1.0, 'le plus long')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class SentenceScore:
    score: float                    # the reader's logit that this sentence states the answer
    span: tuple[int, int]           # the answer's characters inside the sentence


@dataclass(frozen=True)
class Reading:
    """What the reader found among ``sentences`` (indices into them)."""

    sentences: list[str]
    scores: list[SentenceScore]
    best: int | None                # the sentence that most likely states the answer (None: no candidate)
    p_answer: float                 # P(some candidate states the answer), calibrated

    @property
    def order(self) -> list[int]:
        """Candidates, most likely first."""
        return sorted(range(len(self.scores)), key=lambda i: -self.scores[i].score)

    @property
    def span_text(self) -> str | None:
        if self.best is None:
            return None
        a, b = self.scores[self.best].span
        return self.sentences[self.best][a:b] or None


class Reader(ABC):
    """Scores candidate sentences for a question; ``read`` is the verdict the pipeline uses."""

    model_id: str = ""              # which weights: answers cached by ``rag eval`` are keyed with it

    @abstractmethod
    def score(self, question: str, sentences: list[str]) -> list[SentenceScore]:
        """One score and span per sentence, in order (one batched forward)."""

    @abstractmethod
    def probability(self, score: float) -> float:
        """P(answerable) for a question whose best sentence has ``score`` (calibrated on dev articles)."""

    def read(self, question: str, sentences: list[str]) -> Reading:
        if not sentences:
            return Reading([], [], None, 0.0)
        scores = self.score(question, sentences)
        best = max(range(len(scores)), key=lambda i: scores[i].score)
        return Reading(list(sentences), scores, best, round(self.probability(scores[best].score), 4))
