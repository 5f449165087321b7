"""The ``hsmsim fuzz`` command: a campaign against a verifier, with a live display."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hsmsim.fuzz.campaign import CampaignSpec, FuzzError, reference_target, run_campaign
from hsmsim.fuzz.engine import CampaignStats
from hsmsim.fuzz.targets import target_factory


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise click.BadParameter("use K/N, e.g. 0/4") from None
    if not 0 <= k < n:
        raise click.BadParameter("K/N needs 0 <= K < N")
    return k, n


def _table(stats: CampaignStats, findings: int, operators: set[str]) -> Table:
    table = Table(show_header=False, box=None)
    table.add_row("executed", str(stats.executed))
    table.add_row("skipped", str(sum(stats.skipped.values())))
    table.add_row("execs/s", f"{stats.execs_per_second:,.0f}")
    table.add_row("findings", str(findings))
    table.add_row("operators hit", f"{len(operators & set(stats.operator_hits))}/{len(operators)}")
    table.add_row("verdicts", ", ".join(f"{k} {v}" for k, v in sorted(stats.verdicts.items())))
    return table


@click.command()
@click.option("--format", "format_name", required=True, help="Format to fuzz (needs a fuzz model, e.g. primus).")
@click.option("--verifier", "verifier", default=None,
              help="Adapter file of the verifier under test (default: the reference verifier itself).")
@click.option("--iterations", type=click.IntRange(1), default=None)
@click.option("--duration", type=click.FloatRange(0.1), default=None, help="Seconds to run.")
@click.option("--seed", default="hsmsim-fuzz", show_default=True)
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--shard", "shard_text", default="0/1", show_default=True, help="Run cases i with i % N == K.")
@click.option("--without-operator", "without", multiple=True, metavar="NAME",
              help="Leave this operator out (e.g. one whose findings await a fix); repeatable.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Findings and summary.json go here.")
def fuzz(format_name: str, verifier: str | None, iterations: int | None, duration: float | None, seed: str,
         jobs: int, shard_text: str, without: tuple[str, ...], out: Path) -> None:
    """Fuzz a verifier with structure-aware mutations of the format's golden bundles."""
    if iterations is None and duration is None:
        raise FuzzError("give --iterations or --duration")
    factory = target_factory(Path(verifier), format_name) if verifier else reference_target(format_name)
    spec = CampaignSpec(format=format_name, seed=seed, target=factory, iterations=iterations, duration=duration,
                        shard=_shard(shard_text), jobs=jobs, without=without)
    console = Console(stderr=True)
    operators = {op.name for op in spec.model().operators}
    with Live(_table(CampaignStats(), 0, operators), console=console, refresh_per_second=4,
              transient=False) as live:
        result = run_campaign(spec, out, progress=lambda s, n: live.update(_table(s, n, operators)))
    for finding, path in zip(result.findings, result.written, strict=True):
        click.echo(f"{finding.kind}\t{finding.target.verdict}/{finding.reference.verdict}\t{path}")
    skipped = sum(result.stats.skipped.values())
    click.echo(f"{result.stats.executed} cases, {skipped} skipped (see summary.json), "
               f"{result.stats.execs_per_second:,.0f} execs/s, {len(result.findings)} finding(s) in {out}")
    sys.exit(1 if result.findings else 0)
