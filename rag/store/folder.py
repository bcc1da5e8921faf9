"""The index folder on disk: articles, passages, their vectors and a manifest.

Layout (``.rag/`` by default)::

    CURRENT            name of the live version, replaced atomically
    removed.json       articles the user removed (kept out of later builds)
    feedback.jsonl     readers' 👍/👎 from the web chat (rag/evaluation/feedback.py)
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from rag.ingest.chunking import CHUNKER_VERSION, Passage, split_passages
from rag.ingest.corpus import corpus_files, read_corpus
from rag.ingest.document import Document
from rag.models.embedding import Embedder
from rag.errors import RagError
from rag.store.contract import BuildReport, admitted_among, also, article_row, copies_of, describe_doc, newest_first
from rag.store import vector_index
from rag.settings import DEFAULT_CORPUS
from rag.store.vector_index import VectorIndex

FORMAT = 1
REMOVED = "removed.json"      # ids of the articles the user removed


@dataclass
class Store:
    path: Path
    manifest: dict
    docs: dict[str, Document]
    passages: list[Passage]
    vectors: np.ndarray                       # one row per passage
    sentences: list[tuple[str, int, int]]     # (doc, start, end), unique
    sentence_vectors: np.ndarray
    dense: VectorIndex

    def __post_init__(self):
        where = {s: i for i, s in enumerate(self.sentences)}
        self.passage_sentences = [[where[(p.doc, s, e)] for s, e in p.sentences] for p in self.passages]
        self._lexical = None
        self.duplicates: dict[str, str] = dict(self.manifest.get("duplicates", {}))
        self.copies = copies_of(self.duplicates)
        self._last_mask: tuple[frozenset[str], np.ndarray] | None = None

    @property
    def lexical(self):
        """BM25 over the passages, built on first use (milliseconds per thousand passages)."""
        if self._lexical is None:
            from rag.store.lexical import Bm25Index

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
                docs[d["id"]] = Document.from_dict(d)
            passages = [Passage.from_dict(json.loads(line))
                        for line in (version / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
            sentences = [tuple(json.loads(line))
                         for line in (version / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]
            vectors = np.load(version / "vectors.npy")
            sentence_vectors = np.load(version / "sentence_vectors.npy")
            if len(vectors) != len(passages) or len(sentence_vectors) != len(sentences):
                raise ValueError("row counts do not match")
            dense = vector_index.load(version / "dense.faiss")
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
        return (Path(corpus_dir).is_dir()
                and _file_stamps(corpus_dir, self.path.parent) != self.manifest.get("files", {}))

    def describe(self, doc_id: str, offset: int | None = None) -> dict:
        return describe_doc(self.docs.get(doc_id), offset, also(doc_id, self.copies, self.docs), doc_id)

    def articles(self) -> list[dict]:
        counts: dict[str, int] = {}
        for p in self.passages:
            counts[p.doc] = counts.get(p.doc, 0) + 1
        return newest_first([article_row(d, counts.get(d.id, 0), also(d.id, self.copies, self.docs))
                             for d in self.docs.values() if d.id not in self.duplicates])

    # ---- searching -------------------------------------------------------------------------
    def admitted(self, scope) -> frozenset[str] | None:
        return admitted_among(lambda: {i: d.date for i, d in self.docs.items()}, self.duplicates, scope)

    def _mask(self, admitted: frozenset[str]) -> np.ndarray:
        """The passages of the admitted articles; kept for the next search, which asks with the same
        articles (a question's dense and lexical searches, per query)."""
        last = self._last_mask     # one read: the web chat searches from several threads
        if last is None or last[0] != admitted:
            last = (admitted, np.fromiter((p.doc in admitted for p in self.passages), dtype=bool,
                                          count=len(self.passages)))
            self._last_mask = last
        return last[1]

    def search_dense(self, query_vectors: np.ndarray, k: int, admitted: frozenset[str] | None) -> list[list[int]]:
        admitted = self.admitted(None) if admitted is None else admitted     # never a wire copy
        if admitted is None:
            _, ids = self.dense.search(query_vectors, k)
            return [[int(i) for i in row if i >= 0] for row in ids]
        allowed = self._mask(admitted)
        share = allowed.mean()
        if share > 0.5:
            # Most passages allowed (only copies left out): ask the index for more and drop the rest.
            _, ids = self.dense.search(query_vectors, int(k / share * 1.5) + 1)
            rankings = [[int(i) for i in row if i >= 0 and allowed[i]][:k] for row in ids]
            if all(len(r) >= min(k, int(allowed.sum())) for r in rankings):
                return rankings
        rows = np.flatnonzero(allowed)        # a few articles chosen: exact search among them
        scores = self.vectors[rows] @ query_vectors.T
        return [rows[np.argsort(-scores[:, q], kind="stable")[:k]].tolist() for q in range(scores.shape[1])]

    def search_lexical(self, query: str, k: int, admitted: frozenset[str] | None) -> list[int]:
        admitted = self.admitted(None) if admitted is None else admitted
        _, ids = self.lexical.search(query, k, None if admitted is None else self._mask(admitted))
        return [int(i) for i in ids]

    def remove(self, ids: list[str]) -> None:
        remove_articles(self.path.parent, ids)


def recorded_corpus(index_dir: Path) -> Path | None:
    """The folder the live version of ``index_dir`` was built from (absolute), if it says."""
    try:
        version = Path(index_dir) / (Path(index_dir) / "CURRENT").read_text().strip()
        corpus = json.loads((version / "manifest.json").read_text()).get("corpus")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(corpus) if corpus else None


def corpus_of(given: Path | None, index_dir: Path, rebuild: bool = False) -> Path:
    """The article folder of ``index_dir``: the one it was built from, unless ``given`` and
    ``rebuild``; ``DEFAULT_CORPUS`` for a new index. ``given`` must be that folder otherwise.

    >>> corpus_of(None, Path("/nonexistent/index"))
    PosixPath('seeds')
    """
    recorded = recorded_corpus(index_dir)
    if recorded is None or (given is not None and rebuild):
        return given if given is not None else DEFAULT_CORPUS
    if given is None:
        if not recorded.is_dir():
            raise RagError(f"the index '{index_dir}' was built from '{recorded}', which no longer exists: pass "
                           f"--corpus DIR where those articles are now, with `rag index --corpus DIR --index "
                           f"{index_dir}` (only changed articles are embedded again)")
        return recorded
    if Path(given).resolve() != recorded:
        raise RagError(f"the index '{index_dir}' holds the articles of '{recorded}', not of '{given}': pass "
                       f"--index DIR of that folder's own index, or rebuild this one from it on purpose with "
                       f"`rag index --corpus {given} --index {index_dir}`")
    return given


def load(index_dir: Path) -> Store:
    return Store.load(index_dir)


def open_index(corpus_dir: Path, index_dir: Path, embedder: Embedder) -> Store:
    """The index, built first if missing and refreshed if the articles changed."""
    index_dir = Path(index_dir)
    if not (index_dir / "CURRENT").exists() and Path(corpus_dir).is_dir():
        build(corpus_dir, index_dir, embedder)
    store = Store.load(index_dir)
    if store.stale(corpus_dir):
        report = build(corpus_dir, index_dir, embedder)
        if report.touched:
            store = Store.load(index_dir)
    store.check_model(embedder)
    return store


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


def build(corpus_dir: Path, index_dir: Path, embedder: Embedder, progress: bool = False,
          source: str = "") -> BuildReport:
    """(Re)build the index of ``corpus_dir`` into ``index_dir``, re-embedding only what changed.
    An index folder holds one article folder: ``source`` (its name in a shared archive) is only
    recorded in the manifest."""
    from rag.ingest.duplicates import find_copies

    t0 = time.perf_counter()
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    corpus = read_corpus(corpus_dir, exclude=removed_articles(index_dir), index_dir=index_dir)
    docs = corpus.docs
    report = BuildReport(warnings=corpus.warnings, formats=dict(sorted(corpus.formats.items())),
                         duplicates=find_copies(docs))
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
        if report.touched or old is None or old.manifest.get("duplicates", {}) != report.duplicates:
            _write(index_dir, corpus_dir, embedder, plans, report.duplicates, source)
        else:
            _write_manifest(old.path, {**old.manifest, "files": _file_stamps(corpus_dir, index_dir),
                                       "corpus": str(corpus_dir.resolve()), "source": source,
                                       "docs": _doc_entries(plans)})
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


def _file_stamps(corpus_dir: Path, index_dir: Path) -> dict[str, list[int]]:
    stamps = {}
    for p in corpus_files(corpus_dir, index_dir):
        st = p.stat()
        stamps[p.relative_to(corpus_dir).as_posix()] = [st.st_size, int(st.st_mtime)]
    return stamps


def _doc_entries(plans: list[_DocPlan]) -> dict:
    return {plan.doc.id: {"sha256": plan.doc.sha256, "passages": len(plan.passages), "title": plan.doc.title,
                          "date": plan.doc.date, "source": plan.doc.source, "format": plan.doc.format}
            for plan in plans}


# ---- articles the user removed (kept out of later builds; the files stay on disk) ---------------
def removed_articles(index_dir: Path) -> set[str]:
    try:
        return set(json.loads((Path(index_dir) / REMOVED).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def remove_articles(index_dir: Path, ids: list[str]) -> None:
    """Keep ``ids`` out of the index from the next build on (``rag index`` or the web chat's Remove)."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / (REMOVED + ".tmp")
    tmp.write_text(json.dumps(sorted(removed_articles(index_dir) | set(ids)), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, index_dir / REMOVED)


def _write_manifest(version: Path, manifest: dict) -> None:
    tmp = version / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    os.replace(tmp, version / "manifest.json")


def _write(index_dir: Path, corpus_dir: Path, embedder: Embedder, plans: list[_DocPlan],
           duplicates: dict[str, str], source: str) -> None:
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        passages = [p for plan in plans for p in plan.passages]
        vectors = np.concatenate([plan.vectors for plan in plans]).astype(np.float32)
        sentence_vectors = np.concatenate([plan.sentence_vectors for plan in plans]).astype(np.float32)
        dense = vector_index.build(vectors)
        with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
            for plan in plans:
                f.write(json.dumps(plan.doc.to_dict(), ensure_ascii=False) + "\n")
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
            "sentences": int(len(sentence_vectors)), "corpus": str(Path(corpus_dir).resolve()), "source": source,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "docs": _doc_entries(plans), "duplicates": duplicates,
            "files": _file_stamps(corpus_dir, index_dir),
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
