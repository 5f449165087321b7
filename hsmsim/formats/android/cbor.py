"""The CBOR writer of the ACME attestation object (RFC 8949): integers, byte and text strings, arrays and
maps with definite lengths, the shortest head for every length and integer, map entries in the order
given (so a vector can put members where a device would not). Reading is the WebAuthn container's
bounded CBOR (:func:`hsmsim.webauthn.container.cbor_decode`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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
