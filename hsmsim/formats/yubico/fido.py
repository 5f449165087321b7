"""The emulated YubiKey FIDO attestation PKI: what a YubiKey 5 signs WebAuthn ``packed`` and ``fido-u2f``
statements with, deterministic from the seed (the root's name ends in EMULATED).

Shape of the real certificates (YubiKey 5 Series, firmware 5.1-5.4):

* root "Yubico U2F Root CA Serial 457200631" (a PrintableString): RSA-2048, serial 457200631, 2014-08-01 to
  2050-09-04, SKI,
  basicConstraints CA pathlen 0, critical keyUsage keyCertSign+cRLSign;
* attestation certificate ``C=SE, O=Yubico AB, OU=Authenticator Attestation, CN=Yubico U2F EE Serial <n>``:
  a batch EC P-256 key shared by a production lot (one per seed here), issued by the root with
  sha256WithRSAEncryption and the root's validity, extensions in the real order: Yubico device id
  1.3.6.1.4.1.41482.2 (raw text ``1.3.6.1.4.1.41482.1.7``), FIDO U2F transports 1.3.6.1.4.1.45724.2.1.1
  (BIT STRING usb+nfc), AAGUID 1.3.6.1.4.1.45724.1.1.4 (``04 10 ‖ aaguid``), critical basicConstraints CA:FALSE.

The yubico family registers it as the ``yubikey-5`` authenticator; the webauthn family's statements sign with it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509

from hsmsim.formats.yubico.pki import ski
from hsmsim.keystore.base import KeySpec
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.webauthn.statements import FidoAuthenticator

YUBIKEY_5_NFC_AAGUID = uuid.UUID("ee882879-721c-4913-9775-3dfcce97072a")
"""The AAGUID of the YubiKey 5 Series with NFC (firmware 5.2 / 5.4), as the FIDO MDS lists it."""
U2F_ROOT_SERIAL = 457200631
U2F_ROOT_CN = f"Yubico U2F Root CA Serial {U2F_ROOT_SERIAL} EMULATED"
U2F_NOT_BEFORE = datetime(2014, 8, 1, tzinfo=UTC)
U2F_NOT_AFTER = datetime(2050, 9, 4, tzinfo=UTC)
OID_YUBICO_DEVICE_ID = x509.ObjectIdentifier("1.3.6.1.4.1.41482.2")
OID_FIDO_U2F_TRANSPORTS = x509.ObjectIdentifier("1.3.6.1.4.1.45724.2.1.1")
OID_FIDO_AAGUID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
YUBIKEY_5_DEVICE_ID = b"1.3.6.1.4.1.41482.1.7"
TRANSPORTS_USB_NFC = b"\x03\x02\x04\x30"


def attestation_name(serial: int) -> x509.Name:
    """``C=SE, O=Yubico AB, OU=Authenticator Attestation, CN=Yubico U2F EE Serial <serial>``."""
    return name(("C", "SE", PRINTABLE), ("O", "Yubico AB", UTF8), ("OU", "Authenticator Attestation", UTF8),
                ("CN", f"Yubico U2F EE Serial {serial}", UTF8))


def attestation_extensions(aaguid: bytes) -> tuple[Ext, ...]:
    """The attestation certificate's extensions in the real order."""
    return (Ext(x509.UnrecognizedExtension(OID_YUBICO_DEVICE_ID, YUBIKEY_5_DEVICE_ID)),
            Ext(x509.UnrecognizedExtension(OID_FIDO_U2F_TRANSPORTS, TRANSPORTS_USB_NFC)),
            Ext(x509.UnrecognizedExtension(OID_FIDO_AAGUID, b"\x04\x10" + aaguid)),
            Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True))


@lru_cache(maxsize=8)
def yubikey5_fido(seed: str) -> FidoAuthenticator:
    """The YubiKey 5 NFC's FIDO PKI for ``seed``: the emulated U2F root and one batch attestation certificate."""
    root_key = derive_key(seed, "yubico/u2f-root-457200", KeySpec.parse("rsa-2048"))
    subject = name(("CN", U2F_ROOT_CN, PRINTABLE))
    root = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=root_key.public_key(), serial=U2F_ROOT_SERIAL,
        not_before=U2F_NOT_BEFORE, not_after=U2F_NOT_AFTER,
        extensions=(ski(root_key.public_key()), Ext(x509.BasicConstraints(ca=True, path_length=0)),
                    Ext(key_usage("key_cert_sign", "crl_sign"), critical=True))), root_key)
    key = derive_key(seed, "yubico/fido/attestation-batch", KeySpec.parse("ec-p256"))
    serial = 1_000_000_000 + int.from_bytes(drbg(seed, "yubico/fido/attestation-serial").read(4), "big") % 1_000_000_000
    aaguid = YUBIKEY_5_NFC_AAGUID.bytes
    certificate = build_certificate(CertSpec(
        subject=attestation_name(serial), issuer=subject, public_key=key.public_key(), serial=serial,
        not_before=U2F_NOT_BEFORE, not_after=U2F_NOT_AFTER, extensions=attestation_extensions(aaguid)), root_key)
    return FidoAuthenticator(model="YubiKey 5 NFC", aaguid=aaguid, key=key, certificate=certificate, chain=(),
                             issuer_key=root_key, root=root)
