"""The default reader: multilingual-e5-small read as a cross-encoder, with the shipped trained top layers and
heads (``rag/reader/reader-e5-small.safetensors``, made by ``rag train-reader``).

Loaded lazily, once: the converted e5 folder the install prepares, then the trained tensors on top.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

from rag.errors import RagError
from rag.reader.contract import Reader, SentenceScore


class E5Reader(Reader):
    def __init__(self, embed_path: str, weights_path: Path | None, threads: int | None = None):
        self.embed_path = embed_path
        self.weights_path = weights_path      # None: the untrained heads (tests' tiny reader)
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded = None
        self.report: dict = {}

    @property
    def model_id(self) -> str:  # type: ignore[override]
        from rag.reader import weights

        if self.weights_path is None:
            return "untrained"
        if not hasattr(self, "_sha"):
            self._sha = weights.sha256(self.weights_path)[:16]
        return f"e5-reader-{self._sha}"

    def _load(self):
        with self._lock:
            if self._loaded is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import torch
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging

                from rag.reader import weights
                from rag.reader.network import ReaderNetwork

                hf_logging.disable_progress_bar()
                if self._threads:
                    torch.set_num_threads(self._threads)
                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.embed_path)
                    network = ReaderNetwork(AutoModel.from_pretrained(self.embed_path))
                    if self.weights_path is not None:
                        self.report = weights.apply(network, self.weights_path)
                except (OSError, ValueError) as e:
                    raise RagError(f"cannot load the reader ({str(e).splitlines()[0][:200]}): "
                                   f"run the install command from the README, or set RAG_READER_WEIGHTS") from None
                network.eval()
                self._loaded = (network, tokenizer)
            return self._loaded

    def score(self, question: str, sentences: list[str]) -> list[SentenceScore]:
        from rag.reader.inference import score_pairs

        network, tokenizer = self._load()
        scored = score_pairs(network, tokenizer, [question] * len(sentences), sentences)
        return [SentenceScore(round(s.score, 4), s.span) for s in scored]

    def probability(self, score: float) -> float:
        self._load()
        cal = self.report.get("calibration") or {"a": 1.0, "b": 0.0}
        z = cal["a"] * score + cal["b"]
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))
