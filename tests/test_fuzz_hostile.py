"""A verifier that kills the fuzzer's worker process: the campaign goes on and records a CRASH (issue 12), and
``hsmsim fuzz replay`` replays it as a CRASH rather than dying with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HOSTILE = """
import os
import signal
import zlib

from hsmsim.harness import reference


def verify(request):
    mark = zlib.crc32(b"".join(data for _, data in sorted(request.evidence.files.items()))) % 10
    if mark == 0:
        os._exit(3)
    if mark == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return reference.verify(request)
"""


def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=600)


def test_a_verifier_that_kills_its_worker_is_a_crash_finding_not_a_hang(tmp_path):
    (tmp_path / "hostile.py").write_text(textwrap.dedent(HOSTILE))
    adapter = tmp_path / "hostile.toml"
    adapter.write_text('name = "hostile"\nmode = "python"\nentry = "hostile.py:verify"\nprofile = "structural"\n')
    out = tmp_path / "out"
    done = hsmsim("fuzz", "--format", "primus", "--verifier", str(adapter), "-j", "2", "--iterations", "30",
                  "--seed", "hostile", "--out", str(out))
    assert done.returncode == 1, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["executed"] + summary["skipped"] == 30
    assert summary["verdicts"]["CRASH"] >= 2
    details = {}
    for finding in summary["findings"]:
        record = json.loads((out / "findings" / finding["slug"] / "finding.json").read_text())["finding"]
        assert record["targetVerdict"] == "CRASH" and record["kind"] == "robustness"
        details[record["targetDetail"]] = out / "findings" / finding["slug"]
    assert any("exited with status 3" in d for d in details) and any("killed by SIGKILL" in d for d in details)

    replayed = hsmsim("fuzz", "replay", str(next(iter(details.values()))), "--verifier", str(adapter))
    assert replayed.returncode == 1 and replayed.stdout.startswith("REPRODUCES robustness: target CRASH"), \
        replayed.stdout + replayed.stderr
    fixed = hsmsim("fuzz", "replay", str(next(iter(details.values()))), "--verifier",
                   "examples/verifiers/reference.toml")
    assert fixed.returncode == 0 and fixed.stdout.startswith("FIXED: target "), fixed.stdout + fixed.stderr


# -- bad finding and summary files (exit 2, one line) ---------------------------------------------

DEEP_JSON = "[" * 100_000 + "]" * 100_000
REFERENCE = str(Path(__file__).resolve().parents[1] / "examples" / "verifiers" / "reference.toml")


def refused(*args: str, message: str) -> None:
    done = hsmsim(*args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr, done.stderr


def test_a_bad_finding_is_one_line(tmp_path):
    for name, make, message in (
            ("fifo", lambda path: os.mkfifo(path), "finding.json is not a regular file"),
            ("deep", lambda path: path.write_text(DEEP_JSON), "holds no readable finding.json: the document: "),
            ("list", lambda path: path.write_text("[]"), "holds no readable finding.json: "),
    ):
        finding = tmp_path / name
        finding.mkdir()
        make(finding / "finding.json")
        refused("fuzz", "replay", str(finding), "--verifier", REFERENCE, message=message)
        refused("vectors", "promote", str(finding), "--vectors", str(tmp_path / "corpus"), message=message)


def test_a_bad_campaign_summary_is_one_line(tmp_path):
    for name, make, message in (
            ("fifo", lambda path: os.mkfifo(path), "summary.json is not a regular file"),
            ("deep", lambda path: path.write_text(DEEP_JSON), "holds no readable summary.json"),
    ):
        run = tmp_path / name
        run.mkdir()
        make(run / "summary.json")
        refused("fuzz", "merge", str(run), str(run), "--out", str(tmp_path / f"merged-{name}"), message=message)


def test_a_nan_duration_is_refused(tmp_path):
    refused("fuzz", "--format", "primus", "--duration", "nan", "--out", str(tmp_path / "out"),
            message="--duration must be a number of seconds, not nan")
