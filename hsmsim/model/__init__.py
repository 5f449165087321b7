"""Data types every layer shares: evidence and trust anchors, vector cases, fuzz models.

This package is the bottom of hsmsim's layering (with :mod:`hsmsim.verdict`, :mod:`hsmsim.errors`,
:mod:`hsmsim.encoding` and :mod:`hsmsim.safeio`): it imports no other part of hsmsim above it.
"""
