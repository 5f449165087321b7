"""Waivers: known divergences of one verifier, kept as data with a reason each.

A waiver ``{id: {expected, actual, reason, bug_url?}}`` (rustls/webpki's ``exceptions.json``,
tlsfuzzer's ``-x``) turns a matching anomaly into WAIVED. A waiver that no longer matches
fails the run: the case passes now (XPASS), the verifier's answer changed, or the vector
is gone from the corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hsmsim.errors import BundleError, HsmsimError
from hsmsim.harness.model import Actual, CaseResult, Outcome, reason_code
from hsmsim.model.vectors import Expected
from hsmsim.safeio import load_json_object

BASELINE_REASON = "baseline: {outcome} when the suite was adopted (hsmsim conformance run --write-baseline)"
"""The reason a baseline entry carries until a person replaces it with the real one (and a ``bug_url``)."""

_BASELINED = frozenset({Outcome.UNEXPECTED_ACCEPT, Outcome.UNEXPECTED_REJECT, Outcome.WRONG_REASON, Outcome.HANG,
                        Outcome.CRASH, Outcome.ERROR})

WAIVERS_FILE_LIMIT = 16 * 1024 * 1024


class WaiverError(HsmsimError):
    """A waiver file or entry is malformed."""


@dataclass(frozen=True)
class Waiver:
    """One known divergence. ``expected`` and ``actual`` are ``VERDICT`` or ``VERDICT REASON``."""

    id: str
    expected: str
    actual: str
    reason: str
    bug_url: str | None = None

    @staticmethod
    def _split(text: str) -> tuple[str, str | None]:
        verdict, _, reason = text.strip().partition(" ")
        return verdict.upper(), (reason.strip() or None)

    def matches_expected(self, expected: Expected, expected_reason: str) -> bool:
        """True when the waiver was written against the vector's current expectation."""
        verdict, reason = self._split(self.expected)
        if verdict != expected.verdict:
            return False
        return reason is None or reason == expected_reason

    def matches_actual(self, verdict: Actual, reason: str | None) -> bool:
        """True when the verifier still answers what the waiver records."""
        want_verdict, want_reason = self._split(self.actual)
        if want_verdict != verdict.value:
            return False
        return want_reason is None or want_reason == (reason or "")

    def to_json(self) -> dict[str, str]:
        """The JSON object of a waiver entry."""
        data = {"expected": self.expected, "actual": self.actual, "reason": self.reason}
        if self.bug_url:
            data["bug_url"] = self.bug_url
        return data


def parse_waivers(entries: Mapping[str, object], origin: str) -> dict[str, Waiver]:
    """Waivers from a mapping ``{id: {expected, actual, reason[, bug_url]}}``; raises :class:`WaiverError`."""
    waivers: dict[str, Waiver] = {}
    for vector_id, entry in entries.items():
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{origin}: waiver {vector_id!r} is not a table/object")
        missing = [k for k in ("expected", "actual", "reason") if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            raise WaiverError(f"{origin}: waiver {vector_id!r} lacks {', '.join(missing)} "
                              "(every waiver says what was expected, what happens instead, and why)")
        verdict = str(entry["actual"]).split()[0].upper()
        if verdict not in Actual.__members__:
            raise WaiverError(f"{origin}: waiver {vector_id!r} actual {entry['actual']!r} is not one of "
                              f"{', '.join(Actual.__members__)}")
        bug_url = entry.get("bug_url")
        waivers[vector_id] = Waiver(vector_id, str(entry["expected"]), str(entry["actual"]), str(entry["reason"]),
                                    str(bug_url) if bug_url else None)
    return waivers


def load_waivers(path: Path) -> dict[str, Waiver]:
    """Waivers from a JSON file; raises :class:`WaiverError`."""
    try:
        data = load_json_object(path, WAIVERS_FILE_LIMIT)
    except BundleError as exc:
        raise WaiverError(f"cannot read waivers ({{id: {{expected, actual, reason}}}}): {exc}") from None
    return parse_waivers(data, str(path))


def apply_waiver(outcome: Outcome, waiver: Waiver | None, expected: Expected, expected_reason: str,
                 verdict: Actual, reason: str | None) -> tuple[Outcome, str | None]:
    """The outcome after the waiver, and the waiver note to record.

    SKIPPED cases leave a waiver unjudged. A matching waiver turns an anomaly into WAIVED; a
    passing case under a waiver is XPASS, and so is a wrong-reason case the waiver does not
    describe; any other anomaly the waiver does not describe keeps its (failing) outcome, with a
    note that the waiver is stale.
    """
    if waiver is None or outcome is Outcome.SKIPPED:
        return outcome, None
    if outcome is Outcome.PASS:
        return Outcome.XPASS, f"stale waiver ({waiver.reason}): the case passes now"
    if waiver.matches_expected(expected, expected_reason) and waiver.matches_actual(verdict, reason):
        return Outcome.WAIVED, waiver.reason
    note = (f"stale waiver ({waiver.reason}): waived {waiver.expected} -> {waiver.actual}, "
            f"now {expected.verdict} -> {verdict.value}{' ' + reason if reason else ''}")
    return (Outcome.XPASS if outcome is Outcome.WRONG_REASON else outcome), note


def baseline(results: Iterable[CaseResult], current: Mapping[str, Waiver]) -> dict[str, Waiver]:
    """Waivers that turn every anomaly of ``results`` into WAIVED, sorted by id: a ratchet to adopt the suite with.

    A case already WAIVED keeps its waiver from ``current`` (reason and bug URL included; from a merged run,
    whose adapters' waivers are not at hand, the recorded reason). Every other anomaly
    (unexpected verdict, wrong reason, HANG, CRASH, ERROR) gets an entry recording the expectation and the
    answer; the answer's reason is recorded only when it is a reason code, so free text that varies between runs
    (paths, timings) does not make the waiver stale. Passing cases and XPASS get none: a waiver that went stale
    is dropped, which is the ratchet.
    """
    waivers: dict[str, Waiver] = {}
    for result in sorted(results, key=lambda r: r.id):
        if result.outcome is Outcome.WAIVED and result.id in current:
            waivers[result.id] = current[result.id]
        elif result.outcome is Outcome.WAIVED or result.outcome in _BASELINED:
            expected = result.expected.verdict + (f" {result.expected_reason}"
                                                  if result.expected is Expected.INVALID else "")
            code = reason_code(result.reason) if result.verdict is Actual.REJECT else None
            actual = result.verdict.value + (f" {code.value}" if code is not None else "")
            # a WAIVED case read back from a results file (a merged run) has its waiver's reason, not the waiver
            why = result.waiver if result.outcome is Outcome.WAIVED and result.waiver else \
                BASELINE_REASON.format(outcome=result.outcome.value)
            waivers[result.id] = Waiver(result.id, expected, actual, why)
    return waivers


def waivers_json(waivers: Mapping[str, Waiver]) -> str:
    """The JSON text of a waiver file that :func:`load_waivers` reads back as ``waivers``."""
    return json.dumps({vector_id: waiver.to_json() for vector_id, waiver in waivers.items()}, indent=2,
                      ensure_ascii=True) + "\n"
