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

from rag.embedding import Embedder
from rag.generation import Generator, Response, Usage
from rag.lexical import analyse

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


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


class FakeGenerator(Generator):
    """Answers with ``reply(messages)``, streamed word by word; label probabilities from ``labels``.

    ``labels(messages, prefix, labels)`` returns the probabilities (default: the first label
    is the most likely). Every prompt is recorded in ``prompts`` (label reads in ``label_reads``).
    """

    model_id = "fake-llm"

    def __init__(self, reply: Callable[[list[dict]], str] | str = "91 entreprises [1].",
                 labels: Callable[[list[dict], str, list[str]], dict] | None = None):
        self.reply = reply if callable(reply) else (lambda messages: reply)
        self.labels = labels or (lambda messages, prefix, labels: {
            label: (0.6 if i == 0 else 0.4 / max(1, len(labels) - 1)) for i, label in enumerate(labels)})
        self.prompts: list[list[dict]] = []
        self.label_reads: list[tuple[list[dict], str]] = []

    def stream(self, messages, max_tokens, prefix=""):
        self.prompts.append(messages)
        usage = Usage(prompt_tokens=sum(len(m["content"].split()) for m in messages))
        pieces = re.findall(r"\S+\s*", self.reply(messages))
        usage.completion_tokens = len(pieces)
        return Response(iter(pieces), usage)

    def label_probabilities(self, messages, prefix, labels):
        self.label_reads.append((messages, prefix))
        return self.labels(messages, prefix, labels)


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

    def make(reply="91 entreprises [1].", **overrides):
        options = {"min_score": 0.0, "translate_query": False, **overrides}
        settings = Settings.load(env={}, corpus=corpus, index=tmp_path / "index", **options)
        return Pipeline(settings, embedder=fake_embedder, generator=FakeGenerator(reply))

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
    """The fake model of the CLI sessions: the first figure of the first evidence line it reads,
    cited, in the language it is asked for ("Les articles ne le disent pas." when there is none)."""
    prompt = messages[-1]["content"]
    english = "in English" in prompt
    for n, text in re.findall(r"^\[(\d+)\] (.*)$", prompt, re.MULTILINE):
        figure = re.search(r"\d+(?:[ ,.]\d+)*", text)
        if figure:
            return (f"The articles give {figure.group()} [{n}]." if english
                    else f"Les articles donnent {figure.group()} [{n}].")
    return "The articles don't say." if english else "Les articles ne le disent pas."


@pytest.fixture
def fake_models(monkeypatch):
    """Every ``Pipeline`` built during the test (by the CLI, the web chat) gets the fake embedder
    and a fake model answering with ``answer_from_evidence``; returns the pipelines made."""
    from rag.pipeline import Pipeline

    made = []
    original = Pipeline.__init__

    def init(self, settings, *args, **kwargs):
        kwargs.setdefault("embedder", FakeEmbedder())
        kwargs.setdefault("generator", FakeGenerator(answer_from_evidence))
        original(self, settings, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Pipeline, "__init__", init)
    return made


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user's machine: a checkout (the working directory, with seeds/ and eval/qa.jsonl),
    a home folder with ~/my-articles, and no RAG_* variables set."""
    home, project = tmp_path / "home", tmp_path / "project"
    shutil.copytree(SEEDS, home / "my-articles")
    shutil.copytree(SEEDS, project / "seeds")
    (project / "eval").mkdir()
    shutil.copy(ROOT / "eval" / "qa.jsonl", project / "eval" / "qa.jsonl")
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    return home


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
def real_project(tmp_path_factory):
    """A checkout for the real ``rag`` command: seeds/ (the index .rag/ appears there on first use)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(SEEDS, project / "seeds")
    return project


@pytest.fixture
def rag_real(real_project):
    """Run a ``rag …`` command line as a separate process (the installed ``rag``), real models.

    ``replace`` fills the line's placeholders (``{"/path/to/model.gguf": "…"}``), ``env`` adds
    variables; ``offline`` runs it in a network namespace with no interface at all (``unshare -rn``).
    """
    def run(line: str, replace: dict | None = None, env: dict | None = None, input: str | None = None,
            offline: bool = False, timeout: int = 900) -> subprocess.CompletedProcess:
        for placeholder, value in (replace or {}).items():
            line = line.replace(placeholder, value)
        assigned, args = command_words(line, Path.home())
        script = Path(sys.executable).with_name("rag")
        cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]
        cmd = (["unshare", "-rn"] if offline else []) + cmd + args
        clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        return subprocess.run(cmd, cwd=real_project, env={**clean, "PYTHONUNBUFFERED": "1", **(env or {}), **assigned},
                              input=input,
                              capture_output=True, text=True, timeout=timeout)

    return run


def can_cut_the_network() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode == 0
