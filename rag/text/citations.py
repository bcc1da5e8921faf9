"""``[n]`` markers in an answer: parse them, keep the ones that point at given evidence, number
them for the reader.

>>> check("91 entreprises [1][4]. Objectif : 200 [2, 3].", n_evidence=2)
Checked(text='91 entreprises [1]. Objectif : 200 [2].', cited=[1, 2], dangling=[3, 4])
>>> check("Rien ici.", n_evidence=3).cited
[]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# [1] [1, 2] [1,2,3] [1-2] and the full-width or doubled variants small models emit.
_MARKER = re.compile(r"\s?[\[【]\s*(\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*)\s*[\]】]")


@dataclass
class Checked:
    text: str            # the answer with dangling markers removed, valid ones normalised to [n]
    cited: list[int]     # valid evidence numbers, in order of first use
    dangling: list[int]  # numbers the model invented


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        bounds = re.split(r"\s*[–-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit() and int(bounds[1]) - int(bounds[0]) < 10:
            out += range(int(bounds[0]), int(bounds[1]) + 1)
        elif part.isdigit():
            out.append(int(part))
    return out


def parse(text: str) -> list[int]:
    """Every number cited, in order, repeats included.

    >>> parse("a [2] b [1-3] c [2,4]")
    [2, 1, 2, 3, 2, 4]
    """
    return [n for m in _MARKER.finditer(text) for n in _numbers(m.group(1))]


def strip(text: str) -> str:
    """The text without its citation markers (to read its words or its language).

    >>> strip("91 entreprises [1][2].")
    '91 entreprises  .'
    """
    return _MARKER.sub(" ", text)


def renumber(text: str, numbers: list[int]) -> tuple[str, list[int]]:
    """``text`` with the markers of ``numbers`` renumbered 1…n in order of first appearance, and
    those numbers in that order (the i-th is now ``[i]``). The reader's [1] is the first source the
    answer names, whatever the sentence's place among the evidence; other bracketed numbers stay.

    >>> renumber("91 [6][3]. Puis 40 [3], en [2025].", [3, 6])
    ('91 [1][2]. Puis 40 [2], en [2025].', [6, 3])
    """
    known, order = set(numbers), []

    def new(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in known:
            return m.group(0)
        if n not in order:
            order.append(n)
        return f"[{order.index(n) + 1}]"

    return re.sub(r"\[(\d+)\]", new, text), order


def check(text: str, n_evidence: int) -> Checked:
    cited: list[int] = []
    dangling: list[int] = []

    def keep(m: re.Match) -> str:
        good = []
        for n in _numbers(m.group(1)):
            if 1 <= n <= n_evidence:
                if n not in good:
                    good.append(n)
                if n not in cited:
                    cited.append(n)
            elif n not in dangling:
                dangling.append(n)
        return " " + "".join(f"[{n}]" for n in good) if good else ""

    cleaned = _MARKER.sub(keep, text)
    # Adjacent markers collapse: "[1] [1]" -> "[1]".
    cleaned = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", cleaned)
    return Checked(cleaned.strip(), cited, sorted(dangling))
