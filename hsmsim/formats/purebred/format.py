"""The ``purebred`` format: the contract's hooks over this family's modules.

The envelope codec is :mod:`~hsmsim.formats.purebred.envelope`, the generator
:mod:`~hsmsim.formats.purebred.generate`, the reference verifier :mod:`~hsmsim.formats.purebred.verify`, the
vectors :mod:`~hsmsim.formats.purebred.catalogue`. The evidence inside is made and checked by its own format
(``android-key``, ``yubico-piv``, ``ms-kast``), reached through the registry. Reading from disk lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.encoding import der_oid
from hsmsim.errors import BundleError
from hsmsim.formats import get_format
from hsmsim.formats.purebred.layout import (
    ANDROID_KEY_DESCRIPTION,
    ATTRIBUTE_OIDS,
    FORMAT,
    MAX_REQUEST_BYTES,
    PREENROLL_SUFFIX,
    REQUEST_SUFFIXES,
    SIBLING_SUFFIXES,
    STATUS_FILE,
    TARGET_SUFFIXES,
    is_target_name,
    request_der,
)
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_SIBLING_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    files_beside,
    read_optional_sibling,
)
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict, escaped

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

_ATTRIBUTE_OIDS = tuple(der_oid(oid) for oid in ATTRIBUTE_OIDS.values())
_KEY_DESCRIPTION = der_oid(ANDROID_KEY_DESCRIPTION)
_PKCS7_SUFFIXES = (".p7b", ".p7c", ".p7")
"""Luna PKCs: a certs-only PKCS#7 under these names is ``luna-pkc``'s."""


def claims_envelope(data: bytes, name: str) -> bool:
    """True for a Purebred request (a PKCS#10 carrying one of the attributes' OIDs), an Android pre-enrollment
    container (a certs-only SignedData whose certificates carry the KeyDescription), or a Windows one (a CMC
    request named ``<stem>_attestation.bin`` as the generator names it: a CMC request named otherwise is
    ``ms-kast``'s), PEM or DER."""
    try:
        der = request_der(data)
    except ValueError:
        return False
    attribute = any(oid in der for oid in _ATTRIBUTE_OIDS)
    container = name.endswith(PREENROLL_SUFFIX)
    bag = _KEY_DESCRIPTION in der and not name.lower().endswith(_PKCS7_SUFFIXES)
    if not (attribute or container or bag):
        return False  # nothing here to open: another family's file costs no import of the envelope codec
    from hsmsim.formats.purebred import envelope

    if attribute:
        return envelope.is_request(der)
    return (container and envelope.is_cmc_request(der)) or (bag and envelope.is_certs_bag(der))


def _is_envelope(path: Path) -> bool:
    """A request or pre-enrollment container file (:func:`claims_envelope`), not a target certificate."""
    if is_target_name(path.name):
        return False
    data = peek_regular_file(path, MAX_REQUEST_BYTES)
    return data is not None and claims_envelope(data, path.name)


def stem_of(name: str) -> str:
    """The stem a request shares with its target and challenge: ``1_device_scep_request.bin`` -> ``1_device_scep``."""
    for suffix in REQUEST_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name.rsplit(".", 1)[0]


class PurebredFormat:
    """``purebred``: a Purebred enrollment request carrying Android, Windows TPM or YubiKey evidence."""

    name = FORMAT
    title = "Purebred enrollment request (DISA mobile derived credentials)"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
    layout = BundleLayout(tuple(f"*{suffix}" for suffix in REQUEST_SUFFIXES), _is_envelope)
    """The request ``<stem>_request.bin`` or container ``<stem>_attestation.bin``, with its target, challenge,
    status list and Windows CA files beside it."""

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The attestation identity of the inner format of the device's kind (``yubico-piv`` for a YubiKey,
        ``ms-kast`` for a TPM, else ``android-key``)."""
        from hsmsim.formats.purebred.generate import kind_for

        return get_format(kind_for(device, {}).inner_format).provision(device, partition, attesting)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The PKIs of the inner format of the device's kind, as that format exports them (its default one named
        ``""``), then every other kind's, named after the kind (``windows``, ``yubikey-2024``). A superset: an inner
        variant chosen by a parameter purebred refuses (``pki_profile``) is among them."""
        from hsmsim.formats.purebred.envelope import KINDS
        from hsmsim.formats.purebred.generate import kind_for

        own = kind_for(device, {})
        exports = list(get_format(own.inner_format).pki_exports(device))
        for name, kind in sorted(KINDS.items()):
            if kind != own:
                exports += [export.within(name) for export in get_format(kind.inner_format).pki_exports(device)]
        return tuple(exports)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The request with its evidence attribute, the target certificate, the challenge and roots.

        Parameters: ``kind`` (android, yubikey, windows; default from the device's format), ``container``
        (request, preenroll); the others go to the inner format's generator.
        """
        from hsmsim.formats.purebred import generate

        return generate.generate(request)

    def verify(self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """See :mod:`hsmsim.formats.purebred.verify`."""
        from hsmsim.formats.purebred import verify

        return verify.verify(evidence, trust, at=at, profile=profile)

    def load(self, path: Path) -> Evidence:
        """The request (or pre-enrollment container) with the files beside it: its target certificate and what the
        inner format reads (same stem; :data:`~hsmsim.formats.purebred.layout.SIBLING_SUFFIXES`), or a directory's
        (:attr:`layout`). A target certificate no other request there is named for is read too, as the verifier
        rejects a request beside two targets. A sibling name holding anything but a readable regular file raises
        BundleError (:func:`~hsmsim.model.evidence.read_optional_sibling`)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        try:
            budget = ReadBudget()
            files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
            stem = stem_of(path.name)
            suffixes = {*TARGET_SUFFIXES, *(s for kind in SIBLING_SUFFIXES.values() for s in kind)}
            siblings = [n if n == STATUS_FILE else f"{stem}{n}" for n in sorted(suffixes)]
            for sibling in (path.parent / n for n in siblings):
                data = read_optional_sibling(sibling, budget)
                if data is not None:
                    files[sibling.name] = data
            for suffix in TARGET_SUFFIXES:
                for stray in self.layout.unowned(path, files_beside(path, suffix), suffix):
                    if stray.name not in files:
                        files[stray.name] = read_regular_file(stray, MAX_SIBLING_BYTES, budget)
        except OSError as exc:
            raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A PKCS#10 request carrying a Purebred evidence attribute, or an Android pre-enrollment container
        (not a bare CMC request: that is ``ms-kast``'s), or a directory holding one; never raises."""
        if path.is_dir():
            return self.layout.holds_record(path)
        data = peek_regular_file(path, MAX_REQUEST_BYTES)
        return data is not None and claims_envelope(data, path.name)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER roots of the inner formats, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """A golden per evidence kind and container, and the named defects."""
        from hsmsim.formats.purebred import catalogue

        return catalogue.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Purebred vectors."""
        from hsmsim.formats.purebred import catalogue

        return catalogue.notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None
