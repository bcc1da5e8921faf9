"""Eval report files: ``report.json``, ``report.md`` (tables and failures) and PNG plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

METRICS = [
    ("doc_hit@1", "doc hit@1"), ("doc_hit@5", "doc hit@5"), ("doc_mrr", "doc MRR"),
    ("passage_hit@5", "passage hit@5"), ("passage_mrr", "passage MRR"),
    ("accuracy", "accuracy"), ("citation_precision", "citation precision"), ("dangling", "dangling"),
    ("refusal_rate_unanswerable", "refusal (unanswerable)"), ("false_refusal_rate", "false refusal"),
    ("language_match", "language match"), ("retrieve_s_median", "retrieval s (median)"),
    ("first_token_s_median", "first token s (median)"), ("first_token_s_p90", "first token s (p90)"),
    ("prefill_tokens_median", "prompt tokens computed before the first token (median)"),
    ("total_s_median", "total s (median)"), ("prompt_tokens_median", "prompt tokens (median)"),
]


def _cell(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _table(blocks: dict[str, dict]) -> str:
    names = list(blocks)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines.append("| questions | " + " | ".join(str(blocks[n]["n"]) for n in names) + " |")
    for key, label in METRICS:
        lines.append(f"| {label} | " + " | ".join(_cell(blocks[n].get(key)) for n in names) + " |")
    return "\n".join(lines)


def _failures(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        s, item, answer = r["score"], r["item"], r["answer"]
        if s["answerable"]:
            problem = ("refused" if s["refused"] else "wrong answer" if not s["correct"]
                       else "wrong citation" if s["good_citations"] < s["citations"]
                       else "wrong language" if not s["lang_ok"] else None)
        else:
            problem = None if s["refused"] else "answered an unanswerable question"
        if problem:
            expected = item.get("answer") or "(refusal)"
            out.append(f"- **{item['id']}** ({item['lang']}, {item['type']}) — {problem}  \n"
                       f"  Q: {item['question']}  \n  A: {answer['answer']}  \n  expected: {expected}"
                       + (f"  \n  why refused: {answer.get('reason')}" if s["refused"] and answer.get("reason") else ""))
    return out


def gate_curve(rows: list[dict], thresholds) -> list[dict]:
    """Accuracy and refusals had the gate's threshold been each of ``thresholds``.

    A one-part question the reader read (its P(answerable) is known, ``checks[0].p_answer``) is answered when
    P ≥ threshold, and right when its answer matches the reference; one that a check after the gate refused
    stays refused. A question the gate itself refused has no written answer: the reader's words (what
    ``rag ask --extract`` shows) stand for it. Every other question (refused before the reader, or
    multi-part) keeps its outcome.
    """
    answerable = [r for r in rows if r["score"]["answerable"]]
    unanswerable = [r for r in rows if not r["score"]["answerable"]]
    points = []
    for t in thresholds:
        def outcome(r):
            checks = r["answer"].get("checks") or []
            p = checks[0].get("p_answer") if len(checks) == 1 else None
            if p is None:
                return (not r["score"]["refused"]), bool(r["score"]["correct"])
            failed = checks[0].get("failed") or ""
            if failed and failed != "unanswerable":
                return False, False
            text = ((r["answer"].get("reader") or {}).get("span") or "") if failed else r["answer"]["answer"]
            right = r["score"]["answerable"] and all(re.search(rx, text, re.IGNORECASE)
                                                     for rx in r["item"].get("must_match") or [])
            return p >= t, right
        a = [outcome(r) for r in answerable]
        u = [outcome(r) for r in unanswerable]
        wrong = sum(kept and not right for kept, right in a) + sum(kept for kept, _ in u)
        points.append({"threshold": round(float(t), 3),
                       "accuracy": sum(kept and right for kept, right in a) / max(1, len(a)),
                       "false_refusals": sum(not kept for kept, _ in a) / max(1, len(a)),
                       "refused_unanswerable": sum(not kept for kept, _ in u) / max(1, len(u)),
                       "coverage": sum(kept for kept, _ in a) / max(1, len(a)),
                       "wrong_shown": wrong / max(1, len(rows))})
    return points


RISK_BUDGET = 0.05      # the promise: at most 5 % of all questions get a wrong answer shown


def operating_point(points: list[dict], budget: float = RISK_BUDGET) -> dict | None:
    """The point of a risk–coverage curve (``gate_curve``) answering the most answerable questions
    while wrong answers shown stay within ``budget``; None when no threshold keeps it.

    >>> operating_point([{"threshold": 0.1, "coverage": 0.9, "wrong_shown": 0.2},
    ...                  {"threshold": 0.5, "coverage": 0.6, "wrong_shown": 0.04},
    ...                  {"threshold": 0.9, "coverage": 0.3, "wrong_shown": 0.0}])["threshold"]
    0.5
    """
    within = [p for p in points if p["wrong_shown"] <= budget]
    return max(within, key=lambda p: (p["coverage"], -p["threshold"])) if within else None


def risk_coverage_lines(rows: list[dict], in_use: float | None) -> list[str]:
    """The eval report's risk–coverage table: each threshold of the gate, the share of answerable
    questions answered and the share of all questions given a wrong answer."""
    grid = sorted({round(i / 20, 3) for i in range(21)} | ({round(in_use, 3)} if in_use is not None else set()))
    points = gate_curve(rows, grid)
    best = operating_point(points)
    lines = ["| gate threshold | answerable answered (coverage) | accuracy | wrong answers shown (all questions) | "
             "unanswerable refused |", "|---|---|---|---|---|"]
    for p in sorted(points, key=lambda p: p["threshold"]):
        mark = " (in use)" if in_use is not None and p["threshold"] == round(in_use, 3) else ""
        mark += " (best within 5 %)" if p is best else ""
        lines.append(f"| {p['threshold']:.2f}{mark} | {p['coverage']:.2f} | {p['accuracy']:.2f} | "
                     f"{p['wrong_shown']:.2f} | {p['refused_unanswerable']:.2f} |")
    lines += ["", f"Highest coverage with wrong answers shown ≤ {RISK_BUDGET:.0%}: "
              + (f"threshold {best['threshold']:.2f}, coverage {best['coverage']:.2f}, wrong shown "
                 f"{best['wrong_shown']:.2f}." if best else "no threshold keeps it (the rules' own answers exceed it).")]
    return lines


def _saved(fig, out: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name


def _plots(report: dict, rows: list[dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    types = [t for t in report["by_type"]]
    langs = list(report["by_lang"])
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(1, len(langs))
    for i, lang in enumerate(langs):
        values = []
        for t in types:
            sub = [r for r in rows if r["item"]["type"] == t and r["item"]["lang"] == lang]
            ok = [(r["score"]["correct"] if r["score"]["answerable"] else r["score"]["refused"]) for r in sub]
            values.append(sum(ok) / len(ok) if ok else 0)
        ax.bar([x + i * width for x in range(len(types))], values, width, label=lang)
    ax.set_xticks([x + width * (len(langs) - 1) / 2 for x in range(len(types))], types)
    ax.set_ylim(0, 1)
    ax.set_ylabel("correct (unanswerable: refused)")
    ax.set_title("Accuracy by question type and language")
    ax.legend()
    files.append(_saved(fig, out, "accuracy.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    for key, label in [("retrieve_s", "retrieval"), ("first_token_s", "first token"), ("total_s", "total")]:
        values = [r["answer"]["timings"].get(key) for r in rows if r["answer"]["timings"].get(key) is not None]
        if values:
            ax.hist(values, bins=20, alpha=0.6, label=label)
    ax.set_xlabel("seconds")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend()
    files.append(_saved(fig, out, "latency.png"))

    in_use = report.get("gate_threshold")
    if in_use is not None and any(c.get("p_answer") is not None for r in rows for c in r["answer"].get("checks") or []):
        points = gate_curve(rows, [i / 50 for i in range(51)])
        live = gate_curve(rows, [in_use])[0]
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot([q["refused_unanswerable"] for q in points], [q["accuracy"] for q in points], marker=".",
                label="accuracy (answerable)")
        ax.plot([q["refused_unanswerable"] for q in points], [q["false_refusals"] for q in points], marker=".",
                label="false refusals (answerable)")
        ax.axvline(live["refused_unanswerable"], color="grey", linestyle=":",
                   label=f"threshold in use ({in_use:.2f})")
        ax.set_xlabel("unanswerable questions refused")
        ax.set_title("The gate's trade-off: threshold from 0 (left) to 1 (right)")
        ax.legend(fontsize=8)
        files.append(_saved(fig, out, "gate.png"))

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([q["coverage"] for q in points], [q["wrong_shown"] for q in points], marker=".")
        ax.axhline(RISK_BUDGET, color="red", linestyle=":", label=f"{RISK_BUDGET:.0%} budget")
        ax.plot([live["coverage"]], [live["wrong_shown"]], "o", color="grey", label=f"in use ({in_use:.2f})")
        ax.set_xlabel("answerable questions answered (coverage)")
        ax.set_ylabel("wrong answers shown / all questions")
        ax.set_title("Risk–coverage: the gate's threshold from 0 (right) to 1 (left)")
        ax.legend(fontsize=8)
        files.append(_saved(fig, out, "risk_coverage.png"))
    return files


def write_report(report: dict, rows: list[dict], out: Path) -> None:
    report["out"] = str(out)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    plots = _plots(report, rows, out)
    failures = _failures(rows)
    in_use = report.get("gate_threshold")
    read = any(c.get("p_answer") is not None for r in rows for c in r["answer"].get("checks") or [])
    models = report["models"]
    writer = f"LLM `{models['llm']}`" if models.get("llm") else "no LLM (extract: the reader's words are the answer)"
    md = [
        f"# Eval report — {report['date']}",
        "",
        f"`rag eval --qa {report['qa']}`: {report['overall']['n']} questions in {report['seconds']} s; "
        f"embedder `{models['embedder']}`, reader `{models.get('reader')}`, {writer}.",
        "",
        "## Overall and per language",
        "",
        _table({"all": report["overall"], **report["by_lang"]}),
        "",
        "## Per question type",
        "",
        _table(report["by_type"]),
        "",
        *[f"![{p}]({p})" for p in plots],
        "",
        *(["## Risk–coverage (the gate's threshold)", "", *risk_coverage_lines(rows, in_use), ""]
          if in_use is not None and read else []),
        f"## Failures ({len(failures)})",
        "",
        *(failures or ["None."]),
        "",
    ]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
