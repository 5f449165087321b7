"""Run the vendor's documented openssl walk, and the careful one, over every Primus vector; report what they miss.

    .venv/bin/python scripts/openssl_walk_report.py [--vectors DIR]

Prints a Markdown table: for each vector, the strict verdict it must get, the verdict of the
vendor walk (``verify_primus_openssl.sh``: plain ``unzip`` and the five documented commands) and
that of the careful walk (``verify_primus_openssl_careful.sh``: an archive guard first).
The README carries this table; tests/test_vectors.py checks it is current.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WALK = ROOT / "scripts" / "verify_primus_openssl.sh"
CAREFUL_WALK = ROOT / "scripts" / "verify_primus_openssl_careful.sh"
sys.path.insert(0, str(ROOT))

from hsmsim.model.corpus_schema import VectorFile, VectorRecord  # noqa: E402
from hsmsim.verdict import Reason  # noqa: E402


def walk_verdict(vector: VectorRecord, corpus: Path, walk: Path = WALK) -> str:
    """``ACCEPT`` or ``REJECT <step>`` from ``walk`` over the vector's native files and every trust anchor of the
    vector (one PEM file, the walk's ``-CAfile``), run in a fresh temporary directory (its working directory and
    ``TMPDIR``)."""
    directory = corpus / vector.inputs.dir
    names = [f.path for f in vector.inputs.files]
    csr = next((directory / n for n in names if n.endswith(".csr")), Path("/dev/null"))
    with tempfile.TemporaryDirectory() as tmp:
        anchor = Path(tmp) / "anchor.pem"
        anchor.write_text("".join(vector.trust.anchors))  # every anchor in one file, as the harness's {anchor}
        at = int(vector.trust.validation_time.timestamp())
        result = subprocess.run(["bash", str(walk), str(directory / vector.inputs.primary), str(csr),
                                 str(anchor), str(at)], capture_output=True, text=True,
                                timeout=120, cwd=tmp, env={**os.environ, "TMPDIR": tmp},
                                stdin=subprocess.DEVNULL)
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else f"ERROR exit {result.returncode}"


GREP_CAVEAT_FLAGS = frozenset({"LabelMentionsPublicKey", "SkaPolicy"})
"""Flags of valid vectors whose XML has a second line mentioning ``public_key``: the documented ``grep public_key |
sed`` step reads two lines and the key comparison fails (``shared/specs/primus.md`` 1.3, the caveat)."""


def _cell(verdict: str, should_reject: bool, grep_caveat: bool) -> tuple[str, bool]:
    rejects = verdict != "ACCEPT"
    if should_reject and not rejects:
        return f"{verdict} **missed**", True
    if not should_reject and rejects:
        why = " (the recipe's `grep public_key` finds two lines)" if grep_caveat and verdict == "REJECT binding" else ""
        return f"{verdict} false reject{why}", False
    return verdict, False


def report(corpus: Path) -> str:
    """The Markdown table of both walks' verdicts next to the expected ones."""
    tests = VectorFile.model_validate_json((corpus / "primus_verify.json").read_bytes()).tests
    with ThreadPoolExecutor(max_workers=4) as pool:
        vendor = list(pool.map(lambda t: walk_verdict(t, corpus, WALK), tests))
        careful = list(pool.map(lambda t: walk_verdict(t, corpus, CAREFUL_WALK), tests))
    rows = ["| vector | expected (strict) | vendor walk (plain `unzip`) | careful walk (archive guard) |",
            "|---|---|---|---|"]
    missed = {"vendor": 0, "careful": 0}
    for test, by_vendor, by_careful in zip(tests, vendor, careful, strict=True):
        expected = test.expected_reason
        should_reject = expected is not Reason.OK
        cells = []
        grep_caveat = bool(GREP_CAVEAT_FLAGS.intersection(test.flags))
        for walk, verdict in (("vendor", by_vendor), ("careful", by_careful)):
            cell, miss = _cell(verdict, should_reject, grep_caveat)
            missed[walk] += miss
            cells.append(cell)
        wanted = "ACCEPT" if expected is Reason.OK else f"REJECT {expected.value}"
        rows.append(f"| `{test.id}` | {wanted} | {cells[0]} | {cells[1]} |")
    invalid = sum(1 for t in tests if t.expected_reason is not Reason.OK)
    rows.append("")
    caveat = sum(1 for t in tests if GREP_CAVEAT_FLAGS.intersection(t.flags))
    rows.append(f"The vendor walk misses {missed['vendor']} of the {invalid} vectors a strict verifier must reject; "
                f"the careful walk misses {missed['careful']}. Both reject the {caveat} valid vectors whose XML "
                "mentions public_key on a second line (a label, an SKA approval), as the spec's caveat says.")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, default=ROOT / "vectors")
    args = parser.parse_args()
    sys.stdout.write(report(args.vectors) + "\n")


if __name__ == "__main__":
    main()
