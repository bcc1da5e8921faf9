"""From a question to evidence: dense + lexical search fused by rank (``search``), the user's
scope, the question's time conditions, multi-part questions, the lettered evidence sentences.

Imports the stages below it (``text``, ``ingest``, ``models``, ``store``).
"""
