"""Verifier adapters: run one verifier on one vector and say what it answered.

Three modes (``harness_anchors.md`` §4, §8.4):

* ``python``: a function called in-process with a :class:`VerifyRequest` (fast; a hung call is
  abandoned, not killed; ``isolate = true`` runs it in a child process instead).
* ``oneshot``: one process per vector from a command template; exit 0 = ACCEPT, 1 = REJECT,
  killed by a signal (or a shell's 128+N) = CRASH, anything else = ERROR, past the deadline = HANG,
  more than :data:`~hsmsim.harness.processes.MAX_OUTPUT_BYTES` of output = ERROR (killed).
* ``persistent``: one long-running process speaking JSON Lines on stdin/stdout: a ``hello``,
  then one ``verify`` request per vector, each with a deadline; restarted after a crash or hang.

An adapter never raises on a misbehaving verifier: every failure is an :class:`Answer`. Verifier
processes, and whatever they start, are killed as :mod:`hsmsim.harness.processes` describes.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import json
import os
import queue
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType

from hsmsim.encoding import JsonDepthError, parse_json
from hsmsim.errors import HsmsimError
from hsmsim.harness.config import (
    PLACEHOLDER,
    AdapterConfig,
    AdapterConfigError,
    check_oneshot_command,
    placeholder_problem,
)
from hsmsim.harness.model import Actual, Answer, VerifierInfo
from hsmsim.harness.processes import (
    MAX_OUTPUT_BYTES,
    TAG_ENV,
    OutputTail,
    bound_data_segment,
    drain,
    kill_group_and_tagged,
    new_tag,
    run_bounded,
)
from hsmsim.harness.text import one_line
from hsmsim.harness.vectors import Inputs, Subject, anchor_certificate, materialise
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Verdict, escaped

MAX_LINE_BYTES = 1 << 20
"""Longest JSON line a persistent verifier may send."""
VERSION_CMD_TIMEOUT_S = 10.0
_VERDICT_LINE = re.compile(r"^\s*(ACCEPT|REJECT)\b[\s:]*([A-Za-z0-9_.-]+)?")
_NOT_BLANK = re.compile(rb"\S")


class VerifierStartError(HsmsimError):
    """A verifier could not be started, or its hello was not understood."""


@dataclass(frozen=True)
class VerifyRequest:
    """What an in-process (``python``) verifier receives for one vector."""

    id: str
    format: str
    profile: str
    evidence: Evidence
    """The native files, in memory."""
    trust: TrustAnchors
    """The anchors, under role ``root``."""
    at: datetime
    anchors_pem: tuple[str, ...]
    features: tuple[str, ...] = ()


def expand(template: tuple[str, ...], inputs: Inputs, extra: Mapping[str, str]) -> list[str]:
    """Expand the placeholders of a command template for one case.

    ``{primary} {dir} {file:<name or suffix>} {anchor} {anchors_dir} {time} {unix_time} {profile}
    {id} {format}`` plus ``extra`` (``{python}``, ``{here}``); ``{{`` and ``}}`` are literal braces.
    Raises :class:`AdapterConfigError` on a placeholder it cannot fill in, by the rule
    :func:`~hsmsim.harness.config.check_oneshot_command` applies when the adapter file is read.
    """
    values: dict[str, str] = {
        "primary": str(inputs.primary), "dir": str(inputs.dir), "anchor": str(inputs.anchor),
        "anchors_dir": str(inputs.anchors_dir), "time": inputs.time, "unix_time": str(inputs.unix_time),
        "profile": inputs.profile, "id": inputs.id, "format": inputs.format, **extra,
    }

    def replace(match: re.Match[str]) -> str:
        problem = placeholder_problem(match, values)
        if problem is not None:
            raise AdapterConfigError(problem)
        key, arg = match.group(1), match.group(2)
        if key is None:
            return match.group(0)[0]
        return str(inputs.find_file(arg)) if key == "file" else values[key]

    return [PLACEHOLDER.sub(replace, part) for part in template]


class Verifier(ABC):
    """One running verifier. Not thread-safe: use one instance per worker."""

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config
        self.info: VerifierInfo | None = None
        self.tag = new_tag()
        """This instance's :data:`~hsmsim.harness.processes.TAG_ENV`: every process it starts carries it."""
        self._tmp: Path | None = None

    @property
    def name(self) -> str:
        """The adapter's name."""
        return self.config.name

    def _workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix=f"hsmsim-{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}-"))
        return self._tmp

    def _extra(self) -> dict[str, str]:
        return {"python": sys.executable, "here": self.config.here}

    def _max_data(self) -> int | None:
        """The data-segment bound of the verifier's processes in bytes (``max_memory_mib``), None for none."""
        return self.config.max_memory_mib << 20 or None

    def _env(self) -> dict[str, str]:
        extra = self._extra()
        return {**os.environ, **{k: expand_static((v,), extra)[0] for k, v in self.config.env.items()}}

    def _resolve_info(self, hello: Mapping[str, object]) -> VerifierInfo:
        def strings(value: object) -> tuple[str, ...] | None:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
            return None

        config = self.config
        for key in ("formats", "features"):
            if hello.get(key) is not None and strings(hello[key]) is None:
                raise VerifierStartError(f"{self.name}: hello {key} must be a list of strings")
        if hello.get("profile") is not None and hello["profile"] not in tuple(Profile):
            raise VerifierStartError(f"{self.name}: hello profile must be one of {', '.join(Profile)} "
                                     f"(got {one_line(repr(hello['profile']), 40)})")
        if hello.get("version") is not None and (isinstance(hello["version"], bool)
                                                 or not isinstance(hello["version"], str | int | float)):
            raise VerifierStartError(f"{self.name}: hello version must be a string or a number")
        version = config.version
        if version is None and config.version_cmd:
            version = self._run_version_cmd()
        if version is None and hello.get("version") is not None:
            version = str(hello["version"])
        profile = config.profile or (str(hello["profile"]) if isinstance(hello.get("profile"), str) else "structural")
        formats = config.formats if config.formats is not None else strings(hello.get("formats"))
        if formats == ():
            raise VerifierStartError(f"{self.name}: hello formats is empty: the verifier claims no format "
                                     "(list the formats it verifies, or \"*\")")
        return VerifierInfo(
            name=config.name, version=one_line(version or "unknown", 100), mode=config.mode, profile=profile,
            formats=formats or ("*",),
            features=config.features if config.features is not None else strings(hello.get("features")) or (),
        )

    def _run_version_cmd(self) -> str | None:
        try:
            done = run_bounded(expand_static(self.config.version_cmd, self._extra()), cwd=self.config.cwd,
                               env=self._env(), tag=self.tag, timeout=VERSION_CMD_TIMEOUT_S, max_data=self._max_data())
        except OSError:
            return None
        if done.status is None:
            return None
        lines = (done.stdout.text() or done.stderr.text()).strip().splitlines()
        return lines[0].strip() if lines else None

    @abstractmethod
    def start(self) -> VerifierInfo:
        """Start the verifier (import, spawn, hello) and return its identity and claims."""

    @abstractmethod
    def verify(self, subject: Subject, *, timeout: float | None = None) -> Answer:
        """Run the verifier on one vector (or submission) under its profile; never raises on verifier misbehaviour."""

    def close(self) -> None:
        """Stop the verifier and remove its scratch directory."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Verifier:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def expand_static(template: tuple[str, ...], extra: Mapping[str, str]) -> list[str]:
    """Expand only ``{python}`` and ``{here}`` (for commands that run outside a case)."""
    return [re.sub(r"\{(python|here)\}", lambda m: extra[m.group(1)], part) for part in template]


# -- python ------------------------------------------------------------------------------------

_MODULES: dict[str, ModuleType] = {}
_IDLE_JOIN_S = 1.0
_MODULES_LOCK = threading.Lock()


def entry_module(entry: str) -> str | None:
    """The module name ``module:function`` imports, or None when the entry names a file
    (``path/to/file.py:function``): the one rule :func:`import_entry` tells the two apart by."""
    target = entry.rpartition(":")[0]
    return None if target.endswith(".py") else target


def _interrupts(exc: BaseException) -> bool:
    """True for a Ctrl-C (alone or within a group), the one exception an import may raise that is not the module's
    failure: ``sys.exit()``, a ``GeneratorExit`` or pytest's outcome exceptions raised at import time are."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is not None
    return isinstance(exc, KeyboardInterrupt)


def import_entry(entry: str, pythonpath: tuple[str, ...] = (), base: str = ".") -> Callable[..., object]:
    """The callable named by ``module:function`` or ``path/to/file.py:function``.

    Raises :class:`AdapterConfigError` when it cannot be imported, whatever the module raised while it ran
    (``SystemExit`` included); only a :class:`KeyboardInterrupt` goes through as it is.
    """
    target, _, attribute = entry.rpartition(":")
    if not target or not attribute:
        raise AdapterConfigError(f"entry {entry!r} is not module:function")
    with _MODULES_LOCK:
        for path in reversed(pythonpath):
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            module_name = entry_module(entry)
            if module_name is None:
                file = (Path(base) / target).resolve()
                module = _MODULES.get(str(file))
                if module is None:
                    if str(file.parent) not in sys.path:
                        sys.path.insert(0, str(file.parent))
                    spec = importlib.util.spec_from_file_location(f"hsmsim_adapter_{file.stem}", file)
                    if spec is None or spec.loader is None:
                        raise AdapterConfigError(f"cannot import {escaped(str(file))}")
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[spec.name] = module
                    try:
                        spec.loader.exec_module(module)
                    except BaseException:
                        sys.modules.pop(spec.name, None)  # as the import system does: no half-run module stays behind
                        raise
                    _MODULES[str(file)] = module
            else:
                module = importlib.import_module(module_name)
        except AdapterConfigError:
            raise
        except BaseException as exc:
            if _interrupts(exc):
                raise
            # the module's own message may span lines or be huge: the error stays one line
            raise AdapterConfigError(f"cannot import {target!r} for entry {entry!r}: "
                                     f"{one_line(f'{type(exc).__name__}: {exc}', 300)}") from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise AdapterConfigError(f"{target!r} has no callable {attribute!r}")
    return function  # type: ignore[no-any-return]


def answer_from(value: object) -> Answer:
    """Turn what a Python verifier returned into an :class:`Answer` (ERROR when it is not a verdict).

    Accepted: an :class:`hsmsim.verdict.Verdict`, an :class:`Answer`, a mapping like a persistent
    response (``{"verdict": ..., "reason": ..., "detail": ...}``) or a string ``ACCEPT`` /
    ``REJECT [REASON]``.
    """
    if isinstance(value, Answer):
        return value
    if isinstance(value, Verdict):
        return Answer(Actual.ACCEPT if value.accepted else Actual.REJECT, value.reason.value, value.detail)
    if isinstance(value, Mapping):
        return response_answer(value)
    if isinstance(value, str):
        match = _VERDICT_LINE.match(value)
        if match:
            return Answer(Actual(match.group(1)), match.group(2))
    return Answer(Actual.ERROR, None, f"returned {type(value).__name__} {one_line(repr(value), 80)}, not a verdict")


def response_answer(data: Mapping[str, object]) -> Answer:
    """An :class:`Answer` from a response object ``{verdict, reason?, detail?}``.

    A verifier may answer ERROR itself (it could not process the request); anything else that is
    not a verdict is an ERROR of the harness's own making, with the offending value in the detail.
    """
    verdict = data.get("verdict")
    if verdict not in ("ACCEPT", "REJECT", "SKIPPED", "ERROR"):
        return Answer(Actual.ERROR, None, f"verdict {verdict!r} is not ACCEPT, REJECT, SKIPPED or ERROR")
    reason = data.get("reason")
    detail = data.get("detail")
    try:
        return Answer(Actual(str(verdict)), None if reason in (None, "") else str(reason),
                      "" if detail is None else str(detail))
    except RecursionError:
        return Answer(Actual.ERROR, None, "answered a reason or detail that nests too deeply to read")


def build_request(subject: Subject, profile: str) -> VerifyRequest:
    """The in-memory request for a Python verifier."""
    anchors = tuple(anchor_certificate(pem) for pem in subject.anchors_pem)
    return VerifyRequest(
        id=subject.id, format=subject.format, profile=profile, evidence=subject.evidence,
        trust=TrustAnchors({"root": anchors}), at=subject.at, anchors_pem=subject.anchors_pem,
        features=subject.features,
    )


class PythonVerifier(Verifier):
    """``python`` mode: the function runs in a daemon thread with a deadline; an exception is CRASH."""

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__(config)
        self._function: Callable[..., object] | None = None
        self._caller: _CallThread | None = None

    def start(self) -> VerifierInfo:
        """Import the entry (and call ``hello`` when configured); what they print goes to standard error."""
        assert self.config.entry is not None
        with contextlib.redirect_stdout(sys.stderr):
            self._function = import_entry(self.config.entry, self.config.pythonpath, self.config.cwd)
            hello: Mapping[str, object] = {}
            if self.config.hello:
                hello_function = import_entry(self.config.hello, self.config.pythonpath, self.config.cwd)
                try:
                    result = hello_function()
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - a hello that raises: it cannot start
                    raise VerifierStartError(f"{self.name}: hello {self.config.hello} raised {type(exc).__name__}: "
                                             f"{one_line(str(exc), 200)}") from None
                if not isinstance(result, Mapping):
                    raise VerifierStartError(f"{self.name}: hello {self.config.hello} returned "
                                             f"{type(result).__name__}")
                hello = result
        if self.config.version is None and not self.config.version_cmd and "version" not in hello:
            module = sys.modules.get(getattr(self._function, "__module__", ""), None)
            version = getattr(module, "__version__", None) or getattr(module, "VERSION", None)
            hello = {**hello, "version": str(version)} if version else hello
        self.info = self._resolve_info(hello)
        return self.info

    def verify(self, subject: Subject, *, timeout: float | None = None) -> Answer:
        """Call the function on the subject; HANG after the deadline, CRASH on an exception. What it prints goes to
        standard error (standard output is the harness's report), but for a call abandoned at its deadline."""
        if self._function is None or self.info is None:
            raise RuntimeError("start() the verifier first")
        deadline = timeout or self.config.timeout_s
        request = build_request(subject, self.info.profile)
        if self._caller is None:
            self._caller = _CallThread(self.name)
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            call = self._caller.call(self._function, request, deadline)
        elapsed = (time.perf_counter() - start) * 1000
        if call is None:
            self._caller.stop()  # its thread is stuck in the abandoned call: the next call gets a fresh one
            self._caller = None
            return Answer(Actual.HANG, None, f"no verdict within {deadline:g} s (the call was abandoned)", elapsed)
        if call.error is not None:
            exc = call.error
            where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            at = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
            return Answer(Actual.CRASH, None, f"{type(exc).__name__}: {exc}{at}", elapsed)
        try:
            answer = answer_from(call.value)
        except RecursionError:  # repr() of a value that is not a verdict
            answer = Answer(Actual.ERROR, None, f"returned a {type(call.value).__name__} that nests too deeply to read")
        return Answer(answer.verdict, answer.reason, answer.detail, elapsed)

    def close(self) -> None:
        """Let the call thread end, then what every verifier does."""
        try:
            if self._caller is not None:
                self._caller.stop_idle()  # an overrun call dropped its thread: this one runs none
                self._caller = None
        finally:
            super().close()


@dataclass(frozen=True)
class _Returned:
    """What one call handed to a :class:`_CallThread` returned, or raised."""

    value: object = None
    error: BaseException | None = None


class _CallThread:
    """A daemon thread that runs a ``python``-mode verifier's calls one after the other, so a call costs a
    hand-over rather than a thread start; the adapter drops it when a call overruns its deadline.

    Calls and what they return travel through C-level queues: a hand-over through a ``threading.Event`` (a
    Condition, a lock per wait) costs more Python-level work than many a harness step of the case.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., object], object] | None] = queue.SimpleQueue()
        self._returns: queue.SimpleQueue[_Returned] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=f"hsmsim-verify {name}", daemon=True)
        self._thread.start()

    def call(self, function: Callable[..., object], request: object, deadline: float) -> _Returned | None:
        """Run ``function(request)`` on the thread: what it returned or raised, or None when ``deadline`` seconds
        passed first (the call runs on, abandoned: drop this thread)."""
        self._calls.put((function, request))
        try:
            return self._returns.get(timeout=deadline)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """End the thread once the call it runs (if any) returns."""
        self._calls.put(None)

    def stop_idle(self) -> None:
        """End the thread, which runs no call, and wait until it has ended (a process that forks workers next
        must have no thread left)."""
        self.stop()
        self._thread.join(_IDLE_JOIN_S)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            function, request = call
            try:
                returned = _Returned(function(request))
            except BaseException as exc:  # noqa: BLE001 - anything raised by the verifier is a CRASH
                returned = _Returned(error=exc)
            self._returns.put(returned)


# -- oneshot -----------------------------------------------------------------------------------

def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _check_program(argv0: str, cwd: str, origin: str, env: Mapping[str, str]) -> None:
    """Refuse, before any case, a ``cwd`` that is not a directory and a program that cannot be run (every case
    would otherwise be an ERROR blaming the verifier). A bare program name is looked up as the child's exec looks
    it up: on the ``PATH`` of ``env``, the environment the child gets, relative entries taken from ``cwd``."""
    if not os.path.isdir(cwd):
        raise AdapterConfigError(f"{origin}: cwd {escaped(cwd)} is not a directory")
    if "{" in argv0:
        return
    if os.sep in argv0:
        program = Path(cwd) / argv0
        if not program.exists():
            raise AdapterConfigError(f"{origin}: command {argv0!r} does not exist (relative to {cwd})")
        if not program.is_file() or not os.access(program, os.X_OK):
            raise AdapterConfigError(f"{origin}: command {argv0!r} is not an executable file")
    elif shutil.which(argv0, path=os.pathsep.join(os.path.join(cwd, entry) for entry in os.get_exec_path(env))) \
            is None:
        raise AdapterConfigError(f"{origin}: command {argv0!r} is not on PATH")


class OneshotVerifier(Verifier):
    """``oneshot`` mode: one process per vector; the exit status is the verdict."""

    def start(self) -> VerifierInfo:
        """Check the command template and the program; run ``version_cmd``."""
        check_oneshot_command(self.config.command, self.config.source)
        _check_program(expand_static(self.config.command[:1], self._extra())[0], self.config.cwd, self.config.source,
                       self._env())
        self.info = self._resolve_info({})
        return self.info

    def verify(self, subject: Subject, *, timeout: float | None = None) -> Answer:
        """Run the command on the subject's files; read the verdict from the exit status."""
        if self.info is None:
            raise RuntimeError("start() the verifier first")
        deadline = timeout or self.config.timeout_s
        with materialise(subject, self.info.profile, self._workdir()) as inputs:
            argv = expand(self.config.command, inputs, self._extra())
            try:
                done = run_bounded(argv, cwd=self.config.cwd, env=self._env(), tag=self.tag, timeout=deadline,
                                   max_data=self._max_data())
            except OSError as exc:
                return Answer(Actual.ERROR, None, f"cannot run {argv[0]}: {exc.strerror}")
        elapsed, code = done.elapsed_ms, done.status
        if done.overflowed:
            return Answer(Actual.ERROR, None, f"wrote more than {MAX_OUTPUT_BYTES} bytes of output (killed)", elapsed)
        if done.timed_out or code is None:
            return Answer(Actual.HANG, None, f"no exit within {deadline:g} s (killed)", elapsed)
        last = _last_line(done.stdout.last_line())
        match = _VERDICT_LINE.match(last)
        # The exit status is the verdict; a verdict line's reason counts only when the line says the same verdict.
        said = {0: "ACCEPT", 1: "REJECT"}.get(code if code is not None else -1)
        reason = match.group(2) if match and match.group(1) == said else None
        detail = last or _last_line(done.stderr.last_line())
        if code == 0:
            return Answer(Actual.ACCEPT, reason, detail, elapsed)
        if code == 1:
            return Answer(Actual.REJECT, reason, detail, elapsed)
        output = f"; {detail}" if detail else ""
        if code < 0:
            return Answer(Actual.CRASH, None, f"killed by {_signal_name(-code)}{output}", elapsed)
        if 128 < code < 160:
            return Answer(Actual.CRASH, None, f"exit status {code} ({_signal_name(code - 128)} in the "
                                              f"command's child){output}", elapsed)
        return Answer(Actual.ERROR, None, f"exit status {code} (0 = ACCEPT, 1 = REJECT){output}", elapsed)


# -- persistent --------------------------------------------------------------------------------

class _Timeout(Exception):  # noqa: N818 - internal control flow
    pass


class _Eof(Exception):  # noqa: N818 - internal control flow
    def __init__(self, unread: bool = False) -> None:
        super().__init__()
        self.unread = unread
        """The process read no byte of the request: it ended before it took it."""


NOT_RESTARTED = "verifier not restarted"
"""How the detail of a persistent verifier's ERROR begins when the case never reached a process: past
``max_restarts``."""
RESTART_FAILED = "restart failed"
"""How the detail of a persistent verifier's ERROR begins when its process did not start again for the case."""


class PersistentVerifier(Verifier):
    """``persistent`` mode: a JSON Lines process, restarted after a crash, hang or garbled answer.

    Its stderr is a pipe read while an answer is awaited; a process that writes more than
    :data:`~hsmsim.harness.processes.MAX_OUTPUT_BYTES` to it is killed (ERROR, restarted).
    """

    def __init__(self, config: AdapterConfig, argv: tuple[str, ...] | None = None) -> None:
        super().__init__(config)
        self._argv = argv or config.command
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = bytearray()
        """What the process wrote to stdout that no answer took yet."""
        self._scanned = 0
        """How much of the buffer is known to hold no end of line: each byte is looked at once."""
        self._dropped = 0
        """Bytes of blank lines dropped since the request being answered was sent."""
        self._stderr = OutputTail()
        self._stderr_open = False
        self._starts = 0
        self._answered: str | None = None
        """The id of the last request this process answered."""
        self._written = 0
        """Bytes of the request being sent that are in the pipe to stdin."""
        self.restarts = 0
        """How many times the process was started again after the first start."""

    # process management
    def _spawn(self) -> Mapping[str, object]:
        self._starts += 1
        if self._starts > 1:
            self.restarts += 1
        argv = expand_static(self._argv, self._extra())
        try:
            self._proc = subprocess.Popen(argv, cwd=self.config.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, bufsize=0, env={**self._env(), TAG_ENV: self.tag},
                                          start_new_session=True)
        except OSError as exc:
            raise VerifierStartError(f"{self.name}: cannot run {argv[0]}: {exc.strerror}") from exc
        bound_data_segment(self._proc.pid, self._max_data())
        assert self._proc.stdin is not None
        os.set_blocking(self._proc.stdin.fileno(), False)  # requests are written within their deadline (_send)
        self._buffer.clear()
        self._scanned = 0
        self._answered = None
        self._stderr = OutputTail()
        self._stderr_open = True
        try:
            reply = self._exchange({"op": "hello"}, self.config.hello_timeout_s, "the hello")
        except (_Timeout, _Eof, ValueError) as exc:
            why = {"_Timeout": f"no hello within {self.config.hello_timeout_s:g} s",
                   "_Eof": "exited before answering hello"}.get(type(exc).__name__, str(exc))
            stderr = self._stop()
            raise VerifierStartError(f"{self.name}: {why}{'; stderr: ' + stderr if stderr else ''}") from None
        return reply

    def _stop(self) -> str:
        """Kill the process (if any) and all it started; return the tail of its stderr."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            kill_group_and_tagged(proc, self.tag)
            if proc.stderr:
                drain(proc.stderr.fileno(), self._stderr, max(0, MAX_OUTPUT_BYTES + 1 - self._stderr.total))
                proc.stderr.close()
            if proc.stdout:
                proc.stdout.close()
        return one_line(_last_line(self._stderr.last_line()), 200)

    def _read_stderr(self, fd: int) -> None:
        """Take what stderr holds now; raises ValueError past the output cap."""
        self._stderr_open = drain(fd, self._stderr, MAX_OUTPUT_BYTES + 1 - self._stderr.total)
        if self._stderr.total > MAX_OUTPUT_BYTES:
            raise ValueError(f"wrote more than {MAX_OUTPUT_BYTES} bytes to stderr")

    def _pump(self, deadline: float, to_write: memoryview | None = None) -> int:
        """Wait until the deadline for output (read into the buffer and the stderr tail) or, with ``to_write``, for
        room in stdin; returns how many bytes of ``to_write`` were written. Raises _Timeout, _Eof or ValueError.

        A verifier that does not read its stdin while it writes answers cannot block the harness either way."""
        assert self._proc is not None and self._proc.stdout is not None and self._proc.stderr is not None
        assert self._proc.stdin is not None
        out, err, into = self._proc.stdout.fileno(), self._proc.stderr.fileno(), self._proc.stdin.fileno()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Timeout
        readable, writable, _ = select.select([out, err] if self._stderr_open else [out],
                                              [into] if to_write is not None else [], [], remaining)
        if not readable and not writable:
            raise _Timeout
        if err in readable:
            self._read_stderr(err)
        if out in readable:
            chunk = os.read(out, 65536)
            if not chunk:
                raise _Eof
            self._buffer += chunk
            if self._dropped + len(self._buffer) > MAX_LINE_BYTES:
                raise ValueError(f"answer line {'and the blank lines before it ' if self._dropped else ''}longer "
                                 f"than {MAX_LINE_BYTES} bytes")
        if to_write is None or into not in writable:
            return 0
        try:
            return os.write(into, to_write)
        except BlockingIOError:
            return 0
        except (BrokenPipeError, ConnectionResetError):
            raise _Eof from None

    def _send(self, data: bytes, deadline: float) -> None:
        """Write ``data`` to stdin by the deadline; raises _Timeout, _Eof or ValueError."""
        left = memoryview(data)
        self._written = 0
        while left:
            written = self._pump(deadline, left)
            self._written += written
            left = left[written:]

    def _request_unread(self) -> bool:
        """True when the process read no byte of the request being sent: they are all still in the pipe (which
        keeps them after the process has gone), or none was written."""
        assert self._proc is not None and self._proc.stdin is not None
        if not self._written:
            return True
        try:
            pending = struct.unpack("i", fcntl.ioctl(self._proc.stdin.fileno(), termios.FIONREAD, bytes(4)))[0]
        except OSError:
            return False
        return bool(pending >= self._written)

    def _next_line(self, deadline: float) -> bytes:
        """The next line of stdout that is not blank, stripped, read by the deadline; the blank lines before it are
        dropped. Linear in what is read: runs of blank lines go at C speed, and no byte is searched twice for the end
        of its line. Raises _Timeout, _Eof or ValueError (past :data:`MAX_LINE_BYTES`, blank lines included)."""
        while True:
            text = _NOT_BLANK.search(self._buffer)
            if text is None:
                self._dropped += len(self._buffer)
                self._buffer.clear()
                self._scanned = 0
            else:
                if text.start():
                    self._dropped += text.start()
                    del self._buffer[:text.start()]
                    self._scanned = 0
                end = self._buffer.find(b"\n", self._scanned)
                if end >= 0:
                    line = bytes(self._buffer[:end]).rstrip()
                    del self._buffer[:end + 1]
                    self._scanned = 0
                    return line
                self._scanned = len(self._buffer)
            self._pump(deadline)

    def _unsolicited(self, what: str) -> str:
        """Why output that was there before the request was all written is refused: no answer can come before its
        request, so it is the previous request's second answer, or a line nobody asked for."""
        line = bytes(self._buffer).strip().partition(b"\n")[0]
        try:
            data = parse_json(line)
        except ValueError:  # not (yet) a whole JSON line: shown as it is
            data = None
        if self._answered is not None and isinstance(data, dict) and data.get("id") == self._answered:
            return f"answered the previous request ({self._answered!r}) a second time"
        return f"wrote a line before {what} was sent (no request asked for it): " \
               f"{one_line(line.decode('utf-8', 'replace'), 120)}"

    def _exchange(self, request: Mapping[str, object], timeout: float, what: str) -> Mapping[str, object]:
        """Send one request line (``what`` names it in errors) and read one JSON object; raises _Timeout, _Eof or
        ValueError.

        Output read before the request is all written (it waited in the pipe since the hello or the last answer)
        cannot answer it and is refused; that check costs no system call, as the writes read stdout first."""
        assert self._proc is not None and self._proc.stdin is not None
        deadline = time.monotonic() + timeout
        if self._proc.stdin.closed:
            raise _Eof
        self._dropped = 0
        try:
            self._send(json.dumps(request).encode() + b"\n", deadline)
            if self._buffer and _NOT_BLANK.search(self._buffer):
                raise ValueError(self._unsolicited(what))
            line = self._next_line(deadline)
        except _Eof:
            raise _Eof(self._request_unread()) from None
        try:
            reply = parse_json(line)
        except JsonDepthError:
            raise ValueError("answered JSON that nests too deeply to read") from None
        except json.JSONDecodeError:
            raise ValueError(f"answered a line that is not JSON: {one_line(line.decode('utf-8', 'replace'), 120)}") \
                from None
        except ValueError as exc:  # JSON, but beyond what Python reads (an integer of more than 4,300 digits)
            raise ValueError(f"answered JSON that cannot be read: {one_line(str(exc), 120)}") from None
        if not isinstance(reply, dict):
            raise ValueError(f"answered {type(reply).__name__}, not a JSON object")
        return reply

    def _death(self, when: str = "") -> str:
        """Why the process is gone (``verifier process exited with status 0``, then ``when`` and the tail of its
        stderr), once it has exited (or 2 s passed) and everything it started is killed."""
        proc = self._proc
        try:
            code = proc.wait(timeout=2) if proc is not None else None
        except subprocess.TimeoutExpired:
            code = None
        stderr = self._stop()
        if code is None:
            how = "closed its stdout"
        elif code < 0:
            how = f"killed by {_signal_name(-code)}"
        else:
            how = f"exited with status {code}"
        return f"verifier process {how}{when}{'; stderr: ' + stderr if stderr else ''}"

    def start(self) -> VerifierInfo:
        """Spawn the process and exchange the hello; raises :class:`VerifierStartError`."""
        _check_program(expand_static(self._argv[:1], self._extra())[0], self.config.cwd, self.config.source,
                       self._env())
        try:
            hello = self._spawn()
        except VerifierStartError:
            self.close()
            raise
        self.info = self._resolve_info(hello)
        return self.info

    def verify(self, subject: Subject, *, timeout: float | None = None) -> Answer:
        """Send one ``verify`` request; restart the process first if the last one died or hung.

        A process that ended before it read the request (it exited after its last answer) is not blamed for this
        vector: it is restarted (a restart like any other, within ``max_restarts``) and the new one is asked."""
        if self.info is None:
            raise RuntimeError("start() the verifier first")
        deadline = timeout or self.config.timeout_s
        gone = ""  # why the last process was not there to read this request
        if self._proc is not None and self._proc.poll() is not None:
            gone = self._death(" before this request")
        with materialise(subject, self.info.profile, self._workdir()) as inputs:
            request = {"op": "verify", "id": subject.id, "format": subject.format, "profile": self.info.profile,
                       "features": list(subject.features), "inputs": inputs.to_json()}
            while True:
                if self._proc is None:
                    if self.restarts >= self.config.max_restarts:
                        return Answer(Actual.ERROR, None, f"{NOT_RESTARTED}: it died {self.restarts + 1} "
                                                          f"times (max_restarts = {self.config.max_restarts})"
                                                          f"{'; ' + gone if gone else ''}")
                    try:
                        self._spawn()
                    except VerifierStartError as exc:
                        self._stop()
                        return Answer(Actual.ERROR, None, f"{RESTART_FAILED}: {exc}")
                start = time.perf_counter()
                try:
                    reply = self._exchange(request, deadline, "this request")
                except _Timeout:
                    self._stop()
                    return Answer(Actual.HANG, None, f"no answer within {deadline:g} s (process killed, will "
                                                     "restart)", (time.perf_counter() - start) * 1000)
                except _Eof as eof:
                    if eof.unread:
                        gone = self._death(" before it read this request")
                        continue
                    elapsed = (time.perf_counter() - start) * 1000
                    return Answer(Actual.CRASH, None, self._death() + " (will restart)", elapsed)
                except ValueError as exc:
                    self._stop()
                    return Answer(Actual.ERROR, None, f"{exc} (process restarted)",
                                  (time.perf_counter() - start) * 1000)
                break
            elapsed = (time.perf_counter() - start) * 1000
        answered, previous = reply.get("id"), self._answered
        if answered != subject.id:
            self._stop()
            if answered is not None and answered == previous:
                return Answer(Actual.ERROR, None, f"answered the previous request ({previous!r}) a second time "
                                                  "(process restarted)", elapsed)
            shown = repr(answered) if isinstance(answered, str | int | None) else f"a {type(answered).__name__}"
            return Answer(Actual.ERROR, None, f"answered id {shown} to a request for {subject.id!r}", elapsed)
        if self._buffer and _NOT_BLANK.search(self._buffer):  # a second line already came with the answer
            self._stop()
            return Answer(Actual.ERROR, None, "answered this request with more than one line (process restarted)",
                          elapsed)
        self._answered = subject.id
        answer = response_answer(reply)
        return Answer(answer.verdict, answer.reason, answer.detail, elapsed)

    def close(self) -> None:
        """Close stdin (a well-behaved verifier exits on EOF), then kill what is left and remove the scratch
        directory, whatever interrupts the wait for a clean exit (a second Ctrl-C)."""
        try:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                try:
                    if proc.stdin:
                        proc.stdin.close()
                    proc.wait(timeout=1)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            try:
                self._stop()
            finally:
                super().close()


def open_verifier(config: AdapterConfig) -> Verifier:
    """A (not yet started) verifier for the adapter's mode."""
    if config.mode == "python":
        if config.isolate:
            assert config.entry is not None
            argv = [sys.executable, "-m", "hsmsim.harness.shim", config.entry]
            for path in config.pythonpath:
                argv += ["--pythonpath", path]
            if config.hello:
                argv += ["--hello", config.hello]
            return PersistentVerifier(config, tuple(argv))
        return PythonVerifier(config)
    if config.mode == "oneshot":
        return OneshotVerifier(config)
    if config.mode == "persistent":
        return PersistentVerifier(config)
    raise AdapterConfigError(f"{config.source}: unknown mode {config.mode!r}")
