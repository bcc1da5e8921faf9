"""The PostgreSQL + pgvector store against a real PostgreSQL (``pgserver``), started by
the session fixture in ``conftest.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from rag.store import pgstore, storage
from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings

from conftest import require_extra
from rag.store.folder import build as build_folder

from conftest import (SEEDS, TEST_GATE, FakeEmbedder, FakeGenerator, answer_from_evidence,
                      assert_cited_spans_are_source_text)

FR = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"


def _rows(url: str, sql: str):
    conn = pgstore.connect(url)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _counts(url: str) -> tuple[int, int, int, int]:
    return _rows(url, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages), "
                      "(SELECT count(DISTINCT passage_id) FROM passages), (SELECT count(*) FROM sentences)")[0]


def test_concurrent_builds_write_each_passage_once(pg_url, corpus, tmp_path):
    folder = build_folder(corpus, tmp_path / "folder", FakeEmbedder())
    reports = [None, None]

    def index(i):
        reports[i] = pgstore.build(corpus, pg_url, FakeEmbedder())

    threads = [threading.Thread(target=index, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    articles, passages, distinct, _ = _counts(pg_url)
    assert (articles, passages, distinct) == (5, folder.passages, folder.passages)
    assert sorted(reports[0].added + reports[1].added) == [f"{corpus.resolve()}/{d}" for d in folder.added]  # shared

    again = pgstore.build(corpus, pg_url, FakeEmbedder())
    assert again.embedded == 0 and len(again.unchanged) == 5

    (corpus / sorted(os.listdir(corpus))[0]).write_text("Un article modifié : 12 entreprises.\n", encoding="utf-8")
    changed = pgstore.build(corpus, pg_url, FakeEmbedder())
    assert len(changed.changed) == 1 and len(changed.unchanged) == 4 and changed.embedded == 2


def test_search_reads_passages_sentences_and_articles(pg_url, corpus, fake_embedder):
    pgstore.build(corpus, pg_url, fake_embedder)
    store = pgstore.PgStore(pg_url)
    vector = fake_embedder.encode(["association du métavers du Zhejiang entreprises"], "query")
    [dense] = store.search_dense(vector, 3, None)
    lexical = store.search_lexical("entreprises association Zhejiang", 3, None)
    assert len(lexical) and len(dense) == 3
    for row in [*dense, *lexical]:
        passage = store.passages[int(row)]
        text = store.docs[passage.doc].text
        assert text[passage.start:passage.end] == passage.text
        for sentence in store.passage_sentences[int(row)]:
            doc, s, e = store.sentences[sentence]
            assert doc == passage.doc and passage.start <= s < e <= passage.end
            assert store.sentence_vectors[sentence].shape == (fake_embedder.dim,)


def test_a_large_archive_is_searched_through_an_ivfflat_index_built_again_as_it_grows(pg_url, corpus,
                                                                                    fake_embedder, monkeypatch):
    monkeypatch.setattr(pgstore, "EXACT_BELOW", 1)        # the seeds stand in for an archive of 200k passages
    report = pgstore.build(corpus, pg_url, fake_embedder)
    index = _rows(pg_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'passages_embedding'")
    assert "USING ivfflat" in index[0][0]
    assert _rows(pg_url, "SELECT value FROM rag_manifest WHERE key = 'ivf_lists'") == [("1",)]
    store = pgstore.PgStore(pg_url)
    assert not store.exact
    vector = fake_embedder.encode(["association du métavers du Zhejiang entreprises"], "query")
    assert len(store.search_dense(vector, 3, None)[0]) == 3
    store.query("SET enable_seqscan = off", fetch=False)    # a table this small would rather be scanned
    plan = "\n".join(r[0] for r in store.query("EXPLAIN SELECT id FROM passages ORDER BY embedding <#> %s LIMIT 5",
                                               [vector[0]]))
    assert "Index Scan using passages_embedding" in plan
    conn = pgstore.connect(pg_url)
    try:
        assert pgstore.ensure_ivf(conn, report.passages) is False            # same size: kept
        assert pgstore.ensure_ivf(conn, 4 * 40 * report.passages) is True    # 4× the lists' size: rebuilt
    finally:
        conn.close()
    assert _rows(pg_url, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'passages_embedding%'") == [(1,)]


def test_another_embedding_model_is_refused(pg_url, corpus, fake_embedder):
    pgstore.build(corpus, pg_url, fake_embedder)

    class Other(FakeEmbedder):
        model_id = "another-model"

    with pytest.raises(RagError, match="built with embedding model 'fake-embedder' but 'another-model'"):
        pgstore.build(corpus, pg_url, Other())
    settings = Settings.load(env={}, corpus=corpus, store=pg_url)
    with pytest.raises(RagError, match="RAG_EMBED_MODEL"):
        storage.open_index(settings, Other())


def _folder(path, **articles):
    path.mkdir(parents=True)
    for name, text in articles.items():
        (path / f"{name}.txt").write_text(text, encoding="utf-8")
    return path


def test_two_folders_share_one_archive_and_keep_each_other_s_articles(pg_url, tmp_path, fake_embedder):
    """Two machines (or desks) index their own folder into one archive: both are searched, each
    build removes only its own vanished articles, and two article1.txt never collide."""
    paris = _folder(tmp_path / "paris", article1="Paris\nLe musée du Louvre a reçu 9 millions de visiteurs.\n",
                    article2="Paris\nLe métro parisien compte 16 lignes.\n")
    lyon = _folder(tmp_path / "lyon", article1="Lyon\nLe musée des Confluences a reçu 700 000 visiteurs.\n")
    pgstore.build(paris, pg_url, fake_embedder)
    pgstore.build(lyon, pg_url, fake_embedder, source="lyon-desk")
    ids = {r[0] for r in _rows(pg_url, "SELECT id FROM articles")}
    assert ids == {f"{paris.resolve()}/article1.txt", f"{paris.resolve()}/article2.txt", "lyon-desk/article1.txt"}
    assert pgstore.sources(pg_url) == {str(paris.resolve()): str(paris.resolve()), "lyon-desk": str(lyon.resolve())}

    (paris / "article2.txt").unlink()
    report = pgstore.build(paris, pg_url, fake_embedder)
    assert report.removed == [f"{paris.resolve()}/article2.txt"] and len(report.unchanged) == 1
    assert {r[0] for r in _rows(pg_url, "SELECT id FROM articles")} == {f"{paris.resolve()}/article1.txt",
                                                                        "lyon-desk/article1.txt"}
    pipe = Pipeline(Settings.load(env={}, store=pg_url, min_score=0.0, hybrid=False), embedder=fake_embedder,
                    generator=FakeGenerator(answer_from_evidence), gate_model=TEST_GATE)
    for question, doc, figure in [("Combien de visiteurs le musée des Confluences a-t-il reçus ?",
                                   "lyon-desk/article1.txt", "700 000"),
                                  ("Combien de visiteurs le musée du Louvre a-t-il reçus ?",
                                   f"{paris.resolve()}/article1.txt", "9")]:
        answer = pipe.ask(question)
        assert answer.citations[0]["doc"] == doc and figure in answer.answer, answer


def test_questions_never_index_a_shared_archive(pg_url, fake_embedder):
    """`rag ask` with RAG_STORE on an empty archive says to run `rag index`; it indexes no default folder."""
    pipe = Pipeline(Settings.load(env={}, store=pg_url), embedder=fake_embedder)
    with pytest.raises(RagError, match="no articles in postgresql://.*run `rag index --corpus DIR` with RAG_STORE"):
        _ = pipe.store
    assert pipe.settings.corpus is None       # so an upload in the web chat asks for --corpus


def test_rag_index_alone_reindexes_the_archive_s_one_folder(pg_url, tmp_path, fake_embedder):
    paris = _folder(tmp_path / "paris", article1="Paris\nLe métro parisien compte 16 lignes.\n")
    pgstore.build(paris, pg_url, fake_embedder)
    settings = Settings.load(env={}, store=pg_url)
    assert storage.bind(settings, rebuild=True).corpus == paris.resolve()
    pgstore.build(_folder(tmp_path / "lyon", article1="Lyon\n2 lignes.\n"), pg_url, fake_embedder)
    with pytest.raises(RagError, match="holds articles of 2 folders .*say which one to index with --corpus DIR"):
        storage.bind(settings, rebuild=True)


def test_unreachable_database_is_one_line(tmp_path):
    from rag.models.llm_server import free_port

    require_extra("psycopg")

    with pytest.raises(RagError, match="cannot connect to PostgreSQL at postgresql://u:\\*\\*\\*@127.0.0.1"):
        pgstore.connect(f"postgresql://u:secret@127.0.0.1:{free_port()}/db")


@pytest.mark.integration
def test_two_rag_index_processes_then_a_cited_answer_from_postgresql(pg_url, real_pipeline):
    env = {**os.environ, "RAG_STORE": pg_url, "HF_HUB_OFFLINE": "1"}
    processes = [subprocess.Popen([sys.executable, "-m", "rag.cli", "index", "--corpus", str(SEEDS)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all("indexed 5 articles" in out for out, _ in outputs)
    folder = real_pipeline.store
    articles, passages, distinct, sentences = _counts(pg_url)
    assert (articles, passages, distinct, sentences) == (5, len(folder.passages), len(folder.passages),
                                                        len(folder.sentences))

    settings = real_pipeline.settings.replace(store=pg_url)
    pipe = Pipeline(settings, embedder=real_pipeline.embedder, generator=real_pipeline.generator)
    answer = pipe.ask(FR)
    assert not answer.refused, answer.reason
    assert "91" in answer.answer
    assert_cited_spans_are_source_text(answer)


# ---- the README's "Running beyond one machine" commands, as a user runs them ----------------------
def _rag(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.integration
def test_readme_cli_ask_with_postgresql_and_the_llm_server(pg_url, llm_server):
    env = {"RAG_STORE": pg_url, "RAG_LLM_BACKEND": "openai", "RAG_LLM_URL": llm_server.url}
    indexed = _rag(["index", "--corpus", str(SEEDS)], env)
    assert indexed.returncode == 0, indexed.stderr
    assert "postgresql://postgres@127.0.0.1" in indexed.stdout
    asked = _rag(["--corpus", str(SEEDS), "ask", "--json", FR], env)
    assert asked.returncode == 0, asked.stderr
    import json

    answer = json.loads(asked.stdout)
    assert not answer["refused"] and "91" in answer["answer"] and answer["citations"]


@pytest.mark.integration
def test_readme_bench_retrieval_with_pgvector(pg_url, tmp_path):
    result = _rag(["bench", "--retrieval", "--sizes", "10000", "--out", str(tmp_path)], {"RAG_STORE": pg_url})
    assert result.returncode == 0, result.stderr
    rows = {(r.split("|")[2].strip(), r.split("|")[3].strip()) for r in result.stdout.splitlines()[2:] if r}
    assert {("faiss", "flat"), ("faiss", "hnsw"), ("faiss", "ivf"), ("pgvector", "hnsw"), ("pgvector", "ivf"),
            ("pgvector", "flat")} <= rows
    assert "rag_bench_vectors" not in str(_rows(pg_url, "SELECT tablename FROM pg_tables"))


def test_an_upload_to_a_shared_archive_opened_without_its_folder_says_what_to_do(pg_url, corpus, fake_embedder,
                                                                                   tmp_path):
    from rag.web import handlers

    pgstore.build(corpus, pg_url, fake_embedder)
    chat = Pipeline(Settings.load(env={}, store=pg_url), embedder=fake_embedder,
                    generator=FakeGenerator(answer_from_evidence), gate_model=TEST_GATE)
    upload = tmp_path / "lyon.txt"
    upload.write_text("Lyon\nLe musée a reçu 700 000 visiteurs.\n", encoding="utf-8")
    note, rows, *_ = handlers.upload_articles(chat, [str(upload)], "en")
    assert "start the chat with --corpus DIR" in note and len(rows) == 5
