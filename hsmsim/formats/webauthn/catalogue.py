"""The ``webauthn`` vectors of the security-key statements: ``packed`` (full and self) and ``fido-u2f`` goldens,
and one-defect mutations with the reason each profile must return.

Each :class:`~hsmsim.model.catalogue.Mutation` edits one field of a golden :class:`Workbench` (the ceremony
and the :class:`SecurityKeyDraft` the generator itself renders), so a golden vector is byte for byte what
``generate`` writes. Edits made before signing are signed by the genuine attestation key (``Resigned``);
edits of what is signed leave a signature over other bytes (``Stale``). Everything is derived from the seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from hsmsim.device import DEVICE_EPOCH, AttestationRequest, Device
from hsmsim.formats.webauthn.standard import (
    DEFAULT_AUTHENTICATOR,
    OID_FIDO_AAGUID,
    SecurityKeyDraft,
    draft_for,
)
from hsmsim.keystore.base import KeySpec, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, mutation_case, seeded_faker, strict_only, valid
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.mutate import MutationError
from hsmsim.pki.builder import Ext, name_attribute, reissue
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.ceremony import Workbench as RegistrationBench
from hsmsim.webauthn.ceremony import ceremony_for, set_draft
from hsmsim.webauthn.container import FLAG_ED
from hsmsim.webauthn.statements import FidoAuthenticator, fido_authenticator, statement_format

VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
PACKED = "WebAuthn L3 §8.2 (packed attestation)"
U2F = "WebAuthn L3 §8.6 (fido-u2f attestation)"
SPEC = "shared/specs/other_formats.md 5"
OTHER_AAGUID = bytes.fromhex("cb69481e8ff7403993ec0a2729a154a8")
"""Another YubiKey 5 model's AAGUID (firmware 5.1): a certificate for one model vouching for another."""

GOLDENS: dict[str, tuple[str, str, str]] = {
    "packed-es256": ("ec-p256", "packed", "full"),
    "packed-rs256": ("rsa-3072", "packed", "full"),
    "packed-eddsa": ("ed25519", "packed", "full"),
    "packed-self-es256": ("ec-p256", "packed", "self"),
    "packed-self-rs256": ("rsa-3072", "packed", "self"),
    "fido-u2f": ("ec-p256", "fido-u2f", "full"),
}
"""Golden name -> (key spec, fmt, packed attestation type)."""
EDDSA_NOTE = FlagNote("PROFILE", Severity.LOW, "an Ed25519 credential key (EdDSA)",
                      "valid evidence; the strict profile rejects the key with KEY_POLICY (CA/B Forum code signing)",
                      ("CA/B Forum Code Signing BR 6.2.7.4",))
SELF_NOTE = FlagNote("PROFILE", Severity.LOW, "packed self attestation: the credential key signs its own statement",
                     "valid WebAuthn; the strict profile rejects it with MISSING_INPUT (no maker vouches for the key)",
                     (PACKED + ".3",))


# -- the seeded world -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SecurityKeyKit:
    """Everything the vectors are made of, derived from one seed: a relying party, a device, one key per spec,
    the security key's FIDO PKI and a foreign one."""

    seed: str
    device: Device
    store: SoftKeyStore
    keys: dict[str, StoredKey]
    fido: FidoAuthenticator
    foreign: FidoAuthenticator
    rp_id: str

    @classmethod
    def build(cls, seed: str) -> SecurityKeyKit:
        """Seed -> Faker relying party, a device, the credential keys and the authenticator PKIs."""
        fake = seeded_faker(seed, ["en_US"], "webauthn-security-key", providers=("company", "internet", "person"))
        rp_id = f"{fake.domain_word()}.example"
        device = Device(format="webauthn", serial=fake.numerify("YK-########"), seed=seed,
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        store = SoftKeyStore(seed=seed)
        keys = {spec: store.generate(KeySpec.parse(spec), f"security-key-{spec}",
                                     created=KEYS_CREATED + timedelta(hours=index))
                for index, spec in enumerate(("ec-p256", "ec-p384", "rsa-3072", "ed25519"))}
        return cls(seed, device, store, keys, fido_authenticator(DEFAULT_AUTHENTICATOR, seed),
                   fido_authenticator(DEFAULT_AUTHENTICATOR, f"{seed}/foreign-fido"), rp_id)

    def request(self, golden: str) -> AttestationRequest:
        """The request ``generate`` would get for ``golden``."""
        spec, _, kind = GOLDENS[golden]
        key = self.keys[spec]
        return AttestationRequest(
            device=self.device, partition="default", key=key, key_signer=self.store.signer(key),
            attesting=AttestationIdentity(self.fido.key, self.fido.certificate,
                                          (self.fido.certificate, *self.fido.chain), self.fido.root),
            parameters={"rp_id": self.rp_id, "attestation": kind}, at=ATTEST_TIME)

    def workbench(self, golden: str) -> Workbench:
        """The golden ``golden`` opened for a mutation."""
        _, fmt, _ = GOLDENS[golden]
        request = self.request(golden)
        assert request.key.public_key is not None
        ceremony = ceremony_for(request, fmt, statement_format(fmt).aaguid(request), request.key.public_key)
        return RegistrationBench(self, ceremony, draft_for(fmt, request))


Workbench = RegistrationBench[SecurityKeyKit, SecurityKeyDraft]
Operator = Callable[[Workbench], None]
_draft = set_draft


# -- operators ------------------------------------------------------------------------------------


def _ceremony(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        for field_name, value in changes.items():
            setattr(bench.ceremony, field_name, value)
    return apply


def _statement(edit: Callable[[dict[str, Any]], None]) -> Operator:
    return _draft(statement_edit=edit)


def _member(member: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        statement[member] = value
    return edit


def _drop(member: str) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        del statement[member]
    return edit


def _flip_sig(statement: dict[str, Any]) -> None:
    sig = bytearray(statement["sig"])
    sig[-1] ^= 0x01
    statement["sig"] = bytes(sig)


def _reissue(*, extensions: Callable[[list[Ext]], list[Ext]] | None = None, foreign: bool = False,
             **changes: object) -> Operator:
    """The attestation certificate re-issued with ``changes`` by the genuine root (``foreign``: by another
    PKI's root of the same name), in x5c."""
    def apply(bench: Workbench) -> None:
        kit = bench.kit
        cert = kit.fido.certificate
        if extensions is not None:
            changes["extensions"] = tuple(extensions([Ext(e.value, e.critical) for e in cert.extensions]))
        issuer = kit.foreign.issuer_key if foreign else kit.fido.issuer_key
        bench.draft.certificates = [reissue(cert, issuer, **changes), *bench.draft.certificates[1:]]
    return apply


def _without(oid: x509.ObjectIdentifier) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [e for e in exts if e.value.oid != oid]


def _replacing(oid: x509.ObjectIdentifier, new: Ext) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [new if e.value.oid == oid else e for e in exts]


def _aaguid_extension(value: bytes, *, critical: bool = False) -> Callable[[list[Ext]], list[Ext]]:
    return _replacing(OID_FIDO_AAGUID, Ext(x509.UnrecognizedExtension(OID_FIDO_AAGUID, value), critical))


def _subject(oid: x509.ObjectIdentifier, value: str | None = None) -> Operator:
    """The attestation certificate re-issued with its subject's ``oid`` attribute removed, or holding ``value`` in
    the same string type; every other RDN keeps its value and string type (C a PrintableString, CN naming the
    certificate's serial)."""
    def apply(bench: Workbench) -> None:
        rdns = []
        for rdn in bench.kit.fido.certificate.subject.rdns:
            kept = [a for a in rdn if a.oid != oid]
            if value is not None and len(kept) < len(rdn):
                kept += [name_attribute(oid, value, a._type) for a in rdn if a.oid == oid]
            if kept:
                rdns.append(x509.RelativeDistinguishedName(kept))
        _reissue(subject=x509.Name(rdns))(bench)
    return apply


def _basic_constraints(ca: bool) -> Callable[[list[Ext]], list[Ext]]:
    return _replacing(ExtensionOID.BASIC_CONSTRAINTS,
                      Ext(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))


def _foreign_root_appended(bench: Workbench) -> None:
    kit = bench.kit
    _reissue(foreign=True)(bench)
    bench.draft.certificates = [*bench.draft.certificates, kit.foreign.root]


def _other_p256(bench: Workbench) -> Any:
    return derive_key(bench.kit.seed, "webauthn/security-key/other-p256", KeySpec.parse("ec-p256"))


def _certificate_of_other_key(bench: Workbench) -> None:
    _reissue(public_key=_other_p256(bench).public_key())(bench)


def _self_signed_by_other_key(bench: Workbench) -> None:
    bench.draft.signer = _other_p256(bench)


def _u2f_p384_attestation_key(bench: Workbench) -> None:
    key = derive_key(bench.kit.seed, "webauthn/security-key/p384-attestation", KeySpec.parse("ec-p384"))
    _reissue(public_key=key.public_key())(bench)
    bench.draft.signer, bench.draft.sign_alg = key, -35


def _u2f_p384_credential(bench: Workbench) -> None:
    key = bench.kit.keys["ec-p384"]
    assert key.public_key is not None
    bench.ceremony.credential_key = key.public_key


def _rs256_announced_ps256(bench: Workbench) -> None:
    bench.draft.alg = bench.draft.sign_alg = -37


def _two_u2f_certificates(bench: Workbench) -> None:
    bench.draft.certificates = [bench.kit.fido.certificate, bench.kit.fido.root]


def _packed_message_in_u2f(bench: Workbench) -> None:
    bench.draft.fmt = "packed"


def _cose_key_boolean_label(auth_data: bytes) -> bytes:
    # The COSE_Key ends authData (no extensions): map(5) -> map(6) with a last entry true (f5): 2, kty again under a
    # label cbor2 and Python fold into 1 (True == 1), so a walker comparing encoded keys sees no duplicate.
    start = 37 + 16 + 2 + int.from_bytes(auth_data[53:55], "big")
    if auth_data[start] != 0xA5 or auth_data[32] & FLAG_ED:
        raise MutationError("the credential's COSE_Key is not a 5-entry map ending authData")
    return auth_data[:start] + b"\xa6" + auth_data[start + 1:] + b"\xf5\x02"


def _without_leading_zero(message: bytes) -> bytes:
    return message[1:]


def _other_credential_id(message: bytes) -> bytes:
    # 0x00 ‖ rpIdHash(32) ‖ clientDataHash(32) ‖ credentialId ‖ point: flip the credential id's first byte
    return message[:65] + bytes([message[65] ^ 0xFF]) + message[66:]


def _sign_count_after_signing(message: bytes) -> bytes:
    # the counter one signature on from the one authData carries
    return message[:33] + (int.from_bytes(message[33:37], "big") + 1).to_bytes(4, "big") + message[37:]


def _auth_data_only(message: bytes) -> bytes:
    return message[:-32]


def _other_client_data(message: bytes) -> bytes:
    return message[:-32] + hashlib.sha256(b'{"type":"webauthn.create","challenge":"AAAA"}').digest()


# -- the catalogue --------------------------------------------------------------------------------

def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (PACKED, SPEC))


def mutations() -> list[Mutation]:
    """Every packed and fido-u2f defect, packed first."""
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool = True, golden: str = "packed-es256") -> None:
        m.append(Mutation(f"webauthn::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    profile = "a certificate outside the FIDO attestation profile vouches for an authenticator"
    forged = "a statement the attestation key never made is accepted"

    # packed: attestation certificate profile (WebAuthn §8.2.1)
    add("packed::cert-aaguid-mismatch", "PackedCertAaguidMismatch",
        _note("CERT_PROFILE", high, "authData's AAGUID names another model than the certificate's AAGUID extension",
              "a certificate for one authenticator model vouches for another (wrong AAGUID)", PACKED + ".1"),
        "authData aaguid = another YubiKey 5 model's", "authdata.set", "authData.attestedCredentialData.aaguid",
        _ceremony(aaguid=OTHER_AAGUID), invalid(Reason.ATTR_CONFLICT))
    add("packed::cert-aaguid-critical", "PackedCertAaguidCritical",
        _note("CERT_PROFILE", med, "the AAGUID extension 1.3.6.1.4.1.45724.1.1.4 is marked critical",
              "the FIDO profile says it MUST NOT be critical", PACKED + ".1"),
        "AAGUID extension re-issued critical", "cert.reissue", "x5c[0]/extensions/aaguid",
        _reissue(extensions=lambda exts: [Ext(e.value, True) if e.value.oid == OID_FIDO_AAGUID else e
                                          for e in exts]),
        invalid(Reason.CERT_PROFILE))
    add("packed::cert-aaguid-not-octet-string", "PackedCertAaguidMalformed",
        _note("ENCODING", med, "the AAGUID extension holds the 16 bytes without their OCTET STRING wrapping",
              "a verifier slicing fixed offsets reads a shifted AAGUID", PACKED + ".1"),
        "extnValue = aaguid (16 bytes, no 04 10)", "cert.reissue", "x5c[0]/extensions/aaguid",
        lambda b: _reissue(extensions=_aaguid_extension(b.kit.fido.aaguid))(b), invalid(Reason.MALFORMED))
    add("packed::cert-no-aaguid-extension", "PackedCertNoAaguid",
        _note("CERT_PROFILE", low, "no AAGUID extension: the certificate does not name a model, although its root "
              "(the U2F root) serves several models, for which §8.2.1 says the extension MUST be present",
              "a certificate of one model vouches for any AAGUID; only a verifier that knows the root serves several "
              "models (metadata) can tell, so strict rejects (CERT_PROFILE) and structural accepts", PACKED + ".1"),
        "AAGUID extension removed", "cert.reissue", "x5c[0]/extensions/aaguid",
        _reissue(extensions=_without(OID_FIDO_AAGUID)), strict_only(Reason.CERT_PROFILE))
    add("packed::cert-ou-wrong", "PackedCertOuWrong",
        _note("CERT_PROFILE", med, "subject OU is not 'Authenticator Attestation'", profile, PACKED + ".1"),
        "OU=Yubico Attestation", "cert.reissue", "x5c[0]/subject/OU",
        _subject(NameOID.ORGANIZATIONAL_UNIT_NAME, "Yubico Attestation"),
        invalid(Reason.CERT_PROFILE))
    add("packed::cert-no-ou", "PackedCertNoOu",
        _note("CERT_PROFILE", med, "subject without OU", profile, PACKED + ".1"),
        "subject C, O, CN only", "cert.reissue", "x5c[0]/subject/OU",
        _subject(NameOID.ORGANIZATIONAL_UNIT_NAME), invalid(Reason.CERT_PROFILE))
    add("packed::cert-no-country", "PackedCertNoCountry",
        _note("CERT_PROFILE", low, "subject without C (ISO 3166 country)", profile, PACKED + ".1"),
        "subject O, OU, CN only", "cert.reissue", "x5c[0]/subject/C",
        _subject(NameOID.COUNTRY_NAME),
        invalid(Reason.CERT_PROFILE))
    add("packed::cert-no-organisation", "PackedCertNoOrganisation",
        _note("CERT_PROFILE", low, "subject without O (the authenticator vendor)", profile, PACKED + ".1"),
        "subject C, OU, CN only", "cert.reissue", "x5c[0]/subject/O",
        _subject(NameOID.ORGANIZATION_NAME),
        invalid(Reason.CERT_PROFILE))
    add("packed::cert-no-common-name", "PackedCertNoCommonName",
        _note("CERT_PROFILE", low, "subject without CN", profile, PACKED + ".1"),
        "subject C, O, OU only", "cert.reissue", "x5c[0]/subject/CN",
        _subject(NameOID.COMMON_NAME), invalid(Reason.CERT_PROFILE))
    add("packed::cert-ca-true", "PackedCertCaTrue",
        _note("CERT_PROFILE", high, "attestation certificate with basicConstraints CA:TRUE",
              "an attestation certificate that can issue certificates is accepted", PACKED + ".1"),
        "basicConstraints CA:TRUE pathlen 0", "cert.reissue", "x5c[0]/extensions/basicConstraints",
        _reissue(extensions=_basic_constraints(True)), invalid(Reason.CERT_PROFILE))
    add("packed::cert-no-basic-constraints", "PackedCertNoBasicConstraints",
        _note("CERT_PROFILE", med, "attestation certificate without basicConstraints",
              "the FIDO profile requires basicConstraints CA:FALSE", PACKED + ".1"),
        "basicConstraints removed", "cert.reissue", "x5c[0]/extensions/basicConstraints",
        _reissue(extensions=_without(ExtensionOID.BASIC_CONSTRAINTS)), invalid(Reason.CERT_PROFILE))
    add("packed::cert-of-other-key", "PackedCertOfOtherKey",
        _note("SIGNATURE_BYPASS", crit, "x5c[0] certifies another P-256 key than the one that signed",
              "a genuine certificate lends its name to any signer"),
        "attestation certificate re-issued for another key", "cert.reissue", "x5c[0]/subjectPublicKeyInfo",
        _certificate_of_other_key, invalid(Reason.SIGNATURE_INVALID))

    # packed: chain
    add("packed::cert-expired", "PackedCertExpired",
        _note("CHAIN", med, "the attestation certificate expired before the validation time",
              "py_webauthn without roots and python-fido2 accept expired attestation certificates", SPEC),
        "notAfter = validation time - 1 day", "cert.reissue", "x5c[0]/validity",
        _reissue(not_after=VALIDATION_TIME - timedelta(days=1)), invalid(Reason.CERT_EXPIRED))
    add("packed::cert-not-yet-valid", "PackedCertNotYetValid",
        _note("CHAIN", low, "the attestation certificate is valid only after the validation time",
              "a certificate from the future is accepted"),
        "notBefore = validation time + 1 day", "cert.reissue", "x5c[0]/validity",
        _reissue(not_before=VALIDATION_TIME + timedelta(days=1)),
        invalid(Reason.CERT_NOT_YET_VALID))
    add("packed::chain-foreign-root", "PackedChainForeignRoot",
        _note("CHAIN", crit, "the attestation certificate is issued by another root of the same name",
              "name matching without signature checks trusts any PKI"),
        "attestation certificate signed by a foreign 'Yubico U2F Root CA Serial 457200631'", "cert.reissue",
        "x5c[0]/signature", _reissue(foreign=True), invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("packed::chain-own-root-appended", "PackedChainOwnRoot",
        _note("CHAIN", crit, "x5c ends at the attacker's own root (same name as the trusted one)",
              "a verifier that trusts the last x5c certificate as the root accepts any PKI"),
        "x5c = [leaf by foreign root, foreign root]", "cert.reissue", "x5c",
        _foreign_root_appended, invalid(Reason.CHAIN_UNTRUSTED))
    add("packed::x5c-empty", "PackedX5cEmpty",
        _note("CHAIN", high, "attStmt.x5c is an empty array", "neither full nor self attestation is checked"),
        "x5c = []", "cbor.set", "attStmt.x5c", _statement(_member("x5c", [])), invalid(Reason.MISSING_INPUT))
    add("packed::x5c-garbage", "PackedX5cGarbage",
        _note("ENCODING", med, "x5c[0] is not a DER certificate", "a lenient parser skips it"),
        "x5c[0] = 16 bytes of 0x30", "cbor.set", "attStmt.x5c[0]", _statement(_member("x5c", [b"\x30" * 16])),
        invalid(Reason.MALFORMED))

    # packed: algorithm and signature
    add("packed::alg-mismatch", "PackedAlgMismatch",
        _note("ALGORITHM", high, "alg RS256 announced for an ES256 signature by a P-256 certificate key",
              "alg is not checked against the certificate's key", PACKED + ".2"),
        "alg = -257", "cbor.set", "attStmt.alg", _draft(alg=-257), invalid(Reason.SIGNATURE_INVALID))
    add("packed::alg-curve-mismatch", "PackedAlgCurveMismatch",
        _note("ALGORITHM", med, "alg ES384 announced for a P-256 certificate key (ECDSA with SHA-384)",
              "the curve implied by alg is not checked", PACKED + ".2"),
        "alg = sign alg = -35", "cbor.set", "attStmt.alg", _draft(alg=-35, sign_alg=-35),
        invalid(Reason.SIGNATURE_INVALID))
    add("packed::credential-alg-curve-mismatch", "CredentialAlgCurveMismatch",
        _note("ALGORITHM", med, "the credential's COSE_Key announces alg ES384 (-35) with crv P-256 (1)",
              "the relying party stores a P-256 credential announced as ES384 and later verifies its assertions "
              "with SHA-384 on P-256 or refuses them; WebAuthn L3 §5.8.5 pairs ES256/ES384/ES512 with "
              "P-256/P-384/P-521", "WebAuthn L3 §5.8.5", "RFC 9053 §2.1"),
        "credentialPublicKey alg = -35 on the P-256 key, signed", "authdata.set",
        "authData.attestedCredentialData.credentialPublicKey.alg", _ceremony(credential_alg=-35),
        invalid(Reason.MALFORMED))
    add("packed::cose-key-boolean-label", "CoseKeyBooleanLabel",
        _note("ENCODING", high, "the credential's COSE_Key carries a sixth entry labelled true (CBOR f5) holding kty "
              "again", "a COSE label is an int or a tstr (RFC 9052 §7); a decoder that folds true into 1 (cbor2, "
              "Python) takes the last kty, one that keeps both labels or the first takes another, so the parsers "
              "disagree on the credential key while a duplicate-key check on encoded keys sees none",
              "RFC 9052 §7"),
        "credentialPublicKey map(6) with true: 2 appended, signed", "bytes.edit",
        "authData.attestedCredentialData.credentialPublicKey", _ceremony(auth_data_edit=_cose_key_boolean_label),
        invalid(Reason.MALFORMED))
    add("packed::alg-unknown", "PackedAlgUnknown",
        _note("ALGORITHM", med, "alg -999 is no COSE algorithm", "an unknown algorithm is guessed"),
        "alg = -999", "cbor.set", "attStmt.alg", _draft(alg=-999), invalid(Reason.UNSUPPORTED))
    add("packed::alg-not-integer", "PackedAlgNotInteger",
        _note("ENCODING", low, "alg is the text 'ES256'", "a type confusion in the statement decoder"),
        "alg = 'ES256'", "cbor.set", "attStmt.alg", _draft(alg="ES256"), invalid(Reason.MALFORMED))
    add("packed::sig-bit-flip", "PackedSigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of the attestation signature flipped", forged),
        "last bit of attStmt.sig inverted", "bytes.flip_bit", "attStmt.sig", _statement(_flip_sig),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("packed::sig-missing", "PackedSigMissing",
        _note("SIGNATURE_BYPASS", crit, "attStmt has no sig", forged),
        "sig removed", "cbor.remove", "attStmt.sig", _statement(_drop("sig")), invalid(Reason.MISSING_INPUT))
    add("packed::sig-over-auth-data-only", "PackedSigOverAuthDataOnly",
        _note("BINDING", high, "sig covers authData without clientDataHash",
              "the statement is not bound to the relying party's challenge", PACKED + ".2"),
        "signed authData", "message.edit", "attStmt.sig", _draft(message_edit=_auth_data_only),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("packed::sig-over-other-client-data", "PackedSigOverOtherClientData",
        _note("BINDING", crit, "sig covers authData ‖ the hash of another clientDataJSON",
              "a statement made for another challenge is replayed"),
        "signed authData ‖ SHA-256(other clientDataJSON)", "message.edit", "attStmt.sig",
        _draft(message_edit=_other_client_data), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("packed::auth-data-edited-after-signing", "PackedAuthDataStale",
        _note("SIGNATURE_BYPASS", high, "authData's signCount differs from what was signed",
              "authData fields are trusted without the signature over them"),
        "signCount n + 1 signed, n sent", "message.edit", "authData.signCount",
        _draft(message_edit=_sign_count_after_signing), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("packed::ecdaa-key-id", "PackedEcdaa",
        _note("ALGORITHM", low, "attStmt carries ecdaaKeyId (ECDAA, removed from WebAuthn Level 2)",
              "a removed attestation type is half-implemented", "WebAuthn L2 §8.2"),
        "ecdaaKeyId = 32 bytes", "cbor.set", "attStmt.ecdaaKeyId",
        _statement(_member("ecdaaKeyId", bytes(32))), invalid(Reason.UNSUPPORTED))
    add("packed::unknown-member", "PackedUnknownMember",
        _note("ENCODING", low, "attStmt carries an unknown member 'x5u'",
              "structural verifiers ignore it; the strict profile rejects unknown members"),
        "x5u = 'https://attacker.example/chain'", "cbor.set", "attStmt.x5u",
        _statement(_member("x5u", "https://attacker.example/chain")), strict_only(Reason.UNEXPECTED_CONTENT))

    # packed self attestation (WebAuthn §8.2 step 3)
    add("packed::self-signed-by-other-key", "PackedSelfOtherKey",
        _note("SIGNATURE_BYPASS", crit, "self attestation signed by another key than the credential key",
              "a statement by any key passes as the credential's own", PACKED + ".2"),
        "self statement signed by another P-256 key", "key.replace", "attStmt.sig", _self_signed_by_other_key,
        invalid(Reason.SIGNATURE_INVALID), golden="packed-self-es256")
    add("packed::self-alg-mismatch", "PackedSelfAlgMismatch",
        _note("ALGORITHM", med, "self attestation alg RS256 for a P-256 credential (credential alg ES256)",
              "alg is not compared with the credential public key's", PACKED + ".2"),
        "alg = -257", "cbor.set", "attStmt.alg", _draft(alg=-257), invalid(Reason.ATTR_CONFLICT),
        golden="packed-self-es256")
    add("packed::self-alg-not-credential-alg", "PackedSelfPs256",
        _note("ALGORITHM", med, "self attestation with PS256 by an RSA credential announcing RS256",
              "an algorithm that fits the key but not the credential passes", PACKED + ".2"),
        "alg = sign alg = -37 (PS256)", "cbor.set", "attStmt.alg", _rs256_announced_ps256,
        invalid(Reason.ATTR_CONFLICT), golden="packed-self-rs256")
    add("packed::self-sig-over-auth-data-only", "PackedSelfSigOverAuthDataOnly",
        _note("BINDING", high, "self attestation sig covers authData without clientDataHash",
              "the statement is not bound to the challenge", PACKED + ".2"),
        "signed authData", "message.edit", "attStmt.sig", _draft(message_edit=_auth_data_only),
        invalid(Reason.SIGNATURE_INVALID), resign=False, golden="packed-self-es256")

    # fido-u2f (WebAuthn §8.6)
    def u2f(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool = True) -> None:
        add(f"fido-u2f::{id_}", flag, note, comment, operator, path, apply, expected, resign=resign, golden="fido-u2f")

    u2f("two-certificates", "U2fTwoCertificates",
        _note("CHAIN", med, "x5c holds the attestation certificate and the root",
              "U2F allows exactly one certificate; a verifier taking the last as the root is misled", U2F),
        "x5c = [attestation certificate, root]", "cbor.set", "attStmt.x5c", _two_u2f_certificates,
        invalid(Reason.MALFORMED))
    u2f("x5c-empty", "U2fX5cEmpty",
        _note("CHAIN", high, "attStmt.x5c is an empty array", "nothing certifies the U2F attestation key", U2F),
        "x5c = []", "cbor.set", "attStmt.x5c", _statement(_member("x5c", [])), invalid(Reason.MISSING_INPUT))
    u2f("aaguid-not-zero", "U2fAaguidNotZero",
        _note("CERT_PROFILE", med, "authData AAGUID is not zero in a fido-u2f registration",
              "a U2F authenticator has no AAGUID: the client must write zeros", U2F),
        "authData aaguid = the YubiKey 5 AAGUID", "authdata.set", "authData.attestedCredentialData.aaguid",
        lambda b: _ceremony(aaguid=b.kit.fido.aaguid)(b), invalid(Reason.ATTR_CONFLICT))
    u2f("credential-not-p256", "U2fCredentialP384",
        _note("ALGORITHM", med, "the credential key is EC P-384", "U2F public keys are P-256 points only", U2F),
        "credentialPublicKey = a P-384 key, signed over its point", "authdata.set",
        "authData.attestedCredentialData.credentialPublicKey", _u2f_p384_credential, invalid(Reason.UNSUPPORTED))
    u2f("cert-key-not-p256", "U2fCertKeyP384",
        _note("CERT_PROFILE", med, "the attestation certificate's key is EC P-384 (signing ES384)",
              "U2F attestation keys are P-256 only", U2F),
        "attestation certificate re-issued for a P-384 key", "cert.reissue", "x5c[0]/subjectPublicKeyInfo",
        _u2f_p384_attestation_key, invalid(Reason.CERT_PROFILE))
    u2f("sig-over-packed-data", "U2fSigOverPackedData",
        _note("BINDING", high, "sig covers authData ‖ clientDataHash (packed) instead of U2F verificationData",
              "a packed signature is accepted as a U2F registration", U2F),
        "signed authData ‖ clientDataHash", "message.edit", "attStmt.sig", _packed_message_in_u2f,
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    u2f("sig-without-reserved-byte", "U2fSigWithoutReservedByte",
        _note("BINDING", med, "verificationData signed without its leading 0x00",
              "the U2F registration message layout is not checked", U2F),
        "signed rpIdHash ‖ clientDataHash ‖ credentialId ‖ point", "message.edit", "attStmt.sig",
        _draft(message_edit=_without_leading_zero), invalid(Reason.SIGNATURE_INVALID), resign=False)
    u2f("sig-over-other-credential-id", "U2fSigOverOtherCredentialId",
        _note("BINDING", crit, "verificationData signed over another credential id",
              "a registration of one credential is accepted for another"),
        "credential id byte 0 flipped in what was signed", "message.edit", "attStmt.sig",
        _draft(message_edit=_other_credential_id), invalid(Reason.SIGNATURE_INVALID), resign=False)
    u2f("sig-bit-flip", "U2fSigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of the U2F signature flipped", forged, U2F),
        "last bit of attStmt.sig inverted", "bytes.flip_bit", "attStmt.sig", _statement(_flip_sig),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    u2f("sig-missing", "U2fSigMissing",
        _note("SIGNATURE_BYPASS", crit, "attStmt has no sig", forged, U2F),
        "sig removed", "cbor.remove", "attStmt.sig", _statement(_drop("sig")), invalid(Reason.MISSING_INPUT))
    u2f("chain-foreign-root", "U2fChainForeignRoot",
        _note("CHAIN", crit, "the U2F attestation certificate is issued by another root of the same name",
              "name matching without signature checks trusts any PKI"),
        "attestation certificate signed by a foreign root", "cert.reissue", "x5c[0]/signature",
        _reissue(foreign=True), invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    u2f("cert-expired", "U2fCertExpired",
        _note("CHAIN", med, "the U2F attestation certificate expired before the validation time",
              "an expired attestation certificate is accepted"),
        "notAfter = validation time - 1 day", "cert.reissue", "x5c[0]/validity",
        _reissue(not_after=VALIDATION_TIME - timedelta(days=1)), invalid(Reason.CERT_EXPIRED))
    u2f("alg-member", "U2fAlgMember",
        _note("ENCODING", low, "a fido-u2f attStmt with an alg member (U2F has none)",
              "structural verifiers ignore it; the strict profile rejects unknown members", U2F),
        "alg = -7 added", "cbor.set", "attStmt.alg", _draft(alg=-7), strict_only(Reason.UNEXPECTED_CONTENT))
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the packed and fido-u2f vectors use."""
    return flag_notes({**PROVENANCE_NOTES, "EdDsaKeyPolicy": EDDSA_NOTE, "SelfAttestation": SELF_NOTE}, mutations())


def _golden_expectation(golden: str) -> tuple[dict[Profile, Reason], tuple[str, ...]]:
    spec, _, kind = GOLDENS[golden]
    if kind == "self":
        return strict_only(Reason.MISSING_INPUT), ("SelfAttestation",)
    if spec == "ed25519":
        return strict_only(Reason.KEY_POLICY), ("EdDsaKeyPolicy",)
    return valid(), ()


def vector_cases(seed: str) -> list[VectorCase]:
    """The goldens (:data:`GOLDENS`), then every mutation."""
    kit = SecurityKeyKit.build(seed)
    anchors = (kit.fido.root,)
    cases = []
    for golden in GOLDENS:
        expected, flags = _golden_expectation(golden)
        spec, fmt, kind = GOLDENS[golden]
        cases.append(VectorCase(
            id=f"webauthn::golden::{golden}", comment=f"unmutated {fmt} ({kind}) registration of a {spec} key",
            flags=("Golden", *flags), expected=expected, evidence=kit.workbench(golden).evidence(), anchors=anchors,
            validation_time=VALIDATION_TIME, provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = kit.workbench(mutation.golden)
        mutation.apply(bench)
        cases.append(mutation_case(mutation, bench.evidence(), anchors, VALIDATION_TIME, seed,
                                   f"webauthn::golden::{mutation.golden}"))
    return cases

