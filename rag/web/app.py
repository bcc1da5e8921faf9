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
from rag.web.handlers import (EXAMPLE_SLOTS, add_question, answer_turn, new_conversation, rate, redraw, relabel,
                              remove_chosen, send_comment, show_corpus, stop_turn, upload_articles)
from rag.web.render import corpus_table, empty_sources, examples_title, header, note_html, status_html
from rag.web.strings import LABELS, LANG_CHOICES, UI, examples_for, ui_lang


def _static(name: str) -> str:
    """A file of ``rag/web/static`` (package data: installed with the package)."""
    return resources.files("rag.web").joinpath("static", name).read_text(encoding="utf-8")


COPY_JS = """(markdown, ui) => {
  // The clipboard API needs a secure context (https or this machine); elsewhere the old way.
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(markdown);
  } else {
    const area = document.createElement('textarea');
    area.value = markdown;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  return [markdown, ui];
}"""


def build_app(pipeline) -> gr.Blocks:
    """The page on ``pipeline``: its components, in one interface language (``settings.ui_lang``,
    else the browser's ``Accept-Language``, read when the page loads), and the handler each event runs."""
    setting = pipeline.settings.ui_lang
    ui0 = ui_lang(setting)
    t = UI[ui0]
    from rag.ingest.formats import SUFFIXES

    def examples() -> dict:
        return examples_for(pipeline.store.docs)

    with gr.Blocks(title="rag", analytics_enabled=False) as demo:
        c = {}
        with gr.Row(equal_height=True):
            c["header"] = gr.Markdown(header(t))
            c["ui"] = ui = gr.Radio(LANG_CHOICES, value=ui0, label=t["interface"], elem_id="ui-lang", scale=0,
                                    min_width=220)
        history, pending = gr.State([]), gr.State("")
        answers, last_rating, rows, turn = gr.State({}), gr.State(None), gr.State([]), gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                c["chat"] = chat = gr.Chatbot(label=t["chat"], elem_id="chat", height=520, latex_delimiters=[],
                                              buttons=["copy"], feedback_options=("Like", "Dislike"))
                status = gr.HTML(status_html(), elem_id="status", js_on_load=None)
                with gr.Row():
                    c["box"] = box = gr.Textbox(label=t["question"], placeholder=t["placeholder"], elem_id="question",
                                                scale=5, lines=1, max_lines=4, autofocus=True)
                    c["send"] = send = gr.Button(t["send"], variant="primary", elem_id="send", scale=1, min_width=90)
                    c["stop"] = stop = gr.Button(t["stop"], variant="stop", elem_id="stop", scale=1, min_width=90)
                with gr.Row(elem_classes="tools"):
                    c["new"] = new = gr.Button(t["new"], elem_id="new", size="sm", scale=0)
                    c["copy"] = copy = gr.Button(t["copy_md"], elem_id="copy-md", size="sm", visible=False, scale=0)
                    c["open_comment"] = open_comment = gr.Button(t["open_comment"], elem_id="open-comment",
                                                                 size="sm", visible=False, scale=0)
                feedback_note = gr.HTML("", elem_id="feedback-note")
                with gr.Row(visible=False, elem_id="comment-box") as comment_box:
                    c["comment"] = comment = gr.Textbox(label=t["feedback_comment"], elem_id="comment", scale=5,
                                                        lines=1, max_lines=3)
                    c["send_comment"] = comment_btn = gr.Button(t["send_comment"], elem_id="send-comment", scale=1,
                                                                size="sm", variant="primary")
                    c["cancel_comment"] = cancel = gr.Button(t["cancel_comment"], elem_id="cancel-comment",
                                                             scale=1, size="sm")
                # The last answer and its sources as Markdown: read by the copy button's script.
                markdown = gr.Textbox("", visible="hidden", elem_id="markdown")
                shown = examples()[ui0]
                with gr.Column(visible=bool(shown), elem_classes="examples") as examples_box:
                    c["examples_title"] = gr.Markdown(examples_title(t))
                    with gr.Row():
                        buttons = [gr.Button(shown[i] if i < len(shown) else "", size="sm", visible=i < len(shown))
                                   for i in range(EXAMPLE_SLOTS)]
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

        def generate(question, chat_, history_, ui_, picked_, from_, to_, answers_):
            yield from answer_turn(pipeline, question, chat_, history_, ui_, picked_, from_, to_, answers_)

        def upload_fn(files, ui_, picked_, progress=gr.Progress(track_tqdm=True)):
            return upload_articles(pipeline, files, ui_, picked_, progress)

        # One in-process model answers one user at a time; a server answers several. Extract mode
        # (RAG_ANSWER=extract) asks no LLM: the reader answers, one question at a time, the LLM never loaded.
        limit = pipeline.generator.concurrency if pipeline.settings.answer == "llm" else 1
        answer_outputs = [chat, status, sources, history, answers, markdown, turn]
        answer_inputs = [pending, chat, history, ui, picked, date_from, date_to, answers]
        runs = []
        for trigger, source in [(box.submit, box), (send.click, box)] + [(b.click, b) for b in buttons]:
            runs.append(
                trigger(add_question, [source, chat, ui], [chat, box, status, pending], queue=False)
                # The status line says what is happening and for how long: no overlay of Gradio's.
                .then(generate, answer_inputs, answer_outputs, concurrency_limit=limit, concurrency_id="answer",
                      show_progress="hidden"))
        # Cancel first, then tidy up: a last streamed update must not overwrite the "stopped" state.
        stop.click(None, cancels=runs, queue=False).then(stop_turn, [chat, ui], [chat, status], queue=False)
        reset = [chat, status, sources, history, box, pending, answers, markdown, turn]
        new.click(new_conversation, [ui], reset, cancels=runs, queue=False)
        chat.clear(new_conversation, [ui], reset, cancels=runs, queue=False)
        markdown.change(lambda md: gr.update(visible=bool(md)), markdown, copy, queue=False)
        copy.click(lambda md, ui_: note_html([UI[ui_lang(ui_)]["copied"]], "done"), [markdown, ui], feedback_note,
                   js=COPY_JS, queue=False)
        labelled = [c[name] for name, _ in LABELS] + [examples_box, *buttons, sources]
        notes = [feedback_note, corpus_note]

        def switch(ui_, sources_, turn_):
            """The page in the other language: its labels, and the last answer's status and sources."""
            status_, panel = redraw(pipeline, turn_, ui_)
            *labels, empty = relabel(ui_, sources_, examples())
            return (*labels, panel if turn_ else empty, status_, "", "")

        ui.input(switch, [ui, sources, turn], [*labelled, status, *notes], queue=False)

        def first_paint(sources_, request: gr.Request):
            """The page's language once the browser has said which it prefers."""
            chosen = ui_lang(setting, request.headers.get("accept-language") if request else None)
            return (chosen, *relabel(chosen, sources_, examples()))

        demo.load(first_paint, [sources], [ui, *labelled], queue=False)
        corpus_outputs = [rows, table, picked]
        demo.load(lambda: show_corpus(pipeline), None, corpus_outputs, queue=False)
        search.change(lambda rows_, q: corpus_table(rows_, q), [rows, search], table, queue=False)
        upload.upload(upload_fn, [upload, ui, picked], [corpus_note, *corpus_outputs],
                      concurrency_limit=1, concurrency_id="answer", show_progress="full",
                      show_progress_on=[corpus_note]).then(lambda: None, None, upload, queue=False)
        remove.click(lambda p, u: remove_chosen(pipeline, p, u), [picked, ui],
                     [corpus_note, *corpus_outputs], concurrency_limit=1, concurrency_id="answer")

        def like_fn(answers_, ui_, data: gr.LikeData):    # the type hint makes Gradio pass the event
            return rate(pipeline, answers_, data, ui_)

        commenting = [comment_box, open_comment]
        chat.like(like_fn, [answers, ui], [feedback_note, last_rating, *commenting], queue=False)
        open_comment.click(lambda: (gr.update(visible=True), gr.update(visible=False)), None, commenting,
                           queue=False)
        cancel.click(lambda: (gr.update(visible=False), gr.update(visible=False)), None, commenting, queue=False)
        comment_btn.click(lambda a, last, text, u: send_comment(pipeline, a, last, text, u),
                          [answers, last_rating, comment, ui], [feedback_note, comment, *commenting], queue=False)
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
                    ssr_mode=False, pwa=False, footer_links=[],
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
