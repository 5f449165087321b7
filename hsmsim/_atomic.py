"""Atomic file writes and a cross-process file lock.

A reader sees the old file or the new one, never a torn one; :func:`locked` serialises
read-check-write sequences between threads and processes sharing a directory.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_THREAD_LOCKS: dict[Path, _PathLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a synced temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) against other threads and processes.

    The lock is ``flock(2)`` on the file, so the kernel releases it when a holder dies (even by
    ``kill -9``); nothing stale is left behind. Threads of one process queue on a lock of their
    own first, because ``flock`` locks belong to open file descriptions, not threads. A thread
    already holding the lock may take it again.
    """
    path = path.resolve()
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(path, _PathLock())
    with thread_lock.lock:
        thread_lock.depth += 1
        try:
            if thread_lock.depth > 1:
                yield
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock
        finally:
            thread_lock.depth -= 1


class _PathLock:
    """The in-process side of :func:`locked`: a re-entrant lock and how deep its holder is."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
