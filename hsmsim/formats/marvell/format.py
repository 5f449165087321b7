"""Marvell LiquidSecurity key attestation, as Azure Managed HSM (``MRVL-1``) and Google Cloud HSM
(``CAVIUM_V2_COMPRESSED``) ship it: the format contract's hooks, and reading evidence from disk.

What detection reads is :mod:`.layout`, the one module of the family this one imports. The pieces its hooks
import live beside it: the blob codec (:mod:`.blob`), the envelopes (:mod:`.envelopes`),
the generator (:mod:`.generate`, its switches in :mod:`.options`), the reference verifier
(:mod:`.verify`), the PKIs (:mod:`.pki`), the vectors (:mod:`.catalogue`) and the fuzz model
(:mod:`.fuzz`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.encoding import parse_json
from hsmsim.formats.marvell.layout import MAX_JSON_BYTES, Cloud, document_cloud
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_SIBLING_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    files_beside,
    peek_entries,
    read_siblings,
)
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.marvell.options import MarvellOptions
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport


def _is_gcloud_attestation(path: Path) -> bool:
    """gcloud's attestation file (a regular file): gzip, or named ``*.attestation.dat`` / beside a
    ``*certs.pem`` chain (so a blob that is not gzip'd is still Google's, and rejected by the verifier)."""
    head = peek_regular_file(path, 2)
    if path.suffix not in (".dat", ".gz") or head is None:
        return False
    if path.name.endswith((".attestation.dat", ".attestation.dat.gz")) or head == b"\x1f\x8b":
        return True
    return any(p.name.endswith("certs.pem") and p.is_file() for p in peek_entries(path.parent))


def _json_cloud(path: Path) -> Cloud | None:
    """Which cloud's JSON envelope the regular file ``path`` holds (never raises)."""
    data = peek_regular_file(path, MAX_JSON_BYTES + 1)
    if data is None or len(data) > MAX_JSON_BYTES:
        return None
    try:
        document = parse_json(data)
    except ValueError:
        return None
    return document_cloud(document)


class MarvellFormat:
    """Marvell LiquidSecurity key attestation in one cloud's envelope (``marvell-azure`` or ``marvell-google``)."""

    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "aes-128", "aes-256")

    def __init__(self, cloud: Cloud, options: MarvellOptions | None = None) -> None:
        self.cloud = cloud
        self._options = options
        self.name = cloud.format_name
        self.title = ("Marvell LiquidSecurity via Azure Managed HSM (MRVL-1)" if cloud is Cloud.AZURE
                      else "Marvell LiquidSecurity via Google Cloud HSM (CAVIUM_V2_COMPRESSED)")
        records = (("*.attestation.json",) if cloud is Cloud.AZURE
                   else ("*.attestation.dat", "*.attestation.dat.gz", "*.json"))
        self.layout = BundleLayout(records, self._claims)
        """Azure's ``<stem>.attestation.json``; Google's ``<stem>.attestation.dat`` with ``<stem>.certs.pem``, or its
        ``<stem>.json``; either with ``<stem>.pub.pem`` and ``<stem>.csr`` beside it."""

    @property
    def options(self) -> MarvellOptions:
        """The options this format generates and provisions with (default:
        :data:`~hsmsim.formats.marvell.options.DEFAULT_OPTIONS`)."""
        if self._options is None:
            from hsmsim.formats.marvell.options import DEFAULT_OPTIONS  # imports the blob codec: on first use

            self._options = DEFAULT_OPTIONS
        return self._options

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's RSA-2048 key certified by the v1 card certificate under the emulated LS1 root.

        A user attesting key must be RSA-2048 (the blob signature is 256 bytes).
        """
        from hsmsim.formats.marvell.pki import marvell_pki  # the PKI, generator and verifier: when a hook runs

        if attesting is None:
            return marvell_pki(device.seed, device.serial, partition, initialised=device.initialised,
                               created=device.attestation_created, legacy_root=self.options.legacy_root).identity()
        label, key, created = attesting
        return marvell_pki(device.seed, device.serial, partition, initialised=device.initialised,
                           created=max(created, device.initialised), legacy_root=self.options.legacy_root,
                           partition_key=key, key_role=f"attesting/{label}").identity()

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The manufacturer PKI (partition and card certificates under the LiquidSecurity root); for Google also
        the owner's (``owner``: the owner partition certificate under the Hawksbill root), which its bundles carry
        as the second chain."""
        from hsmsim.formats.marvell.pki import google_owner_pki
        from hsmsim.pki.identity import PkiExport

        identity = self.provision(device, "default")
        if self.cloud is Cloud.AZURE:  # Azure's owner root is per key pool and travels inside the bundle
            return (PkiExport.of(identity),)
        owner = google_owner_pki(device.seed, identity.certificate, identity.chain[1])
        return PkiExport.of(identity), PkiExport("owner", owner.root, (), owner.partition)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The cloud's evidence for the request's key (see :func:`hsmsim.formats.marvell.generate.generate`)."""
        from hsmsim.formats.marvell import generate

        return generate.generate(self.cloud, request, self.options)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check envelope, chains, signatures, objects, binding and attributes (see
        :mod:`hsmsim.formats.marvell.verify` for the order); never raises on bad evidence."""
        from hsmsim.formats.marvell import verify

        return verify.verify(self.cloud, evidence, trust, at or datetime.now(UTC), Profile(profile))

    def load(self, path: Path) -> Evidence:
        """Read a JSON document, a gcloud ``.dat`` (with its chain: ``<stem>.certs.pem``, else the only ``*certs.pem``
        or ``*chain.pem`` beside it that no other attestation there is named for), with ``<stem>.pub.pem`` and
        ``<stem>.csr``, or a directory's (:attr:`layout`), regular files only, within one
        :class:`~hsmsim.safeio.ReadBudget`; raises :class:`BundleError`, also when something other than a readable
        regular file is under a sibling's name (:func:`~hsmsim.model.evidence.read_optional_sibling`)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
        stem = path.name.split(".attestation")[0].removesuffix(".json")
        if self.cloud is Cloud.GOOGLE and not path.name.endswith(".json"):
            chain = read_siblings(path, (f"{stem}.certs.pem",), budget)
            if not chain:
                others = self.layout.unowned(path, [pem for pem in files_beside(path, ".pem")
                                                    if pem.name.endswith(("certs.pem", "chain.pem"))], ".certs.pem")
                if len(others) == 1:
                    chain = {others[0].name: read_regular_file(others[0], MAX_SIBLING_BYTES, budget)}
            files.update(chain)
        files.update(read_siblings(path, (f"{stem}.pub.pem", f"{stem}.csr"), budget))
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A JSON document of this cloud; for Google also gcloud's ``.dat``/``.gz`` attestation file (see
        :func:`_is_gcloud_attestation`); a directory holding one. Only regular files are read."""
        return self.layout.detect(path)

    def _claims(self, path: Path) -> bool:
        if path.suffix == ".json":
            return _json_cloud(path) is self.cloud
        return self.cloud is Cloud.GOOGLE and _is_gcloud_attestation(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden and mutated vectors of this cloud's envelope (see :mod:`hsmsim.formats.marvell.catalogue`)."""
        # Imported on use, as the other hooks below: the vector machinery stays off the verify path.
        from hsmsim.formats.marvell import catalogue

        return catalogue.vector_cases(self.cloud, seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of this cloud's vectors."""
        from hsmsim.formats.marvell import catalogue

        return catalogue.notes(self.cloud)

    def fuzz_model(self, seed: str) -> FuzzModel:
        """Structure-aware fuzzing: the catalogue's mutations plus random TLV, blob and bundle operators."""
        from hsmsim.formats.marvell import fuzz

        return fuzz.fuzz_model(self.cloud, seed)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))
