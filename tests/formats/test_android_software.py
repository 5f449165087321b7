"""Android software attestation: AOSP's software Keymaster attests an RSA key under its RSA chain and an EC key
under its EC P-256 chain. The emulated chains copy the real ones' shapes, and the verifier recognises both real
roots and both emulated ones by their keys.

The real EC chain is ``kEcAttestCert`` and ``kEcAttestRootCert`` of AOSP
``system/keymaster/contexts/soft_attestation_cert.cpp`` (Apache-2.0), embedded below as base64 DER, with the
private scalar of its attestation key ``kEcAttestKey``: AOSP publishes it, which is why a software attestation is
only the OS's word.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs7
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from hsmsim.formats.android import verify as android_verify
from hsmsim.formats.android.catalogue import (
    ATTEST_TIME,
    GOLDEN_BY_NAME,
    VALIDATION_TIME,
    AndroidKit,
    Workbench,
    golden_expected,
)
from hsmsim.formats.android.generate import chain_pem, evidence_files
from hsmsim.formats.android.keydescription import (
    Algorithm,
    KeyDescription,
    SecurityLevel,
    encode_key_description,
    parse_key_description,
)
from hsmsim.formats.android.layout import OID_KEY_DESCRIPTION, key_description_der
from hsmsim.formats.android.pki import (
    SOFTWARE_LEAF_NOT_AFTER,
    attestation_leaf,
    software_identity,
    software_root,
)
from hsmsim.formats.android.verify import verify_evidence
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import UTF8
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.verdict import Profile, Reason
from tests.conftest import SEED

AOSP_EC_ROOT = x509.load_der_x509_certificate(base64.b64decode(
    "MIICizCCAjKgAwIBAgIJAKIFntEOQ1tXMAoGCCqGSM49BAMCMIGYMQswCQYDVQQGEwJVUzETMBEGA1UECAwKQ2FsaWZvcm5pYTEW"
    "MBQGA1UEBwwNTW91bnRhaW4gVmlldzEVMBMGA1UECgwMR29vZ2xlLCBJbmMuMRAwDgYDVQQLDAdBbmRyb2lkMTMwMQYDVQQDDCpB"
    "bmRyb2lkIEtleXN0b3JlIFNvZnR3YXJlIEF0dGVzdGF0aW9uIFJvb3QwHhcNMTYwMTExMDA0MzUwWhcNMzYwMTA2MDA0MzUwWjCB"
    "mDELMAkGA1UEBhMCVVMxEzARBgNVBAgMCkNhbGlmb3JuaWExFjAUBgNVBAcMDU1vdW50YWluIFZpZXcxFTATBgNVBAoMDEdvb2ds"
    "ZSwgSW5jLjEQMA4GA1UECwwHQW5kcm9pZDEzMDEGA1UEAwwqQW5kcm9pZCBLZXlzdG9yZSBTb2Z0d2FyZSBBdHRlc3RhdGlvbiBS"
    "b290MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7l1ex+HA220Dpn7mthvsTWpdamguD/9/SQ59dx9EIm29sa/6FsvHrcV30lac"
    "qrewLVQBXT5DKyqO107sSHVBpKNjMGEwHQYDVR0OBBYEFMit6XdMRcOjzw0WEOR5QzohWjDPMB8GA1UdIwQYMBaAFMit6XdMRcOj"
    "zw0WEOR5QzohWjDPMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgKEMAoGCCqGSM49BAMCA0cAMEQCIDUho++LNEYenNVg"
    "8x1YiSBq3KNlQfYNns6KGYxmSGB7AiBNC/NR2TB8fVvaNTQdqEcbY6WFZTytTySn502vQX3xvw=="))
AOSP_EC_INTERMEDIATE = x509.load_der_x509_certificate(base64.b64decode(
    "MIICeDCCAh6gAwIBAgICEAEwCgYIKoZIzj0EAwIwgZgxCzAJBgNVBAYTAlVTMRMwEQYDVQQIDApDYWxpZm9ybmlhMRYwFAYDVQQH"
    "DA1Nb3VudGFpbiBWaWV3MRUwEwYDVQQKDAxHb29nbGUsIEluYy4xEDAOBgNVBAsMB0FuZHJvaWQxMzAxBgNVBAMMKkFuZHJvaWQg"
    "S2V5c3RvcmUgU29mdHdhcmUgQXR0ZXN0YXRpb24gUm9vdDAeFw0xNjAxMTEwMDQ2MDlaFw0yNjAxMDgwMDQ2MDlaMIGIMQswCQYD"
    "VQQGEwJVUzETMBEGA1UECAwKQ2FsaWZvcm5pYTEVMBMGA1UECgwMR29vZ2xlLCBJbmMuMRAwDgYDVQQLDAdBbmRyb2lkMTswOQYD"
    "VQQDDDJBbmRyb2lkIEtleXN0b3JlIFNvZnR3YXJlIEF0dGVzdGF0aW9uIEludGVybWVkaWF0ZTBZMBMGByqGSM49AgEGCCqGSM49"
    "AwEHA0IABOueefhCY1msyyqRTImGzHCtkGaTgqlzJhP+rMv4ISdMIXSXSir+pblNf2bU4GUQZjW8U7ego6ZxWD7bPhGuEBSjZjBk"
    "MB0GA1UdDgQWBBQ//KzWGrE6noEguNUlHMVlux6RqTAfBgNVHSMEGDAWgBTIrel3TEXDo88NFhDkeUM6IVowzzASBgNVHRMBAf8E"
    "CDAGAQH/AgEAMA4GA1UdDwEB/wQEAwIChDAKBggqhkjOPQQDAgNIADBFAiBLipt77oK8wDOHri/AiZi03cONqycqRZ9pDMfDktQP"
    "jgIhAO7aAV229DLp1IQ7YkyUBO86fMy9Xvsiu+f+uXc/WT/7"))
AOSP_EC_ATTESTATION_KEY = ec.derive_private_key(
    0x21E086432A15198459CF363A50FC14C9DAADF935F527C2DFD71E4D6DBC42E544, ec.SECP256R1())

EC_GOLDEN, RSA_GOLDEN = "software-keymaster1-ec-p256", "software-keymaster1-rsa-2048"


@pytest.fixture(scope="module")
def kit() -> AndroidKit:
    return AndroidKit.build(SEED)


def _chain(evidence: Evidence) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(evidence.files[evidence.primary])


def _spki_sha256(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()


def _attributes(name: x509.Name) -> list[tuple[x509.ObjectIdentifier, object, str]]:
    return [(attribute.oid, attribute._type, str(attribute.value)) for attribute in name]


def _extension_layout(cert: x509.Certificate) -> list[tuple[x509.ObjectIdentifier, bool]]:
    return [(extension.oid, extension.critical) for extension in cert.extensions]


def _assert_ca_like(ours: x509.Certificate, real: x509.Certificate) -> None:
    """The same extensions in the same order and criticality, the same basicConstraints and keyUsage, key
    identifiers computed the same way (RFC 5280 method 1)."""
    assert _extension_layout(ours) == _extension_layout(real)
    for kind in (x509.BasicConstraints, x509.KeyUsage):
        assert ours.extensions.get_extension_for_class(kind).value == \
            real.extensions.get_extension_for_class(kind).value
    for cert in (ours, real):
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())  # type: ignore[arg-type]


def _assert_emulated_name(ours: x509.Name, real: x509.Name) -> None:
    """The real name, attribute by attribute (types included), its CN marked EMULATED."""
    expected = [(oid, kind, f"{value} EMULATED" if oid == NameOID.COMMON_NAME else value)
                for oid, kind, value in _attributes(real)]
    assert _attributes(ours) == expected


# -- the verifier ------------------------------------------------------------------------------------------

def test_the_real_aosp_ec_software_root_is_recognised_by_its_key():
    AOSP_EC_ROOT.verify_directly_issued_by(AOSP_EC_ROOT)
    AOSP_EC_INTERMEDIATE.verify_directly_issued_by(AOSP_EC_ROOT)
    assert AOSP_EC_ROOT.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "Android Keystore Software Attestation Root"
    assert _spki_sha256(AOSP_EC_ROOT) == android_verify.GOOGLE_EC_SOFTWARE_ROOT_SPKI_SHA256
    assert android_verify.is_software_root(AOSP_EC_ROOT)
    assert not android_verify.is_software_root(AOSP_EC_INTERMEDIATE)


def _under_the_aosp_ec_chain(kit: AndroidKit, **changes: object) -> Evidence:
    """The EC software golden's description (with ``changes``) in a leaf signed by AOSP's EC software attestation
    key, sent with AOSP's EC intermediate and root, as keystore's software Keymaster sends it."""
    assert AOSP_EC_ATTESTATION_KEY.public_key() == AOSP_EC_INTERMEDIATE.public_key()
    bench = Workbench.open(kit, EC_GOLDEN)
    description: KeyDescription = replace(bench.description, **changes)  # type: ignore[arg-type]
    identity = AttestationIdentity(key=AOSP_EC_ATTESTATION_KEY, certificate=AOSP_EC_INTERMEDIATE,
                                   chain=(AOSP_EC_INTERMEDIATE,), root=AOSP_EC_ROOT)
    leaf = attestation_leaf(bench.public_key, encode_key_description(description), identity, keymaster=True,
                            not_after=SOFTWARE_LEAF_NOT_AFTER)
    return Evidence("android-key", evidence_files("aosp-ec", chain_pem([leaf, AOSP_EC_INTERMEDIATE, AOSP_EC_ROOT]),
                                                  bench.challenge), "aosp-ec.pem")


def test_a_software_attestation_under_the_real_aosp_ec_chain_is_structural_only(kit):
    """The same policy as under Google's RSA software root: structural accepts the key as attested at Software,
    strict rejects it; the software root vouches for no TEE attestation; and AOSP's EC intermediate expired on
    2026-01-08, so a real EC software attestation no longer validates."""
    trust = TrustAnchors({"root": (AOSP_EC_ROOT,)})
    at = GOLDEN_BY_NAME[EC_GOLDEN].validation_time
    evidence = _under_the_aosp_ec_chain(kit)
    verdict = verify_evidence(evidence, trust, at=at)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims is not None and verdict.claims.extra == {"security_level": "SOFTWARE"}
    assert "securityLevel=SOFTWARE keyMintSecurityLevel=TRUSTED_ENVIRONMENT" in verdict.detail
    assert "Android Keystore Software Attestation Root" in verdict.detail
    assert verify_evidence(evidence, trust, at=at, profile=Profile.STRICT).reason is Reason.SECURITY_LEVEL
    claims_tee = _under_the_aosp_ec_chain(kit, attestation_security_level=SecurityLevel.TRUSTED_ENVIRONMENT)
    for profile in Profile:
        assert verify_evidence(claims_tee, trust, at=at, profile=profile).reason is Reason.SECURITY_LEVEL, profile
    assert verify_evidence(evidence, trust, at=VALIDATION_TIME).reason is Reason.CERT_EXPIRED


# -- the emulated chains ------------------------------------------------------------------------------------

def test_the_key_algorithm_picks_the_software_chain():
    """AOSP's getAttestationKey/getAttestationChain(algorithm): RSA and EC, nothing else."""
    rsa_identity, ec_identity = software_identity(Algorithm.RSA), software_identity(Algorithm.EC)
    assert isinstance(rsa_identity.key, rsa.RSAPrivateKey)
    assert isinstance(ec_identity.key, ec.EllipticCurvePrivateKey) and ec_identity.key.curve.name == "secp256r1"
    assert rsa_identity.root == software_root(Algorithm.RSA).certificate != ec_identity.root
    assert ec_identity.root == software_root(Algorithm.EC).certificate
    with pytest.raises(ValueError, match="RSA and EC"):
        software_identity(Algorithm.ML_DSA)


def test_the_ec_software_golden_is_shaped_as_the_aosp_ec_chain(kit):
    """Leaf <- intermediate <- root, root included, all P-256 and ecdsa-with-SHA256, under AOSP's names (CN marked
    EMULATED), dates, serial lengths and extensions; the golden verifies when it is made and, as a real one,
    not after 2026-01-08."""
    evidence = Workbench.open(kit, EC_GOLDEN).evidence()
    leaf, intermediate, root = _chain(evidence)
    for cert in (leaf, intermediate, root):
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert root == software_root(Algorithm.EC).certificate
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    for ours, real in ((intermediate, AOSP_EC_INTERMEDIATE), (root, AOSP_EC_ROOT)):
        _assert_emulated_name(ours.subject, real.subject)
        _assert_emulated_name(ours.issuer, real.issuer)
        assert (ours.not_valid_before_utc, ours.not_valid_after_utc) == (real.not_valid_before_utc,
                                                                      real.not_valid_after_utc)
        _assert_ca_like(ours, real)
    assert intermediate.serial_number == AOSP_EC_INTERMEDIATE.serial_number == 0x1001
    assert root.serial_number.bit_length() == AOSP_EC_ROOT.serial_number.bit_length() == 64
    assert parse_key_description(key_description_der(leaf)).hardware_enforced.algorithm == Algorithm.EC
    trust = TrustAnchors({"root": kit.anchors_for(EC_GOLDEN)})
    assert verify_evidence(evidence, trust, at=GOLDEN_BY_NAME[EC_GOLDEN].validation_time).accepted
    assert verify_evidence(evidence, trust, at=ATTEST_TIME).reason is Reason.CERT_EXPIRED


def _pixel1(shared: Path) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
    """The real Pixel1 software attestation (a root-first bag), leaf first."""
    bag = pkcs7.load_der_pkcs7_certificates(
        (shared / "interop" / "purebred" / "Pixel1" / "1_device_preenroll_attestation.bin").read_bytes())
    (leaf,) = [c for c in bag if any(e.oid.dotted_string == OID_KEY_DESCRIPTION for e in c.extensions)]
    (intermediate,) = [c for c in bag if c.subject == leaf.issuer]
    (root,) = [c for c in bag if c.subject == intermediate.issuer]
    return leaf, intermediate, root


def test_the_rsa_software_golden_is_shaped_as_the_pixel1_sample(shared_dir, kit):
    """An RSA-2048 key attested under the RSA chain as the real Pixel1 sample: the same three certificates,
    names (the intermediate's CN marked EMULATED, the root's with an added EMULATED CN), dates, serial lengths,
    extensions and sha256WithRSAEncryption signatures, and the same Keymaster 1 description shape; the CA keys
    are RSA-2048 where Google's are RSA-1024 (docs/formats/android.md)."""
    golden = GOLDEN_BY_NAME[RSA_GOLDEN]
    assert (golden.spec, golden.level) == ("rsa-2048", SecurityLevel.SOFTWARE)
    assert golden_expected(golden) == {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.SECURITY_LEVEL}
    evidence = Workbench.open(kit, RSA_GOLDEN).evidence()
    ours, real = _chain(evidence), _pixel1(shared_dir)
    assert len(ours) == len(real) == 3
    for mine, genuine in zip(ours, real, strict=True):
        assert isinstance(mine.public_key(), rsa.RSAPublicKey) and isinstance(genuine.public_key(), rsa.RSAPublicKey)
        assert mine.signature_algorithm_oid == genuine.signature_algorithm_oid == \
            SignatureAlgorithmOID.RSA_WITH_SHA256
        assert (mine.not_valid_before_utc, mine.not_valid_after_utc) == (genuine.not_valid_before_utc,
                                                                      genuine.not_valid_after_utc)
        assert _extension_layout(mine) == _extension_layout(genuine)
        assert mine.serial_number.bit_length() == genuine.serial_number.bit_length()
    (leaf, intermediate, root), (real_leaf, real_intermediate, real_root) = ours, real
    assert root == software_root(Algorithm.RSA).certificate
    assert leaf.public_key().key_size == real_leaf.public_key().key_size == 2048  # type: ignore[union-attr]
    assert intermediate.public_key().key_size == root.public_key().key_size == 2048  # type: ignore[union-attr]
    assert leaf.subject == real_leaf.subject
    assert (leaf.serial_number, intermediate.serial_number) == (real_leaf.serial_number,
                                                                real_intermediate.serial_number) == (1, 0x1000)
    _assert_emulated_name(intermediate.subject, real_intermediate.subject)
    assert _attributes(root.subject) == [*_attributes(real_root.subject), (
        NameOID.COMMON_NAME, UTF8, "Android Software Attestation Root EMULATED")]
    for mine, genuine in ((intermediate, real_intermediate), (root, real_root)):
        _assert_ca_like(mine, genuine)
    mine_kd, real_kd = (parse_key_description(key_description_der(cert)) for cert in (leaf, real_leaf))
    for kd in (mine_kd, real_kd):
        assert (kd.attestation_version, kd.attestation_security_level, kd.keymint_version,
                kd.keymint_security_level) == (2, SecurityLevel.SOFTWARE, 1, SecurityLevel.TRUSTED_ENVIRONMENT)
        hardware = kd.hardware_enforced
        assert (hardware.algorithm, hardware.key_size, hardware.root_of_trust, hardware.os_version) == (
            Algorithm.RSA, 2048, None, None)
    trust = TrustAnchors({"root": kit.anchors_for(RSA_GOLDEN)})
    verdict = verify_evidence(evidence, trust, at=golden.validation_time)
    assert verdict.accepted and verdict.claims is not None, verdict.summary()
    assert verdict.claims.extra == {"security_level": "SOFTWARE"}
