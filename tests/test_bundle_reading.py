"""Reading a bundle from disk is bounded and never takes an unreadable file for an absent one.

A bundle directory nesting 1000 levels deep, or holding thousands of entries, is a one-line error (exit 2), found
without listing any directory in full or recursing; an optional binding file beside the evidence (a challenge,
a nonce, a CA key, a CSR) that is there but cannot be read (a FIFO, a dangling symlink, a directory) is a one-line
error naming it, never a skipped check and an ACCEPT; a directory that can be entered but not listed says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hsmsim.corpus.build import MANIFEST_FILE
from hsmsim.corpus.check import check_corpus
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.formats import all_formats, get_format
from hsmsim.model.evidence import (
    MAX_BUNDLE_ENTRIES,
    BundleLayout,
    bundle_entries,
    files_below,
    peek_entries,
    read_optional_sibling,
)
from hsmsim.safeio import ReadBudget
from hsmsim.verdict import Reason
from tests.cli_process import run_hsmsim
from tests.repo_corpus import repo_corpus, write_vector
from tests.test_cli import ROOT

CORPUS = ROOT / "vectors"
DEEP = 1000


def _golden(tmp_path: Path, format_name: str, name: str = "bundle") -> tuple[Path, Path, str]:
    """The first golden vector of ``format_name`` extracted into ``tmp_path/name``: its directory, primary file and
    validation time."""
    vector = next(v for v in repo_corpus().select(formats=[format_name]) if v.golden)
    directory = tmp_path / name
    write_vector(vector, directory)
    return directory, directory / vector.inputs.primary, vector.at.isoformat()


def _roots(directory: Path) -> list[str]:
    return [arg for path in sorted(directory.glob("trust-anchor-*.pem")) for arg in ("--root", str(path))]


def _verify(path: Path, at: str, *args: str, roots: Path | None = None) -> subprocess.CompletedProcess[str]:
    anchors = _roots(roots if roots is not None else (path if path.is_dir() else path.parent))
    return run_hsmsim(["verify", "--at", at, *anchors, *args, str(path)])


def _one_line_exit_2(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("hsmsim: error: "), result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def _nest(directory: Path, levels: int) -> Path:
    """``levels`` directories ``d`` one in another below ``directory``, made one by one (``mkdir(parents=True)``
    recurses once a level)."""
    deepest = directory
    for _level in range(levels):
        deepest /= "d"
        deepest.mkdir()
    return deepest


def _unnest(directory: Path, levels: int) -> None:
    """Remove what :func:`_nest` made bottom up (a recursive removal of 1000 levels can exhaust the stack)."""
    for level in range(levels, 0, -1):
        directory.joinpath(*["d"] * level).rmdir()


# -- finding 1: a deep directory tree is never walked, and a walk of one is a one-line error -----------------------


@pytest.mark.parametrize("format_name", ["primus", "luna-pkc", "marvell-azure", "yubico-piv", "purebred"])
def test_a_directory_nesting_1000_levels_beside_the_record_is_never_walked(tmp_path: Path, format_name: str) -> None:
    """A bundle directory is read through its record and the files named for it: what nests below is not looked
    into, however deep."""
    directory, primary, at = _golden(tmp_path, format_name)
    _nest(directory, DEEP)
    try:
        fmt = get_format(format_name)
        assert fmt.load(directory) == fmt.load(primary)
        result = _verify(directory, at, "--format", format_name)
        assert result.returncode == 0 and result.stdout.splitlines()[-1] == "ACCEPT", result.stdout + result.stderr
    finally:
        _unnest(directory, DEEP)


def test_vectors_check_of_a_deep_corpus_is_one_line_before_any_regeneration(tmp_path: Path, deadline: None) -> None:
    corpus = tmp_path / "vectors"
    corpus.mkdir()
    shutil.copyfile(CORPUS / MANIFEST_FILE, corpus / MANIFEST_FILE)
    _nest(corpus, DEEP)
    try:
        with pytest.raises(HsmsimError, match="nests deeper than"):
            check_corpus(corpus)
    finally:
        _unnest(corpus, DEEP)


def test_files_below_walks_regular_files_within_its_bounds(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "a").write_bytes(b"a")
    _nest(bundle, 3).joinpath("deep").write_bytes(b"x")
    assert files_below(bundle) == files_below(bundle, max_depth=3) == ["a", "d/d/d/deep"]
    with pytest.raises(BundleError, match="nests deeper than 2 levels"):
        files_below(bundle, max_depth=2)
    with pytest.raises(BundleError, match="holds more than 4 entries"):  # a, d, d, d, deep
        files_below(bundle, max_entries=4)


@pytest.mark.parametrize("kind", ["fifo", "directory-link", "file-link"])
def test_files_below_refuses_what_is_neither_a_file_nor_a_directory(tmp_path: Path, kind: str) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "a").write_bytes(b"a")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s")
    odd = bundle / "odd"
    if kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to(outside if kind == "directory-link" else bundle / "a", target_is_directory=kind != "file-link")
    with pytest.raises(BundleError, match="odd is not a regular file"):
        files_below(bundle)


# -- finding 2: no directory is ever listed in full ----------------------------------------------------------------


class _CountingScan:
    """``os.scandir`` that records how many entries each listing handed out."""

    def __init__(self, real: object, counts: list[int], path: object) -> None:
        self._it = real(path)  # type: ignore[operator]
        self._counts = counts
        counts.append(0)

    def __enter__(self) -> _CountingScan:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._it.close()

    def __iter__(self) -> _CountingScan:
        return self

    def __next__(self) -> os.DirEntry[str]:
        entry: os.DirEntry[str] = next(self._it)
        self._counts[-1] += 1
        return entry

    def close(self) -> None:
        self._it.close()


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Entries handed out per ``os.scandir`` listing; a full listing through ``os.listdir`` (``Path.iterdir``)
    fails the test."""
    all_formats()  # the registry lists its package (os.listdir) once, before the test
    counts: list[int] = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": _CountingScan(real, counts, path))

    def refuse(*_args: object) -> list[str]:
        raise AssertionError("a directory was listed in full (os.listdir)")
    monkeypatch.setattr(os, "listdir", refuse)
    return counts


def _crowd(directory: Path, count: int, suffix: str = "") -> None:
    for index in range(count):
        (directory / f"f{index:06d}{suffix}").touch()


@pytest.mark.parametrize(("format_name", "crowd_suffix", "own_sibling"),
                         [("android-key", ".pem", ".challenge"), ("primus", ".csr", ".csr"),
                          ("luna-pkc", ".csr", ".csr"), ("fortanix", ".csr", None),
                          ("marvell-google", ".pem", ".certs.pem"), ("yubico-piv", "", None),
                          ("apple-acme", ".json", None)])
def test_a_crowded_directory_is_listed_boundedly_and_refused(tmp_path: Path, listings: list[int], deadline: None,
                                                             format_name: str, crowd_suffix: str,
                                                             own_sibling: str | None) -> None:
    """As the bundle directory, or as the directory beside a file whose siblings are looked for by listing (an
    own-named sibling is found by its name: it is removed here so that the others are looked for; yubico-piv and
    apple-acme read their siblings by name only)."""
    directory, primary, _at = _golden(tmp_path, format_name)
    if own_sibling is not None:
        _sibling(directory, own_sibling).unlink()
    _crowd(directory, 3 * MAX_BUNDLE_ENTRIES, crowd_suffix)
    fmt = get_format(format_name)
    for target in (directory, primary) if format_name not in ("apple-acme", "yubico-piv") else (directory,):
        with pytest.raises(BundleError, match=f"holds more than {MAX_BUNDLE_ENTRIES} entries"):
            fmt.load(target)
    assert not any(each.detect(directory) for each in all_formats())
    assert listings and max(listings) <= MAX_BUNDLE_ENTRIES + 1


def test_detection_and_loading_never_list_more_than_the_bound(tmp_path: Path, listings: list[int]) -> None:
    _crowd(tmp_path, MAX_BUNDLE_ENTRIES + 500)
    assert peek_entries(tmp_path) == []
    with pytest.raises(BundleError, match="put the evidence in a directory of its own"):
        bundle_entries(tmp_path)
    with pytest.raises(BundleError, match=f"holds more than {MAX_BUNDLE_ENTRIES} entries"):
        get_format("webauthn").load(tmp_path)
    assert listings == [MAX_BUNDLE_ENTRIES + 1] * 3


def test_verify_of_a_directory_of_many_files_is_one_line_and_exit_2(tmp_path: Path) -> None:
    directory, _primary, at = _golden(tmp_path, "android-key")
    _crowd(directory, 20 * MAX_BUNDLE_ENTRIES, ".pem")
    roots = tmp_path / "roots"
    roots.mkdir()
    for anchor in directory.glob("trust-anchor-*.pem"):
        anchor.rename(roots / anchor.name)
    _one_line_exit_2(_verify(directory, at, "--format", "android-key", roots=roots), "holds more than")
    assert _verify(directory, at, roots=roots).returncode == 2


# -- finding 3: an optional sibling that is there but unreadable is an error, not an absence -----------------------

_OPTIONAL = [("purebred", ".challenge"), ("purebred", "_target.der"), ("android-key", ".challenge"),
             ("pkix-evidence", ".nonce"), ("csr-attestation", ".nonce"), ("ms-kast", ".ca-exchange.p8"),
             ("parsec-tpm", ".activate-credential.json"), ("marvell-google", ".pub.pem"), ("apple-acme", ".csr"),
             ("primus", ".csr"), ("tpm-acme", ".csr")]
_ABSENT_ACCEPTS = {"purebred", "android-key", "pkix-evidence", "csr-attestation", "ms-kast", "parsec-tpm",
                   "marvell-google"}
"""Formats whose golden still verifies with the sibling truly absent: its check is optional."""


def _make(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling":
        path.symlink_to(path.parent / "nothing-here")
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to(kind)


def _sibling(directory: Path, suffix: str) -> Path:
    return next(p for p in sorted(directory.glob(f"*{suffix}")) if not p.name.startswith("trust-anchor-"))


@pytest.mark.parametrize("kind", ["fifo", "dangling", "directory", "loop", "/dev/zero"])
@pytest.mark.parametrize(("format_name", "suffix"), _OPTIONAL)
def test_an_unreadable_optional_sibling_is_an_error_naming_it(tmp_path: Path, deadline: None, format_name: str,
                                                              suffix: str, kind: str) -> None:
    directory, primary, _at = _golden(tmp_path, format_name)
    sibling = _sibling(directory, suffix)
    sibling.unlink()
    fmt = get_format(format_name)
    assert sibling.name not in fmt.load(primary).files  # truly absent: read as absent
    _make(sibling, kind)
    with pytest.raises(BundleError, match=re.escape(sibling.name)):
        fmt.load(primary)


@pytest.mark.parametrize(("format_name", "suffix"), [case for case in _OPTIONAL if case[0] in _ABSENT_ACCEPTS])
def test_cli_an_unreadable_optional_sibling_turns_accept_into_exit_2(tmp_path: Path, deadline: None,
                                                                     format_name: str, suffix: str) -> None:
    directory, primary, at = _golden(tmp_path, format_name)
    sibling = _sibling(directory, suffix)
    sibling.unlink()
    absent = _verify(primary, at)
    assert absent.returncode == 0 and absent.stdout.splitlines()[-1] == "ACCEPT", absent.stdout + absent.stderr
    for kind in ("fifo", "dangling", "directory"):
        _make(sibling, kind)
        _one_line_exit_2(_verify(primary, at), sibling.name)
        if sibling.is_dir() and not sibling.is_symlink():
            sibling.rmdir()
        else:
            sibling.unlink()


def test_yubihsm2_real_layout_refuses_an_unreadable_certificate_file(tmp_path: Path, deadline: None) -> None:
    directory, primary, _at = _golden(tmp_path, "yubihsm2")
    chain = primary.rename(directory / "chain.pem")
    next(directory.glob("*.csr")).unlink()
    fmt = get_format("yubihsm2")
    assert "csr.pem" not in fmt.load(chain).files
    _make(directory / "csr.pem", "dangling")
    with pytest.raises(BundleError, match=r"csr\.pem"):
        fmt.load(chain)


def test_read_optional_sibling_tells_absent_from_unreadable(tmp_path: Path) -> None:
    budget = ReadBudget()
    assert read_optional_sibling(tmp_path / "absent", budget) is None
    assert read_optional_sibling(tmp_path / ("x" * 300), budget) is None  # no file can have that name
    (tmp_path / "ok").write_bytes(b"ok")
    (tmp_path / "link").symlink_to(tmp_path / "ok")
    assert read_optional_sibling(tmp_path / "link", budget) == b"ok"
    for kind, message in (("fifo", "not a regular file"), ("dangling", "symlink to nothing"),
                          ("loop", "Too many levels of symbolic links"), ("directory", "not a regular file"),
                          ("/dev/zero", "not a regular file")):
        _make(tmp_path / kind.strip("/").replace("/", "-"), kind)
        with pytest.raises(BundleError, match=message):
            read_optional_sibling(tmp_path / kind.strip("/").replace("/", "-"), budget)


# -- finding 4: a directory that can be entered but not listed says so ---------------------------------------------


@pytest.mark.parametrize(("format_name", "unlink"), [("primus", ".csr"), ("luna-pkc", ".csr"),
                                                     ("android-acme", ".keyauth"), ("marvell-google", ".certs.pem"),
                                                     ("fortanix", "")])
def test_an_unlistable_directory_is_a_cannot_list_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        format_name: str, unlink: str) -> None:
    """EACCES from listing (a mode 311 directory, as a user other than root) is never taken for an empty one."""
    directory, primary, _at = _golden(tmp_path, format_name)
    if unlink:  # the own-named sibling, found without listing: the listing is needed only to look for another
        _sibling(directory, unlink).unlink()
    real = os.scandir

    def unlistable(path: object = ".") -> object:
        if Path(os.fsdecode(path)) == directory:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]
    monkeypatch.setattr(os, "scandir", unlistable)
    with pytest.raises(BundleError, match=re.escape(f"cannot list {directory}: Permission denied")):
        get_format(format_name).load(primary)


def _unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no user whom a mode 311 directory refuses a listing")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_cli_a_mode_311_directory_is_one_line_and_exit_2() -> None:
    prefix = _unprivileged()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:  # reachable by the unprivileged user, unlike tmp_path
        base = Path(tmp)
        base.chmod(0o755)
        directory, primary, at = _golden(base, "luna-pkc")
        _sibling(directory, ".csr").unlink()  # so that a CSR is looked for by listing
        roots = base / "roots"
        roots.mkdir()
        for anchor in directory.glob("trust-anchor-*.pem"):
            anchor.rename(roots / anchor.name)
        for path in [roots, *roots.iterdir(), *directory.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        directory.chmod(0o311)
        try:
            probe = subprocess.run([*prefix, sys.executable, "-c", "import hsmsim"], capture_output=True, timeout=60,
                                   check=False)
            if probe.returncode != 0:
                pytest.skip("the unprivileged user cannot import hsmsim from this checkout")
            command = [sys.executable, "-m", "hsmsim", "verify", "--format", "luna-pkc", "--at", at, *_roots(roots)]
            result = subprocess.run([*prefix, *command, str(primary)], capture_output=True, text=True, timeout=120,
                                    check=False)
            _one_line_exit_2(result, f"cannot list {directory}: Permission denied")
            assert Reason.MISSING_INPUT.value not in result.stdout
        finally:
            directory.chmod(0o755)


# -- finding 5: a directory is read through the record its format's layout finds -----------------------------------

LAYOUT = BundleLayout(("*_record.bin", "*.bin"), lambda path: path.read_bytes().startswith(b"RECORD"), ("shared.bin",))
"""Records ``<stem>_record.bin`` (preferred) or ``<stem>.bin``, known by content as ``RECORD...``."""


def test_a_record_is_found_by_content_then_by_name(tmp_path: Path) -> None:
    (tmp_path / "shared.bin").write_bytes(b"RECORD, but a companion")
    assert LAYOUT.record_in(tmp_path) is None
    (tmp_path / "a_record.bin").write_bytes(b"damaged")
    assert LAYOUT.record_in(tmp_path) == tmp_path / "a_record.bin"
    (tmp_path / "real-sample.dat").write_bytes(b"RECORD under another name")
    assert LAYOUT.record_in(tmp_path) == tmp_path / "real-sample.dat"
    assert LAYOUT.record_in(tmp_path, ignore=[tmp_path / "real-sample.dat"]) == tmp_path / "a_record.bin"
    (tmp_path / "b_record.bin").write_bytes(b"damaged too")
    with pytest.raises(BundleError, match=r"holds 2 evidence records \(a_record.bin, b_record.bin\); name "):
        LAYOUT.record_in(tmp_path, ignore=[tmp_path / "real-sample.dat"])


def test_of_several_records_the_first_pattern_naming_one_wins(tmp_path: Path) -> None:
    (tmp_path / "k_record.bin").write_bytes(b"RECORD")
    (tmp_path / "k.bin").write_bytes(b"RECORD, the same unpacked")
    assert LAYOUT.record_in(tmp_path) == tmp_path / "k_record.bin"
    (tmp_path / "j_record.bin").write_bytes(b"RECORD")
    with pytest.raises(BundleError, match="holds 3 evidence records"):
        LAYOUT.record_in(tmp_path)


def test_a_sibling_named_for_another_record_is_not_a_candidate(tmp_path: Path) -> None:
    for name in ("k1_record.bin", "k10_record.bin", "k10.csr", "k100.csr", "sample.csr"):
        (tmp_path / name).write_bytes(b"x")
    candidates = [tmp_path / name for name in ("k10.csr", "k100.csr", "sample.csr")]
    assert LAYOUT.unowned(tmp_path / "k1_record.bin", candidates, ".csr") == [tmp_path / "k100.csr",
                                                                                tmp_path / "sample.csr"]
    assert LAYOUT.stem("k1_record.bin") == "k1" and LAYOUT.stem("k1.bin") == "k1" and LAYOUT.stem("k1.csr") is None


def test_every_format_declares_a_layout_whose_patterns_name_its_vectors_records() -> None:
    """The layout's patterns are the names the generator writes: every corpus vector's record matches one."""
    corpus = repo_corpus()
    for fmt in all_formats():
        assert isinstance(fmt.layout, BundleLayout)
        records = {vector.inputs.primary for vector in corpus.select(formats=[fmt.name])}
        assert all(fmt.layout.stem(os.path.basename(record)) is not None for record in records), (fmt.name, records)
    assert get_format("android-key").layout.companions == ("attestation_roots.pem",)
