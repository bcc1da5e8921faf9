"""Question and answer language: French or English.

``langdetect`` restricted to fr/en (seeded, equal priors) for ordinary text; for
very short texts, where its n-gram statistics are unreliable, a vote of
function words, else the caller's default (the UI/CLI setting, else French).

>>> detect("Combien d'entreprises ont rejoint l'association ?")
'fr'
>>> detect("How much were the projects worth?")
'en'
>>> detect("OK ?", default="en")
'en'
>>> detect("Et à Pékin ?")
'fr'
"""

from __future__ import annotations

import re
import threading

SUPPORTED = ("fr", "en")
_SHORT_WORDS = 4

_FR = set("""le la les un une des du de d l et est sont à au aux en dans pour par sur avec qui que quoi
quel quelle quels quelles combien où quand comment pourquoi est-ce ce cette ces il elle ils elles
on a ont été pas ne plus son sa ses leur leurs et qu y""".split())
_EN = set("""the a an of and is are was were to in on for by with who what which when where why how
much many did does do has have had it its this that these those be been not their there""".split())
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")

_lock = threading.Lock()


def _detector(restricted: bool):
    """A fresh seeded detector; the profiles load once, on first use."""
    from langdetect import DetectorFactory, detector_factory

    with _lock:
        if detector_factory._factory is None:
            DetectorFactory.seed = 0
            detector_factory.init_factory()
    detector = detector_factory._factory.create()
    if restricted:
        detector.set_prior_map({"fr": 0.5, "en": 0.5})
    return detector


def _function_word_vote(words: list[str]) -> str | None:
    fr = sum(w in _FR for w in words)
    en = sum(w in _EN for w in words)
    if fr != en:
        return "fr" if fr > en else "en"
    return None


def _words(text: str) -> list[str]:
    return [w.lower() for piece in _WORD.findall(text) for w in re.split(r"['’]", piece) if w]


def detect(text: str, default: str = "fr") -> str:
    """'fr' or 'en'; ``default`` when the text says too little to tell."""
    words = _words(text)
    if len(words) < _SHORT_WORDS:
        return _function_word_vote(words) or default
    from langdetect.lang_detect_exception import LangDetectException

    try:
        detector = _detector(restricted=True)
        detector.append(text)
        lang = detector.detect()
        return lang if lang in SUPPORTED else default
    except LangDetectException:
        return _function_word_vote(words) or default


def foreign_language(text: str) -> str | None:
    """The language code when ``text`` is confidently neither French nor English.

    >>> foreign_language("Wie viele Unternehmen sind dem Verband beigetreten?")
    'de'
    >>> foreign_language("Combien d'entreprises ont rejoint l'association ?") is None
    True
    """
    words = _words(text)
    if len(words) < _SHORT_WORDS and not re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text):
        return None
    from langdetect.lang_detect_exception import LangDetectException

    try:
        detector = _detector(restricted=False)
        detector.append(text)
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return None
    fr = sum(w in _FR for w in words)
    en = sum(w in _EN for w in words)
    # Chinese, Japanese or Korean script with no Latin letters cannot be French or English,
    # however unsure langdetect is about which of them it is.
    asian = len(re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text))
    if asian and not re.search(r"[A-Za-zÀ-ÿ]", text) and best.lang not in SUPPORTED:
        return best.lang
    if best.lang in SUPPORTED or best.prob < 0.9 or max(fr, en) >= 2:
        return None
    return best.lang
