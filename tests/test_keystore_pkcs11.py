"""The pkcs11 key store against a real SoftHSM2 token: attributes are read back, keys sign on
the token, and tokens persist. Each test gets its own token directory under ``tmp_path``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from hsmsim.errors import (
    BackendUnavailableError,
    KeyNotFoundError,
    KeystoreError,
    UnsupportedKeyError,
)
from hsmsim.keystore.base import KeyClass, KeyPolicy, KeySpec, KeyType
from hsmsim.keystore.pkcs11 import Pkcs11KeyStore, find_softhsm_module
from hsmsim.keystore.soft import aes_check_value, spki_der

if find_softhsm_module() is None or shutil.which("softhsm2-util") is None:
    pytest.skip(
        "SoftHSM2 is not installed (apt-get install softhsm2, or make setup)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.softhsm

OID_P256 = bytes.fromhex("06082a8648ce3d030107")
OID_ED25519 = bytes.fromhex("06032b6570")
ED25519_PRINTABLE = b"\x13\x0cedwards25519"
SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmsim pkcs11 test")])


@pytest.fixture
def store(tmp_path: Path):
    ks = Pkcs11KeyStore(token_dir=tmp_path / "token")
    yield ks
    ks.close()


def _csr(signer, algorithm, **kwargs) -> x509.CertificateSigningRequest:
    return x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(
        signer, algorithm, **kwargs
    )


def _assert_generated(attrs, *, mechanism: str) -> None:
    assert attrs.token and attrs.private
    assert attrs.local is True
    assert attrs.key_gen_mechanism == mechanism
    assert attrs.sensitive is True and attrs.always_sensitive is True
    assert attrs.extractable is False and attrs.never_extractable is True
    assert attrs.sign is True
    assert (attrs.decrypt, attrs.unwrap, attrs.derive) == (False, False, False)
    assert (attrs.modifiable, attrs.copyable, attrs.destroyable) == (False, False, True)
    assert len(attrs.id) == 20


def _assert_imported(attrs) -> None:
    assert attrs.local is False
    assert attrs.never_extractable is False
    assert attrs.always_sensitive is False
    assert attrs.key_gen_mechanism is None
    assert attrs.sensitive is True and attrs.extractable is False


def test_generated_rsa_2048_reads_back_and_signs_csrs(store: Pkcs11KeyStore) -> None:
    key = store.generate(KeySpec.parse("rsa-2048"), "rsa")
    _assert_generated(key.attributes, mechanism="RSA_PKCS_KEY_PAIR_GEN")
    assert key.attributes.key_class is KeyClass.PRIVATE_KEY
    assert key.attributes.key_type is KeyType.RSA
    assert key.attributes.modulus_bits == 2048
    assert key.attributes.ec_params is None and key.attributes.value_len is None
    assert key.spec == KeySpec.parse("rsa-2048")
    assert isinstance(key.public_key, rsa.RSAPublicKey)
    assert key.public_key.public_numbers().e == 65537

    signer = store.signer(key)
    assert isinstance(signer, rsa.RSAPrivateKey)
    assert signer.key_size == 2048
    csr = _csr(signer, hashes.SHA256())
    assert csr.is_signature_valid
    assert spki_der(csr.public_key()) == spki_der(key.public_key)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    assert _csr(signer, hashes.SHA256(), rsa_padding=pss).is_signature_valid

    data = b"signed on the token"
    key.public_key.verify(signer.sign(data, padding.PKCS1v15(), hashes.SHA512()), data,
                          padding.PKCS1v15(), hashes.SHA512())
    max_pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=padding.PSS.MAX_LENGTH)
    key.public_key.verify(signer.sign(data, max_pss, hashes.SHA384()), data, max_pss,
                          hashes.SHA384())
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    prehashed = signer.sign(digest.finalize(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    key.public_key.verify(prehashed, data, padding.PKCS1v15(), hashes.SHA256())

    with pytest.raises(KeystoreError, match="not extractable"):
        signer.private_numbers()
    with pytest.raises(KeystoreError):
        signer.decrypt(b"x" * 256, padding.PKCS1v15())


def test_generated_ec_p256_reads_back_and_signs(store: Pkcs11KeyStore) -> None:
    key = store.generate(KeySpec.parse("ec-p256"), "ec")
    _assert_generated(key.attributes, mechanism="EC_KEY_PAIR_GEN")
    assert key.attributes.key_type is KeyType.EC
    assert key.attributes.ec_params == OID_P256
    assert key.attributes.modulus_bits is None
    assert key.spec == KeySpec.parse("ec-p256")
    assert isinstance(key.public_key, ec.EllipticCurvePublicKey)

    signer = store.signer(key)
    assert isinstance(signer, ec.EllipticCurvePrivateKey)
    assert signer.curve.name == "secp256r1" and signer.key_size == 256
    data = b"ecdsa on the token"
    signature = signer.sign(data, ec.ECDSA(hashes.SHA256()))
    key.public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        key.public_key.verify(signature, data + b"!", ec.ECDSA(hashes.SHA256()))
    csr = _csr(signer, hashes.SHA256())
    assert csr.is_signature_valid
    assert spki_der(csr.public_key()) == spki_der(key.public_key)
    with pytest.raises(KeystoreError, match="not extractable"):
        signer.private_numbers()


def test_generated_ed25519_reads_back_and_signs_a_csr(store: Pkcs11KeyStore) -> None:
    key = store.generate(KeySpec.parse("ed25519"), "ed")
    _assert_generated(key.attributes, mechanism="EC_EDWARDS_KEY_PAIR_GEN")
    assert key.attributes.key_type is KeyType.EC_EDWARDS
    # SoftHSM 2.6.1 rewrites the private key's EC_PARAMS as PrintableString "edwards25519".
    assert key.attributes.ec_params in (OID_ED25519, ED25519_PRINTABLE)
    assert key.spec == KeySpec.parse("ed25519")
    assert isinstance(key.public_key, ed25519.Ed25519PublicKey)

    signer = store.signer(key)
    assert isinstance(signer, ed25519.Ed25519PrivateKey)
    key.public_key.verify(signer.sign(b"eddsa"), b"eddsa")
    csr = _csr(signer, None)  # cryptography 50 accepts a Python Ed25519PrivateKey subclass
    assert csr.is_signature_valid
    assert spki_der(csr.public_key()) == spki_der(key.public_key)
    with pytest.raises(KeystoreError, match="not extractable"):
        signer.private_bytes_raw()


def test_generated_aes_256_reads_back(store: Pkcs11KeyStore) -> None:
    key = store.generate(KeySpec.parse("aes-256"), "aes")
    _assert_generated(key.attributes, mechanism="AES_KEY_GEN")
    assert key.attributes.key_class is KeyClass.SECRET_KEY
    assert key.attributes.key_type is KeyType.AES
    assert key.attributes.value_len == 32
    assert key.spec == KeySpec.parse("aes-256")
    assert key.public_key is None
    assert key.check_value is not None and len(key.check_value) == 3
    with pytest.raises(UnsupportedKeyError):
        store.signer(key)


def test_policy_is_applied_and_read_back(store: Pkcs11KeyStore) -> None:
    policy = KeyPolicy(sensitive=False, extractable=True, sign=False, decrypt=True,
                       unwrap=True, derive=True, modifiable=True, copyable=True,
                       destroyable=False)
    attrs = store.generate(KeySpec.parse("ec-p256"), "open", policy=policy).attributes
    assert (attrs.sensitive, attrs.always_sensitive) == (False, False)
    assert (attrs.extractable, attrs.never_extractable) == (True, False)
    assert attrs.local is True
    assert (attrs.sign, attrs.decrypt, attrs.unwrap, attrs.derive) == (False, True, True, True)
    assert (attrs.modifiable, attrs.copyable, attrs.destroyable) == (True, True, False)
    with pytest.raises(KeystoreError, match="CKA_SIGN=false"):
        store.signer(store.get("open"))


@pytest.mark.parametrize("kind", ["rsa-2048", "ec-p256", "ed25519", "aes-256"])
def test_imported_keys_report_not_local(store: Pkcs11KeyStore, kind: str) -> None:
    material: object
    if kind == "rsa-2048":
        material = rsa.generate_private_key(65537, 2048)
    elif kind == "ec-p256":
        material = ec.generate_private_key(ec.SECP256R1())
    elif kind == "ed25519":
        material = ed25519.Ed25519PrivateKey.generate()
    else:
        material = os.urandom(32)
    key = store.import_key(material, "imported")  # type: ignore[arg-type]
    _assert_imported(key.attributes)
    assert key.spec == KeySpec.parse(kind)
    if isinstance(material, bytes):
        assert key.check_value == aes_check_value(material)
        return
    assert spki_der(key.public_key) == spki_der(material.public_key())  # type: ignore[attr-defined]
    signer = store.signer(key)
    if kind == "ec-p256":
        sig = signer.sign(b"m", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
        material.public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]
    else:
        assert _csr(signer, None if kind == "ed25519" else hashes.SHA256()).is_signature_valid
    with pytest.raises(KeystoreError, match="already on the token"):
        store.import_key(material, "imported-again")  # type: ignore[arg-type]


def test_duplicate_label_is_refused(store: Pkcs11KeyStore) -> None:
    store.generate(KeySpec.parse("ec-p256"), "dup")
    with pytest.raises(KeystoreError, match="already exists"):
        store.generate(KeySpec.parse("aes-128"), "dup")
    with pytest.raises(KeystoreError, match="already exists"):
        store.import_key(os.urandom(16), "dup")
    listed = store.all_keys()
    assert [k.label for k in listed] == ["dup"]


def test_unknown_label_raises(store: Pkcs11KeyStore) -> None:
    with pytest.raises(KeyNotFoundError):
        store.get("nope")


def test_keys_in_creation_order_with_created_times(store: Pkcs11KeyStore) -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    store.generate(KeySpec.parse("ec-p384"), "b-first", created=when)
    store.generate(KeySpec.parse("aes-128"), "a-second")
    store.import_key(ed25519.Ed25519PrivateKey.generate(), "c-third")
    keys = store.all_keys()
    assert [k.label for k in keys] == ["b-first", "a-second", "c-third"]
    assert keys[0].created == when
    assert keys[1].created.tzinfo is not None and keys[1].created.microsecond == 0


def test_token_persists_across_stores(tmp_path: Path) -> None:
    token_dir = tmp_path / "persistent"
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    with Pkcs11KeyStore(token_dir=token_dir) as first:
        made = first.generate(KeySpec.parse("ec-p256"), "kept", created=when)
        imported = first.import_key(os.urandom(32), "kept-aes")
    sidecar = json.loads((token_dir / "hsmsim-created.json").read_text())
    assert sidecar[made.attributes.id.hex()] == when.isoformat()

    with Pkcs11KeyStore(token_dir=token_dir) as second:
        again = second.get("kept")
        assert again.attributes == made.attributes
        assert again.created == when
        assert spki_der(again.public_key) == spki_der(made.public_key)
        assert second.get("kept-aes").attributes == imported.attributes
        assert second.get("kept-aes").check_value == imported.check_value
        sig = second.signer(again).sign(b"later", ec.ECDSA(hashes.SHA256()))
        made.public_key.verify(sig, b"later", ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]

    # And from a brand-new process.
    code = (
        "import sys; from pathlib import Path; "
        "from hsmsim.keystore.pkcs11 import Pkcs11KeyStore; "
        "s = Pkcs11KeyStore(token_dir=Path(sys.argv[1])); k = s.get('kept'); "
        "print(k.attributes.id.hex(), k.attributes.local, k.created.isoformat()); s.close()"
    )
    out = subprocess.run([sys.executable, "-c", code, str(token_dir)], capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    assert out == [made.attributes.id.hex(), "True", when.isoformat()]


def test_stores_on_different_dirs_open_one_after_another(tmp_path: Path) -> None:
    with Pkcs11KeyStore(token_dir=tmp_path / "one") as one:
        one.generate(KeySpec.parse("aes-128"), "only-in-one")
        with pytest.raises(KeystoreError, match="close that store first"):
            Pkcs11KeyStore(token_dir=tmp_path / "two")
        with Pkcs11KeyStore(token_dir=tmp_path / "one") as same:  # same dir may share
            assert same.get("only-in-one").label == "only-in-one"
        assert one.get("only-in-one").attributes.value_len == 16
    with Pkcs11KeyStore(token_dir=tmp_path / "two") as two:
        assert two.all_keys() == []
        with pytest.raises(KeyNotFoundError):
            two.get("only-in-one")


def test_temporary_token_is_removed_and_close_is_idempotent() -> None:
    ks = Pkcs11KeyStore()
    token_dir = ks.token_dir
    assert token_dir is not None and (token_dir / "softhsm2.conf").is_file()
    key = ks.generate(KeySpec.parse("ec-p256"), "t")
    signer = ks.signer(key)
    ks.close()
    ks.close()
    assert not token_dir.exists()
    with pytest.raises(KeystoreError, match="closed"):
        ks.get("t")
    with pytest.raises(KeystoreError, match="closed"):
        signer.sign(b"x", ec.ECDSA(hashes.SHA256()))


def test_missing_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("HSMSIM_PKCS11_MODULE", str(tmp_path / "no-such-libsofthsm2.so"))
    with pytest.raises(BackendUnavailableError, match=r"no-such-libsofthsm2\.so does not exist; .*apt-get install "
                                                      r"softhsm2"):
        Pkcs11KeyStore(token_dir=tmp_path / "t")
    monkeypatch.setenv("HSMSIM_PKCS11_MODULE", str(tmp_path))
    with pytest.raises(BackendUnavailableError, match=re.escape(f"HSMSIM_PKCS11_MODULE={tmp_path} is not a file; ")):
        Pkcs11KeyStore(token_dir=tmp_path / "t")
    with pytest.raises(BackendUnavailableError, match=re.escape(f"PKCS#11 module {tmp_path} is not a file; ")):
        Pkcs11KeyStore(module=str(tmp_path), token_dir=tmp_path / "t")


_INIT_RACE = """
import sys, time
from pathlib import Path
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.pkcs11 import Pkcs11KeyStore
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
with Pkcs11KeyStore(token_dir=Path(sys.argv[1])) as store:
    store.generate(KeySpec.parse("ec-p256"), "k" + sys.argv[3])
print("ok")
"""


def test_concurrent_processes_initialise_one_token(tmp_path: Path) -> None:
    token_dir, go = tmp_path / "token", tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", _INIT_RACE, str(token_dir), str(go), str(index)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in range(4)]
    time.sleep(1.5)  # every process is waiting, with the library imported
    go.touch()
    results = [process.communicate(timeout=120) for process in processes]
    assert [out.strip() for out, _ in results] == ["ok"] * 4, [err[-400:] for _, err in results]
    with Pkcs11KeyStore(token_dir=token_dir) as store:
        assert sorted(key.label for key in store.all_keys()) == ["k0", "k1", "k2", "k3"]


def test_ec_key_on_the_token_is_attestable(tmp_path: Path) -> None:
    from hsmsim.formats import get_format
    from hsmsim.model.evidence import TrustAnchors
    from hsmsim.state import HsmState

    state = HsmState.open(tmp_path / "state", format="primus")
    try:
        state.store("pkcs11").generate(KeySpec.parse("ec-p256"), "ec-token")
        evidence = state.hsm("ec-token").attest("ec-token", mechanism="primus")
        root = get_format("primus").provision(state.device, "default").root
        verdict = get_format("primus").verify(evidence, TrustAnchors({"root": (root,)}), profile="strict")
        assert verdict.accepted, verdict.summary()
    finally:
        state.close()


def test_a_token_torn_by_a_kill_during_login_is_repaired(tmp_path: Path) -> None:
    # SoftHSM rewrites token.object in place at each login; a kill -9 then leaves it torn.
    token_dir = tmp_path / "token"
    with Pkcs11KeyStore(token_dir=token_dir) as store:
        made = store.generate(KeySpec.parse("ec-p256"), "kept")
    (token,) = (token_dir / "tokens").iterdir()
    torn = token / "token.object"
    torn.write_bytes(torn.read_bytes()[:100])
    with Pkcs11KeyStore(token_dir=token_dir) as store:
        assert store.get("kept").attributes == made.attributes
    assert len(list((token_dir / "tokens").iterdir())) == 1


def test_a_label_names_one_key_across_the_backends_of_a_state(tmp_path: Path) -> None:
    """attest looks a label up in every backend: key create refuses one another backend holds, in either order."""
    from hsmsim.errors import HsmsimError
    from hsmsim.state import HsmState

    state = HsmState.open(tmp_path / "s", seed="labels")
    try:
        state.new_key("soft", "shared", KeySpec.parse("ec-p256"), KeyPolicy())
        with pytest.raises(HsmsimError, match="a key labelled 'shared' exists in the soft backend"):
            state.new_key("pkcs11", "shared", KeySpec.parse("ec-p256"), KeyPolicy())
        state.new_key("pkcs11", "other", KeySpec.parse("ec-p256"), KeyPolicy())
        with pytest.raises(HsmsimError, match="a key labelled 'other' exists in the pkcs11 backend"):
            state.new_key("soft", "other", KeySpec.parse("ec-p256"), KeyPolicy(), imported=True)
        assert [k.label for b in state.backends_in_use() for k in state.store(b).all_keys()] == ["shared", "other"]
    finally:
        state.close()


# Keys a user made on hsmsim's token with another PKCS#11 tool (python-pkcs11 in a process of its own, as pkcs11-tool
# or p11tool would): hsmsim logs in with the user PIN 1234 to the token labelled hsmsim.
_OTHER_TOOL = """
import os, sys
import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism
os.environ["SOFTHSM2_CONF"] = sys.argv[1]
token = pkcs11.lib(sys.argv[2]).get_token(token_label="hsmsim")
p256 = {Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")}
with token.open(rw=True, user_pin="1234") as session:
    def ec_pair(label, key_id, params=p256):
        return session.generate_keypair(KeyType.EC, None, mechanism=Mechanism.EC_KEY_PAIR_GEN, store=True,
                                        label=label, id=key_id, public_template=params)
    public, _ = ec_pair("no-public", b"\\x01")
    public.destroy()
    ec_pair("shared-id-a", b"\\x02")
    ec_pair("shared-id-b", b"\\x02")
    ec_pair("k1", b"\\x03", {Attribute.EC_PARAMS: bytes.fromhex("06052b8104000a")})
    session.generate_keypair(KeyType.RSA, 1024, store=True, label="rsa-1024", id=b"\\x04")
    ec_pair("fine", b"\\x05")
"""


def test_keys_another_tool_made_are_read_or_refused_never_misdescribed(tmp_path: Path) -> None:
    """A private key whose public key cannot be told is refused, never read as a key without one (which formats
    attest as a secret key); a key of a spec hsmsim has no name for is refused by name, and listing leaves both out."""
    token_dir = tmp_path / "token"
    with Pkcs11KeyStore(token_dir=token_dir) as store:
        store.generate(KeySpec.parse("ec-p256"), "mine")
        module = store.module
    subprocess.run([sys.executable, "-c", _OTHER_TOOL, str(token_dir / "softhsm2.conf"), module],
                   check=True, timeout=120, capture_output=True)
    with Pkcs11KeyStore(token_dir=token_dir) as store:
        assert [key.label for key in store.all_keys()] == ["mine", "fine"]
        fine = store.get("fine")
        assert fine.spec == KeySpec.parse("ec-p256") and fine.public_key is not None
        for label in ("no-public", "shared-id-a", "shared-id-b"):
            with pytest.raises(UnsupportedKeyError, match=f"key '{label}': its public key cannot be told"):
                store.get(label)
        with pytest.raises(UnsupportedKeyError, match="key 'k1' is EC secp256k1, not one of hsmsim's key specs"):
            store.get("k1")
        with pytest.raises(UnsupportedKeyError, match="key 'rsa-1024' is RSA-1024, not one of hsmsim's key specs"):
            store.get("rsa-1024")


def test_a_creation_time_that_cannot_be_written_leaves_nothing_on_the_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk when the creation time is written: one KeystoreError, no key on the token, the label free."""
    import hsmsim.keystore.pkcs11 as module

    def disk_full(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    with Pkcs11KeyStore(token_dir=tmp_path / "token") as store:
        store.generate(KeySpec.parse("ec-p256"), "before")
        with monkeypatch.context() as patch:
            patch.setattr(module, "_atomic_write", disk_full)
            with pytest.raises(KeystoreError, match=r"cannot write the creation-time file .*: No space left on device"):
                store.generate(KeySpec.parse("ec-p256"), "full")
            with pytest.raises(KeystoreError, match="No space left on device"):
                store.import_key(ec.generate_private_key(ec.SECP256R1()), "full-import")
            assert [key.label for key in store.all_keys()] == ["before"]
        assert store.generate(KeySpec.parse("ec-p256"), "full").label == "full"
    assert len(json.loads((tmp_path / "token" / "hsmsim-created.json").read_text())) == 2
