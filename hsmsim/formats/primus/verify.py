"""The Primus reference verifier: bundle + root + time + profile -> :class:`~hsmsim.verdict.Verdict`.

Order of the checks: inputs and bounds, chain to the anchor, the attestation certificate's issuer a
Securosys device certificate, signature with the *leaf certificate's* key, loose public keys equal to the
leaf, XML structure, CSR binding, attributes, then the profile's policy. Each check raises
:class:`Rejected` at the first failure; :func:`verify_evidence` turns that into the verdict.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from hsmsim.checks import FilesByName, check_csr_binding, one_file, require_code_signing_key
from hsmsim.encoding import key_facts, spki_der
from hsmsim.formats.primus.layout import CHAIN_FILE, PRIMUS_POLICY_DEVICE, PUBKEY_FILE, README_FILE
from hsmsim.formats.primus.options import PrimusOptions
from hsmsim.formats.primus.xml import MAX_XML_BYTES, SPKI_ALGORITHM_OIDS, Document, read_document
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, Evidence, TrustAnchors
from hsmsim.pki.chain import (
    CERT_PARSE_ERRORS,
    certificate_policies,
    require_key_usage,
    subject_and_issuer,
    subject_text,
    validate_chain,
)
from hsmsim.safeio import ZIP_DEFLATED, ReadBudget, ZipMember, read_zip_members
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

_SERIAL_RE = re.compile(r"^PRIMUS HSM KEY \(SN: ([0-9A-Za-z-]{1,32})\)$")
_MAX_CHAIN_CERTIFICATES = 8


@dataclass(frozen=True)
class _Inputs:
    stem: str
    xml: bytes
    signature: bytes
    chain_pem: bytes
    pubkeys: tuple[bytes, ...]
    csr: bytes | None


def _check_strict_archive(rel: str, members: list[ZipMember]) -> None:
    """Strict: the archive holds only what TSB writes (the label's .sig, .xml and .pem, the chain, the
    public key's second name and the README), every member deflated as java.util.zip writes it."""
    stems = [m.name.removesuffix(".xml") for m in members if m.name.endswith(".xml")]
    allowed = {CHAIN_FILE, PUBKEY_FILE, README_FILE, *(f"{stems[0]}{suffix}" for suffix in (".sig", ".xml", ".pem"))
               } if len(stems) == 1 else {m.name for m in members}  # no single label: _gather says what is wrong
    extra = [m.name for m in members if m.name not in allowed]
    if extra:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"{rel} holds members TSB does not write: {extra[:4]}")
    stored = [m.name for m in members if m.method != ZIP_DEFLATED]
    if stored:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"{rel} holds members that are not deflated: {stored[:4]}")


def _flatten(files: dict[str, bytes], profile: Profile) -> dict[str, bytes]:
    """Loose files and zip members by base name, all read within one budget for the verification. A name met
    twice must hold the same bytes (an export unzipped beside its zip); two different files of one name are
    MALFORMED: which one a verifier reads would decide the verdict."""
    budget = ReadBudget.for_files(files)
    flat = FilesByName()
    for rel, data in files.items():
        if len(data) > MAX_BUNDLE_FILE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
        if rel.lower().endswith(".zip"):
            members = read_zip_members(data, budget=budget)
            if profile is Profile.STRICT:
                _check_strict_archive(rel, members)
            for member in members:
                flat.add(member.name, member.data, f"{rel}:{member.name}")
        else:
            flat.add(rel.rsplit("/", 1)[-1], data, rel)
    return flat.files


def _gather(evidence: Evidence, profile: Profile) -> _Inputs:
    flat = _flatten(dict(evidence.files), profile)
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
    csr = flat.get(f"{stem}.csr") or one_file(flat, csrs, "the CSR (none is named <label>.csr)")
    pubkeys = tuple(flat[n] for n in (f"{stem}.pem", PUBKEY_FILE) if n in flat)
    return _Inputs(stem, flat[f"{stem}.xml"], flat[f"{stem}.sig"], flat[CHAIN_FILE], pubkeys, csr)


def _load_chain(chain_pem: bytes) -> list[x509.Certificate]:
    if chain_pem.count(b"-----BEGIN") > _MAX_CHAIN_CERTIFICATES:
        raise Rejected(Reason.LIMIT_EXCEEDED,
                       f"{CHAIN_FILE} holds more than {_MAX_CHAIN_CERTIFICATES} certificates")
    try:
        return x509.load_pem_x509_certificates(chain_pem)
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{CHAIN_FILE} is not a PEM certificate chain: {exc}") from None


def _attestation_key(leaf: x509.Certificate) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    public = leaf.public_key()
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise Rejected(Reason.UNSUPPORTED, "attestation certificate key is neither RSA nor EC")
    return public


def _check_signature(public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, xml: bytes, signature: bytes) -> None:
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, xml, padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(signature, xml, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID,
                       "XML signature does not verify with the attestation certificate's key") from None


def _check_loose_pubkeys(public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, pubkeys: tuple[bytes, ...]) -> None:
    leaf_spki = spki_der(public)
    for data in dict.fromkeys(pubkeys):  # TSB writes the key twice, as <label>.pem and under PUBKEY_FILE: read it once
        try:
            loose = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise Rejected(Reason.MALFORMED, "attestation public key PEM does not parse") from None
        if not isinstance(loose, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) or spki_der(loose) != leaf_spki:
            raise Rejected(Reason.ATTESTATION_KEY_MISMATCH,
                           "loose attestation public key differs from the attestation certificate's key")


def _parse_spki(text: str) -> tuple[bytes, PublicKeyTypes]:
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
    # Any key type parses here; <algorithm> is checked against it later.
    if key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != der:
        raise Rejected(Reason.MALFORMED, "<public_key> is not a canonical DER SubjectPublicKeyInfo")
    return der, key


def _check_grep_contract(xml: bytes) -> None:
    """The vendor's documented ``grep public_key | sed`` extraction needs the key on one clean line.

    Exactly one line may hold a ``<public_key>`` or ``</public_key>`` tag, and it is
    ``<TAB><public_key>base64</public_key>``. Other lines that merely mention ``public_key`` (a label
    such as ``my_public_key``, an SKA policy's ``approval type="public_key"``) are genuine Primus
    output: they break the vendor's shell recipe, not the evidence (``primus.md`` 1.3, the caveat).
    """
    lines = [line for line in xml.split(b"\n") if b"<public_key>" in line or b"</public_key>" in line]
    if len(lines) != 1:
        raise Rejected(Reason.ATTR_CONFLICT,
                       f"{len(lines)} lines hold a public_key tag; the documented extraction needs exactly one")
    if not re.fullmatch(rb"\t<public_key>[A-Za-z0-9+/=]+</public_key>", lines[0]):
        raise Rejected(Reason.MALFORMED, "the public_key line is not '<TAB><public_key>base64</public_key>'")


def _check_binding(spki: bytes, csr_data: bytes | None) -> None:
    if csr_data is None:
        raise Rejected(Reason.MISSING_INPUT, "no CSR (<label>.csr) to bind the attested key to")
    check_csr_binding(spki, csr_data, "the attested <public_key>")


def _key_facts(doc: Document, key: PublicKeyTypes | None) -> tuple[str, int | None]:
    if key is None:
        size = doc.values.get("key_size", "")
        return doc.values["algorithm"], int(size) if size.isdigit() else None
    return key_facts(key)


def _check_algorithm(doc: Document, key: PublicKeyTypes | None, key_type: str, size: int | None,
                     options: PrimusOptions) -> None:
    """The signed algorithm claims describe the key ``<public_key>`` carries: ``<algorithm>``,
    ``<algorithm_oid>`` (the SPKI's algorithm), an EC key's ``<curve_oid>`` (its named curve) and
    ``<key_size>`` (RSA modulus or curve bits) when present."""
    family = key_type.split("-")[0]
    if key is not None:
        expected = {"RSA": "RSA", "EC": options.ec_algorithm_name, "Ed25519": "ED"}.get(family)
        if doc.values["algorithm"] != expected:
            raise Rejected(Reason.ATTR_CONFLICT,
                           f"<algorithm> {doc.values['algorithm']} contradicts the {key_type} public key")
        if doc.values["algorithm_oid"] != SPKI_ALGORITHM_OIDS.get(family):
            raise Rejected(Reason.ATTR_CONFLICT,
                           f"<algorithm_oid> {doc.values['algorithm_oid'][:64]} contradicts the {key_type} public key")
    if isinstance(key, ec.EllipticCurvePublicKey) and "curve_oid" in doc.values:
        _check_curve_oid(doc.values["curve_oid"], key)
    if "key_size" in doc.values and family in ("RSA", "EC") and doc.values["key_size"] != str(size):
        raise Rejected(Reason.ATTR_CONFLICT,
                       f"<key_size> {doc.values['key_size'][:16]} contradicts the {size}-bit public key")


def _check_curve_oid(text: str, key: ec.EllipticCurvePublicKey) -> None:
    try:
        named = isinstance(key.curve, ec.get_curve_for_oid(x509.ObjectIdentifier(text)))
    except (ValueError, LookupError):  # not an OID, or no curve cryptography knows
        named = False
    if not named:
        raise Rejected(Reason.ATTR_CONFLICT, f"<curve_oid> {text[:64]} contradicts the {key.curve.name} public key")


def _require_attr(doc: Document, name: str) -> bool:
    if name not in doc.attributes:
        raise Rejected(Reason.ATTR_MISSING, f"attribute <{name}> is missing")
    return doc.attributes[name]


def _check_attributes(doc: Document, profile: Profile) -> None:
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


def _check_strict_policy(doc: Document, key_type: str, size: int | None) -> None:
    if doc.unknown:
        shown = ", ".join(name[:60] for name in doc.unknown[:5])
        more = f" and {len(doc.unknown) - 5} more" if len(doc.unknown) > 5 else ""
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown content: {shown}{more}")
    misplaced = doc.out_of_order()
    if misplaced:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"elements out of the documented order: {misplaced}")
    require_code_signing_key(key_type, size)


def _require_device_issuer(path: list[x509.Certificate]) -> None:
    """The attestation certificate's issuer on the validated path is a Securosys device certificate: it asserts
    certificate policy 1.3.6.1.4.1.44668.4.1.3 (``primus.md`` 1.5). A path that merely ends at a trusted anchor
    is not enough when the store holds other vendors' roots too (``hsmsim verify --root`` given twice, and
    csr-attestation's merged roots): any key certified under any of them, a YubiKey slot key or a TPM AK, would
    otherwise vouch for Primus keys. A leaf issued directly by an anchor is held to the same rule: the Primus
    root itself (policy .4.1.1) issuing the leaf is refused, a device certificate pinned as the anchor accepted."""
    if len(path) < 2:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "the attestation certificate is itself a trust anchor: no Securosys "
                                               "device certificate issued it")
    issuer = path[1]
    if PRIMUS_POLICY_DEVICE not in certificate_policies(issuer):
        raise Rejected(Reason.CHAIN_UNTRUSTED,
                       f"the attestation certificate's issuer {subject_text(issuer)!r} is not a Securosys device "
                       f"certificate: it lacks certificate policy {PRIMUS_POLICY_DEVICE.dotted_string}")


def _device_serial(chain: list[x509.Certificate]) -> str | None:
    for cert in chain[1:]:
        subject, _issuer = subject_and_issuer(cert)
        for attr in subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
            match = _SERIAL_RE.match(str(attr.value))
            if match:
                return match.group(1)
    return None


def _verify(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile,
            options: PrimusOptions) -> Verdict:
    inputs = _gather(evidence, profile)
    chain = _load_chain(inputs.chain_pem)
    if not chain:
        raise Rejected(Reason.MISSING_INPUT, f"{CHAIN_FILE} holds no certificate")
    # chain[0] certifies the HSM's attestation key, which signs every key attestation of the HSM
    path = validate_chain(chain[0], chain[1:], trust.get("root"), at, recurring_leaf=True)
    _require_device_issuer(path)
    require_key_usage(chain[0])
    if len(inputs.xml) > MAX_XML_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"XML is {len(inputs.xml)} bytes (limit {MAX_XML_BYTES})")
    attestation_key = _attestation_key(chain[0])
    _check_signature(attestation_key, inputs.xml, inputs.signature)
    _check_loose_pubkeys(attestation_key, inputs.pubkeys)
    doc = read_document(inputs.xml, options)
    spki = key = None
    if doc.root == "private_key":
        if "public_key" not in doc.values:
            raise Rejected(Reason.ATTR_MISSING, "<public_key> is missing")
        spki, key = _parse_spki(doc.values["public_key"])
        _check_grep_contract(inputs.xml)
        _check_binding(spki, inputs.csr)
    key_type, size = _key_facts(doc, key)
    _check_algorithm(doc, key, key_type, size, options)
    _check_attributes(doc, profile)
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
        # fips_level stays None: neither the XML nor the chain (certificate policies
        # 1.3.6.1.4.1.44668.4.1.x) states a FIPS 140 level; it is a product fact, not evidence.
    )
    return Verdict(Reason.OK, f"attested by {subject_text(chain[0])}", claims)


def verify_evidence(
    evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
    profile: Profile = Profile.STRUCTURAL, options: PrimusOptions = PrimusOptions(),
) -> Verdict:
    """Check chain, signature, key binding and attributes at ``at`` (default now) under ``profile``.

    Never raises on bad evidence: every defect is a :class:`Verdict` with its
    :class:`~hsmsim.verdict.Reason`. ``options`` says which secret-key root element and EC
    ``<algorithm>`` name to accept.
    """
    try:
        return _verify(evidence, trust, at or datetime.now(UTC), Profile(profile), options)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
