"""The WebAuthn bounds a format family's layout needs without importing the container's codecs."""

MAX_ATTESTATION_OBJECT = 64 * 1024
"""The largest attestation object any reader accepts."""
