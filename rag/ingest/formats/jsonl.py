"""JSON Lines dumps (``.jsonl``): one article per line, an object with ``text`` (or ``content``
/ ``body``) and optionally ``title``, ``date``, ``url``, ``source`` and ``id``. A bad line is
skipped with a warning naming the file and the line; the others are kept."""

from __future__ import annotations

import json
from pathlib import Path

from rag.ingest.formats.base import article, key, read_bytes, skipped, with_title
from rag.ingest.formats.plain import decode

NAME = "jsonl"
_TEXT = ("text", "content", "body")
_DATE = ("date", "published", "published_at", "pubDate")
_SOURCE = ("source", "site", "sitename", "publisher")


def _first(obj: dict, names) -> str:
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict) and isinstance(value.get("name"), str):   # {"source": {"name": …}}
            return value["name"]
    return ""


def read(path: Path, doc_id: str) -> list:
    lines = decode(read_bytes(path, doc_id), doc_id).splitlines()
    out: list = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            out.append(f"{doc_id}:{lineno}: skipped, not valid JSON")
            continue
        body = _first(obj, _TEXT) if isinstance(obj, dict) else ""
        if not body.strip():
            out.append(f"{doc_id}:{lineno}: skipped, not an object with a \"text\" field")
            continue
        title, url = _first(obj, ("title", "headline")), _first(obj, ("url", "link"))
        entry_id = f"{doc_id}:{obj.get('id') if isinstance(obj.get('id'), (str, int)) else key(url or title or body)}"
        out.append(article(entry_id, with_title(title, body), line, NAME, title=title, date=_first(obj, _DATE),
                           source=_first(obj, _SOURCE), url=url))
    if not any(not isinstance(x, str) for x in out):
        raise skipped(doc_id, "no line holds an article (JSON objects with a \"text\" field)")
    return out
