"""Every format a news folder holds, on small real files the tests write themselves."""

from __future__ import annotations

import json

import pytest
from fixtures_news import HTML_NO_BODY, write_docx, write_news_folder, write_pdf

from rag.ingest.corpus import read_corpus
from rag.ingest.formats import read_file
from rag.store.folder import Store, build


@pytest.fixture
def news(tmp_path):
    return write_news_folder(tmp_path / "news")


def by_title(docs):
    return {d.title: d for d in docs}


def test_a_mixed_folder_gives_every_article_its_title_date_and_source(news):
    corpus = read_corpus(news)
    docs = by_title(corpus.docs)
    expected = {   # title: (date, source, format)
        "Ningbo bat son record de conteneurs": ("2024-01-15", "Le Courrier du Port", "html"),
        "Rapport annuel de la zone franche de Hainan": ("2023-06-05", "", "pdf"),
        "Suzhou et la robotique": ("2023-03-03", "", "docx"),
        "Shenzhen ouvre un centre de calcul": ("2024-04-09", "Dépêches Asie", "feed"),
        "Canton accueille une foire du numérique": ("2024-05-20", "Dépêches Asie", "feed"),
        "Hangzhou chip plant starts production": ("2024-03-01", "Tech Wire", "feed"),
        "Wuhan opens a data exchange": ("2024-02-03", "Agence Centrale", "jsonl"),
        "Chengdu expands its metro": ("2023-12-28", "", "jsonl"),
        "Xiamen lance une zone pilote": ("2024-04-12", "Journal du Fujian", "txt"),
    }
    assert {t: (d.date, d.source, d.format) for t, d in docs.items()} == expected
    assert corpus.formats == {"html": 1, "pdf": 1, "docx": 1, "feed": 3, "jsonl": 2, "txt": 1}
    assert docs["Ningbo bat son record de conteneurs"].url == "https://courrier-du-port.example/2024/01/ningbo-record"
    assert docs["Hangzhou chip plant starts production"].lang == "en"
    assert docs["Xiamen lance une zone pilote"].lang == "fr"
    # Skipped entries inside files are named, the rest of the file is kept.
    assert sorted(w.split(":")[0] for w in corpus.warnings) == ["depeches.rss", "dump.jsonl", "dump.jsonl"]
    assert any("Brève sans texte" in w and "no text" in w for w in corpus.warnings)
    assert any(w.startswith("dump.jsonl:3: skipped") for w in corpus.warnings)


def test_html_keeps_the_article_and_drops_the_page_around_it(news):
    doc = by_title(read_corpus(news).docs)["Ningbo bat son record de conteneurs"]
    assert "35 millions de conteneurs" in doc.text and "deux nouveaux quais" in doc.text
    for chrome in ("Accueil", "Mentions légales", "tracking", "Abonnez-vous"):
        assert chrome not in doc.text


def test_pdf_pages_are_kept_so_a_citation_knows_its_page(news):
    doc = by_title(read_corpus(news).docs)["Rapport annuel de la zone franche de Hainan"]
    second = doc.text.index("Deuxieme page")
    assert len(doc.pages) == 2 and doc.page_of(0) == 1 and doc.page_of(second) == 2
    assert doc.page_of(doc.pages[1] - 1) == 1


def test_ids_are_stable_and_entries_get_their_own(news):
    first = [d.id for d in read_corpus(news).docs]
    assert first == [d.id for d in read_corpus(news).docs]
    assert "dump.jsonl:w1" in first and "ningbo.html" in first
    assert len([i for i in first if i.startswith("depeches.rss:")]) == 2


def test_offsets_index_the_extracted_text_through_the_index(news, tmp_path, fake_embedder):
    build(news, tmp_path / "idx", fake_embedder)
    store = Store.load(tmp_path / "idx")
    assert {d.format for d in store.docs.values()} == {"html", "pdf", "docx", "feed", "jsonl", "txt"}
    for p in store.passages:
        assert store.docs[p.doc].text[p.start:p.end] == p.text
    # Metadata survives the reload.
    ningbo = store.docs["ningbo.html"]
    assert (ningbo.title, ningbo.date, ningbo.source) == ("Ningbo bat son record de conteneurs", "2024-01-15",
                                                         "Le Courrier du Port")
    pdf_passage = next(p for p in store.passages if p.doc == "rapport.pdf" and "Deuxieme" in p.text)
    assert store.describe("rapport.pdf", pdf_passage.text.index("Deuxieme") + pdf_passage.start)["page"] == 2
    assert store.manifest["docs"]["ningbo.html"]["date"] == "2024-01-15"


def _bad(tmp_path, name: str, content: bytes | None = None, writer=None):
    path = tmp_path / name
    if writer:
        writer(path)
    else:
        path.write_bytes(content)
    docs, warnings = read_file(path, name)
    assert docs == [] and len(warnings) == 1 and warnings[0].startswith(f"{name}: ")
    return warnings[0]


def test_bad_files_are_skipped_with_one_line_naming_them(tmp_path):
    assert "encrypted" in _bad(tmp_path, "secret.pdf", writer=lambda p: write_pdf(p, ["Texte secret."],
                                                                                    password="motdepasse"))
    assert "no text layer" in _bad(tmp_path, "scan.pdf", writer=lambda p: write_pdf(p, [""]))
    assert "not a readable PDF" in _bad(tmp_path, "broken.pdf", b"%PDF-1.4\n garbage")
    assert "no article body" in _bad(tmp_path, "index.html", HTML_NO_BODY.encode())
    assert "empty" in _bad(tmp_path, "blank.html", b"  \n")
    assert "not UTF-8" in _bad(tmp_path, "latin.txt", "café".encode("latin-1"))
    assert "not UTF-8" in _bad(tmp_path, "latin.jsonl", '{"text": "café"}'.encode("latin-1"))
    assert "not a readable Word" in _bad(tmp_path, "fake.docx", b"PK\x03\x04 not a zip")
    assert "no text" in _bad(tmp_path, "empty.docx", writer=lambda p: write_docx(p, "", []))
    assert "not an RSS/Atom feed" in _bad(tmp_path, "page.xml", b"<config><a>1</a></config>")
    assert "no line holds an article" in _bad(tmp_path, "junk.jsonl", b'{"title": "x"}\nnot json\n')


def test_a_folder_with_bad_files_still_indexes_the_good_ones(news, tmp_path, fake_embedder):
    write_pdf(news / "secret.pdf", ["Texte."], password="x")
    (news / "index.html").write_text(HTML_NO_BODY, encoding="utf-8")
    report = build(news, tmp_path / "idx", fake_embedder)
    assert len(report.added) == 9
    named = {w.split(":")[0] for w in report.warnings}
    assert {"secret.pdf", "index.html"} <= named


def test_text_header_lines_give_date_and_title_and_the_seed_keeps_its_offsets(corpus):
    docs = {d.id: d for d in read_corpus(corpus).docs}
    seed = docs["002_0f643d94c540def6.txt"]
    assert seed.date == "2022-11" and seed.title.startswith("Du 9 au 11 novembre prochain")
    assert seed.text == (corpus / seed.id).read_text(encoding="utf-8"), "text files are indexed as they are"
    assert all(d.format == "txt" for d in docs.values())


def test_jsonl_dump_entries_keep_their_ids(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": 7, "text": "Un texte.", "title": "T"}) + "\n", encoding="utf-8")
    docs, warnings = read_file(tmp_path / "d.jsonl", "d.jsonl")
    assert [d.id for d in docs] == ["d.jsonl:7"] and docs[0].text == "T\n\nUn texte." and warnings == []


def test_an_index_folder_inside_the_corpus_is_not_read_as_articles(news, fake_embedder):
    index = news / "index"          # not hidden: its docs.jsonl holds "text" fields
    build(news, index, fake_embedder)
    report = build(news, index, fake_embedder)
    assert not report.touched and len(report.unchanged) == 9
    assert not Store.load(index).stale(news)
