"""The reply's protocol never reaches the reader.

The model is asked for three lines (``Source:``, ``Quote:``, ``Answer:``, ``rag.answer.prompts``) and
the app writes the first two itself, so the model's text is the answer line. A server that does
not continue the forced reply, or a model that starts over, writes the protocol instead:
``Source: D [4]``, a bare label, the quote again, ``Answer: …``. :class:`AnswerLine` reads a
streamed reply piece by piece and gives only the answer line, without its ``Answer:`` tag;
lines that are protocol alone are left out, and a reply made only of them is told apart
(``protocol_only``) so the pipeline refuses it with that reason instead of showing it.
"""

from __future__ import annotations

import re

from rag.answer.prompts import ANSWER_PREFIX, NONE_LABEL, QUOTE

# "Quote:", "Answer:": the lines the app writes after the letter, as rag.answer.prompts spells them.
QUOTE_TAG, ANSWER_TAG = re.findall(r"^(\w+:)", QUOTE, re.MULTILINE)
_DROPPED = (ANSWER_PREFIX, QUOTE_TAG)          # a line starting so is protocol, whatever follows
_TAGS = (ANSWER_PREFIX, QUOTE_TAG, ANSWER_TAG)
_PREFIXES_OF_NONE = "|".join(NONE_LABEL[:i] for i in range(1, len(NONE_LABEL) + 1))
# What a line that is only a label and citation markers ("D", "NONE", "D [4]") can look like,
# complete and while still being written.
_LABEL_ONLY = re.compile(rf"(?:[A-T]|{NONE_LABEL})?\s*(?:\[\d+\]\s*)*\.?")
_MAYBE_LABEL_ONLY = re.compile(rf"(?:[A-T]|{_PREFIXES_OF_NONE})?\s*(?:\[\d*\]?\s*)*\.?")


class AnswerLine:
    """The answer line of a reply fed piece by piece.

    >>> line = AnswerLine()
    >>> [line.feed(p) for p in ["Source", ": D", " [4]\\nQuote: 91 entreprises.\\nAns", "wer: 91", " entreprises.\\n"]]
    ['', '', '', '91', ' entreprises.']
    >>> line.text, line.done, line.skipped
    ('91 entreprises.', True, ['Source: D [4]', 'Quote: 91 entreprises.', 'Answer:'])
    >>> only = AnswerLine()
    >>> only.feed("Source: D [4]"), only.finish(), only.protocol_only
    ('', '', True)
    """

    def __init__(self):
        self.text = ""                  # the answer line so far (shown)
        self.skipped: list[str] = []    # protocol lines left out
        self.done = False               # the answer line has ended: stop reading
        self._line = ""                 # the current line while it may still be protocol
        self._dropping = False          # the current line is protocol, whatever follows

    @property
    def protocol_only(self) -> bool:
        return not self.text and bool(self.skipped)

    def feed(self, piece: str) -> str:
        """The text of ``piece`` to show now (held back while it may still be protocol)."""
        shown = ""
        while piece and not self.done:
            chunk, newline, piece = piece.partition("\n")
            shown += self._add(chunk)
            if newline:
                shown += self._end_line()
        return shown

    def finish(self) -> str:
        """The reply has ended: what was held back and is an answer after all."""
        return "" if self.done else self._end_line()

    def _add(self, chunk: str) -> str:
        if self.text:
            self.text += chunk
            return chunk
        self._line += chunk
        if self._dropping:
            return ""
        self._line = self._line.lstrip()
        if self._line.startswith(ANSWER_TAG):
            self.skipped.append(ANSWER_TAG)
            self._line = self._line[len(ANSWER_TAG):].lstrip()
        if self._line.startswith(_DROPPED):
            self._dropping = True
            return ""
        if any(tag.startswith(self._line) for tag in _TAGS) or _MAYBE_LABEL_ONLY.fullmatch(self._line):
            return ""
        self.text, self._line = self._line, ""
        return self.text

    def _end_line(self) -> str:
        line, self._line = self._line.strip(), ""
        if self.text:
            self.done = True
            return ""
        if self._dropping or _LABEL_ONLY.fullmatch(line):
            self._dropping = False
            if line:
                self.skipped.append(line)
            return ""
        # Held back as the start of a tag ("Ans"), but the line ended: it was the answer.
        self.text, self.done = line, True
        return line
