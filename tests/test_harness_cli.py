"""``hsmsim conformance run`` and the pytest plugin (``pytest -p hsmsim --verifier FILE``), end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from hsmsim.harness.vectors import load_corpus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "verifiers"
VECTORS = ROOT / "vectors"
CORPUS = load_corpus(VECTORS)
N_ALL = len(CORPUS.vectors)
N_PRIMUS = len(CORPUS.select(formats=("primus",)))


def hsmsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HSMSIM_VECTORS"))}
    # faker's and hypothesis's plugins only cost start-up time here
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:faker",
                           "-p", "no:hypothesispytest", "-q", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_run_reports_and_exits_1_only_on_unexpected_verdicts(tmp_path):
    report = tmp_path / "report"
    bad = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"),
                 "--verifier", str(EXAMPLES / "flawed-attributes-ignored.toml"), "--vectors", str(VECTORS),
                 "-k", "primus::attr::*", "-k", "primus::golden::*", "-j", "2", "--report", str(report))
    assert bad.returncode == 1, bad.stderr
    lines = bad.stdout.splitlines()
    selected = CORPUS.select(patterns=("primus::attr::*", "primus::golden::*"))
    invalid_attr = [v for v in selected if v.category == "attr" and v.expectation("structural")[0].value == "invalid"]
    assert lines[0].startswith(f"ok   reference 0.1.0 (structural): {len(selected)} pass")
    assert lines[1].startswith(f"FAIL flawed-attributes-ignored 1.0 (structural): "
                               f"{len(selected) - len(invalid_attr)} pass, {len(invalid_attr)} unexpected accept")
    failing = [line.strip() for line in lines[2:-1]]
    assert len(failing) == len(invalid_attr) >= 10
    assert all(line.startswith("UNEXPECTED_ACCEPT primus::attr::") for line in failing)
    assert failing[0].startswith("UNEXPECTED_ACCEPT primus::attr::extractable-true (critical)")
    assert lines[-1] == f"report: {report / 'index.html'}"
    assert sorted(p.name for p in (report / "results").iterdir()) == ["flawed-attributes-ignored.json",
                                                                      "reference.json"]
    assert (report / "junit.xml").exists() and "<html" in (report / "index.html").read_text()

    good = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"), "--vectors", str(VECTORS),
                  "--format", "primus", "--report", str(tmp_path / "again"), "--previous", str(report))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[0].startswith(f"ok   reference 0.1.0 (structural): {N_PRIMUS} pass")
    assert "Changes since the previous results" in (tmp_path / "again" / "index.html").read_text()


def test_cli_user_errors_are_one_line_with_exit_2(tmp_path):
    (tmp_path / "broken.toml").write_text('mode = "oneshot"\n')
    result = hsmsim("conformance", "run", "--verifier", str(tmp_path / "broken.toml"), "--vectors", str(VECTORS),
                    "--report", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"hsmsim: error: {tmp_path / 'broken.toml'}: a oneshot adapter needs a command (a list of arguments)"]
    missing = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"),
                     "--vectors", str(tmp_path), "--report", str(tmp_path / "r"))
    assert missing.returncode == 2 and "no *_verify.json files" in missing.stderr
    assert "run" in hsmsim("conformance", "--help").stdout


# -- pytest plugin -------------------------------------------------------------------------------

def test_plugin_is_inert_without_verifier(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    plain = pytest_run("-rs", "test_plain.py", "--pyargs", "hsmsim.conformance", cwd=tmp_path)
    assert plain.returncode == 0 and "1 passed, 1 skipped" in plain.stdout, plain.stdout
    assert "the hsmsim conformance suite runs with --verifier FILE" in plain.stdout
    helped = pytest_run("--help", cwd=tmp_path)
    assert "--verifier=FILE" in helped.stdout and "inert unless --verifier" in helped.stdout


def test_plugin_sanity_failure_is_one_clear_message(tmp_path):
    (tmp_path / "rejector.py").write_text(textwrap.dedent("""
        def verify(request):
            return "REJECT MALFORMED"
    """))
    (tmp_path / "rejector.toml").write_text('entry = "rejector.py:verify"\nformats = ["primus"]\n')
    result = pytest_run("-p", "hsmsim", "--verifier", "rejector.toml", "--vectors-root", str(VECTORS), "-rs",
                        "--pyargs", "hsmsim.conformance", cwd=tmp_path)
    assert result.returncode == 1
    assert f"1 failed, {N_ALL - 1} skipped" in result.stdout
    message = ("verifier 'rejector' stopped for format 'primus': it does not accept the golden vector "
               "primus::golden::rsa-2048 (got REJECT MALFORMED)")
    assert "test_vector[primus::golden::rsa-2048]" in result.stdout, "the golden vector's own test fails"
    assert message in result.stdout
    assert f"SKIPPED [{N_PRIMUS - 1}]" in result.stdout, "the format's skips share one message"


def test_plugin_under_xdist_worksteal_merges_one_report(tmp_path):
    report = tmp_path / "report"
    result = pytest_run("-p", "hsmsim", "--verifier", str(EXAMPLES / "reference.toml"),
                        "--verifier", str(EXAMPLES / "flawed-loose-pem.toml"), "--vectors-root", str(VECTORS),
                        "-n", "2", "--dist", "worksteal", "--conformance-report", str(report), cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    skipped = N_ALL - N_PRIMUS  # flawed-loose-pem claims only primus
    summary = f"1 failed, {N_ALL + N_PRIMUS - 1} passed" + (f", {skipped} skipped" if skipped else "")
    assert summary in result.stdout, result.stdout[-500:]
    assert "test_vector[flawed-loose-pem:primus::signature::loose-pubkey-swapped]" in result.stdout
    assert "UNEXPECTED_ACCEPT primus::signature::loose-pubkey-swapped (critical)" in result.stdout
    assert f"hsmsim conformance report: {report / 'index.html'}" in result.stdout
    for name, failed in (("reference", False), ("flawed-loose-pem", True)):
        document = json.loads((report / "results" / f"{name}.json").read_text())
        assert len(document["results"]) == N_ALL and document["failed"] is failed
        assert document["verifierVersion"] in ("0.1.0", "1.0")
