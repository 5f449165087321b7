"""What tells this family's evidence on disk, importable without its codecs, verifiers or generators: the file
names, the bounds, the OIDs a file is recognised by, and the readers of a file's DER (PEM, base64 or DER).

Detection imports this alone; :mod:`~hsmsim.formats.ietf.evidence`, :mod:`~hsmsim.formats.ietf.csr` and
:mod:`~hsmsim.formats.ietf.asn1` use the same names.
"""

from __future__ import annotations

import base64

PKIX_EVIDENCE = "pkix-evidence"
CSR_ATTESTATION = "csr-attestation"
EVIDENCE_SUFFIX = ".evidence.pem"
NONCE_SUFFIX = ".nonce"
MAX_EVIDENCE_BYTES = 1024 * 1024
MAX_CSR_BYTES = 16 * 1024 * 1024
PKCS10, CRMF = "pkcs10", "crmf"
SUFFIXES = {PKCS10: ".csr", CRMF: ".crmf"}

ID_EVIDENCE = "1.3.6.1.5.5.999"
"""``id-evidence`` with TBDMOD3 = 999, the arc of the draft's sample data and reference code."""
ID_AA_ATTESTATION = "1.2.840.113549.1.9.16.2.59"
"""``id-aa-attestation`` ({id-aa 59}): the PKCS#10 attribute and the CRMF extension."""


def evidence_der(data: bytes) -> bytes:
    """DER from a PEM ``EVIDENCE``, base64 text or DER file; raises ValueError."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        lines = stripped.splitlines()
        if lines[0].strip() != b"-----BEGIN EVIDENCE-----" or lines[-1].strip() != b"-----END EVIDENCE-----":
            raise ValueError("not a PEM EVIDENCE block")
        return base64.b64decode(b"".join(lines[1:-1]), validate=True)
    if stripped[:1] == b"\x30":
        return data
    return base64.b64decode(b"".join(stripped.split()), validate=True)


def is_evidence_name(name: str) -> bool:
    """Files the loader reads as the Evidence itself."""
    return name.endswith((EVIDENCE_SUFFIX, ".evidence.der", ".evidence")) or (
        name.startswith("evidence") and name.endswith((".pem", ".b64", ".der")))


def csr_der(data: bytes) -> bytes:
    """DER of a PEM or DER CSR; raises ValueError."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        lines = stripped.splitlines()
        if b"CERTIFICATE REQUEST" not in lines[0]:
            raise ValueError("not a PEM CERTIFICATE REQUEST")
        return base64.b64decode(b"".join(lines[1:-1]), validate=True)
    return data
