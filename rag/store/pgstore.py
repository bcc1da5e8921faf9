"""The articles in PostgreSQL: one shared archive for several ``rag index`` processes and
several web instances (``RAG_STORE=postgresql://…``; needs the ``.[server]`` extra and
the ``vector`` extension, pgvector ≥ 0.5).

Tables (created on first use)::

    rag_manifest  key → value: the embedding model, its dimension, the chunker version,
                  the IVFFlat index's lists
    rag_sources   name → folder: every folder indexed into the archive, by the name its
                  articles are keyed under (``RAG_SOURCE``, else the folder's absolute path)
    articles      id (``<source name>/<path in the folder>``), origin (the source name), sha256,
                  text, meta (jsonb: title, date, source, url, language, duplicate group… —
                  room for more without a migration)
    passages      id, article, passage_id (unique), offsets, text, sentence offsets,
                  embedding (IVFFlat index above 200k passages), lexemes (French + English full text, GIN index)
    sentences     id, article, offsets (unique per article), embedding

Retrieval is the same as the folder store's: dense (inner product on normalised vectors:
an exact scan, pgvector's IVFFlat index on a large archive) and lexical (PostgreSQL full text with the ``french`` and ``english``
configurations, in place of BM25) lists fused by reciprocal rank in ``rag.retrieval.search``.

Writing is incremental by content hash, and safe with concurrent writers: each article
is claimed with an advisory lock before it is embedded (so parallel ``rag index``
processes share the work), then replaced in one transaction; unique keys make a
duplicate row impossible even if a claim were skipped.

Reading serves the attributes the pipeline reads (``passages[row]``, ``sentences[row]``,
``docs[id]``…) from caches that each search fills for the rows it returns, in a few
queries: nothing is loaded up front, whatever the size of the archive.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from rag.ingest.chunking import CHUNKER_VERSION, Passage, split_passages
from rag.ingest.corpus import read_corpus
from rag.ingest.duplicates import find_copies
from rag.ingest.document import Document
from rag.models.embedding import Embedder
from rag.errors import RagError
from rag.store.vector_index import IVF_NPROBE
from rag.settings import DEFAULT_CORPUS
from rag.store.storage import redacted
from rag.store.contract import BuildReport, admitted_among, also, article_row, copies_of, describe_doc, newest_first

SCHEMA_LOCK = 7_415_201          # advisory lock key: one schema creation at a time
ANN_LOCK = 7_415_202             # advisory lock key: one IVFFlat (re)build at a time
# Below this many passages the dense half is an exact scan (measured 38 ms at 100k, recall 1.0); above, an
# IVFFlat index (ivf_lists, probed IVF_NPROBE times): rag bench --retrieval measured recall@10 1.0 on clustered
# vectors at 100k (11 ms) and 1M (14 ms), where pgvector's HNSW (m=32, ef_construction=128) gave 0.85 at
# 100k at ef_search 400 and 0.94 at 1000, its maximum, in 14 ms.
EXACT_BELOW = 200_000
BATCH = 16                       # articles claimed and embedded together
# pgvector's k-means keeps a (samples = 50·lists) × lists matrix of bounds in maintenance_work_mem: 4000 lists
# (FAISS's 4·√n at 1M) asked for 3.4 GB, measured. 1500 lists need ~0.6 GB, inside IVF_BUILD_MEMORY.
MAX_IVF_LISTS = 1500
IVF_BUILD_MEMORY = "1GB"


def _schema(dim: int) -> str:
    return f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS rag_manifest (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS rag_sources (
    name text PRIMARY KEY,
    folder text NOT NULL,
    indexed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS articles (
    id text PRIMARY KEY,
    sha256 text NOT NULL,
    text text NOT NULL,
    meta jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    indexed_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE articles ADD COLUMN IF NOT EXISTS origin text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS articles_origin ON articles (origin);
CREATE TABLE IF NOT EXISTS passages (
    id bigserial PRIMARY KEY,
    article text NOT NULL REFERENCES articles ON DELETE CASCADE,
    passage_id text NOT NULL UNIQUE,
    start_char int NOT NULL,
    end_char int NOT NULL,
    text text NOT NULL,
    sentences int[] NOT NULL,
    embedding vector({dim}) NOT NULL,
    lexemes tsvector GENERATED ALWAYS AS (to_tsvector('french', text) || to_tsvector('english', text)) STORED);
CREATE TABLE IF NOT EXISTS sentences (
    id bigserial PRIMARY KEY,
    article text NOT NULL REFERENCES articles ON DELETE CASCADE,
    start_char int NOT NULL,
    end_char int NOT NULL,
    embedding vector({dim}) NOT NULL,
    UNIQUE (article, start_char, end_char));
CREATE TABLE IF NOT EXISTS rag_removed (id text PRIMARY KEY);
CREATE INDEX IF NOT EXISTS passages_article ON passages (article);
CREATE INDEX IF NOT EXISTS passages_lexemes ON passages USING gin (lexemes);
"""


def connect(url: str):
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError:
        raise RagError("RAG_STORE=postgresql://… needs the optional part: pip install -e '.[server]'") from None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as e:
        raise RagError(f"cannot connect to PostgreSQL at {redacted(url)} ({str(e).strip().splitlines()[-1][:150]}): "
                       f"start it or fix RAG_STORE") from None
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        pass    # no vector extension yet: the schema creates it, then registers again
    return conn


def _manifest(conn) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM rag_manifest").fetchall())


def _empty(url: str) -> RagError:
    return RagError(f"no articles in {redacted(url)}: run `rag index --corpus DIR` with RAG_STORE set")


def _model_mismatch(built: str, configured: str, url: str) -> RagError:
    return RagError(f"the index in {redacted(url)} was built with embedding model '{built}' but '{configured}' is "
                    f"configured: index into another database, or set RAG_EMBED_MODEL back")


def ensure_schema(conn, url: str, embedder: Embedder) -> None:
    """Create the tables once (concurrent callers wait for the first) and check the model."""
    from pgvector.psycopg import register_vector

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        conn.execute(_schema(embedder.dim))
        conn.execute("INSERT INTO rag_manifest VALUES ('embed_model', %s), ('dim', %s), ('chunker', %s) "
                     "ON CONFLICT (key) DO NOTHING", [embedder.model_id, str(embedder.dim), str(CHUNKER_VERSION)])
    register_vector(conn)
    built = _manifest(conn)
    if built["embed_model"] != embedder.model_id:
        raise _model_mismatch(built["embed_model"], embedder.model_id, url)
    if built["chunker"] != str(CHUNKER_VERSION):
        raise RagError(f"the index in {redacted(url)} was built with chunker {built['chunker']}, this version "
                       f"splits passages differently (chunker {CHUNKER_VERSION}): index into a new database")


def sources(url: str) -> dict[str, str]:
    """Source name → folder, for every folder indexed into the archive at ``url``."""
    conn = connect(url)
    try:
        return dict(conn.execute("SELECT name, folder FROM rag_sources ORDER BY name").fetchall())
    except Exception:  # noqa: BLE001 - psycopg's UndefinedTable: nothing indexed yet
        return {}
    finally:
        conn.close()


def corpus_of(given: Path | None, url: str, rebuild: bool = False) -> Path | None:
    """The folder a command works on. Questions and the web chat never index a shared archive
    (``rag index`` does): None unless ``--corpus`` names one, for uploads. ``rag index`` with no
    ``--corpus`` re-indexes the archive's one folder (``seeds/`` into an empty archive)."""
    if given is not None or not rebuild:
        return given
    known = sources(url)
    if len(known) > 1:
        raise RagError(f"{redacted(url)} holds articles of {len(known)} folders ({', '.join(sorted(known.values()))}): "
                       f"say which one to index with --corpus DIR")
    return Path(next(iter(known.values()))) if known else DEFAULT_CORPUS


def open_index(corpus_dir: Path | None, url: str, embedder: Embedder) -> "PgStore":
    """The archive at ``url``, which ``rag index`` fills (never a question: the folder of a shared
    archive is not this machine's to choose)."""
    store = load(url)
    store.check_model(embedder)
    return store


def load(url: str) -> "PgStore":
    store = PgStore(url)
    if store.empty():
        raise _empty(url)
    return store


# ---- writing ---------------------------------------------------------------------------------
def build(corpus_dir: Path, url: str, embedder: Embedder, progress: bool = False, source: str = "") -> BuildReport:
    """Mirror the articles of ``corpus_dir`` into the database under the name ``source`` (default:
    the folder's absolute path), embedding only new or changed ones; the articles of other folders
    are left as they are."""
    import dataclasses
    import time

    t0 = time.perf_counter()
    folder = Path(corpus_dir).resolve()
    origin = source or str(folder)
    corpus = read_corpus(Path(corpus_dir))
    conn = connect(url)
    try:
        ensure_schema(conn, url, embedder)
        conn.execute("INSERT INTO rag_sources (name, folder) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                     "SET folder = excluded.folder, indexed_at = now()", [origin, str(folder)])
        removed = {r[0] for r in conn.execute("SELECT id FROM rag_removed").fetchall()}
        docs = [d for d in (dataclasses.replace(d, id=f"{origin}/{d.id}") for d in corpus.docs) if d.id not in removed]
        report = BuildReport(warnings=corpus.warnings, formats=dict(sorted(Counter(d.format for d in docs).items())),
                             duplicates=find_copies(docs))
        known = dict(conn.execute("SELECT id, sha256 FROM articles WHERE origin = %s", [origin]).fetchall())
        report.removed = sorted(set(known) - {d.id for d in docs})
        if report.removed:
            conn.execute("DELETE FROM articles WHERE id = ANY(%s)", [report.removed])
        todo = []
        for doc in docs:
            (report.unchanged.append(doc.id) if known.get(doc.id) == doc.sha256 else todo.append(doc))
        waiting = []
        for i in range(0, len(todo), BATCH):
            batch = todo[i:i + BATCH]
            claimed = [d for d in batch if _claim(conn, d.id, wait=False)]
            waiting += [d for d in batch if d not in claimed]
            _index(conn, claimed, origin, embedder, known, report, progress)
        for doc in waiting:      # another process is indexing it: wait, then check what it wrote
            _claim(conn, doc.id, wait=True)
            _index(conn, [doc], origin, embedder, known, report, progress)
        _mark_copies(conn, origin, report.duplicates)
        report.passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        ensure_ivf(conn, report.passages)
    finally:
        conn.close()
    report.seconds = time.perf_counter() - t0
    return report


def _mark_copies(conn, origin: str, duplicates: dict[str, str]) -> None:
    """The folder's wire copies, as found in this build: ``meta.copy_of`` names the article standing for each."""
    from psycopg.types.json import Jsonb

    with conn.transaction():
        conn.execute("UPDATE articles SET meta = meta - 'copy_of' WHERE origin = %s AND meta ? 'copy_of'", [origin])
        conn.cursor().executemany("UPDATE articles SET meta = meta || %s WHERE id = %s",
                                  [(Jsonb({"copy_of": original}), copy) for copy, original in duplicates.items()])


def ivf_lists(n: int) -> int:
    """IVFFlat lists for ``n`` vectors, as pgvector advises (n/1000 up to 1M rows, √n above), at most
    ``MAX_IVF_LISTS``.

    >>> ivf_lists(10_000), ivf_lists(200_000), ivf_lists(1_000_000), ivf_lists(2_000_000), ivf_lists(10**8)
    (10, 200, 1000, 1414, 1500)
    """
    return max(1, min(n // 1000 if n <= 1_000_000 else int(n ** 0.5), MAX_IVF_LISTS))


def ensure_ivf(conn, passages: int) -> bool:
    """From ``EXACT_BELOW`` passages on, an IVFFlat index on their vectors; built again once the lists
    it would have are twice those it was built with. True if it was (re)built.

    Built under another name, concurrently, then swapped in: web instances keep searching meanwhile.
    """
    if passages < EXACT_BELOW:
        return False
    lists = ivf_lists(passages)
    conn.execute("SELECT pg_advisory_lock(%s)", [ANN_LOCK])
    try:
        built = _manifest(conn).get("ivf_lists")
        if built and 2 * int(built) > lists:
            return False
        conn.execute(f"SET maintenance_work_mem = '{IVF_BUILD_MEMORY}'")
        conn.execute("DROP INDEX IF EXISTS passages_embedding_next")
        conn.execute(f"CREATE INDEX CONCURRENTLY passages_embedding_next ON passages "
                     f"USING ivfflat (embedding vector_ip_ops) WITH (lists = {lists})")
        with conn.transaction():
            conn.execute("DROP INDEX IF EXISTS passages_embedding")
            conn.execute("ALTER INDEX passages_embedding_next RENAME TO passages_embedding")
            conn.execute("INSERT INTO rag_manifest VALUES ('ivf_lists', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [str(lists)])
        return True
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [ANN_LOCK])


def _claim(conn, doc_id: str, wait: bool) -> bool:
    """Hold the article's advisory lock (released by ``_index``); False if another holds it."""
    if wait:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [doc_id])
        return True
    return conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [doc_id]).fetchone()[0]


def _index(conn, docs: list[Document], origin: str, embedder: Embedder, known: dict, report: BuildReport,
           progress: bool) -> None:
    """Embed and write the claimed ``docs`` (one transaction each), then release their locks."""
    try:
        current = dict(conn.execute("SELECT id, sha256 FROM articles WHERE id = ANY(%s)",
                                    [[d.id for d in docs]]).fetchall())
        fresh = [d for d in docs if current.get(d.id) != d.sha256]
        report.unchanged += [d.id for d in docs if current.get(d.id) == d.sha256]   # done by another process
        plans = [(d, split_passages(d.id, d.text)) for d in fresh]
        sentences = [sorted({s for p in passages for s in p.sentences}) for _, passages in plans]
        texts = [t for (d, passages), spans in zip(plans, sentences)
                 for t in [p.text for p in passages] + [d.text[s:e] for s, e in spans]]
        vectors = embedder.encode(texts, "passage", progress=progress) if texts else None
        report.embedded += len(texts)
        row = 0
        for (doc, passages), spans in zip(plans, sentences):
            n, m = len(passages), len(spans)
            _write(conn, doc, origin, passages, vectors[row:row + n], spans, vectors[row + n:row + n + m])
            row += n + m
            (report.changed if doc.id in known else report.added).append(doc.id)
    finally:
        for d in docs:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [d.id])


def _write(conn, doc: Document, origin: str, passages: list[Passage], vectors: np.ndarray,
           spans: list[tuple[int, int]], sentence_vectors: np.ndarray) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM articles WHERE id = %s", [doc.id])
        from psycopg.types.json import Jsonb

        meta = {k: v for k, v in doc.to_dict().items() if k not in ("id", "sha256", "text")}
        cur.execute("INSERT INTO articles (id, origin, sha256, text, meta) VALUES (%s, %s, %s, %s, %s)",
                    [doc.id, origin, doc.sha256, doc.text, Jsonb(meta)])
        cur.executemany(
            "INSERT INTO passages (article, passage_id, start_char, end_char, text, sentences, embedding) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(p.doc, p.passage_id, p.start, p.end, p.text, [x for s in p.sentences for x in s], v)
             for p, v in zip(passages, np.asarray(vectors, dtype=np.float32))])
        cur.executemany("INSERT INTO sentences (article, start_char, end_char, embedding) VALUES (%s, %s, %s, %s)",
                        [(doc.id, s, e, v) for (s, e), v in zip(spans, np.asarray(sentence_vectors, np.float32))])


# ---- reading ---------------------------------------------------------------------------------
def _array(vector) -> np.ndarray:
    """pgvector's ``Vector`` (text protocol) or array as float32."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


class _Cache:
    """Rows by key, filled by ``load(keys)`` on a miss; the least recently used are dropped."""

    def __init__(self, load: Callable[[list], None], size: int = 20_000):
        self._rows: OrderedDict = OrderedDict()
        self._load = load
        self._size = size
        self._lock = threading.Lock()

    def put(self, key, value) -> None:
        with self._lock:
            self._rows[key] = value
            self._rows.move_to_end(key)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key):
        if isinstance(key, (list, np.ndarray)):             # store.vectors[rows]
            return np.stack([self[k] for k in key])
        with self._lock:
            if key in self._rows:
                return self._rows[key]
        self._load([key])
        with self._lock:
            return self._rows[key]


class PgStore:
    """A read view of the archive (rows are database ids); implements ``rag.store.contract.Store``."""

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()
        conn = self._conn()
        try:
            self._built = _manifest(conn)
        except Exception:  # noqa: BLE001 - psycopg's UndefinedTable: nothing indexed yet
            raise _empty(url) from None
        self.path = redacted(url)
        self.docs = _Cache(self._load_docs, size=2_000)
        self.passages = _Cache(self.prefetch)
        self.vectors = _Cache(self.prefetch)
        self.passage_sentences = _Cache(self.prefetch)
        self.sentences = _Cache(self._missing)
        self.sentence_vectors = _Cache(self._missing)
        self.exact = self.query("SELECT count(*) FROM passages")[0][0] < EXACT_BELOW
        self.duplicates: dict[str, str] = dict(self.query(
            "SELECT id, meta->>'copy_of' FROM articles WHERE meta ? 'copy_of'"))
        self.copies = copies_of(self.duplicates)

    def _conn(self):
        """One connection per thread (the web chat answers users in threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = connect(self.url)
            conn.execute(f"SET ivfflat.probes = {IVF_NPROBE}")
        return conn

    def query(self, sql: str, params: Iterable = (), fetch: bool = True) -> list[tuple]:
        cur = self._conn().execute(sql, list(params))
        return cur.fetchall() if fetch else []

    @property
    def manifest(self) -> dict:
        docs = {i: {"sha256": sha, "passages": n} for i, sha, n in self.query(
            "SELECT a.id, a.sha256, count(p.id) FROM articles a LEFT JOIN passages p ON p.article = a.id GROUP BY a.id")}
        return {**self._built, "docs": docs}

    def check_model(self, embedder: Embedder) -> None:
        if self._built["embed_model"] != embedder.model_id:
            raise _model_mismatch(self._built["embed_model"], embedder.model_id, self.url)

    def empty(self) -> bool:
        return not self.query("SELECT 1 FROM articles LIMIT 1")

    def describe(self, doc_id: str, offset: int | None = None) -> dict:
        return describe_doc(self.docs.get(doc_id), offset, also(doc_id, self.copies, self.docs), doc_id)

    def articles(self) -> list[dict]:
        rows = self.query("SELECT a.id, a.sha256, a.meta, count(p.id) FROM articles a "
                          "LEFT JOIN passages p ON p.article = a.id GROUP BY a.id")
        docs = {i: Document.from_dict({**(meta or {}), "id": i, "text": "", "sha256": sha}) for i, sha, meta, _ in rows}
        return newest_first([article_row(docs[i], n, also(i, self.copies, docs))
                             for i, _, _, n in rows if i not in self.duplicates])

    # ---- searching (wire copies are never searched: their original stands for them) -----------------
    def admitted(self, scope) -> frozenset[str] | None:
        if scope is None or scope.empty:
            return None
        return admitted_among(lambda: dict(self.query("SELECT id, coalesce(meta->>'date', '') FROM articles")),
                              self.duplicates, scope) or frozenset()

    def _among(self, admitted: frozenset[str] | None, column: str) -> tuple[str, list]:
        """A WHERE clause keeping ``column``'s articles to the admitted ones, without wire copies."""
        if admitted is not None:
            return f"WHERE {column} = ANY(%s)", [sorted(admitted)]
        if self.duplicates:
            return f"WHERE NOT ({column} = ANY(%s))", [sorted(self.duplicates)]
        return "", []

    def search_dense(self, query_vectors: np.ndarray, k: int, admitted: frozenset[str] | None) -> list[list[int]]:
        where, params = self._among(admitted, "article")
        # "+ 0" orders by an expression no index can serve: an exact (parallel) sequential scan, for a
        # small archive and among chosen articles (an index scan filtered afterwards could return too few).
        order = "(embedding <#> %s) + 0" if self.exact or admitted is not None else "embedding <#> %s"
        rankings = []
        for q in np.asarray(query_vectors, dtype=np.float32):
            rows = self.query(f"SELECT id FROM passages {where} ORDER BY {order} LIMIT %s", [*params, q, k])
            rankings.append([r[0] for r in rows])
        self.prefetch([r for ranking in rankings for r in ranking])
        return rankings

    def search_lexical(self, query: str, k: int, admitted: frozenset[str] | None) -> list[int]:
        """PostgreSQL full text: the question's French and English lexemes OR-ed."""
        where, params = self._among(admitted, "p.article")
        rows = self.query(
            "WITH q AS (SELECT (SELECT string_agg(quote_literal(l), ' | ') FROM unnest(tsvector_to_array("
            "to_tsvector('french', %s) || to_tsvector('english', %s))) l)::tsquery AS q) "
            f"SELECT p.id, ts_rank_cd(p.lexemes, q.q) AS r FROM passages p, q {where or 'WHERE TRUE'} "
            "AND p.lexemes @@ q.q ORDER BY r DESC, p.id LIMIT %s", [query, query, *params, k])
        self.prefetch([r[0] for r in rows])
        return [r[0] for r in rows]

    def remove(self, ids: list[str]) -> None:
        """Kept out of every later build of their folder, and out of the archive now."""
        conn = self._conn()
        with conn.transaction():
            conn.cursor().executemany("INSERT INTO rag_removed VALUES (%s) ON CONFLICT DO NOTHING", [(i,) for i in ids])
            conn.execute("DELETE FROM articles WHERE id = ANY(%s)", [list(ids)])

    # ---- the caches' loaders ---------------------------------------------------------------------
    def _load_docs(self, ids: list[str]) -> None:
        for doc_id, text, sha, meta in self.query("SELECT id, text, sha256, meta FROM articles WHERE id = ANY(%s)",
                                                  [ids]):
            self.docs.put(doc_id, Document.from_dict({**(meta or {}), "id": doc_id, "text": text, "sha256": sha}))

    def _missing(self, keys: list) -> None:
        raise KeyError(keys[0])      # sentences are loaded with the passages holding them

    def prefetch(self, ids: list[int]) -> None:
        """Load passages ``ids`` with their vectors, sentences and articles, in three queries."""
        ids = [int(i) for i in ids if int(i) not in self.passages._rows]
        if not ids:
            return
        rows = self.query("SELECT id, article, passage_id, start_char, end_char, text, sentences, embedding "
                          "FROM passages WHERE id = ANY(%s)", [ids])
        if not rows:
            raise KeyError(ids[0])
        self._load_docs(sorted({r[1] for r in rows} - set(self.docs._rows)))
        spans = {}
        for sid, article, s, e, vector in self.query(
                "SELECT s.id, s.article, s.start_char, s.end_char, s.embedding FROM sentences s "
                "JOIN passages p ON p.article = s.article AND s.start_char >= p.start_char AND s.end_char <= p.end_char "
                "WHERE p.id = ANY(%s)", [ids]):
            spans[(article, s, e)] = sid
            self.sentences.put(sid, (article, s, e))
            self.sentence_vectors.put(sid, _array(vector))
        for row, article, passage_id, start, end, text, flat, vector in rows:
            pairs = tuple(zip(flat[::2], flat[1::2]))
            self.passages.put(row, Passage(article, passage_id, start, end, text, pairs))
            self.vectors.put(row, _array(vector))
            self.passage_sentences.put(row, [spans[(article, s, e)] for s, e in pairs])
