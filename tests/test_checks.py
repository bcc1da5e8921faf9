"""The declared checks (rag.answer.checks): each one can refuse, they run in their declared order, and the
refusal names what was found in the reader's language."""

import re

import pytest

from rag.answer import checks
from rag.answer.checks import CHECKS, Context, Verdict, refusal_reason, verdict
from rag.answer.compose import refusal

from conftest import EVIDENCE, ev

TARGET = "La province vise une industrie du métavers de 200 milliards de yuans d’ici 2025."
Q = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
ARTICLE = "La province chinoise du Zhejiang a établi samedi une association industrielle des métavers. " + EVIDENCE[2].text


def context(answer="Au total, 91 entreprises ont rejoint l'association.", question=Q, lang="fr", mode="llm",
            span="91", cited=(EVIDENCE[2],), **kw):
    """A part whose retrieval, reading and answer pass every check, but for what ``kw`` changes."""
    return Context(question, lang, mode, answer=answer, span=span, cited=list(cited),
                   evidence=kw.pop("evidence", EVIDENCE),
                   p_answer=kw.pop("p_answer", 0.9), threshold=kw.pop("threshold", 0.5),
                   passages=kw.pop("passages", [{"text": e.text} for e in EVIDENCE]), **kw)


def run_all(c: Context) -> Verdict:
    """The three stages in order, as the pipeline runs them: the first refusal decides."""
    for stage in ("retrieval", "reader", "answer"):
        v = verdict(c, stage)
        if not v.ok:
            return v
    return v


# Every declared check, a part it refuses, and what its refusal names (in French, then in English).
REFUSED = {
    "no_evidence": (context(best=0.62, min_score=0.8), "aucun passage ne traite de cette question",
                    "no passage is about this question"),
    "missing_figure": (context(question="Combien d'entreprises avaient rejoint l'association en 1987 ?"),
                       "aucun passage ne mentionne 1987", "no passage mentions 1987"),
    "unanswerable": (context(p_answer=0.31), "aucune phrase des articles ne l'énonce",
                     "no sentence of the articles states it"),
    "asked_figure": (context(question="Combien d'entreprises avaient rejoint l'association en 2022 ?",
                             article=ARTICLE, article_lang="fr",      # another article says 2022
                             passages=[{"text": e.text} for e in EVIDENCE] + [{"text": "La WIC 2022 à Wuzhen."}]),
                     "l'article de la phrase trouvée ne mentionne pas 2022", "never mentions 2022"),
    "asked_name": (context(question="Combien d'entreprises ont rejoint l'association du métavers du Japon ?",
                           article=ARTICLE, article_lang="fr"),
                   "l'article de la phrase trouvée ne mentionne pas Japon", "never mentions Japon"),
    "asked_unit": (context("The target is 200 billion yuan.", "How much is the target worth in US dollars?", "en",
                           span="200 milliards de yuans", cited=[ev(5, "zhejiang", TARGET)]),
                   "donne ce chiffre en CNY", "gives the figure in CNY"),
    "protocol": (context("", protocol="Answer words: 91 entreprises"), "le modèle n'a écrit que le format de la réponse",
                 "the model wrote only the answer's format"),
    "empty": (context("[3]."), "la réponse écrite ne disait rien", "the answer written said nothing"),
    "model_refused": (context("Les articles ne précisent pas ce chiffre."), "le modèle a jugé",
                      "the model found that the sentence does not answer"),
    "restated": (context("Des entreprises ont rejoint l'association du métavers du Zhejiang."),
                 "ne faisait que reprendre la question", "only repeated the question"),
    "marker_figure": (context("L'association compte [1] milliards d'entreprises."),
                      "remplaçait un chiffre par un renvoi", "a citation where a figure should be"),
    "invented_figure": (context("L'association compte 4321 entreprises."), "le chiffre 4321 de la réponse",
                        "the answer's figure 4321"),
    "other_article": (context("L'association compte 40 entreprises."),
                      "le chiffre 40 de la réponse vient d'un autre article", "figure 40 comes from another article"),
    "unit": (context("The deals were worth 228 billion dollars.", "How much were the deals worth?", "en",
                     span="228 milliards de yuans", cited=[EVIDENCE[0]]),
             "le chiffre 228 de la réponse n'est pas dans l'unité",
             "the answer's figure 228 is not in the article's unit"),
    "name": (context("Le patron d'Alibaba, Jack Ma, compte 91 entreprises."), "le nom Jack de la réponse",
             "the name Jack in the answer"),
    "agreement": (context("Des entreprises de la province ont rejoint l'association."),
                  "ne donne pas ce que la phrase citée dit (91)", "does not give what the cited sentence says (91)"),
}


def test_every_declared_check_has_a_refusal_case_here():
    assert set(REFUSED) == {c.name for c in CHECKS}


@pytest.mark.parametrize("name", list(REFUSED))
def test_each_check_refuses_and_its_reason_names_what_was_found(name):
    c, fr, en = REFUSED[name]
    v = run_all(c)
    assert (v.ok, v.failed) == (False, name), v
    assert v.detail, "the logs and --json say more"
    assert fr in refusal_reason(v, "fr") and en in refusal_reason(v, "en")
    assert refusal(v, "fr") == f"Les articles ne le disent pas : {refusal_reason(v, 'fr')}."
    assert refusal(v, "en") == f"The articles don't say: {refusal_reason(v, 'en')}."


def test_a_right_answer_passes_every_check_of_every_stage():
    c = context()
    for stage in ("retrieval", "reader", "answer"):
        v = verdict(c, stage)
        assert v.ok and v.checked == [k.name for k in CHECKS if k.stage == stage], (stage, v)


def test_the_declared_list_has_unique_names_and_both_languages_for_every_check():
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names)) and checks.BY_NAME == {c.name: c for c in CHECKS}
    for c in CHECKS:
        assert set(c.why) == {"fr", "en"} and all(c.why.values()), c.name
        # The same words are named in both languages.
        assert set(re.findall(r"{(\w+)}", c.why["fr"])) == set(re.findall(r"{(\w+)}", c.why["en"])), c.name
        assert c.stage in ("retrieval", "reader", "answer") and set(c.modes) <= {"llm", "extract"} and c.modes
        assert c.contribution, c.name


def test_the_list_is_in_the_order_the_stages_run():
    stages = [c.stage for c in CHECKS]
    assert stages == sorted(stages, key=["retrieval", "reader", "answer"].index)


def test_no_refusal_reason_leaves_a_placeholder_or_an_empty_parenthesis():
    for name, (c, _, _) in REFUSED.items():
        v = run_all(c)
        for lang in ("fr", "en"):
            reason = refusal_reason(v, lang)
            assert "{" not in reason and "()" not in reason and reason == reason.strip(), (name, reason)


def test_the_first_declared_check_that_fails_decides():
    # An invented figure and an invented name: the figure check is declared first.
    v = verdict(context("Selon Jack Ma, l'association compte 4321 entreprises."), "answer")
    assert v.failed == "invented_figure"
    assert v.checked == [c.name for c in CHECKS if c.stage == "answer"][:v.checked.index("invented_figure") + 1]
    assert "name" not in v.checked and "agreement" not in v.checked
    # A reply that was only the answer's format is named so, not merely empty.
    assert verdict(context("", protocol="Answer language: French"), "answer").failed == "protocol"
    # A part with no evidence is refused at retrieval: the reader's probability is not looked at.
    assert run_all(context(evidence=[], p_answer=0.0)).failed == "no_evidence"


def test_extract_mode_runs_only_the_checks_that_apply_to_a_quoted_span():
    v = verdict(context("91", mode="extract"), "answer")
    assert v.ok and v.checked == [c.name for c in CHECKS if c.stage == "answer" and "extract" in c.modes]
    assert v.checked == ["asked_unit"]
    # The span is the article's own words: an LLM-only check would have nothing to catch.
    assert verdict(context("4321", mode="extract"), "answer").ok


def test_the_gate_threshold_is_inclusive_and_zero_means_no_gate():
    assert verdict(context(p_answer=0.5, threshold=0.5), "reader").ok
    assert not verdict(context(p_answer=0.4999, threshold=0.5), "reader").ok
    assert verdict(context(p_answer=0.0, threshold=0.0), "reader").ok


def test_a_figure_the_question_is_conditioned_on_may_be_in_the_picked_articles_dates():
    question = "Combien d'entreprises avaient rejoint l'association en 2022 ?"
    assert verdict(context(question=question), "retrieval").failed == "missing_figure"
    assert verdict(context(question=question, dates=["2022-11"]), "retrieval").ok


def test_the_answer_must_give_the_currency_the_question_asks_for():
    asked = "How much were the investment projects worth in US dollars?"
    both = dict(question=asked, lang="en", span="31,5 milliards de dollars", cited=[EVIDENCE[0]])
    assert verdict(context("They were worth 31.5 billion dollars.", **both), "answer").ok
    # The sentence gives the figure in both currencies: the yuans are not what was asked.
    v = verdict(context("They were worth 228 billion yuan.", **both), "answer")
    assert v.failed == "asked_unit" and "CNY" in refusal_reason(v, "en")
    # The same in extract mode, where the answer is the reader's span.
    v = verdict(context("228 milliards de yuans", mode="extract", **{**both, "span": "228 milliards de yuans"}),
                "answer")
    assert v.failed == "asked_unit"


def test_names_outside_the_articles_are_refused_in_french_only():
    assert verdict(context("Le patron d'Alibaba, Jack Ma, compte 91 entreprises."), "answer").failed == "name"
    english = context("The head of Alibaba, Jack Ma, counts 91 companies.", "How many companies joined?", "en")
    assert verdict(english, "answer").ok, "translated names may be spelled otherwise: only French answers are read"


@pytest.mark.parametrize("answer, span, ok", [
    ("Quatre-vingt-onze entreprises ont rejoint l'association.", "91", True),      # the figure in words
    ("Ninety-one companies joined.", "91", True),
    ("Alibaba et NetEase en font partie.", "Alibaba et NetEase", True),
    ("NetEase en fait partie, entre autres.", "Alibaba et NetEase", False),        # the span starts with a name
    ("Alibaba and NetEase are members.", "Alibaba et NetEase", True),               # names cross languages
    ("Only Alibaba is a member.", "Alibaba et NetEase", False),
    ("Elles sont entrées dans l'association.", "ont rejoint l’association", True),   # most of the span's words
    ("Elles sont membres fondateurs.", "ont rejoint l’association", False),
])
def test_the_agreement_check_compares_the_answer_with_the_readers_span(answer, span, ok):
    lang = "en" if re.search(r"\b(the|and|are|is|joined)\b", answer, re.IGNORECASE) else "fr"
    v = verdict(context(answer, "Quelles entreprises ont rejoint l'association ?", lang, span=span), "answer")
    assert v.ok == ok, v
    if not ok:
        assert v.failed == "agreement"


def test_one_figure_of_a_long_span_is_enough_for_agreement():
    from rag.answer.checks import _agreement

    sentence = ev(1, "a", "Au 8e Sommet, 455 projets valant 228 milliards de yuans ont été signés.")
    span = "8e Sommet, 455 projets valant 228 milliards"
    ok = Context("How much were the projects worth?", "en", "llm", answer="They were worth 228 billion yuan.",
                 span=span, cited=[sentence], evidence=[sentence])
    wrong = Context("How much were the projects worth?", "en", "llm", answer="They were worth 300 billion yuan.",
                    span=span, cited=[sentence], evidence=[sentence])
    assert _agreement(ok) is None and _agreement(wrong).words == {"figure": "8"}


def test_the_questions_names_are_looked_for_in_the_whole_article_in_its_own_language():
    # "Zhejiang" is not in the reader's sentence, but its article names it: the sentence may be about it.
    assert verdict(context(article=ARTICLE, article_lang="fr"), "reader").ok
    japan = "How many companies joined Japan's metaverse association?"
    # Across languages names are translated (Japan, Japon): not compared.
    assert verdict(context(question=japan, lang="en", article=ARTICLE, article_lang="fr"), "reader").ok
    swapped = verdict(context(question=japan, lang="en", article="Japan's industry association has 91 members.",
                              article_lang="en"), "reader")
    assert swapped.ok
    refused = verdict(context(question=japan, lang="en", article="Zhejiang's metaverse association has 91 members.",
                              article_lang="en"), "reader")
    assert refused.failed == "asked_name" and refused.words == {"name": "Japan"}
