"""The WebAuthn ``tpm`` attestation statement as the ``webauthn`` format's registry sees it, and the
``webauthn`` vectors of TPM registrations (the format's default statement).

TPM2_Certify by the AK over the credential key with qualifyingData = H_alg(authData ‖ clientDataHash)
(:func:`draft_for`, :func:`statement_draft_for`), and the verification procedure of WebAuthn §8.3 (ver, pubArea
key = credential key with symmetric/scheme NULL, magic, type, extraData, attested name, AK signature, AK
certificate profile, chain to the root), then what a CA needs from a key attestation: generated in the TPM
(sensitiveDataOrigin), not duplicable (fixedTPM + fixedParent), not restricted, and under the strict profile the
CA/B Forum code-signing key rule (:func:`verify_tpm_statement`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from hsmsim.device import AttestationRequest
from hsmsim.errors import ParameterError
from hsmsim.formats.tpm.device import WINDOWS_HELLO_KEY_TEMPLATE, EmulatedTpm, Parent
from hsmsim.formats.tpm.format import WEBAUTHN_AK, TpmAkProvider
from hsmsim.formats.tpm.generate import ROOT_FILE, SIGNATURE_ENCODINGS, Draft, StatementDraft
from hsmsim.formats.tpm.genuine import GenuineTpm, genuine_tpm
from hsmsim.formats.tpm.layout import TpmPkiProfile
from hsmsim.formats.tpm.pki import EMULATED_AAGUID
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
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.verdict import Claims, Profile, Reason, Rejected
from hsmsim.webauthn.ceremony import ceremony_for
from hsmsim.webauthn.statements import ProducedStatement, SignedData

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


class TpmAttestation(TpmAkProvider):
    """WebAuthn ``tpm`` (§8.3): TPM2_Certify of the credential key by the TPM's AK, the AK certificate in x5c.

    Its AK (:meth:`provision_ak`) is the ``webauthn`` format's attestation identity: an RSA-2048 AIK in the storage
    hierarchy, as Windows Hello's (:data:`~hsmsim.formats.tpm.webauthn.WEBAUTHN_AK_PARENT`); the credential keys it
    certifies are created as Windows Hello's (:data:`~hsmsim.formats.tpm.webauthn.WEBAUTHN_KEY_TEMPLATE`)."""

    name = "tpm"
    ak_spec = WEBAUTHN_AK_SPEC
    key_template = WEBAUTHN_KEY_TEMPLATE

    def aaguid(self, request: AttestationRequest) -> bytes:
        """The emulated TPM authenticator's AAGUID (also in its AK certificate)."""
        return EMULATED_AAGUID.bytes

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """TPM2_Certify by ``request.attesting`` (the AK; RS256 when it is the default RSA AIK) with qualifyingData =
        H_alg(authData ‖ clientDataHash), by a TPM of the hierarchy of parameter ``pki_profile`` (:meth:`profiled`); a
        real TPM's EK chain comes beside the record when the key lives in one."""
        request, profile = self.profiled(request)
        draft = statement_draft_for(request, profile)
        att_stmt = draft.tpm_statement(lambda alg: extra_data_for(alg, auth_data, client_data_hash))
        beside = {name: data for name, data in draft.beside().items() if name != ROOT_FILE}
        return ProducedStatement(att_stmt, (request.attesting.root,), beside)

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """:func:`verify_tpm_statement`; raises Rejected."""
        claims, detail = verify_tpm_statement(att_stmt, signed, trust, at, profile)
        # shallow: asdict deep-copies every value (48 us here against 6)
        return {**{field.name: getattr(claims, field.name) for field in dataclasses.fields(claims)}, "detail": detail}

    def registration_vectors(self, seed: str) -> list[VectorCase]:
        """The TPM registrations of the ``webauthn`` catalogue, by a TPM of :attr:`pki_profile`: goldens for
        RSA-2048/3072 and EC P-256/P-384 and the one-defect mutations (the catalogue, which needs Faker, is imported
        on first use)."""
        from hsmsim.formats.tpm.catalogue import vector_cases

        return vector_cases(seed, self)


def registration_notes() -> dict[str, FlagNote]:
    """Flag definitions of those vectors."""
    from hsmsim.formats.tpm.catalogue import notes

    return notes()

