"""The JSON records hsmsim writes for what a server holds when it checks an Apple attestation, and their
base64 fields (bounded JSON without duplicate members; strict, canonical base64)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from hsmsim.encoding import load_json, unique_json_members
from hsmsim.verdict import Reason, Rejected

MAX_JSON_CONTAINERS = 64
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def b64url(data: bytes) -> str:
    """Unpadded base64url (ACME payloads, challenge tokens)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64(data: bytes) -> str:
    """Padded standard base64 (what DCAppAttestService hands an app for the key id and attestation)."""
    return base64.b64encode(data).decode()


def from_b64url(text: object, what: str) -> bytes:
    """Decode unpadded base64url strictly and canonically (Rejected MALFORMED)."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise Rejected(Reason.MALFORMED, f"{what} is not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise Rejected(Reason.MALFORMED, f"{what} base64url is not canonical")
    return data


def from_b64(text: object, what: str) -> bytes:
    """Decode padded standard base64 strictly and canonically (Rejected MALFORMED)."""
    if not isinstance(text, str) or not _B64.fullmatch(text) or len(text) % 4:
        raise Rejected(Reason.MALFORMED, f"{what} is not padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise Rejected(Reason.MALFORMED, f"{what} is not base64") from None
    if b64(data) != text:
        raise Rejected(Reason.MALFORMED, f"{what} base64 is not canonical")
    return data


def parse_json_object(data: bytes, what: str, limit: int) -> dict[str, Any]:
    """A bounded, duplicate-free JSON object (Rejected LIMIT_EXCEEDED / MALFORMED / ATTR_CONFLICT)."""
    if len(data) > limit:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {limit})")
    if data.count(b"[") + data.count(b"{") > MAX_JSON_CONTAINERS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} holds more than {MAX_JSON_CONTAINERS} arrays and objects")
    try:
        value = load_json(data.decode("utf-8"), unique_json_members)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected(Reason.MALFORMED, f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise Rejected(Reason.MALFORMED, f"{what} is not a JSON object")
    return value


def text_member(doc: dict[str, Any], member: str, what: str) -> str:
    """``doc[member]`` as text: MISSING_INPUT when absent, MALFORMED when not a string."""
    if member not in doc:
        raise Rejected(Reason.MISSING_INPUT, f"{what} has no {member}")
    value = doc[member]
    if not isinstance(value, str):
        raise Rejected(Reason.MALFORMED, f"{what} {member} is not a string")
    return value


def file_stem(label: str) -> str:
    """``label`` made safe as a file name stem (anything but letters, digits, ``.``, ``_``, ``-`` becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".") or "key"
