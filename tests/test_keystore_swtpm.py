"""The swtpm key store against a real software TPM, and the genuine sample in tests/data/swtpm.

The sample tests run everywhere; the live ones (marker ``swtpm``) need swtpm, swtpm-tools and
tpm2-pytss. The byte parsers here are deliberately small and local: they check the facts of
round2_formats.md §2.1.2 independently of hsmsim's own TPM codec.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from hsmsim.errors import KeyNotFoundError, KeystoreError, UnsupportedKeyError
from hsmsim.keystore import BACKENDS, open_keystore
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import new_key_material
from hsmsim.keystore.swtpm import (
    IMPORTED_KEY_ATTRIBUTES,
    SIGNING_KEY_ATTRIBUTES,
    SwtpmKeyStore,
    swtpm_available,
)
from hsmsim.pki.builder import build_csr

SAMPLE = Path(__file__).parent / "data" / "swtpm"
SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384")
EKU_EK_CERTIFICATE = x509.ObjectIdentifier("2.23.133.8.1")
SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmsim swtpm test")])

_UNAVAILABLE = swtpm_available()


def live(test):
    """Marks a test that runs a real swtpm (marker ``swtpm``; skipped when the backend cannot run)."""
    skip = pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"swtpm backend unavailable: {_UNAVAILABLE}")
    return pytest.mark.swtpm(skip(test))


# -- local TPM 2.0 byte parsers (TPM 2.0 Part 2) --------------------------------------------------
class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def tpm2b(self) -> bytes:
        return self.take(self.u16())

    def rest(self) -> bytes:
        return self.data[self.at:]


@dataclass
class Attest:
    magic: int
    type: int
    qualified_signer: bytes
    extra_data: bytes
    clock: int
    reset_count: int
    restart_count: int
    safe: int
    firmware_version: int
    name: bytes
    qualified_name: bytes
    trailing: bytes


def parse_attest(data: bytes) -> Attest:
    c = _Cursor(data)
    return Attest(c.u32(), c.u16(), c.tpm2b(), c.tpm2b(), c.u64(), c.u32(), c.u32(), c.take(1)[0], c.u64(),
                  c.tpm2b(), c.tpm2b(), c.rest())


@dataclass
class Public:
    type: int
    name_alg: int
    attributes: int
    auth_policy: bytes
    symmetric: int
    scheme: int
    scheme_hash: int | None
    key_bits: int | None  # RSA
    exponent: int | None  # RSA
    curve: int | None  # ECC
    kdf: int | None  # ECC
    unique: tuple[bytes, ...]
    trailing: bytes

    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        if self.type == 0x0001:
            return rsa.RSAPublicNumbers(self.exponent or 65537, int.from_bytes(self.unique[0], "big")).public_key()
        curve = {0x0003: ec.SECP256R1(), 0x0004: ec.SECP384R1()}[self.curve or 0]
        x, y = (int.from_bytes(part, "big") for part in self.unique)
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()


def parse_public(area: bytes) -> Public:
    c = _Cursor(area)
    kind, name_alg, attributes, policy = c.u16(), c.u16(), c.u32(), c.tpm2b()
    symmetric = c.u16()
    if symmetric != 0x0010:
        c.take(4)  # keyBits, mode
    scheme = c.u16()
    scheme_hash = c.u16() if scheme != 0x0010 else None
    if kind == 0x0001:
        bits, exponent = c.u16(), c.u32()
        return Public(kind, name_alg, attributes, policy, symmetric, scheme, scheme_hash, bits, exponent, None, None,
                      (c.tpm2b(),), c.rest())
    curve, kdf = c.u16(), c.u16()
    if kdf != 0x0010:
        c.u16()
    return Public(kind, name_alg, attributes, policy, symmetric, scheme, scheme_hash, None, None, curve, kdf,
                  (c.tpm2b(), c.tpm2b()), c.rest())


def parse_ecdsa_signature(data: bytes) -> tuple[int, int, bytes, bytes, bytes]:
    """sigAlg, hashAlg, r, s, trailing of a TPMT_SIGNATURE."""
    c = _Cursor(data)
    return c.u16(), c.u16(), c.tpm2b(), c.tpm2b(), c.rest()


def tpm_name(area: bytes) -> bytes:
    return b"\x00\x0b" + hashlib.sha256(area).digest()


def check_certification(attest: bytes, signature: bytes, public: bytes, ak_area: bytes, extra: bytes) -> None:
    """The §2.1.2 facts of one TPM2_Certify output, and the AK signature over the TPMS_ATTEST."""
    info = parse_attest(attest)
    assert (info.magic, info.type) == (0xFF544347, 0x8017)
    assert attest[:6] == bytes.fromhex("ff5443478017")
    assert len(info.qualified_signer) == 34 and info.qualified_signer[:2] == b"\x00\x0b"
    assert info.extra_data == extra
    assert info.safe in (0, 1) and info.trailing == b""
    assert info.name == tpm_name(public)
    assert info.qualified_name[:2] == b"\x00\x0b" and len(info.qualified_name) == 34
    key = parse_public(public)
    assert key.name_alg == 0x000B and key.attributes == SIGNING_KEY_ATTRIBUTES == 0x00040472
    assert (key.symmetric, key.scheme, key.auth_policy, key.trailing) == (0x0010, 0x0010, b"", b"")
    ak = parse_public(ak_area)
    assert (ak.type, ak.attributes, ak.scheme, ak.scheme_hash, ak.curve) == (0x0023, 0x00050072, 0x0018, 0x000B, 3)
    sig_alg, hash_alg, r, s, trailing = parse_ecdsa_signature(signature)
    assert (sig_alg, hash_alg, len(r), len(s), trailing) == (0x0018, 0x000B, 32, 32, b"")
    assert signature[:4] == bytes.fromhex("0018000b")
    der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    ak_key = ak.public_key()
    assert isinstance(ak_key, ec.EllipticCurvePublicKey)
    ak_key.verify(der, attest, ec.ECDSA(hashes.SHA256()))


# -- the saved genuine sample: runs without swtpm ----------------------------------------------------
def _hex(name: str) -> bytes:
    return bytes.fromhex((SAMPLE / name).read_text().strip())


@pytest.mark.parametrize("spec", ["rsa-2048", "ec-p256"])
def test_saved_sample_has_the_real_tpm_facts(spec):
    meta = json.loads((SAMPLE / "sample.json").read_text())
    extra = bytes.fromhex(meta["keys"][spec]["extra_data"])
    attest, public = _hex(f"{spec}.attest.hex"), _hex(f"{spec}.public.hex")
    check_certification(attest, _hex(f"{spec}.signature.hex"), public, _hex("ak.public.hex"), extra)
    assert parse_attest(attest).qualified_signer == _hex("ak.qualified_name.hex")
    key = parse_public(public)
    assert (key.type, key.key_bits or key.curve) == ((0x0001, 2048) if spec == "rsa-2048" else (0x0023, 3))


def test_saved_sample_ek_chain_verifies():
    ek, intermediate, root = (x509.load_pem_x509_certificate((SAMPLE / f"{n}.pem").read_bytes())
                              for n in ("ek-rsa2048", "localca-intermediate", "localca-root"))
    ek.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert EKU_EK_CERTIFICATE in ek.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert root.subject.rfc4514_string() == "CN=swtpm-localca-rootca"


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
    public = parse_public(certification.public)
    assert public.public_key().public_numbers() == key.public_key.public_numbers()
    assert (public.key_bits or public.curve) == {"rsa-2048": 2048, "rsa-3072": 3072, "ec-p256": 3, "ec-p384": 4}[spec]
    if public.type == 0x0001:
        assert public.exponent == 0  # the TPM's encoding of 65537


@live
@pytest.mark.parametrize("spec", SPECS)
def test_certify_has_the_real_tpm_facts_and_the_ak_signature_verifies(store, spec):
    extra = hashlib.sha256(spec.encode()).digest()
    certification = store.certify(spec, extra)
    ak = store.attestation_key()
    check_certification(certification.attest, certification.signature, certification.public, ak.public_area, extra)
    info = parse_attest(certification.attest)
    assert info.qualified_signer == ak.qualified_name and ak.name == tpm_name(ak.public_area)
    assert parse_public(ak.public_area).public_key().public_numbers() == ak.public_key.public_numbers()


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
    assert parse_public(certification.public).attributes == IMPORTED_KEY_ATTRIBUTES
    assert parse_attest(certification.attest).name == tpm_name(certification.public) == key.attributes.id
    signer = store.signer(key)
    signer.public_key().verify(signer.sign(b"m", ec.ECDSA(hashes.SHA256())), b"m", ec.ECDSA(hashes.SHA256()))

# -- lifecycle: each test has its own TPM ----------------------------------------------------------
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
        assert parse_attest(certification.attest).reset_count > 0  # a new TPM power cycle
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
