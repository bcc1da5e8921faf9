"""The candidate sentences the reader reads: every sentence of the retrieved passages, the best first.

The reader (``rag.reader``) decides which of them states the answer; this only bounds how many it reads
(``RAG_READER_SENTENCES``, one batched forward), by a hand-tuned score: a sentence's cosine to the question
plus a bonus for the question's keywords it holds, minus a little per rank of its passage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rag.retrieval.search import Hit
from rag.store.contract import Store
from rag.text.stemming import analyse

KEYWORD_WEIGHT = 0.15
RANK_WEIGHT = 0.02


@dataclass(frozen=True)
class Evidence:
    n: int            # the number shown to the reader, from 1
    doc: str
    passage_id: str
    start: int        # offsets into the article text
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return {"n": self.n, "doc": self.doc, "passage_id": self.passage_id, "start": self.start,
                "end": self.end, "text": self.text}


def handmade(cosine: float, keywords: float, passage_rank: int) -> float:
    """The hand-tuned score (tuned on the seeds): cosine, plus a bonus for the question's keywords,
    minus a little per passage rank.

    >>> handmade(0.9, 0.5, 1)
    0.955
    """
    return round(cosine + KEYWORD_WEIGHT * keywords - RANK_WEIGHT * passage_rank, 6)


def select(store: Store, hits: list[Hit], query_vectors: np.ndarray, queries: list[str], most: int) -> list[Evidence]:
    """At most ``most`` numbered sentences of the retrieved passages (articles best first, reading order inside
    each), the best by the hand-tuned score."""
    terms = set(analyse(" ".join(queries)))
    rows = list(dict.fromkeys(row for hit in hits for row in store.passage_sentences[hit.row]))
    cosines = dict(zip(rows, (store.sentence_vectors[rows] @ query_vectors.T).max(axis=1).tolist())) if rows else {}
    scores: dict[int, float] = {}
    for rank, hit in enumerate(hits):
        for row in store.passage_sentences[hit.row]:
            if row not in scores:
                shared = len(terms & set(analyse(text_of(store, row)))) / len(terms) if terms else 0.0
                scores[row] = handmade(cosines[row], shared, rank)
    chosen = sorted(scores, key=lambda r: -scores[r])[:most]
    return _sentences(store, hits, chosen, scores)


def text_of(store: Store, row: int) -> str:
    """The text of sentence ``row``."""
    doc, s, e = store.sentences[row]
    return store.docs[doc].text[s:e]


def _sentences(store: Store, hits: list[Hit], rows: list[int], scores: dict[int, float]) -> list[Evidence]:
    """One piece of evidence per sentence, in reading order inside each article, articles best first
    (by ``scores``); each carries its hand-tuned score.

    Reading order keeps "Elle compte 91 membres" next to the sentence that says who "elle" is;
    one sentence per label lets the model point at exactly the sentence it answers from.
    """
    best: dict[str, float] = {}
    for row in rows:
        doc = store.sentences[row][0]
        best[doc] = max(best.get(doc, -math.inf), scores[row])
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
