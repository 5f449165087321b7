"""Android Keystore / KeyMint key attestation: the bare certificate chain whose leaf carries a KeyDescription
(``android-key``) and the ACME device-attest-01 statement carrying it (``android-acme``).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.android.format import AndroidAcmeFormat, AndroidKeyFormat
from hsmsim.formats.android.options import AndroidOptions

__all__ = ["ANDROID_ACME", "ANDROID_KEY", "AndroidAcmeFormat", "AndroidKeyFormat", "AndroidOptions"]

ANDROID_KEY = register(AndroidKeyFormat())
ANDROID_ACME = register(AndroidAcmeFormat())
