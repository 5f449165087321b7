"""Luna roots as trust anchors: the real ECC root is one cryptography refuses to load.

The Luna verifier trusts a root by DN and key, so a root cryptography cannot load is held as a
stand-in certificate with the same subject and key (see :func:`load_trust_anchor`).
"""

from __future__ import annotations

import base64
import re

from cryptography import x509
from cryptography.x509.name import _ASN1Type

from hsmsim.errors import BundleError
from hsmsim.formats.luna.der_reader import children, oid_of, parse_document, parse_recurring_certificate
from hsmsim.formats.luna.signatures import load_public_key
from hsmsim.keystore.base import KeySpec
from hsmsim.pki.builder import CertSpec, build_certificate
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Reason, Rejected

_STRING_TYPES = {0x13: _ASN1Type.PrintableString, 0x0C: _ASN1Type.UTF8String, 0x16: _ASN1Type.IA5String}


def _standin_name(der: bytes) -> x509.Name:
    rdns = []
    for rdn in children(parse_document(der, "Name"), "Name", 64):
        attributes = []
        for attribute in children(rdn, "Name", 16):
            oid_node, value = children(attribute, "Name")[:2]
            if value.tag not in _STRING_TYPES:
                raise Rejected(Reason.UNSUPPORTED, f"name attribute string type 0x{value.tag:02x}")
            attributes.append(x509.NameAttribute(x509.ObjectIdentifier(oid_of(oid_node, "Name")),
                                                 value.value.decode("utf-8"), _type=_STRING_TYPES[value.tag]))
        rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns)


def load_trust_anchor(data: bytes) -> x509.Certificate:
    """A Luna root (PEM or DER) as a cryptography trust anchor, even where cryptography refuses it.

    The Luna verifier trusts a root by DN and key. cryptography cannot load the real ECC root (its
    ecdsa-with-SHA384 carries NULL parameters), so such a root is represented by a stand-in with
    the same subject DN (byte for byte) and public key, self-issued under a throwaway key. Raises
    :class:`BundleError` when the data is no certificate at all.
    """
    try:
        return (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data))
    except (ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
        pass
    der = data
    if b"-----BEGIN" in data:
        body = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", data, re.DOTALL)
        der = base64.b64decode(b"".join(body.group(1).split())) if body else b""
    try:
        cert = parse_recurring_certificate(der, "trust anchor")
        public_key = load_public_key(cert.spki, "trust anchor")
        name = _standin_name(cert.subject)
    except (Rejected, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"cannot use this trust anchor: {getattr(exc, 'detail', exc)}") from None
    if name.public_bytes() != cert.subject:
        raise BundleError("cannot reproduce the trust anchor's subject name")
    signer = derive_key("luna-trust-anchor-stand-in", "signer", KeySpec.parse("ec-p256"))
    return build_certificate(CertSpec(subject=name, issuer=name, public_key=public_key,  # type: ignore[arg-type]
                                      serial=abs(cert.serial) or 1, not_before=cert.not_before,
                                      not_after=cert.not_after), signer)

