"""The soft key store reports PKCS#11 attributes like a token, persists atomically, and signs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from hsmsim.errors import KeyNotFoundError, KeystoreError, UnsupportedKeyError
from hsmsim.keystore.base import KeyClass, KeyPolicy, KeySpec, KeyType
from hsmsim.keystore.soft import SoftKeyStore, aes_check_value, new_key_material, spki_der
from hsmsim.pki.builder import UTF8, build_csr, name
from tests.hostile_files import DEEP_JSON, make_hostile


@pytest.mark.parametrize("spec", ["rsa-2048", "ec-p256", "ec-p384", "ed25519", "aes-128", "aes-256"])
def test_generated_key_attributes(spec):
    key = SoftKeyStore(seed="ks").generate(KeySpec.parse(spec), f"k-{spec}")
    attrs = key.attributes
    assert attrs.local and attrs.never_extractable and attrs.always_sensitive and attrs.sensitive
    assert not attrs.extractable and attrs.label == f"k-{spec}"
    assert attrs.key_gen_mechanism.endswith("_GEN")
    if spec.startswith("aes"):
        assert attrs.key_class is KeyClass.SECRET_KEY and key.public_key is None
        assert attrs.value_len == int(spec[4:]) // 8 and len(key.check_value) == 3
    else:
        assert attrs.key_class is KeyClass.PRIVATE_KEY and len(attrs.id) == 20


def test_imported_and_exportable_keys_report_honestly():
    store = SoftKeyStore()
    imported = store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imp")
    assert not imported.attributes.local and imported.attributes.key_gen_mechanism is None
    assert not imported.attributes.never_extractable and not imported.attributes.always_sensitive
    loose = store.generate(KeySpec.parse("ec-p256"), "loose", policy=KeyPolicy(extractable=True, sensitive=False))
    assert loose.attributes.extractable and not loose.attributes.never_extractable
    assert not loose.attributes.always_sensitive


def test_seeded_keys_are_reproducible():
    a = SoftKeyStore(seed="same").generate(KeySpec.parse("ec-p256"), "k")
    b = SoftKeyStore(seed="same").generate(KeySpec.parse("ec-p256"), "k")
    assert spki_der(a.public_key) == spki_der(b.public_key)


def test_persistence_round_trip(tmp_path):
    store = SoftKeyStore(directory=tmp_path)
    made = store.generate(KeySpec.parse("ec-p256"), "persist")
    store.generate(KeySpec.parse("aes-256"), "secret")
    reopened = SoftKeyStore(directory=tmp_path)
    again = reopened.get("persist")
    assert again.attributes == made.attributes and again.created == made.created
    assert spki_der(again.public_key) == spki_der(made.public_key)
    assert reopened.get("secret").check_value == store.get("secret").check_value
    assert not list(tmp_path.glob(".tmp-*"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(KeystoreError, match="corrupt key file"):
        SoftKeyStore(directory=tmp_path)


def test_errors_and_signing():
    store = SoftKeyStore()
    key = store.generate(KeySpec.parse("ec-p256"), "k")
    with pytest.raises(KeystoreError):
        store.generate(KeySpec.parse("ec-p256"), "k")
    with pytest.raises(KeyNotFoundError):
        store.get("missing")
    with pytest.raises(UnsupportedKeyError):
        KeySpec.parse("rsa-1024")
    secret = store.generate(KeySpec.parse("aes-128"), "s")
    with pytest.raises(UnsupportedKeyError):
        store.signer(secret)
    csr = build_csr(name(("CN", "k", UTF8)), store.signer(key))
    assert csr.is_signature_valid and spki_der(csr.public_key()) == spki_der(key.public_key)
    signature = store.signer(key).sign(b"m", ec.ECDSA(hashes.SHA256()))
    key.public_key.verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
    assert isinstance(csr, x509.CertificateSigningRequest)


def test_aes_check_value_known_answer():
    # FIPS-197 AES-128 with the all-zero key encrypts the zero block to 66e94bd4...
    assert aes_check_value(bytes(16)) == bytes.fromhex("66e94b")
    assert KeySpec.parse("aes-256").key_type is KeyType.AES


_RACE = """
import sys, time
from pathlib import Path
from hsmsim.errors import KeystoreError
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
store = SoftKeyStore(directory=Path(sys.argv[1]))  # opened before the others write
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
try:
    store.generate(KeySpec.parse("ec-p256"), "same")
except KeystoreError:
    print("refused")
else:
    print("created")
"""


def test_concurrent_processes_cannot_create_one_label_twice(tmp_path):
    directory, go = tmp_path / "soft", tmp_path / "go"
    directory.mkdir()
    processes = [subprocess.Popen([sys.executable, "-c", _RACE, str(directory), str(go)], stdout=subprocess.PIPE,
                                  text=True) for _ in range(4)]
    time.sleep(1.5)  # every process has opened the (empty) store
    go.touch()
    outcomes = sorted(process.communicate(timeout=60)[0].strip() for process in processes)
    assert outcomes == ["created", "refused", "refused", "refused"]
    assert len(list(directory.glob("*.json"))) == 1
    assert [key.label for key in SoftKeyStore(directory=directory).all_keys()] == ["same"]


def test_a_store_sees_keys_other_processes_made(tmp_path):
    first, second = SoftKeyStore(directory=tmp_path), SoftKeyStore(directory=tmp_path)
    made = first.generate(KeySpec.parse("ec-p256"), "from-first")
    assert second.get("from-first").attributes == made.attributes
    with pytest.raises(KeystoreError, match="already exists"):
        second.generate(KeySpec.parse("ec-p256"), "from-first")


@pytest.mark.parametrize(("record", "message"), [
    ("fifo", "is not a regular file"),
    ("/dev/zero", "is not a regular file"),
    ("directory", "is not a regular file"),
    (DEEP_JSON, "nests too deeply"),
    ("[]", "not a JSON object"),
    ("{}", "no 'material'"),
    ('{"material": "!!", "secret": true}', "Only base64 data is allowed"),
])
def test_a_corrupt_key_record_is_one_keystore_error_naming_it(tmp_path, record, message):
    """Key records are read bounded (a FIFO or device is never opened blocking, a deep one never recurses out)."""
    path = tmp_path / "bad.json"
    make_hostile(path, record)
    with pytest.raises(KeystoreError, match="corrupt key file") as caught:
        SoftKeyStore(directory=tmp_path)
    assert str(path) in str(caught.value) and message in str(caught.value) and "\n" not in str(caught.value)


def test_a_key_that_could_not_be_stored_is_not_served(tmp_path, monkeypatch):
    """A create that fails to write its key file fails whole: the key is not served from memory (a server would
    otherwise attest a key it answered 500 for, and refuse its label with 409 until restarted)."""
    store = SoftKeyStore(seed="s", directory=tmp_path)

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_save", disk_full)
    with pytest.raises(KeystoreError, match="No space left on device"):
        store.generate(KeySpec.parse("ec-p256"), "k")
    with pytest.raises(KeyNotFoundError):
        store.get("k")
    monkeypatch.undo()
    created = store.generate(KeySpec.parse("ec-p256"), "k")
    assert SoftKeyStore(directory=tmp_path).get("k").public_key == created.public_key


def test_a_lookup_listing_the_directory_does_not_stall_a_creation(tmp_path, monkeypatch):
    """A lookup miss lists the key directory (another process may have made the key) without holding the store's
    lock: a server answering many unknown labels over a big directory still creates keys."""
    import threading
    from pathlib import Path

    store = SoftKeyStore(seed="s", directory=tmp_path)
    listing, release = threading.Event(), threading.Event()
    glob = Path.glob

    def slow_first_listing(self, pattern):  # type: ignore[no-untyped-def]
        if not listing.is_set():
            listing.set()
            release.wait(30)
        return glob(self, pattern)

    monkeypatch.setattr(Path, "glob", slow_first_listing)
    missed: list[bool] = []

    def look_up() -> None:
        try:
            store.get("missing")
        except KeyNotFoundError:
            missed.append(True)

    lookup = threading.Thread(target=look_up)
    lookup.start()
    try:
        assert listing.wait(5)
        created = threading.Thread(target=store.generate, args=(KeySpec.parse("ec-p256"), "k"))
        created.start()
        created.join(10)
        assert not created.is_alive(), "the creation waited for another call's directory listing"
    finally:
        release.set()
        lookup.join(10)
    assert missed == [True] and store.get("k").attributes.label == "k"


@pytest.mark.parametrize(("edit", "message"), [
    ({"attributes": {"extractable": True}}, "both extractable and never_extractable"),
    ({"attributes": {"sensitive": False}}, "always_sensitive but not sensitive"),
    ({"created": "2025-03-03T00:00:00"}, "created is a time without a UTC offset"),
    ({"order": 0}, "order is not a positive integer"),
    ({"order": True}, "order is not a positive integer"),
    ({"order": "1"}, "order is not a positive integer"),
])
def test_a_key_record_whose_fields_contradict_is_corrupt(tmp_path, edit, message):
    """What the PKCS#11 attributes cannot say together (a key both extractable and never so) is a corrupt record,
    not a key to attest."""
    SoftKeyStore(directory=tmp_path).generate(KeySpec.parse("ec-p256"), "k")
    path = next(tmp_path.glob("*.json"))
    record = json.loads(path.read_text())
    record["attributes"] |= edit.get("attributes", {})
    record |= {key: value for key, value in edit.items() if key != "attributes"}
    path.write_text(json.dumps(record))
    with pytest.raises(KeystoreError, match=message):
        SoftKeyStore(directory=tmp_path).all_keys()


def test_keys_read_back_are_listed_in_creation_order(tmp_path):
    """Records are named by key id: a store reading them lists the keys by creation time, not by file name."""
    store = SoftKeyStore(directory=tmp_path)
    labels = [f"key-{n}" for n in range(6)]
    for n, label in enumerate(labels):
        store.generate(KeySpec.parse("ec-p256"), label, created=datetime(2025, 1, 1 + n, tzinfo=UTC))
    assert [key.label for key in SoftKeyStore(directory=tmp_path).all_keys()] == labels


def test_keys_created_in_one_second_by_separate_stores_are_listed_in_the_order_they_were_made(tmp_path):
    """Creation times have whole seconds, and each CLI call opens its own store: the records say the order."""
    labels = [f"key-{n}" for n in range(6)]
    same_second = datetime(2025, 1, 1, tzinfo=UTC)
    for label in labels:
        SoftKeyStore(seed="order", directory=tmp_path).generate(KeySpec.parse("ec-p256"), label, created=same_second)
    listed = SoftKeyStore(directory=tmp_path).all_keys()
    assert [key.attributes.id.hex() for key in listed] != sorted(key.attributes.id.hex() for key in listed), \
        "the records' names (key ids) alone would give another order"
    assert [key.label for key in listed] == labels


def test_records_written_before_they_held_an_order_still_load_and_list_first_in_their_second(tmp_path):
    same_second = datetime(2025, 1, 1, tzinfo=UTC)
    store = SoftKeyStore(seed="order", directory=tmp_path)
    old = store.generate(KeySpec.parse("ec-p256"), "old", created=same_second)
    path = tmp_path / f"{old.attributes.id.hex()}.json"
    record = json.loads(path.read_text())
    del record["order"]
    path.write_text(json.dumps(record))
    SoftKeyStore(seed="order", directory=tmp_path).generate(KeySpec.parse("ec-p256"), "new", created=same_second)
    assert [key.label for key in SoftKeyStore(directory=tmp_path).all_keys()] == ["old", "new"]


def test_a_discarded_key_is_gone_from_the_store_and_its_directory(tmp_path):
    store = SoftKeyStore(seed="discard", directory=tmp_path)
    kept = store.generate(KeySpec.parse("ec-p256"), "kept")
    store.generate(KeySpec.parse("ec-p256"), "gone")
    store.discard("gone")
    with pytest.raises(KeyNotFoundError):
        store.get("gone")
    assert [key.label for key in SoftKeyStore(directory=tmp_path).all_keys()] == ["kept"]
    assert len(list(tmp_path.glob("*.json"))) == 1 and store.get("kept") == kept
    with pytest.raises(KeyNotFoundError):
        store.discard("never")
