"""One article as the index keeps it: its id, its text (the text citations' offsets index into)
and what is known of its title, date, source, URL and language.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass, fields

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    id: str          # path relative to the corpus folder, e.g. "000_00be9f381121e8cb.txt"; "feed.rss:<key>" per entry
    text: str        # decoded or extracted text; passage offsets index into it
    sha256: str
    title: str = ""  # "" → the first line of the text
    date: str = ""   # ISO (YYYY, YYYY-MM or YYYY-MM-DD), "" when unknown
    source: str = ""  # site, feed or publisher
    url: str = ""
    lang: str = ""
    format: str = ""  # the reader that produced it: txt, html, pdf, docx, feed, jsonl
    pages: tuple[int, ...] = ()  # PDF: offset in ``text`` where each page starts

    def __post_init__(self):
        if not self.title:
            object.__setattr__(self, "title", title_of(self.text) or self.id)
        object.__setattr__(self, "pages", tuple(self.pages))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Document":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def page_of(self, offset: int) -> int | None:
        """The 1-based page holding ``offset`` (PDFs only)."""
        return max(1, bisect.bisect_right(self.pages, offset)) if self.pages else None


def title_of(text: str, limit: int = 120) -> str:
    """First non-empty line, cut to its first sentence when long.

    >>> title_of("\\n La province du Zhejiang a établi une association. Elle compte 91 membres.")
    'La province du Zhejiang a établi une association. Elle compte 91 membres.'
    >>> title_of("A" * 50 + ". " + "B" * 100)
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.'
    """
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            if len(line) > limit:
                m = re.match(r"(.{20,}?[.!?])\s", line)
                line = m.group(1) if m else line[:limit].rstrip() + "…"
            return line
    return ""
