"""Articles on disk: every file of a known format under a folder (see ``rag.ingest.formats``).

A file gives one article (a web page, a PDF, a Word or text file) or several (a feed,
a JSON Lines dump). Every article has a stable id, its text — the text citations'
offsets index into, which for extracted formats is the extracted text the UI shows —
and what is known of its title, date, source, URL and language.

Files that cannot be read as articles (undecodable, encrypted, empty, no article body,
too large, exact duplicates) are skipped with a one-line reason naming the file, so one
bad file never stops the good ones from being indexed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError
from rag.ingest.document import Document

def corpus_files(folder: Path, index_dir: Path | None = None) -> list[Path]:
    """The files under ``folder`` a reader knows, sorted; hidden files and folders are left out,
    and so is the index folder if it lies inside (its .jsonl files are not articles)."""
    from rag.ingest.formats import reader_for

    folder = Path(folder)
    index = Path(index_dir).resolve() if index_dir else None
    return sorted(p for p in folder.rglob("*")
                  if reader_for(p) and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                  and not (index and p.resolve().is_relative_to(index)))


@dataclass
class Corpus:
    docs: list[Document]
    warnings: list[str]
    formats: Counter     # articles per format


def read_corpus(folder: Path, exclude: set[str] = frozenset(), index_dir: Path | None = None) -> Corpus:
    """Every readable article under ``folder`` (sorted by id), one warning per skipped file or entry.
    Articles whose id is in ``exclude`` (removed by the user) are left out silently."""
    from rag.ingest.formats import read_file

    folder = Path(folder)
    if not folder.is_dir():
        raise RagError(f"corpus folder '{folder}' does not exist; pass --corpus DIR with your articles")
    docs: list[Document] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for path in corpus_files(folder, index_dir):
        found, skipped = read_file(path, path.relative_to(folder).as_posix())
        warnings += skipped
        for doc in found:
            if doc.id in exclude:
                continue
            if doc.sha256 in seen:
                warnings.append(f"{doc.id}: skipped, same text as {seen[doc.sha256]}")
                continue
            seen[doc.sha256] = doc.id
            docs.append(doc)
    if not docs:
        detail = f" ({len(warnings)} skipped: {warnings[0]})" if warnings else ""
        raise RagError(f"no articles in '{folder}'{detail}; add .txt, .md, .html, .pdf, .docx, .rss or .jsonl files")
    docs.sort(key=lambda d: d.id)
    return Corpus(docs, warnings, Counter(d.format for d in docs))
