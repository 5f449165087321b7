"""Conformance harness speed: rows for scripts/bench.py (``rows(repeat) -> [(label, seconds)]``).

    .venv/bin/python scripts/bench_conformance.py [--repeat N]   # standalone: also prints vectors/s

Rows: the whole corpus through the in-process reference verifier, serially and with 2 worker
processes (pool start-up included); the per-vector cost of the three adapter modes (in-process
reference, a persistent external JSON Lines process, a oneshot process per vector: the openssl
walk); and the pytest plugin over the whole corpus, serial and ``-n 2`` (interpreter and xdist
start-up included). Goal: the reference verifier over the full corpus in <= 30 s wall on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import median_seconds  # noqa: E402

from hsmsim.harness.config import load_adapter  # noqa: E402
from hsmsim.harness.runner import RunOptions, run_conformance  # noqa: E402
from hsmsim.harness.vectors import load_corpus  # noqa: E402

EXAMPLES = ROOT / "examples" / "verifiers"
ONESHOT_SAMPLE = ("primus::golden::*", "primus::signature::sig-*")



def _pytest(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "hsmsim",
                    "--hsmsim-verifier", str(EXAMPLES / "reference.toml"), "--hsmsim-vectors", str(ROOT / "vectors"),
                    *args],
                   cwd=ROOT, env=env, capture_output=True, check=True, timeout=600)


def rows(repeat: int) -> list[tuple[str, float]]:
    """Median wall times of conformance runs (seconds)."""
    corpus = load_corpus(ROOT / "vectors")
    n = len(corpus.vectors)
    reference = load_adapter(EXAMPLES / "reference.toml")
    persistent = load_adapter(EXAMPLES / "flawed-loose-pem.toml")
    serial = median_seconds(lambda: run_conformance([reference], corpus), repeat)
    out = [
        (f"conformance: reference in-process, full corpus ({n} vectors, serial)", serial),
        (f"conformance: reference in-process, full corpus ({n} vectors, -j 2)",
         median_seconds(lambda: run_conformance([reference], corpus, RunOptions(jobs=2)), max(1, repeat // 3))),
        ("conformance: reference in-process, per vector", serial / n),
        ("conformance: persistent external process (naive_primus_server.py), per vector",
         median_seconds(lambda: run_conformance([persistent], corpus), repeat) / n),
    ]
    if shutil.which("openssl"):
        walk = load_adapter(EXAMPLES / "openssl-walk-primus.toml")
        sample = len(corpus.select(patterns=ONESHOT_SAMPLE))
        out.append(("conformance: oneshot (openssl walk, one process tree per vector), per vector",
                    median_seconds(lambda: run_conformance([walk], corpus, RunOptions(patterns=ONESHOT_SAMPLE)),
                            max(1, repeat // 3)) / sample))
    pytest_repeat = 1  # each run is a whole corpus under pytest: one keeps scripts/bench.py within minutes
    out.append(("conformance: pytest -p hsmsim, full corpus (serial, with start-up)",
                median_seconds(lambda: _pytest(), pytest_repeat)))
    out.append(("conformance: pytest -p hsmsim, full corpus (-n 2, with xdist start-up)",
                median_seconds(lambda: _pytest("-n", "2", "--dist", "worksteal"), pytest_repeat)))
    return out


def main() -> None:
    """Print the rows with vectors per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for label, seconds in rows(args.repeat):
        rate = f"{1 / seconds:10.1f} vectors/s" if "per vector" in label else ""
        print(f"{label:90} {seconds * 1000:10.2f} ms {rate}")


if __name__ == "__main__":
    main()
