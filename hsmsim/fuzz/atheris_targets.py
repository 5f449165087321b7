"""Coverage-guided fuzzing of hsmsim's own parsers with atheris (optional extra ``fuzz``).

    pip install -e '.[fuzz]'
    python -m hsmsim.fuzz.atheris_targets primus [atheris/libFuzzer flags, e.g. -runs=100000 corpus_dir]

Each target feeds the bytes to one format's reference verifier as the content of one of the
golden bundle's files (chosen by the first byte); any exception other than a Verdict is a
crash for libFuzzer to minimise.
"""

from __future__ import annotations

import sys
from datetime import datetime
from functools import cache

from hsmsim.formats import get_format, names
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Verdict

SEED = "hsmsim-corpus-v1"


@cache
def _golden(format_name: str) -> tuple[Evidence, TrustAnchors, datetime]:
    case = next(c for c in get_format(format_name).vector_cases(SEED) if "Golden" in c.flags)
    return case.evidence, TrustAnchors({"root": case.anchors}), case.validation_time


def one_input(format_name: str, data: bytes) -> None:
    """Replace one golden file with ``data[1:]`` and verify; raise if verify() does not return a Verdict."""
    evidence, trust, at = _golden(format_name)
    names_ = sorted(evidence.files)
    target = names_[data[0] % len(names_)] if data else names_[0]
    files = {**evidence.files, target: data[1:]}
    verdict = get_format(format_name).verify(Evidence(format_name, files, evidence.primary), trust, at=at)
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verify returned {type(verdict).__name__}")


def main(argv: list[str] | None = None) -> None:
    """Run atheris on ``argv[0]``'s format (default primus)."""
    args = list(sys.argv[1:] if argv is None else argv)
    format_name = args.pop(0) if args and not args[0].startswith("-") else "primus"
    if format_name not in names():
        raise SystemExit(f"unknown format {format_name!r}; known: {', '.join(names())}")
    try:
        import atheris
    except ImportError:
        raise SystemExit("atheris is not installed: pip install -e '.[fuzz]'") from None
    _golden(format_name)
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *args], lambda data: one_input(format_name, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
