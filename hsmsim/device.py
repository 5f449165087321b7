"""An emulated device's identity, and what a format's generator is asked to attest.

These sit below the formats: a format's generator receives an :class:`AttestationRequest`;
:class:`hsmsim.hsm.Hsm` (above the registry) builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hsmsim.errors import ParameterError
from hsmsim.keystore.base import PrivateKey, StoredKey, TpmCertifier
from hsmsim.model.evidence import Evidence
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Rejected

# A fixed epoch for everything derived from the seed; 2025-01-06 is a Monday morning in Zurich.
DEVICE_EPOCH = datetime(2025, 1, 6, 7, 30, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Device:
    """One emulated HSM: the format it speaks natively, its identity and its seed.

    ``initialised`` is when the manufacturer PKI certified the device key; partition
    attestation keys are created a day later.
    """

    format: str
    serial: str
    seed: str
    model: str = ""
    firmware: str = ""
    initialised: datetime = DEVICE_EPOCH

    @classmethod
    def from_seed(cls, format: str, seed: str, **overrides: object) -> Device:
        """A device whose serial and initialisation time are derived from ``seed``."""
        rng = drbg(seed, f"{format}/device")
        serial = str(17_000_000 + rng.randint_bits(32) % 2_000_000)
        initialised = DEVICE_EPOCH + timedelta(seconds=rng.randint_bits(24) % (86400 * 60))
        values: dict[str, object] = {"serial": serial, "initialised": initialised}
        values.update(overrides)
        return cls(format=format, seed=seed, **values)  # type: ignore[arg-type]

    @property
    def attestation_created(self) -> datetime:
        """When the partitions' attestation keys were created."""
        return self.initialised + timedelta(days=1)


@dataclass(frozen=True)
class AttestationRequest:
    """Everything a format's generator needs to produce evidence for one key.

    ``tpm`` is the real TPM that holds ``key``, when its store is one (the ``swtpm`` backend): a TPM
    format then certifies the key there, by that TPM's own attestation key.
    """

    device: Device
    partition: str
    key: StoredKey
    key_signer: PrivateKey | None
    attesting: AttestationIdentity
    parameters: Mapping[str, object] = field(default_factory=dict)
    at: datetime = DEVICE_EPOCH
    tpm: TpmCertifier | None = None


class ForwardedParameters(Mapping[str, object]):
    """A request's ``parameters`` as a format passes them on to the format it wraps: ``override`` replaces a name,
    ``default`` gives one when the caller did not, ``hidden`` names are the wrapper's own and absent here.

    Every other name is looked up in ``parameters`` only when the wrapped format asks for it, so the mapping the
    wrapper received (which remembers the names read, to refuse unknown ones) learns exactly what the wrapped
    format read; copying it (``{**parameters}``) would mark every name as read.
    """

    def __init__(self, parameters: Mapping[str, object], *, override: Mapping[str, object] | None = None,
                 default: Mapping[str, object] | None = None, hidden: tuple[str, ...] = ()) -> None:
        self._parameters = parameters
        self._override = dict(override or {})
        self._default = dict(default or {})
        self._hidden = frozenset(hidden)

    def __getitem__(self, name: str) -> object:
        if name in self._override:
            return self._override[name]
        if name not in self._hidden and name in self._parameters:
            return self._parameters[name]
        if name in self._default:
            return self._default[name]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._override or name in self._default
                                          or (name not in self._hidden and name in self._parameters))

    def __iter__(self) -> Iterator[str]:
        """Every name; walking the names (``len``, ``keys``, ``items`` and a ``**`` copy do) reads each given one,
        as walking the request's own parameters does: a format that walks them uses them all."""
        given = (name for name in self._parameters if name not in self._hidden)
        return iter(dict.fromkeys([*self._override, *given, *self._default]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def flag_parameter(parameters: Mapping[str, object], name: str, default: bool) -> bool:
    """The yes/no parameter ``name`` (``default`` when absent or None): a bool, 0 or 1, or the text true/yes/1 or
    false/no/0 in any case. Raises :class:`ParameterError` for another value."""
    given = parameters.get(name)
    if given is None:
        return default
    if isinstance(given, bool):
        return given
    if isinstance(given, int) and given in (0, 1):
        return bool(given)
    if isinstance(given, str):
        text = given.strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
    raise ParameterError.invalid(name, "true or false (yes/no, 1/0)", given)


def text_parameter(parameters: Mapping[str, object], name: str, must: str = "text") -> str | None:
    """The text parameter ``name`` (None when absent or None). An int stands for its decimal digits, as
    ``--param`` hands a canonical decimal value over as an int (``--param nonce=1234`` is the hex text ``1234``).
    Raises :class:`ParameterError` (saying the value ``must`` be that) for another type."""
    given = parameters.get(name)
    if given is None or isinstance(given, str):
        return given
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given)
    raise ParameterError.invalid(name, must, given)


def record_within(evidence: Evidence, limit: int) -> Evidence:
    """``evidence`` when its primary file is at most ``limit`` bytes, the most the format's verifier reads. Raises
    :class:`ParameterError` otherwise: only a parameter (a long challenge, origin or identifier) makes a record that
    large, and the format's own verifier would refuse to read what ``attest`` wrote."""
    size = len(evidence.files[evidence.primary])
    if size > limit:
        raise ParameterError(f"the parameters make {evidence.primary} {size} bytes, more than the {limit} its "
                             "verifier reads; give a shorter value")
    return evidence


def bytes_parameter(parameters: Mapping[str, object], name: str, decode: Callable[[str], bytes],
                    must: str) -> bytes | None:
    """The bytes parameter ``name`` (None when absent or None): bytes as given, or text (:func:`text_parameter`)
    through ``decode``, which raises ValueError or :class:`~hsmsim.verdict.Rejected` for text it cannot read.
    Raises :class:`ParameterError` (saying the value ``must`` be that) for another value."""
    given = parameters.get(name)
    if isinstance(given, bytes):
        return given
    text = text_parameter(parameters, name, must)
    if text is None:
        return None
    try:
        return decode(text)
    except (ValueError, Rejected):
        raise ParameterError.invalid(name, must, given) from None
