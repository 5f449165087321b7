"""The conformance harness core: adapter files, placeholders, judging, waivers, the three adapter modes, the runner."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from hsmsim.harness.adapters import VerifierStartError, expand, open_verifier
from hsmsim.harness.config import AdapterConfigError, adapter_from_mapping, load_adapter
from hsmsim.harness.model import Actual, Answer, Outcome
from hsmsim.harness.runner import RunOptions, Session, classify, run_conformance
from hsmsim.harness.vectors import load_corpus, materialise
from hsmsim.harness.waivers import Waiver, WaiverError, apply_waiver, parse_waivers
from hsmsim.model.vectors import Expected

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "vectors"
REFERENCE = "python:hsmsim.harness.reference:verify"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(VECTORS)


def adapter(tmp_path: Path, body: str, name: str = "adapter.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return load_adapter(path)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


# -- adapter files -------------------------------------------------------------------------------

def test_toml_and_json_adapter_files(tmp_path):
    toml = adapter(tmp_path, """
        mode = "oneshot"
        command = ["bash", "verify.sh", "{primary}"]
        formats = ["primus"]
        profile = "strict"
        timeout_s = 2.5
        [waivers."primus::attr::extractable-true"]
        expected = "REJECT ATTR_EXTRACTABLE"
        actual = "ACCEPT"
        reason = "we do not read attributes yet"
    """, "walk.toml")
    assert (toml.name, toml.mode, toml.command, toml.formats, toml.profile, toml.timeout_s) == (
        "walk", "oneshot", ("bash", "verify.sh", "{primary}"), ("primus",), "strict", 2.5)
    assert toml.cwd == str(tmp_path.resolve())
    assert toml.waivers["primus::attr::extractable-true"].actual == "ACCEPT"
    (tmp_path / "waivers.json").write_text(json.dumps({"primus::x::y": {
        "expected": "ACCEPT", "actual": "REJECT", "reason": "bug 12", "bug_url": "https://example.invalid/12"}}))
    (tmp_path / "p.json").write_text(json.dumps({"name": "p", "mode": "persistent", "command": "node v.js --x 'a b'",
                                                 "waivers": "waivers.json"}))
    persistent = load_adapter(tmp_path / "p.json")
    assert persistent.command == ("node", "v.js", "--x", "a b")
    assert persistent.formats is None and persistent.waivers["primus::x::y"].bug_url
    spec = load_adapter(REFERENCE)
    assert (spec.mode, spec.entry, spec.name) == ("python", "hsmsim.harness.reference:verify", "reference")


@pytest.mark.parametrize(("data", "message"), [
    ({"mode": "oneshot"}, "needs a command"),
    ({"mode": "python", "entry": "nocolon"}, "module:function"),
    ({"mode": "batch", "command": ["x"]}, "mode must be one of"),
    ({"mode": "oneshot", "command": ["x"], "timeout": 3}, "unknown key(s) timeout"),
    ({"mode": "oneshot", "command": ["x"], "timeout_s": -1}, "above 0"),
])
def test_bad_adapter_files_are_one_line_errors(tmp_path, data, message):
    with pytest.raises(AdapterConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        adapter_from_mapping(data, base=tmp_path, default_name="x", origin="x.toml")


def test_waivers_need_a_reason():
    with pytest.raises(WaiverError, match="lacks reason"):
        parse_waivers({"a::b::c": {"expected": "REJECT", "actual": "ACCEPT"}}, "w.json")
    with pytest.raises(WaiverError, match="not one of"):
        parse_waivers({"a::b::c": {"expected": "REJECT", "actual": "MAYBE", "reason": "x"}}, "w.json")


def test_missing_adapter_file_is_an_hsmsim_error(tmp_path):
    with pytest.raises(AdapterConfigError, match="adapter file: cannot read"):
        load_adapter(tmp_path / "nope.toml")


# -- placeholders --------------------------------------------------------------------------------

def test_placeholders_name_every_native_file(corpus):
    vector = corpus.get("primus::binding::csr-missing")
    with materialise(vector, "structural") as inputs:
        argv = expand(("{{x}}", "{primary}", "{dir}", "{file:.zip}", "{file:.csr}", "{file:hsm_rsa_root.crt}",
                       "{anchor}", "{anchors_dir}", "{time}", "{unix_time}", "{profile}", "{id}", "{format}",
                       "--at={time}"), inputs, {"python": sys.executable, "here": "."})
        assert argv[0] == "{x}"
        assert Path(argv[1]).name == vector.inputs.primary and Path(argv[1]).parent == Path(argv[2])
        assert argv[3] == argv[1]
        assert not Path(argv[4]).exists() and Path(argv[4]).parent == Path(argv[2]), "missing CSR: a path to nothing"
        assert Path(argv[5]).read_bytes().startswith(b"-----BEGIN CERTIFICATE")
        assert Path(argv[6]).read_text().count("BEGIN CERTIFICATE") == len(vector.trust.anchors)
        assert sorted(p.name for p in Path(argv[7]).iterdir()) == ["anchor-1.pem"]
        assert argv[8:13] == ["2026-01-01T00:00:00Z", "1767225600", "structural", vector.id, "primus"]
        assert argv[13] == "--at=2026-01-01T00:00:00Z"
        assert sorted(p.name for p in Path(argv[2]).iterdir()) == sorted(f.path for f in vector.inputs.files)
        with pytest.raises(AdapterConfigError, match="unknown placeholder"):
            expand(("{nonsense}",), inputs, {})
    assert not Path(argv[2]).exists(), "the case directory is removed afterwards"


# -- judging -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expected", "reason", "answer", "outcome"), [
    (Expected.VALID, "OK", Answer(Actual.ACCEPT), Outcome.PASS),
    (Expected.VALID, "OK", Answer(Actual.REJECT, "MALFORMED"), Outcome.UNEXPECTED_REJECT),
    (Expected.INVALID, "ATTR_EXTRACTABLE", Answer(Actual.ACCEPT), Outcome.UNEXPECTED_ACCEPT),
    (Expected.INVALID, "ATTR_EXTRACTABLE", Answer(Actual.REJECT, "ATTR_EXTRACTABLE"), Outcome.PASS),
    (Expected.INVALID, "ATTR_EXTRACTABLE", Answer(Actual.REJECT, "MALFORMED"), Outcome.WRONG_REASON),
    (Expected.INVALID, "ATTR_EXTRACTABLE", Answer(Actual.REJECT, "attributes"), Outcome.PASS),
    (Expected.INVALID, "ATTR_EXTRACTABLE", Answer(Actual.REJECT), Outcome.PASS),
    (Expected.ACCEPTABLE, "KEY_POLICY", Answer(Actual.ACCEPT), Outcome.PASS),
    (Expected.ACCEPTABLE, "KEY_POLICY", Answer(Actual.REJECT, "MALFORMED"), Outcome.PASS),
    (Expected.INVALID, "MALFORMED", Answer(Actual.HANG), Outcome.HANG),
    (Expected.INVALID, "MALFORMED", Answer(Actual.CRASH), Outcome.CRASH),
    (Expected.VALID, "OK", Answer(Actual.ERROR), Outcome.ERROR),
    (Expected.VALID, "OK", Answer(Actual.SKIPPED), Outcome.SKIPPED),
])
def test_classify(expected, reason, answer, outcome):
    assert classify(expected, reason, answer) is outcome


def test_waiver_matching_and_xpass():
    waiver = Waiver("a::b::c", "REJECT ATTR_EXTRACTABLE", "ACCEPT", "known: attributes unchecked")
    invalid = (Expected.INVALID, "ATTR_EXTRACTABLE")
    assert apply_waiver(Outcome.UNEXPECTED_ACCEPT, waiver, *invalid, Actual.ACCEPT, None) == (
        Outcome.WAIVED, "known: attributes unchecked")
    outcome, note = apply_waiver(Outcome.PASS, waiver, *invalid, Actual.REJECT, "ATTR_EXTRACTABLE")
    assert outcome is Outcome.XPASS and "passes now" in note
    outcome, note = apply_waiver(Outcome.HANG, waiver, *invalid, Actual.HANG, None)
    assert outcome is Outcome.HANG and "stale waiver" in note
    reason_waiver = Waiver("a::b::c", "REJECT", "REJECT MALFORMED", "parser first")
    assert apply_waiver(Outcome.WRONG_REASON, reason_waiver, *invalid, Actual.REJECT, "MALFORMED")[0] is Outcome.WAIVED
    assert apply_waiver(Outcome.WRONG_REASON, reason_waiver, *invalid, Actual.REJECT, "ATTR_MISSING")[0] \
        is Outcome.XPASS
    assert apply_waiver(Outcome.SKIPPED, waiver, *invalid, Actual.SKIPPED, None) == (Outcome.SKIPPED, None)


def test_baseline_waives_every_anomaly_and_nothing_else(corpus, tmp_path):
    from hsmsim.harness.runner import judge
    from hsmsim.harness.waivers import baseline, load_waivers, waivers_json

    config = load_adapter(REFERENCE)
    info = Session(corpus, [config]).info(config.name)
    invalid = [v for v in corpus.vectors if v.expectation("structural")[0] is Expected.INVALID
               and v.expectation("structural")[1] != "MALFORMED"][:4]
    valid = [v for v in corpus.vectors if v.expectation("structural")[0] is Expected.VALID][:2]
    answers = [(invalid[0], Answer(Actual.ACCEPT)), (invalid[1], Answer(Actual.REJECT, "MALFORMED")),
               (invalid[2], Answer(Actual.HANG)), (invalid[3], Answer(Actual.SKIPPED)),
               (valid[0], Answer(Actual.REJECT, "chain: free text that varies")), (valid[1], Answer(Actual.ACCEPT))]
    results = [judge(vector, info, answer, {}) for vector, answer in answers]
    assert [r.outcome for r in results] == [Outcome.UNEXPECTED_ACCEPT, Outcome.WRONG_REASON, Outcome.HANG,
                                            Outcome.SKIPPED, Outcome.UNEXPECTED_REJECT, Outcome.PASS]
    written = baseline(results, {})
    assert list(written) == sorted(r.id for r in results if r.outcome not in (Outcome.PASS, Outcome.SKIPPED))
    assert written[invalid[1].id].actual == "REJECT MALFORMED", "a reason code is recorded"
    assert written[valid[0].id].actual == "REJECT", "free text is not"
    (tmp_path / "baseline.json").write_text(waivers_json(written))
    reread = load_waivers(tmp_path / "baseline.json")
    assert reread == written
    again = [judge(vector, info, answer, reread).outcome for vector, answer in answers]
    assert again == [Outcome.WAIVED, Outcome.WAIVED, Outcome.WAIVED, Outcome.SKIPPED, Outcome.WAIVED, Outcome.PASS]
    kept = baseline([judge(invalid[0], info, answers[0][1], reread)], reread)
    assert kept == {invalid[0].id: written[invalid[0].id]}, "a waived case keeps its waiver"


# -- python mode ---------------------------------------------------------------------------------

PY_VERIFIERS = """
    import time
    from hsmsim.harness.reference import verify as reference

    def boom(request):
        raise ZeroDivisionError("bad luck")

    def sleepy(request):
        time.sleep(30)

    def not_a_verdict(request):
        return 42

    CALLS = []

    def sleepy_once(request):
        CALLS.append(1)
        if len(CALLS) == 1:
            time.sleep(30)
        return {"verdict": "REJECT", "reason": "MALFORMED", "detail": f"call {len(CALLS)}"}

    def reject_all(request):
        return {"verdict": "REJECT", "reason": "MALFORMED", "detail": "I reject everything"}

    def skip_all(request):
        return {"verdict": "SKIPPED", "detail": "not implemented yet"}

    def skip_mutations(request):
        return reference(request) if "::golden::" in request.id else {"verdict": "SKIPPED"}

    def wrong_reason(request):
        verdict = reference(request)
        return verdict if verdict.accepted else "REJECT MALFORMED"
"""


def test_python_exception_is_crash_and_sleep_is_hang(tmp_path, corpus):
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    vector = corpus.get("primus::golden::rsa-3072")
    for function, verdict, detail in (("boom", Actual.CRASH, "ZeroDivisionError: bad luck at pyv.py:"),
                                      ("sleepy", Actual.HANG, "no verdict within 0.3 s"),
                                      ("not_a_verdict", Actual.ERROR, "returned int 42")):
        config = adapter(tmp_path, f'entry = "pyv.py:{function}"\nformats = ["primus"]\ntimeout_s = 0.3\n')
        with open_verifier(config) as live:
            start = time.monotonic()
            answer = live.verify(vector)
            assert time.monotonic() - start < 2
        assert answer.verdict is verdict and detail in answer.detail, answer


def test_python_call_after_a_hang_runs_on_a_fresh_thread(tmp_path, corpus):
    """The thread stuck in an abandoned call is not reused: the next vector still gets its verdict."""
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    vector = corpus.get("primus::golden::rsa-3072")
    config = adapter(tmp_path, 'entry = "pyv.py:sleepy_once"\nformats = ["primus"]\ntimeout_s = 0.3\n')
    with open_verifier(config) as live:
        assert live.verify(vector).verdict is Actual.HANG
        answers = [live.verify(vector) for _ in range(3)]
    assert [(a.verdict, a.detail) for a in answers] == [(Actual.REJECT, f"call {n}") for n in (2, 3, 4)], answers


def test_isolated_python_verifier_is_killed_on_hang(tmp_path, corpus):
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    config = adapter(tmp_path, 'entry = "pyv.py:sleepy"\nisolate = true\nformats = ["primus"]\ntimeout_s = 0.5\n')
    with open_verifier(config) as live:
        answer = live.verify(corpus.get("primus::golden::rsa-3072"))
        assert answer.verdict is Actual.HANG and "process killed" in answer.detail
    config = adapter(tmp_path, 'entry = "pyv.py:reject_all"\nisolate = true\nformats = ["primus"]\n')
    with open_verifier(config) as live:
        answer = live.verify(corpus.get("primus::golden::rsa-3072"))
        assert (answer.verdict, answer.reason) == (Actual.REJECT, "MALFORMED")


def test_isolated_python_verifier_may_print(tmp_path, corpus):
    """What an isolated function prints (at import, in hello, per case; Python or C on file descriptor 1) goes to
    standard error, as in-process, and it reads an empty stdin: the shim's stdin and stdout carry only the protocol."""
    script(tmp_path, "chatty.py", """
        import os
        import sys
        print("importing")
        os.write(1, b"raw at import\\n")

        def hello():
            print("saying hello")
            return {"formats": ["primus"]}

        def verify(request):
            print("verifying", request.id)
            os.write(1, b"raw per case\\n")
            return {"verdict": "REJECT", "reason": "MALFORMED", "detail": f"chatty, read {sys.stdin.read()!r}"}
    """)
    config = adapter(tmp_path, 'entry = "chatty.py:verify"\nhello = "chatty:hello"\npythonpath = ["."]\n'
                               'isolate = true\n')
    with open_verifier(config) as live:
        answers = [live.verify(corpus.get(f"primus::golden::{name}")) for name in ("rsa-3072", "ec-p256")]
    expected = (Actual.REJECT, "MALFORMED", "chatty, read ''")
    assert [(a.verdict, a.reason, a.detail) for a in answers] == [expected] * 2, answers


# -- oneshot mode --------------------------------------------------------------------------------

def test_oneshot_exit_codes(tmp_path, corpus):
    script(tmp_path, "v.sh", """
        case "$2" in
          *rsa-3072) echo "checked $(basename "$1")"; echo ACCEPT; exit 0;;
          *rsa-4096) echo "REJECT SIGNATURE_INVALID: because"; exit 1;;
          *ec-p256) echo "REJECT chain"; exit 1;;
          *ec-p384) echo "oops" >&2; exit 3;;
          *ed25519) kill -SEGV $$;;
          *aes-256) sleep 30;;
        esac
    """)
    config = adapter(tmp_path, 'mode = "oneshot"\ncommand = ["bash", "v.sh", "{file:.zip}", "{id}"]\n'
                               'formats = ["primus"]\ntimeout_s = 0.5\n')
    expected = {"rsa-3072": (Actual.ACCEPT, None), "rsa-4096": (Actual.REJECT, "SIGNATURE_INVALID"),
                "ec-p256": (Actual.REJECT, "chain"), "ec-p384": (Actual.ERROR, None),
                "ed25519": (Actual.CRASH, None), "aes-256": (Actual.HANG, None)}
    with open_verifier(config) as live:
        for name, (verdict, reason) in expected.items():
            answer = live.verify(corpus.get(f"primus::golden::{name}"))
            assert (answer.verdict, answer.reason) == (verdict, reason), (name, answer)
            if verdict is Actual.CRASH:
                assert "SIGSEGV" in answer.detail
            if verdict is Actual.ERROR:
                assert "exit status 3" in answer.detail and "oops" in answer.detail


def test_oneshot_status_detail_without_output_ends_with_the_status(tmp_path, corpus):
    script(tmp_path, "quiet.sh", """
        case "$1" in
          *rsa-3072) kill -SEGV $$;;
          *rsa-4096) exit 3;;
          *) exit 134;;
        esac
    """)
    config = adapter(tmp_path, 'mode = "oneshot"\ncommand = ["bash", "quiet.sh", "{id}"]\nformats = ["primus"]\n')
    with open_verifier(config) as live:
        details = [live.verify(corpus.get(f"primus::golden::{name}")).detail
                   for name in ("rsa-3072", "rsa-4096", "ec-p256")]
    assert details == ["killed by SIGSEGV", "exit status 3 (0 = ACCEPT, 1 = REJECT)",
                       "exit status 134 (SIGABRT in the command's child)"]


def test_oneshot_missing_program_fails_at_start(tmp_path):
    config = adapter(tmp_path, 'mode = "oneshot"\ncommand = ["./nope.sh", "{primary}"]\n')
    with pytest.raises(AdapterConfigError, match="does not exist"):
        open_verifier(config).start()


# -- persistent mode -----------------------------------------------------------------------------

PERSISTENT = """
    import json, os, sys, time
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            print(json.dumps({"name": "t", "version": "9.9", "formats": ["primus"], "features": ["f1"]}), flush=True)
            continue
        vid = request["id"]
        assert os.path.exists(request["inputs"]["primary"]) and os.path.exists(request["inputs"]["anchor"])
        if vid.endswith("rsa-4096"):
            os.kill(os.getpid(), 9)
        if vid.endswith("ec-p256"):
            time.sleep(30)
        if vid.endswith("ec-p384"):
            print("this is not json", flush=True)
            continue
        if vid.endswith("ed25519"):
            print(json.dumps({"id": "someone-else", "verdict": "ACCEPT"}), flush=True)
            continue
        answer = json.dumps({"id": vid, "verdict": "ACCEPT", "reason": None, "detail": f"pid {os.getpid()}"})
        if vid.endswith("rsa-2048"):  # two lines at once
            print(answer + "\\n" + answer, flush=True)
            continue
        print(answer, flush=True)
        if vid.endswith("aes-256"):  # and again, after the harness took the first
            time.sleep(0.3)
            print(answer, flush=True)
"""


def test_persistent_restarts_after_crash_hang_and_garbage(tmp_path, corpus):
    script(tmp_path, "server.py", PERSISTENT)
    config = adapter(tmp_path, 'mode = "persistent"\ncommand = ["{python}", "server.py"]\ntimeout_s = 1\n')
    live = open_verifier(config)
    info = live.start()
    assert (info.version, info.formats, info.features) == ("9.9", ("primus",), ("f1",))
    try:
        golden = corpus.get("primus::golden::rsa-3072")
        first = live.verify(golden)
        assert first.verdict is Actual.ACCEPT
        cases = {"rsa-4096": (Actual.CRASH, "killed by SIGKILL"), "ec-p256": (Actual.HANG, "no answer within 1 s"),
                 "ec-p384": (Actual.ERROR, "not JSON"), "ed25519": (Actual.ERROR, "answered id 'someone-else'")}
        for name, (verdict, detail) in cases.items():
            answer = live.verify(corpus.get(f"primus::golden::{name}"))
            assert answer.verdict is verdict and detail in answer.detail, (name, answer)
            again = live.verify(golden)
            assert again.verdict is Actual.ACCEPT, f"restarted after {name}"
        assert again.detail != first.detail, "a new process (new pid) answers after the restarts"
        assert live.restarts == 4
        twice = live.verify(corpus.get("primus::golden::rsa-2048"))
        assert (twice.verdict, twice.detail) == (Actual.ERROR, "answered this request with more than one line "
                                                               "(process restarted)")
        assert live.verify(corpus.get("primus::golden::aes-256")).verdict is Actual.ACCEPT
        time.sleep(0.6)  # the second answer is written meanwhile: the next request reads it first
        late = live.verify(golden)
        assert (late.verdict, late.detail) == (Actual.ERROR, "answered the previous request "
                                                             "('primus::golden::aes-256') a second time (process "
                                                             "restarted)")
        assert live.verify(golden).verdict is Actual.ACCEPT
        assert live.restarts == 6
    finally:
        live.close()


def test_persistent_hello_failure_is_a_start_error(tmp_path):
    script(tmp_path, "dead.py", "import sys\nsys.stderr.write('no licence key\\n')\nsys.exit(4)\n")
    config = adapter(tmp_path, 'mode = "persistent"\ncommand = ["{python}", "dead.py"]\n')
    with pytest.raises(VerifierStartError, match="exited before answering hello; stderr: no licence key"):
        open_verifier(config).start()


# -- runner --------------------------------------------------------------------------------------

def test_reference_verifier_passes_the_whole_corpus_under_both_profiles(corpus):
    reference = load_adapter(REFERENCE)
    strict = replace(reference, name="reference-strict", profile="strict")
    run = run_conformance([reference, strict], corpus)
    assert not run.failed
    for verifier in run.verifiers:
        # every vector PASSes, so verify_guarded never turned an escaping exception into INTERNAL_ERROR
        assert verifier.counts()["PASS"] == len(corpus.vectors), verifier.info.name
        assert all(check.ok for check in verifier.sanity)


def test_sanity_probe_stops_a_verifier_for_the_format(tmp_path, corpus):
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    config = adapter(tmp_path, 'name = "rejector"\nentry = "pyv.py:reject_all"\nformats = ["primus"]\n')
    run = run_conformance([config], corpus, RunOptions(patterns=("primus::golden::*", "primus::attr::*")))
    (verifier,) = run.verifiers
    (check,) = verifier.sanity
    assert not check.ok and check.message.startswith("verifier 'rejector' stopped for format 'primus': it does "
                                                     "not accept the golden vector primus::golden::rsa-2048")
    by_outcome = {o: [r.id for r in verifier.results if r.outcome is o] for o in Outcome}
    assert by_outcome[Outcome.UNEXPECTED_REJECT] == ["primus::golden::rsa-2048"]
    assert len(by_outcome[Outcome.SKIPPED]) == len(verifier.results) - 1
    assert {r.detail for r in verifier.results if r.outcome is Outcome.SKIPPED} == {check.message}
    assert run.failed


def test_unclaimed_formats_and_features_are_skipped(tmp_path, corpus):
    document = json.loads((VECTORS / "primus_verify.json").read_text())
    document["tests"] = document["tests"][:3]
    document["tests"][2]["features"] = ["exotic-feature"]
    (tmp_path / "primus_verify.json").write_text(json.dumps(document))
    other = json.loads(json.dumps(document))
    other["format"] = "zzz-unregistered"
    for test in other["tests"]:
        test["id"] = test["id"].replace("primus::", "zzz::")
    (tmp_path / "zzz_verify.json").write_text(json.dumps(other))
    small = load_corpus(tmp_path)
    assert small.formats() == ["primus", "zzz-unregistered"]
    reference = replace(load_adapter(REFERENCE), hello="hsmsim.harness.reference:hello")
    run = run_conformance([reference], small)
    results = {r.id: r for r in run.verifiers[0].results}
    assert results["primus::golden::rsa-2048"].outcome is Outcome.PASS
    assert results["primus::golden::rsa-4096"].outcome is Outcome.SKIPPED
    assert "needs feature(s) exotic-feature" in results["primus::golden::rsa-4096"].detail
    assert all(results[f"zzz::golden::{n}"].detail.startswith("format 'zzz-unregistered' not claimed")
               for n in ("rsa-2048", "rsa-3072", "rsa-4096"))
    claiming = replace(reference, features=("exotic-feature",))
    assert run_conformance([claiming], small, RunOptions(formats=("primus",))).verifiers[0].counts()["PASS"] == 3


def test_a_verifier_that_skips_every_vector_fails_the_run(tmp_path, corpus):
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    options = RunOptions(patterns=("primus::golden::*", "primus::attr::*"))
    for function, nothing in (("skip_all", True), ("skip_mutations", False)):
        config = adapter(tmp_path, f'entry = "pyv.py:{function}"\nformats = ["primus"]\n')
        verifier = run_conformance([config], corpus, options).verifiers[0]
        assert verifier.counts()["SKIPPED"] > 0
        assert verifier.tested_nothing() is nothing, function
        assert verifier.failed is nothing, function


def test_wrong_reason_is_reported_and_fails_only_when_strict(tmp_path, corpus):
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    config = adapter(tmp_path, 'name = "wr"\nentry = "pyv.py:wrong_reason"\nformats = ["primus"]\n')
    patterns = ("primus::golden::rsa-2048", "primus::attr::extractable-true", "primus::encoding::zip-slip")
    run = run_conformance([config], corpus, RunOptions(patterns=patterns))
    outcomes = {r.id: r.outcome for r in run.verifiers[0].results}
    assert outcomes == {"primus::golden::rsa-2048": Outcome.PASS,
                        "primus::attr::extractable-true": Outcome.WRONG_REASON,
                        "primus::encoding::zip-slip": Outcome.PASS}
    assert not run.failed
    assert run_conformance([config], corpus, RunOptions(patterns=patterns, strict_reasons=True)).failed


def test_waivers_waive_and_stale_waivers_fail_the_run(tmp_path, corpus):
    script(tmp_path, "pyv.py", PY_VERIFIERS)
    base = ('name = "wr"\nentry = "pyv.py:wrong_reason"\nformats = ["primus"]\n'
            '[waivers."primus::attr::extractable-true"]\nexpected = "REJECT ATTR_EXTRACTABLE"\n'
            'actual = "REJECT MALFORMED"\nreason = "our parser runs first"\n')
    patterns = ("primus::golden::rsa-3072", "primus::attr::extractable-true")
    run = run_conformance([adapter(tmp_path, base)], corpus, RunOptions(patterns=patterns, strict_reasons=True))
    waived = next(r for r in run.verifiers[0].results if r.id == "primus::attr::extractable-true")
    assert (waived.outcome, waived.waiver) == (Outcome.WAIVED, "our parser runs first")
    assert not run.failed
    stale = base + ('[waivers."primus::golden::rsa-3072"]\nexpected = "ACCEPT"\nactual = "REJECT"\n'
                    'reason = "fixed long ago"\n')
    run = run_conformance([adapter(tmp_path, stale)], corpus, RunOptions(patterns=patterns))
    xpass = next(r for r in run.verifiers[0].results if r.id == "primus::golden::rsa-3072")
    assert xpass.outcome is Outcome.XPASS and "stale waiver (fixed long ago)" in xpass.waiver
    assert run.failed
    unknown = base + ('[waivers."primus::attr::retired-long-ago"]\nexpected = "REJECT"\nactual = "ACCEPT"\n'
                      'reason = "x"\n')
    run = run_conformance([adapter(tmp_path, unknown)], corpus, RunOptions(patterns=patterns))
    assert run.failed and "primus::attr::retired-long-ago" in run.verifiers[0].stale_waivers[0]


def test_parallel_run_matches_serial(corpus):
    reference = load_adapter(REFERENCE)
    options = RunOptions(patterns=("primus::signature::*", "primus::chain::*", "primus::golden::*"))
    serial = run_conformance([reference], corpus, options)
    parallel = run_conformance([reference], corpus, replace(options, jobs=2))
    assert [(r.id, r.verdict, r.reason, r.outcome) for r in serial.verifiers[0].results] == \
           [(r.id, r.verdict, r.reason, r.outcome) for r in parallel.verifiers[0].results]
    assert len(serial.verifiers[0].results) == len(corpus.select(patterns=options.patterns)) >= 29


def test_session_runs_one_case_at_a_time(corpus):
    session = Session(corpus, [load_adapter(REFERENCE)])
    try:
        result = session.run_case("reference", "primus::attr::creation-imported")
        assert (result.verdict, result.reason, result.outcome) == (Actual.REJECT, "ATTR_NOT_LOCAL", Outcome.PASS)
        assert result.expected is Expected.INVALID and result.severity == "critical"
    finally:
        session.close()


def test_shards_split_by_vector_id_not_position(corpus):
    from hsmsim.harness.vectors import Shard

    every = [v.id for v in corpus.vectors]
    parts = [[v.id for v in corpus.select(shard=Shard(k, 4))] for k in range(4)]
    assert sorted(i for part in parts for i in part) == sorted(every), "the shards cover the corpus, no overlap"
    assert min(len(p) for p in parts) > len(every) / 8, "a hash spreads the vectors"
    # the same id lands in the same shard whatever else is selected, in whatever order
    primus = corpus.select(formats=("primus",), shard=Shard(2, 4))
    assert [v.id for v in primus] == [i for i in parts[2] if i.startswith("primus::")]
    assert all(Shard(2, 4).holds(v.id) for v in primus)
    assert Shard.parse("3/4") == Shard(3, 4) and str(Shard(3, 4)) == "3/4"
    assert corpus.select(shard=Shard(0, 1)) == list(corpus.vectors)
    for bad, message in (("4/4", "K must be in 0..N-1"), ("1/0", "K must be in 0..N-1"), ("-1/2", "K must be"),
                         ("1", "is not K/N"), ("a/b", "is not K/N")):
        with pytest.raises(ValueError, match=message):
            Shard.parse(bad)


def test_verifier_info_json_carries_every_field():
    """A field added to VerifierInfo must reach results files and reports, and come back."""
    from dataclasses import fields

    from hsmsim.harness.model import VerifierInfo

    info = VerifierInfo("v", "1.0", "python", "structural", ("primus",), ("anchors",))
    assert set(info.to_json()) == {f.name for f in fields(VerifierInfo)}
    assert VerifierInfo.from_json(info.to_json()) == info


def test_a_oneshot_verdict_line_that_contradicts_the_exit_status_gives_no_reason(tmp_path, corpus):
    script(tmp_path, "says.sh", "echo 'REJECT MALFORMED: but exits 0'\nexit 0\n")
    config = adapter(tmp_path, 'mode = "oneshot"\ncommand = ["sh", "says.sh"]\n')
    live = open_verifier(config)
    live.start()
    try:
        answer = live.verify(corpus.get("primus::golden::rsa-3072"))
    finally:
        live.close()
    assert (answer.verdict, answer.reason) == (Actual.ACCEPT, None)
    assert "REJECT MALFORMED" in answer.detail


BIG_NUMBER_HELLO = """
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    if request.get("op") == "hello":
        print('{"formats": ["primus"], "version": ' + "9" * 5000 + '}', flush=True)
"""


def test_a_hello_python_cannot_read_is_not_called_not_json(tmp_path):
    script(tmp_path, "big.py", BIG_NUMBER_HELLO)
    config = adapter(tmp_path, 'mode = "persistent"\ncommand = ["{python}", "big.py"]\n')
    live = open_verifier(config)
    try:
        with pytest.raises(VerifierStartError, match="answered JSON that cannot be read"):
            live.start()
    finally:
        live.close()
