"""The web chat's HTML and Markdown: pure functions of their arguments, which return the
fragments the page shows (the chat's bubbles, the status line, the source cards, the corpus
table, the notes, the Markdown copy of an answer).

Everything that comes from the articles, the user or the model is data: it goes through
:func:`esc` (HTML) or :func:`md_text` (the chatbot's markdown) before it reaches the page.

Imports ``rag.text`` and the page's strings (``rag.web.strings``), never Gradio.
"""

from __future__ import annotations

import html
import re
from typing import Mapping

from rag.text.fold import fold
from rag.web.strings import UI

CURSOR = " ▍"       # ends the answer while it streams
_CITE = re.compile(r"\[(\d{1,3})\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$^=:])")


# ---- text and markup ------------------------------------------------------------------------
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


# ---- the page's lines -----------------------------------------------------------------------
def header(t: Mapping) -> str:
    """The page's title and subtitle (Markdown) in the strings ``t`` of one language."""
    return f"## {esc(t['title'])}\n{t['subtitle']}"


def examples_title(t: Mapping) -> str:
    return f"**{esc(t['examples'])}**"


def status_html(text: str = "", ui: str = "fr", query: str = "", busy: bool = False, kind: str = "") -> str:
    if not text and not query:
        return '<div class="rag-status"></div>'
    parts = [f'<div class="rag-status {"busy" if busy else ""} {esc(kind)}"><span class="line">{esc(text)}</span>']
    if query:
        parts.append(f'<span class="query">{esc(UI[ui]["searched"])} <q>{esc(query)}</q></span>')
    return "".join(parts) + "</div>"


def scope_note(scope, ui: str) -> str:
    if scope is None:
        return ""
    t = UI[ui]
    what = [t["scoped_docs"].format(n=len(scope.docs))] if scope.docs is not None else []
    if scope.start or scope.end:
        what.append(f"{scope.start or '…'} → {scope.end or '…'}")
    return t["scoped"].format(what=", ".join(what))


def note_html(lines: list[str], kind: str = "") -> str:
    """The corpus panel's or the feedback's note, a line per item; ``kind`` "done" or "error" colours it."""
    return f'<div class="corpus-note {esc(kind)}">' + "".join(f"<div>{esc(x)}</div>" for x in lines) + "</div>"


# ---- sources --------------------------------------------------------------------------------
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


# ---- the corpus panel -----------------------------------------------------------------------
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
