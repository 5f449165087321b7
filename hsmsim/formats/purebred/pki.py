"""The Purebred target certificates: the certificate issued for the request's key, shaped as the real ones
(``shared/interop/purebred/*/*_target.der``).

* A pre-enrollment target is self-signed by the key, with a subject key identifier (SHA-1 of the key bits).
  Android: ``O=<model>, OU=<device serial>, CN=<UUID>``, UTF8Strings, a serial of two bytes with the top bit set (as
  the Pixels' ``0x87c5``, ``0xe340``), valid 1825 days; Windows: ``CN=<UUID>, C=US``, PrintableStrings, the serial
  the notBefore's Unix time read as hex digits (as the Surfaces' ``0x1532364565`` for 1532364565), valid five
  calendar years. The UUID derives from the seed and the key label.
* A SCEP target is issued by the emulated ``DOD PB ID SW CA-46 EMULATED`` (RSA-2048, derived from the seed; its
  certificate is not written, as the real CA's is not in the samples): subject ``C=US, O=U.S. Government, OU=DoD,
  OU=PKI, CN=<the request's CN>``, PrintableStrings, a two-byte serial with the top bit set, valid three years,
  and the real extensions in their order: authority key identifier (key id only), subject key identifier, critical
  keyUsage (digitalSignature and, for an RSA key, keyEncipherment: the real ones are all RSA), extendedKeyUsage
  clientAuth, the device policy (2.16.840.1.101.2.1.11.36 for Android and Windows devices, .42 for a YubiKey), AIA
  (caIssuers, OCSP) and a CRL distribution point on the real hosts, the file names marked EMULATED (never fetched).

Known differences: the Windows pre-enrollment target's validity is a GeneralizedTime and its signature algorithm
has no NULL parameters in the real certificates; cryptography writes UTCTime and NULL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, derive_serial, drbg

CA_CN = "DOD PB ID SW CA-46 EMULATED"
CA_FILE = "DODPBIDSWCA_46_EMULATED"
DEVICE_POLICY = "2.16.840.1.101.2.1.11.36"
YUBIKEY_POLICY = "2.16.840.1.101.2.1.11.42"
ANDROID_PREENROLL_VALIDITY = timedelta(days=1825)
SCEP_VALIDITY_YEARS = 3
ANDROID_MODEL = "hsmsim Emulated Phone"
"""O of an Android pre-enrollment target when the device names no model (``android-key``'s emulated model)."""


def years_later(moment: datetime, years: int) -> datetime:
    """The same date and time ``years`` calendar years later (29 February becomes 28 February)."""
    day = 28 if (moment.month, moment.day) == (2, 29) else moment.day
    return moment.replace(year=moment.year + years, day=day)


def dod_name(common_name: str) -> x509.Name:
    """``C=US, O=U.S. Government, OU=DoD, OU=PKI, CN=<common_name>``, PrintableStrings, as the real DoD names."""
    return name(("C", "US", PRINTABLE), ("O", "U.S. Government", PRINTABLE), ("OU", "DoD", PRINTABLE),
                ("OU", "PKI", PRINTABLE), ("CN", common_name, PRINTABLE))


@dataclass(frozen=True)
class ScepCa:
    """The emulated Purebred issuing CA: its name and key (no certificate is written)."""

    name: x509.Name
    key: PrivateKey


@lru_cache(maxsize=4)
def scep_ca(seed: str) -> ScepCa:
    """The emulated ``DOD PB ID SW CA-46 EMULATED`` of ``seed``: an RSA-2048 key derived from it."""
    return ScepCa(dod_name(CA_CN), derive_key(seed, "purebred/dod-pb-id-sw-ca-46", KeySpec.parse("rsa-2048")))


def target_uuid(seed: str, label: str) -> str:
    """The UUID (version 4 form) a device names its pre-enrollment target by, derived from the seed and label."""
    return str(uuid.UUID(bytes=drbg(seed, f"purebred/target-uuid/{label}").read(16), version=4))


def preenroll_target(seed: str, label: str, public_key: PublicKey, signer: PrivateKey, at: datetime, *,
                     windows: bool, model: str, device_serial: str) -> bytes:
    """The pre-enrollment target (module notes), self-signed by ``signer`` (the key's own), DER."""
    identifier = target_uuid(seed, label)
    if windows:
        subject = name(("CN", identifier, PRINTABLE), ("C", "US", PRINTABLE))
        serial, not_after = int(str(int(at.timestamp())), 16), years_later(at, 5)
    else:
        subject = name(("O", model or ANDROID_MODEL, UTF8), ("OU", device_serial, UTF8), ("CN", identifier, UTF8))
        serial, not_after = derive_serial(seed, f"purebred/target/{label}", 16), at + ANDROID_PREENROLL_VALIDITY
    spec = CertSpec(subject, subject, public_key, serial, at, not_after,
                    (Ext(x509.SubjectKeyIdentifier.from_public_key(public_key)),))
    return build_certificate(spec, signer).public_bytes(Encoding.DER)


def scep_target(seed: str, label: str, public_key: PublicKey, common_name: str, at: datetime, *, yubikey: bool
                ) -> bytes:
    """The SCEP target (module notes), issued by :func:`scep_ca`, DER."""
    ca = scep_ca(seed)
    usages = ("digital_signature", "key_encipherment") if isinstance(public_key, rsa.RSAPublicKey) \
        else ("digital_signature",)
    host = "http://pbcrl.redhoundsoftware.net"
    extensions = (
        Ext(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())),
        Ext(x509.SubjectKeyIdentifier.from_public_key(public_key)),
        Ext(key_usage(*usages), critical=True),
        Ext(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])),
        Ext(x509.CertificatePolicies([x509.PolicyInformation(
            x509.ObjectIdentifier(YUBIKEY_POLICY if yubikey else DEVICE_POLICY), None)])),
        Ext(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(f"{host}/sign/{CA_FILE}.cer")),
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://pbocsp.redhoundsoftware.net"))])),
        Ext(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(f"{host}/crl/{CA_FILE}.crl")], None, None, None)])),
    )
    spec = CertSpec(dod_name(common_name), ca.name, public_key, derive_serial(seed, f"purebred/target/{label}", 16),
                    at, years_later(at, SCEP_VALIDITY_YEARS), extensions)
    return build_certificate(spec, ca.key).public_bytes(Encoding.DER)
