"""A hand-written Securosys Primus verifier that follows the vendor's documented steps, with switchable mistakes.

With no flaw it checks, in order: the chain to the trust anchor (by signature, with dates,
CA bits, the leaf's keyUsage, and the leaf's issuer a Primus device certificate by its policy), the XML
signature with the *certificate's* key, the CSR's self-signature and its key against ``<public_key>`` (and
``<algorithm>``, ``<algorithm_oid>``, an EC key's ``<curve_oid>`` and ``<key_size>``), and the attributes
(``creation="generated"``, ``extractable=false``, ``never_extractable=true``). Each flaw breaks exactly one
step the way real verifiers do:

=====================  ===============================================================
``signature-only``     checks the XML signature with the bundled certificate, nothing else
``no-chain``           never validates the certificate chain against the trust anchor
``chain-by-name``      walks the chain by issuer/subject *names*, never by signature
``no-csr-binding``     never compares the attested key with the CSR
``attributes-ignored`` never looks at creation / extractable / never_extractable
``loose-pem``          verifies the signature with ``PrimusHSM_Attestation_PublicKey.pem``
=====================  ===============================================================

The verdict carries a free-text step (``chain``, ``signature``, ...), not an hsmsim reason
code, so the harness judges its verdicts only. Used in-process (``naive-*.toml``) and as a
persistent JSON Lines process (``naive_primus_server.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from hsmsim.pki.chain import require_key_usage, validate_chain
from hsmsim.safeio import parse_xml, read_zip
from hsmsim.verdict import Rejected

__version__ = "1.0"
FLAWS = ("signature-only", "no-chain", "chain-by-name", "no-csr-binding", "attributes-ignored", "loose-pem")
CHAIN_FILE = "PrimusHSM_Attestation.crt"
ALGORITHM_OIDS = {"RSA": "1.2.840.113549.1.1.1", "EC": "1.2.840.10045.2.1", "ED": "1.3.101.112"}
CURVE_OIDS = {"1.2.840.10045.3.1.7": "secp256r1", "1.3.132.0.34": "secp384r1", "1.3.132.0.35": "secp521r1"}
LOOSE_PEM = "PrimusHSM_Attestation_PublicKey.pem"
DEVICE_POLICY = x509.ObjectIdentifier("1.3.6.1.4.1.44668.4.1.3")


class Reject(Exception):  # noqa: N818 - a verdict, not an error
    """Stop with REJECT at a step."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


def _members(files: Mapping[str, bytes]) -> dict[str, bytes]:
    flat: dict[str, bytes] = {}
    for rel, data in files.items():
        if rel.lower().endswith(".zip"):
            try:
                flat.update(read_zip(data))
            except Rejected as exc:
                raise Reject("unzip", exc.detail) from None
        else:
            flat[rel.rsplit("/", 1)[-1]] = data
    return flat


def _walk_by_name(leaf: x509.Certificate, untrusted: list[x509.Certificate],
                  anchors: list[x509.Certificate], at: datetime) -> list[x509.Certificate]:
    """The mistake: an issuer is whoever carries the right *name*; no signature is checked. Returns the path,
    leaf first, ending at the anchor."""
    path = [leaf]
    for _ in range(8):
        current = path[-1]
        if not current.not_valid_before_utc <= at <= current.not_valid_after_utc:
            raise Reject("chain", f"{current.subject.rfc4514_string()} is not valid at {at:%Y-%m-%d}")
        anchor = next((anchor for anchor in anchors if anchor.subject == current.issuer), None)
        if anchor is not None:
            return [*path, anchor]
        if current.issuer == current.subject:
            raise Reject("chain", "chain ends at a root that is not trusted")
        issuer = next((c for c in untrusted if c.subject == current.issuer and c is not current), None)
        if issuer is None:
            raise Reject("chain", f"issuer {current.issuer.rfc4514_string()} not found")
        path.append(issuer)
    raise Reject("chain", "chain too long")


def _require_device_issuer(issuer: x509.Certificate) -> None:
    """The attestation certificate's issuer is a Primus device certificate (certificate policy
    1.3.6.1.4.1.44668.4.1.3): a path that ends at *some* trusted root is not enough when the store holds other
    vendors' roots too."""
    try:
        policies = issuer.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        policies = x509.CertificatePolicies([])
    if DEVICE_POLICY not in {policy.policy_identifier for policy in policies}:
        raise Reject("chain", f"{issuer.subject.rfc4514_string()} is not a Primus device certificate")


def _verify_signature(public_key: object, signature: bytes, xml: bytes) -> None:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, xml, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, xml, ec.ECDSA(hashes.SHA256()))
        else:
            raise Reject("signature", "attestation key is neither RSA nor EC")
    except (InvalidSignature, ValueError):
        raise Reject("signature", "XML signature does not verify") from None


def _spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _one(root: object, path: str) -> str:
    found = root.findall(path)  # type: ignore[attr-defined]
    if len(found) != 1:
        raise Reject("attributes", f"{path} appears {len(found)} times")
    return found[0].text or ""


def check(files: Mapping[str, bytes], anchors: list[x509.Certificate], at: datetime,
          flaws: frozenset[str] = frozenset()) -> tuple[str, str, str]:
    """(verdict, step, detail) for one Primus bundle; ``flaws`` is a subset of :data:`FLAWS`."""
    try:
        _check(_members(files), anchors, at, flaws)
    except Reject as reject:
        return "REJECT", reject.step, reject.detail
    return "ACCEPT", "", "all documented checks passed" + (f" (flaws: {', '.join(sorted(flaws))})" if flaws else "")


def _check(members: dict[str, bytes], anchors: list[x509.Certificate], at: datetime, flaws: frozenset[str]) -> None:
    xmls = [name for name in members if name.endswith(".xml")]
    if len(xmls) != 1 or CHAIN_FILE not in members:
        raise Reject("missing", "need exactly one .xml and the attestation certificate")
    label = xmls[0][:-4]
    xml, signature = members[xmls[0]], members.get(f"{label}.sig")
    if signature is None:
        raise Reject("missing", f"no {label}.sig")
    try:
        chain = x509.load_pem_x509_certificates(members[CHAIN_FILE])
    except ValueError:
        raise Reject("chain", "attestation certificate file does not parse") from None
    leaf = chain[0]
    if "signature-only" not in flaws and "no-chain" not in flaws:
        try:
            if "chain-by-name" in flaws:
                path = _walk_by_name(leaf, chain[1:], anchors, at)
            else:
                path = validate_chain(leaf, chain[1:], anchors, at)
            _require_device_issuer(path[1])
            require_key_usage(leaf)
        except Rejected as exc:
            raise Reject("chain", exc.detail) from None
    if "loose-pem" in flaws:
        try:
            key: object = serialization.load_pem_public_key(members.get(LOOSE_PEM, b""))
        except (ValueError, UnsupportedAlgorithm):
            raise Reject("signature", f"{LOOSE_PEM} does not parse") from None
    else:
        key = leaf.public_key()
    _verify_signature(key, signature, xml)
    if "signature-only" in flaws:
        return
    try:
        root = parse_xml(xml)
    except Rejected as exc:
        raise Reject("xml", exc.detail) from None
    if root.tag not in ("private_key", "secret_key"):
        raise Reject("xml", f"unexpected root <{root.tag}>")
    if root.tag == "private_key" and "no-csr-binding" not in flaws:
        csrs = [data for name, data in members.items() if name.endswith(".csr")]
        if len(csrs) != 1:
            raise Reject("binding", "need exactly one CSR")
        try:
            csr = x509.load_pem_x509_csr(csrs[0])
            csr_spki, csr_ok = _spki(csr.public_key()), csr.is_signature_valid
        except (ValueError, UnsupportedAlgorithm):
            raise Reject("binding", "CSR does not parse") from None
        if not csr_ok:
            raise Reject("binding", "CSR self-signature does not verify")
        try:
            attested = base64.b64decode(_one(root, "public_key"), validate=True)
        except (binascii.Error, Reject):
            raise Reject("binding", "<public_key> is not exactly one base64 value") from None
        if attested != csr_spki:
            raise Reject("binding", "CSR key differs from the attested key")
        key_type = {rsa.RSAPublicKey: "RSA", ec.EllipticCurvePublicKey: "EC", ed25519.Ed25519PublicKey: "ED"}
        wanted = next((t for cls, t in key_type.items() if isinstance(csr.public_key(), cls)), "?")
        if _one(root, "algorithm") != wanted:
            raise Reject("binding", f"<algorithm> does not name the {wanted} key type")
        if _one(root, "algorithm_oid") != ALGORITHM_OIDS.get(wanted):
            raise Reject("binding", f"<algorithm_oid> does not name the {wanted} key type")
        public = csr.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            if root.findall("curve_oid") and CURVE_OIDS.get(_one(root, "curve_oid")) != public.curve.name:
                raise Reject("binding", f"<curve_oid> does not name {public.curve.name}")
            if root.findall("key_size") and _one(root, "key_size") != str(public.curve.key_size):
                raise Reject("binding", f"<key_size> is not {public.curve.key_size}")
    if "attributes-ignored" not in flaws:
        if root.get("creation") != "generated":
            raise Reject("attributes", f"creation is {root.get('creation')!r}")
        if _one(root, "attributes/extractable") != "false":
            raise Reject("attributes", "key is extractable")
        if _one(root, "attributes/never_extractable") != "true":
            raise Reject("attributes", "key was extractable once")


def _python_entry(flaws: frozenset[str]):  # type: ignore[no-untyped-def]
    def verify(request) -> dict[str, str]:  # type: ignore[no-untyped-def]
        verdict, step, detail = check(request.evidence.files, request.trust.get("root"), request.at, flaws)
        return {"verdict": verdict, "reason": step, "detail": detail}

    return verify


careful = _python_entry(frozenset())
signature_only = _python_entry(frozenset({"signature-only"}))
no_chain = _python_entry(frozenset({"no-chain"}))
chain_by_name = _python_entry(frozenset({"chain-by-name"}))
no_csr_binding = _python_entry(frozenset({"no-csr-binding"}))
attributes_ignored = _python_entry(frozenset({"attributes-ignored"}))
loose_pem = _python_entry(frozenset({"loose-pem"}))
