"""The format contract: every hook a registered format provides.

A format is one object registered under its name (see :mod:`hsmsim.formats`). The HSM model,
the corpus builder, the conformance harness, the fuzzer, the server and the CLI reach a format
only through this protocol. Every hook is declared here; a capability a format does not have is
declared absent by the format itself (``fuzz_model`` returning ``None``), never discovered with
``getattr``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hsmsim.verdict import Profile

if TYPE_CHECKING:  # the hooks' types only: a format's module imports what it uses, its registry no more
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

    from hsmsim.device import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport
    from hsmsim.verdict import Verdict


class Format(Protocol):
    """One attestation format: generator, reference verifier, vectors and fuzz model side by side."""

    name: str
    """Registry name, e.g. ``primus``: the one name of the format everywhere (CLI, vectors, reports)."""
    title: str
    """Human name of the product and envelope, e.g. ``Securosys Primus HSM``."""
    key_specs: tuple[str, ...]
    """The key specs (:class:`hsmsim.keystore.base.KeySpec` names) this format can attest."""
    layout: BundleLayout
    """How the format names the files of a bundle: the patterns of its record (the primary file the generator
    writes), what recognises a record by content, and the fixed names beside it that are never one. A directory
    is read through the record it finds (:meth:`~hsmsim.model.evidence.BundleLayout.record_in`), so ``load`` of a
    directory gives what ``load`` of its record file gives."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's attestation key and chain under the device's emulated PKI.

        ``attesting`` (label, signer, created) certifies a user key as the attesting key.
        """
        ...

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """Every emulated PKI a verifier of this format's evidence from ``device`` may need, whichever parameter
        chose it: first the PKI of ``provision(device, "default")`` (named ``""``), then the others, named after
        the parameter values or statements that choose them (``hsmsim pki export`` writes them all)."""
        ...

    def generate(self, request: AttestationRequest) -> Evidence:
        """The vendor's evidence for the request's key, byte-compatible with the real format."""
        ...

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check ``evidence``; never raises on bad evidence, returns a Verdict with a reason."""
        ...

    def load(self, path: Path) -> Evidence:
        """Read evidence from disk as a user received it: a record file with the siblings named for it, or a
        directory, read as ``layout.load`` reads it (the one record found by content, else by a record pattern, so
        a damaged record is still read and rejected by ``verify``; evidence without files, rejected
        ``MISSING_INPUT``, when there is none). Raises BundleError for what cannot be read, and for a directory
        holding several records ("name the one to verify")."""
        ...

    def detect(self, path: Path) -> bool:
        """True when ``path`` looks like this format's evidence: a file ``layout.claims`` recognises (by content,
        or by a name no other format writes), or a directory holding one or more (``layout.holds_record``: with
        several, ``load`` asks to name one); never raises. A directory whose only record is damaged beyond
        recognition is claimed by no format: ``load`` still reads it when ``--format`` names the format."""
        ...

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """The anchors in ``paths`` as this format's verifier wants them; raises BundleError naming a bad file."""
        ...

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """The format's golden and mutated vectors, derived from ``seed`` only."""
        ...

    def vector_notes(self) -> dict[str, FlagNote]:
        """The definition of every flag the format's vectors use."""
        ...

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """The structure-aware fuzz model, or ``None`` when the format offers only its catalogue
        and byte-level operators (the fuzzer then builds a generic model from ``vector_cases``)."""
        ...
