"""Verification checks every format shares: CSR binding and the CA/B Forum code-signing key rule.

Each raises :class:`hsmsim.verdict.Rejected` with the one reason the check stands for.
"""

from __future__ import annotations

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


def check_csr_signature(csr_data: bytes) -> bytes:
    """The CSR (PEM or DER) parses (MALFORMED) and is self-signed (CSR_SIGNATURE_INVALID); returns its SPKI DER.

    DER is what starts as a SEQUENCE: a DER request may carry PEM text inside (an attested statement)."""
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
    return csr_spki


def check_csr_binding(spki: bytes, csr_data: bytes, attested: str = "the attested key") -> None:
    """The CSR (PEM or DER) parses (MALFORMED), is self-signed (CSR_SIGNATURE_INVALID) and asks to certify
    exactly ``spki`` (KEY_MISMATCH)."""
    if check_csr_signature(csr_data) != spki:
        raise Rejected(Reason.KEY_MISMATCH, f"the CSR's public key differs from {attested}")
