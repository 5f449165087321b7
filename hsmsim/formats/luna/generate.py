"""The Luna PKC generator: the certs-only PKCS#7 ``cmu getpkc`` writes, the CSR, the root to trust.

Facts from ``shared/specs/luna_fortanix_nshield.md`` 2 (EXACT, checked against the real published
samples):

* The PKC is a DER PKCS#7 ``signedData``: version 1, empty ``digestAlgorithms``, ``data`` content
  type with no content, the certificates leaf first, no CRLs, empty ``signerInfos``: byte for byte
  what ``openssl crl2pkcs7 -nocrl`` builds from the same certificates. Nothing is signed over any
  claim: the evidence is that the device's DAC (RSA) or HOC (ECC) issued a certificate for the key,
  which Luna does only for keys generated inside the HSM and never extractable.
* ``pkctype`` 2 (Chrysalis-ITS): PKC -> DAC -> HOC -> MIC -> root for RSA keys; PKC -> HOC -> root
  for EC keys. ``pkctype`` 1 (TC-Trust Center): PKC -> DAC -> TC root (the chain is a GUESS).
* Luna writes ``critical FALSE`` explicitly (cryptography cannot parse such certificates) and,
  on the real ECC leaf, an unpadded ECDSA ``s``; both are switchable in :class:`LunaOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from asn1crypto import core
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import der_oid, der_sequence, der_tlv, pem, spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.luna.der_reader import OID_DATA
from hsmsim.formats.luna.layout import FORMAT_NAME, OID_SIGNED_DATA, root_file_for
from hsmsim.formats.luna.options import LunaOptions
from hsmsim.formats.luna.pki import (
    PARSEABLE,
    LunaPki,
    algorithm_identifier,
    build_luna_certificate,
    encode_name,
    luna_pki,
    ouid,
    pkc_spec,
    sign_message,
)
from hsmsim.keystore.base import PrivateKey, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem


def certs_only_pkcs7(certificates: list[bytes], *, crls: bytes | None = None, signer_infos: bytes = b"",
                     digest_algorithms: bytes = b"", content: bytes | None = None) -> bytes:
    """A PKCS#7 SignedData exactly as ``openssl crl2pkcs7 -nocrl`` writes it for these certificates
    (in this order); the keyword arguments add what Luna never writes, for defect vectors."""
    data_oid = der_oid(OID_DATA)
    encap = der_sequence(data_oid, der_tlv(0xA0, content)) if content is not None else der_sequence(data_oid)
    signed = der_sequence(core.Integer(1).dump(), der_tlv(0x31, digest_algorithms), encap,
                          der_tlv(0xA0, b"".join(certificates)),
                          der_tlv(0xA1, crls) if crls is not None else b"", der_tlv(0x31, signer_infos))
    return der_sequence(der_oid(OID_SIGNED_DATA), der_tlv(0xA0, signed))


def build_csr(key: StoredKey, signer: PrivateKey, options: LunaOptions | None = None) -> bytes:
    """The CSR ``cmu requestcertificate`` writes for ``key``: PKCS#10 v1, PrintableString RDNs,
    empty attributes, SHA-256 (ECDSA with NULL parameters), PEM ``NEW CERTIFICATE REQUEST``."""
    options = options or LunaOptions()
    subject = encode_name(tuple((attr, value.replace("{label}", key.label)) for attr, value in options.csr_subject))
    algorithm = "sha256_ecdsa" if isinstance(signer, ec.EllipticCurvePrivateKey) else "sha256_rsa"
    info = der_sequence(core.Integer(0).dump(), subject, spki_der(signer.public_key()), der_tlv(0xA0, b""))
    signature = sign_message(info, signer, algorithm)
    der = der_sequence(info, algorithm_identifier(algorithm, options.encoding), der_tlv(0x03, b"\x00" + signature))
    return pem(der, "NEW CERTIFICATE REQUEST", b"\r\n" if options.csr_crlf else b"\n")


def device_serial(device: Device) -> int:
    """The device serial as Luna's uint32; raises :class:`UnsupportedKeyError` when it is not one."""
    if not device.serial.isdigit() or int(device.serial) >= 1 << 32:
        raise UnsupportedKeyError(f"a Luna serial is a decimal uint32, not {device.serial!r}")
    return int(device.serial)


@dataclass(frozen=True)
class LunaBundle:
    """One generated PKC before packaging: the certificates (leaf first) and the files around them."""

    stem: str
    certificates: tuple[bytes, ...]
    csr_pem: bytes
    root_file: str
    root_pem: bytes

    def evidence(self, pkc: bytes | None = None) -> Evidence:
        """``<stem>-pkc.p7b``, ``<stem>.csr`` and the root to trust (``pkc`` overrides the container)."""
        files = {f"{self.stem}-pkc.p7b": pkc if pkc is not None else certs_only_pkcs7(list(self.certificates)),
                 f"{self.stem}.csr": self.csr_pem, self.root_file: self.root_pem}
        return Evidence(FORMAT_NAME, files, f"{self.stem}-pkc.p7b")


def anchor_der(pki: LunaPki, ec_key: bool, pkc_type: int, options: LunaOptions) -> bytes:
    """The root as a trust-anchor file: the bag's own root, re-encoded so cryptography loads it
    (same name, key and extensions; the ECC root without its NULL parameters)."""
    parseable = luna_pki(pki.seed, pki.serial, model=pki.model, firmware=pki.firmware, encoding=PARSEABLE,
                         ca_extensions=options.ca_extensions)
    return parseable.issuers(ec_key, pkc_type)[-1].der


def assemble(key: StoredKey, signer: PrivateKey | None, seed: str, serial: int, partition: str,
             options: LunaOptions | None = None) -> LunaBundle:
    """Issue the PKC leaf for ``key`` under the device's emulated hierarchy (the generator's pure core)."""
    options = options or LunaOptions()
    if key.public_key is None or signer is None:
        raise UnsupportedKeyError(f"{key.label} is a secret key; a Luna PKC confirms key pairs only")
    if not isinstance(key.public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedKeyError(f"{key.spec.name} keys have no Luna PKC (RSA and EC only)")
    attrs = key.attributes
    if not attrs.local or attrs.extractable or not attrs.never_extractable:
        raise UnsupportedKeyError(f"{key.label} was imported or is (or was) extractable; Luna issues a PKC only "
                                  "for keys generated in the HSM that never left it")
    ec_key = isinstance(key.public_key, ec.EllipticCurvePublicKey)
    pki = luna_pki(seed, serial, model=options.model, firmware=options.firmware, encoding=options.encoding,
                   ca_extensions=options.ca_extensions)
    issuers = pki.issuers(ec_key, options.pkc_type)
    spec = pkc_spec(pki, key.public_key, ouid(seed, serial, partition, key.label), pkc_type=options.pkc_type,
                    unpadded_ecdsa_s=options.unpadded_ecdsa_s)
    leaf = build_luna_certificate(spec, issuers[0].key, options.encoding)
    chain = [leaf, *(ca.der for ca in issuers)]
    if not options.include_root:
        chain = chain[:-1]
    return LunaBundle(safe_file_stem(key.label), tuple(chain), build_csr(key, signer, options),
                      root_file_for(ec_key, options.pkc_type), pem(anchor_der(pki, ec_key, options.pkc_type, options)))


def generate_pkc(request: AttestationRequest, options: LunaOptions) -> Evidence:
    """The PKC, CSR and root file for the request's key, written with ``options``.

    Request parameters: ``pkc_type`` (1 or 2, as ``cmu getpkc -pkctype``) and ``options`` (a
    :class:`LunaOptions` replacing the given one). Raises :class:`ParameterError` for a bad parameter,
    :class:`UnsupportedKeyError` for a key Luna issues no PKC for.
    """
    chosen = request.parameters.get("options", options)
    if not isinstance(chosen, LunaOptions):
        raise ParameterError.invalid("options", "a LunaOptions", chosen)
    pkc_type = request.parameters.get("pkc_type")
    if pkc_type is not None:
        if pkc_type not in (1, 2):
            raise ParameterError.invalid("pkc_type", "1 or 2", pkc_type)
        chosen = replace(chosen, pkc_type=pkc_type)
    bundle = assemble(request.key, request.key_signer, request.device.seed, device_serial(request.device),
                      request.partition, chosen)
    return bundle.evidence()
