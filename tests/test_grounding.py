"""The hard grounding rules: figures and names of the answer in the sentence it cites."""

import pytest
from hypothesis import given, strategies as st

from rag.retrieval.evidence import Evidence
from rag.answer.grounding import check, figures

FUZHOU = "De plus, 455 projets d’investissement d’un montant cumulé de 228 milliards de yuans (31,5 milliards de dollars) ont été conclus."
VISITORS = "Plus de 360 000 personnes ont participé au sommet."
ZHEJIANG = "Actuellement, 91 entreprises ont rejoint l’association, dont Alibaba et NetEase."
BEIJING = "Plus de 40 entreprises ont rejoint le centre d’innovation de Pékin."


def ev(n, doc, text):
    return Evidence(n, doc, f"{doc}#0", 0, len(text), text, 1.0)


EVIDENCE = [ev(1, "fuzhou", FUZHOU), ev(2, "fuzhou", VISITORS), ev(3, "zhejiang", ZHEJIANG), ev(4, "beijing", BEIJING)]


@pytest.mark.parametrize("answer, lang", [
    ("455 projects worth 228 billion yuan.", "en"),
    ("Les projets valent 228 milliards de yuans (31,5 milliards de dollars).", "fr"),
    ("The deals were worth $31.5 billion.", "en"),
    ("They total 228,000,000,000 yuan.", "en"),
])
def test_figures_in_any_notation_are_grounded(answer, lang):
    assert check(answer, "How much?", [EVIDENCE[0]], EVIDENCE, lang).ok


def test_number_words_and_approximate_counts_are_read():
    assert check("Une quarantaine d'entreprises ont rejoint le centre.", "Combien ?", [EVIDENCE[3]], EVIDENCE, "fr").ok
    assert check("Quatre cent cinquante-cinq projets.", "Combien ?", [EVIDENCE[0]], EVIDENCE, "fr").ok
    assert not check("Une cinquantaine d'entreprises.", "Combien ?", [EVIDENCE[3]], EVIDENCE, "fr").ok


def test_a_figure_in_no_sentence_is_invented():
    v = check("Fuzhou compte 8 millions d'habitants.", "Population ?", [EVIDENCE[1]], EVIDENCE, "fr")
    assert (v.ok, v.failed) == (False, "invented_figure") and "8" in v.detail


def test_a_figure_from_another_article_than_the_cited_one_fails():
    v = check("L'association compte 40 entreprises.", "Combien d'entreprises ?", [EVIDENCE[2]], EVIDENCE, "fr")
    assert v.failed == "other_article"


def test_a_figure_from_another_sentence_of_the_same_article_is_cited_too():
    v = check("455 projets ont été signés devant 360 000 personnes.", "Combien ?", [EVIDENCE[0]], EVIDENCE, "fr")
    assert v.ok and v.recite == [2]


def test_a_figure_in_the_question_may_be_repeated():
    assert check("En 2024, 91 entreprises.", "Combien en 2024 ?", [EVIDENCE[2]], EVIDENCE, "fr").ok


@pytest.mark.parametrize("answer, question", [
    ("The profits were 228 billion dollars.", "What were the profits?"),          # yuan given as dollars
    ("228 billion yuan.", "What was the amount in US dollars?"),                  # asked in dollars, given in yuan
    ("360,000 yuan.", "How much did it cost?"),                                   # a count of people as money
])
def test_a_figure_in_another_unit_than_its_source_or_the_question_fails(answer, question):
    assert check(answer, question, EVIDENCE[:2], EVIDENCE, "en").failed == "unit"


def test_a_citation_marker_where_a_figure_should_be_fails():
    v = check("A threshold of [1] billion yuan.", "What threshold?", [EVIDENCE[0]], EVIDENCE, "en")
    assert v.failed == "marker_figure"


def test_names_from_outside_the_articles_fail_in_french_and_are_counted_in_english():
    fr = check("Le PDG d'Alibaba est Jack Ma.", "Qui dirige Alibaba ?", [EVIDENCE[2]], EVIDENCE, "fr")
    assert fr.failed == "name" and "Jack" in fr.detail
    en = check("The CEO of Alibaba is Jack Ma.", "Who runs Alibaba?", [EVIDENCE[2]], EVIDENCE, "en")
    assert en.ok and "Jack" in en.names_missing


@pytest.mark.parametrize("answer, failed", [
    ("[1] [2]", "empty"),
    ("[1].", "empty"),
    ("Les articles ne précisent pas ce chiffre.", "model_refused"),
    ("The evidence does not mention it.", "model_refused"),
])
def test_answers_that_say_nothing_fail(answer, failed):
    assert check(answer, "Combien ?", [EVIDENCE[0]], EVIDENCE, "fr").failed == failed


@given(st.text(alphabet=st.sampled_from("0123456789 ,.\u00a0\u202fab[]%"), max_size=40))
def test_any_figure_grounds_itself(text):
    """Whatever the notation, a figure is found in its own sentence (no crash, no miss)."""
    for fig in figures(text):
        assert fig.values & {v for f in figures(text) for v in f.values}
    assert check(f"x {text} y", "", [ev(1, "d", f"x {text} y")], [ev(1, "d", f"x {text} y")], "en").failed in ("", "empty", "marker_figure")


def test_ordinals_are_figures():
    assert [f.text for f in figures("le 1er novembre, le 8e Sommet, the 9th summit")] == ["1", "8", "9"]
    assert check("The 8th summit.", "Which summit?", [ev(1, "d", "Le 8e Sommet.")], [], "en").ok
    assert check("The 9th summit.", "Which summit?", [ev(1, "d", "Le 8e Sommet.")], [], "en").failed == "invented_figure"


def test_a_one_word_answer_is_an_answer():
    assert check("Hangzhou.", "Où ?", [ev(1, "d", "Le siège est à Hangzhou.")], [], "fr").ok


def test_two_figures_run_together_are_still_read():
    assert check("de 100,000 200,000 yuans", "", [ev(1, "d", "100,000 200,000 yuans")], [], "fr").ok


@pytest.mark.parametrize("answer, question", [
    ("China showcases its model of running the internet at its yearly Wuzhen forum [1].",
     "What model of running the internet does China showcase at its yearly Wuzhen forum?"),
    ("Le siège de l'organisation du métavers de Nanjing est situé à Nanjing.",
     "Où est situé le siège de l’organisation du métavers de Nanjing ?"),
])
def test_an_answer_that_only_repeats_the_question_fails(answer, question):
    assert check(answer, question, [EVIDENCE[0]], EVIDENCE, "fr").failed == "restated"


@pytest.mark.parametrize("answer", ["Non, le plan n'autorise pas les paris spéculatifs.", "Hangzhou.",
                                    "Le plan autorise 2 paris spéculatifs."])
def test_yes_no_answers_figures_and_new_words_are_not_restatements(answer):
    verdict = check(answer, "Le plan autorise-t-il les paris spéculatifs ?", [ev(1, "d", answer)], [], "fr")
    assert verdict.failed != "restated"
