"""The evidence the model reads: the best sentences of the retrieved passages, within a token budget."""

from __future__ import annotations

from conftest import FakeGenerator

from rag.pipeline import Retrieved

Q = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"


class WordTokens(FakeGenerator):
    """A model whose tokens are words (not the default four-characters estimate)."""

    def count_tokens(self, text):
        return len(text.split())


def _evidence(make_pipeline, budget: int):
    pipe = make_pipeline(evidence_tokens=budget, max_sentences=20)
    pipe._generator = WordTokens()
    return next(e for e in pipe.ask_stream(Q) if isinstance(e, Retrieved)).evidence


def test_evidence_fits_the_budget_in_the_reading_models_tokens(make_pipeline):
    small, large = _evidence(make_pipeline, 80), _evidence(make_pipeline, 400)
    words = [sum(len(e.text.split()) for e in evidence) for evidence in (small, large)]
    assert words[0] <= 80 and words[1] <= 400
    assert words[0] < words[1] / 2, "the budget, not the sentence count, limited the evidence"
    assert "91 entreprises" in " ".join(e.text for e in small), "the best sentence survives a small budget"
