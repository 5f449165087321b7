"""What tells TPM evidence on disk, importable without the TPM codecs, the emulated TPM, verifiers, generators or
PKI: the formats' names, record suffixes and bounds, the files read beside a record and the trust roles, the key
specs and PKI hierarchies a format object is configured with, and the first byte a Windows certificate request
starts with. :mod:`~hsmsim.formats.tpm.acme`, :mod:`~hsmsim.formats.tpm.parsec`,
:mod:`~hsmsim.formats.tpm.kast_format`, :mod:`~hsmsim.formats.tpm.kast`, :mod:`~hsmsim.formats.tpm.device` and
:mod:`~hsmsim.formats.tpm.pki` use the same values."""

from __future__ import annotations

from typing import Literal

from hsmsim.webauthn.limits import MAX_ATTESTATION_OBJECT

TPM_KEY_SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")
"""What the emulated TPM can create or import (TPM 2.0 PC Client: RSA-2048/3072, NIST P-256/P-384)."""
TpmPkiProfile = Literal["rsa", "ecdsa-p384"]
"""The emulated CAs' algorithms: ``rsa`` (the default, as Microsoft's TPM root and AIK CAs) or
``ecdsa-p384`` (hsmsim's earlier hierarchy, as the ECC EK roots); see :mod:`hsmsim.formats.tpm.pki`. A property of
the emulated TPM (``EmulatedTpm.pki_profile``): its EK and AK certificates all come from one hierarchy."""
DEFAULT_PKI_PROFILE: TpmPkiProfile = "rsa"
MAX_STATEMENT_RECORD_BYTES = 2 * MAX_ATTESTATION_OBJECT
"""The bound of a record holding a WebAuthn-shaped ``tpm`` statement (``tpm-acme``'s)."""

ACME_FORMAT = "tpm-acme"
ACME_RECORD_SUFFIX = ".acme-tpm.json"

PARSEC_FORMAT = "parsec-tpm"
PARSEC_RECORD_SUFFIX = ".parsec-tpm.json"
AK_CHAIN_SUFFIX = ".ak-chain.pem"
ACTIVATION_SUFFIX = ".activate-credential.json"
PARSEC_MAX_RECORD_BYTES = 16 * 1024
MIN_NONCE_BYTES = 16
"""The shortest nonce (expectedNonce, and so certInfo's and the quote's extraData) the verifier takes as a challenge:
a CHOICE, the floor TPM 2.0 sets for its own session nonces (Part 3 §11.1, TPM2_StartAuthSession: nonceCaller of at
least 16 octets) and 128 bits of freshness. The emulator sends 32 bytes. Parsec and the CCC procedure name no
minimum; :attr:`ParsecTpmFormat.min_nonce_bytes` changes it per format instance."""

KAST_FORMAT = "ms-kast"
CMC_SUFFIX = ".kast.cmc"
PKCS10_SUFFIX = ".kast.p10"
CA_KEY_SUFFIX = ".ca-exchange.p8"
AIK_CA_SUFFIX = ".aik-ca.pem"
ROLE_CA_KEY = "ca-exchange"
ROLE_AIK = "aik"
AIK_NAME = "aik-windows"
MAX_REQUEST_BYTES = 64 * 1024


def request_stem(name: str) -> str | None:
    """``name`` without its one request suffix (``a.kast.p10.kast.cmc`` -> ``a.kast.p10``), or None without one."""
    for suffix in (CMC_SUFFIX, PKCS10_SUFFIX):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return None


def may_be_request(head: bytes) -> bool:
    """False for bytes no KAST request reader takes: a request is a DER SEQUENCE (a CMC ContentInfo or a PKCS#10)
    or one PEM block, so anything else is told without the KAST codec."""
    return head[:1] == b"\x30" or head.lstrip().startswith(b"-----BEGIN")
