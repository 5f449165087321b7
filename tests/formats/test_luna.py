"""The Luna PKC format: exact bytes, the real samples, the verifier's reasons, hostile DER, CLI and openssl walk."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from hsmsim.corpus.build import DEFAULT_SEED
from hsmsim.device import Device
from hsmsim.encoding import der_content, der_sequence, der_tlv, pem
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.luna.catalogue import vector_cases
from hsmsim.formats.luna.der_reader import (
    Cert,
    children,
    parse_certificate,
    parse_certs_only,
    parse_document,
    read_tlv,
    time_of,
)
from hsmsim.formats.luna.generate import certs_only_pkcs7
from hsmsim.formats.luna.options import LunaOptions
from hsmsim.formats.luna.pki import FAITHFUL, CertEncoding, LunaCertSpec, LunaExt, tbs_certificate
from hsmsim.formats.luna.trust_anchor import load_trust_anchor
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED, VALIDATION_TIME

ROOT = Path(__file__).resolve().parents[2]
WALK = ROOT / "scripts" / "verify_luna_openssl.sh"
SPECS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
_SIGNATURE_NAMES = {"1.2.840.113549.1.1.5": "sha1_rsa", "1.2.840.113549.1.1.12": "sha384_rsa",
                    "1.2.840.10045.4.3.3": "sha384_ecdsa"}


def make_luna_hsm(store=None) -> Hsm:
    store = store or SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("luna-pkc", SEED), store)
    for spec in SPECS:
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)
    return hsm


@pytest.fixture(scope="module")
def luna():
    return get_format("luna-pkc")


@pytest.fixture(scope="module")
def luna_hsm() -> Hsm:
    return make_luna_hsm()


@pytest.fixture(scope="module")
def pkcs(luna_hsm) -> dict[str, Evidence]:
    out = {spec: luna_hsm.attest(f"key-{spec}", "luna-pkc", {"attest_time": ATTEST_TIME}) for spec in SPECS}
    out["rsa-3072-type1"] = luna_hsm.attest("key-rsa-3072", "luna-pkc", {"attest_time": ATTEST_TIME, "pkc_type": 1})
    return out


def trust_of(evidence: Evidence) -> TrustAnchors:
    root = next(data for name, data in evidence.files.items() if name.endswith("root-certificate.pem"))
    return TrustAnchors({"root": (x509.load_pem_x509_certificate(root),)})


def bag_of(pkc: bytes) -> list[Cert]:
    return [parse_certificate(der, "c") for der in parse_certs_only(pkc).certificates]


def bag(evidence: Evidence) -> list[Cert]:
    return bag_of(evidence.files[evidence.primary])


def with_pkc(evidence: Evidence, pkc: bytes) -> Evidence:
    return Evidence(evidence.format, {**evidence.files, evidence.primary: pkc}, evidence.primary)


def spec_of(cert: Cert) -> tuple[LunaCertSpec, CertEncoding]:
    """The spec (and encoding) that reproduces a parsed certificate's TBSCertificate."""
    extensions = tuple(LunaExt(e.oid, e.value, e.critical, e.explicit_false) for e in cert.extensions)
    spec = LunaCertSpec(cert.serial, _SIGNATURE_NAMES[cert.algorithm.oid], cert.issuer, cert.subject,
                        cert.not_before, cert.not_after, cert.spki, extensions)
    return spec, replace(FAITHFUL, ecdsa_null_params=cert.algorithm.null_params)


def profile_of(cert: Cert) -> list[tuple[str, bool, bool]]:
    return [(e.oid, e.critical, e.explicit_false) for e in cert.extensions]


# -- exact bytes ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["rsa-3072", "ec-p256", "rsa-3072-type1"])
def test_pkc_is_what_openssl_crl2pkcs7_builds(pkcs, spec, tmp_path, openssl):
    evidence = pkcs[spec]
    certs = parse_certs_only(evidence.files[evidence.primary]).certificates
    pem_file = tmp_path / "certs.pem"
    pem_file.write_bytes(b"".join(pem(der) for der in certs))
    built = subprocess.run([openssl, "crl2pkcs7", "-nocrl", "-certfile", str(pem_file), "-outform", "DER"],
                           capture_output=True, check=True).stdout
    assert built == evidence.files[evidence.primary]


def test_container_writer_reproduces_the_real_files(shared_dir):
    for name in ("rsa-pkc.p7b", "ecc-pkc.p7b"):
        real = (shared_dir / "interop" / "luna" / name).read_bytes()
        assert certs_only_pkcs7(list(parse_certs_only(real).certificates)) == real


def test_builder_reproduces_every_real_tbs_certificate(shared_dir):
    for name in ("rsa-pkc.p7b", "ecc-pkc.p7b"):
        for der in parse_certs_only((shared_dir / "interop" / "luna" / name).read_bytes()).certificates:
            cert = parse_certificate(der, name)
            spec, encoding = spec_of(cert)
            assert tbs_certificate(spec, encoding) == cert.tbs


def test_emulated_chains_have_the_real_shape(pkcs, shared_dir):
    for spec, real_name in (("rsa-3072", "rsa-pkc.p7b"), ("ec-p256", "ecc-pkc.p7b")):
        ours = bag(pkcs[spec])
        real = [parse_certificate(d, "real") for d in
                parse_certs_only((shared_dir / "interop" / "luna" / real_name).read_bytes()).certificates]
        assert [profile_of(c) for c in ours] == [profile_of(c) for c in real]
        assert [(c.algorithm.oid, c.algorithm.null_params) for c in ours] == \
               [(c.algorithm.oid, c.algorithm.null_params) for c in real]
        assert [(c.not_before, c.not_after) for c in ours[:-1]] == [(c.not_before, c.not_after) for c in real[:-1]]
        assert ours[-1].name.split(", CN=")[0] == real[-1].name.split(", CN=")[0]
        assert ours[-1].common_name() == real[-1].common_name().rstrip() + " EMULATED" + (
            " " if real_name == "ecc-pkc.p7b" else "")
    rsa_real = [parse_certificate(d, "real") for d in
                parse_certs_only((shared_dir / "interop" / "luna" / "rsa-pkc.p7b").read_bytes()).certificates]
    assert [c.subject for c in bag(pkcs["rsa-3072"])[2:4]] == [c.subject for c in rsa_real[2:4]]


def _ski_method(der: bytes) -> str:
    """How a certificate's SKI was computed from its EC point: SHA-256 of the bare point or of the DER OCTET STRING
    holding it (PKCS#11 CKA_EC_POINT)."""
    cert = parse_certificate(der, "c")  # not cryptography: it refuses ecdsa-with-SHA384 with NULL parameters
    point = load_der_public_key(cert.spki).public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    extension = cert.extension("2.5.29.14")
    assert extension is not None
    ski = der_content(extension.value)
    methods = {"point": hashlib.sha256(point).digest(),
               "CKA_EC_POINT": hashlib.sha256(der_tlv(0x04, point)).digest()}
    return next(name for name, digest in methods.items() if digest == ski)


@pytest.mark.parametrize("spec", ["ec-p256", "ec-p384"])
def test_ecc_skis_are_computed_as_the_real_ones(pkcs, shared_dir, spec):
    """The real ECC PKC leaf's SKI is SHA-256 over CKA_EC_POINT (04 41 04||X||Y), its HOC's and root's over the bare
    point; the emulated chain's are computed the same way, certificate by certificate."""
    real = parse_certs_only((shared_dir / "interop" / "luna" / "ecc-pkc.p7b").read_bytes()).certificates
    ours = parse_certs_only(pkcs[spec].files[pkcs[spec].primary]).certificates
    assert [_ski_method(d) for d in real] == ["CKA_EC_POINT", "point", "point"]
    assert [_ski_method(d) for d in ours] == [_ski_method(d) for d in real]


def test_explicit_false_by_default_and_proper_der_with_strict_der(luna_hsm, pkcs):
    faithful = bag(pkcs["rsa-3072"])
    assert all(e.explicit_false for e in faithful[0].extensions if e.oid.startswith("1.3.6.1.4.1.12383.2."))
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(faithful[0].der)
    strict = luna_hsm.attest("key-rsa-3072", "luna-pkc", {"attest_time": ATTEST_TIME,
                                                           "options": LunaOptions(strict_der=True)})
    certs = bag(strict)
    assert not any(e.explicit_false for c in certs for e in c.extensions)
    for child, parent in itertools.pairwise(certs):
        x509.load_der_x509_certificate(child.der).verify_directly_issued_by(x509.load_der_x509_certificate(parent.der))
    assert [c.spki for c in certs] == [c.spki for c in faithful]


def test_unpadded_s_switch(luna, luna_hsm):
    evidence = luna_hsm.attest("key-ec-p256", "luna-pkc", {"attest_time": ATTEST_TIME,
                                                           "options": LunaOptions(unpadded_ecdsa_s=True)})
    r, s = children(parse_document(bag(evidence)[0].signature, "signature"), "signature")
    assert r.value[0] < 0x80 and s.length == 48 and s.value[0] & 0x80, "s: 48 raw bytes, top bit set, no 0x00 pad"
    verdict = luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME)
    assert verdict.accepted and "ecdsa-s-unpadded" in verdict.detail
    # The unpadded s is a negative INTEGER as DER reads it: the ECDSA-Sig-Value breaks its format.
    strict = luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME, profile=Profile.STRICT)
    assert strict.reason is Reason.MALFORMED and "ecdsa-s-unpadded" in strict.detail
    assert "ecdsa-s-unpadded" not in luna.verify(
        luna_hsm.attest("key-ec-p256", "luna-pkc", {"attest_time": ATTEST_TIME}), trust_of(evidence),
        at=VALIDATION_TIME).detail


def test_pkc_types_and_chains(pkcs):
    names = {spec: [c.common_name() for c in bag(pkcs[spec])] for spec in ("rsa-3072", "ec-p256", "rsa-3072-type1")}
    serial = names["rsa-3072"][1].split("-")[1]
    assert names["rsa-3072"][1:] == [f"Luna K7-{serial}", "Hardware Origin Certificate",
                                     "Thales Luna Mfg Integrity Certifcate x1", "Chrysalis-ITS Root EMULATED"]
    assert names["ec-p256"][1:] == [serial, "SafeNet ECC Manufacturer Integrity Module EMULATED "]
    assert names["rsa-3072-type1"][1:] == [f"Luna K7-{serial}", "TC TrustCenter Luna Root EMULATED"]
    leaf = names["rsa-3072"][0]
    assert len(leaf) == 24 and leaf.endswith(int(serial).to_bytes(4, "little").hex())
    assert sorted(pkcs["ec-p256"].files) == ["key-ec-p256-pkc.p7b", "key-ec-p256.csr", "luna-ecc-root-certificate.pem"]
    assert pkcs["rsa-3072"].files["key-rsa-3072.csr"].startswith(b"-----BEGIN NEW CERTIFICATE REQUEST-----\r\n")


def test_unsupported_keys_raise(luna_hsm):
    store = SoftKeyStore(seed="luna-unsupported")
    hsm = Hsm(Device.from_seed("luna-pkc", SEED), store)
    store.generate(KeySpec.parse("aes-256"), "secret")
    store.generate(KeySpec.parse("ed25519"), "edwards")
    store.generate(KeySpec.parse("ec-p256"), "exportable", policy=KeyPolicy(extractable=True))
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported")
    for label in ("secret", "edwards", "exportable", "imported"):
        with pytest.raises(UnsupportedKeyError):
            hsm.attest(label, "luna-pkc")
    with pytest.raises(UnsupportedKeyError):
        luna_hsm.attest("key-ec-p256", "luna-pkc", {"pkc_type": 1})


def test_generation_is_byte_identical_across_processes(pkcs):
    code = ("import hashlib, sys\nsys.path.insert(0, '.')\n"
            "from tests.formats.test_luna import make_luna_hsm\nfrom tests.conftest import ATTEST_TIME\n"
            "ev = make_luna_hsm().attest('key-rsa-2048', 'luna-pkc', {'attest_time': ATTEST_TIME})\n"
            "print(''.join(hashlib.sha256(ev.files[k]).hexdigest() for k in sorted(ev.files)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "321"})
    ours = pkcs["rsa-2048"]
    assert out.stdout.strip() == "".join(hashlib.sha256(ours.files[k]).hexdigest() for k in sorted(ours.files))
    assert make_luna_hsm().attest("key-ec-p384", "luna-pkc", {"attest_time": ATTEST_TIME}).files == \
        pkcs["ec-p384"].files


def test_provisioned_identity_is_the_dac_chain(luna_hsm):
    identity = luna_hsm.attestation_identity()
    dac, hoc, mic = identity.chain
    assert identity.certificate is dac and dac.subject.rfc4514_string().startswith("CN=Luna K7-")
    dac.verify_directly_issued_by(hoc)
    hoc.verify_directly_issued_by(mic)
    assert mic.issuer == identity.root.subject
    with pytest.raises(UnsupportedKeyError):
        get_format("luna-pkc").provision(luna_hsm.device, "default", attesting=("k", None, KEY_CREATED))


# -- the reference verifier -------------------------------------------------------------------

@pytest.mark.parametrize("spec", [*SPECS, "rsa-3072-type1"])
def test_goldens_verify(luna, pkcs, luna_hsm, spec):
    evidence = pkcs[spec]
    verdict = luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims.serial == luna_hsm.device.serial and claims.vendor == "Thales"
    assert claims.generated_on_device and claims.extractable is False and claims.never_extractable
    assert claims.spki_der == bag(evidence)[0].spki
    strict = luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME, profile=Profile.STRICT)
    expected = {"rsa-2048": Reason.KEY_POLICY, "rsa-3072-type1": Reason.UNSUPPORTED}.get(spec, Reason.OK)
    assert strict.reason is expected, strict.summary()
    if not spec.startswith("ec"):
        assert claims.model == "Luna K7" and claims.firmware == "7.8.4"


def test_catalogue_vectors_return_their_declared_reasons(luna):
    cases = vector_cases(DEFAULT_SEED)
    defects = {c.flags[0] for c in cases if c.result.value != "valid"} - {"Golden"}
    assert len(defects) >= 20 and len(cases) >= 45
    for case in cases:
        trust = TrustAnchors({"root": case.anchors})
        for profile, reason in case.expected.items():
            verdict = luna.verify(case.evidence, trust, at=case.validation_time, profile=profile)
            assert verdict.reason is reason, f"{case.id} {profile}: {verdict.summary()}"


def test_expectations_follow_the_reason_definitions(luna):
    """A PKC issued by the HOC: every named issuer is present and every link verifies (not CHAIN_INCOMPLETE); the
    certificate in the DAC's position carries an EKU reserved for another position (CERT_EKU). An unpadded ECDSA s
    is a negative INTEGER as DER reads it: strict says MALFORMED, structural reads it unsigned."""
    cases = {c.id: c for c in vector_cases(DEFAULT_SEED)}
    by_hoc = cases["luna-pkc::chain::leaf-issued-by-hoc"]
    certs = bag(by_hoc.evidence)
    assert [c.issuer for c in certs[:-1]] == [c.subject for c in certs[1:]]
    assert by_hoc.expected == {Profile.STRUCTURAL: Reason.CERT_EKU, Profile.STRICT: Reason.CERT_EKU}
    verdict = luna.verify(by_hoc.evidence, TrustAnchors({"root": by_hoc.anchors}), at=by_hoc.validation_time)
    assert verdict.reason is Reason.CERT_EKU and "DAC position" in verdict.detail, verdict.summary()
    unpadded = cases["luna-pkc::variant::ecc-unpadded-s"]
    _r, s = children(parse_document(bag(unpadded.evidence)[0].signature, "signature"), "signature")
    assert s.value[0] & 0x80, "the leaf's s is negative as DER reads it"
    assert unpadded.expected == {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.MALFORMED}


def test_time_and_trust(luna, pkcs):
    evidence = pkcs["rsa-3072"]
    assert luna.verify(evidence, trust_of(evidence), at=datetime(2019, 1, 1, tzinfo=UTC)).reason is \
        Reason.CERT_NOT_YET_VALID
    assert luna.verify(evidence, trust_of(evidence), at=datetime(2033, 1, 1, tzinfo=UTC)).reason is Reason.CERT_EXPIRED
    assert luna.verify(evidence, TrustAnchors({}), at=VALIDATION_TIME).reason is Reason.CHAIN_UNTRUSTED
    assert luna.verify(evidence, trust_of(pkcs["ec-p256"]), at=VALIDATION_TIME).reason is Reason.CHAIN_UNTRUSTED
    both = TrustAnchors({"root": (*trust_of(pkcs["ec-p256"]).all(), *trust_of(evidence).all())})
    assert luna.verify(evidence, both, at=VALIDATION_TIME).accepted


@pytest.mark.parametrize(("pkc", "reason"), [
    (b"", Reason.MALFORMED),
    (b"\x30", Reason.MALFORMED),
    (b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 16, Reason.MALFORMED),
    (b"\x30\x88" + b"\xff" * 8 + b"\x00" * 16, Reason.LIMIT_EXCEEDED),
    (b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\x00\x00", Reason.MALFORMED),
    (b"\x30\x81\x05\x02\x01\x01\x02\x00", Reason.MALFORMED),
    (b"\x1f\x81\x01\x00", Reason.MALFORMED),
    (b"-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n", Reason.MALFORMED),
    (b"\x00" * (2 * 1024 * 1024), Reason.LIMIT_EXCEEDED),
])
def test_hostile_der_gives_a_reason(luna, pkcs, pkc, reason):
    evidence = pkcs["rsa-3072"]
    assert luna.verify(with_pkc(evidence, pkc), trust_of(evidence), at=VALIDATION_TIME).reason is reason


def test_deep_nesting_is_bounded(luna, pkcs):
    evidence = pkcs["rsa-3072"]
    nested = b"\x05\x00"
    for _ in range(5000):
        nested = der_sequence(nested)
    verdict = luna.verify(with_pkc(evidence, nested), trust_of(evidence), at=VALIDATION_TIME)
    assert verdict.reason is Reason.LIMIT_EXCEEDED


def test_a_remembered_issuer_is_counted_as_when_it_is_read(luna, pkcs, monkeypatch):
    from hsmsim.formats.luna import der_reader

    evidence = pkcs["rsa-3072"]
    pkc = evidence.files[evidence.primary]
    assert luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME).accepted  # remembers its issuers
    assert {der[4:] for der in parse_certs_only(pkc).certificates[1:]} <= set(der_reader._walked_issuers)
    nodes, deepest = der_reader._walk(parse_document(pkc, "PKC"), "PKC")
    monkeypatch.setattr(der_reader, "_walked_issuers", {})
    assert der_reader._walk(parse_document(pkc, "PKC"), "PKC") == (nodes, deepest)
    monkeypatch.undo()
    for limits in ((nodes - 1, 24), (nodes - 40, 24), (20_000, deepest - 1)):  # a bound inside an issuer
        monkeypatch.setattr(der_reader, "MAX_NODES", limits[0])
        monkeypatch.setattr(der_reader, "MAX_DEPTH", limits[1])
        with pytest.raises(Rejected) as remembered:
            parse_document(pkc, "PKC")
        monkeypatch.setattr(der_reader, "_walked_issuers", {})
        with pytest.raises(Rejected) as read:
            parse_document(pkc, "PKC")
        assert (remembered.value.reason, remembered.value.detail) == (read.value.reason, read.value.detail)
        monkeypatch.undo()


def test_only_an_anchored_chain_has_its_issuers_remembered(luna, pkcs, monkeypatch):
    from hsmsim.formats.luna import der_reader

    evidence = pkcs["rsa-3072"]
    issuers = parse_certs_only(evidence.files[evidence.primary]).certificates[1:]
    monkeypatch.setattr(der_reader, "_walked_issuers", {})
    assert luna.verify(evidence, trust_of(pkcs["ec-p256"]), at=VALIDATION_TIME).reason is Reason.CHAIN_UNTRUSTED
    assert issuers and not any(der_reader.is_remembered_issuer(der) for der in issuers)
    assert luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME).accepted
    assert all(der_reader.is_remembered_issuer(der) for der in issuers)


def test_random_corruption_never_raises(luna, pkcs):
    rng = random.Random(8)
    for spec in ("rsa-3072", "ec-p256"):
        evidence = pkcs[spec]
        trust = trust_of(evidence)
        pkc = evidence.files[evidence.primary]
        for _ in range(150):
            data = bytearray(pkc)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            cut = rng.choice([len(data), rng.randrange(len(data))])
            verdict = luna.verify(with_pkc(evidence, bytes(data[:cut])), trust, at=VALIDATION_TIME,
                                  profile=rng.choice(list(Profile)))
            assert isinstance(verdict.reason, Reason)
        csr = evidence.files[f"key-{spec}.csr"]
        for index in range(0, len(csr), 7):
            files = {**evidence.files, f"key-{spec}.csr": csr[:index]}
            assert isinstance(luna.verify(Evidence("luna-pkc", files, evidence.primary), trust,
                                          at=VALIDATION_TIME).reason, Reason)


# -- interop: the real published Luna samples -------------------------------------------------

def test_real_samples_are_accepted(luna, shared_dir):
    sample = shared_dir / "interop" / "luna"
    rsa = luna.load(sample / "rsa-pkc.p7b")
    assert sorted(rsa.files) == ["rsa-pkc.p7b", "rsa-test.csr"]
    rsa_trust = TrustAnchors({"root": (load_trust_anchor((sample / "luna-rsa-root-certificate.pem").read_bytes()),)})
    verdict = luna.verify(rsa, rsa_trust)
    assert verdict.accepted, verdict.summary()
    assert "explicit-critical-false" in verdict.detail
    assert (verdict.claims.serial, verdict.claims.model, verdict.claims.firmware, verdict.claims.key_size) == \
        ("521174", "Luna K7", "7.8.4", 2048)
    assert luna.verify(rsa, rsa_trust, profile=Profile.STRICT).reason is Reason.KEY_POLICY

    ecc = luna.load(sample / "ecc-pkc.p7b")
    ecc_root = (sample / "luna-ecc-root-certificate.pem").read_bytes()
    with pytest.raises(ValueError):
        x509.load_pem_x509_certificate(ecc_root)  # cryptography refuses the NULL ECDSA parameters
    ecc_trust = TrustAnchors({"root": (load_trust_anchor(ecc_root),)})
    verdict = luna.verify(ecc, ecc_trust)
    assert verdict.accepted, verdict.summary()
    assert {"ecdsa-s-unpadded", "ecdsa-null-params", "explicit-critical-false"} <= set(
        verdict.detail.split("flags: ")[1].split(", "))
    # The real leaf's s is not DER (negative as DER reads it; openssl error 7): strict refuses it.
    assert luna.verify(ecc, ecc_trust, profile=Profile.STRICT).reason is Reason.MALFORMED
    assert verdict.claims.key_type == "EC-secp256r1" and verdict.claims.serial == "521174"
    assert luna.verify(ecc, rsa_trust).reason is Reason.CHAIN_UNTRUSTED
    assert verdict.claims.fips_level is None  # no Luna certificate states a FIPS mode or level
    swapped = Evidence("luna-pkc", {"ecc-pkc.p7b": ecc.files["ecc-pkc.p7b"], "x.csr": rsa.files["rsa-test.csr"]},
                       "ecc-pkc.p7b")
    assert luna.verify(swapped, ecc_trust).reason is Reason.KEY_MISMATCH


def test_a_bag_without_its_root(luna, shared_dir):
    """Root omitted: structural completes the chain from the anchor, strict does not (no real Luna writes
    such a bag; Thales's validator needs a self-signed last certificate); a wrong anchor is CHAIN_UNTRUSTED,
    as for a bag that carries its root."""
    sample = shared_dir / "interop" / "luna"
    rsa = luna.load(sample / "rsa-pkc.p7b")
    pkc = rsa.files["rsa-pkc.p7b"]
    stripped = with_pkc(rsa, certs_only_pkcs7(list(parse_certs_only(pkc).certificates[:-1])))
    rsa_trust = TrustAnchors({"root": (load_trust_anchor((sample / "luna-rsa-root-certificate.pem").read_bytes()),)})
    ecc_trust = TrustAnchors({"root": (load_trust_anchor((sample / "luna-ecc-root-certificate.pem").read_bytes()),)})
    verdict = luna.verify(stripped, rsa_trust)
    assert verdict.accepted and "root-from-trust-anchor" in verdict.detail, verdict.summary()
    assert luna.verify(stripped, rsa_trust, profile=Profile.STRICT).reason is Reason.CHAIN_UNTRUSTED
    assert luna.verify(stripped, ecc_trust).reason is Reason.CHAIN_UNTRUSTED
    assert luna.verify(rsa, ecc_trust).reason is Reason.CHAIN_UNTRUSTED
    leaf_only = with_pkc(rsa, certs_only_pkcs7(list(parse_certs_only(pkc).certificates[:1])))
    assert luna.verify(leaf_only, rsa_trust).reason is Reason.CHAIN_INCOMPLETE


def test_ouid_has_the_real_shape(shared_dir, pkcs):
    """Object handle, partition word 0x020000xx, HSM serial, all little-endian, as in both real PKCs."""
    real = [bag_of((shared_dir / "interop" / "luna" / n).read_bytes())[0].common_name()
            for n in ("rsa-pkc.p7b", "ecc-pkc.p7b")]
    ours = [bag(pkcs[spec])[0].common_name() for spec in ("rsa-3072", "ec-p256", "rsa-3072-type1")]
    for object_id in real + ours:
        word = bytes.fromhex(object_id)[4:8]
        assert word[1:] == b"\x00\x00\x02" and word[0] != 0, object_id
    assert len({bytes.fromhex(o)[4:8] for o in ours}) == 1  # one partition


def test_real_samples_under_the_openssl_walk(shared_dir, openssl):
    sample = shared_dir / "interop" / "luna"
    rsa = walk(sample / "rsa-pkc.p7b", sample / "rsa-test.csr", sample / "luna-rsa-root-certificate.pem")
    assert "error 79" in rsa.stdout + rsa.stderr and rsa.stdout.splitlines()[-1] == "ACCEPT", rsa.stdout
    ecc = walk(sample / "ecc-pkc.p7b", sample / "ecc-test.csr", sample / "luna-ecc-root-certificate.pem")
    assert ecc.stdout.splitlines()[-1] == "REJECT chain" and "error 7 at 0" in ecc.stdout + ecc.stderr


# -- end to end: CLI, openssl walk, PKCS#11 ----------------------------------------------------

def walk(pkc: Path, csr: Path, root: Path, at: datetime | None = None) -> subprocess.CompletedProcess[str]:
    extra = [str(int(at.timestamp()))] if at else []
    return subprocess.run(["bash", str(WALK), str(pkc), str(csr), str(root), *extra], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("spec", "options", "plain"), [
    ("rsa-3072", LunaOptions(), False), ("ec-p384", LunaOptions(), True),
    ("rsa-4096", LunaOptions(pkc_type=1), True), ("rsa-2048", LunaOptions(ca_extensions=True), True),
])
def test_openssl_walk_accepts_goldens(luna_hsm, tmp_path, openssl, spec, options, plain):
    evidence = luna_hsm.attest(f"key-{spec}", "luna-pkc", {"attest_time": ATTEST_TIME, "options": options})
    paths = {p.name: p for p in evidence.write(tmp_path)}
    root = next(p for name, p in paths.items() if name.endswith("root-certificate.pem"))
    result = walk(paths[evidence.primary], paths[f"key-{spec}.csr"], root, VALIDATION_TIME)
    assert result.stdout.splitlines()[-1] == "ACCEPT", result.stdout + result.stderr
    assert ("plain verify OK" in result.stdout) is plain
    broken = tmp_path / "other.csr"
    other = "ec-p256" if spec.startswith("rsa") else "rsa-3072"
    broken.write_bytes(luna_hsm.attest(f"key-{other}", "luna-pkc").files[f"key-{other}.csr"])
    assert walk(paths[evidence.primary], broken, root, VALIDATION_TIME).stdout.splitlines()[-1] == "REJECT binding"


def corpus_goldens(format_name: str) -> list[dict]:
    """The committed corpus's valid goldens of ``format_name``."""
    tests = json.loads((ROOT / "vectors" / f"{format_name}_verify.json").read_text())["tests"]
    return [t for t in tests if t["result"] == "valid" and "Golden" in t["flags"]]


def test_openssl_walk_accepts_every_valid_corpus_golden(tmp_path, openssl):
    goldens = corpus_goldens("luna-pkc")
    assert {t["id"].rsplit("::", 1)[1] for t in goldens} == {"rsa-3072", "rsa-4096", "ec-p256", "ec-p384"}
    for test in goldens:
        directory = ROOT / "vectors" / test["inputs"]["dir"]
        csr = next(directory / f["path"] for f in test["inputs"]["files"] if f["path"].endswith(".csr"))
        anchor = tmp_path / f"{test['tcId']}.pem"
        anchor.write_text(test["trust"]["anchors"][0])
        at = datetime.fromisoformat(test["trust"]["validationTime"].replace("Z", "+00:00"))
        result = walk(directory / test["inputs"]["primary"], csr, anchor, at)
        assert result.stdout.splitlines()[-1] == "ACCEPT", test["id"] + result.stdout + result.stderr


def hsmsim(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--state", str(state)] if state is not None else []
    return run_hsmsim([*args, *extra], timeout=120, cwd=ROOT)


def test_cli_attest_and_verify_with_detection(tmp_path):
    state = tmp_path / "hsm"
    for label, spec in (("codesign", "rsa-3072"), ("tls", "ec-p256")):
        created = hsmsim("key", "create", "--vendor", "luna-pkc", "--seed", SEED, "--label", label, "--spec", spec,
                         state=state)
        assert created.returncode == 0, created.stderr
        out = tmp_path / "out" / label / f"{label}-pkc.p7b"
        attested = hsmsim("attest", "--format", "luna-pkc", "--key", label, "--out", str(out), state=state)
        assert attested.returncode == 0, attested.stderr
        root = next(out.parent.glob("luna-*-root-certificate.pem"))
        assert detect(out).name == "luna-pkc" and detect(out.parent).name == "luna-pkc"
        verified = hsmsim("verify", str(out), "--root", str(root), "--profile", "strict", "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        claims = json.loads(verified.stdout)["claims"]
        assert claims["vendor"] == "Thales" and claims["never_extractable"] is True
    other_root = next((tmp_path / "out" / "tls").glob("*.pem"))
    rejected = hsmsim("verify", str(tmp_path / "out" / "codesign" / "codesign-pkc.p7b"), "--root", str(other_root))
    assert rejected.returncode == 1 and rejected.stdout.startswith("REJECT CHAIN_UNTRUSTED")


def test_cli_verifies_the_real_samples_with_their_real_roots(shared_dir):
    """The real ECC root (NULL ECDSA parameters, which cryptography refuses) loads through --root."""
    sample = shared_dir / "interop" / "luna"
    for kind in ("rsa", "ecc"):
        result = hsmsim("verify", str(sample / f"{kind}-pkc.p7b"), "--root",
                        str(sample / f"luna-{kind}-root-certificate.pem"), "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["claims"]["serial"] == "521174"
    swapped = hsmsim("verify", str(sample / "ecc-pkc.p7b"), "--root", str(sample / "luna-rsa-root-certificate.pem"))
    assert swapped.returncode == 1 and swapped.stdout.startswith("REJECT CHAIN_UNTRUSTED")


def test_detect_claims_only_pkcs7(tmp_path, pkcs):
    luna = get_format("luna-pkc")
    paths = {p.name: p for p in pkcs["rsa-3072"].write(tmp_path)}
    assert luna.detect(paths["key-rsa-3072-pkc.p7b"]) and luna.detect(tmp_path)
    fake = tmp_path / "fake.p7b"
    fake.write_bytes(b"not a pkcs7")
    assert not luna.detect(fake) and not luna.detect(paths["key-rsa-3072.csr"])
    assert not luna.detect(tmp_path / "absent.p7b")


def _softhsm_available() -> bool:
    if shutil.which("softhsm2-util") is None:
        return False
    try:
        from hsmsim.keystore.pkcs11 import Pkcs11KeyStore

        Pkcs11KeyStore().close()
    except Exception:  # noqa: BLE001 - any failure means the backend cannot run here
        return False
    return True


@pytest.mark.softhsm
@pytest.mark.skipif(not _softhsm_available(), reason="SoftHSM2 is not installed (make setup installs it)")
def test_pkcs11_key_attests_and_verifies(tmp_path, luna):
    from hsmsim.keystore.pkcs11 import Pkcs11KeyStore

    store = Pkcs11KeyStore(token_dir=tmp_path / "token")
    try:
        hsm = Hsm(Device.from_seed("luna-pkc", SEED), store)
        for spec in ("rsa-3072", "ec-p256"):
            stored = store.generate(KeySpec.parse(spec), f"token-{spec}", created=KEY_CREATED)
            assert stored.attributes.local and stored.attributes.never_extractable
            evidence = hsm.attest(f"token-{spec}", "luna-pkc", {"attest_time": ATTEST_TIME})
            verdict = luna.verify(evidence, trust_of(evidence), at=VALIDATION_TIME, profile=Profile.STRICT)
            assert verdict.accepted, verdict.summary()
            assert verdict.claims.spki_der == stored.public_key.public_bytes(Encoding.DER,
                                                                             PublicFormat.SubjectPublicKeyInfo)
    finally:
        store.close()


def _time_node(tag: int, text: str):
    raw = der_tlv(tag, text.encode())
    return read_tlv(raw, 0, len(raw), "time"), raw


def test_times_read_as_asn1crypto_reads_them():
    """The reader's own path for plain times (``YYMMDDHHMMSSZ``, ``YYYYMMDDHHMMSSZ``) gives asn1crypto's datetime, and
    every other time (a zone offset, no seconds, year 0, an invalid date) is asn1crypto's to read or refuse."""
    rng = random.Random(19)
    texts = [(0x17, (datetime(1950, 1, 1) + timedelta(seconds=rng.randrange(100 * 365 * 86400))).strftime(
        "%y%m%d%H%M%SZ")) for _ in range(300)]
    texts += [(0x18, f"{moment.year:04d}{moment:%m%d%H%M%S}Z") for moment in (
        datetime(1, 1, 1) + timedelta(seconds=rng.randrange(9998 * 365 * 86400)) for _ in range(300))]
    texts += [(0x17, text) for text in ("491231235959Z", "500101000000Z", "000229000000Z", "010229000000Z",
                                        "991301000000Z", "991231240000Z", "991231235960Z", "9912312359Z",
                                        "991231235959+0100", "991231235959z")]
    texts += [(0x18, text) for text in ("00001231235959Z", "20491231235959Z", "21000229000000Z", "2049123123Z",
                                        "20491231235959.5Z", "20491231235959")]
    for tag, text in texts:
        node, raw = _time_node(tag, text)
        try:
            expected = (core.UTCTime if tag == 0x17 else core.GeneralizedTime).load(raw, strict=True).native
        except ValueError:
            expected = None
        try:
            moment = time_of(node, "time")
        except Rejected as rejection:
            assert not isinstance(expected, datetime) or expected.tzinfo is None, (text, rejection)
            continue
        assert moment == expected and type(moment) is type(expected) and moment.tzinfo is expected.tzinfo, text
