"""What a provisioned attestation key is, for every vendor PKI."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

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
