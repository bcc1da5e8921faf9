"""The README's commands for news folders, typed as a user would (fast: the fake models of
tests/conftest.py over ~/news, a folder of every format; one integration run with the real model):
``rag index`` on mixed formats, ``rag articles``, ``rag feedback export``, ``rag serve`` on that folder."""

from __future__ import annotations

import json

import pytest

from rag.evaluation import feedback
from rag.evaluation.eval import load_qa

INDEX_NEWS = "rag index --corpus ~/news --index ~/news/.rag   # a folder of .html .pdf .docx .rss .jsonl .txt … (below)"


def test_rag_index_reads_every_format_and_counts_them(rag):
    result = rag("rag index --corpus ~/news --index ~/news/.rag   # a folder of .html .pdf .docx .rss .jsonl .txt …")
    assert result.exit_code == 0, result.stderr
    assert "indexed 9 articles" in result.stdout
    assert "formats: 1 docx, 3 feed, 1 html, 2 jsonl, 1 pdf, 1 txt; 3 skipped" in result.stdout
    assert "warning: depeches.rss:" in result.stderr and "Brève sans texte" in result.stderr


def test_rag_articles_lists_title_date_source_and_passages(rag):
    rag(INDEX_NEWS)
    table = rag("rag articles --index ~/news/.rag                # the corpus: date, title, source, passages")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["date", "title", "source", "passages"]
    assert lines[1].startswith("2024-05-20  Canton accueille une foire du numérique")     # newest first
    assert "Le Courrier du Port" in table.stdout and lines[-1] == "9 articles"
    listed = rag("rag articles --index ~/news/.rag --json         # the same as JSON (id, url, language, format, copies)")
    rows = json.loads(listed.stdout)
    ningbo = next(r for r in rows if r["id"] == "ningbo.html")
    assert ningbo["title"] == "Ningbo bat son record de conteneurs" and ningbo["date"] == "2024-01-15"
    assert ningbo["source"] == "Le Courrier du Port" and ningbo["passages"] >= 1 and ningbo["format"] == "html"
    assert len(rows) == 9


def _rate_three_answers(index) -> None:
    """A liked answer, a disliked one with the right answer as comment, a disliked one without."""
    cited = {"n": 1, "doc": "000_00be9f381121e8cb.txt", "text": "91 entreprises membres", "start": 0, "end": 22}
    liked = {"question": "Combien d'entreprises ?", "lang": "fr", "answer": "91 entreprises [1].", "refused": False,
             "citations": [cited], "passages": [{"doc": cited["doc"], "score": 0.9}]}
    feedback.record(index, liked, True)
    feedback.record(index, {**liked, "question": "Combien de membres visés ?", "answer": "91 membres [1]."}, False,
                    "200 membres d'ici 2025")
    feedback.record(index, {**liked, "question": "Et Alibaba ?"}, False)


def test_rag_feedback_export_writes_eval_cases(rag, user):
    _rate_three_answers(user / "news" / ".rag")
    result = rag("rag feedback export --index ~/news/.rag --out my-cases.jsonl   # readers' 👍/👎 as eval cases")
    assert result.exit_code == 0, result.stderr
    assert "2 cases written; 1 disliked" in result.stderr
    out = user.parent / "project" / "my-cases.jsonl"
    cases = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert cases[0] == {"id": "fr-fb-001", "lang": "fr", "question": "Combien d'entreprises ?",
                        "doc": "000_00be9f381121e8cb.txt", "evidence": "91 entreprises membres",
                        "answer": "91 entreprises.", "must_match": ["91"], "type": "number"}
    assert cases[1]["answer"] == "200 membres d'ici 2025" and cases[1]["must_match"] == ["200", "2025"]
    assert cases[1]["doc"] == "000_00be9f381121e8cb.txt" and cases[1]["evidence"] is None
    assert len(load_qa(out)) == 2, "rag eval --qa reads the file"


def test_a_liked_refusal_is_exported_as_a_question_to_refuse(rag, user):
    index = user / "news" / ".rag"
    refusal = {"question": "Quelle couleur a le drapeau de Hangzhou ?", "lang": "fr", "refused": True,
               "answer": "Les articles ne le disent pas : aucune phrase des articles ne l'énonce.", "citations": [],
               "passages": [{"doc": "000_00be9f381121e8cb.txt", "score": 0.5}]}
    feedback.record(index, refusal, True)
    result = rag("rag feedback export --index ~/news/.rag")
    assert result.exit_code == 0 and result.stderr == "1 cases written\n", result.stderr
    [case] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (case["doc"], case["must_match"], case["type"]) == (None, [], "unanswerable")
    assert case["answer"] == refusal["answer"]


def test_rag_feedback_export_without_options_reads_dot_rag_and_writes_stdout(rag, user):
    _rate_three_answers(user.parent / "project" / ".rag")
    result = rag("rag feedback export")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["question"] for line in result.stdout.splitlines()] == \
        ["Combien d'entreprises ?", "Combien de membres visés ?"]


def test_feedback_export_without_feedback_is_one_line(rag, user):
    result = rag("rag feedback export --index ~/news/.rag")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: no feedback in '" + str(user / "news" / ".rag") +
                                          "': rate answers with 👍/👎 in the web chat first"]


def test_readme_serve_command_on_a_news_folder(rag, user, fake_models, no_server):
    result = rag("rag --corpus ~/news --index ~/news/.rag serve     # the web chat on that folder")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["loading models…", "ready on http://127.0.0.1:7860"]
    settings = fake_models[-1].settings
    assert (settings.corpus, settings.index) == (user / "news", user / "news" / ".rag")
    assert len(fake_models[-1].store.articles()) == 9, "the chat opens on the news folder's index"


@pytest.mark.integration
def test_rag_index_on_a_mixed_folder_with_the_real_model(rag_real):
    run = rag_real(INDEX_NEWS, env={"HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    assert "formats: 1 docx, 3 feed, 1 html, 2 jsonl, 1 pdf, 1 txt" in run.stdout
    listed = rag_real("rag articles --index ~/news/.rag --json", env={"HF_HUB_OFFLINE": "1"})
    assert {r["format"] for r in json.loads(listed.stdout)} == {"docx", "feed", "html", "jsonl", "pdf", "txt"}
