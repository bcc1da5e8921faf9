"""Vector search over passage embeddings. One interface (search, add, delete); FAISS is
the folder store's backend, pgvector the PostgreSQL store's (``rag.store.pgstore``).

The FAISS index type follows the corpus size: exact inner product (``IndexFlatIP``)
below ``APPROXIMATE_FROM`` vectors, IVF above. Measured with ``rag bench`` on 2 cores:
exact search takes 0.5 ms at 10k vectors, 11–80 ms at 100k (depending on the load) and
107 ms at 1M (one query, one thread) — inside the 0.3 s evidence budget with perfect
recall. On clustered vectors HNSW (M=32, efSearch=256) fell to recall@10 0.84–0.87 at
100k and 0.49 at 1M, while IVF (nlist = 4·√n, nprobe 16) kept 0.998 at 10k and 1.0 at
100k in 0.1 ms (``rag bench --retrieval``). So exact search up to 500k, IVF above.

>>> import numpy as np
>>> v = np.eye(3, dtype=np.float32)
>>> idx = FaissIndex.build(v)
>>> scores, ids = idx.search(v[1:2], k=2)
>>> ids[0].tolist(), round(float(scores[0][0]), 3)
([1, 0], 1.0)
>>> idx.add(v[:1]); idx.delete([0]); len(idx), idx.search(v[:1], k=1)[1][0].tolist()
(3, [2])
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from rag.errors import RagError

APPROXIMATE_FROM = 500_000
IVF_LISTS_PER_SQRT = 4      # nlist = 4·√n (faiss's guideline: 4–16·√n)
IVF_TRAIN_PER_LIST = 40     # k-means training sample per list
IVF_NPROBE = 16


class VectorIndex(ABC):
    """Inner-product search over L2-normalised rows (so scores are cosines)."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (len(queries), k); id -1 where fewer than k exist."""

    @abstractmethod
    def add(self, vectors: np.ndarray, ids: list[int] | None = None) -> None:
        """Store ``vectors`` under ``ids`` (default: the next row numbers)."""

    @abstractmethod
    def delete(self, ids: list[int]) -> None: ...

    @abstractmethod
    def __len__(self) -> int: ...


def build(vectors: np.ndarray) -> "FaissIndex":
    """The in-memory index of the folder store (its type follows the number of vectors)."""
    return FaissIndex.build(vectors)


def load(path: Path) -> "FaissIndex":
    return FaissIndex.load(path)


class FaissIndex(VectorIndex):
    def __init__(self, index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "auto") -> "FaissIndex":
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        if kind == "auto":
            kind = "ivf" if len(vectors) >= APPROXIMATE_FROM else "flat"
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 256   # measured: 64 gave recall@10 0.69 at 100k clustered vectors
        elif kind == "ivf":
            nlist = max(1, min(int(IVF_LISTS_PER_SQRT * np.sqrt(len(vectors))), len(vectors) // IVF_TRAIN_PER_LIST))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).permutation(len(vectors))[:IVF_TRAIN_PER_LIST * nlist]
            index.train(vectors[np.sort(sample)])
            index.nprobe = min(nlist, IVF_NPROBE)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        index.add(vectors)
        return cls(index)

    @property
    def kind(self) -> str:
        name = type(self.index).__name__
        return "hnsw" if "HNSW" in name else "ivf" if "IVF" in name else "flat"

    @property
    def params(self) -> str:
        import faiss

        if self.kind == "hnsw":
            return f"M=32 efSearch={self.index.hnsw.efSearch}"
        if self.kind == "ivf":
            return f"nlist={self.index.nlist} nprobe={faiss.extract_index_ivf(self.index).nprobe}"
        return "exact"

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors, ids=None):
        if ids is not None and list(ids) != list(range(len(self), len(self) + len(vectors))):
            raise ValueError("a FAISS index numbers its rows itself: ids must be the next row numbers")
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def delete(self, ids):
        """Remove rows ``ids``; the rows after them move up (an exact index only)."""
        if self.kind != "flat":
            raise ValueError("an HNSW graph cannot drop vectors: rebuild the index")
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, queries, k):
        import faiss

        k = max(1, min(k, len(self)))
        # Measured (rag bench): a second OpenMP thread makes one-query searches slower;
        # batches (the eval, the benchmark's ground truth) still use every core.
        faiss.omp_set_num_threads(1 if len(queries) <= 4 else os.cpu_count() or 1)
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path):
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path):
        import faiss

        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError:
            raise RagError(f"the index file '{path}' is corrupt or truncated: run `rag index` to rebuild it") from None
