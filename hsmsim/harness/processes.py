"""Verifier processes: started in their own session and tagged, read with bounds, killed with all they spawned.

Killing a verifier must take everything it started with it. A new session (``start_new_session``)
puts its children in its process group, where ``killpg`` reaches them; but a child that calls
``setsid()`` (a daemon, ``setsid cmd &``) leaves the group. So every verifier process also carries
a tag in its environment (:data:`TAG_ENV`, unique per verifier instance); an environment is
inherited across fork, exec and ``setsid()``, and :func:`kill_tagged` SIGKILLs every process whose
``/proc/<pid>/environ`` holds the tag. This needs no cgroup, no privilege and no process-wide state.
``PR_SET_CHILD_SUBREAPER`` was the alternative: it would make the harness inherit every orphan of
its process, a verifier's or not (in the pytest plugin, the user's own test processes), and still
not tell which verifier an orphan belonged to. Escaping both the group and the tag takes
``setsid()`` *and* an exec with a scrubbed environment (``setsid env -i cmd``).

Linux only (``/proc``, ``pidfd_open``), like the rest of the harness's process handling.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import select
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TAG_ENV = "HSMSIM_VERIFIER_TAG"
"""Environment variable naming the verifier instance a process belongs to."""
WORKER_ENV = "HSMSIM_HARNESS_WORKER"
"""Environment variable naming the harness worker process whose verifiers a process belongs to."""
MAX_OUTPUT_BYTES = 1 << 20
"""Most bytes a verifier process may write to stdout and stderr together, per case (oneshot) or per process."""
TAIL_BYTES = 4096
"""How much of the end of each output stream is kept."""
LINE_HEAD_BYTES = 4096
"""How much of the start of a stream's last non-empty line is kept: a verdict line names its verdict and reason
first, so a line longer than the tail keeps them."""
_READ_BYTES = 65536
_SWEEP_ROUNDS = 20


def bound_data_segment(pid: int, limit_bytes: int | None) -> None:
    """Cap the data segment of the running process ``pid`` (``RLIMIT_DATA``: its heap and private writable
    mappings, which is where an allocation without end goes) at ``limit_bytes``, or at the hard limit it already
    has when that is lower; None leaves it unbounded. An allocation past the cap fails inside the process (a
    MemoryError, an OutOfMemoryError, an abort), so a runaway verifier cannot take the machine's memory.

    Set from outside right after the process started, so it is inherited by every process it starts later
    (one it started in the first microseconds keeps the old limit). Unlike ``RLIMIT_AS`` it does not count
    reserved address space that is never written, so a JVM or a V8 runtime still starts. A process that has
    already exited, or that this one may not change, is left as it is."""
    if limit_bytes is None:
        return
    try:
        _, hard = resource.prlimit(pid, resource.RLIMIT_DATA)
        cap = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
        resource.prlimit(pid, resource.RLIMIT_DATA, (cap, cap))
    except (ProcessLookupError, PermissionError):
        pass


def new_tag() -> str:
    """A fresh value for :data:`TAG_ENV` (or :data:`WORKER_ENV`)."""
    return uuid.uuid4().hex


def kill_tagged(name: str, value: str) -> int:
    """SIGKILL every process whose environment sets ``name=value``; returns how many were killed.

    Sweeps ``/proc`` until a sweep finds none (a tagged process may fork while it is being killed).
    The signal goes through a pidfd opened before the environment is read again, so a pid reused by
    an unrelated process in between is never signalled.
    """
    marker = f"{name}={value}".encode()
    me = os.getpid()
    killed = 0
    for _ in range(_SWEEP_ROUNDS):
        found = 0
        for pid in _pids():
            if pid != me and _environ_has(pid, marker) and _kill_if_still(pid, marker):
                found += 1
        killed += found
        if not found:
            break
    return killed


def _pids() -> list[int]:
    try:
        return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return []


def _environ_has(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's
        return False


def _kill_if_still(pid: int, marker: bytes) -> bool:
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if not _environ_has(pid, marker):  # the pid now names another process
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def kill_group_and_tagged(proc: subprocess.Popen[bytes], tag: str) -> None:
    """SIGKILL the process group ``proc`` leads and every process tagged ``tag``, then reap ``proc``.

    The group is signalled only while ``proc`` is unreaped: its pid then pins the group id, which
    cannot name someone else's group. Its group members carry the tag anyway.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    kill_tagged(TAG_ENV, tag)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class OutputTail:
    """The last :data:`TAIL_BYTES` of one stream, the first :data:`LINE_HEAD_BYTES` of its last non-empty line, and
    how many bytes it carried in all. Lines end at ``\\n``; a line of ASCII whitespace is empty."""

    total: int = 0
    tail: bytearray = field(default_factory=bytearray)
    _line: bytearray = field(default_factory=bytearray, init=False, repr=False)
    """The head of the line being written, its leading whitespace dropped: empty while the line is only whitespace."""
    _last: bytes = field(default=b"", init=False, repr=False)
    """The head of the last ended line that was not empty, its leading whitespace dropped."""

    def add(self, chunk: bytes) -> None:
        """Count ``chunk`` and keep the end of the stream and the head of its last non-empty line; a few scans of
        ``chunk`` at C speed, however many lines it holds."""
        self.total += len(chunk)
        self.tail += chunk
        del self.tail[:-TAIL_BYTES]
        first = chunk.find(b"\n")
        if first < 0:
            self._extend(chunk)
            return
        self._extend(chunk[:first])
        if self._line:
            self._last = bytes(self._line)
        last = chunk.rfind(b"\n")
        ended = chunk[first + 1:last].rstrip()  # the lines that begin and end within the chunk, to the last non-empty
        if ended:
            self._last = ended[ended.rfind(b"\n") + 1:].lstrip()[:LINE_HEAD_BYTES]
        self._line = bytearray()
        self._extend(chunk[last + 1:])

    def _extend(self, piece: bytes) -> None:
        room = LINE_HEAD_BYTES - len(self._line)
        if room > 0:
            self._line += (piece if self._line else piece.lstrip())[:room]

    def text(self) -> str:
        """The kept end of the stream as text (invalid UTF-8 replaced)."""
        return self.tail.decode("utf-8", "replace")

    def last_line(self) -> str:
        """The head of the stream's last non-empty line, ended or not, as text (invalid UTF-8 replaced); empty when
        every line is. Its leading whitespace is dropped, and bytes past :data:`LINE_HEAD_BYTES` of it are not kept."""
        return (self._line or self._last).decode("utf-8", "replace")


def drain(fd: int, into: OutputTail, budget: int) -> bool:
    """Read what ``fd`` holds now without blocking, up to ``budget`` bytes; False at end of file."""
    os.set_blocking(fd, False)
    while budget > 0:
        try:
            chunk = os.read(fd, min(_READ_BYTES, budget))
        except BlockingIOError:
            return True
        if not chunk:
            return False
        into.add(chunk)
        budget -= len(chunk)
    return True


@dataclass(frozen=True)
class Finished:
    """How a bounded run ended."""

    status: int | None
    """The exit status (negative: killed by that signal); None when the run was cut short."""
    stdout: OutputTail
    stderr: OutputTail
    elapsed_ms: float
    timed_out: bool = False
    overflowed: bool = False
    """It wrote more than ``max_output`` bytes and was killed for it."""


def run_bounded(argv: Sequence[str], *, cwd: str, env: Mapping[str, str], tag: str, timeout: float,
                max_output: int = MAX_OUTPUT_BYTES, max_data: int | None = None) -> Finished:
    """Run ``argv`` to its end, its deadline or its output cap, whichever comes first; then kill what it left.

    stdout and stderr are pipes read in bounded chunks as they fill (only their tails are kept);
    the process runs in a new session with ``tag`` in its environment, its data segment bounded by
    ``max_data`` bytes (:func:`bound_data_segment`), and everything in its group or carrying the tag is
    killed once it exits or is cut short. Raises :class:`OSError` when it cannot be started.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**env, TAG_ENV: tag}, start_new_session=True)
    bound_data_segment(proc.pid, max_data)
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = OutputTail(), OutputTail()
    streams = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}

    def budget() -> int:
        return max(0, max_output + 1 - stdout.total - stderr.total)

    pidfd = os.pidfd_open(proc.pid)
    poller = select.poll()
    for fd in (*streams, pidfd):
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    exited = timed_out = False
    try:
        try:
            while not exited and budget() > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for fd, _ in poller.poll(math.ceil(remaining * 1000)):
                    if fd == pidfd:
                        exited = True
                    elif not drain(fd, streams[fd], budget()):
                        poller.unregister(fd)
        finally:  # also when the harness is interrupted (Ctrl-C, SIGTERM): nothing it started outlives it
            # What it wrote before exiting is still in the pipes, which its leftovers may hold open: kill, then read.
            kill_group_and_tagged(proc, tag)
        for fd, tail in streams.items():
            drain(fd, tail, budget())
    finally:
        os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
    overflowed = budget() == 0
    return Finished(proc.returncode if exited and not overflowed else None, stdout, stderr,
                    (time.perf_counter() - start) * 1000, timed_out and not overflowed, overflowed)
