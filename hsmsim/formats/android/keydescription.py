"""The Android KeyDescription (extension 1.3.6.1.4.1.11129.2.1.17): model, DER writer, bounded reader.

Covers attestation versions 1-4 (Keymaster 2-4.1) and 100-500 (KeyMint 1-5): every AuthorizationList
tag of the AOSP schema (including ML-DSA ``algorithm 4`` with ``mlDsaVariant [11]`` and ``moduleHash
[724]``), RootOfTrust with and without ``verifiedBootHash``, and the attestationApplicationId carried
in an OCTET STRING. The asn1crypto schema classes below describe the DER; the writer always emits
DER with the AuthorizationList tags in ascending order.

The reader walks the TLVs itself (asn1crypto's sequence parser silently skips unknown or misordered
tagged fields) under hard bounds, and decodes each value with the schema's class. It is lenient where
real devices need it: AuthorizationList tags out of order, a BOOLEAN encoded 0x01 and unknown tags are
read (the order and the unknown tags are recorded in ``tags_ordered`` and ``unknown``).
``strict=True`` refuses each of them and any other non-DER encoding. Failures raise
:class:`hsmsim.verdict.Rejected` (MALFORMED, LIMIT_EXCEEDED,
ATTR_CONFLICT for a tag given twice, UNEXPECTED_CONTENT for an unknown tag under strict).
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, NamedTuple

from asn1crypto import core, parser

from hsmsim.encoding import der_explicit, der_integer, der_sequence, der_tlv
from hsmsim.verdict import Reason, Rejected

OID_PROVISIONING_INFO = "1.3.6.1.4.1.11129.2.1.30"
"""The RKP provisioning-information extension of the remotely provisioned attestation certificate."""

KNOWN_ATTESTATION_VERSIONS = (1, 2, 3, 4, 100, 200, 300, 400, 500)
"""Keymaster 2, 3, 4, 4.1 and KeyMint 1-5 (a KeyMint version equals its attestation version)."""

MAX_KEY_DESCRIPTION_BYTES = 64 * 1024
MAX_LIST_ENTRIES = 96
MAX_SET_MEMBERS = 32
MAX_PACKAGES = 32
MAX_SIGNATURES = 10
MAX_NESTING = 8

_ASN1_ERRORS = (ValueError, TypeError, OverflowError, KeyError, IndexError, UnicodeDecodeError, AttributeError)


class SecurityLevel(enum.IntEnum):
    """Where the key and its attestation live (ENUMERATED SecurityLevel)."""

    SOFTWARE = 0
    TRUSTED_ENVIRONMENT = 1
    STRONG_BOX = 2


class VerifiedBootState(enum.IntEnum):
    """RootOfTrust verifiedBootState."""

    VERIFIED = 0
    SELF_SIGNED = 1
    UNVERIFIED = 2
    FAILED = 3


class Origin(enum.IntEnum):
    """KeyMint KeyOrigin."""

    GENERATED = 0
    DERIVED = 1
    IMPORTED = 2
    RESERVED = 3
    SECURELY_IMPORTED = 4


class Purpose(enum.IntEnum):
    """KeyMint KeyPurpose."""

    ENCRYPT = 0
    DECRYPT = 1
    SIGN = 2
    VERIFY = 3
    WRAP_KEY = 5
    AGREE_KEY = 6
    ATTEST_KEY = 7


class Algorithm(enum.IntEnum):
    """KeyMint Algorithm."""

    RSA = 1
    EC = 3
    ML_DSA = 4
    AES = 32
    TRIPLE_DES = 33
    HMAC = 128


class EcCurve(enum.IntEnum):
    """KeyMint EcCurve."""

    P_224 = 0
    P_256 = 1
    P_384 = 2
    P_521 = 3
    CURVE_25519 = 4


class MlDsaVariant(enum.IntEnum):
    """KeyMint 5 mlDsaVariant [11]."""

    ML_DSA_65 = 1
    ML_DSA_87 = 2


# -- model ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RootOfTrust:
    """The verified-boot state the TEE saw (``verified_boot_hash`` from attestation version 3)."""

    verified_boot_key: bytes
    device_locked: bool
    verified_boot_state: int
    verified_boot_hash: bytes | None = None


@dataclass(frozen=True)
class PackageInfo:
    """One package of the attestationApplicationId (name as UTF-8 bytes, version code)."""

    name: bytes
    version: int


@dataclass(frozen=True)
class ApplicationId:
    """The attestationApplicationId: the calling app's packages and signing-certificate digests."""

    packages: tuple[PackageInfo, ...]
    signatures: tuple[bytes, ...]


@dataclass(frozen=True)
class AuthorizationList:
    """One AuthorizationList (softwareEnforced or hardwareEnforced); ``None``/False = tag absent.

    NULL-typed tags are booleans. Reading records ``unknown`` tags (tag number, inner DER) and
    whether the tags came in ascending order (``tags_ordered``); the writer never emits either.
    """

    purposes: tuple[int, ...] | None = None
    algorithm: int | None = None
    key_size: int | None = None
    block_modes: tuple[int, ...] | None = None
    digests: tuple[int, ...] | None = None
    paddings: tuple[int, ...] | None = None
    caller_nonce: bool = False
    min_mac_length: int | None = None
    ec_curve: int | None = None
    ml_dsa_variant: int | None = None
    rsa_public_exponent: int | None = None
    rsa_oaep_mgf_digests: tuple[int, ...] | None = None
    rollback_resistance: bool = False
    early_boot_only: bool = False
    active_date_time: int | None = None
    origination_expire_date_time: int | None = None
    usage_expire_date_time: int | None = None
    usage_count_limit: int | None = None
    user_secure_id: int | None = None
    no_auth_required: bool = False
    user_auth_type: int | None = None
    auth_timeout: int | None = None
    allow_while_on_body: bool = False
    trusted_user_presence_required: bool = False
    trusted_confirmation_required: bool = False
    unlocked_device_required: bool = False
    all_applications: bool = False
    application_id: bytes | None = None
    creation_date_time: int | None = None
    origin: int | None = None
    rollback_resistant: bool = False
    root_of_trust: RootOfTrust | None = None
    os_version: int | None = None
    os_patch_level: int | None = None
    attestation_application_id: ApplicationId | None = None
    attestation_id_brand: bytes | None = None
    attestation_id_device: bytes | None = None
    attestation_id_product: bytes | None = None
    attestation_id_serial: bytes | None = None
    attestation_id_imei: bytes | None = None
    attestation_id_meid: bytes | None = None
    attestation_id_manufacturer: bytes | None = None
    attestation_id_model: bytes | None = None
    vendor_patch_level: int | None = None
    boot_patch_level: int | None = None
    device_unique_attestation: bool = False
    attestation_id_second_imei: bytes | None = None
    module_hash: bytes | None = None
    unknown: tuple[tuple[int, bytes], ...] = field(default=(), compare=False)
    tags_ordered: bool = field(default=True, compare=False)

    def present(self) -> list[int]:
        """The tag numbers this list carries, ascending (unknown tags excluded)."""
        return [spec.number for spec in TAGS if _is_set(getattr(self, spec.attr))]


@dataclass(frozen=True)
class KeyDescription:
    """The attestation record of one key."""

    attestation_version: int
    attestation_security_level: int
    keymint_version: int
    keymint_security_level: int
    attestation_challenge: bytes
    unique_id: bytes
    software_enforced: AuthorizationList
    hardware_enforced: AuthorizationList


# -- the schema -------------------------------------------------------------------------------

class EnumeratedInt(core.Integer):  # type: ignore[misc]
    """ENUMERATED read and written as its integer value, so unknown values stay visible to the checks."""

    tag = 10


class IntegerSet(core.SetOf):  # type: ignore[misc]
    """SET OF INTEGER (DER sorts the members)."""

    _child_spec = core.Integer


class RootOfTrustAsn1(core.Sequence):  # type: ignore[misc]
    """RootOfTrust ::= SEQUENCE (verifiedBootHash from attestation version 3)."""

    _fields: ClassVar[list[Any]] = [
        ("verifiedBootKey", core.OctetString),
        ("deviceLocked", core.Boolean),
        ("verifiedBootState", EnumeratedInt),
        ("verifiedBootHash", core.OctetString, {"optional": True}),
    ]


class PackageInfoAsn1(core.Sequence):  # type: ignore[misc]
    """AttestationPackageInfo ::= SEQUENCE { package_name OCTET STRING, version INTEGER }."""

    _fields: ClassVar[list[Any]] = [("packageName", core.OctetString), ("version", core.Integer)]


class PackageInfos(core.SetOf):  # type: ignore[misc]
    """SET OF AttestationPackageInfo."""

    _child_spec = PackageInfoAsn1


class SignatureDigests(core.SetOf):  # type: ignore[misc]
    """SET OF OCTET STRING (SHA-256 digests of the app's signing certificates)."""

    _child_spec = core.OctetString


class ApplicationIdAsn1(core.Sequence):  # type: ignore[misc]
    """AttestationApplicationId ::= SEQUENCE { package_infos SET OF, signature_digests SET OF }."""

    _fields: ClassVar[list[Any]] = [("packageInfos", PackageInfos), ("signatureDigests", SignatureDigests)]


class Kind(enum.Enum):
    """How a tag's value is typed."""

    INT = "INTEGER"
    INT_SET = "SET OF INTEGER"
    NULL = "NULL"
    OCTETS = "OCTET STRING"
    ROOT_OF_TRUST = "RootOfTrust"
    APPLICATION_ID = "OCTET STRING (AttestationApplicationId)"


_KIND_CLASS: dict[Kind, type] = {
    Kind.INT: core.Integer, Kind.INT_SET: IntegerSet, Kind.NULL: core.Null, Kind.OCTETS: core.OctetString,
    Kind.ROOT_OF_TRUST: RootOfTrustAsn1, Kind.APPLICATION_ID: core.OctetString,
}


class TagSpec(NamedTuple):
    """One AuthorizationList tag: number, model attribute, name in the AOSP schema, value kind (a table row: a
    named tuple costs a third of a frozen dataclass to define)."""

    number: int
    attr: str
    asn1_name: str
    kind: Kind


TAGS: tuple[TagSpec, ...] = tuple(TagSpec(*row) for row in (
    (1, "purposes", "purpose", Kind.INT_SET),
    (2, "algorithm", "algorithm", Kind.INT),
    (3, "key_size", "keySize", Kind.INT),
    (4, "block_modes", "blockMode", Kind.INT_SET),
    (5, "digests", "digest", Kind.INT_SET),
    (6, "paddings", "padding", Kind.INT_SET),
    (7, "caller_nonce", "callerNonce", Kind.NULL),
    (8, "min_mac_length", "minMacLength", Kind.INT),
    (10, "ec_curve", "ecCurve", Kind.INT),
    (11, "ml_dsa_variant", "mlDsaVariant", Kind.INT),
    (200, "rsa_public_exponent", "rsaPublicExponent", Kind.INT),
    (203, "rsa_oaep_mgf_digests", "mgfDigest", Kind.INT_SET),
    (303, "rollback_resistance", "rollbackResistance", Kind.NULL),
    (305, "early_boot_only", "earlyBootOnly", Kind.NULL),
    (400, "active_date_time", "activeDateTime", Kind.INT),
    (401, "origination_expire_date_time", "originationExpireDateTime", Kind.INT),
    (402, "usage_expire_date_time", "usageExpireDateTime", Kind.INT),
    (405, "usage_count_limit", "usageCountLimit", Kind.INT),
    (502, "user_secure_id", "userSecureId", Kind.INT),
    (503, "no_auth_required", "noAuthRequired", Kind.NULL),
    (504, "user_auth_type", "userAuthType", Kind.INT),
    (505, "auth_timeout", "authTimeout", Kind.INT),
    (506, "allow_while_on_body", "allowWhileOnBody", Kind.NULL),
    (507, "trusted_user_presence_required", "trustedUserPresenceRequired", Kind.NULL),
    (508, "trusted_confirmation_required", "trustedConfirmationRequired", Kind.NULL),
    (509, "unlocked_device_required", "unlockedDeviceRequired", Kind.NULL),
    (600, "all_applications", "allApplications", Kind.NULL),
    (601, "application_id", "applicationId", Kind.OCTETS),
    (701, "creation_date_time", "creationDateTime", Kind.INT),
    (702, "origin", "origin", Kind.INT),
    (703, "rollback_resistant", "rollbackResistant", Kind.NULL),
    (704, "root_of_trust", "rootOfTrust", Kind.ROOT_OF_TRUST),
    (705, "os_version", "osVersion", Kind.INT),
    (706, "os_patch_level", "osPatchLevel", Kind.INT),
    (709, "attestation_application_id", "attestationApplicationId", Kind.APPLICATION_ID),
    (710, "attestation_id_brand", "attestationIdBrand", Kind.OCTETS),
    (711, "attestation_id_device", "attestationIdDevice", Kind.OCTETS),
    (712, "attestation_id_product", "attestationIdProduct", Kind.OCTETS),
    (713, "attestation_id_serial", "attestationIdSerial", Kind.OCTETS),
    (714, "attestation_id_imei", "attestationIdImei", Kind.OCTETS),
    (715, "attestation_id_meid", "attestationIdMeid", Kind.OCTETS),
    (716, "attestation_id_manufacturer", "attestationIdManufacturer", Kind.OCTETS),
    (717, "attestation_id_model", "attestationIdModel", Kind.OCTETS),
    (718, "vendor_patch_level", "vendorPatchLevel", Kind.INT),
    (719, "boot_patch_level", "bootPatchLevel", Kind.INT),
    (720, "device_unique_attestation", "deviceUniqueAttestation", Kind.NULL),
    (723, "attestation_id_second_imei", "attestationIdSecondImei", Kind.OCTETS),
    (724, "module_hash", "moduleHash", Kind.OCTETS),
))
"""Every AuthorizationList tag of the AOSP schema, ascending."""

TAG_BY_NUMBER = {spec.number: spec for spec in TAGS}


class AuthorizationListAsn1(core.Sequence):  # type: ignore[misc]
    """AuthorizationList ::= SEQUENCE of OPTIONAL EXPLICIT context tags, in ascending tag order."""

    _fields: ClassVar[list[Any]] = [
        (spec.asn1_name, _KIND_CLASS[spec.kind], {"explicit": spec.number, "optional": True}) for spec in TAGS]


class KeyDescriptionAsn1(core.Sequence):  # type: ignore[misc]
    """KeyDescription ::= SEQUENCE (``keyMintVersion`` is ``keymasterVersion`` in older schemas)."""

    _fields: ClassVar[list[Any]] = [
        ("attestationVersion", core.Integer),
        ("attestationSecurityLevel", EnumeratedInt),
        ("keyMintVersion", core.Integer),
        ("keyMintSecurityLevel", EnumeratedInt),
        ("attestationChallenge", core.OctetString),
        ("uniqueId", core.OctetString),
        ("softwareEnforced", AuthorizationListAsn1),
        ("hardwareEnforced", AuthorizationListAsn1),
    ]


# -- writer -----------------------------------------------------------------------------------

def _is_set(value: object) -> bool:
    return value is not None and value is not False


# The writer encodes the fixed KeyDescription structure directly (it runs once per generated leaf and once per
# strict read); it emits what asn1crypto dumps for the schema classes above: minimal lengths and INTEGERs,
# BOOLEAN TRUE as FF, SET OF members sorted by their encodings.

def _octets(value: bytes) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"an OCTET STRING needs bytes, not {type(value).__name__}")
    return der_tlv(0x04, value)


def _set_of(encodings: list[bytes]) -> bytes:
    return der_tlv(0x31, b"".join(sorted(encodings)))


def encode_root_of_trust(rot: RootOfTrust) -> bytes:
    """The DER RootOfTrust."""
    parts = [_octets(rot.verified_boot_key), der_tlv(0x01, b"\xff" if rot.device_locked else b"\x00"),
             der_integer(rot.verified_boot_state, 0x0A)]
    if rot.verified_boot_hash is not None:
        parts.append(_octets(rot.verified_boot_hash))
    return der_sequence(*parts)


def encode_application_id(app: ApplicationId) -> bytes:
    """The DER AttestationApplicationId (the content of tag [709]'s OCTET STRING)."""
    return der_sequence(
        _set_of([der_sequence(_octets(p.name), der_integer(p.version)) for p in app.packages]),
        _set_of([_octets(digest) for digest in app.signatures]))


_VALUE_WRITERS: dict[Kind, Callable[[Any], bytes]] = {
    Kind.NULL: lambda _value: b"\x05\x00",
    Kind.INT_SET: lambda value: _set_of([der_integer(member) for member in value]),
    Kind.ROOT_OF_TRUST: encode_root_of_trust,
    Kind.APPLICATION_ID: lambda value: _octets(encode_application_id(value)),
    Kind.OCTETS: _octets,
    Kind.INT: der_integer,
}
_TAG_WRITERS = tuple((spec.attr, der_explicit(spec.number, b"")[:-1], _VALUE_WRITERS[spec.kind]) for spec in TAGS)
"""Per tag, ascending: its attribute, its identifier octets (``der_explicit`` less the length and value) and the
writer of its value."""


def authorization_list_der(auth: AuthorizationList) -> bytes:
    """The DER AuthorizationList: its tags in ascending order (``unknown`` tags never written)."""
    parts = []
    for attr, identifier, write in _TAG_WRITERS:
        value = getattr(auth, attr)
        if value is not None and value is not False:  # _is_set, inlined: this runs for every tag of every list
            inner = write(value)
            # der_explicit: the identifier, the minimal length, the value
            parts.append(identifier + (bytes([len(inner)]) + inner if len(inner) < 0x80 else der_tlv(0, inner)[1:]))
    return der_sequence(*parts)


def encode_key_description(kd: KeyDescription,
                           list_der: Callable[[AuthorizationList], bytes] = authorization_list_der) -> bytes:
    """The DER KeyDescription: what the extension value holds; ``list_der`` gives each AuthorizationList's DER (as
    :func:`authorization_list_der` does; a caller may remember those it encoded)."""
    return der_sequence(
        der_integer(kd.attestation_version), der_integer(kd.attestation_security_level, 0x0A),
        der_integer(kd.keymint_version), der_integer(kd.keymint_security_level, 0x0A),
        _octets(kd.attestation_challenge), _octets(kd.unique_id),
        list_der(kd.software_enforced), list_der(kd.hardware_enforced))


# -- reader ---------------------------------------------------------------------------------

class Tlv(NamedTuple):
    """One element as :func:`read_children` reads it (by :func:`_walk_der`, or by asn1crypto's parser where the
    walk declines): class, constructed, tag, full encoding, content, and whether its length was definite (an
    indefinite one's ``der`` ends with the end-of-contents octets)."""

    class_: int
    constructed: bool
    tag: int
    der: bytes
    content: bytes
    definite: bool


_UNIVERSAL, _CONTEXT = 0, 2
_BOOLEAN, _INTEGER, _OCTET_STRING, _NULL, _ENUMERATED, _SEQUENCE, _SET = 1, 2, 4, 5, 10, 16, 17


def _malformed(what: str, detail: str) -> Rejected:
    return Rejected(Reason.MALFORMED, f"KeyDescription {what}: {detail}")


def _walk_der(content: bytes, limit: int) -> list[Tlv] | None:
    """The TLVs of ``content`` when each has a definite length and parses as asn1crypto's parser reads it
    (same tag numbers, same refusals); None for anything else (an error, an indefinite length, over ``limit``)."""
    out: list[Tlv] = []
    pos, size = 0, len(content)
    while pos < size:
        if len(out) >= limit:
            return None
        start, first = pos, content[pos]
        pos += 1
        tag = first & 31
        if tag == 31:  # the tag number in base 128, minimal, at least 31
            tag = 0
            while True:
                if pos >= size:
                    return None
                octet = content[pos]
                pos += 1
                if octet == 0x80 and tag == 0:
                    return None
                tag = tag * 128 + (octet & 127)
                if octet < 0x80:
                    break
            if tag < 31:
                return None
        bounds = _bounds(content, pos, size)
        if bounds is None:
            return None
        pos, end = bounds
        out.append(_new_tlv(Tlv, (first >> 6, first & 0x20 != 0, tag, content[start:end], content[pos:end], True)))
        pos = end
    return out


_new_tlv = tuple.__new__  # a Tlv straight from its fields: NamedTuple's own __new__ is a Python-level lambda


def read_children(content: bytes, what: str, limit: int) -> list[Tlv]:
    """The TLVs concatenated in ``content`` (at most ``limit``); raises MALFORMED / LIMIT_EXCEEDED."""
    fast = _walk_der(content, limit)
    if fast is not None:
        return fast
    out: list[Tlv] = []
    pos, size = 0, len(content)
    while pos < size:
        if len(out) >= limit:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"KeyDescription {what} has more than {limit} elements")
        try:
            # What parser.peek + parser.parse of the element's slice read (same values, same errors: its
            # messages count bytes from the pointer), without copying the rest of ``content`` per element.
            (class_, method, tag, _header, inner, trailer), end = parser._parse(content, size, pos)
        except _ASN1_ERRORS as exc:
            raise _malformed(what, f"bad TLV at offset {pos}: {exc}") from None
        out.append(Tlv(class_, method == 1, tag, content[pos:end], inner, not trailer))
        pos = end
    return out


def _walk(content: bytes, limit: int) -> list[Tlv] | None:
    """:func:`read_children` of ``content``, or None where it would raise."""
    try:
        return read_children(content, "", limit)
    except Rejected:
        return None


def _load(cls: Any, der: bytes, what: str) -> Any:
    try:
        value = cls.load(der, strict=True)
        _ = value.native  # asn1crypto decodes lazily: force every field here
    except _ASN1_ERRORS as exc:
        raise _malformed(what, f"not a {cls.__name__}: {str(exc).splitlines()[0]}") from None
    return value


# The common DER shapes are decoded straight from the TLVs already walked; anything else (another class or
# tag, a constructed string, an indefinite length) goes through asn1crypto's schema classes, whose result
# and error messages the verdicts carry. ``_primitive`` and ``_fast_*`` return None to say "not common".

def _primitive(tlv: Tlv, tag: int) -> bytes | None:
    """The content of a universal primitive ``tag`` element (definite: a primitive cannot be otherwise)."""
    if tlv.class_ != _UNIVERSAL or tlv.constructed or tlv.tag != tag:
        return None
    return tlv.content


def _constructed(tlv: Tlv, tag: int, limit: int) -> list[Tlv] | None:
    """The children of a universal constructed definite-length ``tag`` element, when they walk cleanly."""
    if tlv.class_ != _UNIVERSAL or not tlv.constructed or tlv.tag != tag or not tlv.definite:
        return None
    return _walk(tlv.content, limit)


def _integer_value(content: bytes) -> int:
    return int.from_bytes(content, "big", signed=True)  # asn1crypto's Integer: empty content reads 0


def _fast_head(tlv: Tlv, cls: Any) -> object | None:
    if cls is core.OctetString:
        return _primitive(tlv, _OCTET_STRING)
    content = _primitive(tlv, _ENUMERATED if cls is EnumeratedInt else _INTEGER)
    return None if content is None else _integer_value(content)


def _read_boolean(value: Any, what: str, strict: bool) -> bool:
    return _boolean(value.contents, what, strict)


def _boolean(contents: bytes, what: str, strict: bool) -> bool:
    if strict and contents not in (b"\x00", b"\xff"):
        raise _malformed(what, f"BOOLEAN encoded as 0x{contents.hex()} (DER allows only 00 and FF)")
    return contents != b"\x00"  # asn1crypto's Boolean: any other content reads True


def _fast_root_of_trust(tlv: Tlv, strict: bool) -> RootOfTrust | None:
    children = _constructed(tlv, _SEQUENCE, MAX_LIST_ENTRIES)
    if children is None or len(children) not in (3, 4):
        return None
    key, locked, state = (_primitive(children[0], _OCTET_STRING), _primitive(children[1], _BOOLEAN),
                          _primitive(children[2], _ENUMERATED))
    hash_ = _primitive(children[3], _OCTET_STRING) if len(children) == 4 else None
    if key is None or locked is None or state is None or (len(children) == 4 and hash_ is None):
        return None
    return RootOfTrust(verified_boot_key=key, device_locked=_boolean(locked, "rootOfTrust.deviceLocked", strict),
                       verified_boot_state=_integer_value(state), verified_boot_hash=hash_)


def _read_root_of_trust(tlv: Tlv, strict: bool) -> RootOfTrust:
    fast = _fast_root_of_trust(tlv, strict)
    if fast is not None:
        return fast
    seq = _load(RootOfTrustAsn1, tlv.der, "rootOfTrust")
    count = len(read_children(seq.contents, "rootOfTrust", MAX_LIST_ENTRIES))
    if count not in (3, 4):
        raise _malformed("rootOfTrust", f"{count} fields (expected 3 or 4)")
    hash_ = seq["verifiedBootHash"]
    return RootOfTrust(
        verified_boot_key=seq["verifiedBootKey"].native,
        device_locked=_read_boolean(seq["deviceLocked"], "rootOfTrust.deviceLocked", strict),
        verified_boot_state=seq["verifiedBootState"].native,
        verified_boot_hash=None if isinstance(hash_, core.Void) else hash_.native,
    )


def _fast_package(tlv: Tlv) -> PackageInfo | None:
    fields_ = _constructed(tlv, _SEQUENCE, 3)
    if fields_ is None or len(fields_) != 2:
        return None
    name, version = _primitive(fields_[0], _OCTET_STRING), _primitive(fields_[1], _INTEGER)
    return None if name is None or version is None else PackageInfo(name, _integer_value(version))


def _fast_application_id(outer: Tlv, sets: list[Tlv], packages: list[Tlv],
                         signatures: list[Tlv]) -> ApplicationId | None:
    if not (outer.definite and outer.constructed and (outer.class_, outer.tag) == (_UNIVERSAL, _SEQUENCE)
            and all(s.definite and s.constructed and (s.class_, s.tag) == (_UNIVERSAL, _SET) for s in sets)):
        return None
    infos = [_fast_package(p) for p in packages]
    digests = [_primitive(s, _OCTET_STRING) for s in signatures]
    if any(info is None for info in infos) or any(digest is None for digest in digests):
        return None
    return ApplicationId(packages=tuple(infos), signatures=tuple(digests))  # type: ignore[arg-type]


def _read_application_id(tlv: Tlv) -> ApplicationId:
    octets = _primitive(tlv, _OCTET_STRING)
    if octets is None:
        octets = _load(core.OctetString, tlv.der, "attestationApplicationId").native
    outer = read_children(octets, "attestationApplicationId", MAX_LIST_ENTRIES)
    if len(outer) != 1 or outer[0].der != octets:
        raise _malformed("attestationApplicationId", "the OCTET STRING does not hold exactly one SEQUENCE")
    sets = read_children(outer[0].content, "attestationApplicationId", MAX_LIST_ENTRIES)
    if len(sets) != 2:
        raise _malformed("attestationApplicationId", f"{len(sets)} fields (expected 2)")
    packages = read_children(sets[0].content, "attestationApplicationId packages", MAX_PACKAGES)
    signatures = read_children(sets[1].content, "attestationApplicationId signature digests", MAX_SIGNATURES)
    fast = _fast_application_id(outer[0], sets, packages, signatures)
    if fast is not None:
        return fast
    seq = _load(ApplicationIdAsn1, octets, "attestationApplicationId")
    return ApplicationId(
        packages=tuple(PackageInfo(p["packageName"].native, p["version"].native) for p in seq["packageInfos"]),
        signatures=tuple(s.native for s in seq["signatureDigests"]),
    )


def _fast_value(kind: Kind, tlv: Tlv, what: str) -> object | None:
    if kind is Kind.INT:
        content = _primitive(tlv, _INTEGER)
        return None if content is None else _integer_value(content)
    if kind is Kind.OCTETS:
        return _primitive(tlv, _OCTET_STRING)
    if kind is Kind.NULL:
        content = _primitive(tlv, _NULL)
        if content:
            raise _malformed(what, "NULL with content")
        return None if content is None else True
    members = _constructed(tlv, _SET, MAX_KEY_DESCRIPTION_BYTES)  # INT_SET: bounded by the content's size
    if members is None:
        return None
    values = [_primitive(member, _INTEGER) for member in members]
    if any(value is None for value in values):
        return None
    if len(values) > MAX_SET_MEMBERS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"KeyDescription {what} has more than {MAX_SET_MEMBERS} members")
    return tuple(_integer_value(value) for value in values)  # type: ignore[arg-type]


def _read_value(spec: TagSpec, tlv: Tlv, strict: bool) -> object:
    what = spec.asn1_name
    if spec.kind is Kind.ROOT_OF_TRUST:
        return _read_root_of_trust(tlv, strict)
    if spec.kind is Kind.APPLICATION_ID:
        return _read_application_id(tlv)
    fast = _fast_value(spec.kind, tlv, what)
    if fast is not None:
        return fast
    value = _load(_KIND_CLASS[spec.kind], tlv.der, what)
    if spec.kind is Kind.NULL:
        if value.contents:
            raise _malformed(what, "NULL with content")
        return True
    if spec.kind is Kind.INT_SET:
        if len(value) > MAX_SET_MEMBERS:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"KeyDescription {what} has more than {MAX_SET_MEMBERS} members")
        return tuple(member.native for member in value)
    return value.native


# The common DER shapes of a whole list (and of a whole KeyDescription) are also read in one pass over positions:
# ``_span_*`` return None wherever the readers above would take another path or raise, and the caller then reads
# the bytes with them from the start, so what is returned and what is raised stays theirs.

_Span = tuple[int, int, int]
"""One TLV of a one-octet identifier and a definite length: identifier, content start, content end."""


def _bounds(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """``(start, stop)`` of the content whose length octets begin at ``pos`` (a definite length), when it ends by
    ``end``; None otherwise."""
    if pos >= end:
        return None
    length = data[pos]
    pos += 1
    if length & 0x80:
        count = length & 127
        if count == 0 or pos + count > end:
            return None
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    stop = pos + length
    return None if stop > end else (pos, stop)


def _spans(data: bytes, pos: int, end: int, limit: int) -> list[_Span] | None:
    """The TLVs that fill ``data[pos:end]`` when each has a one-octet identifier and a definite length and there are
    at most ``limit``; None otherwise."""
    out: list[_Span] = []
    while pos < end:
        if len(out) >= limit or pos + 1 >= end:
            return None
        identifier, length = data[pos], data[pos + 1]
        if identifier & 31 == 31:
            return None
        if length < 0x80:
            start = pos + 2
            pos = start + length
            if pos > end:
                return None
        else:
            bounds = _bounds(data, pos + 1, end)
            if bounds is None:
                return None
            start, pos = bounds
        out.append((identifier, start, pos))
    return out


def _span_root_of_trust(data: bytes, pos: int, end: int, strict: bool) -> RootOfTrust | None:
    """:func:`_read_root_of_trust` of the SEQUENCE content ``data[pos:end]`` in the shape :func:`_fast_root_of_trust`
    reads (raising what it raises)."""
    children = _spans(data, pos, end, 4)
    if children is None or len(children) < 3 or [c[0] for c in children] != [0x04, 0x01, 0x0A, 0x04][:len(children)]:
        return None
    (_, key_start, key_end), (_, locked_start, locked_end), (_, state_start, state_end) = children[:3]
    return RootOfTrust(
        verified_boot_key=data[key_start:key_end],
        device_locked=_boolean(data[locked_start:locked_end], "rootOfTrust.deviceLocked", strict),
        verified_boot_state=int.from_bytes(data[state_start:state_end], "big", signed=True),
        verified_boot_hash=data[children[3][1]:children[3][2]] if len(children) == 4 else None)


def _span_application_id(data: bytes, pos: int, end: int) -> ApplicationId | None:
    """:func:`_read_application_id` of the OCTET STRING content ``data[pos:end]`` in the shape
    :func:`_fast_application_id` reads."""
    outer = _spans(data, pos, end, 1)
    if not outer or outer[0][0] != 0x30:
        return None
    sets = _spans(data, outer[0][1], outer[0][2], 2)
    if sets is None or len(sets) != 2 or sets[0][0] != 0x31 or sets[1][0] != 0x31:
        return None
    packages, digests = _spans(data, sets[0][1], sets[0][2], MAX_PACKAGES), _spans(data, sets[1][1], sets[1][2],
                                                                                   MAX_SIGNATURES)
    if packages is None or digests is None or any(identifier != 0x04 for identifier, _, _ in digests):
        return None
    infos = []
    for identifier, start, stop in packages:
        fields_ = _spans(data, start, stop, 2) if identifier == 0x30 else None
        if fields_ is None or len(fields_) != 2 or fields_[0][0] != 0x04 or fields_[1][0] != 0x02:
            return None
        (_, name_start, name_end), (_, version_start, version_end) = fields_
        infos.append(PackageInfo(data[name_start:name_end],
                                 int.from_bytes(data[version_start:version_end], "big", signed=True)))
    return ApplicationId(tuple(infos), tuple(data[start:stop] for _, start, stop in digests))


def _identifier(number: int) -> int | bytes:
    """The identifier octets of EXPLICIT context tag ``number`` in DER, as :func:`_span_authorization_list` looks
    them up: the octet itself for a low tag number."""
    if number < 31:
        return 0xA0 | number
    digits = [number & 127]
    while number >= 128:
        number >>= 7
        digits.append(0x80 | number & 127)
    return bytes([0xBF, *reversed(digits)])


_INT, _OCTETS, _NULL_VALUE, _INT_SET, _ROOT, _APP_ID = range(6)
_SPAN_KINDS = {Kind.INT: (_INT, 0x02), Kind.OCTETS: (_OCTETS, 0x04), Kind.NULL: (_NULL_VALUE, 0x05),
               Kind.INT_SET: (_INT_SET, 0x31), Kind.ROOT_OF_TRUST: (_ROOT, 0x30), Kind.APPLICATION_ID: (_APP_ID, 0x04)}
_SPAN_TAGS = {_identifier(spec.number): (spec.number, spec.attr, *_SPAN_KINDS[spec.kind]) for spec in TAGS}
"""Identifier octets -> (tag number, attribute, how its value is read, the identifier octet of that value in DER)."""
_LIST_DEFAULTS = {f.name: f.default for f in fields(AuthorizationList)}


def _authorization_list(values: dict[str, object], ordered: bool) -> AuthorizationList:
    """``AuthorizationList(**values, tags_ordered=ordered)``, the same object (its instance dict holds every field,
    in order) at a tenth of the cost: the generated ``__init__`` of that frozen dataclass sets its 52 fields one
    ``object.__setattr__`` call at a time, and has nothing else to do (every field has a plain default)."""
    auth = object.__new__(AuthorizationList)
    auth.__dict__.update(_LIST_DEFAULTS, **values, tags_ordered=ordered)
    return auth


def _span_authorization_list(data: bytes, pos: int, end: int, strict: bool) -> AuthorizationList | None:
    """:func:`read_authorization_list` of the SEQUENCE content ``data[pos:end]`` when every entry is a known tag
    (its identifier in DER), given once, holding exactly one value of its kind's DER type (and, under ``strict``,
    the tags ascend)."""
    values: dict[str, object] = {}
    previous, ordered = -1, True
    while pos < end:
        first = data[pos]
        key: int | bytes = first
        if first == 0xBF:  # a high tag number: the known ones take two octets (any other is left to read_children)
            key = data[pos:pos + 3]
            pos += 3
        else:
            pos += 1
        known = _SPAN_TAGS.get(key)
        if known is None or pos >= end or len(values) >= MAX_LIST_ENTRIES:
            return None
        if data[pos] < 0x80:
            value_pos, pos = pos + 1, pos + 1 + data[pos]
            if pos > end:
                return None
        else:
            entry = _bounds(data, pos, end)
            if entry is None:
                return None
            value_pos, pos = entry
        tag, attr, code, identifier = known
        if attr in values or value_pos + 1 >= pos or data[value_pos] != identifier:
            return None
        length = data[value_pos + 1]
        if length < 0x80:  # the value fills the entry: one value, nothing after it
            start, stop = value_pos + 2, value_pos + 2 + length
        else:
            bounds = _bounds(data, value_pos + 1, pos)
            if bounds is None:
                return None
            start, stop = bounds
        if stop != pos:
            return None
        if tag < previous:
            ordered = False
        previous = tag
        value: object
        if code == _INT:
            value = int.from_bytes(data[start:stop], "big", signed=True)
        elif code == _OCTETS:
            value = data[start:stop]
        elif code == _NULL_VALUE:
            if start != stop:
                return None
            value = True
        elif code == _INT_SET:
            members: list[int] = []
            while start < stop:  # INTEGERs of a short-form length
                if (data[start] != 0x02 or start + 1 >= stop or data[start + 1] >= 0x80
                        or len(members) >= MAX_SET_MEMBERS):
                    return None
                member, start = start + 2, start + 2 + data[start + 1]
                if start > stop:
                    return None
                members.append(int.from_bytes(data[member:start], "big", signed=True))
            value = tuple(members)
        else:
            try:
                value = (_span_root_of_trust(data, start, stop, strict) if code == _ROOT
                         else _span_application_id(data, start, stop))
            except Rejected:
                return None
            if value is None:
                return None
        values[attr] = value
    if strict and not ordered:
        return None
    return _authorization_list(values, ordered)


def read_authorization_list(content: bytes, what: str, *, strict: bool = False) -> AuthorizationList:
    """The AuthorizationList whose SEQUENCE content is ``content``; see the module notes on strictness."""
    fast = _span_authorization_list(content, 0, len(content), strict)
    if fast is not None:
        return fast
    entries = read_children(content, what, MAX_LIST_ENTRIES)
    values: dict[str, object] = {}
    unknown: list[tuple[int, bytes]] = []
    seen: list[int] = []
    for entry in entries:
        if entry.class_ != _CONTEXT or not entry.constructed:
            raise _malformed(what, f"element with tag {entry.tag} is not an EXPLICIT context tag")
        if entry.tag in seen:
            raise Rejected(Reason.ATTR_CONFLICT, f"KeyDescription {what} carries tag [{entry.tag}] twice")
        seen.append(entry.tag)
        inner = _walk_der(entry.content, 2)  # one value, normally; anything else is read again for the message
        if inner is None or len(inner) != 1:
            inner = read_children(entry.content, f"{what} [{entry.tag}]", MAX_LIST_ENTRIES)
        if len(inner) != 1:
            raise _malformed(what, f"[{entry.tag}] does not hold exactly one value")
        spec = TAG_BY_NUMBER.get(entry.tag)
        if spec is None:
            if strict:
                raise Rejected(Reason.UNEXPECTED_CONTENT, f"KeyDescription {what} carries unknown tag [{entry.tag}]")
            unknown.append((entry.tag, inner[0].der))
            continue
        values[spec.attr] = _read_value(spec, inner[0], strict)
    ordered = seen == sorted(seen)
    if strict and not ordered:
        raise _malformed(what, f"AuthorizationList tags are not in ascending order: {seen}")
    return AuthorizationList(**values, unknown=tuple(unknown), tags_ordered=ordered)  # type: ignore[arg-type]


_TOP_LEVEL = (
    ("attestationVersion", core.Integer), ("attestationSecurityLevel", EnumeratedInt),
    ("keyMintVersion", core.Integer), ("keyMintSecurityLevel", EnumeratedInt),
    ("attestationChallenge", core.OctetString), ("uniqueId", core.OctetString),
)


def _read_head(cls: Any, tlv: Tlv, name: str) -> Any:
    fast = _fast_head(tlv, cls)
    return _load(cls, tlv.der, name).native if fast is None else fast


_HEAD_TYPES = [0x02, 0x0A, 0x02, 0x0A, 0x04, 0x04, 0x30, 0x30]
"""The identifier octets of the KeyDescription's eight fields in DER."""


def _span_key_description(der: bytes, strict: bool) -> KeyDescription | None:
    """:func:`parse_key_description` of ``der`` (less the strict re-encoding check) in one pass, when its fields
    have their DER types and both lists read as :func:`_span_authorization_list` reads them; None otherwise."""
    outer = _spans(der, 0, len(der), 1)
    children = _spans(der, outer[0][1], outer[0][2], 8) if outer and outer[0][0] == 0x30 else None
    if children is None or [identifier for identifier, _, _ in children] != _HEAD_TYPES:
        return None
    version, level, keymint_version, keymint_level = [int.from_bytes(der[start:stop], "big", signed=True)
                                                      for _, start, stop in children[:4]]
    software = _span_authorization_list(der, children[6][1], children[6][2], strict)
    hardware = _span_authorization_list(der, children[7][1], children[7][2], strict)
    if software is None or hardware is None:
        return None
    return KeyDescription(version, level, keymint_version, keymint_level, der[children[4][1]:children[4][2]],
                          der[children[5][1]:children[5][2]], software, hardware)


def parse_key_description(der: bytes, *, strict: bool = False) -> KeyDescription:
    """Read the KeyDescription in ``der`` (the extension value).

    ``strict`` refuses tags out of order, unknown tags and any non-DER encoding; without it the
    reader accepts what real devices emit. Raises :class:`Rejected`, never anything else.
    """
    if len(der) > MAX_KEY_DESCRIPTION_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED,
                       f"KeyDescription is {len(der)} bytes (limit {MAX_KEY_DESCRIPTION_BYTES})")
    kd = _span_key_description(der, strict) or _read_key_description(der, strict)
    if strict and encode_key_description(kd) != der:
        raise _malformed("", "not DER (a re-encoding differs: lengths, INTEGER or SET OF order)")
    return kd


def _read_key_description(der: bytes, strict: bool) -> KeyDescription:
    outer = read_children(der, "", MAX_LIST_ENTRIES)
    if len(outer) != 1:
        raise _malformed("", "bytes after the KeyDescription SEQUENCE")
    top = outer[0]
    if (top.class_, top.constructed, top.tag) != (_UNIVERSAL, True, 16):
        raise _malformed("", "not a SEQUENCE")
    children = read_children(top.content, "", MAX_LIST_ENTRIES)
    if len(children) != 8:
        raise _malformed("", f"{len(children)} fields (expected 8)")
    head = [_read_head(cls, child, name) for (name, cls), child in zip(_TOP_LEVEL, children[:6], strict=True)]
    for name, child in zip(("softwareEnforced", "hardwareEnforced"), children[6:], strict=True):
        if (child.class_, child.constructed, child.tag) != (_UNIVERSAL, True, 16):
            raise _malformed(name, "not a SEQUENCE")
    return KeyDescription(
        head[0], head[1], head[2], head[3], head[4], head[5],
        software_enforced=read_authorization_list(children[6].content, "softwareEnforced", strict=strict),
        hardware_enforced=read_authorization_list(children[7].content, "hardwareEnforced", strict=strict),
    )


# -- JSON in the style of android/keyattestation ------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def patch_level_text(value: int) -> str | None:
    """``yyyyMM`` or ``yyyyMMdd`` as android/keyattestation prints a patch level; None when it is invalid."""
    text = str(value)
    if len(text) not in (6, 8) or not text.isdigit() or not 1 <= int(text[4:6]) <= 12:
        return None
    return text


def _enum_name(enum_type: type[enum.IntEnum], value: int) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return str(value)


def _json_value(spec: TagSpec, value: Any) -> object:
    if spec.kind is Kind.NULL:
        return True
    if spec.kind is Kind.INT_SET:
        return [str(v) for v in value]
    if spec.kind is Kind.ROOT_OF_TRUST:
        return {
            "verifiedBootKey": _b64(value.verified_boot_key), "deviceLocked": value.device_locked,
            "verifiedBootState": _enum_name(VerifiedBootState, value.verified_boot_state),
            **({"verifiedBootHash": _b64(value.verified_boot_hash)} if value.verified_boot_hash is not None else {}),
        }
    if spec.kind is Kind.APPLICATION_ID:
        return {"packages": [{"name": p.name.decode("utf-8", "replace"), "version": str(p.version)}
                             for p in value.packages],
                "signatures": [_b64(s) for s in value.signatures]}
    if spec.attr == "origin":
        return _enum_name(Origin, value)
    if spec.attr in ("os_patch_level", "vendor_patch_level", "boot_patch_level"):
        return patch_level_text(value)
    if spec.kind is Kind.OCTETS:
        return _b64(value) if spec.attr in ("module_hash", "application_id") else value.decode("utf-8", "replace")
    return str(value)


_JSON_NAMES = {"purposes": "purposes", "algorithm": "algorithms", "digests": "digests", "paddings": "paddings",
               "block_modes": "blockModes", "rsa_oaep_mgf_digests": "rsaOaepMgfDigests",
               "rollback_resistant": "rollbackResistant"}


def json_name(spec: TagSpec) -> str:
    """The field name android/keyattestation's KeyDescription JSON uses for a tag."""
    return _JSON_NAMES.get(spec.attr, spec.asn1_name)


def authorization_list_json(auth: AuthorizationList) -> dict[str, object]:
    """The list as android/keyattestation prints it (invalid patch levels are left out, as there)."""
    out: dict[str, object] = {}
    for spec in TAGS:
        value = getattr(auth, spec.attr)
        if _is_set(value):
            rendered = _json_value(spec, value)
            if rendered is not None:
                out[json_name(spec)] = rendered
    out["areTagsOrdered"] = auth.tags_ordered
    return out


def key_description_json(kd: KeyDescription) -> dict[str, object]:
    """The KeyDescription in the JSON shape of android/keyattestation's test data."""
    return {
        "attestationVersion": str(kd.attestation_version),
        "attestationSecurityLevel": _enum_name(SecurityLevel, kd.attestation_security_level),
        "keyMintVersion": str(kd.keymint_version),
        "keyMintSecurityLevel": _enum_name(SecurityLevel, kd.keymint_security_level),
        "attestationChallenge": _b64(kd.attestation_challenge),
        "uniqueId": _b64(kd.unique_id),
        "softwareEnforced": authorization_list_json(kd.software_enforced),
        "hardwareEnforced": authorization_list_json(kd.hardware_enforced),
    }


def with_lists(kd: KeyDescription, *, software: Callable[[AuthorizationList], AuthorizationList] | None = None,
               hardware: Callable[[AuthorizationList], AuthorizationList] | None = None) -> KeyDescription:
    """``kd`` with either list transformed (a helper for generators and mutations)."""
    return replace(kd, software_enforced=software(kd.software_enforced) if software else kd.software_enforced,
                   hardware_enforced=hardware(kd.hardware_enforced) if hardware else kd.hardware_enforced)
