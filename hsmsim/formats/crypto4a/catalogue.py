"""The ``crypto4a`` vector set: goldens and one-defect mutations.

The world (:class:`Kit`) is derived from the seed: a soft key store with one key per golden spec and another
key, an emulated QASM with its AKI and two assertion authorities (HSS parameter set ``H5``), and a foreign AKI
(another seed's). A defect edits a :class:`Bench` (the claims, the signature blocks, the attached certificates,
the DER) which is then rendered: ``Resigned`` when the genuine authorities sign the edited claims, ``Stale`` when
the signatures are the golden's (or the edit is outside what is signed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ObjectIdentifier

from hsmsim.device import DEVICE_EPOCH, Device
from hsmsim.encoding import cert_pem, der_children, der_content, spki_der
from hsmsim.formats.crypto4a.generate import (
    DEFAULT_FIRMWARE,
    attached,
    device_claims,
    files,
    key_claims,
    key_uuid,
    signature_blocks,
)
from hsmsim.formats.crypto4a.layout import FORMAT, MESSAGE_SUFFIX
from hsmsim.formats.crypto4a.message import ARC, Claim, SignatureBlock, Value, claim_oid, encode_message, encode_tbs
from hsmsim.formats.crypto4a.pki import HSS_CHOICES, Crypto4aPki, crypto4a_pki, with_spki
from hsmsim.keystore.base import KeySpec, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, second_csr_note, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, Ext, build_csr, name, reissue
from hsmsim.verdict import Profile, Reason

GOLDEN_SPECS = ("ec-p256", "rsa-3072", "ec-p384")
ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
VALIDATION_TIME = ATTEST_TIME + timedelta(days=1)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
PAGE = "pkic/remote-key-attestation validation/crypto4a-qasm.md"
RFC8554 = "RFC 8554 6.3"


@dataclass(frozen=True)
class Kit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    device: Device
    pki: Crypto4aPki
    foreign: Crypto4aPki
    keys: dict[str, StoredKey]
    other: StoredKey
    csrs: dict[str, bytes]

    @classmethod
    def build(cls, seed: str) -> Kit:
        """Seed -> Faker names, the emulated QASM, its AKI, the keys and their CSRs."""
        fake = seeded_faker(seed, ["en_US"], "crypto4a")
        device = Device(format=FORMAT, serial=fake.numerify("18######"), seed=seed, firmware=DEFAULT_FIRMWARE,
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        store = SoftKeyStore(seed=seed)
        keys = {spec: store.generate(KeySpec.parse(spec), f"{fake.word()}-{spec}",
                                     created=KEYS_CREATED + timedelta(hours=i))
                for i, spec in enumerate(GOLDEN_SPECS)}
        other = store.generate(KeySpec.parse("ec-p256"), f"other-{fake.word()}", created=KEYS_CREATED)
        csrs = {spec: build_csr(name(("CN", key.label, UTF8)), store.signer(key)).public_bytes(
            serialization.Encoding.PEM) for spec, key in keys.items()}
        pki = crypto4a_pki(seed, device.serial, device.attestation_created, HSS_CHOICES["H5"])
        foreign = crypto4a_pki(f"{seed}/foreign", device.serial, device.attestation_created, HSS_CHOICES["H5"])
        return cls(seed, device, pki, foreign, keys, other, csrs)

    @functools.cached_property
    def root_pem(self) -> bytes:
        """The emulated root every message comes with."""
        return cert_pem(self.pki.root)


@functools.lru_cache(maxsize=2)
def seeded_kit(seed: str) -> Kit:
    """:meth:`Kit.build` of ``seed``, once per process."""
    return Kit.build(seed)


@dataclass
class Bench:
    """A golden message opened up: its claims, its signers and what is done to the DER."""

    kit: Kit
    spec: str
    claims: list[Claim]
    golden_claims: tuple[Claim, ...]
    pki: Crypto4aPki
    version: int = 1
    drop: tuple[str, ...] = ()
    """Signature blocks left out: ``ec``, ``hss``."""
    corrupt: tuple[str, ...] = ()
    """Signature blocks whose signature gets one bit flipped: ``ec``, ``hss``."""
    attached: list[bytes] | None = None
    post: Callable[[bytes], bytes] | None = None
    extra_files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def open(cls, kit: Kit, spec: str) -> Bench:
        """The golden message of ``spec``'s key at :data:`ATTEST_TIME`."""
        key = kit.keys[spec]
        claims = device_claims(kit.seed, kit.device.serial, ATTEST_TIME, DEFAULT_FIRMWARE) + key_claims(
            key_uuid(kit.seed, key), key)
        return cls(kit, spec, list(claims), tuple(claims), kit.pki)

    @property
    def uuid(self) -> bytes:
        """The attested key's UUID."""
        return key_uuid(self.kit.seed, self.kit.keys[self.spec])

    def render(self, resign: bool) -> Evidence:
        """The message, CSR and root; the signatures cover the edited claims when ``resign``, the golden's
        otherwise."""
        tbs = encode_tbs(self.claims)
        signed = tbs if resign else encode_tbs(self.golden_claims)
        blocks = dict(zip(("ec", "hss"), signature_blocks(self.pki, signed), strict=True))
        for kind in self.corrupt:
            block = blocks[kind]
            flipped = bytearray(block.signature)
            flipped[len(flipped) // 2] ^= 0x01
            blocks[kind] = replace(block, signature=bytes(flipped))
        kept: list[SignatureBlock] = [b for kind, b in blocks.items() if kind not in self.drop]
        der = encode_message(tbs, kept, attached(self.pki) if self.attached is None else self.attached,
                             version=self.version)
        if self.post is not None:
            der = self.post(der)
        key = self.kit.keys[self.spec]
        out = files(key.label, der, self.kit.csrs[self.spec], self.kit.root_pem)
        out.update(self.extra_files)
        return Evidence(FORMAT, out, f"{key.label}{MESSAGE_SUFFIX}")


Op = Callable[[Bench], None]


def _drop_claim(claim_name: str) -> Op:
    oid = claim_oid(claim_name)

    def apply(bench: Bench) -> None:
        bench.claims = [c for c in bench.claims if c.oid != oid]
    return apply


def _set(claim_name: str, value: Value) -> Op:
    oid = claim_oid(claim_name)

    def apply(bench: Bench) -> None:
        bench.claims = [replace(c, value=value) if c.oid == oid else c for c in bench.claims]
    return apply


def _repeat(claim_name: str) -> Op:
    oid = claim_oid(claim_name)

    def apply(bench: Bench) -> None:
        bench.claims = [x for c in bench.claims for x in ((c, c) if c.oid == oid else (c,))]
    return apply


def _add(item: Callable[[Bench], Claim]) -> Op:
    def apply(bench: Bench) -> None:
        bench.claims.append(item(bench))
    return apply


def _set_field(**changes: object) -> Op:
    def apply(bench: Bench) -> None:
        for attribute, value in changes.items():
            setattr(bench, attribute, value)
    return apply


def _other_spki(bench: Bench) -> None:
    other = bench.kit.other.public_key
    assert other is not None
    _set("key-spki", Value.octets(spki_der(other)))(bench)


def _foreign(bench: Bench) -> None:
    bench.pki = bench.kit.foreign


def _ec_authority(edit: Callable[[Crypto4aPki], x509.Certificate]) -> Op:
    """The EC authority's certificate replaced by ``edit(pki)`` (a re-issue by the genuine sub-CA)."""
    def apply(bench: Bench) -> None:
        pki = bench.pki
        cert = edit(pki)
        bench.pki = replace(pki, ec=replace(pki.ec, certificate=cert, chain=(cert, pki.sca)))
    return apply


def _unknown_critical(pki: Crypto4aPki) -> x509.Certificate:
    cert = pki.ec.certificate
    extra = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.39901.99.1"), b"\x05\x00")
    return reissue(cert, pki.sca_key, extensions=(*[_ext(e) for e in cert.extensions], Ext(extra, critical=True)))


def _no_eku(pki: Crypto4aPki) -> x509.Certificate:
    cert = pki.ec.certificate
    return reissue(cert, pki.sca_key, extensions=tuple(
        _ext(e) for e in cert.extensions if not isinstance(e.value, x509.ExtendedKeyUsage)))


def _ext(extension: x509.Extension[x509.ExtensionType]) -> Ext:
    return Ext(extension.value, extension.critical)


def _hss_cert_by_foreign(bench: Bench) -> None:
    """The HSS authority's certificate (same key, same names) signed by the foreign sub-CA's key."""
    pki = bench.pki
    cert = x509.load_der_x509_certificate(pki.hss.certificate)
    fields_spki = _spki_tlv(pki.hss.certificate)
    forged = with_spki(cert, fields_spki, bench.kit.foreign.sca_key)
    bench.pki = replace(pki, hss=replace(pki.hss, certificate=forged.public_bytes(serialization.Encoding.DER)))


def _spki_tlv(cert_der: bytes) -> bytes:
    tbs = der_children(der_content(cert_der))[0]
    return der_children(der_content(tbs))[6]


def _early_time(bench: Bench) -> None:
    before = bench.pki.ec.certificate.not_valid_before_utc - timedelta(days=30)
    _set("attestation-time", Value.time(before))(bench)


def _trailing(bench: Bench) -> None:
    bench.post = lambda der: der + b"\x00\x00"


def _no_attached(bench: Bench) -> None:
    bench.attached = []


def _second_csr(bench: Bench) -> None:
    bench.extra_files["other.csr"] = bench.kit.csrs["rsa-3072" if bench.spec != "rsa-3072" else "ec-p256"]


def mutations() -> list[Mutation]:
    """Every one-defect vector of the set."""
    ec, rsa = "ec-p256", "rsa-3072"

    def m(ident: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Op,
          expected: dict[Profile, Reason], resign: bool, golden: str = ec) -> Mutation:
        return Mutation(f"crypto4a::{ident}", flag, note, comment, operator, path, apply, expected, resign, golden)

    sig = FlagNote("SIGNATURE", Severity.CRITICAL, "an assertion authority's signature does not verify",
                   "a verifier that accepts it trusts claims nobody signed", (PAGE,))
    hss = FlagNote("SIGNATURE", Severity.CRITICAL, "the HSS/LMS signature alone is broken (the ECDSA one is good)",
                   "a verifier that checks only the ECDSA signature misses it", (RFC8554, PAGE))
    signer = FlagNote("SIGNER", Severity.HIGH, "one of the QASM's two assertion authorities did not sign",
                      "the message loses its post-quantum (or classical) signature", (PAGE,))
    chain = FlagNote("CHAIN", Severity.CRITICAL, "the authorities chain to another root than the trusted one",
                     "anyone with a CA can make attestations", (PAGE,))
    incomplete = FlagNote("CHAIN", Severity.MEDIUM, "the sub-CA is not attached",
                          "the authorities cannot be chained to the root", (PAGE,))
    hss_chain = FlagNote("CHAIN", Severity.CRITICAL, "the HSS authority certificate is signed by another CA's key",
                         "a verifier that checks the HSS certificate by name only trusts a forged HSS key", (PAGE,))
    claim_missing = FlagNote("KEY_ATTRIBUTES", Severity.CRITICAL, "a key protection claim is absent",
                             "the key may have been generated outside or extracted", (PAGE,))
    key_mismatch = FlagNote("BINDING", Severity.CRITICAL, "key-spki is not the CSR's key",
                            "the attestation vouches for another key than the one to be certified", (PAGE,))
    second_csr = second_csr_note("BINDING", "the attested key", (PAGE,))
    time = FlagNote("TIME", Severity.MEDIUM, "the attestation time is before the authorities' certificates",
                    "a message dated outside its signer's validity", (PAGE,))
    version = FlagNote("STRUCTURE", Severity.MEDIUM, "message version 2, a structure this verifier does not know",
                       "what a later version adds may change what the claims mean", (PAGE,))
    unknown_claim = FlagNote("PROFILE", Severity.LOW, "an unknown claim under 1.3.6.1.4.1.39901.6",
                             "structural ignores it; strict refuses what it cannot interpret", (PAGE,))
    critical = FlagNote("CHAIN", Severity.HIGH, "the EC authority certificate has an unknown critical extension",
                        "RFC 5280 requires rejecting it", ("RFC 5280 4.2",))
    eku = FlagNote("CHAIN", Severity.HIGH, "the EC authority certificate lacks EKU 1.3.6.1.4.1.39901.4.1.1",
                   "a key certified for something else signs attestations", (PAGE,))
    object_class = FlagNote("KEY_ATTRIBUTES", Severity.HIGH, "the object is a public key, not a private key",
                            "a public key's presence on the HSM says nothing about its private key", (PAGE,))
    duplicate = FlagNote("STRUCTURE", Severity.MEDIUM, "a claim is repeated", "ambiguous evidence", (PAGE,))
    production = FlagNote("PROFILE", Severity.LOW, "no qasm-certified-production claim",
                          "structural accepts; strict wants a certified production QASM", (PAGE,))
    malformed = FlagNote("STRUCTURE", Severity.MEDIUM, "bytes after the DER message", "not DER", ("X.690",))
    return [
        m("signature::ec-broken", "EcSignatureBroken", sig, "one bit of the ECDSA signature flipped",
          "flip_bit", "signatures[0].signature", _set_field(corrupt=("ec",)), invalid(Reason.SIGNATURE_INVALID),
          False),
        m("signature::hss-broken", "HssSignatureBroken", hss, "one bit of the HSS signature flipped",
          "flip_bit", "signatures[1].signature", _set_field(corrupt=("hss",)), invalid(Reason.SIGNATURE_INVALID),
          False),
        m("signature::hss-broken-rsa", "HssSignatureBroken", hss, "one bit of the HSS signature flipped (RSA key)",
          "flip_bit", "signatures[1].signature", _set_field(corrupt=("hss",)), invalid(Reason.SIGNATURE_INVALID),
          False, rsa),
        m("signature::claims-edited", "EcSignatureBroken", sig,
          "key-does-not-have-capability removed after both authorities signed", "drop_claim",
          "tbs.claims[key-does-not-have-capability]", _drop_claim("key-does-not-have-capability"),
          invalid(Reason.SIGNATURE_INVALID), False),
        m("signer::hss-missing", "SignerMissing", signer, "the HSS signature block left out", "drop",
          "signatures[1]", _set_field(drop=("hss",)), invalid(Reason.MISSING_INPUT), False),
        m("signer::ec-missing", "SignerMissing", signer, "the ECDSA signature block left out", "drop",
          "signatures[0]", _set_field(drop=("ec",)), invalid(Reason.MISSING_INPUT), False),
        m("chain::foreign-aki", "WrongChain", chain, "both authorities certified under another seed's C4A_RCA",
          "replace_pki", "signatures[*].signer.certificate", _foreign, invalid(Reason.CHAIN_UNTRUSTED), False),
        m("chain::sub-ca-not-attached", "ChainIncomplete", incomplete, "no attached certificates", "drop",
          "attached", _no_attached, invalid(Reason.CHAIN_INCOMPLETE), False),
        m("chain::hss-certificate-forged", "HssCertificateForged", hss_chain,
          "the HSS authority certificate re-signed by another sub-CA's key under the genuine sub-CA's name",
          "resign", "signatures[1].signer.certificate", _hss_cert_by_foreign,
          invalid(Reason.CERT_SIGNATURE_INVALID), True),
        m("attr::never-extracted-missing", "NeverExtractedMissing", claim_missing, "no key-never-extracted claim",
          "drop_claim", "tbs.claims[key-never-extracted]", _drop_claim("key-never-extracted"),
          invalid(Reason.ATTR_MISSING), True),
        m("attr::hardware-generated-missing", "HardwareGeneratedMissing", claim_missing,
          "no key-is-hardware-generated claim", "drop_claim", "tbs.claims[key-is-hardware-generated]",
          _drop_claim("key-is-hardware-generated"), invalid(Reason.ATTR_MISSING), True, rsa),
        m("attr::confined-missing", "ConfinedMissing", claim_missing, "no key-is-confined claim", "drop_claim",
          "tbs.claims[key-is-confined]", _drop_claim("key-is-confined"), invalid(Reason.ATTR_MISSING), True),
        m("binding::key-spki-not-csr", "KeyMismatch", key_mismatch, "key-spki holds another key than the CSR's",
          "replace_value", "tbs.claims[key-spki]", _other_spki, invalid(Reason.KEY_MISMATCH), True),
        m("binding::second-csr", "SecondCsr", second_csr, "other.csr for the RSA-3072 key added", "add_file",
          "other.csr", _second_csr, invalid(Reason.MALFORMED), False),
        m("time::before-authority", "AttestationTimeOutsideValidity", time,
          "attestation-time 30 days before the EC authority's notBefore", "replace_value",
          "tbs.claims[attestation-time]", _early_time, invalid(Reason.CERT_NOT_YET_VALID), True),
        m("structure::version-2", "UnknownVersion", version, "message version 2", "replace_value", "version",
          _set_field(version=2), invalid(Reason.UNSUPPORTED), False),
        m("profile::unknown-claim", "UnknownClaim", unknown_claim, "a claim 1.3.6.1.4.1.39901.6.3.0 about the key",
          "add_claim", "tbs.claims[+]", _add(lambda b: Claim(f"{ARC}.3.0", b.uuid)),
          strict_only(Reason.UNEXPECTED_CONTENT), True),
        m("chain::authority-unknown-critical", "AuthorityUnknownCritical", critical,
          "the EC authority re-issued with an unknown critical extension", "add_extension",
          "signatures[0].signer.certificate.extensions[+]", _ec_authority(_unknown_critical),
          invalid(Reason.CERT_UNKNOWN_CRITICAL), True),
        m("chain::authority-eku-missing", "AuthorityEkuMissing", eku, "the EC authority re-issued without its EKU",
          "drop_extension", "signatures[0].signer.certificate.extensions[EKU]", _ec_authority(_no_eku),
          invalid(Reason.CERT_EKU), True),
        m("attr::object-class-public-key", "NotPrivateKey", object_class, "object-class 2 instead of private-key (4)",
          "replace_value", "tbs.claims[object-class]", _set("object-class", Value.number(2)),
          invalid(Reason.KEY_POLICY), True),
        m("attr::never-extracted-repeated", "ClaimRepeated", duplicate, "key-never-extracted twice", "repeat",
          "tbs.claims[key-never-extracted]", _repeat("key-never-extracted"), invalid(Reason.ATTR_CONFLICT), True),
        m("profile::certified-production-missing", "CertifiedProductionMissing", production,
          "no qasm-certified-production claim", "drop_claim", "tbs.claims[qasm-certified-production]",
          _drop_claim("qasm-certified-production"), strict_only(Reason.ATTR_MISSING), True),
        m("structure::trailing-bytes", "TrailingBytes", malformed, "two zero bytes after the message", "append", "$",
          _trailing, invalid(Reason.MALFORMED), False),
    ]


def notes() -> dict[str, FlagNote]:
    """Every flag the Crypto4A vectors use."""
    return flag_notes(PROVENANCE_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """Goldens (one per :data:`GOLDEN_SPECS`) then every mutation."""
    kit = seeded_kit(seed)
    anchors = (kit.pki.root,)
    cases = [VectorCase(
        id=f"crypto4a::golden::{spec}", comment=f"unmutated QASM attestation message of a generated {spec} key",
        flags=("Golden",), expected=valid(), evidence=Bench.open(kit, spec).render(resign=True), anchors=anchors,
        validation_time=VALIDATION_TIME, provenance=Provenance(seed=seed, signing=Signing.GENUINE))
        for spec in GOLDEN_SPECS]
    for mutation in mutations():
        bench = Bench.open(kit, mutation.golden)
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.render(mutation.resign), anchors=anchors,
            validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing, golden=f"crypto4a::golden::{mutation.golden}",
                                  operator=mutation.operator, path=mutation.path)))
    return cases

