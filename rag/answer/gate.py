"""Answer or refuse: the hard grounding rules first, then a small logistic regression over
what the model's probabilities and the checks say. A pure function of its inputs.

The weights and the threshold live in ``rag/answer/gate.json``, fitted by ``rag calibrate`` on the
calibration parts of both corpora (the seeds' ``eval/calibration.jsonl`` and the public set's; never on
a test part), the threshold the lowest that keeps wrong answers shown within 5 % of all questions
under cross-validation grouped by article.

>>> model = GateModel(features=["grade"], mean=[1.0], scale=[0.5], coef=[3.0], intercept=0.0, threshold=0.5)
>>> decide({"grade": 1.9}, Grounding(True), model).answer
True
>>> d = decide({"grade": 0.6}, Grounding(True), model)
>>> d.answer, d.failed
(False, 'grade')
>>> decide({"grade": 1.9}, Grounding(False, "invented_figure", "8 is in no sentence given"), model).failed
'invented_figure'
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rag.errors import RagError
from rag.answer.grounding import Grounding

MODEL_FILE = Path(__file__).with_name("gate.json")

# What each feature measures (the calibration report and --json use these names).
FEATURES = {
    "p_none": "the model's probability that no sentence states the answer (cite-first, NONE label)",
    "p_source": "the model's probability of the sentence it answered from",
    "grade": "graded check: expected grade 0-2 that the cited sentence gives what is asked",
    "type_match": "1 if the answer is of the kind asked (a figure for 'how many', a name for 'who')",
    "names_missing": "names in the answer found in no sentence given nor in the question",
    "retrieval": "best dense cosine of the retrieved passages",
    "evidence": "score of the best evidence sentence",
    "english": "1 if the question is in English",
}


@dataclass(frozen=True)
class GateModel:
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    # Not the gate's own weight: how much the retrieval's sentence score counts against the
    # model's letter probability when choosing the sentence to answer from (rag.answer.attribution).
    # Fitted by the same command on the same data, so it lives in the same file.
    source_weight: float = 0.0
    # The out-of-fold risk–coverage curve the threshold was read from: {threshold, coverage,
    # wrong_shown} points, so that another risk budget (``RAG_GATE_RISK``) reads its own threshold.
    curve: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "GateModel":
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**{k: raw[k] for k in ("features", "mean", "scale", "coef", "intercept", "threshold")},
                       source_weight=float(raw.get("source_weight", 0.0)), curve=raw.get("curve", []),
                       meta=raw.get("meta", {}))
        except FileNotFoundError:
            raise RagError(f"no answer gate at {path}: run rag calibrate") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise RagError(f"the answer gate {path} is unreadable ({e}): run rag calibrate") from None

    def at_risk(self, risk: float) -> "GateModel":
        """The gate whose threshold is the lowest of its curve keeping wrong answers shown within
        ``risk`` of all questions: the most answers that budget allows (unchanged without a curve).

        >>> g = GateModel(["grade"], [1.0], [0.5], [3.0], 0.0, 0.7, curve=[
        ...     {"threshold": 0.1, "coverage": 0.9, "wrong_shown": 0.30},
        ...     {"threshold": 0.4, "coverage": 0.6, "wrong_shown": 0.12},
        ...     {"threshold": 0.7, "coverage": 0.2, "wrong_shown": 0.05}])
        >>> g.at_risk(0.05).threshold, g.at_risk(0.15).threshold, g.at_risk(1.0).threshold
        (0.7, 0.4, 0.1)
        """
        within = [p["threshold"] for p in self.curve if p["wrong_shown"] <= risk]
        if not within:
            return replace(self, threshold=max((p["threshold"] for p in self.curve), default=self.threshold))
        return replace(self, threshold=min(within))

    def save(self, path: Path = MODEL_FILE) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    def contributions(self, features: dict) -> dict[str, float]:
        """Each feature's push on the log-odds (a missing feature is taken at its mean: 0)."""
        out = {}
        for name, mean, scale, coef in zip(self.features, self.mean, self.scale, self.coef):
            value = features.get(name)
            out[name] = 0.0 if value is None else coef * (value - mean) / (scale or 1.0)
        return out

    def probability(self, features: dict) -> float:
        z = self.intercept + sum(self.contributions(features).values())
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


@dataclass
class Decision:
    """What the gate decided and why: returned with every answer (``--json``: ``checks``)."""

    answer: bool
    failed: str                 # "" when answered; else a grounding rule or the feature that weighed most against
    detail: str
    probability: float | None   # the gate's P(the answer is right); None when a hard rule decided
    threshold: float
    features: dict


def decide(features: dict, grounding: Grounding, model: GateModel) -> Decision:
    if not grounding.ok:
        return Decision(False, grounding.failed, grounding.detail, None, model.threshold, features)
    p = model.probability(features)
    if p >= model.threshold:
        return Decision(True, "", "", round(p, 4), model.threshold, features)
    against = min(model.contributions(features).items(), key=lambda kv: kv[1])[0]
    return Decision(False, against, f"gate {p:.2f} < {model.threshold:.2f}; {against} weighed most against",
                    round(p, 4), model.threshold, features)
