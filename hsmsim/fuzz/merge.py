"""``hsmsim fuzz merge``: the output directories of shards (``--shard K/N``) as one campaign's.

Findings are deduplicated as a campaign deduplicates them (one per final key, chosen by the key of the
case before minimisation, then the lowest case index); counters are summed.
"""

from __future__ import annotations

import itertools
import math
import os
import stat
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hsmsim._atomic import write_new_files
from hsmsim.corpus.build import CorpusError
from hsmsim.errors import BundleError
from hsmsim.fuzz.campaign import CampaignSummary, FuzzError, SummaryFinding
from hsmsim.fuzz.findings import FINDING_FILE_LIMIT, FindingReport, read_finding
from hsmsim.safeio import READ_BUDGET_BYTES, ReadBudget, read_regular_file
from hsmsim.verdict import escaped

FINDING_COPY_BUDGET = FINDING_FILE_LIMIT + READ_BUDGET_BYTES
"""What one finding directory may hold in all: its ``finding.json`` (at most :data:`FINDING_FILE_LIMIT`) and the
evidence's native files, which a campaign read within one 32 MiB verification budget."""

FINDING_MAX_ENTRIES = 256
"""Files and directories one finding may hold: ``finding.json``, ``files/`` and the evidence's native files (a
format's evidence is a handful of files; a zip's members stay inside the zip)."""


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


def _check_disjoint(shards: list[str]) -> None:
    """Raise :class:`FuzzError` when two runs share a case: shard ``K/N`` holds the cases ``i`` with ``i % N == K``,
    so ``K1/N1`` and ``K2/N2`` of two splits share one exactly when ``K1`` and ``K2`` agree modulo ``gcd(N1, N2)``
    (``0/2`` and ``0/3`` share case 0; ``0/2`` and ``1/4`` share none)."""
    runs = [[tuple(int(part) for part in shard.split("/")) for shard in text.split(",")] for text in shards]
    for (a, first), (b, second) in itertools.combinations(enumerate(runs), 2):
        for k1, n1 in first:
            for k2, n2 in second:
                common = math.gcd(n1, n2)
                if k1 % common == k2 % common:
                    raise FuzzError(f"shards {shards[a]} and {shards[b]} share cases (shard {k1}/{n1} and {k2}/{n2}): "
                                    "merge the shards of one split")


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
    _check_disjoint(shards)
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
        interrupted=any(summary.interrupted for summary in summaries),
    )
    return Merged(summary, tuple(chosen.values()))


def write_merged(merged: Merged, out: Path) -> list[Path]:
    """Write ``out/summary.json`` and copy each kept finding to ``out/findings/<slug>``; returns their directories.

    Only directories and regular files are copied, each read bounded (:data:`FINDING_COPY_BUDGET` per finding,
    :data:`FINDING_MAX_ENTRIES` entries), and written as new files (:func:`hsmsim._atomic.write_new_files`: never
    through a symlink, never over something already there); ``summary.json`` replaces what that name held without
    following it. Raises :class:`FuzzError` (one line) when ``out`` already holds findings (a merge never mixes
    with an older run), or a finding holds a symlink, FIFO, device or socket, too much, or cannot be read, before
    anything is written; :class:`hsmsim.errors.HsmsimError` when an output cannot be written.
    """
    findings = out / "findings"
    try:
        if not stat.S_ISDIR(os.lstat(findings).st_mode):
            raise FuzzError(f"{escaped(str(findings))} exists and is not a directory (a symlink?); "
                            "merge into a new directory")
        with os.scandir(findings) as scan:
            occupied = next(scan, None) is not None
    except FileNotFoundError:
        occupied = False
    except OSError as exc:
        raise FuzzError(f"cannot look at {escaped(str(findings))}: {exc.strerror or exc}") from None
    if occupied:
        raise FuzzError(f"{escaped(str(findings))} is not empty; merge into a new directory")
    slugs = Counter(finding.source.name for finding in merged.findings)
    repeated = sorted(slug for slug, count in slugs.items() if count > 1)
    if repeated:
        raise FuzzError(f"two kept findings are named {escaped(repeated[0])} (renamed by hand?); not merging them")
    files = {f"findings/{finding.source.name}/{rel}": data
             for finding in merged.findings for rel, data in _finding_files(finding.source).items()}
    write_new_files(out, files)
    merged.summary.write(out)
    return [findings / finding.source.name for finding in merged.findings]


def _finding_files(source: Path) -> dict[str, bytes]:
    """The regular files below the finding directory ``source`` by ``/``-separated relative name, read within
    :data:`FINDING_COPY_BUDGET`; raises :class:`FuzzError` naming an entry that is neither a directory nor a
    regular file (symlinks included), or past the bounds."""
    budget = ReadBudget(FINDING_COPY_BUDGET)
    files: dict[str, bytes] = {}
    pending = [(source, "")]
    entries = 0
    while pending:
        directory, prefix = pending.pop()
        try:
            if not stat.S_ISDIR(os.lstat(directory).st_mode):
                raise FuzzError(f"{escaped(str(directory))} in a finding is not a directory (a symlink?); "
                                "not copying it")
            with os.scandir(directory) as scan:
                listed = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            raise FuzzError(f"cannot read {escaped(str(directory))}: {exc.strerror or exc}") from None
        entries += len(listed)
        if entries > FINDING_MAX_ENTRIES:
            raise FuzzError(f"{escaped(str(source))} holds more than {FINDING_MAX_ENTRIES} files and directories; "
                            "not a finding")
        for entry in listed:
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                pending.append((path, f"{prefix}{entry.name}/"))
            elif entry.is_file(follow_symlinks=False):
                try:
                    files[f"{prefix}{entry.name}"] = read_regular_file(path, FINDING_FILE_LIMIT, budget)
                except BundleError as exc:
                    raise FuzzError(str(exc)) from None
            else:
                raise FuzzError(f"{escaped(str(path))} in a finding is not a regular file or a directory "
                                "(a symlink, FIFO, device or socket); not copying it")
    return files
