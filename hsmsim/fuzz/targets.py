"""Verifiers under fuzz: any conformance adapter file (python, oneshot or persistent).

The adapter machinery is the conformance harness's (:mod:`hsmsim.harness.adapters`), so a
verifier described once runs in the conformance suite and under the fuzzer alike. Each
worker process starts its own verifier (one persistent process per worker).

A ``python`` adapter (not ``isolate``\\ d) is called in the worker's main thread under the same
time and memory bound as the built-in reference (:func:`~hsmsim.fuzz.engine.verdict_answer`), not in a
thread per case: the worker is already a process of its own, which the campaign replaces when the
verifier kills it. An adapter whose entry is hsmsim's own reference verifier, at the profile the
fuzzer compares at, is the reference: its answer is not computed a second time.

A persistent verifier is restarted after every case that kills it, however many: the adapter's ``max_restarts``
bounds a conformance run, where a crashing verifier has already failed, while a fuzzer is looking for crashes. The
bound the fuzzer keeps is per case (:data:`RESTARTS_PER_CASE`), and a verifier that cannot be started again ends the
campaign (:class:`VerifierLostError`) instead of answering every later case with an ERROR it never produced.

The harness modules are imported with this one, not when a worker starts its verifier: forked
workers inherit them instead of each importing them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.errors import HsmsimError
from hsmsim.fuzz.engine import FUZZ_PROFILE, ReferenceTarget, Target, TargetAnswer, verdict_answer
from hsmsim.harness.adapters import (
    NOT_RESTARTED,
    RESTART_FAILED,
    PersistentVerifier,
    PythonVerifier,
    Verifier,
    VerifyRequest,
    answer_from,
    import_entry,
    open_verifier,
)
from hsmsim.harness.config import AdapterConfig, load_adapter
from hsmsim.harness.model import Actual, VerifierInfo
from hsmsim.harness.vectors import Submission
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile

REFERENCE_ENTRY = "hsmsim.harness.reference:verify"
"""The entry of hsmsim's reference verifier as a ``python`` adapter (``examples/verifiers/reference.toml``)."""

RESTARTS_PER_CASE = 3
"""How many times one case may start a persistent verifier again: once after the case before killed it, and twice
more for processes that end before they read the request (one that exits after each answer is restarted, not
blamed). A verifier that needs more never reads a request."""

class VerifierLostError(HsmsimError):
    """The verifier under fuzz died and cannot be started again: the campaign cannot go on."""


@dataclass
class AdapterTarget:
    """A verifier described by a conformance adapter file, started lazily in the worker."""

    adapter: Path
    format: str
    _config: AdapterConfig | None = field(default=None, init=False, repr=False)
    _verifier: Verifier | None = field(default=None, init=False, repr=False)
    _call: Callable[..., object] | None = field(default=None, init=False, repr=False)
    _anchors_pem: tuple[tuple[x509.Certificate, ...], tuple[str, ...]] = field(default=((), ()), init=False,
                                                                               repr=False)
    """The anchors last written as PEM (the objects) and their PEM: a campaign gives the same objects every case."""

    @property
    def config(self) -> AdapterConfig:
        """The adapter file, read once (reading it starts nothing)."""
        if self._config is None:
            self._config = load_adapter(self.adapter)
        return self._config

    @property
    def name(self) -> str:
        """The adapter's verifier name."""
        return self.config.name

    @property
    def timeout(self) -> float:
        """The per-case deadline: the adapter's ``timeout_s``, as in a conformance run."""
        return self.config.timeout_s

    @property
    def in_process(self) -> bool:
        """True when the verifier runs in the worker process itself (``python`` mode, not ``isolate``\\ d), so
        the worker's memory bound is the verifier's; every other verifier is a process of its own."""
        return self.config.mode == "python" and not self.config.isolate

    @property
    def packed(self) -> bool:
        """External verifiers get the vendor's native container."""
        return True

    @property
    def runs_reference(self) -> bool:
        """True when the adapter calls hsmsim's reference verifier in-process at the fuzzer's profile."""
        config = self.config
        if config.mode != "python" or config.isolate or config.entry != REFERENCE_ENTRY:
            return False
        info = self._started().info
        return info is not None and info.profile == FUZZ_PROFILE.value

    def hello(self) -> VerifierInfo:
        """What the verifier says of itself (name, profile, the formats it claims), starting it if need be;
        raises the adapter's :class:`~hsmsim.harness.config.AdapterConfigError` or
        :class:`~hsmsim.harness.adapters.VerifierStartError` when it cannot start."""
        info = self._started().info
        assert info is not None
        return info

    def _started(self) -> Verifier:
        if self._verifier is None:
            config = self.config
            verifier = open_verifier(replace(config, max_restarts=RESTARTS_PER_CASE))
            verifier.start()
            if isinstance(verifier, PythonVerifier):
                assert config.entry is not None
                self._call = import_entry(config.entry, config.pythonpath, config.cwd)
            self._verifier = verifier
        return self._verifier

    def _pem(self, trust: TrustAnchors) -> tuple[str, ...]:
        # Compared by identity, not hashed (a certificate hashes its whole DER): the PEM of an (immutable)
        # certificate object is the same text every time.
        anchors = trust.all()
        known, pem = self._anchors_pem
        if len(known) != len(anchors) or any(a is not b for a, b in zip(known, anchors, strict=True)):
            pem = tuple(a.public_bytes(Encoding.PEM).decode() for a in anchors)
            self._anchors_pem = (tuple(anchors), pem)
        return pem

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        """Run the adapter on the case's native files; failures are CRASH, HANG, MEMORY or ERROR answers."""
        verifier = self._started()
        assert verifier.info is not None
        if self._call is not None:
            request = VerifyRequest(id=case_id, format=self.format, profile=verifier.info.profile, evidence=evidence,
                                    trust=trust, at=at, anchors_pem=self._pem(trust))
            call = self._call
            return verdict_answer(lambda: call(request), self.timeout, other=_harness_answer)
        submission = Submission(id=case_id, format=self.format, evidence=evidence, anchors_pem=self._pem(trust), at=at)
        if isinstance(verifier, PersistentVerifier):
            verifier.restarts = 0  # RESTARTS_PER_CASE bounds one case, not the campaign
        answer = verifier.verify(submission, timeout=self.timeout)
        # The harness's own answer for a case no process read (only after a restart: a verifier may word its own
        # ERROR alike): the restarts it made within the case did not help.
        if isinstance(verifier, PersistentVerifier) and verifier.restarts > 0 and answer.verdict is Actual.ERROR:
            if answer.detail.startswith(RESTART_FAILED):
                raise VerifierLostError(f"the verifier died and cannot be started again; the campaign stops: "
                                        f"{self.name}: {answer.detail}")
            if answer.detail.startswith(NOT_RESTARTED):
                raise VerifierLostError(f"the verifier dies before it reads a request; the campaign stops: "
                                        f"{self.name}: {answer.detail}")
        return TargetAnswer(answer.verdict.value, answer.reason, answer.detail)

    def close(self) -> None:
        """Stop the verifier process, if any."""
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None
            self._call = None


def _harness_answer(value: object) -> TargetAnswer:
    """What a python verifier returned that is not a Verdict, read as the harness reads it."""
    answer = answer_from(value)
    return TargetAnswer(answer.verdict.value, answer.reason, answer.detail)


def is_reference(target: Target) -> bool:
    """True when ``target`` is hsmsim's reference verifier (built in, or through its adapter file)."""
    return isinstance(target, ReferenceTarget) or (isinstance(target, AdapterTarget) and target.runs_reference)


@dataclass(frozen=True)
class AdapterTargetFactory:
    """Picklable: each worker builds its own :class:`AdapterTarget`."""

    adapter: Path
    format: str

    def __call__(self) -> AdapterTarget:
        return AdapterTarget(self.adapter, self.format)


def target_factory(adapter: Path, format_name: str) -> AdapterTargetFactory:
    """A factory of targets for the verifier described by ``adapter``."""
    return AdapterTargetFactory(adapter, format_name)
