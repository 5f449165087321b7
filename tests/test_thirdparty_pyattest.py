"""pyattest (App Attest) as a conformance adapter on the apple-appattest vectors.

Skipped unless ``pyattest`` is importable: it is not an hsmsim dependency (``pip install pyattest==1.0.5``).
It must accept both goldens; what it accepts that it must not is pinned here and listed in the README.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import Outcome
from hsmsim.harness.runner import RunOptions, run_conformance
from hsmsim.harness.vectors import load_corpus

ROOT = Path(__file__).resolve().parents[1]
MISSED = {f"apple-appattest::{defect}" for defect in (
    "cose-key::other-key", "chain::foreign-root-appended", "aaguid::production-in-development",
    "flags::no-attested-data", "key::p384", "stmt::fmt-apple", "stmt::receipt-missing", "flags::extension-data",
    "auth-data::trailing-byte", "auth-data::cose-key-truncated", "stmt::receipt-text", "cbor::trailing-bytes",
    "record::environment-unknown", "receipt::other-key", "receipt::other-app")}
"""Invalid vectors pyattest 1.0.5 accepts."""


def test_pyattest_on_the_app_attest_vectors():
    if importlib.util.find_spec("pyattest") is None:
        pytest.skip("pyattest is not installed (not an hsmsim dependency)")
    corpus = load_corpus(ROOT / "vectors")
    adapter = load_adapter(ROOT / "examples" / "verifiers" / "thirdparty-pyattest.toml")
    run = run_conformance([adapter], corpus, RunOptions(formats=("apple-appattest",)))
    (verifier,) = run.verifiers
    outcome = {r.id: r.outcome for r in verifier.results}
    assert {i for i, o in outcome.items() if o is Outcome.UNEXPECTED_ACCEPT} == MISSED
    assert all(o in (Outcome.PASS, Outcome.UNEXPECTED_ACCEPT) for o in outcome.values())


def test_readme_lists_what_pyattest_misses():
    readme = " ".join((ROOT / "README.md").read_text().split())
    section = readme[readme.index("`thirdparty-pyattest`"):]
    assert f"accepts {len(MISSED)} invalid vectors" in section[:400]
    assert all(f"`{vector.split('::', 1)[1]}`" in section for vector in MISSED)
