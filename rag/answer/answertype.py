"""What kind of answer a question wants (a figure, a person, a place, a date) and whether an
answer is of that kind: "combien ?" answered without any figure is no answer.

>>> expected("Combien d'entreprises ont rejoint l'association ?"), expected("Who leads the administration?")
('number', 'name')
>>> matches("number", "Elle compte 91 entreprises."), matches("number", "Elle compte de nombreuses entreprises.")
(True, False)
>>> matches("date", "Le 29 avril."), matches(None, "Oui.")
(True, True)
"""

from __future__ import annotations

import re
from typing import Callable

from rag.text import citations
from rag.answer.grounding import figures

_KINDS = [
    ("date", r"\b(quand|when|en quelle année|what year|which year|quelle date|what date|à quelle date|on what date|"
             r"depuis quand|since when|quel jour|which day|what day)\b"),
    ("number", r"\b(combien|how (many|much)|quel(le)?s? (est |sont |était |était )?(le |la |les |l’|l')?(montant|nombre|"
               r"part|pourcentage|somme|valeur|proportion|taux|chiffre|capacité|puissance|budget|objectif chiffré)|"
               r"what (share|percentage|proportion|amount|number|value|sum|rate|figure|capacity|budget))\b"),
    ("name", r"^(qui|who)\b|\b(qui (est|sont|dirige|préside|a)|who (is|are|was|leads|heads|runs|signed|founded))\b|"
             r"\b(où|where|dans quelle ville|in which city|quelle ville|which city|quel pays|which country|"
             r"quelle province|which province)\b"),
]
_MONTHS = (r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|january|february|"
           r"march|april|may|june|july|august|september|october|november|december")
_NAME = re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-Þ][\w’'-]{1,}")


def expected(question: str) -> str | None:
    """'number', 'date', 'name', or None when the question does not say."""
    for kind, pattern in _KINDS:
        if re.search(pattern, question, re.IGNORECASE):
            return kind
    return None


def matches(kind: str | None, answer: str, lang: str = "fr") -> bool:
    text = citations.strip(answer)
    if kind is None:
        return True
    if kind == "number":
        return bool(figures(text, lang))
    if kind == "date":
        return bool(re.search(rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTHS})\b", text, re.IGNORECASE))
    # A name anywhere but the first word.
    words = list(_NAME.finditer(text))
    return any(m.start() > 0 for m in words)


def holds(question: str, lang: str = "fr") -> Callable[[str], bool]:
    """Does a sentence hold what ``question`` asks for (a feature of ``rag.retrieval.ranker``)?

    >>> wants = holds("Combien d'entreprises ont rejoint l'association ?")
    >>> wants("Actuellement, 91 entreprises ont rejoint."), wants("Beaucoup d'entreprises ont rejoint.")
    (True, False)
    """
    kind = expected(question)
    return lambda text: kind is not None and matches(kind, text, lang)
