"""The switches where Securosys publishes no bytes (the GUESSES of ``shared/specs/primus.md``)."""

from __future__ import annotations

from dataclasses import dataclass

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
    extensionRequest attribute, as the real Primus CSR does (False: no attributes, the old shape).
    """

    secret_key_root: str = "secret_key"
    ec_key_size: bool = False
    chain_includes_root: bool = True
    key_use_count: int = 0
    zip_layout: ZipLayout = "java"
    csr_key_usage: bool = True
