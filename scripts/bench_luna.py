"""Luna PKC rows for ``scripts/bench.py``: attest and verify medians (RSA-3072 and EC P-256), and the openssl walk.

    .venv/bin/python scripts/bench_luna.py [--repeat N]    # these rows alone
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
from cryptography import x509  # noqa: E402

from hsmsim.device import Device  # noqa: E402
from hsmsim.formats import get_format  # noqa: E402
from hsmsim.hsm import Hsm  # noqa: E402
from hsmsim.keystore.base import KeySpec  # noqa: E402
from hsmsim.keystore.soft import SoftKeyStore  # noqa: E402
from hsmsim.model.evidence import TrustAnchors  # noqa: E402

AT = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)



def rows(repeat: int) -> list[tuple[str, float]]:
    """Median seconds of Luna attest and reference verify (RSA-3072, EC P-256) and of the openssl walk."""
    store = SoftKeyStore(seed="bench")
    hsm = Hsm(Device.from_seed("luna-pkc", "bench"), store)
    fmt = get_format("luna-pkc")
    out: list[tuple[str, float]] = []
    for spec in ("rsa-3072", "ec-p256"):
        store.generate(KeySpec.parse(spec), f"bench-{spec}", created=AT)
    for spec, label in (("rsa-3072", "RSA-3072"), ("ec-p256", "EC P-256")):
        out.append((f"attest luna-pkc {label} key", median_seconds(
            lambda s=spec: hsm.attest(f"bench-{s}", "luna-pkc", {"attest_time": AT}), repeat)))
    for spec, label in (("rsa-3072", "RSA-3072"), ("ec-p256", "EC P-256")):
        evidence = hsm.attest(f"bench-{spec}", "luna-pkc", {"attest_time": AT})
        root = next(data for name, data in evidence.files.items() if name.endswith("root-certificate.pem"))
        trust = TrustAnchors({"root": (x509.load_pem_x509_certificate(root),)})
        out.append((f"verify luna-pkc {label} (in-process)", median_seconds(
            lambda e=evidence, t=trust: fmt.verify(e, t, at=AT), repeat)))
    if shutil.which("openssl"):
        evidence = hsm.attest("bench-rsa-3072", "luna-pkc", {"attest_time": AT})
        with tempfile.TemporaryDirectory() as work:
            paths = {p.name: p for p in evidence.write(Path(work))}
            command = ["bash", str(ROOT / "scripts" / "verify_luna_openssl.sh"), str(paths[evidence.primary]),
                       str(paths["bench-rsa-3072.csr"]), str(paths["luna-rsa-root-certificate.pem"])]
            out.append(("luna-pkc openssl walk RSA (subprocesses)", median_seconds(
                lambda: subprocess.run(command, capture_output=True, check=True), max(3, repeat // 3))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    for label, seconds in rows(args.repeat):
        print(f"{label:45} {seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
