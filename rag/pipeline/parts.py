"""Settings → the parts a pipeline is made of: the one place that makes the embedder, the reader, the
generator and the gate (``Pipeline`` asks for each on first use; ``rag index`` for its embedder;
``rag bench`` for a second generator with other settings). The store is opened by
``rag.store.storage``.

A part another backend provides is chosen by the settings inside its own factory
(``rag.models.generation.create`` for generators, ``rag.store.storage`` for stores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.answer import gate
from rag.models import embedding as embeddings
from rag.models import generation

if TYPE_CHECKING:
    from rag.models.embedding import Embedder
    from rag.models.generation import Generator
    from rag.reader import Reader
    from rag.settings import Settings


def embedder(settings: "Settings") -> "Embedder":
    """The configured embedding model (loaded on first use)."""
    return embeddings.from_settings(settings)


def generator(settings: "Settings") -> "Generator":
    """The configured LLM backend (``RAG_LLM_BACKEND``)."""
    return generation.create(settings)


def token_counter(settings: "Settings"):
    """Tokens a text costs the configured LLM, counted without loading its weights (the GGUF's vocabulary
    alone, ``rag.models.chatformat``); the generator's own count for a server backend."""
    if settings.llm_backend != "llama-cpp":
        return generator(settings).count_tokens
    from rag.models.chatformat import ChatFormat
    from rag.models.files import llm_path

    return ChatFormat.from_gguf(llm_path(settings.llm_model, settings.cache_dir)).count


def gate_model(settings: "Settings") -> gate.Gate:
    """The answer gate (``RAG_GATE_FILE``, else the packaged ``gate.json``), its threshold on the reader's
    P(answerable) read for the risk budget ``RAG_GATE_RISK``; ``RAG_GATE=0``: no threshold."""
    if not settings.gate:
        return gate.OPEN
    return gate.Gate.load(settings.gate_file or gate.MODEL_FILE).at_risk(settings.gate_risk)


def reader(settings: "Settings") -> "Reader":
    """The trained reader (``RAG_READER_WEIGHTS``, else the shipped file; loaded on first use)."""
    from rag import reader as readers

    return readers.from_settings(settings)
