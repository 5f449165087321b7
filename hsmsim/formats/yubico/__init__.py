"""Yubico: YubiKey PIV attestation (``yubico-piv``) and YubiHSM 2 key attestation (``yubihsm2``), and the
YubiKey 5's FIDO attestation PKI the WebAuthn ``packed`` and ``fido-u2f`` statements sign with.

Importing this package registers its formats and the ``yubikey-5`` FIDO authenticator."""

from hsmsim.formats import register
from hsmsim.formats.yubico.fido import YUBIKEY_5, yubikey5_fido
from hsmsim.formats.yubico.format import YubicoPivFormat, YubiHsm2Format
from hsmsim.webauthn.statements import register_authenticator

YUBICO_PIV = register(YubicoPivFormat())
YUBIHSM2 = register(YubiHsm2Format())
register_authenticator(YUBIKEY_5, yubikey5_fido)
