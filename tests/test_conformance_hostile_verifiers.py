"""``hsmsim conformance run`` and ``merge`` against verifiers and outputs that misbehave: an interrupted run stops its
persistent verifier whatever interrupts the clean-up, outputs that cannot be written are refused before the run,
two verifiers never share a results file, a merge refuses edited results, an adapter's own PATH finds its command,
a persistent verifier that exits between cases is restarted, not blamed for the next vector, and a command template
that cannot be filled in is refused before anything runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hsmsim._atomic import check_output_directory, check_replaceable_file
from hsmsim.errors import HsmsimError
from hsmsim.harness.config import load_adapter
from hsmsim.harness.runner import Session
from hsmsim.harness.vectors import load_corpus
from tests.test_plugin_options import QUICK, VECTORS, assert_usage_error, hsmsim, pytest_run

GOLDEN = ("--vectors", str(VECTORS), "--format", "primus", "-k", "primus::golden::*")

# A persistent verifier that answers its hello, then, on a verify, writes its pid into ./pids and sleeps for good.
NEVER = """\
#!/usr/bin/env python3
import json, os, sys, time
for line in sys.stdin:
    if json.loads(line)["op"] == "hello":
        print(json.dumps({"formats": ["primus"]}), flush=True)
    else:
        open(os.path.join("pids", str(os.getpid())), "w").close()
        time.sleep(10**6)
"""

# A persistent verifier that accepts one vector, then exits.
ONCE = """\
#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        print(json.dumps({"formats": ["primus"]}), flush=True)
        continue
    print(json.dumps({"id": request["id"], "verdict": "ACCEPT"}), flush=True)
    sys.exit(0)
"""

# A oneshot verifier that accepts everything, and leaves ./ran behind when it runs at all.
ACCEPT = "#!/bin/sh\ntouch ran\necho ACCEPT\n"


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _adapter(directory: Path, file_name: str, body: str) -> Path:
    adapter = directory / file_name
    adapter.write_text(textwrap.dedent(body))
    return adapter


def _one_line_exit_2(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    give_up = time.monotonic() + seconds
    while (left := [pid for pid in pids if _alive(pid)]) and time.monotonic() < give_up:
        time.sleep(0.1)
    return left


# -- 1. an interrupted run ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_second_interrupt_during_the_clean_up_leaves_no_verifier_and_no_scratch_directory(tmp_path, jobs, sig):
    """Two signals 50 ms apart to the whole process group (two Ctrl-C; or `timeout`, which signals the harness and
    its group): the verifier that never answers is killed anyway, its scratch directory is removed, and no worker
    prints a traceback."""
    _script(tmp_path / "never.py", NEVER)
    adapter = _adapter(tmp_path, "phang.toml", 'mode = "persistent"\ncommand = ["./never.py"]\ntimeout_s = 60\n')
    (tmp_path / "pids").mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = subprocess.Popen([sys.executable, "-m", "hsmsim", "conformance", "run", "--verifier", str(adapter),
                            *GOLDEN, "-j", str(jobs), "--report", str(tmp_path / "report")],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, env={**os.environ, "TMPDIR": str(scratch)})
    pids: list[int] = []
    try:
        give_up = time.monotonic() + 60
        while not (pids := [int(p.name) for p in (tmp_path / "pids").iterdir()]):
            assert run.poll() is None and time.monotonic() < give_up, "the verifier was never asked"
            time.sleep(0.05)
        os.killpg(run.pid, sig)
        time.sleep(0.05)
        os.killpg(run.pid, sig)
        _, stderr = run.communicate(timeout=60)
        left = _wait_gone(pids, 10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert left == [], "the verifier outlived the harness"
    assert "Traceback" not in stderr, stderr
    assert [p.name for p in scratch.iterdir()] == []


def test_session_close_stops_every_verifier_when_one_close_raises(tmp_path):
    _script(tmp_path / "never.py", NEVER)
    configs = [load_adapter(str(_adapter(tmp_path, f"{name}.toml", f'name = "{name}"\nmode = "persistent"\n'
                                                                    'command = ["./never.py"]\n')))
               for name in ("first", "second")]
    session = Session(load_corpus(VECTORS), configs)
    first, second = session.verifier("first"), session.verifier("second")
    pid = second._proc.pid  # type: ignore[attr-defined]
    closing = first.close

    def interrupted_close() -> None:
        closing()
        raise KeyboardInterrupt

    first.close = interrupted_close  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            session.close()
        assert _wait_gone([pid], 5) == [], "the second verifier was left running"
    finally:
        second.close()


# -- 3. outputs that cannot be written -------------------------------------------------------------------------------

@pytest.mark.parametrize(("where", "message"), [
    (["--report", "dangling"], "--report dangling is a symlink to nothing"),
    (["--report", "dangling/report"], "--report dangling/report: dangling is a symlink to nothing"),
    (["--report", "/proc/hsmsim-report"], "--report /proc/hsmsim-report: cannot make the directory "
                                          "/proc/hsmsim-report"),
    (["--report", "/proc/hsmsim-a/b"], "cannot make the directory /proc/hsmsim-a"),
    (["--report", "r", "--write-baseline", "/proc/base.json"], "--write-baseline /proc/base.json cannot be written"),
    (["--report", "r", "--write-baseline", "dangling/base.json"], "--write-baseline dangling/base.json: dangling is "
                                                                  "a symlink to nothing"),
    (["--report", "r", "--write-baseline", "/proc/hsmsim-b/base.json"], "cannot make the directory /proc/hsmsim-b"),
])
def test_outputs_that_cannot_be_made_are_refused_before_the_run(tmp_path, where, message):
    _script(tmp_path / "accept.sh", ACCEPT)
    adapter = _adapter(tmp_path, "accept.toml", 'mode = "oneshot"\ncommand = ["./accept.sh"]\n')
    (tmp_path / "dangling").symlink_to(tmp_path / "nonexistent")
    result = hsmsim("conformance", "run", "--verifier", str(adapter), *GOLDEN, *where, cwd=tmp_path)
    _one_line_exit_2(result, message)
    assert not (tmp_path / "ran").exists(), "the verifier ran before the output was checked"
    assert not (tmp_path / "nonexistent").exists() and not (tmp_path / "r").exists()


def test_the_check_of_outputs_below_missing_directories_leaves_nothing_behind(tmp_path):
    """What the check makes to see that it can is removed; what it cannot make is refused."""
    (tmp_path / "dangling").symlink_to(tmp_path / "nonexistent")
    check_output_directory(tmp_path / "a" / "b" / "report", "--report", holds="a report", replace_flag="--overwrite",
                           replace=False)
    check_replaceable_file(tmp_path / "c" / "d" / "base.json", "--write-baseline")
    with pytest.raises(HsmsimError, match="dangling is a symlink to nothing"):
        check_replaceable_file(tmp_path / "dangling" / "base.json", "--write-baseline")
    with pytest.raises(HsmsimError, match="cannot make the directory /proc/hsmsim-c"):
        check_output_directory(Path("/proc/hsmsim-c/report"), "--out", holds="a campaign", replace_flag="--overwrite",
                               replace=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling"]


# -- 4. two verifiers, one file name ---------------------------------------------------------------------------------

def _clashing_adapters(tmp_path: Path) -> list[str]:
    _script(tmp_path / "accept.sh", ACCEPT)
    return [str(_adapter(tmp_path, f"{file}.toml", f'name = "{name}"\nmode = "oneshot"\ncommand = ["./accept.sh"]\n'))
            for file, name in (("slash", "a/b"), ("underscore", "a_b"))]


CLASH = "verifiers 'a/b' and 'a_b' would write the same results file results/a_b.json: rename one"


@pytest.mark.parametrize("baseline", [[], ["--write-baseline", "w/{verifier}.json"]])
def test_two_verifiers_with_one_results_file_name_are_refused_before_the_run(tmp_path, baseline):
    verifiers = [arg for path in _clashing_adapters(tmp_path) for arg in ("--verifier", path)]
    result = hsmsim("conformance", "run", *verifiers, *GOLDEN, "--report", "report", *baseline, cwd=tmp_path)
    _one_line_exit_2(result, CLASH)
    assert not (tmp_path / "ran").exists() and not (tmp_path / "report").exists()


def test_two_verifiers_with_one_results_file_name_are_refused_by_the_plugin(tmp_path):
    verifiers = [arg for path in _clashing_adapters(tmp_path) for arg in ("--hsmsim-verifier", path)]
    result = pytest_run(*verifiers, *QUICK, "--hsmsim-report", str(tmp_path / "report"), cwd=tmp_path)
    assert_usage_error(result, CLASH)
    assert not (tmp_path / "ran").exists()


def test_merge_refuses_shards_of_two_verifiers_with_one_results_file_name(tmp_path):
    _script(tmp_path / "accept.sh", ACCEPT)
    adapters = [str(_adapter(tmp_path, f"{name}.toml", f'name = "{name}"\nmode = "oneshot"\n'
                                                      'command = ["./accept.sh"]\n')) for name in ("x", "a_b")]
    for index in range(2):
        ran = hsmsim("conformance", "run", "--verifier", adapters[0], "--verifier", adapters[1], *GOLDEN,
                     "--shard", f"{index}/2", "--report", f"s{index}", cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        for path in (tmp_path / f"s{index}" / "results").glob("*.json"):  # rename x to a/b, in its own file
            data = json.loads(path.read_text())
            data["run"]["verifiers"] = ["a/b", "a_b"]
            data["verifier"] = data["verifier"].replace("x", "a/b")
            path.write_text(json.dumps(data))
    result = hsmsim("conformance", "merge", "s0", "s1", "--vectors", str(VECTORS), "--report", "merged", cwd=tmp_path)
    _one_line_exit_2(result, CLASH)
    assert not (tmp_path / "merged").exists()


# -- 5. merging edited results ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shards of an accept-everything verifier over goldens and signature vectors, failing on critical ones."""
    directory = tmp_path_factory.mktemp("shards")
    _script(directory / "accept.sh", ACCEPT)
    adapter = _adapter(directory, "accept.toml", 'mode = "oneshot"\ncommand = ["./accept.sh"]\n')
    for index in range(2):
        ran = hsmsim("conformance", "run", "--verifier", str(adapter), "--vectors", str(VECTORS), "--format", "primus",
                     "-k", "primus::golden::*", "-k", "primus::signature::*", "--fail-on", "critical",
                     "--shard", f"{index}/2", "--report", f"s{index}", cwd=directory)
        assert ran.returncode == 1, ran.stdout + ran.stderr  # critical signature vectors accepted
    return directory


def _edited(shards: Path, tmp_path: Path, edit: Callable[[dict[str, object]], None]) -> list[str]:
    copies = []
    for index in range(2):
        source = shards / f"s{index}" / "results" / "accept.json"
        data = json.loads(source.read_text())
        for result in data["results"]:
            edit(result)
        copy = tmp_path / f"s{index}.json"
        copy.write_text(json.dumps(data))
        copies.append(str(copy))
    return copies


def _merge(paths: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return hsmsim("conformance", "merge", *paths, "--vectors", str(VECTORS), "--report", "merged", cwd=tmp_path)


def test_merge_refuses_results_whose_severity_was_lowered_below_fail_on(shards, tmp_path):
    unedited = _merge(_edited(shards, tmp_path, lambda _result: None), tmp_path)
    assert unedited.returncode == 1, unedited.stdout + unedited.stderr  # critical vectors accepted
    (tmp_path / "merged").rename(tmp_path / "unedited")

    def edit(result: dict[str, object]) -> None:
        result["severity"] = "info"

    result = _merge(_edited(shards, tmp_path, edit), tmp_path)
    _one_line_exit_2(result, "the severity 'info', the corpus (--vectors) says")
    assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize(("field", "value"), [("severity", "high"), ("format", "luna"), ("category", "golden"),
                                              ("flags", ["Golden"])])
def test_merge_refuses_a_result_whose_corpus_fields_were_edited(shards, tmp_path, field, value):
    def edit(result: dict[str, object]) -> None:
        if str(result["id"]).startswith("primus::signature::"):
            result[field] = value

    result = _merge(_edited(shards, tmp_path, edit), tmp_path)
    _one_line_exit_2(result, f"the {field} {value!r}, the corpus (--vectors) says")
    assert "primus::signature::" in result.stderr and not (tmp_path / "merged").exists()


def test_merge_refuses_a_waived_outcome_without_its_waiver(shards, tmp_path):
    def edit(result: dict[str, object]) -> None:
        if result["outcome"] == "UNEXPECTED_ACCEPT":
            result["outcome"], result["waiver"] = "WAIVED", None

    result = _merge(_edited(shards, tmp_path, edit), tmp_path)
    _one_line_exit_2(result, "is WAIVED without the waiver it names")
    assert "primus::signature::" in result.stderr and not (tmp_path / "merged").exists()


# -- 6. the adapter's own PATH ---------------------------------------------------------------------------------------

def test_a_command_on_the_path_the_adapter_sets_is_found(tmp_path):
    _script(tmp_path / "bin" / "myverify", ACCEPT)
    adapter = _adapter(tmp_path, "path.toml", 'mode = "oneshot"\ncommand = ["myverify"]\n'
                                              'env = { PATH = "{here}/bin:/usr/bin:/bin" }\n')
    result = hsmsim("conformance", "run", "--verifier", str(adapter), *GOLDEN, "--report", "report", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "ran").exists()
    missing = _adapter(tmp_path, "missing.toml", 'mode = "oneshot"\ncommand = ["myverify"]\n'
                                                 'env = { PATH = "{here}/nothing:/usr/bin:/bin" }\n')
    refused = hsmsim("conformance", "run", "--verifier", str(missing), *GOLDEN, "--report", "r2", cwd=tmp_path)
    _one_line_exit_2(refused, "command 'myverify' is not on PATH")


# -- 7. a persistent verifier that exits between cases ---------------------------------------------------------------

def _results(report: Path, name: str) -> list[dict[str, str]]:
    return json.loads((report / "results" / f"{name}.json").read_text())["results"]  # type: ignore[no-any-return]


def test_a_verifier_that_exits_after_an_answer_is_restarted_not_blamed(tmp_path):
    _script(tmp_path / "once.py", ONCE)
    adapter = _adapter(tmp_path, "once.toml", 'name = "once"\nmode = "persistent"\ncommand = ["./once.py"]\n')
    result = hsmsim("conformance", "run", "--verifier", str(adapter), *GOLDEN, "--report", "report", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = [r["outcome"] for r in _results(tmp_path / "report", "once")]
    assert outcomes == ["PASS"] * 7


def test_a_verifier_that_exits_after_an_answer_past_max_restarts_is_an_error_saying_so(tmp_path):
    _script(tmp_path / "once.py", ONCE)
    adapter = _adapter(tmp_path, "once.toml", 'name = "once"\nmode = "persistent"\ncommand = ["./once.py"]\n'
                                              'max_restarts = 1\n')
    result = hsmsim("conformance", "run", "--verifier", str(adapter), *GOLDEN, "--report", "report", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    results = _results(tmp_path / "report", "once")
    assert [r["outcome"] for r in results] == ["PASS"] * 2 + ["ERROR"] * 5
    assert all(r["verdict"] != "CRASH" for r in results)
    third = results[2]["detail"]
    assert third.startswith("verifier not restarted: it died 2 times (max_restarts = 1); verifier process exited "
                            "with status 0 before"), third


# -- 8. a command template that cannot be filled in ------------------------------------------------------------------

@pytest.mark.parametrize(("argument", "problem"), [
    ("{file:}", "command: placeholder {file:...} needs a file name or suffix, e.g. {file:.csr}"),
    ("{primary:zip}", "command: unknown placeholder {primary:zip}; known: "),
])
def test_a_command_template_that_cannot_be_filled_in_is_a_usage_error_before_anything_runs(tmp_path, argument,
                                                                                          problem):
    """Refused when the adapter file is read: not at the first vector, after version_cmd (here: touch ./ran) ran."""
    _script(tmp_path / "accept.sh", ACCEPT)
    adapter = _adapter(tmp_path, "bad.toml", f'mode = "oneshot"\ncommand = ["./accept.sh", "{argument}"]\n'
                                             'version_cmd = ["./accept.sh"]\n')
    result = hsmsim("conformance", "run", "--verifier", str(adapter), *GOLDEN, "--report", "report", cwd=tmp_path)
    _one_line_exit_2(result, f"{adapter}: {problem}")
    assert not (tmp_path / "ran").exists() and not (tmp_path / "report").exists()


def test_merge_names_a_fifo_as_what_it_is_not(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    result = hsmsim("conformance", "merge", "pipe", "--vectors", str(VECTORS), "--report", "merged", cwd=tmp_path)
    _one_line_exit_2(result, "pipe is not a report directory or a results file")
