"""Words as search compares them, for French and English at once (BM25, the grounding rules).

Tokens are lower-cased, accent-folded and Snowball-stemmed in both languages'
way at once (French stem of the English stem), after dropping both languages'
stop words, so "entreprises" matches "entreprise" and "Pékin" matches "pekin".

>>> analyse("Combien d'entreprises ont rejoint l'association à Pékin ?")
['entrepr', 'rejoint', 'assoc', 'pekin']
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text.fold import fold

_TOKEN = re.compile(r"\w+")
# Words bm25s's lists (made for documents) lack: question words, which every question has, and
# the common French adverbs and determiners the hand list held ("le plus élevé" is not a term).
_MORE_STOP_WORDS = ("combien comment quand pourquoi quel quelle quels quelles much many "
                    "plus aussi ainsi tres si lors dont cet cette elles leurs etre")


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """French and English stop words of ``bm25s`` (accent-folded like the text), plus ``_MORE_STOP_WORDS``."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH

    return frozenset(fold(w) for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN_PLUS, *_MORE_STOP_WORDS.split()))


def is_stop_word(word: str) -> bool:
    """A stop word of either language, whatever its case and accents.

    >>> is_stop_word("Combien"), is_stop_word("Which"), is_stop_word("Pékin")
    (True, True, False)
    """
    return fold(word) in _stop_words()


@lru_cache(maxsize=1)
def _stemmers():
    import Stemmer

    return Stemmer.Stemmer("english"), Stemmer.Stemmer("french")


def analyse(text: str) -> list[str]:
    stop = _stop_words()
    words = [w for w in _TOKEN.findall(fold(text)) if w not in stop and (len(w) > 1 or w.isdigit())]
    en, fr = _stemmers()
    return fr.stemWords(en.stemWords(words))
