"""The real DSM authority's non-DER encodings, reproduced by rewriting a TBSCertificate and re-signing it.

The authority in Fortanix's published response encodes basicConstraints ``cA FALSE`` explicitly
and its keyUsage with one unused bit; hsmsim writes both by default
(:attr:`~hsmsim.formats.fortanix.options.FortanixOptions.captured_encoding`). ``cryptography``'s
builder writes DER only, so these bytes are made by editing the extensions of a built certificate
(:func:`hsmsim.pki.builder.map_extensions`) and signing the result again
(:func:`hsmsim.pki.builder.resign_tbs`).
"""

from __future__ import annotations

from cryptography import x509

from hsmsim.encoding import der_children, der_content, der_oid, der_tlv
from hsmsim.keystore.base import PrivateKey
from hsmsim.pki.builder import map_extensions, resign_tbs


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
