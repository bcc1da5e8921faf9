"""``rag ask --article/--since/--until`` and ``rag articles --since/--until``: what the web chat's
corpus panel restricts, from the command line (fake models, the news folder of every format)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def news(rag):
    built = rag("rag index --corpus ~/news --index ~/news/.rag")
    assert built.exit_code == 0, built.stderr


def test_ask_only_from_the_chosen_article(rag, news):
    result = rag('rag ask "Combien de fabricants de robots industriels compte Suzhou ?" --index ~/news/.rag '
                 '--article note.docx')
    assert result.exit_code == 0, result.stderr
    assert "300" in result.stdout and "(note.docx, chars" in result.stdout
    other = rag('rag ask "Combien de fabricants de robots industriels compte Suzhou ?" --index ~/news/.rag '
                '--article ningbo.html --json')
    answer = json.loads(other.stdout)
    assert {c["doc"] for c in answer["citations"]} <= {"ningbo.html"}
    assert {p["doc"] for p in answer["passages"]} == {"ningbo.html"}


def test_ask_only_from_articles_of_a_date_range(rag, news):
    result = rag('rag ask "Combien d\'entreprises ?" --index ~/news/.rag --since 2024-04 --until "30 avril 2024" '
                 '--json')
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["passages"] and all(p["date"].startswith("2024-04") for p in answer["passages"]), answer["passages"]
    assert "40" in answer["answer"] or answer["refused"]


def test_batch_questions_share_the_restriction(rag, user, news):
    (user / "questions.jsonl").write_text("\n".join(json.dumps({"question": q}, ensure_ascii=False) for q in [
        "Combien de fabricants de robots ?", "Combien de conteneurs ?"]) + "\n", encoding="utf-8")
    result = rag("rag ask --batch ~/questions.jsonl --index ~/news/.rag --article note.docx --json")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all({p["doc"] for p in r["passages"]} <= {"note.docx"} for r in rows)


def test_a_restriction_that_holds_no_article_is_a_refusal(rag, news):
    result = rag('rag ask "Combien de conteneurs ?" --index ~/news/.rag --since 2030 --json')
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["refused"] and not answer["citations"] and not answer["passages"]


@pytest.mark.parametrize("line, message", [
    ('rag ask "Combien ?" --index ~/news/.rag --article nowhere.txt',
     "no article 'nowhere.txt' in the index: `rag articles --json` lists their ids"),
    ('rag ask "Combien ?" --index ~/news/.rag --since someday',
     "date not understood: 'someday' (try 2024-04 or 12 avril 2024)"),
    ("rag articles --index ~/news/.rag --until tomorrow", "date not understood: 'tomorrow'"),
])
def test_a_bad_restriction_is_one_line(rag, news, line, message):
    result = rag(line)
    assert result.exit_code == 1
    [said] = result.stderr.splitlines()
    assert said.startswith("error: ") and message in said


def test_articles_of_a_date_range(rag, news):
    result = rag("rag articles --index ~/news/.rag --since 2024-01")
    assert result.exit_code == 0, result.stderr
    dates = [line.split()[0] for line in result.stdout.splitlines()[1:-1]]
    assert dates and all(d >= "2024-01" for d in dates), result.stdout
    everything = json.loads(rag("rag articles --index ~/news/.rag --json").stdout)
    assert result.stdout.splitlines()[-1] == f"{sum(r['date'] >= '2024-01' for r in everything)} articles"
    assert len(everything) == 9
