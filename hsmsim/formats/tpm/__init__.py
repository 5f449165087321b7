"""TPM 2.0 key attestation: the TPM core (TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE, Names), an
emulated TPM and its manufacturer PKI, and the WebAuthn ``tpm`` statement.

Importing this package registers its formats ``tpm-acme``, ``parsec-tpm`` and ``ms-kast`` (Windows TPM key
attestation in a certificate request), and the WebAuthn ``tpm`` attestation statement (the ``webauthn``
format's default: its AK is the format's attestation identity).
"""

from hsmsim.formats import register
from hsmsim.formats.tpm.acme import TpmAcmeFormat
from hsmsim.formats.tpm.kast_format import MsKastFormat
from hsmsim.formats.tpm.parsec import ParsecTpmFormat
from hsmsim.formats.tpm.webauthn import TpmAttestation, registration_notes
from hsmsim.webauthn.statements import CatalogueVectors, register_statement

TPM_ACME = register(TpmAcmeFormat())
PARSEC_TPM = register(ParsecTpmFormat())
MS_KAST = register(MsKastFormat())
TPM_ATTESTATION = TpmAttestation()
register_statement(TPM_ATTESTATION,
                   provision=lambda device, partition, attesting: TPM_ATTESTATION.provision_ak(device, attesting),
                   vectors=CatalogueVectors(TPM_ATTESTATION.registration_vectors, registration_notes))
