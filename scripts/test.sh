#!/usr/bin/env bash
# Install (as scripts/install.sh), plus Chromium for the browser tests, then run every test:
# fast unit tests and the integration tests with the real models on the real seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
bash scripts/install.sh
# The optional servers (llama.cpp's HTTP server, PostgreSQL + pgvector), so CI starts them for real.
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test,server]"
exec .venv/bin/python -m pytest "$@"
