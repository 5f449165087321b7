"""The fuzzer: reproducible cases, disjoint shards, oracles that catch flawed verifiers, minimised findings."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime

import pytest

from hsmsim.corpus.build import CorpusError, build_corpus
from hsmsim.formats import get_format
from hsmsim.fuzz.campaign import CampaignSpec, load_model, reference_target, run_campaign
from hsmsim.fuzz.engine import (
    Finding,
    ReferenceTarget,
    TargetAnswer,
    build_case,
    plan_case,
    shard_indices,
    verdict_answer,
)
from hsmsim.fuzz.findings import promote, write_finding
from hsmsim.fuzz.generic import generic_fuzz_model
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Verdict

SEED = "hsmsim-corpus-v1"


@pytest.fixture(scope="module")
def model():
    return load_model("primus", SEED)


def test_cases_are_reproducible_from_the_seed(model):
    first = [plan_case(model, "s", i) for i in range(50)]
    assert first == [plan_case(model, "s", i) for i in range(50)]
    assert first != [plan_case(model, "t", i) for i in range(50)]
    case = first[7]
    one = build_case(model, case, packed=True).evidence.files
    assert one == build_case(model, case, packed=True).evidence.files


def test_shards_are_disjoint_and_cover_the_campaign():
    shards = [set(shard_indices(0, 1000, (k, 4))) for k in range(4)]
    assert set().union(*shards) == set(range(1000))
    assert sum(len(s) for s in shards) == 1000


def test_catalogue_operators_are_invalid_by_construction(model):
    by_name = {op.name: op for op in model.operators}
    assert by_name["primus::attr::extractable-true"].invalidating
    assert not by_name["primus::variant::unknown-element"].invalidating
    assert {"xml.set", "xml.remove", "bytes.flip", "chain.shuffle", "splice"} <= set(by_name)


@dataclass
class IgnoresAttributes:
    """A classic flaw: checks chain, signature and binding, never the key attributes."""

    name: str = "ignores-attributes"
    packed: bool = False

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        def run() -> Verdict:
            verdict = get_format("primus").verify(evidence, trust, at=at, profile=profile)
            return Verdict(Reason.OK) if verdict.reason.value.startswith("ATTR_") else verdict
        return verdict_answer(run, 5.0)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Factory:
    def __call__(self) -> IgnoresAttributes:
        return IgnoresAttributes()


def test_a_flawed_verifier_yields_minimised_findings_that_promote(tmp_path):
    spec = CampaignSpec(format="primus", seed="flaw-hunt", target=_Factory(), iterations=600)
    result = run_campaign(spec, tmp_path / "out")
    kinds = {f.kind for f in result.findings}
    assert "specification" in kinds and "differential" in kinds
    spec_findings = [f for f in result.findings if f.kind == "specification"]
    for finding in spec_findings:
        assert finding.target.verdict == "ACCEPT" and finding.reference.verdict == "REJECT"
        assert finding.reference.reason.startswith("ATTR_")
    assert any(len(f.built.applied) == 1 for f in spec_findings), "findings are minimised"
    finding_dir = result.written[result.findings.index(spec_findings[0])]
    record = json.loads((finding_dir / "finding.json").read_text())
    assert record["vector"]["profiles"]["structural"]["result"] == "invalid"
    assert record["finding"]["targetVerdict"] == "ACCEPT"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["executed"] == 600 and summary["operatorHits"]

    corpus = tmp_path / "corpus"
    build_corpus(corpus, seed=SEED, formats=["primus"])
    vector_id = promote(finding_dir, corpus)
    build_corpus(corpus, seed=SEED, formats=["primus"])
    tests = json.loads((corpus / "primus_verify.json").read_text())["tests"]
    promoted = next(t for t in tests if t["id"] == vector_id)
    assert vector_id.startswith("primus::fuzz::") and "FuzzFinding" in promoted["flags"]
    assert (corpus / promoted["inputs"]["dir"]).is_dir()


def test_a_case_the_reference_cannot_judge_is_written_but_not_promotable(tmp_path, model, monkeypatch):
    built = build_case(model, plan_case(model, "crash", 0), packed=False)
    crash = TargetAnswer("CRASH", None, "ValueError: boom")
    monkeypatch.setattr(ReferenceTarget, "verify", lambda *args, **kwargs: crash)
    finding = Finding("robustness", "key", built, crash, crash)
    directory = write_finding(tmp_path, finding, model, "crash", "reference")
    record = json.loads((directory / "finding.json").read_text())
    assert record["vector"] is None and record["finding"]["targetDetail"] == "ValueError: boom"
    with pytest.raises(CorpusError, match="no verdict"):
        promote(directory, tmp_path / "corpus")


def test_reference_verifier_survives_its_own_campaign(tmp_path):
    spec = CampaignSpec(format="primus", seed="self-test", target=reference_target("primus"), iterations=1500, jobs=2)
    result = run_campaign(spec, tmp_path)
    assert result.stats.executed == 1500
    assert [f.key for f in result.findings] == []
    assert result.stats.verdicts["ACCEPT"] > 0 and result.stats.verdicts["REJECT"] > 0
    # verify_guarded's INTERNAL_ERROR is a CRASH to the fuzzer: the smoke never needed the guard
    assert set(result.stats.verdicts) <= {"ACCEPT", "REJECT"}


def test_cli_runs_and_reports(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--iterations", "200",
                             "--out", str(tmp_path), "--seed", "cli"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "200 cases" in result.stdout and (tmp_path / "summary.json").exists()
    bad = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--iterations or --duration" in bad.stderr


@dataclass
class AcceptsEverything:
    """The worst verifier: every case is ACCEPT."""

    name: str = "accepts-everything"
    packed: bool = False

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        return TargetAnswer("ACCEPT", "OK")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _AcceptsEverythingFactory:
    def __call__(self) -> AcceptsEverything:
        return AcceptsEverything()


@pytest.mark.parametrize("format_name", ["marvell-azure", "marvell-google", "luna-pkc", "fortanix"])
def test_every_format_fuzzes_through_its_catalogue(format_name, tmp_path):
    model = generic_fuzz_model(format_name, SEED)
    assert any(op.catalogue and op.invalidating for op in model.operators)
    assert {"bytes.flip", "bytes.truncate", "bytes.extend", "splice"} <= {op.name for op in model.operators}
    own = run_campaign(CampaignSpec(format=format_name, seed="self", target=reference_target(format_name),
                                    iterations=300))
    assert own.findings == [] and own.stats.executed == 300
    flawed = run_campaign(CampaignSpec(format=format_name, seed="worst", target=_AcceptsEverythingFactory(),
                                       iterations=300))
    kinds = {f.kind for f in flawed.findings}
    assert {"specification", "differential"} <= kinds


@pytest.mark.parametrize("format_name", ["marvell-azure", "marvell-google"])
def test_marvell_has_a_structure_aware_model(format_name):
    model = load_model(format_name, SEED)
    names = {op.name for op in model.operators}
    assert {"tlv.set", "tlv.remove", "tlv.duplicate", "tlv.swap", "blob.bytes", "certs.shuffle"} <= names
    own = run_campaign(CampaignSpec(format=format_name, seed="marvell-self", target=reference_target(format_name),
                                    iterations=400))
    assert own.findings == [] and own.stats.operator_hits["tlv.set"] > 0
