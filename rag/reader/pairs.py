"""Training pairs for the reader: (question, sentence, does it state the answer, where the answer is).

Two sources of labelled questions, none of them costing a model call:

- **public-qa** (``../shared/datasets/public-qa``: SQuAD 2.0 dev with its adversarial unanswerables,
  PIAF v1.0): articles of paragraphs, each question with its paragraph, evidence and answer regex;
- **eval-format files** (``eval/calibration.jsonl`` over ``seeds/``): questions with their evidence
  substring and ``must_match`` regexes, half of them English over French articles.

Sentences are cut by the app's own splitter (``rag.ingest.chunking.split_sentences``), so training sees
the sentences the reader is given at run time. For each question:

- **positive**: the sentence holding the answer (the regex match in the evidence), with the answer's
  character span inside it;
- **paragraph negatives**: the other sentences of its paragraph, most word-overlapping first;
- **retrieval negatives**: the sentences of other paragraphs or articles that the dense retriever
  (multilingual-e5-small) ranks best for the question: what the reader is shown at run time;
- **unanswerable questions**: every sentence they bring is a negative.

A sentence that holds a match of the answer regex is never a negative (SQuAD and PIAF answers recur).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from rag.ingest.chunking import split_sentences

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    answerable: bool
    span: tuple[int, int] | None   # character offsets of the answer inside ``sentence`` (None: not known / none)
    article: str                   # "<group>/<article file>": the unit the dev split is drawn by
    qid: str
    kind: str                      # positive, paragraph, retrieved, unanswerable


@dataclass
class Question:
    """One labelled question over one article, with the article's sentences cut as the app cuts them."""

    qid: str
    lang: str
    question: str
    article: str
    text: str
    sentences: list[tuple[int, int]]
    paragraph: tuple[int, int] | None      # the characters of the question's paragraph, when known
    answer_spans: list[tuple[int, int]]    # absolute answer spans (one per evidence), [] if unanswerable
    patterns: list[str]                    # answer regexes: a sentence matching all of them is no negative

    @property
    def answerable(self) -> bool:
        return bool(self.answer_spans)


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph of a public-qa file (title line, blank line, paragraphs)."""
    out, pos = [], 0
    for block in text.split("\n\n"):
        out.append((pos, pos + len(block)))
        pos += len(block) + 2
    return out[1:]


def _matches_all(patterns: Sequence[str], text: str) -> bool:
    return bool(patterns) and all(re.search(p, text, re.IGNORECASE) for p in patterns)


def _answer_span(patterns: Sequence[str], evidence: str) -> tuple[int, int] | None:
    """The smallest stretch of ``evidence`` covering the first match of each regex (None if one misses)."""
    found = [re.search(p, evidence, re.IGNORECASE) for p in patterns]
    if not found or not all(found):
        return None
    return min(m.start() for m in found), max(m.end() for m in found)


def public_qa(folder: Path, skip: Callable[[dict], bool]) -> list[Question]:
    """The public-qa questions (both languages) that ``skip`` does not exclude."""
    texts: dict[str, str] = {}
    out = []
    for lang in ("en", "fr"):
        for line in (folder / f"qa-{lang}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if skip(row):
                continue
            key = f"{lang}/{row['doc']}"
            if key not in texts:
                texts[key] = (folder / f"corpus-{lang}" / row["doc"]).read_text(encoding="utf-8")
            text = texts[key]
            para = _paragraphs(text)[row["paragraph"]]
            spans: list[tuple[int, int]] = []
            patterns = [row["must_match"]] if row["must_match"] else []
            if row["answerable"]:
                at = text.find(row["evidence"], para[0], para[1])
                span = _answer_span(patterns, row["evidence"]) if at >= 0 else None
                if span is None:
                    continue
                spans = [(at + span[0], at + span[1])]
            out.append(Question(row["id"], lang, row["question"], "public-qa/" + key, text,
                                split_sentences(text), para, spans, patterns))
    return out


def eval_file(qa: Path, corpus: Path, skip: Callable[[dict], bool] = lambda row: False) -> list[Question]:
    """Questions of an eval-format file (``eval/calibration.jsonl``) over the articles of ``corpus``.
    Follow-ups are left out: their question needs the conversation before it."""
    texts: dict[str, str] = {}

    def article(doc: str) -> str:
        if doc not in texts:
            texts[doc] = (corpus / doc).read_text(encoding="utf-8")
        return texts[doc]

    out = []
    docs = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.txt"))
    for line in qa.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["type"] == "followup" or skip(row):
            continue
        spans: list[tuple[int, int]] = []
        doc = row["doc"]
        for item in [{"doc": doc, "evidence": row["evidence"]}, *row.get("more_evidence", [])]:
            if not item["doc"] or not item["evidence"]:
                continue
            if item["doc"] != doc:
                continue   # the second article of a two-article question: its own sentence is not in this text
            at = article(doc).find(item["evidence"])
            if at < 0:
                continue
            span = _answer_span(row["must_match"], item["evidence"]) or (0, len(item["evidence"]))
            spans.append((at + span[0], at + span[1]))
        if row["type"] != "unanswerable" and not spans:
            continue
        # An unanswerable question has no article: its retrieval negatives come from the whole corpus.
        text = article(doc) if doc else "\n\n".join(article(d) for d in docs)
        out.append(Question(row["id"], row["lang"], row["question"], f"{qa.stem}/{doc or 'corpus'}", text,
                            split_sentences(text), None, spans, list(row["must_match"])))
    return out


def _overlap(question: str, sentence: str) -> float:
    q = {w.lower() for w in _WORD.findall(question) if len(w) > 3}
    return len(q & {w.lower() for w in _WORD.findall(sentence)}) / (len(q) or 1)


def pairs_for(q: Question, retrieved: Iterable[str], paragraph_negatives: int = 2, retrieved_negatives: int = 1
              ) -> list[Pair]:
    """The question's positive(s) and negatives; ``retrieved``: sentence texts the retriever ranks best for it,
    best first (from this article or others)."""
    out: list[Pair] = []
    positives: set[tuple[int, int]] = set()
    for a, b in q.answer_spans:
        for s, e in q.sentences:
            if s <= a < e:
                positives.add((s, e))
                span = (a - s, min(b, e) - s) if b <= e else None
                out.append(Pair(q.question, q.text[s:e], True, span, q.article, q.qid, "positive"))
                break
    seen = {q.text[s:e] for s, e in positives}

    def negative(sentence: str) -> bool:
        return sentence not in seen and not _matches_all(q.patterns, sentence) and len(_WORD.findall(sentence)) >= 3

    kind = "paragraph" if q.answerable else "unanswerable"
    if q.paragraph:
        inside = [q.text[s:e] for s, e in q.sentences if q.paragraph[0] <= s < q.paragraph[1]]
        inside = sorted((t for t in inside if negative(t)), key=lambda t: -_overlap(q.question, t))
        for t in inside[:paragraph_negatives if q.answerable else paragraph_negatives + 1]:
            out.append(Pair(q.question, t, False, None, q.article, q.qid, kind))
            seen.add(t)
    taken = 0
    limit = retrieved_negatives if q.paragraph else paragraph_negatives + retrieved_negatives
    for t in retrieved:
        if taken >= limit:
            break
        if negative(t):
            out.append(Pair(q.question, t, False, None, q.article, q.qid, "retrieved" if q.answerable else kind))
            seen.add(t)
            taken += 1
    return out


def retrieval_neighbours(questions: list[Question], embed: Callable[[list[str], str], np.ndarray], k: int = 8
                         ) -> dict[str, list[str]]:
    """Each question's ``k`` best sentences by dense cosine, among the sentences of every article of its
    source (the corpus a retriever would search), its own paragraph excluded."""
    out: dict[str, list[str]] = {}
    groups: dict[str, list[Question]] = {}
    for q in questions:
        groups.setdefault(q.article.split("/", 1)[0] + "/" + q.lang, []).append(q)
    for members in groups.values():
        sentences = sorted({q.text[s:e] for q in members for s, e in q.sentences})
        vectors = embed(sentences, "passage")
        queries = embed([q.question for q in members], "query")
        scores = queries @ vectors.T
        for q, row in zip(members, scores):
            para = q.text[q.paragraph[0]:q.paragraph[1]] if q.paragraph else ""
            best = [sentences[i] for i in np.argsort(-row)[: k + 20] if not (para and sentences[i] in para)]
            out[q.qid] = best[:k]
    return out


def split_dev(pairs: list[Pair], dev_articles: set[str]) -> tuple[list[Pair], list[Pair]]:
    """(train, dev): a pair is in dev when its article is."""
    train = [p for p in pairs if p.article not in dev_articles]
    dev = [p for p in pairs if p.article in dev_articles]
    return train, dev


def subsample(pairs: list[Pair], fraction: float, seed: int) -> list[Pair]:
    """A seeded share of the questions, with all their pairs (the learning curve's quarter and half)."""
    qids = sorted({p.qid for p in pairs})
    random.Random(seed).shuffle(qids)
    keep = set(qids[: max(1, round(len(qids) * fraction))])
    return [p for p in pairs if p.qid in keep]


def save(pairs: list[Pair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")


def load(path: Path) -> list[Pair]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        d["span"] = tuple(d["span"]) if d["span"] else None
        out.append(Pair(**d))
    return out
