"""The models: the generator contract and its factory (``generation``), the llama.cpp and
OpenAI-compatible backends, llama.cpp's saved prefix state and HTTP server, the embedder, the
packaged model files and the e5 conversion.

Imports ``rag.text``, ``rag.ingest`` and ``rag.errors``; never ``rag.settings`` at run time
(settings choose backends from here).
"""
