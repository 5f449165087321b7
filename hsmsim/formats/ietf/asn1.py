"""DER codecs of the two IETF drafts: PKIX Evidence and the CSR AttestationBundle.

* ``Pkix-Key-Attest-2025.asn`` (draft-ietf-rats-pkix-key-attestation): ``Evidence{tbs TbsEvidence{version,
  reportedElements}, signatures, intermediateCertificates [0]}``. The module calls one entry of
  ``reportedElements`` a ``ReportedElement`` (``elementType``); the reference Go code calls it a
  ``ReportedEntity`` (``entityType``). Here it is an :class:`Entity`.
* ``CSR-ATTESTATION-2025.asn`` (draft-ietf-lamps-csr-attestation): ``AttestationBundle{attestations SEQUENCE
  OF AttestationStatement{type, stmt}, certs SEQUENCE OF LimitedCertChoices OPTIONAL}`` carried by the
  PKCS#10 attribute ``id-aa-attestation``, or by the CRMF (RFC 4211) CertTemplate extension of the same OID.

The module leaves ``id-evidence`` as ``1.3.6.1.5.5.TBDMOD3`` and ``id-kp-attestationKey`` as
``id-kp TBDMOD2``; like the draft's sample data and reference code we use 999 for both. Claim values
are kept as their full DER TLV (as the samples carry them); the typed readers (:data:`TYPE_READERS`) read each
as DER of its type; the Evidence, PKCS#10 and CRMF decoders take DER lengths only. Every decoder raises
:class:`ValueError` on a structure the module does not allow (the verifier says MALFORMED).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hsmsim.encoding import der_children, der_content, der_integer, der_oid, der_sequence, der_tlv, oid_dotted, read_tlv

# id-evidence, which detection recognises a file by, is defined beside the detector.
from hsmsim.formats.ietf.layout import ID_EVIDENCE

ELEMENT_TRANSACTION = f"{ID_EVIDENCE}.0.0"
ELEMENT_PLATFORM = f"{ID_EVIDENCE}.0.1"
ELEMENT_KEY = f"{ID_EVIDENCE}.0.2"
ELEMENT_NAMES = {ELEMENT_TRANSACTION: "transaction", ELEMENT_PLATFORM: "platform", ELEMENT_KEY: "key"}
ID_KP_ATTESTATION_KEY = "1.3.6.1.5.5.7.3.999"
"""``id-kp-attestationKey`` with TBDMOD2 = 999 (the EKU of the sample AK certificate)."""
CAPABILITY_ARC = f"{ID_EVIDENCE}.2"
CAPABILITIES = ("encrypt", "decrypt", "wrap", "unwrap", "sign", "sign-recover", "verify", "verify-recover", "derive")
"""``id-evidence-key-capability-<name>`` is ``CAPABILITY_ARC.<index>``."""

TCG_ATTEST_CERTIFY = "2.23.133.20.1"
"""``tcg-attest-certify``: a TcgAttestCertify statement (TPMS_ATTEST, signature, TPMT_PUBLIC)."""
TCG_KP_AIK_CERTIFICATE = "2.23.133.8.3"
"""The EKU of a TPM attestation key certificate."""

UTF8, OCTETS, BOOLEAN, INTEGER, TIME, SEQUENCE = 0x0C, 0x04, 0x01, 0x02, 0x18, 0x30


@dataclass(frozen=True)
class ClaimDef:
    """One claim of the module's ClaimSet: its name, element, DER value tag and whether it may repeat."""

    oid: str
    name: str
    element: str
    tag: int
    repeatable: bool = False


def _claims(element: str, arc: int, *specs: tuple[str, int] | tuple[str, int, bool]) -> list[ClaimDef]:
    return [ClaimDef(f"{ID_EVIDENCE}.1.{arc}.{index}", spec[0], element, spec[1], *spec[2:])
            for index, spec in enumerate(specs)]


CLAIMS = {c.oid: c for c in [
    *_claims(ELEMENT_TRANSACTION, 0, ("nonce", OCTETS), ("timestamp", TIME), ("ak-spki", OCTETS, True)),
    *_claims(ELEMENT_PLATFORM, 1, ("vendor", UTF8), ("oemid", OCTETS), ("hwmodel", OCTETS), ("hwversion", UTF8),
             ("hwserial", UTF8), ("swname", UTF8), ("swversion", UTF8), ("debugstat", INTEGER), ("uptime", INTEGER),
             ("bootcount", INTEGER), ("fipsboot", BOOLEAN), ("fipsver", UTF8), ("fipslevel", INTEGER),
             ("fipsmodule", UTF8)),
    *_claims(ELEMENT_KEY, 2, ("identifier", UTF8, True), ("spki", OCTETS), ("extractable", BOOLEAN),
             ("sensitive", BOOLEAN), ("never-extractable", BOOLEAN), ("local", BOOLEAN), ("expiry", TIME),
             ("purpose", SEQUENCE)),
]}
"""Every claim of the module, by OID (the ``R`` claims of the draft may repeat)."""
CLAIM_OIDS = {(c.element, c.name): c.oid for c in CLAIMS.values()}


def claim_oid(element: str, name: str) -> str:
    """The OID of claim ``name`` of ``element`` (``ELEMENT_*``); raises KeyError for an unknown one."""
    return CLAIM_OIDS[(element, name)]


# -- claim values -------------------------------------------------------------------------------

def utf8(text: str) -> bytes:
    """A UTF8String TLV."""
    return der_tlv(UTF8, text.encode())


def octets(data: bytes) -> bytes:
    """An OCTET STRING TLV."""
    return der_tlv(OCTETS, data)


def boolean(value: bool) -> bytes:
    """A DER BOOLEAN TLV (FF for true)."""
    return der_tlv(BOOLEAN, b"\xff" if value else b"\x00")


def integer(value: int) -> bytes:
    """An INTEGER TLV."""
    return der_integer(value)


def generalized_time(at: dt.datetime) -> bytes:
    """A GeneralizedTime TLV ``YYYYMMDDHHMMSSZ`` (DER: UTC, no fraction)."""
    return der_tlv(TIME, at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ").encode())


def oid_sequence(oids: Sequence[str]) -> bytes:
    """A ``SEQUENCE OF OBJECT IDENTIFIER`` (KeyPurposes)."""
    return der_sequence(*(der_oid(o) for o in oids))


def read_value(tlv: bytes, tag: int) -> bytes:
    """The content of a claim value that must be one TLV with ``tag``; raises ValueError."""
    if len(tlv) > 1 and tlv[0] == tag and tlv[1] == len(tlv) - 2 < 0x80 and tag & 0x1F != 0x1F:
        return tlv[2:]  # a short-form TLV that fills ``tlv``, as read_tlv reads it
    found, start, end = read_tlv(tlv, der=True)
    if found != tag or end != len(tlv):
        raise ValueError(f"claim value has tag 0x{found:02x}, expected 0x{tag:02x}")
    return tlv[start:end]


def read_boolean(tlv: bytes) -> bool:
    """A DER BOOLEAN value (00 or FF only)."""
    content = read_value(tlv, BOOLEAN)
    if content not in (b"\x00", b"\xff"):
        raise ValueError("BOOLEAN is not DER (00 or FF)")
    return content == b"\xff"


def read_integer(tlv: bytes) -> int:
    """A minimal INTEGER value."""
    content = read_value(tlv, INTEGER)
    if not content or (len(content) > 1 and (content[0], content[1] & 0x80) in ((0, 0), (0xFF, 0x80))):
        raise ValueError("INTEGER is not minimal DER")
    return int.from_bytes(content, "big", signed=True)


def read_utf8(tlv: bytes) -> str:
    """A UTF8String value."""
    return read_value(tlv, UTF8).decode("utf-8")


def read_time(tlv: bytes) -> dt.datetime:
    """A DER GeneralizedTime ``YYYYMMDDHHMMSSZ`` (X.690 11.7: UTC, seconds, no fraction) naming a real instant."""
    text = read_value(tlv, TIME)
    if len(text) != 15 or text[14:] != b"Z" or not text[:14].isdigit():
        raise ValueError("GeneralizedTime is not YYYYMMDDHHMMSSZ")
    return dt.datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                       int(text[12:14]), tzinfo=dt.UTC)  # ValueError for a month 13, a 31 April, ...


def read_oid(tlv: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER TLV in DER: some content, each subidentifier in its fewest octets
    (none starts 0x80) and complete."""
    tag, start, end = read_tlv(tlv, der=True)
    if tag != 0x06 or end != len(tlv):
        raise ValueError("not an OBJECT IDENTIFIER")
    content = tlv[start:end]
    if not content or content[-1] & 0x80 or (b"\x80" in content and any(
            octet == 0x80 and (i == 0 or content[i - 1] < 0x80) for i, octet in enumerate(content))):
        raise ValueError("OBJECT IDENTIFIER is not DER (empty, padded or truncated subidentifier)")
    return oid_dotted(tlv)


def read_oid_sequence(tlv: bytes) -> list[str]:
    """A SEQUENCE OF OBJECT IDENTIFIER."""
    return [read_oid(child) for child in der_children(read_value(tlv, SEQUENCE), der=True)]


def read_octets(tlv: bytes) -> bytes:
    """An OCTET STRING value."""
    return read_value(tlv, OCTETS)


TYPE_READERS: dict[int, Callable[[bytes], object]] = {
    UTF8: read_utf8, OCTETS: read_octets, BOOLEAN: read_boolean, INTEGER: read_integer, TIME: read_time,
    SEQUENCE: read_oid_sequence}
"""The reader of each claim type of the module (by :attr:`ClaimDef.tag`; the one SEQUENCE is KeyPurposes): each
raises ValueError for a value that is not that type in DER."""


# -- Evidence -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A ReportedClaim: ``claimType`` and the value's full DER TLV (None when absent)."""

    type: str
    value: bytes | None


@dataclass(frozen=True)
class Entity:
    """A ``ReportedElement`` (module) / ``ReportedEntity`` (reference code): its type and claims."""

    type: str
    claims: tuple[Claim, ...]

    def values(self, name: str) -> list[bytes | None]:
        """The values of every claim called ``name`` of this entity's element, in order."""
        oid = CLAIM_OIDS.get((self.type, name))
        return list(self._by_type.get(oid, ())) if oid is not None else []

    def first(self, name: str) -> bytes | None:
        """The value of the first claim called ``name`` of this entity's element (None when there is none)."""
        oid = CLAIM_OIDS.get((self.type, name))
        found = self._by_type.get(oid) if oid is not None else None
        return found[0] if found else None

    def count_of_type(self, claim_type: str) -> int:
        """How many claims of type ``claim_type`` (an OID) this entity carries."""
        return len(self._by_type.get(claim_type, ()))

    @functools.cached_property
    def _by_type(self) -> dict[str, list[bytes | None]]:
        """The claims' values by claim type, in order: a verifier looks a dozen claims up."""
        found: dict[str, list[bytes | None]] = {}
        for c in self.claims:
            found.setdefault(c.type, []).append(c.value)
        return found


@dataclass(frozen=True)
class SignatureBlock:
    """A SignatureBlock: the SignerIdentifier's alternatives, the AlgorithmIdentifier DER and the value."""

    algorithm: bytes
    value: bytes
    key_id: bytes | None = None
    spki: bytes | None = None
    certificate: bytes | None = None


@dataclass(frozen=True)
class PkixEvidence:
    """A decoded Evidence; ``tbs`` is the TbsEvidence DER as received (what the signatures cover)."""

    tbs: bytes
    version: int
    entities: tuple[Entity, ...]
    signatures: tuple[SignatureBlock, ...]
    intermediates: tuple[bytes, ...] | None
    explicit_intermediates: bool = False
    """True when ``[0]`` wraps a SEQUENCE OF (the module's EXPLICIT TAGS); the reference code and its
    samples tag it IMPLICIT (``[0]`` holds the certificates), which is what hsmsim writes."""


def encode_claim(claim: Claim) -> bytes:
    """One ReportedClaim."""
    return _encode_claim(claim.type, claim.value)


@functools.lru_cache(maxsize=1024)
def _encode_claim(claim_type: str, value: bytes | None) -> bytes:
    # Memoized: the vectors of one golden repeat all its claims but the edited one.
    return der_sequence(der_oid(claim_type), value or b"")


def encode_entity(entity: Entity) -> bytes:
    """One ReportedEntity."""
    return der_sequence(der_oid(entity.type), der_sequence(*(encode_claim(c) for c in entity.claims)))


def encode_tbs(version: int, entities: Sequence[Entity]) -> bytes:
    """TbsEvidence DER."""
    return tbs_of(version, [encode_entity(e) for e in entities])


def tbs_of(version: int, entity_ders: Sequence[bytes]) -> bytes:
    """TbsEvidence DER of entities already encoded (:func:`encode_entity`)."""
    return der_sequence(integer(version), der_sequence(*entity_ders))


def encode_signature(block: SignatureBlock) -> bytes:
    """One SignatureBlock (SignerIdentifier alternatives EXPLICIT [0] [1] [2])."""
    sid = b""
    if block.key_id is not None:
        sid += der_tlv(0xA0, octets(block.key_id))
    if block.spki is not None:
        sid += der_tlv(0xA1, block.spki)
    if block.certificate is not None:
        sid += der_tlv(0xA2, block.certificate)
    return der_sequence(der_sequence(sid), block.algorithm, octets(block.value))


def encode_evidence(tbs: bytes, signatures: Sequence[SignatureBlock], intermediates: Sequence[bytes] | None,
                    *, explicit_intermediates: bool = False) -> bytes:
    """Evidence DER: ``tbs`` as given, the signature blocks, and ``intermediateCertificates`` when given
    (``[0] IMPLICIT`` as the reference code writes it, or EXPLICIT as the module's tagging default says)."""
    parts = [tbs, der_sequence(*(encode_signature(s) for s in signatures))]
    if intermediates is not None:
        certs = b"".join(intermediates)
        parts.append(der_tlv(0xA0, der_sequence(certs) if explicit_intermediates else certs))
    return der_sequence(*parts)


def _is_certificate(tlv: bytes) -> bool:
    tag, start, end = read_tlv(tlv, der=True)
    children = der_children(tlv[start:end], der=True) if tag == SEQUENCE else []
    return [c[0] for c in children] == [SEQUENCE, SEQUENCE, 0x03]


def _sequence_items(tlv: bytes, what: str) -> list[bytes]:
    tag, start, end = read_tlv(tlv, der=True)
    if tag != SEQUENCE or end != len(tlv):
        raise ValueError(f"{what} is not a SEQUENCE")
    return der_children(tlv[start:end], der=True)


def _decode_entity(tlv: bytes) -> Entity:
    items = _sequence_items(tlv, "ReportedElement")
    if len(items) != 2:
        raise ValueError("ReportedElement is not {elementType, claims}")
    claims = [_decode_claim(claim_tlv) for claim_tlv in _sequence_items(items[1], "claims")]
    if not claims:
        raise ValueError("a ReportedElement has no claims (SIZE 1..MAX)")
    return Entity(read_oid(items[0]), tuple(claims))


def _decode_claim(tlv: bytes) -> Claim:
    """One ReportedClaim, ``tlv`` being a child :func:`der_children` returned (one whole TLV, its header read
    already: only the tag and where the content starts are left to look at)."""
    if tlv[0] != SEQUENCE:
        raise ValueError("ReportedClaim is not a SEQUENCE")
    content = tlv[2 if tlv[1] < 0x80 else 2 + (tlv[1] & 0x7F):]
    size = len(content)
    if size > 1 and content[0] == 0x06 and content[1] < 0x80:
        # The usual claim: a short OID alone, or followed by one value with a short-form length that ends the
        # claim; anything else is read below, as der_children reads it (and fails).
        oid_end = 2 + content[1]
        if oid_end == size:
            return Claim(oid_dotted(content), None)
        if oid_end + 1 < size and content[oid_end + 1] < 0x80 and content[oid_end] & 0x1F != 0x1F and \
                oid_end + 2 + content[oid_end + 1] == size:
            return Claim(oid_dotted(content[:oid_end]), content[oid_end:])
    parts = der_children(content, der=True)
    count = len(parts)
    if count != 1 and count != 2:
        raise ValueError("ReportedClaim is not {claimType, value OPTIONAL}")
    if parts[0][0] != 0x06:  # a child too
        raise ValueError("not an OBJECT IDENTIFIER")
    return Claim(oid_dotted(parts[0]), parts[1] if count == 2 else None)


def _decode_signature(tlv: bytes) -> SignatureBlock:
    items = _sequence_items(tlv, "SignatureBlock")
    if len(items) != 3:
        raise ValueError("SignatureBlock is not {sid, signatureAlgorithm, signatureValue}")
    found: dict[int, bytes] = {}
    for child in _sequence_items(items[0], "SignerIdentifier"):
        tag = child[0]
        if tag not in (0xA0, 0xA1, 0xA2) or tag & 0x0F in found:
            raise ValueError("SignerIdentifier holds an unknown or repeated alternative")
        found[tag & 0x0F] = der_content(child, der=True)
    if not found:
        raise ValueError("SignerIdentifier names no signer (keyId, subjectPublicKeyInfo or certificate)")
    _sequence_items(items[1], "signatureAlgorithm")
    key_id = read_value(found[0], OCTETS) if 0 in found else None
    return SignatureBlock(items[1], read_value(items[2], OCTETS), key_id, found.get(1), found.get(2))


def decode_evidence(der: bytes) -> PkixEvidence:
    """Parse Evidence DER; raises ValueError for anything the module does not allow."""
    items = _sequence_items(der, "Evidence")
    if len(items) not in (2, 3):
        raise ValueError("Evidence is not {tbs, signatures, intermediateCertificates [0] OPTIONAL}")
    tbs_items = _sequence_items(items[0], "TbsEvidence")
    if len(tbs_items) != 2:
        raise ValueError("TbsEvidence is not {version, reportedElements}")
    version = read_integer(tbs_items[0])
    entities = tuple(_decode_entity(e) for e in _sequence_items(tbs_items[1], "reportedElements"))
    if not entities:
        raise ValueError("reportedElements is empty (SIZE 1..MAX)")
    signatures = tuple(_decode_signature(s) for s in _sequence_items(items[1], "signatures"))
    intermediates = None
    if len(items) == 3:
        if items[2][0] != 0xA0:
            raise ValueError("the third Evidence field is not intermediateCertificates [0]")
        content = der_children(der_content(items[2], der=True), der=True)
        explicit = len(content) == 1 and not _is_certificate(content[0])
        intermediates = tuple(_sequence_items(content[0], "intermediateCertificates") if explicit else content)
        if not all(_is_certificate(c) for c in intermediates):
            raise ValueError("intermediateCertificates holds something that is not a Certificate")
        return PkixEvidence(items[0], version, entities, signatures, intermediates, explicit)
    return PkixEvidence(items[0], version, entities, signatures, None)


# -- AttestationBundle --------------------------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    """An AttestationStatement: ``type``, the ``stmt`` TLV, and any elements after it.

    ``trailing`` holds what the current module does not allow, e.g. the IA5String ``hint`` of the
    superseded EvidenceStatement that the draft's TcgAttestCertify sample still carries.
    """

    type: str
    stmt: bytes
    trailing: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """An AttestationBundle: its statements and the DER of its ``certs`` (None when absent)."""

    statements: tuple[Statement, ...]
    certs: tuple[bytes, ...] | None


def encode_bundle(bundle: Bundle) -> bytes:
    """AttestationBundle DER (``certs`` as plain ``certificate`` CertificateChoices)."""
    parts = [der_sequence(*(der_sequence(der_oid(s.type), s.stmt, *s.trailing) for s in bundle.statements))]
    if bundle.certs is not None:
        parts.append(der_sequence(*bundle.certs))
    return der_sequence(*parts)


def decode_bundle(der: bytes) -> Bundle:
    """Parse an AttestationBundle; ``certs`` keeps every CertificateChoices as received."""
    items = _sequence_items(der, "AttestationBundle")
    if len(items) not in (1, 2):
        raise ValueError("AttestationBundle is not {attestations, certs OPTIONAL}")
    statements = []
    for tlv in _sequence_items(items[0], "attestations"):
        parts = _sequence_items(tlv, "AttestationStatement")
        if len(parts) < 2:
            raise ValueError("AttestationStatement is not {type, stmt}")
        statements.append(Statement(read_oid(parts[0]), parts[1], tuple(parts[2:])))
    certs = tuple(_sequence_items(items[1], "certs")) if len(items) == 2 else None
    return Bundle(tuple(statements), certs)


# -- PKCS#10 ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestInfo:
    """A CertificationRequest opened up: the CRI DER, its SPKI DER and its attributes ``(oid, [values])``."""

    info: bytes
    spki: bytes
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...]


def encode_request_info(subject: bytes, spki: bytes, attributes: Sequence[tuple[str, Sequence[bytes]]]) -> bytes:
    """CertificationRequestInfo DER (version 0); attribute values are already encoded TLVs, kept in order.

    DER sorts a SET OF; the attributes are written in the given order so a vector can put two
    ``id-aa-attestation`` attributes side by side.
    """
    attrs = b"".join(der_sequence(der_oid(oid), der_tlv(0x31, b"".join(values))) for oid, values in attributes)
    return der_sequence(integer(0), subject, spki, der_tlv(0xA0, attrs))


def encode_request(info: bytes, algorithm: bytes, signature: bytes) -> bytes:
    """CertificationRequest DER."""
    return der_sequence(info, algorithm, der_tlv(0x03, b"\x00" + signature))


def decode_request(der: bytes) -> RequestInfo:
    """The CRI, SPKI and attributes of a CertificationRequest; raises ValueError."""
    outer = _sequence_items(der, "CertificationRequest")
    if len(outer) != 3:
        raise ValueError("CertificationRequest is not {info, algorithm, signature}")
    info = _sequence_items(outer[0], "CertificationRequestInfo")
    if len(info) != 4 or info[3][0] != 0xA0:
        raise ValueError("CertificationRequestInfo is not {version, subject, spki, [0] attributes}")
    attributes = []
    for attr in der_children(der_content(info[3], der=True), der=True):
        parts = _sequence_items(attr, "Attribute")
        tag, start, end = read_tlv(parts[1], der=True) if len(parts) == 2 else (0, 0, 0)
        if len(parts) != 2 or tag != 0x31:
            raise ValueError("Attribute is not {type, SET OF values}")
        attributes.append((read_oid(parts[0]), tuple(der_children(parts[1][start:end], der=True))))
    return RequestInfo(outer[0], info[2], tuple(attributes))


# -- CRMF (RFC 4211) ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CrmfExtension:
    """One Extension of a CertTemplate: its OID, criticality and extnValue content."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertReqMsg:
    """A CertReqMsg opened up: the CertRequest DER (what POPOSigningKey signs), the template's SPKI DER and
    extensions, and the proof of possession (``popo_tag`` the ProofOfPossession choice, None when absent)."""

    cert_request: bytes
    spki: bytes | None
    extensions: tuple[CrmfExtension, ...]
    popo_tag: int | None
    popo_input: bool
    algorithm: bytes | None
    signature: bytes | None


def encode_cert_request(request_id: int, subject: bytes, spki: bytes, extensions: Sequence[CrmfExtension]) -> bytes:
    """CertRequest DER: ``certReqId`` and a CertTemplate with ``subject [5]`` (EXPLICIT: Name is a CHOICE),
    ``publicKey [6]`` and ``extensions [9]`` (IMPLICIT, PKIXCRMF-2009), extensions in the given order."""
    exts = [der_sequence(der_oid(e.oid), *([boolean(True)] if e.critical else []), octets(e.value))
            for e in extensions]
    template = [der_tlv(0xA5, subject), der_tlv(0xA6, der_content(spki))]
    if exts:
        template.append(der_tlv(0xA9, b"".join(exts)))
    return der_sequence(integer(request_id), der_sequence(*template))


def encode_cert_req_msg(cert_request: bytes, algorithm: bytes | None, signature: bytes | None) -> bytes:
    """CertReqMsg DER; with ``algorithm`` and ``signature`` the POPOSigningKey ``[1]`` over ``cert_request``
    (poposkInput absent: the template names the subject and key), else ``raVerified [0] NULL``."""
    if algorithm is None or signature is None:
        return der_sequence(cert_request, der_tlv(0x80, b""))
    return der_sequence(cert_request, der_tlv(0xA1, algorithm + der_tlv(0x03, b"\x00" + signature)))


CERT_TEMPLATE_TAGS = (0x80, 0x81, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0x87, 0x88, 0xA9)
"""The CertTemplate fields of RFC 4211 5 (PKIXCRMF-2009, implicit tags): version [0], serialNumber [1], signingAlg
[2], issuer [3], validity [4], subject [5], publicKey [6], issuerUID [7], subjectUID [8], extensions [9]; the
primitive or constructed form each type has."""


def _der_lengths_only(tlv: bytes) -> None:
    """Every length in ``tlv`` and in each constructed TLV within it, fields no reader opens included (a
    CertTemplate's subject, controls), is in its shortest form (X.690 10.1: ``read_tlv`` with ``der``); raises
    ValueError. Primitive contents (an OCTET STRING's, a BIT STRING's) are not opened."""
    pending = [tlv]
    while pending:
        item = pending.pop()
        tag, start, end = read_tlv(item, der=True)
        if tag & 0x20:
            pending.extend(der_children(item[start:end], der=True))


def decode_cert_req_msg(der: bytes) -> CertReqMsg:
    """Parse a CertReqMsg, DER throughout (every length in its shortest form); raises ValueError."""
    items = _sequence_items(der, "CertReqMsg")
    _der_lengths_only(der)
    if not 1 <= len(items) <= 3:
        raise ValueError("CertReqMsg is not {certReq, popo OPTIONAL, regInfo OPTIONAL}")
    request = _sequence_items(items[0], "CertRequest")
    if len(request) not in (2, 3) or request[0][0] != INTEGER:
        raise ValueError("CertRequest is not {certReqId, certTemplate, controls OPTIONAL}")
    spki, extensions, last = None, [], -1
    for field in _sequence_items(request[1], "CertTemplate"):
        tag = field[0]
        if tag not in CERT_TEMPLATE_TAGS or tag & 0x1F <= last:
            raise ValueError(f"CertTemplate field with tag {tag:#04x} is undefined, repeated or out of order (RFC "
                             "4211 5: fields [0] to [9], each at most once, in order)")
        last = tag & 0x1F
        if tag == 0xA6:
            spki = der_sequence(der_content(field, der=True))
        elif tag == 0xA9:
            for ext in der_children(der_content(field, der=True), der=True):
                parts = _sequence_items(ext, "Extension")
                critical = len(parts) == 3 and read_boolean(parts[1])
                if len(parts) not in (2, 3) or (len(parts) == 3 and not critical):
                    raise ValueError("Extension is not {extnID, critical DEFAULT FALSE, extnValue}")
                extensions.append(CrmfExtension(read_oid(parts[0]), critical, read_value(parts[-1], OCTETS)))
    popo_tag, popo_input, algorithm, signature = None, False, None, None
    rest = items[1:]
    if rest and rest[0][0] & 0xC0 == 0x80:
        popo = rest.pop(0)
        popo_tag = popo[0] & 0x1F
        if popo_tag == 1:
            fields = der_children(der_content(popo, der=True), der=True)
            popo_input = bool(fields) and fields[0][0] == 0xA0
            fields = fields[1:] if popo_input else fields
            if len(fields) != 2 or fields[1][0] != 0x03 or der_content(fields[1], der=True)[:1] != b"\x00":
                raise ValueError("POPOSigningKey is not {poposkInput OPTIONAL, algorithmIdentifier, signature}")
            algorithm, signature = fields[0], der_content(fields[1], der=True)[1:]
    if rest and rest[0][0] != SEQUENCE:
        raise ValueError("CertReqMsg.regInfo is not a SEQUENCE")
    return CertReqMsg(items[0], spki, tuple(extensions), popo_tag, popo_input, algorithm, signature)


def is_cert_req_msg(der: bytes) -> bool:
    """True when ``der`` is shaped as a CertReqMsg (its first element a CertRequest), not a CertificationRequest
    (whose first element starts with its version INTEGER, as a CertRequest does: the CertTemplate tells)."""
    try:
        request = _sequence_items(_sequence_items(der, "request")[0], "CertRequest")
        return len(request) in (2, 3) and request[1][:1] == b"\x30" and read_tlv(request[0])[0] == INTEGER and \
            all(f[0] & 0xE0 in (0x80, 0xA0) for f in der_children(der_content(request[1])))
    except (ValueError, IndexError):
        return False
