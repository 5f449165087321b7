"""The ``pkix-evidence`` and ``csr-attestation`` formats: the contract's hooks over this family's modules.

Generation and verification are :mod:`~hsmsim.formats.ietf.evidence` and :mod:`~hsmsim.formats.ietf.csr`
(over the codecs :mod:`~hsmsim.formats.ietf.asn1` and :mod:`~hsmsim.formats.ietf.tcg`), the vectors
:mod:`~hsmsim.formats.ietf.catalogue`, the emulated AK PKIs :mod:`~hsmsim.formats.ietf.pki`. Reading
evidence from disk (``load``, ``detect``) lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.encoding import der_oid
from hsmsim.errors import BundleError
from hsmsim.formats.ietf.layout import (
    CSR_ATTESTATION,
    EVIDENCE_SUFFIX,
    ID_AA_ATTESTATION,
    ID_EVIDENCE,
    MAX_CSR_BYTES,
    MAX_EVIDENCE_BYTES,
    NONCE_SUFFIX,
    PKIX_EVIDENCE,
    SUFFIXES,
    csr_der,
    evidence_der,
    is_evidence_name,
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
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

ALL_SPECS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "aes-128", "aes-256")
_EVIDENCE_ARC = der_oid(ID_EVIDENCE)[2:]
_ATTESTATION_OID = der_oid(ID_AA_ATTESTATION)


def _read_with_siblings(path: Path, label: str, suffixes: tuple[str, ...]) -> dict[str, bytes]:
    """The evidence file and each ``<label><suffix>`` beside it that is there: regular files only, bounded,
    within one read budget; raises BundleError, also when something other than a readable regular file is
    under a sibling's name (:func:`read_siblings`)."""
    budget = ReadBudget()
    files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
    files.update(read_siblings(path, (f"{label}{suffix}" for suffix in suffixes), budget))
    return files


def _provision(device: Device, partition: str, attesting: tuple[str, PrivateKey, datetime] | None
               ) -> AttestationIdentity:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from hsmsim.errors import UnsupportedKeyError
    from hsmsim.formats.ietf.pki import evidence_identity

    if attesting is None:
        return evidence_identity(device.seed, device.serial, partition, created=device.attestation_created)
    label, key, created = attesting
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise UnsupportedKeyError("an attesting key must be RSA, EC or Ed25519")
    return evidence_identity(device.seed, device.serial, partition, created=created, key_name=label, key=key)


def _is_evidence(path: Path) -> bool:
    """A PEM ``EVIDENCE`` file, or an Evidence-named file holding the id-evidence arc (never raises)."""
    data = peek_regular_file(path, MAX_EVIDENCE_BYTES)
    if data is None:
        return False
    if b"-----BEGIN EVIDENCE-----" in data:
        return True
    if not is_evidence_name(path.name):
        return False
    try:
        return _EVIDENCE_ARC in evidence_der(data)
    except ValueError:
        return False


def _is_attestation_request(path: Path) -> bool:
    """A CSR (PEM or DER) or CertReqMsg file that carries the id-aa-attestation OID (never raises)."""
    data = peek_regular_file(path, MAX_CSR_BYTES)
    if data is None:
        return False
    try:
        return _ATTESTATION_OID in csr_der(data)
    except ValueError:
        return False


class PkixEvidenceFormat:
    """``pkix-evidence``: PKIX Evidence of any emulated device (the generic profile)."""

    name = PKIX_EVIDENCE
    title = "PKIX Evidence (draft-ietf-rats-pkix-key-attestation)"
    key_specs: tuple[str, ...] = ALL_SPECS
    layout = BundleLayout((f"*{EVIDENCE_SUFFIX}", "*.evidence.der", "*.evidence", "evidence*.pem",
                           "evidence*.b64", "evidence*.der"), _is_evidence)
    """The Evidence ``<label>.evidence.pem`` (or a file named as the draft's samples are, ``evidence*.pem``), with
    ``<label>.nonce`` and, when a CA binds a request, ``<label>.csr`` beside it."""

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The device's PKIX Evidence AK (ECDSA P-256) under the emulated RootCA -> IntCA, or a user attesting key."""
        return _provision(device, partition, attesting)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The PKIX Evidence AK's chain under the emulated RootCA."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The Evidence PEM, nonce and root. Parameters: ``nonce`` (bytes or hex), ``fips_level`` (int),
        ``vendor`` (str; default the title of the device's own format)."""
        from hsmsim.device import text_parameter
        from hsmsim.errors import UnsupportedFormatError
        from hsmsim.formats import get_format
        from hsmsim.formats.ietf import evidence

        vendor = text_parameter(request.parameters, "vendor")
        if vendor is None:
            try:
                vendor = get_format(request.device.format).title
            except UnsupportedFormatError:
                vendor = request.device.format
        return evidence.generate(request, vendor)

    def verify(self, evidence_: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """Validate (the reference CLI's checks), then signatures, chain, nonce, CSR binding and key policy."""
        from hsmsim.formats.ietf import evidence

        return evidence.verify_evidence(evidence_, trust, at=at, profile=profile)

    def load(self, path: Path) -> Evidence:
        """An Evidence file (PEM, base64 or DER) with its ``<label>.nonce`` and ``<label>.csr`` beside it, or a
        directory's (:attr:`layout`)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        label = path.name.removesuffix(EVIDENCE_SUFFIX)
        try:
            files = _read_with_siblings(path, label, (NONCE_SUFFIX, ".csr"))
        except OSError as exc:
            raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A PEM ``EVIDENCE`` file, or an Evidence-named file (``*.evidence.pem``, ``evidence*.b64``) holding the
        id-evidence arc; a directory holding one."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens for several key types and the named defects."""
        from hsmsim.formats.ietf import catalogue  # only when vectors are built: verifying never needs it

        return catalogue.evidence_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the PKIX Evidence vectors."""
        from hsmsim.formats.ietf import catalogue

        return catalogue.evidence_notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None


class CsrAttestationFormat:
    """``csr-attestation``: a PKCS#10 request (or CRMF CertReqMsg) carrying one AttestationBundle about its key."""

    name = CSR_ATTESTATION
    title = "CSR attestation bundle (draft-ietf-lamps-csr-attestation)"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
    layout = BundleLayout(tuple(f"*{suffix}" for suffix in SUFFIXES.values()), _is_attestation_request)
    """The request ``<label>.csr`` (or CertReqMsg ``<label>.crmf``) with ``<label>.nonce`` beside it."""

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The device's PKIX Evidence AK (each statement's format provisions its own attestation key)."""
        return _provision(device, partition, attesting)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The PKIX Evidence AK's chain (named ``""``) and the TcgAttestCertify AK's (``tcg-attest-certify``); on a
        csr-attestation device, whose requests carry any vendor's statement, also the PKIs of every format a
        statement can carry, as that format exports them, named after it (``primus``, ``marvell-google-owner``;
        a superset: a statement is made with the format's default identity). A vendor's device carries its own
        format's statement, whose PKIs head its export, and leaves other vendors' roots out of its trust."""
        from hsmsim.formats import get_format
        from hsmsim.formats.ietf import csr
        from hsmsim.formats.ietf.pki import tpm_identity
        from hsmsim.pki.identity import PkiExport

        tcg_ak = tpm_identity(device.seed, device.serial, created=device.attestation_created)
        own = PkiExport.of(_provision(device, "default", None)), PkiExport.of(tcg_ak, csr.TCG_CERTIFY)
        if device.format != CSR_ATTESTATION:
            return own
        return own + tuple(export.within(name) for name in sorted(csr.PRIVATE_TYPES)
                           for export in get_format(name).pki_exports(device))

    def generate(self, request: AttestationRequest) -> Evidence:
        """The CSR with its bundle, the nonce and the roots. Parameter ``statements``: statement names
        (registered formats or ``tcg-attest-certify``), a list or comma-separated; default the device's
        own format (when it has a statement type) and ``pkix-evidence``. Parameter ``form``: ``pkcs10``
        (default) or ``crmf`` (a CertReqMsg carrying the bundle as its template's extension). Parameter
        ``sig_encoding``: how a TcgAttestCertify carries its signature, ``bare`` (default) or ``tpmt``. Every
        statement whose format answers a challenge answers the request's nonce (``csr.NONCE_BINDINGS``)."""
        from hsmsim.formats.ietf import csr

        return csr.generate(request)

    def verify(self, evidence_: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """One attribute, one bundle, every statement verified by its own format, bound to the CSR's key and the
        nonce, vouching for the key, and the statements' HSM serials one (``csr.check``)."""
        from hsmsim.formats.ietf import csr

        return csr.verify_csr(evidence_, trust, at=at, profile=profile)

    def load(self, path: Path) -> Evidence:
        """The CSR (PEM or DER) or CertReqMsg (DER), or a directory's (:attr:`layout`), with its ``<label>.nonce``
        beside it."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        try:
            files = _read_with_siblings(path, path.stem, (NONCE_SUFFIX,))
        except OSError as exc:
            raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A CSR (PEM or DER) or CertReqMsg file that carries the id-aa-attestation OID, or a directory holding
        one."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates of every statement's format, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """A golden per statement kind and the named defects."""
        from hsmsim.formats.ietf import catalogue

        return catalogue.csr_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the CSR attestation vectors."""
        from hsmsim.formats.ietf import catalogue

        return catalogue.csr_notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None
