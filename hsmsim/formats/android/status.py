"""Google's attestation certificate status list (``https://android.googleapis.com/attestation/status``).

The document is ``{"entries": {"<lowercase hex serial>": {"status": "REVOKED"|"SUSPENDED", "reason": ...,
"comment": ..., "expires": ...}}}``; every certificate of a chain is looked up by serial. hsmsim's
emulated manufacturer serves the same shape as a local file beside the evidence
(:data:`STATUS_FILE`); reading it is bounded and a bad document is MALFORMED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cryptography import x509

from hsmsim.encoding import indented_json, parse_json
from hsmsim.formats.android.layout import STATUS_FILE
from hsmsim.verdict import Reason, Rejected

MAX_STATUS_BYTES = 4 * 1024 * 1024
MAX_STATUS_ENTRIES = 100_000
REVOKING_STATUSES = ("REVOKED", "SUSPENDED")


def serial_key(cert: x509.Certificate) -> str:
    """The list's key for a certificate: its serial in lowercase hex without leading zeros."""
    return format(cert.serial_number, "x")


def render_status_list(entries: Mapping[str, Mapping[str, str]]) -> bytes:
    """The status document for ``entries`` (serial key -> fields), as Google formats it."""
    return indented_json({"entries": dict(entries)}, 2)


def read_status_list(data: bytes) -> dict[str, str]:
    """Serial key -> status from a status document; raises :class:`Rejected` (LIMIT_EXCEEDED, MALFORMED)."""
    if len(data) > MAX_STATUS_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{STATUS_FILE} is larger than {MAX_STATUS_BYTES} bytes")
    if data.count(b"{") + data.count(b"[") > 2 * MAX_STATUS_ENTRIES + 4:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{STATUS_FILE} nests or lists too much")
    try:
        document = parse_json(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JsonDepthError included
        raise Rejected(Reason.MALFORMED, f"{STATUS_FILE} is not JSON: {str(exc)[:80]}") from None
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise Rejected(Reason.MALFORMED, f"{STATUS_FILE} has no 'entries' object")
    statuses = {}
    for serial, entry in entries.items():
        status = entry.get("status") if isinstance(entry, dict) else None
        if not isinstance(status, str):
            raise Rejected(Reason.MALFORMED, f"{STATUS_FILE} entry {serial[:40]!r} has no status string")
        statuses[serial.lower()] = status
    return statuses


def check_revocation(certificates: Iterable[x509.Certificate], statuses: Mapping[str, str]) -> None:
    """Reject (CERT_REVOKED) when any certificate's serial is listed REVOKED or SUSPENDED."""
    for cert in certificates:
        status = statuses.get(serial_key(cert))
        if status in REVOKING_STATUSES:
            subject = cert.subject.rfc4514_string() or "<empty subject>"
            raise Rejected(Reason.CERT_REVOKED, f"{subject!r} (serial {serial_key(cert)}) is {status} in {STATUS_FILE}")
