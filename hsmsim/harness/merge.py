"""Merge the reports of a sharded run (``--shard K/N``) into the run one unsharded invocation would have made.

Each shard writes an ordinary report directory whose ``results/<verifier>.json`` records the selection and the
judging options (``run``). :func:`merge_shards` checks that the shards belong together (same suite, same
verifiers and versions, same selection and options, every shard ``0..N-1`` exactly once, no vector twice) and
rebuilds a :class:`~hsmsim.harness.runner.ConformanceRun` over the corpus, which
:func:`~hsmsim.harness.report.write_report` then writes as if it had been run in one piece.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hsmsim.errors import HsmsimError
from hsmsim.harness.config import AdapterConfig
from hsmsim.harness.model import Answer, CaseResult, Outcome, VerifierInfo
from hsmsim.harness.report import RESULTS_VERSION, ReportError, file_name_clash, read_results_document
from hsmsim.harness.runner import ConformanceRun, RunOptions, SanityCheck, VerifierRun, classify
from hsmsim.harness.text import one_line
from hsmsim.harness.vectors import Corpus, Vector
from hsmsim.verdict import escaped


class MergeError(HsmsimError):
    """Shard reports that cannot be merged: unreadable, from different runs, or incomplete."""


@dataclass(frozen=True)
class _ShardResults:
    """One results file of one shard."""

    path: Path
    info: VerifierInfo
    description: str
    options: RunOptions
    results: list[CaseResult]
    sanity: list[SanityCheck]
    stale_waivers: list[str]
    verifiers: list[str]
    """Every verifier of the shard's run, in ``--verifier`` order."""


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted((path / "results").glob("*.json"))
            if not found:
                raise MergeError(f"{escaped(str(path))} holds no results/*.json (is it a report directory of a shard?)")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise MergeError(f"{escaped(str(path))} is not a report directory or a results file")
    return files


def _read(path: Path, corpus: Corpus) -> _ShardResults:
    try:
        data, records = read_results_document(path)
    except ReportError as exc:
        raise MergeError(str(exc)) from None
    try:
        if data.get("version") != RESULTS_VERSION:
            raise ValueError(f"results version {data.get('version')!r}, this hsmsim reads {RESULTS_VERSION}")
        info = VerifierInfo.from_json({**data, "name": data["verifier"], "version": data.get("verifierVersion", "")})
        shard = _ShardResults(
            path=path, info=info, description=str(data.get("description", "")),
            options=RunOptions.from_json(data.get("run") or {}),
            results=[CaseResult.from_json(info.name, r) for r in records],
            sanity=[SanityCheck.from_json(info.name, s) for s in data.get("sanity", [])],
            stale_waivers=[str(m) for m in data.get("staleWaivers", [])],
            verifiers=[str(n) for n in (data.get("run") or {}).get("verifiers", [])])
        suite = str(data.get("suiteVersion", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MergeError(f"{escaped(str(path))} is not a hsmsim conformance results file: "
                         f"{one_line(str(exc), 200)}") from exc
    if suite != corpus.suite_version:
        raise MergeError(f"{escaped(str(path))} holds results of suite {suite}, the corpus at "
                         f"{escaped(str(corpus.root))} is "
                         f"{corpus.suite_version}: merge with the corpus the shards ran (--vectors)")
    if shard.options.shard is None:
        raise MergeError(f"{escaped(str(path))} is not the report of a shard (run with --shard K/N)")
    return shard


def _merge_verifier(name: str, shards: list[_ShardResults], corpus: Corpus, options: RunOptions) -> VerifierRun:
    first = shards[0]
    for shard in shards[1:]:
        if shard.info != first.info:
            raise MergeError(f"verifier {name!r} differs between {first.path} and {shard.path} "
                             f"({first.info.version} {first.info.profile} vs {shard.info.version} "
                             f"{shard.info.profile}): the shards did not run the same verifier")
    count = first.options.shard.count if first.options.shard else 1
    seen = sorted(s.options.shard.index for s in shards if s.options.shard is not None)
    if seen != list(range(count)):
        missing = sorted(set(range(count)) - set(seen))
        twice = sorted({i for i in seen if seen.count(i) > 1})
        problem = (f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing (a failed or cancelled job?)"
                   if missing else f"shard(s) {', '.join(f'{i}/{count}' for i in twice)} given twice")
        raise MergeError(f"verifier {name!r}: {problem}")
    results: dict[str, CaseResult] = {}
    came_from: dict[str, Path] = {}
    for shard in shards:
        for result in shard.results:
            if result.id in results:
                raise MergeError(f"vector {result.id!r} of verifier {name!r} appears in two shards")
            results[result.id] = result
            came_from[result.id] = shard.path
    selection = corpus.select(formats=options.formats, patterns=options.patterns)
    missing_ids = [v.id for v in selection if v.id not in results]
    extra_ids = sorted(set(results) - {v.id for v in selection})
    if missing_ids or extra_ids:
        raise MergeError(f"verifier {name!r}: the shards do not cover the selection of the corpus at "
                         f"{escaped(str(corpus.root))} ({len(missing_ids)} vector(s) missing, {len(extra_ids)} "
                         f"unknown, e.g. {(missing_ids + extra_ids)[0]})")
    for vector in selection:
        _check_judged(results[vector.id], vector, first.info.profile, came_from[vector.id])
    sanity: dict[str, SanityCheck] = {}
    for shard in shards:
        for check in shard.sanity:
            if check.format not in sanity or (sanity[check.format].ok and not check.ok):
                sanity[check.format] = check
    order = {f: i for i, f in enumerate(corpus.formats())}
    config = AdapterConfig(name=name, mode=first.info.mode, profile=first.info.profile,
                           formats=first.info.formats, features=first.info.features, version=first.info.version,
                           description=first.description, source=str(first.path))
    return VerifierRun(config=config, info=first.info, results=[results[v.id] for v in selection],
                       sanity=sorted(sanity.values(), key=lambda c: order.get(c.format, len(order))),
                       stale_waivers=list(dict.fromkeys(m for s in shards for m in s.stale_waivers)),
                       strict_reasons=options.strict_reasons, fail_on=options.fail_on)


_WAIVED_FROM: dict[Outcome, frozenset[Outcome]] = {
    Outcome.PASS: frozenset({Outcome.PASS, Outcome.XPASS}),
    Outcome.WRONG_REASON: frozenset({Outcome.WRONG_REASON, Outcome.WAIVED, Outcome.XPASS}),
    Outcome.SKIPPED: frozenset({Outcome.SKIPPED}),
}
"""The outcomes a waiver (or none) can make of each outcome :func:`~hsmsim.harness.runner.classify` gives; any
other failing outcome stays itself or becomes WAIVED."""


def _check_judged(result: CaseResult, vector: Vector, profile: str, path: Path) -> None:
    """A shard's result must be the judgement of its own answer against this corpus's vector: a shard run on
    another corpus (same suite version, other expectations) or with an edited outcome, severity, format, category
    or flags, or a waived outcome without the waiver's text, is refused, not merged."""
    for field, recorded, corpus_says in (("severity", result.severity, vector.severity.value),
                                         ("format", result.format, vector.format),
                                         ("category", result.category, vector.category),
                                         ("flags", list(result.flags), list(vector.flags))):
        if recorded != corpus_says:
            raise MergeError(f"{escaped(str(path))} gives {vector.id!r} the {field} "
                             f"{one_line(repr(recorded), 80)}, the corpus (--vectors) says {corpus_says!r}: the "
                             "results were edited, or merge with the corpus the shards ran")
    if result.outcome in (Outcome.WAIVED, Outcome.XPASS) and not result.waiver:
        raise MergeError(f"{escaped(str(path))}: {vector.id!r} is {result.outcome.value} without the waiver it names "
                         "(waiver is empty); the results were edited")
    expected, expected_reason = vector.expectation(profile)
    if (result.expected, result.expected_reason) != (expected, expected_reason):
        raise MergeError(f"{escaped(str(path))} judged {vector.id!r} as {result.expected.value} "
                         f"{result.expected_reason}, the corpus (--vectors) says "
                         f"{expected.value} {expected_reason}: merge with the corpus the shards ran")
    raw = classify(expected, expected_reason, Answer(result.verdict, result.reason, result.detail))
    if result.outcome not in _WAIVED_FROM.get(raw, frozenset({raw, Outcome.WAIVED})):
        raise MergeError(f"{escaped(str(path))}: the outcome {result.outcome.value} of {vector.id!r} does not follow "
                         f"from its verdict {result.verdict.value} (judged: {raw.value}); the results were edited")


def merge_shards(paths: list[Path], corpus: Corpus) -> ConformanceRun:
    """The run the shard reports (report directories or results files) make together; raises :class:`MergeError`.

    Equal to the unsharded run over the same selection, durations aside: same results in corpus order, same
    sanity probes, same stale waivers, same options.
    """
    shards = [_read(path, corpus) for path in _files(paths)]
    options = replace(shards[0].options, shard=None)
    for shard in shards:
        if replace(shard.options, shard=None) != options:
            raise MergeError(f"{shard.path} was run with other options than {shards[0].path} "
                             f"({shard.options.to_json()} vs {shards[0].options.to_json()})")
        if shard.options.shard and shards[0].options.shard and \
                shard.options.shard.count != shards[0].options.shard.count:
            raise MergeError(f"{shard.path} is shard {shard.options.shard}, {shards[0].path} is shard "
                             f"{shards[0].options.shard}: the shards of one run share N")
    by_name: dict[str, list[_ShardResults]] = {}
    for shard in shards:
        by_name.setdefault(shard.info.name, []).append(shard)
    expected = shards[0].verifiers or sorted(by_name)
    if sorted(expected) != sorted(by_name):
        raise MergeError(f"the shards ran verifiers {', '.join(expected)}, results were given for "
                         f"{', '.join(sorted(by_name))}")
    clash = file_name_clash(expected)
    if clash is not None:
        raise MergeError(clash)
    verifiers = [_merge_verifier(name, by_name[name], corpus, options) for name in expected]
    return ConformanceRun(corpus=corpus, vectors=corpus.select(formats=options.formats, patterns=options.patterns),
                          verifiers=verifiers, options=options)
