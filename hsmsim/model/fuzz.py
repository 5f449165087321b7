"""What a format offers the fuzzer: goldens to start from, operators, and a way to render a case.

A format whose ``fuzz_model(seed)`` returns a model gets structure-aware fuzzing (field-level
operators that rebuild the bundle, with re-signing by the genuine attestation key). Every
format also gets byte-level fuzzing of its golden vectors through :mod:`hsmsim.fuzz.generic`.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from hsmsim.model.catalogue import Mutation
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES
from hsmsim.verdict import Profile, Reason


@dataclass(frozen=True)
class FuzzOperator:
    """One field-level change. ``apply(bench, rng)`` mutates the bench and returns the path it touched.

    ``invalidating``: the result is invalid by construction (the specification oracle applies).
    ``resign``: True (re-sign afterwards), False (the stale signature *is* the defect), None (coin flip).
    ``goldens``: the goldens it was designed for (None: any).
    ``catalogue``: one of the corpus's named defects. Only a case whose single applied operator is an
    invalidating catalogue defect counts as invalid by construction: stacked operators can undo each
    other (e.g. one duplicates the certificate another removes).
    ``expected``: for a catalogue defect, what every profile must answer when it is applied alone (its
    vector's expectation): the only source of a promoted finding's verdict other than a person's word.
    ``after_signing``: it edits the rendered evidence, after any re-signing (the evidence-level operators):
    the genuine key never signs its change, so a case that applies it is ``Stale``.
    ``flags``: for a catalogue defect, its vector's flags but the provenance ones: a promoted finding that is
    this defect alone carries them, and so their severity (``--fail-on`` judges it as the defect's vector).
    """

    name: str
    apply: Callable[[Any, random.Random], str]
    invalidating: bool = False
    resign: bool | None = None
    goldens: tuple[str, ...] | None = None
    catalogue: bool = False
    expected: Mapping[Profile, Reason] | None = None
    after_signing: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FuzzModel:
    """A format's fuzzing surface for one seed."""

    format: str
    goldens: tuple[str, ...]
    operators: tuple[FuzzOperator, ...]
    anchors: tuple[x509.Certificate, ...]
    validation_time: datetime
    open: Callable[[str], Any]
    """A fresh, mutable copy of the named golden bundle."""
    resign: Callable[[Any], None]
    """Re-sign the bench's signed content with the genuine attestation key."""
    render: Callable[[Any, bool], Evidence]
    """The evidence of a bench; ``packed`` asks for the vendor's container (e.g. the zip)."""
    verifier_files: frozenset[str] = frozenset()
    """Files laid beside the evidence that are the verifier's own configuration, not what a device sends (ms-kast's
    CA exchange key): held fixed like :attr:`anchors`, no random operator touches them."""
    resigns: bool = True
    """False when :attr:`resign` does nothing (the generic model): then no case is ``Resigned``."""
    golden_ids: Mapping[str, str] = field(default_factory=dict)
    """The vector id of each golden name, where it is not ``<format>::golden::<name>``."""

    def golden_id(self, name: str) -> str:
        """The vector id of the golden ``name`` (a finding's ``provenance.golden``)."""
        return self.golden_ids.get(name, f"{self.format}::golden::{name}")

    def operator(self, name: str) -> FuzzOperator:
        """The operator named ``name``; raises KeyError when the model has none."""
        return self._by_name[name]

    def usable(self, golden: str) -> tuple[FuzzOperator, ...]:
        """The operators offered for ``golden`` (designed for it or for any golden), in :attr:`operators` order."""
        return self._usable[golden]

    # Looked up for every case: computed once per model (a frozen dataclass: cached_property writes past it).
    @functools.cached_property
    def _by_name(self) -> dict[str, FuzzOperator]:
        return {op.name: op for op in self.operators}

    @functools.cached_property
    def _usable(self) -> dict[str, tuple[FuzzOperator, ...]]:
        return {golden: tuple(op for op in self.operators if op.goldens is None or golden in op.goldens)
                for golden in self.goldens}


def catalogue_operator(mutation: Mutation) -> FuzzOperator:
    """A vector catalogue's named defect as a fuzz operator on that format's workbench."""
    def apply(bench: Any, _rng: random.Random) -> str:
        mutation.apply(bench)
        return mutation.path
    invalid = mutation.expected[Profile.STRUCTURAL] is not Reason.OK
    return FuzzOperator(mutation.id, apply, invalidating=invalid, resign=mutation.resign, goldens=(mutation.golden,),
                        catalogue=True, expected=mutation.expected, flags=tuple(
                            f for f in (mutation.flag, *mutation.extra_flags) if f not in PROVENANCE_NOTES))
