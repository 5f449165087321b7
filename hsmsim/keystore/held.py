"""Private-key objects for keys held where hsmsim cannot read them (a PKCS#11 token, a TPM).

They subclass cryptography's private-key interfaces, so cryptography's CSR and certificate
builders take them. Each backend subclasses them and implements ``sign`` by asking the device;
everything else is here: the public half, sizes, and refusals for whatever would need the
private half (``private_bytes``, ``private_numbers``, ``private_bytes_raw``, ``decrypt``,
``exchange``), which raise :class:`~hsmsim.errors.KeystoreError`.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding

from hsmsim.errors import KeystoreError


class HeldKey:
    """A key known by its label and public half; ``where`` says where its private half lives."""

    where = "in its key store"

    def __init__(self, label: str, public: Any) -> None:
        self._label = label
        self._public = public

    @property
    def label(self) -> str:
        """The key's label."""
        return self._label

    def _not_extractable(self, what: str) -> KeystoreError:
        return KeystoreError(
            f"{what} is not available: key {self._label!r} lives {self.where} and is not extractable through hsmsim"
        )

    def _not_offered(self, what: str) -> KeystoreError:
        return KeystoreError(f"{what} is not offered for key {self._label!r} held {self.where}: hsmsim keys sign only")

    def private_bytes(self, encoding: Any, format: Any, encryption_algorithm: Any) -> bytes:
        """Always raises: the private key stays where it lives."""
        raise self._not_extractable("private_bytes()")

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[Any, Any]) -> Any:
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} label={self._label!r}>"


class HeldRSAKey(HeldKey, rsa.RSAPrivateKey):
    """An RSA key held elsewhere; subclasses implement ``sign``."""

    _public: rsa.RSAPublicKey

    def decrypt(self, ciphertext: bytes, padding: asym_padding.AsymmetricPadding) -> bytes:
        """Not offered: hsmsim keys sign only."""
        raise self._not_offered("decrypt()")

    def public_key(self) -> rsa.RSAPublicKey:
        """The public key, as read from where the key lives."""
        return self._public

    @property
    def key_size(self) -> int:
        """Modulus size in bits."""
        return self._public.key_size

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        """Always raises: the private key stays where it lives."""
        raise self._not_extractable("private_numbers()")


class HeldECKey(HeldKey, ec.EllipticCurvePrivateKey):
    """An EC key held elsewhere; subclasses implement ``sign``."""

    _public: ec.EllipticCurvePublicKey

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        """Not offered: hsmsim keys sign only."""
        raise self._not_offered("exchange()")

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public key, as read from where the key lives."""
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        """The named curve."""
        return self._public.curve

    @property
    def key_size(self) -> int:
        """Curve order size in bits."""
        return self._public.curve.key_size

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        """Always raises: the private key stays where it lives."""
        raise self._not_extractable("private_numbers()")


class HeldEd25519Key(HeldKey, ed25519.Ed25519PrivateKey):
    """An Ed25519 key held elsewhere; subclasses implement ``sign``."""

    _public: ed25519.Ed25519PublicKey

    def public_key(self) -> ed25519.Ed25519PublicKey:
        """The public key, as read from where the key lives."""
        return self._public

    def private_bytes_raw(self) -> bytes:
        """Always raises: the private key stays where it lives."""
        raise self._not_extractable("private_bytes_raw()")
