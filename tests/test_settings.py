"""Settings: defaults < RAG_* variables < flags, and a bad value is one line naming it."""

from __future__ import annotations

from dataclasses import fields
from typing import get_type_hints

import pytest

from rag.errors import RagError
from rag.settings import RANGES, Settings


def test_variables_override_defaults_and_flags_override_variables():
    s = Settings.load(env={"RAG_TOP_K": "3", "RAG_HYBRID": "0", "RAG_MIN_SCORE": "0.5", "RAG_LANG": "fr"}, lang="en")
    assert (s.top_k, s.hybrid, s.min_score, s.lang) == (3, False, 0.5, "en")
    assert Settings.load(env={"RAG_TOP_K": ""}).top_k == 5          # empty means unset
    assert Settings.load(env={"RAG_ANSWER": "extract"}).answer == "extract"
    assert Settings.load(env={"RAG_ANSWER": "extract"}, answer="llm").answer == "llm"


def test_every_numeric_setting_refuses_values_out_of_its_range():
    hints = get_type_hints(Settings)
    numeric = [f.name for f in fields(Settings) if hints[f.name] in (int, float)]
    assert not set(numeric) - set(RANGES), "give these settings a range in rag/settings.py RANGES"
    for name in numeric:
        low, high = RANGES[name]
        for bad in (low - 1, high + 1, float("nan")):
            variable = f"RAG_{name.upper()}"
            with pytest.raises(RagError) as error:
                Settings.load(env={variable: str(int(bad) if hints[name] is int and bad == bad else bad)})
            message = str(error.value)
            assert message.startswith(f"{variable}=") and f"from {low} to {high}" in message, message
            assert "\n" not in message


@pytest.mark.parametrize("variable, value, message", [
    ("RAG_MIN_SCORE", "abc", "RAG_MIN_SCORE='abc' is not valid: use a number from -1.0 to 1.0"),
    ("RAG_TOP_K", "-1", "RAG_TOP_K=-1 is out of range: use an integer from 1 to 50"),
    ("RAG_TOP_K", "2.5", "RAG_TOP_K='2.5' is not valid: use an integer from 1 to 50"),
    ("RAG_HYBRID", "maybe", "RAG_HYBRID='maybe' is not valid: use 1 or 0"),
    ("RAG_LANG", "de", "RAG_LANG='de' is not allowed: use auto, fr or en"),
    ("RAG_ANSWER", "span", "RAG_ANSWER='span' is not allowed: use llm or extract"),
    ("RAG_CANDIDATES", "3", "RAG_CANDIDATES=3 is below RAG_TOP_K=5"),
])
def test_bad_values_say_what_is_allowed(variable, value, message):
    with pytest.raises(RagError) as error:
        Settings.load(env={variable: value})
    assert str(error.value).startswith(message)
