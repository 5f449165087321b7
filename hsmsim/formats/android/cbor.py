"""The bounded CBOR subset an ACME attestation object uses (RFC 8949): integers, byte and text strings,
arrays and maps with definite lengths.

The reader refuses everything else (indefinite lengths, tags, floats, simple values), bytes after the
item, a map key given twice (ATTR_CONFLICT), and stops at hard bounds on depth and item count
(LIMIT_EXCEEDED). The writer emits the shortest head for every length and integer, map entries in the
order given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hsmsim.verdict import Reason, Rejected

MAX_DEPTH = 8
MAX_ITEMS = 1024

CborValue = int | bytes | str | list["CborValue"] | dict["CborValue", "CborValue"]


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")


def encode(value: object) -> bytes:
    """The CBOR encoding of ``value`` (int, bytes, str, a sequence or a mapping of those)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not part of this CBOR subset")
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return _head(3, len(data)) + data
    if isinstance(value, Mapping):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, Sequence):
        return _head(4, len(value)) + b"".join(encode(item) for item in value)
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.items = 0

    def _take(self, size: int) -> bytes:
        if size > len(self.data) - self.pos:
            raise Rejected(Reason.MALFORMED, "CBOR item runs past the end of the data")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def _argument(self, info: int) -> int:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self._take(1 << (info - 24)), "big")
        if info == 31:
            raise Rejected(Reason.MALFORMED, "indefinite-length CBOR is not allowed")
        raise Rejected(Reason.MALFORMED, f"reserved CBOR additional information {info}")

    def item(self, depth: int) -> CborValue:
        if depth > MAX_DEPTH:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"CBOR nested deeper than {MAX_DEPTH}")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"CBOR holds more than {MAX_ITEMS} items")
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major > 5:
            raise Rejected(Reason.MALFORMED, f"CBOR major type {major} (tags, floats, simple values) is not allowed")
        argument = self._argument(info)
        if major == 0:
            return argument
        if major == 1:
            return -1 - argument
        if major in (2, 3):
            raw = self._take(argument)
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Rejected(Reason.MALFORMED, "CBOR text string is not UTF-8") from None
        if argument > MAX_ITEMS:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"CBOR container announces {argument} entries")
        if major == 4:
            return [self.item(depth + 1) for _ in range(argument)]
        out: dict[CborValue, CborValue] = {}
        for _ in range(argument):
            key = self.item(depth + 1)
            if isinstance(key, list | dict):
                raise Rejected(Reason.MALFORMED, "CBOR map key is not a scalar")
            if key in out:
                raise Rejected(Reason.ATTR_CONFLICT, f"CBOR map key {key!r} appears twice")
            out[key] = self.item(depth + 1)
        return out


def decode(data: bytes) -> CborValue:
    """The one CBOR item in ``data``; raises :class:`Rejected` (MALFORMED, LIMIT_EXCEEDED, ATTR_CONFLICT)."""
    reader = _Reader(data)
    value = reader.item(0)
    if reader.pos != len(data):
        raise Rejected(Reason.MALFORMED, f"{len(data) - reader.pos} bytes after the CBOR item")
    return value
