"""Worker processes that each answer tasks one by one, so a worker that dies takes only its own task down.

``concurrent.futures.ProcessPoolExecutor`` marks the whole pool broken when one worker dies (an
in-process verifier calling ``os._exit``, a fatal signal in a C extension): every pending task fails
and nothing says which one killed it. Here the parent knows which tasks each worker holds: tasks go
out in batches (one message for several tasks), answers come back one message per task, in order,
so a death is the :class:`WorkerDied` of the first task the worker had not answered; the rest of its
batch goes back to the queue, the verifier processes the worker had started are killed (they carry
:data:`~hsmsim.harness.processes.WORKER_ENV`), a fresh worker takes its place and the run goes on.

A worker can also stall without dying: an in-process verifier stuck in C code that holds the GIL and never
looks for signals (a C loop over an endless iterator; a regular expression that backtracks for ever, in a
thread other than the main one) keeps every in-process time bound (SIGALRM, a thread's deadline) from
firing. With a ``stall_timeout`` the pool watches each worker from the parent: a worker publishes in shared
memory when its current unit of work started (a task, or each case of a task that runs many:
:func:`mark_progress`), and the parent SIGKILLs one whose unit has run longer than the timeout; that death
is a :class:`WorkerDied` with :attr:`WorkerDied.stalled_after` set. While a watched unit runs, the kernel
SIGKILLs the worker if the parent dies (SIGTERM otherwise), so a stuck worker does not outlive a parent
killed outright."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from time import monotonic
from typing import Any, Generic, Literal, TypeVar

from hsmsim.errors import HsmsimError
from hsmsim.harness.processes import WORKER_ENV, kill_tagged, new_tag
from hsmsim.pki.parse_warnings import quiet_certificate_warnings

Task = TypeVar("Task")
Result = TypeVar("Result")

StartMethod = Literal["spawn", "fork", "fork-if-single-threaded"]

MAX_JOBS = 64
"""The most worker processes a run starts (each may start a verifier process of its own)."""
_READY = "ready"
_STOP_TIMEOUT_S = 5.0
STALL_GRACE_S = 5.0
"""The least a worker's unit of work may overrun its verifier's own time bound before :func:`stall_timeout` calls
the worker stalled."""
_WAKE_SLACK_S = 0.05


class WorkerStartError(HsmsimError):
    """A worker process died before it was ready to take tasks (its initializer failed)."""


def stall_timeout(timeout: float) -> float:
    """The stall timeout of a pool whose units of work are each bounded in-process by ``timeout`` seconds: that
    bound plus :data:`STALL_GRACE_S` or the bound itself, whichever is more, so a unit that only overruns a little
    (a slow case, a loaded machine) is still answered by its own bound, as a HANG that says so."""
    return timeout + max(STALL_GRACE_S, timeout)


@dataclass(frozen=True)
class WorkerDied:
    """The answer to a task whose worker process died while running it."""

    exitcode: int | None
    stalled_after: float | None = None
    """Set when the pool killed the worker because its unit of work ran longer than this many seconds (the pool's
    ``stall_timeout``)."""

    @property
    def stalled(self) -> bool:
        """The pool killed the worker for running one unit of work too long (a HANG, not a crash)."""
        return self.stalled_after is not None

    def describe(self) -> str:
        """``worker process killed by SIGSEGV``, ``worker process exited with status 3``, or, for a stalled worker,
        ``killed after N s without an answer``."""
        if self.stalled_after is not None:
            return (f"the worker process was killed after {self.stalled_after:g} s without an answer: a verifier "
                    "stuck in code that signals cannot interrupt (C code that holds the GIL, or never returns)")
        code = self.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        return f"the worker process {how} while running this case (os._exit or a fatal signal in the verifier)"


def single_threaded() -> bool:
    """True when this process runs one thread, counting threads started outside Python (Linux: /proc)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


_PR_SET_PDEATHSIG = 1


def _interrupt_once(_signum: int, _frame: object) -> None:
    """Raise :class:`KeyboardInterrupt` for the first SIGINT or SIGTERM and ignore every later one: the clean-up
    the first starts (stopping the worker's verifiers, removing their scratch directories) is bounded, and a
    second Ctrl-C, or the parent's death, must not cut it short and leave a verifier running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _end_with_parent(parent: int) -> Callable[[int], object] | None:
    """Have the kernel send this worker SIGTERM when the parent process dies, and read SIGTERM as Ctrl-C is
    read (once: see :func:`_interrupt_once`), so the worker's ``finally`` blocks kill the verifier processes it
    started. A parent killed outright (SIGKILL) closes no pipe the worker would notice: forked siblings hold
    copies of the parent's ends. Returns the call that sets the parent-death signal (None where there is none)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a harness started in the background ignores Ctrl-C
        signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGTERM, _interrupt_once)
    death_signal: Callable[[int], object] | None = None
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the parent's close() remains
        prctl = ctypes.CDLL(None, use_errno=True).prctl

        def death_signal(number: int) -> object:
            return prctl(_PR_SET_PDEATHSIG, number, 0, 0, 0)

        death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        raise SystemExit(1)
    return death_signal


@dataclass
class _Clock:
    """In a worker: when its current unit of work started (``time.monotonic``, which every process of the machine
    shares), 0 while it runs none, in shared memory the parent reads.

    In a watched pool (one with a stall timeout) the parent-death signal follows it: SIGKILL while a unit runs,
    SIGTERM between units. A unit may be stuck in C code that holds the GIL, where the SIGTERM handler (Python code)
    would never run and the worker would outlive a parent killed outright; between units, SIGTERM lets the worker
    stop its verifier processes first. A change of signal is one system call, made only when it changes."""

    shared: ctypes.c_double
    death_signal: Callable[[int], object] | None
    hard: bool = False

    def start(self) -> None:
        self.shared.value = monotonic()
        if self.death_signal is not None and not self.hard:
            self.death_signal(signal.SIGKILL)
            self.hard = True

    def stop(self) -> None:
        self.shared.value = 0.0
        if self.hard:
            assert self.death_signal is not None
            self.death_signal(signal.SIGTERM)
            self.hard = False


_clock: _Clock | None = None
"""This worker's :class:`_Clock` (None outside a worker)."""


def mark_progress() -> None:
    """Say that a new unit of work starts now (the next of the many cases one task runs): a pool with a stall
    timeout kills this worker only when one unit runs longer than that, however long the task. Outside a worker
    this does nothing. One store into shared memory (and in a watched pool, after a spell without a unit, one
system call): cheap enough for every case."""
    if _clock is not None:
        _clock.start()


def mark_unwatched() -> None:
    """Say that the rest of the current unit of work needs no watching, until the next task or
    :func:`mark_progress`: it is bounded by means no C code in this process can hold off (a verifier process
    awaited with a deadline), and may legitimately outlast the stall timeout (starting such a process again).
    Outside a worker this does nothing."""
    if _clock is not None:
        _clock.stop()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """For the block, the cyclic garbage collector leaves alone every object alive on entry (``gc.freeze``); on
    leaving they are its again (``gc.unfreeze``). Nothing is freed or kept that would not be otherwise; a nested
    use, or one inside a caller's own freeze, does nothing.

    A run holds the corpus and the verifiers' caches (some 100,000 objects) for its whole length, and each full
    collection would walk them all again: 60-70 ms of a 1.2 s conformance run over the corpus.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _serve(conn: Connection, tag: str, initializer: Callable[..., None], initargs: tuple[Any, ...],
           handler: Callable[[Any], Any], parent: int, shared: ctypes.c_double, watched: bool) -> None:
    global _clock
    death_signal = _end_with_parent(parent)
    # What the worker's verifier prints, from Python or C, goes to standard error: the parent's standard output is
    # its report (findings lines, results), and the worker has nothing of its own to write there.
    os.dup2(2, 1)
    quiet_certificate_warnings()  # as the command did in the parent, which a spawned worker does not inherit
    os.environ[WORKER_ENV] = tag
    _clock = clock = _Clock(shared, death_signal if watched else None)
    try:
        initializer(*initargs)
        gc.freeze()  # what the worker inherited and loaded lives as long as it does: no full collection walks it
        conn.send(_READY)
        while (batch := conn.recv()) is not None:
            for task in batch:
                clock.start()
                try:
                    answer = handler(task)
                    clock.stop()  # a send that waits for the parent to read is no stall
                    conn.send((True, answer))
                except Exception as exc:  # noqa: BLE001 - the parent re-raises it
                    clock.stop()
                    conn.send((False, exc))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, the parent's or its death's: the finally blocks ran; exit quietly
        # (the finalizers that run next, closing the verifiers, are no longer interrupted: see _interrupt_once)
        raise SystemExit(130) from None


class _Lookahead(Generic[Task]):
    """Tasks drawn from an iterator only as far as asked; tasks handed back are drawn first."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._tasks = iter(tasks)
        self.buffer: deque[Task] = deque()

    def fill(self, count: int) -> bool:
        """Draw until ``count`` tasks wait in :attr:`buffer`; False when fewer are left."""
        self.buffer.extend(islice(self._tasks, max(0, count - len(self.buffer))))
        return len(self.buffer) >= count

    def take(self, count: int) -> list[Task]:
        """Up to ``count`` tasks, in order."""
        self.fill(count)
        return [self.buffer.popleft() for _ in range(min(count, len(self.buffer)))]

    def give_back(self, tasks: Iterable[Task]) -> None:
        """Put ``tasks`` (in order) before every other task."""
        self.buffer.extendleft(reversed(list(tasks)))


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    tag: str
    clock: ctypes.c_double
    """The shared value of the worker's :class:`_Clock`."""
    pending: deque[Any] = field(default_factory=deque)
    """Tasks sent and not answered yet, oldest first."""
    ready: bool = False
    stalled: bool = False
    """The pool killed it for running one unit of work longer than its stall timeout."""


class WorkerPool(Generic[Task, Result]):
    """``jobs`` processes, each set up by ``initializer(*initargs)``, answering ``handler(task)``.

    ``start_method="fork"`` starts each worker (and each replacement) as a copy of this process, with what
    it has loaded already, for callers that hold no threads or locks a copy could inherit mid-use;
    ``"fork-if-single-threaded"`` forks when :func:`single_threaded` holds at that moment, and spawns
    otherwise. A spawned worker starts a fresh interpreter: the initializer's arguments are pickled to it.

    With a ``stall_timeout`` (seconds; see :func:`stall_timeout`) a worker whose unit of work (a task, or the
    stretch since its handler last called :func:`mark_progress`) runs longer than that is SIGKILLed, even when it
    is stuck where no signal reaches Python code, and its task answered with a stalled :class:`WorkerDied`.
    """

    def __init__(self, jobs: int, handler: Callable[[Task], Result], initializer: Callable[..., None],
                 initargs: tuple[Any, ...], *, start_method: StartMethod = "spawn",
                 stall_timeout: float | None = None) -> None:
        self._start_method = start_method
        self._stall_timeout = stall_timeout
        self._jobs = jobs
        self._handler = handler
        self._initializer = initializer
        self._initargs = initargs
        self._workers: list[_Worker] = []

    @property
    def jobs(self) -> int:
        """How many workers the pool keeps running."""
        return self._jobs

    def _context(self) -> ForkContext | SpawnContext:
        fork = self._start_method == "fork" or (self._start_method == "fork-if-single-threaded" and single_threaded())
        return get_context("fork") if fork else get_context("spawn")

    def _start(self) -> _Worker:
        context = self._context()
        parent, child = context.Pipe()
        tag = new_tag()
        clock = context.RawValue(ctypes.c_double, 0.0)
        process = context.Process(target=_serve, args=(child, tag, self._initializer, self._initargs,
                                                       self._handler, os.getpid(), clock,
                                                       self._stall_timeout is not None), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent, tag, clock)

    def run(self, tasks: Iterable[Task], *, batch: int = 1) -> Iterator[tuple[Task, Result | WorkerDied]]:
        """Each task with its answer (or :class:`WorkerDied`), in completion order.

        ``tasks`` is drawn lazily, ``batch`` tasks whenever a worker has fewer than ``batch`` left to answer
        (with ``batch=1``: one task whenever a worker is free; a generator may decide to stop). Re-raises an
        exception the handler raised; raises :class:`WorkerStartError` when a worker dies before it is ready.
        """
        queue = _Lookahead(tasks)
        while len(self._workers) < self._jobs and queue.fill(len(self._workers) + 1):
            self._workers.append(self._start())
        for worker in self._workers:
            self._assign(worker, queue, batch)
        while busy := [w for w in self._workers if w.pending]:
            owners: dict[object, _Worker] = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
            ready = wait([*(w.conn for w in busy), *(w.process.sentinel for w in busy)], self._next_check(busy))
            for worker in dict.fromkeys([*(owners[handle] for handle in ready), *self._kill_stalled(busy)]):
                if not worker.pending or all(w is not worker for w in self._workers):
                    continue  # replaced, or drained through its other handle in this round
                answered, exited = self._receive(worker)
                yield from answered
                if exited:
                    index = self._workers.index(worker)
                    self._workers[index] = self._start()
                    if worker.pending:
                        task = worker.pending.popleft()
                        queue.give_back(worker.pending)
                        yield task, WorkerDied(worker.process.exitcode,
                                               self._stall_timeout if worker.stalled else None)
                    worker = self._workers[index]
                self._assign(worker, queue, batch)

    def _next_check(self, busy: list[_Worker]) -> float | None:
        """Seconds until the first of ``busy`` can have stalled (None: the pool does not watch for stalls). A worker
        whose clock is not running now starts it no earlier than now: it cannot stall before a whole timeout."""
        if self._stall_timeout is None:
            return None
        now = monotonic()
        due = min((since + self._stall_timeout - now for w in busy if (since := w.clock.value)),
                  default=self._stall_timeout)
        return max(due, 0.0) + _WAKE_SLACK_S

    def _kill_stalled(self, busy: list[_Worker]) -> list[_Worker]:
        """SIGKILL (and reap) each of ``busy`` whose unit of work has run longer than the stall timeout."""
        if self._stall_timeout is None:
            return []
        now = monotonic()
        stalled = [w for w in busy if (since := w.clock.value) and now - since > self._stall_timeout]
        for worker in stalled:
            worker.stalled = True
            worker.process.kill()
            worker.process.join()
        return stalled

    def _assign(self, worker: _Worker, queue: _Lookahead[Task], batch: int) -> None:
        if len(worker.pending) >= batch or not queue.fill(1):
            return
        if not worker.pending and not worker.process.is_alive():
            # it died between tasks (a thread it left behind ended it): no one to blame
            self._bury(worker)
            index = self._workers.index(worker)
            self._workers[index] = worker = self._start()
        tasks = queue.take(batch)
        worker.pending.extend(tasks)
        with contextlib.suppress(OSError):  # it just died: its sentinel says so, the first of them is blamed
            worker.conn.send(tasks)

    @staticmethod
    def _bury(worker: _Worker) -> None:
        worker.process.join()
        worker.conn.close()
        kill_tagged(WORKER_ENV, worker.tag)

    def _receive(self, worker: _Worker) -> tuple[list[tuple[Any, Result]], bool]:
        """The answers the worker has sent, each with its task, and whether it has exited (then every answer it
        sent is among them, and ``pending`` holds the tasks it did not answer, the one it died on first)."""
        exited = not worker.process.is_alive()  # before reading: all an exited worker sent is in the pipe
        answered: list[tuple[Any, Result]] = []
        while True:
            try:
                if not worker.conn.poll():
                    break
                message = worker.conn.recv()
            except (EOFError, OSError):
                exited = True
                break
            if message == _READY:
                worker.ready = True
                continue
            ok, value = message
            task = worker.pending.popleft()
            if not ok:
                raise value
            answered.append((task, value))
        if exited:
            self._bury(worker)
            if not worker.ready:
                raise WorkerStartError(f"a worker process exited with status {worker.process.exitcode} "
                                       "before it was ready")
        return answered, exited

    def close(self) -> None:
        """Ask every worker to stop; kill those that do not, and whatever verifier processes they leave, also when
        the wait for the workers is interrupted (a second Ctrl-C)."""
        try:
            for worker in self._workers:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
            for worker in self._workers:
                worker.process.join(_STOP_TIMEOUT_S)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join()
        finally:
            for worker in self._workers:
                worker.conn.close()
                kill_tagged(WORKER_ENV, worker.tag)
            self._workers.clear()

    def __enter__(self) -> WorkerPool[Task, Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
