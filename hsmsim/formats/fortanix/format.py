"""The ``fortanix`` format: the contract's hooks over the Fortanix DSM family, and reading evidence from disk.

The response and statement are described in :mod:`hsmsim.formats.fortanix.statement`, the
emulated PKI in :mod:`~hsmsim.formats.fortanix.pki`, the generator in
:mod:`~hsmsim.formats.fortanix.generate`, the reference verifier in
:mod:`~hsmsim.formats.fortanix.verify` and the vectors in :mod:`~hsmsim.formats.fortanix.catalogue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import ParameterError
from hsmsim.formats.fortanix.generate import JSON_PREFIX, generate_evidence
from hsmsim.formats.fortanix.options import FortanixOptions
from hsmsim.formats.fortanix.pki import fortanix_pki
from hsmsim.formats.fortanix.statement import TOP_LEVEL_MEMBERS, JsonLimits
from hsmsim.formats.fortanix.verify import verify_evidence
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_SIBLING_BYTES,
    Evidence,
    TrustAnchors,
    bundle_entries,
    peek_entries,
    read_bundle_dir,
)
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict

_MAX_SIBLING_CSRS = 8


class FortanixFormat:
    """The ``fortanix`` format: Fortanix DSM key attestation statements (JSON + X.509)."""

    name = "fortanix"
    title = "Fortanix DSM"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")

    def __init__(self, options: FortanixOptions = FortanixOptions(), limits: JsonLimits = JsonLimits()) -> None:
        self.options = options
        self.limits = limits

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The cluster's key attestation authority, certified for the period holding the device's start.

        DSM has no partitions: ``partition`` is ignored. ``attesting`` certifies a user key
        (RSA or EC) as the authority. :meth:`generate` re-certifies the same key for the
        30-day period holding the attestation time.
        """
        at, captured = device.attestation_created, self.options.captured_encoding
        if attesting is None:
            return fortanix_pki(device.seed, device.serial, at, captured_encoding=captured).identity()
        _label, key, created = attesting
        return fortanix_pki(device.seed, device.serial, max(created, at), key=key,
                            captured_encoding=captured).identity()

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The cluster's authority PKI (re-certified per period under the same root)."""
        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The response JSON, the key's CSR and the emulated root for the request's key.

        Parameters: ``options`` (a :class:`FortanixOptions`).
        """
        options = request.parameters.get("options", self.options)
        if not isinstance(options, FortanixOptions):
            raise ParameterError.invalid("options", "a FortanixOptions", options)
        return generate_evidence(request, options)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the response against the root at ``at`` (default now); see :func:`verify_evidence`."""
        return verify_evidence(evidence, trust, at or datetime.now(UTC), Profile(profile), self.options, self.limits)

    def load(self, path: Path) -> Evidence:
        """Read a response JSON with the ``.csr`` files beside it, or a directory holding them, regular
        files only, within one :class:`~hsmsim.safeio.ReadBudget`; raises :class:`BundleError`.

        The verifier binds the attested key to the one CSR; DSM's response itself names none, so a
        response alone (the published one) is read as it is, and several CSRs stay ambiguous.
        """
        budget = ReadBudget()
        if path.is_dir():
            files = read_bundle_dir(path, budget)
            primary = next((n for n in files if n.endswith(".json")), path.name)
            return Evidence(format=self.name, files=files, primary=primary)
        files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
        for csr in [p for p in bundle_entries(path.parent) if p.name.endswith(".csr")][:_MAX_SIBLING_CSRS]:
            files[csr.name] = read_regular_file(csr, MAX_SIBLING_BYTES, budget)
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A ``.json`` regular file named as the DSM CLI names it (``key_attestation_<kid>.json``) or naming
        ``authority_chain`` or ``attestation_statement`` near its start, or a directory with one; the
        content may be broken."""
        try:
            if path.is_dir():
                return any(p.suffix.lower() == ".json" and self.detect(p) for p in peek_entries(path)[:64])
        except OSError:
            return False
        head = peek_regular_file(path, 4 * self.limits.max_bytes) if path.suffix.lower() == ".json" else None
        if head is None:
            return False
        return path.name.startswith(JSON_PREFIX) or any(f'"{member}"'.encode() in head for member in TOP_LEVEL_MEMBERS)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden statements for RSA and EC keys and the one-defect mutations of the catalogue."""
        from hsmsim.formats.fortanix import catalogue  # loads Faker and the soft keystore: only when asked

        return catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Fortanix vectors."""
        from hsmsim.formats.fortanix import catalogue  # loads Faker and the soft keystore: only when asked

        return catalogue.notes()

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: this format is fuzzed through its catalogue and byte-level operators (the generic model)."""
        return None
