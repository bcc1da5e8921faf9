"""The pure ends of answering one part of a question: the refusals decided before the model is
asked (:func:`early_refusal`), and the answer shown once the checks decided (:func:`compose`):
the refusal sentence that names the check, or the answer with its ``[n]`` markers at the end;
the whole answer's citations are then numbered for the reader (:func:`numbered`).

>>> compose("91 entreprises [3].", [2, 5], None, "fr").text
'91 entreprises [2][5].'
>>> compose("91 entreprises.", [2], "p_source", "en").text
"The articles don't say: no sentence of the articles states it clearly."
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer import grounding
from rag.answer.prompts import TEXT
from rag.retrieval import timefilter
from rag.retrieval.evidence import Evidence
from rag.text import citations


@dataclass
class PartAnswer:
    """The answer shown for one part of a question, or its refusal."""
    text: str                       # the answer shown for this part (refusal sentence if refused)
    refused: bool
    reason: str = ""                # the check that refused it, in English (logs, --json)
    cited: list[int] = field(default_factory=list)   # evidence numbers, in the whole answer
    withdrawn: str = ""             # a generated answer that a check replaced by the refusal
    check: dict = field(default_factory=dict)        # the gate's decision and what it read
    prompt_tokens: int = 0


def refusal(why: str, lang: str, **fmt) -> str:
    """The refusal sentence naming the check ``why`` (the gate's features read as the source check)."""
    text = TEXT[lang]
    words = text["why"].get(why, text["why"]["p_source"])
    return text["refused"].format(why=words.format(**fmt) if fmt else words)


def early_refusal(question: str, evidence: list[Evidence], passages: list[dict], best: float, min_score: float,
                  when: timefilter.TimeCondition | None, lang: str) -> PartAnswer | None:
    """A refusal decided before the model is asked, or None.

    No evidence, or none close enough to the question. A figure the question is conditioned on
    ("in 2020") that no retrieved passage mentions: the articles don't cover that case, and the
    model would answer with the nearest figure. "In 2024" is answered by an article dated 2024
    even if its text never says the year: the dates of the articles the time condition picked
    count as mentions."""
    if not evidence or best < min_score:
        return PartAnswer(refusal("no_evidence", lang), True, f"no passage scored above {min_score} (best {best:.3f})")
    dates = [p["date"] for p in passages]
    picked = [d for d in dates if when and timefilter.discriminates(when, dates) and when.matches(d)]
    passage_figures = [f for t in [*(p["text"] for p in passages), *picked] for f in grounding.figures(t)]
    absent = [f.text for f in grounding.figures(question, lang) if not any(f.values & g.values for g in passage_figures)]
    if absent:
        return PartAnswer(refusal("missing_figure", lang, figures=", ".join(absent)), True,
                          f"no retrieved passage mentions {', '.join(absent)}")
    return None


def compose(answer: str, numbers: list[int], failed: str | None, lang: str, reason: str = "", check: dict | None = None,
            prompt_tokens: int = 0) -> PartAnswer:
    """The shown answer: refused when ``failed`` names a check (``reason`` says more), else the
    model's answer with its own markers replaced by the cited evidence numbers, before its final
    punctuation."""
    check = check or {}
    if failed is not None:
        return PartAnswer(refusal(failed, lang), True, reason, withdrawn=answer, check=check,
                          prompt_tokens=prompt_tokens)
    answer = re.sub(r"\s*\[\d+(?:[,\s]+\d+)*\]", "", answer).rstrip()
    marks = "".join(f"[{n}]" for n in numbers)
    shown = re.sub(r"\s*([.!?…]*)$", lambda m: f" {marks}{m.group(1)}", answer, count=1)
    return PartAnswer(shown, False, cited=numbers, check=check, prompt_tokens=prompt_tokens)


def numbered(text: str, cited: list[dict]) -> tuple[str, list[dict]]:
    """The answer and its citations numbered 1…n in order of first appearance (every part of a
    multi-part answer in one numbering). ``cited``: the citations, their ``n`` the evidence number
    the parts' markers use; each keeps that number as ``evidence`` (what ``checks[].cited_evidence``
    and the model's letters name: A is 1), and the list follows the new numbers.

    >>> numbered("91 [6][3]. 40 [3].", [{"n": 3, "doc": "b"}, {"n": 6, "doc": "a"}])
    ('91 [1][2]. 40 [2].', [{'n': 1, 'doc': 'a', 'evidence': 6}, {'n': 2, 'doc': 'b', 'evidence': 3}])
    """
    shown, order = citations.renumber(text, [c["n"] for c in cited])
    by_n = {c["n"]: c for c in cited}
    return shown, [{**by_n[old], "n": new, "evidence": old} for new, old in enumerate(order, 1)]
