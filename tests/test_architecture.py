"""hsmsim's import layers (docs/architecture.md), checked on the source.

Every import counts: module level, inside functions and under ``TYPE_CHECKING``. A module imports
only its own layer or lower ones; a format family imports no other family and nothing that runs
formats (corpus, harness, fuzz, server, CLI, the HSM model).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]

ROOT = "hsmsim"
"""The package root itself (``__version__``): the lowest layer, matched exactly."""

FACADE = "hsmsim.api"
"""The public API, at the top layer. The root re-exports it lazily (module ``__getattr__``), so the root's
import of it (for type checkers) is the one upward import allowed."""

LAYERS: tuple[tuple[str, ...], ...] = (
    (ROOT, "hsmsim.errors", "hsmsim.verdict", "hsmsim.safeio", "hsmsim._atomic", "hsmsim.encoding",
     "hsmsim.model", "hsmsim.keystore.base", "hsmsim.cli_params"),
    ("hsmsim.pki", "hsmsim.keystore", "hsmsim.device", "hsmsim.checks", "hsmsim.mutate", "hsmsim.tpm",
     "hsmsim.webauthn"),
    ("hsmsim.formats",),
    ("hsmsim.hsm", "hsmsim.state"),
    ("hsmsim.corpus", "hsmsim.harness", "hsmsim.fuzz", "hsmsim.conformance"),
    ("hsmsim.server", "hsmsim._cli", "hsmsim.__main__", FACADE),
)
"""Lowest first; a name covers its submodules, and the longest matching name decides."""

FAMILIES = "hsmsim.formats"
FAMILY_MAY_NOT_IMPORT = ("hsmsim.corpus", "hsmsim.fuzz", "hsmsim.harness", "hsmsim.server", "hsmsim._cli",
                         "hsmsim.hsm", "hsmsim.state")


def _covers(prefix: str, module: str) -> bool:
    return module == prefix or (prefix != ROOT and module.startswith(prefix + "."))


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of the longest name covering ``module``; None when unassigned."""
    matches = [(len(name), index) for index, names in enumerate(LAYERS) for name in names if _covers(name, module)]
    return max(matches)[1] if matches else None


def source_modules(src: Path) -> dict[str, Path]:
    """Every module of the ``hsmsim`` package under ``src``, by dotted name (a package by its ``__init__``)."""
    modules = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(module: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """``(line, module)`` for every hsmsim module ``module`` imports, wherever the import statement is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if candidate in known else base))
    return [(line, name) for line, name in found if _covers(ROOT, name) or name.startswith(ROOT + ".")]


def _family(module: str, known: dict[str, Path]) -> str | None:
    parts = module.split(".")
    family = ".".join(parts[:3])
    if len(parts) >= 3 and _covers(FAMILIES, module) and family in known and known[family].name == "__init__.py":
        return family
    return None


def violations(src: Path) -> list[str]:
    """Every import under ``src/hsmsim`` that breaks a layering rule, as ``path:line: why``."""
    known = source_modules(src)
    found = []
    for module, path in known.items():
        where = f"{path.relative_to(src)}"
        own_layer = layer_of(module)
        if own_layer is None:
            found.append(f"{where}: {module} is in no layer; add it to LAYERS and docs/architecture.md")
            continue
        family = _family(module, known)
        for line, target in imported_modules(module, path, set(known)):
            target_layer = layer_of(target)
            if module == ROOT and _covers(FACADE, target):
                continue
            if target_layer is None or target_layer > own_layer:
                found.append(f"{where}:{line}: {module} (layer {own_layer}) imports {target} (layer {target_layer})")
            if family is None:
                continue
            other = _family(target, known)
            if other is not None and other != family:
                found.append(f"{where}:{line}: format family {family} imports another family, {target}")
            if any(_covers(forbidden, target) for forbidden in FAMILY_MAY_NOT_IMPORT):
                found.append(f"{where}:{line}: format family {family} imports {target}")
    return found


def test_hsmsim_respects_its_layers() -> None:
    assert violations(SRC) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_the_checker_finds_forbidden_imports_anywhere(tmp_path: Path) -> None:
    _write(tmp_path, {
        "hsmsim/__init__.py": "",
        "hsmsim/errors.py": "def late():\n    from hsmsim.hsm import Hsm\n",
        "hsmsim/hsm.py": "import hsmsim.errors\n",
        "hsmsim/formats/__init__.py": "from hsmsim.errors import late\n",
        "hsmsim/formats/a/__init__.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hsmsim.formats.b import thing\n"
        ),
        "hsmsim/formats/a/codec.py": "from ..b import thing\nfrom hsmsim import state\nfrom . import __name__\n",
        "hsmsim/formats/b/__init__.py": "from hsmsim.formats import late\nthing = 1\n",
        "hsmsim/state.py": "",
        "hsmsim/gadget.py": "",
    })
    assert sorted(violations(tmp_path)) == sorted([
        "hsmsim/errors.py:2: hsmsim.errors (layer 0) imports hsmsim.hsm (layer 3)",
        "hsmsim/formats/a/__init__.py:3: format family hsmsim.formats.a imports another family, hsmsim.formats.b",
        "hsmsim/formats/a/codec.py:1: format family hsmsim.formats.a imports another family, hsmsim.formats.b",
        "hsmsim/formats/a/codec.py:2: hsmsim.formats.a.codec (layer 2) imports hsmsim.state (layer 3)",
        "hsmsim/formats/a/codec.py:2: format family hsmsim.formats.a imports hsmsim.state",
        "hsmsim/gadget.py: hsmsim.gadget is in no layer; add it to LAYERS and docs/architecture.md",
    ])
