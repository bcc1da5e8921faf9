"""Follow-up questions: does a question lean on the conversation, and its standalone form.

>>> needs_rewrite("Et combien de membres vise-t-elle ?", [{"role": "user", "content": "…"}])
True
>>> needs_rewrite("Combien de membres compte l'association du Zhejiang ?", [{"role": "user", "content": "…"}])
False
>>> needs_rewrite("Et combien ?", [])
False
"""

from __future__ import annotations

import re

from rag.models.generation import Generator
from rag.answer.prompts import rewrite_messages

# Opening with a connective, or leaning on a pronoun.
_DEPENDENT = re.compile(r"^(et|and|mais|but|also|aussi|what about|how about|quid|ou|or)\b|"
                        r"\b(it|they|them|its|their|this|that|those|there|il|elle|ils|elles|leur|leurs|"
                        r"celui|celle|ceux|cela|ça|y|en)\b", re.IGNORECASE)


def needs_rewrite(question: str, history: list[dict] | None) -> bool:
    return bool(history) and (bool(_DEPENDENT.search(question)) or len(question.split()) <= 4)


def standalone(generator: Generator, question: str, history: list[dict]) -> str:
    """The follow-up rewritten by the model to stand alone (the question itself if that fails)."""
    lines = generator.stream(rewrite_messages(question, history), 60).text().strip().splitlines()
    rewritten = lines[0].strip().strip('"«» ') if lines else ""
    return rewritten if 3 <= len(rewritten) <= 400 else question
