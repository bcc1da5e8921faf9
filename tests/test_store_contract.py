"""The store contract (``rag.store.contract.Store``): the same checks on the folder store and on a
real PostgreSQL (``pgserver``, started once per session by ``conftest.pg_server``). A new store
is a new module, one more entry in ``STORES`` below, and this file passing.

The corpus: four of the seeds, the fifth as a dated wire story with two copies of it (a dateline
and a footer added, later dates, other sources), and a dated article of its own.
"""

from __future__ import annotations

import json
import shutil

import pytest

from rag.pipeline import Pipeline
from rag.retrieval.scope import Scope
from rag.settings import Settings
from rag.store import storage

from conftest import SEEDS, TEST_GATE, FakeEmbedder, FakeGenerator, FakeReader, answer_from_evidence, require_extra

SEED = "000_00be9f381121e8cb.txt"
ORIGINAL = "wire.txt"
COPIES = ("copy_afp.txt", "copy_site.txt")
LYON = "lyon.txt"


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "news"
    shutil.copytree(SEEDS, folder)
    text = (folder / SEED).read_text(encoding="utf-8")
    (folder / SEED).unlink()
    (folder / ORIGINAL).write_text(f"date 2024-01-05\nsource: Xinhua\n{text}", encoding="utf-8")
    for name, source, day in zip(COPIES, ("AFP", "Le Site"), ("2025-02-02", "2025-02-03")):
        (folder / name).write_text(f"date {day}\nsource: {source}\nHANGZHOU (Chine) — {text}\n© {source}\n",
                                   encoding="utf-8")
    (folder / LYON).write_text("date 2024-04-12\nsource: Le Progrès\nLyon\nLe musée des Confluences a reçu "
                               "700 000 visiteurs en 2023, un record.\n", encoding="utf-8")
    return folder


class FolderStore:
    """The folder store: ids are paths in the folder."""

    def __init__(self, tmp_path, request):
        self.index = tmp_path / "index"

    def settings(self, **changes) -> Settings:
        return Settings.load(env={}, index=self.index, **changes)

    def key(self, name: str) -> str:
        return name


class PostgresStore:
    """PostgreSQL: ids are ``<source name>/<path in the folder>``."""

    def __init__(self, tmp_path, request):
        require_extra("psycopg")
        self.url = request.getfixturevalue("pg_url")

    def settings(self, **changes) -> Settings:
        return Settings.load(env={}, store=self.url, source="news", **changes)

    def key(self, name: str) -> str:
        return f"news/{name}"


STORES = {"folder": FolderStore, "postgresql": PostgresStore}


@pytest.fixture(params=sorted(STORES))
def kind(request, tmp_path):
    return STORES[request.param](tmp_path, request)


def _build(kind, folder):
    return storage.build(kind.settings(corpus=folder), FakeEmbedder())


def _pipeline(kind, folder=None) -> Pipeline:
    return Pipeline(kind.settings(corpus=folder, min_score=0.0), embedder=FakeEmbedder(),
                    generator=FakeGenerator(answer_from_evidence), gate_model=TEST_GATE, reader=FakeReader())


def test_a_build_reports_what_it_did(kind, folder):
    report = _build(kind, folder)
    assert sorted(report.added) == sorted(kind.key(p.name) for p in folder.iterdir())
    assert report.formats == {"txt": 8} and report.passages > 30 and report.embedded > report.passages
    assert report.duplicates == {kind.key(c): kind.key(ORIGINAL) for c in COPIES}
    again = _build(kind, folder)
    assert not again.touched and again.embedded == 0 and len(again.unchanged) == 8


def test_articles_lists_originals_newest_first_with_their_copies(kind, folder):
    _build(kind, folder)
    rows = storage.load(kind.settings()).articles()
    assert [r["id"] for r in rows][:1] == [kind.key(LYON)] and len(rows) == 6
    assert not {kind.key(c) for c in COPIES} & {r["id"] for r in rows}
    original = next(r for r in rows if r["id"] == kind.key(ORIGINAL))
    assert original["also"] == ["AFP", "Le Site"] and original["passages"] > 0 and original["format"] == "txt"
    lyon = rows[0]
    assert (lyon["title"], lyon["date"], lyon["source"]) == ("Lyon", "2024-04-12", "Le Progrès")


def test_passages_and_sentences_by_row_are_their_article_s_text(kind, folder):
    _build(kind, folder)
    store = _pipeline(kind, folder).store
    vector = FakeEmbedder().encode(["association du métavers du Zhejiang entreprises"], "query")
    [dense] = store.search_dense(vector, 3, None)
    lexical = store.search_lexical("entreprises association Zhejiang", 3, None)
    assert len(dense) == 3 and lexical
    for row in [*dense, *lexical]:
        passage = store.passages[row]
        assert store.docs[passage.doc].text[passage.start:passage.end] == passage.text
        assert passage.doc not in store.duplicates, "a wire copy is never searched"
        for sentence in store.passage_sentences[row]:
            doc, s, e = store.sentences[sentence]
            assert doc == passage.doc and passage.start <= s < e <= passage.end
    described = store.describe(kind.key(ORIGINAL), 0)
    assert described["also"] == ["AFP", "Le Site"] and described["title"].startswith("La province chinoise")
    assert (described["date"], described["source"]) == ("2024-01-05", "Xinhua")


def test_a_scope_keeps_the_searches_to_its_articles(kind, folder):
    _build(kind, folder)
    store = _pipeline(kind, folder).store
    chosen = store.admitted(Scope(docs=frozenset({kind.key(LYON)})))
    assert chosen == {kind.key(LYON)}
    vector = FakeEmbedder().encode(["musée visiteurs"], "query")
    assert {store.passages[r].doc for r in store.search_dense(vector, 5, chosen)[0]} == {kind.key(LYON)}
    assert {store.passages[r].doc for r in store.search_lexical("visiteurs musée", 5, chosen)} == {kind.key(LYON)}
    assert store.admitted(Scope(start="2030")) == frozenset()


def test_a_date_scoped_question_is_answered_from_that_range_only(kind, folder):
    _build(kind, folder)
    pipe = _pipeline(kind, folder)
    answer = pipe.ask("Combien de visiteurs le musée a-t-il reçus ?", scope=Scope(start="2024-04", end="2024-04"))
    assert {p["doc"] for p in answer.passages} == {kind.key(LYON)}
    assert "700" in answer.answer and answer.citations[0]["doc"] == kind.key(LYON)
    nothing = pipe.ask("Combien de visiteurs ?", scope=Scope(start="2030"))
    assert nothing.refused and not nothing.passages


def test_removed_articles_stay_out_after_rebuilds(kind, folder):
    _build(kind, folder)
    pipe = _pipeline(kind, folder)
    pipe.remove([kind.key(LYON)])
    assert kind.key(LYON) not in {r["id"] for r in pipe.store.articles()}
    for _ in range(2):
        _build(kind, folder)
        assert kind.key(LYON) not in {r["id"] for r in storage.load(kind.settings()).articles()}
    answer = _pipeline(kind, folder).ask("Combien de visiteurs le musée des Confluences a-t-il reçus ?")
    assert kind.key(LYON) not in {p["doc"] for p in answer.passages}
    assert (folder / LYON).exists(), "the file itself stays"


def test_removing_an_article_removes_its_wire_copies(kind, folder):
    _build(kind, folder)
    pipe = _pipeline(kind, folder)
    pipe.remove([kind.key(ORIGINAL)])
    ids = {r["id"] for r in pipe.store.articles()}
    assert not {kind.key(ORIGINAL), *(kind.key(c) for c in COPIES)} & ids and len(ids) == 5


def test_rag_articles_lists_the_store_s_articles(kind, folder, user, fake_models):
    from click.testing import CliRunner

    from rag.cli import main

    _build(kind, folder)
    s = kind.settings()
    env = {"RAG_STORE": s.store, "RAG_INDEX": str(s.index)}
    result = CliRunner().invoke(main, ["articles", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert [r["id"] for r in json.loads(result.stdout)] == [r["id"] for r in storage.load(s).articles()]
    dated = CliRunner().invoke(main, ["articles", "--since", "2024-04"], env=env, catch_exceptions=False)
    assert dated.stdout.splitlines()[-1] == "1 articles" and "Le Progrès" in dated.stdout
