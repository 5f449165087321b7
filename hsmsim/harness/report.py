"""Reports of a conformance run: results JSON per verifier, JUnit XML, one HTML page, a regression diff.

Layout of a report directory::

    results/<verifier>.json   limbo-like: version, suiteVersion, verifier, verifierVersion, results[]
    junit.xml                 one <testsuite> per verifier, one <testcase> per vector
    index.html                summary, sanity, matrix (vectors x verifiers, grouped by format and
                              category), anomalies per verifier, changes since the previous results

Anomalies are listed in this order: unexpected ACCEPT (critical first), unexpected REJECT,
right verdict for the wrong reason, HANG/CRASH/ERROR, SKIPPED; then stale waivers (XPASS) and
waived cases.

Every writer takes any string a verifier may have sent (a results file read back never went
through :class:`~hsmsim.harness.model.Answer`): text is made :func:`~hsmsim.harness.text.visible`
and capped at :data:`TEXT_LIMIT` before it is embedded, and files are written atomically as UTF-8.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsmsim import __version__
from hsmsim._atomic import check_output_directory, replace_file
from hsmsim.encoding import JsonDepthError, parse_json
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.harness.model import FAILING, Actual, CaseResult, Outcome, severity_rank
from hsmsim.harness.runner import ConformanceRun, RunOptions, VerifierRun, skip_reason
from hsmsim.harness.text import TEXT_LIMIT, one_line, visible
from hsmsim.harness.vectors import CORPUS_VECTORS_LIMIT, Corpus, Vector
from hsmsim.model.vectors import Expected
from hsmsim.safeio import read_local_file
from hsmsim.verdict import escaped

RESULTS_VERSION = 1
RESULTS_FILE_LIMIT = 64 * 1024 * 1024
RESULTS_TOKEN_LIMIT = 2 * 1024 * 1024
"""The most JSON tokens (strings, commas and opening brackets) a results file may hold, counted before it is parsed:
every JSON value is a token or follows one, so this bounds what parsing allocates (a 64 MiB file of ``{}`` would
take 1.8 GB). hsmsim writes a result in about 40 tokens (64 with a dozen flags), so the results of the largest corpus
(:data:`~hsmsim.harness.vectors.CORPUS_VECTORS_LIMIT` vectors) take 1.28 Mi, leaving 0.8 Mi for the rest (two per
stale-waiver message)."""
_JSON_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)|[\[{,]', re.DOTALL)
"""A JSON string, comma or opening bracket. A string left open runs to the end (parsing stops at it), so every match
attempt that starts at a quote succeeds and the scan stays linear."""
_OK = (Outcome.PASS, Outcome.WAIVED, Outcome.SKIPPED)


class ReportError(HsmsimError):
    """A previous results file cannot be read, or the report directory cannot be written."""


def safe_name(name: str) -> str:
    """A file-system safe form of a verifier name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "verifier"


def file_name_clash(names: Iterable[str]) -> str | None:
    """A one-line message when two different verifier names have the same :func:`safe_name`, else None: their
    results files (and ``--write-baseline`` files) would have one name, the second overwriting the first."""
    seen: dict[str, str] = {}
    for name in names:
        first = seen.setdefault(safe_name(name), name)
        if first != name:
            return (f"verifiers {first!r} and {name!r} would write the same results file "
                    f"results/{safe_name(name)}.json: rename one")
    return None


# -- results JSON ------------------------------------------------------------------------------

def results_document(run: VerifierRun, suite_version: str, options: RunOptions | None = None,
                     verifiers: list[str] | None = None) -> dict[str, object]:
    """The ``results/<verifier>.json`` object of one verifier.

    ``run`` records the selection and judging options and every verifier of the run in order (``verifiers``),
    which is what :mod:`hsmsim.harness.merge` needs to rebuild a sharded run.
    """
    return {
        "version": RESULTS_VERSION, "suiteVersion": suite_version, "harness": f"hsmsim {__version__}",
        "verifier": run.info.name, "verifierVersion": run.info.version, "mode": run.info.mode,
        "profile": run.info.profile, "formats": list(run.info.formats), "features": list(run.info.features),
        "description": run.config.description,
        "run": {**(options or RunOptions()).to_json(), "verifiers": verifiers or [run.info.name]},
        "failed": run.failed, "summary": run.counts(),
        "sanity": [check.to_json() for check in run.sanity], "staleWaivers": list(run.stale_waivers),
        "results": [result.to_json() for result in run.results],
    }


@dataclass(frozen=True)
class PreviousResults:
    """A results file read back (for the diff)."""

    verifier: str
    version: str
    suite_version: str
    results: dict[str, CaseResult]


def _load_results_json(path: Path) -> object:
    """The JSON value of the regular file ``path`` (at most :data:`RESULTS_FILE_LIMIT` bytes, decoded as ``json``
    decodes bytes), refused before it is parsed when it holds more than :data:`RESULTS_TOKEN_LIMIT` tokens; raises
    BundleError naming the file."""
    raw = read_local_file(path, RESULTS_FILE_LIMIT)
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{escaped(str(path))} is not valid JSON: {str(exc)[:120]}") from None
    del raw  # the text alone is parsed: the bytes need not outlive the decoding
    if _more_tokens(text, RESULTS_TOKEN_LIMIT):
        raise BundleError(f"{escaped(str(path))} holds more than {RESULTS_TOKEN_LIMIT} JSON strings, commas and "
                          f"brackets: more than the results of a corpus of {CORPUS_VECTORS_LIMIT} vectors take")
    try:
        return parse_json(text)
    except JsonDepthError:
        raise BundleError(f"{escaped(str(path))} nests too deeply to be read as JSON") from None
    except ValueError as exc:
        raise BundleError(f"{escaped(str(path))} is not valid JSON: {str(exc)[:120]}") from None


def _more_tokens(text: str, limit: int) -> bool:
    """Whether ``text`` holds more than ``limit`` :data:`_JSON_TOKEN` matches. Each begins at one of the characters
    ``"[{,``: when the text holds no more than ``limit`` of them (counted at C speed) it is not scanned; otherwise the
    scan stops past ``limit`` matches."""
    if sum(text.count(character) for character in '"[{,') <= limit:
        return False
    return sum(1 for _ in itertools.islice(_JSON_TOKEN.finditer(text), limit + 1)) > limit


def read_results_document(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON object of a results file and its ``results``, a list of at most
    :data:`~hsmsim.harness.vectors.CORPUS_VECTORS_LIMIT` objects, read bounded (a regular file of at most
    :data:`RESULTS_FILE_LIMIT` bytes and :data:`RESULTS_TOKEN_LIMIT` tokens, refused before it is parsed past
    either); raises :class:`ReportError` naming the file."""
    try:
        data = _load_results_json(path)
    except BundleError as exc:
        raise ReportError(f"not a hsmsim conformance results file: {exc}") from None
    records = data.get("results") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ReportError(f"{escaped(str(path))} is not a hsmsim conformance results file: not an object with a "
                          "list of result objects under 'results'")
    if len(records) > CORPUS_VECTORS_LIMIT:
        raise ReportError(f"{escaped(str(path))} is not a hsmsim conformance results file: it holds {len(records)} "
                          f"results, more than the {CORPUS_VECTORS_LIMIT} vectors a corpus may hold")
    return data, records


def load_results(path: Path) -> PreviousResults:
    """Read a ``results/<verifier>.json``; raises :class:`ReportError`."""
    data, records = read_results_document(path)
    try:
        verifier = str(data["verifier"])
        results = {str(r["id"]): CaseResult.from_json(verifier, r) for r in records}
    except KeyError as exc:  # str(exc) would be the bare key
        raise ReportError(f"{escaped(str(path))} is not a hsmsim conformance results file: a member "
                          f"{one_line(repr(exc.args[0]), 60)} is missing") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise ReportError(f"{escaped(str(path))} is not a hsmsim conformance results file: "
                          f"{one_line(str(exc), 200)}") from exc
    return PreviousResults(verifier, str(data.get("verifierVersion", "")), str(data.get("suiteVersion", "")), results)


def load_previous(paths: list[Path]) -> dict[str, PreviousResults]:
    """Previous results by verifier name, from results files or report directories."""
    found: dict[str, PreviousResults] = {}
    for path in paths:
        if path.is_dir():
            files = sorted((path / "results").glob("*.json")) or sorted(path.glob("*.json"))
            if not files:
                raise ReportError(f"{escaped(str(path))} holds no results/*.json")
        else:
            files = [path]
        for file in files:
            previous = load_results(file)
            found[previous.verifier] = previous
    return found


# -- diff --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One vector whose result differs from the previous run."""

    id: str
    previous: str
    current: str
    kind: str
    """``regression`` (was fine, now an anomaly), ``fix``, ``changed``, ``new`` or ``removed``."""


def _state(result: CaseResult | None) -> str:
    if result is None:
        return "absent"
    verdict = result.verdict.value + (f" {result.reason}" if result.reason else "")
    return f"{result.outcome.value} ({verdict})"


def diff(previous: PreviousResults, current: VerifierRun, corpus_ids: set[str] | None = None) -> list[Change]:
    """Changes from ``previous`` to ``current``, regressions first.

    A reason that appears or disappears (one side gave none) is not a change; a different reason is.
    Ids missing from the current results are ``removed`` only when the corpus no longer holds them
    (a filtered run does not report the rest as removed).
    """
    now = {r.id: r for r in current.results}
    changes: list[Change] = []
    for vector_id, result in now.items():
        before = previous.results.get(vector_id)
        if before is None:
            changes.append(Change(vector_id, "absent", _state(result), "new"))
            continue
        same_reason = before.reason == result.reason or before.reason is None or result.reason is None
        if (before.outcome, before.verdict) == (result.outcome, result.verdict) and same_reason:
            continue
        was_ok, is_ok = before.outcome in _OK, result.outcome in _OK
        kind = "regression" if was_ok and not is_ok else "fix" if is_ok and not was_ok else "changed"
        changes.append(Change(vector_id, _state(before), _state(result), kind))
    for vector_id, before in previous.results.items():
        if vector_id not in now and (corpus_ids is None or vector_id not in corpus_ids):
            changes.append(Change(vector_id, _state(before), "absent", "removed"))
    rank = {"regression": 0, "fix": 1, "changed": 2, "new": 3, "removed": 4}
    return sorted(changes, key=lambda c: (rank[c.kind], c.id))


# -- skips per format --------------------------------------------------------------------------

def skip_kind(result: CaseResult, verifier: VerifierRun, corpus: Corpus) -> str:
    """Why a SKIPPED case was not run, in a few words shared by every case skipped for the same cause."""
    if not verifier.info.claims_format(result.format):
        return "format not claimed"
    if any(not check.ok for check in verifier.sanity if check.format == result.format):
        return "golden not accepted"
    if result.id in corpus and skip_reason(corpus.get(result.id), verifier.info) is not None:
        return "features not claimed"
    return "declined by the verifier"


def skips_by_format(verifier: VerifierRun, corpus: Corpus) -> dict[str, Counter[str]]:
    """Format -> (why -> SKIPPED cases), formats in result order."""
    skips: dict[str, Counter[str]] = {}
    for result in verifier.results:
        if result.outcome is Outcome.SKIPPED:
            skips.setdefault(result.format, Counter())[skip_kind(result, verifier, corpus)] += 1
    return skips


def skip_lines(verifier: VerifierRun, corpus: Corpus) -> list[str]:
    """Console lines summarising the SKIPPED cases, one per cause: ``skipped (format not claimed): luna-pkc 40``."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for format_name, kinds in skips_by_format(verifier, corpus).items():
        for kind, count in kinds.items():
            by_kind[kind].append(f"{format_name} {count}")
    return [visible(f"skipped ({kind}): {', '.join(parts)}", TEXT_LIMIT) for kind, parts in by_kind.items()]


def _kinds_text(kinds: Counter[str]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in kinds.items())


def _tests_text(result: CaseResult, corpus: Corpus) -> str:
    """What the vector tests: its comment, then its flags."""
    comment = corpus.get(result.id).comment if result.id in corpus else ""
    flags = f"[{', '.join(result.flags)}]" if result.flags else ""
    return " ".join(part for part in (comment, flags) if part)


# -- JUnit -------------------------------------------------------------------------------------

def _x(text: str) -> str:
    return visible(text, TEXT_LIMIT)


def junit_xml(run: ConformanceRun) -> str:
    """JUnit XML: one suite per verifier; anomalies are failures, HANG/CRASH/ERROR errors. Always well-formed."""
    root = ET.Element("testsuites", name="hsmsim conformance")
    totals: Counter[str] = Counter()
    for verifier in run.verifiers:
        failing = {r.id for r in verifier.failing()}
        suite = ET.SubElement(root, "testsuite", name=_x(verifier.info.name))
        props = ET.SubElement(suite, "properties")
        for key, value in (("verifierVersion", verifier.info.version), ("profile", verifier.info.profile),
                           ("suiteVersion", run.corpus.suite_version), ("mode", verifier.info.mode)):
            ET.SubElement(props, "property", name=key, value=_x(value))
        if run.options.fail_on is not None:
            ET.SubElement(props, "property", name="failOn", value=run.options.fail_on.value)
        for format_name, kinds in skips_by_format(verifier, run.corpus).items():
            ET.SubElement(props, "property", name=_x(f"skipped.{format_name}"), value=_x(_kinds_text(kinds)))
        counts: Counter[str] = Counter()
        for result in verifier.results:
            case = ET.SubElement(suite, "testcase",
                                 classname=_x(f"{verifier.info.name}.{result.format}.{result.category}"),
                                 name=_x(result.id), time=f"{result.duration_ms / 1000:.3f}")
            counts["tests"] += 1
            message = _x(result.describe())
            # each line escaped on its own: the newline between them is the report's, not the verifier's
            body = "\n".join(_x(t) for t in (result.detail, f"tests: {_tests_text(result, run.corpus)}") if t)
            if result.id in failing:
                broken = result.outcome in (Outcome.HANG, Outcome.CRASH, Outcome.ERROR)
                ET.SubElement(case, "error" if broken else "failure", message=message,
                              type=result.outcome.value).text = body
                counts["errors" if broken else "failures"] += 1
            elif result.outcome in (Outcome.SKIPPED, Outcome.WAIVED):
                text = result.detail if result.outcome is Outcome.SKIPPED else f"waived: {result.waiver}"
                ET.SubElement(case, "skipped", message=_x(text))
                counts["skipped"] += 1
            elif result.outcome is not Outcome.PASS:
                # tolerated: a wrong reason without --strict-reasons, an anomaly below --fail-on
                ET.SubElement(case, "system-out").text = message
        time_total = sum(r.duration_ms for r in verifier.results) / 1000
        for key in ("tests", "failures", "errors", "skipped"):
            suite.set(key, str(counts[key]))
            totals[key] += counts[key]
        suite.set("time", f"{time_total:.3f}")
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- HTML --------------------------------------------------------------------------------------

_CELL = {
    Outcome.PASS: ("pass", "ok"), Outcome.UNEXPECTED_ACCEPT: ("uacc", "ACCEPT!"),
    Outcome.UNEXPECTED_REJECT: ("urej", "REJECT!"), Outcome.WRONG_REASON: ("wrong", "reason?"),
    Outcome.HANG: ("hang", "HANG"), Outcome.CRASH: ("crash", "CRASH"), Outcome.ERROR: ("error", "ERROR"),
    Outcome.SKIPPED: ("skip", "skip"), Outcome.WAIVED: ("waived", "waived"), Outcome.XPASS: ("xpass", "XPASS"),
}
_ANOMALY_SECTIONS = (
    ("Unexpected ACCEPT", (Outcome.UNEXPECTED_ACCEPT,)),
    ("Unexpected REJECT", (Outcome.UNEXPECTED_REJECT,)),
    ("Right verdict, wrong reason", (Outcome.WRONG_REASON,)),
    ("HANG / CRASH / ERROR", (Outcome.HANG, Outcome.CRASH, Outcome.ERROR)),
    ("SKIPPED", (Outcome.SKIPPED,)),
    ("Stale waivers (XPASS)", (Outcome.XPASS,)),
    ("Waived (known divergences)", (Outcome.WAIVED,)),
)
_CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#d9dee7;--bg:#f6f7f9}
*{box-sizing:border-box}
body{font:14px/1.45 "DejaVu Sans",system-ui,sans-serif;color:var(--fg);margin:0;background:#fff}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px} header p{margin:0;color:#c8cfdc}
main{padding:8px 28px 40px;max-width:1500px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
td.name{white-space:nowrap}
th{background:var(--bg);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px "DejaVu Sans Mono",monospace}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700;font-size:12px}
.badge.fail{background:#c62828;color:#fff} .badge.ok{background:#2e7d32;color:#fff}
.verdict{font-size:15px;margin:14px 0}
.sanity{border-left:4px solid #c62828;background:#fdecea;padding:6px 12px;margin:6px 0}
.matrix td.c{text-align:center;font:11px "DejaVu Sans Mono",monospace;min-width:58px;white-space:nowrap}
.matrix th.v{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-size:12px;padding:6px 3px}
.matrix tr.fmt th{background:#1d2330;color:#fff;font-size:14px}
.matrix tr.cat th{background:#e8ebf1;font-weight:600}
.matrix td.id code{font-size:12px}
.sev{font-size:11px;text-transform:uppercase;letter-spacing:.03em}
.sev-critical{color:#b71c1c;font-weight:700} .sev-high{color:#d84315;font-weight:600}
.sev-medium{color:#8d6e00} .sev-low,.sev-info{color:var(--muted)}
.pass{background:#e3f4e4;color:#1b5e20} .uacc{background:#c62828;color:#fff;font-weight:700}
.urej{background:#ef6c00;color:#fff;font-weight:700} .wrong{background:#fff3c4;color:#6d4c00}
.hang,.crash,.error{background:#6a1b9a;color:#fff;font-weight:700} .skip{background:#eceff1;color:#78909c}
.waived{background:#dbe9fb;color:#0d47a1} .xpass{background:#ad1457;color:#fff;font-weight:700}
.legend span{display:inline-block;margin:2px 8px 2px 0;padding:1px 8px;border-radius:3px;font:12px monospace}
details summary{cursor:pointer;color:var(--muted)}
.kind-regression{color:#c62828;font-weight:700} .kind-fix{color:#2e7d32;font-weight:700}
"""


def _e(text: object) -> str:
    return html.escape(visible(str(text), TEXT_LIMIT), quote=True)


def _anchor(name: str) -> str:
    return "v-" + safe_name(name)


def _expectation_text(vector: Vector, profile: str) -> str:
    expected, reason = vector.expectation(profile)
    if expected is Expected.INVALID:
        return f"REJECT {reason}"
    return expected.verdict


def _got(result: CaseResult) -> str:
    return result.verdict.value + (f" {result.reason}" if result.reason else "")


def _cell(result: CaseResult | None, vector: Vector) -> str:
    if result is None:
        return '<td class="c skip muted">-</td>'
    css, label = _CELL[result.outcome]
    if result.outcome is Outcome.PASS:
        label = "ACC" if result.verdict is Actual.ACCEPT else "REJ"
    title = f"{vector.id}: {result.outcome.value}; expected {result.expected.verdict}"
    if result.expected is Expected.INVALID:
        title += f" {result.expected_reason}"
    title += f"; got {_got(result)}"
    if result.detail:
        title += f" - {result.detail}"
    if result.waiver:
        title += f" [waiver: {result.waiver}]"
    return f'<td class="c {css}" title="{_e(title)}">{_e(label)}</td>'


def _summary(run: ConformanceRun, changes: dict[str, list[Change]]) -> list[str]:
    out = ["<h2>Verifiers</h2><table><tr><th>verifier</th><th>version</th><th>mode</th><th>profile</th>"
           "<th>pass</th><th>unexpected ACCEPT</th><th>unexpected REJECT</th><th>wrong reason</th>"
           "<th>HANG/CRASH/ERROR</th><th>skipped</th><th>waived</th><th>XPASS</th><th>regressions</th>"
           "<th>result</th></tr>"]
    for verifier in run.verifiers:
        c = verifier.counts()
        broken = c["HANG"] + c["CRASH"] + c["ERROR"]
        regressions = sum(1 for ch in changes.get(verifier.info.name, []) if ch.kind == "regression")
        badge = '<span class="badge fail">FAIL</span>' if verifier.failed else '<span class="badge ok">OK</span>'
        cells = [c["PASS"], c["UNEXPECTED_ACCEPT"], c["UNEXPECTED_REJECT"], c["WRONG_REASON"], broken,
                 c["SKIPPED"], c["WAIVED"], c["XPASS"] + len(verifier.stale_waivers),
                 regressions if verifier.info.name in changes else "-"]
        out.append(f'<tr><td class="name"><a href="#{_anchor(verifier.info.name)}">{_e(verifier.info.name)}</a></td>'
                   f"<td>{_e(verifier.info.version)}</td><td>{_e(verifier.info.mode)}</td>"
                   f"<td>{_e(verifier.info.profile)}</td>"
                   + "".join(f'<td class="num">{_e(v)}</td>' for v in cells) + f"<td>{badge}</td></tr>")
    out.append("</table>")
    return out


def _matrix(run: ConformanceRun) -> list[str]:
    by_verifier = {v.info.name: {r.id: r for r in v.results} for v in run.verifiers}
    profiles = list(dict.fromkeys(v.info.profile for v in run.verifiers)) or ["structural"]
    width = 3 + len(run.verifiers)
    out = ["<h2>Matrix</h2>", '<div class="legend">'
           + "".join(f'<span class="{css}">{_e(label)} = {_e(o.value.lower().replace("_", " "))}</span>'
                     for o, (css, label) in _CELL.items() if o is not Outcome.PASS)
           + '<span class="pass">ACC/REJ = expected verdict</span></div>',
           '<table class="matrix"><thead><tr><th>vector</th><th>severity</th><th>expected ('
           + _e(" / ".join(profiles)) + ")</th>"
           + "".join(f'<th class="v">{_e(v.info.name)}</th>' for v in run.verifiers) + "</tr></thead><tbody>"]
    groups: dict[str, dict[str, list[Vector]]] = defaultdict(lambda: defaultdict(list))
    for vector in run.vectors:
        groups[vector.format][vector.category].append(vector)
    for format_name, categories in groups.items():
        total = sum(len(v) for v in categories.values())
        out.append(f'<tr class="fmt"><th colspan="{width}">{_e(format_name)} &middot; {total} vectors</th></tr>')
        ran = [r for vectors in categories.values() for v in vectors for results in by_verifier.values()
               if (r := results.get(v.id)) is not None and r.outcome is not Outcome.SKIPPED]
        if not ran:
            out.append(f'<tr><td class="muted" colspan="{width}">every vector skipped by every verifier '
                       "(see SKIPPED per verifier)</td></tr>")
            continue
        for category, vectors in categories.items():
            out.append(f'<tr class="cat"><th colspan="{width}">{_e(category or "-")} ({len(vectors)})</th></tr>')
            for vector in vectors:
                expected = " / ".join(dict.fromkeys(_expectation_text(vector, p) for p in profiles))
                out.append(f'<tr><td class="id" title="{_e(vector.comment)}"><code>{_e(vector.id)}</code></td>'
                           f'<td class="sev sev-{_e(vector.severity)}">{_e(vector.severity)}</td>'
                           f"<td><code>{_e(expected)}</code></td>"
                           + "".join(_cell(by_verifier[v.info.name].get(vector.id), vector) for v in run.verifiers)
                           + "</tr>")
    out.append("</tbody></table>")
    return out


def _result_rows(results: list[CaseResult], corpus: Corpus) -> str:
    rows = ["<table><tr><th>vector</th><th>severity</th><th>what it tests</th><th>expected</th><th>got</th>"
            "<th>detail</th></tr>"]
    for r in results:
        want = r.expected.verdict + (f" {r.expected_reason}" if r.expected is Expected.INVALID else "")
        detail = r.detail + (f" [waiver: {r.waiver}]" if r.waiver else "")
        rows.append(f"<tr><td><code>{_e(r.id)}</code></td><td class=\"sev sev-{_e(r.severity)}\">{_e(r.severity)}"
                    f"</td><td>{_e(_tests_text(r, corpus))}</td><td><code>{_e(want)}</code></td>"
                    f"<td><code>{_e(_got(r))}</code></td><td>{_e(detail)}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def anomalies(verifier: VerifierRun) -> list[tuple[str, list[CaseResult]]]:
    """The verifier's anomalies as (section title, results) in report order; unexpected ACCEPT critical first."""
    sections = []
    for title, outcomes in _ANOMALY_SECTIONS:
        chosen = [r for r in verifier.results if r.outcome in outcomes]
        if outcomes == (Outcome.UNEXPECTED_ACCEPT,):
            chosen.sort(key=lambda r: severity_rank(r.severity))
        sections.append((title, chosen))
    return sections


def _anomalies(run: ConformanceRun, changes: dict[str, list[Change]]) -> list[str]:
    out = ["<h2>Anomalies per verifier</h2>"]
    for verifier in run.verifiers:
        out.append(f'<h2 id="{_anchor(verifier.info.name)}">{_e(verifier.info.name)} '
                   f'<span class="muted">{_e(verifier.info.version)} &middot; {_e(verifier.info.mode)} &middot; '
                   f"profile {_e(verifier.info.profile)}</span></h2>")
        if verifier.config.description:
            out.append(f'<p class="muted">{_e(verifier.config.description)}</p>')
        for check in verifier.sanity:
            if not check.ok:
                out.append(f'<div class="sanity">{_e(check.message)}</div>')
        for message in verifier.stale_waivers:
            out.append(f'<div class="sanity">{_e(message)}</div>')
        if run.options.fail_on is not None:
            failing = {r.id for r in verifier.failing()}
            below = sum(1 for r in verifier.results if r.outcome in FAILING and r.id not in failing)
            out.append(f'<p class="muted">{below} unexpected verdict(s) on vectors less severe than '
                       f"{_e(run.options.fail_on.value)} do not fail the run (--fail-on)</p>")
        for title, results in anomalies(verifier):
            if title == "SKIPPED":
                if not results:
                    out.append(f'<h3>{_e(title)} <span class="muted">(0)</span></h3>')
                    continue
                out.append(f"<h3>{_e(title)} ({len(results)})</h3>"
                           "<table><tr><th>format</th><th>skipped</th><th>why</th></tr>")
                for format_name, kinds in skips_by_format(verifier, run.corpus).items():
                    out.append(f"<tr><td><code>{_e(format_name)}</code></td>"
                               f'<td class="num">{sum(kinds.values())}</td><td>{_e(_kinds_text(kinds))}</td></tr>')
                out.append("</table>")
                by_why: dict[tuple[str, str], list[str]] = defaultdict(list)
                for r in results:
                    by_why[(r.format, r.detail)].append(r.id)
                for (format_name, why), ids in by_why.items():
                    out.append(f"<details><summary>{_e(format_name)}: {len(ids)} &times; {_e(why)}</summary><p>"
                               + ", ".join(f"<code>{_e(i)}</code>" for i in ids) + "</p></details>")
                continue
            if not results:
                if title.startswith("Waived") or title.startswith("Stale"):
                    continue
                out.append(f'<h3>{_e(title)} <span class="muted">(0)</span></h3>')
                continue
            out.append(f"<h3>{_e(title)} ({len(results)})</h3>" + _result_rows(results, run.corpus))
        if verifier.info.name in changes:
            out.append(_changes_table(changes[verifier.info.name]))
    return out


def _changes_table(changes: list[Change]) -> str:
    if not changes:
        return '<h3>Changes since the previous results</h3><p class="muted">none</p>'
    rows = [f"<h3>Changes since the previous results ({len(changes)})</h3><table><tr><th>vector</th>"
            "<th>previous</th><th>current</th><th>change</th></tr>"]
    for change in changes:
        rows.append(f"<tr><td><code>{_e(change.id)}</code></td><td><code>{_e(change.previous)}</code></td>"
                    f"<td><code>{_e(change.current)}</code></td>"
                    f'<td class="kind-{_e(change.kind)}">{_e(change.kind)}</td></tr>')
    rows.append("</table>")
    return "".join(rows)


def render_html(run: ConformanceRun, changes: dict[str, list[Change]] | None = None) -> str:
    """The self-contained HTML report (no script, no external resource)."""
    changes = changes or {}
    failing = [v.info.name for v in run.verifiers if v.failed]
    formats = sorted({v.format for v in run.vectors})
    verdict = (f'<p class="verdict"><span class="badge fail">FAIL</span> {len(failing)} of {len(run.verifiers)} '
               f"verifier(s) with unexpected verdicts: {_e(', '.join(failing))}</p>" if failing else
               '<p class="verdict"><span class="badge ok">OK</span> no unexpected verdicts</p>')
    scope = []
    if run.options.shard is not None:
        scope.append(f"shard {run.options.shard}")
    if run.options.fail_on is not None:
        scope.append(f"fails on {run.options.fail_on.value} and more severe")
    if run.options.strict_reasons:
        scope.append("strict reasons")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>hsmsim conformance report</title>", f"<style>{_CSS}</style></head><body>",
             "<header><h1>hsmsim conformance report</h1>"
             f"<p>suite {_e(run.corpus.suite_version)} &middot; {len(run.vectors)} vectors "
             f"({_e(', '.join(formats))}) &middot; {len(run.verifiers)} verifier(s) &middot; "
             f"hsmsim {_e(__version__)}{''.join(f' &middot; {_e(part)}' for part in scope)}</p></header><main>",
             verdict]
    sanity = [c for v in run.verifiers for c in v.sanity if not c.ok]
    if sanity:
        parts.append("<h2>Sanity</h2>" + "".join(f'<div class="sanity">{_e(c.message)}</div>' for c in sanity))
    parts += _summary(run, changes)
    parts += _matrix(run)
    parts += _anomalies(run, changes)
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


# -- writing -----------------------------------------------------------------------------------

def _write(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 through a temporary file and a rename: a crash leaves the old file, not an empty one.

    (:func:`hsmsim._atomic.replace_file`, not ``write_atomic``: its private 0600 temporary file would make the report
    unreadable to the CI server that publishes it; this one is created under the umask.)
    """
    replace_file(path, text.encode())


@dataclass(frozen=True)
class ReportPaths:
    """Where a report was written, and the changes since the previous results (by verifier) it shows."""

    directory: Path
    results: list[Path]
    junit: Path
    html: Path
    changes: dict[str, list[Change]]


def check_report_dir(directory: Path, *, overwrite: bool, option: str = "--report",
                     overwrite_flag: str = "--overwrite") -> None:
    """Refuse (:class:`HsmsimError`) a report directory that is not a directory or cannot be looked at, or that
    exists and is not empty, unless ``overwrite``; the message names the caller's ``option`` and ``overwrite_flag``
    (the pytest plugin's are ``--hsmsim-report`` and ``--hsmsim-overwrite``).

    One run, one report: a results file left by an earlier run with another verifier would otherwise be
    published, diffed or merged as if it belonged to this run. Called before the run starts, so a CI job
    fails in a second, not after the suite.
    """
    check_output_directory(directory, option, holds="a report", replace_flag=overwrite_flag, replace=overwrite)


def write_report(run: ConformanceRun, directory: Path, previous: list[Path] | None = None) -> ReportPaths:
    """Write results JSON, JUnit XML and HTML under ``directory``; raises :class:`ReportError`.

    Results files of verifiers that are not part of ``run`` are removed from ``directory/results``, so the
    directory holds one run (previous results are read first: ``--previous`` may name the same directory).
    """
    prior = load_previous(previous or [])
    corpus_ids = {v.id for v in run.corpus.vectors}
    changes: dict[str, list[Change]] = {}
    for verifier in run.verifiers:
        match = prior.get(verifier.info.name)
        if match is None and len(prior) == 1 and len(run.verifiers) == 1:
            match = next(iter(prior.values()))
        if match is not None:
            changes[verifier.info.name] = diff(match, verifier, corpus_ids)
    results_dir = directory / "results"
    if results_dir.is_symlink() or (os.path.lexists(results_dir) and not results_dir.is_dir()):
        # an earlier run's results are replaced and removed in it: never in a directory elsewhere
        raise ReportError(f"{escaped(str(results_dir))} is not a directory of the report (a symlink?); not writing "
                          "through it")
    try:
        written = []
        for verifier in run.verifiers:
            path = results_dir / f"{safe_name(verifier.info.name)}.json"
            # ensure_ascii: a lone surrogate is written as an escape sequence, never as invalid UTF-8
            document = json.dumps(results_document(verifier, run.corpus.suite_version, run.options,
                                                   [v.info.name for v in run.verifiers]), indent=1, ensure_ascii=True)
            _write(path, document + "\n")
            written.append(path)
        for leftover in sorted(set(results_dir.glob("*.json")) - set(written)):
            leftover.unlink()
        junit = directory / "junit.xml"
        _write(junit, junit_xml(run))
        page = directory / "index.html"
        _write(page, render_html(run, changes))
    except OSError as exc:
        raise ReportError(f"cannot write the report into {escaped(str(directory))}: {exc.strerror}") from exc
    return ReportPaths(directory, written, junit, page, changes)


def regression_lines(changes: list[Change]) -> list[str]:
    """Console lines for the regressions among ``changes`` (was fine, now an anomaly); safe to print."""
    return [visible(f"regression {c.id}: {c.previous} -> {c.current}", TEXT_LIMIT)
            for c in changes if c.kind == "regression"]


def failing_lines(verifier: VerifierRun) -> list[str]:
    """Console lines for the verifier's failing cases (only those), in anomaly order; safe to print."""
    failing = {r.id for r in verifier.failing()}
    lines = [r.describe() + (f" [{r.waiver}]" if r.outcome is Outcome.XPASS and r.waiver else "")
             for _, results in anomalies(verifier) for r in results if r.id in failing]
    lines += verifier.stale_waivers
    lines += [c.message for c in verifier.sanity if not c.ok]
    if verifier.tested_nothing():
        lines.append(f"{nothing_run_line(verifier)} (see below)")
    return [visible(line, TEXT_LIMIT) for line in lines]


def nothing_run_line(verifier: VerifierRun) -> str:
    """Why a verifier whose every selected vector was skipped fails the run (see ``VerifierRun.tested_nothing``)."""
    return f"no vector was run: all {len(verifier.results)} selected were skipped"

