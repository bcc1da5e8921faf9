"""``rag calibrate`` end to end with the fake models: answers, fit, gate file and report."""

import json
import re

from click.testing import CliRunner

from rag import cli
from rag.answer.gate import GateModel

from conftest import SEEDS, FakeEmbedder, FakeGenerator

ROOT = SEEDS.parent


def test_rag_calibrate_writes_a_gate_the_pipeline_can_load(tmp_path, monkeypatch, corpus):
    items = [json.loads(line) for line in (ROOT / "eval" / "calibration.jsonl").read_text(encoding="utf-8").splitlines()]
    answers = {i["question"]: i["answer"] for i in items}

    def oracle(messages):
        """Right for answerable questions, a confident invention for the others."""
        question = re.search(r"^Question: (.*)$", messages[-1]["content"], re.MULTILINE).group(1)
        reference = answers.get(question, "")
        return "La réponse est le Zhejiang." if reference.startswith(("Les articles", "The articles")) else reference

    monkeypatch.setattr("rag.pipeline.parts.generator", lambda settings: FakeGenerator(oracle))
    monkeypatch.setattr("rag.pipeline.parts.embedder", lambda settings: FakeEmbedder())
    out = CliRunner().invoke(cli.main, ["--corpus", str(corpus), "--index", str(tmp_path / "index"), "calibrate",
                                        "--limit", "40", "--out", str(tmp_path / "out"), "--docs", str(tmp_path / "docs"),
                                        "--gate-file", str(tmp_path / "gate.json")], env={"RAG_MIN_SCORE": "0"})
    assert out.exit_code == 0, out.output
    assert "gate fitted on" in out.output and "false refusals" in out.output
    gate = GateModel.load(tmp_path / "gate.json")
    assert gate.features and gate.meta["questions"] <= 40
    report = (tmp_path / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert "| rules only (no gate) |" in report and "| without grade |" in report
    assert (tmp_path / "docs" / "gate-curve.png").stat().st_size > 1000
