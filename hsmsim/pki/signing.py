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
ECDSA_SHA512 = "1.2.840.10045.4.3.4"
RSA_SHA256 = "1.2.840.113549.1.1.11"
RSA_SHA384 = "1.2.840.113549.1.1.12"
RSA_SHA512 = "1.2.840.113549.1.1.13"
RSA_PSS = "1.2.840.113549.1.1.10"
MGF1 = "1.2.840.113549.1.1.8"
ED25519 = "1.3.101.112"
HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
"""The hash class of each hash name (``HashAlgorithm.name``, the names COSE and TPM tables use)."""
_ECDSA: dict[str, type[hashes.HashAlgorithm]] = {
    ECDSA_SHA256: hashes.SHA256, ECDSA_SHA384: hashes.SHA384, ECDSA_SHA512: hashes.SHA512}
"""ECDSA with SHA-2 (RFC 5758 3.2)."""
_PKCS1: dict[str, type[hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256, RSA_SHA384: hashes.SHA384, RSA_SHA512: hashes.SHA512}
"""RSASSA-PKCS1-v1_5 with SHA-2 (RFC 4055 5)."""
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512}
"""The SHA-2 HashAlgorithm OIDs RSASSA-PSS may name (RFC 4055 2.1); its default SHA-1 is not supported."""
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


_ABSENT_PARAMETERS = frozenset({*_ECDSA, ED25519})
"""Algorithms whose AlgorithmIdentifier has no parameters: ECDSA (RFC 5758 3.2), Ed25519 (RFC 8410 3)."""


def _parts(algorithm: bytes) -> tuple[str, bytes | None]:
    """The OID and parameters TLV (None when absent) of a DER ``AlgorithmIdentifier``; ValueError otherwise."""
    parts = der_children(der_content(algorithm, der=True), der=True)
    if not 1 <= len(parts) <= 2 or parts[0][:1] != b"\x06":
        raise ValueError("AlgorithmIdentifier is not {algorithm OID, parameters OPTIONAL}")
    return oid_dotted(parts[0]), parts[1] if len(parts) == 2 else None


def _hash_of(algorithm: bytes) -> type[hashes.HashAlgorithm] | None:
    """The SHA-2 hash a HashAlgorithm AlgorithmIdentifier names (parameters NULL or absent, RFC 4055 2.1), None for
    another hash; ValueError when malformed."""
    oid, parameters = _parts(algorithm)
    if parameters not in (None, _NULL):
        raise ValueError(f"HashAlgorithm {oid} has parameters other than NULL")
    return _DIGESTS.get(oid)


def _small_integer(tlv: bytes) -> int:
    content = der_content(tlv, der=True)
    if tlv[:1] != b"\x02" or not 1 <= len(content) <= 4 or content[0] & 0x80 or (
            len(content) > 1 and content[0] == 0 and not content[1] & 0x80):
        raise ValueError("not a small non-negative DER INTEGER")
    return int.from_bytes(content, "big")


def pss_parameters(parameters: bytes | None) -> tuple[type[hashes.HashAlgorithm], int] | None:
    """``(hash, salt length)`` of ``RSASSA-PSS-params`` (RFC 4055 3.1) for SHA-2 with MGF1 of the same hash and
    trailer field 1; None for another choice (SHA-1, the default, among them). ValueError when they are absent or
    malformed: ``[0]`` to ``[3]`` in order, each at most once, explicit tags."""
    if parameters is None or parameters[:1] != b"\x30":
        raise ValueError("RSASSA-PSS parameters are absent or not a SEQUENCE")
    hash_: type[hashes.HashAlgorithm] | None = hashes.SHA1
    mask: type[hashes.HashAlgorithm] | None = hashes.SHA1
    salt, trailer, last = 20, 1, -1
    for field in der_children(der_content(parameters, der=True), der=True):
        number = field[0] - 0xA0
        if not last < number <= 3:
            raise ValueError("RSASSA-PSS parameters are not [0] to [3] in order, each once")
        last, inner = number, der_content(field, der=True)
        if number == 0:
            hash_ = _hash_of(inner)
        elif number == 1:
            oid, mask_parameters = _parts(inner)
            if mask_parameters is None:
                raise ValueError("MaskGenAlgorithm without its hash")
            mask = _hash_of(mask_parameters) if oid == MGF1 else None
        elif number == 2:
            salt = _small_integer(inner)
        else:
            trailer = _small_integer(inner)
    if hash_ is None or hash_ is hashes.SHA1 or mask is not hash_ or trailer != 1:
        return None
    return hash_, salt


def check_parameters(algorithm: bytes) -> None:
    """Raises ValueError unless the AlgorithmIdentifier ``algorithm`` is DER ``SEQUENCE {OID, parameters OPTIONAL}``
    (nothing after the parameters) with the parameters its algorithm's RFC prescribes for the algorithms
    :func:`verify` knows: absent for ECDSA and Ed25519, NULL or absent for PKCS#1 v1.5 (RFC 4055 5), well-formed
    RSASSA-PSS-params for RSASSA-PSS. Another algorithm's parameters are not judged (:func:`verify` says it is not
    supported)."""
    oid, parameters = _parts(algorithm)
    if oid in _ABSENT_PARAMETERS and parameters is not None:
        raise ValueError(f"AlgorithmIdentifier {oid} has parameters (they MUST be absent)")
    if oid in _PKCS1 and parameters not in (None, _NULL):
        raise ValueError(f"AlgorithmIdentifier {oid} has parameters other than NULL")
    if oid == RSA_PSS:
        pss_parameters(parameters)


def algorithm_oid(algorithm: bytes) -> str:
    """The OID of an AlgorithmIdentifier DER; raises ValueError."""
    oid = der_children(der_content(algorithm))[0]
    if oid[:1] != b"\x06":
        raise ValueError("AlgorithmIdentifier does not start with an OID")
    return oid_dotted(oid)


def verify(public_key: PublicKeyTypes, algorithm: bytes, signature: bytes, data: bytes) -> bool | None:
    """True when ``signature`` verifies, False when it does not, None when the algorithm is not supported
    (or does not fit the key). Supported: ECDSA and RSASSA-PKCS1-v1_5 with SHA-256, SHA-384 or SHA-512, RSASSA-PSS
    with SHA-2 and MGF1 of the same hash, Ed25519. Never raises on bad input."""
    try:
        oid = algorithm_oid(algorithm)
        pss = pss_parameters(_parts(algorithm)[1]) if oid == RSA_PSS else None
    except ValueError:
        return None
    try:
        if oid in _ECDSA and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(_ECDSA[oid]()))
        elif oid in _PKCS1 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), _PKCS1[oid]())
        elif pss is not None and isinstance(public_key, rsa.RSAPublicKey):
            hash_, salt = pss
            public_key.verify(signature, data, padding.PSS(padding.MGF1(hash_()), salt), hash_())
        elif oid == ED25519 and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return None
    except (InvalidSignature, ValueError):
        return False
    return True
