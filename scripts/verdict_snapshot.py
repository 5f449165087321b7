"""The reference verifier's full verdict (reason, detail, claims) for every vector under every profile.

Writes one JSON line per (vector, profile) to ``--out`` (or stdout), sorted, so two trees' snapshots can be
compared with ``diff`` or ``--compare``: a speed change must leave the snapshot byte-identical.

    PYTHONPATH=$PWD python scripts/verdict_snapshot.py --out /tmp/base.jsonl            # on the base tree
    PYTHONPATH=$PWD python scripts/verdict_snapshot.py --compare /tmp/base.jsonl        # on the changed tree
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hsmsim.harness.adapters import build_request
from hsmsim.harness.reference import verify
from hsmsim.harness.vectors import load_corpus
from hsmsim.verdict import Profile

ROOT = Path(__file__).resolve().parent.parent


def snapshot_lines(formats: list[str]) -> list[str]:
    """One sorted JSON line per vector and profile: id, profile and the verdict's JSON."""
    corpus = load_corpus(ROOT / "vectors")
    lines = []
    for vector in corpus.select(formats=formats):
        for profile in Profile:
            verdict = verify(build_request(vector, profile.value))
            lines.append(json.dumps({"id": vector.id, "profile": profile.value, **verdict.to_json()},
                                    sort_keys=True))
    return sorted(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the snapshot here (default: stdout)")
    parser.add_argument("--compare", type=Path, help="compare with this snapshot; exit 1 on any difference")
    parser.add_argument("--format", action="append", default=[], help="only this format (repeatable)")
    args = parser.parse_args()
    lines = snapshot_lines(args.format)
    if args.out is not None:
        args.out.write_text("".join(line + "\n" for line in lines))
    if args.compare is not None:
        base = args.compare.read_text().splitlines()
        if args.format:
            wanted = {json.loads(line)["id"] for line in lines}
            base = [line for line in base if json.loads(line)["id"] in wanted]
        differ = sorted(set(base) ^ set(lines))
        for line in differ[:20]:
            print(("-" if line in base else "+") + " " + line)
        print(f"{len(lines)} verdicts; {'identical' if not differ else f'{len(differ)} lines differ'}")
        sys.exit(1 if differ else 0)
    if args.out is None and args.compare is None:
        sys.stdout.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
