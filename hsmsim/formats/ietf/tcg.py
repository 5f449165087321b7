"""The TcgAttestCertify statement (``tcg-attest-certify``, 2.23.133.20.1) of a CSR attestation bundle.

``TcgAttestCertify ::= SEQUENCE { tpmSAttest OCTET STRING, signature OCTET STRING, keyPublic OCTET
STRING }``: the TPMS_ATTEST of a TPM2_Certify, the attestation key's signature over it (the raw
signature: RSASSA-PKCS1-v1_5 or a DER ECDSA-Sig-Value, SHA-256) and the certified key's TPMT_PUBLIC.
The AK certificate (EKU tcg-kp-AIKCertificate) travels in the bundle's ``certs``. The TPM core is
:mod:`hsmsim.tpm`; the emulated TPM here is a minimal one (an AK under an emulated root, the key's
TPMA_OBJECT from its PKCS#11 attributes), not the ``tpm`` family's EK hierarchy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsmsim.encoding import der_children, der_sequence
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.ietf import asn1
from hsmsim.formats.ietf.evidence import describe_public_key
from hsmsim.keystore.base import StoredKey
from hsmsim.model.evidence import TrustAnchors
from hsmsim.pki.chain import validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.tpm.marshal import TPM_GENERATED_VALUE, TpmAlg, TpmaObject, TpmSt
from hsmsim.tpm.structures import (
    CertifyInfo,
    ClockInfo,
    TpmsAttest,
    TpmtPublic,
    ecc_public,
    name_of,
    object_attributes,
    rsa_public,
)
from hsmsim.verdict import Claims, Profile, Reason, Rejected

_AK_ATTRIBUTES = (TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT | TpmaObject.SENSITIVE_DATA_ORIGIN
                  | TpmaObject.USER_WITH_AUTH | TpmaObject.RESTRICTED | TpmaObject.SIGN_ENCRYPT)


def tpm_public(public_key: object, attributes: TpmaObject) -> TpmtPublic:
    """The TPMT_PUBLIC of an RSA or ECC key; raises UnsupportedKeyError for other keys."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return rsa_public(public_key, attributes)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return ecc_public(public_key, attributes)
    raise UnsupportedKeyError("a TPM certifies RSA and ECC keys only")


def certify(key: StoredKey, ak: AttestationIdentity, *, nonce: bytes, clock: int, firmware: int) -> bytes:
    """The TcgAttestCertify DER of a TPM2_Certify of ``key`` by ``ak`` with ``nonce`` as qualifyingData."""
    if key.public_key is None:
        raise UnsupportedKeyError("a TPM certifies asymmetric keys only")
    public = tpm_public(key.public_key, object_attributes(key.attributes)).marshal()
    ak_public = tpm_public(ak.certificate.public_key(), _AK_ATTRIBUTES).marshal()
    attest = TpmsAttest(
        type=TpmSt.ATTEST_CERTIFY, qualified_signer=name_of(TpmAlg.SHA256, ak_public), extra_data=nonce,
        clock_info=ClockInfo(clock=clock, reset_count=1, restart_count=0, safe=1), firmware_version=firmware,
        attested=CertifyInfo(name_of(TpmAlg.SHA256, public), name_of(TpmAlg.SHA256, public)),
    ).marshal()
    return statement(attest, sign_attest(ak, attest), public)


def sign_attest(ak: AttestationIdentity, attest: bytes) -> bytes:
    """The AK's raw signature over TPMS_ATTEST (PKCS#1 v1.5 or deterministic DER ECDSA, SHA-256)."""
    if isinstance(ak.key, rsa.RSAPrivateKey):
        return ak.key.sign(attest, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(ak.key, ec.EllipticCurvePrivateKey)
    return ak.key.sign(attest, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))


def statement(attest: bytes, signature: bytes, public: bytes) -> bytes:
    """TcgAttestCertify DER from its three parts."""
    return der_sequence(asn1.octets(attest), asn1.octets(signature), asn1.octets(public))


def parse(stmt: bytes) -> tuple[bytes, bytes, bytes]:
    """``(tpmSAttest, signature, keyPublic)``; raises Rejected(MALFORMED)."""
    try:
        parts = der_children(asn1.read_value(stmt, asn1.SEQUENCE))
        if len(parts) != 3:
            raise ValueError("TcgAttestCertify is not {tpmSAttest, signature, keyPublic}")
        attest, signature, public = (asn1.read_value(p, asn1.OCTETS) for p in parts)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"TcgAttestCertify: {exc}") from None
    return attest, signature, public


def _ak_certificate(certs: Sequence[x509.Certificate]) -> x509.Certificate:
    for cert in certs:
        try:
            ekus = {e.dotted_string for e in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
        except x509.ExtensionNotFound:
            continue
        if asn1.TCG_KP_AIK_CERTIFICATE in ekus:
            return cert
    raise Rejected(Reason.MISSING_INPUT, "the bundle's certs hold no AK certificate (EKU tcg-kp-AIKCertificate)")


def _verify_raw(public_key: object, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise Rejected(Reason.UNSUPPORTED, "the AK is neither RSA nor ECC")
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_statement(stmt: bytes, certs: Sequence[x509.Certificate], csr_spki: bytes, trust: TrustAnchors,
                     at: datetime, profile: Profile, nonce: bytes | None) -> Claims:
    """A TcgAttestCertify about the CSR's key: TPMS_ATTEST of a certify, signed by an AK that chains to an
    anchor, naming the TPMT_PUBLIC that carries the CSR's key, with the expected qualifyingData when a
    nonce is given, for a key that is fixedTPM, fixedParent and generated in the TPM. Raises Rejected."""
    attest_bytes, signature, public_bytes = parse(stmt)
    attest = TpmsAttest.unmarshal(attest_bytes)
    public = TpmtPublic.unmarshal(public_bytes)
    if attest.magic != TPM_GENERATED_VALUE:
        raise Rejected(Reason.MALFORMED, f"tpmSAttest.magic is 0x{attest.magic:08x}, not TPM_GENERATED_VALUE")
    if attest.type != TpmSt.ATTEST_CERTIFY or not isinstance(attest.attested, CertifyInfo):
        raise Rejected(Reason.MALFORMED, "tpmSAttest is not a TPM_ST_ATTEST_CERTIFY")
    ak = _ak_certificate(certs)
    if not _verify_raw(ak.public_key(), signature, attest_bytes):
        raise Rejected(Reason.SIGNATURE_INVALID, "the signature over tpmSAttest does not verify with the AK")
    validate_chain(ak, [c for c in certs if c != ak], trust.get("root") or trust.all(), at)
    if attest.attested.name != name_of(public.name_alg, public_bytes):
        raise Rejected(Reason.KEY_MISMATCH, "tpmSAttest names another object than keyPublic")
    key = public.public_key()
    key_spki = public.spki()
    if key_spki != csr_spki:
        raise Rejected(Reason.KEY_MISMATCH, "keyPublic is not the CSR's key")
    if nonce is not None and attest.extra_data != nonce:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "tpmSAttest.extraData is not the expected nonce")
    attrs = public.object_attributes
    fixed = bool(attrs & TpmaObject.FIXED_TPM) and bool(attrs & TpmaObject.FIXED_PARENT)
    local = bool(attrs & TpmaObject.SENSITIVE_DATA_ORIGIN)
    if not local:
        raise Rejected(Reason.ATTR_NOT_LOCAL, "keyPublic lacks sensitiveDataOrigin: the key was imported")
    if not fixed:
        raise Rejected(Reason.ATTR_EXTRACTABLE, "keyPublic lacks fixedTPM/fixedParent: the key can be duplicated")
    key_type, size = describe_public_key(key)
    return Claims(spki_der=key_spki, key_type=key_type, key_size=size, generated_on_device=True,
                  extractable=False, never_extractable=True, sensitive=None, always_sensitive=None, vendor="TPM",
                  firmware=f"{attest.firmware_version:016x}")
