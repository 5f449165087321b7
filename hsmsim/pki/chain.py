"""Certificate path validation for attestation chains, with one precise reason per failure.

Vendor attestation chains break Web-PKI rules (no SKI/AKI, v1 CA certificates, odd
RDN orders), so this is a small RFC 5280-style path walk rather than a Web PKI
verifier: issuers are found by name and proven by signature, the path must end at a
trust anchor (by DER equality or by the anchor signing the last element), and every
element is checked for validity at the given time, CA-ness and path length.
Failures raise :class:`hsmsim.verdict.Rejected`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtensionOID

from hsmsim.verdict import Reason, Rejected

MAX_CHAIN_DEPTH = 8
_KNOWN_EXTENSIONS = {
    ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
}


@dataclass(frozen=True)
class ChainPolicy:
    """Leniencies a vendor's real chains need. Defaults are strict."""

    allow_v1_ca: bool = False
    """Accept X.509 v1 issuing certificates (no basicConstraints), as Marvell's card certs are."""
    check_anchor_validity: bool = True
    """Check the trust anchor's own validity period at the validation time."""
    leaf_issuer_by_position: bool = False
    """The certificate that signs the leaf is the device's attestation key, an issuer by its position: it
    need not say CA:TRUE or keyCertSign (Android Keymaster 3 factory batch certificates say CA:FALSE and
    digitalSignature only; Google's Key Attestation path validator checks neither)."""


CERT_PARSE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension,
                     x509.UnsupportedGeneralNameType)
"""What cryptography raises on a malformed certificate, eagerly or on first field access: its lazy
accessors (extensions, names, public_key, signature algorithm, validity) raise these, and
``DuplicateExtension`` / ``UnsupportedGeneralNameType`` are not ``ValueError`` subclasses."""


def fully_parsed(cert: x509.Certificate) -> x509.Certificate:
    """Touch every lazily parsed field a verifier reads, so a malformed field fails here and not mid-walk.

    cryptography parses names and extensions lazily; raises one of :data:`CERT_PARSE_ERRORS`.
    Once it returns, the same accessors succeed wherever the verifier calls them.
    """
    _subject_issuer(cert)
    return cert


@lru_cache(maxsize=256)
def _subject_issuer(cert: x509.Certificate) -> tuple[x509.Name, x509.Name]:
    """The subject and issuer of a certificate whose every lazy field parses (raises as :func:`fully_parsed`).

    Keyed by the DER (a Certificate hashes and compares by its encoding): parsing is a pure function of
    the bytes, so the same certificate is not parsed again (the trust anchors of every call, a chain a
    format parsed just before it validates it). A certificate that does not parse is not remembered.
    """
    names = (cert.subject, cert.issuer)
    _ = (len(names[0]), len(names[1]), cert.not_valid_before_utc, cert.not_valid_after_utc, cert.version,
         cert.public_key(), cert.signature_hash_algorithm, cert.signature_algorithm_oid, cert.serial_number)
    for ext in cert.extensions:
        _ = ext.value
    return names


def subject_and_issuer(cert: x509.Certificate) -> tuple[x509.Name, x509.Name]:
    """``(cert.subject, cert.issuer)`` of a certificate :func:`fully_parsed` accepted, parsed once per DER:
    cryptography builds new Name objects on every access, which costs more than comparing them."""
    return _subject_issuer(cert)


def parsed_certificate(cert: x509.Certificate, what: str) -> x509.Certificate:
    """``cert`` after :func:`fully_parsed`; a field that does not parse raises :class:`Rejected` MALFORMED
    naming ``what`` and the kind of error (a duplicated extension, an unsupported name type, ...)."""
    try:
        return fully_parsed(cert)
    except x509.DuplicateExtension as exc:
        raise Rejected(Reason.MALFORMED, f"{what} carries extension {exc.oid.dotted_string} twice") from None
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{what} does not parse: {type(exc).__name__}: {str(exc)[:120]}") from None


def issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` names and signs ``child`` (``verify_directly_issued_by``); never raises. Checked
    afresh on every call (the walk remembers only the signatures of recurring intermediates)."""
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


@lru_cache(maxsize=256)
def _anchor_issued(child: x509.Certificate, anchor: x509.Certificate) -> bool:
    """Whether trust anchor ``anchor`` signed ``child``, by the DER of both (a pure function of the bytes).

    Every bundle of a vendor carries the same certificates under its root, so their signatures are
    checked once per process; a certificate with any other byte is checked afresh.
    """
    return issued_by(child, anchor)


@lru_cache(maxsize=256)
def _intermediate_issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``child`` where ``child`` is itself an issuer on the path (never the leaf), by
    the DER of both: a device's or batch's intermediates recur in every bundle it emits, as the anchor's do,
    while the leaf's signature, new in every bundle, is always checked afresh."""
    return issued_by(child, issuer)


def _check_time(cert: x509.Certificate, at: datetime, what: object) -> None:
    if at < cert.not_valid_before_utc:
        raise Rejected(Reason.CERT_NOT_YET_VALID,
                       f"{what} is valid only from {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}")
    if at > cert.not_valid_after_utc:
        raise Rejected(Reason.CERT_EXPIRED, f"{what} expired {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")


def _check_critical(cert: x509.Certificate, what: object) -> None:
    for ext in cert.extensions:
        if ext.critical and ext.oid not in _KNOWN_EXTENSIONS:
            raise Rejected(Reason.CERT_UNKNOWN_CRITICAL,
                           f"{what} has unknown critical extension {ext.oid.dotted_string}")


def _check_issuer(cert: x509.Certificate, below: int, policy: ChainPolicy, what: object) -> None:
    """``below`` is the number of non-self-issued intermediates between ``cert`` and the leaf."""
    if cert.version is x509.Version.v1:
        if policy.allow_v1_ca:
            return
        raise Rejected(Reason.CERT_NOT_CA, f"{what} is an X.509 v1 certificate and cannot issue")
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} has no basicConstraints") from None
    if not bc.ca:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} has basicConstraints CA:FALSE")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not ku.key_cert_sign:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} keyUsage lacks keyCertSign")
    if bc.path_length is not None and below > bc.path_length:
        raise Rejected(Reason.CERT_PATH_LENGTH, f"{what} allows {bc.path_length} intermediates below it, found {below}")


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


@dataclass(frozen=True)
class _Position:
    """How a failure names a path element; the subject is rendered only when a message is written."""

    depth: int
    cert: x509.Certificate

    def __str__(self) -> str:
        return "leaf certificate" if self.depth == 0 else f"chain certificate {_describe(self.cert)!r}"


def validate_chain(
    leaf: x509.Certificate,
    untrusted: list[x509.Certificate],
    anchors: list[x509.Certificate],
    at: datetime,
    policy: ChainPolicy = ChainPolicy(),
    *,
    as_received: Mapping[x509.Certificate, x509.Certificate] | None = None,
) -> list[x509.Certificate]:
    """Validate ``leaf`` up to one of ``anchors`` at time ``at``; return the path leaf-first.

    ``as_received`` maps a certificate a lenient reader re-encoded as DER to the certificate as
    received: the signature on it is verified over the received TBSCertificate, never over the
    re-encoding. The anchor is the last element. Raises :class:`Rejected` with CHAIN_INCOMPLETE (no
    certificate carries the issuer's name: a leaf without its intermediate, or a gap while
    ``untrusted`` still holds certificates the path did not reach), CERT_SIGNATURE_INVALID (a
    named issuer did not sign), CHAIN_UNTRUSTED (the path ends at a non-anchor: a self-signed
    certificate, or an intermediate at the top of a used-up bundle whose issuer no anchor is,
    which is what a wrong root gives whether or not the bundle carries its own root copy),
    CERT_EXPIRED / CERT_NOT_YET_VALID, CERT_NOT_CA, CERT_PATH_LENGTH or CERT_UNKNOWN_CRITICAL.
    """
    if not anchors:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no trust anchor given")
    for index, cert in enumerate((leaf, *untrusted)):
        parsed_certificate(cert, "the leaf certificate" if index == 0 else f"chain certificate [{index}]")
    for cert in anchors:
        parsed_certificate(cert, "a trust anchor")
    received = as_received or {}
    names = {cert: _subject_issuer(cert) for cert in (leaf, *untrusted, *anchors)}  # all parsed above: no raise

    def subject_issuer(cert: x509.Certificate) -> tuple[x509.Name, x509.Name]:
        return names[cert]

    path = [leaf]
    current = leaf
    while True:
        if current in anchors:
            break
        if len(path) > MAX_CHAIN_DEPTH:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"chain longer than {MAX_CHAIN_DEPTH} certificates")
        signed = received.get(current, current)
        subject, issuer_name = subject_issuer(current)
        anchor = next((a for a in anchors if subject_issuer(a)[0] == issuer_name and _anchor_issued(signed, a)),
                      None)
        if anchor is not None:
            path.append(anchor)
            break
        if issuer_name == subject and issued_by(signed, current):
            raise Rejected(Reason.CHAIN_UNTRUSTED,
                           f"chain ends at self-signed {_describe(current)!r}, which is not a trust anchor")
        named = [c for c in untrusted + anchors if subject_issuer(c)[0] == issuer_name and c not in path]
        if not named:
            if len(path) > 1 and all(c in path for c in untrusted):
                # The bundle's intermediates are used up and its top names an issuer no anchor is:
                # the wrong root is trusted, exactly as when the bundle ends at its own root copy.
                raise Rejected(Reason.CHAIN_UNTRUSTED,
                               f"chain ends at {_describe(current)!r}, whose issuer "
                               f"{issuer_name.rfc4514_string()!r} is not a trust anchor")
            raise Rejected(Reason.CHAIN_INCOMPLETE,
                           f"issuer {issuer_name.rfc4514_string()!r} of {_describe(current)!r} is not in the chain")
        issued = issued_by if current is leaf else _intermediate_issued
        issuer = next((c for c in named if issued(signed, c)), None)
        if issuer is None:
            raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"{_describe(current)!r} is not signed by its named issuer")
        path.append(issuer)
        current = issuer
    for depth, cert in enumerate(path):
        what = _Position(depth, cert)
        if depth < len(path) - 1 or policy.check_anchor_validity:
            _check_time(cert, at, what)
        _check_critical(cert, what)
        if depth > 1 or (depth == 1 and not policy.leaf_issuer_by_position):
            _check_issuer(cert, depth - 1, policy, what)
    return path


def require_key_usage(cert: x509.Certificate, *, digital_signature: bool = True) -> None:
    """Reject with CERT_KEY_USAGE if a present keyUsage forbids signing (MALFORMED if the extensions do not parse)."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"certificate extensions do not parse: {str(exc)[:120]}") from None
    if digital_signature and not ku.digital_signature:
        raise Rejected(Reason.CERT_KEY_USAGE, "attestation certificate keyUsage lacks digitalSignature")

