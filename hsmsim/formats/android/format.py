"""The ``android-key`` and ``android-acme`` formats: the contract's hooks over the Android family, reading evidence.

The KeyDescription codec is :mod:`~hsmsim.formats.android.keydescription`, the emulated Google PKI
:mod:`~hsmsim.formats.android.pki`, the generator :mod:`~hsmsim.formats.android.generate`, the reference
verifier :mod:`~hsmsim.formats.android.verify`, the status list :mod:`~hsmsim.formats.android.status` and
the vectors :mod:`~hsmsim.formats.android.catalogue`; the ACME statement :mod:`~hsmsim.formats.android.acme`
(vectors :mod:`~hsmsim.formats.android.acme_catalogue`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from hsmsim.encoding import JsonDepthError, parse_json
from hsmsim.errors import BundleError, ParameterError
from hsmsim.formats.android.layout import (
    ATTOBJ_SUFFIX,
    CHAIN_SUFFIXES,
    CHALLENGE_SUFFIX,
    CSR_SUFFIX,
    IDENTIFIER_SUFFIX,
    KEYAUTH_SUFFIX,
    MAX_CHAIN_FILE_BYTES,
    ROOTS_FILE,
    STATUS_FILE,
    key_description_der,
)
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_TRUST_ANCHOR_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    files_beside,
    read_optional_sibling,
)
from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Rejected, Verdict, escaped

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.android.options import AndroidOptions
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport


def _first_certificate(path: Path) -> x509.Certificate | None:
    data = peek_regular_file(path, MAX_CHAIN_FILE_BYTES) if path.suffix.lower() in CHAIN_SUFFIXES else None
    if data is None:
        return None
    end = data.find(b"-----END CERTIFICATE-----")
    if not data.lstrip().startswith(b"-----BEGIN CERTIFICATE-----") or end < 0:
        return None
    try:
        return x509.load_pem_x509_certificate(data[:end + 25])
    except CERT_PARSE_ERRORS:
        return None


def _carries_extension(path: Path) -> bool:
    cert = _first_certificate(path)
    return cert is not None and key_description_der(cert) is not None


def _is_attestation_object(path: Path) -> bool:
    """An ``.attobj`` regular file holding a CBOR map with ``fmt`` ``android-key`` (never raises)."""
    data = peek_regular_file(path, MAX_CHAIN_FILE_BYTES) if path.suffix == ATTOBJ_SUFFIX else None
    if data is None:
        return False
    from hsmsim.formats.android.acme_verify import read_statement  # only for an .attobj file

    try:
        read_statement(data)
    except Rejected:
        return False
    return True


def _with_siblings(format_name: str, layout: BundleLayout, path: Path, *suffixes: str) -> Evidence:
    """``path`` with, for each of ``suffixes``, the file beside it (same stem, else the only one there that no other
    record of the directory is named for) and the status list; a sibling name holding anything but a readable
    regular file raises BundleError (:func:`read_optional_sibling`)."""
    try:
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
        siblings = []
        for suffix in suffixes:
            own = path.with_suffix(suffix)
            candidates = [own] if os.path.lexists(own) else layout.unowned(path, files_beside(path, suffix),
                                                                            suffix)
            siblings += candidates if len(candidates) == 1 else []
        for sibling in [*siblings, path.parent / STATUS_FILE]:
            data = read_optional_sibling(sibling, budget)
            if data is not None:
                files[sibling.name] = data
    except OSError as exc:
        raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
    return Evidence(format=format_name, files=files, primary=path.name)


class AndroidKeyFormat:
    """The ``android-key`` format: an Android Keystore/KeyMint key attestation certificate chain."""

    name = "android-key"
    title = "Android Keystore (KeyMint) key attestation"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")
    layout = BundleLayout(tuple(f"*{suffix}" for suffix in CHAIN_SUFFIXES), _carries_extension, (ROOTS_FILE,))
    """The chain ``<label>.pem`` (a ``.pem``/``.crt`` whose first certificate carries the KeyDescription), with
    ``<label>.challenge``, ``attestation-status.json`` and the pinned roots ``attestation_roots.pem`` beside it."""

    def __init__(self, options: AndroidOptions | None = None) -> None:
        self._options = options

    @property
    def options(self) -> AndroidOptions:
        """The options this format generates and provisions with (default: ``AndroidOptions()``)."""
        if self._options is None:
            from hsmsim.formats.android.options import AndroidOptions

            self._options = AndroidOptions()
        return self._options

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The device's attestation key and chain for the default security level and shape.

        A device has no partitions: ``partition`` is ignored. ``attesting`` makes a user key the
        attestation key; :meth:`generate` re-certifies it for the chain period holding the attestation time.
        """
        at = device.attestation_created
        from hsmsim.formats.android.pki import android_identity

        key = None
        if attesting is not None:
            _label, key, created = attesting
            at = max(at, created)
        return android_identity(device.seed, device.serial, self.options.security_level, self.options.shape, at,
                                key=key)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The default shape's chain, then each other root a ``shape`` parameter reaches (``rkp-2026``)."""
        from hsmsim.formats.android.pki import android_pki_exports

        return android_pki_exports(device.seed, device.serial, self.options.security_level, self.options.shape,
                                   device.attestation_created)

    @staticmethod
    def _generator(request: AttestationRequest, options: AndroidOptions) -> Evidence:
        from hsmsim.formats.android.generate import generate_evidence

        return generate_evidence(request, options)

    @staticmethod
    def _verifier(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None, profile: Profile) -> Verdict:
        from hsmsim.formats.android.verify import verify_evidence

        return verify_evidence(evidence, trust, at=at, profile=profile)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The evidence for the request's key: ``<label>.pem`` (the chain, leaf first) and ``<label>.challenge``
        (``android-acme``: ``<label>.attobj``, ``<label>.keyauth``, ``<label>.identifier`` and ``<label>.csr``).

        Parameters: ``challenge`` (text), ``security_level``, ``shape``, ``options`` (an :class:`AndroidOptions`);
        ``android-acme`` also ``key_authorization`` and ``identifier`` (text).
        """
        from hsmsim.formats.android.options import AndroidOptions

        options = request.parameters.get("options", self.options)
        if not isinstance(options, AndroidOptions):
            raise ParameterError.invalid("options", "an AndroidOptions", options)
        return self._generator(request, options)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the chain, the KeyDescription and the profile's policy (see :mod:`hsmsim.formats.android.verify`;
        ``android-acme`` then checks the statement signature, the order's identifier and the finalize CSR,
        :mod:`hsmsim.formats.android.acme`)."""
        return self._verifier(evidence, trust, at=at, profile=profile)

    def load(self, path: Path) -> Evidence:
        """A PEM chain file with, when present beside it, its challenge (``<stem>.challenge``, else the only
        ``.challenge`` no other chain there is named for) and ``attestation-status.json``; or a directory's chain
        (:attr:`layout`)."""
        return self.layout.load(path, lambda record: _with_siblings(self.name, self.layout, record,
                                                                    CHALLENGE_SUFFIX), self.name)

    def detect(self, path: Path) -> bool:
        """A ``.pem``/``.crt`` chain whose first certificate carries the KeyDescription, or a directory with one."""
        return self.layout.detect(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens per key type and chain shape, and the one-defect mutations of the catalogue."""
        from hsmsim.formats.android import catalogue  # loads Faker and the soft keystore: only when asked

        return catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the android-key vectors."""
        from hsmsim.formats.android import catalogue

        return catalogue.notes()

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER roots, or Google's ``roots.json`` (a JSON list of PEM strings), under the role ``root``;
        every file read as ``TrustAnchors.from_pem_files`` reads one (a regular file of at most
        ``MAX_TRUST_ANCHOR_BYTES``), all against one read budget. Raises BundleError naming the bad file."""
        budget = ReadBudget()
        certs: list[x509.Certificate] = []
        pem_paths = []
        for path in paths:
            if path.suffix.lower() != ".json":
                pem_paths.append(path)
                continue
            data = read_regular_file(path, MAX_TRUST_ANCHOR_BYTES, budget)
            try:
                entries = parse_json(data)
                if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                    raise ValueError("not a list of PEM strings")
                certs += [x509.load_pem_x509_certificate(e.encode()) for e in entries]
            except JsonDepthError:
                raise BundleError(f"{escaped(str(path))} nests too deeply to be a JSON list of PEM roots") from None
            except ValueError as exc:  # UnicodeDecodeError included
                raise BundleError(f"{escaped(str(path))} is not a JSON list of PEM roots: "
                                  f"{escaped(str(exc)[:80])}") from None
        if pem_paths:
            certs += TrustAnchors.from_pem_files(pem_paths, budget=budget).get("root")
        return TrustAnchors({"root": tuple(certs)})

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: this format is fuzzed through its catalogue and byte-level operators (the generic model)."""
        return None


class AndroidAcmeFormat(AndroidKeyFormat):
    """The ``android-acme`` format: the ACME device-attest-01 ``android-key`` statement (CBOR + keyAuthorization)."""

    name = "android-acme"
    title = "Android key attestation in an ACME device-attest-01 statement"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256")

    layout = BundleLayout((f"*{ATTOBJ_SUFFIX}",), _is_attestation_object)
    """The statement ``<label>.attobj``, with ``<label>.keyauth``, ``<label>.identifier``, the finalize CSR
    ``<label>.csr`` and ``attestation-status.json`` beside it."""

    @staticmethod
    def _generator(request: AttestationRequest, options: AndroidOptions) -> Evidence:
        from hsmsim.formats.android.acme import generate_acme_evidence

        return generate_acme_evidence(request, options)

    @staticmethod
    def _verifier(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None, profile: Profile) -> Verdict:
        from hsmsim.formats.android.acme_verify import verify_acme_evidence

        return verify_acme_evidence(evidence, trust, at=at, profile=profile)

    def load(self, path: Path) -> Evidence:
        """An ``.attobj`` file with its ``.keyauth``, ``.identifier`` and ``.csr`` (each: same stem, else the only
        one no other statement there is named for) and the status list beside it, or a directory's
        (:attr:`layout`)."""
        return self.layout.load(path, lambda record: _with_siblings(
            self.name, self.layout, record, KEYAUTH_SUFFIX, IDENTIFIER_SUFFIX, CSR_SUFFIX), self.name)

    def detect(self, path: Path) -> bool:
        """An ``.attobj`` file holding a CBOR map with ``fmt`` ``android-key``, or a directory with one."""
        return self.layout.detect(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens for P-256 and RSA keys and the statement-level defects."""
        from hsmsim.formats.android import acme_catalogue

        return acme_catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the android-acme vectors."""
        from hsmsim.formats.android import acme_catalogue

        return acme_catalogue.notes()
