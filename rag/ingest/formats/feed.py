"""RSS and Atom files (``feedparser``): one article per entry, with the entry's title, date
and link, and the feed's title as source. An entry's HTML is reduced to its text
(``trafilatura``); an entry without text is skipped with a warning, the others are kept."""

from __future__ import annotations

import time
from pathlib import Path

from rag.ingest.formats.base import article, key, read_bytes, skipped, with_title

NAME = "feed"


def html_text(markup: str) -> str:
    """The text of an HTML fragment, paragraphs on their own lines."""
    import trafilatura

    if "<" not in markup:
        return markup.strip()
    page = f"<html><body>{markup}</body></html>"     # both functions expect a page, not a fragment
    return (trafilatura.extract(page, include_comments=False) or trafilatura.html2txt(page) or "").strip()


def _date(entry) -> str | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(field)
        if parsed:
            return time.strftime("%Y-%m-%d", parsed)
    return entry.get("published") or entry.get("updated")


def read(path: Path, doc_id: str) -> list:
    import feedparser

    data = read_bytes(path, doc_id)
    parsed = feedparser.parse(data)
    if not parsed.entries:
        reason = f" ({type(parsed.bozo_exception).__name__})" if parsed.get("bozo") else ""
        raise skipped(doc_id, f"no entries: not an RSS/Atom feed{reason}")
    source = parsed.feed.get("title", "")
    out: list = []
    for n, entry in enumerate(parsed.entries, 1):
        title = entry.get("title", "")
        contents = [c.get("value", "") for c in entry.get("content", [])] or [entry.get("summary", "")]
        body = "\n\n".join(t for t in (html_text(c) for c in contents) if t)
        entry_id = f"{doc_id}:{key(entry.get('id') or entry.get('link') or title or str(n))}"
        if not body:
            out.append(f"{entry_id}: skipped, entry {n} ({title[:60] or 'untitled'}) has no text")
            continue
        text = with_title(title, body)
        out.append(article(entry_id, text, f"{text}\x1f{_date(entry)}\x1f{entry.get('link', '')}\x1f{source}",
                           NAME, title=title, date=_date(entry), source=source, url=entry.get("link", "")))
    if not any(not isinstance(x, str) for x in out):
        raise skipped(doc_id, f"none of its {len(parsed.entries)} entries has text")
    return out
