"""Split a question that asks two things into its parts, so each part gets its own search,
its own sentences, its own answer and its own gate; and compare figures in code.

Three shapes, in French and English:

- two questions joined by "et"/"and" ("Qui dirige X, et sur quoi se concentre-t-elle ?");
- one predicate over two subjects, "respectivement"/"respectively" or "both";
- a comparison ("Which had more members: A, or B?"), answered part by part, compared here.

>>> split("Qui dirige l’Administration nationale des données, et sur quoi cette administration se concentre-t-elle ?").parts
['Qui dirige l’Administration nationale des données ?', 'sur quoi cette administration se concentre-t-elle ?']
>>> s = split("Which had more member companies: the Zhejiang association at its founding, or Beijing's centre?")
>>> s.parts, s.compare
(['Which had more member companies: the Zhejiang association at its founding?', "Which had more member companies: Beijing's centre?"], 'max')
>>> split("Dans quelles villes se trouvent respectivement le siège de l’association et la World Internet Conference ?").parts
['Dans quelles villes se trouvent le siège de l’association ?', 'Dans quelles villes se trouvent la World Internet Conference ?']
>>> split("Combien d'entreprises ont rejoint l'association ?").parts
["Combien d'entreprises ont rejoint l'association ?"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASK = (r"quel|quelle|quels|quelles|combien|qui|où|quand|comment|pourquoi|sur quoi|à quoi|en quelle|dans quelle|"
        r"de quel|de quelle|lequel|laquelle|what|how|who|where|when|which|why|on what|in which|to what")
_TWO_QUESTIONS = re.compile(rf"\s*[,;]?\s+(?:et|and)\s+(?=(?:{_ASK})\b)", re.IGNORECASE)
_MORE = r"plus|more|larger|higher|greater|bigger|davantage"
_LESS = r"moins|fewer|less|smaller|lower"
_COMPARE = re.compile(rf"^(?P<head>.*?\b(?P<dir>{_MORE}|{_LESS})\b.*?)\s*[:—–]\s*(?P<a>.+?)\s*,?\s+(?:ou|or)\s+"
                      rf"(?P<b>.+?)\s*\?*$", re.IGNORECASE)
_RESPECTIVELY_FR = re.compile(r"^(?P<head>.+?)\s+respectivement\s+(?P<a>.+?)\s+et\s+(?P<b>.+?)\s*\?*$", re.IGNORECASE)
_RESPECTIVELY_EN = re.compile(r"^(?P<left>.+?)\s+and\s+(?P<b>.+?)\s+(?:respectively|both)\s*\?*$", re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    parts: list[str]            # one element: not a multi-part question
    compare: str | None = None  # "max" / "min": the answer also says which part's figure is larger / smaller
    subjects: tuple[str, ...] = ()   # for a comparison, what each part is about

    @property
    def multi(self) -> bool:
        return len(self.parts) > 1


def _asker(question: str):
    """A function ending a part with the question's own question mark (" ?" in French typography)."""
    mark = " ?" if re.search(r"\s\?\s*$", question) else "?"
    return lambda text: text.rstrip(" ?") + mark


def split(question: str) -> Split:
    q = " ".join(question.split())
    _ask = _asker(q)
    m = _COMPARE.match(q)
    if m:
        head = m.group("head").rstrip(" ,")
        a, b = m.group("a").strip(" ,"), m.group("b").strip(" ,")
        direction = "min" if re.fullmatch(_LESS, m.group("dir"), re.IGNORECASE) else "max"
        return Split([_ask(f"{head}: {a}"), _ask(f"{head}: {b}")], direction, (a, b))
    m = _RESPECTIVELY_FR.match(q)
    if m:
        return Split([_ask(f"{m.group('head')} {m.group('a')}"), _ask(f"{m.group('head')} {m.group('b')}")])
    m = _RESPECTIVELY_EN.match(q)
    if m:
        left, b = m.group("left"), m.group("b")
        first = b.split()[0].lower()
        words = left.split()
        at = max((i for i, w in enumerate(words) if w.lower() == first), default=None)
        if at:
            return Split([_ask(left), _ask(" ".join(words[:at] + [b]))])
    pieces = [p.strip(" ,;") for p in _TWO_QUESTIONS.split(q) if p.strip(" ,;?")]
    if len(pieces) == 2 and all(len(p.split()) >= 3 for p in pieces):
        return Split([_ask(p) for p in pieces])
    return Split([q])


def compare(values: list[float], direction: str) -> int:
    """Index of the largest (``max``) or smallest (``min``) value.

    >>> compare([200e9, 228e9], "max"), compare([91, 40], "min")
    (1, 1)
    """
    pick = max if direction == "max" else min
    return values.index(pick(values))
