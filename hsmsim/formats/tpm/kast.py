"""Windows TPM key attestation on the wire (MS-WCCE 2.2.2.5, 2.2.2.7.13-15): KAST, KADS, the PCP key blob,
and the CMS/PKCS#10 envelopes a Windows client sends to its CA.

* ``KeyAttestationStatement`` ("KAST", little-endian u32s): Magic, Version 1, Platform 2 (TPM 2.0),
  HeaderSize 28, cbIdBinding, cbKeyAttestation, cbAIKOpaque, then the three blobs. Real requests carry an
  empty idBinding (the AIK travels enveloped to the CA in szOID_ENROLL_AIK_INFO) and an empty aikOpaque;
  a present idBinding is TPM2B_PUBLIC(AIK) ‖ TPM2B_CREATION_DATA ‖ TPM2B_ATTEST (TPM2_CertifyCreation of
  the AIK by itself) ‖ TPMT_SIGNATURE.
* ``keyAttestation`` ("KADS"): Magic, Platform, HeaderSize 24, cbKeyAttest, cbSignature, cbKeyBlob, then the
  TPM2_Certify TPMS_ATTEST, the AIK's bare signature over it and the key blob.
* The key blob is the Platform Crypto Provider's ``PCP_KEY_BLOB_WIN8`` (magic "PCPM", 56-byte header of
  twelve u32 sizes and a u16 PCR hash): TPM2B_PUBLIC, TPM2B_PRIVATE, (migration blobs), TPML_DIGEST policy
  digests, ... The verifier reads the TPM2B_PUBLIC; the private part is the TPM's wrapped sensitive area.
* The request: a PKCS#10 whose attributes are, in the order Windows writes them, extensionRequest
  (subjectKeyIdentifier), szOID_ENROLL_KSP_NAME (BMPString), szOID_ENROLL_ATTESTATION_STATEMENT (one OCTET
  STRING holding the KAST) and szOID_ENROLL_AIK_INFO (one ContentInfo: EnvelopedData, RSAES-OAEP to the
  CA exchange certificate, AES-128-CBC, of ``SEQUENCE {AIK SubjectPublicKeyInfo, AIK certificate}``); the
  default envelope is a CMC Full PKI Request (RFC 5272): SignedData (v3, signer identified by the key's
  SKI, signed attributes contentType and messageDigest) of PKIData ``{controls {}, {[0] {1, request}},
  {}, {}}`` with the AIK's issuing CA and root as certificates.

Encoders here write what Windows writes; decoders are strict and raise :class:`Rejected` (MALFORMED unless
another reason fits).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import load_der_public_key

from hsmsim.encoding import der_children, der_content, der_oid, der_sequence, der_tlv, oid_dotted, read_tlv
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.tpm.marshal import MAX_DATA, MAX_DIGEST, MAX_NAME, Reader, TpmAlg, tpm2b, u16, u32
from hsmsim.tpm.oaep import oaep_encrypt
from hsmsim.tpm.structures import OpaqueAttested, TpmtSignature
from hsmsim.verdict import Reason, Rejected

KAST_MAGIC = 0x5453414B
KADS_MAGIC = 0x5344414B
PCP_MAGIC = 0x4D504350
KAST_VERSION = 1
PLATFORM_TPM20 = 2
PLATFORM_TPM12 = 1
KAST_HEADER_SIZE = 28
KADS_HEADER_SIZE = 24
PCP_HEADER_SIZE = 56
PCP_TYPE_TPM20 = 2
PCP_FLAGS = 3
"""The flags word of every real PCP_KEY_BLOB_WIN8 in the samples."""

WINDOWS_QUALIFYING_DATA = bytes.fromhex("136e2f14ddaf3072a6e3894dbf7a5426362f10d6")
"""TPM2_Certify's qualifyingData in every real Windows key attestation seen (three TPM vendors, Windows
1709 and 1803): Windows does not take a CA nonce here, so the verifier requires this exact value."""

OID_STATEMENT = "1.3.6.1.4.1.311.21.24"
OID_EK_INFO = "1.3.6.1.4.1.311.21.23"
OID_KSP_NAME = "1.3.6.1.4.1.311.21.25"
OID_AIK_INFO = "1.3.6.1.4.1.311.21.39"
OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
OID_PKI_DATA = "1.3.6.1.5.5.7.12.2"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_DATA = "1.2.840.113549.1.7.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_SHA384 = "2.16.840.1.101.3.4.2.2"
OID_RSA = "1.2.840.113549.1.1.1"
OID_SHA256_RSA = "1.2.840.113549.1.1.11"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
OID_RSAES_OAEP = "1.2.840.113549.1.1.7"
OID_AES128_CBC = "2.16.840.1.101.3.4.1.2"
OID_SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
KNOWN_ATTRIBUTES = (OID_EXTENSION_REQUEST, OID_KSP_NAME, OID_STATEMENT, OID_AIK_INFO, OID_EK_INFO,
                    "1.3.6.1.4.1.311.21.20", "1.3.6.1.4.1.311.13.2.3", "1.2.840.113549.1.9.7")
"""Attributes a Windows request may carry: the key attestation ones, client info, OS version, challengePassword."""

SEQUENCE, SET, OCTETS, INTEGER, NULL, BMP, BIT_STRING = 0x30, 0x31, 0x04, 0x02, 0x05, 0x1E, 0x03
CTX0, CTX0_PRIM = 0xA0, 0x80
MAX_CMC_CERTIFICATES = 8

_SIG_HASHES = {OID_SHA256_RSA: hashes.SHA256, OID_ECDSA_SHA256: hashes.SHA256, OID_ECDSA_SHA384: hashes.SHA384}
_DIGESTS = {OID_SHA256: hashlib.sha256, OID_SHA384: hashlib.sha384}


def _malformed(detail: str) -> Rejected:
    return Rejected(Reason.MALFORMED, detail)


# -- KAST / KADS / PCP key blob -----------------------------------------------------------------

def kast_bytes(id_binding: bytes, key_attestation: bytes, aik_opaque: bytes = b"", *, magic: int = KAST_MAGIC,
               version: int = KAST_VERSION, platform: int = PLATFORM_TPM20) -> bytes:
    """A KeyAttestationStatement with a 28-byte header."""
    return struct.pack("<7I", magic, version, platform, KAST_HEADER_SIZE, len(id_binding), len(key_attestation),
                       len(aik_opaque)) + id_binding + key_attestation + aik_opaque


def kads_bytes(key_attest: bytes, signature: bytes, key_blob: bytes, *, magic: int = KADS_MAGIC,
               platform: int = PLATFORM_TPM20) -> bytes:
    """A keyAttestation ("KADS") with a 24-byte header."""
    return struct.pack("<6I", magic, platform, KADS_HEADER_SIZE, len(key_attest), len(signature),
                       len(key_blob)) + key_attest + signature + key_blob


def pcp_key_blob(public: bytes, private: bytes, policy_digests: bytes) -> bytes:
    """A PCP_KEY_BLOB_WIN8 of a TPM 2.0 key: ``public`` and ``private`` are the TPM2B_PUBLIC / TPM2B_PRIVATE,
    ``policy_digests`` the TPML_DIGEST of the key's policy branches; the other blobs are empty."""
    sizes = (len(public), len(private), 0, 0, len(policy_digests), 0, 0, 0, 0)
    header = struct.pack("<4I9IH2x", PCP_MAGIC, PCP_HEADER_SIZE, PCP_TYPE_TPM20, PCP_FLAGS, *sizes, 0)
    return header + public + private + policy_digests


@dataclass(frozen=True)
class Kast:
    """A parsed KeyAttestationStatement (TPM 2.0) and its keyAttestation."""

    id_binding: bytes
    aik_opaque: bytes
    key_attest: bytes
    signature: bytes
    key_blob: bytes


def _blobs(data: bytes, header: int, sizes: tuple[int, ...], what: str) -> list[bytes]:
    end = header + sum(sizes)
    if end > len(data):
        raise _malformed(f"{what}: the header's sizes ({' + '.join(map(str, sizes))} after a {header}-byte header) "
                         f"run past the end ({len(data)} bytes)")
    if end != len(data):
        raise _malformed(f"{what}: {len(data) - end} bytes after the blobs its header counts")
    out, pos = [], header
    for size in sizes:
        out.append(data[pos:pos + size])
        pos += size
    return out


def _platform(value: int, what: str) -> None:
    if value == PLATFORM_TPM12:
        raise Rejected(Reason.UNSUPPORTED, f"{what}: Platform 1 (TPM 1.2) key attestation is not supported")
    if value != PLATFORM_TPM20:
        raise _malformed(f"{what}: Platform is {value}, neither 1 nor 2")


def parse_kast(data: bytes) -> Kast:
    """The KAST and its KADS, strictly: magics, version 1, platform 2, header sizes 28 / 24, blob sizes that
    fill the structure exactly."""
    if len(data) < KAST_HEADER_SIZE:
        raise _malformed(f"the attestation statement is {len(data)} bytes, shorter than a KAST header")
    magic, version, platform, header, *sizes = struct.unpack_from("<7I", data)
    if magic != KAST_MAGIC:
        raise _malformed(f"KAST magic is 0x{magic:08x}, not 0x{KAST_MAGIC:08x} ('KAST')")
    if version != KAST_VERSION:
        raise Rejected(Reason.UNSUPPORTED, f"KAST version {version} is not 1")
    _platform(platform, "KAST")
    if header != KAST_HEADER_SIZE:
        raise _malformed(f"KAST HeaderSize is {header}, not {KAST_HEADER_SIZE}")
    id_binding, key_attestation, aik_opaque = _blobs(data, header, tuple(sizes), "KAST")
    if len(key_attestation) < KADS_HEADER_SIZE:
        raise _malformed(f"KAST keyAttestation is {len(key_attestation)} bytes, shorter than a KADS header")
    magic, platform, header, *kads_sizes = struct.unpack_from("<6I", key_attestation)
    if magic != KADS_MAGIC:
        raise _malformed(f"keyAttestation magic is 0x{magic:08x}, not 0x{KADS_MAGIC:08x} ('KADS')")
    _platform(platform, "KADS")
    if header != KADS_HEADER_SIZE:
        raise _malformed(f"KADS HeaderSize is {header}, not {KADS_HEADER_SIZE}")
    key_attest, signature, key_blob = _blobs(key_attestation, header, tuple(kads_sizes), "KADS")
    return Kast(id_binding, aik_opaque, key_attest, signature, key_blob)


def key_blob_public(blob: bytes) -> bytes:
    """The TPMT_PUBLIC inside a PCP_KEY_BLOB_WIN8 (the content of its TPM2B_PUBLIC)."""
    if len(blob) < PCP_HEADER_SIZE:
        raise _malformed(f"the key blob is {len(blob)} bytes, shorter than a PCP_KEY_BLOB_WIN8 header")
    magic, header, pcp_type, _flags, cb_public, *others = struct.unpack_from("<4I9I", blob)
    if magic != PCP_MAGIC:
        raise _malformed(f"key blob magic is 0x{magic:08x}, not 0x{PCP_MAGIC:08x} ('PCPM')")
    if pcp_type != PCP_TYPE_TPM20:
        raise Rejected(Reason.UNSUPPORTED, f"key blob pcpType is {pcp_type}, not 2 (TPM 2.0)")
    if header != PCP_HEADER_SIZE:
        raise _malformed(f"key blob cbHeader is {header}, not {PCP_HEADER_SIZE}")
    if header + cb_public + sum(others) > len(blob):
        raise _malformed("key blob: its sizes run past the end of the blob")
    public = blob[header:header + cb_public]
    if len(public) < 2 or int.from_bytes(public[:2], "big") != len(public) - 2:
        raise _malformed("key blob: the TPM2B_PUBLIC size does not fill cbPublic")
    return public[2:]


# -- idBinding ---------------------------------------------------------------------------------------

MAX_ID_BINDING_PART = 1024
"""Bound on each TPM2B of an idBinding (an RSA-2048 AIK's public area is 280 bytes)."""


@dataclass(frozen=True)
class IdBinding:
    """The idBinding of a TPM 2.0 KAST: the AIK's public area, its creation data, TPM2_CertifyCreation's
    TPMS_ATTEST and the AIK's TPMT_SIGNATURE over it."""

    aik_public: bytes
    creation_data: bytes
    attest: bytes
    signature: TpmtSignature

    def marshal(self) -> bytes:
        """TPM2B_PUBLIC ‖ TPM2B_CREATION_DATA ‖ TPM2B_ATTEST ‖ TPMT_SIGNATURE."""
        return tpm2b(self.aik_public) + tpm2b(self.creation_data) + tpm2b(self.attest) + self.signature.marshal()

    @classmethod
    def unmarshal(cls, data: bytes) -> IdBinding:
        """Parse an idBinding strictly (every TPM2B bounded, the signature filling the rest)."""
        reader = Reader(data, "idBinding")
        public = reader.tpm2b("aikPublic", MAX_ID_BINDING_PART)
        creation = reader.tpm2b("creationData", MAX_ID_BINDING_PART)
        attest = reader.tpm2b("attest", MAX_ID_BINDING_PART)
        signature = TpmtSignature.unmarshal(reader.take(len(data) - reader.position, "signature"))
        return cls(public, creation, attest, signature)


def creation_data(parent_name: bytes, parent_qualified_name: bytes) -> bytes:
    """TPMS_CREATION_DATA of a key created without PCRs at locality 0 under the parent with these Names."""
    return (u32(0) + tpm2b(hashlib.sha256(b"").digest()) + b"\x01" + u16(TpmAlg.SHA256) + tpm2b(parent_name)
            + tpm2b(parent_qualified_name) + tpm2b(b""))


MAX_CREATION_PCR_BANKS = 16
"""Bound on the PCR banks a TPMS_CREATION_DATA's pcrSelect names (a real TPM has a handful)."""


def read_parent_qualified_name(data: bytes) -> bytes:
    """The parentQualifiedName of a TPMS_CREATION_DATA (pcrSelect, pcrDigest, locality, parentNameAlg, parentName,
    parentQualifiedName, outsideInfo), read strictly: MALFORMED when it does not parse to its end."""
    reader = Reader(data, "creationData")
    count = reader.u32("pcrSelect.count")
    if count > MAX_CREATION_PCR_BANKS:
        raise Rejected(Reason.MALFORMED, f"creationData: {count} PCR banks (at most {MAX_CREATION_PCR_BANKS})")
    for index in range(count):
        reader.u16(f"pcrSelect[{index}].hash")
        reader.take(reader.u8(f"pcrSelect[{index}].sizeofSelect"), f"pcrSelect[{index}].pcrSelect")
    reader.tpm2b("pcrDigest", MAX_DIGEST)
    reader.u8("locality")
    reader.u16("parentNameAlg")
    reader.tpm2b("parentName", MAX_NAME)
    parent = reader.tpm2b("parentQualifiedName", MAX_NAME)
    reader.tpm2b("outsideInfo", MAX_DATA)
    reader.finish()
    return parent


def creation_info(object_name: bytes, creation_hash: bytes) -> OpaqueAttested:
    """TPMS_CREATION_INFO (the attested body of TPM2_CertifyCreation): objectName ‖ creationHash."""
    return OpaqueAttested(tpm2b(object_name) + tpm2b(creation_hash))


def read_creation_info(body: bytes) -> tuple[bytes, bytes]:
    """(objectName, creationHash) of a TPMS_CREATION_INFO."""
    reader = Reader(body, "attested.creation")
    name = reader.tpm2b("objectName", MAX_NAME)
    digest = reader.tpm2b("creationHash", MAX_DIGEST)
    reader.finish()
    return name, digest


# -- DER reading ----------------------------------------------------------------------------------

def _children(tlv: bytes, tag: int, what: str) -> list[bytes]:
    try:
        if not tlv or tlv[0] != tag:
            raise ValueError(f"tag 0x{tlv[:1].hex() or '--'} instead of 0x{tag:02x}")
        return der_children(der_content(tlv))
    except ValueError as exc:
        raise _malformed(f"{what} is not DER: {exc}") from None


def _content(tlv: bytes, tag: int, what: str) -> bytes:
    try:
        if not tlv or tlv[0] != tag:
            raise ValueError(f"tag 0x{tlv[:1].hex() or '--'} instead of 0x{tag:02x}")
        return der_content(tlv)
    except ValueError as exc:
        raise _malformed(f"{what} is not DER: {exc}") from None


def _explicit(tlv: bytes, what: str) -> bytes:
    inner = _children(tlv, CTX0, f"{what} [0] wrapper")
    if len(inner) != 1:
        raise _malformed(f"{what} [0] wrapper holds {len(inner)} elements")
    return inner[0]


def _oid(tlv: bytes, what: str) -> str:
    try:
        if not tlv or tlv[0] != 0x06:
            raise ValueError("not an OBJECT IDENTIFIER")
        return oid_dotted(tlv)
    except ValueError as exc:
        raise _malformed(f"{what} is not an OID: {exc}") from None


def _algorithm(tlv: bytes, what: str) -> tuple[str, list[bytes]]:
    fields = _children(tlv, SEQUENCE, what)
    if not fields:
        raise _malformed(f"{what} is an empty AlgorithmIdentifier")
    return _oid(fields[0], what), fields[1:]


def single_tlv(data: bytes, what: str) -> bytes:
    """``data`` when it is exactly one TLV (MALFORMED otherwise)."""
    try:
        _tag, _start, end = read_tlv(data)
    except ValueError as exc:
        raise _malformed(f"{what} is not DER: {exc}") from None
    if end != len(data):
        raise _malformed(f"{what}: {len(data) - end} bytes after the DER structure")
    return data


# -- PKCS#10 ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attribute:
    """One CSR attribute: its OID and the values of its SET, each a full TLV."""

    oid: str
    values: tuple[bytes, ...]


@dataclass(frozen=True)
class Csr:
    """A parsed CertificationRequest, its signature not yet checked."""

    der: bytes
    info: bytes
    spki: bytes
    attributes: tuple[Attribute, ...]
    signature_algorithm: str
    signature: bytes

    def attribute(self, oid: str) -> list[Attribute]:
        """Every attribute of type ``oid``, in order."""
        return [a for a in self.attributes if a.oid == oid]

    def public_key(self) -> PublicKey:
        """The requested key (MALFORMED / UNSUPPORTED when the SPKI is not an RSA or EC key)."""
        try:
            key = load_der_public_key(self.spki)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise _malformed(f"the CSR's SubjectPublicKeyInfo does not load: {str(exc)[:80]}") from None
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise Rejected(Reason.UNSUPPORTED, f"a TPM key is RSA or ECC, not {type(key).__name__}")
        return key

    def subject_key_identifier(self) -> bytes:
        """The requested key's identifier (:func:`key_identifier`)."""
        return key_identifier(self.spki)


def key_identifier(spki: bytes) -> bytes:
    """SHA-1 of the subjectPublicKey bits (RFC 5280 method 1): what Windows puts in the SKI and the CMC sid."""
    fields = _children(spki, SEQUENCE, "SubjectPublicKeyInfo")
    bits = _content(fields[-1], BIT_STRING, "subjectPublicKey")
    return hashlib.sha1(bits[1:]).digest()


def parse_csr(der: bytes) -> Csr:
    """A PKCS#10 CertificationRequest (structure only)."""
    fields = _children(der, SEQUENCE, "the certification request")
    if len(fields) != 3:
        raise _malformed("the certification request is not {info, algorithm, signature}")
    info = _children(fields[0], SEQUENCE, "certificationRequestInfo")
    if len(info) != 4 or info[0] != b"\x02\x01\x00":
        raise _malformed("certificationRequestInfo is not {version 0, subject, spki, [0] attributes}")
    attributes = []
    for tlv in _children(info[3], CTX0, "attributes"):
        parts = _children(tlv, SEQUENCE, "an attribute")
        if len(parts) != 2:
            raise _malformed("an attribute is not {type, values}")
        oid = _oid(parts[0], "an attribute type")
        attributes.append(Attribute(oid, tuple(_children(parts[1], SET, f"attribute {oid} values"))))
    algorithm, _params = _algorithm(fields[1], "the CSR signature algorithm")
    signature = _content(fields[2], BIT_STRING, "the CSR signature")
    if not signature or signature[0] != 0:
        raise _malformed("the CSR signature BIT STRING has unused bits")
    return Csr(der, fields[0], info[2], tuple(attributes), algorithm, signature[1:])


def verify_signature(key: PublicKey, algorithm: str, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` over ``data`` verifies with ``key`` under ``algorithm`` (an OID of
    sha256WithRSAEncryption or ecdsa-with-SHA256/384)."""
    hash_type = _SIG_HASHES.get(algorithm)
    if hash_type is None:
        raise Rejected(Reason.UNSUPPORTED, f"signature algorithm {algorithm} is not supported")
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm == OID_SHA256_RSA:
            key.verify(signature, data, padding.PKCS1v15(), hash_type())
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm != OID_SHA256_RSA:
            key.verify(signature, data, ec.ECDSA(hash_type()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_algorithm(key: PublicKey) -> str:
    """The OID Windows signs with for ``key``: sha256WithRSAEncryption, ecdsa-with-SHA256 (P-256) or -SHA384."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return OID_ECDSA_SHA384 if key.curve.key_size > 256 else OID_ECDSA_SHA256
    return OID_SHA256_RSA


def sign(key: PrivateKey, algorithm: str, data: bytes) -> bytes:
    """``key``'s signature over ``data`` under ``algorithm`` (RFC 6979 for ECDSA when the key allows it)."""
    hash_type = _SIG_HASHES[algorithm]
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_type())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    deterministic = type(key).__module__.startswith("cryptography.")
    return key.sign(data, ec.ECDSA(hash_type(), deterministic_signing=deterministic))


def _algorithm_tlv(oid: str) -> bytes:
    null = der_tlv(NULL, b"") if oid in (OID_SHA256_RSA, OID_RSA, OID_SHA256, OID_SHA384) else b""
    return der_sequence(der_oid(oid), null)


def attribute_tlv(oid: str, *values: bytes) -> bytes:
    """Attribute ::= SEQUENCE {type, SET OF values} (values kept in the given order)."""
    return der_sequence(der_oid(oid), der_tlv(SET, b"".join(values)))


def build_csr(key: PrivateKey, subject: bytes, spki: bytes, attributes: list[bytes], *,
              signer: PrivateKey | None = None) -> bytes:
    """A PKCS#10 of ``spki`` with these attribute TLVs, signed by ``signer`` (default ``key``)."""
    info = der_sequence(b"\x02\x01\x00", subject, spki, der_tlv(CTX0, b"".join(attributes)))
    algorithm = signature_algorithm(key.public_key())
    signature = sign(signer or key, algorithm, info)
    return der_sequence(info, _algorithm_tlv(algorithm), der_tlv(BIT_STRING, b"\x00" + signature))


def ski_extension_request(ski: bytes) -> bytes:
    """extensionRequest holding subjectKeyIdentifier only, as Windows writes it."""
    extension = der_sequence(der_oid(OID_SUBJECT_KEY_IDENTIFIER), der_tlv(OCTETS, der_tlv(OCTETS, ski)))
    return attribute_tlv(OID_EXTENSION_REQUEST, der_sequence(extension))


def bmp_string(text: str) -> bytes:
    """A DER BMPString."""
    return der_tlv(BMP, text.encode("utf-16-be"))


# -- CMC (SignedData of PKIData) ------------------------------------------------------------------

def pki_data(request: bytes, body_part_id: int = 1) -> bytes:
    """PKIData {controlSequence {}, reqSequence {[0] {bodyPartID, request}}, cmsSequence {}, otherMsgSequence {}}."""
    tagged = der_tlv(CTX0, der_tlv(INTEGER, body_part_id.to_bytes(1, "big")) + request)
    return der_sequence(der_sequence(), der_sequence(tagged), der_sequence(), der_sequence())


def signed_attributes(content: bytes, digest_algorithm: str = OID_SHA256) -> list[bytes]:
    """contentType id-cct-PKIData and messageDigest H(content), in Windows's order."""
    digest = hashlib.sha384(content) if digest_algorithm == OID_SHA384 else hashlib.sha256(content)
    return [attribute_tlv(OID_CONTENT_TYPE, der_oid(OID_PKI_DATA)),
            attribute_tlv(OID_MESSAGE_DIGEST, der_tlv(OCTETS, digest.digest()))]


def cmc_request(content: bytes, signer: PrivateKey, ski: bytes, certificates: list[bytes],
                attributes: list[bytes] | None = None) -> bytes:
    """ContentInfo(SignedData v3) of ``content`` (PKIData), signed by ``signer`` named by ``ski``."""
    key = signer.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        sig_alg, algorithm = _algorithm_tlv(OID_RSA), OID_SHA256_RSA
    else:
        algorithm = signature_algorithm(key)
        sig_alg = _algorithm_tlv(algorithm)
    digest = OID_SHA384 if algorithm == OID_ECDSA_SHA384 else OID_SHA256
    attrs = attributes if attributes is not None else signed_attributes(content, digest)
    signature = sign(signer, algorithm, der_tlv(SET, b"".join(attrs)))
    signer_info = der_sequence(b"\x02\x01\x03", der_tlv(CTX0_PRIM, ski), _algorithm_tlv(digest),
                               der_tlv(CTX0, b"".join(attrs)), sig_alg, der_tlv(OCTETS, signature))
    signed = der_sequence(
        b"\x02\x01\x03", der_tlv(SET, _algorithm_tlv(digest)),
        der_sequence(der_oid(OID_PKI_DATA), der_tlv(CTX0, der_tlv(OCTETS, content))),
        der_tlv(CTX0, b"".join(certificates)) if certificates else b"",
        der_tlv(SET, signer_info))
    return der_sequence(der_oid(OID_SIGNED_DATA), der_tlv(CTX0, signed))


@dataclass(frozen=True)
class Cmc:
    """A parsed CMC Full PKI Request: the inner request and what its one SignerInfo says."""

    request: bytes
    body_part_id: int
    controls: int
    certificates: tuple[bytes, ...]
    sid_ski: bytes | None
    digest_algorithm: str
    signed_attrs: bytes | None
    signature_algorithm: str
    signature: bytes
    content: bytes


def is_content_info(der: bytes) -> bool:
    """True when ``der`` is a SEQUENCE starting with an OID (a ContentInfo), not a CertificationRequest."""
    try:
        _tag, start, _end = read_tlv(der)
        return der[0] == SEQUENCE and der[start] == 0x06
    except (ValueError, IndexError):
        return False


def parse_cmc(der: bytes) -> Cmc:
    """ContentInfo(SignedData(PKIData)) with one SignerInfo and one TaggedCertificationRequest."""
    outer = _children(der, SEQUENCE, "the ContentInfo")
    if len(outer) != 2 or _oid(outer[0], "contentType") != OID_SIGNED_DATA:
        raise _malformed("the ContentInfo is not a CMS SignedData")
    fields = _children(_explicit(outer[1], "the SignedData"), SEQUENCE, "SignedData")
    if len(fields) < 4:
        raise _malformed("SignedData lacks fields")
    encap = _children(fields[2], SEQUENCE, "encapContentInfo")
    if len(encap) != 2 or _oid(encap[0], "eContentType") != OID_PKI_DATA:
        raise _malformed("the SignedData does not encapsulate a CMC PKIData (1.3.6.1.5.5.7.12.2)")
    content = _content(_children(encap[1], CTX0, "eContent")[0], OCTETS, "eContent")
    certificates: tuple[bytes, ...] = ()
    rest = fields[3:]
    if rest and rest[0][:1] == b"\xa0":
        certificates = tuple(_children(rest[0], CTX0, "certificates"))
        rest = rest[1:]
    if len(certificates) > MAX_CMC_CERTIFICATES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the CMC carries {len(certificates)} certificates "
                                              f"(limit {MAX_CMC_CERTIFICATES})")
    if rest and rest[0][:1] == b"\xa1":
        rest = rest[1:]
    if len(rest) != 1:
        raise _malformed("SignedData does not end with its signerInfos")
    signers = _children(rest[0], SET, "signerInfos")
    if len(signers) != 1:
        raise Rejected(Reason.ATTR_CONFLICT if signers else Reason.MISSING_INPUT,
                       f"the CMC has {len(signers)} SignerInfos, not one")
    info = _children(signers[0], SEQUENCE, "the SignerInfo")
    if len(info) < 5:
        raise _malformed("the SignerInfo lacks fields")
    sid = info[1]
    ski = _content(sid, CTX0_PRIM, "sid") if sid[:1] == b"\x80" else None
    if ski is None and sid[:1] != bytes([SEQUENCE]):
        raise _malformed("the SignerInfo sid is neither a subjectKeyIdentifier nor an issuerAndSerialNumber")
    if fields[0] != b"\x02\x01\x03" or info[0] != (b"\x02\x01\x03" if ski is not None else b"\x02\x01\x01"):
        raise _malformed("SignedData version is not 3 (PKIData is not id-data), or the SignerInfo version does not "
                         "fit its signer identifier (RFC 5652 5.1, 5.3)")
    digest, digest_params = _algorithm(info[2], "digestAlgorithm")
    if digest_params not in ([], [der_tlv(NULL, b"")]) or info[2] not in _children(fields[1], SET, "digestAlgorithms"):
        raise _malformed("the SignerInfo digestAlgorithm is not one of the SignedData's digestAlgorithms")
    position = 3
    signed_attrs = None
    if info[3][:1] == b"\xa0":
        signed_attrs = b"\x31" + info[3][1:]
        position = 4
    sig_alg, _ = _algorithm(info[position], "signatureAlgorithm")
    signature = _content(info[position + 1], OCTETS, "signature")
    pki = _children(single_tlv(content, "PKIData"), SEQUENCE, "PKIData")
    if len(pki) != 4:
        raise _malformed("PKIData is not {controls, requests, cms, other}")
    controls = _children(pki[0], SEQUENCE, "controlSequence")
    requests = _children(pki[1], SEQUENCE, "reqSequence")
    if not requests:
        raise Rejected(Reason.MISSING_INPUT, "the CMC reqSequence holds no request")
    if len(requests) > 1:
        raise Rejected(Reason.ATTR_CONFLICT, f"the CMC reqSequence holds {len(requests)} requests, not one")
    tagged = _children(requests[0], CTX0, "TaggedRequest tcr")
    if len(tagged) != 2 or tagged[0][:1] != b"\x02" or len(tagged[0]) > 6:
        raise _malformed("TaggedCertificationRequest is not {bodyPartID, certificationRequest}")
    body_part = int.from_bytes(_content(tagged[0], INTEGER, "bodyPartID"), "big")
    return Cmc(tagged[1], body_part, len(controls), certificates, ski, digest, signed_attrs, sig_alg, signature,
               content)


def check_cmc_signature(cmc: Cmc, key: PublicKey) -> None:
    """Signed attributes name PKIData and its SHA-256 digest, and ``key`` signed them (CSR_SIGNATURE_INVALID:
    the CMC is the request's proof of possession)."""
    if cmc.signed_attrs is None:
        raise Rejected(Reason.MISSING_INPUT, "the CMC SignerInfo has no signed attributes")
    attrs = {}
    for tlv in _children(cmc.signed_attrs, SET, "signedAttrs"):
        parts = _children(tlv, SEQUENCE, "a signed attribute")
        if len(parts) != 2:
            raise _malformed("a signed attribute is not {type, values}")
        oid = _oid(parts[0], "a signed attribute type")
        if oid in attrs:
            raise Rejected(Reason.ATTR_CONFLICT, f"signed attribute {oid} appears twice")
        attrs[oid] = _children(parts[1], SET, f"signed attribute {oid}")
    content_type = attrs.get(OID_CONTENT_TYPE)
    if content_type is None or len(content_type) != 1 or _oid(content_type[0], "contentType") != OID_PKI_DATA:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "the signed contentType is not id-cct-PKIData")
    digest_type = _DIGESTS.get(cmc.digest_algorithm)
    if digest_type is None:
        raise Rejected(Reason.UNSUPPORTED, f"CMC digest algorithm {cmc.digest_algorithm} is not supported")
    digest = attrs.get(OID_MESSAGE_DIGEST)
    expected = digest_type(cmc.content).digest()
    if digest is None or len(digest) != 1 or _content(digest[0], OCTETS, "messageDigest") != expected:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "the CMC messageDigest is not the digest of its PKIData")
    algorithm = cmc.signature_algorithm
    if algorithm == OID_RSA:
        algorithm = OID_SHA256_RSA if cmc.digest_algorithm == OID_SHA256 else ""
    if not verify_signature(key, algorithm, cmc.signature, cmc.signed_attrs):
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "the CMC signature does not verify with the requested key "
                                                     "(no proof of possession)")


# -- EnvelopedData ---------------------------------------------------------------------------------

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
"""RSAES-OAEP with the default parameters (SHA-1, MGF1-SHA-1), as Windows encrypts the AIK info."""


def enveloped_data(plaintext: bytes, recipient: rsa.RSAPublicKey, issuer: bytes, serial: int, cek: bytes,
                   iv: bytes, oaep_seed: bytes) -> bytes:
    """ContentInfo(EnvelopedData v0): one KeyTransRecipientInfo (issuerAndSerialNumber, RSAES-OAEP with
    empty parameters) and AES-128-CBC content; ``oaep_seed`` makes the OAEP encryption reproducible."""
    encrypted_key = oaep_encrypt(recipient.public_numbers(), cek, seed=oaep_seed, hash_name="sha1")
    serial_der = der_tlv(INTEGER, serial.to_bytes(serial.bit_length() // 8 + 1, "big"))
    recipient_info = der_sequence(b"\x02\x01\x00", der_sequence(issuer, serial_der),
                                  der_sequence(der_oid(OID_RSAES_OAEP), der_sequence()),
                                  der_tlv(OCTETS, encrypted_key))
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    content = der_sequence(der_oid(OID_DATA), der_sequence(der_oid(OID_AES128_CBC), der_tlv(OCTETS, iv)),
                           der_tlv(CTX0_PRIM, ciphertext))
    enveloped = der_sequence(b"\x02\x01\x00", der_tlv(SET, recipient_info), content)
    return der_sequence(der_oid(OID_ENVELOPED_DATA), der_tlv(CTX0, enveloped))


@dataclass(frozen=True)
class Envelope:
    """A parsed EnvelopedData: the key-transport recipients' encrypted keys and the AES-CBC content."""

    encrypted_keys: tuple[bytes, ...]
    iv: bytes
    ciphertext: bytes


def parse_enveloped(der: bytes) -> Envelope:
    """ContentInfo(EnvelopedData) with RSAES-OAEP (or rsaEncryption) recipients and AES-128-CBC content."""
    outer = _children(der, SEQUENCE, "the AIK info ContentInfo")
    if len(outer) != 2 or _oid(outer[0], "contentType") != OID_ENVELOPED_DATA:
        raise _malformed("the AIK info is not a CMS EnvelopedData")
    fields = _children(_explicit(outer[1], "the EnvelopedData"), SEQUENCE, "EnvelopedData")
    if len(fields) < 3:
        raise _malformed("EnvelopedData lacks fields")
    keys = []
    for recipient in _children(fields[-2], SET, "recipientInfos"):
        parts = _children(recipient, SEQUENCE, "a RecipientInfo")
        if len(parts) != 4:
            continue  # not a KeyTransRecipientInfo
        algorithm, _ = _algorithm(parts[2], "keyEncryptionAlgorithm")
        if algorithm == OID_RSAES_OAEP:
            keys.append(_content(parts[3], OCTETS, "encryptedKey"))
    content = _children(fields[-1], SEQUENCE, "encryptedContentInfo")
    if len(content) != 3:
        raise _malformed("encryptedContentInfo lacks its encrypted content")
    algorithm, params = _algorithm(content[1], "contentEncryptionAlgorithm")
    if algorithm != OID_AES128_CBC or len(params) != 1:
        raise Rejected(Reason.UNSUPPORTED, f"content encryption {algorithm} is not AES-128-CBC")
    iv = _content(params[0], OCTETS, "the AES IV")
    ciphertext = _content(content[2], CTX0_PRIM, "encryptedContent")
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise _malformed("the AES-128-CBC IV or ciphertext has a wrong length")
    return Envelope(tuple(keys), iv, ciphertext)


def open_envelope(envelope: Envelope, key: rsa.RSAPrivateKey) -> bytes | None:
    """The plaintext when one recipient's key was encrypted to ``key``; None when none was; MALFORMED when the
    key opens but the content does not decrypt."""
    for encrypted in envelope.encrypted_keys:
        try:
            cek = key.decrypt(encrypted, OAEP)
        except ValueError:
            continue
        if len(cek) != 16:
            raise _malformed(f"the content-encryption key is {len(cek)} bytes, not 16 (AES-128)")
        decryptor = Cipher(algorithms.AES(cek), modes.CBC(envelope.iv)).decryptor()
        padded = decryptor.update(envelope.ciphertext) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise _malformed("the enveloped AIK info does not decrypt (bad padding)") from None
    return None


def aik_info(plaintext: bytes) -> tuple[bytes, bytes | None]:
    """AttestationIdentityKeyInfo ::= SEQUENCE SIZE (1..2) OF ANY: (AIK SPKI, AIK certificate or None)."""
    items = _children(single_tlv(plaintext, "AttestationIdentityKeyInfo"), SEQUENCE, "AttestationIdentityKeyInfo")
    if not 1 <= len(items) <= 2:
        raise _malformed(f"AttestationIdentityKeyInfo holds {len(items)} elements, not 1 or 2")
    return items[0], items[1] if len(items) == 2 else None
