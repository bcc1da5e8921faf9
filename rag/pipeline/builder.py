"""The one way the ``rag`` commands and the web chat make a pipeline: ``build(settings)``. Tests
replace this function to hand every command the same fake parts (``tests/conftest.py``'s
``fake_models``), instead of patching ``Pipeline`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.pipeline.ask import Pipeline

if TYPE_CHECKING:
    from rag.settings import Settings


def build(settings: "Settings", **given) -> Pipeline:
    """A pipeline for ``settings``; ``given`` parts (embedder, generator, store, gate_model) are used
    as they are, the others are made from the settings on first use (``rag.pipeline.parts``)."""
    return Pipeline(settings, **given)
