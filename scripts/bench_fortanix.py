"""Fortanix rows for ``scripts/bench.py``: attest, the reference verifier and the openssl walk.

    .venv/bin/python scripts/bench_fortanix.py [--repeat N]

``scripts/bench.py`` imports this file and calls :func:`rows`; run alone, it prints the rows.
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

from benchlib import median_seconds  # noqa: E402

from hsmsim.device import Device  # noqa: E402
from hsmsim.formats import get_format  # noqa: E402
from hsmsim.formats.fortanix.generate import ROOT_FILE  # noqa: E402
from hsmsim.hsm import Hsm  # noqa: E402
from hsmsim.keystore.base import KeySpec  # noqa: E402
from hsmsim.keystore.soft import SoftKeyStore  # noqa: E402
from hsmsim.model.evidence import TrustAnchors  # noqa: E402

AT = datetime(2025, 6, 1, tzinfo=UTC)
WALK = ROOT / "scripts" / "verify_fortanix_openssl.sh"



def rows(repeat: int) -> list[tuple[str, float]]:
    """Median seconds of Fortanix attest (RSA-3072, EC P-256), verify, and the openssl walk."""
    store = SoftKeyStore(seed="bench")
    hsm = Hsm(Device.from_seed("fortanix", "bench"), store)
    store.generate(KeySpec.parse("rsa-3072"), "bench-fx-rsa", created=AT)
    store.generate(KeySpec.parse("ec-p256"), "bench-fx-ec", created=AT)
    fmt = get_format("fortanix")
    out = [
        ("attest fortanix RSA-3072 key", median_seconds(
            lambda: hsm.attest("bench-fx-rsa", "fortanix", {"attest_time": AT}), repeat)),
        ("attest fortanix EC P-256 key", median_seconds(
            lambda: hsm.attest("bench-fx-ec", "fortanix", {"attest_time": AT}), repeat)),
    ]
    evidence = hsm.attest("bench-fx-rsa", "fortanix", {"attest_time": AT})
    trust = TrustAnchors({"root": (hsm.attestation_identity().root,)})
    out.append(("fortanix reference verify (in-process)", median_seconds(
        lambda: fmt.verify(evidence, trust, at=AT), repeat)))
    if shutil.which("openssl"):
        with tempfile.TemporaryDirectory() as work:
            evidence.write(Path(work))
            command = ["bash", str(WALK), str(Path(work) / evidence.primary), str(Path(work) / "bench-fx-rsa.csr"),
                       str(Path(work) / ROOT_FILE), str(int(AT.timestamp()))]
            out.append(("fortanix openssl walk (subprocesses)", median_seconds(
                lambda: subprocess.run(command, capture_output=True, check=True), max(3, repeat // 3))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    for label, seconds in rows(parser.parse_args().repeat):
        print(f"{label:42s} {seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
