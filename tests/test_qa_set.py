"""Sanity checks on the evaluation set eval/qa.jsonl (fast, no models)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT / "eval" / "qa.jsonl"
SEEDS = ROOT / "seeds"

REQUIRED = {"id", "lang", "question", "doc", "evidence", "answer", "must_match", "type"}
OPTIONAL = {"history", "more_evidence"}
LANGS = {"fr", "en"}
TYPES = {"fact", "number", "paraphrase", "multi", "unanswerable", "followup"}
ID_RE = re.compile(r"^(fr|en)-[a-z]+-\d{3}$")

MIN_ITEMS = 80
MIN_LANG_SHARE = 0.40
MIN_PER_TYPE = 6
MIN_PER_DOC = 12


def _load() -> list[dict]:
    items = []
    for n, line in enumerate(QA.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:  # pragma: no cover - reported as a failure
            pytest.fail(f"{QA.name}:{n}: invalid JSON: {e}")
    return items


ITEMS = _load()
DOCS = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}


def _ids(items):
    return [it.get("id", "?") for it in items]


def _evidences(item) -> list[tuple[str, str]]:
    pairs = []
    if item.get("doc") is not None:
        pairs.append((item["doc"], item["evidence"]))
    pairs += [(m["doc"], m["evidence"]) for m in item.get("more_evidence", [])]
    return pairs


def test_seeds_exist():
    assert DOCS, "no seed files found"


@pytest.mark.parametrize("item", ITEMS, ids=_ids(ITEMS))
def test_item_schema(item):
    keys = set(item)
    assert REQUIRED <= keys, f"missing keys: {REQUIRED - keys}"
    assert keys <= REQUIRED | OPTIONAL, f"unknown keys: {keys - REQUIRED - OPTIONAL}"
    assert ID_RE.match(item["id"]), item["id"]
    assert item["lang"] in LANGS
    assert item["id"].startswith(item["lang"] + "-"), "id prefix must match lang"
    assert item["type"] in TYPES
    assert isinstance(item["question"], str) and item["question"].strip()
    assert isinstance(item["answer"], str) and item["answer"].strip()
    assert isinstance(item["must_match"], list)
    assert all(isinstance(r, str) and r for r in item["must_match"])
    if "more_evidence" in item:
        assert isinstance(item["more_evidence"], list) and item["more_evidence"]
        for m in item["more_evidence"]:
            assert set(m) == {"doc", "evidence"}


@pytest.mark.parametrize("item", ITEMS, ids=_ids(ITEMS))
def test_evidence_is_verbatim(item):
    if item["doc"] is None:
        assert item["evidence"] is None
    else:
        assert isinstance(item["evidence"], str) and item["evidence"].strip()
    for doc, evidence in _evidences(item):
        assert doc in DOCS, f"unknown doc {doc!r}"
        assert evidence in DOCS[doc], f"evidence not found verbatim in {doc}: {evidence!r}"


@pytest.mark.parametrize("item", ITEMS, ids=_ids(ITEMS))
def test_regexes_match_reference_answer(item):
    for pattern in item["must_match"]:
        rx = re.compile(pattern, re.IGNORECASE)  # raises if the pattern is invalid
        assert rx.search(item["answer"]), f"{pattern!r} does not match the reference answer"


@pytest.mark.parametrize("item", ITEMS, ids=_ids(ITEMS))
def test_type_rules(item):
    if item["type"] == "unanswerable":
        assert item["must_match"] == []
        assert item["doc"] is None and item["evidence"] is None
        assert "more_evidence" not in item
    else:
        assert item["must_match"], "answerable items need at least one regex"
        assert item["doc"] is not None
    if item["type"] == "multi":
        assert item.get("more_evidence"), "multi items need more_evidence"
    if item["type"] == "followup":
        history = item.get("history")
        assert history, "followups need a non-empty history"
        for i, turn in enumerate(history):
            assert set(turn) == {"role", "content"}
            assert turn["role"] == ("user" if i % 2 == 0 else "assistant")
            assert isinstance(turn["content"], str) and turn["content"].strip()
        assert history[-1]["role"] == "assistant"
    else:
        assert "history" not in item


REFUSALS = [
    "Les articles ne le précisent pas.",
    "Je ne trouve pas cette information dans les documents fournis.",
    "The articles do not say.",
    "I could not find this information in the provided sources.",
]


@pytest.mark.parametrize("item", [it for it in ITEMS if it["must_match"]],
                         ids=_ids([it for it in ITEMS if it["must_match"]]))
def test_regexes_reject_a_refusal(item):
    """A must_match set has to discriminate: a bare refusal must not pass it."""
    for refusal in REFUSALS:
        assert not all(re.search(p, refusal, re.IGNORECASE) for p in item["must_match"]), refusal


def test_unique_ids():
    dupes = [i for i, n in Counter(_ids(ITEMS)).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_counts():
    assert len(ITEMS) >= MIN_ITEMS
    langs = Counter(it["lang"] for it in ITEMS)
    for lang in LANGS:
        assert langs[lang] / len(ITEMS) >= MIN_LANG_SHARE, langs
    types = Counter(it["type"] for it in ITEMS)
    for t in TYPES:
        assert types[t] >= MIN_PER_TYPE, types


def test_every_seed_covered():
    per_doc = Counter()
    for it in ITEMS:
        for doc in {d for d, _ in _evidences(it)}:
            per_doc[doc] += 1
    for doc in DOCS:
        assert per_doc[doc] >= MIN_PER_DOC, f"{doc}: only {per_doc[doc]} questions"
