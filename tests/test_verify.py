import pytest

from rag.verify import is_model_refusal, unsupported_numbers


@pytest.mark.parametrize("answer", [
    "455 projects worth 228 billion yuan [1].",
    "Around 35 trillion yuan (35,000 billion) [2].",
    "31.5 billion dollars [1]",
    "Plus de 360 000 personnes [1].",
])
def test_figures_in_any_notation_are_supported(answer):
    evidence = ["455 projets d’investissement d’un montant cumulé de 228 milliards de yuans (31,5 milliards de dollars)",
                "35.000 milliards de yuans", "Plus de 360 000 personnes"]
    assert unsupported_numbers(answer, "question", evidence) == []


def test_invented_figures_are_caught_but_question_figures_are_allowed():
    assert unsupported_numbers("Fuzhou a 8,3 millions d'habitants en 2024 [1]", "Population en 2024 ?",
                               ["360 000 personnes en 2024"]) == ["8,3"]


@pytest.mark.parametrize("text, refused", [
    ("Les articles ne mentionnent pas la population.", True),
    ("The articles do not specify the population of Fuzhou.", True),
    ("There is no information about it in the evidence.", True),
    ("La Chine représente près de 300 millions de joueurs [1].", False),
])
def test_model_refusals_are_recognised(text, refused):
    assert is_model_refusal(text) is refused


from hypothesis import given, strategies as st  # noqa: E402


@given(st.text(alphabet=st.sampled_from("0123456789 ,.\u00a0\u202fab[]%"), max_size=40))
def test_every_figure_in_any_notation_supports_itself(text):
    from rag.verify import unsupported_numbers

    assert unsupported_numbers(text, "", [text]) == []
    assert unsupported_numbers(text, text, []) == []     # nor is a figure the question gives flagged


def test_two_figures_run_together_are_still_read():
    from rag.verify import unsupported_numbers

    assert unsupported_numbers("de 100,000 200,000 yuans", "", ["100,000 200,000"]) == []
