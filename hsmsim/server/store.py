"""Persistent server state: one emulated device per vendor API, key passwords, key versions.

Layout under the state directory::

    primus/       HsmState of the emulated Primus (TSB); passwords.json (PBKDF2 hashes)
    azure/        HsmState of the emulated Managed HSM (Marvell); versions.json
    gcp/          HsmState of the emulated Cloud HSM (Marvell); resources.json (key rings, crypto keys, versions)

Every write is atomic and happens before the HTTP response, so an acknowledged key
survives a ``kill -9``. A key's password record is written *before* the key, so a crash
between the two leaves at worst a record for a key that does not exist (overwritten when the
key is created), never a key without its password. There is no global lock: handlers run
concurrently, creations of one label are serialised by :meth:`ServerStore.key_lock`, and each
metadata file is read-modified-written under a lock of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from hsmsim._atomic import NamedLocks, write_atomic
from hsmsim.errors import HsmsimError
from hsmsim.state import HsmState, read_json_object

_PBKDF2_ROUNDS = 20_000


class PasswordError(HsmsimError):
    """The key password is missing or wrong."""


class StateFullError(HsmsimError):
    """A change would make a metadata file larger than the server reads back at start."""


class ResourceExistsError(HsmsimError):
    """A resource of that name exists already."""


_MAX_METADATA_BYTES = 16 * 1024 * 1024
_METADATA_FILES = ("passwords.json", "versions.json", "resources.json")


def _read_json(path: Path) -> dict[str, object]:
    """The JSON object in ``path`` ({} when absent), read bounded; raises :class:`HsmsimError` naming the file."""
    return read_json_object(path, _MAX_METADATA_BYTES, "server state") if os.path.lexists(path) else {}


@dataclass
class ServerStore:
    """The state behind every endpoint; thread-safe."""

    directory: Path
    seed: str
    _states: dict[str, HsmState] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _key_locks: NamedLocks[tuple[str, str]] = field(default_factory=NamedLocks)
    _file_locks: dict[Path, threading.Lock] = field(default_factory=dict)
    _cache: dict[Path, dict[str, object]] = field(default_factory=dict)

    def device(self, namespace: str, format: str) -> HsmState:
        """The emulated device of one API namespace (created on first use)."""
        with self._guard:
            if namespace not in self._states:
                self._states[namespace] = HsmState.open(self.directory / namespace, format=format, seed=self.seed)
            return self._states[namespace]

    def read_existing(self) -> None:
        """Read the devices' ``hsm.json`` and the metadata files already on disk, so corrupt state is one
        :class:`HsmsimError` at start (``hsmsim serve`` exits 2) rather than a failing request later."""
        if not self.directory.is_dir():
            return
        for namespace in sorted(self.directory.iterdir()):
            if os.path.lexists(namespace / "hsm.json"):
                HsmState.open(namespace, create=False)
            for name in _METADATA_FILES:
                if os.path.lexists(namespace / name):
                    self._records(namespace / name)

    def key_lock(self, namespace: str, label: str) -> AbstractContextManager[None]:
        """Hold the lock that serialises changes to one key (e.g. its check-and-create) for a ``with`` block.

        A label's lock lives only while a call holds or waits for it, so labels that were only tried (a 409,
        a failed creation) leave nothing behind.
        """
        return self._key_locks.hold((namespace, label))

    def _file_lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._file_locks.setdefault(path, threading.Lock())

    def _records(self, path: Path) -> dict[str, object]:
        """The cached contents of one metadata file (this process is its only writer)."""
        with self._file_lock(path):
            return self._records_unlocked(path)

    def _update(self, path: Path, change: Callable[[dict[str, object]], None]) -> None:
        """Apply ``change`` to a copy of the file's records, write it, then publish it to readers; raises
        :class:`StateFullError`, changing nothing, when the file would outgrow what a restart reads back."""
        with self._file_lock(path):
            records = dict(self._records_unlocked(path))
            change(records)
            data = json.dumps(records, indent=1, sort_keys=True).encode()
            if len(data) > _MAX_METADATA_BYTES:
                raise StateFullError(f"the server state's {path.name} would exceed {_MAX_METADATA_BYTES} bytes, "
                                     "more than a restart reads back: start a new --state")
            write_atomic(path, data)
            self._cache[path] = records

    def _records_unlocked(self, path: Path) -> dict[str, object]:
        if path not in self._cache:
            self._cache[path] = _read_json(path)
        return self._cache[path]

    # -- key passwords (TSB) -------------------------------------------------------------
    def set_password(self, namespace: str, label: str, password: str | None) -> None:
        """Remember ``password`` for ``label`` as a salted PBKDF2 hash (None: no password).

        Call it before the key is stored (see the module docstring).
        """
        record: dict[str, str] | None = None
        if password is not None:
            salt = secrets.token_bytes(16)
            digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)
            record = {"salt": salt.hex(), "hash": digest.hex()}

        def change(records: dict[str, object]) -> None:
            if record is None:
                records.pop(label, None)
            else:
                records[label] = record

        self._update(self.directory / namespace / "passwords.json", change)

    def check_password(self, namespace: str, label: str, password: str | None) -> None:
        """Raise :class:`PasswordError` unless ``password`` opens ``label``."""
        record = self._records(self.directory / namespace / "passwords.json").get(label)
        if record is None:
            return
        if password is None:
            raise PasswordError(f"key {label!r} requires a password")
        assert isinstance(record, dict)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(record["salt"]), _PBKDF2_ROUNDS)
        if not hmac.compare_digest(digest, bytes.fromhex(record["hash"])):
            raise PasswordError(f"wrong password for key {label!r}")

    # -- key versions (Azure) -----------------------------------------------------------
    def versions(self, namespace: str) -> dict[str, list[dict[str, object]]]:
        """``{name: [{version, label, created, ...}, ...]}``, oldest version first."""
        return self._records(self.directory / namespace / "versions.json")  # type: ignore[return-value]

    def add_version(self, namespace: str, name: str, record: dict[str, object]) -> None:
        """Append a version of ``name`` (after its key was stored)."""

        def change(records: dict[str, object]) -> None:
            existing = records.get(name)
            records[name] = [*(existing if isinstance(existing, list) else []), record]

        self._update(self.directory / namespace / "versions.json", change)

    # -- named resources (Cloud KMS key rings and crypto keys) ---------------------------------
    def resources(self, namespace: str) -> dict[str, object]:
        """``{name: record}`` of every resource of ``namespace`` (records are replaced, never changed in place)."""
        return self._records(self.directory / namespace / "resources.json")

    def add_resource(self, namespace: str, name: str, record: dict[str, object]) -> None:
        """Store ``record`` under ``name``; raises :class:`ResourceExistsError`, changing nothing, when ``name`` is
        taken (the check and the write happen under the file's lock)."""

        def change(records: dict[str, object]) -> None:
            if name in records:
                raise ResourceExistsError(f"{name} exists already")
            records[name] = record

        self._update(self.directory / namespace / "resources.json", change)

    def replace_resource(self, namespace: str, name: str, record: dict[str, object]) -> None:
        """Store ``record`` under ``name`` in place of what was there (the caller serialises changes to ``name``)."""

        def change(records: dict[str, object]) -> None:
            records[name] = record

        self._update(self.directory / namespace / "resources.json", change)

    def close(self) -> None:
        """Close every device's key stores."""
        with self._guard:
            for state in self._states.values():
                state.close()
