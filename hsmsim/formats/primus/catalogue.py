"""The Primus vector set: golden bundles and one-defect mutations with their expected verdicts.

Each :class:`Mutation` names one defect (a flag with its note), the operator and path
it touches, whether the genuine attestation key re-signs afterwards (``Resigned``)
or the old signature stays (``Stale``), and the reason each profile must return.
Everything is derived from the seed: keys, serials, Faker labels, fixed times. The seeded
:class:`PrimusKit` and the :class:`Workbench` a defect edits also serve :mod:`~hsmsim.formats.primus.fuzz`.
"""

from __future__ import annotations

import base64
import bz2
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH, Device
from hsmsim.encoding import cert_pem, pem, spki_der, spki_pem
from hsmsim.formats.primus.archive import STORED, ZipEntry, build_zip, deflated, java_zip
from hsmsim.formats.primus.bundle import assemble, csr_for, sign_xml
from hsmsim.formats.primus.layout import CHAIN_FILE, PUBKEY_FILE
from hsmsim.formats.primus.pki import PrimusPki, primus_attestation_identity, primus_pki
from hsmsim.keystore.base import KeySpec, PrivateKey, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import (
    UTF8,
    CertSpec,
    Ext,
    build_certificate,
    key_usage,
    map_extensions,
    name,
    reissue,
    resign_tbs,
)
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, derive_serial
from hsmsim.verdict import Profile, Reason

GOLDEN_SPECS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "aes-256")
VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)


# -- the seeded world ------------------------------------------------------------------------

@dataclass(frozen=True)
class PrimusKit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    device: Device
    pki: PrimusPki
    identity: AttestationIdentity
    keys: dict[str, StoredKey]
    store: SoftKeyStore
    foreign_key: rsa.RSAPrivateKey
    organisation: str
    goldens: dict[str, tuple[str, dict[str, bytes], dict[str, bytes]]] = field(default_factory=dict, compare=False)
    """Each golden bundle opened up (stem, zip members, outer files), made once: every mutation starts from a copy."""

    @classmethod
    def build(cls, seed: str) -> PrimusKit:
        """Seed → Faker names, device, PKI, attestation identity and one key per golden spec."""
        fake = seeded_faker(seed, ["en_US", "de_CH"], providers=("company", "person"))
        organisation = fake.company()
        device = Device(format="primus", serial=fake.numerify("18######"), seed=seed,
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        slug = re.sub(r"[^a-z0-9]+", "-", organisation.lower()).strip("-")[:24]
        store = SoftKeyStore(seed=seed)
        keys = {}
        for index, spec in enumerate(GOLDEN_SPECS):
            purpose = fake.random_element(("qsig", "codesign", "seal", "tsa", "signing"))
            label = f"{slug}-{purpose}-{spec}"
            keys[spec] = store.generate(KeySpec.parse(spec), label,
                                        created=KEYS_CREATED + timedelta(hours=index, minutes=fake.random_int(0, 59)))
        pki = primus_pki(seed, device.serial, initialised=device.initialised)
        identity = primus_attestation_identity(seed, device.serial, "default", initialised=device.initialised,
                                               created=device.attestation_created)
        foreign = derive_key(seed, "primus/foreign/attestation-key", KeySpec.parse("rsa-3072"))
        assert isinstance(foreign, rsa.RSAPrivateKey)
        return cls(seed, device, pki, identity, keys, store, foreign, organisation)


# -- the bundle under construction ----------------------------------------------------------

@dataclass
class Workbench:
    """A golden bundle opened up for one mutation: zip members, outer files, and the kit."""

    kit: PrimusKit
    key: StoredKey
    stem: str
    members: dict[str, bytes]
    outer: dict[str, bytes]
    zip_override: bytes | None = None
    anchors: tuple[x509.Certificate, ...] = ()
    """The trust store of the vector, when a defect changes it; empty: the kit's Primus root alone."""

    @classmethod
    def open(cls, kit: PrimusKit, spec: str) -> Workbench:
        """The golden bundle of ``spec`` as a workbench (a copy: the workbench is the mutation's own)."""
        key = kit.keys[spec]
        if spec not in kit.goldens:
            signer = kit.store.signer(key) if key.public_key is not None else None
            bundle = assemble(key, signer, kit.identity, ATTEST_TIME)
            kit.goldens[spec] = (bundle.stem, dict(bundle.members()), bundle.beside_zip())
        stem, members, outer = kit.goldens[spec]
        return cls(kit, key, stem, dict(members), dict(outer))

    @property
    def xml_name(self) -> str:
        return f"{self.stem}.xml"

    @property
    def sig_name(self) -> str:
        return f"{self.stem}.sig"

    @property
    def csr_name(self) -> str:
        return f"{self.stem}.csr"

    @property
    def xml(self) -> bytes:
        return self.members[self.xml_name]

    @xml.setter
    def xml(self, value: bytes) -> None:
        self.members[self.xml_name] = value

    def chain(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.members[CHAIN_FILE])

    def set_chain(self, certs: list[x509.Certificate]) -> None:
        self.members[CHAIN_FILE] = b"".join(cert_pem(c) for c in certs)

    def set_loose_pubkey(self, key: PrivateKey) -> None:
        """Put ``key``'s public half in both loose public-key members."""
        self.members[f"{self.stem}.pem"] = self.members[PUBKEY_FILE] = spki_pem(key.public_key())

    def resign(self) -> None:
        """Sign the current XML with the genuine attestation key."""
        self.members[self.sig_name] = sign_xml(self.xml, self.kit.identity.key)

    @property
    def zip_name(self) -> str:
        """The zip's file name in the evidence, ``<label>_attestation.zip`` as TSB names it (its primary file)."""
        return f"{self.stem}_attestation.zip"

    def evidence(self, zip_data: bytes | None = None) -> Evidence:
        """The bundle as TSB hands it out: the zip (``zip_override``, else ``zip_data``, else the members
        zipped) beside the outer files."""
        data = self.zip_override or zip_data or build_zip(list(self.members.items()), ATTEST_TIME)
        return Evidence("primus", {self.zip_name: data, **self.outer}, self.zip_name)


Operator = Callable[[Workbench], None]


# -- operators ------------------------------------------------------------------------------

def xml_op(fn: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.xml = fn(bench.xml)
    return apply


def member_op(member: str | Callable[[Workbench], str], fn: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        key = member(bench) if callable(member) else member
        bench.members[key] = fn(bench.members[key])
    return apply


def _sig(bench: Workbench) -> str:
    return bench.sig_name


def _sign_with_foreign(bench: Workbench) -> None:
    bench.members[bench.sig_name] = sign_xml(bench.xml, bench.kit.foreign_key)


def _sign_pss(bench: Workbench) -> None:
    key = bench.kit.identity.key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise mutate.MutationError("PSS needs an RSA attestation key")
    # An empty salt keeps PSS deterministic, so the vector regenerates byte for byte.
    bench.members[bench.sig_name] = key.sign(bench.xml, padding.PSS(padding.MGF1(hashes.SHA256()), 0), hashes.SHA256())


def _swap_loose_pubkey_and_sign(bench: Workbench) -> None:
    bench.set_loose_pubkey(bench.kit.foreign_key)
    _sign_with_foreign(bench)


def _reissue_leaf(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        leaf, device, *rest = bench.chain()
        bench.set_chain([reissue(leaf, bench.kit.pki.device_key, **changes), device, *rest])
    return apply


def _reissue_device(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        leaf, device, *rest = bench.chain()
        bench.set_chain([leaf, reissue(device, bench.kit.pki.root_key, **changes), *rest])
    return apply


def _device_not_ca(bench: Workbench) -> None:
    """The device certificate re-issued by the root with basicConstraints CA:FALSE; every other extension (keyUsage,
    certificatePolicies) stays as it was, in its place."""
    leaf, device, *rest = bench.chain()
    not_ca = x509.BasicConstraints(ca=False, path_length=None)
    extensions = tuple(Ext(not_ca if isinstance(e.value, x509.BasicConstraints) else e.value, e.critical)
                       for e in device.extensions)
    bench.set_chain([leaf, reissue(device, bench.kit.pki.root_key, extensions=extensions), *rest])


def _duplicate_leaf_extension(bench: Workbench) -> None:
    """The attestation certificate with its first extension twice (DER by hand), re-signed by the device."""
    leaf, *rest = bench.chain()
    tbs = map_extensions(leaf.tbs_certificate_bytes, lambda exts: [exts[0], *exts])
    bench.set_chain([resign_tbs(leaf, tbs, bench.kit.pki.device_key), *rest])


def _drop_device(bench: Workbench) -> None:
    leaf, _device, *rest = bench.chain()
    bench.set_chain([leaf, *rest])


def _forge_device(bench: Workbench) -> None:
    """Device certificate with the genuine name and key, signed by a key that is not the root's."""
    leaf, device, *rest = bench.chain()
    impostor = derive_key(bench.kit.seed, "primus/impostor-root", KeySpec.parse("rsa-3072"))
    bench.set_chain([leaf, reissue(device, impostor), *rest])


def _foreign_pki(bench: Workbench) -> None:
    """A complete Primus-shaped chain under another (unknown) emulated root, signing the XML."""
    kit = bench.kit
    identity = primus_attestation_identity(f"{kit.seed}/unknown-root", kit.device.serial, "default",
                                           initialised=kit.device.initialised, created=kit.device.attestation_created)
    bench.set_chain([*identity.chain, identity.root])
    bench.set_loose_pubkey(identity.key)
    bench.members[bench.sig_name] = sign_xml(bench.xml, identity.key)


def _other_vendor_cert(kit: PrimusKit, what: str, subject: x509.Name, key: PrivateKey,
                       issuer: tuple[x509.Name, PrivateKey] | None = None, *, ca: bool = True) -> x509.Certificate:
    """A certificate of another vendor's emulated PKI (a YubiHSM-style one): a CA, or with ``ca=False`` a signing
    key's certificate; self-signed when ``issuer`` (its name and key) is None."""
    issuer_name, issuer_key = issuer or (subject, key)
    extensions = (Ext(x509.BasicConstraints(ca=True, path_length=None), critical=True),
                  Ext(key_usage("key_cert_sign", "crl_sign"), critical=True)) if ca else (
                  Ext(key_usage("digital_signature"), critical=True),
                  Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    return build_certificate(CertSpec(
        subject=subject, issuer=issuer_name, public_key=key.public_key(),
        serial=derive_serial(kit.seed, f"other-vendor/{what}"),
        not_before=datetime(2024, 1, 1, tzinfo=UTC), not_after=datetime(2054, 1, 1, tzinfo=UTC),
        extensions=extensions), issuer_key)


def _other_vendor_root_key(kit: PrimusKit) -> tuple[PrivateKey, x509.Certificate]:
    """Another vendor's emulated root (a YubiHSM-style CA) and its key."""
    key = derive_key(kit.seed, "other-vendor/root", KeySpec.parse("rsa-2048"))
    subject = name(("CN", "YubiHSM Attestation Root EMULATED", UTF8), ("O", "Yubico", UTF8))
    return key, _other_vendor_cert(kit, "root", subject, key)


def _other_vendor_root(bench: Workbench) -> None:
    """The device certificate issued by another vendor's emulated root (a YubiHSM-style CA)."""
    root_key, root = _other_vendor_root_key(bench.kit)
    leaf, device, *_ = bench.chain()
    bench.set_chain([leaf, reissue(device, root_key, issuer=root.subject), root])


def _other_vendor_key_signs(bench: Workbench) -> None:
    """A key another vendor's PKI certifies (root -> attestation CA -> key, as a YubiKey slot key or a TPM AK is)
    signs the XML; the chain file carries that PKI, both loose PEMs that key, and the trust store holds its root beside
    the Primus root."""
    kit = bench.kit
    root_key, root = _other_vendor_root_key(kit)
    ca_key = derive_key(kit.seed, "other-vendor/attestation-ca", KeySpec.parse("rsa-2048"))
    ca = _other_vendor_cert(kit, "attestation-ca", name(("CN", "YubiHSM Attestation CA EMULATED", UTF8),
                                                        ("O", "Yubico", UTF8)), ca_key, (root.subject, root_key))
    key = derive_key(kit.seed, "other-vendor/attested-key", KeySpec.parse("rsa-2048"))
    leaf = _other_vendor_cert(kit, "attested-key", name(("CN", "YubiHSM Attested Key EMULATED", UTF8)), key,
                              (ca.subject, ca_key), ca=False)
    bench.set_chain([leaf, ca, root])
    bench.set_loose_pubkey(key)
    bench.members[bench.sig_name] = sign_xml(bench.xml, key)
    bench.anchors = (kit.identity.root, root)


def _replace_csr_with_other_key(bench: Workbench) -> None:
    other = bench.kit.store.signer(bench.kit.keys["rsa-4096"])
    bench.outer[bench.csr_name] = csr_for(bench.key.label, other)


def _break_csr_signature(bench: Workbench) -> None:
    csr = x509.load_pem_x509_csr(bench.outer[bench.csr_name])
    der = mutate.flip_bit(csr.public_bytes(serialization.Encoding.DER), -9)
    bench.outer[bench.csr_name] = pem(der, "CERTIFICATE REQUEST")


def _remove_csr(bench: Workbench) -> None:
    del bench.outer[bench.csr_name]


def _public_key_value(bench: Workbench) -> bytes:
    match = re.search(rb"<public_key>([^<]*)</public_key>", bench.xml)
    if match is None:
        raise mutate.MutationError("no <public_key>")
    return match.group(1)


def _set_public_key(fn: Callable[[Workbench, bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.xml = mutate.set_element(bench.xml, "public_key", fn(bench, _public_key_value(bench)))
    return apply


def _pkcs1_instead_of_spki(bench: Workbench, _value: bytes) -> bytes:
    public = bench.key.public_key
    if not isinstance(public, rsa.RSAPublicKey):
        raise mutate.MutationError("PKCS#1 needs an RSA key")
    return base64.b64encode(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))


def _second_public_key(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-4096"].public_key
    if other is None:
        raise mutate.MutationError("the rsa-4096 golden has no public key")
    bench.xml = mutate.duplicate_element(bench.xml, "public_key", base64.b64encode(spki_der(other)))


def _zip_with(extra: list[tuple[str, bytes]]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.zip_override = build_zip([*bench.members.items(), *extra], ATTEST_TIME)
    return apply


def _zip_slip(bench: Workbench) -> None:
    xml = bench.members.pop(bench.xml_name)
    _zip_with([(f"../{bench.xml_name}", xml)])(bench)


def _zip_bomb(bench: Workbench) -> None:
    """Every member and ``padding.bin``, 64 MiB of zeros, deflated at level 9; the zeros are one 1 MiB piece
    written 64 times, so no 64 MiB buffer is ever made or read."""
    entries = [deflated(name, data, 9) for name, data in bench.members.items()]
    bench.zip_override = java_zip([*entries, deflated("padding.bin", bytes(1 << 20), 9, repeat=64)], ATTEST_TIME)


def _zip_trailing(bench: Workbench) -> None:
    bench.zip_override = build_zip(list(bench.members.items()), ATTEST_TIME) + b"\x00" * 16


# zip method numbers (APPNOTE 4.4.5) of the compressions TSB never uses
_BZIP2, _LZMA = 12, 14


def _xml_member_as(method: int, body: Callable[[bytes], bytes]) -> Operator:
    """The XML member written with another compression ``method`` and ``body(xml)`` as its stored bytes."""
    def apply(bench: Workbench) -> None:
        entries = [ZipEntry.of(name, data, method, body(data)) if name == bench.xml_name else deflated(name, data)
                   for name, data in bench.members.items()]
        bench.zip_override = java_zip(entries, ATTEST_TIME)
    return apply


def _corrupt_lzma(xml: bytes) -> bytes:
    # zip's LZMA header (LZMA SDK 9.20, 5 property bytes: lc=3 lp=0 pb=2, 64 KiB dictionary), then a stream
    # whose first range-coder byte is not 0: every LZMA decoder fails on it at once. Written by hand, so
    # the vector does not depend on the local liblzma.
    return b"\x09\x14\x05\x00" + b"\x5d\x00\x00\x01\x00" + b"\xff" * (len(xml) // 4)


def _xml_size_declared_one_more(bench: Workbench) -> None:
    data = bytearray(build_zip(list(bench.members.items()), ATTEST_TIME))
    entry = data.rindex(bench.xml_name.encode()) - 46  # the central directory comes last, its name at +46
    if data[entry:entry + 4] != b"PK\x01\x02":
        raise mutate.MutationError("no central directory entry for the XML member")
    size = int.from_bytes(data[entry + 24:entry + 28], "little")
    data[entry + 24:entry + 28] = (size + 1).to_bytes(4, "little")
    bench.zip_override = bytes(data)


def _case_duplicate_xml(bench: Workbench) -> None:
    forged = mutate.set_element(bench.xml, "extractable", b"true")
    _zip_with([(bench.xml_name.upper(), forged)])(bench)


def _stored_public_keys(bench: Workbench) -> None:
    entries = [ZipEntry.of(name, data, STORED, data) if name.endswith(".pem") else deflated(name, data)
               for name, data in bench.members.items()]
    bench.zip_override = java_zip(entries, ATTEST_TIME)


def _strip_root_copy(bench: Workbench) -> None:
    bench.set_chain(bench.chain()[:2])


def _storage_external(bench: Workbench) -> None:
    xml = mutate.set_root_attribute(bench.xml, "storage", b"external")
    bench.xml = mutate.insert_after(xml, "label", b"\t<uuid>6B1F0C2A-93D4E715-0A55C3E1-7F2B9D04</uuid>")


def _relabel(suffix: str) -> Operator:
    """The bundle TSB writes for the same key labelled ``<label><suffix>``: XML, file names, README and CSR
    follow the label, as they would for a key created under that label."""
    def apply(bench: Workbench) -> None:
        signer = bench.kit.store.signer(bench.key)
        key = replace(bench.key, attributes=replace(bench.key.attributes, label=bench.key.label + suffix))
        bundle = assemble(key, signer, bench.kit.identity, ATTEST_TIME)
        bench.members, bench.outer = dict(bundle.members()), bundle.beside_zip()
        bench.key, bench.stem = key, bundle.stem
    return apply


def _ska_policy_block(bench: Workbench) -> bytes:
    """An SKA key's ``<policy>`` in the layout ``primus.md`` 1.3 documents: ``key_status/blocked``, then the four
    rules, each one token with one group of one approver (``approval type="public_key"``, base64 SPKI)."""
    approver = derive_key(bench.kit.seed, "primus/ska-approver", KeySpec.parse("ec-p256"))
    spki = base64.b64encode(spki_der(approver.public_key())).decode()
    lines = ["\t<policy>", "\t\t<key_status>", "\t\t\t<blocked>false</blocked>", "\t\t</key_status>"]
    for rule in ("rule_use", "rule_block", "rule_unblock", "rule_modify"):
        lines += [f"\t\t<{rule}>", '\t\t\t<token name="custodians">', "\t\t\t\t<timelock>0</timelock>",
                  "\t\t\t\t<timeout>0</timeout>", '\t\t\t\t<group name="approvers">', "\t\t\t\t\t<quorum>1</quorum>",
                  f'\t\t\t\t\t<approval type="public_key" name="approver-1">{spki}</approval>',
                  "\t\t\t\t</group>", "\t\t\t</token>", f"\t\t</{rule}>"]
    lines.append("\t</policy>")
    return "".join(line + "\n" for line in lines).encode()


def _add_ska_policy(bench: Workbench) -> None:
    bench.xml = mutate.replace_once(bench.xml, b"\t</attributes>\n", b"\t</attributes>\n" + _ska_policy_block(bench))


# -- the catalogue --------------------------------------------------------------------------

CSBR = "CA/B Forum Code Signing BR 6.2.7.4"
SPEC = "shared/specs/primus.md"


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC,))


def mutations() -> list[Mutation]:
    """Every Primus defect, in catalogue order."""
    return list(_mutations())


@cache
def _mutations() -> tuple[Mutation, ...]:
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "rsa-3072",
            extra_flags: tuple[str, ...] = ()) -> None:
        m.append(Mutation(f"primus::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          golden, extra_flags))

    sig_bypass = "SIGNATURE_BYPASS"
    crit, high, med = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM
    accepts_forged = "a verifier would accept attributes the HSM never signed"

    # signature
    add("signature::xml-bit-flip", "XmlBitFlip",
        _note(sig_bypass, crit, "one bit of the signed XML flipped after signing", accepts_forged),
        "bit flipped inside <label> after signing", "bytes.flip_bit", "/private_key/label",
        xml_op(lambda x: mutate.flip_bit(x, x.index(b"<label>") * 8 + 7 * 8 + 2)), invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("signature::sig-bit-flip", "SigBitFlip",
        _note(sig_bypass, crit, "one bit of the detached signature flipped", accepts_forged),
        "last bit of the .sig inverted", "bytes.flip_bit", "<label>.sig",
        member_op(_sig, lambda s: mutate.flip_bit(s, -1)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::sig-truncated", "SigTruncated",
        _note(sig_bypass, crit, "signature shorter than the modulus", accepts_forged),
        ".sig cut to 256 of 384 bytes", "bytes.truncate", "<label>.sig",
        member_op(_sig, lambda s: mutate.truncate(s, 256)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::sig-empty", "SigEmpty",
        _note(sig_bypass, crit, "zero-length signature file", accepts_forged),
        ".sig is empty", "bytes.truncate", "<label>.sig", member_op(_sig, lambda s: b""),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::sig-trailing-bytes", "SigTrailingBytes",
        _note("ENCODING", high, "bytes appended to a valid signature", "lenient length handling hides tampering"),
        "one zero byte appended to the .sig", "bytes.extend", "<label>.sig", member_op(_sig, lambda s: s + b"\x00"),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::other-key", "SigByOtherKey",
        _note(sig_bypass, crit, "XML signed by an RSA-3072 key that is not the certified attestation key",
              "anyone with a key could mint attestations"),
        "signed by an uncertified RSA-3072 key", "sig.sign", "<label>.sig", _sign_with_foreign,
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::loose-pubkey-swapped", "LoosePubkeySwapped",
        _note(sig_bypass, crit, "signed by a foreign key whose public key replaces both loose PEM files",
              "the vendor's documented `openssl dgst -verify <pem>` trusts the loose PEM, not the certificate",
              SPEC + " 1.6 (gap in the vendor recipe)"),
        "foreign key signs; <label>.pem and PrimusHSM_Attestation_PublicKey.pem carry its public key",
        "sig.sign+member.set", "<label>.pem", _swap_loose_pubkey_and_sign, invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("signature::pss", "SigPss",
        _note("WRONG_PRIMITIVE", high, "RSASSA-PSS instead of RSASSA-PKCS1-v1_5 by the genuine key",
              "accepting any padding widens the signature surface; the REST format is PKCS#1 v1.5"),
        "genuine attestation key, RSASSA-PSS (SHA-256, MGF1-SHA-256, empty salt)", "sig.sign", "<label>.sig", _sign_pss,
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    for slug, flag, fn, what in (
        ("reserialised-crlf", "XmlCrlf", mutate.to_crlf, "line endings converted to CRLF"),
        ("reserialised-bom", "XmlBom", mutate.add_bom, "UTF-8 byte order mark added"),
        ("reserialised-indent", "XmlSpaces", mutate.tabs_to_spaces, "TABs re-indented as two spaces"),
        ("trailing-lf-stripped", "XmlTrailingLfStripped", lambda x: x[:-1], "one of the two trailing LFs removed"),
    ):
        add(f"signature::{slug}", flag,
            _note(sig_bypass, high, f"XML re-serialised after signing: {what}",
                  "a verifier that canonicalises before checking accepts bytes the HSM never signed"),
            f"{what} after signing", "xml.reencode", "<label>.xml", xml_op(fn), invalid(Reason.SIGNATURE_INVALID),
            resign=False)

    # chain
    add("chain::unknown-root", "ChainUnknownRoot",
        _note("CHAIN", crit, "a complete Primus-shaped chain under another emulated root",
              "anyone can make such a chain; only the pinned root proves a Primus"),
        "leaf, device and root copy from another seed; its attestation key signs", "chain.replace",
        CHAIN_FILE, _foreign_pki, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::other-vendor-root", "ChainOtherVendorRoot",
        _note("CHAIN", crit, "device certificate issued by another vendor's root",
              "a verifier with several vendors' roots in one store would accept cross-vendor evidence"),
        "device cert re-issued by a YubiHSM-style root, which the chain file carries", "cert.reissue",
        CHAIN_FILE + "[1]", _other_vendor_root, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::other-vendor-root-also-trusted", "ChainOtherVendorRootAlsoTrusted",
        _note("CHAIN", crit, "the XML is signed by a key another vendor's PKI certifies (root -> attestation CA -> "
              "key), and the trust store holds that vendor's root beside the Primus root",
              "a verifier that only asks whether the path ends at some trusted anchor, not that the attestation "
              "certificate's issuer is a Primus device certificate (policy 1.3.6.1.4.1.44668.4.1.3), accepts XML "
              "signed by any YubiKey slot key or TPM AK whose root it trusts: made-up attributes claiming a key "
              "was generated on the HSM and never extractable", SPEC + " 1.5"),
        "chain file = a YubiHSM-style root, attestation CA and certified key, which signs; both roots trusted",
        "chain.replace+trust.add", CHAIN_FILE, _other_vendor_key_signs, invalid(Reason.CHAIN_UNTRUSTED),
        resign=False)
    # Only notAfter moves: the golden's notBefore (January 2025) stays, so the validity stays inside the issuer's.
    expired = {"not_after": datetime(2025, 6, 30, tzinfo=UTC)}
    # Far enough ahead that the vector stays not-yet-valid for verifiers that use the wall clock.
    future = {"not_before": datetime(2045, 1, 1, tzinfo=UTC)}
    add("chain::leaf-expired", "LeafExpired",
        _note("CHAIN", high, "attestation certificate expired before the validation time",
              "a retired attestation key could still vouch for keys"),
        "leaf notAfter 2025-06-30", "cert.reissue", CHAIN_FILE + "[0]/validity", _reissue_leaf(**expired),
        invalid(Reason.CERT_EXPIRED), resign=False)
    add("chain::leaf-not-yet-valid", "LeafNotYetValid",
        _note("CHAIN", med, "attestation certificate not valid until after the validation time",
              "post-dated certificates defeat revocation by time"),
        "leaf notBefore 2045-01-01", "cert.reissue", CHAIN_FILE + "[0]/validity", _reissue_leaf(**future),
        invalid(Reason.CERT_NOT_YET_VALID), resign=False)
    add("chain::device-expired", "DeviceExpired",
        _note("CHAIN", high, "device certificate expired before the validation time", "an expired device vouches"),
        "device notAfter 2025-06-30", "cert.reissue", CHAIN_FILE + "[1]/validity", _reissue_device(**expired),
        invalid(Reason.CERT_EXPIRED), resign=False)
    add("chain::device-not-yet-valid", "DeviceNotYetValid",
        _note("CHAIN", med, "device certificate not valid until after the validation time",
              "post-dated certificates defeat revocation by time"),
        "device notBefore 2045-01-01", "cert.reissue", CHAIN_FILE + "[1]/validity", _reissue_device(**future),
        invalid(Reason.CERT_NOT_YET_VALID), resign=False)
    add("chain::device-not-ca", "DeviceNotCa",
        _note("CHAIN", crit, "device certificate has basicConstraints CA:FALSE but issues the leaf",
              "any end-entity key could issue attestation certificates"),
        "device cert re-issued with CA:FALSE", "cert.reissue", CHAIN_FILE + "[1]/basicConstraints",
        _device_not_ca, invalid(Reason.CERT_NOT_CA), resign=False)
    add("chain::device-missing", "DeviceMissing",
        _note("CHAIN", high, "the device certificate is missing from PrimusHSM_Attestation.crt",
              "the leaf cannot be tied to the root"),
        "chain file holds leaf and root only", "cert.remove", CHAIN_FILE + "[1]", _drop_device,
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::device-forged-signature", "DeviceForgedSignature",
        _note("CHAIN", crit, "device certificate names the root as issuer but another key signed it",
              "a verifier matching names only accepts a forged device"),
        "device cert re-signed by an impostor key under the root's name", "cert.reissue",
        CHAIN_FILE + "[1]/signature", _forge_device, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::leaf-ku-no-digital-signature", "LeafKuNoDigitalSignature",
        _note("CHAIN", med, "attestation certificate keyUsage lacks digitalSignature",
              "the key is not certified for signing attestations", "RFC 5280 4.2.1.3"),
        "leaf keyUsage nonRepudiation only", "cert.reissue", CHAIN_FILE + "[0]/keyUsage",
        _reissue_leaf(extensions=(Ext(key_usage("content_commitment"), critical=True),
                                  Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True))),
        invalid(Reason.CERT_KEY_USAGE), resign=False)

    add("chain::leaf-duplicate-extension", "LeafDuplicateExtension",
        _note("CHAIN", med, "the attestation certificate carries its first extension twice, properly signed",
              "RFC 5280 forbids repeated extensions; parsers differ on which one counts, and cryptography "
              "raises on first access", "RFC 5280 4.2"),
        "first extension of the leaf repeated (DER by hand), re-signed by the device key", "ext.duplicate",
        CHAIN_FILE + "[0]/extensions", _duplicate_leaf_extension, invalid(Reason.MALFORMED), resign=False)

    # binding
    add("binding::csr-other-key", "CsrOtherKey",
        _note("KEY_BINDING", crit, "the CSR asks to certify a key other than the attested one",
              "a CA would certify an unattested (possibly exportable) key", CSBR),
        "CSR for another RSA key", "csr.replace", "<label>.csr", _replace_csr_with_other_key,
        invalid(Reason.KEY_MISMATCH), resign=False)
    add("binding::csr-signature-broken", "CsrSignatureBroken",
        _note("KEY_BINDING", high, "the CSR self-signature does not verify", "no proof of possession"),
        "one bit of the CSR signature flipped", "bytes.flip_bit", "<label>.csr", _break_csr_signature,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("binding::csr-missing", "CsrMissing",
        _note("KEY_BINDING", high, "no CSR accompanies the attestation", "nothing binds the attested key to a request"),
        "CSR removed from the bundle", "file.remove", "<label>.csr",
        _remove_csr, invalid(Reason.MISSING_INPUT), resign=False)
    add("binding::second-public-key", "SecondPublicKey",
        _note("ENCODING", crit, "a second <public_key> element with another key",
              "grep-based extraction and first/last-wins parsers disagree on the attested key"),
        "second <public_key> (another RSA key) after the first, re-signed", "xml.duplicate",
        "/private_key/public_key", _second_public_key, invalid(Reason.ATTR_CONFLICT), resign=True)
    add("binding::public-key-wrapped", "PublicKeyWrapped",
        _note("ENCODING", med, "<public_key> base64 wrapped at 64 columns",
              "the documented grep|sed|base64 extraction reads only the first line", SPEC + " 1.3"),
        "base64 wrapped PEM-style, re-signed", "xml.set", "/private_key/public_key",
        _set_public_key(lambda _b, v: mutate.wrap_base64(v)), invalid(Reason.MALFORMED), resign=True)
    add("binding::public-key-whitespace", "PublicKeyWhitespace",
        _note("ENCODING", med, "a space inside the <public_key> base64",
              "lenient base64 decoders accept what the documented pipeline does not"),
        "space inserted after 40 characters, re-signed", "xml.set", "/private_key/public_key",
        _set_public_key(lambda _b, v: v[:40] + b" " + v[40:]), invalid(Reason.MALFORMED), resign=True)
    add("binding::public-key-pkcs1", "PublicKeyPkcs1",
        _note("ENCODING", med, "<public_key> holds a PKCS#1 RSAPublicKey, not a SubjectPublicKeyInfo",
              "cmp against the CSR's SPKI fails; lenient loaders accept both", SPEC + " 1.3",
              "deps_notes: encode_rsa_public_key pitfall"),
        "PKCS#1 RSAPublicKey DER, re-signed", "xml.set", "/private_key/public_key",
        _set_public_key(_pkcs1_instead_of_spki), invalid(Reason.MALFORMED), resign=True)
    add("binding::algorithm-mismatch", "AlgorithmMismatch",
        _note("WRONG_PRIMITIVE", med, "<algorithm> says EC for an RSA public key",
              "verifiers that trust <algorithm> misparse the key"),
        "<algorithm>EC</algorithm> on an RSA key, re-signed", "xml.set", "/private_key/algorithm",
        xml_op(lambda x: mutate.set_element(x, "algorithm", b"EC")), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("binding::algorithm-oid-mismatch", "AlgorithmOidMismatch",
        _note("WRONG_PRIMITIVE", med, "<algorithm_oid> is id-ecPublicKey (1.2.840.10045.2.1) for an RSA public key",
              "the signed XML contradicts the key it attests; verifiers that trust the OID misparse the key",
              SPEC + " 1.3"),
        "<algorithm_oid>1.2.840.10045.2.1</algorithm_oid> on an RSA key, <algorithm> left RSA, re-signed", "xml.set",
        "/private_key/algorithm_oid", xml_op(lambda x: mutate.set_element(x, "algorithm_oid", b"1.2.840.10045.2.1")),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("binding::curve-oid-mismatch", "CurveOidMismatch",
        _note("WRONG_PRIMITIVE", med, "<curve_oid> names P-384 (1.3.132.0.34) for a P-256 public key",
              "the signed XML claims a stronger curve than the key it attests; a policy on the curve is fooled",
              SPEC + " 1.3"),
        "<curve_oid>1.3.132.0.34</curve_oid> on the P-256 key, re-signed", "xml.set", "/private_key/curve_oid",
        xml_op(lambda x: mutate.set_element(x, "curve_oid", b"1.3.132.0.34")), invalid(Reason.ATTR_CONFLICT),
        resign=True, golden="ec-p256")
    add("binding::ec-key-size-mismatch", "EcKeySizeMismatch",
        _note("WRONG_PRIMITIVE", med, "<key_size> 384 on a P-256 key (EC keys may carry <key_size>: a GUESS switch)",
              "the signed XML claims a stronger key than it attests; a policy on <key_size> is fooled",
              SPEC + " 1.3"),
        "<key_size>384</key_size> after <algorithm_oid> on the P-256 key, re-signed", "xml.insert",
        "/private_key/key_size",
        xml_op(lambda x: mutate.insert_after(x, "algorithm_oid", b"\t<key_size>384</key_size>")),
        invalid(Reason.ATTR_CONFLICT), resign=True, golden="ec-p256")

    # attributes
    def attr(slug: str, flag: str, severity: Severity, description: str, effect: str, operator: str, path: str,
             fn: Callable[[bytes], bytes], expected: dict[Profile, Reason], *refs: str) -> None:
        add(f"attr::{slug}", flag, _note("ATTRIBUTE_POLICY", severity, description, effect, *(refs or (CSBR, SPEC))),
            f"{description}, re-signed by the genuine attestation key", operator, path, xml_op(fn), expected,
            resign=True)

    def setting(**values: bytes) -> Callable[[bytes], bytes]:
        def fn(xml: bytes) -> bytes:
            for tag, value in values.items():
                xml = mutate.set_element(xml, tag, value)
            return xml
        return fn

    exportable = "a CA would certify a key that can leave the HSM"
    attr("extractable-true", "AttrExtractableTrue", crit, "extractable=true, never_extractable=false", exportable,
         "xml.set", "/private_key/attributes/extractable",
         setting(extractable=b"true", never_extractable=b"false"), invalid(Reason.ATTR_EXTRACTABLE))
    attr("extractable-conflict", "AttrExtractableConflict", crit, "extractable=true with never_extractable=true",
         "contradictory evidence; a verifier reading one flag decides differently from one reading the other",
         "xml.set", "/private_key/attributes/extractable", setting(extractable=b"true"),
         invalid(Reason.ATTR_CONFLICT))
    attr("never-extractable-false", "AttrNeverExtractableFalse", crit, "never_extractable=false",
         "the key was exportable at some time and may exist outside the HSM", "xml.set",
         "/private_key/attributes/never_extractable", setting(never_extractable=b"false"),
         invalid(Reason.ATTR_NOT_NEVER_EXTRACTABLE))
    attr("creation-imported", "AttrCreationImported", crit, 'creation="imported"',
         "the key was made outside the HSM", "xml.set", "/private_key/@creation",
         lambda x: mutate.set_root_attribute(x, "creation", b"imported"), invalid(Reason.ATTR_NOT_LOCAL))
    attr("creation-missing", "AttrCreationMissing", high, "no creation attribute on <private_key>",
         "the key's origin is unknown", "xml.remove", "/private_key/@creation",
         lambda x: mutate.set_root_attribute(x, "creation", None), invalid(Reason.ATTR_MISSING))
    attr("creation-unknown-value", "AttrCreationUnknown", med, 'creation="derived" (not a documented value)',
         "verifiers that only reject 'imported' accept unknown origins", "xml.set", "/private_key/@creation",
         lambda x: mutate.set_root_attribute(x, "creation", b"derived"), invalid(Reason.MALFORMED))
    attr("extractable-missing", "AttrExtractableMissing", high, "<extractable> removed",
         "a verifier defaulting a missing flag to false accepts an unknown key", "xml.remove",
         "/private_key/attributes/extractable", lambda x: mutate.remove_element(x, "extractable"),
         invalid(Reason.ATTR_MISSING))
    attr("never-extractable-missing", "AttrNeverExtractableMissing", high, "<never_extractable> removed",
         "a verifier defaulting a missing flag accepts an unknown key", "xml.remove",
         "/private_key/attributes/never_extractable", lambda x: mutate.remove_element(x, "never_extractable"),
         invalid(Reason.ATTR_MISSING))
    attr("extractable-duplicate", "AttrExtractableDuplicate", crit,
         "<extractable>false</extractable> followed by <extractable>true</extractable>",
         "first-wins and last-wins parsers disagree on exportability", "xml.duplicate",
         "/private_key/attributes/extractable", lambda x: mutate.duplicate_element(x, "extractable", b"true"),
         invalid(Reason.ATTR_CONFLICT))
    attr("boolean-uppercase", "AttrBooleanUppercase", Severity.LOW, "<extractable>FALSE</extractable>",
         "case-insensitive parsers accept what the format never emits", "xml.set",
         "/private_key/attributes/extractable", setting(extractable=b"FALSE"), invalid(Reason.MALFORMED))
    attr("sensitive-false", "AttrSensitiveFalse", high, "sensitive=false, always_sensitive=false",
         "the key value may be read in plaintext by the HSM's users", "xml.set",
         "/private_key/attributes/sensitive", setting(sensitive=b"false", always_sensitive=b"false"),
         strict_only(Reason.ATTR_NOT_SENSITIVE))
    attr("always-sensitive-false", "AttrAlwaysSensitiveFalse", med, "always_sensitive=false",
         "the key was readable at some time", "xml.set", "/private_key/attributes/always_sensitive",
         setting(always_sensitive=b"false"), strict_only(Reason.ATTR_NOT_ALWAYS_SENSITIVE))

    # encoding and robustness
    robustness = "ROBUSTNESS"
    add("encoding::comment-in-signed-content", "XmlComment",
        _note("ENCODING", med, "an XML comment inside <attributes>, signed",
              "comment-stripping canonicalisers and the documented grep disagree with the signed bytes"),
        "<!-- extractable: true --> line after <extractable>, re-signed", "xml.insert",
        "/private_key/attributes", xml_op(lambda x: mutate.insert_after(x, "extractable",
                                                                         b"\t\t<!-- extractable: true -->")),
        invalid(Reason.MALFORMED), resign=True)
    add("encoding::processing-instruction", "XmlProcessingInstruction",
        _note("ENCODING", med, "a processing instruction inside the signed XML",
              "parsers differ on where PIs may stand"),
        "<?hsm extractable=\"false\"?> line after <label>, re-signed", "xml.insert", "/private_key",
        xml_op(lambda x: mutate.insert_after(x, "label", b"\t<?hsm extractable=\"false\"?>")),
        invalid(Reason.MALFORMED), resign=True)
    add("encoding::namespace-shadow", "XmlNamespaceShadow",
        _note("ENCODING", high, "<extractable> replaced by a namespaced <x:extractable>",
              "local-name matching reads a flag that is not the format's"),
        "<x:extractable xmlns:x=\"urn:hsmsim:shadow\">false</x:extractable>, re-signed", "xml.replace",
        "/private_key/attributes/extractable",
        xml_op(lambda x: mutate.replace_once(
            x, b"<extractable>true</extractable>" if b"<extractable>true" in x else b"<extractable>false</extractable>",
            b'<x:extractable xmlns:x="urn:hsmsim:shadow">false</x:extractable>')),
        invalid(Reason.MALFORMED), resign=True)
    add("encoding::doctype-external-entity", "XmlExternalEntity",
        _note(robustness, crit, "DOCTYPE declaring an external entity used in <label> (XXE)",
              "file disclosure or SSRF in the verifier", "CWE-611"),
        "SYSTEM entity file:///etc/hostname referenced in <label>, re-signed", "xml.insert",
        "/", xml_op(lambda x: mutate.replace_once(
            mutate.replace_once(x, b"?>\n", b'?>\n<!DOCTYPE private_key [<!ENTITY ext SYSTEM "file:///etc/hostname">]>\n'),
            b"<label>", b"<label>&ext;")),
        invalid(Reason.MALFORMED), resign=True)
    lol = b"".join(b'<!ENTITY l%d "' % i + (b"&l%d;" % (i - 1)) * 10 + b'">' for i in range(1, 10))
    add("encoding::billion-laughs", "XmlBillionLaughs",
        _note(robustness, crit, "nested internal entities expanding to 10^9 characters",
              "memory exhaustion in the verifier", "CWE-776"),
        "nine levels of ten-fold entity expansion in <label>, re-signed", "xml.insert", "/",
        xml_op(lambda x: mutate.replace_once(
            mutate.replace_once(x, b"?>\n", b'?>\n<!DOCTYPE private_key [<!ENTITY l0 "lol">' + lol + b"]>\n"),
            b"<label>", b"<label>&l9;")),
        invalid(Reason.MALFORMED), resign=True)
    add("encoding::huge-element", "XmlHugeElement",
        _note(robustness, high, "a 50 MB <label>", "unbounded reads exhaust memory or time"),
        "<label> of 50,000,000 characters, re-signed", "xml.set", "/private_key/label",
        xml_op(lambda x: mutate.set_element(x, "label", b"A" * 1_000_000, repeat=50)), invalid(Reason.LIMIT_EXCEEDED),
        resign=True)
    add("encoding::not-utf8", "XmlNotUtf8",
        _note("ENCODING", Severity.LOW, "a Latin-1 byte in a document declared UTF-8",
              "decoders that guess the encoding read a different label"),
        "0xE9 byte inside <label>, re-signed", "xml.set", "/private_key/label",
        xml_op(lambda x: mutate.replace_once(x, b"</label>", b"\xe9</label>")), invalid(Reason.MALFORMED),
        resign=True)
    add("encoding::zip-slip", "ZipSlip",
        _note(robustness, crit, "zip member named ../<label>.xml", "extraction writes outside the target directory",
              "CWE-22"),
        "the XML member stored as ../<label>.xml", "zip.rename", "<label>.xml", _zip_slip,
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::zip-bomb", "ZipBomb",
        _note(robustness, high, "a zip member that inflates 1000-fold to 64 MiB",
              "unbounded extraction exhausts memory or disk", "CWE-409"),
        "extra member padding.bin: 64 MiB of zeros", "zip.add", "padding.bin",
        _zip_bomb, invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("encoding::zip-trailing-bytes", "ZipTrailingBytes",
        _note("ENCODING", Severity.LOW, "16 bytes after the zip's end-of-central-directory record",
              "archive parsers disagree on where the archive ends"),
        "16 zero bytes appended to the zip", "bytes.extend", "<label>_attestation.zip", _zip_trailing,
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::bzip2-member", "ZipBzip2Member",
        _note(robustness, high, "the XML member compressed with bzip2 (method 12), which TSB never writes",
              "a reader that inflates whatever method it meets before bounding it is a bomb target: 8 KB of "
              "bzip2 inflate to 1 GiB", "CWE-409", "PKWARE APPNOTE 4.4.5"),
        "genuine XML stored bzip2-compressed; every other member deflated", "zip.method", "<label>.xml",
        _xml_member_as(_BZIP2, bz2.compress), invalid(Reason.UNSUPPORTED), resign=False)
    add("encoding::lzma-member-corrupt", "ZipLzmaMemberCorrupt",
        _note(robustness, med, "the XML member as a corrupt LZMA stream (method 14)",
              "a reader that hands the member to its LZMA decoder crashes instead of rejecting",
              "PKWARE APPNOTE 4.4.5"),
        "XML member: LZMA header, then 0xFF bytes", "zip.method", "<label>.xml",
        _xml_member_as(_LZMA, _corrupt_lzma), invalid(Reason.UNSUPPORTED), resign=False)
    add("encoding::declared-size-mismatch", "ZipDeclaredSizeMismatch",
        _note("ENCODING", med, "the central directory declares the XML member one byte longer than its data "
              "(CRC and data descriptor right)",
              "readers disagree on the member: some trust the header, Python's zipfile returns the data"),
        "central directory size of <label>.xml + 1", "zip.patch", "<label>.xml", _xml_size_declared_one_more,
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::case-duplicate-member", "ZipCaseDuplicateMember",
        _note(robustness, high, "a second XML member whose name differs from <label>.xml only in case, "
              "claiming extractable=true",
              "extracted on a case-insensitive file system (macOS, Windows) one replaces the other; "
              "the verifier and the extracted files disagree", "CWE-178"),
        "<LABEL>.XML added after the genuine XML", "zip.add", "<LABEL>.XML", _case_duplicate_xml,
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::zip-many-members", "ZipManyMembers",
        _note(robustness, med, "1,024 empty members after the genuine ones (limit 32)",
              "a reader that parses the whole central directory before counting spends time and memory on "
              "it (1.3 million entries: 12 s, 584 MB)", "CWE-770"),
        "members p0000 .. p1023, empty", "zip.add", "p0000", _zip_with([(f"p{i:04}", b"") for i in range(1024)]),
        invalid(Reason.LIMIT_EXCEEDED), resign=False)

    # acceptable and valid variants
    add("variant::unknown-element", "UnknownElement",
        _note("EXTENSIBILITY", Severity.INFO, "an element the format does not define, signed",
              "structural verifiers tolerate it; strict ones reject unknown content"),
        "<firmware_hint>2.8.21</firmware_hint> after <algorithm_oid>, re-signed", "xml.insert", "/private_key",
        xml_op(lambda x: mutate.insert_after(x, "algorithm_oid", b"\t<firmware_hint>2.8.21</firmware_hint>")),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    add("variant::attributes-reordered", "AttributesReordered",
        _note("ENCODING", Severity.INFO, "<never_extractable> before <extractable>, signed",
              "order-sensitive parsers and the documented layout disagree; the flags themselves are unchanged"),
        "<extractable> and <never_extractable> lines exchanged, re-signed", "xml.reorder",
        "/private_key/attributes", xml_op(lambda x: mutate.swap_elements(x, "extractable", "never_extractable")),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    add("variant::key-use-count", "KeyUseCountPresent",
        _note("BASIC", Severity.INFO, "<key_use_count> present, as in the real capture",
              "none: a correct verifier accepts it", SPEC + " 1.3"),
        "<key_use_count>10</key_use_count> after <attest_time>, re-signed", "xml.insert", "/private_key",
        xml_op(lambda x: mutate.insert_after(x, "attest_time", b"\t<key_use_count>10</key_use_count>")),
        valid(), resign=True)
    add("xml::unknown-attribute", "XmlUnknownAttribute",
        _note("BASIC", Severity.INFO, 'an XML attribute lang="en" on <label>, which TSB never writes',
              "structural verifiers ignore it; a strict verifier rejects unknown content", SPEC + " 1.3"),
        '<label lang="en">, re-signed', "xml.set", "/private_key/label/@lang",
        xml_op(lambda x: x.replace(b"<label>", b'<label lang="en">', 1)), strict_only(Reason.UNEXPECTED_CONTENT),
        resign=True)
    add("xml::attribute-flood", "XmlAttributeFlood",
        _note("BASIC", Severity.LOW, "<label> carries 300 XML attributes",
              "unbounded attribute counts let a small document cost a verifier unbounded work", SPEC + " 1.3"),
        "300 attributes a0..a299 on <label>, re-signed", "xml.set", "/private_key/label/@*",
        xml_op(lambda x: x.replace(b"<label>", b"<label" + b"".join(b' a%d="x"' % i for i in range(300)) + b">", 1)),
        invalid(Reason.LIMIT_EXCEEDED), resign=True)
    add("variant::storage-external", "StorageExternal",
        _note("BASIC", Severity.INFO, 'storage="external" with a <uuid>, as TSB writes for external-store keys',
              "none: a correct verifier accepts it", SPEC + " 1.3"),
        'storage="external" and <uuid> added, re-signed', "xml.set", "/private_key/@storage", _storage_external,
        valid(), resign=True)
    add("variant::label-mentions-public-key", "LabelMentionsPublicKey",
        _note("BASIC", Severity.INFO, "a key labelled <label>_public_key, so a second line of the XML contains "
              "'public_key'",
              "none: a correct verifier accepts it; the vendor's documented `grep public_key | sed` step finds two "
              "lines and fails", SPEC + " 1.3 (the grep/sed step)"),
        "the same key attested under the label <label>_public_key (file names, README and CSR follow it)",
        "key.relabel", "/private_key/label", _relabel("_public_key"), valid(), resign=True)
    add("variant::ska-policy", "SkaPolicy",
        _note("BASIC", Severity.INFO, "an SKA key: a <policy> block whose approvals are "
              '<approval type="public_key" name="...">, as primus.md documents',
              "none: a correct verifier accepts it; the vendor's documented `grep public_key | sed` step fails on "
              "every SKA-policy key (the spec's caveat)", SPEC + " 1.3 (policy; the grep/sed caveat)"),
        "<policy> (key_status, rule_use/block/unblock/modify, one approver each) after <attributes>, re-signed",
        "xml.insert", "/private_key/policy", _add_ska_policy, valid(), resign=True)
    add("variant::chain-without-root-copy", "ChainWithoutRootCopy",
        _note("BASIC", Severity.INFO, "PrimusHSM_Attestation.crt holds leaf and device only, as in the real capture",
              "none: a correct verifier accepts it", SPEC + " 1.5"),
        "root copy dropped from the chain file", "cert.remove", CHAIN_FILE + "[2]", _strip_root_copy,
        valid(), resign=False)
    add("variant::extra-zip-member", "ZipExtraMember",
        _note("EXTENSIBILITY", Severity.LOW, "a member TSB does not write (notes.txt)",
              "structural verifiers ignore it; strict ones reject an archive holding more than the vendor's members"),
        "notes.txt added to the zip", "zip.add", "notes.txt",
        _zip_with([("notes.txt", b"checked by the key custodian\n")]), strict_only(Reason.UNEXPECTED_CONTENT),
        resign=False)
    add("variant::stored-members", "ZipStoredMembers",
        _note("ENCODING", Severity.INFO, "the public-key members stored, not deflated, as a zip tool may write them",
              "structural verifiers read them; strict ones reject an archive java.util.zip in TSB did not write"),
        "<label>.pem and PrimusHSM_Attestation_PublicKey.pem stored (method 0)", "zip.method", "<label>.pem",
        _stored_public_keys, strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    return tuple(m)


STRICT_KEY_POLICY_NOTE = FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                  "valid evidence; the strict profile rejects it with KEY_POLICY", (CSBR,))


def notes() -> dict[str, FlagNote]:
    """Every flag the Primus vectors use, with its definition."""
    return flag_notes({**PROVENANCE_NOTES, "StrictKeyPolicy": STRICT_KEY_POLICY_NOTE}, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The Primus vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = PrimusKit.build(seed)
    anchors = (kit.identity.root,)
    cases = []
    for spec in GOLDEN_SPECS:
        bench = Workbench.open(kit, spec)
        weak = spec in ("rsa-2048", "ed25519", "aes-256")
        expected = strict_only(Reason.KEY_POLICY) if weak else valid()
        cases.append(VectorCase(
            id=f"primus::golden::{spec}", comment=f"unmutated attestation of a generated {spec} key",
            flags=("Golden", *(("StrictKeyPolicy",) if weak else ())), expected=expected,
            evidence=bench.evidence(), anchors=anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE),
        ))
    for mutation in mutations():
        bench = Workbench.open(kit, mutation.golden)
        mutation.apply(bench)
        if mutation.resign:
            bench.resign()
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment,
            flags=(mutation.flag, signing.value, *mutation.extra_flags), expected=mutation.expected,
            evidence=bench.evidence(), anchors=bench.anchors or anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing, golden=f"primus::golden::{mutation.golden}",
                                  operator=mutation.operator, path=mutation.path),
        ))
    return cases
