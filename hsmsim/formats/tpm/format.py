"""The TPM family's formats: ``tpm-acme``, ``parsec-tpm`` and ``ms-kast``, and the base they share.

:class:`TpmAkProvider` is where every consumer of the emulated TPM (``tpm-acme``, ``parsec-tpm``, ``ms-kast``
and the WebAuthn ``tpm`` statement, :mod:`hsmsim.formats.tpm.webauthn`) gets its TPM and AK;
:class:`TpmStatementFormat` is what the formats share besides (key specs, the bounded record read, anchors).

Detecting and reading a record import :mod:`~hsmsim.formats.tpm.layout` alone; each hook imports what it runs: the
drafts and verifiers (:mod:`~hsmsim.formats.tpm.acme`, :mod:`~hsmsim.formats.tpm.parsec`,
:mod:`~hsmsim.formats.tpm.kast_format`), the emulated TPM and its PKI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.tpm.layout import (
    ACME_FORMAT,
    ACME_RECORD_SUFFIX,
    ACTIVATION_SUFFIX,
    AIK_CA_SUFFIX,
    AIK_NAME,
    AK_CHAIN_SUFFIX,
    CA_KEY_SUFFIX,
    CMC_SUFFIX,
    DEFAULT_PKI_PROFILE,
    KAST_FORMAT,
    MAX_REQUEST_BYTES,
    MAX_STATEMENT_RECORD_BYTES,
    MIN_NONCE_BYTES,
    PARSEC_FORMAT,
    PARSEC_MAX_RECORD_BYTES,
    PARSEC_RECORD_SUFFIX,
    PKCS10_SUFFIX,
    TPM_KEY_SPECS,
    TpmPkiProfile,
    may_be_request,
    request_stem,
)
from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors, read_optional_sibling
from hsmsim.safeio import ReadBudget, is_json_record, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Rejected, Verdict

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.tpm.device import EmulatedTpm, KeyTemplate
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

WEBAUTHN_AK = "ak"
"""Derivation role of the WebAuthn AK (a TPM holds one AK per use)."""


class TpmAkProvider:
    """A consumer of the emulated TPM's attestation key: which AK it uses and the hierarchy that certifies the TPM.

    The one place a TPM format's emulated TPM (:meth:`emulated_tpm`) and AK (:meth:`provision_ak`) come from.
    """

    ak_name: str = WEBAUTHN_AK
    """Derivation role of the AK (a TPM holds one AK per use)."""
    ak_spec: str = "ec-p256"
    """Key spec of the default AK."""
    names_device: bool = False
    """The AK certificate names the TPM by its EK URN (permanentIdentifier), as ACME needs."""
    pki_profile: TpmPkiProfile = DEFAULT_PKI_PROFILE
    """The hierarchy that certifies the TPM (its EK and AK certificates)."""

    @property
    def key_template(self) -> KeyTemplate:
        """How the keys this consumer certifies are created (authPolicy, attributes beyond the key's own):
        :data:`~hsmsim.formats.tpm.device.PLAIN_KEY_TEMPLATE`."""
        from hsmsim.formats.tpm.device import PLAIN_KEY_TEMPLATE

        return PLAIN_KEY_TEMPLATE

    def emulated_tpm(self, device: Device) -> EmulatedTpm:
        """The emulated TPM of ``device``, certified by the hierarchy of :attr:`pki_profile`."""
        from hsmsim.formats.tpm.device import EmulatedTpm

        return EmulatedTpm.for_device(device, self.pki_profile)

    def profiled(self, request: AttestationRequest) -> tuple[AttestationRequest, TpmPkiProfile]:
        """``request`` with its AK certified by the hierarchy it asks for (parameter ``pki_profile``, one of
        :data:`~hsmsim.formats.tpm.pki.PKI_PROFILES`; default :attr:`pki_profile`), and that hierarchy
        (:meth:`EmulatedTpm.recertify`: what :meth:`provision_ak` gives a provider of that profile). Raises
        ParameterError for another name."""
        from hsmsim.formats.tpm.device import EmulatedTpm
        from hsmsim.formats.tpm.pki import PKI_PROFILES

        requested = request.parameters.get("pki_profile", self.pki_profile)
        profile = next((known for known in PKI_PROFILES if known == requested), None)
        if profile is None:
            raise ParameterError.invalid("pki_profile", f"one of {', '.join(PKI_PROFILES)}", requested)
        if profile == self.pki_profile:
            return request, profile
        tpm = EmulatedTpm.for_device(request.device, profile)
        return replace(request, attesting=tpm.recertify(request.attesting)), profile

    def provision_ak(self, device: Device,
                     attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The AK :attr:`ak_name` of :meth:`emulated_tpm` (key spec :attr:`ak_spec`, or the user key ``attesting``
        as AK) with its AK certificate; with :attr:`names_device` the certificate names the TPM by its EK URN."""
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        tpm = self.emulated_tpm(device)
        permanent_id = tpm.ek_urn() if self.names_device else None
        if attesting is None:
            return tpm.ak_identity(created=device.attestation_created, key_name=self.ak_name,
                                   permanent_id=permanent_id, spec=self.ak_spec)
        label, key, created = attesting
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedKeyError("a TPM attestation key must be RSA or ECC")
        return tpm.ak_identity(created=max(created, device.initialised), key=key, key_name=f"{self.ak_name}/{label}",
                               permanent_id=permanent_id)


    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The default AK's chain in the hierarchy of :attr:`pki_profile` (named ``""``), then the same AK certified
        by each other hierarchy (:data:`~hsmsim.formats.tpm.pki.PKI_PROFILES`), named after it (``ecdsa-p384``): what
        the parameter ``pki_profile`` chooses."""
        from hsmsim.formats.tpm.device import EmulatedTpm
        from hsmsim.formats.tpm.pki import PKI_PROFILES
        from hsmsim.pki.identity import PkiExport

        identity = self.provision_ak(device)
        others = (PkiExport.of(EmulatedTpm.for_device(device, profile).recertify(identity), profile)
                  for profile in PKI_PROFILES if profile != self.pki_profile)
        return PkiExport.of(identity), *others


class TpmStatementFormat(TpmAkProvider):
    """What every format of this family shares: key specs, the bounded record read, anchors, the AK, no fuzz model.

    A subclass sets ``name``, ``title``, ``record_limit`` and implements :meth:`verify_files`.
    """

    name: str
    title: str
    key_specs: tuple[str, ...] = TPM_KEY_SPECS
    record_limit: int = MAX_STATEMENT_RECORD_BYTES

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The TPM's AK for this format (:meth:`provision_ak`)."""
        return self.provision_ak(device, attesting)

    def verify_files(self, evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                     profile: Profile) -> Verdict:
        """Verify the primary record (already bounded); raises Rejected."""
        raise NotImplementedError

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """The format's checks (:meth:`verify_files`); bad evidence becomes a Verdict, never an exception."""
        try:
            data = evidence.primary_record(self.record_limit)
            return self.verify_files(evidence, data, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def read_record(self, path: Path, siblings: Sequence[Path] = ()) -> Evidence:
        """The record at ``path`` (bounded) and the ``siblings`` there are, regular files only, within one
        :class:`~hsmsim.safeio.ReadBudget`; raises BundleError, also when something other than a readable regular
        file is under a sibling's name (:func:`~hsmsim.model.evidence.read_optional_sibling`)."""
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, self.record_limit, budget)}
        for sibling in siblings:
            data = read_optional_sibling(sibling, budget)
            if data is not None:
                files[sibling.name] = data
        return Evidence(format=self.name, files=files, primary=path.name)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None


class TpmAcmeFormat(TpmStatementFormat):
    """The ``tpm-acme`` format: ACME device-attest-01 with a TPM 2.0 attestation (step-ca flavour,
    :mod:`hsmsim.formats.tpm.acme`)."""

    name = ACME_FORMAT
    title = "ACME device-attest-01 with TPM 2.0 attestation"
    layout = BundleLayout((f"*{ACME_RECORD_SUFFIX}",),
                          lambda path: path.is_file() and path.name.endswith(ACME_RECORD_SUFFIX))
    """The record ``<label>.acme-tpm.json``, known by its name (the CSR ``<label>.csr`` beside it)."""
    ak_name = "ak-acme"
    names_device = True

    def generate(self, request: AttestationRequest) -> Evidence:
        """The ACME server's record of the device-attest-01 answer for the request's key, with its CSR, by a TPM of
        the hierarchy of parameter ``pki_profile`` (:meth:`profiled`)."""
        from hsmsim.formats.tpm.acme import acme_draft_for

        return acme_draft_for(*self.profiled(request)).evidence()

    def verify_files(self, evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                     profile: Profile) -> Verdict:
        """The step-ca ``tpm`` checks, the permanent identifier, the CSR binding and the key's TPM attributes."""
        from hsmsim.formats.tpm.acme import verify_acme_files

        return verify_acme_files(evidence, record, trust, at, profile)

    def load(self, path: Path) -> Evidence:
        """Read ``<label>.acme-tpm.json`` (or a directory's, :attr:`layout`) and the ``<label>.csr`` beside it."""
        return self.layout.load(path, lambda record: self.read_record(
            record, [record.with_name(record.name.removesuffix(ACME_RECORD_SUFFIX) + ".csr")]), self.name)

    def detect(self, path: Path) -> bool:
        """A ``*.acme-tpm.json`` file, or a directory holding one."""
        return self.layout.detect(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden answers for RSA-2048/3072 and EC P-256/P-384 and the one-defect mutations."""
        from hsmsim.formats.tpm.acme_catalogue import vector_cases

        return vector_cases(seed, self)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the tpm-acme vectors."""
        from hsmsim.formats.tpm.acme_catalogue import notes

        return notes()


class ParsecTpmFormat(TpmStatementFormat):
    """The ``parsec-tpm`` format: Parsec AttestKey on a TPM (key attestation token + ActivateCredential,
    :mod:`hsmsim.formats.tpm.parsec`)."""

    name = PARSEC_FORMAT
    title = "Parsec TPM key attestation token with ActivateCredential"
    ak_name = "ak-parsec"
    record_limit = PARSEC_MAX_RECORD_BYTES
    min_nonce_bytes = MIN_NONCE_BYTES
    """The shortest expectedNonce the verifier takes (shorter: CHALLENGE_MISMATCH under every profile)."""
    layout = BundleLayout((f"*{PARSEC_RECORD_SUFFIX}",), lambda path: is_json_record(
        path, PARSEC_RECORD_SUFFIX, (b'"kat"', b'"expectedNonce"'), PARSEC_MAX_RECORD_BYTES))
    """The token ``<label>.parsec-tpm.json`` (or a ``.json`` record naming ``kat`` and ``expectedNonce``), with
    ``<label>.ak-chain.pem`` and ``<label>.activate-credential.json`` beside it."""

    def generate(self, request: AttestationRequest) -> Evidence:
        """The token of the request's key by the default attesting key (the AK), see
        :func:`~hsmsim.formats.tpm.parsec.parsec_draft_for`, by a TPM of the hierarchy of parameter ``pki_profile``
        (:meth:`profiled`)."""
        from hsmsim.formats.tpm.parsec import parsec_draft_for

        return parsec_draft_for(*self.profiled(request)).evidence()

    def verify_files(self, evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                     profile: Profile) -> Verdict:
        """Chain, kid, TPMT_SIGNATURE, certInfo, pubArea, the platform token, then the ActivateCredential
        exchange. An expectedNonce shorter than :attr:`min_nonce_bytes` is CHALLENGE_MISMATCH."""
        from hsmsim.formats.tpm.parsec import verify_parsec_files

        return verify_parsec_files(evidence, record, trust, at, profile, self.min_nonce_bytes)

    def load(self, path: Path) -> Evidence:
        """Read ``<label>.parsec-tpm.json`` (or a directory's, :attr:`layout`) with its AK chain and
        ActivateCredential record beside it."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        stem = path.name.removesuffix(PARSEC_RECORD_SUFFIX)
        return self.read_record(path, [path.parent / f"{stem}{AK_CHAIN_SUFFIX}",
                                       path.parent / f"{stem}{ACTIVATION_SUFFIX}"])

    def detect(self, path: Path) -> bool:
        """A ``*.parsec-tpm.json`` file, or a ``.json`` record naming both ``kat`` and ``expectedNonce``; a
        directory holding one."""
        return self.layout.detect(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens for RSA-2048/3072 and EC P-256/P-384 and the one-defect mutations."""
        from hsmsim.formats.tpm.parsec_catalogue import vector_cases

        return vector_cases(seed, self)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the parsec-tpm vectors."""
        from hsmsim.formats.tpm.parsec_catalogue import notes

        return notes()


def _is_request(path: Path) -> bool:
    """A regular file holding (DER or PEM) a CMC request or PKCS#10 with szOID_ENROLL_ATTESTATION_STATEMENT; the
    KAST codec reads only what :func:`~hsmsim.formats.tpm.layout.may_be_request` lets through."""
    head = peek_regular_file(path, MAX_REQUEST_BYTES)
    if head is None or not may_be_request(head):
        return False
    from hsmsim.formats.tpm.kast_format import looks_like_request

    return looks_like_request(head)


def _is_request_file(path: Path) -> bool:
    """A request as a directory holds it: named ``<stem>.kast.cmc`` or ``<stem>.kast.p10`` (as ``hsmsim attest``
    writes it, any stem) and holding a request. A CMC request named otherwise (Purebred's
    ``<stem>_attestation.bin``) is another format's record in a directory, though ``verify`` of the file is this
    format's."""
    return request_stem(path.name) is not None and _is_request(path)


class MsKastFormat(TpmStatementFormat):
    """The ``ms-kast`` format: Windows TPM key attestation (KAST) in a CMC or PKCS#10 certificate request
    (:mod:`hsmsim.formats.tpm.kast_format`)."""

    name = KAST_FORMAT
    title = "Windows TPM key attestation in a certificate request (MS-WCCE KAST)"
    record_limit = MAX_REQUEST_BYTES
    ak_name = AIK_NAME
    ak_spec = "rsa-2048"
    layout = BundleLayout((f"*{CMC_SUFFIX}", f"*{PKCS10_SUFFIX}"), _is_request_file)
    """The request ``<stem>.kast.cmc`` or ``<stem>.kast.p10`` (:func:`_is_request_file`), with
    ``<stem>.ca-exchange.p8`` and ``<stem>.aik-ca.pem`` beside it."""

    def generate(self, request: AttestationRequest) -> Evidence:
        """The Windows client's request for the key (see :func:`~hsmsim.formats.tpm.kast_format.kast_draft_for`), by
        a TPM of the hierarchy of parameter ``pki_profile`` (:meth:`profiled`)."""
        from hsmsim.formats.tpm.kast_format import kast_draft_for

        return kast_draft_for(*self.profiled(request)).evidence()

    def verify_files(self, evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                     profile: Profile) -> Verdict:
        """CMC and CSR signatures, KAST/KADS structure, key binding, then the AIK (when recovered) and its chain."""
        from hsmsim.formats.tpm.kast_format import verify_request

        return verify_request(evidence, record, trust, at, profile)

    def load(self, path: Path) -> Evidence:
        """Read the request file, with ``<stem>.ca-exchange.p8`` and ``<stem>.aik-ca.pem`` beside it when present
        (``<stem>`` is the name without its one ``.kast.cmc`` or ``.kast.p10`` suffix; a file named otherwise has
        no siblings); a directory is read through its request file (:attr:`layout`)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        stem = request_stem(path.name)
        siblings = [path.parent / f"{stem}{suffix}" for suffix in (CA_KEY_SUFFIX, AIK_CA_SUFFIX)]
        return self.read_record(path, siblings if stem is not None else [])

    def detect(self, path: Path) -> bool:
        """A regular file holding (DER or PEM) a CMC request or PKCS#10 with szOID_ENROLL_ATTESTATION_STATEMENT, or
        a directory holding such a request under a request name (:attr:`layout`)."""
        if path.is_dir():
            return self.layout.holds_record(path)
        return _is_request(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """Certificates (PEM or DER): AIK certificates (EKU tcg-kp-AIKCertificate, CA:FALSE) under ``aik``, the
        rest under ``root``; PKCS#8 private keys (PEM or DER) under ``ca-exchange``."""
        from hsmsim.formats.tpm.kast_format import trust_anchors_from_files

        return trust_anchors_from_files(paths)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens for RSA-2048/3072 and EC P-256/P-384 (CMC), a bare PKCS#10, and the one-defect mutations."""
        from hsmsim.formats.tpm.kast_catalogue import vector_cases

        return vector_cases(seed, self)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the ms-kast vectors."""
        from hsmsim.formats.tpm.kast_catalogue import notes

        return notes()
