"""The corpus as people read it: one line per vector (``hsmsim vectors list``) and one vector in full (``show``)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from hsmsim.harness.vectors import Corpus, Vector


def select(corpus: Corpus, *, format: str | None = None, flag: str | None = None,
           severity: str | None = None) -> list[Vector]:
    """The vectors of ``format`` carrying ``flag`` of ``severity`` (each filter ignored when None), in corpus order."""
    return [vector for vector in corpus.vectors
            if (format is None or vector.format == format) and (flag is None or flag in vector.flags)
            and (severity is None or vector.severity.value == severity)]


def summary_line(vector: Vector) -> str:
    """``id  result  expected reason  flags``, tab-separated."""
    return "\t".join((vector.id, vector.result.value, vector.expected_reason.value, ",".join(vector.flags)))


def describe(vector: Vector, corpus: Corpus) -> Iterable[str]:
    """The vector's comment, flags with their notes, per-profile expectations, provenance and files, line by line."""
    yield f"{vector.id}  (tcId {vector.tc_id}, {vector.source})"
    yield f"  comment:   {vector.comment}"
    yield f"  result:    {vector.result.value} {vector.expected_reason.value} (severity {vector.severity.value})"
    yield "  flags:"
    for flag in vector.flags:
        note = corpus.note(vector, flag)
        if note is None:
            yield f"    {flag}"
            continue
        yield f"    {flag} [{note.bug_type}, {note.severity.value}]: {note.description}"
        yield f"      effect: {note.effect}"
        if note.refs:
            yield f"      refs: {'; '.join(note.refs)}"
    yield "  profiles:"
    for profile, expected in vector.profiles.items():
        yield f"    {profile.value}: {expected.result.value} {expected.reason.value}"
    if vector.features:
        yield f"  features:  {', '.join(vector.features)}"
    provenance = vector.provenance
    yield "  provenance:"
    yield (f"    golden: {provenance.golden or '-'}  operator: {provenance.operator or '-'}  "
           f"path: {provenance.path or '-'}")
    yield f"    seed: {provenance.seed}  signing: {provenance.signing.value}"
    yield f"  validation time: {vector.at.isoformat()}  trust anchors: {len(vector.anchors_pem)}"
    yield f"  files (primary {vector.inputs.primary}):"
    for entry in vector.inputs.files:
        size = len(base64.b64decode(entry.base64))
        yield f"    {entry.path}  {size} bytes  sha256 {entry.sha256}"
