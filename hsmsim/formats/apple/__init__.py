"""Apple device attestation: ACME device-attest-01 with Managed Device Attestation (``apple-acme``) and
App Attest (``apple-appattest``), each under its emulated Apple root.

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.apple.format import AppAttestFormat, AppleAcmeFormat

__all__ = ["APPLE_ACME", "APPLE_APPATTEST", "AppAttestFormat", "AppleAcmeFormat"]

APPLE_ACME = register(AppleAcmeFormat())
APPLE_APPATTEST = register(AppAttestFormat())
