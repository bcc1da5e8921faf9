"""A model's chat template and vocabulary, read from its GGUF file without the weights.

The in-process backend renders every prompt with it; the HTTP backend uses it to continue a
reply on a server whose chat route cannot (llama-cpp-python's server, Ollama): it renders the
chat itself and sends the text, reply opened and prefix written, to the raw ``/completions``
route. Loading the vocabulary alone takes well under a second and no weights.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from rag.errors import RagError
from rag.models.generation import Message


def render(template: str, messages: list[Message], prefix: str = "") -> str:
    """The chat in ``template`` (Jinja), the reply opened, then ``prefix``.

    >>> chatml = ("{% for m in messages %}<|im_start|>{{ m.role }}\\n{{ m.content }}<|im_end|>\\n{% endfor %}"
    ...           "{% if add_generation_prompt %}<|im_start|>assistant\\n{% endif %}")
    >>> render(chatml, [{"role": "user", "content": "Hi"}], "Source:")
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\nSource:'
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token="", bos_token="")(messages=messages).prompt + prefix


# llama-cpp-python points the process's stdout and stderr at /dev/null while it loads a model and
# then back: two loads at once in two threads leave them at /dev/null for good. Every load holds this.
LOADING = threading.Lock()


class ChatFormat:
    """A chat template and, when known, the tokenizer that counts prompt tokens exactly."""

    def __init__(self, template: str, tokenize: Callable[[str], list[int]] | None = None):
        self.template = template
        self._tokenize = tokenize

    @classmethod
    def from_gguf(cls, path: Path) -> "ChatFormat":
        """The template and vocabulary of the GGUF at ``path`` (its weights are not read)."""
        try:
            from llama_cpp import Llama
            from llama_cpp._utils import suppress_stdout_stderr
        except ImportError:
            raise RagError("llama-cpp-python is not installed: run the install command from the README") from None
        try:
            # llama.cpp warns on stderr about the context a vocabulary has no use for.
            with LOADING, suppress_stdout_stderr(disable=False):
                vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise RagError(f"cannot read the vocabulary of '{path}' ({str(e).splitlines()[0][:120]})") from None
        template = vocab.metadata.get("tokenizer.chat_template")
        if not template:
            raise RagError(f"the model '{Path(path).name}' has no chat template: use an instruct GGUF")
        lock = threading.Lock()     # one llama.cpp vocabulary object shared by the threads

        def tokenize(text: str) -> list[int]:
            with lock:
                return vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True)

        return cls(template, tokenize)

    def render(self, messages: list[Message], prefix: str = "") -> str:
        return render(self.template, messages, prefix)

    def count(self, text: str) -> int | None:
        """Tokens of ``text`` (special tokens parsed), or None without a tokenizer."""
        return len(self._tokenize(text)) if self._tokenize else None
