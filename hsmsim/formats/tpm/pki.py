"""The emulated TPM manufacturer PKI: root -> intermediate -> EK certificate and AK certificate.

Keys are derived from the seed and every CA name says EMULATED, so nothing here can pass for a
TPM vendor's production root. The leaf profiles follow the TCG EK Credential Profile and WebAuthn
§8.3.1 (``shared/specs/other_formats.md`` 1.4):

* EK certificate: v3, **empty subject**, critical SAN directoryName with tpmManufacturer
  (2.23.133.2.1, ``id:XXXXXXXX``), tpmModel (2.23.133.2.2) and tpmVersion (2.23.133.2.3), EKU
  tcg-kp-EKCertificate 2.23.133.8.1, keyUsage keyEncipherment (critical), basicConstraints
  CA:FALSE (critical), subjectDirectoryAttributes tpmSpecification 2.23.133.2.16, AKI.
* AK certificate: v3, **empty subject**, the same critical SAN, EKU tcg-kp-AIKCertificate
  2.23.133.8.3, keyUsage digitalSignature (critical), basicConstraints CA:FALSE (critical), the
  FIDO AAGUID extension 1.3.6.1.4.1.45724.1.1.4 (non-critical), AKI.

Under the ``rsa`` (Windows) profile an AK certificate (other than ACME's, which names the device) is a Windows
AIK certificate: :func:`windows_aik_extensions` adds Microsoft's critical certificatePolicies, SKI and AIA, and
leaves out the AAGUID extension, as every published Windows AIK certificate does.

CHOICES: one intermediate issues both (a real AK is certified by an attestation CA after
MakeCredential/ActivateCredential; hsmsim emulates that outcome, see ``docs/formats/tpm.md``);
the SAN's three attributes are three RDNs, as Windows AIK and swtpm EK certificates carry them. The CAs'
algorithms are a :data:`TpmPkiProfile`, by default ``rsa`` (an RSA-4096 root and an RSA-4096 intermediate, every
certificate sha256WithRSAEncryption), as the Windows AIK hierarchy the ms-kast and Windows Hello TPM
chains end in: Microsoft TPM Root Certificate Authority 2014 is RSA-4096 and self-signs
sha256WithRSAEncryption; the AIK CAs it has issued since 2019 (``WUS-INTC-KEYID-…`` 2019-2025,
``EUS-NTC-KEYID-E4A8…`` 2021-2027, in py_webauthn's two Windows Hello samples) are RSA-4096, signed
sha256WithRSAEncryption, with a critical keyUsage digitalSignature+keyCertSign; the intermediate carries their
extensions (:func:`aik_ca_extensions`) in every profile. (The older AIK CAs bundled in the Purebred Surface Pro
requests, issued 2014-2017, are RSA-2048 with a non-critical keyUsage that adds cRLSign; the AIK certificates hsmsim
issues are shaped as the newer CAs' ones, so their CA is too.) A Windows AIK certificate expires with its CA, as in
both samples; the CA outlives Microsoft's six years, to its root's end less a day, so that an attestation made at
any time in the root's life chains (a real AIK made later comes from a newer CA). In the ``rsa`` profile the CAs are
also named and numbered as those: the root ``C, ST, L, O, CN`` and the intermediate a lone ``CN``, all
PrintableStrings, with 16- and 19-octet serials, and the root carries Microsoft's extensions in its order (keyUsage
digitalSignature, keyCertSign, cRLSign, not critical; basicConstraints; SKI; CA version 0). Most RSA EK roots
are RSA-2048 (Infineon, Nuvoton, STMicro, AMD), Infineon OPTIGA RSA Root CA RSA-4096. ``ecdsa-p384``
keeps the keys and root hsmsim emitted before: P-384 CAs signing ecdsa-with-SHA384, as the P-384 EK roots
do (GlobalSign Trusted Platform Module ECC Root CA, STM TPM ECC Root CA 01, Infineon OPTIGA ECC Root
CA; Nuvoton's and Intel's ECC roots are P-256).
"""

from __future__ import annotations

import functools
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ObjectIdentifier

from hsmsim.encoding import der_oid, der_sequence, der_tlv
from hsmsim.formats.tpm.layout import DEFAULT_PKI_PROFILE, TpmPkiProfile
from hsmsim.keystore.base import KeySpec, KeyType, PrivateKey, PublicKey
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, derive_serial

TPM_MANUFACTURER = ObjectIdentifier("2.23.133.2.1")
TPM_MODEL = ObjectIdentifier("2.23.133.2.2")
TPM_VERSION = ObjectIdentifier("2.23.133.2.3")
TPM_SPECIFICATION = "2.23.133.2.16"
EKU_EK_CERTIFICATE = ObjectIdentifier("2.23.133.8.1")
EKU_AIK_CERTIFICATE = ObjectIdentifier("2.23.133.8.3")
FIDO_AAGUID_EXTENSION = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
PERMANENT_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.8.3")
EKU_MS_AIK_CA = ObjectIdentifier("1.3.6.1.4.1.311.21.36")
"""The Microsoft EKU its AIK CAs carry beside tcg-kp-AIKCertificate."""
POLICY_MS_AIK_CA = ObjectIdentifier("1.3.6.1.4.1.311.21.31")
"""The certificate policy of Microsoft's AIK CAs."""

ROOT_CN = "hsmsim vTPM Root CA EMULATED"
INTERMEDIATE_CN = "hsmsim vTPM Attestation CA EMULATED"
ROOT_NOT_BEFORE = datetime(2024, 6, 3, 8, 0, 0, tzinfo=UTC)
ROOT_LIFETIME = timedelta(days=25 * 365)
PKI_BASE = "http://pki.hsmsim.example/pkiops"
"""Where the emulated root's CRL and certificate would be published (an example domain; the paths are Microsoft's)."""
AK_LIFETIME = timedelta(days=10 * 365)
"""The validity of an AK certificate that is not Windows-shaped (a Windows AIK certificate ends with its CA)."""
EK_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""GeneralizedTime 99991231235959Z: "no well-defined expiration", as TPM vendors issue EK certificates."""

EMULATED_AAGUID = uuid.UUID("6873696d-7470-4d00-8000-454d554c4154")
"""The AAGUID of hsmsim's emulated TPM authenticator ("hsimtpM" ... "EMULAT")."""

TCG_VENDOR_IDS = {
    0x414D4400: "AMD", 0x414E5400: "Ant Group", 0x41544D4C: "Atmel", 0x4252434D: "Broadcom",
    0x4353434F: "Cisco", 0x464C5953: "Flyslice Technologies", 0x524F4343: "Fuzhou Rockchip", 0x474F4F47: "Google",
    0x48504900: "HPI", 0x48504500: "HPE", 0x48495349: "Huawei", 0x49424D00: "IBM", 0x49465800: "Infineon",
    0x494E5443: "Intel", 0x4C454E00: "Lenovo", 0x4D534654: "Microsoft", 0x4E534D20: "National Semiconductor",
    0x4E545A00: "Nationz", 0x4E544300: "Nuvoton Technology", 0x51434F4D: "Qualcomm", 0x534D534E: "Samsung",
    0x534E5300: "Sinosun", 0x534D5343: "SMSC", 0x53544D20: "ST Microelectronics", 0x54584E00: "Texas Instruments",
    0x57454300: "Winbond",
}
"""The TCG TPM Vendor ID Registry (version 1.06): TPM_PT_MANUFACTURER values and their vendors."""


@dataclass(frozen=True)
class TpmModel:
    """What a TPM says about itself: TPM_PT_MANUFACTURER, its model string and firmware version.

    The defaults describe an IBM-manufactured software TPM (libtpms reports ``IBM``, swtpm's own
    EK certificates say ``swtpm``); the firmware version is date-coded as libtpms does.
    """

    manufacturer: int = 0x49424D00
    model: str = "hsmsim-vTPM"
    firmware_version: int = 0x2025010600000001

    @property
    def manufacturer_id(self) -> str:
        """``id:XXXXXXXX`` as the SAN carries it."""
        return f"id:{self.manufacturer:08X}"

    @property
    def version_id(self) -> str:
        """``id:XXXXXXXX``: the upper 32 bits of the firmware version, as the SAN carries it."""
        return f"id:{self.firmware_version >> 32:08X}"


DEFAULT_MODEL = TpmModel()


def permanent_identifier(value: str) -> x509.OtherName:
    """otherName id-on-permanentIdentifier (RFC 4043): PermanentIdentifier ::= SEQUENCE {identifierValue UTF8String}."""
    return x509.OtherName(PERMANENT_IDENTIFIER, der_sequence(der_tlv(0x0C, value.encode())))


def tpm_san(model: TpmModel, permanent_id: str | None = None) -> x509.SubjectAlternativeName:
    """The TCG SAN: one directoryName holding manufacturer, model and version, each in its own RDN (as real
    Windows AIK and swtpm EK certificates write them), then (for ACME device attestation) the permanentIdentifier
    of the device."""
    names: list[x509.GeneralName] = [x509.DirectoryName(x509.Name([
        x509.NameAttribute(TPM_MANUFACTURER, model.manufacturer_id, _type=UTF8),
        x509.NameAttribute(TPM_MODEL, model.model, _type=UTF8),
        x509.NameAttribute(TPM_VERSION, model.version_id, _type=UTF8),
    ]))]
    if permanent_id is not None:
        names.append(permanent_identifier(permanent_id))
    return x509.SubjectAlternativeName(names)


def _ca_name(cn: str) -> x509.Name:
    return name(("C", "CH", PRINTABLE), ("O", "hsmsim", UTF8), ("OU", "Emulated TPM", UTF8), ("CN", cn, UTF8))


MS_CA_VERSION = ObjectIdentifier("1.3.6.1.4.1.311.21.1")
"""Microsoft's CA version extension (an INTEGER: 0 for a CA's first key), which its TPM root carries."""
WINDOWS_ROOT_NAME = name(("C", "CH", PRINTABLE), ("ST", "Zurich", PRINTABLE), ("L", "Zurich", PRINTABLE),
                         ("O", "hsmsim", PRINTABLE), ("CN", ROOT_CN, PRINTABLE))
"""The ``rsa`` profile's root, named as Microsoft TPM Root Certificate Authority 2014 is: C, ST, L, O and CN, all
PrintableStrings (the values hsmsim's)."""
WINDOWS_INTERMEDIATE_NAME = name(("CN", INTERMEDIATE_CN, PRINTABLE))
"""The ``rsa`` profile's intermediate, named as Microsoft's AIK CAs (``EUS-IFX-KeyId-…``) are: one PrintableString
CN."""


def authority_key_identifier(issuer_key: PublicKey) -> Ext:
    """The AKI extension naming ``issuer_key`` (its SHA-1 key identifier)."""
    return Ext(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key))


def _der_uint(value: int) -> bytes:
    """A non-negative DER INTEGER."""
    return der_tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def aik_ca_extensions(ca_key: PublicKey, issuer_key: PublicKey, issuer_cn: str) -> tuple[Ext, ...]:
    """The extensions of an AIK CA certificate, in the order and with the criticality of Microsoft's
    ``EUS-*-KEYID-…`` AIK CAs since 2019: keyUsage digitalSignature, keyCertSign (critical); EKU
    1.3.6.1.4.1.311.21.36 and tcg-kp-AIKCertificate; certificatePolicies 1.3.6.1.4.1.311.21.31; basicConstraints CA,
    pathLen 0 (critical); SKI; AKI; the issuer's CRL (CDP) and certificate (AIA caIssuers) under :data:`PKI_BASE`."""
    published = f"{PKI_BASE}/{{}}/{urllib.parse.quote(issuer_cn)}.{{}}"
    return (Ext(key_usage("digital_signature", "key_cert_sign"), critical=True),
            Ext(x509.ExtendedKeyUsage([EKU_MS_AIK_CA, EKU_AIK_CERTIFICATE])),
            Ext(x509.CertificatePolicies([x509.PolicyInformation(POLICY_MS_AIK_CA, None)])),
            Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True),
            Ext(x509.SubjectKeyIdentifier.from_public_key(ca_key)),
            authority_key_identifier(issuer_key),
            Ext(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(published.format("crl", "crl"))], None, None, None)])),
            Ext(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(published.format("certs", "crt")))])))


def tpm_specification_extension(family: str = "2.0", level: int = 0, revision: int = 159) -> x509.UnrecognizedExtension:
    """subjectDirectoryAttributes holding TPMSpecification ::= SEQUENCE {family UTF8String, level, revision}."""
    spec = der_sequence(der_tlv(0x0C, family.encode()), _der_uint(level), _der_uint(revision))
    attribute = der_sequence(der_oid(TPM_SPECIFICATION), der_tlv(0x31, spec))
    return x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_DIRECTORY_ATTRIBUTES, der_sequence(attribute))


def aaguid_extension(aaguid: uuid.UUID) -> x509.UnrecognizedExtension:
    """id-fido-gen-ce-aaguid: an OCTET STRING holding the 16-byte AAGUID."""
    return x509.UnrecognizedExtension(FIDO_AAGUID_EXTENSION, der_tlv(0x04, aaguid.bytes))


@dataclass(frozen=True)
class CaAlgorithms:
    """The algorithms of a :data:`TpmPkiProfile`: the CAs' key specs and the digest every certificate of the
    hierarchy is signed with."""

    root_key_spec: str
    intermediate_key_spec: str
    hash_name: str

    @property
    def intermediate_key_title(self) -> str:
        """The intermediate's key as a reader names it: ``RSA-2048``, ``P-384``."""
        spec = KeySpec.parse(self.intermediate_key_spec)
        return f"P-{spec.bits}" if spec.key_type is KeyType.EC else f"RSA-{spec.bits}"


_PROFILES: dict[TpmPkiProfile, CaAlgorithms] = {
    "rsa": CaAlgorithms("rsa-4096", "rsa-4096", "sha256"),
    "ecdsa-p384": CaAlgorithms("ec-p384", "ec-p384", "sha384"),
}
PKI_PROFILES: tuple[TpmPkiProfile, ...] = tuple(_PROFILES)
"""Every :data:`TpmPkiProfile`, the default first."""


@dataclass(frozen=True)
class TpmPki:
    """The emulated manufacturer hierarchy: root -> attestation/EK-issuing intermediate, with the ``algorithms``
    of its profile."""

    root_key: PrivateKey
    root: x509.Certificate
    intermediate_key: PrivateKey
    intermediate: x509.Certificate
    algorithms: CaAlgorithms


def ca_algorithms(pki_profile: TpmPkiProfile) -> CaAlgorithms:
    """The algorithms of ``pki_profile``; raises ValueError for an unknown profile."""
    if pki_profile not in _PROFILES:
        raise ValueError(f"unknown TPM PKI profile {pki_profile!r}: one of {', '.join(_PROFILES)}")
    return _PROFILES[pki_profile]


def tpm_pki(seed: str, profile: TpmPkiProfile = DEFAULT_PKI_PROFILE) -> TpmPki:
    """Root and intermediate for ``seed`` with the algorithms of ``profile`` (shared by every emulated
    TPM of the seed and profile; built once per process). The key roles are the same in every profile: a derived
    key depends on its spec too. Raises ValueError for an unknown profile."""
    # One cache entry whether the profile is given or defaulted (an lru_cache keys the two calls apart).
    return _tpm_pki(seed, ca_algorithms(profile))


@functools.lru_cache(maxsize=16)
def _tpm_pki(seed: str, algorithms: CaAlgorithms) -> TpmPki:
    root_key = derive_key(seed, "tpm/root", KeySpec.parse(algorithms.root_key_spec))
    ski = Ext(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()))
    root_extensions: tuple[Ext, ...]
    if algorithms == _PROFILES["rsa"]:  # shaped as Microsoft TPM Root Certificate Authority 2014 and its AIK CAs
        root_name, intermediate_name = WINDOWS_ROOT_NAME, WINDOWS_INTERMEDIATE_NAME
        # 16 and 19 octets, as Microsoft's TPM root and AIK CAs
        root_serial, intermediate_serial = derive_serial(seed, "tpm/root", 127), derive_serial(
            seed, "tpm/intermediate", 151)
        root_extensions = (Ext(key_usage("digital_signature", "key_cert_sign", "crl_sign")),
                           Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True), ski,
                           Ext(x509.UnrecognizedExtension(MS_CA_VERSION, der_tlv(0x02, b"\x00"))))
    else:
        root_name, intermediate_name = _ca_name(ROOT_CN), _ca_name(INTERMEDIATE_CN)
        root_serial, intermediate_serial = derive_serial(seed, "tpm/root"), derive_serial(seed, "tpm/intermediate")
        root_extensions = (Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True),
                           Ext(key_usage("key_cert_sign", "crl_sign"), critical=True), ski)
    root = build_certificate(CertSpec(
        subject=root_name, issuer=root_name, public_key=root_key.public_key(),
        serial=root_serial, not_before=ROOT_NOT_BEFORE, not_after=ROOT_NOT_BEFORE + ROOT_LIFETIME,
        extensions=root_extensions, hash_name=algorithms.hash_name,
    ), root_key)
    intermediate_key = derive_key(seed, "tpm/intermediate", KeySpec.parse(algorithms.intermediate_key_spec))
    intermediate = build_certificate(CertSpec(
        subject=intermediate_name, issuer=root_name, public_key=intermediate_key.public_key(),
        serial=intermediate_serial, not_before=ROOT_NOT_BEFORE + timedelta(days=1),
        not_after=ROOT_NOT_BEFORE + ROOT_LIFETIME - timedelta(days=1),
        extensions=aik_ca_extensions(intermediate_key.public_key(), root_key.public_key(), ROOT_CN),
        hash_name=algorithms.hash_name,
    ), root_key)
    return TpmPki(root_key, root, intermediate_key, intermediate, algorithms)


def ek_certificate(pki: TpmPki, seed: str, serial: str, ek_public: PublicKey, model: TpmModel,
                   issued: datetime) -> x509.Certificate:
    """The EK certificate of the TPM ``serial`` (TCG EK Credential Profile; subject empty)."""
    return build_certificate(CertSpec(
        subject=x509.Name([]), issuer=pki.intermediate.subject, public_key=ek_public,
        serial=derive_serial(seed, f"tpm/{serial}/ek"), not_before=issued, not_after=EK_NOT_AFTER,
        extensions=(Ext(key_usage("key_encipherment"), critical=True),
                    Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
                    Ext(tpm_san(model), critical=True),
                    Ext(x509.ExtendedKeyUsage([EKU_EK_CERTIFICATE])),
                    Ext(tpm_specification_extension()),
                    authority_key_identifier(pki.intermediate_key.public_key())),
        hash_name=pki.algorithms.hash_name,
    ), pki.intermediate_key)


WINDOWS_AIK_NOTICE = "TCPA  Trusted  Platform  Identity"
"""The user notice of Microsoft's AIK certificates, two spaces between the words as the real BMPString has them."""


def windows_aik_policies() -> x509.UnrecognizedExtension:
    """certificatePolicies of a Windows AIK certificate, byte for byte as Microsoft's AIK CAs write it: policy
    1.3.6.1.4.1.311.21.31 qualified by a user notice whose explicitText is the BMPString :data:`WINDOWS_AIK_NOTICE`
    (cryptography's encoder would write a UTF8String)."""
    notice = der_sequence(der_tlv(0x1E, WINDOWS_AIK_NOTICE.encode("utf-16-be")))
    qualifier = der_sequence(der_oid("1.3.6.1.5.5.7.2.2"), notice)  # id-qt-unotice
    policy = der_sequence(der_oid(POLICY_MS_AIK_CA.dotted_string), der_sequence(qualifier))
    return x509.UnrecognizedExtension(x509.oid.ExtensionOID.CERTIFICATE_POLICIES, der_sequence(policy))


def ak_certificate_extensions(model: TpmModel, aaguid: uuid.UUID | None = EMULATED_AAGUID,
                              permanent_id: str | None = None) -> tuple[Ext, ...]:
    """The AK certificate's extensions in hsmsim's order (without AKI): keyUsage, basicConstraints, SAN, EKU,
    the AAGUID."""
    out = [Ext(key_usage("digital_signature"), critical=True),
           Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
           Ext(tpm_san(model, permanent_id), critical=True),
           Ext(x509.ExtendedKeyUsage([EKU_AIK_CERTIFICATE]))]
    if aaguid is not None:
        out.append(Ext(aaguid_extension(aaguid)))
    return tuple(out)


def windows_aik_extensions(model: TpmModel, public_key: PublicKey, issuer_key: PublicKey,
                           aaguid: uuid.UUID | None = None) -> tuple[Ext, ...]:
    """The AK certificate's extensions as a Windows AIK certificate (py_webauthn's Surface Pro 4 sample, issued by
    ``WUS-INTC-KEYID-…``) carries them, in its order: keyUsage (critical), basicConstraints (critical),
    certificatePolicies (critical, :func:`windows_aik_policies`), EKU, SAN (critical), AKI, SKI and AIA caIssuers
    naming the attestation CA's certificate under :data:`PKI_BASE`. No Windows AIK certificate carries the FIDO
    AAGUID extension (six published Windows Hello registrations); with ``aaguid`` it follows the SAN."""
    issuer_url = f"{PKI_BASE}/certs/{urllib.parse.quote(INTERMEDIATE_CN)}.crt"
    out = [Ext(key_usage("digital_signature"), critical=True),
           Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
           Ext(windows_aik_policies(), critical=True),
           Ext(x509.ExtendedKeyUsage([EKU_AIK_CERTIFICATE])),
           Ext(tpm_san(model), critical=True)]
    if aaguid is not None:
        out.append(Ext(aaguid_extension(aaguid)))
    out += [authority_key_identifier(issuer_key),
            Ext(x509.SubjectKeyIdentifier.from_public_key(public_key)),
            Ext(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(issuer_url))]))]
    return tuple(out)
