"""The one exception type a user may see: a one-line message that says what to do."""


class RagError(Exception):
    """An error caused by the user's input, files or set-up (not a bug).

    The CLI and the web chat print ``str(err)`` and nothing else, so the
    message must name the file or value at fault and the fix, on one line.

    >>> str(RagError("no articles in 'x/': add .txt or .md files"))
    "no articles in 'x/': add .txt or .md files"
    """
