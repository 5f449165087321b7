"""Certificate path validation for attestation chains, with one precise reason per failure.

Vendor attestation chains break Web-PKI rules (no SKI/AKI, v1 CA certificates, odd
RDN orders), so this is a small RFC 5280-style path walk rather than a Web PKI
verifier: issuers are found by name and proven by signature, the path must end at a
trust anchor (by DER equality or by the anchor signing the last element), and every
element is checked for validity at the given time, CA-ness and path length.
Failures raise :class:`hsmsim.verdict.Rejected`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from hsmsim.encoding import canonical_pem_ders, der_children, der_content
from hsmsim.verdict import Reason, Rejected

MAX_CHAIN_DEPTH = 8
"""The most certificates a path holds below its trust anchor (LIMIT_EXCEEDED past that)."""
MAX_ISSUER_TRIES = 32
"""The most issuer signatures one :func:`validate_chain` verifies while it builds a path: where a bundle carries
several certificates of one name and key, the search tries each, and a hostile bundle of many could otherwise
make it try exponentially many paths (LIMIT_EXCEEDED past that, when no path was found)."""
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
    anchor_path_length: bool = True
    """Hold the trust anchor to its own pathLenConstraint, as openssl does (error 25). RFC 5280 6.1 does not: the
    anchor is no element of the path and max_path_length starts at the path's length. Yubico's PIV root of 2016
    says pathlen 0 above the f9, which issues the slot certificates."""


CERT_PARSE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension,
                     x509.UnsupportedGeneralNameType)
"""What cryptography raises on a malformed certificate, eagerly or on first field access: its lazy
accessors (extensions, names, public_key, signature algorithm, validity) raise these, and
``DuplicateExtension`` / ``UnsupportedGeneralNameType`` are not ``ValueError`` subclasses."""


NameKey = tuple[frozenset[tuple[x509.ObjectIdentifier, str | bytes]], ...]
"""A Name as plain hashable values, compared in C: see :func:`name_key`."""


def name_key(name: x509.Name) -> NameKey:
    """A key equal for two Names exactly when ``Name.__eq__`` says they are equal, which is how the walk
    finds an issuer's candidates.

    ``Name.__eq__`` compares the RDN sequence in order, each RDN as the set of its (type, value) pairs:
    the string type an attribute is encoded with (PrintableString, UTF8String, ...) and the order of a
    multi-valued RDN's attributes do not count; values count exactly (case and spaces included).
    RFC 5280 section 7.1 equates such names too (values compared after RFC 4518 string preparation,
    whatever their string type; an RDN as a set), and folds case and spaces, which this does not. A
    candidate is then proven by ``verify_directly_issued_by``, which also requires the child's issuer to
    be encoded exactly as the candidate's subject, as section 4.1.2.6 requires of CAs: a chain whose names
    match only as 7.1 names is refused (CERT_SIGNATURE_INVALID, the named issuer not proven), never
    accepted. Looking candidates up by DER bytes instead would turn that reason into CHAIN_INCOMPLETE.
    """
    return tuple([frozenset(map(_type_and_value, rdn)) for rdn in name.rdns])


_type_and_value = attrgetter("oid", "value")


@dataclass(frozen=True, slots=True)
class _CertFields:
    """What the walk reads of a certificate, read once: its names and the fields its checks decide on."""

    subject: x509.Name
    issuer: x509.Name
    subject_key: NameKey
    issuer_key: NameKey
    not_before: datetime
    not_after: datetime
    is_v1: bool
    basic_constraints: x509.BasicConstraints | None
    key_usage: x509.KeyUsage | None
    unknown_critical: x509.ObjectIdentifier | None
    """The first critical extension the walk does not know."""
    policies: frozenset[x509.ObjectIdentifier]
    """The policy identifiers of its certificatePolicies extension (empty without one)."""
    key_id: bytes | None
    """Its subjectKeyIdentifier, if any."""
    issuer_key_id: bytes | None
    """The keyIdentifier of its authorityKeyIdentifier, if any."""


def fully_parsed(cert: x509.Certificate) -> x509.Certificate:
    """Touch every lazily parsed field a verifier reads, so a malformed field fails here and not mid-walk.

    cryptography parses names and extensions lazily; raises one of :data:`CERT_PARSE_ERRORS`.
    Once it returns, the same accessors succeed wherever the verifier calls them.
    """
    _fields(cert)
    return cert


@lru_cache(maxsize=256)
def certificate_from_der(der: bytes) -> x509.Certificate:
    """``x509.load_der_x509_certificate(der)``, one object per DER (bounded): loading is a pure function of the
    bytes, and the object keeps what its lazily parsed fields parse to, so the certificates that recur in every
    bundle of a device (its attestation key's, its intermediates) are loaded and read once. Raises what loading
    raises (nothing is remembered then); a field that does not parse raises on each access, as on a new object."""
    return x509.load_der_x509_certificate(der)


_MEMO_LIMIT = 256
_K = TypeVar("_K")
_V = TypeVar("_V")
_recent: dict[int, tuple[x509.Certificate, _CertFields, x509.Certificate | None]] = {}
"""The certificate objects most recently checked, by identity: what the walk reads of them and the object
:data:`_issuers` holds for their bytes, if any. A format checks a bundle's certificates and then validates
them, and a verifier passes the same anchor objects to every call. An entry holds its objects, so their ids
are not reused while it lives."""
_issuers: dict[bytes, tuple[x509.Certificate, _CertFields]] = {}
"""The certificates a validated path used as issuers, intermediates and anchors, which recur in every bundle
of a device or vendor, by their signature value and then compared whole (equal DER has an equal signature), so
a new object with their bytes is not parsed again (parsing is a pure function of the bytes). A leaf is
remembered by its bytes only when the caller says it recurs (``recurring_leaf``: a device's certificate in every
bundle of the device); a per-key leaf is parsed afresh in every bundle."""
_signatures: dict[tuple[int, int], tuple[x509.Certificate, x509.Certificate, bool]] = {}
"""Whether one remembered issuer signed another, by the identity of the objects :data:`_issuers` holds:
the signatures between a vendor's or device's intermediates and its anchor are checked once per process.
A leaf's signature, new in every bundle, is checked afresh, unless the leaf has the bytes of a remembered
issuer (a CA certificate validated on its own: crypto4a validates the issuer of its HSS authority so) or of a
remembered recurring leaf."""
_received_copies: dict[bytes, x509.Certificate] = {}
"""The certificates as received (``as_received``) of the remembered certificates of a validated path that a lenient
reader re-encoded, by their signature value and then compared whole: the signatures on them are remembered in
:data:`_signatures` as those on the remembered certificates are (Fortanix's authority, which recurs in every
response of a cluster, carries non-DER extension values)."""


def _fields(cert: x509.Certificate) -> _CertFields:
    """What the walk reads of a certificate whose every lazy field parses (raises as :func:`fully_parsed`)."""
    entry = _recent.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    known = _known_issuer(cert)
    if known is not None:
        _remember(_recent, id(cert), (cert, known[1], known[0]))
        return known[1]
    fields = _parsed_fields(cert)
    _remember(_recent, id(cert), (cert, fields, None))
    return fields


def _remembered(cert: x509.Certificate) -> x509.Certificate | None:
    """The object :data:`_issuers` holds for ``cert``'s bytes, if any."""
    entry = _recent.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[2]
    known = _known_issuer(cert)
    if known is None:
        return None
    _remember(_recent, id(cert), (cert, known[1], known[0]))  # the next look at this object is by identity
    return known[0]


def _known_issuer(cert: x509.Certificate) -> tuple[x509.Certificate, _CertFields] | None:
    """The entry of :data:`_issuers` for ``cert``'s bytes, if any."""
    known = _issuers.get(cert.signature)
    return known if known is not None and (known[0] is cert or known[0] == cert) else None


def name_keys(cert: x509.Certificate) -> tuple[NameKey, NameKey]:
    """``(name_key(cert.subject), name_key(cert.issuer))``, read with everything else the chain walk reads of
    ``cert`` (once per object, and once per DER for a remembered issuer: a device's or vendor's intermediates
    and anchors), so a walk over the same objects parses nothing again. Raises what ``cert.subject`` and
    ``cert.issuer`` raise, and only that: a certificate whose other fields do not parse still has its names."""
    try:
        fields = _fields(cert)
    except CERT_PARSE_ERRORS:
        return name_key(cert.subject), name_key(cert.issuer)
    return fields.subject_key, fields.issuer_key


def _remember(memo: dict[_K, _V], key: _K, value: _V) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _remember_issuer(cert: x509.Certificate) -> None:
    entry = _recent.get(id(cert))
    if entry is not None and entry[0] is cert and entry[2] is None:
        _remember(_issuers, cert.signature, (cert, entry[1]))
        _recent[id(cert)] = (cert, entry[1], cert)


def remember_recurring(cert: x509.Certificate) -> None:
    """Remember ``cert`` by its bytes as :func:`validate_chain` remembers a validated path's issuers, so a new object
    with its bytes is not parsed again: for a vendor's certificate that its bundles carry beside the path (Android's
    copy of the root, which the caller has matched to the anchor its path validated to by name and key). A
    certificate :func:`fully_parsed` did not accept, or no longer remembers, is left alone."""
    _remember_issuer(cert)


def _parsed_fields(cert: x509.Certificate) -> _CertFields:
    subject, issuer = cert.subject, cert.issuer
    _ = (len(subject), len(issuer), cert.public_key(), cert.signature_hash_algorithm, cert.signature_algorithm_oid,
         cert.serial_number)
    basic_constraints = key_usage = unknown_critical = key_id = issuer_key_id = None
    policies: frozenset[x509.ObjectIdentifier] = frozenset()
    for ext in cert.extensions:  # by OID, each of which cryptography parses to its one class
        oid = ext.oid
        if oid == ExtensionOID.BASIC_CONSTRAINTS:
            basic_constraints = ext.value  # a second one raised DuplicateExtension
        elif oid == ExtensionOID.KEY_USAGE:
            key_usage = ext.value
        elif oid == ExtensionOID.CERTIFICATE_POLICIES:
            policies = frozenset(info.policy_identifier for info in ext.value)
        elif oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
            key_id = ext.value.digest
        elif oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            issuer_key_id = ext.value.key_identifier
        elif unknown_critical is None and ext.critical and oid not in _KNOWN_EXTENSIONS:
            unknown_critical = oid
    return _CertFields(subject, issuer, name_key(subject), name_key(issuer), cert.not_valid_before_utc,
                      cert.not_valid_after_utc, cert.version is x509.Version.v1, basic_constraints, key_usage,
                      unknown_critical, policies, key_id, issuer_key_id)


_SHARED: ContextVar[Mapping[bytes, x509.Certificate] | None] = ContextVar("hsmsim_shared_certificates", default=None)


@contextmanager
def certificates_shared(certs: Mapping[bytes, x509.Certificate]) -> Iterator[None]:
    """Within the block (an outer format's call of its inner format, on evidence it made from these DER bytes),
    :func:`shared_certificate` and :func:`shared_pem_certificates` give these certificates, each loaded from its DER
    and accepted by :func:`fully_parsed`, so the inner format's reader does not parse them again (the walk reads
    an object once). They are forgotten when the block ends: a later bundle's certificates are parsed afresh."""
    token = _SHARED.set(certs)
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared_certificate(der: bytes) -> x509.Certificate | None:
    """The certificate an enclosing :func:`certificates_shared` block gives for ``der``, if any: what
    ``fully_parsed(x509.load_der_x509_certificate(der))`` returns an equal object of."""
    shared = _SHARED.get()
    return shared.get(der) if shared else None


def shared_pem_certificates(pem_text: bytes) -> list[x509.Certificate] | None:
    """The certificates of ``pem_text`` when it is canonical PEM (:func:`~hsmsim.encoding.canonical_pem_ders`) and an
    enclosing :func:`certificates_shared` block gives every one of them; None otherwise."""
    shared = _SHARED.get()
    ders = canonical_pem_ders(pem_text) if shared else None
    if not shared or ders is None:
        return None
    certs = [shared[der] for der in ders if der in shared]
    return certs if len(certs) == len(ders) else None


def subject_and_issuer(cert: x509.Certificate) -> tuple[x509.Name, x509.Name]:
    """``(cert.subject, cert.issuer)`` of a certificate :func:`fully_parsed` accepted, parsed once per object
    (and once per DER for a recurring issuer)."""
    fields = _fields(cert)
    return fields.subject, fields.issuer


def certificate_policies(cert: x509.Certificate) -> frozenset[x509.ObjectIdentifier]:
    """The policy identifiers ``cert``'s certificatePolicies extension asserts (empty without one), read with
    everything else the chain walk reads of a certificate :func:`fully_parsed` accepted: once per object, and
    once per DER for a remembered issuer (a device's or vendor's intermediates and anchors), so asking about a
    certificate of a validated path costs a dictionary look-up."""
    return _fields(cert).policies


_subject_texts: dict[int, tuple[x509.Certificate, str]] = {}
""":func:`subject_text` of the certificate objects most recently asked about, by identity (an entry holds its
object, so the id is not reused while it lives)."""


def subject_text(cert: x509.Certificate) -> str:
    """``cert.subject.rfc4514_string()``, written once per DER (the text is a pure function of it): verdicts name a
    device's or vendor's certificates, which recur in every bundle, and writing a DN costs 50-90 us. Looked up by
    the object first (hashing a Certificate re-reads its whole structure, about 15 us), then by its DER. Raises what
    ``cert.subject`` raises."""
    entry = _subject_texts.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    text = _subject_text_by_der(cert)
    _remember(_subject_texts, id(cert), (cert, text))
    return text


@lru_cache(maxsize=256)
def _subject_text_by_der(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _checked_fields(cert: x509.Certificate, position: int, first_anchor: int) -> _CertFields:
    """:func:`_fields` of the certificate at ``position`` of the walk's list; MALFORMED names its place (the
    name is written only then)."""
    try:
        return _fields(cert)
    except x509.DuplicateExtension as exc:
        what = _place(position, first_anchor)
        raise Rejected(Reason.MALFORMED, f"{what} carries extension {exc.oid.dotted_string} twice") from None
    except CERT_PARSE_ERRORS as exc:
        what = _place(position, first_anchor)
        raise Rejected(Reason.MALFORMED, f"{what} does not parse: {type(exc).__name__}: {str(exc)[:120]}") from None


def _place(position: int, first_anchor: int) -> str:
    if position == 0:
        return "the leaf certificate"
    return f"chain certificate [{position}]" if position < first_anchor else "a trust anchor"


def issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` names and signs ``child`` (``verify_directly_issued_by``); never raises. Checked
    afresh on every call (the walk remembers only signatures between remembered issuers: a device's or
    vendor's intermediates and the anchors).

    An ECDSA signature that :func:`_ecdsa_signed` recognises is checked with ``issuer.public_key()``, the key object
    cryptography keeps for the issuer once it has been read (:func:`fully_parsed` reads it), the check
    ``verify_directly_issued_by`` makes with a key it loads afresh (validating the point of a P-384 key costs
    about a tenth of the signature check); any other is left to ``verify_directly_issued_by``."""
    try:
        signed = _ecdsa_signed(child, issuer)
        if signed is None:
            child.verify_directly_issued_by(issuer)
        else:
            key, tbs, hash_type = signed
            key.verify(child.signature, tbs, ec.ECDSA(hash_type()))
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


_ECDSA_ALGORITHMS: dict[bytes, type[hashes.HashAlgorithm]] = {
    bytes.fromhex("300a06082a8648ce3d040302"): hashes.SHA256,
    bytes.fromhex("300a06082a8648ce3d040303"): hashes.SHA384,
    bytes.fromhex("300a06082a8648ce3d040304"): hashes.SHA512,
}
"""The AlgorithmIdentifier DER of ecdsa-with-SHA256, -SHA384 and -SHA512 (RFC 5758: no parameters), and their hash."""
_subject_ders: dict[int, tuple[x509.Certificate, bytes]] = {}
"""The subject Name DER (as cryptography encodes the certificate) of the issuer objects most recently asked about
by :func:`_ecdsa_signed`, by identity (an entry holds its object, so the id is not reused while it lives)."""


def _ecdsa_signed(child: x509.Certificate, issuer: x509.Certificate,
                  ) -> tuple[ec.EllipticCurvePublicKey, bytes, type[hashes.HashAlgorithm]] | None:
    """``(issuer's key, child's TBSCertificate DER, hash)`` when ``verify_directly_issued_by`` would verify an ECDSA
    signature with exactly these: the child's inner and outer signatureAlgorithm are both one of
    :data:`_ECDSA_ALGORITHMS` (the same), its issuer is encoded as ``issuer``'s subject (so neither of its checks
    before the signature fails) and ``issuer``'s key is an EC key (cryptography then calls that key's ``verify``
    with the TBSCertificate as it encodes it and ECDSA of the hash). None for anything else, which
    ``verify_directly_issued_by`` decides. Both certificates are read as cryptography encodes them
    (``public_bytes``), whose parts compare equal exactly when the parsed values it compares do."""
    try:
        tbs, algorithm, outer, issuer_name, _ = _tbs_parts(child.public_bytes(Encoding.DER))
    except (ValueError, IndexError):
        return None
    hash_type = _ECDSA_ALGORITHMS.get(algorithm)
    if hash_type is None or outer != algorithm:
        return None
    entry = _subject_ders.get(id(issuer))
    if entry is None or entry[0] is not issuer:
        try:
            entry = (issuer, _tbs_parts(issuer.public_bytes(Encoding.DER))[4])
        except (ValueError, IndexError):
            return None
        _remember(_subject_ders, id(issuer), entry)
    if issuer_name != entry[1]:
        return None
    key = issuer.public_key()
    return (key, tbs, hash_type) if isinstance(key, ec.EllipticCurvePublicKey) else None


def _tbs_parts(der: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """``(TBSCertificate, its signature AlgorithmIdentifier, the outer one, issuer, subject)`` of a certificate as
    cryptography encodes it; raises ValueError or IndexError for anything else."""
    tbs, outer, _signature = der_children(der_content(der))
    fields = der_children(der_content(tbs))
    if fields[0][:1] == b"\xa0":  # [0] version, absent in a v1 certificate
        fields = fields[1:]
    return tbs, fields[1], outer, fields[2], fields[4]


_recurring_signatures: dict[tuple[bytes, bytes], bool] = {}
"""Whether one certificate's issuer signed it, by the DER of both, for :func:`recurring_issued_by`."""


def recurring_issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """:func:`issued_by`, checked once per pair of DER encodings (the answer is a pure function of them): for a
    device's certificate that every bundle of the device carries and that the walk cannot remember because
    cryptography cannot load its key (Crypto4A's HSS assertion authority). Never raises."""
    key = (child.public_bytes(Encoding.DER), issuer.public_bytes(Encoding.DER))
    signed = _recurring_signatures.get(key)
    if signed is None:
        signed = issued_by(child, issuer)
        _remember(_recurring_signatures, key, signed)
    return signed


def _issuer_signed(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """:func:`issued_by`, remembered when ``child`` and ``issuer`` are both remembered issuers (by the bytes of
    both: a pure function of them); otherwise checked afresh, as every leaf's signature is."""
    known_child, known_issuer = _remembered(child), _remembered(issuer)
    if known_child is None and _received_copies:
        known_child = _received_copy(child)
    if known_child is None or known_issuer is None:
        return issued_by(child, issuer if known_issuer is None else known_issuer)  # whose key was read before
    key = (id(known_child), id(known_issuer))
    entry = _signatures.get(key)
    if entry is not None and entry[0] is known_child and entry[1] is known_issuer:
        return entry[2]
    signed = issued_by(child, issuer)
    _remember(_signatures, key, (known_child, known_issuer, signed))
    return signed


def _received_copy(cert: x509.Certificate) -> x509.Certificate | None:
    """The object :data:`_received_copies` holds for ``cert``'s bytes, if any."""
    known = _received_copies.get(cert.signature)
    return known if known is not None and (known is cert or known == cert) else None


def _check_time(cert: _CertFields, at: datetime, what: object) -> None:
    if at < cert.not_before:
        raise Rejected(Reason.CERT_NOT_YET_VALID, f"{what} is valid only from {cert.not_before:%Y-%m-%dT%H:%M:%SZ}")
    if at > cert.not_after:
        raise Rejected(Reason.CERT_EXPIRED, f"{what} expired {cert.not_after:%Y-%m-%dT%H:%M:%SZ}")


def _check_critical(cert: _CertFields, what: object) -> None:
    if cert.unknown_critical is not None:
        raise Rejected(Reason.CERT_UNKNOWN_CRITICAL,
                       f"{what} has unknown critical extension {cert.unknown_critical.dotted_string}")


def _check_issuer(cert: _CertFields, below: int | None, policy: ChainPolicy, what: object) -> None:
    """``below`` is the number of non-self-issued intermediates between ``cert`` and the leaf; None: the path length
    is not checked (an anchor under ``anchor_path_length=False``)."""
    if cert.is_v1:
        if policy.allow_v1_ca:
            return
        raise Rejected(Reason.CERT_NOT_CA, f"{what} is an X.509 v1 certificate and cannot issue")
    bc = cert.basic_constraints
    if bc is None:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} has no basicConstraints")
    if not bc.ca:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} has basicConstraints CA:FALSE")
    ku = cert.key_usage
    if ku is not None and not ku.key_cert_sign:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} keyUsage lacks keyCertSign")
    if bc.path_length is not None and below is not None and below > bc.path_length:
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


def _der_classes(certs: list[x509.Certificate]) -> list[int]:
    """For each certificate, the position of the first one with the same DER: membership as ``in`` decides
    it for certificates (their equality is by encoding), with no certificate hashed. Equal certificates
    carry equal signature values, so a certificate is compared with the first one of its signature value
    (and, only when that one differs, with every certificate between the two: a forgery may copy a signature
    value, and that rare case may scan)."""
    firsts: dict[bytes, int] = {}
    classes = []
    for index, cert in enumerate(certs):
        first = firsts.setdefault(cert.signature, index)
        if first != index and not (certs[first] is cert or certs[first] == cert):
            first = next((i for i in range(first + 1, index) if certs[i] is cert or certs[i] == cert), index)
        classes.append(first)
    return classes


def validate_chain(
    leaf: x509.Certificate,
    untrusted: list[x509.Certificate],
    anchors: list[x509.Certificate],
    at: datetime,
    policy: ChainPolicy = ChainPolicy(),
    *,
    as_received: Mapping[x509.Certificate, x509.Certificate] | None = None,
    recurring_leaf: bool = False,
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
    Issuers are looked up by name as :func:`name_key` describes.

    The verdict never depends on the order of ``untrusted`` or ``anchors`` (RFC 5280 6 path building,
    as RFC 4158 describes it): where several distinct certificates named as an issuer signed (a CA and
    its renewal with the same key), each is tried, anchors first, then one whose subjectKeyIdentifier is the
    child's authorityKeyIdentifier, then by DER, and the path is
    accepted if any path through them validates. When none does, the rejection is that of the first
    path tried in that order. The search verifies at most :data:`MAX_ISSUER_TRIES` issuer signatures
    (LIMIT_EXCEEDED past that, with no path found), and a path holds at most :data:`MAX_CHAIN_DEPTH`
    certificates below its anchor.

    ``recurring_leaf`` says the leaf is a device's certificate that every bundle of the device carries (a Marvell
    partition certificate, a Windows AIK certificate), not a per-key one: once its path validates, it is remembered
    by its bytes as the issuers are, so a later bundle with those bytes neither parses it nor checks its signature
    again (both are pure functions of the bytes). A per-key leaf is never remembered.
    """
    if not anchors:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no trust anchor given")
    # One list of the leaf, the bundle's certificates and the anchors; the walk works on positions in it.
    certs = [leaf, *untrusted, *anchors]
    first_anchor = 1 + len(untrusted)
    fields = [_checked_fields(cert, position, first_anchor) for position, cert in enumerate(certs)]
    classes = _der_classes(certs)
    anchor_classes = {classes[i] for i in range(first_anchor, len(certs))}
    by_subject: dict[NameKey, list[int]] = {}  # untrusted, then anchors, in the order given
    for index in range(1, len(certs)):
        by_subject.setdefault(fields[index].subject_key, []).append(index)
    received = as_received or {}
    signed_as: dict[int, x509.Certificate] = {}  # the received copy a position's signature was checked on
    failures: list[Rejected] = []
    tries = 0

    def signs(child: x509.Certificate, issuer: int) -> bool:
        nonlocal tries
        tries += 1
        if tries > MAX_ISSUER_TRIES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"no valid path found in {MAX_ISSUER_TRIES} issuer signatures")
        return _issuer_signed(child, certs[issuer])

    def accepted(path: list[int]) -> bool:
        try:
            _check_path([certs[i] for i in path], [fields[i] for i in path], at, policy)
        except Rejected as rejection:
            failures.append(rejection)
            return False
        return True

    def extend(path: list[int], on_path: set[int]) -> list[int] | None:
        """A valid path that continues ``path`` (whose classes are ``on_path``), or None with each dead end's
        rejection in ``failures``, in the order tried."""
        current = path[-1]
        if classes[current] in anchor_classes:
            return path if accepted(path) else None
        if len(path) > MAX_CHAIN_DEPTH:
            failures.append(Rejected(Reason.LIMIT_EXCEEDED, f"chain longer than {MAX_CHAIN_DEPTH} certificates"))
            return None
        cert = certs[current]
        signed = cert
        if received:
            signed = signed_as[current] = received.get(cert, cert)
        current_fields = fields[current]
        candidates = by_subject.get(current_fields.issuer_key, [])
        ordered = (_preferred(candidates, certs, fields, classes, first_anchor, current_fields.issuer_key_id)
                   if len(candidates) > 1 else candidates)
        anchor_signed = False
        for anchor in ordered:
            if anchor >= first_anchor and signs(signed, anchor):
                anchor_signed = True
                if accepted([*path, anchor]):
                    return [*path, anchor]
        if current_fields.issuer_key == current_fields.subject_key and issued_by(signed, cert):
            if not anchor_signed:
                failures.append(Rejected(Reason.CHAIN_UNTRUSTED, f"chain ends at self-signed {_describe(cert)!r}, "
                                                                 f"which is not a trust anchor"))
            return None
        if all(classes[i] in on_path for i in candidates):
            if len(path) > 1 and all(classes[i] in on_path for i in range(1, first_anchor)):
                # The bundle's intermediates are used up and its top names an issuer no anchor is:
                # the wrong root is trusted, exactly as when the bundle ends at its own root copy.
                failures.append(Rejected(Reason.CHAIN_UNTRUSTED,
                                         f"chain ends at {_describe(cert)!r}, whose issuer "
                                         f"{current_fields.issuer.rfc4514_string()!r} is not a trust anchor"))
            else:
                failures.append(Rejected(Reason.CHAIN_INCOMPLETE,
                                         f"issuer {current_fields.issuer.rfc4514_string()!r} of "
                                         f"{_describe(cert)!r} is not in the chain"))
            return None
        issuer_signed = anchor_signed
        for issuer in ordered:  # the anchors, and the bundle's copies of them, were tried above
            if classes[issuer] in anchor_classes or classes[issuer] in on_path or not signs(signed, issuer):
                continue
            issuer_signed = True
            found = extend([*path, issuer], on_path | {classes[issuer]})  # noqa: F821 - bound until the search ends
            if found is not None:
                return found
        if not issuer_signed:
            failures.append(Rejected(Reason.CERT_SIGNATURE_INVALID,
                                     f"{_describe(cert)!r} is not signed by its named issuer"))
        return None

    try:
        path = extend([0], {classes[0]})
    finally:
        del extend  # it calls itself through its closure: a cycle the collector would have to find on every call
    if path is None:
        raise failures[0]
    chain = [certs[i] for i in path]
    for index in path if recurring_leaf else path[1:]:
        _remember_issuer(certs[index])
        copy = signed_as.get(index, certs[index])
        if copy is not certs[index] and _received_copy(copy) is not copy:
            _remember(_received_copies, copy.signature, copy)
    return chain


def _preferred(candidates: list[int], certs: list[x509.Certificate], fields: list[_CertFields], classes: list[int],
               first_anchor: int, issuer_key_id: bytes | None) -> list[int]:
    """One position per distinct certificate of ``candidates`` (an anchor's, if it is one), anchors first, then
    those whose subjectKeyIdentifier is ``issuer_key_id`` (the child's authorityKeyIdentifier: RFC 4158's hint of
    the issuer that signed, which spares a signature check against another key) and then by DER: the order
    :func:`validate_chain` tries issuers in, a function of the certificates alone."""
    distinct: dict[int, int] = {}
    for index in candidates:  # ascending: a certificate's last position is its anchor's, if it is one
        distinct[classes[index]] = index
    if len(distinct) == 1:
        return list(distinct.values())
    return sorted(distinct.values(), key=lambda i: (
        i < first_anchor, issuer_key_id is not None and fields[i].key_id != issuer_key_id,
        certs[i].public_bytes(Encoding.DER)))


def _check_path(path: list[x509.Certificate], fields: list[_CertFields], at: datetime, policy: ChainPolicy) -> None:
    """Each element of a path (leaf first, anchor last) is valid at ``at``, has no unknown critical extension
    and, above the leaf, may issue the elements below it; raises :class:`Rejected` for the first that fails."""
    last = len(path) - 1
    for depth, cert in enumerate(path):
        what = _Position(depth, cert)
        if depth < last or policy.check_anchor_validity:
            _check_time(fields[depth], at, what)
        _check_critical(fields[depth], what)
        if depth > 1 or (depth == 1 and not policy.leaf_issuer_by_position):
            counted = depth < last or policy.anchor_path_length
            _check_issuer(fields[depth], depth - 1 if counted else None, policy, what)


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

