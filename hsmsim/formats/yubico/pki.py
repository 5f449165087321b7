"""The emulated Yubico attestation PKIs, deterministic from the seed; every root's name ends in EMULATED.

Shapes follow the real certificates in ``shared/interop`` (``purebred/Yubikey_4_3_3``, ``roots/``,
``yubihsm2/``) and step-ca's pinned roots:

* **PIV, legacy** ("Yubico PIV Root CA Serial 263751"): RSA-2048 root, serial 263751, 2016-03-14 to
  2052-04-17, SKI, basicConstraints CA pathlen 1 (the 2018 re-issue; the 2016 issue had pathlen 0),
  critical keyUsage keyCertSign+cRLSign. The device's f9 certificate ``CN=Yubico PIV Attestation``
  has an 8-byte serial, the root's validity, the firmware extension (and the FIPS marker on a
  FIPS-series device), then, from firmware 5.4, a critical basicConstraints CA pathlen 0: the real
  5.4.3 f9s carry it (docker/tuf ``ceremony/2024-04-09/keys/25515137``, ``ceremony/2024-06-04/keys/
  28751259``, ``tools/key-verification/test-keys/12345678``), the real 4.3.3 (Purebred) and 5.2.4
  (yubikey-manager #522) f9s have none. Which firmware between 5.2.4 and 5.4.3 first wrote it is not
  published: hsmsim draws the line at 5.4.
* **PIV, 2024 PKI** (firmware >= 5.7.4): "Yubico Attestation Root 1" (RSA-2048, sha512WithRSA,
  2024-12-01 to 9999-12-31, SKI, AKI, critical basicConstraints pathlen 3, critical keyUsage
  digitalSignature+keyCertSign+cRLSign) -> "Yubico Attestation Intermediate B 1" -> "Yubico PIV
  Attestation B 1" -> f9. The intermediates are shaped as the published ones
  (``developers.yubico.com/PKI/yubico-intermediate.pem``): sha256WithRSA, SKI, AKI, critical
  basicConstraints pathlen 2 / 1, critical keyUsage digitalSignature+keyCertSign+cRLSign, 20-byte
  serials, 2024-12-01 to 9999-12-31. The f9 is shaped as a real firmware-5.7.4 one (ovh/yubico-piv-checker's test
  key, serial 32718477; ``tests/data/yubico``): ``CN=YubiKey PIV Attestation`` (not Yubico's), issued by Yubico PIV
  Attestation B 1, valid 2024-12-01 to 9999-12-31, an 8-byte serial, the firmware extension then a critical
  basicConstraints CA pathlen 0, as the firmware-5.4 f9.
* **YubiHSM 2**: "Yubico YubiHSM Root CA" (RSA-4096, a 4-octet serial, SKI, critical basicConstraints pathlen 2,
  critical keyUsage) -> "Yubico YubiHSM <n> Sub-CA" (RSA-2048, serial n, SKI, AKI, pathlen 1, keyUsage) -> the
  device's "YubiHSM Attestation (<serial>)" (RSA-2048, a random 8-byte serial, firmware 4.1, 4.10, serial
  4.2, SKI, AKI, critical basicConstraints CA pathlen 0, no keyUsage), all valid 2017-01-01 to 2071-10-05.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509

from hsmsim.encoding import der_integer
from hsmsim.formats.yubico.extensions import (
    FORM_FACTORS,
    HSM_FIPS_CERTIFICATE,
    HSM_FIRMWARE,
    HSM_SERIAL,
    piv_extensions,
)
from hsmsim.formats.yubico.layout import LEGACY, NEW
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey
from hsmsim.pki.builder import UTF8, CertSpec, Ext, Issuer, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, derive_serial, drbg

LEGACY_ROOT_CN = "Yubico PIV Root CA Serial 263751 EMULATED"
NEW_ROOT_CN = "Yubico Attestation Root 1 EMULATED"
NEW_INTERMEDIATE_CN = "Yubico Attestation Intermediate B 1"
NEW_PIV_INTERMEDIATE_CN = "Yubico PIV Attestation B 1"
F9_CN = "Yubico PIV Attestation"
NEW_F9_CN = "YubiKey PIV Attestation"
"""The f9's CN under the 2024 PKI (a real firmware-5.7.4 f9; before it, :data:`F9_CN`)."""
HSM_ROOT_CN = "Yubico YubiHSM Root CA EMULATED"

LEGACY_NOT_BEFORE = datetime(2016, 3, 14, tzinfo=UTC)
LEGACY_NOT_AFTER = datetime(2052, 4, 17, tzinfo=UTC)
NEW_NOT_BEFORE = datetime(2024, 12, 1, tzinfo=UTC)
NO_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
HSM_NOT_BEFORE = datetime(2017, 1, 1, tzinfo=UTC)
HSM_NOT_AFTER = datetime(2071, 10, 5, tzinfo=UTC)

_RSA2048 = KeySpec.parse("rsa-2048")
_CA_KU = ("key_cert_sign", "crl_sign")
F9_BASIC_CONSTRAINTS_FROM = (5, 4, 0)
"""The first firmware whose factory f9 says CA:TRUE pathlen:0 (real 5.4.3 f9s do, 4.3.3 and 5.2.4 do not)."""


def cn(value: str) -> x509.Name:
    """A name with one UTF8String CN, as every Yubico certificate has."""
    return name(("CN", value, UTF8))


def serial_bytes(seed: str, role: str, size: int) -> int:
    """A ``size``-byte serial with its top bit set, derived from the seed (a random serial, as the device's)."""
    return int.from_bytes(drbg(seed, f"{role}/serial").read(size), "big") | (1 << (8 * size - 1))


def ski(public_key: PublicKey) -> Ext:
    """RFC 5280 method 1 subjectKeyIdentifier."""
    return Ext(x509.SubjectKeyIdentifier.from_public_key(public_key))


def aki(issuer_key: PublicKey) -> Ext:
    """authorityKeyIdentifier naming ``issuer_key`` by its method 1 identifier."""
    return Ext(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key))


@dataclass(frozen=True)
class PivPki:
    """One PIV PKI generation: the root and the intermediates above a device's f9 (nearest first)."""

    generation: str
    root: Issuer
    intermediates: tuple[Issuer, ...]

    @property
    def f9_issuer(self) -> Issuer:
        """Who certifies a device's f9: the PIV intermediate, or the root of the legacy PKI."""
        return self.intermediates[0] if self.intermediates else self.root


@lru_cache(maxsize=8)
def piv_pki(seed: str, generation: str) -> PivPki:
    """The emulated PIV PKI of ``generation`` (``legacy`` or ``2024``)."""
    if generation == LEGACY:
        key = derive_key(seed, "yubico/piv-root-263751", _RSA2048)
        subject = cn(LEGACY_ROOT_CN)
        root = build_certificate(CertSpec(
            subject=subject, issuer=subject, public_key=key.public_key(), serial=263751,
            not_before=LEGACY_NOT_BEFORE, not_after=LEGACY_NOT_AFTER,
            extensions=(ski(key.public_key()), Ext(x509.BasicConstraints(ca=True, path_length=1)),
                        Ext(key_usage(*_CA_KU), critical=True))), key)
        return PivPki(LEGACY, Issuer(key, root), ())
    if generation != NEW:
        raise ValueError(f"unknown PIV PKI generation {generation!r}")
    key = derive_key(seed, "yubico/attestation-root-1", _RSA2048)
    public = key.public_key()
    subject = cn(NEW_ROOT_CN)
    root = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=public, serial=serial_bytes(seed, "yubico/root-1", 20) >> 1,
        not_before=NEW_NOT_BEFORE, not_after=NO_EXPIRY, hash_name="sha512",
        extensions=(ski(public), aki(public), Ext(x509.BasicConstraints(ca=True, path_length=3), critical=True),
                    Ext(key_usage("digital_signature", *_CA_KU), critical=True))), key)
    chain = [Issuer(key, root)]
    for role, common_name, path_length in (("yubico/intermediate-b-1", NEW_INTERMEDIATE_CN, 2),
                                           ("yubico/piv-attestation-b-1", NEW_PIV_INTERMEDIATE_CN, 1)):
        parent = chain[-1]
        child_key = derive_key(seed, role, _RSA2048)
        cert = build_certificate(CertSpec(
            subject=cn(common_name), issuer=parent.certificate.subject, public_key=child_key.public_key(),
            serial=serial_bytes(seed, role, 20) >> 1, not_before=NEW_NOT_BEFORE, not_after=NO_EXPIRY,
            extensions=(ski(child_key.public_key()), aki(parent.key.public_key()),
                        Ext(x509.BasicConstraints(ca=True, path_length=path_length), critical=True),
                        Ext(key_usage("digital_signature", *_CA_KU), critical=True))), parent.key)
        chain.append(Issuer(child_key, cert))
    return PivPki(NEW, chain[0], tuple(reversed(chain[1:])))


@dataclass(frozen=True)
class YubiKeyDevice:
    """One emulated YubiKey: serial, firmware, form factor, series markers, and its PKI generation."""

    serial: int
    firmware: tuple[int, int, int]
    form_factor: int
    generation: str = LEGACY
    fips: bool = False
    cspn: bool = False

    @property
    def firmware_version(self) -> str:
        """The firmware as ykman shows it, ``5.4.3``."""
        return ".".join(map(str, self.firmware))

    @property
    def model(self) -> str:
        """The product line and, from firmware 5 (which reports it), the form factor, e.g. ``YubiKey 5 FIPS Series,
        USB-A keychain`` or ``YubiKey 4 Series``."""
        line = f"YubiKey {self.firmware[0]}"
        series = f"{line} FIPS Series" if self.fips else f"{line} CSPN Series" if self.cspn else f"{line} Series"
        if self.firmware[0] < 5:
            return series
        return f"{series}, {FORM_FACTORS.get(self.form_factor, 'unknown form factor')}"


def f9_key(seed: str, device: YubiKeyDevice) -> PrivateKey:
    """The device's factory attestation key (slot f9): RSA-2048, one per device serial."""
    return derive_key(seed, f"yubico/yubikey/{device.serial}/f9", _RSA2048)


def f9_certificate(seed: str, device: YubiKeyDevice, key: PrivateKey | None = None) -> x509.Certificate:
    """The device's f9 certificate as Yubico's factory writes it: named ``Yubico PIV Attestation`` (legacy PKI) or
    ``YubiKey PIV Attestation`` (2024 PKI), the PIV extensions, then from firmware 5.4 a critical basicConstraints CA
    pathlen 0 (none before, as the real 4.3.3 and 5.2.4 f9s)."""
    pki = piv_pki(seed, device.generation)
    issuer = pki.f9_issuer
    public = (key or f9_key(seed, device)).public_key()
    if device.generation == LEGACY:
        not_before, not_after, common_name = LEGACY_NOT_BEFORE, LEGACY_NOT_AFTER, F9_CN
    else:
        not_before, not_after, common_name = NEW_NOT_BEFORE, NO_EXPIRY, NEW_F9_CN
    extensions = [Ext(e) for e in piv_extensions(firmware=device.firmware, fips=device.fips, cspn=device.cspn)]
    if device.firmware >= F9_BASIC_CONSTRAINTS_FROM:
        extensions.append(Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True))
    return build_certificate(CertSpec(
        subject=cn(common_name), issuer=issuer.certificate.subject, public_key=public,
        serial=serial_bytes(seed, f"yubico/yubikey/{device.serial}/f9", 8),
        not_before=not_before, not_after=not_after, extensions=tuple(extensions)), issuer.key)


# -- YubiHSM 2 ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HsmPki:
    """The YubiHSM 2 attestation chain of one device: root, sub-CA, device attestation certificate."""

    root: Issuer
    sub_ca: Issuer
    device: Issuer
    serial: int
    firmware: tuple[int, int, int]


@lru_cache(maxsize=8)
def hsm_root(seed: str) -> Issuer:
    """The emulated Yubico YubiHSM Root CA."""
    key = derive_key(seed, "yubico/yubihsm-root", KeySpec.parse("rsa-4096"))
    subject = cn(HSM_ROOT_CN)
    cert = build_certificate(CertSpec(
        # four octets in DER with the top bit clear, as the published root's 1CCE92EB (a 4-byte random serial with its
        # top bit set would take five)
        subject=subject, issuer=subject, public_key=key.public_key(),
        serial=derive_serial(seed, "yubico/hsm-root", 31),
        not_before=HSM_NOT_BEFORE, not_after=HSM_NOT_AFTER,
        extensions=(ski(key.public_key()), Ext(x509.BasicConstraints(ca=True, path_length=2), critical=True),
                    Ext(key_usage(*_CA_KU), critical=True))), key)
    return Issuer(key, cert)


@lru_cache(maxsize=8)
def hsm_pki(seed: str, serial: int, firmware: tuple[int, int, int] = (2, 4, 0)) -> HsmPki:
    """The chain of the YubiHSM 2 with ``serial``: a sub-CA (numbered from the seed) and the device certificate."""
    root = hsm_root(seed)
    number = 6_000_000 + int.from_bytes(drbg(seed, "yubico/hsm-sub-ca").read(3), "big") % 1_000_000
    sub_key = derive_key(seed, "yubico/yubihsm-sub-ca", _RSA2048)
    sub = build_certificate(CertSpec(
        subject=cn(f"Yubico YubiHSM {number} Sub-CA"), issuer=root.certificate.subject, public_key=sub_key.public_key(),
        serial=number, not_before=HSM_NOT_BEFORE, not_after=HSM_NOT_AFTER,
        extensions=(ski(sub_key.public_key()), aki(root.key.public_key()),
                    Ext(x509.BasicConstraints(ca=True, path_length=1), critical=True),
                    Ext(key_usage(*_CA_KU), critical=True))), root.key)
    device_key = derive_key(seed, f"yubico/yubihsm/{serial}/attestation", _RSA2048)
    device = build_certificate(CertSpec(
        subject=cn(f"YubiHSM Attestation ({serial})"), issuer=sub.subject, public_key=device_key.public_key(),
        serial=serial_bytes(seed, f"yubico/yubihsm/{serial}", 8), not_before=HSM_NOT_BEFORE,
        not_after=HSM_NOT_AFTER,
        extensions=(Ext(x509.UnrecognizedExtension(HSM_FIRMWARE, b"\x04\x03" + bytes(firmware))),
                    Ext(x509.UnrecognizedExtension(HSM_FIPS_CERTIFICATE, der_integer(5))),
                    Ext(x509.UnrecognizedExtension(HSM_SERIAL, der_integer(serial))),
                    ski(device_key.public_key()), aki(sub_key.public_key()),
                    Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True))), sub_key)
    return HsmPki(root, Issuer(sub_key, sub), Issuer(device_key, device), serial, firmware)

