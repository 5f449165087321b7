"""Run a fuzz campaign: workers judge cases in parallel, the parent deduplicates, minimises and writes.

Workers are separate processes (``-j N``), each with its own model and target, an address-space
bound, and an in-process time bound per case. The parent keeps the first case of every
dedup key, minimises it, and writes it as a ready-to-add vector.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from hsmsim.corpus.build import DEFAULT_SEED
from hsmsim.errors import HsmsimError
from hsmsim.formats import get_format
from hsmsim.fuzz.engine import (
    CampaignStats,
    CaseBuildError,
    CaseRunner,
    Finding,
    FuzzCase,
    ReferenceTarget,
    Target,
    dedup_key,
    plan_case,
    shard_indices,
)
from hsmsim.fuzz.findings import write_finding
from hsmsim.fuzz.generic import generic_fuzz_model, with_evidence_operators
from hsmsim.model.fuzz import FuzzModel

CHUNK = 64
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


@dataclass
class CampaignResult:
    """Counters, findings and where they were written."""

    stats: CampaignStats
    findings: list[Finding] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def load_model(format_name: str, seed: str = DEFAULT_SEED) -> FuzzModel:
    """The format's own structure-aware fuzz model, else the catalogue-driven generic one; either way with the
    generic evidence-level operators (zip container, X.509 certificates) added.

    ``seed`` is the corpus seed the goldens come from (by default the committed corpus's, whose
    keys are cached); a campaign's own seed only picks its cases.
    """
    fmt = get_format(format_name)
    model = fmt.fuzz_model(seed)
    return with_evidence_operators(model if model is not None else generic_fuzz_model(format_name, seed))


_worker: CaseRunner | None = None
_worker_seed = ""


def _init_worker(spec: CampaignSpec, bound_memory: bool) -> None:
    global _worker, _worker_seed
    if bound_memory:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BOUND_BYTES, MEMORY_BOUND_BYTES))
    _worker = CaseRunner(spec.model(), spec.target())
    _worker_seed = spec.seed


@dataclass
class ChunkResult:
    """What a worker reports for one chunk of cases."""

    executed: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    found: list[tuple[str, str, FuzzCase]] = field(default_factory=list)
    """(oracle, dedup key, case) of every case an oracle fired on."""


def _run_chunk(indices: list[int]) -> ChunkResult:
    assert _worker is not None
    result = ChunkResult()
    for index in indices:
        case = plan_case(_worker.model, _worker_seed, index)
        try:
            built, answer, reference, kind = _worker.judge(case)
        except CaseBuildError as exc:
            result.skipped[exc.why] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in hsmsim's own case building: say which case, don't hang
            raise FuzzError(f"building or judging case {index} failed: {type(exc).__name__}: {exc}") from None
        result.executed += 1
        result.hits.update(name for name, _ in built.applied)
        result.verdicts[answer.verdict] += 1
        if kind is not None:
            result.found.append((kind, dedup_key(kind, built, answer, reference), case))
    return result


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
) -> CampaignResult:
    """Run the campaign, then minimise and (when ``out`` is given) write each distinct finding."""
    if spec.iterations is None and spec.duration is None:
        raise FuzzError("give --iterations or --duration")
    spec.model()  # an unknown operator in spec.without is a usage error, before any worker starts
    stats = CampaignStats()
    first_case: dict[str, tuple[str, FuzzCase]] = {}
    started = time.monotonic()
    deadline = started + spec.duration if spec.duration is not None else None

    def absorb(result: ChunkResult) -> None:
        stats.executed += result.executed
        stats.operator_hits.update(result.hits)
        stats.verdicts.update(result.verdicts)
        stats.skipped.update(result.skipped)
        for kind, key, case in result.found:
            first_case.setdefault(key, (kind, case))
        stats.seconds = time.monotonic() - started
        if progress:
            progress(stats, len(first_case))

    if spec.jobs <= 1:
        _init_worker(spec, bound_memory=False)
        for chunk in _chunks(spec, deadline):
            absorb(_run_chunk(chunk))
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(spec.jobs, initializer=_init_worker, initargs=(spec, True)) as pool:
            for chunk_result in pool.imap_unordered(_run_chunk, _chunks(spec, deadline)):
                absorb(chunk_result)
    stats.seconds = time.monotonic() - started

    runner = CaseRunner(spec.model(), spec.target())
    result = CampaignResult(stats)
    minimised: dict[str, Finding] = {}
    for key, (kind, case) in sorted(first_case.items()):
        shown = key.split("|", 1)[1]
        built, answer, reference = runner.minimise(case, kind, shown)
        final_key = dedup_key(kind, built, answer, reference)
        minimised.setdefault(final_key, Finding(kind, final_key, built, answer, reference))
    for finding in minimised.values():
        result.findings.append(finding)
        if out is not None:
            result.written.append(write_finding(out, finding, runner.model, spec.seed, runner.target.name))
    runner.target.close()
    if out is not None:
        summary = {
            "format": spec.format, "seed": spec.seed, "shard": f"{spec.shard[0]}/{spec.shard[1]}",
            "target": runner.target.name, "executed": stats.executed, "skipped": sum(stats.skipped.values()),
            "skippedBy": dict(sorted(stats.skipped.items())), "seconds": round(stats.seconds, 3),
            "execsPerSecond": round(stats.execs_per_second, 1), "verdicts": dict(stats.verdicts),
            "operatorHits": dict(sorted(stats.operator_hits.items())),
            "operatorsNeverHit": sorted({op.name for op in runner.model.operators} - set(stats.operator_hits)),
            "findings": [{"slug": f.slug, "kind": f.kind, "key": f.key} for f in result.findings],
        }
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return result


def reference_target(format_name: str) -> TargetFactory:
    """A picklable factory of the in-process reference verifier."""
    return _ReferenceFactory(format_name)


@dataclass(frozen=True)
class _ReferenceFactory:
    format: str

    def __call__(self) -> Target:
        return ReferenceTarget(self.format)
