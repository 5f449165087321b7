"""Adapter files: how a verifier is run, described in a small TOML or JSON file kept in the user's repo.

    name = "my-verifier"            # default: the file's stem
    mode = "oneshot"                # python | oneshot | persistent
    command = ["./verify.sh", "{primary}", "{anchor}", "{unix_time}"]
    formats = ["primus"]            # or ["*"]; persistent verifiers may leave it to their hello
    profile = "structural"          # the vectors' profile the verifier implements
    timeout_s = 5

See ``docs/conformance.md`` for every key. A verifier can also be named without a file:
``python:module:function``.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hsmsim.errors import HsmsimError
from hsmsim.harness.waivers import Waiver, load_waivers, parse_waivers

MODES = ("python", "oneshot", "persistent")
DEFAULT_TIMEOUT_S = 5.0
"""Per-case deadline, as x509-limbo's certvalidator harness uses."""

_KEYS = {"name", "description", "mode", "entry", "hello", "pythonpath", "isolate", "command", "cwd", "env",
         "formats", "features", "profile", "timeout_s", "hello_timeout_s", "version", "version_cmd",
         "max_restarts", "waivers"}


class AdapterConfigError(HsmsimError):
    """An adapter file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class AdapterConfig:
    """One verifier as its adapter file describes it. Paths are absolute."""

    name: str
    mode: str
    entry: str | None = None
    """python: ``module:function`` or ``path/to/file.py:function`` (relative to the adapter file)."""
    hello: str | None = None
    """python: optional ``module:function`` returning the hello object (formats, features, version)."""
    pythonpath: tuple[str, ...] = ()
    isolate: bool = False
    """python: run the function in a child process through :mod:`hsmsim.harness.shim` (killable on HANG)."""
    command: tuple[str, ...] = ()
    cwd: str = "."
    env: Mapping[str, str] = field(default_factory=dict)
    formats: tuple[str, ...] | None = None
    """None: from the hello (persistent, python with ``hello``), else every format (``*``)."""
    features: tuple[str, ...] | None = None
    profile: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    hello_timeout_s: float = 30.0
    version: str | None = None
    version_cmd: tuple[str, ...] = ()
    max_restarts: int = 20
    waivers: Mapping[str, Waiver] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    """The adapter file (or the ``python:`` spec) it came from."""


def _strings(value: object, key: str, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise AdapterConfigError(f"{origin}: {key} must be a string or a list of strings")


def _command(value: object, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise AdapterConfigError(f"{origin}: command does not split like a shell line: {exc}") from exc
    return _strings(value, "command", origin)


def adapter_from_mapping(data: Mapping[str, object], *, base: Path, default_name: str, origin: str) -> AdapterConfig:
    """Validate an adapter description; relative paths are resolved against ``base``."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise AdapterConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    mode = data.get("mode")
    entry = data.get("entry")
    if mode is None and isinstance(entry, str):
        mode = "python"
    if mode not in MODES:
        raise AdapterConfigError(f"{origin}: mode must be one of {', '.join(MODES)} (got {mode!r})")
    if isinstance(entry, str) and entry.startswith("python:"):
        entry = entry.removeprefix("python:")
    if mode == "python" and (not isinstance(entry, str) or ":" not in entry):
        raise AdapterConfigError(f"{origin}: a python adapter needs entry = \"module:function\"")
    command = _command(data["command"], origin) if "command" in data else ()
    if mode in ("oneshot", "persistent") and not command:
        raise AdapterConfigError(f"{origin}: a {mode} adapter needs a command (a list of arguments)")
    timeout = data.get("timeout_s", DEFAULT_TIMEOUT_S)
    hello_timeout = data.get("hello_timeout_s", 30.0)
    if not isinstance(timeout, int | float) or timeout <= 0 or not isinstance(hello_timeout, int | float):
        raise AdapterConfigError(f"{origin}: timeout_s must be a positive number of seconds")
    env = data.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise AdapterConfigError(f"{origin}: env must be a table of strings")
    waivers_value = data.get("waivers", {})
    if isinstance(waivers_value, str):
        waivers = load_waivers(base / waivers_value)
    elif isinstance(waivers_value, Mapping):
        waivers = parse_waivers(waivers_value, origin)
    else:
        raise AdapterConfigError(f"{origin}: waivers must be a file name or a table {{id = {{...}}}}")
    profile = data.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise AdapterConfigError(f"{origin}: profile must be a string such as \"structural\"")
    version = data.get("version")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise AdapterConfigError(f"{origin}: name must be a non-empty string")
    max_restarts = data.get("max_restarts", 20)
    if not isinstance(max_restarts, int) or max_restarts < 0:
        raise AdapterConfigError(f"{origin}: max_restarts must be a non-negative integer")
    return AdapterConfig(
        name=name, mode=str(mode), entry=entry if isinstance(entry, str) else None,
        hello=str(data["hello"]).removeprefix("python:") if data.get("hello") else None,
        pythonpath=tuple(str((base / p).resolve()) for p in _strings(data.get("pythonpath", []), "pythonpath", origin)),
        isolate=bool(data.get("isolate", False)), command=command,
        cwd=str((base / str(data.get("cwd", "."))).resolve()), env=dict(env),
        formats=_strings(data["formats"], "formats", origin) if "formats" in data else None,
        features=_strings(data["features"], "features", origin) if "features" in data else None,
        profile=profile, timeout_s=float(timeout), hello_timeout_s=float(hello_timeout),
        version=str(version) if version is not None else None,
        version_cmd=_command(data["version_cmd"], origin) if "version_cmd" in data else (),
        max_restarts=max_restarts, waivers=waivers, description=str(data.get("description", "")), source=origin,
    )


def load_adapter(spec: str | Path) -> AdapterConfig:
    """An adapter from a ``.toml`` / ``.json`` file, or from ``python:module:function``.

    Raises :class:`AdapterConfigError` (an :class:`hsmsim.errors.HsmsimError`).
    """
    text = str(spec)
    if text.startswith("python:") and not Path(text).exists():
        entry = text.removeprefix("python:")
        module, _, function = entry.rpartition(":")
        stem = Path(module).stem if module.endswith(".py") else module.rsplit(".", 1)[-1]
        name = stem if function == "verify" else f"{stem}-{function}"
        return adapter_from_mapping({"mode": "python", "entry": entry}, base=Path.cwd(), default_name=name,
                                    origin=text)
    path = Path(text)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AdapterConfigError(f"cannot read adapter file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterConfigError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise AdapterConfigError(f"{path}: an adapter file holds one table/object")
    return adapter_from_mapping(data, base=path.resolve().parent, default_name=path.stem, origin=str(path))
