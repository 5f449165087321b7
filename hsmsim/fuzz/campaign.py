"""Run a fuzz campaign: workers judge cases in parallel, the parent deduplicates, minimises and writes.

Workers are separate processes (``-j N``, one with ``-j 1``) on the harness's
:class:`~hsmsim.harness.workers.WorkerPool`, each with its own model and target, an address-space bound, and an
in-process time bound per case; the parent runs no verifier. It keeps the first case of every dedup key, has a
worker minimise it, and writes it as a ready-to-add vector.

A worker that dies (a verifier calling ``os._exit`` or killing itself) takes only its task down: its
chunk of cases runs again one case per task, and the case that kills a worker again is a robustness
finding (CRASH, not minimised: a candidate that kills the worker says nothing about which one did). A
worker whose in-process verifier is stuck where the time bound cannot interrupt it (C code holding the
GIL) is killed by the pool once one case has run past its stall timeout, and goes the same way: the
case that stalls a worker again is a robustness finding, HANG.

Before any case, a worker puts the format's first golden bundle to the verifier: one that gives it no verdict would
make every case a robustness finding, and stops the campaign as misuse. Ctrl-C or SIGTERM ends a campaign early
keeping what it found: the findings until then are written, those not yet minimised as found.
"""

from __future__ import annotations

import functools
import json
import multiprocessing.util
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from hsmsim._atomic import output_directory, replace_file
from hsmsim.corpus.build import DEFAULT_SEED
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.formats import get_format
from hsmsim.fuzz.engine import (
    REFERENCE_TIMEOUT_S,
    ROBUSTNESS_VERDICTS,
    CampaignStats,
    CaseBuildError,
    CaseRunner,
    Finding,
    FuzzCase,
    ReferenceTarget,
    Target,
    TargetAnswer,
    build_case,
    dedup_key,
    plan_case,
    shard_indices,
)
from hsmsim.fuzz.findings import write_finding
from hsmsim.fuzz.generic import generic_fuzz_model, with_evidence_operators
from hsmsim.fuzz.targets import AdapterTarget, VerifierLostError, is_reference
from hsmsim.harness.text import one_line
from hsmsim.harness.vectors import validation_summary
from hsmsim.harness.workers import WorkerDied, WorkerPool, mark_progress, stall_timeout
from hsmsim.model.corpus_schema import WireModel
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.safeio import read_local_file
from hsmsim.verdict import Profile, escaped

CHUNK = 64
SUMMARY_FILE = "summary.json"
SUMMARY_FILE_LIMIT = 16 * 1024 * 1024
MEMORY_BOUND_BYTES = 2 * 1024**3


class FuzzError(HsmsimError):
    """The campaign cannot run as asked (unknown target, format without a fuzz model...)."""


TargetFactory = Callable[[], Target]


@dataclass(frozen=True)
class CampaignSpec:
    """Everything a worker needs to rebuild the campaign on its own."""

    format: str
    seed: str
    target: TargetFactory
    iterations: int | None = None
    duration: float | None = None
    shard: tuple[int, int] = (0, 1)
    jobs: int = 1
    start: int = 0
    without: tuple[str, ...] = ()
    """Operators left out of the model (e.g. those whose findings await a fix)."""

    def model(self) -> FuzzModel:
        """The format's model (:func:`load_model`) without the operators in :attr:`without`.

        Raises :class:`FuzzError` when ``without`` names an operator the model does not have.
        """
        model = load_model(self.format)
        unknown = set(self.without) - {op.name for op in model.operators}
        if unknown:
            raise FuzzError(f"{self.format} has no operator(s) {', '.join(sorted(unknown))}")
        return replace(model, operators=tuple(op for op in model.operators if op.name not in self.without))


class SummaryFinding(WireModel):
    """A finding as ``summary.json`` lists it."""

    slug: str
    kind: str
    key: str


class CampaignSummary(WireModel):
    """``summary.json``: what a campaign (or a merge of shards) ran and found."""

    format: str
    seed: str
    shard: str
    """``K/N``; ``0/1`` for a whole campaign (or a merge of every shard of one split)."""
    target: str
    executed: int
    skipped: int
    skipped_by: dict[str, int]
    seconds: float
    execs_per_second: float
    verdicts: dict[str, int]
    operator_hits: dict[str, int]
    operators_never_hit: list[str]
    findings: list[SummaryFinding]
    interrupted: bool = False
    """Ctrl-C or SIGTERM ended the run (or one of the merged runs) before its ``--iterations`` or ``--duration``:
    its findings are those found until then."""

    @classmethod
    def read(cls, out: Path) -> CampaignSummary:
        """The summary of the run written to ``out``; raises :class:`FuzzError` when there is none."""
        try:
            return cls.model_validate_json(read_local_file(out / SUMMARY_FILE, SUMMARY_FILE_LIMIT))
        except BundleError as exc:
            why = str(exc)
        except ValidationError as exc:
            why = validation_summary(exc)
        raise FuzzError(f"{escaped(str(out))} holds no readable {SUMMARY_FILE} (a 'hsmsim fuzz --out' directory): "
                        f"{why}")

    def write(self, out: Path) -> None:
        """Write ``out/summary.json`` (making ``out``) through :func:`hsmsim._atomic.replace_file`: what that name
        held (a file, a symlink) is replaced, never followed. Raises :class:`HsmsimError` or OSError."""
        output_directory(out)
        replace_file(out / SUMMARY_FILE, (json.dumps(self.wire(), indent=1) + "\n").encode())


@dataclass
class CampaignResult:
    """Counters, findings and where they were written."""

    stats: CampaignStats
    findings: list[Finding] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    interrupted: bool = False
    """Ctrl-C or SIGTERM ended the run early: the findings found until then were written, those not yet minimised
    as found."""
    unminimised: int = 0
    """How many of the findings are written as found, not minimised (an interrupted run's)."""


@functools.cache
def load_model(format_name: str, seed: str = DEFAULT_SEED) -> FuzzModel:
    """The format's own structure-aware fuzz model, else the catalogue-driven generic one; either way with the
    generic evidence-level operators (zip container, X.509 certificates) added.

    ``seed`` is the corpus seed the goldens come from (by default the committed corpus's, whose
    keys are cached); a campaign's own seed only picks its cases. Loaded once per process (a catalogue-driven
    model regenerates the format's vectors: seconds), and the campaign's workers are forked with it.
    """
    fmt = get_format(format_name)
    model = fmt.fuzz_model(seed)
    return with_evidence_operators(model if model is not None else generic_fuzz_model(format_name, seed))


_worker: CaseRunner | None = None
_worker_seed = ""
_worker_deadline: float | None = None
"""When a ``--duration`` campaign ends (``time.monotonic``, which every process of the machine shares): a chunk
stops there, so a verifier that hangs on every case costs at most one case timeout past it."""


def _init_worker(spec: CampaignSpec, deadline: float | None) -> None:
    global _worker, _worker_seed, _worker_deadline
    target = spec.target()
    # The bound is the in-process verifier's; a verifier process started from the worker would inherit it, and a
    # JVM, which reserves gigabytes of address space at start, could not start under it.
    if not isinstance(target, AdapterTarget) or target.in_process:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BOUND_BYTES, MEMORY_BOUND_BYTES))
    _worker = CaseRunner(spec.model(), target, self_test=is_reference(target), on_case=mark_progress)
    _worker_seed = spec.seed
    _worker_deadline = deadline
    # stop its verifier (and remove its scratch directory) when the worker process exits
    multiprocessing.util.Finalize(None, target.close, exitpriority=10)


def _stall_timeout(target: Target) -> float | None:
    """The worker pool's stall timeout for ``target``: from its own deadline when it runs in the worker (a
    ``python`` adapter; the built-in reference, and any other in-process target, at the reference's deadline).
    None for a verifier process: its deadline always fires, and starting it again within a case may take longer
    than a case (its ``hello_timeout_s``)."""
    if isinstance(target, AdapterTarget):
        return stall_timeout(target.timeout) if target.in_process else None
    return stall_timeout(target.timeout if isinstance(target, ReferenceTarget) else REFERENCE_TIMEOUT_S)


@dataclass(frozen=True)
class Found:
    """A case an oracle fired on, with what the target and the reference said."""

    kind: str
    key: str
    case: FuzzCase
    target: TargetAnswer
    reference: TargetAnswer
    killed_worker: bool = False
    """The case killed the worker process that ran it (twice: alone and in its chunk)."""


@dataclass(frozen=True)
class GoldenProbe:
    """A worker's task before any case: put the golden bundle ``golden``, unmutated, to the verifier."""

    golden: str


Task = list[int] | Found | GoldenProbe
"""A worker's task: a chunk of case indices to run, a finding to minimise, or the golden probe."""


@dataclass
class ChunkResult:
    """What a worker reports for one chunk of cases."""

    executed: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    found: list[Found] = field(default_factory=list)
    """Every case an oracle fired on."""


TaskAnswer = ChunkResult | Finding | TargetAnswer
"""A worker's answer to a :data:`Task` of each kind, in that order."""


def _run_chunk(indices: list[int]) -> ChunkResult:
    assert _worker is not None
    result = ChunkResult()
    for index in indices:
        if _worker_deadline is not None and time.monotonic() > _worker_deadline:
            break
        case = plan_case(_worker.model, _worker_seed, index)
        try:
            built, answer, reference, kind = _worker.judge(case)
        except CaseBuildError as exc:
            result.skipped[exc.why] += 1
            continue
        except VerifierLostError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in hsmsim's own case building: say which case, don't hang
            raise FuzzError(f"building or judging case {index} failed: {type(exc).__name__}: {exc}") from None
        result.executed += 1
        result.hits.update(name for name, _ in built.applied)
        result.verdicts[answer.verdict] += 1
        if kind is not None:
            result.found.append(Found(kind, dedup_key(kind, built, answer, reference), case, answer, reference))
    return result


def _minimise(found: Found) -> Finding:
    assert _worker is not None
    built, answer, reference = _worker.minimise(found.case, found.kind, found.key.split("|", 1)[1],
                                                (found.target, found.reference))
    return Finding(found.kind, dedup_key(found.kind, built, answer, reference), built, answer, reference, found.key)


def _work(task: Task) -> TaskAnswer:
    """A worker's task: run a chunk of cases, minimise one finding, or probe with a golden."""
    if isinstance(task, GoldenProbe):
        assert _worker is not None
        return _worker.probe(task.golden)
    return _minimise(task) if isinstance(task, Found) else _run_chunk(task)


def _chunks(spec: CampaignSpec, deadline: float | None) -> Iterator[list[int]]:
    total = spec.iterations if spec.iterations is not None else 10**12
    batch: list[int] = []
    for index in shard_indices(spec.start, total, spec.shard):
        batch.append(index)
        if len(batch) == CHUNK:
            yield batch
            batch = []
            if deadline is not None and time.monotonic() > deadline:
                return
    if batch:
        yield batch


def run_campaign(
    spec: CampaignSpec, out: Path | None = None, *, progress: Callable[[CampaignStats, int], None] | None = None,
    prepare: Callable[[], None] | None = None,
) -> CampaignResult:
    """Run the campaign on ``spec.jobs`` worker processes (one with one job), then minimise and (when ``out`` is
    given) write each distinct finding.

    A case that kills its worker process is a robustness finding (CRASH), one that stalls it past the pool's stall
    timeout (an in-process verifier stuck in C code) a robustness finding (HANG), and the campaign goes on; each
    worker bounds an in-process verifier's address space, and ends with this process (killed outright included),
    stopping the verifier processes it started. ``prepare`` is called once the campaign is known to be able to run
    (the model and its operators exist, the verifier starts, claims the format and answers its first golden bundle)
    and before any case runs: where a caller clears what an earlier campaign left in ``out``.

    Ctrl-C or SIGTERM (a :class:`KeyboardInterrupt`) during the cases or their minimisation ends the run there: the
    workers are stopped, and the findings found so far are written as a finished campaign's are, those not yet
    minimised as found (``interrupted`` and ``unminimised`` in the result; ``interrupted`` in ``summary.json``).
    A second interrupt while they are written leaves only whole findings and no ``summary.json``.

    Raises :class:`FuzzError` (one line) when the verifier answers its golden bundle with no verdict (ERROR, CRASH,
    HANG, MEMORY: every case would be a robustness finding) or SKIPPED, when it cannot be started again during the
    run, or when writing to ``out`` fails.
    """
    if spec.iterations is None and spec.duration is None:
        raise FuzzError("give --iterations or --duration")
    model = spec.model()  # an unknown operator in spec.without is a usage error, before any worker starts
    stats = CampaignStats()
    first: dict[str, Found] = {}
    started = time.monotonic()
    deadline = started + spec.duration if spec.duration is not None else None

    def absorb(result: ChunkResult) -> None:
        stats.executed += result.executed
        stats.operator_hits.update(result.hits)
        stats.verdicts.update(result.verdicts)
        stats.skipped.update(result.skipped)
        for found in result.found:  # the lowest case index, whatever order the workers finish in
            if found.key not in first or found.case.index < first[found.key].case.index:
                first[found.key] = found
        stats.seconds = time.monotonic() - started
        if progress:
            progress(stats, len(first))

    minimised: dict[str, Finding] = {}
    interrupted = False
    target = spec.target()
    _check_claims(target, spec.format)
    with WorkerPool(spec.jobs, _work, _init_worker, (spec, deadline), start_method="fork",
                    stall_timeout=_stall_timeout(target)) as pool:
        _probe_golden(pool, model, target.name)
        if prepare is not None:
            prepare()
        try:
            _run_in_pool(pool, spec, model, deadline, absorb)
            stats.seconds = time.monotonic() - started
            _minimise_all(first, pool, minimised)
        except KeyboardInterrupt:  # the pool's exit stops the workers; what was found is kept
            interrupted = True
            stats.seconds = time.monotonic() - started
    findings = _with_unminimised(first, minimised, model, target.packed)
    result = CampaignResult(stats, list(findings.values()), interrupted=interrupted,
                            unminimised=sum(finding.found_key not in minimised for finding in findings.values()))
    if out is not None:
        _write(out, result, spec, model, target.name)
    return result


def _probe_golden(pool: WorkerPool[Task, TaskAnswer], model: FuzzModel, name: str) -> None:
    """Put the model's first golden bundle to the verifier on a worker; raise :class:`FuzzError` when it gives no
    verdict (a wrong script path in a oneshot adapter, say), which would make every case a robustness finding, or
    declines it (SKIPPED), which would leave the campaign testing nothing. A verifier that rejects the golden is
    fuzzed: its differentials are findings of their own."""
    golden = model.goldens[0]
    for _, answer in pool.run([GoldenProbe(golden)]):
        if isinstance(answer, WorkerDied):
            said = f"{'HANG' if answer.stalled else 'CRASH'}: {answer.describe()}"
        elif isinstance(answer, TargetAnswer) and answer.verdict in ROBUSTNESS_VERDICTS | {"SKIPPED"}:
            said = " ".join(part for part in (answer.verdict, answer.reason) if part)
            said += f": {answer.detail}" if answer.detail else ""
        else:
            continue
        raise FuzzError(f"{name} gives no verdict for the golden bundle {model.golden_id(golden)} "
                        f"({one_line(said, 300)}); every case would be a robustness finding: fix the adapter or the "
                        "verifier first")


def _write(out: Path, result: CampaignResult, spec: CampaignSpec, model: FuzzModel, target_name: str) -> None:
    """Write each finding, then ``summary.json``, into ``out``; raises :class:`FuzzError` with one line when the
    file system refuses (``out`` was checked before the run, but the run can take hours)."""
    stats = result.stats
    try:
        output_directory(out)
        for finding in result.findings:
            result.written.append(write_finding(out, finding, model, spec.seed, target_name))
        summary = CampaignSummary(
            format=spec.format, seed=spec.seed, shard=f"{spec.shard[0]}/{spec.shard[1]}", target=target_name,
            executed=stats.executed, skipped=sum(stats.skipped.values()),
            skipped_by=dict(sorted(stats.skipped.items())),
            seconds=round(stats.seconds, 3), execs_per_second=round(stats.execs_per_second, 1),
            verdicts=dict(stats.verdicts), operator_hits=dict(sorted(stats.operator_hits.items())),
            operators_never_hit=sorted({op.name for op in model.operators} - set(stats.operator_hits)),
            findings=[SummaryFinding(slug=f.slug, kind=f.kind, key=f.key) for f in result.findings],
            interrupted=result.interrupted,
        )
        summary.write(out)
    except (OSError, HsmsimError) as exc:
        why = str(exc)
        if isinstance(exc, OSError):
            why = f"{exc.strerror or exc}{': ' + escaped(str(exc.filename)) if exc.filename else ''}"
        raise FuzzError(f"cannot write the campaign to {escaped(str(out))}: {why} ({len(result.findings)} finding(s), "
                        f"{len(result.written)} written; run it again with another --out)") from None


def _check_claims(target: Target, format_name: str) -> None:
    """Start an adapter's verifier once, before any case: one that cannot start, or whose hello does not claim
    ``format_name``, is misuse reported here (:class:`FuzzError`, or the adapter's own error), not a CRASH or a
    differential on every case."""
    if not isinstance(target, AdapterTarget):
        return
    info = target.hello()
    target.close()  # each worker starts its own verifier; none may be running when the workers are forked
    if not info.claims_format(format_name):
        claimed = ", ".join(info.formats) or "none"
        raise FuzzError(f"{target.name} does not claim format {format_name} (formats it claims: {claimed})")


def _run_in_pool(pool: WorkerPool[Task, TaskAnswer], spec: CampaignSpec, model: FuzzModel,
                 deadline: float | None, absorb: Callable[[ChunkResult], None]) -> None:
    """Run every chunk on the pool; a chunk whose worker died (or stalled) runs again case by case, and a case that
    kills its worker again becomes a CRASH finding (one that stalls it again a HANG finding)."""
    tasks: Iterable[Task] = _chunks(spec, deadline)
    while tasks:
        again: list[Task] = []
        for task, answer in pool.run(tasks):
            assert isinstance(task, list)
            if isinstance(answer, ChunkResult):
                absorb(answer)
            elif isinstance(answer, WorkerDied) and len(task) > 1:
                again += [[index] for index in task]
            elif isinstance(answer, WorkerDied):
                absorb(_worker_death(model, spec, task[0], answer))
        tasks = again


def _worker_death(model: FuzzModel, spec: CampaignSpec, index: int, died: WorkerDied) -> ChunkResult:
    """The chunk result of case ``index``, which killed its worker: a CRASH (a HANG when the pool killed the worker
    for stalling) judged against the reference here."""
    result = ChunkResult()
    case = plan_case(model, spec.seed, index)
    target = spec.target()
    try:
        built = build_case(model, case, packed=target.packed)
    except CaseBuildError as exc:  # the worker would have skipped it: it died of something else, once
        result.skipped[exc.why] += 1
        return result
    crash = TargetAnswer("HANG" if died.stalled else "CRASH", None, died.describe())
    reference = ReferenceTarget(model.format).verify(built.evidence, TrustAnchors({"root": model.anchors}),
                                                     model.validation_time, Profile.STRUCTURAL,
                                                     case_id=f"{model.format}::fuzz::case-{index}")
    result.executed = 1
    result.hits.update(name for name, _ in built.applied)
    result.verdicts[crash.verdict] += 1
    key = dedup_key("robustness", built, crash, reference)
    result.found.append(Found("robustness", key, case, crash, reference, killed_worker=True))
    return result


def _minimise_all(first: Mapping[str, Found], pool: WorkerPool[Task, TaskAnswer],
                  minimised: dict[str, Finding]) -> None:
    """Have workers minimise each first case but those that killed a worker, into ``minimised`` by found key as
    each is done (an interrupt keeps those done)."""
    for found, answer in pool.run([found for found in first.values() if not found.killed_worker]):
        assert isinstance(found, Found)
        if isinstance(answer, Finding):
            minimised[found.key] = answer


def _with_unminimised(first: Mapping[str, Found], minimised: Mapping[str, Finding], model: FuzzModel,
                      packed: bool) -> dict[str, Finding]:
    """The minimised findings, and as found each first case that was not minimised (it killed a worker, its worker
    died now, or the run was interrupted), deduplicated."""
    findings = dict(minimised)
    for key, found in first.items():
        if key not in findings:
            built = build_case(model, found.case, packed=packed)
            findings[key] = Finding(found.kind, found.key, built, found.target, found.reference, found.key)
    return deduplicated(findings.values())


def deduplicated(findings: Iterable[Finding]) -> dict[str, Finding]:
    """One finding per final key: the one of the first key before minimisation, in sorted order (then the
    lowest case index), so the choice does not depend on the order workers or shards finish in."""
    chosen: dict[str, Finding] = {}
    for finding in sorted(findings, key=lambda f: (f.found_key, f.built.case.index)):
        chosen.setdefault(finding.key, finding)
    return chosen


def reference_target(format_name: str) -> TargetFactory:
    """A picklable factory of the in-process reference verifier."""
    return _ReferenceFactory(format_name)


@dataclass(frozen=True)
class _ReferenceFactory:
    format: str

    def __call__(self) -> Target:
        return ReferenceTarget(self.format)
