"""The format registry: the only way the HSM model, corpus, harness, fuzzer, server and CLI reach formats.

Each format family is a package of this one (``hsmsim/formats/<family>/``) whose ``__init__``
registers one object per format it provides with :func:`register`; the contract every format
object meets is :class:`hsmsim.formats.contract.Format`. Families are imported on first lookup,
so a new family needs no edit here. Looking a format up by name imports only the family the name
names (``primus``, ``marvell`` for ``marvell-azure``, ``tpm`` for ``parsec-tpm``) when one does and no
plugin is installed; any other lookup, and a name no family is named in, imports every family.

Formats distributed outside hsmsim are plugins: a distribution advertises each format object under
the entry-point group ``hsmsim.formats``, the entry point's name being the format's name, e.g. in its
``pyproject.toml``::

    [project.entry-points."hsmsim.formats"]
    toy = "toyformat:FORMAT"

They are loaded with the built-in families. Code that defines a format at run time (a test) may
call :func:`register` itself.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import pkgutil
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from hsmsim.errors import UnsupportedFormatError
from hsmsim.formats.contract import Format
from hsmsim.model.evidence import Evidence, TrustAnchors, bundle_entries
from hsmsim.pki.parse_warnings import certificate_warnings_ignored
from hsmsim.verdict import Profile, Reason, Verdict, escaped

__all__ = ["PLUGIN_GROUP", "Format", "all_formats", "detect", "get_format", "load_evidence", "names", "register",
           "unregister", "verify_guarded"]

PLUGIN_GROUP = "hsmsim.formats"
"""The entry-point group under which installed distributions advertise format objects."""

_REGISTRY: dict[str, Format] = {}
_CONTRACT_HOOKS = tuple(sorted({*Format.__annotations__,
                                *(name for name, value in vars(Format).items()
                                  if callable(value) and not name.startswith("_"))}))
"""The attributes and methods of :class:`~hsmsim.formats.contract.Format`, which a plugin object must all have."""
_loaded = False
_loading = False
_load_lock = threading.RLock()


def register(fmt: Format) -> Format:
    """Add ``fmt`` under ``fmt.name``; a second format with the same name is an error."""
    if fmt.name in _REGISTRY and _REGISTRY[fmt.name] is not fmt:
        raise ValueError(f"format {fmt.name!r} is already registered")
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Remove the format called ``name`` (for formats registered by tests or plugins)."""
    _REGISTRY.pop(name, None)


def _load_plugins() -> None:
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            fmt = entry.load()
        except Exception as exc:  # a broken plugin, whatever it raised, is one clear error
            raise UnsupportedFormatError(
                f"format plugin {entry.name!r} ({entry.value}) cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if getattr(fmt, "name", None) != entry.name:
            raise UnsupportedFormatError(
                f"format plugin {entry.name!r} ({entry.value}) is not a format named {entry.name!r}"
            )
        missing = [hook for hook in _CONTRACT_HOOKS if not hasattr(fmt, hook)]
        if missing:  # checked once here, so that no command later fails on a hook the plugin lacks
            raise UnsupportedFormatError(
                f"format plugin {entry.name!r} ({entry.value}) lacks the contract's {', '.join(missing)}"
            )
        try:
            register(fmt)
        except ValueError as exc:
            raise UnsupportedFormatError(f"format plugin {entry.name!r} ({entry.value}): {exc}") from None


def _load_formats() -> None:
    """Import every family and plugin once; other threads wait until the registry is complete."""
    global _loaded, _loading
    if _loaded:
        return
    with _load_lock:
        if _loaded or _loading:  # _loading: this thread re-entered while a family was importing
            return
        _loading = True
        try:
            for family in _families():
                importlib.import_module(f"{__name__}.{family}")
            _load_plugins()
            _loaded = True  # only when complete: after a failure the next lookup reports it again
        finally:
            _loading = False


@functools.cache
def _families() -> tuple[str, ...]:
    return tuple(info.name for info in pkgutil.iter_modules(__path__) if info.ispkg)


@functools.cache
def _plugins_installed() -> bool:
    return bool(importlib.metadata.entry_points(group=PLUGIN_GROUP))


def _load_format(name: str) -> None:
    """Import what registers ``name``: the families named by a part of it (``marvell`` for ``marvell-azure``), if
    that registers it and no plugin is installed (a plugin may clash with any built-in name, which only the whole
    registry tells), else every family and plugin (:func:`_load_formats`). A verifier looked up by name so costs
    the import of its own family alone."""
    if _loaded:
        return
    if not _plugins_installed():
        with _load_lock:
            for family in _families():
                if family in name.split("-"):
                    importlib.import_module(f"{__name__}.{family}")
        if name in _REGISTRY:
            return
    _load_formats()


def get_format(name: str) -> Format:
    """The registered format called ``name``; raises :class:`UnsupportedFormatError`."""
    _load_format(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnsupportedFormatError(
            f"unknown format {name!r}; known formats: {', '.join(sorted(_REGISTRY))}"
        ) from None


def detect(path: Path) -> Format:
    """The one format whose ``detect`` claims ``path`` (a regular file or a directory, after symlinks);
    raises :class:`UnsupportedFormatError`, or :class:`~hsmsim.errors.BundleError` for a directory that holds
    more than :data:`~hsmsim.model.evidence.MAX_BUNDLE_ENTRIES` entries or cannot be listed."""
    _load_formats()
    if not path.is_dir() and not path.is_file():
        raise UnsupportedFormatError(f"{escaped(str(path))} is neither a regular file nor a directory")
    if path.is_dir():
        bundle_entries(path)  # a directory no format may list (too many entries, unreadable) says so, not "none"
    claimed = [fmt for fmt in _REGISTRY.values() if fmt.detect(path)]
    if len(claimed) != 1:
        found = ", ".join(sorted(f.name for f in claimed)) or "none"
        raise UnsupportedFormatError(f"cannot tell the format of {escaped(str(path))} (matches: {found}); "
                                     "pass --format")
    return claimed[0]


def load_evidence(fmt: Format, path: Path, *, ignore: Iterable[Path] = ()) -> Evidence:
    """``fmt.load(path)``, except that a directory's record is never one of ``ignore``: the evidence as ``hsmsim
    verify`` and :func:`hsmsim.verify` read it, the trust anchors given with it (which may sit in the directory)
    left out. A directory is read as its record file is (:meth:`~hsmsim.model.evidence.BundleLayout.load`); one
    holding no record gives evidence without files, which the verifier rejects ``MISSING_INPUT``. Raises
    :class:`~hsmsim.errors.BundleError` as ``fmt.load`` does."""
    return fmt.layout.load(path, fmt.load, fmt.name, ignore)


def names() -> list[str]:
    """Names of every registered format, sorted."""
    _load_formats()
    return sorted(_REGISTRY)


def all_formats() -> list[Format]:
    """Every registered format, sorted by name."""
    _load_formats()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def verify_guarded(
    fmt: Format, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
    profile: Profile = Profile.STRUCTURAL,
) -> Verdict:
    """``fmt.verify(...)``, except that an exception escaping it becomes an INTERNAL_ERROR verdict.

    The last line of defence for every caller that must print or record a verdict (CLI, conformance
    harness, fuzzer): the contract says ``verify`` never raises, so an exception here is a bug in the
    verifier; the detail starts with the exception's class name so the bug can be found and fixed at
    its root. ``MemoryError`` and non-``Exception`` errors (``KeyboardInterrupt``) still propagate. The warnings
    cryptography gives on a malformed certificate are ignored during the call (:func:`certificate_warnings_ignored`),
    so ``-W error`` cannot turn evidence's defect into an exception.
    """
    try:
        with certificate_warnings_ignored():
            return fmt.verify(evidence, trust, at=at, profile=profile)
    except Exception as exc:  # the contract's last line of defence, reported as a bug
        if isinstance(exc, MemoryError):
            raise
        return Verdict(Reason.INTERNAL_ERROR,
                       f"{type(exc).__name__} escaped the {fmt.name} verifier (a bug in hsmsim): "
                       f"{escaped(str(exc))[:200]}")
