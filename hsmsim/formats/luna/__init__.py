"""Thales Luna Network HSM 7 Public Key Confirmation (certs-only PKCS#7).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.luna.format import LunaFormat

LUNA = register(LunaFormat())
