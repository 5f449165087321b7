"""``hsmsim fuzz replay``: one finding's evidence put again to a (fixed) verifier.

The verifier runs in a worker process of its own, so a finding that killed the fuzzer's worker replays
as a CRASH (one that stalled it as a HANG) rather than taking the command down. The reference verifier
judges the evidence again too (it may have been fixed since), and the finding's oracle is applied as the
campaign applied it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hsmsim.fuzz.engine import FUZZ_PROFILE, ReferenceTarget, TargetAnswer, classify
from hsmsim.fuzz.findings import FindingFile, read_finding
from hsmsim.fuzz.targets import AdapterTarget, is_reference
from hsmsim.harness.workers import WorkerDied, WorkerPool, stall_timeout
from hsmsim.model.evidence import Evidence, TrustAnchors


@dataclass(frozen=True)
class Replay:
    """What the verifier and the reference said now, and the oracle that fires (None: the finding is fixed)."""

    finding: FindingFile
    target: TargetAnswer
    reference: TargetAnswer
    fires: str | None

    @property
    def reproduces(self) -> bool:
        """The finding's own oracle fires again."""
        return self.fires == self.finding.finding.kind


def _inputs(record: FindingFile) -> tuple[Evidence, TrustAnchors]:
    case = record.case
    return case.inputs.evidence(case.id.split("::")[0]), TrustAnchors({"root": case.trust.certificates()})


_target: AdapterTarget | None = None


def _start(adapter: str, format_name: str) -> None:
    global _target
    _target = AdapterTarget(Path(adapter), format_name)


def _verify(finding_dir: str) -> tuple[TargetAnswer, bool]:
    assert _target is not None
    record = read_finding(Path(finding_dir))
    evidence, trust = _inputs(record)
    answer = _target.verify(evidence, trust, record.case.trust.validation_time, FUZZ_PROFILE, case_id=record.case.id)
    self_test = is_reference(_target)
    _target.close()
    return answer, self_test


def replay(finding_dir: Path, adapter: Path) -> Replay:
    """Run the verifier described by ``adapter`` on the finding's evidence, in a worker process.

    Raises :class:`~hsmsim.corpus.build.CorpusError` when the finding is unreadable and
    :class:`~hsmsim.harness.config.AdapterConfigError` when the adapter is.
    """
    record = read_finding(finding_dir)
    format_name = record.case.id.split("::")[0]
    target = AdapterTarget(adapter, format_name)  # a bad adapter file is a usage error, before any process
    # A verifier in the worker stuck where its deadline cannot reach it (C code holding the GIL) stalls the worker:
    # the pool kills it, and the replay says HANG. A verifier process is awaited with a deadline that always fires.
    stall = stall_timeout(target.timeout) if target.in_process else None
    with WorkerPool(1, _verify, _start, (str(adapter), format_name), stall_timeout=stall) as pool:
        [(_, outcome)] = list(pool.run([str(finding_dir)]))
    if isinstance(outcome, WorkerDied):
        answer, self_test = TargetAnswer("HANG" if outcome.stalled else "CRASH", None, outcome.describe()), False
    else:
        answer, self_test = outcome
    evidence, trust = _inputs(record)
    reference = answer if self_test else ReferenceTarget(format_name).verify(
        evidence, trust, record.case.trust.validation_time, FUZZ_PROFILE, case_id=record.case.id)
    fires = classify(record.finding.kind == "specification", answer, reference, self_test=self_test)
    return Replay(record, answer, reference, fires)
