"""Bounded parsers for hostile evidence: zip archives and XML documents.

Every function here either returns parsed data within its bounds or raises
:class:`hsmsim.verdict.Rejected` (MALFORMED or LIMIT_EXCEEDED). No DTDs, entities or
network access for XML; no path components, duplicate names or unbounded expansion
for zip.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from lxml import etree

from hsmsim.verdict import Reason, Rejected


@dataclass(frozen=True)
class ZipLimits:
    """Bounds on an archive: member count, per-member and total uncompressed bytes, ratio."""

    max_members: int = 32
    max_member_bytes: int = 4 * 1024 * 1024
    max_total_bytes: int = 16 * 1024 * 1024
    max_ratio: int = 200


# Everything zipfile and zlib raise on corrupt archives (found by fuzzing: zlib.error escaped once).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, ValueError, EOFError,
               NotImplementedError, RuntimeError, OverflowError, OSError)


def _unsafe_member_name(name: str) -> bool:
    return (not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name
            or any(part in ("", ".", "..") for part in name.split("/")))


def read_zip(data: bytes, limits: ZipLimits = ZipLimits()) -> dict[str, bytes]:
    """The members of a zip archive, keyed by name, read with hard bounds.

    Rejects (MALFORMED) archives that do not parse or carry trailing bytes, member names with path components
    (zip-slip), duplicate names and directories; rejects (LIMIT_EXCEEDED) too many members,
    and members whose real decompressed size exceeds the bounds (headers are not trusted).
    """
    eocd = data.rfind(b"PK\x05\x06")
    if eocd < 0 or eocd + 22 > len(data):
        raise Rejected(Reason.MALFORMED, "not a zip archive (no end-of-central-directory record)")
    if eocd + 22 + int.from_bytes(data[eocd + 20:eocd + 22], "little") != len(data):
        raise Rejected(Reason.MALFORMED, "zip archive has bytes after its end-of-central-directory record")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except _ZIP_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"not a readable zip archive: {exc}") from None
    if len(infos) > limits.max_members:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"zip has {len(infos)} members (limit {limits.max_members})")
    members: dict[str, bytes] = {}
    total = 0
    for info in infos:
        if _unsafe_member_name(info.filename) or info.is_dir():
            raise Rejected(Reason.MALFORMED, f"unsafe zip member name {info.filename!r}")
        if info.filename in members:
            raise Rejected(Reason.MALFORMED, f"duplicate zip member {info.filename!r}")
        budget = min(limits.max_member_bytes, limits.max_total_bytes - total,
                     max(info.compress_size, 1) * limits.max_ratio)
        try:
            with archive.open(info) as fh:
                content = fh.read(budget + 1)
        except _ZIP_ERRORS as exc:
            raise Rejected(Reason.MALFORMED, f"zip member {info.filename!r} is corrupt: {exc}") from None
        if len(content) > budget:
            raise Rejected(Reason.LIMIT_EXCEEDED,
                           f"zip member {info.filename!r} expands beyond {budget} bytes")
        total += len(content)
        members[info.filename] = content
    return members


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on an XML document: bytes, nesting depth, element count and attribute count (all elements)."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 16
    max_elements: int = 4096
    max_attributes: int = 256


# lxml's element class has no public name; this alias is the one place hsmsim spells it.
XmlElement = etree._Element


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=False, remove_pis=False, strip_cdata=False,
    )


def parse_xml(data: bytes, limits: XmlLimits = XmlLimits()) -> XmlElement:
    """Parse a standalone XML document that has no DTD, comments or processing instructions.

    Rejects (LIMIT_EXCEEDED) oversize, too deep, too many elements or attributes; rejects (MALFORMED)
    any DOCTYPE, entity reference, comment, processing instruction or syntax error.
    """
    if len(data) > limits.max_bytes:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"XML is {len(data)} bytes (limit {limits.max_bytes})")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Rejected(Reason.MALFORMED, "XML has a DOCTYPE or entity declaration")
    try:
        root = etree.fromstring(data, _hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise Rejected(Reason.MALFORMED, f"XML does not parse: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]  # lxml-stubs 0.5 omits DocInfo.doctype
        raise Rejected(Reason.MALFORMED, "XML has a DOCTYPE")
    if root.getprevious() is not None or root.getnext() is not None:
        raise Rejected(Reason.MALFORMED, "XML has content outside the root element")
    attributes = 0
    for count, node in enumerate(root.iter(), start=1):
        if count > limits.max_elements:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML has more than {limits.max_elements} nodes")
        attributes += len(node.attrib)
        if attributes > limits.max_attributes:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML has more than {limits.max_attributes} attributes")
        if not isinstance(node.tag, str):
            kind = "comment" if node.tag is etree.Comment else "processing instruction or entity"
            raise Rejected(Reason.MALFORMED, f"XML contains a {kind}")
        depth = sum(1 for _ in node.iterancestors())
        if depth >= limits.max_depth:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML nests deeper than {limits.max_depth}")
    return root
