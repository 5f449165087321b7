"""TPM row for ``scripts/bench.py``: attesting a key held in swtpm (the genuine TPM2_Certify path), when swtpm
is installed (attest and the reference verifier of every format are rows of ``scripts/bench.py`` itself).

    .venv/bin/python scripts/bench_tpm.py [--repeat N]    # this row alone
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import Row, median_seconds, runs_note  # noqa: E402

from hsmsim.device import Device  # noqa: E402
from hsmsim.hsm import Hsm  # noqa: E402
from hsmsim.keystore.base import KeySpec  # noqa: E402

AT = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
GENUINE_GOAL = 0.2


def rows(repeat: int) -> list[Row]:
    """Median seconds of attesting a key held in swtpm (genuine TPM2_Certify), when swtpm is installed."""
    from hsmsim.keystore.swtpm import SwtpmKeyStore, swtpm_available

    if swtpm_available() is not None:
        return []
    with tempfile.TemporaryDirectory() as tmp, SwtpmKeyStore(Path(tmp) / "swtpm") as store:
        store.generate(KeySpec.parse("ec-p256"), "bench-ec", created=AT)
        hsm = Hsm(Device.from_seed("webauthn", "bench"), store)
        hsm.attest("bench-ec", "webauthn", {"attest_time": AT})  # swtpm started, AK read
        times = max(3, repeat // 3)
        return [Row("attest webauthn EC P-256 key in swtpm, genuine TPM2_Certify", median_seconds(
            lambda: hsm.attest("bench-ec", "webauthn", {"attest_time": AT}), times), goal=GENUINE_GOAL,
            goal_text=f"<= {GENUINE_GOAL * 1000:g} ms", note=runs_note(times))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    for row in rows(args.repeat):
        print(f"{row.label:80} {row.seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
