"""The `rag` command as a user types it, with the fake models (fast).

Each test is a short session: the command lines are the README's, run in-process by
click's CliRunner in a fresh checkout with ``~/my-articles`` (fixture ``rag``).
tests/test_readme.py checks that every command the README shows is run here or, with the
real models, in tests/test_integration.py.
"""

from __future__ import annotations

import functools
import json
import re
import shutil

import pytest

import conftest
from conftest import ROOT

from rag.store.folder import Store

FR = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
EN = "How much were the investment projects signed in Fuzhou worth?"
# "[n] title — date — source  (file, chars a–b)", then the cited text on the next line
SOURCE_LINE = re.compile(r"^\[(\d+)\] (.+)  \((\S+), chars (\d+)–(\d+)\)\n    (.*)$", re.MULTILINE)


def _article(home, doc: str) -> str:
    return (home / "my-articles" / doc).read_text(encoding="utf-8")


@pytest.fixture
def reader_finds(monkeypatch, fake_models):
    """``reader_finds(text)``: the commands' fake reader picks the sentence holding ``text``, sure of it. An
    English question over French articles shares no word with its answer, which the real reader reads
    across languages and the word-counting fake cannot."""
    def prefer(text: str) -> None:
        monkeypatch.setattr(conftest, "FakeReader", functools.partial(conftest.FakeReader, prefer=text))
    return prefer


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


def test_ask_json_is_one_object_with_exact_spans(rag, user, reader_finds):
    reader_finds("360 000 personnes")     # among the sentences the fake embedder retrieves (the 455 projects' is not)
    result = rag('rag ask "How much were the investment projects signed in Fuzhou worth?" --json')
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"question", "lang", "answer", "refused", "citations", "passages", "timings", "prompt_tokens",
            "query", "dangling", "withdrawn", "reason", "checks", "closest", "reader"} <= set(data)
    assert data["question"] == EN and data["lang"] == "en" and not data["refused"]
    assert data["answer"] == "The articles give 360 000 [1]." and data["closest"] is None
    for c in data["citations"]:
        assert _article(user, c["doc"])[c["start"]:c["end"]] == c["text"]
        assert f"[{c['n']}]" in data["answer"]
    reader = data["reader"]     # the sentence the answer was written from is the one cited
    assert {k: reader["sentence"][k] for k in ("doc", "start", "end", "text")} == \
        {k: data["citations"][0][k] for k in ("doc", "start", "end", "text")}
    assert reader["span"] == "360 000" and 0.5 <= reader["p_answer"] <= 1 and reader["candidates"] >= len(reader["ranked"])
    [check] = data["checks"]
    assert check["answer"] and check["failed"] == "" and "agreement" in check["checked"]
    assert check["p_answer"] == reader["p_answer"] and check["source"] == data["citations"][0]["evidence"]


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
    ("rag ask --extract", "error: give a QUESTION or --batch FILE (not both)"),
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
def test_calibrate_fits_the_gates_threshold_on_both_calibration_parts(rag, user):
    project = user.parent / "project"
    shutil.copytree(ROOT / "eval" / "public", project / "eval" / "public")
    result = rag("rag calibrate                               # refit the gate's threshold on both calibration parts")
    assert result.exit_code == 0, result.stderr
    fitted = re.match(r"gate fitted on (\d+) calibration questions the reader never trained on "
                      r"\(seeds (\d+), public (\d+)\) in \d+s: threshold (\d\.\d+) on P\(answerable\)", result.stdout)
    assert fitted, result.stdout
    n, seeds, public, threshold = int(fitted[1]), int(fitted[2]), int(fitted[3]), float(fitted[4])
    assert n == seeds + public and 0 < seeds < 150 < public, "the seeds' questions the reader trained on are left out"
    gate = json.loads((project / "gate.json").read_text())          # rag/answer/gate.json in a checkout
    assert gate["threshold"] == threshold and gate["meta"]["corpora"] == {"seeds": seeds, "public": public}
    assert [p["threshold"] for p in gate["curve"]] == sorted(p["threshold"] for p in gate["curve"])
    assert all(p["wrong_shown"] <= 0.05 for p in gate["curve"] if p["threshold"] >= threshold) or \
        threshold == gate["curve"][-1]["threshold"], "the threshold keeps wrong answers shown within the budget"
    report = (project / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert all(f"| {name} | {count} |" in report for name, count in (("both", n), ("seeds", seeds), ("public", public)))
    assert (project / "docs" / "gate-curve.png").stat().st_size > 1000
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


def test_bench_table_compares_the_llm_with_extract_mode():
    md = conftest.bench_markdown(extract={"median": {"retrieve_s": 0.03, "read_s": 0.1, "first_token_s": None,
                                                     "total_s": 0.2, "prompt_tokens": 0, "tokens_per_s": None}},
                                 ratios_default_over_extract={"total_s": 10.0, "read_s": 1.0})
    assert "| | default (the LLM writes) | extract (the reader alone) | default / extract |" in md
    assert "| reader (s) | 0.1 | 0.1 | 1.0 |" in md and "| total (s) | 2.0 | 0.2 | 10.0 |" in md
    assert "| first token (s) | 1.0 | — | — |" in md, "extract mode streams no token"


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


@pytest.mark.parametrize("mode", ["", "--extract "])
def test_a_refusal_points_to_the_closest_sentence(rag, user, fake_models, mode):
    result = rag(f'rag ask {mode}"Quelle couleur a le drapeau de Hangzhou ?"')
    assert result.exit_code == 0, result.stderr
    answer, _, closest = result.stdout.partition("\n\n")
    assert answer.startswith("Les articles ne le disent pas : aucune phrase des articles ne l'énonce")
    assert "\n" not in answer, "one line, then the closest sentence"
    heading, source, quoted = closest.splitlines()[:3]
    assert heading == "La phrase la plus proche (elle ne répond pas) :"
    doc, start, end = re.search(r"^→ .+  \((\S+), chars (\d+)–(\d+)\)$", source).groups()
    assert " ".join(_article(user, doc)[int(start):int(end)].split()) == quoted.strip()
    assert "Hangzhou" in quoted and "[1]" not in result.stdout, "a refusal cites nothing"
    assert fake_models[-1].generator.prompts == [], "refused on the reader's probability, before any writing"
    data = json.loads(rag(f'rag ask {mode}"Quelle couleur a le drapeau de Hangzhou ?" --json').stdout)
    assert data["refused"] and data["reason"].startswith("unanswerable: reader P(answerable) 0.25 < 0.50")
    assert (data["closest"]["doc"], data["closest"]["start"]) == (doc, int(start)) == \
        (data["reader"]["sentence"]["doc"], data["reader"]["sentence"]["start"])
    assert data["checks"][0]["failed"] == "unanswerable" and data["citations"] == []


# ---- extract mode: the reader's words are the answer, no LLM ------------------------------------
def test_ask_extract_answers_with_the_readers_words_cited_without_the_llm(rag, user, fake_models):
    result = rag("rag ask --extract \"Où se trouve le siège de l'association du métavers du Zhejiang ?\"   "
                 "# the reader alone: no LLM, well under a second")
    assert result.exit_code == 0, result.stderr
    answer, _, sources = result.stdout.partition("\n\n")
    [(n, _, doc, start, end, quoted)] = SOURCE_LINE.findall(sources)
    assert n == "1" and answer == quoted.removesuffix(".") + " [1].", "the sentence's own words, cited"
    assert "siège de l’association est établi dans la ville de Hangzhou" in quoted
    assert " ".join(_article(user, doc)[int(start):int(end)].split()) == quoted
    assert "Rédaction" not in result.stderr and fake_models[-1].generator.prompts == [], "no LLM asked"


@pytest.mark.parametrize("line", [
    'rag ask --extract "Combien d\'entreprises ont rejoint l\'association du métavers du Zhejiang ?" --json',
    'RAG_ANSWER=extract rag ask "Combien d\'entreprises ont rejoint l\'association du métavers du Zhejiang ?" --json'])
def test_ask_extract_json_carries_what_the_reader_found(rag, user, fake_models, line):
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"] == "91 [1]" and not data["refused"] and data["prompt_tokens"] == 0
    [cited] = data["citations"]
    assert _article(user, cited["doc"])[cited["start"]:cited["end"]] == cited["text"]
    assert "91 entreprises" in cited["text"]
    reader = data["reader"]
    assert set(reader) == {"p_answer", "sentence", "span", "candidates", "ranked", "seconds"}
    assert reader["span"] == "91" and reader["p_answer"] == 1.0 and reader["sentence"]["text"] == cited["text"]
    assert reader["ranked"][0]["text"] == cited["text"] and len(reader["ranked"]) == 3 and reader["seconds"] >= 0
    assert data["timings"]["first_token_s"] is None and fake_models[-1].generator.prompts == []
    assert [c["checked"] for c in data["checks"]] == [["asked_unit"]], "extract mode runs the checks that apply to it"


def test_ask_extract_quotes_a_french_sentence_for_an_english_question(rag, reader_finds):
    reader_finds("360 000 personnes")
    result = rag(f'rag ask --extract "{EN}" --json')
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"] == "“360 000” (quoted from the article, in French) [1]" and data["lang"] == "en"


def test_ask_extract_batch_answers_one_json_line_per_question(rag, user, fake_models):
    (user.parent / "project" / "questions.jsonl").write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in [
            {"id": "q1", "question": FR}, {"id": "q2", "question": "Quelle couleur a le drapeau de Hangzhou ?"},
            {"id": "q3", "question": "Et combien de membres vise-t-elle ?",
             "history": [{"role": "user", "content": FR}, {"role": "assistant", "content": "91 [1]."}]}]) + "\n",
        encoding="utf-8")
    result = rag("rag ask --extract --batch questions.jsonl --json")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2", "q3"] and all(r["reader"] for r in records)
    assert records[0]["answer"] == "91 [1]" and records[1]["refused"] and records[1]["closest"]
    assert records[2]["query"] == records[2]["question"], "extract mode asks no LLM to rewrite a follow-up"
    assert len(fake_models) == 1 and fake_models[0].generator.prompts == [], "models loaded once, no LLM"


@pytest.mark.parametrize("line, shown", [
    ("rag eval --extract                          # the reader alone: sentence top-1/3, AUC, span F1, per language", 102),
    ("rag eval --extract --qa eval/qa.jsonl --limit 12", 12),
])
def test_eval_extract_prints_the_readers_scores_per_language(rag, user, fake_models, line, shown):
    result = rag(line)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.match(rf"eval/qa.jsonl: {shown} questions in [\d.]+s \(retrieval and the reader, no LLM; gate at "
                    r"RAG_GATE_RISK=0.05\)$", lines[0]), lines[0]
    assert lines[2].startswith("| questions | n | sentence top-1 | top-3 | AUC | span EM | span F1 | answered right |")
    rows = {r.split("|")[1].strip(): r.split("|")[2:-1] for r in lines[4:]}
    assert rows["all"][0].strip() == str(shown) and {"fr", "en-over-fr"} <= set(rows)
    assert sum(int(rows[g][0]) for g in rows if g != "all") == shown, "every question in one language group"
    assert all(re.fullmatch(r" (\d\.\d\d\d?|—) ", cell) for row in rows.values() for cell in row[1:])
    report = json.loads((user.parent / "project" / "eval" / "out" / "extract.json").read_text())
    assert report["groups"]["all"]["n"] == len(report["items"]) == shown and report["curve"]
    assert fake_models[-1].generator.prompts == [], "no LLM asked"
