"""Is every figure and name of an answer in the sentence it cites? Hard rules, no model.

A figure matches whatever its notation: ``360 000``, ``360,000``, ``360.000`` and
``360000`` are one value; ``2,5 %`` is 2.5; ``228 milliards`` also reads 228e9, so
``228 billion`` matches it; number words are read by ``text2num`` ("vingt" → 20) and
approximate ones ("une quarantaine" ≈ 40) match the figure they round.

The rules that read them are declared in ``rag.answer.checks``.

>>> figure_problem("Elle compte une quarantaine d'entreprises.", "Combien ?",
...                [_ev(1, "a", "Plus de 40 entreprises ont rejoint le centre.")], [], "fr") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text import citations
from rag.text.stemming import analyse
from rag.retrieval.evidence import Evidence

# A written figure: 91, 360 000, 360,000, 2,5, 31.5, 1.000.000
# An ordinal suffix belongs to the figure: "1er novembre", "8e Sommet", "9th summit".
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[ \u00a0\u202f.,]\d{3})*(?:[.,]\d+)?(?=(?:er|re|e|ème|st|nd|rd|th)?(?!\w))")
_SCALES = {"mille": 1e3, "thousand": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "mn": 1e6, "m": 1e6,
           "milliard": 1e9, "milliards": 1e9, "billion": 1e9, "billions": 1e9, "bn": 1e9,
           "trillion": 1e12, "trillions": 1e12, "tn": 1e12, "billiard": 1e15}
# Rounded counts the article or the answer may write in words: "une quarantaine" ≈ 40.
# text2num reads exact number words only.
_APPROXIMATE = {"dizaine": 10, "douzaine": 12, "quinzaine": 15, "vingtaine": 20, "trentaine": 30,
                "quarantaine": 40, "cinquantaine": 50, "soixantaine": 60, "centaine": 100, "millier": 1000,
                "dozen": 12, "score": 20, "hundreds": 100, "thousands": 1000, "dozens": 12}
_APPROX_WORD = re.compile(r"\b(" + "|".join(_APPROXIMATE) + r")s?\b", re.IGNORECASE)
_CURRENCIES = {"yuan": "CNY", "yuans": "CNY", "rmb": "CNY", "renminbi": "CNY", "dollar": "USD", "dollars": "USD",
               "$": "USD", "usd": "USD", "us$": "USD", "euro": "EUR", "euros": "EUR", "€": "EUR", "eur": "EUR",
               "%": "%", "pour cent": "%", "percent": "%", "per cent": "%"}
_UNIT = re.compile(r"^\s*(?:(?:de |d'|d’|of )?(?:" + "|".join(sorted(map(re.escape, _SCALES), key=len, reverse=True))
                   + r")\b\s*)?(?:de |d'|d’|of )?(" + "|".join(sorted(map(re.escape, _CURRENCIES), key=len, reverse=True))
                   + r")(?!\w)", re.IGNORECASE)
_SCALE_AFTER = re.compile(r"^\s*(?:de |of )?(" + "|".join(sorted(map(re.escape, _SCALES), key=len, reverse=True))
                          + r")\b", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(r"(US\$|\$|€)\s*$")
# A figure in digits with its scale word, left as written when number words are read.
_WRITTEN = re.compile(r"\d+(?:[ \u00a0\u202f.,]\d+)*(?:\s*(?:%s)\b)?"
                      % "|".join(sorted(map(re.escape, _SCALES), key=len, reverse=True)), re.IGNORECASE)
# "[1] billion", "of [1]": a citation where a figure should be (the model copied the marker).
MARKER_FIGURE = re.compile(r"\[\d+\]\s*(?:" + "|".join(sorted(map(re.escape, _SCALES), key=len, reverse=True))
                            + r"|%|yuans?|dollars?|euros?)\b|\b(?:of|de|à|at|to|about|environ)\s+\[\d+\]",
                            re.IGNORECASE)
_MODEL_REFUSALS = re.compile(
    r"(ne (le )?(disent|dit|précisent|précise|mentionnent|mentionne|fournissent|fournit|contiennent|contient|"
    r"donnent|donne|indiquent|indique) pas|aucune (information|mention|donnée)|pas d'information|"
    r"pas mentionné|n'est pas (indiqué|précisé|mentionné)|je ne sais pas|"
    r"(does|do) not (say|mention|specify|provide|contain|state|include|give)|doesn't (say|mention|specify|provide)|"
    r"don't (say|mention|specify|provide)|no information|not (mentioned|specified|provided|stated)|"
    r"cannot be (determined|answered|found)|is not available|i don't know|^\s*none\b)",
    re.IGNORECASE,
)
# A yes/no answer restates the question by nature: "Non, le plan n'autorise pas la spéculation."
_POLARITY = re.compile(r"\b(oui|non|ne|n|pas|jamais|aucun|aucune|ni|yes|no|not|never|none|nor)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![\w'’-])([A-ZÀ-ÖØ-Þ][\w’'-]{2,})")


@dataclass(frozen=True)
class Figure:
    text: str
    values: frozenset[float]     # every reading: raw and with its scale word
    unit: str | None             # CNY, USD, EUR, % or None


def _ev(n: int, doc: str, text: str) -> Evidence:
    return Evidence(n, doc, f"{doc}#0", 0, len(text), text, 1.0)




def _readings(token: str) -> set[float]:
    """'35.000' → {35000, 35.0}; '31,5' → {31.5}; '360 000' → {360000}."""
    token = token.replace("\u00a0", " ").replace("\u202f", " ")
    values = set()
    if re.fullmatch(r"\d{1,3}(?:[ .,]\d{3})+", token):
        values.add(float(re.sub(r"[ .,]", "", token)))
    if len(re.findall(r"[ .,]", token)) == 1 and " " not in token:
        values.add(float(token.replace(",", ".")))
    else:
        values.add(float(re.sub(r"[ .,]", "", token)))
    return values


def _digits(text: str, lang: str) -> str:
    """Number words written as digits ("vingt entreprises" → "20 entreprises"), by text2num. A figure already
    in digits keeps its scale word ("228 milliards"): text2num would write that "228 1000000000".

    >>> _digits("Quatre-vingt-onze entreprises, 228 milliards et deux milliards", "fr")
    '91 entreprises, 228 milliards et 2000000000'
    """
    try:
        from text_to_num import alpha2digit
    except ImportError:        # the figures written in digits are still checked
        return text
    try:
        out, at = [], 0
        for m in _WRITTEN.finditer(text):
            out += [alpha2digit(text[at:m.start()], lang), m.group()]      # text2num 2.5 and 3.x: (text, lang)
            at = m.end()
        return "".join(out + [alpha2digit(text[at:], lang)])
    except Exception:  # noqa: BLE001 - a parser failure must not lose the answer: keep the text as written
        return text


def figures(text: str, lang: str = "fr") -> list[Figure]:
    """Every figure of ``text`` with its readings and unit.

    >>> [(f.text, sorted(f.values), f.unit) for f in figures("228 milliards de yuans (31,5 milliards de dollars)")]
    [('228', [228.0, 228000000000.0], 'CNY'), ('31,5', [31.5, 31500000000.0], 'USD')]
    >>> [sorted(f.values) for f in figures("une quarantaine de pays", "fr")]
    [[40.0]]
    >>> [f.text for f in figures("Quatre-vingt-onze entreprises, vingt villes")], figures("Ninety-one", "en")[0].text
    (['91', '20'], '91')
    """
    text = _digits(citations.strip(text), lang)
    out = []
    for m in _NUMBER.finditer(text):
        raw = _readings(m.group())
        after = text[m.end():m.end() + 40]
        scale = _SCALE_AFTER.match(after)
        values = set(raw)
        if scale:
            values |= {v * _SCALES[scale.group(1).lower()] for v in raw}
        unit = _UNIT.match(after)
        before = _CURRENCY_BEFORE.search(text[max(0, m.start() - 4):m.start()])
        code = _CURRENCIES.get((unit.group(1) if unit else before.group(1) if before else "").lower())
        out.append(Figure(m.group(), frozenset(values), code))
    for m in _APPROX_WORD.finditer(text):
        out.append(Figure(m.group(), frozenset({float(_APPROXIMATE[m.group(1).lower()])}), None))
    return out


def written_figures(text: str) -> list[str]:
    """The figures of ``text`` as written, in digits (for regexes that must match it).

    >>> written_figures("91 entreprises [1] et 228 milliards")
    ['91', '228']
    """
    return _NUMBER.findall(citations.strip(text))


def says_no_answer(text: str) -> bool:
    """The text says the articles do not answer ("ne le précisent pas", "don't say").

    >>> says_no_answer("Les articles ne le disent pas."), says_no_answer("91 entreprises.")
    (True, False)
    """
    return bool(_MODEL_REFUSALS.search(text))


def _holds(figure: Figure, text_figures: list[Figure]) -> Figure | None:
    """The figure of the text with the same value, in the same unit if the text has one so."""
    same = [f for f in text_figures if f.values & figure.values]
    return next((f for f in same if f.unit == figure.unit), same[0] if same else None)


def names(answer: str) -> list[str]:
    """Capitalised words of the answer that are not the first word of a sentence."""
    text = citations.strip(answer)
    names = []
    for m in _CAPITALISED.finditer(text):
        before = text[:m.start()].rstrip()
        if before and before[-1] not in ".!?:;«\"(":
            names.append(m.group(1))
    return names


def asked_currency(question: str) -> str | None:
    """The currency or unit a question asks its figure in ("in US dollars", "en yuans").

    >>> asked_currency("What were the profits in US dollars?"), asked_currency("Combien de projets ?")
    ('USD', None)
    """
    m = re.search(r"\b(?:in|en|into|converted to)\s+(?:US\s+)?(yuans?|dollars?|euros?|rmb|renminbi|percent|pour cent)\b",
                  question, re.IGNORECASE)
    return _CURRENCIES.get(m.group(1).lower()) if m else None


def restates(answer: str, question: str) -> bool:
    """True when the answer says nothing the question does not: no figure, no yes or no, and
    not one word (stemmed, stop words aside) of its own. A 1.5B model does this when the
    quote does not hold what is asked.

    >>> q = "Which four-legged machines could visitors meet at the Fuzhou event?"
    >>> restates("Four-legged machines could visitors meet at the Fuzhou event [6].", q)
    True
    >>> restates("Robot dogs [6].", q), restates("No, none.", q), restates("Two of them.", q)
    (False, False, False)
    """
    text = citations.strip(answer)
    if re.search(r"\d", text) or _POLARITY.search(text):
        return False
    return not set(analyse(text)) - set(analyse(question))


def figure_problem(answer: str, question: str, cited: list[Evidence], evidence: list[Evidence], lang: str
                   ) -> tuple[str, str, str] | None:
    """The first figure of the answer that its sources do not bear out, as (rule, figure, detail), else None.

    A figure must be in the cited sentences, or in another sentence of the same article, or in the question;
    one found only in another article (``other_article``) or nowhere (``invented_figure``) fails, and so does
    one in another currency than its source's (``unit``).

    >>> figure_problem("Fuzhou has 360,000 inhabitants.", "Population?", [_ev(1, "a", "Plus de 360 000 visiteurs.")],
    ...                [], "en") is None     # the figure is there: what it counts is the reader's business
    True
    >>> figure_problem("Un seuil de 8 milliards.", "Quel seuil ?", [_ev(1, "a", "Un seuil de 5 milliards.")], [], "fr")
    ('invented_figure', '8', '8 is in no sentence given')
    """
    text = citations.strip(answer)
    question_figures = figures(question, lang)
    cited_docs = {e.doc for e in cited}
    cited_figures = [f for e in cited for f in figures(e.text)]
    for fig in figures(text, lang):
        source = _holds(fig, cited_figures)
        if source is None:
            holder = next((e for e in evidence if e.doc in cited_docs and _holds(fig, figures(e.text))), None)
            if holder is not None:
                source = _holds(fig, figures(holder.text))
        if source is None:
            if _holds(fig, question_figures):
                continue
            elsewhere = next((e for e in evidence if _holds(fig, figures(e.text))), None)
            if elsewhere is not None:
                return "other_article", fig.text, f"{fig.text} is in {elsewhere.doc}, not the cited article"
            return "invented_figure", fig.text, f"{fig.text} is in no sentence given"
        if fig.unit and fig.unit != source.unit:
            return "unit", fig.text, f"{fig.text} {fig.unit}: the article gives {source.unit or 'no currency'}"
    return None


def recite(answer: str, cited: list[Evidence], evidence: list[Evidence], lang: str) -> list[int]:
    """Other sentences of the cited article that hold a figure of the answer the cited ones do not: cited too.

    >>> recite("91 membres en 2024.", [_ev(1, "a", "91 membres.")], [_ev(2, "a", "En 2024, ...")], "fr")
    [2]
    """
    cited_docs = {e.doc for e in cited}
    cited_figures = [f for e in cited for f in figures(e.text)]
    out: list[int] = []
    for fig in figures(citations.strip(answer), lang):
        if _holds(fig, cited_figures):
            continue
        holder = next((e for e in evidence if e.doc in cited_docs and _holds(fig, figures(e.text))), None)
        if holder is not None and holder.n not in out and holder not in cited:
            out.append(holder.n)
    return out
