"""One batched forward over a question's candidate sentences → each sentence's scores and answer span.

A sentence's score is the mean of the reader's three signals, each a logit of "this sentence states the
answer": the first token's head, the mean-pooled head, and the span head's margin (best span score minus
the no-answer score, as SQuAD 2.0 readers compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.reader.encoding import char_span, encode, pad
from rag.reader.network import best_span


@dataclass(frozen=True)
class PairScore:
    cls: float
    mean: float
    margin: float                 # best span score minus the no-answer score
    span: tuple[int, int]         # characters of the best span inside the sentence

    @property
    def score(self) -> float:
        return (self.cls + self.mean + self.margin) / 3


def score_pairs(network, tokenizer, questions: list[str], sentences: list[str], batch_size: int = 64
                ) -> list[PairScore]:
    """Scores of each (question, sentence) pair, in order."""
    import torch

    out: list[PairScore] = []
    for at in range(0, len(questions), batch_size):
        qs, ss = questions[at:at + batch_size], sentences[at:at + batch_size]
        enc = encode(tokenizer, qs, ss)
        ids, mask = pad(enc.input_ids, enc.attention_mask, tokenizer.pad_token_id)
        with torch.inference_mode():
            h = network.heads(ids, mask)
        for i in range(len(qs)):
            null = float(h.start[i, 0] + h.end[i, 0])
            first, last = enc.first[i], enc.last[i]
            s, e, best = best_span(h.start[i], h.end[i], first, last)
            # A sentence with no token of its own (empty, or only characters the tokenizer drops): no span.
            a, b = char_span(enc.offsets[i], s, e) if enc.offsets[i][s] is not None else (0, 0)
            while a < b and ss[i][a].isspace():
                a += 1
            out.append(PairScore(float(h.cls[i]), float(h.mean[i]), best - null, (a, b)))
    return out
