"""The web chat's HTML and Markdown: pure functions of their arguments, which return the
fragments the page shows (the chat's bubbles, the status line, the source cards, the corpus
table, the notes, the Markdown copy of an answer).

Everything that comes from the articles, the user or the model is data: it goes through
:func:`esc` (HTML) or :func:`md_text` (the chatbot's markdown) before it reaches the page.

Imports ``rag.text``, the page's strings (``rag.web.strings``) and which cards the sources panel
shows (``rag.web.cards``), never Gradio.
"""

from __future__ import annotations

import html
import re
from typing import Mapping

from rag.text.fold import fold
from rag.web.cards import Card, Sentence, cards
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


def refusal_markdown(text: str, closest: Mapping | None = None, lang: str = "fr") -> str:
    """A refusal's bubble: its reason, then the sentence that came closest (``Answer.closest``), quoted with
    its article's title, in the answer's language ``lang``, so the reader can judge for themselves."""
    shown = f'<span class="refusal">🚫 {md_text(text)}</span>'
    if not closest:
        return shown
    title = closest.get("title") or closest["doc"]
    return (f'{shown}\n\n{md_text(UI[lang]["closest_one"])}\n\n> {md_text(" ".join(closest["text"].split()))}'
            f'\n>\n> — *{md_text(title)}*')


def error_markdown(message: str) -> str:
    return f'<span class="error">⚠️ {md_text(" ".join(str(message).split()))}</span>'


# ---- the page's lines -----------------------------------------------------------------------
def header(t: Mapping) -> str:
    """The page's title and subtitle (Markdown) in the strings ``t`` of one language."""
    return f"## {esc(t['title'])}\n{t['subtitle']}"


def examples_title(t: Mapping) -> str:
    return f"**{esc(t['examples'])}**"


def status_html(text: str = "", ui: str = "fr", query: str = "", busy: bool = False, kind: str = "",
                elapsed: float | None = None) -> str:
    """The status line; while ``busy``, the seconds ``elapsed`` since the question, which the page
    keeps counting (``static/chat.js``) between the pipeline's steps.

    >>> status_html("Rédaction…", busy=True, elapsed=2.04)
    '<div class="rag-status busy "><span class="line">Rédaction… <span class="elapsed" data-since="2.0">2.0 s</span></span></div>'
    """
    if not text and not query:
        return '<div class="rag-status"></div>'
    clock = f' <span class="elapsed" data-since="{elapsed:.1f}">{elapsed:.1f} s</span>' \
        if busy and elapsed is not None else ""
    parts = [f'<div class="rag-status {"busy" if busy else ""} {esc(kind)}"><span class="line">{esc(text)}{clock}</span>']
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
def highlight(text: str, marks: list[tuple[int, int, str]]) -> str:
    """``text`` escaped, each ``text[start:end]`` of ``marks`` (in order, apart) wrapped in
    ``<mark>`` with the attributes given (markup the caller escaped).

    >>> highlight("a<b> c", [(1, 4, ' id="art-1"'), (5, 6, "")])
    'a<mark id="art-1">&lt;b&gt;</mark> <mark>c</mark>'
    """
    out, pos = [], 0
    for start, end, attributes in marks:
        start, end = max(pos, min(start, len(text))), max(pos, min(end, len(text)))
        out.append(f"{esc(text[pos:start])}<mark{attributes}>{esc(text[start:end])}</mark>")
        pos = end
    return "".join(out) + esc(text[pos:])


def meta_html(meta: Mapping, ui: str) -> str:
    """Date · source · page · "also published by …" of a source, escaped (what is unknown is left out)."""
    t = UI[ui]
    parts = [f'<span class="src-date">{esc(meta["date"])}</span>'] if meta.get("date") else []
    if meta.get("source"):
        parts.append(f'<span class="src-source">{esc(meta["source"])}</span>')
    if meta.get("page"):
        parts.append(esc(t["page"].format(n=meta["page"])))
    if meta.get("also"):
        parts.append(f'<span class="src-also">{esc(t["also"])} {esc(", ".join(meta["also"]))}</span>')
    return f'<div class="src-meta">{" · ".join(parts)}</div>' if parts else ""


def _meta(docs: Mapping, doc_id: str, start: int, describe=None) -> dict:
    """The article's metadata from the index (``Store.describe``), or from the document alone."""
    if describe is not None:
        return describe(doc_id, start)
    doc = docs.get(doc_id)
    return {"date": getattr(doc, "date", ""), "source": getattr(doc, "source", "")}


def card_html(card: Card, docs: Mapping, ui: str, cls: str = "", describe=None) -> str:
    """One source card: article title, date, source and id, the stretch of article read with its
    cited sentences marked, the whole article. Its badge and ``data-cites`` name the ``[n]`` it holds
    (the chat's links find their card by them, ``static/chat.js``); a card of sentences read but not
    cited has neither."""
    doc = docs.get(card.doc)
    title = getattr(doc, "title", "") or card.doc
    text = getattr(doc, "text", "") or ""
    cites = " ".join(map(str, card.cites))
    ident = f' id="src-{card.cites[0]}" data-cites="{cites}"' if cites else ""
    badge = f'<span class="src-n">{esc(cites.replace(" ", ", "))}</span>' if cites else ""
    head = (f'<div class="src-head">{badge}<span class="src-title" title="{esc(title)}">{esc(title)}</span></div>'
            f'{meta_html(_meta(docs, card.doc, max(card.start, 0), describe), ui)}'
            f'<div class="src-doc">{esc(card.doc)}</div>')
    marked = [s for s in card.sentences if s.cite is not None or s.closest]
    if card.start < 0:  # article unavailable: the sentence alone
        [s] = card.sentences
        body = highlight(s.text, [(0, len(s.text), _mark(s))] if marked else [])
        return f'<div class="src-card {cls}"{ident}>{head}<div class="src-text">{body}</div></div>'
    a, b = card.start, card.end
    pre, post = ("…" if a > 0 and text[a - 1] != "\n" else ""), ("…" if b < len(text) and text[b] != "\n" else "")
    inner = highlight(text[a:b], [(s.start - a, s.end - a, _mark(s)) for s in marked])
    whole = highlight(text, [(s.start, s.end, f' id="art-{s.cite}"' if s.cite is not None
                              else ' class="closest"' if s.closest else "") for s in card.sentences])
    article = (f'<details class="article"><summary>{esc(UI[ui]["open"])}</summary>'
               f'<div class="article-text">{whole}</div></details>')
    return f'<div class="src-card {cls}"{ident}>{head}<div class="src-text">{pre}{inner}{post}</div>{article}</div>'


def _mark(s: Sentence) -> str:
    """The attributes of a sentence's highlight in its card: its ``[n]``, or that a refusal points to it."""
    return f' data-cite="{s.cite}"' if s.cite is not None else ' class="closest"'


def _cards(sentences: list[Sentence], docs: Mapping) -> list[Card]:
    return cards(sentences, {s.doc: getattr(docs.get(s.doc), "text", "") or "" for s in sentences})


def _read(evidence: list) -> list[Sentence]:
    return [Sentence(e.doc, e.start, e.end, e.text) for e in evidence]


def _html(shown: list[Card], docs: Mapping, ui: str, cls: str, describe) -> str:
    return "".join(card_html(c, docs, ui, cls, describe) for c in shown)


def evidence_html(evidence: list, docs: Mapping, ui: str, describe=None) -> str:
    """The sources panel as soon as the evidence is retrieved, before any answer: each stretch of
    article read once."""
    t = UI[ui]
    if not evidence:
        return f'<div class="sources"><p class="note">{esc(t["none_found"])}</p></div>'
    shown = _html(_cards(_read(evidence), docs), docs, ui, "", describe)
    return f'<div class="sources"><p class="note">{esc(t["found"])}</p>{shown}</div>'


def sources_html(answer, evidence: list, docs: Mapping, ui: str, describe=None) -> str:
    """The sources panel once the answer is final: the cards holding the cited sentences first (in
    citation order, those sentences marked), the other passages read folded; or the refusal, with the
    card of the sentence that came closest (``Answer.closest``) marked first."""
    t = UI[ui]
    if answer.refused:
        # The refusal's own words are in the question's language: shown here only in the page's.
        why = f'<p>{esc(answer.answer)}</p>' if answer.lang == ui else ""
        parts = [f'<div class="banner refused"><strong>🚫 {esc(t["refused"])}</strong>{why}</div>']
        c = getattr(answer, "closest", None)
        if c:
            key = (c["doc"], c["start"], c["end"])
            shown = _cards([Sentence(c["doc"], c["start"], c["end"], c["text"], closest=True)]
                           + [s for s in _read(evidence) if (s.doc, s.start, s.end) != key], docs)
            nearest = [card for card in shown if any(s.closest for s in card.sentences)]
            parts += [f'<h4>{esc(t["closest_one"])}</h4>', _html(nearest, docs, ui, "closest", describe)]
            parts += _folded([card for card in shown if card not in nearest], docs, ui, describe)
        elif evidence:
            parts.append(f'<h4>{esc(t["closest"])}</h4>')
            parts.append(_html(_cards(_read(evidence), docs), docs, ui, "other", describe))
        return f'<div class="sources">{"".join(parts)}</div>'
    cited = sorted(answer.citations, key=lambda c: c["n"])
    spans = {(c["doc"], c["start"], c["end"]) for c in cited}
    read = [Sentence(c["doc"], c["start"], c["end"], c["text"], c["n"]) for c in cited] + \
        [s for s in _read(evidence) if (s.doc, s.start, s.end) not in spans]
    shown = _cards(read, docs)
    others = [c for c in shown if not c.cites]
    parts = [f'<h4>{esc(t["cited"])}</h4>', _html([c for c in shown if c.cites], docs, ui, "cited", describe)]
    parts += _folded(others, docs, ui, describe)
    return f'<div class="sources">{"".join(parts)}</div>'


def _folded(others: list[Card], docs: Mapping, ui: str, describe) -> list[str]:
    """The other passages read, folded under their count (nothing when there are none)."""
    if not others:
        return []
    return [f'<details class="others"><summary>{esc(UI[ui]["others"])} ({len(others)})</summary>',
            _html(others, docs, ui, "other", describe), "</details>"]


def empty_sources(ui: str) -> str:
    return f'<div class="sources empty"><p class="note">{esc(UI[ui]["sources_empty"])}</p></div>'


def copy_markdown(answer, ui: str) -> str:
    """The answer and its numbered sources (title, date, source, quoted span) as Markdown; a refusal with
    the sentence that came closest."""
    t = UI[ui]
    lines = [answer.answer.strip(), ""]
    closest = getattr(answer, "closest", None) if getattr(answer, "refused", False) else None
    if closest:
        lines += [f"**{t['closest_one']}**", "", _source_line(closest), f"> {' '.join(closest['text'].split())}", ""]
    if answer.citations:
        lines.append(f"**{t['sources']}**")
        lines.append("")
    for c in sorted(answer.citations, key=lambda c: c["n"]):
        lines.append(f"[{c['n']}] {_source_line(c)}")
        lines.append(f"> {' '.join(c['text'].split())}")
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def _source_line(c: Mapping) -> str:
    """Title — date — source <url> of a citation (what is unknown left out)."""
    head = " — ".join(x for x in [c.get("title") or c["doc"], c.get("date") or "", c.get("source") or ""] if x)
    return head + (f" <{c['url']}>" if c.get("url") else "")


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
