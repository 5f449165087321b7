"""A format that lives only under tests/ reaches every part of hsmsim with no edit to hsmsim.

In-process the toy format is registered with :func:`hsmsim.formats.register`; for ``python -m hsmsim``
it is a plugin: a ``toyformat-0.dist-info`` on PYTHONPATH advertises it in the entry-point group
``hsmsim.formats``, exactly as an installed distribution would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from hsmsim.device import Device
from hsmsim.formats import PLUGIN_GROUP, detect, get_format, names, register, unregister
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.corpus_schema import vector_schema
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Reason
from tests.conftest import KEY_CREATED, SEED
from tests.test_architecture import FAMILY_MAY_NOT_IMPORT, imported_modules, layer_of, source_modules
from tests.toyformat import FORMAT
from tests.toyformat.format import CERTIFICATE, NAME, ROOT, SIGNATURE, STATEMENT

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "toyformat"


@pytest.fixture
def toy() -> Iterator[None]:
    register(FORMAT)
    yield
    unregister(NAME)


def test_registered_in_process_it_is_a_format_like_the_others(toy, tmp_path):
    assert get_format(NAME) is FORMAT and NAME in names() and FORMAT.fuzz_model(SEED) is None
    cases = FORMAT.vector_cases(SEED)
    assert [c.id for c in cases] == ["toy::golden::ec-p256", "toy::signature::statement-edited",
                                     "toy::chain::foreign-issuer"]
    assert {f for c in cases for f in c.flags} - {"Golden", "Stale", "Resigned"} == set(FORMAT.vector_notes())
    for case in cases:
        for profile, reason in case.expected.items():
            verdict = FORMAT.verify(case.evidence, TrustAnchors({"root": case.anchors}), profile=profile)
            assert verdict.reason is reason, (case.id, verdict)

    store = SoftKeyStore(seed=SEED)
    store.generate(KeySpec.parse("ed25519"), "signing", created=KEY_CREATED)
    evidence = Hsm(Device.from_seed(NAME, SEED), store).attest("signing")
    evidence.write(tmp_path)
    assert detect(tmp_path / STATEMENT) is FORMAT and detect(tmp_path) is FORMAT
    loaded = FORMAT.load(tmp_path / STATEMENT)
    verdict = FORMAT.verify(loaded, FORMAT.trust_anchors_from_files([tmp_path / ROOT]))
    assert verdict.accepted and verdict.claims is not None and verdict.claims.label == "signing"
    assert set(loaded.files) == {STATEMENT, SIGNATURE, CERTIFICATE, ROOT}
    assert FORMAT.verify(Evidence(NAME, {STATEMENT: b"{"}, STATEMENT), TrustAnchors()).reason is Reason.MALFORMED


def test_the_toy_format_imports_only_what_a_family_may():
    formats_layer = layer_of("hsmsim.formats")
    known = set(source_modules(REPO))
    for path in sorted(TOY.glob("*.py")):
        for line, target in imported_modules(f"tests.toyformat.{path.stem}", path, known):
            assert layer_of(target) is not None and layer_of(target) <= formats_layer, (path.name, line, target)
            assert not any(target.startswith(f) for f in FAMILY_MAY_NOT_IMPORT), (path.name, line, target)
            assert not target.startswith("hsmsim.formats."), (path.name, line, target)


def _write_plugin(site: Path, entry_point: str) -> dict[str, str]:
    """A dist-info advertising ``entry_point`` in ``hsmsim.formats``; the environment that sees it."""
    dist_info = site / "toyformat-0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyformat\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\n{entry_point}\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}


def _hsmsim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=600,
                          cwd=REPO, env=env)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    return _write_plugin(tmp_path_factory.mktemp("site"), f"{NAME} = tests.toyformat:FORMAT")


def test_the_plugin_is_listed_attested_and_verified_by_the_cli(plugin_env, tmp_path):
    listed = _hsmsim(plugin_env, "formats")
    assert listed.returncode == 0 and f"{NAME}\t{FORMAT.title}" in listed.stdout.splitlines(), listed.stderr
    state = str(tmp_path / "state")
    created = _hsmsim(plugin_env, "key", "create", "--format", NAME, "--label", "k", "--spec", "ec-p256",
                      "--state", state)
    assert created.returncode == 0 and f"(device {NAME} SN" in created.stdout, created.stderr
    out = tmp_path / "out" / STATEMENT
    attested = _hsmsim(plugin_env, "attest", "--key", "k", "--out", str(out), "--state", state)
    assert attested.returncode == 0, attested.stderr
    verified = _hsmsim(plugin_env, "verify", str(out), "--root", str(out.parent / ROOT), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["claims"]["vendor"] == "hsmsim toy"


def test_the_plugin_gets_vectors_conformance_and_fuzzing(plugin_env, tmp_path):
    corpus = tmp_path / "vectors"
    generated = _hsmsim(plugin_env, "vectors", "generate", "--out", str(corpus))
    assert generated.returncode == 0, generated.stderr
    document = json.loads((corpus / f"{NAME}_verify.json").read_text())
    jsonschema.validate(document, vector_schema())
    assert document["numberOfTests"] == 3 and json.loads((corpus / "manifest.json").read_text())[
        "counts"]["format"][NAME] == 3

    run = _hsmsim(plugin_env, "conformance", "run", "--verifier", "examples/verifiers/reference.toml",
                  "--vectors", str(corpus), "--format", NAME, "--report", str(tmp_path / "report"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok   reference") and "3 pass" in run.stdout, run.stdout

    fuzzed = _hsmsim(plugin_env, "fuzz", "--format", NAME, "--iterations", "300", "--seed", "toy",
                     "--out", str(tmp_path / "fuzz"))
    assert fuzzed.returncode == 0, fuzzed.stdout + fuzzed.stderr
    summary = json.loads((tmp_path / "fuzz" / "summary.json").read_text())
    assert summary["format"] == NAME and summary["executed"] == 300 and summary["findings"] == []
    assert {"toy::signature::statement-edited", "toy::chain::foreign-issuer"} <= set(summary["operatorHits"])


@pytest.mark.parametrize(("entry_point", "message"), [
    ("toy = tests.toyformat.nowhere:FORMAT", "format plugin 'toy' (tests.toyformat.nowhere:FORMAT) cannot be loaded"),
    ("other = tests.toyformat:FORMAT", "is not a format named 'other'"),
    ("toy = tests.toyformat:WITHOUT_PKI_EXPORTS", "lacks the contract's pki_exports"),
])
def test_a_broken_plugin_is_one_clear_error(tmp_path, entry_point, message):
    result = _hsmsim(_write_plugin(tmp_path, entry_point), "formats")
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
