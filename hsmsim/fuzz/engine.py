"""The fuzzing engine: plan reproducible cases, run them against a target, apply the oracles.

A campaign is a pure function of (format, seed, case index) over the corpus's goldens: case ``i`` draws its golden, its
1 to 3 operators and their sub-seeds from ``Random(f"{seed}:{i}")``, so any case replays alone
and ``--shard K/N`` (cases with ``i % N == K``) splits a campaign without overlap.

Oracles, per case:

* **specification** — the case is invalid by construction (a catalogue operator that must be
  rejected, not undone by re-signing) but the target accepts while the reference rejects;
* **differential** — the target's ACCEPT/REJECT differs from the reference verifier's;
* **robustness** — the target crashes, hangs, runs out of memory or answers malformed output. An
  in-process target also "runs out of memory" when one case grows its resident memory by more than
  :data:`MEMORY_BUDGET_BYTES` (a 100-byte bzip2 member that inflates to 128 MiB is a finding even on
  a machine that has the memory).

A case whose operators all applied but whose evidence cannot be built (one operator's deferred edit
finds what it needs removed by another) is skipped and counted (:class:`CaseBuildError`), never judged.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from hsmsim.formats import get_format, verify_guarded
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.mutate import MutationError
from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.verdict import Profile, Reason, Rejected, Verdict

HAVOC = "bytes.havoc"
_HAVOC_RATE = 0.05
_OP_COUNTS = (1, 2, 3)
_OP_WEIGHTS = (0.6, 0.3, 0.1)
_RESIGN_RATE = 0.5
# An operator whose target the earlier operators destroyed fails (a catalogue operator may even find
# its input unparseable: Rejected, or a certificate cryptography refuses, e.g. with an extension that an
# earlier operator duplicated); the case goes on without it.
_OPERATOR_FAILURES = (MutationError, Rejected, IndexError, KeyError, AssertionError, *CERT_PARSE_ERRORS)
FUZZ_PROFILE = Profile.STRUCTURAL
"""The profile the reference verifier judges fuzz cases under."""
MINIMISE_SECONDS = 60.0
"""How long one finding's minimisation may try candidates; past it, the smallest case so far is the finding."""
MEMORY_BUDGET_BYTES = 64 << 20
"""Most an in-process verifier's resident memory may grow on one case before the case is a MEMORY finding."""
REFERENCE_TIMEOUT_S = 10.0
"""How long the reference verifier may take on one case before it is a HANG."""


class CaseBuildError(Exception):
    """The case's evidence could not be built: an operator's edit, made when the bench is re-signed or rendered,
    found what it needs undone by another operator. The case is skipped and counted, not judged."""

    def __init__(self, case: FuzzCase, exc: Exception) -> None:
        operators = "+".join(name for name, _ in case.operators)
        self.why = f"{operators}: {type(exc).__name__}: {str(exc)[:120]}"
        """What the summary counts the case under: its operators and the error."""
        super().__init__(f"case {case.index}: {self.why}")


@dataclass(frozen=True)
class TargetAnswer:
    """What a fuzz target said about one case: ACCEPT, REJECT, CRASH, HANG, MEMORY, ERROR (or SKIPPED).

    The fuzzer's counterpart of the conformance harness's :class:`hsmsim.harness.model.Answer`, with
    MEMORY for an in-process verifier that hit the worker's address-space bound or grew its resident
    memory past :data:`MEMORY_BUDGET_BYTES` on the case; the harness judges
    an answer into an ``Outcome``, the fuzzer into a finding (:func:`classify`).
    """

    verdict: str
    reason: str | None = None
    detail: str = ""


class Target(Protocol):
    """A verifier under test."""

    @property
    def name(self) -> str:
        """The verifier's name."""
        ...

    @property
    def packed(self) -> bool:
        """True when it needs the vendor's container (zip, gzip) rather than loose files."""
        ...

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        """Verify case ``case_id`` (``<format>::fuzz::<name>``); never raises (failures become CRASH/HANG/ERROR)."""
        ...

    def close(self) -> None:
        """Release processes or handles."""
        ...


class _Hang(Exception):  # noqa: N818 - internal control flow for the in-process time bound
    pass


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise :class:`_Hang` in the main thread after ``seconds`` (no-op outside the main thread).

    On leaving, the timer is disarmed and the previous SIGALRM handler restored, even when the alarm comes due
    while the block is ending: from then on it is ignored instead of raising out of the clean-up.
    """
    armed = True

    def on_alarm(_signum: int, _frame: object) -> None:
        if armed:
            raise _Hang

    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            armed = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


_CLEAR_REFS = "/proc/self/clear_refs"
_STATM = "/proc/self/statm"
_STATUS = "/proc/self/status"
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Read and written with bare os calls on descriptors opened once per process: this bookkeeping runs twice per
# case, and opening a /proc path, buffered text I/O and a regex cost more than many a verifier's whole answer. A
# read at offset 0 makes the kernel write the file afresh, so a kept descriptor reads the values of the moment.
_proc_fds: dict[str, int] = {}
"""This process's descriptors of :data:`_CLEAR_REFS`, :data:`_STATM` and :data:`_STATUS`, by path; a forked
child drops its copies of the parent's (they name the parent's files) and opens its own."""


def _proc_fd(path: str, flags: int) -> int:
    """A descriptor of ``path`` (``/proc/self/...``) kept open for this process; raises OSError."""
    fd = _proc_fds.get(path)
    if fd is None:
        fd = _proc_fds[path] = os.open(path, flags)
    return fd


def _forget_parent_proc_fds() -> None:
    for fd in _proc_fds.values():
        os.close(fd)
    _proc_fds.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_proc_fds)


def _reset_resident_peak() -> int | None:
    """Reset this process's peak resident set size to the current one (Linux); return it in bytes, or None."""
    try:
        os.write(_proc_fd(_CLEAR_REFS, os.O_WRONLY), b"5")
        return int(os.pread(_proc_fd(_STATM, os.O_RDONLY), 256, 0).split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


def _resident_peak() -> int:
    """This process's peak resident set size in bytes since the last reset (``VmHWM``; raises ValueError, or
    OSError when ``/proc`` cannot be read)."""
    status = os.pread(_proc_fd(_STATUS, os.O_RDONLY), 16384, 0)
    start = status.find(b"\nVmHWM:")
    if start < 0:
        raise ValueError(f"no VmHWM in {_STATUS}")
    end = status.find(b"\n", start + 1)
    value = status[start + 7:end if end >= 0 else len(status)].split()
    if len(value) != 2 or value[1] != b"kB":
        raise ValueError(f"VmHWM in {_STATUS} is not in kB")
    return int(value[0]) * 1024


def verdict_answer(run: Callable[[], object], timeout: float,
                   other: Callable[[object], TargetAnswer] | None = None) -> TargetAnswer:
    """Run an in-process verifier call: a Verdict becomes ACCEPT/REJECT, any exception CRASH.

    HANG past ``timeout``; MEMORY on a MemoryError or when the call grew the resident memory by more
    than :data:`MEMORY_BUDGET_BYTES` (measured where the kernel can reset the peak, i.e. on Linux).
    A value that is not a Verdict is ERROR, or what ``other`` makes of it (an exception there is CRASH).
    """
    before = _reset_resident_peak()
    try:
        with time_bound(timeout):
            verdict = run()
    except _Hang:
        return TargetAnswer("HANG", None, f"no verdict within {timeout} s")
    except MemoryError:
        return TargetAnswer("MEMORY", None, "memory bound exceeded")
    except Exception as exc:  # noqa: BLE001 - an exception out of verify() is exactly what we look for
        return TargetAnswer("CRASH", None, f"{type(exc).__name__}: {exc}"[:300])
    if before is not None and (grown := _resident_peak() - before) > MEMORY_BUDGET_BYTES:
        # The symptom is the text before the first colon (see symptom()): keep the varying number after it.
        return TargetAnswer("MEMORY", None, f"memory budget exceeded: resident memory grew by {grown >> 20} MiB on "
                                           f"one case (budget {MEMORY_BUDGET_BYTES >> 20} MiB)")
    if not isinstance(verdict, Verdict) and other is not None:
        try:
            return other(verdict)
        except Exception as exc:  # noqa: BLE001 - a returned object whose str() raises, for one
            return TargetAnswer("CRASH", None, f"{type(exc).__name__}: {exc}"[:300])
    if not isinstance(verdict, Verdict):
        return TargetAnswer("ERROR", None, f"verifier returned {type(verdict).__name__}, not a Verdict")
    if verdict.reason is Reason.INTERNAL_ERROR:  # an exception verify_guarded caught: still a crash
        return TargetAnswer("CRASH", None, verdict.detail[:300])
    return TargetAnswer("ACCEPT" if verdict.accepted else "REJECT", verdict.reason.value, verdict.detail[:300])


@dataclass
class ReferenceTarget:
    """hsmsim's own reference verifier for the format, in-process."""

    format: str
    timeout: float = REFERENCE_TIMEOUT_S
    name: str = "reference"
    packed: bool = False

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        """The reference verdict, with exceptions and hangs turned into answers."""
        fmt = get_format(self.format)
        return verdict_answer(lambda: verify_guarded(fmt, evidence, trust, at=at, profile=profile), self.timeout)

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class FuzzCase:
    """A reproducible case: golden, operator names with their sub-seeds, the re-sign coin, havoc."""

    index: int
    golden: str
    operators: tuple[tuple[str, int], ...]
    resign: bool
    havoc: int | None = None

    def without(self, position: int) -> FuzzCase:
        """The same case with one operator dropped (for minimisation)."""
        ops = self.operators[:position] + self.operators[position + 1:]
        return FuzzCase(self.index, self.golden, ops, self.resign, self.havoc)


def plan_case(model: FuzzModel, campaign_seed: str, index: int) -> FuzzCase:
    """Case ``index`` of the campaign: a pure function of its arguments."""
    rng = random.Random(f"{campaign_seed}:{index}")
    golden = rng.choice(model.goldens)
    count = rng.choices(_OP_COUNTS, _OP_WEIGHTS)[0]
    usable = model.usable(golden)
    names = [op.name for op in rng.sample(usable, min(count, len(usable)))]
    operators = tuple((name, rng.getrandbits(32)) for name in names)
    resign = rng.random() < _RESIGN_RATE
    havoc = rng.getrandbits(32) if rng.random() < _HAVOC_RATE else None
    return FuzzCase(index, golden, operators, resign, havoc)


@dataclass(frozen=True)
class BuiltCase:
    """A case rendered to evidence, with what was actually applied."""

    case: FuzzCase
    evidence: Evidence
    applied: tuple[tuple[str, str], ...]
    invalid_by_construction: bool
    resigned: bool


def mutable_names(files: Mapping[str, bytes], fixed: frozenset[str]) -> list[str]:
    """The names of ``files`` a byte-level operator may change, sorted: all but the ``fixed`` ones (the verifier's
    configuration). Raises :class:`~hsmsim.MutationError` when there is none."""
    names = sorted(files.keys() - fixed)
    if not names:
        raise MutationError("no files outside the verifier's configuration")
    return names


def _havoc(evidence: Evidence, seed: int, fixed: frozenset[str]) -> tuple[Evidence, str]:
    rng = random.Random(seed)
    name = rng.choice(mutable_names(evidence.files, fixed))
    data = bytearray(evidence.files[name])
    for _ in range(rng.randint(1, 8)):
        if not data:
            break
        position = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            data[position] = rng.randrange(256)
        elif action == 1:
            del data[position:position + rng.randint(1, 16)]
        else:
            data[position:position] = rng.randbytes(rng.randint(1, 16))
    return Evidence(evidence.format, {**evidence.files, name: bytes(data)}, evidence.primary), name


def build_case(model: FuzzModel, case: FuzzCase, *, packed: bool) -> BuiltCase:
    """Apply the case's operators to a fresh golden; operators whose target is absent are skipped.

    Raises :class:`CaseBuildError` when re-signing or rendering fails on what the operators left.
    """
    bench = model.open(case.golden)
    applied: list[tuple[str, str]] = []
    stale = invalid = wants_resign = after_signing = False
    for name, subseed in case.operators:
        op = model.operator(name)
        try:
            path = op.apply(bench, random.Random(subseed))
        except _OPERATOR_FAILURES:
            continue
        applied.append((name, path))
        stale |= op.resign is False
        wants_resign |= op.resign is True
        after_signing |= op.after_signing
        invalid = op.invalidating and op.catalogue
    # Invalid by construction only when one catalogue defect was applied alone: stacked operators can
    # undo each other (a random one duplicates the certificate another removes, a catalogue one
    # replaces the whole attestation).
    invalid &= len(applied) == 1
    resign = not stale and (wants_resign or case.resign)
    try:
        if resign:
            model.resign(bench)
        evidence = model.render(bench, packed or case.havoc is not None)
    except _OPERATOR_FAILURES as exc:
        raise CaseBuildError(case, exc) from exc
    if case.havoc is not None:
        try:
            evidence, touched = _havoc(evidence, case.havoc, model.verifier_files)
        except MutationError:  # nothing but the verifier's configuration to mutate: skipped as an operator is
            pass
        else:
            applied.append((HAVOC, touched))
            invalid = False  # havoc can land anywhere, even in unsigned padding
            after_signing = True
    # Resigned only when the genuine key signed every change: not when the model cannot re-sign, nor when an
    # edit of the rendered evidence (an evidence-level operator, havoc) came after the signature.
    resigned = resign and model.resigns and not after_signing
    return BuiltCase(case, evidence, tuple(applied), invalid, resigned)


@dataclass(frozen=True)
class Finding:
    """One deduplicated finding with the smallest case that still shows it."""

    kind: str
    key: str
    built: BuiltCase
    target: TargetAnswer
    reference: TargetAnswer
    found_key: str = ""
    """The dedup key of the case before it was minimised (campaigns and merges keep, for each final key, the
    finding of the first such key in sorted order)."""

    @property
    def slug(self) -> str:
        """A stable short name: ``<kind>-<12 hex of the dedup key>``."""
        return f"{self.kind}-{hashlib.sha256(self.key.encode()).hexdigest()[:12]}"


ROBUSTNESS_VERDICTS = frozenset({"CRASH", "HANG", "MEMORY", "ERROR"})
"""The answers that are robustness findings whatever the case: the verifier failed to give a verdict."""


def classify(invalid_by_construction: bool, target: TargetAnswer, reference: TargetAnswer, *,
             self_test: bool) -> str | None:
    """The oracle that fires for a case (invalid by construction or not), or None: robustness for an answer that is no
    verdict, specification for an accepted defect, differential for another verdict than the reference's (SKIPPED,
    the verifier declining the case, is none of these)."""
    if target.verdict in ROBUSTNESS_VERDICTS:
        return "robustness"
    if invalid_by_construction and target.verdict == "ACCEPT" and (self_test or reference.verdict == "REJECT"):
        return "specification"
    if not self_test and target.verdict != reference.verdict and target.verdict != "SKIPPED":
        return "differential"  # a verifier that declines a case (SKIPPED) disagrees with no one
    return None


_VARYING = re.compile(r"0x[0-9a-f]+|\b[0-9a-f]*[0-9][0-9a-f]*\b|'[^']*'|\"[^\"]*\"", re.IGNORECASE)
_DETAIL_SYMPTOM_LIMIT = 80


def detail_symptom(detail: str) -> str:
    """The kind of failure a robustness finding's detail names, not the instance: the text before its first colon
    (an exception's type name, ``verifier process exited with status N``), each number, hex run and quoted value
    in it made ``#``, at most 80 characters. The detail is the verifier's own text: an offset or id in it must not
    make every case a finding of its own."""
    return _VARYING.sub("#", detail.split(":")[0])[:_DETAIL_SYMPTOM_LIMIT]


def symptom(kind: str, target: TargetAnswer, reference: TargetAnswer) -> str:
    """(oracle, verdict pair, reason, and for robustness :func:`detail_symptom`): what a finding shows, whatever
    operators produced it."""
    reason = target.reason if kind == "robustness" else reference.reason
    detail = detail_symptom(target.detail) if kind == "robustness" else ""
    return f"{kind}|{target.verdict}/{reference.verdict}|{reason}|{detail}"


def dedup_key(kind: str, built: BuiltCase, target: TargetAnswer, reference: TargetAnswer) -> str:
    """(operators, then :func:`symptom`): the identity of a finding."""
    operators = "+".join(sorted({name for name, _ in built.applied}))
    return f"{operators}|{symptom(kind, target, reference)}"


@dataclass
class CaseRunner:
    """Builds and judges cases for one (format, seed, target); reused for every case of a worker."""

    model: FuzzModel
    target: Target
    self_test: bool | None = None
    """The target is the reference verifier, so its answer is the reference's too (default: when it is a
    :class:`ReferenceTarget`)."""
    profile: Profile = FUZZ_PROFILE
    on_case: Callable[[], None] | None = None
    """Called as each case (one of a campaign's, or a candidate of a minimisation) starts: a worker's
    :func:`~hsmsim.harness.workers.mark_progress`, so the worker pool times each case rather than a whole task."""
    reference: ReferenceTarget = field(init=False)

    def __post_init__(self) -> None:
        self.reference = ReferenceTarget(self.model.format)
        self.trust = TrustAnchors({"root": self.model.anchors})
        if self.self_test is None:
            self.self_test = isinstance(self.target, ReferenceTarget)

    def judge(self, case: FuzzCase) -> tuple[BuiltCase, TargetAnswer, TargetAnswer, str | None]:
        """Build the case, run target and reference, and apply the oracles."""
        if self.on_case is not None:
            self.on_case()
        built = build_case(self.model, case, packed=self.target.packed)
        at = self.model.validation_time
        case_id = f"{self.model.format}::fuzz::case-{case.index}"
        answer = self.target.verify(built.evidence, self.trust, at, self.profile, case_id=case_id)
        reference = answer if self.self_test else self.reference.verify(built.evidence, self.trust, at, self.profile,
                                                                         case_id=case_id)
        return built, answer, reference, classify(built.invalid_by_construction, answer, reference,
                                                    self_test=bool(self.self_test))

    def probe(self, golden: str) -> TargetAnswer:
        """What the target says of the golden bundle ``golden`` itself, unmutated, under its vector id."""
        if self.on_case is not None:
            self.on_case()
        built = build_case(self.model, FuzzCase(0, golden, (), False), packed=self.target.packed)
        return self.target.verify(built.evidence, self.trust, self.model.validation_time, self.profile,
                                  case_id=self.model.golden_id(golden))

    def minimise(self, case: FuzzCase, kind: str, shown: str, judged: tuple[TargetAnswer, TargetAnswer],
                 *, budget: float = MINIMISE_SECONDS) -> tuple[BuiltCase, TargetAnswer, TargetAnswer]:
        """The smallest case with the same symptom (``shown``): drop operators and the havoc, then
        shrink values by trying other sub-seeds for each operator and keeping the one whose evidence
        differs least from the golden's.

        ``judged`` is what the target and the reference said of ``case`` when the oracle fired. What is
        returned is always a judgement on which the oracle fired with ``shown`` (a flaky target cannot turn
        the finding into another one), and no candidate is tried once ``budget`` seconds have passed (a
        target that hangs costs its timeout per candidate)."""
        give_up = time.monotonic() + budget

        def keeps(candidate: FuzzCase) -> tuple[BuiltCase, TargetAnswer, TargetAnswer] | None:
            if time.monotonic() > give_up:
                return None
            try:
                built, answer, reference, found = self.judge(candidate)
            except CaseBuildError:
                return None
            return (built, answer, reference) if found == kind and symptom(kind, answer, reference) == shown else None

        best = case
        result = (build_case(self.model, case, packed=self.target.packed), *judged)
        changed = True
        while changed:
            changed = False
            candidates = [best.without(i) for i in range(len(best.operators))] if len(best.operators) > 1 else []
            if best.havoc is not None:
                candidates.append(FuzzCase(best.index, best.golden, best.operators, best.resign, None))
            for candidate in candidates:
                kept = keeps(candidate)
                if kept is not None:
                    best, result, changed = candidate, kept, True
                    break
        golden = build_case(self.model, FuzzCase(best.index, best.golden, (), best.resign), packed=self.target.packed)
        size = _distance(golden.evidence, result[0].evidence)
        for position, (name, _) in enumerate(best.operators):
            for alternative in range(_SHRINK_TRIES):
                operators = (*best.operators[:position], (name, alternative), *best.operators[position + 1:])
                candidate = FuzzCase(best.index, best.golden, operators, best.resign, best.havoc)
                kept = keeps(candidate)
                if kept is not None and (distance := _distance(golden.evidence, kept[0].evidence)) < size:
                    best, result, size = candidate, kept, distance
        return result


_SHRINK_TRIES = 8


def _distance(golden: Evidence, mutated: Evidence) -> int:
    """How far ``mutated`` is from ``golden``: bytes that differ, plus length changes, over all files."""
    total = 0
    for name in golden.files.keys() | mutated.files.keys():
        a, b = golden.files.get(name, b""), mutated.files.get(name, b"")
        total += abs(len(a) - len(b)) + sum(x != y for x, y in zip(a, b, strict=False))
    return total


@dataclass
class CampaignStats:
    """Counters a campaign reports."""

    executed: int = 0
    """Cases built and judged."""
    seconds: float = 0.0
    operator_hits: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    """Cases that could not be built (not judged), by :attr:`CaseBuildError.why`."""

    @property
    def execs_per_second(self) -> float:
        """Cases per wall-clock second."""
        return self.executed / self.seconds if self.seconds else 0.0


def shard_indices(start: int, count: int, shard: tuple[int, int]) -> Iterator[int]:
    """The case indices of shard ``K/N`` among ``count`` cases from ``start`` (no overlap between shards)."""
    k, n = shard
    index = start + ((k - start) % n)
    while index < start + count:
        yield index
        index += n

