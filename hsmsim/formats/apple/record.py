"""The JSON records hsmsim writes for what a server holds when it checks an Apple attestation: the helpers
:mod:`hsmsim.webauthn.container` does not have (standard base64 as DCAppAttestService returns it, typed
members). Bounded JSON and base64url are the container's."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from hsmsim.verdict import Reason, Rejected

_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_UNUSED_BITS = {1: 0x03, 2: 0x0F}
"""By the number of ``=`` that pad it: the bits of the last character before them that encode no data."""


def b64(data: bytes) -> str:
    """Padded standard base64 (what DCAppAttestService hands an app for the key id and attestation)."""
    return base64.b64encode(data).decode()


def from_b64(text: object, what: str) -> bytes:
    """Decode padded standard base64 strictly and canonically (Rejected MALFORMED)."""
    if not isinstance(text, str) or not _B64.fullmatch(text) or len(text) % 4:
        raise Rejected(Reason.MALFORMED, f"{what} is not padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise Rejected(Reason.MALFORMED, f"{what} is not base64") from None
    # Canonical (what re-encoding ``data`` gives back) exactly when the unused bits of the last character are 0.
    padding = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    unused = _UNUSED_BITS.get(padding)
    if unused and _B64_ALPHABET.index(text[-1 - padding]) & unused:
        raise Rejected(Reason.MALFORMED, f"{what} base64 is not canonical")
    return data


def text_member(doc: dict[str, Any], member: str, what: str) -> str:
    """``doc[member]`` as text: MISSING_INPUT when absent, MALFORMED when not a string."""
    if member not in doc:
        raise Rejected(Reason.MISSING_INPUT, f"{what} has no {member}")
    value = doc[member]
    if not isinstance(value, str):
        raise Rejected(Reason.MALFORMED, f"{what} {member} is not a string")
    return value

