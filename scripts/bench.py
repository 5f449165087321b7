"""hsmsim speed, measured in one run: medians and ratios, printed as a table.

    .venv/bin/python scripts/bench.py [--repeat N]

Each ``scripts/bench_<topic>.py`` beside this file contributes rows through
``rows(repeat) -> list[(label, seconds)]``; they are measured in the same run.

Rows here: seeded key derivation (cold = derive, cached = load from the disk cache),
Primus attest, the reference verifier, the vendor's openssl walk as subprocesses, and
corpus generation against its signing floor (the time spent inside the signing calls of
that same generation).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import median_seconds  # noqa: E402

from hsmsim.device import Device  # noqa: E402
from hsmsim.formats import get_format  # noqa: E402
from hsmsim.hsm import Hsm  # noqa: E402
from hsmsim.keystore.base import KeySpec  # noqa: E402
from hsmsim.keystore.soft import SoftKeyStore  # noqa: E402
from hsmsim.model.evidence import TrustAnchors  # noqa: E402
from hsmsim.pki import seed  # noqa: E402

AT = datetime(2025, 6, 1, tzinfo=UTC)



# Every place a signing helper is bound: (module, name). reissue() calls builder.build_certificate.
SIGNING_CALLS = [
    ("hsmsim.pki.builder", "build_certificate"), ("hsmsim.pki.builder", "build_csr"),
    ("hsmsim.formats.primus.pki", "build_certificate"), ("hsmsim.formats.primus.bundle", "build_csr"),
    ("hsmsim.formats.primus.bundle", "sign_xml"), ("hsmsim.formats.primus.catalogue", "sign_xml"),
    ("hsmsim.formats.primus.catalogue", "build_certificate"), ("hsmsim.formats.primus.catalogue", "build_csr"),
]


def corpus_rows(repeat: int) -> list[tuple[str, float]]:
    """Corpus generation (warm key cache) and the time its signature calls took, same runs."""
    from unittest import mock

    from hsmsim.corpus.build import build_corpus

    spent = [0.0]

    def timed(fn: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
        return wrapper

    totals, floors = [], []
    with tempfile.TemporaryDirectory() as tmp:
        build_corpus(Path(tmp) / "warm")  # derive and cache every key first
        for run in range(repeat):
            spent[0] = 0.0
            with contextlib.ExitStack() as stack:
                for module, attr in SIGNING_CALLS:
                    target = importlib.import_module(module)
                    stack.enter_context(mock.patch.object(target, attr, timed(getattr(target, attr))))
                start = time.perf_counter()
                build_corpus(Path(tmp) / f"run{run}")
                totals.append(time.perf_counter() - start)
            floors.append(spent[0])
    return [("generate corpus (warm key cache)", statistics.median(totals)),
            ("  of which signing (floor)", statistics.median(floors))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []

    with tempfile.TemporaryDirectory() as cache:
        import os

        os.environ["HSMSIM_CACHE_DIR"] = cache
        counter = iter(range(10**6))

        def cold() -> None:
            seed.derive_key.cache_clear()
            seed.derive_key("bench", f"cold/{next(counter)}", KeySpec.parse("rsa-2048"))

        def cached() -> None:
            seed.derive_key.cache_clear()
            seed.derive_key("bench", "warm", KeySpec.parse("rsa-2048"))

        rows.append(("derive RSA-2048 (cold)", median_seconds(cold, max(3, args.repeat // 3))))
        rows.append(("derive RSA-2048 (disk cache)", median_seconds(cached, args.repeat)))

    store = SoftKeyStore(seed="bench")
    hsm = Hsm(Device.from_seed("primus", "bench"), store)
    store.generate(KeySpec.parse("rsa-3072"), "bench-rsa", created=AT)
    store.generate(KeySpec.parse("ec-p256"), "bench-ec", created=AT)
    fmt = get_format("primus")
    rows.append(("attest primus RSA-3072 key", median_seconds(
        lambda: hsm.attest("bench-rsa", "primus", {"attest_time": AT}), args.repeat)))
    rows.append(("attest primus EC P-256 key", median_seconds(
        lambda: hsm.attest("bench-ec", "primus", {"attest_time": AT}), args.repeat)))
    evidence = hsm.attest("bench-rsa", "primus", {"attest_time": AT})
    trust = TrustAnchors({"root": (hsm.attestation_identity().root,)})
    rows.append(("reference verify (in-process)", median_seconds(
        lambda: fmt.verify(evidence, trust, at=AT), args.repeat)))
    if shutil.which("openssl"):
        with tempfile.TemporaryDirectory() as work:
            paths = evidence.write(Path(work))
            zip_path, csr_path, root_path = paths
            command = ["bash", str(ROOT / "scripts" / "verify_primus_openssl.sh"),
                       str(zip_path), str(csr_path), str(root_path)]
            rows.append(("openssl walk (subprocesses)", median_seconds(
                lambda: subprocess.run(command, capture_output=True, check=True), args.repeat)))

    rows += corpus_rows(max(3, args.repeat // 3))
    for module_path in sorted(Path(__file__).parent.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows += module.rows(args.repeat)

    base = dict(rows)["reference verify (in-process)"]
    table = Table(title=f"hsmsim bench (medians of {args.repeat}; ratio = time / reference verify)")
    table.add_column("operation")
    table.add_column("median ms", justify="right")
    table.add_column("ratio", justify="right")
    for label, seconds in rows:
        table.add_row(label, f"{seconds * 1000:.2f}", f"{seconds / base:.1f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
