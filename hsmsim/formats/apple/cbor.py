"""CBOR of the Apple attestation objects: canonical writing and a bounded, canonical-only reader.

Interim: the shared WebAuthn container's bounded decoder (``hsmsim.webauthn``) is not merged yet, so the
reader is cbor2 under these bounds: a size limit before decoding, cbor2's own nesting limit, and the rule
that the bytes are exactly the CTAP2 canonical encoding of what they decode to. That one rule refuses
trailing bytes, indefinite lengths, non-shortest heads, unsorted or duplicated map keys and tags (all
MALFORMED), which is what real authenticators never send.
"""

from __future__ import annotations

import cbor2

from hsmsim.verdict import Reason, Rejected

_DECODE_ERRORS = (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, EOFError)


def encode(value: object) -> bytes:
    """The CTAP2 canonical encoding of ``value`` (map keys sorted by encoded length, then bytes)."""
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, what: str, limit: int) -> object:
    """The one canonical CBOR item ``data`` holds; Rejected LIMIT_EXCEEDED past ``limit`` bytes, else MALFORMED."""
    if len(data) > limit:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {limit})")
    try:
        value = cbor2.loads(data)
        canonical = cbor2.dumps(value, canonical=True)
    except _DECODE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not CBOR: {str(exc)[:100]}") from None
    if canonical != data:
        raise Rejected(Reason.MALFORMED, f"{what} is not canonical CBOR (trailing bytes, indefinite lengths, "
                                         "long heads, duplicate or unsorted keys, or tags)")
    return value
