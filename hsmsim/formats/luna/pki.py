"""The emulated Thales Luna manufacturer PKI, written byte for byte the way Luna writes certificates.

Two hierarchies issue Public Key Confirmations (``shared/specs/luna_fortanix_nshield.md`` 2, EXACT):

* RSA (5 certificates): PKC -> DAC ``Luna K7-<serial>`` -> HOC ``Hardware Origin Certificate`` ->
  MIC ``Thales Luna Mfg Integrity Certifcate x1`` (sic) -> ``Chrysalis-ITS Root``; sha384WithRSA
  except the root's sha1WithRSA self-signature; RSA-4096 CA keys.
* ECC (3 certificates): PKC -> HOC ``CN=<serial>`` (P-384) -> ``SafeNet ECC Manufacturer Integrity
  Module`` (P-384, trailing space kept); ecdsa-with-SHA384 with an explicit NULL parameter.

Every name, string type, extension (and its order), EKU under ``1.3.6.1.4.1.12383.1``, private
extension under ``.2``, serial style and validity follows the real certificates. Luna encodes
``critical FALSE`` explicitly on its private extensions (BER, not DER); :class:`CertEncoding`
reproduces that by default and emits proper DER with ``strict_der``. Certificates are assembled
from asn1crypto primitives, because cryptography's builder can neither write the explicit FALSE
nor parse it back.

Emulated, not real: keys are derived from the seed (RSA public exponent 65537 where the real
Chrysalis-ITS root has 3), and both roots say EMULATED in their CN. The pkctype 1 chain (``TC-Trust
Center``) is a GUESS: PKC -> DAC re-issued by an emulated TC TrustCenter CA -> that CA.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import algos, core, keys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hsmsim.encoding import der_oid, der_sequence, der_tlv, spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.pki.seed import derive_key, drbg

ARC = "1.3.6.1.4.1.12383"
EKU_ROOT = f"{ARC}.1.1"
EKU_MIC = f"{ARC}.1.7"
EKU_HOC = f"{ARC}.1.8"
EKU_DAC = f"{ARC}.1.12"
EKU_PKC = f"{ARC}.1.13"
EKU_ECC_ROOT = f"{ARC}.1.14"
EKU_ECC_HOC = f"{ARC}.1.15"
EXT_SERIAL = f"{ARC}.2.1"
EXT_FIRMWARE = f"{ARC}.2.3"
EXT_2_4 = f"{ARC}.2.4"
EXT_KEY_FLAGS = f"{ARC}.2.5"
EXT_2_6 = f"{ARC}.2.6"
EXT_2_7 = f"{ARC}.2.7"
ECC_ROOT_POLICY = "1.2.276.0.44.1.1.3.2.8"

OID_EKU = "2.5.29.37"
OID_KU = "2.5.29.15"
OID_BC = "2.5.29.19"
OID_SKI = "2.5.29.14"
OID_AKI = "2.5.29.35"
OID_POLICIES = "2.5.29.32"

RSA_VALIDITY = (datetime(2020, 3, 1, tzinfo=UTC), datetime(2032, 5, 5, tzinfo=UTC))
RSA_ROOT_VALIDITY = (datetime(2002, 1, 1, tzinfo=UTC), datetime(2032, 1, 1, tzinfo=UTC))
ECC_VALIDITY = (datetime(2010, 8, 12, 15, 23, 6, tzinfo=UTC), datetime(2030, 8, 12, 15, 23, 6, tzinfo=UTC))
TC_ROOT_VALIDITY = (datetime(2009, 1, 1, tzinfo=UTC), datetime(2034, 1, 1, tzinfo=UTC))  # GUESS

RSA_ROOT_SERIAL = 0x804500000007
RSA_ROOT_REISSUE_SERIAL = 0x80450000000D
MIC_SERIAL = 0x04FB2F1A
ECC_ROOT_SERIAL = 0x04995800000000
HOC_SERIAL_PREFIX = 0x2004EE1D

RSA_ROOT_NAME = (("C", "CA"), ("ST", "Ontario"), ("L", "Ottawa"), ("O", "Chrysalis-ITS Inc."),
                 ("CN", "Chrysalis-ITS Root EMULATED"))
MIC_NAME = (("C", "CA"), ("ST", "Ontario"), ("L", "Ottawa"), ("O", "Thales Canada"), ("OU", "HSM Engineering"),
            ("CN", "Thales Luna Mfg Integrity Certifcate x1"))
HOC_NAME = (("CN", "Hardware Origin Certificate"),)
ECC_ROOT_NAME = (("C", "US"), ("O", "SafeNet, Inc."), ("OU", "Luna Manufacturer Integrity ECC"),
                 ("CN", "SafeNet ECC Manufacturer Integrity Module EMULATED "))
TC_ROOT_NAME = (("C", "DE"), ("L", "Hamburg"), ("O", "TC TrustCenter GmbH"), ("OU", "TC TrustCenter Class 3 L1 CA"),
                ("CN", "TC TrustCenter Luna Root EMULATED"))

_ATTR_OIDS = {"C": "2.5.4.6", "ST": "2.5.4.8", "L": "2.5.4.7", "O": "2.5.4.10", "OU": "2.5.4.11",
              "CN": "2.5.4.3", "E": "1.2.840.113549.1.9.1"}
_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1_rsa": hashes.SHA1, "sha256_rsa": hashes.SHA256, "sha384_rsa": hashes.SHA384,
    "sha512_rsa": hashes.SHA512, "sha256_ecdsa": hashes.SHA256, "sha384_ecdsa": hashes.SHA384,
    "sha512_ecdsa": hashes.SHA512,
}
CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                     "581A0DB248B0A77AECEC196ACCC52973", 16),
}


# -- Luna's certificate encoding (DER, except where CertEncoding reproduces a quirk) ---------------

def encode_name(rdns: tuple[tuple[str, str], ...]) -> bytes:
    """A Name with one attribute per RDN, in this order: PrintableString where the value allows it
    (as Luna writes every name), UTF8String otherwise, IA5String for ``E`` (emailAddress)."""
    out = b""
    for attr, value in rdns:
        if attr == "E":
            string = der_tlv(0x16, value.encode("ascii"))
        elif set(value) <= _PRINTABLE:
            string = der_tlv(0x13, value.encode("ascii"))
        else:
            string = der_tlv(0x0C, value.encode("utf-8"))
        out += der_tlv(0x31, der_sequence(der_oid(_ATTR_OIDS[attr]), string))
    return der_sequence(out)


def key_identifier(spki: bytes, digest: str = "sha256") -> bytes:
    """Hash of the subjectPublicKey bits, as the real ECC HOC and root compute their 32-byte SKI."""
    bits = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    return hashlib.new(digest, bits).digest()


def ec_point_key_identifier(spki: bytes) -> bytes:
    """SHA-256 of the DER OCTET STRING holding the EC point (``04 41 04‖X‖Y`` for P-256: the key's PKCS#11
    CKA_EC_POINT), as the real ECC PKC leaf computes its SKI."""
    point = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    return hashlib.sha256(core.OctetString(point).dump()).digest()


def _time(moment: datetime) -> bytes:
    moment = moment.astimezone(UTC)
    return bytes((core.UTCTime(moment) if moment.year < 2050 else core.GeneralizedTime(moment)).dump())


@dataclass(frozen=True)
class CertEncoding:
    """How certificates are written: faithful to Luna by default."""

    strict_der: bool = False
    """Omit ``critical FALSE`` (a DEFAULT value) as DER requires; Luna encodes it explicitly."""
    ecdsa_null_params: bool = True
    """Write ecdsa-with-SHA* AlgorithmIdentifiers with an explicit NULL parameter, as Luna does
    (RFC 5758 says absent; cryptography refuses to load such certificates)."""


FAITHFUL = CertEncoding()
PARSEABLE = CertEncoding(strict_der=True, ecdsa_null_params=False)
"""The encoding cryptography can load: used for the AttestationIdentity and trust-anchor files."""


@dataclass(frozen=True)
class LunaExt:
    """One extension: OID, the DER (or raw) extnValue, criticality, and Luna's explicit FALSE."""

    oid: str
    value: bytes
    critical: bool = False
    explicit_false: bool = False


@dataclass(frozen=True)
class LunaCertSpec:
    """Everything that goes into one Luna certificate (names and SPKI as DER)."""

    serial: int
    signature: str
    """asn1crypto name of the signature algorithm: ``sha384_rsa``, ``sha1_rsa``, ``sha384_ecdsa``."""
    issuer: bytes
    subject: bytes
    not_before: datetime
    not_after: datetime
    spki: bytes
    extensions: tuple[LunaExt, ...] = ()
    unpadded_ecdsa_s: bool = False
    """Encode the ECDSA ``s`` as fixed-width unsigned bytes with its top bit set and no 0x00 pad,
    reproducing the real ECC PKC leaf (strict DER reads it as negative; openssl fails with error 7)."""


def algorithm_identifier(signature: str, encoding: CertEncoding = FAITHFUL) -> bytes:
    """The signature AlgorithmIdentifier: NULL parameters for RSA, and for ECDSA when Luna-faithful."""
    value: dict[str, object] = {"algorithm": signature}
    if signature.endswith("_rsa") or encoding.ecdsa_null_params:
        value["parameters"] = core.Null()
    return bytes(algos.SignedDigestAlgorithm(value).dump())


EXPLICIT_CRITICAL_FALSE = b"\x01\x01\x00"
"""Luna's BER quirk: the DEFAULT ``critical FALSE`` written out, where DER omits it."""


def encode_extension(ext: LunaExt, encoding: CertEncoding = FAITHFUL) -> bytes:
    """One Extension; ``critical FALSE`` written explicitly unless ``strict_der``."""
    if ext.critical:
        flag = b"\x01\x01\xff"
    elif ext.explicit_false and not encoding.strict_der:
        flag = EXPLICIT_CRITICAL_FALSE
    else:
        flag = b""
    return der_sequence(der_oid(ext.oid), flag, core.OctetString(ext.value).dump())


def tbs_certificate(spec: LunaCertSpec, encoding: CertEncoding = FAITHFUL) -> bytes:
    """The DER (or Luna-BER) TBSCertificate of ``spec``."""
    extensions = b""
    if spec.extensions:
        extensions = der_tlv(0xA3, der_sequence(*(encode_extension(e, encoding) for e in spec.extensions)))
    return der_sequence(
        der_tlv(0xA0, core.Integer(2).dump()), core.Integer(spec.serial).dump(),
        algorithm_identifier(spec.signature, encoding), spec.issuer,
        der_sequence(_time(spec.not_before), _time(spec.not_after)), spec.subject, spec.spki, extensions,
    )


def _deterministic(key: PrivateKey) -> bool:
    # cryptography's own keys sign with RFC 6979; token keys (PKCS#11) cannot.
    return type(key).__module__.startswith("cryptography.")


def sign_message(message: bytes, key: PrivateKey, signature: str, *, unpadded_s: bool = False) -> bytes:
    """The signatureValue bytes: RSA PKCS#1 v1.5, or deterministic ECDSA (DER, or Luna's unpadded ``s``)."""
    algorithm = _HASHES[signature]()
    if isinstance(key, rsa.RSAPrivateKey):
        if not signature.endswith("_rsa"):
            raise UnsupportedKeyError(f"{signature} needs an EC key, not RSA")
        return key.sign(message, padding.PKCS1v15(), algorithm)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not signature.endswith("_ecdsa"):
        raise UnsupportedKeyError(f"{signature} cannot be made with a {type(key).__name__}")
    der = key.sign(message, ec.ECDSA(algorithm, deterministic_signing=_deterministic(key)))
    return ecdsa_signature_with_unpadded_s(der, key.curve.name) if unpadded_s else der


def ecdsa_signature_with_unpadded_s(der: bytes, curve: str) -> bytes:
    """Luna's quirky ECDSA-Sig-Value for the DER signature ``der`` on ``curve``: the same signature
    with ``s`` written as fixed-width unsigned bytes, top bit set and no 0x00 pad, as on the real
    ECC PKC leaf (strict DER reads it as negative; openssl fails with error 7)."""
    r, s = decode_dss_signature(der)
    order = CURVE_ORDERS[curve]
    width = (order.bit_length() + 7) // 8
    if s >> (order.bit_length() - 1) == 0:
        s = order - s  # (r, n - s) is the same signature; its top bit is set for these curves
    return der_sequence(core.Integer(r).dump(), der_tlv(0x02, s.to_bytes(width, "big")))


def build_luna_certificate(spec: LunaCertSpec, issuer_key: PrivateKey, encoding: CertEncoding = FAITHFUL) -> bytes:
    """Sign ``spec`` with ``issuer_key``; identical inputs give identical bytes (RSA, soft EC keys)."""
    tbs = tbs_certificate(spec, encoding)
    signature = sign_message(tbs, issuer_key, spec.signature, unpadded_s=spec.unpadded_ecdsa_s)
    return der_sequence(tbs, algorithm_identifier(spec.signature, encoding), der_tlv(0x03, b"\x00" + signature))


# -- extensions ----------------------------------------------------------------------------

def eku(*oids: str) -> LunaExt:
    """extendedKeyUsage, critical, as on every Luna certificate."""
    return LunaExt(OID_EKU, ax509.ExtKeyUsageSyntax(list(oids)).dump(), critical=True)


def key_usage(*usages: str) -> LunaExt:
    """keyUsage, critical (asn1crypto names: ``digital_signature``, ``key_cert_sign``, ``crl_sign``)."""
    return LunaExt(OID_KU, ax509.KeyUsage(set(usages)).dump(), critical=True)


def basic_constraints_ca() -> LunaExt:
    """basicConstraints CA:TRUE without pathLen, critical."""
    return LunaExt(OID_BC, ax509.BasicConstraints({"ca": True}).dump(), critical=True)


def private(oid: str, value: bytes) -> LunaExt:
    """A Luna private extension: non-critical with ``critical FALSE`` written out."""
    return LunaExt(oid, value, explicit_false=True)


def subject_key_id(identifier: bytes) -> LunaExt:
    """subjectKeyIdentifier (non-critical, DEFAULT omitted as on the real ECC certificates)."""
    return LunaExt(OID_SKI, core.OctetString(identifier).dump())


def authority_key_id(identifier: bytes) -> LunaExt:
    """authorityKeyIdentifier with a keyIdentifier only."""
    return LunaExt(OID_AKI, ax509.AuthorityKeyIdentifier({"key_identifier": identifier}).dump())


def serial_extension(serial: int) -> LunaExt:
    """``12383.2.1``: the HSM serial as a little-endian uint32."""
    return private(EXT_SERIAL, serial.to_bytes(4, "little"))


def firmware_extension(firmware: tuple[int, int, int]) -> LunaExt:
    """``12383.2.3``: firmware as bytes (minor*10+patch, 0, major, 0): 7.8.4 is ``54000700``."""
    major, minor, patch = firmware
    return private(EXT_FIRMWARE, bytes([minor * 10 + patch, 0, major, 0]))


def firmware_text(value: bytes) -> str | None:
    """The firmware version a ``12383.2.3`` value encodes (``54000700`` -> ``7.8.4``)."""
    if len(value) != 4:
        return None
    return f"{value[2]}.{value[0] // 10}.{value[0] % 10}"


# -- the hierarchy ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LunaCa:
    """One CA of the emulated hierarchy: its role, key, certificate spec and encoded bytes."""

    role: str
    key: PrivateKey
    spec: LunaCertSpec
    der: bytes

    @property
    def ski(self) -> bytes:
        """The SHA-256 key identifier of this CA's key (what the ECC certificates carry)."""
        return key_identifier(self.spec.spki)


def _serial64(seed: str, role: str) -> int:
    return int.from_bytes(drbg(seed, f"{role}/serial").read(8), "big") | (1 << 63)


def _ca(role: str, key: PrivateKey, spec: LunaCertSpec, issuer_key: PrivateKey, encoding: CertEncoding) -> LunaCa:
    return LunaCa(role, key, spec, build_luna_certificate(spec, issuer_key, encoding))


@dataclass(frozen=True)
class LunaPki:
    """The emulated CAs of one Luna device (and the manufacturer CAs above it)."""

    seed: str
    serial: int
    model: str
    firmware: tuple[int, int, int]
    rsa_root: LunaCa
    mic: LunaCa
    hoc: LunaCa
    dac: LunaCa
    ecc_root: LunaCa
    ecc_hoc: LunaCa
    tc_root: LunaCa
    tc_dac: LunaCa

    def issuers(self, ec_key: bool, pkc_type: int = 2) -> tuple[LunaCa, ...]:
        """The CAs above a PKC leaf, issuer first: RSA type 2 (DAC, HOC, MIC, root), RSA type 1
        (DAC, TC root) or ECC (HOC, root). Raises :class:`UnsupportedKeyError` for ECC type 1."""
        if pkc_type not in (1, 2):
            raise UnsupportedKeyError(f"pkctype must be 1 or 2, not {pkc_type}")
        if ec_key:
            if pkc_type == 1:
                raise UnsupportedKeyError("pkctype 1 (TC-Trust Center) is emulated for RSA keys only")
            return (self.ecc_hoc, self.ecc_root)
        if pkc_type == 1:
            return (self.tc_dac, self.tc_root)
        return (self.dac, self.hoc, self.mic, self.rsa_root)


def _rsa_root_spec(key: PrivateKey, ca_extensions: bool) -> LunaCertSpec:
    name = encode_name(RSA_ROOT_NAME)
    extensions: tuple[LunaExt, ...] = (eku(EKU_ROOT),)
    if ca_extensions:
        extensions += (key_usage("key_cert_sign", "crl_sign"), basic_constraints_ca())
    return LunaCertSpec(RSA_ROOT_SERIAL, "sha1_rsa", name, name, *RSA_ROOT_VALIDITY,
                        spki_der(key.public_key()), extensions)


@lru_cache(maxsize=32)
def luna_pki(seed: str, serial: int, *, model: str = "K7", firmware: tuple[int, int, int] = (7, 8, 4),
             encoding: CertEncoding = FAITHFUL, ca_extensions: bool = False) -> LunaPki:
    """The emulated hierarchy for the device ``serial`` under ``seed`` (manufacturer CAs are per seed).

    ``ca_extensions`` gives the RSA root keyUsage and basicConstraints CA:TRUE, so that a plain
    ``openssl verify`` accepts it (the real root has neither: OpenSSL 3 error 79).
    """
    if not 0 <= serial < 1 << 32:
        raise UnsupportedKeyError(f"a Luna serial is a uint32, not {serial}")
    rsa4096, p384 = KeySpec.parse("rsa-4096"), KeySpec.parse("ec-p384")
    root_key = derive_key(seed, "luna/rsa-root", rsa4096)
    root = _ca("root", root_key, _rsa_root_spec(root_key, ca_extensions), root_key, encoding)
    ca_usage = key_usage("key_cert_sign", "crl_sign")

    mic_key = derive_key(seed, "luna/mic", rsa4096)
    mic = _ca("MIC", mic_key, LunaCertSpec(
        MIC_SERIAL, "sha384_rsa", root.spec.subject, encode_name(MIC_NAME), *RSA_VALIDITY,
        spki_der(mic_key.public_key()), (eku(EKU_MIC), ca_usage, basic_constraints_ca())), root_key, encoding)

    hoc_key = derive_key(seed, f"luna/{serial}/hoc", rsa4096)
    hoc = _ca("HOC", hoc_key, LunaCertSpec(
        HOC_SERIAL_PREFIX << 32 | serial, "sha384_rsa", mic.spec.subject, encode_name(HOC_NAME), *RSA_VALIDITY,
        spki_der(hoc_key.public_key()),
        (eku(EKU_HOC), ca_usage, private(EXT_2_6, bytes(4)), private(EXT_2_7, bytes.fromhex("0a000000")),
         basic_constraints_ca())), mic_key, encoding)

    dac_key = derive_key(seed, f"luna/{serial}/dac", rsa4096)
    dac_extensions = (eku(EKU_DAC), ca_usage, serial_extension(serial), firmware_extension(firmware),
                      private(EXT_2_4, bytes.fromhex("02000000")), basic_constraints_ca())
    dac_name = encode_name((("C", "CA"), ("O", "Chrysalis-ITS"),
                            ("OU", "Chrysalis-ITS DeviceAuthenticationCertificate"), ("CN", f"Luna {model}-{serial}")))
    dac = _ca("DAC", dac_key, LunaCertSpec(
        _serial64(seed, f"luna/{serial}/dac"), "sha384_rsa", hoc.spec.subject, dac_name, *RSA_VALIDITY,
        spki_der(dac_key.public_key()), dac_extensions), hoc_key, encoding)

    ecc_root_key = derive_key(seed, "luna/ecc-root", p384)
    ecc_root_spki = spki_der(ecc_root_key.public_key())
    ecc_root_name = encode_name(ECC_ROOT_NAME)
    ecc_root_id = key_identifier(ecc_root_spki)
    ecc_root = _ca("root", ecc_root_key, LunaCertSpec(
        ECC_ROOT_SERIAL, "sha384_ecdsa", ecc_root_name, ecc_root_name, *ECC_VALIDITY, ecc_root_spki,
        (eku(EKU_ECC_ROOT), authority_key_id(ecc_root_id), subject_key_id(ecc_root_id),
         LunaExt(OID_POLICIES, ax509.CertificatePolicies([{"policy_identifier": ECC_ROOT_POLICY}]).dump()),
         key_usage("digital_signature", "key_cert_sign", "crl_sign"))), ecc_root_key, encoding)

    ecc_hoc_key = derive_key(seed, f"luna/{serial}/ecc-hoc", p384)
    ecc_hoc_spki = spki_der(ecc_hoc_key.public_key())
    ecc_hoc_name = encode_name((("C", "US"), ("O", "SafeNet, Inc."), ("OU", "Luna Module Hardware Origin"),
                                ("CN", str(serial))))
    ecc_hoc = _ca("HOC", ecc_hoc_key, LunaCertSpec(
        HOC_SERIAL_PREFIX << 32 | serial, "sha384_ecdsa", ecc_root_name, ecc_hoc_name, *ECC_VALIDITY, ecc_hoc_spki,
        (eku(EKU_ECC_HOC), authority_key_id(ecc_root_id), subject_key_id(key_identifier(ecc_hoc_spki)), ca_usage,
         private(EXT_2_6, bytes(4)), private(EXT_2_7, bytes.fromhex("0a000000")), basic_constraints_ca())),
        ecc_root_key, encoding)

    tc_key = derive_key(seed, "luna/tc-root", KeySpec.parse("rsa-2048"))
    tc_name = encode_name(TC_ROOT_NAME)
    tc_root = _ca("TC root", tc_key, LunaCertSpec(
        _serial64(seed, "luna/tc-root"), "sha256_rsa", tc_name, tc_name, *TC_ROOT_VALIDITY,
        spki_der(tc_key.public_key()), (basic_constraints_ca(), ca_usage)), tc_key, encoding)
    tc_dac = _ca("DAC", dac_key, replace(dac.spec, serial=_serial64(seed, f"luna/{serial}/tc-dac"),
                                         issuer=tc_name), tc_key, encoding)
    return LunaPki(seed, serial, model, firmware, root, mic, hoc, dac, ecc_root, ecc_hoc, tc_root, tc_dac)


def rsa_root_reissue(pki: LunaPki, encoding: CertEncoding = FAITHFUL) -> bytes:
    """The sha384 re-issue of the RSA root: same name and key, serial ``80450000000D``, SKI/AKI
    (the real one exists; its SKI method and extension order are a GUESS: SHA-1, EKU first)."""
    identifier = key_identifier(pki.rsa_root.spec.spki, "sha1")
    spec = replace(pki.rsa_root.spec, serial=RSA_ROOT_REISSUE_SERIAL, signature="sha384_rsa",
                   extensions=(*pki.rsa_root.spec.extensions, subject_key_id(identifier),
                               authority_key_id(identifier)))
    return build_luna_certificate(spec, pki.rsa_root.key, encoding)


def ouid(seed: str, serial: int, partition: str, label: str) -> str:
    """The 24-hex object id Luna puts in the PKC's CN: object handle (LE), partition word (LE),
    HSM serial (LE). Both real ones (``41000000ae000002d6f30700``, ``43000000ae000002d6f30700``)
    have this shape; their partition word is ``0x020000AE``, so the emulated one is ``0x020000xx``
    with a nonzero low byte per partition (what the byte means is unpublished)."""
    rng = drbg(seed, f"luna/{serial}/{partition}/ouid/{label}")
    handle = 0x20 + rng.randint_bits(16) % 0x3E0
    word = 0x02000000 | (1 + drbg(seed, f"luna/{serial}/{partition}/partition-word").randint_bits(16) % 0xFF)
    return (handle.to_bytes(4, "little") + word.to_bytes(4, "little") + serial.to_bytes(4, "little")).hex()


def pkc_spec(pki: LunaPki, public_key: PublicKey, object_id: str, *, pkc_type: int = 2,
             unpadded_ecdsa_s: bool = False) -> LunaCertSpec:
    """The PKC leaf for ``public_key``: the real leaf's names, extensions and validity for its hierarchy."""
    ec_key = isinstance(public_key, ec.EllipticCurvePublicKey)
    if not ec_key and not isinstance(public_key, rsa.RSAPublicKey):
        raise UnsupportedKeyError("a Luna PKC confirms RSA or EC keys only")
    issuer = pki.issuers(ec_key, pkc_type)[0]
    spki = spki_der(public_key)
    serial = _serial64(pki.seed, f"luna/{pki.serial}/pkc/{object_id}")
    if ec_key:
        subject = encode_name((("O", "SafeNet, Inc."), ("OU", "Luna Module"), ("CN", object_id)))
        extensions: tuple[LunaExt, ...] = (
            eku(EKU_PKC), authority_key_id(issuer.ski), subject_key_id(ec_point_key_identifier(spki)),
            key_usage("digital_signature"), serial_extension(pki.serial))
        return LunaCertSpec(serial, "sha384_ecdsa", issuer.spec.subject, subject, *ECC_VALIDITY, spki, extensions,
                            unpadded_ecdsa_s=unpadded_ecdsa_s)
    subject = encode_name((("OU", "Chrysalis-ITS Proof of Origin"), ("CN", object_id)))
    extensions = (eku(EKU_PKC), key_usage("digital_signature"), serial_extension(pki.serial),
                  firmware_extension(pki.firmware), private(EXT_2_4, bytes.fromhex("02000000")),
                  private(EXT_KEY_FLAGS, bytes.fromhex("030204f0")))
    return LunaCertSpec(serial, "sha384_rsa", issuer.spec.subject, subject, *RSA_VALIDITY, spki, extensions)


def luna_attestation_identity(seed: str, serial: int, *, model: str = "K7", firmware: tuple[int, int, int] = (7, 8, 4),
                              ca_extensions: bool = False) -> AttestationIdentity:
    """The partition identity as cryptography objects: the DAC key, DAC -> HOC -> MIC, and the RSA root,
    encoded as strict DER (cryptography refuses Luna's explicit ``critical FALSE``)."""
    pki = luna_pki(seed, serial, model=model, firmware=firmware, encoding=PARSEABLE, ca_extensions=ca_extensions)
    dac, hoc, mic, root = (x509.load_der_x509_certificate(ca.der) for ca in pki.issuers(False))
    return AttestationIdentity(key=pki.dac.key, certificate=dac, chain=(dac, hoc, mic), root=root)


LUNA_HIERARCHIES = ((False, 2, ""), (True, 2, "ecc"), (False, 1, "pkc-type-1"))
"""(EC key, pkctype, export name) of every hierarchy a PKC chains to."""


def luna_pki_exports(seed: str, serial: int, *, model: str = "K7", firmware: tuple[int, int, int] = (7, 8, 4),
                     ca_extensions: bool = False) -> tuple[PkiExport, ...]:
    """Every hierarchy a PKC of the device chains to, as strict DER: an RSA key's (named ``""``: the partition
    identity's), an EC key's (``ecc``: the HOC under the ECC root) and pkctype 1's (``pkc-type-1``: the DAC under
    the TC root); each export's ``certificate`` is the CA that issues the PKC."""
    pki = luna_pki(seed, serial, model=model, firmware=firmware, encoding=PARSEABLE, ca_extensions=ca_extensions)
    exports = []
    for ec_key, pkc_type, name in LUNA_HIERARCHIES:
        issuer, *above = (x509.load_der_x509_certificate(ca.der) for ca in pki.issuers(ec_key, pkc_type))
        exports.append(PkiExport(name, above[-1], tuple(above[:-1]), issuer))
    return tuple(exports)
