"""Luna PKC row for ``scripts/bench.py``: the vendor's openssl walk as subprocesses (attest and the reference
verifier of every format are rows of ``scripts/bench.py`` itself).

    .venv/bin/python scripts/bench_luna.py [--repeat N]    # this row alone
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import Row, median_seconds  # noqa: E402

from hsmsim.device import Device  # noqa: E402
from hsmsim.hsm import Hsm  # noqa: E402
from hsmsim.keystore.base import KeySpec  # noqa: E402
from hsmsim.keystore.soft import SoftKeyStore  # noqa: E402

AT = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def rows(repeat: int) -> list[Row]:
    """Median seconds of the openssl walk over a Luna RSA-3072 bundle (none without openssl)."""
    if not shutil.which("openssl"):
        return []
    store = SoftKeyStore(seed="bench")
    hsm = Hsm(Device.from_seed("luna-pkc", "bench"), store)
    store.generate(KeySpec.parse("rsa-3072"), "bench-rsa-3072", created=AT)
    evidence = hsm.attest("bench-rsa-3072", "luna-pkc", {"attest_time": AT})
    with tempfile.TemporaryDirectory() as work:
        paths = {p.name: p for p in evidence.write(Path(work))}
        command = ["bash", str(ROOT / "scripts" / "verify_luna_openssl.sh"), str(paths[evidence.primary]),
                   str(paths["bench-rsa-3072.csr"]), str(paths["luna-rsa-root-certificate.pem"])]
        return [Row("luna-pkc openssl walk RSA (subprocesses, the vendor's way)", median_seconds(
            lambda: subprocess.run(command, capture_output=True, check=True), max(3, repeat // 3)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    for row in rows(parser.parse_args().repeat):
        print(f"{row.label:60} {row.seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
