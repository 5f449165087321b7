"""The TSB attestation zip as a Java service writes it, or as Python's ``zipfile`` would.

TSB is a Java (Spring) service and no real attestation zip has been captured (``shared/specs/primus.md``
1.2 lists its members, not its headers), so the default ``java`` layout is what
``java.util.zip.ZipOutputStream`` writes for entries given only a name and a time, checked byte for
byte against OpenJDK 17 (``tests/formats/TsbZip.java``):

* local header: version needed 20, general purpose flags ``0x0808`` (bit 3: CRC and sizes follow the
  data in a data descriptor, so the local header holds zeros; bit 11: UTF-8 names), method 8
  (raw deflate, zlib level 6), MS-DOS time and date in the JVM's local time zone (UTC here, as in
  TSB's container), no extra field;
* after the data a data descriptor *with* its signature ``PK\\x07\\x08``: CRC-32, compressed size,
  size;
* central directory: version made by 20 (host 0, MS-DOS), version needed 20, the same flags and
  time, no extra field or comment, internal and external attributes 0;
* end record without a comment.

A member larger than 1 MiB is deflated with zlib's run-length strategy (``Z_RLE``) instead of the default
one Java uses. No real TSB export has such a member: only hsmsim's deliberately oversized synthetic members
(the 50 MB ``<label>`` and the 64 MiB ``padding.bin`` bomb of the corpus), which are runs of one byte, so
``Z_RLE`` gives them about the same compressed size (within 0.5 %) for less than half of the CPU time.
The headers are the same either way; every member of real size is deflated as Java does.

The ``python`` layout is what hsmsim wrote before (``zipfile``: Unix host, sizes in the local
header, no data descriptor, ``external_attr`` ``0o100644``). ``zipfile`` cannot choose a strategy, so
there every member is deflated with the default one; no vector uses this layout.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from hsmsim.errors import ParameterError

ZipLayout = Literal["java", "python"]

_JAVA_VERSION = 20  # java.util.zip: version made by and needed for DEFLATED entries
_JAVA_FLAGS = 0x0808  # data descriptor + UTF-8 names
_UTF8_NAMES = 0x0800
STORED = 0
DEFLATED = 8


ZIP_EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
ZIP_LATEST = datetime(2107, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The times an MS-DOS date and time (a zip member's stamp) can hold: years 1980 to 2107."""


def _zip_stamp(when: datetime) -> datetime:
    """``when`` in UTC; raises :class:`ParameterError` when a zip member cannot be stamped with it."""
    stamp = when.astimezone(UTC)
    if not ZIP_EARLIEST <= stamp <= ZIP_LATEST:
        raise ParameterError(f"the attestation time {stamp:%Y-%m-%dT%H:%M:%SZ} cannot be a zip member's MS-DOS "
                             f"time: it must be between {ZIP_EARLIEST:%Y-%m-%d} and {ZIP_LATEST:%Y-%m-%d} (UTC)")
    return stamp


def _dos_time(when: datetime) -> tuple[int, int]:
    stamp = _zip_stamp(when)
    return (stamp.hour << 11 | stamp.minute << 5 | stamp.second // 2,
            (stamp.year - 1980) << 9 | stamp.month << 5 | stamp.day)


@dataclass(frozen=True)
class ZipEntry:
    """One member as it is written: name, the CRC-32 and size of its content, method number and the bytes stored
    for the content (raw deflate for ``DEFLATED``; for other methods whatever the vectors need, even a corrupt
    stream)."""

    name: str
    crc: int
    size: int
    method: int
    body: bytes

    @classmethod
    def of(cls, name: str, content: bytes, method: int, body: bytes) -> ZipEntry:
        """The entry of ``content`` stored as ``body`` with ``method``."""
        return cls(name, zlib.crc32(content), len(content), method, body)


_LARGE_MEMBER_BYTES = 1 << 20
"""Members up to this size are deflated with the default strategy, each distinct one once per process; larger
ones (only the synthetic oversized members) with ``Z_RLE`` (see above)."""


def deflated(name: str, content: bytes, level: int = 6, *, repeat: int = 1) -> ZipEntry:
    """``content`` written ``repeat`` times (``repeat`` >= 1), as java.util.zip deflates it (raw deflate at
    ``level``); over :data:`_LARGE_MEMBER_BYTES` in all, with the run-length strategy (see above). Repeated content
    is never built: the one piece is checksummed and fed to one compressor ``repeat`` times (zlib's output does
    not depend on how its input is split without flushes; the corpus check pins the bytes)."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    size = len(content) * repeat
    if size > _LARGE_MEMBER_BYTES:
        crc, body = _raw_deflate(content, level, repeat, zlib.Z_RLE)
    else:
        crc, body = _recurring_deflate(content * repeat, level)
    return ZipEntry(name, crc, size, DEFLATED, body)


def _raw_deflate(content: bytes, level: int, repeat: int = 1,
                 strategy: int = zlib.Z_DEFAULT_STRATEGY) -> tuple[int, bytes]:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, strategy)
    crc, parts = 0, []
    for _ in range(repeat):
        crc = zlib.crc32(content, crc)
        parts.append(compressor.compress(content))
    parts.append(compressor.flush())
    return crc, b"".join(parts)


_recurring_deflate = lru_cache(maxsize=512)(_raw_deflate)
"""Most members recur unchanged across a corpus's bundles (certificates, the golden XML): each distinct
small member is compressed once per process."""


def java_zip(entries: list[ZipEntry], when: datetime) -> bytes:
    """The entries in the ``java`` layout described above. A ``STORED`` entry has its CRC and sizes in
    the local header and no data descriptor (as ZipOutputStream requires for STORED entries)."""
    time, date = _dos_time(when)
    out = bytearray()
    central = bytearray()
    for entry in entries:
        name = entry.name.encode()
        crc, sizes = entry.crc, (len(entry.body), entry.size)
        flags = _UTF8_NAMES if entry.method == STORED else _JAVA_FLAGS
        offset = len(out)
        local = (crc, *sizes) if entry.method == STORED else (0, 0, 0)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, _JAVA_VERSION, flags, entry.method, time, date,
                           *local, len(name), 0)
        out += name + entry.body
        if entry.method != STORED:
            out += struct.pack("<IIII", 0x08074B50, crc, *sizes)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _JAVA_VERSION, _JAVA_VERSION, flags,
                               entry.method, time, date, crc, *sizes, len(name), 0, 0, 0, 0, 0, offset)
        central += name
    count = len(entries)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(out), 0)
    return bytes(out + central + end)


def _python_zip(members: list[tuple[str, bytes]], when: datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = _zip_stamp(when)
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members:
            info = zipfile.ZipInfo(member, date_time=(stamp.year, stamp.month, stamp.day,
                                                      stamp.hour, stamp.minute, stamp.second))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


def build_zip(members: list[tuple[str, bytes]], when: datetime, *, layout: ZipLayout = "java") -> bytes:
    """A deterministic zip of ``members`` in the given order, every entry deflated at zlib's default level 6
    (java.util.zip's default) and stamped ``when`` (UTC, 2-second MS-DOS resolution), in the ``layout``
    described above."""
    if layout == "java":
        return java_zip([deflated(member, data) for member, data in members], when)
    return _python_zip(members, when)
