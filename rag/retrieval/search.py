"""Find the passages for a question: dense (FAISS) and BM25 lists fused by reciprocal rank.

A time condition in the question ("en avril", "latest") adds one more ranked list, by
article date; a scope (articles or dates chosen by the user) restricts both searches.

Reciprocal rank fusion scores a passage ``sum(1 / (RRF_K + rank))`` over the ranked
lists it appears in; it needs no score calibration between cosine and BM25, and a
passage found by both retrievers rises above one found by a single one.

>>> rrf([[3, 1, 2], [1, 4]])
[(1, 0.0325), (3, 0.0164), (4, 0.0161), (2, 0.0159)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.retrieval.scope import Scope
from rag.store.contract import Store
from rag.retrieval.timefilter import TimeCondition, discriminates

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
             hybrid: bool = True, scope: Scope | None = None, when: TimeCondition | None = None) -> list[Hit]:
    """Top ``k`` passages for the question and its variants (e.g. a translation), among the
    articles ``scope`` admits; a time condition in the question adds a ranking by date."""
    admitted = store.admitted(scope)
    if admitted is not None and not admitted:
        return []
    rankings = store.search_dense(query_vectors, candidates, admitted)
    if hybrid:
        for q in queries:
            ids = store.search_lexical(q, candidates, admitted)
            if ids:
                rankings.append(ids)
    if when is not None:
        by_date = date_ranking(store, rrf(rankings), when)
        if by_date:
            rankings.append(by_date)
    fused = rrf(rankings)[:k]
    rows = [row for row, _ in fused]
    cosines = (store.vectors[rows] @ query_vectors.T).max(axis=1) if rows else []
    return [Hit(row, score, float(c)) for (row, score), c in zip(fused, cosines)]


def date_ranking(store: Store, fused: list[tuple[int, float]], when: TimeCondition) -> list[int]:
    """The retrieved passages whose article's date satisfies ``when`` (or, for "latest", the
    dated ones newest first), as one more list for the fusion — only when the dates tell the
    retrieved articles apart: with one dated article, or all of them matching, it adds nothing.

    A ranking, not a filter: "in 2024" may also name the year a figure is about, in an
    article published later."""
    rows = [row for row, _ in fused]
    dates = {row: store.docs[store.passages[row].doc].date for row in rows}
    if not discriminates(when, list(dates.values())):
        return []
    if when.kind == "latest":
        return sorted((row for row in rows if dates[row]), key=lambda row: dates[row], reverse=True)
    return [row for row in rows if when.matches(dates[row])]
