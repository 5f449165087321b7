"""DER, PEM, SPKI and OID helpers shared by every format (one copy each).

Encoders build definite, minimal-length DER; readers are bounded and raise :class:`ValueError`
on a bad header (a format maps that to its own reason). OIDs go through asn1crypto. Bytes a vendor
writes differently from DER are produced where that vendor's quirk is reproduced, and named after it.
"""

from __future__ import annotations

import base64

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAX_LENGTH_OCTETS = 4
"""Longest length field the readers accept (4 GiB - 1 content octets; anything longer is hostile)."""


def der_tlv(tag: int, content: bytes) -> bytes:
    """One TLV with a low tag number and a minimal definite length."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def der_sequence(*parts: bytes) -> bytes:
    """A SEQUENCE of already encoded parts."""
    return der_tlv(0x30, b"".join(parts))


def der_oid(dotted: str) -> bytes:
    """The DER OBJECT IDENTIFIER TLV of a dotted OID."""
    return bytes(core.ObjectIdentifier(dotted).dump())


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """``(tag, content_start, end)`` of the TLV at ``pos``.

    Raises :class:`ValueError` for a truncated header, a high tag number, an indefinite or over-long
    length, or content running past the end of ``data``.
    """
    if pos + 2 > len(data):
        raise ValueError("truncated TLV header")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not supported")
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > MAX_LENGTH_OCTETS or start + count > len(data):
            raise ValueError("bad TLV length")
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("TLV runs past the end of its parent")
    return tag, start, start + length


def der_content(tlv: bytes) -> bytes:
    """The content octets of a single TLV, which must fill ``tlv``; raises :class:`ValueError`."""
    _tag, start, end = read_tlv(tlv)
    if end != len(tlv):
        raise ValueError("bytes after the TLV")
    return tlv[start:end]


def der_children(content: bytes) -> list[bytes]:
    """The TLVs concatenated in ``content``, each as its full encoding; raises :class:`ValueError`."""
    out, pos = [], 0
    while pos < len(content):
        _tag, _start, end = read_tlv(content, pos)
        out.append(content[pos:end])
        pos = end
    return out


def spki_der(public_key: PublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of any public key (e.g. a certificate's, whatever its algorithm)."""
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def pem(der: bytes, label: str = "CERTIFICATE", newline: bytes = b"\n") -> bytes:
    """PEM armour with 64-column lines, newline-terminated (``newline`` b"\\r\\n" for CRLF writers)."""
    body = base64.b64encode(der)
    lines = [b"-----BEGIN " + label.encode() + b"-----"]
    lines += [body[i:i + 64] for i in range(0, len(body), 64)]
    lines.append(b"-----END " + label.encode() + b"-----")
    return newline.join(lines) + newline


def cert_pem(cert: x509.Certificate) -> bytes:
    """The PEM of a certificate, newline-terminated (as OpenSSL and cryptography write it)."""
    return pem(cert.public_bytes(Encoding.DER))
