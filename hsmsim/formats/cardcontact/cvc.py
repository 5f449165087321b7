"""Card-verifiable certificates and requests (BSI TR-03110 part 3, TR-03111, ISO 7816-8) as the SmartCard-HSM
writes them.

The layout, with sources and guesses, is in ``docs/formats/cardcontact.md``. Every reader here is strict and
bounded: BER-TLV with one- or two-byte tags and definite lengths of at most three length octets, children in
the order the card writes them, no bytes after the last one; a violation raises :class:`CvcError` (the verifier
maps it to MALFORMED).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

T_AUTH_REQUEST = 0x67
T_CVC = 0x7F21
T_BODY = 0x7F4E
T_CPI = 0x5F29
T_CAR = 0x42
T_PUBKEY = 0x7F49
T_CHR = 0x5F20
T_CHAT = 0x7F4C
T_EFFECTIVE = 0x5F25
T_EXPIRY = 0x5F24
T_EXTENSIONS = 0x65
T_SIGNATURE = 0x5F37
T_OID = 0x06
T_DISCRETIONARY = 0x53

ECDSA_SHA256 = "0.4.0.127.0.7.2.2.2.2.3"
"""id-TA-ECDSA-SHA-256 (TR-03110): the key's algorithm and the signature scheme of everything it signs."""
RSA_V15_SHA256 = "0.4.0.127.0.7.2.2.2.1.2"
"""id-TA-RSA-v1-5-SHA-256 (TR-03110)."""
SC_HSM_ROLE_OID = "1.3.6.1.4.1.24991.3.1.1"
"""The CHAT's role OID in every SmartCard-HSM PKI certificate (CardContact's arc 1.3.6.1.4.1.24991)."""
ROLE_ROOT, ROLE_ISSUER, ROLE_DEVICE = 0xC0, 0x80, 0x00
"""The CHAT role byte of the SRCA, a DICA and a device certificate, as in the real ones."""

MAX_LENGTH_OCTETS = 3
MAX_INPUT = 64 * 1024
"""Bytes read from one file: EF.C_DevAut is about 470 bytes, an RSA-4096 request about 1.2 KB."""


class CvcError(ValueError):
    """The bytes are not a CV structure as the card writes it (what and where in the message)."""


class CvcLimitError(CvcError):
    """The input exceeds :data:`MAX_INPUT`."""


@dataclass(frozen=True)
class Tlv:
    """One BER-TLV: its tag (one or two bytes as an int), its content, and its full encoding."""

    tag: int
    value: bytes
    raw: bytes


def _read(data: bytes, pos: int) -> tuple[Tlv, int]:
    size = len(data)
    if pos >= size:
        raise CvcError("truncated TLV: no tag")
    tag, cur = data[pos], pos + 1
    if tag & 0x1F == 0x1F:
        if cur >= size:
            raise CvcError("truncated TLV: two-byte tag cut")
        if data[cur] & 0x80:
            raise CvcError("tag longer than two bytes")
        tag, cur = (tag << 8) | data[cur], cur + 1
    if cur >= size:
        raise CvcError(f"truncated TLV {tag:X}: no length")
    first, cur = data[cur], cur + 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > MAX_LENGTH_OCTETS:
            raise CvcError(f"TLV {tag:X}: indefinite or over-long length")
        if cur + count > size:
            raise CvcError(f"truncated TLV {tag:X}: length cut")
        length = int.from_bytes(data[cur:cur + count], "big")
        if length < 0x80 or (count > 1 and data[cur] == 0):
            raise CvcError(f"TLV {tag:X}: length not in its shortest form")
        cur += count
    end = cur + length
    if end > size:
        raise CvcError(f"truncated TLV {tag:X}: {length} content bytes declared, {size - cur} present")
    return Tlv(tag, data[cur:end], data[pos:end]), end


def parse_all(data: bytes) -> list[Tlv]:
    """Every TLV concatenated in ``data``; raises :class:`CvcError` for a truncated or malformed one."""
    out, pos = [], 0
    while pos < len(data):
        tlv, pos = _read(data, pos)
        out.append(tlv)
    return out


def encode(tag: int, value: bytes) -> bytes:
    """The TLV of ``tag`` (one or two bytes) and ``value``, its length in the shortest form."""
    head = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return head + length + value


def _children(parent: Tlv, shape: tuple[tuple[int, bool], ...], where: str) -> dict[int, Tlv]:
    """``parent``'s children matched in order against ``shape`` ((tag, required), ...); nothing else allowed."""
    kids = parse_all(parent.value)
    found: dict[int, Tlv] = {}
    index = 0
    for tag, required in shape:
        if index < len(kids) and kids[index].tag == tag:
            found[tag] = kids[index]
            index += 1
        elif required:
            got = f"{kids[index].tag:X}" if index < len(kids) else "nothing"
            raise CvcError(f"{where}: expected tag {tag:X}, found {got}")
    if index != len(kids):
        raise CvcError(f"{where}: unexpected tag {kids[index].tag:X}")
    return found


def oid_dotted(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content octets; raises :class:`CvcError`."""
    if not content or content[-1] & 0x80:
        raise CvcError("OID content empty or cut")
    arcs, value = [], 0
    for index, byte in enumerate(content):
        if value == 0 and byte == 0x80 and (index == 0 or not content[index - 1] & 0x80):
            raise CvcError("OID arc with a leading 0x80")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def oid_content(dotted: str) -> bytes:
    """The content octets of the OBJECT IDENTIFIER ``dotted``."""
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray()
    for arc in (parts[0] * 40 + parts[1], *parts[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


# --- domain parameters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """A named prime curve as TR-03111 writes it in a CV public key: p, a, b, G (uncompressed), n, cofactor."""

    name: str
    curve: ec.EllipticCurve
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int

    @property
    def size(self) -> int:
        """Bytes of one field element."""
        return (self.p.bit_length() + 7) // 8

    def elements(self) -> dict[int, bytes]:
        """The 81..85 and 87 elements, each as the card encodes it (field-size big-endian; cofactor 01)."""
        s = self.size
        g = b"\x04" + self.gx.to_bytes(s, "big") + self.gy.to_bytes(s, "big")
        return {0x81: self.p.to_bytes(s, "big"), 0x82: self.a.to_bytes(s, "big"), 0x83: self.b.to_bytes(s, "big"),
                0x84: g, 0x85: self.n.to_bytes(s, "big"), 0x87: b"\x01"}


def _curve(name: str, curve: ec.EllipticCurve, p: str, a: str, b: str, gx: str, gy: str, n: str) -> Curve:
    return Curve(name, curve, *(int(v, 16) for v in (p, a, b, gx, gy, n)))


CURVES = (
    _curve("brainpoolP256r1", ec.BrainpoolP256R1(),
           "A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
           "7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
           "26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
           "8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262",
           "547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
           "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7"),
    _curve("secp256r1", ec.SECP256R1(),
           "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF",
           "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC",
           "5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B",
           "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296",
           "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
           "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"),
    _curve("secp384r1", ec.SECP384R1(),
           "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF",
           "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFC",
           "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF",
           "AA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7",
           "3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F",
           "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973"),
    _curve("secp256k1", ec.SECP256K1(),
           "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F",
           "0000000000000000000000000000000000000000000000000000000000000000",
           "0000000000000000000000000000000000000000000000000000000000000007",
           "79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798",
           "483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8",
           "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"),
)
BRAINPOOL_P256 = CURVES[0]
CURVE_OF_KEY = {c.curve.name: c for c in CURVES}


_CURVE_ELEMENTS = tuple((curve, tuple(curve.elements().items())) for curve in CURVES)
"""Each of :data:`CURVES` with its elements, encoded once."""


def curve_of(elements: dict[int, bytes]) -> Curve:
    """The named curve whose parameters ``elements`` (81..85, 87) are; raises :class:`CvcError` for any other set."""
    for curve, encoded in _CURVE_ELEMENTS:
        if all(elements.get(tag) == value for tag, value in encoded):
            return curve
    raise CvcError("the public key's domain parameters are no curve the SmartCard-HSM generates on")


# --- public keys ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CvPublicKey:
    """A 7F49 public key: its algorithm OID, its elements by tag, and (EC) the curve it names or inherits."""

    oid: str
    elements: dict[int, bytes]

    @property
    def is_ec(self) -> bool:
        """True for an ECDSA key (point in 86)."""
        return self.oid == ECDSA_SHA256

    @property
    def has_domain(self) -> bool:
        """True when the key carries its domain parameters (81..85, 87) rather than inheriting its issuer's."""
        return 0x81 in self.elements

    def ec_key(self, inherited: Curve | None) -> ec.EllipticCurvePublicKey:
        """The EC key on its own parameters, else on ``inherited``; raises :class:`CvcError`."""
        curve = curve_of(self.elements) if self.has_domain else inherited
        if curve is None:
            raise CvcError("an EC public key without domain parameters and no issuer to inherit them from")
        point = self.elements.get(0x86, b"")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve.curve, point)
        except ValueError:
            raise CvcError("the public point is not an uncompressed point of its curve") from None

    def rsa_key(self) -> rsa.RSAPublicKey:
        """The RSA key of 81 (modulus) and 82 (exponent); raises :class:`CvcError`."""
        n = int.from_bytes(self.elements.get(0x81, b""), "big")
        e = int.from_bytes(self.elements.get(0x82, b""), "big")
        if n.bit_length() < 1024 or e < 3 or e % 2 == 0:
            raise CvcError("an RSA public key without a usable modulus and odd exponent")
        return rsa.RSAPublicNumbers(e, n).public_key()


def parse_public_key(tlv: Tlv) -> CvPublicKey:
    """A 7F49: an OID then context elements 81..87 in ascending order, none repeated; raises :class:`CvcError`."""
    kids = parse_all(tlv.value)
    if not kids or kids[0].tag != T_OID:
        raise CvcError("public key: no algorithm OID first")
    oid = oid_dotted(kids[0].value)
    elements: dict[int, bytes] = {}
    last = 0x80
    for kid in kids[1:]:
        if not 0x81 <= kid.tag <= 0x87 or kid.tag <= last:
            raise CvcError(f"public key: element {kid.tag:X} out of place")
        elements[kid.tag] = kid.value
        last = kid.tag
    allowed: tuple[set[int], ...]
    if oid == ECDSA_SHA256:
        allowed = ({0x86}, {0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87})
    elif oid == RSA_V15_SHA256:
        allowed = ({0x81, 0x82},)
    else:
        raise CvcUnsupportedError(f"public key algorithm {oid} is not one the SmartCard-HSM uses")
    if set(elements) not in allowed:
        raise CvcError(f"public key {oid}: elements {sorted(f'{t:X}' for t in elements)} do not fit it")
    return CvPublicKey(oid, elements)


class CvcUnsupportedError(CvcError):
    """A well-formed structure using an algorithm the SmartCard-HSM (and this verifier) does not."""


def encode_public_key(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, *, domain: bool) -> bytes:
    """The 7F49 of ``key``: EC with (``domain``) or without its parameters, RSA as modulus and exponent."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return encode(T_PUBKEY, encode(T_OID, oid_content(RSA_V15_SHA256)) + encode(0x81, n) + encode(0x82, e))
    curve = CURVE_OF_KEY[key.curve.name]
    point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    elements = curve.elements() if domain else {}
    elements[0x86] = point
    body = encode(T_OID, oid_content(ECDSA_SHA256)) + b"".join(encode(t, elements[t]) for t in sorted(elements))
    return encode(T_PUBKEY, body)


# --- certificates and requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CvCertificate:
    """A 7F21: the body's fields, the body's full TLV (what the signature covers) and the signature."""

    raw: bytes
    body: bytes
    car: str | None
    chr: str
    public_key: CvPublicKey
    role_oid: str | None
    role: int | None
    effective: date | None
    expiry: date | None
    extensions: bytes | None
    signature: bytes


def _text(tlv: Tlv, what: str) -> str:
    if not 1 <= len(tlv.value) <= 16 or not all(0x20 <= b < 0x7F for b in tlv.value):
        raise CvcError(f"{what} is not 1 to 16 printable characters")
    return tlv.value.decode("ascii")


def parse_date(value: bytes) -> date:
    """A TR-03110 date: six unpacked BCD digits YYMMDD, year 20YY; raises :class:`CvcError`."""
    if len(value) != 6 or any(d > 9 for d in value):
        raise CvcError("a date is not six unpacked BCD digits")
    try:
        return date(2000 + value[0] * 10 + value[1], value[2] * 10 + value[3], value[4] * 10 + value[5])
    except ValueError:
        raise CvcError("a date names no calendar day") from None


def encode_date(day: date) -> bytes:
    """``day`` as six unpacked BCD digits YYMMDD."""
    return bytes(int(c) for c in f"{day:%y%m%d}")


def parse_certificate(tlv: Tlv, *, request: bool) -> CvCertificate:
    """A 7F21 as a certificate (CAR, CHAT and dates required) or as a request's inner part (none of them, the
    CAR optional); raises :class:`CvcError`."""
    if tlv.tag != T_CVC:
        raise CvcError(f"expected a CV certificate (7F21), found tag {tlv.tag:X}")
    where = "request" if request else "certificate"
    outer = _children(tlv, ((T_BODY, True), (T_SIGNATURE, True)), where)
    body = outer[T_BODY]
    shape = (((T_CPI, True), (T_CAR, False), (T_PUBKEY, True), (T_CHR, True)) if request else
             ((T_CPI, True), (T_CAR, True), (T_PUBKEY, True), (T_CHR, True), (T_CHAT, True),
              (T_EFFECTIVE, True), (T_EXPIRY, True), (T_EXTENSIONS, False)))
    fields = _children(body, shape, f"{where} body")
    if fields[T_CPI].value != b"\x00":
        raise CvcError(f"{where}: certificate profile identifier is not 00")
    role_oid = role = None
    if T_CHAT in fields:
        chat = _children(fields[T_CHAT], ((T_OID, True), (T_DISCRETIONARY, True)), "CHAT")
        role_oid = oid_dotted(chat[T_OID].value)
        if len(chat[T_DISCRETIONARY].value) != 1:
            raise CvcError("CHAT: the role is not one byte")
        role = chat[T_DISCRETIONARY].value[0]
    return CvCertificate(
        raw=tlv.raw, body=body.raw,
        car=_text(fields[T_CAR], "CAR") if T_CAR in fields else None,
        chr=_text(fields[T_CHR], "CHR"),
        public_key=parse_public_key(fields[T_PUBKEY]),
        role_oid=role_oid, role=role,
        effective=parse_date(fields[T_EFFECTIVE].value) if T_EFFECTIVE in fields else None,
        expiry=parse_date(fields[T_EXPIRY].value) if T_EXPIRY in fields else None,
        extensions=fields[T_EXTENSIONS].value if T_EXTENSIONS in fields else None,
        signature=outer[T_SIGNATURE].value,
    )


@dataclass(frozen=True)
class AuthenticatedRequest:
    """A 67: the inner request (7F21), the outer CAR (42), the outer signature, and the bytes it covers."""

    inner: CvCertificate
    outer_car: str
    outer_signed: bytes
    outer_signature: bytes


def _single(data: bytes, what: str) -> Tlv:
    if len(data) > MAX_INPUT:
        raise CvcLimitError(f"{what} is {len(data)} bytes, more than {MAX_INPUT}")
    tlv, end = _read(data, 0)
    if end != len(data):
        raise CvcError(f"{len(data) - end} bytes after the {what}")
    return tlv


def parse_authenticated_request(data: bytes) -> AuthenticatedRequest:
    """The whole of ``data`` as one authenticated request; raises :class:`CvcError`."""
    tlv = _single(data, "authenticated request")
    if tlv.tag != T_AUTH_REQUEST:
        raise CvcError(f"expected an authenticated request (67), found tag {tlv.tag:X}")
    parts = _children(tlv, ((T_CVC, True), (T_CAR, True), (T_SIGNATURE, True)), "authenticated request")
    inner = parse_certificate(parts[T_CVC], request=True)
    return AuthenticatedRequest(inner, _text(parts[T_CAR], "outer CAR"), parts[T_CVC].raw + parts[T_CAR].raw,
                                parts[T_SIGNATURE].value)


def parse_certificate_file(data: bytes, count: int, what: str) -> list[CvCertificate]:
    """Exactly ``count`` concatenated certificates filling ``data`` (EF.C_DevAut: device then DICA)."""
    if len(data) > MAX_INPUT:
        raise CvcLimitError(f"{what} is {len(data)} bytes, more than {MAX_INPUT}")
    tlvs = parse_all(data)
    if len(tlvs) != count:
        raise CvcError(f"{what} holds {len(tlvs)} top-level elements, not {count}")
    return [parse_certificate(t, request=False) for t in tlvs]


# --- signatures ----------------------------------------------------------------------------------------------


def ecdsa_plain(der: bytes, size: int) -> bytes:
    """A DER ECDSA signature as TR-03111 plain r || s, each ``size`` bytes."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def sign(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, data: bytes) -> bytes:
    """The signature the card writes over ``data``: plain ECDSA-SHA-256 (deterministic, RFC 6979) or RSA
    PKCS#1 v1.5 SHA-256."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    der = key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return ecdsa_plain(der, (key.curve.key_size + 7) // 8)


def verifies(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` (plain r || s for EC, of exactly twice the field size) is ``key``'s over ``data``."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return True
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            return False
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def on_day(moment: datetime) -> date:
    """The UTC calendar day of ``moment`` (CV validity is in whole days)."""
    return moment.astimezone(UTC).date()
