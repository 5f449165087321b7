"""hsmsim speed, measured in one run: medians, ratios and goals, printed as a table per section.

    .venv/bin/python scripts/bench.py [--repeat N] [--only SECTION ...]

Sections (issue 19), each figure printed beside its goal and whether it is met:

* ``verify``: the reference verifier per format, over the format's golden vectors of ``vectors/``
  (decoded once, verified in-process), per bundle, timed in interleaved rounds (each round passes over
  every format once). Goal <= 1 ms. The note gives the crypto floor: the CPU
  time inside signature checks and private-key decryptions in one profiled pass over the same bundles, and
  in the self-signature checks of the CSRs that pass loaded (a property, ``is_signature_valid``, which the
  profiler cannot see: timed apart on the same CSRs, see ``benchlib.CsrSelfChecks``).
* ``attest``: ``Hsm.attest`` in-process with the soft keystore, warm, per format (an EC P-256 and an
  RSA key). Goals: Primus <= 5 ms, Marvell <= 2 ms; the other formats are informative. The note gives the
  signing floor: the CPU time inside the signing calls of one attestation (the attested key's CSR, the
  attestation key's signatures), which no emulator of that evidence can skip.
* ``corpus``: ``vectors generate`` (warm key cache) in fresh processes: per format and in total, against
  its signing floor, the time spent inside the signing primitives of that same generation (measured
  in a separate, profiled process, so the profiler does not slow the timed one). Goal <= 3x floor. The note
  also gives the CPU time of writing the files, records and JSON (per file and per vector, whatever the
  signatures cost).
  What a generation does once per process, which the first format generated would pay for all (the imports
  every format shares, the format registry, Faker's English data, the corpus's JSON Schema, the first full
  garbage collection), is a row of its own, in the total.
* ``keys``: seeded key derivation (cold, and loaded from the disk cache).
* ``extra``: the rows of every ``scripts/bench_<topic>.py`` beside this file (``rows(repeat)`` returns
  :class:`benchlib.Row`): openssl walks, conformance, fuzz, server. A row measured fewer times than
  ``--repeat`` says so in its note (the fuzz campaigns and the server's load test run once).

The header gives the machine's speed at the primitives the figures rest on (a P-256, P-384, RSA-2048 and
RSA-3072 signature and check, a pure-Python loop), so figures from two machines can be compared, and the
load average; both are printed again at the end, as a shared machine's speed drifts. On a shared machine
wall figures grow with the load, so each figure also has its CPU time (``time.process_time``) beside it
where it is measured, and a goal is judged on that CPU time where there is one (on a quiet machine the two
agree for this single-threaded work); the corpus floor is likewise the CPU time inside the signing calls.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import itertools
import json
import os
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

from benchlib import (  # noqa: E402
    PYTHON_CHECKING,
    PYTHON_SIGNING,
    CCallTimer,
    CsrSelfChecks,
    Row,
    bench_attestation,
    installed_environment,
    is_checking_call,
    is_signing_call,
    measure,
    measure_interleaved,
    runs_note,
    signing_cpu,
)

SECTIONS = ("verify", "attest", "corpus", "keys", "extra")
VERIFY_GOAL = 0.001
VERIFY_ROUNDS_PER_REPEAT = 3
ATTEST_GOALS = {"primus": 0.005, "marvell-azure": 0.002, "marvell-google": 0.002}
CORPUS_FLOOR_FACTOR = 3.0
SHARED_IMPORTS = ("faker", "hsmsim.device", "hsmsim.keystore.base", "hsmsim.model.catalogue", "hsmsim.pki.builder",
                  "hsmsim.pki.identity", "hsmsim.pki.seed", "hsmsim.pki.signing")
"""The modules that every format's vector generation imports (those that generating each format alone, in a fresh
process, imports have these in common), imported in their own row before the formats' rows are timed."""

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def verify_rows(repeat: int) -> list[Row]:
    """Per format: the reference verifier over its golden vectors, per bundle, in ``VERIFY_ROUNDS_PER_REPEAT *
    repeat`` interleaved rounds (a pass over one format's goldens takes milliseconds)."""
    from cryptography import x509

    from hsmsim.formats import get_format
    from hsmsim.harness.vectors import load_corpus
    from hsmsim.model.evidence import TrustAnchors

    corpus = load_corpus(ROOT / "vectors")
    passes: dict[str, Callable[[], object]] = {}
    counts: dict[str, int] = {}
    for name in corpus.formats():
        fmt = get_format(name)
        goldens = [v for v in corpus.select(formats=[name]) if v.golden]
        cases = [(v.evidence, TrustAnchors({"root": tuple(x509.load_pem_x509_certificate(p.encode())
                                                           for p in v.anchors_pem)}), v.at) for v in goldens]
        for (evidence, trust, at), vector in zip(cases, goldens, strict=True):
            verdict = fmt.verify(evidence, trust, at=at)
            assert verdict.accepted, f"{vector.id}: {verdict}"

        def run(fmt=fmt, cases=cases) -> None:  # type: ignore[no-untyped-def]
            for evidence, trust, at in cases:
                fmt.verify(evidence, trust, at=at)

        passes[name], counts[name] = run, len(cases)
    rounds = VERIFY_ROUNDS_PER_REPEAT * repeat
    samples = measure_interleaved(passes, rounds, counts)
    out = []
    for name, one_pass in passes.items():
        with CCallTimer(is_checking_call, PYTHON_CHECKING) as crypto, CsrSelfChecks() as csrs:
            one_pass()
        count = counts[name]
        checks = crypto.count + len(csrs.loaded)
        out.append(Row(f"verify {name} ({count} goldens, per bundle)", samples[name].wall, samples[name].cpu,
                       VERIFY_GOAL, "<= 1 ms", f"crypto >= {_ms((crypto.cpu + csrs.cpu()) / count)} ms CPU "
                       f"({checks / count:.1f} signature checks and decryptions, CSR self-signatures included); "
                       f"{runs_note(rounds)} interleaved rounds"))
    return out


def machine_note(repeat: int) -> str:
    """The machine's speed at the primitives the figures rest on, so runs on two machines can be compared: a
    P-256, P-384, RSA-2048 and RSA-3072 signature and its check through cryptography, and a pure-Python loop
    (medians). RSA private operations differ most between machines (OpenSSL's AVX-512 IFMA code)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    message, ecdsa, pkcs1 = b"hsmsim bench", ec.ECDSA(hashes.SHA256()), padding.PKCS1v15()
    calls: list[tuple[str, Callable[[], object], int]] = []
    for label, curve in (("P-256", ec.SECP256R1()), ("P-384", ec.SECP384R1())):
        ec_key = ec.derive_private_key(7, curve)
        ec_signature = ec_key.sign(message, ecdsa)
        calls += [(f"{label} sign", functools.partial(ec_key.sign, message, ecdsa), 100),
                  (f"{label} verify", functools.partial(ec_key.public_key().verify, ec_signature, message, ecdsa), 100)]
    for bits in (2048, 3072):
        rsa_key = rsa.generate_private_key(65537, bits)
        rsa_signature = rsa_key.sign(message, pkcs1, hashes.SHA256())
        calls += [(f"RSA-{bits} sign", functools.partial(rsa_key.sign, message, pkcs1, hashes.SHA256()), 10),
                  (f"RSA-{bits} verify", functools.partial(rsa_key.public_key().verify, rsa_signature, message, pkcs1,
                                                           hashes.SHA256()), 100)]
    figures = []
    for label, fn, per in calls:
        sample = measure(lambda fn=fn, per=per: [fn() for _ in range(per)], repeat, per=per)  # type: ignore[misc]
        figures.append(f"{label} {sample.cpu * 1e6:,.0f}")
    loop = measure(lambda: sum(i * i for i in range(100_000)), repeat)
    return (f"machine, CPU us per call: {', '.join(figures)}; "
            f"Python sum of 100,000 squares {loop.cpu * 1e3:.1f} ms")


def _attest_specs(key_specs: tuple[str, ...]) -> list[str]:
    ec = [s for s in ("ec-p256",) if s in key_specs]
    rsa = [s for s in ("rsa-3072", "rsa-2048") if s in key_specs]
    return ec + rsa[:1]


def attest_rows(repeat: int) -> list[Row]:
    """Per format: ``Hsm.attest`` (soft keystore, warm) of an EC P-256 and an RSA key."""
    from hsmsim.errors import HsmsimError
    from hsmsim.formats import all_formats

    out = []
    for fmt in all_formats():
        for spec in _attest_specs(fmt.key_specs):
            try:
                attest = bench_attestation(fmt.name, spec)
            except HsmsimError:  # e.g. a device firmware without this key size: try the next spec
                continue
            sample = measure(attest, repeat)
            signing, signatures = signing_cpu(attest)
            goal = ATTEST_GOALS.get(fmt.name)
            out.append(Row(f"attest {fmt.name} {spec}", sample.wall, sample.cpu, goal,
                           f"<= {goal * 1000:g} ms" if goal else "",
                           f"signing >= {_ms(signing)} ms CPU ({signatures} signatures)"))
    return out


def corpus_child(mode: str, out: Path) -> None:
    """In a fresh process: set up what every catalogue shares (:func:`_shared_setup`), then generate every format's
    vectors into ``out`` (a new directory), one format after the other in one process (as ``vectors generate``
    does), and print the wall and CPU seconds of the set-up and, per format, of its generation (``mode`` ``time``),
    or also the seconds spent inside signing calls and their count (``mode`` ``floor``), as JSON on stdout."""
    cpu, start = time.process_time(), time.perf_counter()
    formats = _shared_setup()
    shared = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}
    from hsmsim.corpus import build
    from hsmsim.corpus.build import build_corpus

    # The share of writing the vector files, records, JSON and manifest (the rest is the format's catalogue): a
    # cost per file and per vector that does not shrink with the signatures.
    writing = {"cpu": 0.0, "files": 0}
    write_corpus = build._write_corpus

    def timed_write(*args: object, **kwargs: object) -> int:
        cpu = time.process_time()
        try:
            files = write_corpus(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            writing["cpu"] += time.process_time() - cpu
        writing["files"] += files
        return files

    build._write_corpus = timed_write
    timer = CCallTimer(is_signing_call, PYTHON_SIGNING)
    result: dict[str, dict[str, float]] = {}
    for name in formats:
        timer.reset()
        writing.update(cpu=0.0, files=0)
        cpu, start = time.process_time(), time.perf_counter()
        if mode == "floor":
            with timer:
                build_corpus(out / name, formats=[name])
        else:
            build_corpus(out / name, formats=[name])
        result[name] = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                        "signing": timer.wall, "signing_cpu": timer.cpu, "signatures": timer.count,
                        "writing_cpu": writing["cpu"], "files": writing["files"]}
    print(json.dumps({"shared_imports": shared, "formats": result}))


def _shared_setup() -> list[str]:
    """What a corpus generation does once per process, whichever format comes first, and return the formats' names:
    import the corpus builder, :data:`SHARED_IMPORTS` and every format family (the registry), load Faker's English
    data (Faker's import scans the locale folders of all its providers, 0.1-0.25 s here), write the corpus's JSON
    Schema (one file per corpus) and run the first full garbage collection, which the imports' objects trigger.
    The first format generated would pay all of it for every format, so it has its own row, added to the total."""
    from hsmsim.corpus.build import _schema_bytes
    from hsmsim.formats import names
    from hsmsim.model.catalogue import seeded_faker

    for module in SHARED_IMPORTS:
        importlib.import_module(module)
    formats = names()
    seeded_faker("bench", ["en_US"])
    _schema_bytes()
    gc.collect()
    return formats


def _child(mode: str, out: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The shared imports' and each format's figures of one :func:`corpus_child` process."""
    # Else every fresh process would compile the catalogue modules it imports inside the timed generation.
    env = installed_environment() | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, __file__, "--corpus-child", mode, "--corpus-out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=True)
    printed = json.loads(done.stdout.splitlines()[-1])
    return dict(printed["shared_imports"]), dict(printed["formats"])


def scratch_directory() -> Path | None:
    """Where the corpus rows write: ``/dev/shm`` (tmpfs) where it is writable, else the system's temp directory.

    Creating a corpus's 4,500 files and directories on a disk filesystem costs from 0.1 s to more than a second,
    depending on how many files were deleted in the last seconds (ext4 steps over recently freed inodes): that
    measures the disk's recent past, not generation. ``--corpus-dir`` measures on a disk instead.
    """
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def corpus_rows(repeat: int, scratch: Path | None) -> list[Row]:
    """Corpus generation per format and in total, in fresh processes writing under ``scratch``, against its
    signing floor."""
    # Timed and floor processes alternate, so a slow spell of a shared machine weighs on both sides of the ratio.
    # Every process writes a new tree and all are deleted at the end, so no run's clean-up slows the next one.
    with tempfile.TemporaryDirectory(dir=scratch) as root:
        trees = (Path(root) / str(n) for n in itertools.count())
        _child("time", next(trees))  # warm the disk key cache and the bytecode cache (untimed)
        pairs = [(_child("time", next(trees)), _child("floor", next(trees))) for _ in range(repeat)]
    imports = [pair[0][0] for pair in pairs]
    timed = [pair[0][1] for pair in pairs]
    floors = [pair[1][1] for pair in pairs]
    imports_wall = statistics.median(run["wall"] for run in imports)
    imports_cpu = statistics.median(run["cpu"] for run in imports)
    out = [Row("generate: shared set-up (imports, Faker's English data, the schema), once per process", imports_wall,
               imports_cpu, note="what every format's generation does once per process: in the total, not in a "
               "format's row")]
    floor_sum = floor_cpu_sum = 0.0
    for name in timed[0]:
        wall = statistics.median(run[name]["wall"] for run in timed)
        cpu = statistics.median(run[name]["cpu"] for run in timed)
        floor = statistics.median(run[name]["signing"] for run in floors)
        floor_cpu = statistics.median(run[name]["signing_cpu"] for run in floors)
        count = int(floors[0][name]["signatures"])
        writing_cpu = statistics.median(run[name]["writing_cpu"] for run in timed)
        files = int(timed[0][name]["files"])
        floor_sum += floor
        floor_cpu_sum += floor_cpu
        out.append(Row(f"generate {name} vectors", wall, cpu, CORPUS_FLOOR_FACTOR * floor_cpu, "<= 3x floor",
                       _floor_note(wall, cpu, floor, floor_cpu, f" ({count} signatures)")
                       + f"; writing {files} files and their records {_ms(writing_cpu)} ms CPU"))
    runs = list(zip(imports, timed, strict=True))
    wall = statistics.median(shared["wall"] + sum(run[name]["wall"] for name in run) for shared, run in runs)
    cpu = statistics.median(shared["cpu"] + sum(run[name]["cpu"] for name in run) for shared, run in runs)
    written = f"; written under {scratch or tempfile.gettempdir()}"
    out.append(Row("generate corpus, all formats (one process, with the import)", wall, cpu,
                   CORPUS_FLOOR_FACTOR * floor_cpu_sum, "<= 3x floor",
                   _floor_note(wall, cpu, floor_sum, floor_cpu_sum, "") + written))
    return out


def _floor_note(wall: float, cpu: float, floor: float, floor_cpu: float, count: str) -> str:
    def ratio(spent: float, base: float) -> str:
        return f"{spent / base:.1f}x" if base else "-"

    return (f"floor {_ms(floor)} ms wall / {_ms(floor_cpu)} ms CPU{count}: {ratio(wall, floor)} wall, "
            f"{ratio(cpu, floor_cpu)} CPU")


def key_rows(repeat: int) -> list[Row]:
    """Seeded RSA-2048 derivation: cold, and loaded from the disk cache."""
    from hsmsim.keystore.base import KeySpec
    from hsmsim.pki import seed

    out = []
    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("HSMSIM_CACHE_DIR")
        os.environ["HSMSIM_CACHE_DIR"] = cache
        counter = iter(range(10**6))

        def cold() -> None:
            seed.derive_key.cache_clear()
            seed.derive_key("bench", f"cold/{next(counter)}", KeySpec.parse("rsa-2048"))

        def cached() -> None:
            seed.derive_key.cache_clear()
            seed.derive_key("bench", "warm", KeySpec.parse("rsa-2048"))

        for label, fn, times in (("derive RSA-2048 (cold)", cold, max(3, repeat // 3)),
                                 ("derive RSA-2048 (disk cache)", cached, repeat)):
            sample = measure(fn, times)
            out.append(Row(label, sample.wall, sample.cpu, note="" if times == repeat else runs_note(times)))
        if previous is None:
            del os.environ["HSMSIM_CACHE_DIR"]
        else:
            os.environ["HSMSIM_CACHE_DIR"] = previous
        seed.derive_key.cache_clear()
    return out


def extra_rows(repeat: int) -> list[Row]:
    """The rows of every ``scripts/bench_<topic>.py``."""
    out: list[Row] = []
    for module_path in sorted(Path(__file__).parent.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses in the module look their module up
        spec.loader.exec_module(module)
        out += module.rows(repeat)
    return out


def _table(title: str, rows: list[Row]) -> Table:
    table = Table(title=title)
    for column, justify in (("operation", "left"), ("wall ms", "right"), ("CPU ms", "right"), ("goal", "left"),
                            ("met", "left"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        goal = f"{row.goal_text} ({_ms(row.goal)} ms)" if row.goal is not None and "floor" in row.goal_text \
            else row.goal_text or "-"
        met = "-" if row.goal is None else ("yes" if _met(row) else "NO")
        table.add_row(row.label, _ms(row.seconds), "" if row.cpu is None else _ms(row.cpu), goal, met, row.note)
    return table


def _met(row: Row) -> bool:
    """Whether the row meets its goal, judged on CPU time where it was measured (the machine is shared: a
    loaded machine stretches wall time, not the CPU time of the work), else on wall time."""
    assert row.goal is not None
    return (row.cpu if row.cpu is not None else row.seconds) <= row.goal


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--corpus-child", choices=("time", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus-dir", type=Path, default=scratch_directory(),
                        help="an existing directory the corpus rows write under (default: /dev/shm where writable, "
                             "else the temp directory)")
    args = parser.parse_args()
    if args.corpus_child:
        if args.corpus_out is None:
            parser.error("--corpus-child needs --corpus-out")
        corpus_child(args.corpus_child, args.corpus_out)
        return
    if args.corpus_dir is not None and not args.corpus_dir.is_dir():
        parser.exit(2, f"{parser.prog}: error: --corpus-dir {args.corpus_dir}: not a directory\n")
    corpus_repeat = max(3, args.repeat // 2)
    section_rows: dict[str, Callable[[], list[Row]]] = {
        "verify": lambda: verify_rows(args.repeat), "attest": lambda: attest_rows(args.repeat),
        "corpus": lambda: corpus_rows(corpus_repeat, args.corpus_dir), "keys": lambda: key_rows(args.repeat),
        "extra": lambda: extra_rows(args.repeat),
    }
    # Vectors with a zero or negative serial, and Crypto4A's six-letter country, make cryptography warn on every
    # parse; the tables stay readable, as the CLI's standard error does.
    from hsmsim.pki.parse_warnings import quiet_certificate_warnings

    quiet_certificate_warnings()
    console = Console(width=180)
    load = os.getloadavg()
    console.print(f"hsmsim bench at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, tree {ROOT} ({_commit()}); "
                  f"{os.cpu_count()} CPUs; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    console.print(machine_note(args.repeat))
    started = time.perf_counter()
    rows = []
    for section in args.only:  # a table per section as it completes: a long run shows its figures early
        measured = section_rows[section]()
        runs = (f"of {corpus_repeat} fresh processes" if section == "corpus"
                else f"of {args.repeat}, unless the note says")
        console.print(_table(f"{section} (medians {runs}; met: judged on CPU time where measured)", measured))
        rows += measured
    with_goal = [row for row in rows if row.goal is not None]
    met = sum(_met(row) for row in with_goal)
    load = os.getloadavg()
    console.print(machine_note(args.repeat))
    console.print(f"{met}/{len(with_goal)} goals met; bench took {time.perf_counter() - started:.0f} s; "
                  f"load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
