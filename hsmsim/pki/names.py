"""Certificate names read from their DER: keys that compare as cryptography's ``Name.__eq__`` compares Names.

cryptography builds a ``Name`` attribute by attribute as Python objects on first access, per certificate
object; ordering or matching many certificates by name costs that for every one. These keys are read from the
encoding instead, and are exact where they are given: where a name holds what they cannot read as
cryptography reads it, they are None and the caller compares cryptography's Names (which raise as they do).
"""

from __future__ import annotations

_UTF8_VALUE_TAGS = frozenset((0x04, 0x0C, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1A))
"""The name attribute value tags cryptography reads as the UTF-8 text of their content (its ``_ASN1Type``s but
BIT STRING, UniversalString and BMPString)."""
DerNameKey = tuple[frozenset[tuple[bytes, bytes]], ...]


def _tlv(der: bytes, pos: int) -> tuple[int, int]:
    """``(content start, end)`` of the TLV at ``pos`` of a certificate cryptography has loaded (valid DER: the
    walk checks no more than it needs to tell the fields apart)."""
    length = der[pos + 1]
    if length < 0x80:
        return pos + 2, pos + 2 + length
    start = pos + 2 + (length & 0x7F)
    return start, start + int.from_bytes(der[pos + 2:start], "big")


def name_key_from_der(der: bytes, pos: int, end: int) -> DerNameKey | None:
    """The Name whose RDNs fill ``der[pos:end]`` (of a certificate cryptography has loaded) as a key equal for
    two Names exactly when ``Name.__eq__`` says they are equal: per RDN, the set of (OID encoding, value
    content), since cryptography reads each value of a :data:`_UTF8_VALUE_TAGS` tag as its content's UTF-8
    text. None when a value has another tag or is not UTF-8, or an RDN is empty or repeats an attribute
    (cryptography's Names decide then, raising as they do)."""
    rdns = []
    while pos < end:
        if der[pos] != 0x31:
            return None
        pair, rdn_end = _tlv(der, pos)
        attributes = []
        while pair < rdn_end:
            oid, pair_end = _tlv(der, pair)
            if der[pair] != 0x30 or der[oid] != 0x06:
                return None
            value = _tlv(der, oid)[1]
            if der[value] not in _UTF8_VALUE_TAGS:
                return None
            content, content_end = _tlv(der, value)
            if content_end != pair_end:
                return None
            text = der[content:content_end]
            if not text.isascii():
                try:
                    text.decode("utf-8")
                except UnicodeDecodeError:
                    return None
            attributes.append((der[oid:value], text))
            pair = pair_end
        key = frozenset(attributes)
        if not attributes or len(key) != len(attributes):
            return None
        rdns.append(key)
        pos = rdn_end
    return tuple(rdns)


def certificate_name_keys(der: bytes) -> tuple[DerNameKey, DerNameKey] | None:
    """``(subject, issuer)`` of a certificate as :func:`name_key_from_der` keys, or None (then compare
    cryptography's Names). ``der`` must be the encoding of a certificate cryptography has loaded."""
    try:
        field = _tlv(der, _tlv(der, 0)[0])[0]  # the TBSCertificate's first field
        if der[field] == 0xA0:  # [0] version
            field = _tlv(der, field)[1]
        issuer = _tlv(der, _tlv(der, field)[1])[1]  # after serialNumber and signature
        subject = _tlv(der, _tlv(der, issuer)[1])[1]  # after validity
        issuer_key = name_key_from_der(der, *_tlv(der, issuer))
        subject_key = name_key_from_der(der, *_tlv(der, subject))
    except IndexError:
        return None
    return (subject_key, issuer_key) if subject_key is not None and issuer_key is not None else None
