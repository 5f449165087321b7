"""hsmsim's reference verifier as a harness entry: ``python:hsmsim.harness.reference:verify``.

It reaches formats only through the registry, so it verifies every registered format.
"""

from __future__ import annotations

from hsmsim import __version__
from hsmsim.formats import get_format, names, verify_guarded
from hsmsim.harness.adapters import VerifyRequest
from hsmsim.verdict import Profile, Verdict


def hello() -> dict[str, object]:
    """The formats the registry knows, and hsmsim's version."""
    return {"name": "hsmsim-reference", "version": __version__, "formats": names(), "features": []}


def verify(request: VerifyRequest) -> Verdict:
    """``get_format(format).verify(evidence, trust, at=, profile=)`` through :func:`verify_guarded`."""
    return verify_guarded(get_format(request.format), request.evidence, request.trust, at=request.at,
                          profile=Profile(request.profile))
