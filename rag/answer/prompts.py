"""Everything the model reads, and the fixed sentences the app says itself, per language.

The system prompt is the same for every question so llama.cpp's prefix cache
skips it after the first one; the instructions are repeated after the evidence
because a 1.5B model follows the last thing it read.
"""

from __future__ import annotations

from rag.retrieval.evidence import Evidence

# One system prompt for every call (answers and graded checks): llama.cpp reuses the KV
# cache of the longest common prefix, so this part is computed once per process. The
# examples teach the two things a 1.5B model gets wrong: NONE when no sentence states
# exactly what is asked (attribute, entity, time), and figures copied as written.
SYSTEM = """You work on news articles, using ONLY the lettered sentences the user gives, never outside knowledge.

To answer a question, write three lines:
Source: the letter of the sentence that states the answer, or NONE when no sentence states exactly what is asked: the asked attribute, of the asked person, organisation or place, for the asked date, edition or period.
Quote: that sentence, word for word.
Answer: one short sentence in the requested language that gives exactly what is asked (the name, the figure with its unit, the date, the reason), taken from the quote, copying its figures, units and names exactly; never just repeat the question.

Example
Sentences:
Article: Orbis ouvre une usine à Lyon
[A] La société Orbis a ouvert une usine à Lyon en 2021.
[B] L'usine emploie 350 personnes et produit 2 000 vélos par mois.
Question: How many people work at the Orbis plant?
Answer language: English
Source: B
Quote: L'usine emploie 350 personnes et produit 2 000 vélos par mois.
Answer: The Orbis plant in Lyon employs 350 people.

Example
Sentences:
Article: Orbis ouvre une usine à Lyon
[A] L'usine, financée par la banque publique Bpifrance, a ouvert en 2021.
[B] Elle emploie 350 personnes.
Question: Quelle institution a financé l'usine ?
Answer language: French
Source: A
Quote: L'usine, financée par la banque publique Bpifrance, a ouvert en 2021.
Answer: La banque publique Bpifrance a financé l'usine.

Example
Sentences:
Article: Le festival de Nantes
[A] Le festival a vendu 12 000 billets en 2023.
[B] Il se tient chaque année à Nantes.
Question: Combien de billets le festival a-t-il vendus en 2024 ?
Answer language: French
Source: NONE

Example
Sentences:
Article: Le festival de Nantes
[A] Le festival a vendu 12 000 billets en 2023.
[B] Il se tient chaque année à Nantes.
Question: What is the population of Nantes?
Answer language: English
Source: NONE"""

ANSWER_PREFIX = "Source:"
QUOTE = "\nQuote: {sentence}\nAnswer:"   # written by the app after the chosen letter
GRADE_PREFIX = "Grade: "  # Qwen writes digits as their own tokens, after a space token
NONE_LABEL = "NONE"

LANGUAGE_NAMES = {"fr": "French", "en": "English"}

TEXT = {
    "fr": {
        "refused": "Les articles ne le disent pas : {why}.",
        "part_refused": "Sur « {part} », les articles ne le disent pas ({why}).",
        "larger": "Le plus élevé : {subject} ({figure}).",
        "smaller": "Le plus faible : {subject} ({figure}).",
        "checking": "Vérification de la réponse…",
        "closest": "La phrase la plus proche (elle ne répond pas) :",
        # Why an answer was refused: the check that refused it, in a few words.
        "why": {
            "no_evidence": "aucun passage ne traite de cette question",
            "missing_figure": "aucun passage ne mentionne {figures}",
            "p_none": "aucune phrase des articles ne l'énonce",
            "p_source": "aucune phrase des articles ne l'énonce clairement",
            "grade": "la phrase la plus proche ne donne pas ce qui est demandé",
            "type_match": "la réponse trouvée n'est pas du type demandé",
            "names_missing": "un nom de la réponse ne figure dans aucun passage",
            "retrieval": "les passages trouvés sont trop éloignés de la question",
            "evidence": "les passages trouvés sont trop éloignés de la question",
            "english": "aucune phrase des articles ne l'énonce clairement",
            "invented_figure": "un chiffre de la réponse ne figure dans aucun passage",
            "other_article": "un chiffre de la réponse vient d'un autre article que celui cité",
            "unit": "le chiffre trouvé n'est pas dans l'unité demandée",
            "marker_figure": "la réponse remplaçait un chiffre par un renvoi",
            "name": "un nom de la réponse ne figure dans aucun passage",
            "empty": "la réponse trouvée ne disait rien",
            "protocol": "le modèle n'a écrit que le format de la réponse, sans réponse",
            "restated": "la réponse trouvée ne faisait que reprendre la question",
            "model_refused": "le modèle n'a trouvé la réponse dans aucun passage",
        },
        "empty": "Posez une question sur les articles, par exemple : « Combien d'entreprises ont rejoint "
                 "l'association du métavers du Zhejiang ? »",
        "foreign": "Je réponds aux questions en français ou en anglais : reformulez votre question dans l'une de ces langues.",
        "too_long": "Votre question est trop longue ({n} caractères) : limitez-la à {max} caractères.",
        "searching": "Recherche dans les articles…",
        "reading": "Lecture de {n} passage(s)…",
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
        "why": {
            "no_evidence": "no passage is about this question",
            "missing_figure": "no passage mentions {figures}",
            "p_none": "no sentence of the articles states it",
            "p_source": "no sentence of the articles states it clearly",
            "grade": "the closest sentence does not give what is asked",
            "type_match": "the answer found is not of the kind asked",
            "names_missing": "a name in the answer is in no passage",
            "retrieval": "the passages found are too far from the question",
            "evidence": "the passages found are too far from the question",
            "english": "no sentence of the articles states it clearly",
            "invented_figure": "a figure in the answer is in no passage",
            "other_article": "a figure in the answer comes from another article than the one cited",
            "unit": "the figure found is not in the unit asked",
            "marker_figure": "the answer put a citation where a figure should be",
            "name": "a name in the answer is in no passage",
            "empty": "the answer found said nothing",
            "protocol": "the model wrote only the answer's format, no answer",
            "restated": "the answer found only repeated the question",
            "model_refused": "the model found the answer in no passage",
        },
        "empty": "Ask a question about the articles, for example: \"How much were the investment projects "
                 "signed in Fuzhou worth?\"",
        "foreign": "I answer questions in French or English: please ask again in one of those languages.",
        "too_long": "Your question is too long ({n} characters): keep it under {max} characters.",
        "searching": "Searching the articles…",
        "reading": "Reading {n} passage(s)…",
        "writing": "Writing the answer…",
        "rewriting": "Rewriting the follow-up question…",
    },
}


def evidence_block(evidence: list[Evidence], titles: dict[str, str]) -> str:
    """The lettered sentences, under the title of their article.

    >>> from rag.retrieval.evidence import Evidence
    >>> print(evidence_block([Evidence(1, "d", "d#0", 0, 3, "91 entreprises.", 1.0)], {"d": "Zhejiang"}))
    Article: Zhejiang
    [A] 91 entreprises.
    """
    lines, doc = [], None
    for e in evidence:
        if e.doc != doc:
            doc = e.doc
            lines.append(f"Article: {' '.join(titles.get(doc, doc).split())}")
        lines.append(f"[{e.label}] {' '.join(e.text.split())}")
    return "\n".join(lines)


def answer_messages(question: str, evidence: list[Evidence], titles: dict[str, str], lang: str,
                    strict_language: bool = False) -> list[dict]:
    """The chat for one answer; the reply is then forced to start with ``Source:``.

    >>> from rag.retrieval.evidence import Evidence
    >>> m = answer_messages("Combien ?", [Evidence(1, "d", "d#0", 0, 3, "91 entreprises.", 1.0)], {"d": "Zj"}, "fr")
    >>> print(m[1]["content"])
    Sentences:
    Article: Zj
    [A] 91 entreprises.
    Question: Combien ?
    Answer language: French
    """
    language_line = f"Answer language: {LANGUAGE_NAMES[lang]}"
    if strict_language:
        language_line += f" (the sentences may be in another language: write the answer ONLY in {LANGUAGE_NAMES[lang]})"
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Sentences:\n{evidence_block(evidence, titles)}\nQuestion: {question}\n"
                                    f"{language_line}"},
    ]


def grade_messages(question: str, sentences: list[str]) -> list[dict]:
    """The chat for the graded check of (question, cited sentence); the reply starts with ``Grade: ``.

    The system prompt is the answers' one, so llama.cpp reuses its cache; the task is in the user turn.
    """
    text = " ".join(" ".join(s.split()) for s in sentences)
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Grade how well the sentence answers the question, with one digit: 2 if it gives "
                                    "what the question asks (the asked attribute of the asked subject, for the asked "
                                    "time); 1 if it is about the subject but does not give what is asked; 0 if it is "
                                    f"unrelated.\nQuestion: {question}\nSentence: {text}"},
    ]


def translate_messages(question: str, french: str) -> list[dict]:
    """The chat that phrases a short French answer in English (``RAG_ENGLISH_VIA_FRENCH``).

    >>> print(translate_messages("How many?", "91 entreprises.")[1]["content"])
    Question: How many?
    French answer: 91 entreprises.
    English answer:
    """
    return [
        {"role": "system", "content": "You translate a short French answer into English, as one short sentence that "
                                      "answers the question. Keep every figure, unit and name exactly as written."},
        {"role": "user", "content": f"Question: {question}\nFrench answer: {french}\nEnglish answer:"},
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
    evidence = [Evidence(1, "d", "d#0", 0, 1, "x", 1.0)]
    chats = [answer_messages("q", evidence, {"d": "t"}, "en", strict_language=True), grade_messages("q", ["x"]),
             translate_messages("q", "r"), rewrite_messages("q", [{"role": "user", "content": "h"}])]
    return "\n".join([ANSWER_PREFIX, QUOTE, GRADE_PREFIX, NONE_LABEL, *(m["content"] for chat in chats for m in chat)])

