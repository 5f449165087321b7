"""The HSM model: a device (vendor profile, serial, firmware) with partitions holding keys.

:meth:`Hsm.attest` is shaped like Parsec's AttestKey: the attested key, a mechanism
(the registered format name) with its parameters, and an optional attesting key; with
no attesting key the partition's provisioned attestation key signs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats import Evidence, get_format
from hsmsim.keystore.base import KeyStore, PrivateKey, StoredKey
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg

# A fixed epoch for everything derived from the seed; 2025-01-06 is a Monday morning in Zurich.
DEVICE_EPOCH = datetime(2025, 1, 6, 7, 30, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Device:
    """One emulated HSM: its vendor profile (a format name), identity and seed.

    ``initialised`` is when the manufacturer PKI certified the device key; partition
    attestation keys are created a day later.
    """

    profile: str
    serial: str
    seed: str
    model: str = ""
    firmware: str = ""
    initialised: datetime = DEVICE_EPOCH

    @classmethod
    def from_seed(cls, profile: str, seed: str, **overrides: object) -> Device:
        """A device whose serial and initialisation time are derived from ``seed``."""
        rng = drbg(seed, f"{profile}/device")
        serial = str(17_000_000 + rng.randint_bits(32) % 2_000_000)
        initialised = DEVICE_EPOCH + timedelta(seconds=rng.randint_bits(24) % (86400 * 60))
        values: dict[str, object] = {"serial": serial, "initialised": initialised}
        values.update(overrides)
        return cls(profile=profile, seed=seed, **values)  # type: ignore[arg-type]

    @property
    def attestation_created(self) -> datetime:
        """When the partitions' attestation keys were created."""
        return self.initialised + timedelta(days=1)


@dataclass(frozen=True)
class AttestationRequest:
    """Everything a format's generator needs to produce evidence for one key."""

    device: Device
    partition: str
    key: StoredKey
    key_signer: PrivateKey | None
    attesting: AttestationIdentity
    parameters: Mapping[str, object] = field(default_factory=dict)
    at: datetime = DEVICE_EPOCH


@dataclass
class Hsm:
    """A device with one partition backed by a key store.

    ``clock`` gives the attestation time when the parameters do not fix it.
    """

    device: Device
    keystore: KeyStore
    partition: str = "default"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC).replace(microsecond=0))

    def attestation_identity(self, attesting_key: str | None = None) -> AttestationIdentity:
        """The partition's default attestation identity, or one certifying ``attesting_key``."""
        fmt = get_format(self.device.profile)
        if attesting_key is None:
            return fmt.provision(self.device, self.partition)
        key = self.keystore.get(attesting_key)
        return fmt.provision(self.device, self.partition,
                             attesting=(key.label, self.keystore.signer(key), key.created))

    def attest(
        self,
        attested_key: str,
        mechanism: str | None = None,
        parameters: Mapping[str, object] | None = None,
        attesting_key: str | None = None,
    ) -> Evidence:
        """Attest the key labelled ``attested_key`` with ``mechanism`` (a format name;
        default: the device's own profile).

        ``parameters`` are format-specific; ``attest_time`` (a datetime) fixes the time.
        Raises :class:`KeyNotFoundError` or :class:`UnsupportedKeyError` on misuse.
        """
        fmt = get_format(mechanism or self.device.profile)
        if fmt.name != self.device.profile:
            raise UnsupportedKeyError(
                f"a {self.device.profile} device cannot produce {fmt.name} evidence"
            )
        key = self.keystore.get(attested_key)
        params = dict(parameters or {})
        at = params.pop("attest_time", None) or self.clock()
        if not isinstance(at, datetime):
            raise UnsupportedKeyError("parameter attest_time must be a datetime")
        signer = self.keystore.signer(key) if key.public_key is not None else None
        request = AttestationRequest(
            device=self.device, partition=self.partition, key=key, key_signer=signer,
            attesting=self.attestation_identity(attesting_key), parameters=params, at=at,
        )
        return fmt.generate(request)
