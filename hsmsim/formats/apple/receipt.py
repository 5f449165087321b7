"""The App Attest receipt (``attStmt.receipt``): the CMS SignedData Apple's App Attest service issues with every
attestation, emulated under a seed-derived receipt PKI, and read back.

Facts, from the two published real receipts (fido2-net-lib's 2022 development attestation, kept in
``tests/data/fido2-net-lib/app_attest_receipt.ber``, and devicecheck-appattest's 2021 one, which agree) and
Apple's "Assessing fraud risk":

* Framing (BER): ContentInfo, its ``[0]``, SignedData, encapContentInfo, its ``[0]`` and ``certificates [0]``
  have indefinite lengths (``80`` ... ``00 00``); the eContent is a constructed OCTET STRING (``24 80``) of
  primitive pieces of 1000 bytes and a last shorter one; everything inside is definite DER.
* SignedData: version 1, digestAlgorithms ``{sha256, NULL}``, eContentType id-data, certificates
  ``[Application Attestation Fraud Receipt Signing, Apple Application Integration CA 5 - G1, Apple Root CA -
  G3]``, no CRLs, one SignerInfo: version 1, issuerAndSerialNumber, sha256 with NULL, no signed attributes,
  ecdsa-with-SHA256 without parameters, the signature over the eContent octets themselves.
* eContent: a definite SET, in Apple's order (ascending type, not DER-sorted), of
  ``SEQUENCE { type INTEGER, version INTEGER (1), value OCTET STRING }``: 2 the App ID, 3 credCert's DER
  (x5c[0], byte for byte), 4 the clientDataHash, 5 a token (base64 of 64 bytes, 88 characters), 6 ``ATTEST``,
  7 ``sandbox`` (both samples are development attestations), 12 the creation time, 21 the expiration time,
  creation + 90 days. Times are ISO 8601 UTC with milliseconds (``2022-08-25T06:05:35.264Z``); the receipt is
  made milliseconds after credCert (7 and 369 ms after the time credCert's serial gives).
* The receipt PKI: "Apple Root CA - G3" (P-384, 2014-04-30 18:19:06 for 25 years, SKI, critical CA, critical
  keyCertSign|cRLSign) -> "Apple Application Integration CA 5 - G1" (P-256, ECDSA-SHA384, 2019-03-22 17:53:33
  to 2034-03-22; critical CA, AKI, OCSP, CRL, SKI, critical keyCertSign|cRLSign, 1.2.840.113635.100.6.2.3 NULL)
  -> "Application Attestation Fraud Receipt Signing" (P-256, ECDSA-SHA256, ``CN, O, C``; critical CA:FALSE,
  AKI, OCSP, certificate policy 1.2.840.113635.100.5.1 with a user notice and a CPS URI, SKI, critical
  digitalSignature, 1.2.840.113635.100.12.15 NULL). Root and CA are named ``CN, OU=Apple Certification
  Authority, O=Apple Inc., C=US``. The signing certificate is re-issued about yearly: the 2020 and 2022 ones run
  395 days (2022-04-19 13:33:03 to 2023-05-19 13:33:02).

The emulation writes every one of these, names ending in EMULATED, keys and serials from the seed, URLs on an
example domain with Apple's paths, and its own policy notice. It re-issues the signing certificate each year
on the 2022 one's date.

GUESSES: no production receipt is published; a production receipt here carries no field 7 unless the
``receipt_environment`` parameter gives one (:data:`RECEIPT_ENVIRONMENTS`). An eContent shorter than 1000
bytes would be a single piece.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID

from hsmsim.encoding import der_integer, der_oid, der_sequence, der_tlv
from hsmsim.keystore.base import KeySpec
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, Issuer, build_certificate, key_usage, name
from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.pki.seed import derive_key, derive_serial, drbg
from hsmsim.pki.signing import sign

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RECEIPT_POLICY = "1.2.840.113635.100.5.1"
OID_RECEIPT_SIGNING = "1.2.840.113635.100.12.15"
"""The Apple marker extension (value NULL) of the Fraud Receipt Signing certificate."""
OID_INTEGRATION_CA = "1.2.840.113635.100.6.2.3"
"""The Apple marker extension (value NULL) of Apple Application Integration CA 5 - G1."""

APP_ID, ATTESTED_KEY, CLIENT_HASH, TOKEN, RECEIPT_TYPE, ENVIRONMENT, CREATION_TIME, EXPIRATION_TIME = (
    2, 3, 4, 5, 6, 7, 12, 21)
"""The receipt attribute types an attestation's receipt carries, in Apple's order."""
RECEIPT_LIFETIME = timedelta(days=90)
PIECE = 1000
"""The size of the eContent OCTET STRING pieces."""
RECEIPT_ENVIRONMENTS: dict[str, bytes | None] = {"absent": None, "sandbox": b"sandbox", "production": b"production"}
"""Field 7 by the ``receipt_environment`` parameter (None: absent)."""
DEFAULT_RECEIPT_ENVIRONMENT = {"development": "sandbox", "production": "absent"}
"""Field 7 by attestation environment: ``sandbox`` in development, as both real receipts; absent in production
(a GUESS)."""
MAX_DEPTH = 12
"""Deepest BER nesting the reader follows (the real receipt nests 9 deep, in its certificates' extensions)."""

_P256, _P384 = KeySpec.parse("ec-p256"), KeySpec.parse("ec-p384")
_ROLE = "apple/receipt"
ROOT_CN = "Apple Root CA - G3 EMULATED"
CA_CN = "Apple Application Integration CA 5 - G1 EMULATED"
SIGNER_CN = "Application Attestation Fraud Receipt Signing EMULATED"
ROOT_VALIDITY = (datetime(2014, 4, 30, 18, 19, 6, tzinfo=UTC), datetime(2039, 4, 30, 18, 19, 6, tzinfo=UTC))
CA_VALIDITY = (datetime(2019, 3, 22, 17, 53, 33, tzinfo=UTC), datetime(2034, 3, 22, tzinfo=UTC))
SIGNER_ISSUE = (4, 19, 13, 33, 3)
"""Month, day, hour, minute, second of the yearly signing certificate (the 2022 one's)."""
SIGNER_LIFETIME = timedelta(days=395, seconds=-1)
_PKI_BASE = "apple.hsmsim.example"
NOTICE = ("This EMULATED certificate was made by hsmsim for testing App Attest receipt handling. No party may "
          "rely on it; it imitates the form of Apple's fraud receipt signing certificates.")


@dataclass(frozen=True)
class ReceiptPki:
    """The emulated receipt PKI of one seed and year: root, integration CA and the signing certificate."""

    root: Issuer
    ca: Issuer
    signer: Issuer

    def certificates(self) -> list[bytes]:
        """The DER certificates a receipt carries, in Apple's order: signer, CA, root."""
        return [issuer.certificate.public_bytes(Encoding.DER) for issuer in (self.signer, self.ca, self.root)]


def _apple_ca_name(common_name: str) -> x509.Name:
    return name(("CN", common_name, UTF8), ("OU", "Apple Certification Authority", UTF8),
                ("O", "Apple Inc.", UTF8), ("C", "US", PRINTABLE))


def _ocsp(path: str) -> Ext:
    return Ext(x509.AuthorityInformationAccess([x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"http://ocsp.{_PKI_BASE}/{path}"))]))


def _marker(oid: str) -> Ext:
    return Ext(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00"))


def signer_period(at: datetime) -> datetime:
    """The notBefore of the signing certificate in force at ``at`` (issued yearly on :data:`SIGNER_ISSUE`)."""
    month, day, hour, minute, second = SIGNER_ISSUE
    start = datetime(at.year, month, day, hour, minute, second, tzinfo=UTC)
    return start if start <= at else start.replace(year=at.year - 1)


def receipt_pki(seed: str, at: datetime) -> ReceiptPki:
    """The receipt PKI of ``seed`` whose signing certificate is valid at ``at``; the same certificates for every
    attestation of a year."""
    return _receipt_pki(seed, signer_period(at))


@functools.lru_cache(maxsize=16)
def _receipt_pki(seed: str, start: datetime) -> ReceiptPki:
    root_key = derive_key(seed, f"{_ROLE}/root", _P384)
    root_name = _apple_ca_name(ROOT_CN)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = build_certificate(CertSpec(
        subject=root_name, issuer=root_name, public_key=root_key.public_key(),
        serial=derive_serial(seed, f"{_ROLE}/root", 62), not_before=ROOT_VALIDITY[0], not_after=ROOT_VALIDITY[1],
        hash_name="sha384",
        extensions=(Ext(root_ski), Ext(x509.BasicConstraints(ca=True, path_length=None), True),
                    Ext(key_usage("key_cert_sign", "crl_sign"), True))), root_key)
    ca_key = derive_key(seed, f"{_ROLE}/ca", _P256)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = build_certificate(CertSpec(
        subject=_apple_ca_name(CA_CN), issuer=root_name, public_key=ca_key.public_key(),
        serial=derive_serial(seed, f"{_ROLE}/ca", 127), not_before=CA_VALIDITY[0], not_after=CA_VALIDITY[1],
        hash_name="sha384",
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=None), True),
                    Ext(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski)),
                    _ocsp("ocsp03-applerootcag3"),
                    Ext(x509.CRLDistributionPoints([x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(f"http://crl.{_PKI_BASE}/applerootcag3.crl")],
                        None, None, None)])),
                    Ext(ca_ski), Ext(key_usage("key_cert_sign", "crl_sign"), True),
                    _marker(OID_INTEGRATION_CA))), root_key)
    signer_key = derive_key(seed, f"{_ROLE}/signer/{start.year}", _P256)
    policy = x509.PolicyInformation(x509.ObjectIdentifier(OID_RECEIPT_POLICY), [
        x509.UserNotice(None, NOTICE), f"http://www.{_PKI_BASE}/certificateauthority"])
    signer = build_certificate(CertSpec(
        subject=name(("CN", SIGNER_CN, UTF8), ("O", "Apple Inc.", UTF8), ("C", "US", PRINTABLE)),
        issuer=ca.subject, public_key=signer_key.public_key(),
        serial=derive_serial(seed, f"{_ROLE}/signer/{start.year}", 127), not_before=start,
        not_after=start + SIGNER_LIFETIME,
        extensions=(Ext(x509.BasicConstraints(ca=False, path_length=None), True),
                    Ext(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)),
                    _ocsp("ocsp03-aaica5g101"), Ext(x509.CertificatePolicies([policy])),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key())),
                    Ext(key_usage("digital_signature"), True), _marker(OID_RECEIPT_SIGNING))), ca_key)
    return ReceiptPki(Issuer(root_key, root), Issuer(ca_key, ca), Issuer(signer_key, signer))


def receipt_time(at: datetime) -> bytes:
    """``at`` as the receipt writes times: ISO 8601 UTC with milliseconds, ``2022-08-25T06:05:35.264Z``."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z".encode()


@dataclass(frozen=True)
class AttestReceipt:
    """What Apple writes in the receipt of one attestation."""

    app_id: str
    cred_cert: bytes
    """credCert's DER (field 3, "attested public key")."""
    client_hash: bytes
    token: bytes
    environment: bytes | None
    """Field 7 (``sandbox`` in development); None: absent."""
    created: datetime

    @classmethod
    def issued(cls, seed: str, app_id: str, cred_cert: x509.Certificate, client_hash: bytes,
               environment: bytes | None) -> AttestReceipt:
        """The receipt Apple's service makes for credCert: created 1 to 499 ms after credCert's issuance (its
        serial, in milliseconds since the epoch), a seed-derived token."""
        der = cred_cert.public_bytes(Encoding.DER)
        rng = drbg(seed, f"apple-appattest/receipt/{hashlib.sha256(der).hexdigest()}")
        delay = timedelta(milliseconds=1 + int.from_bytes(rng.read(2), "big") % 499)
        created = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=cred_cert.serial_number) + delay
        return cls(app_id, der, client_hash, base64.b64encode(rng.read(64)), environment, created)

    def attributes(self) -> list[tuple[int, bytes]]:
        """``(type, value)`` in Apple's order; every version is 1."""
        fields = [(APP_ID, self.app_id.encode()), (ATTESTED_KEY, self.cred_cert), (CLIENT_HASH, self.client_hash),
                  (TOKEN, self.token), (RECEIPT_TYPE, b"ATTEST")]
        if self.environment is not None:
            fields.append((ENVIRONMENT, self.environment))
        return [*fields, (CREATION_TIME, receipt_time(self.created)),
                (EXPIRATION_TIME, receipt_time(self.created + RECEIPT_LIFETIME))]

    def payload(self) -> bytes:
        """The eContent: the DER SET of the receipt attributes, unsorted."""
        return der_tlv(0x31, b"".join(der_sequence(der_integer(kind), der_integer(1), der_tlv(0x04, value))
                                      for kind, value in self.attributes()))



def _indefinite(tag: int, *parts: bytes) -> bytes:
    return bytes([tag, 0x80]) + b"".join(parts) + b"\x00\x00"


def signed_receipt(pki: ReceiptPki, payload: bytes) -> bytes:
    """``payload`` as Apple frames a receipt (module notes), signed by the PKI's signing certificate."""
    algorithm, signature = sign(pki.signer.key, payload)
    sha256 = der_sequence(der_oid(OID_SHA256), b"\x05\x00")
    signer = pki.signer.certificate
    signer_info = der_sequence(
        der_integer(1), der_sequence(signer.issuer.public_bytes(), der_integer(signer.serial_number)), sha256,
        algorithm, der_tlv(0x04, signature))
    pieces = [der_tlv(0x04, payload[i:i + PIECE]) for i in range(0, len(payload), PIECE)]
    signed_data = _indefinite(
        0x30, der_integer(1), der_tlv(0x31, sha256),
        _indefinite(0x30, der_oid(OID_DATA), _indefinite(0xA0, _indefinite(0x24, *pieces))),
        _indefinite(0xA0, *pki.certificates()), der_tlv(0x31, signer_info))
    return _indefinite(0x30, der_oid(OID_SIGNED_DATA), _indefinite(0xA0, signed_data))


def attest_receipt(seed: str, receipt: AttestReceipt) -> bytes:
    """The receipt of one attestation, signed under the seed's receipt PKI of the receipt's creation time."""
    return signed_receipt(receipt_pki(seed, receipt.created), receipt.payload())


# -- reading --------------------------------------------------------------------------------------------------

class Ber(NamedTuple):
    """One BER element: its tag, whether its length was indefinite, its primitive content or its children, and
    the bytes that encode it. A named tuple: a receipt has about a hundred elements, read in every verification."""

    tag: int
    indefinite: bool
    content: bytes
    """A primitive's content octets (empty for a constructed element)."""
    children: tuple[Ber, ...]
    encoding: bytes


_new_ber = tuple.__new__


def read_ber(data: bytes, expand: int = MAX_DEPTH) -> Ber:
    """The single BER element ``data`` holds, with low tag numbers, lengths of at most four octets, at most
    :data:`MAX_DEPTH` levels, and nothing after it; raises :class:`ValueError` on anything else. A constructed
    element of definite length ``expand`` levels down or deeper keeps its encoding but no children (its content is
    not read: a verifier that needs only the receipt's top levels skips the certificates' insides)."""
    return _read_whole(data, expand, -1)


def _read_whole(data: bytes, expand: int, recurring: int) -> Ber:
    element, end = _read(data, 0, len(data), 0, expand, recurring)
    if end != len(data):
        raise ValueError("bytes after the element")
    return element


@functools.lru_cache(maxsize=32)
def _read_recurring(encoding: bytes, depth: int, expand: int) -> Ber:
    """:func:`_read` of the definite-length constructed element ``encoding`` at ``depth``: a pure function of its
    bytes, remembered (bounded) for the elements that recur in every receipt (its certificates, Apple's receipt
    PKI). Raises what reading raises (nothing is remembered then)."""
    element, _end = _read(encoding, 0, len(encoding), depth, expand, -1)
    return element


def _read(data: bytes, pos: int, limit: int, depth: int, expand: int, recurring: int) -> tuple[Ber, int]:
    """The element at ``pos`` (ending by ``limit``) and where it ends; a definite-length constructed element at
    depth ``recurring`` is read by :func:`_read_recurring`."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if pos + 2 > limit:
        raise ValueError("truncated header")
    tag, first, start = data[pos], data[pos + 1], pos + 2
    if tag == 0 or tag & 0x1F == 0x1F:
        raise ValueError(f"tag {tag:#04x} where an element was expected")
    constructed = tag & 0x20
    if first == 0x80:
        if not constructed:
            raise ValueError("a primitive element with an indefinite length")
        children, at = [], start
        while not (at + 2 <= limit and data[at] == 0 and data[at + 1] == 0):
            child, at = _read(data, at, limit, depth + 1, expand, recurring)
            children.append(child)
        return _new_ber(Ber, (tag, True, b"", tuple(children), data[pos:at + 2])), at + 2
    if first > 0x80:
        count = first & 0x7F
        if count > 4 or start + count > limit:
            raise ValueError("bad length")
        length, start = int.from_bytes(data[start:start + count], "big"), start + count
    else:
        length = first
    end = start + length
    if end > limit:
        raise ValueError("the element runs past its parent")
    if not constructed:
        return _new_ber(Ber, (tag, False, data[start:end], (), data[pos:end])), end
    if depth >= expand:
        return _new_ber(Ber, (tag, False, b"", (), data[pos:end])), end
    if depth == recurring:
        return _read_recurring(data[pos:end], depth, expand), end
    children, at = [], start
    while at < end:
        child, at = _read(data, at, end, depth + 1, expand, recurring)
        children.append(child)
    return _new_ber(Ber, (tag, False, b"", tuple(children), data[pos:end])), end


def _expect(element: Ber, tag: int, what: str, count: int | None = None) -> tuple[Ber, ...]:
    if element.tag != tag or (count is not None and len(element.children) != count):
        raise ValueError(f"{what} is not the expected element")
    return element.children


def _oid(element: Ber, dotted: str, what: str) -> None:
    if element.encoding != der_oid(dotted):
        raise ValueError(f"{what} is not {dotted}")


def _integer(element: Ber, what: str) -> int:
    if element.tag != 0x02 or not element.content:
        raise ValueError(f"{what} is not an INTEGER")
    return int.from_bytes(element.content, "big", signed=True)


@dataclass(frozen=True)
class ParsedReceipt:
    """A receipt read back: its attributes ``(type, version, value)`` in order, its certificates' DER, and its
    one SignerInfo's element."""

    attributes: tuple[tuple[int, int, bytes], ...]
    certificates: tuple[bytes, ...]
    signer_info: Ber

    def value(self, kind: int) -> bytes | None:
        """The value of the attribute of type ``kind`` (None when absent)."""
        return next((value for attr, _version, value in self.attributes if attr == kind), None)


def _econtent(encap: Ber) -> bytes:
    oid, explicit = _expect(encap, 0x30, "encapContentInfo", 2)
    _oid(oid, OID_DATA, "eContentType")
    (octets,) = _expect(explicit, 0xA0, "eContent [0]", 1)
    if octets.tag == 0x04:
        return octets.content
    pieces = _expect(octets, 0x24, "eContent")
    if not all(piece.tag == 0x04 for piece in pieces):
        raise ValueError("an eContent piece is not a primitive OCTET STRING")
    return b"".join(piece.content for piece in pieces)


_RECEIPT_LEVELS = 6
"""The levels of a receipt :func:`parse_receipt` reads into: down to the eContent's pieces (ContentInfo, [0],
SignedData, encapContentInfo, [0], OCTET STRING, its pieces)."""
_CERTIFICATE_LEVEL = 4
"""The level of SignedData's certificates (ContentInfo, [0], SignedData, certificates [0], a certificate): the
definite-length constructed elements there are read once per bytes (:func:`_read_recurring`), as every receipt of
a year carries the same three certificates."""


def parse_receipt(data: bytes) -> ParsedReceipt:
    """``data`` read as an App Attest receipt: a CMS ContentInfo (BER or DER) holding SignedData with id-data
    content, one SignerInfo, and an eContent that is a SET of ``SEQUENCE {INTEGER, INTEGER, OCTET STRING}``
    with no type repeated. Raises :class:`ValueError` when it is not one. Elements below the eContent's level are
    not read into (the certificates and SignerInfo are returned as their encodings' elements)."""
    oid, explicit = _expect(_read_whole(data, _RECEIPT_LEVELS, _CERTIFICATE_LEVEL), 0x30, "ContentInfo", 2)
    _oid(oid, OID_SIGNED_DATA, "contentType")
    (signed_data,) = _expect(explicit, 0xA0, "content [0]", 1)
    fields = _expect(signed_data, 0x30, "SignedData")
    if len(fields) < 4 or fields[1].tag != 0x31:
        raise ValueError("SignedData lacks version, digestAlgorithms, encapContentInfo or signerInfos")
    _integer(fields[0], "SignedData version")
    optional = fields[3:-1]
    if [part.tag for part in optional] not in ([], [0xA0], [0xA1], [0xA0, 0xA1]):
        raise ValueError("SignedData fields are out of order")
    (signer_info,) = _expect(fields[-1], 0x31, "signerInfos", 1)
    certificates = next((part.children for part in optional if part.tag == 0xA0), ())
    attributes = []
    for attribute in _expect(read_ber(_econtent(fields[2])), 0x31, "the receipt payload"):
        kind, version, value = _expect(attribute, 0x30, "a receipt attribute", 3)
        if value.tag != 0x04:
            raise ValueError("a receipt attribute value is not an OCTET STRING")
        attributes.append((_integer(kind, "the attribute type"), _integer(version, "the version"), value.content))
    if len({kind for kind, _version, _value in attributes}) != len(attributes):
        raise ValueError("a receipt attribute type is repeated")
    return ParsedReceipt(tuple(attributes), tuple(cert.encoding for cert in certificates), signer_info)


def receipt_binding(data: bytes, known: tuple[bytes, PublicKeyTypes] | None = None
                    ) -> tuple[bytes, PublicKeyTypes] | None:
    """The App ID (field 2) and attested key (field 3's certificate) of an App Attest receipt; None when
    ``data`` is not one (does not parse, lacks either field, or field 3 is no certificate). Never raises.
    ``known``: a certificate's DER and its public key, already read (credCert), which field 3 with those bytes
    gives without being parsed again."""
    try:
        receipt = parse_receipt(data)
        app_id, cred_cert = receipt.value(APP_ID), receipt.value(ATTESTED_KEY)
        if app_id is None or cred_cert is None:
            return None
        if known is not None and cred_cert == known[0]:
            return app_id, known[1]
        return app_id, x509.load_der_x509_certificate(cred_cert).public_key()
    except CERT_PARSE_ERRORS:
        return None
