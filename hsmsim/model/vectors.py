"""What a format contributes to the corpus: vector cases, flag definitions, provenance.

A format yields :class:`VectorCase` objects (inputs, trust, the verdict expected per
profile, flags, provenance); :mod:`hsmsim.corpus.build` turns them into the
Wycheproof-style JSON files and native files under ``vectors/``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from hsmsim.model.evidence import Evidence
from hsmsim.verdict import Profile, Reason


class Result(enum.StrEnum):
    """Wycheproof's three results."""

    VALID = "valid"
    """Every profile accepts."""
    INVALID = "invalid"
    """Every profile rejects, for the same reason."""
    ACCEPTABLE = "acceptable"
    """The verdict depends on the profile; a flag says why."""


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

    def to_json(self) -> dict[str, object]:
        """The JSON object under ``notes.<Flag>``."""
        return {"bugType": self.bug_type, "severity": self.severity.value,
                "description": self.description, "effect": self.effect, "refs": list(self.refs)}


@dataclass(frozen=True)
class Provenance:
    """Where a vector came from: the golden it mutates, the operator, the path it touched."""

    seed: str
    signing: Signing
    golden: str | None = None
    operator: str | None = None
    path: str | None = None

    def to_json(self) -> dict[str, object]:
        """The JSON object under ``provenance``."""
        return {"golden": self.golden, "operator": self.operator, "path": self.path,
                "seed": self.seed, "signing": self.signing.value}


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
    def result(self) -> Result:
        """valid / invalid / acceptable, from the per-profile expectations."""
        oks = [reason is Reason.OK for reason in self.expected.values()]
        if all(oks):
            return Result.VALID
        if not any(oks):
            return Result.INVALID
        return Result.ACCEPTABLE

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
