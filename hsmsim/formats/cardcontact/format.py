"""The ``smartcard-hsm`` format: the contract's hooks over the CardContact family, and reading evidence from disk.

The CV structures are in :mod:`hsmsim.formats.cardcontact.cvc`, the emulated PKI in
:mod:`~hsmsim.formats.cardcontact.pki`, the generator in :mod:`~hsmsim.formats.cardcontact.generate`, the
reference verifier in :mod:`~hsmsim.formats.cardcontact.verify` and the vectors in
:mod:`~hsmsim.formats.cardcontact.catalogue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.formats.cardcontact.layout import (
    C_DEVAUT_FILE,
    CV_CERTIFICATE_TAG,
    FORMAT,
    REQUEST_SUFFIX,
    ROOT_FILE,
    starts_as_request,
)
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    read_siblings,
)
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict, escaped

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from cryptography import x509

    from hsmsim.device import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

MAX_ANCHOR_BYTES = 64 * 1024


def cvc_root_anchor(data: bytes, shown: str) -> x509.Certificate:
    """The X.509 carrier of a root CV certificate file (as OpenSC keeps ``DESRCACC100001``); raises
    :class:`BundleError` when ``data`` is not one self-signed CV certificate. The carrier is signed by a fixed
    hsmsim key: only the CV certificate inside is trusted, after the verifier checks its self-signature."""
    from hsmsim.formats.cardcontact import cvc
    from hsmsim.formats.cardcontact.pki import CARRIER_ORG, brainpool_key, carrier

    try:
        root = cvc.parse_certificate_file(data, 1, "root")[0]
        root.public_key.ec_key(None)
    except cvc.CvcError as exc:
        raise BundleError(f"{escaped(shown)} is not a CV root certificate: {exc}") from None
    if root.car != root.chr or not cvc.verifies(root.public_key.ec_key(None), root.signature, root.body):
        raise BundleError(f"{escaped(shown)} is not a self-signed CV certificate")
    return carrier(data, brainpool_key("hsmsim", "anchor-carrier"), CARRIER_ORG, "anchor")


class SmartCardHsmFormat:
    """The ``smartcard-hsm`` format: a SmartCard-HSM key's authenticated CV request with EF.C_DevAut."""

    name = FORMAT
    title = "CardContact SmartCard-HSM"
    key_specs: tuple[str, ...] = ("rsa-2048", "ec-p256", "ec-p384")

    def __init__(self) -> None:
        self.layout = BundleLayout((f"*{REQUEST_SUFFIX}",), self._is_request, (C_DEVAUT_FILE, ROOT_FILE))
        """The request ``<label>.cvreq``, with ``C_DevAut.bin``, ``<label>.csr`` and the root carrier beside it."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The card's Device Authentication key and its CV chain (as X.509 carriers). The card has no partitions
        (``partition`` is ignored) and signs with its Device Authentication key only: ``attesting`` is refused."""
        if attesting is not None:
            raise UnsupportedKeyError("a SmartCard-HSM authenticates requests with its Device Authentication key "
                                      "only; it has no other attesting key")
        from hsmsim.formats.cardcontact.pki import cardcontact_pki

        return cardcontact_pki(device.seed, device.serial, device.initialised).identity()

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The emulated SRCA (``root.crt``, a carrier), the DICA and the device certificate carriers."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The authenticated request, EF.C_DevAut, the key's CSR and the SRCA carrier for the request's key."""
        from hsmsim.formats.cardcontact.generate import generate_evidence

        return generate_evidence(request)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the request against the trusted SRCA at ``at`` (default now); see
        :func:`~hsmsim.formats.cardcontact.verify.verify_evidence`."""
        from hsmsim.formats.cardcontact.verify import verify_evidence

        return verify_evidence(evidence, trust, at or datetime.now(UTC), Profile(profile))

    def load(self, path: Path) -> Evidence:
        """Read a ``.cvreq`` (or a directory's) with ``C_DevAut.bin`` and ``<stem>.csr`` beside it, regular files
        only, within one :class:`~hsmsim.safeio.ReadBudget`; raises :class:`BundleError`."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
        stem = self.layout.stem(path.name) or path.stem
        files.update(read_siblings(path, (C_DEVAUT_FILE, f"{stem}.csr"), budget))
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A regular file starting as an authenticated request (``67`` holding a ``7F21``), or a directory with one."""
        return self.layout.detect(path)

    def _is_request(self, path: Path) -> bool:
        head = peek_regular_file(path, 8)
        return head is not None and starts_as_request(head)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """Each file a PEM or DER X.509 carrier (``hsmsim pki export``'s ``root.crt``) or a binary root CV
        certificate (OpenSC's ``/etc/eac/cvc/DESRCACC100001``), under the role ``root``; raises BundleError."""
        budget = ReadBudget()
        certs: list[x509.Certificate] = []
        for path in paths:
            data = read_regular_file(path, MAX_ANCHOR_BYTES, budget)
            if data[:2] == CV_CERTIFICATE_TAG:
                certs.append(cvc_root_anchor(data, str(path)))
            else:
                certs += TrustAnchors.from_pem_files([path], budget=budget).get()
        return TrustAnchors({"root": tuple(certs)})

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden requests for every key spec and the one-defect mutations of the catalogue."""
        from hsmsim.formats.cardcontact import catalogue  # loads the soft keystore: only when asked

        return catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the SmartCard-HSM vectors."""
        from hsmsim.formats.cardcontact import catalogue

        return catalogue.notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: this format is fuzzed through its catalogue and byte-level operators (the generic model)."""
        return None
