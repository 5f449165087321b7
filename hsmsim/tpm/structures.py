"""TPM 2.0 structures: TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE and Names (TPM 2.0 Library Part 2).

Each structure is a frozen dataclass with ``marshal()`` (the exact bytes a TPM writes) and
``unmarshal(data)`` (strict: bounded reads, every TPM2B within its type's maximum, TPMI_YES_NO in
{0, 1}, no reserved TPMA_OBJECT bits, no trailing bytes; raises :class:`hsmsim.verdict.Rejected`
with MALFORMED, LIMIT_EXCEEDED or UNSUPPORTED). Unmarshal checks types, not semantics: a wrong
``magic`` or attestation ``type`` parses, and the verifier says what is wrong with it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ObjectIdentifier, PublicKeyAlgorithmOID

from hsmsim.encoding import der_oid, der_sequence, der_tlv, spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.keystore.base import KeyAttributes, PublicKey
from hsmsim.tpm.marshal import (
    MAX_DATA,
    MAX_DIGEST,
    MAX_ECC_BYTES,
    MAX_NAME,
    MAX_RSA_BYTES,
    TPM_GENERATED_VALUE,
    TPMA_OBJECT_RESERVED,
    Reader,
    TpmAlg,
    TpmaObject,
    TpmEccCurve,
    TpmSt,
    alg_name,
    digest_size,
    hash_bytes,
    tpm2b,
    u16,
    u32,
    u64,
)
from hsmsim.verdict import Reason, Rejected

# Each supported curve once: TPM_ECC_CURVE, cryptography's class and OID, and the field prime (a coordinate must
# be below it: OpenSSL reduces a larger one silently, and no TPM writes one).
_SUPPORTED_CURVES: tuple[tuple[int, type[ec.EllipticCurve], ObjectIdentifier, int], ...] = (
    (TpmEccCurve.NIST_P256, ec.SECP256R1, ec.EllipticCurveOID.SECP256R1, 2**256 - 2**224 + 2**192 + 2**96 - 1),
    (TpmEccCurve.NIST_P384, ec.SECP384R1, ec.EllipticCurveOID.SECP384R1, 2**384 - 2**128 - 2**96 + 2**32 - 1),
    (TpmEccCurve.NIST_P521, ec.SECP521R1, ec.EllipticCurveOID.SECP521R1, 2**521 - 1),
)
CURVES: dict[int, type[ec.EllipticCurve]] = {curve_id: curve for curve_id, curve, _, _ in _SUPPORTED_CURVES}
CURVE_IDS = {curve().name: curve_id for curve_id, curve, _, _ in _SUPPORTED_CURVES}
_FIELD_PRIMES = {curve_id: prime for curve_id, _, _, prime in _SUPPORTED_CURVES}
_EC_ALGORITHMS: dict[int, bytes] = {
    curve_id: der_sequence(der_oid(PublicKeyAlgorithmOID.EC_PUBLIC_KEY.dotted_string), der_oid(oid.dotted_string))
    for curve_id, _, oid, _ in _SUPPORTED_CURVES}
"""The SubjectPublicKeyInfo AlgorithmIdentifier (id-ecPublicKey, named curve) of each supported curve."""
DEFAULT_RSA_EXPONENT = 65537
"""What an exponent field of 0 means in TPMS_RSA_PARMS."""

# Asymmetric and KDF schemes whose details are a TPMS_SCHEME_HASH (ECDAA adds a count; RSAES has none).
_HASH_SCHEMES = {TpmAlg.RSASSA, TpmAlg.RSAPSS, TpmAlg.OAEP, TpmAlg.ECDSA, TpmAlg.ECDH, TpmAlg.ECDAA, TpmAlg.SM2,
                 TpmAlg.ECSCHNORR, TpmAlg.ECMQV, TpmAlg.KDF1_SP800_56A, TpmAlg.KDF2, TpmAlg.KDF1_SP800_108,
                 0x0007}  # 0x0007 = TPM_ALG_MGF1
_ECC_SIGNATURES = {TpmAlg.ECDSA, TpmAlg.ECDAA, TpmAlg.SM2, TpmAlg.ECSCHNORR}
_RSA_SIGNATURES = {TpmAlg.RSASSA, TpmAlg.RSAPSS}


# -- TPMS_ATTEST --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClockInfo:
    """TPMS_CLOCK_INFO: 17 bytes. ``safe`` is a TPMI_YES_NO (0 or 1); other values do not unmarshal."""

    clock: int
    reset_count: int
    restart_count: int
    safe: int

    def marshal(self) -> bytes:
        """clock u64 ‖ resetCount u32 ‖ restartCount u32 ‖ safe u8."""
        return u64(self.clock) + u32(self.reset_count) + u32(self.restart_count) + bytes([self.safe])

    @classmethod
    def read(cls, reader: Reader) -> ClockInfo:
        """Read one TPMS_CLOCK_INFO."""
        info = cls(reader.u64("clockInfo.clock"), reader.u32("clockInfo.resetCount"),
                   reader.u32("clockInfo.restartCount"), reader.u8("clockInfo.safe"))
        if info.safe not in (0, 1):
            raise Rejected(Reason.MALFORMED, f"{reader.what}: clockInfo.safe is {info.safe}, not 0 or 1 (TPMI_YES_NO)")
        return info


@dataclass(frozen=True)
class CertifyInfo:
    """TPMS_CERTIFY_INFO: the certified object's Name and qualified Name."""

    name: bytes
    qualified_name: bytes

    def marshal(self) -> bytes:
        """TPM2B_NAME name ‖ TPM2B_NAME qualifiedName."""
        return tpm2b(self.name) + tpm2b(self.qualified_name)

    @classmethod
    def read(cls, reader: Reader) -> CertifyInfo:
        """Read one TPMS_CERTIFY_INFO."""
        return cls(reader.tpm2b("attested.certify.name", MAX_NAME),
                   reader.tpm2b("attested.certify.qualifiedName", MAX_NAME))


PCR_SELECT_MIN = 3
"""sizeofSelect of a PC Client TPM's selections: 24 PCRs, one bit each (Part 2 TPMS_PCR_SELECTION)."""


@dataclass(frozen=True)
class PcrSelection:
    """TPMS_PCR_SELECTION: a hash bank and a bitmap of selected PCRs (PCR n is bit n % 8 of byte n // 8)."""

    hash_alg: int
    select: bytes

    @classmethod
    def of(cls, hash_alg: int, indices: tuple[int, ...], size: int = PCR_SELECT_MIN) -> PcrSelection:
        """The selection of PCRs ``indices`` in the bank ``hash_alg``, ``size`` bytes of bitmap."""
        bitmap = bytearray(size)
        for index in indices:
            bitmap[index // 8] |= 1 << (index % 8)
        return cls(hash_alg, bytes(bitmap))

    @property
    def indices(self) -> tuple[int, ...]:
        """The selected PCRs, ascending: the order TPM2_Quote concatenates them in."""
        return tuple(8 * offset + bit for offset, byte in enumerate(self.select) for bit in range(8)
                     if byte >> bit & 1)

    def marshal(self) -> bytes:
        """hash u16 ‖ sizeofSelect u8 ‖ pcrSelect."""
        return u16(self.hash_alg) + bytes([len(self.select)]) + self.select


def pcr_selection_list(selections: tuple[PcrSelection, ...]) -> bytes:
    """TPML_PCR_SELECTION: count u32, then each TPMS_PCR_SELECTION."""
    return u32(len(selections)) + b"".join(sel.marshal() for sel in selections)


@dataclass(frozen=True)
class QuoteInfo:
    """TPMS_QUOTE_INFO: TPML_PCR_SELECTION ‖ TPM2B_DIGEST pcrDigest."""

    selections: tuple[PcrSelection, ...]
    pcr_digest: bytes

    MAX_BANKS = 16  # HASH_COUNT of any real TPM is far below this

    def marshal(self) -> bytes:
        """The TPML_PCR_SELECTION, then the digest."""
        return pcr_selection_list(self.selections) + tpm2b(self.pcr_digest)

    @classmethod
    def read(cls, reader: Reader) -> QuoteInfo:
        """Read one TPMS_QUOTE_INFO."""
        count = reader.u32("attested.quote.pcrSelect.count")
        if count > cls.MAX_BANKS:
            raise Rejected(Reason.MALFORMED, f"{reader.what}: {count} PCR banks (at most {cls.MAX_BANKS})")
        selections = []
        for index in range(count):
            hash_alg = reader.u16(f"pcrSelections[{index}].hash")
            size = reader.u8(f"pcrSelections[{index}].sizeofSelect")
            selections.append(PcrSelection(hash_alg, reader.take(size, f"pcrSelections[{index}].pcrSelect")))
        return cls(tuple(selections), reader.tpm2b("attested.quote.pcrDigest", MAX_DIGEST))


@dataclass(frozen=True)
class OpaqueAttested:
    """The body of an attestation type hsmsim does not decode (NV, audit, time, creation): kept as bytes."""

    body: bytes

    def marshal(self) -> bytes:
        """The body as read."""
        return self.body


Attested = CertifyInfo | QuoteInfo | OpaqueAttested


@dataclass(frozen=True)
class TpmsAttest:
    """TPMS_ATTEST ("certInfo"): what an attestation key signs.

    ``magic`` and ``type`` are kept as read so a verifier can say what is wrong with them.
    """

    type: int
    qualified_signer: bytes
    extra_data: bytes
    clock_info: ClockInfo
    firmware_version: int
    attested: Attested
    magic: int = TPM_GENERATED_VALUE

    def marshal(self) -> bytes:
        """The exact bytes a TPM returns in TPM2B_ATTEST (without the size prefix)."""
        return (u32(self.magic) + u16(self.type) + tpm2b(self.qualified_signer) + tpm2b(self.extra_data)
                + self.clock_info.marshal() + u64(self.firmware_version) + self.attested.marshal())

    @classmethod
    def unmarshal(cls, data: bytes, what: str = "certInfo") -> TpmsAttest:
        """Parse a TPMS_ATTEST strictly (``what`` names it in a rejection). CERTIFY and QUOTE bodies are decoded;
        other types are kept opaque."""
        reader = Reader(data, what)
        magic = reader.u32("magic")
        type_ = reader.u16("type")
        signer = reader.tpm2b("qualifiedSigner", MAX_NAME)
        extra = reader.tpm2b("extraData", MAX_DATA)
        clock = ClockInfo.read(reader)
        firmware = reader.u64("firmwareVersion")
        attested: Attested
        if type_ == TpmSt.ATTEST_CERTIFY:
            attested = CertifyInfo.read(reader)
        elif type_ == TpmSt.ATTEST_QUOTE:
            attested = QuoteInfo.read(reader)
        else:
            attested = OpaqueAttested(reader.take(len(data) - reader.position, "attested"))
        reader.finish()
        return cls(type_, signer, extra, clock, firmware, attested, magic)


def attest_type_name(value: int) -> str:
    """``TPM_ST_ATTEST_<NAME>`` or the hex value."""
    try:
        return f"TPM_ST_{TpmSt(value).name} (0x{value:04x})"
    except ValueError:
        return f"0x{value:04x}"


# -- TPMT_PUBLIC --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SymDef:
    """TPMT_SYM_DEF_OBJECT: NULL, or an algorithm with key bits and mode (e.g. AES-128-CFB)."""

    algorithm: int = TpmAlg.NULL
    key_bits: int = 0
    mode: int = 0

    def marshal(self) -> bytes:
        """algorithm u16 [‖ keyBits u16 ‖ mode u16]."""
        if self.algorithm == TpmAlg.NULL:
            return u16(TpmAlg.NULL)
        return u16(self.algorithm) + u16(self.key_bits) + u16(self.mode)

    @classmethod
    def read(cls, reader: Reader) -> SymDef:
        """Read one TPMT_SYM_DEF_OBJECT."""
        algorithm = reader.u16("parameters.symmetric.algorithm")
        if algorithm == TpmAlg.NULL:
            return NULL_SYMMETRIC
        return cls(algorithm, reader.u16("parameters.symmetric.keyBits"), reader.u16("parameters.symmetric.mode"))


@dataclass(frozen=True)
class Scheme:
    """An asymmetric or KDF scheme: NULL, or an algorithm with its hash (ECDAA also has a count)."""

    scheme: int = TpmAlg.NULL
    hash_alg: int | None = None
    count: int | None = None

    def marshal(self) -> bytes:
        """scheme u16 [‖ hashAlg u16 [‖ count u16]]."""
        out = u16(self.scheme)
        if self.hash_alg is not None:
            out += u16(self.hash_alg)
        if self.count is not None:
            out += u16(self.count)
        return out

    @classmethod
    def read(cls, reader: Reader, field: str) -> Scheme:
        """Read a TPMT_*_SCHEME; an algorithm with undefined details is UNSUPPORTED."""
        scheme = reader.u16(f"{field}.scheme")
        if scheme in (TpmAlg.NULL, TpmAlg.RSAES):
            return NULL_SCHEME if scheme == TpmAlg.NULL else cls(scheme)
        if scheme not in _HASH_SCHEMES:
            raise Rejected(Reason.UNSUPPORTED, f"{reader.what}: {field} {alg_name(scheme)} is not a known scheme")
        hash_alg = reader.u16(f"{field}.details.hashAlg")
        count = reader.u16(f"{field}.details.count") if scheme == TpmAlg.ECDAA else None
        return cls(scheme, hash_alg, count)


NULL_SYMMETRIC = SymDef()
NULL_SCHEME = Scheme()


@dataclass(frozen=True)
class RsaParms:
    """TPMS_RSA_PARMS. ``exponent`` 0 means 65537."""

    symmetric: SymDef
    scheme: Scheme
    key_bits: int
    exponent: int = 0

    def marshal(self) -> bytes:
        """symmetric ‖ scheme ‖ keyBits u16 ‖ exponent u32."""
        return self.symmetric.marshal() + self.scheme.marshal() + u16(self.key_bits) + u32(self.exponent)


@dataclass(frozen=True)
class EccParms:
    """TPMS_ECC_PARMS."""

    symmetric: SymDef
    scheme: Scheme
    curve_id: int
    kdf: Scheme = NULL_SCHEME

    def marshal(self) -> bytes:
        """symmetric ‖ scheme ‖ curveID u16 ‖ kdf."""
        return self.symmetric.marshal() + self.scheme.marshal() + u16(self.curve_id) + self.kdf.marshal()


@dataclass(frozen=True)
class EccPoint:
    """TPMS_ECC_POINT: big-endian x and y, each a TPM2B_ECC_PARAMETER."""

    x: bytes
    y: bytes

    def marshal(self) -> bytes:
        """TPM2B x ‖ TPM2B y."""
        return tpm2b(self.x) + tpm2b(self.y)


@dataclass(frozen=True)
class TpmtPublic:
    """TPMT_PUBLIC ("pubArea"), RSA or ECC. ``unique`` is the modulus (RSA) or the point (ECC)."""

    type: int
    name_alg: int
    object_attributes: TpmaObject
    parameters: RsaParms | EccParms
    unique: bytes | EccPoint
    auth_policy: bytes = b""

    def marshal(self) -> bytes:
        """The exact bytes a TPM writes (the content of TPM2B_PUBLIC, without its size); for a parsed area the
        bytes as received, which are those (:meth:`unmarshal` accepts only what this writes)."""
        return self._marshalled

    @functools.cached_property
    def _marshalled(self) -> bytes:
        unique = self.unique.marshal() if isinstance(self.unique, EccPoint) else tpm2b(self.unique)
        return (u16(self.type) + u16(self.name_alg) + u32(int(self.object_attributes)) + tpm2b(self.auth_policy)
                + self.parameters.marshal() + unique)

    @classmethod
    def unmarshal(cls, data: bytes) -> TpmtPublic:
        """Parse pubArea strictly; KEYEDHASH and SYMCIPHER objects are UNSUPPORTED."""
        reader = Reader(data, "pubArea")
        type_ = reader.u16("type")
        name_alg = reader.u16("nameAlg")
        attributes = reader.u32("objectAttributes")
        if attributes & TPMA_OBJECT_RESERVED:
            raise Rejected(Reason.MALFORMED,
                           f"pubArea: objectAttributes 0x{attributes:08x} sets reserved bits "
                           f"0x{attributes & TPMA_OBJECT_RESERVED:08x}")
        policy = reader.tpm2b("authPolicy", MAX_DIGEST)
        parameters: RsaParms | EccParms
        unique: bytes | EccPoint
        if type_ == TpmAlg.RSA:
            symmetric = SymDef.read(reader)
            scheme = Scheme.read(reader, "parameters.scheme")
            bits = reader.u16("parameters.keyBits")
            parameters = RsaParms(symmetric, scheme, bits, reader.u32("parameters.exponent"))
            unique = reader.tpm2b("unique.rsa", MAX_RSA_BYTES)
        elif type_ == TpmAlg.ECC:
            symmetric = SymDef.read(reader)
            scheme = Scheme.read(reader, "parameters.scheme")
            curve = reader.u16("parameters.curveID")
            parameters = EccParms(symmetric, scheme, curve, Scheme.read(reader, "parameters.kdf"))
            unique = EccPoint(reader.tpm2b("unique.ecc.x", MAX_ECC_BYTES), reader.tpm2b("unique.ecc.y", MAX_ECC_BYTES))
        else:
            raise Rejected(Reason.UNSUPPORTED, f"pubArea type {alg_name(type_)} is neither RSA nor ECC")
        reader.finish()
        area = cls(type_, name_alg, TpmaObject(attributes), parameters, unique, policy)
        # The Name hashes these bytes: kept rather than marshalled again (dataclasses.replace builds a new
        # instance, which marshals its own fields).
        area.__dict__["_marshalled"] = bytes(data)
        return area

    def name(self) -> bytes:
        """Name = nameAlg ‖ H_nameAlg(marshalled TPMT_PUBLIC) (raises as :func:`name_of` does)."""
        return self._name

    @functools.cached_property
    def _name(self) -> bytes:
        # A TPM2_Certify and a MakeCredential each name the same area several times.
        return name_of(self.name_alg, self.marshal())

    def public_key(self) -> PublicKey:
        """The cryptography public key; Rejected(MALFORMED/UNSUPPORTED) when the area holds no valid key."""
        return self._public_key

    def spki(self) -> bytes:
        """The DER SubjectPublicKeyInfo of :meth:`public_key` (raises as it does)."""
        return self._spki

    # Built once per area (a verifier compares, hashes and reports the same key several times); a frozen
    # dataclass stays immutable: cached_property stores into the instance dict, and a key that does not
    # load raises again on every call.
    @functools.cached_property
    def _spki(self) -> bytes:
        key = self._public_key
        if isinstance(self.unique, EccPoint):
            # What spki_der writes for the validated point (named curve, uncompressed, each coordinate, below the
            # field prime, padded to the field's width), without OpenSSL's point encoding: that costs ~20 µs on
            # P-384, the rest ~1 µs.
            assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(self.parameters, EccParms)
            width = (key.curve.key_size + 7) // 8
            point = (b"\x00\x04" + int.from_bytes(self.unique.x, "big").to_bytes(width, "big")
                     + int.from_bytes(self.unique.y, "big").to_bytes(width, "big"))
            return der_sequence(_EC_ALGORITHMS[self.parameters.curve_id], der_tlv(0x03, point))
        return spki_der(key)

    @functools.cached_property
    def _public_key(self) -> PublicKey:
        if isinstance(self.parameters, RsaParms):
            assert isinstance(self.unique, bytes)
            if self.parameters.key_bits != len(self.unique) * 8:
                raise Rejected(Reason.MALFORMED, f"pubArea: keyBits {self.parameters.key_bits} but the modulus "
                                                 f"has {len(self.unique)} bytes")
            exponent = self.parameters.exponent or DEFAULT_RSA_EXPONENT
            modulus = int.from_bytes(self.unique, "big")
            if modulus.bit_length() != self.parameters.key_bits or exponent < 3 or exponent % 2 == 0:
                raise Rejected(Reason.MALFORMED, "pubArea: not a valid RSA public key")
            try:
                return rsa.RSAPublicNumbers(exponent, modulus).public_key()
            except ValueError:
                raise Rejected(Reason.MALFORMED, "pubArea: not a valid RSA public key") from None
        assert isinstance(self.unique, EccPoint)
        curve = CURVES.get(self.parameters.curve_id)
        if curve is None:
            raise Rejected(Reason.UNSUPPORTED, f"pubArea: curve 0x{self.parameters.curve_id:04x} is not supported")
        x, y = int.from_bytes(self.unique.x, "big"), int.from_bytes(self.unique.y, "big")
        if max(x, y) >= _FIELD_PRIMES[self.parameters.curve_id]:
            raise Rejected(Reason.MALFORMED, "pubArea: an ECC coordinate is not below the curve's field prime")
        numbers = ec.EllipticCurvePublicNumbers(x, y, curve())
        try:
            return numbers.public_key()
        except ValueError:
            raise Rejected(Reason.MALFORMED, "pubArea: the ECC point is not on the curve") from None


def name_of(name_alg: int, marshalled_public: bytes) -> bytes:
    """The Name of an object whose marshalled public area is ``marshalled_public``."""
    return u16(name_alg) + hash_bytes(name_alg, marshalled_public)


def qualified_name(parent_qualified_name: bytes, name: bytes) -> bytes:
    """QN(child) = nameAlg ‖ H_nameAlg(QN(parent) ‖ Name(child)); a hierarchy's QN is its handle (u32)."""
    name_alg = int.from_bytes(name[:2], "big")
    return u16(name_alg) + hash_bytes(name_alg, parent_qualified_name + name)


def check_qualified_name(certify: CertifyInfo, what: str = "certInfo") -> None:
    """``certify.qualifiedName`` is one a TPM can have written for the object named ``certify.name`` (whose nameAlg a
    caller has already checked, e.g. by matching the Name to a public area): TPM 2.0 Part 1 (Names) defines
    QN(object) = nameAlg ‖ H_nameAlg(QN(parent) ‖ Name(object)), so it is a TPM2B_NAME of the object's own nameAlg,
    exactly 2 + that digest's size octets, and never the Name itself (equal only by a hash collision).
    Raises Rejected(MALFORMED) otherwise (``what`` names the TPMS_ATTEST). Whether the digest is H(QN(parent) ‖
    Name) is not decided: that needs the QN of the certified object's parent, which no evidence hsmsim reads
    carries."""
    name, qualified = certify.name, certify.qualified_name
    if qualified[:2] != name[:2]:
        raise Rejected(Reason.MALFORMED, f"{what}: attested.qualifiedName is not a Name of the certified object's "
                                         f"nameAlg {alg_name(int.from_bytes(name[:2], 'big'))}")
    expected = 2 + digest_size(int.from_bytes(name[:2], "big"))
    if len(qualified) != expected:
        raise Rejected(Reason.MALFORMED, f"{what}: attested.qualifiedName is {len(qualified)} bytes, not the "
                                         f"{expected} of a TPM2B_NAME of its nameAlg")
    if qualified == name:
        raise Rejected(Reason.MALFORMED, f"{what}: attested.qualifiedName is the Name itself, not "
                                         "H(QN(parent) ‖ Name)")


def rsa_public(key: rsa.RSAPublicKey, attributes: TpmaObject, *, name_alg: int = TpmAlg.SHA256,
               symmetric: SymDef = NULL_SYMMETRIC, scheme: Scheme = NULL_SCHEME) -> TpmtPublic:
    """The TPMT_PUBLIC of an RSA key; a 65537 exponent is written as 0, as TPMs do."""
    numbers = key.public_numbers()
    exponent = 0 if numbers.e == DEFAULT_RSA_EXPONENT else numbers.e
    return TpmtPublic(TpmAlg.RSA, name_alg, attributes, RsaParms(symmetric, scheme, key.key_size, exponent),
                      numbers.n.to_bytes(key.key_size // 8, "big"))


def ecc_public(key: ec.EllipticCurvePublicKey, attributes: TpmaObject, *, name_alg: int = TpmAlg.SHA256,
               symmetric: SymDef = NULL_SYMMETRIC, scheme: Scheme = NULL_SCHEME) -> TpmtPublic:
    """The TPMT_PUBLIC of an EC key; coordinates are padded to the curve's size, as TPMs do."""
    numbers = key.public_numbers()
    width = (key.curve.key_size + 7) // 8
    return TpmtPublic(TpmAlg.ECC, name_alg, attributes, EccParms(symmetric, scheme, CURVE_IDS[key.curve.name]),
                      EccPoint(numbers.x.to_bytes(width, "big"), numbers.y.to_bytes(width, "big")))


# -- TPMT_SIGNATURE -----------------------------------------------------------------------------

def object_attributes(attributes: KeyAttributes) -> TpmaObject:
    """TPMA_OBJECT of a user key from its PKCS#11 attributes.

    userWithAuth always; fixedTPM + fixedParent unless it is or was extractable (a TPM object's attributes never
    change, so a key once duplicable stays so); sensitiveDataOrigin when it was generated on the device (CKA_LOCAL);
    sign / decrypt from CKA_SIGN / CKA_DECRYPT.
    """
    out = TpmaObject.USER_WITH_AUTH
    if not attributes.ever_extractable:
        out |= TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT
    if attributes.local:
        out |= TpmaObject.SENSITIVE_DATA_ORIGIN
    if attributes.sign:
        out |= TpmaObject.SIGN_ENCRYPT
    if attributes.decrypt:
        out |= TpmaObject.DECRYPT
    if not out & (TpmaObject.SIGN_ENCRYPT | TpmaObject.DECRYPT):
        raise UnsupportedKeyError(f"key {attributes.label!r} can neither sign nor decrypt; a TPM key must do one")
    return out


@dataclass(frozen=True)
class TpmtSignature:
    """TPMT_SIGNATURE: RSA (``signature``) or ECC (``r``, ``s``, raw big-endian, not DER)."""

    sig_alg: int
    hash_alg: int
    signature: bytes = b""
    r: bytes = b""
    s: bytes = b""

    def marshal(self) -> bytes:
        """sigAlg u16 ‖ hashAlg u16 ‖ TPM2B sig, or ‖ TPM2B r ‖ TPM2B s."""
        head = u16(self.sig_alg) + u16(self.hash_alg)
        if self.sig_alg in _ECC_SIGNATURES:
            return head + tpm2b(self.r) + tpm2b(self.s)
        return head + tpm2b(self.signature)

    @classmethod
    def unmarshal(cls, data: bytes) -> TpmtSignature:
        """Parse a TPMT_SIGNATURE strictly (RSASSA, RSAPSS, ECDSA, ECDAA, SM2, ECSCHNORR)."""
        reader = Reader(data, "TPMT_SIGNATURE")
        sig_alg = reader.u16("sigAlg")
        if sig_alg not in _ECC_SIGNATURES | _RSA_SIGNATURES:
            raise Rejected(Reason.UNSUPPORTED, f"TPMT_SIGNATURE sigAlg {alg_name(sig_alg)} is not supported")
        hash_alg = reader.u16("hash")
        if sig_alg in _ECC_SIGNATURES:
            out = cls(sig_alg, hash_alg, r=reader.tpm2b("signatureR", MAX_ECC_BYTES),
                      s=reader.tpm2b("signatureS", MAX_ECC_BYTES))
        else:
            out = cls(sig_alg, hash_alg, signature=reader.tpm2b("sig", MAX_RSA_BYTES))
        reader.finish()
        return out

    def bare(self) -> bytes:
        """The signature as WebAuthn libraries carry it: PKCS#1 bytes for RSA, DER ``SEQUENCE{r, s}`` for ECC."""
        if self.sig_alg in _ECC_SIGNATURES:
            return encode_dss_signature(int.from_bytes(self.r, "big"), int.from_bytes(self.s, "big"))
        return self.signature
