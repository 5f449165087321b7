"""Verifiers under fuzz: any conformance adapter file (python, oneshot or persistent).

The adapter machinery is the conformance harness's (:mod:`hsmsim.harness.adapters`), so a
verifier described once runs in the conformance suite and under the fuzzer alike. Each
worker process starts its own verifier (one persistent process per worker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.fuzz.engine import TargetAnswer
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile

if TYPE_CHECKING:
    from hsmsim.harness.adapters import Verifier

CASE_TIMEOUT = 10.0


@dataclass
class AdapterTarget:
    """A verifier described by a conformance adapter file, started lazily in the worker."""

    adapter: Path
    format: str
    timeout: float = CASE_TIMEOUT
    _verifier: Verifier | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """The adapter's verifier name."""
        return self._started().name

    @property
    def packed(self) -> bool:
        """External verifiers get the vendor's native container."""
        return True

    def _started(self) -> Verifier:
        if self._verifier is None:
            from hsmsim.harness.adapters import open_verifier
            from hsmsim.harness.config import load_adapter

            verifier = open_verifier(load_adapter(self.adapter))
            verifier.start()
            self._verifier = verifier
        return self._verifier

    def verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile, *,
               case_id: str) -> TargetAnswer:
        """Run the adapter on the case's native files; the harness maps failures to CRASH/HANG/ERROR."""
        from hsmsim.harness.vectors import Submission

        submission = Submission(id=case_id, format=self.format, evidence=evidence,
                                anchors_pem=tuple(a.public_bytes(Encoding.PEM).decode() for a in trust.all()), at=at)
        answer = self._started().verify(submission, timeout=self.timeout)
        return TargetAnswer(answer.verdict.value, answer.reason, answer.detail)

    def close(self) -> None:
        """Stop the verifier process, if any."""
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None


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
