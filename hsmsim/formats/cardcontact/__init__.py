"""CardContact SmartCard-HSM (Nitrokey HSM) key attestation: authenticated CV requests under the device PKI.

Importing this package registers its format."""

from hsmsim.formats import register
from hsmsim.formats.cardcontact.format import SmartCardHsmFormat

SMARTCARD_HSM = register(SmartCardHsmFormat())
