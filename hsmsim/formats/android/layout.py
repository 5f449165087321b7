"""What tells Android evidence on disk, importable without the KeyDescription codec, verifiers, generators or PKI:
the file names and suffixes, the chain bound and the KeyDescription extension a chain's leaf is recognised by.
:mod:`~hsmsim.formats.android.verify`, :mod:`~hsmsim.formats.android.acme` and the generators use the same
names."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

OID_KEY_DESCRIPTION = "1.3.6.1.4.1.11129.2.1.17"
"""The attestation extension carried by the leaf certificate."""
CHAIN_SUFFIXES = (".pem", ".crt")
MAX_CHAIN_FILE_BYTES = 256 * 1024
CHALLENGE_SUFFIX = ".challenge"
ROOTS_FILE = "attestation_roots.pem"
"""Written beside what ``attest`` produces (not part of what the device sends): the emulated roots a relying party
pins, PEM, as Google's ``roots.json`` lists them: the legacy RSA root and the 2026 P-384 root. ``verify --root``
takes it; a chain of any shape ends at one of them."""
STATUS_FILE = "attestation-status.json"
ATTOBJ_SUFFIX = ".attobj"
KEYAUTH_SUFFIX = ".keyauth"
IDENTIFIER_SUFFIX = ".identifier"
CSR_SUFFIX = ".csr"

_OID = ObjectIdentifier(OID_KEY_DESCRIPTION)


def key_description_der(cert: x509.Certificate) -> bytes | None:
    """The KeyDescription extension value of ``cert``, or None."""
    try:
        ext = cert.extensions.get_extension_for_oid(_OID)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    assert isinstance(value, x509.UnrecognizedExtension)
    return value.value
