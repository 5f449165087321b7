"""PCR banks as a TPM keeps them, and the digest TPM2_Quote signs of them (TPM 2.0 Library Part 1 §17, Part 3 §18.4).

A PC Client TPM's PCRs 0-16 and 23 are zero after TPM2_Startup(CLEAR), PCRs 17-22 all ones (no DRTM launch
resets them here), and all change only by extension:
PCR ← H_bank(PCR ‖ H_bank(measurement)). In a measured boot the firmware extends PCRs 0-7 with what it runs and
reads (its own code, its configuration, option ROMs, the boot manager, the GPT, the Secure Boot policy), and each
of them last with EV_SEPARATOR (four zero bytes) when it hands over to the OS loader.

TPM2_Quote signs pcrDigest = H_sign(PCR[i₀] ‖ PCR[i₁] ‖ …): the selected PCRs in the order of the
TPML_PCR_SELECTION (bank by bank, each ascending by index; Part 1 "Selecting Multiple PCR"), hashed with the hash
of the signing scheme whatever the bank.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hsmsim.tpm.marshal import digest_size, hash_bytes
from hsmsim.tpm.structures import PcrSelection

BOOT_PCRS = tuple(range(8))
"""PCRs 0-7: what UEFI firmware measures before the OS loader runs (TCG PC Client Platform Firmware Profile)."""
EV_SEPARATOR = b"\x00\x00\x00\x00"
"""The measurement that closes each boot PCR when the firmware hands over to the OS loader."""
DRTM_PCRS = range(17, 23)
"""PCRs 17-22, the dynamic root of trust's: all ones after TPM2_Startup, zero only once a DRTM event resets them
(PC Client Platform TPM Profile, "PCR Initial and Reset Values"); the other PCRs start at zero."""


@dataclass(frozen=True)
class MeasuredBoot:
    """One boot's measurements: ``log[i]`` is what was measured into PCR i, in order (PCRs past the log keep their
    value after TPM2_Startup).

    Every bank sees the same measurements, each hashed with its own algorithm, as a TPM extends all its banks."""

    log: tuple[tuple[bytes, ...], ...]
    # Each PCR is computed once per bank: a TPM quotes the same boot again and again.
    _computed: dict[tuple[int, int], bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def pcr(self, hash_alg: int, index: int) -> bytes:
        """PCR ``index`` of the bank ``hash_alg`` after the boot (raises Rejected(UNSUPPORTED) for an unknown bank)."""
        value = self._computed.get((hash_alg, index))
        if value is None:
            size = digest_size(hash_alg)
            value = b"\xff" * size if index in DRTM_PCRS else bytes(size)
            for measurement in self.log[index] if index < len(self.log) else ():
                value = hash_bytes(hash_alg, value + hash_bytes(hash_alg, measurement))
            self._computed[hash_alg, index] = value
        return value

    def values(self, selections: Iterable[PcrSelection]) -> tuple[bytes, ...]:
        """The selected PCRs in the order TPM2_Quote concatenates them."""
        return tuple(self.pcr(selection.hash_alg, index) for selection in selections for index in selection.indices)


def pcr_digest(hash_alg: int, values: Iterable[bytes]) -> bytes:
    """TPMS_QUOTE_INFO.pcrDigest: H_alg of the selected PCR values concatenated (``alg`` the signing scheme's hash)."""
    return hash_bytes(hash_alg, b"".join(values))
