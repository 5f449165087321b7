"""Yubico's private certificate extensions: the YubiKey PIV arc ``1.3.6.1.4.1.41482.3`` and the YubiHSM 2
arc ``1.3.6.1.4.1.41482.4``, their exact encodings and bounded readers.

Facts (``shared/specs/other_formats.md`` 2.1, 2.2, checked against the real YubiKey 4.3.3 and YubiHSM 2
samples in ``shared/interop``):

* PIV extnValue contents are **raw bytes**, except the serial: firmware ``.3.3`` is three bytes
  (``04 03 03``), the serial ``.3.7`` a DER INTEGER (``02 03 50 1c e0``), the policy ``.3.8`` two bytes
  (PIN, touch), the form factor ``.3.9`` one byte whose bit 0x80 marks the FIPS series (yubikit's
  ``FORM_FACTOR`` reading; a real YubiKey 5 FIPS USB-C keychain writes ``83``), FIPS ``.3.10`` and CSPN
  ``.3.11`` are markers whose presence counts. A real YubiKey 5 FIPS (firmware 5.4.3, docker/tuf
  ``ceremony/2024-04-09/keys/25515137``) writes ``.3.10`` as ``02 01 07``, a DER INTEGER 7 whose meaning
  Yubico does not document; hsmsim writes those bytes and reads only the presence. The CSPN value is
  not published: hsmsim writes it empty.
* YubiHSM extnValue contents are DER: firmware an OCTET STRING of three bytes, serial and object id
  INTEGERs, origin a BIT STRING ``03 02 00 <flags>``, domains ``03 03 00 hi lo``, capabilities
  ``03 09 00 <8 bytes>``, the label a UTF8String. python-yubihsm reads them with short-form lengths
  (``value[2:]``), which every real value has.

Readers raise :class:`hsmsim.verdict.Rejected` (``MALFORMED``) on a value that breaks its encoding.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.encoding import der_integer, der_tlv, read_tlv
from hsmsim.verdict import Reason, Rejected

YUBICO_ARC = "1.3.6.1.4.1.41482"
PIV_FIRMWARE = ObjectIdentifier(f"{YUBICO_ARC}.3.3")
PIV_SERIAL = ObjectIdentifier(f"{YUBICO_ARC}.3.7")
PIV_POLICY = ObjectIdentifier(f"{YUBICO_ARC}.3.8")
PIV_FORM_FACTOR = ObjectIdentifier(f"{YUBICO_ARC}.3.9")
PIV_FIPS = ObjectIdentifier(f"{YUBICO_ARC}.3.10")
PIV_CSPN = ObjectIdentifier(f"{YUBICO_ARC}.3.11")
PIV_OIDS = (PIV_FIRMWARE, PIV_SERIAL, PIV_POLICY, PIV_FORM_FACTOR, PIV_FIPS, PIV_CSPN)
PIV_FIPS_VALUE = b"\x02\x01\x07"
"""The FIPS marker's extnValue as a real YubiKey 5 FIPS writes it (an INTEGER 7, meaning undocumented)."""
FORM_FACTOR_FIPS = 0x80
"""The form-factor bit of a FIPS-series device (yubikit ``DeviceInfo``: ``form_factor & 0x80``)."""

HSM_FIRMWARE = ObjectIdentifier(f"{YUBICO_ARC}.4.1")
HSM_SERIAL = ObjectIdentifier(f"{YUBICO_ARC}.4.2")
HSM_ORIGIN = ObjectIdentifier(f"{YUBICO_ARC}.4.3")
HSM_DOMAINS = ObjectIdentifier(f"{YUBICO_ARC}.4.4")
HSM_CAPABILITIES = ObjectIdentifier(f"{YUBICO_ARC}.4.5")
HSM_OBJECT_ID = ObjectIdentifier(f"{YUBICO_ARC}.4.6")
HSM_LABEL = ObjectIdentifier(f"{YUBICO_ARC}.4.9")
HSM_FIPS_CERTIFICATE = ObjectIdentifier(f"{YUBICO_ARC}.4.10")
HSM_KEY_OIDS = (HSM_FIRMWARE, HSM_SERIAL, HSM_ORIGIN, HSM_DOMAINS, HSM_CAPABILITIES, HSM_OBJECT_ID, HSM_LABEL)


class PinPolicy(enum.IntEnum):
    """The PIN policy byte of ``.3.8`` (0 = the slot's default)."""

    DEFAULT = 0
    NEVER = 1
    ONCE = 2
    ALWAYS = 3
    MATCH_ONCE = 4
    MATCH_ALWAYS = 5

    @property
    def strength(self) -> int:
        """0 no PIN, 1 once per session, 2 before every use (biometric match counts as the PIN)."""
        return _PIN_STRENGTH.get(self, 0)


class TouchPolicy(enum.IntEnum):
    """The touch policy byte of ``.3.8`` (0 = the slot's default, which is never)."""

    DEFAULT = 0
    NEVER = 1
    ALWAYS = 2
    CACHED = 3

    @property
    def strength(self) -> int:
        """0 no touch, 1 a touch cached for 15 s, 2 a touch for every use."""
        return _TOUCH_STRENGTH.get(self, 0)


_PIN_POLICIES = {int(member): member for member in PinPolicy}
_TOUCH_POLICIES = {int(member): member for member in TouchPolicy}
_PIN_STRENGTH = {PinPolicy.NEVER: 0, PinPolicy.ONCE: 1, PinPolicy.MATCH_ONCE: 1, PinPolicy.ALWAYS: 2,
                 PinPolicy.MATCH_ALWAYS: 2}
_TOUCH_STRENGTH = {TouchPolicy.CACHED: 1, TouchPolicy.ALWAYS: 2}


SLOT_DEFAULT_PIN = {"9a": PinPolicy.ONCE, "9c": PinPolicy.ALWAYS, "9d": PinPolicy.ONCE, "9e": PinPolicy.NEVER}
"""Each slot's default PIN policy; the retired slots 82-95 default to once (PIV / ykman)."""

FORM_FACTORS = {0: "unknown form factor", 1: "USB-A keychain", 2: "USB-A nano", 3: "USB-C keychain",
                4: "USB-C nano", 5: "USB-C Lightning", 6: "USB-A Bio", 7: "USB-C Bio"}


def resolved_pin(policy: PinPolicy, slot: str) -> PinPolicy:
    """``policy``, with DEFAULT replaced by the slot's default."""
    if policy is not PinPolicy.DEFAULT:
        return policy
    return SLOT_DEFAULT_PIN.get(slot, PinPolicy.ONCE)


def resolved_touch(policy: TouchPolicy) -> TouchPolicy:
    """``policy``, with DEFAULT replaced by never (every slot's default)."""
    return TouchPolicy.NEVER if policy is TouchPolicy.DEFAULT else policy


def read_der_integer(value: bytes, what: str) -> int:
    """The non-negative INTEGER filling ``value``; MALFORMED otherwise (raw bytes, trailing data, sign)."""
    try:
        tag, start, end = read_tlv(value)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not a DER INTEGER: {exc}") from None
    body = value[start:end]
    if tag != 0x02 or end != len(value) or not body or body[0] & 0x80 or (len(body) > 1 and body[:2] == b"\x00\x00"):
        raise Rejected(Reason.MALFORMED, f"{what} is not a non-negative DER INTEGER ({value[:8].hex()})")
    if len(body) > 9:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is longer than 64 bits")
    return int.from_bytes(body, "big")


ExtensionMap = Mapping[ObjectIdentifier, x509.Extension[x509.ExtensionType]]
"""A certificate's extensions by OID (:func:`extensions_by_oid`)."""


def extensions_by_oid(cert: x509.Certificate) -> dict[ObjectIdentifier, x509.Extension[x509.ExtensionType]]:
    """Every extension of ``cert`` by its OID, in the certificate's order, read in one pass (cryptography refuses
    a duplicate OID, so none is lost). Raises what ``cert.extensions`` raises."""
    return {ext.oid: ext for ext in cert.extensions}


def raw_value(extensions: ExtensionMap, oid: ObjectIdentifier) -> bytes | None:
    """The raw extnValue contents of ``oid`` among ``extensions``, None when absent or parsed by cryptography
    into a known extension class."""
    ext = extensions.get(oid)
    if ext is None:
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def extension_value(cert: x509.Certificate, oid: ObjectIdentifier) -> bytes | None:
    """The raw extnValue contents of ``oid`` in ``cert``, None when absent (cryptography refuses duplicates)."""
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def firmware_text(raw: tuple[int, int, int]) -> str:
    """``5.4.3``."""
    return f"{raw[0]}.{raw[1]}.{raw[2]}"


# -- YubiKey PIV ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PivExtensions:
    """What a YubiKey PIV attestation certificate (and its f9) says about the key and the device."""

    firmware: tuple[int, int, int] | None
    serial: int | None
    pin: PinPolicy | None
    touch: TouchPolicy | None
    form_factor: int | None
    """The form factor with the FIPS bit masked."""
    fips: bool
    """The ``.3.10`` marker is present, or the form-factor byte has bit 0x80 set."""
    cspn: bool


def piv_extensions(*, firmware: tuple[int, int, int] | None, serial: int | None = None,
                   policy: tuple[int, int] | None = None, form_factor: int | None = None,
                   fips: bool = False, cspn: bool = False) -> list[x509.UnrecognizedExtension]:
    """The PIV extensions in the device's order (3, 7, 8, 9, 10, 11), each only when given.

    ``form_factor`` is the raw byte (the caller sets :data:`FORM_FACTOR_FIPS` on a FIPS device); ``fips``
    adds the ``.3.10`` marker with the real device's value.
    """
    out = []
    if firmware is not None:
        out.append(x509.UnrecognizedExtension(PIV_FIRMWARE, bytes(firmware)))
    if serial is not None:
        out.append(x509.UnrecognizedExtension(PIV_SERIAL, der_integer(serial)))
    if policy is not None:
        out.append(x509.UnrecognizedExtension(PIV_POLICY, bytes(policy)))
    if form_factor is not None:
        out.append(x509.UnrecognizedExtension(PIV_FORM_FACTOR, bytes([form_factor])))
    if fips:
        out.append(x509.UnrecognizedExtension(PIV_FIPS, PIV_FIPS_VALUE))
    if cspn:
        out.append(x509.UnrecognizedExtension(PIV_CSPN, b""))
    return out


def read_piv_extensions(extensions: ExtensionMap, what: str) -> PivExtensions:
    """The PIV extensions among a certificate's ``extensions``, each checked against its encoding (MALFORMED)."""
    firmware = raw_value(extensions, PIV_FIRMWARE)
    if firmware is not None and len(firmware) != 3:
        raise Rejected(Reason.MALFORMED, f"{what} firmware (.3.3) is {len(firmware)} bytes, not 3 raw bytes")
    serial = raw_value(extensions, PIV_SERIAL)
    policy = raw_value(extensions, PIV_POLICY)
    pin = touch = None
    if policy is not None:
        if len(policy) != 2:
            raise Rejected(Reason.MALFORMED, f"{what} PIN/touch policy (.3.8) is {len(policy)} bytes, not 2")
        pin, touch = _PIN_POLICIES.get(policy[0]), _TOUCH_POLICIES.get(policy[1])
        if pin is None or touch is None:
            raise Rejected(Reason.MALFORMED, f"{what} PIN/touch policy (.3.8) {policy.hex()} is unknown")
    form = raw_value(extensions, PIV_FORM_FACTOR)
    if form is not None and (len(form) != 1 or form[0] & 0x7F not in FORM_FACTORS):
        raise Rejected(Reason.MALFORMED, f"{what} form factor (.3.9) {form.hex()} is not one known byte")
    return PivExtensions(
        firmware=(firmware[0], firmware[1], firmware[2]) if firmware is not None else None,
        serial=read_der_integer(serial, f"{what} serial (.3.7)") if serial is not None else None,
        pin=pin, touch=touch, form_factor=form[0] & 0x7F if form is not None else None,
        fips=PIV_FIPS in extensions or (form is not None and bool(form[0] & FORM_FACTOR_FIPS)),
        cspn=PIV_CSPN in extensions)


# -- YubiHSM 2 ---------------------------------------------------------------------------------------

class Origin(enum.IntFlag):
    """The origin BIT STRING's flags (python-yubihsm ``ORIGIN``)."""

    GENERATED = 0x01
    IMPORTED = 0x02
    IMPORTED_WRAPPED = 0x10


CAPABILITY_BITS = {"sign-pkcs": 5, "sign-pss": 6, "sign-ecdsa": 7, "sign-eddsa": 8, "decrypt-pkcs": 9,
                   "decrypt-oaep": 10, "derive-ecdh": 11, "exportable-under-wrap": 16,
                   "sign-attestation-certificate": 34}
"""The capability bits an asymmetric key can carry (python-yubihsm ``CAPABILITY``), by yubihsm-shell name."""
SIGN_CAPABILITIES = ("sign-pkcs", "sign-pss", "sign-ecdsa", "sign-eddsa")
_CAPABILITY_ITEMS = tuple(CAPABILITY_BITS.items())


def capability_mask(*names: str) -> int:
    """The 64-bit capability word with the named bits set."""
    return sum(1 << CAPABILITY_BITS[n] for n in names)


EXPORTABLE_MASK = capability_mask("exportable-under-wrap")
SIGN_MASK = capability_mask(*SIGN_CAPABILITIES)


def capability_names(mask: int) -> tuple[str, ...]:
    """The known capability names set in ``mask``."""
    return tuple([n for n, bit in _CAPABILITY_ITEMS if mask >> bit & 1])


@dataclass(frozen=True)
class HsmKeyExtensions:
    """What a YubiHSM 2 key attestation certificate says about the key."""

    firmware: tuple[int, int, int]
    serial: int
    origin: int
    domains: int
    capabilities: int
    object_id: int
    label: str


def hsm_key_extensions(fields: HsmKeyExtensions) -> list[x509.UnrecognizedExtension]:
    """The seven key extensions in the device's order (4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.9)."""
    label = fields.label.encode()
    return [
        x509.UnrecognizedExtension(HSM_FIRMWARE, der_tlv(0x04, bytes(fields.firmware))),
        x509.UnrecognizedExtension(HSM_SERIAL, der_integer(fields.serial)),
        x509.UnrecognizedExtension(HSM_ORIGIN, der_tlv(0x03, b"\x00" + bytes([fields.origin]))),
        x509.UnrecognizedExtension(HSM_DOMAINS, der_tlv(0x03, b"\x00" + fields.domains.to_bytes(2, "big"))),
        x509.UnrecognizedExtension(HSM_CAPABILITIES, der_tlv(0x03, b"\x00" + fields.capabilities.to_bytes(8, "big"))),
        x509.UnrecognizedExtension(HSM_OBJECT_ID, der_integer(fields.object_id)),
        x509.UnrecognizedExtension(HSM_LABEL, der_tlv(0x0C, label)),
    ]


def _bit_string(content: bytes, octets: int, what: str) -> int:
    """The contents of a BIT STRING (its short-form header checked by :func:`_short_form`): exactly ``octets``
    octets after a zero unused-bits octet."""
    if len(content) != octets + 1 or content[0] != 0:
        value = bytes([0x03, len(content)]) + content
        raise Rejected(Reason.MALFORMED, f"{what} is not a {8 * octets}-bit DER BIT STRING ({value[:6].hex()})")
    return int.from_bytes(content[1:], "big")


def _short_form(value: bytes | None, tag: int, what: str) -> bytes:
    if value is None:
        raise Rejected(Reason.ATTR_MISSING, f"the key attestation certificate has no {what}")
    if len(value) < 2 or value[0] != tag or value[1] & 0x80 or value[1] != len(value) - 2:
        raise Rejected(Reason.MALFORMED, f"{what} is not a short-form DER value of tag {tag:#04x} "
                                         f"({value[:6].hex()}): python-yubihsm reads value[2:]")
    return value[2:]


def read_hsm_key_extensions(extensions: ExtensionMap) -> HsmKeyExtensions:
    """The key extensions among a YubiHSM 2 key attestation certificate's ``extensions`` (ATTR_MISSING,
    MALFORMED)."""
    firmware = _short_form(raw_value(extensions, HSM_FIRMWARE), 0x04, "firmware (4.1)")
    if len(firmware) != 3:
        raise Rejected(Reason.MALFORMED, "firmware (4.1) is not an OCTET STRING of 3 bytes")
    serial = raw_value(extensions, HSM_SERIAL)
    object_id = raw_value(extensions, HSM_OBJECT_ID)
    if serial is None or object_id is None:
        raise Rejected(Reason.ATTR_MISSING, "the key attestation certificate lacks its serial (4.2) or object id (4.6)")
    origin = _short_form(raw_value(extensions, HSM_ORIGIN), 0x03, "origin (4.3)")
    domains = _short_form(raw_value(extensions, HSM_DOMAINS), 0x03, "domains (4.4)")
    capabilities = _short_form(raw_value(extensions, HSM_CAPABILITIES), 0x03, "capabilities (4.5)")
    label = _short_form(raw_value(extensions, HSM_LABEL), 0x0C, "label (4.9)")
    try:
        text = label.decode()
    except UnicodeDecodeError:
        raise Rejected(Reason.MALFORMED, "label (4.9) is not UTF-8") from None
    return HsmKeyExtensions(
        firmware=(firmware[0], firmware[1], firmware[2]), serial=read_der_integer(serial, "serial (4.2)"),
        origin=_bit_string(origin, 1, "origin (4.3)"), domains=_bit_string(domains, 2, "domains (4.4)"),
        capabilities=_bit_string(capabilities, 8, "capabilities (4.5)"),
        object_id=read_der_integer(object_id, "object id (4.6)"), label=text)
