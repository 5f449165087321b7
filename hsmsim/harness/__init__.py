"""The conformance harness: run any verifier over the whole corpus and report a verifier x vector matrix.

* :mod:`~hsmsim.harness.config` - adapter files (TOML/JSON): ``load_adapter``
* :mod:`~hsmsim.harness.adapters` - python / oneshot / persistent verifiers: ``open_verifier``
* :mod:`~hsmsim.harness.vectors` - the corpus as JSON: ``load_corpus``
* :mod:`~hsmsim.harness.runner` - sanity probe, skips, judging, parallel runs: ``run_conformance``
* :mod:`~hsmsim.harness.waivers` - known divergences and XPASS
* :mod:`~hsmsim.harness.report` - results JSON, JUnit XML, HTML, diff: ``write_report``
* :mod:`~hsmsim.harness.merge` - the reports of ``--shard K/N`` runs as one run: ``merge_shards``
* :mod:`~hsmsim.harness.plugin` - the pytest plugin; :mod:`~hsmsim.harness.cli` - ``hsmsim conformance``

This package is imported by the auto-loaded pytest plugin, so it imports nothing eagerly; the
names below are resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AdapterConfig": "config", "AdapterConfigError": "config", "load_adapter": "config",
    "Verifier": "adapters", "VerifyRequest": "adapters", "VerifierStartError": "adapters", "open_verifier": "adapters",
    "Actual": "model", "Answer": "model", "CaseResult": "model", "Expected": "model", "Outcome": "model",
    "VerifierInfo": "model",
    "Corpus": "vectors", "Shard": "vectors", "Submission": "vectors", "Vector": "vectors", "load_corpus": "vectors",
    "ConformanceRun": "runner", "RunOptions": "runner", "Session": "runner", "VerifierRun": "runner",
    "run_conformance": "runner",
    "Waiver": "waivers",
    "write_report": "report", "load_results": "report", "diff": "report",
    "merge_shards": "merge",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hsmsim.harness' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hsmsim.harness.{module}"), name)
