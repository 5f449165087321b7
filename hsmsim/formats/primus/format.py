"""Securosys Primus key attestation: the exact XML, its detached signature, chain, CSR and zip.

Generator and reference verifier side by side. Layout facts are from
``shared/specs/primus.md`` (EXACT where a real capture shows them):

* XML: ``<?xml version="1.0" encoding="UTF-8"?>`` + LF, one TAB per level, one element
  per line, lowercase booleans, UTC ``YYYY-MM-DDTHH:MM:SSZ``, ``&apos;`` for apostrophes,
  ``public_key`` = one unwrapped line of base64(DER SPKI), two trailing LFs.
* ``<label>.sig``: raw RSASSA-PKCS1-v1_5/SHA-256 over the exact XML bytes by the
  partition's RSA-3072 attestation key.
* ``PrimusHSM_Attestation.crt``: leaf, device, root copy, each PEM newline-terminated.
* The zip from ``POST /v1/key/keyAttestation``: ``<label>.sig``, ``<label>.xml``,
  ``<label>.pem``, ``PrimusHSM_Attestation.crt``, the README, plus the public key
  under its documented second name ``PrimusHSM_Attestation_PublicKey.pem``.
* The CSR comes from a separate endpoint and the root is downloaded separately; a
  QTSP bundle is zip + ``<label>.csr`` + ``hsm_rsa_root.crt``.

GUESSES (switchable through :class:`PrimusOptions` / attest parameters): the root
element of secret keys (``secret_key``), EC keys carrying ``curve_oid`` and no
``key_size``, ``key_use_count`` omitted when zero, the AES ``algorithm_oid``.
"""

from __future__ import annotations

import base64
import io
import itertools
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from lxml import etree

from hsmsim.checks import check_csr_binding, require_code_signing_key
from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.formats.primus.pki import primus_attestation_identity
from hsmsim.keystore.base import KeyType, PrivateKey, StoredKey
from hsmsim.model.evidence import (
    MAX_BUNDLE_FILE_BYTES,
    Evidence,
    TrustAnchors,
    read_bundle_dir,
)
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.builder import UTF8, build_csr, name
from hsmsim.pki.chain import CERT_PARSE_ERRORS, require_key_usage, validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.safeio import XmlLimits, parse_xml, read_zip
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

CHAIN_FILE = "PrimusHSM_Attestation.crt"
PUBKEY_FILE = "PrimusHSM_Attestation_PublicKey.pem"
README_FILE = "README_PrimusHSM_AuditAndAttestation_AN-E01.md"
ROOT_FILE = "hsm_rsa_root.crt"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

ALGORITHM_OIDS = {
    KeyType.RSA: ("RSA", "1.2.840.113549.1.1.1"),
    KeyType.EC: ("EC", "1.2.840.10045.2.1"),
    KeyType.EC_EDWARDS: ("ED", "1.3.101.112"),
    KeyType.AES: ("AES", "2.16.840.1.101.3.4.1"),
}
CURVE_OIDS = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34"}
ATTRIBUTE_ORDER = (
    "decrypt", "sign", "unwrap", "derive", "sensitive", "always_sensitive", "extractable",
    "never_extractable", "modifiable", "copyable", "destroyable", "unique",
)
TOP_LEVEL_ORDER = (
    "label", "uuid", "create_time", "attest_time", "key_use_count", "algorithm",
    "algorithm_oid", "key_size", "curve_oid", "public_key", "derivation_value", "attributes",
    "policy",
)
_REQUIRED_TOP_LEVEL = ("label", "create_time", "attest_time", "algorithm", "algorithm_oid",
                       "attributes")
_SERIAL_RE = re.compile(r"^PRIMUS HSM KEY \(SN: ([0-9A-Za-z-]{1,32})\)$")


@dataclass(frozen=True)
class PrimusOptions:
    """Choices where the vendor's bytes are not published (see module docstring)."""

    secret_key_root: str = "secret_key"
    ec_key_size: bool = False
    chain_includes_root: bool = True
    key_use_count: int = 0


# -- generation -------------------------------------------------------------------------

def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def spki_der(public_key: object) -> bytes:
    """DER SubjectPublicKeyInfo of a cryptography public key."""
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def render_xml(key: StoredKey, attest_time: datetime, options: PrimusOptions = PrimusOptions()) -> bytes:
    """The key-attributes XML exactly as a Primus HSM writes it for ``key``."""
    attrs = key.attributes
    algorithm, algorithm_oid = ALGORITHM_OIDS[key.spec.key_type]
    root = "private_key" if key.public_key is not None else options.secret_key_root
    lines = [XML_DECLARATION.rstrip("\n"),
             f'<{root} creation="{"generated" if attrs.local else "imported"}">']

    def element(tag: str, value: str, depth: int = 1) -> None:
        lines.append("\t" * depth + f"<{tag}>{value}</{tag}>")

    element("label", _escape(attrs.label))
    element("create_time", _ts(key.created))
    element("attest_time", _ts(attest_time))
    if options.key_use_count:
        element("key_use_count", str(options.key_use_count))
    element("algorithm", algorithm)
    element("algorithm_oid", algorithm_oid)
    if key.spec.key_type in (KeyType.RSA, KeyType.AES) or (
            key.spec.key_type is KeyType.EC and options.ec_key_size):
        element("key_size", str(key.spec.bits))
    if key.spec.key_type is KeyType.EC:
        element("curve_oid", CURVE_OIDS[key.spec.curve or ""])
    if key.public_key is not None:
        element("public_key", base64.b64encode(spki_der(key.public_key)).decode())
    lines.append("\t<attributes>")
    values = {
        "decrypt": attrs.decrypt, "sign": attrs.sign, "unwrap": attrs.unwrap,
        "derive": attrs.derive, "sensitive": attrs.sensitive,
        "always_sensitive": attrs.always_sensitive, "extractable": attrs.extractable,
        "never_extractable": attrs.never_extractable, "modifiable": attrs.modifiable,
        "copyable": attrs.copyable, "destroyable": attrs.destroyable, "unique": True,
    }
    for tag in ATTRIBUTE_ORDER:
        element(tag, _bool(values[tag]), depth=2)
    lines.append("\t</attributes>")
    lines.append(f"</{root}>")
    return ("\n".join(lines) + "\n\n").encode()


def sign_xml(xml: bytes, key: PrivateKey) -> bytes:
    """The raw ``.sig``: RSASSA-PKCS1-v1_5/SHA-256 (or ECDSA-SHA256 for an EC attesting key)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(xml, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(xml, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    raise UnsupportedKeyError("a Primus attestation key must be RSA or EC")


def pem(cert: x509.Certificate) -> bytes:
    """PEM of a certificate, newline-terminated."""
    return cert.public_bytes(serialization.Encoding.PEM)


def safe_file_stem(label: str) -> str:
    """The label as a file-name stem: characters outside ``[A-Za-z0-9._-]`` become ``_``."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".")
    return stem or "key"


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


def build_zip(members: list[tuple[str, bytes]], when: datetime) -> bytes:
    """A deterministic zip: fixed member order, timestamps, permissions and compression."""
    buffer = io.BytesIO()
    stamp = when.astimezone(UTC)
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members:
            info = zipfile.ZipInfo(member, date_time=(stamp.year, stamp.month, stamp.day,
                                                      stamp.hour, stamp.minute, stamp.second))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


def csr_for(key: StoredKey, signer: PrivateKey) -> x509.CertificateSigningRequest:
    """The CSR TSB would request for ``key``: ``CN=<label>``, signed by the key itself."""
    subject = name(("CN", key.label, UTF8))
    return build_csr(subject, signer)


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

    def evidence(self, when: datetime) -> Evidence:
        """The files a QTSP receives: the TSB zip, the CSR (asymmetric keys) and the root."""
        zipped = build_zip([
            (f"{self.stem}.sig", self.signature),
            (f"{self.stem}.xml", self.xml),
            (f"{self.stem}.pem", self.attestation_pubkey_pem),
            (CHAIN_FILE, self.chain_pem),
            (PUBKEY_FILE, self.attestation_pubkey_pem),
            (README_FILE, readme_text(self.stem)),
        ], when)
        files = {f"{self.stem}_attestation.zip": zipped}
        if self.csr_pem is not None:
            files[f"{self.stem}.csr"] = self.csr_pem
        files[ROOT_FILE] = self.root_pem
        return Evidence(format="primus", files=files, primary=f"{self.stem}_attestation.zip")


def assemble(
    key: StoredKey, signer: PrivateKey | None, identity: AttestationIdentity, at: datetime,
    options: PrimusOptions = PrimusOptions(),
) -> PrimusBundle:
    """Render, sign and chain the attestation of ``key`` (the generator's pure core)."""
    xml = render_xml(key, at, options)
    chain = identity.chain + ((identity.root,) if options.chain_includes_root else ())
    attestation_pub = identity.certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    csr_pem = None
    if signer is not None:
        csr_pem = csr_for(key, signer).public_bytes(serialization.Encoding.PEM)
    return PrimusBundle(
        stem=safe_file_stem(key.label), xml=xml, signature=sign_xml(xml, identity.key),
        chain_pem=b"".join(pem(c) for c in chain), attestation_pubkey_pem=attestation_pub,
        csr_pem=csr_pem, root_pem=pem(identity.root),
    )


# -- verification ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Inputs:
    stem: str
    xml: bytes
    signature: bytes
    chain_pem: bytes
    pubkeys: tuple[bytes, ...]
    csr: bytes | None


def _flatten(files: dict[str, bytes]) -> dict[str, bytes]:
    flat: dict[str, bytes] = {}
    for rel, data in files.items():
        if len(data) > MAX_BUNDLE_FILE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
        if rel.lower().endswith(".zip"):
            for member, content in read_zip(data).items():
                flat.setdefault(member, content)
        else:
            flat.setdefault(rel.rsplit("/", 1)[-1], data)
    return flat


def _gather(evidence: Evidence) -> _Inputs:
    flat = _flatten(dict(evidence.files))
    xmls = [n for n in flat if n.endswith(".xml")]
    if not xmls:
        raise Rejected(Reason.MISSING_INPUT, "no key-attributes .xml in the bundle")
    if len(xmls) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one .xml in the bundle: {sorted(xmls)}")
    stem = xmls[0][: -len(".xml")]
    if f"{stem}.sig" not in flat:
        raise Rejected(Reason.MISSING_INPUT, f"no {stem}.sig beside {stem}.xml")
    if CHAIN_FILE not in flat:
        raise Rejected(Reason.MISSING_INPUT, f"no {CHAIN_FILE} in the bundle")
    csrs = [n for n in flat if n.endswith(".csr")] or [
        n for n, data in flat.items() if b"CERTIFICATE REQUEST-----" in data[:64]]
    csr = flat.get(f"{stem}.csr") or (flat[csrs[0]] if len(csrs) == 1 else None)
    pubkeys = tuple(flat[n] for n in (f"{stem}.pem", PUBKEY_FILE) if n in flat)
    return _Inputs(stem, flat[f"{stem}.xml"], flat[f"{stem}.sig"], flat[CHAIN_FILE], pubkeys, csr)


def _load_chain(chain_pem: bytes) -> list[x509.Certificate]:
    if chain_pem.count(b"-----BEGIN") > 8:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{CHAIN_FILE} holds more than 8 certificates")
    try:
        return x509.load_pem_x509_certificates(chain_pem)
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{CHAIN_FILE} is not a PEM certificate chain: {exc}") from None


def _check_signature(leaf: x509.Certificate, xml: bytes, signature: bytes) -> None:
    public = leaf.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, xml, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, xml, ec.ECDSA(hashes.SHA256()))
        else:
            raise Rejected(Reason.UNSUPPORTED, "attestation certificate key is neither RSA nor EC")
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID,
                       "XML signature does not verify with the attestation certificate's key") from None


def _check_loose_pubkeys(leaf: x509.Certificate, pubkeys: tuple[bytes, ...]) -> None:
    leaf_spki = spki_der(leaf.public_key())
    for data in pubkeys:
        try:
            loose = spki_der(serialization.load_pem_public_key(data))
        except (ValueError, UnsupportedAlgorithm):
            raise Rejected(Reason.MALFORMED, "attestation public key PEM does not parse") from None
        if loose != leaf_spki:
            raise Rejected(Reason.ATTESTATION_KEY_MISMATCH,
                           "loose attestation public key differs from the attestation certificate's key")


@dataclass(frozen=True)
class _Document:
    root: str
    creation: str
    values: dict[str, str]
    attributes: dict[str, bool]
    unknown: tuple[str, ...]

    def out_of_order(self) -> str | None:
        """The first element that breaks the documented element order, if any (dicts keep document order)."""
        for seen, canonical in ((list(self.values), TOP_LEVEL_ORDER), (list(self.attributes), ATTRIBUTE_ORDER)):
            known = [tag for tag in seen if tag in canonical]
            for before, after in itertools.pairwise(known):
                if canonical.index(before) > canonical.index(after):
                    return f"<{after}> comes after <{before}>"
        return None


def _text(node: etree._Element) -> str:
    if len(node):
        raise Rejected(Reason.MALFORMED, f"<{node.tag}> has child elements")
    return node.text or ""


def _read_document(xml: bytes, options: PrimusOptions) -> _Document:
    root = parse_xml(xml, XmlLimits(max_bytes=1024 * 1024, max_depth=8))
    for node in root.iter():
        if not isinstance(node.tag, str) or node.tag.startswith("{") or node.prefix:
            raise Rejected(Reason.MALFORMED, f"namespaced element {node.tag!r}")
        for attr in node.attrib:
            if attr.startswith("{"):
                raise Rejected(Reason.MALFORMED, f"namespaced attribute {attr!r}")
    if root.tag not in ("private_key", options.secret_key_root):
        raise Rejected(Reason.MALFORMED, f"root element is <{root.tag}>, not <private_key>")
    creation = root.get("creation")
    if creation is None:
        raise Rejected(Reason.ATTR_MISSING, "root element has no creation attribute")
    values: dict[str, str] = {}
    attributes: dict[str, bool] = {}
    unknown: list[str] = []
    for child in root:
        tag = child.tag
        if tag == "attributes":
            if "attributes" in values:
                raise Rejected(Reason.ATTR_CONFLICT, "<attributes> appears twice")
            values["attributes"] = ""
            for attr in child:
                if attr.tag in attributes:
                    raise Rejected(Reason.ATTR_CONFLICT, f"attribute <{attr.tag}> appears twice")
                text = _text(attr)
                if text not in ("true", "false"):
                    raise Rejected(Reason.MALFORMED, f"<{attr.tag}> is {text!r}, not true/false")
                if attr.tag not in ATTRIBUTE_ORDER:
                    unknown.append(f"attributes/{attr.tag}")
                attributes[attr.tag] = text == "true"
            continue
        if tag in values:
            raise Rejected(Reason.ATTR_CONFLICT, f"<{tag}> appears twice")
        if tag == "policy":
            values[tag] = ""
            continue
        values[tag] = _text(child)
        if tag not in TOP_LEVEL_ORDER:
            unknown.append(tag)
    for tag in _REQUIRED_TOP_LEVEL:
        if tag not in values:
            raise Rejected(Reason.ATTR_MISSING, f"<{tag}> is missing")
    return _Document(root.tag, creation, values, attributes, tuple(unknown))


def _parse_spki(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text):
        raise Rejected(Reason.MALFORMED, "<public_key> is not one line of standard base64")
    try:
        der = base64.b64decode(text, validate=True)
    except ValueError:
        raise Rejected(Reason.MALFORMED, "<public_key> is not valid base64") from None
    if base64.b64encode(der).decode() != text:
        raise Rejected(Reason.MALFORMED, "<public_key> base64 is not canonical")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise Rejected(Reason.MALFORMED, "<public_key> is not a DER SubjectPublicKeyInfo") from None
    if spki_der(key) != der:
        raise Rejected(Reason.MALFORMED, "<public_key> is not a canonical DER SubjectPublicKeyInfo")
    return der


def _check_grep_contract(xml: bytes) -> None:
    """The vendor's documented ``grep public_key | sed`` must find exactly one clean line."""
    lines = [line for line in xml.split(b"\n") if b"public_key" in line]
    if len(lines) != 1:
        raise Rejected(Reason.ATTR_CONFLICT,
                       f"{len(lines)} lines mention public_key; the documented extraction needs exactly one")
    if not re.fullmatch(rb"\t<public_key>[A-Za-z0-9+/=]+</public_key>", lines[0]):
        raise Rejected(Reason.MALFORMED, "the public_key line is not '<TAB><public_key>base64</public_key>'")


def _check_binding(spki: bytes, csr_data: bytes | None) -> None:
    if csr_data is None:
        raise Rejected(Reason.MISSING_INPUT, "no CSR (<label>.csr) to bind the attested key to")
    check_csr_binding(spki, csr_data, "the attested <public_key>")


def _key_facts(doc: _Document, spki: bytes | None) -> tuple[str, int | None]:
    if spki is None:
        size = doc.values.get("key_size", "")
        return doc.values["algorithm"], int(size) if size.isdigit() else None
    key = serialization.load_der_public_key(spki)
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    return type(key).__name__, None


def _check_algorithm(doc: _Document, spki: bytes | None) -> None:
    key_type, size = _key_facts(doc, spki)
    expected = {"RSA": "RSA", "EC": "EC", "Ed25519": "ED"}.get(key_type.split("-")[0])
    if spki is not None and doc.values["algorithm"] != expected:
        raise Rejected(Reason.ATTR_CONFLICT,
                       f"<algorithm> {doc.values['algorithm']} contradicts the {key_type} public key")
    if "key_size" in doc.values and key_type == "RSA" and doc.values["key_size"] != str(size):
        raise Rejected(Reason.ATTR_CONFLICT,
                       f"<key_size> {doc.values['key_size']} contradicts the {size}-bit public key")


def _require_attr(doc: _Document, name_: str) -> bool:
    if name_ not in doc.attributes:
        raise Rejected(Reason.ATTR_MISSING, f"attribute <{name_}> is missing")
    return doc.attributes[name_]


def _check_attributes(doc: _Document, profile: Profile) -> None:
    if doc.creation not in ("generated", "imported"):
        raise Rejected(Reason.MALFORMED, f"creation={doc.creation!r} is neither generated nor imported")
    extractable = _require_attr(doc, "extractable")
    never_extractable = _require_attr(doc, "never_extractable")
    if extractable and never_extractable:
        raise Rejected(Reason.ATTR_CONFLICT, "extractable=true contradicts never_extractable=true")
    if doc.creation != "generated":
        raise Rejected(Reason.ATTR_NOT_LOCAL, f"key creation is {doc.creation!r}, not generated on the HSM")
    if extractable:
        raise Rejected(Reason.ATTR_EXTRACTABLE, "key is extractable")
    if not never_extractable:
        raise Rejected(Reason.ATTR_NOT_NEVER_EXTRACTABLE, "key was extractable at some point (never_extractable=false)")
    if profile is Profile.STRICT:
        if not _require_attr(doc, "sensitive"):
            raise Rejected(Reason.ATTR_NOT_SENSITIVE, "key is not sensitive")
        if not _require_attr(doc, "always_sensitive"):
            raise Rejected(Reason.ATTR_NOT_ALWAYS_SENSITIVE, "key was not always sensitive")


def _check_strict_policy(doc: _Document, key_type: str, size: int | None) -> None:
    if doc.unknown:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown elements: {', '.join(doc.unknown)}")
    misplaced = doc.out_of_order()
    if misplaced:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"elements out of the documented order: {misplaced}")
    require_code_signing_key(key_type, size)


def _device_serial(chain: list[x509.Certificate]) -> str | None:
    for cert in chain[1:]:
        for attr in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
            match = _SERIAL_RE.match(str(attr.value))
            if match:
                return match.group(1)
    return None


class PrimusFormat:
    """The ``primus`` format: Securosys Primus HSM key attestation (TSB REST zip)."""

    name = "primus"
    title = "Securosys Primus HSM"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "aes-128", "aes-256")

    def __init__(self, options: PrimusOptions = PrimusOptions()) -> None:
        self.options = options

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's ``attestation-key`` (or a user attesting key) certified by the device."""
        if attesting is None:
            return primus_attestation_identity(
                device.seed, device.serial, partition,
                initialised=device.initialised, created=device.attestation_created)
        label, key, created = attesting
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedKeyError("a Primus attesting key must be RSA or EC")
        return primus_attestation_identity(
            device.seed, device.serial, partition, initialised=device.initialised,
            created=max(created, device.initialised), key_name=label, key=key)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The TSB zip + CSR + root for the request's key.

        Parameters: ``key_use_count`` (int), ``options`` (a :class:`PrimusOptions`).
        """
        options = request.parameters.get("options", self.options)
        assert isinstance(options, PrimusOptions)
        count = request.parameters.get("key_use_count")
        if isinstance(count, int):
            options = replace(options, key_use_count=count)
        bundle = assemble(request.key, request.key_signer, request.attesting, request.at, options)
        return bundle.evidence(request.at)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check chain, signature, key binding and attributes; see :class:`hsmsim.verdict.Reason`.

        Order: inputs and bounds, chain to the anchor at ``at`` (default now), signature
        with the *leaf certificate's* key, loose public keys equal to the leaf, XML
        structure, CSR binding, attributes, then the profile's policy.
        """
        try:
            return self._verify(evidence, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def _verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
        inputs = _gather(evidence)
        chain = _load_chain(inputs.chain_pem)
        if not chain:
            raise Rejected(Reason.MISSING_INPUT, f"{CHAIN_FILE} holds no certificate")
        path = validate_chain(chain[0], chain[1:], trust.get("root"), at)
        require_key_usage(chain[0])
        if len(inputs.xml) > 1024 * 1024:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"XML is {len(inputs.xml)} bytes (limit 1048576)")
        _check_signature(chain[0], inputs.xml, inputs.signature)
        _check_loose_pubkeys(chain[0], inputs.pubkeys)
        doc = _read_document(inputs.xml, self.options)
        spki = None
        if doc.root == "private_key":
            if "public_key" not in doc.values:
                raise Rejected(Reason.ATTR_MISSING, "<public_key> is missing")
            spki = _parse_spki(doc.values["public_key"])
            _check_grep_contract(inputs.xml)
            _check_binding(spki, inputs.csr)
        _check_algorithm(doc, spki)
        _check_attributes(doc, profile)
        key_type, size = _key_facts(doc, spki)
        if profile is Profile.STRICT:
            _check_strict_policy(doc, key_type, size)
        claims = Claims(
            spki_der=spki, key_type=key_type, key_size=size,
            generated_on_device=doc.creation == "generated",
            extractable=doc.attributes.get("extractable"),
            never_extractable=doc.attributes.get("never_extractable"),
            sensitive=doc.attributes.get("sensitive"),
            always_sensitive=doc.attributes.get("always_sensitive"),
            vendor="Securosys", model="Primus HSM", serial=_device_serial(path),
            label=doc.values.get("label"),
        )
        return Verdict(Reason.OK, f"attested by {chain[0].subject.rfc4514_string()}", claims)

    def load(self, path: Path) -> Evidence:
        """Read a TSB zip (with the ``<label>.csr`` beside it) or a directory of loose files."""
        try:
            if path.is_dir():
                files = read_bundle_dir(path)
                return Evidence(format=self.name, files=files, primary=path.name)
            if path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
                raise BundleError(f"{path} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
            files = {path.name: path.read_bytes()}
            stem = path.name.removesuffix(".zip").removesuffix("_attestation")
            csrs = sorted(path.parent.glob("*.csr"))
            for sibling in csrs:
                if sibling.stem == stem or len(csrs) == 1:
                    files[sibling.name] = sibling.read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read {path}: {exc.strerror}") from exc
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A zip holding ``PrimusHSM_Attestation.crt``, or a directory with it beside an ``.xml``."""
        try:
            if path.is_dir():
                return (path / CHAIN_FILE).exists() or any(
                    p.suffix == ".zip" and self.detect(p) for p in path.iterdir())
            if path.suffix.lower() != ".zip" or path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
                return False
            with zipfile.ZipFile(path) as archive:
                return CHAIN_FILE in archive.namelist()
        except (OSError, zipfile.BadZipFile, ValueError):
            return False

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden bundles for every key type and the one-defect mutations of the catalogue."""
        from hsmsim.formats.primus import catalogue as primus_vectors

        return primus_vectors.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Primus vectors."""
        from hsmsim.formats.primus import catalogue as primus_vectors

        return primus_vectors.notes()

    def fuzz_model(self, seed: str) -> FuzzModel:
        """Structure-aware fuzzing: the vector catalogue's operators plus random field-level ones."""
        from hsmsim.formats.primus import catalogue as primus_vectors

        return primus_vectors.fuzz_model(seed)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))
