"""The web chat: ``rag serve`` opens it on http://127.0.0.1:7860.

It only consumes ``Pipeline.ask_stream`` events: the evidence is shown as soon as it is
retrieved, the answer streams in with ``[n]`` links to its sources, and the sources panel ends
with each cited span highlighted in its article. This module is the page's wiring (``build_app``:
the components and which handler each event runs) and the server (``serve``); the handlers are
in ``handlers``, the HTML in ``render``, the words in ``strings``, the look and the page script
(a click on ``[n]`` opens its source) in ``static/chat.css`` and ``static/chat.js``.

Imports the pipeline and the rest of ``rag.web``.
"""

from __future__ import annotations

import socket
from importlib import resources

import gradio as gr

from rag.errors import RagError
from rag.web.auth import for_host
from rag.web.handlers import (add_question, answer_turn, new_conversation, rate, relabel, remove_chosen, send_comment,
                              show_corpus, stop_turn, upload_articles)
from rag.web.render import corpus_table, empty_sources, examples_title, header, status_html
from rag.web.strings import EXAMPLES, LABELS, LANG_CHOICES, UI, ui_lang


def _static(name: str) -> str:
    """A file of ``rag/web/static`` (package data: installed with the package)."""
    return resources.files("rag.web").joinpath("static", name).read_text(encoding="utf-8")


def build_app(pipeline) -> gr.Blocks:
    """The page on ``pipeline``: its components, in the configured language, and the handler each event runs."""
    lang0 = pipeline.settings.lang or "auto"
    ui0 = ui_lang(lang0)
    t = UI[ui0]
    from rag.ingest.formats import SUFFIXES

    with gr.Blocks(title="rag", analytics_enabled=False) as demo:
        c = {}
        c["header"] = gr.Markdown(header(t))
        history, pending = gr.State([]), gr.State("")
        # The browser's language, set by the page's load script (a State cannot be set from the browser).
        browser = gr.Textbox("", visible="hidden", elem_id="browser-lang")
        answers, last_rating, rows = gr.State({}), gr.State(None), gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                c["chat"] = chat = gr.Chatbot(label=t["chat"], elem_id="chat", height=520, latex_delimiters=[],
                                              buttons=["copy", "copy_all"], feedback_options=("Like", "Dislike"))
                status = gr.HTML(status_html(), elem_id="status", js_on_load=None)
                with gr.Row():
                    c["box"] = box = gr.Textbox(label=t["question"], placeholder=t["placeholder"], elem_id="question",
                                                scale=5, lines=1, max_lines=4, autofocus=True)
                    c["send"] = send = gr.Button(t["send"], variant="primary", elem_id="send", scale=1, min_width=90)
                    c["stop"] = stop = gr.Button(t["stop"], variant="stop", elem_id="stop", scale=1, min_width=90)
                with gr.Row():
                    c["new"] = new = gr.Button(t["new"], elem_id="new", size="sm")
                    c["lang"] = lang = gr.Radio(LANG_CHOICES, value=lang0, label=t["lang"], elem_id="lang")
                feedback_note = gr.HTML("", elem_id="feedback-note")
                with gr.Row():
                    c["comment"] = comment = gr.Textbox(label=t["feedback_comment"], elem_id="comment", scale=5,
                                                        lines=1, max_lines=3)
                    c["send_comment"] = comment_btn = gr.Button(t["send_comment"], elem_id="send-comment", scale=1,
                                                                size="sm")
                c["markdown"] = markdown = gr.Textbox(label=t["markdown"], elem_id="markdown", lines=3, max_lines=12,
                                                      interactive=False, buttons=["copy"])
                c["examples_title"] = gr.Markdown(examples_title(t))
                with gr.Row(elem_classes="examples"):
                    examples = [gr.Button(q, size="sm") for q in EXAMPLES]
            with gr.Column(scale=2):
                with gr.Accordion(t["corpus"], open=False, elem_id="corpus") as c["corpus"]:
                    c["search"] = search = gr.Textbox(label=t["search"], placeholder=t["search_ph"],
                                                      elem_id="corpus-search", lines=1)
                    c["table"] = table = gr.Dataframe(headers=t["columns"], datatype=["str", "str", "str", "number"],
                                                      interactive=False, elem_id="corpus-table", max_height=260,
                                                      wrap=True)
                    c["picked"] = picked = gr.Dropdown(choices=[], value=[], multiselect=True, label=t["restrict"],
                                                       elem_id="restrict")
                    with gr.Row():
                        c["date_from"] = date_from = gr.Textbox(label=t["date_from"], placeholder=t["date_ph"],
                                                                elem_id="date-from", lines=1)
                        c["date_to"] = date_to = gr.Textbox(label=t["date_to"], placeholder=t["date_ph"],
                                                            elem_id="date-to", lines=1)
                    c["upload"] = upload = gr.File(label=t["upload"], file_count="multiple", file_types=list(SUFFIXES),
                                                   type="filepath", elem_id="upload")
                    c["remove"] = remove = gr.Button(t["remove"], elem_id="remove", size="sm", variant="secondary")
                    corpus_note = gr.HTML("", elem_id="corpus-note")
                sources = gr.HTML(empty_sources(ui0), elem_id="sources", js_on_load=None)

        def generate(question, chat_, history_, lang_, browser_, picked_, from_, to_, answers_):
            yield from answer_turn(pipeline, question, chat_, history_, lang_, browser_, picked_, from_, to_, answers_)

        def upload_fn(files, lang_, browser_, picked_, progress=gr.Progress(track_tqdm=True)):
            return upload_articles(pipeline, files, lang_, browser_, picked_, progress)

        # One in-process model answers one user at a time; a server answers several.
        limit = pipeline.generator.concurrency
        answer_outputs = [chat, status, sources, history, answers, markdown]
        answer_inputs = [pending, chat, history, lang, browser, picked, date_from, date_to, answers]
        runs = []
        for trigger, source in [(box.submit, box), (send.click, box)] + [(b.click, b) for b in examples]:
            runs.append(
                trigger(add_question, [source, chat, lang, browser], [chat, box, status, pending], queue=False)
                .then(generate, answer_inputs, answer_outputs, concurrency_limit=limit, concurrency_id="answer",
                      show_progress="full", show_progress_on=[status]))
        # Cancel first, then tidy up: a last streamed update must not overwrite the "stopped" state.
        stop.click(None, cancels=runs, queue=False).then(stop_turn, [chat, lang, browser], [chat, status], queue=False)
        reset = [chat, status, sources, history, box, pending, answers, markdown]
        new.click(new_conversation, [lang, browser], reset, cancels=runs, queue=False)
        chat.clear(new_conversation, [lang, browser], reset, cancels=runs, queue=False)
        labelled = [c[name] for name, _ in LABELS] + [sources]
        lang.change(relabel, [lang, sources, browser], labelled, queue=False)
        # The browser's language, read once per page: the interface follows it under Auto.
        demo.load(lambda lang_, sources_, browser_: (browser_, *relabel(lang_, sources_, browser_)),
                  [lang, sources, browser], [browser, *labelled], queue=False,
                  js="(lang, sources, browser) => [lang, sources, navigator.language || '']")
        corpus_outputs = [rows, table, picked]
        demo.load(lambda: show_corpus(pipeline), None, corpus_outputs, queue=False)
        search.change(lambda rows_, q: corpus_table(rows_, q), [rows, search], table, queue=False)
        upload.upload(upload_fn, [upload, lang, browser, picked], [corpus_note, *corpus_outputs],
                      concurrency_limit=1, concurrency_id="answer", show_progress="full",
                      show_progress_on=[corpus_note]).then(lambda: None, None, upload, queue=False)
        remove.click(lambda p, l, b: remove_chosen(pipeline, p, l, b), [picked, lang, browser],
                     [corpus_note, *corpus_outputs], concurrency_limit=1, concurrency_id="answer")
        def like_fn(answers_, lang_, browser_, data: gr.LikeData):    # the type hint makes Gradio pass the event
            return rate(pipeline, answers_, data, lang_, browser_)

        chat.like(like_fn, [answers, lang, browser], [feedback_note, last_rating], queue=False)
        comment_btn.click(lambda a, last, text, l, b: send_comment(pipeline, a, last, text, l, b),
                          [answers, last_rating, comment, lang, browser], [feedback_note, comment], queue=False)
    demo.queue(default_concurrency_limit=1)
    return demo


def _check_port(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise RagError(f"cannot listen on {host}:{port} ({e.strerror or e}): "
                       f"is another server using it? pass --port N") from None


def serve(settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the models, then open the chat (blocks until interrupted); with users in the users
    file (``rag.web.auth``) every page and API route asks for sign-in, and beyond this machine's
    own addresses there must be users."""
    from rag.pipeline import builder

    sign_in, users_file = for_host(settings.auth_file, host)
    _check_port(host, port)         # before a minute of model loading, not after
    pipeline = builder.build(settings)
    print("loading models…", flush=True)
    pipeline.warm_up()
    demo = build_app(pipeline)
    try:
        demo.launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=False,
                    quiet=True, prevent_thread_lock=True, enable_monitoring=False, mcp_server=False,
                    ssr_mode=False, pwa=False, footer_links=["gradio", "settings"],
                    css=_static("chat.css"), js=_static("chat.js"),
                    auth=sign_in.check if sign_in else None,
                    # Gradio serves no file outside its temp folder and allowed_paths; blocked anyway.
                    blocked_paths=[str(users_file)])
    except OSError as e:
        raise RagError(f"cannot listen on {host}:{port} ({str(e).splitlines()[0]}): "
                       f"is another server using it? pass --port N") from None
    print(f"ready on http://{host}:{port}", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()
