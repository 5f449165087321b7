"""A Python verifier stuck in C code that holds the GIL and never checks for signals (a C loop over an endless
iterator; a regular expression that backtracks for ever, in any thread but the main one) keeps every in-process
time bound from firing: the worker pool kills its worker after the stall timeout, and the case is one HANG, in a
conformance run and in a fuzz campaign (``-j 1`` included), while the run goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hsmsim.fuzz.campaign import CampaignSpec, run_campaign
from hsmsim.fuzz.findings import read_finding
from hsmsim.fuzz.replay import replay
from hsmsim.fuzz.targets import target_factory
from hsmsim.harness import workers
from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import Actual, Outcome
from hsmsim.harness.runner import RunOptions, run_conformance
from hsmsim.harness.vectors import load_corpus
from tests.test_conformance_hostile_verifiers import _wait_gone
from tests.test_harness_workers import within

ROOT = Path(__file__).resolve().parents[1]
STALLED = "killed after 1.5 s without an answer: a verifier stuck in code that signals cannot interrupt"
"""What a stalled case's detail says with the adapter's ``timeout_s = 0.5`` and the grace made 1 s."""

STUCK = """
import collections
import itertools

from hsmsim.harness.reference import verify as reference

STUCK_ON = {stuck_on!r}


def verify(request):
    if request.id == STUCK_ON:
        # a loop inside C that holds the GIL and never looks for signals: neither SIGALRM nor a deadline ends it
        collections.deque(itertools.repeat(None), maxlen=0)
    if request.id.startswith("primus::fuzz::"):
        return reference(request)
    return "ACCEPT" if request.id == "primus::golden::rsa-2048" else "REJECT"
"""


def _adapter(tmp_path: Path, stuck_on: str) -> Path:
    (tmp_path / "stuck.py").write_text(textwrap.dedent(STUCK.format(stuck_on=stuck_on)))
    adapter = tmp_path / "stuck.toml"
    adapter.write_text('name = "stuck"\nmode = "python"\nentry = "stuck.py:verify"\nprofile = "structural"\n'
                       'formats = ["primus"]\ntimeout_s = 0.5\n')
    return adapter


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stall timeout of 0.5 + 1 s rather than 0.5 + 5 s: the tests stay short."""
    monkeypatch.setattr(workers, "STALL_GRACE_S", 1.0)


def test_a_stalled_worker_is_a_hang_of_its_vector_and_the_conformance_run_goes_on(tmp_path):
    adapter = load_adapter(_adapter(tmp_path, "primus::attr::extractable-true"))
    corpus = load_corpus(ROOT / "vectors")
    options = RunOptions(jobs=2, patterns=("primus::attr::*",))
    with within(60):
        results = {r.id: r for r in run_conformance([adapter], corpus, options).verifiers[0].results}
    assert len(results) == len(corpus.select(patterns=options.patterns))
    stuck = results.pop("primus::attr::extractable-true")
    assert (stuck.verdict, stuck.outcome) == (Actual.HANG, Outcome.HANG), stuck
    assert STALLED in stuck.detail, stuck.detail
    assert {r.verdict for r in results.values()} == {Actual.REJECT}  # every other vector was asked and answered


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_case_that_stalls_its_worker_is_a_hang_finding_and_the_campaign_goes_on(tmp_path, jobs):
    adapter = _adapter(tmp_path, "primus::fuzz::case-3")
    spec = CampaignSpec(format="primus", seed="stalls", target=target_factory(adapter, "primus"), iterations=8,
                        jobs=jobs)
    with within(60):
        result = run_campaign(spec)
    assert result.stats.executed == 8
    assert result.stats.verdicts["HANG"] == 1 and "CRASH" not in result.stats.verdicts, result.stats.verdicts
    [finding] = result.findings
    assert (finding.kind, finding.target.verdict, finding.built.case.index) == ("robustness", "HANG", 3)
    assert STALLED in finding.target.detail, finding.target.detail


def test_a_finding_that_stalls_its_worker_replays_as_a_hang(tmp_path):
    adapter = _adapter(tmp_path, "primus::fuzz::case-3")
    spec = CampaignSpec(format="primus", seed="stalls", target=target_factory(adapter, "primus"), iterations=4,
                        jobs=1)
    [finding_dir] = run_campaign(spec, tmp_path / "out").written  # not within(): its reference checks reset alarms
    # a finding's evidence is replayed under the finding's own case id
    stuck_again = tmp_path / "again"
    stuck_again.mkdir()
    with within(60):
        replayed = replay(finding_dir, _adapter(stuck_again, read_finding(finding_dir).case.id))
    assert (replayed.target.verdict, replayed.reproduces) == ("HANG", True), replayed.target
    assert STALLED in replayed.target.detail, replayed.target.detail


PARENT = """
import collections, itertools, os, sys, time
from hsmsim.harness.workers import WorkerPool

def stuck(pid_file):
    with open(pid_file, "w") as out:
        out.write(str(os.getpid()))
    collections.deque(itertools.repeat(None), maxlen=0)  # holds the GIL: no SIGTERM handler can run

def nothing():
    pass

with WorkerPool(1, stuck, nothing, (), start_method="fork", stall_timeout=600) as pool:
    list(pool.run([sys.argv[1]]))
"""


def test_a_stuck_worker_dies_with_a_parent_killed_outright(tmp_path):
    """The parent-death signal is SIGKILL while a watched unit runs: SIGTERM's handler is Python code, which the
    stuck worker would never run, and it would spin on under PID 1."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    pid_file = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, str(script), str(pid_file)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < deadline and parent.poll() is None, "the worker never started its task"
            time.sleep(0.05)
        worker = int(pid_file.read_text())
    finally:
        parent.kill()
        parent.wait()
    left = _wait_gone([worker], 10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the stuck worker outlived its parent"
