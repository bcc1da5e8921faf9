"""Which sentence an answer is written from: the model's letter probabilities, weighed with
the retrieval's own score of each sentence.

The model reads the lettered sentences and, forced to start its reply with ``Source:``,
puts a probability on each letter. Alone, a 1.5B model picks a neighbour of the right
sentence too often (the one naming the subject rather than the one giving the asked
figure); the retrieval's sentence score (cosine to the question plus keyword overlap,
``rag.retrieval.evidence``) is a second, independent opinion. The choice maximises

    log P(letter) + weight * score

with ``weight`` fitted by ``rag calibrate`` on the calibration set (leave-one-article-out),
stored in ``rag/answer/gate.json``. A weight of 0 is the model alone.

>>> from rag.retrieval.evidence import Evidence
>>> ev = [Evidence(1, "d", "d#0", 0, 9, "Orbis ouvre.", 0.80), Evidence(2, "d", "d#0", 10, 30, "350 personnes.", 0.95)]
>>> choose(ev, {" A": 0.6, " B": 0.4}, weight=0.0).evidence.label
'A'
>>> c = choose(ev, {" A": 0.6, " B": 0.4}, weight=5.0)
>>> c.evidence.label, c.p_source
('B', 0.4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from rag.retrieval.evidence import Evidence

WEIGHTS = (0.0, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0)   # the grid rag calibrate searches


@dataclass(frozen=True)
class Choice:
    evidence: Evidence
    p_source: float      # the model's probability of the chosen letter


def _value(p: float, score: float, weight: float) -> float:
    return math.log(max(p, 1e-9)) + weight * score


def choose(evidence: Sequence[Evidence], probs: dict[str, float], weight: float) -> Choice:
    """The sentence to answer from; ``probs`` maps ``" A"``… to the model's probabilities."""
    best = max(evidence, key=lambda e: _value(probs[f" {e.label}"], e.score, weight))
    return Choice(best, probs[f" {best.label}"])


@dataclass(frozen=True)
class Letters:
    """One calibration question's letters: (probability, score, is it the gold sentence) each."""
    rows: list[tuple[float, float, bool]]
    group: str           # the article, for grouped cross-validation


def _right(items: Iterable[Letters], weight: float) -> list[bool]:
    return [max(q.rows, key=lambda r: _value(r[0], r[1], weight))[2] for q in items]


def fit_weight(items: list[Letters], weights: Sequence[float] = WEIGHTS) -> dict:
    """The weight that picks the gold sentence most often, with its leave-one-article-out score.

    Only questions whose gold sentence is among the letters count. Ties go to the smaller weight.

    >>> qs = [Letters([(0.6, 0.80, False), (0.4, 0.95, True)], "a"), Letters([(0.7, 0.9, True), (0.3, 0.8, False)], "b")]
    >>> r = fit_weight(qs, weights=(0.0, 5.0))
    >>> r["weight"], r["chosen_right"], r["model_alone"]
    (5.0, 1.0, 0.5)
    """
    items = [q for q in items if any(r[2] for r in q.rows)]
    if not items:
        return {"weight": 0.0, "questions": 0}

    def best(train: list[Letters]) -> float:
        return max(weights, key=lambda w: (sum(_right(train, w)), -w))

    oof = []
    for group in sorted({q.group for q in items}):
        held = [q for q in items if q.group == group]
        oof += _right(held, best([q for q in items if q.group != group]))
    weight = best(items)
    return {"weight": weight, "questions": len(items),
            "chosen_right": round(sum(_right(items, weight)) / len(items), 3),
            "cross_validated": round(sum(oof) / len(oof), 3),
            "model_alone": round(sum(_right(items, 0.0)) / len(items), 3),
            "score_alone": round(sum(_right(items, 1e6)) / len(items), 3)}
