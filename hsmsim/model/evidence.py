"""Evidence as a user receives it (native files), and the trust anchors a verifier is given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from hsmsim.errors import BundleError

MAX_BUNDLE_FILE_BYTES = 64 * 1024 * 1024
MAX_BUNDLE_FILES = 64


@dataclass(frozen=True)
class Evidence:
    """The native files of one attestation, keyed by relative path, exactly as a user gets them.

    ``primary`` names the file a user would hand to a verifier first (e.g. the zip).
    """

    format: str
    files: Mapping[str, bytes]
    primary: str

    def write(self, directory: Path) -> list[Path]:
        """Write every file under ``directory``; returns the written paths in ``files`` order."""
        written = []
        for rel, data in self.files.items():
            path = directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
        return written


@dataclass(frozen=True)
class TrustAnchors:
    """The roots a verifier trusts, keyed by role (``root`` for single-root formats)."""

    roots: Mapping[str, tuple[x509.Certificate, ...]] = field(default_factory=dict)

    def get(self, role: str = "root") -> list[x509.Certificate]:
        """The anchors of one role (empty when none were given)."""
        return list(self.roots.get(role, ()))

    def all(self) -> list[x509.Certificate]:
        """Every anchor of every role, for formats that pick anchors by matching the chain."""
        return [cert for certs in self.roots.values() for cert in certs]

    @classmethod
    def from_pem_files(cls, paths: list[Path], role: str = "root") -> TrustAnchors:
        """Load PEM or DER certificates; raises :class:`BundleError` naming the bad file."""
        certs: list[x509.Certificate] = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise BundleError(f"cannot read trust anchor {path}: {exc.strerror}") from exc
            try:
                certs += (x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                          else [x509.load_der_x509_certificate(data)])
            except ValueError as exc:
                raise BundleError(f"{path} is not a PEM or DER certificate") from exc
        return cls({role: tuple(certs)})


def read_bundle_dir(directory: Path) -> dict[str, bytes]:
    """Every regular file below ``directory`` (bounded count and size), keyed by relative path."""
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if len(files) >= MAX_BUNDLE_FILES:
            raise BundleError(f"{directory} holds more than {MAX_BUNDLE_FILES} files")
        if path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
            raise BundleError(f"{path} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
        files[path.relative_to(directory).as_posix()] = path.read_bytes()
    return files
