"""A fuzz campaign ended by Ctrl-C or SIGTERM keeps what it found: the findings until then are written (those not
yet minimised as found), ``summary.json`` says ``interrupted``, and the command exits 128 + the signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from hsmsim.fuzz import campaign
from hsmsim.fuzz.campaign import CampaignSpec, CampaignSummary, run_campaign
from hsmsim.fuzz.engine import CampaignStats, TargetAnswer
from hsmsim.fuzz.findings import read_finding
from hsmsim.fuzz.merge import merge_runs
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile

REPO = Path(__file__).resolve().parents[1]

# Accepts the golden probe and errs on every case; once it has answered ANSWERED cases it leaves a marker, so the
# test interrupts a campaign known to have found something.
ERRS = """
import json, os, sys
answered = 0
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        reply = {"name": "errs", "version": "1", "formats": ["primus"], "features": []}
    elif "::golden::" in request["id"]:
        reply = {"id": request["id"], "verdict": "ACCEPT", "reason": None, "detail": ""}
    else:
        answered += 1
        if answered == 200:
            open(sys.argv[1], "w").close()
        reply = {"id": request["id"], "verdict": "ERROR", "reason": None, "detail": "unexpected element"}
    sys.stdout.write(json.dumps(reply) + "\\n")
    sys.stdout.flush()
"""


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c-to-the-group", "sigterm-to-hsmsim"])
def test_an_interrupted_campaign_writes_what_it_found(tmp_path, sig, group):
    marker = tmp_path / "answered"
    (tmp_path / "errs.py").write_text(textwrap.dedent(ERRS))
    adapter = tmp_path / "errs.toml"
    adapter.write_text(f'name = "errs"\nmode = "persistent"\ncommand = ["{{python}}", "errs.py", "{marker}"]\n'
                       'profile = "structural"\n')
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--verifier", str(adapter),
                            "--duration", "600", "-j", "2", "--seed", "interrupted", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        give_up = time.monotonic() + 120
        while not marker.exists() and run.poll() is None and time.monotonic() < give_up:
            time.sleep(0.05)
        assert marker.exists(), "the verifier never answered 200 cases"
        if group:  # a terminal's Ctrl-C reaches the workers and the verifiers too
            os.killpg(run.pid, sig)
        else:
            run.send_signal(sig)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "Aborted!" not in stderr  # the summary line says it was interrupted
    assert stdout.splitlines()[-1].startswith("interrupted after ")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert summary["executed"] >= 64 and summary["verdicts"] == {"ERROR": summary["executed"]}
    slugs = [finding["slug"] for finding in summary["findings"]]
    assert slugs and sorted(slugs) == sorted(entry.name for entry in (out / "findings").iterdir())
    for slug in slugs:
        assert read_finding(out / "findings" / slug).finding.target_verdict == "ERROR"
    last = stdout.strip().splitlines()[-1]
    assert last.startswith(f"interrupted after {summary['executed']} cases") and \
        f"{len(slugs)} finding(s), {len(slugs)} not minimised in {out}" in last, last


@dataclass
class Errs:
    """An in-process target that accepts the golden probe and errs on every case."""

    name: str = "errs"
    packed: bool = False

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        return TargetAnswer("ACCEPT") if "::golden::" in case_id else TargetAnswer("ERROR", None, "unexpected element")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _ErrsFactory:
    def __call__(self) -> Errs:
        return Errs()


def _interrupt_once_found(stats: CampaignStats, found: int) -> None:
    if found:
        raise KeyboardInterrupt


def test_findings_minimised_before_the_interrupt_are_kept_minimised(tmp_path, monkeypatch):
    minimise_all = campaign._minimise_all
    minimised_keys: list[str] = []

    def one_then_interrupted(first, pool, minimised):  # type: ignore[no-untyped-def]
        key = sorted(first)[0]
        minimise_all({key: first[key]}, pool, minimised)
        minimised_keys.extend(minimised)
        raise KeyboardInterrupt

    monkeypatch.setattr(campaign, "_minimise_all", one_then_interrupted)
    result = run_campaign(CampaignSpec(format="primus", seed="minimised", target=_ErrsFactory(), iterations=128),
                          tmp_path / "out")
    assert result.interrupted and result.stats.executed + sum(result.stats.skipped.values()) == 128
    assert len(minimised_keys) == 1 and len(result.findings) > 1
    assert result.unminimised == len(result.findings) - 1
    assert sum(f.found_key == minimised_keys[0] for f in result.findings) == 1
    assert CampaignSummary.read(tmp_path / "out").interrupted


def test_a_merge_with_an_interrupted_shard_is_interrupted(tmp_path):
    outs = [tmp_path / "0", tmp_path / "1"]
    whole = run_campaign(CampaignSpec(format="primus", seed="shards", target=_ErrsFactory(), iterations=64,
                                      shard=(0, 2)), outs[0])
    cut = run_campaign(CampaignSpec(format="primus", seed="shards", target=_ErrsFactory(), iterations=640,
                                    shard=(1, 2)), outs[1], progress=_interrupt_once_found)
    assert not whole.interrupted and cut.interrupted and cut.stats.executed < 320
    assert merge_runs(outs).summary.interrupted
    assert not merge_runs(outs[:1]).summary.interrupted
