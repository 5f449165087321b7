"""The fuzzer: reproducible cases, disjoint shards, oracles that catch flawed verifiers, minimised findings."""

from __future__ import annotations

import bz2
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.corpus.build import CorpusError, build_corpus
from hsmsim.formats import get_format
from hsmsim.fuzz import campaign
from hsmsim.fuzz.campaign import CampaignSpec, load_model, reference_target, run_campaign
from hsmsim.fuzz.engine import (
    CaseBuildError,
    CaseRunner,
    Finding,
    FuzzCase,
    ReferenceTarget,
    TargetAnswer,
    build_case,
    plan_case,
    shard_indices,
    time_bound,
    verdict_answer,
)
from hsmsim.fuzz.findings import parse_expectation, promote, write_finding
from hsmsim.fuzz.generic import (
    BZIP2_BOMB,
    duplicate_extension,
    generic_fuzz_model,
    plan_bzip2_bomb,
    plan_declared_size,
    plan_duplicate_extension,
    plan_member_method,
)
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Verdict

SEED = "hsmsim-corpus-v1"
HOSTILE_OPERATORS = ("zip.bzip2-bomb", "x509.duplicate-extension")
"""Generic operators that found reference-verifier bugs (issue 12: bzip2 members inflated unbounded, a duplicated
extension raising in the chain walk); both must now end in a REJECT."""


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
    assert record["case"]["profiles"]["structural"]["result"] == "invalid"
    assert record["case"]["expectedFrom"] == spec_findings[0].built.applied[0][0]
    assert record["finding"]["targetVerdict"] == "ACCEPT"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["executed"] + summary["skipped"] == 600 and summary["operatorHits"]

    corpus = tmp_path / "corpus"
    build_corpus(corpus, seed=SEED, formats=["primus"])
    vector_id = promote(finding_dir, corpus)
    build_corpus(corpus, seed=SEED, formats=["primus"])
    tests = json.loads((corpus / "primus_verify.json").read_text())["tests"]
    promoted = next(t for t in tests if t["id"] == vector_id)
    assert vector_id.startswith("primus::fuzz::") and "FuzzFinding" in promoted["flags"]
    assert (corpus / promoted["inputs"]["dir"]).is_dir()


def test_a_finding_no_catalogue_defect_explains_needs_a_persons_verdict(tmp_path, model):
    """The reference verifier's answer is never the expectation: it would make the reference check itself."""
    built = build_case(model, FuzzCase(0, "rsa-3072", (("xml.remove", 3), ("bytes.flip", 1)), False), packed=False)
    crash = TargetAnswer("CRASH", None, "ValueError: boom")
    finding = Finding("robustness", "key", built, crash, TargetAnswer("REJECT", "MALFORMED"))
    directory = write_finding(tmp_path, finding, model, "crash", "reference")
    record = json.loads((directory / "finding.json").read_text())
    assert record["case"]["profiles"] is None and record["case"]["expectedFrom"] is None
    assert record["finding"]["targetDetail"] == "ValueError: boom"
    assert record["finding"]["referenceReason"] == "MALFORMED"
    with pytest.raises(CorpusError, match="--expect REJECT:REASON or --expect ACCEPT"):
        promote(directory, tmp_path / "corpus")
    vector_id = promote(directory, tmp_path / "corpus", parse_expectation("REJECT:SIGNATURE_INVALID"))
    [draft] = json.loads((tmp_path / "corpus" / "promoted" / "primus.json").read_text())
    assert draft["id"] == vector_id and {p["reason"] for p in draft["profiles"].values()} == {"SIGNATURE_INVALID"}
    for bad in ("REJECT", "REJECT:OK", "REJECT:NOPE", "ACCEPT:OK", "maybe"):
        with pytest.raises(CorpusError, match="ACCEPT or REJECT:REASON"):
            parse_expectation(bad)


def test_a_persons_verdict_cannot_contradict_the_catalogue(tmp_path, model):
    built = build_case(model, FuzzCase(0, "rsa-3072", (("primus::attr::extractable-true", 0),), False), packed=False)
    assert built.applied and len(built.applied) == 1
    accept = TargetAnswer("ACCEPT", "OK")
    directory = write_finding(tmp_path, Finding("specification", "key", built, accept, accept), model, "s", "t")
    with pytest.raises(CorpusError, match=r"expects .*not structural OK"):
        promote(directory, tmp_path / "corpus", parse_expectation("ACCEPT"))
    vector_id = promote(directory, tmp_path / "corpus")  # the catalogue's verdict, though the reference said ACCEPT
    [draft] = json.loads((tmp_path / "corpus" / "promoted" / "primus.json").read_text())
    assert draft["id"] == vector_id and draft["profiles"]["structural"]["result"] == "invalid"


def test_reference_verifier_survives_its_own_campaign(tmp_path):
    spec = CampaignSpec(format="primus", seed="self-test", target=reference_target("primus"), iterations=1500, jobs=2)
    result = run_campaign(spec, tmp_path)
    assert result.stats.executed + sum(result.stats.skipped.values()) == 1500
    assert [f.key for f in result.findings] == []
    assert result.stats.verdicts["ACCEPT"] > 0 and result.stats.verdicts["REJECT"] > 0
    # verify_guarded's INTERNAL_ERROR is a CRASH to the fuzzer: the smoke never needed the guard
    assert set(result.stats.verdicts) <= {"ACCEPT", "REJECT"}


def test_cli_runs_and_reports(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--iterations", "200",
                             "--out", str(tmp_path), "--seed", "cli"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["executed"] + summary["skipped"] == 200
    assert f"{summary['executed']} cases, {summary['skipped']} skipped" in result.stdout
    assert set(HOSTILE_OPERATORS) <= set(summary["operatorHits"]) | set(summary["operatorsNeverHit"])
    bad = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--iterations or --duration" in bad.stderr
    unknown = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--iterations", "1",
                              "--without-operator", "zip.nope", "--out", str(tmp_path / "new")],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "primus has no operator(s) zip.nope" in unknown.stderr


def test_cli_out_is_checked_before_the_campaign_and_never_mixes_campaigns(tmp_path):
    """A million iterations would run for minutes: each refusal comes first, in one line with exit 2."""
    def fuzz(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--iterations", "1000000",
                               "--out", str(out), *extra], capture_output=True, text=True, timeout=60)

    (tmp_path / "file").write_text("")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "summary.json").write_text("{}")
    for out, message in [(tmp_path / "file", "exists and is not a directory"),
                         (tmp_path / "fifo", "exists and is not a directory"),
                         (Path("/dev/null"), "exists and is not a directory"),
                         (tmp_path / ("a" * 5000), "File name too long"),
                         (tmp_path / "used", "is not empty (a campaign of an earlier run?); pass --overwrite")]:
        result = fuzz(out)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], (out, result.stderr)
    assert (tmp_path / "used" / "summary.json").read_text() == "{}"
    (tmp_path / "used" / "findings" / "old").mkdir(parents=True)
    replaced = subprocess.run([sys.executable, "-m", "hsmsim", "fuzz", "--format", "primus", "--iterations", "5",
                               "--out", str(tmp_path / "used"), "--overwrite"], capture_output=True, text=True,
                              timeout=300)
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((tmp_path / "used" / "summary.json").read_text())["executed"] > 0
    assert not (tmp_path / "used" / "findings").exists()


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
    assert own.findings == [] and own.stats.executed + sum(own.stats.skipped.values()) == 300
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


def test_an_operator_that_cannot_apply_skips_its_case_and_is_counted(tmp_path, monkeypatch):
    """Case 1511 of ``hsmsim fuzz --format marvell-azure --seed rt-marvell-azure`` stacked these two catalogue
    defects: both edit the JSON text when the bench renders, and the second no longer finds what it replaces."""
    colliding = (("marvell-azure::encoding::version-mrvl-2", 0), ("marvell-azure::encoding::duplicate-json-key", 0))
    plan = campaign.plan_case

    def plan_with_collision(model, seed, index):
        case = plan(model, seed, index)
        return replace(case, golden="rsa-3072", operators=colliding, havoc=None) if index == 1 else case

    monkeypatch.setattr(campaign, "plan_case", plan_with_collision)
    spec = CampaignSpec(format="marvell-azure", seed="rt-marvell-azure", target=reference_target("marvell-azure"),
                        iterations=3)
    result = run_campaign(spec, tmp_path)
    assert (result.stats.executed, sum(result.stats.skipped.values())) == (2, 1)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["executed"] == 2 and summary["skipped"] == 1
    [(why, count)] = summary["skippedBy"].items()
    assert count == 1 and why.startswith("marvell-azure::encoding::version-mrvl-2+") and "MutationError" in why


# -- generic evidence-level operators ------------------------------------------------------------------

@pytest.fixture(scope="module")
def packed(model):
    """The packed evidence files of the RSA-3072 golden, and the name of its zip."""
    files = dict(model.render(model.open("rsa-3072"), True).files)
    return files, next(name for name in files if name.endswith(".zip"))


def _member(files: dict[str, bytes], name: str, path: str) -> zipfile.ZipInfo:
    member = path.split("!", 1)[1].split(":", 1)[0]
    return zipfile.ZipFile(io.BytesIO(files[name])).getinfo(member)


def test_evidence_operators_are_offered_where_they_find_their_target(model):
    names = {op.name for op in model.operators}
    assert {"zip.member-method", "zip.declared-size", "zip.bzip2-bomb", "x509.duplicate-extension"} <= names
    for format_name in ("marvell-azure", "marvell-google", "luna-pkc", "fortanix"):
        names = {op.name for op in load_model(format_name, SEED).operators}
        assert "x509.duplicate-extension" in names and not any(n.startswith("zip.") for n in names), format_name


def test_zip_member_method_keeps_the_content_under_another_method(packed):
    golden, name = packed
    methods = set()
    for subseed in range(8):
        files = dict(golden)
        path, edit = plan_member_method(files, random.Random(subseed))
        edit(files)
        info = _member(files, name, path)
        methods.add(info.compress_type)
        original = zipfile.ZipFile(io.BytesIO(golden[name])).read(info.filename)
        assert zipfile.ZipFile(io.BytesIO(files[name])).read(info.filename) == original
        assert path.endswith({zipfile.ZIP_STORED: "stored", zipfile.ZIP_BZIP2: "bzip2",
                              zipfile.ZIP_LZMA: "lzma"}[info.compress_type])
    assert methods == {zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def test_zip_declared_size_changes_both_headers(packed):
    golden, name = packed
    files = dict(golden)
    path, edit = plan_declared_size(files, random.Random(3))
    edit(files)
    field_name, old, _, new = path.rsplit(" ", 4)[-4:]
    info = _member(files, name, path)
    central = info.compress_size if field_name == "compressed" else info.file_size
    local = struct.unpack_from("<I", files[name], info.header_offset + (18 if field_name == "compressed" else 22))[0]
    assert central == local == int(new) != int(old)


def test_bzip2_bomb_declares_the_members_real_size(packed):
    golden, name = packed
    files = dict(golden)
    path, edit = plan_bzip2_bomb(files, random.Random(0))
    edit(files)
    info = _member(files, name, path)
    original = zipfile.ZipFile(io.BytesIO(golden[name])).getinfo(info.filename)
    assert (info.compress_type, info.compress_size) == (zipfile.ZIP_BZIP2, len(BZIP2_BOMB))
    assert (info.file_size, info.CRC) == (original.file_size, original.CRC)
    decompressor = bz2.BZ2Decompressor()
    inflated = len(decompressor.decompress(BZIP2_BOMB, 1 << 20))
    while not decompressor.eof:
        inflated += len(decompressor.decompress(b"", 1 << 20))
    assert inflated == 128 << 20


def test_duplicate_extension_makes_a_certificate_cryptography_refuses(model, packed):
    der = model.anchors[0].public_bytes(Encoding.DER)
    mutated, oid = duplicate_extension(der, 1)
    assert oid == model.anchors[0].extensions[1].oid.dotted_string
    with pytest.raises(x509.DuplicateExtension):
        _ = x509.load_der_x509_certificate(mutated).extensions
    golden, name = packed
    files = dict(golden)
    path, edit = plan_duplicate_extension(files, random.Random(0))
    edit(files)
    assert path.startswith(f"{name}!PrimusHSM_Attestation.crt: pem certificate #") and path.endswith(" twice")
    assert files[name] != golden[name] and {n: d for n, d in files.items() if n != name} == \
        {n: d for n, d in golden.items() if n != name}


def test_hostile_operators_are_rejected_by_the_reference_verifier(model):
    """What these operators found before the issue-12 fixes (CRASH DuplicateExtension, MEMORY) is now a REJECT."""
    runner = CaseRunner(model, ReferenceTarget("primus"))
    for name in HOSTILE_OPERATORS:
        built, answer, _, _ = runner.judge(FuzzCase(0, "rsa-3072", ((name, 0),), False))
        assert "PrimusHSM_Attestation.crt" in built.applied[0][1] or name != "x509.duplicate-extension"
        assert answer.verdict == "REJECT", (name, answer)



def test_the_verifiers_own_key_beside_the_evidence_is_held_fixed():
    """ms-kast lays the CA's exchange key (the verifier's configuration, which opens the AIK info) beside each
    request: like the trust anchors, no random operator or havoc mutates it; the request still is mutated."""
    model = load_model("ms-kast", SEED)
    assert model.verifier_files and all(name.endswith(".ca-exchange.p8") for name in model.verifier_files)
    catalogue = {op.name for op in model.operators if op.catalogue}
    touched = set()
    for index in range(400):
        case = plan_case(model, "held", index)
        if catalogue & {name for name, _ in case.operators}:  # a catalogue vector replaces every file
            continue
        try:
            built = build_case(model, case, packed=False)
        except CaseBuildError:
            continue
        golden = model.render(model.open(case.golden), False).files
        changed = {name for name, data in built.evidence.files.items() if data != golden.get(name)}
        assert not changed & model.verifier_files, case
        touched |= changed
    assert any(name.endswith(".kast.cmc") for name in touched)


def test_havoc_never_mutates_the_verifiers_configuration_even_when_nothing_else_is_there():
    """Havoc picks as the byte-level operators do: with every file fixed it has nothing to mutate."""
    from hsmsim.fuzz.engine import _havoc
    from hsmsim.model.evidence import Evidence
    from hsmsim.mutate import MutationError

    evidence = Evidence("ms-kast", {"a.p8": b"key", "b.cmc": b"request"}, "b.cmc")
    assert _havoc(evidence, 1, frozenset({"a.p8"}))[1] == "b.cmc"
    with pytest.raises(MutationError):
        _havoc(evidence, 1, frozenset(evidence.files))


@pytest.mark.parametrize("format_name", ["purebred", "csr-attestation", "webauthn"])
def test_the_catalogue_model_fuzzes_every_golden(format_name):
    """Goldens of one key spec in several kinds (purebred's yubikey::ec-p256 and android::ec-p256) stay apart."""
    from hsmsim.fuzz.generic import generic_fuzz_model

    model = generic_fuzz_model(format_name, "hsmsim-corpus-v1")
    cases = get_format(format_name).vector_cases("hsmsim-corpus-v1")
    golden_ids = {case.id for case in cases if "Golden" in case.flags}
    assert set(model.golden_ids.values()) == golden_ids
    assert len(model.goldens) == len(golden_ids)


def test_a_catalogue_whose_provenance_cycles_still_builds_its_model(monkeypatch):
    """A plugin's catalogue may name, by mistake, two mutated vectors as each other's golden: the model is built
    (neither replays, having no golden), rather than the walk up the provenance looping forever."""
    from dataclasses import replace

    from hsmsim.fuzz.generic import generic_fuzz_model

    fmt = get_format("primus")
    cases = fmt.vector_cases("hsmsim-corpus-v1")
    first, second = [case for case in cases if case.provenance.golden][:2]
    cycled = [replace(first, provenance=replace(first.provenance, golden=second.id)),
              replace(second, provenance=replace(second.provenance, golden=first.id))]
    rest = [case for case in cases if case.id not in (first.id, second.id)]
    monkeypatch.setattr(type(fmt), "vector_cases", lambda _self, _seed: [*rest, *cycled])
    model = generic_fuzz_model("primus", "hsmsim-corpus-v1")
    catalogue = {op.name for op in model.operators}
    assert model.goldens and first.id not in catalogue and second.id not in catalogue


@dataclass
class _FlakyTarget:
    """Accepts everything on its first call only, then rejects: a verifier whose answer does not reproduce."""

    calls: int = 0
    packed: bool = False
    name: str = "flaky"

    def verify(self, evidence, trust, at, profile, *, case_id):
        self.calls += 1
        return TargetAnswer("ACCEPT" if self.calls == 1 else "REJECT", None if self.calls == 1 else "MALFORMED")

    def close(self) -> None:
        pass


def test_minimising_a_flaky_targets_finding_keeps_the_judgement_the_oracle_fired_on(model):
    target = _FlakyTarget()
    runner = CaseRunner(model, target)
    case = next(c for c in (plan_case(model, "flaky", i) for i in range(200))
                if len(c.operators) > 1 and _rejected(model, c))
    built, answer, reference, kind = runner.judge(case)
    assert answer.verdict == "ACCEPT" and kind is not None
    shown = campaign.dedup_key(kind, built, answer, reference).split("|", 1)[1]
    _built, minimised_answer, _reference = runner.minimise(case, kind, shown, (answer, reference))
    assert minimised_answer == answer, "the finding is still the ACCEPT it was found with, not the later REJECT"
    assert target.calls > 1, "minimisation tried smaller cases"
    calls = target.calls
    runner.minimise(case, kind, shown, (answer, reference), budget=0)
    assert target.calls == calls, "no candidate is tried past the budget"


def _rejected(model, case: FuzzCase) -> bool:
    try:
        return CaseRunner(model, ReferenceTarget("primus")).judge(case)[1].verdict == "REJECT"
    except CaseBuildError:
        return False


# -- the in-process bookkeeping ---------------------------------------------------------------------------------------

def _grow(mebibytes: int) -> Verdict:
    block = bytearray(mebibytes << 20)
    block[::4096] = b"\x01" * len(block[::4096])  # touched: resident, not only reserved
    return Verdict(Reason.OK)


def _memory_answers() -> tuple[str, str]:
    return verdict_answer(lambda: _grow(8), 5.0).verdict, verdict_answer(lambda: _grow(96), 5.0).verdict


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="the kernel resets no resident peak here")
def test_the_memory_budget_holds_per_case_and_in_a_forked_worker():
    # The /proc descriptors are kept open per process: a forked worker must read its own figures, not its parent's.
    assert _memory_answers() == ("ACCEPT", "MEMORY")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, json.dumps(_memory_answers()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answers = json.loads(pipe.read() or "null")
    os.waitpid(child, 0)
    assert answers == ["ACCEPT", "MEMORY"]
    assert _memory_answers() == ("ACCEPT", "MEMORY")


def test_a_catalogue_defect_from_memory_is_the_defect_applied_afresh(model):
    # Primus remembers each catalogue defect applied to its untouched golden: the cases must be byte for byte those
    # of the defect applied to a fresh golden, whether alone, first or after another operator.
    from hsmsim.formats.primus.catalogue import PrimusKit, Workbench, mutations

    kit = PrimusKit.build(SEED)
    defects = {m.id: m for m in mutations()}
    catalogue = [op for op in model.operators if op.catalogue][:12]
    assert catalogue
    for op in catalogue:
        golden = op.goldens[0]
        for _ in range(2):  # the second time from memory
            built = build_case(model, FuzzCase(0, golden, ((op.name, 1),), False), packed=True)
            fresh = Workbench.open(kit, golden)
            defects[op.name].apply(fresh)
            assert built.evidence.files == fresh.evidence().files, op.name
            assert built.applied == ((op.name, defects[op.name].path),)
        stacked = build_case(model, FuzzCase(0, golden, (("xml.swap", 7), (op.name, 1)), False), packed=True)
        replayed = build_case(model, FuzzCase(0, golden, (("xml.swap", 7), (op.name, 1)), False), packed=True)
        assert stacked.evidence.files == replayed.evidence.files


def test_an_alarm_due_as_the_time_bound_ends_is_ignored_and_the_handler_restored(monkeypatch):
    """The alarm comes due between the block's end and the timer's disarm: the clean-up neither raises nor leaves
    the bound's handler installed."""
    def before(_signum, _frame):
        raise AssertionError("the previous handler must not run for the bound's own alarm")

    disarm = signal.setitimer

    def due_then_disarm(which, seconds, interval=0.0):
        if seconds == 0:
            signal.raise_signal(signal.SIGALRM)  # handled at the next bytecode, inside the bound's clean-up
        return disarm(which, seconds, interval)

    previous = signal.signal(signal.SIGALRM, before)
    try:
        monkeypatch.setattr(signal, "setitimer", due_then_disarm)
        with time_bound(5.0):
            pass
        monkeypatch.undo()
        assert signal.getsignal(signal.SIGALRM) is before
    finally:
        signal.signal(signal.SIGALRM, previous)
