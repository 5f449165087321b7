"""Google's documented Cloud HSM attestation check, reproduced with ``cryptography`` only.

    verify_marvell_google.py --certificates KEY.certs.pem --attestation KEY.attestation.dat \\
        --manufacturer-root liquid_security_certificate.crt --owner-root hawksbill_root_v1_prod.crt

The walk of ``kms/attestations/verify_attestation_chains.py`` (shared/specs/marvell.md 5.2), with
the two roots given as files instead of downloaded (Marvell) and hard-coded (Hawksbill):

1. the manufacturer root's subject must be the LS1 DN byte for byte (hsmsim's EMULATED CN accepted);
2. card = the bundle certificate the root signed, partition = the one the card signed;
3. owner card / owner partition = certificates the owner root signed carrying the card's /
   partition's exact SubjectPublicKeyInfo; no other certificate may be left in the bundle;
4. gunzip, then RSASSA-PKCS1-v1_5/SHA-256 over everything but the last 256 bytes, with both
   partition keys.

Like the original it checks no attribute, no date and no key binding. It prints the original's
messages; unlike the original (which exits 0 either way) it exits 0 only when verified.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID


def ls1_subject(cn: str) -> bytes:
    """DER of the LS1 root subject (C PrintableString, the rest UTF8String, one attribute per RDN)."""
    utf8 = _ASN1Type.UTF8String
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US", _type=_ASN1Type.PrintableString),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California", _type=utf8),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "San Jose", _type=utf8),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cavium, Inc.", _type=utf8),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "LiquidSecurity", _type=utf8),
        x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=utf8),
    ]).public_bytes()


EXPECTED_SUBJECTS = {ls1_subject("localca.liquidsecurity.cavium.com"),
                     ls1_subject("localca.liquidsecurity.cavium.com EMULATED")}


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Issuer name matches and the issuer's key verifies the signature (PKCS#1 v1.5, the cert's hash)."""
    if cert.issuer != issuer.subject:
        return False
    public = issuer.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                      cert.signature_hash_algorithm)  # type: ignore[arg-type]
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def spki(cert: x509.Certificate) -> bytes:
    """DER SubjectPublicKeyInfo."""
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def take(certs: list[x509.Certificate], issuer: x509.Certificate, key_of: x509.Certificate | None = None
         ) -> x509.Certificate | None:
    """Remove and return the first certificate ``issuer`` signed (with ``key_of``'s SPKI when given)."""
    for cert in certs:
        if issued_by(cert, issuer) and (key_of is None or spki(cert) == spki(key_of)):
            certs.remove(cert)
            return cert
    return None


def verify(certificates: bytes, attestation: bytes, manufacturer_root: x509.Certificate,
           owner_root: x509.Certificate) -> bool:
    """True when Google's documented walk accepts; prints the original script's messages."""
    if manufacturer_root.subject.public_bytes() not in EXPECTED_SUBJECTS:
        print("The manufacturer root certificate subject is not the LiquidSecurity one.")
        return False
    certs = list({c.public_bytes(serialization.Encoding.DER): c
                  for c in x509.load_pem_x509_certificates(certificates)}.values())
    card = take(certs, manufacturer_root)
    partition = take(certs, card) if card is not None else None
    if card is None or partition is None:
        print("Invalid HSM manufacturer certificate chain.")
        return False
    print("Successfully built HSM manufacturer certificate chain.")
    owner_card = take(certs, owner_root, card)
    owner_partition = take(certs, owner_root, partition)
    if owner_card is None or owner_partition is None or certs:
        print("Invalid HSM owner certificate chain.")
        return False
    print("Successfully built HSM owner certificate chain.")
    try:
        blob = gzip.decompress(attestation)
    except (OSError, EOFError, zlib.error):
        print("The attestation could not be verified.")
        return False
    for cert in (partition, owner_partition):
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        try:
            public.verify(blob[-256:], blob[:-256], padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            print("The attestation could not be verified.")
            return False
    print("The attestation has been verified.")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=Path, required=True)
    parser.add_argument("--attestation", type=Path, required=True)
    parser.add_argument("--manufacturer-root", type=Path, required=True)
    parser.add_argument("--owner-root", type=Path, required=True)
    args = parser.parse_args()
    load = x509.load_pem_x509_certificate
    ok = verify(args.certificates.read_bytes(), args.attestation.read_bytes(),
                load(args.manufacturer_root.read_bytes()), load(args.owner_root.read_bytes()))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
