"""A fuzz model for any format, built from its vector catalogue: no format code needed.

Goldens are the catalogue's golden vectors. Operators are the catalogue's mutated vectors
(each replaces its golden's files with the mutated files: invalid by construction when the
vector is invalid under the structural profile) plus byte-level operators on any native
file: bit flips, truncation, extension, and splicing a same-suffix file from another golden.
Nothing is re-signed: a format that wants field-level operators with re-signing provides its
own ``fuzz_model`` (as ``primus`` does).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hsmsim import mutate
from hsmsim.formats import get_format
from hsmsim.model.evidence import Evidence
from hsmsim.model.fuzz import FuzzModel, FuzzOperator
from hsmsim.model.vectors import VectorCase
from hsmsim.verdict import Profile, Reason


@dataclass
class FileBench:
    """A golden's native files, opened up for byte-level mutation."""

    golden: str
    files: dict[str, bytes]
    primary: str
    format: str
    touched: list[str] = field(default_factory=list)


def _pick(bench: FileBench, rng: random.Random) -> str:
    if not bench.files:
        raise mutate.MutationError("no files")
    name = rng.choice(sorted(bench.files))
    bench.touched.append(name)
    return name


def _flip(bench: FileBench, rng: random.Random) -> str:
    name = _pick(bench, rng)
    if not bench.files[name]:
        raise mutate.MutationError(f"{name} is empty")
    bench.files[name] = mutate.flip_bit(bench.files[name], rng.randrange(len(bench.files[name]) * 8))
    return name


def _truncate(bench: FileBench, rng: random.Random) -> str:
    name = _pick(bench, rng)
    bench.files[name] = mutate.truncate(bench.files[name], rng.randrange(max(1, len(bench.files[name]))))
    return name


def _extend(bench: FileBench, rng: random.Random) -> str:
    name = _pick(bench, rng)
    bench.files[name] = mutate.extend(bench.files[name], rng.randbytes(rng.choice((1, 2, 16, 256))))
    return name


def _splice_from(goldens: dict[str, VectorCase]) -> Callable[[FileBench, random.Random], str]:
    def apply(bench: FileBench, rng: random.Random) -> str:
        donor = goldens[rng.choice(sorted(goldens))].evidence.files
        name = _pick(bench, rng)
        suffix = PurePosixPath(name).suffix
        same_kind = sorted(n for n in donor if PurePosixPath(n).suffix == suffix)
        if not same_kind:
            raise mutate.MutationError(f"no donor {suffix} file")
        bench.files[name] = donor[rng.choice(same_kind)]
        return f"{name}<-splice"
    return apply


def _catalogue(case: VectorCase) -> FuzzOperator:
    golden = (case.provenance.golden or "").rsplit("::", 1)[-1]

    def apply(bench: FileBench, _rng: random.Random) -> str:
        if bench.touched:  # it replaces every file: on a changed bench it would undo the other operators
            raise mutate.MutationError("a catalogue vector applies to an untouched golden only")
        bench.files = dict(case.evidence.files)
        bench.primary = case.evidence.primary
        bench.touched.append(case.id)
        return case.provenance.path or case.id
    invalid = case.expected.get(Profile.STRUCTURAL, Reason.OK) is not Reason.OK
    return FuzzOperator(case.id, apply, invalidating=invalid, resign=False, goldens=(golden,), catalogue=True)


def generic_fuzz_model(format_name: str, seed: str) -> FuzzModel:
    """The catalogue-driven fuzz model of ``format_name`` (any registered format)."""
    cases = get_format(format_name).vector_cases(seed)
    goldens = {c.id.rsplit("::", 1)[-1]: c for c in cases if "Golden" in c.flags}
    if not goldens:
        raise mutate.MutationError(f"format {format_name} has no golden vectors")
    first = next(iter(goldens.values()))
    # A mutated vector replays only where the model's trust and time are its own.
    mutated = [c for c in cases if c.provenance.golden and c.provenance.golden.rsplit("::", 1)[-1] in goldens
               and c.anchors == first.anchors and c.validation_time == first.validation_time]
    operators = (
        *(_catalogue(c) for c in mutated),
        FuzzOperator("bytes.flip", _flip), FuzzOperator("bytes.truncate", _truncate),
        FuzzOperator("bytes.extend", _extend), FuzzOperator("splice", _splice_from(goldens)),
    )

    def open_bench(name: str) -> FileBench:
        golden = goldens[name]
        return FileBench(name, dict(golden.evidence.files), golden.evidence.primary, format_name)

    def render(bench: FileBench, _packed: bool) -> Evidence:
        return Evidence(bench.format, dict(bench.files), bench.primary)

    return FuzzModel(format=format_name, goldens=tuple(goldens), operators=operators, anchors=first.anchors,
                     validation_time=first.validation_time, open=open_bench, resign=lambda _bench: None,
                     render=render)
