"""Every check that can refuse an answer, in one declared list, in the order they run.

A check is one object: its ``name`` (``--json``'s ``reason`` and ``checks[].failed``), the ``stage`` it
runs at (``retrieval`` before the reader, ``reader`` before any answer is written, ``answer`` on the answer
shown), the answer ``modes`` it applies to (``llm``, ``extract``), its refusal reason in both languages
(saying what was found, in words the reader can check), and its measured contribution. ``run`` is a pure
function of a :class:`Context`: it returns a :class:`Finding` when the check fails, else None.

>>> from rag.retrieval.evidence import Evidence
>>> ev = Evidence(1, "a", "a#0", 0, 40, "Actuellement, 91 entreprises ont rejoint.", 1.0)
>>> ctx = Context("Combien d'entreprises ?", "fr", "llm", answer="Elle compte 20 entreprises.", span="91",
...               cited=[ev], evidence=[ev], p_answer=0.9)
>>> v = verdict(ctx, "answer")
>>> v.failed, refusal_reason(v, "fr")
('invented_figure', 'le chiffre 20 de la réponse ne figure dans aucune phrase lue')
>>> verdict(Context("Combien ?", "fr", "llm", answer="Elle compte 91 entreprises.", span="91", cited=[ev],
...                 evidence=[ev], p_answer=0.9), "answer").ok
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from rag.answer import grounding
from rag.retrieval.evidence import Evidence
from rag.text import citations, language
from rag.text.fold import fold
from rag.text.stemming import is_stop_word


@dataclass(frozen=True)
class Context:
    """What the checks read."""

    question: str
    lang: str                       # the answer's language
    mode: str                       # llm or extract
    answer: str = ""                # the answer to show (the model's line, or the reader's span)
    span: str | None = None         # the reader's answer words
    cited: list[Evidence] = field(default_factory=list)      # the sentence(s) the answer stands on
    evidence: list[Evidence] = field(default_factory=list)   # every sentence the reader read
    p_answer: float = 1.0           # the reader's P(answerable)
    threshold: float = 0.0          # the gate's threshold on it
    best: float = 1.0               # the best retrieved passage's dense cosine
    min_score: float = -1.0         # RAG_MIN_SCORE
    passages: list[dict] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)           # dates of the articles a time condition picked
    protocol: str = ""              # the reply was only the answer format's lines (rag.answer.replyguard)
    article: str = ""               # the whole text of the reader's sentence's article
    article_lang: str = ""          # its language


@dataclass(frozen=True)
class Finding:
    detail: str                     # for the logs and --json, in English
    words: dict = field(default_factory=dict)   # what the refusal sentence names (a figure, a name)


@dataclass(frozen=True)
class Check:
    name: str
    stage: str
    modes: tuple[str, ...]
    why: dict[str, str]             # the refusal reason per language, formatted with ``Finding.words``
    contribution: str               # what it was measured to change (docs/reader.md)
    run: Callable[[Context], Finding | None]


@dataclass(frozen=True)
class Verdict:
    """What the checks of one stage found: ``ok``, else the first that failed and why."""

    ok: bool
    failed: str = ""
    detail: str = ""
    words: dict = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)


def _no_evidence(c: Context) -> Finding | None:
    if not c.evidence or c.best < c.min_score:
        return Finding(f"no passage scored above {c.min_score} (best {c.best:.3f})")
    return None


def _unmentioned_figures(c: Context, texts: list[str]) -> list[str]:
    """The question's figures that none of ``texts`` gives, in any notation."""
    known = [f for t in texts for f in grounding.figures(t)]
    return [f.text for f in grounding.figures(c.question, c.lang) if not any(f.values & g.values for g in known)]


def _missing_figure(c: Context) -> Finding | None:
    """A figure the question is conditioned on ("in 2020") that no retrieved passage mentions."""
    absent = _unmentioned_figures(c, [*(p["text"] for p in c.passages), *c.dates])
    if absent:
        return Finding(f"no retrieved passage mentions {', '.join(absent)}", {"figures": ", ".join(absent)})
    return None


def _unanswerable(c: Context) -> Finding | None:
    if c.p_answer < c.threshold:
        return Finding(f"reader P(answerable) {c.p_answer:.2f} < {c.threshold:.2f}")
    return None


def _asked_figure(c: Context) -> Finding | None:
    """A figure the question is conditioned on ("in 2022", "the 9th summit") that the article of the reader's
    sentence never gives: the sentence is about another year or edition (``missing_figure`` looks at every
    passage retrieved, this at the one article the answer would come from)."""
    if not c.article:
        return None
    absent = _unmentioned_figures(c, [c.article])
    return Finding(f"the article never mentions {', '.join(absent)}", {"figures": ", ".join(absent)}) if absent else None


def _asked_name(c: Context) -> Finding | None:
    """A name the question asks about that the article of the reader's sentence never mentions: the sentence
    is about someone or somewhere else (Japan's plan asked, China's found). Only when the question is in the
    article's language: across languages names are translated (Beijing, Pékin)."""
    if not c.article or c.article_lang != c.lang:
        return None
    known = fold(c.article)
    # A question word is capitalised after whatever precedes it ("<b>Combien …"): not a name.
    asked = [re.sub(r"['’]s$", "", n) for n in grounding.names(c.question) if not is_stop_word(n)]
    missing = [n for n in asked if fold(n)[:5] not in known]
    return Finding(f"the article never mentions {', '.join(missing)}", {"name": missing[0]}) if missing else None


def _protocol(c: Context) -> Finding | None:
    return Finding(f"the reply was only its format, {c.protocol!r}") if c.protocol else None


def _empty(c: Context) -> Finding | None:
    if not re.search(r"[^\W\d_]{2,}|\d", citations.strip(c.answer)):
        return Finding(repr(c.answer))
    return None


def _model_refused(c: Context) -> Finding | None:
    found = grounding.says_no_answer(citations.strip(c.answer))
    return Finding("the model said the sentence does not answer") if found else None


def _restated(c: Context) -> Finding | None:
    return Finding(repr(c.answer)) if grounding.restates(citations.strip(c.answer), c.question) else None


def _marker_figure(c: Context) -> Finding | None:
    m = grounding.MARKER_FIGURE.search(c.answer)
    return Finding(m.group()) if m else None


def _figure_problem(c: Context, kind: str) -> Finding | None:
    problem = grounding.figure_problem(c.answer, c.question, c.cited, c.evidence, c.lang)
    if problem and problem[0] == kind:
        return Finding(problem[2], {"figure": problem[1]})
    return None


def _asked_unit(c: Context) -> Finding | None:
    """The question asks for a currency ("in US dollars"): the sentence gives its figure in it, and the answer
    gives that one, not the same sentence's other currency ("228 milliards de yuans (31,5 milliards de
    dollars)" answered with the yuans)."""
    wanted = grounding.asked_currency(c.question)
    if not wanted:
        return None
    source = [f for e in c.cited for f in grounding.figures(e.text)]
    units = {f.unit for f in source if f.unit}
    if units and wanted not in units:
        return Finding(f"the question asks in {wanted}, the sentence gives {', '.join(sorted(units))}",
                       {"unit": ", ".join(sorted(units))})
    for f in grounding.figures(citations.strip(c.answer), c.lang):
        given = {g.unit for g in source if g.unit and g.values & f.values}
        if given and wanted not in given:
            return Finding(f"the question asks in {wanted}, the answer's {f.text} is in {', '.join(sorted(given))}",
                           {"unit": ", ".join(sorted(given))})
    return None


def _name(c: Context) -> Finding | None:
    """In an answer in the articles' language, every name is in the sentences read or the question."""
    if c.lang != "fr":
        return None
    known = fold(" ".join([c.question, *(e.text for e in c.evidence)]))
    missing = [n for n in grounding.names(c.answer) if fold(n)[:5] not in known]
    return Finding(", ".join(missing), {"name": missing[0]}) if missing else None


def _agreement(c: Context) -> Finding | None:
    """The model's answer holds the reader's span: its figures, else its names, else most of its words.
    Two readers that agree are rarely both wrong."""
    if not c.span:
        return None
    # The span is in its sentence's language, which may not be the answer's.
    source = language.detect(c.cited[0].text, default=c.lang) if c.cited else c.lang
    span_figures = grounding.figures(c.span, source)
    answer_figures = grounding.figures(citations.strip(c.answer), c.lang)
    if span_figures:
        # A long span carries figures beside the asked one ("the 8th summit … 228 billion"): one is enough.
        if not any(f.values & g.values for f in span_figures for g in answer_figures):
            f = span_figures[0]
            return Finding(f"the answer does not give the reader's figure {f.text}", {"figure": f.text})
        return None
    # A capitalised word is a name unless it starts its sentence, which only the whole sentence tells: a span
    # may start with a name ("Alibaba et NetEase").
    names = ([n for n in grounding.names(c.cited[0].text) if n in c.span] if c.cited and c.span in c.cited[0].text
             else grounding.names(c.span))
    answer = fold(c.answer)
    if names:
        absent = [n for n in names if fold(n)[:5] not in answer]
        return Finding(f"the answer does not name the reader's {absent[0]}", {"name": absent[0]}) if absent else None
    words = [w for w in re.findall(r"\w{4,}", fold(c.span))]
    # Across languages the words are translated: only figures and names can be compared.
    same = source == c.lang
    if same and words and sum(w[:5] in answer for w in words) / len(words) < 0.5:
        return Finding(f"the answer does not hold the reader's words {c.span!r}", {"span": c.span})
    return None


BOTH = ("llm", "extract")
LLM = ("llm",)

CHECKS: list[Check] = [
    Check("no_evidence", "retrieval", BOTH,
          {"fr": "aucun passage ne traite de cette question", "en": "no passage is about this question"},
          "retrieval floor RAG_MIN_SCORE", _no_evidence),
    Check("missing_figure", "retrieval", BOTH,
          {"fr": "aucun passage ne mentionne {figures}", "en": "no passage mentions {figures}"},
          "traps on another year or edition", _missing_figure),
    Check("unanswerable", "reader", BOTH,
          {"fr": "aucune phrase des articles ne l'énonce", "en": "no sentence of the articles states it"},
          "the reader's P(answerable) against the fitted threshold", _unanswerable),
    Check("asked_figure", "reader", BOTH,
          {"fr": "l'article de la phrase trouvée ne mentionne pas {figures}",
           "en": "the article of the sentence found never mentions {figures}"},
          "year or edition swaps: 5 of 315 calibration questions, none answered right (docs/reader.md)", _asked_figure),
    Check("asked_name", "reader", BOTH,
          {"fr": "l'article de la phrase trouvée ne mentionne pas {name}",
           "en": "the article of the sentence found never mentions {name}"},
          "entity swaps: 47 of 315 calibration questions, 2 of them answered right (docs/reader.md)", _asked_name),
    Check("asked_unit", "answer", BOTH,
          {"fr": "la phrase trouvée donne ce chiffre en {unit}, pas dans l'unité demandée",
           "en": "the sentence found gives the figure in {unit}, not in the unit asked"},
          "currency traps", _asked_unit),
    Check("protocol", "answer", LLM,
          {"fr": "le modèle n'a écrit que le format de la réponse, sans réponse",
           "en": "the model wrote only the answer's format, no answer"}, "protocol guard", _protocol),
    Check("empty", "answer", LLM, {"fr": "la réponse écrite ne disait rien", "en": "the answer written said nothing"},
          "protocol guard", _empty),
    Check("model_refused", "answer", LLM,
          {"fr": "le modèle a jugé que la phrase trouvée ne répond pas",
           "en": "the model found that the sentence does not answer"}, "the writer's own refusal", _model_refused),
    Check("restated", "answer", LLM,
          {"fr": "la réponse écrite ne faisait que reprendre la question",
           "en": "the answer written only repeated the question"}, "restatements", _restated),
    Check("marker_figure", "answer", LLM,
          {"fr": "la réponse remplaçait un chiffre par un renvoi", "en": "the answer put a citation where a figure should be"},
          "copied markers", _marker_figure),
    Check("invented_figure", "answer", LLM,
          {"fr": "le chiffre {figure} de la réponse ne figure dans aucune phrase lue",
           "en": "the answer's figure {figure} is in no sentence read"},
          "figures the writer invented", lambda c: _figure_problem(c, "invented_figure")),
    Check("other_article", "answer", LLM,
          {"fr": "le chiffre {figure} de la réponse vient d'un autre article que celui cité",
           "en": "the answer's figure {figure} comes from another article than the one cited"},
          "figures from another article", lambda c: _figure_problem(c, "other_article")),
    Check("unit", "answer", LLM,
          {"fr": "le chiffre {figure} de la réponse n'est pas dans l'unité de l'article",
           "en": "the answer's figure {figure} is not in the article's unit"},
          "unit swaps", lambda c: _figure_problem(c, "unit")),
    Check("name", "answer", LLM,
          {"fr": "le nom {name} de la réponse ne figure dans aucune phrase lue",
           "en": "the name {name} in the answer is in no sentence read"}, "invented names", _name),
    Check("agreement", "answer", LLM,
          {"fr": "la réponse écrite ne donne pas ce que la phrase citée dit ({figure}{name}{span})",
           "en": "the answer written does not give what the cited sentence says ({figure}{name}{span})"},
          "the writer and the reader disagree", _agreement),
]
BY_NAME = {c.name: c for c in CHECKS}


def verdict(context: Context, stage: str) -> Verdict:
    """Run the checks of ``stage`` that apply to the context's mode, in order; the first failure decides."""
    checked = []
    for check in CHECKS:
        if check.stage != stage or context.mode not in check.modes:
            continue
        checked.append(check.name)
        found = check.run(context)
        if found is not None:
            return Verdict(False, check.name, found.detail, found.words, checked)
    return Verdict(True, checked=checked)


def refusal_reason(v: Verdict, lang: str) -> str:
    """The refusal's reason in ``lang``, naming what was found.

    >>> refusal_reason(Verdict(False, "missing_figure", "", {"figures": "2020"}), "en")
    'no passage mentions 2020'
    """
    words = {"figure": "", "name": "", "span": "", "figures": "", "unit": "", **v.words}
    return BY_NAME[v.failed].why[lang].format(**words)
