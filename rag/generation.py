"""Chat messages → a stream of text pieces. One interface; llama.cpp is the default backend.

A second backend is a new subclass of :class:`Generator` implementing ``stream``.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import RagError

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}


class Generator(ABC):
    model_id: str = ""

    @abstractmethod
    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """Yield the answer piece by piece (greedy decoding: same input, same output)."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs in a prompt (an estimate unless the backend knows)."""
        return max(1, len(text) // 4)


def _cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@contextmanager
def _model_params(**fields):
    """Load a model with llama.cpp model parameters llama-cpp-python has no argument for.

    Why: on Intel CPUs with AMX (Sapphire Rapids, common in cloud VMs), a llama.cpp built
    with ``-march=native`` routes quantised matmuls through its AMX "extra buffer type",
    which segfaults on the first multi-token batch here (measured with 0.3.36). Without
    extra buffer types the plain AVX-512 kernels are used and work.
    """
    import llama_cpp.llama_cpp as api

    default = api.llama_model_default_params

    def patched():
        params = default()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    api.llama_model_default_params = patched
    try:
        yield
    finally:
        api.llama_model_default_params = default


class LlamaCppGenerator(Generator):
    """A GGUF model run by llama-cpp-python, with its own chat template.

    Not thread-safe: callers serialise (the pipeline holds a lock while streaming).
    """

    def __init__(self, path: Path, n_ctx: int = 2048, threads: int = 2, temperature: float = 0.0):
        self.path = Path(path)
        self.model_id = self.path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.temperature = temperature
        self._llm = None
        self._load_lock = threading.Lock()
        self.last_prompt_tokens = 0

    @property
    def llm(self):
        with self._load_lock:
            if self._llm is None:
                # OpenMP spin-waiting makes 2-thread decoding erratic on small VMs;
                # passive waiting is steady. Must be set before the library loads.
                os.environ.setdefault("OMP_WAIT_POLICY", "passive")
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise RagError("llama-cpp-python is not installed: run the install command from the README") from None
                try:
                    with _model_params(use_extra_bufts=not _cpu_has_amx()):
                        self._llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads,
                                          n_threads_batch=self.threads, verbose=False)
                except (ValueError, RuntimeError, OSError) as e:
                    raise RagError(f"cannot load LLM '{self.path}' ({str(e).splitlines()[0][:120]}): the file may be "
                                   f"truncated or need more memory; re-run the install or set RAG_LLM_MODEL") from None
            return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens of the whole chat prompt, as the model's own template renders it."""
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            return sum(self.count_tokens(m["content"]) for m in messages)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        prompt = Jinja2ChatFormatter(template=template, eos_token="", bos_token="")(messages=messages).prompt
        return self.count_tokens(prompt)

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.last_prompt_tokens = self.prompt_tokens(messages)
        if self.last_prompt_tokens + max_tokens > self.n_ctx:
            raise RagError(f"the prompt needs {self.last_prompt_tokens} tokens, over the context of {self.n_ctx}: "
                           f"lower RAG_EVIDENCE_TOKENS or raise RAG_N_CTX")
        chunks = self.llm.create_chat_completion(messages, temperature=self.temperature, max_tokens=max_tokens,
                                                 stream=True)
        try:
            for chunk in chunks:
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
        finally:
            chunks.close()
