"""The reference verifier of the ``webauthn`` format: the relying-party steps of WebAuthn §7.1 over the record,
then the attestation statement named by ``fmt`` (:mod:`hsmsim.webauthn.statements`), whose procedure chains to
the roots given."""

from __future__ import annotations

import hashlib
from datetime import datetime

from hsmsim.formats import names
from hsmsim.formats.webauthn.layout import MAX_RECORD_BYTES
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.container import (
    FLAG_BE,
    FLAG_BS,
    FLAG_UP,
    AttestationObject,
    AuthenticatorData,
    Registration,
    cbor_decode,
    parse_client_data,
    parse_cose_key,
    rp_id_hash,
)
from hsmsim.webauthn.statements import SignedData, statement_format


def signed_data(record: Registration) -> tuple[AttestationObject, SignedData]:
    """WebAuthn §7.1 relying-party steps 5-21 over ``record`` (steps 10-11: no crossOrigin true, no topOrigin, as the
    record expects no framing); the attestation object and what its statement signs. Raises Rejected (MALFORMED,
    CHALLENGE_MISMATCH, RELYING_PARTY_MISMATCH, ATTR_MISSING, ATTR_CONFLICT)."""
    client = parse_client_data(record.client_data_json)
    if client.type != "webauthn.create":
        raise Rejected(Reason.MALFORMED, f"clientData.type is {client.type[:30]!r}, not 'webauthn.create'")
    if client.challenge != record.expected_challenge:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "clientData.challenge is not the challenge the relying party sent")
    if client.origin != record.expected_origin:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"clientData.origin {client.origin[:60]!r} is not "
                                                      f"{record.expected_origin[:60]!r}")
    # §7.1 steps 10-11: the record names the one origin the relying party serves and no page it expects to be framed
    # in, so a registration made in a cross-origin iframe is not one it expected.
    if client.cross_origin:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, "clientData.crossOrigin is true: the relying party does not "
                                                      "expect to be framed by another origin")
    if client.top_origin is not None:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"clientData.topOrigin {client.top_origin[:60]!r} is present: "
                                                      "the relying party expects no top origin")
    obj = AttestationObject.decode(record.attestation_object)
    auth = AuthenticatorData.parse(obj.auth_data)
    if auth.rp_id_hash != rp_id_hash(record.expected_rp_id):
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"authData.rpIdHash is not SHA-256({record.expected_rp_id!r})")
    if not auth.flags & FLAG_UP:
        raise Rejected(Reason.ATTR_MISSING, "authData flags lack UP (user present)")
    if auth.flags & FLAG_BS and not auth.flags & FLAG_BE:
        raise Rejected(Reason.MALFORMED, "authData flags set BS (backed up) without BE (backup eligible)")
    if auth.credential is None:
        raise Rejected(Reason.MALFORMED, "authData carries no attested credential data (AT flag clear)")
    if auth.credential.credential_id != record.credential_id or record.raw_id not in (None, record.credential_id):
        raise Rejected(Reason.ATTR_CONFLICT, "credential id and rawId differ from authData's credentialId")
    cose = cbor_decode(auth.credential.public_key_cbor, "credentialPublicKey")
    credential_key = parse_cose_key(cose)
    return obj, SignedData(
        auth_data=obj.auth_data, client_data_hash=hashlib.sha256(record.client_data_json).digest(),
        credential_key=credential_key, aaguid=auth.credential.aaguid, credential_id=auth.credential.credential_id,
        rp_id_hash=auth.rp_id_hash, credential_alg=cose[3])


def verify_registration(record: Registration, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """The relying-party checks, then the statement of ``fmt``; raises Rejected."""
    obj, signed = signed_data(record)
    names()  # the format registry imports every family, so every statement is registered
    claims = dict(statement_format(obj.fmt).verify(obj.att_stmt, signed, trust, at=at, profile=profile))
    detail = str(claims.pop("detail", f"{obj.fmt} attestation verified"))
    return Verdict(Reason.OK, detail, Claims(**claims))  # type: ignore[arg-type]


def verify_record(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """The relying-party and statement checks of the record in ``evidence``; bad evidence becomes a Verdict, never an
    exception."""
    try:
        profile = Profile(profile)
        record = Registration.parse(evidence.primary_record(MAX_RECORD_BYTES),
                                    lenient_base64=profile is Profile.STRUCTURAL)
        return verify_registration(record, trust, at, profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
