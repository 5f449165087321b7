"""TPM rows for ``scripts/bench.py``: attest and verify medians per TPM wrapper (webauthn, tpm-acme,
parsec-tpm), EC P-256 keys in the emulated TPM, and the genuine path through swtpm when it is installed.

    .venv/bin/python scripts/bench_tpm.py [--repeat N]    # these rows alone

Each label states its goal: what a relying party or CA would notice per request.
"""

from __future__ import annotations

import argparse
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
WRAPPERS = ("webauthn", "tpm-acme", "parsec-tpm")
ATTEST_GOAL_MS, VERIFY_GOAL_MS, GENUINE_GOAL_MS = 20, 10, 200


def _trust(files: dict[str, bytes]) -> TrustAnchors:
    return TrustAnchors({"root": (x509.load_pem_x509_certificate(files["tpm_root_ca.pem"]),)})


def rows(repeat: int) -> list[tuple[str, float]]:
    """Median seconds of attest and reference verify for each TPM wrapper (and of genuine swtpm evidence)."""
    out: list[tuple[str, float]] = []
    for wrapper in WRAPPERS:
        store = SoftKeyStore(seed="bench")
        hsm = Hsm(Device.from_seed(wrapper, "bench"), store)
        store.generate(KeySpec.parse("ec-p256"), "bench-ec", created=AT)
        fmt = get_format(wrapper)
        out.append((f"attest {wrapper} EC P-256 key (goal {ATTEST_GOAL_MS} ms)", median_seconds(
            lambda h=hsm, w=wrapper: h.attest("bench-ec", w, {"attest_time": AT}), repeat)))
        evidence = hsm.attest("bench-ec", wrapper, {"attest_time": AT})
        trust = _trust(dict(evidence.files))
        out.append((f"verify {wrapper} EC P-256 (in-process, goal {VERIFY_GOAL_MS} ms)", median_seconds(
            lambda f=fmt, e=evidence, t=trust: f.verify(e, t, at=AT), repeat)))
    out += _genuine_rows(max(3, repeat // 3))
    return out


def _genuine_rows(repeat: int) -> list[tuple[str, float]]:
    from hsmsim.keystore.swtpm import SwtpmKeyStore, swtpm_available

    if swtpm_available() is not None:
        return []
    with tempfile.TemporaryDirectory() as tmp, SwtpmKeyStore(Path(tmp) / "swtpm") as store:
        store.generate(KeySpec.parse("ec-p256"), "bench-ec")
        hsm = Hsm(Device.from_seed("webauthn", "bench"), store)
        hsm.attest("bench-ec", "webauthn", {"attest_time": AT})  # swtpm started, AK read
        return [(f"attest webauthn EC P-256 key in swtpm, genuine TPM2_Certify (goal {GENUINE_GOAL_MS} ms)",
                 median_seconds(lambda: hsm.attest("bench-ec", "webauthn", {"attest_time": AT}), repeat))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    for label, seconds in rows(args.repeat):
        print(f"{label:80} {seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
