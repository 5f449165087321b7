"""Fortanix DSM key attestation statement (JSON with its authority chain).

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.fortanix.format import FortanixFormat

FORTANIX = register(FortanixFormat())
