"""hsmsim: a software HSM emulator and key-attestation test harness.

Emulated evidence is shaped byte-for-byte like the vendors' own, but every
manufacturer root in here is a simulation: nothing hsmsim signs chains to a
real vendor root.

The Python API (:mod:`hsmsim.api`, documented in ``docs/api.md``) is available here:
``hsmsim.create_key``, ``hsmsim.attest``, ``hsmsim.roots``, ``hsmsim.verify``, ``hsmsim.load_corpus``,
``hsmsim.vectors``, ``hsmsim.format_names``, and the types ``Hsm``, ``HsmState``, ``Evidence``, ``Verdict``,
``Reason``, ``Profile``, ``Claims``, ``TrustAnchors``, ``Corpus``, ``Vector``, and the exceptions ``HsmsimError``
(the base of every error hsmsim raises), ``ParameterError``, ``UnsupportedFormatError`` and ``CorpusLoadError``.
They are resolved on first
use, so ``import hsmsim`` (done by the auto-loaded pytest plugin) imports nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hsmsim.api import (
        Claims,
        Corpus,
        CorpusLoadError,
        Evidence,
        Hsm,
        HsmsimError,
        HsmState,
        ParameterError,
        Profile,
        Reason,
        TrustAnchors,
        UnsupportedFormatError,
        Vector,
        Verdict,
        attest,
        create_key,
        format_names,
        load_corpus,
        roots,
        vectors,
        verify,
    )

__all__ = [
    "Claims", "Corpus", "CorpusLoadError", "Evidence", "Hsm", "HsmState", "HsmsimError", "ParameterError", "Profile",
    "Reason", "TrustAnchors", "UnsupportedFormatError", "Vector", "Verdict", "__version__", "attest", "create_key",
    "format_names", "load_corpus", "roots", "vectors", "verify",
]


def __getattr__(name: str) -> Any:
    if name not in __all__ or name == "__version__":
        raise AttributeError(f"module 'hsmsim' has no attribute {name!r}")
    return getattr(importlib.import_module("hsmsim.api"), name)
