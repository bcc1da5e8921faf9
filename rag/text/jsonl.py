"""Question files in JSON Lines (``rag ask --batch``, ``rag eval --qa``): one object per line, read
as it comes (a batch from stdin is answered line by line), a bad line one error naming
``file:line`` and the fields it needs.

>>> list(records(['{"question": "Combien ?"}', "", '{"question": "Et ?", "id": "b"}'], "q.jsonl"))
[(1, {'question': 'Combien ?'}), (3, {'question': 'Et ?', 'id': 'b'})]
>>> list(records(['{"id": 1}'], "q.jsonl"))
Traceback (most recent call last):
...
rag.errors.RagError: q.jsonl:1: expected a JSON object with a "question" field
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator

from rag.errors import RagError


def records(lines: Iterable[str], name: str, fields: tuple[str, ...] = ("question",)) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-empty line; each must be an object with ``fields``."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            for f in fields:
                item[f]
        except (json.JSONDecodeError, KeyError, TypeError):
            need = " and ".join(f'"{f}"' for f in fields)
            what = f"at least {need}" if len(fields) > 1 else f"a {need} field"
            raise RagError(f"{name}:{n}: expected a JSON object with {what}") from None
        yield n, item
