"""The Fortanix DSM key attestation response: its JSON shape, bounded parsing, and the statement's vocabulary.

Facts are from ``shared/specs/luna_fortanix_nshield.md`` 4 and the real response in
``shared/interop/fortanix`` (its bytes decoded, not copied):

* ``POST /crypto/v1/keys/key_attestation`` returns ``{"authority_chain": [base64 DER, ...],
  "attestation_statement": {"format": "x509_certificate", "statement": base64 DER}}``;
  DSM lists the chain authority, CA, root and indents by four spaces.
* The statement is an X.509 certificate for the attested key: issuer = the cluster's
  ``Fortanix DSM SaaS Key Attestation Authority``; subject ``CN=Fortanix DSM Key Attestation``
  plus an RDN ``1.3.6.1.4.1.49690.1.2.2`` holding the key id (kid); notBefore = issuance
  (UTCTime), notAfter 9999-12-31T23:59:59Z; extensions keyUsage (critical) mirroring the
  key's permissions, the claims ``1.3.6.1.4.1.49690.2.4.1.1`` (generated in DSM) and
  ``…2.4.1.2`` (never exportable), each an empty SEQUENCE, non-critical, then the AKI.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.encoding import indented_json, load_json, unique_json_members
from hsmsim.formats.fortanix.layout import JSON_INDENT, TOP_LEVEL_MEMBERS, JsonLimits
from hsmsim.keystore.base import KeyType
from hsmsim.verdict import Profile, Reason, Rejected

STATEMENT_FORMAT = "x509_certificate"
STATEMENT_CN = "Fortanix DSM Key Attestation"
KEY_ID_OID = ObjectIdentifier("1.3.6.1.4.1.49690.1.2.2")
CLAIM_GENERATED = ObjectIdentifier("1.3.6.1.4.1.49690.2.4.1.1")
CLAIM_NEVER_EXPORTABLE = ObjectIdentifier("1.3.6.1.4.1.49690.2.4.1.2")
CLAIM_VALUE = b"\x30\x00"
STATEMENT_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

STATEMENT_USAGES = ("digital_signature", "key_encipherment", "data_encipherment", "key_agreement")
"""The only keyUsage bits a statement may carry (the vendor sample verifier's allow-list)."""
USAGES_BY_KEY_TYPE = {
    KeyType.RSA: ("digital_signature", "key_encipherment", "data_encipherment"),
    KeyType.EC: ("digital_signature", "key_agreement"),
    KeyType.EC_EDWARDS: ("digital_signature",),
}
"""The keyUsage bits a key of each type can be granted."""

STATEMENT_MEMBERS = ("format", "statement")


# -- writing ---------------------------------------------------------------------------

def b64_der(cert: x509.Certificate) -> str:
    """Standard base64 of a certificate's DER, one line."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def response_document(chain: list[x509.Certificate], statement: x509.Certificate) -> dict[str, Any]:
    """The response object: the authority chain in order, then the statement, both base64 DER."""
    return {"authority_chain": [b64_der(c) for c in chain],
            "attestation_statement": {"format": STATEMENT_FORMAT, "statement": b64_der(statement)}}


def dump_response(document: object, indent: int | None = JSON_INDENT) -> bytes:
    """A response object as JSON text, newline-terminated (``indent`` None: one line)."""
    return indented_json(document, indent) if indent is not None else (json.dumps(document) + "\n").encode()


def render_response(chain: list[x509.Certificate], statement: x509.Certificate,
                    indent: int | None = JSON_INDENT) -> bytes:
    """The key_attestation response JSON, newline-terminated."""
    return dump_response(response_document(chain, statement), indent)


# -- bounded parsing -------------------------------------------------------------------

# One pass: a string token (an unterminated one runs to the end, so no position is scanned twice) or a bracket.
# The string body is unrolled (a run of plain characters, then escape + run, ...): the same tokens as
# ``(?:[^"\\]|\\.)*``, without one alternation per character (6x faster on a base64 chain).
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?$)|[\[\]{}]', re.DOTALL)



def parse_json(data: bytes, limits: JsonLimits = JsonLimits()) -> object:
    """Parse hostile JSON within bounds; raises :class:`Rejected`, never anything else.

    LIMIT_EXCEEDED: more than ``max_bytes`` or nesting deeper than ``max_depth`` (checked
    before parsing, so no recursion can run away). MALFORMED: not UTF-8 (a BOM included),
    syntax errors, NaN/Infinity, numbers that are no finite double or longer than 64 characters, lone
    surrogate escapes (see :func:`hsmsim.encoding.load_json`). ATTR_CONFLICT: a member name twice in
    one object (first-wins and last-wins parsers would disagree).
    """
    if len(data) > limits.max_bytes:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"response JSON is {len(data)} bytes (limit {limits.max_bytes})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(Reason.MALFORMED, "response JSON is not UTF-8") from None
    depth = 0
    # Nesting never exceeds the number of opening brackets, in strings or not: the scan can only be needed
    # when there are more of them than the bound.
    tokens = _JSON_TOKEN.finditer(data) if data.count(b"[") + data.count(b"{") > limits.max_depth else ()
    for token in tokens:
        bracket = token.group()
        if bracket[:1] == b'"':
            continue
        depth += 1 if bracket in b"[{" else -1
        if depth > limits.max_depth:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"response JSON nests deeper than {limits.max_depth}")
    try:
        return load_json(text, unique_json_members)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"response JSON does not parse: {str(exc)[:80]}") from None


# -- reading the shape -----------------------------------------------------------------

@dataclass(frozen=True)
class Response:
    """A response whose shape checked out: the chain and statement DER, and the members nobody defined."""

    chain: tuple[bytes, ...]
    statement: bytes
    unknown: tuple[str, ...]


# Padded base64 is base64 characters and at most two "=", in a length divisible by 4 (checked beside the
# pattern): the same strings as (?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?, 3x faster.
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _b64(text: str, what: str, profile: Profile) -> bytes:
    """Standard padded base64; the structural profile also takes MIME-style line breaks."""
    compact = text if profile is Profile.STRICT or "\n" not in text else re.sub(r"\r?\n", "", text)
    try:
        der: bytes | None = base64.b64decode(compact, validate=True)
    except ValueError:  # binascii.Error, or not ASCII
        der = None
    if der is not None and base64.b64encode(der).decode() == compact:
        return der  # canonical: one line of padded base64 characters, so every check below holds
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        raise Rejected(Reason.MALFORMED, f"{what} is not one line of standard padded base64")
    if der is None:
        raise Rejected(Reason.MALFORMED, f"{what} is not valid base64")
    raise Rejected(Reason.MALFORMED, f"{what} base64 is not canonical")


def read_response(document: object, limits: JsonLimits, profile: Profile) -> Response:
    """The members of a parsed response, base64-decoded; raises :class:`Rejected`.

    MISSING_INPUT: no authority_chain, attestation_statement or statement. MALFORMED: a member
    of the wrong type or base64 that is not standard, padded and canonical (the structural
    profile removes line breaks first). UNSUPPORTED: a statement format other than
    ``x509_certificate``. LIMIT_EXCEEDED: more than ``max_chain`` chain entries.
    """
    if not isinstance(document, dict):
        raise Rejected(Reason.MALFORMED, "response JSON is not an object")
    unknown = [k for k in document if k not in TOP_LEVEL_MEMBERS]
    if "attestation_statement" not in document:
        raise Rejected(Reason.MISSING_INPUT, "no attestation_statement in the response")
    if "authority_chain" not in document:
        raise Rejected(Reason.MISSING_INPUT, "no authority_chain in the response")
    statement = document["attestation_statement"]
    if not isinstance(statement, dict):
        raise Rejected(Reason.MALFORMED, "attestation_statement is not an object")
    unknown += [f"attestation_statement.{k}" for k in statement if k not in STATEMENT_MEMBERS]
    fmt = statement.get("format")
    if not isinstance(fmt, str):
        raise Rejected(Reason.MALFORMED, "attestation_statement.format is missing or not a string")
    if fmt != STATEMENT_FORMAT:
        raise Rejected(Reason.UNSUPPORTED, f"statement format {fmt[:40]!r} is not {STATEMENT_FORMAT!r}")
    if "statement" not in statement:
        raise Rejected(Reason.MISSING_INPUT, "attestation_statement has no statement")
    if not isinstance(statement["statement"], str):
        raise Rejected(Reason.MALFORMED, "attestation_statement.statement is not a string")
    chain = document["authority_chain"]
    if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
        raise Rejected(Reason.MALFORMED, "authority_chain is not an array of strings")
    if len(chain) > limits.max_chain:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"authority_chain holds {len(chain)} entries (limit {limits.max_chain})")
    return Response(
        chain=tuple(_b64(c, f"authority_chain[{i}]", profile) for i, c in enumerate(chain)),
        statement=_b64(statement["statement"], "statement", profile), unknown=tuple(unknown))
