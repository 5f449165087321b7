"""Pure, structure-aware mutation operators shared by the corpus and the fuzzer.

Every operator is ``bytes -> bytes`` (or builds such a function) and changes exactly one
thing, so a vector or a fuzz case can name the operator and the path it touched.
The XML operators work on *line-structured* XML (one element per line, as vendor
attestation XML is written), so they keep every other byte identical.
"""

from __future__ import annotations

import re

from hsmsim.errors import HsmsimError


class MutationError(HsmsimError):
    """An operator's target is not in the input (e.g. no such element)."""


# -- bytes --------------------------------------------------------------------------------

def flip_bit(data: bytes, bit: int) -> bytes:
    """``data`` with bit ``bit`` (counted from the start, negative from the end) inverted."""
    index = bit // 8 if bit >= 0 else len(data) + bit // 8
    if not 0 <= index < len(data):
        raise MutationError(f"bit {bit} is outside {len(data)} bytes")
    return data[:index] + bytes([data[index] ^ (1 << (7 - bit % 8))]) + data[index + 1:]


def truncate(data: bytes, length: int) -> bytes:
    """The first ``length`` bytes (negative: drop that many from the end)."""
    return data[:length]


def extend(data: bytes, suffix: bytes) -> bytes:
    """``data`` with ``suffix`` appended (trailing bytes)."""
    return data + suffix


# -- line-structured XML -------------------------------------------------------------------

_ELEMENT_START = re.compile(rb"(?m)^[ \t\r\f\v]*<([^ \t\r\f\v>\n]+)(?:[ \t\r\f\v][^>\n]*)?>")
"""A line that starts (after blanks) with a start tag, its name the group. No part crosses a newline, and the name
runs to the first blank or ``>``, so ``<label>`` and ``<label lang="en">`` are named ``label``; ``<labels>`` and
``<label/>`` are not. One pattern for every tag: none is compiled per tag."""


def _element_lines(xml: bytes, tag: str) -> list[int]:
    # One search over the document (not one match per line: a vector's XML may be 50 MB).
    name = tag.encode()
    return [xml.count(b"\n", 0, match.start()) for match in _ELEMENT_START.finditer(xml) if match[1] == name]


def _line(xml: bytes, tag: str, occurrence: int) -> tuple[list[bytes], int]:
    lines = xml.split(b"\n")
    found = _element_lines(xml, tag)
    if len(found) <= occurrence:
        raise MutationError(f"no <{tag}> element (occurrence {occurrence})")
    return lines, found[occurrence]


def set_element(xml: bytes, tag: str, value: bytes, occurrence: int = 0, *, repeat: int = 1) -> bytes:
    """Replace the text of the one-line element ``<tag>`` with ``value`` written ``repeat`` times; everything
    else stays byte-identical."""
    lines, index = _line(xml, tag, occurrence)
    line = lines[index]
    start = sum(len(before) + 1 for before in lines[:index])
    name = tag.encode()
    # One join: a vector's value may be 50 MB, and each copy of it costs as much as the rest of the vector. A huge
    # value given as a small piece repeated is never built on its own: the document is the only large buffer.
    return b"".join((xml[:start], line[: len(line) - len(line.lstrip())], b"<", name, b">", *[value] * repeat,
                     b"</", name, b">", xml[start + len(line):]))


def remove_element(xml: bytes, tag: str, occurrence: int = 0) -> bytes:
    """Drop the line holding the one-line element ``<tag>``."""
    lines, index = _line(xml, tag, occurrence)
    del lines[index]
    return b"\n".join(lines)


def duplicate_element(xml: bytes, tag: str, value: bytes | None = None) -> bytes:
    """Insert a second ``<tag>`` right after the first, with ``value`` (default: the same text)."""
    lines, index = _line(xml, tag, 0)
    copy = lines[index]
    if value is not None:
        indent = copy[: len(copy) - len(copy.lstrip())]
        copy = indent + b"<" + tag.encode() + b">" + value + b"</" + tag.encode() + b">"
    lines.insert(index + 1, copy)
    return b"\n".join(lines)


def insert_after(xml: bytes, tag: str, line: bytes, occurrence: int = 0) -> bytes:
    """Insert ``line`` (given verbatim, with its indentation) after the element ``<tag>``."""
    lines, index = _line(xml, tag, occurrence)
    lines.insert(index + 1, line)
    return b"\n".join(lines)


def swap_elements(xml: bytes, first: str, second: str) -> bytes:
    """Exchange the lines of the one-line elements ``<first>`` and ``<second>`` (reorder)."""
    lines, a = _line(xml, first, 0)
    _, b = _line(xml, second, 0)
    lines[a], lines[b] = lines[b], lines[a]
    return b"\n".join(lines)


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the first occurrence of ``old``; raises :class:`MutationError` when absent."""
    if old not in data:
        raise MutationError(f"{old[:40]!r} not found")
    return data.replace(old, new, 1)


def set_root_attribute(xml: bytes, name: str, value: bytes | None) -> bytes:
    """Set (or with None remove) an attribute on the root element's start tag."""
    lines = xml.split(b"\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(b"<") and not line.startswith(b"<?"))
    attr = re.compile(rb"\s" + re.escape(name.encode()) + rb'="[^"]*"')
    start = lines[index]
    if attr.search(start):
        start = attr.sub(b"" if value is None else b" " + name.encode() + b'="' + value + b'"', start, count=1)
    elif value is not None:
        start = start[:-1] + b" " + name.encode() + b'="' + value + b'">'
    else:
        raise MutationError(f"root element has no {name} attribute")
    lines[index] = start
    return b"\n".join(lines)


def to_crlf(xml: bytes) -> bytes:
    """Re-serialise with CRLF line endings."""
    return xml.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def add_bom(xml: bytes) -> bytes:
    """Prefix a UTF-8 byte order mark."""
    return b"\xef\xbb\xbf" + xml


def tabs_to_spaces(xml: bytes, width: int = 2) -> bytes:
    """Re-indent with spaces instead of TABs (as a pretty-printer would)."""
    return xml.replace(b"\t", b" " * width)


def wrap_base64(text: bytes, width: int = 64) -> bytes:
    """Wrap a base64 line at ``width`` characters (PEM style)."""
    return b"\n".join(text[i:i + width] for i in range(0, len(text), width))
