"""The emulated Google key-attestation PKI, derived from the seed; every root's name says EMULATED.

Chain shapes real devices send (leaf first; ``shared/specs/other_formats.md`` 3, ``round2_formats.md`` 2.4):

* ``rkp``: leaf <- remotely provisioned attestation certificate ``CN=<hex>, O=TEE|StrongBox`` <- ``Droid CA3``
  <- ``Droid CA2`` <- the legacy RSA-4096 root, root included in its 2019 issue (Android 13+ devices, as every
  real RKP chain under the legacy root: akita and caiman);
* ``rkp-no-root``: the same chain ending at ``Droid CA2`` (clients that strip the root);
* ``rkp-2026``: ``Droid CA2`` issued by the 2026 ECDSA P-384 root ``Key Attestation CA1``, root included; its
  attestation certificate names ``O=TEE|StrongBox, CN=<hex>`` (O first, as the real tegu chains);
* ``factory``: leaf <- batch certificate ``title=TEE, serialNumber=<hex>`` <- intermediate <- legacy root in its
  2022 issue (factory-provisioned Keymaster 4 devices, as the real 2022 factory chain
  ``invalid/tags_not_in_ascending_order.pem``, whose dates it copies).

Which issue of the legacy root a chain ends with is :attr:`AndroidIdentity.sent_root`; verifiers pin the 2022
issue (``roots.json``), and both issues have the same name and key.

Software attestation (:func:`software_identity`, not a hardware shape): leaf <- attestation key certificate <-
software attestation root, root included, as Android keystore's software Keymaster sends. AOSP's
``system/keymaster/contexts/soft_attestation_cert.cpp`` holds two such chains, and the key's algorithm picks one
(``getAttestationChain(algorithm)``): an RSA key is attested under the RSA-1024 ``Android Software Attestation Key``
and its root (the real Pixel1 sample of ``shared/interop/purebred``), an EC key under the P-256 ``Android Keystore
Software Attestation Intermediate`` and ``... Root`` (:data:`SOFTWARE_PKIS`). Every device ships the same two, so
the emulated ones are derived from :data:`SOFTWARE_SEED`, not from the device's seed: a verifier recognises their
roots by their keys (``verify.SOFTWARE_ROOT_SPKI_SHA256``).

Names, key types, signature algorithms, extension order and criticality follow the real certificates
(``shared/interop/android``: caiman and akita under the legacy root, tegu under the 2026 root); the RKP attestation
certificate (30 days; the real ones run 9 to 29 days, what is left of the provisioned key's life) and Droid CA3 (70
days) are re-issued per period from the same keys, so evidence can be made for any time. Droid CA3's keyUsage is
keyCertSign alone (``03 02 02 04``), as on every real chain. Under the 2026 root, as there, Droid CA2 carries a CRL
distribution point (Google's real URL for the root's CRL, :data:`CA2_2026_CRL`) and Droid CA3 an AIA caIssuers and
a CRL distribution point in a Google Cloud Private CA bucket (real-looking: the bucket's id derives from the seed,
so it resolves nowhere). No verifier fetches them; Android revokes through the attestation status list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

from hsmsim.formats.android.keydescription import OID_PROVISIONING_INFO, Algorithm, SecurityLevel
from hsmsim.formats.android.layout import OID_KEY_DESCRIPTION
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.pki.builder import PRINTABLE, UTF8, Issuer, key_usage, sign_args
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.pki.seed import derive_key, derive_serial, drbg

LEGACY_ROOT_CN = "Google Hardware Attestation Root EMULATED"
ROOT_2026_CN = "Key Attestation CA1 EMULATED"
SOFTWARE_SEED = "hsmsim/android/software-attestation"
"""The one seed of the emulated software attestation PKI, whatever the device's seed (see the module notes)."""
LEAF_CN = "Android Keystore Key"
LEAF_NOT_BEFORE = datetime(1970, 1, 1, tzinfo=UTC)
LEAF_NOT_AFTER = datetime(2048, 1, 1, tzinfo=UTC)
SOFTWARE_LEAF_NOT_AFTER = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
"""The leaf notAfter keystore's software Keymaster writes (2^32 - 1 seconds after the epoch, a GeneralizedTime),
as the real Pixel1 sample of ``shared/interop/purebred``."""
LEGACY_ROOT_2019 = 1
"""``legacy_root(seed, reissue=LEGACY_ROOT_2019)``: the 2019 issue, which RKP devices append."""
RKP_EPOCH = datetime(2025, 1, 6, tzinfo=UTC)
CA2_2026_CRL = "https://android.googleapis.com/attestation/key_ca1.crl"
"""The CRL distribution point of the real Droid CA2 under the 2026 root (the root's CRL)."""
_RKP_CERT_PERIOD = timedelta(days=28)
_CA3_PERIOD = timedelta(days=56)


class ChainShape(enum.StrEnum):
    """Which certificates stand above the leaf (see the module notes)."""

    RKP = "rkp"
    RKP_NO_ROOT = "rkp-no-root"
    RKP_2026 = "rkp-2026"
    FACTORY = "factory"

    @property
    def includes_root(self) -> bool:
        """Whether the device sends the root as the last certificate."""
        return self is not ChainShape.RKP_NO_ROOT

    @property
    def key_description_first(self) -> bool:
        """Whether the leaf carries its KeyDescription before its keyUsage: the RKP chains under the legacy root
        (shaped as caiman's, sdk36) do; the 2026-root chains (as tegu's) and factory chains (as the 2022 factory
        leaf) write keyUsage first, as akita (sdk34) does under the legacy root."""
        return self in (ChainShape.RKP, ChainShape.RKP_NO_ROOT)


LEVEL_NAMES = {SecurityLevel.TRUSTED_ENVIRONMENT: "TEE", SecurityLevel.STRONG_BOX: "StrongBox"}
CERTIFICATES_ISSUED = {SecurityLevel.TRUSTED_ENVIRONMENT: 64, SecurityLevel.STRONG_BOX: 32}
"""certificatesIssued of the provisioning information per level: 64 for the TEE and 32 for StrongBox, as the real
sdk36 chains (caiman, tegu) say; akita's sdk34 chains say 8 (a choice, see docs/formats/android.md)."""


@dataclass(frozen=True)
class AndroidIdentity(AttestationIdentity):
    """An attestation identity whose device appends another issue of the root than the pinned ``root``.

    ``sent_root``: the certificate a root-sending shape appends (None: ``root`` itself), same name and key.
    """

    sent_root: x509.Certificate | None = None


def _name(*attrs: tuple[ObjectIdentifier, str, _ASN1Type]) -> x509.Name:
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(oid, value, _type=kind)]) for oid, value, kind in attrs]
    return x509.Name(rdns)


def _hex(seed: str, role: str, size: int = 16) -> str:
    return drbg(seed, f"{role}/hex").read(size).hex()


def _serial(seed: str, role: str, size: int = 16) -> int:
    return int.from_bytes(drbg(seed, f"{role}/serial").read(size), "big") | 1 << (8 * size - 8)


def issue(subject: x509.Name, public_key: CertificatePublicKeyTypes, issuer: x509.Name, issuer_key: PrivateKey,
          serial: int, not_before: datetime, not_after: datetime, extensions: list[tuple[x509.ExtensionType, bool]],
          hash_name: str = "sha256") -> x509.Certificate:
    """A certificate with exactly these fields and extensions in this order, signed deterministically.

    ``public_key`` may be any key cryptography can put in a certificate (ML-DSA included).
    """
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key)
               .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(**sign_args(issuer_key, hash_name))  # type: ignore[arg-type]


def _ca_extensions(public_key: CertificatePublicKeyTypes, issuer_key: PrivateKey | None, *,
                   path_length: int | None = None, crl_sign: bool = False) -> list[tuple[x509.ExtensionType, bool]]:
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    aki_source = issuer_key.public_key() if issuer_key is not None else public_key
    usages = ("key_cert_sign", "crl_sign") if crl_sign else ("key_cert_sign",)
    return [
        (ski, False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_source), False),  # type: ignore[arg-type]
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (key_usage(*usages), True),
    ]


@lru_cache(maxsize=16)
def legacy_root(seed: str, *, reissue: int = 0) -> Issuer:
    """The emulated RSA-4096 root ``serialNumber=<hex>, CN=... EMULATED``: the 2022 issue verifiers pin (20 years),
    or with ``reissue`` :data:`LEGACY_ROOT_2019` the 2019 issue with the same name and key (15 years, as the real
    one: 2019-11-22 to 2034-11-18), which RKP devices append."""
    key = derive_key(seed, "android/root/legacy", KeySpec.parse("rsa-4096"))
    subject = _name((NameOID.SERIAL_NUMBER, _hex(seed, "android/root/legacy", 8), PRINTABLE),
                    (NameOID.COMMON_NAME, LEGACY_ROOT_CN, PRINTABLE))
    if reissue:
        start, days = datetime(2019, 11, 22, 20, 37, 58, tzinfo=UTC), 5475
    else:
        start, days = datetime(2022, 3, 20, 18, 7, 48, tzinfo=UTC), 7300
    cert = issue(subject, key.public_key(), subject, key, derive_serial(seed, f"android/root/legacy/{reissue}", 64),
                 start, start + timedelta(days=days), _ca_extensions(key.public_key(), None))
    return Issuer(key, cert)


@lru_cache(maxsize=16)
def root_2026(seed: str) -> Issuer:
    """The emulated 2026 ECDSA P-384 root ``CN=Key Attestation CA1 EMULATED, OU=Android, O=Google LLC, C=US``."""
    key = derive_key(seed, "android/root/2026", KeySpec.parse("ec-p384"))
    subject = _name((NameOID.COMMON_NAME, ROOT_2026_CN, UTF8), (NameOID.ORGANIZATIONAL_UNIT_NAME, "Android", UTF8),
                    (NameOID.ORGANIZATION_NAME, "Google LLC", UTF8), (NameOID.COUNTRY_NAME, "US", PRINTABLE))
    start = datetime(2025, 7, 17, 22, 32, 18, tzinfo=UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = issue(subject, key.public_key(), subject, key, derive_serial(seed, "android/root/2026", 128), start,
                 start + timedelta(days=3650),
                 [(x509.BasicConstraints(ca=True, path_length=None), True),
                  (key_usage("key_cert_sign", "crl_sign"), True), (ski, False)], "sha384")
    return Issuer(key, cert)


def trust_roots(seed: str) -> tuple[x509.Certificate, x509.Certificate]:
    """What a verifier pins, like Google's ``roots.json``: the legacy RSA root and the 2026 root."""
    return legacy_root(seed).certificate, root_2026(seed).certificate


def _software_name(*, locality: bool, cn: str | None) -> x509.Name:
    """Google's software attestation names: C, ST, [L,] O=Google, Inc., OU=Android[, CN]."""
    attrs = [(NameOID.COUNTRY_NAME, "US", PRINTABLE), (NameOID.STATE_OR_PROVINCE_NAME, "California", UTF8),
             *([(NameOID.LOCALITY_NAME, "Mountain View", UTF8)] if locality else []),
             (NameOID.ORGANIZATION_NAME, "Google, Inc.", UTF8), (NameOID.ORGANIZATIONAL_UNIT_NAME, "Android", UTF8),
             *([(NameOID.COMMON_NAME, cn, UTF8)] if cn else [])]
    return _name(*attrs)


def _software_ca_extensions(public_key: CertificatePublicKeyTypes, issuer_key: PrivateKey | None, *,
                            path_length: int | None) -> list[tuple[x509.ExtensionType, bool]]:
    extensions = _ca_extensions(public_key, issuer_key, path_length=path_length)
    return [*extensions[:3], (key_usage("digital_signature", "key_cert_sign"), True)]


class SoftwarePki(NamedTuple):
    """One of AOSP's software attestation chains as emulated: the derivation role and key spec of its root and
    attestation key, their common names, and the real chain's dates and attestation key serial (the root's serial
    is 64 bits, as both real roots'). A table row: a named tuple costs a third of a frozen dataclass to define."""

    role: str
    key_spec: str
    root_cn: str
    root_start: datetime
    key_cn: str
    key_start: datetime
    key_days: int
    key_serial: int


SOFTWARE_PKIS = {
    # RSA-2048 where AOSP's are RSA-1024; its root has no CN, the emulated one names itself EMULATED
    Algorithm.RSA: SoftwarePki("android/software", "rsa-2048", "Android Software Attestation Root EMULATED",
                               datetime(2016, 1, 4, 12, 31, 8, tzinfo=UTC), "Android Software Attestation Key EMULATED",
                               datetime(2016, 1, 4, 12, 40, 53, tzinfo=UTC), 7300, 0x1000),
    # as AOSP's, the intermediate runs 10 years: it expired on 2026-01-08 00:46:09
    Algorithm.EC: SoftwarePki("android/software/ec", "ec-p256", "Android Keystore Software Attestation Root EMULATED",
                              datetime(2016, 1, 11, 0, 43, 50, tzinfo=UTC),
                              "Android Keystore Software Attestation Intermediate EMULATED",
                              datetime(2016, 1, 11, 0, 46, 9, tzinfo=UTC), 3650, 0x1001),
}
"""The emulated software attestation chain of each algorithm keystore's software Keymaster attests (RSA, EC)."""
_SOFTWARE_ROOT_DAYS = 7300
"""Both real software attestation roots run 20 years (7300 days)."""


def _software_pki(algorithm: Algorithm) -> SoftwarePki:
    pki = SOFTWARE_PKIS.get(algorithm)
    if pki is None:
        raise ValueError(f"keystore's software Keymaster attests RSA and EC keys only, not algorithm {algorithm!r}")
    return pki


@lru_cache(maxsize=len(SOFTWARE_PKIS))
def software_root(algorithm: Algorithm) -> Issuer:
    """The emulated software attestation root that attests keys of ``algorithm`` (RSA or EC; else ValueError),
    named as AOSP's (``C=US, ST=California, L=Mountain View, O=Google, Inc., OU=Android``) plus its
    :attr:`SoftwarePki.root_cn`; the same for every seed, built once per process."""
    pki = _software_pki(algorithm)
    key = derive_key(SOFTWARE_SEED, f"{pki.role}/root", KeySpec.parse(pki.key_spec))
    subject = _software_name(locality=True, cn=pki.root_cn)
    cert = issue(subject, key.public_key(), subject, key, derive_serial(SOFTWARE_SEED, f"{pki.role}/root", 64),
                 pki.root_start, pki.root_start + timedelta(days=_SOFTWARE_ROOT_DAYS),
                 _software_ca_extensions(key.public_key(), None, path_length=None))
    return Issuer(key, cert)


@lru_cache(maxsize=len(SOFTWARE_PKIS))
def software_identity(algorithm: Algorithm) -> AttestationIdentity:
    """The emulated software attestation key that attests keys of ``algorithm`` (RSA or EC; else ValueError), its
    certificate (pathlen 0, no locality in its name) issued by :func:`software_root` of the same algorithm; built
    once per process."""
    pki = _software_pki(algorithm)
    root = software_root(algorithm)
    key = derive_key(SOFTWARE_SEED, f"{pki.role}/attestation-key", KeySpec.parse(pki.key_spec))
    certificate = issue(_software_name(locality=False, cn=pki.key_cn), key.public_key(), root.certificate.subject,
                        root.key, pki.key_serial, pki.key_start, pki.key_start + timedelta(days=pki.key_days),
                        _software_ca_extensions(key.public_key(), root.key, path_length=0))
    return AttestationIdentity(key=key, certificate=certificate, chain=(certificate,), root=root.certificate)


def software_roots() -> tuple[x509.Certificate, ...]:
    """Every emulated software attestation root (RSA, then EC): what a relying party that recognises software
    attestations pins."""
    return tuple(software_root(algorithm).certificate for algorithm in SOFTWARE_PKIS)


def _google(cn: str) -> x509.Name:
    return _name((NameOID.ORGANIZATION_NAME, "Google LLC", PRINTABLE), (NameOID.COMMON_NAME, cn, PRINTABLE))


def _period_start(at: datetime, length: timedelta) -> tuple[int, datetime]:
    index = (at - RKP_EPOCH) // length
    return index, RKP_EPOCH + index * length


@lru_cache(maxsize=16)
def droid_ca2(seed: str, *, under_2026: bool) -> Issuer:
    """``Droid CA2 EMULATED`` (P-384): under the legacy root (RSA signature, pathlen 2) or the 2026 root."""
    family = "2026" if under_2026 else "legacy"
    key = derive_key(seed, f"android/droid-ca2/{family}", KeySpec.parse("ec-p384"))
    if under_2026:
        root = root_2026(seed)
        start, days, hash_name, path_length = datetime(2026, 2, 9, 19, 57, 10, tzinfo=UTC), 1095, "sha384", None
    else:
        root = legacy_root(seed)
        start, days, hash_name, path_length = datetime(2022, 1, 26, 22, 47, 52, tzinfo=UTC), 5475, "sha256", 2
    ski, aki, basic, usage = _ca_extensions(key.public_key(), root.key, path_length=path_length, crl_sign=True)
    extensions = [_crl_distribution_point(CA2_2026_CRL), ski, usage, basic, aki] if under_2026 else [
        ski, aki, basic, usage]
    cert = issue(_google("Droid CA2 EMULATED"), key.public_key(), root.certificate.subject, root.key,
                 derive_serial(seed, f"android/droid-ca2/{family}", 128 if under_2026 else 74), start,
                 start + timedelta(days=days), extensions,
                 hash_name)
    return Issuer(key, cert)


def _crl_distribution_point(url: str) -> tuple[x509.ExtensionType, bool]:
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
    return x509.CRLDistributionPoints([point]), False


def _private_ca_bucket(seed: str, role: str) -> str:
    """A Google Cloud Private CA content bucket, as the real 2026-root Droid CA3 names: ``http://privateca-content-
    <uuid>.storage.googleapis.com/<20 hex digits>``, derived from the seed."""
    rng = drbg(seed, f"{role}/bucket")
    uuid = rng.read(16).hex()
    return (f"http://privateca-content-{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
            f".storage.googleapis.com/{rng.read(10).hex()}")


def droid_ca3(seed: str, at: datetime, *, under_2026: bool) -> Issuer:
    """``Droid CA3 EMULATED`` (P-256, signed with SHA-384), re-issued every 56 days for 70 days."""
    return _droid_ca3(seed, _period_start(at, _CA3_PERIOD)[0], under_2026)


@lru_cache(maxsize=64)
def _droid_ca3(seed: str, index: int, under_2026: bool) -> Issuer:
    """The CA3 of issue period ``index`` (built once per process)."""
    ca2 = droid_ca2(seed, under_2026=under_2026)
    family = "2026" if under_2026 else "legacy"
    start = RKP_EPOCH + index * _CA3_PERIOD
    key = derive_key(seed, f"android/droid-ca3/{family}", KeySpec.parse("ec-p256"))
    not_before = start - timedelta(days=2)
    ski, aki, basic, usage = _ca_extensions(key.public_key(), ca2.key)
    extensions = [usage, basic, ski, aki]
    if under_2026:
        bucket = _private_ca_bucket(seed, f"android/droid-ca3/{family}")
        issuers = x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                         x509.UniformResourceIdentifier(f"{bucket}/ca.crt"))
        extensions += [(x509.AuthorityInformationAccess([issuers]), False),
                       _crl_distribution_point(f"{bucket}/crl.crl")]
    cert = issue(_google("Droid CA3 EMULATED"), key.public_key(), ca2.certificate.subject, ca2.key,
                 _serial(seed, f"android/droid-ca3/{family}/{index}", 19), not_before, not_before + timedelta(days=70),
                 extensions, "sha384")
    return Issuer(key, cert)


def provisioning_info(certificates_issued: int) -> bytes:
    """The CBOR map ``{1: certificatesIssued, 3: "Google"}`` of the provisioning-information extension (as the
    real tegu chains; caiman's also carries ``2: true``, akita's only ``{1: 8}``)."""
    assert 24 <= certificates_issued < 256
    return b"\xa2\x01\x18" + bytes([certificates_issued]) + b"\x03\x66Google"


def attestation_key(seed: str, serial: str, level: SecurityLevel, shape: ChainShape) -> PrivateKey:
    """The device's KeyMint attestation key for a level: its RKP key, or the factory batch key."""
    kind = "batch" if shape is ChainShape.FACTORY else "rkp"
    return derive_key(seed, f"android/device/{serial}/{LEVEL_NAMES[level]}/{kind}", KeySpec.parse("ec-p256"))


def _rkp_identity(seed: str, serial: str, level: SecurityLevel, shape: ChainShape, at: datetime,
                  key: PrivateKey) -> AttestationIdentity:
    return _rkp_period_identity(seed, serial, level, shape, _period_start(at, _CA3_PERIOD)[0],
                                _period_start(at, _RKP_CERT_PERIOD)[0], key)


@lru_cache(maxsize=64)
def _rkp_period_identity(seed: str, serial: str, level: SecurityLevel, shape: ChainShape, ca3_index: int,
                         index: int, key: PrivateKey) -> AttestationIdentity:
    """The RKP chain of certificate period ``index`` under CA3 issue ``ca3_index`` (built once per process)."""
    under_2026 = shape is ChainShape.RKP_2026
    ca2 = droid_ca2(seed, under_2026=under_2026)
    ca3 = _droid_ca3(seed, ca3_index, under_2026)
    start = RKP_EPOCH + index * _RKP_CERT_PERIOD
    role = f"android/device/{serial}/{LEVEL_NAMES[level]}/rkp/{index}"
    serial_hex = _hex(seed, role)
    not_before = start - timedelta(hours=7)
    organization = (NameOID.ORGANIZATION_NAME, LEVEL_NAMES[level], PRINTABLE)
    common_name = (NameOID.COMMON_NAME, serial_hex, PRINTABLE)
    # CN first under the legacy root (akita, caiman), O first under the 2026 root (tegu)
    subject = _name(organization, common_name) if under_2026 else _name(common_name, organization)
    info = provisioning_info(CERTIFICATES_ISSUED[level])
    certificate = issue(subject, key.public_key(), ca3.certificate.subject, ca3.key, int(serial_hex, 16), not_before,
                        not_before + timedelta(days=30),
                        [*_ca_extensions(key.public_key(), ca3.key),
                         (x509.UnrecognizedExtension(ObjectIdentifier(OID_PROVISIONING_INFO), info), False)])
    root = root_2026(seed) if under_2026 else legacy_root(seed)
    sent = None if under_2026 else legacy_root(seed, reissue=LEGACY_ROOT_2019).certificate
    return AndroidIdentity(key=key, certificate=certificate, chain=(certificate, ca3.certificate, ca2.certificate),
                           root=root.certificate, sent_root=sent)


def _factory_name(seed: str, role: str) -> x509.Name:
    return _name((NameOID.TITLE, "TEE", UTF8), (NameOID.SERIAL_NUMBER, _hex(seed, role), PRINTABLE))


@lru_cache(maxsize=64)
def _factory_identity(seed: str, serial: str, level: SecurityLevel, key: PrivateKey) -> AttestationIdentity:
    root = legacy_root(seed)
    role = f"android/factory/{LEVEL_NAMES[level]}"
    inter_key = derive_key(seed, f"{role}/intermediate", KeySpec.parse("ec-p384"))
    start = datetime(2022, 9, 17, 17, 23, 38, tzinfo=UTC)
    intermediate = issue(_factory_name(seed, f"{role}/intermediate"), inter_key.public_key(),
                         root.certificate.subject, root.key, _serial(seed, f"{role}/intermediate"), start,
                         start + timedelta(days=3650), _ca_extensions(inter_key.public_key(), root.key))
    batch = issue(_factory_name(seed, f"{role}/batch/{serial}"), key.public_key(), intermediate.subject, inter_key,
                  _serial(seed, f"{role}/batch/{serial}"), start + timedelta(minutes=3),
                  start + timedelta(days=3650, minutes=3), _ca_extensions(key.public_key(), inter_key))
    return AttestationIdentity(key=key, certificate=batch, chain=(batch, intermediate), root=root.certificate)


def android_identity(seed: str, serial: str, level: SecurityLevel, shape: ChainShape, at: datetime,
                     key: PrivateKey | None = None) -> AttestationIdentity:
    """The attestation key of one security level of a device and its chain for ``shape``, valid at ``at``.

    ``key`` (e.g. a user's attesting key) replaces the derived attestation key. ``chain`` excludes
    the root whatever the shape; the generator appends it when the shape sends it.
    """
    if level not in LEVEL_NAMES:
        raise ValueError(f"no attestation key at security level {level!r}")
    key = key or attestation_key(seed, serial, level, shape)
    if shape is ChainShape.FACTORY:
        return _factory_identity(seed, serial, level, key)
    return _rkp_identity(seed, serial, level, shape, at, key)


def attestation_leaf(public_key: CertificatePublicKeyTypes, key_description: bytes | None,
                     identity: AttestationIdentity, *, keymaster: bool = False, critical: bool = False,
                     description_first: bool = False, not_before: datetime = LEAF_NOT_BEFORE,
                     not_after: datetime = LEAF_NOT_AFTER, usages: tuple[str, ...] = ("digital_signature",)
                     ) -> x509.Certificate:
    """The ``CN=Android Keystore Key`` certificate of an attested key, signed by the attestation key.

    Serial 1, valid 1970-01-01 to 2048-01-01 (KeyMint's defaults; keystore's software Keymaster writes
    :data:`SOFTWARE_LEAF_NOT_AFTER`). KeyMint devices, RKP or factory-provisioned, write a critical
    digitalSignature keyUsage then the KeyDescription (akita, tegu, the 2022 factory chain), or with
    ``description_first`` the KeyDescription first (caiman: :attr:`ChainShape.key_description_first`); a
    ``keymaster`` (before KeyMint) writes a
    non-critical keyUsage, the KeyDescription and an authority key identifier, with a UTF8String CN (the real
    Keymaster 4 factory leaf, AOSP's software Keymaster). ``key_description`` None leaves the extension out (a
    certificate no KeyMint writes). ``usages``: the keyUsage bits (Keymaster 3 leaves, as the Pixel 2's, say
    ``key_encipherment`` and ``data_encipherment`` for a key whose purposes include SIGN).
    """
    extensions: list[tuple[x509.ExtensionType, bool]] = [(key_usage(*usages), not keymaster)]
    if key_description is not None:
        extensions.insert(0 if description_first and not keymaster else 1, (
            x509.UnrecognizedExtension(ObjectIdentifier(OID_KEY_DESCRIPTION), key_description), critical))
    if keymaster:
        extensions.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(
            identity.key.public_key()), False))
    subject = _name((NameOID.COMMON_NAME, LEAF_CN, UTF8 if keymaster else PRINTABLE))
    return issue(subject, public_key, identity.certificate.subject, identity.key, 1, not_before,
                 not_after, extensions)


def android_pki_exports(seed: str, serial: str, level: SecurityLevel, shape: ChainShape,
                        at: datetime) -> tuple[PkiExport, ...]:
    """The attestation key's chain of ``level`` for ``shape`` at ``at`` (named ``""``), then that of every other
    shape whose root differs from those before, named after the shape (``rkp-2026``: the 2026 root): what the
    parameter ``shape`` can make a chain end at."""
    exports = [PkiExport.of(android_identity(seed, serial, level, shape, at))]
    for other in ChainShape:
        identity = android_identity(seed, serial, level, other, at)
        if all(identity.root != export.root for export in exports):
            exports.append(PkiExport.of(identity, other.value))
    return tuple(exports)
