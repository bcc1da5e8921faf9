"""The web chat's HTML and Markdown (``rag.web.render``), function by function, without a
pipeline: assertions are on what a reader sees, the text a browser shows and the markup that
makes it a link, a highlight or a card."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

from rag.ingest.document import Document
from rag.retrieval.evidence import Evidence
from rag.retrieval.scope import Scope
from rag.web import cards, render

ARTICLE = "Le Zhejiang <b>innove</b>\nAu total, 91 entreprises ont rejoint l'association. Elle vise 200 membres.\n"
SPAN = "91 entreprises ont rejoint l'association."
DOCS = {"zj.html": Document("zj.html", ARTICLE, "0" * 64)}
META = {"title": "Le Zhejiang <b>innove</b>", "date": "2024-04-12", "source": "Xinhua <i>", "page": 2,
        "also": ["Le Monde", "Reuters"]}


def text_of(fragment: str) -> str:
    """What a browser shows for an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def describe(doc_id, start=None):
    return META


def evidence(n: int, snippet: str) -> Evidence:
    start = ARTICLE.index(snippet)
    return Evidence(n, "zj.html", f"zj.html#{n}", start, start + len(snippet), snippet, 0.9)


# ---- text and markup ------------------------------------------------------------------------
def test_markdown_and_latex_in_data_render_literally():
    md = render.md_text("**bold** _it_ [x](http://e.vil) $x$ # h `c` <i>")
    assert "**" not in md.replace("\\*", "") and "](" not in md.replace("\\]\\(", "")
    assert "<i>" not in md and "&lt;i&gt;" in md


def test_only_valid_citation_numbers_become_links():
    out = render.answer_markdown("a [1] b [3] c [12] en [2025]", {1, 3})
    assert '<a href="#src-1" class="cite">[1]</a>' in out and '<a href="#src-3" class="cite">[3]</a>' in out
    assert "src-12" not in out and "src-2025" not in out
    assert "\\[12\\]" in out and "\\[2025\\]" in out


def test_errors_are_one_escaped_line():
    shown = render.error_markdown("bad\n  <b>index</b>")
    assert 'class="error"' in shown and "\n" not in shown and "<b>" not in shown and "&lt;b&gt;" in shown


def test_the_status_line_shows_the_query_searched_as_text():
    line = render.status_html("Recherche…", "fr", query="<script>x</script>", busy=True)
    assert 'class="rag-status busy ' in line and "<script>" not in line
    assert text_of(line) == "Recherche…Recherche effectuée pour : <script>x</script>"
    assert render.status_html() == '<div class="rag-status"></div>'


def test_the_scope_note_says_what_the_search_is_restricted_to():
    assert render.scope_note(Scope(docs=frozenset({"a", "b"}), start="2024-04"), "en") == \
        "Search restricted: 2 chosen article(s), 2024-04 → …."
    assert render.scope_note(None, "fr") == ""


def test_notes_are_escaped_lines():
    note = render.note_html(["a.exe: refused", "<b>x</b>"], "error")
    assert note == '<div class="corpus-note error"><div>a.exe: refused</div><div>&lt;b&gt;x&lt;/b&gt;</div></div>'


# ---- sources --------------------------------------------------------------------------------
# A long paragraph: sentences far apart in it show different stretches (cut around them), and an
# unread paragraph between two stretches keeps them apart.
LONG = ("Un long article\n" + " ".join(f"Phrase {i} du paragraphe." for i in range(40)) + "\n"
        + "Un paragraphe que personne n'a lu, assez long pour séparer deux passages. " * 8 + "\nFin.\n")
LONG_DOCS = {"long.txt": Document("long.txt", LONG, "1" * 64)}


def long_evidence(n: int, i: int) -> Evidence:
    sentence = f"Phrase {i} du paragraphe."
    start = LONG.index(sentence)
    return Evidence(n, "long.txt", f"long.txt#{n}", start, start + len(sentence), sentence, 0.9)


def citation(n: int, e: Evidence) -> dict:
    return {"n": n, "evidence": e.n, "doc": e.doc, "start": e.start, "end": e.end, "text": e.text}


def card_texts(panel: str) -> list[str]:
    return [text_of(t) for t in re.findall(r'<div class="src-text">(.*?)</div>', panel)]


def test_highlight_escapes_around_the_spans():
    assert render.highlight("a<b>c&d", [(1, 4, ' id="art-1"')]) == 'a<mark id="art-1">&lt;b&gt;</mark>c&amp;d'
    assert render.highlight("x", []) == "x"


def test_a_card_shows_the_title_date_source_and_the_cited_span_in_its_paragraph():
    start = ARTICLE.index(SPAN)
    [card] = cards.cards([cards.Sentence("zj.html", start, start + len(SPAN), SPAN, 1)], {"zj.html": ARTICLE})
    html_ = render.card_html(card, DOCS, "fr", cls="cited", describe=describe)
    assert html_.startswith('<div class="src-card cited" id="src-1" data-cites="1">')
    assert '<span class="src-n">1</span>' in html_
    assert '<span class="src-title" title="Le Zhejiang &lt;b&gt;innove&lt;/b&gt;">' in html_    # article markup is text
    assert "<b>" not in html_ and "<i>" not in html_
    meta = re.search(r'<div class="src-meta">(.*?)</div>', html_).group(1)
    assert text_of(meta) == "2024-04-12 · Xinhua <i> · p. 2 · aussi publié par Le Monde, Reuters"
    paragraph = re.search(r'<div class="src-text">(.*?)</div>', html_).group(1)
    assert paragraph == f'Au total, <mark data-cite="1">{html.escape(SPAN)}</mark> Elle vise 200 membres.'
    assert f'<mark id="art-1">{html.escape(SPAN)}</mark>' in html_             # the whole article, highlighted too
    assert text_of(html_).count("Voir l'article entier") == 1


def test_a_card_finds_the_snippet_when_offsets_are_off():
    text = "Titre\nAvant. Le chiffre est 91. Après."
    [card] = cards.cards([cards.Sentence("d", 0, 3, "Le chiffre est 91.", 2)], {"d": text})
    shown = render.card_html(card, {"d": Document("d", text, "0")}, "en")
    assert '<mark data-cite="2">Le chiffre est 91.</mark>' in shown and 'id="src-2"' in shown
    [gone] = cards.cards([cards.Sentence("gone.txt", 0, 3, "seul <texte>")], {})
    missing = render.card_html(gone, {}, "en")
    assert "seul &lt;texte&gt;" in missing and "gone.txt" in missing and "<mark" not in missing


def test_evidence_cards_come_before_the_answer_unmarked():
    panel = render.evidence_html([evidence(1, SPAN)], DOCS, "en", describe)
    assert text_of(panel).startswith("Passages found: the ones the answer cites will come first, numbered.")
    assert re.search(r'<div class="src-text">(.*?)</div>', panel).group(1) == \
        html.escape(f"Au total, {SPAN} Elle vise 200 membres.")
    assert 'class="src-n"' not in panel, "nothing is cited yet: no number"


def test_two_overlapping_passages_of_an_article_are_one_card_with_their_union():
    read = [long_evidence(1, 5), long_evidence(2, 12)]
    alone = [card_texts(render.evidence_html([e], LONG_DOCS, "fr"))[0] for e in read]
    assert alone[0] != alone[1] and alone[1].removeprefix("…")[:40] in alone[0], "the two stretches overlap"
    [union] = card_texts(render.evidence_html(read, LONG_DOCS, "fr"))
    assert union.startswith(alone[0].removesuffix("…")) and union.endswith(alone[1].removeprefix("…"))


def test_the_same_sentence_read_twice_is_one_card():
    assert len(card_texts(render.evidence_html([evidence(1, SPAN), evidence(2, "Elle vise 200 membres.")],
                                               DOCS, "fr"))) == 1


def test_a_cited_sentence_inside_a_merged_card_is_highlighted():
    read = [long_evidence(1, 5), long_evidence(2, 12)]
    answer = SimpleNamespace(refused=False, answer="Phrase 12 [1].", citations=[citation(1, read[1])])
    panel = render.sources_html(answer, read, LONG_DOCS, "fr")
    [card] = re.findall(r'<div class="src-card cited".*?</details></div>', panel, re.DOTALL)
    assert re.findall(r'<mark data-cite="1">(.*?)</mark>', card) == ["Phrase 12 du paragraphe."]
    assert "Phrase 5 du paragraphe." in text_of(card) and '<details class="others">' not in panel


def test_passages_of_one_article_far_apart_stay_two_cards():
    panel = render.evidence_html([long_evidence(1, 2), long_evidence(2, 39)], LONG_DOCS, "fr")
    first, second = card_texts(panel)
    assert "Phrase 2 du" in first and "Phrase 39" not in first and "Phrase 39 du" in second


def test_final_sources_put_the_cited_first_and_the_others_folded():
    read = [long_evidence(1, 2), long_evidence(2, 39), evidence(3, SPAN)]
    answer = SimpleNamespace(refused=False, answer="91 [1]. 39 [2].",
                             citations=[citation(1, read[2]), citation(2, read[1])])
    panel = render.sources_html(answer, read, {**DOCS, **LONG_DOCS}, "en", describe)
    assert text_of(panel).startswith("Cited sources")
    cited, others = panel.split('<details class="others">')
    assert re.findall(r'data-cites="(\d+)"', cited) == ["1", "2"], "in citation order"
    assert re.findall(r'<mark data-cite="\d">(.*?)</mark>', cited) == [html.escape(SPAN), "Phrase 39 du paragraphe."]
    assert text_of(others).startswith("Other passages read (1)") and "Phrase 2 du" in text_of(others)
    assert "data-cites" not in others and "<mark data-cite" not in others


def test_two_cited_sentences_in_one_card_are_both_found_by_their_number():
    read = [long_evidence(1, 5), long_evidence(2, 12)]
    answer = SimpleNamespace(refused=False, answer="[1] [2].", citations=[citation(1, read[1]), citation(2, read[0])])
    panel = render.sources_html(answer, read, LONG_DOCS, "en")
    assert panel.count('class="src-card') == 1
    assert 'id="src-1" data-cites="1 2"' in panel and '<span class="src-n">1, 2</span>' in panel
    assert 'id="art-1"' in panel and 'id="art-2"' in panel         # each [n] opens the article at its sentence


def test_a_refusal_shows_why_and_the_closest_passages():
    answer = SimpleNamespace(refused=True, answer="Les articles ne donnent pas <ce> chiffre.", citations=[], lang="fr")
    panel = render.sources_html(answer, [evidence(1, SPAN)], DOCS, "fr", describe)
    assert text_of(panel).startswith("🚫 Les articles ne le disent pasLes articles ne donnent pas <ce> chiffre.")
    assert "Passages les plus proches (aucun ne répond)" in text_of(panel) and 'class="src-card other"' in panel
    assert "<mark" not in panel.split('<details class="article">')[0]


def test_a_refusal_in_the_other_language_keeps_the_panel_in_the_pages():
    answer = SimpleNamespace(refused=True, answer="The articles don't say: no passage mentions 12.", citations=[],
                             lang="en")
    panel = text_of(render.sources_html(answer, [evidence(1, SPAN)], DOCS, "fr", describe))
    assert panel.startswith("🚫 Les articles ne le disent pasPassages les plus proches") and "don't" not in panel


def test_a_refusal_marks_the_closest_sentence_first_and_folds_the_others():
    read = [long_evidence(1, 2), evidence(2, SPAN)]
    closest = {**citation(2, read[1]), **META}
    answer = SimpleNamespace(refused=True, answer="Les articles ne le disent pas : aucune phrase ne l'énonce.",
                             citations=[], lang="fr", closest=closest)
    panel = render.sources_html(answer, read, {**DOCS, **LONG_DOCS}, "en", describe)
    first, _, others = panel.partition('<details class="others">')
    assert text_of(first).startswith("🚫 The articles don't sayThe closest sentence (it does not answer):")
    assert first.count('class="src-card') == 1 and '<div class="src-card closest">' in first
    assert re.search(r'<div class="src-text">(.*?)</div>', first).group(1) == \
        f'Au total, <mark class="closest">{html.escape(SPAN)}</mark> Elle vise 200 membres.'
    assert text_of(others).startswith("Other passages read (1)") and "Phrase 2 du" in text_of(others)
    assert "data-cite" not in panel and 'class="src-n"' not in panel, "a refusal cites nothing"


def test_a_refusal_bubble_quotes_the_closest_sentence_as_text():
    closest = {"doc": "zj.html", "start": 0, "end": 5, "text": "Le <b>chiffre</b>\n est 91.", "title": "Le *Zhejiang*"}
    bubble = render.refusal_markdown("The articles don't say: no sentence states it.", closest, "en")
    refusal, label, quote = bubble.split("\n\n")
    assert refusal == '<span class="refusal">🚫 The articles don\'t say\\: no sentence states it\\.</span>'
    assert label == "The closest sentence \\(it does not answer\\)\\:"
    assert quote == "> Le &lt;b&gt;chiffre&lt;/b&gt; est 91\\.\n>\n> — *Le \\*Zhejiang\\**", "data, never markup"
    assert render.refusal_markdown("Rien.") == '<span class="refusal">🚫 Rien\\.</span>'


def test_markdown_copy_of_a_refusal_quotes_the_closest_sentence():
    closest = {"n": 3, "doc": "zj.txt", "text": "Elle vise\n200 membres.", "title": "Le Zhejiang", "date": "2024-04-12",
               "source": "", "start": 0, "end": 5}
    answer = SimpleNamespace(answer="Les articles ne le disent pas.", citations=[], refused=True, closest=closest)
    assert render.copy_markdown(answer, "fr") == ("Les articles ne le disent pas.\n\n**La phrase la plus proche (elle ne "
                                                  "répond pas) :**\n\nLe Zhejiang — 2024-04-12\n> Elle vise 200 membres.\n")


def test_markdown_copy_holds_the_answer_and_its_dated_sources():
    cite = {"n": 1, "doc": "zj.txt", "text": "91 entreprises\nmembres", "title": "Le Zhejiang", "date": "2024-04-12",
            "source": "Xinhua", "url": "https://x.example/a", "start": 0, "end": 5}
    answer = SimpleNamespace(answer="91 entreprises [1].", citations=[cite])
    md = render.copy_markdown(answer, "en")
    assert md == ("91 entreprises [1].\n\n**Sources**\n\n[1] Le Zhejiang — 2024-04-12 — Xinhua <https://x.example/a>\n"
                  "> 91 entreprises membres\n")


# ---- the corpus panel -------------------------------------------------------------------------
def test_corpus_search_ignores_case_and_accents_and_keeps_text_plain():
    rows = [{"id": "a.html", "title": "Pékin <b>lance</b> un plan", "date": "2024-04-12", "source": "Xinhua",
             "passages": 3, "also": ["Le Monde"]},
            {"id": "b.txt", "title": "Ningbo record", "date": "", "source": "", "passages": 1, "also": []}]
    assert render.corpus_table(rows, "PEKIN") == [["2024-04-12", "Pékin <b>lance</b> un plan", "Xinhua (+1)", 3]]
    assert render.corpus_table(rows, "") [1] == ["—", "Ningbo record", "b.txt", 1]
    assert render.corpus_choices(rows)[0] == ("2024-04-12 · Pékin <b>lance</b> un plan", "a.html")
