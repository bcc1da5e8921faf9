"""``rag eval``: run a Q/A file through the real pipeline and score it.

Scores, overall and per language and per question type:

- retrieval: hit@1/3/5 and MRR of the gold article among the retrieved passages,
  and of the gold passage (the one containing the evidence string);
- answer accuracy: every ``must_match`` regex matches and the answer is not refused;
- citation precision: cited snippets from a gold article / all citations (dangling ones count as wrong);
- refusals: share of unanswerables refused, and false refusals of answerable questions;
- language match: the answer is in the question's language;
- latency: retrieval, first token, total (median, p90), prompt tokens, and the prompt tokens computed
  before the first token (``timings.prefill_tokens``: what the first token waits for, in tokens rather
  than this machine's seconds).

Answers are cached per (question, history, settings, models) in ``<out>/cache.jsonl``,
so an interrupted run loses nothing and a re-run only asks what is new.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path

from rag.answer import prompts
from rag.errors import RagError
from rag.text.jsonl import records
from rag.text.language import detect
from rag.settings import Settings


def load_qa(path: Path) -> list[dict]:
    items = []
    for n, item in records(Path(path).read_text(encoding="utf-8").splitlines(), str(path), ("question", "lang")):
        item.setdefault("id", f"line-{n}")
        item.setdefault("type", "unanswerable" if item.get("doc") is None and not item.get("must_match") else "fact")
        items.append(item)
    if not items:
        raise RagError(f"{path} has no questions")
    return items


def _key(item: dict, fingerprint: str) -> str:
    raw = json.dumps([item["question"], item.get("history"), fingerprint], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _fingerprint(settings: Settings, pipe) -> str:
    # The risk budget changes answers only through the gate's threshold, keyed below.
    fields = {k: str(v) for k, v in dataclasses.asdict(settings).items()
              if k not in ("cache_dir", "index", "corpus", "prefix_cache", "gate_risk")}
    # A refitted gate decides differently: its weights are part of what an answer depends on.
    # The prompts' wording changes every answer: it is part of the key.
    prompt = hashlib.sha256(prompts.wording().encode()).hexdigest()[:12]
    # Extract mode asks no LLM: its identity (which would load it) is not part of the key.
    writer = pipe.generator.model_id if settings.answer == "llm" else "extract"
    parts = [fields, pipe.embedder.model_id, writer, pipe.store.manifest["docs"], prompt, pipe.reader.model_id]
    if settings.gate:
        parts.append(pipe.gate_model.threshold)
    return json.dumps(parts, sort_keys=True)


def reference_row(sentences: list[tuple[str, str]], item: dict) -> int | None:
    """Which of ``sentences`` ((article, text) pairs) is the item's reference sentence: the one of its
    article holding its ``evidence`` (whitespace normalised), else the one sharing most of its words
    (at least half: an evidence that straddles two sentences); None when none does.

    >>> item = {"doc": "a", "evidence": "91  entreprises ont rejoint"}
    >>> reference_row([("a", "Elle existe."), ("a", "Actuellement, 91 entreprises ont rejoint.")], item)
    1
    >>> reference_row([("b", "Actuellement, 91 entreprises ont rejoint.")], item) is None
    True
    """
    golds = [(item.get("doc"), item.get("evidence"))] + [(m["doc"], m["evidence"]) for m in item.get("more_evidence") or []]
    best, best_share = None, 0.0
    for doc, gold in golds:
        if not gold:
            continue
        gold = " ".join(gold.split())
        words = set(re.findall(r"\w+", gold.lower()))
        for i, (where, text) in enumerate(sentences):
            if where != doc:
                continue
            text = " ".join(text.split())
            share = 1.0 if gold in text else len(words & set(re.findall(r"\w+", text.lower()))) / max(1, len(words))
            if share == 1.0:
                return i
            if share >= 0.5 and share > best_share:
                best, best_share = i, share
    return best


def score_item(item: dict, answer: dict) -> dict:
    """Per-question scores (None where a score does not apply)."""
    answerable = bool(item.get("doc"))
    gold_docs = {item["doc"]} | {m["doc"] for m in item.get("more_evidence") or []} if answerable else set()
    evidence = item.get("evidence")
    docs = [p["doc"] for p in answer["passages"]]
    doc_rank = next((i + 1 for i, d in enumerate(docs) if d in gold_docs), None)
    passage_rank = next((i + 1 for i, p in enumerate(answer["passages"])
                         if evidence and p["doc"] == item.get("doc") and evidence in p["text"]), None)
    text = answer["answer"]
    correct = answerable and not answer["refused"] and all(
        re.search(rx, text, re.IGNORECASE) for rx in item.get("must_match") or [])
    cites = answer["citations"]
    n_cites = len(cites) + len(answer.get("dangling") or [])
    good_cites = sum(c["doc"] in gold_docs for c in cites)
    lang_ok = answer["lang"] == item["lang"] and (answer["refused"] or detect(
        re.sub(r"\[\d+\]", " ", text), default=item["lang"]) == item["lang"])
    return {
        "answerable": answerable,
        "doc_rank": doc_rank if answerable else None,
        "passage_rank": passage_rank if answerable and evidence else None,
        "correct": correct if answerable else None,
        "refused": answer["refused"],
        "citations": n_cites if answerable else None,
        "good_citations": good_cites if answerable else None,
        "dangling": len(answer.get("dangling") or []),
        "lang_ok": lang_ok,
    }


def _pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (linear interpolation between the two nearest values).

    >>> _pct([4.0, 1.0, None, 2.0, 3.0], 0.5), _pct([1.0, 2.0, 3.0, 4.0], 0.9), _pct([7.0], 0.9)
    (2.5, 3.7, 7.0)
    """
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return round(values[0], 3) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1], 3)


def aggregate(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["score"]["answerable"]]
    una = [r for r in rows if not r["score"]["answerable"]]

    def share(items, pred):
        return round(sum(1 for r in items if pred(r)) / len(items), 3) if items else None

    def mrr(key):
        return round(sum(1 / r["score"][key] for r in ans if r["score"][key]) / len(ans), 3) if ans else None

    with_passage = [r for r in ans if r["item"].get("evidence")]
    cites = sum(r["score"]["citations"] for r in ans)
    timings = defaultdict(list)
    for r in rows:
        for k, v in r["answer"]["timings"].items():
            timings[k].append(v)
    return {
        "n": len(rows), "answerable": len(ans), "unanswerable": len(una),
        "doc_hit@1": share(ans, lambda r: (r["score"]["doc_rank"] or 99) <= 1),
        "doc_hit@3": share(ans, lambda r: (r["score"]["doc_rank"] or 99) <= 3),
        "doc_hit@5": share(ans, lambda r: (r["score"]["doc_rank"] or 99) <= 5),
        "doc_mrr": mrr("doc_rank"),
        "passage_hit@1": share(with_passage, lambda r: (r["score"]["passage_rank"] or 99) <= 1),
        "passage_hit@5": share(with_passage, lambda r: (r["score"]["passage_rank"] or 99) <= 5),
        "passage_mrr": round(sum(1 / r["score"]["passage_rank"] for r in with_passage if r["score"]["passage_rank"])
                             / len(with_passage), 3) if with_passage else None,
        "accuracy": share(ans, lambda r: r["score"]["correct"]),
        "citation_precision": round(sum(r["score"]["good_citations"] for r in ans) / cites, 3) if cites else None,
        "dangling": sum(r["score"]["dangling"] for r in rows),
        "refusal_rate_unanswerable": share(una, lambda r: r["score"]["refused"]),
        "false_refusal_rate": share(ans, lambda r: r["score"]["refused"]),
        "language_match": share(rows, lambda r: r["score"]["lang_ok"]),
        **{f"{k}_median": _pct(v, 0.5) for k, v in timings.items()},
        **{f"{k}_p90": _pct(v, 0.9) for k, v in timings.items()},
        "prompt_tokens_median": _pct([r["answer"]["prompt_tokens"] or None for r in rows], 0.5),
    }


def answer_all(settings: Settings, qa: Path, out: Path, limit: int | None = None, ids: list[str] | None = None,
               fresh: bool = False, pipeline=None, desc: str = "eval") -> tuple[list[dict], object]:
    """Every question of ``qa`` answered (from ``<out>/cache.jsonl`` when already asked) and scored."""
    from tqdm import tqdm

    from rag.pipeline import builder

    items = load_qa(qa)
    if ids:
        missing = set(ids) - {i["id"] for i in items}
        if missing:
            raise RagError(f"no question with id {', '.join(sorted(missing))} in {qa}")
        order = {i: n for n, i in enumerate(ids)}
        items = sorted((i for i in items if i["id"] in order), key=lambda i: order[i["id"]])
    items = items[:limit] if limit else items
    pipe = pipeline or builder.build(settings)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "cache.jsonl"
    cache = {}
    if cache_path.exists() and not fresh:
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                cache[entry["key"]] = entry["answer"]
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut by an interrupted run
    fingerprint = _fingerprint(settings, pipe)
    rows = []
    with open(cache_path, "a", encoding="utf-8") as cache_file:
        for item in tqdm(items, desc=desc, unit="q"):
            key = _key(item, fingerprint)
            if key not in cache:
                cache[key] = pipe.ask(item["question"], history=item.get("history")).to_json()
                cache_file.write(json.dumps({"key": key, "id": item["id"], "answer": cache[key]},
                                            ensure_ascii=False) + "\n")
                cache_file.flush()
            rows.append({"item": item, "answer": cache[key], "score": score_item(item, cache[key])})
    return rows, pipe


def run(settings: Settings, qa: Path, out: Path, limit: int | None = None, ids: list[str] | None = None,
        fresh: bool = False, pipeline=None) -> str:
    from rag.evaluation.report import write_report

    t0 = time.perf_counter()
    rows, pipe = answer_all(settings, qa, out, limit, ids, fresh, pipeline)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "qa": str(qa), "seconds": round(time.perf_counter() - t0, 1),
        "settings": {k: str(v) for k, v in dataclasses.asdict(settings).items()},
        # Extract mode asks no LLM: naming it would load it.
        "models": {"embedder": pipe.embedder.model_id, "reader": pipe.reader.model_id,
                   "llm": pipe.generator.model_id if settings.answer == "llm" else None},
        # The gate's threshold on the reader's P(answerable) the answers were decided with (None: no gate).
        "gate_threshold": pipe.gate_model.threshold if settings.gate else None,
        "overall": aggregate(rows),
        "by_lang": {lang: aggregate([r for r in rows if r["item"]["lang"] == lang])
                    for lang in sorted({r["item"]["lang"] for r in rows})},
        "by_type": {t: aggregate([r for r in rows if r["item"]["type"] == t])
                    for t in sorted({r["item"]["type"] for r in rows})},
        "items": [{"id": r["item"]["id"], **r["score"], "answer": r["answer"]["answer"],
                   "timings": r["answer"]["timings"]} for r in rows],
    }
    write_report(report, rows, out)
    return summary(report)


def retrieval(settings: Settings, qa: Path, pipeline=None) -> str:
    """Retrieval only (no answer generated): hit@k per language, and how well the best
    dense score separates answerable from unanswerable questions (for ``RAG_MIN_SCORE``).
    Cheap enough to compare settings: ``RAG_HYBRID=0 rag eval --retrieval-only``.
    """
    from tqdm import tqdm

    from rag.pipeline import Retrieved, builder

    pipe = pipeline or builder.build(settings)
    rows = []
    for item in tqdm(load_qa(qa), desc="retrieval", unit="q"):
        stream = pipe.ask_stream(item["question"], history=item.get("history"))
        event = next((e for e in stream if isinstance(e, Retrieved)), None)
        stream.close()   # stop before the model is asked
        passages = event.passages if event else []
        answer = {"passages": passages, "answer": "", "refused": False, "citations": [], "lang": item["lang"],
                  "timings": {"retrieve_s": event.seconds if event else None}, "prompt_tokens": 0}
        shown = [(e.doc, e.text) for e in event.evidence] if event else []
        rows.append({"item": item, "answer": answer, "score": score_item(item, answer),
                     "best": max((p["score"] for p in passages), default=0.0),
                     "in_evidence": reference_row(shown, item) is not None if item.get("evidence") else None})
    lines = []
    for name, group in [("all", rows), *((lang, [r for r in rows if r["item"]["lang"] == lang])
                                         for lang in sorted({r["item"]["lang"] for r in rows}))]:
        a = aggregate(group)
        lines.append(f"{name:>3}: doc hit@1 {_f(a['doc_hit@1'])}  hit@3 {_f(a['doc_hit@3'])}  "
                     f"hit@5 {_f(a['doc_hit@5'])}  MRR {_f(a['doc_mrr'])}  passage hit@5 {_f(a['passage_hit@5'])}  "
                     f"reference sentence in the evidence {_f(_share([r['in_evidence'] for r in group]))}  "
                     f"retrieval {_f(a.get('retrieve_s_median'))}s")
    best = {kind: sorted(r["best"] for r in rows if r["score"]["answerable"] == (kind == "answerable"))
            for kind in ("answerable", "unanswerable")}
    for t in (0.75, 0.78, 0.80, 0.82, 0.84):
        kept = sum(b >= t for b in best["unanswerable"])
        lost = sum(b < t for b in best["answerable"])
        lines.append(f"min_score {t:.2f}: answerable refused before generation {lost}/{len(best['answerable'])}, "
                     f"unanswerable passed to the model {kept}/{len(best['unanswerable'])}")
    return "\n".join(lines)


def _share(flags: list[bool | None]) -> float | None:
    """The share of true flags among those that apply (not None).

    >>> _share([True, False, None, True]), _share([None])
    (0.667, None)
    """
    known = [f for f in flags if f is not None]
    return round(sum(known) / len(known), 3) if known else None


def summary(report: dict) -> str:
    o = report["overall"]
    lines = [f"{o['n']} questions in {report['seconds']}s  →  report in {report.get('out', 'the output folder')}"]
    for name, block in [("all", o), *report["by_lang"].items()]:
        lines.append(
            f"  {name:>3}: doc hit@5 {_f(block['doc_hit@5'])}  accuracy {_f(block['accuracy'])}  "
            f"citations {_f(block['citation_precision'])}  refusal {_f(block['refusal_rate_unanswerable'])}  "
            f"false refusal {_f(block['false_refusal_rate'])}  language {_f(block['language_match'])}  "
            f"first token {_f(block.get('first_token_s_median'))}s "
            f"({_f(_whole(block.get('prefill_tokens_median')))} prompt tokens computed)")
    return "\n".join(lines)


def _whole(v: float | None) -> int | None:
    """A median of token counts, as a count (the median of an even number of them may fall between two)."""
    return None if v is None else round(v)


def _f(v) -> str:
    return "—" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)
