"""The android-key vector set: goldens per key type and chain shape, and one-defect mutations.

The ``software-keymaster1`` goldens are software attestations as the real Pixel1 sample of
``shared/interop/purebred`` is one: keystore's software (attestation version 2) attests a key of a
Keymaster 1 TEE, which reports no rootOfTrust nor OS facts, under the emulated software chain of the key's
algorithm (an EC key under the P-256 chain, an RSA key under the RSA one, as AOSP picks them). They are made at
:data:`SOFTWARE_ATTEST_TIME`, when such devices were in use: AOSP's EC software intermediate, whose dates the
emulated one copies, expired before :data:`ATTEST_TIME`. Their vectors pin both software roots beside the
hardware roots.

A :class:`Workbench` opens a golden attestation (the description, the leaf, the certificates above it,
the challenge and status files); a :class:`Mutation` edits it. ``Resigned`` mutations rebuild the leaf
from the edited description with the genuine attestation key, so the defect reaches the KeyDescription
checks; ``Stale`` ones edit certificates or files after signing. Everything derives from the seed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim import mutate
from hsmsim.device import Device
from hsmsim.encoding import der_explicit, der_sequence, der_tlv, pem
from hsmsim.formats.android.generate import (
    AttestedPublicKey,
    KeyFacts,
    above_leaf,
    default_attestation_version,
    default_challenge,
    evidence_files,
    key_description,
)
from hsmsim.formats.android.keydescription import (
    Algorithm,
    ApplicationId,
    AuthorizationList,
    KeyDescription,
    MlDsaVariant,
    Origin,
    PackageInfo,
    Purpose,
    SecurityLevel,
    VerifiedBootState,
    authorization_list_der,
    encode_key_description,
    encode_root_of_trust,
    read_children,
    with_lists,
)
from hsmsim.formats.android.layout import STATUS_FILE
from hsmsim.formats.android.options import AndroidOptions
from hsmsim.formats.android.pki import (
    LEAF_NOT_AFTER,
    LEAF_NOT_BEFORE,
    LEGACY_ROOT_2019,
    SOFTWARE_LEAF_NOT_AFTER,
    ChainShape,
    android_identity,
    attestation_leaf,
    droid_ca2,
    droid_ca3,
    issue,
    legacy_root,
    software_identity,
    software_roots,
    trust_roots,
)
from hsmsim.formats.android.status import render_status_list, serial_key
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, mutation_case, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason

FORMAT = "android-key"
ATTEST_TIME = datetime(2026, 3, 2, 9, 14, 27, tzinfo=UTC)
VALIDATION_TIME = ATTEST_TIME + timedelta(hours=2)
KEYS_CREATED = ATTEST_TIME - timedelta(minutes=3)
TEE, STRONGBOX, SOFTWARE = SecurityLevel.TRUSTED_ENVIRONMENT, SecurityLevel.STRONG_BOX, SecurityLevel.SOFTWARE
SOFTWARE_ATTESTATION_VERSION = 2
"""Keystore's software attestation of the Pixel1 sample: attestation version 2 over a Keymaster 1 TEE."""
SOFTWARE_ATTEST_TIME = datetime(2018, 7, 24, 16, 33, 2, tzinfo=UTC)
"""When the software goldens are made: the creationDateTime of the Pixel1 sample's key, inside the validity of both
AOSP software chains (the EC intermediate's ends on 2026-01-08)."""


class Golden(NamedTuple):
    """One golden: key spec (a KeySpec name or ``ml-dsa-65``/``ml-dsa-87``), security level, chain shape.

    Level SOFTWARE is a software attestation under the software chain of the key's algorithm, made at
    :data:`SOFTWARE_ATTEST_TIME`; its leaf is written as a factory one.
    """

    name: str
    spec: str
    level: SecurityLevel
    shape: ChainShape

    @property
    def chain(self) -> str:
        """The chain's name: its shape, or ``software``."""
        return "software" if self.level is SOFTWARE else self.shape.value

    @property
    def attest_time(self) -> datetime:
        """When the golden is made: :data:`SOFTWARE_ATTEST_TIME` for a software attestation, else
        :data:`ATTEST_TIME`; its key is made three minutes before (and 7 s per key spec, see :data:`KEY_SPECS`)."""
        return SOFTWARE_ATTEST_TIME if self.level is SOFTWARE else ATTEST_TIME

    @property
    def validation_time(self) -> datetime:
        """When the golden's vectors are verified: two hours after :attr:`attest_time`."""
        return self.attest_time + (VALIDATION_TIME - ATTEST_TIME)


GOLDENS = tuple(Golden(*row) for row in (
    ("tee-rkp-ec-p256", "ec-p256", TEE, ChainShape.RKP),
    ("tee-rkp-ec-p384", "ec-p384", TEE, ChainShape.RKP),
    ("tee-rkp-rsa-2048", "rsa-2048", TEE, ChainShape.RKP),
    ("tee-rkp-rsa-3072", "rsa-3072", TEE, ChainShape.RKP),
    ("tee-rkp-rsa-4096", "rsa-4096", TEE, ChainShape.RKP),
    ("tee-rkp-ed25519", "ed25519", TEE, ChainShape.RKP),
    ("tee-rkp-ml-dsa-65", "ml-dsa-65", TEE, ChainShape.RKP),
    ("tee-rkp-ml-dsa-87", "ml-dsa-87", TEE, ChainShape.RKP),
    ("strongbox-rkp-ec-p256", "ec-p256", STRONGBOX, ChainShape.RKP),
    ("strongbox-rkp-rsa-2048", "rsa-2048", STRONGBOX, ChainShape.RKP),
    ("tee-rkp-no-root-ec-p256", "ec-p256", TEE, ChainShape.RKP_NO_ROOT),
    ("strongbox-rkp-no-root-ec-p256", "ec-p256", STRONGBOX, ChainShape.RKP_NO_ROOT),
    ("tee-2026-root-ec-p256", "ec-p256", TEE, ChainShape.RKP_2026),
    ("strongbox-2026-root-ec-p256", "ec-p256", STRONGBOX, ChainShape.RKP_2026),
    ("tee-factory-ec-p256", "ec-p256", TEE, ChainShape.FACTORY),
    ("tee-factory-rsa-3072", "rsa-3072", TEE, ChainShape.FACTORY),
    ("software-keymaster1-ec-p256", "ec-p256", SOFTWARE, ChainShape.FACTORY),
    ("software-keymaster1-rsa-2048", "rsa-2048", SOFTWARE, ChainShape.FACTORY),
))
GOLDEN_BY_NAME = {g.name: g for g in GOLDENS}
KEY_SPECS = tuple(dict.fromkeys(g.spec for g in GOLDENS))
"""The goldens' key specs, in the order their keys are made (each made 7 s after the one before)."""
_WEAK_SPECS = ("rsa-2048", "ed25519", "ml-dsa-65", "ml-dsa-87")  # outside CA/B code signing: strict KEY_POLICY


# -- the seeded world ------------------------------------------------------------------------

def _encoded(cert: x509.Certificate) -> tuple[bytes, bytes]:
    der = cert.public_bytes(Encoding.DER)
    return der, pem(der)


@dataclass(frozen=True)
class AndroidKit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    device: Device
    options: AndroidOptions
    store: SoftKeyStore
    goldens: dict[str, Workbench] = field(default_factory=dict, compare=False)
    """Each golden workbench built (its leaf signed) once: :meth:`Workbench.open` hands out copies."""
    keys: dict[str, tuple[PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey, datetime]] = field(
        default_factory=dict, compare=False)
    """The attested key of each golden key spec made so far, with its creation time (see :meth:`key`)."""
    encodings: dict[x509.Certificate, tuple[bytes, bytes]] = field(default_factory=dict, compare=False)
    """The DER and PEM of each certificate a workbench sent (see :meth:`encoding`)."""
    list_ders: dict[int, tuple[AuthorizationList, bytes]] = field(default_factory=dict, compare=False)
    """The DER of each AuthorizationList encoded, by identity (see :meth:`list_der`)."""

    @classmethod
    def build(cls, seed: str) -> AndroidKit:
        """Seed -> Faker app package, device, the store the attested keys are made in."""
        fake = seeded_faker(seed, ["en_US"], FORMAT, providers=("company", "lorem", "person"))
        company = re.sub(r"[^a-z]+", "", fake.company().lower())[:16] or "example"
        options = AndroidOptions(package=f"com.{company}.{fake.word().lower()}")
        return cls(seed, Device.from_seed(FORMAT, seed), options, SoftKeyStore(seed=seed))

    def key(self, spec: str) -> tuple[PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey, datetime]:
        """The attested key of golden key spec ``spec`` (of :data:`KEY_SPECS`) and its creation time, made on first
        use (a key is a function of the seed and its spec alone; android-acme's goldens need two of the eight)."""
        if spec not in self.keys:
            created = KEYS_CREATED + timedelta(seconds=KEY_SPECS.index(spec) * 7)
            if spec.startswith("ml-dsa-"):
                material = drbg(self.seed, f"android/keys/{spec}").read(32)
                self.keys[spec] = ((mldsa.MLDSA65PrivateKey if spec == "ml-dsa-65" else mldsa.MLDSA87PrivateKey)
                                   .from_seed_bytes(material), created)
            else:
                stored = self.store.generate(KeySpec.parse(spec), f"{FORMAT}-{spec}", created=created)
                self.keys[spec] = (self.store.signer(stored), created)
        return self.keys[spec]

    def encoding(self, cert: x509.Certificate) -> tuple[bytes, bytes]:
        """``cert``'s DER and PEM, encoded once per catalogue (found by the certificate, equal exactly when the DER
        is): the certificates above a golden's leaf recur in every vector made from it, and the golden's leaf in
        every vector that does not re-sign it."""
        encoded = self.encodings.get(cert)
        if encoded is None:
            encoded = self.encodings[cert] = _encoded(cert)
        return encoded

    def list_der(self, auth: AuthorizationList) -> bytes:
        """``auth``'s DER (:func:`authorization_list_der`), encoded once per list object: a mutation's description
        keeps one or both of its golden's lists, the same objects. Found by identity, not by equality (``False`` and
        ``0`` are equal, and only one is written); the entry holds the list, so no other object takes its id."""
        known = self.list_ders.get(id(auth))
        if known is None:
            known = self.list_ders[id(auth)] = (auth, authorization_list_der(auth))
        return known[1]

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        """The pinned roots (legacy RSA and 2026 P-384), as Google's roots.json."""
        return trust_roots(self.seed)

    def anchors_for(self, golden: str) -> tuple[x509.Certificate, ...]:
        """The roots pinned for vectors of ``golden``: both software roots too under a software attestation."""
        software = golden in GOLDEN_BY_NAME and GOLDEN_BY_NAME[golden].level is SOFTWARE
        return (*self.anchors, *software_roots()) if software else self.anchors

    @staticmethod
    def validation_time_for(golden: str) -> datetime:
        """The validation time of vectors of ``golden``: its :attr:`Golden.validation_time` (else
        :data:`VALIDATION_TIME`, for goldens of other catalogues)."""
        return GOLDEN_BY_NAME[golden].validation_time if golden in GOLDEN_BY_NAME else VALIDATION_TIME


# -- the attestation under construction ------------------------------------------------------

@dataclass
class Workbench:
    """A golden attestation opened up for one mutation."""

    kit: AndroidKit
    golden: Golden
    private_key: PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
    identity: AttestationIdentity
    description: KeyDescription
    above: list[x509.Certificate]
    challenge: bytes | None
    leaf: x509.Certificate | None = None
    description_der: bytes | None = None
    omit_description: bool = False
    critical: bool = False
    description_first: bool | None = None
    """The leaf's KeyDescription before its keyUsage; None: as the golden's chain shape writes it."""
    leaf_not_before: datetime | None = None
    status: bytes | None = None
    extra_below: x509.Certificate | None = None
    leaf_key_usage: tuple[str, ...] = ("digital_signature",)
    """The leaf's keyUsage bits (KeyMint writes digitalSignature; Keymaster 3 leaves, the Pixel 2's, other bits)."""

    @classmethod
    def open(cls, kit: AndroidKit, name: str) -> Workbench:
        """The golden ``name`` as a workbench, its leaf signed (a copy: the workbench is the mutation's own)."""
        if name not in kit.goldens:
            kit.goldens[name] = cls.golden_for(kit, name)
        golden = kit.goldens[name]
        return replace(golden, above=list(golden.above))

    @classmethod
    def golden_for(cls, kit: AndroidKit, name: str, challenge: bytes | None = None) -> Workbench:
        """The golden ``name`` made afresh, its leaf signed, for ``challenge`` (default: the challenge derived for
        the golden)."""
        golden = GOLDEN_BY_NAME[name]
        private_key, created = kit.key(golden.spec)
        public_key: AttestedPublicKey = private_key.public_key()
        software = golden.level is SOFTWARE
        if challenge is None:
            challenge = default_challenge(kit.seed, name, golden.attest_time)
        description = key_description(
            seed=kit.seed, serial=kit.device.serial, public_key=public_key,
            facts=KeyFacts(created - (ATTEST_TIME - golden.attest_time)), challenge=challenge, level=golden.level,
            version=(SOFTWARE_ATTESTATION_VERSION if software
                     else default_attestation_version(public_key, golden.shape, kit.options, golden.level)),
            options=kit.options, shape=golden.shape)
        if software:
            description = _keymaster1_under_software(description)
            # as AOSP's software Keymaster, the key's algorithm picks the attestation key and chain
            algorithm = description.hardware_enforced.algorithm
            assert algorithm is not None
            identity = software_identity(Algorithm(algorithm))
        else:
            identity = android_identity(kit.seed, kit.device.serial, golden.level, golden.shape, ATTEST_TIME)
        bench = cls(kit, golden, private_key, identity, description, above_leaf(identity, golden.shape), challenge)
        bench.resign()
        return bench

    @property
    def public_key(self) -> AttestedPublicKey:
        return self.private_key.public_key()

    def der(self) -> bytes:
        """The KeyDescription bytes the leaf carries."""
        if self.description_der is not None:
            return self.description_der
        return encode_key_description(self.description, self.kit.list_der)

    def resign(self) -> None:
        """Issue the leaf for the current description with the genuine attestation key."""
        self.leaf = attestation_leaf(
            self.public_key, None if self.omit_description else self.der(), self.identity,
            keymaster=self.golden.level is SOFTWARE, critical=self.critical,
            description_first=self.leaf_description_first, not_before=self.leaf_not_before or LEAF_NOT_BEFORE,
            not_after=SOFTWARE_LEAF_NOT_AFTER if self.golden.level is SOFTWARE else LEAF_NOT_AFTER,
            usages=self.leaf_key_usage)

    @property
    def leaf_description_first(self) -> bool:
        """Whether the leaf carries its KeyDescription before its keyUsage (:attr:`description_first`)."""
        return self.golden.shape.key_description_first if self.description_first is None else self.description_first

    def edit(self, *, software: Callable[[AuthorizationList], AuthorizationList] | None = None,
             hardware: Callable[[AuthorizationList], AuthorizationList] | None = None) -> None:
        """Change the description's lists."""
        self.description = with_lists(self.description, software=software, hardware=hardware)

    def encodings(self) -> list[tuple[bytes, bytes]]:
        """The DER and PEM of the certificates the device sends, in order: ``extra_below``, the leaf, ``above`` (from
        :meth:`AndroidKit.encoding`)."""
        assert self.leaf is not None
        below = [self.extra_below] if self.extra_below is not None else []
        return [*map(self.kit.encoding, [*below, self.leaf, *self.above])]

    def evidence(self) -> Evidence:
        stem = self.golden.name
        files = evidence_files(stem, b"".join(pem_text for _, pem_text in self.encodings()), self.challenge)
        if self.status is not None:
            files[STATUS_FILE] = self.status
        return Evidence(FORMAT, files, f"{stem}.pem")


Operator = Callable[[Workbench], None]


def _keymaster1_under_software(description: KeyDescription) -> KeyDescription:
    """The description keystore's software writes for a Keymaster 1 TEE key (the Pixel1 sample)."""
    hardware_list = replace(description.hardware_enforced, root_of_trust=None, os_version=None, os_patch_level=None)
    return replace(description, keymint_version=1, keymint_security_level=TEE, hardware_enforced=hardware_list)


# -- operators ------------------------------------------------------------------------------

def hardware(**changes: object) -> Operator:
    """Set fields of hardwareEnforced."""
    def apply(bench: Workbench) -> None:
        bench.edit(hardware=lambda auth: replace(auth, **changes))  # type: ignore[arg-type]
    return apply


def top_level(**changes: object) -> Operator:
    """Set top-level KeyDescription fields."""
    def apply(bench: Workbench) -> None:
        bench.description = replace(bench.description, **changes)  # type: ignore[arg-type]
    return apply


def _replayed_challenge(bench: Workbench) -> None:
    top_level(attestation_challenge=default_challenge(bench.kit.seed, "replayed", ATTEST_TIME))(bench)


def _move_to_software(attr: str) -> Operator:
    def apply(bench: Workbench) -> None:
        value = getattr(bench.description.hardware_enforced, attr)
        bench.edit(hardware=lambda auth: replace(auth, **{attr: None}),  # type: ignore[arg-type]
                   software=lambda auth: replace(auth, **{attr: value}))
    return apply


def _root_of_trust(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        rot = bench.description.hardware_enforced.root_of_trust
        assert rot is not None
        hardware(root_of_trust=replace(rot, **changes))(bench)  # type: ignore[arg-type]
    return apply


def _children(der: bytes) -> list[bytes]:
    """The encoded children of the SEQUENCE ``der``."""
    (top,) = read_children(der, "", 2)
    return [tlv.der for tlv in read_children(top.content, "", 64)]


def _tag_number(entry: bytes) -> int:
    return read_children(entry, "", 2)[0].tag


def _splice_hardware(fn: Callable[[Workbench, list[bytes]], list[bytes]]) -> Operator:
    """Rewrite hardwareEnforced entry by entry (encoded bytes) and put the raw result in the leaf."""
    def apply(bench: Workbench) -> None:
        children = _children(encode_key_description(bench.description))
        bench.description_der = der_sequence(*children[:7], der_sequence(*fn(bench, _children(children[7]))))
    return apply


def _entry_index(entries: list[bytes], number: int) -> int:
    return next(i for i, entry in enumerate(entries) if _tag_number(entry) == number)


def _swap_first_tags(_bench: Workbench, entries: list[bytes]) -> list[bytes]:
    return [entries[1], entries[0], *entries[2:]]


def _non_der_device_locked(bench: Workbench, entries: list[bytes]) -> list[bytes]:
    rot = bench.description.hardware_enforced.root_of_trust
    assert rot is not None and rot.device_locked
    der = mutate.replace_once(encode_root_of_trust(rot), b"\x01\x01\xff", b"\x01\x01\x01")
    entries[_entry_index(entries, 704)] = der_explicit(704, der)
    return entries


def _unsorted_purposes(_bench: Workbench, entries: list[bytes]) -> list[bytes]:
    entries[_entry_index(entries, 1)] = der_explicit(1, der_tlv(0x31, b"\x02\x01\x03\x02\x01\x02"))
    return entries


def _unknown_tag(_bench: Workbench, entries: list[bytes]) -> list[bytes]:
    return [*entries, der_explicit(899, b"\x05\x00")]


def _origin_twice(_bench: Workbench, entries: list[bytes]) -> list[bytes]:
    index = _entry_index(entries, 702)
    return [*entries[:index + 1], der_explicit(702, b"\x02\x01\x02"), *entries[index + 1:]]


def _raw_description(fn: Callable[[list[bytes]], bytes]) -> Operator:
    """Replace the KeyDescription by ``fn(its encoded children)``."""
    def apply(bench: Workbench) -> None:
        bench.description_der = fn(_children(encode_key_description(bench.description)))
    return apply


def _long_form_challenge(children: list[bytes]) -> bytes:
    challenge = children[4]
    assert challenge[1] < 0x80
    return der_sequence(*children[:4], b"\x04\x81" + challenge[1:], *children[5:])


def _garbage_application_id(children: list[bytes]) -> bytes:
    """The [709] entry's content replaced in place: the tags stay in ascending order, as in the golden."""
    garbage = der_explicit(709, der_tlv(0x04, b"\x30\x05\x31\x03\x30\x01"))
    software = [garbage if _tag_number(e) == 709 else e for e in _children(children[6])]
    if garbage not in software:
        raise mutate.MutationError("softwareEnforced has no attestationApplicationId")
    return der_sequence(*children[:6], der_sequence(*software), children[7])


def _many_packages(bench: Workbench) -> None:
    packages = tuple(PackageInfo(f"{bench.kit.options.package}.p{i}".encode(), 1) for i in range(40))
    bench.edit(software=lambda auth: replace(auth, attestation_application_id=ApplicationId(packages, ())))


def _reissue(cert: x509.Certificate, issuer_key: PrivateKey, *, extra: x509.ExtensionType | None = None,
             not_after: datetime | None = None, basic_constraints: x509.BasicConstraints | None = None,
             issuer_name: x509.Name | None = None) -> x509.Certificate:
    """``cert`` rebuilt with one change, signed by ``issuer_key`` (extensions keep their order)."""
    extensions: list[tuple[x509.ExtensionType, bool]] = []
    for ext in cert.extensions:
        value = ext.value
        if basic_constraints is not None and isinstance(value, x509.BasicConstraints):
            value = basic_constraints
        extensions.append((value, ext.critical))
    if extra is not None:
        extensions.append((extra, False))
    hash_name = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "sha256"
    return issue(cert.subject, cert.public_key(), issuer_name or cert.issuer, issuer_key, cert.serial_number,
                 cert.not_valid_before_utc, not_after or cert.not_valid_after_utc, extensions, hash_name)


def _ca3(bench: Workbench) -> PrivateKey:
    return droid_ca3(bench.kit.seed, ATTEST_TIME, under_2026=bench.golden.shape is ChainShape.RKP_2026).key


def _attestation_cert_with_description(bench: Workbench) -> None:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17"), bench.der())
    bench.above[0] = _reissue(bench.above[0], _ca3(bench), extra=ext)


def _attestation_cert_expired(bench: Workbench) -> None:
    bench.above[0] = _reissue(bench.above[0], _ca3(bench), not_after=VALIDATION_TIME - timedelta(hours=1))


def _droid_ca3_not_ca(bench: Workbench) -> None:
    ca2 = droid_ca2(bench.kit.seed, under_2026=False)
    bench.above[1] = _reissue(bench.above[1], ca2.key, basic_constraints=x509.BasicConstraints(ca=False,
                                                                                              path_length=None))


def _fake_leaf_below(bench: Workbench) -> None:
    """An attacker's leaf with a forged description, signed by the genuinely attested (signing) key."""
    private_key = bench.private_key
    assert not isinstance(private_key, mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey)
    forged = replace(bench.description, attestation_security_level=STRONGBOX, keymint_security_level=STRONGBOX)
    impostor = derive_key(bench.kit.seed, "android/impostor/leaf", KeySpec.parse("ec-p256"))
    assert bench.leaf is not None
    fake_identity = AttestationIdentity(private_key, bench.leaf, (), bench.identity.root)
    bench.extra_below = attestation_leaf(impostor.public_key(), encode_key_description(forged), fake_identity)


def _leaf_by_other_key(bench: Workbench) -> None:
    other = derive_key(bench.kit.seed, "android/impostor/attestation-key", KeySpec.parse("ec-p256"))
    forged = AttestationIdentity(other, bench.identity.certificate, (), bench.identity.root)
    bench.leaf = attestation_leaf(bench.public_key, bench.der(), forged, description_first=bench.leaf_description_first)


def _edit_leaf_after_signing(bench: Workbench) -> None:
    assert bench.leaf is not None and bench.challenge
    der = bench.leaf.public_bytes(Encoding.DER)
    edited = bytes([bench.challenge[0] ^ 0x01]) + bench.challenge[1:]
    bench.leaf = x509.load_der_x509_certificate(mutate.replace_once(der, bench.challenge, edited))


def _wrong_root(bench: Workbench) -> None:
    """A complete chain of the same shape and names under another seed's emulated PKI."""
    other_seed = f"{bench.kit.seed}/other-google"
    identity = android_identity(other_seed, bench.kit.device.serial, bench.golden.level, bench.golden.shape,
                                ATTEST_TIME)
    bench.identity = identity
    bench.above = above_leaf(identity, bench.golden.shape)
    bench.resign()  # the leaf under the other PKI's attestation key, not the genuine one: the vector is Stale


def _foreign_root_appended(bench: Workbench) -> None:
    bench.above.append(legacy_root(f"{bench.kit.seed}/other-google").certificate)


def _drop(index: int) -> Operator:
    def apply(bench: Workbench) -> None:
        del bench.above[index]
    return apply


def _shuffle_attestation_and_ca3(bench: Workbench) -> None:
    bench.above[0], bench.above[1] = bench.above[1], bench.above[0]


def _older_root_reissue(bench: Workbench) -> None:
    bench.above[-1] = legacy_root(bench.kit.seed, reissue=LEGACY_ROOT_2019).certificate


def _status(index: int, status: str, reason: str) -> Operator:
    def apply(bench: Workbench) -> None:
        cert = bench.above[index]
        bench.status = render_status_list({serial_key(cert): {"status": status, "reason": reason}})
    return apply


def _unrelated_statuses(bench: Workbench) -> None:
    rng = drbg(bench.kit.seed, "android/status/unrelated")
    entries = {rng.read(16).hex().lstrip("0"): {"status": "REVOKED", "reason": "KEY_COMPROMISE"} for _ in range(3)}
    entries[rng.read(10).hex().lstrip("0")] = {"status": "SUSPENDED", "reason": "SOFTWARE_FLAW",
                                               "comment": "emulated entry"}
    bench.status = render_status_list(entries)


def _set(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        for name, value in changes.items():
            setattr(bench, name, value)
    return apply


def _id_attestation(bench: Workbench) -> None:
    rng = drbg(bench.kit.seed, "android/device-ids")
    imei = "".join(str(b % 10) for b in rng.read(15))
    second = "".join(str(b % 10) for b in rng.read(15))
    hardware(attestation_id_serial=bench.kit.device.serial.encode(), attestation_id_imei=imei.encode(),
             attestation_id_second_imei=second.encode())(bench)


# -- the catalogue --------------------------------------------------------------------------

SPEC = "shared/specs/other_formats.md 3"
AOSP = "source.android.com/docs/security/features/keystore/attestation"
KEYATTESTATION = "github.com/android/keyattestation"


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC, AOSP))


def mutations() -> list[Mutation]:
    """Every android-key defect, in catalogue order."""
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "tee-rkp-ec-p256") -> None:
        m.append(Mutation(f"{FORMAT}::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    hw = "/KeyDescription/hardwareEnforced"

    # security level
    add("level::software", "SecurityLevelSoftware",
        _note("ATTRIBUTE_POLICY", crit, "attestationSecurityLevel and keyMintSecurityLevel Software under a hardware "
              "chain, the key properties still in hardwareEnforced",
              "py_webauthn and SimpleWebAuthn accept it: a software key passes as hardware-backed"),
        "both security levels set to Software (0), re-signed", "asn1.set", "/KeyDescription/attestationSecurityLevel",
        top_level(attestation_security_level=SecurityLevel.SOFTWARE, keymint_security_level=SecurityLevel.SOFTWARE),
        invalid(Reason.SECURITY_LEVEL), resign=True)
    add("level::keymint-software", "SecurityLevelsDiffer",
        _note("ATTRIBUTE_POLICY", high, "attestationSecurityLevel TrustedEnvironment, keyMintSecurityLevel Software",
              "a verifier reading one level decides differently from one reading the other",
              SPEC, KEYATTESTATION + " MISMATCHED_SECURITY_LEVELS"),
        "keyMintSecurityLevel set to Software (0), re-signed", "asn1.set", "/KeyDescription/keyMintSecurityLevel",
        top_level(keymint_security_level=SecurityLevel.SOFTWARE), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("level::keymaster1-under-hardware-root", "SoftwareLevelHardwareChain",
        _note("ATTRIBUTE_POLICY", crit, "attestationSecurityLevel Software, keyMintSecurityLevel TrustedEnvironment "
              "(a software attestation's levels) under a hardware chain",
              "a verifier that accepts Keymaster 1 software attestations by their levels, not by their root, "
              "takes a hardware attestation key's statement for a software one", SPEC,
              KEYATTESTATION + " MISMATCHED_SECURITY_LEVELS"),
        "attestationSecurityLevel set to Software (0), re-signed", "asn1.set",
        "/KeyDescription/attestationSecurityLevel", top_level(attestation_security_level=SecurityLevel.SOFTWARE),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("level::software-root-claims-tee", "SoftwareRootClaimsHardware",
        _note("ATTRIBUTE_POLICY", crit, "attestationSecurityLevel TrustedEnvironment under the software "
              "attestation root", "a verifier reading the level, not the root, takes the OS's word (its "
              "attestation key ships in AOSP) for a TEE's"),
        "attestationSecurityLevel set to TrustedEnvironment (1), re-signed", "asn1.set",
        "/KeyDescription/attestationSecurityLevel", top_level(attestation_security_level=TEE),
        invalid(Reason.SECURITY_LEVEL), resign=True, golden="software-keymaster1-ec-p256")
    add("level::software-root-keymint-below-attestation", "SecurityLevelsInverted",
        _note("ATTRIBUTE_POLICY", high, "attestationSecurityLevel TrustedEnvironment above keyMintSecurityLevel "
              "Software under the software attestation root", "the attestation claims more than the KeyMint it "
              "describes", SPEC, KEYATTESTATION + " MISMATCHED_SECURITY_LEVELS"),
        "attestationSecurityLevel set to TrustedEnvironment (1), keyMintSecurityLevel to Software (0), re-signed",
        "asn1.set", "/KeyDescription/keyMintSecurityLevel",
        top_level(attestation_security_level=TEE, keymint_security_level=SecurityLevel.SOFTWARE),
        invalid(Reason.ATTR_CONFLICT), resign=True, golden="software-keymaster1-ec-p256")
    add("variant::software-both-levels", "SoftwareAttestationBothSoftware",
        _note("BASIC", Severity.INFO, "keyMintSecurityLevel Software too under the software attestation root "
              "(a device with no TEE Keymaster)", "none: a software attestation, structural only"),
        "keyMintSecurityLevel set to Software (0), re-signed", "asn1.set", "/KeyDescription/keyMintSecurityLevel",
        top_level(keymint_security_level=SecurityLevel.SOFTWARE), strict_only(Reason.SECURITY_LEVEL), resign=True,
        golden="software-keymaster1-ec-p256")

    # origin
    not_local = "the key was made outside the secure hardware"
    for slug, flag, origin in (("imported", "OriginImported", Origin.IMPORTED),
                               ("securely-imported", "OriginSecurelyImported", Origin.SECURELY_IMPORTED),
                               ("derived", "OriginDerived", Origin.DERIVED)):
        add(f"origin::{slug}", flag,
            _note("ATTRIBUTE_POLICY", crit, f"hardwareEnforced origin {origin.name}", not_local),
            f"origin set to {origin.name} ({origin.value}), re-signed", "asn1.set", f"{hw}/origin",
            hardware(origin=origin), invalid(Reason.ATTR_NOT_LOCAL), resign=True)
    add("origin::unknown-value", "OriginUnknownValue",
        _note("ENCODING", med, "origin 9 (not a KeyOrigin)",
              "verifiers that only reject IMPORTED accept unknown origins"),
        "origin set to 9, re-signed", "asn1.set", f"{hw}/origin", hardware(origin=9), invalid(Reason.MALFORMED),
        resign=True)
    add("origin::software-enforced-only", "OriginSoftwareOnly",
        _note("ATTRIBUTE_POLICY", high, "origin GENERATED only in softwareEnforced",
              "reading origin from the wrong list trusts what the OS, not the TEE, claims"),
        "origin moved from hardwareEnforced to softwareEnforced, re-signed", "asn1.move", f"{hw}/origin",
        _move_to_software("origin"), invalid(Reason.ATTR_MISSING), resign=True)
    add("origin::lists-disagree", "OriginListsDisagree",
        _note("ATTRIBUTE_POLICY", high, "hardwareEnforced origin GENERATED, softwareEnforced origin IMPORTED",
              "a verifier reading either list may decide either way"),
        "softwareEnforced origin IMPORTED added, re-signed", "asn1.insert", "/KeyDescription/softwareEnforced/origin",
        lambda bench: bench.edit(software=lambda auth: replace(auth, origin=Origin.IMPORTED)),
        invalid(Reason.ATTR_CONFLICT), resign=True)

    # purposes
    add("purpose::encrypt-decrypt", "PurposeNotSign",
        _note("ATTRIBUTE_POLICY", high, "purposes ENCRYPT and DECRYPT only", "the key cannot sign what it attests"),
        "purposes {ENCRYPT, DECRYPT}, re-signed", "asn1.set", f"{hw}/purpose",
        hardware(purposes=(Purpose.ENCRYPT, Purpose.DECRYPT)), invalid(Reason.KEY_PURPOSE), resign=True,
        golden="tee-rkp-rsa-3072")
    add("purpose::attest-key", "PurposeAttestKey",
        _note("ATTRIBUTE_POLICY", high, "purpose ATTEST_KEY only (an app attestation key)",
              "a key meant to sign other attestations is taken as a signing key"),
        "purposes {ATTEST_KEY}, re-signed", "asn1.set", f"{hw}/purpose", hardware(purposes=(Purpose.ATTEST_KEY,)),
        invalid(Reason.KEY_PURPOSE), resign=True)
    add("purpose::sign-and-decrypt", "PurposeSignAndDecrypt",
        _note("PROFILE", low, "purposes SIGN, VERIFY, ENCRYPT and DECRYPT", "the signing key also decrypts"),
        "purposes {ENCRYPT, DECRYPT, SIGN, VERIFY}, re-signed", "asn1.set", f"{hw}/purpose",
        hardware(purposes=(Purpose.ENCRYPT, Purpose.DECRYPT, Purpose.SIGN, Purpose.VERIFY)),
        strict_only(Reason.KEY_PURPOSE), resign=True, golden="tee-rkp-rsa-3072")
    add("purpose::software-enforced-only", "PurposeSoftwareOnly",
        _note("ATTRIBUTE_POLICY", high, "purposes only in softwareEnforced",
              "the TEE does not enforce what the verifier reads"),
        "purpose moved to softwareEnforced, re-signed", "asn1.move", f"{hw}/purpose", _move_to_software("purposes"),
        invalid(Reason.ATTR_MISSING), resign=True)
    add("purpose::all-applications", "AllApplications",
        _note("ATTRIBUTE_POLICY", med, "allApplications [600] present",
              "any app on the device may use the key (WebAuthn forbids it)"),
        "allApplications NULL added to hardwareEnforced, re-signed", "asn1.insert", f"{hw}/allApplications",
        hardware(all_applications=True), invalid(Reason.KEY_PURPOSE), resign=True)

    # challenge
    add("challenge::mismatch", "ChallengeMismatch",
        _note("BINDING", crit, "attestationChallenge differs from the challenge the relying party issued",
              "an attestation made for another session (replay) is accepted"),
        "attestationChallenge replaced by another UUID, re-signed", "asn1.set", "/KeyDescription/attestationChallenge",
        _replayed_challenge,
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("challenge::empty", "ChallengeEmpty",
        _note("BINDING", crit, "an empty attestationChallenge",
              "verifiers comparing prefixes or skipping empty values accept"),
        "attestationChallenge set to the empty OCTET STRING, re-signed", "asn1.set",
        "/KeyDescription/attestationChallenge", top_level(attestation_challenge=b""),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("challenge::file-missing", "ChallengeNotGiven",
        _note("PROFILE", low, "no .challenge file beside the chain",
              "structural verifiers cannot check freshness; strict ones refuse"),
        "the .challenge file removed", "file.remove", "<golden>.challenge", _set(challenge=None),
        strict_only(Reason.MISSING_INPUT), resign=False)

    # root of trust
    add("rot::missing", "RootOfTrustMissing",
        _note("ATTRIBUTE_POLICY", high, "no rootOfTrust", "the device's boot state is unknown",
              SPEC, KEYATTESTATION + " ROOT_OF_TRUST_MISSING"),
        "rootOfTrust removed, re-signed", "asn1.remove", f"{hw}/rootOfTrust", hardware(root_of_trust=None),
        invalid(Reason.ATTR_MISSING), resign=True)
    add("rot::software-enforced-only", "RootOfTrustSoftwareOnly",
        _note("ATTRIBUTE_POLICY", high, "rootOfTrust only in softwareEnforced", "the boot state is the OS's claim"),
        "rootOfTrust moved to softwareEnforced, re-signed", "asn1.move", f"{hw}/rootOfTrust",
        _move_to_software("root_of_trust"), invalid(Reason.ATTR_MISSING), resign=True)
    add("rot::device-unlocked", "DeviceUnlocked",
        _note("DEVICE_POLICY", med, "rootOfTrust deviceLocked FALSE", "the bootloader is unlocked: any OS can run"),
        "deviceLocked FALSE, re-signed", "asn1.set", f"{hw}/rootOfTrust/deviceLocked",
        _root_of_trust(device_locked=False), strict_only(Reason.DEVICE_INTEGRITY), resign=True)
    add("rot::boot-unverified", "BootUnverified",
        _note("DEVICE_POLICY", med, "verifiedBootState Unverified", "the running OS was not verified"),
        "verifiedBootState UNVERIFIED (2), re-signed", "asn1.set", f"{hw}/rootOfTrust/verifiedBootState",
        _root_of_trust(verified_boot_state=VerifiedBootState.UNVERIFIED), strict_only(Reason.DEVICE_INTEGRITY),
        resign=True)
    add("rot::boot-failed", "BootFailed",
        _note("DEVICE_POLICY", med, "verifiedBootState Failed", "verified boot failed on the device"),
        "verifiedBootState FAILED (3), re-signed", "asn1.set", f"{hw}/rootOfTrust/verifiedBootState",
        _root_of_trust(verified_boot_state=VerifiedBootState.FAILED), strict_only(Reason.DEVICE_INTEGRITY),
        resign=True)
    add("rot::boot-state-unknown", "BootStateUnknownValue",
        _note("ENCODING", med, "verifiedBootState 7 (not a VerifiedBootState)",
              "verifiers rejecting only Unverified accept unknown states"),
        "verifiedBootState 7, re-signed", "asn1.set", f"{hw}/rootOfTrust/verifiedBootState",
        _root_of_trust(verified_boot_state=7), invalid(Reason.MALFORMED), resign=True)

    # versions and key facts
    add("version::unknown", "AttestationVersionUnknown",
        _note("EXTENSIBILITY", med, "attestationVersion 250 (no Keymaster or KeyMint has it)",
              "a parser built for another schema version misreads the lists"),
        "attestationVersion and keyMintVersion 250, re-signed", "asn1.set", "/KeyDescription/attestationVersion",
        top_level(attestation_version=250, keymint_version=250), invalid(Reason.UNSUPPORTED), resign=True)
    add("key::algorithm-mismatch", "AlgorithmMismatch",
        _note("WRONG_PRIMITIVE", med, "algorithm RSA for an EC leaf key",
              "verifiers trusting the list misread the key"),
        "algorithm set to RSA (1), re-signed", "asn1.set", f"{hw}/algorithm", hardware(algorithm=1),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("key::key-size-mismatch", "KeySizeMismatch",
        _note("WRONG_PRIMITIVE", med, "keySize 384 for a P-256 leaf key",
              "policy on the list's size misjudges the key"),
        "keySize set to 384, re-signed", "asn1.set", f"{hw}/keySize", hardware(key_size=384),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("key::ec-curve-mismatch", "EcCurveMismatch",
        _note("WRONG_PRIMITIVE", med, "ecCurve P_384 for a P-256 leaf key",
              "policy on the list's curve misjudges the key"),
        "ecCurve set to P_384 (2), re-signed", "asn1.set", f"{hw}/ecCurve", hardware(ec_curve=2),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("key::ml-dsa-variant-mismatch", "MlDsaVariantMismatch",
        _note("WRONG_PRIMITIVE", med, "mlDsaVariant ML_DSA_87 for an ML-DSA-65 leaf key",
              "verifiers trusting the variant misjudge the key's strength"),
        "mlDsaVariant set to ML_DSA_87 (2), re-signed", "asn1.set", f"{hw}/mlDsaVariant",
        hardware(ml_dsa_variant=MlDsaVariant.ML_DSA_87), invalid(Reason.ATTR_CONFLICT), resign=True,
        golden="tee-rkp-ml-dsa-65")
    add("key::algorithm-missing", "AlgorithmMissing",
        _note("ATTRIBUTE_POLICY", med, "no algorithm in hardwareEnforced", "the key type is not attested"),
        "algorithm removed, re-signed", "asn1.remove", f"{hw}/algorithm", hardware(algorithm=None),
        invalid(Reason.ATTR_MISSING), resign=True)

    # encoding
    add("encoding::tags-not-ascending", "TagsNotAscending",
        _note("ENCODING", low, "hardwareEnforced [2] before [1] (the real invalid/tags_not_in_ascending_order shape)",
              "DER parsers that map fields in order misread the list", SPEC, KEYATTESTATION + " TagOrderConstraint"),
        "algorithm and purpose entries exchanged, re-signed", "asn1.reorder", hw,
        _splice_hardware(_swap_first_tags), strict_only(Reason.MALFORMED), resign=True)
    add("encoding::unknown-tag", "UnknownTag",
        _note("EXTENSIBILITY", Severity.INFO, "an unknown tag [899] NULL at the end of hardwareEnforced",
              "android/keyattestation rejects unknown tags; tolerant parsers skip them",
              SPEC, KEYATTESTATION + " UNKNOWN_TAG_NUMBER"),
        "[899] NULL appended, re-signed", "asn1.insert", f"{hw}/[899]", _splice_hardware(_unknown_tag),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    add("encoding::boolean-not-der", "BooleanNotDer",
        _note("ENCODING", low, "deviceLocked BOOLEAN encoded 0x01 (the real invalid/malformed_rot_device_locked quirk)",
              "DER parsers refuse what a real device emitted; BER parsers read TRUE"),
        "deviceLocked content byte FF replaced by 01, re-signed", "asn1.encoding", f"{hw}/rootOfTrust/deviceLocked",
        _splice_hardware(_non_der_device_locked), strict_only(Reason.MALFORMED), resign=True)
    add("encoding::set-of-unsorted", "SetOfUnsorted",
        _note("ENCODING", low, "purpose SET OF with members 3, 2 (DER sorts them)", "DER-strict parsers refuse it"),
        "purpose members written VERIFY, SIGN, re-signed", "asn1.encoding", f"{hw}/purpose",
        _splice_hardware(_unsorted_purposes), strict_only(Reason.MALFORMED), resign=True)
    add("encoding::long-form-length", "LongFormLength",
        _note("ENCODING", low, "attestationChallenge length in long form (81 24)",
              "parsers slicing fixed offsets read the wrong bytes"),
        "the challenge OCTET STRING length written 0x81 0x24, re-signed", "asn1.encoding",
        "/KeyDescription/attestationChallenge", _raw_description(_long_form_challenge),
        strict_only(Reason.MALFORMED), resign=True)
    add("encoding::trailing-bytes", "TrailingBytes",
        _note("ENCODING", med, "two zero bytes after the KeyDescription SEQUENCE",
              "parsers that stop at the first element ignore data the signature covers"),
        "00 00 appended to the extension value, re-signed", "bytes.extend", "/KeyDescription",
        _raw_description(lambda children: der_sequence(*children) + b"\x00\x00"), invalid(Reason.MALFORMED),
        resign=True)
    add("encoding::truncated", "Truncated",
        _note("ENCODING", med, "the KeyDescription cut 10 bytes short", "parsers reading past the end crash"),
        "last 10 bytes of the extension value removed, re-signed", "bytes.truncate", "/KeyDescription",
        _raw_description(lambda children: der_sequence(*children)[:-10]), invalid(Reason.MALFORMED), resign=True)
    add("encoding::extra-field", "ExtraField",
        _note("ENCODING", med, "a ninth KeyDescription field (INTEGER 1)",
              "schema-driven parsers silently skip it; android/keyattestation requires eight"),
        "INTEGER 1 appended to the KeyDescription SEQUENCE, re-signed", "asn1.insert", "/KeyDescription/[8]",
        _raw_description(lambda children: der_sequence(*children, b"\x02\x01\x01")), invalid(Reason.MALFORMED),
        resign=True)
    add("encoding::duplicate-tag", "DuplicateTag",
        _note("ENCODING", crit, "origin [702] twice: GENERATED then IMPORTED",
              "first-wins and last-wins parsers disagree on the key's origin"),
        "a second origin entry IMPORTED after the first, re-signed", "asn1.duplicate", f"{hw}/origin",
        _splice_hardware(_origin_twice), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("encoding::application-id-garbage", "ApplicationIdGarbage",
        _note("ENCODING", med, "attestationApplicationId OCTET STRING holding a truncated SEQUENCE",
              "lazy parsers fail late or skip the app binding"),
        "the [709] OCTET STRING content replaced by 30 05 31 03 30 01, re-signed", "asn1.set",
        "/KeyDescription/softwareEnforced/attestationApplicationId", _raw_description(_garbage_application_id),
        invalid(Reason.MALFORMED), resign=True)
    add("encoding::too-many-packages", "TooManyPackages",
        _note("ROBUSTNESS", med, "attestationApplicationId with 40 packages (android/keyattestation allows 32)",
              "unbounded parsers spend memory and time on attacker-sized lists"),
        "40 package infos, re-signed", "asn1.set", "/KeyDescription/softwareEnforced/attestationApplicationId",
        _many_packages, invalid(Reason.LIMIT_EXCEEDED), resign=True)
    add("encoding::huge-challenge", "HugeKeyDescription",
        _note("ROBUSTNESS", med, "a 70,000-byte attestationChallenge (KeyMint allows 128)",
              "unbounded parsers read an oversized extension"),
        "attestationChallenge of 70,000 bytes, re-signed", "asn1.set", "/KeyDescription/attestationChallenge",
        top_level(attestation_challenge=b"A" * 70_000), invalid(Reason.LIMIT_EXCEEDED), resign=True)

    # chain
    add("chain::extension-in-attestation-cert", "ExtensionInIntermediate",
        _note("CHAIN", crit, "the RKP attestation certificate also carries a KeyDescription",
              "verifiers that take the first or the root-most extension read forged properties",
              "shared/specs/round2_formats.md 2.4", KEYATTESTATION + " CHAIN_EXTENDED_WITH_FAKE_ATTESTATION_EXTENSION"),
        "the attestation certificate re-issued by Droid CA3 with the leaf's KeyDescription", "cert.extend",
        "chain[1]/extensions", _attestation_cert_with_description, invalid(Reason.ATTR_CONFLICT), resign=False)
    add("chain::fake-leaf-below-attested-key", "FakeLeafBelowAttestedKey",
        _note("CHAIN", crit, "a forged leaf (StrongBox claimed) signed by the genuinely attested signing key",
              "verifiers reading chain[0]'s extension accept any properties the attacker writes",
              "shared/specs/round2_formats.md 2.4", KEYATTESTATION + " CHAIN_EXTENDED_FOR_KEY"),
        "a new leaf below the genuine one, issued by the attested key", "cert.insert", "chain[0]",
        _fake_leaf_below, invalid(Reason.ATTR_CONFLICT), resign=False)
    add("chain::extension-missing", "ExtensionMissing",
        _note("CHAIN", high, "the leaf carries no KeyDescription", "verifiers defaulting missing fields accept",
              SPEC, KEYATTESTATION + " TARGET_MISSING_ATTESTATION_EXTENSION"),
        "leaf issued without the extension by the genuine attestation key", "cert.remove_extension",
        "chain[0]/extensions/1.3.6.1.4.1.11129.2.1.17", _set(omit_description=True), invalid(Reason.ATTR_MISSING),
        resign=True)
    add("chain::extension-critical", "ExtensionCritical",
        _note("ENCODING", low, "the KeyDescription extension marked critical (devices write it non-critical)",
              "path validators refuse an unknown critical extension; others ignore criticality"),
        "leaf issued with the extension critical", "cert.set", "chain[0]/extensions/1.3.6.1.4.1.11129.2.1.17",
        _set(critical=True), invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    add("chain::wrong-root", "WrongRoot",
        _note("CHAIN", crit, "a complete chain of the same shape under another emulated Google root",
              "verifiers that compare names, not keys, accept an attacker's PKI"),
        "attestation key, Droid CA3, Droid CA2 and root from another seed, leaf re-signed", "chain.replace", "chain",
        _wrong_root, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::foreign-root-appended", "ForeignRootAppended",
        _note("CHAIN", high, "an RKP chain ending at Droid CA2 with a foreign self-signed root appended",
              "verifiers taking x5c[-1] as the root trust or reject by accident"),
        "another emulated legacy root appended", "cert.append", "chain[-1]", _foreign_root_appended,
        invalid(Reason.CHAIN_UNTRUSTED), resign=False, golden="tee-rkp-no-root-ec-p256")
    add("chain::droid-ca2-missing", "IntermediateMissing",
        _note("CHAIN", high, "an RKP chain without Droid CA2 (nor root): the bundle's top, Droid CA3, names an "
              "issuer no anchor is (CHAIN_UNTRUSTED, as for any used-up bundle under a foreign root; see "
              "hsmsim.pki.chain.validate_chain)",
              "verifiers that trust any chain ending below a pinned name accept"),
        "Droid CA2 removed", "cert.remove", "chain[3]", _drop(2), invalid(Reason.CHAIN_UNTRUSTED), resign=False,
        golden="tee-rkp-no-root-ec-p256")
    add("chain::factory-batch-missing", "BatchCertificateMissing",
        _note("CHAIN", high, "a factory chain without its batch certificate", "the leaf's issuer is nowhere"),
        "batch certificate removed", "cert.remove", "chain[1]", _drop(0), invalid(Reason.CHAIN_INCOMPLETE),
        resign=False, golden="tee-factory-ec-p256")
    add("chain::leaf-signed-by-other-key", "LeafSignedByOtherKey",
        _note("SIGNATURE_BYPASS", crit, "the leaf names the attestation certificate but another key signed it",
              "verifiers checking names only accept any description"),
        "leaf signed by a derived impostor key", "cert.resign", "chain[0]", _leaf_by_other_key,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::leaf-edited-after-signing", "LeafEditedAfterSigning",
        _note("SIGNATURE_BYPASS", crit, "one bit of the challenge inside the leaf flipped after signing",
              "verifiers that parse the extension without checking the leaf signature accept edits"),
        "lowest bit of the challenge's first byte flipped in the leaf DER, signature kept", "bytes.replace",
        "chain[0]/KeyDescription",
        _edit_leaf_after_signing, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::attestation-cert-expired", "AttestationCertExpired",
        _note("CHAIN", high, "the RKP attestation certificate expired an hour before the validation time",
              "verifiers not checking validity accept retired provisioning keys"),
        "attestation certificate re-issued with notAfter = validation time - 1 h", "cert.set",
        "chain[1]/validity/notAfter", _attestation_cert_expired, invalid(Reason.CERT_EXPIRED), resign=False)
    add("chain::leaf-not-yet-valid", "LeafNotYetValid",
        _note("CHAIN", med, "the leaf's notBefore a day after the validation time", "clock checks skipped"),
        "leaf issued with notBefore = validation time + 1 day", "cert.set", "chain[0]/validity/notBefore",
        _set(leaf_not_before=VALIDATION_TIME + timedelta(days=1)), invalid(Reason.CERT_NOT_YET_VALID), resign=True)
    add("chain::droid-ca3-not-ca", "IntermediateNotCa",
        _note("CHAIN", high, "Droid CA3 with basicConstraints CA:FALSE", "verifiers skipping CA checks accept"),
        "Droid CA3 re-issued with CA:FALSE", "cert.set", "chain[2]/basicConstraints", _droid_ca3_not_ca,
        invalid(Reason.CERT_NOT_CA), resign=False)
    add("chain::revoked-droid-ca3", "RevokedIntermediate",
        _note("REVOCATION", crit, "Droid CA3 REVOKED (KEY_COMPROMISE) in the status list",
              "verifiers ignoring Google's status list accept keys under a compromised CA"),
        "attestation-status.json lists Droid CA3's serial REVOKED", "file.add", STATUS_FILE,
        _status(1, "REVOKED", "KEY_COMPROMISE"), invalid(Reason.CERT_REVOKED), resign=False)
    add("chain::suspended-attestation-cert", "SuspendedAttestationCert",
        _note("REVOCATION", high, "the RKP attestation certificate SUSPENDED (SOFTWARE_FLAW) in the status list",
              "verifiers checking only REVOKED accept a suspended device"),
        "attestation-status.json lists the attestation certificate SUSPENDED", "file.add", STATUS_FILE,
        _status(0, "SUSPENDED", "SOFTWARE_FLAW"), invalid(Reason.CERT_REVOKED), resign=False)
    add("chain::status-list-malformed", "StatusListMalformed",
        _note("ROBUSTNESS", low, "a status list that is not JSON", "verifiers crash or silently skip revocation"),
        "attestation-status.json truncated to '{\"entries\": {'", "file.add", STATUS_FILE,
        _set(status=b'{"entries": {'), invalid(Reason.MALFORMED), resign=False)
    add("chain::order-shuffled", "ChainOrderShuffled",
        _note("CHAIN", low, "Droid CA3 listed before the attestation certificate",
              "android/keyattestation requires leaf-to-root order; name-matching builders reorder silently"),
        "chain[1] and chain[2] exchanged", "cert.swap", "chain[1..2]", _shuffle_attestation_and_ca3,
        invalid(Reason.MALFORMED), resign=False)

    # valid variants
    add("chain::leaf-key-usage-keymaster3", "LeafKeyUsageKeymaster3",
        _note("CERT_PROFILE", low, "the leaf's keyUsage is keyEncipherment|dataEncipherment, without digitalSignature, "
              "for a key whose purposes are SIGN (as Keymaster 3 leaves, the Pixel 2's, write it)",
              "structural accepts it, as real Keymaster 3 devices need (the hardwareEnforced purposes decide); a "
              "strict verifier that does not read keyUsage accepts a leaf certificate that forbids signing"),
        "leaf keyUsage = keyEncipherment, dataEncipherment, re-signed", "cert.reissue", "chain[0]/extensions/keyUsage",
        _set(leaf_key_usage=("key_encipherment", "data_encipherment")), strict_only(Reason.CERT_KEY_USAGE),
        resign=True, golden="tee-factory-ec-p256")
    add("variant::status-list-unrelated-entries", "StatusListUnrelated",
        _note("BASIC", Severity.INFO, "a status list revoking and suspending other serials",
              "none: a correct verifier accepts it"),
        "attestation-status.json with four entries for other serials", "file.add", STATUS_FILE, _unrelated_statuses,
        valid(), resign=False)
    add("variant::boot-self-signed", "BootSelfSigned",
        _note("BASIC", Severity.INFO, "a locked device booting a custom OS with its own key (verifiedBootState "
              "SelfSigned, as GrapheneOS)", "none: step-ca and hsmsim accept it"),
        "verifiedBootState SELF_SIGNED (1), re-signed", "asn1.set", f"{hw}/rootOfTrust/verifiedBootState",
        _root_of_trust(verified_boot_state=VerifiedBootState.SELF_SIGNED), valid(), resign=True)
    add("variant::older-root-reissue", "OlderRootReissue",
        _note("BASIC", Severity.INFO, "a factory chain ending with the 2019 issue of the legacy root (same name and "
              "key as the pinned 2022 issue), as the real 2021 factory chain invalid/malformed_rot_device_locked "
              "and every RKP golden do", "none: a verifier comparing root bytes rejects it"),
        "root replaced by its older issue", "cert.replace", "chain[-1]", _older_root_reissue, valid(), resign=False,
        golden="tee-factory-ec-p256")
    add("variant::key-usage-first", "ExtensionOrder",
        _note("BASIC", Severity.INFO, "the leaf's keyUsage written before the KeyDescription, as akita (sdk 34) "
              "writes it under the legacy root (caiman, whose RKP chain the golden follows, writes it after)",
              "none: a verifier that finds the extension by its OID accepts it"),
        "leaf issued with keyUsage first, re-signed", "cert.reorder", "chain[0]/extensions",
        _set(description_first=False), valid(), resign=True)
    add("variant::id-attestation", "DeviceIdAttestation",
        _note("BASIC", Severity.INFO, "device ID attestation: serial, IMEI and second IMEI in hardwareEnforced",
              "none: a correct verifier accepts it"),
        "attestationIdSerial, attestationIdImei and attestationIdSecondImei added, re-signed", "asn1.insert",
        f"{hw}/attestationIdSerial", _id_attestation, valid(), resign=True)
    return m


SOFTWARE_ATTESTATION_NOTE = FlagNote(
    "PROFILE", Severity.INFO, "a software attestation: attestationSecurityLevel Software under an Android software "
    "attestation root", "valid evidence of the OS's word; the strict profile rejects it with SECURITY_LEVEL",
    (SPEC, AOSP))
STRICT_KEY_POLICY_NOTE = FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                  "valid evidence; the strict profile rejects it with KEY_POLICY",
                                  ("CA/B Forum Code Signing BR 6.2.7.4",))


def notes() -> dict[str, FlagNote]:
    """Every flag the android-key vectors use, with its definition."""
    common = {**PROVENANCE_NOTES, "StrictKeyPolicy": STRICT_KEY_POLICY_NOTE,
              "SoftwareAttestation": SOFTWARE_ATTESTATION_NOTE}
    return flag_notes(common, mutations())


def _golden_flags(golden: Golden) -> tuple[str, ...]:
    """The flag of what decides the golden's strict verdict (see :func:`golden_expected`), if any."""
    if golden.level is SOFTWARE:
        return ("SoftwareAttestation",)
    return ("StrictKeyPolicy",) if golden.spec in _WEAK_SPECS else ()


def golden_expected(golden: Golden) -> dict[Profile, Reason]:
    """Goldens verify under both profiles, except keys outside the code-signing rules and software
    attestations under strict."""
    if golden.level is SOFTWARE:
        return strict_only(Reason.SECURITY_LEVEL)
    return strict_only(Reason.KEY_POLICY) if golden.spec in _WEAK_SPECS else valid()


class Bench(Protocol):
    """What the case builder needs of a workbench: re-signing and the resulting evidence."""

    def resign(self) -> None: ...

    def evidence(self) -> Evidence: ...


def golden_case(kit: AndroidKit, case_id: str, comment: str, flags: tuple[str, ...],
                expected: dict[Profile, Reason], evidence: Evidence,
                anchors: tuple[x509.Certificate, ...] = (), validation_time: datetime = VALIDATION_TIME) -> VectorCase:
    """A golden vector of the kit's world, pinning ``anchors`` (default: the kit's hardware roots), verified at
    ``validation_time``."""
    return VectorCase(id=case_id, comment=comment, flags=flags, expected=expected, evidence=evidence,
                      anchors=anchors or kit.anchors, validation_time=validation_time,
                      provenance=Provenance(seed=kit.seed, signing=Signing.GENUINE))


def mutation_cases(kit: AndroidKit, catalogue: list[Mutation], open_bench: Callable[[AndroidKit, str], Bench],
                   ) -> list[VectorCase]:
    """One vector per mutation: its golden opened, the defect applied, re-signed when the mutation says so."""
    cases = []
    for mutation in catalogue:
        bench = open_bench(kit, mutation.golden)
        mutation.apply(bench)
        if mutation.resign:
            bench.resign()
        prefix = mutation.id.split("::", 1)[0]
        cases.append(mutation_case(mutation, bench.evidence(), kit.anchors_for(mutation.golden),
                                   kit.validation_time_for(mutation.golden), kit.seed,
                                   f"{prefix}::golden::{mutation.golden}"))
    return cases


def vector_cases(seed: str) -> list[VectorCase]:
    """The android-key vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = AndroidKit.build(seed)
    goldens = [golden_case(
        kit, f"{FORMAT}::golden::{golden.name}",
        f"unmutated {golden.level.name} attestation of a generated {golden.spec} key, {golden.chain} chain",
        ("Golden", *_golden_flags(golden)), golden_expected(golden), Workbench.open(kit, golden.name).evidence(),
        kit.anchors_for(golden.name), golden.validation_time) for golden in GOLDENS]
    return goldens + mutation_cases(kit, mutations(), Workbench.open)
