"""The web chat's news features (issue 13), fast: sources with title/date/source, the corpus
panel (search, restrict, upload, remove), 👍/👎 with comments, Markdown copy, one language.
The chat consumes a real ``Pipeline`` with the fake models over the seeds."""

from __future__ import annotations

import html
import json
import re

import gradio as gr
import pytest
from conftest import TEST_GATE, FakeGenerator, FakeReader, page_config
from fixtures_news import HTML, write_pdf

from rag.web import handlers, render, strings
from rag.evaluation import feedback
from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings


def run(pipe, question="Combien d'entreprises ?", ui="fr", **kw):
    chat, *_ = handlers.add_question(question, [], ui)
    return list(handlers.answer_turn(pipe, question, chat, [], ui, **kw))


ZHEJIANG = "000_00be9f381121e8cb.txt"
QUESTION = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"


@pytest.fixture
def pipe(make_pipeline):
    return make_pipeline("91 entreprises ont rejoint l'association.")


def cards(sources: str) -> list[str]:
    """The article id of each source card shown."""
    return re.findall(r'<div class="src-card[^"]*"[^>]*>.*?<div class="src-doc">([^<]+)<', sources, re.DOTALL)


def test_sources_show_title_date_source_page_and_copies(pipe, corpus):
    meta = {"title": "x", "date": "2024-04-12", "source": "Xinhua <b>", "page": 2, "also": ["Le Monde", "Reuters"]}
    pipe.store.describe = lambda doc_id, start=None: meta        # as a dated PDF page with two wire copies
    sources = run(pipe, QUESTION)[-1][2]
    assert '<div class="src-meta"><span class="src-date">2024-04-12</span> · <span class="src-source">Xinhua &lt;b&gt;' \
           '</span> · p. 2 · <span class="src-also">aussi publié par Le Monde, Reuters</span></div>' in sources
    title = (corpus / ZHEJIANG).read_text(encoding="utf-8").splitlines()[0]
    assert html.escape(title[:60]) in sources                   # the article's title


def test_what_is_unknown_of_a_source_is_left_out(pipe):
    pipe.store.describe = lambda doc_id, start=None: {"title": "x", "date": "", "source": ""}
    sources = run(pipe, QUESTION, ui="en")[-1][2]
    assert 'class="src-card cited"' in sources and "src-meta" not in sources and "src-date" not in sources


def test_questions_can_be_restricted_to_articles(pipe):
    steps = run(pipe, QUESTION, picked=["001_eff1faf9964d099f.txt"])
    assert "Recherche limitée : 1 article(s) choisi(s)" in steps[0][1]
    shown = cards(steps[-1][2])
    assert shown and set(shown) == {"001_eff1faf9964d099f.txt"}, "only the chosen article is searched"
    free = cards(run(pipe, QUESTION)[-1][2])
    assert ZHEJIANG in free, "unrestricted, the article that answers is found"


def test_questions_can_be_restricted_to_dates(pipe):
    steps = run(pipe, QUESTION, date_from="avril 2024", date_to="2024-06-30")
    assert "Recherche limitée : 2024-04 → 2024-06-30" in steps[0][1]
    assert "Les articles ne le disent pas" in html.unescape(steps[-1][0][-1]["content"]), \
        "no seed is dated: nothing is in that range"


def test_a_date_not_understood_is_one_line_and_asks_nothing(pipe):
    last = run(pipe, QUESTION, date_from="bientôt")[-1]
    shown = html.unescape(last[0][-1]["content"])
    assert 'class="error"' in shown and "Date non comprise" in shown and "bientôt" in shown
    assert pipe.generator.prompts == [] and pipe.reader.reads == []


def test_the_final_answer_fills_the_markdown_box_and_is_kept_for_rating(pipe):
    last = run(pipe, QUESTION)[-1]
    answers, markdown = last[4], last[5]
    [cited] = answers["1"]["citations"]
    assert f"91 entreprises ont rejoint l'association [{cited['n']}]." in markdown
    assert "> " + " ".join(cited["text"].split()) in markdown
    assert list(answers) == ["1"] and answers["1"]["question"] == QUESTION


def test_every_label_follows_the_one_interface_language():
    examples = strings.examples_for({"000_00be9f381121e8cb.txt", "001_eff1faf9964d099f.txt"})
    french = handlers.relabel("fr", render.empty_sources("en"), examples)
    english = handlers.relabel("en", render.empty_sources("fr"), examples)
    assert len(french) == len(strings.LABELS) + 1 + handlers.EXAMPLE_SLOTS + 1
    same = {name for (name, _), fr, en in zip(strings.LABELS, french, english) if fr == en}
    assert same <= {"chat", "corpus"}, "labels that do not change language"      # "Conversation", "Articles"
    assert handlers.relabel("auto", "") == handlers.relabel("fr", "")
    slots = english[len(strings.LABELS) + 1:-1]
    assert [s.get("value") for s in slots if s["visible"]] == examples["en"] and examples["en"]
    assert all(not s["visible"] for s in slots[len(examples["en"]):])
    assert [s.get("value") for s in french[len(strings.LABELS) + 1:-1] if s["visible"]] == examples["fr"]


def test_examples_are_offered_only_for_articles_in_the_index():
    assert strings.examples_for(set()) == {"fr": [], "en": []}
    hidden = handlers.relabel("fr", "", strings.examples_for({"news/other.txt"}))
    assert hidden[len(strings.LABELS)] == gr.update(visible=False)     # the examples' heading too


# ---- a real pipeline (fake models) over a temporary corpus ------------------------------------------
@pytest.fixture
def live(tmp_path, corpus, fake_embedder):
    settings = Settings.load(env={}, corpus=corpus, index=tmp_path / "index", min_score=0.0)
    reply = lambda messages: "35 millions [1]." if "Ningbo" in messages[-1]["content"] else "91 entreprises [1]."  # noqa: E731
    return Pipeline(settings, embedder=fake_embedder, generator=FakeGenerator(reply), gate_model=TEST_GATE,
                    reader=FakeReader())


def test_uploaded_files_are_checked_indexed_and_usable_at_once(live, tmp_path):
    assert len(live.store.articles()) == 5
    up = tmp_path / "incoming"
    up.mkdir()
    (up / "ningbo.html").write_text(HTML, encoding="utf-8")
    write_pdf(up / "rapport.pdf", ["La zone franche de Hainan a attire 1 200 entreprises etrangeres en 2022."])
    (up / "virus.exe").write_bytes(b"MZ\x90\x00")
    (up / "fake.pdf").write_text("<html>not a pdf</html>", encoding="utf-8")
    (up / "script.html").write_bytes(b"\x00\x01binary")
    note, rows, table, picked = handlers.upload_articles(live, [str(p) for p in sorted(up.iterdir())], "en")
    assert "2 file(s) added; index up to date: 7 articles." in note
    assert "virus.exe: refused, .exe is not an article format" in note
    assert "fake.pdf: refused, its content is not a .pdf file" in note
    assert "script.html: refused, it is binary" in note
    assert sorted(p.name for p in (live.settings.corpus / "uploads").iterdir()) == ["ningbo.html", "rapport.pdf"]
    assert any(r[1] == "Ningbo bat son record de conteneurs" and r[0] == "2024-01-15" for r in table)
    assert ("2024-01-15 · Ningbo bat son record de conteneurs", "uploads/ningbo.html") in picked["choices"]
    answer = live.ask("Combien de conteneurs le port de Ningbo a-t-il traités ?",
                      scope=handlers.make_scope(["uploads/ningbo.html"], "", "", "fr"))
    assert answer.citations[0]["doc"] == "uploads/ningbo.html" and answer.citations[0]["date"] == "2024-01-15"


def test_uploads_over_the_size_limit_are_refused(live, tmp_path, monkeypatch):
    import rag.ingest.uploads

    monkeypatch.setattr(rag.ingest.uploads, "MAX_UPLOAD_BYTES", 100)
    big = tmp_path / "big.txt"
    big.write_text("mot " * 100, encoding="utf-8")
    note, *_ = handlers.upload_articles(live, [str(big)], "fr")
    assert "big.txt: refused, 0.0 MB is over the 0 MB limit" in note and "error" in note
    assert not (live.settings.corpus / "uploads").exists()


def test_removing_an_article_takes_it_out_of_the_index_for_good(live):
    gone = "001_eff1faf9964d099f.txt"
    note, rows, table, picked = handlers.remove_chosen(live, [gone], "en")
    assert "1 article(s) removed from the index." in note
    assert gone not in {r["id"] for r in rows} and len(rows) == 4
    assert (live.settings.corpus / gone).exists(), "the file itself is left alone"
    live.refresh()
    assert gone not in live.store.docs, "a later build keeps it out"
    assert "First choose" in handlers.remove_chosen(live, [], "en")[0]


def test_likes_and_comments_are_stored_with_question_answer_sources_and_settings(live):
    steps = list(handlers.answer_turn(live, "Combien d'entreprises ont rejoint l'association ?",
                                 [{"role": "user", "content": "q"}], [], "fr"))
    answers = steps[-1][4]
    index = next(iter(answers))
    like = gr.LikeData(None, {"index": int(index), "value": "x", "liked": False})
    note, last, box, offer = handlers.rate(live, answers, like, "fr")
    assert "Qu&#x27;est-ce qui ne va pas" in note and last == {"index": index, "liked": False}
    assert box["visible"] and not offer["visible"], "a 👎 opens the comment box at once"
    note, text, box, offer = handlers.send_comment(live, answers, last, "  Il y a 91 entreprises.  ", "fr")
    assert "Commentaire enregistré" in note and text == "" and not box["visible"], "saved: the box closes"
    stored = [json.loads(x) for x in (live.settings.index / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["liked"] for s in stored] == [False, False] and stored[1]["comment"] == "Il y a 91 entreprises."
    entry = stored[1]
    assert entry["question"] == "Combien d'entreprises ont rejoint l'association ?" and entry["answer"]
    assert entry["citations"] and entry["citations"][0]["title"] and entry["passages"]
    assert entry["settings"]["top_k"] == "5" and entry["settings"]["min_score"] == "0.0"
    cases, _ = feedback.to_eval_cases(stored)
    assert cases[0]["answer"] == "Il y a 91 entreprises." and cases[0]["must_match"] == ["91"]
    note, last, box, offer = handlers.rate(live, answers, gr.LikeData(None, {"index": int(index), "value": "x",
                                                                            "liked": True}), "fr")
    assert "avis enregistré (👍)" in note and not box["visible"] and offer["visible"], "a 👍 offers a comment"
    assert handlers.rate(live, answers, gr.LikeData(None, {"index": 99, "value": "", "liked": True}), "fr") == \
        (gr.skip(),) * 4
    assert "Notez d&#x27;abord" in handlers.send_comment(live, answers, None, "x", "fr")[0]


def test_the_page_offers_upload_restrict_like_and_markdown(pipe):
    """What a browser loads (Gradio's /config): a multi-file upload of article formats only, a
    multi-choice article picker, a table of text cells, 👍/👎 on answers, all wired to events."""
    config = page_config(pipe)
    by_type = {}
    for c in config["components"]:
        by_type.setdefault(c.get("type"), []).append(c.get("props", {}))
    [upload] = by_type["file"]
    assert upload["file_count"] == "multiple" and ".pdf" in upload["file_types"] and ".exe" not in upload["file_types"]
    assert any(d.get("multiselect") for d in by_type["dropdown"])
    [table] = by_type["dataframe"]
    assert set(table["datatype"]) <= {"str", "number"}, "cells are text, never markup"
    [chatbot] = by_type["chatbot"]
    assert chatbot["feedback_options"]
    events = {target[1] for dependency in config["dependencies"] for target in dependency["targets"]}
    assert {"like", "upload", "load"} <= events


def test_pipeline_errors_in_scope_are_not_tracebacks():
    with pytest.raises(RagError, match="Date not understood"):
        handlers.make_scope([], "someday", "", "en")
    assert handlers.make_scope([], "", "", "en") is None
