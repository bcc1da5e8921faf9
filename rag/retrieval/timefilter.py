"""Time conditions in a question: "en avril", "in 2024", "avant novembre 2022", "since
March 2023", "latest" / "le plus récent". Pure: the question in, what was understood out.

A regular expression only finds the word that introduces a time ("en", "before", …);
the date after it is read by ``dateparser`` (:mod:`rag.text.dates`). Retrieval uses the
condition to rank articles by their date (:func:`rag.retrieval.search.retrieve`).

>>> parse("Quel chiffre a été annoncé en avril ?")
TimeCondition(kind='during', start=None, end=None, month=4, phrase='en avril')
>>> parse("What was the rate in 2024?").span()
(datetime.date(2024, 1, 1), datetime.date(2024, 12, 31))
>>> parse("Qu'annonçait-on avant novembre 2022 ?").matches("2022-10-03")
True
>>> parse("Quel est le chiffre le plus récent ?").kind
'latest'
>>> parse("Combien d'entreprises ont rejoint l'association ?") is None
True
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rag.text.dates import leading_date, month_of, span

_LATEST = re.compile(r"\b(latest|most recent|newest|last known|le plus récent|la plus récente|"
                     r"les plus récente?s|dernières? (?:nouvelles|données|chiffres?|informations?)|"
                     r"derniers? chiffres?|à ce jour|up to date)\b", re.IGNORECASE)
_INTRO = re.compile(r"\b(?:(before|prior to|until|avant|jusqu'(?:en|à|au))|(after|après)|"
                    r"(since|depuis|à partir d[e'’]|from)|(in|en|during|pendant|durant|au cours d[e'’]|"
                    r"au mois d[e'’]|on|le|du|of))\s+", re.IGNORECASE)
_KINDS = ("before", "after", "since", "during")


@dataclass(frozen=True)
class TimeCondition:
    kind: str                    # during, before, after, since, latest
    start: dt.date | None        # the period named (None for a month of any year, and for latest)
    end: dt.date | None
    month: int | None = None     # "en avril": that month, any year
    phrase: str = ""             # the words understood, as written

    def span(self) -> tuple[dt.date, dt.date] | None:
        return (self.start, self.end) if self.start else None

    def matches(self, iso: str) -> bool | None:
        """Does an article dated ``iso`` satisfy the condition? None when it cannot tell
        (undated article, or a year-only date for a month condition)."""
        if not iso or self.kind == "latest":
            return None
        first, last = span(iso)
        if self.month is not None:
            return self.month == first.month if len(iso) >= 7 else None
        if self.kind == "before":
            return last < self.start
        if self.kind == "after":
            return first > self.end
        if self.kind == "since":
            return first >= self.start
        return first <= self.end and last >= self.start


def parse(question: str) -> TimeCondition | None:
    """The first time condition in ``question``, or None."""
    for m in _INTRO.finditer(question):
        kind = _KINDS[next(i for i, g in enumerate(m.groups()) if g)]
        rest = question[m.end():]
        found = leading_date(rest)
        if found:
            start, end = span(found[0])
            return TimeCondition(kind, start, end, None, (m.group(0) + rest[:found[1]]).strip(" ?!.,;:"))
        word = re.match(r"[^\W\d_]+", rest)
        month = month_of(word.group(0)) if word else None
        if month and kind == "during":
            return TimeCondition(kind, None, None, month, (m.group(0) + word.group(0)).strip())
    latest = _LATEST.search(question)
    if latest:
        return TimeCondition("latest", None, None, None, latest.group(0))
    return None


def discriminates(when: TimeCondition, dates: list[str]) -> bool:
    """Do these articles' dates tell them apart for ``when``? (Some match and some do not; for
    "latest", two different dates.) With one dated article, or all of them matching, the
    condition says nothing about which article to prefer."""
    if when.kind == "latest":
        return len({d for d in dates if d}) >= 2
    verdicts = [when.matches(d) for d in dates]
    return True in verdicts and False in verdicts


def with_dates(answer: str, dates: list[str], lang: str) -> str:
    """The answer followed by the date of the articles it cites, for a time-conditioned question
    (the figure's date is the reader's first doubt; a 1.5B model forgets to say it).

    >>> with_dates("Le taux est de 5,2 % [1].", ["2024-04-18"], "fr")
    'Le taux est de 5,2 % [1]. (Article du 2024-04-18.)'
    >>> with_dates("5.2% [1] vs 5.6% [2].", ["2024-04-18", "2023-03-15", ""], "en")
    '5.2% [1] vs 5.6% [2]. (Articles dated 2024-04-18, 2023-03-15.)'
    """
    dates = list(dict.fromkeys(d for d in dates if d))
    if not dates:
        return answer
    if lang == "fr":
        note = f"Article du {dates[0]}" if len(dates) == 1 else f"Articles du {', '.join(dates)}"
    else:
        note = f"Article dated {dates[0]}" if len(dates) == 1 else f"Articles dated {', '.join(dates)}"
    return f"{answer.rstrip()} ({note}.)"
