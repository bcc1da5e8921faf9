"""The web chat's words: every string of the page, one table per interface language (``UI["fr"]``,
``UI["en"]``, the same keys and the same ``{placeholders}``: tests/test_strings.py), the
components whose labels follow the language (``LABELS``), the example questions and the page's
language (``ui_lang``: the setting, else the browser's).

Imports nothing of ``rag``: the tables are data.
"""

from __future__ import annotations

UI = {
    "fr": {
        "title": "Questions sur les articles",
        "subtitle": "Réponses hors ligne, tirées uniquement des articles, avec leurs sources [n]. "
                    "Posez vos questions en français ou en anglais.",
        "chat": "Conversation", "question": "Votre question", "send": "Envoyer", "stop": "Arrêter",
        "new": "Nouvelle conversation", "interface": "Langue de la page",
        "placeholder": "Posez une question sur les articles…", "examples": "Exemples",
        "sources": "Sources", "sources_empty": "Les passages des articles utilisés pour répondre apparaîtront ici.",
        "found": "Passages trouvés : ceux que la réponse cite viendront en tête, numérotés.",
        "none_found": "Aucun passage des articles ne correspond à la question.",
        "cited": "Sources citées", "others": "Autres passages lus", "closest": "Passages les plus proches (aucun ne répond)",
        "closest_one": "La phrase la plus proche (elle ne répond pas) :",
        "open": "Voir l'article entier", "refused": "Les articles ne le disent pas",
        "waiting": "Question envoyée : en attente de l'assistant…", "searched": "Recherche effectuée pour :",
        "rewriting": "Reformulation de la question…", "searching": "Recherche dans les articles…",
        "reading": "Lecture de {n} phrase(s)…", "writing": "Rédaction…", "checking": "Vérification…",
        "restart": "Réponse reprise dans la bonne langue…", "stopped": "Arrêté.", "stopped_msg": "(arrêté)",
        "answered": "Répondu en {total:.1f} s (sources après {retrieve:.1f} s).",
        "no_answer": "Pas de réponse dans les articles ({total:.1f} s).", "error": "Erreur.",
        "unexpected": "Erreur inattendue ({name}) : consultez la console du serveur.",
        "corpus": "Articles", "search": "Chercher un article", "search_ph": "titre, source…",
        "columns": ["Date", "Titre", "Source", "Passages"],
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
        "feedback_saved": "Merci : avis enregistré ({verdict}).",
        "feedback_why": "Merci. Qu'est-ce qui ne va pas ? (la bonne réponse, par exemple)",
        "feedback_comment": "Commentaire sur la réponse notée",
        "open_comment": "Ajouter un commentaire", "send_comment": "Enregistrer", "cancel_comment": "Annuler",
        "comment_saved": "Commentaire enregistré. Merci.",
        "comment_none": "Notez d'abord une réponse avec 👍 ou 👎.",
        "like": "👍",
        "copy_md": "Copier la réponse en Markdown", "copied": "Réponse et sources copiées en Markdown.",
        "also": "aussi publié par", "page": "p. {n}",
    },
    "en": {
        "title": "Questions about the articles",
        "subtitle": "Offline answers drawn only from the articles, with their sources [n]. "
                    "Ask in English or French.",
        "chat": "Conversation", "question": "Your question", "send": "Send", "stop": "Stop",
        "new": "New conversation", "interface": "Page language",
        "placeholder": "Ask a question about the articles…", "examples": "Examples",
        "sources": "Sources", "sources_empty": "The article passages used for the answer will appear here.",
        "found": "Passages found: the ones the answer cites will come first, numbered.",
        "none_found": "No passage of the articles matches the question.",
        "cited": "Cited sources", "others": "Other passages read", "closest": "Closest passages (none answers)",
        "closest_one": "The closest sentence (it does not answer):",
        "open": "Open the whole article", "refused": "The articles don't say",
        "waiting": "Question sent: waiting for the assistant…", "searched": "Searched for:",
        "rewriting": "Rewriting the question…", "searching": "Searching the articles…",
        "reading": "Reading {n} sentence(s)…", "writing": "Writing…", "checking": "Checking…",
        "restart": "Answering again in the right language…", "stopped": "Stopped.", "stopped_msg": "(stopped)",
        "answered": "Answered in {total:.1f} s (sources after {retrieve:.1f} s).",
        "no_answer": "No answer in the articles ({total:.1f} s).", "error": "Error.",
        "unexpected": "Unexpected error ({name}): see the server console.",
        "corpus": "Articles", "search": "Search the articles", "search_ph": "title, source…",
        "columns": ["Date", "Title", "Source", "Passages"],
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
        "feedback_saved": "Thank you: rating saved ({verdict}).",
        "feedback_why": "Thank you. What is wrong? (the right answer, for instance)",
        "feedback_comment": "Comment on the rated answer",
        "open_comment": "Add a comment", "send_comment": "Save", "cancel_comment": "Cancel",
        "comment_saved": "Comment saved. Thank you.",
        "comment_none": "First rate an answer with 👍 or 👎.",
        "like": "👍",
        "copy_md": "Copy the answer as Markdown", "copied": "Answer and sources copied as Markdown.",
        "also": "also published by", "page": "p. {n}",
    },
}
# The page's language switch: each language named in itself.
LANG_CHOICES = [("Français", "fr"), ("English", "en")]
# Example questions, each with the article that answers it: the page offers those whose article
# is in the index (the seed articles' questions on the seeds, none on a folder of other news).
EXAMPLES = {
    "fr": [("Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?", "000_00be9f381121e8cb.txt"),
           ("Quelle est la puissance de calcul de Pékin ?", "003_07330a991d80551d.txt"),
           ("Qui a signé l'accord avec l'Alliance numérique ?", "004_b5e8a2f965ec1323.txt")],
    "en": [("How much were the investment projects signed in Fuzhou worth?", "001_eff1faf9964d099f.txt"),
           ("How many companies joined the Zhejiang metaverse association?", "000_00be9f381121e8cb.txt"),
           ("What computing power does Beijing aim for?", "003_07330a991d80551d.txt")],
}


def examples_for(ids) -> dict[str, list[str]]:
    """The example questions whose article is among ``ids``, per interface language.

    >>> examples_for({"003_07330a991d80551d.txt"})["en"]
    ['What computing power does Beijing aim for?']
    """
    return {lang: [q for q, doc in pairs if doc in ids] for lang, pairs in EXAMPLES.items()}


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
    ("ui", {"label": "interface"}),
    ("copy", {"value": "copy_md"}),
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
    ("open_comment", {"value": "open_comment"}),
    ("send_comment", {"value": "send_comment"}),
    ("cancel_comment", {"value": "cancel_comment"}),
]


def ui_lang(setting: str | None, accept_language: str | None = None) -> str:
    """One interface language for the whole page: the setting if it names one, else the first of
    French and English in the browser's ``Accept-Language`` preferences, else French.

    >>> ui_lang("en", "fr-FR"), ui_lang("auto", "de-DE,de;q=0.9,en;q=0.8,fr;q=0.5"), ui_lang("auto", "de")
    ('en', 'en', 'fr')
    """
    if setting in UI:
        return setting
    ranked = []
    for i, item in enumerate(str(accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if q > 0:                               # q=0: "not this language"
            ranked.append((-q, i, tag.strip().lower()[:2]))
    return next((tag for _, _, tag in sorted(ranked) if tag in UI), "fr")
