"""HSS/LMS hash-based signatures (RFC 8554, SHA-256 with 32-byte outputs): verifying any parameter set, and
signing with keys derived from a seed.

Verification (:func:`hss_verify`, :func:`lms_verify`) reads a public key and a signature as RFC 8554 serialises
them, with every length taken from the typecodes it reads and checked against the bytes there are; it returns
False for anything that is not a valid signature and never raises.

Signing keys (:func:`derive_hss_key`) are a pure function of their seed material: level ``i``'s identifier ``I``
and ``SEED`` are hashes of it, the private OTS values come from ``SEED`` as RFC 8554 Appendix A derives them, each
level's tree is computed whole, and a parent signs its child's public key with its leaf 0. The message signature's
leaf and every randomiser ``C`` are hashes of the key and the message (RFC 8554 wants ``C`` random and each leaf
used once: an emulator's signatures are reproducible instead, and a real device's state is not emulated). A tree
of height 10 takes about 8.9 million SHA-256 calls; :func:`derive_hss_key` keeps every computed tree under the
key cache (:func:`hsmsim.pki.seed.cache_dir`) so it is computed once per machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from dataclasses import dataclass
from functools import lru_cache

from hsmsim._atomic import write_atomic
from hsmsim.errors import BundleError
from hsmsim.pki.seed import cache_dir
from hsmsim.safeio import read_local_file

N = 32
"""Every supported typecode hashes with SHA-256 to 32 bytes (n = m = 32)."""
I_LEN = 16
D_PBLC, D_MESG, D_LEAF, D_INTR = b"\x80\x80", b"\x81\x81", b"\x82\x82", b"\x83\x83"
MAX_LEVELS = 8
"""HSS allows 1 to 8 levels (RFC 8554 6.1)."""

LMOTS_TYPES: dict[int, tuple[int, int, int]] = {
    1: (1, 265, 7),  # LMOTS_SHA256_N32_W1: (w, p, ls)
    2: (2, 133, 6),  # LMOTS_SHA256_N32_W2
    3: (4, 67, 4),   # LMOTS_SHA256_N32_W4
    4: (8, 34, 0),   # LMOTS_SHA256_N32_W8
}
"""RFC 8554 table 1: each LM-OTS typecode's Winternitz parameter, number of chains and checksum shift."""
LMS_TYPES: dict[int, int] = {5: 5, 6: 10, 7: 15, 8: 20, 9: 25}
"""RFC 8554 table 2: each LMS typecode (LMS_SHA256_M32_H5 .. H25) and its tree height."""
LMS_NAMES = {5: "LMS_SHA256_M32_H5", 6: "LMS_SHA256_M32_H10", 7: "LMS_SHA256_M32_H15", 8: "LMS_SHA256_M32_H20",
             9: "LMS_SHA256_M32_H25"}
MAX_SIGNING_HEIGHT = 10
"""The tallest tree :func:`derive_hss_key` computes (2**10 leaves; H15 would take half an hour in Python)."""


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _coefficients(digest: bytes, w: int, p: int, ls: int) -> list[int]:
    """The ``p`` Winternitz digits of ``digest || Cksm(digest)`` (RFC 8554 4.4)."""
    mask, per_byte = (1 << w) - 1, 8 // w
    digits = [(digest[i // per_byte] >> (8 - w * (i % per_byte + 1))) & mask for i in range(N * 8 // w)]
    checksum = (sum(mask - d for d in digits) << ls).to_bytes(2, "big")
    digits += [(checksum[i // per_byte] >> (8 - w * (i % per_byte + 1))) & mask for i in range(p - len(digits))]
    return digits


_STEPS = tuple(bytes((j,)) for j in range(256))
"""The one-byte chain step ``j`` of RFC 8554's ``u8str(j)``, made once: verification hashes thousands of steps."""


def _chain(prefix: bytes, start: int, stop: int, value: bytes) -> bytes:
    """``value`` hashed from step ``start`` up to ``stop`` (exclusive) of chain ``prefix`` (= I || q || i)."""
    # This loop is the whole cost of an HSS verification: copying a hash already fed the prefix is cheaper than
    # making a new one (a tenth of each step, where the 55-byte input is one SHA-256 block either way).
    fresh, steps = hashlib.sha256(prefix).copy, _STEPS
    for j in range(start, stop):
        step = fresh()
        step.update(steps[j] + value)
        value = step.digest()
    return value


def _ots_candidate(identifier: bytes, q: int, message: bytes, signature: bytes, lmots_type: int) -> bytes | None:
    """The LM-OTS public key ``Kc`` that ``signature`` (typecode, C, y[]) implies for ``message`` (RFC 8554
    Algorithm 4b), or None when its typecode differs or its length does not fit."""
    w, p, ls = LMOTS_TYPES[lmots_type]
    if len(signature) != 4 + N + p * N or int.from_bytes(signature[:4], "big") != lmots_type:
        return None
    c = signature[4:4 + N]
    head = identifier + _u32(q)
    digits = _coefficients(_h(head + D_MESG + c + message), w, p, ls)
    top = (1 << w) - 1
    ends = [_chain(head + i.to_bytes(2, "big"), a, top, signature[4 + N + i * N:4 + N + (i + 1) * N])
            for i, a in enumerate(digits)]
    return _h(head + D_PBLC + b"".join(ends))


def lms_signature_length(data: bytes, offset: int) -> int | None:
    """The length of the LMS signature starting at ``data[offset:]``, from the two typecodes it holds, or None
    when they are unknown or the bytes end first."""
    if offset + 8 > len(data):
        return None
    lmots_type = int.from_bytes(data[offset + 4:offset + 8], "big")
    if lmots_type not in LMOTS_TYPES:
        return None
    after_ots = offset + 4 + 4 + N + LMOTS_TYPES[lmots_type][1] * N
    if after_ots + 4 > len(data):
        return None
    lms_type = int.from_bytes(data[after_ots:after_ots + 4], "big")
    if lms_type not in LMS_TYPES:
        return None
    end = after_ots + 4 + LMS_TYPES[lms_type] * N
    return end - offset if end <= len(data) else None


def lms_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid LMS signature of ``message`` under the LMS ``public_key`` (RFC 8554
    Algorithm 6a: typecodes agree, lengths are exact, the leaf is in the tree). Never raises."""
    if len(public_key) != 8 + I_LEN + N or lms_signature_length(signature, 0) != len(signature):
        return False
    lms_type, lmots_type = int.from_bytes(public_key[:4], "big"), int.from_bytes(public_key[4:8], "big")
    if lms_type not in LMS_TYPES or lmots_type not in LMOTS_TYPES:
        return False
    height = LMS_TYPES[lms_type]
    identifier, root = public_key[8:8 + I_LEN], public_key[8 + I_LEN:]
    q = int.from_bytes(signature[:4], "big")
    ots_end = 8 + N + LMOTS_TYPES[lmots_type][1] * N
    if q >= 1 << height or int.from_bytes(signature[ots_end:ots_end + 4], "big") != lms_type:
        return False
    candidate = _ots_candidate(identifier, q, message, signature[4:ots_end], lmots_type)
    if candidate is None:
        return False
    node = (1 << height) + q
    value = _h(identifier + _u32(node) + D_LEAF + candidate)
    path = signature[ots_end + 4:]
    for i in range(height):
        sibling = path[i * N:(i + 1) * N]
        pair = sibling + value if node & 1 else value + sibling
        node >>= 1
        value = _h(identifier + _u32(node) + D_INTR + pair)
    return value == root


@lru_cache(maxsize=256)
def _signed_child(parent: bytes, child: bytes, signature: bytes) -> bool:
    """:func:`lms_verify` of a child public key signed by its parent, remembered: every message of one device
    carries the same upper levels, which are two thirds of the work of an L=3 verification."""
    return lms_verify(parent, child, signature)


def hss_public_key_parameters(public_key: bytes) -> tuple[int, int, int] | None:
    """``(levels, LMS typecode, LM-OTS typecode)`` of an HSS public key, or None when it is not one."""
    if len(public_key) != 4 + 8 + I_LEN + N:
        return None
    levels, lms_type, lmots_type = (int.from_bytes(public_key[i:i + 4], "big") for i in (0, 4, 8))
    if not 1 <= levels <= MAX_LEVELS or lms_type not in LMS_TYPES or lmots_type not in LMOTS_TYPES:
        return None
    return levels, lms_type, lmots_type


def hss_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid HSS signature of ``message`` under ``public_key`` (RFC 8554 6.3: the
    signed public keys chain from the root, ``Nspk`` is the key's levels minus one, nothing follows the last
    signature). Never raises."""
    parameters = hss_public_key_parameters(public_key)
    if parameters is None or len(signature) < 4:
        return False
    levels = parameters[0]
    if int.from_bytes(signature[:4], "big") != levels - 1:
        return False
    key, offset = public_key[4:], 4
    for _ in range(levels - 1):
        length = lms_signature_length(signature, offset)
        if length is None or offset + length + 8 > len(signature):
            return False
        sig = signature[offset:offset + length]
        child_start = offset + length
        child_end = child_start + 8 + I_LEN + N
        child = signature[child_start:child_end]
        if len(child) != 8 + I_LEN + N or not _signed_child(key, child, sig):
            return False
        key, offset = child, child_end
    return lms_verify(key, message, signature[offset:])


# -- signing --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LmsTree:
    """One level's LMS private key: identifier, seed, typecodes and every node of its tree (``nodes[r]`` is
    T[r], 1 <= r < 2**(h+1); ``nodes[0]`` unused)."""

    identifier: bytes
    seed: bytes
    lms_type: int
    lmots_type: int
    nodes: tuple[bytes, ...]

    @property
    def public_key(self) -> bytes:
        """The LMS public key: typecodes, I and the root T[1]."""
        return _u32(self.lms_type) + _u32(self.lmots_type) + self.identifier + self.nodes[1]

    def _private(self, q: int, i: int) -> bytes:
        return _h(self.identifier + _u32(q) + i.to_bytes(2, "big") + b"\xff" + self.seed)

    def sign(self, message: bytes, q: int) -> bytes:
        """The LMS signature of ``message`` with leaf ``q``; its randomiser C is a hash of the key, leaf and
        message."""
        w, p, ls = LMOTS_TYPES[self.lmots_type]
        head = self.identifier + _u32(q)
        c = _h(b"hsmsim/hss/C" + self.seed + head + message)
        digits = _coefficients(_h(head + D_MESG + c + message), w, p, ls)
        ys = b"".join(_chain(head + i.to_bytes(2, "big"), 0, a, self._private(q, i)) for i, a in enumerate(digits))
        height = LMS_TYPES[self.lms_type]
        node = (1 << height) + q
        path = b"".join(self.nodes[(node >> i) ^ 1] for i in range(height))
        return _u32(q) + _u32(self.lmots_type) + c + ys + _u32(self.lms_type) + path


def _compute_nodes(identifier: bytes, seed: bytes, lms_type: int, lmots_type: int) -> tuple[bytes, ...]:
    height = LMS_TYPES[lms_type]
    w, p, _ls = LMOTS_TYPES[lmots_type]
    top, leaves = (1 << w) - 1, 1 << height
    nodes = [b""] * (2 * leaves)
    for q in range(leaves):
        head = identifier + _u32(q)
        ends = b"".join(
            _chain(head + i.to_bytes(2, "big"), 0, top,
                   _h(head + i.to_bytes(2, "big") + b"\xff" + seed)) for i in range(p))
        nodes[leaves + q] = _h(identifier + _u32(leaves + q) + D_LEAF + _h(head + D_PBLC + ends))
    for r in range(leaves - 1, 0, -1):
        nodes[r] = _h(identifier + _u32(r) + D_INTR + nodes[2 * r] + nodes[2 * r + 1])
    return tuple(nodes)


CACHE_VERSION = 1
"""Bump when a derived HSS key changes: cached trees of another version are never read."""


def _cached_nodes(identifier: bytes, seed: bytes, lms_type: int, lmots_type: int) -> tuple[bytes, ...]:
    """The tree's nodes, from the key cache when it holds them whole, else computed and stored (best effort)."""
    leaves = 1 << LMS_TYPES[lms_type]
    digest = _h(b"".join((b"hss", _u32(CACHE_VERSION), identifier, seed, _u32(lms_type), _u32(lmots_type)))).hex()
    path = cache_dir() / f"hss-v{CACHE_VERSION}" / f"{digest}.bin"
    size = (2 * leaves - 1) * N
    with contextlib.suppress(BundleError):
        data = read_local_file(path, size)
        if len(data) == size:
            return (b"", *(data[i:i + N] for i in range(0, size, N)))
    nodes = _compute_nodes(identifier, seed, lms_type, lmots_type)
    with contextlib.suppress(OSError):  # a read-only home only costs time
        write_atomic(path, b"".join(nodes[1:]))
    return nodes


@dataclass(frozen=True)
class HssKey:
    """An HSS private key: its levels' trees (root first) and each child public key signed by its parent."""

    trees: tuple[LmsTree, ...]
    signed_children: tuple[bytes, ...]

    @property
    def public_key(self) -> bytes:
        """The HSS public key: the number of levels, then the top tree's LMS public key."""
        return _u32(len(self.trees)) + self.trees[0].public_key

    def sign(self, message: bytes) -> bytes:
        """The HSS signature of ``message``: the signed child keys, then the bottom tree's signature with the
        leaf a hash of the message chooses."""
        bottom = self.trees[-1]
        leaf = int.from_bytes(_h(b"hsmsim/hss/leaf" + bottom.seed + message)[:4], "big") % (
            1 << LMS_TYPES[bottom.lms_type])
        chain = b"".join(sig + child.public_key for sig, child in zip(self.signed_children, self.trees[1:],
                                                                        strict=True))
        return _u32(len(self.trees) - 1) + chain + bottom.sign(message, leaf)


@lru_cache(maxsize=16)
def derive_hss_key(material: bytes, levels: int, lms_type: int, lmots_type: int) -> HssKey:
    """The HSS key of ``levels`` trees of ``lms_type`` / ``lmots_type`` derived from ``material``: identical in
    every process. Raises ValueError for an unknown typecode, a tree above :data:`MAX_SIGNING_HEIGHT` or levels
    outside 1..8."""
    if lms_type not in LMS_TYPES or lmots_type not in LMOTS_TYPES or not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"no HSS key of {levels} levels of LMS type {lms_type}, LM-OTS type {lmots_type}")
    if LMS_TYPES[lms_type] > MAX_SIGNING_HEIGHT:
        raise ValueError(f"{LMS_NAMES[lms_type]} trees are too tall to compute (at most H{MAX_SIGNING_HEIGHT})")
    trees = []
    for level in range(levels):
        identifier = _h(material + b"/I/" + _u32(level))[:I_LEN]
        seed = _h(material + b"/SEED/" + _u32(level))
        trees.append(LmsTree(identifier, seed, lms_type, lmots_type,
                             _cached_nodes(identifier, seed, lms_type, lmots_type)))
    signed = tuple(parent.sign(child.public_key, 0) for parent, child in itertools.pairwise(trees))
    return HssKey(tuple(trees), signed)
