"""What a provisioned attestation key is, for every vendor PKI."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.encoding import cert_pem, pem, spki_pem
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
    def chain_pem(self) -> tuple[bytes, ...]:
        """The PEM of each certificate of ``chain``, leaf first."""
        return tuple(pem(der) for der in self.chain_der)

    @functools.cached_property
    def root_pem(self) -> bytes:
        """The PEM of ``root``."""
        return cert_pem(self.root)

    @functools.cached_property
    def public_key_pem(self) -> bytes:
        """The PEM SubjectPublicKeyInfo of ``key``'s public half."""
        return spki_pem(self.key.public_key())


_EXPORT_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class PkiExport:
    """One emulated PKI a verifier of a device's evidence may need, as ``hsmsim pki export`` writes it.

    ``name`` says which: empty for the PKI of the device format's default attestation identity, else the
    parameter values or statement that select it (``ecdsa-p384``, ``packed``, ``android-key-rkp-2026``): lower-case
    letters and digits in words joined by ``-``. ``root`` is what a verifier trusts, ``intermediates`` the CAs
    between it and ``certificate`` (nearest the certificate first), ``certificate`` the device's attestation
    certificate (the leaf an attestation key signs with; a CA for formats whose device holds one).
    """

    name: str
    root: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        if self.name and not _EXPORT_NAME.fullmatch(self.name):
            raise ValueError(f"a PKI export name is lower-case words joined by '-', not {self.name!r}")

    @classmethod
    def of(cls, identity: AttestationIdentity, name: str = "") -> PkiExport:
        """The PKI of ``identity``, called ``name`` (its chain may start with its certificate or above it)."""
        above = identity.chain[1:] if identity.chain[:1] == (identity.certificate,) else identity.chain
        return cls(name, identity.root, above, identity.certificate)

    def within(self, owner: str) -> PkiExport:
        """This PKI named as one of ``owner``'s (a statement, a generic mechanism): ``owner`` or ``owner-name``."""
        return replace(self, name=f"{owner}-{self.name}" if self.name else owner)

    def files(self) -> dict[str, x509.Certificate]:
        """The certificates by file name: ``root.crt``, ``intermediate-N.crt`` (N from 1, nearest the certificate
        first), ``attestation.crt``, each prefixed by ``name-`` unless the name is empty."""
        prefix = f"{self.name}-" if self.name else ""
        named = {f"{prefix}root.crt": self.root, f"{prefix}attestation.crt": self.certificate}
        for index, cert in enumerate(self.intermediates, start=1):
            named[f"{prefix}intermediate-{index}.crt"] = cert
        return named
