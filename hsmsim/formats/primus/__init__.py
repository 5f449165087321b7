"""Securosys Primus HSM key attestation (TSB REST zip: signed XML, detached signature, chain).

Importing this package registers its formats; ``PrimusOptions`` is imported on its first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hsmsim.formats import register
from hsmsim.formats.primus.format import PrimusFormat

if TYPE_CHECKING:
    from hsmsim.formats.primus.options import PrimusOptions

__all__ = ["PRIMUS", "PrimusFormat", "PrimusOptions"]


def __getattr__(name: str) -> type[PrimusOptions]:
    """``PrimusOptions``, from :mod:`~hsmsim.formats.primus.options` on first use (detection does not need it)."""
    if name == "PrimusOptions":
        from hsmsim.formats.primus.options import PrimusOptions

        return PrimusOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PRIMUS = register(PrimusFormat())
