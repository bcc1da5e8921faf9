"""The sentence ranker: its features, its score, and the evidence it fills (no models)."""

from __future__ import annotations

import math

import numpy as np
from conftest import FakeEmbedder

from rag.answer import answertype
from rag.retrieval import evidence, ranker
from rag.retrieval.search import retrieve
from rag.store import folder

Q = "Combien d'entreprises compte l'association du métavers du Zhejiang ?"
NAMED = "L'association du métavers du Zhejiang réunit des entreprises de Hangzhou et de Ningbo."
FIGURE = "Elle compte 91 entreprises."


def _features(text: str, holds: bool = False, **idf) -> dict:
    return ranker.features(Q, text, cosine=0.8, neighbours=0.7, passage_rank=1, passage_dense=0.85,
                           passage_fused=0.03, idf=idf or {"entrepr": 1.0, "associ": 1.0, "metavers": 1.0,
                                                           "zhejiang": 1.0, "compt": 1.0}, holds=holds)


def test_features_read_the_question_s_words_names_and_answer_type():
    named, figure = _features(NAMED), _features(FIGURE, holds=answertype.holds(Q)(FIGURE))
    assert set(named) == set(ranker.FEATURES)
    assert named["keywords"] > figure["keywords"] and named["entities"] == 1.0 and figure["entities"] == 0.0
    assert (named["answer_type"], figure["answer_type"]) == (0.0, 1.0), "a 'combien' question wants a figure"
    assert math.isclose(named["passage_fused"], 1.8) and math.isclose(named["length"], math.log(1 + 13))


def test_lexical_weighs_the_rare_words_of_the_question():
    rare_figure = _features(FIGURE, entrepr=0.1, compt=3.0, zhejiang=1.0, metavers=1.0, associ=1.0)
    assert rare_figure["lexical"] > rare_figure["keywords"], "'compte' is rare among the candidates, 'entreprises' is not"
    assert ranker.idf([NAMED, FIGURE])["entrepr"] < ranker.idf([NAMED, FIGURE])["91"]


def test_score_is_the_log_odds_of_the_standardised_features():
    w = ranker.Weights(["cosine", "answer_type"], mean=[0.5, 0.5], scale=[0.5, 0.5], coef=[1.0, 3.0], intercept=0.0)
    assert ranker.score({"cosine": 1.0, "answer_type": 0.0}, w) == -2.0
    assert ranker.score({"cosine": 0.5, "answer_type": 1.0}, w) > ranker.score({"cosine": 1.0, "answer_type": 0.0}, w)


def test_the_committed_weights_cover_every_feature():
    w = ranker.load()
    assert w.features == list(ranker.FEATURES) and len(w.coef) == len(w.mean) == len(w.scale) == len(w.features)


def test_select_with_the_ranker_puts_the_sentence_holding_the_asked_figure_first(tmp_path):
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "metavers.txt").write_text(f"Le métavers\n\n{NAMED} {FIGURE}\n", encoding="utf-8")
    embedder = FakeEmbedder()
    store = folder.open_index(tmp_path / "news", tmp_path / "index", embedder)
    vectors = embedder.encode([Q], "query")
    hits = retrieve(store, [Q], vectors, 5, 20)
    one = lambda text: 100            # noqa: E731 - room for one sentence only: the first chosen
    by_hand = evidence.select(store, hits, vectors, [Q], 100, 10, one)
    weights = ranker.Weights(["cosine", "answer_type"], mean=[0.0, 0.5], scale=[1.0, 0.5], coef=[1.0, 2.0], intercept=0.0)
    ranked = evidence.select(store, hits, vectors, [Q], 100, 10, one, weights, answertype.holds(Q))
    assert [e.text for e in by_hand] == [NAMED], "the hand-tuned score prefers the sentence with the question's words"
    assert [e.text for e in ranked] == [FIGURE]
    hand = {evidence.text_of(store, r): round(evidence.handmade(f), 4)
            for r, f in evidence.candidates(store, hits, vectors, [Q]).items()}
    assert ranked[0].score == hand[FIGURE], "the hand-tuned score still: the source-sentence weight and the gate were fitted on it"
    both = evidence.select(store, hits, vectors, [Q], 400, 2, lambda text: 10, weights, answertype.holds(Q))
    assert [e.text for e in both] == [NAMED, FIGURE], "reading order inside the article, whatever the ranking"
    assert np.isfinite([e.score for e in both]).all()


def test_rag_sentence_ranker_fills_the_pipeline_s_evidence_with_the_committed_weights(make_pipeline):
    from rag.pipeline import Retrieved
    from rag.settings import Settings

    assert Settings.load(env={"RAG_SENTENCE_RANKER": "1"}).sentence_ranker
    pipe = make_pipeline(sentence_ranker=True)
    shown = next(e for e in pipe.ask_stream(Q) if isinstance(e, Retrieved)).evidence
    assert any("91 entreprises" in e.text for e in shown)
