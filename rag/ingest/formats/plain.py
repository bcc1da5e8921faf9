"""``.txt`` / ``.md``: UTF-8 text, indexed as it is on disk (offsets are into the file).

Optional header lines at the top give the metadata: ``date 2022-11`` or ``Date : 12 avril 2024``
(the date may share its line with the text, as in one of the seeds), ``title: …``,
``source: …``, ``url: …``. Without a title line, the first line of the text is the title.

>>> header("date 2022-11 Du 9 au 11 novembre prochain, les spécialistes du net…")
({'date': '2022-11'}, 13)
>>> header("Title: Rates rise\\nSource: Reuters\\nThe central bank raised…")
({'title': 'Rates rise', 'source': 'Reuters'}, 34)
>>> header("Source of the trouble is unclear.")
({}, 0)
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.ingest.document import title_of
from rag.text.dates import leading_date
from rag.ingest.formats.base import article, read_bytes, skipped

NAME = "txt"
_KEY = re.compile(r"[ \t]*(?:(date)[ \t]*:?|(title|titre|source|url|lien)[ \t]*:)[ \t]*", re.IGNORECASE)
_ALIASES = {"titre": "title", "lien": "url"}


def header(text: str) -> tuple[dict, int]:
    """The metadata the header lines give, and where the article text starts after them."""
    meta: dict[str, str] = {}
    pos = 0
    while (m := _KEY.match(text, pos)) and len(meta) < 4:
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        if m.group(1):
            found = leading_date(text[m.end():line_end])
            if not found:
                break
            meta["date"], end = found[0], m.end() + found[1]
        else:
            meta[_ALIASES.get(m.group(2).lower(), m.group(2).lower())] = text[m.end():line_end].strip()
            end = line_end
        pos = end + len(text[end:]) - len(text[end:].lstrip())
    return meta, pos


def decode(data: bytes, doc_id: str) -> str:
    """UTF-8 text (a BOM is dropped so offsets match what is shown), or a reason to skip."""
    if b"\x00" in data[:8192]:
        raise skipped(doc_id, "it looks binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise skipped(doc_id, f"not UTF-8 (bad byte at offset {e.start}); re-save it as UTF-8, "
                              f"e.g. iconv -f latin1 -t utf-8") from None
    if not text.strip():
        raise skipped(doc_id, "the file is empty")
    return text


def read(path: Path, doc_id: str) -> list:
    data = read_bytes(path, doc_id)
    text = decode(data, doc_id)
    meta, body = header(text)
    return [article(doc_id, text, data, NAME, title=meta.get("title") or title_of(text[body:]),
                    date=meta.get("date"), source=meta.get("source", ""), url=meta.get("url", ""))]
