"""Marvell LiquidSecurity key attestation, as Azure Managed HSM (``MRVL-1``) and Google Cloud HSM
(``CAVIUM_V2_COMPRESSED``) ship it: generator and reference verifier side by side.

Facts are from ``shared/specs/marvell.md`` (byte-verified against the real Google samples):

* The FW 3.x blob (:mod:`hsmsim.formats.marvell.blob`): response header, info header, one or two
  objects of PKCS#11 attribute TLVs in the observed order and encodings, and a 256-byte
  RSASSA-PKCS1-v1_5/SHA-256 signature by the partition's RSA-2048 key over everything before it.
  KCV = SHA-1(SPKI)[:3], EKCV = SHA-256(SPKI); the modulus / EC point sits in every object.
* Azure: a KeyBundle JSON (``key`` JWK, ``attributes.attestation`` = ``certificatePemFile``,
  ``privateKeyAttestation``, ``publicKeyAttestation``, ``version: "MRVL-1"``, base64url), the bare
  attestation object, or the ``az keyvault key get-attestation`` file (standard base64). Blobs are
  raw and hold exactly one object; the key ID attribute is the key URI.
* Google: the gcloud pair (gzip'd blob + the four-certificate PEM chain) or the CryptoKeyVersion
  JSON whose ``attestation`` is a KeyOperationAttestation (``content`` = base64 of the gzip'd blob,
  ``certChains`` with ``caviumCerts``, ``googleCardCerts``, ``googlePartitionCerts``).

GUESSES are switchable through :class:`MarvellOptions`; ``docs/formats/marvell.md`` lists them.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsmsim.checks import check_csr_binding, require_code_signing_key
from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.pki import (
    OwnerPki,
    azure_owner_pki,
    google_owner_pki,
    marvell_pki,
    marvell_root_names,
)
from hsmsim.keystore.base import KeyType, PrivateKey, StoredKey
from hsmsim.keystore.soft import spki_der
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, Evidence, TrustAnchors, read_bundle_dir
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.chain import ChainPolicy, require_key_usage, validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

AZURE_FORMAT_NAME = "marvell-azure"
GOOGLE_FORMAT_NAME = "marvell-google"
MARVELL_ROOT_FILE = "liquid_security_certificate.crt"  # the name of Marvell's own download
HAWKSBILL_ROOT_FILE = "hawksbill_root_v1_prod.crt"
AZURE_VERSION = "MRVL-1"
GOOGLE_FORMAT = "CAVIUM_V2_COMPRESSED"
MAX_JSON_BYTES = 1024 * 1024
MAX_PEM_BYTES = 64 * 1024
MAX_BUNDLE_CERTS = 8
_ATTESTATION_FIELDS = ("certificatePemFile", "privateKeyAttestation", "publicKeyAttestation", "version")
_JWK_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_MANUFACTURER_POLICY = ChainPolicy(allow_v1_ca=True)
_SERIAL_RE = re.compile(r"^HSM:([^:,]+), for FIPS mode$")


class Cloud(enum.StrEnum):
    """Which cloud's envelope wraps the blob."""

    AZURE = "azure"
    GOOGLE = "google"


class AzureEnvelope(enum.StrEnum):
    """The shapes Azure evidence comes in (the Azure script accepts all three)."""

    KEY_BUNDLE = "key-bundle"
    """``GET /keys/<name>/<version>/attestation``: key, attributes.attestation (base64url)."""
    ATTESTATION = "attestation"
    """Just the ``attestation`` object (base64url)."""
    AZ_CLI = "az-cli"
    """``az keyvault key get-attestation --file``: the attestation object, standard padded base64."""


class GoogleEnvelope(enum.StrEnum):
    """The shapes Google evidence comes in."""

    GCLOUD = "gcloud"
    """``--attestation-file`` (the gzip bytes) + ``get-certificate-chain --output-file`` (PEM)."""
    JSON = "json"
    """The CryptoKeyVersion resource with its KeyOperationAttestation."""


@dataclass(frozen=True)
class MarvellOptions:
    """Choices where the vendors publish nothing or the spec marks a GUESS (see docs/formats/marvell.md)."""

    azure_envelope: AzureEnvelope = AzureEnvelope.KEY_BUNDLE
    google_envelope: GoogleEnvelope = GoogleEnvelope.GCLOUD
    azure_header: mb.HeaderStyle = mb.HeaderStyle.BUFFER_SIZE
    """The REST example's 20-byte header; Google's samples use handles."""
    google_header: mb.HeaderStyle = mb.HeaderStyle.HANDLES
    azure_info_flags: int = 0
    google_info_flags: int = mb.RESPONSE_FLAGS
    azure_public_blob: bool = True
    """Asymmetric keys get a publicKeyAttestation (REST example, SDK docs; the README says otherwise)."""
    google_key_pair: bool = True
    """Asymmetric Google blobs carry the public and the private object (as the EC sample)."""
    token_true: int = 2
    """The observed OBJ_ATTR_TOKEN byte of token objects."""
    ec_modulus_bits: int = 0x19F
    """OBJ_ATTR_MODULUS_BITS of EC objects: the P-256 sample's value, used for every curve."""
    google_label: str | None = None
    """None: the key's CKA_LABEL; ``"app_key"`` reproduces the label of every Google sample."""
    jwk_hsm_kty: bool = True
    """JWK ``kty`` ``RSA-HSM``/``EC-HSM``/``oct-HSM`` (Managed HSM) rather than ``RSA``/``EC``/``oct``."""
    legacy_root: bool = False
    """Sign card certificates with the 2015 v1 LS1 root shape (expired 2025-11-16) instead of the 2024
    reissue; read by :meth:`MarvellFormat.provision`, so set it on the format instance."""


DEFAULT_OPTIONS = MarvellOptions()


@dataclass(frozen=True)
class KeyNames:
    """How the cloud names one key: the Azure key URI and the Google CryptoKeyVersion resource."""

    azure_pool: str
    azure_key: str
    azure_version: str
    gcp_project: str
    gcp_location: str
    gcp_key_ring: str
    gcp_key: str
    uri: str | None = None
    """The key URI a server exposes, when it is not the derived Managed HSM URI."""

    @property
    def key_uri(self) -> str:
        """``https://<pool>.managedhsm.azure.net/keys/<name>/<version>`` or ``uri`` (the OBJ_ATTR_ID on Azure)."""
        return self.uri or f"https://{self.azure_pool}.managedhsm.azure.net/keys/{self.azure_key}/{self.azure_version}"

    @property
    def gcp_version_name(self) -> str:
        """``projects/…/cryptoKeys/<key>/cryptoKeyVersions/1``."""
        return (f"projects/{self.gcp_project}/locations/{self.gcp_location}/keyRings/{self.gcp_key_ring}"
                f"/cryptoKeys/{self.gcp_key}/cryptoKeyVersions/1")

    @classmethod
    def derive(cls, device: Device, label: str, *, pool: str | None = None, project: str | None = None,
               location: str = "us-east1", key_ring: str = "hsmsim") -> KeyNames:
        """Names from the device and the key label (valid Azure and Google identifiers, URI ≤ 128 bytes)."""
        pool = pool or f"hsmsim-{device.serial}"
        version = drbg(device.seed, f"azure/{pool}/key/{label}/version").read(16).hex()
        room = mb.FIXED_TEXT_BYTES - len(f"https://{pool}.managedhsm.azure.net/keys//{version}")
        azure_key = (re.sub(r"[^0-9A-Za-z-]", "-", label) or "key")[:max(room, 1)]
        gcp_key = (re.sub(r"[^0-9A-Za-z_-]", "-", label) or "key")[:63]
        return cls(pool, azure_key, version, project or f"hsmsim-{device.serial}", location, key_ring, gcp_key)


# -- the key objects ----------------------------------------------------------------------------

def object_handles(seed: str, names: KeyNames, label: str) -> tuple[int, int]:
    """Two distinct small object handles (public, private) derived from the seed and the key."""
    rng = drbg(seed, f"marvell/handles/{names.key_uri}/{label}")
    first = rng.randint_bits(16) % 0x3FF0
    second = (first + 1 + rng.randint_bits(16) % 0x3FEF) % 0x3FF0
    return 0x10 + first, 0x10 + second


# -- the generated pieces ---------------------------------------------------------------------------

def pem(cert: x509.Certificate) -> bytes:
    """PEM of a certificate, newline-terminated."""
    return cert.public_bytes(serialization.Encoding.PEM)


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


def assemble(cloud: Cloud, key: StoredKey, identity: AttestationIdentity, device: Device, names: KeyNames,
             options: MarvellOptions = DEFAULT_OPTIONS) -> MarvellAttestation:
    """Build and sign the blob(s) for ``key`` and the cloud's certificate bundle (the generator's core).

    The blob carries no time: the same key, identity and names give the same bytes whenever asked.
    """
    signer = identity.key
    if not isinstance(signer, rsa.RSAPrivateKey) or signer.key_size != 2048:
        raise UnsupportedKeyError("the LiquidSecurity partition key must be RSA-2048")
    secret = key.public_key is None
    private_class = mb.ObjectClass.SECRET_KEY if secret else mb.ObjectClass.PRIVATE_KEY
    public_handle, private_handle = object_handles(device.seed, names, key.label)
    partition, card = identity.certificate, identity.chain[1]
    if cloud is Cloud.AZURE:
        identifier, label = names.key_uri, key.label
        owner = azure_owner_pki(device.seed, partition, names.azure_pool)
        certs = [card, partition, owner.root, owner.partition]
    else:
        identifier, label = hashlib.sha512(key.attributes.id).hexdigest(), options.google_label or key.label
        owner = google_owner_pki(device.seed, partition, card)
        assert owner.card is not None
        certs = [partition, card, owner.card, owner.partition]

    def obj(object_class: mb.ObjectClass, handle: int) -> mb.KeyObject:
        return mb.key_object(key, object_class, handle=handle, label=label, identifier=identifier,
                             token_true=options.token_true, ec_modulus_bits=options.ec_modulus_bits)

    private = obj(private_class, private_handle)
    public = None if secret else obj(mb.ObjectClass.PUBLIC_KEY, public_handle)
    public_blob = None
    if cloud is Cloud.AZURE:
        blob = mb.sign_body(mb.encode_body([private], header=options.azure_header,
                                           info_flags=options.azure_info_flags), signer)
        if public is not None and options.azure_public_blob:
            public_blob = mb.sign_body(mb.encode_body([public], header=options.azure_header,
                                                      info_flags=options.azure_info_flags), signer)
    else:
        objects = [public, private] if public is not None and options.google_key_pair else [private]
        blob = mb.sign_body(mb.encode_body(objects, header=options.google_header,
                                           info_flags=options.google_info_flags), signer)
    return MarvellAttestation(cloud, key, names, blob, public_blob, certs, identity.root, owner.root)


def _jwk(key: StoredKey, kid: str, options: MarvellOptions) -> dict[str, object]:
    attrs = key.attributes
    suffix = "-HSM" if options.jwk_hsm_kty else ""
    ops = [op for op, on in (("encrypt", attrs.decrypt), ("decrypt", attrs.decrypt), ("sign", attrs.sign),
                             ("verify", attrs.sign), ("wrapKey", attrs.unwrap), ("unwrapKey", attrs.unwrap)) if on]
    public = key.public_key
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {"kid": kid, "kty": "RSA" + suffix, "key_ops": ops,
                "n": mb.b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": mb.b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))}
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = (public.curve.key_size + 7) // 8
        numbers = public.public_numbers()
        return {"kid": kid, "kty": "EC" + suffix, "key_ops": [op for op in ops if op in ("sign", "verify")],
                "crv": _JWK_CURVES[public.curve.name], "x": mb.b64url(numbers.x.to_bytes(size, "big")),
                "y": mb.b64url(numbers.y.to_bytes(size, "big"))}
    return {"kid": kid, "kty": "oct" + suffix, "key_ops": [op for op in ops if op not in ("sign", "verify")]}


def _b64_standard(data: bytes) -> str:
    return base64.b64encode(data).decode()


def azure_document(att: MarvellAttestation, envelope: AzureEnvelope, options: MarvellOptions) -> dict[str, object]:
    """The Azure JSON document; a missing public blob is omitted, never ``null``."""
    encode = _b64_standard if envelope is AzureEnvelope.AZ_CLI else mb.b64url
    attestation: dict[str, object] = {
        "certificatePemFile": encode(b"".join(pem(c) for c in att.certs)),
        "privateKeyAttestation": encode(att.blob),
    }
    if att.public_blob is not None:
        attestation["publicKeyAttestation"] = encode(att.public_blob)
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


def _rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def google_document(att: MarvellAttestation, content: bytes) -> dict[str, object]:
    """The CryptoKeyVersion JSON (``gcloud kms keys versions describe --format=json``) around ``content``."""
    text = [pem(c).decode() for c in att.certs]
    return {
        "name": att.names.gcp_version_name, "state": "ENABLED", "protectionLevel": "HSM",
        "algorithm": _gcp_algorithm(att.key),
        "attestation": {"format": GOOGLE_FORMAT, "content": _b64_standard(content),
                        "certChains": {"caviumCerts": text[:2], "googleCardCerts": text[2:3],
                                       "googlePartitionCerts": text[3:]}},
        "createTime": _rfc3339(att.key.created), "generateTime": _rfc3339(att.key.created),
    }


def dump_json(document: object) -> bytes:
    """JSON as the tools print it: two-space indent, one trailing newline."""
    return (json.dumps(document, indent=2) + "\n").encode()


def package(att: MarvellAttestation, options: MarvellOptions = DEFAULT_OPTIONS) -> Evidence:
    """The files a relying party receives: the cloud's envelope, the public key (Google) and the roots."""
    if att.cloud is Cloud.AZURE:
        primary = f"{att.stem}.attestation.json"
        files = {primary: dump_json(azure_document(att, options.azure_envelope, options)),
                 MARVELL_ROOT_FILE: pem(att.marvell_root)}
        return Evidence(AZURE_FORMAT_NAME, files, primary)
    compressed = mb.gzip_deterministic(att.blob)
    if options.google_envelope is GoogleEnvelope.JSON:
        primary = f"{att.stem}.json"
        files = {primary: dump_json(google_document(att, compressed))}
    else:
        primary = f"{att.stem}.attestation.dat"
        files = {primary: compressed, f"{att.stem}.certs.pem": b"".join(pem(c) for c in att.certs)}
    if att.key.public_key is not None:
        files[f"{att.stem}.pub.pem"] = att.key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    files |= {MARVELL_ROOT_FILE: pem(att.marvell_root), HAWKSBILL_ROOT_FILE: pem(att.owner_root)}
    return Evidence(GOOGLE_FORMAT_NAME, files, primary)


def owner_pki(cloud: Cloud, device: Device, identity: AttestationIdentity, names: KeyNames) -> OwnerPki:
    """The owner PKI :func:`assemble` uses for this cloud (for anchors and tests)."""
    if cloud is Cloud.AZURE:
        return azure_owner_pki(device.seed, identity.certificate, names.azure_pool)
    return google_owner_pki(device.seed, identity.certificate, identity.chain[1])


# -- verification: inputs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Inputs:
    """What the envelope yielded: the blob(s), the bundle, the binding inputs and strict-profile findings."""

    blob: bytes
    public_blob: bytes | None
    certs: tuple[x509.Certificate, ...]
    jwk: dict[str, object] | None
    bind_spki: tuple[tuple[str, bytes], ...]
    csr: bytes | None
    strict_findings: tuple[tuple[Reason, str], ...] = field(default_factory=tuple)


def _load_json(data: bytes, what: str) -> object:
    if len(data) > MAX_JSON_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {MAX_JSON_BYTES})")

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            duplicate = next(k for k in keys if keys.count(k) > 1)
            raise Rejected(Reason.MALFORMED, f"{what} has the key {duplicate!r} twice")
        return dict(pairs)

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=unique)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Rejected(Reason.MALFORMED, f"{what} is not JSON: {exc}") from None


def _load_certs(data: bytes, what: str) -> list[x509.Certificate]:
    if len(data) > MAX_PEM_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is {len(data)} bytes (limit {MAX_PEM_BYTES})")
    if data.count(b"-----BEGIN") > MAX_BUNDLE_CERTS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} holds more than {MAX_BUNDLE_CERTS} certificates")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"{what} does not parse as PEM certificates: {exc}") from None
    for cert in certs:
        try:
            _ = (cert.subject, cert.issuer, cert.extensions, spki_der(cert.public_key()))
        except UnsupportedAlgorithm as exc:
            raise Rejected(Reason.UNSUPPORTED, f"a certificate in {what} uses an unknown algorithm: {exc}") from None
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
            raise Rejected(Reason.MALFORMED, f"a certificate in {what} does not parse: {exc}") from None
    return certs


def _flatten(evidence: Evidence) -> dict[str, bytes]:
    flat: dict[str, bytes] = {}
    for rel, data in evidence.files.items():
        if len(data) > MAX_BUNDLE_FILE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
        flat.setdefault(rel.rsplit("/", 1)[-1], data)
    return flat


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
        keys.append((file_name, spki_der(public)))
    csr = _one(flat, [n for n in flat if n.endswith(".csr")], "CSR")
    return tuple(keys), csr[1] if csr else None


def _azure_inputs(flat: dict[str, bytes], profile: Profile) -> _Inputs:
    found = _one(flat, [n for n in flat if n.endswith(".json")], "JSON document")
    if found is None:
        raise Rejected(Reason.MISSING_INPUT, "no Azure attestation JSON in the bundle")
    file_name, data = found
    document = _load_json(data, file_name)
    if not isinstance(document, dict):
        raise Rejected(Reason.MALFORMED, f"{file_name} is not a JSON object")
    node: object = document
    wants_urlsafe = "attributes" in document
    if wants_urlsafe:
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
    if "publicKeyAttestation" in node and node["publicKeyAttestation"] is None:
        raise Rejected(Reason.MALFORMED, "publicKeyAttestation is null (the Azure script crashes on it); "
                                         "a missing blob is omitted")
    findings: list[tuple[Reason, str]] = []
    unknown = sorted(set(node) - set(_ATTESTATION_FIELDS))
    if unknown:
        findings.append((Reason.UNEXPECTED_CONTENT, f"unknown attestation fields {unknown}"))
    pem_bundle, pem_style = mb.b64_decode(node["certificatePemFile"], "certificatePemFile", MAX_PEM_BYTES)
    blob, blob_style = mb.b64_decode(node["privateKeyAttestation"], "privateKeyAttestation", mb.MAX_BLOB_BYTES)
    styles = {pem_style, blob_style}
    public_blob = None
    if "publicKeyAttestation" in node:
        public_blob, public_style = mb.b64_decode(node["publicKeyAttestation"], "publicKeyAttestation",
                                                  mb.MAX_BLOB_BYTES)
        styles.add(public_style)
    allowed = [{mb.Base64Style.URLSAFE}] if wants_urlsafe else [{mb.Base64Style.URLSAFE}, {mb.Base64Style.STANDARD}]
    if styles not in allowed:
        expected = "base64url without padding" if wants_urlsafe else "one consistent base64 style"
        findings.append((Reason.MALFORMED, f"attestation values are {sorted(s.value for s in styles)}, not {expected}"))
    jwk = document.get("key") if wants_urlsafe else None
    if jwk is not None and not isinstance(jwk, dict):
        raise Rejected(Reason.MALFORMED, "key is not a JSON object")
    keys, csr = _binding_inputs(flat)
    return _Inputs(blob, public_blob, tuple(_load_certs(pem_bundle, "certificatePemFile")), jwk, keys, csr,
                   tuple(findings) if profile is Profile.STRICT else ())


def _google_inputs(flat: dict[str, bytes]) -> _Inputs:
    found_json = _one(flat, [n for n in flat if n.endswith(".json")], "JSON document")
    if found_json is not None:
        document = _load_json(found_json[1], found_json[0])
        node = document.get("attestation", document) if isinstance(document, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get("certChains"), dict):
            raise Rejected(Reason.MALFORMED, "no KeyOperationAttestation with certChains in the JSON")
        if node.get("format") != GOOGLE_FORMAT:
            raise Rejected(Reason.UNSUPPORTED, f"attestation format {node.get('format')!r} is not {GOOGLE_FORMAT}")
        compressed, _ = mb.b64_decode(node.get("content"), "content", mb.MAX_GZIP_INPUT)
        certs: list[x509.Certificate] = []
        for chain_name in ("caviumCerts", "googleCardCerts", "googlePartitionCerts"):
            chain = node["certChains"].get(chain_name, [])
            if not isinstance(chain, list) or not all(isinstance(p, str) for p in chain):
                raise Rejected(Reason.MALFORMED, f"certChains.{chain_name} is not a list of PEM strings")
            certs += _load_certs("".join(chain).encode(), f"certChains.{chain_name}")
    else:
        blob_file = _one(flat, [n for n in flat if n.endswith((".dat", ".gz", ".bin"))], "attestation file")
        if blob_file is None:
            raise Rejected(Reason.MISSING_INPUT, "no attestation file (.dat) in the bundle")
        compressed = blob_file[1]
        chain_file = _one(flat, [n for n in flat if n.endswith(("certs.pem", "chain.pem"))], "certificate chain")
        if chain_file is None:
            raise Rejected(Reason.MISSING_INPUT, "no certificate chain (*certs.pem) in the bundle")
        certs = _load_certs(chain_file[1], chain_file[0])
    keys, csr = _binding_inputs(flat)
    return _Inputs(mb.gunzip_bounded(compressed), None, tuple(certs), None, keys, csr)


# -- verification: chains and signatures --------------------------------------------------------------

@dataclass(frozen=True)
class _Chains:
    """The certificates that vouch for the blob, and the bundle's certificates outside both chains."""

    partition: x509.Certificate
    card: x509.Certificate
    owner_partition: x509.Certificate
    unused: tuple[x509.Certificate, ...]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _spki(cert: x509.Certificate) -> bytes:
    return spki_der(cert.public_key())


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _owner_copy(of: x509.Certificate, certs: list[x509.Certificate], what: str) -> x509.Certificate:
    """The bundle's owner certificate carrying exactly the SPKI of the manufacturer certificate ``of``."""
    same_key = [c for c in certs if _spki(c) == _spki(of) and _der(c) != _der(of) and not _self_signed(c)]
    if len(same_key) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one owner certificate for the {what} key")
    if same_key:
        return same_key[0]
    if any(c.subject == of.subject and _der(c) != _der(of) for c in certs):
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH,
                       f"the owner {what} certificate carries a different key than the Marvell {what} certificate")
    raise Rejected(Reason.CHAIN_INCOMPLETE, f"no owner certificate re-certifies the {what} key")


def _check_chains(cloud: Cloud, certs: tuple[x509.Certificate, ...], anchors: list[x509.Certificate],
                  at: datetime) -> _Chains:
    """Manufacturer chain (partition -> v1 card -> LiquidSecurity root) and the owner chain(s)."""
    unique = list({_der(c): c for c in certs}.values())
    issuing = [c for c in unique if not _self_signed(c)]
    partitions = [c for c in issuing if any(o is not c and o.subject == c.issuer for o in issuing)]
    if not partitions:
        raise Rejected(Reason.CHAIN_INCOMPLETE, "no partition certificate issued by a card certificate in the bundle")
    if len(partitions) > 1:
        raise Rejected(Reason.MALFORMED, f"{len(partitions)} certificates look like manufacturer partition "
                                         "certificates")
    partition = partitions[0]
    manufacturer_anchors = [a for a in anchors if a.subject in marvell_root_names()]
    if not manufacturer_anchors:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no trust anchor carries a LiquidSecurity root DN (LS1 or LS2)")
    # Owner certificates reuse the card's name and key: keep them out of the manufacturer path.
    manufacturer_pool = [c for c in unique if _self_signed(c) or c.issuer in marvell_root_names()]
    path = validate_chain(partition, manufacturer_pool, manufacturer_anchors, at, _MANUFACTURER_POLICY)
    if len(path) != 3:
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the manufacturer chain has {len(path)} certificates, "
                                               "not partition -> card -> root")
    card = path[1]
    owner_partition = _owner_copy(partition, unique, "partition")
    owner_anchors = [a for a in anchors if _der(a) != _der(path[2])]
    used = [partition, card, owner_partition]
    if cloud is Cloud.GOOGLE:
        if not owner_anchors:
            raise Rejected(Reason.CHAIN_UNTRUSTED, "no owner trust anchor (the Hawksbill root) was given")
        owner_path = validate_chain(owner_partition, [], owner_anchors, at)
        owner_card = _owner_copy(card, unique, "card")
        card_path = validate_chain(owner_card, [], owner_anchors, at)
        if _der(card_path[-1]) != _der(owner_path[-1]):
            raise Rejected(Reason.CHAIN_UNTRUSTED, "owner card and owner partition certificates chain to "
                                                   "different owner roots")
        require_key_usage(owner_card)
        used.append(owner_card)
    else:
        bundle_roots = [c for c in unique if _self_signed(c)]
        if owner_anchors:
            owner_path = validate_chain(owner_partition, bundle_roots, owner_anchors, at)
        else:
            issuers = [r for r in bundle_roots if r.subject == owner_partition.issuer]
            if not issuers:
                raise Rejected(Reason.CHAIN_INCOMPLETE, "no self-signed partition root in the bundle issues the "
                                                        "owner partition certificate")
            owner_path = validate_chain(owner_partition, [], issuers, at)
        used += [c for c in bundle_roots if _der(c) == _der(owner_path[-1])]
    require_key_usage(owner_partition)
    used_ders = {_der(c) for c in used}
    seen: set[bytes] = set()
    unused = []
    for cert in certs:
        if _der(cert) not in used_ders or _der(cert) in seen:
            unused.append(cert)
        seen.add(_der(cert))
    return _Chains(partition, card, owner_partition, tuple(unused))


def _check_signature(blob: bytes, signer: x509.Certificate, what: str) -> None:
    public = signer.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size != 2048:
        raise Rejected(Reason.SIGNATURE_INVALID, f"{what} key is not RSA-2048")
    framing = mb.read_framing(blob)
    try:
        public.verify(blob[-mb.SIGNATURE_BYTES:], blob[framing.signed], padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID,
                       f"the blob's RSASSA-PKCS1-v1_5/SHA-256 signature does not verify with the {what} key") from None


# -- verification: the objects ------------------------------------------------------------------------------

def _attested_objects(cloud: Cloud, parsed: mb.ParsedBlob) -> tuple[mb.KeyObject, mb.KeyObject | None]:
    """(private or secret object, public object of the same blob or None)."""
    objects = parsed.objects
    if cloud is Cloud.AZURE and len(objects) != 1:
        raise Rejected(Reason.MALFORMED, "an Azure blob holds exactly one object; the Azure script misparses "
                                         "a two-object blob")
    for obj in objects:
        mb.check_encodings(obj)
    if len(objects) == 2:
        public, private = objects
        if mb.byte_value(public, mb.CLASS) != mb.ObjectClass.PUBLIC_KEY:
            raise Rejected(Reason.MALFORMED, "the first object of a key-pair blob is not the public key")
    else:
        public, private = None, objects[0]
    if mb.byte_value(private, mb.CLASS) not in (mb.ObjectClass.PRIVATE_KEY, mb.ObjectClass.SECRET_KEY):
        raise Rejected(Reason.ATTR_CONFLICT, f"the attested object has CLASS {mb.byte_value(private, mb.CLASS)}, "
                                             "not a private or secret key")
    return private, public


def _check_pair(private: mb.ObjectKey, public_obj: mb.KeyObject, what: str) -> None:
    public = mb.object_key(public_obj)
    if public.object_class != mb.ObjectClass.PUBLIC_KEY:
        raise Rejected(Reason.ATTR_CONFLICT, f"the {what} object is not a public key")
    if public.spki != private.spki:
        raise Rejected(Reason.ATTR_CONFLICT, f"the {what} object describes another key than the private object")


def _check_policy(obj: mb.KeyObject, profile: Profile) -> None:
    extractable, never = mb.flag_value(obj, mb.EXTRACTABLE), mb.flag_value(obj, mb.NEVER_EXTRACTABLE)
    local = mb.flag_value(obj, mb.LOCAL)
    if extractable and never:
        raise Rejected(Reason.ATTR_CONFLICT, "EXTRACTABLE=1 contradicts NEVER_EXTRACTABLE=1")
    if not local:
        raise Rejected(Reason.ATTR_NOT_LOCAL, "LOCAL=0: the key was not generated on the HSM")
    if extractable:
        raise Rejected(Reason.ATTR_EXTRACTABLE, "EXTRACTABLE=1")
    if not never:
        raise Rejected(Reason.ATTR_NOT_NEVER_EXTRACTABLE, "NEVER_EXTRACTABLE=0: the key was extractable once")
    if profile is Profile.STRICT:
        if not mb.flag_value(obj, mb.SENSITIVE):
            raise Rejected(Reason.ATTR_NOT_SENSITIVE, "SENSITIVE=0")
        if not mb.flag_value(obj, mb.ALWAYS_SENSITIVE):
            raise Rejected(Reason.ATTR_NOT_ALWAYS_SENSITIVE, "ALWAYS_SENSITIVE=0")


def _jwk_spki(jwk: dict[str, object]) -> bytes | None:
    kty = str(jwk.get("kty", "")).removesuffix("-HSM")

    def number(name: str) -> int:
        value, _ = mb.b64_decode(jwk.get(name), f"key.{name}", 1024)
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


def _check_binding(cloud: Cloud, inputs: _Inputs, obj: mb.KeyObject, key: mb.ObjectKey) -> None:
    identifier = mb.text_value(obj, mb.ID)
    if cloud is Cloud.AZURE and "/keys/" not in identifier:
        raise Rejected(Reason.MALFORMED, f"OBJ_ATTR_ID {identifier[:60]!r} is not a Managed HSM key URI")
    if inputs.jwk is not None:
        kid = inputs.jwk.get("kid")
        if kid is not None and kid != identifier:
            raise Rejected(Reason.KEY_MISMATCH, f"the JWK kid {kid!r} is not the attested key ID {identifier!r}")
        jwk_spki = _jwk_spki(inputs.jwk)
        if (jwk_spki is None) != (key.spki is None) or jwk_spki != key.spki:
            raise Rejected(Reason.KEY_MISMATCH, "the JWK public key differs from the attested key")
    for file_name, spki in inputs.bind_spki:
        if spki != key.spki:
            raise Rejected(Reason.KEY_MISMATCH, f"{file_name} differs from the attested key")
    if inputs.csr is not None:
        if key.spki is None:
            raise Rejected(Reason.KEY_MISMATCH, "a CSR cannot bind a secret key")
        check_csr_binding(key.spki, inputs.csr)


def _check_key_policy(key: mb.ObjectKey) -> None:
    require_code_signing_key(key.description, key.size)


def _hsm_serial(card: x509.Certificate) -> str | None:
    for attr in card.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        match = _SERIAL_RE.match(str(attr.value))
        if match:
            return match.group(1)
    return None


# -- the format -------------------------------------------------------------------------------------------

def _is_gzip_file(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _json_kind(path: Path) -> Cloud | None:
    """Which cloud's JSON ``path`` holds (never raises)."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    node = document.get("attributes", document)
    node = node.get("attestation", node) if isinstance(node, dict) else node
    if isinstance(node, dict) and "privateKeyAttestation" in node:
        return Cloud.AZURE
    node = document.get("attestation", document)
    if isinstance(node, dict) and str(node.get("format", "")).startswith("CAVIUM_"):
        return Cloud.GOOGLE
    return None


class MarvellFormat:
    """Marvell LiquidSecurity key attestation in one cloud's envelope (``marvell-azure`` or ``marvell-google``)."""

    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "aes-128", "aes-256")

    def __init__(self, cloud: Cloud, options: MarvellOptions = DEFAULT_OPTIONS) -> None:
        self.cloud = cloud
        self.options = options
        self.name = AZURE_FORMAT_NAME if cloud is Cloud.AZURE else GOOGLE_FORMAT_NAME
        self.title = ("Marvell LiquidSecurity via Azure Managed HSM (MRVL-1)" if cloud is Cloud.AZURE
                       else "Marvell LiquidSecurity via Google Cloud HSM (CAVIUM_V2_COMPRESSED)")

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's RSA-2048 key certified by the v1 card certificate under the emulated LS1 root.

        A user attesting key must be RSA-2048 (the blob signature is 256 bytes).
        """
        if attesting is None:
            return marvell_pki(device.seed, device.serial, partition, initialised=device.initialised,
                               created=device.attestation_created, legacy_root=self.options.legacy_root).identity()
        label, key, created = attesting
        return marvell_pki(device.seed, device.serial, partition, initialised=device.initialised,
                           created=max(created, device.initialised), legacy_root=self.options.legacy_root,
                           partition_key=key, key_role=f"attesting/{label}").identity()

    def generate(self, request: AttestationRequest) -> Evidence:
        """The cloud's evidence for the request's key.

        Parameters: ``options`` (a :class:`MarvellOptions`), ``names`` (a :class:`KeyNames`), ``key_id``
        (the key URI to attest as OBJ_ATTR_ID and JWK ``kid``, e.g. a server's). Raises
        :class:`UnsupportedKeyError` for Ed25519, curves LiquidSecurity does not attest, and a ``key_id``
        that is not a URI of at most 128 bytes.
        """
        options = request.parameters.get("options", self.options)
        assert isinstance(options, MarvellOptions)
        names = request.parameters.get("names") or KeyNames.derive(request.device, request.key.label)
        assert isinstance(names, KeyNames)
        key_id = request.parameters.get("key_id")
        if key_id is not None:
            if not isinstance(key_id, str) or "/keys/" not in key_id or len(key_id.encode()) > mb.FIXED_TEXT_BYTES:
                raise UnsupportedKeyError("parameter key_id must be a key URI (.../keys/...) of at most 128 bytes")
            names = replace(names, uri=key_id)
        att = assemble(self.cloud, request.key, request.attesting, request.device, names, options)
        return package(att, options)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check envelope, chains, signatures, objects, binding and attributes; see :class:`Reason`.

        Order: envelope and bounds (JSON, base64, gzip), the response header's framing, the
        manufacturer chain (partition -> v1 card -> a LiquidSecurity root among the anchors) and the
        owner chain (identical SPKI; Google: Hawksbill anchor; Azure: the bundle's partition root,
        pinned when an owner anchor is given), the signature with both partition certificates, the
        full parse, the objects' key and check values, the JWK / public key / CSR binding, the
        attribute policy, then the strict profile's layout and key rules.
        """
        try:
            return self._verify(evidence, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def _verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
        flat = _flatten(evidence)
        inputs = _azure_inputs(flat, profile) if self.cloud is Cloud.AZURE else _google_inputs(flat)
        if inputs.blob.startswith(b"\x1f\x8b"):
            raise Rejected(Reason.MALFORMED, "the blob is gzip'd; Azure ships it raw")
        mb.read_framing(inputs.blob)
        chains = _check_chains(self.cloud, inputs.certs, trust.all(), at)
        blobs = [inputs.blob] + ([inputs.public_blob] if inputs.public_blob is not None else [])
        for blob in blobs:
            _check_signature(blob, chains.partition, "Marvell partition certificate's")
            _check_signature(blob, chains.owner_partition, "owner partition certificate's")
        parsed = mb.parse_blob(inputs.blob)
        private_obj, public_obj = _attested_objects(self.cloud, parsed)
        key = mb.object_key(private_obj)
        if public_obj is not None:
            _check_pair(key, public_obj, "public")
        layout = [*parsed.objects]
        if inputs.public_blob is not None:
            public_parsed = mb.parse_blob(inputs.public_blob)
            if len(public_parsed.objects) != 1:
                raise Rejected(Reason.MALFORMED, "publicKeyAttestation holds more than one object")
            mb.check_encodings(public_parsed.objects[0])
            _check_pair(key, public_parsed.objects[0], "publicKeyAttestation")
            layout += public_parsed.objects
        _check_binding(self.cloud, inputs, private_obj, key)
        _check_policy(private_obj, profile)
        if profile is Profile.STRICT:
            for reason, detail in inputs.strict_findings:
                raise Rejected(reason, detail)
            if chains.unused:
                raise Rejected(Reason.UNEXPECTED_CONTENT, "the bundle carries certificates outside both chains: "
                               + ", ".join(_describe(c) for c in chains.unused))
            mb.check_layout(layout)
            _check_key_policy(key)
        claims = Claims(
            spki_der=key.spki, key_type=key.description, key_size=key.size,
            generated_on_device=mb.flag_value(private_obj, mb.LOCAL),
            extractable=mb.flag_value(private_obj, mb.EXTRACTABLE),
            never_extractable=mb.flag_value(private_obj, mb.NEVER_EXTRACTABLE),
            sensitive=private_obj.get(mb.SENSITIVE) == b"\x01",
            always_sensitive=private_obj.get(mb.ALWAYS_SENSITIVE) == b"\x01",
            vendor="Marvell", model="LiquidSecurity (" + ("Azure Managed HSM)" if self.cloud is Cloud.AZURE
                                                          else "Google Cloud HSM)"),
            serial=_hsm_serial(chains.card), label=mb.text_value(private_obj, mb.LABEL),
        )
        return Verdict(Reason.OK, f"attested by {_describe(chains.partition)}", claims)

    def load(self, path: Path) -> Evidence:
        """Read a JSON document, a gcloud ``.dat`` (with its ``certs.pem`` / ``.pub.pem`` siblings) or a
        directory of such files; raises :class:`BundleError`."""
        try:
            if path.is_dir():
                return Evidence(self.name, read_bundle_dir(path), path.name)
            if path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
                raise BundleError(f"{path} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
            files = {path.name: path.read_bytes()}
            stem = path.name.split(".attestation")[0].removesuffix(".json")
            if self.cloud is Cloud.GOOGLE and not path.name.endswith(".json"):
                chains = sorted(path.parent.glob("*certs.pem")) + sorted(path.parent.glob("*chain.pem"))
                own = [p for p in chains if p.name.startswith(stem)]
                for sibling in own[:1] or (chains if len(chains) == 1 else []):
                    files[sibling.name] = sibling.read_bytes()
            for sibling in (path.parent / f"{stem}.pub.pem", path.parent / f"{stem}.csr"):
                if sibling.is_file():
                    files[sibling.name] = sibling.read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read {path}: {exc.strerror}") from exc
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A JSON document of this cloud; for Google also a gzip ``.dat``/``.gz``; a directory holding one."""
        try:
            if path.is_dir():
                return any(self.detect(p) for p in sorted(path.iterdir())[:MAX_BUNDLE_CERTS * 8] if p.is_file())
            if path.suffix == ".json":
                return _json_kind(path) is self.cloud
            return (self.cloud is Cloud.GOOGLE and path.suffix in (".dat", ".gz") and _is_gzip_file(path))
        except OSError:
            return False

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden and mutated vectors of this cloud's envelope (see :mod:`hsmsim.formats.marvell.catalogue`)."""
        from hsmsim.formats.marvell import catalogue as marvell_vectors

        return marvell_vectors.vector_cases(self.cloud, seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of this cloud's vectors."""
        from hsmsim.formats.marvell import catalogue as marvell_vectors

        return marvell_vectors.notes(self.cloud)

    def fuzz_model(self, seed: str) -> FuzzModel:
        """Structure-aware fuzzing: the catalogue's mutations plus random TLV, blob and bundle operators."""
        from hsmsim.formats.marvell import catalogue as marvell_vectors

        return marvell_vectors.fuzz_model(self.cloud, seed)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))
