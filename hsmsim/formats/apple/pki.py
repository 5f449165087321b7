"""The three emulated Apple attestation PKIs, derived from the seed; every root's name says EMULATED.

Shapes follow the real certificates (``shared/specs/other_formats.md`` 4, the roots Apple publishes and
step-ca embeds): P-384 roots and intermediates signing with ECDSA-SHA384, names ``CN, O=Apple Inc.`` then
``ST=California`` (App Attest, WebAuthn) or ``C=US`` (Enterprise Attestation), a critical basicConstraints
and keyUsage on every CA. Apple sends ``x5c = [leaf, intermediate]``, never the root.

* ``ENTERPRISE``: "Apple Enterprise Attestation Root CA" -> "Apple Enterprise Attestation Sub CA 1" -> the
  Managed Device Attestation leaf (ACME ``device-attest-01`` format ``apple``);
* ``APP_ATTEST``: "Apple App Attestation Root CA" -> "Apple App Attestation CA 1" -> credCert;
* ``WEBAUTHN``: "Apple WebAuthn Root CA" -> "Apple WebAuthn CA 1" -> credCert (WebAuthn ``apple``).

Leaves. The App Attest and WebAuthn credCerts follow the published real ones (py_webauthn's 2021 WebAuthn
``apple`` passkey sample, fido2-net-lib's 2022 App Attest sample): critical CA:FALSE, keyUsage
digitalSignature, nonRepudiation, keyEncipherment and dataEncipherment (``03 02 04 f0``), a 6-byte serial that
is the issuance time in milliseconds since the epoch, valid from a day before issuance to two days after.
No Managed Device Attestation leaf is published; the emulation keeps keyUsage digitalSignature, a seed-derived
serial, and a validity from five minutes before the attestation for three days, and names it as
``shared/specs/round2_formats.md`` 2.0 reports real ones: ``CN=<hash>, OU=AAA Certification, O=Apple Inc.``.

The Enterprise Attestation root is shaped as Apple's (``tests/data/apple``): a 20-octet (159-bit) serial and a
notAfter of 2047-02-20 00:00:00. Its Sub CA 1 has a 20-octet serial (``70:31:e0:…``) and ends on 2032-02-18, as an
audit of live chains reports (``docs/formats/apple.md``); the times of day of its validity are GUESSES (midnight
for the end, as every other Apple CA here ends).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.keystore.base import KeySpec, PublicKey
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, Issuer, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, derive_serial, drbg

LEAF_LEAD = timedelta(minutes=5)
LEAF_LIFETIME = timedelta(days=3)
CRED_CERT_LEAD = timedelta(days=1)
"""The real credCerts' notBefore is their issuance time (the serial) less one day; notAfter three days later."""
LEAF_OU = "AAA Certification"


@dataclass(frozen=True)
class PkiSpec:
    """The names and periods of one Apple attestation PKI."""

    role: str
    root_cn: str
    intermediate_cn: str
    locality: tuple[str, str]
    """The attribute after ``O=Apple Inc.``: ``("ST", "California")`` or ``("C", "US")``."""
    root_start: datetime
    root_end: datetime
    intermediate_start: datetime
    intermediate_end: datetime
    cred_certs: bool = False
    """Leaves are credCerts with the real ones' keyUsage, timestamp serial and validity (module notes)."""
    ca_serial_bits: int = 128
    """The length of the root's and intermediate's serials (:func:`~hsmsim.pki.seed.derive_serial`)."""
    leaf_locality: bool = True
    """Whether a leaf's name ends with :attr:`locality` after ``O=Apple Inc.`` (credCerts) or at it (MDA leaves)."""


ENTERPRISE = PkiSpec("apple/enterprise", "Apple Enterprise Attestation Root CA EMULATED",
                     "Apple Enterprise Attestation Sub CA 1 EMULATED", ("C", "US"),
                     datetime(2022, 2, 16, 19, 1, 24, tzinfo=UTC), datetime(2047, 2, 20, tzinfo=UTC),
                     datetime(2022, 2, 16, 19, 22, 46, tzinfo=UTC), datetime(2032, 2, 18, tzinfo=UTC),
                     ca_serial_bits=159, leaf_locality=False)
# The App Attest and WebAuthn PKIs end at midnight, as Apple's real roots (2045-03-15) and CAs (2030-03-13) do, and
# have 16-octet serials, as theirs.
APP_ATTEST = PkiSpec("apple/app-attest", "Apple App Attestation Root CA EMULATED",
                     "Apple App Attestation CA 1 EMULATED", ("ST", "California"),
                     datetime(2020, 3, 18, 18, 32, 53, tzinfo=UTC), datetime(2045, 3, 15, tzinfo=UTC),
                     datetime(2020, 3, 18, 18, 39, 55, tzinfo=UTC), datetime(2030, 3, 13, tzinfo=UTC), cred_certs=True,
                     ca_serial_bits=127)
WEBAUTHN = PkiSpec("apple/webauthn", "Apple WebAuthn Root CA EMULATED", "Apple WebAuthn CA 1 EMULATED",
                   ("ST", "California"),
                   datetime(2020, 3, 18, 18, 21, 32, tzinfo=UTC), datetime(2045, 3, 15, tzinfo=UTC),
                   datetime(2020, 3, 18, 18, 38, 1, tzinfo=UTC), datetime(2030, 3, 13, tzinfo=UTC), cred_certs=True,
                   ca_serial_bits=127)

_P384 = KeySpec.parse("ec-p384")


@dataclass(frozen=True)
class ApplePki:
    """One emulated Apple PKI: the root verifiers pin and the intermediate that issues leaves."""

    seed: str
    spec: PkiSpec
    root: Issuer
    intermediate: Issuer

    def leaf(self, public_key: PublicKey, common_name: str, extensions: Sequence[Ext], at: datetime, *,
             serial: int | None = None) -> x509.Certificate:
        """A leaf for ``public_key`` issued by the intermediate at ``at`` (the profile of the module notes).

        The extensions are written in the given order after the leaf's critical basicConstraints (CA false)
        and keyUsage.
        """
        role = f"{self.spec.role}/leaf/{common_name}/{at.isoformat()}"
        if self.spec.cred_certs:
            # Apple's serials have millisecond resolution; the milliseconds come from the seed when ``at`` has none.
            millis = at.microsecond // 1000 or int.from_bytes(drbg(self.seed, f"{role}/ms").read(2), "big") % 1000
            number = serial if serial is not None else int(at.timestamp()) * 1000 + millis
            not_before, not_after = at - CRED_CERT_LEAD, at - CRED_CERT_LEAD + LEAF_LIFETIME
            usage = key_usage("digital_signature", "content_commitment", "key_encipherment", "data_encipherment")
        else:
            number = serial if serial is not None else derive_serial(self.seed, role)
            not_before, not_after = at - LEAF_LEAD, at - LEAF_LEAD + LEAF_LIFETIME
            usage = key_usage("digital_signature")
        spec = CertSpec(subject=apple_name(self.spec, common_name, LEAF_OU, self.spec.leaf_locality),
                        issuer=self.intermediate.certificate.subject, public_key=public_key, serial=number,
                        not_before=not_before, not_after=not_after,
                        extensions=(Ext(x509.BasicConstraints(ca=False, path_length=None), True),
                                    Ext(usage, True), *extensions))
        return build_certificate(spec, self.intermediate.key)


def apple_name(spec: PkiSpec, common_name: str, organizational_unit: str | None = None,
               locality: bool = True) -> x509.Name:
    """``CN, [OU,] O=Apple Inc.[, ST=California | C=US]`` (C as PrintableString, the rest UTF8String)."""
    unit = [("OU", organizational_unit, UTF8)] if organizational_unit is not None else []
    tail = [(spec.locality[0], spec.locality[1], PRINTABLE if spec.locality[0] == "C" else UTF8)] if locality else []
    return name(("CN", common_name, UTF8), *unit, ("O", "Apple Inc.", UTF8), *tail)


@functools.lru_cache(maxsize=16)
def apple_pki(seed: str, spec: PkiSpec) -> ApplePki:
    """The emulated PKI ``spec`` for ``seed``: the same keys and certificates in every process (built once per
    process: every statement and vector of the seed is issued under it)."""
    root_key = derive_key(seed, f"{spec.role}/root", _P384)
    root_name = apple_name(spec, spec.root_cn)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = build_certificate(CertSpec(
        subject=root_name, issuer=root_name, public_key=root_key.public_key(),
        serial=derive_serial(seed, f"{spec.role}/root", spec.ca_serial_bits), not_before=spec.root_start,
        not_after=spec.root_end, hash_name="sha384",
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=None), True), Ext(root_ski),
                    Ext(key_usage("key_cert_sign", "crl_sign"), True))), root_key)
    inter_key = derive_key(seed, f"{spec.role}/intermediate", _P384)
    inter = build_certificate(CertSpec(
        subject=apple_name(spec, spec.intermediate_cn), issuer=root_name, public_key=inter_key.public_key(),
        serial=derive_serial(seed, f"{spec.role}/intermediate", spec.ca_serial_bits),
        not_before=spec.intermediate_start, not_after=spec.intermediate_end, hash_name="sha384",
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=0), True),
                    Ext(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski)),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key())),
                    Ext(key_usage("key_cert_sign", "crl_sign"), True))), root_key)
    return ApplePki(seed, spec, Issuer(root_key, root), Issuer(inter_key, inter))


def leaf_name(seed: str, role: str) -> str:
    """The hex common name of a leaf (Apple's credCerts carry a 64-digit hex CN), derived from the seed."""
    return hashlib.sha256(f"{seed}/{role}".encode()).hexdigest()


def raw_extension(oid: str, value: bytes, critical: bool = False) -> Ext:
    """An extension whose extnValue is exactly ``value`` (Apple's device OIDs carry raw bytes, not DER)."""
    return Ext(x509.UnrecognizedExtension(ObjectIdentifier(oid), value), critical)
