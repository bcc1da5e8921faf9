"""One frozen settings object: defaults, overridden by ``RAG_*`` variables, then by flags.

>>> s = Settings.load(env={"RAG_TOP_K": "3"}, top_k=None, lang="en")
>>> (s.top_k, s.lang)
(3, 'en')
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping, get_type_hints

from rag.errors import RagError
from rag.models.generation import BACKENDS


DEFAULT_CORPUS = Path("seeds")


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag"


def physical_cores() -> int:
    """Physical cores (hyper-threads share the units llama.cpp saturates)."""
    try:
        siblings = set()
        for cpu in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/topology/thread_siblings_list"):
            siblings.add(cpu.read_text().strip())
        if siblings:
            return len(siblings)
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class Settings:
    """Everything a run can tune. Every field ``x`` is also ``RAG_X`` in the environment."""

    # None: the folder the index was built from (its manifest records it), else DEFAULT_CORPUS;
    # resolved by rag.store.storage.bind, which refuses a folder the index was not built from.
    corpus: Path | None = None
    index: Path = Path(".rag")
    store: str = ""             # where the index lives: a folder (default: `index`) or postgresql://…
    source: str = ""            # the name a folder's articles are kept under in a shared archive (default: its path)
    cache_dir: Path = dataclasses.field(default_factory=_default_cache)
    # Models: empty means the packaged defaults (see models/README.md).
    embed_model: str = ""
    llm_model: str = ""
    # Retrieval.
    top_k: int = 5              # passages shown as sources
    candidates: int = 20        # per retriever, before fusion
    min_score: float = 0.80     # dense cosine below which nothing counts as evidence
    hybrid: bool = True         # BM25 fused with dense by reciprocal rank fusion
    # The reader (rag.reader): which retrieved sentence states the answer, whether any does, its words.
    reader_weights: str = ""    # the trained reader file (default: the shipped rag/reader/reader-e5-small.safetensors)
    reader_sentences: int = 24  # candidate sentences it reads (the retrieved passages' best by the hand-tuned score)
    answer: str = "llm"         # llm: the model phrases the reader's answer; extract: the reader's span alone, no LLM
    # Generation.
    llm_backend: str = "llama-cpp"  # see rag.models.generation.BACKENDS
    # The "openai" backend: any OpenAI-compatible server (llama.cpp server, vLLM, …). The
    # API key, if the server wants one, comes from RAG_LLM_API_KEY or OPENAI_API_KEY only.
    llm_url: str = "http://127.0.0.1:8080/v1"
    llm_model_name: str = ""    # empty: the first model the server lists
    llm_timeout: float = 120.0  # seconds without a byte from the server before giving up
    llm_retries: int = 3        # reconnection attempts (with backoff) when the server is unreachable
    max_tokens: int = 160
    n_ctx: int = 2048
    n_threads: int = 0          # 0: physical cores
    temperature: float = 0.0
    prefix_cache: bool = True   # the system message's KV state kept in cache_dir/prefix (rag.models.prefixstate)
    extra_buffers: bool = False  # llama.cpp's repacked/AMX weight layouts (rag.models.llamacpp: slower prefill here)
    # Behaviour.
    lang: str = "auto"          # answer language: auto (the question's), fr or en
    default_lang: str = "fr"    # for questions too short to detect
    ui_lang: str = "auto"       # the web chat's words: auto (the browser's Accept-Language), fr or en
    split_questions: bool = True  # answer "X and Y?" questions part by part (rag.retrieval.multipart)
    gate: bool = True           # the threshold on the reader's P(answerable) (off: the other checks alone decide)
    gate_file: str = ""         # the gate's curve (default: rag/answer/gate.json, fitted by rag calibrate)
    # Wrong answers shown the gate lets through, as a share of all questions: its threshold on P(answerable) is
    # read for this budget on the fitted risk–coverage curve (higher: more answers, more of them wrong).
    gate_risk: float = 0.05
    # The web chat's users (rag users add); default ~/.config/rag/users.txt (rag.web.auth.default_file).
    auth_file: Path | None = None

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Defaults < ``RAG_*`` environment < keyword overrides (``None`` = not given)."""
        env = os.environ if env is None else env
        hints = get_type_hints(cls)
        values = {}
        for f in fields(cls):
            raw = env.get("RAG_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, hints[f.name], raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        s = cls(**values)
        s.validate()
        return s

    def validate(self) -> None:
        hints = get_type_hints(type(self))
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise RagError(f"RAG_{name.upper()}={value} is out of range: {_allowed(hints[name], name)}")
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise RagError(f"RAG_{name.upper()}={getattr(self, name)!r} is not allowed: {_allowed(str, name)}")
        if self.candidates < self.top_k:
            raise RagError(f"RAG_CANDIDATES={self.candidates} is below RAG_TOP_K={self.top_k}: "
                           f"use at least as many candidates as passages shown")
        if not self.llm_url.startswith(("http://", "https://")):
            raise RagError(f"RAG_LLM_URL={self.llm_url!r} is not allowed: use a URL starting with http:// or https://")

    @property
    def threads(self) -> int:
        return self.n_threads or physical_cores()

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


# Allowed values, inclusive. Every numeric setting has a range (tests/test_settings.py checks it).
RANGES: dict[str, tuple[float, float]] = {
    "top_k": (1, 50),
    "candidates": (1, 1000),
    "min_score": (-1.0, 1.0),          # a cosine
    "gate_risk": (0.0, 1.0),           # a share of all questions
    "reader_sentences": (1, 64),       # one batched forward
    "llm_timeout": (0.1, 3600.0),      # seconds
    "llm_retries": (0, 20),
    "max_tokens": (1, 4096),
    "n_ctx": (256, 131072),
    "n_threads": (0, 1024),
    "temperature": (0.0, 2.0),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "lang": ("auto", "fr", "en"),
    "default_lang": ("fr", "en"),
    "ui_lang": ("auto", "fr", "en"),
    "answer": ("llm", "extract"),
    "llm_backend": tuple(BACKENDS),
}


def _allowed(kind, name: str) -> str:
    """The allowed values of setting ``name``, as a user reads them.

    >>> _allowed(int, "top_k"), _allowed(float, "min_score"), _allowed(bool, "hybrid"), _allowed(str, "lang")
    ('use an integer from 1 to 50', 'use a number from -1.0 to 1.0', 'use 1 or 0', 'use auto, fr or en')
    """
    if name in RANGES:
        low, high = RANGES[name]
        return f"use {'an integer' if kind is int else 'a number'} from {low} to {high}"
    if kind is bool:
        return "use 1 or 0"
    if name in CHOICES:
        *first, last = CHOICES[name]
        return f"use {', '.join(first)} or {last}" if first else f"use {last}"
    return "use a valid value"


def _parse(name: str, kind, raw: str):
    """A ``RAG_*`` value read as the setting's type; a bad one is a one-line error naming it.

    >>> _parse("top_k", int, "abc")
    Traceback (most recent call last):
    ...
    rag.errors.RagError: RAG_TOP_K='abc' is not valid: use an integer from 1 to 50
    """
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind in (Path, Path | None):
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError:
        raise RagError(f"RAG_{name.upper()}={raw!r} is not valid: {_allowed(kind, name)}") from None
