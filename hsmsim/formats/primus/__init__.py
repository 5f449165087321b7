"""Securosys Primus HSM key attestation (TSB REST zip: signed XML, detached signature, chain).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.primus.format import PrimusFormat
from hsmsim.formats.primus.options import PrimusOptions

__all__ = ["PRIMUS", "PrimusFormat", "PrimusOptions"]

PRIMUS = register(PrimusFormat())
