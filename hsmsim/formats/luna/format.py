"""Thales Luna Public Key Confirmation (``luna-pkc``): the contract hooks of
:class:`hsmsim.formats.contract.Format`, each handed to the module that does the work.

:mod:`.generate` writes the certs-only PKCS#7 ``cmu getpkc`` writes, :mod:`.verify` is the
reference verifier, :mod:`.catalogue` the vectors; this module also reads evidence and trust
anchors from disk and recognises a PKC file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.encoding import der_oid
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.luna.layout import (
    FORMAT_NAME,
    MAX_CSR_BYTES,
    MAX_PKC_BYTES,
    OID_SIGNED_DATA,
    PKC_SUFFIXES,
    names_the_pkc,
    pkc_stem,
)
from hsmsim.model.evidence import (
    MAX_TRUST_ANCHOR_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    files_beside,
    read_optional_sibling,
)
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.luna.options import LunaOptions
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

_PKCS7_CONTENT_TYPE_ARC = der_oid(OID_SIGNED_DATA)[:-1]
"""The DER OBJECT IDENTIFIER of 1.2.840.113549.1.7.2 without its last arc: any PKCS#7 content type."""
_DETECT_WINDOW = 32


def _is_pkc(path: Path) -> bool:
    """A ``.p7b`` (``.p7c``, ``.p7``) regular file that starts as a DER SEQUENCE naming a PKCS#7 content type near
    its start (never raises)."""
    head = peek_regular_file(path, _DETECT_WINDOW) if path.suffix.lower() in PKC_SUFFIXES else None
    return head is not None and head[:1] == b"\x30" and _PKCS7_CONTENT_TYPE_ARC in head


class LunaFormat:
    """The ``luna-pkc`` format: Thales Luna Public Key Confirmation (certs-only PKCS#7)."""

    name = FORMAT_NAME
    title = "Thales Luna Network HSM 7 (Public Key Confirmation)"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
    layout = BundleLayout(("*-pkc.p7b", *(f"*{suffix}" for suffix in PKC_SUFFIXES)), _is_pkc)
    """The PKC ``<stem>-pkc.p7b`` with the key's ``<stem>.csr`` and the root file beside it."""

    def __init__(self, options: LunaOptions | None = None) -> None:
        self._options = options

    @property
    def options(self) -> LunaOptions:
        """The options this format generates and provisions with (default: ``LunaOptions()``)."""
        if self._options is None:
            from hsmsim.formats.luna.options import LunaOptions

            self._options = LunaOptions()
        return self._options

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """Trust anchors from PEM/DER files, including Luna roots cryptography cannot load."""
        from hsmsim.formats.luna.trust_anchor import load_trust_anchor

        budget = ReadBudget()
        anchors = [load_trust_anchor(read_regular_file(path, MAX_TRUST_ANCHOR_BYTES, budget)) for path in paths]
        return TrustAnchors({"root": tuple(anchors)})

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's identity: the DAC key with DAC -> HOC -> MIC and the RSA root (strict DER)."""
        if attesting is not None:
            raise UnsupportedKeyError("a Luna PKC is issued by the HSM's DAC (or HOC); no user key can attest")
        from hsmsim.formats.luna.generate import device_serial
        from hsmsim.formats.luna.pki import luna_attestation_identity

        return luna_attestation_identity(device.seed, device_serial(device), model=self.options.model,
                                         firmware=self.options.firmware, ca_extensions=self.options.ca_extensions)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The RSA hierarchy (DAC -> HOC -> MIC -> root), the ECC one (``ecc``) and pkctype 1's (``pkc-type-1``)."""
        from hsmsim.formats.luna.generate import device_serial
        from hsmsim.formats.luna.pki import luna_pki_exports

        return luna_pki_exports(device.seed, device_serial(device), model=self.options.model,
                                firmware=self.options.firmware, ca_extensions=self.options.ca_extensions)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The PKC, CSR and root file for the request's key.

        Parameters: ``pkc_type`` (1 or 2, as ``cmu getpkc -pkctype``), ``options`` (a :class:`LunaOptions`).
        """
        from hsmsim.formats.luna.generate import generate_pkc

        return generate_pkc(request, self.options)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the PKC at ``at`` (default now); see :func:`hsmsim.formats.luna.verify.verify_pkc`."""
        from hsmsim.formats.luna.verify import verify_pkc

        return verify_pkc(evidence, trust, at=at or datetime.now(UTC), profile=Profile(profile))

    def load(self, path: Path) -> Evidence:
        """Read a PKC file with its CSR: ``<stem>.csr`` beside it, else the one CSR there named for it
        (:func:`~hsmsim.formats.luna.layout.names_the_pkc`, as the published ``rsa-test.csr``), else the only one,
        never a CSR another PKC there is named for; or a directory's PKC (:attr:`layout`). Regular files only,
        within one :class:`~hsmsim.safeio.ReadBudget`; raises :class:`BundleError`."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, MAX_PKC_BYTES, budget)}
        stem = pkc_stem(path.name)
        own = read_optional_sibling(path.parent / f"{stem}.csr", budget, MAX_CSR_BYTES)
        if own is not None:
            files[f"{stem}.csr"] = own
            return Evidence(self.name, files, path.name)
        csrs = self.layout.unowned(path, files_beside(path, ".csr"), ".csr")
        named = [csr for csr in csrs if names_the_pkc(csr.name, stem)]
        for csr in named if len(named) == 1 else (csrs if len(csrs) == 1 else []):
            files[csr.name] = read_regular_file(csr, MAX_CSR_BYTES, budget)
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A ``.p7b`` (``.p7c``, ``.p7``) regular file that starts as a DER SEQUENCE naming a PKCS#7 content
        type near its start, or a directory with one. Tolerant of a defect inside (another content type, an
        overlong length): such a file is still a PKC for the verifier to reject."""
        return self.layout.detect(path)

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden PKCs for every key type and both pkctypes, and the one-defect mutations."""
        from hsmsim.formats.luna import catalogue

        return catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Luna vectors."""
        from hsmsim.formats.luna import catalogue

        return catalogue.notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: this format is fuzzed through its catalogue and byte-level operators (the generic model)."""
        return None
