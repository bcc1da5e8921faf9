import pytest

from rag.ingest.corpus import read_corpus
from rag.ingest.document import title_of
from rag.errors import RagError


def test_reads_txt_and_md_recursively_and_skips_other_files(tmp_path):
    (tmp_path / "a.txt").write_text("Titre A.\nCorps.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Titre B\nCorps.", encoding="utf-8")
    (tmp_path / "c.png").write_bytes(b"\x89PNG")
    corpus = read_corpus(tmp_path)
    docs, warnings = corpus.docs, corpus.warnings
    assert [d.id for d in docs] == ["a.txt", "sub/b.md"]
    assert docs[0].title == "Titre A." and warnings == []


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    ("café".encode("latin-1") + b" au lait", "not UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
])
def test_bad_files_are_skipped_with_a_reason_naming_them(tmp_path, content, reason):
    (tmp_path / "good.txt").write_text("Un article.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(content)
    corpus = read_corpus(tmp_path)
    docs, warnings = corpus.docs, corpus.warnings
    assert [d.id for d in docs] == ["good.txt"]
    assert len(warnings) == 1 and warnings[0].startswith("bad.txt:") and reason in warnings[0]


def test_duplicates_are_indexed_once(tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("Même texte.", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    docs, warnings = corpus.docs, corpus.warnings
    assert [d.id for d in docs] == ["a.txt"] and "same text as a.txt" in warnings[0]


def test_bom_is_dropped_so_offsets_match_the_text(tmp_path):
    (tmp_path / "a.txt").write_bytes("\ufeffBonjour.".encode("utf-8"))
    assert read_corpus(tmp_path).docs[0].text == "Bonjour."


def test_huge_file_is_skipped(tmp_path, monkeypatch):
    import rag.ingest.document

    monkeypatch.setattr(rag.ingest.document, "MAX_FILE_BYTES", 1000)
    (tmp_path / "big.txt").write_text("mot " * 1000, encoding="utf-8")
    (tmp_path / "ok.txt").write_text("petit", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    docs, warnings = corpus.docs, corpus.warnings
    assert [d.id for d in docs] == ["ok.txt"] and "limit" in warnings[0]


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: p, "no articles"),
])
def test_empty_or_missing_corpus_is_a_clear_error(tmp_path, setup, message):
    with pytest.raises(RagError, match=message):
        read_corpus(setup(tmp_path))


def test_title_is_first_line_or_first_sentence():
    assert title_of("\n\nPremière ligne\nDeuxième") == "Première ligne"
    assert title_of("x" * 30 + ". " + "y" * 200).endswith(".")
