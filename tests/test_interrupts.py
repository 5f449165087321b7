"""What a run leaves behind when it is interrupted or its verifier misbehaves: no verifier or worker process
outlives the harness (Ctrl-C, SIGTERM, SIGKILL of the parent), a verifier process started by a fuzz worker
does not inherit the worker's memory bound, and a campaign's time bounds hold against a verifier that hangs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hsmsim.fuzz.campaign import CampaignSpec, run_campaign
from hsmsim.fuzz.targets import AdapterTarget, target_factory
from hsmsim.harness.processes import run_bounded

# A oneshot verifier that writes its pid into the directory given as its first argument, then sleeps; except
# that its first call (a conformance run's sanity probe) accepts at once.
SLEEPER = """
import os, sys, time
try:
    os.close(os.open(os.path.join(sys.argv[1], "probed"), os.O_CREAT | os.O_EXCL))
    print("ACCEPT")
    sys.exit(0)
except FileExistsError:
    pass
with open(os.path.join(sys.argv[1], f"{os.getpid()}.pid"), "w"):
    pass
time.sleep(120)
"""


def _adapter(tmp_path: Path, script: str, *, timeout: float = 60) -> tuple[Path, Path]:
    (tmp_path / "verifier.py").write_text(textwrap.dedent(script))
    pids = tmp_path / "pids"
    pids.mkdir()
    adapter = tmp_path / "verifier.toml"
    adapter.write_text(f'name = "sleeper"\nmode = "oneshot"\n'
                       f'command = ["{sys.executable}", "{tmp_path / "verifier.py"}", "{pids}"]\n'
                       f'formats = ["primus"]\ntimeout_s = {timeout}\nversion = "1"\n')
    return adapter, pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie that nobody reaps yet is dead for this purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def _started_verifiers(pids: Path, count: int) -> list[int]:
    give_up = time.monotonic() + 120
    while len(found := [int(p.stem) for p in pids.glob("*.pid")]) < count:
        assert time.monotonic() < give_up, "the verifiers did not start"
        time.sleep(0.1)
    return found


def _gone(pids: list[int]) -> bool:
    give_up = time.monotonic() + 20
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > give_up:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize(("jobs", "sig"), [(1, signal.SIGTERM), (2, signal.SIGTERM), (2, signal.SIGKILL),
                                           (1, signal.SIGINT)])
def test_no_verifier_outlives_an_interrupted_conformance_run(tmp_path, jobs, sig):
    adapter, pids = _adapter(tmp_path, SLEEPER)
    run = subprocess.Popen([sys.executable, "-m", "hsmsim", "conformance", "run", "--verifier", str(adapter),
                            "-k", "primus::attr::*", "-j", str(jobs), "--report", str(tmp_path / "report")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = _started_verifiers(pids, jobs)
    run.send_signal(sig)
    _, stderr = run.communicate(timeout=60)  # until every writer (workers included) has gone
    assert _gone(started), f"verifier processes {started} outlived the harness ({sig.name}, -j {jobs})"
    assert b"Traceback" not in stderr, stderr.decode()
    # 128 + the signal, as a shell reports it: never 1, which a CI step reads as "anomalies found"
    assert run.returncode == (-sig if sig is signal.SIGKILL else 128 + sig), stderr.decode()


def test_run_bounded_kills_its_process_when_interrupted(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    (pids / "probed").touch()
    (tmp_path / "sleeper.py").write_text(textwrap.dedent(SLEEPER))

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_bounded([sys.executable, str(tmp_path / "sleeper.py"), str(pids)], cwd=str(tmp_path),
                        env=dict(os.environ), tag="interrupt-test", timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _gone(_started_verifiers(pids, 1))


# A oneshot verifier that accepts when its address space is unbounded, and rejects otherwise.
LIMIT_REPORTER = """
import resource
soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
print("ACCEPT" if soft == resource.RLIM_INFINITY else "REJECT MALFORMED")
"""


def test_a_verifier_process_does_not_inherit_a_fuzz_workers_memory_bound(tmp_path):
    (tmp_path / "limits.py").write_text(textwrap.dedent(LIMIT_REPORTER))
    adapter = tmp_path / "limits.toml"
    adapter.write_text(f'name = "limits"\nmode = "oneshot"\n'
                       f'command = ["{sys.executable}", "{tmp_path / "limits.py"}"]\n'
                       'formats = ["primus"]\nversion = "1"\n')
    assert not AdapterTarget(adapter, "primus").in_process
    spec = CampaignSpec(format="primus", seed="limits", target=target_factory(adapter, "primus"), iterations=4, jobs=2)
    result = run_campaign(spec)
    assert result.stats.verdicts == {"ACCEPT": 4}


@pytest.mark.long
def test_a_fuzz_case_waits_the_adapters_timeout_and_a_duration_ends_mid_chunk(tmp_path):
    adapter, _ = _adapter(tmp_path, SLEEPER, timeout=0.5)  # the campaign's golden probe is accepted, every case hangs
    assert AdapterTarget(adapter, "primus").timeout == 0.5
    out = tmp_path / "out"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--verifier", str(adapter),
                           "--duration", "2", "--seed", "hangs", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    # A chunk is 64 cases: at 0.5 s a case, ending only between chunks would take 32 s before minimising.
    assert summary["executed"] < 64 and summary["verdicts"] == {"HANG": summary["executed"]}
    assert elapsed < 2 + 2 * 60 + 30, "minimisation is bounded per finding"


def test_fuzz_workers_leave_no_scratch_directory(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--verifier",
                           "examples/verifiers/tiny-oneshot.toml", "--iterations", "4", "-j", "2", "--seed", "scratch",
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "TMPDIR": str(scratch)},
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode in (0, 1), done.stderr
    assert list(scratch.iterdir()) == []
