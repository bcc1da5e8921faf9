"""Find the passages for a question: dense (FAISS) and BM25 lists fused by reciprocal rank.

Reciprocal rank fusion scores a passage ``sum(1 / (RRF_K + rank))`` over the ranked
lists it appears in; it needs no score calibration between cosine and BM25, and a
passage found by both retrievers rises above one found by a single one.

>>> rrf([[3, 1, 2], [1, 4]])
[(1, 0.0325), (3, 0.0164), (4, 0.0161), (2, 0.0159)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .store import Store

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    row: int        # passage row in the store
    score: float    # fused score (RRF)
    dense: float    # cosine between the question and the passage (best over query variants)


def rrf(rankings: list[list[int]]) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(((row, round(s, 4)) for row, s in scores.items()), key=lambda x: (-x[1], x[0]))


def retrieve(store: Store, queries: list[str], query_vectors: np.ndarray, k: int, candidates: int,
             hybrid: bool = True) -> list[Hit]:
    """Top ``k`` passages for the question and its variants (e.g. a translation)."""
    rankings: list[list[int]] = []
    _, dense_ids = store.dense.search(query_vectors, candidates)
    rankings += [[int(i) for i in row if i >= 0] for row in dense_ids]
    if hybrid:
        for q in queries:
            _, ids = store.lexical.search(q, candidates)
            if len(ids):
                rankings.append([int(i) for i in ids])
    fused = rrf(rankings)[:k]
    rows = [row for row, _ in fused]
    cosines = (store.vectors[rows] @ query_vectors.T).max(axis=1) if rows else []
    return [Hit(row, score, float(c)) for (row, score), c in zip(fused, cosines)]
