"""The pure end of answering one part of a question: the answer shown once the checks decided
(:func:`compose`): the refusal sentence that says what was found, or the answer with its ``[n]`` markers at
the end; the whole answer's citations are then numbered for the reader (:func:`numbered`).

>>> from rag.answer.checks import Verdict
>>> compose("91 entreprises [3].", [2, 5], Verdict(True), "fr").text
'91 entreprises [2][5].'
>>> compose("91 entreprises.", [2], Verdict(False, "unanswerable"), "en").text
"The articles don't say: no sentence of the articles states it."
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer import checks
from rag.answer.prompts import TEXT
from rag.retrieval.evidence import Evidence
from rag.text import citations


@dataclass
class PartAnswer:
    """The answer shown for one part of a question, or its refusal."""
    text: str                       # the answer shown for this part (refusal sentence if refused)
    refused: bool
    reason: str = ""                # the check that refused it and what it found, in English (logs, --json)
    cited: list[int] = field(default_factory=list)   # evidence numbers, in the whole answer
    withdrawn: str = ""             # a written answer that a check replaced by the refusal
    check: dict = field(default_factory=dict)        # the checks run and the first that failed
    prompt_tokens: int = 0
    reader: dict | None = None      # what the reader found (--json "reader")
    closest: Evidence | None = None  # a refusal's nearest sentence (the reader's best)


def refusal(v: checks.Verdict, lang: str) -> str:
    """The refusal sentence naming what the check ``v.failed`` found."""
    return TEXT[lang]["refused"].format(why=checks.refusal_reason(v, lang))


def compose(answer: str, numbers: list[int], v: checks.Verdict, lang: str, check: dict | None = None,
            prompt_tokens: int = 0, reader: dict | None = None, closest: Evidence | None = None) -> PartAnswer:
    """The shown answer: refused when the verdict failed (its ``detail`` says more), else the answer with
    its own markers replaced by the cited evidence numbers, before its final punctuation."""
    check = check or {}
    if not v.ok:
        return PartAnswer(refusal(v, lang), True, f"{v.failed}: {v.detail}", withdrawn=answer, check=check,
                          prompt_tokens=prompt_tokens, reader=reader, closest=closest)
    answer = re.sub(r"\s*\[\d+(?:[,\s]+\d+)*\]", "", answer).rstrip()
    marks = "".join(f"[{n}]" for n in numbers)
    shown = re.sub(r"\s*([.!?…]*)$", lambda m: f" {marks}{m.group(1)}", answer, count=1)
    return PartAnswer(shown, False, cited=numbers, check=check, prompt_tokens=prompt_tokens, reader=reader)


def numbered(text: str, cited: list[dict]) -> tuple[str, list[dict]]:
    """The answer and its citations numbered 1…n in order of first appearance (every part of a
    multi-part answer in one numbering). ``cited``: the citations, their ``n`` the evidence number
    the parts' markers use; each keeps that number as ``evidence`` (what ``checks[].source`` and the
    reader's ``sentence.n`` name), and the list follows the new numbers.

    >>> numbered("91 [6][3]. 40 [3].", [{"n": 3, "doc": "b"}, {"n": 6, "doc": "a"}])
    ('91 [1][2]. 40 [2].', [{'n': 1, 'doc': 'a', 'evidence': 6}, {'n': 2, 'doc': 'b', 'evidence': 3}])
    """
    shown, order = citations.renumber(text, [c["n"] for c in cited])
    by_n = {c["n"]: c for c in cited}
    return shown, [{**by_n[old], "n": new, "evidence": old} for new, old in enumerate(order, 1)]
