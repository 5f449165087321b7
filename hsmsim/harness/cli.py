"""``hsmsim conformance``: run verifiers over the corpus without writing pytest (lazily imported by the CLI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import CaseResult, Outcome
from hsmsim.harness.report import failing_lines, write_report
from hsmsim.harness.runner import RunOptions, run_conformance
from hsmsim.harness.text import visible
from hsmsim.harness.vectors import default_vectors_root, load_corpus


@click.group("conformance")
def conformance() -> None:
    """Run verifiers over the vector corpus; report a verifier x vector matrix."""


@conformance.command("run")
@click.option("--verifier", "verifiers", multiple=True, required=True, metavar="FILE",
              help="Adapter file (.toml or .json), or python:module:function; repeatable.")
@click.option("--vectors", "corpus_dir", type=click.Path(path_type=Path), default=None,
              help="The corpus directory (default: $HSMSIM_VECTORS, else ./vectors).")
@click.option("--format", "formats", multiple=True, metavar="F", help="Only vectors of this format; repeatable.")
@click.option("-k", "--id", "patterns", multiple=True, metavar="GLOB",
              help="Only vectors whose id matches, e.g. 'primus::attr::*'; repeatable.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes (0 = one per CPU).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Per-case deadline in seconds, overriding the adapters' timeout_s.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Write results/<verifier>.json, junit.xml and index.html here.")
@click.option("--previous", multiple=True, type=click.Path(path_type=Path, exists=True), metavar="PATH",
              help="Previous results file or report directory to diff against; repeatable.")
@click.option("--strict-reasons", is_flag=True, help="Count 'right verdict, wrong reason' as a failure.")
def run(verifiers: tuple[str, ...], corpus_dir: Path | None, formats: tuple[str, ...], patterns: tuple[str, ...],
        jobs: int, timeout: float | None, report_dir: Path, previous: tuple[Path, ...], strict_reasons: bool) -> None:
    """Run each verifier over the vectors. Exit 1 only on unexpected verdicts (or stale waivers)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    configs = [load_adapter(spec) for spec in verifiers]
    corpus = load_corpus(corpus_dir or default_vectors_root())
    options = RunOptions(jobs=jobs or os.cpu_count() or 1, timeout=timeout, formats=formats, patterns=patterns,
                         strict_reasons=strict_reasons)
    selected = len(corpus.select(formats=formats, patterns=patterns))
    if selected == 0:
        click.echo("no vector matches the --format / --id selection", err=True)
        sys.exit(2)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("conformance", total=selected * len(configs))

        def advance(result: CaseResult) -> None:
            suffix = "" if result.outcome in (Outcome.PASS, Outcome.SKIPPED) else f" [{result.outcome.value}]"
            description = escape(visible(f"{result.verifier}: {result.id}{suffix}", 200))
            progress.update(task, advance=1, description=description)

        conformance_run = run_conformance(configs, corpus, options, progress=advance)
    paths = write_report(conformance_run, report_dir, list(previous))
    for verifier in conformance_run.verifiers:
        counts = verifier.counts()
        shown = ", ".join(f"{n} {o.lower().replace('_', ' ')}" for o, n in counts.items() if n)
        status = "FAIL" if verifier.failed else "ok"
        click.echo(visible(f"{status:4} {verifier.info.name} {verifier.info.version} ({verifier.info.profile}): "
                           f"{shown}"))
        for line in failing_lines(verifier):
            click.echo(f"     {line}")
    click.echo(f"report: {paths.html}")
    sys.exit(1 if conformance_run.failed else 0)
