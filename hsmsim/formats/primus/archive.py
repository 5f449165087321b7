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

The ``python`` layout is what hsmsim wrote before (``zipfile``: Unix host, sizes in the local
header, no data descriptor, ``external_attr`` ``0o100644``).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from typing import Literal

ZipLayout = Literal["java", "python"]

_JAVA_VERSION = 20  # java.util.zip: version made by and needed for DEFLATED entries
_JAVA_FLAGS = 0x0808  # data descriptor + UTF-8 names
_DEFLATED = 8


def _dos_time(when: datetime) -> tuple[int, int]:
    stamp = when.astimezone(UTC)
    return (stamp.hour << 11 | stamp.minute << 5 | stamp.second // 2,
            (stamp.year - 1980) << 9 | stamp.month << 5 | stamp.day)


def _java_zip(members: list[tuple[str, bytes]], when: datetime, level: int) -> bytes:
    time, date = _dos_time(when)
    out = bytearray()
    central = bytearray()
    for member, data in members:
        name = member.encode()
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = compressor.compress(data) + compressor.flush()
        crc = zlib.crc32(data)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, _JAVA_VERSION, _JAVA_FLAGS, _DEFLATED, time, date,
                           0, 0, 0, len(name), 0)
        out += name + body
        out += struct.pack("<IIII", 0x08074B50, crc, len(body), len(data))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _JAVA_VERSION, _JAVA_VERSION, _JAVA_FLAGS,
                               _DEFLATED, time, date, crc, len(body), len(data), len(name), 0, 0, 0, 0, 0,
                               offset)
        central += name
    count = len(members)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(out), 0)
    return bytes(out + central + end)


def _python_zip(members: list[tuple[str, bytes]], when: datetime, level: int) -> bytes:
    buffer = io.BytesIO()
    stamp = when.astimezone(UTC)
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members:
            info = zipfile.ZipInfo(member, date_time=(stamp.year, stamp.month, stamp.day,
                                                      stamp.hour, stamp.minute, stamp.second))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, compresslevel=level)
    return buffer.getvalue()


def build_zip(members: list[tuple[str, bytes]], when: datetime, *, layout: ZipLayout = "java",
              level: int = 6) -> bytes:
    """A deterministic zip of ``members`` in the given order, every entry deflated at ``level`` and
    stamped ``when`` (UTC, 2-second MS-DOS resolution), in the ``layout`` described above."""
    if layout == "java":
        return _java_zip(members, when, level)
    return _python_zip(members, when, level)
