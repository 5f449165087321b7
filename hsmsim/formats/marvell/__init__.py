"""Marvell LiquidSecurity key attestation as Azure Managed HSM (``MRVL-1``) and Google Cloud HSM
(``CAVIUM_V2_COMPRESSED``) deliver it.

Importing this package registers its formats."""

from hsmsim.formats import register
from hsmsim.formats.marvell.format import MarvellFormat
from hsmsim.formats.marvell.layout import Cloud

MARVELL_AZURE = register(MarvellFormat(Cloud.AZURE))
MARVELL_GOOGLE = register(MarvellFormat(Cloud.GOOGLE))
