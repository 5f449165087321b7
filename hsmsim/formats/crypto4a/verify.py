"""The reference verifier of Crypto4A QASM attestation messages.

In order: the message reads (strict DER, bounded counts), its versions are 1, every known claim has its shape;
every ECDSA (or RSA) signature verifies over the tbs DER with its signer certificate's key, the message carries
an ECDSA and an HSS signer, each signer certificate is an assertion authority (keyUsage digitalSignature, EKU
1.3.6.1.4.1.39901.4.1.1) chaining through the attached certificates to a trust anchor at the validation time, and
the attestation time lies within each signer certificate's validity; the attested key is the one whose
``key-spki`` (or ``key-fingerprint``, SHA-256 of the SPKI: a guess) is the CSR's key, else the only key the message
describes; that key is a private key, confined, hardware generated and never extracted. Last, every HSS/LMS
signature verifies over the same tbs (:mod:`hsmsim.pki.hss`): it costs most of a verification, and the ECDSA
signature has already shown the tbs authentic, so evidence that fails another check is rejected without it. The
strict profile also wants the device claims ``qasm-certified-production`` and ``attestation-keys-are-unique``,
refuses unknown claims and applies the code-signing key policy.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from hsmsim.checks import check_csr_signature, one_file, one_that_passes, require_code_signing_key
from hsmsim.encoding import der_children, der_content, key_facts, read_tlv
from hsmsim.formats.crypto4a.generate import OBJECT_CLASS_PRIVATE_KEY
from hsmsim.formats.crypto4a.layout import MAX_MESSAGE_BYTES
from hsmsim.formats.crypto4a.message import (
    HSS_LMS_HASHSIG,
    NUMBER,
    OCTETS,
    TEXT,
    TIME,
    Claim,
    Message,
    SignatureBlock,
    claim_oid,
    decode_message,
    unarmour,
)
from hsmsim.formats.crypto4a.pki import EKU_ASSERTION_AUTHORITY
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import (
    CERT_PARSE_ERRORS,
    fully_parsed,
    recurring_issued_by,
    subject_and_issuer,
    validate_chain,
)
from hsmsim.pki.hss import hss_verify
from hsmsim.pki.signing import algorithm_oid, verify
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

MAX_CLAIMS = 256
MAX_SIGNATURES = 8
MAX_ATTACHED = 16

_DEVICE, _KEY = "device", "key"


@dataclass(frozen=True)
class Shape:
    """What a known claim looks like: about the device or a key, and its value's alternative (None: no value;
    ``any``: not checked)."""

    about: str
    value: int | str | None
    repeatable: bool = False


SHAPES = {
    "qasm-uuid": Shape(_DEVICE, OCTETS), "qasm-serial": Shape(_DEVICE, TEXT), "attestation-time": Shape(_DEVICE, TIME),
    "qasm-firmware-version": Shape(_DEVICE, TEXT), "qasm-certified-production": Shape(_DEVICE, None),
    "qasm-is-in-fips-mode": Shape(_DEVICE, None), "attestation-keys-are-unique": Shape(_DEVICE, None),
    "key-spki": Shape(_KEY, OCTETS), "key-fingerprint": Shape(_KEY, OCTETS), "object-class": Shape(_KEY, NUMBER),
    "object-type": Shape(_KEY, NUMBER), "object-keystore": Shape(_KEY, NUMBER), "key-is-confined": Shape(_KEY, None),
    "key-is-hardware-generated": Shape(_KEY, None), "key-never-extracted": Shape(_KEY, None),
    "key-is-managed": Shape(_KEY, None), "key-is-not-managed": Shape(_KEY, None),
    "key-has-capability": Shape(_KEY, NUMBER, True), "key-does-not-have-capability": Shape(_KEY, NUMBER, True),
    "key-is-related-to-authority": Shape(_KEY, "any", True), "key-is-archived-by": Shape(_KEY, "any", True),
}
"""Each claim's shape as the real message (and, for claims it lacks, the page's description) gives it."""


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Inputs:
    """What the verifier reads: the message DER and the CSR, if one came with it."""

    der: bytes
    csr: bytes | None


def read_inputs(evidence: Evidence) -> Inputs:
    """The message (the primary file) and the ``.csr`` beside it; raises Rejected."""
    data = evidence.files.get(evidence.primary)
    if data is None:
        raise Rejected(Reason.MISSING_INPUT, f"the attestation message {evidence.primary} is missing")
    if len(data) > MAX_MESSAGE_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{evidence.primary} holds more than {MAX_MESSAGE_BYTES} bytes")
    try:
        der = unarmour(data)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"{evidence.primary}: {exc}") from None
    return Inputs(der, one_file(evidence.files, [name for name in evidence.files if name.endswith(".csr")],
                                "the CSR"))


def decode(der: bytes) -> Message:
    """The message, within the counts this verifier reads; raises Rejected."""
    try:
        message = decode_message(der)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(Reason.MALFORMED, f"attestation message does not parse: {exc}") from None
    if message.version != 1 or message.tbs_version != 1:
        raise Rejected(Reason.UNSUPPORTED, f"message version {message.version}, tbs version {message.tbs_version} "
                                           f"(this verifier knows version 1)")
    for what, count, limit in (("claims", len(message.claims), MAX_CLAIMS),
                               ("signatures", len(message.signatures), MAX_SIGNATURES),
                               ("attached certificates", len(message.attached), MAX_ATTACHED)):
        if count > limit:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{count} {what} (at most {limit})")
    return message


def check_claims(message: Message, profile: Profile) -> None:
    """Every known claim has its shape and appears once (capabilities once per value); unknown claims are
    ignored, except by the strict profile."""
    seen: Counter[tuple[str, bytes | None, bytes | None]] = Counter()
    for index, item in enumerate(message.claims):
        name = item.name
        if name is None:
            if profile is Profile.STRICT:
                raise Rejected(Reason.UNEXPECTED_CONTENT, f"claim {index}: unknown claim {item.oid}")
            continue
        shape = SHAPES[name]
        if (item.subject is None) != (shape.about == _DEVICE):
            says = "names a key" if item.subject is not None else "names no key"
            raise Rejected(Reason.MALFORMED, f"claim {index} ({name}) {says}")
        if shape.value != "any":
            got = item.value.tag if item.value is not None else None
            if got != shape.value:
                raise Rejected(Reason.MALFORMED, f"claim {index} ({name}): value alternative {got}, expected "
                                                 f"{shape.value}")
        try:
            if item.value is not None and item.value.tag == TEXT:
                item.value.read_text()
            elif item.value is not None and item.value.tag == TIME:
                item.value.read_time()
            elif item.value is not None and item.value.tag == NUMBER:
                item.value.read_number()
        except ValueError as exc:
            raise Rejected(Reason.MALFORMED, f"claim {index} ({name}): {exc}") from None
        key = (item.oid, item.subject, item.value.content if shape.repeatable and item.value else None)
        seen[key] += 1
        if seen[key] > 1:
            raise Rejected(Reason.ATTR_CONFLICT, f"claim {name} repeated"
                                                 + (f" for key {_uuid_text(item.subject)}" if item.subject else ""))


def _find(message: Message, name: str, subject: bytes | None = None) -> list[Claim]:
    oid = claim_oid(name)
    return [c for c in message.claims if c.oid == oid and c.subject == subject]


def _load_cert(der: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, f"{what} does not parse") from None


def _parsed(cert: x509.Certificate, what: str) -> x509.Certificate:
    try:
        return fully_parsed(cert)
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, f"{what} does not parse") from None


def _touch_all_but_key(cert: x509.Certificate, what: str) -> None:
    """Parse every field of ``cert`` a verifier reads except its key (an HSS key, which cryptography cannot load):
    a malformed one is MALFORMED here, not an exception later."""
    try:
        _ = (len(cert.subject), len(cert.issuer), list(cert.extensions), cert.not_valid_before_utc,
             cert.not_valid_after_utc, cert.signature_hash_algorithm, cert.serial_number)
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, f"{what} does not parse") from None


def _spki_of(cert: x509.Certificate) -> tuple[str, bytes]:
    """(algorithm OID, subjectPublicKey bits) of ``cert``, read from its TBSCertificate DER."""
    fields = der_children(der_content(cert.tbs_certificate_bytes))
    spki = der_children(der_content(fields[6] if fields[0][:1] == b"\xa0" else fields[5]))
    bits = der_content(spki[1])
    return algorithm_oid(spki[0]), bits[1:]


def _authority_profile(cert: x509.Certificate, index: int) -> None:
    """An assertion authority certificate: keyUsage digitalSignature, EKU 1.3.6.1.4.1.39901.4.1.1, no unknown
    critical extension (the chain walk checks the last for the ECDSA signer, whose certificate it parses)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise Rejected(Reason.CERT_KEY_USAGE, f"signature {index}: authority certificate has no keyUsage") from None
    if not usage.digital_signature:
        raise Rejected(Reason.CERT_KEY_USAGE, f"signature {index}: authority keyUsage lacks digitalSignature")
    try:
        ekus = {e.dotted_string for e in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
    except x509.ExtensionNotFound:
        ekus = set()
    if EKU_ASSERTION_AUTHORITY not in ekus:
        raise Rejected(Reason.CERT_EKU, f"signature {index}: authority certificate lacks EKU {EKU_ASSERTION_AUTHORITY}")
    critical = [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid.dotted_string not in (
        "2.5.29.15", "2.5.29.19", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35")]
    if critical:
        raise Rejected(Reason.CERT_UNKNOWN_CRITICAL, f"signature {index}: authority certificate has unknown "
                                                     f"critical extension {critical[0]}")


def _hss_public_key(bits: bytes, index: int) -> bytes:
    """The HSS public key in a certificate's subjectPublicKey: an OCTET STRING (RFC 8708) or bare (RFC 9708)."""
    if bits[:1] == b"\x04":
        try:
            _tag, start, end = read_tlv(bits)
        except ValueError:
            end = -1
        if end == len(bits):
            return bits[start:end]
    if len(bits) < 4:
        raise Rejected(Reason.MALFORMED, f"signature {index}: HSS public key too short")
    return bits


def _subject(cert: x509.Certificate) -> x509.Name:
    """``cert.subject``, parsed once per object where the chain walk can read the whole certificate."""
    try:
        return subject_and_issuer(cert)[0]
    except CERT_PARSE_ERRORS:
        return cert.subject


def _check_hss_chain(cert: x509.Certificate, pool: Sequence[x509.Certificate], anchors: list[x509.Certificate],
                     at: datetime, index: int) -> None:
    """The HSS authority certificate (whose key cryptography cannot load) was issued by a CA that validates to an
    anchor, and is valid at ``at``. Of several certificates named as its issuer that signed it, any one that
    validates will do; the chain's order never decides (when none does, the reason is the first's by DER)."""
    issuer = cert.issuer
    candidates = list(dict.fromkeys(c for c in [*pool, *anchors] if _subject(c) == issuer))  # once each
    if not candidates:
        reason = Reason.CHAIN_UNTRUSTED if not anchors else Reason.CHAIN_INCOMPLETE
        raise Rejected(reason, f"signature {index}: issuer {cert.issuer.rfc4514_string()!r} of the HSS "
                               f"authority is not in the chain")
    # the QASM's authority certificates recur in every message it signs
    signers = [candidate for candidate in candidates if recurring_issued_by(cert, candidate)]
    if not signers:
        raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"signature {index}: HSS authority certificate is not signed "
                                                      f"by its named issuer")

    def issuer_validates(issuer: x509.Certificate) -> None:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value \
            if any(e.oid.dotted_string == "2.5.29.19" for e in issuer.extensions) else None
        if constraints is None or not constraints.ca:
            raise Rejected(Reason.CERT_NOT_CA, f"signature {index}: the HSS authority's issuer is not a CA")
        if issuer not in anchors:
            validate_chain(issuer, [c for c in pool if c != issuer], anchors, at)

    # any order: of several issuers that signed (a CA and its renewal), one whose path validates is enough
    one_that_passes(signers, issuer_validates, lambda issuer: issuer.public_bytes(Encoding.DER))
    if at < cert.not_valid_before_utc:
        raise Rejected(Reason.CERT_NOT_YET_VALID, f"signature {index}: HSS authority certificate not valid before "
                                                  f"{cert.not_valid_before_utc.isoformat()}")
    if at > cert.not_valid_after_utc:
        raise Rejected(Reason.CERT_EXPIRED, f"signature {index}: HSS authority certificate expired")


@dataclass(frozen=True)
class Signer:
    """A signer whose certificate chains: its algorithm family (``ecdsa``, ``hss``, ``rsa``) and certificate; for
    ``hss``, the signature still to verify (:func:`check_hss_signatures`)."""

    kind: str
    certificate: x509.Certificate
    hss: HssSignature | None = None


@dataclass(frozen=True)
class HssSignature:
    """An HSS signature over the tbs, checked last: the ECDSA signature verified first covers the same bytes, and
    this one costs three quarters of a verification (thousands of SHA-256 calls in Python)."""

    index: int
    public_key: bytes
    signature: bytes


def check_signature(block: SignatureBlock, message: Message, pool: list[x509.Certificate],
                    anchors: list[x509.Certificate], at: datetime, index: int) -> Signer:
    """One signature's certificate chains to an anchor, and the signature verifies over the tbs with its key
    (an HSS signature's verification is left to :func:`check_hss_signatures`)."""
    cert = _load_cert(block.certificate, f"signature {index}: the signer certificate")
    try:
        oid = algorithm_oid(block.algorithm)
        key_oid, bits = _spki_of(cert)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"signature {index}: {exc}") from None
    if oid == HSS_LMS_HASHSIG:
        _touch_all_but_key(cert, f"signature {index}: the signer certificate")
        if key_oid != HSS_LMS_HASHSIG:
            raise Rejected(Reason.UNSUPPORTED, f"signature {index}: HSS signature by a {key_oid} key")
        if der_children(der_content(block.algorithm))[1:]:
            raise Rejected(Reason.MALFORMED, f"signature {index}: id-alg-hss-lms-hashsig with parameters")
        hss_key = _hss_public_key(bits, index)
        _authority_profile(cert, index)
        _check_hss_chain(cert, pool, anchors, at, index)
        return Signer("hss", cert, HssSignature(index, hss_key, block.signature))
    cert = _parsed(cert, f"signature {index}: the signer certificate")
    public_key = cert.public_key()
    ok = verify(public_key, block.algorithm, block.signature, message.tbs)
    if ok is None:
        raise Rejected(Reason.UNSUPPORTED, f"signature {index}: algorithm {oid} not supported for the signer's key")
    if not ok:
        raise Rejected(Reason.SIGNATURE_INVALID, f"signature {index} does not verify with the signer's key")
    _authority_profile(cert, index)
    validate_chain(cert, [c for c in pool if c != cert], anchors, at, recurring_leaf=True)  # the QASM's authority
    kind = "ecdsa" if isinstance(public_key, ec.EllipticCurvePublicKey) else "rsa"
    return Signer(kind, cert)


def check_signatures(message: Message, trust: TrustAnchors, at: datetime) -> list[Signer]:
    """Every signer certificate chains and every signature but the HSS ones verifies; an ECDSA and an HSS signer
    are there (the QASM's two authorities), so the tbs is authentic once this returns."""
    pool = [_parsed(_load_cert(der, f"attached certificate {i}"), f"attached certificate {i}")
            for i, der in enumerate(message.attached)]
    anchors = trust.get("root") or trust.all()
    signers = [check_signature(block, message, pool, anchors, at, index)
               for index, block in enumerate(message.signatures)]
    kinds = {s.kind for s in signers}
    for kind, what in (("ecdsa", "an ECDSA"), ("hss", "an HSS")):
        if kind not in kinds:
            raise Rejected(Reason.MISSING_INPUT, f"the message has no signature by {what} assertion authority "
                                                 f"(a QASM signs with both)")
    return signers


def check_hss_signatures(message: Message, signers: Sequence[Signer]) -> None:
    """Every HSS signature verifies over the tbs with its certificate's key."""
    for signer in signers:
        if signer.hss is not None and not hss_verify(signer.hss.public_key, message.tbs, signer.hss.signature):
            raise Rejected(Reason.SIGNATURE_INVALID,
                           f"signature {signer.hss.index} (HSS) does not verify with the signer's key")


def check_time(message: Message, signers: Sequence[Signer], profile: Profile) -> datetime | None:
    """The attestation time lies within every signer certificate's validity (strict: it must be there)."""
    times = _find(message, "attestation-time")
    if not times:
        if profile is Profile.STRICT:
            raise Rejected(Reason.ATTR_MISSING, "no attestation-time claim")
        return None
    assert times[0].value is not None
    moment = times[0].value.read_time()
    for signer in signers:
        cert = signer.certificate
        if moment < cert.not_valid_before_utc:
            raise Rejected(Reason.CERT_NOT_YET_VALID, f"attestation time {moment.isoformat()} is before "
                                                      f"{cert.subject.rfc4514_string()!r} was valid")
        if moment > cert.not_valid_after_utc:
            raise Rejected(Reason.CERT_EXPIRED, f"attestation time {moment.isoformat()} is after "
                                                f"{cert.subject.rfc4514_string()!r} expired")
    return moment


def _key_spki(message: Message, subject: bytes) -> bytes | None:
    found = _find(message, "key-spki", subject)
    return found[0].value.read_octets() if found and found[0].value is not None else None


def attested_key(message: Message, csr_spki: bytes | None) -> bytes:
    """The UUID of the key the verdict is about: the one whose key-spki or key-fingerprint is the CSR's key, else
    the only key the message describes."""
    subjects = list(dict.fromkeys(c.subject for c in message.claims if c.subject is not None and c.name))
    if not subjects:
        raise Rejected(Reason.ATTR_MISSING, "the message makes no claim about a key")
    if csr_spki is None:
        if len(subjects) > 1:
            raise Rejected(Reason.MISSING_INPUT, f"the message describes {len(subjects)} keys and no CSR says which")
        return subjects[0]
    fingerprint = hashlib.sha256(csr_spki).digest()
    for subject in subjects:
        prints = [c.value.read_octets() for c in _find(message, "key-fingerprint", subject) if c.value is not None]
        if _key_spki(message, subject) == csr_spki or fingerprint in prints:
            return subject
    raise Rejected(Reason.KEY_MISMATCH, "no key-spki or key-fingerprint claim is the CSR's key")


def check_key(message: Message, subject: bytes) -> bytes:
    """The key is a private key, confined, hardware generated, never extracted, and its claims agree. Returns
    its SPKI."""
    uuid = _uuid_text(subject)
    spki = _key_spki(message, subject)
    if spki is None:
        raise Rejected(Reason.ATTR_MISSING, f"key {uuid}: no key-spki claim")
    for item in _find(message, "key-fingerprint", subject):
        assert item.value is not None
        if item.value.read_octets() != hashlib.sha256(spki).digest():
            raise Rejected(Reason.ATTR_CONFLICT, f"key {uuid}: key-fingerprint is not the SHA-256 of its key-spki")
    classes = _find(message, "object-class", subject)
    if not classes:
        raise Rejected(Reason.ATTR_MISSING, f"key {uuid}: no object-class claim")
    assert classes[0].value is not None
    if classes[0].value.read_number() != OBJECT_CLASS_PRIVATE_KEY:
        raise Rejected(Reason.KEY_POLICY, f"key {uuid}: object-class {classes[0].value.read_number()} is not "
                                          f"private-key ({OBJECT_CLASS_PRIVATE_KEY})")
    for name in ("key-is-confined", "key-is-hardware-generated", "key-never-extracted"):
        if not _find(message, name, subject):
            raise Rejected(Reason.ATTR_MISSING, f"key {uuid}: no {name} claim")
    if _find(message, "key-is-managed", subject) and _find(message, "key-is-not-managed", subject):
        raise Rejected(Reason.ATTR_CONFLICT, f"key {uuid}: both key-is-managed and key-is-not-managed")
    for has in _find(message, "key-has-capability", subject):
        assert has.value is not None
        if any(c.value == has.value for c in _find(message, "key-does-not-have-capability", subject)):
            raise Rejected(Reason.ATTR_CONFLICT, f"key {uuid}: capability {has.value.read_number()} both had and not")
    return spki


def _text(message: Message, name: str) -> str | None:
    found = _find(message, name)
    return found[0].value.read_text() if found and found[0].value is not None else None


def check(inputs: Inputs, trust: TrustAnchors, at: datetime, profile: Profile) -> Claims:
    """Every check of the profile; raises Rejected."""
    message = decode(inputs.der)
    check_claims(message, profile)
    signers = check_signatures(message, trust, at)
    check_time(message, signers, profile)
    if profile is Profile.STRICT:
        for name in ("qasm-certified-production", "attestation-keys-are-unique"):
            if not _find(message, name):
                raise Rejected(Reason.ATTR_MISSING, f"no {name} claim")
    subject = attested_key(message, check_csr_signature(inputs.csr) if inputs.csr is not None else None)
    spki = check_key(message, subject)
    try:
        public_key = load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm):
        raise Rejected(Reason.MALFORMED, f"key {_uuid_text(subject)}: key-spki is not a public key") from None
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise Rejected(Reason.UNSUPPORTED, f"key {_uuid_text(subject)}: a {type(public_key).__name__}")
    key_type, size = key_facts(public_key)
    if profile is Profile.STRICT:
        require_code_signing_key(key_type, size)
    check_hss_signatures(message, signers)
    return Claims(
        spki_der=spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
        never_extractable=True, sensitive=None, always_sensitive=None, vendor="Crypto4A", model="QASM",
        serial=_text(message, "qasm-serial"), firmware=_text(message, "qasm-firmware-version"),
        fips_level="FIPS mode" if _find(message, "qasm-is-in-fips-mode") else None, label=_uuid_text(subject))


def verify_message(evidence: Evidence, trust: TrustAnchors, at: datetime | None, profile: Profile) -> Verdict:
    """The reference verifier of ``crypto4a``; never raises on bad evidence."""
    try:
        claims = check(read_inputs(evidence), trust, at or datetime.now(UTC), profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
    return Verdict(Reason.OK, claims=claims)

