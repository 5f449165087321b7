"""Worker processes that run one task at a time each, so a worker that dies takes only its own task down.

``concurrent.futures.ProcessPoolExecutor`` marks the whole pool broken when one worker dies (an
in-process verifier calling ``os._exit``, a fatal signal in a C extension): every pending task fails
and nothing says which one killed it. Here the parent knows which task each worker holds: a death
becomes that task's :class:`WorkerDied`, the verifier processes the worker had started are killed
(they carry :data:`~hsmsim.harness.processes.WORKER_ENV`), a fresh worker takes its place and the
run goes on.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, Literal, TypeVar

from hsmsim.errors import HsmsimError
from hsmsim.harness.processes import WORKER_ENV, kill_tagged, new_tag

Task = TypeVar("Task")
Result = TypeVar("Result")

_READY = "ready"
_STOP_TIMEOUT_S = 5.0


class WorkerStartError(HsmsimError):
    """A worker process died before it was ready to take tasks (its initializer failed)."""


@dataclass(frozen=True)
class WorkerDied:
    """The answer to a task whose worker process died while running it."""

    exitcode: int | None

    def describe(self) -> str:
        """``worker process killed by SIGSEGV`` or ``worker process exited with status 3``."""
        code = self.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        return f"the worker process {how} while running this case (os._exit or a fatal signal in the verifier)"


def _serve(conn: Connection, tag: str, initializer: Callable[..., None], initargs: tuple[Any, ...],
           handler: Callable[[Any], Any]) -> None:
    os.environ[WORKER_ENV] = tag
    initializer(*initargs)
    conn.send(_READY)
    while (task := conn.recv()) is not None:
        try:
            conn.send((True, handler(task)))
        except Exception as exc:  # noqa: BLE001 - the parent re-raises it
            conn.send((False, exc))


class _Lookahead(Generic[Task]):
    """Tasks drawn from an iterator only as far as asked."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._tasks = iter(tasks)
        self.buffer: deque[Task] = deque()

    def fill(self, count: int) -> bool:
        """Draw until ``count`` tasks wait in :attr:`buffer`; False when fewer are left."""
        self.buffer.extend(islice(self._tasks, max(0, count - len(self.buffer))))
        return len(self.buffer) >= count


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    tag: str
    task: Any = None
    busy: bool = False
    ready: bool = False


class WorkerPool(Generic[Task, Result]):
    """``jobs`` spawned processes, each set up by ``initializer(*initargs)``, answering ``handler(task)``.

    ``start_method="fork"`` starts each worker (and each replacement) as a copy of this process, with what
    it has loaded already, for callers that hold no threads or locks a copy could inherit mid-use.
    """

    def __init__(self, jobs: int, handler: Callable[[Task], Result], initializer: Callable[..., None],
                 initargs: tuple[Any, ...], *, start_method: Literal["spawn", "fork"] = "spawn") -> None:
        self._context = get_context("fork") if start_method == "fork" else get_context("spawn")
        self._jobs = jobs
        self._handler = handler
        self._initializer = initializer
        self._initargs = initargs
        self._workers: list[_Worker] = []

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        tag = new_tag()
        process = self._context.Process(target=_serve, args=(child, tag, self._initializer, self._initargs,
                                                               self._handler), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent, tag)

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, Result | WorkerDied]]:
        """Each task with its answer (or :class:`WorkerDied`), in completion order.

        ``tasks`` is drawn lazily, one task whenever a worker is free (a generator may decide to stop).
        Re-raises an exception the handler raised; raises :class:`WorkerStartError` when a worker
        dies before it is ready.
        """
        queue = _Lookahead(tasks)
        while len(self._workers) < self._jobs and queue.fill(len(self._workers) + 1):
            self._workers.append(self._start())
        for worker in self._workers:
            self._assign(worker, queue)
        while busy := [w for w in self._workers if w.busy]:
            owners: dict[object, _Worker] = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
            for ready in wait([*(w.conn for w in busy), *(w.process.sentinel for w in busy)]):
                worker = owners[ready]
                if not worker.busy:
                    continue
                answer = self._receive(worker)
                if answer is None:
                    continue
                task = worker.task
                worker.busy = False
                if isinstance(answer, WorkerDied):
                    index = self._workers.index(worker)
                    self._workers[index] = worker = self._start()
                yield task, answer
                self._assign(worker, queue)

    def _assign(self, worker: _Worker, queue: _Lookahead[Task]) -> None:
        if not queue.fill(1):
            return
        if not worker.process.is_alive():  # it died between tasks (a thread it left behind ended it): no one to blame
            self._bury(worker)
            index = self._workers.index(worker)
            self._workers[index] = worker = self._start()
        worker.task, worker.busy = queue.buffer.popleft(), True
        worker.conn.send(worker.task)

    @staticmethod
    def _bury(worker: _Worker) -> None:
        worker.process.join()
        worker.conn.close()
        kill_tagged(WORKER_ENV, worker.tag)

    def _receive(self, worker: _Worker) -> Result | WorkerDied | None:
        """The worker's answer to its task, WorkerDied when it died, None when it only said it is ready."""
        try:
            if not worker.conn.poll():
                raise EOFError  # only the sentinel fired: it exited
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._bury(worker)
            if not worker.ready:
                raise WorkerStartError(f"a worker process exited with status {worker.process.exitcode} "
                                       "before it was ready") from None
            return WorkerDied(worker.process.exitcode)
        if message == _READY:
            worker.ready = True
            return None
        ok, value = message
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        """Ask every worker to stop; kill those that do not, and whatever verifier processes they leave."""
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(_STOP_TIMEOUT_S)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
            kill_tagged(WORKER_ENV, worker.tag)
        self._workers.clear()

    def __enter__(self) -> WorkerPool[Task, Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
