"""What tells Marvell LiquidSecurity evidence on disk, importable without the blob codec, envelopes, generator,
verifier or PKIs: the clouds and their formats' names, the JSON envelope's bound, and which cloud a parsed JSON
document is. :mod:`~hsmsim.formats.marvell.envelopes` reads and writes the envelopes with the same values."""

from __future__ import annotations

import enum

AZURE_FORMAT_NAME = "marvell-azure"
GOOGLE_FORMAT_NAME = "marvell-google"
MAX_JSON_BYTES = 1024 * 1024


class Cloud(enum.StrEnum):
    """Which cloud's envelope wraps the blob."""

    AZURE = "azure"
    GOOGLE = "google"

    @property
    def format_name(self) -> str:
        """The registry name of the format that ships this cloud's envelope."""
        return AZURE_FORMAT_NAME if self is Cloud.AZURE else GOOGLE_FORMAT_NAME


def document_cloud(document: object) -> Cloud | None:
    """Which cloud's JSON envelope ``document`` is: an Azure attestation (bare or in a KeyBundle) or a
    Google KeyOperationAttestation (bare or in a CryptoKeyVersion); None for anything else.

    Tolerant of a defect inside: one Azure attestation field or an ``MRVL-*`` version is enough, so
    an attestation missing its private blob is still Azure's (and rejected by the verifier).
    """
    if not isinstance(document, dict):
        return None
    node = document.get("attributes", document)
    node = node.get("attestation", node) if isinstance(node, dict) else node
    if isinstance(node, dict) and (set(node) & {"certificatePemFile", "privateKeyAttestation", "publicKeyAttestation"}
                                   or str(node.get("version", "")).startswith("MRVL-")):
        return Cloud.AZURE
    node = document.get("attestation", document)
    if isinstance(node, dict) and str(node.get("format", "")).startswith("CAVIUM_"):
        return Cloud.GOOGLE
    return None
