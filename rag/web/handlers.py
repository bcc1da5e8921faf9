"""The web chat's event handlers: what each click, upload or rating does, as a function of the
pipeline and the components' values, returning the components' new values (``app.build_app``
wires them). They use the pipeline (``ask_stream``, ``refresh``, ``remove``) and what every
store gives (``docs``, ``describe``, ``articles``), nothing of one store's insides.

Imports the pipeline, ``rag.evaluation`` (readers' feedback), ``rag.ingest`` (uploads),
``rag.retrieval`` (the scope), the page's strings and its rendering.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Iterator

import gradio as gr

from rag.errors import RagError
from rag.pipeline import Done, Restart, Retrieved, Status, Token
from rag.web.render import (CURSOR, answer_markdown, copy_markdown, corpus_choices, corpus_table, empty_sources,
                            error_markdown, evidence_html, examples_title, header, md_text, note_html,
                            refusal_markdown, scope_note, sources_html, status_html)
from rag.web.strings import LABELS, UI, ui_lang

_MARKDOWN = {"header": header, "examples_title": examples_title}     # LABELS' None entries
EXAMPLE_SLOTS = 3           # example buttons on the page (strings.EXAMPLES: at most 3 per language)


# ---- a conversation ---------------------------------------------------------------------------
def add_question(question: str, chat: list, ui: str):
    """Show the question at once (the answer may wait in the queue): → chat, textbox, status, pending."""
    question = " ".join(str(question or "").split())
    if not question:
        return chat, "", gr.skip(), ""
    ui = ui_lang(ui)
    chat = list(chat or []) + [{"role": "user", "content": md_text(question)}]
    return chat, "", status_html(UI[ui]["waiting"], ui, busy=True, elapsed=0.0), question


def make_scope(picked, date_from: str, date_to: str, ui: str):
    """The user's restriction as a ``Scope`` (None for none), or raise RagError for a date not understood."""
    from rag.retrieval.scope import BadDate, chosen

    try:
        return chosen(picked, date_from, date_to)
    except BadDate as e:
        raise RagError(UI[ui]["bad_date"].format(value=e.value)) from None


def answer_turn(pipeline, question: str, chat: list, history: list, ui: str,
                picked=None, date_from: str = "", date_to: str = "", answers: dict | None = None) -> Iterator[tuple]:
    """Consume ``ask_stream``; yield (chat, status, sources, history, answers, markdown, turn) as the
    answer grows. The answer follows the question's language (or the answer-language setting), the
    page stays in ``ui``. ``answers`` maps the chat index of each final answer to its JSON (for 👍/👎);
    ``turn`` is what the last answer's status line and sources panel are drawn from (``redraw``)."""
    if not question:
        return
    t0 = time.perf_counter()
    ui = ui_lang(ui)
    t = UI[ui]
    chat = list(chat or [])
    answers = dict(answers or {})
    status, query, sources, markdown = t["waiting"], "", gr.skip(), gr.skip()
    evidence, docs, streamed, describe = [], {}, "", None

    def out(content=None, busy=True, kind=""):
        if content is not None:      # the answer's bubble appears with its first word
            message = {"role": "assistant", "content": content}
            if chat and chat[-1]["role"] == "assistant":
                chat[-1] = message
            elif content:
                chat.append(message)
        return (list(chat), status_html(status, ui, query, busy, kind, time.perf_counter() - t0), sources, history,
                answers, markdown, gr.skip())

    stream = None
    try:
        scope = make_scope(picked, date_from, date_to, ui)
        stream = pipeline.ask_stream(question, history=list(history or []), scope=scope)
        for event in stream:
            if isinstance(event, Status):
                said = t[event.stage].format(n=event.count) if event.stage in t else event.text
                status = " ".join(x for x in [said, scope_note(scope, ui)] if x)
                yield out()
            elif isinstance(event, Retrieved):
                evidence = list(event.evidence)
                query = event.query if event.query != question else ""
                store = pipeline.store
                docs, describe = store.docs, store.describe
                sources = evidence_html(evidence, docs, ui, describe)
                yield out()
            elif isinstance(event, Token):
                streamed += event.text
                # No links yet: the reader's [n] are given once the answer is checked (Done).
                yield out(answer_markdown(streamed) + CURSOR)
            elif isinstance(event, Restart):
                streamed, status = "", t["restart"]
                if chat and chat[-1]["role"] == "assistant":
                    chat.pop()
                yield out()
            elif isinstance(event, Done):
                a = event.answer
                turn = {"answer": a, "evidence": evidence, "scope": scope, "query": query}
                status = _final_status(turn, ui)
                sources = sources_html(a, evidence, docs, ui, describe)
                history = list(history or []) + [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": a.answer}]
                content = refusal_markdown(a.answer, a.closest, a.lang) if a.refused else \
                    answer_markdown(a.answer, {c["n"] for c in a.citations})
                markdown = copy_markdown(a, ui)
                result = out(content, busy=False, kind="refused" if a.refused else "done")
                answers[str(len(chat) - 1)] = {**a.to_json(), "scope": _scope_dict(scope)}
                yield result[:4] + (answers, markdown, turn)
                return
    except RagError as e:
        status = t["error"]
        yield out(error_markdown(str(e)), busy=False, kind="error")
    except Exception as e:  # noqa: BLE001 - the page shows one line, the console the details
        traceback.print_exc(file=sys.stderr)
        status = t["error"]
        yield out(error_markdown(t["unexpected"].format(name=type(e).__name__)), busy=False, kind="error")
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()      # releases the pipeline's lock at once when the user presses Stop


def _final_status(turn: dict, ui: str) -> str:
    a, t = turn["answer"], UI[ui]
    timing = {"total": a.timings.get("total_s") or 0.0, "retrieve": a.timings.get("retrieve_s") or 0.0}
    return " ".join(x for x in [(t["no_answer"] if a.refused else t["answered"]).format(**timing),
                                scope_note(turn["scope"], ui)] if x)


def redraw(pipeline, turn: dict | None, ui: str):
    """The last answer's status line and sources panel again, in the page's language ``ui`` (the
    language switch); → status, sources (skipped before any answer)."""
    if not turn:
        return gr.skip(), gr.skip()
    ui = ui_lang(ui)
    a, store = turn["answer"], pipeline.store
    return (status_html(_final_status(turn, ui), ui, turn["query"], kind="refused" if a.refused else "done"),
            sources_html(a, turn["evidence"], store.docs, ui, store.describe))


def _scope_dict(scope) -> dict:
    if scope is None:
        return {}
    return {"docs": sorted(scope.docs) if scope.docs is not None else None, "start": scope.start, "end": scope.end}


def stop_turn(chat: list, ui: str):
    """After Stop: the partial answer loses its cursor and says it was stopped."""
    ui = ui_lang(ui)
    t = UI[ui]
    chat = list(chat or [])
    if chat and chat[-1].get("role") == "assistant":
        content = chat[-1].get("content") or ""
        if isinstance(content, list):       # the browser sends messages back as lists of parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        content = str(content).removesuffix(CURSOR)
        chat[-1] = {"role": "assistant", "content": f"{content} *{md_text(t['stopped_msg'])}*".strip()}
    return chat, status_html(t["stopped"], ui, kind="stopped")


def new_conversation(ui: str):
    """→ chat, status, sources, history, textbox, pending, answers, markdown, turn."""
    return [], status_html(), empty_sources(ui_lang(ui)), [], "", "", {}, "", None


def relabel(ui: str, sources: str, examples: dict | None = None):
    """Every label in the interface language (LABELS order), the example buttons (``examples[ui]``,
    a button each, the spare ones hidden: ``EXAMPLE_SLOTS``), then the sources panel if still empty."""
    ui = ui_lang(ui)
    t = UI[ui]
    if sources in (empty_sources("fr"), empty_sources("en")):
        sources = empty_sources(ui)
    shown = (examples or {}).get(ui, [])
    return (*[_MARKDOWN[name](t) if props is None else gr.update(**{p: t[key] for p, key in props.items()})
              for name, props in LABELS],
            gr.update(visible=bool(shown)),
            *[gr.update(value=shown[i], visible=True) if i < len(shown) else gr.update(visible=False)
              for i in range(EXAMPLE_SLOTS)],
            sources)


# ---- the corpus panel ------------------------------------------------------------------------
def show_corpus(pipeline, query: str = "", picked=None):
    """→ rows state, table, restrict dropdown (choices kept in sync with the index)."""
    rows = pipeline.store.articles()
    ids = {r["id"] for r in rows}
    return (rows, corpus_table(rows, query),
            gr.update(choices=corpus_choices(rows), value=[p for p in (picked or []) if p in ids]))


def upload_articles(pipeline, files, ui: str, picked=None, progress=None):
    """Check, save and index uploaded files; → note, rows, table, restrict dropdown."""
    from rag.ingest import uploads

    t = UI[ui_lang(ui)]
    pairs = [(Path(str(getattr(f, "name", f))), Path(str(getattr(f, "name", f))).name) for f in files or []]
    if pipeline.settings.corpus is None:     # a shared PostgreSQL archive opened without --corpus
        return (note_html([t["no_upload_folder"]], "error"), *show_corpus(pipeline, "", picked))
    if progress is not None:
        progress(0, desc=t["indexing"])
    saved, refused = uploads.accept(pairs, pipeline.settings.corpus)
    lines, kind = [], "done"
    try:
        if saved:
            report = pipeline.refresh(progress=progress is not None)
            skipped = [w for w in report.warnings if any(w.startswith(name) for name in saved)]
            total = len(report.added) + len(report.changed) + len(report.unchanged)
            lines.append(t["uploaded"].format(n=len(saved), total=total))
            if skipped:
                lines += [t["skipped_files"]] + skipped
    except RagError as e:
        lines.append(str(e))
        kind = "error"
    if refused:
        lines += [t["refused_files"]] + refused
        kind = "error" if not saved else kind
    return (note_html(lines, kind), *show_corpus(pipeline, "", picked))


def remove_chosen(pipeline, picked, ui: str):
    """Keep the chosen articles (and their copies) out of the index; → note, rows, table, dropdown."""
    t = UI[ui_lang(ui)]
    if not picked:
        return (note_html([t["remove_none"]], "error"), *show_corpus(pipeline))
    try:
        pipeline.remove(list(picked))
        note = note_html([t["removed"].format(n=len(picked))], "done")
    except RagError as e:
        note = note_html([str(e)], "error")
    return (note, *show_corpus(pipeline))


# ---- feedback --------------------------------------------------------------------------------
def rate(pipeline, answers: dict, data: gr.LikeData, ui: str):
    """👍/👎 on an answer: stored with its question, answer, sources and settings. A 👎 opens the
    comment box at once, a 👍 offers it. → note, last rating, comment box, "add a comment" button."""
    from rag.evaluation import feedback

    t = UI[ui_lang(ui)]
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    answer = (answers or {}).get(str(index))
    if answer is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    liked = data.liked if isinstance(data.liked, bool) else str(data.liked).lower() in ("like", "true", "1")
    feedback.record(pipeline.settings.index, answer, liked, "", pipeline.settings, answer.get("scope"))
    note = t["feedback_saved"].format(verdict=t["like"]) if liked else t["feedback_why"]
    return (note_html([note], "done"), {"index": str(index), "liked": liked},
            gr.update(visible=not liked), gr.update(visible=liked))


def send_comment(pipeline, answers: dict, last: dict | None, comment: str, ui: str):
    """The comment on the last rated answer (the later record wins in the export); the box closes
    once it is saved. → note, textbox, comment box, "add a comment" button."""
    from rag.evaluation import feedback

    t = UI[ui_lang(ui)]
    answer = (answers or {}).get((last or {}).get("index", ""))
    if answer is None:
        return note_html([t["comment_none"]], "error"), gr.skip(), gr.skip(), gr.skip()
    if not " ".join(str(comment or "").split()):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    feedback.record(pipeline.settings.index, answer, last["liked"], comment, pipeline.settings, answer.get("scope"))
    return note_html([t["comment_saved"]], "done"), "", gr.update(visible=False), gr.update(visible=False)
