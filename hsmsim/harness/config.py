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

import re
import shlex
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hsmsim.errors import BundleError, HsmsimError
from hsmsim.harness.text import one_line
from hsmsim.harness.waivers import Waiver, load_waivers, parse_waivers
from hsmsim.safeio import load_json_file, read_local_file
from hsmsim.verdict import Profile, escaped

MODES = ("python", "oneshot", "persistent")
DEFAULT_TIMEOUT_S = 5.0
"""Per-case deadline, as x509-limbo's certvalidator harness uses."""
MAX_TIMEOUT_S = 86400.0
"""The longest deadline taken (a day): past it a deadline is a typo, and past ~1e9 s the clocks overflow."""
ADAPTER_FILE_LIMIT = 1024 * 1024

DEFAULT_MAX_MEMORY_MIB = 4096
"""The default bound on a verifier process's data segment (``max_memory_mib``)."""
NAME_LIMIT = 100
"""The longest verifier name: it names the verifier's report files and temporary directories."""
_KEYS = {"name", "description", "mode", "entry", "hello", "pythonpath", "isolate", "command", "cwd", "env",
         "formats", "features", "profile", "timeout_s", "hello_timeout_s", "version", "version_cmd",
         "max_restarts", "max_memory_mib", "waivers"}


PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)(?::([^{}]*))?\}")
"""What a command template's placeholders look like: ``{name}``, ``{file:NAME}``, or a literal ``{{`` or ``}}``."""
ONESHOT_PLACEHOLDERS = ("primary", "dir", "anchor", "anchors_dir", "time", "unix_time", "profile", "id", "format",
                        "python", "here")
"""The names a oneshot command may use besides ``{file:NAME}``."""


class AdapterConfigError(HsmsimError):
    """An adapter file is missing, unreadable or inconsistent."""


def placeholder_problem(match: re.Match[str], known: Collection[str]) -> str | None:
    """Why the :data:`PLACEHOLDER` ``match`` cannot be filled in from the names ``known`` (or ``{file:NAME}``), in one
    line; None when it can, or is a literal brace."""
    name, argument = match.group(1), match.group(2)
    if name is None:
        return None
    if name == "file":
        return None if argument else "placeholder {file:...} needs a file name or suffix, e.g. {file:.csr}"
    if name not in known or argument is not None:
        return f"unknown placeholder {match.group(0)}; known: {{{'} {'.join(sorted(known))}}} {{file:X}}"
    return None


def check_oneshot_command(command: Iterable[str], origin: str) -> None:
    """Raise :class:`AdapterConfigError` (one line naming ``origin``) unless every placeholder of the oneshot
    ``command`` can be filled in for any case, so a bad template is refused before anything runs."""
    for part in command:
        for match in PLACEHOLDER.finditer(part):
            problem = placeholder_problem(match, ONESHOT_PLACEHOLDERS)
            if problem is not None:
                raise AdapterConfigError(f"{origin}: command: {problem}")


STATIC_PLACEHOLDERS = ("python", "here")
"""The placeholders of what runs outside a case (a persistent command, ``version_cmd``, ``env`` values)."""


def check_static_template(template: Iterable[str], key: str, origin: str) -> None:
    """Raise :class:`AdapterConfigError` (one line naming ``origin`` and ``key``) when ``template`` holds a placeholder
    other than :data:`STATIC_PLACEHOLDERS`: it runs outside any case, so a case's placeholder would reach the
    verifier as the literal text."""
    for part in template:
        for match in PLACEHOLDER.finditer(part):
            if match.group(1) is not None and (match.group(1) not in STATIC_PLACEHOLDERS or match.group(2) is not None):
                raise AdapterConfigError(
                    f"{origin}: {key}: placeholder {match.group(0)} is not filled in here: {key} is set up outside "
                    "any case, so it may use only {python} and {here} (only a oneshot command is filled in per case)")


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
    here: str = "."
    """The adapter file's directory (``{here}``); ``cwd`` is the verifier's working directory."""
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
    max_memory_mib: int = DEFAULT_MAX_MEMORY_MIB
    """oneshot, persistent, isolated python: the bound on each verifier process's data segment, in MiB (0: none)."""
    waivers: Mapping[str, Waiver] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    """The adapter file (or the ``python:`` spec) it came from."""


def check_timeout(value: object, what: str) -> float:
    """``value`` as a deadline in seconds: a finite number (not a bool) above 0 and at most
    :data:`MAX_TIMEOUT_S`; raises :class:`AdapterConfigError` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT_S:
        raise AdapterConfigError(f"{what} must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g} "
                                 f"(got {one_line(repr(value), 40)})")
    return float(value)


def _no_nul(values: Iterable[str], key: str, origin: str) -> None:
    if any("\0" in value for value in values):
        raise AdapterConfigError(f"{origin}: {key} holds a NUL character")


def _strings(value: object, key: str, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        _no_nul(value, key, origin)
        return tuple(value)
    raise AdapterConfigError(f"{origin}: {key} must be a string or a list of strings")


def _command(value: object, key: str, origin: str) -> tuple[str, ...]:
    if isinstance(value, str):
        _no_nul([value], key, origin)
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise AdapterConfigError(f"{origin}: {key} does not split like a shell line: {exc}") from exc
    return _strings(value, key, origin)


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
    command = _command(data["command"], "command", origin) if "command" in data else ()
    if mode in ("oneshot", "persistent") and not command:
        raise AdapterConfigError(f"{origin}: a {mode} adapter needs a command (a list of arguments)")
    if mode == "oneshot":
        check_oneshot_command(command, origin)
    else:
        check_static_template(command, "command", origin)
    timeout = check_timeout(data.get("timeout_s", DEFAULT_TIMEOUT_S), f"{origin}: timeout_s")
    hello_timeout = check_timeout(data.get("hello_timeout_s", 30.0), f"{origin}: hello_timeout_s")
    env = data.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise AdapterConfigError(f"{origin}: env must be a table of strings")
    _no_nul([*env, *env.values()], "env", origin)
    if any("=" in key or not key for key in env):
        raise AdapterConfigError(f"{origin}: env names must be non-empty and hold no '='")
    check_static_template(env.values(), "env", origin)
    waivers_value = data.get("waivers", {})
    if isinstance(waivers_value, str):
        waivers = load_waivers(base / waivers_value)
    elif isinstance(waivers_value, Mapping):
        waivers = parse_waivers(waivers_value, origin)
    else:
        raise AdapterConfigError(f"{origin}: waivers must be a file name or a table {{id = {{...}}}}")
    profile = data.get("profile")
    if profile is not None and profile not in tuple(Profile):
        raise AdapterConfigError(f"{origin}: profile must be one of {', '.join(Profile)} (got {profile!r})")
    version = data.get("version")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name or len(name) > NAME_LIMIT:
        raise AdapterConfigError(f"{origin}: name must be a non-empty string of at most {NAME_LIMIT} characters "
                                 "(it names the verifier's report files)")
    cwd = data.get("cwd", ".")
    if not isinstance(cwd, str):
        raise AdapterConfigError(f"{origin}: cwd must be a string (a directory)")
    _no_nul([cwd], "cwd", origin)
    isolate = data.get("isolate", False)
    if not isinstance(isolate, bool):
        raise AdapterConfigError(f"{origin}: isolate must be true or false")
    if version is not None and (isinstance(version, bool) or not isinstance(version, str | int | float)):
        raise AdapterConfigError(f"{origin}: version must be a string or a number")
    if not isinstance(data.get("description", ""), str):
        raise AdapterConfigError(f"{origin}: description must be a string")
    if "formats" in data and not data["formats"]:
        raise AdapterConfigError(f'{origin}: formats is empty: list the formats the verifier claims, or "*"')
    max_restarts = data.get("max_restarts", 20)
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise AdapterConfigError(f"{origin}: max_restarts must be a non-negative integer")
    version_cmd = _command(data["version_cmd"], "version_cmd", origin) if "version_cmd" in data else ()
    check_static_template(version_cmd, "version_cmd", origin)
    max_memory = data.get("max_memory_mib", DEFAULT_MAX_MEMORY_MIB)
    if isinstance(max_memory, bool) or not isinstance(max_memory, int) or not 0 <= max_memory <= 1 << 30:
        raise AdapterConfigError(f"{origin}: max_memory_mib must be an integer from 0 (no bound) to {1 << 30} "
                                 f"(got {one_line(repr(max_memory), 40)})")
    return AdapterConfig(
        name=name, mode=str(mode), entry=entry if isinstance(entry, str) else None,
        hello=str(data["hello"]).removeprefix("python:") if data.get("hello") else None,
        pythonpath=tuple(str((base / p).resolve()) for p in _strings(data.get("pythonpath", []), "pythonpath", origin)),
        isolate=isolate, command=command,
        cwd=str((base / cwd).resolve()), here=str(base.resolve()), env=dict(env),
        formats=_strings(data["formats"], "formats", origin) if "formats" in data else None,
        features=_strings(data["features"], "features", origin) if "features" in data else None,
        profile=str(profile) if profile is not None else None, timeout_s=timeout, hello_timeout_s=hello_timeout,
        version=str(version) if version is not None else None,
        version_cmd=version_cmd,
        max_restarts=max_restarts, max_memory_mib=max_memory, waivers=waivers,
        description=str(data.get("description", "")), source=origin,
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
        data = load_json_file(path, ADAPTER_FILE_LIMIT) if path.suffix.lower() == ".json" else _load_toml(path)
    except BundleError as exc:
        raise AdapterConfigError(f"adapter file: {exc}") from None
    if not isinstance(data, dict):
        raise AdapterConfigError(f"{escaped(str(path))}: an adapter file holds one table/object")
    return adapter_from_mapping(data, base=path.resolve().parent, default_name=path.stem, origin=str(path))


def _load_toml(path: Path) -> object:
    """The TOML table of the adapter file ``path``, read as :func:`~hsmsim.safeio.load_json_file` reads JSON."""
    raw = read_local_file(path, ADAPTER_FILE_LIMIT)
    try:
        return tomllib.loads(raw.decode())
    except RecursionError:
        raise BundleError(f"{escaped(str(path))} nests too deeply to be read as TOML") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise BundleError(f"{escaped(str(path))} is not valid TOML: {one_line(str(exc), 120)}") from None
