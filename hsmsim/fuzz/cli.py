"""The ``hsmsim fuzz`` command: a campaign against a verifier, with a live display."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hsmsim._atomic import check_output_directory
from hsmsim.cli_params import GivenPath, ReportedInterrupt, given_text
from hsmsim.fuzz.campaign import SUMMARY_FILE, CampaignSpec, FuzzError, reference_target, run_campaign
from hsmsim.fuzz.engine import CampaignStats, TargetAnswer
from hsmsim.fuzz.targets import target_factory
from hsmsim.harness.workers import MAX_JOBS
from hsmsim.verdict import escaped


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise click.BadParameter("use K/N, e.g. 0/4") from None
    if not 0 <= k < n:
        raise click.BadParameter("K/N needs 0 <= K < N")
    return k, n


def _duration(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    if value is not None and math.isnan(value):
        raise FuzzError("--duration must be a number of seconds, not nan")
    return value


def _table(stats: CampaignStats, findings: int, operators: set[str]) -> Table:
    table = Table(show_header=False, box=None)
    table.add_row("executed", str(stats.executed))
    table.add_row("skipped", str(sum(stats.skipped.values())))
    table.add_row("execs/s", f"{stats.execs_per_second:,.0f}")
    table.add_row("found", f"{findings} (before minimising and deduplicating)")
    table.add_row("operators hit", f"{len(operators & set(stats.operator_hits))}/{len(operators)}")
    table.add_row("verdicts", ", ".join(f"{k} {v}" for k, v in sorted(stats.verdicts.items())))
    return table


@click.group(invoke_without_command=True)
@click.option("--format", "format_name", default=None, help="Format to fuzz (every registered format has a model).")
@click.option("--verifier", "verifier", type=GivenPath(), default=None,
              help="Adapter file of the verifier under test (default: the reference verifier itself).")
@click.option("--iterations", type=click.IntRange(1), default=None)
@click.option("--duration", type=click.FloatRange(0.1), default=None, callback=_duration,
              help="Seconds to run (inf: until Ctrl-C or SIGTERM, which end any campaign keeping its findings).")
@click.option("--seed", default="hsmsim-fuzz", show_default=True, callback=given_text)
@click.option("-j", "--jobs", type=click.IntRange(1, MAX_JOBS), default=1, show_default=True,
              help="Worker processes, each with its own verifier (-j 1: one worker; no verifier runs in this process).")
@click.option("--shard", "shard_text", default="0/1", show_default=True,
              help="Run cases i with i % N == K (merge the shards' --out directories with 'hsmsim fuzz merge').")
@click.option("--without-operator", "without", multiple=True, metavar="NAME",
              help="Leave this operator out (e.g. one whose findings await a fix); repeatable.")
@click.option("--out", type=GivenPath(), default=None,
              help="Findings and summary.json go here: a new or empty directory, one campaign per directory.")
@click.option("--overwrite", is_flag=True, help="Replace the findings and summary.json of a non-empty --out.")
@click.pass_context
def fuzz(ctx: click.Context, format_name: str | None, verifier: Path | None, iterations: int | None,
         duration: float | None, seed: str, jobs: int, shard_text: str, without: tuple[str, ...],
         out: Path | None, overwrite: bool) -> None:
    """Fuzz a verifier with structure-aware mutations of the format's golden bundles.

    Exit 0 without findings, 1 with findings, 2 on misuse, 130 or 143 when Ctrl-C or SIGTERM ended it (the
    findings until then written). 'hsmsim fuzz merge' and 'hsmsim fuzz replay' work on the --out directories
    afterwards.
    """
    if ctx.invoked_subcommand is not None:
        return
    if format_name is None or out is None:
        raise FuzzError("give --format and --out (or a subcommand: merge, replay)")
    if iterations is None and duration is None:
        raise FuzzError("give --iterations or --duration")
    shard = _shard(shard_text)
    check_output_directory(out, "--out", holds="a campaign", replace_flag="--overwrite", replace=overwrite)
    factory = target_factory(verifier, format_name) if verifier is not None else reference_target(format_name)
    spec = CampaignSpec(format=format_name, seed=seed, target=factory, iterations=iterations, duration=duration,
                        shard=shard, jobs=jobs, without=without)
    console = Console(stderr=True)
    operators = {op.name for op in spec.model().operators}
    # Refreshed from the campaign's own thread: no display thread may hold a lock when workers are forked. Shown
    # from the first progress report on: a campaign that cannot start prints its one error line and nothing else.
    live = Live(console=console, auto_refresh=False, transient=False)

    def progress(stats: CampaignStats, found: int) -> None:
        if not live.is_started:
            live.start()
        live.update(_table(stats, found, operators), refresh=True)

    try:
        # The earlier campaign goes only once run_campaign has started and checked the verifier: a command refused
        # for any reason leaves it as it was.
        result = run_campaign(spec, out, progress=progress,
                              prepare=(lambda: _remove_campaign(out)) if overwrite else None)
    finally:
        if live.is_started:
            live.stop()
            if not console.is_terminal:  # rich ends its last frame without a newline there; what follows needs one
                console.line()
    for finding, path in zip(result.findings, result.written, strict=True):
        click.echo(f"{finding.kind}\t{finding.target.verdict}/{finding.reference.verdict}\t{path}")
    skipped = sum(result.stats.skipped.values())
    ended = "interrupted after " if result.interrupted else ""
    unminimised = f", {result.unminimised} not minimised" if result.unminimised else ""
    click.echo(f"{ended}{result.stats.executed} cases, {skipped} skipped (see summary.json), "
               f"{result.stats.execs_per_second:,.0f} execs/s, {len(result.findings)} finding(s){unminimised} in {out}")
    if result.interrupted:
        raise ReportedInterrupt  # exits 128 + the signal, as any interrupted command does
    sys.exit(1 if result.findings else 0)


def _remove_campaign(out: Path) -> None:
    """Remove the earlier campaign's ``findings/`` and ``summary.json`` from ``out`` (never following a symlink);
    raises :class:`FuzzError` with one line when that fails."""
    try:
        findings = out / "findings"
        if findings.is_dir() and not findings.is_symlink():
            shutil.rmtree(findings)
        for stale in (findings, out / SUMMARY_FILE):
            if stale.is_symlink() or stale.exists():
                stale.unlink()
    except OSError as exc:
        raise FuzzError(f"cannot replace the campaign in {escaped(str(out))}: {exc.strerror or exc}: "
                        f"{escaped(str(exc.filename))}") from None


@fuzz.command("merge")
@click.argument("runs", nargs=-1, required=True, type=GivenPath())
@click.option("--out", type=GivenPath(), required=True, help="The merged findings and summary.json.")
def merge(runs: tuple[Path, ...], out: Path) -> None:
    """Merge the --out directories of shards (or of repeated runs) into one: findings deduplicated as one
    campaign deduplicates them, counters summed. Exit 1 when the merge holds findings."""
    from hsmsim.fuzz.merge import merge_runs, write_merged

    merged = merge_runs(list(runs))
    for finding, path in zip(merged.findings, write_merged(merged, out), strict=True):
        click.echo(f"{finding.report.kind}\t{finding.report.target_verdict}/{finding.report.reference_verdict}\t{path}")
    summary = merged.summary
    click.echo(f"{len(runs)} run(s), shard {summary.shard}: {summary.executed} cases, {summary.skipped} skipped, "
               f"{len(merged.findings)} finding(s) in {out}")
    sys.exit(1 if merged.findings else 0)


@fuzz.command("replay")
@click.argument("finding", type=GivenPath())
@click.option("--verifier", required=True, type=GivenPath(), help="Adapter file of the verifier.")
def replay(finding: Path, verifier: Path) -> None:
    """Put a finding's evidence (a findings/<name> directory) to a verifier again, e.g. once it is fixed.

    Exit 1 while an oracle still fires on it (the finding's own or another), 0 when none does.
    """
    from hsmsim.fuzz.replay import replay as run_replay

    done = run_replay(finding, verifier)
    now = f"target {_said(done.target, detail=True)}; reference {_said(done.reference)}"
    if done.reproduces:
        click.echo(f"REPRODUCES {done.fires}: {now}")
    elif done.fires is not None:
        click.echo(f"CHANGED: the {done.finding.finding.kind} finding is gone, but a {done.fires} one fires: {now}")
    else:
        click.echo(f"FIXED: {now} (was {done.finding.finding.target_verdict})")
    sys.exit(0 if done.fires is None else 1)


def _said(answer: TargetAnswer, *, detail: bool = False) -> str:
    """``VERDICT [REASON] [(detail)]`` on one line."""
    from hsmsim.harness.text import one_line

    text = " ".join(part for part in (answer.verdict, answer.reason) if part)
    return f"{text} ({one_line(answer.detail, 200)})" if detail and answer.detail else text
