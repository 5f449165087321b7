"""The ietf family: PKIX Evidence and the CSR attestation bundle, their vectors, the IETF samples, the CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from hsmsim.device import Device
from hsmsim.encoding import (
    cert_pem,
    der_children,
    der_content,
    der_oid,
    der_sequence,
    der_tlv,
    oid_dotted,
    pem,
    read_tlv,
    spki_der,
    spki_pem,
)
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.ietf import asn1, catalogue, csr, evidence, pki, tcg
from hsmsim.formats.ietf.catalogue import CSR_GOLDENS, csr_mutations, evidence_mutations
from hsmsim.formats.ietf.layout import CRMF, ID_AA_ATTESTATION, PKCS10, csr_der, evidence_der
from hsmsim.formats.primus.archive import build_zip
from hsmsim.formats.primus.bundle import sign_xml
from hsmsim.formats.primus.layout import CHAIN_FILE, PUBKEY_FILE
from hsmsim.formats.webauthn import standard as webauthn_standard
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.model.vectors import VectorCase
from hsmsim.pki import signing
from hsmsim.pki.builder import reissue
from hsmsim.pki.seed import derive_key
from hsmsim.pki.signing import verify as verify_signature
from hsmsim.tpm.hierarchy import ak_public as hierarchy_ak_area
from hsmsim.tpm.marshal import TpmAlg, TpmSt
from hsmsim.tpm.structures import CertifyInfo, TpmsAttest, TpmtPublic, TpmtSignature
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim

SEED = "hsmsim-tests"
AT = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)
LATER = datetime(2025, 11, 4, tzinfo=UTC)
SAMPLE_AT = datetime(2026, 8, 1, tzinfo=UTC)


def _anchors(files: dict[str, bytes] | Evidence, name: str) -> TrustAnchors:
    data = files.files[name] if isinstance(files, Evidence) else files[name]
    return TrustAnchors({"root": tuple(x509.load_pem_x509_certificates(data))})


@pytest.fixture(scope="module")
def hsm() -> Hsm:
    store = SoftKeyStore(seed=SEED)
    for spec in ("rsa-3072", "ec-p256", "aes-256"):
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=datetime(2025, 3, 3, tzinfo=UTC))
    return Hsm(Device.from_seed("primus", SEED), store)


@pytest.fixture(scope="module")
def evidence_dir(shared_dir: Path) -> Path:
    return shared_dir / "interop" / "ietf-pkix-evidence"


# -- the generic mechanisms ---------------------------------------------------------------------

def test_pkix_evidence_of_any_device_verifies(hsm: Hsm) -> None:
    ev = hsm.attest("key-ec-p256", "pkix-evidence", {"attest_time": AT, "fips_level": 3})
    assert ev.files[ev.primary].startswith(b"-----BEGIN EVIDENCE-----\n")
    verdict = get_format("pkix-evidence").verify(ev, _anchors(ev, evidence.ROOT_FILE), at=LATER)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims is not None
    assert (claims.vendor, claims.fips_level, claims.serial, claims.label) == (
        "Securosys Primus HSM", "3", hsm.device.serial, "key-ec-p256")
    assert (claims.extractable, claims.never_extractable, claims.generated_on_device) == (False, True, True)


def test_an_ed25519_key_has_one_size_in_every_format() -> None:
    """The claims of one Ed25519 key say the same key_size whichever format attests it (primus's own evidence,
    PKIX Evidence, a CSR with evidence): 256 bits, as :func:`hsmsim.encoding.key_facts` counts them."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ed25519"), "key-ed25519", created=datetime(2025, 3, 3, tzinfo=UTC))
    device = Hsm(Device.from_seed("primus", SEED), store)
    sizes = {}
    for format_name, root_file in (("primus", "hsm_rsa_root.crt"), ("pkix-evidence", evidence.ROOT_FILE),
                                   ("csr-attestation", "csr_attestation_roots.pem")):
        ev = device.attest("key-ed25519", format_name, {"attest_time": AT})
        verdict = get_format(format_name).verify(ev, _anchors(ev, root_file), at=LATER)
        assert verdict.accepted and verdict.claims is not None, (format_name, verdict.summary())
        sizes[format_name] = (verdict.claims.key_type, verdict.claims.key_size)
    assert set(sizes.values()) == {("Ed25519", 256)}, sizes


def test_evidence_structure(hsm: Hsm) -> None:
    ev = hsm.attest("key-rsa-3072", "pkix-evidence", {"attest_time": AT, "nonce": "00112233"})
    decoded = asn1.decode_evidence(evidence_der(ev.files[ev.primary]))
    assert decoded.version == 1
    assert [asn1.ELEMENT_NAMES[e.type] for e in decoded.entities] == ["transaction", "platform", "key"]
    transaction, platform, key = decoded.entities
    assert transaction.values("nonce") == [asn1.octets(bytes.fromhex("00112233"))]
    assert platform.values("fipsboot") == [b"\x01\x01\xff"]
    assert {c.name for c in (asn1.CLAIMS[x.type] for x in key.claims)} == {
        "identifier", "spki", "extractable", "never-extractable", "sensitive", "local", "purpose"}
    assert asn1.read_oid_sequence(key.values("purpose")[0] or b"") == [f"{asn1.CAPABILITY_ARC}.4"]
    assert len(decoded.signatures) == 1 and decoded.signatures[0].certificate is not None
    assert decoded.intermediates is not None and not decoded.explicit_intermediates
    assert ev.files["key-rsa-3072.nonce"] == b"00112233\n"
    assert (platform.first("fipsboot"), platform.first("hwserial"), key.first("nonce")) == (
        b"\x01\x01\xff", next(c.value for c in platform.claims
                              if c.type == asn1.claim_oid(asn1.ELEMENT_PLATFORM, "hwserial")), None)
    assert transaction.count_of_type(asn1.claim_oid(asn1.ELEMENT_TRANSACTION, "ak-spki")) == 1


def test_secret_key_evidence_has_no_spki(hsm: Hsm) -> None:
    ev = hsm.attest("key-aes-256", "pkix-evidence", {"attest_time": AT})
    verdict = get_format("pkix-evidence").verify(ev, _anchors(ev, evidence.ROOT_FILE), at=LATER)
    assert verdict.accepted and verdict.claims is not None and verdict.claims.spki_der is None
    strict = get_format("pkix-evidence").verify(ev, _anchors(ev, evidence.ROOT_FILE), at=LATER,
                                                profile=Profile.STRICT)
    assert strict.reason is Reason.KEY_POLICY


def test_other_formats_still_need_their_own_device(hsm: Hsm) -> None:
    with pytest.raises(UnsupportedKeyError):
        hsm.attest("key-ec-p256", "luna-pkc", {"attest_time": AT})


@pytest.mark.parametrize("statements", [["primus"], ["luna-pkc"], ["tcg-attest-certify"], ["pkix-evidence"],
                                        ["primus", "luna-pkc", "tcg-attest-certify", "pkix-evidence"]])
def test_csr_bundle_verifies(hsm: Hsm, statements: list[str]) -> None:
    ev = hsm.attest("key-rsa-3072", "csr-attestation", {"attest_time": AT, "statements": statements})
    request = asn1.decode_request(csr_der(ev.files["key-rsa-3072.csr"]))
    assert [oid for oid, _ in request.attributes] == [ID_AA_ATTESTATION]
    bundle = asn1.decode_bundle(request.attributes[0][1][0])
    assert [csr.STATEMENT_NAMES[s.type] for s in bundle.statements] == statements
    verdict = get_format("csr-attestation").verify(ev, _anchors(ev, csr.ROOTS_FILE), at=LATER)
    assert verdict.accepted, verdict.summary()


def test_csr_default_statements(hsm: Hsm) -> None:
    ev = hsm.attest("key-ec-p256", "csr-attestation", {"attest_time": AT})
    request = asn1.decode_request(csr_der(ev.files["key-ec-p256.csr"]))
    bundle = asn1.decode_bundle(request.attributes[0][1][0])
    assert [csr.STATEMENT_NAMES[s.type] for s in bundle.statements] == ["primus", "pkix-evidence"]


@pytest.mark.parametrize("statements", [["pkix-evidence"], ["tcg-attest-certify"], ["primus", "pkix-evidence"]])
def test_crmf_cert_req_msg_verifies(hsm: Hsm, tmp_path: Path, statements: list[str]) -> None:
    ev = hsm.attest("key-rsa-3072", "csr-attestation", {"attest_time": AT, "statements": statements, "form": "crmf"})
    assert ev.primary == "key-rsa-3072.crmf"
    msg = asn1.decode_cert_req_msg(ev.files[ev.primary])
    assert [e.oid for e in msg.extensions] == [ID_AA_ATTESTATION] and msg.popo_tag == 1
    bundle = asn1.decode_bundle(msg.extensions[0].value)
    assert [csr.STATEMENT_NAMES[s.type] for s in bundle.statements] == statements
    verdict = get_format("csr-attestation").verify(ev, _anchors(ev, csr.ROOTS_FILE), at=LATER)
    assert verdict.accepted, verdict.summary()
    ev.write(tmp_path)
    assert detect(tmp_path / ev.primary).name == "csr-attestation"


def _tcg_statement(hsm: Hsm, key: str, **parameters: object) -> tuple[Evidence, bytes]:
    ev = hsm.attest(key, "csr-attestation", {"attest_time": AT, "statements": ["tcg-attest-certify"], **parameters})
    bundle = asn1.decode_bundle(asn1.decode_request(csr_der(ev.files[f"{key}.csr"])).attributes[0][1][0])
    return ev, bundle.statements[0].stmt


def _sha256_name(data: bytes) -> bytes:
    return b"\x00\x0b" + hashlib.sha256(data).digest()


def test_tcg_qualified_names_are_a_real_tpms(hsm: Hsm) -> None:
    _ev, stmt = _tcg_statement(hsm, "key-ec-p256")
    attest_bytes, _signature, public_bytes = tcg.parse(stmt)
    assert public_bytes is not None
    attest = TpmsAttest.unmarshal(attest_bytes)
    assert isinstance(attest.attested, CertifyInfo)
    hierarchy = tcg.tpm_hierarchy(SEED, hsm.device.serial)
    # Part 1: QN(primary) = H(hierarchy handle ‖ Name), QN(child) = H(QN(parent) ‖ Name(child))
    qn_ek = _sha256_name(bytes.fromhex("4000000b") + _sha256_name(hierarchy.ek_public().marshal()))
    qn_srk = _sha256_name(bytes.fromhex("40000001") + _sha256_name(hierarchy.srk_public().marshal()))
    ak = pki.tpm_identity(SEED, hsm.device.serial, created=hsm.device.attestation_created)
    ak_area = hierarchy_ak_area(ak.key.public_key())
    assert attest.qualified_signer == _sha256_name(qn_ek + _sha256_name(ak_area.marshal()))
    assert attest.attested.name == _sha256_name(public_bytes)
    assert attest.attested.qualified_name == _sha256_name(qn_srk + attest.attested.name)
    assert attest.attested.qualified_name != attest.attested.name


def test_tcg_signature_is_bare_by_default_and_tpmt_on_request(hsm: Hsm) -> None:
    ev, stmt = _tcg_statement(hsm, "key-ec-p256")
    assert tcg.parse(stmt)[1][:1] == b"\x30"  # a DER ECDSA-Sig-Value
    tpmt_ev, tpmt_stmt = _tcg_statement(hsm, "key-ec-p256", sig_encoding="tpmt")
    signature = TpmtSignature.unmarshal(tcg.parse(tpmt_stmt)[1])
    assert (signature.sig_alg, signature.hash_alg, len(signature.r)) == (TpmAlg.ECDSA, TpmAlg.SHA256, 32)
    for evidence_ in (ev, tpmt_ev):
        verdict = get_format("csr-attestation").verify(evidence_, _anchors(evidence_, csr.ROOTS_FILE), at=LATER)
        assert verdict.accepted, verdict.summary()
    with pytest.raises(ParameterError):
        _tcg_statement(hsm, "key-ec-p256", sig_encoding="der")


def test_tcg_reads_both_signature_encodings_and_refuses_other_schemes(hsm: Hsm) -> None:
    raw, algorithm = tcg.read_signature(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert raw == b"\x30\x06\x02\x01\x01\x02\x01\x01" and isinstance(algorithm, hashes.SHA256)
    rsa_tpmt = TpmtSignature(TpmAlg.RSASSA, TpmAlg.SHA384, signature=bytes(range(256))).marshal()
    raw, algorithm = tcg.read_signature(rsa_tpmt)
    assert raw == bytes(range(256)) and isinstance(algorithm, hashes.SHA384)
    with pytest.raises(Rejected) as caught:
        tcg.read_signature(TpmtSignature(TpmAlg.RSAPSS, TpmAlg.SHA256, signature=bytes(256)).marshal())
    assert caught.value.reason is Reason.UNSUPPORTED


def test_tcg_without_tpm_public_parses_and_is_missing_input(hsm: Hsm) -> None:
    ev, stmt = _tcg_statement(hsm, "key-ec-p256")
    attest, signature, _public = tcg.parse(stmt)
    short = tcg.statement(attest, signature, None)
    assert tcg.parse(short) == (attest, signature, None)
    request = asn1.decode_request(csr_der(ev.files["key-ec-p256.csr"]))
    bundle = asn1.decode_bundle(request.attributes[0][1][0])
    certs = [x509.load_der_x509_certificate(c) for c in bundle.certs or ()]
    with pytest.raises(Rejected) as caught:
        tcg.verify_statement(short, certs, request.spki, _anchors(ev, csr.ROOTS_FILE), LATER, Profile.STRUCTURAL,
                             None)
    assert caught.value.reason is Reason.MISSING_INPUT


def test_crmf_matches_an_independent_rfc4211_codec(hsm: Hsm) -> None:
    decoder = pytest.importorskip("pyasn1.codec.der.decoder")
    encoder = pytest.importorskip("pyasn1.codec.der.encoder")
    rfc4211 = pytest.importorskip("pyasn1_modules.rfc4211")
    der = hsm.attest("key-ec-p256", "csr-attestation", {"attest_time": AT, "form": "crmf"}).files["key-ec-p256.crmf"]
    msg, rest = decoder.decode(der, asn1Spec=rfc4211.CertReqMsg())
    assert rest == b"" and encoder.encode(msg) == der
    template = msg["certReq"]["certTemplate"]
    assert [str(e["extnID"]) for e in template["extensions"]] == [ID_AA_ATTESTATION]
    assert msg["popo"].getName() == "signature" and not msg["popo"]["signature"]["poposkInput"].isValue
    assert not asn1.is_cert_req_msg(csr_der(hsm.attest("key-ec-p256", "csr-attestation",
                                                           {"attest_time": AT}).files["key-ec-p256.csr"]))


def test_crmf_form_must_be_known(hsm: Hsm) -> None:
    with pytest.raises(ParameterError, match="parameter form must be one of"):
        hsm.attest("key-ec-p256", "csr-attestation", {"attest_time": AT, "form": "cmc"})


@pytest.mark.parametrize("statements", ["", ",,", []])
def test_csr_statements_must_name_at_least_one(hsm: Hsm, statements: str | list[str]) -> None:
    """An AttestationBundle holds one statement or more: no statement is a bad parameter, not an empty bundle."""
    with pytest.raises(ParameterError, match=r"^parameter statements must be one or more statement names from "):
        hsm.attest("key-ec-p256", "csr-attestation", {"attest_time": AT, "statements": statements})


@pytest.mark.parametrize(("format_name", "primary", "root_file"), [
    ("pkix-evidence", "______x_y.evidence.pem", evidence.ROOT_FILE),
    ("csr-attestation", "______x_y.csr", csr.ROOTS_FILE),
])
def test_files_are_named_by_the_labels_safe_stem(tmp_path: Path, format_name: str, primary: str,
                                                 root_file: str) -> None:
    """A key label is not a path: the evidence and its nonce are named by the label's safe stem, as every other
    format's files are, so they land in the bundle directory and are detected and verified from it."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "../Ключ x/y", created=datetime(2025, 3, 3, tzinfo=UTC))
    ev = Hsm(Device.from_seed("primus", SEED), store).attest("../Ключ x/y", format_name, {"attest_time": AT})
    assert (ev.primary, sorted(ev.files)) == (primary, sorted([primary, "______x_y.nonce", root_file]))
    ev.write(tmp_path)
    fmt = get_format(format_name)
    assert detect(tmp_path) is fmt
    verdict = fmt.verify(fmt.load(tmp_path), _anchors(ev, root_file), at=LATER)
    assert verdict.accepted, verdict.summary()


def test_native_statement_round_trip() -> None:
    inner = Evidence("primus", {"a.zip": b"PK", "a.csr": b"x"}, "a.zip")
    assert csr.decode_native(csr.encode_native(inner)) == inner


@pytest.mark.parametrize("profile", list(Profile))
def test_a_primus_statement_signed_by_the_requests_tpm_ak_is_untrusted(hsm: Hsm, profile: Profile) -> None:
    """The roots file merges every statement's roots and each inner format is handed all of them: the TPM AK
    (certified under test-rootCA, there for the TcgAttestCertify statement) signing the Primus statement's genuine
    XML does not make it a Primus attestation (CHAIN_UNTRUSTED); the genuine statement passes with the same store."""
    ev = hsm.attest("key-rsa-3072", "csr-attestation",
                    {"attest_time": AT, "statements": ["primus", "tcg-attest-certify"]})
    trust, nonce = _anchors(ev, csr.ROOTS_FILE), csr.read_nonce(ev.files)
    request = csr.read_request(ev.files[ev.primary], profile)
    statement = request.bundle.statements[0]
    assert csr.check_statement(statement, request, nonce, trust, LATER, profile).spki_der == request.spki
    ak = pki.tpm_identity(SEED, hsm.device.serial, created=hsm.device.attestation_created)
    assert ak.root in trust.get()
    inner = csr.decode_native(statement.stmt)
    with zipfile.ZipFile(io.BytesIO(inner.files[inner.primary])) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    stem = next(name for name in members if name.endswith(".xml"))[:-4]
    members[f"{stem}.sig"] = sign_xml(members[f"{stem}.xml"], ak.key)
    members[CHAIN_FILE] = cert_pem(ak.certificate)
    members[f"{stem}.pem"] = members[PUBKEY_FILE] = spki_pem(ak.key.public_key())
    files = {**inner.files, inner.primary: build_zip(list(members.items()), AT)}
    forged = replace(statement, stmt=csr.encode_native(replace(inner, files=files)))
    with pytest.raises(Rejected) as rejected:
        csr.check_statement(forged, request, nonce, trust, LATER, profile)
    assert rejected.value.reason is Reason.CHAIN_UNTRUSTED, rejected.value.detail
    assert "1.3.6.1.4.1.44668.4.1.3" in rejected.value.detail


def _webauthn_bench(parameters: dict[str, object], nonce: bytes | None = None) -> catalogue.CsrBench:
    """The WebAuthn CSR golden with its statement made anew with ``parameters`` (the generator's challenge from
    ``nonce``, default the CSR's), trusting the roots the statement ships."""
    kit = catalogue.seeded_kit(SEED)
    bench = catalogue.open_csr(kit, catalogue.WEBAUTHN)
    request = csr.inner_request(kit.request(bench.key, "webauthn"), "webauthn",
                                bench.draft.nonce if nonce is None else nonce)
    inner, roots = csr.split_roots(get_format("webauthn").generate(
        replace(request, parameters={**request.parameters, **parameters})))
    bench.draft.statements = [asn1.Statement(csr.PRIVATE_TYPES["webauthn"], csr.encode_native(inner))]
    bench.draft.roots += [r for r in roots if r not in bench.draft.roots]
    return bench


def _csr_verdicts(bench: catalogue.CsrBench) -> dict[Profile, str]:
    trust = TrustAnchors({"root": tuple(bench.draft.roots)})
    return {profile: get_format("csr-attestation").verify(bench.render(), trust, at=catalogue.VALIDATION_TIME,
                                                          profile=profile).summary() for profile in Profile}


@pytest.mark.parametrize("fmt", ["fido-u2f", "packed"])
def test_a_wrapped_fido_statement_signed_by_the_requests_tpm_ak_is_untrusted(monkeypatch: pytest.MonkeyPatch,
                                                                            fmt: str) -> None:
    """The merged roots file holds test-rootCA (for TcgAttestCertify statements): a fido-u2f statement the TPM AK
    signed (x5c = the AK certificate, P-256) is no security key's (CHAIN_UNTRUSTED); packed's certificate profile
    already refuses it inside the webauthn verifier (CERT_PROFILE). The genuine security key's statements pass."""
    genuine = _webauthn_bench({"fmt": fmt})
    assert all(v == "ACCEPT" for v in _csr_verdicts(genuine).values()), _csr_verdicts(genuine)
    kit = catalogue.seeded_kit(SEED)
    ak = pki.tpm_identity(SEED, kit.device.serial, created=kit.device.attestation_created)
    real_draft_for = webauthn_standard.draft_for
    monkeypatch.setattr(webauthn_standard, "draft_for", lambda f, r: replace(
        real_draft_for(f, r), signer=ak.key, certificates=[ak.certificate], roots=(ak.root,)))
    forged = _webauthn_bench({"fmt": fmt})
    assert ak.root in forged.draft.roots
    expected = "CHAIN_UNTRUSTED" if fmt == "fido-u2f" else "CERT_PROFILE"
    for profile, summary in _csr_verdicts(forged).items():
        assert summary.startswith(f"REJECT {expected}"), (profile, summary)


def test_a_self_attestation_alone_vouches_for_nothing() -> None:
    """A packed self attestation (only the CSR key signed it; every claim None) is MISSING_INPUT in both profiles."""
    verdicts = _csr_verdicts(_webauthn_bench({"fmt": "packed", "attestation": "self"}))
    assert all(v.startswith("REJECT MISSING_INPUT") for v in verdicts.values()), verdicts


@pytest.mark.parametrize("golden", [catalogue.WEBAUTHN, catalogue.TPM_ACME])
def test_wrapped_challenges_are_the_csr_nonce(golden: tuple[str, str, tuple[str, ...]]) -> None:
    """The generator makes the WebAuthn challenge the nonce's bytes and the ACME token base64url(nonce); the
    verifier requires it: the same statement under another nonce is CHALLENGE_MISMATCH (a replay), without a nonce
    file it is not checked."""
    bench = catalogue.open_csr(catalogue.seeded_kit(SEED), golden)
    inner = csr.decode_native(bench.draft.statements[0].stmt)
    document = json.loads(inner.files[inner.primary])
    carried = document["expectedChallenge"] if golden == catalogue.WEBAUTHN else document["challenge"]["token"]
    assert carried == base64.urlsafe_b64encode(bench.draft.nonce).rstrip(b"=").decode()
    assert all(v == "ACCEPT" for v in _csr_verdicts(bench).values())
    bench.draft.nonce = bytes(range(16))
    verdicts = _csr_verdicts(bench)
    assert all(v.startswith("REJECT CHALLENGE_MISMATCH") for v in verdicts.values()), verdicts
    files = {n: d for n, d in bench.render().files.items() if not n.endswith(".nonce")}
    ev = Evidence("csr-attestation", files, bench.render().primary)
    assert get_format("csr-attestation").verify(ev, TrustAnchors({"root": tuple(bench.draft.roots)}),
                                                at=catalogue.VALIDATION_TIME).accepted


def test_statements_about_one_key_name_one_hsm() -> None:
    """Primus and PKIX Evidence about one key must name one HSM serial (ATTR_CONFLICT otherwise); a TPM's or a
    Marvell's serial is another scheme and not compared."""
    kit = catalogue.seeded_kit(SEED)
    bench = catalogue.open_csr(kit, catalogue.MULTI)
    assert all(v == "ACCEPT" for v in _csr_verdicts(bench).values())
    request = kit.request(bench.key, bench.device_format)
    elsewhere = replace(request, device=replace(request.device, serial="99999999"))
    bench.draft.statements[1], _certs, _roots = csr.make_statement(elsewhere, "pkix-evidence", bench.draft.nonce)
    verdicts = _csr_verdicts(bench)
    assert all(v.startswith("REJECT ATTR_CONFLICT") and "99999999" in v for v in verdicts.values()), verdicts


@pytest.mark.parametrize("form", [PKCS10, CRMF])
def test_inner_pkix_evidence_is_judged_for_the_requested_key_in_both_forms(form: str) -> None:
    """PKIX Evidence reporting another, extractable key before the requested one: both forms hand the evidence
    verifier the request's (proof-of-possession-checked) key, so only its entity is judged."""
    golden = catalogue.PKIX if form == PKCS10 else catalogue.CRMF_GOLDENS[0]
    bench = catalogue.open_csr(catalogue.seeded_kit(SEED), golden, form)
    catalogue._pkix_inner(catalogue._extractable_other_key_first)(bench)
    assert all(v == "ACCEPT" for v in _csr_verdicts(bench).values()), _csr_verdicts(bench)


def test_tcg_finds_the_signing_ak_certificate_anywhere_in_certs() -> None:
    """certs is an unordered bag: another TPM's AK certificate listed first changes nothing; two different
    certificates of the signing AK key make the statement ambiguous (MALFORMED)."""
    kit = catalogue.seeded_kit(SEED)
    bench = catalogue.open_csr(kit, catalogue.TCG)
    genuine = list(bench.draft.certs or [])
    other = pki.tpm_identity(SEED, "another-tpm", created=kit.device.attestation_created)
    for certs in ([other.certificate.public_bytes(Encoding.DER), *genuine],
                  [*genuine, other.certificate.public_bytes(Encoding.DER)]):
        bench.draft.certs = certs
        assert all(v == "ACCEPT" for v in _csr_verdicts(bench).values()), _csr_verdicts(bench)
    ak = pki.tpm_identity(SEED, kit.device.serial, created=kit.device.attestation_created)
    root_key = derive_key(SEED, "ietf/tpm/root", KeySpec.parse("ec-p256"))
    twin = reissue(ak.certificate, root_key, serial=ak.certificate.serial_number + 1)
    bench.draft.certs = [twin.public_bytes(Encoding.DER), *genuine]
    verdicts = _csr_verdicts(bench)
    assert all(v.startswith("REJECT MALFORMED") for v in verdicts.values()), verdicts


@pytest.mark.parametrize("edit", [
    catalogue._public_key_twice,
    lambda _bench, fields: [fields[-1], *fields[:-1]],
    lambda _bench, fields: [*fields, der_tlv(0x8F, b"\x00")],
], ids=["public-key-twice", "out-of-order", "undefined-field-15"])
def test_crmf_template_fields_are_0_to_9_each_once_in_order(edit: object) -> None:
    """RFC 4211 5: a CertTemplate repeating publicKey (another key first), listing extensions before subject, or
    carrying a [15] is MALFORMED, though the key signed the CertRequest anew (no field is silently kept or
    dropped)."""
    bench = catalogue.open_csr(catalogue.seeded_kit(SEED), catalogue.CRMF_GOLDENS[0], CRMF)
    assert all(v == "ACCEPT" for v in _csr_verdicts(bench).values())
    catalogue._crmf_template(edit)(bench)  # type: ignore[arg-type]
    verdicts = _csr_verdicts(bench)
    assert all(v.startswith("REJECT MALFORMED") and "CertTemplate" in v for v in verdicts.values()), verdicts


def test_two_nonces_or_two_requests_are_malformed_in_either_order() -> None:
    """A second nonce file naming another nonce, or a second (different) request (another key's, with its own
    PKIX Evidence), is MALFORMED naming both, whichever comes first; an identical copy of either is harmless. (No
    file vector: from disk, the request is read with its own ``<label>.nonce`` only.)"""
    bench = catalogue.open_csr(catalogue.seeded_kit(SEED), catalogue.PKIX)
    golden = bench.render()
    nonce_name = next(n for n in golden.files if n.endswith(".nonce"))
    trust = TrustAnchors({"root": tuple(bench.draft.roots)})
    other_nonce = bytes(16).hex().encode()
    kit = catalogue.seeded_kit(SEED)
    request = replace(kit.request(kit.other["ec-p256"]), parameters={"nonce": bench.draft.nonce})
    another = pem(csr.draft_for(request, ["pkix-evidence"]).build(), "CERTIFICATE REQUEST")
    for extra in ({"0.nonce": other_nonce}, {"z.nonce": other_nonce}, {"0.csr": another}, {"z.csr": another}):
        ev = Evidence("csr-attestation", {**golden.files, **extra}, golden.primary)
        for profile in Profile:
            verdict = get_format("csr-attestation").verify(ev, trust, at=catalogue.VALIDATION_TIME, profile=profile)
            name = next(iter(extra))
            assert verdict.reason is Reason.MALFORMED and name in verdict.detail, (extra, verdict.summary())
            assert (nonce_name if name.endswith(".nonce") else golden.primary) in verdict.detail
    for copy in ({"0.nonce": golden.files[nonce_name]}, {"0.csr": golden.files[golden.primary]}):
        ev = Evidence("csr-attestation", {**golden.files, **copy}, golden.primary)
        assert get_format("csr-attestation").verify(ev, trust, at=catalogue.VALIDATION_TIME).accepted


@pytest.mark.parametrize(("entry", "reason"), [
    (der_tlv(0xA3, der_oid("1.2.3.4") + asn1.octets(b"x")), Reason.OK),
    (der_tlv(0xA3, der_sequence(der_oid("1.2.3.4"), asn1.octets(b"x"))), Reason.MALFORMED),
    (der_tlv(0xA2, der_sequence(der_sequence(), der_sequence())), Reason.MALFORMED),
    (der_tlv(0xA0, der_sequence()), Reason.MALFORMED),
], ids=["other-implicit", "other-explicit", "v2-attribute-cert", "extended-cert"])
def test_limited_cert_choices(entry: bytes, reason: Reason) -> None:
    """LimitedCertChoices is certificate or `other [3] IMPLICIT OtherCertificateFormat`: a well-formed `other` no
    statement needs is ignored; a malformed one and the choices the module excludes are MALFORMED."""
    bench = catalogue.open_csr(catalogue.seeded_kit(SEED), catalogue.TCG)
    bench.draft.certs = [*(bench.draft.certs or []), entry]
    trust = TrustAnchors({"root": tuple(bench.draft.roots)})
    for profile in Profile:
        verdict = get_format("csr-attestation").verify(bench.render(), trust, at=catalogue.VALIDATION_TIME,
                                                       profile=profile)
        assert verdict.reason is reason, verdict.summary()


# -- vectors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("format_name", ["pkix-evidence", "csr-attestation"])
def test_every_vector_gets_its_expected_verdict(format_name: str) -> None:
    fmt = get_format(format_name)
    cases = fmt.vector_cases("hsmsim-vectors-v1")
    for case in cases:
        for profile, reason in case.expected.items():
            verdict = fmt.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time,
                                 profile=profile)
            assert verdict.reason is reason, f"{case.id} [{profile.value}]: {verdict.summary()}"
    flags = {flag for case in cases for flag in case.flags}
    assert flags <= set(fmt.vector_notes())


def test_catalogues_name_the_required_defects() -> None:
    pkix = {m.id.removeprefix("pkix-evidence::"): m.expected[Profile.STRUCTURAL] for m in evidence_mutations()}
    bundle = {m.id.removeprefix("csr-attestation::"): m.expected[Profile.STRUCTURAL] for m in csr_mutations()}
    assert len(pkix) >= 30 and len(bundle) >= 30
    assert pkix["transaction::nonce-mismatch"] is Reason.CHALLENGE_MISMATCH
    assert pkix["validate::version-2"] is Reason.UNSUPPORTED
    assert pkix["validate::duplicate-vendor"] is Reason.ATTR_CONFLICT
    assert pkix["validate::duplicate-key-identifier"] is Reason.ATTR_CONFLICT
    assert pkix["key::extractable-true"] is Reason.ATTR_EXTRACTABLE
    assert pkix["validate::fips-level-lower-than-platform"] is Reason.ATTR_CONFLICT
    assert pkix["signature::key-not-in-chain"] is Reason.SIGNATURE_INVALID
    assert bundle["binding::pkix-evidence-other-key"] is Reason.KEY_MISMATCH
    assert bundle["attribute::two-attributes"] is Reason.ATTR_CONFLICT
    assert bundle["attribute::two-bundles"] is Reason.ATTR_CONFLICT
    assert bundle["bundle::empty-attestations"] is Reason.MALFORMED
    assert bundle["bundle::unknown-type"] is Reason.UNSUPPORTED
    assert bundle["certs::missing"] is Reason.MISSING_INPUT
    assert bundle["nonce::pkix-evidence-mismatch"] is Reason.CHALLENGE_MISMATCH
    assert {g[0] for g in CSR_GOLDENS} >= {"primus", "luna-pkc", "marvell-azure", "marvell-google", "fortanix",
                                             "tcg-attest-certify", "pkix-evidence"}


def _evidence_parts(case: VectorCase) -> tuple[bytes, list[list[bytes]], list[bytes]]:
    """(TbsEvidence DER, each SignatureBlock's children, each entity TLV) of a vector's Evidence, split by hand."""
    data = case.evidence.files[case.evidence.primary]
    der = base64.b64decode(b"".join(line for line in data.splitlines() if not line.startswith(b"-----")))
    _tag, start, end = read_tlv(der)  # the Evidence TLV, without what a defect appends after it
    tbs, signatures = der_children(der[start:end])[:2]
    blocks = [der_children(der_content(block)) for block in der_children(der_content(signatures))]
    return tbs, blocks, der_children(der_content(der_children(der_content(tbs))[1]))


def _claim_map(entity: bytes) -> dict[bytes, bytes]:
    out = {}
    for claim in der_children(der_content(der_children(der_content(entity))[1])):
        parts = der_children(der_content(claim))
        out[parts[0]] = parts[1] if len(parts) > 1 else b""
    return out


@pytest.fixture(scope="module")
def pkix_cases() -> dict[str, VectorCase]:
    return {c.id: c for c in get_format("pkix-evidence").vector_cases("hsmsim-vectors-v1")}


def _signed_by_genuine_ak(case: VectorCase, ak: x509.Certificate) -> bool:
    tbs, blocks, _ = _evidence_parts(case)
    return any(verify_signature(ak.public_key(), block[1], der_content(block[2]), tbs) is True for block in blocks)


def test_pkix_value_defects_keep_every_other_claim(pkix_cases: dict[str, VectorCase]) -> None:
    """boolean-not-der writes a TRUE claim 01 (BER still reads TRUE, so only DER is broken); claim-without-value
    empties the platform vendor, not the nonce the freshness check needs."""
    _, _, golden = _evidence_parts(pkix_cases["pkix-evidence::golden::ec-p256"])
    never = der_oid(asn1.claim_oid(asn1.ELEMENT_KEY, "never-extractable"))
    vendor = der_oid(asn1.claim_oid(asn1.ELEMENT_PLATFORM, "vendor"))
    _, _, ber = _evidence_parts(pkix_cases["pkix-evidence::validate::boolean-not-der"])
    assert _claim_map(golden[2])[never] == b"\x01\x01\xff" and _claim_map(ber[2])[never] == b"\x01\x01\x01"
    assert {k: v for k, v in _claim_map(ber[2]).items() if k != never} == {
        k: v for k, v in _claim_map(golden[2]).items() if k != never}
    assert ber[:2] == golden[:2]
    _, _, valueless = _evidence_parts(pkix_cases["pkix-evidence::validate::claim-without-value"])
    assert _claim_map(valueless[1])[vendor] == b"" and _claim_map(golden[1])[vendor] != b""
    assert valueless[0] == golden[0] and valueless[2] == golden[2]  # the transaction (nonce) is the golden's


def test_pkix_resigned_means_the_genuine_ak_signed(pkix_cases: dict[str, VectorCase]) -> None:
    """Resigned: a signature by the genuine AK over the TbsEvidence as sent. Stale: none, or only another key's,
    or the TbsEvidence changed after the AK signed; the two Stale edits outside the TbsEvidence (bytes after it, the
    nonce file) keep the golden signature."""
    _, blocks, _ = _evidence_parts(pkix_cases["pkix-evidence::golden::ec-p256"])
    ak = x509.load_der_x509_certificate(der_content(der_children(der_content(blocks[0][0]))[0]))
    tbs, _, entities = _evidence_parts(pkix_cases["pkix-evidence::validate::empty-reported-entities"])
    assert tbs == bytes.fromhex("3005020101") + b"\x30\x00" and not entities
    assert _signed_by_genuine_ak(pkix_cases["pkix-evidence::validate::empty-reported-entities"], ak)
    wrong = [case.id for case in pkix_cases.values() if "Golden" not in case.flags and
             ("Resigned" in case.flags) != _signed_by_genuine_ak(case, ak) and
             case.id not in ("pkix-evidence::validate::trailing-bytes", "pkix-evidence::transaction::nonce-mismatch")]
    assert not wrong
    for name in ("signature::none", "signature::key-not-in-chain", "signature::foreign-spki-signer",
                 "chain::root-impostor"):
        assert "Stale" in pkix_cases[f"pkix-evidence::{name}"].flags


def test_pkix_foreign_signers_name_themselves_in_ak_spki(pkix_cases: dict[str, VectorCase]) -> None:
    """A forged report names the key that signs it; an ak-spki naming another key would be a second defect
    (ATTESTATION_KEY_MISMATCH) beside the chain's."""
    ak_spki = der_oid(asn1.claim_oid(asn1.ELEMENT_TRANSACTION, "ak-spki"))
    for name in ("signature::foreign-spki-signer", "chain::root-impostor"):
        tbs, blocks, entities = _evidence_parts(pkix_cases[f"pkix-evidence::{name}"])
        named = load_der_public_key(der_content(_claim_map(entities[0])[ak_spki]))
        assert verify_signature(named, blocks[0][1], der_content(blocks[0][2]), tbs) is True, name


def test_vectors_are_deterministic() -> None:
    fmt = get_format("csr-attestation")
    first, second = fmt.vector_cases("hsmsim-vectors-v1"), fmt.vector_cases("hsmsim-vectors-v1")
    assert [dict(c.evidence.files) for c in first] == [dict(c.evidence.files) for c in second]


def test_vectors_do_not_depend_on_the_set_made_before() -> None:
    """Both vector sets draw from one kit per seed, made once per process: making one set first changes nothing
    in the other."""
    pkix, bundle = get_format("pkix-evidence"), get_format("csr-attestation")

    def files(cases: list[VectorCase]) -> list[dict[str, bytes]]:
        return [dict(case.evidence.files) for case in cases]

    catalogue.seeded_kit.cache_clear()
    pkix_first, bundle_second = files(pkix.vector_cases("hsmsim-vectors-v1")), files(bundle.vector_cases(
        "hsmsim-vectors-v1"))
    catalogue.seeded_kit.cache_clear()
    assert files(bundle.vector_cases("hsmsim-vectors-v1")) == bundle_second
    assert files(pkix.vector_cases("hsmsim-vectors-v1")) == pkix_first


# -- red-team s29: pkix-evidence defects a verifier let through ------------------------------------

def _pkix_verdicts(bench: catalogue.EvidenceBench, resign: bool = True) -> dict[Profile, Reason]:
    """Both profiles' reasons for the bench's Evidence, against the kit's root."""
    trust = TrustAnchors({"root": (bench.kit.identity.root,)})
    return {profile: get_format("pkix-evidence").verify(bench.render(resign), trust, at=catalogue.VALIDATION_TIME,
                                                        profile=profile).reason for profile in Profile}


def _bench(spec: str = "ec-p256") -> catalogue.EvidenceBench:
    return catalogue.EvidenceBench.open(catalogue.seeded_kit(SEED), spec)


def _both(reason: Reason) -> dict[Profile, Reason]:
    return {Profile.STRUCTURAL: reason, Profile.STRICT: reason}


def test_pkix_every_signer_identifier_alternative_names_the_signing_key() -> None:
    """Draft section 6: a subjectPublicKeyInfo present is the key the signature must verify with; a keyId whose key
    cannot be obtained is rejected. Beside the genuine AK certificate, a foreign SPKI or a keyId of nothing fails;
    the AK's own SPKI and SKI are the same key."""
    kit = catalogue.seeded_kit(SEED)
    ak_ski = kit.identity.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    foreign_spki = spki_der(kit.foreign.public_key())
    cases = [({"spki": foreign_spki}, Reason.SIGNATURE_INVALID), ({"keyId": bytes(20)}, Reason.CHAIN_INCOMPLETE),
             ({"spki": spki_der(kit.identity.key.public_key()), "keyId": ak_ski}, Reason.OK)]
    for extra, reason in cases:
        bench = _bench()
        bench.sid_extra.update(extra)
        assert _pkix_verdicts(bench) == _both(reason), extra
    bench = _bench()  # keyId of the AK certificate (in intermediateCertificates), SPKI of another key
    catalogue._sid("keyId")(bench)
    bench.sid_extra["spki"] = foreign_spki
    assert _pkix_verdicts(bench) == _both(Reason.SIGNATURE_INVALID)
    bench = _bench()
    bench.sid_extra["spki"] = b"\x30\x03\x02\x01\x00"
    assert _pkix_verdicts(bench) == _both(Reason.MALFORMED)

def test_pkix_strict_judges_every_attested_key_by_the_code_signing_rule() -> None:
    """Without a CSR every key entity is attested (docs step 4), so strict's CA/B Forum key rule holds for each: an
    RSA-2048 key beside the P-256 one is KEY_POLICY in either position; structural accepts both."""
    weak = evidence.key_entity(catalogue.seeded_kit(SEED).other["rsa-2048"])
    for position in (0, 1):
        bench = _bench()
        bench.entities.insert(bench.entity(asn1.ELEMENT_KEY) + position, weak)
        assert _pkix_verdicts(bench) == {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.KEY_POLICY}, position

def test_pkix_algorithm_identifier_parameters_follow_their_rfc() -> None:
    """RFC 5758 3.2: ecdsa-with-SHA256's parameters MUST be absent; an AlgorithmIdentifier is {OID, parameters
    OPTIONAL}, nothing more. Evidence is DER (draft 5.5): MALFORMED in both profiles. PKCS#1 v1.5 takes NULL or
    nothing (RFC 4055 5)."""
    ecdsa, rsa_sha256 = der_oid("1.2.840.10045.4.3.2"), der_oid("1.2.840.113549.1.1.11")
    for algorithm in (der_sequence(ecdsa, b"\x05\x00"), der_sequence(ecdsa, der_tlv(0x04, b"junk")),
                      der_sequence(ecdsa, der_tlv(0x04, b"x"), der_tlv(0x0C, b"y"))):
        bench = _bench()
        bench.algorithm = algorithm
        assert _pkix_verdicts(bench) == _both(Reason.MALFORMED), algorithm.hex()
    signing.check_parameters(der_sequence(rsa_sha256, b"\x05\x00"))
    signing.check_parameters(der_sequence(rsa_sha256))
    with pytest.raises(ValueError, match="other than NULL"):
        signing.check_parameters(der_sequence(rsa_sha256, der_tlv(0x04, b"")))

def test_pkix_lengths_must_be_der() -> None:
    """Draft 5.5 (Evidence is DER) and 6 (the signature is over the DER TbsEvidence): a length in the long form
    where the short one fits, or with a leading zero octet, is MALFORMED in the wrapper and in a TbsEvidence the
    genuine AK signed as it is."""
    def long_form(tlv: bytes, octets: int = 4) -> bytes:
        _tag, start, end = read_tlv(tlv)
        return tlv[:1] + bytes([0x80 | octets]) + (end - start).to_bytes(octets, "big") + tlv[start:end]
    for post in (long_form, lambda der: long_form(der, 3)):
        bench = _bench()
        bench.post = post
        assert _pkix_verdicts(bench) == _both(Reason.MALFORMED)
        bench = _bench()
        bench.tbs_post = post
        assert _pkix_verdicts(bench) == _both(Reason.MALFORMED)
    with pytest.raises(ValueError, match="shortest form"):
        read_tlv(b"\x04\x81\x01\x00", der=True)
    assert read_tlv(b"\x04\x81\x01\x00") == (0x04, 3, 4)  # BER: the default reader's
    assert read_tlv(b"\x04\x81\x80" + bytes(128), der=True) == (0x04, 3, 131)

def test_pkix_claims_are_read_with_their_types_reader() -> None:
    """Docs step 1: every known claim's value is of its declared type in DER, not only of its tag: a timestamp or
    expiry that names no UTC time, key purposes that are not OIDs, a non-minimal INTEGER are MALFORMED."""
    t, p, k = asn1.ELEMENT_TRANSACTION, asn1.ELEMENT_PLATFORM, asn1.ELEMENT_KEY
    edits = [catalogue._set_claim(t, "timestamp", der_tlv(asn1.TIME, value))
             for value in (b"hello", b"20251103142207", b"20251303142207Z", b"2025110314220.Z", b"20251103142207.5Z")]
    edits += [catalogue._set_claim(k, "purpose", der_sequence(asn1.integer(5))),
              catalogue._set_claim(k, "purpose", der_sequence(b"\x06\x02\x80\x01")),
              catalogue._add_claim(p, evidence.claim(p, "uptime", der_tlv(asn1.INTEGER, b"\x00\x05"))),
              catalogue._add_claim(k, evidence.claim(k, "expiry", der_tlv(asn1.TIME, b"xyz")))]
    for edit in edits:
        bench = _bench()
        edit(bench)
        assert _pkix_verdicts(bench) == _both(Reason.MALFORMED)
    bench = _bench()
    catalogue._add_claim(k, evidence.claim(k, "expiry", asn1.generalized_time(catalogue.VALIDATION_TIME)))(bench)
    assert _pkix_verdicts(bench) == _both(Reason.OK)
    assert asn1.read_time(der_tlv(asn1.TIME, b"20240229235959Z")) == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)

def test_pkix_fips_level_is_reported_only_beside_fips_boot_true() -> None:
    """Draft 5.1.4: fipslevel has no meaning if fipsboot is absent or false; both are alike: accepted, no level."""
    p = asn1.ELEMENT_PLATFORM
    trust = TrustAnchors({"root": (catalogue.seeded_kit(SEED).identity.root,)})
    for edit, level in ((lambda bench: None, "3"), (catalogue._drop_claim(p, "fipsboot"), None),
                        (catalogue._set_claim(p, "fipsboot", asn1.boolean(False)), None)):
        bench = _bench()
        edit(bench)
        for profile in Profile:
            verdict = get_format("pkix-evidence").verify(bench.render(True), trust, at=catalogue.VALIDATION_TIME,
                                                         profile=profile)
            assert verdict.reason is Reason.OK and verdict.claims is not None
            assert verdict.claims.fips_level == level

def test_pkix_two_nonce_or_csr_files_that_differ_are_ambiguous() -> None:
    """Two nonces or CSRs beside the Evidence: the verdict must not depend on which is read last (MALFORMED, naming
    both files, whatever their order); a copy of the same one is fine."""
    bench = _bench()
    own = bench.render(True)
    nonce_name = next(name for name in own.files if name.endswith(".nonce"))
    wrong = bytes(16).hex().encode()
    fmt = get_format("pkix-evidence")
    trust = TrustAnchors({"root": (bench.kit.identity.root,)})
    for extra in ({"a.nonce": wrong}, {"z.nonce": wrong}):
        for files in ({**own.files, **extra}, {**extra, **own.files}):
            verdict = fmt.verify(Evidence(own.format, files, own.primary), trust, at=catalogue.VALIDATION_TIME)
            assert verdict.reason is Reason.MALFORMED and nonce_name in verdict.detail and next(iter(extra)) in \
                verdict.detail
    copy = Evidence(own.format, {**own.files, "copy.nonce": own.files[nonce_name]}, own.primary)
    assert fmt.verify(copy, trust, at=catalogue.VALIDATION_TIME).reason is Reason.OK
    catalogue._two_csrs(bench)
    assert _pkix_verdicts(bench) == _both(Reason.MALFORMED)
    bench.extra_files = {name: data for name, data in bench.extra_files.items() if "-other" not in name}
    bench.extra_files["copy.csr"] = bench.extra_files[f"{bench.key.label}.csr"]
    assert _pkix_verdicts(bench) == _both(Reason.OK)

def _pss_algorithm(hash_oid: str, mgf_hash_oid: str, salt: int) -> bytes:
    def digest(oid: str) -> bytes:
        return der_sequence(der_oid(oid))
    return der_sequence(der_oid(signing.RSA_PSS), der_sequence(
        der_tlv(0xA0, digest(hash_oid)), der_tlv(0xA1, der_sequence(der_oid(signing.MGF1), digest(mgf_hash_oid))),
        der_tlv(0xA2, asn1.integer(salt))))


def test_pkix_signature_algorithms_of_the_open_set() -> None:
    """The module's signatureAlgorithm is AlgorithmIdentifier{SIGNATURE-ALGORITHM, {...}}, an open set: an AK signs
    with ecdsa-with-SHA512 (RFC 5758), sha512WithRSAEncryption or RSASSA-PSS with SHA-2 (RFC 4055); PSS with SHA-1
    (its default) or an MGF1 hash other than the message's is UNSUPPORTED, PSS without parameters MALFORMED."""
    kit = catalogue.seeded_kit(SEED)
    bench = _bench()
    catalogue._scheme(catalogue._ecdsa_sha512)(bench)
    assert _pkix_verdicts(bench) == _both(Reason.OK)
    rsa_key = derive_key(SEED, "tests/ietf/rsa-ak", KeySpec.parse("rsa-2048"))
    identity = pki.evidence_identity(SEED, kit.device.serial, "default", created=kit.device.attestation_created,
                                     key_name="attestation-key-rsa", key=rsa_key)
    sha256, sha512 = "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.3"
    cases = [
        (der_sequence(der_oid(signing.RSA_SHA512), b"\x05\x00"), padding.PKCS1v15(), hashes.SHA512(), Reason.OK),
        (_pss_algorithm(sha256, sha256, 32), padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256(),
         Reason.OK),
        (_pss_algorithm(sha512, sha512, 64), padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512(),
         Reason.OK),
        (_pss_algorithm(sha512, sha256, 64), padding.PSS(padding.MGF1(hashes.SHA256()), 64), hashes.SHA512(),
         Reason.UNSUPPORTED),
        (der_sequence(der_oid(signing.RSA_PSS), der_sequence()), padding.PSS(padding.MGF1(hashes.SHA1()), 20),
         hashes.SHA1(), Reason.UNSUPPORTED),
        (der_sequence(der_oid(signing.RSA_PSS)), padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256(),
         Reason.MALFORMED),
    ]
    for algorithm, pad, hash_, reason in cases:
        bench = _bench()
        bench.signers = [identity]
        catalogue._names_signer(bench, rsa_key.public_key())
        bench.scheme = lambda key, tbs, algorithm=algorithm, pad=pad, hash_=hash_: (algorithm,
                                                                                     key.sign(tbs, pad, hash_))
        assert _pkix_verdicts(bench) == _both(reason), algorithm.hex()


# -- the IETF samples ---------------------------------------------------------------------------

@pytest.mark.parametrize(("number", "reason"), [
    (1, Reason.CHAIN_INCOMPLETE),   # keyId signer, no certificate: the reference CLI says the same
    (2, Reason.ATTR_EXTRACTABLE),   # signature and chain verify; its second key is extractable
    (3, Reason.ATTR_CONFLICT),      # two platform entities (the reference CLI's validate rejects it too)
])
def test_pkix_evidence_samples(evidence_dir: Path, number: int, reason: Reason) -> None:
    fmt = get_format("pkix-evidence")
    trust = fmt.trust_anchors_from_files([evidence_dir / "ca.crt"])
    for suffix in ("pem", "b64"):
        path = evidence_dir / f"evidence{number}.{suffix}"
        assert detect(path) is fmt
        der = evidence_der(path.read_bytes())
        decoded = asn1.decode_evidence(der)
        assert asn1.encode_evidence(decoded.tbs, decoded.signatures, decoded.intermediates) == der
        assert fmt.verify(fmt.load(path), trust, at=SAMPLE_AT).reason is reason


def test_pkix_evidence_samples_with_loose_certificates(evidence_dir: Path) -> None:
    fmt = get_format("pkix-evidence")
    trust = fmt.trust_anchors_from_files([evidence_dir / "ca.crt"])
    loaded = fmt.load(evidence_dir / "evidence1.pem")
    with_certs = Evidence(loaded.format, {**loaded.files, "ak.crt": (evidence_dir / "ak.crt").read_bytes(),
                                          "int.crt": (evidence_dir / "int.crt").read_bytes()}, loaded.primary)
    # the keyId now resolves; signature and chain verify, but evidence1 reports no key
    assert fmt.verify(with_certs, trust, at=SAMPLE_AT).reason is Reason.ATTR_MISSING
    decoded = asn1.decode_evidence(evidence_der((evidence_dir / "evidence3.pem").read_bytes()))
    with pytest.raises(Rejected) as caught:  # both signatures verify; the published CA did not sign IntCA
        evidence.check_signatures(decoded, [], trust, SAMPLE_AT)
    assert caught.value.reason is Reason.CERT_SIGNATURE_INVALID


def test_emulated_evidence_chain_has_the_samples_profile(evidence_dir: Path) -> None:
    """AK, IntCA and RootCA against the samples' ak.crt, int.crt, ca.crt: extensions in order with criticality
    and keyUsage; each AKI names its issuer's SKI, the root's its own."""
    identity = pki.evidence_identity(SEED, "0001", "p", created=AT)
    ours = [identity.certificate, identity.chain[1], identity.root]
    theirs = [x509.load_pem_x509_certificate((evidence_dir / name).read_bytes())
              for name in ("ak.crt", "int.crt", "ca.crt")]
    for emulated, real in zip(ours, theirs, strict=True):
        assert [(e.oid, e.critical) for e in emulated.extensions] == [(e.oid, e.critical) for e in real.extensions]
        assert (emulated.extensions.get_extension_for_class(x509.KeyUsage).value
                == real.extensions.get_extension_for_class(x509.KeyUsage).value)
    for cert, issuer in zip(ours, ours[1:] + ours[2:], strict=True):
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def test_tcg_attest_certify_sample(shared_dir: Path) -> None:
    path = shared_dir / "interop" / "ietf-csr-attestation" / "tcgAttestTpmCertify.pem"
    fmt = get_format("csr-attestation")
    assert detect(path) is fmt
    info = asn1.decode_request(csr_der(path.read_bytes()))
    bundle = asn1.decode_bundle(info.attributes[0][1][0])
    (statement,) = bundle.statements
    assert statement.type == asn1.TCG_ATTEST_CERTIFY
    assert statement.trailing == (b"\x16\x17tpmverifier.example.com",)  # the superseded hint
    attest_bytes, signature, public_bytes = tcg.parse(statement.stmt)
    attest = TpmsAttest.unmarshal(attest_bytes)
    assert (attest.type, attest.extra_data, len(signature)) == (TpmSt.ATTEST_CERTIFY, b"\x00\xff\x55\xaa", 256)
    assert evidence.describe_key(info.spki) == ("RSA", 2048)
    assert TpmtPublic.unmarshal(public_bytes).public_key().key_size == 2048
    # the CSR's own signature does not verify (openssl req -verify agrees)
    verdict = fmt.verify(fmt.load(path), TrustAnchors(), at=datetime(2024, 11, 1, tzinfo=UTC))
    assert verdict.reason is Reason.CSR_SIGNATURE_INVALID
    # the statement itself: signed by the bundled AK, whose root is X.509 v1
    certs = [x509.load_der_x509_certificate(c) for c in bundle.certs or ()]
    root = TrustAnchors({"root": tuple(c for c in certs if c.subject == c.issuer)})
    with pytest.raises(Rejected) as caught:
        tcg.verify_statement(statement.stmt, certs, info.spki, root, datetime(2024, 11, 1, tzinfo=UTC),
                             Profile.STRUCTURAL, None)
    assert caught.value.reason is Reason.CERT_NOT_CA


# -- the CLI ------------------------------------------------------------------------------------

def _hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return run_hsmsim(list(args), timeout=300)


def test_cli_csr_wrapping_primus_luna_and_tpm(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    assert _hsmsim("key", "create", "--label", "k", "--spec", "rsa-3072", "--created", "2025-11-01T00:00:00Z",
                   "--state", state).returncode == 0
    for statements in ("primus", "luna-pkc", "tcg-attest-certify"):
        out = tmp_path / statements
        made = _hsmsim("attest", "--key", "k", "--format", "csr-attestation", "--param", f"statements={statements}",
                       "--at", "2025-11-03T10:00:00Z", "--out", str(out / "k.csr"), "--state", state)
        assert made.returncode == 0, made.stderr
        checked = _hsmsim("verify", str(out / "k.csr"), "--root", str(out / csr.ROOTS_FILE),
                          "--at", "2025-11-04T00:00:00Z")
        assert (checked.returncode, checked.stdout.strip()) == (0, "ACCEPT"), checked.stdout + checked.stderr


def test_cli_refuses_an_empty_statements_parameter(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    assert _hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--state", state).returncode == 0
    made = _hsmsim("attest", "--key", "k", "--format", "csr-attestation", "--param", "statements=",
                   "--out", f"{tmp_path / 'out'}/", "--state", state)
    assert made.returncode == 2 and len(made.stderr.splitlines()) == 1, made.stderr
    assert made.stderr.startswith("hsmsim: error: parameter statements must be one or more statement names from ")
    assert not (tmp_path / "out").exists()


@pytest.mark.shared
def test_emulated_evidence_certificates_take_as_many_serial_octets_as_the_drafts_samples(shared_dir: Path) -> None:
    sample = shared_dir / "interop" / "ietf-pkix-evidence"
    real = [x509.load_pem_x509_certificate((sample / name).read_bytes()) for name in ("ak.crt", "int.crt", "ca.crt")]
    identity = catalogue.seeded_kit("hsmsim-vectors-v1").identity
    emulated = [*identity.chain, identity.root]
    assert [c.subject.rfc4514_string().split(",")[0].split(" ")[0] for c in emulated] == [
        "CN=attestation-key", "CN=IntCA", "CN=RootCA"]
    assert [c.serial_number.bit_length() // 8 + 1 for c in emulated] == \
        [c.serial_number.bit_length() // 8 + 1 for c in real] == [20, 20, 20]


def test_a_key_expiry_claim_before_the_validation_time_is_cert_expired() -> None:
    """The draft's key ``expiry``: the time after which the key is not to be used. Before the validation time the
    key is expired (CERT_EXPIRED, as an expired certificate's key); at it or after, or absent, it is not judged."""
    k = asn1.ELEMENT_KEY
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    policy = [evidence.claim(k, "identifier", asn1.utf8("key")),
              *(evidence.claim(k, name, asn1.boolean(value)) for name, value in
                (("extractable", False), ("never-extractable", True), ("local", True), ("sensitive", True)))]

    def entity(*expiry: datetime) -> asn1.Entity:
        return asn1.Entity(k, (*policy, *(evidence.claim(k, "expiry", asn1.generalized_time(e)) for e in expiry)))

    for profile in Profile:
        evidence.check_key(entity(), profile, at)
        evidence.check_key(entity(at), profile, at)
        with pytest.raises(Rejected) as raised:
            evidence.check_key(entity(at - timedelta(seconds=1)), profile, at)
        assert raised.value.reason is Reason.CERT_EXPIRED and "expired 2026-03-01T11:59:59Z" in raised.value.detail


# -- issue 19: what recurs is checked once, what is new on every call --------------------------------

@pytest.mark.parametrize("statement", [catalogue.PKIX, catalogue.TCG])
def test_an_ak_certificate_is_checked_once_per_process_and_its_days_on_every_call(
        monkeypatch: pytest.MonkeyPatch, issuer_checks: list[x509.Certificate],
        statement: tuple[str, str, tuple[str, ...]]) -> None:
    """A PKIX Evidence or TcgAttestCertify AK certificate recurs in every statement its device makes: a copy of the
    same bytes is not signature-checked again, while the statement's own signature and the request's
    self-signature are checked in every bundle, and the AK's validity at every call's time."""
    kit = catalogue.seeded_kit(SEED)
    bench = catalogue.open_csr(kit, statement)
    identity = (kit.identity if statement is catalogue.PKIX
                else pki.tpm_identity(SEED, kit.device.serial, created=kit.device.attestation_created))
    ak = identity.certificate
    statement_checks: list[bytes] = []
    module, name = (evidence, "verify") if statement is catalogue.PKIX else (tcg, "_verify")
    real_verify = getattr(module, name)

    def counted_verify(*args: object) -> object:
        statement_checks.append(b"")
        return real_verify(*args)

    monkeypatch.setattr(module, name, counted_verify)
    csr_checks: list[bool] = []
    real_csr_check = csr.check_csr_signature
    monkeypatch.setattr(csr, "check_csr_signature", lambda der: csr_checks.append(True) or real_csr_check(der))
    fmt = get_format("csr-attestation")
    ak_checks = []
    for _ in range(5):
        ev = bench.render()  # a new object each time, with the same bytes
        verdict = fmt.verify(ev, _anchors(ev, csr.ROOTS_FILE), at=catalogue.VALIDATION_TIME)
        assert verdict.accepted, verdict.summary()
        ak_checks.append(sum(child == ak for child in issuer_checks))
    # checked before the AK is remembered, and once more as the remembered issuer's signature over it; then never
    assert ak_checks[0] == 1 and ak_checks[1:] == [2] * 4
    assert len(statement_checks) == 5 and len(csr_checks) == 5
    expired = fmt.verify(ev, _anchors(ev, csr.ROOTS_FILE), at=ak.not_valid_after_utc + timedelta(days=1))
    assert expired.reason is Reason.CERT_EXPIRED and "expired" in expired.detail
    assert len(statement_checks) == 6 and sum(child == ak for child in issuer_checks) == 2


def _claim_read_by_children(tlv: bytes) -> asn1.Claim:
    parts = der_children(der_content(tlv, der=True), der=True)
    if len(parts) not in (1, 2):
        raise ValueError("ReportedClaim is not {claimType, value OPTIONAL}")
    if parts[0][0] != 0x06:
        raise ValueError("not an OBJECT IDENTIFIER")
    return asn1.Claim(oid_dotted(parts[0]), parts[1] if len(parts) == 2 else None)


_OID = der_oid("1.3.6.1.5.5.999.2.1")


@pytest.mark.parametrize("content", [
    _OID, _OID + der_tlv(0x0C, b"v"), _OID + der_tlv(0x04, b"x" * 127), _OID + der_tlv(0x04, b"x" * 128),
    _OID + der_tlv(0x04, b"x" * 300), _OID + b"\x04\x81\x05abcde", _OID + b"\x1f\x01\x00", _OID + b"\x04\x05abc",
    _OID + der_tlv(0x01, b"\xff") + der_tlv(0x05, b""), _OID + b"\x04", der_tlv(0x0C, b"v") + _OID,
    b"\x06\x85" + _OID[1:], _OID[:-1], b""])
def test_pkix_claim_reader_reads_as_its_children_are_read(content: bytes) -> None:
    """A ReportedClaim's usual shape (a short OID, then one value with a short-form length) is read without
    splitting its content into children; what it reads, and every other claim's error, is the children's."""
    tlv = der_sequence(content)
    try:
        expected = _claim_read_by_children(tlv)
    except ValueError as exc:
        with pytest.raises(ValueError, match=f"^{re.escape(str(exc))}$"):
            asn1._decode_claim(tlv)
        return
    assert asn1._decode_claim(tlv) == expected
