"""The webauthn family: the statement registry, packed / fido-u2f / android-key byte shapes, every defect's
reason, determinism, generation through the HSM and the CLI round trip."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hsmsim.device import Device
from hsmsim.encoding import spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import get_format
from hsmsim.formats.android.webauthn import ANDROID_KEY_AAGUID
from hsmsim.formats.android.webauthn import mutations as android_mutations
from hsmsim.formats.webauthn.catalogue import GOLDENS, mutations
from hsmsim.formats.webauthn.standard import OID_FIDO_AAGUID, u2f_signed_bytes
from hsmsim.formats.webauthn.verify import signed_data
from hsmsim.formats.yubico.fido import YUBIKEY_5_NFC_AAGUID
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import TrustAnchors
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.container import (
    AuthenticatorData,
    Registration,
    cbor_decode,
    cose_key,
    from_b64url,
    from_base64_lenient,
    parse_cose_key,
)
from hsmsim.webauthn.cose import alg_fits, check_alg
from hsmsim.webauthn.statements import statement_format, statement_names
from tests.cli_process import run_hsmsim

SEED = "hsmsim-tests"
ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
CREATED = datetime(2025, 11, 1, tzinfo=UTC)
"""When the keys attested at ``AT`` were created."""
LATER = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def webauthn():
    return get_format("webauthn")


@pytest.fixture(scope="module")
def cases(webauthn):
    return {case.id: case for case in webauthn.vector_cases(SEED)}


def _verify(fmt, case, profile):
    return fmt.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time, profile=profile)


def _object(case):
    record = Registration.parse(case.evidence.files[case.evidence.primary])
    return cbor2.loads(record.attestation_object), record


# -- the registry -----------------------------------------------------------------------------------

def test_attest_refuses_parameters_that_make_a_record_its_verifier_will_not_read():
    """A challenge of 100,000 bytes makes a record over the 128 KiB the webauthn verifier reads: a ParameterError,
    never a file that `hsmsim verify` then refuses; a challenge of 64 bytes is written."""
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ec-p256"), "passkey")
    hsm = Hsm(Device.from_seed("webauthn", SEED), store)
    with pytest.raises(ParameterError, match=r"passkey.webauthn.json \d+ bytes, more than the 131072 its verifier"):
        hsm.attest("passkey", "webauthn", {"challenge": b"A" * 100_000})
    evidence = hsm.attest("passkey", "webauthn", {"challenge": b"A" * 64})
    assert len(evidence.files[evidence.primary]) <= 131072


def test_every_statement_is_registered(webauthn):
    assert {"tpm", "packed", "fido-u2f", "android-key", "none"} <= set(statement_names())
    with pytest.raises(Rejected) as raised:
        statement_format("android-safetynet")
    assert raised.value.reason is Reason.UNSUPPORTED


def test_cose_alg_fits_the_key_and_its_curve():
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert alg_fits(p256, -7) and not alg_fits(p256, -35) and not alg_fits(p256, -257)
    with pytest.raises(Rejected) as unknown:
        check_alg(p256, -999, "x")
    assert unknown.value.reason is Reason.UNSUPPORTED
    with pytest.raises(Rejected) as wrong:
        check_alg(p256, -8, "x")
    assert wrong.value.reason is Reason.SIGNATURE_INVALID


def test_an_ecdsa_cose_key_must_name_the_curve_of_its_alg():
    """WebAuthn L3 §5.8.5: ES256 takes P-256, ES384 P-384, ES512 P-521; any other pairing (and a boolean crv,
    which Python would compare equal to 1) is a malformed COSE_Key."""
    keys = {-7: ec.SECP256R1(), -35: ec.SECP384R1(), -36: ec.SECP521R1()}
    for alg, curve in keys.items():
        public = ec.generate_private_key(curve).public_key()
        assert parse_cose_key(cose_key(public, alg)).public_numbers() == public.public_numbers()
        for other in set(keys) - {alg}:
            with pytest.raises(Rejected) as caught:
                parse_cose_key(cose_key(public, other))
            assert caught.value.reason is Reason.MALFORMED and "does not fit crv" in caught.value.detail
    p256 = cose_key(ec.generate_private_key(ec.SECP256R1()).public_key(), -7)
    with pytest.raises(Rejected) as caught:
        parse_cose_key({**p256, -1: True})
    assert caught.value.reason is Reason.MALFORMED


@pytest.mark.parametrize("label", [b"\xf5", b"\xf4", b"\xf6", b"\x41\x01", b"\x81\x01", b"\xa1\x01\x02"],
                         ids=["true", "false", "null", "bytes", "array", "map"])
def test_a_cbor_map_key_is_an_integer_or_a_text_string(label):
    """RFC 9052 §7: a COSE label is an int or a tstr. {1: 2, true: 2} would reach cbor2 as one key (True == 1, the last
    value wins) past a duplicate check on encoded keys: any other key type is MALFORMED before cbor2 runs."""
    assert cbor_decode(b"\xa3\x01\x02\x20\x01\x61k\xf5", "map") == {1: 2, -1: 1, "k": True}
    with pytest.raises(Rejected) as caught:
        cbor_decode(b"\xa2\x01\x02" + label + b"\x02", "map")
    assert caught.value.reason is Reason.MALFORMED and "map key" in caught.value.detail
    with pytest.raises(Rejected) as nested:
        cbor_decode(b"\x81\xa1" + label + b"\x02", "array")
    assert nested.value.reason is Reason.MALFORMED


@pytest.mark.parametrize(("members", "reason"), [
    ({"crossOrigin": True}, Reason.RELYING_PARTY_MISMATCH),
    ({"crossOrigin": True, "topOrigin": "https://attacker.example"}, Reason.RELYING_PARTY_MISMATCH),
    ({"crossOrigin": False, "topOrigin": "https://attacker.example"}, Reason.RELYING_PARTY_MISMATCH),
    ({"crossOrigin": "true"}, Reason.MALFORMED),
    ({"crossOrigin": False}, Reason.OK),
])
def test_the_relying_party_expects_no_framing(cases, members, reason):
    """WebAuthn L3 §7.1 steps 10-11: crossOrigin true or any topOrigin means a cross-origin iframe, which a record
    naming one expected origin and no top origin does not expect (RELYING_PARTY_MISMATCH); crossOrigin is a
    boolean."""
    _, record = _object(cases["webauthn::golden::packed-es256"])
    client = {**json.loads(record.client_data_json), **members}
    edited = replace(record, client_data_json=json.dumps(client, separators=(",", ":")).encode())
    if reason is Reason.OK:
        signed_data(edited)
        return
    with pytest.raises(Rejected) as caught:
        signed_data(edited)
    assert caught.value.reason is reason


# -- the catalogue ----------------------------------------------------------------------------------

def test_catalogue_sizes(cases):
    security_key = [m for m in mutations() if m.expected[Profile.STRICT] is not Reason.OK]
    android = [m for m in android_mutations() if m.expected[Profile.STRICT] is not Reason.OK]
    assert len(security_key) >= 30 and len(android) >= 10
    assert {f"webauthn::golden::{name}" for name in GOLDENS} <= set(cases)
    assert list(cases)[:4] == [f"webauthn::golden::{spec}" for spec in ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")]
    assert len({m.flag for m in [*mutations(), *android_mutations()]}) == len(mutations()) + len(android_mutations())


@pytest.mark.parametrize("mutation", [*mutations(), *android_mutations()], ids=lambda m: m.id)
def test_every_defect_gets_its_stated_reason(webauthn, cases, mutation):
    case = cases[mutation.id]
    for profile, reason in mutation.expected.items():
        verdict = _verify(webauthn, case, profile)
        assert verdict.reason is reason, f"{profile}: {verdict.summary()}"


@pytest.mark.parametrize("golden", [*GOLDENS, "android-key-tee-es256", "android-key-tee-rs256",
                                    "android-key-strongbox-es256", "android-key-2026-root-es256",
                                    "android-key-no-root-es256"])
def test_goldens_verify_as_declared_with_claims(webauthn, cases, golden):
    case = cases[f"webauthn::golden::{golden}"]
    for profile, reason in case.expected.items():
        verdict = _verify(webauthn, case, profile)
        assert verdict.reason is reason, f"{profile}: {verdict.summary()}"
    verdict = _verify(webauthn, case, Profile.STRUCTURAL)
    assert verdict.accepted and verdict.claims is not None
    obj, _ = _object(case)
    credential = AuthenticatorData.parse(obj["authData"]).credential
    assert credential is not None
    key = parse_cose_key(cbor_decode(credential.public_key_cbor, "key"))
    assert verdict.claims.key_type in ("RSA", "EC-secp256r1", "Ed25519")
    assert verdict.claims.spki_der == spki_der(key)


def test_regeneration_is_byte_identical(webauthn, cases):
    again = {case.id: case for case in webauthn.vector_cases(SEED)}
    for name in [*GOLDENS, "android-key-tee-es256"]:
        case = f"webauthn::golden::{name}"
        assert again[case].evidence.files == cases[case].evidence.files
    for mutation in [*mutations(), *android_mutations()]:
        assert again[mutation.id].evidence.files == cases[mutation.id].evidence.files, mutation.id


# -- byte shapes ------------------------------------------------------------------------------------

def test_packed_full_shape(cases):
    case = cases["webauthn::golden::packed-es256"]
    obj, record = _object(case)
    assert obj["fmt"] == "packed" and sorted(obj["attStmt"]) == ["alg", "sig", "x5c"]
    assert obj["attStmt"]["alg"] == -7 and len(obj["attStmt"]["x5c"]) == 1
    cert = x509.load_der_x509_certificate(obj["attStmt"]["x5c"][0])
    assert cert.subject.rfc4514_string().startswith("CN=Yubico U2F EE Serial ")
    assert "OU=Authenticator Attestation,O=Yubico AB,C=SE" in cert.subject.rfc4514_string()
    aaguid = cert.extensions.get_extension_for_oid(OID_FIDO_AAGUID)
    assert not aaguid.critical and aaguid.value.value == b"\x04\x10" + YUBIKEY_5_NFC_AAGUID.bytes
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert AuthenticatorData.parse(obj["authData"]).credential.aaguid == YUBIKEY_5_NFC_AAGUID.bytes
    root = x509.load_pem_x509_certificate(case.evidence.files["packed_root_ca.pem"])
    # as the real root: serial 457200631, named "Yubico U2F Root CA Serial 457200631" in a PrintableString
    assert root.serial_number == 457200631 and "EMULATED" in root.subject.rfc4514_string()
    assert root.subject.public_bytes()[-46:-44] == b"\x13\x2c"  # CN as PrintableString, 44 characters
    cert.public_key().verify(obj["attStmt"]["sig"], obj["authData"] + hashlib.sha256(record.client_data_json).digest(),
                             ec.ECDSA(hashes.SHA256()))


def test_packed_self_shape(cases):
    obj, _ = _object(cases["webauthn::golden::packed-self-es256"])
    assert sorted(obj["attStmt"]) == ["alg", "sig"] and obj["attStmt"]["alg"] == -7
    assert AuthenticatorData.parse(obj["authData"]).credential.aaguid == bytes(16)
    assert "packed_root_ca.pem" not in cases["webauthn::golden::packed-self-es256"].evidence.files


def test_fido_u2f_shape(cases):
    obj, record = _object(cases["webauthn::golden::fido-u2f"])
    assert obj["fmt"] == "fido-u2f" and sorted(obj["attStmt"]) == ["sig", "x5c"]
    auth = AuthenticatorData.parse(obj["authData"])
    assert auth.credential.aaguid == bytes(16)
    # as a real YubiKey's U2F registration (py_webauthn's fido-u2f test): UP|AT, no UV, a 64-byte key handle
    assert auth.flags == 0x41 and len(auth.credential.credential_id) == 64
    key = parse_cose_key(cbor_decode(auth.credential.public_key_cbor, "key"))
    message = u2f_signed_bytes(auth.rp_id_hash, hashlib.sha256(record.client_data_json).digest(),
                               auth.credential.credential_id, key)
    assert message[0] == 0 and len(message) == 1 + 32 + 32 + 64 + 65
    cert = x509.load_der_x509_certificate(obj["attStmt"]["x5c"][0])
    cert.public_key().verify(obj["attStmt"]["sig"], message, ec.ECDSA(hashes.SHA256()))


# Real YubiKey registrations from py_webauthn's test suite (BSD-3; tests/data/py_webauthn/README.md), under the real
# "Yubico U2F Root CA Serial 457200631": packed ES256 by a Yubico Security Key NFC, packed EdDSA by a YubiKey 5Ci, and
# fido-u2f by the same Security Key NFC. Each golden is compared with the one of its kind.
REAL_YUBIKEY = {"packed-es256": "yubikey_security_key_nfc_packed.webauthn.json",
                "packed-eddsa": "yubikey_5ci_packed_eddsa.webauthn.json",
                "fido-u2f": "yubikey_fido_u2f.webauthn.json"}
PY_WEBAUTHN_DATA = ROOT / "tests" / "data" / "py_webauthn"
FLAGS_BE_BS_ED = 0x08 | 0x10 | 0x80


def _security_key_shape(record: dict) -> dict[str, object]:
    """What a YubiKey registration shows, leaving out what differs between devices and models: keys, serials,
    AAGUIDs, the values of the device-id and transports extensions."""
    obj = cbor2.loads(from_base64_lenient(record["credential"]["response"]["attestationObject"], "attestationObject"))
    statement = obj["attStmt"]
    auth = AuthenticatorData.parse(obj["authData"])
    cert = x509.load_der_x509_certificate(statement["x5c"][0])
    prefix, _, number = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.rpartition(" ")
    aaguid = cert.extensions.get_extension_for_oid(OID_FIDO_AAGUID).value.value
    return {
        "fmt and members": (obj["fmt"], sorted(statement)), "alg": statement.get("alg"), "x5c": len(statement["x5c"]),
        "UP and AT, no BE BS ED": (auth.flags & 0x41, auth.flags & FLAGS_BE_BS_ED),
        # a YubiKey's counter is global: a CTAP2 registration carries the signatures made so far (py_webauthn's
        # samples 52 and 2, python-fido2's 28), a U2F one 0 (the client writes the counter CTAP1 does not send)
        "signCount": "zero" if auth.sign_count == 0 else "small" if auth.sign_count < 1 << 16 else "large",
        "credential id bytes": len(auth.credential.credential_id),
        "authData AAGUID zero": auth.credential.aaguid == bytes(16),
        "credential alg": cbor2.loads(auth.credential.public_key_cbor)[3],
        "subject": [(a.oid.dotted_string, a._type) for a in cert.subject],
        "CN": prefix, "serial is the CN's number": str(cert.serial_number) == number,
        "serial octets": (cert.serial_number.bit_length() + 7) // 8,
        "issuer": [(a.oid.dotted_string, a._type) for a in cert.issuer],
        "validity": (cert.not_valid_before_utc, cert.not_valid_after_utc),
        "signature": cert.signature_algorithm_oid.dotted_string, "key": cert.public_key().curve.name,
        "extensions and criticality": [(e.oid.dotted_string, e.critical) for e in cert.extensions],
        "basicConstraints": cert.extensions.get_extension_for_class(x509.BasicConstraints).value,
        "AAGUID extension": (aaguid[:2], len(aaguid), aaguid[2:] == auth.credential.aaguid),
    }


@pytest.mark.parametrize("golden", sorted(REAL_YUBIKEY))
def test_security_key_goldens_have_the_shape_of_a_real_yubikey_registration(cases, golden):
    real = json.loads((PY_WEBAUTHN_DATA / REAL_YUBIKEY[golden]).read_text())
    case = cases[f"webauthn::golden::{golden}"]
    ours = json.loads(case.evidence.files[case.evidence.primary])
    assert _security_key_shape(ours) == _security_key_shape(real)
    assert _security_key_shape(ours)["credential id bytes"] == (128 if golden == "packed-eddsa" else 64)
    # a roaming authenticator, as its certificate's transports extension says: USB and NFC (the Security Key NFC's
    # browser reported ["nfc", "usb"]; the 5Ci has no NFC)
    assert ours["credential"]["response"]["transports"] == ["nfc", "usb"]
    assert ours["credential"]["authenticatorAttachment"] == "cross-platform"
    if golden == "packed-es256":
        assert real["credential"]["transports"] == ["nfc", "usb"]


@pytest.mark.parametrize(("golden", "strict"), [("packed-es256", None), ("packed-eddsa", Reason.KEY_POLICY),
                                                ("fido-u2f", None)])
def test_real_yubikey_registrations_verify_under_the_real_yubico_root(webauthn, cases, golden, strict):
    path = PY_WEBAUTHN_DATA / REAL_YUBIKEY[golden]
    evidence = webauthn.load(path)
    trust = webauthn.trust_anchors_from_files([PY_WEBAUTHN_DATA / "yubico_u2f_root.pem"])
    assert webauthn.verify(evidence, trust, at=LATER, profile=Profile.STRUCTURAL).accepted
    verdict = webauthn.verify(evidence, trust, at=LATER, profile=Profile.STRICT)
    assert verdict.accepted if strict is None else verdict.reason is strict
    # under the emulated root ("... EMULATED") nothing carries the leaf's issuer name (verdict.py: CHAIN_INCOMPLETE)
    emulated = TrustAnchors({"root": cases[f"webauthn::golden::{golden}"].anchors})
    assert webauthn.verify(evidence, emulated, at=LATER).reason is Reason.CHAIN_INCOMPLETE


def test_android_key_shape(cases):
    obj, record = _object(cases["webauthn::golden::android-key-tee-es256"])
    assert obj["fmt"] == "android-key" and sorted(obj["attStmt"]) == ["alg", "sig", "x5c"]
    auth = AuthenticatorData.parse(obj["authData"])
    assert auth.credential.aaguid == ANDROID_KEY_AAGUID.bytes
    leaf = x509.load_der_x509_certificate(obj["attStmt"]["x5c"][0])
    key = parse_cose_key(cbor_decode(auth.credential.public_key_cbor, "key"))
    assert leaf.public_key() == key
    extension = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17"))
    assert hashlib.sha256(record.client_data_json).digest() in extension.value.value
    no_root, _ = _object(cases["webauthn::golden::android-key-no-root-es256"])
    assert len(no_root["attStmt"]["x5c"]) == len(obj["attStmt"]["x5c"]) - 1


# -- generation through the HSM and the CLI -----------------------------------------------------------

@pytest.mark.parametrize(("fmt", "params", "spec", "root_file"), [
    ("packed", {}, "ec-p256", "packed_root_ca.pem"),
    ("packed", {"attestation": "self"}, "ed25519", None),
    ("fido-u2f", {}, "ec-p256", "fido-u2f_root_ca.pem"),
    ("android-key", {"security_level": "STRONG_BOX"}, "rsa-3072", "android-key_root_ca.pem"),
    ("tpm", {"rp_id": "bank.example"}, "ec-p384", "tpm_root_ca.pem"),
])
def test_generate_through_the_hsm_and_verify(webauthn, fmt, params, spec, root_file):
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse(spec), "passkey", created=CREATED)
    hsm = Hsm(Device.from_seed("webauthn", SEED), store)
    evidence = hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": fmt, **params})
    assert hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": fmt, **params}).files == evidence.files
    roots = tuple(x509.load_pem_x509_certificates(evidence.files[root_file])) if root_file else ()
    assert sorted(evidence.files) == sorted(["passkey.webauthn.json", *([root_file] if root_file else [])])
    verdict = webauthn.verify(evidence, TrustAnchors({"root": roots}), at=LATER if fmt != "android-key" else AT)
    assert verdict.accepted, verdict.summary()


def test_generate_refuses_what_the_statement_cannot_hold():
    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("rsa-3072"), "passkey", created=CREATED)
    hsm = Hsm(Device.from_seed("webauthn", SEED), store)
    with pytest.raises(UnsupportedKeyError, match="P-256"):
        hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": "fido-u2f"})
    with pytest.raises(ParameterError, match=r"parameter fmt must be one of .*, not 'apple-ish'"):
        hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": "apple-ish"})
    with pytest.raises(ParameterError, match="user_verified must be false for fido-u2f"):
        hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": "fido-u2f", "user_verified": True})
    with pytest.raises(ParameterError, match="has no parameter 'signature_encoding'"):
        hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": "packed", "signature_encoding": "tpmt"})
    # a TPM-only parameter with another statement: the message lists what this request reads, fmt among them
    with pytest.raises(ParameterError, match=r"has no parameter 'pki_profile' \(the parameters it reads for this "
                                             r"request: 'attestation', 'challenge', 'fmt', "):
        hsm.attest("passkey", "webauthn", {"attest_time": AT, "fmt": "packed", "pki_profile": "ecdsa-p384"})


def _hsmsim(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return run_hsmsim([*args, "--state", str(state)], timeout=120, cwd=ROOT)


def test_cli_round_trip_packed(tmp_path):
    state = tmp_path / "st"
    created = _hsmsim("key", "create", "--format", "webauthn", "--label", "passkey", "--spec", "ec-p256",
                      "--created", "2025-11-01T00:00:00Z", state=state)
    assert created.returncode == 0, created.stderr
    out = tmp_path / "out" / "passkey.webauthn.json"
    attested = _hsmsim("attest", "--format", "webauthn", "--key", "passkey", "--out", str(out),
                       "--at", "2025-11-03T14:22:07Z", "--param", "fmt=packed", "--param", "user_verified=false",
                       state=state)
    assert attested.returncode == 0, attested.stderr
    root = out.parent / "packed_root_ca.pem"
    verified = run_hsmsim(["verify", str(out), "--root", str(root),
                           "--at", "2026-01-01T00:00:00Z", "--profile", "strict", "--json"], timeout=120, cwd=ROOT)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    document = json.loads(verified.stdout)
    assert document["format"] == "webauthn" and document["claims"]["vendor"] == "Yubico AB"
    record = Registration.parse(out.read_bytes())
    flags = AuthenticatorData.parse(cbor2.loads(record.attestation_object)["authData"]).flags
    assert flags & 0x04 == 0  # user_verified=false


# -- base64 in the record: what real relying-party input carries -----------------------------------

REAL_TPM = ROOT / "tests" / "data" / "py_webauthn" / "surface_pro_4.webauthn.json"
MS_TPM_ROOT = ("interop/purebred/TrustAnchors/SurfacePro/Roots/Microsoft/RootCA/"
               "Microsoft_TPM_Root_Certificate_Authority_2014.cer")


def test_lenient_base64_takes_padding_and_the_standard_alphabet_only():
    data = bytes.fromhex("fbffbffe")  # base64 '+/+//g==', base64url '-_-__g'
    for text in ("-_-__g", "-_-__g==", "+/+//g==", "+/+//g"):
        assert from_base64_lenient(text, "x") == data, text
    for bad in ("-_-__g=", "-_-__g===", "-/-__g", "-_-__g==A", "-_-__h", 7):
        with pytest.raises(Rejected) as raised:
            from_base64_lenient(bad, "x")
        assert raised.value.reason is Reason.MALFORMED, bad
    for spec_only in ("-_-__g==", "+/+//g"):
        with pytest.raises(Rejected):
            from_b64url(spec_only, "x")


def test_real_windows_hello_registration_with_padded_base64(webauthn, shared_dir):
    """py_webauthn's Surface Pro 4 sample: padded clientDataJSON, standard-alphabet attestationObject. Relying-party
    libraries accept it, so the structural profile does; strict keeps WebAuthn's unpadded base64url."""
    evidence = webauthn.load(REAL_TPM)
    trust = webauthn.trust_anchors_from_files([shared_dir / MS_TPM_ROOT])
    at = datetime(2021, 6, 1, tzinfo=UTC)
    structural = webauthn.verify(evidence, trust, at=at, profile=Profile.STRUCTURAL)
    assert structural.accepted, structural.detail
    strict = webauthn.verify(evidence, trust, at=at, profile=Profile.STRICT)
    assert strict.reason is Reason.MALFORMED and "clientDataJSON" in strict.detail


def _attestation_certificate(case) -> x509.Certificate:
    return x509.load_der_x509_certificate(_object(case)[0]["attStmt"]["x5c"][0])


def _subject_attributes(cert: x509.Certificate) -> list[tuple[str, object, str]]:
    return [(a.oid.dotted_string, a._type, a.value) for rdn in cert.subject.rdns for a in rdn]


C_, O_, OU_, CN_ = (oid.dotted_string for oid in (x509.NameOID.COUNTRY_NAME, x509.NameOID.ORGANIZATION_NAME,
                                             x509.NameOID.ORGANIZATIONAL_UNIT_NAME, x509.NameOID.COMMON_NAME))


@pytest.mark.parametrize(("vector", "oid", "value"), [
    ("cert-ou-wrong", OU_, "Yubico Attestation"), ("cert-no-ou", OU_, None), ("cert-no-country", C_, None),
    ("cert-no-organisation", O_, None), ("cert-no-common-name", CN_, None)])
def test_a_packed_subject_defect_changes_only_its_attribute(cases, vector, oid, value):
    golden = _attestation_certificate(cases["webauthn::golden::packed-es256"])
    assert ("2.5.4.6", x509.name._ASN1Type.PrintableString, "SE") in _subject_attributes(golden)
    assert golden.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value.endswith(
        f" Serial {golden.serial_number}")
    expected = [(o, t, value if o == oid else v) for o, t, v in _subject_attributes(golden)
                if o != oid or value is not None]
    mutated = _attestation_certificate(cases[f"webauthn::packed::{vector}"])
    assert _subject_attributes(mutated) == expected
    assert mutated.serial_number == golden.serial_number


def test_packed_not_yet_valid_moves_only_not_before(cases):
    golden = _attestation_certificate(cases["webauthn::golden::packed-es256"])
    mutated = _attestation_certificate(cases["webauthn::packed::cert-not-yet-valid"])
    assert mutated.not_valid_before_utc > cases["webauthn::packed::cert-not-yet-valid"].validation_time
    assert mutated.not_valid_after_utc == golden.not_valid_after_utc
    golden_tbs, mutated_tbs = golden.tbs_certificate_bytes, mutated.tbs_certificate_bytes
    assert b"\x18\x0f20500904000000Z" in golden_tbs and b"\x18\x0f20500904000000Z" in mutated_tbs


def test_a_packed_certificate_without_the_aaguid_extension_fails_strict_only(webauthn, cases):
    # §8.2.1: the extension MUST be present when the root serves several models, as the U2F root does; only
    # metadata tells a verifier that, so the strict profile requires it and the structural one does not.
    case = cases["webauthn::packed::cert-no-aaguid-extension"]
    cert = _attestation_certificate(case)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(OID_FIDO_AAGUID)
    assert _verify(webauthn, case, Profile.STRUCTURAL).accepted
    assert _verify(webauthn, case, Profile.STRICT).reason is Reason.CERT_PROFILE
