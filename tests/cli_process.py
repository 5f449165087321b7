"""Run the ``hsmsim`` command in a process forked from the test process.

``python -m hsmsim`` spends about half a second starting the interpreter and importing hsmsim before it does
anything; a suite that runs the command a thousand times spends most of its time there. A child forked from the
test process, which has imported hsmsim already, skips that and is still a process of its own: its own exit
status, file descriptors 0-2 on pipes, environment, working directory, signal dispositions, warning filters and
exit handlers, so the exit code, output and files a test sees are what the installed command gives.

Commands that start worker processes or a server (``conformance``, ``fuzz``, ``serve``), and every command while
the test process has a PKCS#11 library initialised (a library must not be used across a fork), run as
``python -m hsmsim`` instead. Tests of what only a fresh interpreter shows (start-up, signals from outside, the
installed wheel) spawn the command themselves.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Mapping
from pathlib import Path

_SPAWNED = frozenset({"conformance", "fuzz", "serve"})


def run_hsmsim(args: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``hsmsim *args`` to its end and return what ``subprocess.run(..., capture_output=True, text=True)``
    of ``python -m hsmsim *args`` returns; raise :class:`subprocess.TimeoutExpired` (the child killed) when it
    runs longer than ``timeout`` seconds."""
    command = [sys.executable, "-m", "hsmsim", *args]
    _import_the_command()
    if _must_spawn(args):
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
                              check=False)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit
        os.close(out_r)
        os.close(err_r)
        _child(args, out_w, err_w, env, cwd)
    os.close(out_w)
    os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    readers = [threading.Thread(target=_drain, args=(fd, chunks[fd]), daemon=True) for fd in (out_r, err_r)]
    for reader in readers:
        reader.start()
    ended = False
    try:
        until = time.monotonic() + timeout
        for reader in readers:
            reader.join(max(0.0, until - time.monotonic()))
        if any(reader.is_alive() for reader in readers):
            raise subprocess.TimeoutExpired(command, timeout, _text(chunks[out_r]), _text(chunks[err_r]))
        _pid, status = os.waitpid(pid, 0)
        ended = True
    finally:
        if not ended:  # a timeout, or the test's own deadline interrupted the wait
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return subprocess.CompletedProcess(command, os.waitstatus_to_exitcode(status), _text(chunks[out_r]),
                                       _text(chunks[err_r]))


@functools.cache
def _import_the_command() -> None:
    """Import, once, what every run of the command imports (the CLI and every format, which detection reads), so
    that each child has it without importing it again."""
    from hsmsim._cli import main  # noqa: F401
    from hsmsim.formats import get_format, names

    for name in names():
        get_format(name)


def _must_spawn(args: list[str]) -> bool:
    if args and args[0] in _SPAWNED:
        return True
    # A library finalised again (every store on it closed) is initialised afresh by a child that needs it, as
    # PKCS#11 asks of a forked process; one in use in the test process is not the child's to touch.
    pkcs11_keystore = sys.modules.get("hsmsim.keystore.pkcs11")
    return any(loaded.users for loaded in getattr(pkcs11_keystore, "_LIBS", {}).values())


def _drain(fd: int, into: list[bytes]) -> None:
    with open(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            into.append(chunk)


def _text(chunks: list[bytes]) -> str:
    """Bytes as ``text=True`` decodes them: the locale's encoding (UTF-8 here), universal newlines."""
    return b"".join(chunks).decode().replace("\r\n", "\n").replace("\r", "\n")


def _child(args: list[str], out_w: int, err_w: int, env: Mapping[str, str] | None,
           cwd: Path | None) -> None:  # pragma: no cover - runs in the child
    code = 1  # what Python exits with when an exception escapes
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (out_w, 1), (err_w, 2)):
            os.dup2(fd, target)
            os.close(fd)
        _as_a_fresh_interpreter(args, env, cwd)
        code = _main(args)
    except BaseException:  # noqa: BLE001 - nothing may escape into the test process's code in the child
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
                stream.flush()
        os._exit(code)


def _as_a_fresh_interpreter(args: list[str], env: Mapping[str, str] | None, cwd: Path | None) -> None:
    """Give the child what ``python -m hsmsim`` starts with, in place of what the test process set up."""
    for number in (signal.SIGALRM, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    sys.argv = ["hsmsim", *args]
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True)
    warnings.resetwarnings()  # Python's own default filters, not the test runner's
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category, append=True)
    # The test process's exit handlers and finalizers (its temporary directories, its swtpm processes) are not
    # the child's to run; the child's own run at its exit.
    atexit._clear()
    for finalizer in list(weakref.finalize._registry):  # type: ignore[attr-defined]
        finalizer.detach()
    weakref.finalize._registered_with_atexit = False  # type: ignore[attr-defined]
    if "multiprocessing.util" in sys.modules:  # as multiprocessing does in the children it forks itself
        import multiprocessing.process
        import multiprocessing.util

        multiprocessing.util._finalizer_registry.clear()  # type: ignore[attr-defined]
        multiprocessing.process._children.clear()  # type: ignore[attr-defined]
        atexit.register(multiprocessing.util._exit_function)  # type: ignore[attr-defined]


def _main(args: list[str]) -> int:
    """Run the command as ``python -m hsmsim`` does, exit handlers included; its exit status."""
    from hsmsim._cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    finally:  # after a traceback too, as Python runs them
        atexit._run_exitfuncs()
    return code
