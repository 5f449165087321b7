"""The corpus as the harness sees it: every ``<format>_verify.json`` under a vectors root.

The harness reads only the JSON (the contract, :class:`hsmsim.model.corpus_schema.VectorFile`), never
a format module: a new format's vector file is picked up by the glob. Native files are materialised
from the base64 in the JSON into a fresh directory per case, so a verifier that writes next to its
inputs cannot disturb the committed corpus or another case.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import hashlib
import itertools
import os
import shutil
import tempfile
from binascii import a2b_base64
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from cryptography import x509
from pydantic import Field, ValidationError

from hsmsim._atomic import relative_parts
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.harness.text import one_line
from hsmsim.model.corpus_schema import InputsRecord, NoteRecord, TrustRecord, VectorFile, VectorRecord
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import Expected
from hsmsim.safeio import load_json_object, read_local_file
from hsmsim.verdict import Profile, escaped

VECTOR_GLOB = "*_verify.json"

VECTOR_FILE_LIMIT = 16 * 1024 * 1024
"""The largest vector file read; the largest committed one is 1.6 MB."""
MANIFEST_LIMIT = 16 * 1024 * 1024


class CorpusLoadError(HsmsimError):
    """The vectors root is missing, or a vector file does not have the expected shape."""


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (``--shard K/N``): the vectors whose id hashes to ``index`` modulo ``count``.

    The assignment depends on the vector id alone (SHA-256), never on its position, so adding, removing or
    filtering vectors does not move the others between shards, and every machine computes the same split.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K must be in 0..N-1 and N at least 1")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` (0-based K) as a :class:`Shard`; raises ValueError with a one-line message."""
        index, slash, count = text.partition("/")
        try:
            numbers = (int(index), int(count)) if slash else None
        except ValueError:
            numbers = None
        if numbers is None:
            raise ValueError(f"{text!r} is not K/N (e.g. 0/4 for the first of four shards)")
        return cls(*numbers)

    def holds(self, vector_id: str) -> bool:
        """True when ``vector_id`` belongs to this shard."""
        digest = hashlib.sha256(vector_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class Vector(VectorRecord):
    """One corpus vector as the harness runs it: the vector's record, and the file that holds it."""

    format: str = Field(exclude=True)
    """The format of the vector file."""
    source: str = Field(exclude=True)
    """The vector file's name (e.g. ``primus_verify.json``)."""

    @classmethod
    def of(cls, record: VectorRecord, format_name: str, source: str) -> Vector:
        """``record``, read from ``source``, a vector file of ``format_name`` (the record is validated already)."""
        return cls.model_construct(**dict(record), format=format_name, source=source)

    @property
    def category(self) -> str:
        """The id's middle part (``attr`` in ``primus::attr::extractable-true``), empty for a two-part id."""
        parts = self.id.split("::")
        return parts[1] if len(parts) > 2 else ""

    @property
    def golden(self) -> bool:
        """True for an unmutated vector (flag ``Golden``)."""
        return "Golden" in self.flags

    def expectation(self, profile: str) -> tuple[Expected, str]:
        """(expected result, expected reason) under ``profile``; the vector's overall ones for an unknown profile."""
        try:
            record = self.profiles[Profile(profile)]
        except ValueError:
            return self.result, self.expected_reason.value
        return record.result, record.reason.value

    @property
    def evidence(self) -> Evidence:
        """The native files, decoded."""
        return self.inputs.evidence(self.format)

    @property
    def anchors_pem(self) -> tuple[str, ...]:
        """The TEST-ONLY trust anchors, PEM."""
        return self.trust.anchors

    @property
    def at(self) -> datetime:
        """The validation time."""
        return self.trust.validation_time


@dataclass(frozen=True)
class Submission:
    """Evidence put to a verifier with no corpus vector behind it: a fuzz case, or a request the shim received."""

    id: str
    format: str
    evidence: Evidence
    anchors_pem: tuple[str, ...]
    at: datetime
    features: tuple[str, ...] = ()


Subject = Vector | Submission
"""What a verifier is run on: a corpus vector, or a :class:`Submission` where there is none."""


@dataclass(frozen=True)
class Corpus:
    """Every vector under a root, in file then file-order; ids are unique across files."""

    root: Path
    suite_version: str
    vectors: tuple[Vector, ...]
    notes: dict[str, NoteRecord]
    """Flag name -> its definition, merged over every file (a flag several formats define, such as ``Resigned``,
    keeps the last file's wording: :meth:`note` gives a vector's own)."""
    format_notes: dict[str, dict[str, NoteRecord]] = field(default_factory=dict)
    """Format -> its vector file's flag definitions."""
    _by_id: dict[str, Vector] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {v.id: v for v in self.vectors})

    def get(self, vector_id: str) -> Vector:
        """The vector with ``vector_id``; raises KeyError."""
        return self._by_id[vector_id]

    def __contains__(self, vector_id: object) -> bool:
        return vector_id in self._by_id

    def note(self, vector: Vector, flag: str) -> NoteRecord | None:
        """The definition of ``flag`` as the vector's own format file gives it (else the merged one)."""
        return self.format_notes.get(vector.format, {}).get(flag) or self.notes.get(flag)

    def formats(self) -> list[str]:
        """Formats present in the corpus, in first-seen order."""
        return list(dict.fromkeys(v.format for v in self.vectors))

    def select(self, *, formats: Iterable[str] = (), patterns: Iterable[str] = (),
               shard: Shard | None = None) -> list[Vector]:
        """Vectors of the given formats (all when empty) whose id matches any glob (all when empty), and that
        fall into ``shard`` (all when None). Corpus order is kept."""
        wanted_formats = set(formats)
        globs = list(patterns)
        return [v for v in self.vectors
                if (not wanted_formats or v.format in wanted_formats)
                and (not globs or any(fnmatch.fnmatchcase(v.id, g) or g == v.id for g in globs))
                and (shard is None or shard.holds(v.id))]

    def sanity_vector(self, format_name: str, profile: str) -> Vector | None:
        """The golden vector of ``format_name`` that ``profile`` must accept (BetterTLS's sanity case).

        Prefers a vector flagged ``Golden``; otherwise any vector expected valid; None if there is none.
        """
        candidates = [v for v in self.vectors if v.format == format_name
                      and v.expectation(profile)[0] is Expected.VALID]
        goldens = [v for v in candidates if v.golden]
        return next(iter(goldens or candidates), None)


PACKAGED_CORPUS_FILES = ("*_verify.json", "manifest.json", "ids.json", "schema/*.json", "promoted/*.json")
"""The part of ``vectors/`` a wheel carries in ``hsmsim/_corpus/`` (``setup.py`` copies these): what a verifier run
needs (the vector files, whose base64 inputs hold every native file) and what ``vectors check`` regenerates it
from (the manifest's seed, the id registry, the promoted fuzz findings)."""


def packaged_vectors_root() -> Path | None:
    """The corpus that comes with hsmsim: ``hsmsim/_corpus/`` of an installed wheel (copied from ``vectors/`` by
    the build), else the ``vectors/`` of the checkout hsmsim runs from (source tree, editable install)."""
    package = Path(__file__).resolve().parents[1]
    candidates = (package / "_corpus", package.parent / "vectors")
    return next((path for path in candidates if any(path.glob(VECTOR_GLOB))), None)


def default_vectors_root() -> Path:
    """``$HSMSIM_VECTORS``, else ``./vectors`` if it exists, else hsmsim's own corpus, else ``./vectors``.

    An empty ``$HSMSIM_VECTORS`` raises :class:`CorpusLoadError` (one line): an empty path is misuse, never the
    current directory."""
    if "HSMSIM_VECTORS" in os.environ:
        value = os.environ["HSMSIM_VECTORS"]
        if value == "":
            raise CorpusLoadError("HSMSIM_VECTORS is set but empty: unset it or name the corpus directory")
        return Path(value)
    local = Path("vectors")
    return local if local.is_dir() else packaged_vectors_root() or local


def read_vector_file(path: Path) -> VectorFile:
    """The vector file ``path``, read bounded (a regular file of at most :data:`VECTOR_FILE_LIMIT` bytes),
    validated, and every native file's base64 checked; raises :class:`CorpusLoadError` on one line."""
    try:
        document = VectorFile.model_validate_json(read_local_file(path, VECTOR_FILE_LIMIT))
    except BundleError as exc:
        raise CorpusLoadError(f"not a readable vector file: {exc}") from None
    except ValidationError as exc:
        raise CorpusLoadError(f"{escaped(str(path))} is not a readable vector file: "
                              f"{validation_summary(exc)}") from None
    for record in document.tests:
        check_inputs(f"{escaped(str(path))}: vector {record.id!r}", record.inputs, record.trust)
    return document


def check_inputs(where: str, inputs: InputsRecord, trust: TrustRecord) -> None:
    """One vector's native files and trust anchors are what a vector file may hold: paths that can be written
    beside each other (:func:`check_paths`), valid base64 matching each file's sha256, and PEM certificates as
    anchors; raises :class:`CorpusLoadError` on one line starting with ``where``."""
    check_paths(where, [entry.path for entry in inputs.files])
    for entry in inputs.files:
        try:
            data = a2b_base64(entry.base64)  # as NativeFileRecord.data() decodes it
        except ValueError:
            raise CorpusLoadError(f"{where} file {entry.path!r} is not valid base64") from None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise CorpusLoadError(f"{where} file {entry.path!r} does not match its sha256")
    for index, anchor in enumerate(trust.anchors, start=1):
        try:
            anchor_certificate(anchor)
        except ValueError:
            raise CorpusLoadError(f"{where}: trust anchor {index} is not a PEM certificate") from None


PATH_PART_LIMIT = 255
PATH_LIMIT = 1024
"""The longest native file path (and path component, in bytes) a vector may name: every case's files are
written to disk for oneshot and persistent verifiers, and Linux refuses longer names."""


def check_paths(where: str, paths: list[str]) -> None:
    """Every path of ``paths`` (a vector's native files, or all a vector's extraction writes) can be written beside
    the others: a plain relative path of writable length, named once, and no file's path is another's directory.
    Raises :class:`CorpusLoadError` on one line starting with ``where``."""
    seen: set[tuple[str, ...]] = set()
    for rel in paths:
        try:
            parts = tuple(relative_parts(rel))
        except ValueError:
            raise CorpusLoadError(f"{where} file path {one_line(rel, 80)!r} is not a plain relative path") from None
        if len(rel.encode()) > PATH_LIMIT or any(len(part.encode()) > PATH_PART_LIMIT for part in parts):
            raise CorpusLoadError(f"{where} file path {one_line(rel, 80)!r} is longer than a file system allows "
                                  f"({PATH_PART_LIMIT} bytes a name, {PATH_LIMIT} in all)")
        if parts in seen:
            raise CorpusLoadError(f"{where} names file {rel!r} twice")
        seen.add(parts)
    for parts in seen:
        clash = next((parts[:n] for n in range(1, len(parts)) if parts[:n] in seen), None)
        if clash is not None:
            raise CorpusLoadError(f"{where} names {'/'.join(clash)!r} both as a file and as the directory of "
                                  f"{'/'.join(parts)!r}")


@functools.lru_cache(maxsize=256)
def anchor_certificate(pem: str) -> x509.Certificate:
    """A trust anchor, parsed once per PEM text (the same few anchors come with every vector); raises ValueError
    for a text that is not one PEM certificate."""
    return x509.load_pem_x509_certificate(pem.encode())


def version_key(version: str) -> tuple[int, ...]:
    """A suite version's parts as numbers, to compare versions by; raises :class:`CorpusLoadError` for a version
    that is not dotted numbers of at most 9 digits each."""
    parts = version.split(".")
    if not all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts):
        raise CorpusLoadError(f"suite version {one_line(version, 40)!r} is not dotted numbers of at most 9 digits")
    return tuple(int(part) for part in parts)


def read_manifest(path: Path) -> dict[str, object]:
    """The corpus manifest ``path`` (a JSON object, a regular file of at most :data:`MANIFEST_LIMIT` bytes);
    raises :class:`CorpusLoadError` on one line."""
    try:
        return load_json_object(path, MANIFEST_LIMIT)
    except BundleError as exc:
        raise CorpusLoadError(f"not a readable corpus manifest: {exc}") from None


def validation_summary(exc: ValidationError) -> str:
    """A pydantic validation error on one line: how many errors, and the first with where it is."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the document"
    count = exc.error_count()
    more = f" (and {count - 1} more error{'s' if count > 2 else ''})" if count > 1 else ""
    return one_line(f"{where}: {first['msg']}{more}", 300)


CORPUS_FILES_LIMIT = 256
CORPUS_BYTES_LIMIT = 128 * 1024 * 1024
CORPUS_VECTORS_LIMIT = 20_000
"""What one corpus may hold in all (hsmsim's own: 20 vector files, 16 MiB, 1,151 vectors), so that reading one
stays within a few hundred MB of memory whatever it holds."""
_ROOT_ENTRIES_LIMIT = 65536


def _vector_files(root: Path) -> list[Path]:
    """The ``*_verify.json`` entries of ``root``, sorted, listed without reading a huge directory to its end."""
    try:
        with os.scandir(root) as scan:
            entries = list(itertools.islice(scan, _ROOT_ENTRIES_LIMIT + 1))
    except OSError as exc:
        raise CorpusLoadError(f"cannot list the corpus {escaped(str(root))}: {exc.strerror or exc}") from None
    if len(entries) > _ROOT_ENTRIES_LIMIT:
        raise CorpusLoadError(f"{escaped(str(root))} holds more than {_ROOT_ENTRIES_LIMIT} entries: not a corpus")
    paths = sorted(root / entry.name for entry in entries if fnmatch.fnmatchcase(entry.name, VECTOR_GLOB))
    if len(paths) > CORPUS_FILES_LIMIT:
        raise CorpusLoadError(f"{escaped(str(root))} holds {len(paths)} vector files (at most {CORPUS_FILES_LIMIT})")
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):  # read_vector_file says what is wrong with it
            total += path.stat().st_size
    if total > CORPUS_BYTES_LIMIT:
        raise CorpusLoadError(f"the vector files in {escaped(str(root))} hold {total} bytes "
                              f"(at most {CORPUS_BYTES_LIMIT} in all)")
    return paths


def _entry_exists(path: Path) -> bool:
    """Whether ``path`` names anything (a dangling symlink too, which the reader then refuses); raises
    :class:`CorpusLoadError` when it cannot be looked at (a name too long, no permission, ...)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CorpusLoadError(f"cannot read {escaped(str(path))}: {exc.strerror or exc}") from None
    return True


def load_corpus(root: Path) -> Corpus:
    """Read and validate every ``*_verify.json`` under ``root``, within :data:`CORPUS_FILES_LIMIT`,
    :data:`CORPUS_BYTES_LIMIT` and :data:`CORPUS_VECTORS_LIMIT`; raises :class:`CorpusLoadError`."""
    paths = _vector_files(root)
    if not paths:
        raise CorpusLoadError(f"no {VECTOR_GLOB} files in {escaped(str(root))} (point --vectors, or the pytest "
                              "plugin's --hsmsim-vectors, at the corpus directory)")
    vectors: list[Vector] = []
    notes: dict[str, NoteRecord] = {}
    format_notes: dict[str, dict[str, NoteRecord]] = {}
    versions: set[str] = set()
    seen: dict[str, str] = {}
    for path in paths:
        document = read_vector_file(path)
        versions.add(document.suite_version)
        notes.update(document.notes)
        format_notes.setdefault(document.format, {}).update(document.notes)
        if len(vectors) + len(document.tests) > CORPUS_VECTORS_LIMIT:
            raise CorpusLoadError(f"the corpus at {escaped(str(root))} holds more than {CORPUS_VECTORS_LIMIT} vectors")
        for record in document.tests:
            if record.id in seen:
                raise CorpusLoadError(f"vector id {record.id!r} appears in {escaped(seen[record.id])} and "
                                      f"{escaped(path.name)}")
            seen[record.id] = path.name
            vectors.append(Vector.of(record, document.format, path.name))
    manifest = root / "manifest.json"
    suite_version = max(versions, key=version_key)
    if _entry_exists(manifest):
        suite_version = str(read_manifest(manifest).get("suiteVersion", suite_version))
    return Corpus(root=root, suite_version=suite_version, vectors=tuple(vectors), notes=notes,
                  format_notes=format_notes)


@dataclass(frozen=True)
class Inputs:
    """A vector's native files on disk, as oneshot placeholders and persistent requests name them."""

    id: str
    format: str
    profile: str
    primary: Path
    dir: Path
    """A directory holding every native file (and nothing else)."""
    files: dict[str, Path]
    """relative path -> absolute path."""
    anchor: Path
    """One PEM file holding every trust anchor."""
    anchors_dir: Path
    """A directory holding ``anchor-N.pem``, one anchor per file."""
    time: str
    """Validation time, ISO 8601 UTC (``2026-01-01T00:00:00Z``)."""
    unix_time: int

    def find_file(self, key: str) -> Path:
        """The file whose relative path or name equals ``key``, else the first (sorted) ending with it.

        When nothing matches, a path inside :attr:`dir` that does not exist, so the verifier
        sees the input as missing (e.g. ``primus::binding::csr-missing``).
        """
        for rel, path in self.files.items():
            if rel == key or PurePosixPath(rel).name == key:
                return path
        ends = sorted(rel for rel in self.files if rel.endswith(key))
        if ends:
            return self.files[ends[0]]
        name = key.replace("/", "_")  # one component: whatever the key, the path names nothing outside dir
        return self.dir / (f"missing{name}" if name.startswith(".") else f"missing-{name}")

    def to_json(self) -> dict[str, object]:
        """The ``inputs`` object of a persistent ``verify`` request."""
        return {"primary": str(self.primary), "dir": str(self.dir),
                "files": {rel: str(path) for rel, path in self.files.items()},
                "anchor": str(self.anchor), "anchors_dir": str(self.anchors_dir),
                "time": self.time, "unix_time": self.unix_time}


def _safe_relative(rel: str) -> PurePosixPath:
    try:
        return PurePosixPath(*relative_parts(rel))
    except ValueError:
        raise CorpusLoadError(f"vector file path {rel!r} is not a plain relative path") from None


@contextmanager
def materialise(subject: Subject, profile: str, base: Path | None = None) -> Iterator[Inputs]:
    """Write the subject's native files and anchors into a fresh directory; removed on exit."""
    case_dir = Path(tempfile.mkdtemp(prefix="case-", dir=base))
    try:
        evidence_dir = case_dir / "evidence"
        anchors_dir = case_dir / "anchors"
        evidence_dir.mkdir()
        anchors_dir.mkdir()
        evidence = subject.evidence
        files: dict[str, Path] = {}
        for rel, data in evidence.files.items():
            target = evidence_dir / _safe_relative(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files[rel] = target
        pems = [pem if pem.endswith("\n") else pem + "\n" for pem in subject.anchors_pem]
        for index, pem in enumerate(pems, start=1):
            (anchors_dir / f"anchor-{index}.pem").write_text(pem)
        anchor = case_dir / "anchors.pem"
        anchor.write_text("".join(pems))
        at = subject.at
        primary = files.get(evidence.primary, evidence_dir / _safe_relative(evidence.primary))
        yield Inputs(id=subject.id, format=subject.format, profile=profile, primary=primary, dir=evidence_dir,
                     files=files, anchor=anchor, anchors_dir=anchors_dir,
                     time=at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), unix_time=int(at.timestamp()))
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)
