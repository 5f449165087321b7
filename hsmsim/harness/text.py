"""Verifier text made safe to store, print and embed.

A verifier is as hostile as the evidence it judges: the reason, detail and version it sends may
hold lone surrogates (which no UTF-8 writer can encode), C0 and C1 control characters (ill-formed
in XML 1.0; on a terminal, escape sequences that clear the screen or forge lines), bidi overrides
(which reorder what a reader sees) or megabytes of text. :func:`visible` replaces each such
character with a visible backslash escape and caps the length, so its result is valid UTF-8,
valid XML 1.0 character data and inert on a terminal. It is idempotent: a backslash is not escaped,
so text that went through it once comes out the same (only the cap can shorten it again).
"""

from __future__ import annotations

import re

DETAIL_LIMIT = 400
"""Longest detail kept from one verifier answer."""
REASON_LIMIT = 200
"""Longest free-text reason kept from one verifier answer."""
TEXT_LIMIT = 1000
"""Longest single text (a detail, a message) embedded in a report or printed."""

# C0, DEL, C1, the bidi controls, lone surrogates and the two BMP non-characters XML 1.0 excludes.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, limit: int | None = None) -> str:
    """``text`` with every unsafe character escaped (``\\x1b``, ``\\udc80``), then cut to ``limit`` characters."""
    escaped = _UNSAFE.sub(_escape, text)
    if limit is not None and len(escaped) > limit:
        return escaped[: limit - 3] + "..."
    return escaped


def one_line(text: str, limit: int = DETAIL_LIMIT) -> str:
    """``text`` on one line (whitespace runs become one space), made :func:`visible` and capped."""
    return visible(" ".join(text.split()), limit)
