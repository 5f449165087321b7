"""pytest plugin (entry point ``pytest11``: ``hsmsim``): the conformance suite, one test per vector id.

    pytest -p hsmsim --verifier FILE [--verifier FILE ...] [-n auto --dist worksteal]
           [--vectors-root DIR] [--conformance-report DIR] [--conformance-timeout S]
           [--conformance-format F] [--conformance-previous PATH] [--conformance-strict-reasons]

The plugin is loaded into every pytest run of an environment where hsmsim is installed, so it
is **inert without** ``--verifier``: it only adds its options (and two fixtures nobody else
requests). With ``--verifier`` and no test paths it runs :mod:`hsmsim.conformance`; with paths
(e.g. ``--pyargs hsmsim.conformance``) it runs what it is given.

Each xdist worker keeps one live verifier per adapter (one persistent process per worker) and
runs its own sanity probe; results travel to the controller in ``user_properties`` and the
controller writes the report.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

RESULT_PROPERTY = "hsmsim_conformance_result"
_PLUGIN_NAME = "hsmsim-conformance"


class ConformanceWarning(UserWarning):
    """A vector was rejected for a different reason than expected (not a failure unless strict)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the conformance options (and nothing else)."""
    group = parser.getgroup("hsmsim", "hsmsim conformance suite (inert unless --verifier is given)")
    group.addoption("--verifier", action="append", default=[], metavar="FILE",
                    help="run the hsmsim conformance suite against this adapter file (or python:module:function)")
    group.addoption("--vectors-root", default=None, metavar="DIR",
                    help="the hsmsim vector corpus (default: $HSMSIM_VECTORS, else ./vectors)")
    group.addoption("--conformance-report", default=None, metavar="DIR",
                    help="write results/<verifier>.json, junit.xml and index.html into DIR")
    group.addoption("--conformance-format", action="append", default=[], metavar="F",
                    help="only vectors of this format (repeatable)")
    group.addoption("--conformance-timeout", type=float, default=None, metavar="SECONDS",
                    help="per-case deadline, overriding the adapters' timeout_s")
    group.addoption("--conformance-previous", action="append", default=[], metavar="PATH",
                    help="previous results (file or report directory) to diff against")
    group.addoption("--conformance-strict-reasons", action="store_true", default=False,
                    help="fail a vector rejected for the wrong reason")


def pytest_configure(config: pytest.Config) -> None:
    """Activate only with --verifier; then run hsmsim.conformance unless test paths were given."""
    if not config.getoption("verifier", default=None):
        return
    plugin = ConformancePlugin(config)
    config.pluginmanager.register(plugin, _PLUGIN_NAME)
    if getattr(config, "args_source", None) is not pytest.Config.ArgsSource.ARGS:
        import hsmsim.conformance

        config.args[:] = [str(Path(hsmsim.conformance.__file__))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``hsmsim_vector``: one case per (verifier, vector); skipped when the plugin is inactive."""
    if "hsmsim_vector" not in metafunc.fixturenames:
        return
    plugin = metafunc.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        metafunc.parametrize("hsmsim_vector", [pytest.param(None, marks=pytest.mark.skip(
            reason="the hsmsim conformance suite runs with --verifier FILE"))], ids=["no-verifier"])
        return
    metafunc.parametrize("hsmsim_vector", plugin.params(), ids=plugin.ids())


@pytest.fixture(scope="session")
def hsmsim_conformance(pytestconfig: pytest.Config) -> Any:
    """The live conformance engine of this worker (skips when --verifier is not given)."""
    plugin = pytestconfig.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        pytest.skip("the hsmsim conformance suite runs with --verifier FILE")
    return plugin


class ConformancePlugin:
    """The active plugin: corpus, adapters, this process's live verifiers, the controller's results."""

    def __init__(self, config: pytest.Config) -> None:
        from hsmsim.errors import HsmsimError
        from hsmsim.harness.config import load_adapter
        from hsmsim.harness.vectors import default_vectors_root, load_corpus

        self.config = config
        try:
            self.configs = [load_adapter(spec) for spec in config.getoption("verifier")]
            root = config.getoption("vectors_root")
            self.corpus = load_corpus(Path(root) if root else default_vectors_root())
        except HsmsimError as exc:
            raise pytest.UsageError(f"hsmsim conformance: {exc}") from exc
        names = [c.name for c in self.configs]
        if len(set(names)) != len(names):
            raise pytest.UsageError(f"hsmsim conformance: two adapters share a name: {names}")
        self.vectors = self.corpus.select(formats=config.getoption("conformance_format"))
        self.strict_reasons = bool(config.getoption("conformance_strict_reasons"))
        self._session: Any = None
        self._start_errors: dict[str, str] = {}
        self._collected: dict[str, dict[str, Any]] = {}

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

            self._session = Session(self.corpus, self.configs, timeout=self.config.getoption("conformance_timeout"))
        return self._session

    def check(self, key: tuple[str, str], node: pytest.Item) -> None:
        """Run one case, record it for the report, and turn its outcome into a pytest outcome."""
        from hsmsim.errors import HsmsimError
        from hsmsim.harness.model import FAILING, Outcome
        from hsmsim.harness.text import TEXT_LIMIT, visible

        name, vector_id = key
        if name in self._start_errors:
            pytest.fail(self._start_errors[name], pytrace=False)
        session = self._live()
        try:
            result = session.run_case(name, vector_id)
            info = session.info(name)
        except HsmsimError as exc:
            self._start_errors[name] = f"cannot start verifier {name!r}: {exc}"
            pytest.fail(self._start_errors[name], pytrace=False)
        sanity = [c.to_json() for c in session.sanity_checks(name)]
        node.user_properties.append((RESULT_PROPERTY, json.dumps(
            {"info": info.to_json(), "result": result.to_json(), "sanity": sanity})))
        check = next((c for c in session.sanity_checks(name) if c.format == result.format), None)
        if result.outcome is Outcome.SKIPPED:
            pytest.skip(result.detail)
        if result.outcome is Outcome.WAIVED:
            pytest.xfail(f"waived: {result.waiver}")
        if result.outcome in FAILING or (self.strict_reasons and result.outcome is Outcome.WRONG_REASON):
            lines = [result.describe()]
            if check is not None and not check.ok and check.vector_id == vector_id:
                lines.insert(0, check.message)
            if result.waiver:
                lines.append(result.waiver)
            pytest.fail("\n".join(visible(line, TEXT_LIMIT) for line in lines), pytrace=False)
        if result.outcome is Outcome.WRONG_REASON:
            warnings.warn(ConformanceWarning(result.describe()), stacklevel=1)

    # -- hooks ------------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect results (on the controller, from every worker)."""
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == RESULT_PROPERTY and isinstance(value, str):
                data = json.loads(value)
                entry = self._collected.setdefault(data["info"]["name"], {"info": data["info"], "results": {},
                                                                          "sanity": {}})
                entry["results"][data["result"]["id"]] = data["result"]
                for check in data["sanity"]:
                    entry["sanity"].setdefault(check["format"], check)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Stop this process's verifiers; on the controller, write the report."""
        if self._session is not None:
            self._session.close()
        if hasattr(session.config, "workerinput"):
            return
        from hsmsim.harness.runner import unknown_waivers

        stale = [m for c in self.configs for m in unknown_waivers(c, self.corpus)]
        if stale and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self._stale = stale
        target = self.config.getoption("conformance_report")
        self._report_path = self._write_report(Path(target)) if target and self._collected else None

    def _write_report(self, directory: Path) -> Path:
        from hsmsim.harness.model import CaseResult, VerifierInfo
        from hsmsim.harness.report import write_report
        from hsmsim.harness.runner import ConformanceRun, SanityCheck, VerifierRun, unknown_waivers

        runs = []
        order = {v.id: i for i, v in enumerate(self.vectors)}
        for config in self.configs:
            entry = self._collected.get(config.name)
            if entry is None:
                continue
            info_data = entry["info"]
            info = VerifierInfo(name=info_data["name"], version=info_data["version"], mode=info_data["mode"],
                                profile=info_data["profile"], formats=tuple(info_data["formats"]),
                                features=tuple(info_data["features"]))
            results = sorted((CaseResult.from_json(config.name, r) for r in entry["results"].values()),
                             key=lambda r: order.get(r.id, len(order)))
            sanity = [SanityCheck(config.name, s["format"], s["id"], s["ok"], s["message"])
                      for s in entry["sanity"].values()]
            runs.append(VerifierRun(config=config, info=info, results=results, sanity=sanity,
                                    stale_waivers=unknown_waivers(config, self.corpus),
                                    strict_reasons=self.strict_reasons))
        ran = {r.id for run in runs for r in run.results}
        vectors = [v for v in self.vectors if v.id in ran]
        previous = [Path(p) for p in self.config.getoption("conformance_previous")]
        return write_report(ConformanceRun(corpus=self.corpus, vectors=vectors, verifiers=runs), directory,
                            previous).html

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Point at the report; list stale waivers."""
        for message in getattr(self, "_stale", []):
            terminalreporter.write_line(f"hsmsim conformance: {message}", red=True)
        path = getattr(self, "_report_path", None)
        if path is not None:
            terminalreporter.write_line(f"hsmsim conformance report: {path}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Make sure no verifier process outlives the session."""
        if self._session is not None:
            self._session.close()
