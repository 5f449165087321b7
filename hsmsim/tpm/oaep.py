"""RSAES-OAEP encryption with the caller's seed (RFC 8017 §7.1.1), so the ciphertext is reproducible.

hsmsim seals to RSA keys in two TPM places: TPM2_MakeCredential encrypts its seed to the EK
(SHA-256, label ``IDENTITY\\0``) and the ms-kast CA exchange envelope encrypts its content key (SHA-1,
empty label). Vectors must be byte-stable, and cryptography's OAEP draws its own randomness, so both
use this standard EME-OAEP with MGF1 over the same hash.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric import rsa
from gmpy2 import powmod


def mgf1(hash_name: str, seed: bytes, length: int) -> bytes:
    """MGF1 (RFC 8017 B.2.1) with the hashlib hash ``hash_name``: ``length`` mask bytes from ``seed``."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.new(hash_name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def _xor(data: bytes, mask: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(mask, "big")).to_bytes(len(data), "big")


def oaep_encrypt(numbers: rsa.RSAPublicNumbers, message: bytes, *, seed: bytes, hash_name: str,
                 label: bytes = b"") -> bytes:
    """RSAES-OAEP-ENCRYPT of ``message`` to the RSA public key ``numbers`` with hash and MGF1 hash ``hash_name``
    (a hashlib name), ``label``, and ``seed`` (one digest long) as the randomness. Raises ValueError when the
    message does not fit or the seed is not one digest long."""
    h_len = hashlib.new(hash_name).digest_size
    k = (numbers.n.bit_length() + 7) // 8
    if len(message) > k - 2 * h_len - 2 or len(seed) != h_len:
        raise ValueError(f"message too long for OAEP, or a seed that is not {h_len} bytes")
    db = hashlib.new(hash_name, label).digest() + b"\x00" * (k - len(message) - 2 * h_len - 2) + b"\x01" + message
    masked_db = _xor(db, mgf1(hash_name, seed, k - h_len - 1))
    masked_seed = _xor(seed, mgf1(hash_name, masked_db, h_len))
    # GMP's exponentiation (as the seeded key search's): a 2048-bit public operation in 20 µs, Python's pow 130 µs
    encrypted = int(powmod(int.from_bytes(b"\x00" + masked_seed + masked_db, "big"), numbers.e, numbers.n))
    return encrypted.to_bytes(k, "big")
