"""The Primus format: exact bytes, signature, chain, determinism, and rejections with reasons."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import csr as asn1_csr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from hsmsim import mutate
from hsmsim.corpus.check import extract_vector
from hsmsim.errors import BundleError, ParameterError
from hsmsim.formats import detect
from hsmsim.formats.ietf.pki import tpm_identity
from hsmsim.formats.primus import PrimusOptions
from hsmsim.formats.primus.archive import build_zip, crc32_combine, deflated
from hsmsim.formats.primus.bundle import assemble, csr_for, sign_xml
from hsmsim.formats.primus.format import PrimusFormat
from hsmsim.formats.primus.layout import CHAIN_FILE, PRIMUS_POLICY_ROOT, PUBKEY_FILE, README_FILE
from hsmsim.formats.primus.pki import primus_pki
from hsmsim.formats.primus.xml import ATTRIBUTE_ORDER, render_xml
from hsmsim.harness.vectors import Corpus, Vector, load_corpus
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import Ext, key_usage, reissue
from hsmsim.verdict import Profile, Reason
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED, VALIDATION_TIME, make_hsm
from tests.repo_corpus import write_vector

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


@functools.cache
def _corpus() -> Corpus:
    return load_corpus(VECTORS)


def _vector(vector_id: str) -> Vector:
    return _corpus().get(vector_id)


def members(evidence: Evidence) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(evidence.files[evidence.primary])) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rebuilt(evidence: Evidence, changes: dict[str, bytes | None], *, resign=None,
            extra: dict[str, bytes | None] | None = None) -> Evidence:
    """Evidence with zip members replaced/removed; ``resign`` re-signs the XML with that key."""
    current = members(evidence)
    for name, data in changes.items():
        if data is None:
            current.pop(name, None)
        else:
            current[name] = data
    if resign is not None:
        xml_name = next(n for n in current if n.endswith(".xml"))
        current[xml_name[:-4] + ".sig"] = resign.sign(current[xml_name], padding.PKCS1v15(), hashes.SHA256())
    files = dict(evidence.files)
    files[evidence.primary] = build_zip(list(current.items()), ATTEST_TIME)
    for name, data in (extra or {}).items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    return Evidence(evidence.format, files, evidence.primary)


def xml_of(evidence: Evidence) -> tuple[str, bytes]:
    name = next(n for n in members(evidence) if n.endswith(".xml"))
    return name, members(evidence)[name]


@pytest.fixture(scope="module")
def attestation_key(hsm):
    return hsm.attestation_identity().key


# -- exact bytes ----------------------------------------------------------------------------

def test_xml_layout_is_byte_exact(primus_bundles):
    _, xml = xml_of(primus_bundles["rsa-3072"])
    text = xml.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<private_key creation="generated">\n')
    assert text.endswith("\t</attributes>\n</private_key>\n\n")
    assert "\r" not in text
    lines = text.split("\n")
    tags = [re.match(r"\t(?:\t)?<(\w+)>", line).group(1) for line in lines[2:-4] if line != "\t<attributes>"]
    assert tags[:7] == ["label", "create_time", "attest_time", "algorithm", "algorithm_oid", "key_size", "public_key"]
    assert tags[7:] == list(ATTRIBUTE_ORDER)
    assert "\t<create_time>2025-03-03T09:00:00Z</create_time>" in lines
    assert "\t<attest_time>2025-03-04T10:30:00Z</attest_time>" in lines
    assert len([line for line in lines if "public_key" in line]) == 1


def test_csr_false_gives_the_same_zip_and_root_without_the_csr(hsm, primus_bundles):
    label = next(key.label for key in hsm.keystore.all_keys() if key.spec.name == "ec-p256")
    with_csr = primus_bundles["ec-p256"]
    without = hsm.attest(label, "primus", {"attest_time": ATTEST_TIME, "csr": "false"})
    assert sorted(without.files) == sorted(name for name in with_csr.files if not name.endswith(".csr"))
    assert len(with_csr.files) == len(without.files) + 1
    assert all(without.files[name] == with_csr.files[name] for name in without.files)
    with pytest.raises(ParameterError, match="csr=false leaves the CSR out"):
        hsm.attest(label, "primus", {"attest_time": ATTEST_TIME, "csr": False, "csr_common_name": "signer"})


def test_public_key_is_the_csr_spki(primus_bundles):
    evidence = primus_bundles["ec-p256"]
    _, xml = xml_of(evidence)
    b64 = re.search(rb"<public_key>(.+)</public_key>", xml).group(1)
    csr = x509.load_pem_x509_csr(evidence.files["key-ec-p256.csr"])
    spki = csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64decode(b64) == spki
    assert csr.is_signature_valid


def test_labels_are_escaped_with_apos():
    store = SoftKeyStore(seed="escape")
    key = store.generate(KeySpec.parse("ec-p256"), "Bob's <key> & \"co\"", created=KEY_CREATED)
    xml = render_xml(key, ATTEST_TIME).decode()
    assert "\t<label>Bob&apos;s &lt;key&gt; &amp; &quot;co&quot;</label>\n" in xml


def test_key_type_specific_elements(primus_bundles):
    ec_xml = xml_of(primus_bundles["ec-p384"])[1].decode()
    assert "<algorithm>EC</algorithm>" in ec_xml and "<curve_oid>1.3.132.0.34</curve_oid>" in ec_xml
    assert "<key_size>" not in ec_xml
    ed_xml = xml_of(primus_bundles["ed25519"])[1].decode()
    assert "<algorithm>ED</algorithm>\n\t<algorithm_oid>1.3.101.112</algorithm_oid>\n\t<public_key>" in ed_xml
    aes = primus_bundles["aes-256"]
    aes_xml = xml_of(aes)[1].decode()
    assert aes_xml.splitlines()[1] == '<secret_key creation="generated">'
    assert "<key_size>256</key_size>" in aes_xml and "public_key" not in aes_xml
    assert not any(name.endswith(".csr") for name in aes.files)


def test_zip_members_and_chain(primus_bundles, hsm):
    evidence = primus_bundles["rsa-3072"]
    assert evidence.primary == "key-rsa-3072_attestation.zip"
    assert list(members(evidence)) == ["key-rsa-3072.sig", "key-rsa-3072.xml", "key-rsa-3072.pem", CHAIN_FILE,
                                       PUBKEY_FILE, README_FILE]
    zipped = members(evidence)
    assert len(zipped["key-rsa-3072.sig"]) == 384
    assert zipped["key-rsa-3072.pem"] == zipped[PUBKEY_FILE]
    chain = x509.load_pem_x509_certificates(zipped[CHAIN_FILE])
    assert [c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in chain] == [
        "attestation-key", f"PRIMUS HSM KEY (SN: {hsm.device.serial})", "PRIMUS_HSM_ROOTKEY_EMULATED"]
    assert zipped[CHAIN_FILE].count(b"-----END CERTIFICATE-----\n") == 3
    assert chain[2].public_bytes(serialization.Encoding.PEM) == evidence.files["hsm_rsa_root.crt"]
    leaf_pub = chain[0].public_key()
    leaf_pub.verify(zipped["key-rsa-3072.sig"], zipped["key-rsa-3072.xml"], padding.PKCS1v15(), hashes.SHA256())


def test_generation_is_byte_identical_across_processes(primus_bundles):
    code = (
        "import hashlib, sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from conftest import make_hsm, ATTEST_TIME\n"
        "ev = make_hsm().attest('key-rsa-2048', 'primus', {'attest_time': ATTEST_TIME})\n"
        "print(''.join(hashlib.sha256(ev.files[k]).hexdigest() for k in sorted(ev.files)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", **__import__("os").environ})
    import hashlib
    ours = primus_bundles["rsa-2048"]
    assert out.stdout.strip() == "".join(hashlib.sha256(ours.files[k]).hexdigest() for k in sorted(ours.files))
    again = make_hsm().attest("key-rsa-2048", "primus", {"attest_time": ATTEST_TIME})
    assert again.files == ours.files


# -- the reference verifier: accept --------------------------------------------------------

@pytest.mark.parametrize("spec", ["rsa-2048", "rsa-3072", "ec-p256", "ec-p384", "ed25519", "aes-256"])
def test_golden_bundles_verify(primus, primus_bundles, primus_trust, spec, hsm):
    verdict = primus.verify(primus_bundles[spec], primus_trust, at=VALIDATION_TIME)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims.generated_on_device and claims.extractable is False and claims.never_extractable
    assert claims.serial == hsm.device.serial and claims.vendor == "Securosys"


def test_the_attestation_certificate_is_signature_checked_once(primus, primus_bundles, primus_trust, issuer_checks):
    """The attestation key's certificate is the HSM's, in each of its bundles: once its path validated, a bundle of
    the same HSM checks its signature once more (both certificates remembered), then never again."""
    for spec in ("rsa-3072", "ec-p256", "ec-p384", "rsa-3072"):
        assert primus.verify(primus_bundles[spec], primus_trust, at=VALIDATION_TIME).accepted
    checked = [child.subject.rfc4514_string() for child in issuer_checks]
    assert checked.count("ST=ZH,O=Securosys,L=Zurich,C=CH,CN=attestation-key") == 2  # first look, then remembered


@pytest.mark.parametrize(("spec", "reason"), [
    ("rsa-2048", Reason.KEY_POLICY), ("ed25519", Reason.KEY_POLICY), ("aes-256", Reason.KEY_POLICY),
    ("rsa-3072", Reason.OK), ("ec-p256", Reason.OK), ("ec-p384", Reason.OK),
])
def test_strict_profile_applies_code_signing_key_rules(primus, primus_bundles, primus_trust, spec, reason):
    verdict = primus.verify(primus_bundles[spec], primus_trust, at=VALIDATION_TIME, profile=Profile.STRICT)
    assert verdict.reason is reason, verdict.summary()


# -- the reference verifier: reject with the right reason ------------------------------------

def test_tampered_xml_is_signature_invalid(primus, primus_bundles, primus_trust):
    name, xml = xml_of(primus_bundles["rsa-3072"])
    tampered = rebuilt(primus_bundles["rsa-3072"], {name: xml.replace(b"<label>key", b"<label>kez")})
    assert primus.verify(tampered, primus_trust, at=VALIDATION_TIME).reason is Reason.SIGNATURE_INVALID


@pytest.mark.parametrize(("old", "new", "reason"), [
    (b"<extractable>false", b"<extractable>true", Reason.ATTR_CONFLICT),
    (b"<never_extractable>true", b"<never_extractable>false", Reason.ATTR_NOT_NEVER_EXTRACTABLE),
    (b'creation="generated"', b'creation="imported"', Reason.ATTR_NOT_LOCAL),
    (b"\t\t<extractable>false</extractable>\n", b"", Reason.ATTR_MISSING),
])
def test_resigned_attribute_defects(primus, primus_bundles, primus_trust, attestation_key, old, new, reason):
    name, xml = xml_of(primus_bundles["rsa-3072"])
    assert old in xml
    changed = xml.replace(old, new)
    evidence = rebuilt(primus_bundles["rsa-3072"], {name: changed}, resign=attestation_key)
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME).reason is reason


def test_imported_and_extractable_keys_are_rejected(primus, primus_trust):
    hsm = make_hsm("other-keys")
    hsm.keystore.generate(KeySpec.parse("ec-p256"), "exportable", policy=KeyPolicy(extractable=True),
                          created=KEY_CREATED)
    hsm.keystore.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    root = hsm.attestation_identity().root
    trust = TrustAnchors({"root": (root,)})
    for label, reason in (("exportable", Reason.ATTR_EXTRACTABLE), ("imported", Reason.ATTR_NOT_LOCAL)):
        evidence = hsm.attest(label, "primus", {"attest_time": ATTEST_TIME})
        assert primus.verify(evidence, trust, at=VALIDATION_TIME).reason is reason
    assert primus.verify(hsm.attest("key-ec-p256"), primus_trust).reason is Reason.CHAIN_UNTRUSTED


def test_csr_binding(primus, primus_bundles, primus_trust):
    other_csr = primus_bundles["ec-p256"].files["key-ec-p256.csr"]
    evidence = rebuilt(primus_bundles["rsa-3072"], {}, extra={"key-rsa-3072.csr": other_csr})
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME).reason is Reason.KEY_MISMATCH
    missing = rebuilt(primus_bundles["rsa-3072"], {}, extra={"key-rsa-3072.csr": None})
    assert primus.verify(missing, primus_trust, at=VALIDATION_TIME).reason is Reason.MISSING_INPUT
    der = x509.load_pem_x509_csr(primus_bundles["rsa-3072"].files["key-rsa-3072.csr"]).public_bytes(
        serialization.Encoding.DER)
    broken = der[:-5] + bytes([der[-5] ^ 1]) + der[-4:]
    evidence = rebuilt(primus_bundles["rsa-3072"], {}, extra={"key-rsa-3072.csr": broken})
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME).reason is Reason.CSR_SIGNATURE_INVALID


def test_chain_and_time(primus, primus_bundles, primus_trust):
    evidence = primus_bundles["rsa-3072"]
    before = datetime(2024, 1, 1, tzinfo=UTC)
    assert primus.verify(evidence, primus_trust, at=before).reason is Reason.CERT_NOT_YET_VALID
    after = datetime(2060, 1, 1, tzinfo=UTC)
    assert primus.verify(evidence, primus_trust, at=after).reason is Reason.CERT_EXPIRED
    assert primus.verify(evidence, TrustAnchors({}), at=VALIDATION_TIME).reason is Reason.CHAIN_UNTRUSTED
    chain = x509.load_pem_x509_certificates(members(evidence)[CHAIN_FILE])
    leaf_only = chain[0].public_bytes(serialization.Encoding.PEM)
    no_device = rebuilt(evidence, {CHAIN_FILE: leaf_only})
    assert primus.verify(no_device, primus_trust, at=VALIDATION_TIME).reason is Reason.CHAIN_INCOMPLETE


def test_loose_public_key_must_match_leaf(primus, primus_bundles, primus_trust):
    other = members(primus_bundles["rsa-2048"])["key-rsa-2048.pem"]
    swapped = rebuilt(primus_bundles["rsa-3072"], {PUBKEY_FILE: other + b""})
    assert primus.verify(swapped, primus_trust, at=VALIDATION_TIME).reason is Reason.OK  # same attestation key
    csr_key = x509.load_pem_x509_csr(primus_bundles["rsa-3072"].files["key-rsa-3072.csr"]).public_key()
    foreign = csr_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    swapped = rebuilt(primus_bundles["rsa-3072"], {PUBKEY_FILE: foreign})
    assert primus.verify(swapped, primus_trust, at=VALIDATION_TIME).reason is Reason.ATTESTATION_KEY_MISMATCH


# -- the attestation certificate's issuer is a Securosys device certificate (primus.md 1.5) ------------

DEVICE_POLICY = "1.3.6.1.4.1.44668.4.1.3"


def _signed_by(evidence: Evidence, key, chain: list[x509.Certificate]) -> Evidence:
    """The bundle with its XML signed by ``key``, ``chain`` as the chain file and ``key``'s public half in both
    loose PEMs: what anyone holding a certified key can make of a genuine export."""
    name, xml = xml_of(evidence)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return rebuilt(evidence, {name[:-4] + ".sig": sign_xml(xml, key), name[:-4] + ".pem": pub, PUBKEY_FILE: pub,
                              CHAIN_FILE: b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)})


@pytest.mark.parametrize("profile", list(Profile))
def test_a_key_under_another_trusted_vendor_root_cannot_sign_primus_xml(primus, primus_bundles, primus_trust, hsm,
                                                                        profile):
    """A store holding another vendor's root beside the Primus root (``--root`` twice; csr-attestation's merged
    roots file): a TPM AK that root certifies signs the genuine XML. The path ends at a trusted anchor, but the
    AK's issuer is no Primus device certificate, so the chain is untrusted for Primus."""
    ak = tpm_identity(SEED, hsm.device.serial, created=hsm.device.attestation_created)
    both = TrustAnchors({"root": (*primus_trust.get(), ak.root)})
    genuine = primus_bundles["rsa-3072"]
    assert primus.verify(genuine, both, at=VALIDATION_TIME, profile=profile).accepted
    forged = _signed_by(genuine, ak.key, [ak.certificate])
    verdict = primus.verify(forged, both, at=VALIDATION_TIME, profile=profile)
    assert verdict.reason is Reason.CHAIN_UNTRUSTED, verdict.summary()
    assert ak.root.subject.rfc4514_string() in verdict.detail and DEVICE_POLICY in verdict.detail


def test_the_leaf_issuer_must_carry_the_device_policy(primus, primus_bundles, primus_trust, hsm):
    """The Primus root itself issuing the attestation certificate, and a device certificate re-issued by the root
    without the device policy or with the root's, are refused; a device certificate pinned as the anchor carries
    the policy and is accepted (the rule is about the leaf's issuer, whichever certificate that is)."""
    genuine = primus_bundles["rsa-3072"]
    leaf, device, root = x509.load_pem_x509_certificates(members(genuine)[CHAIN_FILE])
    pki = primus_pki(SEED, hsm.device.serial, initialised=hsm.device.initialised)
    under_root = _signed_by(genuine, hsm.attestation_identity().key,
                            [reissue(leaf, pki.root_key, issuer=root.subject), root])
    verdict = primus.verify(under_root, primus_trust, at=VALIDATION_TIME)
    assert verdict.reason is Reason.CHAIN_UNTRUSTED and "PRIMUS_HSM_ROOTKEY" in verdict.detail, verdict.summary()
    for policies in ((), (PRIMUS_POLICY_ROOT,)):
        extensions = tuple(Ext(e.value, e.critical) for e in device.extensions
                           if not isinstance(e.value, x509.CertificatePolicies))
        if policies:
            extensions += (Ext(x509.CertificatePolicies([x509.PolicyInformation(p, None) for p in policies])),)
        reissued = rebuilt(genuine, {CHAIN_FILE: b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (
            leaf, reissue(device, pki.root_key, extensions=extensions), root))})
        verdict = primus.verify(reissued, primus_trust, at=VALIDATION_TIME)
        assert verdict.reason is Reason.CHAIN_UNTRUSTED and DEVICE_POLICY in verdict.detail, verdict.summary()
    assert primus.verify(genuine, TrustAnchors({"root": (device,)}), at=VALIDATION_TIME).accepted
    verdict = primus.verify(genuine, TrustAnchors({"root": (leaf,)}), at=VALIDATION_TIME)  # no issuer on the path
    assert verdict.reason is Reason.CHAIN_UNTRUSTED and "itself a trust anchor" in verdict.detail, verdict.summary()


# -- the documented grep/sed step and the signed algorithm claims (primus.md 1.3) ------------

SKA_POLICY = (b'\t<policy>\n\t\t<key_status>\n\t\t\t<blocked>false</blocked>\n\t\t</key_status>\n\t\t<rule_use>\n'
              b'\t\t\t<token name="t">\n\t\t\t\t<timelock>0</timelock>\n\t\t\t\t<timeout>0</timeout>\n'
              b'\t\t\t\t<group name="g">\n\t\t\t\t\t<quorum>1</quorum>\n'
              b'\t\t\t\t\t<approval type="public_key" name="a">MFkwEwYHKoZIzj0CAQ==</approval>\n'
              b'\t\t\t\t</group>\n\t\t\t</token>\n\t\t</rule_use>\n\t</policy>\n')


def test_a_label_mentioning_public_key_is_genuine_output(primus, primus_trust):
    """A Primus accepts any label; ``my_public_key`` puts the substring on a second line, which breaks the
    vendor's ``grep public_key`` recipe but not the evidence."""
    hsm = make_hsm()
    hsm.keystore.generate(KeySpec.parse("rsa-3072"), "my_public_key", created=KEY_CREATED)
    evidence = hsm.attest("my_public_key", "primus", {"attest_time": ATTEST_TIME})
    xml = xml_of(evidence)[1]
    mentions = [line for line in xml.split(b"\n") if b"public_key" in line]
    assert mentions[0] == b"\t<label>my_public_key</label>" and len(mentions) == 2
    for profile in Profile:
        assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME, profile=profile).reason is Reason.OK


def test_an_ska_policy_key_is_accepted(primus, primus_bundles, primus_trust, attestation_key):
    """An SKA key's approvals are ``<approval type="public_key" name=...>``: documented layout, so both
    profiles accept it; an attribute the policy layout does not define is still unknown content."""
    name, xml = xml_of(primus_bundles["rsa-3072"])
    with_policy = xml.replace(b"\t</attributes>\n", b"\t</attributes>\n" + SKA_POLICY)
    evidence = rebuilt(primus_bundles["rsa-3072"], {name: with_policy}, resign=attestation_key)
    for profile in Profile:
        assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME, profile=profile).reason is Reason.OK
    odd = with_policy.replace(b'<quorum>', b'<quorum unit="x">')
    evidence = rebuilt(primus_bundles["rsa-3072"], {name: odd}, resign=attestation_key)
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME, profile=Profile.STRICT).reason \
        is Reason.UNEXPECTED_CONTENT


def test_a_second_public_key_tag_line_is_still_refused(primus, primus_bundles, primus_trust, attestation_key):
    """The binding guard stays: the key's tags on more than one line (here a wrapped value) is not one clean line."""
    name, xml = xml_of(primus_bundles["rsa-3072"])
    value = re.search(rb"<public_key>(.+)</public_key>", xml).group(1)
    split = xml.replace(value, value[:40] + b"\n" + value[40:])
    evidence = rebuilt(primus_bundles["rsa-3072"], {name: split}, resign=attestation_key)
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME).reason is Reason.MALFORMED


@pytest.mark.parametrize(("spec", "old", "new"), [
    ("rsa-3072", b"<algorithm_oid>1.2.840.113549.1.1.1<", b"<algorithm_oid>1.2.840.10045.2.1<"),
    ("ed25519", b"<algorithm_oid>1.3.101.112<", b"<algorithm_oid>1.3.101.113<"),
    ("ec-p256", b"<curve_oid>1.2.840.10045.3.1.7<", b"<curve_oid>1.3.132.0.34<"),
    ("ec-p384", b"<curve_oid>1.3.132.0.34<", b"<curve_oid>not-an-oid<"),
    ("ec-p256", b"<curve_oid>", b"<key_size>384</key_size>\n\t<curve_oid>"),
])
def test_signed_algorithm_claims_must_describe_the_key(primus, primus_bundles, primus_trust, attestation_key, spec,
                                                       old, new):
    name, xml = xml_of(primus_bundles[spec])
    assert old in xml
    evidence = rebuilt(primus_bundles[spec], {name: xml.replace(old, new)}, resign=attestation_key)
    for profile in Profile:
        assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME, profile=profile).reason is Reason.ATTR_CONFLICT


def test_an_ec_key_size_equal_to_the_curve_is_accepted(primus, primus_bundles, primus_trust, attestation_key):
    name, xml = xml_of(primus_bundles["ec-p384"])
    sized = xml.replace(b"\t<curve_oid>", b"\t<key_size>384</key_size>\n\t<curve_oid>")
    evidence = rebuilt(primus_bundles["ec-p384"], {name: sized}, resign=attestation_key)
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME, profile=Profile.STRICT).reason is Reason.OK


def test_spec_guesses_are_switches():
    """primus.md 1.3 marks the EC ``<curve_oid>``, the ``EC`` algorithm name and the AES OID as guesses."""
    store = SoftKeyStore(seed="guesses")
    ec_key = store.generate(KeySpec.parse("ec-p256"), "ec", created=KEY_CREATED)
    aes_key = store.generate(KeySpec.parse("aes-256"), "aes", created=KEY_CREATED)
    options = PrimusOptions(curve_oid=False, ec_algorithm_name="ECDSA", secret_algorithm_oid="2.16.840.1.101.3.4.1.42")
    ec_xml = render_xml(ec_key, ATTEST_TIME, options).decode()
    assert "<curve_oid>" not in ec_xml and "\t<algorithm>ECDSA</algorithm>\n" in ec_xml
    aes_xml = render_xml(aes_key, ATTEST_TIME, options).decode()
    assert "<algorithm_oid>2.16.840.1.101.3.4.1.42</algorithm_oid>" in aes_xml
    default = render_xml(ec_key, ATTEST_TIME).decode()
    assert "\t<algorithm>EC</algorithm>\n" in default and "<curve_oid>1.2.840.10045.3.1.7</curve_oid>" in default


def test_the_verifier_follows_the_ec_algorithm_name_switch(primus_trust):
    hsm = make_hsm()
    options = PrimusOptions(curve_oid=False, ec_algorithm_name="ECDSA")
    evidence = hsm.attest("key-ec-p256", "primus", {"attest_time": ATTEST_TIME, "options": options})
    assert PrimusFormat(options).verify(evidence, primus_trust, at=VALIDATION_TIME).reason is Reason.OK
    assert PrimusFormat().verify(evidence, primus_trust, at=VALIDATION_TIME).reason is Reason.ATTR_CONFLICT


# -- hostile input: a reason, never an exception ------------------------------------------

@pytest.mark.parametrize(("payload", "reason"), [
    (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<private_key>&e;</private_key>',
     Reason.MALFORMED),
    (b'<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     b"<private_key>&b;</private_key>",
     Reason.MALFORMED),
    (b"<private_key creation='generated'><label>" + b"A" * (2 * 1024 * 1024) + b"</label></private_key>",
     Reason.LIMIT_EXCEEDED),
    (b"\x00\xff garbage", Reason.MALFORMED),
])
def test_hostile_xml(primus, primus_bundles, primus_trust, attestation_key, payload, reason):
    name, _ = xml_of(primus_bundles["rsa-3072"])
    evidence = rebuilt(primus_bundles["rsa-3072"], {name: payload}, resign=attestation_key)
    assert primus.verify(evidence, primus_trust, at=VALIDATION_TIME).reason is reason


def test_hostile_zip(primus, primus_bundles, primus_trust):
    evidence = primus_bundles["rsa-3072"]
    slip = rebuilt(evidence, {"../evil.xml": b"x"})
    assert primus.verify(slip, primus_trust, at=VALIDATION_TIME).reason is Reason.MALFORMED
    bomb = rebuilt(evidence, {"bomb.bin": b"\x00" * (32 * 1024 * 1024)})
    assert primus.verify(bomb, primus_trust, at=VALIDATION_TIME).reason is Reason.LIMIT_EXCEEDED
    garbage = Evidence("primus", {evidence.primary: b"PK\x03\x04" + b"\x00" * 40}, evidence.primary)
    assert primus.verify(garbage, primus_trust, at=VALIDATION_TIME).reason is Reason.MALFORMED
    trailing = Evidence("primus", {**evidence.files, evidence.primary: evidence.files[evidence.primary] + b"junk"},
                        evidence.primary)
    assert primus.verify(trailing, primus_trust, at=VALIDATION_TIME).reason is Reason.MALFORMED


def test_two_different_files_of_one_name_are_malformed_and_an_identical_copy_is_not(primus, primus_bundles,
                                                                                     primus_trust):
    """Which of two files of one base name a verifier reads must not decide the verdict: a loose copy of a zip member
    (an export unzipped beside its zip) is the same file; a different one is refused, wherever it sits."""
    evidence = primus_bundles["rsa-3072"]
    inside = members(evidence)
    xml_name = next(name for name in inside if name.endswith(".xml"))
    same = Evidence("primus", {**evidence.files, f"loose/{xml_name}": inside[xml_name]}, evidence.primary)
    assert primus.verify(same, primus_trust, at=VALIDATION_TIME).accepted
    other = inside[xml_name].replace(b"<extractable>false</extractable>", b"<extractable>true</extractable>")
    assert other != inside[xml_name]
    for files in ({f"loose/{xml_name}": other, **evidence.files}, {**evidence.files, f"loose/{xml_name}": other}):
        verdict = primus.verify(Evidence("primus", files, evidence.primary), primus_trust, at=VALIDATION_TIME)
        assert verdict.reason is Reason.MALFORMED and xml_name in verdict.detail


# -- interop: the real published Securosys sample ------------------------------------------

def test_real_securosys_sample_is_accepted(primus, shared_dir):
    sample = shared_dir / "interop" / "securosys"
    trust = TrustAnchors.from_pem_files([sample / "securosys_primus_root.crt"])
    evidence = primus.load(sample)
    verdict = primus.verify(evidence, trust, profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims.serial == "18386101" and verdict.claims.key_size == 4096
    tampered = dict(evidence.files)
    tampered["rsa_4096_sign.xml"] = tampered["rsa_4096_sign.xml"].replace(b"\n\n", b"\n")
    assert primus.verify(Evidence("primus", tampered, "x"), trust).reason is Reason.SIGNATURE_INVALID


# -- the CSR: the real one's shape ------------------------------------------------------------

def _csr_fields(pem_bytes: bytes) -> dict[str, object]:
    """Every field of a PKCS#10 request but the key, the names' values and the signature value."""
    der = x509.load_pem_x509_csr(pem_bytes).public_bytes(serialization.Encoding.DER)
    request = asn1_csr.CertificationRequest.load(der)
    info = request["certification_request_info"]
    attributes = [(attr["type"].native, [[(ext["extn_id"].native, ext["critical"].native, ext["extn_value"].contents)
                                          for ext in value] for value in attr["values"]])
                  for attr in info["attributes"]]
    lines = pem_bytes.decode().splitlines()
    return {
        "version": info["version"].native,
        "cn_string_type": [type(rdn[0]["value"].chosen).__name__ for rdn in info["subject"].chosen
                           if rdn[0]["type"].native == "common_name"],
        "spki_algorithm": info["subject_pk_info"]["algorithm"].dump(),
        "attributes": attributes,
        "signature_algorithm": request["signature_algorithm"].dump(),
        "pem_frame": (lines[0], lines[-1], {len(line) for line in lines[1:-2]}, pem_bytes.endswith(b"-----\n")),
    }


def test_csr_matches_the_real_primus_csr_field_by_field(hsm, shared_dir):
    real = (shared_dir / "interop" / "securosys" / "csr.pem").read_bytes()
    store = SoftKeyStore(seed="csr-shape")
    key = store.generate(KeySpec.parse("rsa-4096"), "qes-4096", created=KEY_CREATED)
    ours = csr_for(key.label, store.signer(key))
    assert _csr_fields(ours) == _csr_fields(real)
    assert _csr_fields(real)["attributes"] == [("extension_request", [[("key_usage", False, b"\x03\x02\x07\x80")]])]
    assert x509.load_pem_x509_csr(ours).is_signature_valid
    # The subject is the requester's (the real one is C, O, CN for a QTSP customer); hsmsim writes CN=<label>.
    assert x509.load_pem_x509_csr(ours).subject.rfc4514_string() == "CN=qes-4096"


def test_csr_old_shape_is_an_option(primus_bundles):
    store = SoftKeyStore(seed="csr-shape")
    key = store.generate(KeySpec.parse("ec-p256"), "old-shape", created=KEY_CREATED)
    old = x509.load_pem_x509_csr(csr_for(key.label, store.signer(key), PrimusOptions(csr_key_usage=False)))
    assert list(old.attributes) == [] and len(old.extensions) == 0
    for spec, evidence in primus_bundles.items():
        csrs = [data for name, data in evidence.files.items() if name.endswith(".csr")]
        for csr in csrs:
            (usage,) = x509.load_pem_x509_csr(csr).extensions
            assert not usage.critical and usage.value == key_usage("digital_signature"), spec


# -- the zip: java.util.zip.ZipOutputStream's layout -------------------------------------------

def _dos(moment: datetime) -> tuple[int, int]:
    return (moment.hour << 11 | moment.minute << 5 | moment.second // 2,
            (moment.year - 1980) << 9 | moment.month << 5 | moment.day)


def test_zip_has_java_zipoutputstream_headers(primus_bundles):
    data = primus_bundles["rsa-3072"].files["key-rsa-3072_attestation.zip"]
    end = data.rindex(b"PK\x05\x06")
    assert end + 22 == len(data), "no archive comment"
    _, disk, cd_disk, count, total, cd_size, cd_offset, comment = struct.unpack_from("<IHHHHIIH", data, end)
    assert (disk, cd_disk, count, total, comment) == (0, 0, 6, 6, 0) and cd_offset + cd_size == end
    time, date = _dos(ATTEST_TIME)
    pos, local = cd_offset, 0
    for _ in range(count):
        (sig, made_by, needed, flags, method, m_time, m_date, crc, csize, size, name_len, extra_len, comment_len,
         disk_start, internal, external, offset) = struct.unpack_from("<IHHHHHHIIIHHHHHII", data, pos)
        name = data[pos + 46:pos + 46 + name_len]
        assert sig == 0x02014B50 and (made_by, needed) == (20, 20), "version made by 2.0 on MS-DOS (host 0)"
        assert (flags, method, m_time, m_date) == (0x0808, 8, time, date)
        assert (extra_len, comment_len, disk_start, internal, external) == (0, 0, 0, 0, 0)
        assert offset == local, "local records are contiguous, in central-directory order"
        header = struct.unpack_from("<IHHHHHIIIHH", data, offset)
        assert header == (0x04034B50, 20, 0x0808, 8, time, date, 0, 0, 0, name_len, 0), "sizes only after the data"
        assert data[offset + 30:offset + 30 + name_len] == name
        body = offset + 30 + name_len
        assert zlib.decompress(data[body:body + csize], -15).__len__() == size
        assert struct.unpack_from("<IIII", data, body + csize) == (0x08074B50, crc, csize, size)
        local = body + csize + 16
        pos += 46 + name_len
    assert local == cd_offset and pos == end


def test_zip_python_layout_is_an_option(hsm):
    key = hsm.keystore.get("key-rsa-3072")
    bundle = assemble(key, hsm.keystore.signer(key), hsm.attestation_identity(), ATTEST_TIME,
                      PrimusOptions(zip_layout="python"))
    evidence = bundle.evidence(ATTEST_TIME)
    with zipfile.ZipFile(io.BytesIO(evidence.files[evidence.primary])) as archive:
        infos = archive.infolist()
    assert {(i.create_system, i.flag_bits, i.external_attr) for i in infos} == {(3, 0, 0o100644 << 16)}
    assert members(evidence) == members(hsm.attest("key-rsa-3072", "primus", {"attest_time": ATTEST_TIME}))


def test_a_repeated_piece_deflates_as_the_whole_content():
    piece = b"A" * 4096
    whole = piece * 3  # small: as Java deflates it, with one compressor
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    entry = deflated("m", piece, repeat=3)
    assert (entry.crc, entry.size) == (zlib.crc32(whole), len(whole))
    assert entry.body == compressor.compress(whole) + compressor.flush()
    with pytest.raises(ValueError, match="at least 1"):
        deflated("m", piece, repeat=0)


@pytest.mark.parametrize(("content", "repeat"), [
    (b"A" * 4096, 300),  # one piece of less than 1 MiB, recurring
    (bytes(1 << 20), 5),  # exactly one piece, recurring
    (b"<head>" + b"A" * (3 << 20) + b"B" * 1000 + b"<tail>", 2),  # unequal pieces, a short last one
    (os.urandom(3 << 20), 1),  # incompressible
])
def test_a_large_member_inflates_to_its_content_with_its_checksum(content, repeat):
    whole = content * repeat
    entry = deflated("m", content, 9, repeat=repeat)
    assert (entry.crc, entry.size) == (zlib.crc32(whole), len(whole))
    assert zlib.decompress(entry.body, -zlib.MAX_WBITS) == whole
    if len(set(whole)) <= 4:  # runs of a few bytes: close to what one compressor gives
        one = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_RLE)
        assert len(entry.body) <= 1.05 * len(one.compress(whole) + one.flush()) + 64


def test_crc32_combine_is_zlibs():
    first, second = os.urandom(1000), os.urandom(77_777)
    for a, b in [(b"", b""), (b"abc", b""), (b"", b"xyz"), (first, second)]:
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_set_element_writes_a_value_repeated():
    xml = b"<a>\n  <label>x</label>\n</a>\n"
    assert mutate.set_element(xml, "label", b"ab", repeat=3) == mutate.set_element(xml, "label", b"ababab") \
        == b"<a>\n  <label>ababab</label>\n</a>\n"


def test_element_edits_find_only_lines_starting_with_the_named_start_tag():
    xml = (b"<a>\n\t<labels>s</labels>\n<label/>\n <x:label>x</x:label>\nq<label>q</label>\n"
           b"\t<label lang=\"en\">one</label>\n\t<label>two</label>\n</a>\n")
    assert mutate.set_element(xml, "label", b"1") == xml.replace(b'<label lang="en">one', b"<label>1")
    assert mutate.set_element(xml, "label", b"2", occurrence=1) == xml.replace(b"<label>two", b"<label>2")
    with pytest.raises(mutate.MutationError):
        mutate.set_element(xml, "label", b"3", occurrence=2)
    assert mutate.remove_element(xml, "labels") == xml.replace(b"\t<labels>s</labels>\n", b"")


def test_zip_is_byte_identical_to_javas(tmp_path):
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java here to write the reference zip")
    entries = [("key.sig", bytes(range(256)) * 3), ("key.xml", b"<private_key/>\n" * 40), ("empty.md", b"")]
    for name, data in entries:
        (tmp_path / name).write_bytes(data)
    when = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
    out = tmp_path / "java.zip"
    subprocess.run([java, "-Duser.timezone=UTC", str(Path(__file__).with_name("TsbZip.java")), str(out),
                    str(int(when.timestamp() * 1000)), *(str(tmp_path / n) for n, _ in entries)],
                   check=True, capture_output=True, timeout=120)
    assert build_zip(entries, when) == out.read_bytes()


# -- detection: every corpus vector is recognised as primus ----------------------------------

PRIMUS_VECTORS = [t["id"] for t in json.loads((VECTORS / "primus_verify.json").read_text())["tests"]]


@pytest.mark.parametrize("vector_id", PRIMUS_VECTORS)
def test_every_primus_vector_is_detected_as_primus(vector_id, tmp_path):
    write_vector(_vector(vector_id), tmp_path)
    primary = _vector(vector_id).inputs.primary
    assert detect(tmp_path / primary).name == "primus"
    assert detect(tmp_path).name == "primus"


def test_primus_claims_no_fips_level(primus, primus_bundles, primus_trust):
    verdict = primus.verify(primus_bundles["rsa-3072"], primus_trust, at=VALIDATION_TIME)
    assert verdict.accepted and verdict.claims.fips_level is None, "neither XML nor chain states a FIPS level"


def test_an_unzipped_bundle_is_verified_from_its_xml(primus, tmp_path):
    """The key description of an unzipped TSB export names its bundle: the .sig, chain, public keys and CSR beside it
    are read with it (they were ignored, and the verdict said the .sig was missing)."""
    vector = _vector("primus::golden::rsa-3072")
    write_vector(_vector("primus::golden::rsa-3072"), tmp_path)
    with zipfile.ZipFile(tmp_path / vector.inputs.primary) as archive:
        archive.extractall(tmp_path / "loose")
    (tmp_path / vector.inputs.primary).unlink()
    for csr in tmp_path.glob("*.csr"):
        csr.rename(tmp_path / "loose" / csr.name)
    xml = next((tmp_path / "loose").glob("*.xml"))
    assert detect(xml).name == "primus"
    trust = TrustAnchors.from_pem_files([tmp_path / "hsm_rsa_root.crt"])
    assert primus.verify(primus.load(xml), trust, at=VALIDATION_TIME, profile=Profile.STRICT).accepted
    xml.with_suffix(".sig").unlink()
    verdict = primus.verify(primus.load(xml), trust, at=VALIDATION_TIME)
    assert verdict.reason is Reason.MISSING_INPUT and ".sig" in verdict.detail


def test_the_real_export_is_verified_from_its_xml(primus, shared_dir):
    sample = shared_dir / "interop" / "securosys"
    evidence = primus.load(sample / "rsa_4096_sign.xml")  # the real export, its CSR saved as csr.pem
    assert sorted(evidence.files) == ["PrimusHSM_Attestation.crt", "csr.pem", "rsa_4096_sign.sig", "rsa_4096_sign.xml"]
    assert primus.verify(evidence, TrustAnchors.from_pem_files([sample / "securosys_primus_root.crt"]),
                         profile=Profile.STRICT).accepted


def test_a_directory_of_two_bundles_is_refused(primus, tmp_path):
    write_vector(_vector("primus::golden::rsa-3072"), tmp_path)
    zip_path = next(tmp_path.glob("*.zip"))
    shutil.copy(zip_path, tmp_path / "other_attestation.zip")
    with pytest.raises(BundleError, match=r"holds 2 evidence records .*; name the one to verify"):
        primus.load(tmp_path)
    assert primus.load(zip_path).primary == zip_path.name  # naming one still works


# -- corpus vectors differ from their golden by their named defect only ----------------------------------------

def _vector_chain(vector_id: str, dest: Path) -> list[x509.Certificate]:
    extract_vector(VECTORS, vector_id, dest, unzip=True)
    return x509.load_pem_x509_certificates((dest / CHAIN_FILE).read_bytes())


def _extensions(cert: x509.Certificate) -> list[tuple[str, bool, x509.ExtensionType]]:
    return [(e.oid.dotted_string, e.critical, e.value) for e in cert.extensions]


def test_device_not_ca_changes_basic_constraints_only(tmp_path):
    """CA:FALSE is the defect (CERT_NOT_CA); keyUsage and the device policy stay, so a policy check cannot
    reject the vector first."""
    golden = _vector_chain("primus::golden::rsa-3072", tmp_path / "golden")[1]
    device = _vector_chain("primus::chain::device-not-ca", tmp_path / "vector")[1]
    swapped = [(oid, critical, x509.BasicConstraints(ca=False, path_length=None)
                if isinstance(value, x509.BasicConstraints) else value)
               for oid, critical, value in _extensions(golden)]
    assert x509.CertificatePolicies.oid.dotted_string in [oid for oid, _c, _v in swapped]
    assert _extensions(device) == swapped
    assert (device.subject, device.issuer, device.not_valid_before_utc, device.not_valid_after_utc) == (
        golden.subject, golden.issuer, golden.not_valid_before_utc, golden.not_valid_after_utc)


@pytest.mark.parametrize(("vector_id", "position"), [("primus::chain::leaf-expired", 0),
                                                     ("primus::chain::device-expired", 1)])
def test_expired_vectors_move_not_after_only(vector_id, position, tmp_path):
    """Expiry (CERT_EXPIRED) is notAfter before the validation time: notBefore stays the golden's, so the
    validity stays inside the issuer's."""
    golden = _vector_chain("primus::golden::rsa-3072", tmp_path / "golden")
    chain = _vector_chain(vector_id, tmp_path / "vector")
    cert, issuer = chain[position], golden[position + 1]
    assert cert.not_valid_before_utc == golden[position].not_valid_before_utc
    assert cert.not_valid_before_utc < cert.not_valid_after_utc < _vector(vector_id).trust.validation_time
    assert issuer.not_valid_before_utc <= cert.not_valid_before_utc
    assert _extensions(cert) == _extensions(golden[position])


def test_processing_instruction_comment_names_its_bytes(tmp_path):
    vector_id = "primus::encoding::processing-instruction"
    extract_vector(VECTORS, vector_id, tmp_path, unzip=True)
    (xml,) = tmp_path.glob("*.xml")
    pi = '<?hsm extractable="false"?>'
    assert pi in _vector(vector_id).comment and f"\t{pi}\n".encode() in xml.read_bytes()
