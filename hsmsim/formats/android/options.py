"""What the emulated Android device reports that hsmsim cannot read from a key: its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from hsmsim.formats.android.keydescription import SecurityLevel
from hsmsim.formats.android.pki import ChainShape


@dataclass(frozen=True)
class AndroidOptions:
    """Defaults of the ``android-key`` generator (each overridable per request where noted)."""

    security_level: SecurityLevel = SecurityLevel.TRUSTED_ENVIRONMENT
    """Where the key lives (parameter ``security_level``)."""
    shape: ChainShape = ChainShape.RKP
    """Which chain the device sends (parameter ``shape``)."""
    attestation_version: int = 400
    """KeyMint 4 in the TEE (ML-DSA keys always get 500 and factory chains KeyMint 3's 300)."""
    strongbox_attestation_version: int = 300
    """KeyMint 3 in StrongBox, as every real StrongBox chain (akita sdk34, caiman and tegu sdk36, whose TEEs say
    400): no moduleHash [724], which KeyMint 4 added."""
    key_description_first: bool | None = None
    """Write the KeyDescription before the leaf's keyUsage (True), as caiman (sdk 36) does, or after it (False), as
    akita and tegu do; None: as the chain shape's device (:meth:`description_first`)."""
    os_version: int = 160000
    os_patch_level: int = 20251105
    """``yyyyMMdd``: osPatchLevel carries ``yyyyMM``; vendor and boot patch levels the full date."""
    package: str = "com.example.hsmsim.attestation"
    """The calling app of the attestationApplicationId."""
    brand: str = "hsmsim"
    device: str = "emu64"
    manufacturer: str = "hsmsim"
    model: str = "hsmsim Emulated Phone"
    attest_serial: bool = False
    """Device ID attestation of the serial number: hardwareEnforced carries attestationIdSerial [713] = the device's
    serial, as on a managed device whose owner asks for ``ID_TYPE_SERIAL``. ``android-acme`` turns it on: step-ca
    compares it with the order's ``permanent-identifier``."""

    def description_first(self, shape: ChainShape) -> bool:
        """Whether a leaf of ``shape`` carries its KeyDescription before its keyUsage: :attr:`key_description_first`
        if set, else :attr:`ChainShape.key_description_first` (the legacy-root RKP chains, as caiman)."""
        return shape.key_description_first if self.key_description_first is None else self.key_description_first
