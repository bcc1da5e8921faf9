"""llama-cpp-python's own OpenAI-compatible server, started with the app's model parameters.

Its command line (``python -m llama_cpp.server``) has no switch for llama.cpp's "extra buffer
types", and its default puts the weights in them: on an Intel CPU with AMX that is the AMX
matmul, which kills the server on its first multi-token batch (SIGILL, llama-cpp-python 0.3.36;
see ``rag.models.llamacpp.use_extra_buffers``). This runs the same server, same arguments, with
the buffers the in-process backend would use::

    python -m rag.models.python_server --model m.gguf --port 8000 ...
"""

from __future__ import annotations

import runpy

from rag.models.llamacpp import model_params, use_extra_buffers


def main() -> None:
    with model_params(use_extra_bufts=use_extra_buffers(False)):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
