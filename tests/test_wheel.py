"""The wheel, installed in a fresh venv outside the checkout, runs the conformance suite over the corpus it carries."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hsmsim.harness.vectors import PACKAGED_CORPUS_FILES, load_corpus

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                     ".hsmsim", ".hypothesis")

ACCEPT_ALL = 'def verify(request):\n    return "ACCEPT"\n'
VIA_API = ("import hsmsim\n\n\ndef verify(request):\n"
           "    return hsmsim.verify(request.evidence, request.trust, at=request.at, profile=request.profile)\n")


def _outside_env() -> dict[str, str]:
    """This environment without what would point an installed hsmsim back at the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HSMSIM_VECTORS", "VIRTUAL_ENV")}


def _run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _pip_into(bin_dir: Path, *args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """This interpreter's pip, run for the environment of ``bin_dir``'s python (``pip --python``)."""
    return _run(sys.executable, "-m", "pip", "--python", bin_dir / "python", *args, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv holding the wheel built from this checkout."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)  # pip builds in the tree: keep this checkout's build/ clean
    env = _outside_env()
    built = _run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", base / "dist",
                 cwd=base, env=env)
    assert built.returncode == 0, built.stderr
    venv = base / "venv"
    # without pip of its own (ensurepip writes and compiles a whole pip, several seconds): this pip installs into it
    created = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base, env=env)
    if created.returncode != 0:
        pytest.skip(f"cannot create a venv here (python -m venv: {created.stderr.strip().splitlines()[-1:]})")
    wheels = sorted((base / "dist").glob("hsmsim-*.whl"))
    assert len(wheels) == 1
    pip = _pip_into(venv / "bin", "install", "-q", wheels[0], cwd=base, env=env)
    assert pip.returncode == 0, pip.stderr
    return venv / "bin"


@pytest.mark.wheel
def test_the_installed_wheel_runs_the_conformance_suite_over_its_own_corpus(installed: Path, tmp_path: Path) -> None:
    repo_vectors = load_corpus(ROOT / "vectors").vectors
    env = _outside_env()
    (tmp_path / "accept_all.py").write_text(ACCEPT_ALL)
    (tmp_path / "accept-all.toml").write_text('entry = "accept_all.py:verify"\nformats = ["*"]\n')
    (tmp_path / "via_api.py").write_text(VIA_API)
    (tmp_path / "via-api.toml").write_text('entry = "via_api.py:verify"\nformats = ["*"]\n')
    hsmsim = installed / "hsmsim"

    honest = _run(hsmsim, "conformance", "run", "--verifier", "via-api.toml", "--report", "honest", "-j", "2",
                  cwd=tmp_path, env=env)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert f"{len(repo_vectors)} pass" in honest.stdout
    gullible = _run(hsmsim, "conformance", "run", "--verifier", "accept-all.toml", "--report", "gullible",
                    "-j", "2", cwd=tmp_path, env=env)
    assert gullible.returncode == 1, gullible.stdout + gullible.stderr
    results = json.loads((tmp_path / "gullible" / "results" / "accept-all.json").read_text())["results"]
    assert sorted(r["id"] for r in results) == sorted(v.id for v in repo_vectors)

    listed = _run(hsmsim, "vectors", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(repo_vectors), listed.stderr
    extracted = _run(hsmsim, "vectors", "extract", "primus::golden::rsa-3072", "out", cwd=tmp_path, env=env)
    assert extracted.returncode == 0, extracted.stderr
    golden = load_corpus(ROOT / "vectors").get("primus::golden::rsa-3072")
    for entry in golden.inputs.files:
        assert (tmp_path / "out" / entry.path).read_bytes() == entry.data()
    where = _run(installed / "python", "-c", "import hsmsim; print(hsmsim.load_corpus().root)", cwd=tmp_path, env=env)
    assert where.returncode == 0 and where.stdout.strip().endswith("site-packages/hsmsim/_corpus"), where.stderr


@pytest.mark.wheel
def test_the_installed_corpus_checks_against_a_regeneration(installed: Path, tmp_path: Path) -> None:
    """``vectors check`` outside a checkout compares the installed corpus on the files the wheel carries (it has no
    native files or changelog to compare), and still finds a changed vector file."""
    env = _outside_env()
    expected = [p for pattern in PACKAGED_CORPUS_FILES for p in (ROOT / "vectors").glob(pattern)]
    checked = _run(installed / "hsmsim", "vectors", "check", cwd=tmp_path, env=env, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == (f"OK: {len(expected)} files identical to a regeneration "
                                      "(a packaged corpus: its vector files, manifest, ids and schema)")
    where = _run(installed / "python", "-c", "import hsmsim; print(hsmsim.load_corpus().root)", cwd=tmp_path, env=env)
    changed = shutil.copytree(where.stdout.strip(), tmp_path / "copy")
    with (changed / "primus_verify.json").open("ab") as vector_file:
        vector_file.write(b"\n")
    copied = _run(installed / "hsmsim", "vectors", "check", "--vectors", changed, cwd=tmp_path, env=env, timeout=300)
    assert copied.returncode == 1, copied.stdout + copied.stderr
    assert copied.stdout.strip() == "vectors differ from a regeneration: differs: primus_verify.json (1 difference(s))"


def test_setup_copies_the_files_an_installed_corpus_check_compares() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    copied = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "CORPUS_FILES" for t in node.targets))
    assert ast.literal_eval(copied) == PACKAGED_CORPUS_FILES


@pytest.mark.wheel
def test_the_installed_plugin_prints_case_ids_that_rerun_that_case(installed: Path, tmp_path: Path) -> None:
    # An installed hsmsim lies outside pytest's rootdir, so the path pytest prints before ::test_vector[...] is not
    # the module's: the plugin reads a printed id back as the case in hsmsim.conformance.
    env = _outside_env()
    pip = _pip_into(installed, "install", "-q", "pytest>=8.0", cwd=tmp_path, env=env)
    assert pip.returncode == 0, pip.stderr
    (tmp_path / "accept_all.py").write_text(ACCEPT_ALL)
    (tmp_path / "accept-all.toml").write_text('entry = "accept_all.py:verify"\nformats = ["*"]\n')
    options = ("-m", "pytest", "-p", "no:cacheprovider", "-p", "hsmsim", "--hsmsim-verifier", "accept-all.toml",
               "--hsmsim-format", "yubihsm2", "-q", "-rf")
    full = _run(installed / "python", *options, cwd=tmp_path, env=env, timeout=300)
    assert full.returncode == 1, full.stdout[-1500:]
    failed = [line.removeprefix("FAILED ").split(" - ")[0] for line in full.stdout.splitlines()
              if line.startswith("FAILED ")]
    assert failed and all("::test_vector[yubihsm2::" in f for f in failed)
    again = _run(installed / "python", *options, failed[0], cwd=tmp_path, env=env, timeout=300)
    assert again.returncode == 1 and "1 failed in" in again.stdout, again.stdout[-1500:]
