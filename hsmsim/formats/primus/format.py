"""The ``primus`` format: the contract's hooks (:mod:`hsmsim.formats.contract`) over this family's modules.

What detection reads is :mod:`~hsmsim.formats.primus.layout`. The hooks import the rest: generation
:mod:`~hsmsim.formats.primus.bundle` (over :mod:`~hsmsim.formats.primus.xml`), the reference verifier
:mod:`~hsmsim.formats.primus.verify`, the vectors :mod:`~hsmsim.formats.primus.catalogue`, the fuzz model
:mod:`~hsmsim.formats.primus.fuzz` and the emulated manufacturer PKI :mod:`~hsmsim.formats.primus.pki`. Reading
evidence from disk (``load``, ``detect``) lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.primus.layout import CHAIN_FILE, FORMAT_NAME, PUBKEY_FILE
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_SIBLING_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    files_beside,
    read_siblings,
)
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.primus.options import PrimusOptions
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

_DETECT_WINDOW = 64 * 1024


def _is_bundle(path: Path) -> bool:
    """A TSB zip naming the chain file, or an unzipped bundle's ``<label>.xml`` beside its ``.sig`` and chain."""
    head = peek_regular_file(path, _DETECT_WINDOW)
    if head is not None and path.suffix.lower() == ".xml":
        return (path.parent / f"{path.stem}.sig").is_file() and (path.parent / CHAIN_FILE).is_file()
    if head is None or not (head.startswith(b"PK\x03\x04") or path.suffix.lower() == ".zip"):
        return False
    name = CHAIN_FILE.encode()
    return name in head or name in (peek_regular_file(path, 2 * _DETECT_WINDOW, from_end=True) or b"")


class PrimusFormat:
    """The ``primus`` format: Securosys Primus HSM key attestation (TSB REST zip)."""

    name = FORMAT_NAME
    title = "Securosys Primus HSM"
    key_specs: tuple[str, ...] = (
        "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "aes-128", "aes-256",
    )

    layout = BundleLayout(("*_attestation.zip", "*.zip", "*.xml"), _is_bundle)
    """The TSB zip ``<label>_attestation.zip`` (or an unzipped export's ``<label>.xml``, the zip preferred when
    both are there), with ``<label>.csr`` and the root copy beside it."""

    def __init__(self, options: PrimusOptions | None = None) -> None:
        self._options = options

    @property
    def options(self) -> PrimusOptions:
        """The options this format generates and verifies with (default: ``PrimusOptions()``)."""
        if self._options is None:
            from hsmsim.formats.primus.options import PrimusOptions  # a frozen dataclass: ~1 ms to define

            self._options = PrimusOptions()
        return self._options

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's ``attestation-key`` (or a user attesting key) certified by the device."""
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        from hsmsim.formats.primus.pki import primus_attestation_identity

        if attesting is None:
            return primus_attestation_identity(
                device.seed, device.serial, partition,
                initialised=device.initialised, created=device.attestation_created)
        label, key, created = attesting
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedKeyError("a Primus attesting key must be RSA or EC")
        return primus_attestation_identity(
            device.seed, device.serial, partition, initialised=device.initialised,
            created=max(created, device.initialised), key_name=label, key=key)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The default partition's PKI: every partition's attestation key chains to the same device and root."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The TSB zip + CSR + root for the request's key.

        Parameters: ``key_use_count`` (an integer >= 0; 0 omits it), ``options`` (a :class:`PrimusOptions`),
        ``csr_common_name`` (str, the CSR's CN; default the key's label), ``csr`` (default true; false leaves the
        CSR out: the zip and root alone, as TSB's keyAttestation endpoint returns the zip alone).
        """
        from hsmsim.device import flag_parameter, text_parameter
        from hsmsim.formats.primus.bundle import assemble
        from hsmsim.formats.primus.options import PrimusOptions
        from hsmsim.keystore.base import label_problem

        options = request.parameters.get("options", self.options)
        if not isinstance(options, PrimusOptions):
            raise ParameterError.invalid("options", "a PrimusOptions", options)
        count = request.parameters.get("key_use_count")
        if count is not None:
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ParameterError.invalid("key_use_count", "an integer >= 0", count)
            options = replace(options, key_use_count=count)
        common_name = text_parameter(request.parameters, "csr_common_name")
        problem = None if common_name is None else label_problem(common_name, "parameter csr_common_name")
        if problem is not None:
            raise ParameterError(problem)
        with_csr = flag_parameter(request.parameters, "csr", True)
        if common_name is not None and not with_csr:
            raise ParameterError("parameter csr_common_name names the CSR's subject, and csr=false leaves the CSR out")
        signer = request.key_signer if with_csr else None
        bundle = assemble(request.key, signer, request.attesting, request.at, options, common_name=common_name)
        return bundle.evidence(request.at)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check chain, signature, key binding and attributes; see
        :func:`~hsmsim.formats.primus.verify.verify_evidence`."""
        from hsmsim.formats.primus.verify import verify_evidence

        return verify_evidence(evidence, trust, at=at, profile=profile, options=self.options)

    def load(self, path: Path) -> Evidence:
        """Read a TSB zip (with the ``<label>.csr`` beside it), the loose ``<label>.xml`` of an unzipped one
        (with the members that exist beside it: ``<label>.sig``, ``<label>.pem``, the chain, the second public-key
        name, and the CSR), or a directory's (:attr:`layout`); regular files only, within one
        :class:`~hsmsim.safeio.ReadBudget`. The CSR is ``<label>.csr``, else the only ``.csr`` beside it that no
        other bundle there is named for (for a loose XML, else the one PEM file holding a certificate request).
        Raises :class:`BundleError`, also when something other than a readable regular file is under a member's or
        the own CSR's name (:func:`~hsmsim.model.evidence.read_optional_sibling`), or the CSR is looked for in a
        directory that cannot be listed or holds too many entries."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
        xml = path.suffix.lower() == ".xml"
        stem = path.stem if xml else path.name.removesuffix(".zip").removesuffix("_attestation")
        if xml:
            files.update(read_siblings(path, (f"{stem}.sig", f"{stem}.pem", CHAIN_FILE, PUBKEY_FILE), budget))
        own = read_siblings(path, (f"{stem}.csr",), budget)
        if own:
            return Evidence(format=self.name, files={**files, **own}, primary=path.name)
        csrs = self.layout.unowned(path, files_beside(path, ".csr"), ".csr")
        if not csrs and xml:  # a CSR saved as PEM under another name (csr.pem)
            csrs = [pem for pem in files_beside(path, ".pem")
                    if b"CERTIFICATE REQUEST-----" in (peek_regular_file(pem, 64) or b"")]
        if len(csrs) == 1:
            files[csrs[0].name] = read_regular_file(csrs[0], MAX_SIBLING_BYTES, budget)
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A zip (local-header magic or ``.zip`` name) that names ``PrimusHSM_Attestation.crt`` near its
        start or in its last 128 KiB (where the central directory is), an unzipped bundle's ``<label>.xml`` with
        ``<label>.sig`` and that file beside it, or a directory holding either.

        Only the envelope and the member names are looked at (the name's bytes, not a parsed
        central directory), so evidence with a defect inside — a damaged member, trailing bytes,
        a hostile member name — is still recognised, and the verifier says what is wrong with it.
        Only regular files are peeked at; nothing is read in full.
        """
        return self.layout.detect(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden bundles for every key type and the one-defect mutations of the catalogue."""
        from hsmsim.formats.primus import catalogue  # only when vectors are built: verifying never needs it

        return catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Primus vectors."""
        from hsmsim.formats.primus import catalogue

        return catalogue.notes()

    def fuzz_model(self, seed: str) -> FuzzModel:
        """Structure-aware fuzzing: the vector catalogue's operators plus random field-level ones."""
        from hsmsim.formats.primus import fuzz

        return fuzz.fuzz_model(seed)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))
