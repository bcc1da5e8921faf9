"""Articles in: the ``Document`` type, the corpus folder and its formats (``formats/``), passages
with exact offsets (chunking), near-duplicate wire copies, uploads.

Imports ``rag.text`` and ``rag.errors`` only.
"""
