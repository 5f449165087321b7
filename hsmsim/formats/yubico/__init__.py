"""Yubico: YubiKey PIV attestation (``yubico-piv``) and YubiHSM 2 key attestation (``yubihsm2``).

Importing this package registers its formats."""
