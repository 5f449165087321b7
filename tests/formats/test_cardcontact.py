"""The smartcard-hsm format: the CV layout against the real Nitrokey HSM 2 EF.C_DevAut and the real SRCA, the
generator's signatures checked by hand, the reference verifier's reasons, hostile bytes, the catalogue, the CLI,
and the real device chain under CardContact's root (``tests/data/cardcontact``)."""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from hsmsim.device import Device
from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.cardcontact import cvc
from hsmsim.formats.cardcontact.catalogue import GOLDEN_SPECS, mutations
from hsmsim.formats.cardcontact.format import SmartCardHsmFormat
from hsmsim.formats.cardcontact.generate import authenticate
from hsmsim.formats.cardcontact.layout import C_DEVAUT_FILE, ROOT_FILE
from hsmsim.formats.cardcontact.pki import SRCA_CHR, cardcontact_pki, carried_cvc
from hsmsim.formats.cardcontact.verify import check_device_chain
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED
from tests.formats import check_catalogue_verdicts

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "cardcontact"
REAL_ROOT = DATA / "DESRCACC100001.cvc"
REAL_DEVAUT = DATA / "DENK0404144_C_DevAut.bin"
REAL_REQUEST = DATA / "DENK0105702_authreq.bin"
REAL_READ = datetime(2026, 9, 17, 12, 0, tzinfo=UTC)
"""When the real EF.C_DevAut was read off the card (its device certificate runs 2026-05-28 to 2031-05-27)."""
AT = datetime(2025, 6, 2, tzinfo=UTC)


def tags(data: bytes) -> list[object]:
    """The tag tree of concatenated TLVs: constructed tags (7F.., 67, 65 with children) nest, primitives are leaves."""
    out: list[object] = []
    for tlv in cvc.parse_all(data):
        constructed = tlv.tag in (0x67, 0x7F21, 0x7F4E, 0x7F49, 0x7F4C)
        out.append((f"{tlv.tag:X}", tags(tlv.value)) if constructed else f"{tlv.tag:X}")
    return out


@pytest.fixture(scope="module")
def fmt() -> SmartCardHsmFormat:
    found = get_format("smartcard-hsm")
    assert isinstance(found, SmartCardHsmFormat)
    return found


@pytest.fixture(scope="module")
def card() -> Hsm:
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("smartcard-hsm", SEED), store)
    for spec in GOLDEN_SPECS:
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    store.generate(KeySpec.parse("ed25519"), "edwards", created=KEY_CREATED)
    return hsm


@pytest.fixture(scope="module")
def bundles(card: Hsm) -> dict[str, Evidence]:
    return {spec: card.attest(f"key-{spec}", "smartcard-hsm", {"attest_time": ATTEST_TIME}) for spec in GOLDEN_SPECS}


@pytest.fixture(scope="module")
def trust(bundles: dict[str, Evidence]) -> TrustAnchors:
    return TrustAnchors({"root": (x509.load_pem_x509_certificate(bundles["ec-p256"].files[ROOT_FILE]),)})


def with_file(evidence: Evidence, name: str, data: bytes | None) -> Evidence:
    files = {k: v for k, v in evidence.files.items() if k != name}
    if data is not None:
        files[name] = data
    return Evidence(evidence.format, files, evidence.primary)


def request_of(evidence: Evidence) -> bytes:
    return evidence.files[evidence.primary]


# -- layout, against the real structures -----------------------------------------------------------

def test_c_devaut_has_the_real_cards_layout(bundles):
    """Device certificate then DICA, each with the tag sequence of the real Nitrokey HSM 2's (point only, CHAT,
    dates, the DICA's empty 65)."""
    ours, real = bundles["ec-p256"].files[C_DEVAUT_FILE], REAL_DEVAUT.read_bytes()
    assert tags(ours) == tags(real)
    assert tags(real)[1] == ("7F21", [("7F4E", ["5F29", "42", ("7F49", ["6", "86"]), "5F20",
                                                ("7F4C", ["6", "53"]), "5F25", "5F24", "65"]), "5F37"])
    device, dica = cvc.parse_certificate_file(ours, 2, "ours")
    real_device, real_dica = cvc.parse_certificate_file(real, 2, "real")
    assert (device.role, dica.role, device.role_oid) == (real_device.role, real_dica.role, real_device.role_oid)
    assert len(device.chr) == len(real_device.chr) == 16 and device.chr.endswith("00000")
    assert len(dica.chr) == len(real_dica.chr) and dica.car == SRCA_CHR


def test_srca_has_the_real_roots_layout(fmt, trust):
    ours = carried_cvc(trust.get()[0])
    assert ours is not None
    assert tags(ours) == tags(REAL_ROOT.read_bytes())
    root = cvc.parse_certificate_file(ours, 1, "root")[0]
    assert (root.car, root.chr, root.role, root.effective.isoformat(), root.expiry.isoformat()) == (
        SRCA_CHR, SRCA_CHR, 0xC0, "2012-11-09", "2032-11-08")


def test_request_layout_and_signatures_by_hand(bundles, card):
    """67 { 7F21 { 7F4E { 5F29 00, 42 UTCA00001, 7F49 (OID, 81..87), 5F20 }, 5F37 }, 42, 5F37 }; the inner
    signature is the key's over the 7F4E TLV, the outer the device key's over 7F21 TLV || 42 TLV, both plain r||s
    (checked here with cryptography directly, not with the format's code)."""
    raw = request_of(bundles["ec-p256"])
    assert tags(raw) == [("67", [("7F21", [("7F4E", ["5F29", "42", ("7F49", ["6", "81", "82", "83", "84", "85",
                                                                            "86", "87"]), "5F20"]), "5F37"]),
                                 "42", "5F37"])]
    assert raw[:2] == b"\x67\x82" and raw[4:6] == b"\x7f\x21"
    header = 5 if raw[6] == 0x82 else 4
    inner_len = header + (int.from_bytes(raw[7:9], "big") if header == 5 else raw[7])
    inner = raw[4:4 + inner_len]
    car = raw[4 + inner_len:4 + inner_len + 2 + raw[4 + inner_len + 1]]
    assert car[0] == 0x42
    device = cvc.parse_certificate_file(bundles["ec-p256"].files[C_DEVAUT_FILE], 2, "C_DevAut")[0]
    assert car[2:].decode() == device.chr
    outer = raw[4 + inner_len + len(car):]
    assert outer[:3] == b"\x5f\x37\x40"
    device_key = card.attestation_identity().key.public_key()
    assert isinstance(device_key, ec.EllipticCurvePublicKey) and device_key.curve.name == "brainpoolP256r1"
    r, s = int.from_bytes(outer[3:35], "big"), int.from_bytes(outer[35:67], "big")
    device_key.verify(encode_dss_signature(r, s), inner + car, ec.ECDSA(hashes.SHA256()))
    body_end = len(inner) - 67
    assert inner[body_end:body_end + 3] == b"\x5f\x37\x40"
    body = inner[header:body_end]
    signature = inner[body_end + 3:]
    key = card.keystore.get("key-ec-p256").public_key
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")),
               body, ec.ECDSA(hashes.SHA256()))
    assert body[:2] == b"\x7f\x4e" and b"\x5f\x29\x01\x00\x42\x09UTCA00001\x7f\x49" in body


def test_rsa_request_key_and_inner_signature(bundles, card):
    request = cvc.parse_authenticated_request(request_of(bundles["rsa-2048"]))
    assert request.inner.public_key.oid == "0.4.0.127.0.7.2.2.2.1.2" and set(request.inner.public_key.elements) == {
        0x81, 0x82}
    key = card.keystore.get("key-rsa-2048").public_key
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(request.inner.signature, request.inner.body, padding.PKCS1v15(), hashes.SHA256())
    assert len(request.outer_signature) == 64


def test_generation_is_deterministic(card, bundles):
    again = card.attest("key-ec-p256", "smartcard-hsm", {"attest_time": ATTEST_TIME})
    assert again.files == bundles["ec-p256"].files


@pytest.mark.parametrize("label", ["imported", "edwards"])
def test_keys_the_card_cannot_have_generated_are_refused(card, label):
    with pytest.raises(UnsupportedKeyError):
        card.attest(label, "smartcard-hsm", {"attest_time": ATTEST_TIME})


def test_no_attesting_key_but_the_device_key(fmt, card):
    signer = card.keystore.signer(card.keystore.get("key-ec-p256"))
    with pytest.raises(UnsupportedKeyError):
        fmt.provision(card.device, "default", ("key-ec-p256", signer, KEY_CREATED))


# -- the reference verifier ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_goldens_verify_with_claims(fmt, bundles, trust, spec):
    verdict = fmt.verify(bundles[spec], trust, at=AT)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims is not None and claims.vendor == "CardContact" and claims.generated_on_device is True
    assert claims.extractable is None and claims.never_extractable is None  # DKEK export is not stated
    assert claims.key_type == {"rsa-2048": "RSA", "ec-p256": "EC-secp256r1", "ec-p384": "EC-secp384r1"}[spec]
    assert claims.serial is not None and claims.label == claims.serial + "00001"
    strict = fmt.verify(bundles[spec], trust, at=AT, profile=Profile.STRICT)
    assert strict.reason == (Reason.KEY_POLICY if spec == "rsa-2048" else Reason.OK)


def test_missing_files_and_anchors(fmt, bundles, trust):
    golden = bundles["ec-p256"]
    assert fmt.verify(with_file(golden, C_DEVAUT_FILE, None), trust, at=AT).reason is Reason.MISSING_INPUT
    assert fmt.verify(with_file(golden, golden.primary, None), trust, at=AT).reason is Reason.MISSING_INPUT
    assert fmt.verify(golden, TrustAnchors(), at=AT).reason is Reason.CHAIN_UNTRUSTED
    other_root = cardcontact_pki("another-seed", "17000001", datetime(2025, 1, 6, tzinfo=UTC)).carriers[0]
    assert fmt.verify(golden, TrustAnchors({"root": (other_root,)}), at=AT).reason is Reason.CERT_SIGNATURE_INVALID


def test_dates_are_whole_days(fmt, bundles, trust, card):
    device = cvc.parse_certificate_file(bundles["ec-p256"].files[C_DEVAUT_FILE], 2, "C_DevAut")[0]
    assert device.expiry is not None and device.effective == card.device.initialised.date()
    last = datetime.combine(device.expiry, time.max, UTC)
    assert fmt.verify(bundles["ec-p256"], trust, at=last).accepted
    after = datetime.combine(device.expiry + timedelta(days=1), time.min, UTC)
    assert fmt.verify(bundles["ec-p256"], trust, at=after).reason is Reason.CERT_EXPIRED


def test_two_different_csrs_are_malformed_and_a_copy_is_not(fmt, bundles, trust):
    """Two different CSRs make the bundle ambiguous (MALFORMED, naming both; it was ATTR_CONFLICT); a copy of the
    key's CSR under another name is the same file."""
    golden = bundles["ec-p256"]
    csr = next(v for k, v in golden.files.items() if k.endswith(".csr"))
    assert fmt.verify(with_file(golden, "second.csr", csr), trust, at=AT).accepted
    other = next(v for k, v in bundles["rsa-2048"].files.items() if k.endswith(".csr"))
    for profile in Profile:
        verdict = fmt.verify(with_file(golden, "second.csr", other), trust, at=AT, profile=profile)
        assert verdict.reason is Reason.MALFORMED and "'second.csr'" in verdict.detail, verdict.summary()


def test_random_corruption_gives_reasons_not_exceptions(fmt, bundles, trust):
    rng = random.Random(7)
    golden = bundles["ec-p256"]
    for name in (golden.primary, C_DEVAUT_FILE):
        data = golden.files[name]
        for _ in range(300):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            cut = mutated[:rng.randrange(len(mutated) + 1)] if rng.random() < 0.2 else mutated
            verdict = fmt.verify(with_file(golden, name, bytes(cut)), trust, at=AT)
            assert verdict.reason is not Reason.OK or bytes(cut) == data


def test_deep_or_long_lengths_are_malformed_not_crashes(fmt, bundles, trust):
    golden = bundles["ec-p256"]
    for data in (b"\x67\x84\xff\xff\xff\xff", b"\x67\x80", b"\x67\x83\xff\xff\xff", b"\x7f", b"\x67",
                 b"\x67\x03\x7f\xff\x01", b""):
        assert fmt.verify(with_file(golden, golden.primary, data), trust, at=AT).reason is Reason.MALFORMED


# -- the real samples -----------------------------------------------------------------------------------

def test_real_device_chain_verifies_under_cardcontacts_root(fmt):
    """The Nitrokey HSM 2 DENK0404144's EF.C_DevAut chains to DESRCACC100001 (OpenSC's and scsh's root) on the
    day it was read."""
    trust = fmt.trust_anchors_from_files([REAL_ROOT])
    srca, dica, device, _key = check_device_chain(REAL_DEVAUT.read_bytes(), trust, REAL_READ)
    assert (srca.chr, dica.chr, device.chr) == ("DESRCACC100001", "DEDINK0400001", "DENK040414400000")
    with pytest.raises(Rejected) as expired:
        check_device_chain(REAL_DEVAUT.read_bytes(), trust, datetime(2031, 5, 28, tzinfo=UTC))
    assert expired.value.reason is Reason.CERT_EXPIRED


def test_real_device_chain_fails_under_the_root_with_another_point(fmt, tmp_path):
    """The same root CV certificate with its point replaced by the curve's generator is no longer self-signed
    (refused as an anchor); the emulated SRCA does not sign the real DICA."""
    root = bytearray(REAL_ROOT.read_bytes())
    g, p = root.find(bytes.fromhex("8441048BD2")), root.find(bytes.fromhex("8641046D025A"))
    root[p + 2:p + 67] = root[g + 2:g + 67]
    forged = tmp_path / "forged.cvc"
    forged.write_bytes(bytes(root))
    with pytest.raises(BundleError):
        fmt.trust_anchors_from_files([forged])
    emulated = cardcontact_pki(SEED, "17000001", datetime(2025, 1, 6, tzinfo=UTC)).carriers[0]
    with pytest.raises(Rejected) as untrusted:
        check_device_chain(REAL_DEVAUT.read_bytes(), TrustAnchors({"root": (emulated,)}), REAL_READ)
    assert untrusted.value.reason is Reason.CHAIN_UNTRUSTED


def test_an_emulated_request_with_the_real_c_devaut_fails_only_its_outer_signature(fmt, bundles, card):
    """With the real EF.C_DevAut the real chain passes every check; a request naming the emulated card is refused
    by name, one naming DENK0404144 by the outer signature (the real device key never signed it)."""
    anchors = fmt.trust_anchors_from_files([REAL_ROOT])
    evidence = with_file(bundles["ec-p256"], C_DEVAUT_FILE, REAL_DEVAUT.read_bytes())
    assert fmt.verify(evidence, anchors, at=REAL_READ).reason is Reason.CHAIN_INCOMPLETE
    request = cvc.parse_authenticated_request(request_of(evidence))
    device_key = card.attestation_identity().key
    assert isinstance(device_key, ec.EllipticCurvePrivateKey)
    renamed = authenticate(request.inner.raw, "DENK040414400000", device_key)
    verdict = fmt.verify(with_file(evidence, evidence.primary, renamed), anchors, at=REAL_READ)
    assert verdict.reason is Reason.SIGNATURE_INVALID, verdict.summary()


def test_real_request_has_our_layout_and_its_inner_signature_verifies(fmt, bundles, trust):
    """Nitrokey HSM DENK0105702's request for a secp256k1 key: the same tag tree as the emulated card's, the
    inner signature verifies by the rule hsmsim uses; without its card's EF.C_DevAut nothing more can be checked."""
    raw = REAL_REQUEST.read_bytes()
    assert tags(raw) == tags(request_of(bundles["ec-p256"]))
    request = cvc.parse_authenticated_request(raw)
    assert (request.inner.car, request.inner.chr, request.outer_car) == (
        "UTCA00001", "DENK010570200001", "DENK010570200000")
    key = request.inner.public_key.ec_key(None)
    assert key.curve.name == "secp256k1"
    assert cvc.verifies(key, request.inner.signature, request.inner.body)
    assert not cvc.verifies(key, request.inner.signature, request.inner.body[:-1] + b"\x30")
    alone = Evidence("smartcard-hsm", {"btc.cvreq": raw}, "btc.cvreq")
    assert fmt.verify(alone, trust, at=AT).reason is Reason.MISSING_INPUT
    beside_ours = with_file(bundles["ec-p256"], bundles["ec-p256"].primary, raw)
    assert fmt.verify(beside_ours, trust, at=AT).reason is Reason.CHAIN_INCOMPLETE


def test_trust_anchor_files_of_both_kinds(fmt, tmp_path, trust):
    pem = tmp_path / "root.pem"
    pem.write_bytes(trust.get()[0].public_bytes(serialization.Encoding.PEM))
    both = fmt.trust_anchors_from_files([pem, REAL_ROOT])
    assert [carried_cvc(c) is not None for c in both.get()] == [True, True]
    junk = tmp_path / "junk.cvc"
    junk.write_bytes(b"\x7f\x21\x03abc")
    with pytest.raises(BundleError):
        fmt.trust_anchors_from_files([junk])


# -- the catalogue ----------------------------------------------------------------------------------

def test_every_vector_verifies_as_its_definition_says(tmp_path, fmt):
    document = check_catalogue_verdicts(tmp_path / "v", fmt, SEED)
    reasons = {t["expectedReason"] for t in document["tests"]}
    assert reasons >= {"SIGNATURE_INVALID", "CSR_SIGNATURE_INVALID", "CERT_SIGNATURE_INVALID", "CHAIN_UNTRUSTED",
                       "CHAIN_INCOMPLETE", "CERT_EXPIRED", "CERT_NOT_YET_VALID", "KEY_MISMATCH", "MALFORMED",
                       "UNSUPPORTED", "LIMIT_EXCEEDED", "MISSING_INPUT", "CERT_NOT_CA", "CERT_PROFILE"}


def test_catalogue_is_deterministic_and_one_flag_per_defect(fmt):
    first, second = fmt.vector_cases(SEED), fmt.vector_cases(SEED)
    assert [c.evidence.files for c in first] == [c.evidence.files for c in second]
    assert len({c.id for c in first}) == len(first)
    assert len({m.flag for m in mutations()}) == len(mutations())
    assert set(fmt.vector_notes()) >= {f for c in first for f in c.flags}


def test_the_defects_are_what_their_names_say(fmt):
    """Spot checks on the mutated bytes themselves, independent of the verifier."""
    cases = {c.id: c for c in fmt.vector_cases(SEED)}
    golden = cases["smartcard-hsm::golden::ec-p256"].evidence
    truncated = cases["smartcard-hsm::encoding::truncated"].evidence
    assert request_of(truncated) == request_of(golden)[:-10]
    trailing = cases["smartcard-hsm::encoding::trailing-bytes"].evidence
    assert request_of(trailing) == request_of(golden) + b"\x90\x00"
    swapped = cases["smartcard-hsm::devaut::dica-first"].evidence.files[C_DEVAUT_FILE]
    first, second = cvc.parse_all(golden.files[C_DEVAUT_FILE])
    assert swapped == second.raw + first.raw
    other = cvc.parse_authenticated_request(request_of(cases["smartcard-hsm::key::other-key-in-request"].evidence))
    assert other.inner.public_key != cvc.parse_authenticated_request(request_of(golden)).inner.public_key
    expired = cvc.parse_certificate_file(cases["smartcard-hsm::chain::device-expired"].evidence.files[C_DEVAUT_FILE],
                                         2, "C_DevAut")[0]
    at = cases["smartcard-hsm::chain::device-expired"].validation_time
    assert expired.expiry is not None and expired.expiry < at.date()


# -- CLI and detection -----------------------------------------------------------------------------

def hsmsim(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--state", str(state)] if state is not None else []
    return run_hsmsim([*args, *extra], timeout=120, cwd=ROOT)


def test_cli_round_trip_with_detection_and_pki_export(tmp_path):
    state = tmp_path / "card"
    made = hsmsim("key", "create", "--format", "smartcard-hsm", "--label", "sign", "--spec", "ec-p256", state=state)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "out"
    attested = hsmsim("attest", "--key", "sign", "--out", f"{out}/", state=state)
    assert attested.returncode == 0, attested.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(["C_DevAut.bin", ROOT_FILE, "sign.csr", "sign.cvreq"])
    exported = hsmsim("pki", "export", str(tmp_path / "pki"), state=state)
    assert exported.returncode == 0, exported.stderr
    assert detect(out / "sign.cvreq").name == "smartcard-hsm" and detect(out).name == "smartcard-hsm"
    for root in (tmp_path / "pki" / "root.crt", out / ROOT_FILE):
        verified = hsmsim("verify", str(out), "--root", str(root), "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["claims"]["model"] == "SmartCard-HSM"
    real = hsmsim("verify", str(out / "sign.cvreq"), "--root", str(REAL_ROOT))
    assert (real.returncode, real.stdout.split(":")[0]) == (1, "REJECT CHAIN_UNTRUSTED")
    (out / "sign.cvreq").write_bytes((out / "sign.cvreq").read_bytes()[:-3])
    broken = hsmsim("verify", str(out), "--root", str(out / ROOT_FILE))
    assert (broken.returncode, broken.stdout.split(":")[0]) == (1, "REJECT MALFORMED")


def test_a_fifo_named_as_a_request_is_refused_at_once(tmp_path, fmt, deadline):
    path = tmp_path / "k.cvreq"
    os.mkfifo(path)
    assert not fmt.detect(path) and not fmt.detect(tmp_path)
    with pytest.raises(BundleError):
        fmt.load(path)


def test_a_card_chain_is_checked_once_per_process_and_its_days_on_every_call(fmt, monkeypatch):
    """EF.C_DevAut recurs in every bundle of a card: a copy of the same bytes is neither parsed nor signature-checked
    again (the request's signatures are, in every bundle), while the validity days are checked on every call."""
    from functools import lru_cache

    from hsmsim.formats.cardcontact import verify as cv_verify

    # an empty cache of the same size: what earlier tests left remembered does not count
    monkeypatch.setattr(cv_verify, "_device_chain", lru_cache(maxsize=64)(cv_verify._device_chain.__wrapped__))
    checked: list[bytes] = []
    real = cvc.verifies

    def counted(key: object, signature: bytes, data: bytes) -> bool:
        checked.append(data)
        return real(key, signature, data)

    monkeypatch.setattr(cvc, "verifies", counted)
    trust = fmt.trust_anchors_from_files([REAL_ROOT])
    for _ in range(3):
        device = check_device_chain(bytes(REAL_DEVAUT.read_bytes()), trust, REAL_READ)[2]
    assert checked.count(device.body) == 1
    with pytest.raises(Rejected) as expired:
        check_device_chain(REAL_DEVAUT.read_bytes(), trust, datetime(2031, 5, 28, tzinfo=UTC))
    assert expired.value.reason is Reason.CERT_EXPIRED
    assert checked.count(device.body) == 1
