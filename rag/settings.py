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

from .errors import RagError


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

    corpus: Path = Path("seeds")
    index: Path = Path(".rag")
    store: str = ""             # where the index lives: a folder (default: `index`) or postgresql://…
    cache_dir: Path = dataclasses.field(default_factory=_default_cache)
    # Models: empty means the packaged defaults (see models/README.md).
    embed_model: str = ""
    llm_model: str = ""
    # Retrieval.
    top_k: int = 5              # passages shown as sources
    candidates: int = 20        # per retriever, before fusion
    min_score: float = 0.80     # dense cosine below which nothing counts as evidence
    hybrid: bool = True         # BM25 fused with dense by reciprocal rank fusion
    # Evidence sent to the model.
    evidence_tokens: int = 450  # evidence budget in the prompt (eval: 260 → acc 0.58, 450 → 0.69, whole passages → 0.71)
    max_sentences: int = 10
    # Generation.
    llm_backend: str = "llama-cpp"  # see rag.generation.BACKENDS
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
    prefix_cache: bool = True   # the system message's KV state kept in cache_dir/prefix (rag.prefixstate)
    # Behaviour.
    lang: str = "auto"          # answer language: auto (the question's), fr or en
    default_lang: str = "fr"    # for questions too short to detect
    english_via_french: bool = True   # English questions: answer in French from the French quote, then translate
    split_questions: bool = True  # answer "X and Y?" questions part by part (rag.multipart)
    gate: bool = True           # the learned answer gate (off: the grounding rules alone decide; rag calibrate)
    gate_file: str = ""         # the gate's weights (default: rag/gate.json, fitted by rag calibrate)

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
        if self.lang not in ("auto", "fr", "en"):
            raise RagError(f"language must be auto, fr or en, not {self.lang!r}")
        if self.default_lang not in ("fr", "en"):
            raise RagError(f"RAG_DEFAULT_LANG must be fr or en, not {self.default_lang!r}")
        if not 1 <= self.max_sentences <= 20:
            raise RagError(f"RAG_MAX_SENTENCES must be between 1 and 20 (one letter each), not {self.max_sentences}")
        if not self.llm_url.startswith(("http://", "https://")):
            raise RagError(f"RAG_LLM_URL must start with http:// or https://, not {self.llm_url!r}")
        if self.top_k < 1 or self.candidates < self.top_k:
            raise RagError("top_k must be >= 1 and candidates >= top_k")

    @property
    def threads(self) -> int:
        return self.n_threads or physical_cores()

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _parse(name: str, kind, raw: str):
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is Path:
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError:
        raise RagError(f"RAG_{name.upper()}={raw!r} is not a valid {getattr(kind, '__name__', kind)}") from None
