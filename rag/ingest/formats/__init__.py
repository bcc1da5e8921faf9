"""Readers, one module per format family, chosen by file extension.

Each reader module has ``NAME`` (the format shown in counts) and
``read(path, doc_id) -> list[Document | str]``, raising ``RagError("<file>: skipped, <reason>")``
when the file holds no readable article; the strings it returns are warnings for entries
skipped inside a file (a feed entry without text, a bad JSON line). A new format is a new
module here and one line in ``READERS``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from rag.ingest.document import Document
from rag.errors import RagError
from rag.ingest.formats import feed, jsonl, pdf, plain, web, word

READERS: dict[str, ModuleType] = {
    ".txt": plain, ".md": plain,
    ".html": web, ".htm": web, ".xhtml": web,
    ".pdf": pdf,
    ".docx": word,
    ".rss": feed, ".atom": feed, ".xml": feed,
    ".jsonl": jsonl, ".ndjson": jsonl,
}
SUFFIXES = tuple(READERS)


def reader_for(path: Path) -> ModuleType | None:
    return READERS.get(Path(path).suffix.lower())


def read_file(path: Path, doc_id: str) -> tuple[list[Document], list[str]]:
    """The articles of one file and one warning per file or entry skipped (never raises for bad data)."""
    reader = reader_for(path)
    if reader is None:
        return [], [f"{doc_id}: skipped, unknown file type (known: {', '.join(SUFFIXES)})"]
    try:
        found = reader.read(Path(path), doc_id)
    except RagError as e:
        return [], [str(e)]
    docs = [d for d in found if isinstance(d, Document)]
    return docs, [str(w) for w in found if not isinstance(w, Document)]
