"""The TcgAttestCertify statement (``tcg-attest-certify``, 2.23.133.20.1) of a CSR attestation bundle.

``TcgAttestCertify ::= SEQUENCE { tpmSAttest OCTET STRING, signature OCTET STRING, tpmTPublic OCTET
STRING OPTIONAL }``: the TPMS_ATTEST of a TPM2_Certify, the attestation key's signature over it and the
certified key's TPMT_PUBLIC. The AK certificate (EKU tcg-kp-AIKCertificate) travels in the bundle's
``certs``.

The draft does not say how ``signature`` is encoded: the LAMPS sample (and ``tpm2_certify -f plain``)
carry the bare signature (RSASSA-PKCS1-v1_5 bytes or a DER ECDSA-Sig-Value), while draft helpers describe
it as "the TPMT_SIGNATURE structure". The generator writes the bare form unless asked for ``tpmt``; the
verifier reads both (:func:`read_signature`).

The emulated TPM is a minimal one of this family (an AK under an emulated root, the key's TPMA_OBJECT from
its PKCS#11 attributes), with the EK/SRK hierarchy of :mod:`hsmsim.tpm.hierarchy` so that its qualified
names are a real TPM's: qualifiedSigner = QN(AK), a child of the EK; the certified key's qualifiedName =
QN(key), a child of the SRK.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from hsmsim.encoding import der_children, der_sequence
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.ietf import asn1
from hsmsim.formats.ietf.evidence import describe_public_key
from hsmsim.keystore.base import StoredKey
from hsmsim.model.evidence import TrustAnchors
from hsmsim.pki.chain import validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.tpm.hierarchy import KeyHierarchy, Parent, public_area, tpm_sign
from hsmsim.tpm.marshal import TPM_GENERATED_VALUE, TpmAlg, TpmaObject, TpmSt
from hsmsim.tpm.structures import (
    CertifyInfo,
    ClockInfo,
    Scheme,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    check_qualified_name,
    object_attributes,
)
from hsmsim.verdict import Claims, Profile, Reason, Rejected

SIG_ENCODINGS = ("bare", "tpmt")
"""How ``signature`` is written: the bare signature (default, as the LAMPS sample) or a marshalled TPMT_SIGNATURE."""


def tpm_hierarchy(seed: str, serial: str) -> KeyHierarchy:
    """The primaries of device ``serial``'s emulated TPM (roles ``ietf/tpm/<serial>/...``, beside its AK's)."""
    return KeyHierarchy(seed, f"ietf/tpm/{serial}")


def _scheme(public_key: object) -> Scheme:
    if isinstance(public_key, rsa.RSAPublicKey):
        return Scheme(TpmAlg.RSASSA, TpmAlg.SHA256)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return Scheme(TpmAlg.ECDSA, TpmAlg.SHA256)
    raise UnsupportedKeyError("a TPM certifies RSA and ECC keys only")


def certify(key: StoredKey, ak: AttestationIdentity, hierarchy: KeyHierarchy, *, nonce: bytes, clock: int,
            firmware: int, sig_encoding: str = "bare") -> bytes:
    """The TcgAttestCertify DER of a TPM2_Certify of ``key`` by ``ak`` (a child of ``hierarchy``'s EK) with
    ``nonce`` as qualifyingData: the key's qualifiedName is that of a child of the SRK."""
    if key.public_key is None:
        raise UnsupportedKeyError("a TPM certifies asymmetric keys only")
    area = public_area(key.public_key, object_attributes(key.attributes))
    attest = TpmsAttest(
        type=TpmSt.ATTEST_CERTIFY, qualified_signer=hierarchy.ak_qualified_name(ak.key.public_key(), Parent.EK),
        extra_data=nonce, clock_info=ClockInfo(clock=clock, reset_count=1, restart_count=0, safe=1),
        firmware_version=firmware, attested=CertifyInfo(area.name(), hierarchy.key_qualified_name(area)),
    ).marshal()
    return statement(attest, sign_attest(ak, attest, sig_encoding), area.marshal())


def sign_attest(ak: AttestationIdentity, attest: bytes, sig_encoding: str = "bare") -> bytes:
    """The AK's signature over TPMS_ATTEST (RSASSA or deterministic ECDSA, SHA-256): bare (PKCS#1 v1.5 bytes or
    a DER ECDSA-Sig-Value) or, with ``sig_encoding="tpmt"``, the marshalled TPMT_SIGNATURE."""
    if sig_encoding not in SIG_ENCODINGS:
        raise ParameterError.invalid("sig_encoding", f"one of {', '.join(SIG_ENCODINGS)}", sig_encoding)
    signature = tpm_sign(ak.key, attest, _scheme(ak.key.public_key()))
    return signature.marshal() if sig_encoding == "tpmt" else signature.bare()


def statement(attest: bytes, signature: bytes, public: bytes | None) -> bytes:
    """TcgAttestCertify DER from its parts (``public`` None: without the optional tpmTPublic)."""
    parts = [asn1.octets(attest), asn1.octets(signature)]
    return der_sequence(*parts, *([] if public is None else [asn1.octets(public)]))


def parse(stmt: bytes) -> tuple[bytes, bytes, bytes | None]:
    """``(tpmSAttest, signature, tpmTPublic or None)``; raises Rejected(MALFORMED)."""
    try:
        parts = der_children(asn1.read_value(stmt, asn1.SEQUENCE))
        if len(parts) not in (2, 3):
            raise ValueError("TcgAttestCertify is not {tpmSAttest, signature, tpmTPublic OPTIONAL}")
        values = [asn1.read_value(p, asn1.OCTETS) for p in parts]
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"TcgAttestCertify: {exc}") from None
    return values[0], values[1], values[2] if len(values) == 3 else None


def _ak_certificate(certs: Sequence[x509.Certificate], signature: bytes, attest: bytes) -> x509.Certificate:
    """The AK certificate (EKU tcg-kp-AIKCertificate) whose key signed ``attest``, wherever it lies in ``certs``
    (an unordered bag, which may hold other TPMs' AK certificates): MISSING_INPUT when none has the EKU,
    UNSUPPORTED when no AK key is RSA or ECC, SIGNATURE_INVALID when none verifies, MALFORMED when two different
    certificates do (which one vouches would be a matter of order)."""
    candidates = []
    for cert in certs:
        try:
            ekus = {e.dotted_string for e in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
        except x509.ExtensionNotFound:
            continue
        if asn1.TCG_KP_AIK_CERTIFICATE in ekus and cert not in candidates:
            candidates.append(cert)
    if not candidates:
        raise Rejected(Reason.MISSING_INPUT, "the bundle's certs hold no AK certificate (EKU tcg-kp-AIKCertificate)")
    verified = [(cert, _verify(cert.public_key(), signature, attest)) for cert in candidates]
    signers = [cert for cert, valid in verified if valid]
    if not signers and all(valid is None for _cert, valid in verified):
        raise Rejected(Reason.UNSUPPORTED, "the AK is neither RSA nor ECC")
    if not signers:
        raise Rejected(Reason.SIGNATURE_INVALID, "the signature over tpmSAttest does not verify with any AK "
                                                 f"certificate's key ({len(candidates)} in certs)")
    if len(signers) > 1:
        raise Rejected(Reason.MALFORMED, f"{len(signers)} different AK certificates in certs verify the signature "
                                         "over tpmSAttest: which one vouches is ambiguous")
    return signers[0]


_HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    TpmAlg.SHA1: hashes.SHA1, TpmAlg.SHA256: hashes.SHA256, TpmAlg.SHA384: hashes.SHA384, TpmAlg.SHA512: hashes.SHA512}


def read_signature(signature: bytes) -> tuple[bytes, hashes.HashAlgorithm]:
    """The signature as cryptography verifies it and its digest: a marshalled TPMT_SIGNATURE (RSASSA or ECDSA)
    when the bytes parse as exactly one, else the bare signature with SHA-256. The two cannot be confused: a DER
    ECDSA-Sig-Value starts with 0x30, no TPM_ALG_ID, and a bare RSA signature parses as a TPMT_SIGNATURE only if
    its first four bytes name a signature scheme and a hash and the next two its remaining length. Raises
    Rejected(UNSUPPORTED) for a TPMT_SIGNATURE of another scheme or digest."""
    try:
        parsed = TpmtSignature.unmarshal(signature)
    except Rejected:
        return signature, hashes.SHA256()
    algorithm = _HASHES.get(parsed.hash_alg)
    if parsed.sig_alg not in (TpmAlg.RSASSA, TpmAlg.ECDSA) or algorithm is None:
        raise Rejected(Reason.UNSUPPORTED, f"signature: a TPMT_SIGNATURE of scheme 0x{parsed.sig_alg:04x} "
                                           f"and hash 0x{parsed.hash_alg:04x} is not supported")
    if parsed.sig_alg == TpmAlg.ECDSA:
        return encode_dss_signature(int.from_bytes(parsed.r, "big"), int.from_bytes(parsed.s, "big")), algorithm()
    return parsed.signature, algorithm()


def _verify(public_key: object, signature: bytes, data: bytes) -> bool | None:
    """Whether ``signature`` over ``data`` verifies with ``public_key``; None for a key neither RSA nor ECC."""
    raw, algorithm = read_signature(signature)
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(raw, data, ec.ECDSA(algorithm))
        else:
            return None
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_statement(stmt: bytes, certs: Sequence[x509.Certificate], csr_spki: bytes, trust: TrustAnchors,
                     at: datetime, profile: Profile, nonce: bytes | None) -> Claims:
    """A TcgAttestCertify about the CSR's key: TPMS_ATTEST of a certify, signed (bare or TPMT_SIGNATURE) by an AK
    that chains to an anchor, naming the tpmTPublic that carries the CSR's key, with the expected qualifyingData
    when a nonce is given, for a key that is fixedTPM, fixedParent and generated in the TPM. Without the optional
    tpmTPublic nothing ties the certified Name to the CSR's key: MISSING_INPUT. Raises Rejected."""
    attest_bytes, signature, public_bytes = parse(stmt)
    attest = TpmsAttest.unmarshal(attest_bytes)
    public = None if public_bytes is None else TpmtPublic.unmarshal(public_bytes)
    if attest.magic != TPM_GENERATED_VALUE:
        raise Rejected(Reason.MALFORMED, f"tpmSAttest.magic is 0x{attest.magic:08x}, not TPM_GENERATED_VALUE")
    if attest.type != TpmSt.ATTEST_CERTIFY or not isinstance(attest.attested, CertifyInfo):
        raise Rejected(Reason.MALFORMED, "tpmSAttest is not a TPM_ST_ATTEST_CERTIFY")
    ak = _ak_certificate(certs, signature, attest_bytes)
    # The TPM's AK certificate recurs in every statement the TPM makes (the signature over tpmSAttest is checked
    # above, on every call).
    validate_chain(ak, [c for c in certs if c != ak], trust.get("root") or trust.all(), at, recurring_leaf=True)
    if public is None or public_bytes is None:
        raise Rejected(Reason.MISSING_INPUT, "TcgAttestCertify has no tpmTPublic: the certified Name cannot be "
                                             "tied to the CSR's key nor its attributes read")
    if attest.attested.name != public.name():
        raise Rejected(Reason.KEY_MISMATCH, "tpmSAttest names another object than tpmTPublic")
    check_qualified_name(attest.attested, "tpmSAttest")
    key = public.public_key()
    key_spki = public.spki()
    if key_spki != csr_spki:
        raise Rejected(Reason.KEY_MISMATCH, "tpmTPublic is not the CSR's key")
    if nonce is not None and attest.extra_data != nonce:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "tpmSAttest.extraData is not the expected nonce")
    attrs = public.object_attributes
    fixed = bool(attrs & TpmaObject.FIXED_TPM) and bool(attrs & TpmaObject.FIXED_PARENT)
    local = bool(attrs & TpmaObject.SENSITIVE_DATA_ORIGIN)
    if not local:
        raise Rejected(Reason.ATTR_NOT_LOCAL, "tpmTPublic lacks sensitiveDataOrigin: the key was imported")
    if not fixed:
        raise Rejected(Reason.ATTR_EXTRACTABLE, "tpmTPublic lacks fixedTPM/fixedParent: the key can be duplicated")
    key_type, size = describe_public_key(key)
    return Claims(spki_der=key_spki, key_type=key_type, key_size=size, generated_on_device=True,
                  extractable=False, never_extractable=True, sensitive=None, always_sensitive=None, vendor="TPM",
                  firmware=f"{attest.firmware_version:016x}")
