"""Yubico: YubiKey PIV attestation (``yubico-piv``) and YubiHSM 2 key attestation (``yubihsm2``), and the
YubiKey 5's FIDO attestation PKI the WebAuthn ``packed`` and ``fido-u2f`` statements sign with.

Importing this package registers its formats and the ``yubikey-5`` FIDO authenticator."""

from hsmsim.formats import register
from hsmsim.formats.yubico.format import YubicoPivFormat, YubiHsm2Format
from hsmsim.formats.yubico.layout import YUBIKEY_5
from hsmsim.webauthn.statements import FidoAuthenticator, register_authenticator


def _yubikey5_fido(seed: str) -> FidoAuthenticator:
    from hsmsim.formats.yubico.fido import yubikey5_fido  # on the authenticator's first use

    return yubikey5_fido(seed)


YUBICO_PIV = register(YubicoPivFormat())
YUBIHSM2 = register(YubiHsm2Format())
register_authenticator(YUBIKEY_5, _yubikey5_fido)
