"""Key stores: one interface (:class:`KeyStore`), three backends (``soft``, ``pkcs11`` and ``swtpm``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import KeystoreError

if TYPE_CHECKING:  # the command line reads BACKENDS without cryptography, which the key types import
    from hsmsim.keystore.base import KeyPolicy, KeySpec, KeyStore

BACKENDS = ("soft", "pkcs11", "swtpm")


def check_creatable(backend: str, spec: KeySpec, policy: KeyPolicy, *, imported: bool) -> None:
    """Raise :class:`~hsmsim.errors.UnsupportedKeyError` when ``backend`` cannot hold a key of ``spec`` with
    ``policy`` whatever its store holds (the swtpm backend's fixed templates), before any store is opened."""
    if backend == "swtpm":
        from hsmsim.keystore.swtpm import check_creatable as check_swtpm

        check_swtpm(spec, policy, imported=imported)


def open_keystore(backend: str, directory: Path | None = None, *, seed: str | None = None) -> KeyStore:
    """Open the ``soft``, ``pkcs11`` or ``swtpm`` store persisted under ``directory`` (None: in memory / temporary).

    ``seed`` makes soft keys reproducible; a PKCS#11 token and a TPM generate their own keys.
    Raises :class:`BackendUnavailableError` when the PKCS#11 module or swtpm is missing.
    """
    if backend == "soft":
        from hsmsim.keystore.soft import SoftKeyStore

        return SoftKeyStore(seed=seed, directory=directory)
    if backend == "pkcs11":
        from hsmsim.keystore.pkcs11 import Pkcs11KeyStore

        return Pkcs11KeyStore(token_dir=directory)
    if backend == "swtpm":
        from hsmsim.keystore.swtpm import SwtpmKeyStore

        return SwtpmKeyStore(directory)
    raise KeystoreError(f"unknown keystore backend {backend!r}; choose one of {', '.join(BACKENDS)}")
