"""SmartCard-HSM evidence for an attestation request: the key's authenticated CV request, EF.C_DevAut, a PKCS#10
request for the same key and the emulated SRCA's carrier.

GENERATE ASYMMETRIC KEY PAIR answers with the authenticated request (the card keeps it in EF ``CE<key id>``
until a certificate replaces it): ``67 { 7F21 { 7F4E body, 5F37 inner signature }, 42 outer CAR, 5F37 outer
signature }``. The body is CPI 00, the CAR the request was addressed to, the key with its domain parameters and
the key's CHR; the inner signature is the new key's over the body TLV, the outer one the Device Authentication
key's over the 7F21 TLV followed by the 42 TLV, its CAR being the device certificate's CHR.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.device import AttestationRequest
from hsmsim.encoding import cert_pem
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.cardcontact import cvc
from hsmsim.formats.cardcontact.layout import C_DEVAUT_FILE, FORMAT, REQUEST_SUFFIX, ROOT_FILE
from hsmsim.formats.cardcontact.pki import INNER_CAR, CardContactPki, cardcontact_pki, key_chr
from hsmsim.keystore.base import PrivateKey, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, build_csr, name


def request_body(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, chr_: str, car: str | None = INNER_CAR,
                 *, domain: bool = True) -> bytes:
    """The 7F4E of a key's request: CPI 00, CAR (when given), the key (EC with its domain parameters), CHR."""
    return cvc.encode(cvc.T_BODY, b"".join((
        cvc.encode(cvc.T_CPI, b"\x00"), *((cvc.encode(cvc.T_CAR, car.encode()),) if car is not None else ()),
        cvc.encode_public_key(public_key, domain=domain), cvc.encode(cvc.T_CHR, chr_.encode()))))


def inner_request(body: bytes, signer: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    """The 7F21 of a request: ``body`` and the key's own signature over it."""
    return cvc.encode(cvc.T_CVC, body + cvc.encode(cvc.T_SIGNATURE, cvc.sign(signer, body)))


def authenticate(inner: bytes, outer_car: str, device_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 67 around ``inner``: the outer CAR and the device key's signature over ``inner`` || the CAR's TLV."""
    car = cvc.encode(cvc.T_CAR, outer_car.encode())
    return cvc.encode(cvc.T_AUTH_REQUEST, inner + car + cvc.encode(cvc.T_SIGNATURE, cvc.sign(device_key, inner + car)))


def card_signer(key: StoredKey, signer: PrivateKey | None) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """The key's signer when the card could have generated it: RSA, or EC on P-256 or P-384; raises
    :class:`UnsupportedKeyError` otherwise, and for a key not generated on the device (the card authenticates
    only the keys GENERATE ASYMMETRIC KEY PAIR makes)."""
    if not key.attributes.local:
        raise UnsupportedKeyError(f"key {key.label!r} was imported: a SmartCard-HSM authenticates only keys it "
                                  "generates")
    if isinstance(signer, rsa.RSAPrivateKey) or (
            isinstance(signer, ec.EllipticCurvePrivateKey) and signer.curve.name in ("secp256r1", "secp384r1")):
        return signer
    raise UnsupportedKeyError("the SmartCard-HSM format attests RSA and EC P-256/P-384 keys only")


@dataclass(frozen=True)
class CardContactBundle:
    """One generated attestation: the authenticated request, EF.C_DevAut, the key's CSR and the root carrier."""

    stem: str
    request: bytes
    c_devaut: bytes
    csr_pem: bytes | None
    root_pem: bytes

    def evidence(self) -> Evidence:
        """The files a CA receives: ``<label>.cvreq``, ``C_DevAut.bin``, ``<label>.csr`` and the SRCA carrier."""
        files = {f"{self.stem}{REQUEST_SUFFIX}": self.request, C_DEVAUT_FILE: self.c_devaut, ROOT_FILE: self.root_pem}
        if self.csr_pem is not None:
            files[f"{self.stem}.csr"] = self.csr_pem
        return Evidence(format=FORMAT, files=files, primary=f"{self.stem}{REQUEST_SUFFIX}")


def assemble(key: StoredKey, signer: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, pki: CardContactPki,
             serial: str) -> CardContactBundle:
    """The bundle for ``key`` on the card of ``pki`` (the generator's pure core)."""
    public = signer.public_key()
    request = authenticate(inner_request(request_body(public, key_chr(serial)), signer), pki.device_chr,
                           pki.device_key)
    csr = build_csr(name(("CN", key.label, UTF8)), signer)
    return CardContactBundle(stem=safe_file_stem(key.label), request=request, c_devaut=pki.c_devaut,
                             csr_pem=csr.public_bytes(serialization.Encoding.PEM), root_pem=cert_pem(pki.carriers[0]))


def generate_evidence(request: AttestationRequest) -> Evidence:
    """The SmartCard-HSM evidence for the request's key on the emulated card of the request's device."""
    signer = card_signer(request.key, request.key_signer)
    device = request.device
    pki = cardcontact_pki(device.seed, device.serial, device.initialised)
    return assemble(request.key, signer, pki, device.serial).evidence()
