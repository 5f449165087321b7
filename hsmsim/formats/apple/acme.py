"""The ``apple-acme`` format: ACME ``device-attest-01`` with Apple Managed Device Attestation (format ``apple``).

Facts (``shared/specs/other_formats.md`` 4.3, draft-ietf-acme-device-attest, smallstep ``acme/challenge.go``
``doAppleAttestationFormat``, Apple's answer on the freshness code in its developer forums):

* The device answers the challenge with ``{"attObj": base64url(CBOR {"fmt": "apple", "attStmt": {"x5c":
  [leaf, "Apple Enterprise Attestation Sub CA 1"]}})}``: no ``sig``, no ``alg``, authData omitted. Apple signs
  before the account key is known, so the statement is bound to the **token alone**, not the keyAuthorization.
* The leaf certifies the attested key (Secure Enclave, P-256 or P-384) and carries raw-valued extensions:
  serial number (8.9.1), UDID (8.9.2), OS and sepOS versions (8.10.1, 8.10.2) and the **freshness code
  (8.11.1) = SHA-256(token)**, 32 raw bytes.
* The server checks the chain to the Enterprise Attestation root, the freshness code, that the order's
  ``permanent-identifier`` (or ``hardware-module``) value is the attested serial number or UDID, and at
  finalize that the CSR requests the leaf's key.

This verifier never skips the freshness check when the extension is absent (step-ca does: ATTR_MISSING here),
and a token that decodes to fewer than 16 bytes is CHALLENGE_MISMATCH (RFC 8555 8.3: at least 128 bits of entropy;
SHA-256 of an empty token is a constant any answer could carry).

On disk (``docs/formats/apple.md``): ``<label>.acme-apple.json`` (what the ACME server holds: identifier,
challenge token, the device's payload) and the finalize CSR ``<label>.csr``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.checks import check_csr_binding
from hsmsim.device import AttestationRequest, text_parameter
from hsmsim.encoding import indented_json, spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.apple.extensions import (
    OID_FRESHNESS,
    OID_OS_VERSION,
    OID_SEPOS_VERSION,
    OID_SERIAL,
    OID_UDID,
    check_x5c,
    device_text,
    extension_value,
    load_x5c,
)
from hsmsim.formats.apple.layout import ACME_FORMAT, ACME_MAX_RECORD, ACME_RECORD_SUFFIX
from hsmsim.formats.apple.pki import ENTERPRISE, ApplePki, apple_pki, leaf_name, raw_extension
from hsmsim.formats.apple.record import text_member
from hsmsim.model.evidence import Evidence, TrustAnchors, safe_file_stem
from hsmsim.pki.builder import UTF8, Ext, build_csr, name
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.acme import check_token, decode_att_obj, token_parameter
from hsmsim.webauthn.container import b64url, cbor_encode, from_b64url, parse_json_object

CHALLENGE_TYPE = "device-attest-01"
IDENTIFIER_TYPES = ("permanent-identifier", "hardware-module")
SECURE_ENCLAVE_CURVES = ("secp256r1", "secp384r1")
_SERIAL_ALPHABET = "0123456789CDFGHJKLMNPQRTVWXY"


@dataclass(frozen=True)
class DeviceFacts:
    """What the leaf says about the device; ``None`` leaves the extension out."""

    serial: str | None
    udid: str | None
    os_version: str | None = "18.3.1"
    sepos_version: str | None = "22.4.67.0.0,0"

    @classmethod
    def derive(cls, seed: str, device_serial: str) -> DeviceFacts:
        """An iPhone's 10-character serial number and its UDID (``00008110-`` and 16 hex digits), from the seed."""
        rng = drbg(seed, f"apple/device/{device_serial}")
        serial = "".join(_SERIAL_ALPHABET[byte % len(_SERIAL_ALPHABET)] for byte in rng.read(10))
        return cls(serial=serial, udid=f"00008110-{rng.read(8).hex().upper()}")

    def extensions(self, freshness: bytes | None) -> list[Ext]:
        """The Managed Device Attestation extensions in Apple's order (raw values)."""
        values = [(OID_SERIAL, self.serial), (OID_UDID, self.udid), (OID_OS_VERSION, self.os_version),
                  (OID_SEPOS_VERSION, self.sepos_version)]
        out = [raw_extension(oid, value.encode()) for oid, value in values if value is not None]
        if freshness is not None:
            out.append(raw_extension(OID_FRESHNESS, freshness))
        return out


def freshness_code(token: str) -> bytes:
    """The 8.11.1 value Apple writes for an ACME challenge: SHA-256 of the token's text."""
    return hashlib.sha256(token.encode()).digest()


def mda_leaf(pki: ApplePki, public_key: ec.EllipticCurvePublicKey, extensions: list[Ext], at: datetime,
             label: str) -> x509.Certificate:
    """The Managed Device Attestation leaf for ``public_key``, named ``CN=<64 hex digits>, OU=AAA Certification,
    O=Apple Inc.``."""
    return pki.leaf(public_key, leaf_name(pki.seed, f"{ACME_FORMAT}/{label}/{at.isoformat()}"), extensions, at)


def attestation_object(certificates: list[x509.Certificate], extra: Mapping[str, object] | None = None) -> bytes:
    """The CBOR attObj ``{"fmt": "apple", "attStmt": {"x5c": [...]}}`` (authData omitted)."""
    return cbor_encode({"fmt": "apple", "attStmt": {"x5c": [c.public_bytes(Encoding.DER) for c in certificates]},
                        **(extra or {})})


@dataclass(frozen=True)
class AcmeRecord:
    """What the ACME server holds when it validates the challenge."""

    identifier_type: str
    identifier: str
    token: str
    att_obj: bytes

    def to_json(self) -> bytes:
        """The record file: two-space indented JSON, newline-terminated."""
        return indented_json({
            "identifier": {"type": self.identifier_type, "value": self.identifier},
            "challenge": {"type": CHALLENGE_TYPE, "token": self.token},
            "payload": {"attObj": b64url(self.att_obj)},
        }, 2)

    @classmethod
    def parse(cls, data: bytes) -> AcmeRecord:
        """Read a record (bounded); Rejected MALFORMED / MISSING_INPUT / UNSUPPORTED / LIMIT_EXCEEDED."""
        doc = parse_json_object(data, "ACME record", ACME_MAX_RECORD)
        parts: dict[str, dict[str, Any]] = {}
        for member in ("identifier", "challenge", "payload"):
            value = doc.get(member)
            if not isinstance(value, dict):
                raise Rejected(Reason.MISSING_INPUT, f"the record has no {member} object")
            parts[member] = value
        kind = text_member(parts["identifier"], "type", "identifier")
        if kind not in IDENTIFIER_TYPES:
            raise Rejected(Reason.UNSUPPORTED, f"identifier type {kind[:40]!r} is not one of {IDENTIFIER_TYPES}")
        if text_member(parts["challenge"], "type", "challenge") != CHALLENGE_TYPE:
            raise Rejected(Reason.UNSUPPORTED, f"only {CHALLENGE_TYPE} challenges are supported")
        token = text_member(parts["challenge"], "token", "challenge")
        from_b64url(token, "challenge.token")
        att_obj = from_b64url(text_member(parts["payload"], "attObj", "payload"), "payload.attObj")
        return cls(kind, text_member(parts["identifier"], "value", "identifier"), token, att_obj)


def secure_enclave_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """The leaf's key, which must be a Secure Enclave key: EC P-256 or P-384 (KEY_POLICY otherwise)."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in SECURE_ENCLAVE_CURVES:
        raise Rejected(Reason.KEY_POLICY, f"the attested key is {type(key).__name__}, not a Secure Enclave "
                                          "P-256 or P-384 key")
    return key


def apple_claims(key: ec.EllipticCurvePublicKey, *, serial: str | None, firmware: str | None,
                 model: str | None = None, label: str | None = None, spki: bytes | None = None) -> Claims:
    """A Secure Enclave key: generated there and never extractable (Apple attests nothing else). ``spki``: the
    key's SubjectPublicKeyInfo DER when the caller has it already."""
    return Claims(spki_der=spki if spki is not None else spki_der(key), key_type=f"EC-{key.curve.name}",
                  key_size=key.curve.key_size,
                  generated_on_device=True, extractable=False, never_extractable=True, sensitive=True,
                  always_sensitive=True, vendor="Apple", model=model, serial=serial, firmware=firmware, label=label)


def verify_record(record: AcmeRecord, csr: bytes | None, trust: TrustAnchors, at: datetime,
                  profile: Profile) -> Verdict:
    """The ``apple`` device-attest-01 checks of the module notes; raises :class:`Rejected`."""
    fmt, att_stmt = decode_att_obj(record.att_obj)
    if fmt != "apple":
        raise Rejected(Reason.UNSUPPORTED, f"attestation format {fmt[:30]!r} is not apple")
    if "x5c" not in att_stmt:
        raise Rejected(Reason.MALFORMED, "attStmt has no x5c")
    certs = load_x5c(att_stmt["x5c"])
    check_x5c(certs, trust.get("root") or trust.all(), at)
    leaf = certs[0]
    key = secure_enclave_key(leaf)
    freshness = extension_value(leaf, OID_FRESHNESS)
    if freshness is None:
        raise Rejected(Reason.ATTR_MISSING, f"the leaf has no freshness code {OID_FRESHNESS}")
    if freshness != freshness_code(record.token):
        raise Rejected(Reason.CHALLENGE_MISMATCH, "the freshness code is not SHA-256 of the challenge token")
    check_token(record.token)
    serial = device_text(leaf, OID_SERIAL, "serial number")
    udid = device_text(leaf, OID_UDID, "UDID")
    if serial is None and udid is None:
        raise Rejected(Reason.ATTR_MISSING, "the leaf names neither a serial number nor a UDID")
    if record.identifier not in (serial, udid):
        raise Rejected(Reason.ATTR_CONFLICT, f"the order's identifier {record.identifier[:60]!r} is neither the "
                                             "attested serial number nor the UDID")
    if csr is None:
        raise Rejected(Reason.MISSING_INPUT, "no finalize CSR (<label>.csr) to bind the attested key to")
    spki = spki_der(key)
    check_csr_binding(spki, csr, "the attested Secure Enclave key")
    os_version = device_text(leaf, OID_OS_VERSION, "OS version")
    if profile is Profile.STRICT:
        if os_version is None:
            raise Rejected(Reason.ATTR_MISSING, f"the leaf has no OS version {OID_OS_VERSION}")
        unknown = sorted(str(k)[:20] for k in att_stmt if k != "x5c")
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"attStmt carries members beyond x5c: {unknown[:4]}")
    return Verdict(Reason.OK, f"Secure Enclave {key.curve.name} key of {record.identifier[:60]} (serial {serial}, "
                              f"UDID {udid}, OS {os_version}), fresh for the token",
                   apple_claims(key, serial=serial or udid, firmware=os_version, spki=spki))


@dataclass
class AcmeDraft:
    """One device-attest-01 answer before rendering: every part a defect may change."""

    pki: ApplePki
    label: str
    at: datetime
    public_key: ec.EllipticCurvePublicKey
    facts: DeviceFacts
    token: str
    identifier_type: str
    identifier: str
    csr_pem: bytes | None
    freshness: bytes | None = None

    def __post_init__(self) -> None:
        if self.freshness is None:
            self.freshness = freshness_code(self.token)

    def extensions(self) -> list[Ext]:
        """The leaf's device extensions."""
        return self.facts.extensions(self.freshness)

    def leaf(self) -> x509.Certificate:
        """The leaf as the device's attestation service issues it."""
        return mda_leaf(self.pki, self.public_key, self.extensions(), self.at, self.label)

    def evidence(self, att_obj: bytes | None = None) -> Evidence:
        """``<label>.acme-apple.json`` and the finalize CSR ``<label>.csr``."""
        body = att_obj if att_obj is not None else attestation_object(
            [self.leaf(), self.pki.intermediate.certificate])
        record = AcmeRecord(self.identifier_type, self.identifier, self.token, body)
        stem = safe_file_stem(self.label)
        files = {f"{stem}{ACME_RECORD_SUFFIX}": record.to_json()}
        if self.csr_pem is not None:
            files[f"{stem}.csr"] = self.csr_pem
        return Evidence(ACME_FORMAT, files, f"{stem}{ACME_RECORD_SUFFIX}")


def acme_draft_for(request: AttestationRequest) -> AcmeDraft:
    """The draft of ``request``. Parameters: ``token`` (base64url; default derived from the seed),
    ``identifier`` (default: the device's serial number), ``identifier_type`` (``permanent-identifier``, the default,
    or ``hardware-module``). Raises :class:`ParameterError` for a token or identifier type the verifier refuses."""
    signer = request.key_signer
    if not isinstance(signer, ec.EllipticCurvePrivateKey) or signer.curve.name not in SECURE_ENCLAVE_CURVES:
        raise UnsupportedKeyError("Apple Managed Device Attestation attests Secure Enclave keys: EC P-256 or P-384")
    if not request.key.attributes.generated_and_never_extractable:
        raise UnsupportedKeyError(f"{request.key.label} was imported or is (or was) extractable; Apple attests Secure "
                                  "Enclave keys, generated there and never extractable")
    seed, label, params = request.device.seed, request.key.label, request.parameters
    facts = DeviceFacts.derive(seed, request.device.serial)
    token = token_parameter(params) or b64url(drbg(seed, f"{ACME_FORMAT}/token/{label}/{request.at:%Y%m%dT%H%M%S}")
                                              .read(32))
    identifier_type = text_parameter(params, "identifier_type") or IDENTIFIER_TYPES[0]
    if identifier_type not in IDENTIFIER_TYPES:
        raise ParameterError.invalid("identifier_type", f"one of {', '.join(IDENTIFIER_TYPES)}", identifier_type)
    csr = build_csr(name(("CN", label, UTF8)), signer)
    return AcmeDraft(pki=apple_pki(seed, ENTERPRISE), label=label, at=request.at, public_key=signer.public_key(),
                     facts=facts, token=token, identifier_type=identifier_type,
                     identifier=str(params.get("identifier") or facts.serial),
                     csr_pem=csr.public_bytes(Encoding.PEM))
