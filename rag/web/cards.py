"""Which cards the sources panel shows: each sentence read is shown in its paragraph (cut around
it), and the sentences of one article whose shown text overlaps or touches share one card: a
stretch of article read twice (the chunker's passages overlap by a sentence; two sentences of one
paragraph show the same paragraph) is shown once, its cited sentences marked.

Pure functions of the article texts and the sentences' offsets; the HTML is ``rag.web.render``'s.

>>> text = "Titre\\nUn. Deux.\\nTrois.\\nQuatre.\\nCinq."
>>> read = [Sentence("d", 34, 39, "Cinq."), Sentence("d", 6, 9, "Un.", 1), Sentence("d", 16, 22, "Trois.")]
>>> [(text[c.start:c.end], c.cites) for c in cards(read, {"d": text})]
[('Cinq.', []), ('Un. Deux.\\nTrois.', [1])]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

ROOM = 280          # characters of the paragraph shown each side of a sentence


@dataclass(frozen=True)
class Sentence:
    """A sentence read for the answer, and its ``[n]`` if the answer cites it (``closest``: the sentence a
    refusal points to)."""
    doc: str
    start: int          # offsets into the article text
    end: int
    text: str
    cite: int | None = None
    closest: bool = False


@dataclass(frozen=True)
class Card:
    """One stretch of one article: ``text[start:end]`` holds its sentences (``start`` -1: the article
    is unavailable or does not hold the sentence, which is shown alone)."""
    doc: str
    start: int
    end: int
    sentences: tuple[Sentence, ...]

    @property
    def cites(self) -> list[int]:
        return sorted(s.cite for s in self.sentences if s.cite is not None)


def locate(doc_text: str, s: Sentence) -> Sentence:
    """The sentence at its offsets in the article (searched for if the given ones do not match;
    ``start`` -1 if the article does not hold it)."""
    if doc_text[s.start:s.end] == s.text:
        return s
    found = doc_text.find(s.text) if s.text else -1
    return Sentence(s.doc, found, found + len(s.text) if found >= 0 else -1, s.text, s.cite, s.closest)


def context(doc_text: str, start: int, end: int, room: int = ROOM) -> tuple[int, int]:
    """The paragraph around a span, cut to ``room`` characters each side at word boundaries."""
    a = doc_text.rfind("\n", 0, start) + 1
    b = doc_text.find("\n", end)
    b = len(doc_text) if b < 0 else b
    if start - a > room:
        a = doc_text.find(" ", start - room, start) + 1 or start - room
    if b - end > room:
        cut = doc_text.rfind(" ", end, end + room)
        b = cut if cut > end else end + room
    return a, b


def cards(sentences: list[Sentence], texts: Mapping[str, str]) -> list[Card]:
    """The cards for ``sentences`` (``texts``: article id → text), in the order of their first
    sentence: give the cited sentences first, in citation order, and the cited cards come first.
    Shown stretches of one article that overlap, or touch across blank space, are one card."""
    found: list[tuple[int, Card]] = []          # (first sentence's index, card)
    by_doc: dict[str, list[tuple[int, Sentence]]] = {}
    for i, s in enumerate(sentences):
        s = locate(texts.get(s.doc, ""), s)
        if s.start < 0:
            found.append((i, Card(s.doc, -1, -1, (s,))))
        else:
            by_doc.setdefault(s.doc, []).append((i, s))
    for doc, located in by_doc.items():
        text = texts[doc]
        runs: list[list] = []                   # [start, end, first index, sentences], in the article's order
        for i, s in sorted(located, key=lambda x: x[1].start):
            a, b = context(text, s.start, s.end)
            if runs and not text[runs[-1][1]:a].strip():     # overlaps (empty gap) or touches the previous
                run = runs[-1]
                run[0], run[1], run[2] = min(run[0], a), max(run[1], b), min(run[2], i)
                run[3].append(s)
            else:
                runs.append([a, b, i, [s]])
        found += [(i, Card(doc, a, b, tuple(ss))) for a, b, i, ss in runs]
    return [card for _, card in sorted(found, key=lambda x: x[0])]
