"""Fortanix DSM key attestation statements: the response JSON, its X.509 statement and chain.

Generator and reference verifier side by side. Facts are from
``shared/specs/luna_fortanix_nshield.md`` 4 and the example response in Fortanix's
documentation (its bytes decoded, not copied):

* ``POST /crypto/v1/keys/key_attestation`` returns ``{"authority_chain": [base64 DER, ...],
  "attestation_statement": {"format": "x509_certificate", "statement": base64 DER}}``;
  the example lists the chain authority, CA, root and is indented by four spaces.
* The statement is an X.509 certificate for the attested key: issuer = the cluster's
  ``Fortanix DSM SaaS Key Attestation Authority``; subject ``CN=Fortanix DSM Key Attestation``
  plus an RDN ``1.3.6.1.4.1.49690.1.2.2`` holding the key id (kid); notBefore = issuance
  (UTCTime), notAfter 9999-12-31T23:59:59Z; extensions keyUsage (critical) mirroring the
  key's permissions, the claims ``1.3.6.1.4.1.49690.2.4.1.1`` (generated in DSM) and
  ``…2.4.1.2`` (never exportable), each an empty SEQUENCE, non-critical, then the AKI.
* Authority certificates live about a month, so the chain is validated at the statement's
  notBefore (openssl ``-attime``); the authority is not a CA, so openssl cannot verify the
  statement as a leaf: the walk verifies the authority under the policy and the statement's
  signature separately (``scripts/verify_fortanix_openssl.sh``).

GUESSES and departures (switchable through :class:`FortanixOptions`, see ``docs/formats/fortanix.md``):
keyUsage from permissions (sign → digitalSignature, decrypt → dataEncipherment, unwrap →
keyEncipherment, derive → keyAgreement, restricted to what the key type can do); a claim is
omitted when it does not hold (imported or exportable keys); the root copy ends the chain;
the kid is a UUID derived from the seed and label.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

from hsmsim.checks import check_csr_binding, require_code_signing_key
from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.formats.fortanix.pki import (
    ENROLLMENT_POLICY,
    ITEM_MIN_PROTECTION_PROFILE,
    ITEM_SITE_OPERATOR_APPROVAL,
    KEY_ATTESTATION_EKU,
    KEY_ATTESTATION_POLICY,
    PROFILE_FX2200,
    FortanixPki,
    aki,
    der_children,
    der_content,
    der_oid,
    fortanix_pki,
    serial20,
    ski,
)
from hsmsim.keystore.base import KeyType, PrivateKey, PublicKey, StoredKey
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, Evidence, TrustAnchors, read_bundle_dir
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, build_csr, key_usage, name
from hsmsim.pki.chain import require_key_usage, validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

STATEMENT_FORMAT = "x509_certificate"
STATEMENT_CN = "Fortanix DSM Key Attestation"
KEY_ID_OID = ObjectIdentifier("1.3.6.1.4.1.49690.1.2.2")
CLAIM_GENERATED = ObjectIdentifier("1.3.6.1.4.1.49690.2.4.1.1")
CLAIM_NEVER_EXPORTABLE = ObjectIdentifier("1.3.6.1.4.1.49690.2.4.1.2")
CLAIM_VALUE = b"\x30\x00"
STATEMENT_NOT_AFTER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
ROOT_FILE = "fortanix_root.pem"
JSON_PREFIX = "key_attestation_"

STATEMENT_USAGES = ("digital_signature", "key_encipherment", "data_encipherment", "key_agreement")
"""The only keyUsage bits a statement may carry (the vendor sample verifier's allow-list)."""
USAGES_BY_KEY_TYPE = {
    KeyType.RSA: ("digital_signature", "key_encipherment", "data_encipherment"),
    KeyType.EC: ("digital_signature", "key_agreement"),
    KeyType.EC_EDWARDS: ("digital_signature",),
}
_KU_FIELDS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign")
_STATEMENT_EXTENSIONS = {ExtensionOID.KEY_USAGE, CLAIM_GENERATED, CLAIM_NEVER_EXPORTABLE,
                         ExtensionOID.AUTHORITY_KEY_IDENTIFIER}
_TOP_LEVEL = ("authority_chain", "attestation_statement")
_STATEMENT_MEMBERS = ("format", "statement")


@dataclass(frozen=True)
class FortanixOptions:
    """Choices where the vendor's bytes or rules are not published (see ``docs/formats/fortanix.md``)."""

    chain_includes_root: bool = True
    """``authority_chain`` ends with a copy of the root, as in the published example."""
    json_indent: int | None = 4
    """Indentation of the response JSON (None: one line, as an HTTP client may receive it)."""
    captured_encoding: bool = False
    """Reproduce the published authority's non-DER basicConstraints and keyUsage (hsmsim rejects them)."""
    chain_time: Literal["statement", "verifier"] = "statement"
    """Validate the authority chain at the statement's notBefore, or at the verifier's time."""
    protection_profile: str = PROFILE_FX2200
    """The minimum protection profile the authority's enrollment policy names (and the verifier requires)."""


@dataclass(frozen=True)
class JsonLimits:
    """Bounds on the response JSON: bytes, nesting depth and authority_chain entries."""

    max_bytes: int = 128 * 1024
    max_depth: int = 8
    max_chain: int = 8


# -- generation -------------------------------------------------------------------------

def spki_der(public_key: object) -> bytes:
    """DER SubjectPublicKeyInfo of a cryptography public key."""
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(seed: str, key: StoredKey) -> str:
    """The key's DSM kid: a version-4 UUID derived from the seed and the key's label."""
    return str(uuid.UUID(bytes=drbg(seed, f"fortanix/kid/{key.label}").read(16), version=4))


def statement_usages(key: StoredKey) -> tuple[str, ...]:
    """keyUsage bits mirroring the key's permissions, limited to what its type can do.

    Raises :class:`UnsupportedKeyError` for secret keys and keys without a usable permission.
    """
    possible = USAGES_BY_KEY_TYPE.get(key.spec.key_type)
    if possible is None or key.public_key is None:
        raise UnsupportedKeyError("Fortanix DSM issues key attestation statements for asymmetric keys only")
    attrs = key.attributes
    granted = {"digital_signature": attrs.sign, "data_encipherment": attrs.decrypt,
               "key_encipherment": attrs.unwrap, "key_agreement": attrs.derive}
    usages = tuple(u for u in STATEMENT_USAGES if granted[u] and u in possible)
    if not usages:
        raise UnsupportedKeyError(f"key {key.label!r} has no permission a statement's keyUsage can express")
    return usages


def statement_subject(kid: str) -> x509.Name:
    """``CN=Fortanix DSM Key Attestation`` then the kid RDN, both UTF8String."""
    return x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, STATEMENT_CN, _type=UTF8)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(KEY_ID_OID, kid, _type=UTF8)]),
    ])


def claim(oid: ObjectIdentifier, *, critical: bool = False) -> Ext:
    """A claim extension: an empty SEQUENCE under ``oid``."""
    return Ext(x509.UnrecognizedExtension(oid, CLAIM_VALUE), critical=critical)


def build_statement(key: StoredKey, kid: str, pki: FortanixPki, at: datetime, seed: str) -> x509.Certificate:
    """The statement certificate for ``key`` issued by the cluster authority at ``at``."""
    extensions = [Ext(key_usage(*statement_usages(key)), critical=True)]
    if key.attributes.local:
        extensions.append(claim(CLAIM_GENERATED))
    if key.attributes.never_extractable:
        extensions.append(claim(CLAIM_NEVER_EXPORTABLE))
    extensions.append(Ext(aki(pki.authority)))
    assert key.public_key is not None
    return build_certificate(CertSpec(
        subject=statement_subject(kid), issuer=pki.authority.subject, public_key=key.public_key,
        serial=serial20(seed, f"fortanix/statement/{kid}/{at:%Y%m%dT%H%M%S}"),
        not_before=at.astimezone(UTC).replace(microsecond=0), not_after=STATEMENT_NOT_AFTER,
        extensions=tuple(extensions),
    ), pki.authority_key)


def b64_der(cert: x509.Certificate) -> str:
    """Standard base64 of a certificate's DER, one line."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def render_response(chain: list[x509.Certificate], statement: x509.Certificate,
                    options: FortanixOptions = FortanixOptions()) -> bytes:
    """The key_attestation response JSON, newline-terminated."""
    document = {"authority_chain": [b64_der(c) for c in chain],
                "attestation_statement": {"format": STATEMENT_FORMAT, "statement": b64_der(statement)}}
    return (json.dumps(document, indent=options.json_indent) + "\n").encode()


def pem(cert: x509.Certificate) -> bytes:
    """PEM of a certificate, newline-terminated."""
    return cert.public_bytes(serialization.Encoding.PEM)


def safe_file_stem(label: str) -> str:
    """The label as a file-name stem: characters outside ``[A-Za-z0-9._-]`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".") or "key"


@dataclass(frozen=True)
class FortanixBundle:
    """One generated attestation before packaging: the response JSON, the CSR and the root."""

    kid: str
    stem: str
    response: bytes
    csr_pem: bytes
    root_pem: bytes

    @property
    def json_name(self) -> str:
        """``key_attestation_<kid>.json``, the name the DSM CLI writes."""
        return f"{JSON_PREFIX}{self.kid}.json"

    def evidence(self) -> Evidence:
        """What a CA receives: the response JSON, the key's CSR and the (emulated) root."""
        files = {self.json_name: self.response, f"{self.stem}.csr": self.csr_pem, ROOT_FILE: self.root_pem}
        return Evidence(format="fortanix", files=files, primary=self.json_name)


def assemble(key: StoredKey, signer: PrivateKey, pki: FortanixPki, seed: str, at: datetime,
             options: FortanixOptions = FortanixOptions()) -> FortanixBundle:
    """Issue the statement for ``key`` and package it (the generator's pure core)."""
    kid = key_id(seed, key)
    statement = build_statement(key, kid, pki, at, seed)
    chain = [pki.authority, pki.ca, *((pki.root,) if options.chain_includes_root else ())]
    csr = build_csr(name(("CN", key.label, UTF8)), signer)
    return FortanixBundle(kid=kid, stem=safe_file_stem(key.label), response=render_response(chain, statement, options),
                          csr_pem=csr.public_bytes(serialization.Encoding.PEM), root_pem=pem(pki.root))


# -- bounded JSON ----------------------------------------------------------------------

# One pass: a string token (an unterminated one runs to the end, so no position is scanned twice) or a bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?$)|[\[\]{}]', re.DOTALL)


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise Rejected(Reason.ATTR_CONFLICT, f"JSON member {key[:40]!r} appears more than once")
        seen[key] = value
    return seen


def _no_constant(text: str) -> object:
    raise Rejected(Reason.MALFORMED, f"JSON constant {text} is not JSON")


def parse_json(data: bytes, limits: JsonLimits = JsonLimits()) -> object:
    """Parse hostile JSON within bounds; raises :class:`Rejected`, never anything else.

    LIMIT_EXCEEDED: more than ``max_bytes`` or nesting deeper than ``max_depth`` (checked
    before parsing, so no recursion can run away). MALFORMED: not UTF-8 (a BOM included),
    syntax errors, NaN/Infinity, oversized numbers. ATTR_CONFLICT: a member name twice in
    one object (first-wins and last-wins parsers would disagree).
    """
    if len(data) > limits.max_bytes:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"response JSON is {len(data)} bytes (limit {limits.max_bytes})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(Reason.MALFORMED, "response JSON is not UTF-8") from None
    depth = 0
    for token in _JSON_TOKEN.finditer(data):
        bracket = token.group()
        if bracket[:1] == b'"':
            continue
        depth += 1 if bracket in b"[{" else -1
        if depth > limits.max_depth:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"response JSON nests deeper than {limits.max_depth}")
    try:
        return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"response JSON does not parse: {str(exc)[:80]}") from None


# -- verification ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Response:
    chain: tuple[bytes, ...]
    statement: bytes
    unknown: tuple[str, ...]


_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _b64(text: str, what: str, profile: Profile) -> bytes:
    """Standard padded base64; the structural profile also takes MIME-style line breaks."""
    compact = text if profile is Profile.STRICT else re.sub(r"\r?\n", "", text)
    if not _BASE64.fullmatch(compact):
        raise Rejected(Reason.MALFORMED, f"{what} is not one line of standard padded base64")
    try:
        der = base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise Rejected(Reason.MALFORMED, f"{what} is not valid base64") from None
    if base64.b64encode(der).decode() != compact:
        raise Rejected(Reason.MALFORMED, f"{what} base64 is not canonical")
    return der


def _read_response(document: object, limits: JsonLimits, profile: Profile) -> _Response:
    if not isinstance(document, dict):
        raise Rejected(Reason.MALFORMED, "response JSON is not an object")
    unknown = [k for k in document if k not in _TOP_LEVEL]
    if "attestation_statement" not in document:
        raise Rejected(Reason.MISSING_INPUT, "no attestation_statement in the response")
    if "authority_chain" not in document:
        raise Rejected(Reason.MISSING_INPUT, "no authority_chain in the response")
    statement = document["attestation_statement"]
    if not isinstance(statement, dict):
        raise Rejected(Reason.MALFORMED, "attestation_statement is not an object")
    unknown += [f"attestation_statement.{k}" for k in statement if k not in _STATEMENT_MEMBERS]
    fmt = statement.get("format")
    if not isinstance(fmt, str):
        raise Rejected(Reason.MALFORMED, "attestation_statement.format is missing or not a string")
    if fmt != STATEMENT_FORMAT:
        raise Rejected(Reason.UNSUPPORTED, f"statement format {fmt[:40]!r} is not {STATEMENT_FORMAT!r}")
    if "statement" not in statement:
        raise Rejected(Reason.MISSING_INPUT, "attestation_statement has no statement")
    if not isinstance(statement["statement"], str):
        raise Rejected(Reason.MALFORMED, "attestation_statement.statement is not a string")
    chain = document["authority_chain"]
    if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
        raise Rejected(Reason.MALFORMED, "authority_chain is not an array of strings")
    if len(chain) > limits.max_chain:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"authority_chain holds {len(chain)} entries (limit {limits.max_chain})")
    return _Response(
        chain=tuple(_b64(c, f"authority_chain[{i}]", profile) for i, c in enumerate(chain)),
        statement=_b64(statement["statement"], "statement", profile), unknown=tuple(unknown))


def _load_cert(der: bytes, what: str) -> x509.Certificate:
    """Parse a certificate and every field the verifier reads (cryptography parses lazily)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # hostile input: negative serials, odd name lengths, ...
            cert = x509.load_der_x509_certificate(der)
            serial = cert.serial_number
            _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc,
                 cert.signature_hash_algorithm, cert.public_key())
            list(cert.extensions)
    except x509.DuplicateExtension as exc:
        raise Rejected(Reason.ATTR_CONFLICT, f"{what} carries extension {exc.oid.dotted_string} twice") from None
    except UnsupportedAlgorithm as exc:
        raise Rejected(Reason.UNSUPPORTED, f"{what} uses an unsupported algorithm: {str(exc)[:80]}") from None
    except (ValueError, x509.InvalidVersion, x509.UnsupportedGeneralNameType) as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not a DER X.509 certificate: {str(exc)[:80]}") from None
    if serial <= 0:
        raise Rejected(Reason.MALFORMED, f"{what} has a serial number that is not positive")
    return cert


def _signed_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _find_authority(statement: x509.Certificate, chain: list[x509.Certificate]) -> x509.Certificate:
    named = [c for c in chain if c.subject == statement.issuer]
    if not named:
        issuer = statement.issuer.rfc4514_string()
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"no authority_chain certificate is the statement's issuer {issuer!r}")
    for candidate in named:
        if _signed_by(statement, candidate):
            return candidate
    raise Rejected(Reason.CERT_SIGNATURE_INVALID, "the statement is not signed by the authority it names")


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def _extension(cert: x509.Certificate, oid: ObjectIdentifier) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def _key_identifier(cert: x509.Certificate, what: str) -> bytes:
    ext = _extension(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if ext is None:
        raise Rejected(Reason.MALFORMED, f"{what} has no subjectKeyIdentifier")
    value = ext.value.digest  # type: ignore[attr-defined]
    if value != ski(cert.public_key()).digest:  # type: ignore[arg-type]
        raise Rejected(Reason.MALFORMED, f"{what} subjectKeyIdentifier is not the SHA-1 of its key")
    return value  # type: ignore[no-any-return]


def _check_issuer_id(cert: x509.Certificate, issuer_id: bytes, what: str) -> None:
    ext = _extension(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    if ext is None or ext.value.key_identifier is None:  # type: ignore[attr-defined]
        raise Rejected(Reason.MALFORMED, f"{what} has no authorityKeyIdentifier keyIdentifier")
    if ext.value.key_identifier != issuer_id:  # type: ignore[attr-defined]
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"{what} authorityKeyIdentifier does not match its issuer's key")


def _check_key_identifiers(statement: x509.Certificate, path: list[x509.Certificate]) -> None:
    """SKI = SHA-1 of the key on every CA and authority; each AKI = its issuer's SKI."""
    ids = [_key_identifier(cert, repr(_describe(cert))) for cert in path]
    _check_issuer_id(statement, ids[0], "statement")
    for cert, issuer_id in zip(path[:-1], ids[1:], strict=True):
        _check_issuer_id(cert, issuer_id, repr(_describe(cert)))


def _check_policies(path: list[x509.Certificate]) -> None:
    """The authority and every CA below the anchor assert the key attestation policy (no anyPolicy)."""
    for cert in path[:-1]:
        ext = _extension(cert, ExtensionOID.CERTIFICATE_POLICIES)
        oids = {p.policy_identifier for p in ext.value} if ext is not None else set()  # type: ignore[attr-defined]
        if KEY_ATTESTATION_POLICY not in oids:
            raise Rejected(Reason.CERT_POLICY, f"{_describe(cert)!r} does not assert certificate policy "
                                               f"{KEY_ATTESTATION_POLICY.dotted_string}")


def _enrollment_items(value: bytes) -> list[list[bytes]]:
    try:
        items = [der_children(der_content(item)) for item in der_children(der_content(value))]
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"cluster node enrollment policy is not DER: {exc}") from None
    if value[:1] != b"\x30" or any(not item or item[0][:1] != b"\x06" for item in items):
        raise Rejected(Reason.MALFORMED, "cluster node enrollment policy is not a SEQUENCE OF {OID, ANY}")
    return items


def _check_authority(authority: x509.Certificate, options: FortanixOptions) -> None:
    """keyUsage digitalSignature (CERT_KEY_USAGE), the key attestation EKU (CERT_EKU), the enrollment policy."""
    require_key_usage(authority)
    eku = _extension(authority, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is None or KEY_ATTESTATION_EKU not in eku.value:  # type: ignore[operator]
        raise Rejected(Reason.CERT_EKU, f"the authority lacks extendedKeyUsage {KEY_ATTESTATION_EKU.dotted_string}")
    policy = _extension(authority, ENROLLMENT_POLICY)
    if policy is None:
        raise Rejected(Reason.ATTR_MISSING, "the authority carries no cluster node enrollment policy "
                                            f"({ENROLLMENT_POLICY.dotted_string})")
    items = _enrollment_items(policy.value.value)  # type: ignore[attr-defined]
    if [der_oid(ITEM_MIN_PROTECTION_PROFILE), der_oid(options.protection_profile)] not in items:
        raise Rejected(Reason.CERT_POLICY, "the cluster's minimum protection profile is not "
                                           f"{options.protection_profile}")
    if not any(item[0] == der_oid(ITEM_SITE_OPERATOR_APPROVAL) for item in items):
        raise Rejected(Reason.CERT_POLICY, "the cluster's enrollment policy lacks site-operator approval")


def _check_statement_time(statement: x509.Certificate, at: datetime) -> None:
    if at < statement.not_valid_before_utc:
        raise Rejected(Reason.CERT_NOT_YET_VALID,
                       f"the statement is valid only from {statement.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}")
    if at > statement.not_valid_after_utc:
        raise Rejected(Reason.CERT_EXPIRED, f"the statement expired {statement.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")


def _statement_structure(statement: x509.Certificate) -> tuple[str | None, tuple[str, ...]]:
    """The kid and the unknown extensions; rejects critical extensions other than keyUsage."""
    for ext in statement.extensions:
        if ext.critical and ext.oid != ExtensionOID.KEY_USAGE:
            raise Rejected(Reason.CERT_UNKNOWN_CRITICAL,
                           f"statement extension {ext.oid.dotted_string} is critical; only keyUsage may be")
    names = [a.value for a in statement.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [STATEMENT_CN]:
        raise Rejected(Reason.MALFORMED, f"statement subject CN is {names!r}, not {STATEMENT_CN!r}")
    kids = statement.subject.get_attributes_for_oid(KEY_ID_OID)
    unknown = tuple(e.oid.dotted_string for e in statement.extensions if e.oid not in _STATEMENT_EXTENSIONS)
    return (str(kids[0].value) if len(kids) == 1 else None), unknown


def _key_facts(public: PublicKey) -> tuple[str, int | None, tuple[str, ...]]:
    if isinstance(public, rsa.RSAPublicKey):
        return "RSA", public.key_size, USAGES_BY_KEY_TYPE[KeyType.RSA]
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"EC-{public.curve.name}", public.curve.key_size, USAGES_BY_KEY_TYPE[KeyType.EC]
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, USAGES_BY_KEY_TYPE[KeyType.EC_EDWARDS]
    return type(public).__name__, None, ()


def _check_key_usage(statement: x509.Certificate, key_type: str, possible: tuple[str, ...]) -> tuple[str, ...]:
    """The statement's usages: present, within the DSM allow-list, and possible for the key type."""
    ext = _extension(statement, ExtensionOID.KEY_USAGE)
    if ext is None:
        raise Rejected(Reason.ATTR_MISSING, "the statement has no keyUsage: the key's permissions are unknown")
    ku = ext.value
    usages = tuple(f for f in _KU_FIELDS if getattr(ku, f))
    if ku.key_agreement and (ku.encipher_only or ku.decipher_only):  # type: ignore[attr-defined]
        usages += ("encipher_only/decipher_only",)
    beyond = [u for u in usages if u not in STATEMENT_USAGES]
    if beyond:
        raise Rejected(Reason.CERT_KEY_USAGE, f"statement keyUsage grants {', '.join(beyond)}, "
                                              "which no DSM key permission maps to")
    impossible = [u for u in usages if u not in possible]
    if impossible:
        raise Rejected(Reason.CERT_KEY_USAGE, f"statement keyUsage grants {', '.join(impossible)} "
                                              f"to the {key_type} key")
    return usages


def _claim(statement: x509.Certificate, oid: ObjectIdentifier) -> bool:
    ext = _extension(statement, oid)
    if ext is None:
        return False
    if ext.value.value != CLAIM_VALUE:  # type: ignore[attr-defined]
        raise Rejected(Reason.MALFORMED, f"claim {oid.dotted_string} is not an empty SEQUENCE")
    return True


def _check_binding(spki: bytes, csr_data: bytes | None) -> None:
    if csr_data is None:
        raise Rejected(Reason.MISSING_INPUT, "no CSR (exactly one .csr) to bind the attested key to")
    check_csr_binding(spki, csr_data, "the statement's")


def _check_strict(unknown: tuple[str, ...], key_type: str, size: int | None, usages: tuple[str, ...]) -> None:
    if unknown:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown content: {', '.join(unknown)}")
    require_code_signing_key(key_type, size)
    if "digital_signature" not in usages:
        raise Rejected(Reason.KEY_POLICY, "the key may not sign (statement keyUsage lacks digitalSignature)")


def _gather(evidence: Evidence) -> tuple[bytes, bytes | None]:
    files = {rel.rsplit("/", 1)[-1]: data for rel, data in evidence.files.items()}
    responses = [n for n in files if n.lower().endswith(".json")]
    if evidence.primary in files and evidence.primary.lower().endswith(".json"):
        responses = [evidence.primary]
    if not responses:
        raise Rejected(Reason.MISSING_INPUT, "no key attestation response (.json) in the evidence")
    if len(responses) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one response JSON: {sorted(responses)[:4]}")
    csrs = [n for n in files if n.lower().endswith(".csr")]
    return files[responses[0]], files[csrs[0]] if len(csrs) == 1 else None


class FortanixFormat:
    """The ``fortanix`` format: Fortanix DSM key attestation statements (JSON + X.509)."""

    name = "fortanix"
    title = "Fortanix DSM"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519")

    def __init__(self, options: FortanixOptions = FortanixOptions(), limits: JsonLimits = JsonLimits()) -> None:
        self.options = options
        self.limits = limits

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The cluster's key attestation authority, certified for the period holding the device's start.

        DSM has no partitions: ``partition`` is ignored. ``attesting`` certifies a user key
        (RSA or EC) as the authority. :meth:`generate` re-certifies the same key for the
        30-day period holding the attestation time.
        """
        at = device.attestation_created
        if attesting is None:
            return fortanix_pki(device.seed, device.serial, at).identity()
        _label, key, created = attesting
        return fortanix_pki(device.seed, device.serial, max(created, at), key=key).identity()

    def generate(self, request: AttestationRequest) -> Evidence:
        """The response JSON, the key's CSR and the emulated root for the request's key.

        Parameters: ``options`` (a :class:`FortanixOptions`).
        """
        options = request.parameters.get("options", self.options)
        assert isinstance(options, FortanixOptions)
        if request.key_signer is None:
            raise UnsupportedKeyError("Fortanix DSM issues key attestation statements for asymmetric keys only")
        device = request.device
        pki = fortanix_pki(device.seed, device.serial, request.at, key=request.attesting.key,
                           captured_encoding=options.captured_encoding)
        return assemble(request.key, request.key_signer, pki, device.seed, request.at, options).evidence()

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the response against the root; see :class:`hsmsim.verdict.Reason`.

        Order: bounded JSON and its shape, base64 and DER, the statement's validity at
        ``at`` (default now), the authority (issuer by name, proven by signature), the
        authority chain to the anchor at the statement's notBefore, SKI/AKI, the key
        attestation policy, the authority's EKU and enrollment policy, the statement's
        criticality, subject and keyUsage, the claims' encoding, CSR binding, the claims,
        then the profile's policy.
        """
        try:
            return self._verify(evidence, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def _verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
        data, csr = _gather(evidence)
        response = _read_response(parse_json(data, self.limits), self.limits, profile)
        statement = _load_cert(response.statement, "statement")
        chain = [_load_cert(der, f"authority_chain[{i}]") for i, der in enumerate(response.chain)]
        _check_statement_time(statement, at)
        authority = _find_authority(statement, chain)
        when = statement.not_valid_before_utc if self.options.chain_time == "statement" else at
        try:
            path = validate_chain(authority, [c for c in chain if c is not authority], trust.get("root"), when)
        except Rejected as rejection:
            detail = f"authority chain at {when:%Y-%m-%dT%H:%M:%SZ}: {rejection.detail}"
            raise Rejected(rejection.reason, detail) from None
        _check_key_identifiers(statement, path)
        _check_policies(path)
        _check_authority(authority, self.options)
        kid, unknown_extensions = _statement_structure(statement)
        public = statement.public_key()
        key_type, size, possible = _key_facts(public)  # type: ignore[arg-type]
        usages = _check_key_usage(statement, key_type, possible)
        generated = _claim(statement, CLAIM_GENERATED)
        never_exportable = _claim(statement, CLAIM_NEVER_EXPORTABLE)
        spki = spki_der(public)
        _check_binding(spki, csr)
        if not generated:
            raise Rejected(Reason.ATTR_NOT_LOCAL, "no 'generated in DSM' claim (1.3.6.1.4.1.49690.2.4.1.1)")
        if not never_exportable:
            raise Rejected(Reason.ATTR_NOT_NEVER_EXTRACTABLE,
                           "no 'never exportable' claim (1.3.6.1.4.1.49690.2.4.1.2)")
        if profile is Profile.STRICT:
            _check_strict(response.unknown + unknown_extensions, key_type, size, usages)
        claims = Claims(
            spki_der=spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
            never_extractable=True, sensitive=None, always_sensitive=None, vendor="Fortanix",
            model="DSM SaaS", label=kid,
        )
        return Verdict(Reason.OK, f"attested by {_describe(authority)}; keyUsage {', '.join(usages)}", claims)

    def load(self, path: Path) -> Evidence:
        """Read a response JSON (with the one ``.csr`` beside it) or a directory holding both."""
        try:
            if path.is_dir():
                files = read_bundle_dir(path)
                primary = next((n for n in files if n.endswith(".json")), path.name)
                return Evidence(format=self.name, files=files, primary=primary)
            if path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
                raise BundleError(f"{path} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
            files = {path.name: path.read_bytes()}
            csrs = sorted(p for p in path.parent.glob("*.csr") if p.is_file())
            if len(csrs) == 1 and csrs[0].stat().st_size <= MAX_BUNDLE_FILE_BYTES:
                files[csrs[0].name] = csrs[0].read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read {path}: {exc.strerror}") from exc
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect(self, path: Path) -> bool:
        """A ``.json`` file naming ``authority_chain`` or ``attestation_statement``, or a directory with one."""
        try:
            if path.is_dir():
                return any(p.suffix.lower() == ".json" and self.detect(p) for p in sorted(path.iterdir())[:64])
            if path.suffix.lower() != ".json" or path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
                return False
            with path.open("rb") as fh:
                head = fh.read(4 * self.limits.max_bytes)
            return any(f'"{member}"'.encode() in head for member in _TOP_LEVEL)
        except OSError:
            return False

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden statements for RSA and EC keys and the one-defect mutations of the catalogue."""
        from hsmsim.formats.fortanix import catalogue as fortanix_vectors

        return fortanix_vectors.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Fortanix vectors."""
        from hsmsim.formats.fortanix import catalogue as fortanix_vectors

        return fortanix_vectors.notes()

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: this format is fuzzed through its catalogue and byte-level operators (the generic model)."""
        return None
