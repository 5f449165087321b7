"""The emulated Crypto4A Authority Key Infrastructure (every key derived from the seed, the CAs named EMULATED).

``C4A_RCA EMULATED`` (self-signed, C=Canada, ST=Ontario, L=Ottawa, O=Crypto4A, all UTF8String) ->
``C4A_SCA_MFG4 EMULATED`` (CN only, pathLenConstraint 0) -> the QASM's two assertion authorities,
``C4A<nnnnnn> Assertion Authority EC`` (ECDSA P-384) and ``C4A<nnnnnn> Assertion Authority HSS`` (an HSS/LMS
key, :mod:`hsmsim.pki.hss`). Every certificate is signed with ecdsa-with-SHA384 by a P-384 key, with the real
certificates' profile field for field: 20-octet serials, the CAs' basicConstraints and keyUsage critical then
AKI then SKI; the authorities' SKI, AKI, critical keyUsage digitalSignature, a subjectAltName whose otherName
1.3.6.1.4.1.39901.3 holds the OID 1.3.6.1.4.1.39901.3.1, and EKU 1.3.6.1.4.1.39901.4.1.1, valid until
9999-12-31 23:59:59 (GeneralizedTime); the HSS one a second older, as in the real message. cryptography cannot
write an HSS SubjectPublicKeyInfo: the HSS certificate is built on a stand-in key, its SPKI replaced in the
TBSCertificate and the result signed again by the sub-CA.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, ObjectIdentifier

from hsmsim.encoding import der_children, der_content, der_oid, der_sequence, der_tlv
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.crypto4a.message import HSS_LMS_HASHSIG
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, key_usage, name, resign_tbs
from hsmsim.pki.hss import HssKey, derive_hss_key
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, derive_serial, drbg

ROOT_NOT_BEFORE = datetime(2020, 7, 13, 13, 6, 33, tzinfo=UTC)
ROOT_NOT_AFTER = datetime(2045, 7, 13, 13, 6, 33, tzinfo=UTC)
SCA_NOT_BEFORE = datetime(2022, 4, 11, 18, 47, 51, tzinfo=UTC)
SCA_NOT_AFTER = datetime(2042, 4, 11, 18, 47, 51, tzinfo=UTC)
AUTHORITY_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
SERIAL_BITS = 159
"""20-octet serials with the top bit clear, as the real certificates'."""
EKU_ASSERTION_AUTHORITY = "1.3.6.1.4.1.39901.4.1.1"
SAN_OTHER_NAME_TYPE = "1.3.6.1.4.1.39901.3"
SAN_OTHER_NAME_VALUE = "1.3.6.1.4.1.39901.3.1"
ROOT_CN = "C4A_RCA EMULATED"
SCA_CN = "C4A_SCA_MFG4 EMULATED"
_P384 = KeySpec.parse("ec-p384")


@dataclass(frozen=True)
class HssChoice:
    """The HSS parameter set of an emulated HSS assertion authority: ``levels`` trees of ``lms_type`` with
    ``lmots_type`` (RFC 8554 typecodes)."""

    name: str
    levels: int
    lms_type: int
    lmots_type: int


HSS_CHOICES = {
    "H5": HssChoice("H5", 3, 5, 4),
    "H10": HssChoice("H10", 3, 6, 4),
}
"""``H5`` (default): L=3 of LMS_SHA256_M32_H5 / LMOTS_SHA256_N32_W8, fast to derive (about 2 s, then cached).
``H10``: the real QASM's L=3 of LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W8 (seconds to derive, then cached)."""
DEFAULT_HSS = "H5"


def qasm_number(serial: str) -> str:
    """The six digits a QASM's names carry (``QSM000129``, ``C4A000129``): the device serial's last six."""
    digits = "".join(c for c in serial if c.isdigit())
    return digits[-6:].rjust(6, "0")


def uuid_bytes(seed: str, role: str, *, version4: bool = False) -> bytes:
    """16 bytes derived from the seed: an object's UUID. ``version4`` sets the RFC 9562 version 4 and variant bits
    (the real key's ``ba17a9b1-3663-4f18-98da-...``); without, 16 plain bytes (the QASM's and authorities')."""
    raw = bytearray(drbg(seed, f"crypto4a/uuid/{role}").read(16))
    if version4:
        raw[6] = 0x40 | raw[6] & 0x0F
        raw[8] = 0x80 | raw[8] & 0x3F
    return bytes(raw)


def _ski(public_bits: bytes) -> x509.SubjectKeyIdentifier:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey bits, as the real certificates' SKIs are."""
    return x509.SubjectKeyIdentifier(hashlib.sha1(public_bits).digest())


def _aki(issuer_key: PrivateKey) -> Ext:
    return Ext(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
        x509.SubjectKeyIdentifier.from_public_key(issuer_key.public_key())))


def _san() -> x509.SubjectAlternativeName:
    # OtherName.value is [0] EXPLICIT ANY: cryptography takes the inner value's DER (the OID) and adds the [0].
    return x509.SubjectAlternativeName([x509.OtherName(ObjectIdentifier(SAN_OTHER_NAME_TYPE),
                                                       der_oid(SAN_OTHER_NAME_VALUE))])


def authority_extensions(ski: x509.SubjectKeyIdentifier, issuer_key: PrivateKey) -> tuple[Ext, ...]:
    """An assertion authority's extensions in the real order: SKI, AKI, keyUsage (critical), SAN, EKU."""
    return (Ext(ski), _aki(issuer_key), Ext(key_usage("digital_signature"), critical=True), Ext(_san()),
            Ext(x509.ExtendedKeyUsage([ObjectIdentifier(EKU_ASSERTION_AUTHORITY)])))


def hss_spki(public_key: bytes) -> bytes:
    """The SubjectPublicKeyInfo of an HSS public key as the real certificate carries it: id-alg-hss-lms-hashsig
    without parameters, the key wrapped in an OCTET STRING inside the BIT STRING (RFC 8708's first form)."""
    return der_sequence(der_sequence(der_oid(HSS_LMS_HASHSIG)),
                        der_tlv(0x03, b"\x00" + der_tlv(0x04, public_key)))


@dataclass(frozen=True)
class HssAuthority:
    """The HSS assertion authority: its key, its key UUID and its certificate (DER)."""

    key: HssKey
    key_id: bytes
    certificate: bytes


@dataclass(frozen=True)
class Crypto4aPki:
    """The emulated AKI and one QASM's two assertion authorities."""

    root_key: PrivateKey
    root: x509.Certificate
    sca_key: PrivateKey
    sca: x509.Certificate
    ec: AttestationIdentity
    ec_key_id: bytes
    hss: HssAuthority


def root_subject() -> x509.Name:
    """The root's name as the real one's: C=Canada (a six-letter country, which cryptography only writes unchecked),
    ST=Ontario, L=Ottawa, O=Crypto4A, CN=C4A_RCA EMULATED, each a UTF8String."""
    with warnings.catch_warnings():  # cryptography warns of the length it was told not to check
        warnings.simplefilter("ignore", UserWarning)
        country = x509.NameAttribute(NameOID.COUNTRY_NAME, "Canada", _type=UTF8, _validate=False)
    rest = name(("ST", "Ontario", UTF8), ("L", "Ottawa", UTF8), ("O", "Crypto4A", UTF8), ("CN", ROOT_CN, UTF8))
    return x509.Name([x509.RelativeDistinguishedName([country]), *rest.rdns])


def _ca(seed: str) -> tuple[PrivateKey, x509.Certificate, PrivateKey, x509.Certificate]:
    root_key, sca_key = derive_key(seed, "crypto4a/rca", _P384), derive_key(seed, "crypto4a/sca", _P384)
    root_name = root_subject()
    root = build_certificate(CertSpec(
        subject=root_name, issuer=root_name, public_key=root_key.public_key(),
        serial=derive_serial(seed, "crypto4a/rca", SERIAL_BITS), not_before=ROOT_NOT_BEFORE,
        not_after=ROOT_NOT_AFTER, hash_name="sha384",
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True),
                    Ext(key_usage("key_cert_sign", "crl_sign"), critical=True), _aki(root_key),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()))),
    ), root_key)
    sca = build_certificate(CertSpec(
        subject=name(("CN", SCA_CN, UTF8)), issuer=root_name, public_key=sca_key.public_key(),
        serial=derive_serial(seed, "crypto4a/sca", SERIAL_BITS), not_before=SCA_NOT_BEFORE,
        not_after=SCA_NOT_AFTER, hash_name="sha384",
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True),
                    Ext(key_usage("key_cert_sign", "crl_sign"), critical=True), _aki(root_key),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(sca_key.public_key()))),
    ), root_key)
    return root_key, root, sca_key, sca


def authority_certificate(seed: str, role: str, cn: str, key: PrivateKey, ski: x509.SubjectKeyIdentifier,
                          sca: tuple[PrivateKey, x509.Certificate], not_before: datetime) -> x509.Certificate:
    """An assertion authority certificate for ``key`` under the sub-CA."""
    sca_key, sca_cert = sca
    return build_certificate(CertSpec(
        subject=name(("CN", cn, UTF8)), issuer=sca_cert.subject, public_key=key.public_key(),
        serial=derive_serial(seed, role, SERIAL_BITS), not_before=not_before, not_after=AUTHORITY_NOT_AFTER,
        extensions=authority_extensions(ski, sca_key), hash_name="sha384",
    ), sca_key)


def with_spki(cert: x509.Certificate, spki: bytes, issuer_key: PrivateKey) -> x509.Certificate:
    """``cert`` with its SubjectPublicKeyInfo replaced by ``spki`` (DER), signed again by ``issuer_key``."""
    tbs = cert.tbs_certificate_bytes
    fields = der_children(der_content(tbs))
    fields[6] = spki  # version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, extensions
    return resign_tbs(cert, der_tlv(0x30, b"".join(fields)), issuer_key)


def crypto4a_pki(seed: str, serial: str, created: datetime, hss: HssChoice,
                 attesting: tuple[str, PrivateKey] | None = None) -> Crypto4aPki:
    """The AKI and the QASM ``serial``'s assertion authorities created at ``created`` (the HSS one a second
    earlier); ``attesting`` = (label, key) replaces the EC authority by a user's EC key so certified.
    Raises UnsupportedKeyError for another key."""
    root_key, root, sca_key, sca = _ca(seed)
    number = qasm_number(serial)
    role = f"crypto4a/{serial}/aa"
    if attesting is None:
        ec_key, cn, ec_role = derive_key(seed, f"{role}/ec", _P384), f"C4A{number} Assertion Authority EC", "ec"
    else:
        label, ec_key = attesting
        cn, ec_role = f"C4A{number} Assertion Authority {label}", f"user/{label}"
    if not isinstance(ec_key, ec.EllipticCurvePrivateKey):
        raise UnsupportedKeyError("a Crypto4A assertion authority key is an EC key, as the QASM's")
    ec_cert = authority_certificate(seed, f"{role}/{ec_role}", cn, ec_key,
                                    x509.SubjectKeyIdentifier.from_public_key(ec_key.public_key()),
                                    (sca_key, sca), created)
    identity = AttestationIdentity(key=ec_key, certificate=ec_cert, chain=(ec_cert, sca), root=root)
    hss_key = derive_hss_key(drbg(seed, f"{role}/hss/{hss.name}").read(32), hss.levels, hss.lms_type,
                             hss.lmots_type)
    spki = hss_spki(hss_key.public_key)
    bits = der_content(der_children(der_content(spki))[1])[1:]
    stand_in = authority_certificate(seed, f"{role}/hss/{hss.name}", f"C4A{number} Assertion Authority HSS",
                                     sca_key, _ski(bits), (sca_key, sca), created - timedelta(seconds=1))
    hss_cert = with_spki(stand_in, spki, sca_key).public_bytes(Encoding.DER)
    return Crypto4aPki(root_key, root, sca_key, sca, identity, uuid_bytes(seed, f"{role}/{ec_role}"),
                       HssAuthority(hss_key, uuid_bytes(seed, f"{role}/hss/{hss.name}"), hss_cert))
