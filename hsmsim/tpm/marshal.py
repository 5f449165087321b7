"""TPM 2.0 marshalling primitives: big-endian integers, TPM2B buffers, constants, TPMA_OBJECT.

Every TPM structure is big-endian (TPM 2.0 Library Part 2). :class:`Reader` never reads past the
end of its buffer and never allocates more than the bytes it holds: a length that runs past the
end raises :class:`hsmsim.verdict.Rejected` with MALFORMED, a TPM2B larger than its type allows
raises MALFORMED too (a TPM answers such input with TPM_RC_SIZE), and :meth:`Reader.finish`
rejects trailing bytes.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Callable

from hsmsim.verdict import Reason, Rejected

TPM_GENERATED_VALUE = 0xFF544347
"""``\\xffTCG``: the first field of every structure the TPM signs, which it never signs for a caller."""

MAX_STRUCTURE_BYTES = 4096
"""Largest certInfo or pubArea accepted (an RSA-4096 TPMT_PUBLIC is under 600 bytes)."""


class TpmAlg(enum.IntEnum):
    """TPM_ALG_ID values hsmsim reads or writes (Part 2, 6.3)."""

    RSA = 0x0001
    SHA1 = 0x0004
    HMAC = 0x0005
    AES = 0x0006
    KEYEDHASH = 0x0008
    SHA256 = 0x000B
    SHA384 = 0x000C
    SHA512 = 0x000D
    NULL = 0x0010
    RSASSA = 0x0014
    RSAES = 0x0015
    RSAPSS = 0x0016
    OAEP = 0x0017
    ECDSA = 0x0018
    ECDH = 0x0019
    ECDAA = 0x001A
    SM2 = 0x001B
    ECSCHNORR = 0x001C
    ECMQV = 0x001D
    KDF1_SP800_56A = 0x0020
    KDF2 = 0x0021
    KDF1_SP800_108 = 0x0022
    ECC = 0x0023
    SYMCIPHER = 0x0025
    CTR = 0x0040
    OFB = 0x0041
    CBC = 0x0042
    CFB = 0x0043
    ECB = 0x0044


class TpmSt(enum.IntEnum):
    """TPM_ST values of TPMS_ATTEST.type (TPMI_ST_ATTEST, Part 2, 6.9)."""

    ATTEST_NV = 0x8014
    ATTEST_COMMAND_AUDIT = 0x8015
    ATTEST_SESSION_AUDIT = 0x8016
    ATTEST_CERTIFY = 0x8017
    ATTEST_QUOTE = 0x8018
    ATTEST_TIME = 0x8019
    ATTEST_CREATION = 0x801A
    ATTEST_NV_DIGEST = 0x801C


class TpmEccCurve(enum.IntEnum):
    """TPM_ECC_CURVE values (Part 2, 6.4)."""

    NIST_P192 = 0x0001
    NIST_P224 = 0x0002
    NIST_P256 = 0x0003
    NIST_P384 = 0x0004
    NIST_P521 = 0x0005
    BN_P256 = 0x0010
    BN_P638 = 0x0011
    SM2_P256 = 0x0020


class TpmaObject(enum.IntFlag):
    """TPMA_OBJECT: the object attributes fixed when a key is created (Part 2, 8.3)."""

    FIXED_TPM = 0x00000002
    ST_CLEAR = 0x00000004
    FIXED_PARENT = 0x00000010
    SENSITIVE_DATA_ORIGIN = 0x00000020
    USER_WITH_AUTH = 0x00000040
    ADMIN_WITH_POLICY = 0x00000080
    FIRMWARE_LIMITED = 0x00000100
    SVN_LIMITED = 0x00000200
    NO_DA = 0x00000400
    ENCRYPTED_DUPLICATION = 0x00000800
    RESTRICTED = 0x00010000
    DECRYPT = 0x00020000
    SIGN_ENCRYPT = 0x00040000
    X509_SIGN = 0x00080000


TPMA_OBJECT_RESERVED = 0xFFFFFFFF & ~sum(TpmaObject)
"""Bits a TPM refuses (TPM_RC_RESERVED_BITS): 0, 3, 12-15, 20-31."""

TPM_RH_OWNER = 0x40000001
TPM_RH_ENDORSEMENT = 0x4000000B

HASH_NAMES = {TpmAlg.SHA1: "sha1", TpmAlg.SHA256: "sha256", TpmAlg.SHA384: "sha384", TpmAlg.SHA512: "sha512"}
"""hashlib names of the TPM hash algorithms hsmsim computes Names with."""
HASH_ALGS = {name: alg for alg, name in HASH_NAMES.items()}
"""The TPM hash algorithm of each hashlib (and cryptography ``HashAlgorithm.name``) name in :data:`HASH_NAMES`."""
# hashlib's named constructors: a third of the cost of hashlib.new(name) for the short inputs TPM structures hash.
_HASH_CONSTRUCTORS: dict[int, Callable[[bytes], hashlib._Hash]] = {
    alg: getattr(hashlib, name) for alg, name in HASH_NAMES.items()}

# Largest sizes of the TPM2B types (MAX_* of a TPM supporting SHA-512, RSA-4096 and P-521).
MAX_DIGEST = 64
MAX_NAME = 2 + MAX_DIGEST
MAX_DATA = 2 + MAX_DIGEST
MAX_RSA_BYTES = 512
MAX_ECC_BYTES = 66


def hash_bytes(alg: int, data: bytes) -> bytes:
    """``H_alg(data)`` for a TPM hash algorithm; raises Rejected(UNSUPPORTED) for any other algorithm."""
    constructor = _HASH_CONSTRUCTORS.get(alg)
    if constructor is None:
        raise Rejected(Reason.UNSUPPORTED, f"hash algorithm 0x{alg:04x} is not supported")
    return constructor(data).digest()


def digest_size(alg: int) -> int:
    """The digest size in bytes of a TPM hash algorithm; raises Rejected(UNSUPPORTED) for any other algorithm."""
    return len(hash_bytes(alg, b""))


def alg_name(value: int) -> str:
    """``TPM_ALG_<NAME>`` or the hex value of an unknown algorithm."""
    try:
        return f"TPM_ALG_{TpmAlg(value).name}"
    except ValueError:
        return f"0x{value:04x}"


_U8, _U16, _U32, _U64 = (struct.Struct(f">{code}") for code in "BHIQ")


class Reader:
    """A bounded cursor over one marshalled structure; raises Rejected(MALFORMED) on any overrun."""

    def __init__(self, data: bytes, what: str) -> None:
        if len(data) > MAX_STRUCTURE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {MAX_STRUCTURE_BYTES})")
        self._data = data
        self._pos = 0
        self.what = what

    @property
    def position(self) -> int:
        """Bytes consumed so far."""
        return self._pos

    def take(self, count: int, field: str) -> bytes:
        """The next ``count`` bytes."""
        end = self._pos + count
        if end > len(self._data):
            raise self._overrun(count, field)
        out = self._data[self._pos:end]
        self._pos = end
        return out

    def _overrun(self, count: int, field: str) -> Rejected:
        return Rejected(Reason.MALFORMED, f"{self.what}: {field} runs past the end "
                                          f"({count} bytes at offset {self._pos} of {len(self._data)})")

    def _integer(self, layout: struct.Struct, field: str) -> int:
        # One struct read per field: these run a dozen times per structure, on every bundle.
        pos = self._pos
        if pos + layout.size > len(self._data):
            raise self._overrun(layout.size, field)
        self._pos = pos + layout.size
        value: int = layout.unpack_from(self._data, pos)[0]
        return value

    def u8(self, field: str) -> int:
        """A UINT8."""
        return self._integer(_U8, field)

    def u16(self, field: str) -> int:
        """A big-endian UINT16."""
        return self._integer(_U16, field)

    def u32(self, field: str) -> int:
        """A big-endian UINT32."""
        return self._integer(_U32, field)

    def u64(self, field: str) -> int:
        """A big-endian UINT64."""
        return self._integer(_U64, field)

    def tpm2b(self, field: str, limit: int) -> bytes:
        """A TPM2B: a UINT16 size, then that many bytes (at most ``limit``)."""
        size = self._integer(_U16, f"{field}.size")
        if size > limit:
            raise Rejected(Reason.MALFORMED, f"{self.what}: {field}.size {size} exceeds the type's maximum {limit}")
        return self.take(size, field)

    def finish(self) -> None:
        """Reject bytes after the structure (a strict parser; some WebAuthn libraries accept them)."""
        if self._pos != len(self._data):
            raise Rejected(Reason.MALFORMED,
                           f"{self.what}: {len(self._data) - self._pos} trailing bytes after the structure")


def u16(value: int) -> bytes:
    """A big-endian UINT16."""
    return value.to_bytes(2, "big")


def u32(value: int) -> bytes:
    """A big-endian UINT32."""
    return value.to_bytes(4, "big")


def u64(value: int) -> bytes:
    """A big-endian UINT64."""
    return value.to_bytes(8, "big")


def tpm2b(data: bytes) -> bytes:
    """A TPM2B: UINT16 size ‖ data."""
    return u16(len(data)) + data
