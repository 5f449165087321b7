"""What tells a Fortanix DSM response on disk and what configures the format, importable without the response codec,
verifier, generator or PKI: the response's file-name prefix, its top-level members and JSON bounds, the root copy
written beside it, and the defaults of :class:`~hsmsim.formats.fortanix.options.FortanixOptions`.
:mod:`~hsmsim.formats.fortanix.statement`, :mod:`~hsmsim.formats.fortanix.generate` and
:mod:`~hsmsim.formats.fortanix.pki` use the same values."""

from __future__ import annotations

from dataclasses import dataclass

FORMAT = "fortanix"
JSON_PREFIX = "key_attestation_"
ROOT_FILE = "fortanix_root.pem"
TOP_LEVEL_MEMBERS = ("authority_chain", "attestation_statement")
JSON_INDENT = 4
"""Indentation of the published example response."""
PROFILE_FX2200 = "1.3.6.1.4.1.49690.2.5.1.1"
"""The FX2200 protection profile's OID, the minimum an emulated authority's enrollment policy names."""


@dataclass(frozen=True)
class JsonLimits:
    """Bounds on the response JSON: bytes, nesting depth and authority_chain entries."""

    max_bytes: int = 128 * 1024
    max_depth: int = 8
    max_chain: int = 8
