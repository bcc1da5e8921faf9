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
# Words bm25s's lists (made for documents) lack: question words, which every question has, and
# the common French adverbs and determiners the hand list held ("le plus élevé" is not a term).
_MORE_STOP_WORDS = ("combien comment quand pourquoi quel quelle quels quelles much many "
                    "plus aussi ainsi tres si lors dont cet cette elles leurs etre")


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """French and English stop words of ``bm25s`` (accent-folded like the text), plus ``_MORE_STOP_WORDS``."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH

    return frozenset(_fold(w) for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN_PLUS, *_MORE_STOP_WORDS.split()))


@lru_cache(maxsize=1)
def _stemmers():
    import Stemmer

    return Stemmer.Stemmer("english"), Stemmer.Stemmer("french")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def analyse(text: str) -> list[str]:
    stop = _stop_words()
    words = [w for w in _TOKEN.findall(_fold(text)) if w not in stop and (len(w) > 1 or w.isdigit())]
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
