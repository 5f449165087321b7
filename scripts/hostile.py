"""The hostile-input suite: ``hsmsim verify`` over inputs built to exhaust memory, time or the reader.

    .venv/bin/python scripts/hostile.py [--tree DIR] [--timeout 5] [--only SUBSTRING]

Builds every input in a temporary directory (bombs and big files sparse or made once and cached in
``build/hostile-cache/``), runs ``python -m hsmsim verify`` on each in a subprocess (``--tree`` puts
another checkout first on its ``PYTHONPATH``, to measure code before a fix) with a timeout and a
3 GiB address-space cap (so an unbounded read fails with MemoryError instead of taking the machine),
and prints one row per input: exit code, the verdict or error line, wall time, maximum RSS. The goal
is a one-line verdict (exit 0/1) or usage error (exit 2) within 1 s and 100 MB for every input.
"""

from __future__ import annotations

import argparse
import bz2
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "vectors"
CACHE = ROOT / "build" / "hostile-cache"
AT = "2026-01-01T00:00:00Z"
MiB = 1024 * 1024
ADDRESS_SPACE = 3 * 1024 * MiB
GOAL_SECONDS, GOAL_MB = 1.0, 100.0


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]


@dataclass(frozen=True)
class Outcome:
    code: str
    line: str
    seconds: float
    max_rss_mb: float


def _zip(members: list[tuple[str, bytes, int, bytes, int]]) -> bytes:
    """A zip of (name, content, method, stored bytes, declared size) entries, sizes in the local headers."""
    out, central = bytearray(), bytearray()
    for name, content, method, body, declared in members:
        raw, crc = name.encode(), zlib.crc32(content)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, method, 0, 0x21, crc, len(body), declared,
                           len(raw), 0) + raw + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x0800, method, 0, 0x21, crc, len(body),
                               declared, len(raw), 0, 0, 0, 0, 0, offset) + raw
    n = len(members)
    return bytes(out + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), len(out), 0))


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _bzip2_zeros(size: int) -> bytes:
    """bzip2 of ``size`` zero bytes, made once (1 GiB takes a minute or two) and cached."""
    path = CACHE / f"zeros-{size}.bz2"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        compressor, chunk = bz2.BZ2Compressor(9), bytes(MiB)
        parts = [compressor.compress(chunk) for _ in range(size // MiB)]
        path.write_bytes(b"".join(parts) + compressor.flush())
    return path.read_bytes()


def _text_like(size: int) -> bytes:
    return b"".join(b"%07d\n" % (i * 7919 % 10_000_000) for i in range(size // 8 + 1))[:size]


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


def _central_directory_bomb(path: Path, entries: int) -> Path:
    """A zip whose central directory has ``entries`` one-letter entries (no member data at all)."""
    entry = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    central = entry * entries
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(entries, 0xFFFF), min(entries, 0xFFFF),
                      len(central), 0, 0)
    path.write_bytes(central + end)
    return path


def build(tmp: Path) -> list[Case]:
    """Every hostile input, as ``hsmsim verify`` arguments."""
    golden = next((VECTORS / "primus" / "golden" / "rsa-3072").glob("*.zip"))
    csr_name, root = golden.name.replace("_attestation.zip", ".csr"), VECTORS / "primus" / "golden" / "rsa-3072" / \
        "hsm_rsa_root.crt"
    google = VECTORS / "marvell-google" / "golden" / "ec-p256"
    cases: list[Case] = []

    def primus(name: str, zip_bytes: bytes | None = None, *, csr: str = "copy", roots: tuple[str, ...] = (),
               extra: list[str] | None = None) -> Path:
        directory = tmp / name
        directory.mkdir()
        evidence = directory / golden.name
        evidence.write_bytes(zip_bytes if zip_bytes is not None else golden.read_bytes())
        sibling = directory / csr_name
        if csr == "copy":
            sibling.write_bytes((golden.parent / csr_name).read_bytes())
        elif csr == "fifo":
            os.mkfifo(sibling)
        elif csr == "sparse":
            _sparse(sibling, 200 * 1000 * 1000)
        else:
            sibling.symlink_to(csr)
        args = [str(evidence), *(a for r in (roots or (str(root),)) for a in ("--root", r)), *(extra or [])]
        cases.append(Case(name, args))
        return directory

    xml = next(n for n in _golden_members(golden) if n.endswith(".xml"))
    members = _golden_members(golden)

    def with_xml_as(method: int, body: bytes, declared: int) -> bytes:
        return _zip([(n, d, method, body, declared) if n == xml else (n, d, 8, _deflate(d), len(d))
                     for n, d in members.items()])

    (tmp / "empty.txt").touch()
    cases.append(Case("baseline: an empty file (start-up, every format's detect)", [str(tmp / "empty.txt"), "--root",
                                                                                   str(root)]))
    primus("golden")
    primus("bzip2-member-1GiB-zeros", with_xml_as(12, _bzip2_zeros(1024 * MiB), 1024 * MiB))
    primus("bzip2-member-200MiB-declared-0", with_xml_as(12, _bzip2_zeros(200 * MiB), 0))
    primus("lzma-member-corrupt", with_xml_as(14, b"\x09\x14\x05\x00\x5d\x00\x00\x01\x00" + b"\xff" * 64,
                                              len(members[xml])))
    cd_bomb = _central_directory_bomb(tmp / "cd-1.3M-entries.zip", 1_300_000)
    cases.append(Case("central-directory-1.3M-entries (61 MB)", [str(cd_bomb), "--root", str(root),
                                                                 "--format", "primus"]))
    cd_small = _central_directory_bomb(tmp / "cd-300k-entries.zip", 300_000)
    cases.append(Case("central-directory-300k-entries (14 MB)", [str(cd_small), "--root", str(root),
                                                                 "--format", "primus"]))
    many = tmp / "dir-of-12-zips"
    many.mkdir()
    for f in (golden, golden.parent / csr_name):
        (many / f.name).write_bytes(f.read_bytes())
    filler_content = _text_like(4 * MiB)
    filler = _zip([(f"m{i}.bin", filler_content, 8, _deflate(filler_content), len(filler_content)) for i in range(4)])
    for i in range(12):
        (many / f"filler-{i:02}.zip").write_bytes(filler)
    cases.append(Case("directory-of-12-zips (12 x 16 MiB inflated)", [str(many), "--root", str(root),
                                                                      "--format", "primus"]))
    primus("sibling-csr-200MB-sparse", csr="sparse")
    primus("sibling-csr-fifo", csr="fifo")
    primus("sibling-csr-symlink-dev-zero", csr="/dev/zero")
    primus("root-200MB-sparse", roots=(str(_sparse(tmp / "big-root.pem", 200 * 1000 * 1000)),))
    primus("root-dev-zero", roots=("/dev/zero",))
    fifo_root = tmp / "root.fifo"
    os.mkfifo(fifo_root)
    primus("root-fifo", roots=(str(fifo_root),))
    primus("root-directory", roots=(str(tmp),))
    big = _sparse(tmp / "evidence-20MB_attestation.zip", 20 * 1000 * 1000)
    cases.append(Case("evidence-20MB-sparse", [str(big), "--root", str(root), "--format", "primus"]))
    for target, name in (("/dev/zero", "zero_attestation.zip"), ("/dev/urandom", "urandom_attestation.zip")):
        link = tmp / name
        link.symlink_to(target)
        cases.append(Case(f"evidence-symlink-{Path(target).name}", [str(link), "--root", str(root)]))
        cases.append(Case(f"evidence-symlink-{Path(target).name} --format primus",
                          [str(link), "--root", str(root), "--format", "primus"]))
    cases.append(Case("evidence-dev-zero --format primus", ["/dev/zero", "--root", str(root), "--format", "primus"]))
    for suffix in ("_attestation.zip", ".json", ".p7b", ".attestation.dat", ".webauthn.json"):
        fifo = tmp / f"fifo{suffix}"
        os.mkfifo(fifo)
        cases.append(Case(f"evidence-fifo{suffix}", [str(fifo), "--root", str(root)]))
    fifo_zip = tmp / "fifo_attestation.zip"
    cases.append(Case("evidence-fifo --format primus", [str(fifo_zip), "--root", str(root), "--format", "primus"]))
    bundle = tmp / "bundle-dir-with-fifo-and-dev-zero"
    bundle.mkdir()
    for f in (golden, golden.parent / csr_name):
        (bundle / f.name).write_bytes(f.read_bytes())
    os.mkfifo(bundle / "member.zip")
    (bundle / "zero.csr").symlink_to("/dev/zero")
    cases.append(Case("bundle-dir-with-fifo-and-dev-zero", [str(bundle), "--root", str(root)]))
    crowded = tmp / "bundle-dir-5000-entries"
    crowded.mkdir()
    for i in range(5000):
        (crowded / f"f{i}.txt").touch()
    cases.append(Case("bundle-dir-5000-entries", [str(crowded), "--root", str(root), "--format", "primus"]))
    gdir = tmp / "google-sibling-dev-zero"
    gdir.mkdir()
    dat = next(google.glob("*.attestation.dat"))
    (gdir / dat.name).write_bytes(dat.read_bytes())
    (gdir / dat.name.replace(".attestation.dat", ".certs.pem")).symlink_to("/dev/zero")
    (gdir / dat.name.replace(".attestation.dat", ".pub.pem")).symlink_to("/dev/zero")
    cases.append(Case("google-dat-with-dev-zero-certs-and-pub", [str(gdir / dat.name), "--root",
                                                                 str(next(google.glob("*root*.crt")))]))
    return cases


def _golden_members(golden: Path) -> dict[str, bytes]:
    sys.path.insert(0, str(ROOT))
    from hsmsim.safeio import read_zip

    return read_zip(golden.read_bytes())


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(case: Case, tree: Path, timeout: float) -> Outcome:
    """``hsmsim verify`` on the case in a subprocess: exit, verdict line, wall time and its own max RSS
    (``wait4`` gives the rusage of that one child)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "hsmsim", "verify", *case.args, "--at", AT],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=tree,
                                preexec_fn=_cap_address_space)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.send_signal(signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.01)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    if timed_out:
        code, line = "TIMEOUT", f"killed after {timeout:g} s"
    else:
        code = str(proc.returncode)
        line = (lines[-1] if "Traceback" in stderr else lines[0]) if lines else ""
    return Outcome(code, line, seconds, usage.ru_maxrss / 1024)


def kind(outcome: Outcome) -> str:
    """What the outcome is: a verdict (ACCEPT / REJECT REASON), a usage error, a crash or a timeout."""
    if outcome.code == "TIMEOUT":
        return "TIMEOUT"
    if outcome.code == "0" and outcome.line.startswith("ACCEPT"):
        return "ACCEPT"
    if outcome.code == "1" and outcome.line.startswith("REJECT"):
        return " ".join(outcome.line.split()[:2]).rstrip(":")
    if outcome.code == "2" and outcome.line.startswith("hsmsim: error:"):
        return "usage error (exit 2)"
    return f"CRASH (exit {outcome.code})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose hsmsim runs (default: this one)")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--only", default="", help="run only the inputs whose name contains this")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hsmsim-hostile-") as tmp:
        cases = [c for c in build(Path(tmp)) if options.only in c.name]
        print("| input | exit | verdict or error | wall s | max RSS MB | goal |\n|---|---|---|---|---|---|")
        kinds: Counter[str] = Counter()
        bounded = fast = 0
        baseline = None
        for case in cases:
            outcome = run(case, options.tree.resolve(), options.timeout)
            baseline = outcome.seconds if baseline is None else baseline
            what = kind(outcome)
            kinds[what] += 1
            within = not what.startswith(("CRASH", "TIMEOUT")) and outcome.max_rss_mb <= GOAL_MB
            bounded += within
            fast += within and outcome.seconds <= GOAL_SECONDS
            goal = "ok" if within and outcome.seconds <= GOAL_SECONDS else "ok but slow" if within else "MISSED"
            line = outcome.line.replace("|", "\\|")
            print(f"| {case.name} | {outcome.code} | {line[:96]} | {outcome.seconds:.2f} | "
                  f"{outcome.max_rss_mb:.0f} | {goal} |", flush=True)
    print()
    for what, count in sorted(kinds.items()):
        print(f"{count:3}  {what}")
    print(f"{bounded} of {len(cases)} inputs: a one-line verdict or usage error within {GOAL_MB:g} MB; {fast} of them "
          f"also within {GOAL_SECONDS:g} s (the baseline, start-up and detection, took {baseline or 0:.2f} s here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
