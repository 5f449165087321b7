"""The whole promotion loop through the CLI: a finding is promoted, the corpus still regenerates byte for byte,
and the conformance suite runs the promoted vector (issue 14)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hsmsim.fuzz.campaign import load_model
from hsmsim.fuzz.engine import Finding, FuzzCase, TargetAnswer, build_case
from hsmsim.fuzz.findings import finding_case, write_finding

ROOT = Path(__file__).resolve().parents[1]
SEED = "hsmsim-corpus-v1"


def hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)


def _finding(out: Path, operators: tuple[tuple[str, int], ...]) -> Path:
    model = load_model("primus", SEED)
    built = build_case(model, FuzzCase(0, "rsa-3072", operators, False), packed=True)
    accept = TargetAnswer("ACCEPT", "OK")
    return write_finding(out, Finding("specification", "|".join(map(str, operators)), built, accept, accept),
                         model, "loop", "accepts-everything")


@pytest.mark.long
def test_promote_then_check_then_conformance_run(tmp_path):
    corpus = tmp_path / "vectors"
    shutil.copytree(ROOT / "vectors", corpus)
    catalogue = _finding(tmp_path / "out", (("primus::attr::extractable-true", 0),))
    unexplained = _finding(tmp_path / "out", (("xml.remove", 3), ("bytes.flip", 1)))

    refused = hsmsim("vectors", "promote", str(unexplained), "--vectors", str(corpus))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "--expect REJECT:REASON" in refused.stderr and "Traceback" not in refused.stderr

    promoted = hsmsim("vectors", "promote", str(catalogue), "--vectors", str(corpus))
    assert promoted.returncode == 0, promoted.stderr
    by_person = hsmsim("vectors", "promote", str(unexplained), "--vectors", str(corpus), "--expect", "REJECT:MALFORMED")
    assert by_person.returncode == 0, by_person.stderr
    ids = [line.split()[1].rstrip(";") for line in (promoted.stdout, by_person.stdout)]
    assert all(vector_id.startswith("primus::fuzz::") for vector_id in ids)

    check = hsmsim("vectors", "check", "--vectors", str(corpus))
    assert check.returncode == 0 and check.stdout.startswith("OK"), check.stdout + check.stderr

    report = tmp_path / "report"
    run = hsmsim("conformance", "run", "--verifier", "examples/verifiers/reference.toml", "--vectors", str(corpus),
                 "--format", "primus", "-k", "primus::fuzz::*", "--report", str(report))
    assert run.returncode == 0, run.stdout + run.stderr
    junit = (report / "junit.xml").read_text()
    for vector_id in ids:
        assert vector_id in junit
    tests = json.loads((corpus / "primus_verify.json").read_text())["tests"]
    expected = {t["id"]: t["expectedReason"] for t in tests if t["id"] in ids}
    assert expected == {ids[0]: "ATTR_EXTRACTABLE", ids[1]: "MALFORMED"}
    # the finding that is one catalogue defect carries that defect's flags, so its severity: --fail-on judges it
    # as it judges the defect's own vector
    by_id = {t["id"]: t for t in tests}
    defect = by_id["primus::attr::extractable-true"]
    defect_flags = [f for f in defect["flags"] if f not in ("Resigned", "Stale")]
    assert set(defect_flags) <= set(by_id[ids[0]]["flags"]) and "FuzzFinding" in by_id[ids[0]]["flags"]
    assert by_id[ids[0]]["severity"] == defect["severity"]


def _case(fmt: str, golden: str, operators: tuple[tuple[str, int], ...]):
    model = load_model(fmt, SEED)
    built = build_case(model, FuzzCase(0, golden, operators, True), packed=True)
    accept = TargetAnswer("ACCEPT", "OK")
    return finding_case(Finding("robustness", "k", built, accept, accept), model, SEED, "t")


def test_a_finding_names_its_golden_by_full_id_and_claims_resigned_only_when_signed():
    """``provenance.golden`` is a golden vector's id; ``Resigned`` means the genuine key signed after the change
    (PROVENANCE_NOTES), so a change the key never signed is ``Stale``."""
    ids = set(json.loads((ROOT / "vectors" / "ids.json").read_text())["ids"])
    # purebred's golden ids have a kind segment; its (generic) model re-signs nothing
    purebred = _case("purebred", "yubikey::ec-p384", (("bytes.flip", 1),))
    assert purebred.provenance.golden == "purebred::golden::yubikey::ec-p384"
    assert purebred.provenance.golden in ids
    assert purebred.provenance.signing == "Stale" and "Stale" in purebred.flags
    # primus re-signs its XML: a field edit it re-signed is Resigned, an edit of the rendered zip after it is not
    signed = _case("primus", "rsa-3072", (("xml.remove", 3),))
    assert signed.provenance.golden == "primus::golden::rsa-3072" and signed.provenance.golden in ids
    assert signed.provenance.signing == "Resigned"
    zipped = _case("primus", "rsa-3072", (("zip.member-method", 0),))
    assert zipped.provenance.signing == "Stale"


def test_a_finding_that_is_one_catalogue_defect_carries_its_flags_in_every_kind_of_model():
    """primus's own fuzz model (catalogue mutations as operators) and purebred's generic one (catalogue vectors
    as operators): the defect's flags but the provenance ones; a case of no single defect carries none."""
    tests = {t["id"]: t for name in ("primus", "purebred")
             for t in json.loads((ROOT / "vectors" / f"{name}_verify.json").read_text())["tests"]}
    for fmt, golden, defect in (("primus", "rsa-3072", "primus::attr::extractable-true"),
                                ("purebred", "android::ec-p256", "purebred::binding::android-other-key")):
        case = _case(fmt, golden, ((defect, 0),))
        own = [f for f in tests[defect]["flags"] if f not in ("Resigned", "Stale", "Golden")]
        assert own and case.expected_from == defect
        assert list(case.flags) == ["FuzzFinding", case.provenance.signing, *own]
    assert _case("primus", "rsa-3072", (("xml.remove", 3),)).flags == ("FuzzFinding", "Resigned")
