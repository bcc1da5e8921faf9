"""Fitting the gate: the risk–coverage curve of the reader's P(answerable), the threshold read off it for a
risk budget, the gate file the pipeline reads, and which calibration questions are answered."""

import json
from pathlib import Path

import numpy as np
import pytest

from rag.answer.gate import OPEN, Gate
from rag.evaluation import calibrate
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _rows(n=300, seed=0):
    """Calibration answers: right answers mostly sure, wrong ones less, unanswerable questions least; a few
    refused by another check whatever their probability."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        answerable = i % 3 != 0
        correct = answerable and rng.random() < 0.85
        p = float(np.clip(rng.normal(0.8 if correct else 0.55 if answerable else 0.3, 0.15), 0, 1))
        rows.append({"p": round(p, 4), "answerable": answerable, "correct": correct, "refused": i % 41 == 0})
    return rows


def _shown(rows, t):
    return [r for r in rows if r["p"] >= t and not r["refused"]]


def test_each_point_counts_the_answers_shown_at_its_threshold():
    rows = _rows()
    points = calibrate.curve(rows)
    answerable = sum(r["answerable"] for r in rows)
    for point in points[::17] + points[-1:]:
        shown = _shown(rows, point["threshold"])
        assert point["coverage"] == round(sum(r["answerable"] and r["correct"] for r in shown) / answerable, 4)
        assert point["wrong_shown"] == round(sum(not (r["answerable"] and r["correct"]) for r in shown) / len(rows), 4)
    assert [p["threshold"] for p in points] == sorted({r["p"] for r in rows} | {1.01})


def test_a_higher_threshold_shows_fewer_answers_right_and_wrong():
    points = calibrate.curve(_rows())
    for a, b in zip(points, points[1:]):
        assert a["threshold"] < b["threshold"]
        assert a["coverage"] >= b["coverage"] and a["wrong_shown"] >= b["wrong_shown"]


def test_an_answer_to_an_unanswerable_question_and_a_wrong_answer_both_count_as_wrong_shown():
    rows = [{"p": 0.9, "answerable": False, "correct": False}, {"p": 0.8, "answerable": True, "correct": False},
            {"p": 0.7, "answerable": True, "correct": True}, {"p": 0.95, "answerable": True, "correct": True,
                                                               "refused": True}]
    points = {p["threshold"]: p for p in calibrate.curve(rows)}
    assert points[0.7] == {"threshold": 0.7, "coverage": round(1 / 3, 4), "wrong_shown": 0.5}
    assert points[0.9] == {"threshold": 0.9, "coverage": 0.0, "wrong_shown": 0.25}
    # A question another check refused is never shown, whatever its probability.
    assert points[0.95] == {"threshold": 0.95, "coverage": 0.0, "wrong_shown": 0.0}


def test_the_threshold_is_the_lowest_that_keeps_wrong_answers_shown_within_the_budget():
    rows = _rows()
    points = calibrate.curve(rows)
    t = calibrate.choose(points, 0.05)
    at = next(p for p in points if p["threshold"] == t)
    assert at["wrong_shown"] <= 0.05
    assert all(p["wrong_shown"] > 0.05 for p in points if p["threshold"] < t), "a lower one would break the budget"
    assert at["coverage"] > 0.3, "the budget still leaves answers"
    looser = calibrate.choose(points, 0.2)
    assert looser < t and next(p for p in points if p["threshold"] == looser)["coverage"] > at["coverage"]
    assert calibrate.choose(points, 1.0) == points[0]["threshold"], "no budget: every answer shown"


def test_the_curve_ends_at_refusing_every_answer_a_strict_budget_falls_back_on():
    rows = [{"p": 0.97, "answerable": False, "correct": False}, {"p": 0.6, "answerable": True, "correct": True}]
    points = calibrate.curve(rows)
    assert points[-1] == {"threshold": 1.01, "coverage": 0.0, "wrong_shown": 0.0}
    strict = Gate(calibrate.choose(points, 0.0))
    assert strict.threshold == 1.01 and not strict.passes(1.0) and not strict.passes(0.97) and not strict.passes(0.6)


def test_the_saved_gate_reads_every_budget_off_its_curve_as_the_fit_did(tmp_path):
    points = calibrate.curve(_rows())
    Gate(calibrate.choose(points, 0.05), points, {"risk": 0.05}).save(tmp_path / "gate.json")
    loaded = Gate.load(tmp_path / "gate.json")
    assert json.loads((tmp_path / "gate.json").read_text())["threshold"] == loaded.threshold
    for risk in (0.02, 0.05, 0.1, 0.3, 1.0):
        assert loaded.at_risk(risk).threshold == calibrate.choose(points, risk)
    t = loaded.threshold
    assert loaded.passes(t) and not loaded.passes(t - 0.001)


def test_the_pipeline_reads_the_gate_for_its_risk_budget_and_none_with_rag_gate_0(tmp_path):
    from rag.pipeline import parts

    points = calibrate.curve(_rows())
    Gate(calibrate.choose(points, 0.05), points).save(tmp_path / "gate.json")
    read = {risk: parts.gate_model(Settings.load(env={}, gate_file=str(tmp_path / "gate.json"), gate_risk=risk))
            for risk in (0.05, 0.2)}
    assert read[0.05].threshold == calibrate.choose(points, 0.05) > read[0.2].threshold == calibrate.choose(points, 0.2)
    assert parts.gate_model(Settings.load(env={"RAG_GATE": "0"}, gate_file=str(tmp_path / "gate.json"))) is OPEN


@pytest.mark.parametrize("content, message", [(None, "run rag calibrate"), ("{", "unreadable"),
                                              ('{"curve": []}', "unreadable")])
def test_a_missing_or_broken_gate_file_says_to_run_rag_calibrate(tmp_path, content, message):
    from rag.errors import RagError

    path = tmp_path / "gate.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RagError, match=message):
        Gate.load(path)


# ---- which questions are answered ------------------------------------------------------------------
def _corpus(tmp_path, corpus, keep):
    settings = Settings.load(env={}, corpus=corpus, index=tmp_path / "index", min_score=0.0)
    return calibrate.Corpus("seeds", settings, ROOT / "eval" / "calibration.jsonl", tmp_path / "out", keep)


def test_only_kept_questions_are_answered_in_extract_mode_with_the_gate_off(tmp_path, corpus, fake_models):
    from rag.evaluation.eval import load_qa

    items = load_qa(ROOT / "eval" / "calibration.jsonl")
    keep = frozenset(i["id"] for i in items[1::7])
    rows = calibrate.rows_of(_corpus(tmp_path, corpus, keep), limit=5)
    assert len(rows) == 5 and {r["id"] for r in rows} <= keep
    [pipe] = fake_models
    assert pipe.settings.answer == "extract" and not pipe.settings.gate
    assert pipe.generator.prompts == [], "no LLM"
    for r in rows:
        assert set(r) == {"id", "corpus", "lang", "p", "answerable", "correct", "refused"} and 0 <= r["p"] <= 1
    # Answered and cached like rag eval's, with no gate: the threshold is what is being fitted.
    cached = [json.loads(line) for line in (tmp_path / "out" / "cache.jsonl").read_text().splitlines()]
    assert [c["id"] for c in cached] == [r["id"] for r in rows]
    assert all("unanswerable" not in check["checked"] for c in cached for check in c["answer"]["checks"])
    assert [c["answer"]["reader"]["p_answer"] for c in cached if c["answer"]["reader"]] == \
        [r["p"] for r, c in zip(rows, cached) if c["answer"]["reader"]]


def test_a_corpus_with_no_kept_question_answers_none(tmp_path, corpus, fake_models):
    """Not every question: those the reader trained on would flatter it."""
    assert calibrate.rows_of(_corpus(tmp_path, corpus, frozenset()), limit=5) == []
    assert fake_models == [], "no pipeline was even built"
