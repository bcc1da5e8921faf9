"""Text alone, no models and no files: languages, dates, citation markers, accent folding, stemming.

The bottom stage: it imports nothing of ``rag`` but ``rag.errors``.
"""
