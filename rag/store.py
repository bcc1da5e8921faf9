"""The index folder on disk: articles, passages, their vectors and a manifest.

Layout (``.rag/`` by default)::

    CURRENT            name of the live version, replaced atomically
    v-<time>-<rand>/   manifest.json  docs.jsonl  passages.jsonl  sentences.jsonl
                       vectors.npy  sentence_vectors.npy  dense.faiss

A build writes a new version folder, then swaps ``CURRENT`` with ``os.replace``:
a build killed half-way leaves the previous version live and intact. Builds are
incremental: an article whose sha256, the chunker and the embedding model are
unchanged keeps its passages and vectors; only new or changed ones are embedded.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .chunking import CHUNKER_VERSION, Passage, split_passages
from .corpus import Document, load_corpus
from .embedding import Embedder
from .errors import RagError
from .index import FaissIndex

FORMAT = 1


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class Store:
    path: Path
    manifest: dict
    docs: dict[str, Document]
    passages: list[Passage]
    vectors: np.ndarray                       # one row per passage
    sentences: list[tuple[str, int, int]]     # (doc, start, end), unique
    sentence_vectors: np.ndarray
    dense: FaissIndex

    def __post_init__(self):
        where = {s: i for i, s in enumerate(self.sentences)}
        self.passage_sentences = [[where[(p.doc, s, e)] for s, e in p.sentences] for p in self.passages]
        self._lexical = None

    @property
    def lexical(self):
        """BM25 over the passages, built on first use (milliseconds per thousand passages)."""
        if self._lexical is None:
            from .lexical import Bm25Index

            self._lexical = Bm25Index([p.text for p in self.passages])
        return self._lexical

    # ---- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, index_dir: Path) -> "Store":
        index_dir = Path(index_dir)
        current = index_dir / "CURRENT"
        if not current.exists():
            raise RagError(f"no index in '{index_dir}': run `rag index` (or pass --index DIR)")
        version = index_dir / current.read_text().strip()
        try:
            manifest = json.loads((version / "manifest.json").read_text())
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {manifest.get('format')}")
            docs = {}
            for line in (version / "docs.jsonl").read_text(encoding="utf-8").splitlines():
                d = json.loads(line)
                docs[d["id"]] = Document(d["id"], d["text"], d["sha256"])
            passages = [Passage.from_dict(json.loads(line))
                        for line in (version / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
            sentences = [tuple(json.loads(line))
                         for line in (version / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]
            vectors = np.load(version / "vectors.npy")
            sentence_vectors = np.load(version / "sentence_vectors.npy")
            if len(vectors) != len(passages) or len(sentence_vectors) != len(sentences):
                raise ValueError("row counts do not match")
            dense = FaissIndex.load(version / "dense.faiss")
            if len(dense) != len(passages):
                raise ValueError("vector index does not match the passages")
            return cls(version, manifest, docs, passages, vectors, sentences, sentence_vectors, dense)
        except RagError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RagError(f"the index in '{index_dir}' is corrupt ({type(e).__name__}: {e}): "
                           f"run `rag index` to rebuild it") from None

    def check_model(self, embedder: Embedder) -> None:
        built = self.manifest["embed_model"]
        if built != embedder.model_id:
            raise RagError(f"the index was built with embedding model '{built}' but '{embedder.model_id}' is "
                           f"configured: run `rag index` to re-embed, or set RAG_EMBED_MODEL back")

    def stale(self, corpus_dir: Path) -> bool:
        """True when the article files on disk differ (by size or mtime) from what was indexed."""
        return Path(corpus_dir).is_dir() and _file_stamps(corpus_dir) != self.manifest.get("files", {})

    def doc_title(self, doc_id: str) -> str:
        doc = self.docs.get(doc_id)
        return doc.title if doc else doc_id


# ---- writing -----------------------------------------------------------------------------
def _build_lock(index_dir: Path) -> FileLock:
    """One build at a time per index folder; a second one fails at once rather than waiting."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(index_dir / ".lock", timeout=0)


def _previous(index_dir: Path, embedder: Embedder) -> Store | None:
    try:
        store = Store.load(index_dir)
    except RagError:
        return None
    m = store.manifest
    if m.get("embed_model") != embedder.model_id or m.get("chunker") != CHUNKER_VERSION:
        return None
    return store


@dataclass
class _DocPlan:
    doc: Document
    passages: list[Passage]
    sentences: list[tuple[str, int, int]]
    vectors: np.ndarray | None = None           # None: to embed
    sentence_vectors: np.ndarray | None = None


def _unique_sentences(passages: list[Passage]) -> list[tuple[str, int, int]]:
    """Each sentence once, in reading order (overlapping passages share sentences)."""
    return sorted({(p.doc, s, e) for p in passages for s, e in p.sentences}, key=lambda x: x[1])


def build(corpus_dir: Path, index_dir: Path, embedder: Embedder, progress: bool = False) -> BuildReport:
    """(Re)build the index of ``corpus_dir`` into ``index_dir``, re-embedding only what changed."""
    t0 = time.perf_counter()
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    docs, warnings = load_corpus(corpus_dir)
    report = BuildReport(warnings=warnings)
    try:
        lock = _build_lock(index_dir).acquire()
    except Timeout:
        raise RagError(f"another `rag index` is writing '{index_dir}': wait for it to finish") from None
    with lock:
        old = _previous(index_dir, embedder)
        plans = [_plan(doc, old, report) for doc in docs]
        if old:
            report.removed = sorted(set(old.docs) - {d.id for d in docs})
        todo = [plan for plan in plans if plan.vectors is None]
        texts = [t for plan in todo for t in [p.text for p in plan.passages]
                 + [plan.doc.text[s:e] for _, s, e in plan.sentences]]
        report.embedded = len(texts)
        vectors = embedder.encode(texts, "passage", progress=progress) if texts else None
        row = 0
        for plan in todo:
            n, m = len(plan.passages), len(plan.sentences)
            plan.vectors, plan.sentence_vectors = vectors[row:row + n], vectors[row + n:row + n + m]
            row += n + m
        report.passages = sum(len(plan.passages) for plan in plans)
        if report.touched or old is None:
            _write(index_dir, corpus_dir, embedder, plans)
        else:
            _write_manifest(old.path, {**old.manifest, "files": _file_stamps(corpus_dir)})
    report.seconds = time.perf_counter() - t0
    return report


def _plan(doc: Document, old: Store | None, report: BuildReport) -> _DocPlan:
    prev = old.docs.get(doc.id) if old else None
    if prev and prev.sha256 == doc.sha256:
        report.unchanged.append(doc.id)
        rows = [i for i, p in enumerate(old.passages) if p.doc == doc.id]
        passages = [old.passages[i] for i in rows]
        sentences = _unique_sentences(passages)
        where = {s: i for i, s in enumerate(old.sentences)}
        return _DocPlan(doc, passages, sentences, old.vectors[rows],
                        old.sentence_vectors[[where[s] for s in sentences]])
    (report.changed if prev else report.added).append(doc.id)
    passages = split_passages(doc.id, doc.text)
    return _DocPlan(doc, passages, _unique_sentences(passages))


def _file_stamps(corpus_dir: Path) -> dict[str, list[int]]:
    from .corpus import SUFFIXES

    stamps = {}
    for p in Path(corpus_dir).rglob("*"):
        if p.suffix.lower() in SUFFIXES and p.is_file():
            st = p.stat()
            stamps[p.relative_to(corpus_dir).as_posix()] = [st.st_size, int(st.st_mtime)]
    return stamps


def _write_manifest(version: Path, manifest: dict) -> None:
    tmp = version / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    os.replace(tmp, version / "manifest.json")


def _write(index_dir: Path, corpus_dir: Path, embedder: Embedder, plans: list[_DocPlan]) -> None:
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        passages = [p for plan in plans for p in plan.passages]
        vectors = np.concatenate([plan.vectors for plan in plans]).astype(np.float32)
        sentence_vectors = np.concatenate([plan.sentence_vectors for plan in plans]).astype(np.float32)
        dense = FaissIndex.build(vectors)
        with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
            for plan in plans:
                f.write(json.dumps({"id": plan.doc.id, "sha256": plan.doc.sha256, "text": plan.doc.text},
                                   ensure_ascii=False) + "\n")
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
            for p in passages:
                f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        with open(tmp / "sentences.jsonl", "w", encoding="utf-8") as f:
            for plan in plans:
                for s in plan.sentences:
                    f.write(json.dumps(list(s), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", vectors)
        np.save(tmp / "sentence_vectors.npy", sentence_vectors)
        dense.save(tmp / "dense.faiss")
        _write_manifest(tmp, {
            "format": FORMAT, "embed_model": embedder.model_id, "dim": int(vectors.shape[1]),
            "chunker": CHUNKER_VERSION, "faiss": dense.kind, "passages": len(passages),
            "sentences": int(len(sentence_vectors)), "corpus": str(Path(corpus_dir).resolve()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "docs": {plan.doc.id: {"sha256": plan.doc.sha256, "passages": len(plan.passages)} for plan in plans},
            "files": _file_stamps(corpus_dir),
        })
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, index_dir / name)
        pointer = index_dir / "CURRENT.tmp"
        pointer.write_text(name)
        os.replace(pointer, index_dir / "CURRENT")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # Older versions and leftovers of killed builds are garbage once CURRENT moved.
    for old in index_dir.iterdir():
        if old.is_dir() and old.name != name and (old.name.startswith("v-") or old.name.startswith(".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
