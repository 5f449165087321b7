"""The android-key format: the KeyDescription codec, parity with the real device chains in ../shared,
the emulated Google PKI, the reference verifier's reasons, the catalogue, determinism, detection and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import subprocess
import sys
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs7

from hsmsim.device import Device
from hsmsim.encoding import der_explicit, der_integer, der_tlv
from hsmsim.errors import BundleError, HsmsimError, ParameterError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.android import cbor, keydescription
from hsmsim.formats.android import verify as android_verify
from hsmsim.formats.android.acme_catalogue import mutations as acme_mutations
from hsmsim.formats.android.acme_verify import read_statement
from hsmsim.formats.android.catalogue import (
    ATTEST_TIME,
    GOLDEN_BY_NAME,
    GOLDENS,
    VALIDATION_TIME,
    AndroidKit,
    Workbench,
    mutations,
)
from hsmsim.formats.android.format import AndroidKeyFormat
from hsmsim.formats.android.generate import pinned_roots_pem
from hsmsim.formats.android.keydescription import (
    TAGS,
    Algorithm,
    ApplicationId,
    AuthorizationList,
    KeyDescription,
    KeyDescriptionAsn1,
    Kind,
    PackageInfo,
    RootOfTrust,
    SecurityLevel,
    encode_key_description,
    key_description_json,
    parse_key_description,
    read_authorization_list,
    read_children,
)
from hsmsim.formats.android.layout import OID_KEY_DESCRIPTION, STATUS_FILE, key_description_der
from hsmsim.formats.android.options import AndroidOptions
from hsmsim.formats.android.pki import (
    LEGACY_ROOT_CN,
    ROOT_2026_CN,
    ChainShape,
    android_identity,
    legacy_root,
    root_2026,
    software_identity,
    software_root,
    software_roots,
    trust_roots,
)
from hsmsim.formats.android.status import render_status_list, serial_key
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.container import cbor_decode
from tests.cli_process import run_hsmsim
from tests.conftest import KEY_CREATED, SEED
from tests.hostile_files import DEEP_JSON, make_hostile

ROOT = Path(__file__).resolve().parents[2]
DEFECT_FLAGS_EXCLUDED = {"Resigned", "Stale", "Golden", "StrictKeyPolicy"}


@pytest.fixture(scope="module")
def android() -> AndroidKeyFormat:
    fmt = get_format("android-key")
    assert isinstance(fmt, AndroidKeyFormat)
    return fmt


@pytest.fixture(scope="module")
def kit() -> AndroidKit:
    return AndroidKit.build(SEED)


@pytest.fixture(scope="module")
def cases(android):
    return {case.id: case for case in android.vector_cases(SEED)}


@pytest.fixture(scope="module")
def trust() -> TrustAnchors:
    return TrustAnchors({"root": trust_roots(SEED)})


def leaf_description(evidence: Evidence) -> bytes:
    chain = x509.load_pem_x509_certificates(evidence.files[evidence.primary])
    der = key_description_der(chain[0])
    assert der is not None
    return der


# -- the codec ----------------------------------------------------------------------------------

def _every_tag_list() -> AuthorizationList:
    values: dict[str, object] = {}
    for spec in TAGS:
        values[spec.attr] = {
            Kind.INT: spec.number * 1000 + 7, Kind.INT_SET: (2, 3, spec.number), Kind.NULL: True,
            Kind.OCTETS: f"value-{spec.number}".encode(),
            Kind.ROOT_OF_TRUST: RootOfTrust(b"\x01" * 32, True, 0, b"\x02" * 32),
            Kind.APPLICATION_ID: ApplicationId((PackageInfo(b"com.example.b", 2), PackageInfo(b"com.example.a", 1)),
                                               (b"\x03" * 32, b"\x04" * 32)),
        }[spec.kind]
    return AuthorizationList(**values)  # type: ignore[arg-type]


def test_every_tag_round_trips_in_ascending_order():
    full = _every_tag_list()
    kd = KeyDescription(500, 2, 500, 2, b"challenge", b"unique", AuthorizationList(creation_date_time=1), full)
    der = encode_key_description(kd)
    parsed = parse_key_description(der, strict=True)
    assert parsed.hardware_enforced.present() == [spec.number for spec in TAGS]
    assert encode_key_description(parsed) == der
    # SET OF members come back in DER order; everything else exactly as written
    assert replace(parsed.hardware_enforced, **{s.attr: getattr(full, s.attr) for s in TAGS if s.kind is Kind.INT_SET},
                   attestation_application_id=full.attestation_application_id) == full
    (top,) = read_children(der, "", 2)
    hardware = read_children(read_children(top.content, "", 9)[7].content, "", 99)
    assert [entry.tag for entry in hardware] == sorted(entry.tag for entry in hardware)
    assert [f.name for f in fields(AuthorizationList)][:len(TAGS)] == [spec.attr for spec in TAGS]


def test_high_tag_encoding_matches_the_spec_bytes():
    kd = KeyDescription(400, 1, 400, 1, b"", b"", AuthorizationList(), AuthorizationList(purposes=(2,), origin=0))
    der = encode_key_description(kd)
    assert bytes.fromhex("a1053103020102") in der  # purpose [1] SET OF {SIGN}
    assert bytes.fromhex("bf853e03020100") in der  # origin [702] GENERATED


@pytest.mark.parametrize("number", [-(2**63), -129, -128, -1, 0, 127, 128, 255, 2**64 + 3])
def test_writer_matches_the_schema_classes_dump(number):
    """The hand-written DER writer emits what asn1crypto dumps for the schema (INTEGER widths, SET OF order,
    long lengths, high tag numbers)."""
    rot = RootOfTrust(b"\x01" * 200, False, number)
    kd = KeyDescription(number, 2, number, number, b"c" * 300, b"", AuthorizationList(
        purposes=(number, 3, 0), key_size=number, root_of_trust=rot, caller_nonce=True,
        attestation_application_id=ApplicationId((PackageInfo(b"z", number), PackageInfo(b"a" * 130, 1)),
                                                 (b"\xff", b"\x00" * 40))), _every_tag_list())
    der = encode_key_description(kd)
    assert bytes(KeyDescriptionAsn1.load(der).dump(force=True)) == der


@pytest.mark.parametrize("golden", [g.name for g in GOLDENS])
def test_goldens_parse_strictly_and_reencode_byte_for_byte(cases, golden):
    der = leaf_description(cases[f"android-key::golden::{golden}"].evidence)
    kd = parse_key_description(der, strict=True)
    assert encode_key_description(kd) == der
    assert kd.hardware_enforced.tags_ordered and not kd.hardware_enforced.unknown


def test_ml_dsa_and_keymint_500_fields(cases):
    kd = parse_key_description(leaf_description(cases["android-key::golden::tee-rkp-ml-dsa-87"].evidence))
    assert (kd.attestation_version, kd.keymint_version) == (500, 500)
    assert (kd.hardware_enforced.algorithm, kd.hardware_enforced.ml_dsa_variant) == (4, 2)
    assert kd.software_enforced.module_hash is not None and len(kd.software_enforced.module_hash) == 32
    factory = parse_key_description(leaf_description(cases["android-key::golden::tee-factory-ec-p256"].evidence))
    assert (factory.attestation_version, factory.keymint_version, factory.software_enforced.module_hash) == (
        300, 300, None)


def test_lenient_reader_records_what_strict_refuses():
    kd = KeyDescription(400, 1, 400, 1, b"c", b"", AuthorizationList(),
                        AuthorizationList(purposes=(2,), algorithm=3, origin=0))
    children = [c.der for c in read_children(read_children(encode_key_description(kd), "", 2)[0].content, "", 9)]
    entries = [e.der for e in read_children(read_children(children[7], "", 2)[0].content, "", 9)]
    unknown = bytes.fromhex("bf870302") + b"\x05\x00"  # [899] EXPLICIT NULL
    body = entries[1] + entries[0] + entries[2] + unknown
    wire = encode_key_description(kd).replace(children[7], b"\x30" + bytes([len(body)]) + body)
    wire = b"\x30" + bytes([len(wire) - 2]) + wire[2:]
    lenient = parse_key_description(wire)
    assert not lenient.hardware_enforced.tags_ordered
    assert lenient.hardware_enforced.unknown == ((899, b"\x05\x00"),)
    assert lenient.hardware_enforced.purposes == (2,) and lenient.hardware_enforced.origin == 0
    with pytest.raises(Rejected) as caught:
        parse_key_description(wire, strict=True)
    assert caught.value.reason is Reason.UNEXPECTED_CONTENT


@pytest.mark.parametrize(("der", "reason"), [
    (b"", Reason.MALFORMED),
    (b"\x30\x00", Reason.MALFORMED),
    (b"\x31\x00", Reason.MALFORMED),
    (b"\x30\x80\x00\x00", Reason.MALFORMED),
    (b"\x30\x84\xff\xff\xff\xff", Reason.MALFORMED),
    (b"\x30" + b"\x82\x01\x00" + b"\x02\x01\x00" * 85 + b"\x02", Reason.MALFORMED),
    (b"A" * 70_000, Reason.LIMIT_EXCEEDED),
])
def test_hostile_key_descriptions_are_rejected_with_a_reason(der, reason):
    with pytest.raises(Rejected) as caught:
        parse_key_description(der)
    assert caught.value.reason is reason


@pytest.mark.parametrize("tail", ["6800", "4700", "04006800"])
def test_root_of_trust_with_a_foreign_field_is_malformed(tail):
    """asn1crypto reads an application-class field there as a value without ``native`` (AttributeError)."""
    body = bytes.fromhex("0400" "0101ff" "0a0100" + tail)
    entry = der_explicit(704, b"\x30" + bytes([len(body)]) + body)
    with pytest.raises(Rejected) as caught:
        read_authorization_list(entry, "hardwareEnforced")
    assert caught.value.reason is Reason.MALFORMED and "rootOfTrust" in caught.value.detail


def test_random_corruption_of_the_description_gives_rejections_not_exceptions(cases):
    der = leaf_description(cases["android-key::golden::tee-rkp-rsa-3072"].evidence)
    rng = random.Random(20260302)
    outcomes = set()
    for _ in range(400):
        noisy = bytearray(der)
        for _ in range(rng.randint(1, 3)):
            noisy[rng.randrange(len(noisy))] = rng.randrange(256)
        for strict in (False, True):
            try:
                parse_key_description(bytes(noisy), strict=strict)
                outcomes.add("parsed")
            except Rejected as rejection:
                outcomes.add(rejection.reason)
    assert Reason.MALFORMED in outcomes and "parsed" in outcomes


_FAST_PATHS = ("_walk_der", "_primitive", "_fast_head", "_fast_root_of_trust", "_fast_application_id", "_fast_value")
"""The fast reader's entry points: each returns None for "not the common shape", which sends the reader
through asn1crypto's schema classes."""


def _outcome(der: bytes, strict: bool) -> object:
    try:
        return parse_key_description(der, strict=strict)
    except Rejected as rejection:
        return rejection.reason, rejection.detail
    except Exception as exc:  # noqa: BLE001 - a crash is an outcome the two paths must share too
        return type(exc).__name__


def _mutations(der: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        noisy = bytearray(der)
        kind = rng.randrange(3)
        if kind == 0:
            for _ in range(rng.randint(1, 3)):
                noisy[rng.randrange(len(noisy))] = rng.randrange(256)
        elif kind == 1:
            noisy[rng.randrange(len(noisy))] ^= 1 << rng.randrange(8)
        else:
            del noisy[rng.randrange(len(noisy)):]
        out.append(bytes(noisy))
    return out


def test_the_fast_reader_decodes_exactly_as_the_asn1crypto_fallback(cases, monkeypatch):
    rng = random.Random(20261130)
    inputs = []
    for golden in GOLDENS:
        der = leaf_description(cases[f"android-key::golden::{golden.name}"].evidence)
        inputs += [der, *_mutations(der, rng, 30)]
    fast = [(_outcome(der, False), _outcome(der, True)) for der in inputs]
    for name in _FAST_PATHS:
        monkeypatch.setattr(keydescription, name, lambda *_args: None)
    slow = [(_outcome(der, False), _outcome(der, True)) for der in inputs]
    mismatches = [(der.hex(), f, s) for der, f, s in zip(inputs, fast, slow, strict=True) if f != s]
    assert not mismatches, mismatches[:3]
    assert sum(isinstance(outcome[0], KeyDescription) for outcome in fast) > len(GOLDENS)  # mutants parse too


# -- parity with the real device chains -----------------------------------------------------------

def _expected_json(path: Path) -> dict:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))
    document = json.loads(text)
    for name in ("softwareEnforced", "hardwareEnforced"):
        document[name].setdefault("areTagsOrdered", True)  # the maker's default, printed only by newer versions
    return document


def _validation_time(chain: list[x509.Certificate], roots: list[x509.Certificate]):
    """Inside every certificate of the path: the latest notBefore of the chain and of the pinned root it uses."""
    used = [root for root in roots if root.subject == chain[-1].issuer]
    return max(c.not_valid_before_utc for c in [*chain, *used]) + timedelta(seconds=60)


# -- software attestation: decided by the root, not by the level the description claims -------------

SOFTWARE_GOLDEN, HARDWARE_GOLDEN = "software-keymaster1-ec-p256", "tee-rkp-ec-p256"
SOFTWARE_VALIDATION_TIME = GOLDEN_BY_NAME[SOFTWARE_GOLDEN].validation_time


def _levels_evidence(kit: AndroidKit, golden: str, attestation: SecurityLevel, keymint: SecurityLevel) -> Evidence:
    bench = Workbench.open(kit, golden)
    bench.description = replace(bench.description, attestation_security_level=attestation,
                                keymint_security_level=keymint)
    bench.resign()
    return bench.evidence()


@pytest.fixture(scope="module")
def with_software_root(kit) -> TrustAnchors:
    """A relying party that pins the software roots beside the hardware roots."""
    return TrustAnchors({"root": kit.anchors_for(SOFTWARE_GOLDEN)})


@pytest.mark.parametrize(("algorithm", "constant"), [
    (Algorithm.RSA, android_verify.EMULATED_SOFTWARE_ROOT_SPKI_SHA256),
    (Algorithm.EC, android_verify.EMULATED_EC_SOFTWARE_ROOT_SPKI_SHA256),
])
def test_the_emulated_software_roots_are_recognised_by_their_keys(kit, algorithm, constant):
    root = software_root(algorithm).certificate
    assert kit.anchors_for(SOFTWARE_GOLDEN) == (*trust_roots(SEED), *software_roots())
    assert root in software_roots()
    assert kit.anchors_for(HARDWARE_GOLDEN) == trust_roots(SEED)
    assert "EMULATED" in root.subject.rfc4514_string() and software_identity(algorithm).root == root
    spki = root.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert hashlib.sha256(spki).digest() == constant
    assert android_verify.is_software_root(root)
    assert not any(android_verify.is_software_root(r) for r in trust_roots(SEED))


@pytest.mark.parametrize("keymint", [SecurityLevel.SOFTWARE, SecurityLevel.TRUSTED_ENVIRONMENT,
                                     SecurityLevel.STRONG_BOX])
def test_software_attestation_under_a_software_root_is_structural_only(android, kit, with_software_root, keymint):
    # the Keymaster 1 golden: no rootOfTrust, keyMint level at or above Software
    evidence = _levels_evidence(kit, SOFTWARE_GOLDEN, SecurityLevel.SOFTWARE, keymint)
    verdict = android.verify(evidence, with_software_root, at=SOFTWARE_VALIDATION_TIME)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims.extra == {"security_level": "SOFTWARE"}
    assert verdict.detail.startswith("securityLevel=SOFTWARE ")
    assert (f"keyMintSecurityLevel={keymint.name}" in verdict.detail) is (keymint is not SecurityLevel.SOFTWARE)
    strict = android.verify(evidence, with_software_root, at=SOFTWARE_VALIDATION_TIME, profile=Profile.STRICT)
    assert strict.reason is Reason.SECURITY_LEVEL, strict.summary()


@pytest.mark.parametrize(("golden", "attestation", "keymint", "reason"), [
    # a software root vouches for no hardware attestation
    (SOFTWARE_GOLDEN, SecurityLevel.TRUSTED_ENVIRONMENT, SecurityLevel.SOFTWARE, Reason.ATTR_CONFLICT),
    (SOFTWARE_GOLDEN, SecurityLevel.STRONG_BOX, SecurityLevel.TRUSTED_ENVIRONMENT, Reason.ATTR_CONFLICT),
    (SOFTWARE_GOLDEN, SecurityLevel.TRUSTED_ENVIRONMENT, SecurityLevel.TRUSTED_ENVIRONMENT, Reason.SECURITY_LEVEL),
    (SOFTWARE_GOLDEN, SecurityLevel.STRONG_BOX, SecurityLevel.STRONG_BOX, Reason.SECURITY_LEVEL),
    # software levels under a hardware root, the software root pinned beside: the attack, as before
    (HARDWARE_GOLDEN, SecurityLevel.SOFTWARE, SecurityLevel.TRUSTED_ENVIRONMENT, Reason.ATTR_CONFLICT),
    (HARDWARE_GOLDEN, SecurityLevel.SOFTWARE, SecurityLevel.SOFTWARE, Reason.SECURITY_LEVEL),
    (HARDWARE_GOLDEN, SecurityLevel.TRUSTED_ENVIRONMENT, SecurityLevel.SOFTWARE, Reason.ATTR_CONFLICT),
])
def test_levels_the_root_cannot_vouch_for_are_rejected_in_both_profiles(android, kit, with_software_root, golden,
                                                                          attestation, keymint, reason):
    evidence = _levels_evidence(kit, golden, attestation, keymint)
    for profile in Profile:
        verdict = android.verify(evidence, with_software_root, at=GOLDEN_BY_NAME[golden].validation_time,
                                 profile=profile)
        assert verdict.reason is reason, f"{profile}: {verdict.summary()}"


def test_the_google_software_root_is_recognised_by_its_key(shared_dir):
    root = x509.load_der_x509_certificate(
        (shared_dir / "interop" / "purebred" / "TrustAnchors" / "Pixel" / "Pixel1.der").read_bytes())
    assert root.subject.rfc4514_string() == "OU=Android,O=Google\\, Inc.,L=Mountain View,ST=California,C=US"
    assert android_verify.is_software_root(root)


def _real_chains(shared: Path) -> list[Path]:
    chains = sorted(p for p in (shared / "interop" / "android").glob("*/*/*.pem") if p.parent.parent.name != "invalid")
    assert chains, "no real Android chains found in ../shared/interop/android"
    return chains


def test_real_device_chains_verify_and_parse_like_the_maker(shared_dir, android):
    folder = shared_dir / "interop" / "android"
    trust = android.trust_anchors_from_files([folder / "roots.json"])
    assert {c.public_key().key_size for c in trust.get("root")} == {4096, 384}
    for path in _real_chains(shared_dir):
        evidence = android.load(path)
        chain = x509.load_pem_x509_certificates(evidence.files[evidence.primary])
        at = _validation_time(chain, trust.get("root"))
        verdict = android.verify(evidence, trust, at=at)
        assert verdict.accepted, f"{path}: {verdict.summary()}"
        assert verdict.claims.spki_der is not None and verdict.claims.generated_on_device
        assert "securityLevel=" in verdict.detail
        assert android.detect(path), path
        expected = _expected_json(path.with_suffix(".json"))
        parsed = key_description_json(parse_key_description(leaf_description(evidence), strict=True))
        assert parsed == expected, path
        # the strict profile: the issued challenge is known; locked, verified devices pass
        challenge = base64.b64decode(expected["attestationChallenge"])
        with_challenge = Evidence(evidence.format, {**evidence.files, "issued.challenge": challenge},
                                  evidence.primary)
        strict = android.verify(with_challenge, trust, at=at, profile=Profile.STRICT)
        rot = expected["hardwareEnforced"]["rootOfTrust"]
        locked = rot["deviceLocked"] and rot["verifiedBootState"] == "VERIFIED"
        hardware = expected["hardwareEnforced"]
        key_ok = hardware["algorithms"] == "3" or int(hardware["keySize"]) >= 3072
        want = Reason.OK if locked and key_ok else Reason.DEVICE_INTEGRITY if not locked else Reason.KEY_POLICY
        assert strict.reason is want, f"{path}: {strict.summary()}"
        wrong = Evidence(evidence.format, {**evidence.files, "issued.challenge": challenge + b"x"}, evidence.primary)
        assert android.verify(wrong, trust, at=at).reason is Reason.CHALLENGE_MISMATCH


def test_real_chains_cover_every_shape(shared_dir):
    shapes = {path.stem for path in _real_chains(shared_dir)}
    assert any("RKP" in s for s in shapes) and any("2026" in s for s in shapes) and any("SB" in s for s in shapes)


def test_invalid_real_chains_are_rejected_for_the_right_reason(shared_dir, android):
    folder = shared_dir / "interop" / "android"
    trust = android.trust_anchors_from_files([folder / "roots.json"])
    tags = android.load(folder / "invalid" / "tags_not_in_ascending_order.pem")
    chain = x509.load_pem_x509_certificates(tags.files[tags.primary])
    at = _validation_time(chain, trust.get("root"))
    for profile in Profile:
        verdict = android.verify(tags, trust, at=at, profile=profile)
        # the maker edited the leaf without re-signing it: the signature check stops it first
        assert verdict.reason is Reason.CERT_SIGNATURE_INVALID, verdict.summary()
    with pytest.raises(Rejected) as caught:
        parse_key_description(leaf_description(tags), strict=True)
    assert caught.value.reason is Reason.MALFORMED and "ascending" in caught.value.detail
    assert not parse_key_description(leaf_description(tags)).hardware_enforced.tags_ordered

    rot = android.load(folder / "invalid" / "malformed_rot_device_locked.pem")
    chain = x509.load_pem_x509_certificates(rot.files[rot.primary])
    at = _validation_time(chain, trust.get("root"))
    strict = android.verify(rot, trust, at=at, profile=Profile.STRICT)
    assert strict.reason is Reason.MALFORMED and "deviceLocked" in strict.detail, strict.summary()
    # android/keyattestation parses the BER boolean 0x01 as TRUE; the structural profile does the same
    lenient = parse_key_description(leaf_description(rot))
    assert lenient.hardware_enforced.root_of_trust is not None and lenient.hardware_enforced.root_of_trust.device_locked
    assert android.verify(rot, trust, at=at).accepted


def test_a_genuine_unsorted_set_of_is_structural_only(shared_dir):
    """The real Pixel 2 (Purebred) writes its padding SET OF as {4, 2, 3, 5}: the one non-DER byte run in its
    KeyDescription. The structural profile reads it as Google's parser does; strict keeps X.690's order (a
    choice: docs/formats/android.md)."""
    bag = (shared_dir / "interop" / "purebred" / "Pixel2" / "1_device_preenroll_attestation.bin").read_bytes()
    leaf = next(c for c in pkcs7.load_der_pkcs7_certificates(bag)
                if any(e.oid.dotted_string == OID_KEY_DESCRIPTION for e in c.extensions))
    der = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(OID_KEY_DESCRIPTION)).value.value
    description = parse_key_description(der)
    assert description.hardware_enforced.paddings == (4, 2, 3, 5)
    as_written, sorted_ = (der_explicit(6, der_tlv(0x31, b"".join(der_integer(v) for v in order)))
                           for order in ((4, 2, 3, 5), (2, 3, 4, 5)))
    assert der.count(as_written) == 1 and encode_key_description(description) == der.replace(as_written, sorted_)
    with pytest.raises(Rejected) as caught:
        parse_key_description(der, strict=True)
    assert caught.value.reason is Reason.MALFORMED and "SET OF order" in caught.value.detail


# -- the emulated PKI --------------------------------------------------------------------------

def _layout(cert: x509.Certificate) -> list[tuple[x509.ObjectIdentifier, bool]]:
    """Extension OIDs and criticality, in order."""
    return [(e.oid, e.critical) for e in cert.extensions]


def test_emulated_roots_say_so_and_match_the_real_ones_in_shape(shared_dir):
    real = [x509.load_pem_x509_certificate(p.encode())
            for p in json.loads((shared_dir / "interop" / "android" / "roots.json").read_text())]
    legacy, p384 = trust_roots(SEED)
    assert LEGACY_ROOT_CN in legacy.subject.rfc4514_string() and ROOT_2026_CN in p384.subject.rfc4514_string()
    for ours, theirs in ((legacy, real[0]), (p384, real[1])):
        assert type(ours.public_key()) is type(theirs.public_key())
        assert ours.public_key().key_size == theirs.public_key().key_size
        assert ours.signature_algorithm_oid == theirs.signature_algorithm_oid
        assert _layout(ours) == _layout(theirs)
    assert isinstance(legacy.public_key(), rsa.RSAPublicKey)
    assert isinstance(p384.public_key(), ec.EllipticCurvePublicKey)


@pytest.mark.parametrize("shape", list(ChainShape))
def test_chain_shapes(kit, shape):
    identity = android_identity(SEED, kit.device.serial, SecurityLevel.STRONG_BOX, shape, ATTEST_TIME)
    names = [c.subject.rfc4514_string() for c in identity.chain]
    root = root_2026(SEED).certificate if shape is ChainShape.RKP_2026 else legacy_root(SEED).certificate
    assert identity.root == root and identity.chain[-1].issuer == root.subject
    if shape is ChainShape.FACTORY:
        assert all("2.5.4.12=TEE" in n for n in names) and len(names) == 2
    else:
        assert names[0].startswith("O=StrongBox,CN=") or "O=StrongBox" in names[0]
        assert ["Droid CA3 EMULATED" in names[1], "Droid CA2 EMULATED" in names[2]] == [True, True]
        extension_oids = [e.oid.dotted_string for e in identity.certificate.extensions]
        assert extension_oids[-1] == "1.3.6.1.4.1.11129.2.1.30"
        assert identity.certificate.not_valid_before_utc <= VALIDATION_TIME < identity.certificate.not_valid_after_utc


@pytest.mark.parametrize(("shape", "real_chain"), [(ChainShape.RKP, "caiman/sdk36/TEE_EC_RKP.pem"),
                                                   (ChainShape.RKP_2026, "tegu/sdk36/TEE_EC_2026_ROOT.pem")])
def test_rkp_cas_match_the_real_ones_in_shape(shared_dir, kit, shape, real_chain):
    """The RKP certificate, Droid CA3 and Droid CA2 against a real device's: extensions in order with their
    criticality, and keyUsage byte for byte (Droid CA3: keyCertSign only)."""
    real = x509.load_pem_x509_certificates((shared_dir / "interop" / "android" / real_chain).read_bytes())[1:4]
    ours = android_identity(SEED, kit.device.serial, SecurityLevel.TRUSTED_ENVIRONMENT, shape, ATTEST_TIME).chain[:3]
    for emulated, genuine in zip(ours, real, strict=True):
        assert _layout(emulated) == _layout(genuine), genuine.subject.rfc4514_string()
        usage = x509.ExtensionOID.KEY_USAGE
        assert (emulated.extensions.get_extension_for_oid(usage).value.public_bytes()
                == genuine.extensions.get_extension_for_oid(usage).value.public_bytes())
    assert ours[1].extensions.get_extension_for_class(x509.KeyUsage).value.public_bytes() == b"\x03\x02\x02\x04"
    if shape is ChainShape.RKP_2026:
        ca2_crl = ours[2].extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert ca2_crl[0].full_name[0].value == "https://android.googleapis.com/attestation/key_ca1.crl"
        ca3_crl = ours[1].extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
        ca3_aia = ours[1].extensions.get_extension_for_class(x509.AuthorityInformationAccess).value[0]
        assert ca3_crl.startswith("http://privateca-content-") and ca3_crl.endswith("/crl.crl")
        assert ca3_aia.access_location.value == ca3_crl.removesuffix("crl.crl") + "ca.crt"


def test_factory_golden_leaf_is_shaped_as_the_real_2022_factory_leaf(shared_dir, cases):
    """The factory golden against the real KeyMint 3 factory chain of 2022 (its chain dates are the emulated
    factory PKI's): the leaf's extensions in order with their criticality, its CN's string type, validity,
    versions, and the hardware-enforced tags outside the key's own parameters: no attestation IDs (710-717),
    vendor and boot patch levels (718, 719)."""
    real = x509.load_pem_x509_certificates(
        (shared_dir / "interop" / "android" / "invalid" / "tags_not_in_ascending_order.pem").read_bytes())[0]
    ours = _golden_chain(cases, "tee-factory-ec-p256")[0]
    assert _layout(ours) == _layout(real)
    common_name = [a for a in ours.subject if a.oid == x509.NameOID.COMMON_NAME]
    assert [a._type for a in common_name] == [a._type for a in real.subject if a.oid == x509.NameOID.COMMON_NAME]
    assert (ours.not_valid_before_utc, ours.not_valid_after_utc) == (real.not_valid_before_utc,
                                                                      real.not_valid_after_utc)
    key_parameters = {1, 2, 3, 5, 6, 10, 200}  # purpose, algorithm, size, digest, padding, curve, exponent

    def facts(cert: x509.Certificate) -> tuple[object, ...]:
        kd = parse_key_description(key_description_der(cert))
        return kd.attestation_version, kd.keymint_version, sorted(set(kd.hardware_enforced.present()) - key_parameters)

    assert facts(ours) == facts(real)


def test_rkp_certificates_rotate_with_the_same_key(kit):
    first = android_identity(SEED, kit.device.serial, SecurityLevel.TRUSTED_ENVIRONMENT, ChainShape.RKP, ATTEST_TIME)
    later = android_identity(SEED, kit.device.serial, SecurityLevel.TRUSTED_ENVIRONMENT, ChainShape.RKP,
                             ATTEST_TIME + timedelta(days=60))
    assert first.certificate.serial_number != later.certificate.serial_number
    assert first.certificate.public_key() == later.certificate.public_key()
    assert first.chain[2] == later.chain[2]  # Droid CA2 is long-lived


def test_rkp_without_root_ends_at_droid_ca2(cases):
    evidence = cases["android-key::golden::tee-rkp-no-root-ec-p256"].evidence
    chain = x509.load_pem_x509_certificates(evidence.files[evidence.primary])
    assert len(chain) == 4 and "Droid CA2" in chain[-1].subject.rfc4514_string()
    assert chain[-1].issuer != chain[-1].subject


# -- parity of the goldens with the real chains: names, root issue, versions, provisioning info ------------

_LEVEL_OF_PREFIX = {"TEE": SecurityLevel.TRUSTED_ENVIRONMENT, "SB": SecurityLevel.STRONG_BOX}


def _real_rkp_chains(shared: Path) -> list[tuple[Path, SecurityLevel, bool, list[x509.Certificate]]]:
    """Every real RKP chain: path, level (from the file name), whether under the 2026 root, certificates."""
    found = []
    for path in _real_chains(shared):
        chain = x509.load_pem_x509_certificates(path.read_bytes())
        found.append((path, _LEVEL_OF_PREFIX[path.stem.split("_")[0]], "2026" in path.stem, chain))
    assert {(level, under_2026) for _, level, under_2026, _ in found} == {
        (level, under_2026) for level in _LEVEL_OF_PREFIX.values() for under_2026 in (False, True)}
    return found


def _golden_chain(cases, name: str) -> list[x509.Certificate]:
    evidence = cases[f"android-key::golden::{name}"].evidence
    return x509.load_pem_x509_certificates(evidence.files[evidence.primary])


def _rkp_golden(level: SecurityLevel, under_2026: bool) -> str:
    prefix = "tee" if level is SecurityLevel.TRUSTED_ENVIRONMENT else "strongbox"
    return f"{prefix}-{'2026-root' if under_2026 else 'rkp'}-ec-p256"


def _chain_evidence(chain: list[x509.Certificate]) -> Evidence:
    pem = b"".join(c.public_bytes(Encoding.PEM) for c in chain)
    return Evidence("android-key", {"chain.pem": pem}, "chain.pem")


def _attribute_order(name: x509.Name) -> list[x509.ObjectIdentifier]:
    return [attribute.oid for attribute in name]


def test_rkp_attestation_certificate_names_order_as_the_real_ones(shared_dir, cases):
    """CN then O under the legacy root (akita, caiman), O then CN under the 2026 root (tegu); the leaf's issuer
    is the same name."""
    for path, level, under_2026, real in _real_rkp_chains(shared_dir):
        ours = _golden_chain(cases, _rkp_golden(level, under_2026))
        assert _attribute_order(ours[1].subject) == _attribute_order(real[1].subject), path
        assert ours[1].subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == \
            real[1].subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value, path
        assert _attribute_order(ours[0].issuer) == _attribute_order(real[0].issuer), path


def test_legacy_root_chains_end_with_the_issue_real_devices_send(shared_dir, cases):
    """Every real RKP chain under the legacy root ends with the 2019 issue (15 years), and so do the RKP
    goldens; the factory golden, dated as the real 2022 factory chain, ends with the 2022 issue as that one does.
    Both issues have the pinned root's name and key."""
    pinned = legacy_root(SEED).certificate
    real_2019 = {(c[-1].not_valid_before_utc, c[-1].not_valid_after_utc)
                 for _, _, under_2026, c in _real_rkp_chains(shared_dir) if not under_2026}
    assert len(real_2019) == 1
    for golden in GOLDENS:
        if golden.level is SecurityLevel.SOFTWARE or golden.shape in (ChainShape.RKP_NO_ROOT, ChainShape.RKP_2026):
            continue
        root = _golden_chain(cases, golden.name)[-1]
        assert root.subject == pinned.subject and root.public_key() == pinned.public_key(), golden.name
        if golden.shape is ChainShape.RKP:
            assert {(root.not_valid_before_utc, root.not_valid_after_utc)} == real_2019, golden.name
            assert root != pinned, golden.name
        else:
            assert root == pinned, golden.name
    factory = x509.load_pem_x509_certificates(
        (shared_dir / "interop" / "android" / "invalid" / "tags_not_in_ascending_order.pem").read_bytes())
    assert factory[-1].not_valid_before_utc == pinned.not_valid_before_utc
    assert factory[-1].not_valid_after_utc == pinned.not_valid_after_utc
    assert factory[-2].not_valid_before_utc == _golden_chain(cases, "tee-factory-ec-p256")[-2].not_valid_before_utc
    older = cases["android-key::variant::older-root-reissue"].evidence
    assert {(c.not_valid_before_utc, c.not_valid_after_utc)
            for c in x509.load_pem_x509_certificates(older.files[older.primary])[-1:]} == real_2019
    assert older.primary == "tee-factory-ec-p256.pem"


def test_the_sent_root_issue_is_accepted_with_the_pinned_one(android, cases, trust):
    """A verifier pinning the 2022 issue (roots.json) accepts the RKP goldens ending with the 2019 issue."""
    evidence = cases["android-key::golden::tee-rkp-ec-p256"].evidence
    assert cases["android-key::golden::tee-rkp-ec-p256"].anchors == trust_roots(SEED)
    assert android.verify(evidence, trust, at=VALIDATION_TIME, profile=Profile.STRICT).accepted


def test_strongbox_is_keymint_300_without_module_hash_as_real(shared_dir, cases):
    """Every real StrongBox chain says attestation and KeyMint version 300 and carries no moduleHash [724]; the
    TEE beside it on the sdk36 phones 400 with one. The goldens do the same per level."""
    for path, level, under_2026, real in _real_rkp_chains(shared_dir):
        genuine = parse_key_description(leaf_description(_chain_evidence(real)))
        ours = parse_key_description(leaf_description(
            cases[f"android-key::golden::{_rkp_golden(level, under_2026)}"].evidence))
        if level is SecurityLevel.STRONG_BOX:
            assert (genuine.attestation_version, genuine.keymint_version) == (300, 300), path
            assert genuine.software_enforced.module_hash is None, path
        if "sdk36" in str(path):
            assert (ours.attestation_version, ours.keymint_version) == (
                genuine.attestation_version, genuine.keymint_version), path
            assert (ours.software_enforced.module_hash is None) is (genuine.software_enforced.module_hash is None), path
    for golden in GOLDENS:
        if golden.level is SecurityLevel.STRONG_BOX:
            description = parse_key_description(leaf_description(cases[f"android-key::golden::{golden.name}"].evidence))
            assert (description.attestation_version, description.keymint_version) == (300, 300), golden.name
            assert description.software_enforced.module_hash is None, golden.name


def test_provisioning_info_counts_as_the_real_sdk36_chains(shared_dir, cases):
    """certificatesIssued [1] is 32 for StrongBox and 64 for the TEE on every real sdk36 chain (a choice for the
    rest: {1: n, 3: "Google"} as tegu, see docs/formats/android.md)."""
    oid = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.30")
    for path, level, under_2026, real in _real_rkp_chains(shared_dir):
        ours = _golden_chain(cases, _rkp_golden(level, under_2026))[1].extensions.get_extension_for_oid(oid).value
        issued = 32 if level is SecurityLevel.STRONG_BOX else 64
        assert ours.public_bytes() == cbor.encode({1: issued, 3: "Google"}), path
        genuine = cbor_decode(real[1].extensions.get_extension_for_oid(oid).value.public_bytes(), "provisioning info")
        if "sdk36" in str(path):
            assert genuine[1] == issued, path
        if under_2026:
            assert ours.public_bytes() == real[1].extensions.get_extension_for_oid(oid).value.public_bytes(), path


def test_software_golden_leaf_validity_is_the_pixel1_ones(shared_dir, cases):
    """Keystore's software Keymaster writes notAfter 2106-02-07 06:28:15 as a GeneralizedTime (the real Pixel1)."""
    bag = (shared_dir / "interop" / "purebred" / "Pixel1" / "1_device_preenroll_attestation.bin").read_bytes()
    real = next(c for c in pkcs7.load_der_pkcs7_certificates(bag)
                if any(e.oid.dotted_string == OID_KEY_DESCRIPTION for e in c.extensions))
    ours = _golden_chain(cases, "software-keymaster1-ec-p256")[0]
    validity = b"\x30\x20\x17\x0d700101000000Z\x18\x0f21060207062815Z"
    for cert in (real, ours):
        assert cert.not_valid_before_utc == real.not_valid_before_utc
        assert cert.not_valid_after_utc == real.not_valid_after_utc
        assert validity in cert.tbs_certificate_bytes


# -- the catalogue -----------------------------------------------------------------------------

@pytest.mark.parametrize("golden", [g.name for g in GOLDENS])
def test_goldens_verify(android, cases, golden):
    case = cases[f"android-key::golden::{golden}"]
    trust = TrustAnchors({"root": case.anchors})
    assert case.validation_time == GOLDEN_BY_NAME[golden].validation_time
    verdict = android.verify(case.evidence, trust, at=case.validation_time)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims.generated_on_device and claims.extractable is False and claims.never_extractable
    level = GOLDEN_BY_NAME[golden].level
    assert claims.extra == {"security_level": level.name}
    if level is SecurityLevel.SOFTWARE or GOLDEN_BY_NAME[golden].shape is ChainShape.FACTORY:
        # Keymaster 1 reports no attestation ids, and neither published factory chain does
        assert claims.model is None and claims.vendor == "Android"
    else:
        assert claims.model == "hsmsim Emulated Phone" and claims.vendor == "hsmsim"
    strict = android.verify(case.evidence, trust, at=case.validation_time, profile=Profile.STRICT)
    assert strict.reason is case.expected[Profile.STRICT], strict.summary()


@pytest.mark.parametrize("mutation", mutations(), ids=lambda m: m.id)
def test_each_defect_is_rejected_for_its_stated_reason(android, cases, mutation):
    case = cases[mutation.id]
    assert case.expected == mutation.expected
    for profile, reason in mutation.expected.items():
        verdict = android.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time,
                                 profile=profile)
        assert verdict.reason is reason, f"{mutation.id} {profile}: {verdict.summary()}"


def test_the_bare_chain_keymaster3_key_usage_vector_changes_only_the_leafs_key_usage(cases):
    """android-key's own verifier reads the leaf keyUsage under strict only (Keymaster 3 leaves, the Pixel 2's, lack
    digitalSignature): the vector's leaf differs from its golden's in the keyUsage bits alone, structural accepts,
    strict says CERT_KEY_USAGE."""
    case = cases["android-key::chain::leaf-key-usage-keymaster3"]
    golden = cases["android-key::golden::tee-factory-ec-p256"]

    def leaf(evidence: Evidence) -> x509.Certificate:
        return x509.load_pem_x509_certificates(evidence.files[evidence.primary])[0]

    ours, theirs = leaf(case.evidence), leaf(golden.evidence)
    usage = ours.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.data_encipherment) == (False, True, True)
    assert theirs.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert [e.oid for e in ours.extensions] == [e.oid for e in theirs.extensions]
    assert [e.value for e in ours.extensions if e.oid != x509.oid.ExtensionOID.KEY_USAGE] == [
        e.value for e in theirs.extensions if e.oid != x509.oid.ExtensionOID.KEY_USAGE]
    assert case.expected == {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.CERT_KEY_USAGE}


def test_catalogue_size_and_uniqueness(cases):
    defects = {f for c in cases.values() if c.result.value != "valid" for f in c.flags} - DEFECT_FLAGS_EXCLUDED
    assert len(defects) >= 30
    assert len({m.flag for m in mutations()}) == len(mutations())
    assert {c.expected_reason for c in cases.values()} >= {
        Reason.CERT_REVOKED, Reason.CHALLENGE_MISMATCH, Reason.SECURITY_LEVEL, Reason.KEY_PURPOSE,
        Reason.DEVICE_INTEGRITY, Reason.ATTR_NOT_LOCAL, Reason.CHAIN_UNTRUSTED, Reason.CHAIN_INCOMPLETE,
        Reason.CERT_SIGNATURE_INVALID, Reason.CERT_EXPIRED, Reason.UNSUPPORTED, Reason.ATTR_CONFLICT,
        Reason.MALFORMED, Reason.LIMIT_EXCEEDED, Reason.UNEXPECTED_CONTENT}


def test_regeneration_is_byte_identical(android, cases):
    again = android.vector_cases(SEED)
    assert [c.id for c in again] == list(cases)
    assert all(c.evidence.files == cases[c.id].evidence.files for c in again)
    code = ("import hashlib\nfrom hsmsim.formats import get_format\n"
            "h = hashlib.sha256()\n"
            "for c in get_format('android-key').vector_cases('hsmsim-tests'):\n"
            "    for k in sorted(c.evidence.files): h.update(k.encode() + c.evidence.files[k])\n"
            "print(h.hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "77"})
    digest = hashlib.sha256()
    for case in cases.values():
        for name in sorted(case.evidence.files):
            digest.update(name.encode() + case.evidence.files[name])
    assert out.stdout.strip() == digest.hexdigest()


def test_revocation_status_list(android, kit, trust):
    bench = Workbench.open(kit, "tee-2026-root-ec-p256")
    droid_ca2 = bench.above[2]
    bench.status = render_status_list({serial_key(droid_ca2).upper(): {"status": "REVOKED", "reason": "CA_COMPROMISE"}})
    verdict = android.verify(bench.evidence(), trust, at=VALIDATION_TIME)
    assert verdict.reason is Reason.CERT_REVOKED and "Droid CA2" in verdict.detail
    for status, reason in ((b'{"entries": []}', Reason.MALFORMED), (b'{"entries": {"ab": {}}}', Reason.MALFORMED),
                           (b"[" * 100_000, Reason.MALFORMED), (b" " * (5 << 20), Reason.LIMIT_EXCEEDED),
                           (render_status_list({"ab": {"status": "UNKNOWN_STATE"}}), Reason.OK)):
        bench.status = status
        assert android.verify(bench.evidence(), trust, at=VALIDATION_TIME).reason is reason, status[:40]


# -- generation through the HSM model ------------------------------------------------------------

def make_android_hsm(seed: str = SEED) -> Hsm:
    store = SoftKeyStore(seed=seed)
    hsm = Hsm(Device.from_seed("android-key", seed), store)
    for spec in ("rsa-3072", "ec-p256", "ec-p384", "ed25519"):
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    store.generate(KeySpec.parse("aes-256"), "secret", created=KEY_CREATED)
    store.generate(KeySpec.parse("ec-p256"), "exportable", created=KEY_CREATED, policy=KeyPolicy(extractable=True))
    return hsm


@pytest.fixture(scope="module")
def android_hsm() -> Hsm:
    return make_android_hsm()


@pytest.mark.parametrize("shape", [s.value for s in ChainShape])
@pytest.mark.parametrize("level", ["TRUSTED_ENVIRONMENT", "STRONG_BOX"])
def test_hsm_attests_every_shape_and_level(android, android_hsm, shape, level):
    at = ATTEST_TIME + timedelta(days=200)
    evidence = android_hsm.attest("key-ec-p384", "android-key", {
        "attest_time": at, "shape": shape, "security_level": level, "challenge": "nonce-42"})
    assert sorted(evidence.files) == ["attestation_roots.pem", "key-ec-p384.challenge", "key-ec-p384.pem"]
    assert evidence.files["key-ec-p384.challenge"] == b"nonce-42"
    # the roots written beside the evidence are the ones a relying party pins, whatever the shape
    beside = x509.load_pem_x509_certificates(evidence.files["attestation_roots.pem"])
    assert tuple(beside) == trust_roots(SEED)
    verdict = android.verify(evidence, TrustAnchors({"root": tuple(beside)}), at=at + timedelta(minutes=5),
                             profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    assert f"securityLevel={level}" in verdict.detail
    chain = x509.load_pem_x509_certificates(evidence.files[evidence.primary])
    assert (chain[-1].issuer == chain[-1].subject) is ChainShape(shape).includes_root
    # KeyMint 3 in StrongBox and on factory chains, 4 in the TEE; the 2019 root issue on RKP chains
    description = parse_key_description(leaf_description(evidence))
    want = 300 if shape == "factory" or level == "STRONG_BOX" else 400
    assert description.attestation_version == want
    assert (description.software_enforced.module_hash is not None) is (want == 400)
    assert (chain[-1].not_valid_before_utc.year == 2019) is (shape == "rkp")


def test_the_strongbox_version_is_an_option(android, android_hsm, trust):
    options = AndroidOptions(strongbox_attestation_version=400)
    evidence = android_hsm.attest("key-ec-p384", "android-key", {
        "attest_time": ATTEST_TIME, "security_level": "STRONG_BOX", "options": options})
    description = parse_key_description(leaf_description(evidence))
    assert (description.attestation_version, description.keymint_version) == (400, 400)
    assert description.software_enforced.module_hash is not None
    assert android.verify(evidence, trust, at=ATTEST_TIME).accepted


def _extension_order(cert: x509.Certificate) -> list[tuple[str, bool]]:
    return [(ext.oid.dotted_string, ext.critical) for ext in cert.extensions]


def _real_leaf(shared_dir: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates((shared_dir / "interop" / "android" / name).read_bytes())[0]


@pytest.mark.shared
def test_the_key_description_first_is_an_option_ordered_as_caimans_leaf(shared_dir, android, android_hsm, trust):
    caiman = _real_leaf(shared_dir, "caiman/sdk36/TEE_EC_RKP.pem")
    akita = _real_leaf(shared_dir, "akita/sdk34/TEE_EC_NONE.pem")
    leaves = {}
    for first in (False, True, None):
        evidence = android_hsm.attest("key-ec-p384", "android-key", {
            "attest_time": ATTEST_TIME, "options": AndroidOptions(key_description_first=first)})
        assert android.verify(evidence, trust, at=ATTEST_TIME).accepted
        leaves[first] = x509.load_pem_x509_certificates(evidence.files[evidence.primary])[0]
    assert _extension_order(leaves[True]) == _extension_order(caiman) != _extension_order(akita) == \
        _extension_order(leaves[False])
    assert _extension_order(leaves[None]) == _extension_order(caiman), "the default rkp shape is caiman's"


@pytest.mark.shared
@pytest.mark.parametrize("golden", [g.name for g in GOLDENS if g.level is not SecurityLevel.SOFTWARE])
def test_golden_leaves_order_their_extensions_as_the_real_device_of_their_shape(shared_dir, cases, golden):
    """The legacy-root RKP chains are shaped as caiman's (sdk36), whose leaves write the KeyDescription then keyUsage
    (TEE and StrongBox); the 2026-root ones as tegu's and the factory ones as the 2022 factory chain, keyUsage
    first."""
    real = {ChainShape.RKP: ("caiman/sdk36/TEE_EC_RKP.pem", "caiman/sdk36/SB_EC_RKP.pem"),
            ChainShape.RKP_NO_ROOT: ("caiman/sdk36/TEE_EC_RKP.pem", "caiman/sdk36/SB_EC_RKP.pem"),
            ChainShape.RKP_2026: ("tegu/sdk36/TEE_EC_2026_ROOT.pem", "tegu/sdk36/SB_EC_2026_ROOT.pem"),
            ChainShape.FACTORY: ("invalid/tags_not_in_ascending_order.pem",)}[GOLDEN_BY_NAME[golden].shape]
    orders = {tuple(_extension_order(_real_leaf(shared_dir, name))) for name in real}
    assert len(orders) == 1
    evidence = cases[f"android-key::golden::{golden}"].evidence
    leaf = x509.load_pem_x509_certificates(evidence.files[evidence.primary])[0]
    assert tuple(_extension_order(leaf)) in orders


def test_hsm_key_facts_reach_the_description(android, android_hsm, trust):
    at = ATTEST_TIME
    imported = android_hsm.attest("imported", "android-key", {"attest_time": at})
    assert android.verify(imported, trust, at=at).reason is Reason.ATTR_NOT_LOCAL
    ed = android_hsm.attest("key-ed25519", "android-key", {"attest_time": at})
    verdict = android.verify(ed, trust, at=at)
    assert verdict.accepted and verdict.claims.key_type == "Ed25519"
    assert android.verify(ed, trust, at=at, profile=Profile.STRICT).reason is Reason.KEY_POLICY
    for label in ("secret", "exportable"):
        with pytest.raises(UnsupportedKeyError):
            android_hsm.attest(label, "android-key", {"attest_time": at})


def test_generation_is_deterministic(android_hsm):
    params = {"attest_time": ATTEST_TIME}
    first = android_hsm.attest("key-rsa-3072", "android-key", params)
    assert make_android_hsm().attest("key-rsa-3072", "android-key", params).files == first.files


# -- files: detection, loading, anchors, the CLI ----------------------------------------------------

def test_detection_is_exclusive(tmp_path, android, cases, primus_bundles):
    golden = cases["android-key::golden::tee-rkp-ec-p256"].evidence
    golden.write(tmp_path / "android")
    (tmp_path / "android" / STATUS_FILE).write_bytes(render_status_list({}))
    assert detect(tmp_path / "android").name == "android-key"
    assert detect(tmp_path / "android" / golden.primary).name == "android-key"
    primus_bundles["rsa-3072"].write(tmp_path / "primus")
    assert detect(tmp_path / "primus").name == "primus"
    assert not any(android.detect(p) for p in [tmp_path / "primus", *(tmp_path / "primus").iterdir()])
    (tmp_path / "root.pem").write_bytes(golden.files[golden.primary].split(b"-----END CERTIFICATE-----\n", 1)[1])
    assert not android.detect(tmp_path / "root.pem")  # a chain without the leaf
    loaded = android.load(tmp_path / "android")
    assert sorted(loaded.files) == sorted([*golden.files, STATUS_FILE]) and loaded.primary == golden.primary


def test_trust_anchors_from_roots_json_and_pem(tmp_path, android):
    legacy, p384 = trust_roots(SEED)
    roots = tmp_path / "roots.json"
    roots.write_text(json.dumps([c.public_bytes(Encoding.PEM).decode() for c in (legacy, p384)]))
    pem = tmp_path / "legacy.pem"
    pem.write_bytes(legacy.public_bytes(Encoding.PEM))
    anchors = android.trust_anchors_from_files([roots, pem])
    assert anchors.get("root") == [legacy, p384, legacy]
    roots.write_text('{"not": "a list"}')
    with pytest.raises(BundleError, match="JSON list of PEM roots"):
        android.trust_anchors_from_files([roots])


@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "roots.json is not a regular file"),
    ("/dev/zero", "roots.json is not a regular file"),
    ("sparse", "roots.json is larger than 1048576 bytes"),
    (DEEP_JSON, "roots.json nests too deeply to be a JSON list of PEM roots"),
    ('["not PEM"]', "roots.json is not a JSON list of PEM roots"),
])
def test_roots_json_is_read_with_the_bounds_of_pem_roots(tmp_path, kind, message):
    """Google's roots.json is a --root like a PEM file: a regular file of at most 1 MiB, read against the call's
    budget; a FIFO never blocks, a device or a huge file is never read whole, deep JSON is one line."""
    roots = tmp_path / "roots.json"
    make_hostile(roots, kind)
    golden = ROOT / "vectors" / "android-key" / "golden" / "tee-rkp-ec-p256"
    result = hsmsim("verify", str(golden), "--format", "android-key", "--root", str(roots))
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"hsmsim: error: --root: {roots.parent}/{message}"), result.stderr
    with pytest.raises(BundleError, match=message):
        get_format("android-acme").trust_anchors_from_files([roots])


def hsmsim(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--state", str(state)] if state is not None else []
    return run_hsmsim([*args, *extra], timeout=120, cwd=ROOT)


def test_cli_attest_export_and_verify(tmp_path):
    state = tmp_path / "phone"
    created = hsmsim("key", "create", "--vendor", "android-key", "--label", "signer", "--spec", "ec-p256",
                     "--created", "2026-03-01T00:00:00Z", state=state)
    assert created.returncode == 0, created.stderr
    out = tmp_path / "out" / "signer.pem"
    attested = hsmsim("attest", "--format", "android-key", "--key", "signer", "--out", str(out),
                      "--at", "2026-03-02T10:00:00Z", "--param", "challenge=abc", state=state)
    assert attested.returncode == 0, attested.stderr
    exported = hsmsim("pki", "export", str(tmp_path / "pki"), state=state)
    assert exported.returncode == 0, exported.stderr
    verified = hsmsim("verify", str(out), "--root", str(tmp_path / "pki" / "root.crt"), "--at", "2026-03-02T11:00:00Z",
                      "--profile", "strict", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["claims"]["key_type"] == "EC-secp256r1"
    (out.parent / "signer.challenge").write_bytes(b"abd")
    rejected = hsmsim("verify", str(out.parent), "--root", str(tmp_path / "pki" / "root.crt"),
                      "--at", "2026-03-02T11:00:00Z")
    assert (rejected.returncode, rejected.stdout.split(":")[0]) == (1, "REJECT CHALLENGE_MISMATCH")


# -- the ACME device-attest-01 statement (android-acme) --------------------------------------------

@pytest.fixture(scope="module")
def acme():
    return get_format("android-acme")


@pytest.fixture(scope="module")
def acme_cases(acme):
    return {case.id: case for case in acme.vector_cases(SEED)}


def test_acme_cases_verify_as_declared(acme, acme_cases, trust):
    for case in acme_cases.values():
        for profile, reason in case.expected.items():
            verdict = acme.verify(case.evidence, trust, at=VALIDATION_TIME, profile=profile)
            assert verdict.reason is reason, f"{case.id} {profile}: {verdict.summary()}"
    assert {m.id for m in acme_mutations()} <= set(acme_cases)
    assert sum(c.id.startswith("android-acme::golden::") for c in acme_cases.values()) == 4


def test_acme_statement_binds_the_key_authorization(acme_cases):
    case = acme_cases["android-acme::golden::tee-rkp-ec-p256"]
    statement = read_statement(case.evidence.files[case.evidence.primary])
    key_auth = case.evidence.files["tee-rkp-ec-p256.keyauth"]
    token, thumbprint = key_auth.decode().split(".")
    assert len(token) == len(thumbprint) == 43 and statement.alg == -7
    leaf = x509.load_der_x509_certificate(statement.x5c[0])
    description = parse_key_description(key_description_der(leaf) or b"")
    assert description.attestation_challenge == key_auth


def test_acme_binds_the_order_identifier_and_the_finalize_csr(acme, acme_cases, trust):
    """draft-ietf-acme-device-attest (shared/specs/other_formats.md 4.3, round2_formats.md 2.4): the attested device
    (attestationIdSerial) is the order's identifier and the finalize CSR requests the attested key; without a CSR
    nothing ties the certificate to the attested key."""
    case = acme_cases["android-acme::golden::tee-rkp-ec-p256"]
    files = dict(case.evidence.files)
    leaf = x509.load_der_x509_certificate(read_statement(files[case.evidence.primary]).x5c[0])
    description = parse_key_description(key_description_der(leaf) or b"")
    assert description.hardware_enforced.attestation_id_serial == files["tee-rkp-ec-p256.identifier"]
    csr = x509.load_pem_x509_csr(files["tee-rkp-ec-p256.csr"])
    assert csr.public_key() == leaf.public_key()
    other = ec.generate_private_key(ec.SECP256R1())
    foreign_csr = x509.CertificateSigningRequestBuilder().subject_name(csr.subject).sign(other, hashes.SHA256())

    def verdicts(**changes):
        edited = {k: v for k, v in {**files, **changes}.items() if v is not None}
        return {acme.verify(Evidence("android-acme", edited, case.evidence.primary), trust, at=VALIDATION_TIME,
                            profile=profile).reason for profile in Profile}

    assert verdicts() == {Reason.OK}
    assert verdicts(**{"tee-rkp-ec-p256.csr": foreign_csr.public_bytes(Encoding.PEM)}) == {Reason.KEY_MISMATCH}
    assert verdicts(**{"tee-rkp-ec-p256.csr": None}) == {Reason.MISSING_INPUT}
    assert verdicts(**{"tee-rkp-ec-p256.identifier": b"ANOTHER-DEVICE"}) == {Reason.ATTR_CONFLICT}
    assert verdicts(**{"tee-rkp-ec-p256.identifier": None}) == {Reason.MISSING_INPUT}


@pytest.mark.parametrize(("data", "reason"), [
    (b"", Reason.MALFORMED),
    (b"\xa1\x63fmt", Reason.MALFORMED),
    (b"\xbf\xff", Reason.MALFORMED),
    (b"\xc0\x00", Reason.MALFORMED),
    (b"\xf5", Reason.MALFORMED),
    (b"\x81" * 20 + b"\x00", Reason.LIMIT_EXCEEDED),
    (b"\x9b" + b"\xff" * 8, Reason.MALFORMED),
    (b"\x5a\xff\xff\xff\xff", Reason.MALFORMED),
    (b"\xa2\x01\x01\x01\x02", Reason.ATTR_CONFLICT),
    (b"\xa1\x80\x01", Reason.MALFORMED),
    (b"\x62\xff\xfe", Reason.MALFORMED),
    (b"\x18\x05", Reason.MALFORMED),
])
def test_statement_reader_bounds(data, reason):
    """The ACME statement is read with the WebAuthn container's bounded CBOR (hsmsim.webauthn.container)."""
    with pytest.raises(Rejected) as caught:
        read_statement(data)
    assert caught.value.reason is reason


def test_cbor_round_trip():
    value = {"fmt": "android-key", "attStmt": {"alg": -257, "sig": b"\x01" * 300, "x5c": [b"a" * 70_000, b""]}}
    assert cbor_decode(cbor.encode(value), "value") == value
    assert cbor.encode(-7) == b"\x26" and cbor.encode(23) == b"\x17" and cbor.encode(24) == b"\x18\x18"


def test_acme_through_the_hsm(tmp_path, acme, trust):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("android-acme", SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "acme-p256", created=KEY_CREATED)
    store.generate(KeySpec.parse("ec-p384"), "acme-p384", created=KEY_CREATED)
    with pytest.raises(ParameterError, match=r"key_authorization must be token\.thumbprint"):  # a 3-byte token
        hsm.attest("acme-p256", "android-acme", {"attest_time": ATTEST_TIME, "key_authorization": "tok.thumb"})
    key_auth = "A" * 22 + ".thumb"  # a 16-byte token (RFC 8555 8.3: at least 128 bits)
    evidence = hsm.attest("acme-p256", "android-acme", {"attest_time": ATTEST_TIME, "key_authorization": key_auth})
    assert evidence.files["acme-p256.keyauth"] == key_auth.encode()
    assert acme.verify(evidence, trust, at=VALIDATION_TIME, profile=Profile.STRICT).accepted
    with pytest.raises(UnsupportedKeyError):
        hsm.attest("acme-p384", "android-acme", {"attest_time": ATTEST_TIME})
    evidence.write(tmp_path)
    assert detect(tmp_path).name == "android-acme" and detect(tmp_path / evidence.primary).name == "android-acme"
    loaded = acme.load(tmp_path / evidence.primary).files
    assert loaded == {name: data for name, data in evidence.files.items() if name != "attestation_roots.pem"}
    assert not get_format("android-key").detect(tmp_path)


def test_attest_refuses_software_attestation(android_hsm):
    """Software attestation (the Keymaster 1 golden) is the corpus's; attest says so instead of failing inside."""
    with pytest.raises(ParameterError, match=r"must be TRUSTED_ENVIRONMENT or STRONG_BOX, not 'software'"):
        android_hsm.attest("key-ec-p384", "android-key", {"attest_time": ATTEST_TIME, "security_level": "software"})


@pytest.mark.parametrize("label", ["attestation_roots", "attestation roots"])
def test_a_label_never_names_the_chain_after_the_roots_file(label):
    """A chain whose file would be attestation_roots.pem would be lost under the pinned roots written there: attest
    refuses the label, here and in the formats that carry an android-key chain, instead of writing the roots."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), label, created=KEY_CREATED)
    for format_name in ("android-key", "android-acme", "purebred"):
        hsm = Hsm(Device.from_seed(format_name, SEED), store)
        with pytest.raises(HsmsimError, match=f"^android-key cannot attest a key labelled '{label}': its chain "
                                              "would be written as attestation_roots.pem"):
            hsm.attest(label, format_name, {"attest_time": ATTEST_TIME})
    store.generate(KeySpec.parse("ec-p256"), "attestation_roots.pem", created=KEY_CREATED)
    evidence = Hsm(Device.from_seed("android-key", SEED), store).attest("attestation_roots.pem", "android-key",
                                                                        {"attest_time": ATTEST_TIME})
    assert sorted(evidence.files) == ["attestation_roots.pem", "attestation_roots.pem.challenge",
                                      "attestation_roots.pem.pem"]
    assert evidence.files["attestation_roots.pem"] == pinned_roots_pem(SEED)


def test_attest_refuses_a_challenge_longer_than_the_verifier_reads():
    """``--param challenge`` of more than 4096 bytes is a ParameterError, not evidence its own verifier rejects
    LIMIT_EXCEEDED; 4096 bytes are attested and verify."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "k", created=KEY_CREATED)
    hsm = Hsm(Device.from_seed("android-key", SEED), store)
    with pytest.raises(ParameterError, match="parameter challenge must be text of at most 4096 bytes"):
        hsm.attest("k", "android-key", {"attest_time": ATTEST_TIME, "challenge": "a" * 4097})
    evidence = hsm.attest("k", "android-key", {"attest_time": ATTEST_TIME, "challenge": "a" * 4096})
    verdict = get_format("android-key").verify(evidence, TrustAnchors({"root": trust_roots(SEED)}),
                                               at=ATTEST_TIME + timedelta(hours=1))
    assert verdict.accepted, verdict.summary()


def test_cli_refuses_a_label_that_names_the_roots_file(tmp_path):
    state = tmp_path / "phone"
    created = hsmsim("key", "create", "--format", "android-key", "--label", "attestation_roots", "--spec", "ec-p256",
                     state=state)
    assert created.returncode == 0, created.stderr
    refused = hsmsim("attest", "--key", "attestation_roots", "--out", f"{tmp_path / 'out'}/", state=state)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith("hsmsim: error: android-key cannot attest a key labelled 'attestation_roots'")
    assert not (tmp_path / "out").exists()


def _software_entries(evidence: Evidence) -> list[tuple[int, bytes]]:
    (top,) = read_children(leaf_description(evidence), "", 2)
    return [(e.tag, e.der) for e in read_children(read_children(top.content, "", 9)[6].content, "", 99)]


def test_application_id_garbage_replaces_the_entry_in_place(cases):
    """Only [709]'s content changes: the softwareEnforced tags keep the golden's ascending order, so a verifier
    checking tag order first still reaches the attestationApplicationId (MALFORMED: its content does not parse)."""
    case = cases["android-key::encoding::application-id-garbage"]
    golden = _software_entries(cases[case.provenance.golden].evidence)
    vector = _software_entries(case.evidence)
    assert [tag for tag, _ in vector] == [tag for tag, _ in golden] == sorted(tag for tag, _ in golden)
    assert 709 in [tag for tag, _ in golden]
    assert [(tag, der) for tag, der in vector if tag != 709] == [(tag, der) for tag, der in golden if tag != 709]
    assert dict(vector)[709].endswith(b"\x04\x06\x30\x05\x31\x03\x30\x01")
    assert set(case.expected.values()) == {Reason.MALFORMED}


@pytest.mark.shared
def test_emulated_google_ca_certificates_take_as_many_serial_octets_as_the_real_ones(shared_dir):
    """The legacy root (both issues), Droid CA2 under it, and the 2026 Key Attestation CA1 root with its Droid CA2
    copy real certificates' names and dates: their serials are as long in DER as the real ones."""
    def role(cert: x509.Certificate) -> str | None:
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        name = str(names[0].value).removesuffix(" EMULATED") if names else ""
        if cert.subject == cert.issuer and cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER):
            return "legacy root"  # serialNumber=f92009e853b6b045 (and the emulated one's CN)
        if name in ("Droid CA2", "Key Attestation CA1"):
            assert cert.signature_hash_algorithm is not None
            return f"{name}, {cert.signature_hash_algorithm.name}"  # Droid CA2: sha256 under the legacy root
        return None

    def octets_by_role(certs: list[x509.Certificate]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for cert in certs:
            if (name := role(cert)) is not None:
                found.setdefault(name, set()).add(cert.serial_number.bit_length() // 8 + 1)
        return found

    real = [cert for path in sorted((shared_dir / "interop" / "android").rglob("*.pem"))
            for cert in x509.load_pem_x509_certificates(path.read_bytes())]
    emulated = [cert for case in get_format("android-key").vector_cases(SEED) if "::golden::" in case.id
                for data in case.evidence.files.values() if b"-----BEGIN CERTIFICATE-----" in data
                for cert in x509.load_pem_x509_certificates(data)]
    emulated += [anchor for case in get_format("android-key").vector_cases(SEED) for anchor in case.anchors]
    expected = octets_by_role(real)
    assert set(expected) == {"legacy root", "Droid CA2, sha256", "Droid CA2, sha384", "Key Attestation CA1, sha384"}
    assert octets_by_role(emulated) == expected


# -- WebAuthn android-key (§8.4) through check_webauthn_chain ------------------------------------------

@pytest.fixture(scope="module")
def passkey_kit():
    from hsmsim.formats import names
    from hsmsim.formats.android.webauthn import AndroidWebAuthnKit

    names()
    return AndroidWebAuthnKit.build(SEED)


def _passkey_verdicts(kit, edit=None):
    """The webauthn verdict per profile of the android-key golden registration, ``edit`` applied to its workbench."""
    from hsmsim.formats.android.webauthn import VALIDATION_TIME as PASSKEY_TIME
    from hsmsim.formats.webauthn.format import WebAuthnFormat

    bench = kit.workbench("android-key-tee-es256")
    anchors = TrustAnchors(roots={"root": tuple(bench.draft.roots)})
    if edit is not None:
        edit(bench)
    return {profile: WebAuthnFormat().verify(bench.evidence(), anchors, at=PASSKEY_TIME, profile=profile).reason
            for profile in Profile}


def _key_description_edit(**lists):
    def edit(bench):
        bench.draft.description_edit = lambda kd: keydescription.with_lists(kd, **{
            name: (lambda auth, changes=changes: replace(auth, **changes)) for name, changes in lists.items()})
    return edit


def test_webauthn_purposes_are_exactly_sign_over_both_lists(passkey_kit):
    """WebAuthn §8.4.2: purpose == KM_PURPOSE_SIGN over the union of teeEnforced and softwareEnforced (the structural
    profile's reading), so a DECRYPT in softwareEnforced beside SIGN in teeEnforced is a second purpose, as
    teeEnforced {SIGN, DECRYPT} is; and the union cannot hold two key sizes."""
    assert set(_passkey_verdicts(passkey_kit).values()) == {Reason.OK}
    decrypt = _key_description_edit(software={"purposes": (keydescription.Purpose.DECRYPT,)})
    both = _passkey_verdicts(passkey_kit, decrypt)
    assert both == {Profile.STRUCTURAL: Reason.KEY_PURPOSE, Profile.STRICT: Reason.KEY_PURPOSE}
    sizes = _passkey_verdicts(passkey_kit, _key_description_edit(software={"key_size": 384}))
    assert sizes == {Profile.STRUCTURAL: Reason.ATTR_CONFLICT, Profile.STRICT: Reason.ATTR_CONFLICT}
    # the same SIGN in both lists is still exactly SIGN
    same = _passkey_verdicts(passkey_kit, _key_description_edit(software={"purposes": (keydescription.Purpose.SIGN,)}))
    assert set(same.values()) == {Reason.OK}


def test_webauthn_reads_the_leaf_key_usage_only_under_strict(passkey_kit):
    """WebAuthn §8.4.2 checks the purposes, not the leaf's keyUsage (py_webauthn and SimpleWebAuthn neither), and
    Keymaster 3 leaves say keyEncipherment|dataEncipherment for a signing key: structural accepts such a leaf, strict
    requires digitalSignature (as check_chain does)."""
    def keymaster3(bench):
        bench.draft.leaf_key_usage = ("key_encipherment", "data_encipherment")

    assert _passkey_verdicts(passkey_kit, keymaster3) == {Profile.STRUCTURAL: Reason.OK,
                                                          Profile.STRICT: Reason.CERT_KEY_USAGE}


@pytest.mark.shared
def test_webauthn_checks_pass_the_real_keymaster3_leaf_key_usage(shared_dir):
    """The real Pixel 2 chain (Purebred, Keymaster 3: leaf keyUsage without digitalSignature, purposes ENCRYPT,
    DECRYPT, SIGN, VERIFY): structural gets past the keyUsage and stops at the purposes (WebAuthn wants exactly
    SIGN), strict at the keyUsage."""
    from hsmsim.formats.purebred.envelope import read_signed_data
    from hsmsim.formats.purebred.verify import leaf_first

    folder = shared_dir / "interop" / "purebred"
    bag = read_signed_data((folder / "Pixel2" / "1_device_preenroll_attestation.bin").read_bytes()).certificates
    certs = [x509.load_der_x509_certificate(der) for der in bag or ()]
    chain = [certs[i] for i in leaf_first(certs)]
    assert not chain[0].extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    description = parse_key_description(key_description_der(chain[0]) or b"")
    trust = TrustAnchors({"root": (x509.load_der_x509_certificate(
        (folder / "TrustAnchors" / "Pixel" / "Pixel2.der").read_bytes()),)})
    at = datetime(2018, 9, 6, tzinfo=UTC)

    def reason(profile):
        with pytest.raises(Rejected) as caught:
            android_verify.check_webauthn_chain(chain, description.attestation_challenge, trust, at, profile)
        return caught.value.reason

    assert reason(Profile.STRUCTURAL) is Reason.KEY_PURPOSE
    assert reason(Profile.STRICT) is Reason.CERT_KEY_USAGE
