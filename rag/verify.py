"""Is an answer backed by its evidence? The app decides, not the model.

The check that matters most for numbers: every figure in the answer (that the
question did not already contain) must appear in the evidence it cites, whatever
the notation: "35.000" (French thousands), "35,000", "35 000" and "35" from
"35 trillion" all match the same evidence.

>>> unsupported_numbers("455 projets [1] pour 228 milliards [1]", "Combien ?", ["455 projets d’un montant de 228 milliards"])
[]
>>> unsupported_numbers("Fuzhou compte 8 millions d'habitants [1].", "Population ?", ["Plus de 360 000 personnes"])
['8']
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[ \u00a0\u202f.,]\d{3})*(?:[.,]\d+)?(?![\w])")
_MARKER = re.compile(r"\[\d+(?:[,\s–-]+\d+)*\]")

_MODEL_REFUSALS = re.compile(
    r"(ne (le )?(disent|dit|précisent|mentionnent|mentionne|fournissent|fournit|contiennent|contient|"
    r"donnent|donne|indiquent|indique) pas|aucune (information|mention|donnée)|pas d'information|"
    r"pas mentionné|n'est pas (indiqué|précisé|mentionné)|je ne sais pas|"
    r"(does|do) not (say|mention|specify|provide|contain|state|include|give)|doesn't (say|mention|specify|provide)|"
    r"don't (say|mention|specify|provide)|no information|not (mentioned|specified|provided|stated)|"
    r"cannot be (determined|answered|found)|is not available|i don't know)",
    re.IGNORECASE,
)


def _values(token: str) -> set[float]:
    """Readings of a written number: '35.000' -> {35000, 35.0}, '31,5' -> {31.5}."""
    token = token.replace("\u00a0", " ").replace("\u202f", " ")
    values = set()
    if re.fullmatch(r"\d{1,3}(?:[ .,]\d{3})+", token):
        values.add(float(re.sub(r"[ .,]", "", token)))
    separators = len(re.findall(r"[ .,]", token))
    if separators == 1 and " " not in token:
        values.add(float(token.replace(",", ".")))        # 31,5 or 31.5 (or 35.000, also read above)
    else:
        values.add(float(re.sub(r"[ .,]", "", token)))    # 35 000 / 1.000.000 / "100,000 200,000" run together
    return values


def numbers(text: str) -> list[str]:
    return _NUMBER.findall(_MARKER.sub(" ", text))


def unsupported_numbers(answer: str, question: str, evidence_texts: list[str]) -> list[str]:
    """Figures in the answer found neither in the evidence nor in the question."""
    known: set[float] = set()
    for text in [question, *evidence_texts]:
        for tok in numbers(text):
            known |= _values(tok)
    return [tok for tok in numbers(answer) if not (_values(tok) & known)]


_QUANTITY_QUESTION = re.compile(
    r"\b(combien|how (many|much)|quel(le)?s? (est |sont )?(le |la |les )?(montant|nombre|part|pourcentage|somme|"
    r"valeur|proportion)|what (share|percentage|proportion|amount|number|value))\b", re.IGNORECASE)
_NUMBER_WORDS = re.compile(
    r"\b(dizaines?|douzaines?|vingtaines?|trentaines?|quarantaines?|cinquantaines?|centaines?|milliers?|millions?|"
    r"milliards?|dozens?|hundreds?|thousands?|billions?|trillions?|un|une|deux|trois|quatre|cinq|six|"
    r"sept|huit|neuf|dix|one|two|three|four|five|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty)\b",
    re.IGNORECASE)


def lacks_substance(answer: str, question: str) -> bool:
    """An answer that says nothing: only citation markers, or no quantity for a quantity question.

    >>> lacks_substance("[1] [2] [3]", "How many people attended?")
    True
    >>> lacks_substance("Le budget est de [1] milliards d'euros.", "Quel est le montant du budget ?")
    False
    >>> lacks_substance("Les projets représentent [1].", "Quel est le montant des projets ?")
    True
    >>> lacks_substance("Une quarantaine [1].", "Combien de sous-forums ?")
    False
    """
    text = _MARKER.sub(" ", answer)
    has_figure = bool(_NUMBER.search(text))
    if len(re.findall(r"[^\W\d_]{2,}|\d+", text)) < 2 and not has_figure:
        return True
    return bool(_QUANTITY_QUESTION.search(question)) and not has_figure and not _NUMBER_WORDS.search(text)


def is_model_refusal(answer: str) -> bool:
    """The model said the evidence does not answer (it rarely does on its own).

    >>> is_model_refusal("Les articles ne précisent pas la population de Fuzhou.")
    True
    >>> is_model_refusal("The evidence does not mention it.")
    True
    >>> is_model_refusal("91 entreprises ont rejoint l'association [1].")
    False
    """
    return bool(_MODEL_REFUSALS.search(answer))
