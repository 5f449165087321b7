"""Click parameter types every ``hsmsim`` command line shares (the main CLI, ``conformance``, ``fuzz``, ``serve``), and
the interrupt a command that reported its own end raises.

An empty value (an unset shell variable, say) is misuse reported in one line, never a default in disguise: an
empty path is not the current directory, an empty seed not the built-in one.

The pkcs11 backend's options (:func:`pkcs11_options`, the PIN read by :func:`user_pin`) name a token that exists already
in a PKCS#11 module; its user PIN comes from ``$HSMSIM_PKCS11_PIN`` or ``--pin-file``, never from the command line,
where every user of the machine could read it (``ps``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from hsmsim.errors import BundleError, HsmsimError
from hsmsim.verdict import escaped


class ReportedInterrupt(click.Abort):
    """Ctrl-C or SIGTERM ended a command that has already said so (``fuzz``: "interrupted after N cases"): exits
    128 + the signal as any interrupted command does, without click's generic "Aborted!" after that line."""


def _name(param: click.Parameter | None) -> str:
    if isinstance(param, click.Option):
        return param.opts[0]
    return param.human_readable_name if param is not None else "value"


class GivenPath(click.Path):
    """A path as a :class:`~pathlib.Path`; an empty one raises :class:`HsmsimError` naming the option or argument."""

    def __init__(self, *, exists: bool = False) -> None:
        super().__init__(path_type=Path, exists=exists)

    def convert(self, value: str | os.PathLike[str], param: click.Parameter | None,
                ctx: click.Context | None) -> str | bytes | os.PathLike[str]:
        """The path, checked as :class:`click.Path` checks it; never the current directory for ``""``."""
        if value == "":
            raise HsmsimError(f"{_name(param)} must not be empty")
        return super().convert(value, param, ctx)


def given_text(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A ``callback`` for a text option whose empty value is misuse (``--seed ''``): raises :class:`HsmsimError`."""
    if value == "":
        raise HsmsimError(f"{_name(param)} must not be empty")
    return value


PIN_ENV = "HSMSIM_PKCS11_PIN"
PIN_FILE_LIMIT = 1024
"""The most a ``--pin-file`` may hold: one PIN line (PKCS#11 modules take PINs of at most a few hundred bytes)."""

_F = TypeVar("_F", bound=Callable[..., object])


def pkcs11_options(fn: _F) -> _F:
    """The options naming the existing PKCS#11 token a command's pkcs11 backend uses: ``--pkcs11-module``,
    ``--token-label`` and ``--pin-file`` (passed as ``pkcs11_module``, ``token_label`` and ``pin_file``)."""
    options = (
        click.option("--pkcs11-module", "pkcs11_module", type=GivenPath(), default=None,
                     help="PKCS#11 module (.so) holding the --token-label token (default: SoftHSM2, found as for "
                          "hsmsim's own token). Recorded in the state."),
        click.option("--token-label", "token_label", default=None, callback=given_text,
                     help="Use this existing token of the module for the pkcs11 backend instead of hsmsim's own "
                          "SoftHSM2 token; hsmsim never creates one. Recorded in the state: later commands need "
                          "not repeat it, and another is refused."),
        click.option("--pin-file", "pin_file", type=GivenPath(), default=None,
                     help=f"File holding the token's user PIN, one line (default: ${PIN_ENV}). Never "
                          "recorded."),
    )
    for option in reversed(options):
        fn = option(fn)
    return fn


def user_pin(pin_file: Path | None) -> str | None:
    """The user PIN in ``pin_file`` (its one line, without the line end), else ``$HSMSIM_PKCS11_PIN``, else None.

    Raises :class:`HsmsimError` (one line) for a PIN file that is not a regular file of at most
    :data:`PIN_FILE_LIMIT` bytes holding one non-empty UTF-8 line (checked before it is opened: a FIFO never
    blocks), or an empty ``$HSMSIM_PKCS11_PIN``."""
    if pin_file is None:
        value = os.environ.get(PIN_ENV)
        if value == "":
            raise HsmsimError(f"{PIN_ENV} is set but empty: unset it or set it to the token's user PIN")
        return value
    from hsmsim.safeio import read_local_file  # here: the command line's parsing never needs lxml and cryptography

    try:
        data = read_local_file(pin_file, PIN_FILE_LIMIT)
    except BundleError as exc:
        raise HsmsimError(f"--pin-file: {exc}") from None
    shown = escaped(str(pin_file))
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise HsmsimError(f"--pin-file {shown} is not UTF-8 text") from None
    pin = text.removesuffix("\n").removesuffix("\r")
    if not pin:
        raise HsmsimError(f"--pin-file {shown} is empty: it holds the token's user PIN on one line")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in pin):
        raise HsmsimError(f"--pin-file {shown} holds more than one line or a control character: it holds the "
                          "token's user PIN on one line")
    return pin
