"""What an OpenAI-compatible server supports, found by trying it once.

The protocol leaves two things to the server, and the pipeline leans on both:

- **continuing a reply**: the chat route continues a final assistant message on llama.cpp's
  server (by default) and vLLM (``continue_final_message``); llama-cpp-python's server and
  others open a new assistant turn after it, and the model starts its reply over. Where the
  chat route does not continue, the raw ``/completions`` route does, given the chat rendered
  here with the model's own template (``rag.models.chatformat``); without either, the forced reply
  goes into the user turn (``reply_in_user_turn``).
- **a tokenizer route** (``/tokenize``: llama.cpp, vLLM); else tokens are counted with the
  local GGUF's vocabulary, else estimated.

The test is a count the model cannot get wrong: after "1, 2, 3, 4," a reply that continues
says 5, one that starts over says 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from rag.models.chatformat import ChatFormat

CHAT, COMPLETION, USER_TURN = "chat", "completion", "user turn"
PROBE = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
PROBE_PREFIX = "1, 2, 3, 4,"
PROBE_NEXT = "5"

Post = Callable[[str, dict], "dict | None"]    # (route, JSON body) → reply, None if the server refuses it


@dataclass(frozen=True)
class Capabilities:
    reply: str              # how a forced reply is continued: CHAT, COMPLETION or USER_TURN
    tokenizer: bool         # the server's /tokenize route counts tokens


def continuation(text: str, prefix: str) -> str:
    """What a non-streamed chat reply adds to ``prefix``: llama.cpp's server returns the continued
    assistant message whole, the prefix included (its streamed deltas hold only the new text).

    >>> continuation("1, 2, 3, 4, 5,", "1, 2, 3, 4,"), continuation(" 5,", "1, 2, 3, 4,")
    (' 5,', ' 5,')
    """
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def _chat_text(reply: dict | None) -> str:
    try:
        return reply["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return ""


def _completion_text(reply: dict | None) -> str:
    try:
        return reply["choices"][0]["text"] or ""
    except (KeyError, IndexError, TypeError):
        return ""


def tokenize_request(model: str, text: str) -> dict:
    """A ``/tokenize`` body both llama.cpp (``content``) and vLLM (``prompt``) read, without special tokens."""
    return {"model": model, "content": text, "prompt": text, "add_special": False, "add_special_tokens": False}


def probe(post: Post, model: str, local: "ChatFormat | None") -> Capabilities:
    """Try the server: a continued reply in the chat route, else in /completions, and its tokenizer."""
    tokenizer = isinstance((post("/tokenize", tokenize_request(model, PROBE_PREFIX)) or {}).get("tokens"), list)
    body = {"model": model, "max_tokens": 3, "temperature": 0.0}
    chat = {**body, "messages": PROBE + [{"role": "assistant", "content": PROBE_PREFIX}],
            "continue_final_message": True, "add_generation_prompt": False}
    # Three tokens: a reply that starts over cannot write the whole prefix, so an echo of it is a continuation.
    if continuation(_chat_text(post("/chat/completions", chat)), PROBE_PREFIX).lstrip().startswith(PROBE_NEXT):
        return Capabilities(CHAT, tokenizer)
    if local is not None:
        raw = {**body, "prompt": local.render(PROBE, PROBE_PREFIX)}
        if _completion_text(post("/completions", raw)).lstrip().startswith(PROBE_NEXT):
            return Capabilities(COMPLETION, tokenizer)
    return Capabilities(USER_TURN, tokenizer)


def reply_in_user_turn(messages: list[dict], prefix: str) -> list[dict]:
    """The chat for a server that cannot continue a reply: the reply's start
    the app would have written goes at the end of the user turn, and the model writes what follows.

    >>> print(reply_in_user_turn([{"role": "user", "content": "Question: Combien ?"}], "Answer:")[0]["content"])
    Question: Combien ?
    <BLANKLINE>
    Your reply starts with these lines, already written:
    Answer:
    Write only what follows them: the rest of the last line, nothing else.
    """
    *before, last = messages
    return [*before, {**last, "content": f"{last['content']}\n\nYour reply starts with these lines, already written:\n"
                                         f"{prefix}\nWrite only what follows them: the rest of the last line, nothing else."}]
