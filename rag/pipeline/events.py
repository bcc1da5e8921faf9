"""What ``Pipeline.ask_stream`` yields, in order: ``Status``, ``Retrieved`` (the evidence, shown
before any answer), ``Token``… (``Restart`` discards them), then ``Done`` with the ``Answer``.
The CLI and the web chat consume the same stream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rag.retrieval.evidence import Evidence


@dataclass
class Answer:
    question: str
    lang: str
    answer: str
    refused: bool
    citations: list[dict]
    passages: list[dict]
    timings: dict
    prompt_tokens: int
    query: str = ""                 # what was searched (the rewritten follow-up, if any)
    dangling: list[int] = field(default_factory=list)
    withdrawn: str = ""             # a generated answer replaced by a refusal, kept for inspection
    reason: str = ""                # why it was refused (the check, in English, for logs and --json)
    checks: list[dict] = field(default_factory=list)   # per part: the gate's decision and its features
    # A refusal's nearest sentence, sourced like a citation: what the reader can check for themselves.
    closest: dict | None = None
    # What the reader found (both modes): {"p_answer", "sentence" (fields of a citation), "span", "candidates"}.
    reader: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Status:
    """What the pipeline is doing, in the answer's language (``text``); ``stage`` names it for a
    page in another language: rewriting, searching, reading (``count`` sentences), writing, checking."""
    text: str
    stage: str = ""
    count: int = 0


@dataclass
class Retrieved:
    query: str
    lang: str
    passages: list[dict]
    evidence: list[Evidence]
    seconds: float


@dataclass
class Token:
    text: str


@dataclass
class Restart:
    """The streamed text so far is discarded (wrong language): a new attempt follows."""
    reason: str


@dataclass
class Done:
    answer: Answer


Event = Status | Retrieved | Token | Restart | Done
