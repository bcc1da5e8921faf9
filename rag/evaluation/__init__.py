"""Measuring: ``rag eval`` and its report, ``rag calibrate`` (fits the gate), ``rag bench``, and
the readers' feedback turned into eval cases.

Imports every stage below it, up to ``rag.pipeline``.
"""
