"""Everything the model reads, and the fixed sentences the app says itself, per language.

The system prompt is the same for every question so llama.cpp's prefix cache
skips it after the first one; the instructions are repeated after the evidence
because a 1.5B model follows the last thing it read.
"""

from __future__ import annotations

# One system prompt for every answer: llama.cpp reuses the KV cache of the longest common prefix, so it is
# computed once per process. The reader has already chosen the sentence and the answer's words; the model only
# phrases them, so the prompt is one sentence long (the first token waits for ~100 prompt tokens, not ~550).
SYSTEM = """You phrase answers to questions about news articles. You get one sentence of an article and the words of it that answer the question. Write ONE short sentence in the requested language that gives exactly what is asked, copying the answer's figures, units and names as written. Use nothing but that sentence.

Example
Sentence: L'usine emploie 350 personnes et produit 2 000 vélos par mois.
Answer words: 350 personnes
Question: How many people work at the plant?
Answer language: English
Answer: The plant employs 350 people."""

WRITE_PREFIX = "Answer:"        # the reply's forced start: the model writes the answer line

LANGUAGE_NAMES = {"fr": "French", "en": "English"}

TEXT = {
    "fr": {
        "refused": "Les articles ne le disent pas : {why}.",
        "part_refused": "Sur « {part} », les articles ne le disent pas ({why}).",
        "larger": "Le plus élevé : {subject} ({figure}).",
        "smaller": "Le plus faible : {subject} ({figure}).",
        "checking": "Vérification de la réponse…",
        "closest": "La phrase la plus proche (elle ne répond pas) :",
        "quoted": "« {span} » (citation de l'article, en {article_lang})",
        "languages": {"fr": "français", "en": "anglais"},
        "empty": "Posez une question sur les articles, par exemple : « Combien d'entreprises ont rejoint "
                 "l'association du métavers du Zhejiang ? »",
        "foreign": "Je réponds aux questions en français ou en anglais : reformulez votre question dans l'une de ces langues.",
        "too_long": "Votre question est trop longue ({n} caractères) : limitez-la à {max} caractères.",
        "searching": "Recherche dans les articles…",
        "reading": "Lecture de {n} phrase(s)…",
        "writing": "Rédaction de la réponse…",
        "rewriting": "Reformulation de la question de suivi…",
    },
    "en": {
        "refused": "The articles don't say: {why}.",
        "part_refused": "On “{part}”, the articles don't say ({why}).",
        "larger": "The larger: {subject} ({figure}).",
        "smaller": "The smaller: {subject} ({figure}).",
        "checking": "Checking the answer…",
        "closest": "The closest sentence (it does not answer):",
        "quoted": "“{span}” (quoted from the article, in {article_lang})",
        "languages": {"fr": "French", "en": "English"},
        "empty": "Ask a question about the articles, for example: \"How much were the investment projects "
                 "signed in Fuzhou worth?\"",
        "foreign": "I answer questions in French or English: please ask again in one of those languages.",
        "too_long": "Your question is too long ({n} characters): keep it under {max} characters.",
        "searching": "Searching the articles…",
        "reading": "Reading {n} sentence(s)…",
        "writing": "Writing the answer…",
        "rewriting": "Rewriting the follow-up question…",
    },
}


def write_messages(question: str, sentence: str, span: str | None, lang: str, strict_language: bool = False
                   ) -> list[dict]:
    """The chat that phrases the reader's answer from its sentence; the reply is forced to start with ``Answer:``.

    >>> m = write_messages("Combien ?", "Actuellement, 91 entreprises ont rejoint.", "91 entreprises", "fr")
    >>> print(m[1]["content"])
    Sentence: Actuellement, 91 entreprises ont rejoint.
    Answer words: 91 entreprises
    Question: Combien ?
    Answer language: French
    """
    language_line = f"Answer language: {LANGUAGE_NAMES[lang]}"
    if strict_language:
        language_line += f" (the sentence may be in another language: write the answer ONLY in {LANGUAGE_NAMES[lang]})"
    words = f"Answer words: {' '.join(span.split())}\n" if span else ""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Sentence: {' '.join(sentence.split())}\n{words}Question: {question}\n"
                                    f"{language_line}"},
    ]


def rewrite_messages(question: str, history: list[dict]) -> list[dict]:
    """Ask for a standalone version of a follow-up question, in its own language."""
    turns = "\n".join(f"{t['role']}: {' '.join(str(t['content']).split())[:300]}" for t in history[-4:])
    return [
        {"role": "system", "content": "You rewrite follow-up questions so they can be understood alone. "
                                      "Reply with the rewritten question only, in the same language as the follow-up."},
        {"role": "user", "content": f"Conversation:\n{turns}\n\nFollow-up: {question}\n\nStandalone question:"},
    ]


def wording() -> str:
    """Everything the model reads, rendered for a fixed example: a change of wording changes this
    (``rag eval`` keys its cached answers with it), a change of the app's own sentences does not."""
    chats = [write_messages("q", "s", "w", "en", strict_language=True), rewrite_messages("q", [{"role": "user", "content": "h"}])]
    return "\n".join([WRITE_PREFIX, *(m["content"] for chat in chats for m in chat)])
