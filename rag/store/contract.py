"""What the pipeline, the web chat and the CLI use of a store — the folder store (``folder``) and
PostgreSQL (``pgstore``) both implement all of it, and ``tests/test_store_contract.py`` runs the
same checks on both. A new store is one module implementing :class:`Store` that passes that suite,
registered in ``rag.store.storage``.

Rows are the store's own passage and sentence keys (list positions in a folder, database ids in
PostgreSQL): a search returns rows, and ``passages[row]`` / ``sentences[row]`` read them back.

The two views of an article every store gives the same way:

>>> from rag.ingest.document import Document
>>> doc = Document("a.txt", "Titre\\nTexte.", "0" * 64, date="2024-04", source="Le Monde")
>>> article_row(doc, passages=3, also_by=["AFP"])["also"], describe_doc(doc, also_by=[])["date"]
(['AFP'], '2024-04')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, Sequence

import numpy as np

from rag.ingest.document import Document

if TYPE_CHECKING:
    from rag.ingest.chunking import Passage
    from rag.models.embedding import Embedder
    from rag.retrieval.scope import Scope


@dataclass
class BuildReport:
    """What one ``rag index`` did: article ids by fate, the skipped files, the formats read, the
    wire copies grouped, the passages now in the store and the texts embedded."""
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)     # articles per format
    duplicates: dict[str, str] = field(default_factory=dict)  # copy → the article it copies
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class Store(Protocol):
    path: object                                   # where it is, for messages
    manifest: dict                                 # embedding model, chunker…; "docs": id → sha256, passages
    docs: Mapping[str, Document]
    passages: Sequence["Passage"]                  # by row
    vectors: np.ndarray                            # by row (``vectors[rows]``)
    sentences: Sequence[tuple[str, int, int]]      # by sentence row: (article, start, end)
    sentence_vectors: np.ndarray
    passage_sentences: Sequence[list[int]]         # passage row → its sentence rows
    duplicates: dict[str, str]                     # wire copy → the article standing for it
    copies: dict[str, list[str]]                   # article → its wire copies

    def articles(self) -> list[dict]:
        """Every article but wire copies, newest first, as :func:`article_row` gives it."""

    def describe(self, doc_id: str, offset: int | None = None) -> dict:
        """What a source shows of its article (:func:`describe_doc`)."""

    def admitted(self, scope: "Scope | None") -> frozenset[str] | None:
        """The articles a question may draw on (``scope``, and no wire copy); None: every article.
        The searches never return a wire copy, whatever they are given."""

    def search_dense(self, query_vectors: np.ndarray, k: int, admitted: frozenset[str] | None) -> list[list[int]]:
        """Per query vector, the ``k`` nearest passage rows among the admitted articles."""

    def search_lexical(self, query: str, k: int, admitted: frozenset[str] | None) -> list[int]:
        """The ``k`` best passage rows for the words of ``query`` among the admitted articles."""

    def remove(self, ids: list[str]) -> None:
        """Keep these articles out of the store from the next build on (their files stay)."""

    def check_model(self, embedder: "Embedder") -> None:
        """A one-line error if the store was built with another embedding model."""


def copies_of(duplicates: Mapping[str, str]) -> dict[str, list[str]]:
    """The inverse of ``duplicates``: article → its copies, in id order."""
    copies: dict[str, list[str]] = {}
    for copy, original in sorted(duplicates.items()):
        copies.setdefault(original, []).append(copy)
    return copies


def label(doc: Document) -> str:
    """How a copy is named in "also published by": its source, else its URL or id."""
    return doc.source or doc.url or doc.id


def also(doc_id: str, copies: Mapping[str, list[str]], docs: Mapping[str, Document]) -> list[str]:
    """The labels of ``doc_id``'s wire copies that ``docs`` holds ("also published by")."""
    return [label(docs[c]) for c in copies.get(doc_id, []) if c in docs]


def describe_doc(doc: Document | None, offset: int | None = None, also_by: list[str] = (), doc_id: str = "") -> dict:
    """Title, date, source, URL, the page of ``offset`` (PDFs) and the other sites that published
    the same text ("also published by")."""
    if doc is None:
        return {"title": doc_id, "date": "", "source": "", "url": "", "also": []}
    out = {"title": doc.title, "date": doc.date, "source": doc.source, "url": doc.url, "also": list(also_by)}
    page = doc.page_of(offset) if offset is not None else None
    if page:
        out["page"] = page
    return out


def article_row(doc: Document, passages: int, also_by: list[str]) -> dict:
    return {"id": doc.id, "title": doc.title, "date": doc.date, "source": doc.source, "url": doc.url,
            "lang": doc.lang, "format": doc.format, "passages": passages, "also": list(also_by)}


def newest_first(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["date"] or "0000", r["id"]), reverse=True)


def admitted_among(dates: Callable[[], Mapping[str, str]], duplicates: Mapping[str, str],
                   scope: "Scope | None") -> frozenset[str] | None:
    """The articles of ``dates()`` (id → date, read only when needed: searches ask on every question)
    that ``scope`` admits and that are no copy; None when that is all of them."""
    if (scope is None or scope.empty) and not duplicates:
        return None
    dates = dates()
    ok = frozenset(i for i, date in dates.items() if i not in duplicates and (scope is None or scope.admits(i, date)))
    return None if len(ok) == len(dates) else ok
