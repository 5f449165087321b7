"""Persistent server state: one emulated device per vendor API, key passwords, key versions.

Layout under the state directory::

    primus/       HsmState of the emulated Primus (TSB); passwords.json (PBKDF2 hashes)
    azure/        HsmState of the emulated Managed HSM (Marvell); versions.json

Every write is atomic and happens before the HTTP response, so an acknowledged key
survives a ``kill -9``. One lock serialises mutations (the soft key store is not thread-safe).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from hsmsim._atomic import write_atomic
from hsmsim.errors import HsmsimError
from hsmsim.state import HsmState

_PBKDF2_ROUNDS = 20_000


class PasswordError(HsmsimError):
    """The key password is missing or wrong."""


def _read_json(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HsmsimError(f"corrupt server state {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise HsmsimError(f"corrupt server state {path}: not an object")
    return data


@dataclass
class ServerStore:
    """The state behind every endpoint. Thread-safe through :attr:`lock`."""

    directory: Path
    seed: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    _states: dict[str, HsmState] = field(default_factory=dict)

    def device(self, namespace: str, format: str) -> HsmState:
        """The emulated device of one API namespace (created on first use)."""
        if namespace not in self._states:
            self._states[namespace] = HsmState.open(self.directory / namespace, format=format, seed=self.seed)
        return self._states[namespace]

    # -- key passwords (TSB) -------------------------------------------------------------
    def set_password(self, namespace: str, label: str, password: str | None) -> None:
        """Remember ``password`` for ``label`` as a salted PBKDF2 hash (None: no password)."""
        path = self.directory / namespace / "passwords.json"
        records = _read_json(path)
        if password is None:
            records.pop(label, None)
        else:
            salt = secrets.token_bytes(16)
            digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)
            records[label] = {"salt": salt.hex(), "hash": digest.hex()}
        write_atomic(path, json.dumps(records, indent=1, sort_keys=True).encode())

    def check_password(self, namespace: str, label: str, password: str | None) -> None:
        """Raise :class:`PasswordError` unless ``password`` opens ``label``."""
        record = _read_json(self.directory / namespace / "passwords.json").get(label)
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
        return _read_json(self.directory / namespace / "versions.json")  # type: ignore[return-value]

    def add_version(self, namespace: str, name: str, record: dict[str, object]) -> None:
        """Append a version of ``name`` (after its key was stored)."""
        data = self.versions(namespace)
        data.setdefault(name, []).append(record)
        write_atomic(self.directory / namespace / "versions.json", json.dumps(data, indent=1).encode())

    def close(self) -> None:
        """Close every device's key stores."""
        for state in self._states.values():
            state.close()
