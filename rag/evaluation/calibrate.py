"""``rag calibrate``: fit the answer step's constants on the calibration parts of both corpora
(the seeds' and the public set's), never on a test part.

1. Every calibration question is answered once with the gate off (``RAG_GATE=0``) and no
   retrieval floor (``RAG_MIN_SCORE=0``): the grounding rules still refuse, and every other answer
   records the gate's features (``Answer.checks``). Answers are cached like ``rag eval``'s, so a
   refit is instant. A sample of each test part is answered the same way, to be decided again.
2. ``min_score``: the highest retrieval floor under which at most ``MAX_LOST`` of the right answers
   fall (a question below it is refused before the model runs).
3. The gate: a logistic regression (scikit-learn) on the standardised features predicts "this
   answer is right". Its out-of-fold probabilities come from cross-validation grouped by article:
   no article is scored by a model that saw it.
4. The threshold is the lowest at which, out of fold, wrong answers shown (a wrong answer, or an
   answer to an unanswerable question) stay within ``risk`` of all questions: the most answers
   the risk budget allows. The final weights are fitted on everything.
5. Transfer: the same fit on each corpus alone, scored on both test samples, so overfitting to
   one corpus shows; an ablation without each feature; the risk–coverage curves. Weights,
   threshold and figures go to ``rag/answer/gate.json``; the tables to ``docs/calibration.md``
   and ``docs/gate-curve.png``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answer import attribution
from rag.errors import RagError
from rag.evaluation.eval import answer_all, load_qa
from rag.answer.gate import FEATURES, MODEL_FILE, GateModel
from rag.settings import Settings

RISK = 0.05        # the promise: wrong answers shown ≤ 5 % of all questions
MAX_LOST = 0.02    # right answers the retrieval floor may refuse
RISKS = (0.05, 0.1, 0.2, 0.3, 1.0)   # the operating points the report compares


@dataclass(frozen=True)
class Corpus:
    """One corpus's questions: its settings (index), calibration part and test part, and where
    their answers are cached."""

    name: str
    settings: Settings
    calibration: Path
    out: Path
    test: Path | None = None
    test_out: Path | None = None


def best_score(row: dict) -> float:
    """The question's best retrieval cosine (what ``min_score`` is compared with)."""
    return max((p.get("score", 0.0) for p in row["answer"].get("passages") or []), default=0.0)


def _group(row: dict) -> str:
    """The article a question is about (for unanswerables: the one retrieved first), per corpus."""
    item, passages = row["item"], row["answer"]["passages"]
    doc = item.get("doc") or (passages[0]["doc"] if passages else "none")
    return f"{row['corpus']}:{doc}" if row.get("corpus") else doc


def dataset(rows: list[dict], min_score: float = -1.0) -> dict:
    """Single-part questions, split into those refused before the gate (the rules, or a best
    retrieval below ``min_score``) and those the gate must decide."""
    single = [r for r in rows if len(r["answer"].get("checks") or [{}]) == 1 and r["item"]["type"] != "multi"]
    gated = [r for r in single if (r["answer"]["checks"] or [{}])[0].get("answer") and best_score(r) >= min_score]
    return {
        "rows": single,
        "gated": gated,
        "y": np.array([bool(r["score"]["correct"]) for r in gated]),
        "answerable": np.array([r["score"]["answerable"] for r in gated], dtype=bool),
        "groups": np.array([_group(r) for r in gated]),
        "hard_refused_answerable": sum(1 for r in single if r["score"]["answerable"]) - sum(
            1 for r in gated if r["score"]["answerable"]),
        "hard_refused_unanswerable": sum(1 for r in single if not r["score"]["answerable"]) - sum(
            1 for r in gated if not r["score"]["answerable"]),
        "n_answerable": sum(1 for r in single if r["score"]["answerable"]),
        "n_unanswerable": sum(1 for r in single if not r["score"]["answerable"]),
        "correct_ungated": sum(1 for r in single if r["score"]["correct"]),
    }


def choose_min_score(rows: list[dict], max_lost: float = MAX_LOST) -> dict:
    """The highest retrieval floor that refuses at most ``max_lost`` of the right answers.

    >>> rows = [{"answer": {"passages": [{"score": s}]}, "score": {"correct": c, "answerable": a}}
    ...         for s, c, a in [(0.70, False, False), (0.75, False, False), (0.81, True, True), (0.90, True, True)]]
    >>> choose_min_score(rows, max_lost=0.0)["min_score"]
    0.81
    """
    right = sorted(best_score(r) for r in rows if r["score"]["correct"])
    if not right:
        return {"min_score": 0.0, "right_lost": 0, "unanswerable_refused": 0}
    floor = right[int(max_lost * len(right))]
    unanswerable = [best_score(r) for r in rows if not r["score"]["answerable"]]
    return {"min_score": round(floor, 3), "right_lost": sum(s < floor for s in right),
            "right": len(right), "unanswerable_refused": sum(s < floor for s in unanswerable),
            "unanswerable": len(unanswerable)}


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


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 10) -> np.ndarray:
    """P(right) for each answer from a model fitted without its article (``folds`` groups of articles)."""
    from sklearn.model_selection import GroupKFold

    p = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=min(folds, len(set(groups)))).split(x, y, groups):
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
        # The headline: a wrong answer, or an answer to an unanswerable question, among all questions.
        "wrong_shown": round(int((kept & ~data["y"]).sum()) / max(1, n_a + n_u), 3),
        "coverage": round(int((kept & ans).sum()) / n_a, 3) if n_a else None,
        # Right answers the gate withdrew: the false refusals a user is hurt by (``false_refusals``
        # also counts wrong answers to answerable questions, which refusing protects from).
        "right_refused": round(int((~kept & data["y"]).sum()) / max(1, int(data["y"].sum())), 3),
    }


def curve_points(p: np.ndarray, data: dict) -> list[dict]:
    """The trade-off at each threshold where a decision changes, up to refusing every answer
    (which always keeps the budget)."""
    top = float(np.round(p.max(), 4)) + 1e-4 if len(p) else 0.0
    return [trade_off(p, data, t) for t in sorted(set(np.round(p, 4).tolist()) | {0.0, top})]


def choose_threshold(points: list[dict], risk: float) -> float:
    """The lowest threshold at which wrong answers shown stay within ``risk`` of all questions:
    the most answers the budget allows (the rule ``GateModel.at_risk`` reads off the same points)."""
    return min(q["threshold"] for q in points if q["wrong_shown"] <= risk)


def fit(data: dict, features: list[str], risk: float = RISK) -> tuple[GateModel, dict, np.ndarray]:
    x, y = _matrix(data["gated"], features), data["y"]
    if len(set(y.tolist())) < 2:
        raise RagError(f"the gate needs right and wrong answers to learn from, and all {len(y)} calibration answers "
                       f"are {'right' if len(y) and y[0] else 'wrong'}: use more (and unanswerable) questions")
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    p = out_of_fold(x, y, data["groups"])
    points = curve_points(p, data)
    threshold = choose_threshold(points, risk)
    model = _fit(x, y)
    scaler, lr = model.steps[0][1], model.steps[1][1]
    gate = GateModel(features=features, mean=scaler.mean_.round(6).tolist(), scale=scaler.scale_.round(6).tolist(),
                     coef=lr.coef_[0].round(6).tolist(), intercept=round(float(lr.intercept_[0]), 6),
                     threshold=round(threshold, 4),
                     curve=[{k: q[k] for k in ("threshold", "coverage", "wrong_shown")} for q in points])
    return gate, trade_off(p, data, threshold), p


def rescore(rows: list[dict], model: GateModel | None, rules: bool = True, min_score: float | None = None) -> dict:
    """Scores had ``model`` decided (None: no gate), from answers already made: the features do
    not depend on the gate, and a refused answer keeps its text in ``withdrawn``. With
    ``rules=False`` the answers the grounding rules withdrew after generation are shown too; with
    ``min_score`` a question whose best retrieval is below it is refused. Questions refused before
    generation, and multi-part ones, keep their outcome."""
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
        if min_score is not None and r["item"].get("type") != "multi" and best_score(r) < min_score:
            kept = False
        if r["score"]["answerable"]:
            a_kept.append(kept)
            a_right.append(kept and right)
        else:
            u_kept.append(kept)
    wrong = sum(k and not r for k, r in zip(a_kept, a_right)) + sum(u_kept)
    return {"accuracy": round(sum(a_right) / len(a_kept), 3) if a_kept else None,
            "refused_unanswerable": round(1 - sum(u_kept) / len(u_kept), 3) if u_kept else None,
            "false_refusals": round(1 - sum(a_kept) / len(a_kept), 3) if a_kept else None,
            "wrong_shown": round(wrong / len(rows), 3) if rows else None}


def _plot(curves: dict[str, list[dict]], path: Path, risk: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for name, points in curves.items():
        ax[0].plot([q["coverage"] for q in points], [q["wrong_shown"] for q in points], label=name)
        ax[1].plot([q["refused_unanswerable"] for q in points], [q["accuracy"] for q in points], label=name)
    ax[0].axhline(risk, color="red", linestyle=":", label=f"{risk:.0%} budget")
    ax[0].set(xlabel="answerable questions answered (coverage)", ylabel="wrong answers shown / all questions",
              title="Risk–coverage as the threshold rises (out of fold)")
    ax[1].set(xlabel="unanswerable questions refused", ylabel="accuracy on answerable questions",
              title="What refusing costs in accuracy")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def curve(p: np.ndarray, data: dict) -> list[dict]:
    return [trade_off(p, data, t) for t in np.linspace(0, 1, 101)]


@dataclass(frozen=True)
class Fitted:
    """The constants fitted on some calibration rows, and their out-of-fold scores."""

    min_score: dict
    gate: GateModel
    scores: dict
    p: np.ndarray
    data: dict


def fit_all(rows: list[dict], features: list[str], risk: float) -> Fitted:
    """``min_score`` first (it decides which answers reach the gate), then the gate."""
    floor = choose_min_score(rows)
    data = dataset(rows, floor["min_score"])
    gate, scores, p = fit(data, features, risk)
    return Fitted(floor, gate, scores, p, data)


def _answers(corpus: Corpus, qa: Path, out: Path, limit: int | None, desc: str) -> list[dict]:
    """``qa``'s single-part questions (a fixed shuffled sample of ``limit``), answered ungated and
    without a retrieval floor, each row tagged with its corpus."""
    # Multi-part questions are gated part by part, but their reference answers score the
    # whole: they cannot label a part, so they are not asked. A fixed shuffled order makes
    # ``--limit N`` (or an interrupted run, resumed from the cache) a sample of every type and class.
    ids = sorted((i["id"] for i in load_qa(qa) if i.get("type") != "multi"),
                 key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:limit]
    rows, _ = answer_all(corpus.settings.replace(gate=False, min_score=0.0), qa, out, ids=ids, desc=desc)
    return [{**r, "corpus": corpus.name} for r in rows]


def _row(name: str, s: dict, keys: tuple[str, ...]) -> str:
    return f"| {name} | " + " | ".join("—" if s.get(k) is None else str(s[k]) for k in keys) + " |"


def run(corpora: list[Corpus], docs: Path, model_file: Path = MODEL_FILE, risk: float = RISK,
        limit: int | None = None, test_limit: int | None = None) -> str:
    rows = {c.name: _answers(c, c.calibration, c.out, limit, f"calibrate {c.name}") for c in corpora}
    tests = {c.name: _answers(c, c.test, c.test_out, test_limit, f"test {c.name}") for c in corpora if c.test}
    union = [r for part in rows.values() for r in part]
    features = list(FEATURES)
    both = fit_all(union, features, risk)
    fits = {"both corpora": both}
    unfit = {}      # a corpus too small or too one-sided to fit alone: the transfer table says so
    for name, part in rows.items() if len(rows) > 1 else ():
        try:
            fits[f"{name} alone"] = fit_all(part, features, risk)
        except RagError as e:
            unfit[name] = str(e)
    data = both.data
    ablation = {"all features": both.scores}
    variants = {"all features": both.gate}
    curves = {f"fitted on {name}": curve(f.p, f.data) for name, f in fits.items()}
    for f in features:
        rest = [g for g in features if g != f]
        variants[f"without {f}"], ablation[f"without {f}"], _ = fit(data, rest, risk)
    rules_only = trade_off(np.ones(len(data["y"])), data, 0.0)
    bare = rescore(data["rows"], None, rules=False)   # what the grounding rules themselves add
    current = GateModel.load(model_file).source_weight if Path(model_file).exists() else 0.0
    choice = source_choice(union, current)
    fitted = time.strftime("%Y-%m-%d %H:%M")
    gate = GateModel(**{**both.gate.__dict__, "source_weight": choice["weight"], "meta": {
        "fitted": fitted, "on": [str(c.calibration) for c in corpora],
        "questions": {name: len(dataset(part)["rows"]) for name, part in rows.items()}, "gated": len(data["gated"]),
        "risk": risk, "min_score": both.min_score, "cross_validated": both.scores, "rules_only": rules_only,
        "source_choice": choice, "llm": corpora[0].settings.llm_model or "default", "settings": {
            "evidence_tokens": corpora[0].settings.evidence_tokens,
            "max_sentences": corpora[0].settings.max_sentences}}})
    gate.save(model_file)
    docs.mkdir(parents=True, exist_ok=True)
    _plot(curves, docs / "gate-curve.png", risk)
    keys = ("accuracy", "refused_unanswerable", "false_refusals", "wrong_shown")
    parts = ", ".join(f"{name} `{c.calibration}` {len(dataset(rows[name])['rows'])}" for name, c in
                      ((c.name, c) for c in corpora))
    floor = both.min_score
    lines = [f"# Answer step calibration ({fitted})", "",
             f"`rag calibrate` on the calibration parts ({parts} single-part questions: {data['n_answerable']} "
             f"answerable, {data['n_unanswerable']} unanswerable), answered once with the gate off and no retrieval "
             "floor. Scores are out of fold (cross-validation grouped by article: no article is scored by a model "
             "that saw it).", "",
             f"- **Retrieval floor** `min_score` = {floor['min_score']}: the best cosine of {floor['right_lost']} of "
             f"the {floor.get('right', 0)} right answers is below it (≤ {MAX_LOST:.0%}); it refuses "
             f"{floor['unanswerable_refused']} of the {floor.get('unanswerable', 0)} unanswerable questions before "
             "the model runs.",
             f"- **Gate threshold** {gate.threshold}: the lowest at which wrong answers shown stay within "
             f"{risk:.0%} of all questions, out of fold.",
             f"- **Sentence choice**: log P(letter) + {choice['weight']} × sentence score"
             + (f" (picks the reference sentence in {choice['cross_validated']:.0%} of {choice['questions']} "
                f"questions out of fold; the model's letter alone {choice['model_alone']:.0%}, the retrieval score "
                f"alone {choice['score_alone']:.0%})." if choice["questions"] else " (kept: no letters recorded)."),
             "", "| fitted on | min_score | threshold | accuracy (answerable) | unanswerable refused | "
             "false refusals | wrong answers shown | right answers withdrawn |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {name} (out of fold) | {f.min_score['min_score']} | {f.gate.threshold} | {f.scores['accuracy']} | "
              f"{f.scores['refused_unanswerable']} | {f.scores['false_refusals']} | {f.scores['wrong_shown']} | "
              f"{f.scores['right_refused']} |" for name, f in fits.items()]
    if tests:
        lines += ["", "**Transfer**: each fit (retrieval floor and gate) deciding again the answers to a sample of each "
                      "test part (" + ", ".join(f"{n} {len(t)} questions" for n, t in tests.items())
                  + "), answered the same way:", "",
                  "| fitted on | scored on | " + " | ".join(k.replace("_", " ") for k in keys) + " |",
                  "|---|---|" + "---|" * len(keys)]
        for name, f in fits.items():
            for test_name, test_rows in tests.items():
                s = rescore(test_rows, f.gate, min_score=f.min_score["min_score"])
                lines.append(_row(f"{name} | {test_name} test", s, keys))
        for test_name, test_rows in tests.items():
            lines.append(_row(f"rules only, no floor | {test_name} test", rescore(test_rows, None), keys))
    lines += [f"- Not fitted on {name} alone: {why}." for name, why in unfit.items()]
    lines += ["", "**Operating points** (`RAG_GATE_RISK` reads the threshold of the fit on both corpora for its budget; "
                  "out of fold on the calibration parts" + (", and on the test samples" if tests else "") + "):", "",
              "| `RAG_GATE_RISK` | threshold | calibration: coverage / wrong answers shown | "
              + " | ".join(f"{n} test: accuracy / unanswerable refused / wrong shown" for n in tests) + " |",
              "|---|---|---|" + "---|" * len(tests)]
    for budget in RISKS:
        model = both.gate.at_risk(budget)
        at = trade_off(both.p, data, model.threshold)
        cells = [f"{t['accuracy']} / {t['refused_unanswerable']} / {t['wrong_shown']}"
                 for t in (rescore(rows_, model, min_score=both.min_score["min_score"]) for rows_ in tests.values())]
        lines.append(f"| {budget}{' (default)' if budget == risk else ''} | {model.threshold} | {at['coverage']} / "
                     f"{at['wrong_shown']} | " + " | ".join(cells) + " |")
    lines += ["", "What each layer adds, on both calibration parts (out of fold, same answers):", "",
              "| gate | threshold | accuracy (answerable) | unanswerable refused | false refusals | wrong answers shown "
              "| right answers withdrawn |", "|---|---|---|---|---|---|---|",
              _row("neither grounding rules nor gate | —", bare, keys) + " — |",
              f"| rules only (no gate) | — | {rules_only['accuracy']} | {rules_only['refused_unanswerable']} | "
              f"{rules_only['false_refusals']} | {rules_only['wrong_shown']} | 0 |"]
    lines += [f"| {name} | {s['threshold']} | {s['accuracy']} | {s['refused_unanswerable']} | {s['false_refusals']} | "
              f"{s['wrong_shown']} | {s['right_refused']} |" for name, s in ablation.items()]
    lines += ["", "Weights (standardised features):", "",
              "| feature | what | weight |", "|---|---|---|"]
    lines += [f"| {f} | {FEATURES[f]} | {c:+.2f} |" for f, c in zip(gate.features, gate.coef)]
    lines += ["", "![risk–coverage](gate-curve.png)", ""]
    (docs / "calibration.md").write_text("\n".join(lines), encoding="utf-8")
    (corpora[0].out / "ablation.json").write_text(json.dumps(ablation, indent=1), encoding="utf-8")
    at = both.scores
    return (f"gate fitted on {len(data['gated'])} answers of {' + '.join(rows)} → {model_file} (threshold "
            f"{gate.threshold}, min_score {floor['min_score']}); cross-validated: accuracy {at['accuracy']}, "
            f"unanswerable refused {at['refused_unanswerable']}, false refusals {at['false_refusals']}, wrong answers "
            f"shown {at['wrong_shown']}; report: {docs / 'calibration.md'}")
