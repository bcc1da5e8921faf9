"""Article dates: French or English text → an ISO date at the precision it was given.

``dateparser`` reads the words ("12 avril 2024", "April 2024", "2022-11", "Tue, 09 Apr 2024
10:00:00 GMT"); this module keeps the precision it reports, so "2022-11" stays a month
("2022-11"), not the first of November, and a partial date covers the whole period when
compared (:func:`span`).

>>> iso_date("12 avril 2024"), iso_date("April 2024"), iso_date("2022-11"), iso_date("2024")
('2024-04-12', '2024-04', '2022-11', '2024')
>>> iso_date("not a date at all") is None
True
>>> leading_date("2022-11 Du 9 au 11 novembre prochain, les spécialistes")
('2022-11', 7)
>>> span("2022-11")
(datetime.date(2022, 11, 1), datetime.date(2022, 11, 30))
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from functools import lru_cache

LANGUAGES = ["fr", "en"]
_PRECISION = {"year": 4, "month": 7, "day": 10, "week": 10, "time": 10}
_LEADING_WORDS = 5      # "mardi 12 avril 2024 à 10h" is the longest date a header holds


@lru_cache(maxsize=1)
def _parser():
    from dateparser.date import DateDataParser

    # No relative dates from the clock ("yesterday" means nothing in an archive) and the first
    # of the month/year for partial dates; the precision says which parts were given.
    return DateDataParser(languages=LANGUAGES, settings={
        "PREFER_DAY_OF_MONTH": "first", "RETURN_AS_TIMEZONE_AWARE": False,
        "PARSERS": ["timestamp", "custom-formats", "absolute-time"]})


@lru_cache(maxsize=4096)
def iso_date(text: str | None) -> str | None:
    """The ISO date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) ``text`` states, else None."""
    text = " ".join(str(text or "").split())
    # A year is required: "12 avril" or "2 ans" alone would be read as this year's, a guess.
    if not text or len(text) > 80 or not re.search(r"(?<!\d)\d{4}(?!\d)", text):
        return None
    try:
        data = _parser().get_date_data(text)
    except (ValueError, OverflowError, TypeError):
        return None
    if data is None or data.date_obj is None or not 1000 <= data.date_obj.year <= 2999:
        return None
    return data.date_obj.date().isoformat()[:_PRECISION.get(data.period or "day", 10)]


def leading_date(text: str) -> tuple[str, int] | None:
    """The date that opens ``text`` (the longest run of up to five words that reads as one),
    with the number of characters it takes; None if ``text`` does not start with a date."""
    words = list(re.finditer(r"\S+", text[:200]))
    for n in range(min(_LEADING_WORDS, len(words)), 0, -1):
        end = words[n - 1].end()
        found = iso_date(text[:end].rstrip(",.;:"))
        if found:
            return found, end
    return None


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")


@lru_cache(maxsize=1)
def _month_names() -> dict[str, int]:
    """Month names and abbreviations in French and English, from dateparser's language data
    (its parser also reads "two" as a number, so a month word is looked up, not parsed)."""
    from dateparser.languages import default_loader

    names = {}
    for lang in LANGUAGES:
        info = default_loader.get_locale(lang).info
        for number, key in enumerate(_MONTHS, 1):
            names.update({name.lower(): number for name in info.get(key, []) if len(name) >= 3})
    return names


def month_of(word: str) -> int | None:
    """The month a word names, in French or English.

    >>> month_of("avril"), month_of("April"), month_of("maison"), month_of("two")
    (4, 4, None, None)
    """
    return _month_names().get(word.strip(" ,.;:?!").lower())


def span(iso: str) -> tuple[dt.date, dt.date]:
    """First and last day of the period an ISO date names."""
    parts = [int(p) for p in iso.split("-")]
    year, month, day = parts + [None] * (3 - len(parts))
    if month is None:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    if day is None:
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day), dt.date(year, month, day)
