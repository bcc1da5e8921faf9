"""The reply's protocol never reaches the reader.

The model reads labelled lines (``Sentence:``, ``Answer words:``, ``Question:``, ``Answer language:``,
``rag.answer.prompts``) and its reply is forced to start after ``Answer:``, so its text is the answer
line. A server that does not continue the forced reply, or a model that starts over, writes the
protocol instead: ``Answer: …`` again, or echoes the labelled lines. :class:`AnswerLine` reads a
streamed reply piece by piece and gives only the answer line, without its ``Answer:`` tag; echoed
lines are left out, and a reply made only of them is told apart (``protocol_only``) so the pipeline
refuses it with that reason instead of showing it.
"""

from __future__ import annotations

import re

from rag.answer.prompts import WRITE_PREFIX, write_messages

# The labels of the lines the model reads, as rag.answer.prompts writes them: a reply line starting
# with one is an echo, whatever follows.
ECHOED = tuple(re.findall(r"^([A-Z][\w ]*:)", write_messages("q", "s", "w", "en")[-1]["content"], re.MULTILINE))
ANSWER_TAG = WRITE_PREFIX
_TAGS = (*ECHOED, ANSWER_TAG)


class AnswerLine:
    """The answer line of a reply fed piece by piece.

    >>> ECHOED
    ('Sentence:', 'Answer words:', 'Question:', 'Answer language:')
    >>> line = AnswerLine()
    >>> [line.feed(p) for p in ["Answer wo", "rds: 91 entreprises\\nAns", "wer: 91", " entreprises.\\n"]]
    ['', '', '91', ' entreprises.']
    >>> line.text, line.done, line.skipped
    ('91 entreprises.', True, ['Answer words: 91 entreprises', 'Answer:'])
    >>> only = AnswerLine()
    >>> only.feed("Sentence: 91 entreprises ont rejoint."), only.finish(), only.protocol_only
    ('', '', True)
    """

    def __init__(self):
        self.text = ""                  # the answer line so far (shown)
        self.skipped: list[str] = []    # protocol lines left out
        self.done = False               # the answer line has ended: stop reading
        self._line = ""                 # the current line while it may still be protocol
        self._dropping = False          # the current line is an echo, whatever follows

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
        if self._line.startswith(ECHOED):
            self._dropping = True
            return ""
        if self._line.startswith(ANSWER_TAG):
            self.skipped.append(ANSWER_TAG)
            self._line = self._line[len(ANSWER_TAG):].lstrip()
        if not self._line or any(tag.startswith(self._line) for tag in _TAGS):
            return ""
        self.text, self._line = self._line, ""
        return self.text

    def _end_line(self) -> str:
        line, self._line = self._line.strip(), ""
        if self.text:
            self.done = True
            return ""
        if self._dropping or not line:
            self._dropping = False
            if line:
                self.skipped.append(line)
            return ""
        # Held back as the start of a tag ("Ans"), but the line ended: it was the answer.
        self.text, self.done = line, True
        return line
