"""Signature algorithms of hand-encoded signed structures (PKIX Evidence SignatureBlocks, CSRs with attributes
cryptography cannot write): the AlgorithmIdentifier for a key, signing, verifying."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from hsmsim.encoding import der_children, der_content, der_oid, der_sequence, oid_dotted
from hsmsim.keystore.base import PrivateKey

ECDSA_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_SHA384 = "1.2.840.10045.4.3.3"
RSA_SHA256 = "1.2.840.113549.1.1.11"
RSA_SHA384 = "1.2.840.113549.1.1.12"
ED25519 = "1.3.101.112"
HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
"""The hash class of each hash name (``HashAlgorithm.name``, the names COSE and TPM tables use)."""
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    ECDSA_SHA256: hashes.SHA256, ECDSA_SHA384: hashes.SHA384, RSA_SHA256: hashes.SHA256, RSA_SHA384: hashes.SHA384,
}
_NULL = b"\x05\x00"


def algorithm_for(key: PrivateKey | PublicKeyTypes) -> bytes:
    """The AlgorithmIdentifier DER hsmsim signs with for ``key`` (SHA-256; SHA-384 on P-384)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return der_sequence(der_oid(ECDSA_SHA384 if key.curve.key_size == 384 else ECDSA_SHA256))
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return der_sequence(der_oid(RSA_SHA256), _NULL)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return der_sequence(der_oid(ED25519))
    raise ValueError(f"cannot sign with a {type(key).__name__}")


def sign(key: PrivateKey, data: bytes) -> tuple[bytes, bytes]:
    """``(AlgorithmIdentifier DER, signature)`` over ``data``; deterministic (RFC 6979 ECDSA, PKCS#1 v1.5, Ed25519)."""
    algorithm = algorithm_for(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        hash_ = hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()
        return algorithm, key.sign(data, ec.ECDSA(hash_, deterministic_signing=True))
    if isinstance(key, rsa.RSAPrivateKey):
        return algorithm, key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return algorithm, key.sign(data)


_ABSENT_PARAMETERS = frozenset({ECDSA_SHA256, ECDSA_SHA384, ED25519})
"""Algorithms whose AlgorithmIdentifier has no parameters: ECDSA (RFC 5758 3.2), Ed25519 (RFC 8410 3)."""
_NULL_OR_ABSENT_PARAMETERS = frozenset({RSA_SHA256, RSA_SHA384})
"""PKCS#1 v1.5 with SHA-2: parameters NULL, and absent accepted (RFC 4055 5)."""


def check_parameters(algorithm: bytes) -> None:
    """Raises ValueError unless the AlgorithmIdentifier ``algorithm`` is DER ``SEQUENCE {OID, parameters OPTIONAL}``
    (nothing after the parameters) with the parameters its algorithm's RFC prescribes for the algorithms
    :func:`verify` knows: absent for ECDSA and Ed25519, NULL or absent for PKCS#1 v1.5. Another algorithm's
    parameters are not judged (:func:`verify` says it is not supported)."""
    parts = der_children(der_content(algorithm, der=True), der=True)
    if not 1 <= len(parts) <= 2 or parts[0][:1] != b"\x06":
        raise ValueError("AlgorithmIdentifier is not {algorithm OID, parameters OPTIONAL}")
    oid = oid_dotted(parts[0])
    parameters = parts[1] if len(parts) == 2 else None
    if oid in _ABSENT_PARAMETERS and parameters is not None:
        raise ValueError(f"AlgorithmIdentifier {oid} has parameters (they MUST be absent)")
    if oid in _NULL_OR_ABSENT_PARAMETERS and parameters not in (None, _NULL):
        raise ValueError(f"AlgorithmIdentifier {oid} has parameters other than NULL")


def algorithm_oid(algorithm: bytes) -> str:
    """The OID of an AlgorithmIdentifier DER; raises ValueError."""
    oid = der_children(der_content(algorithm))[0]
    if oid[:1] != b"\x06":
        raise ValueError("AlgorithmIdentifier does not start with an OID")
    return oid_dotted(oid)


def verify(public_key: PublicKeyTypes, algorithm: bytes, signature: bytes, data: bytes) -> bool | None:
    """True when ``signature`` verifies, False when it does not, None when the algorithm is not supported
    (or does not fit the key). Never raises on bad input."""
    try:
        oid = algorithm_oid(algorithm)
    except ValueError:
        return None
    try:
        if oid in (ECDSA_SHA256, ECDSA_SHA384) and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(_HASHES[oid]()))
        elif oid in (RSA_SHA256, RSA_SHA384) and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), _HASHES[oid]())
        elif oid == ED25519 and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return None
    except (InvalidSignature, ValueError):
        return False
    return True
