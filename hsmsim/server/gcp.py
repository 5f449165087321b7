"""The Google Cloud KMS subset: key rings, crypto keys and their versions, public keys and Cloud HSM attestations,
for the official ``google-cloud-kms`` client over REST.

Paths, fields and enum names follow the Cloud KMS v1 REST reference (``/v1/projects/*/locations/*/keyRings/...``,
proto3 JSON in camelCase). The Python client sends enums as numbers and asks for numbers back
(``$alt=json;enum-encoding=int``); the server reads names or numbers and answers in the encoding asked for.
Errors are ``{"error": {"code", "message", "status"}}`` with the canonical status of the HTTP code. Every version
is a real key of the emulated Cloud HSM partition (a ``marvell-google`` device, below ``--state`` in ``gcp/``),
labelled with its full resource name; an HSM version's ``attestation`` is the ``marvell-google`` evidence of that
key, exactly what ``hsmsim attest --format marvell-google`` writes for it. GUESSES are listed in the README.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from hsmsim.encoding import rfc3339, spki_pem
from hsmsim.errors import KeyNotFoundError
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.server.app import ApiError, Call, token_matches
from hsmsim.server.store import ResourceExistsError, StateFullError

if TYPE_CHECKING:
    from hsmsim.server.app import HsmsimApp
    from hsmsim.state import HsmState

NAMESPACE = "gcp"
FORMAT = "marvell-google"
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED",
           409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT", 507: "RESOURCE_EXHAUSTED"}
_ID = re.compile(r"[a-zA-Z0-9_-]{1,63}")
"""keyRingId and cryptoKeyId, as the reference defines them."""
_PARENT_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,62}")
"""A project or location segment (lenient: Google's own rules for them are not the KMS API's)."""
_VERSION_ID = re.compile(r"[1-9][0-9]{0,9}")
_SMALL_NUMBER = re.compile(r"[0-9]{1,9}")
"""A query number (pageSize, pageToken, an enum's number): ASCII digits, few enough for ``int`` to stay cheap."""
_DESTROY_SCHEDULED_DURATION = "2592000s"
"""The documented default (30 days) a key created without one reports."""
_MAX_LABELS = 64
_LABEL_TEXT = re.compile(r"[\w-]{0,63}")

PURPOSES = {"CRYPTO_KEY_PURPOSE_UNSPECIFIED": 0, "ENCRYPT_DECRYPT": 1, "ASYMMETRIC_SIGN": 5,
            "ASYMMETRIC_DECRYPT": 6, "RAW_ENCRYPT_DECRYPT": 7, "MAC": 9, "KEY_ENCAPSULATION": 10,
            "AES_WRAPPING": 11}
PROTECTION_LEVELS = {"PROTECTION_LEVEL_UNSPECIFIED": 0, "SOFTWARE": 1, "HSM": 2, "EXTERNAL": 3,
                     "EXTERNAL_VPC": 4, "HSM_SINGLE_TENANT": 5}
STATES = {"ENABLED": 1}
ATTESTATION_FORMATS = {"CAVIUM_V2_COMPRESSED": 4}
VERSION_VIEWS = {"CRYPTO_KEY_VERSION_VIEW_UNSPECIFIED": 0, "FULL": 1}
ALGORITHMS = {
    "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED": 0, "GOOGLE_SYMMETRIC_ENCRYPTION": 1,
    "RSA_SIGN_PSS_2048_SHA256": 2, "RSA_SIGN_PSS_3072_SHA256": 3, "RSA_SIGN_PSS_4096_SHA256": 4,
    "RSA_SIGN_PKCS1_2048_SHA256": 5, "RSA_SIGN_PKCS1_3072_SHA256": 6, "RSA_SIGN_PKCS1_4096_SHA256": 7,
    "RSA_DECRYPT_OAEP_2048_SHA256": 8, "RSA_DECRYPT_OAEP_3072_SHA256": 9, "RSA_DECRYPT_OAEP_4096_SHA256": 10,
    "EC_SIGN_P256_SHA256": 12, "EC_SIGN_P384_SHA384": 13, "RSA_SIGN_PSS_4096_SHA512": 15,
    "RSA_SIGN_PKCS1_4096_SHA512": 16, "RSA_DECRYPT_OAEP_4096_SHA512": 17, "EXTERNAL_SYMMETRIC_ENCRYPTION": 18,
    "AES_256_GCM": 19, "RSA_SIGN_RAW_PKCS1_2048": 28, "RSA_SIGN_RAW_PKCS1_3072": 29, "RSA_SIGN_RAW_PKCS1_4096": 30,
    "EC_SIGN_SECP256K1_SHA256": 31, "HMAC_SHA256": 32, "HMAC_SHA1": 33, "HMAC_SHA384": 34, "HMAC_SHA512": 35,
    "HMAC_SHA224": 36, "RSA_DECRYPT_OAEP_2048_SHA1": 37, "RSA_DECRYPT_OAEP_3072_SHA1": 38,
    "RSA_DECRYPT_OAEP_4096_SHA1": 39, "EC_SIGN_ED25519": 40, "AES_128_GCM": 41, "AES_128_CBC": 42,
    "AES_256_CBC": 43, "AES_128_CTR": 44, "AES_256_CTR": 45,
}
"""The CryptoKeyVersionAlgorithm numbers (the client's enum; the tests compare them), of the algorithms named
here; newer ones are answered as unknown."""


@dataclass(frozen=True)
class Algorithm:
    """What hsmsim makes for one CryptoKeyVersionAlgorithm: the purpose it belongs to and the key spec."""

    purpose: str
    spec: str


def _emulated() -> dict[str, Algorithm]:
    table = {"GOOGLE_SYMMETRIC_ENCRYPTION": Algorithm("ENCRYPT_DECRYPT", "aes-256"),
             "EC_SIGN_P256_SHA256": Algorithm("ASYMMETRIC_SIGN", "ec-p256"),
             "EC_SIGN_P384_SHA384": Algorithm("ASYMMETRIC_SIGN", "ec-p384")}
    for name in ALGORITHMS:
        bits = re.search(r"_(2048|3072|4096)(_|$)", name)
        if bits and name.startswith("RSA_SIGN_"):
            table[name] = Algorithm("ASYMMETRIC_SIGN", f"rsa-{bits[1]}")
        elif bits and name.startswith("RSA_DECRYPT_"):
            table[name] = Algorithm("ASYMMETRIC_DECRYPT", f"rsa-{bits[1]}")
    return table


EMULATED_ALGORITHMS = _emulated()
"""The algorithms hsmsim creates keys for: those of the purposes ENCRYPT_DECRYPT (AES-256), ASYMMETRIC_SIGN and
ASYMMETRIC_DECRYPT (RSA 2048/3072/4096, EC P-256/P-384) that a LiquidSecurity partition attests."""


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, {"error": {"code": status, "message": message, "status": _STATUS[status]}},
                    headers or {})


def _bad(message: str) -> ApiError:
    return _error(400, message)


def early_error(status: int, message: str) -> ApiError:
    """The Google-shaped refusal of a request turned away before routing (bad Host header, 413, 408)."""
    return _error(status, message)


# -- enums and JSON ------------------------------------------------------------------------------

def _enum_in(value: object, table: Mapping[str, int], field: str) -> str:
    """The enum member a request names, by name or number (the client sends numbers); 400 otherwise."""
    for name, number in table.items():
        if value == name or (isinstance(value, int) and not isinstance(value, bool) and value == number):
            return name
    raise _bad(f"Invalid value at '{field}', {_shown(value)}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class _Encoder:
    """How a response writes enums: names by default, numbers when the request says ``enum-encoding=int``."""

    numbers: bool

    def enum(self, name: str, table: Mapping[str, int]) -> str | int:
        return table[name] if self.numbers else name


def _fields(body: dict[str, object], known: set[str], what: str) -> dict[str, object]:
    """The body with snake_case names read as their camelCase (protobuf JSON takes both); an unknown name is a 400,
    as Google answers it."""
    fields: dict[str, object] = {}
    for name, value in body.items():
        camel = re.sub(r"_([a-z0-9])", lambda match: match[1].upper(), name)
        if camel not in known:
            raise _bad(f'Invalid JSON payload received. Unknown name "{_shown(name)[1:-1]}" at \'{what}\': '
                       "Cannot find field.")
        if camel in fields:
            raise _bad(f"Invalid JSON payload received. Field '{what}.{camel}' is given twice.")
        fields[camel] = value
    return fields



# -- names ---------------------------------------------------------------------------------------

def _location(segments: list[str]) -> str:
    """``projects/P/locations/L`` of a path ``/v1/projects/P/locations/L/...``; 404 when it is none."""
    if len(segments) < 5 or segments[3] != "locations":
        raise _error(404, f"no endpoint /{'/'.join(segments)}")
    for part in (segments[2], segments[4]):
        if not _PARENT_PART.fullmatch(part):
            raise _bad(f"Resource name {_shown('/'.join(segments[1:5]))} is not a valid project and location")
    return "/".join(segments[1:5])


def _query_bool(call: Call, name: str) -> bool:
    value = call.query.get(name, "false")
    if value.lower() not in ("true", "false"):
        raise _bad(f"Invalid value for bool field \"{name}\": {_shown(value)}")
    return value.lower() == "true"


def _required_id(call: Call, name: str) -> str:
    value = call.query.get(name, "")
    if not _ID.fullmatch(value):
        raise _bad(f"{name} must match the regular expression [a-zA-Z0-9_-]{{1,63}}, not {_shown(value)}")
    return value


# -- resources -----------------------------------------------------------------------------------

def _key_ring_json(name: str, record: Mapping[str, object]) -> dict[str, object]:
    return {"name": name, "createTime": record["createTime"]}


def _key_ring(app: HsmsimApp, name: str) -> Mapping[str, object]:
    record = app.store.resources(NAMESPACE).get(name)
    if not isinstance(record, dict) or record.get("kind") != "keyRing":
        raise _error(404, f"KeyRing {name} not found.")
    return record


def _crypto_key(app: HsmsimApp, name: str) -> Mapping[str, object]:
    record = app.store.resources(NAMESPACE).get(name)
    if not isinstance(record, dict) or record.get("kind") != "cryptoKey":
        raise _error(404, f"CryptoKey {name} not found.")
    return record


def _versions(record: Mapping[str, object]) -> list[dict[str, object]]:
    versions = record["versions"]
    assert isinstance(versions, list)
    return versions


def _version_record(key: Mapping[str, object], key_name: str, version_id: str) -> dict[str, object]:
    for version in _versions(key):
        if version["id"] == version_id:
            return version
    raise _error(404, f"CryptoKeyVersion {key_name}/cryptoKeyVersions/{version_id} not found.")


def _soft(state: HsmState) -> SoftKeyStore:
    store = state.store("soft")
    assert isinstance(store, SoftKeyStore)
    return store


def attestation(state: HsmState, label: str) -> dict[str, object]:
    """The KeyOperationAttestation of the key ``label``, as proto3 JSON with names for enums: the ``marvell-google``
    evidence ``hsmsim attest --format marvell-google`` writes (``<key>.attestation.dat``, the gzip'd blob, as
    ``content``; ``<key>.certs.pem``, Cavium partition, Cavium card, Google partition, Google card, split into the
    three ``certChains``, each leaf first)."""
    evidence = state.hsm(label).attest(label, FORMAT)
    certs_file = next(data for name, data in evidence.files.items() if name.endswith(".certs.pem"))
    end = "-----END CERTIFICATE-----\n"
    certs = [block + end for block in certs_file.decode("ascii").split(end) if block.strip()]
    if len(certs) != 4:
        raise RuntimeError(f"the {FORMAT} bundle holds {len(certs)} certificates, not 4")
    return {"format": "CAVIUM_V2_COMPRESSED",
            "content": base64.b64encode(evidence.files[evidence.primary]).decode("ascii"),
            "certChains": {"caviumCerts": certs[:2], "googleCardCerts": certs[3:], "googlePartitionCerts": certs[2:3]}}


def _version_json(state: HsmState, key: Mapping[str, object], version: Mapping[str, object], key_name: str,
                  encoder: _Encoder, *, full: bool = True) -> dict[str, object]:
    protection = str(key["protectionLevel"])
    document: dict[str, object] = {
        "name": f"{key_name}/cryptoKeyVersions/{version['id']}",
        "state": encoder.enum("ENABLED", STATES),
        "protectionLevel": encoder.enum(protection, PROTECTION_LEVELS),
        "algorithm": encoder.enum(str(key["algorithm"]), ALGORITHMS),
    }
    if protection == "HSM" and full:
        made = attestation(state, str(version["label"]))
        made["format"] = encoder.enum(str(made["format"]), ATTESTATION_FORMATS)
        document["attestation"] = made
    document |= {"createTime": version["createTime"], "generateTime": version["createTime"]}
    return document


def _crypto_key_json(state: HsmState, name: str, key: Mapping[str, object], encoder: _Encoder) -> dict[str, object]:
    document: dict[str, object] = {"name": name}
    versions = _versions(key)
    if key["purpose"] == "ENCRYPT_DECRYPT" and versions:
        document["primary"] = _version_json(state, key, versions[0], name, encoder)
    document |= {
        "purpose": encoder.enum(str(key["purpose"]), PURPOSES),
        "createTime": key["createTime"],
        "versionTemplate": {"protectionLevel": encoder.enum(str(key["protectionLevel"]), PROTECTION_LEVELS),
                            "algorithm": encoder.enum(str(key["algorithm"]), ALGORITHMS)},
    }
    if key.get("labels"):
        document["labels"] = key["labels"]
    document["destroyScheduledDuration"] = key["destroyScheduledDuration"]
    return document


# -- requests ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _NewKey:
    purpose: str
    algorithm: str
    protection: str
    labels: dict[str, str]
    destroy_scheduled_duration: str


_CRYPTO_KEY_FIELDS = {"name", "primary", "purpose", "createTime", "nextRotationTime", "rotationPeriod",
                      "versionTemplate", "labels", "importOnly", "destroyScheduledDuration", "cryptoKeyBackend",
                      "keyAccessJustificationsPolicy"}


def _labels(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > _MAX_LABELS or not all(
            isinstance(k, str) and isinstance(v, str) and k and _LABEL_TEXT.fullmatch(k) and _LABEL_TEXT.fullmatch(v)
            for k, v in value.items()):
        raise _bad(f"labels must map at most {_MAX_LABELS} keys to values, each at most 63 letters, digits, "
                   "underscores and dashes (keys not empty)")
    return value


def _new_key(body: dict[str, object]) -> _NewKey:
    fields = _fields(body, _CRYPTO_KEY_FIELDS, "crypto_key")
    for name in ("nextRotationTime", "rotationPeriod", "cryptoKeyBackend", "keyAccessJustificationsPolicy"):
        if fields.get(name):
            raise _bad(f"hsmsim does not emulate crypto_key.{name}")
    if fields.get("importOnly") not in (None, False):
        raise _bad("hsmsim does not emulate crypto_key.importOnly (key import)")
    purpose = _enum_in(fields.get("purpose", 0), PURPOSES, "crypto_key.purpose")
    if purpose == "CRYPTO_KEY_PURPOSE_UNSPECIFIED":
        raise _bad("The request is missing crypto_key.purpose.")
    template = fields.get("versionTemplate") or {}
    if not isinstance(template, dict):
        raise _bad("crypto_key.version_template must be an object")
    template = _fields(template, {"protectionLevel", "algorithm"}, "crypto_key.version_template")
    algorithm = _enum_in(template.get("algorithm", 0), ALGORITHMS, "crypto_key.version_template.algorithm")
    if algorithm == "CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED":
        if purpose != "ENCRYPT_DECRYPT":
            raise _bad(f"crypto_key.version_template.algorithm must be specified for purpose {purpose}.")
        algorithm = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection = _enum_in(template.get("protectionLevel", 0), PROTECTION_LEVELS,
                          "crypto_key.version_template.protection_level")
    if protection == "PROTECTION_LEVEL_UNSPECIFIED":
        protection = "SOFTWARE"
    if protection not in ("SOFTWARE", "HSM"):
        raise _bad(f"hsmsim emulates the protection levels SOFTWARE and HSM, not {protection}")
    emulated = EMULATED_ALGORITHMS.get(algorithm)
    if emulated is None:
        raise _bad(f"hsmsim does not emulate the algorithm {algorithm}")
    if emulated.purpose != purpose:
        raise _bad(f"Algorithm {algorithm} is not compatible with purpose {purpose}.")
    duration = fields.get("destroyScheduledDuration") or _DESTROY_SCHEDULED_DURATION
    if not isinstance(duration, str) or not re.fullmatch(r"[0-9]{1,12}s", duration):
        raise _bad("crypto_key.destroy_scheduled_duration must be a whole number of seconds such as \"86400s\"")
    return _NewKey(purpose, algorithm, protection, _labels(fields.get("labels")), duration)


def _generate_version(state: HsmState, key_name: str, version_id: str, algorithm: str) -> dict[str, object]:
    """Generate the key of one version (under the crypto key's lock) and return its record to store. A key under
    its label that no record lists is what a crash between the two left behind, and is replaced."""
    label = f"{key_name}/cryptoKeyVersions/{version_id}"
    store = _soft(state)
    try:
        store.get(label)
    except KeyNotFoundError:
        pass
    else:
        store.discard(label)
    emulated = EMULATED_ALGORITHMS[algorithm]
    spec = KeySpec.parse(emulated.spec)
    policy = KeyPolicy(sign=emulated.purpose == "ASYMMETRIC_SIGN",
                       decrypt=emulated.purpose != "ASYMMETRIC_SIGN",
                       unwrap=emulated.purpose == "ENCRYPT_DECRYPT")
    key = store.generate(spec, label, policy=policy)
    return {"id": version_id, "label": label, "createTime": rfc3339(key.created)}


def _create_key_ring(app: HsmsimApp, call: Call, location: str) -> Response:
    key_ring_id = _required_id(call, "keyRingId")
    _fields(call.json(_bad), {"name", "createTime"}, "key_ring")
    name = f"{location}/keyRings/{key_ring_id}"
    record: dict[str, object] = {"kind": "keyRing", "createTime": rfc3339(datetime.now(UTC))}
    try:
        app.store.add_resource(NAMESPACE, name, record)
    except ResourceExistsError:
        raise _error(409, f"KeyRing {name} already exists.") from None
    return JSONResponse(_key_ring_json(name, record))


def _create_crypto_key(app: HsmsimApp, state: HsmState, call: Call, ring: str, encoder: _Encoder) -> Response:
    key_id = _required_id(call, "cryptoKeyId")
    skip_version = _query_bool(call, "skipInitialVersionCreation")
    new = _new_key(call.json(_bad))
    _key_ring(app, ring)
    name = f"{ring}/cryptoKeys/{key_id}"
    with app.store.key_lock(NAMESPACE, name):
        if name in app.store.resources(NAMESPACE):
            raise _error(409, f"CryptoKey {name} already exists.")
        versions = [] if skip_version else [_generate_version(state, name, "1", new.algorithm)]
        record = {"kind": "cryptoKey", "purpose": new.purpose, "algorithm": new.algorithm,
                  "protectionLevel": new.protection, "labels": new.labels,
                  "destroyScheduledDuration": new.destroy_scheduled_duration,
                  "createTime": versions[0]["createTime"] if versions else rfc3339(datetime.now(UTC)),
                  "versions": versions}
        try:
            app.store.add_resource(NAMESPACE, name, record)
        except StateFullError:
            _discard(state, versions)  # no record lists them: they would stay on disk, never served
            raise
    return JSONResponse(_crypto_key_json(state, name, record, encoder))


def _create_version(app: HsmsimApp, state: HsmState, call: Call, key_name: str, encoder: _Encoder) -> Response:
    fields = _fields(call.json(_bad), {"name", "state", "createTime", "generateTime", "protectionLevel",
                                       "algorithm", "attestation"}, "crypto_key_version")
    if fields.get("state") not in (None, 0, "CRYPTO_KEY_VERSION_STATE_UNSPECIFIED", 1, "ENABLED"):
        raise _bad("hsmsim creates versions ENABLED only")
    with app.store.key_lock(NAMESPACE, key_name):
        key = _crypto_key(app, key_name)
        version = _generate_version(state, key_name, str(len(_versions(key)) + 1), str(key["algorithm"]))
        updated = {**key, "versions": [*_versions(key), version]}
        try:
            app.store.replace_resource(NAMESPACE, key_name, updated)
        except StateFullError:
            _discard(state, [version])
            raise
    return JSONResponse(_version_json(state, updated, version, key_name, encoder))


def _discard(state: HsmState, versions: list[dict[str, object]]) -> None:
    for version in versions:
        _soft(state).discard(str(version["label"]))


def _list_versions(app: HsmsimApp, state: HsmState, call: Call, key_name: str, encoder: _Encoder) -> Response:
    key = _crypto_key(app, key_name)
    if call.query.get("filter") or call.query.get("orderBy"):
        raise _bad("hsmsim does not emulate filter or orderBy when listing versions")
    full = _enum_in(_number_or_name(call.query.get("view", "0")), VERSION_VIEWS, "view") == "FULL"
    versions = _versions(key)
    size_text, token = call.query.get("pageSize", "0"), call.query.get("pageToken", "")
    if not _SMALL_NUMBER.fullmatch(size_text) or (token and not _SMALL_NUMBER.fullmatch(token)):
        raise _bad("pageSize must be a whole number and pageToken one this server returned")
    start, size = int(token or 0), int(size_text) or len(versions)
    page = versions[start:start + size]
    document: dict[str, object] = {
        "cryptoKeyVersions": [_version_json(state, key, version, key_name, encoder, full=full) for version in page]}
    if start + size < len(versions):
        document["nextPageToken"] = str(start + size)
    document["totalSize"] = len(versions)
    return JSONResponse(document)


def _number_or_name(text: str) -> str | int:
    return int(text) if _SMALL_NUMBER.fullmatch(text) else text


def _public_key(state: HsmState, key: Mapping[str, object], key_name: str, version_id: str, call: Call,
                encoder: _Encoder) -> Response:
    version = _version_record(key, key_name, version_id)
    requested = call.query.get("publicKeyFormat", "0")
    if requested not in ("0", "1", "PUBLIC_KEY_FORMAT_UNSPECIFIED", "PEM"):
        raise _bad("hsmsim returns public keys as PEM only (publicKeyFormat PEM or unspecified)")
    if key["purpose"] not in ("ASYMMETRIC_SIGN", "ASYMMETRIC_DECRYPT"):
        raise ApiError(400, {"error": {"code": 400, "status": "FAILED_PRECONDITION", "message": (
            f"CryptoKeyVersion {key_name}/cryptoKeyVersions/{version_id} has purpose {key['purpose']}; public keys "
            "exist for ASYMMETRIC_SIGN and ASYMMETRIC_DECRYPT only.")}})
    public = _soft(state).get(str(version["label"])).public_key
    assert public is not None
    text = spki_pem(public).decode("ascii")
    return JSONResponse({"pem": text, "algorithm": encoder.enum(str(key["algorithm"]), ALGORITHMS),
                         "pemCrc32c": str(crc32c(text.encode())), "name": f"{key_name}/cryptoKeyVersions/{version_id}",
                         "protectionLevel": encoder.enum(str(key["protectionLevel"]), PROTECTION_LEVELS)})


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ (0x82F63B78 if value & 1 else 0)
        table.append(value)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud KMS puts in ``pemCrc32c``."""
    value = 0xFFFFFFFF
    for byte in data:
        value = (value >> 8) ^ _CRC32C_TABLE[(value ^ byte) & 0xFF]
    return value ^ 0xFFFFFFFF


def dispatch(app: HsmsimApp, call: Call) -> Response:
    """Authenticate (bearer token) and route one Cloud KMS call below ``/v1/projects/``."""
    if not token_matches(call, app.token):
        problem = "is missing required" if call.bearer() is None else "had invalid"
        raise _error(401, f"Request {problem} authentication credential. Expected OAuth 2 access token, login "
                          "cookie or other valid authentication credential.",
                     {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
    try:
        return _route(app, call)
    except StateFullError as exc:
        raise _error(507, str(exc)) from None


def _route(app: HsmsimApp, call: Call) -> Response:
    segments, method = call.segments, call.method
    location = _location(segments)
    rest = segments[5:]
    encoder = _Encoder(numbers="enum-encoding=int" in call.query.get("$alt", ""))
    state = app.store.device(NAMESPACE, FORMAT)
    if rest == ["keyRings"] and method == "POST":
        return _create_key_ring(app, call, location)
    if len(rest) < 2 or rest[0] != "keyRings" or not _ID.fullmatch(rest[1]):
        raise _error(404, f"no endpoint {method} /{'/'.join(segments)}")
    ring = f"{location}/keyRings/{rest[1]}"
    if len(rest) == 2 and method == "GET":
        return JSONResponse(_key_ring_json(ring, _key_ring(app, ring)))
    if rest[2:] == ["cryptoKeys"] and method == "POST":
        return _create_crypto_key(app, state, call, ring, encoder)
    if len(rest) < 4 or rest[2] != "cryptoKeys" or not _ID.fullmatch(rest[3]):
        raise _error(404, f"no endpoint {method} /{'/'.join(segments)}")
    key_name = f"{ring}/cryptoKeys/{rest[3]}"
    if len(rest) == 4 and method == "GET":
        return JSONResponse(_crypto_key_json(state, key_name, _crypto_key(app, key_name), encoder))
    if rest[4:] == ["cryptoKeyVersions"]:
        if method == "GET":
            return _list_versions(app, state, call, key_name, encoder)
        if method == "POST":
            return _create_version(app, state, call, key_name, encoder)
    if len(rest) in (6, 7) and rest[4] == "cryptoKeyVersions" and _VERSION_ID.fullmatch(rest[5]) and method == "GET":
        key = _crypto_key(app, key_name)
        if len(rest) == 6:
            version = _version_record(key, key_name, rest[5])
            return JSONResponse(_version_json(state, key, version, key_name, encoder))
        if rest[6] == "publicKey":
            return _public_key(state, key, key_name, rest[5], call, encoder)
    raise _error(404, f"no endpoint {method} /{'/'.join(segments)}")
