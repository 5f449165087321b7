"""Click parameter types every ``hsmsim`` command line shares (the main CLI, ``conformance``, ``fuzz``, ``serve``), and
the interrupt a command that reported its own end raises.

An empty value (an unset shell variable, say) is misuse reported in one line, never a default in disguise: an
empty path is not the current directory, an empty seed not the built-in one.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from hsmsim.errors import HsmsimError


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
