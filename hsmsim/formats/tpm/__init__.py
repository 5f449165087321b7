"""TPM 2.0 key attestation: the TPM core (TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE, Names), an
emulated TPM and its manufacturer PKI, and the WebAuthn ``tpm`` statement.

Importing this package registers its formats: ``webauthn``, ``tpm-acme``, ``parsec-tpm`` and ``ms-kast``
(Windows TPM key attestation in a certificate request).
"""

from hsmsim.formats import register
from hsmsim.formats.tpm.acme import TpmAcmeFormat
from hsmsim.formats.tpm.format import WebAuthnFormat
from hsmsim.formats.tpm.kast_format import MsKastFormat
from hsmsim.formats.tpm.parsec import ParsecTpmFormat

WEBAUTHN = register(WebAuthnFormat())
TPM_ACME = register(TpmAcmeFormat())
PARSEC_TPM = register(ParsecTpmFormat())
MS_KAST = register(MsKastFormat())
