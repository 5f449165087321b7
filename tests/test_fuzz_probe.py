"""``hsmsim fuzz`` puts the format's first golden bundle to the verifier before any case: a verifier that gives no
verdict for it (a oneshot adapter whose script path is wrong, a crash, a hang) or declines it (SKIPPED) is misuse, one
line and exit 2, before an earlier campaign is replaced; one that rejects the golden is fuzzed, its differentials
being findings. A case the verifier declines is no finding."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from hsmsim.fuzz.engine import TargetAnswer, classify
from tests.test_fuzz_cli_hostile import REPO, hsmsim, one_line_error


def python_adapter(tmp_path: Path, body: str, *, timeout: float = 5) -> Path:
    """A ``python`` adapter whose ``verify(request)`` runs ``body`` for the golden probe and defers every fuzz case to
    the reference verifier."""
    (tmp_path / "probed.py").write_text(textwrap.dedent("""
        import os, time
        from hsmsim.harness import reference

        def verify(request):
            if "::golden::" in request.id:
        {body}
            return reference.verify(request)
    """).format(body=textwrap.indent(textwrap.dedent(body), " " * 8)))
    adapter = tmp_path / "probed.toml"
    adapter.write_text(f'name = "probed"\nmode = "python"\nentry = "probed.py:verify"\nprofile = "structural"\n'
                       f'timeout_s = {timeout}\n')
    return adapter


def earlier_campaign(out: Path) -> None:
    (out / "findings" / "differential-0123456789ab").mkdir(parents=True)
    (out / "summary.json").write_text("{}")


def test_a_oneshot_adapter_whose_script_is_missing_is_misuse_and_keeps_the_earlier_campaign(tmp_path):
    adapter = tmp_path / "typo.toml"
    adapter.write_text((REPO / "examples/verifiers/tiny-oneshot.toml").read_text()
                       .replace('"tiny_oneshot.sh"', f'"{tmp_path / "tiny_onshot.sh"}"'))
    out = tmp_path / "out"
    earlier_campaign(out)
    error = one_line_error(hsmsim("fuzz", "--format", "primus", "--verifier", str(adapter), "--iterations", "20",
                                  "--out", str(out), "--overwrite"))
    assert "gives no verdict for the golden bundle primus::golden::" in error, error
    assert "ERROR" in error and "No such file or directory" in error, error
    assert (out / "findings" / "differential-0123456789ab").is_dir() and (out / "summary.json").read_text() == "{}"


@pytest.mark.parametrize(("body", "said"), [
    ("os._exit(3)", "CRASH: the worker process exited with status 3"),
    ("time.sleep(30)", "HANG"),
    ("raise RuntimeError('no key loaded')", "no key loaded"),
    ("return {'verdict': 'SKIPPED', 'detail': 'no RSA support'}", "SKIPPED: no RSA support"),
])
def test_a_verifier_without_a_verdict_for_the_golden_stops_before_any_case(tmp_path, body, said):
    out = tmp_path / "out"
    error = one_line_error(hsmsim("fuzz", "--format", "marvell-google", "--verifier",
                                  str(python_adapter(tmp_path, body, timeout=0.5)), "--iterations", "20",
                                  "--out", str(out)))
    assert "gives no verdict for the golden bundle marvell-google::golden::" in error and said in error, error
    assert not (out / "summary.json").exists()


def test_a_verifier_that_rejects_the_golden_is_fuzzed(tmp_path):
    adapter = python_adapter(tmp_path, """
        from hsmsim.verdict import Reason, Verdict
        return Verdict(Reason.SIGNATURE_INVALID, "made up")
    """)
    out = tmp_path / "out"
    done = hsmsim("fuzz", "--format", "marvell-google", "--verifier", str(adapter), "--iterations", "64",
                  "--seed", "probe", "--out", str(out))
    assert done.returncode in (0, 1), done.stderr
    assert json.loads((out / "summary.json").read_text())["executed"] > 0


@pytest.mark.parametrize("invalid", [True, False])
def test_a_declined_case_is_no_finding(invalid):
    reference = TargetAnswer("REJECT", "SIGNATURE_INVALID", "")
    assert classify(invalid, TargetAnswer("SKIPPED", None, "unsupported"), reference, self_test=False) is None
    assert classify(invalid, TargetAnswer("ACCEPT"), reference, self_test=False) == \
        ("specification" if invalid else "differential")
