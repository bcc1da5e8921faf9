"""The pipeline: settings → parts (``builder``) → ``Pipeline.ask_stream`` (``ask``), a stream of
typed ``events`` that the CLI and the web chat consume.

Imports every stage below it (``text`` … ``answer``).
"""

from rag.pipeline.ask import Pipeline
from rag.pipeline.events import Answer, Done, Event, Restart, Retrieved, Status, Token

__all__ = ["Pipeline", "Answer", "Done", "Event", "Restart", "Retrieved", "Status", "Token"]
