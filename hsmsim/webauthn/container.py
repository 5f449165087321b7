"""The WebAuthn registration container: attestation object (CBOR), authenticator data, COSE keys,
clientDataJSON, and the registration record hsmsim writes to disk.

Layout facts from ``shared/specs/other_formats.md`` 0 and WebAuthn Level 3 §6.1, §6.5, §5.8.1:

* attestationObject: CBOR map ``{"fmt": tstr, "attStmt": map, "authData": bstr}``, CTAP2
  canonical (keys sorted by encoded length, then bytes; shortest integer encodings).
* authData: rpIdHash(32) ‖ flags(1) ‖ signCount(u32) ‖ [aaguid(16) ‖ credIdLen(u16) ‖ credId ‖
  credentialPublicKey (COSE_Key)] ‖ [extensions (CBOR map)].
* clientDataJSON: ``{"type":"webauthn.create","challenge":<b64url>,"origin":...,"crossOrigin":false}``,
  compact, in that member order, as browsers serialise it.

Decoding is bounded: before cbor2 sees any bytes, :func:`cbor_item_end` walks the encoding and
rejects indefinite lengths, tags, floats, non-minimal integers, map keys other than integers and text strings
(CTAP2 canonical CBOR, RFC 9052 §7: a COSE label is an int or a tstr; cbor2 would fold ``true`` into ``1``),
duplicate map keys, nesting past :data:`MAX_CBOR_DEPTH` and lengths that run past the end (Rejected MALFORMED /
LIMIT_EXCEEDED).

The container is statement-format agnostic: each ``fmt`` is a :class:`hsmsim.webauthn.statements.StatementFormat`
registered by the family that owns it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hsmsim.encoding import indented_json, load_json, unique_json_members
from hsmsim.keystore.base import PublicKey
from hsmsim.verdict import Reason, Rejected
from hsmsim.webauthn.limits import MAX_ATTESTATION_OBJECT as MAX_ATTESTATION_OBJECT  # re-exported: the codec's bound

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40
FLAG_ED = 0x80
FLAG_RESERVED = 0x22

MAX_CBOR_DEPTH = 8
MAX_CLIENT_DATA = 16 * 1024
MAX_RSA_MODULUS_BYTES = 512
MAX_CREDENTIAL_ID = 1023
"""WebAuthn L3 §5.1: credential ids longer than 1023 bytes are refused by relying parties."""

COSE_ALGS = {-7: ("ES256", "sha256"), -35: ("ES384", "sha384"), -36: ("ES512", "sha512"),
             -257: ("RS256", "sha256"), -258: ("RS384", "sha384"), -259: ("RS512", "sha512"),
             -37: ("PS256", "sha256"), -65535: ("RS1", "sha1")}
"""COSE algorithm identifiers a WebAuthn verifier meets with a separate hash, and that hash."""
COSE_EDDSA = -8
"""EdDSA (Ed25519 credentials): hashes internally, so it is not in :data:`COSE_ALGS`."""
_COSE_CURVES: dict[int, type[ec.EllipticCurve]] = {1: ec.SECP256R1, 2: ec.SECP384R1, 3: ec.SECP521R1}
_ES_CURVE_IDS = {-7: 1, -35: 2, -36: 3}
"""The one crv each ECDSA alg takes (WebAuthn L3 §5.8.5, RFC 9053 §2.1): ES256 P-256, ES384 P-384, ES512 P-521."""
_COSE_CURVE_IDS = {"secp256r1": 1, "secp384r1": 2, "secp521r1": 3}


# -- bounded CBOR -------------------------------------------------------------------------------

def _head(data: bytes, pos: int) -> tuple[int, int, int]:
    """(major type, argument, position after the head) of the item at ``pos``."""
    if pos >= len(data):
        raise Rejected(Reason.MALFORMED, "CBOR item runs past the end")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info > 27:
        raise Rejected(Reason.MALFORMED, f"CBOR additional information {info} (indefinite or reserved) at {pos}")
    width = 1 << (info - 24)
    if pos + 1 + width > len(data):
        raise Rejected(Reason.MALFORMED, "CBOR argument runs past the end")
    value = int.from_bytes(data[pos + 1:pos + 1 + width], "big")
    if value < (24 if width == 1 else 1 << (4 * width)):
        raise Rejected(Reason.MALFORMED, f"CBOR argument at {pos} is not in its shortest form")
    return major, value, pos + 1 + width


def cbor_item_end(data: bytes, pos: int = 0) -> int:
    """The end offset of the one well-formed CBOR data item at ``pos`` (WebAuthn's subset: every map key an integer
    or a text string, none twice).

    Raises Rejected: LIMIT_EXCEEDED past :data:`MAX_CBOR_DEPTH`; ATTR_CONFLICT for a map key twice; MALFORMED for
    anything else.
    """
    size = len(data)
    # The containers the scan is inside, innermost last, as [items left, the keys a map holds so far (None in
    # an array), where the map key being read starts (-1 while a map value or an array item is read)]. A loop
    # rather than recursion: this runs over every attestation object before it is decoded.
    open_containers: list[list[Any]] = []
    while True:
        if len(open_containers) > MAX_CBOR_DEPTH:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"CBOR nests deeper than {MAX_CBOR_DEPTH}")
        if pos < size and data[pos] & 0x1F < 24:  # most items: the argument is in the initial byte
            major, value, pos = data[pos] >> 5, data[pos] & 0x1F, pos + 1
        else:
            major, value, pos = _head(data, pos)
        if major in (2, 3):
            if value > size - pos:
                raise Rejected(Reason.MALFORMED, "CBOR string runs past the end")
            if major == 3:
                try:
                    data[pos:pos + value].decode("utf-8")
                except UnicodeDecodeError:
                    raise Rejected(Reason.MALFORMED, "CBOR text string is not UTF-8") from None
            pos += value
        elif major in (4, 5):
            if value > size - pos:  # every item takes at least one byte
                raise Rejected(Reason.MALFORMED, "CBOR container announces more items than bytes remain")
            if value:
                open_containers.append([value, set(), pos] if major == 5 else [value, None, -1])
                continue
        elif major == 6:
            raise Rejected(Reason.MALFORMED, "CBOR tags are not used in WebAuthn structures")
        elif major == 7 and value not in (20, 21, 22):
            raise Rejected(Reason.MALFORMED, f"CBOR simple value or float {value} is not used in WebAuthn structures")
        # An item ends at ``pos``: it is a map key, or it ends the containers it is the last item of.
        while open_containers:
            container = open_containers[-1]
            keys = container[1]
            if container[2] >= 0:
                if data[container[2]] >> 5 not in (0, 1, 3):
                    raise Rejected(Reason.MALFORMED, "a CBOR map key is not an integer or a text string")
                key = data[container[2]:pos]
                if key in keys:
                    raise Rejected(Reason.ATTR_CONFLICT, "a CBOR map holds the same key twice")
                keys.add(key)
                container[2] = -1
                break
            container[0] -= 1
            if container[0]:
                if keys is not None:
                    container[2] = pos
                break
            open_containers.pop()
        if not open_containers:
            return pos


def cbor_decode(data: bytes, what: str) -> Any:
    """Decode exactly one bounded CBOR item filling ``data``."""
    end = cbor_item_end(data)
    if end != len(data):
        raise Rejected(Reason.MALFORMED, f"{what}: {len(data) - end} bytes after the CBOR item")
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:  # pre-scanned, so unexpected
        raise Rejected(Reason.MALFORMED, f"{what} does not decode: {str(exc)[:80]}") from None


def cbor_encode(value: object) -> bytes:
    """CTAP2 canonical CBOR."""
    return cbor2.dumps(value, canonical=True)


# -- COSE keys ----------------------------------------------------------------------------------

def cose_key(public_key: PublicKey, alg: int) -> dict[int, object]:
    """The COSE_Key map of an RSA, EC or Ed25519 public key for COSE algorithm ``alg``."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return {1: 1, 3: alg, -1: 6, -2: public_key.public_bytes_raw()}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        width = (public_key.curve.key_size + 7) // 8
        return {1: 2, 3: alg, -1: _COSE_CURVE_IDS[public_key.curve.name],
                -2: numbers.x.to_bytes(width, "big"), -3: numbers.y.to_bytes(width, "big")}
    assert isinstance(public_key, rsa.RSAPublicKey)
    rsa_numbers = public_key.public_numbers()
    n, e = rsa_numbers.n, rsa_numbers.e
    return {1: 3, 3: alg, -1: n.to_bytes((n.bit_length() + 7) // 8, "big"),
            -2: e.to_bytes((e.bit_length() + 7) // 8, "big")}


def cose_alg_for(public_key: PublicKey) -> int:
    """The COSE algorithm a credential of this key type announces (ES256/ES384/ES512, EdDSA or RS256)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": -7, "secp384r1": -35, "secp521r1": -36}[public_key.curve.name]
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return COSE_EDDSA
    return -257


def parse_cose_key(key: object) -> PublicKey:
    """The public key of a COSE_Key map whose alg fits its kty and, for ES256/ES384/ES512, its crv (P-256/P-384/P-521,
    WebAuthn L3 §5.8.5); Rejected MALFORMED / UNSUPPORTED."""
    if not isinstance(key, dict):
        raise Rejected(Reason.MALFORMED, "credentialPublicKey is not a CBOR map")
    kty, alg = key.get(1), key.get(3)
    if not isinstance(alg, int) or (alg not in COSE_ALGS and alg != COSE_EDDSA):
        raise Rejected(Reason.UNSUPPORTED, f"credentialPublicKey alg {alg!r} is not supported")
    name = "EdDSA" if alg == COSE_EDDSA else COSE_ALGS[alg][0]
    if (kty == 2) != name.startswith("ES") or (kty == 1) != (name == "EdDSA"):
        raise Rejected(Reason.MALFORMED, f"credentialPublicKey alg {name} does not fit kty {kty!r}")
    try:
        if kty == 2:
            crv = key.get(-1)
            curve_class = None if isinstance(crv, bool) else _COSE_CURVES.get(crv)  # type: ignore[arg-type]
            x, y = key.get(-2), key.get(-3)
            if curve_class is None or not isinstance(x, bytes) or not isinstance(y, bytes):
                raise Rejected(Reason.MALFORMED, "EC2 credentialPublicKey lacks crv, x or y")
            if crv != _ES_CURVE_IDS[alg]:
                raise Rejected(Reason.MALFORMED, f"credentialPublicKey alg {name} does not fit crv {crv}")
            curve = curve_class()
            width = (curve.key_size + 7) // 8
            if len(x) != width or len(y) != width:
                raise Rejected(Reason.MALFORMED, "EC2 credentialPublicKey coordinates have the wrong length")
            public: PublicKey = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve).public_key()
        elif kty == 1:
            x = key.get(-2)
            if key.get(-1) != 6 or not isinstance(x, bytes) or len(x) != 32:
                raise Rejected(Reason.MALFORMED, "OKP credentialPublicKey is not an Ed25519 key (crv 6, 32-byte x)")
            public = ed25519.Ed25519PublicKey.from_public_bytes(x)
        elif kty == 3:
            n, e = key.get(-1), key.get(-2)
            if not isinstance(n, bytes) or not isinstance(e, bytes) or not n or not e:
                raise Rejected(Reason.MALFORMED, "RSA credentialPublicKey lacks n or e")
            if len(n) > MAX_RSA_MODULUS_BYTES or len(e) > 8:
                raise Rejected(Reason.UNSUPPORTED, f"RSA credentialPublicKey of {len(n) * 8} bits or a "
                                                   f"{len(e)}-byte exponent")
            public = rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()
        else:
            raise Rejected(Reason.UNSUPPORTED, f"credentialPublicKey kty {kty!r} is not OKP, EC2 or RSA")
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"credentialPublicKey is not a valid key: {str(exc)[:60]}") from None
    return public


# -- authenticator data -------------------------------------------------------------------------

@dataclass(frozen=True)
class AttestedCredential:
    """attestedCredentialData: AAGUID, credential id and the COSE_Key as encoded."""

    aaguid: bytes
    credential_id: bytes
    public_key_cbor: bytes

    def marshal(self) -> bytes:
        """aaguid ‖ credIdLen(u16) ‖ credId ‖ credentialPublicKey."""
        return (self.aaguid + len(self.credential_id).to_bytes(2, "big") + self.credential_id
                + self.public_key_cbor)


@dataclass(frozen=True)
class AuthenticatorData:
    """authenticatorData. ``flags`` is the raw byte, so a verifier can see each bit as sent."""

    rp_id_hash: bytes
    flags: int
    sign_count: int
    credential: AttestedCredential | None = None
    extensions: bytes | None = None

    def marshal(self) -> bytes:
        """The exact authData bytes."""
        out = self.rp_id_hash + bytes([self.flags]) + self.sign_count.to_bytes(4, "big")
        if self.credential is not None:
            out += self.credential.marshal()
        return out + (self.extensions or b"")

    @classmethod
    def parse(cls, data: bytes) -> AuthenticatorData:
        """Parse authData strictly: the AT and ED flags must match what follows, nothing may trail."""
        if len(data) < 37:
            raise Rejected(Reason.MALFORMED, f"authData is {len(data)} bytes, shorter than 37")
        flags = data[32]
        pos = 37
        credential = None
        if flags & FLAG_AT:
            if len(data) < pos + 18:
                raise Rejected(Reason.MALFORMED, "authData: attestedCredentialData is truncated")
            aaguid = data[pos:pos + 16]
            id_len = int.from_bytes(data[pos + 16:pos + 18], "big")
            pos += 18
            if id_len > MAX_CREDENTIAL_ID:
                raise Rejected(Reason.MALFORMED, f"authData: credentialId is {id_len} bytes (at most 1023)")
            if pos + id_len > len(data):
                raise Rejected(Reason.MALFORMED, "authData: credentialId runs past the end")
            credential_id = data[pos:pos + id_len]
            pos += id_len
            end = cbor_item_end(data, pos)
            credential = AttestedCredential(aaguid, credential_id, data[pos:end])
            pos = end
        extensions = None
        if flags & FLAG_ED:
            end = cbor_item_end(data, pos)
            extensions = data[pos:end]
            pos = end
        if pos != len(data):
            raise Rejected(Reason.MALFORMED, f"authData: {len(data) - pos} bytes the flags do not account for "
                                             f"(flags 0x{flags:02x})")
        return cls(data[:32], flags, int.from_bytes(data[33:37], "big"), credential, extensions)


# -- attestation object -------------------------------------------------------------------------

@dataclass(frozen=True)
class AttestationObject:
    """``{"fmt", "attStmt", "authData"}``; ``att_stmt`` holds the decoded statement map."""

    fmt: str
    att_stmt: Mapping[str, Any]
    auth_data: bytes

    @classmethod
    def decode(cls, data: bytes) -> AttestationObject:
        """Decode and type-check an attestation object (bounded); Rejected MALFORMED / MISSING_INPUT."""
        if len(data) > MAX_ATTESTATION_OBJECT:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"attestationObject is {len(data)} bytes "
                                                  f"(limit {MAX_ATTESTATION_OBJECT})")
        value = cbor_decode(data, "attestationObject")
        if not isinstance(value, dict):
            raise Rejected(Reason.MALFORMED, "attestationObject is not a CBOR map")
        for member, kind in (("fmt", str), ("attStmt", dict), ("authData", bytes)):
            if member not in value:
                raise Rejected(Reason.MISSING_INPUT, f"attestationObject has no {member}")
            if not isinstance(value[member], kind):
                raise Rejected(Reason.MALFORMED, f"attestationObject.{member} is not a {kind.__name__}")
        extra = sorted(str(k) for k in value if k not in ("fmt", "attStmt", "authData"))
        if extra:
            raise Rejected(Reason.MALFORMED, f"attestationObject has unknown members {extra[:4]}")
        return cls(value["fmt"], value["attStmt"], value["authData"])


# -- clientDataJSON and the registration record ---------------------------------------------------

def b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn JSON carries bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_TO_STRICT_BASE64 = bytes.maketrans(b"-_+/=", b"+/!!!")
"""base64url to base64, and what base64 allows but base64url does not to a byte strict base64 decoding refuses."""
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_UNUSED_BITS = {2: 0x0F, 3: 0x03}
"""Per ``len % 4`` of unpadded base64, the low bits of the last character that carry no data."""


def from_b64url(text: object, what: str) -> bytes:
    """Decode unpadded base64url strictly (Rejected MALFORMED)."""
    if not isinstance(text, str) or len(text) % 4 == 1 or not text.isascii():
        raise Rejected(Reason.MALFORMED, f"{what} is not unpadded base64url")
    try:
        data = binascii.a2b_base64(text.encode().translate(_TO_STRICT_BASE64) + b"=="[:-len(text) % 4],
                                   strict_mode=True)
    except binascii.Error:
        raise Rejected(Reason.MALFORMED, f"{what} is not unpadded base64url") from None
    # Canonical (what re-encoding ``data`` gives back) exactly when the unused bits of the last character are 0.
    unused = _UNUSED_BITS.get(len(text) % 4)
    if unused and _B64URL_ALPHABET.index(text[-1]) & unused:
        raise Rejected(Reason.MALFORMED, f"{what} base64url is not canonical")
    return data


def from_base64_lenient(text: object, what: str) -> bytes:
    """Decode base64url as relying-party libraries read PublicKeyCredential JSON (py_webauthn, SimpleWebAuthn):
    ``=`` padding of the right length is allowed, and so is the standard alphabet (``+/``) in place of the
    URL-safe one, though not both alphabets in one string; anything else :func:`from_b64url` refuses is still
    refused (Rejected MALFORMED)."""
    if not isinstance(text, str):
        raise Rejected(Reason.MALFORMED, f"{what} is not base64 text")
    body = text.rstrip("=")
    if body != text and (len(text) % 4 or len(text) - len(body) != -len(body) % 4):
        raise Rejected(Reason.MALFORMED, f"{what} base64 padding is wrong")
    if "+" in body or "/" in body:
        if "-" in body or "_" in body:
            raise Rejected(Reason.MALFORMED, f"{what} mixes the base64 and base64url alphabets")
        body = body.translate(str.maketrans("+/", "-_"))
    return from_b64url(body, what)


def client_data_json(challenge: bytes, origin: str, *, type_: str = "webauthn.create",
                     cross_origin: bool = False, top_origin: str | None = None) -> bytes:
    """clientDataJSON as a browser serialises it (WebAuthn L3 §5.8.1.1, compact, fixed member order; ``topOrigin``
    last, when given)."""
    members: dict[str, object] = {"type": type_, "challenge": b64url(challenge), "origin": origin,
                                  "crossOrigin": cross_origin}
    if top_origin is not None:
        members["topOrigin"] = top_origin
    return json.dumps(members, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ClientData:
    """The members of clientDataJSON a relying party checks."""

    type: str
    challenge: bytes
    origin: str
    cross_origin: bool
    top_origin: str | None



def parse_json_object(data: bytes, what: str, limit: int) -> dict[str, Any]:
    """A bounded, duplicate-free JSON object (Rejected LIMIT_EXCEEDED / MALFORMED / ATTR_CONFLICT)."""
    if len(data) > limit:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {limit})")
    if data.count(b"[") + data.count(b"{") > 64:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} holds more than 64 arrays and objects")
    try:
        value = load_json(data.decode("utf-8"), unique_json_members)
    except ValueError:  # UnicodeDecodeError included
        raise Rejected(Reason.MALFORMED, f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise Rejected(Reason.MALFORMED, f"{what} is not a JSON object")
    return value


def parse_client_data(data: bytes) -> ClientData:
    """Parse clientDataJSON: type, challenge (base64url), origin, crossOrigin, topOrigin."""
    doc = parse_json_object(data, "clientDataJSON", MAX_CLIENT_DATA)
    type_, origin = doc.get("type"), doc.get("origin")
    if not isinstance(type_, str) or not isinstance(origin, str):
        raise Rejected(Reason.MALFORMED, "clientDataJSON lacks a string type or origin")
    cross = doc.get("crossOrigin", False)
    top = doc.get("topOrigin")
    if not isinstance(cross, bool) or not (top is None or isinstance(top, str)):
        raise Rejected(Reason.MALFORMED, "clientDataJSON crossOrigin / topOrigin have the wrong type")
    return ClientData(type_, from_b64url(doc.get("challenge"), "clientDataJSON.challenge"), origin, cross, top)


@dataclass(frozen=True)
class Registration:
    """A registration as a relying party holds it: the browser's PublicKeyCredential JSON and what the RP
    expected (its challenge, origin and RP ID). This is hsmsim's on-disk shape (``docs/formats/tpm.md``)."""

    credential_id: bytes
    client_data_json: bytes
    attestation_object: bytes
    expected_challenge: bytes
    expected_origin: str
    expected_rp_id: str
    raw_id: bytes | None = None
    transports: tuple[str, ...] = ("internal",)
    """``response.transports`` (``getTransports()``: sorted, as WebAuthn L3 §5.2.1 has the client return them)."""
    attachment: str = "platform"
    """``authenticatorAttachment``: ``platform``, or ``cross-platform`` for a roaming authenticator (a security key)."""

    def to_json(self) -> bytes:
        """The record file: two-space indented JSON, newline-terminated."""
        credential = {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.raw_id if self.raw_id is not None else self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64url(self.client_data_json),
                         "attestationObject": b64url(self.attestation_object), "transports": sorted(self.transports)},
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
        }
        document = {"expectedChallenge": b64url(self.expected_challenge), "expectedOrigin": self.expected_origin,
                    "expectedRpId": self.expected_rp_id, "credential": credential}
        return indented_json(document, 2)

    @classmethod
    def parse(cls, data: bytes, *, lenient_base64: bool = False) -> Registration:
        """Read a record (bounded); Rejected MALFORMED / MISSING_INPUT / LIMIT_EXCEEDED / ATTR_CONFLICT. Its byte
        members are unpadded base64url (WebAuthn L3 §3 "Base64url Encoding", the ``Base64URLString`` of
        ``toJSON()``); with ``lenient_base64`` they may also be padded or standard base64
        (:func:`from_base64_lenient`), as real client libraries have sent them."""
        decode = from_base64_lenient if lenient_base64 else from_b64url
        doc = parse_json_object(data, "registration record", 2 * MAX_ATTESTATION_OBJECT)
        credential = doc.get("credential")
        if not isinstance(credential, dict):
            raise Rejected(Reason.MISSING_INPUT, "the record has no credential object")
        response = credential.get("response")
        if not isinstance(response, dict):
            raise Rejected(Reason.MISSING_INPUT, "the credential has no response object")
        if credential.get("type") != "public-key":
            raise Rejected(Reason.MALFORMED, "credential.type is not 'public-key'")
        for member in ("expectedChallenge", "expectedOrigin", "expectedRpId"):
            if member not in doc:
                raise Rejected(Reason.MISSING_INPUT, f"the record has no {member} (what the relying party expected)")
        origin, rp_id = doc["expectedOrigin"], doc["expectedRpId"]
        if not isinstance(origin, str) or not isinstance(rp_id, str):
            raise Rejected(Reason.MALFORMED, "expectedOrigin / expectedRpId are not strings")
        for member in ("clientDataJSON", "attestationObject"):
            if member not in response:
                raise Rejected(Reason.MISSING_INPUT, f"the credential response has no {member}")
        return cls(
            credential_id=decode(credential.get("id"), "credential.id"),
            client_data_json=decode(response["clientDataJSON"], "clientDataJSON"),
            attestation_object=decode(response["attestationObject"], "attestationObject"),
            expected_challenge=decode(doc["expectedChallenge"], "expectedChallenge"),
            expected_origin=origin, expected_rp_id=rp_id,
            raw_id=decode(credential.get("rawId"), "credential.rawId"))


def rp_id_hash(rp_id: str) -> bytes:
    """SHA-256 of the RP ID, as authData carries it."""
    return hashlib.sha256(rp_id.encode()).digest()
