"""The Yubico formats' contract hooks (:class:`hsmsim.formats.contract.Format`): ``yubico-piv`` and ``yubihsm2``.

The generators are :mod:`.piv` and :mod:`.hsm2`, the reference verifiers :mod:`.verify_piv` and
:mod:`.verify_hsm2`, the emulated PKIs :mod:`.pki`, the vectors :mod:`.catalogue`. The three PIV output
profiles (ykman pair, Sectigo package, step-ca statement) are one format with a ``profile`` parameter:
they carry the same certificates and the verifier reads each of them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from hsmsim.errors import BundleError, ParameterError, UnsupportedKeyError
from hsmsim.formats.yubico.layout import (
    CHAIN_SUFFIX,
    GENERATIONS,
    HSM_FORMAT,
    HSM_ROOT_FILE,
    INTERMEDIATES_FILE,
    LEGACY,
    NEW,
    PIV_FORMAT,
    REQUEST_SUFFIX,
    ROOT_FILES,
    SECTIGO_SUFFIX,
    STEP_SUFFIX,
    is_key_attestation,
)
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    MAX_SIBLING_BYTES,
    BundleLayout,
    Evidence,
    TrustAnchors,
    bundle_entries,
    read_siblings,
)
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Verdict, escaped

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.formats.yubico.pki import YubiKeyDevice
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

_PIV_PRIMARY = (".attestation.pem", SECTIGO_SUFFIX, STEP_SUFFIX)
_PIV_SIBLINGS = ("{stem}.f9.pem", "{stem}.csr", f"{{stem}}{REQUEST_SUFFIX}", *ROOT_FILES.values(), INTERMEDIATES_FILE)
"""What ``yubico-piv`` reads beside a record, ``{stem}`` standing for its stem: the f9 certificate, the CSR and
the request, and the root copy and intermediates every bundle of a PKI generation carries under one name."""
_HSM_SIBLINGS = ("{stem}.csr", "{stem}.request.json", HSM_ROOT_FILE)
"""What ``yubihsm2`` reads beside a ``<stem>_chain.pem``."""
_CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".csr")
"""Names of the files beside a real-layout YubiHSM 2 attestation that may hold a certificate or CSR."""
_PEEK_BYTES = 8192
"""Enough for the first PEM certificate of a chain file (a key attestation certificate is about 1.6 KB)."""


def device_serial(device: Device) -> int:
    """The device serial as an integer: the decimal serial, or one derived from the seed."""
    from hsmsim.pki.seed import drbg

    if device.serial.isdigit() and int(device.serial) < 1 << 32:
        return int(device.serial)
    return 10_000_000 + int.from_bytes(drbg(device.seed, "yubico/serial").read(4), "big") % 30_000_000


def _policy_names(policy: type[enum.Enum]) -> str:
    """``one of ...``: the ykman names of ``policy``'s members."""
    return "one of " + ", ".join(member.lower().replace("_", "-") for member in policy.__members__)


DEFAULT_FIRMWARE = {LEGACY: (5, 4, 3), NEW: (5, 7, 4)}
"""The firmware of an emulated YubiKey of each PKI generation unless the ``firmware`` parameter names another."""
FIRST_ATTESTING_FIRMWARE = (4, 3, 0)
"""PIV attestation (the f9 slot and YKPIV_INS_ATTEST) came with YubiKey 4.3."""
FIRST_NEW_PKI_FIRMWARE = (5, 7, 4)
"""YubiKeys from firmware 5.7.4 are certified under the 2024 PKI, earlier ones under the legacy PIV root."""


def firmware_version(text: object) -> tuple[int, int, int]:
    """``major.minor.patch``, each 0 to 255 (the firmware extension holds one byte each), from 4.3 on (the first
    YubiKey firmware with PIV attestation); raises :class:`ParameterError` for anything else."""
    parts = str(text).split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        raise ParameterError.invalid("firmware", "a version major.minor.patch (e.g. 4.3.3)", text)
    version = (int(parts[0]), int(parts[1]), int(parts[2]))
    if version < FIRST_ATTESTING_FIRMWARE:
        raise ParameterError(f"parameter firmware {text}: PIV attestation needs firmware 4.3.0 or later")
    return version


def yubikey(device: Device, generation: str | None = None, *, fips: bool = False,
            firmware: tuple[int, int, int] | None = None) -> YubiKeyDevice:
    """The emulated YubiKey behind ``device``, a USB-A keychain: firmware ``firmware`` under the PKI generation
    it belongs to (:data:`FIRST_NEW_PKI_FIRMWARE`), else firmware 5.4.3 (legacy PKI) or 5.7.4 (2024 PKI) for
    ``generation`` (default legacy). Raises :class:`ParameterError` for an unknown generation, or one the given
    firmware does not belong to."""
    if generation is not None and generation not in GENERATIONS:
        raise ParameterError.invalid("generation", f"one of {', '.join(GENERATIONS)}", generation)
    from hsmsim.formats.yubico.pki import YubiKeyDevice

    if firmware is None:
        firmware = DEFAULT_FIRMWARE[generation or LEGACY]
    own = NEW if firmware >= FIRST_NEW_PKI_FIRMWARE else LEGACY
    made = YubiKeyDevice(device_serial(device), firmware, 1, own, fips=fips)
    if generation is not None and generation != own:
        raise ParameterError(f"firmware {made.firmware_version} is certified under the {own} PKI, not "
                             f"{generation} (the 2024 PKI certifies firmware 5.7.4 and later)")
    return made


def _f9_identity(device: Device, generation: str) -> AttestationIdentity:
    """The f9 key and certificate of the device's YubiKey of ``generation``, under that generation's PKI."""
    from hsmsim.formats.yubico.pki import f9_certificate, f9_key, piv_pki
    from hsmsim.pki.identity import AttestationIdentity

    key = yubikey(device, generation)
    pki = piv_pki(device.seed, key.generation)
    return AttestationIdentity(f9_key(device.seed, key), f9_certificate(device.seed, key),
                               tuple(i.certificate for i in pki.intermediates), pki.root.certificate)


def _named(primaries: tuple[str, ...]) -> Callable[[Path], bool]:
    """Whether a path is a regular file named as one of ``primaries`` ends."""
    return lambda path: path.is_file() and path.name.endswith(primaries)


def _read(name: str, layout: BundleLayout, path: Path, siblings: tuple[str, ...]) -> Evidence:
    """``path`` and each of ``siblings`` (``{stem}`` standing for the record's stem) beside it that is there: the
    names the generator writes, never a file whose name merely starts like the record's (``k10.csr`` beside
    ``k1.attestation.pem``)."""
    stem = layout.stem(path.name)
    stem = stem if stem is not None else path.name.split(".", 1)[0]
    try:
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
        files.update(read_siblings(path, (template.replace("{stem}", stem) for template in siblings), budget))
    except OSError as exc:
        raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
    return Evidence(name, files, path.name)


def _claims_file(path: Path) -> bool:
    """A ``<stem>_chain.pem``, or a PEM file whose first certificate is a key attestation certificate."""
    if path.name.endswith(CHAIN_SUFFIX):
        return path.is_file()
    if path.suffix.lower() not in (".pem", ".crt"):
        return False
    head = peek_regular_file(path, _PEEK_BYTES) or b""
    end = head.find(b"-----END CERTIFICATE-----")
    if not head.startswith(b"-----BEGIN CERTIFICATE-----") or end < 0:
        return False
    try:
        return is_key_attestation(x509.load_pem_x509_certificate(head[:end + 25]))
    except ValueError:
        return False


class _YubicoFormat:
    """What both Yubico formats share: detection through the layout, PEM/DER roots, no structure-aware fuzz model."""

    name: str
    layout: BundleLayout

    def detect(self, path: Path) -> bool:
        """A record (:attr:`layout`), or a directory holding one; never raises."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER roots (for PIV, the legacy and the 2024 root may both be given)."""
        return TrustAnchors.from_pem_files(list(paths))

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: fuzzed through the catalogue and byte-level operators."""
        return None


class YubicoPivFormat(_YubicoFormat):
    """``yubico-piv``: YubiKey PIV slot attestation (ykman pair, Sectigo package, step-ca statement)."""

    name = PIV_FORMAT
    title = "Yubico YubiKey PIV attestation"
    layout = BundleLayout(tuple(f"*{suffix}" for suffix in _PIV_PRIMARY), _named(_PIV_PRIMARY))
    """Records ``<stem>.attestation.pem`` (ykman), ``<stem>.sectigo.pem``, ``<stem>.acme-step.json``, known by name."""
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The device's f9 key and certificate under the legacy PKI (``partition`` is ignored).

        A YubiKey accepts a customer's own f9 key, but hsmsim emulates only the factory one.
        """
        if attesting is not None:
            raise UnsupportedKeyError("hsmsim emulates the factory f9 key only")
        return _f9_identity(device, LEGACY)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The f9 certificate of each PKI generation (parameter ``generation``): ``legacy`` (named ``""``) and the
        others by name (``2024``)."""
        from hsmsim.pki.identity import PkiExport

        return tuple(PkiExport.of(_f9_identity(device, generation), "" if generation == LEGACY else generation)
                     for generation in (LEGACY, *(g for g in GENERATIONS if g != LEGACY)))

    def generate(self, request: AttestationRequest) -> Evidence:
        """The evidence for the request's key. Parameters: ``profile`` (ykman, sectigo, step), ``generation``
        (legacy, 2024), ``firmware`` (e.g. 4.3.3: the certificates' shape follows it, :func:`yubikey`), ``slot``
        (9a...), ``pin_policy`` and ``touch_policy`` (ykman names), ``fips`` (true/false)."""
        from hsmsim.device import flag_parameter
        from hsmsim.formats.yubico.extensions import PinPolicy, TouchPolicy
        from hsmsim.formats.yubico.piv import PivRequest, assemble

        params = request.parameters
        if request.key_signer is None:
            raise UnsupportedKeyError("PIV attests asymmetric keys only")
        pin = PinPolicy.__members__.get(str(params.get("pin_policy", "once")).upper().replace("-", "_"))
        if pin is None:
            raise ParameterError.invalid("pin_policy", _policy_names(PinPolicy), params.get("pin_policy"))
        touch = TouchPolicy.__members__.get(str(params.get("touch_policy", "always")).upper())
        if touch is None:
            raise ParameterError.invalid("touch_policy", _policy_names(TouchPolicy), params.get("touch_policy"))
        fips = flag_parameter(params, "fips", False)
        generation = params.get("generation")
        firmware = params.get("firmware")
        device = yubikey(request.device, None if generation is None else str(generation), fips=fips,
                         firmware=None if firmware is None else firmware_version(firmware))
        slot = str(params.get("slot", "9a"))
        bundle = assemble(request.device.seed, device, request.key, request.key_signer, slot=slot, pin=pin,
                          touch=touch, profile=str(params.get("profile", "ykman")),
                          request=PivRequest(device.serial, slot, pin, touch))
        return bundle.evidence()

    def load(self, path: Path) -> Evidence:
        """A record with the files the generator writes beside it (:data:`_PIV_SIBLINGS`), or a directory's
        (:attr:`layout`)."""
        return self.layout.load(path, lambda record: _read(self.name, self.layout, record, _PIV_SIBLINGS), self.name)

    def verify(self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """See :func:`hsmsim.formats.yubico.verify_piv.verify_piv`."""
        from hsmsim.formats.yubico.verify_piv import verify_piv

        return verify_piv(evidence, trust, at or datetime.now(UTC), Profile(profile))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens per key type, PKI generation and profile, and the one-defect mutations."""
        from hsmsim.formats.yubico import catalogue

        return catalogue.piv_vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the PIV vectors."""
        from hsmsim.formats.yubico import catalogue

        return catalogue.piv_notes()

class YubiHsm2Format(_YubicoFormat):
    """``yubihsm2``: YubiHSM 2 key attestation certificates."""

    name = HSM_FORMAT
    title = "Yubico YubiHSM 2 key attestation"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")
    layout = BundleLayout((f"*{CHAIN_SUFFIX}", "chain.pem"), _claims_file)
    """``<stem>_chain.pem``, or a real layout's ``chain.pem`` or key attestation certificate (known by content;
    ``chain.pem`` preferred to the ``key_attestation.crt`` beside it)."""

    def load(self, path: Path) -> Evidence:
        """A ``<stem>_chain.pem`` with the files the generator writes beside it (:data:`_HSM_SIBLINGS`), a
        directory's record (:attr:`layout`), or a file of the real sample's layout (``chain.pem``,
        ``key_attestation.crt``) with every certificate or CSR file beside it (``csr.pem``, the device certificate,
        the sub-CA), found by content: a ``.pem``, ``.crt``, ``.cer`` or ``.csr`` name holding anything but a
        readable regular file raises BundleError."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        if path.name.endswith(CHAIN_SUFFIX):
            return _read(self.name, self.layout, path, _HSM_SIBLINGS)
        try:
            budget = ReadBudget()
            files = {path.name: read_regular_file(path, MAX_BUNDLE_FILE_BYTES, budget)}
            for sibling in bundle_entries(path.parent):
                if sibling == path:
                    continue
                head = peek_regular_file(sibling, 64)
                if head is None and sibling.suffix.lower() in _CERTIFICATE_SUFFIXES:
                    # found by content: one that cannot be read is not taken for none (an optional CSR's check)
                    raise BundleError(f"{escaped(str(sibling))} is not a readable regular file")
                if head is not None and (b"-----BEGIN CERTIFICATE-----" in head or b"CERTIFICATE REQUEST-----" in head):
                    files[sibling.name] = read_regular_file(sibling, MAX_SIBLING_BYTES, budget)
        except OSError as exc:
            raise BundleError(f"cannot read {escaped(str(path))}: {exc.strerror}") from exc
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A ``<stem>_chain.pem``, a PEM file whose first certificate is a key attestation certificate (the real
        ``chain.pem`` or ``key_attestation.crt``), or a directory holding either; never raises."""
        return self.layout.detect(path)

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The built-in attestation key 0 with its chain (``partition`` is ignored)."""
        if attesting is not None:
            raise UnsupportedKeyError("hsmsim emulates the built-in attestation key 0 only")
        from hsmsim.formats.yubico.pki import hsm_pki
        from hsmsim.pki.identity import AttestationIdentity

        pki = hsm_pki(device.seed, device_serial(device))
        return AttestationIdentity(pki.device.key, pki.device.certificate,
                                   (pki.device.certificate, pki.sub_ca.certificate), pki.root.certificate)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The attestation key 0's chain under the root."""
        from hsmsim.pki.identity import PkiExport

        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The chain file, CSR, request and root for the request's key (no parameters)."""
        if request.key_signer is None:
            raise UnsupportedKeyError("a YubiHSM 2 attests asymmetric keys only")
        from hsmsim.formats.yubico.hsm2 import assemble_hsm
        from hsmsim.formats.yubico.pki import hsm_pki

        pki = hsm_pki(request.device.seed, device_serial(request.device))
        return assemble_hsm(request.device.seed, pki, request.key, request.key_signer).evidence()

    def verify(self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """See :func:`hsmsim.formats.yubico.verify_hsm2.verify_hsm2`."""
        from hsmsim.formats.yubico.verify_hsm2 import verify_hsm2

        return verify_hsm2(evidence, trust, at or datetime.now(UTC), Profile(profile))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Goldens per key type and the one-defect mutations."""
        from hsmsim.formats.yubico import catalogue

        return catalogue.hsm_vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the YubiHSM 2 vectors."""
        from hsmsim.formats.yubico import catalogue

        return catalogue.hsm_notes()
