"""The Fortanix family's switches: what the generator emits and the verifier requires where the vendor is silent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hsmsim.formats.fortanix.pki import PROFILE_FX2200
from hsmsim.formats.fortanix.statement import JSON_INDENT


@dataclass(frozen=True)
class FortanixOptions:
    """Choices where the vendor's bytes or rules are not published (see ``docs/formats/fortanix.md``)."""

    chain_includes_root: bool = True
    """``authority_chain`` ends with a copy of the root, as in the published example."""
    json_indent: int | None = JSON_INDENT
    """Indentation of the response JSON (None: one line, as an HTTP client may receive it)."""
    captured_encoding: bool = False
    """Reproduce the published authority's non-DER basicConstraints and keyUsage (hsmsim rejects them)."""
    chain_time: Literal["statement", "verifier"] = "statement"
    """Validate the authority chain at the statement's notBefore, or at the verifier's time."""
    protection_profile: str = PROFILE_FX2200
    """The minimum protection profile the authority's enrollment policy names (and the verifier requires)."""
