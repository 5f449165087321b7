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
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

ZipLayout = Literal["java", "python"]

_JAVA_VERSION = 20  # java.util.zip: version made by and needed for DEFLATED entries
_JAVA_FLAGS = 0x0808  # data descriptor + UTF-8 names
_UTF8_NAMES = 0x0800
STORED = 0
DEFLATED = 8


def _dos_time(when: datetime) -> tuple[int, int]:
    stamp = when.astimezone(UTC)
    return (stamp.hour << 11 | stamp.minute << 5 | stamp.second // 2,
            (stamp.year - 1980) << 9 | stamp.month << 5 | stamp.day)


@dataclass(frozen=True)
class ZipEntry:
    """One member as it is written: name, content, method number and the bytes stored for the content
    (raw deflate for ``DEFLATED``; for other methods whatever the vectors need, even a corrupt stream)."""

    name: str
    content: bytes
    method: int
    body: bytes


def deflated(name: str, content: bytes, level: int = 6) -> ZipEntry:
    """``content`` as java.util.zip deflates it (raw deflate at ``level``)."""
    deflate = _recurring_deflate if len(content) <= _RECURRING_BYTES else _raw_deflate
    return ZipEntry(name, content, DEFLATED, deflate(content, level))


def _raw_deflate(content: bytes, level: int) -> bytes:
    run = _long_run(content)
    if run is not None:
        spliced = _deflate_around_run(*run, level)
        if spliced is not None:
            return spliced
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(content) + compressor.flush()


# -- a long run of one byte, deflated by repeating one block -----------------------------------------------
#
# The hostile vectors hold 50-64 MB members that are mostly one byte repeated (a 50 MB <label>, a zip bomb of
# zeros); zlib spends 0.2 s on each. In a run zlib emits only length-258 distance-1 matches, and it ends a block
# every 16383 symbols (memLevel 8), so every block that lies inside the run covers _RUN_BLOCK bytes and has the
# same bits: the stream of prefix + run + suffix is H M^k T, one more M per _RUN_BLOCK bytes of run. Three
# short compressions (run lengths n0, n0 + _RUN_BLOCK, n0 + 2 _RUN_BLOCK, sharing one compressor) give H, M
# and T; the stream for the whole run is spliced from them. The third sample checks the splice and fixes the
# bit length of T; whenever anything is not as expected the member is compressed in full (same bytes).

_RUN_BLOCK = 16383 * 258
_RUN_PROBE = 1 << 16


def _long_run(content: bytes) -> tuple[bytes, bytes, int, bytes] | None:
    """``(prefix, byte, count, suffix)`` when ``content`` is mostly one run of a single byte through its middle."""
    if len(content) < 4 * _RUN_BLOCK:
        return None
    probe = content[len(content) // 2:len(content) // 2 + 1] * _RUN_PROBE
    start, end = content.find(probe), content.rfind(probe) + _RUN_PROBE
    if start < 0 or end - start < 4 * _RUN_BLOCK:
        return None
    if not all(content.startswith(probe[:end - at], at) for at in range(start, end, _RUN_PROBE)):
        return None  # two runs with something between them
    return content[:start], probe[:1], end - start, content[end:]


def _deflate_around_run(prefix: bytes, byte: bytes, count: int, suffix: bytes, level: int) -> bytes | None:
    first = count % _RUN_BLOCK + _RUN_BLOCK  # long enough for the first block to close inside the run
    repeats = (count - first) // _RUN_BLOCK
    if repeats < 2:
        return None
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = compressor.compress(prefix + byte * first)
    samples = []
    for more in range(3):
        finish = compressor.copy()
        samples.append(head + finish.compress(suffix) + finish.flush())
        if more < 2:
            head += compressor.compress(byte * _RUN_BLOCK)
    # Deflate packs bits from the least significant end of each byte: as little-endian integers, bit i of
    # the stream is bit i of the number.
    zero, one, two = (int.from_bytes(sample, "little") for sample in samples)
    split = ((zero ^ one) & -(zero ^ one)).bit_length() - 1  # first bit where one more block shows
    low, high = zero & ((1 << split) - 1), zero >> split
    grown = 8 * (len(samples[1]) - len(samples[0]))
    answers = set()
    for block_bits in range(max(1, grown - 7), grown + 8):
        block = (one >> split) & ((1 << block_bits) - 1)

        def spliced(times: int, block: int = block, bits: int = block_bits) -> int:
            return low | _repeat(block, bits, times) << split | high << (split + times * bits)

        if spliced(1) != one or spliced(2) != two:
            continue
        # T may end in zero bits that the padding hides: every length the samples allow must agree.
        whole = spliced(repeats)
        for tail_end in range(max(zero.bit_length(), 8 * len(samples[0]) - 7), 8 * len(samples[0]) + 1):
            if all(-(-(tail_end + k * block_bits) // 8) == len(samples[k]) for k in (1, 2)):
                answers.add((whole, -(-(tail_end + repeats * block_bits) // 8)))
    if len(answers) != 1:
        return None
    value, size = answers.pop()
    return value.to_bytes(size, "little")


def _repeat(pattern: int, bits: int, times: int) -> int:
    """``times`` copies of the ``bits``-bit ``pattern`` side by side (by doubling: a few big shifts)."""
    out, width = 0, 0
    while times:
        if times & 1:
            out |= pattern << width
            width += bits
        pattern |= pattern << bits
        bits *= 2
        times >>= 1
    return out


_RECURRING_BYTES = 1 << 20
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
        crc, sizes = zlib.crc32(entry.content), (len(entry.body), len(entry.content))
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
        return java_zip([deflated(member, data, level) for member, data in members], when)
    return _python_zip(members, when, level)
