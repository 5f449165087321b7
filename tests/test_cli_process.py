"""The forked runs most CLI tests use give what ``python -m hsmsim`` gives: exit code, stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import run_hsmsim


def _spawned(args: list[str], *, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)


@pytest.mark.parametrize("args", [
    ["formats"],
    ["--version"],
    ["verify", "no-such-file.zip"],
    ["verify", "--no-such-option"],
    ["key", "list", "--state", "no-such-state"],
    ["vectors"],
])
def test_a_forked_run_gives_what_a_spawned_one_gives(tmp_path: Path, args: list[str]) -> None:
    forked, spawned = run_hsmsim(args, cwd=tmp_path), _spawned(args, cwd=tmp_path)
    assert (forked.returncode, forked.stdout, forked.stderr) == (spawned.returncode, spawned.stdout, spawned.stderr)
    assert list(tmp_path.iterdir()) == []


def test_the_environment_and_directory_given_are_the_childs_alone(tmp_path: Path) -> None:
    env = {**os.environ, "HSMSIM_STATE": ""}
    forked = run_hsmsim(["key", "list"], env=env, cwd=tmp_path)
    assert (forked.returncode, forked.stderr) == (2, "hsmsim: error: HSMSIM_STATE is set but empty: unset it or "
                                                     "name a directory\n")
    assert forked.stderr == _spawned(["key", "list"], env=env, cwd=tmp_path).stderr
    assert os.environ.get("HSMSIM_STATE") != "" and Path.cwd() != tmp_path


def test_a_key_made_in_one_forked_run_is_read_by_the_next(tmp_path: Path) -> None:
    state = str(tmp_path / "hsm")
    made = run_hsmsim(["key", "create", "--label", "k", "--spec", "ec-p256", "--state", state])
    assert made.returncode == 0, made.stderr
    listed = _spawned(["key", "list", "--state", state])
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [["k", "ec-p256", "soft"]]
