"""The ``tpm-acme`` format: ACME device-attest-01 with a TPM 2.0 ``tpm`` attestation (step-ca's flavour).

Facts (``shared/specs/other_formats.md`` 1.6, ``round2_formats.md`` 2.1.1, draft-ietf-acme-device-attest,
smallstep ``acme/challenge.go`` ``doTPMAttestationFormat``):

* The client answers the challenge with ``{"attObj": base64url(CBOR {"fmt": "tpm", "attStmt": {...}})}``;
  authData is omitted.
* attStmt is the WebAuthn ``tpm`` shape, but ``sig`` is a **marshalled TPMT_SIGNATURE**
  (``tpm2.DecodeSignature``), ``alg`` is ES256, RS256 or RS1, and certInfo.extraData is
  **SHA-256(keyAuthorization)** with keyAuthorization = ``token "." base64url(account JWK thumbprint)``.
* The AK certificate follows the WebAuthn AK profile and may name the device in an
  id-on-permanentIdentifier otherName, which must equal the order's ``permanent-identifier``.
* The attested key must be generated in the TPM and bound to it (fixedTPM, fixedParent,
  sensitiveDataOrigin) and not restricted, as go-attestation checks; the finalize CSR must
  request that key.
* The challenge token has at least 128 bits of entropy (RFC 8555 8.3): one that decodes to fewer than 16 bytes
  is CHALLENGE_MISMATCH.

On disk (``docs/formats/tpm.md``): ``<label>.acme-tpm.json`` (what the ACME server holds:
identifier, challenge token, account key thumbprint, the client's payload), the finalize CSR
``<label>.csr`` and the emulated root ``tpm_root_ca.pem``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.checks import check_csr_binding, one_file
from hsmsim.device import AttestationRequest
from hsmsim.encoding import indented_json
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.tpm import layout
from hsmsim.formats.tpm.device import EmulatedTpm, ek_urn
from hsmsim.formats.tpm.format import TpmAcmeFormat
from hsmsim.formats.tpm.generate import StatementDraft
from hsmsim.formats.tpm.genuine import genuine_tpm
from hsmsim.formats.tpm.layout import TpmPkiProfile
from hsmsim.formats.tpm.marshal import HASH_ALGS, TpmAlg
from hsmsim.formats.tpm.statement import (
    check_ak_certificate,
    check_attest,
    check_attested_name,
    check_chain,
    check_object_attributes,
    check_signature,
    check_strict_policy,
    load_x5c,
    read_statement,
    tpm_claims,
)
from hsmsim.formats.tpm.structures import TpmsAttest, TpmtPublic, TpmtSignature
from hsmsim.keystore.base import KeySpec, PublicKey
from hsmsim.model.evidence import Evidence, TrustAnchors, safe_file_stem
from hsmsim.pki.builder import UTF8, build_csr, name
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.acme import check_token, decode_att_obj, token_parameter
from hsmsim.webauthn.container import COSE_ALGS, b64url, from_b64url, parse_json_object

CHALLENGE_TYPE = "device-attest-01"
IDENTIFIER_TYPE = "permanent-identifier"
ACME_ALGS = {-7: TpmAlg.ECDSA, -257: TpmAlg.RSASSA, -65535: TpmAlg.RSASSA}
"""The COSE algorithms step-ca accepts for a ``tpm`` statement, with the TPMT_SIGNATURE sigAlg they need."""
ACCOUNT_KEY_SPEC = KeySpec.parse("ec-p256")


def jwk_thumbprint(key: PublicKey) -> bytes:
    """RFC 7638 SHA-256 thumbprint of an ACME account key (EC P-256/P-384 or RSA)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        width = (key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[key.curve.name]
        members = {"crv": crv, "kty": "EC", "x": b64url(numbers.x.to_bytes(width, "big")),
                   "y": b64url(numbers.y.to_bytes(width, "big"))}
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        n, e = key.public_numbers().n, key.public_numbers().e
        members = {"e": b64url(e.to_bytes((e.bit_length() + 7) // 8, "big")), "kty": "RSA",
                   "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))}
    return hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()


def key_authorization(token: str, thumbprint: bytes) -> bytes:
    """RFC 8555 8.1: ``token "." base64url(thumbprint)``."""
    return f"{token}.{b64url(thumbprint)}".encode()


@dataclass(frozen=True)
class AcmeRecord:
    """What the ACME server holds when it validates the challenge."""

    identifier: str
    token: str
    thumbprint: bytes
    att_obj: bytes

    def to_json(self) -> bytes:
        """The record file: two-space indented JSON, newline-terminated."""
        return indented_json({
            "identifier": {"type": IDENTIFIER_TYPE, "value": self.identifier},
            "challenge": {"type": CHALLENGE_TYPE, "token": self.token},
            "accountKeyThumbprint": b64url(self.thumbprint),
            "payload": {"attObj": b64url(self.att_obj)},
        }, 2)

    @classmethod
    def parse(cls, data: bytes) -> AcmeRecord:
        """Read a record (bounded); Rejected MALFORMED / MISSING_INPUT / UNSUPPORTED / LIMIT_EXCEEDED."""
        doc = parse_json_object(data, "ACME record", layout.MAX_STATEMENT_RECORD_BYTES)
        parts = {}
        for member in ("identifier", "challenge", "payload"):
            value = doc.get(member)
            if not isinstance(value, dict):
                raise Rejected(Reason.MISSING_INPUT, f"the record has no {member} object")
            parts[member] = value
        identifier, challenge = parts["identifier"], parts["challenge"]
        if identifier.get("type") != IDENTIFIER_TYPE or challenge.get("type") != CHALLENGE_TYPE:
            raise Rejected(Reason.UNSUPPORTED, f"only {IDENTIFIER_TYPE} identifiers and {CHALLENGE_TYPE} "
                                               "challenges are supported")
        value, token = identifier.get("value"), challenge.get("token")
        if not isinstance(value, str) or not isinstance(token, str):
            raise Rejected(Reason.MALFORMED, "identifier.value and challenge.token must be strings")
        from_b64url(token, "challenge.token")
        if "attObj" not in parts["payload"]:
            raise Rejected(Reason.MISSING_INPUT, "the challenge payload has no attObj")
        return cls(value, token, from_b64url(doc.get("accountKeyThumbprint"), "accountKeyThumbprint"),
                   from_b64url(parts["payload"]["attObj"], "payload.attObj"))


def check_tpmt_signature(ak: PublicKeyTypes, alg: int, cert_info: bytes, sig: bytes) -> None:
    """``sig`` is a TPMT_SIGNATURE by the AK's public key ``ak`` over certInfo, with the sigAlg and hash ``alg``
    names."""
    if alg not in ACME_ALGS:
        raise Rejected(Reason.UNSUPPORTED, f"attStmt.alg {alg} is not ES256, RS256 or RS1")
    try:
        signature = TpmtSignature.unmarshal(sig)
    except Rejected:
        raise Rejected(Reason.SIGNATURE_INVALID, "sig is not a marshalled TPMT_SIGNATURE") from None
    hash_alg = HASH_ALGS[COSE_ALGS[alg][1]]
    if signature.sig_alg != ACME_ALGS[alg] or signature.hash_alg != hash_alg:
        raise Rejected(Reason.SIGNATURE_INVALID, f"TPMT_SIGNATURE 0x{signature.sig_alg:04x}/0x{signature.hash_alg:04x}"
                                                 f" does not match alg {COSE_ALGS[alg][0]}")
    check_signature(ak, alg, cert_info, signature.bare())


def verify_acme_files(evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                      profile: Profile) -> Verdict:
    """The record (already bounded) with the finalize CSR beside it: the step-ca ``tpm`` checks, the permanent
    identifier, the CSR binding and the key's TPM attributes; raises Rejected."""
    csr = one_file(evidence.files, [k for k in evidence.files if k.endswith(".csr")], "the finalize CSR")
    return _verify_record(AcmeRecord.parse(record), csr, trust, at, profile)


def _verify_record(record: AcmeRecord, csr: bytes | None, trust: TrustAnchors, at: datetime,
                   profile: Profile) -> Verdict:
    fmt, att_stmt = decode_att_obj(record.att_obj)
    if fmt != "tpm":
        raise Rejected(Reason.UNSUPPORTED, f"attestation format {fmt[:30]!r} is not tpm")
    stmt = read_statement(att_stmt)
    if stmt.ver != "2.0":
        raise Rejected(Reason.UNSUPPORTED, f"tpm attStmt.ver is {stmt.ver[:10]!r}, not '2.0'")
    x5c = load_x5c(stmt.x5c)
    check_chain(x5c, trust.get("root"), at, recurring_leaf=True)  # the AK certifies each key of its TPM
    facts = check_ak_certificate(x5c[0], None)
    check_tpmt_signature(x5c[0].public_key(), stmt.alg, stmt.cert_info, stmt.sig)
    expected = hashlib.sha256(key_authorization(record.token, record.thumbprint)).digest()
    certify = check_attest(TpmsAttest.unmarshal(stmt.cert_info), expected, "SHA-256(keyAuthorization)")
    check_token(record.token)
    area = TpmtPublic.unmarshal(stmt.pub_area)
    check_attested_name(area, certify)
    check_object_attributes(area)
    if facts.permanent_ids and record.identifier not in facts.permanent_ids:
        raise Rejected(Reason.ATTR_CONFLICT, f"the order's identifier {record.identifier[:60]!r} is not the AK "
                                             "certificate's permanentIdentifier")
    if csr is None:
        raise Rejected(Reason.MISSING_INPUT, "no finalize CSR (<label>.csr) to bind the attested key to")
    check_csr_binding(area.spki(), csr, "the attested TPM key")
    if profile is Profile.STRICT:
        if not facts.permanent_ids:
            raise Rejected(Reason.ATTR_MISSING, "the AK certificate names no permanentIdentifier for the device")
        check_strict_policy(stmt, area)
    claims = tpm_claims(area, facts, serial=record.identifier)
    return Verdict(Reason.OK, f"TPM key of {record.identifier[:60]} certified by an AK of {facts.vendor}", claims)


@dataclass(kw_only=True)
class AcmeDraft(StatementDraft):
    """One device-attest-01 answer before rendering (see :class:`StatementDraft` for the statement's fields)."""

    signature_encoding: str = "tpmt"
    token: str
    thumbprint: bytes
    identifier: str
    csr_pem: bytes
    expected_identifier: str | None = None

    def record(self) -> AcmeRecord:
        """The ACME server's record: the client's attObj bound to SHA-256(keyAuthorization)."""
        key_auth = hashlib.sha256(key_authorization(self.token, self.thumbprint)).digest()
        statement = self.tpm_statement(lambda _alg: key_auth) if self.fmt == "tpm" else {}
        att_obj = self.encode_object({"fmt": self.fmt, "attStmt": statement})
        identifier = self.expected_identifier if self.expected_identifier is not None else self.identifier
        return AcmeRecord(identifier, self.token, self.thumbprint, att_obj)

    def evidence(self) -> Evidence:
        """``<label>.acme-tpm.json``, the finalize CSR ``<label>.csr`` and ``tpm_root_ca.pem``."""
        stem = safe_file_stem(self.label)
        files = {f"{stem}{layout.ACME_RECORD_SUFFIX}": self.record().to_json()}
        if self.csr_pem:
            files[f"{stem}.csr"] = self.csr_pem
        files.update(self.beside())
        return Evidence(layout.ACME_FORMAT, files, f"{stem}{layout.ACME_RECORD_SUFFIX}")


def acme_draft_for(request: AttestationRequest, pki_profile: TpmPkiProfile) -> AcmeDraft:
    """The draft of ``request`` by the request's device's emulated TPM of the hierarchy ``pki_profile`` (its EK). The AK
    certificate, its chain and root come from ``request.attesting``, which must be an AK of that hierarchy (what
    :meth:`TpmAkProvider.profiled` returns); nothing checks it, as the catalogues make defect drafts with foreign AKs.
    Parameters: ``token`` (canonical unpadded base64url, else :class:`ParameterError`), ``account_key`` (a public
    key whose thumbprint binds the answer; default: an account key derived from the seed), ``identifier`` (default:
    the TPM's EK URN)."""
    if request.key_signer is None:
        raise UnsupportedKeyError("ACME device attestation needs an asymmetric key (for the finalize CSR)")
    params = request.parameters
    seed, label = request.device.seed, request.key.label
    token = token_parameter(params) or b64url(drbg(seed, f"tpm-acme/token/{label}/{request.at:%Y%m%dT%H%M%S}")
                                              .read(32))
    account = params.get("account_key") or derive_key(seed, "tpm-acme/account", ACCOUNT_KEY_SPEC).public_key()
    if not isinstance(account, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) or (
            isinstance(account, ec.EllipticCurvePublicKey) and account.curve.name not in ("secp256r1", "secp384r1")):
        raise ParameterError.invalid("account_key", "an RSA, EC P-256 or P-384 public key", account)
    csr = build_csr(name(("CN", label, UTF8)), request.key_signer)
    tpm = EmulatedTpm.for_device(request.device, pki_profile)
    genuine = genuine_tpm(request, tpm, key_name=TpmAcmeFormat.ak_name, names_device=True)
    area = genuine.key_public() if genuine is not None else tpm.key_public(request.key)
    device_urn = ek_urn(genuine.ek_chain[0].public_key()) if genuine is not None else tpm.ek_urn()  # type: ignore[arg-type]
    return AcmeDraft(
        tpm=tpm, identity=request.attesting, area=area, at=request.at, label=label, genuine=genuine,
        token=token, thumbprint=jwk_thumbprint(account),
        identifier=str(params.get("identifier") or device_urn), csr_pem=csr.public_bytes(Encoding.PEM))
