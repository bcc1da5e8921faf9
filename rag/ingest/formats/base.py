"""What every reader shares: reading bytes safely, building a :class:`Document` with its
metadata normalised (ISO date, language), stable keys for articles inside one file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.text import language
from rag.ingest.document import Document
from rag.text.dates import iso_date
from rag.errors import RagError


def skipped(doc_id: str, reason: str) -> RagError:
    return RagError(f"{doc_id}: skipped, {reason}")


def read_bytes(path: Path, doc_id: str) -> bytes:
    from rag.ingest import document

    limit = document.MAX_FILE_BYTES       # read at call time: tests lower it
    try:
        size = path.stat().st_size
        if size > limit:
            raise skipped(doc_id, f"{size / 2**20:.0f} MB is over the {limit // 2**20} MB limit for one "
                                  f"file; split it into smaller files")
        return path.read_bytes()
    except OSError as e:
        raise RagError(f"{doc_id}: cannot be read ({e.strerror}); check its permissions") from None


def key(*parts: str) -> str:
    """A short stable key for an article inside a file (feed entry, JSON line)."""
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()[:12]


def with_title(title: str, body: str) -> str:
    """The text shown and indexed: the title as first line (it is searched too), then the body."""
    title, body = " ".join((title or "").split()), body.strip()
    if not title or body.startswith(title):
        return body
    return f"{title}\n\n{body}"


def article(doc_id: str, text: str, fingerprint: bytes | str, fmt: str, title: str = "", date=None,
            source: str = "", url: str = "", pages=()) -> Document:
    """A Document with an ISO date (or ""), its language, and a sha256 over everything read."""
    if not text.strip():
        raise skipped(doc_id, "no text in it")
    raw = fingerprint if isinstance(fingerprint, bytes) else fingerprint.encode("utf-8")
    if hasattr(date, "isoformat"):
        date = date.isoformat()[:10]
    return Document(doc_id, text, hashlib.sha256(raw).hexdigest(), title=" ".join((title or "").split()),
                    date=iso_date(date) or "" if date else "", source=" ".join((source or "").split()),
                    url=(url or "").strip(), lang=_language(text), format=fmt,
                    pages=tuple(pages))


def _language(text: str) -> str:
    sample = text[:3000]
    return language.foreign_language(sample) or language.detect(sample, default="")
