"""A persistent emulated HSM on disk, for the CLI and the HTTP server.

Layout of a state directory::

    hsm.json      the device's format, seed and serial (written once, atomically)
    labels.lock   serialises key creations, so that a label names one key in the whole state
    soft/         keys of the soft backend, one JSON file each
    token/        the SoftHSM2 token of the pkcs11 backend, or, when the state uses a token that exists already
                  (``--token-label``), pkcs11-token.json naming it (module path, token label and serial number,
                  never the PIN) and the keys' creation times
    swtpm/        the software TPM of the swtpm backend (its state, private CA and key records)

A key label is looked up in every backend that has been used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim._atomic import locked, write_atomic
from hsmsim.cli_params import PIN_ENV
from hsmsim.device import Device
from hsmsim.errors import BundleError, HsmsimError, KeyNotFoundError
from hsmsim.formats import names
from hsmsim.hsm import Hsm
from hsmsim.keystore import BACKENDS, check_creatable, open_keystore
from hsmsim.keystore.base import KeyPolicy, KeySpec, KeyStore, StoredKey
from hsmsim.keystore.soft import new_key_material
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.safeio import load_json_object
from hsmsim.verdict import escaped

if TYPE_CHECKING:
    from hsmsim.keystore.pkcs11 import ExistingToken

DEFAULT_SEED = "hsmsim-default"
_LABELS_LOCK = "labels.lock"
_SUBDIRS = {"soft": "soft", "pkcs11": "token", "swtpm": "swtpm"}
MAX_STATE_FILE_BYTES = 64 * 1024
"""The most ``hsm.json`` may hold (it holds four short strings)."""
CLI_PIN_HINT = f"set {PIN_ENV} or pass --pin-file"
"""How a command is given an existing PKCS#11 token's user PIN (see :attr:`HsmState.pin_hint`)."""
_SERIAL = re.compile(r"[0-9]{1,20}")
_INITIALISED_YEARS = (2000, 2049)
"""The device certificates hsmsim derives from ``initialised`` run decades past it, within X.509's dates."""


@dataclass
class HsmState:
    """An emulated device and its key stores, opened lazily from ``directory``."""

    directory: Path
    device: Device
    _stores: dict[str, KeyStore] = field(default_factory=dict)
    _identities: dict[str, AttestationIdentity] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    created: bool = False
    """Whether :meth:`open` wrote this state's ``hsm.json`` (it was new)."""
    made_directory: bool = False
    """Whether :meth:`open` made ``directory`` itself (it did not exist)."""
    pkcs11_token: ExistingToken | None = None
    """The existing token asked for the pkcs11 backend (None: the one the state records, else hsmsim's own)."""
    pkcs11_pin: str | None = field(default=None, repr=False)
    """The user PIN of the existing token the pkcs11 backend uses (never written anywhere)."""
    pin_hint: str = CLI_PIN_HINT
    """How the caller gives :attr:`pkcs11_pin`, for the error that asks for it (the Python API's differs)."""

    @classmethod
    def open(
        cls, directory: Path, *, format: str | None = None, seed: str | None = None, create: bool = True,
        pkcs11_token: ExistingToken | None = None, pkcs11_pin: str | None = None, pin_hint: str = CLI_PIN_HINT,
    ) -> HsmState:
        """Open the state in ``directory``, creating it with ``format`` (default primus) and ``seed`` if new.

        ``pkcs11_token`` and ``pkcs11_pin`` choose the pkcs11 backend's token when it is opened (:meth:`store`);
        ``pin_hint`` says how the caller gives the PIN, in the error when it is needed and missing.

        Raises :class:`HsmsimError` (one line) when ``seed`` is empty, when an existing state disagrees with
        ``format``/``seed`` or is corrupt (``hsm.json`` not a regular file of at most
        :data:`MAX_STATE_FILE_BYTES`, not JSON, or not the object hsmsim writes), when ``directory`` is not a
        usable directory or cannot be written, or when there is none and ``create`` is false.
        """
        if seed == "":
            raise HsmsimError("the seed must not be empty")
        config_path = directory / "hsm.json"
        existed = existing_directory(directory)
        present = existed and os.path.lexists(config_path)
        if not create and not present:
            raise HsmsimError(f"no hsmsim state in {escaped(str(directory))} "
                              "(create it with 'hsmsim key create --state DIR')")
        if not present:
            device = Device.from_seed(format or "primus", DEFAULT_SEED if seed is None else seed)
            config = {"format": device.format, "serial": device.serial, "seed": device.seed,
                      "initialised": device.initialised.isoformat()}
            try:
                directory.mkdir(parents=True, exist_ok=True)
                write_atomic(config_path, json.dumps(config, indent=1).encode(), exclusive=True)
            except FileExistsError:
                pass  # another process created the state meanwhile: it is checked below like any existing one
            except OSError as exc:
                raise HsmsimError(f"cannot write the HSM state {escaped(str(config_path))}: {exc.strerror}") \
                    from exc
            else:
                return cls(directory, device, created=True, made_directory=not existed, pkcs11_token=pkcs11_token,
                           pkcs11_pin=pkcs11_pin, pin_hint=pin_hint)
        device = _read_device(config_path)
        if seed is not None and seed != device.seed:
            raise HsmsimError(f"{escaped(str(directory))} was created with another seed; use a new --state")
        if format is not None and format != device.format:
            raise HsmsimError(f"{escaped(str(directory))} emulates a {device.format} HSM, not {format}")
        return cls(directory, device, pkcs11_token=pkcs11_token, pkcs11_pin=pkcs11_pin, pin_hint=pin_hint)

    def store(self, backend: str) -> KeyStore:
        """The key store of ``backend`` (opened once, also when threads ask at the same time).

        The pkcs11 store is the token :meth:`_open_pkcs11` chooses. Raises :class:`HsmsimError` (one line) when a
        store cannot be opened.
        """
        with self._lock:
            if backend not in self._stores:
                where = self.directory / _SUBDIRS.get(backend, backend)
                existed = os.path.lexists(where)
                try:
                    self._stores[backend] = (self._open_pkcs11(where) if backend == "pkcs11"
                                             else open_keystore(backend, where))
                except OSError as exc:
                    raise HsmsimError(f"cannot open the {backend} key store {escaped(str(where))}: "
                                      f"{exc.strerror}") from exc
                finally:
                    if backend not in self._stores and not existed:
                        # the empty directory a failed opening made would count as a backend in use
                        with contextlib.suppress(OSError):
                            os.rmdir(where)
            return self._stores[backend]

    def _open_pkcs11(self, where: Path) -> KeyStore:
        """The pkcs11 store in ``where``: the existing token :attr:`pkcs11_token` names, else the one ``where``
        records, else hsmsim's own SoftHSM2 token. An existing token is never initialised, is logged into with
        :attr:`pkcs11_pin`, and is recorded in ``where`` the first time (module path, label and serial number, not
        the PIN), so a later process reopens it unasked.

        A state's pkcs11 backend is one token: raises :class:`HsmsimError` (one line) when :attr:`pkcs11_token`
        names another token than the recorded one, or any when the state uses hsmsim's own token, and when the
        PIN of an existing token was not given, or the token found has another serial number than the recorded
        one (another token of that label: the module's configuration changed)."""
        from hsmsim.keystore.pkcs11 import Pkcs11KeyStore, read_token_record, write_token_record

        recorded = read_token_record(where)
        asked = self.pkcs11_token
        state = escaped(str(self.directory))
        if asked is not None and recorded is None and os.path.lexists(where):
            raise HsmsimError(f"{state} keeps its pkcs11 keys in hsmsim's own SoftHSM2 token, not in {asked}: a "
                              "state's pkcs11 backend is one token (use a new --state for another)")
        if asked is not None and recorded is not None and not recorded.same_as(asked):
            raise HsmsimError(f"{state} uses the PKCS#11 {recorded}, not {asked}: a state's pkcs11 backend is one "
                              "token (use a new --state for another)")
        token = recorded or asked
        if token is None:
            return open_keystore("pkcs11", where)
        if self.pkcs11_pin is None:
            raise HsmsimError(f"the user PIN of the PKCS#11 {token} is needed: {self.pin_hint}; hsmsim never "
                              "stores it")
        store = Pkcs11KeyStore(module=token.module, token_label=token.label, user_pin=self.pkcs11_pin,
                               token_dir=where, existing_token=True)
        try:
            if recorded is None:
                write_token_record(where, dataclasses.replace(token, serial=store.token_serial))
            elif recorded.serial != store.token_serial:
                raise HsmsimError(f"the PKCS#11 {token} has serial number {escaped(store.token_serial)!r}, but "
                                  f"{state} recorded {escaped(recorded.serial or '')!r}: another token has this "
                                  "label (is SOFTHSM2_CONF, or the module's configuration, the one the keys were "
                                  "made with?)")
        except BaseException:
            store.close()
            raise
        return store

    def new_key(self, backend: str, label: str, spec: KeySpec, policy: KeyPolicy, *,
                imported: bool = False, created: datetime | None = None) -> StoredKey:
        """Generate (or, ``imported``, make outside and import) a key labelled ``label`` in ``backend``, created at
        ``created`` (default now; naive means UTC), which every backend records and reports as the key's
        creation time.

        A label names one key per state (``attest`` looks it up in every backend): raises :class:`HsmsimError`
        when another backend holds ``label`` already, when ``created`` is in the future or before the device was
        initialised, and what the store raises when ``backend`` does. Creations in one state are serialised across
        processes, so two cannot both pass the check. A creation that fails in a backend this call began to use
        leaves no store directory behind (it would count as a backend in use).
        """
        check_creatable(backend, spec, policy, imported=imported)  # before the store's directory is made
        when = None if created is None else self._creation_time(created)
        with self._creations_locked():
            if not os.path.lexists(self.directory / "hsm.json"):  # withdrawn by a failed first creation
                raise HsmsimError(f"the hsmsim state in {escaped(str(self.directory))} was removed; create it again")
            for other in self.backends_in_use():
                if other == backend:
                    continue
                try:
                    self.store(other).get(label)
                except KeyNotFoundError:
                    continue
                raise HsmsimError(f"a key labelled {escaped(label)!r} exists in the {other} backend of "
                                  f"{escaped(str(self.directory))} (a label names one key per state)")
            began = backend not in self._stores and not os.path.lexists(self.directory / _SUBDIRS[backend])
            try:
                store = self.store(backend)
                if imported:
                    return store.import_key(new_key_material(spec), label, policy=policy, created=when)
                return store.generate(spec, label, policy=policy, created=when)
            except BaseException:
                if began:  # under the lock: no other creation can have stored a key there meanwhile
                    self._discard_store(backend)
                raise

    def _creation_time(self, created: datetime) -> datetime:
        """``created`` (naive meaning UTC) in UTC; raises :class:`HsmsimError` when it is later than now or before
        the device was initialised: no key is older than its HSM, nor made in the future."""
        moment = (created if created.tzinfo is not None else created.replace(tzinfo=UTC)).astimezone(UTC)
        now = datetime.now(UTC)
        if moment > now:
            raise HsmsimError(f"the creation time {moment.isoformat()} is in the future (now is "
                              f"{now.replace(microsecond=0).isoformat()}): a key cannot be created later than now")
        if moment < self.device.initialised:
            raise HsmsimError(f"the creation time {moment.isoformat()} is before the device was initialised "
                              f"({self.device.initialised.isoformat()}): a key cannot be older than its HSM")
        return moment

    def _discard_store(self, backend: str) -> None:
        """Close ``backend``'s store and remove its directory, which a failed first creation in it made."""
        with self._lock:
            opened = self._stores.pop(backend, None)
        if opened is not None:
            opened.close()
        shutil.rmtree(self.directory / _SUBDIRS[backend], ignore_errors=True)

    def withdraw_if_unused(self) -> bool:
        """Remove ``hsm.json`` and ``labels.lock`` when :meth:`open` created the state and no backend has stored
        anything yet (a first ``key create`` that failed), and the directory too when :meth:`open` made it and
        nothing else is in it, so the state can be created again with another seed or format and nothing is left
        behind; returns whether it did. Under the creations' lock, so a concurrent creation either ran first (and
        the state stays) or finds the state gone and says so (:meth:`new_key`); the lock file is removed while
        held, which :func:`~hsmsim._atomic.locked` allows."""
        if not self.created:
            return False
        with self._creations_locked():
            if self.backends_in_use():
                return False
            for name in ("hsm.json", _LABELS_LOCK):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.directory / name)
        if self.made_directory:
            with contextlib.suppress(OSError):  # not empty: something else was put there meanwhile
                os.rmdir(self.directory)
        return True

    @contextlib.contextmanager
    def _creations_locked(self) -> Iterator[None]:
        """Hold the lock that serialises key creations in this state; raises :class:`HsmsimError` (one line) when its
        file cannot be opened (a read-only or full state directory)."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(locked(self.directory / _LABELS_LOCK))
            except OSError as exc:
                raise HsmsimError(f"cannot create keys in {escaped(str(self.directory))}: {exc.strerror}") from exc
            yield

    def backends_in_use(self) -> list[str]:
        """Backends that hold (or have held) keys in this state."""
        return [b for b in BACKENDS if b in self._stores or (self.directory / _SUBDIRS[b]).exists()]

    def store_holding(self, label: str) -> KeyStore:
        """The store that holds a key labelled ``label``.

        A backend that cannot be opened or read does not hide the keys of the others (a state's swtpm keys are
        still attested on a machine where its PKCS#11 token is gone): its error is raised only when no other
        backend holds ``label``, since the key may be there. hsmsim gives a label to one key per state, but another
        PKCS#11 tool may reuse one on the token: a label two backends hold names the key of the first readable one
        in the order of :data:`~hsmsim.keystore.BACKENDS`. Raises :class:`KeyNotFoundError` when every backend was
        read and none holds ``label``, else the first unreadable backend's :class:`HsmsimError`.
        """
        unreadable: HsmsimError | None = None
        for backend in self.backends_in_use():
            try:
                store = self.store(backend)
                store.get(label)
            except KeyNotFoundError:
                continue
            except HsmsimError as exc:
                unreadable = unreadable or exc
                continue
            return store
        if unreadable is not None:
            raise unreadable
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


def existing_directory(directory: Path) -> bool:
    """Whether ``directory`` exists (as a directory, after symlinks); False when nothing is there.

    Raises :class:`HsmsimError` (one line) when something is there but is not a directory (a file, FIFO,
    device, dangling or looping symlink) or the name cannot be looked at (too long, no permission).
    Nothing is opened, so nothing blocks.
    """
    shown = escaped(str(directory))
    try:
        os.lstat(directory)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise HsmsimError(f"cannot use the state directory {shown}: {exc.strerror}") from exc
    try:
        is_directory = stat.S_ISDIR(os.stat(directory).st_mode)
    except OSError as exc:
        raise HsmsimError(f"cannot use the state directory {shown}: {exc.strerror}") from exc
    if not is_directory:
        raise HsmsimError(f"the state directory {shown} is not a directory")
    return True


def read_json_object(path: Path, limit: int, what: str) -> dict[str, object]:
    """The JSON object in the regular file ``path`` of at most ``limit`` bytes (read by :func:`load_json_object`:
    never blocks, never reads past ``limit``); raises :class:`HsmsimError` (``corrupt <what>``) naming the file."""
    try:
        return load_json_object(path, limit)
    except BundleError as exc:
        raise HsmsimError(f"corrupt {what}: {escaped(str(exc))}") from None


def _read_device(path: Path) -> Device:
    """The device ``hsm.json`` describes, read bounded; raises :class:`HsmsimError` naming the file."""
    config = read_json_object(path, MAX_STATE_FILE_BYTES, "HSM state")
    # states written before the rename call the format "profile"
    raw = {"format": config.get("format") or config.get("profile"), "serial": config.get("serial"),
           "seed": config.get("seed"), "initialised": config.get("initialised")}
    fields: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            raise HsmsimError(f"corrupt HSM state {escaped(str(path))}: {name} is not a string")
        fields[name] = value
    shown = escaped(str(path))
    if fields["format"] not in names():
        raise HsmsimError(f"corrupt HSM state {shown}: unknown format {escaped(fields['format'])!r}")
    if not _SERIAL.fullmatch(fields["serial"]):
        raise HsmsimError(f"corrupt HSM state {shown}: serial is not 1 to 20 decimal digits")
    if not fields["seed"]:
        raise HsmsimError(f"corrupt HSM state {shown}: seed is empty")
    try:
        initialised = datetime.fromisoformat(fields["initialised"])
    except ValueError:
        raise HsmsimError(f"corrupt HSM state {shown}: initialised is not an ISO 8601 time") from None
    if initialised.utcoffset() is None or not _INITIALISED_YEARS[0] <= initialised.year <= _INITIALISED_YEARS[1]:
        raise HsmsimError(f"corrupt HSM state {shown}: initialised is not a time with a UTC offset in the years "
                          f"{_INITIALISED_YEARS[0]} to {_INITIALISED_YEARS[1]}")
    return Device(format=fields["format"], serial=fields["serial"], seed=fields["seed"], initialised=initialised)


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
