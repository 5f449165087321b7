"""What every attestation format provides, and the evidence it exchanges.

A format is one object registered under a name (see :mod:`hsmsim.formats`). The CLI,
the HSM model, the corpus, the harness and the fuzzer reach a format only through
this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography import x509

from hsmsim.errors import BundleError
from hsmsim.verdict import Profile, Verdict

if TYPE_CHECKING:
    from hsmsim.corpus.model import FlagNote, VectorCase
    from hsmsim.hsm import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.pki.identity import AttestationIdentity

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


class Format(Protocol):
    """One vendor's attestation format: generator and reference verifier side by side."""

    name: str
    """Registry name, e.g. ``primus``."""
    vendor: str
    """Human vendor/product name."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's attestation key and chain under the device's emulated PKI.

        ``attesting`` (label, signer, created) certifies a user key as the attesting key.
        """
        ...

    def generate(self, request: AttestationRequest) -> Evidence:
        """The vendor's evidence for the request's key, byte-compatible with the real format."""
        ...

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check ``evidence``; never raises on bad evidence, returns a Verdict with a reason."""
        ...

    def load(self, path: Path) -> Evidence:
        """Read evidence from disk as a user received it (file or directory); raises BundleError."""
        ...

    def detect(self, path: Path) -> bool:
        """True when ``path`` (file or directory) looks like this format's evidence; never raises."""
        ...

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """The format's golden and mutated vectors, derived from ``seed`` only."""
        ...

    def vector_notes(self) -> dict[str, FlagNote]:
        """The definition of every flag the format's vectors use."""
        ...
