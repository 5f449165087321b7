"""Deterministic key and value derivation from a seed, with an on-disk key cache.

Every key hsmsim derives is a pure function of ``(seed, role, spec)``: the same inputs
give byte-identical PKCS#8 in any process. Seeded RSA is a prime search over an
HMAC-DRBG stream (its Miller-Rabin exponentiations in GMP through gmpy2, six times faster than
Python's ``pow``: about 0.1 s for RSA-2048, 0.7 s for RSA-4096), so derived keys are cached as
PKCS#8 DER under ``$HSMSIM_CACHE_DIR`` (default ``~/.cache/hsmsim``), in a directory named after
:data:`DERIVATION_VERSION`: a cache filled by an older derivation is never read.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from gmpy2 import mpz, powmod

from hsmsim._atomic import NamedLocks, write_atomic
from hsmsim.errors import BundleError
from hsmsim.keystore.base import KeySpec, KeyType, PrivateKey
from hsmsim.safeio import read_local_file


def _odd_primes_below(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for p in range(2, math.isqrt(limit - 1) + 1):
        if sieve[p]:
            sieve[p * p::p] = bytes(len(range(p * p, limit, p)))
    return [p for p in range(3, limit, 2) if sieve[p]]


_SMALL_PRIMES_PRODUCT = math.prod(_odd_primes_below(20000))
_E = 65537

DERIVATION_VERSION = 1
"""Bump whenever any derived key changes (DRBG, prime search, key construction): cached keys of
another version are then ignored, so a warm cache cannot hide what a fresh clone derives."""


class Drbg:
    """HMAC-DRBG (NIST SP 800-90A, SHA-256, no reseed): a reproducible byte stream."""

    def __init__(self, seed_material: bytes) -> None:
        self._k = b"\x00" * 32
        self._v = b"\x01" * 32
        self._update(seed_material)

    def _update(self, data: bytes) -> None:
        self._k = hmac.digest(self._k, self._v + b"\x00" + data, "sha256")
        self._v = hmac.digest(self._k, self._v, "sha256")
        if data:
            self._k = hmac.digest(self._k, self._v + b"\x01" + data, "sha256")
            self._v = hmac.digest(self._k, self._v, "sha256")

    def read(self, n: int) -> bytes:
        """The next ``n`` bytes of the stream."""
        out = bytearray()
        while len(out) < n:
            self._v = hmac.digest(self._k, self._v, "sha256")
            out += self._v
        self._update(b"")
        return bytes(out[:n])

    def randint_bits(self, bits: int) -> int:
        """A uniformly random non-negative integer below ``2**bits``."""
        raw = int.from_bytes(self.read((bits + 7) // 8), "big")
        return raw >> ((8 - bits % 8) % 8)


def drbg(seed: str, role: str) -> Drbg:
    """The DRBG for one role under one seed; roles are ``/``-separated paths."""
    return Drbg(f"hsmsim/v1\x00{seed}\x00{role}".encode())


def derive_serial(seed: str, role: str, bits: int = 128) -> int:
    """A certificate serial of exactly ``bits`` bits, so its DER INTEGER takes ``bits // 8 + 1`` octets: by default
    16 bytes with the top bit set (17 octets), as Primus uses; other lengths copy other real certificates'."""
    return int.from_bytes(drbg(seed, f"{role}/serial").read((bits + 7) // 8), "big") >> (-bits % 8) | 1 << (bits - 1)


def _is_probable_prime(n: int, rng: Drbg, rounds: int = 5) -> bool:
    if math.gcd(n, _SMALL_PRIMES_PRODUCT) != 1:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    modulus, exponent, minus_one = mpz(n), mpz(d), mpz(n - 1)
    for _ in range(rounds):
        a = 2 + rng.randint_bits(n.bit_length() - 1) % (n - 3)
        x = powmod(a, exponent, modulus)
        if x == 1 or x == minus_one:
            continue
        for _ in range(s - 1):
            x = powmod(x, 2, modulus)
            if x == minus_one:
                break
        else:
            return False
    return True


def _prime(rng: Drbg, bits: int) -> int:
    while True:
        candidate = rng.randint_bits(bits) | (0b11 << (bits - 2)) | 1
        if math.gcd(candidate - 1, _E) == 1 and _is_probable_prime(candidate, rng):
            return candidate


def _derive_rsa(rng: Drbg, bits: int) -> rsa.RSAPrivateKey:
    while True:
        p = _prime(rng, bits // 2)
        q = _prime(rng, bits - bits // 2)
        if p != q:
            break
    if p < q:
        p, q = q, p
    n = p * q
    d = pow(_E, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(_E, n)
    )
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


_CURVES = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1}


def _derive_uncached(seed: str, role: str, spec: KeySpec) -> PrivateKey:
    rng = drbg(seed, f"{role}/{spec.name}")
    if spec.key_type is KeyType.RSA:
        assert spec.size is not None
        return _derive_rsa(rng, spec.size)
    if spec.key_type is KeyType.EC:
        curve = _CURVES[spec.curve or ""]()
        order_bits = spec.bits
        scalar = 1 + rng.randint_bits(order_bits + 64) % ((1 << order_bits) - 2)
        return ec.derive_private_key(scalar, curve)
    if spec.key_type is KeyType.EC_EDWARDS:
        return ed25519.Ed25519PrivateKey.from_private_bytes(rng.read(32))
    raise ValueError(f"{spec.name} is not an asymmetric key spec")


def derive_secret(seed: str, role: str, length: int) -> bytes:
    """Deterministic secret-key material (e.g. an AES key value)."""
    return drbg(seed, f"{role}/secret{length}").read(length)


MAX_CACHE_ENTRY_BYTES = 64 * 1024
"""The most a cached key may hold (an RSA-4096 PKCS#8 key is under 2.5 KiB)."""


def cache_dir() -> Path:
    """Where derived keys are cached: ``$HSMSIM_CACHE_DIR`` or ``~/.cache/hsmsim``."""
    env = os.environ.get("HSMSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "hsmsim"


def _load_der(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"a cached {type(key).__name__} is not a key hsmsim derives")
    return key


def cache_entry(seed: str, role: str, spec: KeySpec, version: int = DERIVATION_VERSION) -> Path:
    """The cache file of the key for ``(seed, role, spec)`` as derivation ``version`` makes it."""
    digest = hashlib.sha256(f"v{version}\x00{seed}\x00{role}\x00{spec.name}".encode()).hexdigest()
    return cache_dir() / f"keys-v{version}" / f"{digest}.der"


_derivations: NamedLocks[Path] = NamedLocks()


@lru_cache(maxsize=256)
def derive_key(seed: str, role: str, spec: KeySpec) -> PrivateKey:
    """The private key for ``(seed, role, spec)``: identical in every process.

    RSA keys are cached on disk under the current :data:`DERIVATION_VERSION` (atomic writes;
    a corrupt cache entry, also one that is not a regular file of at most :data:`MAX_CACHE_ENTRY_BYTES`,
    is re-derived and replaced; a FIFO or device there is never opened blocking). Threads that miss the
    same RSA key at once derive it once: the others wait and read what the first wrote (a server's first
    requests all need the device's keys).
    """
    if spec.key_type is not KeyType.RSA:
        return _derive_uncached(seed, role, spec)
    path = cache_entry(seed, role, spec)
    with _derivations.hold(path):
        try:
            return _load_der(read_local_file(path, MAX_CACHE_ENTRY_BYTES))
        except (BundleError, ValueError):
            pass
        key = _derive_uncached(seed, role, spec)
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with contextlib.suppress(OSError):  # a read-only home only costs speed
            write_atomic(path, der)
        return key
