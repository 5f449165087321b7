"""The Yubico vector sets: golden evidence and one-defect mutations for ``yubico-piv`` and ``yubihsm2``.

Each :class:`Mutation` names one defect (flag and note), the operator and path it touches, whether the
genuine device key re-signed after the change (``Resigned``) or the change sits around the signed
certificate (``Stale``), and the reason each profile must return. Everything comes from the seed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH
from hsmsim.encoding import cert_pem, der_integer, der_tlv, indented_json
from hsmsim.formats.yubico.extensions import (
    HSM_LABEL,
    HSM_ORIGIN,
    HSM_SERIAL,
    PIV_FIRMWARE,
    PIV_POLICY,
    PIV_SERIAL,
    HsmKeyExtensions,
    PinPolicy,
    TouchPolicy,
    capability_mask,
    hsm_key_extensions,
)
from hsmsim.formats.yubico.hsm2 import HsmBundle, assemble_hsm, hsm_csr, key_certificate, key_fields
from hsmsim.formats.yubico.layout import HSM_FORMAT, LEGACY, NEW, PIV_FORMAT, REQUEST_SUFFIX
from hsmsim.formats.yubico.piv import AcmeChallenge, PivBundle, assemble, att_obj, step_signature
from hsmsim.formats.yubico.pki import HsmPki, YubiKeyDevice, cn, f9_key, hsm_pki, piv_pki
from hsmsim.keystore.base import KeyPolicy, KeySpec, PrivateKey, StoredKey
from hsmsim.keystore.soft import SoftKeyStore, spec_of
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, second_csr_note, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, build_csr, key_usage, name, reissue
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason

VALIDATION_TIME = datetime(2026, 1, 15, tzinfo=UTC)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=30)
SPEC = "shared/specs/other_formats.md 2"
ROUND2 = "shared/specs/round2_formats.md 2.3"
YUBICO_DOC = "docs.yubico.com PIV attestation OID arc"
CSBR = "CA/B Forum Code Signing BR 6.2.7.4"
GO_YKPIV = "go-ykpiv #30"
STEP = "smallstep/certificates acme/challenge.go doStepAttestationFormat"

PIV_GOLDENS: tuple[tuple[str, str, str, bool], ...] = (
    # (generation, spec, profile, fips)
    (LEGACY, "rsa-2048", "ykman", False), (LEGACY, "ec-p256", "ykman", False), (LEGACY, "ec-p384", "ykman", False),
    (NEW, "rsa-3072", "ykman", False), (NEW, "rsa-4096", "ykman", False), (NEW, "ec-p256", "ykman", False),
    (NEW, "ed25519", "ykman", False),
    (LEGACY, "ec-p256", "sectigo", True), (NEW, "rsa-3072", "sectigo", True),
    (LEGACY, "ec-p256", "step", False), (NEW, "rsa-3072", "step", False),
)
HSM_GOLDENS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC,))


def _adder(m: list[Mutation], fmt: str, default_golden: str) -> Callable[..., None]:
    """``add(id, flag, note, comment, operator, path, apply, expected, *, resign, golden=default_golden)``."""
    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Callable[[Any], None],
            expected: dict[Profile, Reason], *, resign: bool, golden: str = default_golden) -> None:
        m.append(Mutation(f"{fmt}::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))
    return add


def _lookalike(seed: str, role: str, root: x509.Certificate) -> tuple[x509.Certificate, ...]:
    """``root`` re-issued with an impostor key of the root key's type: same subject, no SKI."""
    key = _impostor(seed, role, root.public_key())
    return (reissue(root, key, public_key=key.public_key(), extensions=tuple(
        Ext(e.value, e.critical) for e in root.extensions if e.oid != x509.SubjectKeyIdentifier.oid)),)


def _flipped_csr(csr_pem: bytes | None) -> bytes:
    """The CSR with one bit of its signature flipped."""
    assert csr_pem is not None
    der = x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)
    body = mutate.wrap_base64(base64.b64encode(mutate.flip_bit(der, -9)))
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + body + b"\n-----END CERTIFICATE REQUEST-----\n"


def _csr_for(kit: Kit, label: str, spec: str) -> bytes:
    """A CSR named ``label`` for another key (``spec``)."""
    return build_csr(name(("CN", label, UTF8)), kit.store.signer(kit.keys[spec])).public_bytes(
        serialization.Encoding.PEM)


def _impostor(seed: str, role: str, genuine: PrivateKey | CertificatePublicKeyTypes) -> PrivateKey:
    """An impostor key of the ``genuine`` signer's spec: a forged signature then differs from the genuine one
    in its bytes only, never in its algorithm (a key-type guard must not be what rejects it)."""
    return derive_key(seed, f"yubico/impostor/{role}", spec_of(genuine))


# -- the seeded world -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kit:
    """Keys and devices of both formats, derived from one seed."""

    seed: str
    store: SoftKeyStore
    keys: dict[str, StoredKey]
    devices: dict[tuple[str, bool], YubiKeyDevice]
    hsm: HsmPki

    @classmethod
    def build(cls, seed: str) -> Kit:
        """One key per spec, a legacy and a 2024 YubiKey (each also as a FIPS-series one), one YubiHSM 2."""
        store = SoftKeyStore(seed=seed)
        keys = {spec: store.generate(KeySpec.parse(spec), f"yubikey-{spec}", created=KEYS_CREATED)
                for spec in ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")}
        keys["decrypt-only"] = store.generate(KeySpec.parse("rsa-3072"), "yubihsm-decrypt-only", created=KEYS_CREATED,
                                              policy=KeyPolicy(sign=False, decrypt=True))
        # the yubihsm2 golden's spec (rsa-3072), so that the exportable key differs from it in its capability only
        keys["exportable"] = store.generate(KeySpec.parse("rsa-3072"), "yubihsm-exportable", created=KEYS_CREATED,
                                            policy=KeyPolicy(extractable=True))
        serial = 20_000_000 + int.from_bytes(seed.encode()[:3].ljust(3, b"\0"), "big") % 9_000_000
        devices = {}
        for generation, firmware in ((LEGACY, (5, 4, 3)), (NEW, (5, 7, 4))):
            for fips in (False, True):
                number = serial + (2 if generation == NEW else 0) + (1 if fips else 0)
                devices[(generation, fips)] = YubiKeyDevice(number, firmware, 1, generation, fips=fips)
        return cls(seed, store, keys, devices, hsm_pki(seed, serial + 10))


def _mutated(seed: str, fmt: str, mutations: list[Mutation], open_golden: Callable[[str], Any]) -> list[VectorCase]:
    """One case per mutation, applied to a fresh bench of its golden (``open_golden``)."""
    cases = []
    for mutation in mutations:
        bench = open_golden(mutation.golden)
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.evidence(), anchors=bench.anchors,
            validation_time=bench.validation_time,
            provenance=Provenance(seed=seed, signing=signing, golden=f"{fmt}::golden::{mutation.golden}",
                                  operator=mutation.operator, path=mutation.path)))
    return cases


# -- PIV workbench ----------------------------------------------------------------------------------

@dataclass
class PivBench:
    """A golden PIV bundle opened for one mutation."""

    kit: Kit
    device: YubiKeyDevice
    key: StoredKey
    bundle: PivBundle
    anchors: tuple[x509.Certificate, ...]
    validation_time: datetime = VALIDATION_TIME
    drop: set[str] = field(default_factory=set)
    overrides: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def open(cls, kit: Kit, generation: str, spec: str, profile: str, fips: bool = False, *,
             slot: str = "9a", pin: PinPolicy = PinPolicy.ONCE, touch: TouchPolicy = TouchPolicy.ALWAYS) -> PivBench:
        device = kit.devices[(generation, fips)]
        key = kit.keys[spec]
        bundle = assemble(kit.seed, device, key, kit.store.signer(key), slot=slot, pin=pin, touch=touch,
                          profile=profile)
        return cls(kit, device, key, bundle, (bundle.root,))

    @property
    def f9_key(self) -> PrivateKey:
        return f9_key(self.kit.seed, self.device)

    def reslot(self, signer: PrivateKey | None = None, **changes: object) -> None:
        """Re-issue the attestation certificate with ``changes``, signed by the f9 key (or ``signer``)."""
        self.bundle.attestation = reissue(self.bundle.attestation, signer or self.f9_key, **changes)

    def slot_extensions(self, fn: Callable[[list[Ext]], list[Ext]]) -> None:
        self.reslot(extensions=tuple(fn([Ext(e.value, e.critical) for e in self.bundle.attestation.extensions])))

    def evidence(self) -> Evidence:
        evidence = self.bundle.evidence()
        files = {k: v for k, v in evidence.files.items() if not any(k.endswith(d) for d in self.drop)}
        files.update(self.overrides)
        return Evidence(evidence.format, files, evidence.primary)


PivOp = Callable[[PivBench], None]


def _set_ext(oid: x509.ObjectIdentifier, value: bytes | None, *, critical: bool = False) -> PivOp:
    def apply(bench: PivBench) -> None:
        def edit(exts: list[Ext]) -> list[Ext]:
            out = []
            for ext in exts:
                if ext.value.oid == oid:
                    if value is not None:
                        out.append(Ext(x509.UnrecognizedExtension(oid, value), critical))
                else:
                    out.append(ext)
            return out
        bench.slot_extensions(edit)
    return apply


def _policy(pin: int, touch: int) -> PivOp:
    return _set_ext(PIV_POLICY, bytes([pin, touch]))


def _request(**changes: object) -> PivOp:
    def apply(bench: PivBench) -> None:
        assert bench.bundle.request is not None
        bench.bundle.request = replace(bench.bundle.request, **changes)  # type: ignore[arg-type]
    return apply


def _slot_signed_by_impostor(bench: PivBench) -> None:
    bench.reslot(signer=_impostor(bench.kit.seed, "f9", bench.f9_key))


def _f9_signed_by_impostor(bench: PivBench) -> None:
    genuine = piv_pki(bench.kit.seed, bench.device.generation).f9_issuer.key
    bench.bundle.f9 = reissue(bench.bundle.f9, _impostor(bench.kit.seed, "root", genuine))


def _user_loaded_f9(bench: PivBench) -> None:
    """A customer's own f9: self-signed, named like Yubico's, with the slot certificate re-issued under it."""
    key = _impostor(bench.kit.seed, "user-f9", bench.f9_key)
    f9 = bench.bundle.f9
    bench.bundle.f9 = build_certificate(CertSpec(
        subject=f9.subject, issuer=f9.subject, public_key=key.public_key(), serial=f9.serial_number,
        not_before=f9.not_valid_before_utc, not_after=f9.not_valid_after_utc,
        extensions=tuple(Ext(e.value, e.critical) for e in f9.extensions)), key)
    bench.reslot(signer=key)


def _issued_by_another_slot(bench: PivBench) -> None:
    """The owner's slot 9a key certifies a software key as slot 9c: its certificate copies the genuine slot
    certificate's device extensions and names the 9a certificate as issuer; the f9 file carries the 9a certificate
    before the genuine f9 (pathlen 0); the CSR and request are the software key's, for slot 9c."""
    genuine = bench.bundle.attestation
    software = _impostor(bench.kit.seed, "software-key", genuine.public_key())
    bench.bundle.attestation = reissue(genuine, bench.kit.store.signer(bench.key), issuer=genuine.subject,
                                       subject=name(("CN", "YubiKey PIV Attestation 9c", UTF8)),
                                       public_key=software.public_key())
    bench.bundle.csr_pem = build_csr(name(("CN", "software-key", UTF8)), software).public_bytes(
        serialization.Encoding.PEM)
    _request(slot="9c")(bench)
    bench.overrides[f"{bench.bundle.stem}.f9.pem"] = cert_pem(genuine) + cert_pem(bench.bundle.f9)


def _other_generation_root(bench: PivBench) -> None:
    other = NEW if bench.device.generation == LEGACY else LEGACY
    bench.anchors = (piv_pki(bench.kit.seed, other).root.certificate,)


def _lookalike_root(bench: PivBench) -> None:
    bench.anchors = _lookalike(bench.kit.seed, "lookalike-root", bench.bundle.root)


def _reissue_f9(**changes: object) -> PivOp:
    def apply(bench: PivBench) -> None:
        issuer = piv_pki(bench.kit.seed, bench.device.generation).f9_issuer
        bench.bundle.f9 = reissue(bench.bundle.f9, issuer.key, **changes)
    return apply


def _f9_extensions(*changed: Ext) -> PivOp:
    """Re-issue the f9 with ``changed`` replacing its extensions of the same type (the firmware-5.4 f9 already
    carries basicConstraints: a second one would be a second defect)."""
    def apply(bench: PivBench) -> None:
        oids = {e.value.oid for e in changed}
        kept = tuple(Ext(e.value, e.critical) for e in bench.bundle.f9.extensions if e.oid not in oids)
        _reissue_f9(extensions=kept + changed)(bench)
    return apply


def _firmware_4_device(bench: PivBench) -> None:
    """The same key attested by a YubiKey 4.3.3: its f9 has no basicConstraints, its slot certificate no form
    factor (the real Purebred sample's shape)."""
    bench.device = replace(bench.device, serial=bench.device.serial + 40, firmware=(4, 3, 3))
    bench.bundle = assemble(bench.kit.seed, bench.device, bench.key, bench.kit.store.signer(bench.key),
                            profile=bench.bundle.profile)


def _f9_expired(bench: PivBench) -> None:
    end = datetime(2025, 12, 31, tzinfo=UTC)
    _reissue_f9(not_after=end)(bench)
    bench.reslot(not_after=end)


def _drop_intermediate(index: int | None) -> PivOp:
    def apply(bench: PivBench) -> None:
        if index is None:
            bench.bundle.intermediates = []
        else:
            del bench.bundle.intermediates[index]
    return apply


def _other_csr(bench: PivBench) -> None:
    bench.bundle.csr_pem = _csr_for(bench.kit, bench.key.label, "rsa-3072" if bench.key.spec.name != "rsa-3072"
                                    else "ec-p256")


def _broken_csr(bench: PivBench) -> None:
    bench.bundle.csr_pem = _flipped_csr(bench.bundle.csr_pem)


def _attest_other_key(bench: PivBench) -> None:
    bench.reslot(public_key=bench.kit.keys["ec-p384"].public_key)


def _no_csr(bench: PivBench) -> None:
    bench.bundle.csr_pem = None


def _second_csr(bench: PivBench) -> None:
    """Another key's CSR beside the key's own (``other.csr``): two different files for the one CSR role."""
    bench.overrides["other.csr"] = _csr_for(bench.kit, bench.key.label, "rsa-3072" if bench.key.spec.name !=
                                            "rsa-3072" else "ec-p256")


def _second_request(bench: PivBench) -> None:
    """A second request (``other.request.json``) naming another YubiKey beside the genuine one."""
    assert bench.bundle.request is not None
    bench.overrides[f"other{REQUEST_SUFFIX}"] = replace(bench.bundle.request, serial=bench.device.serial + 7).to_json()


def _slot_subject(bench: PivBench) -> None:
    bench.reslot(subject=bench.bundle.f9.subject)


def _unknown_extension(bench: PivBench) -> None:
    bench.slot_extensions(lambda exts: [*exts, Ext(x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.99"), b"\x01"))])


def _step_identifier(bench: PivBench) -> None:
    bench.bundle.identifier = str(bench.device.serial + 1000)


def _step_other_challenge(bench: PivBench) -> None:
    other = AcmeChallenge.from_seed(bench.kit.seed, "another-order")
    bench.bundle.step_sig = step_signature(bench.kit.store.signer(bench.key), other.key_authorization)


def _step_record(fn: Callable[[dict[str, Any], PivBench], None]) -> PivOp:
    def apply(bench: PivBench) -> None:
        evidence = bench.bundle.evidence()
        document = json.loads(evidence.files[evidence.primary])
        fn(document, bench)
        bench.overrides[evidence.primary] = indented_json(document, 2)
    return apply


def _att_obj(bench: PivBench, *, fmt: str = "step", sig: bytes | None = None, x5c: list[bytes] | None = None) -> str:
    from hsmsim.formats.yubico.piv import b64url, cose_alg

    raw = att_obj(cose_alg(bench.key.public_key), bench.bundle.step_sig, x5c or bench.bundle.x5c(), fmt=fmt)  # type: ignore[arg-type]
    if sig is not None:
        import cbor2

        obj = cbor2.loads(raw)
        obj["attStmt"]["sig"] = sig
        raw = cbor2.dumps(obj, canonical=True)
    return b64url(raw)


def _step_fmt_packed(document: dict[str, Any], bench: PivBench) -> None:
    document["payload"]["attObj"] = _att_obj(bench, fmt="packed")


def _step_bare_sig(document: dict[str, Any], bench: PivBench) -> None:
    document["payload"]["attObj"] = _att_obj(bench, sig=bench.bundle.step_sig)


def _step_f9_first(document: dict[str, Any], bench: PivBench) -> None:
    x5c = bench.bundle.x5c()
    document["payload"]["attObj"] = _att_obj(bench, x5c=[x5c[1], x5c[0], *x5c[2:]])


def _default_policy(slot: str, asked: PinPolicy) -> PivOp:
    """The key in ``slot`` with policy bytes 00 00 (the slot defaults); the request asks ``asked``."""
    def apply(bench: PivBench) -> None:
        bench.reslot(subject=name(("CN", f"YubiKey PIV Attestation {slot}", UTF8)))
        _policy(0, 0)(bench)
        _request(slot=slot, pin_policy=asked, touch_policy=None)(bench)
    return apply


def _swap_package(bench: PivBench) -> None:
    bench.bundle.attestation, bench.bundle.f9 = bench.bundle.f9, bench.bundle.attestation


def _drop_f9_file(bench: PivBench) -> None:
    bench.drop.add(".f9.pem")


def piv_mutations() -> list[Mutation]:
    """Every YubiKey PIV defect, in catalogue order. ``golden`` is ``<generation>-<spec>-<profile>``."""
    m: list[Mutation] = []
    add = _adder(m, PIV_FORMAT, "legacy-ec-p256-ykman")

    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
    att = "attestation"
    # chain
    add("chain::f9-checked-instead-of-attestation", "F9CheckedInsteadOfAttestation",
        _note("CHAIN", crit, "the attestation certificate is signed by another key while the genuine f9 is present",
              "a verifier that validates the f9 and not the attested certificate (go-ykpiv #30) always accepts",
              GO_YKPIV, ROUND2),
        "slot certificate re-signed by an impostor key of the f9's type, f9 name kept", "cert.resign", att,
        _slot_signed_by_impostor, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::f9-signed-by-other-key", "F9SignedByOtherKey",
        _note("CHAIN", crit, "the f9 certificate names the Yubico root but another key signed it",
              "comparing issuer names instead of verifying signatures accepts it (open-physical picks the root by CN)"),
        "f9 re-signed by an impostor key", "cert.resign", "f9", _f9_signed_by_impostor,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::user-loaded-f9", "UserLoadedF9",
        _note("CHAIN", crit, "a customer-loaded f9 key and self-signed f9 certificate named 'Yubico PIV Attestation' "
                             "attest the slot (the way to attest an imported key)",
              "a verifier that stops at the f9 accepts any key the user chose", ROUND2, YUBICO_DOC),
        "self-signed f9 with an impostor key; slot certificate re-issued under it", "cert.replace", "f9",
        _user_loaded_f9, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::issued-by-another-slot", "IssuedByAnotherSlot",
        _note("CHAIN", crit, "the attestation certificate is issued by another slot's attestation certificate, "
                             "chained through the real f9: the owner's slot 9a key certifies a software key as 9c",
              "a verifier that takes whatever certificate signs the attestation as the f9 and validates the path "
              "from that one accepts an exportable key as generated on the YubiKey, with the serial and policies the "
              "owner chose; on the path from the attestation, the f9's pathlen 0 forbids a CA below it",
              ROUND2, "RFC 5280 6.1.4(l)"),
        "slot certificate re-issued by the slot 9a key for a software key as 9c; f9 file = 9a certificate + f9",
        "cert.replace", att, _issued_by_another_slot, invalid(Reason.CERT_PATH_LENGTH), resign=False)
    add("chain::wrong-root", "WrongRoot",
        _note("CHAIN", high, "the verifier trusts the other PKI generation's root only: the bundle's top names an "
                             "issuer no anchor is (CHAIN_UNTRUSTED, whether or not the bundle carries its own root "
                             "copy; see hsmsim.pki.chain.validate_chain)",
              "evidence must chain to the pinned root of its own PKI"),
        "trust anchor = the 2024 Attestation Root 1", "trust.replace", "anchors", _other_generation_root,
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::lookalike-root", "LookalikeRoot",
        _note("CHAIN", crit, "a trusted root with Yubico's name and another key",
              "a verifier matching the root by name trusts an attacker's root"),
        "anchor re-issued with an impostor key, same subject", "trust.replace", "anchors", _lookalike_root,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::f9-missing", "F9Missing",
        _note("CHAIN", high, "the f9 certificate is not in the evidence", "nothing links the slot to Yubico"),
        "<stem>.f9.pem removed", "file.remove", "f9", _drop_f9_file, invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::intermediates-missing", "IntermediatesMissing",
        _note("CHAIN", high, "2024 PKI evidence without the intermediates",
              "the f9 cannot reach Yubico Attestation Root 1; the statement must carry every intermediate "
              "(step-ca PR #2370)", ROUND2),
        "yubico-intermediate.pem removed", "file.remove", "yubico-intermediate.pem", _drop_intermediate(None),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False, golden="2024-rsa-3072-ykman")
    add("chain::piv-intermediate-missing", "PivIntermediateMissing",
        _note("CHAIN", high, "2024 PKI evidence without 'Yubico PIV Attestation B 1'",
              "one missing intermediate breaks the path as surely as all of them", ROUND2),
        "first intermediate removed", "cert.remove", "yubico-intermediate.pem[0]", _drop_intermediate(0),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False, golden="2024-rsa-3072-ykman")
    add("chain::step-intermediates-missing", "StepIntermediatesMissing",
        _note("CHAIN", high, "a step statement of the 2024 PKI whose x5c holds the attestation and f9 only",
              "step-ca before PR #2370 built no path: the statement must carry every intermediate", ROUND2, STEP),
        "x5c = [attestation, f9]", "cert.remove", "x5c[2:]", _drop_intermediate(None),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False, golden="2024-rsa-3072-step")
    add("chain::sectigo-two-certificates-2024", "SectigoTwoCertificates2024",
        _note("CHAIN", med, "Sectigo's 2-certificate package (attestation + f9) of a 2024-PKI YubiKey",
              "the package as Sectigo describes it cannot reach the 2024 root without the intermediates", ROUND2),
        "package holds attestation and f9 only", "cert.remove", "package[2:]", _drop_intermediate(None),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False, golden="2024-rsa-3072-sectigo")
    add("chain::f9-ca-false", "F9NotCa",
        _note("CHAIN", high, "the f9 certificate says basicConstraints CA:FALSE",
              "a certificate that says it is no CA must not issue; only an absent extension is the firmware quirk"),
        "f9 re-issued with basicConstraints CA:FALSE", "cert.reissue", "f9/basicConstraints",
        _f9_extensions(Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True)),
        invalid(Reason.CERT_NOT_CA), resign=False)
    add("chain::f9-key-usage-no-cert-sign", "F9KeyUsageNoCertSign",
        _note("CHAIN", med, "the f9 certificate's keyUsage is digitalSignature only", "its key may not certify"),
        "f9 re-issued with keyUsage digitalSignature", "cert.reissue", "f9/keyUsage",
        _f9_extensions(Ext(key_usage("digital_signature"), critical=True)), invalid(Reason.CERT_NOT_CA), resign=False)
    add("variant::f9-without-basic-constraints", "F9WithoutBasicConstraints",
        _note("CHAIN", info, "a YubiKey 4.3.3: its factory f9 carries no basicConstraints (firmware 5.4 and later "
                             "write CA pathlen 0), its slot certificate no form factor",
              "genuine YubiKey 4 and 5.2 evidence: structural takes the f9 as a CA by position; strict follows "
              "RFC 5280 6.1.4(k) (no basicConstraints: not a CA), as openssl verify (error 79), Go x509 and "
              "cryptography's CA policy do", ROUND2, "yubikey-manager #522", "RFC 5280 6.1.4(k)"),
        "device firmware 4.3.3", "device.replace", "f9/basicConstraints", _firmware_4_device,
        strict_only(Reason.CERT_NOT_CA), resign=True)
    add("chain::f9-expired", "F9Expired",
        _note("CHAIN", med, "the f9 and slot certificates expired 2025-12-31", "expired evidence is accepted"),
        "f9 and slot certificate notAfter 2025-12-31", "cert.reissue", "f9/validity", _f9_expired,
        invalid(Reason.CERT_EXPIRED), resign=True)
    add("chain::attestation-expired", "AttestationExpired",
        _note("CHAIN", med, "the slot certificate expired (its validity is not the f9's)",
              "a verifier checking only the f9's dates accepts it", YUBICO_DOC),
        "slot notAfter 2025-06-01", "cert.reissue", f"{att}/validity",
        lambda b: b.reslot(not_after=datetime(2025, 6, 1, tzinfo=UTC)), invalid(Reason.CERT_EXPIRED), resign=True)
    add("chain::attestation-not-yet-valid", "AttestationNotYetValid",
        _note("CHAIN", low, "the slot certificate is valid only from 2030", "post-dated evidence is accepted"),
        "slot notBefore 2030-01-01", "cert.reissue", f"{att}/validity",
        lambda b: b.reslot(not_before=datetime(2030, 1, 1, tzinfo=UTC)), invalid(Reason.CERT_NOT_YET_VALID),
        resign=True)
    add("chain::attestation-critical-extension", "AttestationCriticalExtension",
        _note("ENCODING", med, "the PIN/touch policy extension is marked critical",
              "RFC 5280 verifiers must reject a critical extension they do not know", "RFC 5280 4.2"),
        "3.8 critical", "ext.critical", f"{att}/3.8", _set_ext(PIV_POLICY, b"\x02\x02", critical=True),
        invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    # binding
    add("binding::csr-other-key", "CsrOtherKey",
        _note("KEY_BINDING", crit, "the CSR asks to certify another key than the attested one",
              "a CA certifies a key the YubiKey never generated", CSBR),
        "CSR for another key", "csr.replace", "<stem>.csr", _other_csr, invalid(Reason.KEY_MISMATCH), resign=False)
    add("binding::attests-another-key", "AttestsAnotherKey",
        _note("KEY_BINDING", crit, "the slot certificate attests another key than the CSR's",
              "attested key != CSR key", CSBR),
        "slot certificate re-issued for the P-384 key", "cert.reissue", f"{att}/subjectPublicKeyInfo",
        _attest_other_key, invalid(Reason.KEY_MISMATCH), resign=True)
    add("binding::csr-signature-broken", "CsrSignatureBroken",
        _note("KEY_BINDING", high, "the CSR's self-signature does not verify", "no proof of possession"),
        "one bit of the CSR signature flipped", "bytes.flip_bit", "<stem>.csr", _broken_csr,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("binding::no-csr", "NoCsr",
        _note("KEY_BINDING", info, "no CSR beside the attestation",
              "the attestation verifies; nothing binds it to a request, which the strict profile requires", CSBR),
        "CSR removed", "file.remove", "<stem>.csr", _no_csr, strict_only(Reason.MISSING_INPUT), resign=False)
    add("binding::second-csr", "SecondCsr",
        second_csr_note("KEY_BINDING", "the attested key", (SPEC,)),
        "other.csr for another key added", "file.add", "other.csr", _second_csr, invalid(Reason.MALFORMED),
        resign=False)
    # request and policy
    add("request::serial-mismatch", "SerialMismatch",
        _note("POLICY", high, "the key is on another YubiKey than the request names",
              "a key from any YubiKey passes for the one registered to the subscriber"),
        "request serial = another device's", "json.set", "<stem>.request.json/serial",
        lambda b: _request(serial=b.device.serial + 7)(b), invalid(Reason.ATTR_CONFLICT), resign=False)
    add("request::slot-mismatch", "SlotMismatch",
        _note("POLICY", med, "the attested key is in slot 9a, the request names 9c",
              "a key of the authentication slot passes for a signature key"),
        "request slot 9c", "json.set", "<stem>.request.json/slot", _request(slot="9c"),
        invalid(Reason.ATTR_CONFLICT), resign=False)
    add("request::second-request", "SecondRequest",
        _note("POLICY", high, "a second request file naming another YubiKey beside the genuine one",
              "a verifier that reads the request only when there is exactly one ignores both and accepts a key "
              "the relying party's request may not name (MALFORMED: an ambiguous bundle is rejected)"),
        "other.request.json with another serial added", "file.add", f"other{REQUEST_SUFFIX}", _second_request,
        invalid(Reason.MALFORMED), resign=False)
    add("policy::touch-cached", "TouchCachedWeaker",
        _note("POLICY", high, "touch policy cached (15 s) where the request asks always",
              "malware may use the key for 15 s after each touch", YUBICO_DOC),
        "3.8 = 02 03", "ext.set", f"{att}/3.8", _policy(2, 3), invalid(Reason.ATTR_ACCESS_POLICY), resign=True)
    add("policy::touch-never", "TouchNeverWeaker",
        _note("POLICY", high, "touch policy never where the request asks always",
              "the key signs without presence", YUBICO_DOC),
        "3.8 = 02 01", "ext.set", f"{att}/3.8", _policy(2, 1), invalid(Reason.ATTR_ACCESS_POLICY), resign=True)
    add("policy::pin-never", "PinNeverWeaker",
        _note("POLICY", high, "PIN policy never where the request asks once",
              "whoever holds the YubiKey uses the key", YUBICO_DOC),
        "3.8 = 01 02", "ext.set", f"{att}/3.8", _policy(1, 2), invalid(Reason.ATTR_ACCESS_POLICY), resign=True)
    add("policy::default-unresolved", "PolicyDefaultUnresolved",
        _note("POLICY", high, "slot 9e with PIN policy 0 (default), which for 9e means never; the request asks once",
              "a verifier that accepts 0 without resolving the slot default takes a PIN-less key", SPEC),
        "slot 9e, 3.8 = 00 00, request pin once", "cert.reissue", f"{att}/3.8",
        _default_policy("9e", PinPolicy.ONCE),
        invalid(Reason.ATTR_ACCESS_POLICY), resign=True)
    add("variant::policy-default-9c", "PolicyDefault9c",
        _note("POLICY", info, "slot 9c with PIN policy 0 (default = always) and touch 0; the request asks PIN always",
              "none: the slot default meets it", SPEC),
        "slot 9c, 3.8 = 00 00, request pin always", "cert.reissue", f"{att}/3.8",
        _default_policy("9c", PinPolicy.ALWAYS),
        valid(), resign=True)
    # extension encodings
    add("ext::serial-raw-bytes", "SerialRawBytes",
        _note("ENCODING", med, "3.7 holds the serial as raw bytes, not a DER INTEGER",
              "parsers reading raw bytes get another serial than DER parsers", SPEC),
        "3.7 = 4 raw bytes", "ext.set", f"{att}/3.7",
        lambda b: _set_ext(PIV_SERIAL, b.device.serial.to_bytes(4, "big"))(b), invalid(Reason.MALFORMED), resign=True)
    add("ext::firmware-as-der", "FirmwareAsDer",
        _note("ENCODING", low, "3.3 holds an OCTET STRING TLV instead of 3 raw bytes",
              "parsers reading it as DER disagree with the device's encoding", SPEC),
        "3.3 = 04 03 05 04 03", "ext.set", f"{att}/3.3", _set_ext(PIV_FIRMWARE, b"\x04\x03\x05\x04\x03"),
        invalid(Reason.MALFORMED), resign=True)
    add("ext::serial-missing", "SerialMissing",
        _note("ATTRIBUTE_POLICY", med, "no serial extension", "the device cannot be matched to the request"),
        "3.7 removed", "ext.remove", f"{att}/3.7", _set_ext(PIV_SERIAL, None), invalid(Reason.ATTR_MISSING),
        resign=True)
    add("ext::policy-missing", "PolicyMissing",
        _note("ATTRIBUTE_POLICY", med, "no PIN/touch policy extension", "the key's protection is unknown"),
        "3.8 removed", "ext.remove", f"{att}/3.8", _set_ext(PIV_POLICY, None), invalid(Reason.ATTR_MISSING),
        resign=True)
    add("ext::policy-unknown-value", "PolicyUnknownValue",
        _note("ENCODING", low, "PIN policy byte 9", "an unknown policy read as a strong one"),
        "3.8 = 09 02", "ext.set", f"{att}/3.8", _policy(9, 2), invalid(Reason.MALFORMED), resign=True)
    add("ext::firmware-mismatch", "FirmwareMismatch",
        _note("ATTRIBUTE_POLICY", med, "the slot certificate's firmware differs from the f9's",
              "the slot certificate was not made by that device"),
        "3.3 = 05 07 04 on a 5.4.3 device", "ext.set", f"{att}/3.3", _set_ext(PIV_FIRMWARE, b"\x05\x07\x04"),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("ext::subject-not-a-slot", "SubjectNotASlot",
        _note("ENCODING", low, "the slot certificate's subject is the f9's name", "the attested slot is unknown"),
        "subject = the f9's name", "cert.reissue", f"{att}/subject", _slot_subject,
        invalid(Reason.CERT_PROFILE), resign=True)
    add("variant::unknown-extension", "UnknownExtension",
        _note("EXTENSIBILITY", info, "a non-critical extension 1.3.6.1.4.1.41482.3.99",
              "structural verifiers tolerate it; strict ones reject unknown content"),
        "3.99 added", "ext.add", f"{att}/3.99", _unknown_extension, strict_only(Reason.UNEXPECTED_CONTENT),
        resign=True)
    # step and Sectigo containers
    add("step::identifier-mismatch", "StepIdentifierMismatch",
        _note("POLICY", high, "the order's permanent-identifier is another serial",
              "step-ca binds the certificate to the serial the order names", STEP),
        "identifier.value = another serial", "json.set", "identifier.value", _step_identifier,
        invalid(Reason.ATTR_CONFLICT), resign=False, golden="legacy-ec-p256-step")
    add("step::signature-other-challenge", "StepSignatureOtherChallenge",
        _note("SIGNATURE", crit, "the slot key signed another order's key authorization",
              "a replayed statement passes for this order", STEP),
        "sig over another token", "sig.replace", "attStmt.sig", _step_other_challenge,
        invalid(Reason.SIGNATURE_INVALID), resign=False, golden="legacy-ec-p256-step")
    add("step::sig-not-cbor-wrapped", "StepSigNotCborWrapped",
        _note("ENCODING", low, "sig holds the bare signature, not CBOR(bstr)", "step-ca's cbor.Unmarshal fails", STEP),
        "sig = the DER signature", "cbor.set", "attStmt.sig", _step_record(_step_bare_sig),
        invalid(Reason.MALFORMED), resign=False, golden="legacy-ec-p256-step")
    add("step::fmt-packed", "StepFmtPacked",
        _note("ENCODING", med, "attObj fmt 'packed' around the step statement",
              "a verifier ignoring fmt checks the wrong statement type", STEP),
        'fmt = "packed"', "cbor.set", "fmt", _step_record(_step_fmt_packed), invalid(Reason.UNSUPPORTED),
        resign=False, golden="legacy-ec-p256-step")
    add("step::f9-first", "StepF9First",
        _note("ENCODING", high, "x5c lists the f9 before the attestation certificate",
              "x5c[0] must be the attested certificate; a verifier taking the f9 as leaf checks the wrong key", STEP),
        "x5c = [f9, attestation]", "cbor.set", "x5c", _step_record(_step_f9_first), invalid(Reason.MALFORMED),
        resign=False, golden="legacy-ec-p256-step")
    add("sectigo::package-order-swapped", "SectigoOrderSwapped",
        _note("ENCODING", med, "Sectigo's package lists the f9 first",
              "Sectigo expects the attestation certificate that matches the CSR first", ROUND2),
        "package = f9, attestation", "pem.reorder", "package", _swap_package, invalid(Reason.MALFORMED),
        resign=False, golden="legacy-ec-p256-sectigo")
    return m


def _piv_golden_id(generation: str, spec: str, profile: str) -> str:
    return f"{generation}-{spec}-{profile}"


def _piv_expected(spec: str) -> dict[Profile, Reason]:
    return strict_only(Reason.KEY_POLICY) if spec in ("rsa-2048", "ed25519") else valid()


PIV_COMMON_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated evidence from the emulated YubiKey",
                       "a verifier that rejects it is broken for this key type or profile", (SPEC,)),
    "Resigned": FlagNote("PROVENANCE", Severity.INFO, "the genuine f9 (or device) key re-signed after the mutation",
                         "the defect reaches the semantic checks behind the signature", ()),
    "Stale": FlagNote("PROVENANCE", Severity.INFO, "the mutation is outside the genuinely signed certificate, or "
                      "another key signed it", "the chain, signature or binding checks should catch it", ()),
    "StrictKeyPolicy": FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                "valid evidence; the strict profile rejects it with KEY_POLICY", (CSBR,)),
    "FipsSeries": FlagNote("BASIC", Severity.INFO, "a FIPS-series YubiKey: the f9 carries 1.3.6.1.4.1.41482.3.10 "
                           "(02 01 07, as a real YubiKey 5 FIPS) and the form factor (3.9) has bit 0x80 set",
                           "none: the verifier states fips_level", (SPEC, ROUND2)),
}




def piv_notes() -> dict[str, FlagNote]:
    """Every flag the PIV vectors use."""
    return flag_notes(PIV_COMMON_NOTES, piv_mutations())


def piv_vector_cases(seed: str) -> list[VectorCase]:
    """The PIV vectors: goldens per generation, key type and profile, then every mutation."""
    kit = Kit.build(seed)
    cases = []
    for generation, spec, profile, fips in PIV_GOLDENS:
        bench = PivBench.open(kit, generation, spec, profile, fips)
        flags = ["Golden"] + (["StrictKeyPolicy"] if spec in ("rsa-2048", "ed25519") else []) + \
            (["FipsSeries"] if fips else [])
        cases.append(VectorCase(
            id=f"{PIV_FORMAT}::golden::{_piv_golden_id(generation, spec, profile)}",
            comment=f"{spec} key in slot 9a of a {bench.device.model} (firmware "
                    f"{bench.device.firmware_version}, {generation} PKI), {profile} profile",
            flags=tuple(flags), expected=_piv_expected(spec), evidence=bench.evidence(), anchors=bench.anchors,
            validation_time=VALIDATION_TIME, provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    goldens = {_piv_golden_id(g, s, p): (g, s, p, f) for g, s, p, f in PIV_GOLDENS}
    return cases + _mutated(seed, PIV_FORMAT, piv_mutations(), lambda golden: PivBench.open(kit, *goldens[golden]))


# -- YubiHSM 2 --------------------------------------------------------------------------------------

@dataclass
class HsmBench:
    """A golden YubiHSM 2 bundle opened for one mutation."""

    kit: Kit
    key: StoredKey
    fields: HsmKeyExtensions
    bundle: HsmBundle
    anchors: tuple[x509.Certificate, ...]
    validation_time: datetime = VALIDATION_TIME
    extra: dict[str, bytes] = field(default_factory=dict)
    """Files added beside the bundle's own."""

    @classmethod
    def open(cls, kit: Kit, spec: str) -> HsmBench:
        key = kit.keys[spec]
        bundle = assemble_hsm(kit.seed, kit.hsm, key, kit.store.signer(key))
        return cls(kit, key, key_fields(kit.seed, kit.hsm, key), bundle, (kit.hsm.root.certificate,))

    def reissue_leaf(self, signer: PrivateKey | None = None, **changes: object) -> None:
        self.bundle.chain[0] = reissue(self.bundle.chain[0], signer or self.kit.hsm.device.key, **changes)

    def with_fields(self, **changes: object) -> None:
        self.fields = replace(self.fields, **changes)  # type: ignore[arg-type]
        self.bundle.chain[0] = key_certificate(self.kit.seed, self.kit.hsm, self.key, self.fields)

    def raw_extension(self, oid: x509.ObjectIdentifier, value: bytes | None, *, critical: bool = False) -> None:
        exts = []
        for ext in hsm_key_extensions(self.fields):
            if ext.oid != oid:
                exts.append(Ext(ext))
            elif value is not None:
                exts.append(Ext(x509.UnrecognizedExtension(oid, value), critical))
        self.reissue_leaf(extensions=tuple(exts))

    def evidence(self) -> Evidence:
        evidence = self.bundle.evidence()
        return Evidence(evidence.format, {**evidence.files, **self.extra}, evidence.primary)


HsmOp = Callable[[HsmBench], None]


def _fields(**changes: object) -> HsmOp:
    return lambda bench: bench.with_fields(**changes)


def _raw(oid: x509.ObjectIdentifier, value: bytes | None, *, critical: bool = False) -> HsmOp:
    return lambda bench: bench.raw_extension(oid, value, critical=critical)


def _hsm_key(spec: str) -> HsmOp:
    def apply(bench: HsmBench) -> None:
        key = bench.kit.keys[spec]
        fields = key_fields(bench.kit.seed, bench.kit.hsm, key)
        bench.key, bench.fields = key, fields
        bench.bundle = assemble_hsm(bench.kit.seed, bench.kit.hsm, key, bench.kit.store.signer(key))
    return apply


def _hsm_reissue_device(signer_of: Callable[[HsmBench], PrivateKey], **changes: object) -> HsmOp:
    def apply(bench: HsmBench) -> None:
        bench.bundle.chain[1] = reissue(bench.bundle.chain[1], signer_of(bench), **changes)
    return apply


def _hsm_device_exts(*replace_with: tuple[x509.ObjectIdentifier, Ext]) -> HsmOp:
    def apply(bench: HsmBench) -> None:
        swap = dict(replace_with)
        exts = tuple(swap.get(e.oid, Ext(e.value, e.critical)) for e in bench.bundle.chain[1].extensions)
        bench.bundle.chain[1] = reissue(bench.bundle.chain[1], bench.kit.hsm.sub_ca.key, extensions=exts)
    return apply


def _hsm_sub_ca_path_length(bench: HsmBench) -> None:
    sub = bench.bundle.chain[2]
    exts = tuple(Ext(x509.BasicConstraints(ca=True, path_length=0), True) if e.oid == x509.BasicConstraints.oid
                 else Ext(e.value, e.critical) for e in sub.extensions)
    bench.bundle.chain[2] = reissue(sub, bench.kit.hsm.root.key, extensions=exts)


def _hsm_self_signed_device(bench: HsmBench) -> None:
    key = _impostor(bench.kit.seed, "yubihsm-attestation", bench.kit.hsm.device.key)
    device = bench.bundle.chain[1]
    bench.bundle.chain[1] = reissue(device, key, issuer=device.subject, public_key=key.public_key())
    bench.reissue_leaf(signer=key)


def _pop_chain(index: int) -> HsmOp:
    def apply(bench: HsmBench) -> None:
        del bench.bundle.chain[index]
    return apply


def _hsm_other_csr(bench: HsmBench) -> None:
    bench.bundle.csr_pem = hsm_csr(bench.key.label, bench.kit.store.signer(bench.kit.keys["ec-p256"]))


def _hsm_broken_csr(bench: HsmBench) -> None:
    bench.bundle.csr_pem = _flipped_csr(bench.bundle.csr_pem)


def _hsm_wrong_root(bench: HsmBench) -> None:
    bench.anchors = (piv_pki(bench.kit.seed, LEGACY).root.certificate,)


def _hsm_lookalike_root(bench: HsmBench) -> None:
    bench.anchors = _lookalike(bench.kit.seed, "yubihsm-lookalike-root", bench.kit.hsm.root.certificate)


def hsm_mutations() -> list[Mutation]:
    """Every YubiHSM 2 defect, in catalogue order."""
    m: list[Mutation] = []
    add = _adder(m, HSM_FORMAT, "rsa-3072")

    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
    leaf = "chain.pem[0]"
    # origin and capabilities
    add("attr::imported", "OriginImported",
        _note("ATTRIBUTE_POLICY", crit, "origin imported (0x02)", "a CA certifies a key made outside the HSM", CSBR),
        "origin = 03 02 00 02", "ext.set", f"{leaf}/4.3", _fields(origin=0x02), invalid(Reason.ATTR_NOT_LOCAL),
        resign=True)
    add("attr::generated-reimported-wrapped", "OriginReimportedWrapped",
        _note("ATTRIBUTE_POLICY", crit, "origin generated + imported_wrapped (0x11)",
              "the key left the HSM under wrap and came back: copies may exist"),
        "origin = 0x11", "ext.set", f"{leaf}/4.3", _fields(origin=0x11), invalid(Reason.ATTR_NOT_NEVER_EXTRACTABLE),
        resign=True)
    add("attr::imported-wrapped", "OriginImportedWrapped",
        _note("ATTRIBUTE_POLICY", crit, "origin imported + imported_wrapped (0x12)",
              "a foreign key imported under wrap"),
        "origin = 0x12", "ext.set", f"{leaf}/4.3", _fields(origin=0x12), invalid(Reason.ATTR_NOT_LOCAL), resign=True)
    add("attr::generated-and-imported", "OriginGeneratedAndImported",
        _note("ENCODING", med, "origin generated and imported (0x03)", "contradictory origin read as generated"),
        "origin = 0x03", "ext.set", f"{leaf}/4.3", _fields(origin=0x03), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("attr::origin-unknown-bits", "OriginUnknownBits",
        _note("ENCODING", low, "origin 0x41: an undefined bit", "parsers masking bits read it as generated"),
        "origin = 0x41", "ext.set", f"{leaf}/4.3", _fields(origin=0x41), invalid(Reason.MALFORMED), resign=True)
    add("attr::exportable-under-wrap", "ExportableUnderWrap",
        _note("ATTRIBUTE_POLICY", crit, "the key has the exportable-under-wrap capability",
              "the key can leave the HSM", CSBR),
        "capabilities |= exportable-under-wrap", "ext.set", f"{leaf}/4.5",
        lambda b: b.with_fields(capabilities=b.fields.capabilities | capability_mask("exportable-under-wrap")),
        invalid(Reason.ATTR_EXTRACTABLE), resign=True)
    add("attr::exportable-key", "ExportableKey",
        _note("ATTRIBUTE_POLICY", crit, "a key generated with exportable-under-wrap (its true capabilities)",
              "the key can leave the HSM"),
        "the exportable RSA-3072 key's attestation", "key.replace", leaf, _hsm_key("exportable"),
        invalid(Reason.ATTR_EXTRACTABLE), resign=True)
    add("attr::no-sign-capability", "NoSignCapability",
        _note("PROFILE", low, "a decrypt-only key (no sign capability)",
              "valid evidence; the strict (code-signing) profile rejects it", CSBR),
        "the decrypt-only RSA-3072 key", "key.replace", leaf, _hsm_key("decrypt-only"),
        strict_only(Reason.KEY_PURPOSE), resign=True)
    add("attr::serial-differs-from-device", "SerialDiffersFromDevice",
        _note("ATTRIBUTE_POLICY", high, "the key certificate's serial is not its issuing device's",
              "a certificate claiming another device"),
        "4.2 = serial + 1", "ext.set", f"{leaf}/4.2", lambda b: b.with_fields(serial=b.fields.serial + 1),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("request::serial-mismatch", "RequestSerialMismatch",
        _note("POLICY", high, "the key is on another YubiHSM than the request names",
              "a key from any HSM passes for the registered one"),
        "request serial = another", "json.set", "<stem>.request.json/serial",
        lambda b: setattr(b.bundle, "expected_serial", b.kit.hsm.serial + 5), invalid(Reason.ATTR_CONFLICT),
        resign=False)
    add("request::second-request", "HsmSecondRequest",
        _note("POLICY", high, "a second request file naming another YubiHSM beside the genuine one",
              "a verifier that reads the request only when there is exactly one ignores both and accepts a key "
              "of an HSM the relying party's request may not name (MALFORMED: an ambiguous bundle is rejected)"),
        "other.request.json with another serial added", "file.add", "other.request.json",
        lambda b: b.extra.update({"other.request.json": indented_json({"serial": b.kit.hsm.serial + 5}, 2)}),
        invalid(Reason.MALFORMED), resign=False)
    add("attr::object-id-mismatch", "ObjectIdMismatch",
        _note("ENCODING", low, "the subject names another object id than 4.6", "which key is attested is unclear"),
        "subject id:0x0001", "cert.reissue", f"{leaf}/subject",
        lambda b: b.reissue_leaf(subject=cn("YubiHSM Attestation id:0x0001")), invalid(Reason.ATTR_CONFLICT),
        resign=True)
    # encodings (python-yubihsm's reader as the oracle)
    add("ext::label-long-form-length", "LabelLongFormLength",
        _note("ENCODING", med, "the label's UTF8String uses a long-form length (0c 81 nn)",
              "python-yubihsm reads value[2:] and gets a corrupted label", SPEC),
        "4.9 = 0c 81 <len> <label>", "ext.set", f"{leaf}/4.9",
        lambda b: _raw(HSM_LABEL, b"\x0c\x81" + bytes([len(b.fields.label.encode())]) + b.fields.label.encode())(b),
        invalid(Reason.MALFORMED), resign=True)
    add("ext::label-not-utf8", "LabelNotUtf8",
        _note("ENCODING", low, "the label's bytes are not UTF-8", "decoders differ"),
        "4.9 = 0c 02 ff fe", "ext.set", f"{leaf}/4.9", _raw(HSM_LABEL, b"\x0c\x02\xff\xfe"), invalid(Reason.MALFORMED),
        resign=True)
    add("ext::origin-missing", "OriginMissing",
        _note("ATTRIBUTE_POLICY", high, "no origin extension", "generated or imported is unknown"),
        "4.3 removed", "ext.remove", f"{leaf}/4.3", _raw(HSM_ORIGIN, None), invalid(Reason.ATTR_MISSING), resign=True)
    add("ext::serial-missing", "HsmSerialMissing",
        _note("ATTRIBUTE_POLICY", med, "no serial extension", "the device is unknown"),
        "4.2 removed", "ext.remove", f"{leaf}/4.2", _raw(HSM_SERIAL, None), invalid(Reason.ATTR_MISSING), resign=True)
    add("ext::serial-raw-bytes", "HsmSerialRawBytes",
        _note("ENCODING", med, "4.2 holds raw bytes, not a DER INTEGER", "parsers disagree on the serial"),
        "4.2 = 4 raw bytes", "ext.set", f"{leaf}/4.2",
        lambda b: _raw(HSM_SERIAL, b.fields.serial.to_bytes(4, "big"))(b), invalid(Reason.MALFORMED), resign=True)
    add("ext::origin-two-octets", "OriginTwoOctets",
        _note("ENCODING", low, "origin BIT STRING of 16 bits", "a reader taking the integer value sees 0x0100"),
        "4.3 = 03 03 00 01 00", "ext.set", f"{leaf}/4.3", _raw(HSM_ORIGIN, b"\x03\x03\x00\x01\x00"),
        invalid(Reason.MALFORMED), resign=True)
    add("ext::origin-octet-string", "OriginOctetString",
        _note("ENCODING", low, "origin as an OCTET STRING", "type confusion"),
        "4.3 = 04 02 00 01", "ext.set", f"{leaf}/4.3", _raw(HSM_ORIGIN, der_tlv(0x04, b"\x00\x01")),
        invalid(Reason.MALFORMED), resign=True)
    add("ext::serial-critical", "HsmSerialCritical",
        _note("ENCODING", med, "4.2 marked critical", "RFC 5280 verifiers must reject unknown critical extensions"),
        "4.2 critical", "ext.critical", f"{leaf}/4.2",
        lambda b: _raw(HSM_SERIAL, der_integer(b.fields.serial), critical=True)(b),
        invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    add("variant::unknown-extension", "HsmUnknownExtension",
        _note("EXTENSIBILITY", info, "an extra non-critical extension 4.99",
              "structural verifiers tolerate it; strict ones reject unknown content"),
        "4.99 added", "ext.add", f"{leaf}/4.99",
        lambda b: b.reissue_leaf(extensions=(*(Ext(e) for e in hsm_key_extensions(b.fields)), Ext(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.41482.4.99"), b"\x05\x00")))),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    # chain
    add("chain::key-cert-by-other-key", "KeyCertByOtherKey",
        _note("CHAIN", crit, "the key certificate names the device but another key signed it",
              "a verifier checking only the device chain accepts any certificate"),
        "leaf re-signed by an impostor key", "cert.resign", leaf,
        lambda b: b.reissue_leaf(signer=_impostor(b.kit.seed, "yubihsm-leaf", b.kit.hsm.device.key)),
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::device-cert-by-other-key", "DeviceCertByOtherKey",
        _note("CHAIN", crit, "the device attestation certificate is not signed by the sub-CA",
              "issuer names matched instead of signatures"),
        "chain.pem[1] re-signed by an impostor key", "cert.resign", "chain.pem[1]",
        _hsm_reissue_device(lambda b: _impostor(b.kit.seed, "yubihsm-sub-ca", b.kit.hsm.sub_ca.key)),
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::custom-attestation-key", "CustomAttestationKey",
        _note("CHAIN", crit, "a user attestation key with a self-signed certificate named like the device's",
              "a verifier that stops at the attesting certificate accepts any key"),
        "self-signed device certificate, leaf re-issued under it", "cert.replace", "chain.pem[1]",
        _hsm_self_signed_device, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::device-cert-missing", "DeviceCertMissing",
        _note("CHAIN", high, "the chain lacks the device attestation certificate", "no path to the root"),
        "chain.pem[1] removed", "cert.remove", "chain.pem[1]", _pop_chain(1),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::sub-ca-missing", "SubCaMissing",
        _note("CHAIN", high, "the chain lacks the sub-CA: no certificate in the bundle or trust store is named as "
                             "the device certificate's issuer, and the bundle's root copy stays unreached "
                             "(CHAIN_INCOMPLETE, a gap below a carried root; see hsmsim.pki.chain.validate_chain)",
              "no path to the root"),
        "chain.pem[2] removed", "cert.remove", "chain.pem[2]", _pop_chain(2),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::wrong-root", "HsmWrongRoot",
        _note("CHAIN", high, "the verifier trusts the YubiKey PIV root only", "another product's root"),
        "anchor = PIV root", "trust.replace", "anchors", _hsm_wrong_root, invalid(Reason.CHAIN_UNTRUSTED),
        resign=False)
    add("chain::lookalike-root", "HsmLookalikeRoot",
        _note("CHAIN", crit, "a trusted root with Yubico's name and another key", "name-matching verifiers trust it"),
        "anchor re-issued with an impostor key", "trust.replace", "anchors", _hsm_lookalike_root,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::expired", "HsmExpired",
        _note("CHAIN", med, "validated after 2071-10-05", "expired evidence is accepted"),
        "validation time 2072-01-01", "time.set", "trust.validationTime",
        lambda b: setattr(b, "validation_time", datetime(2072, 1, 1, tzinfo=UTC)), invalid(Reason.CERT_EXPIRED),
        resign=False)
    add("chain::key-cert-not-yet-valid", "HsmNotYetValid",
        _note("CHAIN", low, "the key certificate is valid only from 2030", "post-dated evidence"),
        "leaf notBefore 2030", "cert.reissue", f"{leaf}/validity",
        lambda b: b.reissue_leaf(not_before=datetime(2030, 1, 1, tzinfo=UTC)), invalid(Reason.CERT_NOT_YET_VALID),
        resign=True)
    add("chain::device-cert-not-ca", "DeviceCertNotCa",
        _note("CHAIN", high, "the device attestation certificate says CA:FALSE", "a non-CA issues certificates"),
        "chain.pem[1] basicConstraints CA:FALSE", "cert.reissue", "chain.pem[1]/basicConstraints",
        _hsm_device_exts((x509.BasicConstraints.oid, Ext(x509.BasicConstraints(ca=False, path_length=None), True))),
        invalid(Reason.CERT_NOT_CA), resign=False)
    add("chain::sub-ca-path-length", "SubCaPathLength",
        _note("CHAIN", med, "the sub-CA allows no intermediate below it (pathlen 0)",
              "the device certificate exceeds the path length"),
        "chain.pem[2] pathlen 0", "cert.reissue", "chain.pem[2]/basicConstraints", _hsm_sub_ca_path_length,
        invalid(Reason.CERT_PATH_LENGTH), resign=False)
    # binding
    add("binding::csr-other-key", "HsmCsrOtherKey",
        _note("KEY_BINDING", crit, "the CSR asks for another key", "attested key != CSR key", CSBR),
        "CSR for the P-256 key", "csr.replace", "<stem>.csr", _hsm_other_csr, invalid(Reason.KEY_MISMATCH),
        resign=False)
    add("binding::attests-another-key", "HsmAttestsAnotherKey",
        _note("KEY_BINDING", crit, "the key certificate attests another key than the CSR's", "key substitution"),
        "leaf re-issued for the P-384 key", "cert.reissue", f"{leaf}/subjectPublicKeyInfo",
        lambda b: b.reissue_leaf(public_key=b.kit.keys["ec-p384"].public_key), invalid(Reason.KEY_MISMATCH),
        resign=True)
    add("binding::csr-signature-broken", "HsmCsrSignatureBroken",
        _note("KEY_BINDING", high, "the CSR's self-signature does not verify", "no proof of possession"),
        "one bit of the CSR signature flipped", "bytes.flip_bit", "<stem>.csr", _hsm_broken_csr,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("binding::no-csr", "HsmNoCsr",
        _note("KEY_BINDING", info, "no CSR beside the chain", "the strict profile requires one", CSBR),
        "CSR removed", "file.remove", "<stem>.csr", lambda b: setattr(b.bundle, "csr_pem", None),
        strict_only(Reason.MISSING_INPUT), resign=False)
    add("binding::second-csr", "HsmSecondCsr",
        second_csr_note("KEY_BINDING", "the attested key", (SPEC,)),
        "other.csr for the P-256 key added", "file.add", "other.csr",
        lambda b: b.extra.update({"other.csr": _csr_for(b.kit, b.key.label, "ec-p256")}), invalid(Reason.MALFORMED),
        resign=False)
    return m


HSM_COMMON_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated key attestation from the emulated YubiHSM 2",
                       "a verifier that rejects it is broken for this key type", (SPEC,)),
    "Resigned": PIV_COMMON_NOTES["Resigned"],
    "Stale": PIV_COMMON_NOTES["Stale"],
    "StrictKeyPolicy": PIV_COMMON_NOTES["StrictKeyPolicy"],
}


def hsm_notes() -> dict[str, FlagNote]:
    """Every flag the YubiHSM 2 vectors use."""
    return flag_notes(HSM_COMMON_NOTES, hsm_mutations())


def hsm_vector_cases(seed: str) -> list[VectorCase]:
    """The YubiHSM 2 vectors: goldens per key type, then every mutation."""
    kit = Kit.build(seed)
    cases = []
    for spec in HSM_GOLDENS:
        bench = HsmBench.open(kit, spec)
        weak = spec in ("rsa-2048", "ed25519")
        cases.append(VectorCase(
            id=f"{HSM_FORMAT}::golden::{spec}", comment=f"generated {spec} key, sign capabilities, domain 1",
            flags=("Golden", *(("StrictKeyPolicy",) if weak else ())),
            expected=strict_only(Reason.KEY_POLICY) if weak else valid(), evidence=bench.evidence(),
            anchors=bench.anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    return cases + _mutated(seed, HSM_FORMAT, hsm_mutations(), lambda golden: HsmBench.open(kit, golden))
