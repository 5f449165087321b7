"""The Fortanix format: statement and chain layout, KU mapping, the reference verifier's reasons,
hostile JSON, determinism, the vector catalogue, the CLI, the openssl walk, the pkcs11 backend, and
the real DSM response in ``../shared/interop/fortanix``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtensionOID, NameOID

from hsmsim.device import Device
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.fortanix.catalogue import mutations
from hsmsim.formats.fortanix.certificates import read_certificate
from hsmsim.formats.fortanix.format import FortanixFormat
from hsmsim.formats.fortanix.generate import statement_usages
from hsmsim.formats.fortanix.layout import ROOT_FILE, JsonLimits
from hsmsim.formats.fortanix.options import FortanixOptions
from hsmsim.formats.fortanix.pki import AUTHORITY_CN, CA_CN, ENROLLMENT_POLICY, ROOT_CN, fortanix_pki, ski
from hsmsim.formats.fortanix.statement import CLAIM_GENERATED, CLAIM_NEVER_EXPORTABLE, KEY_ID_OID, parse_json
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import UTF8, extension_tlvs
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED
from tests.formats import check_catalogue_verdicts

ROOT = Path(__file__).resolve().parents[2]
WALK = ROOT / "scripts" / "verify_fortanix_openssl.sh"
AT = ATTEST_TIME + timedelta(days=1)
"""The verifier's clock: inside the 30-day authority certificate the goldens carry (2025-02-23 to 2025-03-25)."""
SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")
# The cluster node enrollment policy exactly as the published DSM authority carries it.
ENROLLMENT_DER = bytes.fromhex("302c301b060b2b0601040183841a020501060c2b0601040183841a02050101"
                               "300d060b2b0601040183841a020502")


def make_fortanix_hsm(seed: str = SEED) -> Hsm:
    """A seeded DSM cluster over a seeded soft store: one key per spec plus odd-permission keys."""
    store = SoftKeyStore(seed=seed)
    hsm = Hsm(Device.from_seed("fortanix", seed), store)
    for spec in SPECS:
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)
    store.generate(KeySpec.parse("rsa-3072"), "key-transport", created=KEY_CREATED,
                   policy=KeyPolicy(sign=True, decrypt=True, unwrap=True))
    store.generate(KeySpec.parse("ec-p256"), "key-agreement", created=KEY_CREATED,
                   policy=KeyPolicy(sign=False, derive=True, decrypt=True))
    store.generate(KeySpec.parse("ec-p256"), "exportable", created=KEY_CREATED, policy=KeyPolicy(extractable=True))
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    return hsm


@pytest.fixture(scope="module")
def fx_hsm() -> Hsm:
    return make_fortanix_hsm()


@pytest.fixture(scope="module")
def bundles(fx_hsm: Hsm) -> dict[str, Evidence]:
    return {key.label: fx_hsm.attest(key.label, "fortanix", {"attest_time": ATTEST_TIME})
            for key in fx_hsm.keystore.all_keys()}


@pytest.fixture(scope="module")
def trust(bundles: dict[str, Evidence]) -> TrustAnchors:
    return TrustAnchors({"root": (x509.load_pem_x509_certificate(bundles["key-rsa-3072"].files[ROOT_FILE]),)})


@pytest.fixture(scope="module")
def fortanix() -> FortanixFormat:
    fmt = get_format("fortanix")
    assert isinstance(fmt, FortanixFormat)
    return fmt


def response(evidence: Evidence) -> dict:
    return json.loads(evidence.files[evidence.primary])


def certs(evidence: Evidence) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """Statement and chain as the verifier reads them (the authority's DSM encodings re-encoded as DER)."""
    doc = response(evidence)
    statement = x509.load_der_x509_certificate(base64.b64decode(doc["attestation_statement"]["statement"]))
    return statement, [read_certificate(base64.b64decode(c), "chain").cert for c in doc["authority_chain"]]


def with_response(evidence: Evidence, data: bytes) -> Evidence:
    return Evidence(evidence.format, {**evidence.files, evidence.primary: data}, evidence.primary)


def sha1_ski(cert: x509.Certificate) -> bytes:
    """SHA-1 over the whole DER SubjectPublicKeyInfo, as real DSM certificates carry it."""
    return hashlib.sha1(cert.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)).digest()


def method_1_ski(cert: x509.Certificate) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING contents only."""
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest  # type: ignore[arg-type]


def extension_values(der: bytes) -> dict[str, bytes]:
    """Each extension's raw value bytes (extnValue contents) by dotted OID, as encoded."""
    from asn1crypto import x509 as ax509

    extensions = ax509.Certificate.load(der)["tbs_certificate"]["extensions"]
    return {e["extn_id"].dotted: e["extn_value"].contents for e in extensions}


# -- layout ---------------------------------------------------------------------------------

def test_statement_certificate_layout(bundles):
    evidence = bundles["key-rsa-3072"]
    statement, (authority, _ca, _root) = certs(evidence)
    assert statement.version is x509.Version.v3 and len(statement.serial_number.to_bytes(20, "big")) == 20
    assert statement.issuer == authority.subject
    assert [a.rfc4514_string() for a in statement.issuer] == [f"CN={AUTHORITY_CN}"]
    cn, kid = statement.subject.rdns
    assert [(a.oid, a.value, a._type) for a in cn] == [(NameOID.COMMON_NAME, "Fortanix DSM Key Attestation", UTF8)]
    (kid_attr,) = kid
    assert kid_attr.oid == KEY_ID_OID and kid_attr._type == UTF8
    assert evidence.primary == f"key_attestation_{kid_attr.value}.json"
    assert statement.not_valid_before_utc == ATTEST_TIME
    der = statement.public_bytes(serialization.Encoding.DER)
    assert b"\x17\x0d250304103000Z\x18\x0f99991231235959Z" in der  # UTCTime then GeneralizedTime
    assert [(e.oid, e.critical) for e in statement.extensions] == [
        (ExtensionOID.KEY_USAGE, True), (CLAIM_GENERATED, False), (CLAIM_NEVER_EXPORTABLE, False),
        (ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False)]
    for oid in (CLAIM_GENERATED, CLAIM_NEVER_EXPORTABLE):
        assert statement.extensions.get_extension_for_oid(oid).value.value == b"\x30\x00"
    aki = statement.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == sha1_ski(authority) and aki.authority_cert_issuer is None
    assert statement.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    csr = x509.load_pem_x509_csr(evidence.files["key-rsa-3072.csr"])
    assert csr.public_key() == statement.public_key() and csr.is_signature_valid


def test_authority_ca_and_root_layout(bundles):
    doc = response(bundles["key-ec-p256"])
    authority_der = base64.b64decode(doc["authority_chain"][0])
    with pytest.raises(ValueError, match="EncodedDefault"):  # DSM's encoding, which cryptography refuses
        list(x509.load_der_x509_certificate(authority_der).extensions)
    raw = extension_values(authority_der)
    assert (raw["2.5.29.19"], raw["2.5.29.15"]) == (bytes.fromhex("3003010100"), bytes.fromhex("03020180"))
    _statement, (authority, ca, root) = certs(bundles["key-ec-p256"])
    assert [(e.oid.dotted_string, e.critical) for e in authority.extensions] == [
        ("2.5.29.15", True), ("2.5.29.19", True), ("2.5.29.14", False), ("2.5.29.37", False),
        ("1.3.6.1.4.1.49690.2.5", False), ("2.5.29.31", False), ("2.5.29.32", False), ("2.5.29.35", False)]
    assert authority.extensions.get_extension_for_oid(ENROLLMENT_POLICY).value.value == ENROLLMENT_DER
    assert authority.subject.rfc4514_string() == f"CN={AUTHORITY_CN}"
    assert authority.not_valid_after_utc - authority.not_valid_before_utc == timedelta(days=30)
    assert authority.not_valid_before_utc <= ATTEST_TIME < authority.not_valid_after_utc
    assert authority.public_key().key_size == 3072 and ca.public_key().key_size == root.public_key().key_size == 4096
    for cert, issuer in ((authority, ca), (ca, root)):
        assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == sha1_ski(cert) \
            != method_1_ski(cert)
        assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == \
            sha1_ski(issuer)
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        assert [p.policy_identifier.dotted_string for p in policies] == ["1.3.6.1.4.1.49690.6.1.2"]
    assert [(e.oid.dotted_string, e.critical) for e in ca.extensions] == [
        ("2.5.29.15", True), ("2.5.29.19", True), ("2.5.29.14", False), ("2.5.29.31", False), ("2.5.29.32", False),
        ("2.5.29.35", False)]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length is None
    for cert, cn in ((ca, CA_CN), (root, ROOT_CN)):
        assert [(a.oid._name, a.value) for a in cert.subject] == [
            ("countryName", "US"), ("stateOrProvinceName", "California"), ("localityName", "Santa Clara"),
            ("organizationName", "Fortanix, Inc."), ("commonName", cn)]
        assert {a._type for a in cert.subject} == {UTF8}
    assert root.subject == root.issuer and [e.oid.dotted_string for e in root.extensions] == [
        "2.5.29.15", "2.5.29.19", "2.5.29.14"]
    emulated = [a.value for a in root.subject if "EMULATED" in a.value]
    assert emulated == ["Fortanix Attestation and Provisioning Root CA EMULATED"]


def test_response_json_layout(bundles):
    evidence = bundles["key-rsa-3072"]
    assert list(evidence.files) == [evidence.primary, "key-rsa-3072.csr", ROOT_FILE]
    text = evidence.files[evidence.primary].decode()
    assert text.startswith('{\n    "authority_chain": [\n        "MII') and text.endswith("\n    }\n}\n")
    doc = json.loads(text)
    assert list(doc) == ["authority_chain", "attestation_statement"]
    assert list(doc["attestation_statement"]) == ["format", "statement"]
    assert doc["attestation_statement"]["format"] == "x509_certificate"
    _statement, chain = certs(evidence)
    assert [c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for c in chain] == [
        AUTHORITY_CN, CA_CN, ROOT_CN]
    assert chain[2].public_bytes(serialization.Encoding.PEM) == evidence.files[ROOT_FILE]


@pytest.mark.parametrize(("label", "usages"), [
    ("key-rsa-3072", {"digital_signature"}),
    ("key-transport", {"digital_signature", "key_encipherment", "data_encipherment"}),  # the published sample's KU
    ("key-agreement", {"key_agreement"}),  # decrypt is not an EC usage
    ("key-ec-p384", {"digital_signature"}),
])
def test_key_usage_mirrors_permissions(bundles, label, usages):
    statement, _ = certs(bundles[label])
    ku = statement.extensions.get_extension_for_class(x509.KeyUsage).value
    fields = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
              "key_cert_sign", "crl_sign")
    assert {f for f in fields if getattr(ku, f)} == usages


def test_keys_without_an_expressible_permission_are_refused():
    store = SoftKeyStore(seed="fx-unsupported")
    aes = store.generate(KeySpec.parse("aes-256"), "aes")
    with pytest.raises(UnsupportedKeyError, match="asymmetric"):
        statement_usages(aes)
    idle = store.generate(KeySpec.parse("ec-p256"), "idle", policy=KeyPolicy(sign=False, decrypt=True))
    with pytest.raises(UnsupportedKeyError, match="no permission"):
        statement_usages(idle)


# -- accept --------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS)
def test_goldens_verify(fortanix, bundles, trust, spec):
    evidence = bundles[f"key-{spec}"]
    verdict = fortanix.verify(evidence, trust, at=AT)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims.generated_on_device and claims.never_extractable and claims.extractable is False
    assert claims.vendor == "Fortanix" and claims.label == evidence.primary[len("key_attestation_"):-5]
    assert "non-DER extension values read as DER" in verdict.detail and "authority_chain[0] key_usage, " \
        "basic_constraints" in verdict.detail
    strict = fortanix.verify(evidence, trust, at=AT, profile=Profile.STRICT)
    expected = {"rsa-2048": Reason.KEY_POLICY, "ec-p256": Reason.UNSUPPORTED, "ec-p384": Reason.UNSUPPORTED}
    assert strict.reason is expected.get(spec, Reason.OK), strict.summary()


def test_claims_are_omitted_for_imported_and_exportable_keys(fortanix, bundles, trust):
    imported, _ = certs(bundles["imported"])  # an import is neither local nor never-extractable: no claim
    assert [e.oid for e in imported.extensions] == [ExtensionOID.KEY_USAGE, ExtensionOID.AUTHORITY_KEY_IDENTIFIER]
    exportable, _ = certs(bundles["exportable"])
    assert CLAIM_NEVER_EXPORTABLE not in [e.oid for e in exportable.extensions]
    assert fortanix.verify(bundles["imported"], trust, at=AT).reason is Reason.ATTR_NOT_LOCAL
    assert fortanix.verify(bundles["exportable"], trust, at=AT).reason is \
        Reason.ATTR_NOT_NEVER_EXTRACTABLE


def test_chain_is_validated_at_the_verifiers_clock(fx_hsm, bundles, trust):
    """As the vendor's verifier: the authority must be valid now; the statement may predate it."""
    evidence = bundles["key-ec-p256"]
    _statement, (authority, _ca, _root) = certs(evidence)
    default = FortanixFormat()
    assert default.verify(evidence, trust, at=AT).accepted
    expired = default.verify(evidence, trust, at=authority.not_valid_after_utc + timedelta(seconds=1))
    assert expired.reason is Reason.CERT_EXPIRED and "authority chain at" in expired.detail
    before = default.verify(evidence, trust, at=ATTEST_TIME - timedelta(seconds=1))
    assert before.reason is Reason.CERT_NOT_YET_VALID and "statement" in before.detail
    assert default.verify(evidence, TrustAnchors({}), at=AT).reason is Reason.CHAIN_UNTRUSTED
    # DSM hands back the stored statement with the next period's authority certificate (same key)
    renewed_at = authority.not_valid_after_utc + timedelta(days=2)
    renewed = fortanix_pki(SEED, fx_hsm.device.serial, renewed_at, captured_encoding=True).authority
    doc = response(evidence)
    doc["authority_chain"][0] = base64.b64encode(renewed.public_bytes(serialization.Encoding.DER)).decode()
    stored = with_response(evidence, json.dumps(doc).encode())
    assert default.verify(stored, trust, at=renewed_at).accepted
    at_not_before = FortanixFormat(FortanixOptions(chain_time="statement"))
    assert at_not_before.verify(stored, trust, at=renewed_at).reason is Reason.CERT_NOT_YET_VALID
    assert at_not_before.verify(evidence, trust, at=renewed_at).accepted  # the old certificate, at its time


def test_authority_is_recertified_monthly_with_the_same_key(fx_hsm, fortanix, trust):
    later = ATTEST_TIME + timedelta(days=45)
    first = fx_hsm.attest("key-ec-p256", "fortanix", {"attest_time": ATTEST_TIME})
    second = fx_hsm.attest("key-ec-p256", "fortanix", {"attest_time": later})
    (_, (a1, *_)), (_, (a2, *_)) = certs(first), certs(second)
    assert a1.serial_number != a2.serial_number and a1.not_valid_after_utc <= a2.not_valid_before_utc
    assert a1.public_key() == a2.public_key() and sha1_ski(a1) == sha1_ski(a2)
    assert first.primary == second.primary  # same kid
    assert fortanix.verify(second, trust, at=later).accepted
    # the CA is renewed every two years with the same key: a statement issued today still chains
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    current = fortanix_pki(SEED, fx_hsm.device.serial, now)
    assert current.ca.not_valid_before_utc <= now < current.ca.not_valid_after_utc
    assert fortanix.verify(fx_hsm.attest("key-ec-p256", "fortanix", {"attest_time": now}), trust, at=now).accepted


def test_generation_is_deterministic_across_processes(bundles):
    code = (
        "import hashlib\n"
        "from tests.conftest import ATTEST_TIME\n"
        "from tests.formats.test_fortanix import make_fortanix_hsm\n"
        "ev = make_fortanix_hsm().attest('key-ec-p384', 'fortanix', {'attest_time': ATTEST_TIME})\n"
        "print(''.join(hashlib.sha256(ev.files[k]).hexdigest() for k in sorted(ev.files)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "321"})
    ours = bundles["key-ec-p384"]
    assert out.stdout.strip() == "".join(hashlib.sha256(ours.files[k]).hexdigest() for k in sorted(ours.files))
    assert make_fortanix_hsm().attest("key-ec-p384", "fortanix", {"attest_time": ATTEST_TIME}).files == ours.files


# -- hostile JSON: a reason, never an exception ----------------------------------------------

def _deep(n: int) -> bytes:
    return b'{"authority_chain": ' + b"[" * n + b"]" * n + b"}"


@pytest.mark.parametrize(("payload", "reason"), [
    (_deep(200_000)[:120_000], Reason.LIMIT_EXCEEDED),  # would overflow a recursive parser
    (b'{"a": ' * 20 + b"1" + b"}" * 20, Reason.LIMIT_EXCEEDED),
    (b'{"authority_chain": [], "x": "' + b"A" * 300_000 + b'"}', Reason.LIMIT_EXCEEDED),
    (b'{"authority_chain": [], "authority_chain": []}', Reason.ATTR_CONFLICT),
    (b'{"attestation_statement": {"format": "x509_certificate", "format": "x509_certificate"}}',
     Reason.ATTR_CONFLICT),
    (b'{"authority_chain": [NaN]}', Reason.MALFORMED),
    (b'{"n": ' + b"9" * 100_000 + b"}", Reason.MALFORMED),
    (b'\xef\xbb\xbf{"authority_chain": []}', Reason.MALFORMED),
    (b'{"authority_chain": ["\xff"]}', Reason.MALFORMED),
    (b'{"authority_chain": ["abc', Reason.MALFORMED),
    (b'["' + b'\\"' * 40_000, Reason.MALFORMED),  # unterminated escapes: the depth scan stays linear
    (b"", Reason.MALFORMED),
    (b"null", Reason.MALFORMED),
    (b'{"attestation_statement": {"format": "x509_certificate", "statement": "AAAA"}, "authority_chain": []}',
     Reason.MALFORMED),
    (b'{"attestation_statement": {"format": 1, "statement": ""}, "authority_chain": []}', Reason.MALFORMED),
    (b'{"attestation_statement": [], "authority_chain": []}', Reason.MALFORMED),
])
def test_hostile_json(fortanix, bundles, trust, payload, reason):
    evidence = with_response(bundles["key-rsa-3072"], payload)
    verdict = fortanix.verify(evidence, trust, at=AT, profile=Profile.STRICT)
    assert verdict.reason is reason, verdict.summary()


def test_parse_json_bounds_depth_before_parsing():
    with pytest.raises(Rejected) as caught:
        parse_json(b"[" * 50_000 + b"]" * 50_000, JsonLimits(max_bytes=200_000))
    assert caught.value.reason is Reason.LIMIT_EXCEEDED
    assert parse_json(b'{"a": "[[[[[[[[[[[[[[[[[["}') == {"a": "[[[[[[[[[[[[[[[[[["}  # brackets inside strings


def test_random_corruption_gives_reasons_not_exceptions(fortanix, bundles, trust):
    """Byte noise in the JSON and bit flips inside each DER certificate: only verdicts come out."""
    evidence = bundles["key-ec-p256"]
    data = evidence.files[evidence.primary]
    rng = random.Random(20251103)
    seen = set()
    for _ in range(300):
        doc = json.loads(data)
        if rng.random() < 0.3:
            noisy = bytearray(data)
            noisy[rng.randrange(len(noisy))] = rng.randrange(256)
            payload = bytes(noisy)
        else:
            slot = rng.choice(["statement", 0, 1])
            holder, key = (doc["attestation_statement"], "statement") if slot == "statement" else \
                (doc["authority_chain"], slot)
            der = bytearray(base64.b64decode(holder[key]))
            der[rng.randrange(len(der))] ^= 1 << rng.randrange(8)
            holder[key] = base64.b64encode(bytes(der)).decode()
            payload = json.dumps(doc).encode()
        seen.add(fortanix.verify(with_response(evidence, payload), trust, at=AT).reason)
    assert {Reason.MALFORMED, Reason.CERT_SIGNATURE_INVALID} <= seen


def test_duplicate_member_names_conflict_even_when_equal(fortanix, bundles, trust):
    text = bundles["key-rsa-3072"].files[bundles["key-rsa-3072"].primary]
    doubled = text.replace(b'"format": "x509_certificate",', b'"format": "x509_certificate",\n'
                                                                   b'        "format": "x509_certificate",')
    verdict = fortanix.verify(with_response(bundles["key-rsa-3072"], doubled), trust, at=AT)
    assert verdict.reason is Reason.ATTR_CONFLICT and "'format'" in verdict.detail


def test_missing_response_and_ambiguous_csr(fortanix, bundles, trust):
    evidence = bundles["key-rsa-3072"]
    only_csr = Evidence("fortanix", {"key-rsa-3072.csr": evidence.files["key-rsa-3072.csr"]}, "key-rsa-3072.csr")
    assert fortanix.verify(only_csr, trust, at=AT).reason is Reason.MISSING_INPUT
    two_csrs = Evidence("fortanix", {**evidence.files, "other.csr": bundles["key-ec-p256"].files["key-ec-p256.csr"]},
                        evidence.primary)
    for profile in Profile:  # ambiguous: MALFORMED, naming both (it was MISSING_INPUT)
        verdict = fortanix.verify(two_csrs, trust, at=AT, profile=profile)
        assert verdict.reason is Reason.MALFORMED and "'other.csr'" in verdict.detail, verdict.summary()


def test_a_response_without_csr_binds_nothing(fortanix, bundles, trust, tmp_path):
    """DSM's API returns the response alone: verified, unbound (said so); strict needs the binding."""
    evidence = bundles["key-rsa-3072"]
    alone = Evidence("fortanix", {evidence.primary: evidence.files[evidence.primary]}, evidence.primary)
    verdict = fortanix.verify(alone, trust, at=AT)
    assert verdict.accepted and "no CSR" in verdict.detail, verdict.summary()
    assert verdict.claims.spki_der == certs(evidence)[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert fortanix.verify(alone, trust, at=AT, profile=Profile.STRICT).reason is Reason.MISSING_INPUT
    evidence.write(tmp_path)  # of several CSRs beside the response, load takes the attested key's
    (tmp_path / "other.csr").write_bytes(bundles["key-ec-p256"].files["key-ec-p256.csr"])
    loaded = fortanix.load(tmp_path / evidence.primary)
    assert sorted(loaded.files) == sorted([evidence.primary, "key-rsa-3072.csr"])
    assert fortanix.verify(loaded, trust, at=AT, profile=Profile.STRICT).accepted
    (tmp_path / "key-rsa-3072.csr").unlink()  # none of them the key's: ambiguous
    (tmp_path / "third.csr").write_bytes(bundles["key-rsa-2048"].files["key-rsa-2048.csr"])
    loaded = fortanix.load(tmp_path / evidence.primary)
    assert sorted(loaded.files) == sorted([evidence.primary, "other.csr", "third.csr"])
    assert fortanix.verify(loaded, trust, at=AT).reason is Reason.MALFORMED


# -- the vector catalogue ---------------------------------------------------------------------

def test_catalogue_builds_and_every_vector_verifies_as_declared(tmp_path, fortanix):
    document = check_catalogue_verdicts(tmp_path / "v", fortanix, SEED)
    for test in document["tests"]:  # each vector's native files are on disk, and nothing else
        on_disk = tmp_path / "v" / test["inputs"]["dir"]
        assert sorted(p.name for p in on_disk.iterdir()) == sorted(f["path"] for f in test["inputs"]["files"])
    tests = document["tests"]
    defects = {f for t in tests if t["result"] != "valid" for f in t["flags"]} - {
        "Resigned", "Stale", "Golden", "StrictKeyPolicy"}
    assert len(defects) >= 40
    goldens = {t["id"].split("::")[2] for t in tests if t["id"].startswith("fortanix::golden::")}
    assert goldens == {"rsa-2048", "rsa-3072", "rsa-4096", "ec-p256-unconfirmed", "ec-p384-unconfirmed"}
    valid = [t["id"] for t in tests if t["result"] == "valid"]  # none the vendor's verifier rejects by shape
    assert sorted(valid) == ["fortanix::golden::rsa-3072", "fortanix::golden::rsa-4096",
                             "fortanix::variant::authority-der-extensions", "fortanix::variant::compact-json",
                             "fortanix::variant::stored-statement-renewed-authority"]
    signing = {t["provenance"]["signing"] for t in tests}
    assert signing == {"Genuine", "Resigned", "Stale"}
    assert {t["result"] for t in tests} == {"valid", "invalid", "acceptable"}
    assert {t["expectedReason"] for t in tests} >= {
        "CERT_POLICY", "ATTR_NOT_LOCAL", "CERT_UNKNOWN_CRITICAL", "CERT_KEY_USAGE", "CERT_EXPIRED", "KEY_MISMATCH",
        "CHAIN_INCOMPLETE", "CERT_SIGNATURE_INVALID", "CHAIN_UNTRUSTED", "UNSUPPORTED", "MISSING_INPUT",
        "ATTR_CONFLICT", "LIMIT_EXCEEDED", "MALFORMED"}


def test_catalogue_is_deterministic_and_ids_are_unique(fortanix):
    first, second = fortanix.vector_cases(SEED), fortanix.vector_cases(SEED)
    assert [c.id for c in first] == [c.id for c in second]
    assert all(a.evidence.files == b.evidence.files for a, b in zip(first, second, strict=True))
    assert len({c.id for c in first}) == len(first)
    assert len({m.flag for m in mutations()}) == len(mutations())
    assert all(c.provenance.seed == SEED for c in first)


# -- CLI, detection, openssl, pkcs11 -----------------------------------------------------------

def hsmsim(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--state", str(state)] if state is not None else []
    return run_hsmsim([*args, *extra], timeout=120, cwd=ROOT)


def walk(response_path: Path, csr: Path, root: Path, at: datetime = AT) -> list[str]:
    result = subprocess.run(["bash", str(WALK), str(response_path), str(csr), str(root), str(int(at.timestamp()))],
                            capture_output=True, text=True, timeout=60)
    return result.stdout.splitlines()


def test_cli_attest_and_verify_with_detection(tmp_path):
    state = tmp_path / "dsm"
    created = hsmsim("key", "create", "--vendor", "fortanix", "--label", "release", "--spec", "rsa-3072", state=state)
    assert created.returncode == 0, created.stderr
    out = tmp_path / "bundle" / "release.json"
    attested = hsmsim("attest", "--format", "fortanix", "--key", "release", "--out", str(out), state=state)
    assert attested.returncode == 0, attested.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["fortanix_root.pem", "release.csr", "release.json"]
    root = out.parent / ROOT_FILE
    verified = hsmsim("verify", str(out), "--root", str(root), "--profile", "strict", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    claims = json.loads(verified.stdout)["claims"]
    assert claims["key_type"] == "RSA" and claims["vendor"] == "Fortanix"
    assert detect(out).name == "fortanix" and detect(out.parent).name == "fortanix"
    doc = json.loads(out.read_text())
    doc["attestation_statement"]["format"] = "pkcs7"
    out.write_text(json.dumps(doc))
    rejected = hsmsim("verify", str(out.parent), "--root", str(root))
    assert (rejected.returncode, rejected.stdout.split(":")[0]) == (1, "REJECT UNSUPPORTED")


def test_primus_and_fortanix_detection_do_not_overlap(tmp_path, bundles, primus_bundles):
    bundles["key-rsa-3072"].write(tmp_path / "fx")
    primus_bundles["rsa-3072"].write(tmp_path / "primus")
    assert detect(tmp_path / "fx").name == "fortanix"
    assert detect(tmp_path / "fx" / bundles["key-rsa-3072"].primary).name == "fortanix"
    assert detect(tmp_path / "primus").name == "primus"
    assert not get_format("fortanix").detect(tmp_path / "primus" / "key-rsa-3072_attestation.zip")


@pytest.mark.parametrize("label", ["key-rsa-2048", "key-rsa-3072", "key-ec-p256", "key-ec-p384"])
def test_openssl_walk_accepts_goldens(tmp_path, bundles, label, openssl):
    evidence = bundles[label]
    evidence.write(tmp_path)
    lines = walk(tmp_path / evidence.primary, tmp_path / f"{label}.csr", tmp_path / ROOT_FILE)
    assert lines[-1] == "ACCEPT", lines
    assert any(line.endswith(": OK") for line in lines) and lines.count("Verified OK") == 2


def test_openssl_walk_catches_and_misses(tmp_path, bundles, fortanix, trust, openssl):
    imported = bundles["imported"]
    imported.write(tmp_path / "imported")
    lines = walk(tmp_path / "imported" / imported.primary, tmp_path / "imported" / "imported.csr",
                 tmp_path / "imported" / ROOT_FILE)
    assert lines[-1] == "REJECT claims"
    der = make_fortanix_hsm().attest("key-rsa-3072", "fortanix", {
        "attest_time": ATTEST_TIME, "options": FortanixOptions(captured_encoding=False)})
    der.write(tmp_path / "der")
    lines = walk(tmp_path / "der" / der.primary, tmp_path / "der" / "key-rsa-3072.csr", tmp_path / "der" / ROOT_FILE)
    assert lines[-1] == "ACCEPT"  # the DER authority a fixed DSM encoder would send: everyone reads it
    verdict = fortanix.verify(der, trust, at=AT)
    assert verdict.accepted and "non-DER" not in verdict.detail, verdict.summary()
    statement = bundles["key-rsa-3072"]  # the default authority (DSM's BER) under the walk, at the statement's time
    statement.write(tmp_path / "ber")
    at_not_before = walk(tmp_path / "ber" / statement.primary, tmp_path / "ber" / "key-rsa-3072.csr",
                         tmp_path / "ber" / ROOT_FILE, ATTEST_TIME)
    assert at_not_before[-1] == "ACCEPT"


def _softhsm() -> bool:
    from hsmsim.keystore.pkcs11 import find_softhsm_module

    return find_softhsm_module() is not None and shutil.which("softhsm2-util") is not None


@pytest.mark.softhsm
@pytest.mark.skipif(not _softhsm(), reason="SoftHSM2 is not installed (make setup installs it)")
def test_pkcs11_key_attests_and_verifies(tmp_path, fortanix):
    pytest.importorskip("pkcs11")
    from hsmsim.keystore.pkcs11 import Pkcs11KeyStore

    store = Pkcs11KeyStore(token_dir=tmp_path / "token")
    try:
        hsm = Hsm(Device.from_seed("fortanix", SEED), store)
        key = store.generate(KeySpec.parse("rsa-3072"), "token-key", created=KEY_CREATED)
        assert key.attributes.local and key.attributes.never_extractable
        evidence = hsm.attest("token-key", "fortanix", {"attest_time": ATTEST_TIME})
    finally:
        store.close()
    root = x509.load_pem_x509_certificate(evidence.files[ROOT_FILE])
    verdict = fortanix.verify(evidence, TrustAnchors({"root": (root,)}), at=AT, profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    csr = x509.load_pem_x509_csr(evidence.files["token-key.csr"])
    assert verdict.claims.spki_der == csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert csr.signature_hash_algorithm.name == hashes.SHA256.name


# -- the corpus: detection --------------------------------------------------------------------

def test_every_corpus_vector_is_detected_as_fortanix(tmp_path):
    """``hsmsim verify`` without --format: each vector's directory and response file, whatever the defect."""
    document = json.loads((ROOT / "vectors" / "fortanix_verify.json").read_text())
    for test in document["tests"]:
        directory = tmp_path / test["inputs"]["dir"]
        Evidence("fortanix", {f["path"]: base64.b64decode(f["base64"]) for f in test["inputs"]["files"]},
                 test["inputs"]["primary"]).write(directory)
        for path in (directory, directory / test["inputs"]["primary"]):
            assert detect(path).name == "fortanix", f"{test['id']}: {path.name}"


# -- the lenient certificate reader -------------------------------------------------------------

def test_non_der_is_read_only_inside_extension_values(bundles):
    doc = response(bundles["key-rsa-3072"])
    ber = base64.b64decode(doc["authority_chain"][0])
    read = read_certificate(ber, "authority")
    assert read.non_der == ("key_usage", "basic_constraints") and read.received.tbs_certificate_bytes in ber
    assert read.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ca = read_certificate(base64.b64decode(doc["authority_chain"][1]), "ca")
    assert ca.non_der == () and ca.cert is ca.received
    read.received.verify_directly_issued_by(ca.cert)  # the signature covers the bytes as received
    with pytest.raises(InvalidSignature):  # and not the DER re-encoding
        read.cert.verify_directly_issued_by(ca.cert)
    # a long-form length on the TBSCertificate itself: non-DER outside an extension value
    tbs_header = ber[4:8]
    assert tbs_header[:2] == b"\x30\x82"
    longer = ber[:4] + b"\x30\x83\x00" + tbs_header[2:] + ber[8:]
    longer = longer[:2] + (int.from_bytes(ber[2:4], "big") + 1).to_bytes(2, "big") + longer[4:]
    with pytest.raises(Rejected) as caught:
        read_certificate(longer, "authority")
    assert caught.value.reason is Reason.MALFORMED


def test_a_ber_authority_with_a_forged_signature_is_rejected(fortanix, bundles, trust):
    evidence = bundles["key-rsa-3072"]
    doc = response(evidence)
    der = bytearray(base64.b64decode(doc["authority_chain"][0]))
    der[-5] ^= 0x01  # inside the CA's signature over the authority
    doc["authority_chain"][0] = base64.b64encode(bytes(der)).decode()
    assert fortanix.verify(with_response(evidence, json.dumps(doc).encode()), trust, at=AT).reason is \
        Reason.CERT_SIGNATURE_INVALID


# -- interop: the real DSM response (../shared/interop/fortanix) -------------------------------

REAL_TIME = datetime(2023, 9, 15, 10, 0, tzinfo=UTC)
"""The vendor's verifier accepts the sample at this time (its tests run under faketime then)."""


def _real(shared_dir: Path) -> tuple[Path, TrustAnchors]:
    sample = shared_dir / "interop" / "fortanix"
    root = x509.load_pem_x509_certificate((sample / "fortanix_attestation_and_provisioning_root_ca.pem").read_bytes())
    return sample, TrustAnchors({"root": (root,)})


def test_real_certificates_use_the_whole_spki_ski_and_hsmsim_follows(shared_dir, bundles):
    sample, _trust = _real(shared_dir)
    doc = json.loads((sample / "key-attestation-response.json").read_text())
    ders = [base64.b64decode(c) for c in doc["authority_chain"]]
    authority, ca, root = (read_certificate(der, "real").cert for der in ders)
    for der, cert, issuer in ((ders[0], authority, ca), (ders[1], ca, root), (ders[2], root, root)):
        real_ski = extension_values(der)["2.5.29.14"][2:]  # OCTET STRING header, then the identifier
        assert real_ski == sha1_ski(cert) == ski(cert.public_key()).digest != method_1_ski(cert)
        if cert is not root:
            assert extension_values(der)["2.5.29.35"][4:] == sha1_ski(issuer)  # AKI keyIdentifier [0]
    statement = x509.load_der_x509_certificate(base64.b64decode(doc["attestation_statement"]["statement"]))
    assert statement.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == \
        sha1_ski(authority)
    _statement, chain = certs(bundles["key-rsa-3072"])  # hsmsim's goldens follow the same rule
    for cert, issuer in zip(chain, chain[1:] + chain[-1:], strict=True):
        assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == sha1_ski(cert)
        if cert is not chain[-1]:
            assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == \
                sha1_ski(issuer)


def test_real_response_is_accepted_with_its_root(shared_dir, fortanix):
    sample, trust = _real(shared_dir)
    response_path = sample / "key-attestation-response.json"
    assert detect(response_path).name == "fortanix" and detect(sample).name == "fortanix"
    evidence = fortanix.load(response_path)
    assert list(evidence.files) == ["key-attestation-response.json"]  # no CSR beside the published response
    doc = json.loads(evidence.files[evidence.primary])
    with pytest.raises(ValueError, match="EncodedDefault"):  # why a strict DER reader refuses it
        list(x509.load_der_x509_certificate(base64.b64decode(doc["authority_chain"][0])).extensions)
    verdict = fortanix.verify(evidence, trust, at=REAL_TIME)
    assert verdict.accepted, verdict.summary()
    assert "authority_chain[0] key_usage, basic_constraints" in verdict.detail and "no CSR" in verdict.detail
    assert "Fortanix FX2200" in verdict.detail
    claims = verdict.claims
    assert (claims.key_type, claims.key_size, claims.label) == ("RSA", 2048, "b2b87f84-80d2-4c4c-ba41-7fa12fb4eff5")
    assert claims.generated_on_device and claims.never_extractable and claims.fips_level is None
    assert fortanix.verify(evidence, trust, at=REAL_TIME, profile=Profile.STRICT).reason is Reason.MISSING_INPUT
    # the statement (2023-09-01 00:36) predates its authority (2023-09-01 14:28 to 2023-10-01 14:28)
    assert fortanix.verify(evidence, trust, at=datetime(2023, 9, 1, 10, tzinfo=UTC)).reason is \
        Reason.CERT_NOT_YET_VALID
    assert fortanix.verify(evidence, trust, at=datetime(2023, 10, 2, tzinfo=UTC)).reason is Reason.CERT_EXPIRED
    at_not_before = FortanixFormat(FortanixOptions(chain_time="statement"))
    assert at_not_before.verify(evidence, trust, at=REAL_TIME).reason is Reason.CERT_NOT_YET_VALID
    root_pem = sample / "fortanix_attestation_and_provisioning_root_ca.pem"
    cli = hsmsim("verify", str(response_path), "--root", str(root_pem), "--at", "2023-09-15T10:00:00Z")
    assert (cli.returncode, cli.stdout.strip()) == (0, "ACCEPT"), cli.stdout + cli.stderr


def test_real_response_is_rejected_under_an_emulated_root(shared_dir, fortanix, trust):
    sample, _real_trust = _real(shared_dir)
    evidence = fortanix.load(sample / "key-attestation-response.json")
    verdict = fortanix.verify(evidence, trust, at=REAL_TIME)
    assert verdict.reason is Reason.CHAIN_UNTRUSTED, verdict.summary()


def test_real_response_under_the_openssl_walk(shared_dir, openssl):
    sample, _trust = _real(shared_dir)
    root = sample / "fortanix_attestation_and_provisioning_root_ca.pem"
    lines = walk(sample / "key-attestation-response.json", Path("/dev/null"), root, REAL_TIME)
    assert "claims present" in lines and lines[-1] == "REJECT csr", lines  # all but the CSR it does not have
    assert walk(sample / "key-attestation-response.json", Path("/dev/null"), root,
                datetime(2023, 9, 1, 10, tzinfo=UTC))[-1] == "REJECT chain"  # before the authority's window


# -- corpus vectors: one defect each, the reason from its definition -----------------------------------------

@pytest.fixture(scope="module")
def cases(fortanix: FortanixFormat) -> dict[str, object]:
    return {case.id: case for case in fortanix.vector_cases(SEED)}


def _authority_tlvs(case) -> list[bytes]:
    der = base64.b64decode(response(case.evidence)["authority_chain"][0])
    return extension_tlvs(x509.load_der_x509_certificate(der).tbs_certificate_bytes)[1]


def test_authority_duplicate_extension_is_the_golden_authority_plus_one_extension(fortanix, cases):
    """The vector's authority is the golden's, as DSM encodes it (non-DER keyUsage and basicConstraints), with its
    first extension repeated; RFC 5280 4.2 forbids a repeated extension in a certificate, a structure defect:
    MALFORMED, as for every chain certificate in the corpus (primus's leaf-duplicate-extension)."""
    case = cases["fortanix::chain::authority-duplicate-extension"]
    golden = _authority_tlvs(cases[case.provenance.golden])
    assert _authority_tlvs(case) == [golden[0], *golden]
    assert case.expected == {Profile.STRUCTURAL: Reason.MALFORMED, Profile.STRICT: Reason.MALFORMED}
    for profile in Profile:
        verdict = fortanix.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time,
                                  profile=profile)
        assert verdict.reason is Reason.MALFORMED and "authority_chain[0]" in verdict.detail, verdict


def test_a_repeated_statement_claim_stays_an_attribute_conflict(fortanix, cases):
    """The statement's extensions are the key's claims: one twice is an attribute that appears more than once."""
    case = cases["fortanix::claims::generated-duplicate"]
    assert case.expected[Profile.STRUCTURAL] is Reason.ATTR_CONFLICT
    verdict = fortanix.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time)
    assert verdict.reason is Reason.ATTR_CONFLICT and "statement" in verdict.detail


def test_decrypt_only_key_files_are_named_for_its_key(cases):
    """The statement of another key comes in the file the DSM CLI names for that key's id, with that key's CSR."""
    case = cases["fortanix::variant::decrypt-only-key"]
    statement = x509.load_der_x509_certificate(base64.b64decode(
        response(case.evidence)["attestation_statement"]["statement"]))
    kid = statement.subject.get_attributes_for_oid(KEY_ID_OID)[0].value
    golden = cases[case.provenance.golden]
    assert case.evidence.primary == f"key_attestation_{kid}.json" != golden.evidence.primary
    (csr_name,) = [n for n in case.evidence.files if n.endswith(".csr")]
    csr = x509.load_pem_x509_csr(case.evidence.files[csr_name])
    assert csr.public_key() == statement.public_key() and csr_name not in golden.evidence.files
