"""The fixed start of the prompts (the system message), computed once per machine instead of once per process.

Every answer prompt starts with the same ~500-token system message. ``warm_up`` computes it
once per process, but a fresh process (``rag ask``, a restarted web chat) paid for it on its
first question. llama.cpp writes a context's KV cache and the tokens it holds to a file
(``llama_state_save_file``) and reads it back (``llama_state_load_file``): reading the
system message's state back takes milliseconds where computing it takes seconds on a CPU.

The file's name is a hash of everything the state depends on — the model file, the
context size, the llama-cpp-python version and the prefix's tokens — so a changed prompt,
model or engine misses and writes a new file; nothing is ever read back that does not match.
The files live in the cache folder (``RAG_CACHE_DIR/prefix``), never in the repository.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np


def state_key(model: Path, n_ctx: int, version: str, tokens: Sequence[int]) -> str:
    """The file name for the KV state of ``tokens``: changes with any input the state depends on.

    >>> import tempfile; f = Path(tempfile.mkstemp()[1])
    >>> state_key(f, 2048, "0.3.36", [1, 2, 3]) == state_key(f, 2048, "0.3.36", [1, 2, 3])
    True
    >>> len({state_key(f, 2048, "0.3.36", [1, 2, 3]), state_key(f, 4096, "0.3.36", [1, 2, 3]),
    ...      state_key(f, 2048, "0.3.37", [1, 2, 3]), state_key(f, 2048, "0.3.36", [1, 2, 4])})
    4
    """
    stat = model.stat()
    h = hashlib.sha256(f"{model.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{n_ctx}\0{version}\0".encode())
    h.update(np.asarray(tokens, dtype=np.int32).tobytes())
    return h.hexdigest()[:32] + ".kv"


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share.

    >>> common_prefix([5, 6, 7, 8], [5, 6, 9]), common_prefix([], [1]), common_prefix([1, 2], [1, 2])
    (2, 0, 2)
    """
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def restore(llm, path: Path, tokens: Sequence[int]) -> bool:
    """Load the KV state of ``tokens`` from ``path`` into the empty context of ``llm`` (a ``llama_cpp.Llama``).

    False (and the context left empty) when the file is missing, unreadable or holds other tokens.
    """
    import llama_cpp

    if not path.is_file():
        return False
    capacity = llm.n_ctx()
    read = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    if not llama_cpp.llama_state_load_file(llm.ctx, os.fsencode(path), read, capacity, ctypes.byref(count)):
        return False
    n = count.value
    if n != len(tokens) or list(read[:n]) != list(tokens):
        llm.n_tokens = 0            # the next eval clears the KV cells from position 0
        return False
    llm.input_ids[:n] = tokens
    llm.n_tokens = n
    return True


def save(llm, path: Path, tokens: Sequence[int]) -> None:
    """Write the KV state of ``llm``, which holds exactly ``tokens``, to ``path`` (atomically: a
    concurrent reader sees the old file or the new one). A folder that cannot be written is no error:
    the state is then computed again by the next process."""
    import llama_cpp

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
        os.close(fd)
        ids = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_state_save_file(llm.ctx, os.fsencode(tmp), ids, len(tokens)):
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
    except OSError:
        pass
