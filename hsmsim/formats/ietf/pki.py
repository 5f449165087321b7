"""The emulated attestation-key PKIs of the ietf family (every key derived from the seed, roots named EMULATED).

* PKIX Evidence: ``RootCA EMULATED`` -> ``IntCA EMULATED`` -> the device's attestation key (AK), all
  ECDSA P-256 like the draft's sample data (``O=ietf-rats, OU=pkix-key-attestation``), the AK with
  keyUsage digitalSignature and EKU ``id-kp-attestationKey``. Every certificate carries an authority key
  identifier after its SKI, the root's equal to its SKI, as the samples' ``ca.crt``, ``int.crt``, ``ak.crt``.
* TcgAttestCertify: ``test-rootCA EMULATED`` -> the TPM's AK, named as in the draft's sample
  (``O=ietf-lamps, OU=ietf-lamps-csr``), the AK with EKU ``tcg-kp-AIKCertificate`` (2.23.133.8.3). Only named so:
  the sample's AK is RSA-2048 with an issuer-and-serial AKI and a non-critical keyUsage, under a v1 root without
  extensions, where hsmsim's CAs are this module's usual P-256 profile (a draft's test data, not a device's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.formats.ietf.asn1 import ID_KP_ATTESTATION_KEY, TCG_KP_AIK_CERTIFICATE
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, derive_serial

ROOT_NOT_BEFORE = datetime(2024, 9, 2, 8, 0, 0, tzinfo=UTC)
LIFETIME = timedelta(days=3650)
_P256 = KeySpec.parse("ec-p256")
SERIAL_BITS = 159
"""Every certificate's serial: 20 octets, top bit clear, as OpenSSL's random serials in the drafts' samples."""


def _name(organisation: str, unit: str, cn: str) -> x509.Name:
    return name(("O", organisation, UTF8), ("OU", unit, UTF8), ("CN", cn, UTF8))


def _authority_key_id(issuer_key: PrivateKey, wanted: bool) -> tuple[Ext, ...]:
    """The AKI naming ``issuer_key`` (as the SKI of its certificate), if ``wanted``."""
    if not wanted:
        return ()
    return (Ext(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
        x509.SubjectKeyIdentifier.from_public_key(issuer_key.public_key()))),)


def _ca(seed: str, role: str, subject: x509.Name, issuer: tuple[x509.Name, PrivateKey] | None,
        not_before: datetime, *, aki: bool = False) -> tuple[PrivateKey, x509.Certificate]:
    key = derive_key(seed, role, _P256)
    issuer_name, issuer_key = issuer or (subject, key)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = build_certificate(CertSpec(
        subject=subject, issuer=issuer_name, public_key=key.public_key(),
        serial=derive_serial(seed, role, SERIAL_BITS),
        not_before=not_before, not_after=ROOT_NOT_BEFORE + LIFETIME,
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True), Ext(ski),
                    *_authority_key_id(issuer_key, aki),
                    Ext(key_usage("digital_signature", "key_cert_sign"), critical=True)),
    ), issuer_key)
    return key, cert


def _leaf(seed: str, role: str, subject: x509.Name, issuer: tuple[x509.Certificate, PrivateKey],
          eku: str, not_before: datetime, key: PrivateKey | None = None, *,
          aki: bool = False) -> tuple[PrivateKey, x509.Certificate]:
    key = key or derive_key(seed, role, _P256)
    issuer_cert, issuer_key = issuer
    cert = build_certificate(CertSpec(
        subject=subject, issuer=issuer_cert.subject, public_key=key.public_key(),
        serial=derive_serial(seed, role, SERIAL_BITS),
        not_before=not_before, not_after=issuer_cert.not_valid_after_utc,
        extensions=(
            Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
            Ext(x509.SubjectKeyIdentifier.from_public_key(key.public_key())),
            *_authority_key_id(issuer_key, aki),
            Ext(key_usage("digital_signature"), critical=True),
            Ext(x509.ExtendedKeyUsage([ObjectIdentifier(eku)])),
        ),
    ), issuer_key)
    return key, cert


def evidence_identity(seed: str, serial: str, partition: str, *, created: datetime,
                      key_name: str = "attestation-key", key: PrivateKey | None = None) -> AttestationIdentity:
    """The PKIX Evidence AK of device ``serial``'s ``partition`` (or ``key``, a user's attesting key) and its chain."""
    unit = "pkix-key-attestation"
    root_key, root = _ca(seed, "ietf/evidence/root", _name("ietf-rats", unit, "RootCA EMULATED"), None,
                         ROOT_NOT_BEFORE, aki=True)
    int_key, intermediate = _ca(seed, "ietf/evidence/int", _name("ietf-rats", unit, "IntCA EMULATED"),
                                (root.subject, root_key), ROOT_NOT_BEFORE, aki=True)
    ak_key, ak = _leaf(seed, f"ietf/evidence/{serial}/{partition}/{key_name}",
                       _name("ietf-rats", unit, f"{key_name} {serial}"), (intermediate, int_key),
                       ID_KP_ATTESTATION_KEY, max(created, ROOT_NOT_BEFORE), key, aki=True)
    return AttestationIdentity(key=ak_key, certificate=ak, chain=(ak, intermediate), root=root)


def tpm_identity(seed: str, serial: str, *, created: datetime) -> AttestationIdentity:
    """The emulated TPM AK (ECC P-256) of device ``serial`` and its self-signed root, as TcgAttestCertify uses."""
    unit = "ietf-lamps-csr"
    root_key, root = _ca(seed, "ietf/tpm/root", _name("ietf-lamps", unit, "test-rootCA EMULATED"), None,
                         ROOT_NOT_BEFORE)
    ak_key, ak = _leaf(seed, f"ietf/tpm/{serial}/ak", _name("ietf-lamps", unit, f"test-ak {serial}"),
                       (root, root_key), TCG_KP_AIK_CERTIFICATE, max(created, ROOT_NOT_BEFORE))
    return AttestationIdentity(key=ak_key, certificate=ak, chain=(ak,), root=root)
