"""The Crypto4A QASM attestation message: its claims, its DER codec and its PEM armour.

The structure, as the real message published by the PKI Consortium encodes it (docs/formats/crypto4a.md)::

    AttestationMessage ::= SEQUENCE {
        version      INTEGER (1),
        tbs          SEQUENCE { version INTEGER (1), claims SEQUENCE OF Claim },  -- what every signer signs (its DER)
        signatures   SEQUENCE OF SignatureBlock,
        attached     [0] IMPLICIT SEQUENCE OF Certificate OPTIONAL }

    Claim ::= SEQUENCE {
        type     OBJECT IDENTIFIER,                             -- under 1.3.6.1.4.1.39901.6
        subject  [0] EXPLICIT CHOICE { uuid [0] IMPLICIT OCTET STRING (SIZE (16)) } OPTIONAL,
        value    [1] EXPLICIT CHOICE {
                     octets [0] IMPLICIT OCTET STRING,          -- a UUID, an SPKI
                     text   [1] IMPLICIT UTF8String,            -- a serial, a firmware version
                     time   [2] IMPLICIT GeneralizedTime,
                     number [3] IMPLICIT INTEGER } OPTIONAL }   -- an object class, type, key store, capability

    SignatureBlock ::= SEQUENCE {
        signer     SEQUENCE { keyId [0] EXPLICIT OCTET STRING (SIZE (16)), certificate [2] EXPLICIT Certificate },
        algorithm  AlgorithmIdentifier,
        signature  BIT STRING }

Decoding is strict DER: every TLV must be minimally encoded, every element in its place, nothing after the last.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from hsmsim.encoding import der_children, der_content, der_integer, der_oid, der_sequence, der_tlv, oid_dotted
from hsmsim.formats.crypto4a.layout import PEM_LABEL

ARC = "1.3.6.1.4.1.39901.6"
"""The claims' arc as the real message encodes it (Crypto4A's page lists them one ``.1`` deeper, see the docs)."""
CLAIM_NAMES: dict[str, str] = {
    "1.0": "qasm-uuid", "1.1": "qasm-serial", "1.2": "attestation-time", "1.3": "qasm-firmware-version",
    "1.4": "qasm-certified-production", "1.5": "qasm-is-in-fips-mode",
    "2.0": "attestation-keys-are-unique", "2.1": "key-spki", "2.2": "key-fingerprint", "2.4": "object-class",
    "2.5": "object-type", "2.6": "object-keystore", "2.7": "key-is-confined", "2.8": "key-is-hardware-generated",
    "2.9": "key-never-extracted", "2.10": "key-is-managed", "2.11": "key-is-not-managed",
    "2.13": "key-has-capability", "2.14": "key-does-not-have-capability", "2.15": "key-is-related-to-authority",
    "2.16": "key-is-archived-by",
}
CLAIM_OIDS: dict[str, str] = {name: f"{ARC}.{suffix}" for suffix, name in CLAIM_NAMES.items()}
OCTETS, TEXT, TIME, NUMBER = 0, 1, 2, 3
"""The value CHOICE's alternatives (context tags 0 to 3)."""
UUID_LEN = 16
HSS_LMS_HASHSIG = "1.2.840.113549.1.9.16.3.17"
"""id-alg-hss-lms-hashsig (RFC 8708): the HSS signer's signature and key algorithm."""
ECDSA_SHA384 = "1.2.840.10045.4.3.3"


def claim_oid(name: str) -> str:
    """The OID of the claim called ``name`` (``key-spki``); KeyError for another name."""
    return CLAIM_OIDS[name]


@dataclass(frozen=True)
class Value:
    """A claim's value: the alternative (:data:`OCTETS`, :data:`TEXT`, :data:`TIME`, :data:`NUMBER`) and its
    content octets."""

    tag: int
    content: bytes

    def encode(self) -> bytes:
        """The ``[1] EXPLICIT`` value TLV."""
        return der_tlv(0xA1, der_tlv(0x80 | self.tag, self.content))

    @classmethod
    def octets(cls, data: bytes) -> Value:
        """An OCTET STRING value."""
        return cls(OCTETS, data)

    @classmethod
    def text(cls, text: str) -> Value:
        """A UTF8String value."""
        return cls(TEXT, text.encode())

    @classmethod
    def time(cls, moment: datetime) -> Value:
        """A GeneralizedTime value to the second, in UTC."""
        return cls(TIME, moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())

    @classmethod
    def number(cls, value: int) -> Value:
        """An INTEGER value."""
        return cls(NUMBER, der_content(der_integer(value)))

    def read_text(self) -> str:
        """The text of a TEXT value; ValueError for another alternative or bytes that are not UTF-8."""
        if self.tag != TEXT:
            raise ValueError("not a text value")
        return self.content.decode("utf-8")

    def read_time(self) -> datetime:
        """The moment of a TIME value (``YYYYMMDDHHMMSSZ``); ValueError otherwise."""
        if self.tag != TIME or len(self.content) != 15 or not self.content.endswith(b"Z") \
                or not self.content[:14].isdigit():
            raise ValueError("not a GeneralizedTime YYYYMMDDHHMMSSZ")
        c = self.content
        return datetime(int(c[:4]), int(c[4:6]), int(c[6:8]), int(c[8:10]), int(c[10:12]), int(c[12:14]), tzinfo=UTC)

    def read_number(self) -> int:
        """The integer of a NUMBER value (minimal two's complement); ValueError otherwise."""
        if self.tag != NUMBER or not self.content:
            raise ValueError("not an INTEGER value")
        if der_integer(int.from_bytes(self.content, "big", signed=True))[2:] != self.content:
            raise ValueError("INTEGER not minimally encoded")
        return int.from_bytes(self.content, "big", signed=True)

    def read_octets(self) -> bytes:
        """The bytes of an OCTETS value; ValueError otherwise."""
        if self.tag != OCTETS:
            raise ValueError("not an OCTET STRING value")
        return self.content


@dataclass(frozen=True)
class Claim:
    """One claim: its type OID, the key it is about (a 16-byte UUID; None for the device's claims) and its
    value (None for a claim whose presence is the assertion)."""

    oid: str
    subject: bytes | None = None
    value: Value | None = None

    @property
    def name(self) -> str | None:
        """The claim's name, or None for an OID this module does not know."""
        prefix = f"{ARC}."
        return CLAIM_NAMES.get(self.oid[len(prefix):]) if self.oid.startswith(prefix) else None

    def encode(self) -> bytes:
        """The Claim SEQUENCE."""
        subject = der_tlv(0xA0, der_tlv(0x80, self.subject)) if self.subject is not None else b""
        value = self.value.encode() if self.value is not None else b""
        return der_sequence(der_oid(self.oid), subject, value)


def claim(name: str, subject: bytes | None = None, value: Value | None = None) -> Claim:
    """The claim called ``name``."""
    return Claim(claim_oid(name), subject, value)


@dataclass(frozen=True)
class SignatureBlock:
    """One signer: its key's UUID, its certificate (DER), the AlgorithmIdentifier (DER) and the signature."""

    key_id: bytes
    certificate: bytes
    algorithm: bytes
    signature: bytes

    def encode(self) -> bytes:
        """The SignatureBlock SEQUENCE."""
        signer = der_sequence(der_tlv(0xA0, der_tlv(0x04, self.key_id)), der_tlv(0xA2, self.certificate))
        return der_sequence(signer, self.algorithm, der_tlv(0x03, b"\x00" + self.signature))


@dataclass(frozen=True)
class Message:
    """A decoded attestation message. ``tbs`` is the DER every signer signs."""

    version: int
    tbs: bytes
    tbs_version: int
    claims: tuple[Claim, ...]
    signatures: tuple[SignatureBlock, ...]
    attached: tuple[bytes, ...]


def encode_tbs(claims: list[Claim] | tuple[Claim, ...], version: int = 1) -> bytes:
    """The signed part: ``SEQUENCE { version, SEQUENCE OF Claim }``."""
    return der_sequence(der_integer(version), der_sequence(*(c.encode() for c in claims)))


def encode_message(tbs: bytes, signatures: list[SignatureBlock] | tuple[SignatureBlock, ...],
                   attached: list[bytes] | tuple[bytes, ...], version: int = 1) -> bytes:
    """The whole message; ``attached`` certificates go in the ``[0]`` field (left out when empty)."""
    attached_field = der_tlv(0xA0, b"".join(attached)) if attached else b""
    return der_sequence(der_integer(version), tbs, der_sequence(*(s.encode() for s in signatures)), attached_field)


def armour(der: bytes) -> bytes:
    """The message in PEM ``ATTESTATION MESSAGE`` armour (64-column lines), as the QASM's ``skm`` prints it."""
    body = base64.b64encode(der)
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN " + PEM_LABEL.encode() + b"-----\n" + lines + b"\n-----END " + PEM_LABEL.encode() + b"-----\n"


def unarmour(data: bytes) -> bytes:
    """The DER of a PEM ``ATTESTATION MESSAGE`` (exactly one block; text around it ignored) or of a DER file.
    Raises ValueError."""
    begin, end = f"-----BEGIN {PEM_LABEL}-----".encode(), f"-----END {PEM_LABEL}-----".encode()
    if data[:1] == b"\x30":
        return data
    if data.count(begin) != 1 or data.count(end) != 1:
        raise ValueError(f"not one PEM {PEM_LABEL} block")
    body = data[data.index(begin) + len(begin):data.index(end)]
    if not body.strip():
        raise ValueError(f"empty PEM {PEM_LABEL} block")
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from None


# -- strict decoding ----------------------------------------------------------------------------------------


def _tlvs(content: bytes) -> list[bytes]:
    """The TLVs of ``content``, each length in its shortest form (DER); raises ValueError."""
    return der_children(content, der=True)


def _one(tlv: bytes, tag: int, what: str) -> bytes:
    """The content of ``tlv``, which must carry ``tag``; raises ValueError naming ``what``."""
    if tlv[:1] != bytes((tag,)):
        raise ValueError(f"{what}: tag {tlv[0]:#04x}, expected {tag:#04x}")
    return der_content(tlv)


def _integer(tlv: bytes, what: str) -> int:
    content = _one(tlv, 0x02, what)
    if not content or der_integer(int.from_bytes(content, "big", signed=True)) != tlv:
        raise ValueError(f"{what}: INTEGER not minimally encoded")
    return int.from_bytes(content, "big", signed=True)


def _oid(tlv: bytes, what: str) -> str:
    _one(tlv, 0x06, what)
    dotted = oid_dotted(tlv)
    if der_oid(dotted) != tlv:
        raise ValueError(f"{what}: OBJECT IDENTIFIER not minimally encoded")
    return dotted


def decode_claim(tlv: bytes, index: int) -> Claim:
    """One Claim; raises ValueError naming it by ``index``."""
    where = f"claim {index}"
    fields = _tlvs(_one(tlv, 0x30, where))
    if not fields:
        raise ValueError(f"{where}: empty")
    oid = _oid(fields[0], f"{where} type")
    subject = value = None
    rest = fields[1:]
    if rest and rest[0][:1] == b"\xa0":
        inner = _tlvs(der_content(rest.pop(0)))
        if len(inner) != 1 or inner[0][:1] != b"\x80":
            raise ValueError(f"{where}: subject is not one [0] UUID")
        subject = der_content(inner[0])
        if len(subject) != UUID_LEN:
            raise ValueError(f"{where}: subject UUID of {len(subject)} bytes (16)")
    if rest and rest[0][:1] == b"\xa1":
        inner = _tlvs(der_content(rest.pop(0)))
        if len(inner) != 1 or not 0x80 <= inner[0][0] <= 0x83:
            raise ValueError(f"{where}: value is not one [0]..[3] alternative")
        value = Value(inner[0][0] & 0x1F, der_content(inner[0]))
    if rest:
        raise ValueError(f"{where}: unexpected element with tag {rest[0][0]:#04x}")
    return Claim(oid, subject, value)


def decode_signature_block(tlv: bytes, index: int) -> SignatureBlock:
    """One SignatureBlock; raises ValueError naming it by ``index``."""
    where = f"signature {index}"
    fields = _tlvs(_one(tlv, 0x30, where))
    if len(fields) != 3:
        raise ValueError(f"{where}: {len(fields)} elements (3: signer, algorithm, signature)")
    signer = _tlvs(_one(fields[0], 0x30, f"{where} signer"))
    if len(signer) != 2 or signer[0][:1] != b"\xa0" or signer[1][:1] != b"\xa2":
        raise ValueError(f"{where}: signer is not [0] keyId, [2] certificate")
    key_ids = _tlvs(der_content(signer[0]))
    if len(key_ids) != 1:
        raise ValueError(f"{where}: keyId is not one OCTET STRING")
    key_id = _one(key_ids[0], 0x04, f"{where} keyId")
    if len(key_id) != UUID_LEN:
        raise ValueError(f"{where}: keyId of {len(key_id)} bytes (16)")
    certificates = _tlvs(der_content(signer[1]))
    if len(certificates) != 1 or certificates[0][:1] != b"\x30":
        raise ValueError(f"{where}: [2] is not one certificate")
    _one(fields[1], 0x30, f"{where} algorithm")
    bits = _one(fields[2], 0x03, f"{where} signature")
    if bits[:1] != b"\x00":
        raise ValueError(f"{where}: signature BIT STRING has unused bits")
    return SignatureBlock(key_id, certificates[0], fields[1], bits[1:])


def decode_message(der: bytes) -> Message:
    """The message in ``der`` (strict DER, nothing after it); raises ValueError saying what is wrong."""
    fields = _tlvs(_one(der, 0x30, "message"))
    if der_tlv(0x30, b"".join(fields)) != der:
        raise ValueError("message: its length is not DER")
    if not 3 <= len(fields) <= 4:
        raise ValueError(f"message: {len(fields)} elements (version, tbs, signatures, [0] attached)")
    version = _integer(fields[0], "message version")
    tbs_fields = _tlvs(_one(fields[1], 0x30, "tbs"))
    if len(tbs_fields) != 2:
        raise ValueError(f"tbs: {len(tbs_fields)} elements (version, claims)")
    tbs_version = _integer(tbs_fields[0], "tbs version")
    claims = tuple(decode_claim(c, i) for i, c in enumerate(_tlvs(_one(tbs_fields[1], 0x30, "claims"))))
    blocks = tuple(decode_signature_block(s, i)
                   for i, s in enumerate(_tlvs(_one(fields[2], 0x30, "signatures"))))
    attached: tuple[bytes, ...] = ()
    if len(fields) == 4:
        attached = tuple(_tlvs(_one(fields[3], 0xA0, "attached certificates")))
        if any(c[:1] != b"\x30" for c in attached):
            raise ValueError("attached certificates: an element is not a SEQUENCE")
    return Message(version, fields[1], tbs_version, claims, blocks, attached)
