"""Bounded reading of hostile input: the zip reader, regular files only, one read budget per verification.

Every test here reproduces a defect of issue 12 (bounded reading) on the code before its fix.
"""

from __future__ import annotations

import bz2
import os
import struct
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim import safeio
from hsmsim.encoding import JSON_DEPTH_LIMIT, JsonDepthError, load_json, parse_json
from hsmsim.errors import BundleError
from hsmsim.formats import all_formats, get_format
from hsmsim.formats.primus.archive import build_zip
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim
from tests.conftest import ATTEST_TIME, VALIDATION_TIME

STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
UTF8 = 0x0800  # general purpose flag: the name is UTF-8


def _body(method: int, plain: bytes) -> bytes:
    if method == STORED:
        return plain
    if method == DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(plain) + compressor.flush()
    if method == BZIP2:
        return bz2.compress(plain)
    return b"\x09\x14\x05\x00" + b"\x5d\x00\x00\x10\x00" + b"not an lzma stream" * 4  # header, props, garbage


def raw_zip(members: list[tuple[str, bytes, int]], *, declared: dict[str, int] | None = None,
            count: int | None = None) -> bytes:
    """A zip with sizes in the local headers (no data descriptor); ``declared`` overrides a member's
    uncompressed size in the central directory, ``count`` the entry count of the end record."""
    out, central = bytearray(), bytearray()
    for name, plain, method in members:
        raw_name, body, crc = name.encode(), _body(method, plain), zlib.crc32(plain)
        size = (declared or {}).get(name, len(plain))
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, UTF8, method, 0, 0x21, crc, len(body), len(plain),
                           len(raw_name), 0) + raw_name + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, UTF8, method, 0, 0x21, crc, len(body), size,
                               len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    entries = len(members) if count is None else count
    return bytes(out + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central),
                                             len(out), 0))


def text_like(size: int) -> bytes:
    """Bytes that deflate about five-fold, like the XML and PEM members of real evidence."""
    lines = b"".join(b"%07d\n" % (i * 7919 % 10_000_000) for i in range(size // 8 + 1))
    return lines[:size]


def rejected(data: bytes, **kwargs: object) -> Rejected:
    with pytest.raises(Rejected) as caught:
        safeio.read_zip(data, **kwargs)  # type: ignore[arg-type]
    return caught.value


# -- item 1: only the methods the vendor writes, rejected before decompressing -----------------

def test_a_bzip2_member_is_rejected_before_it_is_decompressed():
    for declared in (None, {"k.xml": 0}):
        error = rejected(raw_zip([("k.xml", b"\x00" * 4096, BZIP2)], declared=declared))
        assert error.reason is Reason.UNSUPPORTED and "bzip2" in error.detail


def test_a_corrupt_lzma_member_is_a_rejection_not_an_lzma_error():
    error = rejected(raw_zip([("k.xml", b"<x/>", LZMA)]))
    assert error.reason is Reason.UNSUPPORTED and "LZMA" in error.detail


def test_stored_and_deflated_members_are_read_with_their_method():
    data = raw_zip([("a.bin", b"stored", STORED), ("b.bin", b"deflated" * 10, DEFLATED)])
    assert safeio.read_zip(data) == {"a.bin": b"stored", "b.bin": b"deflated" * 10}
    assert [(m.name, m.method) for m in safeio.read_zip_members(data)] == [("a.bin", STORED), ("b.bin", DEFLATED)]


# -- item 5: the end record is checked before the central directory is parsed ---------------

def test_the_member_count_is_checked_from_the_end_record_before_the_directory():
    members = [("k.xml", b"<x/>", DEFLATED)]
    error = rejected(raw_zip(members, count=50_000))
    assert error.reason is Reason.LIMIT_EXCEEDED and "members" in error.detail
    # a directory too big for the limit is refused without being parsed: here it is not even a directory
    body = raw_zip(members)
    cd_offset = body.index(b"PK\x01\x02")
    junk = body[:cd_offset] + b"\xff" * 100_000
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, 100_000, cd_offset, 0)
    assert rejected(junk + eocd).reason is Reason.LIMIT_EXCEEDED


def test_an_end_record_that_points_outside_the_archive_is_malformed():
    body = raw_zip([("k.xml", b"<x/>", DEFLATED)])
    patched = body[:-6] + struct.pack("<I", 10_000) + body[-2:]  # central directory offset past the end
    assert rejected(patched).reason is Reason.MALFORMED


# -- item 14: names and declared sizes -------------------------------------------------------

def test_declared_sizes_must_match_the_data():
    members = [("k.xml", b"<x>attested</x>", DEFLATED)]
    for size in (len(b"<x>attested</x>") + 1, len(b"<x>attested</x>") - 1, 0):
        error = rejected(raw_zip(members, declared={"k.xml": size}))
        assert error.reason is Reason.MALFORMED and "size" in error.detail


def test_a_data_descriptor_that_disagrees_with_the_central_directory_is_malformed():
    good = build_zip([("k.xml", b"<x>attested</x>")], ATTEST_TIME)
    descriptor = good.index(b"PK\x07\x08")
    usize = struct.unpack_from("<I", good, descriptor + 12)[0]
    bad = good[:descriptor + 12] + struct.pack("<I", usize + 1) + good[descriptor + 16:]
    assert safeio.read_zip(good) == {"k.xml": b"<x>attested</x>"}
    assert rejected(bad).reason is Reason.MALFORMED


@pytest.mark.parametrize("names", [("k.xml", "K.XML"), ("k.xml", "k.xml"), ("Straße.pem", "STRASSE.pem")])
def test_duplicate_and_case_duplicate_names_are_malformed(names):
    error = rejected(raw_zip([(name, b"<x/>", DEFLATED) for name in names]))
    assert error.reason is Reason.MALFORMED and "duplicate" in error.detail


# -- item 7: one budget across every file and member of a verification ------------------------

def test_one_budget_is_shared_by_every_archive_read_with_it():
    archive = raw_zip([(f"m{i}.bin", text_like(3 << 20), DEFLATED) for i in range(4)])  # 12 MiB
    budget = safeio.ReadBudget(16 * 1024 * 1024)
    safeio.read_zip(archive, budget=budget)
    error = rejected(archive, budget=budget)
    assert error.reason is Reason.LIMIT_EXCEEDED and "budget" in error.detail


def test_a_directory_of_many_zips_cannot_pass_the_total(primus_bundles, primus_trust):
    evidence = primus_bundles["rsa-3072"]
    filler = build_zip([(f"m{i}.bin", text_like(3 << 20)) for i in range(3)], ATTEST_TIME)
    files = {**evidence.files, **{f"extra{i}.zip": filler for i in range(4)}}  # 4 x 9 MiB inflated
    verdict = get_format("primus").verify(Evidence("primus", files, evidence.primary), primus_trust,
                                          at=VALIDATION_TIME)
    assert verdict.reason is Reason.LIMIT_EXCEEDED, verdict.summary()


def test_read_regular_file_counts_against_the_budget(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    budget = safeio.ReadBudget(1500)
    assert safeio.read_regular_file(path, 1000, budget) == b"x" * 1000
    assert budget.remaining == 500
    with pytest.raises(BundleError, match="budget"):
        safeio.read_regular_file(path, 1000, budget)
    with pytest.raises(BundleError, match="larger than 999 bytes"):
        safeio.read_regular_file(path, 999, safeio.ReadBudget())


def test_a_huge_sibling_or_root_is_refused_without_reading_it(tmp_path, primus_bundles):
    evidence = primus_bundles["rsa-3072"]
    written = evidence.write(tmp_path)
    csr = next(p for p in written if p.suffix == ".csr")
    with csr.open("r+b") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: 200 MB that costs nothing on disk
    with pytest.raises(BundleError, match="larger than"):
        get_format("primus").load(tmp_path / evidence.primary)
    with pytest.raises(BundleError, match="larger than"):
        TrustAnchors.from_pem_files([csr])


# -- item 2: regular files only, never blocking ---------------------------------------------

_NAMES = {"primus": "k_attestation.zip", "marvell-azure": "k.json", "marvell-google": "k.attestation.dat",
          "luna-pkc": "k.p7b", "fortanix": "key_attestation_k.json", "webauthn": "k.webauthn.json",
          "tpm-acme": "k.acme-tpm.json"}


def _hostile(tmp_path: Path, kind: str, name: str) -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero" if kind == "zero-link" else "/dev/urandom")
    return path


@pytest.mark.parametrize("kind", ["fifo", "zero-link", "urandom-link"])
@pytest.mark.parametrize("format_name", sorted(_NAMES))
def test_a_non_regular_evidence_file_is_refused_at_once(tmp_path, deadline, kind, format_name):
    fmt = get_format(format_name)
    path = _hostile(tmp_path, kind, _NAMES[format_name])
    assert not fmt.detect(path)
    assert not fmt.detect(tmp_path)
    with pytest.raises(BundleError, match="not a regular file"):
        fmt.load(path)
    with pytest.raises(BundleError, match="not a regular file"):
        fmt.trust_anchors_from_files([path])


def test_detect_over_every_format_stays_cheap_on_dev_zero(deadline):
    assert not any(fmt.detect(Path("/dev/zero")) for fmt in all_formats())


_SIBLINGS = [("primus", "k_attestation.zip", "k.csr"), ("marvell-google", "k.attestation.dat", "k-certs.pem"),
             ("marvell-google", "k.attestation.dat", "k.pub.pem"), ("luna-pkc", "k.p7b", "k.csr"),
             ("fortanix", "key_attestation_k.json", "k.csr"), ("tpm-acme", "k.acme-tpm.json", "k.csr")]


@pytest.mark.parametrize("kind", ["fifo", "zero-link"])
@pytest.mark.parametrize(("format_name", "name", "sibling"), _SIBLINGS)
def test_a_non_regular_sibling_is_refused(tmp_path, deadline, kind, format_name, name, sibling):
    (tmp_path / name).write_bytes(b"\x1f\x8b" + b"\x00" * 30)
    _hostile(tmp_path, kind, sibling)
    with pytest.raises(BundleError, match="not a regular file"):
        get_format(format_name).load(tmp_path / name)


@pytest.mark.parametrize("kind", ["fifo", "zero-link"])
def test_a_bundle_directory_never_reads_a_record_that_is_no_regular_file(tmp_path, deadline, kind):
    """A FIFO or link named as a record is never opened: the directory holds no record (MISSING_INPUT)."""
    _hostile(tmp_path, kind, "b.webauthn.json")
    webauthn = get_format("webauthn")
    assert webauthn.load(tmp_path).files == {}
    assert webauthn.verify(webauthn.load(tmp_path), TrustAnchors()).reason is Reason.MISSING_INPUT


def test_a_verification_reads_strict_zips_as_the_vendor_writes_them(primus_bundles, primus_trust):
    """Strict: an extra member or a member that is not deflated is unexpected content."""
    evidence = primus_bundles["rsa-3072"]
    archive = safeio.read_zip_members(evidence.files[evidence.primary])
    primus = get_format("primus")

    def verdicts(members: list[tuple[str, bytes, int]]) -> tuple[Reason, Reason]:
        files = {**evidence.files, evidence.primary: raw_zip(members)}
        changed = Evidence("primus", files, evidence.primary)
        return tuple(primus.verify(changed, primus_trust, at=VALIDATION_TIME, profile=profile).reason
                     for profile in (Profile.STRUCTURAL, Profile.STRICT))  # type: ignore[return-value]

    as_written = [(m.name, m.data, DEFLATED) for m in archive]
    assert verdicts(as_written) == (Reason.OK, Reason.OK)
    assert verdicts([*as_written, ("notes.txt", b"hello", DEFLATED)]) == (Reason.OK, Reason.UNEXPECTED_CONTENT)
    stored = [(name, data, STORED if name.endswith(".pem") else method) for name, data, method in as_written]
    assert verdicts(stored) == (Reason.OK, Reason.UNEXPECTED_CONTENT)


def test_a_call_budget_bounds_every_budget_opened_inside_it(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    with safeio.call_budget(1500) as call:
        safeio.read_regular_file(path, 1000, safeio.ReadBudget())
        assert call.used == 1000 and safeio.ReadBudget().remaining == 500
        with pytest.raises(BundleError, match="read budget of this call"):
            safeio.read_regular_file(path, 1000, safeio.ReadBudget())
        with pytest.raises(Rejected, match="read budget of this call"):
            safeio.ReadBudget().spend(600, "an inflated member")
        assert safeio.ReadBudget.for_files({"a.bin": b"x" * 1000}).used == 1000  # read already: not counted twice
    assert safeio.ReadBudget().remaining == safeio.READ_BUDGET_BYTES


def test_one_verify_command_reads_at_most_one_budget_in_all(tmp_path, primus_bundles, primus_trust):
    """The bundle (16 MiB) and 18 roots of 1 MiB each stay within the per-load budgets, not within one."""
    evidence = primus_bundles["rsa-3072"]
    bundle = tmp_path / "bundle"
    evidence.write(bundle)
    primary = bundle / evidence.primary
    primary.write_bytes(primary.read_bytes().ljust(16 * 1024 * 1024 - 64 * 1024, b"\0"))
    root_pem = primus_trust.all()[0].public_bytes(Encoding.PEM)
    roots = []
    for index in range(18):
        root = tmp_path / f"root{index}.pem"
        root.write_bytes(root_pem.ljust(1024 * 1024, b"\n"))
        roots += ["--root", str(root)]
    done = run_hsmsim(["verify", str(primary), *roots, "--format", "primus"], timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "read budget of this call" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("depth", [JSON_DEPTH_LIMIT + 1, 900, 5_000, 100_000])
def test_json_nesting_is_bounded_the_same_on_every_python(depth: int) -> None:
    # Python 3.11's json runs out of recursion below 1,000 levels, 3.13's reads thousands: the limit is hsmsim's
    assert parse_json("[" * JSON_DEPTH_LIMIT + "]" * JSON_DEPTH_LIMIT) == nested_list(JSON_DEPTH_LIMIT)
    assert load_json('{"a":' * (JSON_DEPTH_LIMIT - 1) + "[]" + "}" * (JSON_DEPTH_LIMIT - 1)) is not None
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "0" + "}" * depth):
        with pytest.raises(JsonDepthError, match=f"nest more than {JSON_DEPTH_LIMIT} levels deep"):
            parse_json(text)
        with pytest.raises(JsonDepthError):
            load_json(text)


def nested_list(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_load_json_file_refuses_what_it_cannot_bound(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"a": [1, 2]}')
    assert safeio.load_json_file(good, 100) == {"a": [1, 2]}
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 500 + "]" * 500)  # parsed by Python 3.11 and 3.13 alike, then refused by depth
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 100 + "0]")
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\xff{")
    for path, message in ((deep, "nests too deeply"), (fifo, "not a regular file"), (big, "larger than 150 bytes"),
                          (junk, "not valid JSON"), (tmp_path / "missing.json", "No such file")):
        with pytest.raises(BundleError, match=message):
            safeio.load_json_file(path, 150 if path is big else 300_000)
