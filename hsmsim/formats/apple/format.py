"""The ``apple-acme`` and ``apple-appattest`` formats: the contract's hooks over the Apple family.

The emulated PKIs are :mod:`~hsmsim.formats.apple.pki`, the certificate extensions and x5c check
:mod:`~hsmsim.formats.apple.extensions`, the ACME statement :mod:`~hsmsim.formats.apple.acme` (vectors
:mod:`~hsmsim.formats.apple.acme_catalogue`), App Attest :mod:`~hsmsim.formats.apple.appattest` (vectors
:mod:`~hsmsim.formats.apple.appattest_catalogue`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import BundleError
from hsmsim.formats.apple import layout as on_disk
from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors, read_optional_sibling
from hsmsim.safeio import ReadBudget, read_regular_file
from hsmsim.verdict import Profile, Reason, Rejected, Verdict, escaped

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.apple.pki import PkiSpec
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport


def _named(suffix: str) -> Callable[[Path], bool]:
    """Whether a path is a regular file named ``*<suffix>``: how an Apple record is known."""
    return lambda path: path.is_file() and path.name.endswith(suffix)


class _AppleFormat:
    """What both Apple formats share: the record file, its reading, detection and trust anchors."""

    name: str
    title: str
    key_specs: tuple[str, ...]
    record_suffix: str
    record_limit: int
    layout: BundleLayout
    """The record ``<stem><record suffix>``, known by its name."""
    sibling_suffixes: tuple[str, ...] = ()
    """Files read beside the record, ``<stem><suffix>`` (apple-acme: the finalize CSR)."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The emulated Apple intermediate that issues this format's leaves, under its root.

        Apple devices have no partitions and no user-chosen attestation keys: ``partition`` and ``attesting``
        are ignored.
        """
        from hsmsim.formats.apple.pki import apple_pki
        from hsmsim.pki.identity import AttestationIdentity

        pki = apple_pki(device.seed, self._pki_spec())
        return AttestationIdentity(key=pki.intermediate.key, certificate=pki.intermediate.certificate,
                                   chain=(pki.intermediate.certificate,), root=pki.root.certificate)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """This format's intermediate under its root (each Apple format has its own PKI)."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """The format's checks (module notes of its verifier); bad evidence becomes a Verdict, never an exception."""
        try:
            data = evidence.files.get(evidence.primary)
            if data is None:
                records = [rel for rel in evidence.files if rel.endswith(self.record_suffix)]
                if len(records) != 1:
                    raise Rejected(Reason.MISSING_INPUT, f"expected one {self.record_suffix} record, "
                                                         f"found {len(records)}")
                data = evidence.files[records[0]]
            return self._check(evidence, data, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    _check: Callable[..., Verdict]
    _pki_spec: Callable[[], PkiSpec]
    """The emulated Apple PKI that issues this format's leaves."""

    def load(self, path: Path) -> Evidence:
        """The record (bounded) and its sibling files; or a directory's record (:attr:`layout`). Raises BundleError,
        also when something other than a readable regular file is under a sibling's name
        (:func:`~hsmsim.model.evidence.read_optional_sibling`)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        try:
            budget = ReadBudget()
            files = {path.name: read_regular_file(path, self.record_limit, budget)}
            stem = path.name.removesuffix(self.record_suffix)
            for sibling in (path.with_name(stem + suffix) for suffix in self.sibling_suffixes):
                data = read_optional_sibling(sibling, budget)
                if data is not None:
                    files[sibling.name] = data
        except OSError as exc:
            raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A ``*<record suffix>`` regular file, or a directory holding one."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None


class AppleAcmeFormat(_AppleFormat):
    """The ``apple-acme`` format: ACME device-attest-01 with Apple Managed Device Attestation."""

    name = on_disk.ACME_FORMAT
    title = "ACME device-attest-01 with Apple Managed Device Attestation"
    key_specs: tuple[str, ...] = ("ec-p256", "ec-p384")
    record_suffix = on_disk.ACME_RECORD_SUFFIX
    record_limit = on_disk.ACME_MAX_RECORD
    layout = BundleLayout((f"*{on_disk.ACME_RECORD_SUFFIX}",), _named(on_disk.ACME_RECORD_SUFFIX))
    sibling_suffixes = (".csr",)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The ACME server's record of the device's answer for the request's key, with the finalize CSR."""
        from hsmsim.device import record_within
        from hsmsim.formats.apple import acme

        return record_within(acme.acme_draft_for(request).evidence(), self.record_limit)

    @staticmethod
    def _pki_spec() -> PkiSpec:
        from hsmsim.formats.apple.pki import ENTERPRISE

        return ENTERPRISE

    @staticmethod
    def _check(evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
        from hsmsim.checks import one_file
        from hsmsim.formats.apple import acme

        csr = one_file(evidence.files, [rel for rel in evidence.files if rel.endswith(".csr")], "the finalize CSR")
        return acme.verify_record(acme.AcmeRecord.parse(record), csr, trust, at, profile)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens per key type and identifier, and the one-defect mutations."""
        from hsmsim.formats.apple.acme_catalogue import vector_cases

        return vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the apple-acme vectors."""
        from hsmsim.formats.apple.acme_catalogue import notes

        return notes()


class AppAttestFormat(_AppleFormat):
    """The ``apple-appattest`` format: an App Attest attestation object as the app's server checks it."""

    name = on_disk.APPATTEST_FORMAT
    title = "Apple App Attest (DeviceCheck) key attestation"
    key_specs: tuple[str, ...] = ("ec-p256",)
    record_suffix = on_disk.APPATTEST_RECORD_SUFFIX
    record_limit = on_disk.APPATTEST_MAX_RECORD
    layout = BundleLayout((f"*{on_disk.APPATTEST_RECORD_SUFFIX}",), _named(on_disk.APPATTEST_RECORD_SUFFIX))

    def generate(self, request: AttestationRequest) -> Evidence:
        """The server's record of the app's attestation of the request's key."""
        from hsmsim.device import record_within
        from hsmsim.formats.apple import appattest

        return record_within(appattest.app_attest_draft_for(request).evidence(), self.record_limit)

    @staticmethod
    def _pki_spec() -> PkiSpec:
        from hsmsim.formats.apple.pki import APP_ATTEST

        return APP_ATTEST

    @staticmethod
    def _check(evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
        from hsmsim.formats.apple import appattest

        return appattest.verify_record(appattest.AppAttestRecord.parse(record), trust, at, profile)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens per environment and the one-defect mutations of Apple's nine steps."""
        from hsmsim.formats.apple.appattest_catalogue import vector_cases

        return vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the apple-appattest vectors."""
        from hsmsim.formats.apple.appattest_catalogue import notes

        return notes()
