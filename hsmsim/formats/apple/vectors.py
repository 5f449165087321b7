"""What both Apple catalogues share: the vector clock, the seeded keys, and turning benches into vector cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509

from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.model.catalogue import Mutation, mutation_case
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason

ATTEST_TIME = datetime(2026, 3, 2, 9, 14, 27, tzinfo=UTC)
VALIDATION_TIME = ATTEST_TIME + timedelta(hours=2)


def attested_key(seed: str, family: str, spec: str) -> PrivateKey:
    """The Secure Enclave key a catalogue attests for ``spec``, derived from the seed."""
    return derive_key(seed, f"{family}/keys/{spec}", KeySpec.parse(spec))


class Bench(Protocol):
    """A golden opened for one mutation."""

    def resign(self) -> None: ...
    def evidence(self) -> Evidence: ...


def note(refs: tuple[str, ...]) -> Callable[[str, Severity, str, str], FlagNote]:
    """A FlagNote maker carrying the catalogue's references."""
    return lambda bug_type, severity, description, effect: FlagNote(bug_type, severity, description, effect, refs)


def golden_case(seed: str, anchors: tuple[x509.Certificate, ...], case_id: str, comment: str,
                expected: dict[Profile, Reason], evidence: Evidence,
                flags: tuple[str, ...] = ("Golden",)) -> VectorCase:
    """A golden vector."""
    return VectorCase(id=case_id, comment=comment, flags=flags, expected=expected, evidence=evidence,
                      anchors=anchors, validation_time=VALIDATION_TIME,
                      provenance=Provenance(seed=seed, signing=Signing.GENUINE))


def mutation_cases(seed: str, anchors: tuple[x509.Certificate, ...], catalogue: list[Mutation],
                   open_bench: Callable[[str], Bench]) -> list[VectorCase]:
    """One vector per mutation: its golden opened, the defect applied, re-signed when the mutation says so."""
    cases = []
    for mutation in catalogue:
        bench = open_bench(mutation.golden)
        mutation.apply(bench)
        if mutation.resign:
            bench.resign()
        prefix = mutation.id.split("::", 1)[0]
        cases.append(mutation_case(mutation, bench.evidence(), anchors, VALIDATION_TIME, seed,
                                   f"{prefix}::golden::{mutation.golden}"))
    return cases
