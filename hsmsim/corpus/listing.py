"""The corpus as people read it: one line per vector (``hsmsim vectors list``) and one vector in full (``show``)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from hsmsim.harness.vectors import Corpus, Vector
from hsmsim.verdict import escaped


def select(corpus: Corpus, *, format: str | None = None, flag: str | None = None,
           severity: str | None = None) -> list[Vector]:
    """The vectors of ``format`` carrying ``flag`` of ``severity`` (each filter ignored when None), in corpus order."""
    return [vector for vector in corpus.vectors
            if (format is None or vector.format == format) and (flag is None or flag in vector.flags)
            and (severity is None or vector.severity.value == severity)]


def summary_line(vector: Vector) -> str:
    """``id  result  expected reason  flags``, tab-separated, on one line: every corpus-derived text is
    :func:`escaped`, so a field cannot hold a tab, a line break or a terminal escape."""
    return "\t".join((escaped(vector.id), vector.result.value, vector.expected_reason.value,
                      escaped(",".join(vector.flags))))


def describe(vector: Vector, corpus: Corpus) -> Iterable[str]:
    """The vector's comment, flags with their notes, per-profile expectations, provenance and files, line by line.

    A corpus is input like any other: every text it supplies is :func:`escaped`, so each yielded string is one
    line that carries no terminal control sequence (printable text is shown as it is)."""
    yield f"{escaped(vector.id)}  (tcId {vector.tc_id}, {escaped(vector.source)})"
    yield f"  comment:   {escaped(vector.comment)}"
    yield f"  result:    {vector.result.value} {vector.expected_reason.value} (severity {vector.severity.value})"
    yield "  flags:"
    for flag in vector.flags:
        note = corpus.note(vector, flag)
        if note is None:
            yield f"    {escaped(flag)}"
            continue
        yield (f"    {escaped(flag)} [{escaped(note.bug_type)}, {note.severity.value}]: "
               f"{escaped(note.description)}")
        yield f"      effect: {escaped(note.effect)}"
        if note.refs:
            yield f"      refs: {escaped('; '.join(note.refs))}"
    yield "  profiles:"
    for profile, expected in vector.profiles.items():
        yield f"    {profile.value}: {expected.result.value} {expected.reason.value}"
    if vector.features:
        yield f"  features:  {escaped(', '.join(vector.features))}"
    provenance = vector.provenance
    yield "  provenance:"
    yield (f"    golden: {escaped(provenance.golden or '-')}  operator: {escaped(provenance.operator or '-')}  "
           f"path: {escaped(provenance.path or '-')}")
    yield f"    seed: {escaped(provenance.seed)}  signing: {provenance.signing.value}"
    yield f"  validation time: {vector.at.isoformat()}  trust anchors: {len(vector.anchors_pem)}"
    yield f"  files (primary {escaped(vector.inputs.primary)}):"
    for entry in vector.inputs.files:
        size = len(base64.b64decode(entry.base64))
        yield f"    {escaped(entry.path)}  {size} bytes  sha256 {entry.sha256}"
