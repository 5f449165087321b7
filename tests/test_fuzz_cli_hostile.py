"""``hsmsim fuzz`` and ``hsmsim vectors promote`` against misuse and hostile verifiers: a refused command keeps what
the user had, a crashing verifier is restarted for the whole campaign, verifier text does not split findings, and a
failure to write is one line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from hsmsim._cli import cli
from hsmsim.fuzz import cli as fuzz_cli
from hsmsim.fuzz.engine import TargetAnswer, symptom

REPO = Path(__file__).resolve().parents[1]
LOOSE_PEM = REPO / "examples" / "verifiers" / "flawed-loose-pem.toml"

PERSISTENT = """
import json
import os
import sys
from pathlib import Path

CRASH_EVERY = {crash_every}
MARKER = {marker!r}
if MARKER and Path(MARKER).exists():
    sys.exit(3)  # once it has crashed, it never starts again
answered = 0
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        reply = {{"name": "hostile", "version": "1", "formats": [{claims!r}], "features": []}}
    elif "::golden::" in request["id"]:  # the campaign's golden probe
        reply = {{"id": request["id"], "verdict": "ACCEPT", "reason": None, "detail": ""}}
    else:
        answered += 1
        if CRASH_EVERY and answered % CRASH_EVERY == 0:
            if MARKER:
                Path(MARKER).write_text("crashed")
            os._exit(7)
        reply = {{"id": request["id"], "verdict": {verdict!r}, "reason": {reason!r},
                  "detail": f"parse error at offset {{answered * 7}}: bad"}}
    sys.stdout.write(json.dumps(reply) + "\\n")
    sys.stdout.flush()
"""


def persistent(tmp_path: Path, *, crash_every: int = 0, marker: str = "", claims: str = "primus",
               verdict: str = "REJECT", reason: str | None = "MALFORMED") -> Path:
    """A persistent verifier adapter in ``tmp_path``: accepts the golden probe, answers ``verdict`` to every case,
    exits with status 7 on every ``crash_every``-th case of a process, and (with ``marker``) cannot start again once
    it has crashed."""
    (tmp_path / "hostile.py").write_text(textwrap.dedent(PERSISTENT.format(
        crash_every=crash_every, marker=marker, claims=claims, verdict=verdict, reason=reason)))
    adapter = tmp_path / "hostile.toml"
    adapter.write_text('name = "hostile"\nmode = "persistent"\ncommand = ["{python}", "hostile.py"]\n'
                       'profile = "structural"\ntimeout_s = 5\n')
    return adapter


def hsmsim(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def earlier_campaign(out: Path) -> None:
    (out / "findings" / "differential-0123456789ab").mkdir(parents=True)
    (out / "findings" / "differential-0123456789ab" / "finding.json").write_text("{}")
    (out / "summary.json").write_text("{}")


# 1. --overwrite removes the earlier campaign only once the command is known to be valid

@pytest.mark.parametrize("misuse", ["shard", "format", "operator", "claims", "missing-verifier"])
def test_a_refused_overwrite_keeps_the_earlier_campaign(tmp_path, misuse):
    out = tmp_path / "keep"
    earlier_campaign(out)
    args = {"shard": ["--format", "primus", "--shard", "5/2"],
            "format": ["--format", "primsu"],
            "operator": ["--format", "primus", "--without-operator", "nosuch"],
            "claims": ["--format", "primus", "--verifier", str(persistent(tmp_path, claims="marvell-azure"))],
            "missing-verifier": ["--format", "primus", "--verifier", str(tmp_path / "nosuch.toml")]}[misuse]
    error = one_line_error(hsmsim("fuzz", *args, "--iterations", "5", "--out", str(out), "--overwrite"))
    assert error.startswith("hsmsim: error: ")
    assert (out / "summary.json").read_text() == "{}"
    assert [p.name for p in (out / "findings").iterdir()] == ["differential-0123456789ab"]


def test_a_valid_overwrite_replaces_the_earlier_campaign(tmp_path):
    out = tmp_path / "keep"
    earlier_campaign(out)
    done = hsmsim("fuzz", "--format", "primus", "--iterations", "3", "--seed", "s1", "--out", str(out), "--overwrite")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "summary.json").read_text())["executed"] + \
        json.loads((out / "summary.json").read_text())["skipped"] == 3
    assert not (out / "findings").exists()


# 2. a crashing verifier is restarted for the whole campaign; one that cannot start again ends it

def test_a_verifier_that_crashes_often_is_restarted_for_the_whole_campaign(tmp_path):
    adapter = persistent(tmp_path, crash_every=3)
    out = tmp_path / "out"
    done = hsmsim("fuzz", "--format", "primus", "--verifier", str(adapter), "--iterations", "90", "--seed", "s1",
                  "--out", str(out))
    assert done.returncode == 1, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    verdicts = summary["verdicts"]
    assert set(verdicts) == {"REJECT", "CRASH"}, verdicts  # no case answered for a verifier that was not asked
    assert verdicts["CRASH"] > 20  # past the adapter's default max_restarts
    assert verdicts["REJECT"] + verdicts["CRASH"] == summary["executed"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_verifier_that_cannot_be_started_again_stops_the_campaign(tmp_path, jobs):
    adapter = persistent(tmp_path, crash_every=4, marker=str(tmp_path / "crashed"))
    out = tmp_path / "out"
    done = hsmsim("fuzz", "--format", "primus", "--verifier", str(adapter), "--iterations", "40", "--seed", "s1",
                  "-j", jobs, "--out", str(out))
    error = one_line_error(done)
    assert "cannot be started again" in error and "exited before answering hello" in error, error
    assert not (out / "summary.json").exists()


def test_a_verifier_that_never_reads_a_request_stops_the_campaign(tmp_path):
    (tmp_path / "quitter.py").write_text(textwrap.dedent("""
        import json, sys
        sys.stdin.readline()
        print(json.dumps({"name": "quitter", "version": "1", "formats": ["primus"], "features": []}), flush=True)
    """))
    adapter = tmp_path / "quitter.toml"
    adapter.write_text('name = "quitter"\nmode = "persistent"\ncommand = ["{python}", "quitter.py"]\n'
                       'profile = "structural"\n')
    error = one_line_error(hsmsim("fuzz", "--format", "primus", "--verifier", str(adapter), "--iterations", "5",
                                  "--out", str(tmp_path / "out")))
    assert "dies before it reads a request" in error, error


# 3. the verifier's free text does not split robustness findings

def test_numbers_in_a_detail_do_not_split_a_robustness_symptom():
    reference = TargetAnswer("REJECT", "MALFORMED", "")
    shown = {symptom("robustness", TargetAnswer("ERROR", None, f"parse error at offset {n}: bad"), reference)
             for n in (630, 637, 0x1F)}
    assert len(shown) == 1
    ids = {symptom("robustness", TargetAnswer("ERROR", None, f"bad request 'primus::fuzz::case-{n}' {h}"), reference)
           for n, h in ((1, "0xdeadbeef"), (2, "0x7f00aa"))}
    assert len(ids) == 1
    kinds = {symptom("robustness", TargetAnswer("CRASH", None, f"{name}: offset 3"), reference)
             for name in ("ValueError", "KeyError")}
    assert len(kinds) == 2  # an exception's type still tells crashes apart
    long = symptom("robustness", TargetAnswer("ERROR", None, "x" * 5000), reference)
    assert len(long) < 200


def test_robustness_findings_are_one_per_operators_not_per_offset(tmp_path):
    adapter = persistent(tmp_path, verdict="ERROR", reason=None)
    out = tmp_path / "out"
    done = hsmsim("fuzz", "--format", "primus", "--verifier", str(adapter), "--iterations", "40", "--seed", "s1",
                  "--out", str(out))
    assert done.returncode == 1, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    keys = [finding["key"] for finding in summary["findings"]]
    assert keys and all(key.endswith("|parse error at offset #") for key in keys), keys
    assert len(keys) < summary["executed"]  # cases with the same operators (once minimised) are one finding


# 4. promote refuses a corpus it cannot regenerate before writing anything

@pytest.fixture(scope="module")
def finding(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("campaign") / "out"
    done = hsmsim("fuzz", "--format", "primus", "--verifier", str(LOOSE_PEM), "--iterations", "20", "--seed", "s1",
                  "--out", str(out))
    assert done.returncode == 1, done.stderr
    return next((out / "findings").iterdir())


@pytest.mark.parametrize("corpus", ["missing", "empty", "default"])
def test_promote_into_no_corpus_writes_nothing(tmp_path, finding, corpus):
    where = tmp_path / ("vectors" if corpus == "default" else corpus)
    if corpus == "empty":
        where.mkdir()
    given = [] if corpus == "default" else ["--vectors", str(where)]
    for _ in range(2):  # the second attempt is refused as the first was: nothing was left behind
        error = one_line_error(hsmsim("vectors", "promote", str(finding), *given, "--expect", "REJECT:MALFORMED",
                                      cwd=tmp_path))
        assert "holds no manifest.json" in error, error
        assert list(where.iterdir()) == [] if corpus == "empty" else not where.exists()


# 5. a campaign that cannot write its output says so on one line

def failed_run(*args: str) -> str:
    """The last stderr line of an in-process ``hsmsim`` run that must exit 2 (the live table comes before it)."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, (result.exception, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_a_campaign_that_cannot_write_its_output_fails_on_one_line(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("a regular file where --out's parent should be")
    monkeypatch.setattr(fuzz_cli, "check_output_directory", lambda *args, **kwargs: None)  # as if it changed later
    error = failed_run("fuzz", "--format", "primus", "--iterations", "2", "--seed", "s1",
                       "--out", str(tmp_path / "file" / "out"))
    assert error.startswith("hsmsim: error: cannot write the campaign to "), error


def test_a_finding_that_cannot_be_written_fails_on_one_line(tmp_path, monkeypatch):
    def refuse(*_args: object) -> Path:
        raise PermissionError(13, "Permission denied", str(tmp_path / "out" / "findings"))

    monkeypatch.setattr("hsmsim.fuzz.campaign.write_finding", refuse)
    error = failed_run("fuzz", "--format", "primus", "--verifier", str(LOOSE_PEM), "--iterations", "20",
                       "--seed", "s1", "--out", str(tmp_path / "out"))
    assert "cannot write the campaign to" in error and "Permission denied" in error and "0 written" in error, error
