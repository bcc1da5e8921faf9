"""BM25 keyword search (``bm25s``) with a French/English analyser.

Tokens are lower-cased, accent-folded and Snowball-stemmed in both languages'
way at once (French stem of the English stem), after dropping both languages'
stop words, so "entreprises" matches "entreprise" and "Pékin" matches "pekin".

>>> analyse("Combien d'entreprises ont rejoint l'association à Pékin ?")
['entrepr', 'rejoint', 'assoc', 'pekin']
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

_TOKEN = re.compile(r"\w+")
_STOP = set("""
a ai aie ait as au aux avec c ce ces cet cette d dans de des du elle elles en est et eu il ils j je l la le les
leur leurs lui m ma mais me meme mes moi mon n ne nos notre nous on ont ou par pas pour qu que quel quelle
quelles quels qui s sa se ses si son sur t ta te tes toi ton tu un une vos votre vous y ete etre sont combien
comment quand pourquoi ou est-ce dont lors ainsi aussi plus tres
a an and are as at be been by did do does for from had has have how i in is it its much many of on or
that the their there these they this those to was were what when where which who whom why will with
""".split())


@lru_cache(maxsize=1)
def _stemmers():
    import Stemmer

    return Stemmer.Stemmer("english"), Stemmer.Stemmer("french")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def analyse(text: str) -> list[str]:
    words = [w for w in _TOKEN.findall(_fold(text)) if w not in _STOP and (len(w) > 1 or w.isdigit())]
    en, fr = _stemmers()
    return fr.stemWords(en.stemWords(words))


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
