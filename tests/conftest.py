"""Shared fixtures: deterministic fakes for the swappable parts, and the real models (session-scoped)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from rag.answer.gate import Gate
from rag.models.embedding import Embedder
from rag.models.generation import Generator, Response, Usage
from rag.reader import Reader, SentenceScore
from rag.retrieval.evidence import Evidence
from rag.text.stemming import analyse

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"

# Sentences of the seeds, as written, that the checks' and the grounding helpers' tests reason about.
FUZHOU = ("De plus, 455 projets d’investissement d’un montant cumulé de 228 milliards de yuans "
          "(31,5 milliards de dollars) ont été conclus.")
VISITORS = "Plus de 360 000 personnes ont participé au sommet."
ZHEJIANG = "Actuellement, 91 entreprises ont rejoint l’association, dont Alibaba et NetEase."
BEIJING = "Plus de 40 entreprises ont rejoint le centre d’innovation de Pékin."


def ev(n: int, doc: str, text: str) -> Evidence:
    """Sentence ``n`` of the evidence, a whole passage of ``doc``."""
    return Evidence(n, doc, f"{doc}#0", 0, len(text), text, 0.9)


EVIDENCE = [ev(1, "fuzhou", FUZHOU), ev(2, "fuzhou", VISITORS), ev(3, "zhejiang", ZHEJIANG), ev(4, "beijing", BEIJING)]
# The tests of the answer path with the real models (streaming, citations, languages, servers, stores, the
# page) need answers to check: at the default 5 % risk budget the reader's gate refuses most answerable questions
# (docs/calibration.md), so they run at 0.3. The default itself is what ``strict_pipeline``
# answers: the refusal and answer-trust tests ask it.
os.environ["RAG_GATE_RISK"] = "0.3"


class FakeEmbedder(Embedder):
    """Bag of stemmed words hashed into 256 dimensions: similar words, similar vectors."""

    model_id = "fake-embedder"
    dim = 256

    def __init__(self):
        self.calls = 0
        self.texts = 0

    def _encode(self, texts, kind, batch_size, progress):
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in analyse(t) or ["empty"]:
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i, 0] += 0.5  # keeps every pair of texts slightly similar
        return out


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w{3,}", text.lower()))


_FIGURE = re.compile(r"\d+(?:[ ,.]\d+)*")


class FakeReader(Reader):
    """Scores a sentence by the question's words it shares (``prefer``: a text that makes its sentence win);
    the span is the sentence's first figure, else the whole sentence; P(answerable) grows with the score
    (0.5 at two shared words)."""

    model_id = "fake-reader"

    def __init__(self, prefer: str | None = None, p: float | None = None):
        self.prefer = prefer
        self.p = p
        self.reads: list[tuple[str, list[str]]] = []

    def score(self, question, sentences):
        self.reads.append((question, list(sentences)))
        out = []
        for s in sentences:
            value = float(len(_words(question) & _words(s))) + (10.0 if self.prefer and self.prefer in s else 0.0)
            figure = _FIGURE.search(s)
            out.append(SentenceScore(value, figure.span() if figure else (0, len(s))))
        return out

    def probability(self, score):
        return self.p if self.p is not None else min(1.0, score / 4)


def sentence_of(user: str) -> tuple[str, str]:
    """(the sentence, the answer words) of a writing prompt (``("", "")`` when it has none)."""
    sentence = re.search(r"^Sentence: (.*)$", user, re.MULTILINE)
    words = re.search(r"^Answer words: (.*)$", user, re.MULTILINE)
    return (sentence.group(1) if sentence else ""), (words.group(1) if words else "")


class FakeGenerator(Generator):
    """Answers with ``reply(messages)`` (what follows the forced ``prefix``), streamed word by word.
    Every call's ``Usage``: a prompt of one token per word of its messages, ``cached`` of them (at
    most all) reused from a cache. Every prompt is recorded in ``prompts``.
    """

    model_id = "fake-llm"

    def __init__(self, reply: Callable[[list[dict]], str] | str = "91 entreprises ont rejoint l'association.",
                 cached: int = 0):
        self.reply = reply if callable(reply) else (lambda messages: reply)
        self.cached = cached
        self.prompts: list[list[dict]] = []
        self.streamed_prefixes: list[str] = []

    def prompt_tokens(self, messages) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def stream(self, messages, max_tokens, prefix=""):
        self.prompts.append(messages)
        self.streamed_prefixes.append(prefix)
        text = self.reply(messages)
        pieces = re.findall(r"\s*\S+", text) + (["\n"] if text.endswith("\n") else [])
        tokens = self.prompt_tokens(messages)
        usage = Usage(prompt_tokens=tokens, cached_tokens=min(self.cached, tokens), completion_tokens=len(pieces))
        return Response(iter(pieces), usage)



# A gate with a known threshold for the fakes: FakeReader's P(answerable) reaches it at two shared words.
TEST_GATE = Gate(0.5)


def kind_of(item) -> str:
    """The kind of a test, as README.md's "Tests" table counts them (markers; unmarked = behaviour)."""
    for marker in ("browser", "integration", "data"):
        if item.get_closest_marker(marker):
            return marker
    return "doctest" if isinstance(item, pytest.DoctestItem) else "behaviour"


def pytest_collection_finish(session):
    """With RAG_TEST_KINDS=file, write {test id: kind} there (tests/test_readme.py counts them)."""
    target = os.environ.get("RAG_TEST_KINDS")
    if target:
        Path(target).write_text(json.dumps({item.nodeid: kind_of(item) for item in session.items}))


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def corpus(tmp_path):
    """A copy of the real seeds in a temporary folder the test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def make_pipeline(tmp_path, corpus, fake_embedder):
    """A pipeline over the seeds with the fake embedder and a scripted generator."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    def make(reply="91 entreprises ont rejoint l'association.", reader=None, **overrides):
        options = {"min_score": 0.0, **overrides}
        settings = Settings.load(env={}, corpus=corpus, index=tmp_path / "index", **options)
        return Pipeline(settings, embedder=fake_embedder, generator=FakeGenerator(reply), gate_model=TEST_GATE,
                        reader=reader or FakeReader())

    return make


# ---- the `rag` command as a user types it ---------------------------------------------------
def command_words(line: str, home: Path) -> tuple[dict, list[str]]:
    """A command line as the shell reads it → (environment assignments, arguments after ``rag``).

    >>> command_words('RAG_HYBRID=0 rag ask "Et à Pékin ?" --index ~/a  # comment', Path("/h"))
    ({'RAG_HYBRID': '0'}, ['ask', 'Et à Pékin ?', '--index', '/h/a'])
    """
    words = shlex.split(line, comments=True)
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[:2] == ["/usr/bin/time", "-v"]:
        words = words[2:]
    assert words and Path(words[0]).name == "rag", f"not a rag command: {line}"
    return env, [str(home / w[2:]) if w.startswith("~/") else w for w in words[1:]]


def answer_from_evidence(messages) -> str:
    """The fake model of the CLI sessions: the reader's answer words in a sentence of the language asked
    for; a follow-up is "rewritten" as itself; a prompt with no question is echoed."""
    prompt = messages[-1]["content"]
    follow_up = re.search(r"^Follow-up: (.*)$", prompt, re.MULTILINE)
    if follow_up:
        return follow_up.group(1)
    if not re.search(r"^Question: ", prompt, re.MULTILINE):     # not a question on articles (the bench's counting)
        return " ".join(prompt.split()[:24])
    english = "Answer language: English" in prompt
    _, words = sentence_of(prompt)
    return f"The articles give {words}." if english else f"Les articles donnent {words}."


@pytest.fixture
def fake_models(monkeypatch):
    """Every pipeline the commands and the web chat build (``rag.pipeline.builder.build``) gets the
    fake embedder, a fake model answering with ``answer_from_evidence`` and ``TEST_GATE``, and so does
    every part made from settings (``rag index``'s embedder…); returns the pipelines built."""
    from rag.pipeline import Pipeline

    made = []

    def build(settings, **given):
        pipe = Pipeline(settings, **{"embedder": FakeEmbedder(), "generator": FakeGenerator(answer_from_evidence),
                                     "gate_model": TEST_GATE, "reader": FakeReader(), **given})
        made.append(pipe)
        return pipe

    monkeypatch.setattr("rag.pipeline.builder.build", build)
    monkeypatch.setattr("rag.pipeline.parts.embedder", lambda settings: FakeEmbedder())
    monkeypatch.setattr("rag.pipeline.parts.generator", lambda settings: FakeGenerator(answer_from_evidence))
    monkeypatch.setattr("rag.pipeline.parts.gate_model", lambda settings: TEST_GATE)
    monkeypatch.setattr("rag.pipeline.parts.reader", lambda settings: FakeReader())
    monkeypatch.setattr("rag.pipeline.parts.token_counter", lambda settings: FakeGenerator().count_tokens)
    return made


@pytest.fixture(scope="session")
def news_folder(tmp_path_factory):
    """A folder of news in every format (tests/fixtures_news.py), written once; copy it to change it."""
    from fixtures_news import write_news_folder

    return write_news_folder(tmp_path_factory.mktemp("news-template") / "news")


@pytest.fixture
def user(tmp_path, monkeypatch, news_folder):
    """A user's machine: a checkout (the working directory, with seeds/, eval/qa.jsonl and
    eval/calibration.jsonl), a home folder with ~/my-articles (the seeds) and ~/news (every
    format), no RAG_* variables set, and the gate ``rag calibrate`` writes kept out of rag/."""
    home, project = tmp_path / "home", tmp_path / "project"
    shutil.copytree(SEEDS, home / "my-articles")
    shutil.copytree(news_folder, home / "news")
    shutil.copytree(SEEDS, project / "seeds")
    (project / "eval").mkdir()
    for name in ("qa.jsonl", "calibration.jsonl"):
        shutil.copy(ROOT / "eval" / name, project / "eval" / name)
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr("rag.answer.gate.MODEL_FILE", project / "gate.json")
    monkeypatch.chdir(project)
    return home


@pytest.fixture
def no_server(monkeypatch):
    """``rag serve`` without a real server: records each launch's options and returns at once."""
    import gradio as gr

    from rag.web import app

    launched: list[dict] = []
    monkeypatch.setattr(app, "_check_port", lambda host, port: None)    # another program may hold 7860 here
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.append({**kw, "page": self}))
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    return launched


@pytest.fixture
def rag(user, fake_models):
    """Run a ``rag …`` command line in-process (click's CliRunner) with the fake models.

    RAG_MIN_SCORE is 0 because the fake embedder's cosines are not e5's; stdout and
    stderr are kept apart (``result.stdout``, ``result.stderr``).
    """
    from click.testing import CliRunner

    from rag.cli import main

    def run(line: str, input: str | None = None):
        env, args = command_words(line, user)
        return CliRunner().invoke(main, args, input=input, env={"RAG_MIN_SCORE": "0", **env},
                                  catch_exceptions=False)

    return run


def assert_cited_spans_are_source_text(answer, folder: Path = SEEDS) -> None:
    """An answer cites something, every citation is its article's text at its offsets, and its
    marker is in the answer."""
    assert answer.citations, answer
    for c in answer.citations:
        assert (folder / c["doc"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["text"]
        assert f"[{c['n']}]" in answer.answer


# ---- the real default models (integration tests) -------------------------------------------
@pytest.fixture(scope="session")
def real_index(tmp_path_factory):
    """The real seeds indexed once per session with the real embedding model."""
    return tmp_path_factory.mktemp("real") / "index"


@pytest.fixture(scope="session")
def real_pipeline(real_index):
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipe = Pipeline(Settings.load(corpus=SEEDS, index=real_index))
    pipe.warm_up()
    return pipe


@pytest.fixture(scope="session")
def strict_pipeline(real_pipeline):
    """``real_pipeline``'s models and index under the default risk budget (RAG_GATE_RISK unset)."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    p = real_pipeline
    default = Settings.__dataclass_fields__["gate_risk"].default
    return Pipeline(p.settings.replace(gate_risk=default), embedder=p.embedder, generator=p.generator, store=p.store,
                    reader=p.reader)


@pytest.fixture(scope="session")
def real_project(tmp_path_factory):
    """A checkout for the real ``rag`` command: seeds/ (the index .rag/ appears there on first use)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(SEEDS, project / "seeds")
    return project


@pytest.fixture(scope="session")
def real_home(tmp_path_factory, news_folder):
    """What ``~/`` means in the real command lines: a folder with ~/news (every format). HOME itself
    is left alone, so the prepared models in ~/.cache/rag are found."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(news_folder, home / "news")
    return home


@pytest.fixture
def rag_real(real_project, real_home):
    """Run a ``rag …`` command line as a separate process (the installed ``rag``), real models.

    ``replace`` fills the line's placeholders (``{"/path/to/model.gguf": "…"}``), ``env`` adds
    variables; ``offline`` runs it in a network namespace with no interface at all (``unshare -rn``).
    """
    def run(line: str, replace: dict | None = None, env: dict | None = None, input: str | None = None,
            offline: bool = False, timeout: int = 900) -> subprocess.CompletedProcess:
        for placeholder, value in (replace or {}).items():
            line = line.replace(placeholder, value)
        assigned, args = command_words(line, real_home)
        script = Path(sys.executable).with_name("rag")
        cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]
        cmd = (["unshare", "-rn"] if offline else []) + cmd + args
        clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_GATE_RISK"}
        # This checkout's rag, whichever checkout the installed script was made for.
        path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
        return subprocess.run(cmd, cwd=real_project, env={**clean, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path,
                                                          **(env or {}), **assigned},
                              input=input,
                              capture_output=True, text=True, timeout=timeout)

    return run


def can_cut_the_network() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0


# ---- the web chat as a browser loads it ---------------------------------------------------
def page_config(pipeline) -> dict:
    """What a browser loads first: Gradio's ``/config`` (components, their props, the events
    wired), served on a free loopback port by the web chat built on ``pipeline``."""
    import urllib.request

    from rag.web import app

    demo = app.build_app(pipeline)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        with urllib.request.urlopen(demo.local_url + "config", timeout=10) as r:
            return json.load(r)
    finally:
        demo.close()


# ---- real servers started by the tests (integration; need the .[server] extra) -------------
def require_extra(module: str) -> None:
    """Skip without the ``.[server]`` extra, except in CI (scripts/test.sh installs it)."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed: pip install -e '.[server]'")


@pytest.fixture(scope="session")
def llm_server():
    require_extra("xllamacpp")
    from rag.models.llm_server import Child

    server = Child(parallel=2).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llama_cpp_python_server():
    """llama-cpp-python's own server on the packaged GGUF (``rag.models.llm_server.Child``: ``--logits_all False``)."""
    require_extra("llama_cpp.server.app")
    from rag.models.llm_server import Child

    from rag.settings import Settings

    server = Child(server="llama-cpp-python", settings=Settings.load()).start()
    yield server
    server.stop()


class PgServer:
    """PostgreSQL 16 + pgvector from the ``pgserver`` wheel, in a temporary folder, on a
    free loopback port. (initdb refuses root: pgserver runs it as its own system user.)"""

    def __init__(self, folder: Path):
        import pgserver
        from pgserver._commands import pg_ctl

        from rag.models.llm_server import free_port

        self.folder = folder
        first = pgserver.get_server(folder, cleanup_mode="stop")   # initdb, then a socket-only start
        self.user = first.system_user
        first.cleanup()
        self.port = free_port()
        pg_ctl(["-w", "-o", "-h 127.0.0.1", "-o", f"-p {self.port}", "-o", f"-k {folder}", "-l",
                str(folder / "log"), "start"], pgdata=folder, user=self.user, timeout=30)
        self._n = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self._n += 1
        name = f"rag_{os.getpid()}_{self._n}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown of the postmaster, by its pid."""
        import signal
        import time

        pid = int((self.folder / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)


@pytest.fixture(scope="session")
def pg_server():
    require_extra("pgserver")
    import tempfile

    # Not under pytest's temporary folder: other pytest sessions reset its mode to 0700,
    # which locks out the server's own system user.
    folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    os.chmod(folder, 0o777)
    server = PgServer(folder / "data")
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A new empty database on the session's PostgreSQL."""
    return pg_server.new_database()


def bench_markdown(**measured) -> str:
    """``rag bench``'s markdown for a report with ``measured`` parts and placeholder figures elsewhere."""
    from rag.evaluation.bench import markdown

    row = {"retrieve_s": 0.03, "read_s": 0.1, "first_token_s": 1.0, "total_s": 2.0, "prompt_tokens": 120,
           "tokens_per_s": 18.0}
    return markdown({"date": "d", "threads": 2, "default": {"median": row, "rows": [{}]}, "extract": {"median": row},
                     "ratios_default_over_extract": {}, "cold_start_s": 5, "peak_rss_mb": 1,
                     "generation": {"measured_tokens_per_s": 18.0, "share_of_bound": 0.6, "memory_bandwidth_gbs": 30,
                                    "model_gb": 1.1, "bound_tokens_per_s": 27},
                     "embedding": {"passages_per_s": 30, "query_ms_median": 16}, "faiss": [], **measured})
