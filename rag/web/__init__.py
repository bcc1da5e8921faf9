"""The web chat (Gradio): it consumes the pipeline's event stream, as the CLI does.

``strings`` (the words, per language) ← ``render`` (pure HTML/Markdown) ← ``handlers`` (what each
event does) ← ``app`` (the page's wiring and ``serve``); ``static/`` holds its CSS and script.

Imports every stage below it, up to ``rag.evaluation`` (readers' feedback).
"""
