"""BM25 keyword search (``bm25s``) over the analyser of ``rag.text.stemming``."""

from __future__ import annotations

import numpy as np

from rag.text.stemming import analyse

class Bm25Index:
    """BM25 over a fixed list of texts; ``search`` returns (scores, ids) best first."""

    def __init__(self, texts: list[str]):
        import bm25s

        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        self._bm25.index([analyse(t) or ["\u2205"] for t in texts], show_progress=False)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` texts for ``query``; with ``allowed`` (a boolean mask), among those only."""
        tokens = [t for t in analyse(query) if t in self._bm25.vocab_dict]
        if not tokens or self.size == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if allowed is not None:
            # Scoring every text is linear and fast (sparse matrix); a top-k then filtered could miss them all.
            scores = np.where(allowed, self._bm25.get_scores(tokens), 0.0)
            ids = np.argsort(-scores, kind="stable")[:k]
            keep = scores[ids] > 0
            return scores[ids][keep].astype(np.float32), ids[keep]
        ids, scores = self._bm25.retrieve([tokens], k=min(k, self.size), show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return scores[0][keep], ids[0][keep]
