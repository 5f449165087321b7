"""The TPM family: marshalling, the emulated TPM and PKI, the webauthn format and its vectors, the LAMPS sample."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import textwrap
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import cbor2
import pytest
from asn1crypto import core, csr, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import cert_pem, spki_der
from hsmsim.errors import ParameterError
from hsmsim.formats import get_format
from hsmsim.formats.tpm import TPM_ATTESTATION
from hsmsim.formats.tpm.acme import acme_draft_for, jwk_thumbprint
from hsmsim.formats.tpm.acme_catalogue import mutations as acme_mutations
from hsmsim.formats.tpm.catalogue import (
    ATTEST_TIME,
    GOLDEN_SPECS,
    VALIDATION_TIME,
    TpmKit,
    Workbench,
    _faked,
    mutations,
)
from hsmsim.formats.tpm.credential import _made_credential, _secret, activate_credential, make_credential
from hsmsim.formats.tpm.device import AK_ATTRIBUTES, EmulatedTpm, Parent, object_attributes, tpm_sign
from hsmsim.formats.tpm.format import ParsecTpmFormat
from hsmsim.formats.tpm.generate import ROOT_FILE
from hsmsim.formats.tpm.kast_format import kast_draft_for
from hsmsim.formats.tpm.layout import DEFAULT_PKI_PROFILE, MIN_NONCE_BYTES
from hsmsim.formats.tpm.marshal import HASH_NAMES, TpmAlg, TpmaObject, TpmSt
from hsmsim.formats.tpm.parsec import parsec_draft_for, pem_chain
from hsmsim.formats.tpm.parsec_catalogue import mutations as parsec_mutations
from hsmsim.formats.tpm.parsec_catalogue import parsec_draft
from hsmsim.formats.tpm.pki import (
    EKU_EK_CERTIFICATE,
    EMULATED_AAGUID,
    FIDO_AAGUID_EXTENSION,
    TPM_MANUFACTURER,
    TPM_MODEL,
    TPM_VERSION,
    ek_certificate,
    tpm_pki,
)
from hsmsim.formats.tpm.statement import check_ak_certificate, check_signature, sign_cert_info
from hsmsim.formats.tpm.structures import (
    EccPoint,
    PcrSelection,
    QuoteInfo,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    check_qualified_name,
    ecc_public,
    pcr_selection_list,
    qualified_name,
)
from hsmsim.formats.tpm.webauthn import TpmAttestation, draft_for, statement_draft_for
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import seeded_faker
from hsmsim.model.evidence import TrustAnchors
from hsmsim.pki.builder import Ext, extension_tlvs, reissue, verbatim_extensions
from hsmsim.tpm.hierarchy import key_spki
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.container import (
    AuthenticatorData,
    b64url,
    cbor_item_end,
    cose_alg_for,
    cose_key,
    from_b64url,
    from_base64_lenient,
    parse_cose_key,
)
from tests.cli_process import run_hsmsim

SEED = "hsmsim-tests"
LAMPS_SAMPLE = ("interop", "ietf-csr-attestation", "tcgAttestTpmCertify.pem")


@pytest.fixture(scope="module")
def webauthn():
    return get_format("webauthn")


@pytest.fixture(scope="module")
def kit() -> TpmKit:
    return TpmKit.build(SEED, TPM_ATTESTATION)


@pytest.fixture(scope="module")
def cases(webauthn):
    return {case.id: case for case in webauthn.vector_cases(SEED)}


def _verify(fmt, case, profile):
    return fmt.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time, profile=profile)


# -- vectors --------------------------------------------------------------------------------

def test_catalogue_has_the_goldens_and_at_least_thirty_defects(cases):
    assert [f"webauthn::golden::{spec}" for spec in GOLDEN_SPECS] == list(cases)[:4]
    defects = [m for m in mutations() if m.expected[Profile.STRICT] is not Reason.OK]
    assert len({m.flag for m in defects}) >= 30
    assert len({m.id for m in mutations()}) == len(mutations())


@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_goldens_verify_with_claims(webauthn, cases, spec):
    case = cases[f"webauthn::golden::{spec}"]
    verdict = _verify(webauthn, case, Profile.STRUCTURAL)
    assert verdict.accepted, verdict.summary()
    claims = verdict.claims
    assert claims.generated_on_device and not claims.extractable and claims.never_extractable
    assert (claims.vendor, claims.model, claims.firmware) == ("IBM", "hsmsim-vTPM", "id:20250106")
    assert claims.key_type == ("RSA" if spec.startswith("rsa") else f"EC-secp{spec[-3:]}r1")
    strict = _verify(webauthn, case, Profile.STRICT)
    assert strict.reason is (Reason.KEY_POLICY if spec == "rsa-2048" else Reason.OK)


@pytest.mark.parametrize("mutation", mutations(), ids=lambda m: m.id)
def test_every_defect_gets_its_stated_reason(webauthn, cases, mutation):
    case = cases[mutation.id]
    for profile, reason in mutation.expected.items():
        verdict = _verify(webauthn, case, profile)
        assert verdict.reason is reason, f"{profile}: {verdict.summary()}"


def test_regeneration_is_byte_identical(webauthn, cases):
    again = webauthn.vector_cases(SEED)
    assert [c.id for c in again] == list(cases)
    for case in again:
        assert dict(case.evidence.files) == dict(cases[case.id].evidence.files), case.id


def test_generate_through_the_hsm_matches_and_verifies(webauthn):
    created = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)

    def attest():
        store = SoftKeyStore(seed=SEED)
        hsm = Hsm(Device.from_seed("webauthn", SEED), store)
        store.generate(KeySpec.parse("ec-p256"), "passkey", created=created)
        return hsm, hsm.attest("passkey", "webauthn", {"attest_time": at, "rp_id": "bank.example"})

    hsm, evidence = attest()
    assert dict(evidence.files) == dict(attest()[1].files)
    assert evidence.primary == "passkey.webauthn.json"
    root = hsm.attestation_identity().root
    verdict = webauthn.verify(evidence, TrustAnchors({"root": (root,)}), at=datetime(2026, 1, 1, tzinfo=UTC))
    assert verdict.accepted, verdict.summary()


def test_load_and_detect_the_record(webauthn, cases, tmp_path):
    paths = cases["webauthn::golden::ec-p256"].evidence.write(tmp_path)
    record = next(p for p in paths if p.name.endswith(".webauthn.json"))
    assert webauthn.detect(record)
    assert not webauthn.detect(next(p for p in paths if p.suffix == ".pem"))
    loaded = webauthn.load(record)
    anchors = webauthn.trust_anchors_from_files([tmp_path / "tpm_root_ca.pem"])
    assert webauthn.verify(loaded, anchors, at=datetime(2026, 1, 1, tzinfo=UTC)).accepted


# -- TPM core -------------------------------------------------------------------------------

def test_marshal_round_trips(kit):
    draft = kit.draft("rsa-3072")
    area = draft.area
    assert TpmtPublic.unmarshal(area.marshal()) == area
    attest = kit.tpm.certify_info(area, kit.identity.key.public_key(), b"\x01" * 32, draft.at)
    assert TpmsAttest.unmarshal(attest.marshal()) == attest
    quote = replace(attest, type=TpmSt.ATTEST_QUOTE,
                    attested=QuoteInfo((PcrSelection(TpmAlg.SHA256, b"\xff\x00\x00"),), b"\x22" * 32))
    assert TpmsAttest.unmarshal(quote.marshal()) == quote
    ecc_area = kit.draft("ec-p384").area
    assert TpmtPublic.unmarshal(ecc_area.marshal()) == ecc_area
    signature = tpm_sign(kit.identity.key, attest.marshal(), kit.tpm.ak_public(kit.identity.key.public_key())
                         .parameters.scheme)
    assert TpmtSignature.unmarshal(signature.marshal()) == signature
    assert signature.marshal()[:4] == bytes.fromhex("0014000b")  # RSASSA, SHA-256: the webauthn AK is an RSA AIK
    kit.identity.key.public_key().verify(signature.bare(), attest.marshal(), padding.PKCS1v15(), hashes.SHA256())


def test_unmarshal_rejects_every_truncation_and_trailing_bytes(kit):
    draft = kit.draft("ec-p256")
    structures = (
        (TpmtPublic.unmarshal, draft.area.marshal()),
        (TpmsAttest.unmarshal, kit.tpm.certify_info(draft.area, kit.identity.key.public_key(), b"n", draft.at)
         .marshal()),
    )
    for parse, data in structures:
        for cut in range(len(data)):
            with pytest.raises(Rejected) as caught:
                parse(data[:cut])
            assert caught.value.reason is Reason.MALFORMED
        with pytest.raises(Rejected, match="trailing"):
            parse(data + b"\x00")


def test_a_public_area_builds_its_key_once_and_a_bad_one_never(kit):
    area = kit.draft("ec-p256").area
    assert area.public_key() is area.public_key()
    assert area.spki() == spki_der(area.public_key()) == spki_der(kit.keys["ec-p256"].public_key)
    off_curve = replace(area, unique=EccPoint(area.unique.x, bytes(32)))
    for _ in range(2):  # a key that does not load is not remembered: every call rejects again
        with pytest.raises(Rejected, match="not on the curve"):
            off_curve.spki()

_FIELD_PRIMES = {"secp256r1": 2**256 - 2**224 + 2**192 + 2**96 - 1, "secp384r1": 2**384 - 2**128 - 2**96 + 2**32 - 1,
                 "secp521r1": 2**521 - 1}


@pytest.mark.parametrize("curve", [ec.SECP256R1, ec.SECP384R1, ec.SECP521R1])
def test_an_ecc_area_gives_openssls_spki_for_every_coordinate_encoding(curve):
    key = ec.derive_private_key(0x5EED_0F_7E57 << 64, curve()).public_key()
    area = ecc_public(key, AK_ATTRIBUTES)
    numbers, width = key.public_numbers(), (curve.key_size + 7) // 8
    for length in (width - 1, width, width + 1, width + 5):  # short (where x has a leading zero byte), padded
        if numbers.x.bit_length() > length * 8:
            continue
        encoded = replace(area, unique=EccPoint(numbers.x.to_bytes(length, "big"), numbers.y.to_bytes(width, "big")))
        assert encoded.spki() == spki_der(key)
    prime = _FIELD_PRIMES[curve.name]
    for x in (numbers.x + prime, prime):  # the same point as OpenSSL would reduce it; the prime itself
        unreduced = replace(area, unique=EccPoint(x.to_bytes(width + 1, "big"), numbers.y.to_bytes(width, "big")))
        with pytest.raises(Rejected, match="field prime") as caught:
            unreduced.spki()
        assert caught.value.reason is Reason.MALFORMED


def test_object_attributes_follow_the_key(kit):
    store = SoftKeyStore(seed=SEED)
    spec = KeySpec.parse("ec-p256")
    generated = store.generate(spec, "g")
    assert object_attributes(generated.attributes) == 0x00040072
    imported = store.import_key(kit.store.signer(kit.keys["ec-p256"]), "i")
    assert not object_attributes(imported.attributes) & TpmaObject.SENSITIVE_DATA_ORIGIN
    duplicable = store.generate(spec, "x", policy=KeyPolicy(extractable=True))
    assert not object_attributes(duplicable.attributes) & (TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT)
    # generated extractable, then made non-extractable on a PKCS#11 token: a TPM object's attributes never change
    once_duplicable = replace(duplicable.attributes, extractable=False, never_extractable=False)
    assert not object_attributes(once_duplicable) & (TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT)
    assert object_attributes(imported.attributes) & TpmaObject.FIXED_TPM  # PKCS#11 says NEVER_EXTRACTABLE=false of it
    assert AK_ATTRIBUTES == 0x00050072


def test_names_and_qualified_names(kit):
    area = kit.draft("ec-p256").area
    name = area.name()
    assert name[:2] == b"\x00\x0b" and name[2:] == hashlib.sha256(area.marshal()).digest()
    attest = kit.tpm.certify_info(area, kit.identity.key.public_key(), b"", kit.device.initialised)
    assert attest.attested.name == name
    assert attest.qualified_signer == kit.tpm.ak_qualified_name(kit.identity.key.public_key())
    parent = b"\x40\x00\x00\x01"
    assert qualified_name(parent, name) == b"\x00\x0b" + hashlib.sha256(parent + name).digest()


@pytest.mark.parametrize("name_alg", [TpmAlg.SHA256, TpmAlg.SHA384])
def test_a_certified_qualified_name_must_be_one_a_tpm_writes(kit, name_alg):
    """TPMS_CERTIFY_INFO.qualifiedName = nameAlg ‖ H_nameAlg(QN(parent) ‖ Name) (TPM 2.0 Part 1, Names): of the
    object's nameAlg, 2 + its digest size bytes, never the Name. What the emulated TPM writes passes."""
    area = replace(kit.draft("ec-p256").area, name_alg=name_alg)
    certify = kit.tpm.certify_info(area, kit.identity.key.public_key(), b"", kit.device.initialised).attested
    check_qualified_name(certify)
    size = 2 + hashlib.new(HASH_NAMES[name_alg]).digest_size
    other_alg = TpmAlg.SHA384 if name_alg == TpmAlg.SHA256 else TpmAlg.SHA256
    qn = certify.qualified_name
    for bad in (qn[:-1], qn + b"\x00", b"", qn[:2], other_alg.to_bytes(2, "big") + qn[2:],
                other_alg.to_bytes(2, "big") + bytes(size - 2 + (16 if name_alg == TpmAlg.SHA256 else -16)),
                certify.name):
        with pytest.raises(Rejected) as caught:
            check_qualified_name(replace(certify, qualified_name=bad))
        assert caught.value.reason is Reason.MALFORMED, bad.hex()
    assert len(qn) == size


@pytest.mark.parametrize("profile", ["rsa", "ecdsa-p384"])
def test_every_draft_is_made_by_the_requests_device_tpm(kit, profile):
    """The draft functions take the hierarchy, not a TPM: the TPM is always the request's device's, and with the
    AK :meth:`TpmAkProvider.profiled` certifies under that hierarchy the evidence verifies under its root only."""
    key = kit.keys["ec-p256"]
    request = AttestationRequest(device=kit.device, partition="default", key=key, key_signer=kit.store.signer(key),
                                 attesting=kit.identity, parameters={"rp_id": kit.rp_id, "pki_profile": profile},
                                 at=datetime(2026, 3, 2, tzinfo=UTC))
    request, chosen = get_format("tpm-acme").profiled(request)
    assert chosen == profile
    expected = EmulatedTpm.for_device(kit.device, profile)
    for draft_of in (draft_for, statement_draft_for, acme_draft_for, kast_draft_for, parsec_draft_for):
        assert draft_of(request, profile).tpm == expected, draft_of.__name__
    roots = {name: tpm_pki(SEED, name).root for name in ("rsa", "ecdsa-p384")}
    for format_name, draft_of in (("tpm-acme", acme_draft_for), ("ms-kast", kast_draft_for),
                                  ("parsec-tpm", parsec_draft_for)):
        evidence = draft_of(request, profile).evidence()
        for name, root in roots.items():
            verdict = get_format(format_name).verify(evidence, TrustAnchors({"root": (root,)}), at=request.at)
            assert verdict.accepted == (name == profile), (format_name, name, verdict.summary())


def test_ek_and_ak_certificates_follow_the_tcg_profile(kit):
    tpm = EmulatedTpm(SEED, kit.device.serial, kit.device.initialised, pki_profile=DEFAULT_PKI_PROFILE)
    pki = tpm_pki(SEED)
    ek = ek_certificate(pki, SEED, kit.device.serial, tpm.ek_key.public_key(), tpm.model, kit.device.initialised)
    assert len(ek.subject) == 0
    san = ek.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical
    names = san.value.get_values_for_type(x509.DirectoryName)[0]
    assert names.get_attributes_for_oid(TPM_MANUFACTURER)[0].value == "id:49424D00"
    assert list(ek.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [EKU_EK_CERTIFICATE]
    ek.verify_directly_issued_by(pki.intermediate)
    intermediate_ski = pki.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    for issued in (ek, kit.identity.certificate):
        aki = issued.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == intermediate_ski
    assert "EMULATED" in pki.root.subject.rfc4514_string()
    facts = check_ak_certificate(kit.identity.certificate, kit.draft("ec-p256").aaguid)
    assert (facts.vendor, facts.manufacturer) == ("IBM", "id:49424D00")


@pytest.mark.parametrize(("value", "critical", "reason"), [
    (b"\x04\x10" + EMULATED_AAGUID.bytes, False, Reason.OK),
    (EMULATED_AAGUID.bytes, False, Reason.MALFORMED),
    (b"\x04\x11" + EMULATED_AAGUID.bytes + b"\x00", False, Reason.MALFORMED),
    (b"\x04\x10" + bytes(16), False, Reason.ATTR_CONFLICT),
    (b"\x04\x10" + EMULATED_AAGUID.bytes, True, Reason.CERT_PROFILE),
], ids=["wrapped", "bare", "17-bytes", "other-aaguid", "critical"])
def test_the_ak_certificates_aaguid_extension(kit, value, critical, reason):
    """WebAuthn §8.3.1: the AAGUID extension, when present, is a non-critical OCTET STRING of authData's 16 bytes; a
    value that does not decode is MALFORMED (as for packed), another AAGUID ATTR_CONFLICT, critical CERT_PROFILE."""
    cert = kit.identity.certificate
    new = Ext(x509.UnrecognizedExtension(FIDO_AAGUID_EXTENSION, value), critical)
    exts = [e for e in verbatim_extensions(cert) if e.value.oid != FIDO_AAGUID_EXTENSION] + [new]
    reissued = reissue(cert, kit.pki.intermediate_key, extensions=tuple(exts))
    if reason is Reason.OK:
        check_ak_certificate(reissued, EMULATED_AAGUID.bytes)
        return
    with pytest.raises(Rejected) as caught:
        check_ak_certificate(reissued, EMULATED_AAGUID.bytes)
    assert caught.value.reason is reason


# certificatePolicies of py_webauthn's Surface Pro 4 AIK certificate (issuer WUS-INTC-KEYID-E7083F22...): policy
# 1.3.6.1.4.1.311.21.31, user notice with a BMPString explicitText
REAL_WINDOWS_AIK_POLICIES = bytes.fromhex(
    "3061305f06092b060104018237151f3052305006082b0601050507020230441e420054004300500041002000200054007200750073"
    "007400650064002000200050006c006100740066006f0072006d00200020004900640065006e0074006900740079")


def _extension_shape(cert: x509.Certificate) -> list[tuple[str, bool]]:
    return [(e.oid.dotted_string, e.critical) for e in cert.extensions]


def test_the_rsa_profile_ak_certificate_is_shaped_as_a_windows_aik_certificate(webauthn, kit):
    cert = kit.identity.certificate
    # the real certificate's order: KU, BC, CP, EKU, SAN, AKI, SKI, AIA; no FIDO AAGUID extension
    assert _extension_shape(cert) == [
        ("2.5.29.15", True), ("2.5.29.19", True), ("2.5.29.32", True), ("2.5.29.37", False), ("2.5.29.17", True),
        ("2.5.29.35", False), ("2.5.29.14", False), ("1.3.6.1.5.5.7.1.1", False)]
    tbs = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))["tbs_certificate"]
    raw = {e["extn_id"].dotted: e["extn_value"].contents for e in tbs["extensions"]}
    assert raw["2.5.29.32"] == REAL_WINDOWS_AIK_POLICIES  # byte for byte (cryptography re-encodes a UTF8String)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(kit.identity.key.public_key())
    # the SAN's directoryName: three RDNs of one attribute each (31 .. / 31 .. / 31 ..), as the real one
    (directory,) = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DirectoryName)
    assert [len(rdn) for rdn in directory.rdns] == [1, 1, 1]
    assert [rdn.get_attributes_for_oid(oid)[0].value for rdn, oid in zip(
        directory.rdns, (TPM_MANUFACTURER, TPM_MODEL, TPM_VERSION), strict=True)] == [
        "id:49424D00", "hsmsim-vTPM", "id:20250106"]
    ecdsa = EmulatedTpm(SEED, kit.device.serial, kit.device.initialised, pki_profile="ecdsa-p384")
    p384_cert = ecdsa.ak_identity(created=kit.device.attestation_created).certificate
    assert [oid for oid, _ in _extension_shape(p384_cert)] == [
        "2.5.29.15", "2.5.29.19", "2.5.29.17", "2.5.29.37", "1.3.6.1.4.1.45724.1.1.4", "2.5.29.35"]


def test_the_windows_hello_rs1_variant_signs_certinfo_with_sha1(webauthn, cases):
    case = cases["webauthn::variant::windows-hello-rs1"]
    record = json.loads(case.evidence.files[case.evidence.primary])
    response = record["credential"]["response"]
    attestation = cbor2.loads(from_b64url(response["attestationObject"], "attestationObject"))
    statement = attestation["attStmt"]
    assert statement["alg"] == -65535
    aik = x509.load_der_x509_certificate(statement["x5c"][0])
    assert isinstance(aik.public_key(), rsa.RSAPublicKey) and aik.public_key().key_size == 2048
    aik.public_key().verify(statement["sig"], statement["certInfo"], padding.PKCS1v15(), hashes.SHA1())
    client_hash = hashlib.sha256(from_b64url(response["clientDataJSON"], "clientDataJSON")).digest()
    extra = TpmsAttest.unmarshal(statement["certInfo"]).extra_data
    assert extra == hashlib.sha1(attestation["authData"] + client_hash).digest()
    assert TpmtPublic.unmarshal(statement["pubArea"]).public_key().key_size == 2048
    assert _verify(webauthn, case, Profile.STRUCTURAL).accepted
    assert _verify(webauthn, case, Profile.STRICT).reason is Reason.KEY_POLICY


# Real Windows Hello registrations from py_webauthn's test suite (BSD-3; tests/data/py_webauthn/README.md):
# test_verify_attestation_surface_pro_4 (RSA-2048 credential, Intel TPM) and test_verify_tpm_with_ecc_public_area_type
# (EC P-256 credential, Nuvoton NPCT75x). Both, like every published one, are certified by an RSA-2048 AIK.
REAL_WINDOWS_HELLO = {"rsa-2048": "surface_pro_4.webauthn.json", "ec-p256": "windows_hello_ecc.webauthn.json"}
PY_WEBAUTHN_DATA = Path(__file__).resolve().parents[1] / "data" / "py_webauthn"
EXTRA_DATA_LENGTH = {-65535: 20, -257: 32}
"""H_alg(attToBeSigned): SHA-1 under RS1, SHA-256 under RS256."""


def _statement_of_record(record: dict) -> dict:
    encoded = record["credential"]["response"]["attestationObject"]
    statement: dict = cbor2.loads(from_base64_lenient(encoded, "attestationObject"))["attStmt"]
    return statement


def _windows_hello_shape(statement: dict) -> dict[str, object]:
    """What a Windows Hello ``tpm`` statement shows, leaving out what differs between devices (keys, names, times)
    and the hash RS1 and RS256 differ in."""
    aik = x509.load_der_x509_certificate(statement["x5c"][0])
    attest = TpmsAttest.unmarshal(statement["certInfo"])
    area = TpmtPublic.unmarshal(statement["pubArea"])
    key = aik.public_key()
    return {
        "aik": (isinstance(key, rsa.RSAPublicKey), key.key_size if isinstance(key, rsa.RSAPublicKey) else None),
        "alg is RSASSA": statement["alg"] in EXTRA_DATA_LENGTH,
        "extraData is H_alg": len(attest.extra_data) == EXTRA_DATA_LENGTH.get(statement["alg"]),
        "aik subject empty": aik.subject == x509.Name([]),
        "aik serial octets": (aik.serial_number.bit_length() + 7) // 8,
        "aik extensions": [(e.oid.dotted_string, e.critical) for e in aik.extensions],
        "pubArea": (area.type, area.name_alg, area.parameters.symmetric.algorithm, area.parameters.scheme.scheme),
        # Windows Hello's credential keys: its authPolicy; RSA ones noDA and sign+decrypt (0x00060472), ECC ones
        # sign only (0x00040072)
        "pubArea authPolicy": area.auth_policy.hex(),
        "pubArea objectAttributes": f"0x{int(area.object_attributes):08x}",
        "certInfo type": attest.type,
        "qualifiedSigner nameAlg": attest.qualified_signer[:2],
        "clock safe": attest.clock_info.safe,
        # a storage-hierarchy AK's certInfo adds a 32-bit mask to the boot counters (TPM 2.0 Part 1 36.7): a plain
        # resetCount or restartCount counts boots and is small
        "counters obfuscated": min(attest.clock_info.reset_count, attest.clock_info.restart_count) > 0xFFFF,
    }


@pytest.mark.parametrize("spec", sorted(REAL_WINDOWS_HELLO))
def test_tpm_goldens_have_the_shape_of_a_real_windows_hello_registration(cases, kit, spec):
    real = _statement_of_record(json.loads((PY_WEBAUTHN_DATA / REAL_WINDOWS_HELLO[spec]).read_text()))
    assert real["alg"] == -65535  # Windows sends RS1; the goldens sign RS256, RS1 is variant::windows-hello-rs1
    case = cases[f"webauthn::golden::{spec}"]
    golden = _statement_of_record(json.loads(case.evidence.files[case.evidence.primary]))
    assert _windows_hello_shape(golden) == _windows_hello_shape(real)
    assert _windows_hello_shape(golden)["aik"] == (True, 2048) and golden["alg"] == -257
    # the counters and firmwareVersion are those of the emulated TPM, obfuscated as under the SRK
    attest = TpmsAttest.unmarshal(golden["certInfo"])
    area = TpmtPublic.unmarshal(golden["pubArea"])
    assert attest == kit.tpm.certify_info(area, kit.identity.key, attest.extra_data, ATTEST_TIME, Parent.SRK)
    assert attest.firmware_version != kit.tpm.model.firmware_version


def _aik_ca_profile(ca: x509.Certificate) -> tuple:
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    key = ca.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and ca.signature_hash_algorithm is not None
    return (key.key_size, ca.signature_hash_algorithm.name, usage.critical, usage.value.digital_signature,
            usage.value.key_cert_sign, usage.value.crl_sign, [(e.oid.dotted_string, e.critical) for e in ca.extensions])


@pytest.mark.parametrize("spec", sorted(REAL_WINDOWS_HELLO))
def test_windows_aik_chain_is_shaped_as_the_real_ones(cases, spec):
    """The golden's AIK CA against the real one of the Windows Hello sample (WUS-INTC-KEYID-… 2019-2025,
    EUS-NTC-KEYID-E4A8… 2021-2027): RSA-4096, sha256WithRSAEncryption, a critical keyUsage digitalSignature and
    keyCertSign without cRLSign, the extensions in their order; and the AIK certificate has a 16-octet serial and
    expires with its CA, as in both samples."""
    real = _statement_of_record(json.loads((PY_WEBAUTHN_DATA / REAL_WINDOWS_HELLO[spec]).read_text()))["x5c"]
    case = cases[f"webauthn::golden::{spec}"]
    golden = _statement_of_record(json.loads(case.evidence.files[case.evidence.primary]))["x5c"]
    real_aik, real_ca = (x509.load_der_x509_certificate(der) for der in real)
    golden_aik, golden_ca = (x509.load_der_x509_certificate(der) for der in golden)
    assert _aik_ca_profile(golden_ca) == _aik_ca_profile(real_ca)
    # the AIK certificate's serial: 16 octets in DER, its top bit clear (the real ones: 125 and 127 bits)
    assert [c.serial_number.bit_length() // 8 + 1 for c in (golden_aik, real_aik)] == [16, 16]
    assert real_aik.not_valid_after_utc == real_ca.not_valid_after_utc
    assert golden_aik.not_valid_after_utc == golden_ca.not_valid_after_utc


def _ak_aaguid_and_auth_data_aaguid(case) -> tuple[bytes | None, bytes]:
    record = json.loads(case.evidence.files[case.evidence.primary])
    attestation = cbor2.loads(from_base64_lenient(record["credential"]["response"]["attestationObject"], "attObj"))
    aik = x509.load_der_x509_certificate(attestation["attStmt"]["x5c"][0])
    try:
        ext = aik.extensions.get_extension_for_oid(FIDO_AAGUID_EXTENSION)
    except x509.ExtensionNotFound:
        return None, attestation["authData"][37:53]
    assert not ext.critical and ext.value.value[:2] == b"\x04\x10"  # an OCTET STRING of 16 octets
    return ext.value.value[2:], attestation["authData"][37:53]


def test_the_ak_certificate_aaguid_extension_is_absent_from_goldens_equal_in_the_variant_foreign_in_the_defect(
        webauthn, cases):
    # WebAuthn §8.3.1: if the AK certificate has the extension, its value must be authData's aaguid
    for spec in GOLDEN_SPECS:
        assert _ak_aaguid_and_auth_data_aaguid(cases[f"webauthn::golden::{spec}"])[0] is None
    in_cert, in_auth_data = _ak_aaguid_and_auth_data_aaguid(cases["webauthn::variant::ak-aaguid-extension"])
    assert in_cert == in_auth_data
    assert _verify(webauthn, cases["webauthn::variant::ak-aaguid-extension"], Profile.STRICT).accepted
    in_cert, in_auth_data = _ak_aaguid_and_auth_data_aaguid(cases["webauthn::akcert::aaguid-mismatch"])
    assert in_cert is not None and in_cert != in_auth_data
    assert _verify(webauthn, cases["webauthn::akcert::aaguid-mismatch"], Profile.STRUCTURAL).reason is \
        Reason.ATTR_CONFLICT


@pytest.mark.parametrize(("spec", "decrypt", "attributes"), [
    ("rsa-2048", True, 0x00060472), ("rsa-2048", False, 0x00040472), ("ec-p256", False, 0x00040072)])
def test_the_webauthn_credential_key_is_created_as_windows_hellos_its_usage_from_the_key(kit, spec, decrypt,
                                                                                        attributes):
    store = SoftKeyStore(seed=SEED)
    key = store.generate(KeySpec.parse(spec), f"hello-{spec}", policy=KeyPolicy(decrypt=decrypt))
    request = AttestationRequest(device=kit.device, partition="default", key=key, key_signer=store.signer(key),
                                 attesting=kit.identity, parameters={}, at=ATTEST_TIME)
    area = statement_draft_for(request, DEFAULT_PKI_PROFILE).area
    # 0x00040472: a sign-only RSA key keeps Windows Hello's noDA but does not claim decrypt
    assert f"0x{int(area.object_attributes):08x}" == f"0x{attributes:08x}"
    real = _statement_of_record(json.loads((PY_WEBAUTHN_DATA / REAL_WINDOWS_HELLO["rsa-2048"]).read_text()))
    assert area.auth_policy == TpmtPublic.unmarshal(real["pubArea"]).auth_policy
    # the other TPM consumers create keys without a policy or noDA
    plain = kit.tpm.key_public(key)
    assert (plain.auth_policy, int(plain.object_attributes) & TpmaObject.NO_DA) == (b"", 0)


@pytest.mark.parametrize(("profile", "root_key", "intermediate_key", "signature"), [
    ("rsa", "RSA-4096", "RSA-4096", x509.SignatureAlgorithmOID.RSA_WITH_SHA256),
    ("ecdsa-p384", "EC-secp384r1", "EC-secp384r1", x509.SignatureAlgorithmOID.ECDSA_WITH_SHA384),
])
def test_pki_profile_sets_every_ca_algorithm(kit, profile, root_key, intermediate_key, signature):
    def describe(public_key: object) -> str:
        if isinstance(public_key, rsa.RSAPublicKey):
            return f"RSA-{public_key.key_size}"
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        return f"EC-{public_key.curve.name}"

    pki = tpm_pki(SEED, profile)
    tpm = EmulatedTpm(SEED, kit.device.serial, kit.device.initialised, pki_profile=profile)
    assert tpm.pki is pki
    ek = ek_certificate(pki, SEED, kit.device.serial, tpm.ek_key.public_key(), tpm.model, kit.device.initialised)
    identity = tpm.ak_identity(created=kit.device.attestation_created)
    assert (describe(pki.root.public_key()), describe(pki.intermediate.public_key())) == (root_key, intermediate_key)
    identity.certificate.verify_directly_issued_by(pki.intermediate)
    for cert in (pki.root, pki.intermediate, ek, identity.certificate):
        assert cert.signature_algorithm_oid == signature
    if isinstance(pki.root.public_key(), rsa.RSAPublicKey):
        assert isinstance(pki.root.signature_algorithm_parameters, padding.PKCS1v15)
    pki.intermediate.verify_directly_issued_by(pki.root)
    ek.verify_directly_issued_by(pki.intermediate)
    identity.certificate.verify_directly_issued_by(pki.intermediate)


def test_default_pki_is_rsa_and_ecdsa_profile_keeps_the_earlier_corpus_root():
    assert tpm_pki(SEED) is tpm_pki(SEED, "rsa")
    # the root of hsmsim-corpus-v1 before the RSA default (vectors/manifest.json at f89bc96)
    earlier = "ca77f72ff8ae31e712ef7b9fabdf29cd37171da57e532b1cdf90dc43383f317a"
    root = tpm_pki("hsmsim-corpus-v1", "ecdsa-p384").root
    assert hashlib.sha256(root.public_bytes(Encoding.DER)).hexdigest() == earlier
    with pytest.raises(ValueError, match="unknown TPM PKI profile"):
        tpm_pki(SEED, "ecdsa-p256")  # type: ignore[arg-type]


def test_authenticator_data_round_trips(kit):
    data = kit.draft("ec-p256").auth_data()
    parsed = AuthenticatorData.parse(data)
    assert parsed.marshal() == data and parsed.flags == 0x45 and parsed.credential is not None


@pytest.mark.parametrize(("data", "reason"), [
    (b"\x9f\x01\xff", Reason.MALFORMED),             # indefinite-length array
    (b"\xc1\x01", Reason.MALFORMED),                 # tag
    (b"\xa2\x01\x01\x01\x02", Reason.ATTR_CONFLICT),  # duplicate key
    (b"\x18\x05", Reason.MALFORMED),                 # non-minimal integer
    (b"\x5a\xff\xff\xff\xff", Reason.MALFORMED),     # byte string longer than the input
    (b"\x81" * 20 + b"\x00", Reason.LIMIT_EXCEEDED),  # nesting
    (b"\xf9\x3c\x00", Reason.MALFORMED),             # float
])
def test_cbor_scanner_bounds(data, reason):
    with pytest.raises(Rejected) as caught:
        cbor_item_end(data)
    assert caught.value.reason is reason


# -- the real LAMPS sample ------------------------------------------------------------------

class _Statement(core.Sequence):
    _fields: ClassVar = [("type", core.ObjectIdentifier), ("stmt", core.Any),
                         ("hint", core.IA5String, {"optional": True})]


class _Statements(core.SequenceOf):
    _child_spec = _Statement


class _Bundle(core.Sequence):
    _fields: ClassVar = [("attestations", _Statements), ("certs", core.SequenceOf, {"optional": True})]


class _Bundles(core.SetOf):
    _child_spec = _Bundle


class _TcgAttestCertify(core.Sequence):
    _fields: ClassVar = [("tpmSAttest", core.OctetString), ("signature", core.OctetString),
                         ("tpmTPublic", core.OctetString, {"optional": True})]


def test_lamps_csr_tcg_attest_certify_parses(shared_dir):
    _, _, der = pem.unarmor(shared_dir.joinpath(*LAMPS_SAMPLE).read_bytes())
    request = csr.CertificationRequest.load(der)
    info = request["certification_request_info"]
    attribute = next(a for a in info["attributes"] if a["type"].dotted == "1.2.840.113549.1.9.16.2.59")
    bundle = _Bundles.load(attribute["values"].dump())[0]
    statement = bundle["attestations"][0]
    assert statement["type"].dotted == "2.23.133.20.1"
    certify = _TcgAttestCertify.load(statement["stmt"].dump())
    attest_bytes, public_bytes = certify["tpmSAttest"].native, certify["tpmTPublic"].native
    attest = TpmsAttest.unmarshal(attest_bytes)
    area = TpmtPublic.unmarshal(public_bytes)
    assert (attest.magic, attest.type, attest.extra_data) == (0xFF544347, TpmSt.ATTEST_CERTIFY, b"\x00\xff\x55\xaa")
    assert attest.clock_info.safe == 1
    assert (attest.marshal(), area.marshal()) == (attest_bytes, public_bytes)
    assert area.object_attributes == 0x00060072 and area.parameters.key_bits == 2048
    assert attest.attested.name == area.name()
    check_qualified_name(attest.attested)
    assert area.public_key().public_numbers().n == info["subject_pk_info"]["public_key"].parsed["modulus"].native
    ak = next(c for c in (x509.load_der_x509_certificate(c.dump()) for c in bundle["certs"])
              if "test-ak" in c.subject.rfc4514_string())
    ak.public_key().verify(certify["signature"].native, attest_bytes, padding.PKCS1v15(), hashes.SHA256())


def test_cose_keys_round_trip_and_alg_must_fit_the_key(kit):
    for spec in GOLDEN_SPECS:
        public = kit.keys[spec].public_key
        assert parse_cose_key(cose_key(public, cose_alg_for(public))).public_numbers() == public.public_numbers()
    ec_key = kit.keys["ec-p256"].public_key
    with pytest.raises(Rejected) as caught:
        parse_cose_key(cose_key(ec_key, -257))
    assert caught.value.reason is Reason.MALFORMED


def test_an_ec_aks_attstmt_alg_must_name_its_curve():
    """WebAuthn L3 §5.8.5 pairs ES256 with P-256 and ES384 with P-384: a P-384 AK signing certInfo with ES256 (or a
    P-256 AK with ES384) is SIGNATURE_INVALID, as packed's alg check; a Parsec TPMT_SIGNATURE, whose hash the TPM
    scheme names whatever the curve, is checked without the pairing."""
    message = b"certInfo"
    for curve, good, bad in ((ec.SECP256R1(), -7, -35), (ec.SECP384R1(), -35, -7)):
        key = ec.generate_private_key(curve)
        check_signature(key.public_key(), good, message, sign_cert_info(key, message, good))
        sig = sign_cert_info(key, message, bad)
        with pytest.raises(Rejected) as caught:
            check_signature(key.public_key(), bad, message, sig)
        assert caught.value.reason is Reason.SIGNATURE_INVALID and "does not fit the AK's" in caught.value.detail
        check_signature(key.public_key(), bad, message, sig, cose_curve=False)


# -- tpm-acme -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tpm_acme():
    return get_format("tpm-acme")


@pytest.fixture(scope="module")
def acme_cases(tpm_acme):
    return {case.id: case for case in tpm_acme.vector_cases(SEED)}


@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_acme_goldens_verify_and_name_the_device(tpm_acme, acme_cases, spec):
    case = acme_cases[f"tpm-acme::golden::{spec}"]
    verdict = _verify(tpm_acme, case, Profile.STRUCTURAL)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims.serial.startswith("urn:ek:sha256:")
    assert _verify(tpm_acme, case, Profile.STRICT).reason is (Reason.KEY_POLICY if spec == "rsa-2048" else Reason.OK)


@pytest.mark.parametrize("mutation", acme_mutations(), ids=lambda m: m.id)
def test_every_acme_defect_gets_its_stated_reason(tpm_acme, acme_cases, mutation):
    for profile, reason in mutation.expected.items():
        verdict = _verify(tpm_acme, acme_cases[mutation.id], profile)
        assert verdict.reason is reason, f"{profile}: {verdict.summary()}"


def test_acme_regeneration_is_byte_identical_and_the_record_loads(tpm_acme, acme_cases, tmp_path):
    assert {c.id: dict(c.evidence.files) for c in tpm_acme.vector_cases(SEED)} == {
        i: dict(c.evidence.files) for i, c in acme_cases.items()}
    golden = acme_cases["tpm-acme::golden::ec-p256"]
    paths = golden.evidence.write(tmp_path)
    record = next(p for p in paths if p.name.endswith(".acme-tpm.json"))
    assert tpm_acme.detect(record) and not get_format("webauthn").detect(record)
    loaded = tpm_acme.load(record)
    assert sorted(loaded.files) == sorted(n for n in golden.evidence.files if not n.endswith(".pem"))
    anchors = tpm_acme.trust_anchors_from_files([tmp_path / "tpm_root_ca.pem"])
    assert tpm_acme.verify(loaded, anchors, at=datetime(2026, 1, 1, tzinfo=UTC)).accepted


def test_jwk_thumbprint_matches_rfc_7638():
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
         "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
         "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_x"
         "BniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
    key = rsa.RSAPublicNumbers(65537, int.from_bytes(from_b64url(n, "n"), "big")).public_key()
    assert b64url(jwk_thumbprint(key)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


# -- parsec-tpm -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def parsec():
    return get_format("parsec-tpm")


@pytest.fixture(scope="module")
def parsec_cases(parsec):
    return {case.id: case for case in parsec.vector_cases(SEED)}


def test_parsec_catalogue_names_at_least_thirty_defects():
    defects = [m for m in parsec_mutations() if m.expected[Profile.STRICT] is not Reason.OK]
    assert len({m.flag for m in defects}) >= 30
    ids = {m.id for m in parsec_mutations()}
    assert {"parsec-tpm::signature::bare-der", "parsec-tpm::binding::kid-mismatch",
            "parsec-tpm::activate::sealed-to-other-ek", "parsec-tpm::activate::ek-certificate-of-other-tpm"} <= ids
    assert {i for i in ids if i.startswith("parsec-tpm::pat::")} == {
        f"parsec-tpm::pat::{name}" for name in ("missing", "signed-by-other-key", "kid-mismatch", "type-certify",
                                                 "nonce-replayed", "sha1-bank", "trailing-bytes", "unknown-member")}
    assert not any(i.startswith("parsec-tpm::cbor::") for i in ids)


def test_parsec_device_certificates_are_signature_checked_once(parsec, parsec_cases, issuer_checks):
    """The AK and EK certificates are the TPM's, in each of its records: once a path validated, a record of the same
    TPM checks their signatures once more (then both certificates are remembered) and never again, and still checks
    their validity at its time."""
    for _ in range(3):
        for spec in GOLDEN_SPECS:
            assert _verify(parsec, parsec_cases[f"parsec-tpm::golden::{spec}"], Profile.STRUCTURAL).accepted
    checked = [child.public_bytes(Encoding.DER) for child in issuer_checks]
    assert checked and max(map(checked.count, checked)) == 2  # the first look, then once both are remembered
    case = parsec_cases[f"parsec-tpm::golden::{GOLDEN_SPECS[0]}"]
    late = parsec.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=datetime(2200, 1, 1, tzinfo=UTC))
    assert late.reason is Reason.CERT_EXPIRED


@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_parsec_goldens_verify_with_the_activation(parsec, parsec_cases, spec):
    case = parsec_cases[f"parsec-tpm::golden::{spec}"]
    verdict = _verify(parsec, case, Profile.STRUCTURAL)
    assert verdict.accepted and "asserted by the ActivateCredential record, not verifiable offline" in verdict.detail, (
        verdict.summary())
    assert verdict.claims.generated_on_device and not verdict.claims.extractable
    assert _verify(parsec, case, Profile.STRICT).reason is (Reason.KEY_POLICY if spec == "rsa-2048" else Reason.OK)
    record = json.loads(case.evidence.files[case.evidence.primary])
    assert list(record) == ["expectedNonce", "kat", "pat"]
    assert list(record["kat"]) == ["tpmVer", "kid", "sig", "certInfo", "pubArea"]
    assert list(record["pat"]) == ["tpmVer", "kid", "sig", "attestInfo"]
    sig = base64.b64decode(record["kat"]["sig"])
    assert sig[:6] == bytes.fromhex("0018000b0020")  # TPMT_SIGNATURE, as the CCC sample ("ABgACwAg...")


def test_accepted_parsec_tokens_veraison_refuses_are_flagged(parsec, parsec_cases):
    # Veraison parsec/tpm KAT.Validate: sig a TPMT_SIGNATURE with sigAlg ECDSA (0x0018), pubArea of type ECC (0x0023)
    flagged = set()
    for case in parsec_cases.values():
        if all(reason is not Reason.OK for reason in case.expected.values()):
            assert "VeraisonIncompatible" not in case.flags, case.id
            continue
        record = json.loads(case.evidence.files[case.evidence.primary])
        ecc_and_ecdsa = (base64.b64decode(record["kat"]["pubArea"])[:2] == b"\x00\x23"
                         and base64.b64decode(record["kat"]["sig"])[:2] == b"\x00\x18"
                         and base64.b64decode(record["pat"]["sig"])[:2] == b"\x00\x18")
        assert ("VeraisonIncompatible" in case.flags) is not ecc_and_ecdsa, case.id
        if not ecc_and_ecdsa:
            flagged.add(case.id)
    assert flagged == {"parsec-tpm::golden::rsa-2048", "parsec-tpm::golden::rsa-3072", "parsec-tpm::variant::rsa-ak"}
    assert "Veraison" in parsec.vector_notes()["VeraisonIncompatible"].effect


@pytest.mark.parametrize("family", ["webauthn", "tpm-acme", "parsec-tpm"])
@pytest.mark.parametrize("defect", ["wrong-size", "is-name"])
def test_each_statement_verifier_rejects_a_qualified_name_no_tpm_writes(family, defect, webauthn, cases, tpm_acme,
                                                                          acme_cases, parsec, parsec_cases):
    """The re-signed certInfo whose qualifiedName no TPM writes is MALFORMED for that reason under every profile
    (the verifiers never read qualifiedName before)."""
    fmt, by_id = {"webauthn": (webauthn, cases), "tpm-acme": (tpm_acme, acme_cases),
                  "parsec-tpm": (parsec, parsec_cases)}[family]
    for profile in Profile:
        verdict = _verify(fmt, by_id[f"{family}::attest::qualified-name-{defect}"], profile)
        assert verdict.reason is Reason.MALFORMED and "qualifiedName" in verdict.detail, verdict.summary()


@pytest.mark.parametrize("mutation", parsec_mutations(), ids=lambda m: m.id)
def test_every_parsec_defect_gets_its_stated_reason(parsec, parsec_cases, mutation):
    for profile, reason in mutation.expected.items():
        verdict = _verify(parsec, parsec_cases[mutation.id], profile)
        assert verdict.reason is reason, f"{profile}: {verdict.summary()}"


def test_parsec_through_the_hsm_with_the_default_ak_loads_and_detects(parsec, tmp_path):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("parsec-tpm", SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "tls key", created=datetime(2025, 3, 3, tzinfo=UTC))
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    nonce = bytes(range(32))
    evidence = hsm.attest("tls key", "parsec-tpm", {"attest_time": at, "nonce": base64.b64encode(nonce).decode()})
    assert sorted(evidence.files) == ["tls_key.activate-credential.json", "tls_key.ak-chain.pem",
                                      "tls_key.parsec-tpm.json", "tpm_root_ca.pem"]
    kat = json.loads(evidence.files[evidence.primary])["kat"]
    assert TpmsAttest.unmarshal(base64.b64decode(kat["certInfo"])).extra_data == nonce
    ak = hsm.attestation_identity().certificate.public_key()
    assert base64.b64decode(kat["kid"]) == b"\x01" + hashlib.sha256(spki_der(ak)).digest()
    paths = evidence.write(tmp_path)
    record = next(p for p in paths if p.name.endswith(".parsec-tpm.json"))
    assert parsec.detect(record) and not get_format("webauthn").detect(record)
    anchors = parsec.trust_anchors_from_files([tmp_path / "tpm_root_ca.pem"])
    assert parsec.verify(parsec.load(record), anchors, at=at, profile=Profile.STRICT).accepted
    without = hsm.attest("tls key", "parsec-tpm", {"attest_time": at, "activate_credential": "false"})
    assert "tls_key.activate-credential.json" not in without.files
    assert parsec.verify(without, anchors, at=at).accepted
    assert parsec.verify(without, anchors, at=at, profile=Profile.STRICT).reason is Reason.MISSING_INPUT


def _pat_of(evidence) -> tuple[dict, dict, dict]:
    record = json.loads(evidence.files[evidence.primary])
    return record, record["kat"], record["pat"]


@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_parsec_golden_pat_is_a_quote_of_the_boot_pcrs_by_the_ak_for_the_nonce(parsec, parsec_cases, spec):
    case = parsec_cases[f"parsec-tpm::golden::{spec}"]
    record, kat, pat = _pat_of(case.evidence)
    nonce = base64.b64decode(record["expectedNonce"])
    assert (pat["tpmVer"], pat["kid"]) == ("2.0", kat["kid"])
    attest_info, sig = base64.b64decode(pat["attestInfo"]), TpmtSignature.unmarshal(base64.b64decode(pat["sig"]))
    ak = x509.load_pem_x509_certificates(case.evidence.files[f"passkey-{spec}.ak-chain.pem"])[0].public_key()
    assert (sig.sig_alg, sig.hash_alg) == (TpmAlg.ECDSA, TpmAlg.SHA256)
    ak.verify(sig.bare(), attest_info, ec.ECDSA(hashes.SHA256()))  # the AK that signed the kat
    quote, certify = TpmsAttest.unmarshal(attest_info), TpmsAttest.unmarshal(base64.b64decode(kat["certInfo"]))
    assert (quote.magic, quote.type, quote.extra_data) == (0xFF544347, TpmSt.ATTEST_QUOTE, nonce)
    assert quote.extra_data == certify.extra_data and quote.qualified_signer == certify.qualified_signer
    # the same TPM a moment later, in the same boot: the AK is in the endorsement hierarchy, nothing obfuscated
    assert quote.clock_info.clock == certify.clock_info.clock + 50
    assert (quote.clock_info.reset_count, quote.clock_info.restart_count, quote.clock_info.safe,
            quote.firmware_version) == (certify.clock_info.reset_count, certify.clock_info.restart_count,
                                        certify.clock_info.safe, certify.firmware_version)
    assert quote.attested.selections == (PcrSelection(TpmAlg.SHA256, b"\xff\x00\x00"),)  # the bank of sig's hash
    boot = EmulatedTpm.for_device(TpmKit.build(SEED, parsec).device, DEFAULT_PKI_PROFILE).measured_boot()
    pcrs = []
    for measurements in boot.log[:8]:  # TPM 2.0 Part 1: extend from zero; pcrDigest = H(PCR0 ‖ ... ‖ PCR7)
        value = bytes(32)
        for measurement in measurements:
            value = hashlib.sha256(value + hashlib.sha256(measurement).digest()).digest()
        pcrs.append(value)
        assert measurements[-1] == bytes(4) and 2 <= len(measurements) <= 5  # ... then EV_SEPARATOR
    assert quote.attested.pcr_digest == hashlib.sha256(b"".join(pcrs)).digest()
    claims = _verify(parsec, case, Profile.STRUCTURAL).claims
    assert claims.extra == {"pcr_selection": "sha256:0,1,2,3,4,5,6,7", "pcr_digest": hashlib.sha256(
        b"".join(pcrs)).hexdigest(), "pcr_values_appraised": False, "ak_residency": "record-asserted"}


def test_parsec_pat_attest_info_is_a_tpms_attest_quote_byte_for_byte(parsec_cases):
    record, kat, pat = _pat_of(parsec_cases["parsec-tpm::golden::ec-p256"].evidence)
    data, cert_info = base64.b64decode(pat["attestInfo"]), base64.b64decode(kat["certInfo"])
    nonce = base64.b64decode(record["expectedNonce"])
    assert data[:6] == bytes.fromhex("ff544347" "8018")  # magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE
    assert data[6:8] == b"\x00\x22" and data[8:10] == b"\x00\x0b"  # qualifiedSigner: 34-byte SHA-256 name
    assert data[6:42] == cert_info[6:42]  # the same AK's qualified name as the kat's
    assert data[42:44] + data[44:76] == b"\x00\x20" + nonce  # extraData
    # clockInfo (17 bytes) and firmwareVersion (8): the clock 50 ms on, the rest as the kat's
    assert int.from_bytes(data[76:84], "big") == int.from_bytes(cert_info[76:84], "big") + 50
    assert data[84:101] == cert_info[84:101]
    # TPMS_QUOTE_INFO: TPML_PCR_SELECTION count 1, hash SHA-256, sizeofSelect 3, bitmap PCRs 0-7; TPM2B_DIGEST
    assert data[101:111] == bytes.fromhex("00000001" "000b" "03" "ff0000")
    assert data[111:113] == b"\x00\x20" and len(data) == 113 + 32


def test_pcr_selection_bitmap_follows_part_2():
    selection = PcrSelection.of(TpmAlg.SHA256, (0, 1, 2, 3, 4, 5, 6, 7, 10, 23))
    assert selection.select == bytes.fromhex("ff0480") and selection.indices == (0, 1, 2, 3, 4, 5, 6, 7, 10, 23)
    assert pcr_selection_list((selection, PcrSelection.of(TpmAlg.SHA1, (16,)))) == bytes.fromhex(
        "00000002" "000b03ff0480" "000403000001")
    assert QuoteInfo((selection,), b"d").marshal() == bytes.fromhex("00000001000b03ff0480" "000164")


def test_platform_token_false_writes_the_kat_alone_which_is_not_parsec_evidence(parsec, tmp_path):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("parsec-tpm", SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "tls key", created=datetime(2025, 3, 3, tzinfo=UTC))
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    with_pat = hsm.attest("tls key", "parsec-tpm", {"attest_time": at, "platform_token": "true"})
    without = hsm.attest("tls key", "parsec-tpm", {"attest_time": at, "platform_token": "false"})
    record, kat, _ = _pat_of(with_pat)
    assert json.loads(without.files[without.primary]) == {"expectedNonce": record["expectedNonce"], "kat": kat}
    anchors = TrustAnchors({"root": (hsm.attestation_identity().root,)})
    assert parsec.verify(with_pat, anchors, at=at, profile=Profile.STRICT).accepted
    for profile in Profile:
        verdict = parsec.verify(without, anchors, at=at, profile=profile)
        assert verdict.reason is Reason.MISSING_INPUT and "no pat" in verdict.detail
    with pytest.raises(ParameterError, match="platform_token"):
        hsm.attest("tls key", "parsec-tpm", {"attest_time": at, "platform_token": "maybe"})


@pytest.mark.parametrize(("given", "indices"), [
    ("0-2", (0, 1, 2)), ("0,1,2", (0, 1, 2)), (" 7, 0-1 ", (0, 1, 7)), ("ALL", tuple(range(24))), (17, (17,)),
    ([23, 4], (4, 23)), ("16-23", tuple(range(16, 24))),
])
def test_parsec_pcrs_parameter_chooses_what_the_pat_quotes(parsec, given, indices):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("parsec-tpm", SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "tls key", created=datetime(2025, 3, 3, tzinfo=UTC))
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    evidence = hsm.attest("tls key", "parsec-tpm", {"attest_time": at, "pcrs": given})
    _, _, pat = _pat_of(evidence)
    quote = TpmsAttest.unmarshal(base64.b64decode(pat["attestInfo"])).attested
    assert quote.selections == (PcrSelection.of(TpmAlg.SHA256, indices),)
    # PC Client TPM Profile: PCRs 17-22 are all ones after TPM2_Startup, the others zero; the boot extends 0-7
    boot = EmulatedTpm.for_device(hsm.device, DEFAULT_PKI_PROFILE).measured_boot()
    values = [boot.pcr(TpmAlg.SHA256, i) if i < 8 else b"\xff" * 32 if 17 <= i <= 22 else bytes(32) for i in indices]
    assert quote.pcr_digest == hashlib.sha256(b"".join(values)).digest()
    verdict = parsec.verify(evidence, TrustAnchors({"root": (hsm.attestation_identity().root,)}), at=at,
                            profile=Profile.STRICT)
    assert verdict.accepted and verdict.claims.extra["pcr_selection"] == "sha256:" + ",".join(map(str, indices))


@pytest.mark.parametrize("given", ["", "24", "0-24", "3-1", "0,0", "1,0-2", "0;1", "-1", "1-", "sha256:0", "٣", -1,
                                   24, True, [], [0, "1"], "9" * 50, 2.0])
def test_parsec_pcrs_parameter_refuses_what_selects_no_pc_client_pcr_once(given):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("parsec-tpm", SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "tls key", created=datetime(2025, 3, 3, tzinfo=UTC))
    with pytest.raises(ParameterError, match="parameter pcrs must be PCR indices 0-23"):
        hsm.attest("tls key", "parsec-tpm", {"attest_time": datetime(2025, 3, 4, tzinfo=UTC), "pcrs": given})


def test_tpm_acme_refuses_a_token_that_is_not_canonical_base64url():
    """``--param token`` must be canonical unpadded base64url (RFC 8555 8.1), as the verifier reads
    challenge.token: another value is a ParameterError, never evidence the verifier rejects MALFORMED."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "tls", created=datetime(2025, 3, 3, tzinfo=UTC))
    hsm = Hsm(Device.from_seed("tpm-acme", SEED), store)
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    for token in ("not base64!", "abcDEF_-123", "AAECAw==", "a", "abcDEF_-12A"):  # the last: 8 bytes, under 128 bits
        with pytest.raises(ParameterError, match="parameter token must be canonical unpadded base64url"):
            hsm.attest("tls", "tpm-acme", {"attest_time": at, "token": token})
    evidence = hsm.attest("tls", "tpm-acme", {"attest_time": at, "token": "abcDEF_-12AabcDEF_-12A"})
    assert json.loads(evidence.files[evidence.primary])["challenge"]["token"] == "abcDEF_-12AabcDEF_-12A"
    anchors = TrustAnchors({"root": (hsm.attestation_identity().root,)})
    assert get_format("tpm-acme").verify(evidence, anchors, at=at).accepted


def _requote(draft, edit):
    def edited(data: bytes) -> bytes:
        return edit(TpmsAttest.unmarshal(data)).marshal()
    draft.attest_info_edit = edited  # before the AK signs
    return draft.evidence()


def _edit_pat(draft, edit):
    draft.record_edit = edit  # after the AK signs
    return draft.evidence()


@pytest.mark.parametrize(("make", "reason", "detail"), [
    (lambda d: _requote(d, lambda a: replace(a, attested=replace(a.attested, selections=()))),
     Reason.ATTR_MISSING, "selects no PCR"),
    (lambda d: _requote(d, lambda a: replace(a, attested=replace(a.attested, selections=(
        PcrSelection(TpmAlg.SHA256, bytes(3)),)))), Reason.ATTR_MISSING, "selects no PCR"),
    (lambda d: _requote(d, lambda a: replace(a, attested=replace(a.attested, pcr_digest=bytes(20)))),
     Reason.MALFORMED, "pcrDigest is 20 bytes"),
    (lambda d: _requote(d, lambda a: replace(a, magic=0x00544347)), Reason.MALFORMED, "magic"),
    (lambda d: _edit_pat(d, lambda r: r.update(pat="quote")), Reason.MALFORMED, "pat is not a JSON object"),
    (lambda d: _edit_pat(d, lambda r: r["pat"].pop("attestInfo")), Reason.MISSING_INPUT, "pat has no attestInfo"),
    (lambda d: _edit_pat(d, lambda r: r["pat"].update(kid="not base64!")), Reason.MALFORMED, "pat.kid"),
    (lambda d: _edit_pat(d, lambda r: r["pat"].update(tpmVer=2)), Reason.MALFORMED, "pat.tpmVer"),
    (lambda d: _edit_pat(d, lambda r: r["pat"].update(tpmVer="1.2")), Reason.UNSUPPORTED, "pat.tpmVer"),
    (lambda d: _edit_pat(d, lambda r: r["pat"].update(sig=r["kat"]["sig"])), Reason.SIGNATURE_INVALID,
     "over pat.attestInfo"),
])
def test_every_pat_check_rejects_for_its_reason(parsec, make, reason, detail):
    kit = TpmKit.build(SEED, parsec)
    evidence = make(parsec_draft(kit, "ec-p256"))
    verdict = parsec.verify(evidence, TrustAnchors({"root": (kit.identity.root,)}), at=VALIDATION_TIME)
    assert (verdict.reason, detail in verdict.detail) == (reason, True), verdict.summary()


@pytest.mark.parametrize("length", [0, 1, 15, 16, 32])
def test_parsec_nonce_shorter_than_the_minimum_is_no_challenge_even_when_the_record_agrees(parsec, length):
    # The record travels with the token: a producer that certifies without a nonce writes expectedNonce = '' too.
    kit = TpmKit.build(SEED, parsec)
    draft = parsec_draft(kit, "ec-p256")
    draft.nonce = bytes(range(100, 100 + length))
    evidence = draft.evidence()
    record = json.loads(evidence.files[evidence.primary])
    assert base64.b64decode(record["expectedNonce"]) == draft.nonce
    anchors = TrustAnchors({"root": (kit.identity.root,)})
    for profile in Profile:
        verdict = parsec.verify(evidence, anchors, at=VALIDATION_TIME, profile=profile)
        if length >= MIN_NONCE_BYTES:
            assert verdict.accepted, verdict.summary()
        else:
            assert verdict.reason is Reason.CHALLENGE_MISMATCH and "fewer than 16" in verdict.detail, verdict.summary()


def test_parsec_nonce_minimum_is_switchable_per_format_instance_and_bounds_the_nonce_parameter(parsec):
    kit = TpmKit.build(SEED, parsec)
    draft = parsec_draft(kit, "ec-p256")
    draft.nonce = b"\x07" * 8
    lenient = ParsecTpmFormat()
    lenient.min_nonce_bytes = 8
    anchors = TrustAnchors({"root": (kit.identity.root,)})
    assert lenient.verify(draft.evidence(), anchors, at=VALIDATION_TIME).accepted
    assert parsec.verify(draft.evidence(), anchors, at=VALIDATION_TIME).reason is Reason.CHALLENGE_MISMATCH
    request = AttestationRequest(device=kit.device, partition="default", key=kit.keys["ec-p256"],
                                 key_signer=kit.store.signer(kit.keys["ec-p256"]), attesting=kit.identity,
                                 parameters={"nonce": base64.b64encode(b"\x07" * 15).decode()}, at=VALIDATION_TIME)
    with pytest.raises(ParameterError, match="parameter nonce must be bytes or base64 text of 16 to 64 bytes"):
        parsec_draft_for(request, kit.tpm.pki_profile)


@pytest.mark.parametrize("forged", ["sealed-to-other-ek", "random-blob-and-secret"])
def test_parsec_activation_record_is_reported_as_an_assertion_not_a_proof(parsec, forged):
    # Only the EK's holder can open credentialBlob/secret (TPM 2.0 Part 1 §24): a record whose writer copies
    # credential into activated cannot be told from a genuine one offline, so no verdict may call it a proof.
    kit = TpmKit.build(SEED, parsec)
    draft = parsec_draft(kit, "ec-p256")
    if forged == "sealed-to-other-ek":
        draft.make_for_ek = replace(draft.tpm, serial=f"{draft.tpm.serial}-other").ek_key.public_key()

    def claim_release(record: dict) -> None:
        if forged == "random-blob-and-secret":
            record["credentialBlob"] = base64.b64encode(bytes(range(68))).decode()
            record["secret"] = base64.b64encode(bytes(256)).decode()
        record["activated"] = record["credential"]
    draft.activation_edit = claim_release
    evidence = draft.evidence()
    anchors = TrustAnchors({"root": (kit.identity.root,)})
    for profile in Profile:
        verdict = parsec.verify(evidence, anchors, at=VALIDATION_TIME, profile=profile)
        assert "resident with the EK" not in verdict.detail.replace("residency with the EK asserted", ""), (
            verdict.summary())
        if verdict.accepted:
            assert verdict.claims.extra["ak_residency"] == "record-asserted"
            assert "not verifiable offline" in verdict.detail
    without = parsec_draft(kit, "ec-p256")
    without.activation = False
    verdict = parsec.verify(without.evidence(), anchors, at=VALIDATION_TIME)
    assert verdict.accepted and verdict.claims.extra["ak_residency"] == "none", verdict.summary()


def test_activate_credential_releases_only_for_the_ek_and_the_name(kit):
    ek = kit.tpm.ek_key
    name = kit.tpm.ak_public(kit.identity.key.public_key()).name()
    made = make_credential(ek.public_key(), name, b"c" * 32, b"s" * 32, b"o" * 32)
    _made_credential.cache_clear()  # so the second call seals again
    assert made == make_credential(ek.public_key(), name, b"c" * 32, b"s" * 32, b"o" * 32)  # reproducible
    assert activate_credential(ek, name, made.credential_blob, made.secret) == b"c" * 32
    assert activate_credential(ek, name[:-1] + b"\x00", made.credential_blob, made.secret) is None
    other_ek = EmulatedTpm(SEED, "other", kit.tpm.initialised, pki_profile=DEFAULT_PKI_PROFILE).ek_key
    assert activate_credential(other_ek, name, made.credential_blob, made.secret) is None
    flipped = made.credential_blob[:-1] + bytes([made.credential_blob[-1] ^ 1])
    assert activate_credential(ek, name, flipped, made.secret) is None


def test_activate_credential_opens_what_tpm2_pytss_makes(kit):
    utils = pytest.importorskip("tpm2_pytss.utils", reason="tpm2-pytss (the 'tpm' extra) is not installed")
    types = pytest.importorskip("tpm2_pytss.types")
    ek_area = kit.tpm.ek_public().marshal()
    public, _ = types.TPM2B_PUBLIC.unmarshal(len(ek_area).to_bytes(2, "big") + ek_area)
    name = kit.tpm.ak_public(kit.identity.key.public_key()).name()
    blob, secret = utils.make_credential(public, b"pytss credential", types.TPM2B_NAME(name))
    released = activate_credential(kit.tpm.ek_key, name, bytes(blob.marshal())[2:], bytes(secret.marshal())[2:])
    assert released == b"pytss credential"


def test_make_credential_seals_again_the_same_bytes_from_cold_caches(kit):
    ek = kit.tpm.ek_key.public_key()
    name = kit.tpm.ak_public(kit.identity.key).name()
    made = make_credential(ek, name, b"c" * 32, b"s" * 32, b"o" * 32)
    _made_credential.cache_clear()
    _secret.cache_clear()  # the OAEP ciphertext is remembered apart from the blob
    assert made == make_credential(ek, name, b"c" * 32, b"s" * 32, b"o" * 32)
    assert activate_credential(kit.tpm.ek_key, name, made.credential_blob, made.secret) == b"c" * 32


@pytest.mark.parametrize("sealed_to", ["own-ek", "own-ek-given", "other-ek"])
def test_parsec_exchange_releases_what_activate_credential_does(parsec, sealed_to):
    draft = parsec_draft(TpmKit.build(SEED, parsec), "ec-p256")
    ek = draft.tpm.ek_key
    if sealed_to == "own-ek-given":
        draft.make_for_ek = ek.public_key()
    elif sealed_to == "other-ek":
        draft.make_for_ek = replace(draft.tpm, serial=f"{draft.tpm.serial}-other").ek_key.public_key()
    record = draft.exchange()
    released = activate_credential(ek, base64.b64decode(record["objectName"]),
                                   base64.b64decode(record["credentialBlob"]), base64.b64decode(record["secret"]))
    assert (released is None) is (sealed_to == "other-ek")
    assert record["activated"] == (None if released is None else base64.b64encode(released).decode())


def test_key_spki_of_a_private_key_is_that_of_its_public_key(kit):
    key = kit.identity.key
    assert key_spki(key) == key_spki(key.public_key()) == spki_der(key.public_key())
    assert kit.tpm.ak_public(key) == kit.tpm.ak_public(key.public_key())
    assert kit.tpm.ak_qualified_name(key) == kit.tpm.ak_qualified_name(key.public_key())


def test_kit_draws_from_faker_what_a_faker_with_every_provider_draws():
    fake = seeded_faker(SEED, ["en_US"], "webauthn")
    assert _faked(SEED) == (fake.domain_word(), fake.numerify("VTPM-########"), fake.random_int(0, 60 * 24 * 20),
                            tuple(fake.random_int(0, 59) for _ in GOLDEN_SPECS))


def test_pem_chain_armours_each_entry_in_lines_of_64():
    ders = [bytes(range(256)) * 3, b"", b"\x30" * 16, bytes(range(256)) * 3]
    assert pem_chain(ders) == "".join(
        f"-----BEGIN CERTIFICATE-----\n{textwrap.fill(base64.b64encode(der).decode(), 64)}\n-----END CERTIFICATE-----\n"
        for der in ders).encode()


def test_the_root_beside_a_statement_is_the_trusted_roots_pem(parsec):
    kit = TpmKit.build(SEED, parsec)
    draft = parsec_draft(kit, "ec-p256")
    assert draft.beside()[ROOT_FILE] == kit.identity.root.public_bytes(Encoding.PEM)
    other = tpm_pki(SEED, "ecdsa-p384").root
    draft.trusted_root = other
    assert draft.beside()[ROOT_FILE] == other.public_bytes(Encoding.PEM)



def _verdicts_under_both_roots(fmt, evidence, at):
    ecdsa_root, rsa_root = tpm_pki(SEED, "ecdsa-p384").root, tpm_pki(SEED).root
    return (fmt.verify(evidence, TrustAnchors({"root": (ecdsa_root,)}), at=at, profile=Profile.STRICT),
            fmt.verify(evidence, TrustAnchors({"root": (rsa_root,)}), at=at, profile=Profile.STRICT))


@pytest.mark.parametrize("format_name", ["parsec-tpm", "tpm-acme", "ms-kast"])
def test_a_tpm_of_the_ecdsa_profile_has_every_certificate_from_that_hierarchy(format_name):
    fmt = type(get_format(format_name))()
    fmt.pki_profile = "ecdsa-p384"
    device = Device.from_seed(format_name, SEED)
    store = SoftKeyStore(seed=SEED)
    key = store.generate(KeySpec.parse("ec-p256"), "tls key", created=datetime(2025, 3, 3, tzinfo=UTC))
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    request = AttestationRequest(device=device, partition="default", key=key, key_signer=store.signer(key),
                                 attesting=fmt.provision(device, "default"), at=at)
    accepted, rejected = _verdicts_under_both_roots(fmt, fmt.generate(request), at)
    assert accepted.accepted, accepted.summary()
    # the default root has the same name and another key; ms-kast carries its own root, which is then no anchor
    assert rejected.reason in (Reason.CERT_SIGNATURE_INVALID, Reason.CHAIN_UNTRUSTED), rejected.summary()


def test_a_webauthn_tpm_of_the_ecdsa_profile_registers_under_that_hierarchy(webauthn, monkeypatch):
    monkeypatch.setattr(TPM_ATTESTATION, "pki_profile", "ecdsa-p384")
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("webauthn", SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "passkey", created=datetime(2025, 3, 3, tzinfo=UTC))
    at = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
    evidence = hsm.attest("passkey", "webauthn", {"attest_time": at, "rp_id": "bank.example"})
    accepted, rejected = _verdicts_under_both_roots(webauthn, evidence, at)
    assert accepted.accepted, accepted.summary()
    # the default root has the same name and another key; ms-kast carries its own root, which is then no anchor
    assert rejected.reason in (Reason.CERT_SIGNATURE_INVALID, Reason.CHAIN_UNTRUSTED), rejected.summary()


def test_a_webauthn_tpm_registration_draft_of_the_ecdsa_profile_chains_to_that_root(webauthn):
    statement = TpmAttestation()
    statement.pki_profile = "ecdsa-p384"
    draft = TpmKit.build(SEED, statement).draft("ec-p256")
    assert draft.tpm.pki_profile == "ecdsa-p384" and draft.tpm.pki is tpm_pki(SEED, "ecdsa-p384")
    evidence = draft.evidence()
    assert evidence.files[ROOT_FILE] == cert_pem(tpm_pki(SEED, "ecdsa-p384").root)
    accepted, rejected = _verdicts_under_both_roots(webauthn, evidence, VALIDATION_TIME)
    assert accepted.accepted, accepted.summary()
    assert rejected.reason in (Reason.CERT_SIGNATURE_INVALID, Reason.CHAIN_UNTRUSTED), rejected.summary()


@pytest.mark.parametrize(("profile", "intermediate"), [("rsa", "RSA-4096"), ("ecdsa-p384", "P-384")])
def test_the_forged_ak_issuer_has_the_intermediates_key_type_as_its_comment_says(profile, intermediate):
    mutation = next(m for m in mutations(profile) if m.id == "webauthn::chain::ak-forged-issuer")
    assert f"an impostor {intermediate} key" in mutation.comment
    statement = TpmAttestation()
    statement.pki_profile = profile
    kit = TpmKit.build(SEED, statement)
    bench = Workbench(kit, kit.draft(mutation.golden))
    mutation.apply(bench)
    assert bench.draft.x5c is not None
    forged, genuine = x509.load_der_x509_certificate(bench.draft.x5c[0]), kit.identity.certificate
    assert (forged.issuer, forged.signature_algorithm_oid) == (genuine.issuer, genuine.signature_algorithm_oid)
    with pytest.raises(InvalidSignature):
        forged.verify_directly_issued_by(kit.pki.intermediate)


@pytest.mark.parametrize("format_name", ["parsec-tpm", "tpm-acme", "ms-kast"])
def test_every_vector_of_the_ecdsa_profile_gets_its_defined_verdict(format_name):
    # Every case, the AK-replacing variants included, must come from the format's own hierarchy.
    fmt = type(get_format(format_name))()
    fmt.pki_profile = "ecdsa-p384"
    for case in fmt.vector_cases(SEED):
        for profile, expected in case.expected.items():
            verdict = fmt.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time,
                                 profile=profile)
            assert verdict.reason is expected, f"{case.id} {profile}: {verdict.summary()}"


# -- the pki_profile parameter ----------------------------------------------------------------------

@pytest.mark.parametrize("format_name", ["parsec-tpm", "tpm-acme", "ms-kast"])
def test_the_pki_profile_parameter_gives_the_ak_a_provider_of_that_profile_provisions(format_name):
    fmt = get_format(format_name)
    profiled = type(fmt)()
    profiled.pki_profile = "ecdsa-p384"
    device = Device.from_seed(format_name, SEED)
    key = SoftKeyStore(seed=SEED).generate(KeySpec.parse("ec-p256"), "k")
    request = AttestationRequest(device=device, partition="default", key=key, key_signer=None,
                                 attesting=fmt.provision(device, "default"), parameters={"pki_profile": "ecdsa-p384"})
    recertified, profile = fmt.profiled(request)
    assert profile == "ecdsa-p384"
    assert recertified.attesting.chain_der == profiled.provision(device, "default").chain_der
    assert recertified.attesting.root == tpm_pki(SEED, "ecdsa-p384").root
    assert fmt.profiled(replace(request, parameters={})) == (replace(request, parameters={}), "rsa")
    with pytest.raises(ParameterError, match="parameter pki_profile must be one of rsa, ecdsa-p384, not 'p384'"):
        fmt.profiled(replace(request, parameters={"pki_profile": "p384"}))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_hsmsim(list(args), timeout=120)


@pytest.mark.parametrize(("format_name", "primary"), [
    ("tpm-acme", "k.acme-tpm.json"), ("ms-kast", "k.kast.cmc"), ("parsec-tpm", "k.parsec-tpm.json"),
])
def test_cli_attest_with_the_ecdsa_profile_writes_its_root_and_verifies(tmp_path, format_name, primary):
    state = str(tmp_path / "state")
    created = _cli("key", "create", "--state", state, "--format", format_name, "--label", "k", "--spec", "ec-p256")
    assert created.returncode == 0, created.stderr
    outputs = {}
    for profile in ("ecdsa-p384", "rsa"):
        out = tmp_path / profile
        attest = _cli("attest", "--format", format_name, "--key", "k", "--out", f"{out}/", "--state", state,
                      "--param", f"pki_profile={profile}")
        assert attest.returncode == 0, attest.stderr
        outputs[profile] = out
    root = x509.load_pem_x509_certificate((outputs["ecdsa-p384"] / ROOT_FILE).read_bytes())
    root_key = root.public_key()
    assert isinstance(root_key, ec.EllipticCurvePublicKey) and root_key.curve.name == "secp384r1"
    assert root.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA384
    evidence = str(outputs["ecdsa-p384"] / primary)
    verdict = _cli("verify", evidence, "--root", str(outputs["ecdsa-p384"] / ROOT_FILE), "--profile", "strict")
    assert (verdict.returncode, verdict.stdout.strip()) == (0, "ACCEPT"), verdict.stdout + verdict.stderr
    under_rsa = _cli("verify", evidence, "--root", str(outputs["rsa"] / ROOT_FILE))
    assert under_rsa.returncode == 1 and under_rsa.stdout.startswith(("REJECT CERT_SIGNATURE_INVALID",
                                                                     "REJECT CHAIN_UNTRUSTED")), under_rsa.stdout


@pytest.mark.parametrize(("format_name", "message"), [
    ("tpm-acme", "hsmsim: error: parameter pki_profile must be one of rsa, ecdsa-p384, not 'ecdsa-p256'"),
    ("purebred", "hsmsim: error: purebred cannot pass pki_profile to ms-kast"),
])
def test_cli_refuses_a_pki_profile_in_one_line_with_exit_2(tmp_path, format_name, message):
    state = str(tmp_path / "state")
    created = _cli("key", "create", "--state", state, "--format", format_name, "--label", "k", "--spec", "rsa-2048")
    assert created.returncode == 0, created.stderr
    parameters = ["--param", "kind=windows"] if format_name == "purebred" else []
    attest = _cli("attest", "--format", format_name, "--key", "k", "--out", str(tmp_path / "out/"), "--state", state,
                  "--param", "pki_profile=ecdsa-p256", *parameters)
    lines = attest.stderr.strip().splitlines()
    assert attest.returncode == 2 and len(lines) == 1 and lines[0].startswith(message), attest.stderr
    assert not (tmp_path / "out").exists()


def _att_stmt(case) -> dict:
    record = json.loads(case.evidence.files[case.evidence.primary])
    return cbor2.loads(from_b64url(record["credential"]["response"]["attestationObject"], "attestationObject"))[
        "attStmt"]


def _x5c(case) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(der) for der in _att_stmt(case)["x5c"]]


def _extension_tlvs(cert: x509.Certificate) -> dict[str, bytes]:
    _fields, tlvs = extension_tlvs(cert.tbs_certificate_bytes)
    return {e.oid.dotted_string: tlv for e, tlv in zip(cert.extensions, tlvs, strict=True)}


SAN, EKU, BASIC_CONSTRAINTS = "2.5.29.17", "2.5.29.37", "2.5.29.19"
AK_REISSUES = {"akcert::no-eku": {EKU}, "akcert::subject-present": set(), "akcert::ca-true": {BASIC_CONSTRAINTS},
               "akcert::no-san": {SAN}, "akcert::san-not-critical": {SAN},
               "akcert::manufacturer-fido-conformance": {SAN}, "akcert::manufacturer-swtpm-localca": {SAN},
               "chain::ak-expired": set(), "chain::ak-forged-issuer": set()}


@pytest.mark.parametrize(("vector", "named"), AK_REISSUES.items())
def test_an_ak_certificate_reissue_keeps_every_other_extension_byte_for_byte(cases, vector, named):
    # One named defect: the extensions it does not name (the Windows AIK policy's BMPString notice among them)
    # are the golden's bytes.
    golden = _extension_tlvs(_x5c(cases["webauthn::golden::ec-p256"])[0])
    mutated = _extension_tlvs(_x5c(cases[f"webauthn::{vector}"])[0])
    assert "2.5.29.32" in golden
    assert {oid: tlv for oid, tlv in mutated.items() if oid not in named} == {
        oid: tlv for oid, tlv in golden.items() if oid not in named}


def _acme_ak_certificate(case) -> x509.Certificate:
    record = json.loads(case.evidence.files[case.evidence.primary])
    attestation = cbor2.loads(from_b64url(record["payload"]["attObj"], "attObj"))
    return x509.load_der_x509_certificate(attestation["attStmt"]["x5c"][0])


def test_the_acme_unknown_root_ak_certificate_has_the_acme_profile(acme_cases):
    # Only the PKI is foreign: the AK certificate names the genuine device as the golden's does, so the
    # identifier checks pass and only the chain fails.
    golden = _acme_ak_certificate(acme_cases["tpm-acme::golden::ec-p256"])
    foreign = _acme_ak_certificate(acme_cases["tpm-acme::chain::unknown-root"])
    assert [e.oid for e in foreign.extensions] == [e.oid for e in golden.extensions]
    san = x509.ExtensionOID.SUBJECT_ALTERNATIVE_NAME
    assert foreign.extensions.get_extension_for_oid(san) == golden.extensions.get_extension_for_oid(san)
    assert foreign.issuer == golden.issuer and foreign.public_key() != golden.public_key()


def _activation(case) -> dict:
    name = next(n for n in case.evidence.files if n.endswith(".activate-credential.json"))
    return json.loads(case.evidence.files[name])


def test_the_foreign_ek_ca_vector_changes_only_the_ek_certificates_issuer(parsec_cases):
    # ActivateEkUntrusted: the TPM's own EK under an untrusted CA. The credential is still sealed to that EK and
    # released (else it would also be ActivateOtherTpmEk), so only the EK chain can fail.
    golden = _activation(parsec_cases["parsec-tpm::golden::ec-p256"])
    mutated = _activation(parsec_cases["parsec-tpm::activate::ek-certificate-foreign-root"])
    assert {k: v for k, v in mutated.items() if k != "ekCertificate"} == {
        k: v for k, v in golden.items() if k != "ekCertificate"}
    assert mutated["activated"] == mutated["credential"]
    genuine_ek, foreign_ek = (x509.load_der_x509_certificate(base64.b64decode(r["ekCertificate"]))
                              for r in (golden, mutated))
    assert (foreign_ek.serial_number, foreign_ek.public_key(), foreign_ek.issuer) == (
        genuine_ek.serial_number, genuine_ek.public_key(), genuine_ek.issuer)
    aki = x509.AuthorityKeyIdentifier
    assert foreign_ek.extensions.get_extension_for_class(aki) != genuine_ek.extensions.get_extension_for_class(aki)


def test_the_imported_key_vector_isolates_sensitive_data_origin(cases):
    # ImportedKey: only sensitiveDataOrigin is clear (ATTR_NOT_LOCAL); fixedTPM/fixedParent stay set, else the
    # key would also be ATTR_EXTRACTABLE.
    pub_area = _att_stmt(cases["webauthn::attributes::imported-key"])["pubArea"]
    attributes = TpmtPublic.unmarshal(pub_area).object_attributes
    assert not attributes & TpmaObject.SENSITIVE_DATA_ORIGIN
    assert attributes & TpmaObject.FIXED_TPM and attributes & TpmaObject.FIXED_PARENT


def test_pubarea_trailing_bytes_certifies_the_name_of_the_bytes_sent(cases):
    # PubAreaTrailingBytes is an encoding defect only: attested.name = nameAlg ‖ H(pubArea as sent), so a
    # verifier hashing what it received finds the Name right and only strict parsing (MALFORMED) catches it.
    statement = _att_stmt(cases["webauthn::pubarea::trailing-bytes"])
    pub_area = statement["pubArea"]
    assert pub_area[-1:] == b"\x00"
    attested = TpmsAttest.unmarshal(statement["certInfo"]).attested
    assert attested.name == pub_area[2:4] + hashlib.sha256(pub_area).digest()
    assert pub_area == _att_stmt(cases["webauthn::golden::ec-p256"])["pubArea"] + b"\x00"


def _certificates_in(data: bytes) -> list[x509.Certificate]:
    """Every DER certificate found in ``data`` (a CMC request nests them deeply), by scanning for SEQUENCEs."""
    found, at = [], 0
    while (at := data.find(b"\x30\x82", at)) >= 0:
        end = at + 4 + int.from_bytes(data[at + 2:at + 4], "big")
        try:
            found.append(x509.load_der_x509_certificate(data[at:end]))
            at = end
        except ValueError:
            at += 1
    return found


@pytest.mark.shared
def test_the_rsa_profiles_cas_are_shaped_as_microsofts_tpm_root_and_aik_ca(shared_dir):
    """Subject attribute types, extensions in order with their criticality, and serial lengths of Microsoft TPM Root
    Certificate Authority 2014 and the AIK CA a Surface Pro sent (Purebred, 2015), but for the keyUsage's criticality,
    which follows the AIK CA of a 2022 Windows Hello registration (py_webauthn; Microsoft's CAs since 2019 mark it
    critical)."""
    def shape(cert: x509.Certificate) -> tuple[object, ...]:
        tbs = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))["tbs_certificate"]
        return ([(a["type"].dotted, a["value"].name) for rdn in tbs["subject"].chosen for a in rdn],
                [(e["extn_id"].dotted, e["critical"].native) for e in tbs["extensions"]],
                cert.serial_number.bit_length() // 8 + 1)

    sent = (shared_dir / "interop" / "purebred" / "SP4_1709" / "1_device_preenroll_attestation.bin").read_bytes()
    aik_ca, root = _certificates_in(sent)
    assert "EUS-IFX-KeyId" in aik_ca.subject.rfc4514_string() and root.subject == root.issuer
    pki = tpm_pki(SEED, "rsa")
    assert shape(pki.root) == shape(root)
    names, extensions, serial_octets = shape(aik_ca)
    assert extensions[0] == ("2.5.29.15", False)
    assert shape(pki.intermediate) == (names, [("2.5.29.15", True), *extensions[1:]], serial_octets)
    recent = _statement_of_record(json.loads((PY_WEBAUTHN_DATA / REAL_WINDOWS_HELLO["ec-p256"]).read_text()))
    assert shape(pki.intermediate) == shape(x509.load_der_x509_certificate(recent["x5c"][1]))
    assert pki.root.extensions.get_extension_for_class(x509.KeyUsage).value == \
        root.extensions.get_extension_for_class(x509.KeyUsage).value
