"""``rag calibrate`` as a user runs it, with the fake models: both corpora's calibration parts answered in
extract mode, the gate file and the report written."""

import json
import shutil
from pathlib import Path

from rag.answer.gate import Gate
from rag.evaluation import calibrate
from rag.reader import training

from conftest import SEEDS

ROOT = SEEDS.parent


def test_rag_calibrate_writes_the_gate_and_its_report(rag, user, fake_models):
    project = Path.cwd()
    shutil.copytree(ROOT / "eval" / "public", project / "eval" / "public")
    result = rag("rag calibrate --limit 6          # a quick refit on six questions of each calibration part")
    assert result.exit_code == 0, result.output
    assert "gate fitted on 12 calibration questions the reader never trained on (seeds 6, public 6)" in result.stdout
    assert "wrong answers shown ≤ 5%" in result.stdout
    # Where the packaged gate would be (rag/answer/gate.json; here the project's, see the `user` fixture).
    gate = Gate.load(project / "gate.json")
    assert gate.meta["corpora"] == {"seeds": 6, "public": 6} and gate.meta["risk"] == 0.05
    assert gate.threshold == calibrate.choose(gate.curve, 0.05) == gate.at_risk(0.05).threshold
    assert [p["threshold"] for p in gate.curve] == sorted(p["threshold"] for p in gate.curve)
    assert gate.curve[-1]["threshold"] == 1.01
    # Retrieval and the reader only: no model was asked anything.
    assert fake_models and all(p.generator.prompts == [] and p.settings.answer == "extract" for p in fake_models)
    # Of the seeds, only the questions the reader kept out of its training.
    asked = [json.loads(line)["id"] for line in
             (project / "eval" / "out" / "calibration" / "cache.jsonl").read_text().splitlines()]
    assert len(asked) == 6 and set(asked) <= training.dev_ids(project / "eval" / "calibration.jsonl")
    report = (project / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert f"**{gate.threshold:.3f}**" in report
    for corpus in ("both", "seeds", "public"):
        assert f"| {corpus} | {12 if corpus == 'both' else 6} |" in report
    assert (project / "docs" / "gate-curve.png").stat().st_size > 1000


def test_a_looser_risk_budget_writes_a_lower_threshold(rag, user):
    strict = rag("rag calibrate --no-public --limit 12 --risk 0")
    assert strict.exit_code == 0, strict.output
    strict_gate = Gate.load(Path.cwd() / "gate.json")
    loose = rag("rag calibrate --no-public --limit 12 --risk 1 --gate-file ~/loose.json --docs ~/docs")
    assert loose.exit_code == 0, loose.output
    loose_gate = Gate.load(user / "loose.json")
    assert loose_gate.threshold < strict_gate.threshold
    assert loose_gate.curve == strict_gate.curve, "the same answers"
    cache = Path.cwd() / "eval" / "out" / "calibration" / "cache.jsonl"
    assert len(cache.read_text().splitlines()) == 12, "asked once, then read from the cache"
    assert (user / "docs" / "calibration.md").exists()


def test_without_the_public_set_it_says_what_to_do(rag, user):
    result = rag("rag calibrate --limit 2")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: no eval/public/calibration.jsonl here: run from the project's folder, "
                                     "or pass --no-public")
    assert not (Path.cwd() / "gate.json").exists()
