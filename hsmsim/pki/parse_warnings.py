"""The warnings cryptography gives while it parses a malformed certificate, and the filters that silence them.

A module of their own, apart from :mod:`hsmsim.pki.chain`, so that a command installs the filters before it knows
whether it will parse a certificate at all, without importing cryptography's X.509 machinery.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.utils import CryptographyDeprecationWarning

__all__ = ["CERTIFICATE_WARNINGS", "certificate_warnings_ignored", "quiet_certificate_warnings"]

CERTIFICATE_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    ("", CryptographyDeprecationWarning), ("Attribute's length must be", UserWarning))
"""The warnings cryptography gives while it parses a malformed certificate, as (message pattern, category): a
deprecated encoding (a non-positive serial, say) or a name attribute of the wrong length (a country name of nine
characters, or the real Crypto4A root's ``C=Canada``). Evidence is often broken on purpose, and verifiers report
its defects in verdicts, so hsmsim's entry points (the CLI, its worker processes, the pytest plugin) ignore them."""


def quiet_certificate_warnings() -> None:
    """Ignore :data:`CERTIFICATE_WARNINGS` process-wide, so the CLI's standard error keeps its one line. A spawned
    worker process inherits no filter, so each calls this too."""
    for message, category in CERTIFICATE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


@contextmanager
def certificate_warnings_ignored() -> Iterator[None]:
    """Within, :data:`CERTIFICATE_WARNINGS` are ignored whatever the process's filters say (a caller's ``-W error``
    included), so a reference verdict never depends on them; the filters are restored on exit. The block is a
    :class:`warnings.catch_warnings`: threads that enter it at once may leave these two filters in place after."""
    with warnings.catch_warnings():
        quiet_certificate_warnings()
        yield
