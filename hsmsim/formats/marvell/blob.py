"""The Marvell LiquidSecurity FW 3.x key-attestation blob: attribute table, encoder, bounded parser.

Layout (``shared/specs/marvell.md`` 1, all integers big-endian, no padding)::

    response header   responseCode u32, requestFlags u32, totalSize u32, bufferSize u32, extra
                      (extra: nothing | u32 = bufferSize | one u64 handle per object)
    attest data       info header: objectVersion u16, requestFlags u16, offsetFirstKey u16 (8),
                      offsetSecondKey u16 (0 or 8 + 12 + objectSize(first))
                      1 or 2 objects: handle u32, attrCount u32, objectSize u32, then
                      attrCount x (type u32, length u32, value)
    signature         256 bytes: RSASSA-PKCS1-v1_5/SHA-256 over everything before it

Every parser here is bounded: lengths and counts are checked against the bytes present before
anything is read. Failures raise :class:`hsmsim.verdict.Rejected` with MALFORMED, LIMIT_EXCEEDED or
UNSUPPORTED. The clouds' transports around the blob (base64, gzip) are in
:mod:`hsmsim.formats.marvell.envelopes`.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsmsim.encoding import der_tlv, spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import KeySpec, KeyType, StoredKey
from hsmsim.verdict import Reason, Rejected, shown_int

SIGNATURE_BYTES = 256
MAX_BLOB_BYTES = 64 * 1024
MAX_ATTRIBUTES = 128
RESPONSE_FLAGS = 0x3  # GET_ATTR | GET_ATTEST
FLAG_EXCLUDE_HEADER = 0x4
OBJECT_VERSION = 1
FIXED_TEXT_BYTES = 128  # LABEL and ID are NUL-padded to 128 bytes
EC_CURVES = {65: ec.SECP256R1(), 97: ec.SECP384R1(), 133: ec.SECP521R1()}
"""The curve of an uncompressed point, by its length."""

# -- attribute table (names from the Azure and PeculiarVentures parsers) ----------------------

CLASS, TOKEN, PRIVATE, LABEL = 0x0000, 0x0001, 0x0002, 0x0003
TRUSTED = 0x0086
KEY_TYPE, ID = 0x0100, 0x0102
SENSITIVE, ENCRYPT, DECRYPT, WRAP, UNWRAP, SIGN, VERIFY, DERIVE = 0x0103, 0x0104, 0x0105, 0x0106, 0x0107, 0x0108, \
    0x010A, 0x010C
MODULUS, MODULUS_BITS, PUBLIC_EXPONENT = 0x0120, 0x0121, 0x0122
VALUE_LEN = 0x0161
EXTRACTABLE, LOCAL, NEVER_EXTRACTABLE, ALWAYS_SENSITIVE = 0x0162, 0x0163, 0x0164, 0x0165
KCV = 0x0173
WRAP_WITH_TRUSTED = 0x0210
EXT_ATTR1 = 0x1000
EKCV = 0x1003
VENDOR_80000000 = 0x80000000
SPLITTABLE, IS_SPLIT = 0x80000002, 0x80000003
MECHANISM_BITMAPS = (0x80000174, 0x80000175, 0x80000176, 0x80000177, 0x80000178, 0x80000179, 0x80000180)

ATTRIBUTE_NAMES = {
    CLASS: "OBJ_ATTR_CLASS", TOKEN: "OBJ_ATTR_TOKEN", PRIVATE: "OBJ_ATTR_PRIVATE", LABEL: "OBJ_ATTR_LABEL",
    TRUSTED: "OBJ_ATTR_TRUSTED", KEY_TYPE: "OBJ_ATTR_KEY_TYPE", ID: "OBJ_ATTR_ID",
    SENSITIVE: "OBJ_ATTR_SENSITIVE", ENCRYPT: "OBJ_ATTR_ENCRYPT", DECRYPT: "OBJ_ATTR_DECRYPT",
    WRAP: "OBJ_ATTR_WRAP", UNWRAP: "OBJ_ATTR_UNWRAP", SIGN: "OBJ_ATTR_SIGN", VERIFY: "OBJ_ATTR_VERIFY",
    DERIVE: "OBJ_ATTR_DERIVE", MODULUS: "OBJ_ATTR_MODULUS", MODULUS_BITS: "OBJ_ATTR_MODULUS_BITS",
    PUBLIC_EXPONENT: "OBJ_ATTR_PUBLIC_EXPONENT", VALUE_LEN: "OBJ_ATTR_VALUE_LEN",
    EXTRACTABLE: "OBJ_ATTR_EXTRACTABLE", LOCAL: "OBJ_ATTR_LOCAL", NEVER_EXTRACTABLE: "OBJ_ATTR_NEVER_EXTRACTABLE",
    ALWAYS_SENSITIVE: "OBJ_ATTR_ALWAYS_SENSITIVE", KCV: "OBJ_ATTR_KCV", WRAP_WITH_TRUSTED: "OBJ_ATTR_WRAP_WITH_TRUSTED",
    EXT_ATTR1: "OBJ_EXT_ATTR1", EKCV: "OBJ_ATTR_EKCV", VENDOR_80000000: "OBJ_ATTR_VENDOR_80000000",
    SPLITTABLE: "OBJ_ATTR_SPLITTABLE", IS_SPLIT: "OBJ_ATTR_IS_SPLIT",
    **{t: f"OBJ_ATTR_MECHANISMS_{t:08X}" for t in MECHANISM_BITMAPS},
}
BOOLEAN_ATTRIBUTES = (PRIVATE, TRUSTED, SENSITIVE, ENCRYPT, DECRYPT, WRAP, UNWRAP, SIGN, VERIFY, DERIVE, EXTRACTABLE,
                      LOCAL, NEVER_EXTRACTABLE, ALWAYS_SENSITIVE, WRAP_WITH_TRUSTED, SPLITTABLE, IS_SPLIT)

_HEAD = (CLASS, KEY_TYPE, TOKEN, PRIVATE, ENCRYPT, DECRYPT, WRAP, UNWRAP, SIGN, VERIFY, LOCAL, SENSITIVE,
         EXTRACTABLE, LABEL, ID, VALUE_LEN, KCV, EKCV, EXT_ATTR1, *MECHANISM_BITMAPS)
_TAIL = (TRUSTED, WRAP_WITH_TRUSTED, DERIVE, ALWAYS_SENSITIVE, SPLITTABLE, IS_SPLIT, NEVER_EXTRACTABLE)
EC_ORDER = (*_HEAD, MODULUS, MODULUS_BITS, *_TAIL)
"""Observed order of an EC object (public and private, 35 attributes)."""
RSA_ORDER = (*_HEAD, MODULUS, MODULUS_BITS, PUBLIC_EXPONENT, VENDOR_80000000, *_TAIL)
"""Observed order of an RSA private object (37 attributes); hsmsim uses it for RSA public objects too."""
SECRET_ORDER = tuple(t for t in _HEAD if t != EKCV) + _TAIL
"""GUESS: a secret-key object is the EC order without the public-key and EKCV attributes (31)."""


class ObjectClass(enum.IntEnum):
    """CKO_* values of the CLASS attribute."""

    PUBLIC_KEY = 2
    PRIVATE_KEY = 3
    SECRET_KEY = 4


class KeyTypeCode(enum.IntEnum):
    """CKK_* values of the KEY_TYPE attribute."""

    RSA = 0x00
    EC = 0x03
    GENERIC_SECRET = 0x10
    DES3 = 0x15
    AES = 0x1F


def expected_order(object_class: int, key_type: int) -> tuple[int, ...] | None:
    """The FW 3.x attribute order for this class and key type (None when hsmsim has no model of it)."""
    if object_class == ObjectClass.SECRET_KEY:
        return SECRET_ORDER
    if key_type == KeyTypeCode.RSA:
        return RSA_ORDER
    if key_type == KeyTypeCode.EC:
        return EC_ORDER
    return None


# -- the object model ----------------------------------------------------------------------------

class Attribute(NamedTuple):
    """One TLV: type, value (the length is the value's length). A named tuple: a blob's parser makes dozens per
    object, and a tuple is built several times faster than a frozen dataclass."""

    type: int
    value: bytes

    def encode(self) -> bytes:
        """``type u32 || length u32 || value``."""
        return struct.pack(">II", self.type, len(self.value)) + self.value


@dataclass(frozen=True)
class KeyObject:
    """One object of the attest data: its handle and its attributes in wire order."""

    handle: int
    attributes: tuple[Attribute, ...]

    def encode(self) -> bytes:
        """The 12-byte object header and the TLVs; objectSize counts the TLVs only."""
        body = b"".join(a.encode() for a in self.attributes)
        return struct.pack(">III", self.handle, len(self.attributes), len(body)) + body

    @cached_property
    def _by_type(self) -> dict[int, tuple[bytes, ...]]:
        """The values of each attribute type in wire order (verifiers look up dozens per object)."""
        grouped: dict[int, tuple[bytes, ...]] = {}
        for attribute in self.attributes:
            grouped[attribute.type] = (*grouped.get(attribute.type, ()), attribute.value)
        return grouped

    def get(self, attr_type: int) -> bytes | None:
        """The value of ``attr_type`` (the first one of a duplicate), or None when absent."""
        found = self._by_type.get(attr_type)
        return found[0] if found else None

    @property
    def duplicated_types(self) -> list[int]:
        """The attribute types that occur more than once, in ascending order."""
        return sorted(t for t, found in self._by_type.items() if len(found) > 1)

    def replace(self, attr_type: int, value: bytes) -> KeyObject:
        """This object with every ``attr_type`` value replaced (same position)."""
        return KeyObject(self.handle, tuple(Attribute(a.type, value) if a.type == attr_type else a
                                            for a in self.attributes))

    def without(self, attr_type: int) -> KeyObject:
        """This object without ``attr_type``."""
        return KeyObject(self.handle, tuple(a for a in self.attributes if a.type != attr_type))

    @property
    def types(self) -> tuple[int, ...]:
        """Attribute types in wire order."""
        return tuple(a.type for a in self.attributes)


class HeaderStyle(enum.StrEnum):
    """What follows the 16 fixed bytes of the response header."""

    BARE = "bare"
    """Nothing (H = 16)."""
    BUFFER_SIZE = "buffer-size"
    """One u32 equal to bufferSize (H = 20), as in the Azure REST example."""
    HANDLES = "handles"
    """One u64 per object, that object's handle (H = 24 or 32), as in every Google sample."""


def fixed_text(text: str | bytes, size: int = FIXED_TEXT_BYTES) -> bytes:
    """UTF-8 ``text`` NUL-padded to ``size`` bytes, cut at a character boundary when longer."""
    raw = text if isinstance(text, bytes) else text.encode()
    if len(raw) > size:
        raw = raw[:size].decode("utf-8", "ignore").encode()
    return raw.ljust(size, b"\x00")


def encode_body(objects: list[KeyObject], *, header: HeaderStyle, request_flags: int = RESPONSE_FLAGS,
                info_flags: int = RESPONSE_FLAGS, response_code: int = 0) -> bytes:
    """Response header + attest data, ready to be signed; totalSize counts the 256 signature bytes."""
    encoded = [o.encode() for o in objects]
    second = 8 + len(encoded[0]) if len(encoded) > 1 else 0
    attest = struct.pack(">HHHH", OBJECT_VERSION, info_flags, 8, second) + b"".join(encoded)
    if header is HeaderStyle.BARE:
        extra = b""
    elif header is HeaderStyle.BUFFER_SIZE:
        extra = struct.pack(">I", len(attest))
    else:
        extra = b"".join(struct.pack(">Q", o.handle) for o in objects)
    total = 16 + len(extra) + len(attest) + SIGNATURE_BYTES
    return struct.pack(">IIII", response_code, request_flags, total, len(attest)) + extra + attest


def sign_body(body: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """``body || RSASSA-PKCS1-v1_5/SHA-256(body)``; the partition key must be RSA-2048."""
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError(f"the blob signature must be {SIGNATURE_BYTES} bytes (RSA-2048), not {len(signature)}")
    return body + signature


def resign(blob: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """``blob`` with its last 256 bytes replaced by a fresh signature over everything before them."""
    return sign_body(blob[:-SIGNATURE_BYTES], key)


# -- encoding one key's object --------------------------------------------------------------------

def _u8(value: int) -> bytes:
    return bytes([value])


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def _bool(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def _der_size(content: int) -> int:
    """The size of a DER TLV with ``content`` content octets."""
    return len(der_tlv(0x30, bytes(content)))


def private_value_len(spec: KeySpec) -> int:
    """OBJ_ATTR_VALUE_LEN of a private object: the PKCS#8 DER length of such a key (EC P-256: 138,
    as observed; RSA computed for full-length n, p, q and CRT values, 2376 for RSA-4096 as observed)."""
    if spec.key_type is KeyType.EC:
        coord = (spec.bits + 7) // 8
        curve_oid = {"secp256r1": 8, "secp384r1": 5}[spec.curve or ""]
        inner = _der_size(_der_size(1) + _der_size(coord) + _der_size(_der_size(2 + 2 * coord)))
        algorithm = _der_size(_der_size(7) + _der_size(curve_oid))
        return _der_size(_der_size(1) + algorithm + _der_size(inner))
    size = spec.bits // 8
    inner = _der_size(_der_size(1) + _der_size(size + 1) + _der_size(3) + _der_size(size)
                      + 5 * _der_size(size // 2 + 1))
    return _der_size(_der_size(1) + 15 + _der_size(inner))


def _key_type_code(key: StoredKey) -> int:
    codes = {KeyType.RSA: KeyTypeCode.RSA, KeyType.EC: KeyTypeCode.EC, KeyType.AES: KeyTypeCode.AES}
    if key.spec.key_type not in codes or (key.spec.key_type is KeyType.EC and key.spec.curve not in
                                          ("secp256r1", "secp384r1")):
        raise UnsupportedKeyError(f"LiquidSecurity attestation covers RSA, EC P-256/P-384 and AES keys, "
                                  f"not {key.spec.name}")
    return codes[key.spec.key_type]


def _public_material(key: StoredKey) -> tuple[bytes, bytes | None, int]:
    """(OBJ_ATTR_MODULUS, OBJ_ATTR_PUBLIC_EXPONENT, public VALUE_LEN) of an asymmetric key."""
    public = key.public_key
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        size = (public.key_size + 7) // 8
        exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return numbers.n.to_bytes(size, "big"), exponent, size
    assert isinstance(public, ec.EllipticCurvePublicKey)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return point, None, len(point)


@dataclass(frozen=True)
class Usages:
    """The usage flags of the private (or secret) key an object states; a public object mirrors them."""

    decrypt: bool
    unwrap: bool
    sign: bool
    derive: bool

    @classmethod
    def of(cls, key: StoredKey) -> Usages:
        """The key store's own usage flags of ``key``."""
        attrs = key.attributes
        return cls(attrs.decrypt, attrs.unwrap, attrs.sign, attrs.derive)


def key_object(key: StoredKey, object_class: ObjectClass, *, handle: int, label: str, identifier: str,
               token_true: int = 2, ec_modulus_bits: int = 0x19F, usages: Usages | None = None) -> KeyObject:
    """One FW 3.x object for ``key`` with its real PKCS#11 attributes, in the observed order and encodings.

    ``token_true`` is the OBJ_ATTR_TOKEN byte of token objects (observed 02) and ``ec_modulus_bits``
    the OBJ_ATTR_MODULUS_BITS of EC objects (observed 0x19F). ``usages`` replaces the key's own
    usage flags (a cloud's fixed template). ``object_class`` PUBLIC_KEY gives the public half of a
    pair (SENSITIVE 0, EXTRACTABLE 1, the usages mirrored: ENCRYPT = DECRYPT, WRAP = UNWRAP,
    VERIFY = SIGN of the private key). Secret keys carry their CKA_CHECK_VALUE as KCV and no EKCV
    (GUESS). Raises UnsupportedKeyError for keys LiquidSecurity does not attest.
    """
    attrs = key.attributes
    use = usages or Usages.of(key)
    code = _key_type_code(key)
    public = object_class is ObjectClass.PUBLIC_KEY
    secret = object_class is ObjectClass.SECRET_KEY
    values: dict[int, bytes] = {
        CLASS: _u8(object_class), KEY_TYPE: _u8(code),
        TOKEN: _u8(token_true if attrs.token else 0), PRIVATE: _bool(attrs.private),
        ENCRYPT: _bool((public or secret) and use.decrypt), DECRYPT: _bool(not public and use.decrypt),
        WRAP: _bool((public or secret) and use.unwrap), UNWRAP: _bool(not public and use.unwrap),
        SIGN: _bool(not public and use.sign), VERIFY: _bool((public or secret) and use.sign),
        LOCAL: _bool(attrs.local), SENSITIVE: _bool(not public and attrs.sensitive),
        EXTRACTABLE: _bool(public or attrs.extractable),
        LABEL: fixed_text(label), ID: fixed_text(identifier),
        EXT_ATTR1: (2).to_bytes(8, "big"),
        TRUSTED: b"\x00", WRAP_WITH_TRUSTED: b"\x00", DERIVE: _bool(not public and use.derive),
        ALWAYS_SENSITIVE: _bool(not public and attrs.always_sensitive),
        SPLITTABLE: b"\x00", IS_SPLIT: b"\x00",
        NEVER_EXTRACTABLE: _bool(not public and attrs.never_extractable),
        **dict.fromkeys(MECHANISM_BITMAPS, b"\x00" * 31 + b"\xff"),
    }
    if secret:
        values[VALUE_LEN] = _u32(attrs.value_len or (key.spec.bits // 8))
        values[KCV] = key.check_value or b"\x00\x00\x00"
    else:
        assert key.public_key is not None  # only secret keys lack one
        spki = spki_der(key.public_key)
        modulus, exponent, public_len = _public_material(key)
        values |= {
            VALUE_LEN: _u32(public_len if public else private_value_len(key.spec)),
            KCV: hashlib.sha1(spki).digest()[:3], EKCV: hashlib.sha256(spki).digest(),
            MODULUS: modulus, VENDOR_80000000: _u32(0x500),
            MODULUS_BITS: _u32(key.spec.bits if exponent is not None else ec_modulus_bits),
        }
        if exponent is not None:
            values[PUBLIC_EXPONENT] = exponent
    order = expected_order(object_class, code)
    assert order is not None
    return KeyObject(handle, tuple(Attribute(t, values[t]) for t in order))


# -- bounded parsing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Framing:
    """What the response header says, checked against the real length (the minimum to verify a signature)."""

    response_code: int
    request_flags: int
    total_size: int
    buffer_size: int
    header_size: int

    @property
    def signed(self) -> slice:
        """The signed range: everything before the signature."""
        return slice(0, self.total_size - SIGNATURE_BYTES)


@dataclass(frozen=True)
class ParsedBlob:
    """A fully parsed blob: framing, info header, objects, header extra and the signature."""

    framing: Framing
    header_style: HeaderStyle
    object_version: int
    info_flags: int
    offset_second: int
    objects: tuple[KeyObject, ...]
    signature: bytes


def read_framing(blob: bytes) -> Framing:
    """Check the response header against the bytes present; raise MALFORMED/LIMIT_EXCEEDED/UNSUPPORTED.

    Guarantees on return: ``totalSize`` equals the real length, and the header is 16..32 bytes.
    """
    if len(blob) > MAX_BLOB_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"attestation blob is {len(blob)} bytes (limit {MAX_BLOB_BYTES})")
    if len(blob) < 16 + 8 + 12 + SIGNATURE_BYTES:
        raise Rejected(Reason.MALFORMED, f"attestation blob is only {len(blob)} bytes")
    code, flags, total, buffer = struct.unpack_from(">IIII", blob)
    if total != len(blob):
        raise Rejected(Reason.MALFORMED, f"totalSize is {total} but the blob is {len(blob)} bytes")
    if code != 0:
        raise Rejected(Reason.MALFORMED, f"responseCode is {code:#x}, not 0 (an error response)")
    if flags & FLAG_EXCLUDE_HEADER:
        raise Rejected(Reason.UNSUPPORTED, "requestFlags has EXCLUDE_HEADER: the response header is not signed")
    if flags != RESPONSE_FLAGS:
        raise Rejected(Reason.MALFORMED, f"requestFlags is {flags:#x}, not GET_ATTR|GET_ATTEST (0x3)")
    header = total - buffer - SIGNATURE_BYTES
    if buffer > total or header not in (16, 20, 24, 32):
        raise Rejected(Reason.MALFORMED, f"bufferSize {buffer} leaves a {header}-byte response header "
                                         "(16, 20, 24 or 32 expected)")
    return Framing(code, flags, total, buffer, header)


_TLV_HEADER = struct.Struct(">II")


def _parse_object(data: bytes, offset: int, end: int) -> tuple[KeyObject, int]:
    if offset + 12 > end:
        raise Rejected(Reason.MALFORMED, f"object header at {offset} runs past the attest data")
    handle, count, size = struct.unpack_from(">III", data, offset)
    if count > MAX_ATTRIBUTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"object {handle:#x} claims {count} attributes (limit {MAX_ATTRIBUTES})")
    start = offset + 12
    if size > end - start:
        raise Rejected(Reason.MALFORMED, f"objectSize {size} of object {handle:#x} runs past the attest data")
    if count * 8 > size:
        raise Rejected(Reason.MALFORMED, f"object {handle:#x}: {count} attributes cannot fit in {size} bytes")
    position, limit = start, start + size
    attributes = []
    for index in range(count):
        if position + 8 > limit:
            raise Rejected(Reason.MALFORMED, f"attribute {index} of object {handle:#x} runs past objectSize")
        attr_type, length = _TLV_HEADER.unpack_from(data, position)
        position += 8
        if length > limit - position:
            raise Rejected(Reason.MALFORMED, f"attribute {attr_type:#010x} length {length} runs past objectSize "
                                             f"of object {handle:#x}")
        attributes.append(Attribute(attr_type, data[position:position + length]))
        position += length
    if position != limit:
        raise Rejected(Reason.MALFORMED, f"object {handle:#x}: {limit - position} bytes left after {count} "
                                         "attributes (objectSize disagrees with the TLVs)")
    return KeyObject(handle, tuple(attributes)), limit


def parse_blob(blob: bytes) -> ParsedBlob:
    """Parse every structure of an uncompressed blob; raise MALFORMED, LIMIT_EXCEEDED or UNSUPPORTED.

    Guarantees on return: totalSize and bufferSize match the bytes, the info header's offsets point
    at the objects, every TLV lies inside its object and the TLVs fill objectSize exactly, and header
    extras (bufferSize copy or handles) agree with the attest data.
    """
    framing = read_framing(blob)
    start = framing.header_size
    end = start + framing.buffer_size
    version, info_flags, first, second = struct.unpack_from(">HHHH", blob, start)
    if version != OBJECT_VERSION:
        raise Rejected(Reason.UNSUPPORTED, f"objectVersion {version} (hsmsim knows FW 3.x objectVersion 1)")
    if info_flags & ~0x7:
        raise Rejected(Reason.MALFORMED, f"info header requestFlags {info_flags:#x} has unknown bits")
    if first != 8:
        raise Rejected(Reason.MALFORMED, f"offsetFirstKey is {first}, not 8")
    first_object, after = _parse_object(blob, start + 8, end)
    objects = [first_object]
    if second:
        if second != after - start:
            raise Rejected(Reason.MALFORMED, f"offsetSecondKey is {second} but the first object ends at "
                                             f"{after - start}")
        second_object, after = _parse_object(blob, after, end)
        objects.append(second_object)
    if after != end:
        raise Rejected(Reason.MALFORMED, f"bufferSize {framing.buffer_size} but the info header and objects "
                                         f"take {after - start} bytes")
    extra = blob[16:start]
    if not extra:
        style = HeaderStyle.BARE
    elif len(extra) == 4:
        if struct.unpack(">I", extra)[0] != framing.buffer_size:
            raise Rejected(Reason.MALFORMED, "the 20-byte response header's extra word is not bufferSize")
        style = HeaderStyle.BUFFER_SIZE
    elif len(extra) == 8 * len(objects):
        handles = [struct.unpack_from(">Q", extra, 8 * i)[0] for i in range(len(objects))]
        if handles != [o.handle for o in objects]:
            raise Rejected(Reason.MALFORMED, f"response header handles {[hex(h) for h in handles]} differ from "
                                             f"the objects' {[hex(o.handle) for o in objects]}")
        style = HeaderStyle.HANDLES
    else:
        raise Rejected(Reason.MALFORMED, f"a {framing.header_size}-byte response header does not fit "
                                         f"{len(objects)} object(s)")
    return ParsedBlob(framing, style, version, info_flags, second, tuple(objects), blob[-SIGNATURE_BYTES:])


# -- reading one object ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ObjectKey:
    """The key an object describes: class, type, SPKI (None for secret keys), a name and the size."""

    object_class: int
    key_type: int
    spki: bytes | None
    description: str
    size: int | None


def byte_value(obj: KeyObject, attr: int) -> int | None:
    """A one-byte attribute's value (None when absent); MALFORMED when it is not exactly one byte."""
    value = obj.get(attr)
    if value is None:
        return None
    if len(value) != 1:
        raise Rejected(Reason.MALFORMED, f"{ATTRIBUTE_NAMES[attr]} is {len(value)} bytes, not 1")
    return value[0]


def check_encodings(obj: KeyObject) -> None:
    """Reject duplicated attributes (ATTR_CONFLICT), booleans other than 00/01, a CLASS or KEY_TYPE that
    is not one byte or absent, a MODULUS_BITS that is not a 4-byte CK_ULONG, and a LABEL or ID that is not UTF-8.
    A value of the wrong width breaks the format (MALFORMED), whichever attribute it is."""
    duplicates = obj.duplicated_types
    if duplicates:
        names = [ATTRIBUTE_NAMES.get(t, f"{t:#010x}") for t in duplicates]
        raise Rejected(Reason.ATTR_CONFLICT, f"object {obj.handle:#x} carries {', '.join(names)} more than once")
    for attr in BOOLEAN_ATTRIBUTES:
        value = obj.get(attr)
        if value is not None and value not in (b"\x00", b"\x01"):
            raise Rejected(Reason.MALFORMED, f"{ATTRIBUTE_NAMES[attr]} is {value.hex()}, not 00 or 01")
    for attr in (CLASS, KEY_TYPE):
        if byte_value(obj, attr) is None:
            raise Rejected(Reason.ATTR_MISSING, f"object {obj.handle:#x} has no {ATTRIBUTE_NAMES[attr]}")
    bits = obj.get(MODULUS_BITS)
    if bits is not None and len(bits) != 4:
        raise Rejected(Reason.MALFORMED, f"{ATTRIBUTE_NAMES[MODULUS_BITS]} is {len(bits)} bytes, not a 4-byte CK_ULONG")
    for attr in (LABEL, ID):
        value = obj.get(attr)
        try:
            (value or b"").rstrip(b"\x00").decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(Reason.MALFORMED, f"{ATTRIBUTE_NAMES[attr]} is not UTF-8") from None


def text_value(obj: KeyObject, attr: int) -> str:
    """A LABEL/ID value without its NUL padding (call :func:`check_encodings` first)."""
    return (obj.get(attr) or b"").rstrip(b"\x00").decode("utf-8")


def object_key(obj: KeyObject) -> ObjectKey:
    """The public key an object describes, cross-checked with KEY_TYPE, MODULUS_BITS, and KCV and EKCV when present."""
    object_class, key_type = byte_value(obj, CLASS), byte_value(obj, KEY_TYPE)
    assert object_class is not None and key_type is not None
    if object_class == ObjectClass.SECRET_KEY:
        if key_type not in (KeyTypeCode.AES, KeyTypeCode.GENERIC_SECRET, KeyTypeCode.DES3):
            raise Rejected(Reason.ATTR_CONFLICT, f"a secret-key object has KEY_TYPE {key_type:#04x}")
        kcv = obj.get(KCV)
        if kcv is not None and len(kcv) != 3:
            raise Rejected(Reason.MALFORMED, f"KCV is {len(kcv)} bytes, not 3")
        length = obj.get(VALUE_LEN)
        size = int.from_bytes(length, "big") * 8 if length is not None and len(length) == 4 else None
        name = {KeyTypeCode.AES: "AES", KeyTypeCode.DES3: "DES3"}.get(KeyTypeCode(key_type), "SECRET")
        return ObjectKey(object_class, key_type, None, name, size)
    modulus = obj.get(MODULUS)
    if modulus is None:
        raise Rejected(Reason.ATTR_MISSING, f"object {obj.handle:#x} has no MODULUS")
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    if key_type == KeyTypeCode.RSA:
        exponent = obj.get(PUBLIC_EXPONENT)
        if len(modulus) < 128:
            raise Rejected(Reason.ATTR_CONFLICT, f"KEY_TYPE is RSA but MODULUS is {len(modulus)} bytes")
        if exponent is None:
            raise Rejected(Reason.ATTR_MISSING, "the RSA object has no PUBLIC_EXPONENT")
        try:
            public = rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"),
                                          int.from_bytes(modulus, "big")).public_key()
        except ValueError as exc:
            raise Rejected(Reason.MALFORMED, f"MODULUS/PUBLIC_EXPONENT are not an RSA key: {exc}") from None
        bits = obj.get(MODULUS_BITS)
        if bits is not None and int.from_bytes(bits, "big") != public.key_size:
            raise Rejected(Reason.ATTR_CONFLICT, f"MODULUS_BITS {shown_int(int.from_bytes(bits, 'big'))} contradicts a "
                                                 f"{public.key_size}-bit modulus")
        description, size = "RSA", public.key_size
    elif key_type == KeyTypeCode.EC:
        curve = EC_CURVES.get(len(modulus))
        if curve is None or modulus[:1] != b"\x04":
            raise Rejected(Reason.ATTR_CONFLICT, f"KEY_TYPE is EC but MODULUS is {len(modulus)} bytes, "
                                                 "not an uncompressed point")
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(curve, modulus)
        except ValueError:
            raise Rejected(Reason.MALFORMED, "MODULUS is not a point on the curve") from None
        description, size = f"EC-{curve.name}", curve.key_size
    else:
        raise Rejected(Reason.ATTR_CONFLICT, f"an asymmetric object has KEY_TYPE {key_type:#04x}")
    spki = spki_der(public)
    kcv, ekcv = obj.get(KCV), obj.get(EKCV)
    if kcv is not None and kcv != hashlib.sha1(spki).digest()[:3]:
        raise Rejected(Reason.ATTR_CONFLICT, "KCV is not SHA-1(SubjectPublicKeyInfo)[:3] of the attested key")
    if ekcv is not None and ekcv != hashlib.sha256(spki).digest():
        raise Rejected(Reason.ATTR_CONFLICT, "EKCV is not SHA-256(SubjectPublicKeyInfo) of the attested key")
    return ObjectKey(object_class, key_type, spki, description, size)


def require_check_values(obj: KeyObject) -> None:
    """Strict profile: the object carries its check values, as every real blob does (KCV; EKCV too for an asymmetric
    key). ``marvell.md`` 7.12 defines them only "if emitted", so :func:`object_key` checks them when present."""
    wanted = (KCV,) if byte_value(obj, CLASS) == ObjectClass.SECRET_KEY else (KCV, EKCV)
    missing = [ATTRIBUTE_NAMES[attr] for attr in wanted if obj.get(attr) is None]
    if missing:
        raise Rejected(Reason.ATTR_MISSING, f"object {obj.handle:#x} lacks {' and '.join(missing)}")


def check_layout(objects: list[KeyObject]) -> None:
    """Strict profile: every object has exactly the FW 3.x attribute sequence and 128-byte LABEL/ID."""
    for obj in objects:
        order = expected_order(byte_value(obj, CLASS) or 0, byte_value(obj, KEY_TYPE) or 0)
        if order is not None and obj.types != order:
            missing = [ATTRIBUTE_NAMES.get(t, hex(t)) for t in order if t not in obj.types]
            extra = [ATTRIBUTE_NAMES.get(t, f"{t:#010x}") for t in obj.types if t not in order]
            what = f"missing {missing}" if missing else f"unknown {extra}" if extra else "reordered"
            raise Rejected(Reason.UNEXPECTED_CONTENT,
                           f"object {obj.handle:#x} differs from the FW 3.x attribute layout ({what})")
        for attr in (LABEL, ID):
            value = obj.get(attr)
            if value is not None and len(value) != FIXED_TEXT_BYTES:
                raise Rejected(Reason.UNEXPECTED_CONTENT, f"{ATTRIBUTE_NAMES[attr]} is {len(value)} bytes, "
                                                          f"not NUL-padded to {FIXED_TEXT_BYTES}")


def flag_value(obj: KeyObject, attr: int) -> bool:
    """A boolean attribute; ATTR_MISSING when absent (call :func:`check_encodings` first)."""
    value = obj.get(attr)
    if value is None:
        raise Rejected(Reason.ATTR_MISSING, f"{ATTRIBUTE_NAMES[attr]} is missing")
    return value == b"\x01"
