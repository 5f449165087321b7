"""Fuzzing any format: a model built from its vector catalogue, and generic evidence-level operators for every model.

:func:`generic_fuzz_model` needs no format code. Goldens are the catalogue's golden vectors.
Operators are the catalogue's mutated vectors (each replaces its golden's files with the mutated
files: invalid by construction when the vector is invalid under the structural profile) plus
byte-level operators on any native file: bit flips, truncation, extension, and splicing a
same-suffix file from another golden. Nothing is re-signed: a format that wants field-level
operators with re-signing provides its own ``fuzz_model`` (as ``primus`` does).

:func:`with_evidence_operators` adds to any model (a format's own or the generic one) the
operators that act on the *rendered* evidence, after re-signing, where the format's model cannot
reach: the zip container (a member stored, bzip2- or LZMA-compressed instead of deflated; a
declared size that lies; a bzip2 bomb declared as the member's real size) and X.509 certificates
wherever they sit (PEM blocks, base64 in JSON, whole DER files, inside zip members), where one
extension is duplicated. Each operator is offered only for goldens where it finds its target.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from asn1crypto import core

from hsmsim import mutate
from hsmsim.encoding import der_children, der_content, der_sequence, der_tlv
from hsmsim.formats import get_format
from hsmsim.fuzz.engine import mutable_names
from hsmsim.model.evidence import Evidence
from hsmsim.model.fuzz import FuzzModel, FuzzOperator
from hsmsim.model.vectors import PROVENANCE_NOTES, VectorCase
from hsmsim.verdict import Profile, Reason


@dataclass
class FileBench:
    """A golden's native files, opened up for byte-level mutation."""

    golden: str
    files: dict[str, bytes]
    primary: str
    format: str
    fixed: frozenset[str] = frozenset()
    """The verifier's configuration among the files (:attr:`FuzzModel.verifier_files`): never picked."""
    touched: list[str] = field(default_factory=list)


def _pick(bench: FileBench, rng: random.Random) -> str:
    name = rng.choice(mutable_names(bench.files, bench.fixed))
    bench.touched.append(name)
    return name


def _flip(bench: FileBench, rng: random.Random) -> str:
    name = _pick(bench, rng)
    if not bench.files[name]:
        raise mutate.MutationError(f"{name} is empty")
    bench.files[name] = mutate.flip_bit(bench.files[name], rng.randrange(len(bench.files[name]) * 8))
    return name


def _truncate(bench: FileBench, rng: random.Random) -> str:
    name = _pick(bench, rng)
    bench.files[name] = mutate.truncate(bench.files[name], rng.randrange(max(1, len(bench.files[name]))))
    return name


def _extend(bench: FileBench, rng: random.Random) -> str:
    name = _pick(bench, rng)
    bench.files[name] = mutate.extend(bench.files[name], rng.randbytes(rng.choice((1, 2, 16, 256))))
    return name


def _splice_from(goldens: dict[str, VectorCase]) -> Callable[[FileBench, random.Random], str]:
    def apply(bench: FileBench, rng: random.Random) -> str:
        donor = goldens[rng.choice(sorted(goldens))].evidence.files
        name = _pick(bench, rng)
        suffix = PurePosixPath(name).suffix
        same_kind = sorted(n for n in donor if PurePosixPath(n).suffix == suffix)
        if not same_kind:
            raise mutate.MutationError(f"no donor {suffix} file")
        bench.files[name] = donor[rng.choice(same_kind)]
        return f"{name}<-splice"
    return apply


def _catalogue(case: VectorCase, golden: str) -> FuzzOperator:
    def apply(bench: FileBench, _rng: random.Random) -> str:
        if bench.touched:  # it replaces every file: on a changed bench it would undo the other operators
            raise mutate.MutationError("a catalogue vector applies to an untouched golden only")
        bench.files = dict(case.evidence.files)
        bench.primary = case.evidence.primary
        bench.touched.append(case.id)
        return case.provenance.path or case.id
    invalid = case.expected.get(Profile.STRUCTURAL, Reason.OK) is not Reason.OK
    return FuzzOperator(case.id, apply, invalidating=invalid, resign=False, goldens=(golden,), catalogue=True,
                        expected=case.expected, flags=tuple(f for f in case.flags if f not in PROVENANCE_NOTES))


def _golden_name(format_name: str, vector_id: str) -> str:
    """A golden's name in the model: its id after ``<format>::golden::`` (``ec-p256``; ``yubikey::ec-p256`` where a
    format has goldens of one key spec in several kinds, which must stay apart)."""
    prefix = f"{format_name}::golden::"
    return vector_id.removeprefix(prefix) if vector_id.startswith(prefix) else vector_id.rsplit("::", 1)[-1]


def generic_fuzz_model(format_name: str, seed: str) -> FuzzModel:
    """The catalogue-driven fuzz model of ``format_name`` (any registered format)."""
    cases = get_format(format_name).vector_cases(seed)
    goldens = {_golden_name(format_name, c.id): c for c in cases if "Golden" in c.flags}
    if not goldens:
        raise mutate.MutationError(f"format {format_name} has no golden vectors")
    first = next(iter(goldens.values()))
    # A mutated vector replays only where the model's trust and time are its own.
    by_id = {c.id: c for c in cases}

    def golden_of(case: VectorCase) -> str:
        # A defect of a variant (ms-kast's idBinding defects) replays where the variant's own golden does.
        base, seen = case.provenance.golden, set()
        while base in by_id and base not in seen and "Golden" not in by_id[base].flags:  # a plugin's cycle ends
            seen.add(base)
            base = by_id[base].provenance.golden
        return _golden_name(format_name, base or "")
    mutated = [(c, golden_of(c)) for c in cases if c.provenance.golden and golden_of(c) in goldens
               and c.anchors == first.anchors and c.validation_time == first.validation_time]
    operators = (
        *(_catalogue(c, golden) for c, golden in mutated),
        FuzzOperator("bytes.flip", _flip), FuzzOperator("bytes.truncate", _truncate),
        FuzzOperator("bytes.extend", _extend), FuzzOperator("splice", _splice_from(goldens)),
    )

    verifier_files = frozenset(name for golden in goldens.values() for name, data in golden.evidence.files.items()
                               if _is_private_key_file(data))

    def open_bench(name: str) -> FileBench:
        golden = goldens[name]
        return FileBench(name, dict(golden.evidence.files), golden.evidence.primary, format_name, verifier_files)

    def render(bench: FileBench, _packed: bool) -> Evidence:
        return Evidence(bench.format, dict(bench.files), bench.primary)

    return FuzzModel(format=format_name, goldens=tuple(goldens), operators=operators, anchors=first.anchors,
                     validation_time=first.validation_time, open=open_bench, resign=lambda _bench: None,
                     render=render, verifier_files=verifier_files, resigns=False,
                     golden_ids={name: case.id for name, case in goldens.items()})


def _is_private_key_file(data: bytes) -> bool:
    """True when ``data`` holds a PEM private key. A device's evidence never carries one: such a file beside it is
    the verifier's own key (ms-kast's CA exchange key, which opens the AIK info), configuration like the trust
    anchors rather than evidence, so the fuzzer holds it fixed as it holds the anchors."""
    return b"-----BEGIN" in data and b"PRIVATE KEY-----" in data


# -- evidence-level operators ----------------------------------------------------------------------

Edit = Callable[[dict[str, bytes]], None]
"""An edit of rendered evidence files, in place; raises :class:`~hsmsim.mutate.MutationError` if its target is gone."""
Planner = Callable[[dict[str, bytes], random.Random], tuple[str, Edit]]
"""Choose a target in the (packed) evidence files: the path it touches and the edit to make once the case renders."""


@dataclass
class Layered:
    """The bench of a model with evidence-level operators: the format's own bench, plus the edits planned on it.

    The edits run on the rendered evidence, after any re-signing: containers and certificates lie outside
    what the attestation signature covers, so re-signing must not repair them.
    """

    inner: Any
    edits: list[Edit] = field(default_factory=list)


def with_evidence_operators(model: FuzzModel) -> FuzzModel:
    """``model`` with the generic evidence-level operators added (see the module docstring), each offered for the
    goldens where it finds its target; the model's own operators act on the inner bench as before."""
    probes = {golden: dict(model.render(model.open(golden), True).files) for golden in model.goldens}

    def lift(op: FuzzOperator) -> FuzzOperator:
        def apply(bench: Layered, rng: random.Random) -> str:
            return op.apply(bench.inner, rng)
        return replace(op, apply=apply)

    def evidence_operator(name: str, planner: Planner) -> FuzzOperator | None:
        goldens = tuple(g for g, files in probes.items() if _plans(planner, files))
        if not goldens:
            return None

        def apply(bench: Layered, rng: random.Random) -> str:
            path, edit = planner(dict(model.render(bench.inner, True).files), rng)
            bench.edits.append(edit)
            return path
        return FuzzOperator(name, apply, goldens=goldens, after_signing=True)

    def render(bench: Layered, packed: bool) -> Evidence:
        evidence = model.render(bench.inner, packed or bool(bench.edits))
        if not bench.edits:
            return evidence
        files = dict(evidence.files)
        for edit in bench.edits:
            edit(files)
        return Evidence(evidence.format, files, evidence.primary)

    added = (evidence_operator(name, planner) for name, planner in EVIDENCE_OPERATORS)
    return FuzzModel(format=model.format, goldens=model.goldens,
                     operators=(*(lift(op) for op in model.operators), *(op for op in added if op is not None)),
                     anchors=model.anchors, validation_time=model.validation_time,
                     open=lambda golden: Layered(model.open(golden)), resign=lambda bench: model.resign(bench.inner),
                     render=render, verifier_files=model.verifier_files, resigns=model.resigns,
                     golden_ids=model.golden_ids)


def _plans(planner: Planner, files: dict[str, bytes]) -> bool:
    try:
        planner(files, random.Random(0))
    except mutate.MutationError:
        return False
    return True


# zip container -------------------------------------------------------------------------------------

_MAX_MEMBER_BYTES = 16 << 20
_METHOD_NAMES = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                 zipfile.ZIP_LZMA: "lzma"}
BZIP2_BOMB = bytes.fromhex(
    "425a68393141592653590e09e2df015f8e4000c0000008200030804d4642a025a90a80973141592653590e09e2df015f8e4000c00000"
    "08200030804d4642a025a90a809731415926535981f39ae30144e74000c4000008200030cc0529a65454426c5515109e2ee48a70a1214b"
    "8fa842")
"""``bz2.compress(bytes(128 << 20), 9)``: 112 bytes that inflate to 128 MiB."""


@dataclass(frozen=True)
class _Member:
    """One zip member as its headers declare it, with the content of a stored or deflated member."""

    info: zipfile.ZipInfo
    content: bytes


def _zip_names(files: dict[str, bytes]) -> list[str]:
    return sorted(name for name, data in files.items() if data.startswith(b"PK\x03\x04"))


@functools.lru_cache(maxsize=256)
def _members(data: bytes) -> tuple[_Member, ...]:
    """The members of a zip, decompressed with a bound; MutationError unless every member is stored or deflated
    (remembered: a case plans and edits on the same rendered zip, and most cases render a golden's)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = []
        for info in archive.infolist():
            raw = _raw_data(data, info)
            if info.compress_type == zipfile.ZIP_STORED:
                content = raw
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                content = zlib.decompressobj(-15).decompress(raw, _MAX_MEMBER_BYTES)
            else:
                raise mutate.MutationError(f"member {info.filename} is {_METHOD_NAMES.get(info.compress_type, '?')}")
            members.append(_Member(info, content))
    except (zipfile.BadZipFile, zlib.error, struct.error, ValueError, EOFError) as exc:
        raise mutate.MutationError(f"not a readable zip: {exc}") from exc
    return tuple(members)


def _raw_data(data: bytes, info: zipfile.ZipInfo) -> bytes:
    offset = info.header_offset
    if data[offset:offset + 4] != b"PK\x03\x04":
        raise mutate.MutationError(f"no local header for {info.filename}")
    name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
    start = offset + 30 + name_length + extra_length
    return data[start:start + info.compress_size]


def _zip(members: Iterable[_Member], methods: dict[str, int]) -> bytes:
    """A new archive of ``members``, each compressed with ``methods[name]`` (default: its own method)."""
    return _written(tuple((m.info.filename, m.info.date_time, m.info.external_attr,
                           methods.get(m.info.filename, m.info.compress_type), m.content) for m in members))


_Entry = tuple[str, tuple[int, int, int, int, int, int], int, int, bytes]
"""A member to write: name, date_time, external_attr, method, content."""


@functools.lru_cache(maxsize=256)
def _written(entries: tuple[_Entry, ...]) -> bytes:
    """The archive ``zipfile`` writes for ``entries``, remembered by them: an edit of a golden's zip recurs
    whenever a case draws the same golden, member and method."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, date_time, external_attr, method, content in entries:
            info = zipfile.ZipInfo(name, date_time)
            info.external_attr = external_attr
            info.compress_type = method
            archive.writestr(info, content)
    return out.getvalue()


def _patch(data: bytes, member: str, **values: int) -> bytes:
    """Overwrite header fields of ``member`` in its local header and its central directory entry alike.

    Fields: ``version`` (needed to extract), ``method``, ``crc``, ``compressed`` and ``size`` (declared sizes).
    """
    local_at = {"version": 4, "method": 8, "crc": 14, "compressed": 18, "size": 22}
    central_at = {"version": 6, "method": 10, "crc": 16, "compressed": 20, "size": 24}
    widths = {"version": "<H", "method": "<H", "crc": "<I", "compressed": "<I", "size": "<I"}
    out = bytearray(data)
    eocd = data.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise mutate.MutationError("no end-of-central-directory record")
    entries, position = struct.unpack_from("<H", data, eocd + 10)[0], struct.unpack_from("<I", data, eocd + 16)[0]
    for _ in range(entries):
        if data[position:position + 4] != b"PK\x01\x02":
            raise mutate.MutationError("broken central directory")
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        local = struct.unpack_from("<I", data, position + 42)[0]
        if data[position + 46:position + 46 + name_length] == member.encode():
            for key, value in values.items():
                struct.pack_into(widths[key], out, position + central_at[key], value)
                struct.pack_into(widths[key], out, local + local_at[key], value)
            return bytes(out)
        position += 46 + name_length + extra_length + comment_length
    raise mutate.MutationError(f"no member {member}")


def _pick_member(files: dict[str, bytes], rng: random.Random) -> tuple[str, tuple[_Member, ...], _Member]:
    names = _zip_names(files)
    if not names:
        raise mutate.MutationError("no zip file")
    name = rng.choice(names)
    members = _members(files[name])
    if not members:
        raise mutate.MutationError(f"{name} has no members")
    return name, members, rng.choice(members)


def _member_named(files: dict[str, bytes], name: str, member: str) -> tuple[tuple[_Member, ...], _Member]:
    if name not in files:
        raise mutate.MutationError(f"no {name}")
    members = _members(files[name])
    found = [m for m in members if m.info.filename == member]
    if not found:
        raise mutate.MutationError(f"{name} has no member {member}")
    return members, found[0]


def plan_member_method(files: dict[str, bytes], rng: random.Random) -> tuple[str, Edit]:
    """One member stored, or compressed with bzip2 or LZMA, where the vendor deflates."""
    name, _, chosen = _pick_member(files, rng)
    method = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA))
    member = chosen.info.filename

    def edit(target: dict[str, bytes]) -> None:
        members, _ = _member_named(target, name, member)
        target[name] = _zip(members, {member: method})
    return f"{name}!{member}: {_METHOD_NAMES[method]}", edit


def plan_declared_size(files: dict[str, bytes], rng: random.Random) -> tuple[str, Edit]:
    """One member's declared compressed or uncompressed size changed (0, one off, doubled, the ZIP64 marker)."""
    name, _, chosen = _pick_member(files, rng)
    member = chosen.info.filename
    field_name = rng.choice(("compressed", "size"))
    declared = chosen.info.compress_size if field_name == "compressed" else chosen.info.file_size
    value = rng.choice((0, max(0, declared - 1), declared + 1, declared * 2, 0xFFFFFFFE, 0xFFFFFFFF))

    def edit(target: dict[str, bytes]) -> None:
        _member_named(target, name, member)
        target[name] = _patch(target[name], member, **{field_name: value})
    return f"{name}!{member}: declared {field_name} {declared} -> {value}", edit


def plan_bzip2_bomb(files: dict[str, bytes], rng: random.Random) -> tuple[str, Edit]:
    """One member replaced by :data:`BZIP2_BOMB`, its headers still declaring the member's real size and CRC."""
    name, _, chosen = _pick_member(files, rng)
    member = chosen.info.filename

    def edit(target: dict[str, bytes]) -> None:
        members, original = _member_named(target, name, member)
        bomb = [_Member(m.info, BZIP2_BOMB) if m is original else m for m in members]
        stored = _zip(bomb, {member: zipfile.ZIP_STORED})
        target[name] = _patch(stored, member, version=46, method=zipfile.ZIP_BZIP2, crc=original.info.CRC,
                              size=original.info.file_size)
    return f"{name}!{member}: bzip2 stream of 128 MiB declared as {chosen.info.file_size} bytes", edit


# X.509 certificates --------------------------------------------------------------------------------

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)
_BASE64_RUN = re.compile(rb"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{300,}={0,2}")


def duplicate_extension(der: bytes, which: int) -> tuple[bytes, str]:
    """``der`` (a certificate) with extension ``which % count`` repeated right after itself; and that extension's OID.

    Raises :class:`ValueError` when ``der`` is not a certificate with extensions.
    """
    tbs, *rest = der_children(der_content(der))
    if tbs[0] != 0x30 or len(rest) != 2:
        raise ValueError("not a certificate")
    parts = der_children(der_content(tbs))
    index = next((i for i, part in enumerate(parts) if part[0] == 0xA3), None)
    if index is None:
        raise ValueError("no extensions")
    extensions = der_children(der_content(der_content(parts[index])))
    if not extensions:
        raise ValueError("no extensions")
    position = which % len(extensions)
    oid = core.ObjectIdentifier.load(der_children(der_content(extensions[position]))[0]).dotted
    extensions.insert(position + 1, extensions[position])
    parts[index] = der_tlv(0xA3, der_sequence(*extensions))
    return der_sequence(der_tlv(0x30, b"".join(parts)), *rest), oid


@dataclass(frozen=True)
class _CertSite:
    """Where a certificate sits: a file (or a member of a zip file), the encoding, and which occurrence."""

    file: str
    member: str | None
    encoding: str
    """``pem``, ``base64`` (a long base64 run, as JSON carries them) or ``der`` (the whole file)."""
    occurrence: int

    def describe(self) -> str:
        """``file[!member]: <encoding> certificate #n``."""
        where = f"{self.file}!{self.member}" if self.member else self.file
        return f"{where}: {self.encoding} certificate #{self.occurrence}"


@dataclass(frozen=True)
class _Found:
    """A certificate found in some bytes: the span its encoding occupies, and its DER."""

    start: int
    end: int
    der: bytes
    newline: bytes = b"\n"
    """The line break of a PEM body (``\\n`` escaped inside JSON strings too)."""


def _is_certificate(der: bytes) -> bool:
    try:
        duplicate_extension(der, 0)
    except (ValueError, IndexError):
        return False
    return True


@functools.lru_cache(maxsize=256)
def _certificates(data: bytes, encoding: str) -> tuple[_Found, ...]:
    """The certificates (with extensions) ``data`` holds in ``encoding``, in order (remembered: most cases
    leave most files as the golden's)."""
    if encoding == "der":
        return (_Found(0, len(data), data),) if _is_certificate(data) else ()
    found = []
    for match in (_PEM_CERTIFICATE if encoding == "pem" else _BASE64_RUN).finditer(data):
        group = 1 if encoding == "pem" else 0
        body = match.group(group)
        try:
            der = base64.b64decode(re.sub(rb"\s|\\n", b"", body), validate=True)
        except (ValueError, binascii.Error):
            continue
        if _is_certificate(der):
            newline = b"\\n" if b"\\n" in body else b"\r\n" if b"\r\n" in body else b"\n"
            found.append(_Found(match.start(group), match.end(group), der, newline))
    return tuple(found)


def _replace(data: bytes, encoding: str, found: _Found, der: bytes) -> bytes:
    if encoding == "der":
        return der
    encoded = base64.b64encode(der)
    if encoding == "pem":
        lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
        encoded = found.newline + found.newline.join(lines) + found.newline
    return data[:found.start] + encoded + data[found.end:]


_ENCODINGS = ("pem", "base64", "der")


def _cert_sites(files: dict[str, bytes]) -> list[_CertSite]:
    sites = []
    zips = set(_zip_names(files))
    for name in sorted(files):
        holders: list[tuple[str | None, bytes]] = [(None, files[name])]
        if name in zips:
            try:
                holders = [(m.info.filename, m.content) for m in _members(files[name])]
            except mutate.MutationError:  # a member an earlier operator made unreadable
                continue
        for member, data in holders:
            for encoding in _ENCODINGS:
                sites += [_CertSite(name, member, encoding, i) for i in range(len(_certificates(data, encoding)))]
    return sites


def plan_duplicate_extension(files: dict[str, bytes], rng: random.Random) -> tuple[str, Edit]:
    """One extension of one certificate, wherever it sits, repeated (RFC 5280 4.2: at most one instance each)."""
    sites = _cert_sites(files)
    if not sites:
        raise mutate.MutationError("no certificate")
    site = rng.choice(sites)
    which = rng.randrange(1 << 16)

    def mutated(data: bytes) -> tuple[bytes, str]:
        found = _certificates(data, site.encoding)
        if len(found) <= site.occurrence:
            raise mutate.MutationError(f"{site.describe()} is gone")
        der, oid = duplicate_extension(found[site.occurrence].der, which)
        return _replace(data, site.encoding, found[site.occurrence], der), oid

    def edit(target: dict[str, bytes]) -> None:
        if site.file not in target:
            raise mutate.MutationError(f"no {site.file}")
        if site.member is None:
            target[site.file] = mutated(target[site.file])[0]
            return
        members, holder = _member_named(target, site.file, site.member)
        content = mutated(holder.content)[0]
        target[site.file] = _zip([_Member(m.info, content) if m is holder else m for m in members], {})

    holder = files[site.file] if site.member is None else _member_named(files, site.file, site.member)[1].content
    return f"{site.describe()}: extension {mutated(holder)[1]} twice", edit


EVIDENCE_OPERATORS: tuple[tuple[str, Planner], ...] = (
    ("zip.member-method", plan_member_method),
    ("zip.declared-size", plan_declared_size),
    ("zip.bzip2-bomb", plan_bzip2_bomb),
    ("x509.duplicate-extension", plan_duplicate_extension),
)
"""The generic evidence-level operators, by name."""
