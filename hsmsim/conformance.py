"""The conformance suite as a pytest module: one test per (verifier, vector id).

    pytest -p hsmsim --verifier examples/verifiers/reference.toml [-n auto --dist worksteal]
    pytest -p hsmsim --verifier my-verifier.toml --pyargs hsmsim.conformance

The plugin (:mod:`hsmsim.harness.plugin`) parametrises :func:`test_vector` and runs it; without
``--verifier`` the test is skipped.
"""

from __future__ import annotations

import pytest


def test_vector(hsmsim_vector: tuple[str, str], hsmsim_conformance: object, request: pytest.FixtureRequest) -> None:
    """Run one vector through one verifier and judge the verdict (pass, skip, xfail for a waiver, or fail)."""
    hsmsim_conformance.check(hsmsim_vector, request.node)  # type: ignore[attr-defined]
