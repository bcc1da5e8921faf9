"""Offline question answering over news articles, with verified citations."""

import os

# Offline by construction: no model hub, no telemetry, whatever entry point is used.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)
# OMP_WAIT_POLICY is left to libgomp's default (spin briefly, then sleep), which llama.cpp shares with
# PyTorch: measured in the pipeline, it decodes 1.36x faster than "passive" and, unlike "active", burns
# no CPU while the app is idle (README "Speed").

__version__ = "0.1.0"
