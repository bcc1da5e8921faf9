"""Where the index lives: the store contract (``contract``), the folder store (FAISS + BM25 files,
``folder``), PostgreSQL + pgvector (``pgstore``), the vector and BM25 indexes, and ``storage``,
which picks a store from the settings.

Imports the stages below it (``text``, ``ingest``, ``models``) and ``rag.settings``.
"""
