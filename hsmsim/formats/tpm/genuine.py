"""A real TPM as the certifier: TPM2_Certify runs in the TPM that holds the key, by that TPM's own AK.

When the attested key lives in a TPM-backed key store (the ``swtpm`` backend), the request carries
that store's :class:`~hsmsim.keystore.base.TpmCertifier`. The evidence then holds the TPM's genuine
TPMS_ATTEST, its genuine signature and the key's genuine TPMT_PUBLIC (and Parsec's platform token the TPM's
genuine TPM2_Quote). The emulated attestation CA issues the certificate for the real AK's public key, so the
evidence chains to the emulated root a verifier is given with ``--root``; the real EK chain (swtpm-localca) is
written beside it.

A format whose AK is a Windows AIK (``ms-kast``) asks for the TPM's AK of
:attr:`~hsmsim.keystore.base.AkTemplate.WINDOWS` (RSA-2048, RSASSA/SHA-256, a child of the SRK), the others
for its default AK (ECC P-256 under the EK, as ``tpm2_createak`` makes it).

A real AK certificate comes after MakeCredential / ActivateCredential shows the AK sits next to
the EK; hsmsim's CA issues it without that protocol, since the AK and the EK share one local TPM.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import AttestationRequest
from hsmsim.formats.tpm.device import EmulatedTpm, ek_urn
from hsmsim.formats.tpm.structures import PcrSelection, TpmtPublic, TpmtSignature, pcr_selection_list
from hsmsim.keystore.base import AkTemplate, TpmCertifier

EK_CHAIN_SUFFIX = ".ek-chain.pem"


@dataclass(frozen=True)
class GenuineTpm:
    """The real TPM holding the key ``label``, its AK's public key, and the AK certificate for it; ``ak`` is
    the template of the AK that certifies."""

    certifier: TpmCertifier
    label: str
    ak_public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    ak_certificate: x509.Certificate
    ek_chain: tuple[x509.Certificate, ...]
    ak: AkTemplate = AkTemplate.TPM2_TOOLS

    def key_public(self) -> TpmtPublic:
        """The key's TPMT_PUBLIC as the TPM holds it."""
        return TpmtPublic.unmarshal(self.certifier.public_area(self.label))

    def certify(self, qualifying_data: bytes, signature_encoding: str) -> tuple[bytes, bytes, bytes]:
        """TPM2_Certify in the TPM: (certInfo, sig bare or as TPMT_SIGNATURE, pubArea), byte for byte."""
        result = self.certifier.certify(self.label, qualifying_data, self.ak)
        signature = TpmtSignature.unmarshal(result.signature)
        sig = signature.marshal() if signature_encoding == "tpmt" else signature.bare()
        return result.attest, sig, result.public

    def quote(self, selections: tuple[PcrSelection, ...], qualifying_data: bytes) -> tuple[bytes, bytes]:
        """TPM2_Quote of the PCRs ``selections`` in the TPM by its AK: (attestInfo, TPMT_SIGNATURE), byte for byte."""
        result = self.certifier.quote(pcr_selection_list(selections), qualifying_data)
        return result.attest, result.signature

    def ek_chain_pem(self) -> bytes:
        """The EK certificate and its issuers as concatenated PEM, leaf first."""
        return b"".join(cert.public_bytes(Encoding.PEM) for cert in self.ek_chain)


def genuine_tpm(request: AttestationRequest, tpm: EmulatedTpm, *, key_name: str,
                names_device: bool, ak_template: AkTemplate = AkTemplate.TPM2_TOOLS) -> GenuineTpm | None:
    """The request's real TPM with an AK certificate from the emulated CA of ``tpm``'s hierarchy for its AK of
    ``ak_template``, or None when the key is not in a TPM.

    With ``names_device`` the certificate names the TPM by its real EK's URN (ACME).
    """
    if request.tpm is None:
        return None
    certifier = request.tpm
    ak = certifier.attestation_key(ak_template)
    ek_chain = certifier.endorsement_chain()
    permanent_id = ek_urn(ek_chain[0].public_key()) if names_device else None  # type: ignore[arg-type]
    cert = tpm.ak_certificate(ak.public_key, created=request.device.attestation_created,
                              key_name=f"{key_name}/genuine/{ak.qualified_name.hex()}", permanent_id=permanent_id)
    return GenuineTpm(certifier, request.key.label, ak.public_key, cert, ek_chain, ak_template)
