"""The vendors' own openssl walks as rows for ``scripts/bench.py``: what verifying one bundle costs the way each
vendor documents it (subprocesses), beside the in-process reference verifier's rows of ``scripts/bench.py``.

    .venv/bin/python scripts/bench_openssl.py [--repeat N]    # these rows alone
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import BENCH_TIME, Row, bench_attestation, median_seconds, runs_note  # noqa: E402

from hsmsim.formats.fortanix.layout import ROOT_FILE  # noqa: E402

SCRIPTS = ROOT / "scripts"


def _primus(paths: dict[str, Path], primary: Path) -> list[str]:
    return [str(SCRIPTS / "verify_primus_openssl.sh"), str(primary), str(paths["bench.csr"]),
            str(paths["hsm_rsa_root.crt"])]


def _luna(paths: dict[str, Path], primary: Path) -> list[str]:
    return [str(SCRIPTS / "verify_luna_openssl.sh"), str(primary), str(paths["bench.csr"]),
            str(paths["luna-rsa-root-certificate.pem"])]


def _fortanix(paths: dict[str, Path], primary: Path) -> list[str]:
    return [str(SCRIPTS / "verify_fortanix_openssl.sh"), str(primary), str(paths["bench.csr"]),
            str(paths[ROOT_FILE]), str(int(BENCH_TIME.timestamp()))]


WALKS: tuple[tuple[str, Callable[[dict[str, Path], Path], list[str]]], ...] = (
    ("primus", _primus), ("luna-pkc", _luna), ("fortanix", _fortanix))


def rows(repeat: int) -> list[Row]:
    """Median seconds of each vendor's openssl walk over an RSA-3072 bundle (none without openssl)."""
    if not shutil.which("openssl"):
        return []
    out = []
    times = max(3, repeat // 3)
    for format_name, command in WALKS:
        evidence = bench_attestation(format_name, "rsa-3072")()
        with tempfile.TemporaryDirectory() as work:
            paths = {path.name: path for path in evidence.write(Path(work))}
            argv = ["bash", *command(paths, Path(work) / evidence.primary)]
            out.append(Row(f"{format_name} openssl walk (subprocesses, the vendor's way)", median_seconds(
                lambda a=argv: subprocess.run(a, capture_output=True, check=True), times), note=runs_note(times)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    for row in rows(parser.parse_args().repeat):
        print(f"{row.label:60} {row.seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
