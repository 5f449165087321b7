"""The emulated Fortanix attestation PKI: root -> Key Attestation CA -> DSM cluster authority.

Keys are derived from the seed and the root's CN ends in ``EMULATED``; everything else
follows the published DSM sample (``shared/specs/luna_fortanix_nshield.md`` 4, checked
against the real response in ``shared/interop/fortanix``):

* every name attribute is a UTF8String (``C`` included); CA names are C, ST, L, O, CN in
  that order; the cluster authority's subject is a lone CN;
* RSA-4096 root (self-signed, KU digitalSignature+keyCertSign+cRLSign, BC CA, SKI), RSA-4096
  Key Attestation CA (same KU, BC CA without pathLen, SKI, CRL-DP to the root's CRL, policy
  ``1.3.6.1.4.1.49690.6.1.2``, AKI), RSA-3072 cluster authority (KU digitalSignature, BC
  CA:FALSE, SKI, EKU ``1.3.6.1.4.1.49690.8.1``, the cluster node enrollment policy
  ``1.3.6.1.4.1.49690.2.5``, CRL-DP to the CA's CRL, the policy, AKI), in that order;
* SKI = SHA-1 over the whole DER SubjectPublicKeyInfo (not RFC 5280 method 1, which hashes the
  BIT STRING contents only), AKI = the issuer's SKI (keyid only): the real authority, CA and
  root are made so, and the vendor's verifier recomputes the SKI that way;
* 20-byte serials; UTCTime validity; the authority is re-certified every 30 days with the
  same key, so a statement's AKI still names it after renewal.

Where the sample cannot be reproduced with ``cryptography``'s builder: its CA and root
serials have the top bit set (21-byte DER INTEGERs) while the builder caps serials at 159
bits (serials here are 159-bit), and its authority encodes ``cA FALSE`` explicitly and its
keyUsage with one unused bit (not DER), which
:func:`~hsmsim.formats.fortanix.captured_encoding.with_captured_encoding` writes afterwards.

GUESSES: the CA is renewed every two years with the same key (the sample's CA expires
2026-08-31); the emulated authority periods are aligned on the sample's 2023-09-01 14:28:45.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.encoding import der_oid, der_tlv, spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.fortanix.captured_encoding import with_captured_encoding
from hsmsim.formats.fortanix.layout import PROFILE_FX2200
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, drbg

ROOT_CN = "Fortanix Attestation and Provisioning Root CA EMULATED"
CA_CN = "Fortanix Key Attestation CA"
AUTHORITY_CN = "Fortanix DSM SaaS Key Attestation Authority"
PKI_BASE = "https://pki.fortanix.com"
ROOT_CRL = f"{PKI_BASE}/Fortanix_Attestation_and_Provisioning_Root_CA.crl"
CA_CRL = f"{PKI_BASE}/Fortanix_Key_Attestation_CA.crl"

KEY_ATTESTATION_POLICY = ObjectIdentifier("1.3.6.1.4.1.49690.6.1.2")
KEY_ATTESTATION_EKU = ObjectIdentifier("1.3.6.1.4.1.49690.8.1")
ENROLLMENT_POLICY = ObjectIdentifier("1.3.6.1.4.1.49690.2.5")
ITEM_MIN_PROTECTION_PROFILE = "1.3.6.1.4.1.49690.2.5.1"
PROFILE_NAMES = {PROFILE_FX2200: "Fortanix FX2200"}
"""Well-known protection profiles by OID (the vendor's verifier names the FX2200 one so)."""
ITEM_SITE_OPERATOR_APPROVAL = "1.3.6.1.4.1.49690.2.5.2"

ROOT_NOT_BEFORE = datetime(2023, 9, 1, 0, 20, 46, tzinfo=UTC)
ROOT_NOT_AFTER = datetime(2033, 8, 29, 0, 20, 46, tzinfo=UTC)
CA_EPOCH = datetime(2023, 9, 1, 0, 21, 59, tzinfo=UTC)
CA_LIFETIME = timedelta(days=1095)
CA_RENEWAL = timedelta(days=730)
AUTHORITY_EPOCH = datetime(2023, 9, 1, 14, 28, 45, tzinfo=UTC)
AUTHORITY_LIFETIME = timedelta(days=30)

_CA_KU = ("digital_signature", "key_cert_sign", "crl_sign")


def fortanix_ca_name(cn: str) -> x509.Name:
    """C=US, ST=California, L=Santa Clara, O=Fortanix, Inc., CN=``cn``, all UTF8String."""
    return name(("C", "US", UTF8), ("ST", "California", UTF8), ("L", "Santa Clara", UTF8),
                ("O", "Fortanix, Inc.", UTF8), ("CN", cn, UTF8))


def serial20(seed: str, role: str) -> int:
    """A 20-byte serial (159 bits, the most ``cryptography`` builds), derived from the seed."""
    return (int.from_bytes(drbg(seed, f"{role}/serial").read(20), "big") >> 1) or 1


def ski(public_key: PublicKey) -> x509.SubjectKeyIdentifier:
    """The SKI DSM writes: SHA-1 over the whole DER SubjectPublicKeyInfo (not RFC 5280 method 1)."""
    return x509.SubjectKeyIdentifier(hashlib.sha1(spki_der(public_key)).digest())


def aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """keyIdentifier = the issuer's SKI (:func:`ski` of its key, as every SKI here is), nothing else."""
    return x509.AuthorityKeyIdentifier(key_identifier=ski(issuer.public_key()).digest,  # type: ignore[arg-type]
                                       authority_cert_issuer=None, authority_cert_serial_number=None)


def _crl(url: str) -> Ext:
    return Ext(x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None, crl_issuer=None)]))


def _policy(oid: ObjectIdentifier = KEY_ATTESTATION_POLICY) -> Ext:
    return Ext(x509.CertificatePolicies([x509.PolicyInformation(oid, None)]))


def enrollment_policy(profile: str = PROFILE_FX2200) -> x509.UnrecognizedExtension:
    """The cluster node enrollment policy: SEQUENCE OF {policyItem OID, qualifiers ANY OPTIONAL}.

    Item 1: minimum protection profile with ``profile`` as qualifier; item 2: site-operator approval.
    """
    items = (der_tlv(0x30, der_oid(ITEM_MIN_PROTECTION_PROFILE) + der_oid(profile))
             + der_tlv(0x30, der_oid(ITEM_SITE_OPERATOR_APPROVAL)))
    return x509.UnrecognizedExtension(ENROLLMENT_POLICY, der_tlv(0x30, items))


@dataclass(frozen=True)
class FortanixPki:
    """The emulated hierarchy for one validity period: root, Key Attestation CA, cluster authority."""

    root_key: PrivateKey
    root: x509.Certificate
    ca_key: PrivateKey
    ca: x509.Certificate
    authority_key: PrivateKey
    authority: x509.Certificate

    def identity(self) -> AttestationIdentity:
        """The authority as the attestation identity: chain (authority, CA), the root as anchor."""
        return AttestationIdentity(key=self.authority_key, certificate=self.authority,
                                   chain=(self.authority, self.ca), root=self.root)


@lru_cache(maxsize=32)
def fortanix_root(seed: str) -> tuple[PrivateKey, x509.Certificate]:
    """The emulated Fortanix Attestation and Provisioning Root CA and its key (one per seed)."""
    key = derive_key(seed, "fortanix/root", KeySpec.parse("rsa-4096"))
    subject = fortanix_ca_name(ROOT_CN)
    cert = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(), serial=serial20(seed, "fortanix/root"),
        not_before=ROOT_NOT_BEFORE, not_after=ROOT_NOT_AFTER,
        extensions=(Ext(key_usage(*_CA_KU), critical=True),
                    Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True),
                    Ext(ski(key.public_key()))),
    ), key)
    return key, cert


def ca_period(at: datetime) -> int:
    """Index of the Key Attestation CA certificate current at ``at`` (renewed every two years)."""
    return max(0, (at - CA_EPOCH) // CA_RENEWAL)


def authority_period(at: datetime) -> tuple[int, datetime]:
    """Index and notBefore of the 30-day authority certificate whose validity holds ``at``."""
    index = (at - AUTHORITY_EPOCH) // AUTHORITY_LIFETIME
    return index, AUTHORITY_EPOCH + index * AUTHORITY_LIFETIME


def fortanix_ca(seed: str, at: datetime) -> tuple[PrivateKey, x509.Certificate, PrivateKey, x509.Certificate]:
    """Root key and cert, and the Key Attestation CA key and the CA certificate current at ``at``."""
    return _ca(seed, ca_period(at))


@lru_cache(maxsize=32)
def _ca(seed: str, period: int) -> tuple[PrivateKey, x509.Certificate, PrivateKey, x509.Certificate]:
    root_key, root = fortanix_root(seed)
    key = derive_key(seed, "fortanix/key-attestation-ca", KeySpec.parse("rsa-4096"))
    not_before = CA_EPOCH + period * CA_RENEWAL
    cert = build_certificate(CertSpec(
        subject=fortanix_ca_name(CA_CN), issuer=root.subject, public_key=key.public_key(),
        serial=serial20(seed, f"fortanix/key-attestation-ca/{period}"),
        not_before=not_before, not_after=not_before + CA_LIFETIME,
        extensions=(Ext(key_usage(*_CA_KU), critical=True),
                    Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True),
                    Ext(ski(key.public_key())), _crl(ROOT_CRL), _policy(), Ext(aki(root))),
    ), root_key)
    return root_key, root, key, cert


def authority_extensions(public_key: PublicKey, ca: x509.Certificate, *,
                         profile: str = PROFILE_FX2200) -> tuple[Ext, ...]:
    """The cluster authority's extensions in the sample's order."""
    return (Ext(key_usage("digital_signature"), critical=True),
            Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
            Ext(ski(public_key)),
            Ext(x509.ExtendedKeyUsage([KEY_ATTESTATION_EKU])),
            Ext(enrollment_policy(profile)),
            _crl(CA_CRL), _policy(), Ext(aki(ca)))


def fortanix_pki(seed: str, cluster: str, at: datetime, *, key: PrivateKey | None = None,
                 captured_encoding: bool = False) -> FortanixPki:
    """The hierarchy whose authority certificate covers ``at``.

    ``key`` certifies another authority key (e.g. a user's attesting key) in place of the
    cluster's derived RSA-3072 key. ``captured_encoding`` reproduces the published authority's
    non-DER encodings (see :func:`~hsmsim.formats.fortanix.captured_encoding.with_captured_encoding`).
    """
    if key is None:
        key = derive_key(seed, f"fortanix/cluster/{cluster}/authority", KeySpec.parse("rsa-3072"))
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise UnsupportedKeyError("a Fortanix key attestation authority key must be RSA or EC")
    return _pki(seed, ca_period(at), authority_period(at)[0], key, captured_encoding)


@lru_cache(maxsize=64)
def _pki(seed: str, ca_index: int, period: int, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
         captured_encoding: bool) -> FortanixPki:
    """The hierarchy of authority period ``period`` under CA issue ``ca_index`` (built once per process)."""
    root_key, root, ca_key, ca = _ca(seed, ca_index)
    public = key.public_key()
    not_before = AUTHORITY_EPOCH + period * AUTHORITY_LIFETIME
    spki_digest = hashlib.sha256(spki_der(public)).hexdigest()
    authority = build_certificate(CertSpec(
        subject=name(("CN", AUTHORITY_CN, UTF8)), issuer=ca.subject, public_key=public,
        serial=serial20(seed, f"fortanix/authority/{spki_digest[:32]}/{period}"),
        not_before=not_before, not_after=not_before + AUTHORITY_LIFETIME,
        extensions=authority_extensions(public, ca),
    ), ca_key)
    if captured_encoding:
        authority = with_captured_encoding(authority, ca_key)
    return FortanixPki(root_key, root, ca_key, ca, key, authority)
