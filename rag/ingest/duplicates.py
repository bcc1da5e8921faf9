"""Near-duplicate articles: the same wire copy on several sites, lightly edited.

Each article's set of word 3-grams (lower-cased, accents folded) is summarised by a
MinHash (``datasketch``); locality-sensitive hashing finds the pairs whose estimated
Jaccard similarity is at least ``THRESHOLD``, and linked articles form one group. The
group's original is its earliest-dated article (then the first id); the others are its
copies: they stay in the index but are searched and shown only through the original,
with "also published by …".

Measured on the seeds and lightly edited copies of them (dateline and footer added, a
sentence dropped, paragraphs re-cut, one word in ten or in five replaced;
``tests/test_duplicates.py`` builds the set): MinHash gives copies 0.51 or more (0.24 when
one word in five is replaced) and different articles on the same subject at most 0.04;
the embedding model's cosine (e5, document openings) gives copies 0.956 or more but
different same-subject articles up to 0.891 — a margin of 0.065 against 0.20, and it
reads only the first 512 tokens. So MinHash, at 0.3.
"""

from __future__ import annotations

import re

from rag.ingest.document import Document
from rag.text.fold import fold

THRESHOLD = 0.3
NUM_PERM = 128
SHINGLE = 3
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """Word ``size``-grams of the folded text.

    >>> sorted(shingles("Le Zhejiang crée une association", 3))
    ['cree une association', 'le zhejiang cree', 'zhejiang cree une']
    """
    folded = fold(text)
    words = _WORD.findall(folded)
    return {" ".join(words[i:i + size]) for i in range(max(0, len(words) - size + 1))}


def signature(text: str):
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch([s.encode("utf-8") for s in shingles(text)])
    return m


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of two texts' shingles."""
    return float(signature(a).jaccard(signature(b)))


def find_copies(docs: list[Document], threshold: float = THRESHOLD) -> dict[str, str]:
    """``{copy id: original id}`` for every article that near-duplicates an earlier one."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    sigs = {}
    for doc in docs:
        if len(shingles(doc.text)) < 8:      # too short to tell a copy from a coincidence
            continue
        sigs[doc.id] = signature(doc.text)
        lsh.insert(doc.id, sigs[doc.id])
    parent = {doc_id: doc_id for doc_id in sigs}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for doc_id, sig in sigs.items():
        for other in lsh.query(sig):
            if other != doc_id and sig.jaccard(sigs[other]) >= threshold:
                parent[root(other)] = root(doc_id)
    groups: dict[str, list[Document]] = {}
    by_id = {d.id: d for d in docs}
    for doc_id in sigs:
        groups.setdefault(root(doc_id), []).append(by_id[doc_id])
    copies = {}
    for members in groups.values():
        if len(members) > 1:
            original = min(members, key=lambda d: (d.date or "9999", d.id))
            copies.update({d.id: original.id for d in members if d.id != original.id})
    return dict(sorted(copies.items()))
