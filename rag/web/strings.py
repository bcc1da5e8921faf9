"""The web chat's words: every string of the page, one table per interface language (``UI["fr"]``,
``UI["en"]``, the same keys and the same ``{placeholders}``: tests/test_strings.py), the
components whose labels follow the language (``LABELS``), the example questions and the choice
of the answer language.

Imports nothing of ``rag``: the tables are data.
"""

from __future__ import annotations

UI = {
    "fr": {
        "title": "Questions sur les articles",
        "subtitle": "Réponses hors ligne, tirées uniquement des articles, avec leurs sources [n]. "
                    "Posez vos questions en français ou en anglais.",
        "chat": "Conversation", "question": "Votre question", "send": "Envoyer", "stop": "Arrêter",
        "new": "Nouvelle conversation", "lang": "Langue de la réponse",
        "placeholder": "Posez une question sur les articles…", "examples": "Exemples · Examples",
        "sources": "Sources", "sources_empty": "Les passages des articles utilisés pour répondre apparaîtront ici.",
        "found": "Passages trouvés : ceux que la réponse cite viendront en tête, numérotés.",
        "none_found": "Aucun passage des articles ne correspond à la question.",
        "cited": "Sources citées", "others": "Autres passages lus", "closest": "Passages les plus proches (aucun ne répond)",
        "open": "Voir l'article entier", "refused": "Les articles ne le disent pas",
        "waiting": "Question envoyée : en attente de l'assistant…", "searched": "Recherche effectuée pour :",
        "restart": "Réponse reprise dans la bonne langue…", "stopped": "Arrêté.", "stopped_msg": "(arrêté)",
        "answered": "Répondu en {total:.1f} s (sources après {retrieve:.1f} s).",
        "no_answer": "Pas de réponse dans les articles ({total:.1f} s).", "error": "Erreur.",
        "unexpected": "Erreur inattendue ({name}) : consultez la console du serveur.",
        "corpus": "Articles", "search": "Chercher un article", "search_ph": "titre, source…",
        "columns": ["Date", "Titre", "Source", "Passages"], "count": "{n} article(s)",
        "restrict": "Limiter les questions à ces articles (vide : tous)",
        "date_from": "À partir du", "date_to": "Jusqu'au", "date_ph": "ex. 2024-01 ou avril 2024",
        "bad_date": "Date non comprise : « {value} » (essayez 2024-04 ou 12 avril 2024).",
        "scoped": "Recherche limitée : {what}.", "scoped_docs": "{n} article(s) choisi(s)",
        "upload": "Ajouter des articles (.txt .md .html .pdf .docx .rss .atom .jsonl, 20 Mo max. chacun)",
        "uploaded": "{n} fichier(s) ajouté(s) ; index à jour : {total} articles.",
        "refused_files": "Refusé(s) :", "skipped_files": "Ignoré(s) :",
        "no_upload_folder": "Cette archive partagée n'a pas de dossier ici : lancez le chat avec --corpus DOSSIER "
                            "pour y ajouter des articles.",
        "remove": "Retirer les articles choisis", "removed": "{n} article(s) retiré(s) de l'index.",
        "remove_none": "Choisissez d'abord les articles à retirer dans la liste ci-dessus.",
        "indexing": "Indexation des articles…",
        "feedback_saved": "Merci : avis enregistré ({verdict}). Ajoutez un commentaire si vous voulez.",
        "feedback_comment": "Commentaire sur la dernière réponse notée (facultatif : la bonne réponse, par ex.)",
        "send_comment": "Enregistrer le commentaire", "comment_saved": "Commentaire enregistré.",
        "comment_none": "Notez d'abord une réponse avec 👍 ou 👎.",
        "like": "👍", "dislike": "👎",
        "markdown": "Dernière réponse et ses sources, en Markdown (bouton copier)",
        "also": "aussi publié par", "page": "p. {n}", "undated": "date inconnue", "interface": "Langue",
    },
    "en": {
        "title": "Questions about the articles",
        "subtitle": "Offline answers drawn only from the articles, with their sources [n]. "
                    "Ask in English or French.",
        "chat": "Conversation", "question": "Your question", "send": "Send", "stop": "Stop",
        "new": "New conversation", "lang": "Answer language",
        "placeholder": "Ask a question about the articles…", "examples": "Examples · Exemples",
        "sources": "Sources", "sources_empty": "The article passages used for the answer will appear here.",
        "found": "Passages found: the ones the answer cites will come first, numbered.",
        "none_found": "No passage of the articles matches the question.",
        "cited": "Cited sources", "others": "Other passages read", "closest": "Closest passages (none answers)",
        "open": "Open the whole article", "refused": "The articles don't say",
        "waiting": "Question sent: waiting for the assistant…", "searched": "Searched for:",
        "restart": "Answering again in the right language…", "stopped": "Stopped.", "stopped_msg": "(stopped)",
        "answered": "Answered in {total:.1f} s (sources after {retrieve:.1f} s).",
        "no_answer": "No answer in the articles ({total:.1f} s).", "error": "Error.",
        "unexpected": "Unexpected error ({name}): see the server console.",
        "corpus": "Articles", "search": "Search the articles", "search_ph": "title, source…",
        "columns": ["Date", "Title", "Source", "Passages"], "count": "{n} article(s)",
        "restrict": "Restrict questions to these articles (empty: all)",
        "date_from": "From", "date_to": "Until", "date_ph": "e.g. 2024-01 or April 2024",
        "bad_date": "Date not understood: \"{value}\" (try 2024-04 or 12 April 2024).",
        "scoped": "Search restricted: {what}.", "scoped_docs": "{n} chosen article(s)",
        "upload": "Add articles (.txt .md .html .pdf .docx .rss .atom .jsonl, 20 MB max. each)",
        "uploaded": "{n} file(s) added; index up to date: {total} articles.",
        "refused_files": "Refused:", "skipped_files": "Skipped:",
        "no_upload_folder": "This shared archive has no folder on this machine: start the chat with --corpus DIR "
                            "to add articles to it.",
        "remove": "Remove the chosen articles", "removed": "{n} article(s) removed from the index.",
        "remove_none": "First choose the articles to remove in the list above.",
        "indexing": "Indexing the articles…",
        "feedback_saved": "Thank you: rating saved ({verdict}). Add a comment if you like.",
        "feedback_comment": "Comment on the last rated answer (optional: the right answer, for instance)",
        "send_comment": "Save the comment", "comment_saved": "Comment saved.",
        "comment_none": "First rate an answer with 👍 or 👎.",
        "like": "👍", "dislike": "👎",
        "markdown": "Last answer and its sources, as Markdown (copy button)",
        "also": "also published by", "page": "p. {n}", "undated": "date unknown", "interface": "Language",
    },
}
LANG_CHOICES = [("Auto", "auto"), ("Français", "fr"), ("English", "en")]
EXAMPLES = [
    "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?",
    "How much were the investment projects signed in Fuzhou worth?",
    "Quelle est la puissance de calcul de Pékin ?",
    "Who signed the agreement with the Alliance numérique?",
]


# The components whose text follows the interface language, in the order ``handlers.relabel``
# returns their updates: each shown property and the key of its string. None: the Markdown of
# the header and of the examples' title, made by ``render.header`` and ``render.examples_title``.
LABELS = [
    ("header", None),
    ("chat", {"label": "chat"}),
    ("box", {"label": "question", "placeholder": "placeholder"}),
    ("send", {"value": "send"}),
    ("stop", {"value": "stop"}),
    ("new", {"value": "new"}),
    ("lang", {"label": "lang"}),
    ("examples_title", None),
    ("corpus", {"label": "corpus"}),
    ("search", {"label": "search", "placeholder": "search_ph"}),
    ("table", {"headers": "columns"}),
    ("picked", {"label": "restrict"}),
    ("date_from", {"label": "date_from", "placeholder": "date_ph"}),
    ("date_to", {"label": "date_to", "placeholder": "date_ph"}),
    ("upload", {"label": "upload"}),
    ("remove", {"value": "remove"}),
    ("comment", {"label": "feedback_comment"}),
    ("send_comment", {"value": "send_comment"}),
    ("markdown", {"label": "markdown"}),
]


def ui_lang(setting: str | None, browser: str | None = None) -> str:
    """One interface language for the whole page: the language setting, else (Auto) the
    browser's language if it is French or English, else French (the articles' language)."""
    if setting in ("fr", "en"):
        return setting
    browser = str(browser or "").lower()[:2]
    return browser if browser in UI else "fr"
