"""``hsmsim conformance``: run verifiers over the corpus without writing pytest (lazily imported by the CLI)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from hsmsim._atomic import check_replaceable_file, replace_file
from hsmsim.cli_params import GivenPath
from hsmsim.errors import HsmsimError
from hsmsim.harness.config import check_timeout, load_adapter
from hsmsim.harness.model import SEVERITY_ORDER, CaseResult, Outcome
from hsmsim.harness.report import (
    check_report_dir,
    failing_lines,
    load_previous,
    regression_lines,
    safe_name,
    skip_lines,
    write_report,
)
from hsmsim.harness.runner import ConformanceRun, RunOptions, run_conformance
from hsmsim.harness.text import visible
from hsmsim.harness.vectors import Shard, default_vectors_root, load_corpus
from hsmsim.harness.waivers import baseline, waivers_json
from hsmsim.harness.workers import MAX_JOBS
from hsmsim.model.vectors import Severity

_REFRESH_S = 0.1
"""How often, at most, the progress bar is redrawn."""

@click.group("conformance")
def conformance() -> None:
    """Run verifiers over the vector corpus; report a verifier x vector matrix."""


def _shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Shard | None:
    if value is None:
        return None
    try:
        return Shard.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _timeout(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    return None if value is None else check_timeout(value, "--timeout")


def _vectors_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option("--vectors", "corpus_dir", type=GivenPath(), default=None,
                        help="The corpus directory (default: $HSMSIM_VECTORS, else ./vectors, else hsmsim's own).")(fn)


def _report_options(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed((
        click.option("--report", "report_dir", type=GivenPath(), required=True, metavar="DIR",
                     help="Write results/<verifier>.json, junit.xml and index.html here (a new or empty directory)."),
        click.option("--overwrite", is_flag=True, help="Replace the report in a non-empty --report directory."),
        click.option("--previous", multiple=True, type=GivenPath(exists=True), metavar="PATH",
                     help="Previous results file or report directory to diff against; repeatable."),
        click.option("--write-baseline", "baseline_path", type=GivenPath(), default=None,
                     metavar="FILE", help="Write a waiver file of the current anomalies (FILE may use {verifier})."),
    )):
        fn = option(fn)
    return fn


def _baseline_targets(path: Path | None, names: list[str]) -> dict[str, Path]:
    """Verifier name -> the waiver file to write (checked before the run)."""
    if path is None:
        return {}
    if len(names) > 1 and "{verifier}" not in str(path):
        raise click.UsageError("--write-baseline with several verifiers needs {verifier} in FILE "
                               "(e.g. waivers/{verifier}.json): one waiver file per verifier")
    targets = {name: Path(str(path).replace("{verifier}", safe_name(name))) for name in names}
    for target in targets.values():
        check_replaceable_file(target, "--write-baseline")
    return targets


def _finish(conformance_run: ConformanceRun, report_dir: Path, previous: tuple[Path, ...],
            baselines: dict[str, Path]) -> None:
    """Write the report (and baselines), print the summary, exit 0 or 1."""
    paths = write_report(conformance_run, report_dir, list(previous))
    for verifier in conformance_run.verifiers:
        counts = verifier.counts()
        shown = ", ".join(f"{n} {o.lower().replace('_', ' ')}" for o, n in counts.items() if n)
        status = "FAIL" if verifier.failed else "ok"
        click.echo(visible(f"{status:4} {verifier.info.name} {verifier.info.version} ({verifier.info.profile}): "
                           f"{shown}"))
        lines = [*failing_lines(verifier), *skip_lines(verifier, conformance_run.corpus)]
        changes = paths.changes.get(verifier.info.name)
        if changes is not None:
            regressions = regression_lines(changes)
            lines.append(f"{len(regressions)} regression(s) since the previous results")
            lines += regressions
        for line in lines:
            click.echo(f"     {line}")
        target = baselines.get(verifier.info.name)
        if target is not None:
            waivers = baseline(verifier.results, verifier.config.waivers)
            try:
                replace_file(target, waivers_json(waivers).encode())
            except OSError as exc:
                raise HsmsimError(f"cannot write the baseline {target}: {exc.strerror}") from exc
            source = Path(verifier.config.source)
            named = os.path.relpath(target.resolve(), source.resolve().parent) if source.is_file() else str(target)
            click.echo(visible(f"     baseline: {len(waivers)} waiver(s) written to {target}; "
                               f'adopt it in the adapter file: waivers = "{named}"'))
    click.echo(f"report: {paths.html}")
    sys.exit(1 if conformance_run.failed else 0)


@conformance.command("run")
@click.option("--verifier", "verifiers", multiple=True, required=True, metavar="FILE",
              help="Adapter file (.toml or .json), or python:module:function; repeatable.")
@_vectors_option
@click.option("--format", "formats", multiple=True, metavar="F", help="Only vectors of this format; repeatable.")
@click.option("-k", "--id", "patterns", multiple=True, metavar="GLOB",
              help="Only vectors whose id matches, e.g. 'primus::attr::*'; repeatable.")
@click.option("--shard", callback=_shard, default=None, metavar="K/N",
              help="Only shard K (0..N-1) of N of the selected vectors, assigned by a hash of the vector id.")
@click.option("-j", "--jobs", type=click.IntRange(0, MAX_JOBS), default=1, show_default=True,
              help=f"Worker processes (0 = one per CPU; at most {MAX_JOBS}).")
@click.option("--timeout", type=float, default=None, callback=_timeout,
              help="Per-case deadline in seconds, overriding the adapters' timeout_s.")
@click.option("--strict-reasons", is_flag=True, help="Count 'right verdict, wrong reason' as a failure.")
@click.option("--fail-on", type=click.Choice(SEVERITY_ORDER), default=None, metavar="SEVERITY",
              help="Fail only on unexpected verdicts on vectors of this severity or worse "
                   f"({' > '.join(SEVERITY_ORDER)}; default: any).")
@_report_options
def run(verifiers: tuple[str, ...], corpus_dir: Path | None, formats: tuple[str, ...], patterns: tuple[str, ...],
        shard: Shard | None, jobs: int, timeout: float | None, strict_reasons: bool, fail_on: str | None,
        report_dir: Path, overwrite: bool, previous: tuple[Path, ...], baseline_path: Path | None) -> None:
    """Run each verifier over the vectors. Exit 1 on unexpected verdicts (at or above --fail-on), XPASS, stale
    waivers, or a verifier for which every selected vector was skipped."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    configs = [load_adapter(spec) for spec in verifiers]
    baselines = _baseline_targets(baseline_path, [c.name for c in configs])
    check_report_dir(report_dir, overwrite=overwrite)
    load_previous(list(previous))  # a bad --previous is refused before the run, not after it
    corpus = load_corpus(corpus_dir or default_vectors_root())
    options = RunOptions(jobs=jobs or min(os.cpu_count() or 1, MAX_JOBS), timeout=timeout, formats=formats,
                         patterns=patterns,
                         strict_reasons=strict_reasons, fail_on=None if fail_on is None else Severity(fail_on),
                         shard=shard)
    unknown = sorted(set(formats) - set(corpus.formats()))
    if unknown:
        raise HsmsimError(f"--format {', '.join(map(repr, unknown))}: the corpus has no such format (it has "
                          f"{', '.join(corpus.formats())})")
    if not corpus.select(formats=formats, patterns=patterns):
        raise HsmsimError("no vector matches the --format / --id selection")
    selected = len(corpus.select(formats=formats, patterns=patterns, shard=shard))
    console = Console(stderr=True)
    # Refreshed from this thread, not from a display thread of Rich's: with no other thread running, the
    # workers may be forked (a copy of a thread's lock, taken mid-use, would never be released).
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal, auto_refresh=False) as progress:
        task = progress.add_task("conformance", total=selected * len(configs))
        refreshed = 0.0

        def advance(result: CaseResult) -> None:
            nonlocal refreshed
            suffix = "" if result.outcome in (Outcome.PASS, Outcome.SKIPPED) else f" [{result.outcome.value}]"
            description = escape(visible(f"{result.verifier}: {result.id}{suffix}", 200))
            progress.update(task, advance=1, description=description)
            if time.monotonic() - refreshed >= _REFRESH_S:
                progress.refresh()
                refreshed = time.monotonic()

        conformance_run = run_conformance(configs, corpus, options, progress=advance)
    _finish(conformance_run, report_dir, previous, baselines)


@conformance.command("merge")
@click.argument("shards", nargs=-1, required=True, type=GivenPath(exists=True),
                metavar="REPORT_DIR...")
@_vectors_option
@_report_options
def merge(shards: tuple[Path, ...], corpus_dir: Path | None, report_dir: Path, overwrite: bool,
          previous: tuple[Path, ...], baseline_path: Path | None) -> None:
    """Merge the reports of `run --shard K/N` (report directories or results files) into one report, the same as
    one unsharded run's. Exit 1 on what would fail that run; exit 2 when a shard is missing or does not fit."""
    from hsmsim.harness.merge import merge_shards

    check_report_dir(report_dir, overwrite=overwrite)
    conformance_run = merge_shards(list(shards), load_corpus(corpus_dir or default_vectors_root()))
    _finish(conformance_run, report_dir, previous, _baseline_targets(baseline_path,
                                                                     [v.info.name for v in conformance_run.verifiers]))
