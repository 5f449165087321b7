"""Android Keystore / KeyMint key attestation (a certificate chain whose leaf carries a KeyDescription).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.android.format import AndroidKeyFormat
from hsmsim.formats.android.options import AndroidOptions

__all__ = ["ANDROID_KEY", "AndroidKeyFormat", "AndroidOptions"]

ANDROID_KEY = register(AndroidKeyFormat())
