"""The WebAuthn ``tpm`` attestation statement: its signature conventions and its checks (WebAuthn §8.3).

``{ver: "2.0", alg, x5c: [AK certificate, CA...], sig, certInfo, pubArea}``. ``sig`` is the
**bare** signature (PKCS#1 v1.5 bytes, or DER ``SEQUENCE{r, s}``) as Windows Hello,
py_webauthn, python-fido2 and SimpleWebAuthn use it; ACME ``tpm`` (step-ca) carries a marshalled
TPMT_SIGNATURE instead (``signature_encoding="tpmt"``), which a WebAuthn verifier rejects.

Each check raises :class:`hsmsim.verdict.Rejected` with the one reason it stands for.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtensionOID

from hsmsim.checks import require_code_signing_key
from hsmsim.encoding import der_children, der_content
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.tpm.device import tpm_sign
from hsmsim.formats.tpm.marshal import HASH_ALGS, TPM_GENERATED_VALUE, TpmAlg, TpmaObject, TpmSt
from hsmsim.formats.tpm.pki import (
    EKU_AIK_CERTIFICATE,
    FIDO_AAGUID_EXTENSION,
    PERMANENT_IDENTIFIER,
    TCG_VENDOR_IDS,
    TPM_MANUFACTURER,
    TPM_MODEL,
    TPM_VERSION,
)
from hsmsim.formats.tpm.structures import (
    NULL_SCHEME,
    NULL_SYMMETRIC,
    CertifyInfo,
    EccParms,
    Scheme,
    TpmsAttest,
    TpmtPublic,
    attest_type_name,
    check_qualified_name,
)
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.pki.chain import CERT_PARSE_ERRORS, certificate_from_der, fully_parsed, validate_chain
from hsmsim.pki.signing import HASH_ALGORITHMS
from hsmsim.verdict import Claims, Reason, Rejected
from hsmsim.webauthn.container import COSE_ALGS
from hsmsim.webauthn.cose import alg_fits

STATEMENT_MEMBERS = ("ver", "alg", "x5c", "sig", "certInfo", "pubArea")
MAX_X5C = 8
# objectAttributes bits as plain ints: IntFlag arithmetic builds a flag object per operation.
_BOUND = int(TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT)
_SENSITIVE_DATA_ORIGIN = int(TpmaObject.SENSITIVE_DATA_ORIGIN)
_ENCRYPTED_DUPLICATION = int(TpmaObject.ENCRYPTED_DUPLICATION)
_RESTRICTED = int(TpmaObject.RESTRICTED)
_SIGN_ENCRYPT = int(TpmaObject.SIGN_ENCRYPT)
_ATTESTATION_KEY = _RESTRICTED | _SIGN_ENCRYPT | _BOUND


def cose_alg_of_signer(key: PublicKey | PrivateKey) -> int:
    """The COSE ``alg`` of an AK (its public or private key): ES256 / ES384 by curve, RS256 for RSA."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return -35 if key.curve.key_size > 256 else -7
    return -257


def sign_cert_info(key: PrivateKey, cert_info: bytes, alg: int, encoding: str = "bare") -> bytes:
    """The ``sig`` member: the AK's signature over ``cert_info`` with ``alg``, bare or as a TPMT_SIGNATURE."""
    name, hash_name = COSE_ALGS[alg]
    scheme = TpmAlg.ECDSA if name.startswith("ES") else TpmAlg.RSASSA
    if name.startswith("PS"):
        raise UnsupportedKeyError("the emulated TPM signs certifyInfo with RSASSA or ECDSA only")
    signature = tpm_sign(key, cert_info, Scheme(scheme, HASH_ALGS[hash_name]))
    return signature.marshal() if encoding == "tpmt" else signature.bare()


def extra_data_for(alg: int, auth_data: bytes, client_data_hash: bytes) -> bytes:
    """extraData = H_alg(authData ‖ clientDataHash), the hash named by ``alg``."""
    return hashlib.new(COSE_ALGS[alg][1], auth_data + client_data_hash).digest()


# -- checks -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TpmStatement:
    """The decoded members of a ``tpm`` attStmt, type-checked."""

    ver: str
    alg: int
    x5c: tuple[bytes, ...]
    sig: bytes
    cert_info: bytes
    pub_area: bytes
    unknown: tuple[str, ...]


def read_statement(att_stmt: dict[Any, Any]) -> TpmStatement:
    """Type-check the attStmt map (MISSING_INPUT for an absent member, MALFORMED for a wrong type)."""
    if "ecdaaKeyId" in att_stmt:
        raise Rejected(Reason.UNSUPPORTED, "ECDAA attestation (ecdaaKeyId) was removed from WebAuthn")
    for member in STATEMENT_MEMBERS:
        if member not in att_stmt:
            raise Rejected(Reason.MISSING_INPUT, f"tpm attStmt has no {member}")
    types = {"ver": str, "alg": int, "x5c": list, "sig": bytes, "certInfo": bytes, "pubArea": bytes}
    for member, kind in types.items():
        if not isinstance(att_stmt[member], kind) or isinstance(att_stmt[member], bool):
            raise Rejected(Reason.MALFORMED, f"tpm attStmt.{member} is not a {kind.__name__}")
    x5c = att_stmt["x5c"]
    if not x5c:
        raise Rejected(Reason.MISSING_INPUT, "tpm attStmt.x5c is empty: no AK certificate")
    if len(x5c) > MAX_X5C:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"x5c holds {len(x5c)} certificates (limit {MAX_X5C})")
    if not all(isinstance(c, bytes) for c in x5c):
        raise Rejected(Reason.MALFORMED, "tpm attStmt.x5c holds a non-bytes entry")
    unknown = tuple(sorted(str(k) for k in att_stmt if k not in STATEMENT_MEMBERS))
    return TpmStatement(att_stmt["ver"], att_stmt["alg"], tuple(x5c), att_stmt["sig"], att_stmt["certInfo"],
                        att_stmt["pubArea"], unknown)


def load_x5c(x5c: tuple[bytes, ...]) -> list[x509.Certificate]:
    """Parse every x5c entry (DER) and every field the checks read; MALFORMED on failure. An entry is loaded once per
    DER (:func:`~hsmsim.pki.chain.certificate_from_der`): the AK certificate and its CAs recur in every statement of
    a TPM."""
    try:
        return [fully_parsed(certificate_from_der(der)) for der in x5c]
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"an x5c entry is not a DER certificate: {str(exc)[:80]}") from None


def check_chain(x5c: list[x509.Certificate], anchors: list[x509.Certificate], at: datetime, *,
                recurring_leaf: bool = False) -> None:
    """x5c[0] (the AK certificate) chains through x5c[1:] to one of ``anchors`` at ``at``. ``recurring_leaf``: the AK
    certificate is the device's, in every bundle of the device (see :func:`~hsmsim.pki.chain.validate_chain`)."""
    validate_chain(x5c[0], x5c[1:], anchors, at, recurring_leaf=recurring_leaf)


def check_signature(ak: PublicKeyTypes, alg: int, cert_info: bytes, sig: bytes, signed: str = "certInfo", *,
                    cose_curve: bool = True) -> None:
    """``sig`` is the bare signature of ``cert_info`` (named ``signed`` in a rejection) under ``alg`` by the AK's
    public key ``ak``. With ``cose_curve`` (``alg`` is an attStmt's COSE alg) an EC AK's curve is the one ``alg``
    names, as for packed (WebAuthn L3 §5.8.5: ES256 P-256, ES384 P-384, ES512 P-521); SIGNATURE_INVALID otherwise."""
    if alg not in COSE_ALGS:
        raise Rejected(Reason.UNSUPPORTED, f"attStmt.alg {alg} is not a supported COSE algorithm")
    name, hash_name = COSE_ALGS[alg]
    if cose_curve and isinstance(ak, ec.EllipticCurvePublicKey) and not alg_fits(ak, alg):
        raise Rejected(Reason.SIGNATURE_INVALID, f"attStmt.alg {name} does not fit the AK's {ak.curve.name} key")
    algorithm = HASH_ALGORITHMS[hash_name]()
    try:
        if name.startswith("ES") and isinstance(ak, ec.EllipticCurvePublicKey):
            ak.verify(sig, cert_info, ec.ECDSA(algorithm))
        elif name.startswith("RS") and isinstance(ak, rsa.RSAPublicKey):
            ak.verify(sig, cert_info, padding.PKCS1v15(), algorithm)
        elif name.startswith("PS") and isinstance(ak, rsa.RSAPublicKey):
            ak.verify(sig, cert_info, padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO), algorithm)
        else:
            raise Rejected(Reason.SIGNATURE_INVALID, f"attStmt.alg {name} does not fit the AK's "
                                                     f"{type(ak).__name__.removeprefix('_')} key")
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        raise Rejected(Reason.SIGNATURE_INVALID, f"sig is not the AK's bare {name} signature over {signed}") from None


def check_attest(attest: TpmsAttest, expected_extra: bytes,
                 binding: str = "H(authData ‖ clientDataHash)") -> CertifyInfo:
    """magic is TPM_GENERATED, type is ATTEST_CERTIFY, extraData is ``expected_extra`` (``binding`` names it)."""
    if attest.magic != TPM_GENERATED_VALUE:
        raise Rejected(Reason.MALFORMED, f"certInfo.magic is 0x{attest.magic:08x}, not TPM_GENERATED_VALUE: "
                                         "the AK did not sign a TPM-generated structure")
    if attest.type != TpmSt.ATTEST_CERTIFY or not isinstance(attest.attested, CertifyInfo):
        raise Rejected(Reason.MALFORMED, f"certInfo.type is {attest_type_name(attest.type)}, not "
                                         "TPM_ST_ATTEST_CERTIFY")
    if attest.extra_data != expected_extra:
        shown = attest.extra_data.hex()[:16]
        raise Rejected(Reason.CHALLENGE_MISMATCH, f"certInfo.extraData ({shown}…) is not {binding}")
    return attest.attested


def check_attested_name(area: TpmtPublic, certify: CertifyInfo) -> PublicKey:
    """certInfo certifies pubArea (attested.name = Name(pubArea), KEY_MISMATCH) and its qualifiedName is a qualified
    Name of that object (:func:`check_qualified_name`, MALFORMED); returns pubArea's key."""
    if certify.name != area.name():
        raise Rejected(Reason.KEY_MISMATCH, "certInfo.attested.name is not the Name of pubArea")
    check_qualified_name(certify)
    return area.public_key()


def check_pub_area(area: TpmtPublic, certify: CertifyInfo, credential_key: PublicKey) -> PublicKey:
    """pubArea: symmetric and scheme NULL; its Name is the one certified; its key is the credential key."""
    params = area.parameters
    if params.symmetric != NULL_SYMMETRIC or params.scheme != NULL_SCHEME or (
            isinstance(params, EccParms) and params.kdf != NULL_SCHEME):
        raise Rejected(Reason.UNSUPPORTED, "pubArea symmetric, scheme and kdf must be TPM_ALG_NULL for a "
                                           "WebAuthn credential key")
    key = check_attested_name(area, certify)
    if key.public_numbers() != credential_key.public_numbers():  # type: ignore[union-attr]
        raise Rejected(Reason.KEY_MISMATCH, "pubArea's key is not the credential public key")
    return key


@dataclass(frozen=True)
class AkFacts:
    """What the AK certificate's TCG SAN says about the TPM."""

    manufacturer: str
    vendor: str
    model: str
    version: str
    permanent_ids: tuple[str, ...] = ()


def _permanent_ids(others: list[bytes]) -> tuple[str, ...]:
    """identifierValue of each id-on-permanentIdentifier otherName value (CERT_PROFILE when one is malformed)."""
    out = []
    for value in others:
        try:
            fields = der_children(der_content(value))
            identifier = next((der_content(f) for f in fields if f[0] == 0x0C), b"")
            out.append(identifier.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Rejected(Reason.CERT_PROFILE, "AK certificate permanentIdentifier is not DER") from None
    return tuple(out)


def _san(extensions: dict[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]]) -> x509.SubjectAlternativeName:
    san = extensions.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        raise Rejected(Reason.CERT_PROFILE, "AK certificate has no subjectAltName (TCG directoryName)")
    if not san.critical:
        raise Rejected(Reason.CERT_PROFILE, "AK certificate subjectAltName is not critical though the subject is empty")
    assert isinstance(san.value, x509.SubjectAlternativeName)
    return san.value


def _san_attributes(san: x509.SubjectAlternativeName) -> tuple[dict[str, str], list[bytes]]:
    """The TCG attributes of the SAN's directoryNames (CERT_PROFILE for one twice) and the values of its
    id-on-permanentIdentifier otherNames, read in one pass over the SAN."""
    out: dict[str, str] = {}
    permanent_ids = []
    for general_name in san:
        if isinstance(general_name, x509.DirectoryName):
            for attribute in general_name.value:
                if attribute.oid in (TPM_MANUFACTURER, TPM_MODEL, TPM_VERSION):
                    if attribute.oid.dotted_string in out:
                        raise Rejected(Reason.CERT_PROFILE, f"AK SAN carries {attribute.oid.dotted_string} twice")
                    out[attribute.oid.dotted_string] = str(attribute.value)
        elif isinstance(general_name, x509.OtherName) and general_name.type_id == PERMANENT_IDENTIFIER:
            permanent_ids.append(general_name.value)
    return out, permanent_ids


_AK_FACTS_LIMIT = 64
_ak_facts: dict[int, tuple[x509.Certificate, bytes | None, AkFacts]] = {}
"""What :func:`check_ak_certificate` accepted, by the identity of the certificate object and with the ``aaguid`` it
was asked about; each entry holds its certificate, so the id is not reused while it lives. An AK certificate recurs
in every statement of its TPM, loaded once per DER (:func:`load_x5c`), and its profile is a pure function of its
bytes."""


def check_ak_certificate(cert: x509.Certificate, aaguid: bytes | None) -> AkFacts:
    """The AK certificate profile of WebAuthn §8.3.1 (CERT_PROFILE, also for a critical AAGUID extension; CERT_EKU;
    MALFORMED for an AAGUID extension that is not an OCTET STRING of 16 bytes, ATTR_CONFLICT for one naming another
    AAGUID than authData's).

    ``aaguid`` is authData's (WebAuthn); None skips the AAGUID extension check (ACME has no authData). What is
    accepted is remembered per certificate object and ``aaguid`` (:data:`_ak_facts`); a rejection is not.
    """
    entry = _ak_facts.get(id(cert))
    if entry is not None and entry[0] is cert and entry[1] == aaguid:
        return entry[2]
    facts = _ak_facts_of(cert, aaguid)
    if len(_ak_facts) >= _AK_FACTS_LIMIT:
        _ak_facts.clear()
    _ak_facts[id(cert)] = (cert, aaguid, facts)
    return facts


def _ak_facts_of(cert: x509.Certificate, aaguid: bytes | None) -> AkFacts:
    if cert.version is not x509.Version.v3:
        raise Rejected(Reason.CERT_PROFILE, "AK certificate is not X.509 v3")
    if len(cert.subject) != 0:
        raise Rejected(Reason.CERT_PROFILE, f"AK certificate subject is {cert.subject.rfc4514_string()!r}, "
                                            "not empty")
    # Looked up by OID in one pass (cryptography gives each OID its one class, and an extension twice fails
    # to parse before this runs).
    extensions = {ext.oid: ext for ext in cert.extensions}
    san, permanent_ids = _san_attributes(_san(extensions))
    for oid, label in ((TPM_MANUFACTURER, "tpmManufacturer"), (TPM_MODEL, "tpmModel"), (TPM_VERSION, "tpmVersion")):
        if oid.dotted_string not in san:
            raise Rejected(Reason.CERT_PROFILE, f"AK SAN lacks {label} ({oid.dotted_string})")
    manufacturer = san[TPM_MANUFACTURER.dotted_string]
    vendor_id = manufacturer.removeprefix("id:")
    vendor = TCG_VENDOR_IDS.get(int(vendor_id, 16)) if len(vendor_id) == 8 and _is_hex(vendor_id) else None
    if vendor is None:
        raise Rejected(Reason.CERT_PROFILE, f"tpmManufacturer {manufacturer[:20]!r} is not in the TCG vendor registry")
    eku = extensions.get(ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is None:
        raise Rejected(Reason.CERT_EKU, "AK certificate has no extendedKeyUsage")
    if EKU_AIK_CERTIFICATE not in eku.value:
        raise Rejected(Reason.CERT_EKU, "AK certificate extendedKeyUsage lacks tcg-kp-AIKCertificate (2.23.133.8.3)")
    basic = extensions.get(ExtensionOID.BASIC_CONSTRAINTS)
    if basic is None:
        raise Rejected(Reason.CERT_PROFILE, "AK certificate has no basicConstraints")
    if basic.value.ca:
        raise Rejected(Reason.CERT_PROFILE, "AK certificate has basicConstraints CA:TRUE")
    ext = extensions.get(FIDO_AAGUID_EXTENSION)
    if ext is not None and aaguid is not None:
        value = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
        if ext.critical:
            raise Rejected(Reason.CERT_PROFILE, "AK certificate AAGUID extension (1.3.6.1.4.1.45724.1.1.4) is critical")
        if len(value) != 18 or value[:2] != b"\x04\x10":
            raise Rejected(Reason.MALFORMED, "AK certificate AAGUID extension is not an OCTET STRING of 16 bytes")
        if value[2:] != aaguid:
            shown = str(uuid.UUID(bytes=aaguid)) if len(aaguid) == 16 else aaguid.hex()
            raise Rejected(Reason.ATTR_CONFLICT, f"AK certificate AAGUID extension does not match authData "
                                                 f"aaguid {shown}")
    return AkFacts(manufacturer, vendor, san[TPM_MODEL.dotted_string], san[TPM_VERSION.dotted_string],
                   _permanent_ids(permanent_ids))


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def check_object_attributes(area: TpmtPublic) -> None:
    """A credential key generated in and bound to the TPM, able to sign arbitrary data.

    ATTR_NOT_LOCAL without sensitiveDataOrigin, ATTR_EXTRACTABLE without fixedTPM and fixedParent,
    KEY_PURPOSE when restricted (it signs only TPM-generated digests) or without sign.
    """
    attrs = int(area.object_attributes)
    if not attrs & _SENSITIVE_DATA_ORIGIN:
        raise Rejected(Reason.ATTR_NOT_LOCAL, "objectAttributes lack sensitiveDataOrigin: the key was imported")
    if attrs & _BOUND != _BOUND:
        missing = [flag.name for flag in (TpmaObject.FIXED_TPM, TpmaObject.FIXED_PARENT) if not attrs & flag]
        raise Rejected(Reason.ATTR_EXTRACTABLE, f"objectAttributes lack {', '.join(str(m) for m in missing)}: "
                                                "the key can be duplicated out of the TPM")
    if attrs & _RESTRICTED:
        raise Rejected(Reason.KEY_PURPOSE, "objectAttributes set restricted: the key signs only TPM-generated data")
    if not attrs & _SIGN_ENCRYPT:
        raise Rejected(Reason.KEY_PURPOSE, "objectAttributes lack sign: the credential key cannot sign")


def is_bound_attestation_key(area: TpmtPublic) -> bool:
    """objectAttributes of a restricted signing key bound to its TPM (restricted, sign, fixedTPM, fixedParent):
    it signs only TPM-generated structures and cannot leave its TPM."""
    return int(area.object_attributes) & _ATTESTATION_KEY == _ATTESTATION_KEY


def check_strict_policy(stmt: TpmStatement, area: TpmtPublic) -> None:
    """Strict profile: no unknown attStmt members (UNEXPECTED_CONTENT), the code-signing key rule (KEY_POLICY)."""
    if stmt.unknown:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown tpm attStmt members: {', '.join(stmt.unknown)[:80]}")
    require_code_signing_key(*area_key_facts(area))


def area_key_facts(area: TpmtPublic) -> tuple[str, int]:
    """(``RSA`` or ``EC-<curve>``, bits) of pubArea's key."""
    key = area.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return f"EC-{key.curve.name}", key.curve.key_size


def tpm_claims(area: TpmtPublic, facts: AkFacts, serial: str | None = None,
               extra: Mapping[str, str | bool | int] | None = None) -> Claims:
    """The normalised claims of a certified TPM key: generated on device = sensitiveDataOrigin; not
    extractable = fixedTPM and fixedParent (TPM attributes never change, so never_extractable too);
    sensitive = fixedParent or encryptedDuplication; vendor, model and firmware from the AK certificate; ``extra``
    holds the format's own claims."""
    attrs = int(area.object_attributes)
    bound = attrs & _BOUND == _BOUND
    sensitive = bound or bool(attrs & _ENCRYPTED_DUPLICATION)
    key_type, size = area_key_facts(area)
    return Claims(
        spki_der=area.spki(), key_type=key_type, key_size=size,
        generated_on_device=bool(attrs & _SENSITIVE_DATA_ORIGIN), extractable=not bound,
        never_extractable=bound, sensitive=sensitive, always_sensitive=sensitive,
        vendor=facts.vendor, model=facts.model, firmware=facts.version, serial=serial,
        extra=extra or {})
