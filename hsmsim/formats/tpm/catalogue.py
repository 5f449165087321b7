"""The webauthn vector set: golden TPM registrations and one-defect mutations with their expected verdicts.

Each :class:`Mutation` edits one field of a golden :class:`Draft` (the generator's own input),
which is then rendered: edits made before signing are signed by the genuine AK (``Resigned``),
edits made after it leave the signature as it was (``Stale``). Everything is derived from the
seed: keys, serials, challenges, credential ids, Faker relying-party names, fixed times.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH, AttestationRequest, Device
from hsmsim.formats.tpm.device import EmulatedTpm
from hsmsim.formats.tpm.format import TpmAkProvider
from hsmsim.formats.tpm.generate import Draft, StatementDraft, chain_der
from hsmsim.formats.tpm.layout import DEFAULT_PKI_PROFILE, TpmPkiProfile
from hsmsim.formats.tpm.marshal import TpmAlg, TpmaObject, TpmSt
from hsmsim.formats.tpm.pki import (
    EMULATED_AAGUID,
    FIDO_AAGUID_EXTENSION,
    TpmPki,
    aaguid_extension,
    ca_algorithms,
    tpm_san,
)
from hsmsim.formats.tpm.structures import (
    CertifyInfo,
    PcrSelection,
    QuoteInfo,
    Scheme,
    SymDef,
    TpmsAttest,
    TpmtPublic,
    name_of,
)
from hsmsim.formats.tpm.webauthn import draft_for
from hsmsim.keystore.base import KeyPolicy, KeySpec, KeyType, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, mutation_case, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, Ext, name, reissue, verbatim_extensions
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.container import FLAG_AT, FLAG_BS, FLAG_UP, FLAG_UV, client_data_json

GOLDEN_SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")
IMPORTED, EXTRACTABLE, DECRYPT_ONLY = "imported", "extractable", "decrypt-only"
VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
RS1 = -65535
"""COSE RSASSA-PKCS1-v1_5 with SHA-1, the ``alg`` of most Windows Hello TPM registrations."""
ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
WEBAUTHN = "WebAuthn L3 §8.3 (tpm attestation)"
SPEC = "shared/specs/other_formats.md 1"
TPM_PART2 = "TPM 2.0 Library Part 2"
TPM_PART1_NAMES = "TPM 2.0 Library Part 1, Names (Qualified Name)"


# -- the seeded world ------------------------------------------------------------------------

@dataclass(frozen=True)
class TpmKit:
    """Everything the vectors are made of, derived from one seed: ``tpm`` and ``identity`` are the emulated TPM
    and the AK of one :class:`TpmAkProvider` (a format, or the WebAuthn statement)."""

    seed: str
    device: Device
    tpm: EmulatedTpm
    identity: AttestationIdentity
    keys: dict[str, StoredKey]
    store: SoftKeyStore
    rp_id: str
    provider: TpmAkProvider
    """Whose TPM and AK these are: the variants that provision another AK ask it."""

    @property
    def pki(self) -> TpmPki:
        """The hierarchy that certifies :attr:`tpm`."""
        return self.tpm.pki

    @classmethod
    def build(cls, seed: str, provider: TpmAkProvider) -> TpmKit:
        """Seed → Faker relying party, a device with ``provider``'s TPM and AK, one key per golden spec (an RSA one
        also decrypts when ``provider``'s key template says its creator's RSA keys do) and the odd keys."""
        domain_word, serial, initialised_minutes, key_minutes = _faked(seed)
        rp_id = f"{domain_word}.example"
        device = Device(format="webauthn", serial=serial, seed=seed,
                        initialised=DEVICE_EPOCH + timedelta(minutes=initialised_minutes))
        store = SoftKeyStore(seed=seed)
        keys = {}
        for index, (spec, minutes) in enumerate(zip(GOLDEN_SPECS, key_minutes, strict=True)):
            key_spec = KeySpec.parse(spec)
            decrypt = provider.key_template.rsa_decrypt and key_spec.key_type is KeyType.RSA
            keys[spec] = store.generate(key_spec, f"passkey-{spec}", policy=KeyPolicy(decrypt=decrypt),
                                        created=KEYS_CREATED + timedelta(hours=index, minutes=minutes))
        p256 = KeySpec.parse("ec-p256")
        keys[IMPORTED] = store.import_key(derive_key(seed, "webauthn/imported", p256), "passkey-imported-ec-p256",
                                          created=KEYS_CREATED + timedelta(hours=5))
        keys[EXTRACTABLE] = store.generate(p256, "passkey-duplicable-ec-p256", policy=KeyPolicy(extractable=True),
                                           created=KEYS_CREATED + timedelta(hours=6))
        keys[DECRYPT_ONLY] = store.generate(KeySpec.parse("rsa-3072"), "storage-decrypt-rsa-3072",
                                            policy=KeyPolicy(sign=False, decrypt=True),
                                            created=KEYS_CREATED + timedelta(hours=7))
        return cls(seed, device, provider.emulated_tpm(device), provider.provision_ak(device), keys, store, rp_id,
                   provider)

    def draft(self, spec: str, identity: AttestationIdentity | None = None) -> Draft:
        """The golden draft of ``spec``: exactly what the format's ``generate`` renders for that key."""
        key = self.keys[spec]
        challenge = drbg(self.seed, f"webauthn/vectors/challenge/{spec}").read(32)
        request = AttestationRequest(
            device=self.device, partition="default", key=key, key_signer=self.store.signer(key),
            attesting=identity or self.identity, parameters={"rp_id": self.rp_id, "challenge": challenge},
            at=ATTEST_TIME)
        return draft_for(request, self.tpm.pki_profile)

    def other_key(self, spec: str = "ec-p256") -> StoredKey:
        """A second key of ``spec`` (another credential the TPM holds)."""
        return self.keys[IMPORTED] if spec == "ec-p256" else self.keys["rsa-3072"]


@functools.lru_cache(maxsize=8)
def _faked(seed: str) -> tuple[str, str, int, tuple[int, ...]]:
    """What a kit of ``seed`` draws from Faker, in the order it draws: the relying party's domain word, the TPM's
    serial, its initialisation (minutes after the device epoch) and each golden key's creation minute. Drawn once
    per seed and process: every TPM format's catalogue builds a kit, and Faker costs more than the rest of one."""
    fake = seeded_faker(seed, ["en_US"], "webauthn", providers=("company", "internet", "person"))
    return (fake.domain_word(), fake.numerify("VTPM-########"), fake.random_int(0, 60 * 24 * 20),
            tuple(fake.random_int(0, 59) for _ in GOLDEN_SPECS))


@dataclass
class Workbench:
    """A golden draft opened for one mutation, with the kit its operators draw on.

    ``draft`` is a WebAuthn :class:`Draft` or another statement consumer's draft (ACME); operators that
    need WebAuthn fields take :meth:`webauthn`.
    """

    kit: TpmKit
    draft: StatementDraft

    def webauthn(self) -> Draft:
        """The draft as a WebAuthn registration draft."""
        assert isinstance(self.draft, Draft)
        return self.draft

    def evidence(self) -> Evidence:
        """The rendered record and root."""
        return self.draft.evidence()


Operator = Callable[[Workbench], None]


# -- operators ------------------------------------------------------------------------------

def _set(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        for field_name, value in changes.items():
            setattr(bench.draft, field_name, value)
    return apply


def _attest(fn: Callable[[TpmsAttest], TpmsAttest]) -> Operator:
    return _set(attest_edit=fn)


def _statement(fn: Callable[[dict[str, Any]], None]) -> Operator:
    return _set(statement_edit=fn)


def _area(fn: Callable[[TpmtPublic], TpmtPublic]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.draft.area = fn(bench.draft.area)
    return apply


def _attributes(fn: Callable[[TpmaObject], int]) -> Operator:
    return _area(lambda area: replace(area, object_attributes=TpmaObject(fn(area.object_attributes))))


def _parameters(**changes: object) -> Operator:
    return _area(lambda area: replace(area, parameters=replace(area.parameters, **changes)))  # type: ignore[arg-type]


def _quote(attest: TpmsAttest) -> TpmsAttest:
    digest = hashlib.sha256(b"PCR 0-7 of the emulated TPM").digest()
    return replace(attest, type=TpmSt.ATTEST_QUOTE,
                   attested=QuoteInfo((PcrSelection(TpmAlg.SHA256, b"\xff\x00\x00"),), digest))


def _other_name(bench: Workbench) -> None:
    other = bench.kit.tpm.key_public(bench.kit.other_key(), bench.kit.provider.key_template)
    bench.draft.attest_edit = lambda a: replace(a, attested=CertifyInfo(other.name(), a.attested.qualified_name))  # type: ignore[union-attr]


def _qualified_name(edit: Callable[[CertifyInfo], bytes]) -> Operator:
    """certInfo's attested.qualifiedName replaced by ``edit`` of the certify info (re-signed by the AK)."""
    def change(attest: TpmsAttest) -> TpmsAttest:
        assert isinstance(attest.attested, CertifyInfo)
        return replace(attest, attested=replace(attest.attested, qualified_name=edit(attest.attested)))
    return _attest(change)


def _pub_area_trailing_byte(bench: Workbench) -> None:
    """pubArea with a byte after its TPMT_PUBLIC, and the AK certifying the Name of those bytes: a verifier that
    hashes what it received (WebAuthn §8.3) finds the Name right, so the encoding is the one defect."""
    draft = bench.draft
    sent = draft.area.marshal() + b"\x00"
    name = name_of(draft.area.name_alg, sent)
    draft.pub_area = sent
    draft.attest_edit = lambda a: replace(a, attested=CertifyInfo(name, a.attested.qualified_name))  # type: ignore[union-attr]


def _other_credential_key(bench: Workbench) -> None:
    bench.webauthn().credential_key = bench.kit.other_key().public_key


def _wrong_rp(bench: Workbench) -> None:
    draft = bench.webauthn()
    draft.expected_rp_id = draft.rp_id
    draft.rp_id = f"login.{draft.rp_id}"


def _client_data_type_get(bench: Workbench) -> None:
    draft = bench.webauthn()
    draft.client_data = client_data_json(draft.challenge, draft.origin, type_="webauthn.get")


def _client_data_framed(cross_origin: bool) -> Operator:
    """clientDataJSON of a page framed by https://attacker.example: topOrigin, and crossOrigin ``cross_origin``."""
    def apply(bench: Workbench) -> None:
        draft = bench.webauthn()
        draft.client_data = client_data_json(draft.challenge, draft.origin, cross_origin=cross_origin,
                                             top_origin="https://attacker.example")
    return apply


def _extra_data_without_client_data(bench: Workbench) -> None:
    bench.draft.extra_data = hashlib.sha256(bench.webauthn().auth_data()).digest()


def _ak_reissue(*, extensions: Callable[[list[Ext]], list[Ext]] | None = None, issuer_key: Any = None,
                **changes: object) -> Operator:
    """Re-issue the AK certificate (by the genuine intermediate unless ``issuer_key``) and put it in x5c. The
    extensions ``extensions`` leaves alone keep their encoding byte for byte."""
    def apply(bench: Workbench) -> None:
        kit = bench.kit
        cert = kit.identity.certificate
        kept = verbatim_extensions(cert)
        new = reissue(cert, issuer_key(kit) if issuer_key else kit.pki.intermediate_key,
                      **{**changes, "extensions": tuple(extensions(kept) if extensions is not None else kept)})
        bench.draft.x5c = chain_der([new, kit.pki.intermediate])
    return apply


def _without(oid: x509.ObjectIdentifier) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [e for e in exts if e.value.oid != oid]


def _replacing(oid: x509.ObjectIdentifier, new: Ext) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [new if e.value.oid == oid else e for e in exts]


def _non_critical(oid: x509.ObjectIdentifier) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [Ext(e.value, False) if e.value.oid == oid else e for e in exts]


WINDOWS_HELLO_AAGUID = uuid.UUID("08987058-cadc-4b81-b6e1-30de50dcbe96")
"""The AAGUID Windows Hello registrations with a hardware TPM carry (py_webauthn's and python-fido2's samples)."""


def _with_aaguid(aaguid: uuid.UUID, *, wrapped: bool = True) -> Callable[[list[Ext]], list[Ext]]:
    """The FIDO AAGUID extension (non-critical) holding ``aaguid`` (its 16 bytes bare unless ``wrapped`` in their
    OCTET STRING): in place of the certificate's own, else right after the SAN."""
    new = Ext(aaguid_extension(aaguid) if wrapped else x509.UnrecognizedExtension(FIDO_AAGUID_EXTENSION, aaguid.bytes))

    def edit(exts: list[Ext]) -> list[Ext]:
        if any(e.value.oid == FIDO_AAGUID_EXTENSION for e in exts):
            return _replacing(FIDO_AAGUID_EXTENSION, new)(exts)
        at = next(i for i, e in enumerate(exts) if e.value.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME) + 1
        return [*exts[:at], new, *exts[at:]]
    return edit


def _manufacturer(manufacturer: int) -> Operator:
    def apply(bench: Workbench) -> None:
        model = replace(bench.kit.tpm.model, manufacturer=manufacturer)
        _ak_reissue(extensions=_replacing(ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                          Ext(tpm_san(model), critical=True)))(bench)
    return apply


def _impostor_key(kit: TpmKit) -> Any:
    """A key of the genuine intermediate's type, so only the signature check tells them apart."""
    spec = KeySpec.parse(kit.pki.algorithms.intermediate_key_spec)
    return derive_key(kit.seed, "webauthn/impostor-intermediate", spec)


def _foreign_pki(bench: Workbench) -> None:
    """A complete TPM-shaped AK chain under another emulated root; its AK certifies the key. Its AK certificate has
    the kit's format's profile: for ACME it names the genuine device (the identifier the order asks for)."""
    kit = bench.kit
    permanent_id = kit.tpm.ek_urn() if kit.provider.names_device else None
    foreign = replace(kit.tpm, seed=f"{kit.seed}/unknown-root").ak_identity(
        created=kit.device.attestation_created, permanent_id=permanent_id, spec=kit.provider.ak_spec)
    bench.draft.trusted_root = kit.identity.root
    bench.draft.identity = foreign
    bench.draft.x5c = chain_der([*foreign.chain, foreign.root])


def _ecc_ak(bench: Workbench) -> None:
    kit = bench.kit
    key = derive_key(kit.seed, f"tpm/{kit.device.serial}/ak-ecc", KeySpec.parse("ec-p256"))
    bench.draft.identity = kit.tpm.ak_identity(created=kit.device.attestation_created, key=key, key_name="ak-ecc")


def _ecc_ak_signing_es384(bench: Workbench) -> None:
    _ecc_ak(bench)
    bench.draft.alg = -35


def provided_rsa_ak(bench: Workbench) -> None:
    """An RSA-2048 AK that the kit's provider provisions (with that format's AK certificate profile) signs
    instead."""
    kit = bench.kit
    key = derive_key(kit.seed, f"tpm/{kit.device.serial}/ak-rsa", KeySpec.parse("rsa-2048"))
    bench.draft.identity = kit.provider.provision_ak(kit.device, ("rsa-ak", key, kit.device.attestation_created))


def _intermediate_not_ca(bench: Workbench) -> None:
    kit = bench.kit
    intermediate = reissue(kit.pki.intermediate, kit.pki.root_key, extensions=tuple(
        Ext(x509.BasicConstraints(ca=False, path_length=None), True) if e.value.oid == ExtensionOID.BASIC_CONSTRAINTS
        else e for e in verbatim_extensions(kit.pki.intermediate)))
    bench.draft.x5c = chain_der([kit.identity.certificate, intermediate])


def _flip(member: str, bit: int) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        statement[member] = mutate.flip_bit(statement[member], bit)
    return edit


def _set_member(member: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        statement[member] = value
    return edit


def _drop_member(member: str) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        del statement[member]
    return edit


def _duplicate_fmt(encoded: bytes) -> bytes:
    # map(3) -> map(4) with a second "fmt": "none" pair appended: first-wins and last-wins decoders disagree.
    if encoded[0] != 0xA3:
        raise mutate.MutationError("attestationObject is not a 3-entry map")
    return b"\xa4" + encoded[1:] + b"\x63fmt\x64none"


def _indefinite_map(encoded: bytes) -> bytes:
    if encoded[0] != 0xA3:
        raise mutate.MutationError("attestationObject is not a 3-entry map")
    return b"\xbf" + encoded[1:] + b"\xff"


# -- the catalogue --------------------------------------------------------------------------

def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (WEBAUTHN, SPEC))


def shared_mutations(namespace: str, refs: tuple[str, ...], ak_title: str = "P-256") -> list[Mutation]:
    """The defects of the TPM statement itself, the same for every consumer (``namespace::<id>``, golden ec-p256).

    ``refs`` are the flag notes' default references (the consumer's specification); ``ak_title`` names the key type
    of the consumer's AK (:attr:`TpmAkProvider.ak_spec`), which an uncertified key of the same type impersonates.
    """
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "ec-p256") -> None:
        m.append(Mutation(f"{namespace}::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    def _note(bug_type: str, severity: Severity, description: str, effect: str, *specific: str) -> FlagNote:
        return FlagNote(bug_type, severity, description, effect, specific or refs)

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    forged = "a verifier would accept TPM claims the AK never signed"
    not_tpm = "anything the AK signs could pass as a TPM attestation"

    add("signature::sig-bit-flip", "SigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of the AK signature flipped", forged),
        "last bit of attStmt.sig inverted", "bytes.flip_bit", "attStmt.sig", _statement(_flip("sig", -1)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::other-key", "SigByOtherKey",
        _note("SIGNATURE_BYPASS", crit, f"certInfo signed by a {ak_title} key that is not the certified AK",
              "anyone with a key could mint TPM attestations"),
        f"an uncertified {ak_title} key signs certInfo", "sig.sign", "attStmt.sig",
        lambda b: setattr(b.draft, "signer", derive_key(b.kit.seed, "webauthn/foreign-ak",
                                                        KeySpec.parse(b.kit.provider.ak_spec))),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("attest::magic-not-generated", "MagicNotGenerated",
        _note("TPM_STRUCTURE", crit, "certInfo.magic is not TPM_GENERATED_VALUE (0xff544347)", not_tpm,
              WEBAUTHN, TPM_PART2 + " 10.12.8"),
        "magic 0x00544347, re-signed", "tpm.set", "certInfo.magic", _attest(lambda a: replace(a, magic=0x00544347)),
        invalid(Reason.MALFORMED), resign=True)
    add("attest::type-quote", "TypeQuote",
        _note("TPM_STRUCTURE", high, "certInfo is a TPM2_Quote (TPM_ST_ATTEST_QUOTE), not a TPM2_Certify",
              "a quote of PCRs would pass as a key certification", WEBAUTHN, TPM_PART2 + " 10.12.8"),
        "type 0x8018 with a TPMS_QUOTE_INFO body, re-signed", "tpm.set", "certInfo.type", _attest(_quote),
        invalid(Reason.MALFORMED), resign=True)
    add("attest::trailing-bytes", "CertInfoTrailingBytes",
        _note("ENCODING", med, "two bytes after TPMS_CERTIFY_INFO, covered by the signature",
              "py_webauthn and python-fido2 accept it; a lenient parser lets signed garbage through",
              SPEC + ".8"),
        "00 00 appended to certInfo before signing", "bytes.extend", "attStmt.certInfo",
        _set(cert_info_edit=lambda b: b + b"\x00\x00"), invalid(Reason.MALFORMED), resign=True)
    add("binding::extra-data-tpm2-tools-default", "ExtraDataTpm2ToolsDefault",
        _note("BINDING", crit, "extraData is 00ff55aa, what tpm2_certify writes when no qualifying data is given",
              "a certification made without any challenge passes as fresh", "shared/specs/round2_formats.md 2.1.2"),
        "extraData = 00ff55aa, re-signed", "tpm.set", "certInfo.extraData",
        _set(extra_data=bytes.fromhex("00ff55aa")), invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::attested-name-mismatch", "AttestedNameMismatch",
        _note("BINDING", crit, "certInfo certifies another TPM object's Name than pubArea's",
              "the AK vouches for one key while the credential is another"),
        "attested.name = Name of another key in the TPM, re-signed", "tpm.set", "certInfo.attested.name",
        _other_name, invalid(Reason.KEY_MISMATCH), resign=True)
    unqualified = ("a verifier that skips qualifiedName accepts a TPMS_CERTIFY_INFO no TPM writes: a certification "
                   "made outside a TPM by a key that signs anything, which a TPM's restricted AK refuses to sign")
    add("attest::qualified-name-wrong-size", "QualifiedNameWrongSize",
        _note("TPM_STRUCTURE", med, "attested.qualifiedName is SHA-256's nameAlg with a 20-byte digest: a TPM "
              "writes nameAlg ‖ H_nameAlg(QN(parent) ‖ Name), 34 bytes for a SHA-256 object", unqualified,
              TPM_PART1_NAMES, TPM_PART2 + " 10.12.3"),
        "qualifiedName = nameAlg ‖ its first 20 digest bytes, re-signed", "tpm.set",
        "certInfo.attested.qualifiedName", _qualified_name(lambda c: c.qualified_name[:22]),
        invalid(Reason.MALFORMED), resign=True)
    add("attest::qualified-name-is-name", "QualifiedNameIsName",
        _note("TPM_STRUCTURE", med, "attested.qualifiedName is the Name itself, not H(QN(parent) ‖ Name)",
              unqualified, TPM_PART1_NAMES, TPM_PART2 + " 10.12.3"),
        "qualifiedName = attested.name, re-signed", "tpm.set", "certInfo.attested.qualifiedName",
        _qualified_name(lambda c: c.name), invalid(Reason.MALFORMED), resign=True)
    add("pubarea::trailing-bytes", "PubAreaTrailingBytes",
        _note("ENCODING", med, "one byte after TPMT_PUBLIC in pubArea; attested.name is the Name of the bytes as "
              "sent, so only a parser that reads to the end notices", "a lenient parser takes the extra byte as "
              "part of a certified key", TPM_PART2),
        "00 appended to pubArea, its Name certified", "bytes.extend", "attStmt.pubArea", _pub_area_trailing_byte,
        invalid(Reason.MALFORMED), resign=True)
    add("attributes::no-fixed-tpm", "NoFixedTpm",
        _note("KEY_PROTECTION", crit, "objectAttributes lack fixedTPM: the key may be duplicated to another TPM",
              "a key that can leave the TPM is accepted as hardware-bound", SPEC + ".8", "go-attestation"),
        "objectAttributes & ~fixedTPM, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: a & ~TpmaObject.FIXED_TPM), invalid(Reason.ATTR_EXTRACTABLE), resign=True)
    add("attributes::no-sensitive-data-origin", "NoSensitiveDataOrigin",
        _note("KEY_PROTECTION", crit, "objectAttributes lack sensitiveDataOrigin: the TPM did not generate the key",
              "an imported (known outside the TPM) key is accepted as generated on the device", SPEC + ".8"),
        "objectAttributes & ~sensitiveDataOrigin, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: a & ~TpmaObject.SENSITIVE_DATA_ORIGIN), invalid(Reason.ATTR_NOT_LOCAL), resign=True)
    add("attributes::restricted", "RestrictedKey",
        _note("KEY_PROTECTION", med, "the certified key is restricted (an AK-like key)",
              "a restricted key signs only TPM-generated digests; it cannot be the credential", "go-attestation"),
        "objectAttributes | restricted, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: a | TpmaObject.RESTRICTED), invalid(Reason.KEY_PURPOSE), resign=True)
    add("attributes::imported-key", "ImportedKey",
        _note("KEY_PROTECTION", crit, "a key imported into the emulated TPM, certified with sensitiveDataOrigin "
              "clear; fixedTPM and fixedParent stay set to isolate that one attribute (a TPM2_Import object has "
              "them clear too, which is ATTR_EXTRACTABLE)", "a key generated outside the TPM is accepted as "
              "generated on the device"),
        "an imported EC P-256 key, sensitiveDataOrigin clear (fixedTPM, fixedParent set)", "key.import", "pubArea",
        _set(), invalid(Reason.ATTR_NOT_LOCAL), resign=True, golden=IMPORTED)
    add("akcert::no-eku", "AkCertNoEku",
        _note("CERT_PROFILE", high, "AK certificate without extendedKeyUsage tcg-kp-AIKCertificate",
              "any certificate the CA issued could act as an AK certificate", WEBAUTHN + ".1"),
        "AK certificate re-issued without EKU", "cert.reissue", "x5c[0]/extensions/extKeyUsage",
        _ak_reissue(extensions=_without(ExtensionOID.EXTENDED_KEY_USAGE)), invalid(Reason.CERT_EKU), resign=True)
    add("akcert::subject-present", "AkCertSubject",
        _note("CERT_PROFILE", med, "AK certificate with a non-empty subject", "the TCG AK profile is not enforced",
              WEBAUTHN + ".1"),
        "AK certificate re-issued with CN=attestation-key", "cert.reissue", "x5c[0]/subject",
        _ak_reissue(subject=name(("CN", "attestation-key", UTF8))), invalid(Reason.CERT_PROFILE), resign=True)
    add("chain::x5c-missing-intermediate", "X5cMissingIntermediate",
        _note("CHAIN", med, "x5c holds only the AK certificate", "the chain cannot be built to the root"),
        "x5c = [AK certificate]", "cbor.set", "attStmt.x5c",
        lambda b: setattr(b.draft, "x5c", chain_der([b.kit.identity.certificate])),
        invalid(Reason.CHAIN_INCOMPLETE), resign=True)
    add("chain::unknown-root", "ChainUnknownRoot",
        _note("CHAIN", crit, "a complete TPM-shaped AK chain under another emulated root, whose copy is in x5c; its AK "
              "certifies the key. tpm_root_ca.pem stays the genuine root: it is hsmsim's copy of the anchor the "
              "relying party trusts, not part of the evidence", "any software 'TPM' with its own CA passes"),
        "AK, AK certificate, intermediate and root copy in x5c from another seed; tpm_root_ca.pem genuine",
        "chain.replace", "attStmt.x5c", _foreign_pki,
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::ak-expired", "AkCertExpired",
        _note("CHAIN", high, "AK certificate expired before the validation time",
              "a retired AK still vouches for keys"),
        "AK certificate notAfter 2025-12-01", "cert.reissue", "x5c[0]/validity",
        _ak_reissue(not_after=datetime(2025, 12, 1, tzinfo=UTC)), invalid(Reason.CERT_EXPIRED), resign=True)
    add("statement::ver-1-0", "VersionNot20",
        _note("TPM_STRUCTURE", low, "attStmt.ver is '1.0'", "a TPM 1.2-era statement is parsed as 2.0"),
        "ver = '1.0'", "cbor.set", "attStmt.ver", _set(ver="1.0"), invalid(Reason.UNSUPPORTED), resign=True)
    add("statement::unknown-member", "StatementUnknownMember",
        _note("PROFILE", Severity.INFO, "attStmt carries an extra member 'x-hsmsim'",
              "valid under the structural profile; the strict profile rejects unknown content"),
        "attStmt['x-hsmsim'] = h''", "cbor.set", "attStmt.x-hsmsim", _statement(_set_member("x-hsmsim", b"")),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    add("cbor::trailing-bytes", "CborTrailingBytes",
        _note("ENCODING", med, "a byte after the attestationObject's CBOR map", "lenient decoders ignore it"),
        "00 appended", "bytes.extend", "attestationObject", _set(object_edit=lambda b: b + b"\x00"),
        invalid(Reason.MALFORMED), resign=True)
    return m


CATEGORY_ORDER = ("golden", "signature", "attest", "binding", "authdata", "pubarea", "attributes", "akcert", "chain",
                  "statement", "kat", "pat", "record", "activate", "cbor", "variant")


def in_catalogue_order(mutations: list[Mutation]) -> list[Mutation]:
    """Mutations grouped by category (the second id segment) in :data:`CATEGORY_ORDER`, stable within one."""
    return sorted(mutations, key=lambda m: CATEGORY_ORDER.index(m.id.split("::")[1]))


def mutations(pki_profile: TpmPkiProfile = DEFAULT_PKI_PROFILE) -> list[Mutation]:
    """Every webauthn/tpm defect, in catalogue order, as a TPM of ``pki_profile`` shows them (a comment names the
    hierarchy's key types)."""
    m = shared_mutations("webauthn", (WEBAUTHN, SPEC), ak_title="RSA-2048")

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "ec-p256") -> None:
        m.append(Mutation(f"webauthn::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    forged = "a verifier would accept TPM claims the AK never signed"

    # signature
    add("signature::cert-info-bit-flip", "CertInfoBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of certInfo flipped after the AK signed it", forged),
        "bit 0 of certInfo.firmwareVersion's last byte inverted after signing", "bytes.flip_bit", "attStmt.certInfo",
        _statement(_flip("certInfo", -8 * 73 + 7)), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::sig-empty", "SigEmpty",
        _note("SIGNATURE_BYPASS", crit, "zero-length attStmt.sig", forged),
        "attStmt.sig is an empty byte string", "cbor.set", "attStmt.sig", _statement(_set_member("sig", b"")),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::tpmt-signature-encoding", "SigTpmtSignature",
        _note("ENCODING", high, "sig is a marshalled TPMT_SIGNATURE (0018 000b 0020 r 0020 s), the ACME/step-ca "
              "convention, where WebAuthn carries the bare DER signature",
              "a verifier that accepts both conventions widens what it parses as a signature",
              WEBAUTHN, "shared/specs/other_formats.md 1.3"),
        "genuine AK signature as TPMT_SIGNATURE", "sig.encode", "attStmt.sig", _set(signature_encoding="tpmt"),
        invalid(Reason.SIGNATURE_INVALID), resign=True)
    add("signature::alg-mismatch", "AlgMismatch",
        _note("WRONG_PRIMITIVE", high, "attStmt.alg says ES256 but the AK is an RSA key",
              "a verifier that picks the algorithm from alg alone can be steered to another primitive"),
        "attStmt.alg -7 (ES256) over an RS256 signature", "cbor.set", "attStmt.alg",
        _statement(_set_member("alg", -7)), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::alg-curve-mismatch", "AlgCurveMismatch",
        _note("ALGORITHM", med, "an EC P-256 AK signs certInfo with alg ES384 (ECDSA with SHA-384, extraData "
              "SHA-384)", "the curve implied by alg is not checked against the AK's (WebAuthn L3 §5.8.5 pairs ES384 "
              "with P-384), as packed::alg-curve-mismatch for packed", WEBAUTHN, "WebAuthn L3 §5.8.5"),
        "AK EC P-256 (as variant::ecc-ak), alg -35 (ES384), signed", "cbor.set", "attStmt.alg",
        _ecc_ak_signing_es384, invalid(Reason.SIGNATURE_INVALID), resign=True)

    # TPMS_ATTEST structure
    add("attest::truncated", "CertInfoTruncated",
        _note("ENCODING", med, "certInfo's last TPM2B_NAME runs one byte past the end",
              "a parser that slices without bounds reads past the structure", TPM_PART2),
        "last byte of certInfo removed before signing", "bytes.truncate", "attStmt.certInfo",
        _set(cert_info_edit=lambda b: b[:-1]), invalid(Reason.MALFORMED), resign=True)
    add("attest::clock-safe-invalid", "ClockSafeInvalid",
        _note("TPM_STRUCTURE", low, "clockInfo.safe is 2; TPMI_YES_NO allows only 0 and 1",
              "py_webauthn accepts it; python-fido2 rejects it", SPEC + ".8", TPM_PART2 + " 10.11.1"),
        "clockInfo.safe = 2, re-signed", "tpm.set", "certInfo.clockInfo.safe",
        _attest(lambda a: replace(a, clock_info=replace(a.clock_info, safe=2))), invalid(Reason.MALFORMED),
        resign=True)
    add("attest::qualified-signer-oversized", "QualifiedSignerOversized",
        _note("ENCODING", med, "qualifiedSigner is a 200-byte TPM2B_NAME (at most 66 bytes)",
              "a parser that trusts TPM2B sizes over-reads or over-allocates", TPM_PART2 + " 10.5.3"),
        "qualifiedSigner of 200 bytes, re-signed", "tpm.set", "certInfo.qualifiedSigner",
        _attest(lambda a: replace(a, qualified_signer=b"\x00\x0b" + b"\xaa" * 198)), invalid(Reason.MALFORMED),
        resign=True)

    # binding
    add("binding::extra-data-wrong", "ExtraDataWrong",
        _note("BINDING", crit, "extraData is H(authData) without the clientDataHash",
              "the attestation is not bound to the relying party's challenge: it can be replayed"),
        "extraData = SHA-256(authData), re-signed", "tpm.set", "certInfo.extraData",
        _extra_data_without_client_data,
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::credential-key-not-pub-area", "CredentialKeyNotPubArea",
        _note("BINDING", crit, "authData's credential public key is not the key in pubArea",
              "a software key registers under a TPM key's attestation"),
        "credentialPublicKey of another key, authData re-bound and re-signed", "authdata.set",
        "authData.attestedCredentialData.credentialPublicKey", _other_credential_key,
        invalid(Reason.KEY_MISMATCH), resign=True)
    add("binding::challenge-mismatch", "ChallengeMismatch",
        _note("BINDING", crit, "clientDataJSON carries another challenge than the relying party issued",
              "a registration from another ceremony is replayed"),
        "expectedChallenge differs from clientData.challenge", "record.set", "expectedChallenge",
        lambda b: setattr(b.draft, "expected_challenge", drbg(b.kit.seed, "webauthn/other-challenge").read(32)),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::origin-mismatch", "OriginMismatch",
        _note("BINDING", high, "clientData.origin is another site than the relying party's",
              "a phishing origin's registration is accepted"),
        "expectedOrigin https://<rp> vs clientData origin https://login.<rp>", "record.set", "expectedOrigin",
        lambda b: setattr(b.draft, "expected_origin", f"https://accounts.{b.webauthn().rp_id}"),
        invalid(Reason.RELYING_PARTY_MISMATCH), resign=True)
    add("binding::rp-id-hash-wrong", "RpIdHashWrong",
        _note("BINDING", high, "authData.rpIdHash is SHA-256 of another RP ID",
              "a credential scoped to another relying party is registered"),
        "rpIdHash = SHA-256(login.<rp>), re-bound and re-signed", "authdata.set", "authData.rpIdHash", _wrong_rp,
        invalid(Reason.RELYING_PARTY_MISMATCH), resign=True)
    add("binding::client-data-type-get", "ClientDataTypeGet",
        _note("BINDING", med, "clientData.type is webauthn.get (an assertion), not webauthn.create",
              "an assertion's client data is accepted for a registration"),
        "clientData.type webauthn.get, re-bound and re-signed", "json.set", "clientDataJSON.type",
        _client_data_type_get, invalid(Reason.MALFORMED), resign=True)
    add("binding::cross-origin-iframe", "CrossOriginIframe",
        _note("BINDING", high, "clientData says the registration ran in a cross-origin iframe (crossOrigin true, "
              "topOrigin https://attacker.example), where the record expects no framing",
              "a page of another site that frames the relying party registers a credential the relying party "
              "never meant to offer there", "WebAuthn L3 §7.1 step 10"),
        "clientData crossOrigin true, topOrigin https://attacker.example, re-bound and re-signed", "json.set",
        "clientDataJSON.crossOrigin", _client_data_framed(True), invalid(Reason.RELYING_PARTY_MISMATCH), resign=True)
    add("binding::top-origin-present", "TopOriginPresent",
        _note("BINDING", med, "clientData carries topOrigin https://attacker.example with crossOrigin false",
              "a verifier that reads crossOrigin only misses the framing page that step 11 checks on its own",
              "WebAuthn L3 §7.1 step 11"),
        "clientData crossOrigin false, topOrigin https://attacker.example, re-bound and re-signed", "json.set",
        "clientDataJSON.topOrigin", _client_data_framed(False), invalid(Reason.RELYING_PARTY_MISMATCH), resign=True)

    # authenticator data
    add("authdata::up-missing", "UserPresenceMissing",
        _note("AUTHENTICATOR", med, "authData flags lack UP (user present)",
              "a registration made without any user gesture is accepted", "WebAuthn L3 §7.1 step 14"),
        "flags 0x44 (UV|AT), re-bound and re-signed", "authdata.set", "authData.flags",
        _set(flags=FLAG_UV | FLAG_AT), invalid(Reason.ATTR_MISSING), resign=True)
    add("authdata::at-missing", "AttestedDataFlagMissing",
        _note("ENCODING", med, "authData carries attested credential data but the AT flag is clear",
              "parsers that skip by flags and parsers that skip by length see different credentials",
              "WebAuthn L3 §6.1"),
        "flags 0x05 (UP|UV) with the credential still present, re-signed", "authdata.set", "authData.flags",
        _set(flags=FLAG_UP | FLAG_UV), invalid(Reason.MALFORMED), resign=True)
    add("authdata::backup-state-without-eligible", "BackupStateWithoutEligible",
        _note("AUTHENTICATOR", low, "flags set BS (backed up) without BE (backup eligible)",
              "an impossible flag combination is taken at face value", "WebAuthn L3 §6.1.3"),
        "flags 0x55, re-signed", "authdata.set", "authData.flags", _set(flags=FLAG_UP | FLAG_UV | FLAG_AT | FLAG_BS),
        invalid(Reason.MALFORMED), resign=True)
    add("authdata::raw-id-mismatch", "RawIdMismatch",
        _note("BINDING", med, "credential.rawId differs from the credentialId in authData",
              "the relying party stores a credential id the authenticator never created"),
        "rawId of 32 other bytes", "record.set", "credential.rawId",
        lambda b: setattr(b.draft, "raw_id", drbg(b.kit.seed, "webauthn/other-raw-id").read(32)),
        invalid(Reason.ATTR_CONFLICT), resign=True)

    # pubArea
    add("pubarea::scheme-ecdsa", "PubAreaSchemeNotNull",
        _note("TPM_STRUCTURE", med, "pubArea scheme is ECDSA/SHA-256 (what tpm2_create -G ecc256:ecdsa writes), "
              "not TPM_ALG_NULL",
              "py_webauthn and python-fido2 reject it; a verifier must not mis-parse the parameters",
              SPEC + ".2", "shared/specs/round2_formats.md 2.1.2"),
        "parameters.scheme = ECDSA(SHA-256), certified and re-signed", "tpm.set", "pubArea.parameters.scheme",
        _parameters(scheme=Scheme(TpmAlg.ECDSA, TpmAlg.SHA256)), invalid(Reason.UNSUPPORTED), resign=True)
    add("pubarea::symmetric-aes", "PubAreaSymmetricNotNull",
        _note("TPM_STRUCTURE", low, "pubArea of a signing key names an AES-128-CFB symmetric algorithm",
              "a parser that ignores the symmetric field misreads the rest", TPM_PART2 + " 12.2.3.4"),
        "parameters.symmetric = AES-128-CFB, certified and re-signed", "tpm.set", "pubArea.parameters.symmetric",
        _parameters(symmetric=SymDef(TpmAlg.AES, 128, TpmAlg.CFB)), invalid(Reason.UNSUPPORTED), resign=True)
    add("pubarea::reserved-attribute-bit", "ReservedAttributeBit",
        _note("TPM_STRUCTURE", low, "objectAttributes set reserved bit 3",
              "a TPM never produces it (TPM_RC_RESERVED_BITS)",
              TPM_PART2 + " 8.3"),
        "objectAttributes | 0x8, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: int(a) | 0x8), invalid(Reason.MALFORMED), resign=True)

    # attributes
    add("attributes::duplicable-key", "DuplicableKey",
        _note("KEY_PROTECTION", crit, "an extractable key: the emulated TPM creates it without fixedTPM/fixedParent",
              "a key that can be duplicated out of the TPM is accepted as non-exportable"),
        "an extractable EC P-256 key", "key.generate", "pubArea", _set(), invalid(Reason.ATTR_EXTRACTABLE),
        resign=True, golden=EXTRACTABLE)
    add("attributes::decrypt-only-key", "DecryptOnlyKey",
        _note("KEY_PROTECTION", med, "a decrypt-only RSA key (no sign attribute) certified as a credential",
              "a credential that cannot sign assertions is registered"),
        "an RSA-3072 key with decrypt and without sign", "key.generate", "pubArea", _set(),
        invalid(Reason.KEY_PURPOSE), resign=True, golden=DECRYPT_ONLY)

    # AK certificate profile
    add("akcert::ca-true", "AkCertCaTrue",
        _note("CERT_PROFILE", high, "AK certificate with basicConstraints CA:TRUE",
              "an AK certificate that can issue certificates is accepted", WEBAUTHN + ".1"),
        "AK certificate re-issued with CA:TRUE", "cert.reissue", "x5c[0]/extensions/basicConstraints",
        _ak_reissue(extensions=_replacing(ExtensionOID.BASIC_CONSTRAINTS,
                                          Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True))),
        invalid(Reason.CERT_PROFILE), resign=True)
    add("akcert::no-san", "AkCertNoSan",
        _note("CERT_PROFILE", med, "AK certificate without the TCG subjectAltName",
              "the TPM's manufacturer and model are unknown", WEBAUTHN + ".1"),
        "AK certificate re-issued without SAN", "cert.reissue", "x5c[0]/extensions/subjectAltName",
        _ak_reissue(extensions=_without(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)), invalid(Reason.CERT_PROFILE),
        resign=True)
    add("akcert::san-not-critical", "AkCertSanNotCritical",
        _note("CERT_PROFILE", low, "AK certificate SAN not critical although the subject is empty",
              "RFC 5280 4.2.1.6 is not enforced", WEBAUTHN + ".1", "RFC 5280 4.2.1.6"),
        "SAN re-issued non-critical", "cert.reissue", "x5c[0]/extensions/subjectAltName",
        _ak_reissue(extensions=_non_critical(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)),
        invalid(Reason.CERT_PROFILE), resign=True)
    add("akcert::manufacturer-fido-conformance", "ManufacturerFidoConformance",
        _note("CERT_PROFILE", med, "tpmManufacturer id:FFFFF1D0 (the FIDO conformance tool's) is not a TCG vendor",
              "python-fido2 and SimpleWebAuthn accept it; py_webauthn rejects it", SPEC + ".4"),
        "tpmManufacturer id:FFFFF1D0", "cert.reissue", "x5c[0]/subjectAltName/tpmManufacturer",
        _manufacturer(0xFFFFF1D0), invalid(Reason.CERT_PROFILE), resign=True)
    add("akcert::manufacturer-swtpm-localca", "ManufacturerSwtpmLocalCa",
        _note("CERT_PROFILE", med, "tpmManufacturer id:00001014, what swtpm_localca writes into EK certificates",
              "an id outside the TCG registry passes", "shared/specs/round2_formats.md 2.1.4"),
        "tpmManufacturer id:00001014", "cert.reissue", "x5c[0]/subjectAltName/tpmManufacturer",
        _manufacturer(0x00001014), invalid(Reason.CERT_PROFILE), resign=True)
    add("akcert::aaguid-mismatch", "AkCertAaguidMismatch",
        _note("CERT_PROFILE", med, "AK certificate AAGUID extension differs from authData's aaguid",
              "an AK certified for one authenticator model vouches for another", WEBAUTHN + ".1"),
        f"AK certificate AAGUID extension {WINDOWS_HELLO_AAGUID} (Windows Hello's), authData hsmsim's",
        "cert.reissue", "x5c[0]/extensions/id-fido-gen-ce-aaguid",
        _ak_reissue(extensions=_with_aaguid(WINDOWS_HELLO_AAGUID)), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("akcert::aaguid-not-octet-string", "AkCertAaguidMalformed",
        _note("ENCODING", med, "the AK certificate's AAGUID extension holds authData's 16 bytes without their OCTET "
              "STRING wrapping", "a verifier slicing fixed offsets reads a shifted AAGUID; the value does not decode "
              "(MALFORMED, as packed::cert-aaguid-not-octet-string)", WEBAUTHN + ".1"),
        "extnValue = authData's aaguid (16 bytes, no 04 10), non-critical after the SAN", "cert.reissue",
        "x5c[0]/extensions/id-fido-gen-ce-aaguid",
        _ak_reissue(extensions=_with_aaguid(EMULATED_AAGUID, wrapped=False)), invalid(Reason.MALFORMED), resign=True)

    # chain
    add("chain::intermediate-not-ca", "IntermediateNotCa",
        _note("CHAIN", high, "the intermediate has basicConstraints CA:FALSE",
              "an end-entity certificate could issue AK certificates"),
        "intermediate re-issued by the root with CA:FALSE", "cert.reissue", "x5c[1]/extensions/basicConstraints",
        _intermediate_not_ca, invalid(Reason.CERT_NOT_CA), resign=True)
    add("chain::ak-forged-issuer", "AkCertForgedIssuer",
        _note("CHAIN", crit, "AK certificate names the genuine intermediate but another key signed it",
              "name matching without signature checks accepts any AK certificate"),
        f"AK certificate signed by an impostor {ca_algorithms(pki_profile).intermediate_key_title} key",
        "cert.reissue", "x5c[0]/signature",
        _ak_reissue(issuer_key=_impostor_key), invalid(Reason.CERT_SIGNATURE_INVALID), resign=True)
    add("chain::x5c-empty", "X5cEmpty",
        _note("CHAIN", high, "attStmt.x5c is an empty array", "the AK is not certified at all"),
        "x5c = []", "cbor.set", "attStmt.x5c", _set(x5c=[]), invalid(Reason.MISSING_INPUT), resign=True)
    add("chain::x5c-garbage", "X5cGarbage",
        _note("ENCODING", med, "x5c[1] is not a DER certificate", "a lenient chain builder skips what it cannot parse"),
        "x5c[1] = 16 bytes of 0x30", "cbor.set", "attStmt.x5c[1]",
        lambda b: setattr(b.draft, "x5c", [*chain_der([b.kit.identity.certificate]), b"\x30" * 16]),
        invalid(Reason.MALFORMED), resign=True)

    # statement and container
    add("statement::cert-info-missing", "CertInfoMissing",
        _note("TPM_STRUCTURE", high, "attStmt has no certInfo", "nothing binds the key to the AK"),
        "certInfo removed", "cbor.remove", "attStmt.certInfo", _statement(_drop_member("certInfo")),
        invalid(Reason.MISSING_INPUT), resign=True)
    add("statement::fmt-none", "FmtNone",
        _note("BASIC", high, "fmt none: the authenticator sends no attestation",
              "a key attestation policy would accept a key nothing vouches for", "WebAuthn L3 §8.7"),
        "fmt none, empty attStmt", "cbor.set", "fmt", _set(fmt="none"), invalid(Reason.MISSING_INPUT), resign=True)
    add("cbor::duplicate-fmt", "CborDuplicateKey",
        _note("ENCODING", high, "attestationObject holds the key 'fmt' twice ('tpm', then 'none')",
              "first-wins and last-wins decoders see different statement formats", "RFC 8949 5.6"),
        "map(4) with a second fmt: none", "bytes.edit", "attestationObject", _set(object_edit=_duplicate_fmt),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("cbor::indefinite-length-map", "CborIndefiniteLength",
        _note("ENCODING", low, "attestationObject is an indefinite-length map", "not CTAP2 canonical CBOR",
              "CTAP 2.1 §8 (CTAP2 canonical CBOR)"),
        "map header 0xbf ... 0xff", "bytes.edit", "attestationObject", _set(object_edit=_indefinite_map),
        invalid(Reason.MALFORMED), resign=True)

    # valid variants
    add("variant::ecc-ak", "EccAk",
        _note("BASIC", Severity.INFO, "an EC P-256 AK signing with ES256: legal WebAuthn (§8.3 allows any AK "
              "type), but not what Windows Hello sends (its AIK is RSA-2048)", "none: a correct verifier accepts it"),
        "AK EC P-256 (ECDSA-SHA256), alg ES256", "ak.replace", "attStmt.alg", _ecc_ak, valid(), resign=True)
    add("variant::ak-aaguid-extension", "AkAaguidExtension",
        _note("BASIC", Severity.INFO, "the AK certificate carries the FIDO AAGUID extension, equal to authData's "
              "aaguid: optional in WebAuthn §8.3.1, absent from every published Windows AIK certificate",
              "none: a correct verifier compares it when present and accepts it"),
        "AK certificate with id-fido-gen-ce-aaguid = authData's aaguid (non-critical, after the SAN)",
        "cert.reissue", "x5c[0]/extensions/id-fido-gen-ce-aaguid",
        _ak_reissue(extensions=_with_aaguid(EMULATED_AAGUID)), valid(), resign=True)
    add("variant::windows-hello-rs1", "WindowsHelloRs1",
        _note("BASIC", Severity.INFO, "what every published Windows Hello registration sends: the RSA-2048 AIK "
              "signing certInfo with RS1 (RSASSA-SHA1, alg -65535, extraData SHA-1), here for an RSA-2048 credential",
              "none: WebAuthn §8.3 lets alg name SHA-1, and real Windows Hello registrations use it",
              "py_webauthn test_verify_attestation_surface_pro_4"),
        "the golden's AIK signs certInfo with RS1 (extraData SHA-1)", "sig.sign", "attStmt.alg",
        _set(alg=RS1), strict_only(Reason.KEY_POLICY), resign=True, golden="rsa-2048")
    add("variant::no-user-verification", "NoUserVerification",
        _note("BASIC", Severity.INFO, "UV clear (user present, not verified)",
              "none: key attestation does not depend on user verification"),
        "flags 0x41 (UP|AT)", "authdata.set", "authData.flags", _set(flags=FLAG_UP | FLAG_AT), valid(), resign=True)
    add("variant::name-alg-sha384", "NameAlgSha384",
        _note("BASIC", Severity.INFO, "pubArea nameAlg SHA-384: the Name is 000c ‖ SHA-384(pubArea)",
              "none: a verifier must hash with nameAlg, not assume SHA-256"),
        "nameAlg TPM_ALG_SHA384, certified and re-signed", "tpm.set", "pubArea.nameAlg",
        _area(lambda a: replace(a, name_alg=TpmAlg.SHA384)), valid(), resign=True)
    return in_catalogue_order(m)


STRICT_KEY_POLICY_NOTE = FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                  "valid evidence; the strict profile rejects it with KEY_POLICY",
                                  ("CA/B Forum Code Signing BR 6.2.7.4",))


COMMON_NOTES: dict[str, FlagNote] = {**PROVENANCE_NOTES, "StrictKeyPolicy": STRICT_KEY_POLICY_NOTE}
"""The flags of every TPM catalogue's goldens: the provenance flags and StrictKeyPolicy."""


def notes() -> dict[str, FlagNote]:
    """Every flag the webauthn vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations())


def build_cases(namespace: str, seed: str, kit: TpmKit, draft_of: Callable[[str], StatementDraft],
                catalogue: list[Mutation], what: str) -> list[VectorCase]:
    """Goldens (one per :data:`GOLDEN_SPECS`, ``what`` names the evidence) then every mutation of ``catalogue``,
    each rendered from a fresh copy of the golden draft ``draft_of`` made (once per golden)."""
    anchors = (kit.identity.root,)
    goldens: dict[str, StatementDraft] = {}

    def fresh_draft(spec: str) -> StatementDraft:
        if spec not in goldens:
            goldens[spec] = draft_of(spec)
        return copy.copy(goldens[spec])  # operators replace a draft's fields, never edit them in place

    cases = []
    for spec in GOLDEN_SPECS:
        weak = spec == "rsa-2048"
        cases.append(VectorCase(
            id=f"{namespace}::golden::{spec}", comment=f"unmutated {what} of a generated {spec} key",
            flags=("Golden", *(("StrictKeyPolicy",) if weak else ())),
            expected=strict_only(Reason.KEY_POLICY) if weak else valid(),
            evidence=fresh_draft(spec).evidence(), anchors=anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in catalogue:
        bench = Workbench(kit, fresh_draft(mutation.golden))
        mutation.apply(bench)
        golden = f"{namespace}::golden::{mutation.golden}" if mutation.golden in GOLDEN_SPECS else None
        cases.append(mutation_case(mutation, bench.evidence(), anchors, VALIDATION_TIME, seed, golden))
    return cases


def vector_cases(seed: str, statement: TpmAkProvider) -> list[VectorCase]:
    """The webauthn vectors for ``seed`` by the TPM and AK of ``statement`` (the WebAuthn ``tpm`` statement): goldens
    first, then every mutation of the catalogue."""
    kit = TpmKit.build(seed, statement)
    return build_cases("webauthn", seed, kit, kit.draft, mutations(statement.pki_profile), "TPM registration")
