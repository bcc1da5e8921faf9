"""``rag calibrate --ranker``: fit the sentence ranker (``rag.retrieval.ranker``) and measure it.

1. Every answerable question of the calibration parts of both corpora (the seeds' and the public
   set's) is retrieved as the pipeline does (one part: the whole question), and every sentence of
   its retrieved passages is a candidate with the ranker's features; the reference sentence — the
   one holding the item's ``evidence`` (``rag.evaluation.eval.reference_row``) — is the positive.
2. A logistic regression (scikit-learn, balanced classes) is cross-validated in 5 folds grouped by
   article (no article scored by a model that saw it): out-of-fold, the reference sentence's rank
   among its question's candidates, and whether it is inside the evidence at each budget.
3. The final weights, fitted on all of it, go to ``rag/retrieval/ranker.json``; then the test parts
   (never fitted on) are measured, hand-tuned score against the ranker, per corpus and language,
   in ``docs/ranker.md``. The budgets are counted in the LLM's own tokens.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from rag.answer import answertype
from rag.errors import RagError
from rag.evaluation.eval import load_qa, reference_row
from rag.retrieval import evidence, ranker, timefilter
from rag.retrieval.search import retrieve
from rag.settings import Settings

BUDGETS = (150, 250, 350, 450)     # the last one is Settings.evidence_tokens' default
PUBLIC = {"calibration": Path("eval/public/calibration.jsonl"), "test": Path("eval/public/test.jsonl"),
          "corpus": Path("eval/public/corpus")}
SEEDS_TEST = Path("eval/qa.jsonl")


def questions(settings: Settings, pipe, items: list[dict], count_tokens: Callable[[str], int], corpus: str) -> list[dict]:
    """The answerable items with a reference, each with its candidates' features, token costs and
    the row of its reference sentence (None when no retrieved passage holds it)."""
    items = [i for i in items if i.get("doc") and i.get("evidence")]
    if not items:
        return []
    store = pipe.store
    vectors = pipe.embedder.encode([i["question"] for i in items], "query")
    out = []
    for item, v in zip(items, vectors):
        q = item["question"]
        hits = retrieve(store, [q], v[None], settings.top_k, settings.candidates, settings.hybrid,
                        when=timefilter.parse(q))
        found = evidence.candidates(store, hits, v[None], [q], answertype.holds(q))
        rows = list(found)
        texts = [evidence.text_of(store, r) for r in rows]
        gold = reference_row([(store.sentences[r][0], t) for r, t in zip(rows, texts)], item)
        out.append({"id": item["id"], "lang": item["lang"], "doc": item["doc"], "corpus": corpus, "rows": rows,
                    "features": [found[r] for r in rows], "tokens": {r: count_tokens(t) + 4 for r, t in zip(rows, texts)},
                    "gold": None if gold is None else rows[gold]})
    return out


def _matrix(qs: list[dict], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[f[n] for n in names] for q in qs for f in q["features"]], dtype=float).reshape(-1, len(names))
    y = np.array([r == q["gold"] for q in qs for r in q["rows"]])
    return x, y


def fit(qs: list[dict], names: tuple[str, ...] = tuple(ranker.FEATURES)) -> ranker.Weights:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = _matrix([q for q in qs if q["gold"] is not None], names)
    if len(set(y.tolist())) < 2:
        raise RagError(f"the ranker needs questions whose reference sentence was retrieved, among others: "
                       f"{len(qs)} questions give {int(y.sum())} of {len(y)} candidates as references")
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(scaler.transform(x), y)
    return ranker.Weights(list(names), scaler.mean_.round(6).tolist(), np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
                          .round(6).tolist(), lr.coef_[0].round(6).tolist(), round(float(lr.intercept_[0]), 6))


def out_of_fold(qs: list[dict], folds: int = 5) -> list[dict[int, float]]:
    """Each question's candidate scores by a ranker fitted without its article (articles in ``folds`` groups)."""
    from sklearn.model_selection import GroupKFold

    groups = np.array([f"{q['corpus']}:{q['doc']}" for q in qs])
    scores: list[dict[int, float]] = [{} for _ in qs]
    for train, test in GroupKFold(n_splits=min(folds, len(set(groups)))).split(qs, groups=groups):
        weights = fit([qs[i] for i in train])
        for i in test:
            scores[i] = evidence.ranking(dict(zip(qs[i]["rows"], qs[i]["features"])), weights)
    return scores


def outcome(q: dict, order: dict[int, float], max_sentences: int) -> dict:
    """Where the reference sentence stands under ``order``: its rank (None: not retrieved), whether
    each budget's evidence holds it, and the tokens the default budget's evidence costs."""
    ranked = sorted(order, key=lambda r: -order[r])
    rank = ranked.index(q["gold"]) + 1 if q["gold"] is not None else None
    inside, tokens = {}, 0
    for budget in BUDGETS:
        chosen = evidence.fill(order, budget, max_sentences, q["tokens"].__getitem__)
        inside[budget] = q["gold"] in chosen
        tokens = sum(q["tokens"][r] for r in chosen)
    return {"rank": rank, "inside": inside, "tokens": tokens}


def measure(qs: list[dict], orders: list[dict[int, float]], max_sentences: int) -> dict:
    """Shares of questions whose reference sentence ranks 1st / in the top 3 / top 5 and is inside the
    evidence at each budget (a reference not retrieved counts as missed), and the median evidence tokens
    at the default budget."""
    results = [outcome(q, o, max_sentences) for q, o in zip(qs, orders)]
    n = len(results)

    def share(pred) -> float | None:
        return round(sum(1 for r in results if pred(r)) / n, 3) if n else None

    return {"n": n, "retrieved": share(lambda r: r["rank"] is not None),
            **{f"top{k}": share(lambda r, k=k: r["rank"] is not None and r["rank"] <= k) for k in (1, 3, 5)},
            **{f"in{b}": share(lambda r, b=b: r["inside"][b]) for b in BUDGETS},
            "tokens": round(statistics.median(r["tokens"] for r in results)) if n else None}


def smallest_budget(scores: dict, reference: dict) -> int | None:
    """The smallest budget at which ``scores`` keep the reference sentence in the evidence as often as
    ``reference`` does at the largest one (None: none does).

    >>> smallest_budget({"in150": 0.7, "in250": 0.8, "in350": 0.9, "in450": 0.9}, {"in450": 0.8})
    250
    """
    return next((b for b in BUDGETS if scores[f"in{b}"] >= reference[f"in{BUDGETS[-1]}"]), None)


def _row(name: str, m: dict) -> str:
    return (f"| {name} | {m['n']} | {m['retrieved']} | {m['top1']} / {m['top3']} / {m['top5']} | "
            + " / ".join(str(m[f"in{b}"]) for b in BUDGETS) + f" | {m['tokens']} |")


HEADER = ["| questions | n | reference retrieved | reference at rank 1 / 3 / 5 | inside the evidence at "
          + " / ".join(map(str, BUDGETS)) + " tokens | evidence tokens (median, " + str(BUDGETS[-1]) + ") |",
          "|---|---|---|---|---|---|"]


def run(settings: Settings, public: Settings, seeds_qa: dict, weights_file: Path, docs: Path,
        count_tokens: Callable[[str], int]) -> str:
    """Fit on both calibration parts, measure on both test parts; → a one-line summary."""
    from rag.pipeline import builder

    files = {"seeds": (settings, seeds_qa), "public": (public, PUBLIC)}
    data = {}
    for corpus, (s, qa) in files.items():
        pipe = builder.build(s)
        data[corpus] = {part: questions(s, pipe, load_qa(qa[part]), count_tokens, corpus) for part in ("calibration", "test")}
    cal = data["seeds"]["calibration"] + data["public"]["calibration"]
    most = settings.max_sentences
    oof = out_of_fold(cal)
    hand = [evidence.ranking(dict(zip(q["rows"], q["features"]))) for q in cal]
    weights = fit(cal)
    lines = [f"# Sentence ranker ({time.strftime('%Y-%m-%d %H:%M')})", "",
             "`rag calibrate --ranker`: the reference sentence (the one holding the item's `evidence`) among the "
             "sentences of the retrieved passages (one part: the whole question), ordered by the hand-tuned score "
             "or the fitted ranker; the evidence filled best-first within each budget, in the LLM's tokens "
             f"(at most {most} sentences). Calibration figures are out-of-fold (5 folds grouped by article); test "
             "figures come from the ranker fitted on both calibration parts, which never saw them.", "",
             "## Calibration parts (out-of-fold)", "", *HEADER]
    for corpus in files:
        picked = [i for i, q in enumerate(cal) if q["corpus"] == corpus]
        lines.append(_row(f"{corpus}: hand-tuned", measure([cal[i] for i in picked], [hand[i] for i in picked], most)))
        lines.append(_row(f"{corpus}: ranker", measure([cal[i] for i in picked], [oof[i] for i in picked], most)))
    lines += ["", "## Test parts", "", *HEADER]
    verdict, allowed = {}, {}
    for corpus in files:
        test = data[corpus]["test"]
        for lang in [None, *sorted({q["lang"] for q in test})]:
            qs = [q for q in test if lang is None or q["lang"] == lang]
            before = measure(qs, [evidence.ranking(dict(zip(q["rows"], q["features"]))) for q in qs], most)
            after = measure(qs, [evidence.ranking(dict(zip(q["rows"], q["features"])), weights) for q in qs], most)
            name = corpus + (f" {lang}" if lang else "")
            lines += [_row(f"{name}: hand-tuned", before), _row(f"{name}: ranker", after)]
            if lang is None:
                verdict[corpus] = (before[f"in{BUDGETS[-1]}"], after[f"in{BUDGETS[-1]}"])
                allowed[corpus] = smallest_budget(after, before)
    better = all(a > b for b, a in verdict.values())
    lines += ["", "Reference inside the evidence at the default budget, hand-tuned → ranker: "
              + "; ".join(f"{c} {b} → {a}" for c, (b, a) in verdict.items())
              + f". The ranker is {'better on both test parts' if better else 'not better on both test parts'}. "
              "Smallest budget at which the ranker keeps the reference as often as the hand-tuned score at "
              f"{BUDGETS[-1]}: " + "; ".join(f"{c} {b or 'none'}" for c, b in allowed.items()) + ".", "",
              "Weights (standardised features):", "", "| feature | what | weight |", "|---|---|---|"]
    lines += [f"| {f} | {ranker.FEATURES[f]} | {c:+.2f} |" for f, c in zip(weights.features, weights.coef)]
    weights = dataclasses.replace(weights, meta={
        "fitted": time.strftime("%Y-%m-%d %H:%M"), "on": [str(seeds_qa["calibration"]), str(PUBLIC["calibration"])],
        "questions": len(cal), "with_reference": sum(q["gold"] is not None for q in cal),
        "better_on_both_tests": better, "smallest_budget": allowed})
    weights.save(weights_file)
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "ranker.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return (f"ranker fitted on {len(cal)} calibration questions → {weights_file}; reference inside the evidence "
            f"at the default budget, hand-tuned → ranker: "
            + ", ".join(f"{c} {b} → {a}" for c, (b, a) in verdict.items()) + f"; report: {docs / 'ranker.md'}")
