"""Run verifiers over the corpus: sanity probe, skips, judging, serial or parallel execution.

The same :class:`Session` runs cases for the CLI (serially, or in each worker of a process
pool) and for the pytest plugin (one per xdist worker), so both paths judge identically.

Order for one verifier (BetterTLS, tlsfuzzer): for each format it claims, the *sanity* golden
vector runs first; a verifier that does not accept it is stopped for that format with one
message and the format's other vectors are SKIPPED. Vectors of formats it does not claim, or
needing features it does not claim, are SKIPPED too. Every other vector is run and judged.

With more than one job every case, sanity probes included, runs in a worker process
(:mod:`hsmsim.harness.workers`): a verifier that kills its worker is a CRASH of that one case, and an
in-process verifier stuck where its own deadline cannot interrupt it (C code holding the GIL) gets its
worker killed once the pool's stall timeout passes: a HANG of that one case.
"""

from __future__ import annotations

import multiprocessing.util
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hsmsim.harness.adapters import Verifier, VerifierStartError, entry_module, open_verifier
from hsmsim.harness.config import AdapterConfig
from hsmsim.harness.model import (
    FAILING,
    Actual,
    Answer,
    CaseResult,
    Outcome,
    VerifierInfo,
    at_or_above,
    reason_code,
)
from hsmsim.harness.vectors import Corpus, Shard, Vector, load_corpus
from hsmsim.harness.waivers import Waiver, apply_waiver
from hsmsim.harness.workers import (
    StartMethod,
    WorkerDied,
    WorkerPool,
    frozen_heap,
    mark_progress,
    mark_unwatched,
    stall_timeout,
)
from hsmsim.model.vectors import Expected, Severity

ProgressFn = Callable[[CaseResult], None]


def classify(expected: Expected, expected_reason: str, answer: Answer) -> Outcome:
    """Judge one answer against the vector's expectation (before waivers).

    The reason is compared only when the verifier gave a :class:`hsmsim.verdict.Reason` code; a
    free-text reason (or none) leaves only the verdict to judge.
    """
    if answer.verdict is Actual.HANG:
        return Outcome.HANG
    if answer.verdict is Actual.CRASH:
        return Outcome.CRASH
    if answer.verdict is Actual.ERROR:
        return Outcome.ERROR
    if answer.verdict is Actual.SKIPPED:
        return Outcome.SKIPPED
    if expected is Expected.ACCEPTABLE:
        return Outcome.PASS
    if expected is Expected.VALID:
        return Outcome.PASS if answer.verdict is Actual.ACCEPT else Outcome.UNEXPECTED_REJECT
    if answer.verdict is Actual.ACCEPT:
        return Outcome.UNEXPECTED_ACCEPT
    code = reason_code(answer.reason)
    if code is not None and code.value != expected_reason:
        return Outcome.WRONG_REASON
    return Outcome.PASS


def judge(vector: Vector, info: VerifierInfo, answer: Answer, waivers: Mapping[str, Waiver]) -> CaseResult:
    """The :class:`CaseResult` of one answer, with the verifier's waiver applied."""
    expected, expected_reason = vector.expectation(info.profile)
    outcome = classify(expected, expected_reason, answer)
    outcome, note = apply_waiver(outcome, waivers.get(vector.id), expected, expected_reason, answer.verdict,
                                 answer.reason)
    return CaseResult(verifier=info.name, id=vector.id, format=vector.format, category=vector.category,
                      severity=vector.severity.value, expected=expected, expected_reason=expected_reason,
                      verdict=answer.verdict, reason=answer.reason, detail=answer.detail, outcome=outcome,
                      duration_ms=answer.duration_ms, waiver=note, flags=vector.flags)


def skip_reason(vector: Vector, info: VerifierInfo) -> str | None:
    """Why the verifier must not be asked about ``vector`` (format or features not claimed), or None."""
    if not info.claims_format(vector.format):
        return f"format {vector.format!r} not claimed by {info.name}"
    missing = [f for f in vector.features if f not in info.features]
    if missing:
        return f"needs feature(s) {', '.join(missing)} not claimed by {info.name}"
    return None


@dataclass(frozen=True)
class SanityCheck:
    """The sanity probe of one verifier for one format."""

    verifier: str
    format: str
    vector_id: str | None
    ok: bool
    message: str

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"format": self.format, "id": self.vector_id, "ok": self.ok, "message": self.message}

    @classmethod
    def from_json(cls, verifier: str, data: Mapping[str, object]) -> SanityCheck:
        """The inverse of :meth:`to_json`."""
        vector_id = data.get("id")
        return cls(verifier, str(data["format"]), None if vector_id is None else str(vector_id), bool(data["ok"]),
                   str(data.get("message", "")))

    @classmethod
    def of(cls, name: str, format_name: str, golden: Vector | None, result: CaseResult | None) -> SanityCheck:
        """The check made by running ``golden`` (None: the corpus has no golden to probe with)."""
        if golden is None or result is None:
            return cls(name, format_name, None, True, f"no golden {format_name} vector to probe with")
        ok = result.verdict is Actual.ACCEPT
        got = result.verdict.value + (f" {result.reason}" if result.reason else "")
        message = (f"{name} accepts the golden {golden.id}" if ok else
                   f"verifier {name!r} stopped for format {format_name!r}: it does not accept the golden "
                   f"vector {golden.id} (got {got}{': ' + result.detail if result.detail else ''})")
        return cls(name, format_name, golden.id, ok, message)


class Session:
    """Live verifiers of one process, started on first use; sanity results are cached per format."""

    def __init__(self, corpus: Corpus, configs: Iterable[AdapterConfig], *, timeout: float | None = None,
                 sanity: Mapping[tuple[str, str], SanityCheck] | None = None,
                 infos: Mapping[str, VerifierInfo] | None = None) -> None:
        self.corpus = corpus
        self.configs = {c.name: c for c in configs}
        self.timeout = timeout
        self._live: dict[str, Verifier] = {}
        self._infos: dict[str, VerifierInfo] = dict(infos or {})
        """Given: a worker judges with what the run's report says of each verifier, whatever its own start said."""
        self._sanity: dict[tuple[str, str], SanityCheck] = dict(sanity or {})
        self._golden: dict[tuple[str, str], CaseResult] = {}

    def verifier(self, name: str) -> Verifier:
        """The started verifier called ``name`` (raises on a start failure, see :mod:`adapters`)."""
        live = self._live.get(name)
        if live is None:
            live = open_verifier(self.configs[name])
            try:
                live.start()
            except BaseException:
                live.close()
                raise
            self._live[name] = live
        return live

    def info(self, name: str) -> VerifierInfo:
        """Identity and claims of the verifier called ``name`` (kept after :meth:`close`: asking again does not
        start the verifier again)."""
        info = self._infos.get(name)
        if info is None:
            info = self.verifier(name).info
            assert info is not None
            self._infos[name] = info
        return info

    def answer(self, name: str, vector_id: str) -> CaseResult:
        """Run and judge one vector, without sanity probe or skips (the caller decided it runs)."""
        vector = self.corpus.get(vector_id)
        answer = self.verifier(name).verify(vector, timeout=self.timeout)
        return judge(vector, self.info(name), answer, self.configs[name].waivers)

    def sanity(self, name: str, format_name: str) -> SanityCheck:
        """Run (once) the golden vector of ``format_name`` that the verifier's profile must accept."""
        key = (name, format_name)
        if key not in self._sanity:
            golden = self.corpus.sanity_vector(format_name, self.info(name).profile)
            result = None
            if golden is not None:
                result = self._golden[(name, golden.id)] = self.answer(name, golden.id)
            self._sanity[key] = SanityCheck.of(name, format_name, golden, result)
        return self._sanity[key]

    def sanity_checks(self, name: str) -> list[SanityCheck]:
        """Every sanity check made or preset for ``name``."""
        return [c for (n, _), c in self._sanity.items() if n == name]

    def skipped(self, name: str, vector: Vector, why: str) -> CaseResult:
        """A SKIPPED result for ``vector`` (not run)."""
        info = self.info(name)
        expected, expected_reason = vector.expectation(info.profile)
        return CaseResult(verifier=name, id=vector.id, format=vector.format, category=vector.category,
                          severity=vector.severity.value, expected=expected, expected_reason=expected_reason,
                          verdict=Actual.SKIPPED, reason=None, detail=why, outcome=Outcome.SKIPPED,
                          duration_ms=0.0, flags=vector.flags)

    def run_case(self, name: str, vector_id: str) -> CaseResult:
        """Run and judge one vector (sanity first, skips applied)."""
        vector = self.corpus.get(vector_id)
        info = self.info(name)
        why = skip_reason(vector, info)
        if why is not None:
            return self.skipped(name, vector, why)
        check = self.sanity(name, vector.format)
        golden = self._golden.get((name, vector.id))
        if golden is not None:
            return golden
        if not check.ok and check.vector_id != vector.id:
            return self.skipped(name, vector, check.message)
        return self.answer(name, vector_id)

    def close(self) -> None:
        """Stop every live verifier, each one even when stopping another raised (a Ctrl-C during its wait for a
        clean exit); the first such exception is raised once all are stopped."""
        live, self._live = list(self._live.values()), {}
        raised: BaseException | None = None
        for verifier in live:
            try:
                verifier.close()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once every verifier is stopped
                raised = raised or exc
        if raised is not None:
            raise raised


@dataclass(frozen=True)
class RunOptions:
    """What to run and how."""

    jobs: int = 1
    """Worker processes; 1 runs in this process."""
    timeout: float | None = None
    """Per-case deadline in seconds, overriding every adapter's ``timeout_s``."""
    formats: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    """Glob patterns on vector ids (``primus::attr::*``); empty runs everything."""
    strict_reasons: bool = False
    """Count WRONG_REASON as a failure."""
    fail_on: Severity | None = None
    """Only unexpected verdicts on vectors of this severity or a more severe one fail the run (None: all do)."""
    shard: Shard | None = None
    """Run only this shard of the selected vectors."""

    def to_json(self) -> dict[str, object]:
        """What the run selected and how it judges, as results files record it (``jobs`` and ``timeout`` aside)."""
        return {"formats": list(self.formats), "patterns": list(self.patterns),
                "shard": None if self.shard is None else str(self.shard), "strictReasons": self.strict_reasons,
                "failOn": None if self.fail_on is None else self.fail_on.value}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RunOptions:
        """The inverse of :meth:`to_json` (raises ValueError on a value it cannot read)."""
        formats, patterns = data.get("formats") or [], data.get("patterns") or []
        shard, fail_on = data.get("shard"), data.get("failOn")
        if not isinstance(formats, list) or not isinstance(patterns, list):
            raise ValueError("run.formats and run.patterns must be lists")
        return cls(formats=tuple(str(f) for f in formats), patterns=tuple(str(p) for p in patterns),
                   shard=None if shard is None else Shard.parse(str(shard)),
                   strict_reasons=bool(data.get("strictReasons", False)),
                   fail_on=None if fail_on is None else Severity(str(fail_on)))


def fails_run(result: CaseResult, *, strict_reasons: bool, fail_on: Severity | None, stopped: bool) -> bool:
    """True when ``result`` fails the run: a FAILING outcome (WRONG_REASON too with ``strict_reasons``).

    Under ``fail_on`` such an outcome counts only on a vector at or above that severity; an XPASS (a waiver to
    delete) and the golden vector of a failed sanity probe (``stopped``: a format left untested) always count.
    """
    bad = result.outcome in FAILING or (strict_reasons and result.outcome is Outcome.WRONG_REASON)
    return bad and (result.outcome is Outcome.XPASS or stopped or at_or_above(result.severity, fail_on))


@dataclass
class VerifierRun:
    """Everything one verifier produced in a run."""

    config: AdapterConfig
    info: VerifierInfo
    results: list[CaseResult]
    sanity: list[SanityCheck] = field(default_factory=list)
    stale_waivers: list[str] = field(default_factory=list)
    """Waivers naming vector ids the corpus does not have (they fail the run)."""
    strict_reasons: bool = False
    fail_on: Severity | None = None
    """See :attr:`RunOptions.fail_on`."""
    whole: bool = True
    """The results cover the run's whole selection, not one shard's (a shard may hold none of the formats a
    verifier claims)."""

    def failing(self) -> list[CaseResult]:
        """Results that fail the run (see :func:`fails_run`)."""
        stopped = {c.vector_id for c in self.sanity if not c.ok}
        return [r for r in self.results if fails_run(r, strict_reasons=self.strict_reasons, fail_on=self.fail_on,
                                                     stopped=r.id in stopped)]

    def unjudged_sanity_failures(self) -> list[SanityCheck]:
        """Failed sanity probes whose golden vector is not among the results (outside the selection or shard)
        and not waived: the format went untested, and nothing else in the results says so."""
        judged = {r.id for r in self.results}
        return [c for c in self.sanity
                if not c.ok and c.vector_id not in judged and c.vector_id not in self.config.waivers]

    def tested_nothing(self) -> bool:
        """True when every selected vector was SKIPPED (formats or features not claimed, or the verifier's own
        SKIPPED answers) in a whole run: a green run would say the verifier was tested when it was not."""
        return self.whole and bool(self.results) and all(r.outcome is Outcome.SKIPPED for r in self.results)

    @property
    def failed(self) -> bool:
        """True when this verifier makes the run fail."""
        return bool(self.failing() or self.stale_waivers or self.unjudged_sanity_failures() or self.tested_nothing())

    def counts(self) -> dict[str, int]:
        """Results per outcome (every outcome present, zeros included)."""
        counts = {o.value: 0 for o in Outcome}
        for result in self.results:
            counts[result.outcome.value] += 1
        return counts


@dataclass
class ConformanceRun:
    """The results of every verifier over one corpus selection."""

    corpus: Corpus
    vectors: list[Vector]
    verifiers: list[VerifierRun]
    options: RunOptions = field(default_factory=RunOptions)

    @property
    def failed(self) -> bool:
        """True when any verifier has an unexpected verdict or a stale waiver."""
        return any(v.failed for v in self.verifiers)


def unknown_waivers(config: AdapterConfig, corpus: Corpus) -> list[str]:
    """Messages for waivers that name ids the corpus does not hold."""
    return [f"waiver for {vector_id!r} names no vector of suite {corpus.suite_version} (stale)"
            for vector_id in sorted(config.waivers) if vector_id not in corpus]


# -- running cases -----------------------------------------------------------------------------

CaseRunner = Callable[[list[tuple[str, str]]], Iterator[CaseResult]]
"""Runs (verifier name, vector id) pairs and yields their results, in any order."""

_WORKER: Session | None = None
_BATCH_MAX = 16
"""Most cases sent to a worker in one message: enough to spare the round trips, few enough that the
workers finish together."""


@dataclass(frozen=True)
class _WorkerCorpus:
    """The run's corpus as a worker gets it: a forked worker shares the parent's copy; a spawned one, which
    gets its initializer's arguments pickled, reads it again from its root (cheaper than pickling it)."""

    corpus: Corpus

    def __reduce__(self) -> tuple[Callable[[str], _WorkerCorpus], tuple[str]]:
        return _reload, (str(self.corpus.root),)


def _reload(root: str) -> _WorkerCorpus:
    return _WorkerCorpus(load_corpus(Path(root)))


def _worker_init(corpus: _WorkerCorpus, configs: list[AdapterConfig], timeout: float | None,
                 infos: dict[str, VerifierInfo]) -> None:
    global _WORKER
    _WORKER = Session(corpus.corpus, configs, timeout=timeout, infos=infos)
    multiprocessing.util.Finalize(None, _worker_close, exitpriority=10)


def _worker_close() -> None:
    if _WORKER is not None:
        _WORKER.close()


def _worker_case(task: tuple[str, str]) -> CaseResult:
    assert _WORKER is not None
    name, vector_id = task
    # Starting the verifier (an import, a hello) is bounded as it was in the parent, where it ran first; the stall
    # clock runs for the call alone, and only for a verifier in this process: a verifier process is awaited with a
    # deadline that always fires, and restarting one may take longer than a case (its hello_timeout_s).
    mark_unwatched()
    try:
        _WORKER.verifier(name)
    except VerifierStartError as exc:  # it started in the parent: this case's ERROR, not the end of the run
        answer = Answer(Actual.ERROR, None, f"did not start again in a worker process: {exc}")
        return judge(_WORKER.corpus.get(vector_id), _WORKER.info(name), answer, _WORKER.configs[name].waivers)
    if _in_process(_WORKER.configs[name]):
        mark_progress()
    return _WORKER.answer(name, vector_id)


def _in_process(config: AdapterConfig) -> bool:
    """True when the verifier runs in the harness's (or its worker's) own process: ``python`` mode, not isolated."""
    return config.mode == "python" and not config.isolate


def _worker_stall_timeout(configs: Iterable[AdapterConfig], timeout: float | None) -> float | None:
    """The stall timeout of workers running ``configs`` (``timeout`` overriding each one's ``timeout_s``): from the
    longest deadline of the in-process verifiers (:func:`~hsmsim.harness.workers.stall_timeout`); None when none
    runs in process."""
    deadlines = [timeout or config.timeout_s for config in configs if _in_process(config)]
    return stall_timeout(max(deadlines)) if deadlines else None


def fork_safe(config: AdapterConfig) -> bool:
    """True when workers for ``config`` may be forked from a process that asked it for its hello: it runs out
    of process (oneshot, persistent, isolated), or in process but is hsmsim's own code. A third-party module
    imported in the parent may hold state a copy must not share (a connection, a file, a lock)."""
    if not _in_process(config):
        return True
    return all(_is_hsmsim_entry(entry) for entry in (config.entry, config.hello) if entry)


def _is_hsmsim_entry(entry: str) -> bool:
    module = entry_module(entry)
    # a name with a path separator is no importable module, hsmsim's or another
    return module is not None and "/" not in module and "\\" not in module and module.split(".")[0] == "hsmsim"


def _in_workers(pool: WorkerPool[tuple[str, str], CaseResult], corpus: Corpus, infos: Mapping[str, VerifierInfo],
                configs: Mapping[str, AdapterConfig]) -> CaseRunner:
    def run(tasks: list[tuple[str, str]]) -> Iterator[CaseResult]:
        for (name, vector_id), result in pool.run(tasks, batch=_batch_size(len(tasks), pool.jobs)):
            if isinstance(result, WorkerDied):
                answer = Answer(Actual.HANG if result.stalled else Actual.CRASH, None, result.describe())
                result = judge(corpus.get(vector_id), infos[name], answer, configs[name].waivers)
            yield result
    return run


def _batch_size(tasks: int, jobs: int) -> int:
    return max(1, min(_BATCH_MAX, tasks // (8 * jobs)))


def run_conformance(configs: list[AdapterConfig], corpus: Corpus, options: RunOptions = RunOptions(),
                    progress: ProgressFn | None = None) -> ConformanceRun:
    """Run every verifier over the selected vectors; see the module docstring for the order.

    Raises :class:`hsmsim.errors.HsmsimError` subclasses, before any verifier starts, when two adapters share a
    name or a results file name, and when a verifier cannot be started. The corpus, and whatever else is alive
    when the run starts, is left out of the garbage collector's full collections while it runs
    (:func:`~hsmsim.harness.workers.frozen_heap`).
    """
    with frozen_heap():
        return _run(configs, corpus, options, progress)


def _run(configs: list[AdapterConfig], corpus: Corpus, options: RunOptions,
         progress: ProgressFn | None) -> ConformanceRun:
    from hsmsim.harness.config import AdapterConfigError
    from hsmsim.harness.report import file_name_clash  # the report imports this module

    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise AdapterConfigError(f"two adapters share a name: {sorted(n for n in names if names.count(n) > 1)}")
    clash = file_name_clash(names)
    if clash is not None:
        raise AdapterConfigError(clash)
    vectors = corpus.select(formats=options.formats, patterns=options.patterns, shard=options.shard)
    by_name = {c.name: c for c in configs}
    done: dict[str, dict[str, CaseResult]] = {c.name: {} for c in configs}
    selected = {v.id for v in vectors}

    def record(result: CaseResult) -> None:
        done[result.verifier][result.id] = result
        if progress is not None:
            progress(result)

    session = Session(corpus, configs, timeout=options.timeout)
    pool: WorkerPool[tuple[str, str], CaseResult] | None = None
    try:
        infos = {c.name: session.info(c.name) for c in configs}
        runnable: list[tuple[str, Vector]] = []
        for config in configs:
            for vector in vectors:
                why = skip_reason(vector, infos[config.name])
                if why is None:
                    runnable.append((config.name, vector))
                else:
                    record(session.skipped(config.name, vector, why))
        def in_process(tasks: list[tuple[str, str]]) -> Iterator[CaseResult]:
            return (session.answer(name, vector_id) for name, vector_id in tasks)

        run: CaseRunner = in_process
        # one case of a verifier process gains nothing from a pool, but an in-process verifier is promised a worker
        # process under -j N (one that ends or stalls it is that case's CRASH or HANG) however few cases are selected
        if options.jobs > 1 and (len(runnable) > 1 or any(_in_process(by_name[name]) for name, _ in runnable)):
            session.close()
            # forked workers start warm, with what the parent loaded for the hellos; spawned ones start cold
            start_method: StartMethod = "fork-if-single-threaded" if all(fork_safe(c) for c in configs) else "spawn"
            pool = WorkerPool(options.jobs, _worker_case, _worker_init,
                              (_WorkerCorpus(corpus), configs, options.timeout, dict(infos)), start_method=start_method,
                              stall_timeout=_worker_stall_timeout(configs, options.timeout))
            run = _in_workers(pool, corpus, infos, by_name)
        probes = {key: corpus.sanity_vector(key[1], infos[key[0]].profile)
                  for key in dict.fromkeys((name, vector.format) for name, vector in runnable)}
        golden_results = {(r.verifier, r.id): r for r in run([(name, golden.id) for (name, _), golden
                                                                   in probes.items() if golden is not None])}
        sanity: dict[tuple[str, str], SanityCheck] = {}
        for (name, format_name), golden in probes.items():
            result = golden_results.get((name, golden.id)) if golden is not None else None
            sanity[(name, format_name)] = SanityCheck.of(name, format_name, golden, result)
            if result is not None and result.id in selected:
                record(result)
        todo: list[tuple[str, str]] = []
        for name, vector in runnable:
            check = sanity[(name, vector.format)]
            if vector.id == check.vector_id:
                continue
            if check.ok:
                todo.append((name, vector.id))
            else:
                record(session.skipped(name, vector, check.message))
        for result in run(todo):
            record(result)
    finally:
        if pool is not None:
            pool.close()
        session.close()
    order = {v.id: index for index, v in enumerate(vectors)}
    runs = [VerifierRun(config=c, info=infos[c.name],
                        results=sorted(done[c.name].values(), key=lambda r: order[r.id]),
                        sanity=[s for (n, _), s in sanity.items() if n == c.name],
                        stale_waivers=unknown_waivers(c, corpus), strict_reasons=options.strict_reasons,
                        fail_on=options.fail_on, whole=options.shard is None)
            for c in configs]
    return ConformanceRun(corpus=corpus, vectors=vectors, verifiers=runs, options=options)
