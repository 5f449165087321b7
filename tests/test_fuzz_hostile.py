"""A verifier that kills the fuzzer's worker process: the campaign goes on and records a CRASH (issue 12), and
``hsmsim fuzz replay`` replays it as a CRASH rather than dying with it. ``-j 1`` runs its verifier in a worker too:
under the same memory bound, and gone with the campaign when that is killed outright. A campaign interrupted while
it writes its findings leaves only whole ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from hsmsim.fuzz import findings
from hsmsim.fuzz.campaign import CampaignSpec, run_campaign
from hsmsim.fuzz.engine import TargetAnswer
from hsmsim.fuzz.findings import read_finding
from hsmsim.fuzz.targets import target_factory
from hsmsim.harness.processes import kill_tagged
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile

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


# -- -j 1 runs its verifier in a worker, as -j N does ---------------------------------------------------------------

GREEDY = """
import resource

from hsmsim.harness.reference import verify as reference


def verify(request):
    if request.id == "primus::fuzz::case-1":
        if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
            raise RuntimeError("no address-space bound: not allocating 4 GiB for real")
        bytearray(4 << 30)
    return reference(request)
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_verifier_that_allocates_4_gib_is_a_memory_finding_at_any_jobs(tmp_path, jobs):
    (tmp_path / "greedy.py").write_text(textwrap.dedent(GREEDY))
    adapter = tmp_path / "greedy.toml"
    adapter.write_text('name = "greedy"\nmode = "python"\nentry = "greedy.py:verify"\nprofile = "structural"\n')
    spec = CampaignSpec(format="primus", seed="memory", target=target_factory(adapter, "primus"), iterations=3,
                        jobs=jobs)
    result = run_campaign(spec)
    assert result.stats.verdicts["MEMORY"] == 1, result.stats.verdicts
    [finding] = result.findings
    assert (finding.kind, finding.target.verdict) == ("robustness", "MEMORY"), finding.target


SLEEPER = """
import json, os, sys, time
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        print(json.dumps({"name": "sleeper", "version": "1", "formats": ["primus"], "features": []}), flush=True)
    else:
        open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
        time.sleep(600)  # never answers, and never reads stdin again: its end does not end it
"""


def _marked(name: str, value: str) -> list[int]:
    """The processes whose environment sets ``name=value`` (zombies, whose environment is gone, aside)."""
    marker = f"{name}={value}".encode()
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and marker in Path(entry.path, "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_no_verifier_outlives_a_fuzz_campaign_killed_outright_at_one_job(tmp_path):
    (tmp_path / "sleeper.py").write_text(textwrap.dedent(SLEEPER))
    pids = tmp_path / "pids"
    pids.mkdir()
    adapter = tmp_path / "sleeper.toml"
    adapter.write_text(f'name = "sleeper"\nmode = "persistent"\ncommand = ["{{python}}", "sleeper.py", "{pids}"]\n'
                       'profile = "structural"\ntimeout_s = 300\n')
    marker = ("HSMSIM_TEST_CAMPAIGN", uuid.uuid4().hex)  # every process of the campaign inherits it
    run = subprocess.Popen([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--verifier", str(adapter),
                            "--iterations", "20", "-j", "1", "--seed", "killed", "--out", str(tmp_path / "out")],
                           env={**os.environ, marker[0]: marker[1]}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        give_up = time.monotonic() + 120
        while not any(pids.iterdir()):
            assert run.poll() is None and time.monotonic() < give_up, "the verifier was never asked"
            time.sleep(0.05)
        run.kill()
        run.wait()
        give_up = time.monotonic() + 10
        while (left := _marked(*marker)) and time.monotonic() < give_up:
            time.sleep(0.1)
        assert left == [], f"processes {left} of the campaign outlived it"
    finally:
        run.kill()
        run.wait()
        kill_tagged(*marker)


# -- an interrupted write leaves whole findings only ----------------------------------------------------------------

@dataclass
class Crashes:
    """A target that accepts the campaign's golden probe and crashes on every case: a robustness finding per set of
    operators."""

    name: str = "crashes"
    packed: bool = False

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        if "::golden::" in case_id:
            return TargetAnswer("ACCEPT")
        return TargetAnswer("CRASH", None, "ValueError: boom")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _CrashesFactory:
    def __call__(self) -> Crashes:
        return Crashes()


def test_a_campaign_interrupted_while_it_writes_leaves_only_whole_findings(tmp_path, monkeypatch):
    write = findings.write_atomic
    records: list[Path] = []

    def interrupted_at_the_second_record(path: Path, data: bytes, **kwargs: bool) -> None:
        if path.name == "finding.json":
            records.append(path)
            if len(records) == 2:  # the second finding's native files are written, its record is not
                raise KeyboardInterrupt
        write(path, data, **kwargs)

    monkeypatch.setattr(findings, "write_atomic", interrupted_at_the_second_record)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_campaign(CampaignSpec(format="primus", seed="interrupted", target=_CrashesFactory(), iterations=6), out)
    assert len(records) == 2
    entries = sorted((out / "findings").iterdir())
    assert [entry.name for entry in entries] == [records[0].parent.name.lstrip(".").removesuffix(".partial")]
    assert read_finding(entries[0]).finding.target_verdict == "CRASH"
    assert not (out / "summary.json").exists()
