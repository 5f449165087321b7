"""The purebred family: the real Purebred samples, the generator through the registry, the vectors, detection."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from asn1crypto import csr as asn1_csr
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import hsmsim.formats as formats_registry
from hsmsim.device import Device
from hsmsim.encoding import der_set_of_order, spki_der
from hsmsim.errors import ParameterError, UnsupportedFormatError
from hsmsim.formats import detect, get_format
from hsmsim.formats.purebred import catalogue
from hsmsim.formats.purebred.envelope import (
    ANDROID,
    KINDS_BY_OID,
    YUBIKEY,
    is_request,
    read_request,
    read_signed_data,
    unwrap,
)
from hsmsim.formats.purebred.verify import leaf_first
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim

SEED = "hsmsim-tests"
AT = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
MANIFEST = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "manifest.json"
SOFTWARE_ATTESTED = {"purebred-pixel1-1-device-preenroll"}
"""Real samples attested by Android keystore software (under Google's software root): structural only."""
CHAIN_REASONS = {Reason.CHAIN_UNTRUSTED, Reason.CERT_SIGNATURE_INVALID, Reason.CHAIN_INCOMPLETE}


def _manifest_samples() -> list[dict[str, object]]:
    if not MANIFEST.is_file():
        return []
    samples = json.loads(MANIFEST.read_text())["samples"]
    return [s for s in samples if str(s["id"]).startswith("purebred-") and s["expected"] == "valid"]


SAMPLES = _manifest_samples()


def _device_dir(sample: dict[str, object]) -> str:
    return str(sample["files"]["evidence"]).split("/")[1]  # type: ignore[index]


@pytest.fixture(params=SAMPLES or [None], ids=[str(s["id"]) for s in SAMPLES] or ["no-shared"])
def sample(request: pytest.FixtureRequest, shared_dir: Path) -> dict[str, object]:
    if request.param is None:
        pytest.skip(f"{MANIFEST} is absent: the real Purebred samples need ../shared")
    return request.param  # type: ignore[no-any-return]


def _load(shared_dir: Path, sample: dict[str, object], target: str | None = None) -> Evidence:
    interop = shared_dir / "interop"
    evidence = get_format("purebred").load(interop / sample["files"]["evidence"])  # type: ignore[index]
    if target is None:
        return evidence
    files = {n: d for n, d in evidence.files.items() if not n.endswith("_target.der")}
    files[Path(target).name] = (interop / target).read_bytes()
    return Evidence(evidence.format, files, evidence.primary)


def _trust(shared_dir: Path, root: str) -> TrustAnchors:
    return get_format("purebred").trust_anchors_from_files([shared_dir / "interop" / root])


def _at(sample: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(sample["validation_time"]).replace("Z", "+00:00"))


@pytest.mark.shared
def test_real_sample_marked_valid_is_accepted_with_its_anchor(shared_dir: Path, sample: dict[str, object]) -> None:
    verdict = get_format("purebred").verify(_load(shared_dir, sample), _trust(shared_dir, sample["trust_root"]["root"]),
                                            at=_at(sample))
    assert verdict.accepted, verdict.summary()
    target = x509.load_der_x509_certificate((shared_dir / "interop" / sample["files"]["target_cert"]).read_bytes())
    assert verdict.claims is not None and verdict.claims.spki_der == spki_der(target.public_key())
    if _device_dir(sample).startswith("SP"):  # the AIK information is enveloped to the Purebred CA
        assert verdict.claims.extra["tpm_signature_checked"] is False


@pytest.mark.shared
def test_real_yubikey_samples_are_structural_only(shared_dir: Path) -> None:
    """The YubiKey 4.3.3 f9 carries no basicConstraints: RFC 5280 6.1.4(k) makes it no CA, which strict holds to."""
    yubikeys = [s for s in SAMPLES if _device_dir(s) == "Yubikey_4_3_3"]
    if not yubikeys:
        pytest.skip(f"no Yubikey_4_3_3 sample in {MANIFEST}")
    for sample in yubikeys:
        evidence, trust = _load(shared_dir, sample), _trust(shared_dir, sample["trust_root"]["root"])
        strict = get_format("purebred").verify(evidence, trust, at=_at(sample), profile=Profile.STRICT)
        assert strict.reason is Reason.CERT_NOT_CA, f"{sample['id']}: {strict.summary()}"


@pytest.mark.shared
def test_real_sample_is_rejected_with_another_samples_target(shared_dir: Path, sample: dict[str, object]) -> None:
    other = next(s for s in SAMPLES if _device_dir(s) != _device_dir(sample))
    evidence = _load(shared_dir, sample, str(other["files"]["target_cert"]))  # type: ignore[index]
    verdict = get_format("purebred").verify(evidence, _trust(shared_dir, sample["trust_root"]["root"]),
                                            at=_at(sample))
    assert verdict.reason is Reason.KEY_MISMATCH, verdict.summary()


@pytest.mark.shared
def test_real_sample_is_rejected_under_a_foreign_root(shared_dir: Path, sample: dict[str, object]) -> None:
    foreign = next(s["trust_root"]["root"] for s in SAMPLES  # type: ignore[index]
                   if s["trust_root"]["root"] != sample["trust_root"]["root"])  # type: ignore[index]
    verdict = get_format("purebred").verify(_load(shared_dir, sample), _trust(shared_dir, foreign), at=_at(sample))
    assert verdict.reason in CHAIN_REASONS, verdict.summary()


@pytest.mark.shared
@pytest.mark.parametrize("sample_id", sorted(SOFTWARE_ATTESTED))
def test_a_software_attestation_is_structural_only(shared_dir: Path, sample_id: str) -> None:
    sample = next((s for s in SAMPLES if s["id"] == sample_id), None)
    if sample is None:
        pytest.skip(f"{sample_id} is not in {MANIFEST}")
    evidence, trust = _load(shared_dir, sample), _trust(shared_dir, sample["trust_root"]["root"])
    verdict = get_format("purebred").verify(evidence, trust, at=_at(sample))
    assert verdict.claims is not None and verdict.claims.extra["security_level"] == "SOFTWARE"
    assert "securityLevel=SOFTWARE keyMintSecurityLevel=TRUSTED_ENVIRONMENT" in verdict.detail
    strict = get_format("purebred").verify(evidence, trust, at=_at(sample), profile=Profile.STRICT)
    assert strict.reason is Reason.SECURITY_LEVEL, strict.summary()


@pytest.mark.shared
def test_detect_picks_purebred_for_every_request_and_android_container(shared_dir: Path, sample: dict[str, object],
                                                                         tmp_path: Path) -> None:
    path = shared_dir / "interop" / str(sample["files"]["evidence"])  # type: ignore[index]
    if "preenroll" in path.name and _device_dir(sample).startswith("SP"):
        # A CMC request is ms-kast's evidence, and under Purebred's pre-enrollment name purebred's too: both apply.
        assert get_format("purebred").detect(path) and get_format("ms-kast").detect(path)
        with pytest.raises(UnsupportedFormatError, match=r"\(matches: ms-kast, purebred\); pass --format"):
            detect(path)
        renamed = tmp_path / "request.cmc"
        renamed.write_bytes(path.read_bytes())
        assert detect(renamed).name == "ms-kast"  # named otherwise, a bare CMC request is ms-kast's alone
        return
    assert detect(path).name == "purebred"


@pytest.mark.shared
def test_the_real_attributes_are_wrapped_as_the_envelope_says(shared_dir: Path) -> None:
    folder = shared_dir / "interop" / "purebred"
    android = read_request((folder / "Pixel2" / "2_device_scep_request.bin").read_bytes())
    value = dict(android.attributes)[ANDROID.oid][0]
    assert value[:1] == b"\x04" and unwrap(ANDROID, value)[:1] == b"\x30"
    with pytest.raises(ValueError, match="not a bare ContentInfo"):
        unwrap(YUBIKEY, value)
    yubikey = read_request((folder / "Yubikey_4_3_3" / "2_device_scep_request.bin").read_bytes())
    assert unwrap(YUBIKEY, dict(yubikey.attributes)[YUBIKEY.oid][0])[:1] == b"\x30"


# -- generation through the registry ----------------------------------------------------------------

@pytest.fixture(scope="module")
def hsm() -> Hsm:
    store = SoftKeyStore(seed=SEED)
    for spec in ("ec-p256", "rsa-3072"):
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=datetime(2025, 3, 3, tzinfo=UTC))
    return Hsm(Device.from_seed("purebred", SEED), store)


def _roots(evidence: Evidence) -> TrustAnchors:
    return TrustAnchors({"root": tuple(x509.load_pem_x509_certificates(evidence.files["purebred_roots.pem"]))})


@pytest.mark.parametrize(("kind", "container"), [("android", "request"), ("android", "preenroll"),
                                                  ("yubikey", "request")])
def test_generated_requests_verify_in_both_profiles(hsm: Hsm, kind: str, container: str) -> None:
    evidence = hsm.attest("key-ec-p256", "purebred", {"attest_time": AT, "kind": kind, "container": container})
    suffix = "_attestation.bin" if container == "preenroll" and kind == "android" else "_request.bin"
    assert evidence.primary == f"key-ec-p256{suffix}"
    for profile in Profile:
        verdict = get_format("purebred").verify(evidence, _roots(evidence), at=AT + timedelta(hours=1),
                                                profile=profile)
        assert verdict.accepted, verdict.summary()
        assert verdict.claims is not None and verdict.claims.spki_der == spki_der(
            hsm.keystore.get("key-ec-p256").public_key)  # type: ignore[arg-type]


def test_a_yubikey_request_is_checked_once_per_verification(hsm: Hsm, monkeypatch: pytest.MonkeyPatch) -> None:
    import hsmsim.checks

    evidence = hsm.attest("key-ec-p256", "purebred", {"attest_time": AT, "kind": "yubikey"})
    loads = []
    load = hsmsim.checks.x509.load_der_x509_csr
    monkeypatch.setattr(hsmsim.checks.x509, "load_der_x509_csr", lambda data: loads.append(data) or load(data))
    for _ in range(2):  # yubico-piv binds the request purebred verified; the next verification checks it afresh
        assert get_format("purebred").verify(evidence, _roots(evidence), at=AT + timedelta(hours=1)).accepted
    assert len(loads) == 2 and loads[0] == loads[1]
    assert hsmsim.checks._VERIFIED_CSRS.get() is None


@pytest.mark.parametrize("kind", ["android", "yubikey"])
def test_the_inner_format_reads_the_certificates_purebred_parsed(hsm: Hsm, parsed_certificates: list[bytes],
                                                                   kind: str) -> None:
    """No certificate is parsed twice in one verification: the inner format is given the objects purebred loaded from
    the bag. The per-key leaf is still parsed afresh by the next verification."""
    from hsmsim.pki import chain

    evidence = hsm.attest("key-ec-p256", "purebred", {"attest_time": AT, "kind": kind})
    key = spki_der(hsm.keystore.get("key-ec-p256").public_key)  # type: ignore[arg-type]
    parsed = parsed_certificates
    for _ in range(2):
        parsed.clear()
        assert get_format("purebred").verify(evidence, _roots(evidence), at=AT + timedelta(hours=1)).accepted
        assert len(parsed) == len(set(parsed))
        attesting = [der for der in parsed if spki_der(x509.load_der_x509_certificate(der).public_key()) == key]
        assert len(attesting) == 2  # the leaf and the target certificate
    assert chain._SHARED.get() is None


def test_generated_windows_request_verifies_with_the_tpm_signature(hsm: Hsm) -> None:
    evidence = hsm.attest("key-rsa-3072", "purebred", {"attest_time": AT, "kind": "windows"})
    verdict = get_format("purebred").verify(evidence, _roots(evidence), at=AT + timedelta(hours=1))
    assert verdict.accepted, verdict.summary()
    assert verdict.claims is not None and verdict.claims.extra["tpm_signature_checked"] is True


def test_windows_without_ms_kast_is_unsupported(hsm: Hsm, monkeypatch: pytest.MonkeyPatch) -> None:
    evidence = hsm.attest("key-rsa-3072", "purebred", {"attest_time": AT, "kind": "windows"})
    monkeypatch.delitem(formats_registry._REGISTRY, "ms-kast")  # as if a plugin providing it were missing
    with pytest.raises(UnsupportedFormatError, match="ms-kast"):
        hsm.attest("key-ec-p256", "purebred", {"attest_time": AT, "kind": "windows"})
    verdict = get_format("purebred").verify(evidence, _roots(evidence), at=AT + timedelta(hours=1))
    assert verdict.reason is Reason.UNSUPPORTED and "ms-kast format not available" in verdict.detail


def test_a_kind_that_is_not_known_is_refused(hsm: Hsm) -> None:
    with pytest.raises(ParameterError, match="parameter kind must be one of"):
        hsm.attest("key-ec-p256", "purebred", {"attest_time": AT, "kind": "blackberry"})


def test_cli_verify_detects_a_generated_request(hsm: Hsm, tmp_path: Path) -> None:
    evidence = hsm.attest("key-rsa-3072", "purebred", {"attest_time": AT})
    written = evidence.write(tmp_path)
    result = run_hsmsim(["verify", str(written[0]), "--root",
                         str(tmp_path / "purebred_roots.pem"), "--at", "2025-11-03T12:00:00Z"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ACCEPT" in result.stdout


@pytest.mark.parametrize("kind", ["android", "windows"])
def test_the_directory_of_a_pre_enrollment_container_verifies(hsm: Hsm, tmp_path: Path, kind: str) -> None:
    """README: ``verify`` takes the directory ``attest --out DIR/`` wrote; a Windows container is a bare CMC
    request, claimed by its pre-enrollment name."""
    evidence = hsm.attest("key-rsa-3072", "purebred", {"attest_time": AT, "kind": kind, "container": "preenroll"})
    assert evidence.primary.endswith("_attestation.bin")
    evidence.write(tmp_path)
    assert detect(tmp_path).name == "purebred"
    result = run_hsmsim(["verify", str(tmp_path), "--root",
                         str(tmp_path / "purebred_roots.pem"), "--at", "2025-11-03T12:00:00Z"])
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "ACCEPT", result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["android", "windows"])
def test_files_are_named_by_the_labels_safe_stem(tmp_path: Path, kind: str) -> None:
    """A key label is not a path: the request, target and sibling files are named by its safe stem, as every
    other format's are, so they land in the bundle directory and are detected and verified from it."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("rsa-3072"), "../Ключ x/y", created=datetime(2025, 3, 3, tzinfo=UTC))
    evidence = Hsm(Device.from_seed("purebred", SEED), store).attest("../Ключ x/y", "purebred",
                                                                     {"attest_time": AT, "kind": kind})
    sibling = ".challenge" if kind == "android" else ".ca-exchange.p8"
    assert sorted(evidence.files) == sorted(["______x_y_request.bin", "______x_y_target.der", f"______x_y{sibling}",
                                             "purebred_roots.pem"])
    evidence.write(tmp_path)
    assert detect(tmp_path).name == "purebred"
    verdict = get_format("purebred").verify(get_format("purebred").load(tmp_path), _roots(evidence),
                                            at=AT + timedelta(hours=1))
    assert verdict.accepted, verdict.summary()


def test_the_bag_is_ordered_leaf_first_whatever_its_order(hsm: Hsm) -> None:
    evidence = hsm.attest("key-ec-p256", "purebred", {"attest_time": AT, "container": "preenroll"})
    sent = [x509.load_der_x509_certificate(c)
            for c in read_signed_data(evidence.files[evidence.primary]).certificates or ()]
    certs = [sent[i] for i in leaf_first(sent)]
    assert all(c.issuer == issuer.subject for c, issuer in pairwise(certs)), "a chain, leaf first"
    assert certs != sent, "the bag is sent in DER order, not leaf first"
    bag = certs[::-1]
    assert len(certs) > 2 and [bag[i] for i in leaf_first(bag)] == certs
    with pytest.raises(Rejected) as info:
        leaf_first([certs[0], certs[0]])
    assert info.value.reason is Reason.MALFORMED
    root_again = x509.load_der_x509_certificate(certs[-1].public_bytes(Encoding.DER))
    assert certs[-1].issuer == certs[-1].subject, "the bag ends in its self-issued root"
    bag = [root_again, *certs[::-1]]
    assert [bag[i] for i in leaf_first(bag)] == certs, "a repeated root is neither a leaf nor kept twice"


# -- vectors ----------------------------------------------------------------------------------------

def test_the_catalogue_has_thirty_named_defects_with_notes() -> None:
    mutations = catalogue.mutations()
    assert len([m for m in mutations if any(r is not Reason.OK for r in m.expected.values())]) >= 30
    assert len({m.id for m in mutations}) == len(mutations)
    notes = catalogue.notes()
    assert all(m.flag in notes for m in mutations)


def test_every_vector_gets_its_declared_verdict() -> None:
    fmt = get_format("purebred")
    cases = fmt.vector_cases("hsmsim-tests")
    assert {c.id for c in cases} >= {catalogue.golden_id(g) for g in catalogue.goldens()}
    for case in cases:
        for profile, reason in case.expected.items():
            verdict = fmt.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time,
                                 profile=profile)
            assert verdict.reason is reason, f"{case.id} ({profile.value}): {verdict.summary()}"


def test_a_yubikey_slot_certificate_issued_by_another_slot_is_rejected_in_both_profiles() -> None:
    """A request for a software key whose bag carries a slot certificate the golden slot's key issued, the golden
    slot certificate and the f9: yubico-piv validates the path from the attested certificate, where the f9's
    pathlen 0 forbids the slot certificate between them."""
    kit = catalogue.PurebredKit.build("hsmsim-tests")
    bench = catalogue.Bench.open(kit, catalogue.YUBIKEY_REQUEST)
    mutation = next(m for m in catalogue.mutations() if m.id.endswith("::inner::yubikey-issued-by-another-slot"))
    mutation.apply(bench)
    for profile in Profile:
        verdict = get_format("purebred").verify(bench.render(), TrustAnchors({"root": bench.anchors}),
                                                at=catalogue.VALIDATION_TIME, profile=profile)
        assert verdict.reason is Reason.CERT_PATH_LENGTH, f"{profile.value}: {verdict.summary()}"



def _windows_bench(mutation_id: str) -> catalogue.Bench:
    kit = catalogue.PurebredKit.build("hsmsim-tests")
    bench = catalogue.Bench.open(kit, catalogue.WINDOWS_REQUEST)
    next(m for m in catalogue.mutations() if m.id.endswith(mutation_id)).apply(bench)
    return bench


@pytest.mark.parametrize("trusted", ["tpm-root", "another-formats-root"])
def test_a_windows_request_whose_cmc_carries_only_a_copy_of_the_anchor_is_rejected(trusted: str) -> None:
    """Check 5 (red-team: any certificate chaining to any anchor passed): with the AIK not recovered, a CMC request
    carrying a copy of the trusted root, and no AIK CA, vouches for nothing, whichever root that copy is."""
    bench = _windows_bench("::aik::windows-anchor-copy-only")
    anchors = bench.anchors
    if trusted == "another-formats-root":
        anchors = catalogue.Bench.open(bench.kit, catalogue.YUBIKEY_REQUEST).anchors
        bench.parts = replace(bench.parts, content=catalogue._cmc_certificates(
            bench.parts.content, [anchors[0].public_bytes(Encoding.DER)]))
    verdict = get_format("purebred").verify(bench.render(), TrustAnchors({"root": anchors}),
                                            at=catalogue.VALIDATION_TIME)
    assert verdict.reason is Reason.MISSING_INPUT and "no AIK CA" in verdict.detail, verdict.summary()


def test_a_windows_aik_ca_under_another_tpm_root_is_untrusted() -> None:
    bench = _windows_bench("::aik::windows-foreign-aik-ca")
    verdict = get_format("purebred").verify(bench.render(), TrustAnchors({"root": bench.anchors}),
                                            at=catalogue.VALIDATION_TIME)
    assert verdict.reason is Reason.CHAIN_UNTRUSTED and "AIK CA" in verdict.detail, verdict.summary()


def test_a_windows_request_whose_only_ca_under_the_tpm_root_lacks_the_aik_ca_ekus_is_rejected() -> None:
    """Check 5 (ms-kast's, through the registry): the AIK unrecovered, the CMC's CA under the genuine TPM root
    re-issued by that root without its extendedKeyUsage is no AIK CA: MISSING_INPUT in both profiles."""
    from cryptography.x509.oid import ExtensionOID

    from hsmsim.pki.builder import reissue, verbatim_extensions

    bench = _windows_bench("::aik::windows-exchange-key-absent")
    pki = get_format("ms-kast").emulated_tpm(Device.from_seed("ms-kast", bench.kit.seed)).pki  # type: ignore[attr-defined]
    assert pki.root in bench.anchors
    stripped = reissue(pki.intermediate, pki.root_key, extensions=tuple(
        e for e in verbatim_extensions(pki.intermediate) if e.value.oid != ExtensionOID.EXTENDED_KEY_USAGE))
    bench.parts = replace(bench.parts, content=catalogue._cmc_certificates(
        bench.parts.content, [c.public_bytes(Encoding.DER) for c in (stripped, pki.root)]))
    for profile in Profile:
        verdict = get_format("purebred").verify(bench.render(), TrustAnchors({"root": bench.anchors}),
                                                at=catalogue.VALIDATION_TIME, profile=profile)
        assert verdict.reason is Reason.MISSING_INPUT, verdict.summary()


def test_an_unrecovered_aik_claims_no_more_than_ms_kast() -> None:
    """The AIK CA is a public certificate: accepting on it, purebred says the TPM signature is unchecked and claims
    none of the key's attributes (the key blob's word), as ms-kast does."""
    bench = _windows_bench("::aik::windows-exchange-key-absent")
    verdict = get_format("purebred").verify(bench.render(), TrustAnchors({"root": bench.anchors}),
                                            at=catalogue.VALIDATION_TIME)
    assert verdict.accepted and verdict.claims is not None, verdict.summary()
    assert verdict.claims.extra["tpm_signature_checked"] is False
    assert "the TPM's signature is not checked" in verdict.detail
    claims = verdict.claims
    assert (claims.generated_on_device, claims.extractable, claims.never_extractable, claims.sensitive,
            claims.always_sensitive) == (None, None, None, None, None)


@pytest.mark.parametrize("profile", list(Profile))
def test_a_bag_certificate_whose_issuer_does_not_parse_is_malformed(profile: Profile) -> None:
    """cryptography parses names lazily: a bad tag inside the issuer Name must be a verdict, not a ValueError out of
    the leaf search that reads the names."""
    from hsmsim.harness.vectors import load_corpus

    vector = load_corpus(Path(__file__).resolve().parents[2] / "vectors").get(
        "purebred::golden::android-preenroll::ec-p256")
    files = dict(vector.evidence.files)
    bag = bytearray(files[vector.evidence.primary])
    signed = read_signed_data(bytes(bag))
    first = bytes(bag).index(signed.certificates[0])
    issuer = x509.load_der_x509_certificate(signed.certificates[0]).issuer.public_bytes()
    at = bytes(bag).index(issuer, first)
    tag = at + issuer.index(b"\x13")  # the first PrintableString in the issuer Name
    bag[tag] = 0x53  # a constructed application tag: not a string a Name may hold
    files[vector.evidence.primary] = bytes(bag)
    trust = TrustAnchors({"root": tuple(vector.trust.certificates())})
    verdict = get_format("purebred").verify(Evidence("purebred", files, vector.evidence.primary), trust,
                                            at=vector.at, profile=profile)
    assert verdict.reason is Reason.MALFORMED and "does not parse" in verdict.detail, verdict.summary()


@pytest.mark.shared
@pytest.mark.parametrize(("golden", "sample"), [
    (catalogue.ANDROID_REQUEST, "Pixel2"), (catalogue.WINDOWS_REQUEST, "SP2017_1803"),
    (catalogue.YUBIKEY_REQUEST, "Yubikey_4_3_3")])
def test_emulated_requests_are_shaped_as_the_real_devices_requests(shared_dir, golden, sample):
    """Subject attribute types, the attributes in order (an extensionRequest for the subject key identifier first
    for Android and Windows), the requested extensions and the challengePassword's length, as the real requests."""
    def shape(der: bytes) -> tuple[object, ...]:
        info = asn1_csr.CertificationRequest.load(der)["certification_request_info"]
        subject = [(a["type"].dotted, a["value"].name) for rdn in info["subject"].chosen for a in rdn]
        attributes = {a["type"].dotted: a["values"] for a in info["attributes"]}
        request = x509.load_der_x509_csr(der)
        requested = [(e.oid.dotted_string, e.critical) for e in request.extensions]
        if requested:
            ski = request.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            assert ski == x509.SubjectKeyIdentifier.from_public_key(request.public_key())
        password = attributes["1.2.840.113549.1.9.7"][0].native
        return subject, list(attributes), requested, len(password), password[8]

    case = next(c for c in get_format("purebred").vector_cases(SEED) if c.id == catalogue.golden_id(golden))
    real = (shared_dir / "interop" / "purebred" / sample / "2_device_scep_request.bin").read_bytes()
    assert shape(case.evidence.files[case.evidence.primary]) == shape(real)


@pytest.mark.shared
@pytest.mark.parametrize("golden", [g for g in catalogue.goldens() if g[0] == "windows"], ids=catalogue.golden_id)
def test_windows_goldens_attest_a_key_that_signs_and_decrypts_as_the_real_surface_keys(shared_dir, golden):
    """Every real Surface request attests an RSA key whose TPMT_PUBLIC starts type RSA, nameAlg SHA-256,
    TPMA_OBJECT 0x00060072 (fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, decrypt, sign)."""
    area_head = bytes.fromhex("0001000b00060072")
    for device in ("SP2017_1803", "SP3_1803", "SP4_1709"):
        assert area_head in (shared_dir / "interop" / "purebred" / device / "2_device_scep_request.bin").read_bytes()
    case = next(c for c in get_format("purebred").vector_cases(SEED) if c.id == catalogue.golden_id(golden))
    assert area_head in case.evidence.files[case.evidence.primary]


def _bag(der: bytes) -> tuple[bytes, ...]:
    """The certificates, as sent, of a request's evidence attribute or of a pre-enrollment container."""
    if is_request(der):
        oid, values = next((oid, v) for oid, v in read_request(der).attributes if oid in KINDS_BY_OID)
        der = unwrap(KINDS_BY_OID[oid], values[0])
    return read_signed_data(der).certificates or ()


@pytest.mark.shared
def test_goldens_send_their_certificates_in_der_set_of_order_as_the_real_devices(shared_dir):
    """Every real Purebred bag and CMC (Pixel 1 and 2, YubiKey 4, three Surfaces) holds its certificates in DER SET
    OF order (X.690 11.6: ascending encodings), Pixel 2's leaf, batch, root, intermediate being that order; every
    golden does too. ``inner::android-bag-chain-order`` keeps the chain leaf first, ``inner::android-bag-root-first``
    root first."""
    real = sorted((shared_dir / "interop" / "purebred").glob("*/*.bin"))
    assert len(real) == 26
    for path in real:
        bag = _bag(path.read_bytes())
        assert len(bag) >= 2 and list(bag) == der_set_of_order(bag), path
    cases = {c.id: c for c in get_format("purebred").vector_cases(SEED)}
    for golden in catalogue.goldens():
        evidence = cases[catalogue.golden_id(golden)].evidence
        bag = _bag(evidence.files[evidence.primary])
        assert len(bag) >= 2 and list(bag) == der_set_of_order(bag), golden
    for variant, reverse in (("chain-order", False), ("root-first", True)):
        evidence = cases[f"purebred::inner::android-bag-{variant}"].evidence
        bag = _bag(evidence.files[evidence.primary])
        chain = [bag[i] for i in leaf_first([x509.load_der_x509_certificate(c) for c in bag])]
        assert list(bag) == (chain[::-1] if reverse else chain), variant


def _target_shape(der: bytes, rsa_key: bool) -> dict[str, object]:
    """What an emulated target certificate shares with a real one: self-signed or not, the names' attribute and
    string types (and the DoD names' fixed values, the CA's without its EMULATED mark), serial octets, validity
    days, the extensions (OID, criticality, in order) and the fixed values: keyUsage (compared for RSA keys, as every
    real target's), extendedKeyUsage, policies, the SKI method (SHA-1 of the key bits) and the AKI's form."""
    cert = asn1_x509.Certificate.load(der)
    tbs = cert["tbs_certificate"]

    def names(field: str, values: bool) -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = []
        for attribute in (a for rdn in tbs[field].chosen for a in rdn):
            kept = values and (field == "issuer" or attribute["type"].native != "common_name")
            value = (str(attribute["value"].native).removesuffix(" EMULATED"),) if kept else ()
            out.append((attribute["type"].native, attribute["value"].name, *value))
        return out

    self_signed = tbs["issuer"] == tbs["subject"]
    extensions = {e["extn_id"].native: e for e in tbs["extensions"]} if tbs["extensions"].native else {}
    fixed = {oid: extensions[oid]["extn_value"].contents for oid in ("extended_key_usage", "certificate_policies")
             if oid in extensions}
    if rsa_key and "key_usage" in extensions:
        fixed["key_usage"] = extensions["key_usage"]["extn_value"].contents
    bits = tbs["subject_public_key_info"]["public_key"].contents[1:]
    ski = extensions.get("key_identifier")
    aki = extensions.get("authority_key_identifier")
    validity = tbs["validity"]
    return {
        "self_signed": self_signed, "issuer": names("issuer", not self_signed),
        "subject": names("subject", not self_signed), "serial_octets": len(tbs["serial_number"].contents),
        "days": (validity["not_after"].native - validity["not_before"].native).days,
        "extensions": [(e["extn_id"].dotted, e["critical"].native) for e in extensions.values()], "fixed": fixed,
        "ski_sha1_of_bits": None if ski is None else ski["extn_value"].parsed.native == hashlib.sha1(bits).digest(),
        "aki_key_id_only": None if aki is None else sorted(k for k, v in aki["extn_value"].parsed.native.items()
                                                           if v is not None),
    }


@pytest.mark.shared
@pytest.mark.parametrize(("golden", "sample"), [
    (catalogue.ANDROID_PREENROLL, "Pixel2/1_device_preenroll_target.der"),
    (catalogue.ANDROID_REQUEST, "Pixel2/2_device_scep_target.der"),
    (("android", "rsa-3072", "request"), "Pixel2/2_device_scep_target.der"),
    (("windows", "rsa-3072", "preenroll"), "SP3_1803/1_device_preenroll_target.der"),
    (catalogue.WINDOWS_REQUEST, "SP3_1803/2_device_scep_target.der"),
    (catalogue.YUBIKEY_REQUEST, "Yubikey_4_3_3/2_device_scep_target.der")], ids=lambda v: str(v))
def test_target_certificates_are_shaped_as_the_real_ones(shared_dir, golden, sample):
    """A pre-enrollment target is self-signed (Android O=<model>, OU=<serial>, CN=<UUID> in UTF8Strings; Windows
    CN=<UUID>, C=US), a SCEP target issued by DOD PB ID SW CA-46 with the real extensions, as the real ones."""
    case = next(c for c in get_format("purebred").vector_cases(SEED) if c.id == catalogue.golden_id(golden))
    ours = next(data for name, data in case.evidence.files.items() if name.endswith("_target.der"))
    real = (shared_dir / "interop" / "purebred" / sample).read_bytes()
    rsa_key = golden[1].startswith("rsa-")
    assert _target_shape(ours, rsa_key) == _target_shape(real, rsa_key)


@pytest.mark.shared
def test_emulated_yubikey_4_3_3_certificates_are_shaped_as_the_real_ones(shared_dir):
    """inner::yubikey-firmware-4-3-3 against the real YubiKey 4.3.3 request: the bag's certificates (both in DER
    order, which puts the real RSA-2048 slot certificate after the f9 and the emulated EC one before it), each
    with the real one's subject, serial length, validity, signature hash and extensions (OIDs, order, criticality),
    and the same firmware and PIN/touch policy values; only the device serial and the keys differ."""
    from hsmsim.formats.yubico.extensions import PIV_FIRMWARE, PIV_POLICY, extension_value

    def shape(der: bytes) -> list[tuple[object, ...]]:
        values = next(v for oid, v in read_request(der).attributes if oid == YUBIKEY.oid)
        bag = read_signed_data(unwrap(YUBIKEY, values[0]))
        assert bag.certificates is not None
        out = []
        for cert in map(x509.load_der_x509_certificate, bag.certificates):
            values = tuple(extension_value(cert, oid) for oid in (PIV_FIRMWARE, PIV_POLICY)
                           if oid in [e.oid for e in cert.extensions])
            out.append((cert.subject.rfc4514_string(), (cert.serial_number.bit_length() + 7) // 8,
                        cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature_hash_algorithm.name,
                        [(e.oid.dotted_string, e.critical) for e in cert.extensions], values))
        return out

    case = next(c for c in get_format("purebred").vector_cases(SEED)
                if c.id == "purebred::inner::yubikey-firmware-4-3-3")
    real = (shared_dir / "interop" / "purebred" / "Yubikey_4_3_3" / "2_device_scep_request.bin").read_bytes()
    assert sorted(shape(case.evidence.files[case.evidence.primary]), key=str) == sorted(shape(real), key=str)
