"""Text → unit vectors. One interface; the sentence-transformers backend is the default.

A second backend is a new subclass of :class:`Embedder` that implements ``_encode``.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from rag.errors import RagError

if TYPE_CHECKING:
    from rag.settings import Settings

Kind = Literal["query", "passage"]


class Embedder(ABC):
    """Embeds queries and passages into L2-normalised float32 rows."""

    model_id: str = ""
    dim: int = 0

    def encode(self, texts: Sequence[str], kind: Kind, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._encode(list(texts), kind, batch_size, progress), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    @abstractmethod
    def _encode(self, texts: list[str], kind: Kind, batch_size: int, progress: bool) -> np.ndarray:
        """Raw vectors, one row per text."""


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers folder; uses its ``query``/``passage`` prompts when it has them
    (the converted multilingual-e5-small has ``query: `` / ``passage: ``)."""

    def __init__(self, path: str, model_id: str | None = None, threads: int | None = None):
        self.path = path
        self.model_id = model_id or os.path.basename(os.path.normpath(path))
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:
                    raise RagError(f"sentence-transformers is not installed ({e.name}): run the install command from the README") from None
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()   # a per-load bar on every `rag ask` is noise
                if self._threads:
                    torch.set_num_threads(self._threads)
                try:
                    self._model = SentenceTransformer(self.path, device="cpu")
                except Exception as e:  # noqa: BLE001 - any load failure means the same fix
                    raise RagError(f"cannot load embedding model '{self.path}' ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0][:160]}); set RAG_EMBED_MODEL to a sentence-transformers folder") from None
            return self._model

    @property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.model.get_sentence_embedding_dimension())

    def _encode(self, texts, kind, batch_size, progress):
        model = self.model
        prompt = kind if kind in (model.prompts or {}) else None
        return model.encode(texts, prompt_name=prompt, batch_size=batch_size, convert_to_numpy=True,
                            normalize_embeddings=True, show_progress_bar=progress)


def from_settings(settings: "Settings") -> Embedder:
    """The configured embedder (``RAG_EMBED_MODEL``, else the packaged multilingual-e5-small),
    loaded on first use."""
    from rag.models.files import embed_model_path

    path = embed_model_path(settings.embed_model, settings.cache_dir)
    return SentenceTransformerEmbedder(path, model_id=settings.embed_model or "multilingual-e5-small")
