"""Bad files in the places hsmsim reads its own files from (state, caches, roots): one helper makes each kind."""

from __future__ import annotations

import os
from pathlib import Path

DEEP_JSON = "[" * 5000 + "]" * 5000
"""JSON nested past what Python's parser recurses into."""


def make_hostile(path: Path, kind: str) -> None:
    """Put at ``path`` a ``fifo`` (no writer: an ordinary open blocks), a link to ``/dev/zero`` (endless), a
    ``directory``, a ``dangling`` link, a ``sparse`` 3 MiB file, or else a file holding ``kind`` as its text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        path.symlink_to(kind)
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(path.parent / "nothing-here")
    elif kind == "sparse":
        with path.open("wb") as sparse:
            sparse.truncate(3 * 1024 * 1024)
    else:
        path.write_text(kind)
