"""How llama.cpp runs on the CPU: its extra buffer types (repacked weights, AMX), off by default and
measured by ``rag bench``; OpenMP's wait policy, left to the user or to libgomp's default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import bench_markdown

from rag.models import llamacpp
from rag.settings import Settings


def test_extra_buffers_are_off_by_default_and_a_setting():
    assert Settings.load(env={}).extra_buffers is False
    assert Settings.load(env={"RAG_EXTRA_BUFFERS": "1"}).extra_buffers is True


@pytest.mark.parametrize("wanted, amx, used", [(False, False, False), (True, False, True), (True, True, False),
                                               (False, True, False)])
def test_extra_buffers_are_never_used_on_a_cpu_with_amx(monkeypatch, wanted, amx, used):
    monkeypatch.setattr(llamacpp, "_cpu_has_amx", lambda: amx)
    assert llamacpp.use_extra_buffers(wanted) is used


def test_bench_table_shows_the_kernels_before_and_after():
    md = bench_markdown(kernels={"on": {"first_token_s": 6.0, "tokens_per_s": 18.4, "total_s": 8.0},
                                 "off": {"first_token_s": 4.0, "tokens_per_s": 15.8, "total_s": 6.5},
                                 "ratio_off_over_on": {"first_token_s": 1.5, "tokens_per_s": 0.86, "total_s": 1.23},
                                 "questions": 6})
    assert "| on (before) | 6.0 | 18.4 | 8.0 |" in md
    assert "| off (`RAG_EXTRA_BUFFERS=0`) | 4.0 | 15.8 | 6.5 |" in md
    assert "| speed-up, off vs on | 1.5× | 0.86× | 1.23× |" in md



@pytest.mark.parametrize("given, used", [(None, "libgomp's default"), ("passive", "passive")])
def test_the_openmp_wait_policy_is_libgomps_default_unless_the_user_sets_one(given, used):
    """Read once, when PyTorch loads the libgomp llama.cpp shares: rag must not set it on import."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | ({"OMP_WAIT_POLICY": given} if given else {})
    code = "import rag, os, torch; print(os.environ.get('OMP_WAIT_POLICY', \"libgomp's default\"))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == used
