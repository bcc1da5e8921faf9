"""Data checks on the public evaluation set eval/public/ (fast, no models).

The corpus is read as ``rag index`` reads it, so the doc ids and texts are the indexed ones.
Each test checks one rule over both files and lists every row that breaks it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from test_qa_set import LANGS, REFUSALS, REQUIRED, _rows

from rag.ingest.chunking import split_passages
from rag.ingest.corpus import read_corpus

pytestmark = pytest.mark.data

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "eval" / "public"
ROWS = {name: _rows(PUBLIC / f"{name}.jsonl") for name in ("calibration", "test")}
PARTS = {name: [item for _, item, _ in rows if isinstance(item, dict)] for name, rows in ROWS.items()}
ITEMS = [item for items in PARTS.values() for item in items]
DOCS = {d.id: d for d in read_corpus(PUBLIC / "corpus").docs}

SHORT = {"fact": "fact", "number": "num", "unanswerable": "unans"}
ID_RE = re.compile(r"^pub-(fr|en)-(fact|num|unans)-\d{3}$")
SOURCE_RE = re.compile(r"^(SQuAD 2\.0 dev [0-9a-f]{24}|PIAF v1\.0 p\d+)$")
# make_public_eval.py's reference answer for a PIAF question whose article is left out of the corpus.
LEFT_OUT = re.compile(r"« (?P<gold>.+) » d'après l'article « (?P<title>.+) », absent du corpus\.\)$")

MIN_ITEMS = 300
MIN_UNANSWERABLE_SHARE = 0.25
MIN_LANG_SHARE = 0.30
MIN_EN_OVER_FR = 30


def kind(item: dict) -> str:
    """Language of the question over language of the article (or the unanswerable's source)."""
    if item["type"] == "unanswerable":
        return f"{item['lang']} unanswerable"
    return f"{item['lang']} over {item['doc'][:2]} {item['type']}"


def left_out(item: dict) -> re.Match | None:
    return LEFT_OUT.search(item["answer"]) if item["type"] == "unanswerable" and item["lang"] == "fr" else None


def test_rows_have_the_keys_ids_and_types_of_the_format():
    problems = [f"{name}.jsonl line {n}: not a JSON object {error}" for name, rows in ROWS.items()
                for n, item, error in rows if not isinstance(item, dict)]
    problems += [f"{i}: duplicate id ({n} rows)" for i, n in Counter(it.get("id") for it in ITEMS).items() if n > 1]
    for item in ITEMS:
        where, keys = item.get("id", "?"), set(item)
        if keys != REQUIRED | {"source"}:
            problems.append(f"{where}: keys {sorted(keys)}, expected {sorted(REQUIRED | {'source'})}")
            continue
        m = ID_RE.match(where)
        if item["lang"] not in LANGS or item["type"] not in SHORT or not m \
                or m.groups() != (item["lang"], SHORT[item["type"]]):
            problems.append(f"{where}: id, lang {item['lang']!r} and type {item['type']!r} disagree")
        if not SOURCE_RE.match(str(item["source"])):
            problems.append(f"{where}: source {item['source']!r} is not a SQuAD or PIAF id")
        if item["type"] == "unanswerable":
            if item["doc"] is not None or item["evidence"] is not None or item["must_match"] != []:
                problems.append(f"{where}: an unanswerable item has doc and evidence null and must_match []")
        elif not (item["doc"] and item["evidence"] and item["must_match"]):
            problems.append(f"{where}: an answerable item needs doc, evidence and regexes")
        elif (item["type"] == "number") != bool(re.search(r"\d", item["answer"])):
            problems.append(f"{where}: type {item['type']} but the answer {item['answer']!r}")
    assert not problems, "\n".join(problems)


def test_evidence_is_verbatim_in_one_passage_of_its_doc():
    """The eval finds the gold passage as the one holding the evidence string."""
    passages = {doc: [p.text for p in split_passages(doc, d.text)] for doc, d in DOCS.items()}
    problems = []
    for item in ITEMS:
        if item.get("doc") is None:
            continue
        if item["doc"] not in DOCS:
            problems.append(f"{item['id']}: unknown doc {item['doc']!r}")
        elif item["evidence"] not in DOCS[item["doc"]].text:
            problems.append(f"{item['id']}: evidence not verbatim in {item['doc']}: {item['evidence']!r}")
        elif not any(item["evidence"] in p for p in passages[item["doc"]]):
            problems.append(f"{item['id']}: evidence spans two passages of {item['doc']}")
    assert not problems, "\n".join(problems)


def test_regexes_match_evidence_and_answer_and_reject_a_refusal():
    problems = []
    for item in ITEMS:
        for rx in item.get("must_match") or []:
            try:
                compiled = re.compile(rx, re.IGNORECASE)
            except re.error as e:
                problems.append(f"{item['id']}: {rx!r} does not compile: {e}")
                continue
            problems += [f"{item['id']}: {rx!r} does not match the {key} {item[key]!r}"
                         for key in ("evidence", "answer") if not compiled.search(item[key])]
        if item.get("must_match"):
            problems += [f"{item['id']}: the refusal {r!r} passes must_match" for r in REFUSALS
                         if all(re.search(rx, r, re.IGNORECASE) for rx in item["must_match"])]
    assert not problems, "\n".join(problems)


def test_left_out_unanswerables_are_not_in_the_corpus():
    """A French unanswerable is a PIAF question whose article was left out: neither its gold answer
    nor its article's title may occur in the corpus."""
    corpus = "\n".join(d.text for d in DOCS.values()).casefold()
    problems = []
    for item in ITEMS:
        if item["type"] == "unanswerable" and item["lang"] == "fr":
            m = left_out(item)
            if not m:
                problems.append(f"{item['id']}: the answer does not name the left-out gold answer and article")
            elif m["gold"].casefold() in corpus:
                problems.append(f"{item['id']}: the gold answer {m['gold']!r} is in the corpus")
            elif m["title"] in {d.title for d in DOCS.values()}:
                problems.append(f"{item['id']}: the article {m['title']!r} is in the corpus")
    assert not problems, "\n".join(problems)


def test_the_split_is_by_article_and_has_every_kind_in_both_parts():
    def articles(items):
        return {item["doc"] for item in items if item["doc"]} | {m["title"] for item in items if (m := left_out(item))}

    def questions(items):
        return {item["question"].casefold().strip() for item in items}

    cal, test = PARTS["calibration"], PARTS["test"]
    problems = [f"article in both parts: {a}" for a in sorted(articles(cal) & articles(test))]
    problems += [f"question in both parts: {q!r}" for q in sorted(questions(cal) & questions(test))]
    problems += [f"no {k} question in {name}" for k in sorted(set(map(kind, ITEMS)))
                 for name, items in PARTS.items() if k not in set(map(kind, items))]
    problems += [f"{doc} has no question" for doc in sorted(set(DOCS) - articles(ITEMS))]
    assert not problems, "\n".join(problems)


def test_counts():
    kinds, langs = Counter(map(kind, ITEMS)), Counter(item["lang"] for item in ITEMS)
    unanswerable = kinds["en unanswerable"] + kinds["fr unanswerable"]
    en_over_fr = kinds["en over fr fact"] + kinds["en over fr number"]
    problems = []
    if len(ITEMS) < MIN_ITEMS:
        problems.append(f"{len(ITEMS)} items < {MIN_ITEMS}")
    if unanswerable < MIN_UNANSWERABLE_SHARE * len(ITEMS):
        problems.append(f"{unanswerable} unanswerable, under {MIN_UNANSWERABLE_SHARE:.0%}")
    problems += [f"{lang}: {langs[lang]} items, under {MIN_LANG_SHARE:.0%}" for lang in sorted(LANGS)
                 if langs[lang] < MIN_LANG_SHARE * len(ITEMS)]
    if en_over_fr < MIN_EN_OVER_FR:
        problems.append(f"{en_over_fr} English questions over French articles < {MIN_EN_OVER_FR}")
    assert not problems, f"{'; '.join(problems)} ({dict(kinds)})"

