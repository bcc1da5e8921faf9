"""``rag llm-server``: llama.cpp's own HTTP server (OpenAI endpoints, continuous batching,
parallel slots, prompt cache) on a GGUF model, from the ``xllamacpp`` wheel (``.[server]``).

Any OpenAI-compatible server works with ``RAG_LLM_BACKEND=openai``; this one needs no
other install and runs the same GGUF as the in-process backend.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from rag.errors import RagError


def run(model: Path, host: str, port: int, parallel: int, n_ctx: int, threads: int,
        extra_buffers: bool = False) -> None:
    """Serve ``model`` until SIGTERM / SIGINT; ``n_ctx`` is the context of each slot."""
    from rag.models.llamacpp import use_extra_buffers

    try:
        import xllamacpp
    except ImportError:
        raise RagError("the LLM server is an optional part: pip install -e '.[server]'") from None
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = [host]
    params.port = port
    params.n_parallel = parallel
    params.n_ctx = n_ctx * parallel          # one context shared by the slots
    params.cont_batching = True
    params.use_jinja = True                  # the model's own chat template, as in-process
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.no_extra_bufts = not use_extra_buffers(extra_buffers)   # see rag.models.llamacpp
    params.verbosity = 1                     # errors only
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server = xllamacpp.Server(params)
    except Exception as e:  # noqa: BLE001 - the C++ side raises plain exceptions
        raise RagError(f"cannot start the LLM server on {host}:{port} with '{model}': {e}") from None
    print(f"LLM server ready: http://{host}:{port}/v1 ({parallel} parallel slots, model {model.name})", flush=True)
    stop.wait()
    del server


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The servers a child process can be (the benchmark, the tests): name → its health route.
SERVERS = {"llama.cpp": "/health", "llama-cpp-python": "/v1/models"}


class Child:
    """An LLM server as a child process on a loopback port (the benchmark, the tests): ``rag
    llm-server`` (llama.cpp's server, ``parallel`` slots), or llama-cpp-python's own server on
    the same GGUF (one request at a time).

    llama-cpp-python's server is started through ``rag.models.python_server`` (the in-process
    backend's buffer types: its own default crashes on AMX CPUs), with ``--logits_all False``: its default computes the
    whole vocabulary's logits (151,936 for the packaged model) at every prompt token, and the app
    reads none: it asks for the reply's text alone.

    >>> Child(parallel=2, port=8099).url
    'http://127.0.0.1:8099/v1'
    """

    def __init__(self, parallel: int = 2, port: int = 0, server: str = "llama.cpp", settings=None):
        """``settings`` (a ``rag.settings.Settings``): the model file, context and threads of
        llama-cpp-python's server (``rag llm-server`` reads its own)."""
        if server not in SERVERS:
            raise RagError(f"{server!r} is not a server the app starts: use one of {', '.join(SERVERS)}")
        if server != "llama.cpp" and settings is None:
            raise ValueError(f"the {server} server is started here, from the settings: pass settings")
        self.parallel = parallel
        self.server = server
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process = None

    def _command(self) -> list[str]:
        import sys

        if self.server == "llama.cpp":
            return [sys.executable, "-m", "rag.cli", "llm-server", "--port", str(self.port),
                    "--parallel", str(self.parallel)]
        from rag.models.files import llm_path

        s = self.settings
        return [sys.executable, "-m", "rag.models.python_server", "--model", str(llm_path(s.llm_model, s.cache_dir)),
                "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(s.n_ctx),
                "--n_threads", str(s.threads), "--n_threads_batch", str(s.threads), "--logits_all", "False"]

    def start(self, timeout: float = 120.0) -> "Child":
        """Start (again, on the same port) and wait until the model is loaded."""
        import subprocess
        import tempfile
        import time

        import httpx

        # Its log goes to a file: a pipe nobody reads fills up and blocks a server that logs every request.
        log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log.seek(0)
                raise RagError(f"the {self.server} server exited: {log.read().strip()[-300:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{SERVERS[self.server]}", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RagError(f"the {self.server} server did not answer on port {self.port} within {timeout:.0f} s")

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=30)

    def __enter__(self) -> "Child":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
