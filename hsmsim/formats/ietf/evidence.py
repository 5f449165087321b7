"""PKIX Evidence (draft-ietf-rats-pkix-key-attestation): the generic profile's generator and reference verifier.

Any emulated device reports one transaction entity (nonce, time, the AK's SPKI), one platform entity
(vendor, model, hardware serial, firmware, FIPS boot and level) and one key entity per attested key
(identifier, SPKI, extractable, never-extractable, local, sensitive, purposes), signed by its
attestation key (AK) whose certificate and intermediate travel in the Evidence.

The evidence files: ``<label>.evidence.pem`` (PEM label ``EVIDENCE``), ``<label>.nonce`` (the relying
party's nonce in hex) and the emulated root ``pkix_evidence_root.pem``. A verifier also takes an
optional CSR (``*.csr``: then a key entity must carry the CSR's key) and loose certificates (``*.crt``
or certificate PEMs, for a signer named only by keyId).
"""

from __future__ import annotations

import binascii
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from hsmsim.checks import check_csr_signature, one_file, one_name, require_code_signing_key
from hsmsim.device import AttestationRequest, bytes_parameter
from hsmsim.encoding import cert_pem, key_facts, pem, spki_der
from hsmsim.errors import ParameterError
from hsmsim.formats.ietf import asn1
from hsmsim.formats.ietf.asn1 import (
    ELEMENT_KEY,
    ELEMENT_PLATFORM,
    ELEMENT_TRANSACTION,
    Claim,
    Entity,
    SignatureBlock,
)
from hsmsim.formats.ietf.layout import EVIDENCE_SUFFIX, NONCE_SUFFIX, PKIX_EVIDENCE, evidence_der
from hsmsim.keystore.base import StoredKey
from hsmsim.model.evidence import Evidence, TrustAnchors, safe_file_stem
from hsmsim.pki.chain import CERT_PARSE_ERRORS, certificate_from_der, fully_parsed, subject_text, validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg
from hsmsim.pki.signing import check_parameters, sign, verify
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

PEM_LABEL = "EVIDENCE"
ROOT_FILE = "pkix_evidence_root.pem"
FIPS_LEVELS = range(1, 5)
T = TypeVar("T")
_FIPS_VERSION_LEVEL = re.compile(r"level\s*([0-9]+)", re.IGNORECASE)


# -- generation ---------------------------------------------------------------------------------

def claim(element: str, name: str, value: bytes | None) -> Claim:
    """A claim of ``element`` by its name in the module."""
    return Claim(asn1.claim_oid(element, name), value)


@dataclass(frozen=True)
class Platform:
    """What the platform entity says about the device."""

    vendor: str
    model: str
    serial: str
    firmware: str
    fips_boot: bool = True
    fips_level: int = 3


def platform_entity(platform: Platform) -> Entity:
    """The platform entity: vendor, hwmodel, hwserial, swname/swversion, fipsboot, fipsver, fipslevel."""
    p = ELEMENT_PLATFORM
    return Entity(p, (
        claim(p, "vendor", asn1.utf8(platform.vendor)),
        claim(p, "hwmodel", asn1.octets(platform.model.encode())),
        claim(p, "hwserial", asn1.utf8(platform.serial)),
        claim(p, "swname", asn1.utf8("hsmsim")),
        claim(p, "swversion", asn1.utf8(platform.firmware)),
        claim(p, "fipsboot", asn1.boolean(platform.fips_boot)),
        claim(p, "fipsver", asn1.utf8(f"FIPS 140-3 Level {platform.fips_level}")),
        claim(p, "fipslevel", asn1.integer(platform.fips_level)),
    ))


def transaction_entity(nonce: bytes, at: datetime, ak_spkis: Sequence[bytes]) -> Entity:
    """The transaction entity: nonce, timestamp and one ak-spki per signing AK."""
    t = ELEMENT_TRANSACTION
    return Entity(t, (claim(t, "nonce", asn1.octets(nonce)), claim(t, "timestamp", asn1.generalized_time(at)),
                      *(claim(t, "ak-spki", asn1.octets(spki)) for spki in ak_spkis)))


def purposes(key: StoredKey) -> list[str]:
    """The key capabilities its PKCS#11 usage attributes allow, as ``id-evidence-key-capability`` OIDs."""
    a = key.attributes
    names = [n for n, allowed in (("decrypt", a.decrypt), ("unwrap", a.unwrap), ("sign", a.sign),
                                  ("derive", a.derive)) if allowed]
    return [f"{asn1.CAPABILITY_ARC}.{asn1.CAPABILITIES.index(n)}" for n in names]


def key_entity(key: StoredKey) -> Entity:
    """A key entity from the key's read-back PKCS#11 attributes (no SPKI claim for a secret key)."""
    k, a = ELEMENT_KEY, key.attributes
    spki = [claim(k, "spki", asn1.octets(spki_der(key.public_key)))] if key.public_key is not None else []
    return Entity(k, (
        claim(k, "identifier", asn1.utf8(key.label)), *spki,
        claim(k, "extractable", asn1.boolean(a.extractable)),
        claim(k, "never-extractable", asn1.boolean(a.never_extractable)),
        claim(k, "sensitive", asn1.boolean(a.sensitive)),
        claim(k, "local", asn1.boolean(a.local)),
        claim(k, "purpose", asn1.oid_sequence(purposes(key))),
    ))


def signer_ders(identity: AttestationIdentity) -> tuple[bytes, ...]:
    """The DER of an identity's certificate, then of its chain above it (the intermediates it signs with)."""
    return tuple(c.public_bytes(Encoding.DER) for c in (identity.certificate, *identity.chain[1:]))


def sign_evidence(tbs: bytes, identities: Sequence[AttestationIdentity]) -> bytes:
    """Evidence over ``tbs``: one SignatureBlock per identity (its certificate as the signer), the
    identities' intermediates as ``intermediateCertificates``."""
    blocks, intermediates = [], []
    for identity in identities:
        algorithm, value = sign(identity.key, tbs)
        certificate, *above = signer_ders(identity)
        blocks.append(SignatureBlock(algorithm, value, certificate=certificate))
        intermediates += above
    return asn1.encode_evidence(tbs, blocks, intermediates or None)


def golden_entities(request: AttestationRequest, vendor: str, nonce: bytes) -> tuple[Entity, Entity, Entity]:
    """The entities of the request's Evidence: transaction (``nonce``, the time, the AK), platform, key."""
    ak_spki = spki_der(request.attesting.certificate.public_key())
    return (transaction_entity(nonce, request.at, [ak_spki]), platform_entity(request_platform(request, vendor)),
            key_entity(request.key))


def request_nonce(request: AttestationRequest) -> bytes:
    """The ``nonce`` parameter (bytes or hex text), else 16 bytes derived from the seed, the key and the time.
    Raises :class:`ParameterError` for another value."""
    given = bytes_parameter(request.parameters, "nonce", bytes.fromhex, "bytes or hex text")
    if given is not None:
        return given
    return drbg(request.device.seed, f"ietf/nonce/{request.key.label}/{request.at.isoformat()}").read(16)


def request_platform(request: AttestationRequest, vendor: str) -> Platform:
    """The platform the device reports; ``fips_level`` (the FIPS 140-3 level, 1 to 4) is a parameter (default 3).
    Raises :class:`ParameterError` for another value."""
    level = request.parameters.get("fips_level", 3)
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4:
        raise ParameterError.invalid("fips_level", "an integer from 1 to 4", level)
    device = request.device
    return Platform(vendor=vendor, model=device.model or device.format, serial=device.serial,
                    firmware=device.firmware or "1.0.0", fips_level=level)


def evidence_files(stem: str, der: bytes, nonce: bytes, root_pem: bytes) -> dict[str, bytes]:
    """The files a relying party receives: the Evidence PEM (``<stem>.evidence.pem``), its nonce
    (``<stem>.nonce``) and the emulated root (``root_pem``, as :data:`ROOT_FILE`)."""
    return {f"{stem}{EVIDENCE_SUFFIX}": pem(der, PEM_LABEL), f"{stem}{NONCE_SUFFIX}": nonce.hex().encode() + b"\n",
            ROOT_FILE: root_pem}


def generate(request: AttestationRequest, vendor: str) -> Evidence:
    """PKIX Evidence for the request's key, signed by the request's attesting identity; its files are named by
    the key label's :func:`~hsmsim.model.evidence.safe_file_stem`, so they all lie in the bundle directory."""
    nonce = request_nonce(request)
    der = sign_evidence(asn1.encode_tbs(1, golden_entities(request, vendor, nonce)), [request.attesting])
    stem = safe_file_stem(request.key.label)
    files = evidence_files(stem, der, nonce, cert_pem(request.attesting.root))
    return Evidence(PKIX_EVIDENCE, files, f"{stem}{EVIDENCE_SUFFIX}")


# -- reading ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Inputs:
    """What the verifier reads from the evidence files."""

    der: bytes
    nonce: bytes | None
    csr: bytes | None
    certs: tuple[x509.Certificate, ...]
    csr_spki: bytes | None = None
    """Without ``csr``: the key of a request the caller has already parsed and whose self-signature it has
    verified, as :func:`~hsmsim.checks.check_csr_signature` returns it (the CSR attestation's own PKCS#10)."""


def read_inputs(files: Mapping[str, bytes], primary: str) -> Inputs:
    """The Evidence (``primary``), the nonce, the CSR and loose certificates; raises Rejected (two different nonce
    files or CSRs are MALFORMED, :func:`~hsmsim.checks.one_file`)."""
    if primary not in files:
        raise Rejected(Reason.MISSING_INPUT, f"the evidence file {primary} is missing")
    der = _evidence_of(files[primary], primary)
    others = [name for name in files if name != primary]
    nonce_name = one_name(files, [name for name in others if name.endswith(NONCE_SUFFIX)],
                          f"the nonce ({NONCE_SUFFIX})")
    nonce = None
    if nonce_name is not None:
        try:
            nonce = bytes.fromhex(files[nonce_name].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise Rejected(Reason.MALFORMED, f"{nonce_name} is not a hex nonce") from None
    csr = one_file(files, [name for name in others if name.endswith(".csr")], "the CSR")
    certs: list[x509.Certificate] = []
    for name in others:
        data = files[name]
        if name.endswith((".crt", ".pem", ".cer")) and (b"CERTIFICATE-----" in data or data[:1] == b"\x30"):
            certs += _certificates_of(data, name)
    return Inputs(der, nonce, csr, tuple(certs))


def statement_inputs(stmt: bytes, certs: Sequence[x509.Certificate], nonce: bytes | None, csr_spki: bytes | None,
                     names: tuple[str, str]) -> Inputs:
    """The inputs of an Evidence carried in a CSR attestation bundle: ``stmt`` read as :func:`read_inputs`
    reads an Evidence file, the bundle's certificates (fully parsed), the relying party's nonce and the key of
    the request, whose self-signature the caller verified. ``names`` = (Evidence, certificates): how a
    rejection names them, as when they are given as files. Raises Rejected."""
    der = _evidence_of(stmt, names[0])
    return Inputs(der, nonce, None, tuple(_certificates_of(certs, names[1])), csr_spki)


def _evidence_of(data: bytes, name: str) -> bytes:
    """The Evidence DER of the file ``name``; MALFORMED when it is not PEM, base64 or DER."""
    try:
        return evidence_der(data)
    except (ValueError, binascii.Error) as exc:
        raise Rejected(Reason.MALFORMED, f"{name} is not PEM, base64 or DER Evidence: {exc}") from None


def _certificates_of(source: bytes | Sequence[x509.Certificate], name: str) -> list[x509.Certificate]:
    """The certificates of ``source`` (a PEM or DER file's bytes, or loaded certificates), fully parsed;
    MALFORMED, naming ``name``, when loading or parsing fails."""
    try:
        if isinstance(source, bytes):
            source = (x509.load_pem_x509_certificates(source) if b"-----BEGIN" in source[:64]
                      else [x509.load_der_x509_certificate(source)])
        return [fully_parsed(c) for c in source]
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, f"{name} holds a certificate that does not parse") from None


# -- verification -------------------------------------------------------------------------------

def describe_key(spki: bytes) -> tuple[str, int | None]:
    """``(key_type, size)`` as :class:`Claims` names them (``RSA``, ``EC-secp256r1``, ``Ed25519``).

    Raises ValueError for anything else."""
    return describe_public_key(load_der_public_key(spki))


def describe_public_key(key: object) -> tuple[str, int | None]:
    """:func:`describe_key` of a loaded public key: :func:`~hsmsim.encoding.key_facts` (as every format claims
    it: Ed25519 256 bits), and any other key is a ValueError."""
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return key_facts(key)
    raise ValueError(f"unsupported key type {type(key).__name__}")


def _typed(entity: Entity, name: str, reader: Callable[[bytes], T]) -> T | None:
    value = entity.first(name)
    if value is None:
        return None
    try:
        return reader(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(Reason.MALFORMED, f"claim {name}: {exc}") from None


def validate_structure(ev: asn1.PkixEvidence, profile: Profile) -> None:
    """The reference CLI's ``validate``: version 1, at most one transaction and one platform entity, no
    repeated claim, a key identifier present and unique, AK SPKIs unique, a well-formed FIPS level; and
    every known claim's value of its declared type. Unknown entities and claims are ignored (the draft),
    except by the strict profile."""
    if ev.version != 1:
        raise Rejected(Reason.UNSUPPORTED, f"TbsEvidence version {ev.version} (this verifier knows version 1)")
    counts = Counter(e.type for e in ev.entities)
    for element in (ELEMENT_TRANSACTION, ELEMENT_PLATFORM):
        if counts[element] > 1:
            name = asn1.ELEMENT_NAMES[element]
            raise Rejected(Reason.ATTR_CONFLICT, f"{counts[element]} {name} entities (at most one)")
    identifiers: list[str] = []
    for index, entity in enumerate(ev.entities):
        where = f"entity {index} ({asn1.ELEMENT_NAMES.get(entity.type, entity.type)})"
        if entity.type not in asn1.ELEMENT_NAMES:
            if profile is Profile.STRICT:
                raise Rejected(Reason.UNEXPECTED_CONTENT, f"{where}: unknown entity type")
            continue
        for item in entity.claims:
            known = asn1.CLAIMS.get(item.type)
            if known is None or known.element != entity.type:
                if profile is Profile.STRICT:
                    raise Rejected(Reason.UNEXPECTED_CONTENT, f"{where}: claim {item.type} does not belong here")
                continue
            if not known.repeatable and entity.count_of_type(item.type) > 1:
                raise Rejected(Reason.ATTR_CONFLICT, f"{where}: claim {known.name} repeated")
            if item.value is None:
                raise Rejected(Reason.MALFORMED, f"{where}: claim {known.name} has no value")
            try:
                asn1.TYPE_READERS[known.tag](item.value)
            except ValueError as exc:  # UnicodeDecodeError included
                raise Rejected(Reason.MALFORMED, f"{where}: claim {known.name}: {exc}") from None
        if entity.type == ELEMENT_KEY:
            ids = [asn1.read_utf8(v) for v in entity.values("identifier") if v is not None]
            if not ids:
                raise Rejected(Reason.ATTR_MISSING, f"{where}: no identifier claim (required)")
            identifiers += ids
        if entity.type == ELEMENT_TRANSACTION:
            spkis = entity.values("ak-spki")
            if len(set(spkis)) != len(spkis):
                raise Rejected(Reason.ATTR_CONFLICT, f"{where}: the same ak-spki twice")
        if entity.type == ELEMENT_PLATFORM:
            _check_fips(entity, where)
    duplicates = sorted(i for i, n in Counter(identifiers).items() if n > 1)
    if duplicates:
        raise Rejected(Reason.ATTR_CONFLICT, f"key identifier {duplicates[0]!r} names two keys")


def fips_level(platform: Entity) -> int | None:
    """The platform's ``fipslevel`` when it has a meaning: only beside ``fipsboot`` TRUE (draft 5.1.4: it has none
    when fipsboot is absent or false, so both are alike and the level is not reported)."""
    if _typed(platform, "fipsboot", asn1.read_boolean) is not True:
        return None
    return _typed(platform, "fipslevel", asn1.read_integer)


def _check_fips(platform: Entity, where: str) -> None:
    level = fips_level(platform)
    if level is None:
        return
    if level not in FIPS_LEVELS:
        raise Rejected(Reason.MALFORMED, f"{where}: fipslevel {level} is not a FIPS 140 level (1-4)")
    version = _typed(platform, "fipsver", asn1.read_utf8)
    stated = _FIPS_VERSION_LEVEL.search(version or "")
    if stated and int(stated.group(1)) != level:
        raise Rejected(Reason.ATTR_CONFLICT, f"{where}: fipslevel {level} but fipsver says {version!r}")


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _signers(block: SignatureBlock, pool: Sequence[x509.Certificate], index: int) -> list[x509.Certificate]:
    """The certificates that may be the signer of ``block``, the one key every alternative of its SignerIdentifier
    names (draft section 6): its ``certificate`` alone; else each distinct certificate of ``pool`` whose SKI is
    ``keyId`` (none: CHAIN_INCOMPLETE, the key cannot be obtained) and, named beside it or alone, whose key is the
    ``subjectPublicKeyInfo`` the signature must verify with (none: CHAIN_INCOMPLETE), ordered by DER, never by
    their place in the bundle (copies count once). Alternatives naming different keys are SIGNATURE_INVALID: one
    signature cannot verify with each of them. An alternative that does not parse is MALFORMED."""
    cert = None
    if block.certificate is not None:
        try:
            cert = fully_parsed(certificate_from_der(block.certificate))
        except CERT_PARSE_ERRORS:
            raise Rejected(Reason.MALFORMED, f"signature {index}: the signer certificate does not parse") from None
    if cert is not None and block.spki is None and block.key_id is None:
        return [cert]  # the one alternative (encoding its key only to compare it would cost a tenth of a verify)
    key = spki_der(cert.public_key()) if cert is not None else None
    if block.spki is not None:
        try:
            named = spki_der(load_der_public_key(block.spki))
        except (ValueError, UnsupportedAlgorithm):
            raise Rejected(Reason.MALFORMED,
                           f"signature {index}: the signer subjectPublicKeyInfo is not a public key") from None
        if key is not None and named != key:
            raise Rejected(Reason.SIGNATURE_INVALID,
                           f"signature {index}: the signer subjectPublicKeyInfo is not its certificate's key")
        key = named
    if block.key_id is not None:
        found = [c for c in (*((cert,) if cert is not None else ()), *pool) if _subject_key_id(c) == block.key_id]
        if not found:
            raise Rejected(Reason.CHAIN_INCOMPLETE,
                           f"signature {index}: signer keyId present but no matching certificate found")
        same = [c for c in found if key is None or spki_der(c.public_key()) == key]
        if not same:
            raise Rejected(Reason.SIGNATURE_INVALID,
                           f"signature {index}: the signer keyId names another key than its "
                           f"{'certificate' if cert is not None else 'subjectPublicKeyInfo'}")
        return [cert] if cert is not None else _distinct(same)
    if cert is not None:
        return [cert]
    assert key is not None  # the decoder refuses a SignerIdentifier naming nothing
    same = [candidate for candidate in pool if spki_der(candidate.public_key()) == key]
    if not same:
        raise Rejected(Reason.CHAIN_INCOMPLETE,
                       f"signature {index}: signer subjectPublicKeyInfo present but no matching certificate found")
    return _distinct(same)


def _distinct(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """``certs`` without copies (a Certificate compares by its DER), ordered by DER."""
    unique = list(dict.fromkeys(certs))
    return unique if len(unique) == 1 else sorted(unique, key=lambda c: c.public_bytes(Encoding.DER))


def _signer(block: SignatureBlock, candidates: list[x509.Certificate], tbs: bytes, index: int) -> x509.Certificate:
    """The one certificate of ``candidates`` (:func:`_signers`) whose key verifies ``block``'s signature over
    ``tbs``, whatever their order: UNSUPPORTED when the algorithm fits none of their keys, SIGNATURE_INVALID when
    it verifies with none, MALFORMED when two different certificates' keys verify (which one signs, and so which
    chain vouches for the Evidence, is ambiguous: a re-certified key, say)."""
    outcomes = [verify(cert.public_key(), block.algorithm, block.value, tbs) for cert in candidates]
    verified = [cert for cert, ok in zip(candidates, outcomes, strict=True) if ok]
    if len(verified) > 1:
        first, second = (subject_text(cert) or "<empty subject>" for cert in verified[:2])
        raise Rejected(Reason.MALFORMED, f"signature {index}: two different certificates the SignerIdentifier names, "
                                         f"{first[:80]!r} and {second[:80]!r}, verify it: which one signs is "
                                         "ambiguous")
    if verified:
        return verified[0]
    if all(ok is None for ok in outcomes):
        raise Rejected(Reason.UNSUPPORTED, f"signature {index}: algorithm not supported for the signer's key")
    raise Rejected(Reason.SIGNATURE_INVALID, f"signature {index} does not verify with the signer's key")


def check_signatures(ev: asn1.PkixEvidence, certs: Sequence[x509.Certificate], trust: TrustAnchors,
                     at: datetime) -> list[bytes]:
    """Every SignatureBlock verifies over the TbsEvidence DER and its signer chains to an anchor; the
    signer certificate has keyUsage digitalSignature and EKU id-kp-attestationKey. Returns the signers' SPKIs."""
    if not ev.signatures:
        raise Rejected(Reason.MISSING_INPUT, "no SignatureBlock: unsigned Evidence proves nothing")
    try:
        intermediates = [fully_parsed(certificate_from_der(c)) for c in ev.intermediates or ()]
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, "an intermediate certificate does not parse") from None
    pool = [*intermediates, *certs]
    signers = []
    for index, block in enumerate(ev.signatures):
        candidates = _signers(block, pool, index)
        try:
            check_parameters(block.algorithm)
        except ValueError as exc:
            raise Rejected(Reason.MALFORMED, f"signature {index}: {exc}") from None
        cert = _signer(block, candidates, ev.tbs, index)
        public_key = cert.public_key()
        # The AK is the device's attestation key (or a user's attesting key): its certificate recurs in every
        # Evidence it signs, so its path is remembered by its bytes; the Evidence's signature is checked above.
        validate_chain(cert, [c for c in pool if c != cert], trust.get("root") or trust.all(), at,
                       recurring_leaf=True)
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.digital_signature:
                raise Rejected(Reason.CERT_KEY_USAGE,
                               f"signature {index}: AK certificate keyUsage lacks digitalSignature")
        except x509.ExtensionNotFound:
            raise Rejected(Reason.CERT_KEY_USAGE, f"signature {index}: AK certificate has no keyUsage") from None
        try:
            ekus = {e.dotted_string for e in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
        except x509.ExtensionNotFound:
            ekus = set()
        if asn1.ID_KP_ATTESTATION_KEY not in ekus:
            raise Rejected(Reason.CERT_EKU, f"signature {index}: AK certificate lacks EKU id-kp-attestationKey")
        signers.append(spki_der(public_key))
    return signers


def _transaction(ev: asn1.PkixEvidence) -> Entity | None:
    return next((e for e in ev.entities if e.type == ELEMENT_TRANSACTION), None)


def check_transaction(ev: asn1.PkixEvidence, signers: Sequence[bytes], nonce: bytes | None) -> None:
    """Each ak-spki names a verified signer; the nonce is the relying party's when it gave one."""
    transaction = _transaction(ev)
    if transaction is None:
        if nonce is not None:
            raise Rejected(Reason.ATTR_MISSING, "a nonce was expected but the Evidence has no transaction entity")
        return
    for value in transaction.values("ak-spki"):
        assert value is not None
        if asn1.read_value(value, asn1.OCTETS) not in signers:
            raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "an ak-spki claim names no key that signed the Evidence")
    if nonce is None:
        return
    claimed = _typed(transaction, "nonce", lambda v: asn1.read_value(v, asn1.OCTETS))
    if claimed is None:
        raise Rejected(Reason.ATTR_MISSING, "a nonce was expected but the transaction has none")
    if claimed != nonce:
        raise Rejected(Reason.CHALLENGE_MISMATCH,
                       f"transaction nonce {claimed.hex()} is not the expected {nonce.hex()}")


def _key_spki(entity: Entity) -> bytes | None:
    return _typed(entity, "spki", lambda v: asn1.read_value(v, asn1.OCTETS))


def attested_keys(ev: asn1.PkixEvidence, csr_spki: bytes | None) -> list[Entity]:
    """The key entities the verdict is about: the one carrying the CSR's key, else every key entity."""
    keys = [e for e in ev.entities if e.type == ELEMENT_KEY]
    if not keys:
        raise Rejected(Reason.ATTR_MISSING, "the Evidence reports no key entity")
    if csr_spki is None:
        return keys
    bound = [e for e in keys if _key_spki(e) == csr_spki]
    if not bound:
        raise Rejected(Reason.KEY_MISMATCH, "no key entity carries the CSR's public key")
    return bound


def check_key(entity: Entity, profile: Profile, at: datetime) -> None:
    """The key policy: not extractable, never extractable, generated on the device; sensitive (strict); not
    expired at ``at`` (an ``expiry`` claim, the time after which the key is not to be used, before it: CERT_EXPIRED,
    the reason of an expired certificate, whose key is as retired)."""
    ident = _typed(entity, "identifier", asn1.read_utf8)
    for name, wanted, reason in (("extractable", False, Reason.ATTR_EXTRACTABLE),
                                 ("never-extractable", True, Reason.ATTR_NOT_NEVER_EXTRACTABLE),
                                 ("local", True, Reason.ATTR_NOT_LOCAL),
                                 ("sensitive", True, Reason.ATTR_NOT_SENSITIVE)):
        value = _typed(entity, name, asn1.read_boolean)
        if value is None:
            if name != "sensitive" or profile is Profile.STRICT:
                raise Rejected(Reason.ATTR_MISSING, f"key {ident!r}: no {name} claim")
        elif value != wanted and (name != "sensitive" or profile is Profile.STRICT):
            raise Rejected(reason, f"key {ident!r}: {name} is {str(value).lower()}")
    expiry = _typed(entity, "expiry", asn1.read_time)
    if expiry is not None and at > expiry:
        raise Rejected(Reason.CERT_EXPIRED, f"key {ident!r}: expired {expiry:%Y-%m-%dT%H:%M:%SZ} (its expiry claim)")


def key_kind(key: Entity) -> tuple[str, int | None]:
    """``(key_type, size)`` of a key entity's ``spki`` as :func:`describe_key` names them, ``("secret", None)``
    without one; MALFORMED when it is not such a key."""
    spki = _key_spki(key)
    try:
        return describe_key(spki) if spki is not None else ("secret", None)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Rejected(Reason.MALFORMED, f"key spki: {exc}") from None


def claims_of(ev: asn1.PkixEvidence, key: Entity) -> Claims:
    """The normalised claims of one key entity and the platform entity."""
    spki = _key_spki(key)
    key_type, size = key_kind(key)
    platform = next((e for e in ev.entities if e.type == ELEMENT_PLATFORM), Entity(ELEMENT_PLATFORM, ()))
    model = _typed(platform, "hwmodel", lambda v: asn1.read_value(v, asn1.OCTETS))
    level = fips_level(platform)
    return Claims(
        spki_der=spki, key_type=key_type, key_size=size,
        generated_on_device=_typed(key, "local", asn1.read_boolean),
        extractable=_typed(key, "extractable", asn1.read_boolean),
        never_extractable=_typed(key, "never-extractable", asn1.read_boolean),
        sensitive=_typed(key, "sensitive", asn1.read_boolean), always_sensitive=None,
        vendor=_typed(platform, "vendor", asn1.read_utf8) or "",
        model=model.decode("utf-8", "replace") if model is not None else None,
        serial=_typed(platform, "hwserial", asn1.read_utf8),
        firmware=_typed(platform, "swversion", asn1.read_utf8),
        fips_level=str(level) if level is not None else None,
        label=_typed(key, "identifier", asn1.read_utf8),
    )


def check(inputs: Inputs, trust: TrustAnchors, at: datetime, profile: Profile) -> Claims:
    """Every check of the profile, in the reference CLI's order (validate, then verify); raises Rejected."""
    try:
        ev = asn1.decode_evidence(inputs.der)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(Reason.MALFORMED, f"Evidence does not parse: {exc}") from None
    validate_structure(ev, profile)
    signers = check_signatures(ev, inputs.certs, trust, at)
    check_transaction(ev, signers, inputs.nonce)
    keys = attested_keys(ev, check_csr_signature(inputs.csr) if inputs.csr is not None else inputs.csr_spki)
    for key in keys:
        check_key(key, profile, at)
    claims = claims_of(ev, keys[0])
    if profile is Profile.STRICT:
        require_code_signing_key(claims.key_type, claims.key_size)
        for key in keys[1:]:  # every attested key, not only the one the claims describe
            require_code_signing_key(*key_kind(key))
    return claims


def verify_evidence(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None, profile: Profile) -> Verdict:
    """The reference verifier of ``pkix-evidence``; never raises on bad evidence."""
    try:
        inputs = read_inputs(evidence.files, evidence.primary)
        claims = check(inputs, trust, at or datetime.now(UTC), profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
    return Verdict(Reason.OK, claims=claims)
