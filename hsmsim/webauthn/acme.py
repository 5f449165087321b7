"""The attestation object of an ACME ``device-attest-01`` answer (draft-ietf-acme-device-attest).

The device sends ``{"attObj": base64url(CBOR)}``; the object is a WebAuthn attestation object whose
``authData`` may be omitted (ACME has no relying-party data to bind), read with the container's bounded CBOR.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hsmsim.device import text_parameter
from hsmsim.errors import ParameterError
from hsmsim.verdict import Reason, Rejected
from hsmsim.webauthn.container import MAX_ATTESTATION_OBJECT, cbor_decode, from_b64url


def decode_att_obj(data: bytes) -> tuple[str, dict[Any, Any]]:
    """(fmt, attStmt) of an ACME attObj; authData may be absent (bounded CBOR; MALFORMED / MISSING_INPUT /
    LIMIT_EXCEEDED)."""
    if len(data) > MAX_ATTESTATION_OBJECT:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"attObj is {len(data)} bytes (limit {MAX_ATTESTATION_OBJECT})")
    value = cbor_decode(data, "attObj")
    if not isinstance(value, dict):
        raise Rejected(Reason.MALFORMED, "attObj is not a CBOR map")
    if "fmt" not in value or "attStmt" not in value:
        raise Rejected(Reason.MISSING_INPUT, "attObj lacks fmt or attStmt")
    if not isinstance(value["fmt"], str) or not isinstance(value["attStmt"], dict):
        raise Rejected(Reason.MALFORMED, "attObj fmt is not text or attStmt is not a map")
    extra = sorted(str(k)[:20] for k in value if k not in ("fmt", "attStmt", "authData"))
    if extra or not isinstance(value.get("authData", b""), bytes):
        raise Rejected(Reason.MALFORMED, f"attObj has unknown or mistyped members {extra[:4]}")
    return value["fmt"], value["attStmt"]


MIN_TOKEN_BYTES = 16
"""RFC 8555 8.3 (and 8.4, which device-attest-01 follows): a challenge token "MUST have at least 128 bits of
entropy", so a token that decodes to fewer than 16 bytes cannot be one. hsmsim's ACME verifiers reject it
CHALLENGE_MISMATCH, as parsec-tpm rejects a nonce under 16 bytes: an empty token makes every answer the same."""


def check_token(token: str, what: str = "the challenge token") -> None:
    """``token`` is canonical unpadded base64url of at least :data:`MIN_TOKEN_BYTES` bytes (RFC 8555 8.1, 8.3);
    else CHALLENGE_MISMATCH: a short token, or one that is not base64url, binds the answer to no fresh challenge."""
    try:
        raw = from_b64url(token, what)
    except Rejected as rejection:
        raise Rejected(Reason.CHALLENGE_MISMATCH, rejection.detail) from None
    if len(raw) < MIN_TOKEN_BYTES:
        raise Rejected(Reason.CHALLENGE_MISMATCH, f"{what} decodes to {len(raw)} bytes: RFC 8555 8.3 requires at "
                                                  f"least 128 bits of entropy ({MIN_TOKEN_BYTES} bytes)")


def token_parameter(parameters: Mapping[str, object]) -> str | None:
    """The ``token`` parameter of an ACME generator (None when absent or empty): canonical unpadded base64url of at
    least :data:`MIN_TOKEN_BYTES` bytes, as RFC 8555 8.1 and 8.3 make a challenge token and as the ACME verifiers
    read the record's ``challenge.token``. Raises :class:`ParameterError` for another value, so no evidence is
    written that its own verifier rejects."""
    token = text_parameter(parameters, "token", "base64url text")
    if not token:
        return None
    try:
        check_token(token, "token")
    except Rejected:
        raise ParameterError.invalid("token", f"canonical unpadded base64url of at least {MIN_TOKEN_BYTES} bytes",
                                     token) from None
    return token
