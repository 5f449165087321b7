"""A Primus verifier as a CA engineer might write it from PyPI parts: pyhanko-certvalidator for the chain.

It is the fuzzer's "real third-party" target (README, "Fuzzing"): the chain goes through
``pyhanko_certvalidator`` (RFC 5280 path validation, trust roots, validation time), the XML
through the standard library's ``xml.etree``, the archive through ``zipfile``, the signature
and CSR through ``cryptography``. It follows the vendor's documented checks. Needs
``pip install pyhanko-certvalidator``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

__version__ = "1.0"


def _files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    flat: dict[str, bytes] = {}
    for name, data in files.items():
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                flat.update({info.filename: archive.read(info) for info in archive.infolist()})
        else:
            flat[name.rsplit("/", 1)[-1]] = data
    return flat


def _chain_ok(chain_pem: bytes, anchors_pem: tuple[str, ...], moment: object) -> str | None:
    from asn1crypto import pem as asn1_pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    certs = [asn1_x509.Certificate.load(der) for _, _, der in asn1_pem.unarmor(chain_pem, multiple=True)]
    roots = [asn1_x509.Certificate.load(asn1_pem.unarmor(a.encode())[2]) for a in anchors_pem]
    context = ValidationContext(trust_roots=roots, moment=moment, allow_fetching=False)
    validator = CertificateValidator(certs[0], intermediate_certs=certs[1:], validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage({"digital_signature"}))
    except Exception as exc:  # noqa: BLE001 - the library raises many types; all mean "chain rejected"
        return f"{type(exc).__name__}: {exc}"
    return None


def verify(request: object) -> dict[str, str]:
    """Verdict for one hsmsim VerifyRequest (evidence, anchors_pem, at)."""
    files = _files(request.evidence.files)  # type: ignore[attr-defined]
    xml_name = next(n for n in files if n.endswith(".xml"))
    stem = xml_name[:-4]
    xml, signature = files[xml_name], files[f"{stem}.sig"]
    chain_pem = files["PrimusHSM_Attestation.crt"]
    problem = _chain_ok(chain_pem, request.anchors_pem, request.at)  # type: ignore[attr-defined]
    if problem:
        return {"verdict": "REJECT", "reason": "CHAIN_UNTRUSTED", "detail": problem}
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    try:
        leaf.public_key().verify(signature, xml, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    except Exception:  # noqa: BLE001
        return {"verdict": "REJECT", "reason": "SIGNATURE_INVALID"}
    root = ET.fromstring(xml)
    if root.get("creation") != "generated":
        return {"verdict": "REJECT", "reason": "ATTR_NOT_LOCAL"}
    attributes = root.find("attributes")
    if attributes is None or attributes.findtext("extractable") != "false":
        return {"verdict": "REJECT", "reason": "ATTR_EXTRACTABLE"}
    if attributes.findtext("never_extractable") != "true":
        return {"verdict": "REJECT", "reason": "ATTR_NOT_NEVER_EXTRACTABLE"}
    csr_name = next((n for n in files if n.endswith(".csr")), None)
    if csr_name is None:
        return {"verdict": "REJECT", "reason": "MISSING_INPUT"}
    csr = x509.load_pem_x509_csr(files[csr_name])
    spki = csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if not csr.is_signature_valid:
        return {"verdict": "REJECT", "reason": "CSR_SIGNATURE_INVALID"}
    if base64.b64decode(root.findtext("public_key") or "") != spki:
        return {"verdict": "REJECT", "reason": "KEY_MISMATCH"}
    return {"verdict": "ACCEPT", "reason": "OK"}
