"""Which articles a question may draw on: the user's choice of articles or of a date range
(the web chat's corpus panel, ``rag ask --article/--since/--until``); each store's ``admitted``
applies it, leaving out the copies of near-duplicate articles too (their original stands for
them). Hard filters, unlike the question's own time words (``rag.retrieval.timefilter``),
which only rank.

>>> Scope(docs=frozenset({"a.txt"})).admits("a.txt", "")
True
>>> Scope(start="2024-01", end="2024-06").admits("b.txt", "2023-12-31"), Scope(start="2024").admits("c.txt", "")
(False, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.text.dates import span
from rag.errors import RagError


@dataclass(frozen=True)
class Scope:
    docs: frozenset[str] | None = None   # only these articles (None: all)
    start: str = ""                      # ISO dates, inclusive; an undated article is outside any range
    end: str = ""

    @property
    def empty(self) -> bool:
        return self.docs is None and not self.start and not self.end

    def admits(self, doc_id: str, date: str) -> bool:
        if self.docs is not None and doc_id not in self.docs:
            return False
        if self.start or self.end:
            if not date:
                return False
            first, last = span(date)
            if self.start and last < span(self.start)[0]:
                return False
            if self.end and first > span(self.end)[1]:
                return False
        return True


class BadDate(RagError):
    """A date the user typed that names no day, month or year."""

    def __init__(self, value: str):
        super().__init__(f"date not understood: '{value}' (try 2024-04 or 12 avril 2024)")
        self.value = value


def chosen(docs=None, since: str = "", until: str = "") -> Scope | None:
    """The user's restriction (the web chat's corpus panel, ``rag ask --article/--since/--until``)
    as a ``Scope``, None for none; raises :class:`BadDate`.

    >>> chosen(["a.txt"], "avril 2024", "")
    Scope(docs=frozenset({'a.txt'}), start='2024-04', end='')
    >>> chosen(None, "", "") is None
    True
    """
    from rag.text.dates import iso_date

    bounds = []
    for value in (since, until):
        value = " ".join(str(value or "").split())
        iso = iso_date(value) if value else ""
        if value and not iso:
            raise BadDate(value)
        bounds.append(iso)
    picked = frozenset(docs) if docs else None
    if picked is None and not any(bounds):
        return None
    return Scope(docs=picked, start=bounds[0], end=bounds[1])
