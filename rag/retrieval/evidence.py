"""Pick the sentences the model reads: the best ones inside the retrieved passages.

Whole passages would cost ~5x the prompt tokens (prompt processing dominates the
time to first token on a CPU); the best sentences keep every citation exact (one
sentence, one label, one highlighted span) and the prompt short.

Sentences are read best-first until the budget is spent. The hand-tuned score is a sentence's cosine to
the question plus a bonus for the question's keywords and numbers it contains, minus a little per rank
of its passage; with ``RAG_SENTENCE_RANKER`` the fitted ranker (``rag.retrieval.ranker``) orders them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rag.retrieval import ranker
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


def handmade(f: dict) -> float:
    """The hand-tuned score (tuned on the seeds): cosine, plus a bonus for the question's keywords,
    minus a little per passage rank. Kept as every ``Evidence.score``: the source-sentence weight
    (``rag.answer.attribution``) and the gate were fitted on it.

    >>> handmade({"cosine": 0.9, "keywords": 0.5, "passage_rank": 1.0})
    0.955
    """
    return round(f["cosine"] + KEYWORD_WEIGHT * f["keywords"] - RANK_WEIGHT * f["passage_rank"], 6)


def candidates(store: Store, hits: list[Hit], query_vectors: np.ndarray, queries: list[str],
               holds: Callable[[str], bool] | None = None) -> dict[int, dict]:
    """Every sentence of the retrieved passages → its ranker features (``rag.retrieval.ranker``),
    from its best-ranked passage. ``holds(text)``: does the text hold what the question asks for
    (``rag.answer.answertype.holds``; None: not known)."""
    question = " ".join(queries)
    rows = list(dict.fromkeys(row for hit in hits for row in store.passage_sentences[hit.row]))
    texts = {row: text_of(store, row) for row in rows}
    cosines = dict(zip(rows, (store.sentence_vectors[rows] @ query_vectors.T).max(axis=1).tolist())) if rows else {}
    best = max(cosines.values(), default=0.0)
    weights = ranker.idf(list(texts.values()))
    # The sentences just before and after, as the passages hold them (both stores keep reading order there).
    neighbours: dict[int, float] = {}
    for hit in hits:
        inside = store.passage_sentences[hit.row]
        for i, row in enumerate(inside):
            around = [cosines[r] for r in inside[max(0, i - 1):i] + inside[i + 1:i + 2]]
            neighbours[row] = max([neighbours.get(row, -1.0), *around])
    out: dict[int, dict] = {}
    for rank, hit in enumerate(hits):
        for row in store.passage_sentences[hit.row]:
            if row not in out:
                out[row] = ranker.features(question, texts[row], cosines[row], max(0.0, neighbours[row]), rank,
                                           hit.dense, hit.score, weights, bool(holds and holds(texts[row])), best)
    return out


def select(store: Store, hits: list[Hit], query_vectors: np.ndarray, queries: list[str],
           budget: int, max_sentences: int, count_tokens: Callable[[str], int],
           weights: ranker.Weights | None = None, holds: Callable[[str], bool] | None = None) -> list[Evidence]:
    """Numbered sentences (articles best first, reading order inside each) within ``budget`` tokens,
    chosen best-first by the fitted ranker's score with ``weights`` (``RAG_SENTENCE_RANKER``), else
    by the hand-tuned score."""
    found = candidates(store, hits, query_vectors, queries, holds)
    order = ranking(found, weights)
    chosen = fill(order, budget, max_sentences, lambda row: count_tokens(text_of(store, row)) + 4)
    return _sentences(store, hits, chosen, order, {row: handmade(f) for row, f in found.items()})


def ranking(found: dict[int, dict], weights: ranker.Weights | None = None) -> dict[int, float]:
    """Candidate row → the score that orders it: the ranker's with ``weights``, else the hand-tuned one."""
    return {row: ranker.score(f, weights) if weights else handmade(f) for row, f in found.items()}


def fill(order: dict[int, float], budget: int, max_sentences: int, cost: Callable[[int], int]) -> list[int]:
    """The best rows of ``order`` whose ``cost`` (tokens, with the label's) fits ``budget`` together
    (the best one always: no evidence is worse than a long sentence), at most ``max_sentences``.

    >>> fill({1: 0.9, 2: 0.8, 3: 0.7}, budget=10, max_sentences=5, cost={1: 6, 2: 6, 3: 4}.get)
    [1, 3]
    """
    chosen: list[int] = []
    used = 0
    for row in sorted(order, key=lambda r: -order[r]):
        tokens = cost(row)
        if used + tokens > budget and chosen:
            continue
        chosen.append(row)
        used += tokens
        if len(chosen) >= max_sentences:
            break
    return chosen


def text_of(store: Store, row: int) -> str:
    """The text of sentence ``row``."""
    doc, s, e = store.sentences[row]
    return store.docs[doc].text[s:e]


def _sentences(store: Store, hits: list[Hit], rows: list[int], order: dict[int, float],
               scores: dict[int, float]) -> list[Evidence]:
    """One piece of evidence per sentence, in reading order inside each article, articles best first
    (by ``order``); each carries its hand-tuned score.

    Reading order keeps "Elle compte 91 membres" next to the sentence that says who "elle" is;
    one sentence per label lets the model point at exactly the sentence it answers from.
    """
    best: dict[str, float] = {}
    for row in rows:
        doc = store.sentences[row][0]
        best[doc] = max(best.get(doc, -math.inf), order[row])
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
