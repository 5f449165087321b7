"""The format registry: the only way the CLI, HSM model, corpus, harness and fuzzer reach formats.

A format module registers one object implementing :class:`hsmsim.formats.base.Format`
with :func:`register`. Built-in formats are imported lazily on first lookup.
"""

from __future__ import annotations

import importlib

from hsmsim.errors import UnsupportedFormatError
from hsmsim.formats.base import Evidence, Format, TrustAnchors

__all__ = ["Evidence", "Format", "TrustAnchors", "get_format", "names", "register"]

_BUILTIN_MODULES = ("hsmsim.formats.primus",)
_REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add ``fmt`` under ``fmt.name``; a second format with the same name is an error."""
    if fmt.name in _REGISTRY and _REGISTRY[fmt.name] is not fmt:
        raise ValueError(f"format {fmt.name!r} is already registered")
    _REGISTRY[fmt.name] = fmt
    return fmt


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def get_format(name: str) -> Format:
    """The registered format called ``name``; raises :class:`UnsupportedFormatError`."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnsupportedFormatError(
            f"unknown format {name!r}; known formats: {', '.join(sorted(_REGISTRY))}"
        ) from None


def names() -> list[str]:
    """Names of every registered format, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)
