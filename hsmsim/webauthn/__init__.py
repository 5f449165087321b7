"""WebAuthn, below the format families: the registration container (:mod:`.container`), one registration
ceremony rendered to the relying party's record (:mod:`.ceremony`), and the registry of attestation
statement formats (:mod:`.statements`) the families fill."""
