"""Chat messages → text. One interface, backends chosen by settings (``RAG_LLM_BACKEND``).

One operation is all the pipeline needs from a language model: ``stream(messages, max_tokens, prefix)``,
the reply, piece by piece. ``prefix`` is text the reply is forced to start with (not yielded again): the
pipeline writes ``"Answer:"`` itself and the model writes the answer line. Which sentence answers and
whether any does are the reader's decisions (``rag.reader``), not the model's.

Every call returns a :class:`Usage` (tokens read, reused from cache, written) as ``Response.usage``.
What a call *computed*
(``new_prompt_tokens``) is the pipeline's machine-independent latency figure
(``timings.prefill_tokens``).

A second backend is a new module with a :class:`Generator` subclass, registered in
``BACKENDS`` by name.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator

from rag.errors import RagError

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}


@dataclass
class Usage:
    """What one call cost.

    >>> Usage(prompt_tokens=500, cached_tokens=420, completion_tokens=12).new_prompt_tokens
    80
    """

    prompt_tokens: int = 0       # tokens of the whole prompt (prefix included)
    cached_tokens: int = 0       # of those, reused from the backend's cache (not computed again)
    completion_tokens: int = 0   # tokens generated

    @property
    def new_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens


class Response:
    """An answer being streamed: iterate for its pieces; ``usage`` is complete once it ends.

    >>> r = Response(iter(["91 ", "entreprises"]), Usage(prompt_tokens=3))
    >>> r.text(), r.usage.prompt_tokens
    ('91 entreprises', 3)
    """

    def __init__(self, pieces: Iterator[str], usage: Usage):
        self._pieces = pieces
        self.usage = usage

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces

    def text(self) -> str:
        return "".join(self)

    def close(self) -> None:
        """Stop generating now (the reader went away); releases the backend."""
        close = getattr(self._pieces, "close", None)
        if close:
            close()


class Generator(ABC):
    model_id: str = ""
    concurrency: int = 1    # answers it streams at once (the web chat queues users beyond that)

    @abstractmethod
    def stream(self, messages: list[Message], max_tokens: int, prefix: str = "") -> Response:
        """The reply after ``prefix``, piece by piece (greedy decoding: same input, same output)."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs in a prompt (an estimate unless the backend knows)."""
        return max(1, len(text) // 4)

    def forget(self) -> None:
        """Drop what this backend kept of earlier prompts, so the next one is computed from its first
        token (``rag bench``'s baseline and new-process runs). A server's cache is the server's own:
        nothing is kept here by default."""


# name → "module:Class"; a backend's module is imported only when it is chosen.
BACKENDS = {
    "llama-cpp": "rag.models.llamacpp:LlamaCppGenerator",
    "openai": "rag.models.openai_backend:OpenAIGenerator",
}


def create(settings) -> Generator:
    """The generator ``settings.llm_backend`` names, configured from ``settings`` (a
    ``rag.settings.Settings``, which lists this module's backends: not imported here, even for
    type hints, so the two never import each other)."""
    target = BACKENDS.get(settings.llm_backend)
    if target is None:
        raise RagError(f"RAG_LLM_BACKEND={settings.llm_backend!r} is not a backend: use one of "
                       f"{', '.join(sorted(BACKENDS))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls).from_settings(settings)
