"""Building blocks every format's vector catalogue shares: expectations, the Mutation record, seeded Faker."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.verdict import Profile, Reason

if TYPE_CHECKING:
    from faker import Faker


def valid() -> dict[Profile, Reason]:
    """Every profile accepts."""
    return {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.OK}


def invalid(reason: Reason) -> dict[Profile, Reason]:
    """Every profile rejects with ``reason``."""
    return {Profile.STRUCTURAL: reason, Profile.STRICT: reason}


def strict_only(reason: Reason) -> dict[Profile, Reason]:
    """Structural accepts; strict rejects with ``reason``."""
    return {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: reason}


@dataclass(frozen=True)
class Mutation:
    """One named defect: what to change (``apply`` on the format's workbench), and what every profile must say."""

    id: str
    flag: str
    note: FlagNote
    comment: str
    operator: str
    path: str
    apply: Callable[[Any], None]
    expected: dict[Profile, Reason]
    resign: bool
    golden: str = "rsa-3072"
    extra_flags: tuple[str, ...] = field(default_factory=tuple)


def second_csr_note(bug_type: str, whose_key: str, refs: tuple[str, ...], *,
                    description: str = "a second CSR, for another key, beside the key's own") -> FlagNote:
    """The note of a bundle carrying another key's CSR beside the one that binds ``whose_key``: which CSR binds it
    is ambiguous, and every format rejects an ambiguous bundle (MALFORMED) rather than let file order decide."""
    return FlagNote(bug_type, Severity.HIGH, description,
                    f"which CSR binds {whose_key} is ambiguous: a verifier that reads one of them by file order "
                    "accepts or rejects by that order (MALFORMED: an ambiguous bundle is rejected)", refs)


def flag_notes(common: Mapping[str, FlagNote], mutations: Iterable[Mutation]) -> dict[str, FlagNote]:
    """The definition of every flag a catalogue's vectors use: ``common`` (the goldens' flags), then each
    mutation's flag with its note, in that order (a later note of the same flag replaces an earlier one)."""
    return {**common, **{mutation.flag: mutation.note for mutation in mutations}}


FAKER_PROVIDERS = ("address", "company", "internet", "lorem", "person")
"""The providers catalogues draw from (city, company, domain_word, word, and the names their formats use); every
provider has the numerify and random_* methods. Faker's default is all 26, each imported per locale."""


def seeded_faker(seed: str, locales: list[str], namespace: str = "", *,
                 providers: tuple[str, ...] = FAKER_PROVIDERS) -> Faker:
    """A Faker whose output is a pure function of ``(namespace, seed)`` (Faker is pinned in pyproject), with the
    ``providers`` (of :data:`FAKER_PROVIDERS`) the caller draws from: each one costs a search of its locales and
    an import per locale, and which are loaded does not change what the others return."""
    from faker import Faker  # here, not at import: reading evidence never needs Faker's 80 ms of locale data

    fake = Faker(locales, providers=[f"faker.providers.{name}" for name in providers])
    material = f"{namespace}/{seed}" if namespace else seed
    fake.seed_instance(int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big"))
    return fake


def mutation_case(mutation: Mutation, evidence: Evidence, anchors: tuple[x509.Certificate, ...],
                  validation_time: datetime, seed: str, golden: str | None) -> VectorCase:
    """The vector of one applied mutation: its flag, Resigned or Stale provenance, and the golden id it edits."""
    signing = Signing.RESIGNED if mutation.resign else Signing.STALE
    return VectorCase(
        id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value), expected=mutation.expected,
        evidence=evidence, anchors=anchors, validation_time=validation_time,
        provenance=Provenance(seed=seed, signing=signing, golden=golden, operator=mutation.operator,
                              path=mutation.path))
