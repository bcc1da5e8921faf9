"""Answer or refuse on the reader's P(answerable): one threshold, read off a fitted risk–coverage curve.

``rag calibrate`` runs retrieval and the reader over both corpora's calibration parts (the seeds'
``eval/calibration.jsonl`` and the public set's; never a test part) and writes, for every threshold on
P(answerable), the share of answerable questions answered right (``coverage``) and the share of all
questions answered wrong (``wrong_shown``) into ``rag/answer/gate.json``. ``RAG_GATE_RISK`` reads the
threshold for its budget off that curve: the most answers that keep wrong ones within it.

>>> g = Gate(0.7, curve=[{"threshold": 0.1, "coverage": 0.9, "wrong_shown": 0.30},
...                      {"threshold": 0.4, "coverage": 0.6, "wrong_shown": 0.12},
...                      {"threshold": 0.7, "coverage": 0.2, "wrong_shown": 0.05}])
>>> g.at_risk(0.05).threshold, g.at_risk(0.15).threshold, g.at_risk(1.0).threshold
(0.7, 0.4, 0.1)
>>> g.at_risk(0.15).passes(0.5), g.at_risk(0.15).passes(0.3)
(True, False)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rag.errors import RagError

MODEL_FILE = Path(__file__).with_name("gate.json")


@dataclass(frozen=True)
class Gate:
    threshold: float
    # The risk–coverage curve the threshold is read from: {threshold, coverage, wrong_shown} points.
    curve: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "Gate":
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(float(raw["threshold"]), raw.get("curve", []), raw.get("meta", {}))
        except FileNotFoundError:
            raise RagError(f"no answer gate at {path}: run rag calibrate") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise RagError(f"the answer gate {path} is unreadable ({e}): run rag calibrate") from None

    def at_risk(self, risk: float) -> "Gate":
        """The gate whose threshold is the lowest of its curve keeping wrong answers shown within ``risk`` of
        all questions (the highest of the curve when none does; unchanged without a curve)."""
        within = [p["threshold"] for p in self.curve if p["wrong_shown"] <= risk]
        if not within:
            return replace(self, threshold=max((p["threshold"] for p in self.curve), default=self.threshold))
        return replace(self, threshold=min(within))

    def passes(self, p_answer: float) -> bool:
        return p_answer >= self.threshold

    def save(self, path: Path = MODEL_FILE) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


OPEN = Gate(0.0)
"""No gate (``RAG_GATE=0``): the reader's probability never refuses; the checks alone decide."""
