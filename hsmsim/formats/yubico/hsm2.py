"""YubiHSM 2 key attestation: the certificate ``attest-asymmetric`` (Sign Attestation Certificate) returns.

Facts (``shared/specs/other_formats.md`` 2.2, the real sample in ``shared/interop/yubihsm2``): the
certificate is built from the attesting certificate as a template: the attested key's SPKI, a random
16-byte serial, issuer = the attesting certificate's subject (the built-in key 0's ``YubiHSM
Attestation (<serial>)``), its validity copied, subject ``YubiHSM Attestation id:0x<object id>``,
SHA-256 PKCS#1 v1.5, and the seven key extensions 4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.9 in that order
(firmware, serial, origin, domains, capabilities, object id, label).

Evidence on disk: ``<stem>_chain.pem`` (key attestation, device attestation, sub-CA: leaf first), the
key's CSR ``<stem>.csr``, ``<stem>.request.json`` (the serial the relying party expects) and the
emulated root ``yubihsm2_attest_root.crt``. The real sample's layout is read too: ``chain.pem`` (the
same three certificates), or ``key_attestation.crt`` beside the device certificate and the sub-CA,
and the CSR as ``csr.pem`` (found by content).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hsmsim.encoding import cert_pem
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.yubico.extensions import HsmKeyExtensions, Origin, capability_mask, hsm_key_extensions
from hsmsim.formats.yubico.layout import CHAIN_SUFFIX, HSM_FORMAT, HSM_ROOT_FILE
from hsmsim.formats.yubico.piv import public_fingerprint
from hsmsim.formats.yubico.pki import HsmPki, cn, serial_bytes
from hsmsim.keystore.base import PrivateKey, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, build_csr, key_usage, name
from hsmsim.pki.seed import drbg


def capabilities_of(key: StoredKey) -> int:
    """The capability word yubihsm-shell would give the key for its PKCS#11-style permissions."""
    attrs, public = key.attributes, key.public_key
    names = []
    if attrs.sign:
        if isinstance(public, rsa.RSAPublicKey):
            names += ["sign-pkcs", "sign-pss"]
        elif isinstance(public, ec.EllipticCurvePublicKey):
            names.append("sign-ecdsa")
        elif isinstance(public, ed25519.Ed25519PublicKey):
            names.append("sign-eddsa")
    if attrs.decrypt and isinstance(public, rsa.RSAPublicKey):
        names += ["decrypt-pkcs", "decrypt-oaep"]
    if attrs.derive and isinstance(public, ec.EllipticCurvePublicKey):
        names.append("derive-ecdh")
    if attrs.extractable:
        names.append("exportable-under-wrap")
    return capability_mask(*names)


def object_id(seed: str, label: str) -> int:
    """The key's 16-bit object id, derived from the seed and label (never 0, the attestation key's)."""
    return 1 + int.from_bytes(drbg(seed, f"yubico/yubihsm/object/{label}").read(2), "big") % 0xFFFE


def key_fields(seed: str, pki: HsmPki, key: StoredKey, *, domains: int = 0x0001) -> HsmKeyExtensions:
    """What the device writes about ``key``: its origin, domains, capabilities, object id and label."""
    origin = Origin.GENERATED if key.attributes.local else Origin.IMPORTED
    return HsmKeyExtensions(firmware=pki.firmware, serial=pki.serial, origin=int(origin), domains=domains,
                            capabilities=capabilities_of(key), object_id=object_id(seed, key.label),
                            label=key.label[:40])


def key_certificate(seed: str, pki: HsmPki, key: StoredKey, fields: HsmKeyExtensions, *,
                    signer: PrivateKey | None = None) -> x509.Certificate:
    """The key attestation certificate the device's attestation key (or ``signer``) issues."""
    assert key.public_key is not None
    device = pki.device.certificate
    return build_certificate(CertSpec(
        subject=cn(f"YubiHSM Attestation id:0x{fields.object_id:04x}"), issuer=device.subject,
        public_key=key.public_key,
        serial=serial_bytes(seed, f"yubico/yubihsm/{pki.serial}/key/{public_fingerprint(key.public_key)}", 16),
        not_before=device.not_valid_before_utc, not_after=device.not_valid_after_utc,
        extensions=tuple(Ext(e) for e in hsm_key_extensions(fields))), signer or pki.device.key)


@dataclass
class HsmBundle:
    """One YubiHSM 2 key attestation before packaging."""

    stem: str
    chain: list[x509.Certificate]
    root: x509.Certificate
    csr_pem: bytes | None
    expected_serial: int | None

    def evidence(self) -> Evidence:
        """``<stem>_chain.pem``, the CSR, the request and the root."""
        primary = f"{self.stem}{CHAIN_SUFFIX}"
        files = {primary: b"".join(cert_pem(c) for c in self.chain)}
        if self.csr_pem is not None:
            files[f"{self.stem}.csr"] = self.csr_pem
        if self.expected_serial is not None:
            request = json.dumps({"serial": self.expected_serial}, indent=2) + "\n"
            files[f"{self.stem}.request.json"] = request.encode()
        files[HSM_ROOT_FILE] = cert_pem(self.root)
        return Evidence(HSM_FORMAT, files, primary)


def hsm_csr(label: str, signer: PrivateKey) -> bytes:
    """The PEM CSR of a YubiHSM 2 key: ``CN=<label>`` (UTF8String), signed by the key itself, with an
    extensionRequest for a non-critical keyUsage digitalSignature, as the published ``csr.pem``."""
    return build_csr(name(("CN", label, UTF8)), signer, extensions=(Ext(key_usage("digital_signature")),)
                     ).public_bytes(serialization.Encoding.PEM)


def assemble_hsm(seed: str, pki: HsmPki, key: StoredKey, signer: PrivateKey) -> HsmBundle:
    """Attest ``key`` on the device of ``pki`` (the generator's pure core)."""
    if key.public_key is None:
        raise UnsupportedKeyError("a YubiHSM 2 attests asymmetric keys only")
    fields = key_fields(seed, pki, key)
    leaf = key_certificate(seed, pki, key, fields)
    return HsmBundle(safe_file_stem(key.label), [leaf, pki.device.certificate, pki.sub_ca.certificate],
                     pki.root.certificate, hsm_csr(key.label, signer), pki.serial)
