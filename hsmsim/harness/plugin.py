"""pytest plugin (entry point ``pytest11``: ``hsmsim``): the conformance suite, one test per vector id.

    pytest -p hsmsim --hsmsim-verifier FILE [--hsmsim-verifier FILE ...] [-n auto --dist worksteal]
           [--hsmsim-vectors DIR] [--hsmsim-report DIR [--hsmsim-overwrite]] [--hsmsim-timeout S]
           [--hsmsim-format F] [--hsmsim-shard K/N] [--hsmsim-previous PATH] [--hsmsim-strict-reasons]
           [--hsmsim-fail-on SEVERITY]

The options mean what the same options of ``hsmsim conformance run`` mean. The plugin is loaded into
every pytest run of an environment where hsmsim is installed, so it is **inert without**
``--hsmsim-verifier``: it only adds its options (and two fixtures nobody else requests). With a verifier
and no test paths it runs :mod:`hsmsim.conformance`; with paths (e.g. ``--pyargs hsmsim.conformance``, or
a printed ``path::test_vector[id]``) it runs what it is given.

Each xdist worker keeps one live verifier per adapter (one persistent process per worker) and
runs its own sanity probe; results travel to the controller in ``user_properties`` and the
controller writes the report.
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

RESULT_PROPERTY = "hsmsim_conformance_result"
START_ERROR_PROPERTY = "hsmsim_conformance_start_error"
"""Carries ``[verifier name, why it did not start]`` of a case that failed so to the controller."""
_PLUGIN_NAME = "hsmsim-conformance"

_DEPRECATED = {"--verifier": "--hsmsim-verifier", "--vectors-root": "--hsmsim-vectors",
               "--conformance-report": "--hsmsim-report", "--conformance-format": "--hsmsim-format",
               "--conformance-timeout": "--hsmsim-timeout", "--conformance-previous": "--hsmsim-previous",
               "--conformance-strict-reasons": "--hsmsim-strict-reasons"}
"""The options of hsmsim 0.1, still read (hidden from --help, with a warning); removed in the next release."""
_REPEATABLE = ("--hsmsim-verifier", "--hsmsim-format", "--hsmsim-previous")


class ConformanceWarning(UserWarning):
    """A vector was rejected for a different reason than expected, or an anomaly is below ``--hsmsim-fail-on``
    (not a failure)."""


class ConformanceDeprecationWarning(FutureWarning):
    """An option of the plugin's old, unprefixed spelling was used."""


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the conformance options (and nothing else)."""
    from hsmsim.harness.model import SEVERITY_ORDER

    group = parser.getgroup("hsmsim", "hsmsim conformance suite (inert unless --hsmsim-verifier is given)")
    group.addoption("--hsmsim-verifier", action="append", default=[], metavar="FILE",
                    help="run the hsmsim conformance suite against this adapter file (or python:module:function)")
    group.addoption("--hsmsim-vectors", default=None, metavar="DIR",
                    help="the corpus (default: $HSMSIM_VECTORS, else ./vectors, else hsmsim's own)")
    group.addoption("--hsmsim-report", default=None, metavar="DIR",
                    help="write results/<verifier>.json, junit.xml and index.html into DIR (new or empty)")
    group.addoption("--hsmsim-overwrite", action="store_true", default=False,
                    help="replace the report in a non-empty --hsmsim-report directory")
    group.addoption("--hsmsim-format", action="append", default=[], metavar="F",
                    help="only vectors of this format (repeatable)")
    group.addoption("--hsmsim-shard", default=None, metavar="K/N",
                    help="only shard K (0..N-1) of N of the vectors, assigned by a hash of the vector id")
    group.addoption("--hsmsim-timeout", type=float, default=None, metavar="SECONDS",
                    help="per-case deadline, overriding the adapters' timeout_s")
    group.addoption("--hsmsim-previous", action="append", default=[], metavar="PATH",
                    help="previous results (file or report directory) to diff against")
    group.addoption("--hsmsim-strict-reasons", action="store_true", default=False,
                    help="fail a vector rejected for the wrong reason")
    group.addoption("--hsmsim-fail-on", default=None, choices=SEVERITY_ORDER, metavar="SEVERITY",
                    help="fail only unexpected verdicts on vectors this severe or worse "
                         f"({' > '.join(SEVERITY_ORDER)})")
    for old, new in _DEPRECATED.items():
        kind: dict[str, Any] = {"default": None}
        if new in _REPEATABLE:
            kind = {"action": "append", "default": []}
        elif new == "--hsmsim-strict-reasons":
            kind = {"action": "store_true", "default": False}
        group.addoption(old, dest=f"deprecated_{_dest(old)}", help=argparse.SUPPRESS, **kind)


@dataclass(frozen=True)
class PluginOptions:
    """The plugin's options, old spellings folded into the new ones."""

    verifiers: tuple[str, ...]
    vectors: str | None
    report: str | None
    overwrite: bool
    formats: tuple[str, ...]
    shard: str | None
    timeout: float | None
    previous: tuple[str, ...]
    strict_reasons: bool
    fail_on: str | None

    @classmethod
    def of(cls, config: pytest.Config) -> PluginOptions:
        """Read the options; an old spelling is honoured with a :class:`ConformanceDeprecationWarning`."""
        values: dict[str, Any] = {}
        for new in ("--hsmsim-verifier", "--hsmsim-vectors", "--hsmsim-report", "--hsmsim-format",
                    "--hsmsim-timeout", "--hsmsim-previous", "--hsmsim-strict-reasons"):
            values[new] = config.getoption(_dest(new))
        for old, new in _DEPRECATED.items():
            value = config.getoption(f"deprecated_{_dest(old)}")
            if not value:
                continue
            config.issue_config_time_warning(ConformanceDeprecationWarning(
                f"hsmsim: {old} is deprecated and will be removed; use {new}"), stacklevel=2)
            values[new] = [*values[new], *value] if new in _REPEATABLE else values[new] or value
        timeout = values["--hsmsim-timeout"]
        if timeout is not None and not isinstance(timeout, float):  # the old spelling is read as text
            try:
                timeout = float(timeout)
            except ValueError:
                raise pytest.UsageError(f"hsmsim conformance: --hsmsim-timeout must be a number of seconds "
                                        f"(got {timeout!r})") from None
        return cls(verifiers=tuple(values["--hsmsim-verifier"]), vectors=values["--hsmsim-vectors"],
                   report=values["--hsmsim-report"], overwrite=bool(config.getoption("hsmsim_overwrite")),
                   formats=tuple(values["--hsmsim-format"]), shard=config.getoption("hsmsim_shard"),
                   timeout=timeout, previous=tuple(values["--hsmsim-previous"]),
                   strict_reasons=bool(values["--hsmsim-strict-reasons"]),
                   fail_on=config.getoption("hsmsim_fail_on"))


def _refuse_empty(options: PluginOptions) -> None:
    """Raise :class:`pytest.UsageError` for an empty path (an unset shell variable, say): it is misuse, never the
    default corpus, the current directory or no report (as ``hsmsim.cli_params`` has it for the CLI)."""
    given = [("--hsmsim-vectors", options.vectors), ("--hsmsim-report", options.report),
             *(("--hsmsim-verifier", v) for v in options.verifiers),
             *(("--hsmsim-previous", p) for p in options.previous)]
    for option, value in given:
        if value == "":
            raise pytest.UsageError(f"hsmsim conformance: {option} must not be empty")


def pytest_configure(config: pytest.Config) -> None:
    """Activate only with --hsmsim-verifier; then run hsmsim.conformance unless test paths were given."""
    options = PluginOptions.of(config)
    if not options.verifiers:
        return
    _import_hsmsim_unrewritten(config)
    _ignore_certificate_warnings(config)
    plugin = ConformancePlugin(config, options)
    config.pluginmanager.register(plugin, _PLUGIN_NAME)
    import hsmsim.conformance

    module = str(Path(hsmsim.conformance.__file__))
    if getattr(config, "args_source", None) is not pytest.Config.ArgsSource.ARGS:
        config.args[:] = [module]
    else:
        config.args[:] = [_printed_case(arg, module) for arg in config.args]


def _ignore_certificate_warnings(config: pytest.Config) -> None:
    """Add the warnings the CLI ignores to this session's ``filterwarnings``, so a verifier run in-process (a Python
    entry) over evidence that is malformed on purpose leaves no warnings summary, as the CLI's stderr has none.
    pytest applies ``-W`` options after these, so a user's ``-W error::UserWarning`` still reaches their verifier
    (hsmsim's reference verifier ignores these warnings whatever the filters)."""
    from hsmsim.pki.parse_warnings import CERTIFICATE_WARNINGS

    for message, category in CERTIFICATE_WARNINGS:
        config.addinivalue_line("filterwarnings", f"ignore:{message}:{category.__module__}.{category.__qualname__}")


def _printed_case(arg: str, module: str) -> str:
    """A test path as pytest should collect it: a printed case id, ``<path>::test_vector[...]``, whose path is not a
    file (pytest prints the path relative to its rootdir, which an installed hsmsim lies outside: an empty path, or
    the rootdir seen from where it ran) names the case in ``module``, :mod:`hsmsim.conformance`; any other argument
    is kept as given."""
    path, separator, rest = arg.partition("::")
    if not separator or not rest.startswith("test_vector[") or Path(path).is_file():
        return arg
    return f"{module}::{rest}"


def _import_hsmsim_unrewritten(config: pytest.Config) -> None:
    """Let hsmsim's modules imported from now on (every format the verifiers load) be imported as Python does.

    pytest rewrites the asserts of every module of a plugin's distribution and of what ``-p`` names (``-p hsmsim``:
    all of hsmsim), so that a failing assert in a plugin reads well; each such module is parsed and compiled
    again on every run where bytecode is not cached (``PYTHONDONTWRITEBYTECODE``, a read-only install): seconds.
    hsmsim's asserts state its own invariants, none is a test's assertion. pytest has no public way to take a
    name back, hence the private set, left alone if it is not there.
    """
    hook = getattr(config.pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    decided = getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(marked, set) and isinstance(decided, dict):
        marked.discard("hsmsim")
        decided.clear()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``hsmsim_vector``: one case per (verifier, vector); skipped when the plugin is inactive."""
    if "hsmsim_vector" not in metafunc.fixturenames:
        return
    plugin = metafunc.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        metafunc.parametrize("hsmsim_vector", [pytest.param(None, marks=pytest.mark.skip(
            reason="the hsmsim conformance suite runs with --hsmsim-verifier FILE"))], ids=["no-verifier"])
        return
    metafunc.parametrize("hsmsim_vector", plugin.params(), ids=plugin.ids())


@pytest.fixture(scope="session")
def hsmsim_conformance(pytestconfig: pytest.Config) -> Any:
    """The live conformance engine of this worker (skips when --hsmsim-verifier is not given)."""
    plugin = pytestconfig.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        pytest.skip("the hsmsim conformance suite runs with --hsmsim-verifier FILE")
    return plugin


class ConformancePlugin:
    """The active plugin: corpus, adapters, this process's live verifiers, the controller's results."""

    def __init__(self, config: pytest.Config, options: PluginOptions) -> None:
        """Load the adapters and the corpus and check every option, as ``hsmsim conformance run`` does before its
        run: misuse raises :class:`pytest.UsageError` (one line, exit 4) before any test runs."""
        from hsmsim.errors import HsmsimError
        from hsmsim.harness.config import check_timeout, load_adapter
        from hsmsim.harness.report import check_report_dir, file_name_clash, load_previous
        from hsmsim.harness.runner import RunOptions
        from hsmsim.harness.vectors import Shard, default_vectors_root, load_corpus
        from hsmsim.model.vectors import Severity

        self.config = config
        self.options = options
        _refuse_empty(options)
        try:
            shard = None if options.shard is None else Shard.parse(options.shard)
        except ValueError as exc:
            raise pytest.UsageError(f"hsmsim conformance: --hsmsim-shard {exc}") from exc
        self.run_options = RunOptions(formats=options.formats, shard=shard, strict_reasons=options.strict_reasons,
                                      fail_on=None if options.fail_on is None else Severity(options.fail_on),
                                      timeout=options.timeout)
        # only the controller writes the report, so only it insists on a fresh directory
        is_controller = not hasattr(config, "workerinput")
        try:
            if options.timeout is not None:
                check_timeout(options.timeout, "--hsmsim-timeout")
            self.configs = [load_adapter(spec) for spec in options.verifiers]
            self.corpus = load_corpus(Path(options.vectors) if options.vectors is not None else default_vectors_root())
            if options.report is not None and is_controller:
                check_report_dir(Path(options.report), overwrite=options.overwrite, option="--hsmsim-report",
                                 overwrite_flag="--hsmsim-overwrite")
        except HsmsimError as exc:
            raise pytest.UsageError(f"hsmsim conformance: {exc}") from exc
        if options.previous and options.report is None:
            raise pytest.UsageError("hsmsim conformance: --hsmsim-previous needs --hsmsim-report: the regressions "
                                    "are written into the report")
        try:
            if is_controller:
                # read now, not after the run: a bad --hsmsim-previous would otherwise lose the whole run's report
                load_previous([Path(p) for p in options.previous])
        except HsmsimError as exc:
            raise pytest.UsageError(f"hsmsim conformance: --hsmsim-previous: {exc}") from exc
        unknown = sorted(set(options.formats) - set(self.corpus.formats()))
        if unknown:
            # an unknown format selects nothing: pytest would skip an empty parameter set and call the run green
            raise pytest.UsageError(f"hsmsim conformance: --hsmsim-format {', '.join(map(repr, unknown))}: the corpus "
                                    f"has no such format (it has {', '.join(self.corpus.formats())})")
        names = [c.name for c in self.configs]
        if len(set(names)) != len(names):
            raise pytest.UsageError(f"hsmsim conformance: two adapters share a name: {names}")
        clash = file_name_clash(names)
        if clash is not None:
            raise pytest.UsageError(f"hsmsim conformance: {clash}")
        self.vectors = self.corpus.select(formats=options.formats, shard=shard)
        self.strict_reasons = options.strict_reasons
        self._session: Any = None
        self._start_errors: dict[str, str] = {}
        self._collected: dict[str, dict[str, Any]] = {}
        self._not_started: dict[str, str] = {}
        """Verifier name -> why it did not start, as a worker reported it (on the controller)."""
        self._sent_checks: set[tuple[str, str]] = set()

    # -- collection -------------------------------------------------------------------------------
    def params(self) -> list[tuple[str, str]]:
        """(verifier name, vector id) for every case, verifier by verifier, in corpus order."""
        return [(c.name, v.id) for c in self.configs for v in self.vectors]

    def ids(self) -> list[str]:
        """Test ids: the vector id, prefixed by the verifier name when there are several verifiers."""
        if len(self.configs) == 1:
            return [v.id for v in self.vectors]
        return [f"{c.name}:{v.id}" for c in self.configs for v in self.vectors]

    # -- running ----------------------------------------------------------------------------------
    def _live(self) -> Any:
        if self._session is None:
            from hsmsim.harness.runner import Session

            self._session = Session(self.corpus, self.configs, timeout=self.options.timeout)
        return self._session

    def check(self, key: tuple[str, str], node: pytest.Item) -> None:
        """Run one case, record it for the report, and turn its outcome into a pytest outcome."""
        from hsmsim.errors import HsmsimError
        from hsmsim.harness.model import Outcome
        from hsmsim.harness.runner import fails_run
        from hsmsim.harness.text import TEXT_LIMIT, visible

        name, vector_id = key
        session = self._live()
        if name not in self._start_errors:
            try:
                result = session.run_case(name, vector_id)
                info = session.info(name)
            except HsmsimError as exc:
                self._start_errors[name] = f"cannot start verifier {name!r}: {exc}"
        # failed outside the except block, so that pytest shows the one line, not the chain of exceptions
        if name in self._start_errors:
            node.user_properties.append((START_ERROR_PROPERTY, json.dumps([name, self._start_errors[name]])))
            pytest.fail(self._start_errors[name], pytrace=False)
        # each sanity check travels once (pytest copies an item's properties into each of its three reports,
        # and xdist sends each report to the controller, which keeps the first check per format anyway)
        checks = session.sanity_checks(name)
        new_checks = [c for c in checks if (name, c.format) not in self._sent_checks]
        self._sent_checks.update((name, c.format) for c in new_checks)
        sanity = [c.to_json() for c in new_checks]
        node.user_properties.append((RESULT_PROPERTY, json.dumps(
            {"info": info.to_json(), "result": result.to_json(), "sanity": sanity})))
        check = next((c for c in checks if c.format == result.format), None)
        if result.outcome is Outcome.SKIPPED:
            pytest.skip(result.detail)
        if result.outcome is Outcome.WAIVED:
            pytest.xfail(f"waived: {result.waiver}")
        stopped = check is not None and not check.ok and check.vector_id == vector_id
        if fails_run(result, strict_reasons=self.strict_reasons, fail_on=self.run_options.fail_on, stopped=stopped):
            lines = [result.describe()]
            if stopped and check is not None:
                lines.insert(0, check.message)
            if result.waiver:
                lines.append(result.waiver)
            pytest.fail("\n".join(visible(line, TEXT_LIMIT) for line in lines), pytrace=False)
        if result.outcome is not Outcome.PASS:
            warnings.warn(ConformanceWarning(result.describe()), stacklevel=1)

    # -- hooks ------------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect results (on the controller, from every worker)."""
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == START_ERROR_PROPERTY and isinstance(value, str):
                name, why = json.loads(value)
                self._not_started.setdefault(name, why)
            if key == RESULT_PROPERTY and isinstance(value, str):
                data = json.loads(value)
                entry = self._collected.setdefault(data["info"]["name"], {"info": data["info"], "results": {},
                                                                          "sanity": {}})
                entry["results"][data["result"]["id"]] = data["result"]
                for check in data["sanity"]:
                    entry["sanity"].setdefault(check["format"], check)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Stop this process's verifiers; on the controller, fail on stale waivers and write the report."""
        if self._session is not None:
            self._session.close()
        if hasattr(session.config, "workerinput"):
            return
        from hsmsim.errors import HsmsimError
        from hsmsim.harness.report import nothing_run_line, regression_lines, skip_lines, write_report

        run = self._run()
        # failures no test case carries: waivers naming no vector, a golden outside the selection not accepted
        self._problems = [m for v in run.verifiers for m in v.stale_waivers]
        self._problems += [c.message for v in run.verifiers for c in v.unjudged_sanity_failures()]
        self._problems += [f"{v.info.name}: {nothing_run_line(v)}" for v in run.verifiers if v.tested_nothing()]
        if self.run_options.shard is None:  # a shard may hold none of a verifier's formats
            # a verifier that never started has no result, so it is absent from `run` (and from the report)
            self._problems += [f"{name}: no vector was run: {why}" for name, why in self._not_started.items()
                               if name not in self._collected]
        if self._problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self._summary = [f"{v.info.name}: {line}" for v in run.verifiers for line in skip_lines(v, self.corpus)]
        target = self.options.report
        if target is not None and self._collected:
            try:
                paths = write_report(run, Path(target), [Path(p) for p in self.options.previous])
            except HsmsimError as exc:  # the disk filled, or a previous file changed during the run
                self._problems.append(str(exc))
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
                return
            self._summary += [f"{name}: {line}" for name, changes in paths.changes.items()
                              for line in regression_lines(changes)]
            self._summary.append(f"report: {paths.html}")

    def _run(self) -> Any:
        """The :class:`~hsmsim.harness.runner.ConformanceRun` of the results collected from every worker."""
        from hsmsim.harness.model import CaseResult, VerifierInfo
        from hsmsim.harness.runner import ConformanceRun, SanityCheck, VerifierRun, unknown_waivers

        runs = []
        order = {v.id: i for i, v in enumerate(self.vectors)}
        for config in self.configs:
            entry = self._collected.get(config.name)
            if entry is None:
                continue
            results = sorted((CaseResult.from_json(config.name, r) for r in entry["results"].values()),
                             key=lambda r: order.get(r.id, len(order)))
            sanity = [SanityCheck.from_json(config.name, s) for s in entry["sanity"].values()]
            runs.append(VerifierRun(config=config, info=VerifierInfo.from_json(entry["info"]), results=results,
                                    sanity=sanity, stale_waivers=unknown_waivers(config, self.corpus),
                                    strict_reasons=self.strict_reasons, fail_on=self.run_options.fail_on,
                                    whole=self.run_options.shard is None))
        ran = {r.id for run in runs for r in run.results}
        vectors = [v for v in self.vectors if v.id in ran]
        return ConformanceRun(corpus=self.corpus, vectors=vectors, verifiers=runs, options=self.run_options)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """List what fails the run beyond the tests, the skips per format, regressions, and the report."""
        for message in getattr(self, "_problems", []):
            terminalreporter.write_line(f"hsmsim conformance: {message}", red=True)
        for line in getattr(self, "_summary", []):
            terminalreporter.write_line(f"hsmsim conformance {line}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Make sure no verifier process outlives the session."""
        if self._session is not None:
            self._session.close()
