"""Where the index lives, chosen by ``RAG_STORE``: a folder (the default, ``RAG_INDEX``:
FAISS + BM25 files, ``rag.store.folder``) or a database URL whose scheme names the module
(``postgresql://…``: ``rag.store.pgstore``). A second store is a new module registered here.

Each store module has ``load(location)`` (as it stands), ``open_index(corpus, location, embedder)``
(built first if empty),
``build(corpus, location, embedder, progress, source)`` (incremental; ``source`` names the
folder's articles where one store holds several folders) and ``corpus_of(given,
location, rebuild)``: the folder an index belongs to (see :func:`bind`).

>>> from rag.settings import Settings
>>> location(Settings.load(env={"RAG_STORE": "postgresql://rag@db/news"}))
('rag.store.pgstore', 'postgresql://rag@db/news')
>>> location(Settings.load(env={"RAG_INDEX": "idx"}))
('rag.store.folder', PosixPath('idx'))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.models.embedding import Embedder
    from rag.settings import Settings
    from rag.store.contract import BuildReport

# URL scheme → module
SCHEMES = {"postgresql": "rag.store.pgstore", "postgres": "rag.store.pgstore"}


def location(settings: "Settings") -> tuple[str, object]:
    """(store module, where) for ``settings``."""
    from pathlib import Path

    from rag.errors import RagError

    if "://" in settings.store:
        scheme = settings.store.split("://", 1)[0]
        if scheme not in SCHEMES:
            raise RagError(f"RAG_STORE={redacted(settings.store)!r}: {scheme}:// is not a store; use a folder or "
                           f"{' or '.join(s + '://…' for s in SCHEMES)}")
        return SCHEMES[scheme], settings.store
    return "rag.store.folder", Path(settings.store) if settings.store else settings.index


def bind(settings: "Settings", rebuild: bool = False) -> "Settings":
    """``settings`` with ``corpus`` set to the folder its index belongs to: the one the index
    records when no ``--corpus`` was given (a user's index is never refreshed from the default
    ``seeds/``), and a one-line error when ``--corpus`` names another folder — unless
    ``rebuild`` (``rag index --corpus Y``: replacing its articles on purpose)."""
    module, where = location(settings)
    return settings.replace(corpus=importlib.import_module(module).corpus_of(settings.corpus, where, rebuild))


def load(settings: "Settings"):
    """The store as it stands, neither built nor refreshed (``rag articles``)."""
    module, where = location(settings)
    return importlib.import_module(module).load(where)


def open_index(settings: "Settings", embedder: "Embedder"):
    settings = bind(settings)
    module, where = location(settings)
    return importlib.import_module(module).open_index(settings.corpus, where, embedder)


def build(settings: "Settings", embedder: "Embedder", progress: bool = False) -> "BuildReport":
    """Index ``settings.corpus`` into the store (``rag index``: the given folder replaces another one's)."""
    settings = bind(settings, rebuild=True)
    module, where = location(settings)
    return importlib.import_module(module).build(settings.corpus, where, embedder, progress=progress,
                                                 source=settings.source)


def redacted(url: str) -> str:
    """A URL without its password, for messages.

    >>> redacted("postgresql://rag:secret@db:5432/news")
    'postgresql://rag:***@db:5432/news'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def describe(settings: "Settings") -> str:
    """Where the index is, for messages."""
    _, where = location(settings)
    return redacted(where) if isinstance(where, str) else str(where)
