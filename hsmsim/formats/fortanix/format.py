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
from typing import TYPE_CHECKING

from cryptography import x509

from hsmsim.encoding import spki_der
from hsmsim.errors import ParameterError
from hsmsim.formats.fortanix.layout import FORMAT, JSON_PREFIX, TOP_LEVEL_MEMBERS, JsonLimits
from hsmsim.formats.fortanix.options import FortanixOptions
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_SIBLING_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    files_beside,
    read_siblings,
)
from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Rejected, Verdict

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

_MAX_SIBLING_CSRS = 8
"""CSRs read beside a response when none is the attested key's: enough for the verifier to call them ambiguous."""
_MAX_MATCHED_CSRS = 64
"""CSRs looked into for the attested key's (a folder of many keys' bundles)."""
_CSR_PEEK_BYTES = 64 * 1024


def _attested_spki(response: bytes, limits: JsonLimits) -> bytes | None:
    """The SPKI DER of the key ``response`` attests, or None when the response or its statement does not read (the
    verifier says why; only when several CSRs lie beside it)."""
    from hsmsim.formats.fortanix.statement import parse_json, read_response

    try:
        statement = read_response(parse_json(response, limits), limits, Profile.STRUCTURAL).statement
        return spki_der(x509.load_der_x509_certificate(statement).public_key())
    except (Rejected, *CERT_PARSE_ERRORS):
        return None


def _csr_spki(data: bytes | None) -> bytes | None:
    """The SPKI DER a CSR (PEM or DER) asks to certify, or None when it does not parse (never raises)."""
    if data is None:
        return None
    try:
        csr = x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data)
        return spki_der(csr.public_key())
    except CERT_PARSE_ERRORS:
        return None


class FortanixFormat:
    """The ``fortanix`` format: Fortanix DSM key attestation statements (JSON + X.509)."""

    name = FORMAT
    title = "Fortanix DSM"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")

    def __init__(self, options: FortanixOptions = FortanixOptions(), limits: JsonLimits = JsonLimits()) -> None:
        self.options = options
        self.limits = limits
        self.layout = BundleLayout((f"{JSON_PREFIX}*.json",), self._is_response)
        """The response ``key_attestation_<kid>.json`` (or a JSON naming its members), with the key's
        ``<label>.csr`` and the root copy beside it."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The cluster's key attestation authority, certified for the period holding the device's start.

        DSM has no partitions: ``partition`` is ignored. ``attesting`` certifies a user key
        (RSA or EC) as the authority. :meth:`generate` re-certifies the same key for the
        30-day period holding the attestation time.
        """
        from hsmsim.formats.fortanix.pki import fortanix_pki

        at, captured = device.attestation_created, self.options.captured_encoding
        if attesting is None:
            return fortanix_pki(device.seed, device.serial, at, captured_encoding=captured).identity()
        _label, key, created = attesting
        return fortanix_pki(device.seed, device.serial, max(created, at), key=key,
                            captured_encoding=captured).identity()

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The cluster's authority PKI (re-certified per period under the same root)."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The response JSON, the key's CSR and the emulated root for the request's key.

        Parameters: ``options`` (a :class:`FortanixOptions`).
        """
        from hsmsim.formats.fortanix.generate import generate_evidence

        options = request.parameters.get("options", self.options)
        if not isinstance(options, FortanixOptions):
            raise ParameterError.invalid("options", "a FortanixOptions", options)
        return generate_evidence(request, options)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the response against the root at ``at`` (default now); see
        :func:`~hsmsim.formats.fortanix.verify.verify_evidence`."""
        from hsmsim.formats.fortanix.verify import verify_evidence

        return verify_evidence(evidence, trust, at or datetime.now(UTC), Profile(profile), self.options, self.limits)

    def load(self, path: Path) -> Evidence:
        """Read a response JSON with its CSR beside it, or a directory's response (:attr:`layout`), regular files
        only, within one :class:`~hsmsim.safeio.ReadBudget`; raises :class:`BundleError`.

        DSM's response names no CSR: the CSR is the one named for the response (``<kid>.csr``,
        ``key_attestation_<kid>.csr``), else the only ``.csr`` beside it, else, of several (a folder of many keys'
        bundles), the one whose key is the attested key; when none is, at most 8 of them, which the verifier
        calls ambiguous. A response alone (the published one) is read as it is.
        """
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        budget = ReadBudget()
        response = read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)
        files = {path.name: response}
        kid = self.layout.stem(path.name)
        named = read_siblings(path, dict.fromkeys([*([f"{kid}.csr"] if kid else []), f"{path.stem}.csr"]), budget)
        if named:
            return Evidence(format=self.name, files={**files, **named}, primary=path.name)
        csrs = self.layout.unowned(path, files_beside(path, ".csr"), ".csr")
        if len(csrs) > 1:
            key = _attested_spki(response, self.limits)
            mine = [csr for csr in csrs[:_MAX_MATCHED_CSRS]
                    if key is not None and _csr_spki(peek_regular_file(csr, _CSR_PEEK_BYTES)) == key]
            csrs = mine if len(mine) == 1 else csrs[:_MAX_SIBLING_CSRS]
        for csr in csrs:
            files[csr.name] = read_regular_file(csr, MAX_SIBLING_BYTES, budget)
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A ``.json`` regular file named as the DSM CLI names it (``key_attestation_<kid>.json``) or naming
        ``authority_chain`` or ``attestation_statement`` near its start, or a directory with one; the
        content may be broken."""
        return self.layout.detect(path)

    def _is_response(self, path: Path) -> bool:
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
