"""Android Keystore / KeyMint key attestation: the bare certificate chain whose leaf carries a KeyDescription
(``android-key``), the ACME device-attest-01 statement carrying it (``android-acme``), and the WebAuthn
``android-key`` attestation statement.

Importing this package registers its formats and the WebAuthn statement."""

from hsmsim.formats import register
from hsmsim.formats.android.format import AndroidAcmeFormat, AndroidKeyFormat
from hsmsim.formats.android.options import AndroidOptions
from hsmsim.formats.android.webauthn import AndroidKeyAttestation, notes, vector_cases
from hsmsim.webauthn.statements import CatalogueVectors, register_statement

__all__ = ["ANDROID_ACME", "ANDROID_KEY", "AndroidAcmeFormat", "AndroidKeyFormat", "AndroidOptions"]

ANDROID_KEY = register(AndroidKeyFormat())
ANDROID_ACME = register(AndroidAcmeFormat())
register_statement(AndroidKeyAttestation(AndroidOptions()), vectors=CatalogueVectors(vector_cases, notes))
