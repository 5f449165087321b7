"""The corpus as the harness sees it: every ``<format>_verify.json`` under a vectors root.

The harness reads only the JSON (the contract), never a format module: a new format's
vector file is picked up by the glob. Native files are materialised from the base64 in the
JSON into a fresh directory per case, so a verifier that writes next to its inputs cannot
disturb the committed corpus or another case.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from hsmsim.errors import HsmsimError
from hsmsim.harness.model import Expected

VECTOR_GLOB = "*_verify.json"


class CorpusLoadError(HsmsimError):
    """The vectors root is missing, or a vector file does not have the expected shape."""


@dataclass(frozen=True)
class Vector:
    """One vector: its identity, expectations per profile, native files and trust."""

    id: str
    format: str
    category: str
    comment: str
    flags: tuple[str, ...]
    severity: str
    result: str
    expected_reason: str
    profiles: dict[str, tuple[Expected, str]]
    """profile name -> (expected result, expected reason)."""
    features: tuple[str, ...]
    primary: str
    files: tuple[tuple[str, str], ...]
    """(relative path, base64) pairs, in file order."""
    anchors: tuple[str, ...]
    """TEST-ONLY trust anchors, PEM."""
    validation_time: str
    provenance: dict[str, object] = field(default_factory=dict)
    source: str = ""
    """The vector file's name (e.g. ``primus_verify.json``)."""

    @property
    def golden(self) -> bool:
        """True for an unmutated vector (flag ``Golden``)."""
        return "Golden" in self.flags

    def expectation(self, profile: str) -> tuple[Expected, str]:
        """(expected result, expected reason) under ``profile``; falls back to the file-level result."""
        if profile in self.profiles:
            return self.profiles[profile]
        return Expected(self.result), self.expected_reason

    def at(self) -> datetime:
        """The validation time as an aware datetime."""
        moment = datetime.fromisoformat(self.validation_time.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def file_bytes(self) -> dict[str, bytes]:
        """The native files, decoded, keyed by relative path."""
        return {path: base64.b64decode(data) for path, data in self.files}


@dataclass(frozen=True)
class Corpus:
    """Every vector under a root, in file then file-order; ids are unique across files."""

    root: Path
    suite_version: str
    vectors: tuple[Vector, ...]
    notes: dict[str, dict[str, object]]
    """Flag name -> note (bugType, severity, description, ...), merged over every file."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {v.id: v for v in self.vectors})

    def get(self, vector_id: str) -> Vector:
        """The vector with ``vector_id``; raises KeyError."""
        return self._by_id[vector_id]  # type: ignore[attr-defined,no-any-return]

    def __contains__(self, vector_id: object) -> bool:
        return vector_id in self._by_id  # type: ignore[attr-defined]

    def formats(self) -> list[str]:
        """Formats present in the corpus, in first-seen order."""
        return list(dict.fromkeys(v.format for v in self.vectors))

    def select(self, *, formats: Iterable[str] = (), patterns: Iterable[str] = ()) -> list[Vector]:
        """Vectors of the given formats (all when empty) whose id matches any glob (all when empty)."""
        wanted_formats = set(formats)
        globs = list(patterns)
        return [v for v in self.vectors
                if (not wanted_formats or v.format in wanted_formats)
                and (not globs or any(fnmatch.fnmatchcase(v.id, g) or g == v.id for g in globs))]

    def sanity_vector(self, format_name: str, profile: str) -> Vector | None:
        """The golden vector of ``format_name`` that ``profile`` must accept (BetterTLS's sanity case).

        Prefers a vector flagged ``Golden``; otherwise any vector expected valid; None if there is none.
        """
        candidates = [v for v in self.vectors if v.format == format_name
                      and v.expectation(profile)[0] is Expected.VALID]
        goldens = [v for v in candidates if v.golden]
        return (goldens or candidates or [None])[0]


def _vector(test: dict, format_name: str, source: str) -> Vector:
    parts = str(test["id"]).split("::")
    profiles = {name: (Expected(spec["result"]), str(spec.get("reason", "OK")))
                for name, spec in (test.get("profiles") or {}).items()}
    inputs = test["inputs"]
    trust = test.get("trust") or {}
    return Vector(
        id=str(test["id"]), format=format_name, category=parts[1] if len(parts) > 2 else "",
        comment=str(test.get("comment", "")), flags=tuple(test.get("flags", ())),
        severity=str(test.get("severity", "info")), result=str(test["result"]),
        expected_reason=str(test.get("expectedReason", "OK")), profiles=profiles,
        features=tuple(test.get("features", ())), primary=str(inputs["primary"]),
        files=tuple((str(f["path"]), str(f["base64"])) for f in inputs["files"]),
        anchors=tuple(trust.get("anchors", ())), validation_time=str(trust.get("validationTime", "")),
        provenance=dict(test.get("provenance") or {}), source=source,
    )


def default_vectors_root() -> Path:
    """``$HSMSIM_VECTORS``, else ``./vectors``."""
    return Path(os.environ.get("HSMSIM_VECTORS", "vectors"))


def load_corpus(root: Path) -> Corpus:
    """Read every ``*_verify.json`` under ``root``; raises :class:`CorpusLoadError`."""
    paths = sorted(root.glob(VECTOR_GLOB))
    if not paths:
        raise CorpusLoadError(f"no {VECTOR_GLOB} files in {root} (pass the corpus with --vectors / --vectors-root)")
    vectors: list[Vector] = []
    notes: dict[str, dict[str, object]] = {}
    versions: set[str] = set()
    seen: dict[str, str] = {}
    for path in paths:
        try:
            document = json.loads(path.read_text())
            format_name = str(document["format"])
            versions.add(str(document.get("suiteVersion", "0.0.0")))
            notes.update(document.get("notes") or {})
            for test in document["tests"]:
                vector = _vector(test, format_name, path.name)
                if vector.id in seen:
                    raise CorpusLoadError(f"vector id {vector.id!r} appears in {seen[vector.id]} and {path.name}")
                seen[vector.id] = path.name
                vectors.append(vector)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorpusLoadError(f"{path} is not a readable vector file: {exc}") from exc
    manifest = root / "manifest.json"
    suite_version = max(versions, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()))
    if manifest.exists():
        with suppress(OSError, ValueError):
            suite_version = str(json.loads(manifest.read_text()).get("suiteVersion", suite_version))
    return Corpus(root=root, suite_version=suite_version, vectors=tuple(vectors), notes=notes)


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
        return self.dir / f"missing{key if key.startswith('.') else '-' + key.replace('/', '_')}"

    def to_json(self) -> dict[str, object]:
        """The ``inputs`` object of a persistent ``verify`` request."""
        return {"primary": str(self.primary), "dir": str(self.dir),
                "files": {rel: str(path) for rel, path in self.files.items()},
                "anchor": str(self.anchor), "anchors_dir": str(self.anchors_dir),
                "time": self.time, "unix_time": self.unix_time}


def _safe_relative(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise CorpusLoadError(f"vector file path {rel!r} is not a plain relative path")
    return path


@contextmanager
def materialise(vector: Vector, profile: str, base: Path | None = None) -> Iterator[Inputs]:
    """Write the vector's native files and anchors into a fresh directory; removed on exit."""
    case_dir = Path(tempfile.mkdtemp(prefix="case-", dir=base))
    try:
        evidence = case_dir / "evidence"
        anchors_dir = case_dir / "anchors"
        evidence.mkdir()
        anchors_dir.mkdir()
        files: dict[str, Path] = {}
        for rel, data in vector.files:
            target = evidence / _safe_relative(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(data))
            files[rel] = target
        for index, pem in enumerate(vector.anchors, start=1):
            (anchors_dir / f"anchor-{index}.pem").write_text(pem if pem.endswith("\n") else pem + "\n")
        anchor = case_dir / "anchors.pem"
        anchor.write_text("".join(p if p.endswith("\n") else p + "\n" for p in vector.anchors))
        at = vector.at()
        primary = files.get(vector.primary, evidence / _safe_relative(vector.primary))
        yield Inputs(id=vector.id, format=vector.format, profile=profile, primary=primary, dir=evidence,
                     files=files, anchor=anchor, anchors_dir=anchors_dir,
                     time=at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), unix_time=int(at.timestamp()))
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)
