"""Regenerate the corpus and compare it byte for byte with a committed copy; extract one vector."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from hsmsim._atomic import write_new_files
from hsmsim.corpus.build import (
    MANIFEST_FILE,
    REGISTRY_FILE,
    CorpusError,
    IdRegistry,
    build_corpus,
    committed_seed,
    promoted_drafts,
)
from hsmsim.harness.vectors import PACKAGED_CORPUS_FILES, check_paths, load_corpus
from hsmsim.model.evidence import files_below
from hsmsim.safeio import file_holds, read_zip
from hsmsim.verdict import Rejected, escaped

CORPUS_ENTRY_LIMIT = 65536
"""Entries (files and directories) walked below a corpus; the committed corpus holds about 4,500."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a regeneration: ``differences`` is empty when every byte matched."""

    files_compared: int
    differences: tuple[str, ...]
    packaged: bool = False
    """The corpus checked holds :data:`PACKAGED_CORPUS_FILES` only, as a wheel carries it, and was compared on
    those files."""


def master_seed(corpus: Path) -> str:
    """The ``masterSeed`` of the corpus's manifest (:func:`committed_seed`); raises :class:`CorpusError` on one line
    when there is none, or it is unreadable."""
    seed = committed_seed(corpus)
    if seed is None:
        raise CorpusError(f"{corpus} holds no {MANIFEST_FILE}; run 'hsmsim vectors generate'")
    return seed


def check_corpus(committed: Path) -> CheckResult:
    """Regenerate with the committed master seed, id registry and promoted findings; list files that differ.

    A corpus holding :data:`PACKAGED_CORPUS_FILES` only (as a wheel carries it: the vector files, whose base64
    inputs hold every native file) is compared on those files, not on the native files and changelog that a
    checkout's ``vectors/`` also has.
    Raises :class:`CorpusError` when ``committed`` holds no manifest, :class:`hsmsim.errors.BundleError` when a
    corpus holds more than :data:`CORPUS_ENTRY_LIMIT` entries or nests too deeply (:func:`files_below`).
    """
    seed = master_seed(committed)
    registry = IdRegistry.load(committed / REGISTRY_FILE)
    theirs = set(files_below(committed, CORPUS_ENTRY_LIMIT))  # before the regeneration: a bad corpus fails at once
    with tempfile.TemporaryDirectory(prefix="hsmsim-check-") as tmp:
        fresh = Path(tmp) / "vectors"
        build_corpus(fresh, seed=seed, registry=registry, promoted=promoted_drafts(committed))
        ours = set(files_below(fresh, CORPUS_ENTRY_LIMIT))
        packaged = all(map(_packaged, theirs))
        if packaged:
            ours = set(filter(_packaged, ours))
        differences = [f"only in the regeneration: {name}" for name in sorted(ours - theirs)]
        differences += [f"only in {committed}: {name}" for name in sorted(theirs - ours)]
        differences += [f"differs: {name}" for name in sorted(ours & theirs)
                        if not file_holds(committed / name, (fresh / name).read_bytes())]
    return CheckResult(len(ours | theirs), tuple(differences), packaged)


def _packaged(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in PACKAGED_CORPUS_FILES)


def extract_vector(corpus: Path, vector_id: str, dest: Path, *, unzip: bool = False) -> list[Path]:
    """Write a vector's native files (and its trust anchor as ``trust-anchor-N.pem``) into ``dest``.

    With ``unzip`` the primary zip's members are written too, read with the same bounds as the
    reference verifier; a hostile archive raises :class:`CorpusError` with the reason. The corpus is read
    as :func:`load_corpus` reads it (bounded, every file validated, ids unique), raising
    :class:`CorpusLoadError`. Nothing is written unless every file can be: a name that is not a plain relative
    path (a corpus is input like any other), named twice, or both a file and another's directory raises
    :class:`CorpusLoadError`, and an occupied output :class:`hsmsim.errors.HsmsimError`, first
    (:func:`check_paths`, :func:`write_new_files`).
    """
    loaded = load_corpus(corpus)
    if vector_id not in loaded:
        raise CorpusError(f"no vector {vector_id!r} in {escaped(str(corpus))} (hsmsim vectors list shows the ids)")
    vector = loaded.get(vector_id)
    outputs = {entry.path: entry.data() for entry in vector.inputs.files}
    extra = {f"trust-anchor-{index}.pem": anchor.encode() for index, anchor in enumerate(vector.trust.anchors, 1)}
    if unzip:
        try:
            extra.update(read_zip(outputs.get(vector.inputs.primary, b"")))
        except Rejected as rejection:
            raise CorpusError(f"not unzipping {vector.inputs.primary}: {rejection.reason.value}: "
                              f"{rejection.detail}") from None
    check_paths(f"the output of vector {vector_id!r}", [*outputs, *extra])
    return write_new_files(dest, {**outputs, **extra})
