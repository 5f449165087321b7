"""What a QTSP receives from a Primus: the TSB attestation zip, the CSR and the root.

Layout facts are from ``shared/specs/primus.md`` 1.2 and 1.4-1.5 (EXACT where a real capture shows them):

* ``<label>.sig``: raw RSASSA-PKCS1-v1_5/SHA-256 over the exact XML bytes by the partition's
  RSA-3072 attestation key.
* ``PrimusHSM_Attestation.crt``: leaf, device, root copy, each PEM newline-terminated.
* The zip from ``POST /v1/key/keyAttestation``: ``<label>.sig``, ``<label>.xml``, ``<label>.pem``,
  ``PrimusHSM_Attestation.crt``, the README, plus the public key under its documented second
  name ``PrimusHSM_Attestation_PublicKey.pem``.
  Its headers are Java's (:mod:`~hsmsim.formats.primus.archive`).
* The CSR comes from a separate endpoint and the root is downloaded separately; a QTSP bundle
  is zip + ``<label>.csr`` + ``hsm_rsa_root.crt``. The CSR has the real one's shape
  (``shared/interop/securosys/csr.pem``): PKCS#10 v1, one extensionRequest attribute holding
  a non-critical keyUsage digitalSignature, SHA-256 signature by the key itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.primus.archive import ZipLayout, build_zip
from hsmsim.formats.primus.layout import CHAIN_FILE, PUBKEY_FILE, README_FILE, ROOT_FILE
from hsmsim.formats.primus.options import PrimusOptions
from hsmsim.formats.primus.xml import render_xml
from hsmsim.keystore.base import PrivateKey, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, Ext, build_csr, key_usage, name
from hsmsim.pki.identity import AttestationIdentity


def sign_xml(xml: bytes, key: PrivateKey) -> bytes:
    """The raw ``.sig``: RSASSA-PKCS1-v1_5/SHA-256 (or ECDSA-SHA256 for an EC attesting key)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(xml, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(xml, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    raise UnsupportedKeyError("a Primus attestation key must be RSA or EC")


def readme_text(stem: str) -> bytes:
    """The verification guide shipped inside the zip (hsmsim's own words)."""
    return f"""# Primus HSM key attestation (emulated by hsmsim)

This archive was produced by hsmsim, a software emulation of a Securosys Primus HSM.
Its root certificate is EMULATED: it does not chain to a Securosys production root.

Files:
- `{stem}.xml`  key attributes, signed byte for byte
- `{stem}.sig`  RSASSA-PKCS1-v1_5/SHA-256 signature over `{stem}.xml`
- `{stem}.pem`, `{PUBKEY_FILE}`  public key of the attestation key
- `{CHAIN_FILE}`  attestation certificate, device certificate, root copy

Verify with OpenSSL (root `{ROOT_FILE}`, CSR `{stem}.csr`):

    openssl verify -CAfile {ROOT_FILE} -untrusted {CHAIN_FILE} {CHAIN_FILE}
    openssl x509 -in {CHAIN_FILE} -noout -pubkey > leaf.pem
    openssl dgst -sha256 -verify leaf.pem -signature {stem}.sig {stem}.xml
    openssl req -in {stem}.csr -noout -pubkey -out csr_pub.pem
    openssl asn1parse -noout -in csr_pub.pem -out csr_pub.der
    grep public_key {stem}.xml | sed -e 's,[^>]*>,,' -e 's,<.*,,' | base64 -d > xml_pub.der
    cmp csr_pub.der xml_pub.der && echo Verified OK

Then require creation="generated", extractable=false and never_extractable=true.
""".encode()


def csr_for(common_name: str, signer: PrivateKey, options: PrimusOptions = PrimusOptions()) -> bytes:
    """The PEM CSR TSB writes for a key: ``CN=<common_name>`` (UTF8String), signed by the key itself,
    requesting a non-critical keyUsage digitalSignature (the real CSR's only extension) unless
    ``options.csr_key_usage`` is off."""
    extensions = (Ext(key_usage("digital_signature")),) if options.csr_key_usage else ()
    csr = build_csr(name(("CN", common_name, UTF8)), signer, extensions=extensions)
    return csr.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class PrimusBundle:
    """The pieces of one generated attestation, before packaging."""

    stem: str
    xml: bytes
    signature: bytes
    chain_pem: bytes
    attestation_pubkey_pem: bytes
    csr_pem: bytes | None
    root_pem: bytes
    zip_layout: ZipLayout = "java"

    @property
    def zip_name(self) -> str:
        """The zip's file name, ``<label>_attestation.zip`` as TSB names it (the evidence's primary file)."""
        return f"{self.stem}_attestation.zip"

    def members(self) -> list[tuple[str, bytes]]:
        """The zip's members (name, content) in the order they are written."""
        return [
            (f"{self.stem}.sig", self.signature),
            (f"{self.stem}.xml", self.xml),
            (f"{self.stem}.pem", self.attestation_pubkey_pem),
            (CHAIN_FILE, self.chain_pem),
            (PUBKEY_FILE, self.attestation_pubkey_pem),
            (README_FILE, readme_text(self.stem)),
        ]

    def beside_zip(self) -> dict[str, bytes]:
        """The files a QTSP receives beside the zip, in order: the CSR (asymmetric keys) and the root."""
        files = {} if self.csr_pem is None else {f"{self.stem}.csr": self.csr_pem}
        files[ROOT_FILE] = self.root_pem
        return files

    def evidence(self, when: datetime) -> Evidence:
        """The files a QTSP receives: the TSB zip of :meth:`members`, then the files :meth:`beside_zip`."""
        zipped = build_zip(self.members(), when, layout=self.zip_layout)
        return Evidence(format="primus", files={self.zip_name: zipped, **self.beside_zip()}, primary=self.zip_name)


def assemble(
    key: StoredKey, signer: PrivateKey | None, identity: AttestationIdentity, at: datetime,
    options: PrimusOptions = PrimusOptions(), common_name: str | None = None,
) -> PrimusBundle:
    """Render, sign and chain the attestation of ``key`` (the generator's pure core); the CSR's
    common name is ``common_name`` or the key's label."""
    xml = render_xml(key, at, options)
    chain = identity.chain_pem + ((identity.root_pem,) if options.chain_includes_root else ())
    csr_pem = csr_for(common_name or key.label, signer, options) if signer is not None else None
    return PrimusBundle(
        stem=safe_file_stem(key.label), xml=xml, signature=sign_xml(xml, identity.key),
        chain_pem=b"".join(chain), attestation_pubkey_pem=identity.public_key_pem,
        csr_pem=csr_pem, root_pem=identity.root_pem, zip_layout=options.zip_layout,
    )
