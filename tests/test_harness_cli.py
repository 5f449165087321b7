"""``hsmsim conformance run|merge`` and the pytest plugin (``pytest -p hsmsim --hsmsim-verifier FILE``), end to end."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hsmsim.harness.vectors import load_corpus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "verifiers"
VECTORS = ROOT / "vectors"
CORPUS = load_corpus(VECTORS)
N_ALL = len(CORPUS.vectors)
N_PRIMUS = len(CORPUS.select(formats=("primus",)))


def hsmsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HSMSIM_VECTORS"))}
    # faker's and hypothesis's plugins only cost start-up time here
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:faker",
                           "-p", "no:hypothesispytest", "-q", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_run_reports_and_exits_1_only_on_unexpected_verdicts(tmp_path):
    report = tmp_path / "report"
    bad = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"),
                 "--verifier", str(EXAMPLES / "flawed-attributes-ignored.toml"), "--vectors", str(VECTORS),
                 "-k", "primus::attr::*", "-k", "primus::golden::*", "-j", "2", "--report", str(report))
    assert bad.returncode == 1, bad.stderr
    lines = bad.stdout.splitlines()
    selected = CORPUS.select(patterns=("primus::attr::*", "primus::golden::*"))
    invalid_attr = [v for v in selected if v.category == "attr" and v.expectation("structural")[0].value == "invalid"]
    assert lines[0].startswith(f"ok   reference 0.1.0 (structural): {len(selected)} pass")
    assert lines[1].startswith(f"FAIL flawed-attributes-ignored 1.0 (structural): "
                               f"{len(selected) - len(invalid_attr)} pass, {len(invalid_attr)} unexpected accept")
    failing = [line.strip() for line in lines[2:-1]]
    assert len(failing) == len(invalid_attr) >= 10
    assert all(line.startswith("UNEXPECTED_ACCEPT primus::attr::") for line in failing)
    assert failing[0].startswith("UNEXPECTED_ACCEPT primus::attr::extractable-true (critical)")
    assert lines[-1] == f"report: {report / 'index.html'}"
    assert sorted(p.name for p in (report / "results").iterdir()) == ["flawed-attributes-ignored.json",
                                                                      "reference.json"]
    assert (report / "junit.xml").exists() and "<html" in (report / "index.html").read_text()

    good = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"), "--vectors", str(VECTORS),
                  "--format", "primus", "--report", str(tmp_path / "again"), "--previous", str(report))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[0].startswith(f"ok   reference 0.1.0 (structural): {N_PRIMUS} pass")
    assert "Changes since the previous results" in (tmp_path / "again" / "index.html").read_text()


def test_cli_user_errors_are_one_line_with_exit_2(tmp_path):
    (tmp_path / "broken.toml").write_text('mode = "oneshot"\n')
    result = hsmsim("conformance", "run", "--verifier", str(tmp_path / "broken.toml"), "--vectors", str(VECTORS),
                    "--report", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"hsmsim: error: {tmp_path / 'broken.toml'}: a oneshot adapter needs a command (a list of arguments)"]
    missing = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"),
                     "--vectors", str(tmp_path), "--report", str(tmp_path / "r"))
    assert missing.returncode == 2 and "no *_verify.json files" in missing.stderr
    assert "run" in hsmsim("conformance", "--help").stdout


# -- pytest plugin -------------------------------------------------------------------------------

def test_plugin_is_inert_without_verifier(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    plain = pytest_run("-rs", "test_plain.py", "--pyargs", "hsmsim.conformance", cwd=tmp_path)
    assert plain.returncode == 0 and "1 passed, 1 skipped" in plain.stdout, plain.stdout
    assert "the hsmsim conformance suite runs with --hsmsim-verifier FILE" in plain.stdout
    helped = pytest_run("--help", cwd=tmp_path)
    assert "--hsmsim-verifier=FILE" in helped.stdout and "inert unless --hsmsim-verifier" in helped.stdout
    for option in ("--hsmsim-vectors", "--hsmsim-report", "--hsmsim-format", "--hsmsim-timeout", "--hsmsim-previous",
                   "--hsmsim-strict-reasons", "--hsmsim-fail-on", "--hsmsim-shard", "--hsmsim-overwrite"):
        assert option in helped.stdout
    for deprecated in ("--verifier", "--vectors-root", "--conformance-"):
        assert f"  {deprecated}" not in helped.stdout, "the old spellings are hidden"


def test_plugin_sanity_failure_is_one_clear_message(tmp_path):
    (tmp_path / "rejector.py").write_text(textwrap.dedent("""
        def verify(request):
            return "REJECT MALFORMED"
    """))
    (tmp_path / "rejector.toml").write_text('entry = "rejector.py:verify"\nformats = ["primus"]\n')
    result = pytest_run("-p", "hsmsim", "--hsmsim-verifier", "rejector.toml", "--hsmsim-vectors", str(VECTORS), "-rs",
                        "--pyargs", "hsmsim.conformance", cwd=tmp_path)
    assert result.returncode == 1
    assert f"1 failed, {N_ALL - 1} skipped" in result.stdout
    message = ("verifier 'rejector' stopped for format 'primus': it does not accept the golden vector "
               "primus::golden::rsa-2048 (got REJECT MALFORMED)")
    assert "test_vector[primus::golden::rsa-2048]" in result.stdout, "the golden vector's own test fails"
    assert message in result.stdout
    assert f"SKIPPED [{N_PRIMUS - 1}]" in result.stdout, "the format's skips share one message"


def test_plugin_fails_a_session_whose_verifier_ran_no_vector(tmp_path):
    n_apple = len(CORPUS.select(formats=("apple-acme",)))
    result = pytest_run("-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "naive-careful.toml"),
                        "--hsmsim-vectors", str(VECTORS), "--hsmsim-format", "apple-acme",
                        "--pyargs", "hsmsim.conformance", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{n_apple} skipped" in result.stdout
    assert (f"hsmsim conformance: naive-careful: no vector was run: all {n_apple} selected were skipped"
            in result.stdout.splitlines())


def test_plugin_run_has_no_warnings_from_evidence_and_its_verdicts_ignore_w_error(tmp_path):
    """The real Crypto4A root's ``C=Canada`` makes cryptography warn as it parses names: the session ends without a
    warnings summary, as the CLI's stderr has none, and a user's ``-W error::UserWarning`` leaves the reference
    verifier's verdicts as they are."""
    n_crypto4a = len(CORPUS.select(formats=("crypto4a",)))
    for strict in ((), ("-W", "error::UserWarning")):
        result = pytest_run("-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "reference.toml"),
                            "--hsmsim-vectors", str(VECTORS), "--hsmsim-format", "crypto4a", *strict, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:]
        assert f"{n_crypto4a} passed" in result.stdout
        assert "warnings summary" not in result.stdout and "Warning" not in result.stdout + result.stderr


@pytest.mark.long
def test_plugin_under_xdist_worksteal_merges_one_report(tmp_path):
    report = tmp_path / "report"
    result = pytest_run("-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "reference.toml"),
                        "--hsmsim-verifier", str(EXAMPLES / "flawed-loose-pem.toml"), "--hsmsim-vectors", str(VECTORS),
                        "-n", "2", "--dist", "worksteal", "--hsmsim-report", str(report), cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    skipped = N_ALL - N_PRIMUS  # flawed-loose-pem claims only primus
    summary = f"1 failed, {N_ALL + N_PRIMUS - 1} passed" + (f", {skipped} skipped" if skipped else "")
    assert summary in result.stdout, result.stdout[-500:]
    assert "test_vector[flawed-loose-pem:primus::signature::loose-pubkey-swapped]" in result.stdout
    assert "UNEXPECTED_ACCEPT primus::signature::loose-pubkey-swapped (critical)" in result.stdout
    assert f"hsmsim conformance report: {report / 'index.html'}" in result.stdout
    assert "hsmsim conformance flawed-loose-pem: skipped (format not claimed): android-acme" in result.stdout
    for name, failed in (("reference", False), ("flawed-loose-pem", True)):
        document = json.loads((report / "results" / f"{name}.json").read_text())
        assert len(document["results"]) == N_ALL and document["failed"] is failed
        assert document["verifierVersion"] in ("0.1.0", "1.0")


# -- CI ergonomics: --fail-on, baselines, shards, fresh report directories ----------------------

ATTRIBUTES_IGNORED = str(EXAMPLES / "flawed-attributes-ignored.toml")
LOW_ONLY = ("-k", "primus::golden::*", "-k", "primus::attr::boolean-uppercase")  # one anomaly, of severity low


def _without_timings(document: dict) -> dict:
    return {**document, "results": [{k: v for k, v in r.items() if k != "duration_ms"} for r in document["results"]]}


def test_fail_on_counts_only_anomalies_at_or_above_the_severity(tmp_path):
    from hsmsim.harness.model import SEVERITY_ORDER

    assert SEVERITY_ORDER == ("critical", "high", "medium", "low", "info"), "the order docs/conformance.md states"
    common = ("conformance", "run", "--verifier", ATTRIBUTES_IGNORED, "--vectors", str(VECTORS), *LOW_ONLY)
    default = hsmsim(*common, "--report", str(tmp_path / "default"))
    assert default.returncode == 1 and "UNEXPECTED_ACCEPT primus::attr::boolean-uppercase (low)" in default.stdout
    for threshold, code in (("info", 1), ("low", 1), ("medium", 0), ("critical", 0)):
        result = hsmsim(*common, "--fail-on", threshold, "--report", str(tmp_path / threshold))
        assert result.returncode == code, (threshold, result.stdout, result.stderr)
        junit = (tmp_path / threshold / "junit.xml").read_text()
        assert ('failures="1"' in junit) is (code == 1), threshold
        document = json.loads((tmp_path / threshold / "results" / "flawed-attributes-ignored.json").read_text())
        assert document["run"]["failOn"] == threshold and document["failed"] is (code == 1)
    below = (tmp_path / "medium" / "junit.xml").read_text()
    assert "<system-out>UNEXPECTED_ACCEPT primus::attr::boolean-uppercase (low)" in below, "tolerated, still shown"
    page = (tmp_path / "medium" / "index.html").read_text()
    assert "1 unexpected verdict(s) on vectors less severe than medium" in page
    bad = hsmsim(*common, "--fail-on", "severe", "--report", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "'severe' is not one of 'critical', 'high', 'medium', 'low', 'info'" in bad.stderr


def test_fail_on_never_hides_a_verifier_stopped_by_its_sanity_probe(tmp_path):
    (tmp_path / "rejector.py").write_text('def verify(request):\n    return "REJECT MALFORMED"\n')
    (tmp_path / "rejector.toml").write_text('entry = "rejector.py:verify"\nformats = ["primus"]\n')
    golden_in = hsmsim("conformance", "run", "--verifier", str(tmp_path / "rejector.toml"), "--vectors", str(VECTORS),
                       "--format", "primus", "--fail-on", "critical", "--report", str(tmp_path / "a"))
    assert golden_in.returncode == 1, "the golden vector (severity info) fails: the format went untested"
    # the golden outside the selection: no test case fails, the probe still does
    golden_out = hsmsim("conformance", "run", "--verifier", str(tmp_path / "rejector.toml"), "--vectors",
                        str(VECTORS), "-k", "primus::attr::*", "--report", str(tmp_path / "b"))
    assert golden_out.returncode == 1, golden_out.stdout
    assert "stopped for format 'primus'" in golden_out.stdout


def test_write_baseline_adopts_the_suite_and_a_fix_makes_the_waiver_stale(tmp_path):
    def adapter(function: str, waivers: bool) -> None:
        lines = ['name = "mine"', f'entry = "{EXAMPLES / "naive_primus.py"}:{function}"', 'formats = ["primus"]']
        (tmp_path / "mine.toml").write_text("\n".join([*lines, *(['waivers = "baseline.json"'] if waivers else [])]))

    def run(report: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return hsmsim("conformance", "run", "--verifier", "mine.toml", "--vectors", str(VECTORS), "--format", "primus",
                      "--report", report, *extra, cwd=tmp_path)

    adapter("attributes_ignored", waivers=False)
    adopted = run("r1", "--write-baseline", "baseline.json")
    assert adopted.returncode == 1, "the run that writes the baseline still reports what it found"
    assert 'baseline: 11 waiver(s) written to baseline.json; adopt it in the adapter file: waivers = "baseline.json"' \
        in adopted.stdout
    first = json.loads((tmp_path / "r1" / "results" / "mine.json").read_text())
    anomalies = sorted(r["id"] for r in first["results"] if r["outcome"] == "UNEXPECTED_ACCEPT")
    waivers = json.loads((tmp_path / "baseline.json").read_text())
    assert sorted(waivers) == anomalies and len(anomalies) == 11
    assert waivers["primus::attr::extractable-true"]["expected"] == "REJECT ATTR_EXTRACTABLE"
    assert waivers["primus::attr::extractable-true"]["actual"] == "ACCEPT"

    adapter("attributes_ignored", waivers=True)
    ratcheted = run("r2")
    assert ratcheted.returncode == 0, ratcheted.stdout + ratcheted.stderr
    assert "11 waived" in ratcheted.stdout.splitlines()[0]

    adapter("careful", waivers=True)  # the verifier is fixed: every waiver is stale now
    fixed = run("r3")
    assert fixed.returncode == 1 and "11 xpass" in fixed.stdout.splitlines()[0]
    assert "XPASS primus::attr::extractable-true (critical): expected REJECT ATTR_EXTRACTABLE, got REJECT attributes" \
        in fixed.stdout and "[stale waiver (baseline: UNEXPECTED_ACCEPT when the suite was adopted" in fixed.stdout
    rewritten = run("r4", "--write-baseline", "baseline.json")
    assert rewritten.returncode == 1 and json.loads((tmp_path / "baseline.json").read_text()) == {}

    several = hsmsim("conformance", "run", "--verifier", "mine.toml", "--verifier", str(EXAMPLES / "reference.toml"),
                     "--vectors", str(VECTORS), "--report", "r5", "--write-baseline", "one.json", cwd=tmp_path)
    assert several.returncode == 2 and "needs {verifier} in FILE" in several.stderr
    assert not (tmp_path / "r5").exists(), "refused before running"


def test_shards_merged_equal_the_unsharded_run(tmp_path):
    selection = ("--verifier", str(EXAMPLES / "reference.toml"), "--verifier", ATTRIBUTES_IGNORED,
                 "--vectors", str(VECTORS), "--format", "primus", "--format", "luna-pkc")
    whole = hsmsim("conformance", "run", *selection, "--report", str(tmp_path / "whole"))
    assert whole.returncode == 1
    sizes = []
    for k in range(3):
        shard = hsmsim("conformance", "run", *selection, "--shard", f"{k}/3", "--report", str(tmp_path / f"s{k}"))
        assert shard.returncode in (0, 1), shard.stderr
        sizes.append(len(json.loads((tmp_path / f"s{k}" / "results" / "reference.json").read_text())["results"]))
    assert sum(sizes) == len(CORPUS.select(formats=("primus", "luna-pkc"))) and min(sizes) > 0
    merged = hsmsim("conformance", "merge", *(str(tmp_path / f"s{k}") for k in (2, 0, 1)), "--vectors", str(VECTORS),
                    "--report", str(tmp_path / "merged"))
    assert merged.returncode == whole.returncode
    assert merged.stdout.splitlines()[:-1] == whole.stdout.splitlines()[:-1]
    for name in ("reference", "flawed-attributes-ignored"):
        one, two = (json.loads((tmp_path / d / "results" / f"{name}.json").read_text()) for d in ("whole", "merged"))
        assert _without_timings(one) == _without_timings(two)
    untimed = [re.sub(r' time="[^"]*"', "", (tmp_path / d / "junit.xml").read_text()) for d in ("whole", "merged")]
    assert untimed[0] == untimed[1]
    assert (tmp_path / "whole" / "index.html").read_text() == (tmp_path / "merged" / "index.html").read_text()

    incomplete = hsmsim("conformance", "merge", str(tmp_path / "s0"), str(tmp_path / "s2"), "--vectors", str(VECTORS),
                        "--report", str(tmp_path / "partial"))
    assert incomplete.returncode == 2
    assert incomplete.stderr.strip() == ("hsmsim: error: verifier 'reference': shard(s) 1/3 missing "
                                         "(a failed or cancelled job?)")
    unsharded = hsmsim("conformance", "merge", str(tmp_path / "whole"), "--vectors", str(VECTORS),
                       "--report", str(tmp_path / "again"))
    assert unsharded.returncode == 2 and "is not the report of a shard" in unsharded.stderr


def test_each_run_writes_a_fresh_report_directory(tmp_path):
    report = tmp_path / "report"
    first = hsmsim("conformance", "run", "--verifier", ATTRIBUTES_IGNORED, "--verifier",
                   str(EXAMPLES / "reference.toml"), "--vectors", str(VECTORS), *LOW_ONLY, "--report", str(report))
    assert first.returncode == 1
    again = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"), "--vectors", str(VECTORS),
                   *LOW_ONLY, "--report", str(report))
    assert again.returncode == 2
    assert again.stderr.strip() == (f"hsmsim: error: --report {report} is not empty (a report of an earlier run?); "
                                    "pass --overwrite to replace it, or name a new directory")
    replaced = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"), "--vectors", str(VECTORS),
                      *LOW_ONLY, "--report", str(report), "--overwrite", "--previous", str(report))
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert [p.name for p in (report / "results").iterdir()] == ["reference.json"], "no results of the earlier run"
    assert "0 regression(s) since the previous results" in replaced.stdout


def test_stdout_shows_skips_per_format_regressions_and_what_anomalies_test(tmp_path):
    common = ("--vectors", str(VECTORS), "-k", "primus::golden::*", "-k", "primus::attr::*", "-k", "luna-pkc::*")
    before = hsmsim("conformance", "run", "--verifier", str(EXAMPLES / "naive-careful.toml"), *common,
                    "--report", str(tmp_path / "before"))
    assert before.returncode == 0, before.stdout + before.stderr
    after = hsmsim("conformance", "run", "--verifier", ATTRIBUTES_IGNORED, *common, "--previous",
                   str(tmp_path / "before"), "--report", str(tmp_path / "after"))
    assert after.returncode == 1
    n_luna = len(CORPUS.select(formats=("luna-pkc",)))
    assert f"     skipped (format not claimed): luna-pkc {n_luna}" in after.stdout.splitlines()
    assert "     10 regression(s) since the previous results" in after.stdout.splitlines()
    regression = next(line for line in after.stdout.splitlines()
                      if line.startswith("     regression primus::attr::extractable-true: "))
    assert regression.endswith(": PASS (REJECT attributes) -> UNEXPECTED_ACCEPT (ACCEPT)"), regression
    junit = (tmp_path / "after" / "junit.xml").read_text()
    assert f'<property name="skipped.luna-pkc" value="{n_luna} format not claimed" />' in junit
    extractable = CORPUS.get("primus::attr::extractable-true")
    assert f"tests: {html.escape(extractable.comment, quote=True)}" in junit
    page = (tmp_path / "after" / "index.html").read_text()
    assert "<th>what it tests</th>" in page and html.escape(extractable.comment, quote=True) in page
    assert f'<tr><td><code>luna-pkc</code></td><td class="num">{n_luna}</td><td>{n_luna} format not claimed</td>' \
        in page
    assert "every vector skipped by every verifier" in page, "the matrix does not list a format nobody ran"


# -- pytest plugin: namespaced options, re-runnable ids, shards, --hsmsim-fail-on ---------------

def test_a_verifier_that_ran_no_vector_fails_the_run_but_not_its_shard(tmp_path):
    # naive-careful claims primus only: over luna-pkc vectors every case is SKIPPED (format not claimed)
    common = ("--verifier", str(EXAMPLES / "naive-careful.toml"), "--vectors", str(VECTORS),
              "-k", "luna-pkc::golden::*")
    n_selected = len(CORPUS.select(patterns=("luna-pkc::golden::*",)))
    whole = hsmsim("conformance", "run", *common, "--report", str(tmp_path / "whole"))
    assert whole.returncode == 1, whole.stdout + whole.stderr
    lines = whole.stdout.splitlines()
    assert lines[0] == f"FAIL naive-careful 1.0 (structural): {n_selected} skipped"
    assert lines[1] == f"     no vector was run: all {n_selected} selected were skipped (see below)"
    assert json.loads((tmp_path / "whole" / "results" / "naive-careful.json").read_text())["failed"] is True
    for k in (0, 1):  # a shard may hold none of a verifier's formats: only the merged run says so
        shard = hsmsim("conformance", "run", *common, "--shard", f"{k}/2", "--report", str(tmp_path / f"s{k}"))
        assert shard.returncode == 0, shard.stdout + shard.stderr
        assert "no vector was run" not in shard.stdout
    merged = hsmsim("conformance", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--vectors", str(VECTORS),
                    "--report", str(tmp_path / "merged"))
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert f"     no vector was run: all {n_selected} selected were skipped (see below)" in merged.stdout.splitlines()


def test_plugin_printed_ids_rerun_exactly_that_case(tmp_path):
    options = ("-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "reference.toml"),
               "--hsmsim-verifier", ATTRIBUTES_IGNORED, "--hsmsim-vectors", str(VECTORS), "--hsmsim-format", "primus")
    full = pytest_run(*options, "-rf", cwd=tmp_path)
    assert full.returncode == 1
    failed = [line.removeprefix("FAILED ").split(" - ")[0] for line in full.stdout.splitlines()
              if line.startswith("FAILED ")]
    assert len(failed) == 11
    chosen = next(f for f in failed if f.endswith("[flawed-attributes-ignored:primus::attr::creation-imported]"))
    again = pytest_run(*options, "-rf", "-v", chosen, cwd=tmp_path)
    assert again.returncode == 1 and "1 failed in" in again.stdout, again.stdout[-1500:]
    rerun = [line.split(" - ")[0] for line in again.stdout.splitlines() if line.startswith("FAILED ")]
    assert rerun == [f"FAILED {chosen}"]
    one = "hsmsim.conformance::test_vector[reference:primus::golden::rsa-3072]"
    by_module = pytest_run(*options, "--pyargs", one, cwd=tmp_path)
    assert by_module.returncode == 0 and "1 passed in" in by_module.stdout, by_module.stdout[-1500:]


def test_plugin_shard_fail_on_and_deprecated_spellings(tmp_path):
    from hsmsim.harness.vectors import Shard

    shard = pytest_run("-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "reference.toml"), "--hsmsim-vectors",
                       str(VECTORS), "--hsmsim-format", "primus", "--hsmsim-shard", "1/4", "--hsmsim-report", "r",
                       cwd=tmp_path)
    expected = [v.id for v in CORPUS.select(formats=("primus",), shard=Shard(1, 4))]
    assert shard.returncode == 0 and f"{len(expected)} passed in" in shard.stdout, shard.stdout[-1500:]
    document = json.loads((tmp_path / "r" / "results" / "reference.json").read_text())
    assert [r["id"] for r in document["results"]] == expected and document["run"]["shard"] == "1/4"
    refused = pytest_run("-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "reference.toml"), "--hsmsim-vectors",
                         str(VECTORS), "--hsmsim-report", "r", cwd=tmp_path)
    assert refused.returncode == 4 and "--hsmsim-report r is not empty (a report of an earlier run?); pass " \
        "--hsmsim-overwrite to replace it" in refused.stderr, refused.stderr

    tolerant = pytest_run("-p", "hsmsim", "--hsmsim-verifier", ATTRIBUTES_IGNORED, "--hsmsim-vectors", str(VECTORS),
                          "--hsmsim-fail-on", "medium", "-k", "golden or boolean-uppercase", cwd=tmp_path)
    assert tolerant.returncode == 0 and "UNEXPECTED_ACCEPT primus::attr::boolean-uppercase (low)" in tolerant.stdout

    old = pytest_run("-p", "hsmsim", "--verifier", ATTRIBUTES_IGNORED, "--vectors-root", str(VECTORS),
                     "--conformance-format", "primus", "--conformance-report", "old", cwd=tmp_path)
    assert old.returncode == 1 and "11 failed" in old.stdout
    assert "--verifier is deprecated and will be removed; use --hsmsim-verifier" in old.stdout
    assert "--conformance-report is deprecated and will be removed; use --hsmsim-report" in old.stdout
    assert (tmp_path / "old" / "index.html").exists()


REWRITE_CHECK = """
def test_rewrite_hook(request):
    marked = getattr(request.config.pluginmanager.rewrite_hook, "_must_rewrite", None)
    print("marked:", "absent" if marked is None else "hsmsim" in marked)
"""


def test_plugin_takes_hsmsim_back_from_pytests_assert_rewriting(tmp_path):
    """With -p hsmsim pytest marks all of hsmsim for assert rewriting; once the plugin is active, it no longer does."""
    (tmp_path / "test_rewrite_hook.py").write_text(REWRITE_CHECK)
    inert = pytest_run("-s", "-p", "hsmsim", "test_rewrite_hook.py", cwd=tmp_path)
    active = pytest_run("-s", "-p", "hsmsim", "--hsmsim-verifier", str(EXAMPLES / "reference.toml"),
                        "--hsmsim-vectors", str(VECTORS), "--hsmsim-report", str(tmp_path / "report"),
                        "test_rewrite_hook.py", cwd=tmp_path)
    if "marked: absent" in inert.stdout:
        pytest.skip("pytest's rewrite hook has no private _must_rewrite set: the plugin leaves it alone")
    assert "marked: True" in inert.stdout, inert.stdout + inert.stderr
    assert "marked: False" in active.stdout, active.stdout + active.stderr


def test_report_and_baseline_paths_are_checked_before_the_run(tmp_path):
    """Each refusal is one line with exit 2 before a case runs (the whole corpus would take minutes), and a FIFO
    or symlink named as the baseline is neither opened nor followed."""
    (tmp_path / "file").write_text("")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "victim")
    run = ("conformance", "run", "--verifier", str(EXAMPLES / "reference.toml"), "--vectors", str(VECTORS))
    for extra, message in [
        (("--report", str(tmp_path / ("a" * 5000))), "File name too long"),
        (("--report", str(tmp_path / "file")), "exists and is not a directory"),
        (("--report", str(tmp_path / "fifo"), "--overwrite"), "exists and is not a directory"),
        (("--report", "/dev/null"), "exists and is not a directory"),
        (("--report", str(tmp_path / "r"), "--write-baseline", str(tmp_path / "fifo")), "is not a regular file"),
        (("--report", str(tmp_path / "r"), "--write-baseline", str(tmp_path / "link")), "is not a regular file"),
        (("--report", str(tmp_path / "r"), "--write-baseline", str(tmp_path / ("b" * 5000))), "File name too long"),
    ]:
        result = hsmsim(*run, *extra)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], (extra, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "file", "link"]


def test_a_merge_judges_each_shard_against_the_corpus_it_is_given(tmp_path):
    selection = ("--verifier", ATTRIBUTES_IGNORED, "-k", "primus::attr::*", "-k", "primus::golden::*")
    for k in range(2):
        shard = hsmsim("conformance", "run", *selection, "--vectors", str(VECTORS), "--shard", f"{k}/2",
                       "--report", str(tmp_path / f"s{k}"))
        assert shard.returncode in (0, 1), shard.stderr
    results = tmp_path / "s1" / "results" / "flawed-attributes-ignored.json"
    document = json.loads(results.read_text())
    accepted = next(r for r in document["results"] if r["outcome"] == "UNEXPECTED_ACCEPT")
    accepted["outcome"] = "PASS"
    edited = tmp_path / "edited"
    shutil.copytree(tmp_path / "s1", edited)
    (edited / "results" / results.name).write_text(json.dumps(document))
    refused = hsmsim("conformance", "merge", str(tmp_path / "s0"), str(edited), "--vectors", str(VECTORS),
                     "--report", str(tmp_path / "m1"))
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert f"the outcome PASS of {accepted['id']!r} does not follow from its verdict ACCEPT" in refused.stderr

    other = tmp_path / "other-corpus"  # the same suite version, with one expectation changed
    shutil.copytree(VECTORS, other)
    vector_file = other / "primus_verify.json"
    corpus = json.loads(vector_file.read_text())
    changed = next(t for t in corpus["tests"] if t["id"] == accepted["id"])
    changed["result"] = "valid"
    changed["expectedReason"] = "OK"
    changed["profiles"] = {p: {"result": "valid", "reason": "OK"} for p in changed["profiles"]}
    vector_file.write_text(json.dumps(corpus))
    on_other = hsmsim("conformance", "run", *selection, "--vectors", str(other), "--shard", "1/2",
                      "--report", str(tmp_path / "s1-other"))
    assert on_other.returncode in (0, 1), on_other.stderr
    mixed = hsmsim("conformance", "merge", str(tmp_path / "s0"), str(tmp_path / "s1-other"), "--vectors",
                   str(VECTORS), "--report", str(tmp_path / "m2"))
    assert mixed.returncode == 2 and f"judged {accepted['id']!r} as valid OK" in mixed.stderr, mixed.stderr
    fine = hsmsim("conformance", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--vectors", str(VECTORS),
                  "--report", str(tmp_path / "m3"))
    assert fine.returncode == 1, fine.stderr
