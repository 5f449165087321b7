"""The ``purebred`` vector set: goldens per evidence kind and container, and one-defect mutations.

The world (:class:`PurebredKit`) is derived from the seed: a soft key store with one key per golden spec
and another key per spec, and one emulated device per inner format. A golden is opened as a
:class:`Bench` (the inner format's evidence as envelope parts, the request's attributes, the target
certificate); a defect edits the bench, which is then rendered. The request is always re-signed by its key
unless the defect is its signature; ``Resigned`` says the inner format's attestation key signed what the
defect changed, ``Stale`` that the defect is outside it or breaks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH, AttestationRequest, Device
from hsmsim.encoding import der_children, der_content, der_oid, der_sequence, der_tlv, pem
from hsmsim.formats import get_format
from hsmsim.formats.purebred import generate
from hsmsim.formats.purebred.envelope import (
    CHALLENGE_PASSWORD,
    ID_CCT_PKI_DATA,
    KINDS,
    WINDOWS,
    YUBIKEY,
    Kind,
    RequestDraft,
    certs_only,
    content_info,
    wrap,
)
from hsmsim.formats.purebred.layout import FORMAT, PUREBRED_ARC
from hsmsim.keystore.base import KeyPolicy, KeySpec, KeyType, StoredKey
from hsmsim.keystore.soft import SoftKeyStore, spec_of
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import reissue
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason

ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
VALIDATION_TIME = ATTEST_TIME + timedelta(days=1)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
GOLDENS = (
    ("android", "ec-p256", "request"),
    ("android", "rsa-3072", "request"),
    ("android", "ec-p256", "preenroll"),
    ("yubikey", "ec-p256", "request"),
    ("yubikey", "ec-p384", "request"),
    ("windows", "rsa-3072", "request"),
    ("windows", "rsa-3072", "preenroll"),
)
"""``(kind, key spec, container)`` of each golden; Windows ones only while ``ms-kast`` is registered."""
SPEC = "Purebred/SampleAttestations (README: attribute 1.3.6.1.4.1.37623.26.2/.3/.4), shared/interop README §6"
ANDROID_REQUEST, ANDROID_PREENROLL, YUBIKEY_REQUEST = GOLDENS[0], GOLDENS[2], GOLDENS[3]
WINDOWS_REQUEST = GOLDENS[5]
Golden = tuple[str, str, str]


def golden_id(golden: Golden) -> str:
    """``purebred::golden::<kind>[-preenroll]::<spec>``."""
    kind, spec, container = golden
    return f"{FORMAT}::golden::{kind}{'-preenroll' if container == 'preenroll' else ''}::{spec}"


def goldens() -> list[Golden]:
    """The goldens, one per inner kind, key spec and container."""
    return list(GOLDENS)


# -- the seeded world ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PurebredKit:
    """The keys and devices every vector is made of, derived from one seed."""

    seed: str
    store: SoftKeyStore
    keys: dict[str, StoredKey]
    other: dict[str, StoredKey]
    windows: dict[str, StoredKey]
    """The Windows goldens' keys: an RSA one may sign and decrypt, as the TPM keys of the three real Surface
    requests (TPMA_OBJECT 0x00060072); the Android and YubiKey goldens' keys sign only."""
    generated: dict[tuple[str, str], tuple[generate.Parts, RequestDraft, dict[bool, bytes]]] = field(
        default_factory=dict, compare=False)
    """What ``purebred`` generates for each (kind, spec), made (and signed) once: every bench starts from a copy
    (the target by container: pre-enrollment or not)."""

    @classmethod
    def build(cls, seed: str) -> PurebredKit:
        """Seed -> a soft key store with a key and another key per golden spec, and a Windows key per Windows
        golden spec."""
        store = SoftKeyStore(seed=seed)
        keys, other, windows = {}, {}, {}
        for index, spec in enumerate(sorted({g[1] for g in GOLDENS})):
            created = KEYS_CREATED + timedelta(hours=index)
            keys[spec] = store.generate(KeySpec.parse(spec), f"purebred-{spec}", created=created)
            other[spec] = store.generate(KeySpec.parse(spec), f"other-{spec}", created=created)
        for spec in sorted({g[1] for g in GOLDENS if g[0] == WINDOWS.name}):
            key_spec = KeySpec.parse(spec)
            windows[spec] = store.generate(key_spec, f"windows-{spec}", created=keys[spec].created,
                                           policy=KeyPolicy(decrypt=key_spec.key_type is KeyType.RSA))
        return cls(seed, store, keys, other, windows)

    def key(self, kind: Kind, spec: str) -> StoredKey:
        """The golden key of ``spec`` for evidence of ``kind``."""
        return self.windows[spec] if kind is WINDOWS else self.keys[spec]

    def request(self, kind: Kind, key: StoredKey, seed: str | None = None) -> AttestationRequest:
        """The request for ``key`` on the device of ``kind`` (of another seed: another manufacturer PKI)."""
        device = Device.from_seed(kind.inner_format, seed or self.seed)
        attesting = get_format(kind.inner_format).provision(device, "default")
        return AttestationRequest(device=device, partition="default", key=key, key_signer=self.store.signer(key),
                                  attesting=attesting, parameters={"kind": kind.name}, at=ATTEST_TIME)


# -- the workbench ------------------------------------------------------------------------------

EVIDENCE = "evidence"
"""Placeholder of an attribute value: the kind's ContentInfo, wrapped by :attr:`Bench.wrapper`."""


@dataclass
class Bench:
    """A golden opened up: the inner parts, the request's attributes and signer, the target, the files."""

    kit: PurebredKit
    kind: Kind
    key: StoredKey
    preenroll: bool
    parts: generate.Parts
    draft: RequestDraft
    attributes: list[tuple[str, list[bytes | str]]]
    target: bytes | None
    signer_infos: list[bytes] = field(default_factory=list)
    econtent: bytes | None = None
    content: bytes | None = None
    """A ContentInfo replacing the one made from ``parts``."""
    wrapper: Callable[[bytes], bytes] | None = None
    post: Callable[[bytes], bytes] | None = None
    extra_files: dict[str, bytes] = field(default_factory=dict)
    pem_request: bool = False
    bag_as_given: bool = False
    """The bag holds ``parts.certs`` in their order, not in DER SET OF order (as the real devices write it)."""

    @classmethod
    def open(cls, kit: PurebredKit, golden: Golden) -> Bench:
        """The golden ``(kind, spec, container)`` as a bench (what ``purebred`` generates for the key)."""
        kind, spec, container = KINDS[golden[0]], golden[1], golden[2]
        if (kind.name, spec) not in kit.generated:
            request = kit.request(kind, kit.key(kind, spec))
            made = generate.inner_parts(request, kind)
            kit.generated[kind.name, spec] = (made, generate.draft(request, kind, made.content), {
                preenroll: generate.target_certificate(request, kind, preenroll) for preenroll in (False, True)})
        made, template, targets = kit.generated[kind.name, spec]
        target = targets[container == "preenroll"]
        parts = replace(made, certs=list(made.certs), beside=dict(made.beside), roots=list(made.roots))
        draft = replace(template, attributes=list(template.attributes))
        attributes: list[tuple[str, list[bytes | str]]] = [
            (oid, list(values)) for oid, values in draft.attributes if oid != kind.oid]
        attributes.append((kind.oid, [EVIDENCE]))
        return cls(kit, kind, kit.key(kind, spec), container == "preenroll", parts, draft, attributes, target)

    def replace_parts(self, key: StoredKey, seed: str | None = None, kind: Kind | None = None) -> None:
        """The inner evidence of ``key`` (of a device under another seed's PKI), the rest unchanged."""
        roots = self.parts.roots
        self.parts = replace(generate.inner_parts(self.kit.request(kind or self.kind, key, seed), kind or self.kind),
                             roots=roots)

    def content_info(self) -> bytes:
        """The ContentInfo the attribute (or pre-enrollment container) carries."""
        if self.content is not None:
            return self.content
        if self.kind is WINDOWS:
            return self.parts.content
        return certs_only(self.parts.certs, signer_infos=self.signer_infos, econtent=self.econtent,
                          as_given=self.bag_as_given)

    def value(self) -> bytes:
        """The evidence attribute's value."""
        return (self.wrapper or (lambda c: wrap(self.kind, c)))(self.content_info())

    def render(self) -> Evidence:
        """The files, the request re-signed by ``draft.signer`` (then edited by ``post``)."""
        if self.preenroll:
            envelope = self.content_info()
        else:
            self.draft.attributes = [(oid, [self.value() if isinstance(v, str) else v for v in values])
                                     for oid, values in self.attributes]
            envelope = self.draft.build()
        if self.post is not None:
            envelope = self.post(envelope)
        if self.pem_request:
            envelope = pem(envelope, "CERTIFICATE REQUEST")
        files = generate.evidence_files(self.key.label, envelope, self.preenroll, self.target, self.parts)
        files.update(self.extra_files)
        return Evidence(FORMAT, files, next(iter(files)))

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """The inner format's root."""
        return tuple(self.parts.roots)


Op = Callable[[Bench], None]


# -- operators ----------------------------------------------------------------------------------

def _set(**values: object) -> Op:
    def apply(bench: Bench) -> None:
        for attr, value in values.items():
            setattr(bench, attr, value)
    return apply


def _attributes(fn: Callable[[Bench, list[tuple[str, list[bytes | str]]]], list[tuple[str, list[bytes | str]]]]
                ) -> Op:
    def apply(bench: Bench) -> None:
        bench.attributes = fn(bench, bench.attributes)
    return apply


def _without_evidence(bench: Bench, attrs: list[tuple[str, list[bytes | str]]]) -> list[tuple[str, list[bytes | str]]]:
    return [(oid, values) for oid, values in attrs if oid != bench.kind.oid]


def _evidence_values(values: list[bytes | str]) -> Op:
    return _attributes(lambda b, attrs: [(oid, list(values) if oid == b.kind.oid else v) for oid, v in attrs])


def _second_kind(bench: Bench) -> None:
    """A YubiKey attribute beside the Android one: the YubiKey's evidence of the same key."""
    yubikey = generate.inner_parts(bench.kit.request(YUBIKEY, bench.key), YUBIKEY)
    bench.attributes.append((YUBIKEY.oid, [wrap(YUBIKEY, yubikey.content)]))


def _other_key(bench: Bench) -> None:
    bench.replace_parts(bench.kit.other[bench.key.spec.name])


def _foreign_root(bench: Bench) -> None:
    bench.replace_parts(bench.key, seed=f"{bench.kit.seed}/foreign-root")


def _yubikey_foreign_root(bench: Bench) -> None:
    """The f9 re-issued (for another f9 key) by a root of the same name with another key; the golden slot
    certificate re-signed by that f9 key. Nothing else changes: the slot serial and device extensions stay."""
    f9 = x509.load_der_x509_certificate(bench.parts.certs[0])
    slot = x509.load_der_x509_certificate(bench.parts.certs[1])
    root = bench.parts.roots[0]
    root_key = derive_key(bench.kit.seed, "purebred/foreign-root/yubico-root", spec_of(root.public_key()))
    f9_key = derive_key(bench.kit.seed, "purebred/foreign-root/f9", spec_of(f9.public_key()))
    forged_f9 = reissue(f9, root_key, public_key=f9_key.public_key())
    resigned = reissue(slot, f9_key)
    bench.parts = replace(bench.parts, certs=[forged_f9.public_bytes(Encoding.DER), resigned.public_bytes(Encoding.DER),
                                              *bench.parts.certs[2:]])


def _yubikey_firmware_4(bench: Bench) -> None:
    """The golden key attested by a YubiKey 4.3.3 whose slot 9e keeps its default policies (PIN never, touch
    never): the shape of the real Purebred YubiKey requests."""
    request = bench.kit.request(YUBIKEY, bench.key)
    request = replace(request, parameters={**request.parameters, "firmware": "4.3.3", "pin_policy": "never",
                                           "touch_policy": "never"})
    bench.parts = replace(generate.inner_parts(request, YUBIKEY), roots=bench.parts.roots)


def _target_of_other_key(bench: Bench) -> None:
    other = bench.kit.other[bench.key.spec.name]
    bench.target = generate.target_certificate(bench.kit.request(bench.kind, other), bench.kind, bench.preenroll)


def _request_signed_by_other(bench: Bench) -> None:
    bench.draft.signer = bench.kit.store.signer(bench.kit.other[bench.key.spec.name])


def _request_of_other_key(bench: Bench) -> None:
    """The request (and target) of another key, carrying the golden key's evidence."""
    other = bench.kit.other[bench.key.spec.name]
    request = bench.kit.request(bench.kind, other)
    bench.draft = generate.draft(request, bench.kind, b"")
    bench.target = generate.target_certificate(request, bench.kind, bench.preenroll)


def _certs(fn: Callable[[list[bytes]], list[bytes]]) -> Op:
    def apply(bench: Bench) -> None:
        bench.parts = replace(bench.parts, certs=fn(list(bench.parts.certs)))
    return apply


def _bag_root_first(bench: Bench) -> None:
    """The bag in reversed chain order (root first), not DER-sorted."""
    bench.parts = replace(bench.parts, certs=bench.parts.certs[::-1])
    bench.bag_as_given = True


def _stray_leaf(bench: Bench) -> None:
    """A second leaf in the bag: the other key's attestation certificate."""
    other = generate.inner_parts(bench.kit.request(bench.kind, bench.kit.other[bench.key.spec.name]), bench.kind)
    bench.parts = replace(bench.parts, certs=[*bench.parts.certs, other.certs[0]])


def _flip_leaf_signature(certs: list[bytes]) -> list[bytes]:
    return [mutate.flip_bit(certs[0], len(certs[0]) * 8 - 1), *certs[1:]]


def _slot_signed_by_foreign_key(bench: Bench) -> None:
    slot = x509.load_der_x509_certificate(bench.parts.certs[1])
    f9 = x509.load_der_x509_certificate(bench.parts.certs[0])
    # the f9 key's spec: the forged signature differs from the genuine one in its bytes only, not its algorithm
    foreign = derive_key(bench.kit.seed, "purebred/foreign/f9", spec_of(f9.public_key()))
    forged = reissue(slot, foreign).public_bytes(Encoding.DER)
    bench.parts = replace(bench.parts, certs=[bench.parts.certs[0], forged, *bench.parts.certs[2:]])


def _issued_by_another_slot(bench: Bench) -> None:
    """The request (and target) of another key, whose slot certificate the golden slot's key issued: named for
    another slot, the golden slot certificate's extensions, the golden slot certificate as issuer; the bag holds
    the f9, the golden slot certificate and that one."""
    f9, slot = bench.parts.certs[:2]
    genuine = x509.load_der_x509_certificate(slot)
    other = bench.kit.other[bench.key.spec.name]
    assert other.public_key is not None
    forged = reissue(genuine, bench.kit.store.signer(bench.key), issuer=genuine.subject,
                     subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "YubiKey PIV Attestation 9c")]),
                     public_key=other.public_key)
    _request_of_other_key(bench)
    bench.parts = replace(bench.parts, certs=[f9, slot, forged.public_bytes(Encoding.DER), *bench.parts.certs[2:]])


EXCHANGE_KEY = ".ca-exchange.p8"


def _without_exchange_key(bench: Bench) -> None:
    """The Windows CA's exchange key not given, as for every real Surface request (its AIK information is enveloped
    to the Purebred CA): ``ms-kast`` cannot recover the AIK, so check 5 reads the CMC request's AIK CA."""
    bench.parts = replace(bench.parts, beside={s: d for s, d in bench.parts.beside.items() if s != EXCHANGE_KEY})


def _cmc_certificates(content: bytes, certificates: list[bytes]) -> bytes:
    """The CMC ContentInfo ``content`` with its SignedData's certificates replaced (outside what its signerInfo
    signs)."""
    oid, explicit = der_children(der_content(content))
    fields = der_children(der_content(der_content(explicit)))
    fields = [der_tlv(0xA0, b"".join(certificates)) if f[0] == 0xA0 else f for f in fields]
    return der_sequence(oid, der_tlv(0xA0, der_sequence(*fields)))


def _anchor_copy_only(bench: Bench) -> None:
    """The AIK unrecoverable and the CMC request carrying only a copy of the trust anchor, no AIK CA."""
    _without_exchange_key(bench)
    root = bench.anchors[0].public_bytes(Encoding.DER)
    bench.parts = replace(bench.parts, content=_cmc_certificates(bench.parts.content, [root]))


def _foreign_aik_ca(bench: Bench) -> None:
    """The key's CMC request made under another TPM PKI (another seed's root and AIK CA, which the CMC carries),
    the AIK unrecoverable."""
    _foreign_root(bench)
    _without_exchange_key(bench)


def _pkcs7_type(content_type: str) -> Op:
    def apply(bench: Bench) -> None:
        bench.content = content_info(content_type, der_sequence(der_tlv(0x02, b"\x00")))
    return apply


def _note(bug: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug, severity, description, effect, refs or (SPEC,))


# -- the catalogue ------------------------------------------------------------------------------

def mutations() -> list[Mutation]:
    """Every Purebred defect, in catalogue order (Windows ones only while ``ms-kast`` is registered)."""
    m: list[Mutation] = []
    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Op,
            expected: dict[Profile, Reason], *, resign: bool = True, golden: Golden = ANDROID_REQUEST) -> None:
        m.append(Mutation(f"{FORMAT}::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          golden_id(golden)))

    count = _note("STRUCTURE", high, "the request does not carry exactly one Purebred evidence attribute with one "
                  "value", "a CA reading the first one checks evidence it does not see whole")
    add("attribute::absent", "AttributeMissing", _note("STRUCTURE", high, "no Purebred evidence attribute",
        "the CA has nothing to check"), "the request carries only its challengePassword", "csr.attributes",
        "/attributes", _attributes(_without_evidence), invalid(Reason.ATTR_MISSING))
    add("attribute::two-attributes", "AttributeCount", count, "the Android attribute twice", "csr.attributes",
        "/attributes", _attributes(lambda b, attrs: [*attrs, (b.kind.oid, [EVIDENCE])]), invalid(Reason.ATTR_CONFLICT))
    add("attribute::android-and-yubikey", "AttributeCount", count, "an Android and a YubiKey attribute about the "
        "same key", "csr.attributes", "/attributes", _second_kind, invalid(Reason.ATTR_CONFLICT))
    add("attribute::two-values", "AttributeCount", count, "the Android attribute with its value twice",
        "csr.attributes", "/attributes/2/values", _evidence_values([EVIDENCE, EVIDENCE]), invalid(Reason.ATTR_CONFLICT))
    add("attribute::no-value", "AttributeCount", count, "the Android attribute with an empty value set",
        "csr.attributes", "/attributes/2/values", _evidence_values([]), invalid(Reason.MALFORMED))
    add("attribute::unknown-kind", "UnknownKind", _note("EXTENSIBILITY", high, "an attribute under the Purebred "
        "arc that names no known evidence kind", "skipping it would enroll on evidence nobody checked"),
        "the evidence under 1.3.6.1.4.1.37623.26.9", "csr.attributes", "/attributes/2/type",
        _attributes(lambda b, attrs: [(f"{PUREBRED_ARC}.9" if oid == b.kind.oid else oid, v) for oid, v in attrs]),
        invalid(Reason.UNSUPPORTED))
    add("attribute::challenge-password-absent", "LegalVariant", _note("BASIC", Severity.INFO, "a legal variant of "
        "the request", "a verifier that rejects it is too strict"), "no SCEP challengePassword",
        "csr.attributes", "/attributes/1", _attributes(lambda b, attrs: [a for a in attrs if a[0] !=
                                                                         CHALLENGE_PASSWORD]), valid())
    add("request::pem-armoured", "LegalVariant", _note("BASIC", Severity.INFO, "a legal variant of the request",
        "a verifier that rejects it is too strict"), "the request PEM-armoured", "file.encode", "/",
        _set(pem_request=True), valid())

    wrapping = _note("STRUCTURE", med, "the attribute value is not wrapped the way the real requests wrap it",
                     "a verifier tolerant of either wrapping reads a value no Purebred client sends")
    add("wrap::android-bare-content-info", "Wrapping", wrapping, "the Android ContentInfo not wrapped in an OCTET "
        "STRING", "asn1.unwrap", "/attributes/2/values/0", _set(wrapper=lambda c: c), invalid(Reason.MALFORMED))
    add("wrap::yubikey-octet-wrapped", "Wrapping", wrapping, "the YubiKey ContentInfo wrapped in an OCTET STRING",
        "asn1.wrap", "/attributes/1/values/0", _set(wrapper=lambda c: der_tlv(0x04, c)), invalid(Reason.MALFORMED),
        golden=YUBIKEY_REQUEST)
    add("wrap::android-octet-trailing", "Wrapping", wrapping, "two bytes after the ContentInfo inside the OCTET "
        "STRING", "asn1.append", "/attributes/2/values/0", _set(wrapper=lambda c: der_tlv(0x04, c + b"\x05\x00")),
        invalid(Reason.MALFORMED))
    add("wrap::android-octet-double", "Wrapping", wrapping, "the OCTET STRING wrapped in a second OCTET STRING",
        "asn1.wrap", "/attributes/2/values/0", _set(wrapper=lambda c: der_tlv(0x04, der_tlv(0x04, c))),
        invalid(Reason.MALFORMED))

    bag = _note("STRUCTURE", med, "the ContentInfo is not a certs-only SignedData holding the chain",
                "the verifier reads certificates from a structure the device does not send")
    add("cms::enveloped-data", "ContentShape", bag, "contentType id-envelopedData", "asn1.set", "/contentType",
        _pkcs7_type("1.2.840.113549.1.7.3"), invalid(Reason.MALFORMED))
    add("cms::no-certificates", "ContentShape", _note("CHAIN", high, "the SignedData carries no certificate",
        "nothing is attested"), "certificates removed", "cms.certificates", "/certificates", _certs(lambda c: []),
        invalid(Reason.MISSING_INPUT))
    add("cms::truncated", "ContentShape", bag, "the SignedData cut in half inside its OCTET STRING", "bytes.truncate",
        "/attributes/2/values/0", lambda b: _set(content=b.content_info()[: len(b.content_info()) // 2])(b),
        invalid(Reason.MALFORMED))
    extra = _note("STRUCTURE", low, "a SignedData that is not certs-only",
                  "strict refuses content a certs-only bag never carries")
    add("cms::signer-info", "NotCertsOnly", extra, "a (meaningless) signerInfo in the bag", "cms.signerInfos",
        "/signerInfos", _set(signer_infos=[der_sequence(der_tlv(0x02, b"\x01"))]),
        strict_only(Reason.UNEXPECTED_CONTENT))
    add("cms::econtent", "NotCertsOnly", extra, "eContent present in the bag", "cms.eContent",
        "/encapContentInfo/eContent", _set(econtent=b"hello"), strict_only(Reason.UNEXPECTED_CONTENT))
    add("cms::pki-data-type", "ContentShape", bag, "the Android bag with eContentType id-cct-PKIData, as a CMC "
        "request has", "asn1.set", "/encapContentInfo/eContentType", lambda b: _set(content=content_info(
            "1.2.840.113549.1.7.2", der_sequence(der_tlv(0x02, b"\x03"), der_tlv(0x31, b""),
                                                 der_sequence(der_oid(ID_CCT_PKI_DATA)),
                                                 der_tlv(0xA0, b"".join(b.parts.certs)), der_tlv(0x31, b""))))(b),
        invalid(Reason.MALFORMED), golden=ANDROID_REQUEST)

    binding = _note("BINDING", crit, "the evidence, the request and the target certificate do not concern one key",
                    "a CA certifies a key no evidence vouches for")
    add("binding::android-other-key", "EvidenceOtherKey", binding, "the Android chain of another key of the device",
        "evidence.replace", "/attributes/2", _other_key, invalid(Reason.KEY_MISMATCH))
    add("binding::yubikey-other-key", "EvidenceOtherKey", binding, "the YubiKey attestation of another key",
        "evidence.replace", "/attributes/1", _other_key, invalid(Reason.KEY_MISMATCH), golden=YUBIKEY_REQUEST)
    add("binding::request-of-other-key", "EvidenceOtherKey", binding, "the request and target of another key carry "
        "the golden key's evidence", "csr.replace", "/", _request_of_other_key, invalid(Reason.KEY_MISMATCH))
    add("binding::target-other-key", "TargetOtherKey", binding, "a target certificate for another key",
        "file.replace", "<label>_target.der", _target_of_other_key, invalid(Reason.KEY_MISMATCH))
    add("binding::yubikey-target-other-key", "TargetOtherKey", binding, "a target certificate for another key",
        "file.replace", "<label>_target.der", _target_of_other_key, invalid(Reason.KEY_MISMATCH),
        golden=YUBIKEY_REQUEST)
    add("binding::preenroll-target-other-key", "TargetOtherKey", binding, "the pre-enrollment bag beside a target "
        "certificate for another key", "file.replace", "<label>_target.der", _target_of_other_key,
        invalid(Reason.KEY_MISMATCH), golden=ANDROID_PREENROLL)
    add("target::absent", "TargetMissing", _note("BINDING", low, "no target certificate beside the request",
        "legal: the request's key is bound by the request itself"), "the target certificate removed",
        "file.remove", "<label>_target.der", _set(target=None), valid())
    add("target::preenroll-absent", "TargetMissing", _note("BINDING", med, "a pre-enrollment container without its "
        "target certificate", "strict refuses: nothing binds the attested key to a certificate"),
        "the pre-enrollment bag alone", "file.remove", "<label>_target.der", _set(target=None),
        strict_only(Reason.MISSING_INPUT), golden=ANDROID_PREENROLL)
    add("target::damaged", "TargetDamaged", _note("STRUCTURE", med, "the target certificate does not parse",
        "a lenient verifier skips the binding"), "the target certificate cut to 40 bytes", "bytes.truncate",
        "<label>_target.der", lambda b: _set(target=(b.target or b"")[:40])(b), invalid(Reason.MALFORMED))
    add("target::two-targets", "TargetDamaged", _note("STRUCTURE", med, "two target certificates",
        "which one the CA issued is ambiguous"), "a second target file", "file.add", "second_target.der",
        lambda b: _set(extra_files={"second_target.der": b.target or b""})(b), invalid(Reason.MALFORMED))

    signature = _note("BINDING", crit, "the request is not signed by its key", "no proof of possession")
    add("request::signed-by-other-key", "RequestSignature", signature, "request signed by another key", "csr.sign",
        "/signature", _request_signed_by_other, invalid(Reason.CSR_SIGNATURE_INVALID))
    add("request::signature-bit-flip", "RequestSignature", signature, "last bit of the request signature flipped",
        "bytes.flip_bit", "/signature", _set(post=lambda d: mutate.flip_bit(d, len(d) * 8 - 1)),
        invalid(Reason.CSR_SIGNATURE_INVALID))
    add("request::yubikey-signed-by-other-key", "RequestSignature", signature, "request signed by another key",
        "csr.sign", "/signature", _request_signed_by_other, invalid(Reason.CSR_SIGNATURE_INVALID),
        golden=YUBIKEY_REQUEST)
    add("request::truncated", "RequestStructure", _note("STRUCTURE", med, "the request does not parse",
        "a lenient parser reads a partial request"), "request cut after 100 bytes", "bytes.truncate", "/",
        _set(post=lambda d: mutate.truncate(d, 100)), invalid(Reason.MALFORMED))

    chain = _note("INNER", high, "the inner evidence's own format rejects it",
                  "a Purebred verifier that only unwraps enrolls any device")
    add("inner::android-foreign-root", "InnerChain", chain, "the Android chain under another manufacturer PKI",
        "evidence.replace", "/attributes/2", _foreign_root, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("inner::yubikey-foreign-root", "InnerChain", chain, "the f9 certificate issued by another root of the same "
        "name (another f9 key), the slot certificate re-signed by it", "cert.replace", "/certificates/0",
        _yubikey_foreign_root, invalid(Reason.CERT_SIGNATURE_INVALID),
        resign=False, golden=YUBIKEY_REQUEST)
    add("inner::android-leaf-only", "InnerChain", chain, "the bag holds the attested certificate alone",
        "cms.certificates", "/certificates", _certs(lambda c: c[:1]), invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("inner::yubikey-no-f9", "InnerChain", chain, "the bag holds the slot certificate alone",
        "cms.certificates", "/certificates", _certs(lambda c: c[1:2]), invalid(Reason.CHAIN_INCOMPLETE), resign=False,
        golden=YUBIKEY_REQUEST)
    add("inner::android-two-leaves", "InnerChain", chain, "the attestation certificate of another key in the bag",
        "cms.certificates", "/certificates", _stray_leaf, invalid(Reason.MALFORMED), resign=False)
    add("inner::android-leaf-signature", "InnerChain", chain, "last bit of the leaf's signature flipped",
        "bytes.flip_bit", "/certificates/0/signature", _certs(_flip_leaf_signature),
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("inner::yubikey-slot-not-by-f9", "InnerChain", chain, "the slot certificate signed by a key that is not "
        "the f9's", "cert.sign", "/certificates/1", _slot_signed_by_foreign_key,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False, golden=YUBIKEY_REQUEST)
    add("inner::yubikey-issued-by-another-slot", "InnerIssuedByAnotherSlot", _note("CHAIN", crit, "the YubiKey "
        "attestation certificate is issued by another slot's attestation certificate, chained through the real f9",
        "a verifier that takes whatever certificate signs the attestation as the f9 enrolls a software key as a "
        "YubiKey's; on the path from the attestation, the f9's pathlen 0 forbids a CA below it",
        SPEC, "RFC 5280 6.1.4(l)"), "the request and target of another key, its slot 9c certificate issued by the "
        "golden slot key; the bag holds f9, golden slot certificate, that one", "cert.replace", "/certificates",
        _issued_by_another_slot, invalid(Reason.CERT_PATH_LENGTH), resign=False, golden=YUBIKEY_REQUEST)
    add("inner::android-challenge-mismatch", "InnerChallenge", chain, "the relying party's challenge differs from "
        "the attested one", "file.set", "<label>.challenge",
        lambda b: _set(parts=replace(b.parts, beside={".challenge": b"another-challenge"}))(b),
        invalid(Reason.CHALLENGE_MISMATCH))
    add("inner::android-bag-root-first", "LegalVariant", _note("BASIC", Severity.INFO, "a legal variant of the "
        "request", "a verifier that rejects it is too strict"), "the bag lists the chain root first (as the Pixel 1 "
        "pre-enrollment does): a SET OF has no order", "cms.certificates", "/certificates",
        _bag_root_first, valid())
    add("inner::android-bag-chain-order", "LegalVariant", _note("BASIC", Severity.INFO, "a legal variant of the "
        "request", "a verifier that rejects it is too strict"), "the bag lists the chain leaf first, not in the DER "
        "order the real devices write: a SET OF has no order", "cms.certificates", "/certificates",
        _set(bag_as_given=True), valid())
    add("inner::yubikey-firmware-4-3-3", "YubiKey4", _note("CHAIN", Severity.INFO, "a YubiKey 4 (firmware 4.3.3), "
        "as every published Purebred YubiKey request: its f9 carries no basicConstraints, its slot certificate no "
        "form factor", "genuine evidence: structural takes the f9 as a CA by position; strict follows RFC 5280 "
        "6.1.4(k) (no basicConstraints: not a CA)", "Purebred/SampleAttestations Yubikey_4_3_3", "RFC 5280 6.1.4(k)"),
        "YubiKey firmware 4.3.3, slot 9e with its default policies (PIN never, touch never)", "device.replace",
        "/certificates", _yubikey_firmware_4, strict_only(Reason.CERT_NOT_CA), golden=YUBIKEY_REQUEST)
    add("wrap::windows-octet-wrapped", "Wrapping", wrapping, "the CMC ContentInfo wrapped in an OCTET STRING",
        "asn1.wrap", "/attributes/2/values/0", _set(wrapper=lambda c: der_tlv(0x04, c)),
        invalid(Reason.MALFORMED), golden=WINDOWS_REQUEST)
    add("binding::windows-other-key", "EvidenceOtherKey", binding, "the CMC request of another key",
        "evidence.replace", "/attributes/2", _other_key, invalid(Reason.KEY_MISMATCH), golden=WINDOWS_REQUEST)
    add("binding::windows-target-other-key", "TargetOtherKey", binding, "a target certificate for another key",
        "file.replace", "<label>_target.der", _target_of_other_key, invalid(Reason.KEY_MISMATCH),
        golden=WINDOWS_REQUEST)
    add("aik::windows-exchange-key-absent", "AikUnrecovered", _note("CHAIN", Severity.INFO, "the Windows CA's exchange "
        "key is not given, as for every real Surface request (the AIK information is enveloped to the Purebred CA)",
        "genuine evidence: structural accepts on the CMC's AIK CA under the TPM root, with tpm_signature_checked "
        "false and no key-attribute claims; strict needs the TPM signature checked"), "the .ca-exchange.p8 removed",
        "file.remove", "<label>.ca-exchange.p8", _without_exchange_key, strict_only(Reason.MISSING_INPUT),
        golden=WINDOWS_REQUEST)
    aik_ca = _note("CHAIN", crit, "the AIK is not recovered and the CMC request carries no AIK CA issued under the "
                   "trusted TPM root", "a verifier content with any certificate that chains to an anchor (a copy of "
                   "the anchor itself, or another PKI's) accepts a request made entirely in software: a software "
                   "key, a key blob claiming fixedTPM, a KADS signed by any key", SPEC, "docs/formats/purebred.md "
                   "check 5")
    add("aik::windows-anchor-copy-only", "AikCaMissing", aik_ca, "the exchange key removed; the CMC request carries "
        "only a copy of the trust anchor, no AIK CA", "cms.certificates", "/certificates", _anchor_copy_only,
        invalid(Reason.MISSING_INPUT), resign=False, golden=WINDOWS_REQUEST)
    add("aik::windows-foreign-aik-ca", "AikCaUntrusted", aik_ca, "the exchange key removed; the key's CMC request "
        "made under another TPM PKI, its AIK CA and root in the CMC", "evidence.replace", "/attributes/2",
        _foreign_aik_ca, {Profile.STRUCTURAL: Reason.CHAIN_UNTRUSTED, Profile.STRICT: Reason.MISSING_INPUT},
        resign=False, golden=WINDOWS_REQUEST)
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the Purebred vectors use."""
    return flag_notes(PROVENANCE_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """Goldens (:data:`GOLDENS` whose inner format is registered) then every mutation."""
    kit = PurebredKit.build(seed)
    by_id = {golden_id(g): g for g in goldens()}
    cases = []
    for case_id, golden in by_id.items():
        bench = Bench.open(kit, golden)
        kind, spec, container = golden
        cases.append(VectorCase(
            id=case_id, comment=f"unmutated Purebred {container} of a {spec} key with {kind} evidence",
            flags=("Golden",), expected=valid(), evidence=bench.render(), anchors=bench.anchors,
            validation_time=VALIDATION_TIME, provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = Bench.open(kit, by_id[mutation.golden])
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.render(), anchors=bench.anchors,
            validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing, golden=mutation.golden, operator=mutation.operator,
                                  path=mutation.path)))
    return cases
