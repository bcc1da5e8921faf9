"""An index belongs to its folder: every command given ``--index X`` alone works on the folder X
was built from, and none rebuilds X from another folder (issue: `rag ask --index ~/news/.rag`
used to rebuild it from ``seeds/``, silently).

The user's machine of ``conftest.user``, with its ``seeds/`` deleted: a command that fell back to
the default folder would fail on it, so a passing command shows it read the index's own folder.
"""

from __future__ import annotations

import json
import shutil

import pytest

from rag.store.folder import Store

OWN = "Combien de fabricants de robots industriels compte Suzhou ?"    # only in ~/news/note.docx


def _live(index):
    """The live version's manifest as bytes, with the pointer to it: what a rebuild would change."""
    version = (index / "CURRENT").read_text()
    return version, (index / version / "manifest.json").read_bytes()


@pytest.fixture
def news(rag, user):
    """~/news indexed into ~/news/.rag, and the default folder gone."""
    built = rag("rag index --corpus ~/news --index ~/news/.rag")
    assert built.exit_code == 0, built.stderr
    shutil.rmtree(user.parent / "project" / "seeds")
    index = user / "news" / ".rag"
    assert json.loads(_live(index)[1])["corpus"] == str(user / "news")
    return index


def _cites_note(answer: dict) -> None:
    assert "300" in answer["answer"] and answer["citations"][0]["doc"] == "note.docx", answer


def test_ask_with_index_alone_answers_from_its_own_folder(rag, news):
    before = _live(news)
    shown = rag('rag ask "Combien de fabricants de robots industriels compte Suzhou ?" --index ~/news/.rag')
    assert shown.exit_code == 0, shown.stderr
    assert "300" in shown.stdout.splitlines()[0] and "(note.docx, chars" in shown.stdout
    result = rag(f'rag ask "{OWN}" --index ~/news/.rag --json')
    assert result.exit_code == 0, result.stderr
    _cites_note(json.loads(result.stdout))
    assert _live(news) == before


def test_batch_with_index_alone_answers_from_its_own_folder(rag, user, news):
    before = _live(news)
    (user / "questions.jsonl").write_text(json.dumps({"id": "q1", "question": OWN}, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    result = rag("rag ask --batch ~/questions.jsonl --index ~/news/.rag --json")
    assert result.exit_code == 0, result.stderr
    _cites_note(json.loads(result.stdout))
    assert _live(news) == before


def test_articles_with_index_alone_lists_its_folder(rag, news):
    before = _live(news)
    table = rag("rag articles --index ~/news/.rag")
    assert table.exit_code == 0, table.stderr
    assert "Suzhou et la robotique" in table.stdout and table.stdout.splitlines()[-1] == "9 articles"
    listed = rag("rag articles --index ~/news/.rag --json")
    assert "note.docx" in {r["id"] for r in json.loads(listed.stdout)}
    assert _live(news) == before


def test_serve_with_index_alone_opens_on_its_folder(rag, user, news, fake_models, no_server):
    before = _live(news)
    result = rag("rag serve --index ~/news/.rag")
    assert result.exit_code == 0, result.stderr
    chat = fake_models[-1]
    assert chat.settings.corpus == user / "news" and len(chat.store.articles()) == 9
    assert _live(news) == before


def test_eval_with_index_alone_scores_its_folder(rag, user, news):
    before = _live(news)
    case = {"id": "fr-num-001", "lang": "fr", "question": OWN, "doc": "note.docx", "evidence": "Suzhou compte "
            "désormais 300 fabricants de robots industriels", "answer": "300 fabricants.",
            "must_match": ["(?<!\\d)300(?!\\d)"], "type": "number"}
    (user.parent / "project" / "my-cases.jsonl").write_text(json.dumps(case, ensure_ascii=False) + "\n",
                                                            encoding="utf-8")
    result = rag("rag eval --qa my-cases.jsonl --index ~/news/.rag")
    assert result.exit_code == 0, result.stderr
    assert "all: doc hit@5 1.00  accuracy 1.00  citations 1.00" in result.stdout, result.stdout
    assert _live(news) == before


def test_feedback_export_with_index_alone_reads_its_ratings(rag, user, news):
    from rag.evaluation import feedback

    before = _live(news)
    feedback.record(news, {"question": OWN, "lang": "fr", "answer": "300 fabricants [1].", "citations": [
        {"n": 1, "doc": "note.docx", "start": 0, "end": 10, "text": "Suzhou com"}]}, True)
    result = rag("rag feedback export --index ~/news/.rag")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["question"] == OWN
    assert _live(news) == before


@pytest.fixture
def own_seeds(rag, user):
    """The seeds' copy ~/my-articles indexed into ~/idx (outside it), for `rag calibrate`, whose
    question set is about the seeds (and `rag bench`'s, in test_integration.py); the default seeds/ gone."""
    built = rag("rag index --corpus ~/my-articles --index ~/idx")
    assert built.exit_code == 0, built.stderr
    shutil.rmtree(user.parent / "project" / "seeds")
    return user / "idx"


def test_calibrate_with_index_alone_answers_from_its_folder(rag, user, own_seeds):
    before = _live(own_seeds)
    result = rag("rag calibrate --no-public --index ~/idx --gate-file ~/gate.json --docs ~/docs --out ~/cal")
    assert result.exit_code == 0, result.stderr
    assert "gate fitted on" in result.stdout
    assert _live(own_seeds) == before
    assert not (user.parent / "project" / ".rag").exists(), "no index of the default folder was made"


def test_the_web_chat_uploads_into_the_index_s_own_folder(user, news, fake_models):
    from rag.web import handlers
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    chat = Pipeline(Settings.load(env={"RAG_MIN_SCORE": "0"}, index=news))
    upload = user / "tianjin.txt"
    upload.write_text("Tianjin\nLe port de Tianjin a accueilli 12 navires autonomes en mars.\n", encoding="utf-8")
    note, rows, *_ = handlers.upload_articles(chat, [str(upload)], "fr")
    assert "1" in note and len(rows) == 10
    assert (user / "news" / "uploads" / "tianjin.txt").exists()
    assert json.loads(_live(news)[1])["corpus"] == str(user / "news")
    answer = chat.ask("Combien de navires autonomes le port de Tianjin a-t-il accueillis ?")
    assert answer.citations[0]["doc"] == "uploads/tianjin.txt"


def test_a_new_article_in_its_folder_is_indexed_from_that_folder(rag, user, news):
    (user / "news" / "dalian.txt").write_text("Dalian\nDalian a ouvert 8 lignes de ferry vers la Corée.\n",
                                             encoding="utf-8")
    result = rag('rag ask "Combien de lignes de ferry Dalian a-t-elle ouvertes ?" --index ~/news/.rag --json')
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["citations"][0]["doc"] == "dalian.txt"
    assert len(Store.load(news).docs) == 10 and json.loads(_live(news)[1])["corpus"] == str(user / "news")


# ---- never silently: another folder, a moved folder ----------------------------------------------
def test_another_folder_for_an_index_is_one_line_naming_both(rag, user, news):
    before = _live(news)
    result = rag(f'rag ask "{OWN}" --corpus ~/my-articles --index ~/news/.rag')
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert str(user / "news") in line and "my-articles" in line
    assert f"rag index --corpus {user / 'my-articles'} --index {news}" in line
    assert _live(news) == before


def test_rag_index_with_another_folder_rebuilds_it_on_purpose(rag, user, news):
    result = rag("rag index --corpus ~/my-articles --index ~/news/.rag")
    assert result.exit_code == 0, result.stderr
    assert json.loads(_live(news)[1])["corpus"] == str(user / "my-articles")
    assert "note.docx" not in Store.load(news).docs


def test_a_moved_folder_is_one_line_naming_where_it_was(rag, user):
    assert rag("rag index --corpus ~/news --index ~/idx").exit_code == 0
    (user / "news").rename(user / "moved")
    result = rag(f'rag ask "{OWN}" --index ~/idx')
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert f"'{user / 'news'}', which no longer exists" in line and "rag index --corpus DIR --index" in line
    relinked = rag("rag index --corpus ~/moved --index ~/idx")
    assert "(0 new, 0 changed, 0 removed, 9 unchanged)" in relinked.stdout, relinked.stdout
    _cites_note(json.loads(rag(f'rag ask "{OWN}" --index ~/idx --json').stdout))


def test_rag_index_alone_refreshes_the_index_from_its_own_folder(rag, user, news):
    (user / "news" / "dalian.txt").write_text("Dalian\nDalian a ouvert 8 lignes de ferry.\n", encoding="utf-8")
    result = rag("rag index --index ~/news/.rag")
    assert result.exit_code == 0, result.stderr
    assert "(1 new, 0 changed, 0 removed, 9 unchanged)" in result.stdout, result.stdout
