"""The real DSM authority's non-DER encodings, reproduced by rewriting a TBSCertificate and re-signing it.

The authority in Fortanix's published response encodes basicConstraints ``cA FALSE`` explicitly
and its keyUsage with one unused bit; hsmsim writes both by default
(:attr:`~hsmsim.formats.fortanix.options.FortanixOptions.captured_encoding`). ``cryptography``'s
builder writes DER only, so these bytes are made by editing the extensions of a built certificate
(:func:`map_extensions`) and signing the result again (:func:`resign_tbs`); the vectors use the
same two tools for extensions a builder refuses (a duplicated extension).
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.encoding import der_children, der_content, der_oid, der_tlv
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import PrivateKey


def with_captured_encoding(cert: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """``cert`` re-signed with the published authority's two non-DER encodings, byte for byte.

    basicConstraints CA:FALSE becomes ``30 03 01 01 00`` (the DEFAULT encoded, which
    ``cryptography`` refuses to parse) and keyUsage digitalSignature ``03 02 01 80`` (one unused
    bit where DER needs seven). Other values of the two extensions are left as they are.
    """
    bc_oid, ku_oid = der_oid("2.5.29.19"), der_oid("2.5.29.15")

    def captured(extension: bytes) -> bytes:
        fields = der_children(der_content(extension))
        if fields[0] == bc_oid and fields[-1] == der_tlv(0x04, b"\x30\x00"):
            return der_tlv(0x30, b"".join(fields[:-1]) + der_tlv(0x04, der_tlv(0x30, b"\x01\x01\x00")))
        if fields[0] == ku_oid and fields[-1] == der_tlv(0x04, b"\x03\x02\x07\x80"):
            return der_tlv(0x30, b"".join(fields[:-1]) + der_tlv(0x04, b"\x03\x02\x01\x80"))
        return extension

    return resign_tbs(cert, map_extensions(cert.tbs_certificate_bytes,
                                           lambda exts: [captured(e) for e in exts]), issuer_key)


def map_extensions(tbs: bytes, fn: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """``tbs`` with its Extension TLVs replaced by ``fn(list_of_extension_tlvs)``."""
    fields = der_children(der_content(tbs))
    if not fields or fields[-1][0] != 0xA3:
        raise ValueError("TBSCertificate has no extensions")
    extensions = der_children(der_content(der_content(fields[-1])))
    fields[-1] = der_tlv(0xA3, der_tlv(0x30, b"".join(fn(extensions))))
    return der_tlv(0x30, b"".join(fields))


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
