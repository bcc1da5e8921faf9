"""The ``openai`` backend against real servers — llama.cpp's (``rag llm-server``) and
llama-cpp-python's — and against no server at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest

from rag.errors import RagError
from rag.evaluation.eval import load_qa
from rag.models.llm_server import Child, free_port
from rag.models.openai_backend import OpenAIGenerator
from rag.pipeline import Pipeline, Token
from rag.models.serverprobe import CHAT, COMPLETION, Capabilities
from rag.settings import Settings

from conftest import ROOT, assert_cited_spans_are_source_text, require_extra

FR = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
EN = "How much were the investment projects signed in Fuzhou worth?"
CHOICE = [{"role": "system", "content": "Answer with the letter of the right option only."},
          {"role": "user", "content": "Which city is the capital of France?\nA) Paris\nB) Berlin\nZ) none of them"}]


def test_no_server_is_one_clear_line():
    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = OpenAIGenerator(url, model="m", retries=1)
    with pytest.raises(RagError) as error:
        generator.stream([{"role": "user", "content": "hi"}], 5).text()
    assert str(error.value).startswith(f"cannot reach the LLM server at {url}")
    assert "RAG_LLM_URL" in str(error.value)


def test_bad_url_setting_is_refused():
    with pytest.raises(RagError, match="RAG_LLM_URL"):
        Settings.load(env={"RAG_LLM_URL": "localhost:8080"})


def _pipeline(server, real_pipeline, **settings) -> Pipeline:
    settings = real_pipeline.settings.replace(llm_backend="openai", llm_url=server.url, **settings)
    return Pipeline(settings, embedder=real_pipeline.embedder, store=real_pipeline.store)


# The README's questions (the ones of the issue), checked against the gold facts of these eval items.
GOLD = {item["id"]: item for item in load_qa(ROOT / "eval" / "qa.jsonl")}
SEED = [(FR, GOLD["fr-num-001"]), (EN, GOLD["en-num-003"])]
USERS = [SEED[u % 2][0] for u in range(4)]


def _at_once(pipe: Pipeline, questions: list[str]) -> list:
    """Each question asked by its own user, all at once; → answers (or the exception raised)."""
    results = [None] * len(questions)

    def user(i):
        try:
            results[i] = pipe.ask(questions[i])
        except Exception as e:  # noqa: BLE001 - a failed request is what the test counts
            results[i] = e

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture(scope="session")
def server_answers(request, real_pipeline):
    """server name → {question: [answers]}: the seed questions asked once through each real server,
    llama.cpp's in turn, llama-cpp-python's by four users at once (the issue's four users)."""
    answers = {}
    llama_cpp = _pipeline(request.getfixturevalue("llm_server"), real_pipeline)
    answers["llama.cpp"] = {q: [llama_cpp.ask(q)] for q, _ in SEED}
    python = _pipeline(request.getfixturevalue("llama_cpp_python_server"), real_pipeline)
    results = _at_once(python, USERS)
    answers["llama-cpp-python"] = {q: [r for u, r in zip(USERS, results) if u == q] for q, _ in SEED}
    answers["capabilities"] = {"llama.cpp": llama_cpp.generator.capabilities,
                               "llama-cpp-python": python.generator.capabilities}
    return answers


@pytest.mark.integration
@pytest.mark.parametrize("server", ["llama.cpp", "llama-cpp-python"])
@pytest.mark.parametrize("question, gold", SEED, ids=[g["id"] for _, g in SEED])
def test_seed_questions_answered_through_each_server(server_answers, server, question, gold):
    for answer in server_answers[server][question]:
        assert not isinstance(answer, Exception), f"a request failed: {answer}"
        assert not answer.refused, answer.reason
        assert answer.lang == gold["lang"]
        assert all(re.search(pattern, answer.answer) for pattern in gold["must_match"]), answer.answer
        assert not re.search(r"Sentence:|Question:|Answer( words| language)?:", answer.answer)
        assert any(c["doc"] == gold["doc"] and re.search(gold["must_match"][0], c["text"]) for c in answer.citations)
        assert_cited_spans_are_source_text(answer)
        assert answer.prompt_tokens > 100


@pytest.mark.integration
def test_each_server_is_asked_the_way_it_supports(server_answers):
    assert server_answers["capabilities"] == {"llama.cpp": Capabilities(CHAT, True),
                                              "llama-cpp-python": Capabilities(COMPLETION, False)}


@pytest.mark.integration
def test_four_users_at_once_through_llama_cpp_python(server_answers):
    """The issue's four concurrent users: none failed (their answers are checked above)."""
    answers = [a for question, _ in SEED for a in server_answers["llama-cpp-python"][question]]
    assert len(answers) == 4 and not any(isinstance(a, Exception) for a in answers), answers
    assert not any(a.refused for a in answers), [a.reason for a in answers]


@pytest.mark.integration
def test_usage_and_prefix_continuation(llm_server):
    generator = OpenAIGenerator(llm_server.url)
    first = generator.stream(CHOICE, 4, prefix="The answer is")
    text = first.text()
    assert not text.startswith("The answer is") and "A" in text
    again = generator.stream(CHOICE, 4, prefix="The answer is")
    assert again.text() == text                      # greedy: same input, same output
    assert first.usage.prompt_tokens == again.usage.prompt_tokens > 20
    assert 0 < again.usage.completion_tokens <= 4
    assert again.usage.cached_tokens >= again.usage.prompt_tokens - 2   # the server's prompt cache


@pytest.mark.integration
def test_concurrent_answers_are_each_whole(llm_server):
    generator = OpenAIGenerator(llm_server.url)
    alone = generator.stream(CHOICE, 12).text()
    results = [None] * 3

    def ask(i):
        results[i] = generator.stream(CHOICE, 12).text()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [alone] * 3


@pytest.mark.integration
def test_server_killed_mid_answer_then_back(real_pipeline):
    require_extra("xllamacpp")
    server = Child(parallel=1).start()
    try:
        pipe = _pipeline(server, real_pipeline, llm_retries=1)
        with pytest.raises(RagError) as error:
            for event in pipe.ask_stream(FR):
                if isinstance(event, Token):
                    server.stop(kill=True)
        assert "stopped mid-answer" in str(error.value) and server.url in str(error.value)
        assert "\n" not in str(error.value)
        with pytest.raises(RagError, match="cannot reach the LLM server"):
            pipe.ask(FR)
        server.start()                                  # the same port
        answer = pipe.ask(FR)
        assert not answer.refused and "91" in answer.answer
    finally:
        server.stop()


@pytest.mark.integration
def test_readme_bench_concurrency(tmp_path):
    require_extra("xllamacpp")
    result = subprocess.run([sys.executable, "-m", "rag.cli", "bench", "--concurrency", "2", "--repeats", "1",
                             "--max-tokens", "8", "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    answers, decoding = result.stdout.split("Decoding alone")
    for table, failed in ((answers, 7), (decoding, 5)):
        rows = [r.split("|") for r in table.splitlines() if r.startswith("| ") and r[2].isdigit()]
        # One level keeps the test short (two users at once is the case that once broke the output).
        assert [(r[1].strip(), r[2].strip()) for r in rows] == [("2", "in-process"), ("2", "server")]
        assert all(r[failed].strip() == "0" for r in rows)     # no failed request
        assert all(float(r[3]) > 0 for r in rows)
