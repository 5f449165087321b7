"""The switches where Securosys publishes no bytes (the GUESSES of ``shared/specs/primus.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the zip writer is imported by what writes zips, not by what reads options
    from hsmsim.formats.primus.archive import ZipLayout


@dataclass(frozen=True)
class PrimusOptions:
    """Choices where the vendor's bytes are not published, and the older shapes hsmsim wrote.

    ``secret_key_root``: the root element of a secret key's XML; ``ec_key_size``: EC keys carry
    ``<key_size>`` besides ``<curve_oid>``; ``chain_includes_root``: ``PrimusHSM_Attestation.crt``
    ends with a copy of the root; ``key_use_count``: the ``<key_use_count>`` written (0 omits it);
    ``zip_layout``: ``java`` (``java.util.zip.ZipOutputStream``, as TSB is a Java service) or
    ``python`` (``zipfile``, what hsmsim wrote before; see :mod:`~hsmsim.formats.primus.archive`);
    ``csr_key_usage``: the CSR requests a non-critical keyUsage digitalSignature in an
    extensionRequest attribute, as the real Primus CSR does (False: no attributes, the old shape);
    ``curve_oid``: EC keys carry ``<curve_oid>`` (the JSON mirror has ``curveOid``; no XML sample shows it);
    ``ec_algorithm_name``: the ``<algorithm>`` of an EC key (``EC``; the key-creation API's name);
    ``secret_algorithm_oid``: the ``<algorithm_oid>`` of an AES key (NIST's ``aes`` arc).
    """

    secret_key_root: str = "secret_key"
    ec_key_size: bool = False
    chain_includes_root: bool = True
    key_use_count: int = 0
    zip_layout: ZipLayout = "java"
    csr_key_usage: bool = True
    curve_oid: bool = True
    ec_algorithm_name: str = "EC"
    secret_algorithm_oid: str = "2.16.840.1.101.3.4.1"
