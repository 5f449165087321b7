"""What an in-process (``python``) verifier prints, on import, in ``hello`` or per case, goes to standard error: the
standard output of ``hsmsim conformance run`` and ``hsmsim fuzz`` is their report (results, findings lines), which
scripts read, at any ``-j``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PRINTER = """
import os
from hsmsim.harness import reference

print("printed on import")


def hello():
    print("printed in hello")
    return {"formats": ["marvell-google"]}


def verify(request):
    print("printed for", request.id)
    os.write(1, b"written to fd 1 for " + request.id.encode() + b"\\n")
    return reference.verify(request)
"""


@pytest.fixture
def printer(tmp_path: Path) -> Path:
    (tmp_path / "printer.py").write_text(textwrap.dedent(PRINTER))
    adapter = tmp_path / "printer.toml"
    adapter.write_text('name = "printer"\nmode = "python"\nentry = "printer.py:verify"\nhello = "printer.py:hello"\n'
                       'profile = "structural"\nversion = "1"\n')
    return adapter


def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_conformance_stdout_holds_only_the_report(printer, tmp_path, jobs):
    done = hsmsim("conformance", "run", "--verifier", str(printer), "--format", "marvell-google", "-j", jobs,
                  "--report", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    report = done.stdout
    if jobs == "1":  # the verifier is called in hsmsim itself: only Python's sys.stdout is redirected there
        report = "".join(line for line in report.splitlines(keepends=True) if not line.startswith("written to fd 1"))
    else:  # a worker's own standard output is standard error
        assert "written to fd 1" not in report and "written to fd 1 for marvell-google::" in done.stderr
    assert "printed" not in report and report.startswith("ok   printer"), report
    assert "printed on import" in done.stderr and "printed for marvell-google::golden::" in done.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_fuzz_stdout_holds_only_the_report(printer, tmp_path, jobs):
    out = tmp_path / "out"
    done = hsmsim("fuzz", "--format", "marvell-google", "--verifier", str(printer), "--iterations", "8", "-j", jobs,
                  "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [done.stdout.splitlines()[-1]] and " 0 finding(s) in " in done.stdout, \
        done.stdout
    assert "printed for marvell-google::fuzz::case-" in done.stderr
    assert "written to fd 1 for marvell-google::fuzz::case-" in done.stderr
