"""Articles on disk: every ``*.txt`` / ``*.md`` under a folder; the file name is the document id.

Files that cannot be read as articles (not UTF-8, binary, empty, too large,
exact duplicates) are skipped with a one-line reason naming the file, so one
bad file never stops the good ones from being indexed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError

SUFFIXES = (".txt", ".md")
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    id: str          # path relative to the corpus folder, e.g. "000_00be9f381121e8cb.txt"
    text: str        # decoded text; passage offsets index into it
    sha256: str

    @property
    def title(self) -> str:
        return title_of(self.text) or self.id


def title_of(text: str, limit: int = 120) -> str:
    """First non-empty line, cut to its first sentence when long.

    >>> title_of("\\n La province du Zhejiang a établi une association. Elle compte 91 membres.")
    'La province du Zhejiang a établi une association. Elle compte 91 membres.'
    >>> title_of("A" * 50 + ". " + "B" * 100)
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.'
    """
    for line in text.splitlines():
        line = line.strip()
        if line:
            if len(line) > limit:
                m = re.match(r"(.{20,}?[.!?])\s", line)
                line = m.group(1) if m else line[:limit].rstrip() + "…"
            return line
    return ""


def read_article(path: Path, doc_id: str) -> Document:
    """Read one article, or raise RagError saying why it is not one."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RagError(f"{doc_id}: skipped, {size / 2**20:.0f} MB is over the "
                           f"{MAX_FILE_BYTES // 2**20} MB limit for one article; split it into smaller files")
        data = path.read_bytes()
    except OSError as e:
        raise RagError(f"{doc_id}: cannot be read ({e.strerror}); check its permissions") from None
    if b"\x00" in data[:8192]:
        raise RagError(f"{doc_id}: skipped, it looks binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RagError(f"{doc_id}: skipped, not UTF-8 (bad byte at offset {e.start}); "
                       f"re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    if not text.strip():
        raise RagError(f"{doc_id}: skipped, the file is empty")
    return Document(doc_id, text, hashlib.sha256(data).hexdigest())


def load_corpus(folder: Path) -> tuple[list[Document], list[str]]:
    """Return the readable articles (sorted by id) and one warning per skipped file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RagError(f"corpus folder '{folder}' does not exist; pass --corpus DIR with your articles")
    docs: list[Document] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    for path in paths:
        doc_id = path.relative_to(folder).as_posix()
        try:
            doc = read_article(path, doc_id)
        except RagError as e:
            warnings.append(str(e))
            continue
        if doc.sha256 in seen:
            warnings.append(f"{doc_id}: skipped, same text as {seen[doc.sha256]}")
            continue
        seen[doc.sha256] = doc_id
        docs.append(doc)
    if not docs:
        detail = f" ({len(warnings)} skipped: {warnings[0]})" if warnings else ""
        raise RagError(f"no articles in '{folder}'{detail}; add UTF-8 .txt or .md files")
    return docs, warnings
