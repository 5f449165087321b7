"""The clouds' envelopes around the Marvell blob: written exactly, read back bounded.

Facts are from ``shared/specs/marvell.md`` 4 and 5:

* Azure: a KeyBundle JSON (``key`` JWK, ``attributes.attestation`` = ``certificatePemFile``,
  ``privateKeyAttestation``, ``publicKeyAttestation``, ``version: "MRVL-1"``, base64url), the bare
  attestation object, or the ``az keyvault key get-attestation`` file (standard base64, compact
  ``json.dump`` output, ``null`` for an absent blob). Blobs are
  raw and hold exactly one object; the key ID attribute is the key URI.
* Google: the gcloud pair (gzip'd blob + the four-certificate PEM chain) or the CryptoKeyVersion
  JSON whose ``attestation`` is a KeyOperationAttestation (``content`` = base64 of the gzip'd blob,
  ``certChains`` with ``caviumCerts``, ``googleCardCerts``, ``googlePartitionCerts``).

Every reader here is bounded (JSON, PEM, base64 and gzip sizes, certificate counts) and raises
:class:`hsmsim.verdict.Rejected` with MALFORMED, LIMIT_EXCEEDED, MISSING_INPUT, UNSUPPORTED or ATTR_CONFLICT
(a JSON member named twice).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import struct
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from hsmsim.checks import by_base_name
from hsmsim.encoding import (
    cert_pem,
    indented_json,
    json_strings,
    load_json,
    rfc3339,
    spki_der,
    spki_pem,
    unique_json_members,
)
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.layout import AZURE_FORMAT_NAME, GOOGLE_FORMAT_NAME, MAX_JSON_BYTES, Cloud
from hsmsim.formats.marvell.options import (
    DEFAULT_OPTIONS,
    AzureEnvelope,
    GoogleEnvelope,
    KeyNames,
    MarvellOptions,
)
from hsmsim.keystore.base import KeyType, StoredKey
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, Evidence
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed
from hsmsim.verdict import Profile, Reason, Rejected

MARVELL_ROOT_FILE = "liquid_security_certificate.crt"  # the name of Marvell's own download
HAWKSBILL_ROOT_FILE = "hawksbill_root_v1_prod.crt"
AZURE_VERSION = "MRVL-1"
GOOGLE_FORMAT = "CAVIUM_V2_COMPRESSED"
MAX_PEM_BYTES = 64 * 1024
MAX_BUNDLE_CERTS = 8
MAX_GZIP_INPUT = 1024 * 1024
_ATTESTATION_FIELDS = ("certificatePemFile", "privateKeyAttestation", "publicKeyAttestation", "version")
_GCLOUD_SUFFIXES = (".dat", ".gz", ".bin")
"""What the gcloud attestation file may be named (it is found by suffix)."""
_JWK_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass
class MarvellAttestation:
    """One generated attestation before packaging: blobs, the certificate bundle and the key's metadata.

    Mutable so the vector catalogue can change one piece and package again.
    """

    cloud: Cloud
    key: StoredKey
    names: KeyNames
    blob: bytes
    public_blob: bytes | None
    certs: list[x509.Certificate]
    marvell_root: x509.Certificate
    owner_root: x509.Certificate

    @property
    def stem(self) -> str:
        """File-name stem: the cloud's key name."""
        return self.names.azure_key if self.cloud is Cloud.AZURE else self.names.gcp_key


# -- writing ----------------------------------------------------------------------------------------

def jwk_uint(value: int) -> str:
    """A JWK unsigned integer (RSA ``n``, ``e``): base64url of its minimal big-endian bytes."""
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


_pem_of = lru_cache(maxsize=64)(cert_pem)
"""A device's certificates are packaged into every vector and fuzz case made from it: the PEM of each, a pure
function of its DER, is written once (serialising a certificate costs more than hashing it)."""


def _jwk(key: StoredKey, kid: str, options: MarvellOptions) -> dict[str, object]:
    attrs = key.attributes
    suffix = "-HSM" if options.jwk_hsm_kty else ""
    ops = [op for op, on in (("encrypt", attrs.decrypt), ("decrypt", attrs.decrypt), ("sign", attrs.sign),
                             ("verify", attrs.sign), ("wrapKey", attrs.unwrap), ("unwrapKey", attrs.unwrap)) if on]
    public = key.public_key
    if isinstance(public, rsa.RSAPublicKey):
        rsa_numbers = public.public_numbers()
        return {"kid": kid, "kty": "RSA" + suffix, "key_ops": ops,
                "n": jwk_uint(rsa_numbers.n), "e": jwk_uint(rsa_numbers.e)}
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = (public.curve.key_size + 7) // 8
        ec_numbers = public.public_numbers()
        return {"kid": kid, "kty": "EC" + suffix, "key_ops": [op for op in ops if op in ("sign", "verify")],
                "crv": _JWK_CURVES[public.curve.name], "x": b64url(ec_numbers.x.to_bytes(size, "big")),
                "y": b64url(ec_numbers.y.to_bytes(size, "big"))}
    return {"kid": kid, "kty": "oct" + suffix, "key_ops": [op for op in ops if op not in ("sign", "verify")]}


def _b64_standard(data: bytes) -> str:
    return base64.b64encode(data).decode()


def azure_document(att: MarvellAttestation, envelope: AzureEnvelope, options: MarvellOptions) -> dict[str, object]:
    """The Azure JSON document. A missing public blob is omitted from the REST shapes; the az CLI file
    writes it as ``null`` (``options.az_cli_public_null``), as ``json.dump(todict(...))`` writes the SDK's
    ``KeyAttestation`` whose ``public_key_attestation`` is None."""
    az_cli = envelope is AzureEnvelope.AZ_CLI
    encode = _b64_standard if az_cli else b64url
    attestation: dict[str, object] = {
        "certificatePemFile": encode(b"".join(_pem_of(c) for c in att.certs)),
        "privateKeyAttestation": encode(att.blob),
    }
    if att.public_blob is not None:
        attestation["publicKeyAttestation"] = encode(att.public_blob)
    elif az_cli and options.az_cli_public_null:
        attestation["publicKeyAttestation"] = None
    attestation["version"] = AZURE_VERSION
    if envelope is not AzureEnvelope.KEY_BUNDLE:
        return attestation
    created = int(att.key.created.timestamp())
    return {"key": _jwk(att.key, att.names.key_uri, options),
            "attributes": {"enabled": True, "created": created, "updated": created,
                           "recoveryLevel": "Recoverable+Purgeable", "attestation": attestation}}


def _gcp_algorithm(key: StoredKey) -> str:
    spec, attrs = key.spec, key.attributes
    if spec.key_type is KeyType.AES:
        return "GOOGLE_SYMMETRIC_ENCRYPTION"
    if spec.key_type is KeyType.EC:
        return {"secp256r1": "EC_SIGN_P256_SHA256", "secp384r1": "EC_SIGN_P384_SHA384"}[spec.curve or ""]
    purpose = "SIGN_PKCS1" if attrs.sign or not attrs.decrypt else "DECRYPT_OAEP"
    return f"RSA_{purpose}_{spec.bits}_SHA256"



def google_document(att: MarvellAttestation, content: bytes) -> dict[str, object]:
    """The CryptoKeyVersion JSON (``gcloud kms keys versions describe --format=json``) around ``content``."""
    text = [_pem_of(c).decode() for c in att.certs]  # in gcloud's order: Cavium, Google partition, Google card
    return {
        "name": att.names.gcp_version_name, "state": "ENABLED", "protectionLevel": "HSM",
        "algorithm": _gcp_algorithm(att.key),
        "attestation": {"format": GOOGLE_FORMAT, "content": _b64_standard(content),
                        "certChains": {"caviumCerts": text[:2], "googleCardCerts": text[3:],
                                       "googlePartitionCerts": text[2:3]}},
        "createTime": rfc3339(att.key.created), "generateTime": rfc3339(att.key.created),
    }


def dump_json(document: object) -> bytes:
    """JSON as the tools print it: two-space indent, one trailing newline."""
    return indented_json(document, 2)


def dump_document(document: object, cloud: Cloud, options: MarvellOptions) -> bytes:
    """The envelope JSON's bytes: as the tools print it (:func:`dump_json`), except the az CLI file, which
    ``az keyvault key get-attestation --file`` writes with ``json.dump`` and its defaults (``", "`` and ``": "``
    separators, ASCII escapes, no indent) and no trailing newline (azure-cli keyvault ``custom.py``)."""
    if cloud is Cloud.AZURE and options.azure_envelope is AzureEnvelope.AZ_CLI:
        return json.dumps(document).encode("ascii")
    return dump_json(document)


def package(att: MarvellAttestation, options: MarvellOptions = DEFAULT_OPTIONS) -> Evidence:
    """The files a relying party receives: the cloud's envelope, the public key (Google) and the roots."""
    if att.cloud is Cloud.AZURE:
        primary = f"{att.stem}.attestation.json"
        files = {primary: dump_document(azure_document(att, options.azure_envelope, options), att.cloud, options),
                 MARVELL_ROOT_FILE: _pem_of(att.marvell_root)}
        return Evidence(AZURE_FORMAT_NAME, files, primary)
    compressed = _gzipped(att.blob)
    if options.google_envelope is GoogleEnvelope.JSON:
        primary = f"{att.stem}.json"
        files = {primary: dump_json(google_document(att, compressed))}
    else:
        primary = f"{att.stem}.attestation.dat"
        files = {primary: compressed, f"{att.stem}.certs.pem": b"".join(_pem_of(c) for c in att.certs)}
    if att.key.public_key is not None:
        files[f"{att.stem}.pub.pem"] = spki_pem(att.key.public_key)
    files |= {MARVELL_ROOT_FILE: _pem_of(att.marvell_root), HAWKSBILL_ROOT_FILE: _pem_of(att.owner_root)}
    return Evidence(GOOGLE_FORMAT_NAME, files, primary)


# -- gzip and base64 ----------------------------------------------------------------------------

def gunzip_bounded(data: bytes, limit: int = mb.MAX_BLOB_BYTES) -> bytes:
    """Inflate one gzip member to at most ``limit`` bytes; nothing may follow it.

    Raises LIMIT_EXCEEDED when the output would exceed ``limit`` (a gzip bomb is stopped after
    ``limit + 1`` bytes), MALFORMED when it is not gzip, is truncated or has trailing bytes.
    """
    if len(data) > MAX_GZIP_INPUT:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"compressed attestation is {len(data)} bytes (limit {MAX_GZIP_INPUT})")
    if not data.startswith(b"\x1f\x8b"):
        raise Rejected(Reason.MALFORMED, "attestation is not gzip (no 1f 8b magic)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Rejected(Reason.MALFORMED, f"gzip does not inflate: {exc}") from None
    if len(out) > limit:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"gzip expands beyond {limit} bytes")
    if not inflater.eof:
        raise Rejected(Reason.MALFORMED, "gzip stream is truncated")
    if inflater.unused_data:
        raise Rejected(Reason.MALFORMED, f"{len(inflater.unused_data)} bytes follow the gzip member")
    return out


GZIP_LEVEL = 6
GZIP_MEM_LEVEL = 9
"""Level 6 with memLevel 9 is what reproduces both real Google blobs' deflate streams with zlib
1.2.x (the RSA-4096 blob's stream differs under zlib's default memLevel 8)."""


def gzip_member(deflated: bytes, crc: int, size: int) -> bytes:
    """The gzip member around the raw deflate stream ``deflated`` of ``size`` bytes whose CRC-32 is ``crc``, with
    Google's samples' header ``1f8b 0800 0000 0000 0000`` (no name, mtime 0, XFL 0, OS 0)."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00" + deflated + struct.pack("<II", crc, size & 0xFFFFFFFF)


def gzip_deterministic(data: bytes) -> bytes:
    """gzip as Google's samples are (:func:`gzip_member`): a raw deflate stream at level 6 with memLevel 9 and a
    32 KiB window, CRC-32 and length.

    With zlib 1.2.x (CPython's usual build) this reproduces both real blobs byte for byte; another
    deflate implementation (zlib-ng) may choose other matches, which changes no decompressed byte.
    """
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, GZIP_MEM_LEVEL)
    return gzip_member(compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))


_gzipped = lru_cache(maxsize=64)(gzip_deterministic)
"""Packaging compresses a golden's blob again for every vector and fuzz case that leaves it unchanged."""


class Base64Style(enum.StrEnum):
    """How a JSON value was base64-encoded."""

    URLSAFE = "urlsafe"
    """base64url without padding (Azure REST)."""
    STANDARD = "standard"
    """Standard alphabet with padding (az CLI files, Google ``content``)."""
    EITHER = "either"
    """Canonical in both styles: no ``+/-_`` and no padding needed (base64 of PEM text never holds ``+`` or ``/``,
    so a PEM bundle whose length is a multiple of 3 always reads this way)."""
    OTHER = "other"
    """Decodable but not canonical in either style (mixed alphabets, odd padding)."""


_BASE64_ALPHABETS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_STANDARD_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64_decode(text: object, what: str, max_bytes: int) -> tuple[bytes, Base64Style]:
    """Decode base64 in either alphabet, padded or not (as the Azure script does); report the style.

    Raises MALFORMED for a non-string or characters outside both alphabets, LIMIT_EXCEEDED when the
    text would decode to more than ``max_bytes``.
    """
    if not isinstance(text, str):
        raise Rejected(Reason.MALFORMED, f"{what} is {type(text).__name__}, not a base64 string")
    if len(text) > (max_bytes * 4) // 3 + 4:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is longer than {max_bytes} decoded bytes")
    # Characters of both alphabets, then at most two "=" (a non-ASCII character becomes "?", in neither).
    raw = text.encode("ascii", "replace")
    bare = raw.rstrip(b"=")
    if len(raw) - len(bare) > 2 or bare.translate(None, _BASE64_ALPHABETS):
        raise Rejected(Reason.MALFORMED, f"{what} holds characters outside base64")
    if len(bare) % 4 == 1:
        raise Rejected(Reason.MALFORMED, f"{what} has an impossible base64 length")
    try:
        data = binascii.a2b_base64(bare.translate(_URLSAFE_TO_STANDARD) + b"=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        raise Rejected(Reason.MALFORMED, f"{what} is not valid base64") from None
    standard = binascii.b2a_base64(data, newline=False)
    urlsafe = standard.translate(_STANDARD_TO_URLSAFE).rstrip(b"=")
    if raw == standard == urlsafe:
        style = Base64Style.EITHER
    elif raw == urlsafe:
        style = Base64Style.URLSAFE
    elif raw == standard:
        style = Base64Style.STANDARD
    else:
        style = Base64Style.OTHER
    return data, style


def b64url(data: bytes) -> str:
    """base64url without padding, as Azure REST writes bytes."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# -- reading ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnvelopeContents:
    """What the envelope yielded: the blob(s), the bundle, the binding inputs and strict-profile findings."""

    blob: bytes
    public_blob: bytes | None
    certs: tuple[x509.Certificate, ...]
    jwk: dict[str, object] | None
    bind_spki: tuple[tuple[str, bytes], ...]
    csr: bytes | None
    strict_findings: tuple[tuple[Reason, str], ...] = field(default_factory=tuple)
    declared_exportable: str | None = None
    """What in an Azure KeyBundle declares the key exportable (``attributes.exportable`` true, a
    ``release_policy``: Secure Key Release), None when nothing does or the envelope has no KeyBundle."""


def loaded_key_spki(public_key: PublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of a key read from evidence, of any algorithm cryptography loads
    (:func:`hsmsim.encoding.spki_der` takes only the key types hsmsim generates)."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def read_envelope(cloud: Cloud, evidence: Evidence, profile: Profile) -> EnvelopeContents:
    """The blob(s), certificates and binding inputs of ``cloud``'s envelope in ``evidence``.

    Files are looked up by base name; raises :class:`Rejected` for an oversized file, a missing or
    duplicated envelope piece (two different files of one base name are MALFORMED: which one was meant is
    ambiguous; an identical copy is the same file, :func:`hsmsim.checks.by_base_name`), bad JSON, base64, PEM
    or gzip. Google's envelope is the one the primary file is when it is one (the gcloud ``.dat`` or the JSON),
    so the primary is always what is verified. Strict-profile
    findings (unknown fields, inconsistent base64 styles) are returned, not raised, so the chain and
    signature checks still run first.
    """
    for rel, data in evidence.files.items():
        if len(data) > MAX_BUNDLE_FILE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
    flat = by_base_name(evidence.files)
    if cloud is Cloud.AZURE:
        return _azure_contents(flat, profile)
    return _google_contents(flat, evidence.primary.rsplit("/", 1)[-1].endswith(_GCLOUD_SUFFIXES))


def _load_json(data: bytes, what: str) -> object:
    if len(data) > MAX_JSON_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {MAX_JSON_BYTES})")
    try:  # a member named twice is ATTR_CONFLICT, as in every format's JSON and CBOR
        return load_json(data.decode("utf-8"), unique_json_members)
    except ValueError as exc:  # UnicodeDecodeError and JsonDepthError included
        raise Rejected(Reason.MALFORMED, f"{what} is not JSON: {exc}") from None


def _load_certs(data: bytes, what: str) -> tuple[x509.Certificate, ...]:
    if len(data) > MAX_PEM_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {MAX_PEM_BYTES})")
    if data.count(b"-----BEGIN") > MAX_BUNDLE_CERTS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} holds more than {MAX_BUNDLE_CERTS} certificates")
    try:
        return _parsed_pem_certificates(data)
    except UnsupportedAlgorithm as exc:
        raise Rejected(Reason.UNSUPPORTED, f"a certificate in {what} uses an unknown algorithm: {exc}") from None
    except _PemBundleError as exc:
        raise Rejected(Reason.MALFORMED, f"{what} does not parse as PEM certificates: {exc.__cause__}") from None
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"a certificate in {what} does not parse: {exc}") from None


class _PemBundleError(Exception):
    """The PEM text itself did not load (its cause is cryptography's error)."""


@lru_cache(maxsize=64)
def _parsed_pem_certificates(data: bytes) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM bundle, every lazily parsed field touched; raises :class:`_PemBundleError`, or
    :data:`CERT_PARSE_ERRORS` for a certificate that loads but does not parse.

    Keyed by the exact bytes: a device's chain file is the same in every bundle it emits (Marvell bundles carry
    no per-key certificate: the per-key evidence is the signed blob), and parsing is a pure function of the bytes.
    A bundle that does not parse is not remembered.
    """
    try:
        certs = tuple(x509.load_pem_x509_certificates(data))
    except CERT_PARSE_ERRORS as exc:  # InvalidVersion is raised here, and is no ValueError
        raise _PemBundleError from exc
    for cert in certs:
        _ = loaded_key_spki(fully_parsed(cert).public_key())
    return certs


def _one(flat: dict[str, bytes], names: list[str], what: str) -> tuple[str, bytes] | None:
    if len(names) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one {what} in the bundle: {sorted(names)}")
    return (names[0], flat[names[0]]) if names else None


def _binding_inputs(flat: dict[str, bytes]) -> tuple[tuple[tuple[str, bytes], ...], bytes | None]:
    keys = []
    for file_name in sorted(n for n in flat if n.endswith(".pub.pem")):
        try:
            public = serialization.load_pem_public_key(flat[file_name])
        except (ValueError, UnsupportedAlgorithm):
            raise Rejected(Reason.MALFORMED, f"{file_name} is not a PEM public key") from None
        keys.append((file_name, loaded_key_spki(public)))
    csr = _one(flat, [n for n in flat if n.endswith(".csr")], "CSR")
    return tuple(keys), csr[1] if csr else None


def _azure_contents(flat: dict[str, bytes], profile: Profile) -> EnvelopeContents:
    found = _one(flat, [n for n in flat if n.endswith(".json")], "JSON document")
    if found is None:
        raise Rejected(Reason.MISSING_INPUT, "no Azure attestation JSON in the bundle")
    file_name, data = found
    document = _load_json(data, file_name)
    if not isinstance(document, dict):
        raise Rejected(Reason.MALFORMED, f"{file_name} is not a JSON object")
    node: object = document
    is_key_bundle = "attributes" in document  # a KeyBundle (REST, SDKs), not the bare attestation object
    if is_key_bundle:
        node = document["attributes"]
    if isinstance(node, dict) and "attestation" in node:
        node = node["attestation"]
    if not isinstance(node, dict):
        raise Rejected(Reason.MALFORMED, "the attestation is not a JSON object")
    for required in ("privateKeyAttestation", "certificatePemFile", "version"):
        if required not in node:
            raise Rejected(Reason.MISSING_INPUT, f"the attestation has no {required!r}")
    if node["version"] != AZURE_VERSION:
        raise Rejected(Reason.UNSUPPORTED, f"attestation version {node['version']!r} is not {AZURE_VERSION!r}")
    # The az CLI file writes an absent blob as null; the SDKs read null as absent. Only the Azure script
    # crashes on it, which makes it a script limitation, not a malformed attestation.
    public_null = "publicKeyAttestation" in node and node["publicKeyAttestation"] is None
    findings: list[tuple[Reason, str]] = []
    unknown = sorted(set(node) - set(_ATTESTATION_FIELDS))
    if unknown:
        findings.append((Reason.UNEXPECTED_CONTENT, f"unknown attestation fields {unknown}"))
    # Known members are base64: only unknown ones can. A NUL reaches a string only as the escape \u0000.
    if b"\\u0000" in data and any("\x00" in text for text in json_strings(document)):
        findings.append((Reason.UNEXPECTED_CONTENT, f"{file_name} holds a NUL character in a member name or string"))
    pem_bundle, pem_style = b64_decode(node["certificatePemFile"], "certificatePemFile", MAX_PEM_BYTES)
    blob, blob_style = b64_decode(node["privateKeyAttestation"], "privateKeyAttestation", mb.MAX_BLOB_BYTES)
    styles = {pem_style, blob_style}
    public_blob = None
    if "publicKeyAttestation" in node and not public_null:
        public_blob, public_style = b64_decode(node["publicKeyAttestation"], "publicKeyAttestation",
                                               mb.MAX_BLOB_BYTES)
        styles.add(public_style)
    styles.discard(Base64Style.EITHER)
    allowed = [set(), {Base64Style.URLSAFE}] + ([] if is_key_bundle else [{Base64Style.STANDARD}])
    if styles not in allowed:
        expected = "base64url without padding" if is_key_bundle else "one consistent base64 style"
        findings.append((Reason.MALFORMED, f"attestation values are {sorted(s.value for s in styles)}, not {expected}"))
    if public_null and Base64Style.STANDARD not in styles:
        findings.append((Reason.UNEXPECTED_CONTENT, "publicKeyAttestation is null in a REST-shaped (base64url) "
                                                    "attestation; the service omits an absent blob, only the az CLI "
                                                    "file writes null"))
    jwk = document.get("key") if is_key_bundle else None
    if jwk is not None and not isinstance(jwk, dict):
        raise Rejected(Reason.MALFORMED, "key is not a JSON object")
    keys, csr = _binding_inputs(flat)
    return EnvelopeContents(blob, public_blob, _load_certs(pem_bundle, "certificatePemFile"), jwk, keys, csr,
                            tuple(findings) if profile is Profile.STRICT else (),
                            _declared_exportable(document) if is_key_bundle else None)


def _declared_exportable(bundle: dict[str, object]) -> str | None:
    """What in the KeyBundle says the private key can leave the HSM: ``attributes.exportable`` true ("indicates if
    the private key can be exported") or a ``release_policy`` ("the policy rules under which the key can be
    exported"; the service keeps one only on an exportable key). MALFORMED when ``exportable`` is not a boolean."""
    attributes = bundle["attributes"]
    exportable = attributes.get("exportable") if isinstance(attributes, dict) else None
    if exportable is not None and not isinstance(exportable, bool):
        raise Rejected(Reason.MALFORMED, f"attributes.exportable is {type(exportable).__name__}, not a boolean")
    declared = (["attributes.exportable is true"] if exportable else []) + (
        ["a release_policy is set"] if bundle.get("release_policy") is not None else [])
    return " and ".join(declared) or None


def _google_contents(flat: dict[str, bytes], primary_is_gcloud_file: bool) -> EnvelopeContents:
    found_json = None if primary_is_gcloud_file else _one(flat, [n for n in flat if n.endswith(".json")],
                                                          "JSON document")
    if found_json is not None:
        document = _load_json(found_json[1], found_json[0])
        node = document.get("attestation", document) if isinstance(document, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get("certChains"), dict):
            raise Rejected(Reason.MALFORMED, "no KeyOperationAttestation with certChains in the JSON")
        if node.get("format") != GOOGLE_FORMAT:
            raise Rejected(Reason.UNSUPPORTED, f"attestation format {node.get('format')!r} is not {GOOGLE_FORMAT}")
        compressed, _ = b64_decode(node.get("content"), "content", MAX_GZIP_INPUT)
        certs: list[x509.Certificate] = []
        for chain_name in ("caviumCerts", "googleCardCerts", "googlePartitionCerts"):
            chain = node["certChains"].get(chain_name, [])
            if not isinstance(chain, list) or not all(isinstance(p, str) for p in chain):
                raise Rejected(Reason.MALFORMED, f"certChains.{chain_name} is not a list of PEM strings")
            certs += _load_certs("".join(chain).encode(), f"certChains.{chain_name}")
    else:
        blob_file = _one(flat, [n for n in flat if n.endswith(_GCLOUD_SUFFIXES)], "attestation file")
        if blob_file is None:
            raise Rejected(Reason.MISSING_INPUT, "no attestation file (.dat) in the bundle")
        compressed = blob_file[1]
        chain_file = _one(flat, [n for n in flat if n.endswith(("certs.pem", "chain.pem"))], "certificate chain")
        if chain_file is None:
            raise Rejected(Reason.MISSING_INPUT, "no certificate chain (*certs.pem) in the bundle")
        certs = list(_load_certs(chain_file[1], chain_file[0]))
    keys, csr = _binding_inputs(flat)
    return EnvelopeContents(gunzip_bounded(compressed), None, tuple(certs), None, keys, csr)


def jwk_spki(jwk: dict[str, object]) -> bytes | None:
    """The SubjectPublicKeyInfo a KeyBundle's JWK describes, None for an ``oct`` key; MALFORMED otherwise."""
    kty = str(jwk.get("kty", "")).removesuffix("-HSM")

    def number(name: str) -> int:
        value, _ = b64_decode(jwk.get(name), f"key.{name}", 1024)
        return int.from_bytes(value, "big")

    try:
        if kty == "RSA":
            return spki_der(rsa.RSAPublicNumbers(number("e"), number("n")).public_key())
        if kty == "EC":
            curve = {v: k for k, v in _JWK_CURVES.items()}.get(str(jwk.get("crv")))
            if curve is None:
                raise Rejected(Reason.MALFORMED, f"key.crv {jwk.get('crv')!r} is not a supported curve")
            curve_obj = next(c for c in mb.EC_CURVES.values() if c.name == curve)
            return spki_der(ec.EllipticCurvePublicNumbers(number("x"), number("y"), curve_obj).public_key())
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"the JWK is not a valid public key: {exc}") from None
    if kty != "oct":
        raise Rejected(Reason.MALFORMED, f"key.kty {jwk.get('kty')!r} is not RSA, EC or oct")
    return None
