"""The shipped reader file: what training changed (the top encoder layers and the heads) in fp16, with the
training report (data, seed, metrics, the probability's calibration) in its safetensors metadata.

It is applied at load on top of the converted multilingual-e5-small, which the install prepares.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FILE_NAME = "reader-e5-small.safetensors"
SHIPPED = Path(__file__).parent / FILE_NAME


def save(network, path: Path, report: dict) -> Path:
    """Write the trained tensors (fp16) and the report; returns ``path``."""
    import torch
    from safetensors.torch import save_file

    state = {name: t.to(torch.float16).contiguous() for name, t in network.trained_state().items()}
    meta = {"report": json.dumps({k: v for k, v in report.items() if k not in ("weights", "sha256")}),
            "trained_layers": str(network.trained_layers)}
    save_file(state, str(path), metadata=meta)
    return path


def report(path: Path) -> dict:
    """The training report kept in the file."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return json.loads(f.metadata()["report"])


def apply(network, path: Path) -> dict:
    """Load the file's tensors into ``network`` (fp32); returns its report. Every trained tensor must be
    there: a file from another layout is an error, not a half-trained reader."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    expected = set(network.trained_state())
    if set(state) != expected:
        missing = sorted(expected - set(state))[:3]
        raise ValueError(f"{path} does not fit this reader (missing {missing}, "
                         f"unexpected {sorted(set(state) - expected)[:3]})")
    network.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return report(path)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
