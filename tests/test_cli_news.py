"""The README's commands for news folders: ``rag index`` on mixed formats, ``rag articles``,
``rag feedback export`` (fast: the fake embedder; one integration run with the real model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT, FakeEmbedder
from fixtures_news import write_news_folder

from rag import feedback
from rag.cli import main


@pytest.fixture
def fake_models(monkeypatch):
    import rag.pipeline

    monkeypatch.setattr(rag.pipeline.Pipeline, "embedder", property(lambda self: FakeEmbedder()))


@pytest.fixture
def news(tmp_path):
    return write_news_folder(tmp_path / "news")


def invoke(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_rag_index_reads_every_format_and_counts_them(news, tmp_path, fake_models):
    # README: rag index --corpus ~/news --index ~/news/.rag
    result = invoke("index", "--corpus", str(news), "--index", str(news / ".rag"))
    assert result.exit_code == 0, result.output
    assert "indexed 9 articles" in result.output
    assert "formats: 1 docx, 3 feed, 1 html, 2 jsonl, 1 pdf, 1 txt; 3 skipped" in result.output
    assert "warning: depeches.rss:" in result.output and "Brève sans texte" in result.output


def test_rag_articles_lists_title_date_source_and_passages(news, fake_models):
    invoke("index", "--corpus", str(news), "--index", str(news / ".rag"))
    # README: rag articles --index ~/news/.rag
    table = invoke("articles", "--index", str(news / ".rag"))
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["date", "title", "source", "passages"]
    assert lines[1].startswith("2024-05-20  Canton accueille une foire du numérique")     # newest first
    assert "Le Courrier du Port" in table.output and lines[-1] == "9 articles"
    # README: rag articles --index ~/news/.rag --json
    rows = json.loads(invoke("articles", "--index", str(news / ".rag"), "--json").output)
    ningbo = next(r for r in rows if r["id"] == "ningbo.html")
    assert ningbo["title"] == "Ningbo bat son record de conteneurs" and ningbo["date"] == "2024-01-15"
    assert ningbo["source"] == "Le Courrier du Port" and ningbo["passages"] >= 1 and ningbo["format"] == "html"


def test_rag_feedback_export_writes_eval_cases(tmp_path):
    index = tmp_path / "idx"
    cited = {"n": 1, "doc": "000_00be9f381121e8cb.txt", "text": "91 entreprises membres", "start": 0, "end": 22}
    liked = {"question": "Combien d'entreprises ?", "lang": "fr", "answer": "91 entreprises [1].", "refused": False,
             "citations": [cited], "passages": [{"doc": cited["doc"], "score": 0.9}]}
    wrong = {**liked, "question": "Combien de membres visés ?", "answer": "91 membres [1]."}
    silent = {**liked, "question": "Et Alibaba ?"}
    feedback.record(index, liked, True)
    feedback.record(index, wrong, False, "200 membres d'ici 2025")
    feedback.record(index, silent, False)
    # README: rag feedback export --index .rag --out my-cases.jsonl
    out = tmp_path / "my-cases.jsonl"
    result = CliRunner().invoke(main, ["feedback", "export", "--index", str(index), "--out", str(out)])
    assert result.exit_code == 0 and "2 cases written; 1 disliked" in result.output
    cases = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert cases[0] == {"id": "fr-fb-001", "lang": "fr", "question": "Combien d'entreprises ?",
                        "doc": "000_00be9f381121e8cb.txt", "evidence": "91 entreprises membres",
                        "answer": "91 entreprises.", "must_match": ["91"], "type": "number"}
    assert cases[1]["answer"] == "200 membres d'ici 2025" and cases[1]["must_match"] == ["200", "2025"]
    assert cases[1]["doc"] == "000_00be9f381121e8cb.txt" and cases[1]["evidence"] is None
    from rag.eval import load_qa

    assert len(load_qa(out)) == 2, "rag eval --qa reads the file"


def test_feedback_export_without_feedback_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["feedback", "export", "--index", str(tmp_path)])
    assert result.exit_code == 1 and "no feedback" in result.output


@pytest.mark.integration
def test_rag_index_on_a_mixed_folder_with_the_real_model(news):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--corpus", str(news), "--index",
                          str(news / ".rag")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "formats: 1 docx, 3 feed, 1 html, 2 jsonl, 1 pdf, 1 txt" in run.stdout
    listed = subprocess.run([sys.executable, "-m", "rag.cli", "articles", "--index", str(news / ".rag"), "--json"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert {r["format"] for r in json.loads(listed.stdout)} == {"docx", "feed", "html", "jsonl", "pdf", "txt"}


def test_readme_serve_command_on_a_news_folder(news, monkeypatch):
    # README: rag --corpus ~/news --index ~/news/.rag serve
    import rag.app

    seen = {}
    monkeypatch.setattr(rag.app, "serve", lambda settings, host, port: seen.update(s=settings, port=port))
    result = invoke("--corpus", str(news), "--index", str(news / ".rag"), "serve")
    assert result.exit_code == 0, result.output
    assert seen["s"].corpus == news and seen["s"].index == news / ".rag" and seen["port"] == 7860
