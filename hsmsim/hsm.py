"""The HSM model: a device (its format, serial, firmware) with partitions holding keys.

:meth:`Hsm.attest` is shaped like Parsec's AttestKey: the attested key, a mechanism
(Parsec's word; its value is a registered format name, see docs/architecture.md) with its
parameters, and an optional attesting key; with no attesting key the partition's provisioned
attestation key signs. A device produces its own format and the generic mechanisms
(:data:`GENERIC_MECHANISMS`), which any emulated device can produce for any of its keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import get_format
from hsmsim.formats.contract import Format
from hsmsim.keystore.base import KeyStore, StoredKey
from hsmsim.model.evidence import Evidence
from hsmsim.pki.identity import AttestationIdentity, PkiExport

ATTEST_TIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, 23, 59, 59, tzinfo=UTC))
"""The attestation times every format can encode: from the Unix epoch (formats carry Unix timestamps, and
cryptography refuses a certificate valid before 1950), to years before 9999, so that certificates valid for years
after the attestation stay within X.509's GeneralizedTime and Python's datetime. A format may hold less (a zip's
MS-DOS times: 1980 to 2107) and says so with a :class:`ParameterError`."""

GENERIC_MECHANISMS = frozenset({"pkix-evidence", "csr-attestation"})
"""Formats every device speaks besides its own: the IETF generic profiles (PKIX Evidence of any HSM,
and a CSR attestation bundle carrying the device's own evidence with PKIX Evidence)."""


def pki_exports(device: Device) -> tuple[PkiExport, ...]:
    """Every emulated PKI a verifier of ``device``'s evidence may need: its own format's
    (:meth:`~hsmsim.formats.contract.Format.pki_exports`, the default identity's first, named ``""``), then each
    generic mechanism's, named after it (``pkix-evidence``, ``csr-attestation-tcg-attest-certify``), so that each
    name says which evidence it verifies even where two hold the same certificates. Names are unique."""
    exports = list(get_format(device.format).pki_exports(device))
    for mechanism in sorted(GENERIC_MECHANISMS - {device.format}):
        exports += [export.within(mechanism) for export in get_format(mechanism).pki_exports(device)]
    names = [export.name for export in exports]
    if len(set(names)) != len(names):
        raise ValueError(f"{device.format}: two emulated PKIs share a name: {sorted(names)}")
    return tuple(exports)


@dataclass
class Hsm:
    """A device with one partition backed by a key store.

    ``clock`` gives the attestation time when the parameters do not fix it.
    """

    device: Device
    keystore: KeyStore
    partition: str = "default"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC).replace(microsecond=0))

    def attestation_identity(self, attesting_key: str | None = None, mechanism: str | None = None
                             ) -> AttestationIdentity:
        """The partition's default attestation identity for ``mechanism`` (default: the device's own
        format), or one certifying ``attesting_key``."""
        fmt = get_format(mechanism or self.device.format)
        if attesting_key is None:
            return fmt.provision(self.device, self.partition)
        return self._certifying(self.keystore.get(attesting_key), fmt)

    def _certifying(self, key: StoredKey, fmt: Format) -> AttestationIdentity:
        """The attestation identity of ``fmt`` whose attestation key is the stored ``key``."""
        return fmt.provision(self.device, self.partition,
                             attesting=(key.label, self.keystore.signer(key), key.created))

    def attest(
        self,
        attested_key: str,
        mechanism: str | None = None,
        parameters: Mapping[str, object] | None = None,
        attesting_key: str | None = None,
    ) -> Evidence:
        """Attest the key labelled ``attested_key`` with ``mechanism`` (a format name: the device's own
        format, its default, or one of :data:`GENERIC_MECHANISMS`).

        ``parameters`` are format-specific; ``attest_time`` (a datetime, naive meaning UTC) fixes the time.
        Raises :class:`KeyNotFoundError` or :class:`UnsupportedKeyError` on misuse (also when ``attesting_key``
        names the attested key itself: no format hsmsim emulates lets a key vouch for itself through an
        attestation key's chain), and :class:`ParameterError` for a parameter the format does not read or cannot
        use, and for an attestation time before the attested (or attesting) key was created.
        """
        fmt = get_format(mechanism or self.device.format)
        if fmt.name != self.device.format and fmt.name not in GENERIC_MECHANISMS:
            raise UnsupportedKeyError(
                f"a {self.device.format} device cannot produce {fmt.name} evidence"
            )
        key = self.keystore.get(attested_key)
        if attesting_key is not None and attesting_key == attested_key:
            raise UnsupportedKeyError(
                f"the attesting key is the attested key {attested_key!r} itself: a key cannot attest itself "
                "(name another key, or none for the partition's attestation key; WebAuthn self attestation is "
                "the parameter attestation=self)")
        params = dict(parameters or {})
        at = params.pop("attest_time", None) or self.clock()
        if not isinstance(at, datetime):
            raise ParameterError.invalid("attest_time", "a datetime", at)
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        earliest, latest = ATTEST_TIME_RANGE
        if not earliest <= moment <= latest:
            raise ParameterError(f"the attestation time {at.isoformat()} is outside the times hsmsim attests at: it "
                                 f"must be between {earliest:%Y-%m-%d} and {latest:%Y-%m-%d} (a format may hold fewer)")
        _created_by(moment, key, "attested")
        # The attesting key is looked up once: its creation time is checked on the key that signs.
        attesting = self.keystore.get(attesting_key) if attesting_key is not None else None
        if attesting is not None:
            _created_by(moment, attesting, "attesting")
        signer = self.keystore.signer(key) if key.public_key is not None else None
        tracked = _ReadTracking(params)
        identity = self.attestation_identity(None, fmt.name) if attesting is None else self._certifying(attesting, fmt)
        request = AttestationRequest(
            device=self.device, partition=self.partition, key=key, key_signer=signer, attesting=identity,
            parameters=tracked, at=at, tpm=self.keystore.tpm,
        )
        evidence = fmt.generate(request)
        unused = sorted(set(params) - tracked.read)
        if unused:
            read = ", ".join(map(repr, sorted(tracked.read))) or "none"
            raise ParameterError(f"{fmt.name} has no parameter {', '.join(map(repr, unused))} "
                                 f"(the parameters it reads for this request: {read})")
        return evidence


def _created_by(at: datetime, key: StoredKey, role: str) -> None:
    """Raise :class:`ParameterError` when the aware time ``at`` precedes ``key``'s creation: no device signs
    evidence about (or with) a key it does not hold yet."""
    if at < key.created:
        raise ParameterError(f"the attestation time {at.isoformat()} is before the {role} key {key.label!r} was "
                             f"created ({key.created.isoformat()}): attest at or after that time, or create the key "
                             "with an earlier creation time (key create --created, create_key(created=...))")


class _ReadTracking(Mapping[str, object]):
    """Parameters that remember which names the format looked up, so an unknown one is an error, not ignored."""

    def __init__(self, parameters: Mapping[str, object]) -> None:
        self._parameters = dict(parameters)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> object:
        self.read.add(name)
        return self._parameters[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self._parameters

    def __iter__(self) -> Iterator[str]:
        self.read.update(self._parameters)  # a format that walks every parameter uses them all
        return iter(self._parameters)

    def __len__(self) -> int:
        return len(self._parameters)
