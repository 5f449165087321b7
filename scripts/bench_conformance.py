"""Conformance harness speed: rows for scripts/bench.py (``rows(repeat) -> [Row]``).

    .venv/bin/python scripts/bench_conformance.py [--repeat N]   # standalone: also prints vectors/s

Rows: the whole corpus through the in-process reference verifier, serially and with 2 worker
processes (pool start-up included); the per-vector cost of the three adapter modes (in-process
reference, a persistent external JSON Lines process, a oneshot process per vector: the openssl
walk); and the pytest plugin over the whole corpus, serial and ``-n 2`` (interpreter and xdist
start-up included). Each row has wall and CPU time; the CPU counts this process and the child
processes the run started and waited for (workers, verifier processes, pytest). Goal (issue 19): a full
run in well under a second per thousand vectors; serially that is the CPU time, at ``-j 2`` the CPU time
of both cores together may be twice that.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import Row, cpu_with_children, installed_environment, measure, runs_note  # noqa: E402

from hsmsim.harness.config import load_adapter  # noqa: E402
from hsmsim.harness.runner import RunOptions, run_conformance  # noqa: E402
from hsmsim.harness.vectors import load_corpus  # noqa: E402

EXAMPLES = ROOT / "examples" / "verifiers"
ONESHOT_SAMPLE = ("primus::golden::*", "primus::signature::sig-*")
CORES = 2


def _pytest(*args: str) -> None:
    env = {k: v for k, v in installed_environment().items() if not k.startswith("PYTEST_")}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "hsmsim",
                    "--hsmsim-verifier", str(EXAMPLES / "reference.toml"), "--hsmsim-vectors", str(ROOT / "vectors"),
                    *args],
                   cwd=ROOT, env=env, capture_output=True, check=True, timeout=600)


def rows(repeat: int) -> list[Row]:
    """Median wall and CPU times (worker processes and subprocesses included) of conformance runs (seconds); a
    row measured fewer than ``repeat`` times says so in its note."""
    corpus = load_corpus(ROOT / "vectors")
    n = len(corpus.vectors)
    reference = load_adapter(EXAMPLES / "reference.toml")
    persistent = load_adapter(EXAMPLES / "flawed-loose-pem.toml")
    goal = n / 1000
    fewer = max(1, repeat // 3)
    serial = measure(lambda: run_conformance([reference], corpus), repeat, clock=cpu_with_children)
    parallel = measure(lambda: run_conformance([reference], corpus, RunOptions(jobs=CORES)), fewer,
                       clock=cpu_with_children)
    out = [
        Row(f"conformance: reference in-process, full corpus ({n} vectors, serial)", serial.wall, serial.cpu,
            goal, "<= 1 s / 1000 vectors"),
        Row(f"conformance: reference in-process, full corpus ({n} vectors, -j {CORES})", parallel.wall,
            parallel.cpu, goal * CORES, f"<= 1 s / 1000 vectors on {CORES} cores",
            f"{parallel.cpu / CORES * 1000:.0f} ms on {CORES} free cores; {runs_note(fewer)}"),
        Row("conformance: reference in-process, per vector", serial.wall / n, serial.cpu / n),
    ]
    done = measure(lambda: run_conformance([persistent], corpus), repeat, n, clock=cpu_with_children)
    out.append(Row("conformance: persistent external process (naive_primus_server.py), per vector", done.wall,
                   done.cpu))
    if shutil.which("openssl"):
        walk = load_adapter(EXAMPLES / "openssl-walk-primus.toml")
        sample = len(corpus.select(patterns=ONESHOT_SAMPLE))
        done = measure(lambda: run_conformance([walk], corpus, RunOptions(patterns=ONESHOT_SAMPLE)), fewer, sample,
                       clock=cpu_with_children)
        out.append(Row("conformance: oneshot (openssl walk, one process tree per vector), per vector", done.wall,
                       done.cpu, note=runs_note(fewer)))
    pytest_repeat = 1  # each run is a whole corpus under pytest: one keeps scripts/bench.py within minutes
    done = measure(lambda: _pytest(), pytest_repeat, clock=cpu_with_children)
    out.append(Row("conformance: pytest -p hsmsim, full corpus (serial, with start-up)", done.wall, done.cpu,
                   note=runs_note(pytest_repeat)))
    done = measure(lambda: _pytest("-n", str(CORES), "--dist", "worksteal"), pytest_repeat, clock=cpu_with_children)
    out.append(Row(f"conformance: pytest -p hsmsim, full corpus (-n {CORES}, with xdist start-up)", done.wall,
                   done.cpu, note=runs_note(pytest_repeat)))
    return out


def main() -> None:
    """Print the rows with vectors per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for row in rows(args.repeat):
        rate = f"{1 / row.seconds:10.1f} vectors/s" if "per vector" in row.label else ""
        cpu = "" if row.cpu is None else f"{row.cpu * 1000:10.2f} ms CPU"
        print(f"{row.label:90} {row.seconds * 1000:10.2f} ms {cpu} {rate}")


if __name__ == "__main__":
    main()
