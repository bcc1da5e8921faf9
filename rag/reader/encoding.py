"""How a (question, sentence) pair becomes tokens, and how a token span goes back to characters.

The pair is read as e5 reads its inputs: ``query: <question>`` then ``passage: <sentence>``, the
tokenizer's pair template between them. Offsets of the sentence's tokens are kept relative to the
sentence itself, so a predicted token span maps back to the exact characters of the article.
"""

from __future__ import annotations

from dataclasses import dataclass

QUERY = "query: "
PASSAGE = "passage: "
MAX_TOKENS = 160


@dataclass
class Encoded:
    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    # Per pair: the first and last token of the sentence, and each token's (start, end) in the sentence
    # (None outside it).
    first: list[int]
    last: list[int]
    offsets: list[list[tuple[int, int] | None]]


def _fit_questions(tokenizer, questions: list[str], room: int) -> dict[str, str]:
    """Each question, cut after its first ``room`` tokens (``query: `` included) when it is longer."""
    unique = list(dict.fromkeys(questions))
    enc = tokenizer([QUERY + q for q in unique], add_special_tokens=False, return_offsets_mapping=True)
    return {q: q if len(ids) <= room else q[:max(0, offsets[room - 1][1] - len(QUERY))]
            for q, ids, offsets in zip(unique, enc["input_ids"], enc["offset_mapping"])}


def encode(tokenizer, questions: list[str], sentences: list[str], max_tokens: int = MAX_TOKENS) -> Encoded:
    """Tokens of each pair, the question kept whole and the sentence cut to fit ``max_tokens``. (A question of
    more than half of ``max_tokens``, far longer than any the reader was trained on, is cut to that half: whole,
    it would leave the sentence no room.)"""
    fitted = _fit_questions(tokenizer, questions, max_tokens // 2)
    batch = tokenizer([QUERY + fitted[q] for q in questions], [PASSAGE + s for s in sentences],
                      truncation="only_second", max_length=max_tokens, return_offsets_mapping=True)
    firsts, lasts, all_offsets = [], [], []
    for i in range(len(questions)):
        ids = batch.sequence_ids(i)
        offsets: list[tuple[int, int] | None] = []
        for which, (a, b) in zip(ids, batch["offset_mapping"][i]):
            a, b = a - len(PASSAGE), b - len(PASSAGE)
            offsets.append((max(a, 0), b) if which == 1 and b > 0 else None)
        inside = [t for t, o in enumerate(offsets) if o is not None]
        firsts.append(inside[0] if inside else 0)
        lasts.append(inside[-1] if inside else 0)
        all_offsets.append(offsets)
    return Encoded(batch["input_ids"], batch["attention_mask"], firsts, lasts, all_offsets)


def pad(input_ids: list[list[int]], attention_mask: list[list[int]], pad_id: int):
    """Token ids and masks of pairs of different lengths → two tensors as wide as the longest.

    >>> ids, mask = pad([[5, 6, 7], [5]], [[1, 1, 1], [1]], pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [5, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    import torch

    width = max(len(row) for row in input_ids)
    return (torch.tensor([row + [pad_id] * (width - len(row)) for row in input_ids]),
            torch.tensor([row + [0] * (width - len(row)) for row in attention_mask]))


def token_span(offsets: list[tuple[int, int] | None], start: int, end: int) -> tuple[int, int] | None:
    """The tokens covering characters ``[start, end)`` of the sentence (None if cut off by truncation).

    >>> token_span([None, (0, 3), (3, 8), (9, 12), None], 3, 12)
    (2, 3)
    """
    first = last = None
    for t, o in enumerate(offsets):
        if o is None:
            continue
        if first is None and o[1] > start:
            first = t
        if o[0] < end:
            last = t
    if first is None or last is None or last < first or offsets[last][1] < end:
        return None
    return first, last


def char_span(offsets: list[tuple[int, int] | None], first: int, last: int) -> tuple[int, int]:
    """Characters of the sentence covered by tokens ``first``..``last``.

    >>> char_span([None, (0, 3), (3, 8), (9, 12), None], 2, 3)
    (3, 12)
    """
    return offsets[first][0], offsets[last][1]
