"""The ``openai`` backend against a real llama.cpp HTTP server (``rag llm-server``), and
against no server at all."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from rag.errors import RagError
from rag.models.llm_server import Child, free_port
from rag.models.openai_backend import OpenAIGenerator
from rag.pipeline import Pipeline, Token
from rag.settings import Settings

from conftest import assert_cited_spans_are_source_text, require_extra

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


@pytest.mark.integration
@pytest.mark.parametrize("question, figure, lang", [(FR, "91", "fr"), (EN, "228", "en")])
def test_readme_questions_answered_through_the_server(llm_server, real_pipeline, question, figure, lang):
    answer = _pipeline(llm_server, real_pipeline).ask(question)
    assert not answer.refused, answer.reason
    assert figure in answer.answer and answer.lang == lang
    assert any(figure in c["text"] for c in answer.citations)
    assert_cited_spans_are_source_text(answer)
    assert answer.prompt_tokens > 100


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
def test_label_probabilities_match_the_in_process_model(llm_server, real_pipeline):
    labels = [" A", " B", " Z"]
    remote = OpenAIGenerator(llm_server.url).label_probabilities(CHOICE, "The answer is", labels)
    local = real_pipeline.generator.label_probabilities(CHOICE, "The answer is", labels)
    assert max(remote, key=remote.get) == max(local, key=local.get) == " A"
    for label in labels:
        assert remote[label] == pytest.approx(local[label], abs=0.05), (remote, local)
    assert sum(remote.values()) == pytest.approx(1.0)


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
    result = subprocess.run([sys.executable, "-m", "rag.cli", "bench", "--concurrency", "1,2", "--repeats", "1",
                             "--max-tokens", "8", "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    answers, decoding = result.stdout.split("Decoding alone")
    for table, failed in ((answers, 7), (decoding, 5)):
        rows = [r.split("|") for r in table.splitlines() if r.startswith("| ") and r[2].isdigit()]
        assert [(r[1].strip(), r[2].strip()) for r in rows] == [("1", "in-process"), ("2", "in-process"),
                                                                ("1", "server"), ("2", "server")]
        assert all(r[failed].strip() == "0" for r in rows)     # no failed request
        assert all(float(r[3]) > 0 for r in rows)
