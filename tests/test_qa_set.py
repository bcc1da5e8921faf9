"""Data checks on the evaluation set eval/qa.jsonl (fast, no models).

Each test checks one rule over every row and lists every row that breaks it in one failure.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.data

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

# A must_match set has to discriminate: a bare refusal must not pass it.
REFUSALS = [
    "Les articles ne le précisent pas.",
    "Je ne trouve pas cette information dans les documents fournis.",
    "The articles do not say.",
    "I could not find this information in the provided sources.",
]


def _rows(path: Path = QA) -> list[tuple[int, dict | None, str]]:
    """(line number, item or None, JSON error) for every non-blank line of a Q/A file."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append((n, json.loads(line), ""))
            except json.JSONDecodeError as e:
                rows.append((n, None, str(e)))
    return rows


ROWS = _rows()
ITEMS = [item for _, item, _ in ROWS if isinstance(item, dict)]
DOCS = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}


def _where(item: dict) -> str:
    return str(item.get("id", "?"))


def _evidences(item: dict) -> list[tuple[str, str]]:
    pairs = [(item["doc"], item["evidence"])] if item.get("doc") is not None else []
    return pairs + [(m.get("doc"), m.get("evidence")) for m in item.get("more_evidence") or []]


def _report(problems: list[str]) -> str:
    return f"{len(problems)} bad row(s) in {QA.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_every_line_is_a_json_object_with_the_known_keys():
    problems = [f"line {n}: invalid JSON: {error}" for n, item, error in ROWS if error]
    problems += [f"line {n}: not an object" for n, item, error in ROWS if not error and not isinstance(item, dict)]
    for item in ITEMS:
        keys = set(item)
        if not REQUIRED <= keys:
            problems.append(f"{_where(item)}: missing keys {sorted(REQUIRED - keys)}")
        if not keys <= REQUIRED | OPTIONAL:
            problems.append(f"{_where(item)}: unknown keys {sorted(keys - REQUIRED - OPTIONAL)}")
    assert not problems, _report(problems)


def test_ids_languages_types_and_texts_are_well_formed():
    problems = [f"{i}: duplicate id ({n} rows)" for i, n in Counter(map(_where, ITEMS)).items() if n > 1]
    for item in ITEMS:
        where = _where(item)
        if not ID_RE.match(where) or not where.startswith(f"{item.get('lang')}-"):
            problems.append(f"{where}: id is not <lang>-<type>-NNN with its own lang {item.get('lang')!r}")
        if item.get("lang") not in LANGS:
            problems.append(f"{where}: lang {item.get('lang')!r} not in {sorted(LANGS)}")
        if item.get("type") not in TYPES:
            problems.append(f"{where}: type {item.get('type')!r} not in {sorted(TYPES)}")
        for key in ("question", "answer"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                problems.append(f"{where}: empty {key}")
        must = item.get("must_match")
        if not isinstance(must, list) or not all(isinstance(r, str) and r for r in must):
            problems.append(f"{where}: must_match is not a list of non-empty strings")
        more = item.get("more_evidence", [{"doc": "", "evidence": ""}])
        if not isinstance(more, list) or not more or any(not isinstance(m, dict) or set(m) != {"doc", "evidence"}
                                                          for m in more):
            problems.append(f"{where}: more_evidence is not a non-empty list of {{doc, evidence}}")
    assert not problems, _report(problems)


def test_evidence_is_copied_verbatim_from_its_article():
    problems = []
    for item in ITEMS:
        if item.get("doc") is None and item.get("evidence") is not None:
            problems.append(f"{_where(item)}: evidence without a doc")
        for doc, evidence in _evidences(item):
            if doc not in DOCS:
                problems.append(f"{_where(item)}: unknown doc {doc!r}")
            elif not isinstance(evidence, str) or not evidence.strip() or evidence not in DOCS[doc]:
                problems.append(f"{_where(item)}: evidence not found verbatim in {doc}: {evidence!r}")
    assert not problems, _report(problems)


def test_regexes_accept_the_reference_answer_and_reject_a_refusal():
    problems = []
    for item in ITEMS:
        patterns = item.get("must_match") or []
        try:
            compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
        except re.error as e:
            problems.append(f"{_where(item)}: invalid regex: {e}")
            continue
        problems += [f"{_where(item)}: {rx.pattern!r} does not match the reference answer {item.get('answer')!r}"
                     for rx in compiled if not rx.search(str(item.get("answer")))]
        if compiled:
            problems += [f"{_where(item)}: the refusal {refusal!r} passes must_match"
                         for refusal in REFUSALS if all(rx.search(refusal) for rx in compiled)]
    assert not problems, _report(problems)


def test_each_type_has_its_fields():
    problems = []
    for item in ITEMS:
        where, kind = _where(item), item.get("type")
        if kind == "unanswerable":
            if item.get("must_match") or item.get("doc") is not None or item.get("evidence") is not None \
                    or "more_evidence" in item:
                problems.append(f"{where}: an unanswerable item has must_match [], doc and evidence null, "
                                f"no more_evidence")
        elif not item.get("must_match") or item.get("doc") is None:
            problems.append(f"{where}: an answerable item needs a doc and at least one regex")
        if kind == "multi" and not item.get("more_evidence"):
            problems.append(f"{where}: a multi item needs more_evidence")
        history = item.get("history")
        if kind != "followup":
            if "history" in item:
                problems.append(f"{where}: only followup items have a history")
        elif not history or history[-1].get("role") != "assistant" or any(
                set(turn) != {"role", "content"} or turn["role"] != ("user" if i % 2 == 0 else "assistant")
                or not str(turn["content"]).strip() for i, turn in enumerate(history)):
            problems.append(f"{where}: a followup needs a history of user/assistant turns ending with the assistant")
    assert not problems, _report(problems)


def test_the_set_is_large_and_balanced():
    problems = []
    if len(ITEMS) < MIN_ITEMS:
        problems.append(f"{len(ITEMS)} items, fewer than {MIN_ITEMS}")
    langs = Counter(it.get("lang") for it in ITEMS)
    problems += [f"{lang}: {langs[lang]} items, under {MIN_LANG_SHARE:.0%} of the set"
                 for lang in sorted(LANGS) if langs[lang] < MIN_LANG_SHARE * len(ITEMS)]
    types = Counter(it.get("type") for it in ITEMS)
    problems += [f"{t}: {types[t]} items, fewer than {MIN_PER_TYPE}" for t in sorted(TYPES) if types[t] < MIN_PER_TYPE]
    per_doc = Counter(doc for it in ITEMS for doc in {d for d, _ in _evidences(it)})
    problems += [f"{doc}: {per_doc[doc]} questions, fewer than {MIN_PER_DOC}" for doc in sorted(DOCS)
                 if per_doc[doc] < MIN_PER_DOC]
    if not DOCS:
        problems.append(f"no seed articles in {SEEDS}")
    assert not problems, "\n".join(problems)
