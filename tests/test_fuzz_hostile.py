"""A verifier that kills the fuzzer's worker process: the campaign goes on and records a CRASH (issue 12)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HOSTILE = """
import os
import signal

from hsmsim.harness import reference


def verify(request):
    if request.id.endswith("::case-5"):
        os._exit(3)
    if request.id.endswith("::case-9"):
        os.kill(os.getpid(), signal.SIGKILL)
    return reference.verify(request)
"""


def test_a_verifier_that_kills_its_worker_is_a_crash_finding_not_a_hang(tmp_path):
    (tmp_path / "hostile.py").write_text(textwrap.dedent(HOSTILE))
    adapter = tmp_path / "hostile.toml"
    adapter.write_text('name = "hostile"\nmode = "python"\nentry = "hostile.py:verify"\nprofile = "structural"\n')
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--verifier", str(adapter),
                           "-j", "2", "--iterations", "40", "--seed", "hostile", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["executed"] + summary["skipped"] == 40
    assert summary["verdicts"]["CRASH"] == 2
    details = set()
    for finding in summary["findings"]:
        record = json.loads((out / "findings" / finding["slug"] / "finding.json").read_text())["finding"]
        assert record["targetVerdict"] == "CRASH" and record["kind"] == "robustness"
        details.add(record["targetDetail"])
    assert any("exited with status 3" in d for d in details) and any("killed by SIGKILL" in d for d in details)
