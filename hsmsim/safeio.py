"""Bounded reading of hostile input: files from disk, zip archives and XML documents.

Files: :func:`read_regular_file` reads only regular files (a device, FIFO or socket, or a symlink
to one, is refused before a byte is read), opened non-blocking, never more than a limit, and
counts what it reads against a :class:`ReadBudget`, the one total every file and every inflated
zip member of a verification shares. It raises :class:`hsmsim.errors.BundleError` naming the file
(the CLI prints one line and exits 2); :func:`peek_regular_file`, for format detection, never raises.

Parsers: every other function here returns parsed data within its bounds or raises
:class:`hsmsim.verdict.Rejected` (MALFORMED, LIMIT_EXCEEDED or UNSUPPORTED). No DTDs, entities or
network access for XML; for zip the end record is checked before the central directory is read,
the central directory before any member, and a member's method and declared size before it is
inflated: no path components, (case-)duplicate names, methods other than stored and deflated,
headers that disagree with each other or with the data, or expansion past the bounds.
"""

from __future__ import annotations

import os
import stat
import struct
import threading
import unicodedata
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from hsmsim.encoding import JsonDepthError, parse_json
from hsmsim.errors import BundleError
from hsmsim.verdict import Reason, Rejected, escaped

READ_BUDGET_BYTES = 32 * 1024 * 1024
"""The default total of a :class:`ReadBudget` (evidence with its siblings, the anchors, and inflated members each)."""


@dataclass
class ReadBudget:
    """The bytes a verification may still read, across every file and member, so no mix of many
    files, big siblings and archives passes ``total`` (64 files of 16 MiB each stay within their
    own limit, not within the budget). A format's ``load`` reads the evidence and its siblings
    against one budget, ``trust_anchors_from_files`` the anchors against another (the format
    contract passes none between them); ``verify`` starts one from the bytes the evidence holds
    (:meth:`for_files`) and charges every member it inflates, so what it holds stays within ``total``."""

    total: int = READ_BUDGET_BYTES
    used: int = 0

    @property
    def remaining(self) -> int:
        """Bytes still allowed, here and in the budget of the whole call (:func:`call_budget`) if one is open."""
        outer = _CALL_BUDGET.get()
        mine = self.total - self.used
        return mine if outer is None or outer is self else min(mine, outer.total - outer.used)

    def passed_by(self, count: int) -> str | None:
        """None when ``count`` more bytes fit; else which budget they pass (this one's or the call's)."""
        outer = _CALL_BUDGET.get()
        for budget, scope in ((self, "one verification"), (outer, "this call")):
            if budget is not None and count > budget.total - budget.used:
                return f"the {budget.total}-byte read budget of {scope}"
        return None

    def spend(self, count: int, what: str) -> None:
        """Count ``count`` more bytes read for ``what``, here and in the call's budget; raises Rejected
        (LIMIT_EXCEEDED) past either total."""
        passed = self.passed_by(count)
        if passed is not None:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} passes {passed}")
        self.used += count
        outer = _CALL_BUDGET.get()
        if outer is not None and outer is not self:
            outer.used += count

    @classmethod
    def for_files(cls, files: Mapping[str, bytes], total: int = READ_BUDGET_BYTES) -> ReadBudget:
        """A budget for verifying ``files`` already in memory: their bytes count first, so what is
        inflated from them shares the total; raises Rejected (LIMIT_EXCEEDED). They count here only:
        within a :func:`call_budget` they were counted when they were read."""
        budget = cls(total)
        for name, data in files.items():
            if len(data) > budget.total - budget.used:
                raise Rejected(Reason.LIMIT_EXCEEDED, f"{name} passes the {total}-byte read budget of one verification")
            budget.used += len(data)
        return budget


_CALL_BUDGET: ContextVar[ReadBudget | None] = ContextVar("hsmsim_call_budget", default=None)


@contextmanager
def call_budget(total: int = READ_BUDGET_BYTES) -> Iterator[ReadBudget]:
    """One budget for everything read inside the block (a CLI command: the evidence, its siblings, the
    anchors and every member inflated while verifying), whatever budget each read is made against: no
    call reads more than ``total`` in all, though loading and verifying each start a budget of their own."""
    budget = ReadBudget(total)
    token = _CALL_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _CALL_BUDGET.reset(token)


# O_NONBLOCK: opening a FIFO with no writer, or a device, must not wait. Following a symlink is
# fine (a root.pem linked into /etc/ssl is ordinary); what it points at must be a regular file.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def _open_regular(path: Path) -> tuple[int, int]:
    """An open descriptor of the regular file ``path`` names, and its size; raises OSError or BundleError.

    The name is checked before it is opened (a device's open can have effects) and the descriptor
    after (the name may have been swapped in between).
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise BundleError(f"{escaped(str(path))} is not a regular file")
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{escaped(str(path))} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _read_at_most(fd: int, count: int, expected: int) -> bytes:
    """Up to ``count`` bytes from ``fd``; ``expected`` (the file's size) sizes the first read."""
    chunks: list[bytes] = []
    got = 0
    while got < count:
        chunk = os.read(fd, min(count - got, max(expected - got + 1, 64 * 1024)))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_regular_file(path: Path, limit: int, budget: ReadBudget) -> bytes:
    """The content of the regular file at ``path`` (after symlinks), at most ``limit`` bytes, counted
    against ``budget``.

    Raises BundleError naming the file when it is missing or unreadable, is not a regular file
    (directory, device, FIFO, socket), holds more than ``limit`` bytes or would pass the budget.
    Never blocks on a FIFO or device and never reads more than ``limit + 1`` bytes, even from a
    file that grows while it is read.
    """
    try:
        fd, size = _open_regular(path)
        try:
            allowed = min(limit, budget.remaining)
            data = b"" if size > allowed else _read_at_most(fd, allowed + 1, size)
        finally:
            os.close(fd)
    except OSError as exc:
        raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
    if max(size, len(data)) > limit:
        raise BundleError(f"{escaped(str(path))} is larger than {limit} bytes")
    passed = budget.passed_by(max(size, len(data)))
    if passed is not None:
        raise BundleError(f"reading {escaped(str(path))} passes {passed}")
    budget.spend(len(data), str(path))
    return data


def read_local_file(path: Path, limit: int) -> bytes:
    """A file hsmsim keeps or is pointed at outside any evidence (adapter, corpus, state, findings, results,
    waivers, caches): :func:`read_regular_file` against a budget of its own ``limit``, with its guarantees
    (regular files only, never blocks, never reads past ``limit``); raises BundleError naming the file."""
    return read_regular_file(path, limit, ReadBudget(limit))


def file_holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` names a regular file holding exactly ``data``: read no further than ``len(data) + 1`` bytes,
    never blocking; False when it is missing, unreadable, something else or different."""
    try:
        return read_local_file(path, len(data)) == data
    except BundleError:
        return False


def load_json_file(path: Path, limit: int) -> object:
    """The JSON value of the regular file ``path`` (at most ``limit`` bytes, read by :func:`read_local_file`).

    Raises BundleError naming the file when it cannot be read, is not UTF-8 JSON, or nests too deeply for the
    parser; the caller checks the value's shape."""
    data = read_local_file(path, limit)
    try:
        return parse_json(data)
    except JsonDepthError:
        raise BundleError(f"{escaped(str(path))} nests too deeply to be read as JSON") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise BundleError(f"{escaped(str(path))} is not valid JSON: {str(exc)[:120]}") from None


def load_json_object(path: Path, limit: int) -> dict[str, object]:
    """The JSON object of the regular file ``path`` (:func:`load_json_file`); raises BundleError naming the file when
    it cannot be read or parsed, or holds another JSON value."""
    value = load_json_file(path, limit)
    if not isinstance(value, dict):
        raise BundleError(f"{escaped(str(path))} is not a JSON object")
    return value


def peek_regular_file(path: Path, count: int, *, from_end: bool = False) -> bytes | None:
    """The first (or with ``from_end`` the last) ``count`` bytes of the regular file at ``path``, or
    None when it is not a regular file or cannot be read: for format detection, so it never raises
    and never blocks."""
    try:
        fd, size = _open_regular(path)
        try:
            if from_end and size > count:
                os.lseek(fd, size - count, os.SEEK_SET)
            return _read_at_most(fd, count, min(size, count))
        finally:
            os.close(fd)
    except (OSError, BundleError):
        return None


# -- zip ----------------------------------------------------------------------------------------

ZIP_STORED = 0
ZIP_DEFLATED = 8
_METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard",
                 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd", 99: "AES encryption"}

_END = struct.Struct("<IHHHHIIH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_SIZES = struct.Struct("<III")
_END_SIGNATURE, _CENTRAL_SIGNATURE, _LOCAL_SIGNATURE = 0x06054B50, 0x02014B50, 0x04034B50
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_FLAG_ENCRYPTED, _FLAG_DESCRIPTOR, _FLAG_STRONG_ENCRYPTION, _FLAG_UTF8 = 0x0001, 0x0008, 0x0040, 0x0800


@dataclass(frozen=True)
class ZipLimits:
    """Bounds on an archive: member count, central directory bytes, per-member and total
    uncompressed bytes, and the expansion ratio of a member."""

    max_members: int = 32
    max_directory_bytes: int = 64 * 1024
    max_member_bytes: int = 4 * 1024 * 1024
    max_total_bytes: int = 16 * 1024 * 1024
    max_ratio: int = 200


@dataclass(frozen=True)
class ZipMember:
    """One member as read: its name, its method (``ZIP_STORED`` or ``ZIP_DEFLATED``) and its content."""

    name: str
    method: int
    data: bytes


@dataclass(frozen=True)
class _Entry:
    """One central directory entry."""

    raw_name: bytes
    name: str
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    local_offset: int



def is_json_record(path: Path, suffix: str, markers: tuple[bytes, ...], limit: int) -> bool:
    """``path`` is a ``.json`` regular file of at most ``limit`` bytes read, named ``*<suffix>`` or holding every
    one of ``markers`` in those bytes (format detection: never raises, never blocks)."""
    head = peek_regular_file(path, limit) if path.suffix.lower() == ".json" else None
    if head is None:
        return False
    return path.name.endswith(suffix) or all(marker in head for marker in markers)

def _malformed(detail: str) -> Rejected:
    return Rejected(Reason.MALFORMED, detail)


def _unsafe_member_name(name: str) -> bool:
    return (not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name
            or any(part in ("", ".", "..") for part in name.split("/")))


def _folded(name: str) -> str:
    """The name as a case-insensitive, Unicode-normalising file system (macOS, Windows) compares it."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _end_record(data: bytes, limits: ZipLimits) -> tuple[int, int, int]:
    """Entry count, central directory offset and size, from the end record alone."""
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + _END.size > len(data):
        raise _malformed("not a zip archive (no end-of-central-directory record)")
    _sig, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, comment = _END.unpack_from(data, end)
    if end + _END.size + comment != len(data):
        raise _malformed("zip archive has bytes after its end-of-central-directory record")
    if disk or cd_disk or disk_entries != entries:
        raise _malformed("zip archive spans several disks")
    if entries > limits.max_members:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"zip has {entries} members (limit {limits.max_members})")
    if cd_size > limits.max_directory_bytes:
        raise Rejected(Reason.LIMIT_EXCEEDED,
                       f"zip central directory is {cd_size} bytes (limit {limits.max_directory_bytes})")
    if cd_offset + cd_size != end:
        raise _malformed("zip central directory does not end where the end record begins")
    return entries, cd_offset, cd_size


def _decode_name(raw: bytes, flags: int) -> str:
    try:
        return raw.decode("utf-8" if flags & _FLAG_UTF8 else "cp437")
    except UnicodeDecodeError:
        raise _malformed(f"zip member name {raw[:60]!r} is flagged UTF-8 but is not") from None


def _central_directory(data: bytes, entries: int, offset: int, size: int) -> list[_Entry]:
    found: list[_Entry] = []
    pos, end = offset, offset + size
    for _ in range(entries):
        if pos + _CENTRAL.size > end:
            raise _malformed(f"zip central directory is shorter than its {entries} entries")
        (signature, _made_by, _needed, flags, method, _time, _date, crc, compressed_size, size_, name_length,
         extra_length, comment_length, _disk, _internal, _external, local_offset) = _CENTRAL.unpack_from(data, pos)
        name_end = pos + _CENTRAL.size + name_length
        if signature != _CENTRAL_SIGNATURE or name_end + extra_length + comment_length > end:
            raise _malformed("zip central directory entry is corrupt")
        raw_name = data[pos + _CENTRAL.size:name_end]
        found.append(_Entry(raw_name, _decode_name(raw_name, flags), flags, method, crc, compressed_size, size_,
                            local_offset))
        pos = name_end + extra_length + comment_length
    if pos != end:
        raise _malformed(f"zip central directory holds more than its {entries} entries")
    return found


def _check_entries(entries: list[_Entry], limits: ZipLimits, budget: ReadBudget) -> None:
    """Names, methods and declared sizes, before any member is inflated; reserves the budget."""
    seen: dict[str, str] = {}
    total = 0
    for entry in entries:
        name = entry.name
        if _unsafe_member_name(name):
            raise _malformed(f"unsafe zip member name {name!r}")
        folded = _folded(name)
        other = seen.get(folded)
        if other is not None:
            kind = "duplicate" if other == name else f"case-duplicate (of {other!r})"
            raise _malformed(f"{kind} zip member {name!r}")
        seen[folded] = name
        if entry.flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
            raise Rejected(Reason.UNSUPPORTED, f"zip member {name!r} is encrypted")
        if entry.method not in (ZIP_STORED, ZIP_DEFLATED):
            method = _METHOD_NAMES.get(entry.method, "an unknown method")
            raise Rejected(Reason.UNSUPPORTED, f"zip member {name!r} is compressed with {method} (method "
                                               f"{entry.method}); only stored and deflated members are read")
        if entry.size > limits.max_member_bytes:
            raise Rejected(Reason.LIMIT_EXCEEDED,
                           f"zip member {name!r} declares {entry.size} bytes (limit {limits.max_member_bytes})")
        if entry.size > max(entry.compressed_size, 1) * limits.max_ratio:
            raise Rejected(Reason.LIMIT_EXCEEDED,
                           f"zip member {name!r} expands more than {limits.max_ratio}-fold")
        total += entry.size
        if total > limits.max_total_bytes:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"zip members declare more than {limits.max_total_bytes} bytes")
        budget.spend(entry.size, f"zip member {name!r}")


def _member_data(data: bytes, entry: _Entry, cd_offset: int) -> tuple[bytes, int]:
    """The compressed bytes of ``entry`` after its local header is checked against the central
    directory, and where the member (header, data, descriptor) ends."""
    pos = entry.local_offset
    if pos + _LOCAL.size > cd_offset:
        raise _malformed(f"zip member {entry.name!r} starts outside the archive")
    (signature, _needed, flags, method, _time, _date, crc, compressed_size, size,
     name_length, extra_length) = _LOCAL.unpack_from(data, pos)
    start = pos + _LOCAL.size + name_length + extra_length
    if signature != _LOCAL_SIGNATURE or data[pos + _LOCAL.size:pos + _LOCAL.size + name_length] != entry.raw_name:
        raise _malformed(f"zip member {entry.name!r} has no local header of that name")
    if method != entry.method or (flags ^ entry.flags) & (_FLAG_ENCRYPTED | _FLAG_DESCRIPTOR | _FLAG_UTF8):
        raise _malformed(f"zip member {entry.name!r}: local header and central directory disagree")
    stop = start + entry.compressed_size
    declared = (entry.crc, entry.compressed_size, entry.size)
    if flags & _FLAG_DESCRIPTOR:
        # CRC and sizes follow the data (java.util.zip); the local header holds zeros or the same values.
        descriptor = stop + (4 if data[stop:stop + 4] == _DESCRIPTOR_SIGNATURE else 0)
        end = descriptor + _SIZES.size
        if end > cd_offset or (crc, compressed_size, size) not in ((0, 0, 0), declared) \
                or _SIZES.unpack_from(data, descriptor) != declared:
            raise _malformed(f"zip member {entry.name!r}: data descriptor and central directory declare "
                             "different sizes or CRC")
    else:
        end = stop
        if end > cd_offset or (crc, compressed_size, size) != declared:
            raise _malformed(f"zip member {entry.name!r}: local header and central directory declare "
                             "different sizes or CRC")
    return data[start:stop], end


def _inflate(entry: _Entry, body: bytes) -> bytes:
    """The member's content, never more than its declared size + 1 bytes, checked against size and CRC."""
    if entry.method == ZIP_STORED:
        content = body
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            content = inflater.decompress(body, entry.size + 1)
        except zlib.error as exc:
            raise _malformed(f"zip member {entry.name!r} is corrupt: {exc}") from None
        if len(content) <= entry.size and (not inflater.eof or inflater.unused_data):
            raise _malformed(f"zip member {entry.name!r}: the deflate stream does not end where its declared "
                             f"compressed size of {entry.compressed_size} bytes does")
    if len(content) != entry.size:
        raise _malformed(f"zip member {entry.name!r} declares a size of {entry.size} bytes; its data hold "
                         f"{'more' if len(content) > entry.size else len(content)}")
    if zlib.crc32(content) != entry.crc:
        raise _malformed(f"zip member {entry.name!r} fails its CRC-32")
    return content


def read_zip_members(data: bytes, limits: ZipLimits = ZipLimits(),
                     budget: ReadBudget | None = None) -> list[ZipMember]:
    """The members of a zip archive in central directory order, read with hard bounds.

    In this order, each step before any later work: the end record (no trailing bytes, one disk,
    at most ``max_members`` entries and ``max_directory_bytes`` of central directory, which must
    end where the end record begins); the central directory (safe, unique names also when case
    and Unicode form are ignored; stored or deflated and not encrypted; declared sizes within
    the limits, the ratio and ``budget``, which is charged); then each member: local header,
    data descriptor and central directory agree, members neither overlap nor leave gaps, and
    the inflated content (never more than the declared size + 1 bytes) has the declared size
    and CRC. Rejects with MALFORMED, LIMIT_EXCEEDED or UNSUPPORTED (the method).
    """
    budget = budget if budget is not None else ReadBudget()
    count, cd_offset, cd_size = _end_record(data, limits)
    entries = _central_directory(data, count, cd_offset, cd_size)
    _check_entries(entries, limits, budget)
    bodies = [_member_data(data, entry, cd_offset) for entry in entries]
    covered = 0
    for start, end in sorted((entry.local_offset, end) for entry, (_body, end) in zip(entries, bodies, strict=True)):
        if start != covered:
            raise _malformed("zip members overlap or leave bytes outside every member")
        covered = end
    if covered != cd_offset:
        raise _malformed("zip archive has bytes between its last member and its central directory")
    return [ZipMember(entry.name, entry.method, _inflate(entry, body))
            for entry, (body, _end) in zip(entries, bodies, strict=True)]


def read_zip(data: bytes, limits: ZipLimits = ZipLimits(), budget: ReadBudget | None = None) -> dict[str, bytes]:
    """The members of a zip archive keyed by name, read as :func:`read_zip_members` reads them
    (with ``budget``, or a fresh :class:`ReadBudget`)."""
    return {member.name: member.data for member in read_zip_members(data, limits, budget)}


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on an XML document: bytes, nesting depth, element count and attribute count (all elements)."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 16
    max_elements: int = 4096
    max_attributes: int = 256


# lxml's element class has no public name; this alias is the one place hsmsim spells it.
XmlElement = etree._Element


_xml_parsers = threading.local()


def _hardened_parser() -> etree.XMLParser:
    """This thread's parser (building one costs as much as parsing a small document; lxml serialises the calls
    of threads sharing one)."""
    parser: etree.XMLParser | None = getattr(_xml_parsers, "parser", None)
    if parser is None:
        parser = _xml_parsers.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            remove_comments=False, remove_pis=False, strip_cdata=False,
        )
    return parser


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
    attributes = count = 0
    pending = [(root, 0)]  # document order, each node with its number of ancestors
    while pending:
        node, depth = pending.pop()
        count += 1
        if count > limits.max_elements:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML has more than {limits.max_elements} nodes")
        attributes += len(node.attrib)
        if attributes > limits.max_attributes:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML has more than {limits.max_attributes} attributes")
        if not isinstance(node.tag, str):
            kind = "comment" if node.tag is etree.Comment else "processing instruction or entity"
            raise Rejected(Reason.MALFORMED, f"XML contains a {kind}")
        if depth >= limits.max_depth:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML nests deeper than {limits.max_depth}")
        if len(node):
            pending.extend([(child, depth + 1) for child in reversed(node)])
    return root
