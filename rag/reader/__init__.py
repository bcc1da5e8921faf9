"""The reader: between retrieval and the answer, it decides which sentence states the answer, whether any
does (a calibrated P(answerable)) and the answer's exact words. ``contract`` says what a reader is,
``e5reader`` is the default one, ``training`` makes its weights (``rag train-reader``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.reader.contract import Reader, Reading, SentenceScore

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = ["Reader", "Reading", "SentenceScore", "from_settings"]


def from_settings(settings: "Settings") -> Reader:
    """The configured reader (``RAG_READER_WEIGHTS``, else the shipped file) on the configured e5 (loaded on
    first use)."""
    from rag.errors import RagError
    from rag.models.files import embed_model_path
    from rag.reader import weights
    from rag.reader.e5reader import E5Reader

    path = Path(settings.reader_weights).expanduser() if settings.reader_weights else weights.SHIPPED
    if not path.is_file():
        raise RagError(f"no reader weights at {path}: set RAG_READER_WEIGHTS to a file made by rag train-reader")
    return E5Reader(embed_model_path(settings.embed_model, settings.cache_dir), path, settings.threads)
