"""Run the vendor's documented openssl walk over every Primus vector and report what it misses.

    .venv/bin/python scripts/openssl_walk_report.py [--vectors DIR]

Prints a Markdown table: for each invalid (or strict-only) vector, whether the walk rejects it.
The README carries this table; tests/test_vectors.py checks it is current.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsmsim.model.corpus_schema import VectorFile, VectorRecord  # noqa: E402
from hsmsim.verdict import Reason  # noqa: E402

WALK = ROOT / "scripts" / "verify_primus_openssl.sh"


def walk_verdict(vector: VectorRecord, corpus: Path) -> str:
    """``ACCEPT`` or ``REJECT <step>`` from the openssl walk over the vector's native files."""
    directory = corpus / vector.inputs.dir
    names = [f.path for f in vector.inputs.files]
    csr = next((directory / n for n in names if n.endswith(".csr")), Path("/dev/null"))
    with tempfile.TemporaryDirectory() as tmp:
        anchor = Path(tmp) / "anchor.pem"
        anchor.write_text(vector.trust.anchors[0])
        at = int(vector.trust.validation_time.timestamp())
        result = subprocess.run(["bash", str(WALK), str(directory / vector.inputs.primary), str(csr),
                                 str(anchor), str(at)], capture_output=True, text=True, timeout=120)
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else f"ERROR exit {result.returncode}"


def report(corpus: Path) -> str:
    """The Markdown table of the walk's verdicts next to the expected ones."""
    tests = VectorFile.model_validate_json((corpus / "primus_verify.json").read_bytes()).tests
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda t: walk_verdict(t, corpus), tests))
    rows = ["| vector | expected (strict) | openssl walk | |", "|---|---|---|---|"]
    missed = 0
    for test, verdict in zip(tests, verdicts, strict=True):
        expected = test.expected_reason
        should_reject = expected is not Reason.OK
        walk_rejects = verdict != "ACCEPT"
        if should_reject and not walk_rejects:
            mark = "**missed**"
            missed += 1
        elif not should_reject and walk_rejects:
            mark = "false reject"
        else:
            mark = ""
        wanted = "ACCEPT" if expected is Reason.OK else f"REJECT {expected.value}"
        rows.append(f"| `{test.id}` | {wanted} | {verdict} | {mark} |")
    invalid = sum(1 for t in tests if t.expected_reason is not Reason.OK)
    rows.append("")
    rows.append(f"The walk misses {missed} of the {invalid} vectors a strict verifier must reject.")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, default=ROOT / "vectors")
    args = parser.parse_args()
    sys.stdout.write(report(args.vectors) + "\n")


if __name__ == "__main__":
    main()
