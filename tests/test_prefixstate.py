"""The system message's KV state kept on disk between processes (rag.models.prefixstate)."""

from __future__ import annotations

import pytest
from conftest import bench_markdown

from rag.settings import Settings


def test_the_prefix_cache_is_a_setting_on_by_default(tmp_path):
    assert Settings.load(env={}).prefix_cache is True
    assert Settings.load(env={"RAG_PREFIX_CACHE": "0"}).prefix_cache is False


def test_bench_table_shows_the_first_question_before_and_after():
    md = bench_markdown(first_question={"median": {"computed": 4.2, "from_disk": 1.4}, "ratio_median": 3.0,
                                        "ratio_range": [2.5, 3.5], "rows": [{}] * 6})
    assert "| computed (before) | 4.2 |" in md
    assert "| read from disk (`RAG_PREFIX_CACHE=1`) | 1.4 |" in md
    assert "3.0 (range 2.5–3.5)" in md


@pytest.mark.integration
def test_a_new_process_reads_the_system_message_back_and_answers_the_same(tmp_path):
    from rag.models.llamacpp import LlamaCppGenerator
    from rag.models.files import llm_path
    from rag.answer.prompts import WRITE_PREFIX, write_messages

    settings = Settings.load(cache_dir=None)
    path = llm_path(settings.llm_model, settings.cache_dir)
    messages = write_messages("Combien d'entreprises ont rejoint l'association ?",
                              "Actuellement, 91 entreprises ont rejoint l'association.", "91 entreprises", "fr")

    def first_answer(state_dir):
        gen = LlamaCppGenerator(path, state_dir=state_dir)     # a new process: an empty KV cache
        response = gen.stream(messages, 12, prefix=WRITE_PREFIX)
        return response.text(), response.usage

    computed, usage = first_answer(None)
    assert usage.cached_tokens == 0
    written, usage = first_answer(tmp_path)
    assert [f.suffix for f in tmp_path.iterdir()] == [".kv"]
    read, usage = first_answer(tmp_path)
    assert usage.cached_tokens > 100                 # the system message (~130 tokens) was not computed again
    assert read == written == computed
