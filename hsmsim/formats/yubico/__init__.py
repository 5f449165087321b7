"""Yubico: YubiKey PIV attestation (``yubico-piv``) and YubiHSM 2 key attestation (``yubihsm2``).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.yubico.format import YubicoPivFormat, YubiHsm2Format

YUBICO_PIV = register(YubicoPivFormat())
YUBIHSM2 = register(YubiHsm2Format())
