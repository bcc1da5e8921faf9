"""Word files (``.docx``, ``python-docx``): paragraphs one per line, tables row by row.

The date and title come from header lines at the top, as for text files, else from the
document's properties (title, creation date)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from rag.ingest.document import title_of
from rag.ingest.formats.base import article, read_bytes, skipped
from rag.ingest.formats.plain import header

NAME = "docx"


def read(path: Path, doc_id: str) -> list:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    data = read_bytes(path, doc_id)
    try:
        document = docx.Document(io.BytesIO(data))
        lines = [p.text.strip() for p in document.paragraphs]
        for table in document.tables:
            lines += [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        props = document.core_properties
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise skipped(doc_id, f"not a readable Word .docx file ({type(e).__name__})") from None
    text = "\n".join(line for line in lines if line)
    if not text.strip():
        raise skipped(doc_id, "the document has no text")
    meta, body = header(text)
    return [article(doc_id, text + "\n", data, NAME, title=meta.get("title") or props.title or title_of(text[body:]),
                    date=meta.get("date") or props.created, source=meta.get("source") or "",
                    url=meta.get("url") or "")]
