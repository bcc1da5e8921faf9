"""Sentence-aware passages with exact character offsets into the source text.

A passage is a run of whole sentences of roughly ``min_words``-``max_words``
words; consecutive passages share one sentence so that a fact on a boundary
is whole in at least one of them. ``text[p.start:p.end] == p.text`` always.

>>> text = "Première phrase ici. Deuxième phrase là.\\nTroisième."
>>> [text[s:e] for s, e in split_sentences(text)]
['Première phrase ici.', 'Deuxième phrase là.', 'Troisième.']
>>> [(p.passage_id, p.start, p.end) for p in split_passages("d.txt", text, min_words=5, max_words=8)]
[('d.txt#0', 0, 40), ('d.txt#1', 21, 51)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? … (optionally followed by a closing quote) before
# whitespace and a capital, an opening quote or a digit; and at every line break.
# "35.000" and "2,5" have no whitespace after the dot, so they do not split.
_BOUNDARY = re.compile(
    r"(?<=[.!?…])[»\"”’)]?(?=\s+[«\"“(A-ZÀ-ÖØ-Þ0-9])"
    r"|\n"
)
_ABBREVIATIONS = re.compile(r"(?:\b(?:M|MM|Mme|Dr|St|etc|cf|p|ex|vs|Mr|Mrs|Ms|No|art)\.|\b[A-Z]\.)$")
_WORD = re.compile(r"\w+")

CHUNKER_VERSION = "sentences-v1"


@dataclass(frozen=True)
class Passage:
    doc: str
    passage_id: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]   # absolute (start, end) of each sentence

    def to_dict(self) -> dict:
        return {"doc": self.doc, "passage_id": self.passage_id, "start": self.start,
                "end": self.end, "text": self.text, "sentences": [list(s) for s in self.sentences]}

    @classmethod
    def from_dict(cls, d: dict) -> "Passage":
        return cls(d["doc"], d["passage_id"], d["start"], d["end"], d["text"],
                   tuple(tuple(s) for s in d["sentences"]))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, stripped of surrounding whitespace, none empty."""
    spans = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end() if m.group(0) != "\n" else m.start()
        if _ABBREVIATIONS.search(text[start:end]) and m.group(0) != "\n":
            continue
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def split_passages(doc: str, text: str, min_words: int = 60, max_words: int = 150) -> list[Passage]:
    """Group sentences into passages; a sentence longer than ``max_words`` stands alone."""
    sents = split_sentences(text)
    sizes = [_words(text[s:e]) for s, e in sents]
    groups: list[list[int]] = []
    i = 0
    while i < len(sents):
        group = [i]
        count = sizes[i]
        j = i + 1
        while j < len(sents) and count < min_words and count + sizes[j] <= max_words:
            group.append(j)
            count += sizes[j]
            j += 1
        groups.append(group)
        if j >= len(sents):
            break
        # One sentence of overlap, unless the group is that single sentence.
        i = j - 1 if len(group) > 1 else j
    # A short tail is merged into its neighbour instead of standing alone.
    if len(groups) > 1 and sum(sizes[k] for k in groups[-1]) < min_words // 3:
        tail = groups.pop()
        groups[-1] = sorted(set(groups[-1]) | set(tail))
    passages = []
    for n, group in enumerate(groups):
        s, e = sents[group[0]][0], sents[group[-1]][1]
        passages.append(Passage(doc, f"{doc}#{n}", s, e, text[s:e], tuple(sents[k] for k in group)))
    return passages
