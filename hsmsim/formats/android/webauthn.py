"""WebAuthn ``android-key`` (§8.4): an Android device's registration whose x5c is the KeyMint chain of the
credential key itself, with attestationChallenge = clientDataHash, and ``sig`` by the credential key over
authData ‖ clientDataHash.

:class:`AndroidKeyDraft` holds the inputs of one statement; ``generate`` renders it as built, the vector
catalogue (:func:`vector_cases`) edits one field first. Verification (:class:`AndroidKeyAttestation`):
members, the leaf's key = the credential key (KEY_MISMATCH), ``alg`` fits it and ``sig`` verifies, then
:func:`hsmsim.formats.android.verify.check_webauthn_chain`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.android.generate import (
    AttestedPublicKey,
    KeyFacts,
    above_leaf,
    default_attestation_version,
    key_description,
    request_inputs,
)
from hsmsim.formats.android.keydescription import (
    KeyDescription,
    Origin,
    Purpose,
    SecurityLevel,
    encode_key_description,
    with_lists,
)
from hsmsim.formats.android.options import AndroidOptions
from hsmsim.formats.android.pki import ChainShape, android_identity, android_pki_exports, attestation_leaf
from hsmsim.formats.android.verify import MAX_CHAIN_CERTIFICATES, check_webauthn_chain
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey, StoredKey
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, mutation_case, seeded_faker, strict_only, valid
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.ceremony import Workbench as RegistrationBench
from hsmsim.webauthn.ceremony import ceremony_for, set_draft
from hsmsim.webauthn.container import cose_alg_for
from hsmsim.webauthn.cose import cose_sign, verify_cose_signature
from hsmsim.webauthn.statements import ProducedStatement, SignedData

if TYPE_CHECKING:
    from hsmsim.keystore.soft import SoftKeyStore

ANDROID_KEY_AAGUID = uuid.UUID("b93fd961-f2e6-462f-b122-82002247de78")
"""The AAGUID Android's FIDO2 stack writes for android-key attestation."""
MEMBERS = ("alg", "sig", "x5c")


@dataclass(kw_only=True)
class AndroidKeyDraft:
    """The inputs of one ``android-key`` statement. Fields left ``None`` take their genuine value.

    ``description_edit``, ``leaf_public_key`` and ``leaf_key_usage`` change the leaf before the attestation key
    signs it;
    ``message_edit``, ``signer`` and ``sign_alg`` what the credential key signs; ``statement_edit`` the map.
    """

    seed: str
    serial: str
    public_key: AttestedPublicKey
    signer: PrivateKey
    facts: KeyFacts
    level: SecurityLevel
    shape: ChainShape
    options: AndroidOptions
    identity: AttestationIdentity
    alg: object
    sign_alg: int
    challenge: bytes | None = None
    description_edit: Callable[[KeyDescription], KeyDescription] | None = None
    leaf_public_key: PublicKey | None = None
    leaf_key_usage: tuple[str, ...] = ("digital_signature",)
    message_edit: Callable[[bytes], bytes] | None = None
    statement_edit: Callable[[dict[str, object]], None] | None = None
    trusted_root: x509.Certificate | None = None
    """The root the relying party trusts (default: the device chain's root); a foreign-PKI defect keeps the
    genuine one here while x5c carries the foreign chain and its root copy."""

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        """The root the relying party trusts, shipped beside the record as ``android-key_root_ca.pem`` (hsmsim's
        copy of the verifier's anchor, never evidence)."""
        return (self.trusted_root or self.identity.root,)

    def certificates(self, client_data_hash: bytes) -> list[x509.Certificate]:
        """The leaf (KeyDescription with attestationChallenge = ``client_data_hash``) and the chain above it."""
        description = key_description(
            seed=self.seed, serial=self.serial, public_key=self.public_key, facts=self.facts,
            challenge=self.challenge if self.challenge is not None else client_data_hash, level=self.level,
            version=default_attestation_version(self.public_key, self.shape, self.options, self.level),
            options=self.options, shape=self.shape)
        if self.description_edit:
            description = self.description_edit(description)
        leaf = attestation_leaf(self.leaf_public_key or self.public_key, encode_key_description(description),
                                self.identity, description_first=self.options.description_first(self.shape),
                                usages=self.leaf_key_usage)
        # the root as the relying party pins it (android-key_root_ca.pem): py_webauthn compares x5c[-1]'s bytes
        # with its roots, so the 2019 issue an RKP device appends would need the record to list that issue too
        return [leaf, *above_leaf(self.identity, self.shape, pinned_issue=True)]

    def render(self, auth_data: bytes, client_data_hash: bytes) -> dict[str, object]:
        """``{alg, sig, x5c}``, then ``statement_edit``."""
        message = auth_data + client_data_hash
        if self.message_edit:
            message = self.message_edit(message)
        statement: dict[str, object] = {
            "alg": self.alg, "sig": cose_sign(self.signer, self.sign_alg, message),
            "x5c": [cert.public_bytes(Encoding.DER) for cert in self.certificates(client_data_hash)]}
        if self.statement_edit:
            self.statement_edit(statement)
        return statement


def draft_for(request: AttestationRequest, options: AndroidOptions) -> AndroidKeyDraft:
    """The statement the device's KeyMint and FIDO2 stack emit for the request's key (parameters
    ``security_level`` and ``shape`` as ``android-key``'s); the device's own attestation key certifies it."""
    public_key, facts, level, shape = request_inputs(request, options)
    facts = replace(facts, purposes=(Purpose.SIGN,))  # the FIDO2 stack creates credentials with PURPOSE_SIGN only
    signer = request.key_signer
    if signer is None or isinstance(public_key, mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey):
        raise UnsupportedKeyError("an android-key credential is an RSA, EC or Ed25519 key with its private half")
    device = request.device
    alg = cose_alg_for(signer.public_key())
    return AndroidKeyDraft(
        seed=device.seed, serial=device.serial, public_key=public_key, signer=signer, facts=facts, level=level,
        shape=shape, options=options, identity=android_identity(device.seed, device.serial, level, shape, request.at),
        alg=alg, sign_alg=alg)


def _certificates(x5c: object) -> tuple[list[x509.Certificate], list[bytes]]:
    """The x5c certificates, fully parsed, and their DER; raises :class:`Rejected`."""
    if not isinstance(x5c, list):
        raise Rejected(Reason.MALFORMED, "android-key attStmt.x5c is not an array")
    if not x5c:
        raise Rejected(Reason.MISSING_INPUT, "android-key attStmt.x5c is empty: no credential certificate")
    if len(x5c) > MAX_CHAIN_CERTIFICATES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"x5c holds more than {MAX_CHAIN_CERTIFICATES} certificates")
    if not all(isinstance(der, bytes) for der in x5c):
        raise Rejected(Reason.MALFORMED, "android-key attStmt.x5c holds a non-bytes entry")
    ders = [der for der in x5c if isinstance(der, bytes)]
    try:
        return [fully_parsed(x509.load_der_x509_certificate(der)) for der in ders], ders
    except (*CERT_PARSE_ERRORS, x509.DuplicateExtension) as exc:
        raise Rejected(Reason.MALFORMED, f"an x5c entry is not a DER certificate: {str(exc)[:80]}") from None


class AndroidKeyAttestation:
    """WebAuthn ``android-key``: the credential key's KeyMint attestation chain and its own signature."""

    name = "android-key"

    def __init__(self, options: AndroidOptions) -> None:
        self.options = options

    def aaguid(self, request: AttestationRequest) -> bytes:
        """Android's AAGUID for android-key attestation."""
        return ANDROID_KEY_AAGUID.bytes

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The device's KeyMint chains, as the ``android-key`` format exports them."""
        return android_pki_exports(device.seed, device.serial, self.options.security_level, self.options.shape,
                                   device.attestation_created)

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """``{alg, sig, x5c}``: the credential key signs, its KeyMint leaf and the device chain follow."""
        draft = draft_for(request, self.options)
        return ProducedStatement(draft.render(auth_data, client_data_hash), draft.roots)

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """WebAuthn §8.4 (see the module notes); raises Rejected."""
        for member in MEMBERS:
            if member not in att_stmt:
                raise Rejected(Reason.MISSING_INPUT, f"android-key attStmt has no {member}")
        alg, sig = att_stmt["alg"], att_stmt["sig"]
        if not isinstance(alg, int) or isinstance(alg, bool) or not isinstance(sig, bytes):
            raise Rejected(Reason.MALFORMED, "android-key attStmt lacks an integer alg or a byte-string sig")
        unknown = sorted(str(k) for k in att_stmt if k not in MEMBERS)
        if unknown and profile is Profile.STRICT:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown android-key attStmt members: {', '.join(unknown)[:80]}")
        chain, ders = _certificates(att_stmt["x5c"])
        leaf_key = chain[0].public_key()
        if spki_der(leaf_key) != spki_der(signed.credential_key):
            raise Rejected(Reason.KEY_MISMATCH, "the leaf certificate's key is not the credential public key")
        verify_cose_signature(signed.credential_key, alg, sig, signed.auth_data + signed.client_data_hash,
                              "android-key attStmt")
        claims, detail = check_webauthn_chain(chain, signed.client_data_hash, trust, at, profile, ders=ders)
        return {**vars(claims), "detail": detail}  # the fields as they are: asdict would deep-copy them


# -- vectors --------------------------------------------------------------------------------------

ATTEST_TIME = datetime(2026, 3, 2, 9, 14, 27, tzinfo=UTC)
VALIDATION_TIME = ATTEST_TIME + timedelta(hours=2)
KEYS_CREATED = ATTEST_TIME - timedelta(minutes=3)
WEBAUTHN = "WebAuthn L3 §8.4 (android-key attestation)"
SPEC = "shared/specs/other_formats.md 3"
TEE, STRONGBOX, SOFTWARE = SecurityLevel.TRUSTED_ENVIRONMENT, SecurityLevel.STRONG_BOX, SecurityLevel.SOFTWARE
GOLDENS: dict[str, tuple[str, SecurityLevel, ChainShape]] = {
    "android-key-tee-es256": ("ec-p256", TEE, ChainShape.RKP),
    "android-key-tee-rs256": ("rsa-3072", TEE, ChainShape.RKP),
    "android-key-strongbox-es256": ("ec-p256", STRONGBOX, ChainShape.RKP),
    "android-key-2026-root-es256": ("ec-p256", TEE, ChainShape.RKP_2026),
    "android-key-no-root-es256": ("ec-p256", TEE, ChainShape.RKP_NO_ROOT),
}
"""Golden name -> (key spec, security level, chain shape)."""


@dataclass(frozen=True)
class AndroidWebAuthnKit:
    """The seeded world of the vectors: a relying party, a phone, its credential keys."""

    seed: str
    device: Device
    store: SoftKeyStore
    keys: dict[str, StoredKey]
    rp_id: str
    options: AndroidOptions

    @classmethod
    def build(cls, seed: str) -> AndroidWebAuthnKit:
        """Seed -> Faker relying party, a device, one credential key per spec."""
        from hsmsim.keystore.soft import SoftKeyStore  # the vectors' keys: registering the statement never needs it

        fake = seeded_faker(seed, ["en_US"], "webauthn-android-key", providers=("company", "internet", "person"))
        rp_id = f"{fake.domain_word()}.example"
        device = Device(format="webauthn", serial=fake.numerify("PIXEL-########"), seed=seed)
        store = SoftKeyStore(seed=seed)
        keys = {spec: store.generate(KeySpec.parse(spec), f"android-passkey-{spec}",
                                     created=KEYS_CREATED + timedelta(seconds=index * 7))
                for index, spec in enumerate(("ec-p256", "rsa-3072"))}
        return cls(seed, device, store, keys, rp_id, AndroidOptions())

    def workbench(self, golden: str) -> Workbench:
        """The golden ``golden`` opened for a mutation: exactly what ``generate`` renders for it."""
        spec, level, shape = GOLDENS[golden]
        key = self.keys[spec]
        assert key.public_key is not None
        request = AttestationRequest(
            device=self.device, partition="default", key=key, key_signer=self.store.signer(key),
            attesting=android_identity(self.seed, self.device.serial, level, shape, ATTEST_TIME),
            parameters={"rp_id": self.rp_id, "security_level": level.name, "shape": shape.value}, at=ATTEST_TIME)
        ceremony = ceremony_for(request, "android-key", ANDROID_KEY_AAGUID.bytes, key.public_key)
        return RegistrationBench(self, ceremony, draft_for(request, self.options))


Workbench = RegistrationBench[AndroidWebAuthnKit, AndroidKeyDraft]
Operator = Callable[[Workbench], None]
_draft = set_draft


def _description(edit: Callable[[KeyDescription], KeyDescription]) -> Operator:
    return _draft(description_edit=edit)


def _hardware(**changes: object) -> Operator:
    return _description(lambda kd: with_lists(kd, hardware=lambda auth: replace(auth, **changes)))  # type: ignore[arg-type]


def _software(**changes: object) -> Operator:
    return _description(lambda kd: with_lists(kd, software=lambda auth: replace(auth, **changes)))  # type: ignore[arg-type]


def _software_level(kd: KeyDescription) -> KeyDescription:
    """A Software KeyMint: both levels Software and every hardware tag in softwareEnforced instead."""
    software = replace(kd.hardware_enforced, **{f.name: getattr(kd.software_enforced, f.name)
                                                for f in dataclasses.fields(kd.software_enforced)
                                                if getattr(kd.software_enforced, f.name) not in (None, False)})
    return replace(kd, attestation_security_level=SOFTWARE, keymint_security_level=SOFTWARE,
                   software_enforced=software, hardware_enforced=type(kd.hardware_enforced)())


def _origin_in_software_only(kd: KeyDescription) -> KeyDescription:
    origin = kd.hardware_enforced.origin
    return with_lists(kd, hardware=lambda auth: replace(auth, origin=None),
                      software=lambda auth: replace(auth, origin=origin))


def _root_of_trust(**changes: object) -> Operator:
    def edit(kd: KeyDescription) -> KeyDescription:
        rot = kd.hardware_enforced.root_of_trust
        assert rot is not None
        return with_lists(kd, hardware=lambda auth: replace(auth, root_of_trust=replace(rot, **changes)))  # type: ignore[arg-type]
    return _description(edit)


def _other_key(bench: Workbench) -> PrivateKey:
    return derive_key(bench.kit.seed, "webauthn/android-key/other-p256", KeySpec.parse("ec-p256"))


def _leaf_of_other_key(bench: Workbench) -> None:
    bench.draft.leaf_public_key = _other_key(bench).public_key()


def _signed_by_attestation_key(bench: Workbench) -> None:
    bench.draft.signer = bench.draft.identity.key


def _foreign_device_pki(bench: Workbench) -> None:
    draft = bench.draft
    draft.trusted_root = draft.identity.root
    draft.identity = android_identity(f"{bench.kit.seed}/foreign-android", draft.serial, draft.level, draft.shape,
                                      ATTEST_TIME)


def _drop(member: str) -> Callable[[dict[str, object]], None]:
    def edit(statement: dict[str, object]) -> None:
        del statement[member]
    return edit


def _set_member(member: str, value: object) -> Callable[[dict[str, object]], None]:
    def edit(statement: dict[str, object]) -> None:
        statement[member] = value
    return edit


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (WEBAUTHN, SPEC))


def mutations() -> list[Mutation]:
    """Every android-key defect of the ``webauthn`` catalogue."""
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool = True, golden: str = "android-key-tee-es256") -> None:
        m.append(Mutation(f"webauthn::android-key::{id_}", flag, note, comment, operator, path, apply, expected,
                          resign, golden))

    crit, high, med = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM
    add("challenge-not-client-data-hash", "AndroidChallengeMismatch",
        _note("BINDING", crit, "attestationChallenge is not clientDataHash",
              "a KeyMint attestation made for another registration is replayed", WEBAUTHN + " step 3"),
        "attestationChallenge = SHA-256('replayed')", "keydescription.set",
        "x5c[0]/KeyDescription/attestationChallenge",
        _draft(challenge=hashlib.sha256(b"replayed").digest()), invalid(Reason.CHALLENGE_MISMATCH))
    add("leaf-key-not-credential-key", "AndroidLeafKeyMismatch",
        _note("BINDING", crit, "the leaf certifies another key than the credential public key",
              "any KeyMint attestation vouches for any credential", WEBAUTHN + " step 2"),
        "leaf issued for another P-256 key", "cert.reissue", "x5c[0]/subjectPublicKeyInfo", _leaf_of_other_key,
        invalid(Reason.KEY_MISMATCH))
    add("all-applications", "AndroidAllApplications",
        _note("KEY_PROTECTION", high, "allApplications in teeEnforced", "any app on the device may use the key",
              WEBAUTHN + " step 4"),
        "teeEnforced allApplications", "keydescription.set", "x5c[0]/KeyDescription/teeEnforced/allApplications",
        _hardware(all_applications=True), invalid(Reason.KEY_PURPOSE))
    add("all-applications-software", "AndroidAllApplicationsSoftware",
        _note("KEY_PROTECTION", high, "allApplications in softwareEnforced",
              "the WebAuthn rule covers both lists; a verifier reading teeEnforced only misses it",
              WEBAUTHN + " step 4"),
        "softwareEnforced allApplications", "keydescription.set",
        "x5c[0]/KeyDescription/softwareEnforced/allApplications", _software(all_applications=True),
        invalid(Reason.KEY_PURPOSE))
    add("origin-imported", "AndroidOriginImported",
        _note("KEY_PROTECTION", crit, "origin IMPORTED", "a key that existed outside the device passes as generated",
              WEBAUTHN + " step 4"),
        "teeEnforced origin = IMPORTED", "keydescription.set", "x5c[0]/KeyDescription/teeEnforced/origin",
        _hardware(origin=Origin.IMPORTED), invalid(Reason.ATTR_NOT_LOCAL))
    add("purpose-not-sign", "AndroidPurposeNotSign",
        _note("KEY_PROTECTION", high, "purposes ENCRYPT and DECRYPT, not SIGN",
              "a key that cannot sign is registered as a credential", WEBAUTHN + " step 4"),
        "teeEnforced purpose = {ENCRYPT, DECRYPT}", "keydescription.set", "x5c[0]/KeyDescription/teeEnforced/purpose",
        _hardware(purposes=(Purpose.ENCRYPT, Purpose.DECRYPT)), invalid(Reason.KEY_PURPOSE))
    add("security-level-software", "AndroidSecurityLevelSoftware",
        _note("KEY_PROTECTION", high, "attestationSecurityLevel and keyMintSecurityLevel Software (teeEnforced kept)",
              "valid WebAuthn (py_webauthn and SimpleWebAuthn accept it); a key attestation policy must reject a "
              "software key: the strict profile does", SPEC),
        "both levels Software", "keydescription.set", "x5c[0]/KeyDescription/attestationSecurityLevel",
        _description(lambda kd: replace(kd, attestation_security_level=SOFTWARE, keymint_security_level=SOFTWARE)),
        strict_only(Reason.SECURITY_LEVEL))
    add("software-keymint", "AndroidSoftwareKeymint",
        _note("KEY_PROTECTION", high, "a Software KeyMint: both levels Software and every tag in softwareEnforced",
              "valid WebAuthn (the union of both lists); the strict profile rejects the software key", WEBAUTHN),
        "levels Software, teeEnforced empty", "keydescription.set", "x5c[0]/KeyDescription/softwareEnforced",
        _description(_software_level), strict_only(Reason.SECURITY_LEVEL))
    add("origin-only-in-software-list", "AndroidOriginSoftwareOnly",
        _note("KEY_PROTECTION", med, "origin only in softwareEnforced (TEE level)",
              "valid WebAuthn (the union of both lists); the strict profile reads teeEnforced only",
              WEBAUTHN + " step 4"),
        "origin moved to softwareEnforced", "keydescription.set", "x5c[0]/KeyDescription/softwareEnforced/origin",
        _description(_origin_in_software_only), strict_only(Reason.ATTR_MISSING))
    add("device-unlocked", "AndroidDeviceUnlocked",
        _note("DEVICE_INTEGRITY", med, "rootOfTrust deviceLocked false",
              "valid WebAuthn; the strict profile wants a locked bootloader", SPEC),
        "deviceLocked = false", "keydescription.set", "x5c[0]/KeyDescription/teeEnforced/rootOfTrust",
        _root_of_trust(device_locked=False), strict_only(Reason.DEVICE_INTEGRITY))
    add("purpose-sign-and-decrypt", "AndroidPurposeSignDecrypt",
        _note("KEY_PROTECTION", med, "purposes SIGN and DECRYPT", "WebAuthn requires the purpose to be exactly SIGN",
              WEBAUTHN + " step 4"),
        "teeEnforced purpose = {SIGN, DECRYPT}", "keydescription.set", "x5c[0]/KeyDescription/teeEnforced/purpose",
        _hardware(purposes=(Purpose.DECRYPT, Purpose.SIGN)), invalid(Reason.KEY_PURPOSE))
    add("purpose-decrypt-in-software-list", "AndroidPurposeDecryptSoftware",
        _note("KEY_PROTECTION", med, "teeEnforced purpose SIGN, softwareEnforced purpose DECRYPT",
              "the union of both lists holds SIGN and DECRYPT, not exactly SIGN; a verifier that fills the union "
              "only with fields teeEnforced lacks (or reads teeEnforced alone) accepts a key with a second "
              "purpose", WEBAUTHN + " step 4"),
        "softwareEnforced purpose = {DECRYPT}", "keydescription.set",
        "x5c[0]/KeyDescription/softwareEnforced/purpose", _software(purposes=(Purpose.DECRYPT,)),
        invalid(Reason.KEY_PURPOSE))
    add("key-size-conflict-in-software-list", "AndroidKeySizeConflictSoftware",
        _note("ENCODING", med, "softwareEnforced keySize 384 beside teeEnforced keySize 256 (P-256 leaf)",
              "the union of both lists contradicts itself; a verifier that keeps the first value it reads "
              "misses the contradiction", WEBAUTHN + " step 4"),
        "softwareEnforced keySize = 384", "keydescription.set", "x5c[0]/KeyDescription/softwareEnforced/keySize",
        _software(key_size=384), invalid(Reason.ATTR_CONFLICT))
    add("leaf-key-usage-keymaster3", "AndroidLeafKeyUsageKeymaster3",
        _note("CERT_PROFILE", Severity.LOW, "leaf keyUsage keyEncipherment|dataEncipherment, purposes SIGN (as "
              "Keymaster 3 leaves, the Pixel 2's)",
              "valid WebAuthn: §8.4 reads the purposes, not the leaf's keyUsage (py_webauthn and SimpleWebAuthn "
              "neither); a verifier requiring digitalSignature refuses genuine Keymaster 3 devices; strict "
              "requires it", WEBAUTHN),
        "leaf keyUsage = keyEncipherment, dataEncipherment", "cert.reissue", "x5c[0]/extensions/keyUsage",
        _draft(leaf_key_usage=("key_encipherment", "data_encipherment")), strict_only(Reason.CERT_KEY_USAGE))
    add("signed-by-attestation-key", "AndroidSigByAttestationKey",
        _note("SIGNATURE_BYPASS", crit, "sig by the device's attestation key instead of the credential key",
              "the credential's possession of its key is not shown", WEBAUTHN + " step 1"),
        "signer = the RKP attestation key", "key.replace", "attStmt.sig", _signed_by_attestation_key,
        invalid(Reason.SIGNATURE_INVALID))
    add("alg-mismatch", "AndroidAlgMismatch",
        _note("ALGORITHM", high, "alg RS256 announced for the P-256 credential's ES256 signature",
              "alg is not checked against the credential key", WEBAUTHN + " step 1"),
        "alg = -257", "cbor.set", "attStmt.alg", _draft(alg=-257), invalid(Reason.SIGNATURE_INVALID))
    add("alg-unknown", "AndroidAlgUnknown",
        _note("ALGORITHM", med, "alg -999 is no COSE algorithm", "an unknown algorithm is guessed"),
        "alg = -999", "cbor.set", "attStmt.alg", _draft(alg=-999), invalid(Reason.UNSUPPORTED))
    add("sig-over-auth-data-only", "AndroidSigOverAuthDataOnly",
        _note("BINDING", high, "sig covers authData without clientDataHash",
              "the signature is not bound to the challenge"),
        "signed authData", "message.edit", "attStmt.sig", _draft(message_edit=lambda message: message[:-32]),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("chain-foreign-device-pki", "AndroidForeignPki",
        _note("CHAIN", crit, "the chain, root copy included, comes from another (emulated) Google PKI of the same "
              "names. android-key_root_ca.pem stays the genuine root: it is hsmsim's copy of the anchor the relying "
              "party trusts, not part of the evidence", "a verifier trusting the root inside x5c accepts any PKI"),
        "device chain and root copy in x5c derived from another seed; android-key_root_ca.pem genuine",
        "chain.replace", "x5c[1:]", _foreign_device_pki,
        invalid(Reason.CHAIN_UNTRUSTED))
    add("x5c-empty", "AndroidX5cEmpty",
        _note("CHAIN", high, "attStmt.x5c is an empty array", "no KeyMint attestation is checked"),
        "x5c = []", "cbor.set", "attStmt.x5c", _draft(statement_edit=_set_member("x5c", [])),
        invalid(Reason.MISSING_INPUT))
    add("sig-missing", "AndroidSigMissing",
        _note("SIGNATURE_BYPASS", crit, "attStmt has no sig", "the credential key's signature is not checked"),
        "sig removed", "cbor.remove", "attStmt.sig", _draft(statement_edit=_drop("sig")), invalid(Reason.MISSING_INPUT))
    add("levels-disagree", "AndroidLevelsDisagree",
        _note("KEY_PROTECTION", med, "attestationSecurityLevel TEE, keyMintSecurityLevel Software",
              "the key's own level is not checked", SPEC),
        "keyMintSecurityLevel = Software", "keydescription.set", "x5c[0]/KeyDescription/keyMintSecurityLevel",
        _description(lambda kd: replace(kd, keymint_security_level=SOFTWARE)), invalid(Reason.ATTR_CONFLICT))
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the android-key vectors of the ``webauthn`` catalogue use."""
    return flag_notes({**PROVENANCE_NOTES, "AndroidNoRootInX5c": NO_ROOT_NOTE}, mutations())


NO_ROOT_NOTE = FlagNote("CHAIN", Severity.INFO, "an RKP chain that ends at the intermediate, without the root",
                        "none: valid (RKP devices omit the root); py_webauthn assumes the last x5c certificate is "
                        "the root and refuses it", ("shared/specs/round2_formats.md 2.4",))


def vector_cases(seed: str) -> list[VectorCase]:
    """The android-key goldens (:data:`GOLDENS`), then every mutation."""
    kit = AndroidWebAuthnKit.build(seed)
    cases = []
    for golden, (spec, level, shape) in GOLDENS.items():
        bench = kit.workbench(golden)
        flags = ("AndroidNoRootInX5c",) if shape is ChainShape.RKP_NO_ROOT else ()
        cases.append(VectorCase(
            id=f"webauthn::golden::{golden}", comment=f"unmutated android-key registration of a {spec} key "
                                                      f"({level.name}, {shape.value} chain)",
            flags=("Golden", *flags), expected=valid(), evidence=bench.evidence(),
            anchors=bench.draft.roots, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = kit.workbench(mutation.golden)
        anchors = bench.draft.roots
        mutation.apply(bench)
        cases.append(mutation_case(mutation, bench.evidence(), anchors, VALIDATION_TIME, seed,
                                   f"webauthn::golden::{mutation.golden}"))
    return cases
