"""The harness vocabulary: what a verifier answered, and how that compares with what the vector expects.

:class:`hsmsim.model.vectors.Expected` (from the vector) and :class:`Actual` (from the verifier) are
separate enums, as in x509-limbo: a vector is *valid*, *invalid* or *acceptable*; a verifier
*accepts*, *rejects*, skips, errs, hangs or crashes. :class:`Outcome` is the harness's judgement of
one case.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from hsmsim.harness.text import REASON_LIMIT, one_line
from hsmsim.model.vectors import Expected, Severity
from hsmsim.verdict import Reason


class Actual(enum.StrEnum):
    """What a verifier did with one vector. The wire value equals the name."""

    ACCEPT = "ACCEPT"
    """The verifier accepted the evidence."""
    REJECT = "REJECT"
    """The verifier rejected the evidence."""
    SKIPPED = "SKIPPED"
    """The case was not run (format or feature not claimed, sanity failure) or the verifier declined it."""
    ERROR = "ERROR"
    """The verifier answered something that is not a verdict (bad exit code, malformed JSON line)."""
    HANG = "HANG"
    """The verifier did not answer before the per-case deadline."""
    CRASH = "CRASH"
    """The verifier died (signal, unexpected exit) or raised an exception in-process."""


class Outcome(enum.StrEnum):
    """The judgement of one case: the verdict compared with the vector's expectation."""

    PASS = "PASS"
    """The right verdict, and the right reason when the verifier gave a reason code."""
    UNEXPECTED_ACCEPT = "UNEXPECTED_ACCEPT"
    """An invalid vector was accepted: the dangerous failure."""
    UNEXPECTED_REJECT = "UNEXPECTED_REJECT"
    """A valid vector was rejected."""
    WRONG_REASON = "WRONG_REASON"
    """Rejected as expected, but with a different :class:`hsmsim.verdict.Reason` code."""
    HANG = "HANG"
    """No answer before the deadline."""
    CRASH = "CRASH"
    """The verifier died or raised."""
    ERROR = "ERROR"
    """The verifier's answer was not a verdict."""
    SKIPPED = "SKIPPED"
    """Not run, or declined by the verifier."""
    WAIVED = "WAIVED"
    """A known divergence: a waiver matches the expectation and the actual verdict."""
    XPASS = "XPASS"
    """A waiver no longer matches: the case passes now (or the vector changed). Fails the run."""


FAILING = frozenset({Outcome.UNEXPECTED_ACCEPT, Outcome.UNEXPECTED_REJECT, Outcome.HANG, Outcome.CRASH,
                     Outcome.ERROR, Outcome.XPASS})
"""Outcomes that make a run fail (exit 1). WRONG_REASON joins them with ``strict_reasons``."""

SEVERITY_ORDER = tuple(s.value for s in Severity)
"""Most severe first: critical, high, medium, low, info (the order of :class:`hsmsim.model.vectors.Severity`)."""


def severity_rank(severity: str) -> int:
    """Sort key: critical first, unknown severities last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def at_or_above(severity: str, threshold: Severity | None) -> bool:
    """True when a case of ``severity`` counts under ``--fail-on threshold`` (None: every case counts).

    An unknown severity (a hand-edited results file) counts, so a threshold never hides what it cannot rank.
    """
    if threshold is None or severity not in SEVERITY_ORDER:
        return True
    return SEVERITY_ORDER.index(severity) <= SEVERITY_ORDER.index(threshold.value)


def reason_code(reason: str | None) -> Reason | None:
    """The :class:`Reason` member spelled by ``reason``, or None for free text or no reason."""
    if reason is None:
        return None
    try:
        return Reason(reason.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Answer:
    """What one verifier call produced, before judging. ``reason`` may be a Reason code or free text.

    ``reason`` and ``detail`` are stored as :func:`hsmsim.harness.text.one_line` text, whatever the
    verifier sent: one line, no control character or lone surrogate, capped.
    """

    verdict: Actual
    reason: str | None = None
    detail: str = ""
    duration_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.reason is not None:
            object.__setattr__(self, "reason", one_line(self.reason, REASON_LIMIT))
        object.__setattr__(self, "detail", one_line(self.detail))


@dataclass(frozen=True)
class VerifierInfo:
    """A running verifier's identity and claims (from its adapter file and its hello)."""

    name: str
    version: str
    mode: str
    profile: str
    formats: tuple[str, ...]
    """Formats the verifier claims; ``*`` claims every format."""
    features: tuple[str, ...] = ()

    def claims_format(self, format_name: str) -> bool:
        """True when the verifier says it handles ``format_name``."""
        return "*" in self.formats or format_name in self.formats

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"name": self.name, "version": self.version, "mode": self.mode, "profile": self.profile,
                "formats": list(self.formats), "features": list(self.features)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> VerifierInfo:
        """The inverse of :meth:`to_json`."""
        formats, features = data.get("formats") or (), data.get("features") or ()
        return cls(name=str(data["name"]), version=str(data.get("version", "")), mode=str(data.get("mode", "")),
                   profile=str(data.get("profile", "")),
                   formats=tuple(str(f) for f in formats) if isinstance(formats, list | tuple) else (),
                   features=tuple(str(f) for f in features) if isinstance(features, list | tuple) else ())


@dataclass(frozen=True)
class CaseResult:
    """One judged case: a verifier's answer to one vector under its profile."""

    verifier: str
    id: str
    format: str
    category: str
    severity: str
    expected: Expected
    expected_reason: str
    verdict: Actual
    reason: str | None
    detail: str
    outcome: Outcome
    duration_ms: float
    waiver: str | None = None
    """The waiver's reason when one applied (WAIVED) or went stale (XPASS)."""
    flags: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """True when the outcome fails the run (WRONG_REASON excluded; see ``strict_reasons``)."""
        return self.outcome in FAILING

    def describe(self) -> str:
        """One line: outcome, id, expectation and answer."""
        want = self.expected.verdict + (f" {self.expected_reason}" if self.expected is Expected.INVALID else "")
        got = self.verdict.value + (f" {self.reason}" if self.reason else "")
        text = f"{self.outcome.value} {self.id} ({self.severity}): expected {want}, got {got}"
        if self.detail:
            text += f" - {self.detail}"
        return text

    def to_json(self) -> dict[str, object]:
        """The object stored under ``results[]`` of a results file."""
        return {"id": self.id, "format": self.format, "category": self.category, "severity": self.severity,
                "expected": self.expected.value, "expectedReason": self.expected_reason,
                "verdict": self.verdict.value, "reason": self.reason, "detail": self.detail,
                "outcome": self.outcome.value, "duration_ms": round(self.duration_ms, 3),
                "waiver": self.waiver, "flags": list(self.flags)}

    @classmethod
    def from_json(cls, verifier: str, data: dict[str, object]) -> CaseResult:
        """The inverse of :meth:`to_json`."""
        duration = data.get("duration_ms", 0.0)
        flags = data.get("flags") or ()
        return cls(
            verifier=verifier, id=str(data["id"]), format=str(data.get("format", "")),
            category=str(data.get("category", "")), severity=str(data.get("severity", "info")),
            expected=Expected(str(data["expected"])), expected_reason=str(data.get("expectedReason", "")),
            verdict=Actual(str(data["verdict"])),
            reason=None if data.get("reason") is None else str(data["reason"]),
            detail=str(data.get("detail", "")), outcome=Outcome(str(data["outcome"])),
            duration_ms=float(duration) if isinstance(duration, int | float) else 0.0,
            waiver=None if data.get("waiver") is None else str(data["waiver"]),
            flags=tuple(str(f) for f in flags) if isinstance(flags, list | tuple) else (),
        )
