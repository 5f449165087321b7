"""What a provisioned attestation key is, for every vendor PKI."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.encoding import cert_pem
from hsmsim.keystore.base import PrivateKey


@dataclass(frozen=True)
class AttestationIdentity:
    """A provisioned attestation key: its signer, its certificate and the chain above it.

    ``chain`` is leaf-first and excludes the root; ``root`` is what verifiers trust.
    """

    key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    root: x509.Certificate

    # Encoded once per identity: a vector catalogue renders one identity into each of its vectors, and
    # cryptography encodes a certificate anew at every call.
    @functools.cached_property
    def chain_der(self) -> tuple[bytes, ...]:
        """The DER of each certificate of ``chain``, leaf first."""
        return tuple(cert.public_bytes(Encoding.DER) for cert in self.chain)

    @functools.cached_property
    def root_pem(self) -> bytes:
        """The PEM of ``root``."""
        return cert_pem(self.root)
