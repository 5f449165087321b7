"""Evidence as a user receives it (native files), and the trust anchors a verifier is given."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import get_args

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
"""Entries (files, directories, anything) listed in a bundle directory, or in all below it."""
MAX_BUNDLE_DEPTH = 16
"""Directory levels walked below a bundle directory."""

_PRIVATE_KEY_TYPES: tuple[type, ...] = get_args(PrivateKeyTypes)


def _type_name(value: object) -> str:
    return type(value).__name__


@dataclass(frozen=True)
class Evidence:
    """The native files of one attestation, keyed by relative path, exactly as a user gets them.

    ``primary`` names the file a user would hand to a verifier first (e.g. the zip).

    Built with checked types: ``format`` and ``primary`` are ``str`` and ``files`` a mapping of ``str`` to
    ``bytes``; a ``bytearray`` or ``memoryview`` value is copied into ``bytes`` (``files`` is then a new dict),
    and anything else raises :class:`TypeError` naming the field, so misuse never reaches a verifier.
    """

    format: str
    files: Mapping[str, bytes]
    primary: str

    def __post_init__(self) -> None:
        if not isinstance(self.format, str):
            raise TypeError(f"Evidence format must be a str, not {_type_name(self.format)}")
        if not isinstance(self.primary, str):
            raise TypeError(f"Evidence primary must be a str, not {_type_name(self.primary)}")
        if not isinstance(self.files, Mapping):
            raise TypeError(f"Evidence files must be a mapping of str to bytes, not {_type_name(self.files)}")
        converted: dict[str, bytes] | None = None
        for name, data in self.files.items():
            if not isinstance(name, str):
                raise TypeError(f"Evidence file names must be str, not {_type_name(name)}")
            if type(data) is not bytes:
                if not isinstance(data, bytes | bytearray | memoryview):
                    raise TypeError(f"Evidence file {name!r} must be bytes, not {_type_name(data)}")
                converted = converted if converted is not None else dict(self.files)
                converted[name] = bytes(data)
        if converted is not None:
            object.__setattr__(self, "files", converted)

    def primary_record(self, limit: int) -> bytes:
        """The primary file's bytes; Rejected MISSING_INPUT when it is absent, LIMIT_EXCEEDED past ``limit``."""
        data = self.files.get(self.primary)
        if data is None:
            raise Rejected(Reason.MISSING_INPUT, f"{self.primary} is not in the evidence")
        if len(data) > limit:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"record is {len(data)} bytes (limit {limit})")
        return data

    def write(self, directory: str | os.PathLike[str]) -> list[Path]:
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
        return replace_files(Path(directory), self.files)


@dataclass(frozen=True)
class TrustAnchors:
    """The roots a verifier trusts, keyed by role (``root`` for single-root formats), and the verifier's own
    private keys by role (a CA's exchange key that opens what clients encrypt to it, e.g. ms-kast's AIK info).

    Built with checked types: each field is a mapping of ``str`` roles to ``x509.Certificate``s (``roots``) or
    private keys (``keys``), given as a tuple or any other iterable (a list is made a tuple, in a new dict);
    anything else raises :class:`TypeError` naming the field and role."""

    roots: Mapping[str, tuple[x509.Certificate, ...]] = field(default_factory=dict)
    keys: Mapping[str, tuple[PrivateKeyTypes, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roots", _checked_roles("roots", self.roots, (x509.Certificate,), "certificates"))
        object.__setattr__(self, "keys", _checked_roles("keys", self.keys, _PRIVATE_KEY_TYPES, "private keys"))

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


def _checked_roles(field_name: str, given: object, kinds: tuple[type, ...],
                   kind_name: str) -> dict[str, tuple[object, ...]]:
    """``given`` as a new dict of each role's items as a tuple (cheap: the items are not copied); raises
    TypeError when ``given`` is not a mapping of str roles to iterables of ``kinds``."""
    if not isinstance(given, Mapping):
        raise TypeError(f"TrustAnchors {field_name} must be a mapping of role to {kind_name}, not {_type_name(given)}")
    checked: dict[str, tuple[object, ...]] = {}
    for role, items in given.items():
        if not isinstance(role, str):
            raise TypeError(f"TrustAnchors {field_name} roles must be str, not {_type_name(role)}")
        if isinstance(items, str | bytes | bytearray | memoryview) or not isinstance(items, Iterable):
            raise TypeError(f"TrustAnchors {field_name}[{role!r}] must be a tuple of {kind_name}, "
                            f"not {_type_name(items)}")
        as_tuple = tuple(items)
        for item in as_tuple:
            if not isinstance(item, kinds):
                raise TypeError(f"TrustAnchors {field_name}[{role!r}] must hold {kind_name} only, "
                                f"not {_type_name(item)}")
        checked[role] = as_tuple
    return checked


def _scan(directory: Path, limit: int) -> list[os.DirEntry[str]]:
    """At most ``limit + 1`` entries of ``directory``, in directory order, listed with ``os.scandir`` (which, unlike
    ``Path.iterdir``, stops reading the directory when asked to); raises BundleError when it cannot be listed."""
    try:
        with os.scandir(directory) as scan:
            return list(islice(scan, limit + 1))
    except OSError as exc:
        raise BundleError(f"cannot list {escaped(str(directory))}: {exc.strerror or exc}") from exc


def bundle_entries(directory: Path) -> list[Path]:
    """The entries of ``directory`` (not below it), sorted: of a bundle directory, or of the directory beside a
    file whose siblings a format looks for. Never lists more than ``MAX_BUNDLE_ENTRIES + 1`` entries; raises
    :class:`BundleError` (one line) when the directory holds more than ``MAX_BUNDLE_ENTRIES`` or cannot be listed
    (a directory that can be entered but not read is never taken for an empty one)."""
    entries = _scan(directory, MAX_BUNDLE_ENTRIES)
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise BundleError(f"{escaped(str(directory))} holds more than {MAX_BUNDLE_ENTRIES} entries; "
                          "put the evidence in a directory of its own")
    return sorted(directory / entry.name for entry in entries)


def peek_entries(directory: Path) -> list[Path]:
    """:func:`bundle_entries` for format detection, which must stay cheap in a directory of a million files and
    never raise: empty when the directory cannot be listed or holds more than ``MAX_BUNDLE_ENTRIES`` entries
    (no bundle; ``load`` says why)."""
    try:
        return bundle_entries(directory)
    except BundleError:
        return []


def files_below(directory: Path, max_entries: int = MAX_BUNDLE_ENTRIES,
                max_depth: int = MAX_BUNDLE_DEPTH) -> list[str]:
    """The ``/``-separated paths, relative to ``directory``, of the regular files below it, sorted as paths.
    Walked with ``os.scandir`` and without recursion, so bounded in time, memory and stack: raises
    :class:`BundleError` (one line) past ``max_entries`` entries of any kind at any depth, when a directory nests
    deeper than ``max_depth`` levels below ``directory``, when a directory below cannot be listed, and for anything
    that is neither a regular file nor a directory (a symlink, never followed, a FIFO, device or socket): left out,
    a challenge or nonce under such a name would be taken for an absent one and its check skipped."""
    files: list[tuple[str, ...]] = []
    seen = 0
    pending: list[tuple[Path, tuple[str, ...]]] = [(directory, ())]
    while pending:
        folder, parts = pending.pop()
        entries = _scan(folder, max_entries - seen)
        seen += len(entries)
        if seen > max_entries:
            raise BundleError(f"{escaped(str(directory))} holds more than {max_entries} entries")
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=False)
            except OSError:  # gone since it was listed
                continue
            if is_dir:
                if len(parts) >= max_depth:
                    raise BundleError(f"{escaped(str(directory))} nests deeper than {max_depth} levels")
                pending.append((Path(entry.path), (*parts, entry.name)))
            elif is_file:
                files.append((*parts, entry.name))
            else:
                raise BundleError(f"{escaped(entry.path)} is not a regular file (a symlink, FIFO, device or socket): "
                                  "a bundle directory holds regular files and directories only")
    return ["/".join(parts) for parts in sorted(files)]


def read_optional_sibling(path: Path, budget: ReadBudget, limit: int = MAX_SIBLING_BYTES) -> bytes | None:
    """The content of the file a format reads beside the evidence when it is there (a challenge, a nonce, a CSR,
    a key), read as :func:`read_regular_file` reads it; None only when nothing at all is under that name.
    Anything else there (a dangling or looping symlink, a directory, FIFO, device or socket, a file that cannot
    be read or is too large) raises :class:`BundleError` naming it: a binding file that cannot be read is never
    taken for an absent one, which would skip its check."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # the evidence's own name leaves no room for the suffix: none can exist
            return None
        raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror or exc}") from exc
    if not os.path.lexists(os.path.realpath(path)):  # else "No such file or directory" of a name ls lists
        raise BundleError(f"{escaped(str(path))} is a symlink to nothing")
    return read_regular_file(path, limit, budget)


def _claimed_files(entries: list[Path], claims: Callable[[Path], bool]) -> list[Path]:
    found = []
    for entry in entries:
        try:
            regular = stat.S_ISREG(entry.lstat().st_mode)
        except OSError:
            continue
        if regular and claims(entry):
            found.append(entry)
    return found


def claimed_file(directory: Path, claims: Callable[[Path], bool]) -> Path | None:
    """The one regular file (not a symlink) among :func:`peek_entries` of ``directory`` that ``claims``
    accepts; None when none or several do, or the directory cannot be listed or holds too many entries.
    ``claims`` must not raise."""
    found = _claimed_files(peek_entries(directory), claims)
    return found[0] if len(found) == 1 else None


def primary_file(path: Path, claims: Callable[[Path], bool]) -> Path:
    """``path`` when it is not a directory, else the one file in it that ``claims`` accepts (as
    :func:`claimed_file`): how a format whose evidence is one record file with siblings reads the directory
    ``hsmsim attest`` writes. Raises :class:`BundleError` when the directory holds none or several, holds more
    than ``MAX_BUNDLE_ENTRIES`` entries or cannot be listed."""
    if not path.is_dir():
        return path
    found = _claimed_files(bundle_entries(path), claims)
    if len(found) != 1:
        named = ", ".join(escaped(p.name) for p in found[:4]) + (", ..." if len(found) > 4 else "")
        raise BundleError(f"{escaped(str(path))} holds {len(found)} evidence records{f' ({named})' if found else ''}; "
                          "name the one to verify")
    return found[0]


def read_bundle_dir(directory: Path, budget: ReadBudget | None = None) -> dict[str, bytes]:
    """Every regular file below ``directory`` (:func:`files_below`), keyed by relative path, read against
    ``budget`` (default: a fresh one). Raises :class:`BundleError` for a symlink, device, FIFO or socket below
    it, past ``MAX_BUNDLE_ENTRIES`` entries, ``MAX_BUNDLE_DEPTH`` levels, ``MAX_BUNDLE_FILES`` files (before any
    is read), ``MAX_BUNDLE_FILE_BYTES`` in one file or the budget."""
    budget = budget if budget is not None else ReadBudget()
    names = files_below(directory)
    if len(names) > MAX_BUNDLE_FILES:
        raise BundleError(f"{escaped(str(directory))} holds more than {MAX_BUNDLE_FILES} files")
    return {rel: read_regular_file(directory / rel, MAX_BUNDLE_FILE_BYTES, budget) for rel in names}


def safe_file_stem(label: str) -> str:
    """The key label as a file-name stem: characters outside ``[A-Za-z0-9._-]`` become ``_``, leading dots go,
    and an empty result is ``key``; the stem never names a path outside the bundle directory."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".") or "key"
