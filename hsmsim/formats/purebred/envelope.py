"""The Purebred enrollment envelope: PKCS#10 requests with one private evidence attribute, and the
pre-enrollment containers.

A Purebred device enrolls with a PKCS#10 request (the SCEP inner request) carrying its key's evidence in
one private attribute under DISA's arc ``1.3.6.1.4.1.37623.26`` (``shared/interop`` README §6):

* ``.26.2`` Android: the value is an **OCTET STRING** whose content is a ContentInfo, a certs-only
  SignedData holding the Android key attestation chain (a SET OF: the devices write it in DER order, readers
  take any order);
* ``.26.3`` Windows: the value is the ContentInfo itself, the CMC Full PKI Request the Windows client
  makes for a TPM key (MS-WCCE key attestation, the ``ms-kast`` format);
* ``.26.4`` YubiKey: the value is the ContentInfo itself, a certs-only SignedData holding the f9
  certificate and the slot's attestation certificate.

Before it enrolls, a device pre-enrolls with its evidence alone: an Android device sends the certs-only
SignedData, a Windows device the CMC request, a YubiKey the same PKCS#10 request. Every decoder here
raises :class:`ValueError` on a structure the envelope does not allow (the verifier says MALFORMED).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from hsmsim.encoding import (
    der_children,
    der_content,
    der_oid,
    der_sequence,
    der_set_of_order,
    der_tlv,
    oid_dotted,
    read_tlv,
)
from hsmsim.formats.purebred import layout
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.pki.signing import sign

ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_DATA = "1.2.840.113549.1.7.1"
ID_CCT_PKI_DATA = "1.3.6.1.5.5.7.12.2"
"""eContentType of a CMC Full PKI Request (RFC 5272)."""
CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
OCTET_STRING, SEQUENCE = 0x04, 0x30


@dataclass(frozen=True)
class Kind:
    """One evidence kind: its attribute, the format that verifies its evidence, how the value is wrapped."""

    name: str
    oid: str
    inner_format: str
    octet_wrapped: bool
    certs_only: bool
    """The ContentInfo is a certs-only SignedData (else the inner format reads it whole)."""
    requests_key_identifier: bool
    """The request asks for a subject key identifier (an extensionRequest before the challengePassword), as the
    real Android and Windows requests do and the YubiKey ones do not."""


ANDROID = Kind("android", layout.ATTRIBUTE_OIDS["android"], "android-key", octet_wrapped=True, certs_only=True,
               requests_key_identifier=True)
WINDOWS = Kind("windows", layout.ATTRIBUTE_OIDS["windows"], "ms-kast", octet_wrapped=False, certs_only=False,
               requests_key_identifier=True)
YUBIKEY = Kind("yubikey", layout.ATTRIBUTE_OIDS["yubikey"], "yubico-piv", octet_wrapped=False, certs_only=True,
               requests_key_identifier=False)
KINDS = {kind.name: kind for kind in (ANDROID, WINDOWS, YUBIKEY)}
KINDS_BY_OID = {kind.oid: kind for kind in KINDS.values()}


def read_oid(tlv: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER TLV."""
    if read_tlv(tlv)[0] != 0x06:
        raise ValueError("not an OBJECT IDENTIFIER")
    return oid_dotted(tlv)


def _items(tlv: bytes, tag: int, what: str) -> list[bytes]:
    if read_tlv(tlv)[0] != tag:
        raise ValueError(f"{what} has tag {tlv[0]:#04x}, not {tag:#04x}")
    return der_children(der_content(tlv))


# -- ContentInfo and certs-only SignedData ------------------------------------------------------

@dataclass(frozen=True)
class SignedData:
    """A SignedData opened up: eContentType, whether eContent is present, certificates, signerInfos."""

    content_type: str
    has_content: bool
    certificates: tuple[bytes, ...] | None
    signer_infos: tuple[bytes, ...]


def content_info(content_type: str, content: bytes) -> bytes:
    """``ContentInfo{contentType, [0] EXPLICIT content}``."""
    return der_sequence(der_oid(content_type), der_tlv(0xA0, content))


def certs_only(certificates: Sequence[bytes], *, signer_infos: Sequence[bytes] = (), econtent: bytes | None = None,
               as_given: bool = False) -> bytes:
    """A certs-only ("degenerate") SignedData ContentInfo holding ``certificates`` in DER SET OF order (X.690
    §11.6), as every real Android and YubiKey bag has them, or (``as_given``) in the given order.

    ``signer_infos`` and ``econtent`` make the non-degenerate variants a vector needs.
    """
    if not as_given:
        certificates = der_set_of_order(certificates)
    encap = [der_oid(ID_DATA)] + ([der_tlv(0xA0, der_tlv(OCTET_STRING, econtent))] if econtent is not None else [])
    signed = der_sequence(der_tlv(0x02, b"\x01"), der_tlv(0x31, b""), der_sequence(*encap),
                          der_tlv(0xA0, b"".join(certificates)), der_tlv(0x31, b"".join(signer_infos)))
    return content_info(ID_SIGNED_DATA, signed)


def read_signed_data(der: bytes) -> SignedData:
    """The SignedData of a ContentInfo; raises ValueError."""
    parts = _items(der, SEQUENCE, "ContentInfo")
    if len(parts) != 2 or read_oid(parts[0]) != ID_SIGNED_DATA or parts[1][:1] != b"\xa0":
        raise ValueError("ContentInfo is not {id-signedData, [0] SignedData}")
    fields = _items(der_content(parts[1]), SEQUENCE, "SignedData")
    if len(fields) < 4 or fields[0][:1] != b"\x02" or fields[1][:1] != b"\x31":
        raise ValueError("SignedData is not {version, digestAlgorithms, encapContentInfo, ..., signerInfos}")
    encap = _items(fields[2], SEQUENCE, "EncapsulatedContentInfo")
    if not encap or len(encap) > 2 or (len(encap) == 2 and encap[1][:1] != b"\xa0"):
        raise ValueError("EncapsulatedContentInfo is not {eContentType, [0] eContent OPTIONAL}")
    rest = fields[3:]
    certificates = None
    if rest and rest[0][:1] == b"\xa0":
        certificates = tuple(der_children(der_content(rest[0])))
        rest = rest[1:]
    if rest and rest[0][:1] == b"\xa1":
        rest = rest[1:]  # crls
    if len(rest) != 1:
        raise ValueError("SignedData does not end with its signerInfos")
    signer_infos = tuple(_items(rest[0], 0x31, "signerInfos"))
    return SignedData(read_oid(encap[0]), len(encap) == 2, certificates, signer_infos)


def wrap(kind: Kind, content_info_der: bytes) -> bytes:
    """The attribute value of ``kind`` as the real requests wrap it."""
    return der_tlv(OCTET_STRING, content_info_der) if kind.octet_wrapped else content_info_der


def unwrap(kind: Kind, value: bytes) -> bytes:
    """The ContentInfo DER inside an attribute value, which must be wrapped as real requests wrap ``kind``."""
    tag = read_tlv(value)[0]
    if kind.octet_wrapped:
        if tag != OCTET_STRING:
            raise ValueError(f"the {kind.name} attribute value is not an OCTET STRING wrapping the ContentInfo "
                             f"(tag {tag:#04x}), as real requests wrap it")
        inner = der_content(value)
        if not inner or read_tlv(inner)[2] != len(inner) or inner[0] != SEQUENCE:
            raise ValueError(f"the {kind.name} OCTET STRING does not hold exactly one ContentInfo")
        return inner
    if tag != SEQUENCE:
        raise ValueError(f"the {kind.name} attribute value is not a bare ContentInfo (tag {tag:#04x}), as real "
                         "requests carry it")
    der_content(value)
    return value


def is_certs_bag(der: bytes) -> bool:
    """True when ``der`` is a ContentInfo SignedData carrying plain data (a certs-only bag), not a CMC request."""
    return _content_type(der) == ID_DATA


def is_cmc_request(der: bytes) -> bool:
    """True when ``der`` is a ContentInfo SignedData carrying CMC PKIData (a Windows pre-enrollment container)."""
    return _content_type(der) == ID_CCT_PKI_DATA


def _content_type(der: bytes) -> str | None:
    try:
        return read_signed_data(der).content_type
    except ValueError:
        return None


# -- PKCS#10 ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """A CertificationRequest opened up: its SPKI DER and its attributes ``(oid, [values])``, in order."""

    spki: bytes
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...]


def read_request(der: bytes) -> Request:
    """The SPKI and attributes of a DER CertificationRequest; raises ValueError."""
    outer = _items(der, SEQUENCE, "CertificationRequest")
    if len(outer) != 3:
        raise ValueError("CertificationRequest is not {info, algorithm, signature}")
    info = _items(outer[0], SEQUENCE, "CertificationRequestInfo")
    if len(info) != 4 or info[3][:1] != b"\xa0":
        raise ValueError("CertificationRequestInfo is not {version, subject, spki, [0] attributes}")
    attributes = []
    for attribute in der_children(der_content(info[3])):
        parts = _items(attribute, SEQUENCE, "Attribute")
        if len(parts) != 2:
            raise ValueError("Attribute is not {type, values}")
        attributes.append((read_oid(parts[0]), tuple(_items(parts[1], 0x31, "Attribute values"))))
    return Request(info[2], tuple(attributes))


def is_request(der: bytes) -> bool:
    """True when ``der`` parses as a CertificationRequest."""
    try:
        read_request(der)
    except ValueError:
        return False
    return True


@dataclass
class RequestDraft:
    """A Purebred request before encoding: subject, key, attributes in order, and the key that signs it."""

    subject: x509.Name
    spki: bytes
    signer: PrivateKey
    attributes: list[tuple[str, list[bytes]]] = field(default_factory=list)

    def build(self) -> bytes:
        """The CertificationRequest DER; attributes in DER SET OF order (cryptography refuses another), the
        values of each as given."""
        attrs = b"".join(sorted(der_sequence(der_oid(oid), der_tlv(0x31, b"".join(values)))
                                for oid, values in self.attributes))
        info = der_sequence(der_tlv(0x02, b"\x00"), self.subject.public_bytes(), self.spki, der_tlv(0xA0, attrs))
        algorithm, signature = sign(self.signer, info)
        return der_sequence(info, algorithm, der_tlv(0x03, b"\x00" + signature))


def key_identifier_request(public_key: PublicKey) -> bytes:
    """The extensionRequest value asking for the key's subject key identifier (SHA-1 of its subjectPublicKey,
    not critical), as the real requests carry it."""
    digest = x509.SubjectKeyIdentifier.from_public_key(public_key).digest
    return der_sequence(der_sequence(der_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string),
                                     der_tlv(OCTET_STRING, der_tlv(OCTET_STRING, digest))))


def printable(text: str) -> bytes:
    """A PrintableString TLV (a SCEP challengePassword as the real requests carry it)."""
    return der_tlv(0x13, text.encode("ascii"))
