"""Fitting the answer step: retrieval floor, gate threshold within the risk budget, out-of-fold by article."""

import json

import numpy as np

from rag.evaluation import calibrate
from rag.answer.gate import GateModel, decide
from rag.answer.grounding import Grounding


def _row(i, answerable, correct, grade, p_none, doc, hard_refused=False):
    features = {"p_none": p_none, "p_source": 0.8, "grade": grade, "type_match": 1.0, "names_missing": 0.0,
                "retrieval": 0.85, "evidence": 0.9, "english": float(i % 2)}
    check = {} if hard_refused else {"answer": True, "features": features}
    return {"item": {"id": f"q{i}", "type": "fact" if answerable else "unanswerable", "doc": doc if answerable else None},
            "answer": {"checks": [check], "passages": [{"doc": doc}]},
            "score": {"answerable": answerable, "correct": correct if answerable else None}}


def _rows(n=200, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        answerable = i % 3 != 0
        correct = answerable and rng.random() < 0.85
        # Right answers get high grades and low P(NONE), wrong ones a little less, unanswerables much less.
        grade = rng.normal(1.6 if correct else 1.3 if answerable else 0.7, 0.3)
        p_none = float(np.clip(rng.normal(0.1 if correct else 0.15 if answerable else 0.4, 0.1), 0, 1))
        rows.append(_row(i, answerable, correct, grade, p_none, f"doc{i % 5}", hard_refused=i % 41 == 0))
    return rows


def test_the_threshold_is_the_lowest_that_keeps_wrong_answers_shown_within_the_budget(tmp_path):
    data = calibrate.dataset(_rows())
    gate, scores, p = calibrate.fit(data, ["p_none", "grade"], risk=0.05)
    assert scores["wrong_shown"] <= 0.05
    assert scores["refused_unanswerable"] >= 0.8, scores
    lower = max((t for t in np.round(p, 4) if t < gate.threshold), default=0.0)
    assert calibrate.trade_off(p, data, lower)["wrong_shown"] > 0.05, "a lower threshold would break the budget"
    looser, _, _ = calibrate.fit(data, ["p_none", "grade"], risk=0.2)
    assert looser.threshold < gate.threshold
    assert gate.coef[0] < 0 < gate.coef[1], "P(NONE) counts against answering, the grade for it"
    rules_only = calibrate.trade_off(np.ones(len(data["y"])), data, 0.0)
    assert scores["refused_unanswerable"] > rules_only["refused_unanswerable"]


def test_the_saved_gate_decides_as_the_fitted_one(tmp_path):
    data = calibrate.dataset(_rows())
    gate, _, _ = calibrate.fit(data, ["p_none", "grade"], risk=0.05)
    gate.save(tmp_path / "gate.json")
    loaded = GateModel.load(tmp_path / "gate.json")
    assert json.loads((tmp_path / "gate.json").read_text())["threshold"] == gate.threshold
    good = decide({"p_none": 0.02, "grade": 1.9}, Grounding(True), loaded)
    bad = decide({"p_none": 0.6, "grade": 0.3}, Grounding(True), loaded)
    assert good.answer and not bad.answer and bad.failed in ("p_none", "grade")


def test_out_of_fold_probabilities_never_come_from_a_model_that_saw_the_article():
    data = calibrate.dataset(_rows())
    x = calibrate._matrix(data["gated"], ["grade"])
    y = data["y"].copy()
    groups = data["groups"]
    # Make one article's labels the opposite of what its grades say: a model that saw it
    # would learn it; out-of-fold predictions for it must still follow the other articles.
    flipped = groups == "doc0"
    y[flipped] = ~y[flipped]
    p = calibrate.out_of_fold(x, y, groups)
    high = x[:, 0] > 1.5
    assert p[flipped & high].mean() > 0.5


def test_rescore_decides_cached_answers_again_with_another_gate():
    """A right answer the gate withdrew counts as right under the rules alone, and as refused under the gate."""
    def row(answerable, refused, text, p, features):
        return {"item": {"must_match": ["91"] if answerable else []},
                "answer": {"refused": refused, "answer": "refusal" if refused else text,
                           "withdrawn": text if refused else "", "checks": [{"probability": p, "features": features}]},
                "score": {"answerable": answerable, "refused": refused, "correct": answerable and not refused}}
    gate = GateModel(features=["grade"], mean=[1.0], scale=[0.5], coef=[3.0], intercept=0.0, threshold=0.5)
    rows = [row(True, True, "91 entreprises", 0.3, {"grade": 0.9}),     # withdrawn by the live gate
            row(True, False, "91 entreprises", 0.9, {"grade": 1.8}),
            row(False, False, "Jack Ma", 0.8, {"grade": 1.7})]
    assert calibrate.rescore(rows, None) == {"accuracy": 1.0, "refused_unanswerable": 0.0, "false_refusals": 0.0,
                                             "wrong_shown": 0.333}
    assert calibrate.rescore(rows, gate) == {"accuracy": 0.5, "refused_unanswerable": 0.0, "false_refusals": 0.5,
                                             "wrong_shown": 0.333}
    for r, score in zip(rows, (0.9, 0.9, 0.7)):
        r["answer"]["passages"] = [{"score": score}]
    assert calibrate.rescore(rows, gate, min_score=0.8)["wrong_shown"] == 0.0, "the floor refuses Jack Ma"


def test_rescore_without_the_rules_shows_what_they_withdrew():
    """An answer a grounding rule withdrew (no gate probability) counts as shown when the rules are off."""
    def row(answerable, text, failed):
        check = {"answer": False, "failed": failed, "probability": None, "features": {"grade": 1.5}}
        return {"item": {"must_match": ["91"] if answerable else []},
                "answer": {"refused": True, "answer": "refusal", "withdrawn": text, "checks": [check]},
                "score": {"answerable": answerable, "refused": True, "correct": False}}
    rows = [row(True, "91 entreprises", "unit"), row(False, "8 milliards", "invented_figure")]
    assert calibrate.rescore(rows, None) == {"accuracy": 0.0, "refused_unanswerable": 1.0, "false_refusals": 1.0,
                                             "wrong_shown": 0.0}
    assert calibrate.rescore(rows, None, rules=False) == {"accuracy": 1.0, "refused_unanswerable": 0.0,
                                                          "false_refusals": 0.0, "wrong_shown": 0.5}


def test_the_source_weight_is_refitted_from_the_recorded_letters():
    """Where the model hesitates and the retrieval score knows, the fitted weight follows the score."""
    def row(i, gold_first):
        gold, other = "L'association compte 91 membres.", "Elle a été créée samedi."
        letters = [{"label": "A", "p": 0.55, "score": 0.80, "doc": "d", "text": other},
                   {"label": "B", "p": 0.45, "score": 0.95, "doc": "d", "text": gold}]
        if gold_first:
            letters[0]["text"], letters[1]["text"] = gold, other
            letters[0]["score"], letters[1]["score"] = 0.95, 0.80
        return {"item": {"doc": "d", "evidence": "compte 91 membres"},
                "answer": {"checks": [{"letters": letters}], "passages": [{"doc": "d"}]},
                "score": {"answerable": True}}
    rows = [row(i, i % 2 == 0) for i in range(10)]
    fitted = calibrate.source_choice(rows, current=0.0)
    assert fitted["questions"] == 10 and fitted["weight"] > 0
    assert fitted["model_alone"] == 0.5 and fitted["chosen_right"] == 1.0
    assert calibrate.source_choice([{**rows[0], "answer": {"checks": [{}], "passages": []}}], 7.0)["weight"] == 7.0


def test_the_retrieval_floor_refuses_few_right_answers_and_keeps_them_from_the_gate():
    rows = _rows()
    for i, r in enumerate(rows):       # right answers retrieve well, unanswerables mostly poorly
        r["answer"]["passages"] = [{"doc": "d", "score": 0.9 - 0.002 * (i % 7) if r["score"]["correct"]
                                    else 0.75 + 0.02 * (i % 5)}]
    floor = calibrate.choose_min_score(rows, max_lost=0.02)
    assert floor["right_lost"] <= 0.02 * floor["right"] and floor["unanswerable_refused"] > 0
    below = sum(calibrate.best_score(r) < floor["min_score"] for r in calibrate.dataset(rows)["gated"])
    data = calibrate.dataset(rows, floor["min_score"])
    assert len(data["gated"]) == len(calibrate.dataset(rows)["gated"]) - below
    assert data["hard_refused_unanswerable"] > calibrate.dataset(rows)["hard_refused_unanswerable"]


def test_articles_of_two_corpora_are_told_apart():
    row = {"item": {"doc": "001.txt"}, "answer": {"passages": []}}
    assert calibrate._group({**row, "corpus": "seeds"}) != calibrate._group({**row, "corpus": "public"})


def test_the_risk_budget_reads_its_threshold_off_the_fitted_curve(tmp_path):
    from rag.pipeline import parts
    from rag.settings import Settings

    data = calibrate.dataset(_rows())
    gate, _, _ = calibrate.fit(data, ["p_none", "grade"], risk=0.05)
    looser, _, _ = calibrate.fit(data, ["p_none", "grade"], risk=0.2)
    gate.save(tmp_path / "gate.json")
    read = {risk: parts.gate_model(Settings.load(env={}, gate_file=str(tmp_path / "gate.json"), gate_risk=risk))
            for risk in (0.05, 0.2, 1.0)}
    assert read[0.05].threshold == gate.threshold and read[0.2].threshold == looser.threshold
    assert read[1.0].threshold == 0.0 < read[0.2].threshold < read[0.05].threshold
