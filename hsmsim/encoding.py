"""DER, PEM, SPKI, OID and hostile-JSON helpers shared by every format (one copy each).

Encoders build definite, minimal-length DER; readers are bounded and raise :class:`ValueError`
on a bad header (a format maps that to its own reason). OIDs go through asn1crypto. Bytes a vendor
writes differently from DER are produced where that vendor's quirk is reproduced, and named after it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hsmsim.verdict import Reason, Rejected

MAX_LENGTH_OCTETS = 4
"""Longest length field the readers accept (4 GiB - 1 content octets; anything longer is hostile)."""


def der_tlv(tag: int, content: bytes) -> bytes:
    """One TLV with a low tag number and a minimal definite length."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def der_explicit(number: int, inner: bytes) -> bytes:
    """One context-specific ``[number] EXPLICIT`` TLV around an already encoded value, in the high-tag-number
    form from 31 on (as Android's KeyDescription and Apple's App Attest extensions write their tags)."""
    if number < 31:
        return der_tlv(0xA0 | number, inner)
    digits = [number & 0x7F]
    while number := number >> 7:
        digits.append(0x80 | number & 0x7F)
    return bytes([0xBF, *reversed(digits)]) + der_tlv(0, inner)[1:]  # high-tag-number form, then length and value


def der_integer(value: int, tag: int = 0x02) -> bytes:
    """A minimal two's-complement DER INTEGER (or ENUMERATED with ``tag`` 0x0A); TypeError for a non-int."""
    if not isinstance(value, int):
        raise TypeError(f"an INTEGER needs an int, not {type(value).__name__}")
    bits = (-value - 1 if value < 0 else value).bit_length() + 1
    return der_tlv(tag, value.to_bytes((bits + 7) // 8, "big", signed=True))


def der_sequence(*parts: bytes) -> bytes:
    """A SEQUENCE of already encoded parts."""
    return der_tlv(0x30, b"".join(parts))


def der_set_of_order(encodings: Sequence[bytes]) -> list[bytes]:
    """The element encodings in DER SET OF order (X.690 §11.6): ascending as octet strings, the shorter one
    padded with trailing zero octets; equal ones keep their given order."""
    width = max(map(len, encodings), default=0)
    return sorted(encodings, key=lambda encoding: encoding.ljust(width, b"\x00"))


@functools.lru_cache(maxsize=256)
def der_oid(dotted: str) -> bytes:
    """The DER OBJECT IDENTIFIER TLV of a dotted OID (encoded once per process: callers pass the same
    handful of constants on every verification)."""
    return bytes(core.ObjectIdentifier(dotted).dump())


_MEMO_OID_BYTES = 64
"""OID TLVs up to this size are remembered by :func:`oid_dotted` (1024 of them at most: bounded memory)."""


def oid_dotted(tlv: bytes) -> str:
    """The dotted form of the OBJECT IDENTIFIER TLV ``tlv`` as asn1crypto's ``ObjectIdentifier.load`` reads it,
    raising what it raises. A short one is decoded once per process: the same few algorithm and attribute OIDs
    recur in every bundle, and decoding is a pure function of the bytes."""
    return _memo_oid_dotted(tlv) if len(tlv) <= _MEMO_OID_BYTES else _oid_dotted(tlv)


def _oid_dotted(tlv: bytes) -> str:
    return str(core.ObjectIdentifier.load(tlv).dotted)


_memo_oid_dotted = functools.lru_cache(maxsize=1024)(_oid_dotted)


def read_tlv(data: bytes, pos: int = 0, der: bool = False) -> tuple[int, int, int]:
    """``(tag, content_start, end)`` of the TLV at ``pos``.

    Raises :class:`ValueError` for a truncated header, a high tag number, an indefinite or over-long
    length, or content running past the end of ``data``; with ``der`` also for a length not in its shortest
    form (X.690 10.1: a long form below 128, or with a leading zero octet), which BER allows.
    """
    size = len(data)
    if pos + 2 > size:
        raise ValueError("truncated TLV header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not supported")
    first = data[pos + 1]
    start = pos + 2
    if first < 0x80:
        end = start + first
    else:
        count = first & 0x7F
        if count == 0 or count > MAX_LENGTH_OCTETS or start + count > size:
            raise ValueError("bad TLV length")
        length = int.from_bytes(data[start:start + count], "big")
        if der and (length < 0x80 or data[start] == 0):
            raise ValueError("a length not in its shortest form (BER, not DER)")
        end = start + count + length
        start += count
    if end > size:
        raise ValueError("TLV runs past the end of its parent")
    return tag, start, end


def der_content(tlv: bytes, der: bool = False) -> bytes:
    """The content octets of a single TLV, which must fill ``tlv``; raises :class:`ValueError` (``der``: as
    :func:`read_tlv` with ``der``)."""
    _tag, start, end = read_tlv(tlv, 0, der)
    if end != len(tlv):
        raise ValueError("bytes after the TLV")
    return tlv[start:end]


def der_children(content: bytes, der: bool = False) -> list[bytes]:
    """The TLVs concatenated in ``content``, each as its full encoding; raises :class:`ValueError` as
    :func:`read_tlv` (with ``der``) does."""
    out: list[bytes] = []
    pos, size = 0, len(content)
    while pos < size:
        # A low tag with a length in the short form, or in one or two octets in their shortest form (what DER
        # writes for contents below 64 KiB), that fits is read here; any other header as read_tlv reads it.
        first = content[pos + 1] if pos + 1 < size else 0xFF
        if first < 0x80:
            end = pos + 2 + first
        elif first == 0x81 and pos + 2 < size and content[pos + 2] >= 0x80:
            end = pos + 3 + content[pos + 2]
        elif first == 0x82 and pos + 3 < size and content[pos + 2]:
            end = pos + 4 + (content[pos + 2] << 8 | content[pos + 3])
        else:
            end = size + 1
        if end > size or content[pos] & 0x1F == 0x1F:
            end = read_tlv(content, pos, der)[2]
        out.append(content[pos:end])
        pos = end
    return out


def spki_der(public_key: PublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of any public key (e.g. a certificate's, whatever its algorithm)."""
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def key_facts(key: object) -> tuple[str, int | None]:
    """:attr:`hsmsim.verdict.Claims.key_type` and ``key_size`` of a public key: ``RSA``, ``EC-<curve name>`` or
    ``Ed25519`` with its bits; any other key its class name and None."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    return type(key).__name__, None


def pem(der: bytes, label: str = "CERTIFICATE", newline: bytes = b"\n") -> bytes:
    """PEM armour with 64-column lines, newline-terminated (``newline`` b"\\r\\n" for CRLF writers)."""
    body = base64.b64encode(der)
    lines = [b"-----BEGIN " + label.encode() + b"-----"]
    lines += [body[i:i + 64] for i in range(0, len(body), 64)]
    lines.append(b"-----END " + label.encode() + b"-----")
    return newline.join(lines) + newline


_BEGIN_CERTIFICATE = b"-----BEGIN CERTIFICATE-----\n"
_END_CERTIFICATE = b"-----END CERTIFICATE-----\n"


def canonical_pem_ders(pem_text: bytes) -> list[bytes] | None:
    """The DER of each certificate when ``pem_text`` is nothing but certificates armoured exactly as :func:`pem`
    writes them (as cryptography and OpenSSL do), which cryptography's PEM reader decodes to the same DER; None for
    any other text, which is left to that reader (it costs several times more than decoding this form)."""
    blocks = pem_text.split(_END_CERTIFICATE)
    if len(blocks) < 2 or blocks[-1]:
        return None
    ders = []
    for block in blocks[:-1]:
        if not block.startswith(_BEGIN_CERTIFICATE):
            return None
        body = block[len(_BEGIN_CERTIFICATE):]
        try:
            der = binascii.a2b_base64(body)
        except binascii.Error:
            return None
        # The canonical body: the base64 of the DER in lines of 64 characters, each ended by a newline.
        text = binascii.b2a_base64(der, newline=False)
        if (len(body) != len(text) - (-len(text) // 64) or body[-1:] != b"\n"
                or body[64::65] != b"\n" * (len(text) // 64) or body.replace(b"\n", b"") != text):
            return None
        ders.append(der)
    return ders


def spki_pem(public_key: PublicKeyTypes) -> bytes:
    """The PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) of any public key, as OpenSSL writes it."""
    return pem(spki_der(public_key), "PUBLIC KEY")


def cert_pem(cert: x509.Certificate) -> bytes:
    """The PEM of a certificate, newline-terminated (as OpenSSL and cryptography write it)."""
    return pem(cert.public_bytes(Encoding.DER))


# -- JSON --------------------------------------------------------------------------------------

def indented_json(data: object, indent: int) -> bytes:
    """``json.dumps(data, indent=indent) + "\\n"`` as bytes (ASCII), for JSON data without floats; a pydantic
    model stands for its JSON-mode dump.

    pydantic-core encodes it as UTF-8 (json indents in pure Python, a few times slower; pydantic-core's own
    ASCII escaping looks at every character, slower than escaping its output): its output is json's for
    strings, integers, booleans, null, lists and objects, except that it writes DEL unescaped and refuses lone
    surrogates, so data holding either goes through json itself. (It would write some floats differently,
    ``1e-7`` for ``1e-07``: what hsmsim writes this way has none.)
    """
    from pydantic_core import PydanticSerializationError, to_json  # here: reading evidence never needs pydantic

    try:
        encoded = to_json(data, indent=indent)
        if not encoded.isascii():  # only inside strings, where json writes \uXXXX (a surrogate pair past U+FFFF)
            encoded = encoded.decode().encode("ascii", _JSON_ESCAPES)
    except PydanticSerializationError:  # a lone surrogate
        pass
    else:
        if b"\x7f" not in encoded:
            return encoded + b"\n"
    return (json.dumps(data, indent=indent, default=_model_json) + "\n").encode()


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler writing each character ASCII cannot hold as json does (``\\uXXXX``, a surrogate pair
    past U+FFFF): the encoder stays in C between them, where a regular expression over the text would not."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escapes = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code >= 0x10000:
            code -= 0x10000
            escapes.append(f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}")
        else:
            escapes.append(f"\\u{code:04x}")
    return "".join(escapes), error.end


_JSON_ESCAPES = "hsmsim-json-escapes"
codecs.register_error(_JSON_ESCAPES, _json_escapes)


def _model_json(value: object) -> object:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON data")


MAX_JSON_NUMBER_CHARS = 64
"""Longest number literal :func:`load_json` accepts; no attestation JSON needs more than a few digits."""

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_float(text: str) -> float:
    value = float(text)
    if len(text) > MAX_JSON_NUMBER_CHARS or not math.isfinite(value):
        raise ValueError(f"JSON number {text[:24]}{'...' if len(text) > 24 else ''} is not a finite double")
    return value


def _json_int(text: str) -> int:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise ValueError(f"JSON integer of {len(text)} digits")
    return int(text)


def _json_constant(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


JSON_DEPTH_LIMIT = 100
"""Deepest nesting of arrays and objects :func:`parse_json` and :func:`load_json` accept. No JSON hsmsim reads
nests more than a few levels; the limit sits well below the depth at which Python 3.11's ``json`` runs out of
recursion (under 1,000 levels), while 3.13's reads thousands: a fixed bound gives one answer on every Python."""


class JsonDepthError(ValueError):
    """JSON whose arrays and objects nest more than :data:`JSON_DEPTH_LIMIT` levels deep."""


def _nests_deeper(value: object, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep in a parsed JSON value (read level by
    level, never recursing)."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        if not level:
            return False
        level = [child for node in level for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, dict | list)]
    return bool(level)


def parse_json(data: str | bytes, object_pairs_hook: Callable[[list[tuple[str, object]]], object] | None = None,
               *, i_json: bool = False) -> object:
    """``json.loads(data, object_pairs_hook=...)`` with nesting bounded the same way on every Python: raises
    :class:`JsonDepthError` past :data:`JSON_DEPTH_LIMIT` levels (where ``json`` itself runs out of recursion too),
    :class:`ValueError` for what is not JSON (``UnicodeDecodeError`` included). ``i_json`` also refuses the numbers
    :func:`load_json` refuses."""
    try:
        if i_json:
            value = json.loads(data, object_pairs_hook=object_pairs_hook, parse_float=_json_float,
                               parse_int=_json_int, parse_constant=_json_constant)
        else:
            value = json.loads(data, object_pairs_hook=object_pairs_hook)
    except RecursionError:
        raise JsonDepthError(f"arrays and objects nest more than {JSON_DEPTH_LIMIT} levels deep") from None
    if _nests_deeper(value, JSON_DEPTH_LIMIT):
        raise JsonDepthError(f"arrays and objects nest more than {JSON_DEPTH_LIMIT} levels deep")
    return value


def load_json(text: str, object_pairs_hook: Callable[[list[tuple[str, object]]], object] | None = None) -> object:
    """``json.loads(text)`` for hostile input; raises :class:`ValueError` on anything that is not I-JSON.

    Besides syntax errors that is NaN/Infinity, a number that is no finite double (``1e99999999999``) or
    longer than :data:`MAX_JSON_NUMBER_CHARS`, a member name or string holding a lone surrogate
    (``"\\ud800"``: not Unicode, so it cannot be compared, printed or re-encoded), and nesting deeper than
    :data:`JSON_DEPTH_LIMIT` (:class:`JsonDepthError`). What ``object_pairs_hook`` raises passes through.
    """
    value = parse_json(text, object_pairs_hook, i_json=True)
    # A surrogate reaches a string only as a \u escape or a raw code point (ASCII text has none: an O(1) test);
    # searching every string costs more than parsing them.
    if (not text.isascii() or "\\u" in text) and any(_LONE_SURROGATE.search(s) for s in json_strings(value)):
        raise ValueError("a JSON string holds a lone surrogate escape")
    return value


def json_strings(value: object) -> list[str]:
    """Every member name and string anywhere in a parsed JSON value."""
    found: list[str] = []
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            pending += [*node, *node.values()]
        elif isinstance(node, list):
            pending += node
    return found


def unique_json_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A ``json`` ``object_pairs_hook`` that rejects (ATTR_CONFLICT) a member name given twice in one object."""
    members: dict[str, object] = {}
    for key, value in pairs:
        if key in members:
            raise Rejected(Reason.ATTR_CONFLICT, f"JSON member {key[:40]!r} appears twice")
        members[key] = value
    return members


def rfc3339(moment: datetime) -> str:
    """``moment`` as the cloud APIs write a time (protobuf's JSON Timestamp): UTC, ``Z``, and the microseconds only
    when there are any (``2026-01-05T09:00:00Z``, ``2026-01-05T09:00:00.250000Z``)."""
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
