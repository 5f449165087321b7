"""The Fortanix family's switches: what the generator emits, and how the verifier times the authority chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hsmsim.formats.fortanix.layout import JSON_INDENT, PROFILE_FX2200


@dataclass(frozen=True)
class FortanixOptions:
    """The generator's and verifier's switches; defaults follow the real DSM response (``docs/formats/fortanix.md``)."""

    chain_includes_root: bool = True
    """``authority_chain`` ends with a copy of the root, as in the published example."""
    json_indent: int | None = JSON_INDENT
    """Indentation of the response JSON (None: one line, as an HTTP client may receive it)."""
    captured_encoding: bool = True
    """The authority's basicConstraints and keyUsage as real DSM writes them (non-DER); False: DER."""
    chain_time: Literal["verifier", "statement"] = "verifier"
    """Validate the authority chain at the verification time, as the vendor's verifier does (its
    clock), or at the statement's notBefore (``openssl -attime``), which rejects a stored statement
    DSM returns with a renewed authority certificate, as the published one is."""
    protection_profile: str = PROFILE_FX2200
    """The minimum protection profile the authority's enrollment policy names (and the verifier requires)."""
