"""The ``apple-appattest`` format: an App Attest attestation object and what the app's server holds to check it.

Facts (``shared/specs/other_formats.md`` 4.2, Apple "Validating apps that connect to your server"):

* ``DCAppAttestService.attestKey(keyId, clientDataHash)`` returns the CBOR attestation object
  ``{"fmt": "apple-appattest", "attStmt": {"x5c": [credCert, "Apple App Attestation CA 1"], "receipt": bstr},
  "authData": bstr}``; clientDataHash = SHA-256(the server's one-time challenge).
* credCert certifies the App Attest key (P-256) and carries the nonce extension 1.2.840.113635.100.8.2 =
  SHA-256(authData || clientDataHash).
* The key identifier is SHA-256 of the key's uncompressed point; authData's rpIdHash is SHA-256 of the App ID
  (``TEAMID.bundle.id``), the counter 0, the aaguid ``appattestdevelop`` (development) or ``appattest`` and
  seven zero bytes (production), and the credentialId the key identifier.
* credCert also carries 1.2.840.113635.100.8.5 (a device description naming the App ID) and 8.7 (the OS
  version), undocumented; the emulation writes them as the published credCert does and the verifier ignores them.
* The receipt is Apple's CMS SignedData for its fraud-metric service (:mod:`~hsmsim.formats.apple.receipt`):
  the emulation writes it as the published real ones are, over credCert, under an emulated receipt PKI.

Apple's nine server steps, in order, with the reason each failure gets: chain to the App Attestation root (the
chain reasons); nonce (ATTR_MISSING / MALFORMED / CHALLENGE_MISMATCH); SHA-256(credCert key) = key id
(KEY_MISMATCH); rpIdHash = SHA-256(App ID) (RELYING_PARTY_MISMATCH); counter 0 (ATTR_CONFLICT); aaguid of the
expected environment (ATTR_CONFLICT); credentialId = key id (KEY_MISMATCH). This verifier also requires the
authData credential key to be credCert's key (KEY_MISMATCH) and ``fmt`` to be ``apple-appattest`` (UNSUPPORTED).

The receipt. Apple's steps do not read it (the server keeps it to ask Apple for fraud metrics); it must be a
byte string (MALFORMED). When it parses as an App Attest receipt (``receipt.receipt_binding``), its attested
key (field 3) must be credCert's (KEY_MISMATCH) and its App ID (field 2) the attested one
(RELYING_PARTY_MISMATCH), as "Assessing fraud risk" asks of a receipt and devicecheck-appattest checks; when it
does not, the structural profile accepts (fido2-net-lib and pyattest never read it) and the strict one rejects
(MALFORMED). Claims ``extra["receipt_parsed"]`` says which. Not checked: the receipt's
signature and chain (its root, Apple Root CA - G3, is no anchor of this format) and the five-minute freshness
of its creation time (meant for a receipt just fetched from Apple; the vectors are validated two hours after
attesting).

On disk: ``<label>.appattest.json`` with ``appId``, ``environment``, ``challenge`` (base64url), and the app's
``keyId`` and ``attestation`` (standard base64, as the app receives them from DCAppAttestService).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hsmsim.device import AttestationRequest
from hsmsim.encoding import indented_json, spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.apple.acme import apple_claims
from hsmsim.formats.apple.extensions import (
    OID_APP_ATTEST_DEVICE,
    OID_APP_ATTEST_OS,
    OID_NONCE,
    app_attest_device_value,
    app_attest_os_value,
    check_x5c,
    load_x5c,
    nonce_extension_value,
    read_nonce,
)
from hsmsim.formats.apple.layout import (
    APPATTEST_FORMAT,
    APPATTEST_MAX_ATTESTATION,
    APPATTEST_MAX_RECORD,
    APPATTEST_RECORD_SUFFIX,
)
from hsmsim.formats.apple.pki import APP_ATTEST, ApplePki, apple_pki, raw_extension
from hsmsim.formats.apple.receipt import (
    DEFAULT_RECEIPT_ENVIRONMENT,
    RECEIPT_ENVIRONMENTS,
    AttestReceipt,
    attest_receipt,
    receipt_binding,
)
from hsmsim.formats.apple.record import b64, from_b64, text_member
from hsmsim.model.evidence import Evidence, TrustAnchors, safe_file_stem
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.container import (
    FLAG_AT,
    AttestedCredential,
    AuthenticatorData,
    b64url,
    cbor_decode,
    cbor_encode,
    cose_alg_for,
    cose_key,
    from_b64url,
    parse_cose_key,
    parse_json_object,
)

AAGUID = {"development": b"appattestdevelop", "production": b"appattest" + bytes(7)}
OS_VERSION = "15.5"
"""The OS version credCert's extension 8.7 names (the published sample's)."""
_TEAM_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def default_app_id(seed: str) -> str:
    """A ``TEAMID.bundle.id`` App ID derived from the seed (a 10-character team id)."""
    rng = drbg(seed, f"{APPATTEST_FORMAT}/app-id")
    team = "".join(_TEAM_ALPHABET[byte % len(_TEAM_ALPHABET)] for byte in rng.read(10))
    return f"{team}.com.example.app{rng.read(2).hex()}"


P256_POINT_BYTES = 65
"""An uncompressed X9.62 P-256 point: 04, X and Y."""


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The key identifier: SHA-256 of the uncompressed X9.62 point."""
    return hashlib.sha256(public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)).digest()


def cose_ec2(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The canonical COSE_Key of an EC credential key (ES256 for P-256)."""
    return cbor_encode(cose_key(public_key, cose_alg_for(public_key)))


def client_data_hash(challenge: bytes) -> bytes:
    """What the app passes to attestKey: SHA-256 of the server's challenge."""
    return hashlib.sha256(challenge).digest()


def attestation_nonce(auth_data: bytes, challenge: bytes) -> bytes:
    """The credCert nonce: SHA-256(authData || SHA-256(challenge))."""
    return hashlib.sha256(auth_data + client_data_hash(challenge)).digest()


@dataclass(frozen=True)
class AppAttestRecord:
    """What the app's server holds when it validates an attestation."""

    app_id: str
    environment: str
    challenge: bytes
    key_id: bytes
    attestation: bytes

    def to_json(self) -> bytes:
        """The record file: two-space indented JSON, newline-terminated."""
        return indented_json({"appId": self.app_id, "environment": self.environment,
                              "challenge": b64url(self.challenge), "keyId": b64(self.key_id),
                              "attestation": b64(self.attestation)}, 2)

    @classmethod
    def parse(cls, data: bytes) -> AppAttestRecord:
        """Read a record (bounded); Rejected MALFORMED / MISSING_INPUT / LIMIT_EXCEEDED."""
        doc = parse_json_object(data, "App Attest record", APPATTEST_MAX_RECORD)
        environment = text_member(doc, "environment", "the record")
        if environment not in AAGUID:
            raise Rejected(Reason.MALFORMED, f"environment {environment[:20]!r} is neither development nor production")
        return cls(text_member(doc, "appId", "the record"), environment,
                   from_b64url(text_member(doc, "challenge", "the record"), "challenge"),
                   from_b64(text_member(doc, "keyId", "the record"), "keyId"),
                   from_b64(text_member(doc, "attestation", "the record"), "attestation"))


def decode_attestation(data: bytes) -> tuple[str, dict[Any, Any], bytes]:
    """(fmt, attStmt, authData) of an attestation object (MALFORMED / MISSING_INPUT / LIMIT_EXCEEDED)."""
    if len(data) > APPATTEST_MAX_ATTESTATION:
        raise Rejected(Reason.LIMIT_EXCEEDED,
                       f"the attestation object is {len(data)} bytes (limit {APPATTEST_MAX_ATTESTATION})")
    value = cbor_decode(data, "the attestation object")
    if not isinstance(value, dict):
        raise Rejected(Reason.MALFORMED, "the attestation object is not a CBOR map")
    missing = [m for m in ("fmt", "attStmt", "authData") if m not in value]
    if missing:
        raise Rejected(Reason.MALFORMED, f"the attestation object lacks {missing}")
    fmt, stmt, auth_data = value["fmt"], value["attStmt"], value["authData"]
    if not isinstance(fmt, str) or not isinstance(stmt, dict) or not isinstance(auth_data, bytes) or len(value) != 3:
        raise Rejected(Reason.MALFORMED, "the attestation object is not {fmt: text, attStmt: map, authData: bytes}")
    return fmt, stmt, auth_data


def verify_record(record: AppAttestRecord, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """Apple's nine steps and this verifier's additions (module notes); raises :class:`Rejected`."""
    fmt, stmt, auth_data = decode_attestation(record.attestation)
    if fmt != APPATTEST_FORMAT:
        raise Rejected(Reason.UNSUPPORTED, f"attestation format {fmt[:30]!r} is not {APPATTEST_FORMAT}")
    if "x5c" not in stmt:
        raise Rejected(Reason.MALFORMED, "attStmt has no x5c")
    receipt = stmt.get("receipt")
    if not isinstance(receipt, bytes) or not receipt:
        raise Rejected(Reason.MALFORMED, "attStmt has no receipt byte string")
    certs = load_x5c(stmt["x5c"])
    check_x5c(certs, trust.get("root") or trust.all(), at)
    cred_cert = certs[0]
    parsed = AuthenticatorData.parse(auth_data)
    credential = parsed.credential
    if credential is None:
        raise Rejected(Reason.MALFORMED, "authData carries no attested credential data (AT flag clear)")
    read_nonce(cred_cert, attestation_nonce(auth_data, record.challenge), "SHA-256(authData || SHA-256(challenge))")
    key = cred_cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise Rejected(Reason.KEY_POLICY, "credCert does not certify a P-256 key (App Attest keys are P-256)")
    spki = spki_der(key)
    # A P-256 SubjectPublicKeyInfo ends with the key's uncompressed point: its key identifier is read from the SPKI the
    # claims report, so the point is encoded once.
    if hashlib.sha256(spki[-P256_POINT_BYTES:]).digest() != record.key_id:
        raise Rejected(Reason.KEY_MISMATCH, "SHA-256 of credCert's public key is not the app's key identifier")
    if parsed.rp_id_hash != hashlib.sha256(record.app_id.encode()).digest():
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"rpIdHash is not SHA-256 of the App ID {record.app_id[:60]!r}")
    if parsed.sign_count != 0:
        raise Rejected(Reason.ATTR_CONFLICT, f"the counter is {parsed.sign_count}, an attestation's is 0")
    if credential.aaguid != AAGUID[record.environment]:
        raise Rejected(Reason.ATTR_CONFLICT, f"aaguid {credential.aaguid!r} is not the {record.environment} aaguid")
    if credential.credential_id != record.key_id:
        raise Rejected(Reason.KEY_MISMATCH, "authData credentialId is not the key identifier")
    if parse_cose_key(cbor_decode(credential.public_key_cbor, "credentialPublicKey")) != key:
        raise Rejected(Reason.KEY_MISMATCH, "authData's credential public key is not credCert's key")
    binding = receipt_binding(receipt, (stmt["x5c"][0], key))
    if binding is None:
        if profile is Profile.STRICT:
            raise Rejected(Reason.MALFORMED, "the receipt is not an App Attest receipt (CMS SignedData whose content "
                                             "is a SET of receipt attributes with the App ID and credCert)")
    elif binding[1] != key:
        raise Rejected(Reason.KEY_MISMATCH, "the receipt's attested public key (field 3) is not credCert's key")
    elif binding[0] != record.app_id.encode():
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"the receipt names the App ID {binding[0][:60]!r}, not "
                                                      f"{record.app_id[:60]!r}")
    if profile is Profile.STRICT:
        unknown = sorted(str(k)[:20] for k in stmt if k not in ("x5c", "receipt"))
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"attStmt carries members beyond x5c and receipt: {unknown[:4]}")
    claims = apple_claims(key, serial=None, firmware=None, model=f"App Attest ({record.environment})",
                          label=record.app_id, spki=spki)
    return Verdict(Reason.OK, f"App Attest key {record.key_id.hex()[:16]}... of {record.app_id[:60]} "
                              f"({record.environment})",
                   replace(claims, extra={"receipt_parsed": binding is not None}))


@dataclass
class AppAttestDraft:
    """One attestation before rendering: every part a defect may change (``None``: the genuine value)."""

    pki: ApplePki
    label: str
    at: datetime
    public_key: ec.EllipticCurvePublicKey
    app_id: str
    environment: str
    challenge: bytes
    receipt_environment: bytes | None
    """Field 7 of the receipt (:func:`receipt_environment`); None: absent."""
    receipt: bytes | None = None
    """attStmt.receipt; None: the genuine receipt over the draft's credCert."""
    fmt: str = APPATTEST_FORMAT
    flags: int = FLAG_AT
    sign_count: int = 0
    rp_id: str | None = None
    aaguid: bytes | None = None
    credential_id: bytes | None = None
    cose_key: bytes | None = None
    record_key_id: bytes | None = None
    nonce_value: bytes | None = None
    """The 8.2 extension value; None: the DER of the genuine nonce."""
    omit_nonce: bool = False
    statement_extra: dict[str, object] = field(default_factory=dict)
    cred_cert_override: x509.Certificate | None = None
    x5c_override: list[bytes] | None = None

    @property
    def key_id(self) -> bytes:
        """The genuine key identifier."""
        return key_id(self.public_key)

    def auth_data(self) -> bytes:
        """authData as the Secure Enclave writes it, with the draft's changes."""
        credential = AttestedCredential(
            self.aaguid if self.aaguid is not None else AAGUID[self.environment],
            self.credential_id if self.credential_id is not None else self.key_id,
            self.cose_key if self.cose_key is not None else cose_ec2(self.public_key))
        rp_id_hash = hashlib.sha256((self.rp_id if self.rp_id is not None else self.app_id).encode()).digest()
        return AuthenticatorData(rp_id_hash, self.flags, self.sign_count, credential).marshal()

    def cred_cert(self) -> x509.Certificate:
        """credCert with the nonce over the draft's authData and challenge."""
        if self.cred_cert_override is not None:
            return self.cred_cert_override
        value = self.nonce_value if self.nonce_value is not None else nonce_extension_value(
            attestation_nonce(self.auth_data(), self.challenge))
        extensions = [raw_extension(OID_APP_ATTEST_DEVICE, app_attest_device_value(self.app_id)),
                      raw_extension(OID_APP_ATTEST_OS, app_attest_os_value(OS_VERSION))]
        if not self.omit_nonce:
            extensions.append(raw_extension(OID_NONCE, value))
        return self.pki.leaf(self.public_key, self.key_id.hex(), extensions, self.at)

    def receipt_content(self, cred_cert: x509.Certificate) -> AttestReceipt:
        """What Apple's receipt for ``cred_cert`` says: the attested App ID, the clientDataHash, field 7."""
        return AttestReceipt.issued(self.pki.seed, self.rp_id if self.rp_id is not None else self.app_id, cred_cert,
                                    client_data_hash(self.challenge), self.receipt_environment)

    def attestation(self) -> bytes:
        """The CBOR attestation object."""
        cred_cert = self.cred_cert()
        x5c = self.x5c_override if self.x5c_override is not None else [
            cred_cert.public_bytes(Encoding.DER), self.pki.intermediate.certificate.public_bytes(Encoding.DER)]
        receipt = self.receipt if self.receipt is not None else attest_receipt(
            self.pki.seed, self.receipt_content(cred_cert))
        statement: dict[str, object] = {"x5c": x5c, "receipt": receipt, **self.statement_extra}
        return cbor_encode({"fmt": self.fmt, "attStmt": statement, "authData": self.auth_data()})

    def evidence(self, attestation: bytes | None = None) -> Evidence:
        """``<label>.appattest.json``."""
        record = AppAttestRecord(self.app_id, self.environment, self.challenge,
                                 self.record_key_id if self.record_key_id is not None else self.key_id,
                                 attestation if attestation is not None else self.attestation())
        stem = safe_file_stem(self.label)
        primary = f"{stem}{APPATTEST_RECORD_SUFFIX}"
        return Evidence(APPATTEST_FORMAT, {primary: record.to_json()}, primary)


def receipt_environment(environment: str, choice: str | None = None) -> bytes | None:
    """Field 7 of the receipt: what ``choice`` names in :data:`~hsmsim.formats.apple.receipt.RECEIPT_ENVIRONMENTS`,
    by default ``sandbox`` in development (as the real receipts) and absent in production (a GUESS)."""
    return RECEIPT_ENVIRONMENTS[choice or DEFAULT_RECEIPT_ENVIRONMENT[environment]]


def app_attest_draft_for(request: AttestationRequest) -> AppAttestDraft:
    """The draft of ``request``. Parameters: ``challenge`` (text; default derived from the seed), ``app_id``
    (``TEAMID.bundle.id``; default derived), ``environment`` (``production`` or ``development``),
    ``receipt_environment`` (the receipt's field 7: ``absent``, ``sandbox`` or ``production``; default
    ``sandbox`` in development, absent in production)."""
    signer = request.key_signer
    if not isinstance(signer, ec.EllipticCurvePrivateKey) or signer.curve.name != "secp256r1":
        raise UnsupportedKeyError("App Attest keys are P-256 keys")
    if not request.key.attributes.generated_and_never_extractable:
        raise UnsupportedKeyError(f"{request.key.label} was imported or is (or was) extractable; App Attest keys are "
                                  "generated in the Secure Enclave and never leave it")
    seed, label, params = request.device.seed, request.key.label, request.parameters
    environment = str(params.get("environment") or "production")
    if environment not in AAGUID:
        raise ParameterError.invalid("environment", f"one of {', '.join(AAGUID)}", params.get("environment"))
    given_field7 = params.get("receipt_environment")
    field7 = None if given_field7 is None else str(given_field7)
    if field7 is not None and field7 not in RECEIPT_ENVIRONMENTS:
        raise ParameterError.invalid("receipt_environment", f"one of {', '.join(RECEIPT_ENVIRONMENTS)}", given_field7)
    given = params.get("challenge")
    challenge = str(given).encode() if given is not None else drbg(
        seed, f"{APPATTEST_FORMAT}/challenge/{label}/{request.at:%Y%m%dT%H%M%S}").read(32)
    app_id = str(params.get("app_id") or default_app_id(seed))
    if not re.fullmatch(r"[A-Z0-9]{10}\.[A-Za-z0-9.-]+", app_id):
        raise ParameterError.invalid("app_id", "TEAMID.bundle.id (a 10-character team id)", params.get("app_id"))
    return AppAttestDraft(pki=apple_pki(seed, APP_ATTEST), label=label, at=request.at,
                          public_key=signer.public_key(), app_id=app_id, environment=environment,
                          challenge=challenge, receipt_environment=receipt_environment(environment, field7))
