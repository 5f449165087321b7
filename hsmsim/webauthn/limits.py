"""The WebAuthn bounds and the record's name a format family's layout needs without importing the container's
codecs or the ceremony."""

MAX_ATTESTATION_OBJECT = 64 * 1024
"""The largest attestation object any reader accepts."""
RECORD_SUFFIX = ".webauthn.json"
"""The relying party's record of a registration (:mod:`hsmsim.webauthn.ceremony` writes it)."""
