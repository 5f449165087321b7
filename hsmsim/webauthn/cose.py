"""COSE signatures as WebAuthn attestation statements carry them: ``alg`` names the algorithm, ``sig`` is
the signature over ``authData ‖ clientDataHash`` (ECDSA as DER, RSA PKCS#1 v1.5 or PSS, Ed25519 raw).

An ``alg`` fits a key when it is the one algorithm family and curve that key signs with: ES256/ES384/ES512
for P-256/P-384/P-521, RS*/PS* for RSA, EdDSA for Ed25519.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.pki.signing import HASH_ALGORITHMS
from hsmsim.verdict import Reason, Rejected
from hsmsim.webauthn.container import COSE_ALGS, COSE_EDDSA

_EC_ALGS = {"secp256r1": -7, "secp384r1": -35, "secp521r1": -36}


def alg_name(alg: int) -> str:
    """The COSE name of ``alg`` (``ES256``), or its number."""
    return "EdDSA" if alg == COSE_EDDSA else COSE_ALGS[alg][0] if alg in COSE_ALGS else str(alg)


def alg_fits(key: PublicKey, alg: int) -> bool:
    """``alg`` is an algorithm ``key`` signs with (the curve included)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _EC_ALGS.get(key.curve.name) == alg
    if isinstance(key, ed25519.Ed25519PublicKey):
        return alg == COSE_EDDSA
    return alg in COSE_ALGS and COSE_ALGS[alg][0][:2] in ("RS", "PS")


def check_alg(key: PublicKey, alg: object, what: str) -> int:
    """``alg`` as an int that is a known COSE algorithm fitting ``key``: UNSUPPORTED for an unknown
    algorithm, SIGNATURE_INVALID when it does not fit the key."""
    if not isinstance(alg, int) or isinstance(alg, bool) or (alg not in COSE_ALGS and alg != COSE_EDDSA):
        raise Rejected(Reason.UNSUPPORTED, f"{what} alg {alg!r} is not a supported COSE algorithm")
    if not alg_fits(key, alg):
        raise Rejected(Reason.SIGNATURE_INVALID, f"{what} alg {alg_name(alg)} does not fit the signing key")
    return alg


def cose_sign(key: PrivateKey, alg: int, data: bytes) -> bytes:
    """``key``'s signature over ``data`` under ``alg``, deterministic so vectors regenerate byte for byte: ECDSA
    per RFC 6979, PSS with an empty salt (valid PSS; RFC 8230 recommends a hash-length random salt)."""
    if alg == COSE_EDDSA and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    name, hash_name = COSE_ALGS.get(alg, ("", "sha256"))
    algorithm = HASH_ALGORITHMS[hash_name]()
    if name.startswith("ES") and isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm, deterministic_signing=True))
    if name.startswith("RS") and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    if name.startswith("PS") and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PSS(padding.MGF1(algorithm), 0), algorithm)
    raise UnsupportedKeyError(f"COSE algorithm {alg_name(alg)} does not fit a {type(key).__name__}")


def verify_cose_signature(key: PublicKey, alg: object, sig: bytes, data: bytes, what: str) -> None:
    """``sig`` is ``key``'s signature over ``data`` under ``alg`` (:func:`check_alg` first); SIGNATURE_INVALID."""
    alg = check_alg(key, alg, what)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
            return
        algorithm = HASH_ALGORITHMS[COSE_ALGS[alg][1]]()
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(algorithm))
        elif COSE_ALGS[alg][0].startswith("PS"):
            key.verify(sig, data, padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO), algorithm)
        else:
            key.verify(sig, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID, f"{what} sig does not verify with the signing key") from None
