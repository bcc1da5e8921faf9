"""The web chat's event handling and HTML rendering, against a scripted pipeline (fast)."""

from __future__ import annotations

import os
import re

import gradio as gr
import pytest
from conftest import FakeChatPipeline, scripted_answer

from rag import app
from rag.corpus import Document
from rag.errors import RagError
from rag.pipeline import Answer, Done, Retrieved, Status

QUESTION = "Combien d'entreprises ?"
XSS = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2">'


def run(pipeline, question=QUESTION, chat=None, history=None, lang="auto"):
    chat, *_ = app.add_question(question, chat or [], lang)
    return list(app.answer_turn(pipeline, question, chat, history or [], lang))


def bot(step) -> str:
    """The answer's bubble in a step's chat ("" while there is none yet)."""
    last = step[0][-1]
    return last["content"] if last["role"] == "assistant" else ""


def text_of(fragment: str) -> str:
    """What a browser shows for an HTML fragment: tags dropped, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


# ---- streaming ------------------------------------------------------------------------------
def test_answer_streams_in_growing_pieces(chat_pipeline):
    steps = run(chat_pipeline)
    partial = [bot(s) for s in steps if bot(s).endswith(app.CURSOR)]
    assert len(partial) >= 4
    lengths = [len(text_of(p)) for p in partial]
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths)
    final = bot(steps[-1])
    assert not final.endswith(app.CURSOR)
    assert '<a href="#src-1" class="cite">[1]</a>' in final and "91 entreprises" in text_of(final)


def test_sources_are_shown_before_the_first_token(chat_pipeline):
    steps = run(chat_pipeline)
    assert not bot(steps[0])                                    # no empty bubble while searching
    first_token = next(i for i, s in enumerate(steps) if bot(s))
    shown = [i for i, s in enumerate(steps) if isinstance(s[2], str) and 'id="src-1"' in s[2]]
    assert shown and shown[0] < first_token
    assert "91 entreprises" in text_of(steps[shown[0]][2])
    assert "La province du Zhejiang" in steps[shown[0]][2]       # the article title


def test_status_line_follows_the_pipeline_and_shows_the_rewritten_query():
    pipe = FakeChatPipeline(lambda q, h, lang: scripted_answer(question=q, query="Combien d'entreprises au Zhejiang ?"))
    steps = run(pipe)
    statuses = [text_of(s[1]) for s in steps]
    assert any("Recherche dans les articles" in s for s in statuses)
    assert any("Lecture de 1 passage(s)" in s for s in statuses)
    assert "Combien d'entreprises au Zhejiang ?" in statuses[-1]
    assert "Répondu en 1.5 s" in statuses[-1]
    plain = run(FakeChatPipeline(lambda q, h, lang: scripted_answer(question=q)))
    assert "Recherche effectuée pour" not in plain[-1][1]     # the question itself is not repeated


def test_final_sources_highlight_the_cited_span_and_hold_the_whole_article(chat_pipeline):
    sources = run(chat_pipeline)[-1][2]
    assert "<mark>L&#x27;association compte déjà 91 entreprises membres" in sources
    assert '<details class="article">' in sources and '<mark id="art-1">' in sources
    assert "Elle vise 200 membres" in sources                    # the rest of the article is there
    assert "zj.txt" in sources and 'id="src-1"' in sources


def test_refusal_has_its_own_look():
    refusal = "Les articles ne le disent pas : je n'ai trouvé aucun passage qui réponde à cette question."
    pipe = FakeChatPipeline(lambda q, h, lang: scripted_answer(question=q, answer=refusal, refused=True, tokens=[]))
    last = run(pipe)[-1]
    assert 'class="refusal"' in bot(last) and "Les articles ne le disent pas" in text_of(bot(last))
    assert 'class="banner refused"' in last[2]
    assert "refused" in last[1] and "Pas de réponse" in text_of(last[1])
    assert "<a " not in bot(last)


def test_restart_discards_the_streamed_text():
    pipe = FakeChatPipeline(lambda q, h, lang: scripted_answer(question=q, restart_after=3))
    steps = run(pipe)
    restart = next(i for i, s in enumerate(steps) if "bonne langue" in s[1])
    assert bot(steps[restart]) == ""
    assert "The association" in bot(steps[restart - 1])
    assert all("The association" not in bot(s) for s in steps[restart:])
    assert "91 entreprises" in text_of(bot(steps[-1]))


# ---- data, never markup -----------------------------------------------------------------------
def test_passages_titles_and_questions_are_escaped():
    text = f"{XSS} titre\nLe texte dit {XSS} et 91 entreprises.\n"
    snippet = f"Le texte dit {XSS} et 91 entreprises."
    pipe = FakeChatPipeline(lambda q, h, lang: scripted_answer(question=q, answer=f"{XSS} 91 [1]", doc_id="x<b>.txt",
                                                               text=text, snippet=snippet),
                            docs={"x<b>.txt": text})
    question = f"Quoi ? {XSS}"
    steps = run(pipe, question=question)
    for chat, status, sources, *_ in steps:
        for fragment in [m["content"] for m in chat] + [status] + ([sources] if isinstance(sources, str) else []):
            assert "<script" not in fragment and "<img" not in fragment and "<b>" not in fragment
    sources = steps[-1][2]
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in sources          # the title and the snippet
    assert "x&lt;b&gt;.txt" in sources
    assert "<script>" in text_of(steps[-1][0][0]["content"])                    # the question, shown as text
    assert "<script>" in text_of(bot(steps[-1]))


def test_markdown_and_latex_in_data_render_literally():
    md = app.md_text("**bold** _it_ [x](http://e.vil) $x$ # h `c` <i>")
    assert "**" not in md.replace("\\*", "") and "](" not in md.replace("\\]\\(", "")
    assert "<i>" not in md and "&lt;i&gt;" in md


def test_only_valid_citation_numbers_become_links():
    out = app.answer_markdown("a [1] b [3] c [12] en [2025]", {1, 3})
    assert '<a href="#src-1" class="cite">[1]</a>' in out and '<a href="#src-3" class="cite">[3]</a>' in out
    assert "src-12" not in out and "src-2025" not in out
    assert "\\[12\\]" in out and "\\[2025\\]" in out


def test_highlight_escapes_around_the_span():
    assert app.highlight("a<b>c&d", 1, 4, "art-1") == 'a<mark id="art-1">&lt;b&gt;</mark>c&amp;d'


def test_card_finds_the_snippet_when_offsets_are_off():
    docs = {"d": Document("d", "Titre\nAvant. Le chiffre est 91. Après.", "0")}
    card = app.card_html(2, "d", 0, 3, "Le chiffre est 91.", docs, "en")
    assert "<mark>Le chiffre est 91.</mark>" in card and 'id="src-2"' in card
    missing = app.card_html(3, "gone.txt", 0, 3, "seul <texte>", {}, "en")
    assert "seul &lt;texte&gt;" in missing and "gone.txt" in missing


# ---- conversation ----------------------------------------------------------------------------
def test_follow_ups_receive_the_previous_turns_as_text(chat_pipeline):
    first = run(chat_pipeline)[-1]
    chat, history = first[0], first[3]
    assert history == [{"role": "user", "content": QUESTION},
                       {"role": "assistant", "content": "L'association compte 91 entreprises [1]."}]
    run(chat_pipeline, question="Et Alibaba ?", chat=chat, history=history, lang="fr")
    call = chat_pipeline.calls[-1]
    assert call == {"question": "Et Alibaba ?", "history": history, "lang": "fr", "scope": None}


def test_pipeline_errors_are_one_line_in_the_chat():
    def boom(q, h, lang):
        yield Status("Recherche…")
        raise RagError("the index in '.rag/' was built with another model:\nrun rag index")

    last = run(FakeChatPipeline(boom))[-1]
    assert 'class="error"' in bot(last) and "\n" not in bot(last)
    assert "run rag index" in text_of(bot(last)) and "Traceback" not in bot(last)
    assert "error" in last[1]


def test_unexpected_errors_show_no_traceback(capsys):
    def boom(q, h, lang):
        raise ValueError("secret internals")
        yield

    last = run(FakeChatPipeline(boom))[-1]
    assert "ValueError" in bot(last) and "secret internals" not in bot(last)
    assert "secret internals" in capsys.readouterr().err


def test_stopping_closes_the_stream_and_marks_the_answer(chat_pipeline):
    chat, *_ = app.add_question(QUESTION, [], "en")
    turn = app.answer_turn(chat_pipeline, QUESTION, chat, [], "en")
    steps = [next(turn) for _ in range(5)]
    turn.close()
    assert chat_pipeline.closed == 1
    chat, status = app.stop_turn(steps[-1][0], "en")
    assert chat[-1]["content"].endswith("*\\(stopped\\)*") and app.CURSOR not in chat[-1]["content"]
    assert "Stopped." in status
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "91 entreprises" + app.CURSOR}]}]
    assert app.stop_turn(parts, "fr")[0][-1]["content"] == "91 entreprises *\\(arrêté\\)*"


def test_empty_questions_are_ignored(chat_pipeline):
    chat, box, status, pending = app.add_question("   ", [], "auto")
    assert chat == [] and pending == ""
    assert list(app.answer_turn(chat_pipeline, pending, chat, [], "auto")) == []
    assert chat_pipeline.calls == []


def test_question_is_shown_at_once_with_a_waiting_status():
    chat, box, status, pending = app.add_question("  How much?  ", [], "en")
    assert chat == [{"role": "user", "content": "How much?"}] and box == "" and pending == "How much?"
    assert "waiting" in status and "busy" in status


def test_new_conversation_clears_everything():
    chat, status, sources, history, box, pending, answers, markdown = app.new_conversation("en")
    assert chat == [] and history == [] and box == "" and pending == "" and answers == {} and markdown == ""
    assert "will appear here" in sources and status == app.status_html()


def test_labels_follow_the_language_setting():
    header, chat, box, send, *_, sources = app.relabel("en", app.empty_sources("fr"))
    assert "Questions about the articles" in header and send["value"] == "Send"
    assert "will appear here" in sources
    header, *_ , sources = app.relabel("auto", "<div>kept</div>")
    assert "Questions sur les articles" in header and sources == "<div>kept</div>"


def test_build_app_wires_a_serialised_streaming_chat(chat_pipeline):
    demo = app.build_app(chat_pipeline)
    assert isinstance(demo, gr.Blocks) and demo.analytics_enabled is False
    fns = list(demo.fns.values())
    generate = [f for f in fns if getattr(f.fn, "__name__", "") == "generate"]
    assert generate and all(f.concurrency_limit == 1 and f.queue for f in generate)
    assert len({f.concurrency_id for f in generate}) == 1
    cancelled = {i for f in fns for i in (f.cancels or [])}     # Stop and New conversation cancel them
    assert {f._id for f in generate} <= cancelled
    chatbots = [b for b in demo.blocks.values() if isinstance(b, gr.Chatbot)]
    assert chatbots and chatbots[0].sanitize_html


def test_default_language_comes_from_the_settings():
    demo = app.build_app(FakeChatPipeline(lambda q, h, lang: [], lang="en"))
    radio = next(b for b in demo.blocks.values() if isinstance(b, gr.Radio))
    assert radio.value == "en"


def test_no_evidence_says_so():
    def nothing(q, h, lang):
        yield Retrieved(q, "fr", [], [], 0.1)
        yield Done(Answer(question=q, lang="fr", answer="Les articles ne le disent pas.", refused=True,
                          citations=[], passages=[], timings={"total_s": 0.2}, prompt_tokens=0))

    steps = run(FakeChatPipeline(nothing))
    assert "Aucun passage" in steps[0][2]
    assert 'class="banner refused"' in steps[-1][2] and "src-card" not in steps[-1][2]


@pytest.mark.parametrize("setting,browser,ui", [("auto", "", "fr"), ("fr", "en-US", "fr"), ("en", "fr-FR", "en"),
                                                (None, None, "fr"), ("auto", "en-GB", "en"), ("auto", "de-DE", "fr"),
                                                ("auto", "fr-CA", "fr")])
def test_ui_language_is_the_setting_else_the_browsers(setting, browser, ui):
    assert app.ui_lang(setting, browser) == ui


def test_one_interface_language_whatever_the_answer_language():
    # Issue 13: an English answer no longer switches the sources panel to English under a French page.
    pipe = FakeChatPipeline(lambda q, h, lang: scripted_answer(question=q, answer="91 companies [1].", lang="en"))
    last = run(pipe, question="How many companies?", lang="auto")[-1]
    assert "Répondu en" in last[1] and "Sources citées" in last[2] and "Voir l'article entier" in text_of(last[2])
    chat, *_ = app.add_question("How many companies?", [], "auto", "en-US")
    last = list(app.answer_turn(pipe, "How many companies?", chat, [], "auto", "en-US"))[-1]
    assert "Answered in" in last[1] and "Cited sources" in last[2] and "Open the whole article" in last[2]


# ---- serve -----------------------------------------------------------------------------------
@pytest.fixture
def fake_launch(monkeypatch):
    """serve() with a scripted pipeline and no real server: records what happens, in order."""
    import rag.pipeline

    events: list = []

    class Pipe(FakeChatPipeline):
        def __init__(self, settings):
            super().__init__(lambda q, h, lang: [], lang=settings.lang)

        def warm_up(self):
            events.append("warm_up")

    def launch(self, **kwargs):
        events.append(("launch", kwargs))

    monkeypatch.setattr(rag.pipeline, "Pipeline", Pipe)
    monkeypatch.setattr(gr.Blocks, "launch", launch)
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: events.append("block"))
    monkeypatch.setattr(gr.Blocks, "close", lambda self: events.append("close"))
    return events


def test_serve_loads_the_models_before_listening(fake_launch, capsys):
    from rag.settings import Settings

    app.serve(Settings.load(env={}), host="127.0.0.1", port=7999)
    assert [e if isinstance(e, str) else e[0] for e in fake_launch] == ["warm_up", "launch", "block", "close"]
    kwargs = fake_launch[1][1]
    assert kwargs["server_name"] == "127.0.0.1" and kwargs["server_port"] == 7999
    assert kwargs["share"] is False and kwargs["inbrowser"] is False and kwargs["show_error"] is False
    assert kwargs["enable_monitoring"] is False and kwargs["mcp_server"] is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    out = capsys.readouterr().out
    assert out.index("loading models…") < out.index("ready on http://127.0.0.1:7999")


def test_serve_says_when_the_port_is_taken(fake_launch, monkeypatch):
    from rag.settings import Settings

    def busy(self, **kwargs):
        raise OSError("Cannot find empty port in range: 7999-7999.")

    monkeypatch.setattr(gr.Blocks, "launch", busy)
    with pytest.raises(RagError, match="--port"):
        app.serve(Settings.load(env={}), port=7999)


def test_serve_checks_the_port_before_loading_the_models(fake_launch):
    import socket

    from rag.settings import Settings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RagError, match="--port"):
            app.serve(Settings.load(env={}), port=taken.getsockname()[1])
    assert fake_launch == []
