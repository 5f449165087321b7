"""The Crypto4A format: the real QASM message (its DER, both signatures, both chains to the real root, the claims
spa-attest printed), the HSS/LMS module, the generator's structure and certificate profile against the real
ones, the catalogue, determinism and the CLI."""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import Device
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.crypto4a import catalogue
from hsmsim.formats.crypto4a.generate import hss_choice
from hsmsim.formats.crypto4a.message import (
    CLAIM_NAMES,
    HSS_LMS_HASHSIG,
    armour,
    claim_oid,
    decode_message,
    encode_message,
    encode_tbs,
    unarmour,
)
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki import hss
from hsmsim.verdict import Profile, Reason
from tests.cli_process import run_hsmsim
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "crypto4a"
SAMPLE_TIME = datetime(2024, 6, 12, 14, 33, 7, tzinfo=UTC)
REAL_CLAIMS = ("qasm-uuid", "qasm-serial", "attestation-time", "qasm-firmware-version", "qasm-certified-production",
               "attestation-keys-are-unique", "key-spki", "object-class", "object-type", "object-keystore",
               "key-is-confined", "key-is-hardware-generated", "key-never-extracted", "key-has-capability",
               "key-does-not-have-capability")
"""The claims of the real message, in its order (as ``skm attest claim`` was asked for them)."""
FORMAT = get_format("crypto4a")
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")
"""The real root's country is ``Canada``: cryptography warns of the length on parsing it."""


def real_der() -> bytes:
    return unarmour((DATA / "attestation.pem").read_bytes())


def real_root() -> x509.Certificate:
    return x509.load_pem_x509_certificate((DATA / "c4a_rca.pem").read_bytes())


def real_evidence() -> Evidence:
    return FORMAT.load(DATA / "attestation.pem")


# -- the real message ----------------------------------------------------------------------------------------

def test_the_real_message_verifies_with_the_real_root_at_its_time():
    trust = TrustAnchors({"root": (real_root(),)})
    for profile in Profile:
        verdict = FORMAT.verify(real_evidence(), trust, at=SAMPLE_TIME + timedelta(hours=1), profile=profile)
        assert verdict.reason is Reason.OK, (profile, verdict.detail)
    claims = verdict.claims
    assert claims is not None
    spa = (DATA / "spa-attest-verify.txt").read_text()
    assert f"Key is associated with the SPKI: {claims.spki_der.hex()}" in spa  # type: ignore[union-attr]
    assert f"serial number: {claims.serial}" in spa and f"firmware version {claims.firmware}" in spa
    assert f"{claims.label} == someTls.csr" in spa
    assert (claims.key_type, claims.key_size, claims.generated_on_device, claims.never_extractable,
            claims.extractable) == ("EC-secp256r1", 256, True, True, False)


def test_the_real_message_is_refused_under_another_root_without_one_and_after_the_sub_ca_expires():
    emulated = catalogue.seeded_kit(SEED).pki.root
    at = SAMPLE_TIME + timedelta(hours=1)
    assert FORMAT.verify(real_evidence(), TrustAnchors({"root": (emulated,)}), at=at).reason is Reason.CHAIN_UNTRUSTED
    assert FORMAT.verify(real_evidence(), TrustAnchors(), at=at).reason is Reason.CHAIN_UNTRUSTED
    late = datetime(2042, 4, 12, tzinfo=UTC)  # C4A_SCA_MFG4 ends 2042-04-11 18:47:51
    assert FORMAT.verify(real_evidence(), TrustAnchors({"root": (real_root(),)}), at=late).reason is Reason.CERT_EXPIRED


def test_the_real_message_decodes_as_documented_and_reencodes_byte_for_byte():
    der = real_der()
    message = decode_message(der)
    assert (message.version, message.tbs_version) == (1, 1)
    assert tuple(c.name for c in message.claims) == REAL_CLAIMS
    key = bytes.fromhex("ba17a9b136634f1898daf1bd5bdbf96a")
    assert {c.subject for c in message.claims} == {None, key}
    assert [b.key_id.hex() for b in message.signatures] == ["950b61183ce7e6464d5a40077ab68c4b",
                                                            "9d2a70d0c8fdc5460e71e70428f4e1d4"]
    names = [x509.load_der_x509_certificate(c).subject.rfc4514_string() for c in message.attached]
    assert names == ["CN=C4A_SCA_MFG4", "CN=C4A_RCA,O=Crypto4A,L=Ottawa,ST=Ontario,C=Canada"] * 2
    assert message.attached[1] == real_root().public_bytes(Encoding.DER)
    assert len(message.signatures[1].signature) == 4472  # Nspk=2, three H10/W8 LMS signatures, two public keys
    assert encode_message(encode_tbs(message.claims), message.signatures, message.attached) == der
    assert armour(der) == (DATA / "attestation.pem").read_bytes()


def test_both_real_signatures_cover_exactly_the_tbs_der():
    message = decode_message(real_der())
    ec_block, hss_block = message.signatures
    ec_key = x509.load_der_x509_certificate(ec_block.certificate).public_key()
    assert isinstance(ec_key, ec.EllipticCurvePublicKey)
    ec_key.verify(ec_block.signature, message.tbs, ec.ECDSA(hashes.SHA384()))
    with pytest.raises(InvalidSignature):
        ec_key.verify(ec_block.signature, real_der(), ec.ECDSA(hashes.SHA384()))
    spki = x509.load_der_x509_certificate(hss_block.certificate).tbs_certificate_bytes
    assert bytes.fromhex("060b2a864886f70d0109100311") in spki  # id-alg-hss-lms-hashsig, no parameters
    public = spki[spki.index(bytes.fromhex("033f00043c")) + 5:][:60]  # BIT STRING { OCTET STRING { HSS key } }
    assert hss.hss_public_key_parameters(public) == (3, 6, 4)  # L=3, LMS_SHA256_M32_H10, LMOTS_SHA256_N32_W8
    assert hss.hss_verify(public, message.tbs, hss_block.signature)
    assert not hss.hss_verify(public, message.tbs[:-1] + b"\x00", hss_block.signature)


def test_the_verifier_reads_damaged_real_messages_without_raising():
    der = real_der()
    trust = TrustAnchors({"root": (real_root(),)})
    rng = random.Random(7)
    cuts = [1, 2, 10, 600, 612, 1304, 6328, len(der) - 1]
    flips = rng.sample(range(4, 6328), 40)  # the tbs and both signature blocks: everything a signature covers
    damaged = [der[:n] for n in cuts] + [der[:i] + bytes((der[i] ^ 0x01,)) + der[i + 1:] for i in flips]
    for data in damaged:
        evidence = Evidence("crypto4a", {"attestation.pem": armour(data)}, "attestation.pem")
        verdict = FORMAT.verify(evidence, trust, at=SAMPLE_TIME)
        assert verdict.reason is not Reason.OK


def test_an_hss_certificate_whose_issuer_does_not_parse_is_malformed():
    """The HSS signer's certificate is read field by field (cryptography cannot load its key): a broken name is
    a verdict, not an exception."""
    der = bytearray(real_der())
    assert der[1383:1386] == bytes.fromhex("301731")  # the HSS authority's issuer Name, its first RDN's SET
    der[1385] = 0x81
    evidence = Evidence("crypto4a", {"attestation.pem": armour(bytes(der))}, "attestation.pem")
    verdict = FORMAT.verify(evidence, TrustAnchors({"root": (real_root(),)}), at=SAMPLE_TIME)
    assert verdict.reason is Reason.MALFORMED, verdict.detail


# -- HSS/LMS --------------------------------------------------------------------------------------------------

def test_hss_signatures_verify_and_nothing_else_does(tmp_path, monkeypatch):
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    key = hss.derive_hss_key(b"test-material", 2, 5, 3)  # L=2, LMS_SHA256_M32_H5, LMOTS_SHA256_N32_W4
    public = key.public_key
    signature = key.sign(b"message")
    assert hss.hss_verify(public, b"message", signature)
    assert key.sign(b"message") == signature  # reproducible
    flipped = bytearray(signature)
    flipped[200] ^= 1
    assert not hss.hss_verify(public, b"message", bytes(flipped))
    assert not hss.hss_verify(public, b"messagf", signature)
    assert not hss.hss_verify(public, b"message", signature + b"\x00")
    assert not hss.hss_verify(public, b"message", signature[:-1])
    assert not hss.hss_verify(public, b"message", (2).to_bytes(4, "big") + signature[4:])  # Nspk is not L-1
    assert not hss.hss_verify((3).to_bytes(4, "big") + public[4:], b"message", signature)
    rng = random.Random(1)
    for size in (0, 3, 4, 100, len(signature)):
        assert not hss.hss_verify(public, b"message", rng.randbytes(size))
    assert not hss.hss_verify(rng.randbytes(60), b"message", signature)


def test_lm_ots_gives_rfc_8554_test_case_1s_known_answer():
    signature = bytes.fromhex("".join((DATA / "rfc8554-tc1-lmots-signature.hex").read_text().split()))
    message = bytes.fromhex("0000000500000004d2f14ff6346af964569f7d6cb880a1b66c5004917da6eafe4d9ef6c6407b3db0e5485b1"
                            "22d9ebe15cda93cfec582d7ab")  # the second level's LMS public key
    candidate = hss._ots_candidate(bytes.fromhex("61a5d57d37f5e46bfb7520806b07a1b8"), 5, message, signature, 4)
    assert candidate == bytes.fromhex("87be83923a22106731e8f10f826faf4d0217b07d99694d1174d350fba7d578a1")
    assert hss._ots_candidate(bytes.fromhex("61a5d57d37f5e46bfb7520806b07a1b8"), 6, message, signature, 4) != candidate


def test_hss_trees_are_cached_once_computed(tmp_path, monkeypatch):
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    first = hss.derive_hss_key(b"cache-material", 1, 5, 4)
    assert len(list(tmp_path.rglob("*.bin"))) == 1
    hss.derive_hss_key.cache_clear()

    def refuse(*_args: object) -> tuple[bytes, ...]:
        raise AssertionError("the cached tree was computed again")
    monkeypatch.setattr(hss, "_compute_nodes", refuse)
    assert hss.derive_hss_key(b"cache-material", 1, 5, 4) == first


def test_hss_refuses_trees_too_tall_to_compute():
    with pytest.raises(ValueError, match="too tall"):
        hss.derive_hss_key(b"x", 1, 7, 4)


def test_the_hss_parameter_selects_the_real_trees_or_the_fast_ones():
    assert (hss_choice({}).lms_type, hss_choice({"hss": "H10"}).lms_type, hss_choice({"hss": "h5"}).levels) == (5, 6, 3)
    with pytest.raises(ParameterError):
        hss_choice({"hss": "H15"})


# -- the generator --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qasm() -> Hsm:
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("crypto4a", SEED), store)
    for spec in ("ec-p256", "rsa-3072"):
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)
    store.generate(KeySpec.parse("ec-p256"), "exportable", created=KEY_CREATED,
                   policy=KeyPolicy(extractable=True))
    return hsm


def _extensions(cert: x509.Certificate) -> list[tuple[str, bool, bytes]]:
    return [(e.oid.dotted_string, e.critical, e.value.public_bytes()) for e in cert.extensions
            if e.oid.dotted_string not in ("2.5.29.14", "2.5.29.35")]  # key identifiers differ by key


def test_generated_messages_have_the_real_structure_and_certificate_profile(qasm):
    evidence = qasm.attest("key-ec-p256", "crypto4a", {"attest_time": ATTEST_TIME})
    assert sorted(evidence.files) == ["c4a_rca_root.pem", "key-ec-p256.csr", "key-ec-p256_attestation.pem"]
    data = evidence.files[evidence.primary]
    assert data.startswith(b"-----BEGIN ATTESTATION MESSAGE-----\n")
    message = decode_message(unarmour(data))
    real = decode_message(real_der())
    assert tuple(c.name for c in message.claims) == REAL_CLAIMS
    assert [(c.value.tag if c.value else None) for c in message.claims] == \
        [(c.value.tag if c.value else None) for c in real.claims]
    subject = next(c.subject for c in message.claims if c.subject is not None)
    assert subject[6] >> 4 == 4 and subject[8] >> 6 == 2  # a version 4 UUID, as the real key's
    assert len(message.attached) == 4 and message.attached[:2] == message.attached[2:]
    for mine, theirs in zip(message.signatures, real.signatures, strict=True):
        assert mine.algorithm == theirs.algorithm
        ours, real_cert = (x509.load_der_x509_certificate(c) for c in (mine.certificate, theirs.certificate))
        assert _extensions(ours) == _extensions(real_cert)
        assert ours.not_valid_after_utc == real_cert.not_valid_after_utc == datetime(9999, 12, 31, 23, 59, 59,
                                                                                      tzinfo=UTC)
        assert ours.signature_algorithm_oid == real_cert.signature_algorithm_oid
        assert len(ours.serial_number.to_bytes(20, "big")) == 20
        assert ours.subject.rfc4514_string().split(" Assertion Authority ")[1] == \
            real_cert.subject.rfc4514_string().split(" Assertion Authority ")[1]
    hss_tbs = x509.load_der_x509_certificate(message.signatures[1].certificate).tbs_certificate_bytes
    assert bytes.fromhex("060b2a864886f70d0109100311") in hss_tbs and HSS_LMS_HASHSIG == "1.2.840.113549.1.9.16.3.17"
    root = x509.load_pem_x509_certificate(evidence.files["c4a_rca_root.pem"])
    assert "EMULATED" in root.subject.rfc4514_string()
    assert _extensions(root) == _extensions(real_root())
    verdict = FORMAT.verify(evidence, TrustAnchors({"root": (root,)}), at=ATTEST_TIME, profile=Profile.STRICT)
    assert verdict.reason is Reason.OK, verdict.detail


def test_an_extractable_key_gets_no_protection_claims_and_is_refused(qasm):
    evidence = qasm.attest("exportable", "crypto4a", {"attest_time": ATTEST_TIME})
    names = {c.name for c in decode_message(unarmour(evidence.files[evidence.primary])).claims}
    assert not names & {"key-is-confined", "key-never-extracted"} and "key-is-hardware-generated" in names
    root = x509.load_pem_x509_certificate(evidence.files["c4a_rca_root.pem"])
    verdict = FORMAT.verify(evidence, TrustAnchors({"root": (root,)}), at=ATTEST_TIME)
    assert verdict.reason is Reason.ATTR_MISSING


def test_a_csr_of_another_key_is_a_key_mismatch(qasm):
    evidence = qasm.attest("key-ec-p256", "crypto4a", {"attest_time": ATTEST_TIME})
    other = qasm.attest("key-rsa-3072", "crypto4a", {"attest_time": ATTEST_TIME})
    files = {**evidence.files, "key-ec-p256.csr": other.files["key-rsa-3072.csr"]}
    root = x509.load_pem_x509_certificate(evidence.files["c4a_rca_root.pem"])
    verdict = FORMAT.verify(Evidence("crypto4a", files, evidence.primary), TrustAnchors({"root": (root,)}),
                            at=ATTEST_TIME)
    assert verdict.reason is Reason.KEY_MISMATCH


def test_a_users_ec_key_can_be_the_ecdsa_authority_an_rsa_key_cannot(qasm):
    evidence = qasm.attest("key-rsa-3072", "crypto4a", {"attest_time": ATTEST_TIME}, attesting_key="key-ec-p256")
    message = decode_message(unarmour(evidence.files[evidence.primary]))
    signer = x509.load_der_x509_certificate(message.signatures[0].certificate)
    assert signer.subject.rfc4514_string().endswith("Assertion Authority key-ec-p256")
    root = x509.load_pem_x509_certificate(evidence.files["c4a_rca_root.pem"])
    assert FORMAT.verify(evidence, TrustAnchors({"root": (root,)}), at=ATTEST_TIME).reason is Reason.OK
    with pytest.raises(UnsupportedKeyError):
        qasm.attest("key-ec-p256", "crypto4a", {"attest_time": ATTEST_TIME}, attesting_key="key-rsa-3072")


# -- the catalogue --------------------------------------------------------------------------------------------

def test_every_vector_gets_the_verdict_its_defect_defines():
    cases = FORMAT.vector_cases(SEED)
    assert {c.id for c in cases if "Golden" in c.flags} == {f"crypto4a::golden::{s}" for s in catalogue.GOLDEN_SPECS}
    for case in cases:
        for profile, expected in case.expected.items():
            verdict = FORMAT.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time,
                                    profile=profile)
            assert verdict.reason is expected, (case.id, profile, verdict.detail)


def test_a_qasms_certificates_are_signature_checked_only_until_remembered(issuer_checks):
    """The QASM's two assertion authority certificates, its sub-CA and root are in every message it signs: once their
    paths validated, later messages check none of their signatures (the HSS authority's is remembered by the DER of
    it and its issuer, since the walk cannot load its key), and still check the paths' validity at their own time."""
    goldens = [c for c in FORMAT.vector_cases(SEED) if "Golden" in c.flags]

    def verify_all() -> None:
        for case in goldens:
            verdict = FORMAT.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time)
            assert verdict.accepted, (case.id, verdict.detail)

    verify_all()
    checked = {c.subject.rfc4514_string() for c in issuer_checks}
    assert {s.rsplit(" ", 1)[-1] for s in checked if " Assertion Authority " in s} == {"EC", "HSS"}
    verify_all()
    issuer_checks.clear()
    verify_all()
    assert issuer_checks == []
    case = goldens[0]
    late = FORMAT.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=datetime(2100, 1, 1, tzinfo=UTC))
    assert late.reason is Reason.CERT_EXPIRED, late.detail



def test_the_hss_signature_is_verified_last_and_only_for_evidence_that_passes_everything_else(monkeypatch):
    """The HSS verification (three quarters of a verification's cost) runs after every other check: a message
    rejected for its key binding is rejected without it, a golden and a broken HSS signature get it once."""
    from hsmsim.formats.crypto4a import verify as crypto4a_verify

    calls: list[bytes] = []

    def counted(public_key: bytes, message: bytes, signature: bytes) -> bool:
        calls.append(signature)
        return hss.hss_verify(public_key, message, signature)

    monkeypatch.setattr(crypto4a_verify, "hss_verify", counted)
    cases = {c.id: c for c in FORMAT.vector_cases(SEED)}
    for case_id, reason, hss_calls in (("crypto4a::binding::key-spki-not-csr", Reason.KEY_MISMATCH, 0),
                                       ("crypto4a::attr::object-class-public-key", Reason.KEY_POLICY, 0),
                                       ("crypto4a::golden::ec-p256", Reason.OK, 1),
                                       ("crypto4a::signature::hss-broken", Reason.SIGNATURE_INVALID, 1)):
        case = cases[case_id]
        calls.clear()
        verdict = FORMAT.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time)
        assert (verdict.reason, len(calls)) == (reason, hss_calls), (case_id, verdict.detail)

def test_the_catalogue_is_a_pure_function_of_the_seed():
    first, second = FORMAT.vector_cases(SEED), FORMAT.vector_cases(SEED)
    assert [(c.id, c.evidence.files) for c in first] == [(c.id, c.evidence.files) for c in second]
    assert set(FORMAT.vector_notes()) >= {flag for c in first for flag in c.flags}


def test_claims_are_under_the_arc_the_real_message_uses():
    """The page lists qasm-uuid as 1.3.6.1.4.1.39901.6.1.1.0; the real message encodes 1.3.6.1.4.1.39901.6.1.0."""
    assert len(CLAIM_NAMES) == 21
    assert (claim_oid("qasm-uuid"), claim_oid("key-is-archived-by")) == ("1.3.6.1.4.1.39901.6.1.0",
                                                                         "1.3.6.1.4.1.39901.6.2.16")


# -- CLI ------------------------------------------------------------------------------------------------------

def hsmsim(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return run_hsmsim([*args, "--state", str(state)], timeout=120, cwd=ROOT)


def test_cli_attest_verify_and_detect(tmp_path):
    state = tmp_path / "qasm"
    assert hsmsim("key", "create", "--format", "crypto4a", "--label", "tls", "--spec", "ec-p256",
                  state=state).returncode == 0
    out = tmp_path / "out"
    attested = hsmsim("attest", "--key", "tls", "--out", f"{out}/", state=state)
    assert attested.returncode == 0, attested.stderr
    assert sorted(p.name for p in out.iterdir()) == ["c4a_rca_root.pem", "tls.csr", "tls_attestation.pem"]
    verified = run_hsmsim(["verify", str(out), "--root",
                           str(out / "c4a_rca_root.pem"), "--profile", "strict", "--json"], timeout=120, cwd=ROOT)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["claims"]["vendor"] == "Crypto4A"
    assert detect(out / "tls_attestation.pem").name == "crypto4a" and detect(DATA / "attestation.pem").name == \
        "crypto4a"
    real = run_hsmsim(["verify", str(DATA / "attestation.pem"), "--root",
                       str(DATA / "c4a_rca.pem"), "--at", "2024-06-12T15:00:00Z"], timeout=120, cwd=ROOT)
    assert (real.returncode, real.stdout.strip(), real.stderr) == (0, "ACCEPT", "")
    bad = hsmsim("attest", "--key", "tls", "--out", f"{tmp_path}/bad/", "--param", "hss=H7", state=state)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    (out / "tls_attestation.pem").write_bytes((out / "tls_attestation.pem").read_bytes().replace(b"MII", b"MIJ", 1))
    rejected = run_hsmsim(["verify", str(out / "tls_attestation.pem"),
                           "--root", str(out / "c4a_rca_root.pem")], timeout=120, cwd=ROOT)
    assert rejected.returncode == 1 and rejected.stdout.startswith("REJECT ")
