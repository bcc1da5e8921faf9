"""From the reader's sentence to a checked answer: the prompts, follow-up rewriting, the grounding helpers, the
declared checks (``checks``), the gate on the reader's P(answerable) and its fitted curve (``gate.json``).

Imports the stages below it (``text`` … ``retrieval``, ``reader``).
"""
