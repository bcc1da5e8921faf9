"""Shared fixtures: deterministic fakes for the swappable parts, and the real models (session-scoped)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from rag.embedding import Embedder
from rag.generation import Generator
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
    """Answers with ``reply(messages)``, streamed word by word."""

    model_id = "fake-llm"

    def __init__(self, reply: Callable[[list[dict]], str] | str = "91 entreprises [1]."):
        self.reply = reply if callable(reply) else (lambda messages: reply)
        self.prompts: list[list[dict]] = []
        self.last_prompt_tokens = 0

    def stream(self, messages, max_tokens):
        self.prompts.append(messages)
        self.last_prompt_tokens = sum(len(m["content"].split()) for m in messages)
        for piece in re.findall(r"\S+\s*", self.reply(messages)):
            yield piece


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
