"""The choices of the Luna PKC generator; the defaults reproduce the real files."""

from __future__ import annotations

from dataclasses import dataclass

from hsmsim.formats.luna.pki import CertEncoding


@dataclass(frozen=True)
class LunaOptions:
    """Choices of the generator (see ``docs/formats/luna.md``); defaults reproduce the real files."""

    pkc_type: int = 2
    """``cmu getpkc -pkctype``: 2 = Chrysalis-ITS chain to the root, 1 = TC-Trust Center (a GUESS of an
    unpublished chain, which neither Thales's validator nor Sectigo accepts)."""
    strict_der: bool = False
    """Omit the explicit ``critical FALSE`` Luna writes on its private extensions."""
    ecdsa_null_params: bool = True
    """NULL parameters in ecdsa-with-SHA* AlgorithmIdentifiers (certificates and CSR), as Luna writes."""
    unpadded_ecdsa_s: bool = False
    """Reproduce the real ECC leaf's unpadded ECDSA ``s`` (openssl verify then fails with error 7)."""
    ca_extensions: bool = False
    """Give the emulated RSA root keyUsage and basicConstraints CA:TRUE so a plain openssl verify passes."""
    include_root: bool = True
    """Put the root in the bag, as both real PKCs do (Thales's validator rejects a bag without it)."""
    model: str = "K7"
    firmware: tuple[int, int, int] = (7, 8, 4)
    csr_crlf: bool = True
    """Write the CSR with CRLF line ends, as ``cmu requestcertificate`` does."""
    csr_subject: tuple[tuple[str, str], ...] = (("C", "CA"), ("CN", "{label}"), ("L", "Ottawa"), ("O", "hsmsim"))
    """RDNs of the CSR, in ``cmu requestcertificate``'s order; ``{label}`` is the key's label."""

    @property
    def encoding(self) -> CertEncoding:
        """How the certificates are written."""
        return CertEncoding(strict_der=self.strict_der, ecdsa_null_params=self.ecdsa_null_params)
