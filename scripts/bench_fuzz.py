"""Bench rows for the fuzzer: per format, cases through the reference verifier given as an adapter file
(``--verifier examples/verifiers/reference.toml``, how every user runs it) at ``-j 2``; and primus against the
built-in reference and a persistent external verifier.

Goal (issue 19 item 1): >= 1,000 cases/s through the adapter file at -j 2 on 2 cores, i.e. <= 1 ms of wall
time per case, or <= 2 ms of CPU per case when both cores are the campaign's. On a machine shared with
other work the wall rate says little: each row reports the CPU seconds per case too (this process and its
workers), and the rate two free cores would give at that CPU cost.

    .venv/bin/python scripts/bench_fuzz.py [--cases N] [FORMAT...]    # the table alone
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography.utils import CryptographyDeprecationWarning

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import Row, cpu_with_children, runs_note  # noqa: E402

from hsmsim.formats import names  # noqa: E402
from hsmsim.fuzz.campaign import CampaignSpec, TargetFactory, load_model, reference_target, run_campaign  # noqa: E402
from hsmsim.fuzz.targets import target_factory  # noqa: E402

CASES = 2000
GOAL_PER_SECOND = 1000
CORES = 2
REFERENCE_ADAPTER = ROOT / "examples" / "verifiers" / "reference.toml"
PERSISTENT_ADAPTER = ROOT / "examples" / "verifiers" / "flawed-loose-pem.toml"


@dataclass(frozen=True)
class Measure:
    """One campaign's wall and CPU cost per case."""

    cases: int
    wall: float
    cpu: float
    findings: int

    @property
    def rate(self) -> float:
        """Cases per wall second."""
        return self.cases / self.wall

    @property
    def cpu_per_case(self) -> float:
        """CPU seconds per case, this process and its workers."""
        return self.cpu / self.cases

    @property
    def free_rate(self) -> float:
        """Cases per second if :data:`CORES` cores were the campaign's alone."""
        return CORES / self.cpu_per_case


def measure(format_name: str, target: TargetFactory, cases: int, jobs: int = 2) -> Measure:
    """Run one campaign of ``cases`` (the model loaded beforehand, as the CLI loads it before forking)."""
    load_model(format_name)
    cpu, start = cpu_with_children(), time.perf_counter()
    result = run_campaign(CampaignSpec(format=format_name, seed="bench", target=target, iterations=cases, jobs=jobs))
    wall = time.perf_counter() - start
    return Measure(result.stats.executed, wall, cpu_with_children() - cpu, len(result.findings))


def rows(repeat: int) -> list[Row]:
    """Per format: wall and CPU seconds per fuzz case through the adapter file at -j 2, the goal judged on the
    CPU (<= 2 ms per case keeps two free cores at >= 1,000 cases/s); then primus against the built-in reference
    and a persistent external verifier, for the adapter path's overhead."""
    out = []
    for format_name in names():
        done = measure(format_name, target_factory(REFERENCE_ADAPTER, format_name), CASES)
        out.append(Row(f"fuzz {format_name} via reference.toml -j 2, per case", done.wall / done.cases,
                       done.cpu_per_case, CORES / GOAL_PER_SECOND,
                       f">= {GOAL_PER_SECOND}/s (<= {CORES / GOAL_PER_SECOND * 1000:g} ms CPU)",
                       f"{runs_note(1)}; {done.rate:,.0f}/s wall; {done.free_rate:,.0f}/s on {CORES} free cores"))
    done = measure("primus", reference_target("primus"), CASES)
    out.append(Row("fuzz primus vs built-in reference -j 2, per case", done.wall / done.cases, done.cpu_per_case,
                   note=f"{runs_note(1)}; {done.free_rate:,.0f}/s on {CORES} free cores"))
    if PERSISTENT_ADAPTER.exists():
        done = measure("primus", target_factory(PERSISTENT_ADAPTER, "primus"), CASES // 3)
        out.append(Row("fuzz primus vs persistent external verifier (naive_primus_server) -j 2, per case",
                       done.wall / done.cases, done.cpu_per_case,
                       note=f"{runs_note(1)}; {done.free_rate:,.0f}/s on {CORES} free cores"))
    return out


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)  # zero-serial cases, as bench.py
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("formats", nargs="*", default=names())
    args = parser.parse_args()
    table = Table(title=f"fuzz via {REFERENCE_ADAPTER.name}, -j 2, {args.cases} cases per format "
                        f"(goal >= {GOAL_PER_SECOND}/s, i.e. <= {CORES / GOAL_PER_SECOND * 1000:.0f} ms CPU per case)")
    for column in ("format", "cases/s (wall)", "CPU ms/case", f"cases/s on {CORES} free cores", "goal", "findings"):
        table.add_column(column, justify="left" if column == "format" else "right")
    for format_name in args.formats:
        done = measure(format_name, target_factory(REFERENCE_ADAPTER, format_name), args.cases)
        met = "met" if done.free_rate >= GOAL_PER_SECOND else "not met"
        table.add_row(format_name, f"{done.rate:,.0f}", f"{done.cpu_per_case * 1000:.2f}", f"{done.free_rate:,.0f}",
                      f">= {GOAL_PER_SECOND}/s: {met}", str(done.findings))
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
