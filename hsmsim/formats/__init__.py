"""The format registry: the only way the CLI, HSM model, corpus, harness and fuzzer reach formats.

A format module registers one object implementing :class:`hsmsim.formats.base.Format`
with :func:`register`. Every module of this package is a format module and is imported on
first lookup, except ``base`` and the vector catalogues (``*_vectors``), which formats load
themselves; a new format needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from hsmsim.errors import UnsupportedFormatError
from hsmsim.formats.base import Evidence, Format, TrustAnchors

__all__ = ["Evidence", "Format", "TrustAnchors", "detect", "get_format", "names", "register"]

_REGISTRY: dict[str, Format] = {}
_loaded = False


def register(fmt: Format) -> Format:
    """Add ``fmt`` under ``fmt.name``; a second format with the same name is an error."""
    if fmt.name in _REGISTRY and _REGISTRY[fmt.name] is not fmt:
        raise ValueError(f"format {fmt.name!r} is already registered")
    _REGISTRY[fmt.name] = fmt
    return fmt


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_") or info.name.endswith("_vectors"):
            continue
        importlib.import_module(f"{__name__}.{info.name}")


def get_format(name: str) -> Format:
    """The registered format called ``name``; raises :class:`UnsupportedFormatError`."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnsupportedFormatError(
            f"unknown format {name!r}; known formats: {', '.join(sorted(_REGISTRY))}"
        ) from None


def detect(path: Path) -> Format:
    """The one format whose ``detect`` claims ``path``; raises :class:`UnsupportedFormatError`."""
    _load_builtins()
    claimed = [fmt for fmt in _REGISTRY.values() if fmt.detect(path)]
    if len(claimed) != 1:
        found = ", ".join(sorted(f.name for f in claimed)) or "none"
        raise UnsupportedFormatError(f"cannot tell the format of {path} (matches: {found}); pass --format")
    return claimed[0]


def names() -> list[str]:
    """Names of every registered format, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)
