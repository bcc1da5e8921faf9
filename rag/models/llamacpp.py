"""The in-process backend: a GGUF model run by llama-cpp-python, with its own chat template.

llama.cpp keeps one KV cache: a prompt that starts like the previous one only computes
its new tokens. Every answer prompt starts with the same system message (``rag.answer.prompts``),
so after the first question only the rest (the sentence, the question) is computed; a new
process reads the system message's state from disk (``rag.models.prefixstate``). One model,
one cache: calls are serialised by a lock held while a reply streams.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from rag.models import chatformat
from rag.errors import RagError
from rag.models.generation import Generator, Message, Response, Usage

if TYPE_CHECKING:
    from rag.settings import Settings

STOP = ["<|im_end|>", "<|endoftext|>"]


def _cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def use_extra_buffers(wanted: bool) -> bool:
    """Whether llama.cpp may put the weights in its "extra buffer types" (CPU_REPACK, AMX).

    Off by default, measured (``rag bench``, kernels table): with them, the Q4_K_M weights are
    repacked at load and the prompt is processed 1.55× slower on an AVX-512 CPU (AMD Zen 4,
    541 tokens: 5.85 s vs 3.78 s, medians of 15), for 1.16× faster decoding — and an answer is
    mostly prompt. On Intel CPUs with AMX (Sapphire Rapids, common in cloud VMs) they are never
    used: llama.cpp's AMX matmul segfaults on the first multi-token batch (llama-cpp-python
    0.3.36; ggml-org/llama.cpp#20824).
    """
    return wanted and not _cpu_has_amx()


@contextmanager
def model_params(**fields):
    """Load a model with llama.cpp model parameters llama-cpp-python has no argument for
    (here, and in its server: ``rag.models.python_server``)."""
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
    def __init__(self, path: Path, n_ctx: int = 2048, threads: int = 2, temperature: float = 0.0,
                 state_dir: Path | None = None, extra_buffers: bool = False):
        self.path = Path(path)
        self.model_id = self.path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.temperature = temperature
        self.state_dir = state_dir              # the system message's KV state on disk (rag.models.prefixstate)
        self.extra_buffers = use_extra_buffers(extra_buffers)
        self._llm = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()         # one model, one KV cache: one call at a time

    @classmethod
    def from_settings(cls, settings: "Settings") -> "LlamaCppGenerator":
        from rag.models.files import llm_path

        return cls(llm_path(settings.llm_model, settings.cache_dir), n_ctx=settings.n_ctx,
                   threads=settings.threads, temperature=settings.temperature,
                   state_dir=settings.cache_dir / "prefix" if settings.prefix_cache else None,
                   extra_buffers=settings.extra_buffers)

    @property
    def llm(self):
        with self._load_lock:
            if self._llm is None:
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise RagError("llama-cpp-python is not installed: run the install command from the README") from None
                try:
                    with chatformat.LOADING, model_params(use_extra_bufts=self.extra_buffers):
                        self._llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads,
                                          n_threads_batch=self.threads, verbose=False)
                except (ValueError, RuntimeError, OSError) as e:
                    raise RagError(f"cannot load LLM '{self.path}' ({str(e).splitlines()[0][:120]}): the file may be "
                                   f"truncated or need more memory; re-run the install or set RAG_LLM_MODEL") from None
            return self._llm

    # ---- prompts -----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def forget(self) -> None:
        self.llm.reset()

    def _tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def render(self, messages: list[Message], prefix: str = "") -> str:
        """The prompt text: the chat in the model's own template, the reply opened, then ``prefix``."""
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise RagError(f"the model '{self.path.name}' has no chat template: use an instruct GGUF")
        return chatformat.render(template, messages, prefix)

    def _prompt(self, messages: list[Message], prefix: str, room: int) -> list[int]:
        tokens = self._tokens(self.render(messages, prefix))
        if len(tokens) + room > self.n_ctx:
            raise RagError(f"the prompt needs {len(tokens)} tokens, over the context of {self.n_ctx}: "
                           f"lower RAG_EVIDENCE_TOKENS or raise RAG_N_CTX")
        return tokens

    def _reused(self, tokens: list[int]) -> int:
        """Tokens at the start of ``tokens`` already in the KV cache (at least one is left to compute)."""
        llm = self.llm
        cached = llm.input_ids[:llm.n_tokens]
        n = 0
        for a, b in zip(cached, tokens[:-1]):
            if a != b:
                break
            n += 1
        return n

    def _fixed_start(self, messages: list[Message], tokens: list[int]) -> int:
        """On an empty context (a new process): the KV state of the prompt's system message, read
        from ``state_dir`` or computed and written there for the next process; → the tokens it
        computed (0 when read back), which the cache then holds but this call paid for."""
        llm = self.llm
        if llm.n_tokens or self.state_dir is None or not messages or messages[0]["role"] != "system":
            return 0
        import llama_cpp

        from rag.models import prefixstate

        # The system message as the template renders it: what this prompt shares with one whose user turn is empty.
        fixed = tokens[:prefixstate.common_prefix(tokens, self._tokens(self.render(
            [m for m in messages if m["role"] == "system"] + [{"role": "user", "content": ""}])))]
        if len(fixed) < 2 or len(fixed) >= len(tokens):
            return 0
        # Another engine or weight layout computes slightly different values: its own file.
        engine = f"{llama_cpp.__version__}+{'repacked' if self.extra_buffers else 'plain'}"
        path = self.state_dir / prefixstate.state_key(self.path, self.n_ctx, engine, fixed)
        if prefixstate.restore(llm, path, fixed):
            return 0
        llm.eval(fixed)
        prefixstate.save(llm, path, fixed)
        return len(fixed)

    # ---- the reply -------------------------------------------------------------------------------
    def stream(self, messages: list[Message], max_tokens: int, prefix: str = "") -> Response:
        tokens = self._prompt(messages, prefix, max_tokens)
        usage = Usage(prompt_tokens=len(tokens))
        return Response(self._pieces(messages, tokens, max_tokens, usage), usage)

    def _pieces(self, messages: list[Message], tokens: list[int], max_tokens: int, usage: Usage) -> Iterator[str]:
        with self._lock:
            computed = self._fixed_start(messages, tokens)
            usage.cached_tokens = self._reused(tokens) - computed
            chunks = self.llm.create_completion(tokens, max_tokens=max_tokens, temperature=self.temperature,
                                                stop=STOP, stream=True)
            try:
                for chunk in chunks:
                    usage.completion_tokens += 1
                    piece = chunk["choices"][0]["text"]
                    if piece:
                        yield piece
            finally:
                chunks.close()
