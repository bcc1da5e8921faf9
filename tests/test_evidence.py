"""The candidate sentences the reader reads: the best sentences of the retrieved passages, at most
RAG_READER_SENTENCES of them."""

from __future__ import annotations

from conftest import FakeReader

from rag.pipeline import Retrieved

Q = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"


def _read(make_pipeline, most: int):
    """(the evidence shown, the sentences the reader read) with ``RAG_READER_SENTENCES=most``."""
    reader = FakeReader()
    pipe = make_pipeline(reader=reader, reader_sentences=most)
    evidence = next(e for e in list(pipe.ask_stream(Q)) if isinstance(e, Retrieved)).evidence
    return evidence, reader.reads


def test_the_reader_reads_at_most_reader_sentences_candidates_the_best_kept(make_pipeline):
    small, read_small = _read(make_pipeline, 4)
    large, _ = _read(make_pipeline, 24)
    assert len(small) == 4 < len(large) <= 24
    assert "91 entreprises" in " ".join(e.text for e in small), "the best sentence survives a small bound"
    assert [e.n for e in small] == [1, 2, 3, 4], "numbered from 1, as citations name them"
    assert read_small == [(Q, [e.text for e in small])], "one read, of exactly the sentences shown"
