"""From evidence to a checked answer: the prompts, follow-up rewriting, which sentence the answer
came from (attribution), the grounding rules, the answer type a question wants, the learned gate
and its fitted weights (``gate.json``).

Imports the stages below it (``text`` … ``retrieval``).
"""
