"""The web chat (Gradio): it consumes the pipeline's event stream, as the CLI does.

Imports every stage below it, up to ``rag.evaluation`` (readers' feedback).
"""
