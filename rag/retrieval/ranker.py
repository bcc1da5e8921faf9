"""The fitted sentence ranker: which retrieved sentence most likely holds the answer.

A logistic regression over what retrieval already computed for a candidate sentence (its cosine,
its neighbours', its passage's scores and rank) and what its words say (the question's keywords,
rare words and names, the kind of answer the question asks for). Fitted by
``rag calibrate --ranker`` (``rag.evaluation.ranking``) on the calibration questions of the seeds
and of the public set; its weights are ``ranker.json`` beside this file. ``rag.retrieval.evidence``
fills the evidence budget best-first by this score when ``RAG_SENTENCE_RANKER`` is on.

>>> f = features("Combien d'entreprises ont rejoint Zhejiang ?", "Actuellement, 91 entreprises ont rejoint le Zhejiang.",
...              cosine=0.9, neighbours=0.8, passage_rank=0, passage_dense=0.88, passage_fused=0.03,
...              idf={"entrepr": 1.0, "rejoint": 2.0, "zhejiang": 1.0}, holds=True)
>>> f["keywords"], f["lexical"], f["entities"], f["answer_type"]
(1.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.text.stemming import analyse

WEIGHTS_FILE = Path(__file__).with_name("ranker.json")

FEATURES = {
    "cosine": "cosine of the sentence to the question",
    "cosine_gap": "its cosine minus the best candidate's (how far from the top)",
    "neighbours": "best cosine of the sentences just before and after it in its article",
    "keywords": "share of the question's stemmed words it holds",
    "lexical": "the same share, each word weighted by its IDF among the candidates (BM25's idea)",
    "entities": "share of the question's capitalised names it holds",
    "answer_type": "it holds what the question asks for: a figure, a date, a name",
    "passage_rank": "rank of its best retrieved passage (0 first)",
    "passage_dense": "cosine of that passage to the question",
    "passage_fused": "that passage's fused (dense + BM25) score, × 60",
    "length": "log of its words",
}
# A capitalised word, not at the start of the text: a name in either language ("Zhejiang", "Alibaba").
_NAME = re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-Þ][\w’'-]{2,}")


def _names(text: str, skip_first: bool) -> set[str]:
    found = [m for m in _NAME.finditer(text) if not (skip_first and m.start() == 0)]
    return {m.group().lower() for m in found}


def idf(texts: list[str]) -> dict[str, float]:
    """BM25's inverse document frequency of each stem, the candidate sentences being the documents:
    a word every candidate shares tells none of them apart.

    >>> sorted(idf(["91 entreprises", "les entreprises"]).items())
    [('91', 0.6931), ('entrepr', 0.1823)]
    """
    df: dict[str, int] = {}
    for t in texts:
        for term in set(analyse(t)):
            df[term] = df.get(term, 0) + 1
    n = len(texts)
    return {term: round(math.log(1 + (n - k + 0.5) / (k + 0.5)), 4) for term, k in df.items()}


@lru_cache(maxsize=64)
def _asked(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """The question's stems and names, read once for all its candidate sentences."""
    return frozenset(analyse(question)), frozenset(_names(question, skip_first=True))


def features(question: str, text: str, cosine: float, neighbours: float, passage_rank: int, passage_dense: float,
             passage_fused: float, idf: dict[str, float], holds: bool, best_cosine: float | None = None) -> dict:
    """The ranker's features of one candidate sentence (the names of ``FEATURES``)."""
    terms, names = _asked(question)
    words = set(analyse(text))
    shared = terms & words
    weight = sum(idf.get(t, 0.0) for t in terms)
    return {
        "cosine": cosine,
        "cosine_gap": cosine - (cosine if best_cosine is None else best_cosine),
        "neighbours": neighbours,
        "keywords": len(shared) / len(terms) if terms else 0.0,
        "lexical": sum(idf.get(t, 0.0) for t in shared) / weight if weight else 0.0,
        "entities": len(names & _names(text, skip_first=False)) / len(names) if names else 0.0,
        "answer_type": float(holds),
        "passage_rank": float(passage_rank),
        "passage_dense": passage_dense,
        "passage_fused": passage_fused * 60,
        "length": math.log(1 + len(text.split())),
    }


@dataclass(frozen=True)
class Weights:
    """A fitted logistic regression on standardised features (``rag calibrate --ranker``)."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    meta: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.__dict__, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def score(features: dict, weights: Weights) -> float:
    """The log-odds that this sentence is the one holding the answer (higher: read first).

    >>> w = Weights(["cosine", "answer_type"], mean=[0.8, 0.5], scale=[0.1, 0.5], coef=[1.0, 2.0], intercept=-1.0)
    >>> score({"cosine": 0.9, "answer_type": 1.0}, w), score({"cosine": 0.9, "answer_type": 0.0}, w)
    (2.0, -2.0)
    """
    z = weights.intercept + sum(c * (features[f] - m) / s for f, m, s, c in
                                zip(weights.features, weights.mean, weights.scale, weights.coef))
    return round(z, 6)


@lru_cache(maxsize=4)
def load(path: Path = WEIGHTS_FILE) -> Weights:
    """The fitted weights (read once per process)."""
    return Weights(**json.loads(Path(path).read_text(encoding="utf-8")))
