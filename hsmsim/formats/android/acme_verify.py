"""The verifier of the ACME ``device-attest-01`` ``android-key`` statement (:mod:`hsmsim.formats.android.acme`).

Verification is the chain and KeyDescription checks of :func:`hsmsim.formats.android.verify.check_chain` with
the keyAuthorization as the challenge, then the statement signature (SIGNATURE_INVALID; a key ES256/RS256
cannot express: UNSUPPORTED), then the identifier (an attestationIdSerial other than it: ATTR_CONFLICT),
then the CSR (none: MISSING_INPUT; another key: KEY_MISMATCH). Strict also requires attestationIdSerial
(ATTR_MISSING): without it nothing ties the key to the device the order names. A missing ``.identifier``
is MISSING_INPUT in both profiles, as a record without an identifier is for tpm-acme and apple-acme. After the
chain, the keyAuthorization's token (before its first ``.``) must decode to at least 16 bytes (RFC 8555 8.3, as
tpm-acme and apple-acme require of theirs): else CHALLENGE_MISMATCH.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsmsim.checks import check_csr_binding, one_file
from hsmsim.encoding import spki_der
from hsmsim.formats.android.acme import COSE_ES256, COSE_RS256, check_key_authorization_token
from hsmsim.formats.android.keydescription import KeyDescription
from hsmsim.formats.android.layout import ATTOBJ_SUFFIX, CSR_SUFFIX, IDENTIFIER_SUFFIX, KEYAUTH_SUFFIX, STATUS_FILE
from hsmsim.formats.android.verify import MAX_CHAIN_CERTIFICATES, check_chain
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed
from hsmsim.verdict import Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.container import cbor_decode

MAX_ATTOBJ_BYTES = 256 * 1024
MAX_KEYAUTH_BYTES = 1024
MAX_IDENTIFIER_BYTES = 256


@dataclass(frozen=True)
class Statement:
    """The decoded attStmt."""

    alg: int
    sig: bytes
    x5c: list[bytes]


def read_statement(data: bytes) -> Statement:
    """The attStmt of an ``android-key`` attestation object; raises :class:`Rejected`."""
    if len(data) > MAX_ATTOBJ_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the attestation object is larger than {MAX_ATTOBJ_BYTES} bytes")
    document = cbor_decode(data, "the attestation object")
    if not isinstance(document, dict):
        raise Rejected(Reason.MALFORMED, "the attestation object is not a CBOR map")
    if "fmt" not in document:
        raise Rejected(Reason.MALFORMED, "the attestation object has no fmt")
    if document["fmt"] != "android-key":
        raise Rejected(Reason.UNSUPPORTED, f"fmt {document['fmt']!r} is not android-key")
    stmt = document.get("attStmt")
    if not isinstance(stmt, dict):
        raise Rejected(Reason.MALFORMED, "attStmt is missing or not a map")
    alg, sig, x5c = stmt.get("alg"), stmt.get("sig"), stmt.get("x5c")
    if not isinstance(alg, int) or not isinstance(sig, bytes):
        raise Rejected(Reason.MALFORMED, "attStmt lacks an integer alg or a byte-string sig")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, bytes) for c in x5c):
        raise Rejected(Reason.MALFORMED, "attStmt x5c is not a non-empty array of byte strings")
    if len(x5c) > MAX_CHAIN_CERTIFICATES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"x5c holds more than {MAX_CHAIN_CERTIFICATES} certificates")
    return Statement(alg, sig, [c for c in x5c if isinstance(c, bytes)])


def _certificates(x5c: list[bytes]) -> list[x509.Certificate]:
    try:
        return [fully_parsed(x509.load_der_x509_certificate(der)) for der in x5c]
    except (*CERT_PARSE_ERRORS, x509.DuplicateExtension) as exc:
        raise Rejected(Reason.MALFORMED, f"an x5c certificate does not parse: {str(exc)[:120]}") from None


def check_signature(leaf: x509.Certificate, alg: int, sig: bytes, key_auth: bytes) -> None:
    """The statement signature: ``alg`` fits the attested key and ``sig`` verifies over the keyAuthorization."""
    public = leaf.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1":
            if alg != COSE_ES256:
                raise Rejected(Reason.SIGNATURE_INVALID, f"alg {alg} does not fit a P-256 key (ES256 is -7)")
            public.verify(sig, key_auth, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, rsa.RSAPublicKey):
            if alg != COSE_RS256:
                raise Rejected(Reason.SIGNATURE_INVALID, f"alg {alg} does not fit an RSA key (RS256 is -257)")
            public.verify(sig, key_auth, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise Rejected(Reason.UNSUPPORTED, "the attested key is neither P-256 nor RSA (no ES256/RS256)")
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID,
                       "sig does not verify over the keyAuthorization with the attested key") from None


def _one_file(files: dict[str, bytes], suffix: str, what: str) -> bytes | None:
    """The one ``suffix`` file's bytes, None when there is none; MALFORMED when there are several different ones
    (:func:`~hsmsim.checks.one_file`)."""
    return one_file(files, [rel for rel in files if rel.endswith(suffix)], f"{what} ({suffix})")


def check_binding(kd: KeyDescription, leaf: x509.Certificate, identifier: bytes, csr: bytes | None,
                  profile: Profile) -> None:
    """The device and key binding of the module notes: an attested serial equals the order's ``identifier``
    (ATTR_CONFLICT), the finalize ``csr`` is given (MISSING_INPUT) and requests the leaf's key (KEY_MISMATCH);
    strict: a serial is attested (ATTR_MISSING)."""
    serial = kd.hardware_enforced.attestation_id_serial
    if serial is not None and serial != identifier:
        raise Rejected(Reason.ATTR_CONFLICT, f"the order's identifier {identifier[:60].decode('utf-8', 'replace')!r} "
                                             "is not the attested serial (hardwareEnforced attestationIdSerial)")
    if csr is None:
        raise Rejected(Reason.MISSING_INPUT, f"no finalize CSR (<label>{CSR_SUFFIX}) to bind the attested key to")
    check_csr_binding(spki_der(leaf.public_key()), csr, "the attested key")
    if profile is Profile.STRICT and serial is None:
        raise Rejected(Reason.ATTR_MISSING, "hardwareEnforced has no attestationIdSerial naming the device")


def verify_acme_evidence(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
                         profile: Profile = Profile.STRUCTURAL) -> Verdict:
    """Verify an ``android-acme`` statement against its keyAuthorization; never raises on bad evidence."""
    try:
        files = dict(evidence.files)
        attobjs = [rel for rel in files if rel.endswith(ATTOBJ_SUFFIX)]
        if len(attobjs) != 1:
            raise Rejected(Reason.MISSING_INPUT if not attobjs else Reason.MALFORMED,
                           f"expected one {ATTOBJ_SUFFIX} file, found {len(attobjs)}")
        key_auths = [rel for rel in files if rel.endswith(KEYAUTH_SUFFIX)]
        if len(key_auths) != 1:
            raise Rejected(Reason.MISSING_INPUT if not key_auths else Reason.MALFORMED,
                           f"expected one {KEYAUTH_SUFFIX} file (the keyAuthorization), found {len(key_auths)}")
        key_auth = files[key_auths[0]]
        if len(key_auth) > MAX_KEYAUTH_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"the keyAuthorization is larger than {MAX_KEYAUTH_BYTES} bytes")
        identifier = _one_file(files, IDENTIFIER_SUFFIX, "the order's identifier")
        if identifier is None:
            raise Rejected(Reason.MISSING_INPUT, f"no {IDENTIFIER_SUFFIX} file: the order's identifier is unknown")
        if len(identifier) > MAX_IDENTIFIER_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"the identifier is larger than {MAX_IDENTIFIER_BYTES} bytes")
        csr = _one_file(files, CSR_SUFFIX, "the finalize CSR")
        statement = read_statement(files[attobjs[0]])
        chain = _certificates(statement.x5c)
        status = one_file(files, [rel for rel in files if rel.rsplit("/", 1)[-1] == STATUS_FILE],
                          f"the status list ({STATUS_FILE})")
        kd, verdict = check_chain(chain, key_auth, status, trust, at or datetime.now(UTC), Profile(profile),
                                  ders=statement.x5c)
        check_key_authorization_token(key_auth)
        check_signature(chain[0], statement.alg, statement.sig, key_auth)
        check_binding(kd, chain[0], identifier, csr, Profile(profile))
        return verdict
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
