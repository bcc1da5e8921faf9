"""Saved web pages (``.html``): the article's main text, title, date, site and URL, by
``trafilatura``. Menus, footers, comments and scripts are left out; offsets are into the
extracted text (title line, then paragraphs), which is what the UI shows."""

from __future__ import annotations

from pathlib import Path

from rag.ingest.formats.base import article, read_bytes, skipped, with_title

NAME = "html"
MIN_WORDS = 15      # less is a menu or a footer, not an article


def extract(markup: bytes | str):
    """trafilatura's document (text and metadata), or None when the page has no article body."""
    import trafilatura

    return trafilatura.bare_extraction(markup, with_metadata=True, include_comments=False, include_tables=True,
                                       include_images=False, include_links=False)


def read(path: Path, doc_id: str) -> list:
    data = read_bytes(path, doc_id)
    if not data.strip():
        raise skipped(doc_id, "the file is empty")
    try:
        found = extract(data)
    except (ValueError, TypeError, UnicodeError) as e:
        raise skipped(doc_id, f"not a readable web page ({type(e).__name__})") from None
    body = (getattr(found, "text", None) or "") if found is not None else ""
    if len(body.split()) < MIN_WORDS:
        raise skipped(doc_id, "no article body found in the page (an index page, or saved without its text?)")
    title = found.title or ""
    return [article(doc_id, with_title(title, body), data, NAME, title=title, date=found.date,
                    source=found.sitename or found.hostname or "", url=found.url or "")]
