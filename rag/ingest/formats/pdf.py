"""PDF files (``pypdf``): the text layer of every page, pages separated by a blank line.

The document keeps where each page starts in the extracted text, so a citation says its
page. Encrypted files, files with no text layer (scans) and broken files are skipped."""

from __future__ import annotations

import io
from pathlib import Path

from rag.ingest.formats.base import article, read_bytes, skipped

NAME = "pdf"


def read(path: Path, doc_id: str) -> list:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    data = read_bytes(path, doc_id)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise skipped(doc_id, "the PDF is encrypted (password-protected); save an unprotected copy")
        texts = [(page.extract_text() or "").replace("\x00", "").strip()
                 for page in reader.pages]
        info = reader.metadata or {}
        title, created = getattr(info, "title", None) or "", getattr(info, "creation_date", None)
    except PyPdfError as e:
        if "decrypt" in str(e).lower() or "encrypt" in str(e).lower():
            raise skipped(doc_id, "the PDF is encrypted (password-protected); save an unprotected copy") from None
        raise skipped(doc_id, f"not a readable PDF ({type(e).__name__}: {str(e)[:80]})") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, NotImplementedError) as e:
        raise skipped(doc_id, f"not a readable PDF ({type(e).__name__})") from None
    if not any(texts):
        raise skipped(doc_id, "the PDF has no text layer (a scan? run OCR on it first)")
    pages, text = [], ""
    for page_text in texts:
        pages.append(len(text))
        text += page_text + "\n\n"
    return [article(doc_id, text.rstrip() + "\n", data, NAME, title=title, date=created, pages=pages)]
