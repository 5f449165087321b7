"""Verification checks every format shares: CSR binding and the CA/B Forum code-signing key rule.

Each raises :class:`hsmsim.verdict.Rejected` with the one reason the check stands for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.verdict import Reason, Rejected

CODE_SIGNING_CURVES = ("EC-secp256r1", "EC-secp384r1")


def require_code_signing_key(key_type: str, size: int | None) -> None:
    """Reject (KEY_POLICY) keys outside CA/B Forum code signing: RSA >= 3072 bits, ECDSA P-256/P-384.

    ``key_type`` is ``RSA``, ``EC-<curve name>`` or anything else (always rejected).
    """
    if (key_type == "RSA" and (size or 0) >= 3072) or key_type in CODE_SIGNING_CURVES:
        return
    shown = key_type if size is None or key_type.startswith("EC-") else f"{key_type}-{size}"
    raise Rejected(Reason.KEY_POLICY, f"{shown} is not allowed for code signing (RSA >= 3072, ECDSA P-256/P-384)")


_VERIFIED_CSRS: ContextVar[dict[bytes, bytes] | None] = ContextVar("hsmsim_verified_csrs", default=None)


@contextmanager
def one_csr_check() -> Iterator[None]:
    """Within the block (one verification), a CSR :func:`check_csr_signature` has accepted is not checked again:
    an outer format that checked a request and hands the same bytes to its inner format (Purebred's YubiKey
    request to ``yubico-piv``) gets the same SPKI at the inner check's own place in the order. What was
    accepted is forgotten when the block ends."""
    token = _VERIFIED_CSRS.set({})
    try:
        yield
    finally:
        _VERIFIED_CSRS.reset(token)


def check_csr_signature(csr_data: bytes) -> bytes:
    """The CSR (PEM or DER) parses (MALFORMED) and is self-signed (CSR_SIGNATURE_INVALID); returns its SPKI DER.

    DER is what starts as a SEQUENCE: a DER request may carry PEM text inside (an attested statement)."""
    verified = _VERIFIED_CSRS.get()
    if verified is not None and csr_data in verified:
        return verified[csr_data]
    try:
        pem = csr_data[:1] != b"\x30" and b"-----BEGIN" in csr_data
        csr = x509.load_pem_x509_csr(csr_data) if pem else x509.load_der_x509_csr(csr_data)
        csr_spki = csr.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        valid = csr.is_signature_valid
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"CSR does not parse: {str(exc)[:120]}") from None
    if not valid:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "CSR self-signature does not verify")
    if verified is not None:
        verified[bytes(csr_data)] = csr_spki
    return csr_spki


def check_csr_binding(spki: bytes, csr_data: bytes, attested: str = "the attested key") -> None:
    """The CSR (PEM or DER) parses (MALFORMED), is self-signed (CSR_SIGNATURE_INVALID) and asks to certify
    exactly ``spki`` (KEY_MISMATCH)."""
    if check_csr_signature(csr_data) != spki:
        raise Rejected(Reason.KEY_MISMATCH, f"the CSR's public key differs from {attested}")
