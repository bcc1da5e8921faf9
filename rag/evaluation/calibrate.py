"""``rag calibrate``: fit the answer gate on the calibration set, never on the test set.

1. Every calibration question is answered with the gate off (``RAG_GATE=0``): the grounding
   rules still refuse, and every other answer records the gate's features
   (``Answer.checks``). Answers are cached like ``rag eval``'s, so a refit is instant.
2. A logistic regression (scikit-learn) on the standardised features predicts "this answer
   is right" (answerable and matching the reference). Its out-of-fold probabilities come
   from leave-one-article-out cross-validation: no article is scored by a model that saw it.
3. The threshold is the highest one at which the gate withdraws at most ``max_false_refusals``
   of the right answers, on those out-of-fold probabilities (refusing a wrong answer to an
   answerable question protects the user; ``rag eval``'s false-refusal rate counts it too, and
   the rules' refusals, and is reported as such); the final weights are fitted on everything.
4. The same is done without each feature in turn (ablation), and the trade-off curve is
   plotted. Weights, threshold and figures go to ``rag/answer/gate.json``; the curve and the
   tables to ``docs/calibration.md`` and ``docs/gate-curve.png``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np

from rag.answer import attribution
from rag.errors import RagError
from rag.evaluation.eval import answer_all
from rag.answer.gate import FEATURES, MODEL_FILE, GateModel
from rag.settings import Settings


def _group(row: dict) -> str:
    """The article a question is about (for unanswerables: the one retrieved first)."""
    item, passages = row["item"], row["answer"]["passages"]
    return item.get("doc") or (passages[0]["doc"] if passages else "none")


def dataset(rows: list[dict]) -> dict:
    """Single-part questions, split into those the rules refused and those the gate must decide."""
    single = [r for r in rows if len(r["answer"].get("checks") or [{}]) == 1 and r["item"]["type"] != "multi"]
    gated = [r for r in single if (r["answer"]["checks"] or [{}])[0].get("answer")]
    return {
        "rows": single,
        "gated": gated,
        "y": np.array([bool(r["score"]["correct"]) for r in gated]),
        "answerable": np.array([r["score"]["answerable"] for r in gated]),
        "groups": np.array([_group(r) for r in gated]),
        "hard_refused_answerable": sum(1 for r in single if r["score"]["answerable"] and r not in gated),
        "hard_refused_unanswerable": sum(1 for r in single if not r["score"]["answerable"] and r not in gated),
        "n_answerable": sum(1 for r in single if r["score"]["answerable"]),
        "n_unanswerable": sum(1 for r in single if not r["score"]["answerable"]),
        "correct_ungated": sum(1 for r in single if r["score"]["correct"]),
    }


def _gold(item: dict, letter: dict) -> bool:
    """Is this lettered sentence (part of) the item's reference evidence?"""
    golds = [(item.get("doc"), item.get("evidence"))] + [(m["doc"], m["evidence"]) for m in item.get("more_evidence") or []]
    text = letter["text"]
    return any(doc == letter["doc"] and gold and (gold in text or text in gold or gold[:40] in text)
               for doc, gold in golds)


def source_choice(rows: list[dict], current: float) -> dict:
    """Refit the weight of the sentence score in the choice of the source sentence
    (``rag.answer.attribution``) on the answerable questions whose every letter was recorded."""
    items = [attribution.Letters([(x["p"], x["score"], _gold(r["item"], x)) for x in letters], _group(r))
             for r in rows if r["score"]["answerable"]
             and (letters := (r["answer"].get("checks") or [{}])[0].get("letters"))]
    fitted = attribution.fit_weight(items)
    return fitted if fitted["questions"] else {"weight": current, "questions": 0}


def _matrix(rows: list[dict], features: list[str]) -> np.ndarray:
    return np.array([[float(r["answer"]["checks"][0]["features"].get(f, np.nan)) for f in features] for r in rows])


def _fit(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)).fit(x, y)


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import LeaveOneGroupOut

    p = np.zeros(len(y))
    for train, test in LeaveOneGroupOut().split(x, y, groups):
        if len(set(y[train])) < 2:
            p[test] = y[train].mean()
            continue
        p[test] = _fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return p


def trade_off(p: np.ndarray, data: dict, threshold: float) -> dict:
    """Scores when answers with P < threshold are refused (plus what the rules refused)."""
    kept = p >= threshold
    ans = data["answerable"]
    n_a, n_u = data["n_answerable"], data["n_unanswerable"]
    return {
        "threshold": round(float(threshold), 4),
        "false_refusals": round((data["hard_refused_answerable"] + int((~kept & ans).sum())) / n_a, 3) if n_a else None,
        "refused_unanswerable": round((data["hard_refused_unanswerable"] + int((~kept & ~ans).sum())) / n_u, 3)
        if n_u else None,
        "accuracy": round(int((kept & data["y"]).sum()) / n_a, 3) if n_a else None,
        # Right answers the gate withdrew: the false refusals a user is hurt by (the line above
        # also counts wrong answers to answerable questions, which refusing protects from).
        "right_refused": round(int((~kept & data["y"]).sum()) / max(1, int(data["y"].sum())), 3),
    }


def choose_threshold(p: np.ndarray, data: dict, max_false_refusals: float) -> float:
    """The highest threshold at which the gate withdraws at most ``max_false_refusals`` of the
    right answers (0 if none does)."""
    best = 0.0
    for t in sorted(set(np.round(p, 4)) | {0.0}):
        if trade_off(p, data, t)["right_refused"] <= max_false_refusals:
            best = max(best, float(t))
    return best


def fit(data: dict, features: list[str], max_false_refusals: float) -> tuple[GateModel, dict, np.ndarray]:
    x, y = _matrix(data["gated"], features), data["y"]
    if len(set(y.tolist())) < 2:
        raise RagError(f"the gate needs right and wrong answers to learn from, and all {len(y)} calibration answers "
                       f"are {'right' if len(y) and y[0] else 'wrong'}: use more (and unanswerable) questions")
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    p = out_of_fold(x, y, data["groups"])
    threshold = choose_threshold(p, data, max_false_refusals)
    model = _fit(x, y)
    scaler, lr = model.steps[0][1], model.steps[1][1]
    gate = GateModel(features=features, mean=scaler.mean_.round(6).tolist(), scale=scaler.scale_.round(6).tolist(),
                     coef=lr.coef_[0].round(6).tolist(), intercept=round(float(lr.intercept_[0]), 6),
                     threshold=round(threshold, 4))
    return gate, trade_off(p, data, threshold), p


def rescore(rows: list[dict], model: GateModel | None, rules: bool = True) -> dict:
    """Scores had ``model`` decided (None: no gate), from answers already made: the features do
    not depend on the gate, and a refused answer keeps its text in ``withdrawn``. With
    ``rules=False`` the answers the grounding rules withdrew after generation are shown too.
    Questions refused before generation, and multi-part ones, keep their outcome."""
    a_kept, a_right, u_kept = [], [], []
    for r in rows:
        checks = r["answer"].get("checks") or []
        check = checks[0] if len(checks) == 1 else {}
        passed = check.get("probability") is not None or (check.get("answer") and check.get("probability") is None
                                                          and not r["answer"]["refused"])
        generated = not r["answer"]["refused"] or bool(r["answer"].get("withdrawn"))
        if check.get("features") and (passed or (not rules and generated)):
            kept = model is None or model.probability(check["features"]) >= model.threshold
            text = r["answer"]["withdrawn"] if r["answer"]["refused"] else r["answer"]["answer"]
            right = r["score"]["answerable"] and all(re.search(rx, text, re.IGNORECASE)
                                                     for rx in r["item"].get("must_match") or [])
        else:
            kept, right = not r["score"]["refused"], bool(r["score"]["correct"])
        if r["score"]["answerable"]:
            a_kept.append(kept)
            a_right.append(kept and right)
        else:
            u_kept.append(kept)
    return {"accuracy": round(sum(a_right) / len(a_kept), 3) if a_kept else None,
            "refused_unanswerable": round(1 - sum(u_kept) / len(u_kept), 3) if u_kept else None,
            "false_refusals": round(1 - sum(a_kept) / len(a_kept), 3) if a_kept else None}


def _plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for name, points in curves.items():
        ax[0].plot([q["false_refusals"] for q in points], [q["refused_unanswerable"] for q in points], label=name)
        ax[1].plot([q["refused_unanswerable"] for q in points], [q["accuracy"] for q in points], label=name)
    ax[0].axvline(0.05, color="grey", linestyle=":")
    ax[0].set(xlabel="answerable questions refused", ylabel="unanswerable questions refused",
              title="Refusals as the threshold rises")
    ax[1].set(xlabel="unanswerable questions refused", ylabel="accuracy on answerable questions",
              title="What refusing costs in accuracy")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def curve(p: np.ndarray, data: dict) -> list[dict]:
    return [trade_off(p, data, t) for t in np.linspace(0, 1, 101)]


def run(settings: Settings, qa: Path, out: Path, docs: Path, model_file: Path = MODEL_FILE,
        max_false_refusals: float = 0.05, limit: int | None = None, test: Path | None = None,
        test_out: Path = Path("eval/out")) -> str:
    from rag.evaluation.eval import load_qa

    # Multi-part questions are gated part by part, but their reference answers score the
    # whole: they cannot label a part, so they are not asked.
    # Asked in a fixed shuffled order, so that ``--limit N`` (or an interrupted run, resumed
    # from the cache) is a sample of every type and class, not the first rows of the file.
    ids = sorted((i["id"] for i in load_qa(qa) if i.get("type") != "multi"),
                 key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:limit]
    rows, _ = answer_all(settings.replace(gate=False), qa, out, ids=ids, desc="calibrate")
    data = dataset(rows)
    features = list(FEATURES)
    gate, at, p = fit(data, features, max_false_refusals)
    ablation = {"all features": at}
    variants = {"all features": gate}
    curves = {"all features": curve(p, data)}
    for f in features:
        rest = [g for g in features if g != f]
        variants[f"without {f}"], scores, p_rest = fit(data, rest, max_false_refusals)
        ablation[f"without {f}"] = scores
        if f in ("p_none", "grade"):
            curves[f"without {f}"] = curve(p_rest, data)
    rules_only = trade_off(np.ones(len(data["y"])), data, 0.0)
    bare = rescore(data["rows"], None, rules=False)   # what the grounding rules themselves add
    current = GateModel.load(model_file).source_weight if Path(model_file).exists() else 0.0
    choice = source_choice(data["rows"], current)
    gate = GateModel(**{**gate.__dict__, "source_weight": choice["weight"], "meta": {
        "fitted": time.strftime("%Y-%m-%d %H:%M"), "on": str(qa), "questions": len(data["rows"]),
        "gated": len(data["gated"]), "max_false_refusals": max_false_refusals, "cross_validated": at,
        "rules_only": rules_only, "source_choice": choice, "llm": settings.llm_model or "default", "settings": {
            "evidence_tokens": settings.evidence_tokens, "max_sentences": settings.max_sentences}}})
    gate.save(model_file)
    docs.mkdir(parents=True, exist_ok=True)
    _plot(curves, docs / "gate-curve.png")
    lines = [f"# Answer gate calibration ({gate.meta['fitted']})", "",
             f"`rag calibrate` on `{qa}`: {len(data['rows'])} single-part questions ({data['n_answerable']} answerable, "
             f"{data['n_unanswerable']} unanswerable); the grounding rules refused {data['hard_refused_answerable']} "
             f"answerable and {data['hard_refused_unanswerable']} unanswerable ones; the gate decides the "
             f"{len(data['gated'])} others. Scores are out-of-fold (leave one article out), at the threshold chosen "
             f"so that the gate withdraws at most {max_false_refusals:.0%} of the right answers.", "",
             "| gate | threshold | accuracy (answerable) | unanswerable refused | false refusals (all answerable) "
             "| right answers withdrawn |", "|---|---|---|---|---|---|",
             f"| neither grounding rules nor gate | — | {bare['accuracy']} | {bare['refused_unanswerable']} | "
             f"{bare['false_refusals']} | — |",
             f"| rules only (no gate) | — | {rules_only['accuracy']} | {rules_only['refused_unanswerable']} | "
             f"{rules_only['false_refusals']} | 0 |"]
    lines += [f"| {name} | {s['threshold']} | {s['accuracy']} | {s['refused_unanswerable']} | {s['false_refusals']} | "
              f"{s['right_refused']} |" for name, s in ablation.items()]
    if choice["questions"]:
        lines += ["", f"Choice of the sentence to answer from (`rag.answer.attribution`): log P(letter) + {choice['weight']} × "
                      f"sentence score. Over the {choice['questions']} answerable questions whose reference sentence "
                      f"was among the letters, it picks that sentence in {choice['chosen_right']:.0%} "
                      f"({choice['cross_validated']:.0%} leave-one-article-out); the model's letter alone "
                      f"{choice['model_alone']:.0%}, the retrieval score alone {choice['score_alone']:.0%}."]
    else:
        lines += ["", f"Choice of the sentence to answer from: weight {choice['weight']} kept (the cached answers "
                      "record no letter probabilities)."]
    if test is not None:
        # The test set's answers as ``rag eval`` made them (its cache), decided again by each variant.
        test_rows, _ = answer_all(settings, test, test_out, desc="test answers")
        lines += ["", f"The same variants on the test set `{test}` ({len(test_rows)} questions, all types; answers "
                      f"from `rag eval`'s cache, each decided again by the variant):", "",
                  "| gate | accuracy (answerable) | unanswerable refused | false refusals |", "|---|---|---|---|"]
        t = rescore(test_rows, None, rules=False)
        lines.append(f"| neither grounding rules nor gate | {t['accuracy']} | {t['refused_unanswerable']} | "
                     f"{t['false_refusals']} |")
        for name, model in [("rules only (no gate)", None), *variants.items()]:
            t = rescore(test_rows, model)
            lines.append(f"| {name} | {t['accuracy']} | {t['refused_unanswerable']} | {t['false_refusals']} |")
    lines += ["", "Weights (standardised features):", "",
              "| feature | what | weight |", "|---|---|---|"]
    lines += [f"| {f} | {FEATURES[f]} | {c:+.2f} |" for f, c in zip(gate.features, gate.coef)]
    lines += ["", "![trade-off](gate-curve.png)", ""]
    (docs / "calibration.md").write_text("\n".join(lines), encoding="utf-8")
    (out / "ablation.json").write_text(json.dumps(ablation, indent=1), encoding="utf-8")
    return (f"gate fitted on {len(data['gated'])} answers → {model_file} (threshold {gate.threshold}); "
            f"cross-validated: accuracy {at['accuracy']}, unanswerable refused {at['refused_unanswerable']}, "
            f"false refusals {at['false_refusals']}; report: {docs / 'calibration.md'}")
