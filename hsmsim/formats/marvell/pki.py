"""The emulated Marvell LiquidSecurity PKIs: the manufacturer chain and the cloud owners' chains.

Manufacturer (``shared/specs/marvell.md`` 3): an LS1-style root (the real DN shape: C as
PrintableString, ST/L/O/OU/CN as UTF8String, one attribute per RDN), an X.509 **v1** card
certificate (serial 1, subject = one multi-valued RDN ``C+ST+O+OU+L`` then
``CN=HSM:<serial>, for FIPS mode``) and a v3 partition certificate without extensions
(``CN=HSM:<serial>:PARTN:<n>, for FIPS mode``). Every key is RSA-2048 and every signature
sha256WithRSAEncryption, so the partition key makes the 256-byte blob signature.

Owners re-certify the *same* public keys: Google's "Hawksbill" root issues an owner card and an
owner partition certificate directly (v3, CA:FALSE, critical KU digitalSignature +
keyEncipherment, SKI/AKI); Azure ships a self-signed "partition root" that issues the owner
partition certificate.

Keys are derived from the seed and every root's CN ends in ``EMULATED``: nothing here chains to a
production root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hsmsim.encoding import der_content, der_oid, der_sequence, der_tlv
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.pki.builder import (
    PRINTABLE,
    UTF8,
    CertSpec,
    Ext,
    build_certificate,
    key_usage,
    name,
    spec_of_certificate,
)
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, drbg

EMULATED_SUFFIX = " EMULATED"
LS1_ROOT_CN = "localca.liquidsecurity.cavium.com"
LS2_ROOT_CN = "cavium-liquidsecurity-ls2"
HAWKSBILL_ROOT_CN = "Hawksbill Root v1 prod"
AZURE_PARTITION_ROOT_CN = "Azure Managed HSM Partition Root"
CERT_LIFETIME = timedelta(days=3650)  # card 2020-06-05 .. 2030-06-03, partition 2024-04-15 .. 2034-04-13
# The reissued LS1 root (v3, same key and DN as the 2015 v1 root).
LS1_ROOT_NOT_BEFORE = datetime(2024, 7, 25, 20, 29, 20, tzinfo=UTC)
LS1_ROOT_NOT_AFTER = datetime(2034, 7, 23, 20, 29, 20, tzinfo=UTC)
LS1_LEGACY_NOT_BEFORE = datetime(2015, 11, 19, 13, 55, 25, tzinfo=UTC)
LS1_LEGACY_NOT_AFTER = datetime(2025, 11, 16, 13, 55, 25, tzinfo=UTC)
HAWKSBILL_NOT_BEFORE = datetime(2017, 7, 1, tzinfo=UTC)
HAWKSBILL_NOT_AFTER = datetime(2030, 1, 1, tzinfo=UTC)
AZURE_ROOT_LIFETIME = timedelta(days=7300)
_RSA_2048 = KeySpec.parse("rsa-2048")
_SHA256_WITH_RSA = der_sequence(der_oid("1.2.840.113549.1.1.11"), der_tlv(0x05, b""))
"""AlgorithmIdentifier sha256WithRSAEncryption with NULL parameters."""
_V3_VERSION_FIELD = der_tlv(0xA0, der_tlv(0x02, b"\x02"))
"""``[0] EXPLICIT Version v3``: what a v1 TBSCertificate leaves out."""


def ls1_root_name(cn: str = LS1_ROOT_CN + EMULATED_SUFFIX) -> x509.Name:
    """The LS1 root DN shape: C (PrintableString), ST, L, O, OU, CN (UTF8String), one per RDN."""
    return name(("C", "US", PRINTABLE), ("ST", "California", UTF8), ("L", "San Jose", UTF8),
                ("O", "Cavium, Inc.", UTF8), ("OU", "LiquidSecurity", UTF8), ("CN", cn, UTF8))


def ls2_root_name(cn: str = LS2_ROOT_CN + EMULATED_SUFFIX) -> x509.Name:
    """The LS2 root DN shape: one multi-valued RDN ``C+ST+OU+L+O`` then CN."""
    return name([("C", "US", PRINTABLE), ("ST", "CA", UTF8), ("OU", "SSBU", UTF8), ("L", "SanJose", UTF8),
                 ("O", "Marvell", UTF8)], ("CN", cn, UTF8))


@cache
def marvell_root_names() -> tuple[x509.Name, ...]:
    """Every DN a LiquidSecurity manufacturer root may carry: LS1 and LS2, real and EMULATED (built once: the
    verifier asks for them per certificate)."""
    return (ls1_root_name(LS1_ROOT_CN), ls1_root_name(), ls2_root_name(LS2_ROOT_CN), ls2_root_name())


def hsm_name(cn: str) -> x509.Name:
    """A card or partition DN: the multi-valued RDN ``C+ST+O+OU+L`` of the real certs, then CN."""
    return name([("C", "US", PRINTABLE), ("ST", "CA", UTF8), ("O", "Cavium", UTF8), ("OU", "N3FIPS", UTF8),
                 ("L", "SanJose", UTF8)], ("CN", cn, UTF8))


def _signed(tbs: bytes, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return x509.load_der_x509_certificate(der_sequence(tbs, _SHA256_WITH_RSA, der_tlv(0x03, b"\x00" + signature)))


def build_v1_certificate(spec: CertSpec, issuer_key: PrivateKey) -> x509.Certificate:
    """An X.509 **v1** certificate (no version field, no extensions), sha256WithRSAEncryption.

    Identical inputs give identical DER (PKCS#1 v1.5 is deterministic). Raises ValueError when
    ``spec`` asks for extensions, which v1 cannot carry.
    """
    if spec.extensions:
        raise ValueError("an X.509 v1 certificate cannot carry extensions")
    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise UnsupportedKeyError("Marvell certificates are signed with RSA keys")
    content = der_content(build_certificate(replace(spec, hash_name="sha256"), issuer_key).tbs_certificate_bytes)
    if not content.startswith(_V3_VERSION_FIELD):
        raise ValueError("unexpected TBSCertificate layout")
    return _signed(der_sequence(content[len(_V3_VERSION_FIELD):]), issuer_key)


def reissue_v1(cert: x509.Certificate, issuer_key: PrivateKey, **changes: object) -> x509.Certificate:
    """``cert`` (a v1 certificate) rebuilt as v1 with ``changes`` (any CertSpec field)."""
    return build_v1_certificate(replace(spec_of_certificate(cert), **changes), issuer_key)  # type: ignore[arg-type]


def _serial(seed: str, role: str, octets: int) -> int:
    """A positive serial of ``octets`` bytes with the top bit clear (as Google's 20-byte serials)."""
    return int.from_bytes(drbg(seed, f"{role}/serial").read(octets), "big") >> 1 or 1


def hsm_serial(device_serial: str, initialised: datetime) -> str:
    """The card's serial in the real shape ``5.3G<yy><ww>-ICM<6 digits>`` (e.g. ``5.3G1953-ICM001225``)."""
    made = initialised - timedelta(days=200)
    digits = "".join(ch for ch in device_serial if ch.isdigit())[-6:].rjust(6, "0")
    return f"5.3G{made.year % 100:02d}{made.isocalendar().week:02d}-ICM{digits}"


def partition_number(partition: str) -> int:
    """``default`` is partition 1 (as in every published sample); other names map to 2..32."""
    if partition == "default":
        return 1
    return 2 + hashlib.sha256(partition.encode()).digest()[0] % 31


@dataclass(frozen=True)
class MarvellPki:
    """The manufacturer chain of one partition: root -> card (v1) -> partition (v3, no extensions)."""

    root_key: PrivateKey
    root: x509.Certificate
    card_key: PrivateKey
    card: x509.Certificate
    partition_key: PrivateKey
    partition: x509.Certificate
    hsm_serial: str

    def identity(self) -> AttestationIdentity:
        """The partition key as hsmsim's attestation identity (chain: partition, card)."""
        return AttestationIdentity(key=self.partition_key, certificate=self.partition,
                                   chain=(self.partition, self.card), root=self.root)


@lru_cache(maxsize=8)
def marvell_root(seed: str, *, legacy: bool = False) -> tuple[PrivateKey, x509.Certificate]:
    """The emulated LS1 root: by default the 2024 reissue (v3, KU critical + BC), else the
    2015 legacy v1 root (which expires 2025-11-16). Both carry the same key and DN."""
    key = derive_key(seed, "marvell/ls1-root", _RSA_2048)
    subject = ls1_root_name()
    if legacy:
        serial = int.from_bytes(drbg(seed, "marvell/ls1-root/serial").read(8), "big") | (1 << 63)
        return key, build_v1_certificate(CertSpec(
            subject=subject, issuer=subject, public_key=key.public_key(), serial=serial,
            not_before=LS1_LEGACY_NOT_BEFORE, not_after=LS1_LEGACY_NOT_AFTER), key)
    # The real reissue has serial 0, which cryptography deprecates; the emulation uses 1.
    return key, build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(), serial=1,
        not_before=LS1_ROOT_NOT_BEFORE, not_after=LS1_ROOT_NOT_AFTER,
        extensions=(Ext(key_usage("digital_signature", "key_cert_sign"), critical=True),
                    Ext(x509.BasicConstraints(ca=True, path_length=None))),
    ), key)


def marvell_pki(
    seed: str, device_serial: str, partition: str, *, initialised: datetime, created: datetime,
    legacy_root: bool = False, partition_key: PrivateKey | None = None, key_role: str = "partition",
) -> MarvellPki:
    """Root, card certificate (made at ``initialised``) and partition certificate (at ``created``).

    ``partition_key`` replaces the partition's derived RSA-2048 key (a user attesting key);
    ``key_role`` keeps its certificate's serial role distinct. The derived PKI is built once per process.
    """
    if partition_key is None:
        return _derived_pki(seed, device_serial, partition, initialised, created, legacy_root, key_role)
    return _pki(seed, device_serial, partition, initialised, created, legacy_root, partition_key, key_role)


@lru_cache(maxsize=64)
def _derived_pki(seed: str, device_serial: str, partition: str, initialised: datetime, created: datetime,
                 legacy_root: bool, key_role: str) -> MarvellPki:
    partition_key = derive_key(seed, f"marvell/card/{device_serial}/{partition}/{key_role}", _RSA_2048)
    return _pki(seed, device_serial, partition, initialised, created, legacy_root, partition_key, key_role)


def _pki(seed: str, device_serial: str, partition: str, initialised: datetime, created: datetime,
         legacy_root: bool, partition_key: PrivateKey, key_role: str) -> MarvellPki:
    root_key, root = marvell_root(seed, legacy=legacy_root)
    serial = hsm_serial(device_serial, initialised)
    card_key = derive_key(seed, f"marvell/card/{device_serial}", _RSA_2048)
    card = build_v1_certificate(CertSpec(
        subject=hsm_name(f"HSM:{serial}, for FIPS mode"), issuer=root.subject, public_key=card_key.public_key(),
        serial=1, not_before=initialised, not_after=initialised + CERT_LIFETIME), root_key)
    number = partition_number(partition)
    if not isinstance(partition_key, rsa.RSAPrivateKey) or partition_key.key_size != 2048:
        raise UnsupportedKeyError("a LiquidSecurity partition key must be RSA-2048 (the blob signature is 256 bytes)")
    certificate = build_certificate(CertSpec(
        subject=hsm_name(f"HSM:{serial}:PARTN:{number}, for FIPS mode"), issuer=card.subject,
        public_key=partition_key.public_key(),
        serial=1 if key_role == "partition" else _serial(seed, f"marvell/{device_serial}/{partition}/{key_role}", 8),
        not_before=created, not_after=created + CERT_LIFETIME), card_key)
    return MarvellPki(root_key, root, card_key, card, partition_key, certificate, serial)


def _owner_leaf_extensions(subject_key: rsa.RSAPublicKey, issuer: x509.Certificate) -> tuple[Ext, ...]:
    return (
        Ext(x509.BasicConstraints(ca=False, path_length=None)),
        Ext(key_usage("digital_signature", "key_encipherment"), critical=True),
        Ext(x509.SubjectKeyIdentifier.from_public_key(subject_key)),
        Ext(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class OwnerPki:
    """A cloud owner's certificates over the manufacturer keys.

    ``card`` is None for Azure (no owner card certificate); ``root`` is Google's Hawksbill root
    or Azure's self-signed partition root (which Azure ships inside the bundle).
    """

    root_key: PrivateKey
    root: x509.Certificate
    card: x509.Certificate | None
    partition: x509.Certificate


@lru_cache(maxsize=8)
def hawksbill_root(seed: str) -> tuple[PrivateKey, x509.Certificate]:
    """The emulated Google owner root ``Hawksbill Root v1 prod EMULATED`` (v3, serial 3, 2017..2030)."""
    key = derive_key(seed, "google/hawksbill-root", _RSA_2048)
    subject = name(("C", "US", PRINTABLE), ("ST", "CA", UTF8), ("L", "Mountain View", UTF8),
                   ("O", "Google Inc", UTF8), ("CN", HAWKSBILL_ROOT_CN + EMULATED_SUFFIX, UTF8))
    return key, build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(), serial=3,
        not_before=HAWKSBILL_NOT_BEFORE, not_after=HAWKSBILL_NOT_AFTER,
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True),
                    Ext(key_usage("digital_signature", "key_cert_sign", "crl_sign"), critical=True),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(key.public_key()))),
    ), key)


@lru_cache(maxsize=64)
def google_owner_pki(seed: str, partition: x509.Certificate, card: x509.Certificate) -> OwnerPki:
    """Hawksbill-issued owner card and owner partition certificates carrying the *identical* SPKIs
    and subjects of the manufacturer's ``card`` and ``partition`` certificates."""
    root_key, root = hawksbill_root(seed)
    issued = partition.not_valid_before_utc

    def owner_cert(of: x509.Certificate, role: str, when: datetime) -> x509.Certificate:
        public = of.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        return build_certificate(CertSpec(
            subject=of.subject, issuer=root.subject, public_key=public,
            serial=_serial(seed, f"google/{role}/{of.subject.rfc4514_string()}/{issued.isoformat()}", 20),
            not_before=when, not_after=root.not_valid_after_utc,
            extensions=_owner_leaf_extensions(public, root)), root_key)

    return OwnerPki(root_key, root, owner_cert(card, "card", issued - timedelta(seconds=6)),
                    owner_cert(partition, "partition", issued + timedelta(seconds=90)))


@lru_cache(maxsize=64)
def azure_owner_pki(seed: str, partition: x509.Certificate, pool: str) -> OwnerPki:
    """Azure's self-signed partition root for ``pool`` and the owner partition certificate over the
    Marvell ``partition`` key (same subject, same SPKI)."""
    root_key = derive_key(seed, f"azure/partition-root/{pool}", _RSA_2048)
    subject = name(("C", "US", PRINTABLE), ("ST", "Washington", UTF8), ("L", "Redmond", UTF8),
                   ("O", "Microsoft Corporation", UTF8), ("OU", f"Azure Managed HSM {pool}", UTF8),
                   ("CN", AZURE_PARTITION_ROOT_CN + EMULATED_SUFFIX, UTF8))
    issued = partition.not_valid_before_utc
    root = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=root_key.public_key(),
        serial=_serial(seed, f"azure/partition-root/{pool}", 16),
        not_before=issued - timedelta(hours=1), not_after=issued + AZURE_ROOT_LIFETIME,
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True),
                    Ext(key_usage("key_cert_sign", "crl_sign"), critical=True),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()))),
    ), root_key)
    public = partition.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    owner_partition = build_certificate(CertSpec(
        subject=partition.subject, issuer=root.subject, public_key=public,
        serial=_serial(seed, f"azure/partition/{pool}/{partition.subject.rfc4514_string()}/{issued.isoformat()}", 16),
        not_before=issued + timedelta(seconds=30), not_after=root.not_valid_after_utc,
        extensions=_owner_leaf_extensions(public, root)), root_key)
    return OwnerPki(root_key, root, None, owner_partition)
