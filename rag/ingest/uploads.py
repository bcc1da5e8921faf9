"""Articles added from the web chat: checked, then copied into ``<corpus>/uploads/``.

An upload is data, never code or markup: its name is reduced to a safe base name, its type
must be one a reader knows (by extension) and its first bytes must agree (a PDF starts with
``%PDF-``, a .docx is a ZIP, the text formats hold no NUL byte), and its size is limited.
Files are only ever parsed by the readers in ``rag.ingest.formats``; the chat shows their text escaped.

>>> safe_name("../../etc/passwd.txt"), safe_name("Rapport annuel (2024).PDF"), safe_name(".hidden.md")
('passwd.txt', 'Rapport_annuel_2024.PDF', 'hidden.md')
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rag.ingest.formats import READERS

FOLDER = "uploads"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_FILES = 50
_MAGIC = {".pdf": (b"%PDF-",), ".docx": (b"PK\x03\x04",)}


def safe_name(name: str) -> str:
    base = Path(str(name).replace("\\", "/")).name
    stem, dot, suffix = base.rpartition(".")
    stem = re.sub(r"_+", "_", re.sub(r"[^\w-]", "_", stem if dot else base)).strip("_") or "article"
    return f"{stem}.{suffix}" if dot else stem


def check(path: Path, name: str) -> str | None:
    """Why the uploaded file at ``path`` (called ``name`` by the user) is refused, or None."""
    suffix = Path(name).suffix.lower()
    if suffix not in READERS:
        return f"{name}: refused, {suffix or 'no extension'} is not an article format ({', '.join(READERS)})"
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        return f"{name}: refused, {size / 2**20:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit"
    if size == 0:
        return f"{name}: refused, the file is empty"
    with open(path, "rb") as f:
        head = f.read(8192)
    magic = _MAGIC.get(suffix)
    if magic and not head.startswith(magic):
        return f"{name}: refused, its content is not a {suffix} file"
    if not magic and b"\x00" in head:
        return f"{name}: refused, it is binary, not a {suffix} text file"
    return None


def accept(files: list[tuple[Path, str]], corpus_dir: Path) -> tuple[list[str], list[str]]:
    """Copy the acceptable ``(temporary path, original name)`` uploads into the corpus;
    → (saved names relative to the corpus, one refusal line per other file)."""
    saved, refused = [], []
    if len(files) > MAX_FILES:
        refused += [f"{name}: refused, at most {MAX_FILES} files at once" for _, name in files[MAX_FILES:]]
        files = files[:MAX_FILES]
    target = Path(corpus_dir) / FOLDER
    for path, name in files:
        reason = check(Path(path), name)
        if reason:
            refused.append(reason)
            continue
        target.mkdir(parents=True, exist_ok=True)
        dest = target / safe_name(name)
        shutil.copyfile(path, dest)
        saved.append(dest.relative_to(corpus_dir).as_posix())
    return saved, refused
