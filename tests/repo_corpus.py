"""The checkout's corpus, read once per test process, and a vector's files written from it.

:func:`~hsmsim.harness.vectors.load_corpus` reads and validates every vector file (about 0.2 s of CPU), and
:func:`~hsmsim.corpus.check.extract_vector` loads the corpus again on each call; tests that only need a vector's
files share one :class:`Corpus` (it is frozen, and no test writes under ``vectors/``). ``extract_vector`` itself is
tested through ``hsmsim vectors extract``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hsmsim.harness.vectors import Corpus, Vector, load_corpus

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@functools.cache
def repo_corpus() -> Corpus:
    """The corpus under ``vectors/`` of this checkout."""
    return load_corpus(VECTORS)


def write_vector(vector: Vector, directory: Path) -> None:
    """The vector's files and its anchors (``trust-anchor-N.pem``) in ``directory``, as ``hsmsim vectors extract``
    writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in vector.inputs.files:
        (directory / entry.path).write_bytes(entry.data())
    for index, pem in enumerate(vector.anchors_pem, 1):
        (directory / f"trust-anchor-{index}.pem").write_text(pem)
