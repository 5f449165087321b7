"""Apple's attestation certificate extensions (arc 1.2.840.113635.100.8) and the x5c chain check.

* **8.2**, the App Attest and WebAuthn ``apple`` nonce: ``SEQUENCE { [1] EXPLICIT OCTET STRING (32) }``,
  i.e. DER ``30 24 a1 22 04 20 || nonce``. The reader parses the structure and insists on that one DER
  encoding (parsers slicing ``value[6:]`` accept long-form or re-wrapped encodings; this one does not).
* **8.5 / 8.7**, on App Attest credCerts only: a device description and the OS version, each a SEQUENCE of
  ``[n] EXPLICIT`` entries in Android's KeyDescription style. Apple documents neither; the emulation writes
  what the published 2022 credCert (fido2-net-lib's App Attest sample) carries, with the App ID in
  ``[1204]`` and the OS version in ``[1400]``. The verifier does not read them (App Attest's steps do not).
* **9.1 / 9.2** device serial number / UDID, **10.1 / 10.2 / 10.3** OS / sepOS / LLB version, **11.1** the
  ACME freshness code: Managed Device Attestation values are the **raw** bytes of the extnValue (UTF-8 text,
  the freshness code 32 bytes), not DER, as step-ca reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.encoding import der_content, der_explicit, der_integer, der_sequence, der_tlv
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed, validate_chain
from hsmsim.verdict import Reason, Rejected

OID_NONCE = "1.2.840.113635.100.8.2"
OID_APP_ATTEST_DEVICE = "1.2.840.113635.100.8.5"
OID_APP_ATTEST_OS = "1.2.840.113635.100.8.7"
OID_SERIAL = "1.2.840.113635.100.8.9.1"
OID_UDID = "1.2.840.113635.100.8.9.2"
OID_OS_VERSION = "1.2.840.113635.100.8.10.1"
OID_SEPOS_VERSION = "1.2.840.113635.100.8.10.2"
OID_FRESHNESS = "1.2.840.113635.100.8.11.1"
MAX_X5C = 4
MAX_DEVICE_TEXT = 256


def nonce_extension_value(nonce: bytes) -> bytes:
    """The DER value of extension 8.2 carrying ``nonce``."""
    return der_tlv(0x30, der_tlv(0xA1, der_tlv(0x04, nonce)))


def app_attest_device_value(app_id: str) -> bytes:
    """The DER value of extension 8.5 as the published App Attest credCert writes it: its entries and integers
    (meanings undocumented) in its order, the App ID in ``[1204]``, ``"sks "`` in ``[5]``."""
    def integer(number: int, value: int) -> bytes:
        return der_explicit(number, der_integer(value))

    return der_sequence(
        integer(4, 10), integer(1200, 1), integer(1201, 0), integer(1202, 1), integer(1203, 1),
        der_explicit(1204, der_tlv(0x04, app_id.encode())), der_explicit(5, der_tlv(0x04, b"sks ")),
        integer(1206, 5), integer(1207, 0), integer(1209, 0), integer(1210, 0))


def app_attest_os_value(os_version: str) -> bytes:
    """The DER value of extension 8.7: ``SEQUENCE { [1400] EXPLICIT OCTET STRING os_version }``."""
    return der_sequence(der_explicit(1400, der_tlv(0x04, os_version.encode())))


def extension_value(cert: x509.Certificate, oid: str) -> bytes | None:
    """The raw extnValue of extension ``oid`` in ``cert``, or None when absent."""
    try:
        ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid))
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()


def read_nonce(cert: x509.Certificate, expected: bytes, what: str) -> None:
    """Extension 8.2 is present (ATTR_MISSING), DER ``SEQUENCE {[1] {OCTET STRING}}`` (MALFORMED) and carries
    ``expected`` (CHALLENGE_MISMATCH); ``what`` says how ``expected`` was computed."""
    value = extension_value(cert, OID_NONCE)
    if value is None:
        raise Rejected(Reason.ATTR_MISSING, f"credCert has no nonce extension {OID_NONCE}")
    try:
        sequence = der_content(value)
        tagged = der_content(sequence)
        octets = der_content(tagged)
        if value[0] != 0x30 or sequence[0] != 0xA1 or tagged[0] != 0x04:
            raise ValueError("not SEQUENCE { [1] { OCTET STRING } }")
    except (ValueError, IndexError) as exc:
        raise Rejected(Reason.MALFORMED, f"nonce extension {OID_NONCE} does not parse: {exc}") from None
    if value != nonce_extension_value(octets):
        raise Rejected(Reason.MALFORMED, f"nonce extension {OID_NONCE} is not DER (long-form or padded lengths)")
    if octets != expected:
        raise Rejected(Reason.CHALLENGE_MISMATCH, f"credCert nonce {octets.hex()[:64]} is not {what}")


def device_text(cert: x509.Certificate, oid: str, what: str) -> str | None:
    """The UTF-8 text of a raw Managed Device Attestation extension, None when absent (MALFORMED if not text)."""
    value = extension_value(cert, oid)
    if value is None:
        return None
    if len(value) > MAX_DEVICE_TEXT:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the {what} extension is longer than {MAX_DEVICE_TEXT} bytes")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(Reason.MALFORMED, f"the {what} extension {oid} is not UTF-8 text") from None


def load_x5c(x5c: object) -> list[x509.Certificate]:
    """The certificates of an attStmt ``x5c``: a non-empty array of at most MAX_X5C DER certificates
    (MALFORMED / LIMIT_EXCEEDED)."""
    if not isinstance(x5c, list) or not x5c or not all(isinstance(item, bytes) for item in x5c):
        raise Rejected(Reason.MALFORMED, "attStmt x5c is not a non-empty array of byte strings")
    if len(x5c) > MAX_X5C:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"x5c holds {len(x5c)} certificates (at most {MAX_X5C})")
    try:
        return [fully_parsed(x509.load_der_x509_certificate(der)) for der in x5c]
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"an x5c certificate does not parse: {str(exc)[:120]}") from None


def check_x5c(certs: Sequence[x509.Certificate], anchors: list[x509.Certificate], at: datetime) -> None:
    """``certs[0]`` chains through ``certs[1:]`` to an anchor (the reasons of
    :func:`hsmsim.pki.chain.validate_chain`), and x5c holds nothing off that path: a self-signed certificate
    that is no anchor is CHAIN_UNTRUSTED (a foreign root appended), anything else MALFORMED."""
    path = validate_chain(certs[0], list(certs[1:]), anchors, at)
    for index, cert in enumerate(certs):
        if cert in path:  # a Certificate compares by its DER
            continue
        if cert.issuer == cert.subject:
            raise Rejected(Reason.CHAIN_UNTRUSTED, f"x5c[{index}] is a self-signed certificate that is not a "
                                                   "trust anchor")
        raise Rejected(Reason.MALFORMED, f"x5c[{index}] is not on the path from the leaf to the anchor")
