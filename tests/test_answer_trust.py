"""Answer trust with the real default models on the real seeds: distractors and general-knowledge
traps refused, the right figure kept, both parts of a two-part question answered. Cases the
system still gets wrong are expected failures that name what happened.

Each case is one a 1.5B model answered confidently and wrongly before the cite-first read,
the graded check and the gate (issue "Answers you can trust"). The traps are asked under the default
risk budget (``strict_pipeline``): three of them, and the general-knowledge trap, were expected failures
under the gate fitted on the seeds alone and are refused since it keeps wrong answers shown within 5 %.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def _limit(why: str):
    """A case the default model and gate still get wrong (measured 2026-11-23/24): run, reported, not failing."""
    return pytest.mark.xfail(reason=why, strict=False)


@pytest.mark.parametrize("question", [
    "What is the population of Fuzhou?",                                        # attribute swap (360 000 visitors)
    "Combien de membres l’association du métavers de Pékin vise-t-elle d’ici deux ans ?",   # entity swap
    "Combien d'entreprises membres compte la Chinese Cultural Industry Association ?",       # entity swap
    pytest.param("How many investment projects were signed at the 2022 World Internet Conference?",
                 marks=_limit("attribute swap: answered with the WIC's 2 000 (not projects), and the gate fitted on "
                              "both corpora (2026-12-01) gives it more than its 5 % threshold")),
])
def test_distractors_are_refused(strict_pipeline, question):
    answer = strict_pipeline.ask(question)
    assert answer.refused, (answer.answer, answer.checks)
    assert answer.citations == []
    assert answer.answer.startswith(("The articles don't say:", "Les articles ne le disent pas :"))


def test_general_knowledge_trap_is_refused(strict_pipeline):
    answer = strict_pipeline.ask("Who is the CEO of Alibaba Group?")
    assert answer.refused, (answer.answer, answer.checks)
    assert "Ma" not in answer.answer


@pytest.mark.parametrize("question, figure, doc", [
    ("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?", r"(?<!\d)91(?!\d)",
     "000_00be9f381121e8cb.txt"),
    pytest.param("How many investment projects were signed at the Digital China Summit?", r"(?<!\d)455(?!\d)",
                 "001_eff1faf9964d099f.txt",
                 marks=_limit("right in one run (455), in CI's run answered '40 %' from another sentence and "
                              "refused by the unit rule: the answer depends on what the KV cache held before")),
])
def test_the_correct_figure_is_not_refused(real_pipeline, question, figure, doc):
    answer = real_pipeline.ask(question)
    assert not answer.refused, (answer.reason, answer.checks)
    assert re.search(figure, answer.answer)
    assert answer.citations and all(c["doc"] == doc for c in answer.citations)


@_limit("the second part was answered '40 %' from the wrong sentence; the unit rule refused that part, the "
        "first part (91) was answered")
def test_a_two_part_question_is_answered_in_both_parts(real_pipeline):
    answer = real_pipeline.ask("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang, "
                               "et combien de projets d'investissement ont été conclus au Sommet de la Chine numérique ?")
    assert not answer.refused, answer.reason
    assert re.search(r"(?<!\d)91(?!\d)", answer.answer) and re.search(r"(?<!\d)455(?!\d)", answer.answer)
    assert {c["doc"] for c in answer.citations} == {"000_00be9f381121e8cb.txt", "001_eff1faf9964d099f.txt"}
    assert len(answer.checks) == 2
