"""Pick the sentences the model reads: the best ones inside the retrieved passages.

Whole passages would cost ~5x the prompt tokens (prompt processing dominates the
time to first token on a CPU); the best sentences, merged into contiguous
snippets, keep every citation exact and the prompt short.

A sentence scores its cosine to the question plus a bonus for the question's
keywords and numbers it contains, plus a small bonus for the rank of its passage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .lexical import analyse
from .retrieval import Hit
from .store import Store

KEYWORD_WEIGHT = 0.15
RANK_WEIGHT = 0.02


@dataclass(frozen=True)
class Evidence:
    n: int            # the number the model cites, from 1
    doc: str
    passage_id: str
    start: int        # offsets into the article text
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return {"n": self.n, "doc": self.doc, "passage_id": self.passage_id, "start": self.start,
                "end": self.end, "text": self.text}


def _keyword_overlap(question_terms: set[str], text: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & set(analyse(text))) / len(question_terms)


def select(store: Store, hits: list[Hit], query_vectors: np.ndarray, queries: list[str],
           budget: int, max_sentences: int, count_tokens: Callable[[str], int]) -> list[Evidence]:
    """Numbered snippets, best first, within ``budget`` tokens."""
    terms = set().union(*(analyse(q) for q in queries)) if queries else set()
    candidates: dict[int, float] = {}
    for rank, hit in enumerate(hits):
        for row in store.passage_sentences[hit.row]:
            doc, s, e = store.sentences[row]
            cos = float((store.sentence_vectors[row] @ query_vectors.T).max())
            score = cos + KEYWORD_WEIGHT * _keyword_overlap(terms, store.docs[doc].text[s:e]) - RANK_WEIGHT * rank
            candidates[row] = max(score, candidates.get(row, -1.0))
    chosen: list[int] = []
    used = 0
    for row in sorted(candidates, key=lambda r: -candidates[r]):
        doc, s, e = store.sentences[row]
        cost = count_tokens(store.docs[doc].text[s:e]) + 4
        if used + cost > budget and chosen:
            continue
        chosen.append(row)
        used += cost
        if len(chosen) >= max_sentences:
            break
    return _snippets(store, hits, chosen, candidates)


def _snippets(store: Store, hits: list[Hit], rows: list[int], scores: dict[int, float]) -> list[Evidence]:
    """Merge sentences adjacent in their article into one snippet each."""
    groups: list[list[int]] = []
    for row in sorted(rows, key=lambda r: (store.sentences[r][0], store.sentences[r][1])):
        if groups and _adjacent(store, groups[-1][-1], row):
            groups[-1].append(row)
        else:
            groups.append([row])
    groups.sort(key=lambda g: -max(scores[r] for r in g))
    out = []
    for n, group in enumerate(groups, 1):
        doc, start, _ = store.sentences[group[0]]
        end = store.sentences[group[-1]][2]
        out.append(Evidence(n, doc, _passage_for(store, hits, doc, start, end), start, end,
                            store.docs[doc].text[start:end], round(max(scores[r] for r in group), 4)))
    return out


def _adjacent(store: Store, a: int, b: int) -> bool:
    """True when sentence ``b`` directly follows ``a`` in the same article."""
    doc_a, _, end_a = store.sentences[a]
    doc_b, start_b, _ = store.sentences[b]
    text = store.docs[doc_a].text
    return doc_a == doc_b and start_b >= end_a and not text[end_a:start_b].strip()


def _passage_for(store: Store, hits: list[Hit], doc: str, start: int, end: int) -> str:
    """The best-ranked retrieved passage containing the span (the span may straddle two)."""
    for hit in hits:
        p = store.passages[hit.row]
        if p.doc == doc and p.start <= start and end <= p.end:
            return p.passage_id
    for hit in hits:
        p = store.passages[hit.row]
        if p.doc == doc and p.start <= start < p.end:
            return p.passage_id
    return next(p.passage_id for p in store.passages if p.doc == doc and p.start <= start < p.end)
