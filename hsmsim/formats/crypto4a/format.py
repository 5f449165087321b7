"""The ``crypto4a`` format: the contract's hooks over the Crypto4A family, and reading evidence from disk.

The message codec is :mod:`hsmsim.formats.crypto4a.message`, the emulated PKI :mod:`~hsmsim.formats.crypto4a.pki`,
the generator :mod:`~hsmsim.formats.crypto4a.generate`, the reference verifier
:mod:`~hsmsim.formats.crypto4a.verify` and the vectors :mod:`~hsmsim.formats.crypto4a.catalogue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import BundleError
from hsmsim.formats.crypto4a.layout import FORMAT, MAX_MESSAGE_BYTES, MESSAGE_SUFFIX, PEM_LABEL, ROOT_FILE
from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors, read_siblings
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict, escaped

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.crypto4a.pki import Crypto4aPki
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

_BEGIN = f"-----BEGIN {PEM_LABEL}-----".encode()


def _is_message(path: Path) -> bool:
    """A file holding a PEM ``ATTESTATION MESSAGE`` block (never raises)."""
    data = peek_regular_file(path, MAX_MESSAGE_BYTES)
    return data is not None and _BEGIN in data


def device_pki(device: Device, hss: str | None = None,
               attesting: tuple[str, PrivateKey, datetime] | None = None) -> Crypto4aPki:
    """The device's AKI and assertion authorities (``attesting``'s key as the ECDSA one, certified at its
    creation, when given); ``hss`` names an :data:`~hsmsim.formats.crypto4a.pki.HSS_CHOICES` entry, by default
    :data:`~hsmsim.formats.crypto4a.pki.DEFAULT_HSS`."""
    from hsmsim.formats.crypto4a.pki import DEFAULT_HSS, HSS_CHOICES, crypto4a_pki

    hss = DEFAULT_HSS if hss is None else hss
    if attesting is None:
        return crypto4a_pki(device.seed, device.serial, device.attestation_created, HSS_CHOICES[hss])
    label, key, created = attesting
    return crypto4a_pki(device.seed, device.serial, max(created, device.attestation_created), HSS_CHOICES[hss],
                        (label, key))


class Crypto4aFormat:
    """``crypto4a``: a Crypto4A QASM attestation message about a private key, with its CSR."""

    name = FORMAT
    title = "Crypto4A QASM attestation message"
    key_specs: tuple[str, ...] = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096")
    layout = BundleLayout((f"*{MESSAGE_SUFFIX}", "attestation*.pem"), _is_message,
                          companions=(ROOT_FILE,))
    """The message ``<label>_attestation.pem`` (or ``attestation*.pem``, as Crypto4A's example names it), with
    ``<label>.csr`` and the root copy beside it."""

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The QASM's ECDSA P-384 assertion authority under the emulated C4A_SCA_MFG4 and C4A_RCA (a QASM has no
        partitions: ``partition`` is ignored), or ``attesting``'s EC key certified as one (a QASM signs with EC and
        HSS keys; UnsupportedKeyError for another). The HSS authority is made by :meth:`generate` beside it."""
        return device_pki(device, attesting=attesting).ec

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The AKI with the ECDSA authority (the HSS authority's certificate travels in every message)."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The message, CSR and root. Parameter ``hss``: ``H5`` (default; L=3 of LMS_SHA256_M32_H5 with
        LMOTS_SHA256_N32_W8) or ``H10`` (the real QASM's L=3 of H10 trees; seconds to derive once, then cached)."""
        from hsmsim.formats.crypto4a import generate
        from hsmsim.formats.crypto4a.pki import uuid_bytes

        choice = generate.hss_choice(request.parameters)
        device = request.device
        base = device_pki(device, choice.name)
        if request.attesting.certificate != base.ec.certificate:  # a user's attesting key, certified by provision
            key_id = uuid_bytes(device.seed, f"attesting/{request.attesting.certificate.serial_number}")
            base = replace(base, ec=request.attesting, ec_key_id=key_id)
        return generate.generate(request, base)

    def verify(self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """Signatures, chains, claims, CSR binding and key policy; see :mod:`hsmsim.formats.crypto4a.verify`."""
        from hsmsim.formats.crypto4a.verify import verify_message

        return verify_message(evidence, trust, at, Profile(profile))

    def load(self, path: Path) -> Evidence:
        """A message file with ``<stem>.csr`` beside it, or a directory's (:attr:`layout`); raises BundleError."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        budget = ReadBudget()
        try:
            files = {path.name: read_regular_file(path, MAX_MESSAGE_BYTES, budget)}
        except OSError as exc:
            raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
        stem = self.layout.stem(path.name) or path.stem
        files.update(read_siblings(path, [f"{stem}.csr"], budget))
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A file holding a PEM ``ATTESTATION MESSAGE``, or a directory holding one."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens for EC and RSA keys and the one-defect mutations."""
        from hsmsim.formats.crypto4a.catalogue import vector_cases  # loads Faker and the soft keystore: when asked

        return vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Crypto4A vectors."""
        from hsmsim.formats.crypto4a.catalogue import notes

        return notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None

