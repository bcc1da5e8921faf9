"""The reader's network: an e5 encoder reading "question </s></s> sentence", and three heads.

- ``span``: start and end logits per token; the first token (``<s>``) stands for "no answer in this
  sentence", as in SQuAD 2.0 readers.
- ``cls``: a logit for "this sentence states the answer", from the first token's state.
- ``mean``: the same from the mean of the token states (e5 was trained with mean pooling).

Only the top ``TRAINED_LAYERS`` encoder layers and the heads are trained: they are what the shipped
weights file holds (fp16, applied at load on top of the converted multilingual-e5-small); the
embeddings and lower layers stay the packaged ones. Freezing them also keeps training within reach of a
2-core machine (no gradient flows below the trained layers).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

TRAINED_LAYERS = 5


@dataclass
class Heads:
    """Per-pair outputs: ``start``/``end`` ``[batch, tokens]`` (padding masked to -inf), ``cls``/``mean`` ``[batch]``."""

    start: torch.Tensor
    end: torch.Tensor
    cls: torch.Tensor
    mean: torch.Tensor


class ReaderNetwork(nn.Module):
    """Encoder + heads. ``forward`` returns a dict with ``loss`` when labels are given (for ``Trainer``)."""

    def __init__(self, encoder: nn.Module, trained_layers: int = TRAINED_LAYERS):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.span = nn.Linear(hidden, 2)
        self.cls = nn.Linear(hidden, 1)
        self.mean = nn.Linear(hidden, 1)
        self.trained_layers = trained_layers
        layers = encoder.encoder.layer
        for p in encoder.parameters():
            p.requires_grad = False
        for layer in layers[len(layers) - trained_layers:]:
            for p in layer.parameters():
                p.requires_grad = True

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The tensors training changes (the shipped file): the top layers and the heads."""
        wanted = {n for n, p in self.named_parameters() if p.requires_grad}
        return {n: t.detach() for n, t in self.state_dict().items() if n in wanted}

    def heads(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Heads:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        start, end = self.span(states).unbind(-1)
        hide = attention_mask == 0
        start = start.masked_fill(hide, torch.finfo(start.dtype).min)
        end = end.masked_fill(hide, torch.finfo(end.dtype).min)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return Heads(start, end, self.cls(states[:, 0]).squeeze(-1), self.mean(pooled).squeeze(-1))

    def forward(self, input_ids, attention_mask, start_positions=None, end_positions=None, answerable=None,
                has_span=None):
        h = self.heads(input_ids, attention_mask)
        out = {"start_logits": h.start, "end_logits": h.end, "cls_logits": h.cls, "mean_logits": h.mean}
        if answerable is not None:
            out["loss"] = loss(h, start_positions, end_positions, answerable, has_span)
        return out


def loss(h: Heads, start: torch.Tensor, end: torch.Tensor, answerable: torch.Tensor,
         has_span: torch.Tensor) -> torch.Tensor:
    """Span cross-entropy (position 0 for a sentence without the answer; pairs whose answer words are not
    known, ``has_span`` 0, are left out of it) plus both sentence heads' binary cross-entropy."""
    target = answerable.float()
    bce = nn.functional.binary_cross_entropy_with_logits
    sentence = bce(h.cls, target) + bce(h.mean, target)
    keep = has_span.bool()
    if keep.any():
        ce = nn.functional.cross_entropy
        span = (ce(h.start[keep], start[keep]) + ce(h.end[keep], end[keep])) / 2
    else:
        span = h.cls.new_zeros(())     # not h.start.sum() * 0: its padding (-3.4e38 each) sums to -inf, * 0 = nan
    return span + sentence


def best_span(start: torch.Tensor, end: torch.Tensor, first: int, last: int, max_tokens: int = 30
              ) -> tuple[int, int, float]:
    """The best (start, end) token span inside ``[first, last]`` for one pair, and its score
    start[s] + end[e], with s ≤ e < s + max_tokens.

    >>> s = torch.tensor([0., 0., 5., 1., 0.]); e = torch.tensor([0., 0., 1., 4., 0.])
    >>> best_span(s, e, 1, 4)
    (2, 3, 9.0)
    """
    s = start[first:last + 1]
    e = end[first:last + 1]
    scores = s.unsqueeze(1) + e.unsqueeze(0)
    n = scores.shape[0]
    allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(max_tokens - 1)
    scores = scores.masked_fill(~allowed, float("-inf"))
    flat = int(scores.argmax())
    i, j = divmod(flat, n)
    return first + i, first + j, float(scores[i, j])
