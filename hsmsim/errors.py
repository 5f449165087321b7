"""The single exception hierarchy of hsmsim.

Only misuse and environment problems raise. Bad *evidence* never raises out of a
reference verifier: it becomes a :class:`hsmsim.verdict.Verdict` with a reason.
"""

from __future__ import annotations


class HsmsimError(Exception):
    """Base of every error hsmsim raises on purpose; the CLI prints it on one line."""


class KeystoreError(HsmsimError):
    """A key store could not create, find or use a key."""


class KeyNotFoundError(KeystoreError):
    """No key with the requested label exists in the partition."""


class BackendUnavailableError(KeystoreError):
    """A keystore backend cannot run here (e.g. no PKCS#11 module installed)."""


class UnsupportedKeyError(HsmsimError):
    """The key type or size is not supported by the operation or format."""


class UnsupportedFormatError(HsmsimError):
    """No attestation format is registered under the requested name."""


class BundleError(HsmsimError):
    """An evidence bundle could not be read from disk (missing file, unreadable path)."""


class ParameterError(HsmsimError):
    """A format parameter has a value the format cannot use."""

    @classmethod
    def invalid(cls, name: str, must: str, given: object) -> ParameterError:
        """``parameter <name> must be <must>, not <given>``, ``given`` as its repr cut to about 40 characters."""
        shown = repr(given)
        return cls(f"parameter {name} must be {must}, not {shown if len(shown) <= 40 else shown[:37] + '...'}")
