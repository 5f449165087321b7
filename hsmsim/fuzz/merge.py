"""``hsmsim fuzz merge``: the output directories of shards (``--shard K/N``) as one campaign's.

Findings are deduplicated as a campaign deduplicates them (one per final key, chosen by the key of the
case before minimisation, then the lowest case index); counters are summed.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hsmsim.corpus.build import CorpusError
from hsmsim.fuzz.campaign import CampaignSummary, FuzzError, SummaryFinding
from hsmsim.fuzz.findings import FindingReport, read_finding


@dataclass(frozen=True)
class MergedFinding:
    """One finding of the merge: its report and the directory it is copied from."""

    report: FindingReport
    source: Path


@dataclass(frozen=True)
class Merged:
    """The merged summary and the findings kept."""

    summary: CampaignSummary
    findings: tuple[MergedFinding, ...]


def _summed(counters: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return dict(sorted(total.items()))


def _shards(shards: list[str]) -> str:
    """``0/1`` when the shards are every shard of one split, else the shards joined by commas."""
    parsed = {tuple(int(part) for part in shard.split("/")) for shard in shards}
    splits = {n for _, n in parsed}
    if len(splits) == 1 and {k for k, _ in parsed} == set(range(next(iter(splits)))):
        return "0/1"
    return ",".join(sorted(shards))


def _findings(run: Path) -> list[MergedFinding]:
    directory = run / "findings"
    try:
        return [MergedFinding(read_finding(path).finding, path)
                for path in sorted(directory.iterdir() if directory.is_dir() else ())]
    except CorpusError as exc:
        raise FuzzError(str(exc)) from None


def merge_runs(runs: list[Path]) -> Merged:
    """The merge of ``runs`` (each a ``hsmsim fuzz --out`` directory of the same format, seed and target).

    ``seconds`` is the slowest run's (shards run side by side). Raises :class:`FuzzError` when a run is
    unreadable, the runs differ in format, seed or target, or a shard appears twice (its cases would count twice).
    """
    summaries = [CampaignSummary.read(run) for run in runs]
    for name in ("format", "seed", "target"):
        values = {getattr(summary, name) for summary in summaries}
        if len(values) > 1:
            raise FuzzError(f"the runs differ in {name}: {', '.join(sorted(values))}")
    shards = [summary.shard for summary in summaries]
    repeated = sorted(shard for shard, count in Counter(shards).items() if count > 1)
    if repeated:
        raise FuzzError(f"shard {repeated[0]} appears in more than one run")
    chosen: dict[str, MergedFinding] = {}
    candidates = [finding for run in runs for finding in _findings(run)]
    for candidate in sorted(candidates, key=lambda c: (c.report.found_key, c.report.case_index)):
        chosen.setdefault(candidate.report.key, candidate)
    hits = _summed(summary.operator_hits for summary in summaries)
    operators = set(hits).union(*(summary.operators_never_hit for summary in summaries))
    executed = sum(summary.executed for summary in summaries)
    seconds = max(summary.seconds for summary in summaries)
    first = summaries[0]
    summary = CampaignSummary(
        format=first.format, seed=first.seed, shard=_shards(shards), target=first.target, executed=executed,
        skipped=sum(summary.skipped for summary in summaries),
        skipped_by=_summed(summary.skipped_by for summary in summaries), seconds=seconds,
        execs_per_second=round(executed / seconds, 1) if seconds else 0.0,
        verdicts=_summed(summary.verdicts for summary in summaries), operator_hits=hits,
        operators_never_hit=sorted(operators - set(hits)),
        findings=[SummaryFinding(slug=c.source.name, kind=c.report.kind, key=c.report.key) for c in chosen.values()],
    )
    return Merged(summary, tuple(chosen.values()))


def write_merged(merged: Merged, out: Path) -> list[Path]:
    """Write ``out/summary.json`` and copy each kept finding to ``out/findings/<slug>``; returns their directories.

    Raises :class:`FuzzError` when ``out`` already holds findings (a merge never mixes with an older run).
    """
    if (out / "findings").exists() and any((out / "findings").iterdir()):
        raise FuzzError(f"{out}/findings is not empty; merge into a new directory")
    written = []
    for finding in merged.findings:
        target = out / "findings" / finding.source.name
        shutil.copytree(finding.source, target)
        written.append(target)
    out.mkdir(parents=True, exist_ok=True)
    merged.summary.write(out)
    return written
