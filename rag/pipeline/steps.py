"""The typed steps of answering one part of a question, between retrieval and the shown answer:
each takes dataclasses and returns one, so what a step decided is a value the next one reads.

    Part (question, passages, lettered evidence)
      → choose: Choice (the sentence to answer from, every letter's probability)
      → the streamed draft (``Pipeline._draft``; ``via_french``: in one pass or two): Draft (the answer text,
        its prompt tokens)
      → check: Checked (grounding verdict, grade, the gate's decision, the cited evidence)
      → rag.answer.compose: PartAnswer (the answer with its markers, or the refusal naming the check)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rag.answer import answertype, attribution, gate, grounding
from rag.answer.prompts import ANSWER_PREFIX, GRADE_PREFIX, NONE_LABEL, QUOTE, grade_messages
from rag.models import generation
from rag.models.generation import Generator
from rag.retrieval import timefilter
from rag.retrieval.evidence import Evidence

GRADES = ["0", "1", "2"]


@dataclass
class Part:
    """One part of a question with what was retrieved for it (evidence numbered from 1)."""
    question: str
    passages: list[dict]
    evidence: list[Evidence]
    best: float
    offset: int = 0                 # its evidence's numbers in the whole answer: n + offset
    when: timefilter.TimeCondition | None = None   # the question's time condition, if any


@dataclass(frozen=True)
class Choice:
    """The sentence the answer is written from, and what the model's letters said."""
    chosen: Evidence
    p_none: float | None = None     # None: the backend gives no token probabilities
    p_source: float | None = None
    letters: list[dict] = field(default_factory=list)   # every letter's probability and score (rag calibrate)

    @property
    def prefix(self) -> str:
        """The reply's forced start: the chosen letter and its sentence, which the answer continues."""
        return f"{ANSWER_PREFIX} {self.chosen.label}" + QUOTE.format(sentence=" ".join(self.chosen.text.split()))


def via_french(lang: str, sentence_lang: str, setting: str) -> bool:
    """Whether the answer is drafted in French from the quoted sentence, then phrased in ``lang`` (English)
    in a second pass (``RAG_ENGLISH_VIA_FRENCH``: ``always``, ``never``, or by default ``auto``).

    Under ``auto`` the quote's article decides: the second pass was measured on French articles only
    (lever 6 of the answer-trust issue: extracting in the quote's own language), so an English question
    over a French sentence still takes it, and one over an English sentence is answered in one pass,
    in English, from the English quote (lever 7 of issue 22). A French answer is always one pass.

    >>> via_french("en", "fr", "auto"), via_french("en", "en", "auto"), via_french("fr", "en", "auto")
    (True, False, False)
    >>> via_french("en", "en", "always"), via_french("en", "fr", "never")
    (True, False)
    """
    return lang == "en" and (setting == "always" or setting == "auto" and sentence_lang == "fr")


@dataclass(frozen=True)
class Draft:
    text: str
    prompt_tokens: int
    protocol: str = ""              # the reply was only the answer format (rag.answer.replyguard): its lines


@dataclass(frozen=True)
class Checked:
    decision: gate.Decision
    cited: list[Evidence]           # the chosen sentence, then any the grounding rules re-cited

    def numbers(self, offset: int) -> list[int]:
        return [e.n + offset for e in self.cited]


def label_list(evidence: list[Evidence]) -> list[str]:
    return [f" {e.label}" for e in evidence] + [f" {NONE_LABEL}"]


def choose(generator: Generator, messages: list[dict], evidence: list[Evidence], weight: float) -> Choice:
    """Read the probability of every letter (and NONE) after ``Source:``; the sentence to answer from
    weighs them with the retrieval scores (``rag.answer.attribution``)."""
    try:
        probs = generator.label_probabilities(messages, ANSWER_PREFIX, label_list(evidence))
    except generation.Unsupported:
        # A server that returns no token probabilities: answer from the best-scored sentence;
        # the gate takes the missing features at their mean (it decides on the others).
        return Choice(max(evidence, key=lambda e: e.score))
    picked = attribution.choose(evidence, probs, weight)
    letters = [{"label": e.label, "p": round(probs[f" {e.label}"], 4), "score": e.score, "doc": e.doc, "text": e.text}
               for e in evidence]
    return Choice(picked.evidence, probs[f" {NONE_LABEL}"], picked.p_source, letters)


def grade(generator: Generator, question: str, cited: list[Evidence]) -> float | None:
    """The model's expected grade (0–2) of how well the cited sentences answer ``question``."""
    try:
        grades = generator.label_probabilities(grade_messages(question, [e.text for e in cited]), GRADE_PREFIX, GRADES)
    except generation.Unsupported:
        return None
    return sum(int(k) * v for k, v in grades.items())


def features(part: Part, choice: Choice, answer: str, verdict: grounding.Grounding, graded: float | None,
             lang: str) -> dict:
    """What the gate reads, from the steps' values (a feature a backend could not give is left out)."""
    out = {"retrieval": part.best, "evidence": max(e.score for e in part.evidence), "english": float(lang == "en")}
    if choice.p_none is not None:
        out.update(p_none=choice.p_none, p_source=choice.p_source)
    out["type_match"] = float(answertype.matches(answertype.expected(part.question), answer, lang))
    out["names_missing"] = float(len(verdict.names_missing))
    if graded is not None:
        out["grade"] = graded
    return out


def check(generator: Generator, part: Part, choice: Choice, draft: Draft, lang: str,
          gate_model: gate.GateModel | None) -> Checked:
    """The grounding rules, the model's grade of the cited sentences (when the rules pass), then the
    learned gate (``gate_model``; None: the rules alone decide)."""
    cited = [choice.chosen]
    verdict = grounding.check(draft.text, part.question, cited, part.evidence, lang)
    cited += [part.evidence[n - 1] for n in verdict.recite]
    graded = grade(generator, part.question, cited) if verdict.ok else None
    values = features(part, choice, draft.text, verdict, graded, lang)
    decision = gate.decide(values, verdict, gate_model) if gate_model is not None else \
        gate.Decision(verdict.ok, verdict.failed, verdict.detail, None, 0.0, values)
    return Checked(decision, cited)


def check_record(checked: Checked, choice: Choice, offset: int) -> dict:
    """The decision as ``--json`` shows it under ``checks``: in the model's terms, so the sentences
    are evidence numbers (letter A is 1, ``citations[].evidence``), not the reader's ``[n]``."""
    return {**asdict(checked.decision), "source": choice.chosen.label, "cited_evidence": checked.numbers(offset),
            "letters": choice.letters}


def closest(part: Part, check: dict) -> Evidence | None:
    """The sentence a refusal points the reader to: the one the model answered from when it got that
    far (``check["source"]``, its letter), else the best-scored sentence read; None when none was read.

    >>> ev = [Evidence(1, "d", "d#0", 0, 5, "Une.", 0.7), Evidence(2, "d", "d#0", 6, 9, "Deux.", 0.9)]
    >>> part = Part("q", [], ev, 0.9, 0, None)
    >>> closest(part, {"source": "A"}).text, closest(part, {}).text, closest(Part("q", [], [], 0, 0, None), {})
    ('Une.', 'Deux.', None)
    """
    by_label = {e.label: e for e in part.evidence}
    return by_label.get(check.get("source")) or max(part.evidence, key=lambda e: e.score, default=None)
