"""Securosys Primus HSM key attestation (TSB REST zip: signed XML, detached signature, chain).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.primus.format import PrimusFormat

PRIMUS = register(PrimusFormat())
