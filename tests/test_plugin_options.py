"""Misuse of the pytest plugin's options is one line and exit 4 before any test runs (as the CLI's is exit 2), and
a verifier whose module exits on import is a verifier that cannot start, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hsmsim.harness.adapters import import_entry
from hsmsim.harness.config import AdapterConfigError
from hsmsim.harness.vectors import load_corpus

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "verifiers" / "reference.toml"
VECTORS = ROOT / "vectors"
FORMATS = ", ".join(load_corpus(VECTORS).formats())
# a few golden vectors of one format: quick, and each one accepted by the reference verifier
QUICK = ("--hsmsim-vectors", str(VECTORS), "--hsmsim-format", "primus", "-k", "golden")


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HSMSIM_VECTORS"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:faker",
                           "-p", "no:hypothesispytest", "-q", "-p", "hsmsim", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def hsmsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def assert_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 4, nothing run, and ``message`` as the one line on stderr."""
    assert result.returncode == 4, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [f"ERROR: hsmsim conformance: {message}"]
    assert "passed" not in result.stdout and "skipped" not in result.stdout and "Traceback" not in result.stderr


def test_unknown_format_is_refused_as_the_cli_refuses_it(tmp_path):
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), "--hsmsim-vectors", str(VECTORS),
                        "--hsmsim-format", "primus", "--hsmsim-format", "nosuch", cwd=tmp_path)
    assert_usage_error(result, f"--hsmsim-format 'nosuch': the corpus has no such format (it has {FORMATS})")
    cli = hsmsim("conformance", "run", "--verifier", str(REFERENCE), "--vectors", str(VECTORS), "--format", "nosuch",
                 "--report", str(tmp_path / "r"), cwd=tmp_path)
    assert cli.returncode == 2
    assert cli.stderr.strip().splitlines() == [
        f"hsmsim: error: --format 'nosuch': the corpus has no such format (it has {FORMATS})"]


@pytest.mark.parametrize(("previous", "message"), [
    ("missing", "not a hsmsim conformance results file: cannot read {path}: No such file or directory"),
    ("fifo", "not a hsmsim conformance results file: {path} is not a regular file"),
    ("/dev/zero", "not a hsmsim conformance results file: {path} is not a regular file"),
    ("empty-dir", "{path} holds no results/*.json"),
])
def test_bad_previous_results_are_refused_before_the_run(tmp_path, previous, message):
    path = Path(previous) if previous.startswith("/") else tmp_path / previous
    if previous == "fifo":
        os.mkfifo(path)  # never opened: reading it would block the run
    elif previous == "empty-dir":
        path.mkdir()
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, "--hsmsim-report", str(tmp_path / "report"),
                        "--hsmsim-previous", str(path), cwd=tmp_path)
    assert_usage_error(result, "--hsmsim-previous: " + message.format(path=path))
    assert not (tmp_path / "report").exists()


def test_previous_results_without_a_report_are_refused(tmp_path):
    """The comparison is written only into the report: a --hsmsim-previous without one would be ignored."""
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, "--hsmsim-previous", str(tmp_path),
                        cwd=tmp_path)
    assert_usage_error(result, "--hsmsim-previous needs --hsmsim-report: the regressions are written into the report")


@pytest.mark.parametrize("timeout", ["nan", "-1", "inf", "1e12", "0"])
def test_timeout_outside_the_clis_range_is_refused(tmp_path, timeout):
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, f"--hsmsim-timeout={timeout}", cwd=tmp_path)
    shown = repr(float(timeout))
    assert_usage_error(result, f"--hsmsim-timeout must be a number of seconds above 0 and at most 86400 (got {shown})")
    cli = hsmsim("conformance", "run", "--verifier", str(REFERENCE), "--vectors", str(VECTORS), "--format", "primus",
                 "--report", str(tmp_path / "r"), f"--timeout={timeout}", cwd=tmp_path)
    assert cli.returncode == 2 and "--timeout must be a number of seconds above 0 and at most 86400" in cli.stderr


def test_timeout_of_the_old_spelling_is_checked_too(tmp_path):
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, "--conformance-timeout", "soon", cwd=tmp_path)
    assert_usage_error(result, "--hsmsim-timeout must be a number of seconds (got 'soon')")
    bad = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, "--conformance-timeout", "nan", cwd=tmp_path)
    assert_usage_error(bad, "--hsmsim-timeout must be a number of seconds above 0 and at most 86400 (got nan)")
    good = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, "--hsmsim-timeout", "30", cwd=tmp_path)
    assert good.returncode == 0 and " passed" in good.stdout, good.stdout[-2000:]


@pytest.mark.parametrize("option", ["--hsmsim-vectors", "--hsmsim-report", "--hsmsim-previous", "--hsmsim-verifier"])
def test_empty_path_is_misuse_not_a_default(tmp_path, option):
    args = ["--hsmsim-verifier", str(REFERENCE), "--hsmsim-format", "primus", "-k", "golden", option, ""]
    if option != "--hsmsim-vectors":
        args += ["--hsmsim-vectors", str(VECTORS)]
    assert_usage_error(pytest_run(*args, cwd=tmp_path), f"{option} must not be empty")


# -- a verifier module that exits while it is imported ----------------------------------------------------------

BOOM_MESSAGE = "cannot import 'boom.py' for entry 'boom.py:verify': SystemExit: 3"


@pytest.fixture
def boom(tmp_path: Path) -> Path:
    (tmp_path / "boom.py").write_text("raise SystemExit(3)\n")
    (tmp_path / "boom.toml").write_text('mode = "python"\nentry = "boom.py:verify"\n')
    return tmp_path / "boom.toml"


def test_verifier_exiting_on_import_cannot_start_under_pytest(tmp_path, boom):
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), "--hsmsim-verifier", str(boom), *QUICK, cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
    lines = result.stdout.splitlines()
    n_golden = sum(1 for line in lines if line.startswith("FAILED ") and "[boom:primus::golden::" in line)
    assert n_golden >= 1 and f"{n_golden} failed, {n_golden} passed" in result.stdout, result.stdout[-2000:]
    started = f"cannot start verifier 'boom': {BOOM_MESSAGE}"
    # each failure is that one line: no traceback, no chain of exceptions
    assert lines.count(started) == n_golden, result.stdout[-3000:]
    assert "Traceback" not in result.stdout and "direct cause" not in result.stdout
    assert f"hsmsim conformance: boom: no vector was run: {started}" in lines


def test_verifier_exiting_on_import_is_one_line_in_the_cli(tmp_path, boom):
    for jobs in ("1", "2"):
        result = hsmsim("conformance", "run", "--verifier", str(boom), "--vectors", str(VECTORS), "--format", "primus",
                        "-j", jobs, "--report", str(tmp_path / f"r{jobs}"), cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.strip().splitlines() == [f"hsmsim: error: {BOOM_MESSAGE}"]


@pytest.mark.parametrize("body", ["raise SystemExit(3)", "raise GeneratorExit", "import sys; sys.exit('no\\nway')",
                                  "raise BaseExceptionGroup('two', [SystemExit(1), ValueError()])"])
def test_import_entry_turns_whatever_the_module_raises_into_one_line(tmp_path, body):
    module = tmp_path / "raiser.py"
    module.write_text(textwrap.dedent(body) + "\n")
    modules = set(sys.modules)
    expected = r"^cannot import 'raiser\.py' for entry 'raiser\.py:verify': "
    with pytest.raises(AdapterConfigError, match=expected) as info:
        import_entry("raiser.py:verify", base=str(tmp_path))
    assert "\n" not in str(info.value)
    assert set(sys.modules) == modules, "no half-run module stays importable"


@pytest.mark.parametrize("body", ["raise KeyboardInterrupt",
                                  "raise BaseExceptionGroup('two', [KeyboardInterrupt(), ValueError()])"])
def test_import_entry_lets_ctrl_c_through(tmp_path, body):
    (tmp_path / "stopper.py").write_text(body + "\n")
    with pytest.raises((KeyboardInterrupt, BaseExceptionGroup)) as info:
        import_entry("stopper.py:verify", base=str(tmp_path))
    assert not isinstance(info.value, AdapterConfigError)


def test_a_report_that_cannot_be_written_after_the_run_fails_it_in_one_line(tmp_path):
    # --hsmsim-overwrite lets a non-empty report directory through the check made before the run; its `results` is
    # then a file, which the report is never written through: the run's tests pass, and the session fails.
    report = tmp_path / "report"
    report.mkdir()
    (report / "results").write_text("not a directory\n")
    result = pytest_run("--hsmsim-verifier", str(REFERENCE), *QUICK, "--hsmsim-report", str(report),
                        "--hsmsim-overwrite", cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
    problems = [line for line in result.stdout.splitlines() if line.startswith("hsmsim conformance: ")]
    assert problems == [f"hsmsim conformance: {report / 'results'} is not a directory of the report (a symlink?); "
                        "not writing through it"]
    assert "Traceback" not in result.stdout + result.stderr and "report: " not in result.stdout
    assert (report / "results").read_text() == "not a directory\n"
