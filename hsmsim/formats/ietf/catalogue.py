"""The ``pkix-evidence`` and ``csr-attestation`` vector sets: goldens and one-defect mutations.

The world (:class:`IetfKit`) is derived from the seed: a soft key store with one key per golden spec
and another key for "statement about another key" defects, an emulated device per wrapped format,
the PKIX Evidence AK and a foreign key. A PKIX Evidence defect edits an :class:`EvidenceBench`
(entities, signers, files) which is then rendered: ``Resigned`` when the genuine AK signs the edited
TbsEvidence, ``Stale`` when the golden TbsEvidence is signed as it was, by the genuine AK, by another key, or
by none. A CSR defect edits a :class:`CsrBench` (the
:class:`~hsmsim.formats.ietf.csr.CsrDraft`); the CSR itself is always re-signed by its key (its own
signature is a separate defect), ``Resigned``/``Stale`` then say whether the statement's attestation
key signed the defect.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ObjectIdentifier

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH, AttestationRequest, Device
from hsmsim.encoding import (
    cert_pem,
    der_children,
    der_content,
    der_oid,
    der_sequence,
    der_tlv,
    indented_json,
    pem,
    read_tlv,
    spki_der,
    spki_pem,
)
from hsmsim.formats import get_format
from hsmsim.formats.ietf import asn1, csr, evidence, layout, tcg
from hsmsim.formats.ietf.asn1 import ELEMENT_KEY, ELEMENT_PLATFORM, ELEMENT_TRANSACTION, Claim, Entity, Statement
from hsmsim.formats.ietf.pki import evidence_identity, tpm_identity
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import Ext, key_usage, reissue
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key
from hsmsim.pki.signing import ECDSA_SHA512, sign
from hsmsim.tpm.marshal import TpmaObject, TpmSt
from hsmsim.tpm.structures import CertifyInfo, TpmsAttest, TpmtPublic
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.container import (
    AttestationObject,
    AuthenticatorData,
    b64url,
    cbor_decode,
    cbor_encode,
    from_b64url,
    parse_cose_key,
)
from hsmsim.webauthn.cose import cose_sign

ES256 = -7
EVIDENCE_SPECS = ("ec-p256", "ec-p384", "rsa-3072", "rsa-2048", "ed25519", "aes-256")
CSR_GOLDENS = (
    ("pkix-evidence", "ec-p256", ("pkix-evidence",)),
    ("pkix-evidence", "rsa-3072", ("pkix-evidence",)),
    ("tcg-attest-certify", "ec-p256", ("tcg-attest-certify",)),
    ("tcg-attest-certify", "rsa-3072", ("tcg-attest-certify",)),
    ("primus", "rsa-3072", ("primus",)),
    ("luna-pkc", "rsa-3072", ("luna-pkc",)),
    ("marvell-azure", "ec-p256", ("marvell-azure",)),
    ("marvell-google", "ec-p256", ("marvell-google",)),
    ("fortanix", "rsa-3072", ("fortanix",)),
    ("webauthn", "ec-p256", ("webauthn",)),
    ("tpm-acme", "ec-p256", ("tpm-acme",)),
    ("primus", "ec-p256", ("primus", "pkix-evidence")),
)
"""``(device format, key spec, statements)`` of each CSR golden; the last one carries two statements about a key of
one Primus HSM: its own and PKIX Evidence from the same device (statements about one key apply to one platform)."""
CRMF_GOLDENS = (
    ("pkix-evidence", "ec-p256", ("pkix-evidence",)),
    ("tcg-attest-certify", "rsa-3072", ("tcg-attest-certify",)),
    ("primus", "rsa-3072", ("primus", "pkix-evidence")),
)
"""The same, carried by a CRMF CertReqMsg (the bundle as the CertTemplate extension)."""
ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
VALIDATION_TIME = ATTEST_TIME + timedelta(days=1)
"""A day after attesting: Fortanix's authority certificates live only a few weeks."""
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
EVIDENCE_DRAFT = "draft-ietf-rats-pkix-key-attestation-08"
CSR_DRAFT = "draft-ietf-lamps-csr-attestation-29"
GO_CLI = "ietf-rats-wg/key-attestation pkix-evidence validate/verify"


# -- the seeded world ---------------------------------------------------------------------------

@dataclass(frozen=True)
class IetfKit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    device: Device
    identity: AttestationIdentity
    store: SoftKeyStore
    keys: dict[str, StoredKey]
    other: dict[str, StoredKey]
    foreign: PrivateKey
    evidence_goldens: dict[str, EvidenceGolden] = field(default_factory=dict, compare=False, repr=False)
    """Each spec's golden Evidence parts, made on first use: every defect of a golden starts from them."""

    @classmethod
    def build(cls, seed: str) -> IetfKit:
        """Seed -> Faker names, the emulated HSM, its PKIX Evidence AK and the keys."""
        fake = seeded_faker(seed, ["en_US"], "ietf")
        device = Device(format="pkix-evidence", serial=fake.numerify("31######"), seed=seed,
                        model="hsmsim-9000", firmware=f"7.{fake.random_int(0, 9)}.{fake.random_int(0, 20)}",
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        store = SoftKeyStore(seed=seed)
        keys, other = {}, {}
        for index, spec in enumerate(sorted({*EVIDENCE_SPECS, *(g[1] for g in CSR_GOLDENS)})):
            created = KEYS_CREATED + timedelta(hours=index)
            keys[spec] = store.generate(KeySpec.parse(spec), f"{fake.word()}-{spec}", created=created)
            other[spec] = store.generate(KeySpec.parse(spec), f"other-{fake.word()}-{spec}", created=created)
        identity = evidence_identity(seed, device.serial, "default", created=device.attestation_created)
        foreign = derive_key(seed, "ietf/foreign/ak", KeySpec.parse("ec-p256"))
        return cls(seed, device, identity, store, keys, other, foreign)

    def request(self, key: StoredKey, device_format: str = "pkix-evidence") -> AttestationRequest:
        """The attestation request for ``key`` on the kit's device (speaking ``device_format``)."""
        device = replace(self.device, format=device_format)
        signer = self.store.signer(key) if key.public_key is not None else None
        return AttestationRequest(device=device, partition="default", key=key, key_signer=signer,
                                  attesting=self.identity, at=ATTEST_TIME)

    @functools.cached_property
    def identity_ders(self) -> tuple[bytes, ...]:
        """DER of the AK certificate and of the chain above it: every Evidence carries them (cryptography encodes
        a certificate anew at each call)."""
        return evidence.signer_ders(self.identity)

    @functools.cached_property
    def root_pem(self) -> bytes:
        """The PEM of the emulated root every Evidence comes with."""
        return cert_pem(self.identity.root)

    def evidence_golden(self, spec: str) -> EvidenceGolden:
        """The parts of the golden Evidence of ``spec`` (what ``pkix-evidence`` generates for the key)."""
        golden = self.evidence_goldens.get(spec)
        if golden is None:
            request = self.request(self.keys[spec])
            nonce = evidence.request_nonce(request)
            entities = evidence.golden_entities(request, VENDOR, nonce)
            ders = tuple(asn1.encode_entity(e) for e in entities)
            tbs = asn1.tbs_of(1, ders)
            golden = self.evidence_goldens[spec] = EvidenceGolden(entities, ders, nonce, tbs,
                                                                  sign(self.identity.key, tbs))
        return golden


@functools.lru_cache(maxsize=4)
def seeded_kit(seed: str) -> IetfKit:
    """:meth:`IetfKit.build` of ``seed``, once per process: both vector sets draw from the same world, and nothing
    changes a kit (its caches fill only with values it derives)."""
    return IetfKit.build(seed)


# -- PKIX Evidence ------------------------------------------------------------------------------

VENDOR = "hsmsim Emulated HSM"


@dataclass(frozen=True)
class EvidenceGolden:
    """A golden PKIX Evidence's signed content: its entities and their DER, the nonce they carry, the
    TbsEvidence DER and the AK's signature over it (``(AlgorithmIdentifier DER, value)``)."""

    entities: tuple[Entity, ...]
    entity_ders: tuple[bytes, ...]
    nonce: bytes
    tbs: bytes
    signature: tuple[bytes, bytes]


@dataclass
class EvidenceBench:
    """A golden PKIX Evidence opened up: version, entities, signers and the files beside it."""

    kit: IetfKit
    key: StoredKey
    version: int
    entities: list[Entity]
    signers: list[AttestationIdentity]
    nonce: bytes
    golden: EvidenceGolden
    sid: str = "certificate"
    sid_extra: dict[str, bytes] = field(default_factory=dict)
    """Alternatives the SignerIdentifier carries besides ``sid``, as written: ``keyId`` (the SKI) or ``spki``."""
    signing_key: PrivateKey | None = None
    algorithm: bytes | None = None
    """The AlgorithmIdentifier DER every SignatureBlock names instead of the signer's (the value stays its own)."""
    scheme: Callable[[PrivateKey, bytes], tuple[bytes, bytes]] | None = None
    """How a signer signs (``(AlgorithmIdentifier DER, value)``) instead of :func:`~hsmsim.pki.signing.sign`."""
    intermediates: list[x509.Certificate] | None = None
    explicit_intermediates: bool = False
    extra_files: dict[str, bytes] = field(default_factory=dict)
    post: Callable[[bytes], bytes] | None = None
    tbs_post: Callable[[bytes], bytes] | None = None
    """Rewrites the TbsEvidence DER before it is signed (a re-signed defect of its encoding)."""
    forged: bool = False
    """Another key than the genuine AK signs the edited TbsEvidence, whose ak-spki names it (Stale all the same)."""

    @classmethod
    def open(cls, kit: IetfKit, spec: str) -> EvidenceBench:
        """The golden Evidence of ``spec`` as a bench (what ``pkix-evidence`` generates for the key)."""
        golden = kit.evidence_golden(spec)
        return cls(kit, kit.keys[spec], 1, list(golden.entities), [kit.identity], golden.nonce, golden)

    def entity(self, element: str, occurrence: int = 0) -> int:
        """The index of the ``occurrence``-th entity of ``element``."""
        return [i for i, e in enumerate(self.entities) if e.type == element][occurrence]

    def edit(self, element: str, fn: Callable[[list[Claim]], list[Claim]]) -> None:
        """Replace the claims of the first ``element`` entity by ``fn(claims)``."""
        index = self.entity(element)
        self.entities[index] = Entity(element, tuple(fn(list(self.entities[index].claims))))

    def tbs(self) -> bytes:
        """The TbsEvidence DER of the bench's version and entities (:func:`asn1.encode_tbs`)."""
        golden = self.golden
        # A defect edits one entity of the golden's, or none: those it leaves in place keep their encoding.
        ders = [golden.entity_ders[i] if i < len(golden.entities) and entity is golden.entities[i]
                else asn1.encode_entity(entity) for i, entity in enumerate(self.entities)]
        return asn1.tbs_of(self.version, ders)

    def sign(self, key: PrivateKey, tbs: bytes) -> tuple[bytes, bytes]:
        """:func:`~hsmsim.pki.signing.sign`; the AK's signature over the golden TbsEvidence is the golden's
        (signing is deterministic), which a dozen defects outside the TbsEvidence carry."""
        if self.scheme is not None:
            return self.scheme(key, tbs)
        if key is self.kit.identity.key and tbs == self.golden.tbs:
            return self.golden.signature
        return sign(key, tbs)

    def render(self, resign: bool) -> Evidence:
        """The evidence files; the signatures cover the edited TbsEvidence when ``resign``, the golden one otherwise."""
        tbs = self.tbs() if self.tbs_post is None else self.tbs_post(self.tbs())
        signed = tbs if resign or self.forged else self.golden.tbs
        blocks: list[asn1.SignatureBlock] = []
        chain: list[bytes] = []
        for identity in self.signers:
            algorithm, value = self.sign(self.signing_key or identity.key, signed)
            cert = identity.certificate
            ders = self.kit.identity_ders if identity is self.kit.identity else evidence.signer_ders(identity)
            blocks.append(asn1.SignatureBlock(
                self.algorithm or algorithm, value,
                key_id=self.sid_extra.get("keyId", cert.extensions.get_extension_for_class(
                    x509.SubjectKeyIdentifier).value.digest if self.sid == "keyId" else None),
                spki=self.sid_extra.get("spki", spki_der((self.signing_key or identity.key).public_key())
                                        if self.sid == "spki" else None),
                certificate=ders[0] if self.sid == "certificate" else None))
            chain += ders[1:]
        if self.intermediates is not None:
            chain = [c.public_bytes(Encoding.DER) for c in self.intermediates]
        der = asn1.encode_evidence(tbs, blocks, chain or None, explicit_intermediates=self.explicit_intermediates)
        if self.post is not None:
            der = self.post(der)
        files = evidence.evidence_files(self.key.label, der, self.nonce, self.kit.root_pem)
        files.update(self.extra_files)
        return Evidence(layout.PKIX_EVIDENCE, files, f"{self.key.label}{layout.EVIDENCE_SUFFIX}")


EvidenceOp = Callable[[EvidenceBench], None]


def _claim(element: str, name: str, value: bytes | None) -> Claim:
    return evidence.claim(element, name, value)


def _set_claim(element: str, name: str, value: bytes | None) -> EvidenceOp:
    oid = asn1.claim_oid(element, name)

    def apply(bench: EvidenceBench) -> None:
        bench.edit(element, lambda claims: [Claim(oid, value) if c.type == oid else c for c in claims])
    return apply


def _drop_claim(element: str, name: str) -> EvidenceOp:
    oid = asn1.claim_oid(element, name)

    def apply(bench: EvidenceBench) -> None:
        bench.edit(element, lambda claims: [c for c in claims if c.type != oid])
    return apply


def _add_claim(element: str, claim: Claim) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.edit(element, lambda claims: [*claims, claim])
    return apply


def _duplicate_claim(element: str, name: str) -> EvidenceOp:
    oid = asn1.claim_oid(element, name)

    def apply(bench: EvidenceBench) -> None:
        bench.edit(element, lambda claims: [*claims, next(c for c in claims if c.type == oid)])
    return apply


def _duplicate_entity(element: str) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.entities.append(bench.entities[bench.entity(element)])
    return apply


def _second_key(same_identifier: bool) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        other = evidence.key_entity(bench.kit.other[bench.key.spec.name])
        if same_identifier:
            ident = asn1.claim_oid(ELEMENT_KEY, "identifier")
            other = Entity(ELEMENT_KEY, tuple(Claim(ident, asn1.utf8(bench.key.label)) if c.type == ident else c
                                              for c in other.claims))
        bench.entities.append(other)
    return apply


def _weak_second_key(bench: EvidenceBench) -> None:
    bench.entities.append(evidence.key_entity(bench.kit.other["rsa-2048"]))


def _set_version(version: int) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.version = version
    return apply


def _no_signatures(bench: EvidenceBench) -> None:
    bench.signers = []


def _names_signer(bench: EvidenceBench, public_key: PublicKey) -> None:
    """The transaction's ak-spki names ``public_key``, which signs: a forger's report names its own key (else the
    claim naming a key that did not sign would be a second defect)."""
    _set_claim(ELEMENT_TRANSACTION, "ak-spki", asn1.octets(spki_der(public_key)))(bench)
    bench.forged = True


def _foreign_signer(sid: str) -> EvidenceOp:
    """A foreign key signs; named by the genuine AK certificate it poses as, or by its own SPKI (then ak-spki names
    it too)."""
    def apply(bench: EvidenceBench) -> None:
        bench.signing_key, bench.sid = bench.kit.foreign, sid
        if sid == "spki":
            _names_signer(bench, bench.kit.foreign.public_key())
    return apply


def _sid(sid: str, with_intermediates: bool = True) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.sid = sid
        if with_intermediates:
            bench.intermediates = [*bench.kit.identity.chain[1:], bench.kit.identity.certificate]
    return apply


def _sid_extra(name: str, value: Callable[[IetfKit], bytes]) -> EvidenceOp:
    """The SignerIdentifier also carries the alternative ``name`` with ``value`` (of the kit)."""
    def apply(bench: EvidenceBench) -> None:
        bench.sid_extra[name] = value(bench.kit)
    return apply


def _ecdsa_sha512(key: PrivateKey, tbs: bytes) -> tuple[bytes, bytes]:
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return der_sequence(der_oid(ECDSA_SHA512)), key.sign(tbs, ec.ECDSA(hashes.SHA512(), deterministic_signing=True))


def _scheme(scheme: Callable[[PrivateKey, bytes], tuple[bytes, bytes]]) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.scheme = scheme
    return apply


def _algorithm(algorithm: bytes) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.algorithm = algorithm
    return apply


def _no_intermediates(bench: EvidenceBench) -> None:
    bench.intermediates = []


def _explicit(bench: EvidenceBench) -> None:
    bench.explicit_intermediates = True


def _reissue_ak(**changes: object) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        identity = bench.kit.identity
        int_key = derive_key(bench.kit.seed, "ietf/evidence/int", KeySpec.parse("ec-p256"))
        bench.signers = [replace(identity, certificate=reissue(identity.certificate, int_key, **changes))]
    return apply


def _ak_extensions(bench: EvidenceBench, *, eku: bool = True, usage: tuple[str, ...] = ("digital_signature",)
                   ) -> tuple[Ext, ...]:
    exts = []
    for ext in bench.kit.identity.certificate.extensions:
        if isinstance(ext.value, x509.ExtendedKeyUsage) and not eku:
            continue
        value = key_usage(*usage) if isinstance(ext.value, x509.KeyUsage) else ext.value
        exts.append(Ext(value, ext.critical))
    return tuple(exts)


def _ak_without_eku(bench: EvidenceBench) -> None:
    _reissue_ak(extensions=_ak_extensions(bench, eku=False))(bench)


def _ak_wrong_eku(bench: EvidenceBench) -> None:
    exts = tuple(Ext(x509.ExtendedKeyUsage([ObjectIdentifier("1.3.6.1.5.5.7.3.3")]), e.critical)
                 if isinstance(e.value, x509.ExtendedKeyUsage) else e for e in _ak_extensions(bench))
    _reissue_ak(extensions=exts)(bench)


def _ak_cert_sign_only(bench: EvidenceBench) -> None:
    _reissue_ak(extensions=_ak_extensions(bench, usage=("key_cert_sign",)))(bench)


def _keyid_candidates(other: str) -> EvidenceOp:
    """sid = keyId, with a second certificate carrying the AK's key identifier listed before the AK's in
    intermediateCertificates: ``other-key`` a foreign key's (its key does not verify the signature), ``same-key`` a
    re-issue of the AK certificate (its key, another serial: both verify)."""
    def apply(bench: EvidenceBench) -> None:
        identity = bench.kit.identity
        int_key = derive_key(bench.kit.seed, "ietf/evidence/int", KeySpec.parse("ec-p256"))
        changes: dict[str, object] = {"serial": identity.certificate.serial_number + 1}
        if other == "other-key":
            changes["public_key"] = bench.kit.foreign.public_key()
        second = reissue(identity.certificate, int_key, **changes)
        bench.sid = "keyId"
        bench.intermediates = [*identity.chain[1:], second, identity.certificate]
    return apply


def _ak_expired(bench: EvidenceBench) -> None:
    _reissue_ak(not_after=VALIDATION_TIME - timedelta(days=30))(bench)


def _foreign_root(bench: EvidenceBench) -> None:
    identity = evidence_identity(f"{bench.kit.seed}/foreign-root", bench.kit.device.serial, "default",
                                 created=bench.kit.device.attestation_created)
    bench.signers = [identity]
    _names_signer(bench, identity.key.public_key())


def _nonce_file(value: bytes) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.nonce = value
    return apply


def _csr_of(which: str) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        key = bench.key if which == "own" else bench.kit.other[bench.key.spec.name]
        assert key.public_key is not None
        info = asn1.encode_request_info(x509.Name([]).public_bytes(), spki_der(key.public_key), [])
        algorithm, signature = sign(bench.kit.store.signer(key), info)
        bench.extra_files[f"{bench.key.label}.csr"] = pem(asn1.encode_request(info, algorithm, signature),
                                                          "CERTIFICATE REQUEST")
    return apply


def _two_csrs(bench: EvidenceBench) -> None:
    _csr_of("other")(bench)
    other = bench.extra_files.pop(f"{bench.key.label}.csr")
    _csr_of("own")(bench)
    bench.extra_files[f"{bench.key.label}-other.csr"] = other


def _post(fn: Callable[[bytes], bytes]) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.post = fn
    return apply


def _long_length(tlv: bytes) -> bytes:
    """The TLV with its length in the 4-octet long form (``84 00 00 xx xx``): BER, not DER (X.690 10.1)."""
    _tag, start, end = read_tlv(tlv)
    return tlv[:1] + b"\x84" + (end - start).to_bytes(4, "big") + tlv[start:end] + tlv[end:]


def _tbs_post(fn: Callable[[bytes], bytes]) -> EvidenceOp:
    def apply(bench: EvidenceBench) -> None:
        bench.tbs_post = fn
    return apply


def _note(bug: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug, severity, description, effect, refs or (EVIDENCE_DRAFT,))


def evidence_mutations() -> list[Mutation]:
    """Every PKIX Evidence defect, in catalogue order (made once per process: the vectors and their notes both
    read it; the mutations are shared, not to be edited)."""
    return list(_evidence_mutations())


@functools.cache
def _evidence_mutations() -> tuple[Mutation, ...]:
    m: list[Mutation] = []
    t, p, k = ELEMENT_TRANSACTION, ELEMENT_PLATFORM, ELEMENT_KEY
    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: EvidenceOp,
            expected: dict[Profile, Reason], *, resign: bool = True, golden: str = "ec-p256") -> None:
        m.append(Mutation(f"pkix-evidence::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          golden))

    forged = "a verifier would accept claims the attestation key never signed"
    validate = "the reference CLI's validate rejects it; a verifier that skips validate accepts a malformed report"
    policy = "a verifier would certify a key the HSM does not protect"
    # validate (the reference CLI's checks)
    add("validate::version-2", "EvidenceVersion", _note("STRUCTURE", high, "TbsEvidence version other than 1",
        validate, GO_CLI), "TbsEvidence.version = 2, re-signed", "tbs.version", "/tbs/version",
        _set_version(2), invalid(Reason.UNSUPPORTED))
    add("validate::version-0", "EvidenceVersion", _note("STRUCTURE", high, "TbsEvidence version other than 1",
        validate, GO_CLI), "TbsEvidence.version = 0, re-signed", "tbs.version", "/tbs/version",
        _set_version(0), invalid(Reason.UNSUPPORTED))
    add("validate::two-transactions", "RepeatedEntity", _note("STRUCTURE", high,
        "a second transaction or platform entity", validate, GO_CLI), "transaction entity twice",
        "entities.duplicate", "/tbs/reportedEntities/transaction", _duplicate_entity(t), invalid(Reason.ATTR_CONFLICT))
    add("validate::two-platforms", "RepeatedEntity", _note("STRUCTURE", high,
        "a second transaction or platform entity", validate, GO_CLI), "platform entity twice",
        "entities.duplicate", "/tbs/reportedEntities/platform", _duplicate_entity(p), invalid(Reason.ATTR_CONFLICT))
    dup = _note("STRUCTURE", high, "a non-repeatable claim appears twice in one entity", validate, GO_CLI)
    add("validate::duplicate-vendor", "DuplicateClaim", dup, "platform vendor claim twice", "claims.duplicate",
        "/platform/vendor", _duplicate_claim(p, "vendor"), invalid(Reason.ATTR_CONFLICT))
    add("validate::duplicate-nonce", "DuplicateClaim", dup, "transaction nonce claim twice", "claims.duplicate",
        "/transaction/nonce", _duplicate_claim(t, "nonce"), invalid(Reason.ATTR_CONFLICT))
    add("validate::duplicate-extractable", "DuplicateClaim", dup, "key extractable claim twice",
        "claims.duplicate", "/key/extractable", _duplicate_claim(k, "extractable"), invalid(Reason.ATTR_CONFLICT))
    add("validate::key-identifier-missing", "KeyIdentifierMissing", _note("STRUCTURE", high,
        "a key entity without its required identifier", validate, GO_CLI), "identifier claim removed",
        "claims.remove", "/key/identifier", _drop_claim(k, "identifier"), invalid(Reason.ATTR_MISSING))
    add("validate::duplicate-key-identifier", "DuplicateKeyIdentifier", _note("STRUCTURE", high,
        "two key entities share an identifier", "a relying party cannot tell which key a claim is about", GO_CLI),
        "a second key entity (another key) with the first key's identifier", "entities.add", "/key[1]/identifier",
        _second_key(same_identifier=True), invalid(Reason.ATTR_CONFLICT))
    add("validate::duplicate-ak-spki", "DuplicateAkSpki", _note("STRUCTURE", med, "the same ak-spki twice",
        validate, GO_CLI), "ak-spki claim repeated with the same value", "claims.duplicate",
        "/transaction/ak-spki", _duplicate_claim(t, "ak-spki"), invalid(Reason.ATTR_CONFLICT))
    fips = _note("STRUCTURE", med, "a FIPS level that is not a well-formed level or disagrees with the platform",
                 "a relying party trusts a FIPS level the module does not have")
    add("validate::fips-level-5", "FipsLevel", fips, "fipslevel = 5 (levels are 1-4)", "claims.set",
        "/platform/fipslevel", _set_claim(p, "fipslevel", asn1.integer(5)), invalid(Reason.MALFORMED))
    add("validate::fips-level-lower-than-platform", "FipsLevel", fips,
        "fipslevel = 2 while fipsver says FIPS 140-3 Level 3", "claims.set", "/platform/fipslevel",
        _set_claim(p, "fipslevel", asn1.integer(2)), invalid(Reason.ATTR_CONFLICT))
    add("validate::fips-level-not-integer", "FipsLevel", fips, "fipslevel as UTF8String \"3\"", "claims.set",
        "/platform/fipslevel", _set_claim(p, "fipslevel", asn1.utf8("3")), invalid(Reason.MALFORMED))
    # Draft 5.1.4: "fipslevel has no meaning if fipsboot is absent or false": no conflict, nothing to report.
    meaningless = _note("BASIC", Severity.INFO, "a fipslevel beside fipsboot FALSE or without fipsboot",
                        "the level has no meaning (draft 5.1.4): a verifier that rejects it reads a conflict the draft "
                        "does not define; one that reports the level (hsmsim reports none) tells the relying party "
                        "the module runs at a FIPS level it does not claim", f"{EVIDENCE_DRAFT} section 5.1.4")
    add("validate::fips-level-without-fips-boot", "FipsLevelWithoutBoot", meaningless, "fipsboot false with a "
        "fipslevel", "claims.set", "/platform/fipsboot", _set_claim(p, "fipsboot", asn1.boolean(False)), valid())
    add("validate::fips-level-fips-boot-absent", "FipsLevelWithoutBoot", meaningless, "fipsboot claim removed, "
        "fipslevel kept", "claims.remove", "/platform/fipsboot", _drop_claim(p, "fipsboot"), valid())
    value_note = _note("STRUCTURE", med, "a known claim with no or a mistyped value",
                       "a verifier reads a default where the HSM said nothing")
    add("validate::claim-without-value", "ClaimValue", value_note, "platform vendor claim without its value",
        "claims.set", "/platform/vendor", _set_claim(p, "vendor", None), invalid(Reason.MALFORMED))
    # TRUE written 01: BER reads TRUE still (any non-zero octet), only DER (X.690 11.1: FF) is broken.
    add("validate::boolean-not-der", "ClaimValue", value_note, "never-extractable TRUE encoded 01 01 01 (BER, "
        "not DER's FF)", "claims.set", "/key/never-extractable",
        _set_claim(k, "never-extractable", der_tlv(0x01, b"\x01")), invalid(Reason.MALFORMED))
    add("validate::empty-reported-entities", "Structure", _note("STRUCTURE", med, "Evidence that breaks the module",
        "a lenient parser reports nothing and a verifier accepts nothing as something"),
        "reportedElements SIZE 0, re-signed", "entities.remove", "/tbs/reportedEntities",
        lambda b: b.entities.clear(), invalid(Reason.MALFORMED))
    add("validate::trailing-bytes", "Structure", _note("STRUCTURE", med, "Evidence that breaks the module",
        "a lenient parser reports nothing and a verifier accepts nothing as something"),
        "two bytes after the Evidence SEQUENCE", "bytes.extend", "/", _post(lambda d: mutate.extend(d, b"\x00\x00")),
        invalid(Reason.MALFORMED), resign=False)
    ber = _note("STRUCTURE", med, "a length in BER's long form where DER's short form is required",
                "a verifier that reads BER accepts Evidence the draft requires in DER (section 5.5), and a signature "
                "over a TbsEvidence that is not the DER encoding (section 6: the signature is over the DER)",
                f"{EVIDENCE_DRAFT} sections 5.5 and 6", "X.690 10.1")
    add("encoding::ber-length-evidence", "NonDerLength", ber, "the Evidence SEQUENCE's length written 84 00 00 xx "
        "xx", "der.length", "/", _post(_long_length), invalid(Reason.MALFORMED))
    add("encoding::ber-length-tbs", "NonDerLength", ber, "the TbsEvidence's length written 84 00 00 xx xx, signed "
        "so by the genuine AK", "der.length", "/tbs", _tbs_post(_long_length), invalid(Reason.MALFORMED))
    add("encoding::ber-length-unknown-claim", "NonDerLength", ber, "an unknown key claim 1.3.6.1.5.5.999.1.2.99 "
        "whose UTF8String value has a 4-octet long-form length, signed so by the genuine AK", "der.length",
        "/key", _add_claim(k, Claim(f"{layout.ID_EVIDENCE}.1.2.99", _long_length(asn1.utf8("x")))),
        invalid(Reason.MALFORMED))
    typed = _note("STRUCTURE", med, "a known claim whose value has its type's tag but is no DER value of that type",
                  "a verifier that checks the tag only accepts a timestamp that names no time, key purposes that are "
                  "no OIDs, an INTEGER that is not DER", f"{EVIDENCE_DRAFT} ASN.1 module (each CLAIM's TYPE), "
                  "section 5.5 (DER)", "X.690 8.3.2, 11.7")
    add("validate::timestamp-not-a-time", "ClaimType", typed, "transaction timestamp = GeneralizedTime 'hello'",
        "claims.set", "/transaction/timestamp", _set_claim(t, "timestamp", der_tlv(asn1.TIME, b"hello")),
        invalid(Reason.MALFORMED))
    add("validate::timestamp-without-z", "ClaimType", typed, "transaction timestamp = GeneralizedTime "
        "'20251103142207' (local time: DER ends in Z)", "claims.set", "/transaction/timestamp",
        _set_claim(t, "timestamp", der_tlv(asn1.TIME, b"20251103142207")), invalid(Reason.MALFORMED))
    add("validate::purpose-not-oids", "ClaimType", typed, "key purpose = SEQUENCE { INTEGER 5 } (KeyPurposes is a "
        "SEQUENCE OF OBJECT IDENTIFIER)", "claims.set", "/key/purpose",
        _set_claim(k, "purpose", der_sequence(asn1.integer(5))), invalid(Reason.MALFORMED))
    add("validate::uptime-not-minimal", "ClaimType", typed, "a platform uptime claim INTEGER 00 05 (not minimal) "
        "added", "claims.add", "/platform/uptime",
        _add_claim(p, _claim(p, "uptime", der_tlv(asn1.INTEGER, b"\x00\x05"))), invalid(Reason.MALFORMED))
    unknown = _note("EXTENSIBILITY", low, "an unknown claim or entity type",
                    "the draft says to ignore it; the strict profile refuses what it cannot judge")
    add("validate::unknown-claim", "UnknownContent", unknown, "a key claim 1.3.6.1.5.5.999.1.2.99", "claims.add",
        "/key", _add_claim(k, Claim(f"{layout.ID_EVIDENCE}.1.2.99", asn1.utf8("x"))),
        strict_only(Reason.UNEXPECTED_CONTENT))
    add("validate::unknown-entity", "UnknownContent", unknown, "an entity of type 1.3.6.1.5.5.999.0.9",
        "entities.add", "/tbs/reportedEntities", lambda b: b.entities.append(
            Entity(f"{layout.ID_EVIDENCE}.0.9", (Claim(f"{layout.ID_EVIDENCE}.1.9.0", asn1.utf8("x")),))),
        strict_only(Reason.UNEXPECTED_CONTENT))
    # signatures and chain
    add("signature::none", "Unsigned", _note("SIGNATURE_BYPASS", crit, "no SignatureBlock at all",
        "signatures are detachable: unsigned Evidence proves nothing", GO_CLI), "signatures SIZE 0",
        "signatures.remove", "/signatures", _no_signatures, invalid(Reason.MISSING_INPUT), resign=False)
    add("signature::hwserial-changed", "TbsChanged", _note("SIGNATURE_BYPASS", crit,
        "a claim edited after signing", forged), "platform hwserial changed after signing", "claims.set",
        "/platform/hwserial", _set_claim(p, "hwserial", asn1.utf8("00000000")),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::identifier-bad-id", "TbsChanged", _note("SIGNATURE_BYPASS", crit,
        "a claim edited after signing", forged, GO_CLI + " tools/test-interop-negative.sh"),
        "key identifier replaced with bad-id after signing", "claims.set", "/key/identifier",
        _set_claim(k, "identifier", asn1.utf8("bad-id")), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::never-extractable-flipped", "TbsChanged", _note("SIGNATURE_BYPASS", crit,
        "a claim edited after signing", forged), "never-extractable set to false after signing", "claims.set",
        "/key/never-extractable",
        _set_claim(k, "never-extractable", asn1.boolean(False)), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::key-not-in-chain", "ForeignSigner", _note("SIGNATURE_BYPASS", crit,
        "signed by a key the chain does not certify", forged), "signed by a foreign key, sid = the genuine AK "
        "certificate", "signature.resign", "/signatures/0", _foreign_signer("certificate"),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::foreign-spki-signer", "ForeignSigner", _note("SIGNATURE_BYPASS", crit,
        "signed by a key the chain does not certify", forged),
        "signed by a foreign key named only by its SPKI (ak-spki names it)",
        "signature.resign", "/signatures/0/sid", _foreign_signer("spki"), invalid(Reason.CHAIN_INCOMPLETE),
        resign=False)
    add("signature::keyid-unresolvable", "SignerUnresolved", _note("CHAIN", high,
        "the signer is named by keyId but no certificate has that key identifier",
        "the reference CLI: signer keyId present but no matching certificate found", GO_CLI),
        "sid = keyId, AK certificate nowhere", "signature.sid", "/signatures/0/sid", _sid("keyId", False),
        invalid(Reason.CHAIN_INCOMPLETE))
    sid_note = _note("SIGNATURE_BYPASS", crit, "a SignerIdentifier alternative beside the certificate names another "
                     "key or none", "a verifier that reads only the certificate accepts a signer identifier whose "
                     "public key the signature does not verify with, or whose keyId names no key (draft section 6: "
                     "the signature MUST be validated with a subjectPublicKeyInfo present; a keyId whose key cannot "
                     "be obtained MUST be rejected)", f"{EVIDENCE_DRAFT} section 6")
    add("signature::sid-spki-of-another-key", "SignerAlternatives", sid_note, "sid = the genuine AK certificate and "
        "a foreign subjectPublicKeyInfo, signed by the genuine AK", "signature.sid", "/signatures/0/sid",
        _sid_extra("spki", lambda kit: spki_der(kit.foreign.public_key())), invalid(Reason.SIGNATURE_INVALID))
    add("signature::sid-keyid-of-no-certificate", "SignerAlternatives", sid_note, "sid = the genuine AK certificate "
        "and a keyId no certificate has", "signature.sid", "/signatures/0/sid",
        _sid_extra("keyId", lambda kit: bytes(20)), invalid(Reason.CHAIN_INCOMPLETE))
    algorithm_note = _note("STRUCTURE", med, "an ECDSA AlgorithmIdentifier with parameters",
                           "a verifier that reads only the OID accepts an AlgorithmIdentifier RFC 5758 3.2 forbids "
                           "(ecdsa-with-SHA256: the parameters MUST be absent) in Evidence the draft requires in DER",
                           "RFC 5758 3.2", f"{EVIDENCE_DRAFT} section 5.5")
    ecdsa_sha256 = der_oid("1.2.840.10045.4.3.2")
    add("signature::ecdsa-parameters-null", "AlgorithmParameters", algorithm_note, "ecdsa-with-SHA256 with NULL "
        "parameters (the signature value is the AK's)", "signature.algorithm", "/signatures/0/signatureAlgorithm",
        _algorithm(der_sequence(ecdsa_sha256, b"\x05\x00")), invalid(Reason.MALFORMED))
    add("signature::algorithm-identifier-extra-fields", "AlgorithmParameters", algorithm_note, "ecdsa-with-SHA256 "
        "followed by two TLVs (an OCTET STRING and a UTF8String)", "signature.algorithm",
        "/signatures/0/signatureAlgorithm",
        _algorithm(der_sequence(ecdsa_sha256, der_tlv(0x04, b"junk"), der_tlv(0x0C, b"more"))),
        invalid(Reason.MALFORMED))
    add("signature::keyid-two-certificates-verify", "SignerAmbiguous", _note("STRUCTURE", med,
        "the keyId signer identifier names two different certificates whose key verifies the signature",
        "a verifier that takes the first certificate carrying the keyId lets whichever comes first (its chain, its "
        "validity, its EKU) vouch for the Evidence: its verdict depends on the order of intermediateCertificates",
        f"{EVIDENCE_DRAFT} section 6"), "sid = keyId; a re-issue of the AK certificate (same key and key "
        "identifier, another serial) listed before the AK certificate in intermediateCertificates: both verify",
        "signature.sid", "/signatures/0/sid", _keyid_candidates("same-key"), invalid(Reason.MALFORMED))
    add("variant::keyid-another-keys-certificate-first", "SignerAmbiguous", _note("BASIC", Severity.INFO,
        "a certificate of another key with the AK's key identifier comes before the AK certificate",
        "intermediateCertificates is a bag: a verifier that takes the first certificate carrying the keyId "
        "rejects a genuine report", f"{EVIDENCE_DRAFT} section 6"), "sid = keyId; a certificate of a foreign key "
        "with the AK's key identifier (issued by the IntCA) listed before the AK certificate: only the AK's key "
        "verifies", "signature.sid", "/signatures/0/sid", _keyid_candidates("other-key"), valid())
    add("chain::intermediate-missing", "ChainIncomplete", _note("CHAIN", high, "the intermediate CA is not sent",
        "a verifier that trusts the AK certificate alone accepts any self-issued AK"),
        "intermediateCertificates absent", "chain.remove", "/intermediateCertificates", _no_intermediates,
        invalid(Reason.CHAIN_INCOMPLETE))
    add("chain::root-impostor", "RootImpostor", _note("CHAIN", crit,
        "a complete chain under another root of the same name", "any CA could mint attestation keys"),
        "AK and IntCA under a RootCA of another seed with the same name, ak-spki naming that AK", "chain.replace",
        "/signatures/0/sid/certificate", _foreign_root, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::ak-expired", "CertExpired", _note("CHAIN", med, "the AK certificate expired before validation",
        "a retired attestation key still vouches"), "AK notAfter 30 days before the validation time",
        "cert.reissue", "/signatures/0/sid/certificate/notAfter", _ak_expired, invalid(Reason.CERT_EXPIRED))
    add("chain::ak-without-eku", "AkEku", _note("CHAIN", high, "the AK certificate lacks id-kp-attestationKey",
        "any signing certificate under the CA could sign Evidence", EVIDENCE_DRAFT), "AK reissued without EKU",
        "cert.reissue", "/signatures/0/sid/certificate/extKeyUsage", _ak_without_eku, invalid(Reason.CERT_EKU))
    add("chain::ak-code-signing-eku", "AkEku", _note("CHAIN", high, "the AK certificate lacks id-kp-attestationKey",
        "any signing certificate under the CA could sign Evidence", EVIDENCE_DRAFT),
        "AK reissued with EKU codeSigning only", "cert.reissue", "/signatures/0/sid/certificate/extKeyUsage",
        _ak_wrong_eku, invalid(Reason.CERT_EKU))
    add("chain::ak-key-usage-cert-sign", "AkKeyUsage", _note("CHAIN", med, "the AK keyUsage lacks digitalSignature",
        "a CA key doubles as an attestation key"), "AK keyUsage keyCertSign only", "cert.reissue",
        "/signatures/0/sid/certificate/keyUsage", _ak_cert_sign_only, invalid(Reason.CERT_KEY_USAGE))
    valid_note = _note("BASIC", Severity.INFO, "a legal variant of the encoding",
                       "a verifier that rejects it does not implement the module")
    add("variant::signer-by-key-id", "LegalVariant", valid_note, "sid = keyId, AK certificate in "
        "intermediateCertificates (resolvable)", "signature.sid", "/signatures/0/sid", _sid("keyId"), valid())
    add("variant::signer-by-spki", "LegalVariant", valid_note, "sid = subjectPublicKeyInfo, AK certificate in "
        "intermediateCertificates", "signature.sid", "/signatures/0/sid", _sid("spki"), valid())
    add("variant::ecdsa-with-sha512", "LegalVariant", valid_note, "the AK (P-256) signs with ecdsa-with-SHA512 "
        "(RFC 5758 3.2; the module's signatureAlgorithm is an open set)", "signature.algorithm",
        "/signatures/0/signatureAlgorithm", _scheme(_ecdsa_sha512), valid())
    add("variant::explicit-intermediates", "LegalVariant", valid_note, "intermediateCertificates [0] EXPLICIT "
        "(the module's tagging; the reference code writes IMPLICIT)", "der.retag", "/intermediateCertificates",
        _explicit, valid())
    # transaction
    add("transaction::nonce-mismatch", "NonceMismatch", _note("FRESHNESS", high,
        "the Evidence answers another nonce", "a replayed report is accepted"),
        "the relying party's nonce differs from the signed one", "file.set", "<label>.nonce",
        _nonce_file(bytes(16)), invalid(Reason.CHALLENGE_MISMATCH), resign=False)
    add("transaction::nonce-missing", "NonceMissing", _note("FRESHNESS", high,
        "a nonce was asked for but the transaction has none", "a replayed report is accepted"),
        "nonce claim removed, re-signed", "claims.remove", "/transaction/nonce", _drop_claim(t, "nonce"),
        invalid(Reason.ATTR_MISSING))
    add("transaction::ak-spki-foreign", "AkSpkiMismatch", _note("BINDING", high,
        "an ak-spki claim names a key that did not sign", "a report claims an attestation key it cannot prove"),
        "ak-spki of a foreign key, re-signed by the genuine AK", "claims.set", "/transaction/ak-spki",
        lambda b: _set_claim(t, "ak-spki", asn1.octets(spki_der(b.kit.foreign.public_key())))(b),
        invalid(Reason.ATTESTATION_KEY_MISMATCH))
    # key policy
    add("key::extractable-true", "KeyExtractable", _note("POLICY", crit, "the key is extractable", policy),
        "extractable = TRUE, re-signed", "claims.set", "/key/extractable",
        _set_claim(k, "extractable", asn1.boolean(True)), invalid(Reason.ATTR_EXTRACTABLE))
    add("key::never-extractable-false", "KeyWasExtractable", _note("POLICY", high,
        "the key was extractable once", policy), "never-extractable = FALSE, re-signed", "claims.set",
        "/key/never-extractable", _set_claim(k, "never-extractable", asn1.boolean(False)),
        invalid(Reason.ATTR_NOT_NEVER_EXTRACTABLE))
    add("key::local-false", "KeyImported", _note("POLICY", high, "the key was not generated on the device",
        policy), "local = FALSE, re-signed", "claims.set", "/key/local", _set_claim(k, "local", asn1.boolean(False)),
        invalid(Reason.ATTR_NOT_LOCAL))
    add("key::extractable-missing", "KeyClaimMissing", _note("POLICY", high, "the key's extractable claim is absent",
        "a verifier assumes the safe default"), "extractable claim removed, re-signed", "claims.remove",
        "/key/extractable", _drop_claim(k, "extractable"), invalid(Reason.ATTR_MISSING))
    add("key::sensitive-false", "KeyNotSensitive", _note("POLICY", med, "the key is not sensitive",
        "strict: its value may leave the HSM in clear"), "sensitive = FALSE, re-signed", "claims.set",
        "/key/sensitive", _set_claim(k, "sensitive", asn1.boolean(False)), strict_only(Reason.ATTR_NOT_SENSITIVE))
    expiry = _note("POLICY", med, "the key's expiry claim is before the validation time",
                   "a verifier that ignores the claim certifies a key the HSM says is no longer to be used",
                   EVIDENCE_DRAFT)
    add("key::expired", "KeyExpired", expiry, "a key expiry claim a day before the validation time, re-signed",
        "claims.add", "/key/expiry",
        _add_claim(k, _claim(k, "expiry", asn1.generalized_time(VALIDATION_TIME - timedelta(days=1)))),
        invalid(Reason.CERT_EXPIRED))
    add("key::expiry-after-validation", "LegalVariant", valid_note, "a key expiry claim a day after the validation "
        "time, re-signed", "claims.add", "/key/expiry",
        _add_claim(k, _claim(k, "expiry", asn1.generalized_time(VALIDATION_TIME + timedelta(days=1)))), valid())
    add("key::second-key-rsa-2048", "StrictKeyPolicyEveryKey", _note("PROFILE", Severity.LOW,
        "a key entity beside the first whose key is outside the CA/B Forum code-signing rules",
        "strict: a verifier that judges the first key entity only accepts a weak key attested beside a strong one "
        "(without a CSR every key entity is attested)", "CA/B Forum Code Signing BR 6.2.7.4", EVIDENCE_DRAFT),
        "a second key entity, of an RSA-2048 key, "
        "after the golden's P-256 key, re-signed (no CSR: every key entity is attested)", "entities.add", "/key[1]",
        _weak_second_key, strict_only(Reason.KEY_POLICY))
    add("key::csr-of-another-key", "CsrKeyMismatch", _note("BINDING", crit,
        "the CSR beside the Evidence asks to certify another key", "a CA certifies a key the HSM never attested",
        CSR_DRAFT), "a CSR of another key beside the Evidence", "file.add", "<label>.csr", _csr_of("other"),
        invalid(Reason.KEY_MISMATCH))
    two = _note("BINDING", high, "two nonce or CSR files beside the Evidence that differ",
                "a verifier that keeps one of them (the last read, say) gives a verdict that depends on the order of "
                "the files: it accepts a replayed report beside the right nonce, or certifies the key of whichever "
                "CSR it read", EVIDENCE_DRAFT, CSR_DRAFT)
    add("files::two-nonce-files", "AmbiguousInput", two, "a second nonce file (the golden's nonce, one bit "
        "flipped) beside <label>.nonce", "file.add", "<label>-again.nonce",
        lambda b: b.extra_files.update({f"{b.key.label}-again.nonce": mutate.flip_bit(b.nonce, 0).hex().encode()
                                        + b"\n"}), invalid(Reason.MALFORMED))
    add("files::two-csr-files", "AmbiguousInput", two, "the CSR of the attested key and one of another key beside "
        "the Evidence", "file.add", "<label>-other.csr", _two_csrs, invalid(Reason.MALFORMED))
    add("key::csr-of-the-key", "LegalVariant", valid_note, "the CSR of the attested key beside the Evidence",
        "file.add", "<label>.csr", _csr_of("own"), valid())
    return tuple(m)


STRICT_KEY_POLICY = FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                             "structural accepts; strict requires RSA >= 3072 or ECDSA P-256/P-384",
                             ("CA/B Forum Code Signing BR 6.2.7.4",))


def _weak(spec: str) -> bool:
    return spec in ("rsa-2048", "ed25519", "aes-256")


def evidence_notes() -> dict[str, FlagNote]:
    """Every flag the PKIX Evidence vectors use."""
    return flag_notes({**PROVENANCE_NOTES, "StrictKeyPolicy": STRICT_KEY_POLICY}, evidence_mutations())


def evidence_cases(seed: str) -> list[VectorCase]:
    """Goldens (one per :data:`EVIDENCE_SPECS`) then every PKIX Evidence mutation."""
    kit = seeded_kit(seed)
    anchors = (kit.identity.root,)
    cases = []
    for spec in EVIDENCE_SPECS:
        cases.append(VectorCase(
            id=f"pkix-evidence::golden::{spec}", comment=f"unmutated PKIX Evidence of a generated {spec} key",
            flags=("Golden", *(("StrictKeyPolicy",) if _weak(spec) else ())),
            expected=strict_only(Reason.KEY_POLICY) if _weak(spec) else valid(),
            evidence=EvidenceBench.open(kit, spec).render(resign=True), anchors=anchors,
            validation_time=VALIDATION_TIME, provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in evidence_mutations():
        bench = EvidenceBench.open(kit, mutation.golden)
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.render(mutation.resign), anchors=anchors,
            validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing, golden=f"pkix-evidence::golden::{mutation.golden}",
                                  operator=mutation.operator, path=mutation.path)))
    return cases


# -- CSR attestation ----------------------------------------------------------------------------

@dataclass
class CsrBench:
    """A golden CSR attestation opened up: the draft (statements, certs, attributes) and its post-processing."""

    kit: IetfKit
    key: StoredKey
    device_format: str
    draft: csr.CsrDraft
    post: Callable[[bytes], bytes] | None = None

    def statement_for(self, name: str, key: StoredKey | None = None) -> tuple[Statement, list[bytes]]:
        """A fresh statement ``name`` about ``key`` (default the bench's key), with its bundle certs."""
        request = self.kit.request(key or self.key, self.device_format)
        statement, certs, _roots = csr.make_statement(request, name, self.draft.nonce)
        return statement, certs

    def render(self) -> Evidence:
        """The CSR (re-signed by its key unless ``post`` edits it), nonce and roots."""
        der = self.draft.build()
        if self.post is not None:
            der = self.post(der)
        return Evidence(layout.CSR_ATTESTATION, csr.draft_files(self.key.label, self.draft, der),
                        csr.request_name(self.key.label, self.draft))


_GOLDEN_DRAFTS: dict[tuple[str, str, str, tuple[str, ...], str], csr.CsrDraft] = {}


def open_csr(kit: IetfKit, golden: tuple[str, str, tuple[str, ...]], form: str = layout.PKCS10) -> CsrBench:
    """The golden CSR attestation ``(device format, spec, statements)`` in ``form`` as a bench."""
    device_format, spec, statements = golden
    cache_key = (kit.seed, device_format, spec, statements, form)
    if cache_key not in _GOLDEN_DRAFTS:
        _GOLDEN_DRAFTS[cache_key] = csr.draft_for(kit.request(kit.keys[spec], device_format), statements, form)
    draft = copy.copy(_GOLDEN_DRAFTS[cache_key])
    draft.statements, draft.roots = list(draft.statements), list(draft.roots)
    draft.certs = list(draft.certs) if draft.certs is not None else None
    draft.extra_attributes = list(draft.extra_attributes)
    return CsrBench(kit, kit.keys[spec], device_format, draft)


CsrOp = Callable[[CsrBench], None]
PKIX, TCG = ("pkix-evidence", "ec-p256", ("pkix-evidence",)), ("tcg-attest-certify", "ec-p256",
                                                                 ("tcg-attest-certify",))
PRIMUS, LUNA = ("primus", "rsa-3072", ("primus",)), ("luna-pkc", "rsa-3072", ("luna-pkc",))
WEBAUTHN, TPM_ACME = ("webauthn", "ec-p256", ("webauthn",)), ("tpm-acme", "ec-p256", ("tpm-acme",))
MULTI = CSR_GOLDENS[-1]


def _golden_id(golden: tuple[str, str, tuple[str, ...]], form: str = layout.PKCS10) -> str:
    device_format, spec, statements = golden
    crmf = "crmf::" if form == layout.CRMF else ""
    return f"csr-attestation::golden::{crmf}{'-and-'.join(statements)}::{spec}" + (
        f"::on-{device_format}" if device_format not in statements else "")


def _other_key_statement(index: int = 0) -> CsrOp:
    def apply(bench: CsrBench) -> None:
        statement = bench.draft.statements[index]
        name = csr.STATEMENT_NAMES[statement.type]
        bench.draft.statements[index], _ = bench.statement_for(name, bench.kit.other[bench.key.spec.name])
    return apply


def _set_draft(**values: object) -> CsrOp:
    def apply(bench: CsrBench) -> None:
        for attr, value in values.items():
            setattr(bench.draft, attr, value)
    return apply


def _statement_edit(fn: Callable[[Statement], Statement], index: int = 0) -> CsrOp:
    def apply(bench: CsrBench) -> None:
        bench.draft.statements[index] = fn(bench.draft.statements[index])
    return apply


def _append_statement(statement: Statement) -> CsrOp:
    def apply(bench: CsrBench) -> None:
        bench.draft.statements.append(statement)
    return apply


def _csr_post(fn: Callable[[bytes], bytes]) -> CsrOp:
    def apply(bench: CsrBench) -> None:
        bench.post = fn
    return apply


def _crmf_template(edit: Callable[[CsrBench, list[bytes]], list[bytes]]) -> CsrOp:
    """Edit the CertTemplate's fields (DER TLVs, in order) and sign the CertRequest anew with the key (the
    POPOSigningKey stays valid)."""
    def apply(bench: CsrBench) -> None:
        def post(der: bytes) -> bytes:
            request = der_children(der_content(der_children(der_content(der))[0]))
            fields = edit(bench, der_children(der_content(request[1])))
            cert_request = der_sequence(request[0], der_sequence(*fields))
            return asn1.encode_cert_req_msg(cert_request, *sign(bench.draft.signer, cert_request))
        bench.post = post
    return apply


def _crmf_popo_signature_long_length(bench: CsrBench) -> None:
    """The POPOSigningKey's signature BIT STRING with a 4-octet long-form length (BER); nothing signed anew."""
    def post(der: bytes) -> bytes:
        items = der_children(der_content(der))
        algorithm, signature = der_children(der_content(items[1]))
        return der_sequence(items[0], der_tlv(0xA1, algorithm + _long_length(signature)), *items[2:])
    bench.post = post


def _public_key_twice(bench: CsrBench, fields: list[bytes]) -> list[bytes]:
    """``publicKey [6]`` of another key, then the request's own."""
    other = bench.kit.other[bench.key.spec.name].public_key
    assert other is not None
    index = next(i for i, f in enumerate(fields) if f[0] == 0xA6)
    return [*fields[:index], der_tlv(0xA6, der_content(spki_der(other))), *fields[index:]]


def _add_cert(tlv: bytes) -> CsrOp:
    """Append ``tlv`` (a CertificateChoices) to the bundle's certs."""
    def apply(bench: CsrBench) -> None:
        bench.draft.certs = [*(bench.draft.certs or []), tlv]
    return apply


def _csr_signed_by_other(bench: CsrBench) -> None:
    bench.draft.signer = bench.kit.store.signer(bench.kit.other[bench.key.spec.name])


def _tcg_parts(bench: CsrBench) -> tuple[bytes, bytes, bytes | None]:
    return tcg.parse(bench.draft.statements[0].stmt)


def _tcg_public(bench: CsrBench) -> bytes:
    public = _tcg_parts(bench)[2]
    assert public is not None  # the generator always writes tpmTPublic
    return public


def _tcg_ak(bench: CsrBench) -> AttestationIdentity:
    return tpm_identity(bench.kit.seed, bench.kit.device.serial, created=bench.kit.device.attestation_created)


def _tcg_resigned(edit_attest: Callable[[TpmsAttest], TpmsAttest] | None = None,
                  edit_public: Callable[[TpmtPublic], TpmtPublic] | None = None) -> CsrOp:
    """Edit the TPMS_ATTEST or TPMT_PUBLIC and have the TPM's AK sign the result."""
    def apply(bench: CsrBench) -> None:
        attest = TpmsAttest.unmarshal(_tcg_parts(bench)[0])
        public_bytes = _tcg_public(bench)
        if edit_public is not None:
            area = edit_public(TpmtPublic.unmarshal(public_bytes))
            public_bytes = area.marshal()
            hierarchy = tcg.tpm_hierarchy(bench.kit.seed, bench.kit.device.serial)
            attest = replace(attest, attested=CertifyInfo(area.name(), hierarchy.key_qualified_name(area)))
        if edit_attest is not None:
            attest = edit_attest(attest)
        raw = attest.marshal()
        stmt = tcg.statement(raw, tcg.sign_attest(_tcg_ak(bench), raw), public_bytes)
        bench.draft.statements[0] = Statement(asn1.TCG_ATTEST_CERTIFY, stmt)
    return apply


def _qualified_name_is_name(attest: TpmsAttest) -> TpmsAttest:
    assert isinstance(attest.attested, CertifyInfo)
    return replace(attest, attested=replace(attest.attested, qualified_name=attest.attested.name))


def _tcg_signature(sig_encoding: str) -> CsrOp:
    """The AK's signature over the same TPMS_ATTEST, written as ``sig_encoding``."""
    def apply(bench: CsrBench) -> None:
        attest, _sig, public = _tcg_parts(bench)
        stmt = tcg.statement(attest, tcg.sign_attest(_tcg_ak(bench), attest, sig_encoding), public)
        bench.draft.statements[0] = Statement(asn1.TCG_ATTEST_CERTIFY, stmt)
    return apply


def _tcg_without_public(bench: CsrBench) -> None:
    attest, signature, _public = _tcg_parts(bench)
    bench.draft.statements[0] = Statement(asn1.TCG_ATTEST_CERTIFY, tcg.statement(attest, signature, None))


def _tcg_foreign_signature(bench: CsrBench) -> None:
    attest, _sig, public = _tcg_parts(bench)
    foreign = replace(_tcg_ak(bench), key=bench.kit.foreign)
    signed = tcg.statement(attest, tcg.sign_attest(foreign, attest), public)
    bench.draft.statements[0] = Statement(asn1.TCG_ATTEST_CERTIFY, signed)


def _tcg_foreign_root(bench: CsrBench) -> None:
    foreign = tpm_identity(f"{bench.kit.seed}/foreign-root", bench.kit.device.serial,
                           created=bench.kit.device.attestation_created)
    attest, _sig, public = _tcg_parts(bench)
    signed = tcg.statement(attest, tcg.sign_attest(foreign, attest), public)
    bench.draft.statements[0] = Statement(asn1.TCG_ATTEST_CERTIFY, signed)
    bench.draft.certs = [foreign.certificate.public_bytes(Encoding.DER)]


def _another_tpms_ak_first(bench: CsrBench) -> None:
    """certs: another TPM's genuine AK certificate (same root) before the signing AK's."""
    device = bench.kit.device
    other = tpm_identity(bench.kit.seed, f"{device.serial}-other", created=device.attestation_created)
    bench.draft.certs = [other.certificate.public_bytes(Encoding.DER), *(bench.draft.certs or [])]


def _ak_certificate_reissued(bench: CsrBench) -> None:
    """certs: the AK certificate and a second one for the same AK key (another serial), both under the root."""
    ak = _tcg_ak(bench)
    root_key = derive_key(bench.kit.seed, "ietf/tpm/root", KeySpec.parse("ec-p256"))
    twin = reissue(ak.certificate, root_key, serial=ak.certificate.serial_number + 1)
    bench.draft.certs = [*(bench.draft.certs or []), twin.public_bytes(Encoding.DER)]


def _native_edit(fn: Callable[[Evidence], Evidence]) -> CsrOp:
    def apply(bench: CsrBench) -> None:
        statement = bench.draft.statements[0]
        inner = fn(csr.decode_native(statement.stmt))
        bench.draft.statements[0] = Statement(statement.type, csr.encode_native(inner))
    return apply


def _primus_signed_by_tpm_ak(bench: CsrBench) -> None:
    """The Primus statement (the first) with its XML signed by the request's TPM AK, whose certificate is the whole
    chain file and whose public key both loose PEMs carry: the AK chains to test-rootCA, which the relying party's
    merged roots file carries (it accepts TcgAttestCertify statements too). A TPM owner can sign such bytes with
    the AK."""
    ak = _tcg_ak(bench)
    bench.draft.roots.append(ak.root)
    key = ak.key
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)

    def resign(inner: Evidence) -> Evidence:
        # The Primus names and signature scheme (primus.md 1.3-1.5) are spelled here: a family imports no other.
        with zipfile.ZipFile(io.BytesIO(inner.files[inner.primary])) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
        stem = next(member for member in members if member.endswith(".xml"))[: -len(".xml")]
        xml = members[f"{stem}.xml"]
        members[f"{stem}.sig"] = (key.sign(xml, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
                                  if isinstance(key, ec.EllipticCurvePrivateKey)
                                  else key.sign(xml, padding.PKCS1v15(), hashes.SHA256()))
        members["PrimusHSM_Attestation.crt"] = cert_pem(ak.certificate)
        members[f"{stem}.pem"] = members["PrimusHSM_Attestation_PublicKey.pem"] = spki_pem(key.public_key())
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(zipfile.ZipInfo(name, ATTEST_TIME.timetuple()[:6]), data, zipfile.ZIP_DEFLATED)
        return replace(inner, files={**inner.files, inner.primary: out.getvalue()})
    _native_edit(resign)(bench)


def _webauthn_statement(parameters: dict[str, object],
                        edit: Callable[[CsrBench, Evidence], Evidence] | None = None) -> CsrOp:
    """Replace the first statement by a WebAuthn registration of the bench's key, made with ``parameters`` over
    the generator's (the CSR nonce as challenge), then ``edit``-ed."""
    def apply(bench: CsrBench) -> None:
        request = csr.inner_request(bench.kit.request(bench.key, csr.WEBAUTHN), csr.WEBAUTHN, bench.draft.nonce)
        made = get_format(csr.WEBAUTHN).generate(replace(request, parameters={**request.parameters, **parameters}))
        inner, _roots = csr.split_roots(made)
        if edit is not None:
            inner = edit(bench, inner)
        bench.draft.statements[0] = Statement(csr.PRIVATE_TYPES[csr.WEBAUTHN], csr.encode_native(inner))
    return apply


def _u2f_signed_by_tpm_ak(bench: CsrBench, inner: Evidence) -> Evidence:
    """A fido-u2f registration re-signed by the request's TPM AK (ES256 over the U2F verificationData, WebAuthn
    8.6), its x5c the AK certificate (EC P-256, under test-rootCA, which the relying party's roots file carries for
    TcgAttestCertify statements). The webauthn family's signing is spelled here: a family imports no other."""
    ak = _tcg_ak(bench)
    bench.draft.roots.append(ak.root)
    document = json.loads(inner.files[inner.primary])
    response = document["credential"]["response"]
    obj = AttestationObject.decode(from_b64url(response["attestationObject"], "attestationObject"))
    auth = AuthenticatorData.parse(obj.auth_data)
    assert auth.credential is not None
    key = parse_cose_key(cbor_decode(auth.credential.public_key_cbor, "credentialPublicKey"))
    client_data_hash = hashlib.sha256(from_b64url(response["clientDataJSON"], "clientDataJSON")).digest()
    message = (b"\x00" + auth.rp_id_hash + client_data_hash + auth.credential.credential_id
               + key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    att_stmt = {"sig": cose_sign(ak.key, ES256, message), "x5c": [ak.certificate.public_bytes(Encoding.DER)]}
    response["attestationObject"] = b64url(cbor_encode({"fmt": "fido-u2f", "attStmt": att_stmt,
                                                         "authData": obj.auth_data}))
    return replace(inner, files={**inner.files, inner.primary: indented_json(document, 2)})


def _pkix_of_another_hsm(bench: CsrBench) -> None:
    """The PKIX Evidence statement (the second) made by another HSM (hwserial 99999999) about the same key."""
    request = bench.kit.request(bench.key, bench.device_format)
    elsewhere = replace(request, device=replace(request.device, serial="99999999"))
    bench.draft.statements[1], _certs, _roots = csr.make_statement(elsewhere, layout.PKIX_EVIDENCE, bench.draft.nonce)


def _flip_primary(inner: Evidence) -> Evidence:
    data = inner.files[inner.primary]
    return replace(inner, files={**inner.files, inner.primary: mutate.flip_bit(data, len(data) * 4)})


def _pkix_inner(fn: EvidenceOp) -> CsrOp:
    """Replace the PKIX Evidence statement by one with an EvidenceBench defect (re-signed by the AK)."""
    def apply(bench: CsrBench) -> None:
        ebench = EvidenceBench.open(bench.kit, bench.key.spec.name)
        ebench.nonce = bench.draft.nonce
        request = bench.kit.request(bench.key, bench.device_format)
        ebench.entities[0] = evidence.transaction_entity(
            bench.draft.nonce, ATTEST_TIME, [spki_der(bench.kit.identity.certificate.public_key())])
        ebench.entities[1] = evidence.platform_entity(
            evidence.request_platform(request, "PKIX Evidence (draft-ietf-rats-pkix-key-attestation)"))
        fn(ebench)
        rendered = ebench.render(resign=True)
        bench.draft.statements[0] = Statement(layout.ID_EVIDENCE, layout.evidence_der(rendered.files[rendered.primary]))
    return apply


def _extractable_other_key_first(bench: EvidenceBench) -> None:
    """Another key of the HSM, extractable, reported before the requested key."""
    other = evidence.key_entity(bench.kit.other[bench.key.spec.name])
    oid = asn1.claim_oid(ELEMENT_KEY, "extractable")
    other = Entity(ELEMENT_KEY, tuple(Claim(oid, asn1.boolean(True)) if c.type == oid else c for c in other.claims))
    bench.entities.insert(bench.entity(ELEMENT_KEY), other)


def _csr_note(bug: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug, severity, description, effect, refs or (CSR_DRAFT,))


def csr_mutations() -> list[Mutation]:
    """Every CSR attestation defect, in catalogue order (made once per process, as :func:`evidence_mutations`)."""
    return list(_csr_mutations())


@functools.cache
def _csr_mutations() -> tuple[Mutation, ...]:
    m: list[Mutation] = []
    crit, high, med = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: CsrOp,
            expected: dict[Profile, Reason], *, resign: bool = True,
            golden: tuple[str, str, tuple[str, ...]] = PKIX, form: str = layout.PKCS10) -> None:
        m.append(Mutation(f"csr-attestation::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          _golden_id(golden, form)))

    binding = _csr_note("BINDING", crit, "a statement about another key than the CSR's",
                        "the draft's MUST: a CA would certify a key no statement vouches for")
    add("binding::pkix-evidence-other-key", "StatementOtherKey", binding,
        "PKIX Evidence of another key of the same HSM", "statement.replace", "/attestations/0",
        _other_key_statement(), invalid(Reason.KEY_MISMATCH))
    add("binding::tcg-other-key", "StatementOtherKey", binding, "TcgAttestCertify of another key",
        "statement.replace", "/attestations/0", _other_key_statement(), invalid(Reason.KEY_MISMATCH), golden=TCG)
    add("binding::primus-other-key", "StatementOtherKey", binding, "Primus attestation of another key",
        "statement.replace", "/attestations/0", _other_key_statement(), invalid(Reason.KEY_MISMATCH), golden=PRIMUS)
    add("binding::luna-other-key", "StatementOtherKey", binding, "Luna PKC of another key",
        "statement.replace", "/attestations/0", _other_key_statement(), invalid(Reason.KEY_MISMATCH), golden=LUNA)
    add("binding::second-statement-other-key", "StatementOtherKey", binding,
        "two statements, the last (PKIX Evidence) about another key", "statement.replace", "/attestations/1",
        _other_key_statement(1), invalid(Reason.KEY_MISMATCH), golden=MULTI)
    shape = _csr_note("STRUCTURE", high, "the attribute or bundle breaks the module's counts",
                      "a verifier that reads only the first one checks evidence the CA does not see whole")
    add("attribute::two-attributes", "AttributeCount", shape, "two id-aa-attestation attributes (COUNTS MAX 1)",
        "csr.attributes", "/attributes", _set_draft(attributes=2), invalid(Reason.ATTR_CONFLICT))
    add("attribute::two-bundles", "AttributeCount", shape, "one attribute holding two bundles", "csr.attributes",
        "/attributes/0/values", _set_draft(bundles=2), invalid(Reason.ATTR_CONFLICT))
    add("attribute::no-bundle", "AttributeCount", shape, "one attribute with an empty value set",
        "csr.attributes", "/attributes/0/values", _set_draft(bundles=0), invalid(Reason.MALFORMED))
    add("attribute::absent", "AttributeMissing", _csr_note("STRUCTURE", high, "no attestation attribute",
        "the CA has nothing to check"), "the CSR carries no id-aa-attestation attribute", "csr.attributes",
        "/attributes", _set_draft(attributes=0), invalid(Reason.ATTR_MISSING))
    add("bundle::empty-attestations", "BundleShape", shape, "attestations SIZE 0", "bundle.statements",
        "/attestations", _set_draft(statements=[]), invalid(Reason.MALFORMED))
    add("bundle::empty-certs", "BundleShape", shape, "certs present with SIZE 0", "bundle.certs", "/certs",
        _set_draft(certs=[]), invalid(Reason.MALFORMED), golden=TCG)
    add("bundle::other-cert-choice", "OtherCertChoice", _csr_note("BASIC", Severity.INFO, "certs holds a "
        "well-formed `other [3] IMPLICIT OtherCertificateFormat` entry no statement needs",
        "LimitedCertChoices allows `other`: a verifier that refuses every entry but an X.509 certificate rejects a "
        "legal bundle", CSR_DRAFT, "RFC 5652 10.2.2"), "certs holds `other` [3] {1.2.3.4, OCTET STRING}",
        "bundle.certs", "/certs/1", _add_cert(der_tlv(0xA3, der_oid("1.2.3.4") + asn1.octets(b"x"))), valid(),
        golden=TCG)
    excluded = _csr_note("STRUCTURE", med, "a certs entry the module excludes or cannot read",
                         "a verifier that skips what it cannot read lets a bundle break the module unnoticed",
                         CSR_DRAFT, "RFC 5652 10.2.2")
    add("bundle::attribute-cert-choice", "BundleShape", excluded, "certs holds a v2AttrCert [2] entry, which "
        "LimitedCertChoices excludes", "bundle.certs", "/certs/1",
        _add_cert(der_tlv(0xA2, der_sequence(der_sequence(), der_sequence()))), invalid(Reason.MALFORMED), golden=TCG)
    add("bundle::other-cert-choice-explicit", "BundleShape", excluded, "certs holds `other` [3] tagged as if "
        "EXPLICIT ([3] {SEQUENCE {1.2.3.4, OCTET STRING}}): no OtherCertificateFormat", "bundle.certs", "/certs/1",
        _add_cert(der_tlv(0xA3, der_sequence(der_oid("1.2.3.4"), asn1.octets(b"x")))), invalid(Reason.MALFORMED),
        golden=TCG)
    unknown = _csr_note("EXTENSIBILITY", high, "a statement of a type the verifier does not know",
                        "skipping it would let the CA certify on the other statements' word alone")
    add("bundle::unknown-type", "UnknownStatement", unknown, "a statement type 1.2.3.4 only", "statement.retype",
        "/attestations/0/type", _statement_edit(lambda s: replace(s, type="1.2.3.4")), invalid(Reason.UNSUPPORTED))
    add("bundle::unknown-type-beside-valid", "UnknownStatement", unknown,
        "the PKIX Evidence statement then one of type 1.2.3.4", "statement.add", "/attestations/1",
        _append_statement(Statement("1.2.3.4", asn1.octets(b"opaque"))), invalid(Reason.UNSUPPORTED))
    add("bundle::legacy-hint", "LegacyHint", _csr_note("STRUCTURE", Severity.LOW, "an AttestationStatement with "
        "the superseded hint after stmt (as the draft's TPM sample)", "strict refuses elements the module lacks"),
        "IA5String hint after stmt", "statement.extend", "/attestations/0",
        _statement_edit(lambda s: replace(s, trailing=(der_tlv(0x16, b"verifier.example.com"),))),
        strict_only(Reason.UNEXPECTED_CONTENT))
    add("certs::missing", "CertsMissing", _csr_note("CHAIN", high, "the bundle lacks the AK certificate",
        "a verifier that trusts the TPM signature alone accepts any TPM"), "certs removed from the bundle",
        "bundle.certs", "/certs", _set_draft(certs=None), invalid(Reason.MISSING_INPUT), golden=TCG)
    add("csr::signed-by-other-key", "CsrSignature", _csr_note("BINDING", crit, "the CSR is not signed by its key",
        "no proof of possession"), "CSR signed by another key", "csr.sign", "/signature", _csr_signed_by_other,
        invalid(Reason.CSR_SIGNATURE_INVALID))
    add("csr::signature-bit-flip", "CsrSignature", _csr_note("BINDING", crit, "the CSR is not signed by its key",
        "no proof of possession"), "last bit of the CSR signature flipped", "bytes.flip_bit", "/signature",
        _csr_post(lambda d: mutate.flip_bit(d, len(d) * 8 - 1)), invalid(Reason.CSR_SIGNATURE_INVALID))
    add("csr::truncated", "CsrStructure", _csr_note("STRUCTURE", med, "the CSR does not parse",
        "a lenient parser reads a partial request"), "CSR cut after 100 bytes", "bytes.truncate", "/",
        _csr_post(lambda d: mutate.truncate(d, 100)), invalid(Reason.MALFORMED))
    ber = _csr_note("STRUCTURE", med, "a length in BER's long form where DER requires the shortest",
                    "a verifier whose request reader takes BER lengths accepts a request that is not DER, which the "
                    "CA re-encodes or a stricter parser reads otherwise (X.690 10.1)", "RFC 2986 4", "RFC 4211 5",
                    "X.690 10.1")
    add("csr::ber-length-attribute-value", "NonDerLength", ber, "a challengePassword attribute whose UTF8String "
        "value has a 4-octet long-form length (an attribute the verdict does not read), signed anew by the key",
        "der.length", "/certificationRequestInfo/attributes/1/values/0",
        _set_draft(extra_attributes=[("1.2.840.113549.1.9.7", [b"\x0c\x84\x00\x00\x00\x03abc"])]),
        invalid(Reason.MALFORMED))
    nonce = _csr_note("FRESHNESS", high, "a statement answers another nonce", "a replayed statement is accepted")
    add("nonce::pkix-evidence-mismatch", "NonceMismatch", nonce, "the relying party's nonce differs",
        "file.set", "<label>.nonce", _set_draft(nonce=bytes(16)), invalid(Reason.CHALLENGE_MISMATCH))
    add("nonce::tcg-mismatch", "NonceMismatch", nonce, "the relying party's nonce differs from qualifyingData",
        "file.set", "<label>.nonce", _set_draft(nonce=bytes(16)), invalid(Reason.CHALLENGE_MISMATCH), golden=TCG)
    wrapped_nonce = _csr_note("FRESHNESS", high, "a wrapped statement answers its own challenge, not the relying "
                              "party's nonce", "a verifier that checks the challenge the statement carries accepts a "
                              "statement replayed from any earlier ceremony, whatever nonce the CA issued",
                              CSR_DRAFT, "docs/formats/ietf.md (nonce bindings)")
    add("nonce::webauthn-mismatch", "NonceMismatch", wrapped_nonce, "the relying party's nonce differs from the "
        "WebAuthn challenge", "file.set", "<label>.nonce", _set_draft(nonce=bytes(16)),
        invalid(Reason.CHALLENGE_MISMATCH), golden=WEBAUTHN)
    add("nonce::tpm-acme-mismatch", "NonceMismatch", wrapped_nonce, "the relying party's nonce differs from the "
        "ACME challenge token", "file.set", "<label>.nonce", _set_draft(nonce=bytes(16)),
        invalid(Reason.CHALLENGE_MISMATCH), golden=TPM_ACME)
    inner = _csr_note("INNER", high, "the inner statement's own format rejects it",
                      "a CSR verifier that only unwraps lets any vendor defect through")
    add("pkix-evidence::version-2", "InnerDefect", inner, "inner PKIX Evidence version 2, re-signed",
        "statement.replace", "/attestations/0", _pkix_inner(_set_version(2)), invalid(Reason.UNSUPPORTED))
    add("pkix-evidence::extractable-true", "InnerDefect", inner, "inner PKIX Evidence says extractable, re-signed",
        "statement.replace", "/attestations/0", _pkix_inner(_set_claim(ELEMENT_KEY, "extractable",
                                                                       asn1.boolean(True))),
        invalid(Reason.ATTR_EXTRACTABLE))
    add("pkix-evidence::key-not-in-chain", "InnerDefect", inner, "inner PKIX Evidence signed by a foreign key",
        "statement.replace", "/attestations/0", _pkix_inner(_foreign_signer("certificate")),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("pkix-evidence::truncated", "InnerDefect", inner, "inner Evidence cut in half", "bytes.truncate",
        "/attestations/0/stmt", _statement_edit(lambda s: replace(s, stmt=s.stmt[: len(s.stmt) // 2])),
        invalid(Reason.MALFORMED))
    tpm = _csr_note("TPM", high, "a TcgAttestCertify defect", "a verifier accepts a TPM statement the TPM never made")
    add("tcg::magic", "TcgDefect", tpm, "tpmSAttest.magic 0, re-signed by the AK", "tpm.attest", "/magic",
        _tcg_resigned(lambda a: replace(a, magic=0)), invalid(Reason.MALFORMED), golden=TCG)
    add("tcg::nv-type", "TcgDefect", tpm, "tpmSAttest.type TPM_ST_ATTEST_NV over certify info, re-signed",
        "tpm.attest", "/type", _tcg_resigned(lambda a: replace(a, type=TpmSt.ATTEST_NV)), invalid(Reason.MALFORMED),
        golden=TCG)
    add("tcg::signature-foreign-key", "TcgDefect", tpm, "tpmSAttest signed by a key the AK certificate does not "
        "certify", "tpm.sign", "/signature", _tcg_foreign_signature, invalid(Reason.SIGNATURE_INVALID), resign=False,
        golden=TCG)
    add("tcg::root-impostor", "TcgDefect", tpm, "an AK under another root of the same name signs, its "
        "certificate in certs", "chain.replace", "/certs", _tcg_foreign_root, invalid(Reason.CERT_SIGNATURE_INVALID),
        resign=False, golden=TCG)
    add("tcg::name-mismatch", "TcgDefect", tpm, "certify info names another object, re-signed", "tpm.attest",
        "/attested/name", _tcg_resigned(lambda a: replace(a, attested=CertifyInfo(b"\x00\x0b" + bytes(32),
                                                                                 b"\x00\x0b" + bytes(32)))),
        invalid(Reason.KEY_MISMATCH), golden=TCG)
    add("tcg::qualified-name-is-name", "TcgDefect", tpm, "certify info's qualifiedName is the Name itself, not "
        "H(QN(parent) ‖ Name) as a TPM writes it, re-signed", "tpm.attest", "/attested/qualifiedName",
        _tcg_resigned(_qualified_name_is_name), invalid(Reason.MALFORMED), golden=TCG)
    add("tcg::duplicable-key", "TcgDefect", tpm, "tpmTPublic without fixedTPM/fixedParent, re-signed",
        "tpm.public", "/tpmTPublic/objectAttributes", _tcg_resigned(edit_public=lambda p: replace(
            p, object_attributes=p.object_attributes & ~(TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT))),
        invalid(Reason.ATTR_EXTRACTABLE), golden=TCG)
    add("tcg::imported-key", "TcgDefect", tpm, "tpmTPublic without sensitiveDataOrigin, re-signed",
        "tpm.public", "/tpmTPublic/objectAttributes", _tcg_resigned(edit_public=lambda p: replace(
            p, object_attributes=p.object_attributes & ~TpmaObject.SENSITIVE_DATA_ORIGIN)),
        invalid(Reason.ATTR_NOT_LOCAL), golden=TCG)
    add("tcg::truncated", "TcgDefect", tpm, "TcgAttestCertify cut after signature, its SEQUENCE length unchanged",
        "der.rewrite", "/attestations/0",
        lambda b: _statement_edit(lambda s: replace(s, stmt=tcg.statement(*_tcg_parts(b)[:2], b"")[:-2]))(b),
        invalid(Reason.MALFORMED), golden=TCG)
    add("tcg::no-tpm-public", "TcgDefect", tpm, "TcgAttestCertify without the OPTIONAL tpmTPublic: nothing ties "
        "the certified Name to the CSR's key", "der.rewrite", "/attestations/0/tpmTPublic", _tcg_without_public,
        invalid(Reason.MISSING_INPUT), golden=TCG)
    add("variant::tcg-tpmt-signature", "TcgSignatureEncoding", _csr_note("BASIC", Severity.INFO,
        "TcgAttestCertify.signature as a marshalled TPMT_SIGNATURE instead of the bare signature",
        "the draft leaves the encoding open (its helpers say TPMT_SIGNATURE, its sample is bare): a verifier that "
        "reads one form rejects the other"), "signature as TPMT_SIGNATURE", "tpm.sign", "/signature",
        _tcg_signature("tpmt"), valid(), golden=TCG)
    add("variant::tcg-another-tpms-ak-certificate-first", "TcgAkSelection", _csr_note("BASIC", Severity.INFO,
        "certs lists another TPM's AK certificate (same root) before the signing AK's",
        "certs is an unordered bag: a verifier that takes the first AK certificate rejects a genuine statement",
        CSR_DRAFT), "certs = [another TPM's AK certificate, the signing AK's]", "chain.reorder", "/certs",
        _another_tpms_ak_first, valid(), golden=TCG)
    add("tcg::two-ak-certificates-verify", "TcgAkSelection", _csr_note("STRUCTURE", med,
        "certs holds two different AK certificates for the key that signed tpmSAttest",
        "which certificate vouches for the TPM (its name, its validity) is a matter of order"),
        "certs = [the AK certificate, a second certificate of the same AK key with another serial]", "chain.add",
        "/certs/1", _ak_certificate_reissued, invalid(Reason.MALFORMED), golden=TCG)
    add("primus::zip-damaged", "InnerDefect", inner, "one bit of the Primus zip flipped", "bytes.flip_bit",
        "/attestations/0/stmt/files/zip", _native_edit(_flip_primary), invalid(Reason.MALFORMED), golden=PRIMUS,
        resign=False)
    add("primus::signed-by-tpm-ak", "InnerCrossVendorKey", _csr_note("CHAIN", crit,
        "the Primus statement's XML is signed by the request's TPM AK, certified under the TcgAttestCertify root "
        "that the merged roots file carries",
        "a CSR verifier that hands every inner format the whole roots file, with a Primus verifier that only asks "
        "whether the path ends at some trusted root, accepts a TPM owner's made-up Primus XML claiming a key was "
        "generated on the HSM and never extractable", "shared/specs/primus.md 1.5", CSR_DRAFT),
        "Primus zip: .sig by the TPM AK, chain file = the AK certificate, loose PEMs = the AK's key",
        "sig.sign+chain.replace", "/attestations/0/stmt/files/zip", _primus_signed_by_tpm_ak,
        invalid(Reason.CHAIN_UNTRUSTED), golden=MULTI, resign=False)
    add("primus::format-name-mismatch", "NativeStatement", _csr_note("STRUCTURE", med,
        "an HsmsimStatement whose format name is not its type's", "a verifier would check it with the wrong format"),
        "Primus type, format name luna-pkc", "statement.rewrite", "/attestations/0/stmt/format",
        _native_edit(lambda e: replace(e, format="luna-pkc")), invalid(Reason.MALFORMED), golden=PRIMUS)
    add("webauthn::fido-u2f-signed-by-tpm-ak", "InnerCrossVendorKey", _csr_note("CHAIN", crit,
        "the WebAuthn fido-u2f statement is signed by the request's TPM AK (x5c = its certificate), certified under "
        "the TcgAttestCertify root that the merged roots file carries",
        "a CSR verifier that hands the webauthn format the whole roots file, whose fido-u2f path asks only that x5c "
        "chains to some trusted root, accepts a TPM owner vouching as a security key that any P-256 key was "
        "generated in it and never leaves", "WebAuthn L3 7.1 step 23, 8.6", CSR_DRAFT),
        "fido-u2f attStmt: sig by the TPM AK, x5c = the AK certificate", "sig.sign+chain.replace",
        "/attestations/0/stmt/files/record", _webauthn_statement({"fmt": "fido-u2f"}, _u2f_signed_by_tpm_ak),
        invalid(Reason.CHAIN_UNTRUSTED), golden=WEBAUTHN, resign=False)
    add("webauthn::packed-self-attestation", "VouchesForNothing", _csr_note("BINDING", crit,
        "the only statement is a WebAuthn packed self attestation: the CSR key signs its own registration",
        "a verifier that only checks each statement's key accepts any software key: nothing says where it was "
        "generated or that it cannot leave", CSR_DRAFT, "WebAuthn L3 8.2"),
        "packed attStmt {alg, sig} by the credential key, no x5c", "statement.replace", "/attestations/0",
        _webauthn_statement({"fmt": "packed", "attestation": "self"}), invalid(Reason.MISSING_INPUT),
        golden=WEBAUTHN)
    add("platform::pkix-evidence-of-another-hsm", "TwoPlatforms", _csr_note("BINDING", high,
        "a Primus statement and PKIX Evidence about one key name two HSMs of the same vendor (hwserial 99999999)",
        "a verifier that checks each statement alone accepts one non-extractable key held by two devices",
        CSR_DRAFT), "PKIX Evidence of the same key from hwserial 99999999", "statement.replace", "/attestations/1",
        _pkix_of_another_hsm, invalid(Reason.ATTR_CONFLICT), golden=MULTI)
    crmf, crmf_tcg, crmf_multi = CRMF_GOLDENS
    pop = _csr_note("BINDING", crit, "the CertReqMsg has no valid proof of possession by the template's key",
                    "a CA certifies a key the requester may not hold", CSR_DRAFT, "RFC 4211 4.1")
    add("crmf::pop-signed-by-other-key", "CrmfProofOfPossession", pop, "POPOSigningKey by another key", "crmf.sign",
        "/popo/signature", _csr_signed_by_other, invalid(Reason.CSR_SIGNATURE_INVALID), golden=crmf, form=layout.CRMF)
    add("crmf::pop-bit-flip", "CrmfProofOfPossession", pop, "last bit of the POPOSigningKey signature flipped",
        "bytes.flip_bit", "/popo/signature", _csr_post(lambda d: mutate.flip_bit(d, len(d) * 8 - 1)),
        invalid(Reason.CSR_SIGNATURE_INVALID), golden=crmf, form=layout.CRMF)
    add("crmf::pop-ra-verified", "CrmfProofOfPossession", pop, "ProofOfPossession raVerified: no signature",
        "crmf.popo", "/popo", _set_draft(popo_signed=False), invalid(Reason.CSR_SIGNATURE_INVALID), golden=crmf,
        form=layout.CRMF)
    add("crmf::two-extensions", "AttributeCount", shape, "the id-aa-attestation extension twice in the template",
        "crmf.extensions", "/certReq/certTemplate/extensions", _set_draft(attributes=2),
        invalid(Reason.ATTR_CONFLICT), golden=crmf, form=layout.CRMF)
    add("crmf::extension-absent", "AttributeMissing", _csr_note("STRUCTURE", high, "no attestation attribute",
        "the CA has nothing to check"), "the template carries no id-aa-attestation extension", "crmf.extensions",
        "/certReq/certTemplate/extensions", _set_draft(attributes=0), invalid(Reason.ATTR_MISSING), golden=crmf,
        form=layout.CRMF)
    add("crmf::pkix-evidence-other-key", "StatementOtherKey", binding, "PKIX Evidence of another key in a "
        "CertReqMsg", "statement.replace", "/attestations/0", _other_key_statement(), invalid(Reason.KEY_MISMATCH),
        golden=crmf, form=layout.CRMF)
    add("crmf::tcg-other-key", "StatementOtherKey", binding, "TcgAttestCertify of another key in a CertReqMsg",
        "statement.replace", "/attestations/0", _other_key_statement(), invalid(Reason.KEY_MISMATCH),
        golden=crmf_tcg, form=layout.CRMF)
    add("crmf::second-statement-other-key", "StatementOtherKey", binding, "Primus then PKIX Evidence of another "
        "key in a CertReqMsg", "statement.replace", "/attestations/1", _other_key_statement(1),
        invalid(Reason.KEY_MISMATCH), golden=crmf_multi, form=layout.CRMF)
    add("crmf::variant::pkix-evidence-other-key-first", "EvidenceKeySelection", _csr_note("BINDING", high,
        "inner PKIX Evidence reports another, extractable key of the HSM before the requested key",
        "a verifier that judges the Evidence without the request's key (as for a CertReqMsg it once did) applies the "
        "key policy to every key entity and rejects a genuine request", CSR_DRAFT, EVIDENCE_DRAFT),
        "key entities: another key (extractable), then the requested key; re-signed by the AK", "statement.replace",
        "/attestations/0", _pkix_inner(_extractable_other_key_first), valid(), golden=crmf, form=layout.CRMF)
    template = _csr_note("STRUCTURE", high, "a CertTemplate field repeated or out of order (RFC 4211 5: [0] to [9], "
                         "each at most once, in order)", "a lenient parser keeps one of two publicKey fields: which "
                         "key the CA certifies is a matter of the parser", CSR_DRAFT, "RFC 4211 5")
    add("crmf::template-public-key-twice", "CrmfTemplate", template, "publicKey [6] of another key, then the "
        "request's own, the CertRequest signed anew by the key", "der.insert", "/certReq/certTemplate/publicKey",
        _crmf_template(_public_key_twice), invalid(Reason.MALFORMED), golden=crmf, form=layout.CRMF)
    add("crmf::template-out-of-order", "CrmfTemplate", template, "extensions [9] before subject [5] and publicKey "
        "[6], the CertRequest signed anew by the key", "der.reorder", "/certReq/certTemplate",
        _crmf_template(lambda _b, fields: [fields[-1], *fields[:-1]]), invalid(Reason.MALFORMED), golden=crmf,
        form=layout.CRMF)
    add("crmf::ber-length-popo-signature", "NonDerLength", ber, "the POPOSigningKey's signature BIT STRING with a "
        "4-octet long-form length (the signature value unchanged: the proof of possession covers the CertRequest "
        "only)", "der.length", "/popo/signature", _crmf_popo_signature_long_length, invalid(Reason.MALFORMED),
        resign=False, golden=crmf, form=layout.CRMF)
    add("crmf::ber-length-subject", "NonDerLength", ber, "the Name inside the CertTemplate's subject [5] with a "
        "4-octet long-form length (a field the verdict does not read), the CertRequest signed anew by the key",
        "der.length", "/certReq/certTemplate/subject",
        _crmf_template(lambda _b, fields: [der_tlv(0xA5, _long_length(der_content(f))) if f[0] == 0xA5 else f
                                           for f in fields]), invalid(Reason.MALFORMED), golden=crmf, form=layout.CRMF)
    add("crmf::nonce-mismatch", "NonceMismatch", nonce, "the relying party's nonce differs", "file.set",
        "<label>.nonce", _set_draft(nonce=bytes(16)), invalid(Reason.CHALLENGE_MISMATCH), golden=crmf_tcg,
        form=layout.CRMF)
    add("crmf::truncated", "CsrStructure", _csr_note("STRUCTURE", med, "the CSR does not parse",
        "a lenient parser reads a partial request"), "CertReqMsg cut after 100 bytes", "bytes.truncate", "/",
        _csr_post(lambda d: mutate.truncate(d, 100)), invalid(Reason.MALFORMED), golden=crmf, form=layout.CRMF)
    return tuple(m)


def csr_notes() -> dict[str, FlagNote]:
    """Every flag the CSR attestation vectors use."""
    return flag_notes({**PROVENANCE_NOTES, "StrictKeyPolicy": STRICT_KEY_POLICY}, csr_mutations())


def csr_cases(seed: str) -> list[VectorCase]:
    """Goldens (:data:`CSR_GOLDENS`, :data:`CRMF_GOLDENS`) then every CSR attestation mutation, each trusting its
    roots file (a mutation may add the root a relying party keeps for another statement kind)."""
    kit = seeded_kit(seed)
    goldens: dict[str, tuple[tuple[str, str, tuple[str, ...]], str]] = {
        _golden_id(g): (g, layout.PKCS10) for g in CSR_GOLDENS}
    goldens.update({_golden_id(g, layout.CRMF): (g, layout.CRMF) for g in CRMF_GOLDENS})
    cases = []
    for golden_id, (golden, form) in goldens.items():
        bench = open_csr(kit, golden, form)
        what = "CRMF CertReqMsg" if form == layout.CRMF else "CSR"
        cases.append(VectorCase(
            id=golden_id, comment=f"unmutated {what} of a {golden[1]} key with {', '.join(golden[2])}",
            flags=("Golden",), expected=valid(), evidence=bench.render(), anchors=tuple(bench.draft.roots),
            validation_time=VALIDATION_TIME, provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in csr_mutations():
        bench = open_csr(kit, *goldens[mutation.golden])
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.render(), anchors=tuple(bench.draft.roots),
            validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing, golden=mutation.golden, operator=mutation.operator,
                                  path=mutation.path)))
    return cases
