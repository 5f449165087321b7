"""Atomic file writes, new output files, a cross-process file lock, and in-process locks by name.

A reader sees the old file or the new one, never a torn one; :func:`write_new_files` puts a command's
outputs into a user's directory without following a symlink or opening what is already there;
:func:`locked` serialises read-check-write sequences between threads and processes sharing a directory;
:class:`NamedLocks` serialises the threads working on one name (a key, a cache entry).
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import threading
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Generic, TypeVar

from hsmsim.errors import HsmsimError
from hsmsim.safeio import file_holds
from hsmsim.verdict import escaped

_THREAD_LOCKS: dict[Path, _PathLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def relative_parts(rel: str) -> list[str]:
    """The components of the relative ``/``-separated name ``rel``; raises ValueError when it is empty, absolute,
    or has an empty, ``.`` or ``..`` component, i.e. whenever joining it to a directory could name anything but
    a distinct entry below that directory."""
    parts = rel.split("/")
    if "" in parts or "." in parts or ".." in parts:
        raise ValueError(f"{rel!r} is not a plain relative file name")
    return parts


def write_atomic(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` via a synced temporary file in the same directory and a rename.

    ``exclusive`` links the temporary file to ``path`` instead, so that of processes racing to create ``path``
    exactly one does, whole, and the others get FileExistsError (whatever the name holds: nothing is replaced).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# O_EXCL with O_CREAT: a name that exists (a file, a FIFO, a device, a symlink, even a dangling one) is never
# opened or followed, so a name swapped in after the check cannot redirect or block the write either.
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_file(path: str | Path, data: bytes) -> None:
    """Create ``path`` (under the umask) holding ``data``; raises FileExistsError when the name exists, whatever it
    names (nothing there is followed or opened). A descriptor written whole, not a file object: cheap enough for
    the thousands of small files of a corpus."""
    fd = os.open(path, _CREATE_NEW, 0o666)
    try:
        written = os.write(fd, data)  # one call writes a small file whole
        if written < len(data):
            remaining = memoryview(data)[written:]
            while remaining:
                remaining = remaining[os.write(fd, remaining):]
    finally:
        os.close(fd)


def output_directory(directory: Path) -> None:
    """Make ``directory`` (and its parents) unless it is one already; raises :class:`HsmsimError` with one line
    when it names something else or cannot be made (no permission, a name too long, a file on the way)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise HsmsimError(f"{escaped(str(directory))} exists and is not a directory") from None
    except OSError as exc:
        raise HsmsimError(f"cannot make the directory {escaped(str(directory))}: {exc.strerror or exc}") from None


def check_output_directory(directory: Path, option: str, *, holds: str, replace_flag: str, replace: bool) -> None:
    """Refuse (:class:`HsmsimError`, one line) an output directory that names something other than a directory,
    is a symlink to nothing, cannot be looked at (a name too long, a file on the way), cannot be written in, or,
    unless ``replace``, is not empty: one run's outputs never mix with an earlier one's. A directory that does not
    exist passes when it can be made (it is made, with the missing directories above it, and removed again: no
    permission bit tells a run as root that a read-only or virtual file system refuses it). Called before a long
    run, so misuse fails in a second; ``holds`` says what an earlier run left ("a report"), ``replace_flag`` which
    option replaces it."""
    shown = escaped(str(directory))
    try:
        if not stat.S_ISDIR(os.stat(directory).st_mode):
            raise HsmsimError(f"{option} {shown} exists and is not a directory")
        occupied = not replace and next(os.scandir(directory), None) is not None
    except FileNotFoundError:
        _check_makeable(directory, option, directory)
        return
    except OSError as exc:
        raise HsmsimError(f"{option} {shown}: {exc.strerror or exc}") from None
    if occupied:
        raise HsmsimError(f"{option} {shown} is not empty ({holds} of an earlier run?); "
                          f"pass {replace_flag} to replace it, or name a new directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".hsmsim-probe-", dir=directory))
    except OSError as exc:
        raise HsmsimError(f"{option} {shown}: cannot write in it: {exc.strerror or exc}") from None


def _check_makeable(directory: Path, option: str, output: Path) -> None:
    """Raise :class:`HsmsimError` (one line, naming ``option`` and its ``output``) unless the missing ``directory``
    can be made: neither it nor the nearest name above it that exists is a symlink to nothing, and making it (and
    the missing directories above it) works; what was made is removed again."""
    shown = escaped(str(output))
    missing = []
    for step in (directory, *directory.parents):
        if os.path.lexists(step):
            if os.path.islink(step) and not os.path.exists(step):
                where = "" if step == output else f": {escaped(str(step))}"
                raise HsmsimError(f"{option} {shown}{where} is a symlink to nothing; remove it or name a directory")
            break
        missing.append(step)
    made: list[Path] = []
    try:
        for step in reversed(missing):
            os.mkdir(step)
            made.append(step)
    except OSError as exc:
        raise HsmsimError(f"{option} {shown}: cannot make the directory {escaped(str(exc.filename or step))}: "
                          f"{exc.strerror or exc}") from None
    finally:
        for step in reversed(made):
            with suppress(OSError):
                os.rmdir(step)


def _paths_below(root: Path, files: Mapping[str, bytes]) -> list[Path]:
    """The path below ``root`` of each ``/``-separated relative name of ``files``, in order; raises
    :class:`HsmsimError` (one line) for a name that is not a plain relative path."""
    paths = []
    for rel in files:
        try:
            paths.append(root.joinpath(*relative_parts(rel)))
        except ValueError:
            raise HsmsimError(f"not writing '{escaped(rel)}': it is not a plain relative path "
                              f"below {escaped(str(root))}") from None
    return paths

def write_new_files(root: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write each ``/``-separated relative name of ``files`` below ``root`` as a new file; returns the paths
    in ``files`` order.

    Before anything is written (raising :class:`HsmsimError` with one line): every name is a plain relative
    name (nothing outside ``root``), and nothing exists at any name, whatever it is (a regular file, FIFO,
    device or symlink: an occupied output is misuse, never overwritten, followed or opened), except a regular
file that already holds exactly what would be written, which is left as it is. ``root`` and the
    directories on the way are made when missing; one below ``root`` that is a symlink is refused. Each file
    is created exclusively and without following a symlink, so one planted after the check is refused too.
    """
    paths = _paths_below(root, files)
    made = [d for d in (root, *root.parents) if not os.path.lexists(d)]  # what a refusal below leaves as it was
    output_directory(root)
    present: set[Path] = set()
    try:
        for path, data in zip(paths, files.values(), strict=True):
            try:
                through = [p for p in path.parents if len(p.parts) > len(root.parts) and os.path.islink(p)]
                if through:
                    raise HsmsimError(f"{escaped(str(through[-1]))} is a symlink; not writing through it")
                info = os.lstat(path)  # not os.path.lexists, which takes a name too long for a missing one
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise HsmsimError(f"cannot write {escaped(str(path))}: {exc.strerror or exc}") from None
            if _holds(path, info, data):
                present.add(path)
                continue
            raise HsmsimError(f"{escaped(str(path))} already exists; remove it or write elsewhere")
    except HsmsimError:
        for directory in made:  # deepest first; each still empty, as nothing was written
            with suppress(OSError):
                directory.rmdir()
        raise
    written = []
    try:
        for path, data in zip(paths, files.values(), strict=True):
            if path in present:
                written.append(path)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            create_file(path, data)
            written.append(path)
    except OSError as exc:
        raise HsmsimError(f"cannot write {escaped(str(exc.filename or root))}: {exc.strerror or exc}") from None
    return written


def _holds(path: Path, info: os.stat_result, data: bytes) -> bool:
    """Whether ``path`` (``info`` from lstat) is a regular file holding exactly ``data``: the same output written
    again (a second key's bundle beside the first shares its root, ``pki export`` re-run) is no conflict."""
    return stat.S_ISREG(info.st_mode) and info.st_size == len(data) and file_holds(path, data)


def check_replaceable_file(path: Path, option: str) -> None:
    """Refuse (:class:`HsmsimError`, one line) an output file that :func:`replace_file` is to write when ``path``
    names something other than a regular file (a directory, FIFO, device or symlink), cannot be looked at (a
    name too long, a file on the way), or cannot be written: its directory is a symlink to nothing, cannot be
    made (see :func:`check_output_directory`), or takes no new file (one is made and removed, as
    :func:`replace_file` makes one beside ``path``). Called before a long run, so misuse fails first."""
    shown = escaped(str(path))
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise HsmsimError(f"{option} {shown} exists and is not a regular file")
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise HsmsimError(f"{option} {shown}: {exc.strerror or exc}") from None
    try:
        os.stat(path.parent)
    except FileNotFoundError:
        _check_makeable(path.parent, option, path)
        return
    except OSError as exc:
        raise HsmsimError(f"{option} {shown}: {exc.strerror or exc}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.probe-", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise HsmsimError(f"{option} {shown} cannot be written: {exc.strerror or exc}") from None


def replace_files(root: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write each ``/``-separated relative name of ``files`` below ``root``, replacing a regular file already there
    (each through :func:`replace_file`); returns the paths in ``files`` order.

    Before anything is written (raising :class:`HsmsimError` with one line): every name is a plain relative name,
    none names anything but a regular file or nothing (a symlink, directory, FIFO, device or socket there is
    refused, never followed or opened), and no directory on the way below ``root`` is a symlink or something other
    than a directory. ``root`` and the directories on the way are made when missing."""
    paths = _paths_below(root, files)
    for path in paths:
        for step in [*reversed([p for p in path.parents if len(p.parts) > len(root.parts)]), path]:
            try:
                mode = os.lstat(step).st_mode
            except FileNotFoundError:
                break
            except OSError as exc:
                raise HsmsimError(f"cannot write {escaped(str(path))}: {exc.strerror or exc}") from None
            if stat.S_ISLNK(mode):
                raise HsmsimError(f"{escaped(str(step))} is a symlink; not writing through it")
            if step != path and not stat.S_ISDIR(mode):
                raise HsmsimError(f"{escaped(str(step))} exists and is not a directory")
            if step == path and not stat.S_ISREG(mode):
                raise HsmsimError(f"{escaped(str(path))} exists and is not a regular file; not writing over it")
    output_directory(root)
    for path, data in zip(paths, files.values(), strict=True):
        output_directory(path.parent)
        try:
            replace_file(path, data)
        except OSError as exc:
            raise HsmsimError(f"cannot write {escaped(str(exc.filename or path))}: {exc.strerror or exc}") from None
    return paths


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a new file beside it (created under the umask, exclusively, never through
    a symlink) and a rename: a reader sees the old file or the new one, and what ``path`` named before (a file, a
    symlink, a FIFO) is replaced, never followed or opened. Raises OSError, or :class:`HsmsimError` as
    :func:`write_new_files`."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        write_new_files(path.parent, {partial.name: data})
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) against other threads and processes.

    The lock is ``flock(2)`` on the file, so the kernel releases it when a holder dies (even by
    ``kill -9``); nothing stale is left behind. Threads of one process queue on a lock of their
    own first, because ``flock`` locks belong to open file descriptions, not threads. A thread
    already holding the lock may take it again. A holder may remove ``path``: a waiter that then
    gets the removed file's lock lets it go and locks the file now at ``path`` instead.
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
            fd = _lock_current(path)
            try:
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock
        finally:
            thread_lock.depth -= 1


def _lock_current(path: Path) -> int:
    """A descriptor of the file at ``path`` (created if absent) holding its ``flock``, the file being still the one at
    ``path`` once locked (not one a holder removed meanwhile)."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            current = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
            return fd
        os.close(fd)


class _PathLock:
    """The in-process side of :func:`locked`: a re-entrant lock and how deep its holder is."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0


_Name = TypeVar("_Name", bound=Hashable)


class NamedLocks(Generic[_Name]):
    """One lock per name, which lives only while a thread holds or waits for it: names that come and go (labels
    a client only tried, cache entries derived once) leave nothing behind."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[_Name, _NamedLock] = {}

    @contextmanager
    def hold(self, name: _Name) -> Iterator[None]:
        """Hold ``name``'s lock (not re-entrant) for the block."""
        with self._guard:
            entry = self._locks.get(name)
            if entry is None:
                entry = self._locks[name] = _NamedLock()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if not entry.users:
                    del self._locks[name]

    def __len__(self) -> int:
        """How many names have a lock now (held or waited for)."""
        return len(self._locks)


class _NamedLock:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
