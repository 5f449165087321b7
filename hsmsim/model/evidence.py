"""Evidence as a user receives it (native files), and the trust anchors a verifier is given."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from hsmsim._atomic import relative_parts, replace_files
from hsmsim.errors import BundleError
from hsmsim.safeio import ReadBudget, read_regular_file
from hsmsim.verdict import Reason, Rejected, escaped

MAX_BUNDLE_FILE_BYTES = 16 * 1024 * 1024
"""One evidence file; what one verification reads in all is bounded by :class:`ReadBudget`."""
MAX_SIBLING_BYTES = 1024 * 1024
"""One file read beside the evidence (a CSR, a certificate chain, a public key)."""
MAX_TRUST_ANCHOR_BYTES = 1024 * 1024
"""One trust anchor file (PEM or DER, possibly several certificates)."""
MAX_BUNDLE_FILES = 64
MAX_BUNDLE_ENTRIES = 1024
"""Entries (files, directories, anything) looked at below a bundle directory."""


@dataclass(frozen=True)
class Evidence:
    """The native files of one attestation, keyed by relative path, exactly as a user gets them.

    ``primary`` names the file a user would hand to a verifier first (e.g. the zip).
    """

    format: str
    files: Mapping[str, bytes]
    primary: str

    def primary_record(self, limit: int) -> bytes:
        """The primary file's bytes; Rejected MISSING_INPUT when it is absent, LIMIT_EXCEEDED past ``limit``."""
        data = self.files.get(self.primary)
        if data is None:
            raise Rejected(Reason.MISSING_INPUT, f"{self.primary} is not in the evidence")
        if len(data) > limit:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"record is {len(data)} bytes (limit {limit})")
        return data

    def write(self, directory: Path) -> list[Path]:
        """Write every file under ``directory`` (made when missing, as are the directories on the way); returns the
        written paths in ``files`` order.

        A regular file already at a name is replaced (a script run again writes its new evidence over the old),
        through a new file beside it and a rename, so a reader sees the old file or the new one. Nothing is ever
        written through a symlink or into something other than a regular file: before anything is written, raises
        ValueError when a name would leave ``directory``, and :class:`hsmsim.errors.HsmsimError` (one line) when
        a name holds a symlink, directory, FIFO, device or socket, or a directory on the way below ``directory``
        is a symlink (:func:`hsmsim._atomic.replace_files`)."""
        for rel in self.files:
            relative_parts(rel)
        return replace_files(directory, self.files)


@dataclass(frozen=True)
class TrustAnchors:
    """The roots a verifier trusts, keyed by role (``root`` for single-root formats), and the verifier's own
    private keys by role (a CA's exchange key that opens what clients encrypt to it, e.g. ms-kast's AIK info)."""

    roots: Mapping[str, tuple[x509.Certificate, ...]] = field(default_factory=dict)
    keys: Mapping[str, tuple[PrivateKeyTypes, ...]] = field(default_factory=dict)

    def get(self, role: str = "root") -> list[x509.Certificate]:
        """The anchors of one role (empty when none were given)."""
        return list(self.roots.get(role, ()))

    def private_keys(self, role: str) -> list[PrivateKeyTypes]:
        """The verifier's private keys of one role (empty when none were given)."""
        return list(self.keys.get(role, ()))

    def all(self) -> list[x509.Certificate]:
        """Every anchor of every role, for formats that pick anchors by matching the chain."""
        return [cert for certs in self.roots.values() for cert in certs]

    @classmethod
    def from_pem_files(cls, paths: list[Path], role: str = "root", budget: ReadBudget | None = None) -> TrustAnchors:
        """Load PEM or DER certificates from regular files of at most ``MAX_TRUST_ANCHOR_BYTES``, read
        against ``budget`` (default: a fresh one); raises :class:`BundleError` naming the bad file."""
        budget = budget if budget is not None else ReadBudget()
        certs: list[x509.Certificate] = []
        for path in paths:
            data = read_regular_file(path, MAX_TRUST_ANCHOR_BYTES, budget)
            try:
                certs += (x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                          else [x509.load_der_x509_certificate(data)])
            except ValueError as exc:
                raise BundleError(f"{escaped(str(path))} is not a PEM or DER certificate") from exc
        return cls({role: tuple(certs)})


def bundle_entries(directory: Path) -> list[Path]:
    """The entries of ``directory`` (not below it), sorted, at most ``MAX_BUNDLE_ENTRIES`` of them looked
    at: for format detection, which must stay cheap in a directory of a million files."""
    return sorted(islice(directory.iterdir(), MAX_BUNDLE_ENTRIES))


def _claimed_files(directory: Path, claims: Callable[[Path], bool]) -> list[Path]:
    found = []
    for entry in bundle_entries(directory):
        try:
            regular = stat.S_ISREG(entry.lstat().st_mode)
        except OSError:
            continue
        if regular and claims(entry):
            found.append(entry)
    return found


def claimed_file(directory: Path, claims: Callable[[Path], bool]) -> Path | None:
    """The one regular file (not a symlink) among :func:`bundle_entries` of ``directory`` that ``claims``
    accepts; None when none or several do, or the directory cannot be listed. ``claims`` must not raise."""
    try:
        found = _claimed_files(directory, claims)
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


def primary_file(path: Path, claims: Callable[[Path], bool]) -> Path:
    """``path`` when it is not a directory, else the one file in it that ``claims`` accepts (as
    :func:`claimed_file`): how a format whose evidence is one record file with siblings reads the directory
    ``hsmsim attest`` writes. Raises :class:`BundleError` when the directory holds none or several."""
    if not path.is_dir():
        return path
    try:
        found = _claimed_files(path, claims)
    except OSError as exc:
        raise BundleError(f"cannot list {escaped(str(path))}: {exc.strerror}") from exc
    if len(found) != 1:
        named = ", ".join(escaped(p.name) for p in found[:4]) + (", ..." if len(found) > 4 else "")
        raise BundleError(f"{escaped(str(path))} holds {len(found)} evidence records{f' ({named})' if found else ''}; "
                          "name the one to verify")
    return found[0]


def read_bundle_dir(directory: Path, budget: ReadBudget | None = None) -> dict[str, bytes]:
    """Every regular file below ``directory``, keyed by relative path, read against ``budget`` (default:
    a fresh one); symlinks, devices, FIFOs and sockets are skipped. Raises :class:`BundleError` past
    ``MAX_BUNDLE_ENTRIES`` entries, ``MAX_BUNDLE_FILES`` files, ``MAX_BUNDLE_FILE_BYTES`` in one file
    or the budget."""
    budget = budget if budget is not None else ReadBudget()
    entries = list(islice(directory.rglob("*"), MAX_BUNDLE_ENTRIES + 1))
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise BundleError(f"{escaped(str(directory))} holds more than {MAX_BUNDLE_ENTRIES} entries")
    files: dict[str, bytes] = {}
    for path in sorted(entries):
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                continue
        except OSError:
            continue
        if len(files) >= MAX_BUNDLE_FILES:
            raise BundleError(f"{escaped(str(directory))} holds more than {MAX_BUNDLE_FILES} files")
        files[path.relative_to(directory).as_posix()] = read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)
    return files


def safe_file_stem(label: str) -> str:
    """The key label as a file-name stem: characters outside ``[A-Za-z0-9._-]`` become ``_``, leading dots go,
    and an empty result is ``key``; the stem never names a path outside the bundle directory."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".") or "key"
