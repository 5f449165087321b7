"""A TPM's key hierarchy: the default templates of its primaries and attestation key, qualified names, the
TPM2_Sign/TPM2_Certify signature, and the obfuscation of TPMS_ATTEST's counters.

Shared by every emulated TPM (the ``tpm`` family's and the ``ietf`` family's TcgAttestCertify), so that
each writes the qualified names a real TPM would:

* EK: RSA-2048 under the endorsement hierarchy, the TCG default template (restricted decrypt,
  AES-128-CFB, the standard EK policy); QN(EK) = H(TPM_RH_ENDORSEMENT ‖ Name(EK)).
* SRK: ECC P-256 storage primary under the owner hierarchy; QN(SRK) = H(TPM_RH_OWNER ‖ Name(SRK)).
* An AK is a restricted signing key, a child of the EK (``tpm2_createak``) or of the SRK (Windows' AIK,
  which the Platform Crypto Provider creates in the storage hierarchy); an attested key is a child of the SRK.

TPM 2.0 Part 1 (Attestation, "Privacy") has a TPM obfuscate resetCount, restartCount and firmwareVersion
in every TPMS_ATTEST signed by a key outside the endorsement and platform hierarchies; the reference
implementation (``FillInAttestInfo``) adds a value derived with KDFa from the storage hierarchy's secret
shProof and the signer's qualified name (:func:`obfuscated`).
"""

from __future__ import annotations

import enum
import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from hsmsim.encoding import spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey
from hsmsim.pki.seed import derive_key, derive_secret
from hsmsim.tpm.marshal import HASH_NAMES, TPM_RH_ENDORSEMENT, TPM_RH_OWNER, TpmAlg, TpmaObject, u32
from hsmsim.tpm.structures import (
    NULL_SCHEME,
    NULL_SYMMETRIC,
    ClockInfo,
    Scheme,
    SymDef,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    ecc_public,
    qualified_name,
    rsa_public,
)

A = TpmaObject
EK_ATTRIBUTES = A.FIXED_TPM | A.FIXED_PARENT | A.SENSITIVE_DATA_ORIGIN | A.ADMIN_WITH_POLICY | A.RESTRICTED | A.DECRYPT
"""0x000300B2: the TCG EK Credential Profile's default template (policy-only, no userWithAuth)."""
EK_POLICY = bytes.fromhex("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa")
"""PolicySecret(TPM_RH_ENDORSEMENT): the authPolicy of the default EK template."""
SRK_ATTRIBUTES = (A.FIXED_TPM | A.FIXED_PARENT | A.SENSITIVE_DATA_ORIGIN | A.USER_WITH_AUTH | A.NO_DA
                  | A.RESTRICTED | A.DECRYPT)
AK_ATTRIBUTES = (A.FIXED_TPM | A.FIXED_PARENT | A.SENSITIVE_DATA_ORIGIN | A.USER_WITH_AUTH | A.RESTRICTED
                 | A.SIGN_ENCRYPT)
"""0x00050072: what ``tpm2_createak`` gives an AK."""
AES_128_CFB = SymDef(TpmAlg.AES, 128, TpmAlg.CFB)


class Parent(enum.Enum):
    """The primary an attestation key is created under."""

    EK = "ek"
    SRK = "srk"


def public_area(public_key: PublicKey, attributes: TpmaObject, *, symmetric: SymDef = NULL_SYMMETRIC,
                scheme: Scheme = NULL_SCHEME, auth_policy: bytes = b"") -> TpmtPublic:
    """The TPMT_PUBLIC (nameAlg SHA-256) of an RSA or EC public key with these attributes."""
    if isinstance(public_key, rsa.RSAPublicKey):
        area = rsa_public(public_key, attributes, symmetric=symmetric, scheme=scheme)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        area = ecc_public(public_key, attributes, symmetric=symmetric, scheme=scheme)
    else:
        raise UnsupportedKeyError(f"a TPM holds RSA and ECC keys, not {type(public_key).__name__}")
    return replace(area, auth_policy=auth_policy)


def signing_scheme(key: PublicKey) -> Scheme:
    """The AK scheme: ECDSA with the curve's hash, or RSASSA-SHA256."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return Scheme(TpmAlg.ECDSA, TpmAlg.SHA384 if key.curve.key_size > 256 else TpmAlg.SHA256)
    return Scheme(TpmAlg.RSASSA, TpmAlg.SHA256)


def key_spki(key: PublicKey | PrivateKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key, or of a private key's public half (encoded once per private key
    object)."""
    if isinstance(key, PrivateKey):
        return _public_half_spki(key)
    return spki_der(key)


@functools.lru_cache(maxsize=64)
def _public_half_spki(key: PrivateKey) -> bytes:
    # A private key object never changes and hashes by identity, while public_key() makes a new, unhashable object
    # at every call: a TPM's AK signs many statements, each of which names it.
    return spki_der(key.public_key())


def ak_public(ak: PublicKey | PrivateKey) -> TpmtPublic:
    """The public area of an attestation key (given by its public or private key): :data:`AK_ATTRIBUTES` with its
    fixed :func:`signing_scheme`."""
    return _ak_area(key_spki(ak))  # by its SubjectPublicKeyInfo: a public key object is not hashable


@functools.lru_cache(maxsize=64)
def _ak_area(spki: bytes) -> TpmtPublic:
    ak = load_der_public_key(spki)
    if not isinstance(ak, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedKeyError(f"a TPM holds RSA and ECC keys, not {type(ak).__name__}")
    return public_area(ak, AK_ATTRIBUTES, scheme=signing_scheme(ak))


_HASHES: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    TpmAlg.SHA1: hashes.SHA1, TpmAlg.SHA256: hashes.SHA256, TpmAlg.SHA384: hashes.SHA384,
    TpmAlg.SHA512: hashes.SHA512}


def _deterministic(key: PrivateKey) -> bool:
    # cryptography's own keys sign with RFC 6979; token keys (PKCS#11) cannot.
    return type(key).__module__.startswith("cryptography.")


def tpm_sign(key: PrivateKey, message: bytes, scheme: Scheme) -> TpmtSignature:
    """What TPM2_Sign / TPM2_Certify return: a TPMT_SIGNATURE over H_scheme(message)."""
    assert scheme.hash_alg is not None
    algorithm = _HASHES[scheme.hash_alg]()
    if isinstance(key, ec.EllipticCurvePrivateKey) and scheme.scheme == TpmAlg.ECDSA:
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(algorithm, deterministic_signing=_deterministic(key))))
        width = (key.curve.key_size + 7) // 8
        return TpmtSignature(TpmAlg.ECDSA, scheme.hash_alg, r=r.to_bytes(width, "big"), s=s.to_bytes(width, "big"))
    if isinstance(key, rsa.RSAPrivateKey) and scheme.scheme == TpmAlg.RSASSA:
        return TpmtSignature(TpmAlg.RSASSA, scheme.hash_alg, signature=key.sign(message, padding.PKCS1v15(), algorithm))
    raise UnsupportedKeyError(f"an AK of type {type(key).__name__} cannot sign with scheme 0x{scheme.scheme:04x}")


def kdfa(hash_alg: int, key: bytes, label: bytes, context_u: bytes, context_v: bytes, bits: int) -> bytes:
    """TPM 2.0 Part 1 KDFa (SP 800-108 counter mode, HMAC): ``bits`` bits of
    HMAC(key, [i]₃₂ ‖ label ‖ 0x00 ‖ contextU ‖ contextV ‖ [bits]₃₂), i = 1, 2, ..."""
    name = HASH_NAMES[TpmAlg(hash_alg)]
    out = b""
    counter = 0
    while len(out) * 8 < bits:
        counter += 1
        out += hmac.digest(key, u32(counter) + label + b"\x00" + context_u + context_v + u32(bits), name)
    return out[:(bits + 7) // 8]


def obfuscated(attest: TpmsAttest, sh_proof: bytes) -> TpmsAttest:
    """``attest`` as a TPM signs it with a key outside the endorsement and platform hierarchies (the reference
    implementation's ``FillInAttestInfo``): obfuscation = KDFa(SHA-256, shProof, "OBFUSCATE", qualifiedSigner,
    "", 128) read as two 64-bit words; firmwareVersion += word 0, resetCount += the high half of word 1,
    restartCount += its low half (modulo 2³² / 2⁶⁴).

    The words are read little-endian, as the reference implementation's ``UINT64 obfuscation[2]`` is on the
    x86 and ARM hosts it runs on: the specification leaves the value to the TPM, which alone can undo it."""
    mask = kdfa(TpmAlg.SHA256, sh_proof, b"OBFUSCATE", attest.qualified_signer, b"", 128)
    word0, word1 = int.from_bytes(mask[:8], "little"), int.from_bytes(mask[8:], "little")
    clock = attest.clock_info
    return replace(attest, firmware_version=(attest.firmware_version + word0) % 2**64, clock_info=ClockInfo(
        clock.clock, (clock.reset_count + (word1 >> 32)) % 2**32, (clock.restart_count + word1) % 2**32,
        clock.safe))


@dataclass(frozen=True)
class KeyHierarchy:
    """The primaries of one emulated TPM, derived from ``seed`` under the roles ``<prefix>/ek``,
    ``<prefix>/srk`` and ``<prefix>/shProof``."""

    seed: str
    prefix: str

    def role(self, name: str) -> str:
        """The derivation role of this TPM's object ``name``."""
        return f"{self.prefix}/{name}"

    @property
    def ek_key(self) -> PrivateKey:
        """The endorsement key (RSA-2048)."""
        return derive_key(self.seed, self.role("ek"), KeySpec.parse("rsa-2048"))

    def ek_public(self) -> TpmtPublic:
        """The EK's public area from the TCG default RSA template."""
        return public_area(self.ek_key.public_key(), EK_ATTRIBUTES, symmetric=AES_128_CFB, auth_policy=EK_POLICY)

    def srk_public(self) -> TpmtPublic:
        """The storage primary's public area (ECC P-256, AES-128-CFB)."""
        srk = derive_key(self.seed, self.role("srk"), KeySpec.parse("ec-p256"))
        return public_area(srk.public_key(), SRK_ATTRIBUTES, symmetric=AES_128_CFB)

    @property
    def sh_proof(self) -> bytes:
        """The storage hierarchy's secret proof value (32 bytes), the key of :func:`obfuscated`."""
        return derive_secret(self.seed, self.role("shProof"), 32)

    def primary_qualified_name(self, parent: Parent) -> bytes:
        """QN(EK) = H(TPM_RH_ENDORSEMENT ‖ Name(EK)) or QN(SRK) = H(TPM_RH_OWNER ‖ Name(SRK))."""
        return _primary_qualified_names(self)[0 if parent is Parent.EK else 1]

    def ak_qualified_name(self, ak: PublicKey | PrivateKey, parent: Parent = Parent.EK) -> bytes:
        """QN(AK) = H(QN(parent) ‖ Name(AK)), the AK's public area from :func:`ak_public`."""
        return _child_qualified_name(self, parent, ak_public(ak).name())

    def key_qualified_name(self, area: TpmtPublic) -> bytes:
        """QN of a child of the SRK: H(QN(SRK) ‖ Name(key))."""
        return _child_qualified_name(self, Parent.SRK, area.name())


@functools.lru_cache(maxsize=16)
def _primary_qualified_names(hierarchy: KeyHierarchy) -> tuple[bytes, bytes]:
    return (qualified_name(u32(TPM_RH_ENDORSEMENT), hierarchy.ek_public().name()),
            qualified_name(u32(TPM_RH_OWNER), hierarchy.srk_public().name()))


@functools.lru_cache(maxsize=256)
def _child_qualified_name(hierarchy: KeyHierarchy, parent: Parent, name: bytes) -> bytes:
    # A TPM names the same AK and keys in every TPMS_ATTEST it signs with them.
    return qualified_name(hierarchy.primary_qualified_name(parent), name)
