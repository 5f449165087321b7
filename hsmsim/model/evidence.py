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
"""Entries (files, directories, anything) listed in a bundle directory, or (:func:`files_below`) in all below one."""
MAX_BUNDLE_DEPTH = 16
"""Directory levels :func:`files_below` walks by default."""

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
            except ValueError as exc:  # cryptography's reason: a strict DER rule broken, which openssl may accept
                raise BundleError(f"{escaped(str(path))} is not a PEM or DER certificate cryptography reads: "
                                  f"{escaped(str(exc))[:200]}") from exc
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
    a file under such a name would be taken for an absent one."""
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


def read_siblings(record: Path, names: Iterable[str], budget: ReadBudget,
                  limit: int = MAX_SIBLING_BYTES) -> dict[str, bytes]:
    """The files of ``names`` beside ``record`` that are there, keyed by name, each read as
    :func:`read_optional_sibling` reads it (so a name holding anything but a readable regular file raises
    :class:`BundleError` naming it)."""
    found = {}
    for name in names:
        data = read_optional_sibling(record.parent / name, budget, limit)
        if data is not None:
            found[name] = data
    return found


def _is_regular(entry: Path) -> bool:
    """True for a regular file, never following a symlink (a listing never leads out of its directory)."""
    try:
        return stat.S_ISREG(entry.lstat().st_mode)
    except OSError:  # gone since it was listed
        return False


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except (OSError, ValueError):
        return None
    return found.st_dev, found.st_ino


def _stem(pattern: str, name: str) -> str | None:
    """What ``*`` stands for when ``name`` matches ``pattern`` (``PREFIX*SUFFIX``, or an exact name whose stem is
    empty), else None."""
    if "*" not in pattern:
        return "" if name == pattern else None
    prefix, suffix = pattern.split("*")
    if len(name) >= len(prefix) + len(suffix) and name.startswith(prefix) and name.endswith(suffix):
        return name[len(prefix):len(name) - len(suffix)]
    return None


def files_beside(record: Path, suffix: str) -> list[Path]:
    """The entries of ``record``'s directory, other than ``record``, whose names end with ``suffix`` and that are not
    directories, sorted: the candidates for a sibling the names do not give (a CSR saved under another name). One
    that is no readable regular file (a FIFO, a dangling link) stays a candidate, so that reading it is an error,
    never an absence that would skip a check. Lists as :func:`bundle_entries` does, so raises :class:`BundleError`
    for a directory that holds too many entries or cannot be listed."""
    return [entry for entry in bundle_entries(record.parent)
            if entry.name.endswith(suffix) and entry.name != record.name and not entry.is_dir()]


@dataclass(frozen=True)
class BundleLayout:
    """How a format names the files of the bundles it writes: what finds its record (the primary file) in a
    directory, so that a directory is read exactly as the record file in it is.

    ``records``: the names the format's generator gives a record, as ``PREFIX*SUFFIX`` patterns whose ``*`` is the
    bundle's stem (``*.webauthn.json``, ``key_attestation_*.json``), or exact names, the preferred one first; they
    also tell whose a sibling is (``k10.csr`` is the bundle ``k10_attestation.zip``'s). ``claims``: recognises a
    record by content (or by a distinctive name) whatever the patterns say, e.g. a real sample's; it must never
    raise.
    ``companions``: the fixed names of the files a bundle carries beside its record (a root copy, a status list),
    never a record even where a pattern matches them (Android's ``attestation_roots.pem`` is a ``*.pem``).
    """

    records: tuple[str, ...]
    claims: Callable[[Path], bool]
    companions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.records or any(pattern.count("*") > 1 for pattern in self.records):
            raise ValueError(f"record patterns must each hold at most one '*': {self.records!r}")

    def stem(self, name: str) -> str | None:
        """The stem of ``name`` under the first record pattern it matches, or None when it matches none."""
        return next((stem for stem in (_stem(pattern, name) for pattern in self.records) if stem is not None), None)

    def _preferred(self, found: list[Path]) -> Path | None:
        """The one of ``found``; of several, the one the first pattern naming any of them names, when it names
        one (a TSB zip before the key description unzipped beside it); None when that leaves several."""
        if len(found) == 1:
            return found[0]
        for pattern in self.records:
            named = [entry for entry in found if _stem(pattern, entry.name) is not None]
            if named:
                return named[0] if len(named) == 1 else None
        return None

    def record_in(self, directory: Path, ignore: Iterable[Path] = ()) -> Path | None:
        """The record of the one bundle in ``directory``: the regular file ``claims`` recognises; when none does,
        the one named by a record pattern, so that a record damaged beyond recognition is still read, and its
        verifier says what is wrong with it. Several of either kind are narrowed by :meth:`_preferred`. Only a
        regular file counts (a subdirectory, link, FIFO or device so named is no record, so a directory holding
        nothing else gives ``MISSING_INPUT``, never an accepted verdict); companions and the files of ``ignore``
        (the trust anchors given with the directory, which may sit in it) are never the record. None when the
        directory holds nothing the format could read as its record. Raises :class:`BundleError` (one line) when
        several remain ("name the one to verify"), and as :func:`bundle_entries` for a directory that holds too
        many entries or cannot be listed."""
        ignored = {found for found in map(_identity, ignore) if found is not None}
        candidates = [entry for entry in bundle_entries(directory) if entry.name not in self.companions
                      and _is_regular(entry) and not (ignored and _identity(entry) in ignored)]
        claimed = [entry for entry in candidates if self.claims(entry)]
        for found in (claimed, [entry for entry in candidates if self.stem(entry.name) is not None]):
            if found:
                chosen = self._preferred(found)
                if chosen is None:
                    named = ", ".join(escaped(p.name) for p in found[:4]) + (", ..." if len(found) > 4 else "")
                    raise BundleError(f"{escaped(str(directory))} holds {len(found)} evidence records ({named}); "
                                      "name the one to verify")
                return chosen
        return None

    def holds_record(self, directory: Path) -> bool:
        """True when a regular file of ``directory`` (not a companion) is one ``claims`` recognises: format detection,
        so never by a pattern alone (a ``*.pem`` is no Android chain), and never raising (False for a directory that
        cannot be listed or holds too many entries: :meth:`record_in` says why)."""
        return any(self.claims(entry) for entry in peek_entries(directory)
                   if entry.name not in self.companions and _is_regular(entry))

    def detect(self, path: Path) -> bool:
        """``claims`` for a file, :meth:`holds_record` for a directory; never raises."""
        try:
            return self.holds_record(path) if path.is_dir() else self.claims(path)
        except OSError:
            return False

    def unowned(self, record: Path, candidates: Iterable[Path], suffix: str) -> list[Path]:
        """The ``candidates`` beside ``record`` that are not named ``<stem><suffix>`` for another record there:
        ``k10.csr`` is the sibling of ``k10-pkc.p7b`` when that file exists, never a candidate of ``k1-pkc.p7b``."""
        def owned(candidate: Path) -> bool:
            if not candidate.name.endswith(suffix):
                return False
            stem = candidate.name[:len(candidate.name) - len(suffix)]
            owners = (pattern.replace("*", stem) for pattern in self.records if "*" in pattern)
            return any(name != record.name and os.path.lexists(record.parent / name) for name in owners)
        return [candidate for candidate in candidates if not owned(candidate)]

    def load(self, path: Path, read: Callable[[Path], Evidence], format_name: str,
             ignore: Iterable[Path] = ()) -> Evidence:
        """``read(path)`` for a file; for a directory ``read`` of its record (:meth:`record_in`, never one of
        ``ignore``), so that a directory and its record file give the same evidence. A directory holding no record
        gives evidence without files, which every verifier rejects ``MISSING_INPUT``. Raises what
        :meth:`record_in` and ``read`` raise."""
        if not path.is_dir():
            return read(path)
        record = self.record_in(path, ignore)
        return read(record) if record is not None else Evidence(format_name, {}, self.records[0])


def safe_file_stem(label: str) -> str:
    """The key label as a file-name stem: characters outside ``[A-Za-z0-9._-]`` become ``_``, leading dots go,
    and an empty result is ``key``; the stem never names a path outside the bundle directory."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".") or "key"
