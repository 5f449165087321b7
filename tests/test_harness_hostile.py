"""The conformance harness against hostile verifiers: strings that break reports and terminals, output floods,
processes that escape their group, and in-process verifiers that kill their worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from hsmsim._cli import cli
from hsmsim.harness.adapters import open_verifier
from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import Actual, Answer, CaseResult, Outcome
from hsmsim.harness.report import junit_xml, render_html, write_report
from hsmsim.harness.runner import RunOptions, run_conformance
from hsmsim.harness.vectors import load_corpus

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "vectors"
HOSTILE = ("lone \udc80 surrogate, C0 \x00\x01\x08\x0b\x1f\x7f, C1 \x9b, ANSI \x1b[2J\x1b[31mred\x1b[0m, "
           "bidi \u202e, \ufffe")
RAW_CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] + ["\u202e", "\ufffe"]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(VECTORS)


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          errors="surrogateescape")


def assert_clean(text: str, *, newlines: bool = False) -> None:
    """No control character, lone surrogate, bidi override or XML non-character survives."""
    allowed = {"\n"} if newlines else set()
    bad = sorted({c for c in text if (c in RAW_CONTROLS and c not in allowed) or 0xD800 <= ord(c) <= 0xDFFF})
    assert not bad, f"raw characters {bad!r} in output"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_dead(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


# -- strings a verifier may send -------------------------------------------------------------------

def test_answers_keep_no_raw_control_characters_and_are_capped():
    answer = Answer(Actual.REJECT, "CODE\x1b[5m" + "R" * 5000, HOSTILE * 1000)
    assert_clean(answer.detail)
    assert_clean(answer.reason or "")
    assert len(answer.detail) <= 400 and len(answer.reason or "") <= 200
    assert "\\x1b[31mred" in answer.detail and "\\udc80" in answer.detail, "escaped, not dropped"


def test_report_writers_take_any_verifier_string(corpus, tmp_path):
    """Writers escape on their own: results read back from a file never went through an Answer."""
    vector = corpus.get("primus::attr::extractable-true")
    expected, expected_reason = vector.expectation("structural")
    hostile = CaseResult(verifier="hostile\x1b", id=vector.id, format=vector.format, category=vector.category,
                         severity=vector.severity.value, expected=expected, expected_reason=expected_reason,
                         verdict=Actual.CRASH, reason="R\udc80", detail=HOSTILE * 3000, outcome=Outcome.CRASH,
                         duration_ms=1.0)
    config = load_adapter("python:hsmsim.harness.reference:verify")
    run = run_conformance([config], corpus, RunOptions(patterns=("primus::golden::rsa-3072",)))
    verifier = run.verifiers[0]
    verifier.results.append(hostile)
    run = replace(run, vectors=[*run.vectors, vector])
    paths = write_report(run, tmp_path / "report")
    junit = paths.junit.read_text(encoding="utf-8")
    ET.fromstring(junit.encode())  # well-formed XML 1.0
    assert_clean(junit, newlines=True)
    assert "\\x1b[31mred" in junit and len(junit) < 20_000, "escaped and capped"
    page = paths.html.read_text(encoding="utf-8")
    assert_clean(page, newlines=True)
    assert "\\udc80" in page and len(page) < 200_000
    json.loads(paths.results[0].read_text(encoding="utf-8"))
    assert junit_xml(run) == junit and render_html(run) == page


HOSTILE_MODULE = f"""
    import os
    from hsmsim.harness.reference import verify as reference

    HOSTILE = {HOSTILE!r}

    def hostile(request):
        if request.id == "primus::golden::rsa-3072":
            return reference(request)
        return {{"verdict": "ACCEPT", "reason": "OK\\x1b[5m", "detail": HOSTILE * 100}}

    def exit_on_extractable(request):
        if request.id == "primus::attr::extractable-true":
            os._exit(3)
        return reference(request)
"""


def test_cli_terminal_output_and_report_survive_a_hostile_python_verifier(tmp_path):
    write(tmp_path, "hostile.py", HOSTILE_MODULE)
    adapter = write(tmp_path, "hostile.toml", 'entry = "hostile.py:hostile"\nformats = ["primus"]\n'
                                              'version = "1.0\\u001b[2J"\n')
    report = tmp_path / "report"
    result = hsmsim("conformance", "run", "--verifier", str(adapter), "--vectors", str(VECTORS),
                    "-k", "primus::attr::extractable-true", "--report", str(report))
    assert result.returncode == 1, result.stderr
    assert_clean(result.stdout, newlines=True)
    assert_clean(result.stderr, newlines=True)
    assert "UNEXPECTED_ACCEPT primus::attr::extractable-true" in result.stdout
    assert "\\x1b[31mred" in result.stdout
    ET.fromstring((report / "junit.xml").read_bytes())
    assert "UNEXPECTED_ACCEPT" in (report / "index.html").read_text(encoding="utf-8")


# -- processes that misbehave ----------------------------------------------------------------------

def test_oneshot_output_is_capped_while_it_runs(tmp_path, corpus):
    config = load_adapter(write(tmp_path, "flood.toml", 'mode = "oneshot"\ncommand = ["yes", "{id}"]\ntimeout_s = 1\n'))
    with open_verifier(config) as live:
        start = time.monotonic()
        answer = live.verify(corpus.get("primus::golden::rsa-3072"))
        elapsed = time.monotonic() - start
        scratch = sum(f.stat().st_size for f in Path(live._workdir()).rglob("*") if f.is_file())
    assert answer.verdict is Actual.ERROR, answer
    assert "output" in answer.detail and "killed" in answer.detail
    assert elapsed < 0.9, "killed on overflow, not at the deadline"
    assert scratch < 1 << 20


ESCAPER = """
    import os, sys, time
    pidfile = sys.argv[1]
    if os.fork() == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        with open(pidfile + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.rename(pidfile + ".tmp", pidfile)
        time.sleep(300)
        os._exit(0)
    while not os.path.exists(pidfile):
        time.sleep(0.01)
    print("REJECT MALFORMED: left a daemon behind")
    sys.exit(1)
"""


def escaper(tmp_path: Path, mode: str, body: str, timeout: float):
    """An adapter running ``body`` as a Python script that writes its escaped child's pid into the returned file."""
    write(tmp_path, "escaper.py", body)
    pidfile = tmp_path / "escaped.pid"
    config = load_adapter(write(tmp_path, "escaper.toml", f'mode = "{mode}"\ntimeout_s = {timeout}\n'
                                f'command = ["{{python}}", "escaper.py", "{pidfile}"]\n'))
    return config, pidfile


def test_oneshot_children_that_call_setsid_are_killed(tmp_path, corpus):
    config, pidfile = escaper(tmp_path, "oneshot", ESCAPER, 10)
    pid = None
    try:
        with open_verifier(config) as live:
            answer = live.verify(corpus.get("primus::golden::rsa-3072"))
            pid = int(pidfile.read_text())
            assert (answer.verdict, answer.reason) == (Actual.REJECT, "MALFORMED")
            assert wait_dead(pid), f"escaped daemon {pid} still runs after the case"
    finally:
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


PERSISTENT_ESCAPER = """
    import json, os, sys, time
    pidfile = sys.argv[1]
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            if os.fork() == 0:
                os.setsid()
                with open(pidfile, "w") as fh:
                    fh.write(str(os.getpid()))
                time.sleep(300)
                os._exit(0)
            while not os.path.exists(pidfile):
                time.sleep(0.01)
            print(json.dumps({"formats": ["primus"]}), flush=True)
        else:
            time.sleep(300)
"""


def test_persistent_children_that_call_setsid_are_killed(tmp_path, corpus):
    config, pidfile = escaper(tmp_path, "persistent", PERSISTENT_ESCAPER, 0.5)
    live = open_verifier(config)
    live.start()
    pid = int(pidfile.read_text())
    try:
        assert live.verify(corpus.get("primus::golden::rsa-3072")).verdict is Actual.HANG
        assert wait_dead(pid), f"the hung verifier's escaped child {pid} outlived its kill"
    finally:
        live.close()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_an_in_process_verifier_that_exits_its_worker_is_one_crash(tmp_path, corpus):
    write(tmp_path, "hostile.py", HOSTILE_MODULE)
    config = load_adapter(write(tmp_path, "exits.toml", 'entry = "hostile.py:exit_on_extractable"\n'
                                                        'formats = ["primus"]\n'))
    run = run_conformance([config], corpus, RunOptions(jobs=2, patterns=("primus::attr::*",)))
    results = {r.id: r for r in run.verifiers[0].results}
    crashed = results.pop("primus::attr::extractable-true")
    assert (crashed.verdict, crashed.outcome) == (Actual.CRASH, Outcome.CRASH)
    assert "worker process exited with status 3" in crashed.detail
    assert {r.outcome for r in results.values()} == {Outcome.PASS}
    assert len(results) == len(corpus.select(patterns=("primus::attr::*",))) - 1 >= 10


def test_cli_worker_death_still_writes_the_report(tmp_path):
    write(tmp_path, "hostile.py", HOSTILE_MODULE)
    adapter = write(tmp_path, "exits.toml", 'entry = "hostile.py:exit_on_extractable"\nformats = ["primus"]\n')
    report = tmp_path / "report"
    result = hsmsim("conformance", "run", "--verifier", str(adapter), "--vectors", str(VECTORS),
                    "-k", "primus::attr::*", "-j", "2", "--report", str(report))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "CRASH primus::attr::extractable-true" in result.stdout
    document = json.loads((report / "results" / "exits.json").read_text())
    assert document["summary"]["CRASH"] == 1 and document["summary"]["PASS"] >= 10
    ET.fromstring((report / "junit.xml").read_bytes())


# -- bad input files: adapters, corpus, manifest, results, waivers (exit 2, one line) ----------------

DEEP_JSON = "[" * 100_000 + "]" * 100_000
REFERENCE = str(ROOT / "examples" / "verifiers" / "reference.toml")
GOLDEN = "primus::golden::rsa-2048"
ONESHOT = 'command = ["true"]\nmode = "oneshot"\n'


def refused(*args: str, message: str, subprocess_run: bool = False) -> None:
    """The CLI exits 2 with ``message`` on one line of stderr (a subprocess where a regression would block)."""
    if subprocess_run:
        done = subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=60)
        code, stderr = done.returncode, done.stderr
    else:
        result = CliRunner().invoke(cli, list(args))
        code, stderr = result.exit_code, result.stderr
    assert code == 2, stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert message in stderr, stderr


def run_args(tmp_path: Path, verifier: str, *extra: str) -> tuple[str, ...]:
    return ("conformance", "run", "--verifier", verifier, "-k", GOLDEN, "--report", str(tmp_path / "report"),
            "--vectors", str(VECTORS), *extra)


@pytest.mark.parametrize(("name", "body", "message"), [
    ("deep.json", DEEP_JSON, "deep.json nests too deeply to be read as JSON"),
    ("deep.toml", "a = " + "[" * 5000 + "]" * 5000, "deep.toml nests too deeply to be read as TOML"),
    ("deep2.toml", "a = " + "{b=" * 5000 + "1" + "}" * 5000, "deep2.toml nests too deeply to be read as TOML"),
    ("inf.toml", ONESHOT + 'timeout_s = inf', "timeout_s must be a number of seconds"),
    ("nan.toml", ONESHOT + 'timeout_s = nan', "timeout_s must be a number of seconds"),
    ("huge.toml", ONESHOT + 'timeout_s = 1e308', "at most 86400 (got 1e+308)"),
    ("bool.toml", ONESHOT + 'timeout_s = true', "(got True)"),
    ("hello.toml", 'command = ["true"]\nmode = "persistent"\nhello_timeout_s = inf', "hello_timeout_s must be"),
    ("profile.toml", ONESHOT + 'profile = "bogus"', "profile must be one of structural, strict (got 'bogus')"),
    ("envnul.toml", ONESHOT + 'env = {A = "x\\u0000y"}', "env holds a NUL character"),
    ("envkey.toml", ONESHOT + 'env = {"A=B" = "x"}', "env names must be non-empty"),
    ("argnul.toml", 'command = ["echo", "a\\u0000b"]\nmode = "oneshot"', "command holds a NUL character"),
    ("linenul.toml", 'command = "echo a\\u0000b"\nmode = "oneshot"', "command holds a NUL character"),
    ("waivers.toml", ONESHOT + 'waivers = "deep.json"', "cannot read waivers ({id: {expected, actual, reason}}): "),
    ("cwd.toml", ONESHOT + 'cwd = "a\\u0000b"', "cwd holds a NUL character"),
    ("version.toml", ONESHOT + 'version_cmd = ["a\\u0000"]', "version_cmd holds a NUL character"),
    ("restarts.toml", ONESHOT + 'max_restarts = true', "max_restarts must be a non-negative integer"),
    ("isolate.toml", 'entry = "m:f"\nmode = "python"\nisolate = "false"', "isolate must be true or false"),
    ("versionlist.toml", ONESHOT + 'version = [1, 2]', "version must be a string or a number"),
    ("description.toml", ONESHOT + 'description = {a = 1}', "description must be a string"),
    ("noformats.toml", ONESHOT + 'formats = []', "formats is empty"),
    ("cwdmissing.toml", ONESHOT + 'cwd = "nowhere"', "nowhere is not a directory"),
    ("noexec.toml", 'command = ["./deep.json"]\nmode = "oneshot"', "command './deep.json' is not an executable file"),
    ("direxec.toml", 'command = ["./"]\nmode = "persistent"', "command './' is not an executable file"),
    ("longname.toml", f'name = "{"n" * 300}"\n' + ONESHOT, "name must be a non-empty string of at most 100"),
])
def test_a_bad_adapter_file_is_one_line(tmp_path, name, body, message):
    (tmp_path / "deep.json").write_text(DEEP_JSON)
    (tmp_path / name).write_text(body)
    refused(*run_args(tmp_path, str(tmp_path / name)), message=message)


def test_an_adapter_file_is_read_bounded_and_never_blocks(tmp_path):
    big = tmp_path / "big.toml"
    with big.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    refused(*run_args(tmp_path, str(big)), message="big.toml is larger than 1048576 bytes")
    os.mkfifo(tmp_path / "fifo.toml")
    refused(*run_args(tmp_path, str(tmp_path / "fifo.toml")), message="fifo.toml is not a regular file",
            subprocess_run=True)
    os.mkfifo(tmp_path / "waivers.json")
    write(tmp_path, "w.toml", ONESHOT + 'waivers = "waivers.json"\n')
    refused(*run_args(tmp_path, str(tmp_path / "w.toml")), message="waivers.json is not a regular file",
            subprocess_run=True)


@pytest.mark.parametrize("value", ["inf", "nan", "1e308", "0"])
def test_a_timeout_that_is_not_a_finite_positive_number_is_refused(tmp_path, value):
    refused(*run_args(tmp_path, REFERENCE, "--timeout", value), message="--timeout must be a number of seconds")


def small_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(VECTORS / "primus_verify.json", root)
    return root


@pytest.mark.parametrize(("manifest", "message"), [
    ("[]", "manifest.json is not a JSON object"),
    (DEEP_JSON, "manifest.json nests too deeply to be read as JSON"),
])
def test_a_bad_corpus_manifest_is_one_line(tmp_path, manifest, message):
    root = small_corpus(tmp_path)
    (root / "manifest.json").write_text(manifest)
    for args in (("vectors", "list"), ("vectors", "show", GOLDEN), ("vectors", "check")):
        refused(*args, "--vectors", str(root), message=message)
    refused(*run_args(tmp_path, REFERENCE)[:-2], "--vectors", str(root), message=message)


def test_a_corpus_is_read_bounded_and_never_blocks(tmp_path):
    root = small_corpus(tmp_path)
    os.mkfifo(root / "manifest.json")
    refused("vectors", "list", "--vectors", str(root), message="manifest.json is not a regular file",
            subprocess_run=True)
    (root / "manifest.json").unlink()
    with (root / "fortanix_verify.json").open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    refused("vectors", "list", "--vectors", str(root), message="fortanix_verify.json is larger than 16777216 bytes")
    (root / "fortanix_verify.json").unlink()
    os.mkfifo(root / "fortanix_verify.json")
    for args in (("vectors", "list"), ("vectors", "show", GOLDEN), ("vectors", "extract", GOLDEN, str(tmp_path / "x"))):
        refused(*args, "--vectors", str(root), message="fortanix_verify.json is not a regular file",
                subprocess_run=True)


def test_bad_base64_in_a_vector_file_is_one_line(tmp_path):
    root = small_corpus(tmp_path)
    document = json.loads((root / "primus_verify.json").read_text())
    document["tests"][0]["inputs"]["files"][0]["base64"] = "!!!notbase64"
    (root / "primus_verify.json").write_text(json.dumps(document))
    vector_id = document["tests"][0]["id"]
    for args in (("vectors", "list"), ("vectors", "show", vector_id),
                 ("vectors", "extract", vector_id, str(tmp_path / "x"))):
        refused(*args, "--vectors", str(root), message="is not valid base64")
    refused(*run_args(tmp_path, REFERENCE)[:-2], "--vectors", str(root), message="is not valid base64")


@pytest.mark.parametrize(("body", "message"), [
    (DEEP_JSON, "results.json nests too deeply to be read as JSON"),
    ("[]", "not an object with a list of result objects under 'results'"),
    ('{"verifier": "v", "results": [1]}', "not an object with a list of result objects under 'results'"),
    ('{"verifier": "v", "results": [{"id": "a"}]}', "results.json is not a hsmsim conformance results file: "),
])
def test_a_bad_results_file_is_one_line(tmp_path, body, message):
    (tmp_path / "results.json").write_text(body)
    refused(*run_args(tmp_path, REFERENCE, "--previous", str(tmp_path / "results.json")), message=message)
    refused("conformance", "merge", str(tmp_path / "results.json"), "--report", str(tmp_path / "merged"),
            "--vectors", str(VECTORS), message=message)


def test_previous_results_lacking_a_member_name_it(tmp_path):
    (tmp_path / "results.json").write_text('{"verifier": "v", "results": [{}]}')
    refused(*run_args(tmp_path, REFERENCE, "--previous", str(tmp_path / "results.json")),
            message="results.json is not a hsmsim conformance results file: a member 'id' is missing")


def test_a_results_file_is_read_never_blocking(tmp_path):
    (tmp_path / "shard" / "results").mkdir(parents=True)
    os.mkfifo(tmp_path / "shard" / "results" / "x.json")
    refused(*run_args(tmp_path, REFERENCE, "--previous", str(tmp_path / "shard")),
            message="x.json is not a regular file", subprocess_run=True)
    refused("conformance", "merge", str(tmp_path / "shard"), "--report", str(tmp_path / "merged"),
            "--vectors", str(VECTORS), message="x.json is not a regular file", subprocess_run=True)


DEEP_PERSISTENT = """\
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        print(json.dumps({"formats": ["primus"]}) if sys.argv[1] == "verify" else '{"name":' + DEEP + '}',
              flush=True)
    else:
        print('{"id":' + json.dumps(request["id"]) + ',"verdict":"ACCEPT","detail":' + DEEP + '}', flush=True)
"""


def test_a_persistent_verifier_answering_deep_json_is_an_error_and_the_run_goes_on(tmp_path, corpus):
    (tmp_path / "deep.py").write_text(f"DEEP = {DEEP_JSON!r}\n" + DEEP_PERSISTENT)
    config = load_adapter(write(tmp_path, "deep.toml", 'mode = "persistent"\n'
                                                       'command = ["{python}", "deep.py", "verify"]\n'))
    with open_verifier(config) as live:
        first, second = (live.verify(corpus.get(GOLDEN)) for _ in range(2))
    assert first.verdict is second.verdict is Actual.ERROR
    assert "answered JSON that nests too deeply to read" in first.detail
    hello = write(tmp_path, "hello.toml", 'mode = "persistent"\ncommand = ["{python}", "deep.py", "hello"]\n')
    refused(*run_args(tmp_path, str(hello)), message="hello: answered JSON that nests too deeply to read")


HELLO_MODULE = """\
def deep(request):
    detail = {}
    for _ in range(100_000):
        detail = {"a": detail}
    return {"verdict": "ACCEPT", "detail": detail}

def nested(request):
    value = []
    for _ in range(100_000):
        value = [value]
    return value

def missing():
    import hsmsim_no_such_library  # noqa: F401

def weird():
    return {"formats": 123}
"""


def test_a_python_verifier_returning_deep_values_is_an_error(tmp_path, corpus):
    write(tmp_path, "mod.py", HELLO_MODULE)
    for function, detail in (("deep", "nests too deeply to read"), ("nested", "returned a list that nests too deeply")):
        config = load_adapter(write(tmp_path, f"{function}.toml", f'entry = "mod.py:{function}"\n'))
        with open_verifier(config) as live:
            answer = live.verify(corpus.get(GOLDEN))
        assert answer.verdict is Actual.ERROR and detail in answer.detail


@pytest.mark.parametrize(("hello", "message"), [
    ("missing", "hello mod.py:missing raised ModuleNotFoundError: No module named 'hsmsim_no_such_library'"),
    ("weird", "hello formats must be a list of strings"),
])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_python_hello_that_raises_or_misanswers_is_one_line(tmp_path, hello, message, jobs):
    write(tmp_path, "mod.py", HELLO_MODULE)
    adapter = write(tmp_path, "a.toml", f'entry = "mod.py:deep"\nhello = "mod.py:{hello}"\n')
    refused(*run_args(tmp_path, str(adapter), "-j", jobs), message=f"a: {message}")


def test_the_shim_answers_error_for_inputs_it_cannot_read_and_keeps_serving(tmp_path):
    (tmp_path / "accepting.py").write_text("def verify(request):\n    return 'ACCEPT'\n")
    (tmp_path / "anchors").mkdir()
    (tmp_path / "e.bin").write_bytes(b"evidence")
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would wait for a writer
    with (tmp_path / "huge").open("wb") as fh:
        fh.truncate(80 * 1024 * 1024)  # sparse: past the 16 MiB an evidence file may hold

    def request(vector_id: str, evidence: Path) -> str:
        inputs = {"files": {"e.bin": str(evidence)}, "anchors_dir": str(tmp_path / "anchors"),
                  "primary": str(tmp_path / "e.bin"), "dir": str(tmp_path), "time": "2025-01-01T00:00:00+00:00"}
        return json.dumps({"op": "verify", "id": vector_id, "format": "primus", "inputs": inputs})

    lines = [request("fifo", tmp_path / "fifo"), request("huge", tmp_path / "huge"), '{"op": "verify", "id": "bad"}',
             request("fine", tmp_path / "e.bin")]
    done = subprocess.run([sys.executable, "-m", "hsmsim.harness.shim", "accepting:verify", "--pythonpath",
                           str(tmp_path)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["verdict"]) for r in replies] == [("fifo", "ERROR"), ("huge", "ERROR"), ("bad", "ERROR"),
                                                          ("fine", "ACCEPT")]
    assert "is not a regular file" in replies[0]["detail"]
    assert "larger than 16777216 bytes" in replies[1]["detail"]
    assert replies[2]["detail"] == "malformed verify request: KeyError: 'inputs'"


def test_a_hello_that_claims_no_format_is_one_line(tmp_path):
    (tmp_path / "empty.py").write_text("def hello():\n    return {'formats': []}\n\ndef verify(request):\n"
                                       "    return 'ACCEPT'\n")
    adapter = tmp_path / "empty.toml"
    adapter.write_text('mode = "python"\nentry = "empty.py:verify"\nhello = "empty.py:hello"\n')
    refused(*run_args(tmp_path, str(adapter)), message="hello formats is empty: the verifier claims no format")


def test_a_bad_previous_is_refused_before_the_run(tmp_path):
    (tmp_path / "prev").mkdir()
    (tmp_path / "prev" / "results.json").write_text("[]")
    adapter = tmp_path / "slow.toml"
    adapter.write_text('command = ["sh", "-c", "sleep 30"]\nmode = "oneshot"\nformats = ["*"]\n')
    start = time.monotonic()
    refused(*run_args(tmp_path, str(adapter)), "--previous", str(tmp_path / "prev"), message="prev")
    assert time.monotonic() - start < 20, "refused only after the (hanging) run"


def test_jobs_are_capped():
    refused("conformance", "run", "-j", "1000", "--verifier", "x.toml", message="1000 is not in the range",
            subprocess_run=True)


def test_here_is_the_adapter_files_directory_whatever_the_cwd(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    adapter = tmp_path / "here.toml"
    adapter.write_text('mode = "oneshot"\ncwd = "elsewhere"\nenv = {WHERE = "{here}"}\n'
                       f'command = ["sh", "-c", "test \\"$WHERE\\" = \'{tmp_path}\' && echo ACCEPT"]\n')
    done = CliRunner().invoke(cli, list(run_args(tmp_path, str(adapter))))
    assert done.exit_code == 0, done.output


STOPS_READING = """
import fcntl, json, os, time
fcntl.fcntl(0, 1031, 4096)  # F_SETPIPE_SZ: one page of stdin
buffered = b""
def request():
    global buffered
    while b"\\n" not in buffered:
        buffered += os.read(0, 1)
    line, _, buffered = buffered.partition(b"\\n")
    return json.loads(line)
request()
os.write(1, b'{"formats": ["primus"], "version": "1"}\\n')
os.write(1, (json.dumps({"id": request()["id"], "verdict": "ACCEPT"}) + "\\n").encode())  # the sanity probe
time.sleep(120)  # and never reads again
"""


def test_a_persistent_verifier_that_stops_reading_is_a_hang_not_a_blocked_harness(tmp_path):
    (tmp_path / "stops.py").write_text(textwrap.dedent(STOPS_READING))
    adapter = tmp_path / "stops.toml"
    adapter.write_text(f'mode = "persistent"\ncommand = ["{sys.executable}", "stops.py"]\ntimeout_s = 2\n')
    long_tmp = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200)  # a request longer than the verifier's pipe
    long_tmp.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "hsmsim", "conformance", "run", "--verifier", str(adapter),
                           "-k", "primus::attr::creation-imported", "--vectors", str(VECTORS),
                           "--report", str(tmp_path / "report")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(long_tmp)})
    assert done.returncode == 1, done.stderr
    assert "got HANG - no answer within 2 s" in done.stdout


def test_a_corpus_is_bounded_in_all(tmp_path):
    root = small_corpus(tmp_path)
    for index in range(9):  # sparse: 9 x 15 MiB, each under the file limit, past the corpus's
        with (root / f"x{index}_verify.json").open("wb") as handle:
            handle.truncate(15 * 1024 * 1024)
    refused("vectors", "list", "--vectors", str(root), message="(at most 134217728 in all)")


FLIPS_PROFILE = """
import json, os, sys
marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "started")
profile = "strict" if os.path.exists(marker) else "structural"  # the first start (the parent's) says structural
open(marker, "a").close()
for line in sys.stdin:
    request = json.loads(line)
    if request.get("op") == "hello":
        print(json.dumps({"formats": ["primus"], "version": "1", "profile": profile}), flush=True)
    else:
        print(json.dumps({"id": request["id"], "verdict": "ACCEPT"}), flush=True)
"""


def test_workers_judge_with_the_hello_the_report_records(tmp_path):
    (tmp_path / "flips.py").write_text(textwrap.dedent(FLIPS_PROFILE))
    adapter = tmp_path / "flips.toml"
    adapter.write_text(f'mode = "persistent"\ncommand = ["{sys.executable}", "flips.py"]\n')
    done = CliRunner().invoke(cli, ["conformance", "run", "--verifier", str(adapter), "-j", "2",
                                    "-k", "primus::golden::*", "--vectors", str(VECTORS),
                                    "--report", str(tmp_path / "report")])
    results = json.loads((tmp_path / "report" / "results" / "flips.json").read_text())
    assert results["profile"] == "structural", done.output
    golden = next(r for r in results["results"] if r["id"] == GOLDEN)  # strict expects it rejected (KEY_POLICY)
    assert (golden["expected"], golden["outcome"]) == ("valid", "PASS"), golden


def test_a_report_is_never_written_through_a_results_symlink(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.json").write_text("{}")
    report = tmp_path / "report"
    report.mkdir()
    (report / "results").symlink_to(elsewhere, target_is_directory=True)
    refused("conformance", "run", "--verifier", str(ROOT / "examples" / "verifiers" / "reference.toml"),
            "-k", GOLDEN, "--vectors", str(VECTORS), "--report", str(report), "--overwrite",
            message="is not a directory of the report (a symlink?)")
    assert [p.name for p in elsewhere.iterdir()] == ["precious.json"]
