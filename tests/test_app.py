"""The web chat's event handling, on a real ``Pipeline`` with the fake models over the seeds
(fast), and ``serve``. Assertions are on what the page shows: the chat bubbles, the status line
and the sources panel (each rendering function alone: test_render.py)."""

from __future__ import annotations

import html
import re

import gradio as gr
import pytest

from conftest import FakeGenerator, FakeReader, page_config

from rag.web import app, handlers, render, strings

QUESTION = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
ANSWER = "Au total, 91 entreprises ont rejoint l'association."   # the model's reply; the app cites it
ZHEJIANG = "000_00be9f381121e8cb.txt"
XSS = '<script>window.__xss=true</script> <img src=x onerror="window.__xss=true">'


def run(pipeline, question=QUESTION, chat=None, history=None, lang="auto"):
    chat, *_ = handlers.add_question(question, chat or [], lang)
    return list(handlers.answer_turn(pipeline, question, chat, history or [], lang))


def bot(step) -> str:
    """The answer's bubble in a step's chat ("" while there is none yet)."""
    last = step[0][-1]
    return last["content"] if last["role"] == "assistant" else ""


def text_of(fragment: str) -> str:
    """What a browser shows for an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def sources_of(step) -> str:
    return step[2] if isinstance(step[2], str) else ""


def cited(step) -> int:
    """The number of the source the final answer cites (a link to its card)."""
    return int(re.search(r'<a href="#src-(\d+)" class="cite">\[\1\]</a>', bot(step)).group(1))


@pytest.fixture
def pipe(make_pipeline):
    return make_pipeline(ANSWER)


# ---- streaming ------------------------------------------------------------------------------
def test_answer_streams_in_growing_pieces(pipe):
    steps = run(pipe)
    partial = [bot(s) for s in steps if bot(s).endswith(render.CURSOR)]
    assert len(partial) >= 4
    lengths = [len(text_of(p)) for p in partial]
    assert lengths == sorted(lengths) and len(set(lengths)) >= 4
    final = bot(steps[-1])
    assert not final.endswith(render.CURSOR)
    n = cited(steps[-1])
    assert f'<a href="#src-{n}" class="cite">[{n}]</a>' in final and "91 entreprises" in text_of(final)


def test_sources_are_shown_before_the_first_token(pipe, corpus):
    steps = run(pipe)
    assert not bot(steps[0])                                    # no empty bubble while searching
    first_token = next(i for i, s in enumerate(steps) if bot(s))
    sentence = html.unescape(re.search(rf'<mark data-cite="{cited(steps[-1])}">(.*?)</mark>',
                                       sources_of(steps[-1])).group(1))
    shown = [i for i, s in enumerate(steps) if sentence in text_of(sources_of(s))]
    assert shown and shown[0] < first_token, "the cited sentence was shown before the answer"
    title = (corpus / ZHEJIANG).read_text(encoding="utf-8").splitlines()[0]
    assert "91 entreprises" in text_of(sources_of(steps[shown[0]]))
    assert html.escape(title[:60]) in sources_of(steps[shown[0]])          # the article's title


def test_status_line_follows_the_answer(pipe):
    steps = run(pipe)
    statuses = [text_of(s[1]) for s in steps]
    assert any("Recherche dans les articles" in s for s in statuses)
    assert re.search(r"Répondu en \d+\.\d s \(sources après \d+\.\d s\)", statuses[-1])
    assert "Recherche effectuée pour" not in statuses[-1]       # the question itself is not repeated


def test_final_sources_highlight_the_cited_span_and_hold_the_whole_article(pipe, corpus):
    last = run(pipe)[-1]
    sources, n = sources_of(last), cited(last)
    assert n == 1, "the first source the answer names is [1]"
    card = re.search(rf'<div class="src-card cited" id="src-{n}" data-cites="{n}">.*?<mark data-cite="{n}">(.*?)</mark>',
                     sources, re.DOTALL)
    assert card and "91 entreprises" in html.unescape(card.group(1))
    article = (corpus / ZHEJIANG).read_text(encoding="utf-8")
    assert '<details class="article">' in sources and f'<mark id="art-{n}">' in sources
    assert html.escape(article.strip().splitlines()[-1][-80:]) in sources   # the rest of the article is there
    assert ZHEJIANG in sources


def test_refusal_has_its_own_look(make_pipeline):
    last = run(make_pipeline("Les articles ne mentionnent pas ce chiffre."))[-1]
    assert 'class="refusal"' in bot(last) and "Les articles ne le disent pas" in text_of(bot(last))
    assert 'class="banner refused"' in sources_of(last) and "La phrase la plus proche" in text_of(sources_of(last))
    assert "refused" in last[1] and "Pas de réponse" in text_of(last[1])
    assert "<a " not in bot(last)


def test_a_refusal_quotes_the_closest_sentence_in_the_chat_and_marks_it_in_the_sources(make_pipeline):
    pipe = make_pipeline(reader=FakeReader(prefer="siège de l’association", p=0.1))
    last = run(pipe, question="Quelle couleur a le drapeau de Hangzhou ?")[-1]
    sentence = "Le siège de l’association est établi dans la ville de Hangzhou"
    shown = text_of(bot(last)).replace("\\", "")       # the bubble's markdown, its escapes dropped
    refusal, label, quote = shown.split("\n\n")
    assert refusal.startswith("🚫 Les articles ne le disent pas : aucune phrase des articles ne l'énonce")
    assert label == "La phrase la plus proche (elle ne répond pas) :" and quote.startswith(f"> {sentence}")
    kept = last[4]["1"]          # the answer as rated (--json's fields)
    assert kept["closest"]["doc"] == ZHEJIANG and kept["closest"]["title"].startswith("La province chinoise du Zhejiang")
    assert quote.endswith(f"> — *{kept['closest']['title']}*") and "<a " not in bot(last), \
        "quoted with its article's title, citing nothing"
    panel = sources_of(last)
    closest, _, others = panel.partition('<details class="others">')
    assert re.findall(r'<mark class="closest">(.*?)</mark>', closest.split('<details class="article">')[0]) == \
        [html.escape(sentence + ", capitale de la province du Zhejiang, réputée pour ses institutions académiques et "
                                "ses parcs industriels de haute technologie.")]
    assert '<div class="src-card closest"' in closest and closest.count('class="src-card') == 1
    assert text_of(others).startswith("Autres passages lus") and 'data-cite' not in panel
    assert "La phrase la plus proche (elle ne répond pas) :" in last[5] and f"> {sentence}" in last[5], \
        "the Markdown copy quotes it too"
    assert pipe.generator.prompts == [], "refused on the reader's probability: nothing was written"


def test_the_chat_in_extract_mode_never_loads_the_llm(monkeypatch, tmp_path, corpus, fake_embedder):
    """RAG_ANSWER=extract: the page is built, warmed up and answers with no LLM at all."""
    from conftest import TEST_GATE

    from rag.pipeline import Pipeline
    from rag.settings import Settings

    def no_llm(settings):
        raise AssertionError("the LLM was loaded")

    monkeypatch.setattr("rag.pipeline.parts.generator", no_llm)
    settings = Settings.load(env={"RAG_ANSWER": "extract"}, corpus=corpus, index=tmp_path / "index", min_score=0.0)
    pipe = Pipeline(settings, embedder=fake_embedder, gate_model=TEST_GATE, reader=FakeReader())
    pipe.warm_up()
    app.build_app(pipe)
    assert text_of(bot(run(pipe)[-1])) == "91 [1]"


def test_extract_mode_answers_with_the_readers_words_without_the_llm(make_pipeline):
    pipe = make_pipeline(answer="extract")
    steps = run(pipe)
    assert not any(bot(s).endswith(render.CURSOR) for s in steps), "nothing streams: the answer comes whole"
    last = steps[-1]
    assert text_of(bot(last)) == "91 [1]" and cited(last) == 1
    assert re.search(r'<mark data-cite="1">.*91 entreprises', sources_of(last))
    statuses = [text_of(s[1]) for s in steps]
    assert not any("Rédaction" in s or "Vérification" in s for s in statuses) and "Répondu en" in statuses[-1]
    assert pipe.generator.prompts == [] and last[4]["1"]["reader"]["span"] == "91"
    follow = run(pipe, question="Et combien de membres vise-t-elle ?", chat=last[0], history=last[3])[-1]
    assert pipe.generator.prompts == [], "a follow-up is searched as asked: no LLM rewrites it"
    assert [m["role"] for m in follow[0]] == ["user", "assistant", "user", "assistant"]


def test_answer_in_the_wrong_language_is_replaced_in_the_chat(make_pipeline):
    replies = iter(["In total, 91 companies joined the association.", ANSWER])
    steps = run(make_pipeline(lambda messages: next(replies)))
    restart = next(i for i, s in enumerate(steps) if "bonne langue" in s[1])
    assert bot(steps[restart]) == ""
    assert "91 companies" in text_of(bot(steps[restart - 1]))
    assert all("companies" not in bot(s) for s in steps[restart:])
    assert "91 entreprises" in text_of(bot(steps[-1]))


# ---- data, never markup -----------------------------------------------------------------------
def test_passages_titles_and_questions_are_escaped(make_pipeline, corpus):
    (corpus / "x<b>.txt").write_text(f"Lyon {XSS} titre\nLe musée de Lyon {XSS} expose 37 automates anciens.\n",
                                     encoding="utf-8")
    pipe = make_pipeline(f"{XSS} Le musée de Lyon expose 37 automates.")
    steps = run(pipe, question=f"Combien d'automates le musée de Lyon expose-t-il ? {XSS}")
    for chat, status, sources, *_ in steps:
        for fragment in [m["content"] for m in chat] + [status] + ([sources] if isinstance(sources, str) else []):
            assert "<script" not in fragment and "<img" not in fragment and "<b>" not in fragment
    sources = sources_of(steps[-1])
    assert "&lt;script&gt;window.__xss=true&lt;/script&gt;" in sources         # the title and the snippet
    assert "x&lt;b&gt;.txt" in sources
    assert "<script>" in text_of(steps[-1][0][0]["content"])                    # the question, shown as text
    assert "<script>" in text_of(bot(steps[-1])) and "37 automates" in text_of(bot(steps[-1]))


# ---- conversation ----------------------------------------------------------------------------
def test_follow_ups_are_answered_in_the_conversation(make_pipeline):
    def reply(messages):
        if "Standalone question" in messages[-1]["content"]:
            return "Combien de membres l'association vise-t-elle d'atteindre au total ?"
        return "L'association vise 200 membres." if "vise" in messages[-1]["content"] else ANSWER

    pipe = make_pipeline(reply)
    first = run(pipe)[-1]
    chat, history = first[0], first[3]
    assert history == [{"role": "user", "content": QUESTION},
                       {"role": "assistant", "content": ANSWER.replace(".", f" [{cited(first)}].")}]
    second = run(pipe, question="Et combien de membres vise-t-elle ?", chat=chat, history=history, lang="fr")[-1]
    assert [m["role"] for m in second[0]] == ["user", "assistant", "user", "assistant"]
    assert "200 membres" in text_of(bot(second))
    assert "Recherche effectuée pour : Combien de membres l'association" in text_of(second[1])
    assert len(second[3]) == 4


def test_pipeline_errors_are_one_line_in_the_chat(make_pipeline, tmp_path, fake_embedder):
    make_pipeline().ask(QUESTION)                  # the index, built with the fake embedder
    fake_embedder.model_id = "another-model"      # as if RAG_EMBED_MODEL changed since
    last = run(make_pipeline())[-1]
    assert 'class="error"' in bot(last) and "\n" not in bot(last)
    assert "run \\`rag index\\` to re\\-embed" in bot(last) and "Traceback" not in bot(last)
    assert "error" in last[1]


class BrokenGenerator(FakeGenerator):
    def stream(self, messages, max_tokens, prefix=""):
        raise ValueError("secret internals")


def test_unexpected_errors_show_no_traceback(make_pipeline, capsys):
    pipe = make_pipeline()
    pipe._generator = BrokenGenerator()
    last = run(pipe)[-1]
    assert "ValueError" in bot(last) and "secret internals" not in bot(last)
    assert "secret internals" in capsys.readouterr().err


class WatchedGenerator(FakeGenerator):
    """Records whether the model was still generating when the reader went away."""

    def __init__(self, reply):
        super().__init__(reply)
        self.stopped_early = 0

    def stream(self, messages, max_tokens, prefix=""):
        response = super().stream(messages, max_tokens, prefix)
        pieces = response._pieces

        def watched():
            done = False
            try:
                yield from pieces
                done = True
            finally:
                self.stopped_early += not done
        response._pieces = watched()
        return response


def test_stopping_stops_the_model_and_marks_the_answer(make_pipeline):
    pipe = make_pipeline()
    pipe._generator = WatchedGenerator(ANSWER)
    chat, *_ = handlers.add_question(QUESTION, [], "en")
    turn = handlers.answer_turn(pipe, QUESTION, chat, [], "en")
    steps = [step for step, _ in zip(turn, range(6))]
    assert bot(steps[-1]).endswith(render.CURSOR)
    turn.close()
    assert pipe.generator.stopped_early == 1
    chat, status = handlers.stop_turn(steps[-1][0], "en")
    assert chat[-1]["content"].endswith("*\\(stopped\\)*") and render.CURSOR not in chat[-1]["content"]
    assert "Stopped." in status
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "91 entreprises" + render.CURSOR}]}]
    assert handlers.stop_turn(parts, "fr")[0][-1]["content"] == "91 entreprises *\\(arrêté\\)*"
    assert "91 entreprises" in run(pipe)[-1][0][-1]["content"]   # the next question is answered


def test_empty_questions_are_ignored(pipe):
    chat, box, status, pending = handlers.add_question("   ", [], "auto")
    assert chat == [] and pending == ""
    assert list(handlers.answer_turn(pipe, pending, chat, [], "auto")) == []
    assert pipe.generator.prompts == []


def test_question_is_shown_at_once_with_a_waiting_status():
    chat, box, status, pending = handlers.add_question("  How much?  ", [], "en")
    assert chat == [{"role": "user", "content": "How much?"}] and box == "" and pending == "How much?"
    assert "waiting" in status and "busy" in status


def test_new_conversation_clears_everything():
    chat, status, sources, history, box, pending, answers, markdown, turn = handlers.new_conversation("en")
    assert chat == [] and history == [] and box == "" and pending == "" and answers == {} and markdown == ""
    assert turn is None
    assert "will appear here" in sources and status == render.status_html()


def test_labels_follow_the_language_setting():
    header, chat, box, send, *_, sources = handlers.relabel("en", render.empty_sources("fr"))
    assert "Questions about the articles" in header and send["value"] == "Send"
    assert "will appear here" in sources
    header, *_ , sources = handlers.relabel("auto", "<div>kept</div>")
    assert "Questions sur les articles" in header and sources == "<div>kept</div>"


def test_weak_evidence_is_refused_with_the_closest_passages(make_pipeline):
    pipe = make_pipeline(ANSWER, min_score=0.99)
    steps = run(pipe, question="Quelle est la population de Fuzhou ?")
    assert "Passages trouvés" in text_of(sources_of(steps[1]))
    last = steps[-1]
    assert 'class="banner refused"' in sources_of(last) and 'class="src-card other"' in sources_of(last)
    assert pipe.generator.prompts == []


@pytest.mark.parametrize("setting,browser,ui", [("auto", "", "fr"), ("fr", "en-US", "fr"), ("en", "fr-FR", "en"),
                                                (None, None, "fr"), ("auto", "en-GB", "en"), ("auto", "de-DE", "fr"),
                                                ("auto", "fr-CA", "fr")])
def test_ui_language_is_the_setting_else_the_browsers(setting, browser, ui):
    assert strings.ui_lang(setting, browser) == ui


def test_one_interface_language_whatever_the_answer_language(make_pipeline):
    # The answer follows the question; the page (status, sources panel) stays in its own language.
    # The reader's sentence (an English question over French articles: the fake reader is told which).
    pipe = make_pipeline("In total, 91 companies joined the Zhejiang metaverse association.",
                         reader=FakeReader(prefer="91 entreprises"))
    question = "How many companies joined the Zhejiang metaverse association?"
    steps = run(pipe, question=question, lang="fr")
    last = steps[-1]
    assert "91 companies" in text_of(bot(last))
    assert "Répondu en" in last[1] and "Sources citées" in last[2] and "Voir l'article entier" in text_of(last[2])
    statuses = [text_of(s[1]) for s in steps]
    for french in ("Recherche dans les articles…", "Rédaction…", "Vérification…"):
        assert any(french in s for s in statuses), (french, statuses)
    assert any(re.search(r"Lecture de \d+ phrase\(s\)…", s) for s in statuses)
    assert not any(re.search(r"Searching|Reading|Writing|Checking", s) for s in statuses)
    status, sources = handlers.redraw(pipe, last[6], "en")            # the page's switch: the same answer
    assert "Answered in" in status and "Cited sources" in sources and "Open the whole article" in sources
    assert text_of(bot(last)) == text_of(bot(run(pipe, question=question, lang="en")[-1]))
    last = run(pipe, question=question, lang="en")[-1]
    assert "Answered in" in last[1] and "Cited sources" in last[2] and "Open the whole article" in last[2]
    assert handlers.redraw(pipe, None, "fr") == (gr.skip(), gr.skip())


def test_waits_show_the_seconds_elapsed(pipe):
    steps = run(pipe)
    busy = [s[1] for s in steps if "busy" in s[1]]
    clocks = [float(m) for s in busy for m in re.findall(r'class="elapsed" data-since="(\d+\.\d)"', s)]
    assert len(clocks) == len(busy) and clocks == sorted(clocks)
    assert 'class="elapsed"' not in steps[-1][1]            # the final line gives the total instead


# ---- serve -----------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def launches(monkeypatch, fake_models):
    """serve() with the fake models and no blocking server: records each launch's options."""
    launched: list[dict] = []

    def launch(self, **kwargs):
        pipe = fake_models[-1]
        launched.append({**kwargs, "index ready": (pipe.settings.index / "CURRENT").exists()})

    monkeypatch.setattr(gr.Blocks, "launch", launch)
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    return launched


def test_serve_loads_the_models_before_listening(launches, tmp_path, corpus, capsys):
    from rag.settings import Settings

    port = free_port()
    app.serve(Settings.load(env={}, corpus=corpus, index=tmp_path / "index"), host="127.0.0.1", port=port)
    assert len(launches) == 1 and launches[0]["index ready"]
    kwargs = launches[0]
    assert kwargs["server_name"] == "127.0.0.1" and kwargs["server_port"] == port
    assert kwargs["share"] is False and kwargs["inbrowser"] is False and kwargs["show_error"] is False
    assert kwargs["enable_monitoring"] is False and kwargs["mcp_server"] is False
    assert ".src-card.cited" in kwargs["css"] and 'a[href^="#src-"]' in kwargs["js"]    # rag/web/static
    assert capsys.readouterr().out == f"loading models…\nready on http://127.0.0.1:{port}\n"


def test_serve_says_when_the_port_is_taken(launches, monkeypatch, tmp_path, corpus):
    from rag.errors import RagError
    from rag.settings import Settings

    def busy(self, **kwargs):
        raise OSError("Cannot find empty port in range: 7860-7860.")

    monkeypatch.setattr(gr.Blocks, "launch", busy)
    with pytest.raises(RagError, match="--port"):
        app.serve(Settings.load(env={}, corpus=corpus, index=tmp_path / "index"), port=free_port())


def test_serve_checks_the_port_before_loading_the_models(launches, fake_models):
    import socket

    from rag.errors import RagError
    from rag.settings import Settings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RagError, match="--port"):
            app.serve(Settings.load(env={}), port=taken.getsockname()[1])
    assert launches == [] and fake_models == []


@pytest.mark.parametrize("lang, title, radio", [("en", "Questions about the articles", "en"),
                                                ("auto", "Questions sur les articles", "fr")])
def test_page_opens_in_the_configured_language(make_pipeline, lang, title, radio):
    """The page a browser loads (Gradio's /config): header and language switch from RAG_UI_LANG
    (under auto, the browser's Accept-Language relabels the page once it loads)."""
    config = page_config(make_pipeline(ui_lang=lang))
    values = [c.get("props", {}).get("value") for c in config["components"]]
    assert any(isinstance(v, str) and v.startswith(f"## {title}") for v in values)
    radios = [c["props"]["value"] for c in config["components"] if c.get("type") == "radio"]
    assert radios == [radio]
