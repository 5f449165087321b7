"""Conformance reports: results JSON, JUnit XML, the HTML matrix and anomalies, the diff, previous results files read
within bounded memory, and a real browser render."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import Actual, CaseResult, Outcome, VerifierInfo
from hsmsim.harness.report import (
    RESULTS_TOKEN_LIMIT,
    ReportError,
    diff,
    junit_xml,
    load_results,
    render_html,
    write_report,
)
from hsmsim.harness.runner import ConformanceRun, RunOptions, SanityCheck, VerifierRun, run_conformance
from hsmsim.harness.vectors import CORPUS_VECTORS_LIMIT, load_corpus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "verifiers"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "vectors")


def _result(corpus, vector_id: str, outcome: Outcome, verdict: Actual, reason: str | None = None,
            detail: str = "") -> CaseResult:
    vector = corpus.get(vector_id)
    expected, expected_reason = vector.expectation("structural")
    return CaseResult(verifier="synthetic", id=vector_id, format=vector.format, category=vector.category,
                      severity=vector.severity, expected=expected, expected_reason=expected_reason, verdict=verdict,
                      reason=reason, detail=detail, outcome=outcome, duration_ms=1.5,
                      waiver="waived for a test" if outcome in (Outcome.WAIVED, Outcome.XPASS) else None)


@pytest.fixture(scope="module")
def synthetic(corpus):
    """A verifier with one case of every anomaly kind."""
    config = load_adapter("python:hsmsim.harness.reference:verify")
    results = [
        _result(corpus, "primus::golden::rsa-3072", Outcome.PASS, Actual.ACCEPT),
        _result(corpus, "primus::variant::unknown-element", Outcome.SKIPPED, Actual.SKIPPED,
                detail="needs feature(s) x not claimed by synthetic"),
        _result(corpus, "primus::encoding::billion-laughs", Outcome.HANG, Actual.HANG, detail="no verdict within 5 s"),
        _result(corpus, "primus::encoding::zip-bomb", Outcome.CRASH, Actual.CRASH, detail="killed by SIGSEGV"),
        _result(corpus, "primus::attr::boolean-uppercase", Outcome.WRONG_REASON, Actual.REJECT, "ATTR_MISSING"),
        _result(corpus, "primus::golden::rsa-4096", Outcome.UNEXPECTED_REJECT, Actual.REJECT, "KEY_POLICY"),
        _result(corpus, "primus::attr::creation-unknown-value", Outcome.UNEXPECTED_ACCEPT, Actual.ACCEPT),  # medium
        _result(corpus, "primus::attr::extractable-true", Outcome.UNEXPECTED_ACCEPT, Actual.ACCEPT),  # critical
        _result(corpus, "primus::chain::leaf-expired", Outcome.XPASS, Actual.REJECT, "CERT_EXPIRED"),
        _result(corpus, "primus::chain::device-expired", Outcome.WAIVED, Actual.ACCEPT),
    ]
    info = VerifierInfo("synthetic", "1.2.3", "python", "structural", ("primus",))
    verifier = VerifierRun(config=replace(config, name="synthetic"), info=info, results=results,
                           sanity=[SanityCheck("synthetic", "primus", "primus::golden::rsa-2048", True, "ok")])
    vectors = [corpus.get(r.id) for r in results]
    return ConformanceRun(corpus=corpus, vectors=vectors, verifiers=[verifier])


def test_anomalies_are_listed_in_the_documented_order(synthetic):
    page = render_html(synthetic)
    section = page[page.index('id="v-synthetic"'):]
    headings = ["Unexpected ACCEPT (2)", "Unexpected REJECT (1)", "Right verdict, wrong reason (1)",
                "HANG / CRASH / ERROR (2)", "SKIPPED (1)", "Stale waivers (XPASS) (1)",
                "Waived (known divergences) (1)"]
    positions = [section.index(f"<h3>{h}") for h in headings]
    assert positions == sorted(positions)
    accepts = section[positions[0]:positions[1]]
    assert accepts.index("primus::attr::extractable-true") < accepts.index("primus::attr::creation-unknown-value"), \
        "critical first"
    assert '<span class="badge fail">FAIL</span>' in page
    matrix = page[page.index('<table class="matrix">'):page.index("</table>", page.index('<table class="matrix">'))]
    assert matrix.index("primus &middot; 10 vectors") < matrix.index("golden (2)") < matrix.index("chain (2)")
    assert 'class="c uacc"' in matrix and 'class="c hang"' in matrix and 'class="c xpass"' in matrix


def test_results_json_round_trips_and_junit_counts(synthetic, tmp_path):
    paths = write_report(synthetic, tmp_path / "report")
    document = json.loads(paths.results[0].read_text())
    assert (document["version"], document["suiteVersion"], document["verifier"], document["verifierVersion"]) == (
        1, synthetic.corpus.suite_version, "synthetic", "1.2.3")
    assert document["failed"] is True and document["summary"]["UNEXPECTED_ACCEPT"] == 2
    first = document["results"][0]
    assert set(first) >= {"id", "verdict", "reason", "duration_ms", "outcome", "expected", "expectedReason"}
    loaded = load_results(paths.results[0])
    assert loaded.results == {r.id: r for r in synthetic.verifiers[0].results}
    suites = ET.fromstring(paths.junit.read_bytes())
    (suite,) = suites.findall("testsuite")
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
    assert counts == ("10", "4", "2", "2")
    case = suite.find("testcase[@name='primus::attr::extractable-true']")
    assert case is not None and case.get("classname") == "synthetic.primus.attr"
    assert case.find("failure").get("type") == "UNEXPECTED_ACCEPT"
    assert junit_xml(synthetic) == paths.junit.read_text()


def test_junit_failure_text_is_the_detail_then_what_the_vector_tests_on_its_own_line(synthetic):
    """docs/conformance.md 5: a failure's text is the detail and ``tests: <comment> [<flags>]``: two lines, not one
    with the separator escaped as ``\\x0a``; a control character inside the detail is still escaped."""
    vector = synthetic.corpus.get("primus::encoding::zip-bomb")
    crash = replace(synthetic.verifiers[0].results[3], detail="killed by SIGSEGV\x1b[2J", flags=tuple(vector.flags))
    run = replace(synthetic, verifiers=[replace(synthetic.verifiers[0], results=[crash])])
    (case,) = ET.fromstring(junit_xml(run)).iter("testcase")
    assert crash.id == vector.id and vector.flags
    assert case.find("error").text.split("\n") == [
        "killed by SIGSEGV\\x1b[2J", f"tests: {vector.comment} [{', '.join(vector.flags)}]"]


def test_diff_against_previous_results(corpus, tmp_path):
    reference = load_adapter("python:hsmsim.harness.reference:verify")
    options = RunOptions(patterns=("primus::attr::*", "primus::golden::*"))
    before = write_report(run_conformance([reference], corpus, options), tmp_path / "before")
    flawed = replace(load_adapter(EXAMPLES / "flawed-attributes-ignored.toml"), name="reference")
    after = run_conformance([flawed], corpus, options)
    changes = diff(load_results(before.results[0]), after.verifiers[0], {v.id for v in corpus.vectors})
    kinds = {c.id: c.kind for c in changes}
    assert kinds["primus::attr::extractable-true"] == "regression"
    assert changes[0].kind == "regression" and "UNEXPECTED_ACCEPT (ACCEPT)" in changes[0].current
    assert "primus::golden::rsa-3072" not in kinds, "OK vs no reason: not a change"
    report = write_report(after, tmp_path / "after", [tmp_path / "before"])
    page = report.html.read_text()
    assert "Changes since the previous results" in page and 'class="kind-regression"' in page
    back = diff(load_results(report.results[0]), run_conformance([reference], corpus, options).verifiers[0])
    assert {c.kind for c in back if c.id == "primus::attr::extractable-true"} == {"fix"}


# Loads the results file argv[1] as --previous does; prints the one-line error (or "loaded"), then by how many MiB
# the load raised the process's peak resident memory.
_PEAK = """
import resource, sys
from pathlib import Path
from hsmsim.harness.report import ReportError, load_previous
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_previous([Path(sys.argv[1])])
    print("loaded")
except ReportError as exc:
    print(exc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.parametrize("entry", [b"{}", b"[]"])
def test_a_results_file_of_millions_of_tiny_entries_is_refused_before_it_is_parsed(tmp_path, entry):
    """1.1 million entries in 3.3 MB would take about 90 MB once parsed (a 64 MiB file of them 1.8 GB): counted
    first, they are refused, and the load costs little more than the file's bytes."""
    path = tmp_path / "results.json"
    path.write_bytes(b'{"version": 1, "verifier": "x", "results": [' + b",".join([entry] * 1_100_000) + b"]}")
    done = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, timeout=120)
    message, grown = done.stdout.splitlines()
    assert message == (f"not a hsmsim conformance results file: {path} holds more than {RESULTS_TOKEN_LIMIT} JSON "
                       f"strings, commas and brackets: more than the results of a corpus of {CORPUS_VECTORS_LIMIT} "
                       "vectors take"), done.stderr
    assert int(grown) < 40, f"loading it raised the peak resident memory by {grown} MiB"


def test_a_results_file_of_more_results_than_a_corpus_holds_is_refused(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"version": 1, "verifier": "x", "results": [{}] * (CORPUS_VECTORS_LIMIT + 1)}))
    with pytest.raises(ReportError, match=f"it holds {CORPUS_VECTORS_LIMIT + 1} results, more than the "
                                          f"{CORPUS_VECTORS_LIMIT} vectors a corpus may hold"):
        load_results(path)


def test_a_results_file_whose_strings_are_full_of_commas_and_brackets_is_read(synthetic, tmp_path):
    """More ``"[{,`` characters than the token bound, all inside one string: counted as the one token they are."""
    path = write_report(synthetic, tmp_path / "report").results[0]
    document = json.loads(path.read_text())
    detail = '",[{' * (RESULTS_TOKEN_LIMIT // 2)
    document["results"][0]["detail"] = detail
    path.write_text(json.dumps(document))
    assert load_results(path).results[document["results"][0]["id"]].detail == detail


def _png_pixels_vary(png: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decompressed image data)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    data, position = b"", 8
    while position < len(png):
        length = struct.unpack(">I", png[position:position + 4])[0]
        kind = png[position + 4:position + 8]
        if kind == b"IDAT":
            data += png[position + 8:position + 8 + length]
        position += 12 + length
    return width, height, len(set(zlib.decompress(data)))


def test_report_renders_in_headless_chromium(corpus, tmp_path):
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("chromium is not installed (apt-get install chromium, or scripts/ensure_system_deps.sh)")
    configs = [load_adapter(EXAMPLES / name) for name in ("reference.toml", "naive-careful.toml",
                                                          "flawed-signature-only.toml", "flawed-loose-pem.toml")]
    run = run_conformance(configs, corpus, RunOptions(patterns=("primus::golden::*", "primus::signature::*",
                                                                "primus::attr::*")))
    report = write_report(run, tmp_path / "report")
    shot = tmp_path / "report.png"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "render_report_screenshot.sh"), str(report.html), str(shot),
                           "1200,1500"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    width, height, distinct = _png_pixels_vary(shot.read_bytes())
    assert (width, height) == (1200, 1500)
    assert distinct > 20, "the screenshot is not a blank page"
    assert shot.stat().st_size > 20_000
