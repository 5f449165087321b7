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

A member larger than 1 MiB is not deflated as Java would. No real TSB export has such a member: only
hsmsim's deliberately oversized synthetic members (the 50 MB ``<label>`` and the 64 MiB ``padding.bin`` bomb
of the corpus), which are runs of one byte. Their stream is made of 1 MiB pieces, each deflated by a fresh
compressor with zlib's run-length strategy (``Z_RLE``) and ended with a full flush (an empty stored block,
so the next piece starts on a byte boundary and refers to nothing before it), then one final empty block.
A piece equal to the one before it is not compressed again, so a 64 MiB run costs one 1 MiB compression; the
stream is within 1 % of the size one compressor would give, and any inflater reads it as one member.
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
ones (only the synthetic oversized members) in pieces of this size (see above)."""


def deflated(name: str, content: bytes, level: int = 6, *, repeat: int = 1) -> ZipEntry:
    """``content`` written ``repeat`` times (``repeat`` >= 1), as java.util.zip deflates it (raw deflate at
    ``level``); over :data:`_LARGE_MEMBER_BYTES` in all, in pieces (see above). Repeated content is never built:
    the one piece is checksummed and compressed as often as it recurs (the corpus check pins the bytes)."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    size = len(content) * repeat
    if size > _LARGE_MEMBER_BYTES:
        crc, body = _deflate_in_pieces(content, level, repeat)
    else:
        crc, body = _recurring_deflate(content * repeat, level)
    return ZipEntry(name, crc, size, DEFLATED, body)


def _raw_deflate(content: bytes, level: int) -> tuple[int, bytes]:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return zlib.crc32(content), compressor.compress(content) + compressor.flush()


def _deflate_in_pieces(content: bytes, level: int, repeat: int) -> tuple[int, bytes]:
    """The CRC-32 of ``content`` written ``repeat`` times and its raw deflate stream in 1 MiB pieces."""
    step = _LARGE_MEMBER_BYTES
    if len(content) < step:  # whole copies of a short content, up to a piece's size, then the copies left over
        copies = step // len(content)
        runs = [(content * copies, repeat // copies), (content * (repeat % copies), 1)]
    else:
        runs = [(content, repeat)]
    crc, parts = 0, []
    piece: bytes | memoryview = b""
    piece_crc, stream = 0, b""
    for source, times in runs:
        whole = memoryview(source)
        for _ in range(times):
            for at in range(0, len(source), step):
                end = min(at + step, len(source))
                # A piece equal to the one before (a memcmp in place, no copy) reuses its stream and checksum; a
                # new one is read through a view, never copied (the content may be 50 MB).
                if not (end - at == len(piece) and (piece is whole or source.startswith(piece, at))):
                    piece = whole if end - at == len(source) else whole[at:end]
                    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_RLE)
                    piece_crc = zlib.crc32(piece)
                    stream = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
                crc = crc32_combine(crc, piece_crc, len(piece))
                parts.append(stream)
    parts.append(zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS).flush())  # the final, empty block
    return crc, b"".join(parts)


_CRC32_POLYNOMIAL = 0xEDB88320  # reflected, as zlib's


def _times_modulo_polynomial(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC-32 polynomial, both reflected (zlib's multmodp)."""
    m, product = 1 << 31, 0
    while True:
        if a & m:
            product ^= b
            if not a & (m - 1):
                return product
        m >>= 1
        b = (b >> 1) ^ _CRC32_POLYNOMIAL if b & 1 else b >> 1


def _squarings(count: int) -> tuple[int, ...]:
    """x^(2^n) modulo the polynomial for n below ``count``: each the square of the one before."""
    powers = [1 << 30]  # x^1
    while len(powers) < count:
        powers.append(_times_modulo_polynomial(powers[-1], powers[-1]))
    return tuple(powers)


_X_POWERS = _squarings(32)
"""x^(2^n) modulo the polynomial: multiplying by x^(8 * length) appends ``length`` zero bytes to a CRC."""


@lru_cache(maxsize=64)
def _zero_bytes_operator(length: int) -> int:
    """x^(8 * length) modulo the polynomial (zlib's x2nmodp(length, 3))."""
    power, k = 1 << 31, 3  # x^0
    while length:
        if length & 1:
            power = _times_modulo_polynomial(_X_POWERS[k & 31], power)
        length >>= 1
        k += 1
    return power


def crc32_combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of A + B from A's CRC ``first``, B's ``second`` and B's length, as zlib's ``crc32_combine``:
    without reading either."""
    return _times_modulo_polynomial(_zero_bytes_operator(second_length), first) ^ second


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
