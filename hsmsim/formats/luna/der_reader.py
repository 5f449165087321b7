"""The bounded DER reader of Luna PKC evidence: TLVs, the certs-only PKCS#7, certificates, CSRs.

Every structure is walked with hard bounds (bytes, nesting depth, node and certificate counts,
definite minimal lengths) before any field is decoded; asn1crypto decodes the primitives. The
reader is lenient where Luna is not DER (its explicit ``critical FALSE`` is read and reported) and
strict everywhere else. Unlike :func:`hsmsim.encoding.read_tlv` it names each defect:
failures raise :class:`hsmsim.verdict.Rejected` (MALFORMED, LIMIT_EXCEEDED, UNSUPPORTED), never
anything else.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

from asn1crypto import core
from asn1crypto import x509 as ax509

from hsmsim.formats.luna.layout import MAX_CSR_BYTES, MAX_PKC_BYTES, OID_SIGNED_DATA
from hsmsim.verdict import Reason, Rejected, shown_int

MAX_DEPTH = 24
MAX_NODES = 20_000
MAX_CERTIFICATES = 8

OID_DATA = "1.2.840.113549.1.7.1"


class Tlv(NamedTuple):
    """One tag-length-value inside ``buf``: tag byte, start offset, header and content lengths."""

    tag: int
    start: int
    header: int
    length: int
    buf: bytes

    @property
    def end(self) -> int:
        """Offset just past this TLV."""
        return self.start + self.header + self.length

    @property
    def raw(self) -> bytes:
        """The whole TLV."""
        return self.buf[self.start:self.start + self.header + self.length]

    @property
    def value(self) -> bytes:
        """The content octets."""
        return self.buf[self.start + self.header:self.start + self.header + self.length]

    @property
    def constructed(self) -> bool:
        """True for a constructed encoding."""
        return bool(self.tag & 0x20)


def read_tlv(buf: bytes, pos: int, end: int, what: str) -> Tlv:
    """The TLV at ``pos`` within ``buf[:end]``: low tag numbers, definite minimal lengths only."""
    if pos + 2 > end:
        raise Rejected(Reason.MALFORMED, f"{what}: truncated DER (no room for a tag and length)")
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise Rejected(Reason.MALFORMED, f"{what}: high-tag-number form is not used by this format")
    if first < 0x80:
        header, length = 2, first
    elif first == 0x80:
        raise Rejected(Reason.MALFORMED, f"{what}: indefinite length (BER) is not allowed")
    else:
        count = first & 0x7F
        if count > 4:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{what}: a {count}-byte length field (limit 4)")
        if pos + 2 + count > end:
            raise Rejected(Reason.MALFORMED, f"{what}: truncated length field")
        length = int.from_bytes(buf[pos + 2:pos + 2 + count], "big")
        if length < 0x80 or buf[pos + 2] == 0:
            raise Rejected(Reason.MALFORMED, f"{what}: non-minimal length encoding")
        header = 2 + count
    if pos + header + length > end:
        raise Rejected(Reason.MALFORMED, f"{what}: length {length} runs past the end of the data")
    return Tlv(tag, pos, header, length, buf)


_new_tlv = tuple.__new__
"""``Tlv(...)`` without the keyword-handling constructor NamedTuple gives it (a certificate holds a hundred TLVs)."""


def children(node: Tlv, what: str, limit: int = 4096) -> list[Tlv]:
    """The TLVs making up the content of a constructed ``node``."""
    if not node.constructed:
        raise Rejected(Reason.MALFORMED, f"{what}: expected a constructed encoding")
    out: list[Tlv] = []
    buf = node.buf
    pos = node.start + node.header
    end = pos + node.length
    while pos < end:
        if len(out) >= limit:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{what}: more than {limit} elements")
        if pos + 2 <= end:  # a short-form TLV (most are) read inline; read_tlv reads or names any other
            tag, length = buf[pos], buf[pos + 1]
            if length < 0x80 and tag & 0x1F != 0x1F and pos + 2 + length <= end:
                out.append(_new_tlv(Tlv, (tag, pos, 2, length, buf)))
                pos += 2 + length
                continue
        child = read_tlv(buf, pos, end, what)
        out.append(child)
        pos = child.start + child.header + child.length
    return out


def parse_document(data: bytes, what: str, *, walked: bool = False) -> Tlv:
    """One TLV spanning all of ``data``, its constructed parts walked with depth and node bounds
    (``walked``: the caller already walked these bytes inside a larger document)."""
    root = read_tlv(data, 0, len(data), what)
    if root.end != len(data):
        raise Rejected(Reason.MALFORMED, f"{what}: {len(data) - root.end} bytes after the DER structure")
    if walked:
        return root
    _walk(root, what)
    return root


_MEMO_LIMIT = 256
_ISSUER_CONTENT_BYTES = range(256, 16 * 1024 + 1)
"""The content sizes at which a walk looks a SEQUENCE up in :data:`_walked_issuers`: a certificate's."""
_walked_issuers: dict[bytes, tuple[int, int]] = {}
"""Issuer certificates (a device's and its vendor's, in every PKC of that device) by their content octets: how
many DER elements they hold and how deep those go below the certificate. A walk that meets one again counts its
elements instead of reading them, unless a bound would be passed inside it (then it reads them, to report where).
The leaf, new in every PKC, is never remembered: it is always read."""


def remember_issuer(der: bytes) -> None:
    """Remember a certificate that signed another in a PKC (see :data:`_walked_issuers`); never raises."""
    try:
        root = read_tlv(der, 0, len(der), "issuer")
        content = der[root.start + root.header:root.end]
        if root.tag != 0x30 or root.end != len(der) or content in _walked_issuers \
                or len(content) not in _ISSUER_CONTENT_BYTES:
            return
        nodes, deepest = _walk(root, "issuer")
    except Rejected:
        return
    if len(_walked_issuers) >= _MEMO_LIMIT:
        _walked_issuers.clear()
    _walked_issuers[content] = (nodes - 1, deepest)


def _walk(root: Tlv, what: str) -> tuple[int, int]:
    """Read every TLV under ``root`` depth first, within the depth and node bounds (the first defect
    found in document order is the one reported); returns how many TLVs there are (``root`` included)
    and the depth of the deepest below ``root``."""
    buf = root.buf
    budget = MAX_NODES
    deepest = 0
    stack = [(root.tag, root.start + root.header, root.end, 0)]  # tag, content start and end, depth
    while stack:
        tag, pos, end, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{what}: nesting deeper than {MAX_DEPTH}")
        budget -= 1
        if budget < 0:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{what}: more than {MAX_NODES} DER elements")
        if not tag & 0x20:
            continue
        if tag == 0x30 and _walked_issuers and end - pos in _ISSUER_CONTENT_BYTES:
            known = _walked_issuers.get(buf[pos:end])
            if known is not None and depth + known[1] <= MAX_DEPTH and budget >= known[0]:
                budget -= known[0]
                deepest = max(deepest, depth + known[1])
                continue
        found: list[tuple[int, int, int, int]] = []  # all children are read before the first is descended into
        while pos < end:
            if len(found) >= MAX_NODES:
                raise Rejected(Reason.LIMIT_EXCEEDED, f"{what}: more than {MAX_NODES} elements")
            if pos + 2 <= end:  # a short-form TLV (most are) read inline: this loop reads every TLV of the document
                child_tag, length = buf[pos], buf[pos + 1]
                if length < 0x80 and child_tag & 0x1F != 0x1F and pos + 2 + length <= end:
                    found.append((child_tag, pos + 2, pos + 2 + length, depth + 1))
                    pos += 2 + length
                    continue
            child = read_tlv(buf, pos, end, what)
            after = pos + child.header + child.length
            found.append((child.tag, pos + child.header, after, depth + 1))
            pos = after
        if found and depth + 1 > deepest:
            deepest = depth + 1
        stack.extend(reversed(found))
    return MAX_NODES - budget, deepest


def expect(node: Tlv, tag: int, what: str) -> Tlv:
    """``node`` if its tag is ``tag``; MALFORMED otherwise."""
    if node.tag != tag:
        raise Rejected(Reason.MALFORMED, f"{what}: tag 0x{node.tag:02x} where 0x{tag:02x} belongs")
    return node


def _decode(cls: type[core.Asn1Value], node: Tlv, what: str) -> object:
    try:
        return cls.load(node.raw, strict=True).native
    except (ValueError, TypeError, OverflowError) as exc:
        raise Rejected(Reason.MALFORMED, f"{what}: {exc}") from None


def oid_of(node: Tlv, what: str) -> str:
    """The dotted OBJECT IDENTIFIER at ``node``."""
    expect(node, 0x06, what)
    try:
        return _dotted(node.raw)
    except (ValueError, TypeError) as exc:
        raise Rejected(Reason.MALFORMED, f"{what}: bad OBJECT IDENTIFIER: {exc}") from None


@lru_cache(maxsize=1024)
def _dotted(raw: bytes) -> str:
    """The dotted form of an encoded OBJECT IDENTIFIER (a handful of distinct OIDs recur in every chain)."""
    return str(core.ObjectIdentifier.load(raw, strict=True).dotted)


def int_of(node: Tlv, what: str) -> int:
    """The (signed) INTEGER at ``node``."""
    expect(node, 0x02, what)
    if not node.value:
        raise Rejected(Reason.MALFORMED, f"{what}: empty INTEGER")
    return int.from_bytes(node.value, "big", signed=True)


def time_of(node: Tlv, what: str) -> datetime:
    """A UTCTime or GeneralizedTime."""
    plain = _plain_time(node)
    if plain is not None:
        return plain
    if node.tag == 0x17:
        moment = _decode(core.UTCTime, node, what)
    elif node.tag == 0x18:
        moment = _decode(core.GeneralizedTime, node, what)
    else:
        raise Rejected(Reason.MALFORMED, f"{what}: not a UTCTime or GeneralizedTime")
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise Rejected(Reason.MALFORMED, f"{what}: time without a UTC zone")
    return moment


def _plain_time(node: Tlv) -> datetime | None:
    """The time at ``node`` when it is in the form certificates use (UTCTime ``YYMMDDHHMMSSZ``, GeneralizedTime
    ``YYYYMMDDHHMMSSZ``) and a valid date, read as asn1crypto reads it (a UTCTime year below 50 is 20YY); None for
    anything else, which asn1crypto decodes (or names the defect of)."""
    value = node.value
    if value[-1:] != b"Z" or not value[:-1].isdigit():
        return None
    if node.tag == 0x17 and len(value) == 13:
        short = int(value[:2])
        year, rest = short + (2000 if short < 50 else 1900), value[2:12]
    elif node.tag == 0x18 and len(value) == 15 and value[:4] != b"0000":  # year 0: asn1crypto's extended_datetime
        year, rest = int(value[:4]), value[4:14]
    else:
        return None
    try:
        return datetime(year, int(rest[:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:]), tzinfo=UTC)
    except ValueError:
        return None


_SHORT_NAMES = {"2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.10": "O", "2.5.4.11": "OU",
                "2.5.4.3": "CN", "1.2.840.113549.1.9.1": "emailAddress"}


def name_text(der: bytes) -> str:
    """A Name for humans, in encoded order (``C=CA, O=Chrysalis-ITS, CN=...``); never raises."""
    try:
        parts = []
        for rdn in children(parse_document(der, "Name"), "Name", 64):
            for attribute in children(rdn, "Name", 16):
                oid_node, value = children(attribute, "Name")[:2]
                oid = oid_of(oid_node, "Name")
                parts.append(f"{_SHORT_NAMES.get(oid, oid)}={value.value.decode('utf-8', 'replace')}")
        return ", ".join(parts)
    except (Rejected, ValueError):
        return der.hex()


# -- the certs-only PKCS#7 ----------------------------------------------------------------------

@dataclass(frozen=True)
class CertBag:
    """The certificates of a certs-only SignedData, in file order, and anything else it carried."""

    certificates: tuple[bytes, ...]
    extras: tuple[str, ...]
    """Content Luna never writes (signerInfos, CRLs, digestAlgorithms, encapsulated content)."""


def _check_signer_infos(node: Tlv) -> None:
    for info in children(node, "signerInfos"):
        parts = children(expect(info, 0x30, "signerInfo"), "signerInfo")
        if len(parts) < 5 or parts[0].tag != 0x02:
            raise Rejected(Reason.MALFORMED, "signerInfos holds something that is not a SignerInfo")


def parse_certs_only(data: bytes) -> CertBag:
    """The certificates of a DER PKCS#7 SignedData: version 1, no signature over any content."""
    if len(data) > MAX_PKC_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"PKC is {len(data)} bytes (limit {MAX_PKC_BYTES})")
    root = parse_document(data, "PKC")
    info = children(expect(root, 0x30, "PKC ContentInfo"), "PKC ContentInfo")
    if len(info) != 2 or oid_of(info[0], "contentType") != OID_SIGNED_DATA:
        raise Rejected(Reason.MALFORMED, "PKC is not a PKCS#7 ContentInfo of type signedData")
    explicit = children(expect(info[1], 0xA0, "content [0]"), "content [0]")
    if len(explicit) != 1:
        raise Rejected(Reason.MALFORMED, "content [0] must hold exactly one SignedData")
    fields = children(expect(explicit[0], 0x30, "SignedData"), "SignedData")
    if len(fields) < 4:
        raise Rejected(Reason.MALFORMED, "SignedData lacks version, digestAlgorithms, contentInfo or signerInfos")
    if int_of(fields[0], "SignedData version") != 1:
        raise Rejected(Reason.MALFORMED, f"SignedData version {shown_int(int_of(fields[0], 'version'))}, Luna writes 1")
    extras = []
    if children(expect(fields[1], 0x31, "digestAlgorithms"), "digestAlgorithms"):
        extras.append("digestAlgorithms is not empty")
    encap = children(expect(fields[2], 0x30, "encapContentInfo"), "encapContentInfo")
    if not encap or oid_of(encap[0], "eContentType") != OID_DATA:
        raise Rejected(Reason.MALFORMED, "encapsulated content type is not data")
    if len(encap) > 1:
        extras.append("encapsulated content is present")
    certificates: list[bytes] = []
    rest = fields[3:]
    if rest and rest[0].tag == 0xA0:
        for index, cert in enumerate(children(rest[0], "certificates", MAX_CERTIFICATES + 1)):
            if index >= MAX_CERTIFICATES:
                raise Rejected(Reason.LIMIT_EXCEEDED, f"the PKC holds more than {MAX_CERTIFICATES} certificates")
            certificates.append(expect(cert, 0x30, f"certificate {index}").raw)
        rest = rest[1:]
    if rest and rest[0].tag == 0xA1:
        extras.append("CRLs are present")
        rest = rest[1:]
    if len(rest) != 1:
        raise Rejected(Reason.MALFORMED, "SignedData fields are out of order or repeated")
    signer_infos = expect(rest[0], 0x31, "signerInfos")
    _check_signer_infos(signer_infos)
    if signer_infos.length:
        extras.append("signerInfos is not empty")
    return CertBag(tuple(certificates), tuple(extras))


# -- certificates --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Extension:
    """One parsed extension; ``explicit_false`` records Luna's encoded ``critical FALSE``."""

    oid: str
    critical: bool
    explicit_false: bool
    value: bytes


@dataclass(frozen=True)
class Algorithm:
    """A signature AlgorithmIdentifier: its OID, its raw bytes and whether it carries NULL parameters."""

    oid: str
    raw: bytes
    null_params: bool


@dataclass(frozen=True)
class Cert:
    """The fields of one certificate the Luna verifier reads, with raw DER where it compares bytes."""

    der: bytes
    tbs: bytes
    serial: int
    algorithm: Algorithm
    issuer: bytes
    subject: bytes
    not_before: datetime
    not_after: datetime
    spki: bytes
    extensions: tuple[Extension, ...]
    signature: bytes

    def extension(self, oid: str) -> Extension | None:
        """The extension ``oid``, if present."""
        return next((e for e in self.extensions if e.oid == oid), None)

    @property
    def self_issued(self) -> bool:
        """Issuer and subject are the same Name (byte for byte)."""
        return self.issuer == self.subject

    @property
    def name(self) -> str:
        """The subject for humans."""
        return name_text(self.subject)

    def common_name(self) -> str | None:
        """The last commonName of the subject (None when absent or unreadable)."""
        return _common_name(self.subject)


@lru_cache(maxsize=256)
def _common_name(subject: bytes) -> str | None:
    """The last commonName of an encoded Name (a chain's issuer names recur on every verification)."""
    try:
        values = ax509.Name.load(subject).native
    except (ValueError, TypeError, KeyError):
        return None
    value = values.get("common_name") if isinstance(values, dict) else None
    if isinstance(value, list):
        value = value[-1]
    return value if isinstance(value, str) else None


def _algorithm(node: Tlv, what: str) -> Algorithm:
    parts = children(expect(node, 0x30, what), what)
    if not parts:
        raise Rejected(Reason.MALFORMED, f"{what}: empty AlgorithmIdentifier")
    oid = oid_of(parts[0], what)
    params = parts[1:]
    if len(params) > 1 or (params and params[0].raw != b"\x05\x00"):
        raise Rejected(Reason.MALFORMED, f"{what}: unexpected signature algorithm parameters")
    return Algorithm(oid, node.raw, bool(params))


def _extensions(node: Tlv, what: str) -> tuple[Extension, ...]:
    wrapper = children(node, what)
    if len(wrapper) != 1:
        raise Rejected(Reason.MALFORMED, f"{what}: extensions [3] must hold one SEQUENCE")
    out: list[Extension] = []
    seen: set[str] = set()
    for ext in children(expect(wrapper[0], 0x30, what), what, 64):
        parts = children(expect(ext, 0x30, f"{what} extension"), f"{what} extension")
        if len(parts) not in (2, 3):
            raise Rejected(Reason.MALFORMED, f"{what}: an extension has {len(parts)} fields")
        oid = oid_of(parts[0], f"{what} extnID")
        critical = explicit_false = False
        if len(parts) == 3:
            flag = expect(parts[1], 0x01, f"{what} {oid} critical")
            if flag.value not in (b"\x00", b"\xff"):
                raise Rejected(Reason.MALFORMED, f"{what} {oid}: critical is not a DER/BER BOOLEAN")
            critical, explicit_false = flag.value == b"\xff", flag.value == b"\x00"
        value = expect(parts[-1], 0x04, f"{what} {oid} extnValue").value
        if oid in seen:
            raise Rejected(Reason.MALFORMED, f"{what}: extension {oid} appears twice")
        seen.add(oid)
        out.append(Extension(oid, critical, explicit_false, value))
    return tuple(out)


def is_remembered_issuer(der: bytes) -> bool:
    """Whether ``der`` is a certificate :func:`remember_issuer` remembered (it signed another in a PKC)."""
    try:
        root = read_tlv(der, 0, len(der), "certificate")
    except Rejected:
        return False
    return root.end == len(der) and der[root.start + root.header:root.end] in _walked_issuers


@functools.lru_cache(maxsize=512)
def parse_recurring_certificate(der: bytes, what: str, *, walked: bool = False) -> Cert:
    """:func:`parse_certificate`, remembered (a :class:`Cert` is immutable): for the certificates that come
    back vector after vector, the trust anchors and the issuers :func:`is_remembered_issuer` knows."""
    return parse_certificate(der, what, walked=walked)


def parse_certificate(der: bytes, what: str, *, walked: bool = False) -> Cert:
    """Parse one X.509 certificate (v1 or v3) leniently enough for Luna's BER-isms, strictly bounded
    (``walked``: the bytes come from a document :func:`parse_document` already bounded)."""
    root = parse_document(der, what, walked=walked)
    top = children(expect(root, 0x30, what), what)
    if len(top) != 3:
        raise Rejected(Reason.MALFORMED, f"{what}: a Certificate has 3 fields, not {len(top)}")
    tbs_node, algorithm_node, signature_node = top
    fields = children(expect(tbs_node, 0x30, f"{what} TBSCertificate"), f"{what} TBSCertificate")
    if fields and fields[0].tag == 0xA0:
        version = children(fields[0], f"{what} version")
        if len(version) != 1 or int_of(version[0], f"{what} version") not in (0, 1, 2):
            raise Rejected(Reason.MALFORMED, f"{what}: bad version")
        fields = fields[1:]
    if len(fields) < 6:
        raise Rejected(Reason.MALFORMED, f"{what}: TBSCertificate lacks mandatory fields")
    serial = int_of(fields[0], f"{what} serialNumber")
    inner = _algorithm(fields[1], f"{what} signature")
    issuer = expect(fields[2], 0x30, f"{what} issuer").raw
    validity = children(expect(fields[3], 0x30, f"{what} validity"), f"{what} validity")
    if len(validity) != 2:
        raise Rejected(Reason.MALFORMED, f"{what}: validity must hold two times")
    subject = expect(fields[4], 0x30, f"{what} subject").raw
    spki = expect(fields[5], 0x30, f"{what} subjectPublicKeyInfo").raw
    extensions: tuple[Extension, ...] = ()
    for extra in fields[6:]:
        if extra.tag == 0xA3:
            extensions = _extensions(extra, what)
        elif extra.tag not in (0x81, 0x82, 0xA1, 0xA2):
            raise Rejected(Reason.MALFORMED, f"{what}: unexpected TBSCertificate field 0x{extra.tag:02x}")
    outer = _algorithm(algorithm_node, f"{what} signatureAlgorithm")
    if outer.raw != inner.raw:
        raise Rejected(Reason.MALFORMED, f"{what}: signatureAlgorithm differs from the TBSCertificate's signature")
    bits = expect(signature_node, 0x03, f"{what} signatureValue").value
    if not bits or bits[0] != 0:
        raise Rejected(Reason.MALFORMED, f"{what}: signatureValue is not a whole number of bytes")
    return Cert(der, tbs_node.raw, serial, outer, issuer, subject, time_of(validity[0], f"{what} notBefore"),
                time_of(validity[1], f"{what} notAfter"), spki, extensions, bits[1:])


# The extension readers remember their answers (pure functions of the bytes): a chain's CA extensions and the
# leaf's constant EKU come back in every PKC of a device.
@lru_cache(maxsize=256)
def oid_list(value: bytes, what: str) -> tuple[str, ...]:
    """A SEQUENCE OF OBJECT IDENTIFIER extension value (extendedKeyUsage)."""
    node = parse_document(value, what)
    return tuple(oid_of(child, what) for child in children(expect(node, 0x30, what), what, 64))


@lru_cache(maxsize=256)
def basic_constraints_ca(value: bytes, what: str) -> bool:
    """The cA flag of a basicConstraints value."""
    node = parse_document(value, what)
    parts = children(expect(node, 0x30, what), what)
    return bool(parts) and parts[0].tag == 0x01 and parts[0].value not in (b"", b"\x00")


@lru_cache(maxsize=256)
def key_usage_bits(value: bytes, what: str) -> frozenset[int]:
    """The bit numbers set in a keyUsage value (0 = digitalSignature, 5 = keyCertSign)."""
    node = expect(parse_document(value, what), 0x03, what)
    if not node.value:
        raise Rejected(Reason.MALFORMED, f"{what}: empty BIT STRING")
    bits = node.value
    return frozenset(index for index in range(8 * (node.length - 1)) if bits[1 + index // 8] & (0x80 >> index % 8))


# -- CSRs ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Csr:
    """A PKCS#10 request: the signed info, its SPKI, signature algorithm and signature."""

    info: bytes
    spki: bytes
    algorithm: Algorithm
    signature: bytes


_PEM = re.compile(rb"-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----(.*?)-----END (?:NEW )?CERTIFICATE REQUEST-----",
                  re.DOTALL)


def parse_csr(data: bytes) -> Csr:
    """A CSR from PEM (``NEW CERTIFICATE REQUEST`` too, any line endings) or DER; bounded."""
    if len(data) > MAX_CSR_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"CSR is {len(data)} bytes (limit {MAX_CSR_BYTES})")
    if b"-----BEGIN" in data:
        match = _PEM.search(data)
        if match is None:
            raise Rejected(Reason.MALFORMED, "CSR PEM has no CERTIFICATE REQUEST block")
        try:
            data = base64.b64decode(b"".join(match.group(1).split()), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(Reason.MALFORMED, "CSR PEM body is not base64") from None
    root = parse_document(data, "CSR")
    top = children(expect(root, 0x30, "CSR"), "CSR")
    if len(top) != 3:
        raise Rejected(Reason.MALFORMED, "CSR must hold info, algorithm and signature")
    info = children(expect(top[0], 0x30, "CertificationRequestInfo"), "CertificationRequestInfo")
    if len(info) < 3:
        raise Rejected(Reason.MALFORMED, "CertificationRequestInfo lacks version, subject or key")
    bits = expect(top[2], 0x03, "CSR signature").value
    if not bits or bits[0] != 0:
        raise Rejected(Reason.MALFORMED, "CSR signature is not a whole number of bytes")
    return Csr(top[0].raw, expect(info[2], 0x30, "CSR subjectPublicKeyInfo").raw,
               _algorithm(top[1], "CSR signatureAlgorithm"), bits[1:])
