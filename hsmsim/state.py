"""A persistent emulated HSM on disk, for the CLI and the HTTP server.

Layout of a state directory::

    hsm.json      the device's format, seed and serial (written once, atomically)
    soft/         keys of the soft backend, one JSON file each
    token/        the SoftHSM2 token of the pkcs11 backend
    swtpm/        the software TPM of the swtpm backend (its state, private CA and key records)

A key label is looked up in every backend that has been used.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hsmsim._atomic import write_atomic
from hsmsim.device import Device
from hsmsim.errors import HsmsimError, KeyNotFoundError
from hsmsim.hsm import Hsm
from hsmsim.keystore import BACKENDS, open_keystore
from hsmsim.keystore.base import KeyStore
from hsmsim.pki.identity import AttestationIdentity

DEFAULT_SEED = "hsmsim-default"
_SUBDIRS = {"soft": "soft", "pkcs11": "token", "swtpm": "swtpm"}


@dataclass
class HsmState:
    """An emulated device and its key stores, opened lazily from ``directory``."""

    directory: Path
    device: Device
    _stores: dict[str, KeyStore] = field(default_factory=dict)
    _identities: dict[str, AttestationIdentity] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls, directory: Path, *, format: str | None = None, seed: str | None = None, create: bool = True,
    ) -> HsmState:
        """Open the state in ``directory``, creating it with ``format`` (default primus) and ``seed`` if new.

        Raises :class:`HsmsimError` when an existing state disagrees with ``format``/``seed``, or when
        there is none and ``create`` is false.
        """
        config_path = directory / "hsm.json"
        if not create and not config_path.exists():
            raise HsmsimError(f"no hsmsim state in {directory} (create it with 'hsmsim key create --state DIR')")
        if config_path.exists():
            try:
                config = json.loads(config_path.read_text())
                device = Device(  # states written before the rename call the format "profile"
                    format=config.get("format") or config["profile"], serial=config["serial"], seed=config["seed"],
                    initialised=datetime.fromisoformat(config["initialised"]),
                )
            except (OSError, ValueError, KeyError) as exc:
                raise HsmsimError(f"corrupt HSM state {config_path}: {exc}") from exc
            if seed is not None and seed != device.seed:
                raise HsmsimError(f"{directory} was created with another seed; use a new --state")
            if format is not None and format != device.format:
                raise HsmsimError(f"{directory} emulates a {device.format} HSM, not {format}")
            return cls(directory, device)
        device = Device.from_seed(format or "primus", seed or DEFAULT_SEED)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"format": device.format, "serial": device.serial, "seed": device.seed,
                  "initialised": device.initialised.isoformat()}
        write_atomic(config_path, json.dumps(config, indent=1).encode())
        return cls(directory, device)

    def store(self, backend: str) -> KeyStore:
        """The key store of ``backend`` (opened once, also when threads ask at the same time)."""
        with self._lock:
            if backend not in self._stores:
                self._stores[backend] = open_keystore(backend, self.directory / _SUBDIRS.get(backend, backend))
            return self._stores[backend]

    def backends_in_use(self) -> list[str]:
        """Backends that hold (or have held) keys in this state."""
        return [b for b in BACKENDS if b in self._stores or (self.directory / _SUBDIRS[b]).exists()]

    def store_holding(self, label: str) -> KeyStore:
        """The store that holds a key labelled ``label``; raises :class:`KeyNotFoundError`."""
        for backend in self.backends_in_use():
            store = self.store(backend)
            try:
                store.get(label)
            except KeyNotFoundError:
                continue
            return store
        raise KeyNotFoundError(f"no key labelled {label!r} in {self.directory}")

    def hsm(self, label: str) -> Hsm:
        """An :class:`Hsm` over the store that holds ``label``.

        Its default attestation identity is provisioned once per state and reused: provisioning
        is a function of the device and partition alone, and rebuilding the manufacturer chain
        for every attestation was most of an attestation's cost.
        """
        return _ProvisionedHsm(self.device, self.store_holding(label), identities=self._identities)

    def close(self) -> None:
        """Close every opened store."""
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()


@dataclass
class _ProvisionedHsm(Hsm):
    """An :class:`Hsm` whose default attestation identities are kept in a shared cache."""

    identities: dict[str, AttestationIdentity] = field(default_factory=dict)

    def attestation_identity(self, attesting_key: str | None = None, mechanism: str | None = None
                             ) -> AttestationIdentity:
        """The partition's default identity for ``mechanism`` from the cache (provisioned on first use), or
        one certifying ``attesting_key`` (never cached: it depends on that key)."""
        if attesting_key is not None:
            return super().attestation_identity(attesting_key, mechanism)
        cache_key = f"{self.partition}/{mechanism or self.device.format}"
        identity = self.identities.get(cache_key)
        if identity is None:
            identity = self.identities.setdefault(cache_key, super().attestation_identity(None, mechanism))
        return identity
