"""Everything the model reads, and the fixed sentences the app says itself, per language.

The system prompt is the same for every question so llama.cpp's prefix cache
skips it after the first one; the instructions are repeated after the evidence
because a 1.5B model follows the last thing it read.
"""

from __future__ import annotations

from .evidence import Evidence

SYSTEM = (
    "You answer questions about news articles. Use ONLY the numbered evidence in the user's message, "
    "never outside knowledge. Put the number of the evidence you used in square brackets after each fact, "
    "like [1]. Answer in one or two short sentences. Follow the requested answer language exactly."
)

LANGUAGE_NAMES = {"fr": "French", "en": "English"}

TEXT = {
    "fr": {
        "refusal": "Les articles ne le disent pas : je n'ai trouvé aucun passage qui réponde à cette question.",
        "unsupported": "Les articles ne le disent pas : la réponse trouvée n'était pas étayée par les passages cités.",
        "missing_figure": "Les articles ne le disent pas : aucun passage ne mentionne {figures}.",
        "empty": "Posez une question sur les articles, par exemple : « Combien d'entreprises ont rejoint "
                 "l'association du métavers du Zhejiang ? »",
        "foreign": "Je réponds aux questions en français ou en anglais : reformulez votre question dans l'une de ces langues.",
        "too_long": "Votre question est trop longue ({n} caractères) : limitez-la à {max} caractères.",
        "searching": "Recherche dans les articles…",
        "reading": "Lecture de {n} passage(s)…",
        "rewriting": "Reformulation de la question de suivi…",
        "translating": "Traduction de la question pour la recherche…",
    },
    "en": {
        "refusal": "The articles don't say: I found no passage that answers this question.",
        "unsupported": "The articles don't say: the answer found was not supported by the cited passages.",
        "missing_figure": "The articles don't say: no passage mentions {figures}.",
        "empty": "Ask a question about the articles, for example: \"How much were the investment projects "
                 "signed in Fuzhou worth?\"",
        "foreign": "I answer questions in French or English: please ask again in one of those languages.",
        "too_long": "Your question is too long ({n} characters): keep it under {max} characters.",
        "searching": "Searching the articles…",
        "reading": "Reading {n} passage(s)…",
        "rewriting": "Rewriting the follow-up question…",
        "translating": "Translating the question for the search…",
    },
}


def answer_messages(question: str, evidence: list[Evidence], lang: str, strict_language: bool = False) -> list[dict]:
    """The chat for one answer.

    >>> from rag.evidence import Evidence
    >>> m = answer_messages("Combien ?", [Evidence(1, "d", "d#0", 0, 3, "91 entreprises.", 1.0)], "fr")
    >>> print(m[1]["content"])
    Evidence:
    [1] 91 entreprises.
    <BLANKLINE>
    Question: Combien ?
    <BLANKLINE>
    Answer in French, in one or two sentences, using only the evidence and citing it like [1].
    """
    lines = "\n".join(f"[{e.n}] {' '.join(e.text.split())}" for e in evidence)
    name = LANGUAGE_NAMES[lang]
    instruction = f"Answer in {name}, in one or two sentences, using only the evidence and citing it like [1]."
    if strict_language:
        instruction += f" The evidence may be in another language: translate, and write your answer ONLY in {name}."
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Evidence:\n{lines}\n\nQuestion: {question}\n\n{instruction}"},
    ]


def rewrite_messages(question: str, history: list[dict]) -> list[dict]:
    """Ask for a standalone version of a follow-up question, in its own language."""
    turns = "\n".join(f"{t['role']}: {' '.join(str(t['content']).split())[:300]}" for t in history[-4:])
    return [
        {"role": "system", "content": "You rewrite follow-up questions so they can be understood alone. "
                                      "Reply with the rewritten question only, in the same language as the follow-up."},
        {"role": "user", "content": f"Conversation:\n{turns}\n\nFollow-up: {question}\n\nStandalone question:"},
    ]


def translate_messages(question: str, target: str) -> list[dict]:
    return [
        {"role": "system", "content": f"Translate the user's question into {LANGUAGE_NAMES[target]}. "
                                      "Reply with the translation only. Keep names and numbers as they are."},
        {"role": "user", "content": question},
    ]
