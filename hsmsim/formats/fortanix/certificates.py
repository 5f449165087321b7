"""Reading the certificates of a DSM response: DER, or the BER extension values real DSM authorities carry.

The published DSM authority encodes basicConstraints' DEFAULT ``cA FALSE`` explicitly and its
keyUsage with one unused bit where DER needs seven; ``cryptography``'s DER parser refuses the
first (``EncodedDefault``). A verifier that must accept real DSM evidence reads such a certificate
leniently, and only there: every extension value whose type asn1crypto knows is decoded and
re-encoded as DER; when one differs, the certificate is rebuilt around those DER values (every
other byte copied) and ``cryptography`` reads the rebuilt bytes strictly. Anything non-DER outside
an extension value stays MALFORMED. The certificate as received is kept: every signature, on it or
by it, is verified over the received TBSCertificate, never over the re-encoding.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from hsmsim.encoding import der_children, der_content, der_tlv
from hsmsim.pki.builder import extension_tlvs, with_extension_tlvs
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed
from hsmsim.verdict import Reason, Rejected

_ASN1CRYPTO_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


@dataclass(frozen=True)
class ReadCertificate:
    """One certificate of the response: what the verifier reads, and the bytes that were signed."""

    cert: x509.Certificate
    """The certificate to read fields from: ``received`` itself, or its DER re-encoding."""
    received: x509.Certificate
    """The certificate as received; signatures on it are verified over its TBSCertificate."""
    non_der: tuple[str, ...] = ()
    """The extensions (asn1crypto names) whose values were not DER, in certificate order."""


@lru_cache(maxsize=1024)
def _der_extension(extension: bytes) -> tuple[bytes, str | None]:
    """``extension`` with its value re-encoded as DER, and its name when that changed a byte (a pure
    function of the bytes: the authorities' extensions recur in every response, decoded once)."""
    try:
        parsed = ax509.Extension.load(extension, strict=True)
        name = str(parsed["extn_id"].native)
        spec = parsed.spec("extn_value")
        if spec is core.ParsableOctetString:  # a type asn1crypto does not know: left to cryptography
            return extension, None
        value = parsed["extn_value"].contents
        der = spec.load(value, strict=True).dump(force=True)
    except _ASN1CRYPTO_ERRORS:
        return extension, None  # cryptography reads it strictly and names the defect
    if der == value:
        return extension, None
    fields = der_children(der_content(extension))
    return der_tlv(0x30, b"".join(fields[:-1]) + der_tlv(0x04, der)), name


def der_reencoding(der: bytes) -> tuple[bytes, tuple[str, ...]]:
    """``der`` with every non-DER extension value of a known type re-encoded as DER, and their names.

    Returns ``der`` unchanged with no names when every value is DER. Raises :class:`ValueError`
    when some value is not DER and the framing around the extensions is not DER either.
    """
    try:
        tbs, algorithm, signature = der_children(der_content(der))
        fields, extensions = extension_tlvs(tbs)
        reencoded = [_der_extension(extension) for extension in extensions]
    except ValueError:
        return der, ()  # no extensions, or a framing cryptography refuses by itself
    names = tuple(name for _value, name in reencoded if name is not None)
    if not names:
        return der, ()
    if with_extension_tlvs(fields, extensions) != tbs:
        raise ValueError("the framing around the non-DER extension values is not DER either")
    rebuilt = with_extension_tlvs(fields, [value for value, _name in reencoded])
    return der_tlv(0x30, rebuilt + algorithm + signature), names


def _strictly_parsed(der: bytes, what: str, repeated: Reason) -> x509.Certificate:
    """``cryptography``'s reading of ``der`` with every field the verifier uses (it parses lazily); a repeated
    extension is rejected with ``repeated``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # hostile input: negative serials, odd name lengths, ...
            cert = fully_parsed(x509.load_der_x509_certificate(der))
    except x509.DuplicateExtension as exc:
        raise Rejected(repeated, f"{what} carries extension {exc.oid.dotted_string} twice") from None
    except UnsupportedAlgorithm as exc:
        raise Rejected(Reason.UNSUPPORTED, f"{what} uses an unsupported algorithm: {str(exc)[:80]}") from None
    except (*CERT_PARSE_ERRORS, x509.UnsupportedGeneralNameType) as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not a DER X.509 certificate: {str(exc)[:80]}") from None
    if cert.serial_number <= 0:
        raise Rejected(Reason.MALFORMED, f"{what} has a serial number that is not positive")
    return cert


def read_certificate(der: bytes, what: str, *, repeated: Reason = Reason.MALFORMED) -> ReadCertificate:
    """Read one certificate of the response, leniently only inside extension values.

    Raises :class:`Rejected`: MALFORMED (not a certificate, non-DER outside extension values,
    a field cryptography refuses), ``repeated`` (an extension twice: MALFORMED for a chain certificate, as
    RFC 5280 4.2 forbids it; the statement passes ATTR_CONFLICT, as its extensions are the key's claims),
    UNSUPPORTED (algorithm).
    """
    try:
        reencoded, non_der = der_reencoding(der)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not DER: {exc}") from None
    if not non_der:
        cert = _strictly_parsed(der, what, repeated)
        return ReadCertificate(cert, cert)
    try:
        received = x509.load_der_x509_certificate(der)
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not an X.509 certificate: {str(exc)[:80]}") from None
    return ReadCertificate(_strictly_parsed(reencoded, what, repeated), received, non_der)


@lru_cache(maxsize=64)
def read_chain_certificate(der: bytes, what: str) -> ReadCertificate:
    """:func:`read_certificate` of an ``authority_chain`` entry, once per process for the same bytes: a
    cluster's authority, its CA and the root recur in every response, while the statement, new in each
    response, is read afresh. A certificate that is refused is not remembered."""
    return read_certificate(der, what)
