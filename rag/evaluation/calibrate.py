"""``rag calibrate``: the gate's threshold on the reader's P(answerable), fitted on the calibration parts of
both corpora (the seeds' and the public set's), never on a test part.

1. Every calibration question the reader did not train on (the public calibration part, and the seeds'
   calibration questions of the reader's dev split; ``rag.reader.training``) is answered in extract mode
   with the gate off: retrieval, the reader and the checks, no LLM, seconds for hundreds of questions.
   Answers are cached like ``rag eval``'s.
2. For every threshold t on P(answerable): ``coverage``, the share of answerable questions answered right
   with P ≥ t, and ``wrong_shown``, the share of all questions answered wrong with P ≥ t (a wrong span, or
   any answer to an unanswerable question): the risk–coverage curve.
3. The threshold written is the lowest whose wrong answers shown stay within ``risk`` (``RAG_GATE_RISK``
   reads another budget off the same curve at run time). The curve and threshold go to
   ``rag/answer/gate.json``; the tables to ``docs/calibration.md`` and the plot to ``docs/gate-curve.png``.

The LLM mode is gated on the same threshold: the writer only phrases the reader's span, and the agreement
check refuses an answer that drops it, so its wrong answers shown are at most the extract mode's plus the
writer's own mistakes (measured by ``rag eval``).

>>> rows = [{"p": 0.9, "answerable": True, "correct": True}, {"p": 0.6, "answerable": False, "correct": False},
...         {"p": 0.3, "answerable": True, "correct": True}]
>>> [(p["threshold"], p["coverage"], p["wrong_shown"]) for p in curve(rows)]
[(0.3, 1.0, 0.3333), (0.6, 0.5, 0.3333), (0.9, 0.5, 0.0), (1.01, 0.0, 0.0)]
>>> choose(curve(rows), 0.05)
0.9
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rag.answer.gate import MODEL_FILE, Gate
from rag.settings import Settings

RISK = 0.05        # the promise: wrong answers shown ≤ 5 % of all questions
RISKS = (0.02, 0.05, 0.1, 0.2, 1.0)   # the operating points the report compares


@dataclass(frozen=True)
class Corpus:
    """One corpus's calibration questions: its settings (index), file, cache folder, and which of its
    question ids to keep (None: all)."""

    name: str
    settings: Settings
    calibration: Path
    out: Path
    keep: frozenset[str] | None = None


def rows_of(corpus: Corpus, limit: int | None = None) -> list[dict]:
    """Each kept calibration question answered in extract mode, gate off: its P(answerable), whether it is
    answerable, whether the span answered it right, and whether a check other than the gate refused it."""
    from rag.evaluation.eval import answer_all, load_qa

    items = [i for i in load_qa(corpus.calibration) if corpus.keep is None or i["id"] in corpus.keep]
    ids = [i["id"] for i in items][:limit] if limit else [i["id"] for i in items]
    if not ids:         # answer_all would read "no ids" as every question, those the reader trained on too
        return []
    settings = replace(corpus.settings, answer="extract", gate=False)
    answered, _ = answer_all(settings, corpus.calibration, corpus.out, ids=ids, desc=f"calibrate {corpus.name}")
    out = []
    for r in answered:
        reader = r["answer"].get("reader") or {}
        out.append({"id": r["item"]["id"], "corpus": corpus.name, "lang": r["item"]["lang"],
                    "p": float(reader.get("p_answer") or 0.0), "answerable": r["score"]["answerable"],
                    "correct": bool(r["score"]["correct"]), "refused": r["answer"]["refused"]})
    return out


def curve(rows: list[dict]) -> list[dict]:
    """Risk–coverage points, one per distinct P(answerable) (and one refusing everything). A question refused
    by another check stays refused whatever the threshold."""
    n = len(rows) or 1
    answerable = sum(r["answerable"] for r in rows) or 1
    points = []
    # 1.01: above any probability, the point that refuses every answer.
    for t in sorted({round(r["p"], 4) for r in rows} | {1.01}):
        shown = [r for r in rows if round(r["p"], 4) >= t and not r.get("refused")]
        points.append({"threshold": t,
                       "coverage": round(sum(r["answerable"] and r["correct"] for r in shown) / answerable, 4),
                       "wrong_shown": round(sum(not (r["answerable"] and r["correct"]) for r in shown) / n, 4)})
    return points


def choose(points: list[dict], risk: float) -> float:
    """The lowest threshold keeping wrong answers shown within ``risk`` (the rule ``Gate.at_risk`` applies)."""
    return Gate(1.0, points).at_risk(risk).threshold


def auc(rows: list[dict]) -> float | None:
    from rag.reader.devscore import auc as rank_auc

    value = rank_auc([r["answerable"] for r in rows], [r["p"] for r in rows])
    return None if value != value else round(value, 3)


def run(corpora: list[Corpus], docs: Path, model_file: Path = MODEL_FILE, risk: float = RISK,
        limit: int | None = None) -> str:
    """Answer, fit, write ``model_file`` and the report; returns a summary."""
    t0 = time.perf_counter()
    rows = [row for c in corpora for row in rows_of(c, limit)]
    points = curve(rows)
    threshold = choose(points, risk)
    per_corpus = {c.name: [r for r in rows if r["corpus"] == c.name] for c in corpora}
    meta = {"date": time.strftime("%Y-%m-%d"), "risk": risk, "questions": len(rows),
            "corpora": {name: len(rs) for name, rs in per_corpus.items()}, "auc": auc(rows)}
    Gate(threshold, points, meta).save(model_file)
    report = _report(rows, per_corpus, points, threshold, risk, docs)
    return (f"gate fitted on {len(rows)} calibration questions the reader never trained on "
            f"({', '.join(f'{k} {v}' for k, v in meta['corpora'].items())}) in {time.perf_counter() - t0:.0f}s: "
            f"threshold {threshold:.3f} on P(answerable) for wrong answers shown ≤ {risk:.0%}, AUC {meta['auc']}"
            f"\n→ {model_file}, {report}")


def _report(rows: list[dict], per_corpus: dict[str, list[dict]], points: list[dict], threshold: float, risk: float,
            docs: Path) -> Path:
    docs.mkdir(parents=True, exist_ok=True)
    lines = ["# The gate: a threshold on the reader's P(answerable)", "",
             f"Fitted by `rag calibrate` on {len(rows)} calibration questions the reader never trained on, answered "
             f"in extract mode (retrieval and the reader, no LLM). Written threshold: **{threshold:.3f}** for wrong "
             f"answers shown ≤ {risk:.0%} of all questions.", "",
             "| corpus | questions | answerable | AUC | " + " | ".join(f"risk {r:.0%}: coverage / wrong shown"
                                                                     for r in RISKS) + " |",
             "|---|---:|---:|---:|" + "---|" * len(RISKS)]
    for name, rs in [("both", rows), *per_corpus.items()]:
        own = curve(rs)
        cells = []
        for r in RISKS:
            t = choose(points, r)     # the pooled threshold, read on this corpus
            p = next(x for x in own if x["threshold"] >= t) if any(x["threshold"] >= t for x in own) else own[-1]
            cells.append(f"{p['coverage']:.2f} / {p['wrong_shown']:.3f}")
        lines.append(f"| {name} | {len(rs)} | {sum(x['answerable'] for x in rs)} | {auc(rs)} | " + " | ".join(cells) + " |")
    lines += ["", "Coverage: answerable questions answered right; wrong shown: questions answered wrong (or "
                  "answered when unanswerable), both as shares; each column reads the pooled threshold for that "
                  "budget on the corpus's own questions.", "", "![risk–coverage](gate-curve.png)", ""]
    path = docs / "calibration.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    _plot(per_corpus, rows, docs / "gate-curve.png")
    (docs / "calibration.json").write_text(json.dumps({"threshold": threshold, "points": points}, indent=1) + "\n",
                                          encoding="utf-8")
    return path


def _plot(per_corpus: dict[str, list[dict]], rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rs in [("both", rows), *per_corpus.items()]:
        pts = curve(rs)
        ax.plot([p["coverage"] for p in pts], [p["wrong_shown"] for p in pts], label=name)
    ax.axhline(RISK, color="grey", linestyle=":", label=f"{RISK:.0%} budget")
    ax.set_xlabel("answerable questions answered right")
    ax.set_ylabel("wrong answers shown / all questions")
    ax.set_title("The reader's P(answerable) as a gate (calibration parts)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
