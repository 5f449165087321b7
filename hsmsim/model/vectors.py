"""What a format contributes to the corpus: vector cases, flag definitions, provenance.

A format yields :class:`VectorCase` objects (inputs, trust, the verdict expected per
profile, flags, provenance); :mod:`hsmsim.corpus.build` turns them into the
Wycheproof-style JSON files (typed in :mod:`hsmsim.model.corpus_schema`) and native files under ``vectors/``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from hsmsim.verdict import Profile, Reason

if TYPE_CHECKING:  # annotations only: the command line reads Severity without cryptography and the bundle readers
    from cryptography import x509

    from hsmsim.model.evidence import Evidence


class Expected(enum.StrEnum):
    """What a vector expects of a verifier: Wycheproof's three results (a verifier's answer is another enum)."""

    VALID = "valid"
    """Must be accepted (by every profile, for a vector as a whole)."""
    INVALID = "invalid"
    """Must be rejected (by every profile, for the same reason, for a vector as a whole)."""
    ACCEPTABLE = "acceptable"
    """Either verdict is right: for a vector as a whole, the verdict depends on the profile and a flag says why."""

    @property
    def verdict(self) -> str:
        """``ACCEPT``, ``REJECT`` or ``ACCEPT|REJECT``: the verdict wording of the expectation."""
        return {"valid": "ACCEPT", "invalid": "REJECT"}.get(self.value, "ACCEPT|REJECT")


class Severity(enum.StrEnum):
    """How bad it is to accept an invalid vector."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Signing(enum.StrEnum):
    """Whether the genuine attestation key signed the final bytes."""

    GENUINE = "Genuine"
    """Unmutated evidence."""
    RESIGNED = "Resigned"
    """The genuine attestation key re-signed after the mutation: the defect reaches semantic checks."""
    STALE = "Stale"
    """The signature predates the mutation (or is not the genuine key's)."""


@dataclass(frozen=True)
class FlagNote:
    """The definition of one flag, as the file header's ``notes`` carries it."""

    bug_type: str
    severity: Severity
    description: str
    effect: str
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """Where a vector came from: the golden it mutates, the operator, the path it touched."""

    seed: str
    signing: Signing
    golden: str | None = None
    operator: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class VectorCase:
    """One vector as a format produces it, before numbering and serialisation.

    ``expected`` gives the reason each profile must return (``Reason.OK`` = accept).
    """

    id: str
    comment: str
    flags: tuple[str, ...]
    expected: Mapping[Profile, Reason]
    evidence: Evidence
    anchors: tuple[x509.Certificate, ...]
    validation_time: datetime
    provenance: Provenance
    features: tuple[str, ...] = field(default_factory=tuple)

    @property
    def result(self) -> Expected:
        """valid / invalid / acceptable, from the per-profile expectations."""
        oks = [reason is Reason.OK for reason in self.expected.values()]
        if all(oks):
            return Expected.VALID
        if not any(oks):
            return Expected.INVALID
        return Expected.ACCEPTABLE

    @property
    def expected_reason(self) -> Reason:
        """The reason of the strictest rejecting profile, or OK for a valid vector."""
        for profile in (Profile.STRICT, Profile.STRUCTURAL):
            reason = self.expected.get(profile, Reason.OK)
            if reason is not Reason.OK:
                return reason
        return Reason.OK


PROVENANCE_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated evidence from the emulated HSM",
                       "a verifier that rejects it is broken for this key type"),
    "Resigned": FlagNote("PROVENANCE", Severity.INFO,
                         "the genuine attestation key re-signed after the mutation",
                         "the defect reaches the semantic checks behind the signature"),
    "Stale": FlagNote("PROVENANCE", Severity.INFO,
                      "the final bytes are not signed by the genuine attestation key after the mutation",
                      "the signature or chain check should catch it first"),
    "FuzzFinding": FlagNote("FUZZ", Severity.MEDIUM, "a minimised case found by `hsmsim fuzz` and promoted",
                            "a verifier disagreed with the reference verifier or the specification on it"),
}
"""Flags every format may use; the corpus builder defines them in every file that uses them."""
