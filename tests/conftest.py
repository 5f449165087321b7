"""Shared fixtures: a seeded Primus device, a soft key store, generated bundles, ../shared paths.

Derived keys are cached in ``build/test-key-cache/`` of this checkout, never the user's cache: warm
across runs, and cold for a fresh clone exactly as for CI. The variable is set here, before any test
derives a key, so subprocesses started by the tests inherit it.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from hsmsim.device import Device
from hsmsim.formats import get_format
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import Evidence, TrustAnchors

REPO = Path(__file__).resolve().parents[1]
os.environ["HSMSIM_CACHE_DIR"] = str(REPO / "build" / "test-key-cache")

SEED = "hsmsim-tests"
KEY_CREATED = datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)
ATTEST_TIME = datetime(2025, 3, 4, 10, 30, 0, tzinfo=UTC)
VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SHARED = REPO.parent / "shared"


def make_hsm(seed: str = SEED) -> Hsm:
    """A seeded Primus device over a seeded soft key store holding one key per spec."""
    store = SoftKeyStore(seed=seed)
    hsm = Hsm(Device.from_seed("primus", seed), store)
    for spec in ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384", "ed25519", "aes-256"):
        store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)
    return hsm


@pytest.fixture(scope="session")
def hsm() -> Hsm:
    return make_hsm()


@pytest.fixture(scope="session")
def primus_bundles(hsm: Hsm) -> dict[str, Evidence]:
    """One attestation per key spec, at a fixed time."""
    return {
        stored.spec.name: hsm.attest(stored.label, "primus", {"attest_time": ATTEST_TIME})
        for stored in hsm.keystore.all_keys()
    }


@pytest.fixture(scope="session")
def primus_trust(primus_bundles: dict[str, Evidence]) -> TrustAnchors:
    root = x509.load_pem_x509_certificate(primus_bundles["rsa-3072"].files["hsm_rsa_root.crt"])
    return TrustAnchors({"root": (root,)})


@pytest.fixture(scope="session")
def primus():
    return get_format("primus")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}); interop tests need the shared reference material")
    return SHARED


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl command line is not installed (make setup installs it)")
    return path


class Blocked(BaseException):
    """Raised by the ``deadline`` alarm: not an OSError (or Exception), so no reader's error handling swallows it."""


@pytest.fixture
def chain_memory_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain walk (:mod:`hsmsim.pki.chain`) starts the test with nothing remembered, whatever earlier tests
    left, and what the test makes it remember is forgotten after."""
    from hsmsim.pki import chain

    for memo in ("_recent", "_issuers", "_signatures", "_received_copies", "_recurring_signatures", "_subject_ders"):
        monkeypatch.setattr(chain, memo, {})


@pytest.fixture
def parsed_certificates(monkeypatch: pytest.MonkeyPatch, chain_memory_forgotten: None) -> list[bytes]:
    """The DER of each certificate the chain walk parses (:func:`hsmsim.pki.chain.fully_parsed`), in order, from a
    start with nothing remembered."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from hsmsim.pki import chain

    parsed: list[bytes] = []
    parse = chain._parsed_fields
    monkeypatch.setattr(chain, "_parsed_fields", lambda cert: parsed.append(cert.public_bytes(Encoding.DER))
                        or parse(cert))
    return parsed


@pytest.fixture
def issuer_checks(monkeypatch: pytest.MonkeyPatch, chain_memory_forgotten: None) -> list[x509.Certificate]:
    """Each certificate whose issuer's signature the chain walk checks (:func:`hsmsim.pki.chain.issued_by`), in
    order, from a start with nothing remembered."""
    from hsmsim.pki import chain

    checked: list[x509.Certificate] = []
    issued_by = chain.issued_by

    def counted(child: x509.Certificate, issuer: x509.Certificate) -> bool:
        checked.append(child)
        return issued_by(child, issuer)

    monkeypatch.setattr(chain, "issued_by", counted)
    return checked


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail a test that blocks (opening or reading a FIFO) or crawls (a full listing of a huge directory) instead
    of hanging the suite."""
    def expire(_signum: int, _frame: object) -> None:
        raise Blocked("blocked, or too slow")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` or ``wheel`` run first, in their collected order. pytest-xdist gives each worker a
    contiguous share of this list and lets an idle worker take only tests another has not started, so a long test
    collected near the end kept one worker busy for up to a minute after the other had run out of tests."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None and item.get_closest_marker("wheel") is None)
