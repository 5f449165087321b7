"""IETF key attestation: PKIX Evidence (draft-ietf-rats-pkix-key-attestation) and the CSR attestation
bundle (draft-ietf-lamps-csr-attestation), both generic: any emulated device can produce them.

Importing this package registers its formats: ``pkix-evidence`` and ``csr-attestation``.
"""

from hsmsim.formats import register
from hsmsim.formats.ietf.format import CsrAttestationFormat, PkixEvidenceFormat

__all__ = ["CSR_ATTESTATION", "PKIX_EVIDENCE", "CsrAttestationFormat", "PkixEvidenceFormat"]

PKIX_EVIDENCE = register(PkixEvidenceFormat())
CSR_ATTESTATION = register(CsrAttestationFormat())
