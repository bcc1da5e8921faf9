"""The `rag` command as a user types it, with the fake models (fast).

Each test is a short session: the command lines are the README's, run in-process by
click's CliRunner in a fresh checkout with ``~/my-articles`` (fixture ``rag``).
tests/test_readme.py checks that every command the README shows is run here or, with the
real models, in tests/test_integration.py.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ROOT

from rag.store.folder import Store

FR = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
EN = "How much were the investment projects signed in Fuzhou worth?"
# "[n] title — date — source  (file, chars a–b)", then the cited text on the next line
SOURCE_LINE = re.compile(r"^\[(\d+)\] (.+)  \((\S+), chars (\d+)–(\d+)\)\n    (.*)$", re.MULTILINE)


def _article(home, doc: str) -> str:
    return (home / "my-articles" / doc).read_text(encoding="utf-8")


def test_ask_streams_an_answer_then_its_numbered_sources(rag, user):
    result = rag('rag ask "Combien d\'entreprises ont rejoint l\'association du métavers du Zhejiang ?"')
    assert result.exit_code == 0, result.stderr
    answer, _, sources = result.stdout.partition("\n\n")
    cited = re.findall(r"\[(\d+)\]", answer)
    assert cited and "Les articles donnent" in answer
    listed = SOURCE_LINE.findall(sources)
    assert [n for n, *_ in listed] == sorted(set(cited), key=int) == [str(i) for i in range(1, len(listed) + 1)]
    for n, title, doc, start, end, quoted in listed:    # the span printed is the article's text
        article = _article(user, doc)
        assert " ".join(article[int(start):int(end)].split()) == quoted
        assert article.startswith(title.rstrip("…")), "the seeds' first line is their title"
    assert "Recherche dans les articles" in result.stderr  # progress goes to stderr, not into the answer


def test_ask_json_is_one_object_with_exact_spans(rag, user):
    result = rag('rag ask "How much were the investment projects signed in Fuzhou worth?" --json')
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"question", "lang", "answer", "refused", "citations", "passages", "timings", "prompt_tokens",
            "query", "dangling", "withdrawn", "reason"} <= set(data)
    assert data["question"] == EN and data["lang"] == "en" and not data["refused"]
    assert data["answer"].startswith("The articles give") and data["citations"]
    for c in data["citations"]:
        assert _article(user, c["doc"])[c["start"]:c["end"]] == c["text"]
        assert f"[{c['n']}]" in data["answer"]


def test_batch_answers_one_json_line_per_question_and_passes_fields_through(rag, user):
    (user.parent / "project" / "questions.jsonl").write_text(
        json.dumps({"id": "q1", "question": FR, "team": "a"}, ensure_ascii=False) + "\n\n"
        + json.dumps({"id": "q2", "question": "Et combien de membres vise-t-elle ?",
                      "history": [{"role": "user", "content": FR}, {"role": "assistant", "content": "91 [1]."}]})
        + "\n", encoding="utf-8")
    result = rag("rag ask --batch questions.jsonl --json      # one JSON object per line; models loaded once")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["question"]) for r in records] == [("q1", FR), ("q2", "Et combien de membres vise-t-elle ?")]
    assert records[0]["team"] == "a" and records[0]["citations"] and records[1]["history"][1]["content"] == "91 [1]."


def test_batch_names_the_bad_line(rag, user):
    (user.parent / "project" / "questions.jsonl").write_text('{"question": "Combien ?"}\n{"q": 1}\n')
    result = rag("rag ask --batch questions.jsonl --json")
    assert result.exit_code == 1
    assert result.stderr.strip() == 'error: questions.jsonl:2: expected a JSON object with a "question" field'


def test_index_any_folder_then_reindex_only_what_changed(rag, user):
    result = rag("rag index --corpus ~/my-articles --index ~/my-articles/.rag   # any folder of .txt / .md")
    assert result.exit_code == 0, result.stderr
    assert re.match(r"indexed 5 articles \(5 new, 0 changed, 0 removed, 0 unchanged\), \d+ passages", result.stdout)
    assert result.stdout.splitlines()[0].endswith(str(user / "my-articles" / ".rag"))
    assert result.stdout.splitlines()[1] == "formats: 5 txt"
    (user / "my-articles" / "note.md").write_text("# Une note\nShenzhen compte 17 millions d'habitants.\n")
    again = rag("rag index --corpus ~/my-articles --index ~/my-articles/.rag")
    assert "(1 new, 0 changed, 0 removed, 5 unchanged)" in again.stdout
    assert "note.md" in Store.load(user / "my-articles" / ".rag").docs


def test_index_with_no_options_indexes_seeds_into_dot_rag(rag, user):
    result = rag("rag index")
    assert result.exit_code == 0 and "indexed 5 articles" in result.stdout
    assert result.stdout.splitlines()[0].endswith("→ .rag") and Store.load(user.parent / "project" / ".rag").docs


def test_ask_and_serve_use_the_corpus_and_index_they_are_given(rag, user, no_server):
    (user / "my-articles" / "zz.txt").write_text("Lyon\nLe musée de Lyon expose 37 automates anciens.\n")
    result = rag("rag --corpus ~/my-articles serve --index ~/my-articles/.rag")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["loading models…", "ready on http://127.0.0.1:7860"]
    assert "zz.txt" in Store.load(user / "my-articles" / ".rag").docs   # built from ~/my-articles, there
    asked = rag('rag ask --corpus ~/my-articles --index ~/my-articles/.rag "Combien d\'automates le musée de Lyon '
                'expose-t-il ?" --json')
    assert json.loads(asked.stdout)["citations"][0]["doc"] == "zz.txt"


def test_serve_opens_the_chat_on_this_machine_only(rag, user, no_server):
    result = rag("rag serve")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["loading models…", "ready on http://127.0.0.1:7860"]
    assert no_server[0]["server_name"] == "127.0.0.1" and no_server[0]["share"] is False
    assert Store.load(user.parent / "project" / ".rag").docs, "the index of seeds/ was built on first use"


def test_serve_in_one_page_language(rag, no_server):
    result = rag("rag serve --ui-lang en")
    assert result.exit_code == 0, result.stderr
    words = [b.value for b in no_server[0]["page"].blocks.values() if type(b).__name__ == "Button"]
    assert "Send" in words and "Envoyer" not in words


def test_options_before_and_after_the_command_mean_the_same(rag, user, fake_models, no_server):
    before = rag("rag --corpus ~/my-articles serve --index ~/my-articles/.rag")
    after = rag("rag serve --corpus ~/my-articles --index ~/my-articles/.rag")
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert [(p.settings.corpus, p.settings.index) for p in fake_models] == \
        [(user / "my-articles", user / "my-articles" / ".rag")] * 2


def test_options_before_and_after_index_mean_the_same(rag, user):
    before = rag("rag --corpus ~/my-articles --index ~/elsewhere index")
    after = rag("rag index --corpus ~/my-articles --index ~/elsewhere")
    assert before.exit_code == after.exit_code == 0
    assert "(5 new" in before.stdout and "(0 new, 0 changed, 0 removed, 5 unchanged)" in after.stdout


def test_serve_with_another_model_file(rag, fake_models, no_server):
    result = rag("RAG_LLM_MODEL=/path/to/model.gguf rag serve")
    assert result.exit_code == 0, result.stderr
    assert fake_models[-1].settings.llm_model == "/path/to/model.gguf"


def test_a_placeholder_question_gets_an_example(rag):
    result = rag('/usr/bin/time -v rag ask "…"')
    assert result.exit_code == 0
    assert result.stdout.startswith("Posez une question sur les articles, par exemple : « Combien d'entreprises")


@pytest.mark.parametrize("line, shown", [
    ("rag eval                                    # score the eval set (see eval/README.md)", 102),
    ("rag eval --qa eval/qa.jsonl            # default file; --qa FILE for any other", 102),
    ("rag eval --limit 10                    # first N questions only", 10),
    ("rag eval --ids fr-num-001,en-fu-004    # selected questions", 2),
])
def test_eval_scores_the_questions_and_writes_its_report(rag, user, line, shown):
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{shown} questions in ")
    assert re.search(r"^\s+all: doc hit@5 \d\.\d\d  accuracy \d\.\d\d", result.stdout, re.MULTILINE)
    report = json.loads((user.parent / "project" / "eval" / "out" / "report.json").read_text())
    assert report["overall"]["n"] == shown and "## Failures" in (user.parent / "project" / "eval" / "out" /
                                                                 "report.md").read_text()


def test_eval_answers_again_only_with_fresh(rag, user, fake_models):
    rag("rag eval --limit 10")
    rag("rag eval --limit 10")
    assert fake_models[-1].generator.prompts == [], "the second run answers from the cache"
    rag("rag eval --fresh                       # ignore cached answers in --out (default eval/out)")
    assert fake_models[-1].generator.prompts, "--fresh asks the model again"


@pytest.mark.parametrize("line", ["rag eval --retrieval-only", "RAG_HYBRID=0 rag eval --retrieval-only"])
def test_retrieval_only_eval_answers_nothing(rag, user, fake_models, line):
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^all: doc hit@1 \d\.\d\d", result.stdout, re.MULTILINE) and "min_score 0.80" in result.stdout
    followups = sum('"history"' in line for line in (user.parent / "project" / "eval" / "qa.jsonl").open())
    assert len(fake_models[-1].generator.prompts) <= followups, "the model only rewrites follow-ups"
    assert fake_models[-1].settings.hybrid is ("RAG_HYBRID=0" not in line)


@pytest.mark.parametrize("line, message", [
    ("rag ask", "error: give a QUESTION or --batch FILE (not both)"),
    ('RAG_TOP_K=-1 rag ask "Combien ?"', "error: RAG_TOP_K=-1 is out of range: use an integer from 1 to 50"),
    ('RAG_MIN_SCORE=abc rag ask "Combien ?"', "error: RAG_MIN_SCORE='abc' is not valid: use a number from -1.0 to 1.0"),
    ('RAG_HYBRID=maybe rag ask "Combien ?"', "error: RAG_HYBRID='maybe' is not valid: use 1 or 0"),
    ('rag ask --index ~/nothing --corpus ~/nothing "Combien ?"', "error: no index in"),
    ("rag index --corpus ~/nothing", "does not exist"),
])
def test_errors_are_one_line_on_stderr_and_the_last(rag, line, message):
    result = rag(line)
    assert result.exit_code == 1 and result.stdout == ""
    errors = [e for e in result.stderr.splitlines() if e.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert result.stderr.splitlines()[-1] == errors[0], "the error is the last thing said"


def test_help_shows_the_examples_and_where_options_go(rag):
    result = rag("rag --help")
    assert result.exit_code == 0
    assert "takes --corpus" in result.stdout and "rag index --corpus ~/my-articles" in result.stdout
    for command in ("index", "ask", "serve", "eval", "bench"):
        options = rag(f"rag {command} --help").stdout
        assert "--corpus" in options and "--index" in options, command


# ---- the answer gate, the LLM server, the measurements -----------------------------------------
def test_calibrate_fits_the_gate_and_scores_it_on_the_test_set(rag, user):
    project = user.parent / "project"
    shutil.copytree(ROOT / "eval" / "public", project / "eval" / "public")
    result = rag("rag calibrate                               # refit the answer step on both calibration parts")
    assert result.exit_code == 0, result.stderr
    assert "gate fitted on" in result.stdout and "wrong answers shown" in result.stdout
    gate = json.loads((project / "gate.json").read_text())          # rag/answer/gate.json in a checkout
    assert gate["features"] and gate["meta"]["on"] == ["eval/calibration.jsonl", "eval/public/calibration.jsonl"]
    report = (project / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert "| rules only (no gate) |" in report and "on the test set" not in report
    assert (project / "docs" / "gate-curve.png").stat().st_size > 1000
    tested = rag("rag calibrate --limit 90 --test eval/qa.jsonl --test-limit 24")
    assert tested.exit_code == 0, tested.stderr
    report = (project / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert "| both corpora | public test |" in report and "| public alone | seeds test |" in report


def test_calibrate_ranker_fits_on_both_calibration_parts_and_measures_both_tests(rag, user):
    project = user.parent / "project"
    shutil.copytree(ROOT / "eval" / "public", project / "eval" / "public")
    result = rag("rag calibrate --ranker")
    assert result.exit_code == 0, result.stderr
    assert "ranker fitted on" in result.stdout and "seeds" in result.stdout and "public" in result.stdout
    weights = json.loads((project / "ranker.json").read_text())         # rag/retrieval/ranker.json in a checkout
    assert weights["features"] and weights["meta"]["on"] == ["eval/calibration.jsonl", "eval/public/calibration.jsonl"]
    report = (project / "docs" / "ranker.md").read_text(encoding="utf-8")
    assert "| seeds fr: ranker |" in report and "| public en: hand-tuned |" in report
    assert (project / "eval" / "out" / "public" / ".rag" / "CURRENT").exists(), "the public index built on first use"


@pytest.fixture
def llm_server_runs(monkeypatch):
    """``rag llm-server`` without serving: the arguments llama.cpp's server would get."""
    runs = []
    monkeypatch.setattr("rag.models.llm_server.run", lambda *args: runs.append(args))
    monkeypatch.setattr("rag.models.files.llm_path", lambda name, cache: f"{cache}/{name or 'default.gguf'}")
    return runs


@pytest.mark.parametrize("line, host, port, parallel", [
    ("rag llm-server", "127.0.0.1", 8080, 4),
    (".venv/bin/rag llm-server --host 0.0.0.0 --port 8080 --parallel 4", "0.0.0.0", 8080, 4),
    ("RAG_N_CTX=4096 rag llm-server --llm-model /path/to/model.gguf --threads 2 --parallel 2", "127.0.0.1", 8080, 2),
])
def test_llm_server_serves_the_configured_model(rag, user, llm_server_runs, line, host, port, parallel):
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    [(model, *served, n_ctx, threads, extra_buffers)] = llm_server_runs
    assert served == [host, port, parallel] and extra_buffers is False
    if "--llm-model" in line:
        assert model.endswith("/path/to/model.gguf") and (n_ctx, threads) == (4096, 2)
    else:
        assert model.endswith("default.gguf") and n_ctx == 2048


def test_serve_on_postgresql_and_an_llm_server(rag, monkeypatch):
    """The "N web instances" line: its variables reach the settings the web chat runs with."""
    served = {}
    monkeypatch.setattr("rag.web.app.serve", lambda settings, host, port: served.update(s=settings, host=host, port=port))
    result = rag("RAG_STORE=postgresql://rag:secret@db:5432/news RAG_LLM_BACKEND=openai "
                 "RAG_LLM_URL=http://gpu:8080/v1 .venv/bin/rag serve --host 0.0.0.0 --port 7861")
    assert result.exit_code == 0, result.stderr
    s = served["s"]
    assert (s.store, s.llm_backend, s.llm_url) == ("postgresql://rag:secret@db:5432/news", "openai", "http://gpu:8080/v1")
    assert (served["host"], served["port"]) == ("0.0.0.0", 7861)


class FakeLLMServer:
    """``rag llm-server`` in the concurrency benchmark, without a server: the fake model answers."""

    started: list[tuple[int, str]] = []

    def __init__(self, parallel: int = 2, port: int = 0, server: str = "llama.cpp", settings=None):
        self.url = "http://127.0.0.1:9/v1"
        FakeLLMServer.started.append((parallel, server))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("line, server", [("rag bench --concurrency 1,2,4,8 --repeats 2", "llama.cpp"),
                                          (".venv/bin/rag bench --concurrency 1,2,4,8 --repeats 2 --server llama-cpp-python",
                                           "llama-cpp-python")])
def test_bench_concurrency_compares_the_in_process_queue_with_the_server(rag, user, monkeypatch, line, server):
    FakeLLMServer.started = []
    monkeypatch.setattr("rag.models.llm_server.Child", FakeLLMServer)
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    answers, decoding = result.stdout.split("Decoding alone")
    for table, failed in ((answers, 7), (decoding, 5)):
        rows = [r.split("|") for r in table.splitlines() if r.startswith("| ") and r[2].isdigit()]
        assert [(r[1].strip(), r[2].strip()) for r in rows] == [
            (str(n), backend) for backend in ("in-process", "server") for n in (1, 2, 4, 8)]
        assert all(r[failed].strip() == "0" for r in rows), "no failed request"
    assert FakeLLMServer.started == [(n, server) for n in (1, 2, 4, 8)], "one server per level, as many slots as users"
    assert result.stdout.splitlines()[0].endswith(f"server: {server}")
    written = user.parent / "project" / "eval" / "bench" / "concurrency.md"
    assert written.read_text(encoding="utf-8") == result.stdout.rstrip("\n") + "\n"


@pytest.mark.parametrize("line, sizes, pg_url, kinds", [
    ("rag bench --retrieval", [10000, 100000, 1000000], "", ("hnsw", "ivf")),
    ("RAG_STORE=postgresql://… rag bench --retrieval --sizes 10000,100000", [10000, 100000], "postgresql://…",
     ("hnsw", "ivf")),
    ("RAG_STORE=postgresql://… rag bench --retrieval --sizes 1000000 --kinds ivf", [1000000], "postgresql://…",
     ("ivf",)),
])
def test_bench_retrieval_measures_faiss_and_pgvector_when_the_store_is_postgresql(rag, user, monkeypatch, line,
                                                                                   sizes, pg_url, kinds):
    """The command's wiring (the measurement itself runs at 10,000 vectors in test_pgstore.py)."""
    asked = {}

    def measure(sizes, pg_url="", kinds=()):
        asked.update(sizes=sizes, pg_url=pg_url, kinds=kinds)
        return [{"n": n, "engine": "faiss", "kind": "flat", "params": "exact", "search_ms_median": 0.4,
                 "recall@10": 1.0, "build_s": 0.0} for n in sizes]

    monkeypatch.setattr("rag.evaluation.bench.retrieval_scaling", measure)
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    assert asked == {"sizes": sizes, "pg_url": pg_url, "kinds": kinds}
    assert result.stdout.splitlines()[2] == f"| {sizes[0]:,} | faiss | flat | exact | 0.4 | 1.0 | 0.0 |"
    assert len(json.loads((user.parent / "project" / "eval" / "bench" / "retrieval.json").read_text())) == len(sizes)


def test_a_refusal_points_to_the_closest_sentence(rag, user):
    result = rag('rag ask "Quelle est la devise de la ville ?"')
    assert result.exit_code == 0, result.stderr
    answer, _, closest = result.stdout.partition("\n\n")
    assert answer.startswith("Les articles ne le disent pas")
    heading, source, quoted = closest.splitlines()[:3]
    assert heading == "La phrase la plus proche (elle ne répond pas) :"
    doc, start, end = re.search(r"^→ .+  \((\S+), chars (\d+)–(\d+)\)$", source).groups()
    assert " ".join(_article(user, doc)[int(start):int(end)].split()) == quoted.strip()
