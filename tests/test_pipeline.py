"""The answer step with a fake embedder and a scripted model: cite-first, the checks, the gate."""

import dataclasses
import re

import pytest

from rag.pipeline import Done, Restart, Retrieved, Status, Token

from conftest import SEEDS, FakeGenerator, sentence_with

Q = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"


def _events(pipe, question=Q, **kw):
    return list(pipe.ask_stream(question, **kw))


def test_evidence_first_then_the_answer_streams_then_it_is_checked(make_pipeline):
    pipe = make_pipeline("Au total, 91 entreprises ont rejoint l'association.", sentence_with("91 entreprises"))
    events = _events(pipe)
    kinds = [type(e) for e in events]
    assert kinds.index(Retrieved) < kinds.index(Token) and kinds[-1] is Done
    checking = max(i for i, e in enumerate(events) if isinstance(e, Status))
    assert checking > max(i for i, k in enumerate(kinds) if k is Token), "the check comes after the stream"
    answer = events[-1].answer
    assert not answer.refused
    assert "".join(e.text for e in events if isinstance(e, Token)).strip() == "Au total, 91 entreprises ont rejoint l'association."
    [cited] = answer.citations
    assert answer.answer == "Au total, 91 entreprises ont rejoint l'association [1]."     # the first source is [1]
    assert cited["n"] == 1 and "91 entreprises" in cited["text"]
    label = answer.checks[0]["source"]          # the model's letter: its evidence number, kept for the checks
    assert cited["evidence"] == ord(label) - ord("A") + 1 == answer.checks[0]["cited_evidence"][0]


def test_the_cited_span_is_the_one_sentence_the_answer_came_from(make_pipeline, corpus):
    answer = make_pipeline("91 entreprises.", sentence_with("91 entreprises")).ask(Q)
    [c] = answer.citations
    text = (corpus / c["doc"]).read_text(encoding="utf-8")
    assert text[c["start"]:c["end"]] == c["text"] and "91 entreprises" in c["text"]
    assert c["text"].count(". ") == 0, "one sentence, not a merged snippet"


def test_the_model_reads_lettered_sentences_under_their_article_title(make_pipeline):
    pipe = make_pipeline()
    pipe.ask(Q)
    user = pipe.generator.label_reads[0][0][-1]["content"]
    assert user.startswith("Sentences:\nArticle: ") and "\n[A] " in user and f"Question: {Q}" in user
    assert pipe.generator.label_reads[0][1] == "Source:"


def test_json_contract(make_pipeline):
    data = make_pipeline().ask(Q).to_json()
    assert {"question", "lang", "answer", "refused", "citations", "passages", "timings", "prompt_tokens",
            "checks"} <= set(data)
    assert set(data["timings"]) == {"retrieve_s", "first_token_s", "prefill_tokens", "total_s"}
    assert set(data["citations"][0]) == {"n", "evidence", "doc", "passage_id", "start", "end", "text",
                                         "title", "date", "source", "url", "also"}      # the article's metadata
    assert {"doc", "passage_id", "score", "text", "title", "date"} <= set(data["passages"][0])
    [check] = data["checks"]
    assert check["answer"] is True and {"p_none", "p_source", "grade", "type_match"} <= set(check["features"])
    assert data["lang"] == "fr" and data["prompt_tokens"] > 0


def test_the_answer_is_written_after_the_app_quotes_the_chosen_sentence(make_pipeline):
    pipe = make_pipeline("91 entreprises ont rejoint l'association.\nSource: B", sentence_with("91 entreprises"))
    answer = pipe.ask(Q)
    assert answer.answer.startswith("91 entreprises ont rejoint l'association [") and "Source" not in answer.answer
    label = answer.checks[0]["source"]
    assert pipe.generator.streamed_prefixes[0].startswith(f"Source: {label}\nQuote: ")
    assert answer.citations[0]["text"].split()[0] in pipe.generator.streamed_prefixes[0]


def test_invented_figure_is_withdrawn_and_the_refusal_says_why(make_pipeline):
    answer = make_pipeline("Exactement 4321 entreprises.", sentence_with("91 entreprises")).ask(Q)
    assert answer.refused and "4321" in answer.withdrawn and "4321" not in answer.answer
    assert answer.answer == "Les articles ne le disent pas : un chiffre de la réponse ne figure dans aucun passage."
    # The reader is pointed to the sentence the model answered from, with its exact span.
    assert "91 entreprises" in answer.closest["text"] and answer.citations == []
    article = (SEEDS / answer.closest["doc"]).read_text(encoding="utf-8")
    assert article[answer.closest["start"]:answer.closest["end"]] == answer.closest["text"]


def test_a_citation_marker_in_place_of_a_figure_is_refused(make_pipeline):
    answer = make_pipeline("Le seuil est de [1] milliards de yuans.", sentence_with("91 entreprises")).ask(Q)
    assert answer.refused and "renvoi" in answer.answer


def test_low_grade_from_the_graded_check_makes_the_gate_refuse(make_pipeline):
    pipe = make_pipeline("91 entreprises ont rejoint l'association.", sentence_with("91 entreprises", grade=0))
    answer = pipe.ask(Q)
    assert answer.refused and answer.answer.endswith("ne donne pas ce qui est demandé.")
    assert answer.checks[0]["failed"] == "grade" and answer.checks[0]["probability"] < 0.5
    assert pipe.generator.label_reads[-1][1] == "Grade: "


def test_a_likely_none_makes_the_gate_refuse(make_pipeline):
    pipe = make_pipeline("91 entreprises ont rejoint l'association.", sentence_with("91 entreprises", none=0.09))
    pipe._gate = pipe.gate_model.__class__(features=["p_none"], mean=[0.0], scale=[0.01], coef=[-1.0],
                                           intercept=5.0, threshold=0.5)
    answer = pipe.ask(Q)
    assert answer.refused and answer.checks[0]["failed"] == "p_none"


def test_gate_off_lets_the_rules_alone_decide(make_pipeline):
    pipe = make_pipeline("91 entreprises ont rejoint l'association.", sentence_with("91 entreprises", grade=0), gate=False)
    answer = pipe.ask(Q)
    assert not answer.refused and answer.checks[0]["features"]["grade"] < 0.5


def test_model_saying_it_does_not_know_is_a_refusal(make_pipeline):
    answer = make_pipeline("Les articles ne mentionnent pas ce chiffre.").ask(Q)
    assert answer.refused and answer.answer.startswith("Les articles ne le disent pas")


def test_weak_evidence_is_refused_without_calling_the_model(make_pipeline):
    pipe = make_pipeline(min_score=0.99)
    answer = pipe.ask("Quelle est la population de Fuzhou ?")
    assert answer.refused and pipe.generator.prompts == [] and pipe.generator.label_reads == []
    assert answer.passages, "the passages looked at are still reported"


def test_question_about_a_year_no_passage_mentions_is_refused_before_generation(make_pipeline):
    pipe = make_pipeline()
    answer = pipe.ask("Combien d'entreprises avaient rejoint l'association du métavers du Zhejiang en 1987 ?")
    assert answer.refused and "1987" in answer.answer and pipe.generator.prompts == []


def test_wrong_language_is_regenerated_once_with_a_stricter_instruction(make_pipeline):
    replies = iter(["Au total, 91 entreprises ont rejoint l'association.",
                    "In total, 91 companies joined the association."])
    pipe = make_pipeline(lambda messages: next(replies), sentence_with("91 entreprises"), english_via_french="never")
    events = _events(pipe, "How many companies joined the Zhejiang metaverse association?")
    assert any(isinstance(e, Restart) for e in events)
    answer = events[-1].answer
    assert answer.lang == "en" and answer.answer.startswith("In total") and not answer.refused
    assert "ONLY in English" in pipe.generator.prompts[1][-1]["content"]


def test_answer_language_setting_overrides_detection(make_pipeline):
    pipe = make_pipeline("In total, 91 companies joined.", sentence_with("91 entreprises"), english_via_french="never")
    answer = pipe.ask(Q, lang="en")
    assert answer.lang == "en" and "Answer language: English" in pipe.generator.prompts[0][-1]["content"]


@pytest.mark.parametrize("question", ["", "   ", "?!", "🙂🙂"])
def test_empty_questions_get_a_hint_not_an_error(make_pipeline, question):
    answer = make_pipeline().ask(question)
    assert answer.refused and "?" in answer.answer


def test_overlong_question_is_declined(make_pipeline):
    answer = make_pipeline().ask("Quelle est la réponse à cette question ? " * 500)
    assert answer.refused and "trop longue" in answer.answer


def test_other_languages_are_declined_politely(make_pipeline):
    answer = make_pipeline().ask("Wie viele Unternehmen sind dem Verband beigetreten?")
    assert answer.refused and "français ou en anglais" in answer.answer


def test_follow_up_is_rewritten_with_the_conversation(make_pipeline):
    def reply(messages):
        if "Standalone question" in messages[-1]["content"]:
            return "Combien d'entreprises ont rejoint l'association du métavers à Pékin ?"
        return "Plus de 40 entreprises."
    pipe = make_pipeline(reply)
    history = [{"role": "user", "content": Q}, {"role": "assistant", "content": "91 entreprises [1]."}]
    events = _events(pipe, "Et à Pékin ?", history=history)
    retrieved = next(e for e in events if isinstance(e, Retrieved))
    assert "Pékin" in retrieved.query and "association" in retrieved.query
    assert events[-1].answer.query == retrieved.query


def _asked(messages) -> str:
    """The question the model was asked in this prompt (a part of a two-part question)."""
    return re.search(r"^Question: (.*)$", messages[-1]["content"], re.MULTILINE).group(1)


TWO_PARTS = ("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang, et quel montant "
             "représentent les projets signés à Fuzhou ?")


def test_a_two_part_question_is_answered_part_by_part_with_its_own_sources(make_pipeline):
    def reply(messages):
        q = _asked(messages)
        return "91 entreprises ont rejoint l'association." if "entreprises" in q else "228 milliards de yuans."

    def labels(messages, prefix, labels):
        q = _asked(messages)
        return sentence_with("91 entreprises" if "entreprises" in q else "228 milliards")(messages, prefix, labels)
    pipe = make_pipeline(reply, labels)
    answer = pipe.ask(TWO_PARTS)
    assert not answer.refused and len(answer.checks) == 2
    assert re.search(r"91 entreprises .*\[1\]\. 228 milliards de yuans \[2\]\.", answer.answer), "one numbering"
    assert [c["n"] for c in answer.citations] == [1, 2]
    assert "91 entreprises" in answer.citations[0]["text"] and "228 milliards" in answer.citations[1]["text"]
    docs = {c["doc"] for c in answer.citations}
    assert len(docs) == 2, "each part cites its own article"


def test_a_part_the_articles_do_not_answer_says_so_and_the_other_part_stands(make_pipeline):
    def labels(messages, prefix, labels):
        q = _asked(messages)
        grade = 2 if "entreprises" in q or prefix == "Source:" else 0
        if prefix == "Grade: ":
            grade = 2 if "91" in messages[-1]["content"] else 0
        return sentence_with("91 entreprises" if "entreprises" in q else "228 milliards", grade=grade)(
            messages, prefix, labels)
    pipe = make_pipeline(lambda m: "91 entreprises ont rejoint l'association." if "entreprises" in
                         m[-1]["content"].split("Question:")[1] else "228 milliards de yuans.", labels)
    answer = pipe.ask(TWO_PARTS)
    assert not answer.refused and "91 entreprises" in answer.answer
    assert "Sur « quel montant représentent les projets signés à Fuzhou », les articles ne le disent pas" in answer.answer


def test_a_comparison_is_decided_in_code_not_by_the_model(make_pipeline):
    question = ("Quel montant est le plus élevé : la valeur visée pour l'industrie du métavers du Zhejiang, "
                "ou celui des projets d'investissement signés à Fuzhou ?")

    def reply(messages):
        q = _asked(messages)
        return "200 milliards de yuans." if "Zhejiang" in q else "228 milliards de yuans."

    def labels(messages, prefix, labels):
        q = _asked(messages)
        return sentence_with("200 milliards" if "Zhejiang" in q else "228 milliards")(messages, prefix, labels)
    answer = make_pipeline(reply, labels).ask(question)
    assert answer.answer.endswith("Le plus élevé : celui des projets d'investissement signés à Fuzhou (228).")


def test_a_backend_without_token_probabilities_still_answers_from_the_best_sentence(make_pipeline):
    from rag.models.generation import Unsupported

    def no_probabilities(messages, prefix, labels):
        raise Unsupported("the LLM server returns no token probabilities")
    answer = make_pipeline("91 entreprises ont rejoint l'association.", no_probabilities).ask(Q)
    assert not answer.refused and "91" in answer.answer
    assert "p_none" not in answer.checks[0]["features"] and "grade" not in answer.checks[0]["features"]


def test_the_sentence_score_can_overrule_a_hesitant_model_letter(make_pipeline):
    """The chosen sentence maximises log P(letter) + weight × retrieval score (rag.answer.attribution)."""
    def hesitant(messages, prefix, labels):
        if prefix == "Grade: ":
            return {"0": 0.05, "1": 0.15, "2": 0.8}
        return {label: 0.3 if label == " A" else 0.25 if label == " B" else 0.45 / (len(labels) - 2) if label != " NONE"
                else 0.0 for label in labels}
    alone = make_pipeline("91 entreprises ont rejoint l'association.", hesitant)
    assert alone.ask(Q).checks[0]["source"] == "A"
    weighed = make_pipeline("91 entreprises ont rejoint l'association.", hesitant)
    weighed._gate = dataclasses.replace(weighed.gate_model, source_weight=1000.0)
    check = weighed.ask(Q).checks[0]
    best = max(check["letters"], key=lambda x: x["score"])
    assert check["source"] == best["label"] != "A"
    assert check["features"]["p_source"] == pytest.approx(best["p"], abs=1e-3)


def test_english_via_french_extracts_in_french_then_translates(make_pipeline):
    """The default ("auto") over a French article, as "always" did before."""
    replies = iter(["91 entreprises ont rejoint l'association.", "91 companies joined the association."])
    pipe = make_pipeline(lambda messages: next(replies), sentence_with("91 entreprises"))
    events = _events(pipe, "How many companies joined the Zhejiang metaverse association?")
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert "91 companies" in shown and "entreprises" not in shown
    first, second = pipe.generator.prompts
    assert first[-1]["content"].endswith("Answer language: French")
    assert "French answer: 91 entreprises ont rejoint l'association." in second[-1]["content"]
    answer = events[-1].answer
    assert answer.answer.startswith("91 companies joined the association") and not answer.refused


@pytest.mark.parametrize("reply", ["Source: D [4]", " D\n", "NONE", "Quote: 91 entreprises ont rejoint l'association.\n",
                                   "Answer:"])
def test_a_reply_that_is_only_the_protocol_is_refused_not_shown(make_pipeline, reply):
    pipe = make_pipeline(reply, sentence_with("91 entreprises"))
    events = _events(pipe)
    answer = events[-1].answer
    assert answer.refused and answer.reason.startswith("protocol: ")
    assert answer.answer == "Les articles ne le disent pas : le modèle n'a écrit que le format de la réponse, sans réponse."
    assert not [e for e in events if isinstance(e, Token)], "nothing of the protocol was streamed"


def test_the_protocol_before_the_answer_is_left_out(make_pipeline):
    pipe = make_pipeline(" D\nQuote: 91 entreprises.\nAnswer: 91 entreprises ont rejoint l'association.\nSource: A",
                         sentence_with("91 entreprises"))
    events = _events(pipe)
    answer = events[-1].answer
    assert not answer.refused, answer.reason
    assert "".join(e.text for e in events if isinstance(e, Token)) == "91 entreprises ont rejoint l'association."
    assert answer.answer == f"91 entreprises ont rejoint l'association [{answer.citations[0]['n']}]."


def test_users_asking_at_once_on_a_cold_pipeline_share_one_model(make_pipeline, monkeypatch):
    """A server's first questions arrive together: one model is loaded, not one per user."""
    import threading
    import time

    made = []

    def slow_generator(settings):
        time.sleep(0.2)                 # a model takes a while to load: the others arrive meanwhile
        made.append(FakeGenerator("91 entreprises."))
        return made[-1]

    monkeypatch.setattr("rag.pipeline.parts.generator", slow_generator)
    pipe = make_pipeline()
    pipe._generator = None
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(pipe.generator)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and all(g is made[0] for g in seen)


# ---- English in one pass when the quote is English (lever 7 of issue 22) --------------------------
EN_Q = "How many companies joined the Zhejiang metaverse association?"
ENGLISH_ARTICLE = ("title: Zhejiang's metaverse association\n\n"
                   "In total, 91 companies joined the Zhejiang metaverse association in its first year, "
                   "the provincial government said. The members are makers of virtual reality headsets, "
                   "game studios and the big platforms of the province, and they meet every month in Hangzhou.\n")


def test_english_question_over_an_english_article_is_answered_in_one_pass(make_pipeline, corpus):
    (corpus / "metaverse_en.txt").write_text(ENGLISH_ARTICLE, encoding="utf-8")
    pipe = make_pipeline("91 companies joined the association.", sentence_with("91 companies"))
    events = _events(pipe, EN_Q)
    answer = events[-1].answer
    assert not answer.refused, answer.reason
    assert answer.citations[0]["doc"] == "metaverse_en.txt"
    [prompt] = pipe.generator.prompts          # no hidden French draft, no translation
    assert prompt[-1]["content"].endswith("Answer language: English")
    assert "".join(e.text for e in events if isinstance(e, Token)).strip() == "91 companies joined the association."


@pytest.mark.parametrize("setting, prompts", [("always", 2), ("never", 1), ("auto", 1)])
def test_the_english_via_french_setting_forces_either_way_over_an_english_article(make_pipeline, corpus, setting,
                                                                                 prompts):
    (corpus / "metaverse_en.txt").write_text(ENGLISH_ARTICLE, encoding="utf-8")
    pipe = make_pipeline("91 companies joined the association.", sentence_with("91 companies"),
                         english_via_french=setting)
    pipe.ask(EN_Q)
    assert len(pipe.generator.prompts) == prompts
    assert pipe.generator.prompts[0][-1]["content"].endswith("Answer language: French" if prompts == 2 else
                                                             "Answer language: English")


def test_a_french_question_over_an_english_article_is_one_pass_in_french(make_pipeline, corpus):
    (corpus / "metaverse_en.txt").write_text(ENGLISH_ARTICLE, encoding="utf-8")
    pipe = make_pipeline("91 entreprises ont rejoint l'association.", sentence_with("91 companies"),
                         english_via_french="always")
    pipe.ask(Q)
    [prompt] = pipe.generator.prompts
    assert prompt[-1]["content"].endswith("Answer language: French")


# ---- timings.prefill_tokens: prompt tokens computed before the first answer token -------------------
def _computed(pipe, messages) -> int:
    gen = pipe.generator
    return gen.prompt_tokens(messages) - min(gen.cached, gen.prompt_tokens(messages))


def test_prefill_tokens_are_the_letters_read_and_the_reply_less_what_the_cache_held(make_pipeline):
    pipe = make_pipeline("91 entreprises ont rejoint l'association.", sentence_with("91 entreprises"))
    pipe.generator.cached = 40
    answer = pipe.ask(Q)
    (letters, _), (graded, _) = pipe.generator.label_reads     # the grade is read after the answer streamed
    [reply] = pipe.generator.prompts
    assert answer.timings["prefill_tokens"] == _computed(pipe, letters) + _computed(pipe, reply)
    assert answer.timings["prefill_tokens"] == pipe.generator.prompt_tokens(letters) + answer.prompt_tokens - 2 * 40


def test_prefill_tokens_count_the_hidden_french_draft_and_the_rewrite(make_pipeline):
    def reply(messages):
        prompt = messages[-1]["content"]
        return (EN_Q if "Follow-up:" in prompt else "91 companies joined the association." if "French answer:" in prompt
                else "91 entreprises ont rejoint l'association.")
    pipe = make_pipeline(reply, sentence_with("91 entreprises"))
    pipe.generator.cached = 10
    history = [{"role": "user", "content": "Tell me about the Zhejiang metaverse association."},
               {"role": "assistant", "content": "It was founded in 2024."}]
    answer = pipe.ask("And how many companies joined it?", history=history)
    assert not answer.refused, answer.reason
    rewrite, french, english = pipe.generator.prompts
    assert "Follow-up:" in rewrite[-1]["content"] and "French answer:" in english[-1]["content"]
    letters = pipe.generator.label_reads[0][0]
    assert answer.timings["prefill_tokens"] == sum(_computed(pipe, m) for m in (rewrite, letters, french, english))


def test_prefill_tokens_stop_at_the_first_token_and_are_none_without_one(make_pipeline):
    replies = iter(["Au total, 91 entreprises ont rejoint l'association.",
                    "In total, 91 companies joined the association."])
    pipe = make_pipeline(lambda messages: next(replies), sentence_with("91 entreprises"), english_via_french="never")
    answer = pipe.ask(EN_Q)
    first, again = pipe.generator.prompts       # the French reply streamed, then the restart in English
    letters = pipe.generator.label_reads[0][0]
    assert answer.timings["prefill_tokens"] == _computed(pipe, letters) + _computed(pipe, first)
    early = make_pipeline().ask("Combien d'entreprises avaient rejoint l'association du métavers du Zhejiang en 1987 ?")
    assert early.refused and early.timings["first_token_s"] is None and early.timings["prefill_tokens"] is None
