"""The command line's start-up as rows for ``scripts/bench.py``: what one ``hsmsim`` command costs a shell
script that runs it per bundle, beside Python's own start (the floor no command can go below).

    .venv/bin/python scripts/bench_cli.py [--repeat N]    # these rows alone

Each figure is a fresh process, waited for: wall time, and its CPU time (the children's rusage). No goal:
issue 19 sets none for start-up; the rows show where a command's time goes before it does any work.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import Row, bench_attestation, cpu_with_children, installed_environment, measure, runs_note  # noqa: E402


def _command_rows(commands: list[tuple[str, list[str]]], times: int) -> list[Row]:
    out = []
    env = installed_environment()
    for label, argv in commands:
        sample = measure(functools.partial(subprocess.run, argv, capture_output=True, check=True, cwd=ROOT, env=env),
                         times, clock=cpu_with_children)
        out.append(Row(label, sample.wall, sample.cpu, note=runs_note(times)))
    return out


def rows(repeat: int) -> list[Row]:
    """Median wall and CPU seconds of Python's start, ``hsmsim --help`` and ``hsmsim verify`` of a Primus
    bundle (found by detection, and named with ``--format``), each in a fresh process."""
    times = max(3, repeat)
    hsmsim = [sys.executable, "-m", "hsmsim"]
    evidence = bench_attestation("primus", "ec-p256")()
    with tempfile.TemporaryDirectory() as work:
        paths = {path.name: path for path in evidence.write(Path(work))}
        bundle, root = str(Path(work) / evidence.primary), str(paths["hsm_rsa_root.crt"])
        return _command_rows([
            ("CLI: python -c pass (the interpreter's start)", [sys.executable, "-c", "pass"]),
            ("CLI: hsmsim --help", [*hsmsim, "--help"]),
            ("CLI: hsmsim verify, one Primus bundle (detected)", [*hsmsim, "verify", bundle, "--root", root]),
            ("CLI: hsmsim verify --format primus, one bundle",
             [*hsmsim, "verify", "--format", "primus", bundle, "--root", root]),
        ], times)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    for row in rows(parser.parse_args().repeat):
        cpu = "" if row.cpu is None else f" ({row.cpu * 1000:.0f} ms CPU)"
        print(f"{row.label}: {row.seconds * 1000:.0f} ms{cpu}; {row.note}")
