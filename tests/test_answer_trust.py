"""Answer trust with the real default models on the real seeds: distractors and general-knowledge
traps refused, the right figure kept, both parts of a two-part question answered. Cases the
system still gets wrong are expected failures that name what happened.

Each case is one a 1.5B model answered confidently and wrongly when it chose the sentence itself (issue
"Answers you can trust"). The trained reader now chooses the sentence and the answer's words; its
P(answerable) is gated before the model is asked anything, and the declared checks (``rag.answer.checks``)
refuse a written answer that drops or changes what the reader found. The traps are asked under the default
risk budget (``strict_pipeline``).
"""

from __future__ import annotations

import re

import pytest

from rag.answer.checks import BY_NAME

pytestmark = pytest.mark.integration

REFUSED = ("The articles don't say:", "Les articles ne le disent pas :")


def _limit(why: str):
    """A case the default models and gate still get wrong: run, reported, not failing."""
    return pytest.mark.xfail(reason=why, strict=False)


def _assert_refused(answer) -> None:
    """Refused by a declared check, saying why in the question's language, citing nothing."""
    assert answer.refused, (answer.answer, answer.reader, answer.checks)
    assert answer.citations == [] and answer.answer.startswith(REFUSED)
    failed = [c["failed"] for c in answer.checks if not c["answer"]]
    assert failed and all(name in BY_NAME for name in failed), answer.checks
    assert answer.reason.split(":")[0] in BY_NAME, answer.reason
    if "unanswerable" in failed:        # refused on the reader's probability: the model was never asked
        assert answer.timings["first_token_s"] is None and answer.withdrawn == ""
        assert answer.closest and answer.closest["text"] == answer.reader["sentence"]["text"]


@pytest.mark.parametrize("question", [
    "What is the population of Fuzhou?",                                        # attribute swap (360 000 visitors)
    pytest.param("Combien de membres l’association du métavers de Pékin vise-t-elle d’ici deux ans ?",
                 marks=_limit("entity swap: the reader gives Zhejiang's 200-member target P(answerable) 0.88 for "
                              "Beijing (2026-12-06), above the 5 % threshold 0.854")),
    pytest.param("Combien d'entreprises membres compte la Chinese Cultural Industry Association ?",
                 marks=_limit("entity swap the name check misses: the English name's words begin like the French "
                              "article's (Chinese/Chine, Industry/industrie), and P(answerable) 0.857 is just above "
                              "the 5 % threshold 0.854 (2026-12-06)")),
    # attribute swap: the WIC's 2 000 representatives are not projects (the reader's P 0.67, 2026-12-06)
    "How many investment projects were signed at the 2022 World Internet Conference?",
])
def test_distractors_are_refused(strict_pipeline, question):
    _assert_refused(strict_pipeline.ask(question))


def test_general_knowledge_trap_is_refused(strict_pipeline):
    answer = strict_pipeline.ask("Who is the CEO of Alibaba Group?")
    _assert_refused(answer)
    assert "Ma" not in answer.answer


@pytest.mark.parametrize("question, figure, doc", [
    ("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?", r"(?<!\d)91(?!\d)",
     "000_00be9f381121e8cb.txt"),
    pytest.param("How many investment projects were signed at the Digital China Summit?", r"(?<!\d)455(?!\d)",
                 "001_eff1faf9964d099f.txt",
                 marks=_limit("the reader ranks the summit's 360 000 visitors first, P(answerable) 0.69: refused "
                              "(2026-12-06)")),
])
def test_the_correct_figure_is_not_refused(real_pipeline, question, figure, doc):
    answer = real_pipeline.ask(question)
    assert not answer.refused, (answer.reason, answer.reader, answer.checks)
    assert re.search(figure, answer.answer)
    assert answer.citations and all(c["doc"] == doc for c in answer.citations)
    # The reader found it: its sentence is the one cited, its words hold the figure, its probability passed.
    [check] = answer.checks
    assert check["answer"] and check["failed"] == "" and check["source"] == answer.citations[0]["evidence"]
    assert answer.reader["sentence"]["doc"] == doc and re.search(figure, answer.reader["span"] or "")
    assert check["p_answer"] >= real_pipeline.gate_model.threshold


def test_a_two_part_question_is_answered_in_both_parts(real_pipeline):
    answer = real_pipeline.ask("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang, "
                               "et combien de projets d'investissement ont été conclus au Sommet de la Chine numérique ?")
    assert not answer.refused, answer.reason
    assert re.search(r"(?<!\d)91(?!\d)", answer.answer) and re.search(r"(?<!\d)455(?!\d)", answer.answer)
    assert {c["doc"] for c in answer.citations} == {"000_00be9f381121e8cb.txt", "001_eff1faf9964d099f.txt"}
    assert len(answer.checks) == 2 and all(c["answer"] for c in answer.checks), answer.checks
