"""The HTTP backend: any server speaking the OpenAI protocol (llama.cpp's server,
llama-cpp-python's server, vLLM, Ollama, …) at ``RAG_LLM_URL``. Requests run concurrently:
the server batches or queues them.

The reply is read as server-sent events. What the server supports is found at the first request
(``rag.models.serverprobe``, once per generator) and decides how a forced ``prefix`` is continued:
a final assistant message in the chat route (llama.cpp's server by default, vLLM with
``continue_final_message``); else the chat rendered here with the GGUF's own template and sent to
the raw ``/completions`` route (llama-cpp-python's server); else the prefix in the user turn, the
model asked for what follows. ``usage`` comes from the server (llama.cpp also reports the prompt
tokens it reused as ``timings.cache_n``), else is counted here.

A stream that ends without a finish reason was cut short (llama-cpp-python's server ends
one as soon as another request waits, ``interrupt_requests``): the rest of the same reply is
asked again without streaming, which the server does not cut. Connection failures are retried
with exponential backoff; then one line tells the user to start the server. A server that dies
mid-answer ends the answer with one line too.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterator

import httpx

from rag.models import serverprobe
from rag.errors import RagError
from rag.models.generation import Generator, Message, Response, Usage
from rag.models.serverprobe import CHAT, COMPLETION, Capabilities

if TYPE_CHECKING:
    from rag.models.chatformat import ChatFormat
    from rag.settings import Settings

_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_BROKEN = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteError)


class _Refused(RagError):
    """The server answered with an HTTP error: no such route, or a request it does not take."""


def _read_usage(reply: dict, usage: Usage) -> None:
    """What the server reports of a request's cost (a reply, or a stream's last event) into ``usage``:
    the protocol's ``usage``, and llama.cpp's ``timings.cache_n`` for the prompt tokens it reused.

    >>> u = Usage()
    >>> _read_usage({"usage": {"prompt_tokens": 500, "completion_tokens": 1}, "timings": {"cache_n": 480}}, u)
    >>> u.new_prompt_tokens
    20
    """
    if reply.get("usage"):
        u = reply["usage"]
        usage.prompt_tokens = u.get("prompt_tokens", 0)
        usage.completion_tokens = u.get("completion_tokens", 0)
        usage.cached_tokens = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    if reply.get("timings") and not usage.cached_tokens:
        usage.cached_tokens = reply["timings"].get("cache_n", 0)


class OpenAIGenerator(Generator):
    concurrency = 16        # the server queues what exceeds its parallel slots
    def __init__(self, url: str, model: str = "", api_key: str = "", timeout: float = 120.0, retries: int = 3,
                 temperature: float = 0.0, local_format: Callable[[], "ChatFormat"] | None = None,
                 transport: httpx.BaseTransport | None = None):
        """``local_format`` loads the served model's chat template and vocabulary (the local GGUF),
        needed only on servers that cannot continue a chat reply or count tokens; it may raise
        RagError (no local model), then the app does without."""
        self.url = url.rstrip("/")
        self._model = model
        self.retries = retries
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # One pooled client shared by every thread (httpx clients are thread-safe).
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=5.0), transport=transport,
                                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self._model_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._capabilities: Capabilities | None = None
        self._load_format = local_format
        self._format: ChatFormat | None = None
        self._format_loaded = False
        self._token_counts: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: "Settings") -> "OpenAIGenerator":
        from rag.models.chatformat import ChatFormat
        from rag.models.files import llm_path

        key = os.environ.get("RAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        return cls(settings.llm_url, settings.llm_model_name, key, timeout=settings.llm_timeout,
                   retries=settings.llm_retries, temperature=settings.temperature,
                   local_format=lambda: ChatFormat.from_gguf(llm_path(settings.llm_model, settings.cache_dir)))

    @property
    def model_id(self) -> str:
        """The configured model name, else the first one the server lists (asked once)."""
        with self._model_lock:
            if not self._model:
                models = self._request("GET", "/models").get("data") or []
                if not models:
                    raise RagError(f"the LLM server at {self.url} lists no model: set RAG_LLM_MODEL_NAME")
                self._model = models[0]["id"]
            return self._model

    @property
    def local_format(self) -> "ChatFormat | None":
        """The local GGUF's chat template and vocabulary, loaded on first use; None without one."""
        with self._model_lock:
            if not self._format_loaded:
                self._format_loaded = True
                try:
                    self._format = self._load_format() if self._load_format else None
                except RagError:
                    self._format = None
            return self._format

    @property
    def capabilities(self) -> Capabilities:
        """What the server supports, found by the first request that needs it (``rag.models.serverprobe``)."""
        with self._probe_lock:
            if self._capabilities is None:
                self._capabilities = serverprobe.probe(self._refusable, self.model_id, self.local_format)
            return self._capabilities

    # ---- HTTP ----------------------------------------------------------------------------------
    def _unreachable(self, error: Exception) -> RagError:
        return RagError(f"cannot reach the LLM server at {self.url} ({type(error).__name__}): "
                        f"start it or set RAG_LLM_URL")

    def _failed(self, response: httpx.Response) -> RagError:
        try:
            detail = response.json().get("error", {})
            detail = detail.get("message", detail) if isinstance(detail, dict) else detail
        except (ValueError, AttributeError):
            detail = response.text
        return RagError(f"the LLM server at {self.url} answered HTTP {response.status_code}: "
                        f"{' '.join(str(detail).split())[:200]}")

    def _attempts(self) -> Iterator[int]:
        """Attempt numbers, sleeping 0.5 s, 1 s, 2 s… between them."""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            yield attempt

    def _refusable(self, path: str, body: dict) -> dict | None:
        """POST ``path`` (under the base URL; ``/tokenize`` at the server's root); None when the
        server answers it with an error."""
        root = self.url.removesuffix("/v1") if path == "/tokenize" else self.url
        try:
            return self._request("POST", path, body, root=root)
        except _Refused:
            return None

    def _request(self, method: str, path: str, body: dict | None = None, root: str = "") -> dict:
        for attempt in self._attempts():
            try:
                response = self._client.request(method, (root or self.url) + path, json=body)
            except _UNREACHABLE as e:
                if attempt == self.retries:
                    raise self._unreachable(e) from None
                continue
            except _BROKEN as e:
                raise RagError(f"the LLM server at {self.url} dropped the request ({type(e).__name__}): "
                               f"ask again; if it persists, check the server's log") from None
            if response.status_code == 503 and attempt < self.retries:   # still loading its model
                continue
            if response.status_code >= 400:
                raise _Refused(self._failed(response))
            return response.json()
        raise AssertionError("unreachable")

    def _events(self, route: str, body: dict) -> Iterator[dict]:
        """The server-sent events of one streamed request, as JSON objects."""
        for attempt in self._attempts():
            try:
                with self._client.stream("POST", self.url + route, json=body) as response:
                    if response.status_code == 503 and attempt < self.retries:
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise self._failed(response)
                    for line in response.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            return
                        event = json.loads(data)
                        if "error" in event:
                            raise RagError(f"the LLM server at {self.url} failed mid-answer: {event['error']}")
                        yield event
                    return
            except _UNREACHABLE as e:
                if attempt == self.retries:
                    raise self._unreachable(e) from None
            except _BROKEN as e:
                raise RagError(f"the LLM server at {self.url} stopped mid-answer ({type(e).__name__}): "
                               f"ask again once it is back") from None

    def _ask(self, messages: list[Message], prefix: str, max_tokens: int) -> tuple[str, dict, str]:
        """(route, body, the prompt as text) for a reply forced to start with ``prefix``, asked the
        way the server continues one."""
        reply = self.capabilities.reply if prefix else CHAT    # with nothing to continue, any chat route does
        body = {"model": self.model_id, "max_tokens": max_tokens, "temperature": self.temperature}
        if reply == COMPLETION:
            prompt = self.local_format.render(messages, prefix)
            return "/completions", {**body, "prompt": prompt}, prompt
        if reply == CHAT:
            messages = list(messages)
            if prefix:
                messages.append({"role": "assistant", "content": prefix})
                body.update(continue_final_message=True, add_generation_prompt=False)   # vLLM's names
        else:
            messages = serverprobe.reply_in_user_turn(messages, prefix)
        return "/chat/completions", {**body, "messages": messages}, "\n".join(m["content"] for m in messages)

    # ---- the reply ---------------------------------------------------------------------------------
    def stream(self, messages: list[Message], max_tokens: int, prefix: str = "") -> Response:
        route, body, prompt = self._ask(messages, prefix, max_tokens)
        usage = Usage()
        return Response(self._pieces(route, body, prompt, usage), usage)

    def _pieces(self, route: str, body: dict, prompt: str, usage: Usage) -> Iterator[str]:
        streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
        text, pieces, finished = "", 0, False
        try:
            for event in self._events(route, streamed):
                for choice in event.get("choices") or []:
                    piece = choice.get("text") if route == "/completions" else (choice.get("delta") or {}).get("content")
                    finished = finished or bool(choice.get("finish_reason"))
                    if piece:
                        pieces += 1
                        text += piece
                        yield piece
                _read_usage(event, usage)
            if not finished:
                yield from self._rest(route, body, text)
        except GeneratorExit:     # the reader stopped early, before the server's usage arrived
            self._count(usage, prompt, pieces)
            raise
        self._count(usage, prompt, pieces)

    def _count(self, usage: Usage, prompt: str, pieces: int) -> None:
        """What the server did not report, counted here."""
        usage.prompt_tokens = usage.prompt_tokens or self.count_tokens(prompt)
        usage.completion_tokens = usage.completion_tokens or pieces

    def _rest(self, route: str, body: dict, text: str) -> Iterator[str]:
        """The rest of a reply whose stream was cut short after ``text``: the same request without
        streaming (greedy decoding gives the same reply, which the server does not cut)."""
        choice = (self._request("POST", route, body).get("choices") or [{}])[0]
        if route == "/completions":
            whole = choice.get("text") or ""
        else:
            last = body["messages"][-1]
            prefix = last["content"] if last["role"] == "assistant" else ""
            whole = serverprobe.continuation((choice.get("message") or {}).get("content") or "", prefix)
        if not whole.startswith(text):
            raise RagError(f"the LLM server at {self.url} cut the answer short and answered again differently: "
                           f"ask again")
        if whole[len(text):]:
            yield whole[len(text):]

    def count_tokens(self, text: str) -> int:
        """Exact through the server's ``/tokenize`` (llama.cpp, vLLM) or the local GGUF's vocabulary,
        else the estimate."""
        if text not in self._token_counts:
            if self.capabilities.tokenizer:
                reply = self._request("POST", "/tokenize", serverprobe.tokenize_request(self.model_id, text),
                                      root=self.url.removesuffix("/v1"))
                count = len(reply["tokens"])
            else:
                local = self.local_format
                count = (local.count(text) if local else None) or super().count_tokens(text)
            if len(self._token_counts) > 50_000:
                self._token_counts.clear()
            self._token_counts[text] = count
        return self._token_counts[text]
