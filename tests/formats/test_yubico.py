"""The Yubico formats: slot and key certificate bytes, the three PIV output profiles, the reference verifiers
on the real YubiKey 4.3.3 and YubiHSM 2 samples, python-yubihsm as an oracle, the catalogues, the CLI and
the openssl walk."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsmsim.device import Device
from hsmsim.encoding import cert_pem
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.yubico.catalogue import (
    VALIDATION_TIME,
    HsmBench,
    Kit,
    PivBench,
    hsm_mutations,
    hsm_vector_cases,
    piv_mutations,
    piv_vector_cases,
)
from hsmsim.formats.yubico.extensions import (
    HSM_KEY_OIDS,
    PIV_FIRMWARE,
    PIV_FORM_FACTOR,
    PIV_POLICY,
    PIV_SERIAL,
    PinPolicy,
    TouchPolicy,
    extension_value,
)
from hsmsim.formats.yubico.hsm2 import assemble_hsm
from hsmsim.formats.yubico.layout import LEGACY, NEW, ROOT_FILES, SECTIGO_SUFFIX, STEP_SUFFIX
from hsmsim.formats.yubico.piv import assemble
from hsmsim.formats.yubico.pki import piv_pki
from hsmsim.formats.yubico.verify_piv import common_names
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import UTF8, Ext, build_csr, name, reissue
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason
from tests.cli_process import run_hsmsim
from tests.conftest import KEY_CREATED, SEED

ROOT = Path(__file__).resolve().parents[2]
WALK = ROOT / "scripts" / "verify_yubico_piv_openssl.sh"
PUREBRED_TIME = datetime(2018, 9, 6, tzinfo=UTC)
YUBIKEY_SAMPLES = ("1_device_preenroll_attestation.bin", "2_device_scep_request.bin", "3_user_id_scep_request.bin",
                   "4_user_sig_scep_request.bin", "5_user_piv_scep_request.bin")


@pytest.fixture(scope="module")
def kit() -> Kit:
    return Kit.build(SEED)


def piv(kit: Kit, generation: str = LEGACY, spec: str = "ec-p256", profile: str = "ykman", **kw: object) -> PivBench:
    return PivBench.open(kit, generation, spec, profile, **kw)  # type: ignore[arg-type]


def verify(fmt: str, evidence: Evidence, anchors: tuple[x509.Certificate, ...], at: datetime = VALIDATION_TIME,
           profile: Profile = Profile.STRUCTURAL):
    return get_format(fmt).verify(evidence, TrustAnchors({"root": anchors}), at=at, profile=profile)


# -- bytes --------------------------------------------------------------------------------------------

def test_slot_certificate_has_the_device_shape(kit):
    bench = piv(kit)
    att, f9 = bench.bundle.attestation, bench.bundle.f9
    assert att.issuer == f9.subject and att.subject.rfc4514_string() == "CN=YubiKey PIV Attestation 9a"
    assert (att.not_valid_before_utc, att.not_valid_after_utc) == (f9.not_valid_before_utc, f9.not_valid_after_utc)
    assert [e.oid for e in att.extensions] == [PIV_FIRMWARE, PIV_SERIAL, PIV_POLICY, PIV_FORM_FACTOR]
    assert extension_value(att, PIV_FIRMWARE) == b"\x05\x04\x03"  # raw bytes, not DER
    assert extension_value(att, PIV_SERIAL) == b"\x02\x04" + bench.device.serial.to_bytes(4, "big")  # DER INTEGER
    assert extension_value(att, PIV_POLICY) == bytes([PinPolicy.ONCE, TouchPolicy.ALWAYS])
    assert extension_value(att, PIV_FORM_FACTOR) == b"\x01"
    assert len(att.serial_number.to_bytes(16, "big")) == 16
    # firmware 5.4.3: the f9 ends with a critical CA:TRUE pathlen:0, as the real 5.4.3 f9s (30 06 01 01 ff 02 01 00)
    assert [e.oid for e in f9.extensions] == [PIV_FIRMWARE, x509.BasicConstraints.oid]
    bc = f9.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and (bc.value.ca, bc.value.path_length) == (True, 0)
    assert bc.value.public_bytes() == bytes.fromhex("30060101ff020100")
    assert f9.serial_number.bit_length() == 64  # 8 bytes, top bit set: 9 in DER, as the real ones


def test_firmware_4_f9_has_no_basic_constraints(kit):
    bench = piv(kit)
    old = replace(bench.device, firmware=(4, 3, 3))
    bundle = assemble(SEED, old, kit.keys["ec-p256"], kit.store.signer(kit.keys["ec-p256"]))
    assert [e.oid for e in bundle.f9.extensions] == [PIV_FIRMWARE]  # the real YubiKey 4.3.3 f9's shape
    assert PIV_FORM_FACTOR not in [e.oid for e in bundle.attestation.extensions]
    verdict = verify("yubico-piv", bundle.evidence(), (bundle.root,))
    assert verdict.accepted and verdict.claims.firmware == "4.3.3", verdict.summary()
    # RFC 5280 6.1.4(k): an issuer without basicConstraints is not a CA; strict holds to it
    strict = verify("yubico-piv", bundle.evidence(), (bundle.root,), profile=Profile.STRICT)
    assert strict.reason is Reason.CERT_NOT_CA, strict.summary()


def test_roots_say_emulated_and_the_2024_pki_has_two_intermediates():
    legacy, new = piv_pki(SEED, LEGACY), piv_pki(SEED, NEW)
    assert legacy.root.certificate.subject.rfc4514_string().endswith("EMULATED")
    assert legacy.root.certificate.serial_number == 263751
    assert new.root.certificate.subject.rfc4514_string() == "CN=Yubico Attestation Root 1 EMULATED"
    assert [i.certificate.subject.rfc4514_string() for i in new.intermediates] == [
        "CN=Yubico PIV Attestation B 1", "CN=Yubico Attestation Intermediate B 1"]
    assert new.root.certificate.signature_hash_algorithm.name == "sha512"
    for intermediate in new.intermediates:  # as published in developers.yubico.com/PKI/yubico-intermediate.pem
        cert = intermediate.certificate
        assert cert.signature_hash_algorithm.name == "sha256"
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.public_bytes() == bytes.fromhex("03020186")


REAL_YUBICO = Path(__file__).resolve().parents[1] / "data" / "yubico"


def _real(name: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates((REAL_YUBICO / name).read_bytes())


def _piv_shape(cert: x509.Certificate) -> tuple:
    """What a YubiKey PIV certificate shows beside its keys and values: names (CN and string type), serial octets and
    top bit, validity, signature algorithm, extensions in order with their criticality."""
    serial = cert.serial_number

    def names(name: x509.Name) -> list:
        return [(str(a.value).removesuffix(" EMULATED"), a._type) for a in name]

    return (names(cert.subject), names(cert.issuer),
            serial.bit_length() // 8 + 1, serial.bit_length() % 8 == 0,
            cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature_algorithm_oid,
            [(e.oid, e.critical) for e in cert.extensions])


def test_the_2024_pki_is_shaped_as_a_real_yubikey_5_7_4(kit):
    """A real YubiKey 5.7.4 (ovh/yubico-piv-checker, tests/data/yubico): its f9 is ``CN=YubiKey PIV Attestation``
    under Yubico PIV Attestation B 1, and the emulated 2024 PKI's chain (slot 9a, f9, both intermediates, root) has
    its shape, names aside from EMULATED."""
    (real_slot,), (real_f9,) = _real("yubikey_5_7_4_9a.pem"), _real("yubikey_5_7_4_f9.pem")
    piv_b1, intermediate_b1 = _real("yubico_piv_attestation_b_1_bundle.pem")
    real_root = _real("yubico_attestation_root_1.pem")[0]
    real_slot.verify_directly_issued_by(real_f9)
    real_f9.verify_directly_issued_by(piv_b1)
    bundle = piv(kit, NEW, "rsa-2048").bundle
    emulated = [bundle.attestation, bundle.f9, *bundle.intermediates]
    real = [real_slot, real_f9, piv_b1, intermediate_b1]
    assert [_piv_shape(c) for c in emulated] == [_piv_shape(c) for c in real]
    assert _piv_shape(piv_pki(kit.seed, NEW).root.certificate) == _piv_shape(real_root)


def test_profiles_carry_the_same_certificates(kit):
    sectigo = piv(kit, NEW, "rsa-3072", "sectigo", fips=True)
    package = sectigo.evidence().files[f"yubikey-rsa-3072{SECTIGO_SUFFIX}"]
    certs = x509.load_pem_x509_certificates(package)
    assert certs[:2] == [sectigo.bundle.attestation, sectigo.bundle.f9] and len(certs) == 4
    legacy = x509.load_pem_x509_certificates(piv(kit, profile="sectigo").evidence().files[
        f"yubikey-ec-p256{SECTIGO_SUFFIX}"])
    assert len(legacy) == 2  # Sectigo's two-certificate package
    step = piv(kit, NEW, "rsa-3072", "step")
    record = json.loads(step.evidence().files[f"yubikey-rsa-3072{STEP_SUFFIX}"])
    assert record["identifier"] == {"type": "permanent-identifier", "value": str(step.device.serial)}
    obj = cbor2.loads(_b64url(record["payload"]["attObj"]))
    assert obj["fmt"] == "step" and set(obj["attStmt"]) == {"alg", "sig", "x5c"} and obj["attStmt"]["alg"] == -257
    assert isinstance(cbor2.loads(obj["attStmt"]["sig"]), bytes)  # the signature is itself CBOR-encoded
    assert len(obj["attStmt"]["x5c"]) == 4  # attestation, f9 and every intermediate


def _b64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_fips_series_marker_sits_on_the_f9_and_is_claimed(kit):
    bench = piv(kit, profile="sectigo", fips=True)
    # as the real YubiKey 5 FIPS 25515137: f9 3.3, 3.10 = 02 01 07, basicConstraints; slot 3.9 with bit 0x80
    assert [e.oid.dotted_string for e in bench.bundle.f9.extensions] == [
        "1.3.6.1.4.1.41482.3.3", "1.3.6.1.4.1.41482.3.10", "2.5.29.19"]
    assert extension_value(bench.bundle.f9, x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.10")) == b"\x02\x01\x07"
    assert extension_value(bench.bundle.attestation, PIV_FORM_FACTOR) == b"\x81"
    assert extension_value(piv(kit).bundle.attestation, PIV_FORM_FACTOR) == b"\x01"
    verdict = verify("yubico-piv", bench.evidence(), bench.anchors)
    assert verdict.accepted and verdict.claims.fips_level == "FIPS 140-2 Level 2"
    assert verdict.claims.model == "YubiKey 5 FIPS Series, USB-A keychain"


def test_device_refuses_imported_keys_and_new_key_types_on_old_firmware(kit):
    store = SoftKeyStore(seed=SEED)
    imported = store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    with pytest.raises(UnsupportedKeyError, match="imported"):
        assemble(SEED, kit.devices[(LEGACY, False)], imported, store.signer(imported))
    with pytest.raises(UnsupportedKeyError, match=r"5\.7"):
        assemble(SEED, kit.devices[(LEGACY, False)], kit.keys["rsa-3072"], kit.store.signer(kit.keys["rsa-3072"]))


def test_hsm_key_certificate_shape(kit):
    bundle = assemble_hsm(SEED, kit.hsm, kit.keys["rsa-3072"], kit.store.signer(kit.keys["rsa-3072"]))
    leaf, device = bundle.chain[0], bundle.chain[1]
    assert [e.oid for e in leaf.extensions] == list(HSM_KEY_OIDS)
    assert leaf.issuer == device.subject and leaf.not_valid_after_utc == device.not_valid_after_utc
    assert extension_value(leaf, HSM_KEY_OIDS[2]) == b"\x03\x02\x00\x01"  # origin generated
    assert device.subject.rfc4514_string() == f"CN=YubiHSM Attestation ({kit.hsm.serial})"
    assert device.serial_number.bit_length() == 64  # 8 bytes, as the real e7:ab:b6:52:43:32:41:35


def test_generation_is_deterministic():
    first = [c.evidence.files for c in piv_vector_cases(SEED)[:3]]
    assert first == [c.evidence.files for c in piv_vector_cases(SEED)[:3]]


# -- the reference verifiers ------------------------------------------------------------------------

def test_reference_verifier_claims(kit):
    bench = piv(kit, NEW, "rsa-3072")
    verdict = verify("yubico-piv", bench.evidence(), bench.anchors, profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert (claims.serial, claims.firmware, claims.label, claims.generated_on_device) == (
        str(bench.device.serial), "5.7.4", "9a", True)
    assert "PIN policy once, touch policy always" in verdict.detail


@pytest.mark.parametrize("spec", ["rsa-2048", "ec-p384"])
def test_legacy_goldens_under_the_2024_root_are_rejected(kit, spec):
    """Every certificate of the bundle is on the path and its top names an issuer no anchor is: a wrong root,
    CHAIN_UNTRUSTED (Reason.CHAIN_UNTRUSTED: the chain ends at a non-anchor; validate_chain's used-up bundle rule)."""
    bench = piv(kit, LEGACY, spec)
    verdict = verify("yubico-piv", bench.evidence(), (piv_pki(SEED, NEW).root.certificate,))
    assert verdict.reason is Reason.CHAIN_UNTRUSTED, verdict.summary()


def test_a_wrong_root_without_the_root_copy_ends_the_path_at_the_f9(kit):
    """Without its root copy the path from the slot certificate uses up the bundle at the f9, whose named issuer
    is no anchor: CHAIN_UNTRUSTED by that reason's definition (the path starts at the slot certificate, so the
    f9 is above the leaf)."""
    bench = piv(kit, LEGACY, "ec-p256")
    bench.drop.add(ROOT_FILES[LEGACY])
    verdict = verify("yubico-piv", bench.evidence(), (piv_pki(SEED, NEW).root.certificate,))
    assert verdict.reason is Reason.CHAIN_UNTRUSTED, verdict.summary()


def _slot_key_certifies_a_software_key(kit: Kit, bundle) -> Evidence:
    """What a YubiKey's owner can make: the slot 9a key issues 'YubiKey PIV Attestation 9c' for a software key
    (the 9a certificate's device extensions, PIN once / touch always), carried with the 9a certificate, the f9,
    the intermediates and the software key's CSR."""
    slot_key = kit.store.signer(kit.keys["ec-p256"])
    software = derive_key(SEED, "test/software-key", KeySpec.parse("ec-p256"))
    genuine = bundle.attestation
    extensions = tuple(Ext(x509.UnrecognizedExtension(PIV_POLICY, b"\x02\x02")) if e.oid == PIV_POLICY
                       else Ext(e.value, e.critical) for e in genuine.extensions)
    bundle.attestation = reissue(genuine, slot_key, issuer=genuine.subject, public_key=software.public_key(),
                                 subject=name(("CN", "YubiKey PIV Attestation 9c", UTF8)), extensions=extensions)
    bundle.csr_pem = build_csr(name(("CN", "software", UTF8)), software).public_bytes(serialization.Encoding.PEM)
    bundle.request = None
    evidence = bundle.evidence()
    stem = evidence.primary.removesuffix(".attestation.pem")
    return Evidence(evidence.format, {**evidence.files, f"{stem}.f9.pem": cert_pem(genuine) + cert_pem(bundle.f9)},
                    evidence.primary)


@pytest.mark.parametrize(("generation", "firmware", "expected"), [
    (LEGACY, (5, 4, 3), Reason.CERT_PATH_LENGTH), (NEW, (5, 7, 4), Reason.CERT_PATH_LENGTH),
    (LEGACY, (4, 3, 3), Reason.CERT_NOT_CA)])
def test_a_slot_certificate_issued_by_another_slots_key_is_rejected_in_both_profiles(kit, generation, firmware,
                                                                                      expected):
    """The path is validated from the attestation certificate, so the f9 sits above the 9a certificate that
    issued it: from firmware 5.4 the f9's pathlen 0 forbids that (RFC 5280 6.1.4(l)); the YubiKey 4 f9 without
    basicConstraints is no CA once it is not the attestation's issuer (6.1.4(k)), whatever the profile."""
    device = replace(kit.devices[(generation, False)], firmware=firmware)
    bundle = assemble(SEED, device, kit.keys["ec-p256"], kit.store.signer(kit.keys["ec-p256"]))
    evidence = _slot_key_certifies_a_software_key(kit, bundle)
    for profile in Profile:
        verdict = verify("yubico-piv", evidence, (bundle.root,), profile=profile)
        assert verdict.reason is expected, f"{profile}: {verdict.summary()}"


def test_the_slot_certificates_path_holds_the_f9_and_every_ca_above_it(kit):
    """An accepted verdict names the path from the slot certificate to the root; a slot certificate that is a
    trust anchor itself has no f9 in its path."""
    bench = piv(kit, NEW, "rsa-3072")
    verdict = verify("yubico-piv", bench.evidence(), bench.anchors)
    assert ("chain YubiKey PIV Attestation 9a <- YubiKey PIV Attestation <- Yubico PIV Attestation B 1 <- Yubico "
            "Attestation Intermediate B 1 <- Yubico Attestation Root 1 EMULATED (ykman)") in verdict.detail
    pinned = verify("yubico-piv", bench.evidence(), (*bench.anchors, bench.bundle.attestation))
    assert pinned.reason is Reason.CHAIN_INCOMPLETE, pinned.summary()


def test_catalogues_cover_the_required_defects():
    piv_ids = {m.id.split("::", 1)[1] for m in piv_mutations()}
    hsm_ids = {m.id.split("::", 1)[1] for m in hsm_mutations()}
    assert len(piv_ids) >= 30 and len(hsm_ids) >= 30
    assert {"chain::f9-checked-instead-of-attestation", "chain::f9-ca-false", "chain::intermediates-missing",
            "binding::attests-another-key", "chain::user-loaded-f9", "policy::touch-cached", "policy::pin-never",
            "request::serial-mismatch", "chain::wrong-root", "chain::f9-expired",
            "chain::f9-signed-by-other-key"} <= piv_ids
    assert {"attr::imported", "attr::exportable-under-wrap", "request::serial-mismatch", "chain::wrong-root",
            "chain::expired", "chain::key-cert-by-other-key", "binding::csr-other-key"} <= hsm_ids


@pytest.mark.parametrize("cases", [piv_vector_cases, hsm_vector_cases], ids=["yubico-piv", "yubihsm2"])
def test_every_vector_gets_its_declared_verdict(cases):
    for case in cases(SEED):
        fmt = case.id.split("::")[0]
        for profile, expected in case.expected.items():
            verdict = verify(fmt, case.evidence, case.anchors, case.validation_time, profile)
            assert verdict.reason is expected, f"{case.id} {profile}: {verdict.summary()}"


def test_hsm_verifier_rejects_an_imported_key_from_the_store(kit):
    store = SoftKeyStore(seed=SEED)
    imported = store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    evidence = assemble_hsm(SEED, kit.hsm, imported, store.signer(imported)).evidence()
    assert verify("yubihsm2", evidence, (kit.hsm.root.certificate,)).reason is Reason.ATTR_NOT_LOCAL


def test_common_names_are_listed_as_get_attributes_for_oid_lists_them():
    cn, org = x509.NameOID.COMMON_NAME, x509.NameOID.ORGANIZATION_NAME
    rdn = x509.RelativeDistinguishedName
    subject = x509.Name([rdn([x509.NameAttribute(org, "Yubico")]),
                         rdn([x509.NameAttribute(cn, "b"), x509.NameAttribute(cn, "a"), x509.NameAttribute(org, "x")]),
                         rdn([x509.NameAttribute(cn, "c")])])
    parsed = x509.Name.from_rfc4514_string("CN=YubiKey PIV Attestation 9a+CN=second,O=Yubico,CN=third")
    for each in (subject, parsed, x509.Name([])):
        assert common_names(each) == [str(a.value) for a in each.get_attributes_for_oid(cn)]
    assert common_names(subject) == ["b", "a", "c"]


def _with_slot_policy(bench: PivBench, policy: bytes) -> None:
    bench.slot_extensions(lambda exts: [Ext(x509.UnrecognizedExtension(PIV_POLICY, policy)) if e.value.oid == PIV_POLICY
                                        else e for e in exts])


@pytest.mark.parametrize("policy", [b"\x06\x02", b"\x02\x04", b"\x09\x09"], ids=["pin-6", "touch-4", "both-9"])
def test_an_unknown_pin_or_touch_policy_byte_is_malformed(kit, policy):
    bench = piv(kit)
    _with_slot_policy(bench, policy)
    verdict = verify("yubico-piv", bench.evidence(), bench.anchors)
    assert verdict.reason is Reason.MALFORMED, verdict.summary()
    assert f"PIN/touch policy (.3.8) {policy.hex()} is unknown" in verdict.detail


@pytest.mark.parametrize(("document", "expected"), [
    ({"pinPolicy": "match-once"}, Reason.OK),  # as strong as once
    ({"pinPolicy": "default", "touchPolicy": "cached"}, Reason.OK),
    ({"pinPolicy": "always"}, Reason.ATTR_ACCESS_POLICY),
    ({"pinPolicy": "Once"}, Reason.MALFORMED),  # ykman names are lower case
    ({"pinPolicy": "match_once"}, Reason.MALFORMED),
    ({"touchPolicy": 2}, Reason.MALFORMED),
    ({"touchPolicy": ["always"]}, Reason.MALFORMED),
    ({"pinPolicy": {"once": True}}, Reason.MALFORMED),
])
def test_request_policies_are_read_by_their_ykman_names(kit, document, expected):
    bench = piv(kit)  # slot 9a, PIN once, touch always
    request = next(n for n in bench.evidence().files if n.endswith(".request.json"))
    bench.overrides[request] = json.dumps(document).encode()
    verdict = verify("yubico-piv", bench.evidence(), bench.anchors)
    assert verdict.reason is expected, verdict.summary()


@pytest.mark.parametrize(("origin", "expected"), [
    (0x01, Reason.OK), (0x04, Reason.MALFORMED), (0x21, Reason.MALFORMED), (0x81, Reason.MALFORMED),
    (0x13, Reason.ATTR_CONFLICT), (0x10, Reason.ATTR_NOT_LOCAL), (0x00, Reason.ATTR_NOT_LOCAL),
])
def test_hsm_origin_bits(kit, origin, expected):
    bench = HsmBench.open(kit, "ec-p256")
    bench.with_fields(origin=origin)
    verdict = verify("yubihsm2", bench.evidence(), bench.anchors)
    assert verdict.reason is expected, verdict.summary()
    if expected is Reason.MALFORMED:
        assert verdict.detail == f"origin {origin:#04x} has unknown bits"


def test_hsm_bit_string_defects_name_the_raw_value(kit):
    bench = HsmBench.open(kit, "ec-p256")
    bench.raw_extension(HSM_KEY_OIDS[3], b"\x03\x03\x01\x00\x01")  # domains with 1 unused bit
    verdict = verify("yubihsm2", bench.evidence(), bench.anchors)
    assert verdict.reason is Reason.MALFORMED
    assert verdict.detail == "domains (4.4) is not a 16-bit DER BIT STRING (0303010001)"


# -- real samples -----------------------------------------------------------------------------------

@pytest.mark.shared
@pytest.mark.parametrize("name", YUBIKEY_SAMPLES)
def test_real_yubikey_samples_are_accepted_with_their_roots(shared_dir, name):
    interop = shared_dir / "interop"
    data = (interop / "purebred" / "Yubikey_4_3_3" / name).read_bytes()
    evidence = Evidence("yubico-piv", {name: data}, name)
    target = x509.load_der_x509_certificate((interop / "purebred" / "Yubikey_4_3_3" /
                                             name.replace("attestation.bin", "target.der")
                                             .replace("request.bin", "target.der")).read_bytes())
    fmt = get_format("yubico-piv")
    for root in ("purebred/TrustAnchors/Yubikey/YubicoRoot.der", "roots/yubico_piv_root_ca_263751.pem"):
        trust = fmt.trust_anchors_from_files([interop / root])
        verdict = fmt.verify(evidence, trust, at=PUREBRED_TIME)
        assert verdict.accepted, f"{root}: {verdict.summary()}"
        assert (verdict.claims.serial, verdict.claims.firmware) == ("5250272", "4.3.3")
        assert verdict.claims.spki_der == target.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        # the 4.3.3 f9 has no basicConstraints: not a CA by RFC 5280 6.1.4(k), which strict holds to
        strict = fmt.verify(evidence, trust, at=PUREBRED_TIME, profile=Profile.STRICT)
        assert strict.reason is Reason.CERT_NOT_CA, f"{root}: {strict.summary()}"
    swapped = fmt.trust_anchors_from_files([interop / "yubihsm2" / "yubihsm2_attest_root.crt"])
    assert not fmt.verify(evidence, swapped, at=PUREBRED_TIME).accepted


@pytest.mark.shared
def test_real_yubihsm2_sample_is_accepted_with_its_root(shared_dir):
    sample = shared_dir / "interop" / "yubihsm2"
    evidence = Evidence("yubihsm2", {n: (sample / n).read_bytes() for n in ("chain.pem", "csr.pem")}, "chain.pem")
    fmt = get_format("yubihsm2")
    expected = json.loads((sample / "expected.json").read_text())
    for profile in Profile:
        verdict = fmt.verify(evidence, fmt.trust_anchors_from_files([sample / "yubihsm2_attest_root.crt"]),
                             at=datetime(2026, 11, 22, tzinfo=UTC), profile=profile)
        assert verdict.accepted, verdict.summary()
        assert (verdict.claims.serial, verdict.claims.label) == (expected["hsmSerialNumber"], "Swish Sign RSA4096")
    swapped = fmt.trust_anchors_from_files([shared_dir / "interop" / "roots" / "yubico_piv_root_ca_263751.pem"])
    assert fmt.verify(evidence, swapped, at=datetime(2026, 11, 22, tzinfo=UTC)).reason is Reason.CHAIN_UNTRUSTED


@pytest.mark.shared
def test_emulated_yubihsm2_chain_serials_take_as_many_octets_as_the_published_ones(shared_dir):
    def octets(serial: int) -> int:  # the DER INTEGER's content length
        return serial.bit_length() // 8 + 1

    sample = shared_dir / "interop" / "yubihsm2"
    real = [x509.load_pem_x509_certificate((sample / name).read_bytes()) for name in (
        "key_attestation.crt", "device_attestation_20783176.crt", "yubihsm_subca_6742036.crt",
        "yubihsm2_attest_root.crt")]
    golden = next(case for case in get_format("yubihsm2").vector_cases(SEED) if case.id.startswith(
        "yubihsm2::golden::"))
    files = golden.evidence.files
    emulated = [*x509.load_pem_x509_certificates(files[golden.evidence.primary]),
                x509.load_pem_x509_certificate(files["yubihsm2_attest_root.crt"])]
    assert [c.subject.rfc4514_string().split(" ")[1] for c in emulated] == \
        [c.subject.rfc4514_string().split(" ")[1] for c in real]  # key, device, sub-CA, root
    assert [octets(c.serial_number) for c in emulated] == [octets(c.serial_number) for c in real]


@pytest.mark.shared
def test_emulated_yubihsm2_csrs_request_the_extensions_of_the_published_one(shared_dir):
    """The published csr.pem requests one extension, a non-critical keyUsage digitalSignature (03 02 07 80); every
    golden's CSR requests the same, and is the only attribute."""
    def requested(csr: x509.CertificateSigningRequest) -> list[tuple[str, bool, bytes]]:
        assert [a.oid.dotted_string for a in csr.attributes] == ["1.2.840.113549.1.9.14"]
        return [(e.oid.dotted_string, e.critical, e.value.public_bytes()) for e in csr.extensions]

    real = requested(x509.load_pem_x509_csr((shared_dir / "interop" / "yubihsm2" / "csr.pem").read_bytes()))
    assert real == [("2.5.29.15", False, bytes.fromhex("03020780"))]
    goldens = [c for c in get_format("yubihsm2").vector_cases(SEED) if c.id.startswith("yubihsm2::golden::")]
    assert goldens
    for case in goldens:
        csr = next(data for name, data in case.evidence.files.items() if name.endswith(".csr"))
        assert requested(x509.load_pem_x509_csr(csr)) == real, case.id


@pytest.mark.shared
@pytest.mark.parametrize("primary", ["chain.pem", "key_attestation.crt"])
def test_real_yubihsm2_layout_is_detected_and_its_csr_found(shared_dir, primary):
    """The real sample's files (chain.pem, key_attestation.crt, csr.pem) are YubiHSM 2 evidence without --format;
    the CSR is found by content, so strict binds it (expected.json: the CSR's key is the attested key)."""
    sample = shared_dir / "interop" / "yubihsm2"
    fmt = detect(sample / primary)
    assert fmt.name == "yubihsm2"
    evidence = fmt.load(sample / primary)
    assert evidence.files["csr.pem"] == (sample / "csr.pem").read_bytes()
    trust = fmt.trust_anchors_from_files([sample / "yubihsm2_attest_root.crt"])
    verdict = fmt.verify(evidence, trust, at=datetime(2026, 11, 22, tzinfo=UTC), profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    expected = json.loads((sample / "expected.json").read_text())
    fingerprint = hashlib.sha256(verdict.claims.spki_der).hexdigest()
    assert ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)) == expected["attestedPublicKeyFingerprint"]
    assert detect(sample).name == "yubihsm2"


@pytest.mark.shared
def test_real_key_attestation_certificate_alone_chains_through_the_loose_certificates(shared_dir, tmp_path):
    """Without chain.pem: key_attestation.crt beside the device certificate and the sub-CA, as yubihsm-shell and
    Yubico's download give them; a CSR for another key is a mismatch, no CSR is missing input under strict."""
    sample = shared_dir / "interop" / "yubihsm2"
    for file_name in ("key_attestation.crt", "device_attestation_20783176.crt", "yubihsm_subca_6742036.crt", "csr.pem"):
        (tmp_path / file_name).write_bytes((sample / file_name).read_bytes())
    fmt = get_format("yubihsm2")
    trust = fmt.trust_anchors_from_files([sample / "yubihsm2_attest_root.crt"])
    at = datetime(2026, 11, 22, tzinfo=UTC)

    def verdict(profile: Profile = Profile.STRICT) -> Reason:
        return fmt.verify(fmt.load(tmp_path / "key_attestation.crt"), trust, at=at, profile=profile).reason

    assert verdict() is Reason.OK
    store = SoftKeyStore(seed="other-csr")
    other = store.generate(KeySpec.parse("ec-p256"), "other", created=KEY_CREATED)
    csr = build_csr(name(("CN", "other", UTF8)), store.signer(other))
    (tmp_path / "csr.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    assert verdict() is Reason.KEY_MISMATCH
    (tmp_path / "csr.pem").unlink()
    assert verdict() is Reason.MISSING_INPUT and verdict(Profile.STRUCTURAL) is Reason.OK
    (tmp_path / "device_attestation_20783176.crt").unlink()
    assert verdict(Profile.STRUCTURAL) is Reason.CHAIN_INCOMPLETE


# -- python-yubihsm as an oracle --------------------------------------------------------------------

def test_python_yubihsm_parses_what_the_emulator_writes(kit):
    objects = pytest.importorskip("yubihsm.objects", reason="python-yubihsm is not installed (optional: "
                                                            "pip install yubihsm)")
    for spec in ("rsa-3072", "ec-p256", "ed25519"):
        key = kit.keys[spec]
        leaf = assemble_hsm(SEED, kit.hsm, key, kit.store.signer(key)).chain[0]
        parsed = objects.AttestationExtensions.parse(leaf)
        assert (tuple(parsed.firmware_version), parsed.serial, int(parsed.origin), parsed.label) == (
            kit.hsm.firmware, kit.hsm.serial, 1, key.label)
    long_form = next(c for c in hsm_vector_cases(SEED) if c.id.endswith("ext::label-long-form-length"))
    chain = x509.load_pem_x509_certificates(long_form.evidence.files[long_form.evidence.primary])
    assert objects.AttestationExtensions.parse(chain[0]).label != kit.keys["rsa-3072"].label


# -- CLI and the openssl walk -----------------------------------------------------------------------

def hsmsim(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return run_hsmsim([*args, "--state", str(state)], timeout=300, cwd=ROOT)


def test_cli_attest_and_verify(tmp_path):
    state = tmp_path / "yk"
    created = hsmsim("key", "create", "--format", "yubico-piv", "--label", "sign", "--spec", "ec-p256", state=state)
    assert created.returncode == 0, created.stderr
    for profile in ("ykman", "sectigo", "step"):
        out = tmp_path / profile
        attested = hsmsim("attest", "--key", "sign", "--out", str(out), "--param", f"profile={profile}",
                          "--param", "touch_policy=cached", state=state)
        assert attested.returncode == 0, attested.stderr
        assert detect(out).name == "yubico-piv"
        verified = run_hsmsim(["verify", str(out), "--root",
                               str(out / "piv-attestation-ca.pem"), "--json"], timeout=120, cwd=ROOT)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["claims"]["label"] == "9a"


def _piv_attest(firmware: str | None = None, generation: str | None = None, spec: str = "ec-p256") -> Evidence:
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse(spec), "piv", created=KEY_CREATED)
    parameters = {k: v for k, v in (("firmware", firmware), ("generation", generation)) if v is not None}
    return Hsm(Device.from_seed("yubico-piv", SEED), store).attest("piv", parameters=parameters)


def test_firmware_parameter_shapes_the_certificates_as_that_firmware():
    """firmware=4.3.3: the f9 without basicConstraints and the slot certificate without form factor, as the real
    YubiKey 4.3.3 ones; the verifier reads the firmware back."""
    evidence = _piv_attest("4.3.3")
    f9 = x509.load_pem_x509_certificate(evidence.files["piv.f9.pem"])
    slot = x509.load_pem_x509_certificate(evidence.files["piv.attestation.pem"])
    assert [e.oid for e in f9.extensions] == [PIV_FIRMWARE]
    assert [e.oid for e in slot.extensions] == [PIV_FIRMWARE, PIV_SERIAL, PIV_POLICY]
    assert extension_value(slot, PIV_FIRMWARE) == bytes([4, 3, 3])
    root = x509.load_pem_x509_certificate(evidence.files[ROOT_FILES[LEGACY]])
    verdict = verify("yubico-piv", evidence, (root,))
    assert verdict.accepted and verdict.claims.firmware == "4.3.3", verdict.summary()
    # 5.7.4 belongs to the 2024 PKI: its bundle names the new root
    assert ROOT_FILES[NEW] in _piv_attest("5.7.4").files


@pytest.mark.parametrize(("firmware", "generation", "message"), [
    ("4.3", None, "parameter firmware must be a version major.minor.patch"),
    ("4.3.x", None, "parameter firmware must be a version major.minor.patch"),
    ("4.3.256", None, "parameter firmware must be a version major.minor.patch"),
    ("4.2.9", None, "PIV attestation needs firmware 4.3.0 or later"),
    ("4.3.3", "2024", "firmware 4.3.3 is certified under the legacy PKI, not 2024"),
    ("5.7.4", "legacy", "firmware 5.7.4 is certified under the 2024 PKI, not legacy"),
])
def test_firmware_parameter_refusals(firmware, generation, message):
    with pytest.raises(ParameterError, match=message):
        _piv_attest(firmware, generation)


def test_firmware_before_5_7_has_no_rsa_4096():
    with pytest.raises(UnsupportedKeyError, match=r"firmware 4\.3\.3 has no rsa-4096 keys \(5\.7 and later do\)"):
        _piv_attest("4.3.3", spec="rsa-4096")


def test_hsm_attest_through_the_hsm_model():
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("rsa-3072"), "codesign", created=KEY_CREATED)
    hsm = Hsm(Device.from_seed("yubihsm2", SEED), store)
    evidence = hsm.attest("codesign")
    root = x509.load_pem_x509_certificate(evidence.files["yubihsm2_attest_root.crt"])
    assert verify("yubihsm2", evidence, (root,), datetime(2026, 1, 1, tzinfo=UTC), Profile.STRICT).accepted


def walk(directory: Path, root: Path, at: datetime) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(WALK), str(directory), str(root), str(int(at.timestamp()))],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.openssl
def test_openssl_walk_accepts_every_valid_piv_golden(tmp_path, openssl):
    tests = json.loads((ROOT / "vectors" / "yubico-piv_verify.json").read_text())["tests"]
    goldens = [t for t in tests if "Golden" in t["flags"]]
    assert len(goldens) == 11
    for test in goldens:
        anchor = tmp_path / f"{test['tcId']}.pem"
        anchor.write_text(test["trust"]["anchors"][0])
        at = datetime.fromisoformat(test["trust"]["validationTime"].replace("Z", "+00:00"))
        result = walk(ROOT / "vectors" / test["inputs"]["dir"], anchor, at)
        assert result.stdout.splitlines()[-1] == "ACCEPT", test["id"] + result.stdout + result.stderr
        # firmware 5.4.3 / 5.7.4 f9s say CA:TRUE pathlen:0: Yubico's documented command passes as on real 5.4.3
        assert "documented verify OK" in result.stdout, test["id"] + result.stdout + result.stderr


@pytest.mark.openssl
@pytest.mark.parametrize(("vector", "step"), [
    ("chain/f9-checked-instead-of-attestation", "REJECT attestation-signature"),
    ("chain/user-loaded-f9", "REJECT f9"), ("binding/csr-other-key", "REJECT binding"),
    ("step/signature-other-challenge", "REJECT step-signature"),
    ("policy/touch-never", "ACCEPT"),  # the documented walk reads no policy: the reference verifier does
    ("variant/f9-without-basic-constraints", "ACCEPT"),  # a YubiKey 4 f9: error 79, then the link-by-link walk
])
def test_openssl_walk_on_defects(openssl, vector, step):
    directory = ROOT / "vectors" / "yubico-piv" / vector
    result = walk(directory, directory / "piv-attestation-ca.pem", VALIDATION_TIME)
    assert result.stdout.splitlines()[-1] == step, result.stdout + result.stderr
    if vector.startswith("variant/"):
        assert "error 79" in result.stdout + result.stderr and "documented verify failed" in result.stdout


@pytest.mark.shared
@pytest.mark.openssl
def test_real_f9_needs_the_walks_fallback(shared_dir, openssl, tmp_path):
    """The documented command fails on the real YubiKey 4 f9 (no basicConstraints: error 79)."""
    data = (shared_dir / "interop" / "purebred" / "Yubikey_4_3_3" / "3_user_id_scep_request.bin").read_bytes()
    from hsmsim.formats.yubico.verify_piv import purebred_certificates

    f9, slot = (x509.load_der_x509_certificate(d) for d in purebred_certificates(data) or [])
    (tmp_path / "k.attestation.pem").write_bytes(slot.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.f9.pem").write_bytes(f9.public_bytes(serialization.Encoding.PEM))
    csr = x509.load_der_x509_csr(data)
    (tmp_path / "k.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    result = walk(tmp_path, shared_dir / "interop" / "roots" / "yubico_piv_root_ca_263751.pem", PUREBRED_TIME)
    assert "error 79" in result.stdout + result.stderr and result.stdout.splitlines()[-1] == "ACCEPT", result.stdout


def test_detect_tells_every_yubico_vector_apart():
    directories = sorted((ROOT / "vectors").glob("yubi*/*/*"))
    counts = json.loads((ROOT / "vectors" / "manifest.json").read_text())["counts"]["format"]
    assert len(directories) == counts["yubico-piv"] + counts["yubihsm2"]  # one directory per vector
    for directory in directories:
        assert detect(directory).name == directory.parts[-3], directory
