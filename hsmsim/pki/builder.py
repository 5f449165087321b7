"""Small, valid-by-default certificate builders with exact control of the bytes.

Names keep the RDN order and string types given (vendors use unusual orders and mix
UTF8String with PrintableString); extensions are emitted in the order given; and
nothing is added that the caller did not ask for (no SKI/AKI unless requested).
Signatures are deterministic: RSA PKCS#1 v1.5, deterministic ECDSA (RFC 6979), Ed25519.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from hsmsim.encoding import der_children, der_content, der_tlv
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.pki.signing import HASH_ALGORITHMS

# cryptography chooses the string type of a name attribute itself unless given the private ``_type``
# (of the private enum ``_ASN1Type``); there is no public way to write a vendor's exact types, hence its
# upper bound in pyproject.toml. This module is the one place hsmsim spells either name.
StringType = _ASN1Type
"""The ASN.1 string type of a name attribute's value."""
PRINTABLE = StringType.PrintableString
UTF8 = StringType.UTF8String

_ATTR_OIDS = {
    "CN": NameOID.COMMON_NAME,
    "C": NameOID.COUNTRY_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
}


def name_attribute(oid: x509.ObjectIdentifier, value: str, string_type: StringType) -> x509.NameAttribute[str]:
    """A name attribute whose value is encoded with exactly ``string_type``."""
    return x509.NameAttribute(oid, value, _type=string_type)


def name(*rdns: tuple[str, str, StringType] | list[tuple[str, str, StringType]]) -> x509.Name:
    """An X.509 Name with RDNs in exactly this order and these string types.

    Each argument is ``(attr, value, type)`` for a single-valued RDN or a list of them
    for a multi-valued RDN; ``attr`` is one of CN, C, L, O, OU, ST.
    """
    out = []
    for rdn in rdns:
        items = rdn if isinstance(rdn, list) else [rdn]
        out.append(x509.RelativeDistinguishedName(
            [name_attribute(_ATTR_OIDS[a], v, t) for a, v, t in items]
        ))
    return x509.Name(out)


@dataclass(frozen=True)
class Ext:
    """One extension with its criticality, in the position it should be encoded."""

    value: x509.ExtensionType
    critical: bool = False


def key_usage(*usages: str) -> x509.KeyUsage:
    """A KeyUsage with exactly the named bits set (e.g. ``"digital_signature"``, ``"key_cert_sign"``)."""
    fields = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
        False,
    )
    for usage in usages:
        if usage not in fields:
            raise ValueError(f"unknown key usage {usage!r}")
        fields[usage] = True
    return x509.KeyUsage(**fields)


# Certificates and CSRs are signed with SHA-2 only: SHA-1 is there for verifying old evidence.
_SIGNING_HASHES = {name: HASH_ALGORITHMS[name] for name in ("sha256", "sha384", "sha512")}


def sign_args(key: PrivateKey, hash_name: str = "sha256") -> dict[str, object]:
    """Keyword arguments for cryptography's ``.sign()`` giving deterministic signatures."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return {"private_key": key, "algorithm": None}
    algorithm = _SIGNING_HASHES[hash_name]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"private_key": key, "algorithm": algorithm, "ecdsa_deterministic": True}
    assert isinstance(key, rsa.RSAPrivateKey)
    return {"private_key": key, "algorithm": algorithm}


@dataclass(frozen=True)
class CertSpec:
    """Everything that goes into one certificate; defaults give a valid end-entity cert."""

    subject: x509.Name
    issuer: x509.Name
    public_key: PublicKey
    serial: int
    not_before: datetime
    not_after: datetime
    extensions: tuple[Ext, ...] = field(default_factory=tuple)
    hash_name: str = "sha256"


@dataclass(frozen=True)
class Issuer:
    """A CA certificate with its private key: what signs the certificates below it."""

    key: PrivateKey
    certificate: x509.Certificate


def build_certificate(spec: CertSpec, issuer_key: PrivateKey) -> x509.Certificate:
    """Build and sign ``spec`` with ``issuer_key``; identical inputs give identical DER."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(spec.subject)
        .issuer_name(spec.issuer)
        .public_key(spec.public_key)
        .serial_number(spec.serial)
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
    )
    for ext in spec.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    return builder.sign(**sign_args(issuer_key, spec.hash_name))  # type: ignore[arg-type]


def spec_of_certificate(cert: x509.Certificate) -> CertSpec:
    """The :class:`CertSpec` that reproduces ``cert`` (same names, key, serial, validity, extensions, and
    signature digest where :func:`sign_args` has it; SHA-256 otherwise)."""
    digest = cert.signature_hash_algorithm
    return CertSpec(
        subject=cert.subject, issuer=cert.issuer, public_key=cert.public_key(),  # type: ignore[arg-type]
        serial=cert.serial_number, not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        extensions=tuple(Ext(e.value, e.critical) for e in cert.extensions),
        hash_name=digest.name if digest is not None and digest.name in _SIGNING_HASHES else "sha256",
    )


def verbatim_extensions(cert: x509.Certificate) -> list[Ext]:
    """``cert``'s extensions in order, each holding the DER value the certificate carries (an
    :class:`~cryptography.x509.UnrecognizedExtension`), so a re-issue writes them byte for byte; cryptography would
    re-encode a parsed value (a BMPString user notice becomes a UTF8String)."""
    _fields, tlvs = extension_tlvs(cert.tbs_certificate_bytes)
    # Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }: the value is last.
    return [Ext(x509.UnrecognizedExtension(e.oid, der_content(der_children(der_content(tlv))[-1])), e.critical)
            for e, tlv in zip(cert.extensions, tlvs, strict=True)]


def reissue(cert: x509.Certificate, issuer_key: PrivateKey, **changes: object) -> x509.Certificate:
    """``cert`` rebuilt with ``changes`` (any :class:`CertSpec` field) and signed by ``issuer_key``."""
    return build_certificate(replace(spec_of_certificate(cert), **changes), issuer_key)  # type: ignore[arg-type]


def build_csr(subject: x509.Name, key: PrivateKey, hash_name: str = "sha256",
              extensions: tuple[Ext, ...] = ()) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for ``key`` signed by ``key`` itself (deterministically).

    ``extensions``, in this order, become one extensionRequest attribute; none gives an empty
    attribute set.
    """
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    for ext in extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    args = sign_args(key, hash_name)
    return builder.sign(**args)  # type: ignore[arg-type]


# -- raw certificate edits: what a builder refuses to write (non-DER values, duplicated extensions) --

def extension_tlvs(tbs: bytes) -> tuple[list[bytes], list[bytes]]:
    """``tbs``'s fields before its extensions, and its Extension TLVs, as the bytes it holds.

    Raises :class:`ValueError` when ``tbs`` has no extensions or its framing cannot be read.
    """
    fields = der_children(der_content(tbs))
    if not fields or fields[-1][0] != 0xA3:
        raise ValueError("TBSCertificate has no extensions")
    return fields[:-1], der_children(der_content(der_content(fields[-1])))


def with_extension_tlvs(fields: list[bytes], extensions: list[bytes]) -> bytes:
    """The TBSCertificate of ``fields`` (as :func:`extension_tlvs` returns them) followed by the Extension TLVs
    ``extensions``, framed in DER."""
    return der_tlv(0x30, b"".join(fields) + der_tlv(0xA3, der_tlv(0x30, b"".join(extensions))))


def map_extensions(tbs: bytes, fn: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """``tbs`` with its Extension TLVs replaced by ``fn(list_of_extension_tlvs)``."""
    fields, extensions = extension_tlvs(tbs)
    return with_extension_tlvs(fields, fn(extensions))


def resign_tbs(cert: x509.Certificate, tbs: bytes, issuer_key: PrivateKey) -> x509.Certificate:
    """A certificate with TBSCertificate ``tbs``, ``cert``'s signature algorithm and a fresh signature."""
    algorithm = der_children(der_content(cert.public_bytes(Encoding.DER)))[1]
    hash_algorithm = cert.signature_hash_algorithm or hashes.SHA256()
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        signature = issuer_key.sign(tbs, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        signature = issuer_key.sign(tbs, ec.ECDSA(hash_algorithm, deterministic_signing=True))
    else:
        raise UnsupportedKeyError("only RSA and EC issuers re-sign raw certificates")
    der = der_tlv(0x30, tbs + algorithm + der_tlv(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)
