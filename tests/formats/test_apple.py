"""The apple family: apple-acme (ACME device-attest-01 ``apple``), apple-appattest, and the WebAuthn ``apple``
statement: byte shape, every reason of the verifiers, the catalogues, determinism, the CLI."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import der_explicit, der_integer, der_sequence, der_tlv
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.apple import acme_catalogue, appattest_catalogue, webauthn_catalogue
from hsmsim.formats.apple.acme import OID_FRESHNESS, OID_SERIAL, OID_UDID, AcmeRecord
from hsmsim.formats.apple.appattest import AAGUID, AppAttestRecord
from hsmsim.formats.apple.extensions import (
    OID_APP_ATTEST_DEVICE,
    OID_APP_ATTEST_OS,
    OID_NONCE,
    app_attest_device_value,
    extension_value,
)
from hsmsim.formats.apple.pki import APP_ATTEST, ENTERPRISE, WEBAUTHN, apple_pki
from hsmsim.formats.apple.receipt import (
    APP_ID,
    ATTESTED_KEY,
    CLIENT_HASH,
    CREATION_TIME,
    ENVIRONMENT,
    EXPIRATION_TIME,
    RECEIPT_TYPE,
    TOKEN,
    Ber,
    ParsedReceipt,
    parse_receipt,
    read_ber,
    receipt_binding,
    receipt_pki,
)
from hsmsim.formats.apple.record import b64, from_b64
from hsmsim.formats.apple.vectors import ATTEST_TIME
from hsmsim.formats.apple.webauthn_statement import AppleAnonymousAttestation, draft_for
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.model.vectors import VectorCase
from hsmsim.pki.chain import issued_by
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.container import AuthenticatorData, Registration, cbor_decode, cbor_encode
from hsmsim.webauthn.statements import SignedData, statement_format
from tests.cli_process import run_hsmsim

ROOT = Path(__file__).resolve().parents[2]
SEED = "apple-test"
CATALOGUES = {"apple-acme": acme_catalogue, "apple-appattest": appattest_catalogue}


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, VectorCase]]:
    out = {name: {c.id: c for c in module.vector_cases(SEED)} for name, module in CATALOGUES.items()}
    out["webauthn"] = {c.id: c for c in webauthn_catalogue.vector_cases(SEED)}
    return out


def _verify(format_name: str, case: VectorCase, profile: Profile = Profile.STRUCTURAL):
    return get_format(format_name).verify(case.evidence, TrustAnchors({"root": case.anchors}),
                                          at=case.validation_time, profile=profile)


def _record(evidence: Evidence) -> dict:
    return json.loads(evidence.files[evidence.primary])


# -- byte shape ------------------------------------------------------------------------------

def test_pkis_are_p384_emulated_and_deterministic():
    for spec in (ENTERPRISE, APP_ATTEST, WEBAUTHN):
        pki = apple_pki(SEED, spec)
        root, inter = pki.root.certificate, pki.intermediate.certificate
        assert "EMULATED" in root.subject.rfc4514_string() and "EMULATED" in inter.subject.rfc4514_string()
        assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
        assert root.public_key().curve.name == inter.public_key().curve.name == "secp384r1"
        assert root.signature_hash_algorithm.name == "sha384"
        assert inter.issuer == root.subject
        assert apple_pki(SEED, spec).root.certificate == root
        assert apple_pki("other", spec).root.certificate != root
    assert apple_pki(SEED, ENTERPRISE).root.certificate.subject.rfc4514_string() == (
        "C=US,O=Apple Inc.,CN=Apple Enterprise Attestation Root CA EMULATED")


def test_acme_answer_is_the_step_ca_shape(cases):
    case = cases["apple-acme"]["apple-acme::golden::ec-p256-serial"]
    record = AcmeRecord.parse(case.evidence.files[case.evidence.primary])
    assert set(_record(case.evidence)) == {"identifier", "challenge", "payload"}
    att_obj = cbor_decode(record.att_obj, "attObj")
    assert list(att_obj) == ["fmt", "attStmt"] and att_obj["fmt"] == "apple"
    assert list(att_obj["attStmt"]) == ["x5c"] and len(att_obj["attStmt"]["x5c"]) == 2
    leaf, sub_ca = (x509.load_der_x509_certificate(der) for der in att_obj["attStmt"]["x5c"])
    assert sub_ca.subject.rfc4514_string() == "C=US,O=Apple Inc.,CN=Apple Enterprise Attestation Sub CA 1 EMULATED"
    assert extension_value(leaf, OID_FRESHNESS) == hashlib.sha256(record.token.encode()).digest()
    assert extension_value(leaf, OID_SERIAL) == record.identifier.encode()  # raw text, no DER wrapping
    assert extension_value(leaf, OID_UDID).startswith(b"00008110-")
    csr = x509.load_pem_x509_csr(case.evidence.files["ec-p256-serial.csr"])
    assert csr.public_key() == leaf.public_key()


def test_app_attest_object_is_apples_shape(cases):
    case = cases["apple-appattest"]["apple-appattest::golden::production"]
    record = AppAttestRecord.parse(case.evidence.files[case.evidence.primary])
    document = cbor_decode(record.attestation, "attestation")
    assert list(document) == ["fmt", "attStmt", "authData"] and document["fmt"] == "apple-appattest"
    assert list(document["attStmt"]) == ["x5c", "receipt"]
    cred_cert = x509.load_der_x509_certificate(document["attStmt"]["x5c"][0])
    point = cred_cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert record.key_id == hashlib.sha256(point).digest()
    auth = document["authData"]
    assert auth[:32] == hashlib.sha256(record.app_id.encode()).digest()
    assert auth[32] == 0x40 and auth[33:37] == bytes(4)
    assert auth[37:53] == AAGUID["production"] == b"appattest" + bytes(7)
    assert auth[53:55] == b"\x00\x20" and auth[55:87] == record.key_id
    nonce = hashlib.sha256(auth + hashlib.sha256(record.challenge).digest()).digest()
    assert extension_value(cred_cert, OID_NONCE) == bytes.fromhex("3024a1220420") + nonce
    assert base64.b64decode(_record(case.evidence)["keyId"]) == record.key_id


DATA = ROOT / "tests" / "data"
REAL_APP_ATTEST_CRED_CERT = DATA / "fido2-net-lib" / "app_attest_cred_cert.der"
REAL_ENTERPRISE_ROOT = DATA / "apple" / "apple_enterprise_attestation_root_ca.pem"
REAL_PASSKEY = DATA / "py_webauthn" / "apple_passkey.webauthn.json"
REAL_WEBAUTHN_ROOT = DATA / "py_webauthn" / "apple_webauthn_root.pem"


def _profile(cert: x509.Certificate) -> list[tuple[str, bool]]:
    return [(ext.oid.dotted_string, ext.critical) for ext in cert.extensions]


def _real_passkey_cred_cert() -> x509.Certificate:
    response = json.loads(REAL_PASSKEY.read_bytes())["credential"]["response"]
    obj = cbor_decode(base64.urlsafe_b64decode(response["attestationObject"] + "=="), "attestationObject")
    return x509.load_der_x509_certificate(obj["attStmt"]["x5c"][0])


def _webauthn_object(case: VectorCase) -> tuple[dict, Registration]:
    record = Registration.parse(case.evidence.files[case.evidence.primary])
    return cbor_decode(record.attestation_object, "attestationObject"), record


def _assert_cred_cert_profile(emulated: x509.Certificate, real: x509.Certificate, at: datetime) -> None:
    assert _profile(emulated) == _profile(real)
    assert extension_value(emulated, "2.5.29.15") == extension_value(real, "2.5.29.15") == bytes.fromhex("030204f0")
    # The serial is the issuance time in milliseconds: six bytes, notBefore a day earlier, notAfter three days on.
    for cert in (emulated, real):
        issued = datetime.fromtimestamp(cert.serial_number // 1000, UTC)
        assert 1 <= cert.serial_number >> 40 < 0x80  # a positive 6-byte INTEGER
        assert cert.not_valid_before_utc == issued - timedelta(days=1)
        assert cert.not_valid_after_utc == issued + timedelta(days=2)
    assert emulated.serial_number // 1000 == int(at.timestamp())


def test_cred_certs_follow_the_published_ones(cases):
    """The App Attest and WebAuthn credCerts against real ones (tests/data: fido2-net-lib, py_webauthn)."""
    case = cases["apple-appattest"]["apple-appattest::golden::production"]
    record = AppAttestRecord.parse(case.evidence.files[case.evidence.primary])
    emulated = x509.load_der_x509_certificate(cbor_decode(record.attestation, "attestation")["attStmt"]["x5c"][0])
    real = x509.load_der_x509_certificate(REAL_APP_ATTEST_CRED_CERT.read_bytes())
    _assert_cred_cert_profile(emulated, real, ATTEST_TIME)
    # 8.5 is the real one's with the App ID in [1204] (bf 89 34) swapped for the record's.
    assert app_attest_device_value("VNP5A9S22V.76R387MAVZ") == extension_value(real, OID_APP_ATTEST_DEVICE)
    device = extension_value(emulated, OID_APP_ATTEST_DEVICE)
    assert device == app_attest_device_value(record.app_id)
    assert der_explicit(1204, der_tlv(0x04, record.app_id.encode())) in device
    assert extension_value(emulated, OID_APP_ATTEST_OS) == extension_value(real, OID_APP_ATTEST_OS)

    obj, _ = _webauthn_object(cases["webauthn"]["webauthn::golden::apple-ec-p256"])
    emulated = x509.load_der_x509_certificate(obj["attStmt"]["x5c"][0])
    _assert_cred_cert_profile(emulated, _real_passkey_cred_cert(), ATTEST_TIME)



# -- the App Attest receipt against the real one (tests/data/fido2-net-lib/app_attest_receipt.ber) ------------

REAL_APP_ATTEST_RECEIPT = DATA / "fido2-net-lib" / "app_attest_receipt.ber"
SHA256_NULL = bytes.fromhex("300d06096086480165030402010500")
ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def _document(case: VectorCase) -> dict:
    return cbor_decode(AppAttestRecord.parse(case.evidence.files[case.evidence.primary]).attestation, "attestation")


def _receipt(case: VectorCase) -> bytes:
    return _document(case)["attStmt"]["receipt"]


def _frame(element: Ber) -> tuple:
    """The BER framing: tags, which lengths are indefinite, the nesting; no content, no definite lengths."""
    return element.tag, element.indefinite, tuple(_frame(child) for child in element.children)


def _payload(data: bytes) -> tuple[list[int], bytes]:
    """The sizes of the eContent pieces and the eContent they make up."""
    signed_data = read_ber(data).children[1].children[0]
    pieces = signed_data.children[2].children[1].children[0].children
    return [len(piece.content) for piece in pieces], b"".join(piece.content for piece in pieces)


def _issued(cred_cert: x509.Certificate) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=cred_cert.serial_number)


def _assert_attest_receipt(receipt: ParsedReceipt, cred_cert: x509.Certificate, app_id: str,
                           environment: bytes | None) -> None:
    assert {version for _kind, version, _value in receipt.attributes} == {1}
    assert receipt.value(APP_ID) == app_id.encode()
    assert receipt.value(ATTESTED_KEY) == cred_cert.public_bytes(Encoding.DER)
    assert len(receipt.value(CLIENT_HASH)) == 32
    token = receipt.value(TOKEN)
    assert len(token) == 88 and len(base64.b64decode(token, validate=True)) == 64
    assert (receipt.value(RECEIPT_TYPE), receipt.value(ENVIRONMENT)) == (b"ATTEST", environment)
    created, expires = (receipt.value(kind) for kind in (CREATION_TIME, EXPIRATION_TIME))
    assert all(re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value) for value in (created, expires))
    created_at, expires_at = (datetime.strptime(value.decode(), "%Y-%m-%dT%H:%M:%S.%f%z")
                              for value in (created, expires))
    assert expires_at - created_at == timedelta(days=90)
    assert timedelta(0) < created_at - _issued(cred_cert) < timedelta(seconds=1)  # made just after credCert


def test_app_attest_receipt_is_framed_as_apples(cases):
    """BER ContentInfo / SignedData / encapContentInfo / certificates with indefinite lengths, the eContent a
    constructed OCTET STRING of 1000-byte pieces, everything else definite: tag for tag as the real receipt."""
    real = REAL_APP_ATTEST_RECEIPT.read_bytes()
    head = bytes.fromhex("308006092a864886f70d010702a0803080020101310f300d060960864801650304020105003080"
                         "06092a864886f70d010701a080248004" "8203e8")
    for environment in ("development", "production"):
        emulated = _receipt(cases["apple-appattest"][f"apple-appattest::golden::{environment}"])
        assert _frame(read_ber(emulated)) == _frame(read_ber(real))
        assert emulated.startswith(head) and real.startswith(head)
        for data in (emulated, real):
            sizes, payload = _payload(data)
            assert sizes[0] == 1000 and len(sizes) == 2
            tree = read_ber(payload)  # the attributes: a definite DER SET in type order, not DER-sorted
            assert tree.encoding == payload and not any(element.indefinite for element in _walk(tree))
            encoded = [attribute.encoding for attribute in tree.children]
            assert encoded != sorted(encoded)


def _walk(element: Ber) -> list[Ber]:
    return [element, *(found for child in element.children for found in _walk(child))]


def test_app_attest_receipt_attributes_are_apples(cases):
    """Fields 2, 3, 4, 5, 6, 7 (development only), 12, 21, version 1, valued as the real receipt's."""
    real = parse_receipt(REAL_APP_ATTEST_RECEIPT.read_bytes())
    real_cred_cert = x509.load_der_x509_certificate(REAL_APP_ATTEST_CRED_CERT.read_bytes())
    assert [kind for kind, _version, _value in real.attributes] == [2, 3, 4, 5, 6, 7, 12, 21]
    _assert_attest_receipt(real, real_cred_cert, "VNP5A9S22V.76R387MAVZ", b"sandbox")
    for environment, field7 in (("development", b"sandbox"), ("production", None)):
        case = cases["apple-appattest"][f"apple-appattest::golden::{environment}"]
        record, cred_cert, _ = _app_attest(case)
        emulated = parse_receipt(_receipt(case))
        assert [kind for kind, _version, _value in emulated.attributes] == [
            kind for kind, _version, _value in real.attributes if kind != ENVIRONMENT or field7]
        _assert_attest_receipt(emulated, cred_cert, record.app_id, field7)
        assert emulated.value(CLIENT_HASH) == hashlib.sha256(record.challenge).digest()


def _name_profile(name: x509.Name) -> list[tuple[bytes, int]]:
    """Each RDN's attribute type and string tag."""
    return [(rdn.children[0].children[0].encoding, rdn.children[0].children[1].tag)
            for rdn in read_ber(name.public_bytes()).children]


def _receipt_cert_profile(cert: x509.Certificate) -> tuple:
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    extensions = [(ext.oid.dotted_string, ext.critical, _frame(read_ber(extension_value(cert, ext.oid.dotted_string))))
                  for ext in cert.extensions]
    return (extensions, _name_profile(cert.subject), _name_profile(cert.issuer), key.curve.name,
            cert.signature_hash_algorithm.name, len(der_integer(cert.serial_number)),
            [extension_value(cert, oid) for oid in ("2.5.29.15", "2.5.29.19", "1.2.840.113635.100.12.15",
                                                   "1.2.840.113635.100.6.2.3")],
            cert.not_valid_after_utc - cert.not_valid_before_utc)


def test_app_attest_receipt_is_signed_as_apples(cases):
    """One SignerInfo (v1, issuerAndSerialNumber, sha256, no signed attributes, ecdsa-with-SHA256 over the
    eContent) and the chain signer, Application Integration CA 5 - G1, Root CA - G3, profiled as the real ones."""
    real = REAL_APP_ATTEST_RECEIPT.read_bytes()
    emulated = _receipt(cases["apple-appattest"]["apple-appattest::golden::development"])
    profiles, names = [], []
    for data in (real, emulated):
        receipt = parse_receipt(data)
        certs = [x509.load_der_x509_certificate(der) for der in receipt.certificates]
        version, sid, digest, algorithm, signature = receipt.signer_info.children
        assert version.encoding == bytes.fromhex("020101") and signature.tag == 0x04
        assert sid.encoding == der_sequence(certs[0].issuer.public_bytes(), der_integer(certs[0].serial_number))
        assert (digest.encoding, algorithm.encoding) == (SHA256_NULL, ECDSA_SHA256)
        certs[0].public_key().verify(signature.content, _payload(data)[1], ec.ECDSA(hashes.SHA256()))
        assert issued_by(certs[0], certs[1]) and issued_by(certs[1], certs[2]) and issued_by(certs[2], certs[2])
        profiles.append([_receipt_cert_profile(cert) for cert in certs])
        names.append([cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for cert in certs])
    assert profiles[0] == profiles[1]
    assert names[1] == [f"{real_name} EMULATED" for real_name in names[0]] == [
        "Application Attestation Fraud Receipt Signing EMULATED", "Apple Application Integration CA 5 - G1 EMULATED",
        "Apple Root CA - G3 EMULATED"]
    root, ca = (x509.load_der_x509_certificate(der) for der in parse_receipt(real).certificates[2:0:-1])
    pki = receipt_pki(SEED, ATTEST_TIME)
    for emulated_cert, real_cert in ((pki.root.certificate, root), (pki.ca.certificate, ca)):
        assert (emulated_cert.not_valid_before_utc, emulated_cert.not_valid_after_utc) == (
            real_cert.not_valid_before_utc, real_cert.not_valid_after_utc)


def test_the_receipt_signer_is_reissued_yearly():
    """Each year's signing certificate starts on the real 2022 one's date (04-19 13:33:03) and runs 395 days
    less a second, so the one in force covers the attestation; the root and CA stay."""
    for at, start in ((ATTEST_TIME, datetime(2025, 4, 19, 13, 33, 3, tzinfo=UTC)),
                      (datetime(2026, 4, 19, 13, 33, 3, tzinfo=UTC), datetime(2026, 4, 19, 13, 33, 3, tzinfo=UTC))):
        signer = receipt_pki(SEED, at).signer.certificate
        assert signer.not_valid_before_utc == start <= at < signer.not_valid_after_utc
    first, second = receipt_pki(SEED, ATTEST_TIME), receipt_pki(SEED, ATTEST_TIME + timedelta(days=60))
    assert first.signer.certificate != second.signer.certificate and first.root == second.root
    assert receipt_pki("other", ATTEST_TIME).root.certificate != first.root.certificate


def test_app_attest_verifier_reads_the_receipt(cases):
    """A receipt that parses must attest credCert's key (KEY_MISMATCH) for the App ID (RELYING_PARTY_MISMATCH);
    one that does not is accepted unread by the structural profile and MALFORMED under strict; the claims say
    which."""
    app = cases["apple-appattest"]
    for environment in ("production", "development"):
        for profile in Profile:
            verdict = _verify("apple-appattest", app[f"apple-appattest::golden::{environment}"], profile)
            assert verdict.accepted and verdict.claims.extra == {"receipt_parsed": True}
    stand_in = app["apple-appattest::receipt::not-cms"]
    verdict = _verify("apple-appattest", stand_in)
    assert verdict.accepted and verdict.claims.extra == {"receipt_parsed": False}
    assert _verify("apple-appattest", stand_in, Profile.STRICT).reason is Reason.MALFORMED
    for defect, reason in (("receipt::other-key", Reason.KEY_MISMATCH),
                           ("receipt::other-app", Reason.RELYING_PARTY_MISMATCH)):
        for profile in Profile:
            verdict = _verify("apple-appattest", app[f"apple-appattest::{defect}"], profile)
            assert verdict.reason is reason and "receipt" in verdict.detail
    app_id, key = receipt_binding(REAL_APP_ATTEST_RECEIPT.read_bytes())
    assert app_id == b"VNP5A9S22V.76R387MAVZ"
    assert key == x509.load_der_x509_certificate(REAL_APP_ATTEST_CRED_CERT.read_bytes()).public_key()


def test_app_attest_receipt_defects_change_only_the_receipt(cases):
    app = cases["apple-appattest"]
    golden = _document(app["apple-appattest::golden::production"])
    genuine = parse_receipt(golden["attStmt"]["receipt"])
    for defect in ("receipt::other-key", "receipt::other-app", "receipt::not-cms"):
        document = _document(app[f"apple-appattest::{defect}"])
        assert (document["authData"], document["attStmt"]["x5c"]) == (golden["authData"], golden["attStmt"]["x5c"])
        assert document["attStmt"]["receipt"] != golden["attStmt"]["receipt"]
    other_key = parse_receipt(_receipt(app["apple-appattest::receipt::other-key"]))
    assert other_key.certificates == genuine.certificates and other_key.value(APP_ID) == genuine.value(APP_ID)
    other_cert = x509.load_der_x509_certificate(other_key.value(ATTESTED_KEY))
    golden_cert = x509.load_der_x509_certificate(golden["attStmt"]["x5c"][0])
    assert other_cert.public_key() != golden_cert.public_key() and other_cert.issuer == golden_cert.issuer
    other_app = parse_receipt(_receipt(app["apple-appattest::receipt::other-app"]))
    assert other_app.value(APP_ID) == b"ZZZZZZZZZZ.com.example.other"
    assert [a for a in other_app.attributes if a[0] != APP_ID] == [a for a in genuine.attributes if a[0] != APP_ID]
    stand_in = _receipt(app["apple-appattest::receipt::not-cms"])
    assert stand_in[:3] == b"\x30\x81\xb4" and len(stand_in) == 183


def _with_receipt(case: VectorCase, receipt: bytes) -> Evidence:
    record = _record(case.evidence)
    document = cbor_decode(base64.b64decode(record["attestation"]), "attestation")
    document["attStmt"]["receipt"] = receipt
    record["attestation"] = b64(cbor_encode(document))
    return Evidence(case.evidence.format, {case.evidence.primary: json.dumps(record).encode()}, case.evidence.primary)


def test_broken_receipts_are_verdicts(cases):
    """Truncated, bit-flipped, deeply nested or over-long receipts: the reader raises ValueError only, and the
    verifier answers (structural accepts what does not parse, strict rejects it MALFORMED)."""
    golden = cases["apple-appattest"]["apple-appattest::golden::production"]
    data = _receipt(golden)
    broken = [data[:n] for n in (1, 2, 17, 60, 1100, len(data) - 2, len(data) - 1)]
    broken += [data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:] for i in range(0, len(data), 97)]
    broken += [b"\x30\x80" * 200, b"\x30\x84\xff\xff\xff\xff", b"\x30\x85" + bytes(5), b"\x00\x00",
               b"\x1f\x81\x00", data + b"\x00", b"\x04\x80" + data]
    fmt = get_format("apple-appattest")
    for receipt in broken:
        with contextlib.suppress(ValueError):
            parse_receipt(receipt)
        evidence = _with_receipt(golden, receipt)
        for profile in Profile:
            verdict = fmt.verify(evidence, TrustAnchors({"root": golden.anchors}), at=golden.validation_time,
                                 profile=profile)
            assert verdict.reason in (Reason.OK, Reason.MALFORMED, Reason.KEY_MISMATCH,
                                      Reason.RELYING_PARTY_MISMATCH), (receipt[:8].hex(), verdict.summary())
            if verdict.accepted:
                assert profile is Profile.STRUCTURAL or verdict.claims.extra == {"receipt_parsed": True}


def test_receipt_environment_parameter_sets_field_7():
    """Development receipts say sandbox (both real ones do); production ones have no field 7 (a GUESS) unless
    ``receipt_environment`` names one."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "app", created=ATTEST_TIME - timedelta(days=1))
    hsm = Hsm(Device.from_seed("apple-appattest", SEED), store)
    for parameters, field7 in (({"environment": "development"}, b"sandbox"), ({}, None),
                               ({"receipt_environment": "production"}, b"production"),
                               ({"environment": "development", "receipt_environment": "absent"}, None)):
        evidence = hsm.attest("app", "apple-appattest", {**parameters, "attest_time": ATTEST_TIME})
        record = AppAttestRecord.parse(evidence.files[evidence.primary])
        receipt = parse_receipt(cbor_decode(record.attestation, "attestation")["attStmt"]["receipt"])
        assert receipt.value(ENVIRONMENT) == field7
        verdict = get_format("apple-appattest").verify(evidence, TrustAnchors({"root": (
            apple_pki(SEED, APP_ATTEST).root.certificate,)}), at=ATTEST_TIME + timedelta(hours=1),
            profile=Profile.STRICT)
        assert verdict.accepted, verdict.summary()
    with pytest.raises(ParameterError, match="receipt_environment"):
        hsm.attest("app", "apple-appattest", {"receipt_environment": "staging", "attest_time": ATTEST_TIME})

def test_apple_acme_refuses_a_token_or_identifier_type_its_verifier_would_reject():
    """A ``token`` that is not canonical unpadded base64url, or an ``identifier_type`` other than the two the format
    defines, is a parameter the format cannot use (ParameterError), not evidence its own verifier rejects
    MALFORMED / UNSUPPORTED; the two types and a canonical token verify."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "mdm", created=ATTEST_TIME - timedelta(days=1))
    hsm = Hsm(Device.from_seed("apple-acme", SEED), store)
    for parameters in ({"token": "not base64!"}, {"token": "abcDEF_-123"}, {"token": "AAECAw=="},
                       {"token": "abcDEF_-12A"}, {"token": "A" * 20},  # 8 and 15 bytes: under 128 bits
                       {"identifier_type": "dns"}, {"identifier_type": "Permanent-Identifier"}):
        with pytest.raises(ParameterError, match=next(iter(parameters))):
            hsm.attest("mdm", "apple-acme", {**parameters, "attest_time": ATTEST_TIME})
    anchors = TrustAnchors({"root": (apple_pki(SEED, ENTERPRISE).root.certificate,)})
    for parameters in ({"token": "abcDEF_-12AabcDEF_-12A"}, {"identifier_type": "hardware-module"}, {}):
        evidence = hsm.attest("mdm", "apple-acme", {**parameters, "attest_time": ATTEST_TIME})
        verdict = get_format("apple-acme").verify(evidence, anchors, at=ATTEST_TIME + timedelta(hours=1))
        assert verdict.accepted, (parameters, verdict.summary())


def test_app_attest_refuses_parameters_that_make_a_record_its_verifier_will_not_read():
    """A 100,000-character challenge makes an App Attest record over what the verifier reads: a ParameterError, not
    a file `hsmsim verify` refuses."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "app", created=ATTEST_TIME - timedelta(days=1))
    hsm = Hsm(Device.from_seed("apple-appattest", SEED), store)
    with pytest.raises(ParameterError, match=r"app.appattest.json \d+ bytes, more than the \d+ its verifier reads"):
        hsm.attest("app", "apple-appattest", {"challenge": "A" * 100_000, "attest_time": ATTEST_TIME})


def test_apple_registrations_name_the_real_passkeys_aaguid_and_id_length(cases):
    """The real 2021 passkey's authData: AAGUID f24a8e70-d0d3-f82c-2937-32523cc4de5a, a 20-byte credential id, as the
    golden and what ``attest`` makes."""
    response = json.loads(REAL_PASSKEY.read_bytes())["credential"]["response"]
    real = AuthenticatorData.parse(cbor_decode(base64.urlsafe_b64decode(response["attestationObject"] + "=="),
                                               "attestationObject")["authData"])
    obj, _ = _webauthn_object(cases["webauthn"]["webauthn::golden::apple-ec-p256"])
    golden = AuthenticatorData.parse(obj["authData"])
    assert golden.credential.aaguid == real.credential.aaguid == bytes.fromhex("f24a8e70d0d3f82c293732523cc4de5a")
    assert len(golden.credential.credential_id) == len(real.credential.credential_id) == 20
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "passkey")
    evidence = Hsm(Device.from_seed("webauthn", SEED), store).attest("passkey", "webauthn", {"fmt": "apple"})
    record = json.loads(evidence.files[evidence.primary])["credential"]["response"]
    made = AuthenticatorData.parse(cbor_decode(base64.urlsafe_b64decode(record["attestationObject"] + "=="),
                                               "attestationObject")["authData"])
    assert (made.credential.aaguid, len(made.credential.credential_id)) == (real.credential.aaguid, 20)


def test_managed_device_attestation_leaf_keeps_its_own_profile(cases):
    """No MDA leaf is published: the emulated one keeps keyUsage digitalSignature and a 16-byte serial, and is named
    as round2_formats.md 2.0 reports real ones (``CN=<hash>, OU=AAA Certification, O=Apple Inc.``)."""
    case = cases["apple-acme"]["apple-acme::golden::ec-p256-serial"]
    att_obj = cbor_decode(AcmeRecord.parse(case.evidence.files[case.evidence.primary]).att_obj, "attObj")
    leaf = x509.load_der_x509_certificate(att_obj["attStmt"]["x5c"][0])
    assert extension_value(leaf, "2.5.29.15") == bytes.fromhex("03020780")
    assert leaf.serial_number >> 127 == 1
    assert [(a.oid._name, a.value) for a in leaf.subject][1:] == [
        ("organizationalUnitName", "AAA Certification"), ("organizationName", "Apple Inc.")]
    assert re.fullmatch("[0-9a-f]{64}", leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def _ca_profile(cert: x509.Certificate) -> tuple:
    serial = cert.serial_number
    return (len(serial.to_bytes(serial.bit_length() // 8 + 1, "big")), serial.bit_length(),
            cert.not_valid_after_utc.time(), cert.signature_hash_algorithm.name,
            [(a.oid, a._type) for a in cert.subject],
            [(e.oid, e.critical) for e in cert.extensions])


def test_enterprise_pki_is_shaped_as_apples_real_root():
    """The emulated Enterprise Attestation root against Apple's real one (tests/data/apple): serial length (20
    octets, 159 bits), notAfter at midnight (2047-02-20 00:00:00), names, extensions and their order; the Sub CA has a
    20-octet serial and ends on 2032-02-18 (an audit of live chains, docs/formats/apple.md)."""
    real = x509.load_pem_x509_certificate(REAL_ENTERPRISE_ROOT.read_bytes())
    pki = apple_pki(SEED, ENTERPRISE)
    root, sub_ca = pki.root.certificate, pki.intermediate.certificate
    assert _ca_profile(root) == _ca_profile(real)
    assert (root.not_valid_before_utc, root.not_valid_after_utc) == (real.not_valid_before_utc,
                                                                     real.not_valid_after_utc)
    assert len(sub_ca.serial_number.to_bytes(20, "big")) == 20 and sub_ca.serial_number.bit_length() == 159
    assert sub_ca.not_valid_after_utc.date().isoformat() == "2032-02-18"


def test_real_apple_passkey_registration_verifies():
    """py_webauthn's real WebAuthn ``apple`` registration under Apple's real root: accepted while its credCert is
    valid, CERT_EXPIRED after."""
    webauthn = get_format("webauthn")
    evidence = webauthn.load(REAL_PASSKEY)
    trust = webauthn.trust_anchors_from_files([REAL_WEBAUTHN_ROOT])
    for profile in Profile:
        verdict = webauthn.verify(evidence, trust, at=datetime(2021, 9, 1, 23, 30, tzinfo=UTC), profile=profile)
        assert verdict.accepted, (profile, verdict.detail)
    late = webauthn.verify(evidence, trust, at=datetime(2021, 9, 4, tzinfo=UTC))
    assert late.reason is Reason.CERT_EXPIRED


# -- the verifiers: every vector, every reason -------------------------------------------------

@pytest.mark.parametrize("format_name", [*CATALOGUES, "webauthn"])
def test_every_vector_gets_its_expected_reason(cases, format_name):
    wrong = []
    for case in cases[format_name].values():
        for profile, expected in case.expected.items():
            verdict = _verify(format_name, case, profile)
            if verdict.reason is not expected:
                wrong.append(f"{case.id} {profile.value}: expected {expected.value}, got {verdict.summary()}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("format_name", "reasons"), [
    ("apple-acme", {"ATTR_MISSING", "CHALLENGE_MISMATCH", "MALFORMED", "CERT_UNKNOWN_CRITICAL", "ATTR_CONFLICT",
                    "UNSUPPORTED", "CHAIN_UNTRUSTED", "CERT_SIGNATURE_INVALID", "CHAIN_INCOMPLETE", "CERT_EXPIRED",
                    "CERT_NOT_YET_VALID", "CERT_NOT_CA", "KEY_MISMATCH", "MISSING_INPUT", "CSR_SIGNATURE_INVALID",
                    "KEY_POLICY", "UNEXPECTED_CONTENT"}),
    ("apple-appattest", {"CHALLENGE_MISMATCH", "ATTR_MISSING", "MALFORMED", "KEY_MISMATCH",
                         "RELYING_PARTY_MISMATCH", "ATTR_CONFLICT", "CHAIN_UNTRUSTED", "CHAIN_INCOMPLETE",
                         "CERT_EXPIRED", "CERT_SIGNATURE_INVALID", "KEY_POLICY", "UNSUPPORTED",
                         "UNEXPECTED_CONTENT"}),
])
def test_catalogue_reaches_every_reason_of_the_verifier(cases, format_name, reasons):
    reached = {r.value for case in cases[format_name].values() for r in case.expected.values()}
    assert reasons <= reached


def test_goldens_carry_normalised_claims(cases):
    verdict = _verify("apple-acme", cases["apple-acme"]["apple-acme::golden::ec-p384-serial"], Profile.STRICT)
    claims = verdict.claims
    assert verdict.accepted and claims is not None
    assert (claims.vendor, claims.key_type, claims.key_size, claims.firmware) == ("Apple", "EC-secp384r1", 384,
                                                                                  "18.3.1")
    assert claims.generated_on_device and claims.never_extractable and not claims.extractable
    assert claims.serial == _record(cases["apple-acme"]["apple-acme::golden::ec-p384-serial"].evidence)[
        "identifier"]["value"]
    for environment in ("production", "development"):
        verdict = _verify("apple-appattest", cases["apple-appattest"][f"apple-appattest::golden::{environment}"])
        assert verdict.accepted and verdict.claims.model == f"App Attest ({environment})"
        assert verdict.claims.label and "." in verdict.claims.label  # the App ID


def test_freshness_is_never_skipped_when_absent(cases):
    """step-ca skips the comparison when 8.11.1 is absent; the reference verifier does not."""
    verdict = _verify("apple-acme", cases["apple-acme"]["apple-acme::freshness::missing"])
    assert verdict.reason is Reason.ATTR_MISSING and "freshness" in verdict.detail


def test_wrong_roots_and_time(cases):
    golden = cases["apple-acme"]["apple-acme::golden::ec-p256-serial"]
    other_root = apple_pki(SEED, APP_ATTEST).root.certificate
    fmt = get_format("apple-acme")
    assert fmt.verify(golden.evidence, TrustAnchors({"root": (other_root,)}),
                      at=golden.validation_time).reason is Reason.CHAIN_UNTRUSTED
    assert fmt.verify(golden.evidence, TrustAnchors({"root": golden.anchors}),
                      at=golden.validation_time + timedelta(days=4)).reason is Reason.CERT_EXPIRED


@pytest.mark.parametrize("format_name", list(CATALOGUES))
@pytest.mark.parametrize("data", [b"", b"{", b"[]", b"{}", b'{"identifier": 1}', b"\xff" * 300,
                                  b'{"a":' * 100 + b"1" + b"}" * 100, b"x" * (300 * 1024)])
def test_garbage_records_are_verdicts(format_name, data):
    fmt = get_format(format_name)
    primary = f"x{fmt.record_suffix}"  # type: ignore[attr-defined]
    verdict = fmt.verify(Evidence(format_name, {primary: data}, primary), TrustAnchors({"root": ()}))
    assert not verdict.accepted and verdict.reason is not Reason.INTERNAL_ERROR


# -- the catalogues ------------------------------------------------------------------------------

@pytest.mark.parametrize("format_name", list(CATALOGUES))
def test_catalogue_goldens_first_and_thirty_defects(cases, format_name):
    module = CATALOGUES[format_name]
    ids = list(cases[format_name])
    goldens = [i for i in ids if "::golden::" in i]
    assert ids[:len(goldens)] == goldens and len(goldens) >= 2
    mutations: list[Mutation] = module.mutations()
    defects = {m.flag for m in mutations if m.expected[Profile.STRICT] is not Reason.OK}
    assert len(defects) >= 30
    assert len({m.id for m in mutations}) == len(mutations) and len({m.flag for m in mutations}) == len(mutations)
    notes = module.notes()
    assert all(flag in notes for case in cases[format_name].values() for flag in case.flags)


# -- one defect per vector: each differs from its golden by the named defect only -------------------------------

def _acme_chain(case: VectorCase) -> list[x509.Certificate]:
    record = AcmeRecord.parse(case.evidence.files[case.evidence.primary])
    return [x509.load_der_x509_certificate(der) for der in cbor_decode(record.att_obj, "attObj")["attStmt"]["x5c"]]


def _app_attest(case: VectorCase) -> tuple[AppAttestRecord, x509.Certificate, bytes]:
    record = AppAttestRecord.parse(case.evidence.files[case.evidence.primary])
    document = cbor_decode(record.attestation, "attestation")
    return record, x509.load_der_x509_certificate(document["attStmt"]["x5c"][0]), document["authData"]


def test_acme_identifier_and_csr_defects_change_one_thing(cases):
    acme = cases["apple-acme"]
    golden = acme["apple-acme::golden::ec-p256-serial"]
    golden_leaf = _acme_chain(golden)[0]
    identifier = AcmeRecord.parse(golden.evidence.files[golden.evidence.primary]).identifier
    wrapped = _acme_chain(acme["apple-acme::identifier::serial-der-utf8string"])[0]
    assert extension_value(wrapped, OID_SERIAL) == der_tlv(0x0C, identifier.encode())
    assert extension_value(wrapped, OID_UDID) == extension_value(golden_leaf, OID_UDID)  # the UDID stays
    # the CSR keeps its PEM form; only its signature is broken
    data = acme["apple-acme::key::csr-bad-signature"].evidence.files["ec-p256-serial.csr"]
    assert data.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    csr = x509.load_pem_x509_csr(data)
    golden_csr = x509.load_pem_x509_csr(golden.evidence.files["ec-p256-serial.csr"])
    assert csr.tbs_certrequest_bytes == golden_csr.tbs_certrequest_bytes and not csr.is_signature_valid


def test_acme_root_name_collision_keeps_the_leaf_identity(cases):
    acme = cases["apple-acme"]
    golden_leaf, golden_sub_ca = _acme_chain(acme["apple-acme::golden::ec-p256-serial"])
    leaf, sub_ca = _acme_chain(acme["apple-acme::chain::root-name-collision"])
    assert (leaf.subject, leaf.serial_number, leaf.public_key()) == (
        golden_leaf.subject, golden_leaf.serial_number, golden_leaf.public_key())
    assert sub_ca.subject == golden_sub_ca.subject and sub_ca.public_key() != golden_sub_ca.public_key()
    assert issued_by(leaf, sub_ca) and not issued_by(leaf, golden_sub_ca)


def test_app_attest_auth_data_edit_leaves_the_counter_zero(cases):
    """The nonce covers authData with counter 7; the authData sent is the genuine one (counter 0), so only the
    nonce check (CHALLENGE_MISMATCH) fails, not the counter check (ATTR_CONFLICT)."""
    app = cases["apple-appattest"]
    _, golden_cert, golden_auth = _app_attest(app["apple-appattest::golden::production"])
    record, cred_cert, auth = _app_attest(app["apple-appattest::nonce::auth-data-edited"])
    assert auth == golden_auth and auth[33:37] == bytes(4)
    client_data_hash = hashlib.sha256(record.challenge).digest()
    edited = auth[:33] + (7).to_bytes(4, "big") + auth[37:]
    assert extension_value(cred_cert, OID_NONCE) == bytes.fromhex("3024a1220420") + hashlib.sha256(
        edited + client_data_hash).digest()
    assert cred_cert.subject == golden_cert.subject and cred_cert.serial_number == golden_cert.serial_number


def test_app_attest_p384_key_keeps_the_serial(cases):
    app = cases["apple-appattest"]
    _, golden_cert, _ = _app_attest(app["apple-appattest::golden::production"])
    _, cred_cert, _ = _app_attest(app["apple-appattest::key::p384"])
    assert cred_cert.serial_number == golden_cert.serial_number
    assert isinstance(cred_cert.public_key(), ec.EllipticCurvePublicKey)
    assert cred_cert.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]


@pytest.mark.parametrize("format_name", list(CATALOGUES))
def test_resigned_means_the_genuine_ca_signed_the_leaf(cases, format_name):
    """Resigned: the genuine CA key issued x5c[0] after the mutation (it verifies under the genuine
    intermediate); chain vectors whose leaf another key signed are Stale."""
    intermediate = apple_pki(SEED, ENTERPRISE if format_name == "apple-acme" else APP_ATTEST).intermediate.certificate
    checked = 0
    for case in cases[format_name].values():
        if "Resigned" not in case.flags:
            continue
        leaf = _acme_chain(case)[0] if format_name == "apple-acme" else _app_attest(case)[1]
        assert issued_by(leaf, intermediate), case.id
        checked += 1
    assert checked >= 15
    stale = {"chain::wrong-root", "chain::cred-cert-forged", "chain::webauthn-pki", "chain::root-name-collision",
             "chain::leaf-signed-by-attested-key"}
    for case in cases[format_name].values():
        if case.id.split("::", 1)[1] in stale:
            assert "Stale" in case.flags, case.id
            leaf = _acme_chain(case)[0] if format_name == "apple-acme" else _app_attest(case)[1]
            assert not issued_by(leaf, intermediate), case.id
    resigned = {"apple-acme": "apple-acme::chain::intermediate-not-ca",
                "apple-appattest": "apple-appattest::chain::cred-cert-expired"}[format_name]
    assert "Resigned" in cases[format_name][resigned].flags


def test_webauthn_apple_statement_defects(cases):
    ids = list(cases["webauthn"])
    assert ids[0] == "webauthn::golden::apple-ec-p256"
    assert len([i for i in ids if i.startswith("webauthn::apple::")]) >= 8
    assert set(webauthn_catalogue.notes()) == {m.flag for m in webauthn_catalogue.mutations()}
    assert all(flag.startswith("Apple") for flag in webauthn_catalogue.notes())  # no clash in the webauthn notes


def test_vectors_are_deterministic():
    for module in (*CATALOGUES.values(), webauthn_catalogue):
        first = [(c.id, dict(c.evidence.files)) for c in module.vector_cases("determinism")]
        again = [(c.id, dict(c.evidence.files)) for c in module.vector_cases("determinism")]
        other = [(c.id, dict(c.evidence.files)) for c in module.vector_cases("determinism-2")]
        assert first == again and first != other


def test_corpus_holds_the_apple_vectors():
    for name in ("apple-acme", "apple-appattest"):
        document = json.loads((ROOT / "vectors" / f"{name}_verify.json").read_text())
        assert document["numberOfTests"] == len(CATALOGUES[name].vector_cases("hsmsim-corpus-v1"))


# -- the WebAuthn apple statement -----------------------------------------------------------------

def _request(spec: str, seed: str = SEED) -> AttestationRequest:
    store = SoftKeyStore(seed=seed)
    key = store.generate(KeySpec.parse(spec), f"passkey-{spec}")
    device = Device.from_seed("webauthn", seed)
    fmt = get_format("webauthn")
    return AttestationRequest(device, "", key, store.signer(key), fmt.provision(device, ""), {"fmt": "apple"},
                              datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def test_statement_is_registered_and_round_trips():
    statement = statement_format("apple")
    assert isinstance(statement, AppleAnonymousAttestation)
    request = _request("ec-p256")
    assert statement.aaguid(request) == bytes.fromhex("f24a8e70d0d3f82c293732523cc4de5a")
    evidence = get_format("webauthn").generate(request)
    root = x509.load_pem_x509_certificate(evidence.files["apple_root_ca.pem"])
    verdict = get_format("webauthn").verify(evidence, TrustAnchors({"root": (root,)}),
                                            at=request.at + timedelta(hours=1), profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    assert (verdict.claims.vendor, verdict.claims.key_type) == ("Apple", "EC-secp256r1")


def test_statement_names_a_credential_key_as_every_verifier_does():
    """Apple certifies P-256 credentials only; credCert for another key still gets hsmsim.encoding's key_facts
    names in the claims (Ed25519 and its 256 bits, not a class name)."""
    request = _request("ec-p256")
    credential = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    draft = replace(draft_for(request), credential_key=credential)
    auth_data, client_data_hash = bytes(37), hashlib.sha256(b"clientDataJSON").digest()
    signed = SignedData(auth_data, client_data_hash, credential, bytes(16))
    claims = AppleAnonymousAttestation().verify(draft.render(auth_data, client_data_hash), signed,
                                                TrustAnchors({"root": (draft.pki.root.certificate,)}),
                                                at=request.at + timedelta(hours=1), profile=Profile.STRUCTURAL)
    assert (claims["key_type"], claims["key_size"]) == ("Ed25519", 256)


def test_statement_refuses_keys_apple_cannot_hold():
    for spec in ("ec-p384", "rsa-2048"):
        with pytest.raises(UnsupportedKeyError):
            get_format("webauthn").generate(_request(spec))


# -- generation and the CLI --------------------------------------------------------------------

def test_generators_refuse_keys_the_secure_enclave_cannot_hold():
    store = SoftKeyStore(seed=SEED)
    for format_name, spec in (("apple-acme", "rsa-2048"), ("apple-acme", "ed25519"), ("apple-appattest", "ec-p384")):
        key = store.generate(KeySpec.parse(spec), f"k-{format_name}-{spec}")
        device = Device.from_seed(format_name, SEED)
        fmt = get_format(format_name)
        request = AttestationRequest(device, "", key, store.signer(key), fmt.provision(device, ""))
        with pytest.raises(UnsupportedKeyError):
            fmt.generate(request)


def hsmsim(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--state", str(state)] if state is not None else []
    return run_hsmsim([*args, *extra], timeout=120, cwd=ROOT)


@pytest.mark.parametrize(("format_name", "record"), [("apple-acme", "mdm.acme-apple.json"),
                                                     ("apple-appattest", "mdm.appattest.json")])
def test_cli_create_attest_export_verify(tmp_path, format_name, record):
    state = tmp_path / "device"
    created = hsmsim("key", "create", "--format", format_name, "--label", "mdm", "--spec", "ec-p256",
                     "--created", "2026-03-01T00:00:00Z", state=state)
    assert created.returncode == 0, created.stderr
    out = tmp_path / "out" / record
    attested = hsmsim("attest", "--key", "mdm", "--out", str(out), "--at", "2026-03-02T10:00:00Z", state=state)
    assert attested.returncode == 0, attested.stderr
    assert hsmsim("pki", "export", str(tmp_path / "pki"), state=state).returncode == 0
    root = str(tmp_path / "pki" / "root.crt")
    for target in (out, out.parent):  # the record, and its directory, without --format
        verified = hsmsim("verify", str(target), "--root", root, "--at", "2026-03-02T11:00:00Z", "--profile", "strict",
                          "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["format"] == format_name
    assert detect(out).name == format_name
    document = json.loads(out.read_text())
    if format_name == "apple-acme":
        document["challenge"]["token"] = "AAAA"
    else:
        document["challenge"] = "AAAA"
    out.write_text(json.dumps(document))
    rejected = hsmsim("verify", str(out), "--root", root, "--at", "2026-03-02T11:00:00Z")
    assert (rejected.returncode, rejected.stdout.split(":")[0]) == (1, "REJECT CHALLENGE_MISMATCH")


def test_the_webauthn_pki_is_dated_and_numbered_as_apples():
    """Apple WebAuthn Root CA and CA 1 (the real root, and x5c[1] of the real passkey registration) end at midnight,
    2045-03-15 and 2030-03-13, and have 16-octet serials; the emulated ones copy both validity periods and the
    serial length."""
    real_root = x509.load_pem_x509_certificate(REAL_WEBAUTHN_ROOT.read_bytes())
    response = json.loads(REAL_PASSKEY.read_bytes())["credential"]["response"]
    real_ca = x509.load_der_x509_certificate(cbor_decode(base64.urlsafe_b64decode(
        response["attestationObject"] + "=="), "attestationObject")["attStmt"]["x5c"][1])
    pki = apple_pki(SEED, WEBAUTHN)
    for emulated, real in ((pki.root.certificate, real_root), (pki.intermediate.certificate, real_ca)):
        assert (emulated.not_valid_before_utc, emulated.not_valid_after_utc) == (real.not_valid_before_utc,
                                                                                 real.not_valid_after_utc)
        assert emulated.serial_number.bit_length() // 8 + 1 == real.serial_number.bit_length() // 8 + 1 == 16
    app_attest = apple_pki(SEED, APP_ATTEST)  # Apple's App Attestation Root CA ends 2045-03-15 00:00:00 as well
    assert app_attest.root.certificate.not_valid_after_utc == datetime(2045, 3, 15, tzinfo=UTC)
    assert app_attest.intermediate.certificate.not_valid_after_utc == datetime(2030, 3, 13, tzinfo=UTC)


def test_from_b64_accepts_exactly_canonical_padded_base64():
    """What re-encodes to itself decodes; set unused bits before the padding are MALFORMED (not canonical), and so
    are a missing pad, the URL-safe alphabet and a stray character."""
    for data in (b"", b"\x00", b"\xff\xfe", b"\x01\x02\x03", bytes(range(256))):
        assert from_b64(b64(data), "x") == data
    for text, why in (("AB==", "not canonical"), ("AAB=", "not canonical"), ("//9=", "not canonical"),
                      ("AA", "not padded"), ("-_8=", "not padded"), ("AA=A", "not padded"), ("AAA ", "not padded")):
        with pytest.raises(Rejected, match=why) as raised:
            from_b64(text, "x")
        assert raised.value.reason is Reason.MALFORMED
    assert from_b64("AP8=", "x") == b"\x00\xff" and from_b64("AA==", "x") == b"\x00"


def test_receipt_certificates_are_read_once_per_bytes(cases):
    """The receipt PKI's certificates recur in every receipt of a year: a second receipt with them reads them from
    memory, and what it gives is what reading them afresh gives; other bytes in their place are read afresh."""
    from hsmsim.formats.apple import receipt as receipt_module

    first, second = (_receipt(cases["apple-appattest"][f"apple-appattest::golden::{environment}"])
                     for environment in ("development", "production"))
    parse_receipt(first)
    hits = receipt_module._read_recurring.cache_info().hits
    parsed = parse_receipt(second)
    assert receipt_module._read_recurring.cache_info().hits - hits >= 3
    fresh = read_ber(second, 6).children[1].children[0].children[3].children
    assert tuple(cert.encoding for cert in fresh) == parsed.certificates
    signer = parsed.certificates[0]
    flipped = second.replace(signer, signer[:40] + bytes([signer[40] ^ 0x20]) + signer[41:])
    assert flipped != second
    with contextlib.suppress(ValueError):
        assert parse_receipt(flipped).certificates[0] != signer
