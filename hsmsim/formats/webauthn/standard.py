"""The standard WebAuthn statements: ``packed`` (§8.2, full and self attestation), ``fido-u2f`` (§8.6) and ``none``.

Their verification procedures are the specification's; what they emit is a security key's: a full
``packed`` or ``fido-u2f`` statement is signed by the attestation key of a registered
:class:`~hsmsim.webauthn.statements.FidoAuthenticator` (the yubico family registers the YubiKey 5's emulated
FIDO PKI), a self attestation by the credential key itself.

Checks, in order (each raises :class:`Rejected` at the first failure):

* ``packed``: members (``alg`` int, ``sig`` bytes, ``x5c`` optional non-empty array; ``ecdaaKeyId``
  UNSUPPORTED; strict: no other member). With x5c: the attestation certificate profile of §8.2.1
  (CERT_PROFILE: v3, subject C/O/OU="Authenticator Attestation"/CN, basicConstraints CA:FALSE, the AAGUID
  extension non-critical; its value ≠ authData's AAGUID: ATTR_CONFLICT), the chain to the roots given,
  ``alg`` fits the certificate's key (UNSUPPORTED / SIGNATURE_INVALID) and ``sig`` verifies over
  authData ‖ clientDataHash. Self: ``alg`` is the credential key's COSE alg (ATTR_CONFLICT) and the
  credential key signed; the strict profile rejects self attestation (MISSING_INPUT: no authority vouches
  for the key).
* ``fido-u2f``: members (``sig``, ``x5c`` of exactly one certificate), the certificate's key is P-256
  (CERT_PROFILE), the credential key is P-256 (UNSUPPORTED), authData's AAGUID is zero (ATTR_CONFLICT),
  the chain, and ``sig`` (ES256) over 0x00 ‖ rpIdHash ‖ clientDataHash ‖ credentialId ‖ 04 ‖ x ‖ y.
* Both, under the strict profile: the CA/B Forum code-signing key rule on the credential key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from hsmsim.checks import require_code_signing_key
from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import key_facts, spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.model.evidence import TrustAnchors
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed, validate_chain
from hsmsim.pki.identity import PkiExport
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.container import AuthenticatorData, cbor_decode, cose_alg_for, parse_cose_key
from hsmsim.webauthn.cose import cose_sign, verify_cose_signature
from hsmsim.webauthn.statements import FidoAuthenticator, ProducedStatement, SignedData, fido_authenticator

OID_FIDO_AAGUID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
"""id-fido-gen-ce-aaguid: the authenticator model's AAGUID, an OCTET STRING of 16 bytes."""
ATTESTATION_OU = "Authenticator Attestation"
DEFAULT_AUTHENTICATOR = "yubikey-5"
MAX_X5C = 8
ES256 = -7
ATTESTATION_TYPES = ("full", "self")


def authenticator(request: AttestationRequest) -> FidoAuthenticator:
    """The security key emitting the statement (:data:`DEFAULT_AUTHENTICATOR`, from the device seed)."""
    try:
        return fido_authenticator(DEFAULT_AUTHENTICATOR, request.device.seed)
    except KeyError:
        raise UnsupportedKeyError(f"no FIDO authenticator {DEFAULT_AUTHENTICATOR!r} is registered") from None


def authenticator_exports(device: Device) -> tuple[PkiExport, ...]:
    """The FIDO PKI of the security key :func:`authenticator` emulates (none when no family registered it)."""
    try:
        fido = fido_authenticator(DEFAULT_AUTHENTICATOR, device.seed)
    except KeyError:
        return ()
    return (PkiExport("", fido.root, fido.chain, fido.certificate),)


def x5c_der(*certificates: x509.Certificate) -> list[bytes]:
    """DER of each certificate, for ``x5c``."""
    return [cert.public_bytes(Encoding.DER) for cert in certificates]


def u2f_signed_bytes(rp_id_hash: bytes, client_data_hash: bytes, credential_id: bytes, key: PublicKey) -> bytes:
    """FIDO U2F registration verificationData: 0x00 ‖ rpIdHash ‖ clientDataHash ‖ credentialId ‖ 04 ‖ x ‖ y."""
    point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b"\x00" + rp_id_hash + client_data_hash + credential_id + point


@dataclass(kw_only=True)
class SecurityKeyDraft:
    """The inputs of one ``packed`` or ``fido-u2f`` statement. ``generate`` renders it as built; the vector
    catalogue edits one field first: before signing (``message_edit``, ``alg``, ``sign_alg``, ``signer``,
    ``certificates``) or after it (``statement_edit``)."""

    fmt: str
    signer: PrivateKey
    alg: object
    """The announced ``alg`` (``None``: no alg member, as fido-u2f)."""
    sign_alg: int
    certificates: list[x509.Certificate]
    roots: tuple[x509.Certificate, ...]
    message_edit: Callable[[bytes], bytes] | None = None
    statement_edit: Callable[[dict[str, object]], None] | None = None

    def message(self, auth_data: bytes, client_data_hash: bytes) -> bytes:
        """What the statement signs: authData ‖ clientDataHash, or fido-u2f's verificationData."""
        if self.fmt != "fido-u2f":
            return auth_data + client_data_hash
        auth = AuthenticatorData.parse(auth_data)
        assert auth.credential is not None
        key = parse_cose_key(cbor_decode(auth.credential.public_key_cbor, "credentialPublicKey"))
        return u2f_signed_bytes(auth.rp_id_hash, client_data_hash, auth.credential.credential_id, key)

    def render(self, auth_data: bytes, client_data_hash: bytes) -> dict[str, object]:
        """The attStmt: ``alg`` (when announced), ``sig``, ``x5c`` (with certificates), then ``statement_edit``."""
        message = self.message(auth_data, client_data_hash)
        if self.message_edit:
            message = self.message_edit(message)
        statement: dict[str, object] = {} if self.alg is None else {"alg": self.alg}
        statement["sig"] = cose_sign(self.signer, self.sign_alg, message)
        if self.certificates:
            statement["x5c"] = x5c_der(*self.certificates)
        if self.statement_edit:
            self.statement_edit(statement)
        return statement


def draft_for(fmt: str, request: AttestationRequest) -> SecurityKeyDraft:
    """The statement a security key emits for the request's key: ``fido-u2f`` (P-256 credentials only), or
    ``packed`` full (parameter ``attestation`` = ``full``, the default) or self (``self``) attestation. A statement
    by the authenticator's attestation key says the credential was generated in it and cannot leave it, so it is
    refused for a key that was imported or is (or was) extractable; self attestation vouches for nothing."""
    if (fmt == "fido-u2f" or attestation_type(request) == "full") \
            and not request.key.attributes.generated_and_never_extractable:
        raise UnsupportedKeyError(f"{request.key.label} was imported or is (or was) extractable; a security key's "
                                  f"{fmt} attestation vouches only for credentials it generated")
    if fmt == "fido-u2f":
        key = request.key.public_key
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise UnsupportedKeyError("fido-u2f credentials are EC P-256 keys")
        fido = authenticator(request)
        return SecurityKeyDraft(fmt=fmt, signer=fido.key, alg=None, sign_alg=ES256, certificates=[fido.certificate],
                                roots=(fido.root,))
    if attestation_type(request) == "self":
        signer = request.key_signer
        if signer is None:
            raise UnsupportedKeyError("self attestation needs the credential's private key")
        alg = cose_alg_for(signer.public_key())
        return SecurityKeyDraft(fmt=fmt, signer=signer, alg=alg, sign_alg=alg, certificates=[], roots=())
    fido = authenticator(request)
    alg = cose_alg_for(fido.key.public_key())
    return SecurityKeyDraft(fmt=fmt, signer=fido.key, alg=alg, sign_alg=alg,
                            certificates=[fido.certificate, *fido.chain], roots=(fido.root,))


def attestation_type(request: AttestationRequest) -> str:
    """The ``packed`` parameter ``attestation``: ``full`` (default) or ``self``."""
    kind = str(request.parameters.get("attestation", "full"))
    if kind not in ATTESTATION_TYPES:
        raise ParameterError.invalid("attestation", f"one of {', '.join(ATTESTATION_TYPES)}",
                                     request.parameters.get("attestation"))
    return kind


# -- shared checks --------------------------------------------------------------------------------

def _members(att_stmt: Mapping[str, object], fmt: str, required: tuple[str, ...], optional: tuple[str, ...],
             profile: Profile) -> None:
    if "ecdaaKeyId" in att_stmt:
        raise Rejected(Reason.UNSUPPORTED, "ECDAA attestation (ecdaaKeyId) was removed from WebAuthn")
    for member in required:
        if member not in att_stmt:
            raise Rejected(Reason.MISSING_INPUT, f"{fmt} attStmt has no {member}")
    alg = att_stmt.get("alg")
    if "alg" in att_stmt and (not isinstance(alg, int) or isinstance(alg, bool)):
        raise Rejected(Reason.MALFORMED, f"{fmt} attStmt.alg is not an integer")
    if not isinstance(att_stmt["sig"], bytes):
        raise Rejected(Reason.MALFORMED, f"{fmt} attStmt.sig is not a byte string")
    unknown = sorted(str(k) for k in att_stmt if k not in required + optional)
    if unknown and profile is Profile.STRICT:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown {fmt} attStmt members: {', '.join(unknown)[:80]}")


def load_x5c(value: object, fmt: str) -> list[x509.Certificate]:
    """The x5c array, parsed: MISSING_INPUT when empty, LIMIT_EXCEEDED past :data:`MAX_X5C`, MALFORMED otherwise."""
    if not isinstance(value, list):
        raise Rejected(Reason.MALFORMED, f"{fmt} attStmt.x5c is not an array")
    if not value:
        raise Rejected(Reason.MISSING_INPUT, f"{fmt} attStmt.x5c is empty: no attestation certificate")
    if len(value) > MAX_X5C:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"x5c holds {len(value)} certificates (limit {MAX_X5C})")
    if not all(isinstance(der, bytes) for der in value):
        raise Rejected(Reason.MALFORMED, f"{fmt} attStmt.x5c holds a non-bytes entry")
    try:
        return [fully_parsed(x509.load_der_x509_certificate(der)) for der in value]
    except (*CERT_PARSE_ERRORS, x509.DuplicateExtension) as exc:
        raise Rejected(Reason.MALFORMED, f"an x5c entry is not a DER certificate: {str(exc)[:80]}") from None


def _name_value(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if len(values) == 1 else None


def credential_claims(signed: SignedData, profile: Profile, *, attested: bool, vendor: str,
                      model: str | None, detail: str) -> dict[str, object]:
    """The claims of an attested credential key (the strict profile applies the code-signing key rule first):
    ``attested``: an authenticator certified by its maker says the key was generated inside and never leaves."""
    key_type, size = key_facts(signed.credential_key)
    if profile is Profile.STRICT:
        require_code_signing_key(key_type, size)
    bound = True if attested else None
    return {"spki_der": spki_der(signed.credential_key), "key_type": key_type, "key_size": size,
            "generated_on_device": bound, "extractable": (False if attested else None), "never_extractable": bound,
            "sensitive": bound, "always_sensitive": bound, "vendor": vendor, "model": model, "detail": detail}


# -- packed ---------------------------------------------------------------------------------------

def check_packed_certificate(cert: x509.Certificate, aaguid: bytes, profile: Profile) -> tuple[str, str]:
    """WebAuthn §8.2.1: the attestation certificate profile; returns (O, CN). CERT_PROFILE, or ATTR_CONFLICT
    for an AAGUID extension naming another authenticator model (MALFORMED when it is not 16 bytes). The strict
    profile also requires the AAGUID extension: §8.2.1 makes it mandatory when the root serves several models,
    which the evidence cannot tell."""
    if cert.version is not x509.Version.v3:
        raise Rejected(Reason.CERT_PROFILE, "attestation certificate is not X.509 v3")
    subject = cert.subject
    country = _name_value(subject, NameOID.COUNTRY_NAME)
    organisation = _name_value(subject, NameOID.ORGANIZATION_NAME)
    unit = _name_value(subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    common = _name_value(subject, NameOID.COMMON_NAME)
    if country is None or len(country) != 2 or not organisation or not common:
        raise Rejected(Reason.CERT_PROFILE, f"attestation certificate subject {subject.rfc4514_string()[:80]!r} "
                                            "lacks one C (ISO 3166), O or CN")
    if unit != ATTESTATION_OU:
        raise Rejected(Reason.CERT_PROFILE, f"attestation certificate OU is {unit!r}, not {ATTESTATION_OU!r}")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise Rejected(Reason.CERT_PROFILE, "attestation certificate has no basicConstraints") from None
    if constraints.ca:
        raise Rejected(Reason.CERT_PROFILE, "attestation certificate has basicConstraints CA:TRUE")
    try:
        extension = cert.extensions.get_extension_for_oid(OID_FIDO_AAGUID)
    except x509.ExtensionNotFound:
        if profile is Profile.STRICT:
            raise Rejected(Reason.CERT_PROFILE, "attestation certificate has no AAGUID extension "
                                                "(1.3.6.1.4.1.45724.1.1.4): it does not name its model") from None
        return organisation, common
    if extension.critical:
        raise Rejected(Reason.CERT_PROFILE, "the AAGUID extension (1.3.6.1.4.1.45724.1.1.4) is critical")
    value = extension.value
    assert isinstance(value, x509.UnrecognizedExtension)
    if len(value.value) != 18 or value.value[:2] != b"\x04\x10":
        raise Rejected(Reason.MALFORMED, "the AAGUID extension is not an OCTET STRING of 16 bytes")
    if value.value[2:] != aaguid:
        raise Rejected(Reason.ATTR_CONFLICT, f"the certificate's AAGUID {value.value[2:].hex()} is not authData's "
                                             f"{aaguid.hex()}")
    return organisation, common


class PackedAttestation:
    """WebAuthn ``packed``: a security key's full attestation (x5c), or self attestation by the credential key.

    Parameter ``attestation``: ``full`` (default) or ``self``.
    """

    name = "packed"

    def aaguid(self, request: AttestationRequest) -> bytes:
        """The security key's AAGUID; zero for self attestation (a model no certificate names)."""
        return authenticator(request).aaguid if attestation_type(request) == "full" else bytes(16)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The security key's FIDO attestation PKI (:func:`authenticator_exports`)."""
        return authenticator_exports(device)

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """``{alg, sig, x5c}`` by the security key's attestation key, or ``{alg, sig}`` by the credential key."""
        draft = draft_for(self.name, request)
        return ProducedStatement(draft.render(auth_data, client_data_hash), draft.roots)

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """WebAuthn §8.2 (see the module notes); raises Rejected."""
        _members(att_stmt, self.name, ("alg", "sig"), ("x5c",), profile)
        data = signed.auth_data + signed.client_data_hash
        sig = att_stmt["sig"]
        assert isinstance(sig, bytes)
        if "x5c" not in att_stmt:
            if att_stmt["alg"] != signed.credential_alg:
                raise Rejected(Reason.ATTR_CONFLICT, f"self attestation alg {att_stmt['alg']} is not the credential "
                                                     f"key's alg {signed.credential_alg}")
            verify_cose_signature(signed.credential_key, att_stmt["alg"], sig, data, "packed self attestation")
            if profile is Profile.STRICT:
                raise Rejected(Reason.MISSING_INPUT, "packed self attestation: only the credential key vouches for "
                                                     "itself, no authenticator maker does")
            return credential_claims(signed, profile, attested=False, vendor="unknown", model=None,
                                     detail="packed self attestation (no attestation certificate)")
        x5c = load_x5c(att_stmt["x5c"], self.name)
        organisation, common = check_packed_certificate(x5c[0], signed.aaguid, profile)
        validate_chain(x5c[0], x5c[1:], trust.get("root"), at)
        verify_cose_signature(x5c[0].public_key(), att_stmt["alg"], sig, data,  # type: ignore[arg-type]
                              "packed attStmt")
        return credential_claims(signed, profile, attested=True, vendor=organisation, model=common,
                                 detail=f"packed full attestation by {common!r} ({organisation}), "
                                        f"AAGUID {signed.aaguid.hex()}")


# -- fido-u2f -------------------------------------------------------------------------------------

class FidoU2fAttestation:
    """WebAuthn ``fido-u2f``: a U2F registration by the security key's attestation key (P-256 credentials only)."""

    name = "fido-u2f"

    def aaguid(self, request: AttestationRequest) -> bytes:
        """Zero: a U2F authenticator has no AAGUID (the client writes zeros into authData)."""
        return bytes(16)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The security key's FIDO attestation PKI (:func:`authenticator_exports`)."""
        return authenticator_exports(device)

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """``{sig, x5c: [attestation certificate]}`` over the U2F verificationData."""
        draft = draft_for(self.name, request)
        return ProducedStatement(draft.render(auth_data, client_data_hash), draft.roots)

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """WebAuthn §8.6 (see the module notes); raises Rejected."""
        _members(att_stmt, self.name, ("sig", "x5c"), (), profile)
        x5c = load_x5c(att_stmt["x5c"], self.name)
        if len(x5c) != 1:
            raise Rejected(Reason.MALFORMED, f"fido-u2f attStmt.x5c holds {len(x5c)} certificates, not exactly one")
        cert_key = x5c[0].public_key()
        if not isinstance(cert_key, ec.EllipticCurvePublicKey) or cert_key.curve.name != "secp256r1":
            raise Rejected(Reason.CERT_PROFILE, "the fido-u2f attestation certificate's key is not EC P-256")
        credential = signed.credential_key
        if not isinstance(credential, ec.EllipticCurvePublicKey) or credential.curve.name != "secp256r1":
            raise Rejected(Reason.UNSUPPORTED, "a fido-u2f credential key must be EC P-256")
        if signed.aaguid != bytes(16):
            raise Rejected(Reason.ATTR_CONFLICT, f"fido-u2f authData AAGUID is {signed.aaguid.hex()}, not zero")
        validate_chain(x5c[0], [], trust.get("root"), at)
        sig = att_stmt["sig"]
        assert isinstance(sig, bytes)
        message = u2f_signed_bytes(signed.rp_id_hash, signed.client_data_hash, signed.credential_id, credential)
        verify_cose_signature(cert_key, ES256, sig, message, "fido-u2f attStmt")
        common = _name_value(x5c[0].subject, NameOID.COMMON_NAME)
        organisation = _name_value(x5c[0].subject, NameOID.ORGANIZATION_NAME)
        return credential_claims(signed, profile, attested=True, vendor=organisation or "unknown", model=common,
                                 detail=f"fido-u2f attestation by {common!r}")


# -- none -----------------------------------------------------------------------------------------

class NoneAttestation:
    """WebAuthn ``none``: the authenticator (or the client) withholds attestation; a relying party that needs
    key attestation rejects it."""

    name = "none"

    def aaguid(self, request: AttestationRequest) -> bytes:
        """Zero, as clients write it when they strip attestation."""
        return bytes(16)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """None: nothing vouches for the key."""
        return ()

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """An empty attStmt and no roots."""
        return ProducedStatement({}, ())

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """Always raises: MALFORMED for a non-empty attStmt, else MISSING_INPUT (nothing vouches for the key)."""
        if att_stmt:
            raise Rejected(Reason.MALFORMED, "fmt none with a non-empty attStmt")
        raise Rejected(Reason.MISSING_INPUT, "fmt none: no attestation statement vouches for the key")
