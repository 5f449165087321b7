"""Fuzz campaigns across machines: shards merged equal the unsharded campaign; a finding replays (issue 14)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hsmsim.fuzz.campaign import CampaignSpec, run_campaign
from hsmsim.fuzz.targets import target_factory

ROOT = Path(__file__).resolve().parents[1]
FLAWED = ROOT / "examples" / "verifiers" / "flawed-attributes-ignored.toml"
TIMINGS = {"seconds", "execsPerSecond"}


def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)


def _run(out: Path, *, shard: tuple[int, int] = (0, 1), jobs: int = 1) -> None:
    run_campaign(CampaignSpec(format="primus", seed="shards", target=target_factory(FLAWED, "primus"),
                              iterations=240, shard=shard, jobs=jobs), out)


def _findings(out: Path) -> dict[str, str]:
    return {path.name: (path / "finding.json").read_text() for path in sorted((out / "findings").iterdir())}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    _run(base / "whole", jobs=2)
    for k in range(3):
        _run(base / f"shard{k}", shard=(k, 3))
    return base


def test_merged_shards_equal_the_unsharded_campaign(runs):
    merged = hsmsim("fuzz", "merge", *(str(runs / f"shard{k}") for k in range(3)), "--out", str(runs / "merged"))
    assert merged.returncode == 1, merged.stderr  # findings, as the unsharded run has
    whole = json.loads((runs / "whole" / "summary.json").read_text())
    together = json.loads((runs / "merged" / "summary.json").read_text())
    for name in TIMINGS:
        del whole[name], together[name]
    assert together == whole
    assert whole["findings"] and _findings(runs / "merged") == _findings(runs / "whole")
    assert f"shard 0/1: {whole['executed']} cases" in merged.stdout


def test_merge_refuses_mixed_or_repeated_runs(runs, tmp_path):
    twice = hsmsim("fuzz", "merge", str(runs / "shard0"), str(runs / "shard0"), "--out", str(tmp_path / "a"))
    assert twice.returncode == 2 and "shard 0/3 appears in more than one run" in twice.stderr
    other = tmp_path / "other"
    run_campaign(CampaignSpec(format="primus", seed="another", target=target_factory(FLAWED, "primus"),
                              iterations=5, shard=(1, 3)), other)
    mixed = hsmsim("fuzz", "merge", str(runs / "shard0"), str(other), "--out", str(tmp_path / "b"))
    assert mixed.returncode == 2 and "the runs differ in seed" in mixed.stderr
    empty = hsmsim("fuzz", "merge", str(tmp_path), "--out", str(tmp_path / "c"))
    assert empty.returncode == 2 and "summary.json" in empty.stderr and "Traceback" not in empty.stderr
    overlapping = tmp_path / "half"
    run_campaign(CampaignSpec(format="primus", seed="shards", target=target_factory(FLAWED, "primus"),
                              iterations=5, shard=(0, 2)), overlapping)
    shared = hsmsim("fuzz", "merge", str(runs / "shard0"), str(overlapping), "--out", str(tmp_path / "d"))
    assert shared.returncode == 2, shared.stderr
    assert "shards 0/3 and 0/2 share cases (shard 0/3 and 0/2): merge the shards of one split" in shared.stderr


def test_a_finding_replays_against_the_flawed_and_the_fixed_verifier(runs):
    finding = next(p for p in sorted((runs / "whole" / "findings").iterdir()) if p.name.startswith("specification"))
    flawed = hsmsim("fuzz", "replay", str(finding), "--verifier", str(FLAWED))
    assert flawed.returncode == 1 and flawed.stdout.startswith("REPRODUCES specification: target ACCEPT")
    fixed = hsmsim("fuzz", "replay", str(finding), "--verifier", "examples/verifiers/reference.toml")
    assert fixed.returncode == 0 and fixed.stdout.startswith("FIXED: target REJECT"), fixed.stdout + fixed.stderr


@pytest.mark.parametrize("planted", ["symlink", "fifo"])
def test_merge_refuses_a_finding_holding_a_symlink_or_fifo(runs, tmp_path, planted):
    shard = tmp_path / "shard"
    shutil.copytree(runs / "shard0", shard)
    finding = next(path for path in sorted((shard / "findings").iterdir()))
    secret = tmp_path / "secret"
    secret.write_bytes(b"not part of any finding")
    entry = finding / "files" / "planted"
    if planted == "symlink":
        entry.symlink_to(secret)
    else:
        os.mkfifo(entry)
    merged = hsmsim("fuzz", "merge", str(shard), "--out", str(tmp_path / "out"))
    assert merged.returncode == 2, merged.stdout + merged.stderr
    assert merged.stderr.count("\n") == 1 and "Traceback" not in merged.stderr
    assert str(entry) in merged.stderr and "not a regular file" in merged.stderr
    assert not (tmp_path / "out" / "findings").exists()


def test_merge_never_writes_through_a_symlink_at_its_output(runs, tmp_path):
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "findings").symlink_to(elsewhere)
    merged = hsmsim("fuzz", "merge", str(runs / "shard0"), "--out", str(out))
    assert merged.returncode == 2 and merged.stderr.count("\n") == 1, merged.stderr
    assert "findings exists and is not a directory (a symlink?)" in merged.stderr
    assert not any(elsewhere.iterdir())
    (out / "findings").unlink()
    (out / "summary.json").symlink_to(elsewhere / "summary.json")
    merged = hsmsim("fuzz", "merge", str(runs / "shard0"), "--out", str(out))
    assert merged.returncode == 1, merged.stderr  # shard 0 holds findings
    assert not (elsewhere / "summary.json").exists() and (out / "summary.json").is_file()
    assert not (out / "summary.json").is_symlink()


def test_merge_refuses_two_kept_findings_of_one_name(runs, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(runs / "shard0", first)
    shutil.copytree(runs / "shard1", second)
    keys = {json.loads((path / "finding.json").read_text())["finding"]["key"]: path.name
            for path in (first / "findings").iterdir()}
    other = next(path for path in sorted((second / "findings").iterdir())
                 if json.loads((path / "finding.json").read_text())["finding"]["key"] not in keys)
    taken = next(iter(keys.values()))
    shutil.rmtree(second / "findings" / taken, ignore_errors=True)  # the first run's finding of that name stays kept
    other.rename(second / "findings" / taken)
    merged = hsmsim("fuzz", "merge", str(first), str(second), "--out", str(tmp_path / "out"))
    assert merged.returncode == 2 and merged.stderr.count("\n") == 1, merged.stderr
    assert "two kept findings are named" in merged.stderr and not (tmp_path / "out" / "findings").exists()
