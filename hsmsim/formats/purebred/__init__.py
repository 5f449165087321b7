"""Purebred: the DISA Purebred enrollment request carrying a device's key evidence (Android key attestation,
Windows TPM key attestation, YubiKey PIV attestation), each verified by its own format through the registry.

Importing this package registers its format: ``purebred``.
"""

from hsmsim.formats import register
from hsmsim.formats.purebred.format import PurebredFormat

__all__ = ["PUREBRED", "PurebredFormat"]

PUREBRED = register(PurebredFormat())
