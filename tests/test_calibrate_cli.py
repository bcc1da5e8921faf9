"""``rag calibrate`` end to end with the fake models: answers, fit, gate file and report."""

import json
import re

from click.testing import CliRunner

from rag import cli
from rag.answer.gate import GateModel

from conftest import SEEDS, FakeEmbedder, FakeGenerator

ROOT = SEEDS.parent


def test_rag_calibrate_writes_a_gate_the_pipeline_can_load(tmp_path, monkeypatch, corpus):
    files = ("calibration.jsonl", "qa.jsonl", "public/calibration.jsonl", "public/test.jsonl")
    items = [json.loads(line) for f in files for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines()]
    answers = {i["question"]: i["answer"] for i in items}

    def oracle(messages):
        """Right for answerable questions, a confident invention for the others."""
        asked = re.search(r"^(Question|Follow-up): (.*)$", messages[-1]["content"], re.MULTILINE)
        if asked.group(1) == "Follow-up":       # a follow-up's rewrite: the question as it stands
            return asked.group(2)
        question = asked.group(2)
        reference = answers.get(question, "")
        return "La réponse est le Zhejiang." if reference.startswith(("Les articles", "The articles")) else reference

    monkeypatch.setattr("rag.pipeline.parts.generator", lambda settings: FakeGenerator(oracle))
    monkeypatch.setattr("rag.pipeline.parts.embedder", lambda settings: FakeEmbedder())
    out = CliRunner().invoke(cli.main, ["--corpus", str(corpus), "--index", str(tmp_path / "index"), "calibrate",
                                        "--limit", "40", "--out", str(tmp_path / "out"), "--docs", str(tmp_path / "docs"),
                                        "--gate-file", str(tmp_path / "gate.json"), "--public-index",
                                        str(tmp_path / "public"), "--test", str(ROOT / "eval" / "qa.jsonl"),
                                        "--test-limit", "12", "--test-out", str(tmp_path / "test")])
    assert out.exit_code == 0, out.output
    assert "gate fitted on" in out.output and "wrong answers shown" in out.output
    gate = GateModel.load(tmp_path / "gate.json")
    assert gate.features and gate.meta["questions"]["public"] <= 40 and gate.meta["questions"][corpus.name] <= 40
    assert gate.meta["on"] == ["eval/calibration.jsonl", "eval/public/calibration.jsonl"]
    report = (tmp_path / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert "| rules only (no gate) |" in report and "| without grade |" in report
    for fitted in ("both corpora", f"{corpus.name} alone", "public alone"):       # transfer, both ways
        for scored in (corpus.name, "public"):
            assert re.search(rf"^\| {fitted} \| {scored} test \| [\d.]+ \|", report, re.MULTILINE), (fitted, scored)
    assert (tmp_path / "docs" / "gate-curve.png").stat().st_size > 1000
