import string

from hypothesis import given, settings, strategies as st

from rag.ingest.chunking import split_passages, split_sentences
from rag.ingest.corpus import read_corpus

from conftest import SEEDS

_text = st.text(alphabet=string.ascii_letters + "éàç’'«»0123456789 .,!?…\n", min_size=0, max_size=2000)


@given(_text)
@settings(max_examples=300, deadline=None)
def test_passage_offsets_map_back_to_the_source(text):
    for p in split_passages("d.txt", text, min_words=5, max_words=20):
        assert text[p.start:p.end] == p.text
        assert p.text.strip() and p.text == p.text.strip()
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end


@given(_text)
@settings(max_examples=300, deadline=None)
def test_every_non_blank_character_is_in_a_passage(text):
    passages = split_passages("d.txt", text, min_words=5, max_words=20)
    covered = set()
    for p in passages:
        covered.update(range(p.start, p.end))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


def test_numbers_and_abbreviations_do_not_split_sentences():
    text = "Le PIB atteint 35.000 milliards. M. Liu a parlé. Ensuite 2,5 % de hausse."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Le PIB atteint 35.000 milliards.", "M. Liu a parlé.", "Ensuite 2,5 % de hausse."]


def test_seed_passages_are_sized_and_overlap():
    corpus = read_corpus(SEEDS)
    docs, warnings = corpus.docs, corpus.warnings
    assert not warnings
    for doc in docs:
        passages = split_passages(doc.id, doc.text)
        assert len(passages) >= 5
        words = [len(p.text.split()) for p in passages]
        assert max(words) <= 200 and sorted(words)[len(words) // 2] >= 50
        for a, b in zip(passages, passages[1:]):
            if len(a.sentences) > 1:
                assert b.start < a.end, "consecutive passages share a sentence"
        assert [p.passage_id for p in passages] == [f"{doc.id}#{i}" for i in range(len(passages))]
