"""``rag bench``: latency and throughput on this machine, as medians, in one process.

Measures, for the default configuration and for the reader alone (``RAG_ANSWER=extract``, no LLM) in the
same run: retrieval time, the reader's time, prompt tokens, time to first token, generation tokens/s, total; the engine's
levers before/after (the system message computed or read from disk, llama.cpp's repacked
weight layouts on or off); plus the embedding throughput for indexing, FAISS search latency and recall@10
against exact search on synthetic clustered vectors, the memory-bandwidth bound of
generation, cold start and peak memory. Writes ``bench.json`` and ``bench.md``.
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from rag.pipeline import Done, Token, builder, parts
from rag.settings import Settings

QUESTIONS = [
    "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?",
    "How much were the investment projects signed in Fuzhou worth?",
    "Quelle est la capacité de calcul actuelle de Pékin ?",
    "Who is the director of the Alliance numérique?",
    "Combien de visiteurs ont assisté au Sommet de la Chine numérique ?",
    "How many VR devices should China produce by 2026?",
]


def _median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def memory_bandwidth_gbs(threads: int, size_mb: int = 1024, repeats: int = 5) -> float:
    """Read bandwidth of ``threads`` cores summing slices of a large array (GB/s, best of ``repeats``).

    The same number of threads as llama.cpp decodes with: one core alone cannot
    saturate the memory bus on most machines, so a 1-thread figure would understate the bound.
    """
    from concurrent.futures import ThreadPoolExecutor

    a = np.ones(size_mb * 2**20 // 8, dtype=np.float64)
    parts = np.array_split(a, threads)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:   # numpy releases the GIL inside sum()
        for _ in range(repeats):
            t = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = max(best, a.nbytes / (time.perf_counter() - t) / 1e9)
    return round(best, 2)


def _answer_run(pipe, questions: list[str], repeats: int) -> dict:
    rows = []
    for _ in range(repeats):
        for q in questions:
            t0 = time.perf_counter()
            tokens = 0
            first = last = None
            answer = None
            for event in pipe.ask_stream(q):
                if isinstance(event, Token):
                    tokens += 1
                    last = time.perf_counter()
                    first = first or last
                elif isinstance(event, Done):
                    answer = event.answer
            end = time.perf_counter()
            # Decoding alone: the answer checks that follow the last token are in total_s, not here.
            gen_s = last - first if first else None
            rows.append({"question": q, "retrieve_s": answer.timings["retrieve_s"],
                         "read_s": (answer.reader or {}).get("seconds"),
                         "first_token_s": answer.timings["first_token_s"], "total_s": round(end - t0, 3),
                         "prompt_tokens": answer.prompt_tokens, "tokens": tokens,
                         "tokens_per_s": round((tokens - 1) / gen_s, 2) if gen_s and tokens > 1 else None,
                         "refused": answer.refused, "answer": answer.answer})
    # Refusals decided before the LLM (the gate) compute no prompt: the LLM's figures are over the answers written.
    written = [r for r in rows if r["prompt_tokens"]]
    median = {k: _median([r[k] for r in rows]) for k in ("retrieve_s", "read_s", "total_s")}
    median |= {k: _median([r[k] for r in written]) for k in ("first_token_s", "prompt_tokens", "tokens_per_s")}
    return {"median": median, "written": len(written), "rows": rows}


def _first_question_run(pipe, questions: list[str]) -> dict:
    """First-token latency of the first question after a start (empty KV cache), without and
    with the system message's KV state read from disk (rag.models.prefixstate), interleaved per question."""
    gen = pipe.generator
    state_dir = getattr(gen, "state_dir", None)
    if state_dir is None:
        return {}
    rows = []
    try:
        for q in questions:
            row = {"question": q}
            for name, folder in (("computed", None), ("from_disk", state_dir)):
                gen.state_dir = folder
                gen.forget()                 # as in a new process
                row[name] = pipe.ask(q).timings["first_token_s"]
            rows.append(row)
    finally:
        gen.state_dir = state_dir
    med = {k: _median([r[k] for r in rows]) for k in ("computed", "from_disk")}
    ratios = [r["computed"] / r["from_disk"] for r in rows if r["computed"] and r["from_disk"]]
    return {"median": med, "ratio_median": _median(ratios),
            "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)] if ratios else None, "rows": rows}


def _kernels_run(pipe, questions: list[str]) -> dict:
    """First token and decoding speed with llama.cpp's extra buffer types (repacked weights) off and
    on: a second copy of the model in the same process, the two interleaved per question.

    Empty when the generator is not llama.cpp in-process or the CPU has AMX (never on there).
    """
    from rag.models.llamacpp import LlamaCppGenerator, use_extra_buffers

    gen = pipe.generator
    if not isinstance(gen, LlamaCppGenerator) or not use_extra_buffers(True):
        return {}
    twin = parts.generator(pipe.settings.replace(extra_buffers=not gen.extra_buffers))
    pipes = {gen.extra_buffers: pipe, twin.extra_buffers: builder.build(pipe.settings, embedder=pipe.embedder,
                                                                        generator=twin, store=pipe.store,
                                                                        reader=pipe.reader)}
    pipes[twin.extra_buffers].ask(questions[0])     # load (and repack) outside the measurements
    rows = {False: [], True: []}
    for q in questions:
        for on in (False, True):
            rows[on] += _answer_run(pipes[on], [q], 1)["rows"]
    keys = ("first_token_s", "tokens_per_s", "total_s")
    out = {("on" if on else "off"): {k: _median([r[k] for r in rows[on]]) for k in keys} for on in rows}
    out["ratio_off_over_on"] = {k: round(out["on"][k] / out["off"][k], 2) if k != "tokens_per_s"
                                else round(out["off"][k] / out["on"][k], 2) for k in keys
                                if out["on"][k] and out["off"][k]}
    out["questions"] = len(questions)
    del pipes[twin.extra_buffers], twin
    return out


def _clustered(rng, n: int, dim: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors around n/1000 centres (like topics), and queries near some of them."""
    centers = rng.standard_normal((max(16, n // 1000), dim)).astype(np.float32)
    x = centers[rng.integers(0, len(centers), n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.integers(0, n, queries)] + 0.1 * rng.standard_normal((queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def _timed_recall(search, q: np.ndarray, truth: np.ndarray) -> dict:
    """Median latency of one query at a time, and recall@10 against ``truth``."""
    times, recall = [], []
    for i in range(len(q)):
        t = time.perf_counter()
        ids = search(q[i])
        times.append(time.perf_counter() - t)
        recall.append(len(set(ids) & set(truth[i])) / 10)
    return {"search_ms_median": round(statistics.median(times) * 1000, 3), "recall@10": round(float(np.mean(recall)), 3)}


def retrieval_scaling(sizes: list[int], dim: int = 384, queries: int = 200, seed: int = 0, pg_url: str = "",
                  kinds: tuple[str, ...] = ("hnsw", "ivf")) -> list[dict]:
    """Search latency (1 query at a time, 1 thread) and recall@10 vs exact, on clustered vectors:
    exact search and the approximate ``kinds`` (hnsw, ivf) in FAISS, and in pgvector when ``pg_url`` is given."""
    from rag.store.vector_index import FaissIndex

    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        x, q = _clustered(rng, n, dim, queries)
        exact = FaissIndex.build(x, kind="flat")
        _, truth = exact.search(q, 10)
        for kind in ("flat", *kinds) if n >= 10_000 else ("flat",):
            t = time.perf_counter()
            index = exact if kind == "flat" else FaissIndex.build(x, kind=kind)
            build_s = time.perf_counter() - t
            row = _timed_recall(lambda v: index.search(v[None], 10)[1][0], q, truth)
            out.append({"n": n, "engine": "faiss", "kind": kind, "params": index.params, "build_s": round(build_s, 2),
                        **row})
        if pg_url:
            out += _pgvector_scaling(pg_url, x, q, truth, kinds)
        del x, exact
    return out


# pgvector HNSW, measured beside the store's IVFFlat: m=16/ef_construction=64 reached recall@10 0.84 at 100k
# at ef_search 1000 (pgvector's maximum); m=32/128 0.905-0.965 at 1000 (draws of the vectors), 0.85-0.90 at 400.
PG_HNSW_M, PG_HNSW_EF_CONSTRUCTION, PG_HNSW_EF_SEARCH = 32, 128, (400, 1000)


def _pgvector_scaling(url: str, x: np.ndarray, q: np.ndarray, truth: np.ndarray, kinds: tuple[str, ...]) -> list[dict]:
    """pgvector on the same vectors, in a scratch table dropped afterwards: HNSW and IVFFlat (the store's
    lists and probes) as ``kinds`` asks, and an exact sequential scan."""
    from pgvector.psycopg import register_vector

    from rag.store.vector_index import IVF_NPROBE
    from rag.store.pgstore import IVF_BUILD_MEMORY, connect, ivf_lists

    conn = connect(url)
    out = []

    def knn(v):
        return [r[0] for r in conn.execute("SELECT id FROM rag_bench_vectors ORDER BY embedding <#> %s LIMIT 10",
                                           [v]).fetchall()]

    def timed_build(sql: str) -> float:
        t = time.perf_counter()
        conn.execute(sql)
        return round(time.perf_counter() - t, 2)

    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("DROP TABLE IF EXISTS rag_bench_vectors")
        conn.execute(f"CREATE TABLE rag_bench_vectors (id int PRIMARY KEY, embedding vector({x.shape[1]}))")
        with conn.cursor().copy("COPY rag_bench_vectors (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(x):
                copy.write_row((i, v))
        conn.execute("SET maintenance_work_mem = '2GB'")
        if "hnsw" in kinds:
            build_s = timed_build(f"CREATE INDEX bench_hnsw ON rag_bench_vectors USING hnsw (embedding vector_ip_ops) "
                                  f"WITH (m = {PG_HNSW_M}, ef_construction = {PG_HNSW_EF_CONSTRUCTION})")
            for ef in PG_HNSW_EF_SEARCH:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                out.append({"n": len(x), "engine": "pgvector", "kind": "hnsw",
                            "params": f"m={PG_HNSW_M} ef_construction={PG_HNSW_EF_CONSTRUCTION} ef_search={ef}",
                            "build_s": build_s, **_timed_recall(knn, q, truth)})
            conn.execute("DROP INDEX bench_hnsw")
        if "ivf" in kinds:
            lists = ivf_lists(len(x))
            conn.execute(f"SET maintenance_work_mem = '{IVF_BUILD_MEMORY}'")    # as the store builds it
            build_s = timed_build(f"CREATE INDEX bench_ivf ON rag_bench_vectors USING ivfflat "
                                  f"(embedding vector_ip_ops) WITH (lists = {lists})")
            conn.execute(f"SET ivfflat.probes = {IVF_NPROBE}")
            out.append({"n": len(x), "engine": "pgvector", "kind": "ivf", "params": f"lists={lists} probes={IVF_NPROBE}",
                        "build_s": build_s, **_timed_recall(knn, q, truth)})
            conn.execute("DROP INDEX bench_ivf")
        # No index left: a sequential scan, exact.
        out.append({"n": len(x), "engine": "pgvector", "kind": "flat", "params": "exact (sequential scan)",
                    "build_s": 0.0, **_timed_recall(knn, q, truth)})
    finally:
        conn.execute("DROP TABLE IF EXISTS rag_bench_vectors")
        conn.close()
    return out


def embedding_throughput(pipe, texts: list[str], repeats: int = 3) -> dict:
    emb = pipe.embedder
    emb.encode(texts[:4], "passage")
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        emb.encode(texts, "passage", batch_size=32)
        t.append(time.perf_counter() - t0)
    q = []
    for text in texts[:20]:
        t0 = time.perf_counter()
        emb.encode([text[:80]], "query")
        q.append(time.perf_counter() - t0)
    return {"passages_per_s": round(len(texts) / statistics.median(t), 1),
            "query_ms_median": round(statistics.median(q) * 1000, 2)}


def run(settings: Settings, out: Path, repeats: int = 3, sizes: list[int] | None = None,
        questions: int | None = None) -> str:
    """The whole benchmark on the first ``questions`` of ``QUESTIONS`` (all by default; fewer: a quicker,
    rougher run)."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # The default is the LLM writing the answer, whatever RAG_ANSWER says: extract mode is measured beside it.
    settings = settings.replace(answer="llm")
    pipe = builder.build(settings)
    pipe.warm_up()
    cold_start = round(time.perf_counter() - t0, 2)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "cold_start_s": cold_start, "threads": settings.threads}
    # Warm the prefix cache and the code paths once, outside the measurements.
    asked = QUESTIONS[:questions]
    pipe.ask(asked[0])
    report["default"] = _answer_run(pipe, asked, repeats)
    extract = builder.build(settings.replace(answer="extract"), embedder=pipe.embedder, generator=pipe.generator,
                            store=pipe.store, reader=pipe.reader)
    report["extract"] = _answer_run(extract, asked, repeats)
    d, x = report["default"]["median"], report["extract"]["median"]
    report["ratios_default_over_extract"] = {k: round(d[k] / x[k], 2) for k in d if d[k] and x[k]}
    report["first_question"] = _first_question_run(pipe, asked)
    report["kernels"] = _kernels_run(pipe, asked)
    model_bytes = Path(pipe.generator.path).stat().st_size
    bandwidth = memory_bandwidth_gbs(settings.threads)
    bound = bandwidth * 1e9 / model_bytes
    report["generation"] = {"memory_bandwidth_gbs": bandwidth, "model_gb": round(model_bytes / 1e9, 3),
                            "bound_tokens_per_s": round(bound, 1),
                            "measured_tokens_per_s": d["tokens_per_s"],
                            "share_of_bound": round(d["tokens_per_s"] / bound, 2) if d["tokens_per_s"] else None}
    report["embedding"] = embedding_throughput(pipe, [p.text for p in pipe.store.passages])
    report["faiss"] = retrieval_scaling(sizes or [10_000, 100_000, 1_000_000])
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    (out / "bench.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    md = markdown(report)
    (out / "bench.md").write_text(md, encoding="utf-8")
    return md


def _dash(v) -> str:
    return "—" if v is None else str(v)


def markdown(r: dict) -> str:
    d, x, ratio = r["default"]["median"], r["extract"]["median"], r["ratios_default_over_extract"]
    lines = [f"Benchmark {r['date']} — {r['threads']} LLM threads; medians over {len(r['default']['rows'])} answers "
             f"({r['default'].get('written', '—')} written by the LLM, the rest refused before it: prompt tokens, first "
             "token and generation are over those)",
             "", "| | default (the LLM writes) | extract (the reader alone) | default / extract |", "|---|---|---|---|"]
    for k, label in [("retrieve_s", "evidence shown (s)"), ("read_s", "reader (s)"), ("prompt_tokens", "prompt tokens"),
                     ("first_token_s", "first token (s)"), ("tokens_per_s", "generation (tokens/s)"),
                     ("total_s", "total (s)")]:
        # Extract mode streams no token: no first token, no generation speed.
        lines.append(f"| {label} | {_dash(d.get(k))} | {_dash(x.get(k))} | {ratio.get(k, '—')} |")
    f = r.get("first_question")
    if f:
        m = f["median"]
        lines += ["", "First question after a start (empty KV cache; medians over "
                      f"{len(f['rows'])} questions, interleaved):", "",
                  "| system message | first token (s) |", "|---|---|",
                  f"| computed (before) | {m['computed']} |", f"| read from disk (`RAG_PREFIX_CACHE=1`) | {m['from_disk']} |",
                  f"| before / after | {f['ratio_median']} (range {f['ratio_range'][0]}–{f['ratio_range'][1]}) |"]
    k = r.get("kernels")
    if k:
        x = k["ratio_off_over_on"]
        lines += ["", f"llama.cpp extra buffer types (repacked weights; medians over {k['questions']} questions, "
                      "interleaved):", "",
                  "| | first token (s) | generation (tokens/s) | total (s) |", "|---|---|---|---|",
                  f"| on (before) | {k['on']['first_token_s']} | {k['on']['tokens_per_s']} | {k['on']['total_s']} |",
                  f"| off (`RAG_EXTRA_BUFFERS=0`) | {k['off']['first_token_s']} | {k['off']['tokens_per_s']} | "
                  f"{k['off']['total_s']} |",
                  f"| speed-up, off vs on | {x.get('first_token_s', '—')}× | {x.get('tokens_per_s', '—')}× | "
                  f"{x.get('total_s', '—')}× |"]
    g = r["generation"]
    lines += ["", f"Generation: {g['measured_tokens_per_s']} tokens/s = {g['share_of_bound']} of the memory-bandwidth "
                  f"bound ({g['memory_bandwidth_gbs']} GB/s ÷ {g['model_gb']} GB = {g['bound_tokens_per_s']} tokens/s).",
              f"Embedding: {r['embedding']['passages_per_s']} passages/s indexing; "
              f"{r['embedding']['query_ms_median']} ms per query.",
              f"Cold start (process → ready): {r['cold_start_s']} s; peak memory {r['peak_rss_mb']} MB.",
              ""]
    return "\n".join(lines) + retrieval_markdown(r["faiss"])


def retrieval_markdown(rows: list[dict]) -> str:
    lines = ["| vectors | engine | index | parameters | search ms (1 query) | recall@10 | build s |",
             "|---|---|---|---|---|---|---|"]
    for f in rows:
        lines.append(f"| {f['n']:,} | {f['engine']} | {f['kind']} | {f['params']} | {f['search_ms_median']} | "
                     f"{f['recall@10']} | {f['build_s']} |")
    return "\n".join(lines) + "\n"


# ---- concurrent users: the in-process backend's queue vs an LLM server's parallel slots ----------
def _at_once(user, users: int) -> float:
    """Run ``user(0)`` … ``user(users - 1)`` in threads started together; seconds until the last ends."""
    import threading

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def _users(pipe, users: int, rounds: int) -> dict:
    """``users`` threads each asking ``rounds`` questions at once through ``pipe``."""
    rows, failed = [], []

    def user(u: int) -> None:
        for r in range(rounds):
            question = QUESTIONS[(u * rounds + r) % len(QUESTIONS)]
            t0 = time.perf_counter()
            first, tokens = None, 0
            try:
                for event in pipe.ask_stream(question):
                    if isinstance(event, Token):
                        tokens += 1
                        first = first or time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 - a failed request is a measured outcome
                failed.append(f"{type(e).__name__}: {e}")
                continue
            rows.append({"first_token_s": first, "tokens": tokens})

    wall = _at_once(user, users)
    firsts = sorted(r["first_token_s"] for r in rows if r["first_token_s"] is not None)
    p95 = firsts[min(len(firsts) - 1, math.ceil(0.95 * len(firsts)) - 1)] if firsts else None
    return {"users": users, "requests": users * rounds, "failed": len(failed), "errors": failed[:3],
            "tokens": sum(r["tokens"] for r in rows), "wall_s": round(wall, 2),
            "tokens_per_s": round(sum(r["tokens"] for r in rows) / wall, 2),
            "first_token_p50_s": _median(firsts), "first_token_p95_s": round(p95, 3) if p95 else None}


DECODE_TOKENS = 128
COUNTING = [{"role": "user", "content": "Count from 1 to 400 in words, one number per line, nothing else."}]


def _decoding(generator, users: int, tokens: int) -> dict:
    """``users`` threads each streaming a ``tokens``-token reply to a short prompt at once: the
    decoding phase alone (the prompt is ~30 tokens), where batched decoding can share the memory traffic."""
    counts, failed = [], []

    def user(_: int) -> None:
        try:
            reply = generator.stream(COUNTING, tokens)
            pieces = sum(1 for _ in reply)
            counts.append(reply.usage.completion_tokens or pieces)
        except Exception as e:  # noqa: BLE001 - a failed request is a measured outcome
            failed.append(f"{type(e).__name__}: {e}")

    wall = _at_once(user, users)
    return {"users": users, "tokens": sum(counts), "wall_s": round(wall, 2), "failed": len(failed),
            "errors": sorted(set(failed)), "tokens_per_s": round(sum(counts) / wall, 2)}


def concurrency(settings: Settings, levels: list[int], out: Path, rounds: int = 1, max_tokens: int = 48,
                server: str = "llama.cpp") -> str:
    """Aggregate throughput and first-token latency per number of concurrent users, for the
    in-process backend and for an LLM server (``rag.models.llm_server.SERVERS``): ``rag llm-server`` with
    as many parallel slots as users, or llama-cpp-python's server."""
    from rag.models.llm_server import Child

    out.mkdir(parents=True, exist_ok=True)
    settings = settings.replace(max_tokens=max_tokens)
    local = builder.build(settings.replace(llm_backend="llama-cpp"))
    local.warm_up()
    local.ask(QUESTIONS[0])
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "threads": settings.threads, "max_tokens": max_tokens,
              "server_name": server,
              "rounds": rounds, "decode_tokens": DECODE_TOKENS, "in-process": [], "server": [],
              "decoding": {"in-process": [], "server": []}}
    for users in levels:
        report["in-process"].append(_users(local, users, rounds))
        report["decoding"]["in-process"].append(_decoding(local.generator, users, DECODE_TOKENS))
    for users in levels:
        with Child(parallel=users, server=server, settings=settings) as child:
            remote = builder.build(settings.replace(llm_backend="openai", llm_url=child.url),
                                   embedder=local.embedder, store=local.store)
            # Every slot holds the system message, as on a server that has been answering for a while.
            _users(remote, users, 1)
            report["server"].append(_users(remote, users, rounds))
            report["decoding"]["server"].append(_decoding(remote.generator, users, DECODE_TOKENS))
    (out / "concurrency.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    md = concurrency_markdown(report)
    (out / "concurrency.md").write_text(md, encoding="utf-8")
    return md


def concurrency_markdown(r: dict) -> str:
    def ratio(rows: list[dict], row: dict):
        single = next((x["tokens_per_s"] for x in rows if x["users"] == 1), 0)
        return round(row["tokens_per_s"] / single, 2) if single else "—"

    lines = [f"Concurrency {r['date']} — {r['threads']} LLM threads, max_tokens {r['max_tokens']}, "
             f"{r['rounds']} question(s) per user, server: {r.get('server_name', 'llama.cpp')}", "",
             "| users | backend | generated tokens/s (all users) | × 1 user | first token p50 (s) | p95 (s) | failed |",
             "|---|---|---|---|---|---|---|"]
    for backend in ("in-process", "server"):
        for row in r[backend]:
            lines.append(f"| {row['users']} | {backend} | {row['tokens_per_s']} | {ratio(r[backend], row)} | "
                         f"{row['first_token_p50_s']} | {row['first_token_p95_s']} | {row['failed']} |")
    decoding = r.get("decoding")
    if decoding:
        lines += ["", f"Decoding alone ({r['decode_tokens']}-token replies to a ~30-token prompt, all users at once):",
                  "", "| users | backend | generated tokens/s (all users) | × 1 user | failed |", "|---|---|---|---|---|"]
        for backend in ("in-process", "server"):
            for row in decoding[backend]:
                lines.append(f"| {row['users']} | {backend} | {row['tokens_per_s']} | {ratio(decoding[backend], row)} | "
                             f"{row['failed']} |")
    return "\n".join(lines) + "\n"
