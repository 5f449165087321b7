"""The TPM family's shared format base, and the WebAuthn ``tpm`` attestation statement.

:class:`TpmAkProvider` is where every consumer of the emulated TPM (``tpm-acme``, ``parsec-tpm``, ``ms-kast``
and the WebAuthn ``tpm`` statement) gets its TPM and AK; :class:`TpmStatementFormat` is what the formats share
besides (key specs, the bounded record read, anchors). The ``webauthn`` format itself lives in the ``webauthn``
family; this module gives it the ``tpm`` statement: TPM2_Certify by the AK over the credential key with qualifyingData =
H_alg(authData ‖ clientDataHash) (:func:`draft_for`, :func:`statement_draft_for`), and the verification
procedure of WebAuthn §8.3 (ver, pubArea key = credential key with symmetric/scheme NULL, magic, type,
extraData, attested name, AK signature, AK certificate profile, chain to the root), then what a CA needs
from a key attestation: generated in the TPM (sensitiveDataOrigin), not duplicable (fixedTPM +
fixedParent), not restricted, and under the strict profile the CA/B Forum code-signing key rule
(:func:`verify_tpm_statement`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.tpm.device import (
    PLAIN_KEY_TEMPLATE,
    TPM_KEY_SPECS,
    WINDOWS_HELLO_KEY_TEMPLATE,
    EmulatedTpm,
    KeyTemplate,
    Parent,
)
from hsmsim.formats.tpm.generate import SIGNATURE_ENCODINGS, Draft, StatementDraft
from hsmsim.formats.tpm.genuine import GenuineTpm, genuine_tpm
from hsmsim.formats.tpm.pki import DEFAULT_PKI_PROFILE, EMULATED_AAGUID, PKI_PROFILES, TpmPkiProfile
from hsmsim.formats.tpm.statement import (
    check_ak_certificate,
    check_attest,
    check_chain,
    check_object_attributes,
    check_pub_area,
    check_signature,
    check_strict_policy,
    extra_data_for,
    load_x5c,
    read_statement,
    tpm_claims,
)
from hsmsim.formats.tpm.structures import TpmsAttest, TpmtPublic
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import Evidence, TrustAnchors, read_optional_sibling
from hsmsim.model.fuzz import FuzzModel
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.safeio import ReadBudget, read_regular_file
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.ceremony import ceremony_for
from hsmsim.webauthn.container import (
    MAX_ATTESTATION_OBJECT,
)
from hsmsim.webauthn.statements import SignedData

MAX_RECORD_BYTES = 2 * MAX_ATTESTATION_OBJECT
WEBAUTHN_AK = "ak"
"""Derivation role of the WebAuthn AK (a TPM holds one AK per use)."""
WEBAUTHN_AK_SPEC = "rsa-2048"
"""Key spec of the WebAuthn AK: Windows Hello's AIK is RSA-2048 whatever the credential's key type."""
WEBAUTHN_AK_PARENT = Parent.SRK
"""Windows creates its AIKs in the storage hierarchy, so the TPM obfuscates resetCount, restartCount and
firmwareVersion in their certInfo."""
WEBAUTHN_KEY_TEMPLATE = WINDOWS_HELLO_KEY_TEMPLATE
"""The WebAuthn credential key is created as Windows Hello creates it: its authPolicy, noDA on RSA keys."""


def _tpm_inputs(request: AttestationRequest, tpm: EmulatedTpm) -> tuple[GenuineTpm | None, TpmtPublic, str]:
    """The real TPM when the key lives in one, the key's pubArea (from it as the key store created it, or from
    ``tpm`` with :data:`WEBAUTHN_KEY_TEMPLATE`), and the ``signature_encoding``."""
    encoding = str(request.parameters.get("signature_encoding", "bare"))
    if encoding not in SIGNATURE_ENCODINGS:
        raise ParameterError.invalid("signature_encoding", f"one of {', '.join(SIGNATURE_ENCODINGS)}",
                                     request.parameters.get("signature_encoding"))
    genuine = genuine_tpm(request, tpm, key_name=WEBAUTHN_AK, names_device=False)
    area = genuine.key_public() if genuine is not None else tpm.key_public(request.key, WEBAUTHN_KEY_TEMPLATE)
    return genuine, area, encoding


def statement_draft_for(request: AttestationRequest, pki_profile: TpmPkiProfile) -> StatementDraft:
    """The ``tpm`` statement of the request's key (created with :data:`WEBAUTHN_KEY_TEMPLATE`) by
    ``request.attesting`` (the AK, a child of :data:`WEBAUTHN_AK_PARENT`) in the request's device's emulated TPM of
    the hierarchy ``pki_profile`` (its EK); parameter ``signature_encoding`` (bare | tpmt). The AK certificate, its
    chain and root come from ``request.attesting``, which must be an AK of that hierarchy (what
    :meth:`TpmAkProvider.profiled` returns); nothing checks it, as the catalogues make defect drafts with foreign
    AKs."""
    tpm = EmulatedTpm.for_device(request.device, pki_profile)
    genuine, area, encoding = _tpm_inputs(request, tpm)
    return StatementDraft(tpm=tpm, identity=request.attesting, area=area, at=request.at, label=request.key.label,
                          genuine=genuine, signature_encoding=encoding, ak_parent=WEBAUTHN_AK_PARENT)


def draft_for(request: AttestationRequest, pki_profile: TpmPkiProfile) -> Draft:
    """The registration draft of ``request`` by the request's device's emulated TPM of the hierarchy ``pki_profile``
    (its EK), the key created with :data:`WEBAUTHN_KEY_TEMPLATE`, the AK a child of :data:`WEBAUTHN_AK_PARENT`:
    exactly what the ``webauthn`` format generates with fmt ``tpm`` (parameters:
    :func:`hsmsim.webauthn.ceremony.ceremony_for`'s and ``signature_encoding``). The AK certificate, its chain and
    root come from ``request.attesting``, which must be an AK of that hierarchy (what
    :meth:`TpmAkProvider.profiled` returns); nothing checks it, as the catalogues make defect drafts with foreign
    AKs."""
    tpm = EmulatedTpm.for_device(request.device, pki_profile)
    genuine, area, encoding = _tpm_inputs(request, tpm)
    ceremony = ceremony_for(request, "tpm", EMULATED_AAGUID.bytes, area.public_key())
    return Draft(
        tpm=tpm, identity=request.attesting, at=request.at, label=ceremony.label, genuine=genuine, area=area,
        challenge=ceremony.challenge, credential_id=ceremony.credential_id, rp_id=ceremony.rp_id,
        origin=ceremony.genuine_origin, flags=ceremony.flags, signature_encoding=encoding, ak_parent=WEBAUTHN_AK_PARENT)


def verify_tpm_statement(att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, at: datetime,
                         profile: Profile) -> tuple[Claims, str]:
    """WebAuthn §8.3 (ver, chain, AK certificate profile, signature, certInfo, pubArea = credential key), then
    the key's TPM attributes and, under the strict profile, the CA/B Forum key rule; raises Rejected."""
    stmt = read_statement(dict(att_stmt))
    if stmt.ver != "2.0":
        raise Rejected(Reason.UNSUPPORTED, f"tpm attStmt.ver is {stmt.ver[:10]!r}, not '2.0'")
    x5c = load_x5c(stmt.x5c)
    check_chain(x5c, trust.get("root"), at)
    facts = check_ak_certificate(x5c[0], signed.aaguid)
    check_signature(x5c[0].public_key(), stmt.alg, stmt.cert_info, stmt.sig)
    certify = check_attest(TpmsAttest.unmarshal(stmt.cert_info),
                           extra_data_for(stmt.alg, signed.auth_data, signed.client_data_hash))
    area = TpmtPublic.unmarshal(stmt.pub_area)
    check_pub_area(area, certify, signed.credential_key)
    check_object_attributes(area)
    if profile is Profile.STRICT:
        check_strict_policy(stmt, area)
    return tpm_claims(area, facts), f"TPM key certified by an AK of {facts.vendor} {facts.model}"


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
    key_template: KeyTemplate = PLAIN_KEY_TEMPLATE
    """How the keys this consumer certifies are created (authPolicy, attributes beyond the key's own)."""

    def emulated_tpm(self, device: Device) -> EmulatedTpm:
        """The emulated TPM of ``device``, certified by the hierarchy of :attr:`pki_profile`."""
        return EmulatedTpm.for_device(device, self.pki_profile)

    def profiled(self, request: AttestationRequest) -> tuple[AttestationRequest, TpmPkiProfile]:
        """``request`` with its AK certified by the hierarchy it asks for (parameter ``pki_profile``, one of
        :data:`PKI_PROFILES`; default :attr:`pki_profile`), and that hierarchy (:meth:`EmulatedTpm.recertify`:
        what :meth:`provision_ak` gives a provider of that profile). Raises ParameterError for another name."""
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
        by each other hierarchy (:data:`PKI_PROFILES`), named after it (``ecdsa-p384``): what the parameter
        ``pki_profile`` chooses."""
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
    record_limit: int = MAX_RECORD_BYTES

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
