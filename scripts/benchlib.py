"""The timing primitives and the row every bench figure is printed as."""

from __future__ import annotations

import functools
import importlib
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BYTECODE_CACHE = Path(__file__).resolve().parents[1] / "build" / "bench-pycache"


def installed_environment() -> dict[str, str]:
    """This process's environment for a fresh Python process the bench times, with bytecode cached as an
    installed package has it (pip compiles it at install): where ``PYTHONDONTWRITEBYTECODE`` is set, as in this
    project's sandboxes, every such process would compile each hsmsim module it imports (80 ms of a command's
    start-up, seconds under pytest's assertion rewriting). The cache is written under ``build/``, not beside
    the sources."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(BYTECODE_CACHE)}


@dataclass(frozen=True)
class Row:
    """One bench figure: wall (and CPU) seconds, the goal it is held to, and how it compares."""

    label: str
    seconds: float
    cpu: float | None = None
    """CPU seconds of this process for the same work (``time.process_time``): on a shared machine the
    wall figure grows with the load, the CPU figure much less."""
    goal: float | None = None
    """Upper bound in seconds; None when the figure has no goal (it is informative)."""
    goal_text: str = ""
    """How the goal reads, e.g. ``<= 1 ms`` or ``<= 3x floor``."""
    note: str = ""


@dataclass(frozen=True)
class Sample:
    """Median wall and CPU seconds of one call."""

    wall: float
    cpu: float


def cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have been waited for (worker processes, subprocesses)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(fn: Callable[[], object], repeat: int, per: int = 1,
            clock: Callable[[], float] = time.process_time) -> Sample:
    """Median wall and CPU time of ``repeat`` calls of ``fn`` (after one untimed warm-up call), divided by ``per``;
    the CPU time is read from ``clock`` (:func:`cpu_with_children` to count the processes ``fn`` waits for)."""
    return measure_interleaved({"": fn}, repeat, {"": per}, clock)[""]


def measure_interleaved(fns: dict[str, Callable[[], object]], rounds: int, per: dict[str, int],
                        clock: Callable[[], float] = time.process_time) -> dict[str, Sample]:
    """:func:`measure` of each of ``fns`` (divided by its ``per``), timed round by round: every round times
    each function once, so a slow spell of a shared machine stretches one call of many functions rather than
    every call of one."""
    for fn in fns.values():
        fn()
    walls: dict[str, list[float]] = {name: [] for name in fns}
    cpus: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            cpu, start = clock(), time.perf_counter()
            fn()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(clock() - cpu)
    return {name: Sample(statistics.median(walls[name]) / per[name], statistics.median(cpus[name]) / per[name])
            for name in fns}


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn``, after one untimed warm-up call."""
    return measure(fn, repeat).wall


def runs_note(count: int) -> str:
    """How many runs a row's figure comes from, for a row measured other than the table's ``repeat`` times."""
    return "1 run" if count == 1 else f"median of {count}"


# The C calls that compute a signature: a private key's ``sign`` and cryptography's builders (the
# certificate/CSR/CRL builders sign inside one Rust call).
_SIGNING_C_CALLS = {"create_x509_certificate", "create_x509_csr", "create_x509_crl", "create_ocsp_response",
                    "sign_and_serialize"}


def is_signing_call(name: str, owner: object) -> bool:
    """A C call that computes a signature: a private key's ``sign`` or one of cryptography's signing builders."""
    if name == "sign":
        return "PrivateKey" in type(owner).__name__
    return name in _SIGNING_C_CALLS


def is_checking_call(name: str, owner: object) -> bool:
    """A signature check or a private-key decryption: the cryptography a verifier cannot skip."""
    if name == "verify":
        return "PublicKey" in type(owner).__name__
    if name == "decrypt":
        return "PrivateKey" in type(owner).__name__
    return name == "verify_directly_issued_by"


PYTHON_SIGNING = (("hsmsim.pki.hss", "HssKey", "sign"),)
"""Signing primitives written in Python, so no C call shows them: HSS/LMS (the hash chains are the cost)."""
PYTHON_CHECKING = (("hsmsim.pki.hss", None, "hss_verify"),)
"""Signature checks written in Python: HSS/LMS."""


class CCallTimer:
    """Wall and CPU seconds spent inside C calls ``match(name, owner)`` selects, and inside the Python primitives
    ``python`` names (module, class or None, function), while active (``with``); nested matches count once."""

    def __init__(self, match: Callable[[str, object], bool],
                 python: tuple[tuple[str, str | None, str], ...] = ()) -> None:
        self._match = match
        self._python = python
        self._patched: list[tuple[object, str, object]] = []
        self._depth = 0
        self._start = self._start_cpu = 0.0
        self.reset()

    def _timed(self, original: Callable[..., object]) -> Callable[..., object]:
        """``original`` counted as one primitive call, with the profiler off inside it (its per-call hook would
        otherwise inflate a loop of thousands of hashes)."""

        @functools.wraps(original)
        def timed(*args: object, **kwargs: object) -> object:
            if self._depth:
                return original(*args, **kwargs)
            sys.setprofile(None)
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - start
                self.cpu += time.process_time() - start_cpu
                self.count += 1
                sys.setprofile(self._profile)

        return timed

    def _patch(self) -> None:
        """Replace each Python primitive by its timed self: on its class, or in every loaded module that holds the
        function (a format imports it by name)."""
        for module_name, class_name, name in self._python:
            module = importlib.import_module(module_name)
            if class_name is not None:
                owner = getattr(module, class_name)
                original = getattr(owner, name)
                self._patched.append((owner, name, original))
                setattr(owner, name, self._timed(original))
                continue
            original = getattr(module, name)
            timed = self._timed(original)
            for loaded in list(sys.modules.values()):
                if getattr(loaded, name, None) is original:
                    self._patched.append((loaded, name, original))
                    setattr(loaded, name, timed)

    def reset(self) -> None:
        """Forget what was measured."""
        self.wall = self.cpu = 0.0
        self.count = 0

    def _profile(self, frame: object, event: str, arg: object) -> None:
        if event not in ("c_call", "c_return", "c_exception"):
            return
        if not self._match(getattr(arg, "__name__", ""), getattr(arg, "__self__", None)):
            return
        if event == "c_call":
            if self._depth == 0:
                self._start, self._start_cpu = time.perf_counter(), time.process_time()
            self._depth += 1
            return
        self._depth -= 1
        if self._depth == 0:
            self.wall += time.perf_counter() - self._start
            self.cpu += time.process_time() - self._start_cpu
            self.count += 1

    def __enter__(self) -> CCallTimer:
        self._patch()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()


class CsrSelfChecks:
    """The CSR self-signature checks of the verifications run while active (``with``): ``is_signature_valid`` is a
    property, which no C-call hook sees, so the CSRs the verifiers load are recorded (hsmsim loads a CSR only to
    check it) and :meth:`cpu` times that check on each, apart from the loading."""

    def __init__(self) -> None:
        self.loaded: list[tuple[Callable[[bytes], Any], bytes]] = []
        self._saved: dict[str, Callable[[bytes], Any]] = {}

    def __enter__(self) -> CsrSelfChecks:
        from cryptography import x509

        for name in ("load_pem_x509_csr", "load_der_x509_csr"):
            load = self._saved[name] = getattr(x509, name)

            def recording(data: bytes, *args: Any, load: Callable[..., Any] = load) -> Any:
                self.loaded.append((load, bytes(data)))
                return load(data, *args)

            setattr(x509, name, recording)
        return self

    def __exit__(self, *exc: object) -> None:
        from cryptography import x509

        for name, load in self._saved.items():
            setattr(x509, name, load)

    def cpu(self) -> float:
        """CPU seconds of the recorded CSRs' self-signature checks (each on a freshly loaded object)."""
        total = 0.0
        for load, data in self.loaded:
            csr = load(data)
            start = time.process_time()
            _ = csr.is_signature_valid
            total += time.process_time() - start
        return total


def signing_cpu(fn: Callable[[], object]) -> tuple[float, int]:
    """CPU seconds inside the signing calls of one call of ``fn``, and how many signatures it computed."""
    with CCallTimer(is_signing_call, PYTHON_SIGNING) as signing:
        fn()
    return signing.cpu, signing.count


BENCH_TIME = datetime(2025, 6, 1, tzinfo=UTC)
"""The attestation time of the bench's attestations."""


def bench_attestation(format_name: str, spec: str,
                      parameters: Mapping[str, object] | None = None) -> Callable[[], Any]:
    """``Hsm.attest`` of a ``spec`` key (soft keystore seeded ``bench``) on the ``format_name`` device seeded
    ``bench``, at :data:`BENCH_TIME` (with the format's ``parameters``), called once (warm) and returned as a call
    that returns the Evidence; raises HsmsimError when the device cannot attest such a key."""
    from hsmsim.device import Device
    from hsmsim.hsm import Hsm
    from hsmsim.keystore.base import KeySpec
    from hsmsim.keystore.soft import SoftKeyStore

    store = SoftKeyStore(seed="bench")
    store.generate(KeySpec.parse(spec), "bench", created=BENCH_TIME)
    attest = functools.partial(Hsm(Device.from_seed(format_name, "bench"), store).attest, "bench", format_name,
                               {**(parameters or {}), "attest_time": BENCH_TIME})
    attest()
    return attest
