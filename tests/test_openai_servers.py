"""The ``openai`` backend against what the common servers do, as fakes behind httpx's MockTransport:
each server's way of treating a final assistant message, a tokenizer route, a stream cut short.
Whatever the server, the reader sees the answer, never the protocol."""

from __future__ import annotations

import json
import re
import threading

import httpx
import pytest

from rag.models.chatformat import ChatFormat
from rag.models.openai_backend import OpenAIGenerator
from rag.pipeline import Pipeline, Token
from rag.models.serverprobe import CHAT, COMPLETION, USER_TURN, Capabilities
from rag.settings import Settings

from conftest import TEST_GATE, FakeReader, answer_from_evidence

FR = "Combien d'entreprises ont rejoint l'association du métavers du Zhejiang ?"
EN = "How many people attended the summit in Fuzhou?"
CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


class FakeServer:
    """An OpenAI-compatible server over a fake model (the conftest's ``answer_from_evidence``: the
    reader's answer words in a sentence of the language asked for).

    ``continues``: the chat route continues a final assistant message ("vllm": only when asked with
    ``continue_final_message``); otherwise the model starts its reply over, writing ``starts_over``
    (default: the ``Answer:`` line, tag included). ``completions``: a raw ``/completions`` route;
    ``tokenize``: a ``/tokenize`` route; ``cuts``: every stream ends after its first piece without a
    finish reason; ``echoes``: a non-streamed reply that continues holds the prefix too (llama.cpp's
    server); ``computes``: every reply reports its usage, a 1000-token prompt of which it computed
    that many (llama.cpp's ``timings.cache_n`` holds the rest); ``newline``: the model ends its answer
    with a newline (the app stops reading there), else the reply ends with the answer.
    """

    def __init__(self, continues=True, completions=True, tokenize=True, cuts=False, starts_over=None,
                 echoes=False, computes=None, newline=True):
        self.continues, self.completions, self.tokenize, self.cuts = continues, completions, tokenize, cuts
        self.starts_over, self.echoes, self.computes, self.newline = starts_over, echoes, computes, newline
        self.requests: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    # ---- the model -------------------------------------------------------------------------
    def _reply(self, messages: list[dict], prefix: str | None) -> str:
        """What the model writes after ``prefix`` (None: a reply it starts over, or the app's part in the user turn)."""
        if messages[-1]["content"].startswith("Count from 1 to 10"):
            return " 5, 6" if prefix else "1, 2, 3"
        end = "\n" if self.newline else ""
        if prefix is None:
            return self.starts_over or f"Answer: {answer_from_evidence(messages)}{end}"
        return f" {answer_from_evidence(messages)}{end}"

    # ---- the protocol ----------------------------------------------------------------------
    @staticmethod
    def _parse(prompt: str) -> tuple[list[dict], str]:
        """A ChatML prompt → (messages, what follows the opened assistant turn)."""
        turns = re.findall(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>\n", prompt, re.DOTALL)
        return [{"role": r, "content": c} for r, c in turns], prompt.rsplit("<|im_start|>assistant\n", 1)[1]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        route = request.url.path
        body = json.loads(request.content or b"{}")
        with self._lock:
            self.requests.append((route, body))
        if route == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "fake"}]})
        if route == "/tokenize" and self.tokenize:
            return httpx.Response(200, json={"tokens": list(range(len(body["content"].split())))})
        if route == "/v1/completions" and self.completions:
            messages, prefix = self._parse(body["prompt"])
            return self._answer(body, messages, prefix, chat=False)
        if route == "/v1/chat/completions":
            messages = body["messages"]
            continued = messages[-1]["role"] == "assistant" and (
                self.continues is True or (self.continues == "vllm" and body.get("continue_final_message")))
            prefix = messages[-1]["content"] if continued else None
            return self._answer(body, messages[:-1] if messages[-1]["role"] == "assistant" else messages, prefix,
                                chat=True)
        return httpx.Response(404, json={"error": "not found"})

    def _answer(self, body: dict, messages: list[dict], prefix: str | None, chat: bool) -> httpx.Response:
        text = self._reply(messages, prefix)
        cost = {} if self.computes is None else {"usage": {"prompt_tokens": 1000, "completion_tokens": 1},
                                                  "timings": {"cache_n": 1000 - self.computes}}
        if not body.get("stream"):
            whole = (prefix or "") + text if chat and self.echoes else text
            choice = {"message": {"role": "assistant", "content": whole}} if chat else {"text": text}
            return httpx.Response(200, json={"choices": [{**choice, "finish_reason": "stop"}], **cost})
        pieces = re.findall(r"\s*\S+|\s+$", text)
        events = [{"choices": [{"delta": {"content": p}} if chat else {"text": p}]} for p in pieces]
        if self.cuts:
            events = events[:1]             # llama-cpp-python's interrupt_requests: [DONE], no finish reason
        else:
            events.append({"choices": [{"delta": {}, "finish_reason": "stop"} if chat else
                                       {"text": "", "finish_reason": "stop"}], **cost})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})


SERVERS = {   # name → (the fake, what the probe must find)
    "llama.cpp server": (dict(echoes=True), Capabilities(CHAT, True)),
    "llama.cpp server, streams cut": (dict(echoes=True, cuts=True), Capabilities(CHAT, True)),
    "vLLM": (dict(continues="vllm"), Capabilities(CHAT, True)),
    "llama-cpp-python server": (dict(continues=False, tokenize=False, cuts=True), Capabilities(COMPLETION, False)),
    "chat route only": (dict(continues=False, completions=False, tokenize=False), Capabilities(USER_TURN, False)),
}


def _generator(server: FakeServer) -> OpenAIGenerator:
    return OpenAIGenerator("http://fake/v1", retries=0, transport=httpx.MockTransport(server),
                           local_format=lambda: ChatFormat(CHATML))


@pytest.fixture
def through(tmp_path, corpus, fake_embedder):
    """A pipeline over the seeds answering through ``FakeServer(**behaviour)``, its reader preferring
    the sentence holding ``prefer``; → (pipeline, server)."""
    def make(prefer=None, **behaviour):
        server = FakeServer(**behaviour)
        settings = Settings.load(env={}, corpus=corpus, index=tmp_path / "index", min_score=0.0)
        return Pipeline(settings, embedder=fake_embedder, generator=_generator(server), gate_model=TEST_GATE,
                        reader=FakeReader(prefer)), server
    return make


# The fake reader counts shared words, and an English question shares hardly any with the French seeds:
# it is told the sentence to choose.
@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.parametrize("question, prefer, answer", [(FR, None, "Les articles donnent 91"),
                                                      (EN, "360 000 personnes", "The articles give 360 000")])
def test_every_server_shows_the_answer_never_the_protocol(through, name, question, prefer, answer):
    behaviour, expected = SERVERS[name]
    pipe, server = through(prefer, **behaviour)
    events = list(pipe.ask_stream(question))
    assert pipe.generator.capabilities == expected
    result = events[-1].answer
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert not re.search(r"Sentence:|Question:|Answer( words| language)?:", streamed + result.answer), streamed
    assert result.prompt_tokens > 0
    assert not result.refused, result.reason
    assert result.answer.startswith(answer) and re.search(r"\[\d+\]", result.answer)
    figure = re.search(r"\d[\d ,.]*\d|\d", result.answer.split("[")[0]).group()
    assert figure in result.citations[0]["text"]


def test_a_reply_that_is_only_the_protocol_is_refused_with_that_reason(through):
    pipe, _ = through(continues=False, completions=False, tokenize=False, starts_over="Answer:")
    result = pipe.ask(FR)
    assert result.refused and "protocol" in result.reason
    assert result.answer.startswith("Les articles ne le disent pas : ") and "Answer" not in result.answer


def test_the_server_is_probed_once_for_concurrent_users(through):
    pipe, server = through(continues=False, tokenize=False)
    results = [None] * 4

    def ask(i):
        results[i] = pipe.ask(FR)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r and not r.refused and "91" in r.answer for r in results)
    probes = [b for route, b in server.requests if "Count from 1 to 10" in json.dumps(b)]
    assert len(probes) == 2          # the chat route (starts over), then /completions (continues)
    assert sum(route == "/tokenize" for route, _ in server.requests) == 1


def test_without_a_tokenizer_route_tokens_are_counted_with_the_local_vocabulary():
    server = FakeServer(continues=False, tokenize=False)
    generator = OpenAIGenerator("http://fake/v1", transport=httpx.MockTransport(server),
                                local_format=lambda: ChatFormat(CHATML, tokenize=lambda text: list(text)))
    assert generator.count_tokens("abcdef") == 6
    assert [route for route, _ in server.requests].count("/tokenize") == 1      # the probe's, refused


def test_the_web_chat_warms_up_through_the_route_that_continues(through):
    pipe, server = through(continues=False, tokenize=False)
    pipe.warm_up()
    assert server.requests[-1][0] == "/v1/completions" and server.requests[-1][1]["stream"]


def test_vocabularies_load_one_at_a_time_and_leave_the_output_alone(monkeypatch, tmp_path):
    """llama-cpp-python points stdout and stderr at /dev/null while it loads, then back: two loads
    at once would leave them there (a bench's results went missing so)."""
    import os
    import time

    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    active, most = [0], [0]

    class SlowVocabulary:
        metadata = {"tokenizer.chat_template": CHATML}

        def __init__(self, **kwargs):
            with suppress_stdout_stderr(disable=False):     # as Llama(verbose=False) does
                active[0] += 1
                most[0] = max(most[0], active[0])
                time.sleep(0.1)
                active[0] -= 1

    monkeypatch.setattr(llama_cpp, "Llama", SlowVocabulary)
    stdout = os.readlink("/proc/self/fd/1")
    threads = [threading.Thread(target=ChatFormat.from_gguf, args=(tmp_path / "model.gguf",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and os.readlink("/proc/self/fd/1") == stdout


def test_prefill_tokens_are_what_the_server_says_it_computed(through):
    pipe, _ = through(echoes=True, computes=7, newline=False)
    answer = pipe.ask(FR)
    assert not answer.refused, answer.reason
    assert answer.timings["prefill_tokens"] == 7 and answer.prompt_tokens == 1000


def test_prefill_tokens_of_a_reply_stopped_at_its_answer_line_are_its_whole_prompt(through):
    pipe, _ = through(echoes=True, computes=7)
    answer = pipe.ask(FR)
    assert not answer.refused, answer.reason
    # The app stops reading at the end of the answer line, before the stream's last event brings
    # the server's count: the whole prompt, counted here, is what it may have computed.
    assert answer.timings["prefill_tokens"] == answer.prompt_tokens > 7
