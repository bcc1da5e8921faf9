"""The HTTP backend: any server speaking the OpenAI chat protocol (llama.cpp's server,
vLLM, …) at ``RAG_LLM_URL``. Requests run concurrently: the server batches them.

How the two operations map onto the protocol:

- ``stream``: ``POST /chat/completions`` with ``stream: true``, read as server-sent
  events; ``usage`` comes from the server (``stream_options.include_usage``; llama.cpp
  also reports the prompt tokens it reused from its cache as ``timings.cache_n``).
  ``prefix`` is sent as a final assistant message that the reply continues: llama.cpp's
  server does so by default ("assistant prefill"), vLLM with ``continue_final_message``.
- ``label_probabilities``: the same request for one token with ``logprobs`` and the 20
  most likely tokens, renormalised over the labels among them. A label outside the top
  20 gets probability 0 (its true probability is below the 20th token's). A server that
  returns no token probabilities raises :class:`~rag.models.generation.Unsupported`.

Connection failures are retried with exponential backoff; then one line tells the user
to start the server. A server that dies mid-answer ends the answer with one line too.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from typing import TYPE_CHECKING, Iterator

import httpx

from rag.errors import RagError
from rag.models.generation import Generator, Message, Response, Unsupported, Usage

if TYPE_CHECKING:
    from rag.settings import Settings

TOP_LOGPROBS = 20                 # the OpenAI protocol's maximum
_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_BROKEN = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteError)


class OpenAIGenerator(Generator):
    concurrency = 16        # the server queues what exceeds its parallel slots
    def __init__(self, url: str, model: str = "", api_key: str = "", timeout: float = 120.0, retries: int = 3,
                 temperature: float = 0.0):
        self.url = url.rstrip("/")
        self._model = model
        self.retries = retries
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # One pooled client shared by every thread (httpx clients are thread-safe).
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=5.0),
                                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self._model_lock = threading.Lock()
        self._token_counts: dict[str, int] = {}
        self._tokenizer_missing = False

    @classmethod
    def from_settings(cls, settings: "Settings") -> "OpenAIGenerator":
        key = os.environ.get("RAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        return cls(settings.llm_url, settings.llm_model_name, key, timeout=settings.llm_timeout,
                   retries=settings.llm_retries, temperature=settings.temperature)

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

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        for attempt in self._attempts():
            try:
                response = self._client.request(method, self.url + path, json=body)
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
                raise self._failed(response)
            return response.json()
        raise AssertionError("unreachable")

    def _events(self, body: dict) -> Iterator[dict]:
        """The server-sent events of one streamed request, as JSON objects."""
        for attempt in self._attempts():
            try:
                with self._client.stream("POST", self.url + "/chat/completions", json=body) as response:
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

    def _body(self, messages: list[Message], prefix: str, max_tokens: int) -> dict:
        body = {"model": self.model_id, "messages": list(messages), "max_tokens": max_tokens,
                "temperature": self.temperature}
        if prefix:
            body["messages"].append({"role": "assistant", "content": prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)   # vLLM's names
        return body

    # ---- the two operations ------------------------------------------------------------------------
    def stream(self, messages: list[Message], max_tokens: int, prefix: str = "") -> Response:
        body = {**self._body(messages, prefix, max_tokens), "stream": True,
                "stream_options": {"include_usage": True}}
        usage = Usage()
        return Response(self._pieces(body, usage), usage)

    def _pieces(self, body: dict, usage: Usage) -> Iterator[str]:
        pieces = 0
        reported = False
        for event in self._events(body):
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    pieces += 1
                    yield piece
            if event.get("usage"):
                reported = True
                u = event["usage"]
                usage.prompt_tokens = u.get("prompt_tokens", 0)
                usage.completion_tokens = u.get("completion_tokens", 0)
                usage.cached_tokens = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            if event.get("timings") and not usage.cached_tokens:
                usage.cached_tokens = event["timings"].get("cache_n", 0)
        if not reported:
            usage.completion_tokens = pieces

    def label_probabilities(self, messages: list[Message], prefix: str, labels: list[str]) -> dict[str, float]:
        body = {**self._body(messages, prefix, 1), "logprobs": True, "top_logprobs": TOP_LOGPROBS}
        reply = self._request("POST", "/chat/completions", body)
        try:
            top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise Unsupported(f"the LLM server at {self.url} returns no token probabilities") from None
        logprob = {}
        for entry in top:
            logprob.setdefault(entry["token"], entry["logprob"])
        weights = {label: math.exp(logprob[label]) if label in logprob else 0.0 for label in labels}
        total = sum(weights.values())
        if total == 0.0:     # none of the labels is among the likely tokens: no preference to read
            return {label: 1.0 / len(labels) for label in labels}
        return {label: w / total for label, w in weights.items()}

    def count_tokens(self, text: str) -> int:
        """Exact through the server's ``/tokenize`` (llama.cpp, vLLM), else the estimate."""
        if self._tokenizer_missing:
            return super().count_tokens(text)
        if text not in self._token_counts:
            root = self.url.removesuffix("/v1")
            try:
                response = self._client.post(root + "/tokenize", json={"content": text, "add_special": False})
            except _UNREACHABLE as e:
                raise self._unreachable(e) from None
            if response.status_code >= 400:
                self._tokenizer_missing = True
                return super().count_tokens(text)
            if len(self._token_counts) > 50_000:
                self._token_counts.clear()
            self._token_counts[text] = len(response.json()["tokens"])
        return self._token_counts[text]
