"""The answer step with a fake embedder, a fake reader and a scripted model: the reader picks the sentence and
its words, its probability is gated before any model call, the model phrases them (or, in extract mode, the
words are the answer), the declared checks decide, and the answer cites the one sentence it stands on."""

import json
import re

import pytest

from rag.answer import gate
from rag.pipeline import Pipeline, Restart, Retrieved, Status, Token
from rag.reader import SentenceScore
from rag.settings import Settings

from conftest import SEEDS, FakeEmbedder, FakeGenerator, FakeReader, sentence_of

Q = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
EN_Q = "How many companies joined the Zhejiang metaverse association?"
ANSWER = "Au total, 91 entreprises ont rejoint l'association."
# The seeds' sentence that states it (000_00be9f381121e8cb.txt).
SENTENCE = ("Actuellement, 91 entreprises basées dans la province du Zhejiang ont rejoint l’association en tant que "
            "membres fondateurs.")
FR = "Les articles ne le disent pas : "
UNANSWERED = FR + "aucune phrase des articles ne l'énonce."


class Finds(FakeReader):
    """A reader that, for a question containing a key of ``answers``, finds its words: the sentence holding them
    wins and they are the span. A question with no key: no sentence states it (every score 0, P = 0)."""

    def __init__(self, answers: dict[str, str]):
        super().__init__()
        self.answers = answers

    def score(self, question, sentences):
        self.reads.append((question, list(sentences)))
        wanted = next((w for k, w in self.answers.items() if k in question), None)
        return [SentenceScore(10.0, (s.index(wanted), s.index(wanted) + len(wanted))) if wanted and wanted in s
                else SentenceScore(0.0, (0, len(s))) for s in sentences]


def phrased(messages) -> str:
    """A model that phrases the reader's words, in the language asked for."""
    prompt = messages[-1]["content"]
    _, words = sentence_of(prompt)
    english = "Answer language: English" in prompt
    return f"According to the article, {words}." if english else f"Selon l'article, {words}."


def _events(pipe, question=Q, **kw):
    return list(pipe.ask_stream(question, **kw))


def _shown(events) -> str:
    return "".join(e.text for e in events if isinstance(e, Token))


def _in_article(source: dict, folder=SEEDS) -> str:
    return (folder / source["doc"]).read_text(encoding="utf-8")[source["start"]:source["end"]]


# ---- an answer -------------------------------------------------------------------------------------
def test_evidence_first_then_the_reader_then_the_answer_streams_then_it_is_checked(make_pipeline):
    events = _events(make_pipeline(ANSWER))
    order = [e.stage if isinstance(e, Status) else type(e).__name__ for e in events]
    first_token, last_token = order.index("Token"), len(order) - 1 - order[::-1].index("Token")
    assert order.index("Retrieved") < order.index("reading") < order.index("writing") < first_token
    assert last_token < order.index("checking") < order.index("Done") == len(order) - 1
    reading = next(e for e in events if isinstance(e, Status) and e.stage == "reading")
    assert reading.count == len(next(e for e in events if isinstance(e, Retrieved)).evidence) > 1
    answer = events[-1].answer
    assert not answer.refused, answer.reason
    assert _shown(events).strip() == ANSWER
    assert answer.answer == "Au total, 91 entreprises ont rejoint l'association [1]."
    [cited] = answer.citations
    assert cited["n"] == 1 and cited["text"] == SENTENCE == _in_article(cited), "one sentence, at its offsets"


def test_the_model_phrases_the_readers_sentence_and_words_alone(make_pipeline):
    pipe = make_pipeline(ANSWER)
    pipe.ask(Q)
    [prompt] = pipe.generator.prompts
    assert sentence_of(prompt[-1]["content"]) == (SENTENCE, "91")
    assert prompt[-1]["content"].endswith(f"Question: {Q}\nAnswer language: French")
    assert pipe.generator.streamed_prefixes == ["Answer:"]
    [(asked, candidates)] = pipe.reader.reads
    assert asked == Q and SENTENCE in candidates and len(candidates) > 1
    assert not any(other in prompt[-1]["content"] for other in candidates if other != SENTENCE), \
        "the model reads the reader's sentence, not the evidence"


def test_extract_mode_answers_with_the_readers_words_and_asks_no_model(make_pipeline):
    pipe = make_pipeline(ANSWER, answer="extract")
    events = _events(pipe)
    answer = events[-1].answer
    assert not answer.refused and answer.answer == "91 [1]"
    assert answer.citations[0]["text"] == SENTENCE
    assert pipe.generator.prompts == [] and not any(isinstance(e, Token) for e in events)
    assert answer.timings["first_token_s"] is None and answer.timings["prefill_tokens"] is None
    assert not any(isinstance(e, Status) and e.stage == "writing" for e in events)


def test_both_modes_cite_the_same_sentence(make_pipeline):
    llm, extract = make_pipeline(ANSWER).ask(Q), make_pipeline(ANSWER, answer="extract").ask(Q)
    assert llm.citations == extract.citations and llm.reader["sentence"] == extract.reader["sentence"]


def test_json_contract(make_pipeline):
    pipe = make_pipeline(ANSWER)
    data = json.loads(json.dumps(pipe.ask(Q).to_json()))
    assert {"question", "lang", "answer", "refused", "citations", "passages", "timings", "prompt_tokens", "checks",
            "reader", "closest", "reason", "withdrawn", "query"} <= set(data)
    assert set(data["timings"]) == {"retrieve_s", "first_token_s", "prefill_tokens", "total_s"}
    [cited] = data["citations"]
    assert set(cited) == {"n", "evidence", "doc", "passage_id", "start", "end", "text", "title", "date", "source",
                          "url", "also"}       # the article's metadata
    assert {"doc", "passage_id", "score", "text", "title", "date"} <= set(data["passages"][0])
    [check] = data["checks"]
    assert set(check) == {"answer", "failed", "detail", "checked", "p_answer", "source"}
    assert check["answer"] is True and check["failed"] == "" and "agreement" in check["checked"]
    assert check["source"] == cited["evidence"], "the checks name the sentence by its evidence number"
    assert data["lang"] == "fr" and data["prompt_tokens"] > 0 and data["closest"] is None


def test_the_reader_record_says_what_it_found(make_pipeline):
    pipe = make_pipeline(ANSWER)
    data = pipe.ask(Q).to_json()
    reader, [cited], [check] = data["reader"], data["citations"], data["checks"]
    assert set(reader) == {"p_answer", "sentence", "span", "candidates", "ranked", "seconds"}
    assert reader["span"] == "91" and reader["p_answer"] == check["p_answer"] == 1.0
    # Its sentence is sourced like a citation and numbered as the answer's evidence.
    assert reader["sentence"]["text"] == SENTENCE == _in_article(reader["sentence"])
    assert reader["sentence"]["n"] == cited["evidence"] and reader["sentence"]["title"] == cited["title"]
    assert reader["candidates"] == len(pipe.reader.reads[0][1])
    assert 1 < len(reader["ranked"]) <= 3 and reader["ranked"][0]["n"] == reader["sentence"]["n"]
    assert reader["seconds"] >= 0


# ---- the gate on the reader's P(answerable) --------------------------------------------------------
@pytest.mark.parametrize("mode", ["llm", "extract"])
def test_below_the_gate_threshold_the_answer_is_refused_before_any_model_call(make_pipeline, mode):
    pipe = make_pipeline(ANSWER, reader=FakeReader(p=0.2), answer=mode)
    events = _events(pipe)
    answer = events[-1].answer
    assert answer.refused and answer.answer == UNANSWERED
    assert pipe.generator.prompts == [] and not any(isinstance(e, Token) for e in events)
    assert answer.citations == [] and answer.withdrawn == ""
    assert answer.reason.startswith("unanswerable: ") and "0.20 < 0.50" in answer.reason
    [check] = answer.checks
    assert check["failed"] == "unanswerable" and check["p_answer"] == 0.2 and not check["answer"]
    assert answer.reader["p_answer"] == 0.2, "what the reader found is still reported"


def test_a_refusal_quotes_the_closest_sentence_with_its_source(make_pipeline):
    answer = make_pipeline(reader=FakeReader(p=0.2)).ask(Q)
    assert answer.refused
    closest = answer.closest
    assert closest["text"] == SENTENCE == _in_article(closest), "the reader's best sentence, at its offsets"
    assert closest["title"] and closest["n"] == answer.reader["sentence"]["n"] == answer.checks[0]["source"]


def test_at_the_threshold_the_answer_is_shown(make_pipeline):
    answer = make_pipeline(ANSWER, reader=FakeReader(p=0.5)).ask(Q)
    assert not answer.refused and answer.checks[0]["p_answer"] == 0.5


def test_rag_gate_0_lets_the_reader_answer_whatever_its_probability(corpus, tmp_path):
    settings = Settings.load(env={"RAG_GATE": "0", "RAG_MIN_SCORE": "0"}, corpus=corpus, index=tmp_path / "index")
    pipe = Pipeline(settings, embedder=FakeEmbedder(), generator=FakeGenerator(ANSWER), reader=FakeReader(p=0.2))
    assert pipe.gate_model is gate.OPEN, "no gate file is read"
    answer = pipe.ask(Q)
    assert not answer.refused and answer.answer == "Au total, 91 entreprises ont rejoint l'association [1]."
    assert answer.checks[0]["p_answer"] == 0.2 and "unanswerable" not in answer.checks[0]["checked"]


# ---- the checks on the answer written --------------------------------------------------------------
def test_an_answer_that_drops_the_readers_figure_is_refused_by_the_agreement_check(make_pipeline):
    written = "Des entreprises de la province ont rejoint l'association."
    pipe = make_pipeline(written)
    answer = pipe.ask(Q)
    assert answer.refused and answer.withdrawn == written and answer.citations == []
    assert answer.answer == FR + "la réponse écrite ne donne pas ce que la phrase citée dit (91)."
    assert answer.checks[0]["failed"] == "agreement" and answer.checks[0]["checked"][-1] == "agreement"
    assert answer.closest["text"] == SENTENCE


def test_an_invented_figure_is_withdrawn_and_the_refusal_names_it(make_pipeline):
    answer = make_pipeline("Exactement 4321 entreprises ont rejoint l'association.").ask(Q)
    assert answer.refused and "4321" in answer.withdrawn
    assert answer.answer == FR + "le chiffre 4321 de la réponse ne figure dans aucune phrase lue."
    assert answer.reason.startswith("invented_figure: ")
    # The reader is pointed to the sentence the answer was written from.
    assert answer.closest["text"] == SENTENCE == _in_article(answer.closest) and answer.citations == []


def test_the_refusal_is_in_the_language_of_the_question(make_pipeline):
    pipe = make_pipeline("Several firms of the province are members.", reader=FakeReader(prefer="91 entreprises"))
    answer = pipe.ask(EN_Q)
    assert answer.refused and answer.lang == "en"
    assert answer.answer == ("The articles don't say: the answer written does not give what the cited sentence "
                             "says (91).")


def test_a_citation_marker_in_place_of_a_figure_is_refused(make_pipeline):
    answer = make_pipeline("Le nombre d'entreprises est de [1].").ask(Q)
    assert answer.refused and answer.checks[0]["failed"] == "marker_figure" and "renvoi" in answer.answer


def test_model_saying_it_does_not_know_is_a_refusal(make_pipeline):
    answer = make_pipeline("Les articles ne mentionnent pas ce chiffre.").ask(Q)
    assert answer.refused and answer.answer == FR + "le modèle a jugé que la phrase trouvée ne répond pas."


# ---- refused before the reader ---------------------------------------------------------------------
def test_weak_evidence_is_refused_without_reading_or_calling_the_model(make_pipeline):
    pipe = make_pipeline(min_score=0.99)
    answer = pipe.ask("Quelle est la population de Fuzhou ?")
    assert answer.refused and answer.answer == FR + "aucun passage ne traite de cette question."
    assert pipe.reader.reads == [] and pipe.generator.prompts == [] and answer.reader is None
    assert answer.passages, "the passages looked at are still reported"


def test_question_about_a_year_no_passage_mentions_is_refused_before_reading(make_pipeline):
    pipe = make_pipeline()
    answer = pipe.ask("Combien d'entreprises avaient rejoint l'association du métavers du Zhejiang en 1987 ?")
    assert answer.refused and answer.answer == FR + "aucun passage ne mentionne 1987."
    assert pipe.reader.reads == [] and pipe.generator.prompts == []
    assert answer.timings["first_token_s"] is None and answer.timings["prefill_tokens"] is None


# ---- languages -------------------------------------------------------------------------------------
ENGLISH_ARTICLE = ("title: Zhejiang's metaverse association\n\n"
                   "In total, 91 companies joined the Zhejiang metaverse association in its first year, "
                   "the provincial government said. The members are makers of virtual reality headsets, "
                   "game studios and the big platforms of the province, and they meet every month in Hangzhou.\n")


def test_wrong_language_is_regenerated_once_with_a_stricter_instruction(make_pipeline):
    replies = iter([ANSWER, "In total, 91 companies joined the association."])
    pipe = make_pipeline(lambda messages: next(replies), reader=FakeReader(prefer="91 entreprises"))
    events = _events(pipe, EN_Q)
    restart = next(i for i, e in enumerate(events) if isinstance(e, Restart))
    assert _shown(events[restart:]).strip() == "In total, 91 companies joined the association."
    answer = events[-1].answer
    assert answer.lang == "en" and answer.answer == "In total, 91 companies joined the association [1]."
    first, again = pipe.generator.prompts
    assert "ONLY in English" not in first[-1]["content"] and "ONLY in English" in again[-1]["content"]


def test_answer_language_setting_overrides_detection(make_pipeline):
    pipe = make_pipeline("In total, 91 companies joined.")
    answer = pipe.ask(Q, lang="en")
    assert answer.lang == "en" and pipe.generator.prompts[0][-1]["content"].endswith("Answer language: English")


def test_english_question_over_an_english_article_is_answered_in_one_pass(make_pipeline, corpus):
    (corpus / "metaverse_en.txt").write_text(ENGLISH_ARTICLE, encoding="utf-8")
    pipe = make_pipeline("91 companies joined the association.")
    events = _events(pipe, EN_Q)
    answer = events[-1].answer
    assert not answer.refused, answer.reason
    assert answer.citations[0]["doc"] == "metaverse_en.txt"
    [prompt] = pipe.generator.prompts
    assert prompt[-1]["content"].endswith("Answer language: English")
    assert _shown(events).strip() == "91 companies joined the association."


def test_extract_mode_marks_a_quote_in_another_language_as_the_articles(make_pipeline, corpus):
    french = make_pipeline(answer="extract", reader=FakeReader(prefer="91 entreprises")).ask(EN_Q)
    assert not french.refused and french.answer == "“91” (quoted from the article, in French) [1]"
    (corpus / "metaverse_en.txt").write_text(ENGLISH_ARTICLE, encoding="utf-8")
    english = make_pipeline(answer="extract", reader=FakeReader(prefer="91 companies")).ask(EN_Q, lang="fr")
    assert not english.refused and english.answer == "« 91 » (citation de l'article, en anglais) [1]"
    assert english.citations[0]["doc"] == "metaverse_en.txt"
    same = make_pipeline(answer="extract", reader=FakeReader(prefer="91 companies")).ask(EN_Q)
    assert same.answer == "91 [1]", "a quote in the question's language is the answer itself"


# ---- questions the app declines --------------------------------------------------------------------
@pytest.mark.parametrize("question", ["", "   ", "?!", "🙂🙂"])
def test_empty_questions_get_a_hint_not_an_error(make_pipeline, question):
    pipe = make_pipeline()
    answer = pipe.ask(question)
    assert answer.refused and answer.answer.startswith("Posez une question sur les articles") and "?" in answer.answer
    assert pipe.reader.reads == []


def test_overlong_question_is_declined(make_pipeline):
    answer = make_pipeline().ask("Quelle est la réponse à cette question ? " * 500)
    assert answer.refused and "trop longue" in answer.answer


def test_other_languages_are_declined_politely(make_pipeline):
    answer = make_pipeline().ask("Wie viele Unternehmen sind dem Verband beigetreten?")
    assert answer.refused and "français ou en anglais" in answer.answer


# ---- follow-ups ------------------------------------------------------------------------------------
HISTORY = [{"role": "user", "content": Q}, {"role": "assistant", "content": "91 entreprises [1]."}]


def test_follow_up_is_rewritten_with_the_conversation(make_pipeline):
    def reply(messages):
        if "Standalone question" in messages[-1]["content"]:
            return "Combien d'entreprises ont rejoint le centre d'innovation du métavers à Pékin ?"
        return phrased(messages)
    pipe = make_pipeline(reply)
    events = _events(pipe, "Et à Pékin ?", history=HISTORY)
    retrieved = next(e for e in events if isinstance(e, Retrieved))
    assert "Pékin" in retrieved.query and "entreprises" in retrieved.query
    answer = events[-1].answer
    assert answer.query == retrieved.query and pipe.reader.reads[0][0] == retrieved.query


def test_extract_mode_asks_no_model_even_for_a_follow_up(make_pipeline):
    pipe = make_pipeline(answer="extract")
    answer = pipe.ask("Et à Pékin ?", history=HISTORY)
    assert pipe.generator.prompts == [] and answer.query == "Et à Pékin ?"


# ---- questions in parts ----------------------------------------------------------------------------
TWO_PARTS = ("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang, et quel montant "
             "représentent les projets signés à Fuzhou ?")


@pytest.mark.parametrize("mode", ["llm", "extract"])
def test_a_two_part_question_is_answered_part_by_part_with_its_own_sources(make_pipeline, mode):
    reader = Finds({"entreprises": "91 entreprises", "montant": "228 milliards de yuans"})
    answer = make_pipeline(phrased, reader=reader, answer=mode).ask(TWO_PARTS)
    assert not answer.refused and len(answer.checks) == 2
    assert re.search(r"91 entreprises\.? \[1\]\.? .*228 milliards de yuans\.? \[2\]", answer.answer), "one numbering"
    assert [c["n"] for c in answer.citations] == [1, 2]
    assert "91 entreprises" in answer.citations[0]["text"] and "228 milliards" in answer.citations[1]["text"]
    assert len({c["doc"] for c in answer.citations}) == 2, "each part cites its own article"
    assert [q for q, _ in reader.reads] == [Q, "quel montant représentent les projets signés à Fuzhou ?"]


def test_a_part_the_articles_do_not_answer_says_so_and_the_other_part_stands(make_pipeline):
    question = Q.replace(" ?", ", et quelle est la couleur du ciel ?")
    pipe = make_pipeline(phrased, reader=Finds({"entreprises": "91 entreprises"}))
    answer = pipe.ask(question)
    assert not answer.refused
    assert answer.answer.startswith("Selon l'article, 91 entreprises [1]. Sur « quelle est la couleur du ciel », "
                                    "les articles ne le disent pas (aucune phrase des articles ne l'énonce")
    assert [c["n"] for c in answer.citations] == [1] and [c["failed"] for c in answer.checks] == ["", "unanswerable"]
    assert len(pipe.generator.prompts) == 1, "the refused part asked the model nothing"


def test_a_comparison_is_decided_in_code_not_by_the_model(make_pipeline):
    question = ("Quel montant est le plus élevé : la valeur visée pour l'industrie du métavers du Zhejiang, "
                "ou celui des projets d'investissement signés à Fuzhou ?")
    reader = Finds({"Zhejiang": "200 milliards de yuans", "Fuzhou": "228 milliards de yuans"})
    answer = make_pipeline(phrased, reader=reader).ask(question)
    assert answer.answer.endswith("Le plus élevé : celui des projets d'investissement signés à Fuzhou (228).")
    lower = make_pipeline(phrased, reader=reader).ask(question.replace("le plus élevé", "le moins élevé"))
    assert lower.answer.endswith("Le plus faible : la valeur visée pour l'industrie du métavers du Zhejiang (200).")


# ---- time conditions -------------------------------------------------------------------------------
def test_a_question_with_a_time_condition_says_which_date_the_figure_is_from(make_pipeline):
    reader = FakeReader(prefer="2 000 représentants")
    asked = "Combien de représentants étaient attendus à la WIC en novembre 2022 ?"
    dated = make_pipeline(phrased, reader=reader).ask(asked)
    assert not dated.refused, dated.reason
    assert dated.answer == "Selon l'article, 2 000 [1]. (Article du 2022-11.)"
    plain = make_pipeline(phrased, reader=reader).ask(asked.replace(" en novembre 2022", ""))
    assert plain.answer == "Selon l'article, 2 000 [1]."


# ---- the model's reply format ----------------------------------------------------------------------
@pytest.mark.parametrize("reply", ["Answer words: 91 entreprises", "Answer:", "Answer:\nAnswer language: French\n",
                                   "Sentence: Actuellement, 91 entreprises ont rejoint l'association.\n"])
def test_a_reply_that_is_only_the_protocol_is_refused_not_shown(make_pipeline, reply):
    events = _events(make_pipeline(reply))
    answer = events[-1].answer
    assert answer.refused and answer.reason.startswith("protocol: ") and answer.checks[0]["failed"] == "protocol"
    assert answer.answer == FR + "le modèle n'a écrit que le format de la réponse, sans réponse."
    assert answer.withdrawn and answer.withdrawn in reply, "the lines it wrote are kept for inspection"
    assert not [e for e in events if isinstance(e, Token)], "nothing of the protocol was streamed"


def test_the_protocol_before_the_answer_is_left_out(make_pipeline):
    pipe = make_pipeline("Question: Combien ?\nAnswer words: 91 entreprises\nAnswer: 91 entreprises ont rejoint "
                         "l'association.\nSentence: 91")
    events = _events(pipe)
    answer = events[-1].answer
    assert not answer.refused, answer.reason
    assert _shown(events) == "91 entreprises ont rejoint l'association."
    assert answer.answer == "91 entreprises ont rejoint l'association [1]."


# ---- loading ---------------------------------------------------------------------------------------
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


# ---- timings.prefill_tokens: prompt tokens computed before the first answer token -------------------
def _computed(pipe, messages) -> int:
    gen = pipe.generator
    return gen.prompt_tokens(messages) - min(gen.cached, gen.prompt_tokens(messages))


def test_prefill_tokens_are_the_reply_prompt_less_what_the_cache_held(make_pipeline):
    pipe = make_pipeline(ANSWER)
    pipe.generator.cached = 40
    answer = pipe.ask(Q)
    [reply] = pipe.generator.prompts
    assert answer.prompt_tokens == pipe.generator.prompt_tokens(reply) > 40
    assert answer.timings["prefill_tokens"] == _computed(pipe, reply) == answer.prompt_tokens - 40


def test_prefill_tokens_count_the_follow_up_rewrite(make_pipeline):
    def reply(messages):
        prompt = messages[-1]["content"]
        return EN_Q if "Follow-up:" in prompt else "91 companies joined the association."
    pipe = make_pipeline(reply, reader=FakeReader(prefer="91 entreprises"))
    pipe.generator.cached = 10
    history = [{"role": "user", "content": "Tell me about the Zhejiang metaverse association."},
               {"role": "assistant", "content": "It was founded in 2024."}]
    answer = pipe.ask("And how many companies joined it?", history=history)
    assert not answer.refused, answer.reason
    rewrite, written = pipe.generator.prompts
    assert "Follow-up:" in rewrite[-1]["content"] and "Answer words: 91" in written[-1]["content"]
    assert answer.timings["prefill_tokens"] == _computed(pipe, rewrite) + _computed(pipe, written)


def test_prefill_tokens_stop_at_the_first_token_and_are_none_without_one(make_pipeline):
    replies = iter([ANSWER, "In total, 91 companies joined the association."])
    pipe = make_pipeline(lambda messages: next(replies), reader=FakeReader(prefer="91 entreprises"))
    answer = pipe.ask(EN_Q)
    first, again = pipe.generator.prompts       # the French reply streamed, then the restart in English
    assert answer.timings["prefill_tokens"] == _computed(pipe, first)
    refused = make_pipeline(reader=FakeReader(p=0.2)).ask(Q)
    assert refused.refused and refused.timings["first_token_s"] is None and refused.timings["prefill_tokens"] is None
