"""placeholder"""
from __future__ import annotations

from hsmsim.model.vectors import FlagNote, VectorCase


def evidence_cases(seed: str) -> list[VectorCase]:
    return []


def evidence_notes() -> dict[str, FlagNote]:
    return {}


def csr_cases(seed: str) -> list[VectorCase]:
    return []


def csr_notes() -> dict[str, FlagNote]:
    return {}
