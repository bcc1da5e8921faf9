"""Pick the sentences the model reads: the best ones inside the retrieved passages.

Whole passages would cost ~5x the prompt tokens (prompt processing dominates the
time to first token on a CPU); the best sentences keep every citation exact (one
sentence, one label, one highlighted span) and the prompt short.

A sentence scores its cosine to the question plus a bonus for the question's
keywords and numbers it contains, plus a small bonus for the rank of its passage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rag.text.stemming import analyse
from rag.retrieval.search import Hit
from rag.store.contract import Store

KEYWORD_WEIGHT = 0.15
RANK_WEIGHT = 0.02


@dataclass(frozen=True)
class Evidence:
    n: int            # the number shown to the reader, from 1 (the model sees the letter ``label``)
    doc: str
    passage_id: str
    start: int        # offsets into the article text
    end: int
    text: str
    score: float

    @property
    def label(self) -> str:
        """The one-token name the model cites this sentence by: A, B, C…

        >>> Evidence(3, "d", "d#0", 0, 1, "x", 1.0).label
        'C'
        """
        return chr(ord("A") + self.n - 1)

    def to_dict(self) -> dict:
        return {"n": self.n, "doc": self.doc, "passage_id": self.passage_id, "start": self.start,
                "end": self.end, "text": self.text}


def _keyword_overlap(question_terms: set[str], text: str) -> float:
    if not question_terms:
        return 0.0
    return len(question_terms & set(analyse(text))) / len(question_terms)


def select(store: Store, hits: list[Hit], query_vectors: np.ndarray, queries: list[str],
           budget: int, max_sentences: int, count_tokens: Callable[[str], int]) -> list[Evidence]:
    """Numbered sentences (articles best first, reading order inside each) within ``budget`` tokens."""
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
    return _sentences(store, hits, chosen, candidates)


def _sentences(store: Store, hits: list[Hit], rows: list[int], scores: dict[int, float]) -> list[Evidence]:
    """One piece of evidence per sentence, in reading order inside each article, articles best first.

    Reading order keeps "Elle compte 91 membres" next to the sentence that says who "elle" is;
    one sentence per label lets the model point at exactly the sentence it answers from.
    """
    best: dict[str, float] = {}
    for row in rows:
        doc = store.sentences[row][0]
        best[doc] = max(best.get(doc, -9.0), scores[row])
    rows = sorted(rows, key=lambda r: (-best[store.sentences[r][0]], store.sentences[r][1]))
    out = []
    for n, row in enumerate(rows, 1):
        doc, start, end = store.sentences[row]
        out.append(Evidence(n, doc, _passage_for(store, hits, doc, start, end), start, end,
                            store.docs[doc].text[start:end], round(scores[row], 4)))
    return out


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
