"""Readers' 👍/👎 on answers, kept next to the index (``<index>/feedback.jsonl``), and their
export as eval cases (the ``eval/qa.jsonl`` format) so that a reader's failures become tests.

A liked answer becomes a case whose gold answer is the answer itself; a disliked one with a
comment becomes a case whose gold answer is the comment (the reader's correction); a disliked
answer without a comment says nothing checkable and is left out (counted).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from filelock import FileLock

from rag.text import citations, language
from rag.answer import grounding

FILE = "feedback.jsonl"
SETTINGS_KEPT = ("lang", "top_k", "min_score", "hybrid", "reader_sentences", "answer", "embed_model",
                 "llm_model", "temperature")


def record(index_dir: Path, answer: dict, liked: bool, comment: str = "", settings=None, scope: dict | None = None) -> dict:
    """Append one rating; ``answer`` is ``Answer.to_json()``."""
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "liked": bool(liked), "comment": " ".join(comment.split()),
        "question": answer.get("question", ""), "lang": answer.get("lang", ""), "answer": answer.get("answer", ""),
        "refused": answer.get("refused", False), "citations": answer.get("citations", []),
        "passages": [{k: p.get(k) for k in ("doc", "title", "date", "source", "score")}
                     for p in answer.get("passages", [])],
        "settings": {k: str(getattr(settings, k)) for k in SETTINGS_KEPT if hasattr(settings, k)},
        "scope": scope or {},
    }
    path = Path(index_dir) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(FILE + ".lock")), open(path, "a", encoding="utf-8") as f:   # two tabs at once
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def load(index_dir: Path) -> list[dict]:
    path = Path(index_dir) / FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue            # a line cut by a crash: the others still count
    return out


def to_eval_cases(entries: list[dict]) -> tuple[list[dict], int]:
    """(cases in the eval/qa.jsonl format, number of entries left out). The latest rating of a
    question wins."""
    latest = {}
    for e in entries:
        latest[e["question"]] = e
    cases, skipped = [], 0
    for e in latest.values():
        gold = e["comment"]
        if e["liked"] and not e["refused"]:
            gold = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(citations.strip(e["answer"]).split()))
        elif e["liked"]:        # a refusal the reader approved: the refusal is the expected answer
            gold = gold or e["answer"]
        if not gold:
            skipped += 1
            continue
        lang = e.get("lang") or language.detect(e["question"])
        cited = e.get("citations") or []
        # The reader says the articles hold no answer (or approved a refusal): a case the app must refuse.
        unanswerable = (e["liked"] and e["refused"]) or (not e["liked"] and grounding.says_no_answer(gold))
        read = [p["doc"] for p in e.get("passages") or [] if p.get("doc")]
        doc = None if unanswerable else (cited[0]["doc"] if cited else (read[0] if read else None))
        figures = [] if unanswerable else grounding.written_figures(gold)
        cases.append({
            "id": f"{lang}-fb-{len(cases) + 1:03d}", "lang": lang, "question": e["question"], "doc": doc,
            "evidence": cited[0]["text"] if cited and e["liked"] else None,
            "answer": gold, "must_match": [re.escape(f) for f in figures],
            "type": "unanswerable" if unanswerable else "number" if figures else "fact",
        })
    return cases, skipped
