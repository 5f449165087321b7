"""The TPM 2.0 core shared by every consumer of TPM evidence: marshalling (:mod:`~hsmsim.tpm.marshal`)
and the structures TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE and Names (:mod:`~hsmsim.tpm.structures`), and
the seeded RSAES-OAEP that TPM2_MakeCredential and the ms-kast envelope seal with (:mod:`~hsmsim.tpm.oaep`),
an emulated TPM's key hierarchy: templates, qualified names, TPM2_Sign and the obfuscation of
TPMS_ATTEST's counters (:mod:`~hsmsim.tpm.hierarchy`), and PCR banks: a measured boot's values and the pcrDigest
TPM2_Quote signs (:mod:`~hsmsim.tpm.pcr`).

It sits below the formats (layer 1), so the ``tpm`` family (WebAuthn, ACME) and the ``ietf`` family
(the TcgAttestCertify statement of a CSR attestation bundle) both use it without importing each other.
"""
