"""The grounding helpers the checks read (rag.answer.grounding): figures in any notation, where an answer's
figure comes from, names, restatements, a model saying it cannot answer. The checks themselves:
tests/test_checks.py."""

import pytest
from hypothesis import given, strategies as st

from rag.answer.grounding import (MARKER_FIGURE, asked_currency, figure_problem, figures, names, recite, restates,
                                  says_no_answer, written_figures)

from conftest import EVIDENCE, ev


def problem(answer, question="Combien ?", cited=(EVIDENCE[0],), evidence=EVIDENCE, lang="fr"):
    """The rule the answer's first unsupported figure breaks (None: every figure is supported)."""
    found = figure_problem(answer, question, list(cited), evidence, lang)
    return found and found[0]


@pytest.mark.parametrize("answer, lang", [
    ("455 projects worth 228 billion yuan.", "en"),
    ("Les projets valent 228 milliards de yuans (31,5 milliards de dollars).", "fr"),
    ("The deals were worth $31.5 billion.", "en"),
    ("They total 228,000,000,000 yuan.", "en"),
    ("Two hundred twenty-eight billion yuan.", "en"),
])
def test_figures_in_any_notation_are_found_in_their_sentence(answer, lang):
    assert problem(answer, lang=lang) is None


def test_number_words_and_approximate_counts_are_read():
    assert [sorted(f.values) for f in figures("Quatre-vingt-onze entreprises")] == [[91.0]]
    assert [sorted(f.values) for f in figures("Ninety-one companies", "en")] == [[91.0]]
    assert problem("Une quarantaine d'entreprises ont rejoint le centre.", cited=[EVIDENCE[3]]) is None
    assert problem("Quatre cent cinquante-cinq projets.") is None
    assert problem("Une cinquantaine d'entreprises.", cited=[EVIDENCE[3]]) == "invented_figure"
    assert problem("Quatre-vingt-douze entreprises.", cited=[EVIDENCE[2]]) == "invented_figure"


def test_a_figure_in_digits_keeps_its_scale_word_when_number_words_are_read():
    [(text, values, unit)] = [(f.text, sorted(f.values), f.unit) for f in figures("228 milliards de yuans")]
    assert (text, values, unit) == ("228", [228.0, 228e9], "CNY")
    [words] = figures("deux milliards de yuans")
    assert 2e9 in words.values and words.unit == "CNY"


def test_a_figure_in_no_sentence_is_invented():
    found = figure_problem("Fuzhou compte 8 millions d'habitants.", "Population ?", [EVIDENCE[1]], EVIDENCE, "fr")
    assert found[:2] == ("invented_figure", "8")


def test_a_figure_from_another_article_than_the_cited_one_fails():
    found = figure_problem("L'association compte 40 entreprises.", "Combien ?", [EVIDENCE[2]], EVIDENCE, "fr")
    assert found[:2] == ("other_article", "40") and "beijing" in found[2]


def test_a_figure_from_another_sentence_of_the_same_article_is_cited_too():
    answer = "455 projets ont été signés devant 360 000 personnes."
    assert problem(answer) is None
    assert recite(answer, [EVIDENCE[0]], EVIDENCE, "fr") == [2]
    assert recite("455 projets.", [EVIDENCE[0]], EVIDENCE, "fr") == []


def test_a_figure_in_the_question_may_be_repeated():
    assert problem("En 2024, 91 entreprises.", "Combien en 2024 ?", [EVIDENCE[2]]) is None
    assert problem("En 2024, 91 entreprises.", "Combien ?", [EVIDENCE[2]]) == "invented_figure"


@pytest.mark.parametrize("answer", [
    "The profits were 228 billion dollars.",          # yuan given as dollars
    "360,000 yuan.",                                  # a count of people as money
])
def test_a_figure_in_another_unit_than_its_source_fails(answer):
    assert problem(answer, "How much?", EVIDENCE[:2], lang="en") == "unit"


def test_the_currency_a_question_asks_for_is_read():
    assert asked_currency("What was the amount in US dollars?") == "USD"
    assert asked_currency("Quel montant en yuans ?") == "CNY"
    assert asked_currency("How many companies joined?") is None


def test_a_citation_marker_where_a_figure_should_be_is_found():
    assert MARKER_FIGURE.search("A threshold of [1] billion yuan.")
    assert MARKER_FIGURE.search("Un seuil de [2].")
    assert not MARKER_FIGURE.search("91 entreprises [1].")


def test_names_are_capitalised_words_that_do_not_start_a_sentence():
    assert names("Selon Jack Ma, le groupe Alibaba suit. NetEase aussi.") == ["Jack", "Alibaba"]
    assert names("Hangzhou.") == []


@pytest.mark.parametrize("text, says", [
    ("Les articles ne précisent pas ce chiffre.", True),
    ("The evidence does not mention it.", True),
    ("NONE", True),
    ("91 entreprises ont rejoint l'association.", False),
    ("Non, le plan n'autorise pas la spéculation.", False),
])
def test_a_model_saying_it_cannot_answer_is_recognised(text, says):
    assert says_no_answer(text) == says


@given(st.text(alphabet=st.sampled_from("0123456789 ,.\u00a0\u202fab[]%"), max_size=40))
def test_any_figure_grounds_itself(text):
    """Whatever the notation, a figure is found in its own sentence (no crash, no miss)."""
    sentence = ev(1, "d", f"x {text} y")
    assert figure_problem(f"x {text} y", "", [sentence], [sentence], "en") is None


def test_ordinals_are_figures():
    assert [f.text for f in figures("le 1er novembre, le 8e Sommet, the 9th summit")] == ["1", "8", "9"]
    assert problem("The 8th summit.", "Which summit?", [ev(1, "d", "Le 8e Sommet.")], [], "en") is None
    assert problem("The 9th summit.", "Which summit?", [ev(1, "d", "Le 8e Sommet.")], [], "en") == "invented_figure"


def test_two_figures_run_together_are_still_read():
    assert problem("de 100,000 200,000 yuans", "", [ev(1, "d", "100,000 200,000 yuans")], []) is None
    assert written_figures("91 entreprises [1] et 228 milliards") == ["91", "228"]


@pytest.mark.parametrize("answer, question", [
    ("China showcases its model of running the internet at its yearly Wuzhen forum [1].",
     "What model of running the internet does China showcase at its yearly Wuzhen forum?"),
    ("Le siège de l'organisation du métavers de Nanjing est situé à Nanjing.",
     "Où est situé le siège de l’organisation du métavers de Nanjing ?"),
])
def test_an_answer_that_only_repeats_the_question_is_a_restatement(answer, question):
    assert restates(answer, question)


@pytest.mark.parametrize("answer", ["Non, le plan n'autorise pas les paris spéculatifs.", "Hangzhou.",
                                    "Le plan autorise 2 paris spéculatifs."])
def test_yes_no_answers_figures_and_new_words_are_not_restatements(answer):
    assert not restates(answer, "Le plan autorise-t-il les paris spéculatifs ?")
