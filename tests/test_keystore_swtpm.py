"""The swtpm key store against a real software TPM, and the genuine sample in tests/data/swtpm.

The sample tests run everywhere; the live ones (marker ``swtpm``) need swtpm, swtpm-tools and
tpm2-pytss. The genuine bytes are read with hsmsim's TPM core (strict unmarshal, byte-exact
re-marshal) and checked against the facts of round2_formats.md §2.1.2.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from hsmsim.device import DEVICE_EPOCH, Device
from hsmsim.errors import KeyNotFoundError, KeystoreError, UnsupportedKeyError
from hsmsim.formats import get_format
from hsmsim.formats.tpm.device import (
    AES_128_CFB,
    EK_ATTRIBUTES,
    EK_POLICY,
    EmulatedTpm,
    object_attributes,
    public_area,
)
from hsmsim.formats.tpm.layout import DEFAULT_PKI_PROFILE
from hsmsim.formats.tpm.marshal import (
    TPM_GENERATED_VALUE,
    TPM_RH_ENDORSEMENT,
    TpmAlg,
    TpmaObject,
    TpmEccCurve,
    TpmSt,
    u32,
)
from hsmsim.formats.tpm.structures import (
    NULL_SCHEME,
    NULL_SYMMETRIC,
    CertifyInfo,
    EccParms,
    PcrSelection,
    QuoteInfo,
    RsaParms,
    Scheme,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    qualified_name,
)
from hsmsim.hsm import Hsm
from hsmsim.keystore import BACKENDS, open_keystore
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from hsmsim.keystore.swtpm import (
    IMPORTED_KEY_ATTRIBUTES,
    SIGNING_KEY_ATTRIBUTES,
    SwtpmKeyStore,
    setup_failure,
    swtpm_available,
)
from hsmsim.model.evidence import TrustAnchors
from hsmsim.pki.builder import build_csr
from hsmsim.verdict import Profile

SAMPLE = Path(__file__).parent / "data" / "swtpm"
SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")
EKU_EK_CERTIFICATE = x509.ObjectIdentifier("2.23.133.8.1")
SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmsim swtpm test")])

_UNAVAILABLE = swtpm_available()


def live(test):
    """Marks a test that runs a real swtpm (marker ``swtpm``; skipped when the backend cannot run)."""
    skip = pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"swtpm backend unavailable: {_UNAVAILABLE}")
    return pytest.mark.swtpm(skip(test))


# -- the facts of one genuine TPM2_Certify, read with hsmsim's TPM core ---------------------------------
def check_certification(attest: bytes, signature: bytes, public: bytes, ak_area: bytes, extra: bytes) -> None:
    """The §2.1.2 facts of one TPM2_Certify output, and the AK signature over the TPMS_ATTEST.

    The strict unmarshal also proves nothing trails any structure; re-marshalling gives the bytes back.
    """
    info = TpmsAttest.unmarshal(attest)
    assert info.marshal() == attest and attest[:6] == bytes.fromhex("ff5443478017")
    assert (info.magic, info.type) == (TPM_GENERATED_VALUE, TpmSt.ATTEST_CERTIFY)
    assert len(info.qualified_signer) == 34 and info.qualified_signer[:2] == b"\x00\x0b"
    assert info.extra_data == extra and info.clock_info.safe in (0, 1)
    key = TpmtPublic.unmarshal(public)
    marshalled = dataclasses.replace(key)  # marshals its fields: a parsed area keeps the bytes it was given
    assert marshalled.marshal() == public
    assert isinstance(info.attested, CertifyInfo) and info.attested.name == marshalled.name() == key.name()
    assert info.attested.qualified_name[:2] == b"\x00\x0b" and len(info.attested.qualified_name) == 34
    assert key.name_alg == TpmAlg.SHA256 and key.object_attributes == SIGNING_KEY_ATTRIBUTES == 0x00040472
    assert (key.parameters.symmetric, key.parameters.scheme, key.auth_policy) == (NULL_SYMMETRIC, NULL_SCHEME, b"")
    ak = TpmtPublic.unmarshal(ak_area)
    assert isinstance(ak.parameters, EccParms)
    assert (ak.type, ak.object_attributes, ak.parameters.curve_id) == (TpmAlg.ECC, 0x00050072, TpmEccCurve.NIST_P256)
    assert ak.parameters.scheme == Scheme(TpmAlg.ECDSA, TpmAlg.SHA256)
    sig = TpmtSignature.unmarshal(signature)
    assert sig.marshal() == signature and signature[:4] == bytes.fromhex("0018000b")
    assert (sig.sig_alg, sig.hash_alg, len(sig.r), len(sig.s)) == (TpmAlg.ECDSA, TpmAlg.SHA256, 32, 32)
    ak_key = ak.public_key()
    assert isinstance(ak_key, ec.EllipticCurvePublicKey)
    ak_key.verify(sig.bare(), attest, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("name", ["ak.public.hex", "rsa-2048.public.hex", "ec-p256.public.hex"])
def test_a_parsed_area_marshals_to_the_bytes_it_was_read_from(name):
    area = _hex(name)
    assert dataclasses.replace(TpmtPublic.unmarshal(area)).marshal() == area


def tpm_name(area: bytes) -> bytes:
    return TpmtPublic.unmarshal(area).name()


# -- the saved genuine sample: runs without swtpm ----------------------------------------------------
def _hex(name: str) -> bytes:
    return bytes.fromhex((SAMPLE / name).read_text().strip())


@pytest.mark.parametrize("spec", ["rsa-2048", "ec-p256"])
def test_saved_sample_has_the_real_tpm_facts(spec):
    meta = json.loads((SAMPLE / "sample.json").read_text())
    extra = bytes.fromhex(meta["keys"][spec]["extra_data"])
    attest, public = _hex(f"{spec}.attest.hex"), _hex(f"{spec}.public.hex")
    check_certification(attest, _hex(f"{spec}.signature.hex"), public, _hex("ak.public.hex"), extra)
    assert TpmsAttest.unmarshal(attest).qualified_signer == _hex("ak.qualified_name.hex")
    params = TpmtPublic.unmarshal(public).parameters
    size = params.key_bits if isinstance(params, RsaParms) else params.curve_id
    assert size == (2048 if spec == "rsa-2048" else TpmEccCurve.NIST_P256)


def test_saved_sample_ek_chain_verifies():
    ek, intermediate, root = (x509.load_pem_x509_certificate((SAMPLE / f"{n}.pem").read_bytes())
                              for n in ("ek-rsa2048", "localca-intermediate", "localca-root"))
    ek.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert EKU_EK_CERTIFICATE in ek.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert root.subject.rfc4514_string() == "CN=swtpm-localca-rootca"


# -- the emulated TPM against the genuine sample, field by field (runs without swtpm) --------------------
def _emulated_certification(spec: str) -> tuple[EmulatedTpm, TpmtPublic, TpmsAttest, TpmtSignature]:
    """The emulated TPM's TPM2_Certify of the sample's key (same public key, same extraData), by an emulated AK."""
    meta = json.loads((SAMPLE / "sample.json").read_text())
    tpm = EmulatedTpm.for_device(Device.from_seed("webauthn", "swtpm-comparison"), DEFAULT_PKI_PROFILE)
    real = TpmtPublic.unmarshal(_hex(f"{spec}.public.hex"))
    key = SoftKeyStore(seed="swtpm-comparison").generate(KeySpec.parse(spec), spec)
    area = public_area(real.public_key(), object_attributes(key.attributes))
    ak = ec.derive_private_key(7, ec.SECP256R1())
    certification = tpm.certify(area, ak, bytes.fromhex(meta["keys"][spec]["extra_data"]), DEVICE_EPOCH)
    return tpm, area, certification.attest, certification.signature


@pytest.mark.parametrize("spec", ["rsa-2048", "ec-p256"])
def test_emulator_encodes_certify_like_swtpm(spec):
    real_attest = TpmsAttest.unmarshal(_hex(f"{spec}.attest.hex"))
    real_area = TpmtPublic.unmarshal(_hex(f"{spec}.public.hex"))
    real_sig = TpmtSignature.unmarshal(_hex(f"{spec}.signature.hex"))
    _, area, attest, sig = _emulated_certification(spec)
    # TPMS_ATTEST: header, field sizes and total size agree; only values the TPM owns differ.
    assert attest.marshal()[:6] == _hex(f"{spec}.attest.hex")[:6] == bytes.fromhex("ff5443478017")
    assert len(attest.marshal()) == len(_hex(f"{spec}.attest.hex"))
    assert [len(x) for x in (attest.qualified_signer, attest.extra_data)] == \
           [len(x) for x in (real_attest.qualified_signer, real_attest.extra_data)]
    assert attest.extra_data == real_attest.extra_data
    assert attest.clock_info.safe == real_attest.clock_info.safe == 1
    assert isinstance(attest.attested, CertifyInfo) and isinstance(real_attest.attested, CertifyInfo)
    assert attest.attested.name == real_attest.attested.name[:2] + hashlib.sha256(area.marshal()).digest()
    assert attest.attested.name[:2] == real_attest.attested.name[:2] == b"\x00\x0b"
    assert len(attest.attested.qualified_name) == len(real_attest.attested.qualified_name) == 34
    # TPMT_PUBLIC: same type, nameAlg, parameters and unique; the attributes differ by noDA only, which the
    # swtpm template sets and the emulated TPM (tpm2-tools' default 0x00040072) does not.
    assert (area.type, area.name_alg, area.parameters, area.unique, area.auth_policy) == \
           (real_area.type, real_area.name_alg, real_area.parameters, real_area.unique, real_area.auth_policy)
    assert int(real_area.object_attributes) ^ int(area.object_attributes) == TpmaObject.NO_DA
    assert len(area.marshal()) == len(real_area.marshal())
    # TPMT_SIGNATURE: ECDSA/SHA-256 with r and s as 32-byte TPM2Bs; bare() is the DER WebAuthn carries.
    assert (sig.sig_alg, sig.hash_alg, len(sig.r), len(sig.s)) == \
           (real_sig.sig_alg, real_sig.hash_alg, len(real_sig.r), len(real_sig.s))
    assert sig.marshal()[:6] == _hex(f"{spec}.signature.hex")[:6] == bytes.fromhex("0018000b0020")
    assert len(sig.marshal()) == len(real_sig.marshal()) == 72


def test_emulator_reproduces_the_real_ak_area_and_qualified_signer():
    """The emulated EK template and qualified-Name rule, applied to the real EK and AK keys, give the real bytes."""
    real_ak = TpmtPublic.unmarshal(_hex("ak.public.hex"))
    ek = x509.load_pem_x509_certificate((SAMPLE / "ek-rsa2048.pem").read_bytes()).public_key()
    assert isinstance(ek, rsa.RSAPublicKey)
    tpm = EmulatedTpm.for_device(Device.from_seed("webauthn", "swtpm-comparison"), DEFAULT_PKI_PROFILE)
    assert tpm.ak_public(real_ak.public_key()).marshal() == _hex("ak.public.hex")
    ek_area = public_area(ek, EK_ATTRIBUTES, symmetric=AES_128_CFB, auth_policy=EK_POLICY)
    ek_qn = qualified_name(u32(TPM_RH_ENDORSEMENT), ek_area.name())
    assert qualified_name(ek_qn, real_ak.name()) == _hex("ak.qualified_name.hex")
    assert TpmsAttest.unmarshal(_hex("ec-p256.attest.hex")).firmware_version == 0x2019102300163636


# -- live swtpm -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    if _UNAVAILABLE is not None:
        pytest.skip(f"swtpm backend unavailable: {_UNAVAILABLE}")
    ks = SwtpmKeyStore(tmp_path_factory.mktemp("swtpm") / "store")
    for spec in SPECS:
        ks.generate(KeySpec.parse(spec), spec)
    yield ks
    ks.close()


def _swtpm_pids(state_dir: Path) -> list[int]:
    """Live swtpm processes whose command line names ``state_dir``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"swtpm\0") and str(state_dir).encode() in cmdline:
                found.append(int(proc.name))
    return found


@live
@pytest.mark.parametrize("spec", SPECS)
def test_created_keys_read_back_from_the_tpm(store, spec):
    key = store.get(spec)
    assert key.spec == KeySpec.parse(spec)
    attrs = key.attributes
    assert attrs.local and attrs.never_extractable and attrs.always_sensitive and attrs.sign
    assert not attrs.extractable and not attrs.decrypt
    certification = store.certify(spec, b"x")
    assert attrs.id == tpm_name(certification.public)
    public = TpmtPublic.unmarshal(certification.public)
    assert public.public_key().public_numbers() == key.public_key.public_numbers()
    params = public.parameters
    size = params.key_bits if isinstance(params, RsaParms) else params.curve_id
    assert size == {"rsa-2048": 2048, "rsa-3072": 3072, "ec-p256": 3, "ec-p384": 4}[spec]
    if isinstance(params, RsaParms):
        assert params.exponent == 0  # the TPM's encoding of 65537


@live
@pytest.mark.parametrize("spec", SPECS)
def test_certify_has_the_real_tpm_facts_and_the_ak_signature_verifies(store, spec):
    extra = hashlib.sha256(spec.encode()).digest()
    certification = store.certify(spec, extra)
    ak = store.attestation_key()
    check_certification(certification.attest, certification.signature, certification.public, ak.public_area, extra)
    info = TpmsAttest.unmarshal(certification.attest)
    assert info.qualified_signer == ak.qualified_name and ak.name == tpm_name(ak.public_area)
    assert TpmtPublic.unmarshal(ak.public_area).public_key().public_numbers() == ak.public_key.public_numbers()


@live
def test_tpm_signer_signs_csrs_and_pss(store):
    for spec in SPECS:
        signer = store.signer(store.get(spec))
        csr = build_csr(SUBJECT, signer, "sha384" if spec == "ec-p384" else "sha256")
        assert csr.is_signature_valid and csr.public_key().public_numbers() == signer.public_key().public_numbers()
    rsa_signer = store.signer(store.get("rsa-3072"))
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    rsa_signer.public_key().verify(rsa_signer.sign(b"data", pss, hashes.SHA256()), b"data", pss, hashes.SHA256())
    with pytest.raises(UnsupportedKeyError, match="salt"):
        rsa_signer.sign(b"data", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH), hashes.SHA256())
    with pytest.raises(KeystoreError, match="lives in the TPM"):
        rsa_signer.private_numbers()


@live
def test_endorsement_chain_and_ek_certificate(store):
    ek, intermediate, root = store.endorsement_chain()
    ek.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    assert EKU_EK_CERTIFICATE in ek.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    private_ca = x509.load_pem_x509_certificate((store.directory / "localca" / "issuercert.pem").read_bytes())
    assert intermediate == private_ca  # the store's own swtpm-localca, not the system one


@live
def test_refusals_are_one_line_errors(store):
    for spec in ("rsa-4096", "ed25519", "aes-256"):
        with pytest.raises(UnsupportedKeyError, match="swtpm backend creates"):
            store.generate(KeySpec.parse(spec), f"no-{spec}")
    with pytest.raises(UnsupportedKeyError, match="extractable=True"):
        store.generate(KeySpec.parse("ec-p256"), "loose", policy=KeyPolicy(extractable=True))
    with pytest.raises(KeystoreError, match="already exists"):
        store.generate(KeySpec.parse("ec-p256"), "ec-p256")
    with pytest.raises(KeyNotFoundError):
        store.certify("missing", b"")
    with pytest.raises(KeystoreError, match="at most 64"):
        store.certify("ec-p256", b"\x00" * 65)
    with pytest.raises(KeystoreError, match="TPM2_Sign failed") as info:
        store._sign("ec-p256", b"\x00" * 5, 0x0018, 0x000B)  # a digest of the wrong size
    assert "\n" not in str(info.value)


@live
def test_imported_key_reports_not_local_and_is_certified(store):
    key = store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported")
    assert not key.attributes.local and key.attributes.extractable and not key.attributes.never_extractable
    certification = store.certify("imported", b"nonce")
    assert TpmtPublic.unmarshal(certification.public).object_attributes == IMPORTED_KEY_ATTRIBUTES
    attested = TpmsAttest.unmarshal(certification.attest).attested
    assert isinstance(attested, CertifyInfo) and attested.name == tpm_name(certification.public) == key.attributes.id
    signer = store.signer(key)
    signer.public_key().verify(signer.sign(b"m", ec.ECDSA(hashes.SHA256())), b"m", ec.ECDSA(hashes.SHA256()))

# -- lifecycle: each test has its own TPM ----------------------------------------------------------
@live
def test_a_connection_refused_while_swtpm_starts_listening_is_tried_again(tmp_path, monkeypatch):
    """swtpm creates its socket files as it binds them, a moment before it listens: on a loaded machine libtss2's
    first connection can land in that moment and fail (tcti:IO failure, seen once in CI). The store tries again
    until its start deadline instead of failing the call."""
    from tpm2_pytss import TSS2_Exception

    import hsmsim.keystore.swtpm as swtpm_module

    real, attempts = swtpm_module.TCTILdr, []

    def refused_twice(*args: object) -> object:
        attempts.append(args)
        if len(attempts) <= 2:
            raise TSS2_Exception(0xA000A)  # TSS2_TCTI_RC_IO_ERROR, what a refused connection gives
        return real(*args)

    monkeypatch.setattr(swtpm_module, "TCTILdr", refused_twice)
    with SwtpmKeyStore(tmp_path / "store") as store:
        store.generate(KeySpec.parse("ec-p256"), "k")
        assert store.certify("k", b"n").attest and len(attempts) == 3


@live
def test_keys_survive_a_restart_and_no_swtpm_survives_close(tmp_path):
    directory = tmp_path / "store"
    first = SwtpmKeyStore(directory)
    assert first.all_keys() == [] and first.swtpm_pid is None  # opening starts nothing
    created = first.generate(KeySpec.parse("ec-p256"), "kept")
    ak_before = first.attestation_key()
    pid = first.swtpm_pid
    assert pid is not None and _swtpm_pids(directory) == [pid]
    first.close()
    assert not Path(f"/proc/{pid}").exists() and _swtpm_pids(directory) == []
    for after_close in (lambda: first.get("kept"), lambda: first.certify("kept", b""), first.attestation_key):
        with pytest.raises(KeystoreError, match="closed"):
            after_close()
    assert _swtpm_pids(directory) == []  # nothing restarted it

    with SwtpmKeyStore(directory) as second:
        assert [k.label for k in second.all_keys()] == ["kept"]
        assert second.get("kept").attributes.id == created.attributes.id
        certification = second.certify("kept", b"after restart")
        ak = second.attestation_key()
        assert ak.public_area == ak_before.public_area
        check_certification(certification.attest, certification.signature, certification.public, ak.public_area,
                            b"after restart")
        assert TpmsAttest.unmarshal(certification.attest).clock_info.reset_count > 0  # a new TPM power cycle
    assert _swtpm_pids(directory) == []


@live
def test_one_swtpm_per_state_directory(tmp_path):
    directory = tmp_path / "store"
    with SwtpmKeyStore(directory) as first:
        first.generate(KeySpec.parse("ec-p256"), "k")
        other = SwtpmKeyStore(directory, lock_timeout=0.3)
        assert [k.label for k in other.all_keys()] == ["k"]  # reading records needs no TPM
        with pytest.raises(KeystoreError, match="in use by another process"):
            other.certify("k", b"")
        assert len(_swtpm_pids(directory)) == 1
    other.certify("k", b"")  # the lock is free again
    other.close()
    assert _swtpm_pids(directory) == []


@live
def test_a_dead_or_hung_swtpm_gives_an_error_not_a_hang(tmp_path):
    directory = tmp_path / "store"
    with SwtpmKeyStore(directory, op_timeout=2) as store:
        store.generate(KeySpec.parse("ec-p256"), "k")
        os.kill(store.swtpm_pid, signal.SIGKILL)
        time.sleep(0.1)
        with pytest.raises(KeystoreError, match="exited") as info:
            store.certify("k", b"")
        assert "\n" not in str(info.value)
        store.certify("k", b"")  # the next call starts a new swtpm
        pid = store.swtpm_pid
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(KeystoreError, match="did not answer TPM2_Certify within 2 s"):
            store.certify("k", b"")
        assert time.monotonic() - started < 10
        assert not Path(f"/proc/{pid}").exists() or b"Z" in Path(f"/proc/{pid}/stat").read_bytes().split()[2]
    assert _swtpm_pids(directory) == []


_CHILD = """
import os, sys, threading
from pathlib import Path
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.swtpm import SwtpmKeyStore
store = SwtpmKeyStore(Path(sys.argv[1]))
start = lambda: store.generate(KeySpec.parse("ec-p256"), "k")
if sys.argv[2] == "worker":
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
else:
    start()
print(store.swtpm_pid, flush=True)
os._exit(0)  # no close(), no atexit: as if killed
"""


@live
@pytest.mark.parametrize("thread", ["main", "worker"])
def test_a_swtpm_left_by_a_killed_process_is_stopped(tmp_path, thread):
    directory = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(directory), thread], capture_output=True, text=True,
                          timeout=120, check=False, env=env)
    assert done.returncode == 0 and done.stdout.strip().isdigit(), done.stdout + done.stderr[-2000:]
    orphan = int(done.stdout.split()[-1])
    orphan_sockets = Path(json.loads((directory / "swtpm.pid").read_text())["sockets"])
    assert orphan_sockets.is_dir()
    if thread == "main":  # the kernel's parent-death signal stops it
        deadline = time.monotonic() + 5
        while _swtpm_pids(directory) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _swtpm_pids(directory) == []
    else:  # spawned from a worker thread: no parent-death signal, the next start stops it
        assert _swtpm_pids(directory) == [orphan]
    with SwtpmKeyStore(directory) as store:
        store.certify("k", b"")
        assert _swtpm_pids(directory) == [store.swtpm_pid] != [orphan]
        assert not orphan_sockets.exists()
    assert _swtpm_pids(directory) == [] and not (directory / "swtpm.pid").exists()


@live
def test_open_keystore_and_temporary_store(tmp_path):
    assert "swtpm" in BACKENDS
    store = open_keystore("swtpm", tmp_path / "swtpm")
    assert isinstance(store, SwtpmKeyStore) and store.directory == tmp_path / "swtpm"
    store.close()
    temporary = SwtpmKeyStore()
    temporary.generate(KeySpec.parse("ec-p256"), "k")
    where = temporary.directory
    temporary.close()
    assert not where.exists()


@live
def test_corrupt_record_is_a_keystore_error(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "x.json").write_text("{not json")
    with pytest.raises(KeystoreError, match="corrupt swtpm key record"):
        SwtpmKeyStore(tmp_path)


# -- genuine evidence end to end: keys in swtpm, certified by its AK, verified under the emulated root -----
@live
@pytest.mark.parametrize(("fmt", "spec"), [("webauthn", "ec-p256"), ("webauthn", "rsa-3072"), ("tpm-acme", "ec-p256")])
def test_genuine_tpm_evidence_is_accepted(store, fmt, spec):
    device = Device.from_seed(fmt, "genuine")
    at = datetime.now(UTC).replace(microsecond=0)
    evidence = Hsm(device, store).attest(spec, fmt, {"attest_time": at})
    root = tuple(x509.load_pem_x509_certificates(evidence.files["tpm_root_ca.pem"]))
    verdict = get_format(fmt).verify(evidence, TrustAnchors({"root": root}), at=at, profile=Profile.STRICT)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims is not None and verdict.claims.generated_on_device and not verdict.claims.extractable
    ak = store.attestation_key()
    statement = _statement(fmt, evidence)
    attest = TpmsAttest.unmarshal(statement["certInfo"])
    assert attest.qualified_signer == ak.qualified_name  # signed by the real AK, not an emulated one
    assert attest.firmware_version != EmulatedTpm.for_device(device, DEFAULT_PKI_PROFILE).model.firmware_version
    assert statement["pubArea"] == store.public_area(spec)
    ak_cert = x509.load_der_x509_certificate(statement["x5c"][0])
    assert ak_cert.public_key().public_numbers() == ak.public_key.public_numbers()
    ek_chain = x509.load_pem_x509_certificates(evidence.files[f"{spec}.ek-chain.pem"])
    assert ek_chain == list(store.endorsement_chain())


def _statement(fmt: str, evidence) -> dict:
    record = json.loads(evidence.files[evidence.primary])
    if fmt == "webauthn":
        obj = cbor2.loads(base64.urlsafe_b64decode(record["credential"]["response"]["attestationObject"] + "=="))
    else:
        obj = cbor2.loads(base64.urlsafe_b64decode(record["payload"]["attObj"] + "=="))
    return obj["attStmt"]


@live
def test_genuine_parsec_token_is_accepted_without_an_activation(store):
    device = Device.from_seed("parsec-tpm", "genuine")
    at = datetime.now(UTC).replace(microsecond=0)
    evidence = Hsm(device, store).attest("ec-p256", "parsec-tpm", {"attest_time": at})
    assert "ec-p256.activate-credential.json" not in evidence.files  # ActivateCredential runs in the emulated TPM only
    root = tuple(x509.load_pem_x509_certificates(evidence.files["tpm_root_ca.pem"]))
    verdict = get_format("parsec-tpm").verify(evidence, TrustAnchors({"root": root}), at=at)
    assert verdict.accepted, verdict.summary()
    kat = json.loads(evidence.files[evidence.primary])["kat"]
    attest = TpmsAttest.unmarshal(base64.b64decode(kat["certInfo"]))
    assert attest.qualified_signer == store.attestation_key().qualified_name
    assert base64.b64decode(kat["sig"])[:4] == bytes.fromhex("0018000b")  # the TPMT_SIGNATURE as the TPM returned it
    pat = json.loads(evidence.files[evidence.primary])["pat"]
    quote = TpmsAttest.unmarshal(base64.b64decode(pat["attestInfo"]))  # the TPM's own TPM2_Quote, by the same AK
    assert (quote.type, quote.qualified_signer, quote.extra_data) == (
        TpmSt.ATTEST_QUOTE, attest.qualified_signer, attest.extra_data)
    assert (quote.firmware_version, quote.clock_info.reset_count) == (attest.firmware_version,
                                                                      attest.clock_info.reset_count)
    assert quote.clock_info.clock >= attest.clock_info.clock
    assert quote.attested == QuoteInfo((PcrSelection(TpmAlg.SHA256, b"\xff\x00\x00"),),  # PCRs 0-7 as Startup left them
                                       hashlib.sha256(bytes(32 * 8)).digest())
    assert verdict.claims is not None and verdict.claims.extra["pcr_selection"] == "sha256:0,1,2,3,4,5,6,7"


@live
def test_genuine_parsec_quote_of_chosen_pcrs_has_the_pc_client_startup_values(store):
    # What the emulated TPM assumes of PCRs it does not measure, checked against a real one: swtpm after
    # TPM2_Startup(CLEAR) holds zeros in PCRs 0-16 and 23 and all ones in 17-22 (the DRTM PCRs).
    device = Device.from_seed("parsec-tpm", "genuine")
    at = datetime.now(UTC).replace(microsecond=0)
    evidence = Hsm(device, store).attest("ec-p256", "parsec-tpm", {"attest_time": at, "pcrs": "0,16-18,23"})
    quote = TpmsAttest.unmarshal(base64.b64decode(json.loads(evidence.files[evidence.primary])["pat"]["attestInfo"]))
    assert quote.attested == QuoteInfo((PcrSelection.of(TpmAlg.SHA256, (0, 16, 17, 18, 23)),), hashlib.sha256(
        bytes(64) + b"\xff" * 64 + bytes(32)).digest())
    root = tuple(x509.load_pem_x509_certificates(evidence.files["tpm_root_ca.pem"]))
    verdict = get_format("parsec-tpm").verify(evidence, TrustAnchors({"root": root}), at=at)
    assert verdict.accepted and verdict.claims is not None
    assert verdict.claims.extra["pcr_selection"] == "sha256:0,16,17,18,23"


@live
def test_quote_refuses_what_a_tpm_refuses(store):
    with pytest.raises(KeystoreError, match="TPM2B_DATA"):
        store.quote(bytes.fromhex("00000001000b03ff0000"), bytes(65))
    with pytest.raises(KeystoreError, match="after its TPML_PCR_SELECTION"):
        store.quote(bytes.fromhex("00000001000b03ff000000"), b"")


@live
def test_cli_attests_a_swtpm_key_with_genuine_evidence(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hsmsim", *args, "--state", str(tmp_path / "st")],
                              capture_output=True, text=True, timeout=300, check=False, env=env)

    created = hsmsim("key", "create", "--backend", "swtpm", "--format", "webauthn", "--label", "k", "--spec", "ec-p256")
    assert created.returncode == 0, created.stderr
    attested = hsmsim("attest", "--format", "webauthn", "--key", "k", "--out", str(tmp_path / "out"))
    assert attested.returncode == 0, attested.stderr
    verified = subprocess.run([sys.executable, "-m", "hsmsim", "verify", str(tmp_path / "out" / "k.webauthn.json"),
                               "--root", str(tmp_path / "out" / "tpm_root_ca.pem")],
                              capture_output=True, text=True, timeout=120, check=False, env=env)
    assert (verified.returncode, verified.stdout.strip()) == (0, "ACCEPT"), verified.stderr
    assert _swtpm_pids(tmp_path / "st" / "swtpm") == []


@live
def test_swtpm_state_that_cannot_be_written_is_one_line_and_exit_2(tmp_path):
    """attest on a swtpm state whose lock file cannot be opened (read-only, full; here a directory in its place) is
    one line and exit 2, as is a key record that cannot be written; neither leaves a key or a swtpm behind."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    state = tmp_path / "st"

    def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hsmsim", *args, "--state", str(state)],
                              capture_output=True, text=True, timeout=300, check=False, env=env)

    assert hsmsim("key", "create", "--backend", "swtpm", "--format", "tpm-acme", "--label", "k").returncode == 0
    lock = state / "swtpm" / "swtpm.lock"
    lock.unlink()
    lock.mkdir()
    refused = hsmsim("attest", "--key", "k", "--out", str(tmp_path / "out"))
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == f"hsmsim: error: cannot run swtpm on {state / 'swtpm'}: Is a directory ({lock})\n"
    lock.rmdir()
    assert hsmsim("attest", "--key", "k", "--out", str(tmp_path / "out")).returncode == 0
    assert _swtpm_pids(state / "swtpm") == []


@live
def test_a_key_record_that_cannot_be_written_is_refused_and_leaves_the_label_free(store, monkeypatch):
    import hsmsim.keystore.swtpm as module

    def disk_full(path: Path, data: bytes, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(module, "write_atomic", disk_full)
        with pytest.raises(KeystoreError, match=r"cannot store 'unwritten' in .*/keys: No space left on device \("):
            store.generate(KeySpec.parse("ec-p256"), "unwritten")
    with pytest.raises(KeyNotFoundError):
        store.get("unwritten")
    assert store.generate(KeySpec.parse("ec-p256"), "unwritten").label == "unwritten"


# -- why swtpm_setup failed, in one line (no swtpm needed: its outputs are given) ------------------------------------

_FULL_DISK_LOG = b"""Creating root CA and a local CA's signing key and issuer cert.
Successfully created EK certificate locally.
SWTPM_NVRAM_StoreData: Error (fatal), data write of 3576 only wrote 4294967295
libtpms/tpm2: Entering failure mode; code: 3, location: ExecuteCommand line 308
TPM2_NV_DefineSpace failed: 0x101
Could not create NVRAM area 0x1c00002 for EK Certificate.
An error occurred. Authoring the TPM state failed.
"""


def test_setup_failure_names_a_state_that_could_not_be_written(tmp_path: Path) -> None:
    """swtpm_setup on a full file system prints only "TPM is listening on Unix socket." to stdout; its log holds
    the short NVRAM write, which the user must hear about as a full (or read-only) file system."""
    log = tmp_path / "swtpm_setup.log"
    log.write_bytes(_FULL_DISK_LOG)
    why = setup_failure(tmp_path, 1, b"TPM is listening on Unix socket.\n", b"", log)
    assert why.startswith(f"swtpm could not write the TPM state in {tmp_path}: is its file system full or read-only?")
    assert "\n" not in why


def test_setup_failure_gives_the_first_error_line_not_the_last(tmp_path: Path) -> None:
    """The first error line is the cause; the last ones only say that authoring failed."""
    log = tmp_path / "swtpm_setup.log"
    log.write_bytes(b"Starting vTPM manufacturing\nswtpm_localca: Could not create the local CA: permission denied\n"
                    b"An error occurred. Authoring the TPM state failed.\n")
    assert setup_failure(tmp_path, 1, b"TPM is listening on Unix socket.\n", b"", log) == (
        "swtpm_localca: Could not create the local CA: permission denied")


def test_setup_failure_falls_back_to_the_output_then_the_status(tmp_path: Path) -> None:
    missing = tmp_path / "no-log"
    assert setup_failure(tmp_path, 3, b"one\nlast line\n", b"", missing) == "last line"
    assert setup_failure(tmp_path, 3, b"", b"", missing) == "exit status 3"
