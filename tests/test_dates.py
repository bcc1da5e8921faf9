"""Dates: time conditions in questions, and retrieval that picks the article of the right date."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import TEST_GATE, FakeGenerator, FakeReader

from rag.retrieval import timefilter
from rag.pipeline import Pipeline
from rag.retrieval.scope import Scope
from rag.settings import Settings

APRIL = ("date 2024-04-18\nLe taux de chômage urbain de la Chine s'établit à 5,2 %\n"
         "Le taux de chômage urbain de la Chine s'établit à 5,2 % en avril, a annoncé le Bureau national des "
         "statistiques, contre 5,3 % le mois précédent.\n")
MARCH = ("date 2023-03-15\nLe taux de chômage urbain de la Chine s'établit à 5,6 %\n"
         "Le taux de chômage urbain de la Chine s'établit à 5,6 % en février, a annoncé le Bureau national des "
         "statistiques, après 5,5 % en janvier.\n")
OTHER = "Le port de Ningbo a traité 35 millions de conteneurs en 2023, un record pour le port chinois.\n"


@pytest.mark.parametrize("question, kind, span, month", [
    ("Quel était le taux en avril ?", "during", None, 4),
    ("What was the rate in April 2024?", "during", (dt.date(2024, 4, 1), dt.date(2024, 4, 30)), None),
    ("Quel était le taux en 2023 ?", "during", (dt.date(2023, 1, 1), dt.date(2023, 12, 31)), None),
    ("What did they announce before March 2024?", "before", (dt.date(2024, 3, 1), dt.date(2024, 3, 31)), None),
    ("Qu'a-t-on annoncé depuis le 3 février 2024 ?", "since", (dt.date(2024, 2, 3), dt.date(2024, 2, 3)), None),
    ("Quel est le chiffre le plus récent ?", "latest", None, None),
    ("What is the latest unemployment rate?", "latest", None, None),
])
def test_time_conditions_are_understood(question, kind, span, month):
    cond = timefilter.parse(question)
    assert cond is not None and cond.kind == kind and cond.span() == span and cond.month == month
    assert cond.phrase.lower() in question.lower()


@pytest.mark.parametrize("question", ["Combien d'entreprises ont rejoint l'association ?",
                                      "How much were the projects worth?", "Qui a signé le protocole ?",
                                      "Combien de petaflops en tout ?"])
def test_questions_without_time_words_have_no_condition(question):
    assert timefilter.parse(question) is None


@pytest.fixture
def dated(tmp_path, fake_embedder):
    folder = tmp_path / "dated"
    folder.mkdir()
    (folder / "chomage-2023-03.txt").write_text(MARCH, encoding="utf-8")
    (folder / "chomage-2024-04.txt").write_text(APRIL, encoding="utf-8")
    (folder / "ningbo.txt").write_text(OTHER, encoding="utf-8")

    def make(reply="Le taux est de 5,2 % [1]."):
        settings = Settings.load(env={}, corpus=folder, index=tmp_path / "idx", min_score=0.0)
        return Pipeline(settings, embedder=fake_embedder, generator=FakeGenerator(reply),
                        gate_model=TEST_GATE, reader=FakeReader(prefer="5,2"))

    return make


def first_doc(pipe, question, **kw):
    return pipe.ask(question, **kw).passages[0]["doc"]


def test_without_a_time_condition_the_older_article_can_come_first(dated):
    # The baseline the next tests improve on: the two articles are equally relevant.
    assert first_doc(dated(), "Quel est le taux de chômage urbain de la Chine ?") == "chomage-2023-03.txt"


@pytest.mark.parametrize("question, expected", [
    ("Quel est le taux de chômage urbain de la Chine en avril ?", "chomage-2024-04.txt"),
    ("What was China's urban unemployment rate in 2024?", "chomage-2024-04.txt"),
    ("Quel est le taux de chômage urbain de la Chine le plus récent ?", "chomage-2024-04.txt"),
    ("What was China's urban unemployment rate before 2024?", "chomage-2023-03.txt"),
])
def test_a_time_conditioned_question_retrieves_the_article_of_that_date_first(dated, question, expected):
    answer = dated().ask(question)
    top = answer.passages[0]
    assert top["doc"] == expected and top["date"].startswith(expected[8:15])


def test_sources_carry_title_date_and_source_and_the_answer_says_the_date(dated):
    answer = dated().ask("Quel est le taux de chômage urbain de la Chine en avril ?")
    cited = answer.citations[0]
    assert answer.answer == f"Le taux est de 5,2 % [{cited['n']}]. (Article du 2024-04-18.)"
    assert cited["date"] == "2024-04-18" and cited["title"].startswith("Le taux de chômage urbain")
    assert {"title", "date", "source", "url"} <= set(answer.passages[0])


def test_a_year_answered_by_the_article_date_is_not_refused_as_a_missing_figure(dated):
    answer = dated().ask("Quel était le taux de chômage urbain en 2024 ?")
    assert not answer.refused, answer.reason


def test_scope_restricts_to_chosen_articles_or_dates(dated):
    pipe = dated()
    q = "Quel est le taux de chômage urbain de la Chine ?"
    only = pipe.ask(q, scope=Scope(docs=frozenset({"ningbo.txt"})))
    assert {p["doc"] for p in only.passages} == {"ningbo.txt"}
    recent = pipe.ask(q, scope=Scope(start="2024-01-01"))
    assert {p["doc"] for p in recent.passages} == {"chomage-2024-04.txt"}
    nothing = pipe.ask(q, scope=Scope(start="2030"))
    assert nothing.refused and nothing.passages == []


def test_a_condition_only_ranks_when_the_dates_tell_the_articles_apart():
    in_2022 = timefilter.parse("Combien de casques en 2022 ?")
    assert not timefilter.discriminates(in_2022, ["2022-11", "", ""]), "one dated article: says nothing"
    assert timefilter.discriminates(in_2022, ["2022-11", "2023-01", ""])
    latest = timefilter.parse("What is the latest figure?")
    assert not timefilter.discriminates(latest, ["2024-01", "2024-01", ""])
    assert timefilter.parse("How many members in two years?") is None, "'two' is not a month"
