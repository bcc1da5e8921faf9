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
from pathlib import Path
from typing import Iterator, Mapping

import gradio as gr

from rag.errors import RagError
from rag.text.fold import fold
from rag.pipeline import Done, Restart, Retrieved, Status, Token

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
        "corpus": "Articles", "search": "Chercher un article", "search_ph": "titre, source…",
        "columns": ["Date", "Titre", "Source", "Passages"], "count": "{n} article(s)",
        "restrict": "Limiter les questions à ces articles (vide : tous)",
        "date_from": "À partir du", "date_to": "Jusqu'au", "date_ph": "ex. 2024-01 ou avril 2024",
        "bad_date": "Date non comprise : « {value} » (essayez 2024-04 ou 12 avril 2024).",
        "scoped": "Recherche limitée : {what}.", "scoped_docs": "{n} article(s) choisi(s)",
        "upload": "Ajouter des articles (.txt .md .html .pdf .docx .rss .atom .jsonl, 20 Mo max. chacun)",
        "uploaded": "{n} fichier(s) ajouté(s) ; index à jour : {total} articles.",
        "refused_files": "Refusé(s) :", "skipped_files": "Ignoré(s) :",
        "no_upload_folder": "Cette archive partagée n'a pas de dossier ici : lancez le chat avec --corpus DOSSIER "
                            "pour y ajouter des articles.",
        "remove": "Retirer les articles choisis", "removed": "{n} article(s) retiré(s) de l'index.",
        "remove_none": "Choisissez d'abord les articles à retirer dans la liste ci-dessus.",
        "indexing": "Indexation des articles…",
        "feedback_saved": "Merci : avis enregistré ({verdict}). Ajoutez un commentaire si vous voulez.",
        "feedback_comment": "Commentaire sur la dernière réponse notée (facultatif : la bonne réponse, par ex.)",
        "send_comment": "Enregistrer le commentaire", "comment_saved": "Commentaire enregistré.",
        "comment_none": "Notez d'abord une réponse avec 👍 ou 👎.",
        "like": "👍", "dislike": "👎",
        "markdown": "Dernière réponse et ses sources, en Markdown (bouton copier)",
        "also": "aussi publié par", "page": "p. {n}", "undated": "date inconnue", "interface": "Langue",
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
        "corpus": "Articles", "search": "Search the articles", "search_ph": "title, source…",
        "columns": ["Date", "Title", "Source", "Passages"], "count": "{n} article(s)",
        "restrict": "Restrict questions to these articles (empty: all)",
        "date_from": "From", "date_to": "Until", "date_ph": "e.g. 2024-01 or April 2024",
        "bad_date": "Date not understood: \"{value}\" (try 2024-04 or 12 April 2024).",
        "scoped": "Search restricted: {what}.", "scoped_docs": "{n} chosen article(s)",
        "upload": "Add articles (.txt .md .html .pdf .docx .rss .atom .jsonl, 20 MB max. each)",
        "uploaded": "{n} file(s) added; index up to date: {total} articles.",
        "refused_files": "Refused:", "skipped_files": "Skipped:",
        "no_upload_folder": "This shared archive has no folder on this machine: start the chat with --corpus DIR "
                            "to add articles to it.",
        "remove": "Remove the chosen articles", "removed": "{n} article(s) removed from the index.",
        "remove_none": "First choose the articles to remove in the list above.",
        "indexing": "Indexing the articles…",
        "feedback_saved": "Thank you: rating saved ({verdict}). Add a comment if you like.",
        "feedback_comment": "Comment on the last rated answer (optional: the right answer, for instance)",
        "send_comment": "Save the comment", "comment_saved": "Comment saved.",
        "comment_none": "First rate an answer with 👍 or 👎.",
        "like": "👍", "dislike": "👎",
        "markdown": "Last answer and its sources, as Markdown (copy button)",
        "also": "also published by", "page": "p. {n}", "undated": "date unknown", "interface": "Language",
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


def ui_lang(setting: str | None, browser: str | None = None) -> str:
    """One interface language for the whole page: the language setting, else (Auto) the
    browser's language if it is French or English, else French (the articles' language)."""
    if setting in ("fr", "en"):
        return setting
    browser = str(browser or "").lower()[:2]
    return browser if browser in UI else "fr"


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


def meta_html(meta: Mapping, ui: str) -> str:
    """Date · source · page · "also published by …" of a source, escaped."""
    t = UI[ui]
    parts = [f'<span class="src-date">{esc(meta.get("date") or t["undated"])}</span>']
    if meta.get("source"):
        parts.append(f'<span class="src-source">{esc(meta["source"])}</span>')
    if meta.get("page"):
        parts.append(esc(t["page"].format(n=meta["page"])))
    if meta.get("also"):
        parts.append(f'<span class="src-also">{esc(t["also"])} {esc(", ".join(meta["also"]))}</span>')
    return f'<div class="src-meta">{" · ".join(parts)}</div>'


def _meta(docs: Mapping, doc_id: str, start: int, describe=None) -> dict:
    """The article's metadata from the index (``Store.describe``), or from the document alone."""
    if describe is not None:
        return describe(doc_id, start)
    doc = docs.get(doc_id)
    return {"date": getattr(doc, "date", ""), "source": getattr(doc, "source", "")}


def card_html(n: int, doc_id: str, start: int, end: int, snippet: str, docs: Mapping, ui: str,
              marked: bool = True, cls: str = "", describe=None) -> str:
    """One numbered source: article title, date, source and id, the snippet in its paragraph, the whole article."""
    doc = docs.get(doc_id)
    title = getattr(doc, "title", "") or doc_id
    text = getattr(doc, "text", "") or ""
    s, e = _span(text, start, end, snippet)
    head = (f'<div class="src-head"><span class="src-n">{n}</span><span class="src-title" title="{esc(title)}">'
            f'{esc(title)}</span></div>{meta_html(_meta(docs, doc_id, start, describe), ui)}'
            f'<div class="src-doc">{esc(doc_id)}</div>')
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


def evidence_html(evidence: list, docs: Mapping, ui: str, describe=None) -> str:
    """The sources panel as soon as the evidence is retrieved, before any answer."""
    t = UI[ui]
    if not evidence:
        return f'<div class="sources"><p class="note">{esc(t["none_found"])}</p></div>'
    cards = "".join(card_html(e.n, e.doc, e.start, e.end, e.text, docs, ui, marked=False, describe=describe)
                    for e in evidence)
    return f'<div class="sources"><p class="note">{esc(t["found"])}</p>{cards}</div>'


def sources_html(answer, evidence: list, docs: Mapping, ui: str, describe=None) -> str:
    """The sources panel once the answer is final: cited spans highlighted, or the refusal."""
    t = UI[ui]
    if answer.refused:
        parts = [f'<div class="banner refused"><strong>🚫 {esc(t["refused"])}</strong>'
                 f'<p>{esc(answer.answer)}</p></div>']
        if evidence:
            parts.append(f'<h4>{esc(t["closest"])}</h4>')
            parts += [card_html(e.n, e.doc, e.start, e.end, e.text, docs, ui, marked=False, cls="other",
                                describe=describe) for e in evidence]
        return f'<div class="sources">{"".join(parts)}</div>'
    cited = sorted(answer.citations, key=lambda c: c["n"])
    parts = [f'<h4>{esc(t["cited"])}</h4>']
    parts += [card_html(c["n"], c["doc"], c["start"], c["end"], c["text"], docs, ui, cls="cited", describe=describe)
              for c in cited]
    numbers = {c["n"] for c in cited}
    others = [e for e in evidence if e.n not in numbers]
    if others:
        parts.append(f'<details class="others"><summary>{esc(t["others"])} ({len(others)})</summary>')
        parts += [card_html(e.n, e.doc, e.start, e.end, e.text, docs, ui, marked=False, cls="other",
                            describe=describe) for e in others]
        parts.append("</details>")
    return f'<div class="sources">{"".join(parts)}</div>'


def empty_sources(ui: str) -> str:
    return f'<div class="sources empty"><p class="note">{esc(UI[ui]["sources_empty"])}</p></div>'


# ---- event handlers ---------------------------------------------------------------------------
def add_question(question: str, chat: list, lang: str, browser: str = ""):
    """Show the question at once (the answer may wait in the queue): → chat, textbox, status, pending."""
    question = " ".join(str(question or "").split())
    if not question:
        return chat, "", gr.skip(), ""
    ui = ui_lang(lang, browser)
    chat = list(chat or []) + [{"role": "user", "content": md_text(question)}]
    return chat, "", status_html(UI[ui]["waiting"], ui, busy=True), question


def copy_markdown(answer, ui: str) -> str:
    """The answer and its numbered sources (title, date, source, quoted span) as Markdown."""
    t = UI[ui]
    lines = [answer.answer.strip(), ""]
    if answer.citations:
        lines.append(f"**{t['sources']}**")
        lines.append("")
    for c in sorted(answer.citations, key=lambda c: c["n"]):
        head = " — ".join(x for x in [c.get("title") or c["doc"], c.get("date") or "", c.get("source") or ""] if x)
        link = f" <{c['url']}>" if c.get("url") else ""
        lines.append(f"[{c['n']}] {head}{link}")
        lines.append(f"> {' '.join(c['text'].split())}")
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def make_scope(picked, date_from: str, date_to: str, ui: str):
    """The user's restriction as a ``Scope`` (None for none), or raise RagError for a date not understood."""
    from rag.retrieval.scope import BadDate, chosen

    try:
        return chosen(picked, date_from, date_to)
    except BadDate as e:
        raise RagError(UI[ui]["bad_date"].format(value=e.value)) from None


def _scope_note(scope, ui: str) -> str:
    if scope is None:
        return ""
    t = UI[ui]
    what = [t["scoped_docs"].format(n=len(scope.docs))] if scope.docs is not None else []
    if scope.start or scope.end:
        what.append(f"{scope.start or '…'} → {scope.end or '…'}")
    return t["scoped"].format(what=", ".join(what))


def answer_turn(pipeline, question: str, chat: list, history: list, lang: str, browser: str = "",
                picked=None, date_from: str = "", date_to: str = "", answers: dict | None = None) -> Iterator[tuple]:
    """Consume ``ask_stream``; yield (chat, status, sources, history, answers, markdown) as the answer grows.
    ``answers`` maps the chat index of each final answer to its JSON (for 👍/👎)."""
    if not question:
        return
    ui = ui_lang(lang, browser)
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
        return list(chat), status_html(status, ui, query, busy, kind), sources, history, answers, markdown

    stream = None
    try:
        scope = make_scope(picked, date_from, date_to, ui)
        stream = pipeline.ask_stream(question, history=list(history or []), lang=lang, scope=scope)
        for event in stream:
            if isinstance(event, Status):
                status = " ".join(x for x in [event.text, _scope_note(scope, ui)] if x)
                yield out()
            elif isinstance(event, Retrieved):
                evidence = list(event.evidence)
                query = event.query if event.query != question else ""
                store = pipeline.store
                docs, describe = store.docs, getattr(store, "describe", None)
                sources = evidence_html(evidence, docs, ui, describe)
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
                timing = {"total": a.timings.get("total_s") or 0.0, "retrieve": a.timings.get("retrieve_s") or 0.0}
                status = " ".join(x for x in [(t["no_answer"] if a.refused else t["answered"]).format(**timing),
                                              _scope_note(scope, ui)] if x)
                sources = sources_html(a, evidence, docs, ui, describe)
                history = list(history or []) + [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": a.answer}]
                content = refusal_markdown(a.answer) if a.refused else \
                    answer_markdown(a.answer, {c["n"] for c in a.citations})
                markdown = copy_markdown(a, ui)
                result = out(content, busy=False, kind="refused" if a.refused else "done")
                answers[str(len(chat) - 1)] = {**a.to_json(), "scope": _scope_dict(scope)}
                yield result[:4] + (answers, markdown)
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


def _scope_dict(scope) -> dict:
    if scope is None:
        return {}
    return {"docs": sorted(scope.docs) if scope.docs is not None else None, "start": scope.start, "end": scope.end}


def stop_turn(chat: list, lang: str, browser: str = ""):
    """After Stop: the partial answer loses its cursor and says it was stopped."""
    ui = ui_lang(lang, browser)
    t = UI[ui]
    chat = list(chat or [])
    if chat and chat[-1].get("role") == "assistant":
        content = chat[-1].get("content") or ""
        if isinstance(content, list):       # the browser sends messages back as lists of parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        content = str(content).removesuffix(CURSOR)
        chat[-1] = {"role": "assistant", "content": f"{content} *{md_text(t['stopped_msg'])}*".strip()}
    return chat, status_html(t["stopped"], ui, kind="stopped")


def new_conversation(lang: str, browser: str = ""):
    """→ chat, status, sources, history, textbox, pending, answers, markdown."""
    return [], status_html(), empty_sources(ui_lang(lang, browser)), [], "", "", {}, ""


# Every label of the page, in the order ``relabel`` returns their updates (the sources panel last).
LABELS = [
    ("header", lambda t: f"## {esc(t['title'])}\n{t['subtitle']}"),
    ("chat", lambda t: gr.update(label=t["chat"])),
    ("box", lambda t: gr.update(label=t["question"], placeholder=t["placeholder"])),
    ("send", lambda t: gr.update(value=t["send"])),
    ("stop", lambda t: gr.update(value=t["stop"])),
    ("new", lambda t: gr.update(value=t["new"])),
    ("lang", lambda t: gr.update(label=t["lang"])),
    ("examples_title", lambda t: f"**{esc(t['examples'])}**"),
    ("corpus", lambda t: gr.update(label=t["corpus"])),
    ("search", lambda t: gr.update(label=t["search"], placeholder=t["search_ph"])),
    ("table", lambda t: gr.update(headers=t["columns"])),
    ("picked", lambda t: gr.update(label=t["restrict"])),
    ("date_from", lambda t: gr.update(label=t["date_from"], placeholder=t["date_ph"])),
    ("date_to", lambda t: gr.update(label=t["date_to"], placeholder=t["date_ph"])),
    ("upload", lambda t: gr.update(label=t["upload"])),
    ("remove", lambda t: gr.update(value=t["remove"])),
    ("comment", lambda t: gr.update(label=t["feedback_comment"])),
    ("send_comment", lambda t: gr.update(value=t["send_comment"])),
    ("markdown", lambda t: gr.update(label=t["markdown"])),
]


def relabel(lang: str, sources: str, browser: str = ""):
    """Every label in the interface language (LABELS order), then the sources panel if still empty."""
    ui = ui_lang(lang, browser)
    t = UI[ui]
    if sources in (empty_sources("fr"), empty_sources("en")):
        sources = empty_sources(ui)
    return (*[make(t) for _, make in LABELS], sources)


# ---- the corpus panel ------------------------------------------------------------------------


def corpus_table(rows: list[dict], query: str = "") -> list[list]:
    """The articles matching ``query`` (title, source, date or id; case and accents ignored), as table rows.
    Cells are plain text: the table shows them as text, never as markup."""
    words = fold(query).split()
    out = []
    for r in rows:
        hay = fold(" ".join([r["title"], r["source"], r["date"], r["id"]]))
        if all(w in hay for w in words):
            source = r["source"] or r["id"]
            if r.get("also"):
                source += f" (+{len(r['also'])})"
            out.append([r["date"] or "—", r["title"], source, r["passages"]])
    return out


def corpus_choices(rows: list[dict]) -> list[tuple[str, str]]:
    return [(f"{r['date'] or '—'} · {r['title']}", r["id"]) for r in rows]


def _rows(pipeline) -> list[dict]:
    articles = getattr(pipeline.store, "articles", None)
    return articles() if articles else []


def show_corpus(pipeline, query: str = "", picked=None):
    """→ rows state, table, restrict dropdown (choices kept in sync with the index)."""
    rows = _rows(pipeline)
    ids = {r["id"] for r in rows}
    return (rows, corpus_table(rows, query),
            gr.update(choices=corpus_choices(rows), value=[p for p in (picked or []) if p in ids]))


def _note(lines: list[str], kind: str = "") -> str:
    return f'<div class="corpus-note {esc(kind)}">' + "".join(f"<div>{esc(x)}</div>" for x in lines) + "</div>"


def upload_articles(pipeline, files, lang: str, browser: str = "", picked=None, progress=None):
    """Check, save and index uploaded files; → note, rows, table, restrict dropdown."""
    from rag.ingest import uploads

    t = UI[ui_lang(lang, browser)]
    pairs = [(Path(str(getattr(f, "name", f))), Path(str(getattr(f, "name", f))).name) for f in files or []]
    if pipeline.settings.corpus is None:     # a shared PostgreSQL archive opened without --corpus
        return (_note([t["no_upload_folder"]], "error"), *show_corpus(pipeline, "", picked))
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
    return (_note(lines, kind), *show_corpus(pipeline, "", picked))


def remove_chosen(pipeline, picked, lang: str, browser: str = ""):
    """Keep the chosen articles (and their copies) out of the index; → note, rows, table, dropdown."""
    from rag.store.folder import remove_articles

    t = UI[ui_lang(lang, browser)]
    if not picked:
        return (_note([t["remove_none"]], "error"), *show_corpus(pipeline))
    copies = getattr(pipeline.store, "copies", {})
    ids = set(picked) | {c for p in picked for c in copies.get(p, [])}
    remove_articles(pipeline.settings.index, sorted(ids))
    try:
        pipeline.refresh()
        note = _note([t["removed"].format(n=len(picked))], "done")
    except RagError as e:
        note = _note([str(e)], "error")
    return (note, *show_corpus(pipeline))


# ---- feedback --------------------------------------------------------------------------------
def rate(pipeline, answers: dict, data: gr.LikeData, lang: str, browser: str = ""):
    """👍/👎 on an answer: stored with its question, answer, sources and settings; → note, last rating."""
    from rag.evaluation import feedback

    t = UI[ui_lang(lang, browser)]
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    answer = (answers or {}).get(str(index))
    if answer is None:
        return gr.skip(), gr.skip()
    liked = data.liked if isinstance(data.liked, bool) else str(data.liked).lower() in ("like", "true", "1")
    feedback.record(pipeline.settings.index, answer, liked, "", pipeline.settings, answer.get("scope"))
    verdict = t["like"] if liked else t["dislike"]
    return _note([t["feedback_saved"].format(verdict=verdict)], "done"), {"index": str(index), "liked": liked}


def send_comment(pipeline, answers: dict, last: dict | None, comment: str, lang: str, browser: str = ""):
    """The comment on the last rated answer (the later record wins in the export); → note, textbox."""
    from rag.evaluation import feedback

    t = UI[ui_lang(lang, browser)]
    answer = (answers or {}).get((last or {}).get("index", ""))
    if answer is None:
        return _note([t["comment_none"]], "error"), gr.skip()
    if not " ".join(str(comment or "").split()):
        return gr.skip(), gr.skip()
    feedback.record(pipeline.settings.index, answer, last["liked"], comment, pipeline.settings, answer.get("scope"))
    return _note([t["comment_saved"]], "done"), ""


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
.src-meta { font-size: .8em; color: var(--body-text-color-subdued); margin: .15em 0 0 2.1em; }
.src-meta .src-date { font-weight: 600; }
.corpus-note.error, #feedback-note .error { color: #b91c1c; }
.corpus-note.done, #feedback-note .done { color: #15803d; }
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
    ui0 = ui_lang(lang0)
    t = UI[ui0]
    from rag.ingest.formats import SUFFIXES

    with gr.Blocks(title="rag", analytics_enabled=False) as demo:
        c = {}
        c["header"] = gr.Markdown(f"## {esc(t['title'])}\n{t['subtitle']}")
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
                c["examples_title"] = gr.Markdown(f"**{esc(t['examples'])}**")
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
        limit = getattr(getattr(pipeline, "generator", None), "concurrency", 1)
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
    """Load the models, then open the chat (blocks until interrupted)."""
    from rag.pipeline import builder

    _check_port(host, port)         # before a minute of model loading, not after
    pipeline = builder.build(settings)
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
