"""The ms-kast vector set: golden Windows key attestation requests and one-defect mutations.

The world is the webauthn catalogue's (same seed, device, TPM and keys) with the Windows RSA-2048 AIK and the
emulated CA exchange key. Each mutation sets one knob of a golden :class:`KastDraft` (``Resigned``: the
request and the CMC are signed after the defect, so it reaches the check it is about; ``Stale``: a signature
was edited after signing).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from hsmsim.device import AttestationRequest
from hsmsim.encoding import der_children, der_content, der_oid, der_sequence, der_tlv, spki_der
from hsmsim.formats.tpm import kast as wire
from hsmsim.formats.tpm.catalogue import (
    ATTEST_TIME,
    COMMON_NOTES,
    GOLDEN_SPECS,
    TPM_PART1_NAMES,
    VALIDATION_TIME,
    TpmKit,
)
from hsmsim.formats.tpm.device import AK_ATTRIBUTES, Parent, public_area, signing_scheme
from hsmsim.formats.tpm.format import MsKastFormat
from hsmsim.formats.tpm.kast_format import KastDraft, ca_exchange, kast_draft_for
from hsmsim.formats.tpm.layout import KAST_FORMAT
from hsmsim.formats.tpm.marshal import TpmaObject, TpmSt
from hsmsim.formats.tpm.structures import (
    CertifyInfo,
    OpaqueAttested,
    PcrSelection,
    QuoteInfo,
    TpmsAttest,
    TpmtPublic,
)
from hsmsim.keystore.base import KeyPolicy, KeySpec, KeyType, PrivateKey, PublicKey, StoredKey
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import reissue, verbatim_extensions
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason

MUTATED_GOLDEN = "rsa-3072"
WCCE = "MS-WCCE 2.2.2.5 (KeyAttestationStatement)"
WCCE_AIK = "MS-WCCE 2.2.2.7.15 (szOID_ENROLL_AIK_INFO)"
CMC = "RFC 5272 3.2 (Full PKI Request)"
SPEC = "shared/specs/other_formats.md 1.7"
SAMPLES = "shared/interop README 6 (Purebred Surface requests)"
AIK_EXPIRED = datetime(2025, 12, 1, tzinfo=UTC)
"""notAfter of the expired AIK certificate: before the validation time, after the genuine notBefore."""


@dataclass(frozen=True)
class KastKit:
    """The webauthn world of a seed with the Windows AIK as attestation identity, and the Windows keys it
    attests."""

    tpm_kit: TpmKit
    keys: dict[str, StoredKey]
    """One key per golden spec, in the TPM's store: RSA keys may sign and decrypt, as the keys of the three real
    Surface Pro requests (TPMA_OBJECT ``0x00060072``); EC keys sign (there is no real EC request)."""

    @classmethod
    def build(cls, seed: str, fmt: MsKastFormat) -> KastKit:
        """The kit of ``seed`` with ``fmt``'s TPM and AIK."""
        tpm_kit = TpmKit.build(seed, fmt)
        keys = {spec: tpm_kit.store.generate(
            KeySpec.parse(spec), f"windows-{spec}", created=tpm_kit.keys[spec].created,
            policy=KeyPolicy(decrypt=KeySpec.parse(spec).key_type is KeyType.RSA)) for spec in GOLDEN_SPECS}
        return cls(tpm_kit, keys)

    def draft(self, spec: str, output: str = "cmc") -> KastDraft:
        """The golden draft of ``spec``: exactly what the format's ``generate`` renders for that key."""
        kit = self.tpm_kit
        key = self.keys[spec]
        request = AttestationRequest(device=kit.device, partition="default", key=key,
                                     key_signer=kit.store.signer(key), attesting=kit.identity,
                                     parameters={"output": output}, at=ATTEST_TIME)
        return kast_draft_for(request, kit.tpm.pki_profile)


@dataclass
class Bench:
    """A golden draft opened for one mutation."""

    kit: KastKit
    draft: KastDraft

    @property
    def seed(self) -> str:
        """The world's seed."""
        return self.kit.tpm_kit.seed

    def other_area(self) -> TpmtPublic:
        """The public area of another key the TPM holds (the RSA-2048 passkey of the TPM kit)."""
        tpm_kit = self.kit.tpm_kit
        return replace(tpm_kit.tpm.key_public(tpm_kit.keys["rsa-2048"]), auth_policy=self.draft.area.auth_policy)


Operator = Callable[[Bench], None]


def _set(**changes: object) -> Operator:
    def apply(bench: Bench) -> None:
        for field_name, value in changes.items():
            setattr(bench.draft, field_name, value)
    return apply


def _u32_at(offset: int, value: int | Callable[[int], int]) -> Callable[[bytes], bytes]:
    """Set (or map) the little-endian u32 at ``offset``."""
    def edit(data: bytes) -> bytes:
        old = struct.unpack_from("<I", data, offset)[0]
        new = value(old) if callable(value) else value
        return data[:offset] + struct.pack("<I", new) + data[offset + 4:]
    return edit


def _key_blob_magic(magic: bytes) -> Callable[[bytes], bytes]:
    """Overwrite the magic of the key blob, the last cbKeyBlob bytes of the KADS."""
    def edit(kads: bytes) -> bytes:
        start = len(kads) - struct.unpack_from("<I", kads, 20)[0]
        return kads[:start] + magic + kads[start + len(magic):]
    return edit


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _flip_before_last_block(data: bytes) -> bytes:
    """Flip the last byte of the ciphertext's second-to-last block (it lands in the padding of the last one)."""
    position = len(data) - 17
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def _area(fn: Callable[[TpmaObject], int]) -> Operator:
    def apply(bench: Bench) -> None:
        area = bench.draft.area
        bench.draft.area = replace(area, object_attributes=TpmaObject(fn(area.object_attributes)))
    return apply


def _attributes(fn: Callable[[list[bytes]], list[bytes]]) -> Operator:
    return _set(attributes_edit=fn)


def _without(oid: str) -> Callable[[list[bytes]], list[bytes]]:
    marker = der_oid(oid)
    return lambda attributes: [a for a in attributes if marker not in a[:20]]


def _twice(oid: str) -> Callable[[list[bytes]], list[bytes]]:
    marker = der_oid(oid)

    def edit(attributes: list[bytes]) -> list[bytes]:
        return [*attributes, *(a for a in attributes if marker in a[:20])]
    return edit


def _quote(attest: TpmsAttest) -> TpmsAttest:
    return replace(attest, type=TpmSt.ATTEST_QUOTE,
                   attested=QuoteInfo((PcrSelection(0x000B, b"\xff\x00\x00"),), bytes(32)))


def _qualified_name_is_name(attest: TpmsAttest) -> TpmsAttest:
    assert isinstance(attest.attested, CertifyInfo)
    return replace(attest, attested=replace(attest.attested, qualified_name=attest.attested.name))


def _other_aik_key(bench: Bench) -> PrivateKey:
    return derive_key(bench.seed, "ms-kast/other-aik", KeySpec.parse("rsa-2048"))


def _foreign_root(bench: Bench) -> None:
    """The AIK certified under another emulated TPM root (same names, other keys); the CMC carries that chain."""
    tpm_kit = bench.kit.tpm_kit
    bench.draft.trusted_root = tpm_kit.identity.root
    bench.draft.identity = replace(tpm_kit.tpm, seed=f"{bench.seed}/unknown-root").ak_identity(
        created=tpm_kit.device.attestation_created, key=bench.draft.identity.key, key_name="aik-windows")


def _expired_aik(bench: Bench) -> None:
    """The genuine AIK certificate re-issued by its CA with only notAfter moved before the validation time."""
    draft = bench.draft
    cert = draft.identity.certificate
    draft.aik_certificate = reissue(cert, draft.tpm.pki.intermediate_key, extensions=tuple(verbatim_extensions(cert)),
                                    not_after=AIK_EXPIRED)


def _aik_certificate_of_other_key(bench: Bench) -> None:
    tpm_kit = bench.kit.tpm_kit
    other = _other_aik_key(bench)
    bench.draft.aik_certificate = tpm_kit.tpm.ak_certificate(
        other.public_key(), created=tpm_kit.device.attestation_created, key_name="aik-windows/other")


def _aik_ca_without_ekus(bench: Bench) -> None:
    """The AIK not recovered (no CA key), and the CMC carrying, under the genuine TPM root, the AIK's CA re-issued by
    that root with every extension but its extendedKeyUsage (no tcg-kp-AIKCertificate, no 1.3.6.1.4.1.311.21.36)."""
    pki = bench.draft.tpm.pki
    ca = pki.intermediate
    stripped = reissue(ca, pki.root_key, extensions=tuple(
        e for e in verbatim_extensions(ca) if e.value.oid != ExtensionOID.EXTENDED_KEY_USAGE))
    bench.draft.include_ca_key = False
    bench.draft.cmc_certificates = [stripped, pki.root]


def _anchor_copy_only(bench: Bench) -> None:
    """The AIK not recovered (no CA key), and the CMC carrying only a copy of the TPM root: no AIK CA."""
    bench.draft.include_ca_key = False
    bench.draft.cmc_certificates = [bench.draft.tpm.pki.root]


def _other_ca(bench: Bench) -> None:
    bench.draft.envelope_recipient = ca_exchange(bench.seed, "ms-kast/another-ca")[1]


def _other_key_statement(bench: Bench) -> None:
    other = bench.other_area()
    bench.draft.certified_area = other
    bench.draft.blob_area = other


def _cmc_chain_order(bench: Bench) -> None:
    bench.draft.cmc_certificates = [*bench.draft.identity.chain[1:], bench.draft.identity.root]


def _cmc_other_signer(bench: Bench) -> None:
    tpm_kit = bench.kit.tpm_kit
    bench.draft.cmc_signer = tpm_kit.store.signer(tpm_kit.keys["rsa-2048"])


def _cmc_other_signer_named(bench: Bench) -> None:
    tpm_kit = bench.kit.tpm_kit
    other = tpm_kit.keys["rsa-2048"]
    assert other.public_key is not None
    bench.draft.cmc_signer = tpm_kit.store.signer(other)
    bench.draft.cmc_ski = wire.key_identifier(der_sequence(*_spki_parts(other.public_key)))


def _spki_parts(key: PublicKey) -> list[bytes]:
    return der_children(der_content(spki_der(key)))


def _signed_attributes(content_type: str, digest_of: Callable[[bytes], bytes]) -> Callable[[bytes], list[bytes]]:
    def attributes(content: bytes) -> list[bytes]:
        return [wire.attribute_tlv(wire.OID_CONTENT_TYPE, der_oid(content_type)),
                wire.attribute_tlv(wire.OID_MESSAGE_DIGEST, der_tlv(wire.OCTETS, digest_of(content)))]
    return attributes


def _sha256(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def _unknown_attribute(attributes: list[bytes]) -> list[bytes]:
    return [*attributes, wire.attribute_tlv("1.3.6.1.4.1.311.21.99", der_tlv(wire.OCTETS, b"\x01"))]


def _id_binding(**changes: object) -> Operator:
    return _set(id_binding=True, **changes)


def _other_aik_public(bench: Bench) -> TpmtPublic:
    return bench.kit.tpm_kit.tpm.ak_public(_other_aik_key(bench).public_key())


def _attest_names_other_aik(bench: Bench) -> None:
    other = _other_aik_public(bench).name()

    def edit(attest: TpmsAttest) -> TpmsAttest:
        assert isinstance(attest.attested, OpaqueAttested)
        _name, digest = wire.read_creation_info(attest.attested.body)
        return replace(attest, attested=wire.creation_info(other, digest))
    _id_binding(creation_attest_edit=edit)(bench)


def _certify_signer_under_ek(bench: Bench) -> None:
    """An idBinding naming the SRK as the AIK's parent, and the key's certify naming as qualifiedSigner the QN the AIK
    would have under the EK (re-signed by the AIK)."""
    draft = bench.draft
    signer = draft.tpm.ak_qualified_name(draft.identity.key.public_key(), Parent.EK)
    _id_binding(attest_edit=lambda a: replace(a, qualified_signer=signer))(bench)


def _unrestricted_aik(bench: Bench) -> None:
    key = bench.draft.identity.key.public_key()
    area = public_area(key, AK_ATTRIBUTES & ~TpmaObject.RESTRICTED, scheme=signing_scheme(key))
    _id_binding(id_binding_public=area)(bench)


def _with_aik_opaque(kast: bytes) -> bytes:
    return _u32_at(24, 4)(kast) + b"\x00\x01\x02\x03"


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (WCCE, SPEC))


def mutations() -> list[Mutation]:
    """Every ms-kast defect, in catalogue order."""
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool = True) -> None:
        m.append(Mutation(f"{KAST_FORMAT}::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          MUTATED_GOLDEN))

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    lenient = "a lenient parser reads blobs at offsets the statement does not define"
    forged = "a verifier would accept a TPM certification the AIK never signed"
    unbound = "the certificate would be issued for a key the TPM never certified"

    # KAST and KADS headers
    add("kast::magic-wrong", "KastMagicWrong", _note("TPM_STRUCTURE", med, "KAST magic is 'KASX'", lenient),
        "Magic = 0x5853414B", "bytes.set", "KAST.Magic", _set(kast_edit=_u32_at(0, 0x5853414B)),
        invalid(Reason.MALFORMED))
    add("kast::version-2", "KastVersionUnknown", _note("TPM_STRUCTURE", low, "KAST Version 2", lenient),
        "Version = 2", "bytes.set", "KAST.Version", _set(kast_edit=_u32_at(4, 2)), invalid(Reason.UNSUPPORTED))
    add("kast::platform-tpm12", "KastPlatformTpm12",
        _note("TPM_STRUCTURE", med, "KAST Platform 1 (TPM 1.2) over a TPM 2.0 statement",
              "a TPM 1.2 parser reads the TPM 2.0 structures as TPM_IDENTITY_CONTENTS"),
        "Platform = 1", "bytes.set", "KAST.Platform", _set(kast_edit=_u32_at(8, 1)), invalid(Reason.UNSUPPORTED))
    add("kast::platform-unknown", "KastPlatformUnknown", _note("TPM_STRUCTURE", low, "KAST Platform 3", lenient),
        "Platform = 3", "bytes.set", "KAST.Platform", _set(kast_edit=_u32_at(8, 3)), invalid(Reason.MALFORMED))
    add("kast::header-size-32", "KastHeaderSize",
        _note("TPM_STRUCTURE", med, "KAST HeaderSize 32 while the blobs start after 28 bytes", lenient),
        "HeaderSize = 32", "bytes.set", "KAST.HeaderSize", _set(kast_edit=_u32_at(12, 32)),
        invalid(Reason.MALFORMED))
    add("kast::key-attestation-past-end", "KastSizePastEnd",
        _note("TPM_STRUCTURE", high, "cbKeyAttestation counts 16 bytes more than the statement holds",
              "an unchecked size reads past the buffer"),
        "cbKeyAttestation += 16", "bytes.set", "KAST.cbKeyAttestation",
        _set(kast_edit=_u32_at(20, lambda v: v + 16)), invalid(Reason.MALFORMED))
    add("kast::id-binding-size-inconsistent", "KastSizesInconsistent",
        _note("TPM_STRUCTURE", med, "cbIdBinding 4 and cbKeyAttestation 4 less: the sizes no longer match the "
              "blobs", lenient),
        "cbIdBinding = 4, cbKeyAttestation -= 4", "bytes.set", "KAST.cbIdBinding",
        _set(kast_edit=lambda d: _u32_at(20, lambda v: v - 4)(_u32_at(16, 4)(d))), invalid(Reason.MALFORMED))
    add("kast::trailing-bytes", "KastTrailingBytes",
        _note("TPM_STRUCTURE", low, "four bytes after the blobs the header counts", lenient),
        "KAST ‖ 00000000", "bytes.append", "KAST", _set(kast_edit=lambda d: d + bytes(4)), invalid(Reason.MALFORMED))
    add("kads::magic-wrong", "KadsMagicWrong", _note("TPM_STRUCTURE", med, "KADS magic is 'KADX'", lenient),
        "keyAttestation.Magic = 0x5844414B", "bytes.set", "KADS.Magic", _set(kads_edit=_u32_at(0, 0x5844414B)),
        invalid(Reason.MALFORMED))
    add("kads::platform-tpm12", "KadsPlatformTpm12",
        _note("TPM_STRUCTURE", med, "KADS Platform 1 (TPM 1.2) under a TPM 2.0 KAST", lenient),
        "keyAttestation.Platform = 1", "bytes.set", "KADS.Platform", _set(kads_edit=_u32_at(4, 1)),
        invalid(Reason.UNSUPPORTED))
    add("kads::header-size-inconsistent", "KadsHeaderSize",
        _note("TPM_STRUCTURE", med, "KADS HeaderSize 20 while the blobs start after 24 bytes", lenient),
        "keyAttestation.HeaderSize = 20", "bytes.set", "KADS.HeaderSize", _set(kads_edit=_u32_at(8, 20)),
        invalid(Reason.MALFORMED))
    add("kads::key-attest-past-end", "KadsSizePastEnd",
        _note("TPM_STRUCTURE", high, "cbKeyAttest counts one byte more than the keyAttestation holds",
              "an unchecked size reads past the buffer"),
        "cbKeyAttest += 1", "bytes.set", "KADS.cbKeyAttest", _set(kads_edit=_u32_at(12, lambda v: v + 1)),
        invalid(Reason.MALFORMED))
    add("kads::signature-size-shifted", "KadsSizesShifted",
        _note("TPM_STRUCTURE", med, "cbSignature one less and cbKeyBlob one more: the key blob starts inside "
              "the signature", lenient),
        "cbSignature -= 1, cbKeyBlob += 1", "bytes.set", "KADS.cbSignature",
        _set(kads_edit=lambda d: _u32_at(20, lambda v: v + 1)(_u32_at(16, lambda v: v - 1)(d))),
        invalid(Reason.MALFORMED))
    add("keyblob::magic-wrong", "KeyBlobMagicWrong",
        _note("TPM_STRUCTURE", low, "the PCP key blob magic is not 'PCPM'", "a foreign blob is read as a PCP key"),
        "keyBlob.magic = 'PCPX'", "bytes.set", "KADS.keyBlob.magic",
        _set(kads_edit=_key_blob_magic(b"PCPX")),
        invalid(Reason.MALFORMED))
    # the key and its certification
    add("binding::key-blob-other-key", "KeyBlobNotCsrKey",
        _note("BINDING", crit, "the key blob (and the certify) are another TPM key's than the request's", unbound),
        "keyBlob public area of the RSA-2048 key", "tpm.set", "KADS.keyBlob.public",
        lambda b: setattr(b.draft, "blob_area", b.other_area()),
        invalid(Reason.KEY_MISMATCH))
    add("binding::certify-other-key", "CertifyOfOtherKey",
        _note("BINDING", crit, "TPM2_Certify certified another key than the key blob's", unbound),
        "certifyInfo.attested.name = Name(RSA-2048 key)", "tpm.set", "KADS.keyAttest.attested.name",
        lambda b: setattr(b.draft, "certified_area", b.other_area()), invalid(Reason.KEY_MISMATCH))
    add("binding::statement-of-other-key", "StatementOfOtherKey",
        _note("BINDING", crit, "the whole statement (certify and key blob) attests another key than the "
              "request's", "a genuine statement for one key rides on a request for another", WCCE, SPEC),
        "KAST of the RSA-2048 key inside the RSA-3072 request", "tpm.set", "KADS",
        _other_key_statement, invalid(Reason.KEY_MISMATCH))
    add("binding::qualifying-data-other", "QualifyingDataWrong",
        _note("BINDING", high, "certifyInfo.extraData is not the qualifying data Windows uses",
              "a certification made for another purpose is reused", WCCE, SAMPLES),
        "extraData = 20 other bytes", "tpm.set", "KADS.keyAttest.extraData",
        lambda b: setattr(b.draft, "qualifying_data", drbg(b.seed, "ms-kast/other-nonce").read(20)),
        invalid(Reason.CHALLENGE_MISMATCH))
    add("binding::qualifying-data-empty", "QualifyingDataEmpty",
        _note("BINDING", high, "TPM2_Certify without qualifying data", "a certification of any time passes"),
        "extraData = ''", "tpm.set", "KADS.keyAttest.extraData", _set(qualifying_data=b""),
        invalid(Reason.CHALLENGE_MISMATCH))
    add("certify::type-quote", "CertifyTypeQuote",
        _note("TPM_STRUCTURE", high, "the AIK signed a TPM2_Quote, not a TPM2_Certify",
              "any AIK-signed structure passes as a key certification"),
        "type = TPM_ST_ATTEST_QUOTE", "tpm.set", "KADS.keyAttest.type", _set(attest_edit=_quote),
        invalid(Reason.MALFORMED))
    add("certify::magic-wrong", "CertifyMagicWrong",
        _note("SIGNATURE_BYPASS", crit, "certifyInfo.magic is not TPM_GENERATED_VALUE",
              "data the AIK signed outside the TPM passes as TPM-generated"),
        "magic = 0", "tpm.set", "KADS.keyAttest.magic", _set(attest_edit=lambda a: replace(a, magic=0)),
        invalid(Reason.MALFORMED))
    add("certify::qualified-name-is-name", "CertifyQualifiedNameIsName",
        _note("TPM_STRUCTURE", med, "certifyInfo.attested.qualifiedName is the key's Name itself, not "
              "H(QN(parent) ‖ Name)", "a verifier that skips qualifiedName accepts a TPMS_CERTIFY_INFO no TPM "
              "writes: a certification made outside a TPM by a key that signs anything, which an AIK refuses",
              WCCE, TPM_PART1_NAMES),
        "qualifiedName = attested.name", "tpm.set", "KADS.keyAttest.attested.qualifiedName",
        _set(attest_edit=_qualified_name_is_name), invalid(Reason.MALFORMED))
    add("certify::signature-bit-flip", "CertifySigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of the AIK's certify signature flipped", forged),
        "last bit of the KADS signature inverted", "bytes.flip_bit", "KADS.signature",
        _set(signature_edit=_flip_last), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("certify::signed-by-other-aik", "CertifyByOtherAik",
        _note("SIGNATURE_BYPASS", crit, "another RSA key than the certified AIK signed the certification", forged),
        "KADS signature by another RSA-2048 key", "sig.replace", "KADS.signature",
        lambda b: setattr(b.draft, "certify_signer", _other_aik_key(b)), invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("key::imported", "KeyImported",
        _note("KEY_PROTECTION", high, "the key's objectAttributes lack sensitiveDataOrigin; fixedTPM and fixedParent "
              "stay set to isolate that one attribute (a TPM2_Import object has them clear too)",
              "a key generated outside the TPM passes as TPM-generated", WCCE, "TPM 2.0 Library Part 2"),
        "objectAttributes & ~sensitiveDataOrigin", "tpm.set", "KADS.keyBlob.public.objectAttributes",
        _area(lambda a: a & ~TpmaObject.SENSITIVE_DATA_ORIGIN), invalid(Reason.ATTR_NOT_LOCAL))
    add("key::duplicable", "KeyDuplicable",
        _note("KEY_PROTECTION", high, "the key lacks fixedTPM: it can be duplicated to another TPM",
              "a key that can leave the TPM passes as bound to it", WCCE, "TPM 2.0 Library Part 2"),
        "objectAttributes & ~fixedTPM", "tpm.set", "KADS.keyBlob.public.objectAttributes",
        _area(lambda a: a & ~TpmaObject.FIXED_TPM), invalid(Reason.ATTR_EXTRACTABLE))
    add("key::restricted", "KeyRestricted",
        _note("KEY_PURPOSE", med, "the certified key is restricted (an AIK-like key)",
              "a key that signs only TPM-generated data is issued a general certificate"),
        "objectAttributes | restricted", "tpm.set", "KADS.keyBlob.public.objectAttributes",
        _area(lambda a: a | TpmaObject.RESTRICTED), invalid(Reason.KEY_PURPOSE))
    # the request and its envelope
    add("csr::signature-broken", "CsrSigBroken",
        _note("SIGNATURE_BYPASS", high, "the inner request's self-signature has one bit flipped",
              "no proof of possession of the requested key", "RFC 2986"),
        "last bit of the PKCS#10 signature inverted", "bytes.flip_bit", "certificationRequest.signature",
        _set(csr_edit=_flip_last), invalid(Reason.CSR_SIGNATURE_INVALID))
    add("csr::statement-missing", "StatementMissing",
        _note("ATTRIBUTE", high, "the request carries no szOID_ENROLL_ATTESTATION_STATEMENT",
              "a request without key attestation passes as attested"),
        "attribute 1.3.6.1.4.1.311.21.24 removed", "attr.remove", "attributes[.21.24]",
        _attributes(_without(wire.OID_STATEMENT)), invalid(Reason.ATTR_MISSING))
    add("csr::statement-twice", "StatementTwice",
        _note("ATTRIBUTE", high, "two attestation statement attributes",
              "the verifier checks one statement and the CA acts on the other"),
        "attribute 1.3.6.1.4.1.311.21.24 duplicated", "attr.duplicate", "attributes[.21.24]",
        _attributes(_twice(wire.OID_STATEMENT)), invalid(Reason.ATTR_CONFLICT))
    add("csr::statement-two-values", "StatementTwoValues",
        _note("ATTRIBUTE", med, "the statement attribute's SET holds two OCTET STRINGs", "which one is checked?"),
        "values = {KAST, KAST}", "attr.set", "attributes[.21.24].values",
        _set(statement_value=lambda k: der_tlv(wire.OCTETS, k) * 2), invalid(Reason.ATTR_CONFLICT))
    add("csr::statement-not-octet-string", "StatementWrapped",
        _note("ENCODING", med, "the KAST is wrapped in a SEQUENCE instead of the bare OCTET STRING Windows writes",
              "a lenient reader guesses where the statement is", WCCE, SAMPLES),
        "value = SEQUENCE {OCTET STRING KAST}", "attr.set", "attributes[.21.24].values",
        _set(statement_value=lambda k: der_sequence(der_tlv(wire.OCTETS, k))), invalid(Reason.MALFORMED))
    add("csr::unknown-attribute", "UnknownAttribute",
        _note("PROFILE", low, "an attribute outside the Windows key attestation set",
              "valid under the structural profile; the strict profile allows no unknown content"),
        "attribute 1.3.6.1.4.1.311.21.99 added", "attr.add", "attributes", _attributes(_unknown_attribute),
        strict_only(Reason.UNEXPECTED_CONTENT))
    add("cmc::signed-by-other-key", "CmcByOtherKey",
        _note("SIGNATURE_BYPASS", crit, "the CMC is signed by another key than the requested one (still named by "
              "the requested key's identifier)", "no proof of possession of the requested key", CMC),
        "CMC signature by the RSA-2048 key", "sig.replace", "SignerInfo.signature", _cmc_other_signer,
        invalid(Reason.CSR_SIGNATURE_INVALID))
    add("cmc::signer-is-other-key", "CmcSignerOtherKey",
        _note("BINDING", crit, "the CMC signer is another key, named by its own identifier",
              "a request for one key is wrapped by the holder of another", CMC),
        "sid = SKI of the RSA-2048 key, signed by it", "sig.replace", "SignerInfo.sid", _cmc_other_signer_named,
        invalid(Reason.KEY_MISMATCH))
    add("cmc::message-digest-wrong", "CmcDigestWrong",
        _note("SIGNATURE_BYPASS", crit, "the signed messageDigest is not the digest of the PKIData",
              "the signature covers another request than the one carried", CMC),
        "messageDigest = SHA-256(PKIData ‖ 00)", "attr.set", "SignerInfo.signedAttrs.messageDigest",
        _set(cmc_attributes=_signed_attributes(wire.OID_PKI_DATA, lambda c: _sha256(c + b"\x00"))),
        invalid(Reason.CSR_SIGNATURE_INVALID))
    add("cmc::content-type-data", "CmcContentTypeData",
        _note("SIGNATURE_BYPASS", med, "the signed contentType is id-data, not id-cct-PKIData",
              "a signature made over other content is accepted for the request", CMC),
        "contentType = 1.2.840.113549.1.7.1", "attr.set", "SignerInfo.signedAttrs.contentType",
        _set(cmc_attributes=_signed_attributes(wire.OID_DATA, _sha256)), invalid(Reason.CSR_SIGNATURE_INVALID))
    add("cmc::signature-bit-flip", "CmcSigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of the CMC signature flipped", "no proof of possession", CMC),
        "last bit of the file (the SignerInfo signature) inverted", "bytes.flip_bit", "SignerInfo.signature",
        _set(cmc_edit=_flip_last), invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("cmc::trailing-bytes", "CmcTrailingBytes",
        _note("ENCODING", low, "bytes after the ContentInfo", "a lenient reader ignores what follows", CMC),
        "ContentInfo ‖ 0000", "bytes.append", "ContentInfo", _set(cmc_edit=lambda d: d + bytes(2)),
        invalid(Reason.MALFORMED))
    # the AIK
    add("aik::chain-foreign-root", "AikForeignRoot",
        _note("CHAIN", crit, "the AIK is certified under another (emulated) TPM root with the same names, whose copy "
              "the CMC carries. tpm_root_ca.pem stays the genuine root: it is hsmsim's copy of the anchor the CA "
              "trusts, not part of the request", "any software 'TPM' with its own attestation CA passes", WCCE_AIK),
        "AIK certificate, intermediate and root copy in the CMC from another seed; tpm_root_ca.pem genuine",
        "chain.replace", "AIK certificate",
        _foreign_root, invalid(Reason.CHAIN_UNTRUSTED))
    add("aik::expired", "AikExpired",
        _note("CHAIN", med, "the AIK certificate expired before the validation time", "a retired AIK still attests",
              WCCE_AIK),
        f"AIK certificate notAfter {AIK_EXPIRED:%Y-%m-%d}", "cert.reissue", "AIK certificate.validity", _expired_aik,
        invalid(Reason.CERT_EXPIRED))
    add("aik::certificate-of-other-key", "AikCertOtherKey",
        _note("BINDING", crit, "the AIK info's certificate certifies another key than its AIK public key",
              "a genuine AIK certificate vouches for a key that did not sign", WCCE_AIK),
        "AIK certificate for another RSA-2048 key", "cert.replace", "AIK info[1]", _aik_certificate_of_other_key,
        invalid(Reason.ATTESTATION_KEY_MISMATCH))
    add("aik::info-undecryptable", "AikInfoUndecryptable",
        _note("ENCODING", med, "the enveloped AIK info's ciphertext is corrupted: the CA's key opens the "
              "content-encryption key but the content does not decrypt", "a verifier that ignores it skips the AIK",
              WCCE_AIK),
        "one bit of the AES-CBC ciphertext flipped", "bytes.flip_bit", "AIK info.encryptedContent",
        _set(envelope_edit=_flip_before_last_block), invalid(Reason.MALFORMED))
    add("aik::info-not-aik-info", "AikInfoNotSequence",
        _note("ENCODING", low, "the decrypted AIK info is an OCTET STRING, not AttestationIdentityKeyInfo",
              "a lenient reader guesses", WCCE_AIK),
        "plaintext = OCTET STRING", "asn1.set", "AIK info plaintext",
        _set(aik_plaintext_edit=lambda p: der_tlv(wire.OCTETS, p)), invalid(Reason.MALFORMED))
    add("aik::info-twice", "AikInfoTwice",
        _note("ATTRIBUTE", high, "two szOID_ENROLL_AIK_INFO attributes", "which AIK is checked?", WCCE_AIK),
        "attribute 1.3.6.1.4.1.311.21.39 duplicated", "attr.duplicate", "attributes[.21.39]",
        _attributes(_twice(wire.OID_AIK_INFO)), invalid(Reason.ATTR_CONFLICT))
    add("aik::enveloped-to-other-ca", "AikForOtherCa",
        _note("PROFILE", low, "the AIK info is enveloped to another CA (as every real request seen here is)",
              "valid under the structural profile with tpm_signature_checked = false; the strict profile requires "
              "the TPM signature checked", WCCE_AIK, SAMPLES),
        "EnvelopedData to another exchange certificate", "envelope.recipient", "AIK info.recipientInfos",
        _other_ca, strict_only(Reason.MISSING_INPUT))
    add("aik::info-missing", "AikInfoMissing",
        _note("PROFILE", low, "the request carries no szOID_ENROLL_AIK_INFO",
              "nothing names the AIK: the TPM signature cannot be checked; only the strict profile rejects"),
        "attribute 1.3.6.1.4.1.311.21.39 removed", "attr.remove", "attributes[.21.39]",
        _attributes(_without(wire.OID_AIK_INFO)), strict_only(Reason.MISSING_INPUT))
    add("aik::info-without-certificate", "AikInfoNoCert",
        _note("PROFILE", low, "the AIK info holds the AIK public key but no certificate",
              "the AIK cannot be tied to a TPM maker; only the strict profile rejects", WCCE_AIK),
        "AttestationIdentityKeyInfo = {AIK SPKI}", "asn1.set", "AIK info plaintext",
        _set(aik_plaintext_edit=lambda p: der_sequence(der_children(der_content(p))[0])),
        strict_only(Reason.MISSING_INPUT))
    add("ca::exchange-key-absent", "CaKeyAbsent",
        _note("PROFILE", low, "the CA's exchange key is not given: the AIK info cannot be opened",
              "valid under the structural profile with tpm_signature_checked = false"),
        "<label>.ca-exchange.p8 not written", "file.remove", "<label>.ca-exchange.p8",
        _set(include_ca_key=False), strict_only(Reason.MISSING_INPUT))
    add("aik::unrecovered-anchor-copy-only", "AikCaMissing",
        _note("CHAIN", crit, "the AIK is not recovered and the CMC carries only a copy of the TPM root, no AIK CA",
              "a verifier content with any certificate that chains to an anchor (the anchor's own copy) accepts a "
              "request made entirely in software", WCCE_AIK, SAMPLES),
        "the exchange key removed; the CMC's certificates = the TPM root alone", "cms.certificates",
        "CMC.certificates", _anchor_copy_only, invalid(Reason.MISSING_INPUT))
    add("aik::ca-without-ekus", "AikCaWithoutEkus",
        _note("CHAIN", crit, "the AIK is not recovered and the CMC's only CA below the TPM root lacks the AIK CA "
              "extendedKeyUsage (tcg-kp-AIKCertificate 2.23.133.8.3, Microsoft 1.3.6.1.4.1.311.21.36): the request "
              "carries no AIK CA", "a verifier content with any CA under the TPM root accepts a request made entirely "
              "in software, vouched for by a CA that issues no AIK certificates", WCCE_AIK, SAMPLES),
        "the exchange key removed; the CMC's intermediate re-issued by the root without its extendedKeyUsage",
        "cert.reissue", "CMC.certificates[0].extendedKeyUsage", _aik_ca_without_ekus, invalid(Reason.MISSING_INPUT))
    add("kast::aik-opaque", "KastAikOpaque",
        _note("PROFILE", low, "the KAST carries a 4-byte aikOpaque blob (Windows sends none)",
              "valid under the structural profile; the strict profile allows no unknown content"),
        "cbAIKOpaque = 4, aikOpaque = 00010203", "bytes.append", "KAST.aikOpaque", _set(kast_edit=_with_aik_opaque),
        strict_only(Reason.UNEXPECTED_CONTENT))
    add("id-binding::attest-for-other-aik", "IdBindingOtherAik",
        _note("BINDING", crit, "the idBinding's TPM2_CertifyCreation names another AIK than its public area",
              "a creation certificate of one key vouches for another"),
        "attested.objectName = Name(another AIK)", "tpm.set", "idBinding.attest.attested.objectName",
        _attest_names_other_aik, invalid(Reason.ATTESTATION_KEY_MISMATCH))
    add("id-binding::public-of-other-aik", "IdBindingOtherPublic",
        _note("BINDING", crit, "the idBinding holds another AIK's public area than the certified AIK",
              "the statement's AIK is not the one the CA certified"),
        "idBinding.aikPublic = another AIK (and the attest names it)", "tpm.set", "idBinding.aikPublic",
        lambda b: _id_binding(id_binding_public=_other_aik_public(b))(b), invalid(Reason.ATTESTATION_KEY_MISMATCH))
    add("id-binding::signed-by-other-key", "IdBindingSigOther",
        _note("SIGNATURE_BYPASS", crit, "another key than the AIK signed the idBinding attest", forged),
        "idBinding signature by another RSA-2048 key", "sig.replace", "idBinding.signature",
        lambda b: _id_binding(id_binding_signer=_other_aik_key(b))(b), invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("id-binding::creation-data-edited", "IdBindingCreationData",
        _note("BINDING", high, "the idBinding's creation data is not what the TPM hashed into creationHash "
              "(it parses; only its locality differs)", "the AIK's creation circumstances (locality, parent, PCRs) "
              "are forged"),
        "creationData.locality = TPM_LOC_ONE (the TPM hashed TPM_LOC_ZERO)", "tpm.set",
        "idBinding.creationData.locality", _id_binding(creation_data_edit=_locality_one), invalid(Reason.ATTR_CONFLICT))
    add("id-binding::certify-signer-other-parent", "IdBindingCertifySignerOtherParent",
        _note("BINDING", high, "the key's TPM2_Certify names as qualifiedSigner the AIK's qualified name under the EK, "
              "where the idBinding's creation data makes the AIK a child of the SRK",
              "a verifier that does not recompute QN(AIK) = H(parentQualifiedName ‖ Name(AIK)) accepts a "
              "certification whose signer the TPM would have named otherwise: a structure the TPM did not write",
              WCCE, TPM_PART1_NAMES),
        "idBinding present; certifyInfo.qualifiedSigner = H(QN(EK) ‖ Name(AIK)), re-signed", "tpm.set",
        "KADS.keyAttest.qualifiedSigner", _certify_signer_under_ek, invalid(Reason.ATTESTATION_KEY_MISMATCH))
    add("id-binding::aik-not-restricted", "IdBindingAikUnrestricted",
        _note("KEY_PROTECTION", crit, "the AIK's public area lacks restricted: it is an ordinary signing key",
              "it can sign a forged TPMS_ATTEST with magic TPM_GENERATED", WCCE, "shared/specs/other_formats.md 1.8"),
        "idBinding.aikPublic objectAttributes & ~restricted", "tpm.set", "idBinding.aikPublic.objectAttributes",
        _unrestricted_aik, invalid(Reason.KEY_PURPOSE))
    add("id-binding::truncated", "IdBindingTruncated",
        _note("TPM_STRUCTURE", low, "the idBinding's TPMT_SIGNATURE is one byte short", lenient),
        "idBinding[:-1] (KAST sizes follow)", "bytes.truncate", "idBinding.signature",
        _id_binding(id_binding_edit=lambda d: d[:-1]), invalid(Reason.MALFORMED))
    add("variant::id-binding", "WithIdBinding",
        _note("BASIC", Severity.INFO, "the KAST carries the idBinding (TPM2_CertifyCreation of the AIK), which real "
              "requests leave empty", "none: a correct verifier checks it and accepts"),
        "id_binding = true", "tpm.set", "KAST.idBinding", _id_binding(), valid())
    add("variant::pkcs10", "BarePkcs10",
        _note("BASIC", Severity.INFO, "the bare PKCS#10 without its CMC envelope",
              "none: a correct verifier accepts it", WCCE, "RFC 2986"),
        "output = pkcs10", "envelope.remove", "ContentInfo", _set(output="pkcs10"), valid())
    add("variant::cmc-chain-order", "CmcChainOrder",
        _note("BASIC", Severity.INFO, "the CMC's certificates in chain order (AIK CA, root), not in the DER SET OF "
              "order Windows writes", "none: a SET OF has no order, a correct verifier accepts it", CMC),
        "certificates = {AIK CA, root} as given", "cms.certificates", "SignedData.certificates", _cmc_chain_order,
        valid())
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the ms-kast vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations())


def vector_cases(seed: str, fmt: MsKastFormat) -> list[VectorCase]:
    """Goldens (CMC, one per golden key spec) then every mutation, each from a fresh golden draft, by ``fmt``'s
    TPM."""
    kit = KastKit.build(seed, fmt)
    anchors = (kit.tpm_kit.identity.root,)
    cases = []
    for spec in GOLDEN_SPECS:
        weak = spec == "rsa-2048"
        cases.append(_case(f"{KAST_FORMAT}::golden::{spec}", f"unmutated Windows key attestation request of a "
                           f"generated {spec} key", ("Golden", *(("StrictKeyPolicy",) if weak else ())),
                           strict_only(Reason.KEY_POLICY) if weak else valid(), kit.draft(spec).evidence(),
                           anchors, Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = Bench(kit, kit.draft(mutation.golden))
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(_case(mutation.id, mutation.comment, (mutation.flag, signing.value), mutation.expected,
                           bench.draft.evidence(), anchors,
                           Provenance(seed=seed, signing=signing, golden=_base_of(mutation),
                                      operator=mutation.operator, path=mutation.path)))
    return cases


def _base_of(mutation: Mutation) -> str:
    """The vector ``mutation`` differs from by its one defect: an idBinding defect edits the idBinding that only
    ``variant::id-binding`` carries (the goldens, as real requests, leave it empty), else its golden."""
    if mutation.id.startswith(f"{KAST_FORMAT}::id-binding::"):
        return f"{KAST_FORMAT}::variant::id-binding"
    return f"{KAST_FORMAT}::golden::{mutation.golden}"


def _locality_one(data: bytes) -> bytes:
    # TPMS_CREATION_DATA: pcrSelect (an empty TPML_PCR_SELECTION, 4 bytes), pcrDigest (TPM2B of SHA-256), then the
    # TPMA_LOCALITY byte: TPM_LOC_ZERO (0x01) becomes TPM_LOC_ONE (0x02), still a well-formed structure.
    at = 4 + 2 + hashlib.sha256().digest_size
    return data[:at] + bytes([0x02]) + data[at + 1:]


def _case(id_: str, comment: str, flags: tuple[str, ...], expected: dict[Profile, Reason], evidence: Evidence,
          anchors: tuple[x509.Certificate, ...], provenance: Provenance) -> VectorCase:
    return VectorCase(id=id_, comment=comment, flags=flags, expected=expected, evidence=evidence, anchors=anchors,
                      validation_time=VALIDATION_TIME, provenance=provenance)
