"""The emulated Securosys Primus PKI: root -> device key -> partition attestation key.

Keys are emulated (derived from the seed) and the root's name says EMULATED, so no
emulated chain can be mistaken for the production root. Everything else — RDN order,
string types, key sizes, extensions and their order, serial style, validity encoding —
follows ``shared/specs/primus.md`` 1.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509

from hsmsim.formats.primus.layout import PRIMUS_POLICY_DEVICE, PRIMUS_POLICY_ROOT
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, derive_serial

PRIMUS_ROOT_CN = "PRIMUS_HSM_ROOTKEY_EMULATED"
PRIMUS_ROOT_NOT_BEFORE = datetime(2024, 6, 3, 8, 0, 0, tzinfo=UTC)
PRIMUS_ROOT_LIFETIME = timedelta(days=10950)  # the real root: 2024-08-21 .. 2054-08-14


def _primus_name(cn: str, *, cn_utf8: bool = False) -> x509.Name:
    # CN, C, L, O, ST: the unusual order of the real certificates; only the root's CN is a UTF8String.
    return name(
        ("CN", cn, UTF8 if cn_utf8 else PRINTABLE),
        ("C", "CH", PRINTABLE),
        ("L", "Zurich", PRINTABLE),
        ("O", "Securosys", PRINTABLE),
        ("ST", "ZH", PRINTABLE),
    )


def _policies(oid: x509.ObjectIdentifier) -> Ext:
    return Ext(x509.CertificatePolicies([x509.PolicyInformation(oid, None)]))


@dataclass(frozen=True)
class PrimusPki:
    """The emulated Securosys chain: root (RSA-4096) -> device key (RSA-3072) -> attestation key."""

    root_key: PrivateKey
    root: x509.Certificate
    device_key: PrivateKey
    device: x509.Certificate


@lru_cache(maxsize=8)
def primus_root(seed: str) -> tuple[PrivateKey, x509.Certificate]:
    """The emulated ``hsm_rsa_root.crt`` and its key (one per seed, shared by all devices)."""
    key = derive_key(seed, "primus/root", KeySpec.parse("rsa-4096"))
    subject = _primus_name(PRIMUS_ROOT_CN, cn_utf8=True)
    cert = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(),
        serial=derive_serial(seed, "primus/root"),
        not_before=PRIMUS_ROOT_NOT_BEFORE,
        not_after=PRIMUS_ROOT_NOT_BEFORE + PRIMUS_ROOT_LIFETIME,
        extensions=(
            Ext(key_usage("content_commitment", "key_cert_sign", "crl_sign"), critical=True),
            Ext(x509.BasicConstraints(ca=True, path_length=1), critical=True),
            _policies(PRIMUS_POLICY_ROOT),
        ),
    ), key)
    return key, cert


@lru_cache(maxsize=32)
def primus_pki(seed: str, serial: str, *, initialised: datetime) -> PrimusPki:
    """Root and the device certificate ``PRIMUS HSM KEY (SN: serial)`` issued at ``initialised``."""
    root_key, root = primus_root(seed)
    device_key = derive_key(seed, f"primus/device/{serial}", KeySpec.parse("rsa-3072"))
    device = build_certificate(CertSpec(
        subject=_primus_name(f"PRIMUS HSM KEY (SN: {serial})"),
        issuer=root.subject, public_key=device_key.public_key(),
        serial=derive_serial(seed, f"primus/device/{serial}"),
        not_before=initialised, not_after=root.not_valid_after_utc,
        extensions=(
            Ext(key_usage("content_commitment", "key_cert_sign", "crl_sign"), critical=True),
            Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True),
            _policies(PRIMUS_POLICY_DEVICE),
        ),
    ), root_key)
    return PrimusPki(root_key, root, device_key, device)


def primus_attestation_identity(
    seed: str, serial: str, partition: str, *, initialised: datetime, created: datetime,
    key_name: str = "attestation-key", key: PrivateKey | None = None,
) -> AttestationIdentity:
    """The partition's attestation key and its leaf certificate ``CN=<key_name>``.

    The key is the partition's derived RSA-3072 key unless ``key`` (e.g. a user's
    attesting key held in a key store) is given. The derived identity is built once per process.
    """
    if key is None:
        return _derived_identity(seed, serial, partition, initialised, created, key_name)
    return _identity(seed, serial, partition, initialised, created, key_name, key)


@lru_cache(maxsize=64)
def _derived_identity(seed: str, serial: str, partition: str, initialised: datetime, created: datetime,
                      key_name: str) -> AttestationIdentity:
    key = derive_key(seed, f"primus/device/{serial}/{partition}/{key_name}", KeySpec.parse("rsa-3072"))
    return _identity(seed, serial, partition, initialised, created, key_name, key)


def _identity(seed: str, serial: str, partition: str, initialised: datetime, created: datetime, key_name: str,
              key: PrivateKey) -> AttestationIdentity:
    pki = primus_pki(seed, serial, initialised=initialised)
    leaf = build_certificate(CertSpec(
        subject=_primus_name(key_name),
        issuer=pki.device.subject, public_key=key.public_key(),
        serial=derive_serial(seed, f"primus/device/{serial}/{partition}/{key_name}"),
        not_before=created, not_after=pki.root.not_valid_after_utc,
        extensions=(
            Ext(key_usage("digital_signature", "content_commitment"), critical=True),
            Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
        ),
    ), pki.device_key)
    return AttestationIdentity(key=key, certificate=leaf, chain=(leaf, pki.device), root=pki.root)
