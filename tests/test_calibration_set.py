"""Data checks on the answer-gate calibration set eval/calibration.jsonl (fast, no models).

Each check is one test that lists every bad row, so a broken file is fixed in one pass.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.data

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "eval" / "calibration.jsonl"
TEST_SET = ROOT / "eval" / "qa.jsonl"
SEEDS = ROOT / "seeds"

REQUIRED = {"id", "lang", "question", "doc", "evidence", "answer", "must_match", "type"}
OPTIONAL = {"more_evidence", "class"}
SHORT = {"fact": "fact", "number": "num", "paraphrase": "para", "multi": "multi", "unanswerable": "unans"}
CLASSES = {"attribute_swap", "entity_swap", "other_article", "time_swap", "general_knowledge", "off_topic"}
ID_RE = re.compile(r"^cal-(fr|en)-(fact|num|para|multi|unans)-\d{3}$")

MIN_ITEMS = 300
MIN_UNANSWERABLE = 120
MIN_MULTI = 30
LANG_SHARE = (0.40, 0.60)
MAX_JACCARD = 0.6
REFUSALS = ["Les articles ne le précisent pas.", "The articles do not say.",
            "Je ne trouve pas cette information dans les documents fournis.",
            "I could not find this information in the provided sources."]

ROWS = [json.loads(line) for line in CAL.read_text(encoding="utf-8").splitlines() if line.strip()]
TEST_QUESTIONS = [json.loads(line)["question"]
                  for line in TEST_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
DOCS = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}


def _schema_problems(row: dict) -> list[str]:
    keys = set(row)
    if not REQUIRED <= keys:
        return [f"missing keys {sorted(REQUIRED - keys)}"]
    problems = []
    if not keys <= REQUIRED | OPTIONAL:
        problems.append(f"unknown keys {sorted(keys - REQUIRED - OPTIONAL)}")
    for key in ("id", "question", "answer"):
        if not isinstance(row[key], str) or not row[key].strip():
            problems.append(f"{key} must be a non-empty string")
    if row["lang"] not in ("fr", "en"):
        problems.append(f"bad lang {row['lang']!r}")
    if row["type"] not in SHORT:
        return problems + [f"bad type {row['type']!r}"]
    if not isinstance(row["must_match"], list) or not all(isinstance(p, str) and p for p in row["must_match"]):
        problems.append("must_match must be a list of non-empty strings")
    m = ID_RE.match(row["id"]) if isinstance(row["id"], str) else None
    if not m or m.group(1) != row["lang"] or m.group(2) != SHORT[row["type"]]:
        problems.append(f"id {row['id']!r} does not match cal-{row['lang']}-{SHORT[row['type']]}-NNN")
    if row["type"] == "unanswerable":
        if row.get("class") not in CLASSES:
            problems.append(f"unanswerable needs a class in {sorted(CLASSES)}, got {row.get('class')!r}")
        if row["doc"] is not None or row["evidence"] is not None or row["must_match"] != [] or "more_evidence" in row:
            problems.append("unanswerable needs doc/evidence null, must_match [] and no more_evidence")
    else:
        if "class" in row:
            problems.append("class is only for unanswerable items")
        if not isinstance(row["doc"], str) or not isinstance(row["evidence"], str) or not row["must_match"]:
            problems.append("answerable needs doc, evidence and at least one regex")
    more = row.get("more_evidence")
    if row["type"] == "multi" and not more:
        problems.append("multi needs more_evidence")
    if more is not None and (not isinstance(more, list) or not more
                             or not all(isinstance(e, dict) and set(e) == {"doc", "evidence"} for e in more)):
        problems.append("more_evidence must be a non-empty list of {doc, evidence}")
    return problems


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def test_file_is_not_empty():
    assert ROWS and DOCS and TEST_QUESTIONS


def test_schema_ids_types_and_classes():
    bad = [f"line {n}: {row.get('id', '?')}: {p}"
           for n, row in enumerate(ROWS, 1) for p in _schema_problems(row)]
    dupes = [i for i, c in Counter(r.get("id") for r in ROWS).items() if c > 1]
    bad += [f"duplicate id {i}" for i in dupes]
    assert not bad, "\n".join(bad)


def test_evidence_is_verbatim_in_its_doc():
    bad = []
    for row in ROWS:
        pairs = [(row.get("doc"), row.get("evidence"))] if row.get("doc") is not None else []
        pairs += [(e.get("doc"), e.get("evidence")) for e in row.get("more_evidence") or [] if isinstance(e, dict)]
        for doc, evidence in pairs:
            if doc not in DOCS:
                bad.append(f"{row.get('id')}: unknown doc {doc!r}")
            elif not isinstance(evidence, str) or not evidence.strip() or evidence not in DOCS[doc]:
                bad.append(f"{row.get('id')}: not verbatim in {doc}: {evidence!r}")
    assert not bad, "\n".join(bad)


def test_regexes_compile_match_the_reference_answer_and_reject_a_refusal():
    bad = []
    for row in ROWS:
        compiled = []
        for pattern in row.get("must_match") or []:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except (re.error, TypeError) as e:
                bad.append(f"{row.get('id')}: {pattern!r} does not compile: {e}")
                continue
            if not compiled[-1].search(str(row.get("answer", ""))):
                bad.append(f"{row.get('id')}: {pattern!r} does not match {row.get('answer')!r}")
        bad += [f"{row.get('id')}: the regexes accept the refusal {r!r}"
                for r in REFUSALS if compiled and all(rx.search(r) for rx in compiled)]
    assert not bad, "\n".join(bad)


def test_counts():
    types = Counter(r.get("type") for r in ROWS)
    langs = Counter(r.get("lang") for r in ROWS)
    classes = Counter(r.get("class") for r in ROWS if r.get("type") == "unanswerable")
    bad = []
    if len(ROWS) < MIN_ITEMS:
        bad.append(f"{len(ROWS)} items < {MIN_ITEMS}")
    if types["unanswerable"] < MIN_UNANSWERABLE:
        bad.append(f"{types['unanswerable']} unanswerable < {MIN_UNANSWERABLE}")
    if types["multi"] < MIN_MULTI:
        bad.append(f"{types['multi']} multi < {MIN_MULTI}")
    bad += [f"class {c} missing" for c in sorted(CLASSES - set(classes))]
    for lang in ("fr", "en"):
        share = langs[lang] / len(ROWS) if ROWS else 0.0
        if not LANG_SHARE[0] <= share <= LANG_SHARE[1]:
            bad.append(f"{lang} share {share:.2f} outside {LANG_SHARE}")
    assert not bad, f"{'; '.join(bad)} (types {dict(types)}, langs {dict(langs)}, classes {dict(classes)})"


def test_no_question_duplicates_a_test_set_question():
    test_words = [(q, _words(q)) for q in TEST_QUESTIONS]
    bad = []
    for row in ROWS:
        mine = _words(str(row.get("question", "")))
        for question, words in test_words:
            score = _jaccard(mine, words)
            if score > MAX_JACCARD:
                bad.append(f"{row.get('id')}: {score:.2f} {row.get('question')!r} ~ {question!r}")
    assert not bad, "\n".join(bad)


def test_the_checks_catch_bad_rows():
    """The checks must be able to fail: a broken row trips each of them."""
    row = {"id": "cal-fr-num-001", "lang": "en", "question": "Quelle est la population de Fuzhou ?",
           "doc": "000_00be9f381121e8cb.txt", "evidence": "absent", "answer": "91", "must_match": ["(?<!\\d)19"],
           "type": "number"}
    assert _schema_problems(row) and _schema_problems({**row, "type": "unanswerable", "lang": "fr"})
    assert row["evidence"] not in DOCS[row["doc"]]
    assert not re.search(row["must_match"][0], row["answer"])
    assert max(_jaccard(_words(row["question"]), _words(q)) for q in TEST_QUESTIONS) > MAX_JACCARD
