"""The web chat: ``rag serve`` opens it on http://127.0.0.1:7860.

It only consumes ``Pipeline.ask_stream`` events: the evidence is shown as soon as
it is retrieved, the answer streams in with ``[n]`` links to its sources, and the
sources panel ends with each cited span highlighted in its article.

Everything that comes from the articles, the user or the model is data: it goes
through :func:`esc` (HTML) or :func:`md_text` (the chatbot's markdown) before it
reaches the page.
"""

from __future__ import annotations

import html
import re
import socket
import sys
import traceback
from typing import Iterator, Mapping

import gradio as gr

from .errors import RagError
from .pipeline import Done, Restart, Retrieved, Status, Token

UI = {
    "fr": {
        "title": "Questions sur les articles",
        "subtitle": "Réponses hors ligne, tirées uniquement des articles, avec leurs sources [n]. "
                    "Posez vos questions en français ou en anglais.",
        "chat": "Conversation", "question": "Votre question", "send": "Envoyer", "stop": "Arrêter",
        "new": "Nouvelle conversation", "lang": "Langue de la réponse",
        "placeholder": "Posez une question sur les articles…", "examples": "Exemples · Examples",
        "sources": "Sources", "sources_empty": "Les passages des articles utilisés pour répondre apparaîtront ici.",
        "found": "Passages trouvés : la réponse les cite par leur numéro.",
        "none_found": "Aucun passage des articles ne correspond à la question.",
        "cited": "Sources citées", "others": "Autres passages lus", "closest": "Passages les plus proches (aucun ne répond)",
        "open": "Voir l'article entier", "refused": "Les articles ne le disent pas",
        "waiting": "Question envoyée : en attente de l'assistant…", "searched": "Recherche effectuée pour :",
        "restart": "Réponse reprise dans la bonne langue…", "stopped": "Arrêté.", "stopped_msg": "(arrêté)",
        "answered": "Répondu en {total:.1f} s (sources après {retrieve:.1f} s).",
        "no_answer": "Pas de réponse dans les articles ({total:.1f} s).", "error": "Erreur.",
        "unexpected": "Erreur inattendue ({name}) : consultez la console du serveur.",
    },
    "en": {
        "title": "Questions about the articles",
        "subtitle": "Offline answers drawn only from the articles, with their sources [n]. "
                    "Ask in English or French.",
        "chat": "Conversation", "question": "Your question", "send": "Send", "stop": "Stop",
        "new": "New conversation", "lang": "Answer language",
        "placeholder": "Ask a question about the articles…", "examples": "Examples · Exemples",
        "sources": "Sources", "sources_empty": "The article passages used for the answer will appear here.",
        "found": "Passages found: the answer cites them by number.",
        "none_found": "No passage of the articles matches the question.",
        "cited": "Cited sources", "others": "Other passages read", "closest": "Closest passages (none answers)",
        "open": "Open the whole article", "refused": "The articles don't say",
        "waiting": "Question sent: waiting for the assistant…", "searched": "Searched for:",
        "restart": "Answering again in the right language…", "stopped": "Stopped.", "stopped_msg": "(stopped)",
        "answered": "Answered in {total:.1f} s (sources after {retrieve:.1f} s).",
        "no_answer": "No answer in the articles ({total:.1f} s).", "error": "Error.",
        "unexpected": "Unexpected error ({name}): see the server console.",
    },
}
LANG_CHOICES = [("Auto", "auto"), ("Français", "fr"), ("English", "en")]
EXAMPLES = [
    "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?",
    "How much were the investment projects signed in Fuzhou worth?",
    "Quelle est la puissance de calcul de Pékin ?",
    "Who signed the agreement with the Alliance numérique?",
]
CURSOR = " ▍"
_CITE = re.compile(r"\[(\d{1,3})\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$^=:])")


def ui_lang(setting: str | None, answer_lang: str | None = None) -> str:
    """Labels follow the language setting; with Auto the page is in French (the articles'
    language) and what belongs to an answer (status, sources) in the answer's language."""
    if setting not in ("fr", "en") and answer_lang in UI:
        return answer_lang
    return "en" if setting == "en" else "fr"


# ---- pure rendering helpers ------------------------------------------------------------------
def esc(text) -> str:
    return html.escape(str(text), quote=True)


def md_text(text: str) -> str:
    """Plain text as chatbot markdown that renders literally (no markup, no HTML, no LaTeX)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(text)), quote=False)


def answer_markdown(text: str, valid=()) -> str:
    """Answer text for the chatbot: escaped, with each valid ``[n]`` a link to source n."""
    valid = set(valid)
    out, pos = [], 0
    for m in _CITE.finditer(text):
        n = int(m.group(1))
        if n in valid:
            out.append(md_text(text[pos:m.start()]))
            out.append(f'<a href="#src-{n}" class="cite">[{n}]</a>')
            pos = m.end()
    out.append(md_text(text[pos:]))
    return "".join(out)


def refusal_markdown(text: str) -> str:
    return f'<span class="refusal">🚫 {md_text(text)}</span>'


def error_markdown(message: str) -> str:
    return f'<span class="error">⚠️ {md_text(" ".join(str(message).split()))}</span>'


def status_html(text: str = "", ui: str = "fr", query: str = "", busy: bool = False, kind: str = "") -> str:
    if not text and not query:
        return '<div class="rag-status"></div>'
    parts = [f'<div class="rag-status {"busy" if busy else ""} {esc(kind)}"><span class="line">{esc(text)}</span>']
    if query:
        parts.append(f'<span class="query">{esc(UI[ui]["searched"])} <q>{esc(query)}</q></span>')
    return "".join(parts) + "</div>"


def highlight(text: str, start: int, end: int, mark_id: str = "") -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in ``<mark>``."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    ident = f' id="{esc(mark_id)}"' if mark_id else ""
    return f"{esc(text[:start])}<mark{ident}>{esc(text[start:end])}</mark>{esc(text[end:])}"


def _span(doc_text: str, start: int, end: int, snippet: str) -> tuple[int, int]:
    """The snippet's offsets in the article (searched for if the given ones do not match)."""
    if doc_text[start:end] == snippet:
        return start, end
    found = doc_text.find(snippet) if snippet else -1
    return (found, found + len(snippet)) if found >= 0 else (-1, -1)


def _context(doc_text: str, start: int, end: int, room: int = 280) -> tuple[int, int]:
    """The paragraph around a span, cut to ``room`` characters each side at word boundaries."""
    a = doc_text.rfind("\n", 0, start) + 1
    b = doc_text.find("\n", end)
    b = len(doc_text) if b < 0 else b
    if start - a > room:
        a = doc_text.find(" ", start - room, start) + 1 or start - room
    if b - end > room:
        cut = doc_text.rfind(" ", end, end + room)
        b = cut if cut > end else end + room
    return a, b


def card_html(n: int, doc_id: str, start: int, end: int, snippet: str, docs: Mapping, ui: str,
              marked: bool = True, cls: str = "") -> str:
    """One numbered source: article title and id, the snippet in its paragraph, the whole article."""
    doc = docs.get(doc_id)
    title = getattr(doc, "title", "") or doc_id
    text = getattr(doc, "text", "") or ""
    s, e = _span(text, start, end, snippet)
    head = (f'<div class="src-head"><span class="src-n">{n}</span><span class="src-title" title="{esc(title)}">'
            f'{esc(title)}</span></div><div class="src-doc">{esc(doc_id)}</div>')
    if s < 0:  # article unavailable: the snippet alone
        body = f'<div class="src-text">{"<mark>" + esc(snippet) + "</mark>" if marked else esc(snippet)}</div>'
        return f'<div class="src-card {cls}" id="src-{n}">{head}{body}</div>'
    a, b = _context(text, s, e)
    pre, post = ("…" if a > 0 and text[a - 1] != "\n" else ""), ("…" if b < len(text) and text[b] != "\n" else "")
    inner = highlight(text[a:b], s - a, e - a) if marked else esc(text[a:b])
    body = f'<div class="src-text">{pre}{inner}{post}</div>'
    article = (f'<details class="article"><summary>{esc(UI[ui]["open"])}</summary>'
               f'<div class="article-text">{highlight(text, s, e, f"art-{n}")}</div></details>')
    return f'<div class="src-card {cls}" id="src-{n}">{head}{body}{article}</div>'


def evidence_html(evidence: list, docs: Mapping, ui: str) -> str:
    """The sources panel as soon as the evidence is retrieved, before any answer."""
    t = UI[ui]
    if not evidence:
        return f'<div class="sources"><p class="note">{esc(t["none_found"])}</p></div>'
    cards = "".join(card_html(e.n, e.doc, e.start, e.end, e.text, docs, ui, marked=False) for e in evidence)
    return f'<div class="sources"><p class="note">{esc(t["found"])}</p>{cards}</div>'


def sources_html(answer, evidence: list, docs: Mapping, ui: str) -> str:
    """The sources panel once the answer is final: cited spans highlighted, or the refusal."""
    t = UI[ui]
    if answer.refused:
        parts = [f'<div class="banner refused"><strong>🚫 {esc(t["refused"])}</strong>'
                 f'<p>{esc(answer.answer)}</p></div>']
        if evidence:
            parts.append(f'<h4>{esc(t["closest"])}</h4>')
            parts += [card_html(e.n, e.doc, e.start, e.end, e.text, docs, ui, marked=False, cls="other")
                      for e in evidence]
        return f'<div class="sources">{"".join(parts)}</div>'
    cited = sorted(answer.citations, key=lambda c: c["n"])
    parts = [f'<h4>{esc(t["cited"])}</h4>']
    parts += [card_html(c["n"], c["doc"], c["start"], c["end"], c["text"], docs, ui, cls="cited") for c in cited]
    numbers = {c["n"] for c in cited}
    others = [e for e in evidence if e.n not in numbers]
    if others:
        parts.append(f'<details class="others"><summary>{esc(t["others"])} ({len(others)})</summary>')
        parts += [card_html(e.n, e.doc, e.start, e.end, e.text, docs, ui, marked=False, cls="other")
                  for e in others]
        parts.append("</details>")
    return f'<div class="sources">{"".join(parts)}</div>'


def empty_sources(ui: str) -> str:
    return f'<div class="sources empty"><p class="note">{esc(UI[ui]["sources_empty"])}</p></div>'


# ---- event handlers ---------------------------------------------------------------------------
def add_question(question: str, chat: list, lang: str):
    """Show the question at once (the answer may wait in the queue): → chat, textbox, status, pending."""
    question = " ".join(str(question or "").split())
    if not question:
        return chat, "", gr.skip(), ""
    chat = list(chat or []) + [{"role": "user", "content": md_text(question)}]
    return chat, "", status_html(UI[ui_lang(lang)]["waiting"], ui_lang(lang), busy=True), question


def answer_turn(pipeline, question: str, chat: list, history: list, lang: str) -> Iterator[tuple]:
    """Consume ``ask_stream``; yield (chat, status, sources, history) as the answer grows."""
    if not question:
        return
    ui = ui_lang(lang)
    t = UI[ui]
    chat = list(chat or [])
    status, query, sources = t["waiting"], "", gr.skip()
    evidence, docs, streamed = [], {}, ""

    def out(content=None, busy=True, kind=""):
        if content is not None:      # the answer's bubble appears with its first word
            message = {"role": "assistant", "content": content}
            if chat and chat[-1]["role"] == "assistant":
                chat[-1] = message
            elif content:
                chat.append(message)
        return list(chat), status_html(status, ui, query, busy, kind), sources, history

    stream = None
    try:
        stream = pipeline.ask_stream(question, history=list(history or []), lang=lang)
        for event in stream:
            if isinstance(event, Status):
                status = event.text
                yield out()
            elif isinstance(event, Retrieved):
                evidence = list(event.evidence)
                ui = ui_lang(lang, event.lang)
                t = UI[ui]
                query = event.query if event.query != question else ""
                docs = pipeline.store.docs
                sources = evidence_html(evidence, docs, ui)
                yield out()
            elif isinstance(event, Token):
                streamed += event.text
                yield out(answer_markdown(streamed, range(1, len(evidence) + 1)) + CURSOR)
            elif isinstance(event, Restart):
                streamed, status = "", t["restart"]
                if chat and chat[-1]["role"] == "assistant":
                    chat.pop()
                yield out()
            elif isinstance(event, Done):
                a = event.answer
                ui = ui_lang(lang, a.lang)
                t = UI[ui]
                timing = {"total": a.timings.get("total_s") or 0.0, "retrieve": a.timings.get("retrieve_s") or 0.0}
                status = (t["no_answer"] if a.refused else t["answered"]).format(**timing)
                sources = sources_html(a, evidence, docs, ui)
                history = list(history or []) + [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": a.answer}]
                content = refusal_markdown(a.answer) if a.refused else \
                    answer_markdown(a.answer, {c["n"] for c in a.citations})
                yield out(content, busy=False, kind="refused" if a.refused else "done")
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


def stop_turn(chat: list, lang: str):
    """After Stop: the partial answer loses its cursor and says it was stopped."""
    t = UI[ui_lang(lang)]
    chat = list(chat or [])
    if chat and chat[-1].get("role") == "assistant":
        content = chat[-1].get("content") or ""
        if isinstance(content, list):       # the browser sends messages back as lists of parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        content = str(content).removesuffix(CURSOR)
        chat[-1] = {"role": "assistant", "content": f"{content} *{md_text(t['stopped_msg'])}*".strip()}
    return chat, status_html(t["stopped"], ui_lang(lang), kind="stopped")


def new_conversation(lang: str):
    """→ chat, status, sources, history, textbox, pending."""
    return [], status_html(), empty_sources(ui_lang(lang)), [], "", ""


def relabel(lang: str, sources: str):
    t = UI[ui_lang(lang)]
    if sources in (empty_sources("fr"), empty_sources("en")):
        sources = empty_sources(ui_lang(lang))
    return (f"## {esc(t['title'])}\n{t['subtitle']}", gr.update(label=t["chat"]),
            gr.update(label=t["question"], placeholder=t["placeholder"]), gr.update(value=t["send"]),
            gr.update(value=t["stop"]), gr.update(value=t["new"]), gr.update(label=t["lang"]), sources)


# ---- the page ---------------------------------------------------------------------------------
CSS = """
.gradio-container { max-width: 1400px !important; }
#sources { max-height: 78vh; overflow-y: auto; }
.rag-status { min-height: 2.6em; justify-content: center; font-size: .92em; color: var(--body-text-color-subdued); display: flex;
  flex-direction: column; gap: 2px; }
.rag-status.busy .line::before { content: ""; display: inline-block; width: .7em; height: .7em; margin-right: .45em;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%; animation: rag-spin .8s linear infinite; }
.rag-status.refused .line { color: #b45309; font-weight: 600; }
.rag-status.error .line { color: #b91c1c; font-weight: 600; }
.rag-status .query q { font-style: italic; }
@keyframes rag-spin { to { transform: rotate(360deg); } }
.sources .note { color: var(--body-text-color-subdued); margin: 0 0 .6em; font-size: .92em; }
.sources h4 { margin: .2em 0 .5em; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .6em .8em; margin-bottom: .7em;
  background: var(--background-fill-secondary); transition: box-shadow .3s; }
.src-card.cited { border-left: 4px solid #2563eb; }
.src-card.flash { box-shadow: 0 0 0 3px #60a5fa; }
.src-head { display: flex; align-items: baseline; gap: .5em; }
.src-n { background: #2563eb; color: #fff; border-radius: 999px; min-width: 1.6em; text-align: center; font-weight: 700;
  font-size: .85em; padding: 0 .4em; }
.src-title { font-weight: 600; font-size: .95em; flex: 1; display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; overflow: hidden; }
.src-doc { font-family: var(--font-mono); font-size: .75em; color: var(--body-text-color-subdued); margin: .15em 0 .4em 2.1em; }
.src-text { font-size: .93em; line-height: 1.5; white-space: pre-wrap; }
.sources mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px; }
details.article summary, details.others summary { cursor: pointer; color: #2563eb; font-size: .88em; margin-top: .35em; }
.article-text { position: relative; max-height: 320px; overflow-y: auto; white-space: pre-wrap; font-size: .88em;
  line-height: 1.5; border-top: 1px dashed var(--border-color-primary); margin-top: .4em; padding-top: .4em; }
.banner.refused { background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; border-radius: 10px;
  padding: .7em .9em; margin-bottom: .8em; }
.banner.refused p { margin: .3em 0 0; }
#chat .refusal { display: inline-block; background: #fef3c7; color: #78350f; border-radius: 8px; padding: .25em .6em; }
#chat .error { color: #b91c1c; }
#chat a.cite { text-decoration: none; font-weight: 700; color: #2563eb; }
.examples button { font-size: .85em !important; }
"""

JS = """
() => {
  const show = (n) => {
    const card = document.getElementById('src-' + n);
    if (!card) return;
    card.scrollIntoView({behavior: 'smooth', block: 'start'});
    const art = card.querySelector('details.article');
    if (art) art.open = true;
    card.classList.add('flash');
    setTimeout(() => card.classList.remove('flash'), 1500);
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[href^="#src-"]');
    if (!a) return;
    ev.preventDefault();
    show(a.getAttribute('href').slice(5));
  }, true);
  document.addEventListener('toggle', (ev) => {
    const d = ev.target;
    if (!d.classList || !d.classList.contains('article') || !d.open) return;
    const box = d.querySelector('.article-text'), m = box && box.querySelector('mark');
    if (m) box.scrollTop = Math.max(0, m.offsetTop - box.clientHeight / 3);
  }, true);
}
"""


def build_app(pipeline) -> gr.Blocks:
    lang0 = getattr(getattr(pipeline, "settings", None), "lang", "auto") or "auto"
    t = UI[ui_lang(lang0)]
    with gr.Blocks(title="rag", analytics_enabled=False) as demo:
        header = gr.Markdown(f"## {esc(t['title'])}\n{t['subtitle']}")
        history, pending = gr.State([]), gr.State("")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(label=t["chat"], elem_id="chat", height=520, latex_delimiters=[],
                                  buttons=["copy", "copy_all"], feedback_options=None)
                status = gr.HTML(status_html(), elem_id="status", js_on_load=None)
                with gr.Row():
                    box = gr.Textbox(label=t["question"], placeholder=t["placeholder"], elem_id="question",
                                     scale=5, lines=1, max_lines=4, autofocus=True)
                    send = gr.Button(t["send"], variant="primary", elem_id="send", scale=1, min_width=90)
                    stop = gr.Button(t["stop"], variant="stop", elem_id="stop", scale=1, min_width=90)
                with gr.Row():
                    new = gr.Button(t["new"], elem_id="new", size="sm")
                    lang = gr.Radio(LANG_CHOICES, value=lang0, label=t["lang"], elem_id="lang")
                gr.Markdown(f"**{esc(t['examples'])}**")
                with gr.Row(elem_classes="examples"):
                    examples = [gr.Button(q, size="sm") for q in EXAMPLES]
            with gr.Column(scale=2):
                sources = gr.HTML(empty_sources(ui_lang(lang0)), elem_id="sources", js_on_load=None)

        def generate(question, chat_, history_, lang_):
            yield from answer_turn(pipeline, question, chat_, history_, lang_)

        # One in-process model answers one user at a time; a server answers several.
        limit = getattr(getattr(pipeline, "generator", None), "concurrency", 1)
        answers = []
        for trigger, source in [(box.submit, box), (send.click, box)] + [(b.click, b) for b in examples]:
            answers.append(
                trigger(add_question, [source, chat, lang], [chat, box, status, pending], queue=False)
                .then(generate, [pending, chat, history, lang], [chat, status, sources, history],
                      concurrency_limit=limit, concurrency_id="answer", show_progress="full",
                      show_progress_on=[status]))
        # Cancel first, then tidy up: a last streamed update must not overwrite the "stopped" state.
        stop.click(None, cancels=answers, queue=False).then(stop_turn, [chat, lang], [chat, status], queue=False)
        reset = [chat, status, sources, history, box, pending]
        new.click(new_conversation, [lang], reset, cancels=answers, queue=False)
        chat.clear(new_conversation, [lang], reset, cancels=answers, queue=False)
        lang.change(relabel, [lang, sources], [header, chat, box, send, stop, new, lang, sources], queue=False)
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
    """Load the models, then open the chat (blocks until interrupted)."""
    from .pipeline import Pipeline

    _check_port(host, port)         # before a minute of model loading, not after
    pipeline = Pipeline(settings)
    print("loading models…", flush=True)
    pipeline.warm_up()
    demo = build_app(pipeline)
    try:
        demo.launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=False,
                    quiet=True, prevent_thread_lock=True, enable_monitoring=False, mcp_server=False,
                    ssr_mode=False, pwa=False, footer_links=["gradio", "settings"], css=CSS, js=JS)
    except OSError as e:
        raise RagError(f"cannot listen on {host}:{port} ({str(e).splitlines()[0]}): "
                       f"is another server using it? pass --port N") from None
    print(f"ready on http://{host}:{port}", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()
