"""Seeded derivation: reproducible across processes, cached on disk, distinct per role."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

from cryptography.hazmat.primitives import serialization

from hsmsim.keystore.base import KeySpec
from hsmsim.pki import seed as seed_module
from hsmsim.pki.seed import DERIVATION_VERSION, Drbg, cache_entry, derive_key, derive_serial
from tests.hostile_files import make_hostile


def _pkcs8(key) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_drbg_is_deterministic_and_seed_sensitive():
    assert Drbg(b"a").read(100) == Drbg(b"a").read(100)
    assert Drbg(b"a").read(32) != Drbg(b"b").read(32)
    stream = Drbg(b"a")
    assert stream.read(16) != stream.read(16)


def test_serials_have_the_primus_shape():
    serial = derive_serial("s", "primus/root")
    assert serial.bit_length() == 128  # top bit set: a 17-byte DER INTEGER
    assert serial == derive_serial("s", "primus/root") != derive_serial("s", "primus/device/1")


def test_keys_are_identical_in_another_process(tmp_path, monkeypatch):
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    derive_key.cache_clear()
    specs = ("rsa-2048", "ec-p384", "ed25519")
    ours = {spec: _pkcs8(derive_key("x", "r", KeySpec.parse(spec))).hex() for spec in specs}
    code = (
        "from hsmsim.pki.seed import derive_key\n"
        "from hsmsim.keystore.base import KeySpec\n"
        "from cryptography.hazmat.primitives import serialization as s\n"
        "for spec in ('rsa-2048', 'ec-p384', 'ed25519'):\n"
        "    k = derive_key('x', 'r', KeySpec.parse(spec))\n"
        "    print(k.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()).hex())\n"
    )
    other_cache = tmp_path / "other"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "HSMSIM_CACHE_DIR": str(other_cache)})
    assert out.stdout.split() == list(ours.values())
    assert len(list((other_cache / f"keys-v{DERIVATION_VERSION}").glob("*.der"))) == 1  # only RSA is cached


# SHA-256 of the PKCS#8 DER, derived by the pure-Python prime search (int.__pow__) before its exponentiations
# moved to gmpy2: the arithmetic may change, the keys may not (every vector embeds some).
KNOWN_RSA_KEYS = {
    "rsa-2048": "33866465b952e8f7848f373362970dbe1aab12f25bbb7a1712d69545d32a13ed",
    "rsa-3072": "90d66cfe34720701d54dae34f0d09e8c6fdb6c2e32264a7b289ef9fb129ea98c",
}


def test_derived_rsa_keys_match_their_known_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))  # derived here, never read from a cache
    derive_key.cache_clear()
    for spec, digest in KNOWN_RSA_KEYS.items():
        assert hashlib.sha256(_pkcs8(derive_key("known-answer", "tests/rsa", KeySpec.parse(spec)))).hexdigest() \
            == digest, spec


def test_cache_is_used_and_a_corrupt_entry_is_rederived(tmp_path, monkeypatch):
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    derive_key.cache_clear()
    first = _pkcs8(derive_key("y", "r", KeySpec.parse("rsa-2048")))
    (entry,) = (tmp_path / f"keys-v{DERIVATION_VERSION}").glob("*.der")
    assert entry == cache_entry("y", "r", KeySpec.parse("rsa-2048"))
    assert entry.read_bytes() == first
    entry.write_bytes(b"garbage")
    derive_key.cache_clear()
    assert _pkcs8(derive_key("y", "r", KeySpec.parse("rsa-2048"))) == first
    assert entry.read_bytes() == first
    derive_key.cache_clear()
    calls = []
    monkeypatch.setattr(seed_module, "_derive_uncached", lambda *a: calls.append(a))
    derive_key("y", "r", KeySpec.parse("rsa-2048"))
    assert calls == []


def test_a_cache_entry_of_another_derivation_version_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    spec = KeySpec.parse("rsa-2048")
    stale = cache_entry("v", "r", spec, version=DERIVATION_VERSION - 1)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(_pkcs8(derive_key("another seed", "r", spec)))  # what an older derivation left behind
    derive_key.cache_clear()
    derived = []
    real = seed_module._derive_uncached
    monkeypatch.setattr(seed_module, "_derive_uncached", lambda *a: derived.append(a) or real(*a))
    fresh = _pkcs8(derive_key("v", "r", spec))
    assert derived == [("v", "r", spec)]
    assert fresh != stale.read_bytes()
    assert cache_entry("v", "r", spec).read_bytes() == fresh
    assert cache_entry("v", "r", spec).parent != stale.parent


def test_roles_give_distinct_keys():
    spec = KeySpec.parse("ec-p256")
    assert _pkcs8(derive_key("z", "a", spec)) != _pkcs8(derive_key("z", "b", spec))
    assert derive_key("z", "a", KeySpec.parse("rsa-2048")).key_size == 2048


def test_a_cache_entry_that_is_not_a_regular_file_is_rederived_never_opened(tmp_path, monkeypatch):
    """A FIFO (or a link to a device) in the cache is corrupt: re-derived and replaced, never read blocking."""
    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    spec = KeySpec.parse("rsa-2048")
    fifo, device = cache_entry("f", "r", spec), cache_entry("d", "r", spec)
    make_hostile(fifo, "fifo")
    make_hostile(device, "/dev/zero")
    derive_key.cache_clear()
    for entry, seed in ((fifo, "f"), (device, "d")):
        key = _pkcs8(derive_key(seed, "r", spec))
        assert not entry.is_symlink() and entry.is_file() and entry.read_bytes() == key


def test_threads_missing_one_rsa_key_at_once_derive_it_once(tmp_path, monkeypatch):
    """A server's first requests all need the device's keys: the threads that miss one wait for the first's
    derivation and read its cache entry, rather than each deriving it (seconds of CPU for RSA-4096)."""
    import threading

    monkeypatch.setenv("HSMSIM_CACHE_DIR", str(tmp_path))
    derive_key.cache_clear()
    real = seed_module._derive_uncached
    derived: list[tuple[str, ...]] = []
    started = threading.Barrier(8)

    def slow_derivation(*args):  # type: ignore[no-untyped-def]
        derived.append(args)
        time.sleep(0.2)  # long enough for every other thread to miss the cache meanwhile
        return real(*args)

    monkeypatch.setattr(seed_module, "_derive_uncached", slow_derivation)
    keys = []

    def derive() -> None:
        started.wait()
        keys.append(derive_key("s", "role", KeySpec.parse("rsa-2048")))

    threads = [threading.Thread(target=derive) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    derive_key.cache_clear()
    assert len(derived) == 1 and len(keys) == 8
    assert len({key.private_numbers().d for key in keys}) == 1  # type: ignore[union-attr]
