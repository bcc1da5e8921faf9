"""The web chat's string tables (``rag.web.strings``) agree: French and English have the same
keys and, key by key, the same ``{placeholders}``, and every label the page relabels exists."""

from __future__ import annotations

from string import Formatter

import pytest

from rag.web.strings import LABELS, UI

pytestmark = pytest.mark.data


def placeholders(value) -> list[set[str]]:
    """The ``{names}`` of a string, or of each string of a list (a table's columns)."""
    texts = value if isinstance(value, list) else [value]
    return [{name for _, name, _, _ in Formatter().parse(text) if name is not None} for text in texts]


def test_both_languages_have_the_same_keys():
    assert set(UI) == {"fr", "en"}
    assert sorted(set(UI["fr"]) ^ set(UI["en"])) == []


def test_each_key_has_the_same_placeholders_in_both_languages():
    differ = {key: (placeholders(UI["fr"][key]), placeholders(UI["en"][key]))
              for key in UI["fr"] if placeholders(UI["fr"][key]) != placeholders(UI["en"][key])}
    assert not differ, differ


def test_every_relabelled_property_has_its_string():
    missing = [key for _, props in LABELS for key in (props or {}).values() if key not in UI["fr"]]
    assert not missing
