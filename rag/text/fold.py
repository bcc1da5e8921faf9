"""Lower case without accents, so "Pékin", "PEKIN" and "pekin" compare equal: the one folding
that search, the grounding rules, near-duplicate detection and the web chat's article filter share.

>>> fold("Pékin, Société ÉCONOMIQUE")
'pekin, societe economique'

NFKD also spells out compatibility forms ("ﬁ" → "fi", a no-break space → a space).
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", str(text).lower()) if not unicodedata.combining(c))

