"""``rag eval --extract``: retrieval and the reader only (no LLM), scored per language: EN, FR and English
questions over French articles (``en-over-fr``).

- **sentence top-1 / top-3**: the reader's best (or best three) sentence holds the reference evidence, over
  the answerable questions;
- **AUC**: how well P(answerable) ranks answerable above unanswerable questions (ROC AUC);
- **span EM / F1**: the reader's span against the gold words in the evidence (the answer regexes' match
  there), SQuAD's normalisation, over the answerable questions (0 when the sentence is wrong);
- **answered right / wrong shown** at the default gate, and the risk–coverage curve (``rag.evaluation.calibrate``);
- **reader seconds**: the median time of the reader's forward per question.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import time
from pathlib import Path

from rag.evaluation import calibrate
from rag.evaluation.eval import answer_all, reference_row
from rag.reader.devscore import auc, f1
from rag.settings import Settings

GROUPS = ("all", "en", "fr", "en-over-fr")


def gold_words(item: dict) -> str | None:
    """The gold answer's words in the article: the stretch of the evidence the answer regexes match.

    >>> gold_words({"evidence": "Actuellement, 91 entreprises ont rejoint.", "must_match": ["(?<!\\\\d)91(?!\\\\d)"]})
    '91'
    """
    evidence, patterns = item.get("evidence"), item.get("must_match") or []
    found = [re.search(p, evidence or "", re.IGNORECASE) for p in patterns]
    if not evidence or not found or not all(found):
        return None
    return evidence[min(m.start() for m in found):max(m.end() for m in found)]


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def group_of(item: dict, article_lang: str | None) -> str:
    """EN, FR, or an English question over a French article."""
    if item["lang"] == "en" and article_lang == "fr":
        return "en-over-fr"
    return item["lang"]


def score_row(item: dict, answer: dict, article_lang: str | None) -> dict:
    reader = answer.get("reader") or {}
    sentence = reader.get("sentence")
    ranked = [(s["doc"], s["text"]) for s in reader.get("ranked") or []]
    answerable = bool(item.get("doc"))
    top1 = top3 = em = span_f1 = None
    if answerable and item.get("evidence"):
        top1 = sentence is not None and reference_row([(sentence["doc"], sentence["text"])], item) is not None
        top3 = reference_row(ranked, item) is not None if ranked else top1
        gold = gold_words(item)
        if gold is not None:
            said = (reader.get("span") or "") if top1 else ""
            em = float(normalise(said) == normalise(gold))
            span_f1 = f1(said, gold)
    refusal = answer.get("reason", "").split(":")[0] if answer["refused"] else ""
    # What the answer is, or would have been had the gate let it through: the reader's words.
    said = (reader.get("span") or "") if refusal == "unanswerable" else answer["answer"]
    right = answerable and refusal in ("", "unanswerable") and all(
        re.search(rx, said, re.IGNORECASE) for rx in item.get("must_match") or [])
    return {"id": item["id"], "group": group_of(item, article_lang), "answerable": answerable,
            "p": float(reader.get("p_answer") or 0.0), "top1": top1, "top3": top3, "em": em, "f1": span_f1,
            "correct": bool(right) and not answer["refused"], "right_ungated": bool(right),
            "refused": answer["refused"], "read_s": reader.get("seconds"), "refusal": refusal}


def ungated(rows: list[dict]) -> list[dict]:
    """The rows as the risk–coverage curve reads them: every threshold is tried, so the gate's own refusals
    count as answers (right when the reader's words were) and only the other checks' refusals stay.

    >>> ungated([{"p": 0.2, "answerable": True, "correct": False, "right_ungated": True, "refused": True,
    ...           "refusal": "unanswerable"}])[0] == {"p": 0.2, "answerable": True, "correct": True, "refused": False}
    True
    """
    return [{"p": r["p"], "answerable": r["answerable"], "correct": r["right_ungated"],
             "refused": r["refused"] and r["refusal"] != "unanswerable"} for r in rows]


def _mean(values) -> float | None:
    known = [float(v) for v in values if v is not None]
    return round(sum(known) / len(known), 3) if known else None


def aggregate(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    value = auc([r["answerable"] for r in rows], [r["p"] for r in rows])
    shown = [r for r in rows if not r["refused"]]
    times = [r["read_s"] for r in rows if r["read_s"] is not None]
    return {"n": len(rows), "answerable": len(ans),
            "top1": _mean(r["top1"] for r in ans), "top3": _mean(r["top3"] for r in ans),
            "auc": None if value != value else round(value, 3),
            "em": _mean(r["em"] for r in ans), "f1": _mean(r["f1"] for r in ans),
            "answered_right": _mean(r["correct"] for r in ans) if ans else None,
            "wrong_shown": round(sum(not r["correct"] for r in shown) / len(rows), 3) if rows else None,
            "unanswerable_refused": _mean(r["refused"] for r in rows if not r["answerable"]),
            "read_s_median": round(statistics.median(times), 3) if times else None}


def run(settings: Settings, qa: Path, out: Path, limit: int | None = None, ids: list[str] | None = None,
        fresh: bool = False, pipeline=None) -> str:
    """Answer ``qa`` in extract mode and write ``<out>/extract.json``; returns the table."""
    t0 = time.perf_counter()
    settings = dataclasses.replace(settings, answer="extract")
    answered, pipe = answer_all(settings, qa, out, limit, ids, fresh, pipeline, desc="eval --extract")
    docs = pipe.store.docs
    rows = []
    for r in answered:
        doc = r["item"].get("doc") or next((p["doc"] for p in r["answer"]["passages"]), None)
        rows.append(score_row(r["item"], r["answer"], docs[doc].lang if doc in docs else None))
    report = {"qa": str(qa), "seconds": round(time.perf_counter() - t0, 1), "gate_risk": settings.gate_risk,
              "groups": {g: aggregate([r for r in rows if g == "all" or r["group"] == g]) for g in GROUPS},
              "curve": calibrate.curve(ungated(rows)), "items": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "extract.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return table(report)


def table(report: dict) -> str:
    """The per-language table, as Markdown."""
    cols = [("top1", "sentence top-1"), ("top3", "top-3"), ("auc", "AUC"), ("em", "span EM"), ("f1", "span F1"),
            ("answered_right", "answered right"), ("wrong_shown", "wrong shown"),
            ("unanswerable_refused", "unanswerable refused"), ("read_s_median", "reader s")]
    lines = [f"{report['qa']}: {report['groups']['all']['n']} questions in {report['seconds']}s (retrieval and the "
             f"reader, no LLM; gate at RAG_GATE_RISK={report['gate_risk']})", "",
             "| questions | n | " + " | ".join(name for _, name in cols) + " |", "|---|---:|" + "---:|" * len(cols)]
    for g, a in report["groups"].items():
        if a["n"]:
            lines.append(f"| {g} | {a['n']} | " + " | ".join("—" if a[k] is None else f"{a[k]:.2f}" if k != "wrong_shown"
                                                        else f"{a[k]:.3f}" for k, _ in cols) + " |")
    return "\n".join(lines)
