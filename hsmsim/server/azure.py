"""The Azure Managed HSM keys subset: create, get, and get attestation, for the official SDK.

What the ``azure-keyvault-keys`` client needs is in ``shared/specs/azure_sdk_emulation.md``:
a 401 bearer challenge answers every request without a valid token (the SDK's first
request has no body), success is always HTTP 200, ``kid`` is an absolute key URI, and a
missing version arrives as an empty path segment. Each create makes a new version; the
key material lives in the emulated Marvell partition, and the attestation comes from the
``marvell-azure`` format.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.responses import JSONResponse, Response

from hsmsim.errors import HsmsimError, ParameterError
from hsmsim.keystore.base import KeyPolicy, KeySpec, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.server.app import ApiError, Call, token_matches
from hsmsim.server.store import StateFullError
from hsmsim.verdict import escaped

if TYPE_CHECKING:
    from hsmsim.server.app import HsmsimApp
    from hsmsim.state import HsmState

NAMESPACE = "azure"
FORMAT = "marvell-azure"
OBJ_ATTR_ID_BYTES = 128
"""What the Marvell attestation's OBJ_ATTR_ID holds: the key URI, which a 127-character key name outgrows."""
API_VERSIONS = {"7.4", "7.5", "7.6-preview.1", "7.6-preview.2", "7.6", "2025-06-01-preview", "2025-07-01"}
ATTESTATION_API_VERSIONS = {"7.6-preview.1", "7.6-preview.2", "7.6", "2025-06-01-preview", "2025-07-01"}
CHALLENGE = ('Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", '
             'resource="https://managedhsm.azure.net"')
_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
_MAX_TAGS_JSON = 4096
_KEY_OPS = {
    "RSA": ["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"],
    "EC": ["sign", "verify"],
    "oct": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, {"error": {"code": code, "message": message}}, headers or {})


def _bad(message: str) -> ApiError:
    return _error(400, "BadParameter", message)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as the service emits."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


def _spec(body: dict[str, object]) -> KeySpec:
    kty = str(body.get("kty", "")).removesuffix("-HSM")
    try:
        if kty == "RSA":
            return KeySpec.parse(f"rsa-{body.get('key_size', 2048)}")
        if kty == "EC":
            return KeySpec.parse({"P-256": "ec-p256", "P-384": "ec-p384"}.get(str(body.get("crv", "P-256")), "x"))
        if kty == "oct":
            return KeySpec.parse(f"aes-{body.get('key_size', 256)}")
    except HsmsimError:
        raise _bad(f"unsupported key parameters for kty {body.get('kty')!r}") from None
    raise _bad(f"unsupported kty {body.get('kty')!r}")


def _jwk(kid: str, key: StoredKey) -> dict[str, object]:
    public = key.public_key
    if isinstance(public, rsa.RSAPublicKey):
        rsa_numbers = public.public_numbers()
        return {"kid": kid, "kty": "RSA-HSM", "key_ops": _KEY_OPS["RSA"], "n": b64url(_int_bytes(rsa_numbers.n)),
                "e": b64url(_int_bytes(rsa_numbers.e))}
    if isinstance(public, ec.EllipticCurvePublicKey):
        ec_numbers = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[public.curve.name]
        return {"kid": kid, "kty": "EC-HSM", "key_ops": _KEY_OPS["EC"], "crv": crv,
                "x": b64url(_int_bytes(ec_numbers.x, size)), "y": b64url(_int_bytes(ec_numbers.y, size))}
    return {"kid": kid, "kty": "oct-HSM", "key_ops": _KEY_OPS["oct"]}


def _bundle(call: Call, name: str, record: dict[str, object], key: StoredKey) -> dict[str, object]:
    created = int(record["created"])  # type: ignore[call-overload]
    return {
        "key": _jwk(f"{call.base_url}/keys/{name}/{record['version']}", key),
        "attributes": {"enabled": True, "created": created, "updated": created,
                       "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
                       "exportable": key.attributes.extractable},
        "tags": record.get("tags") or {},
    }


def _find(app: HsmsimApp, name: str, version: str) -> dict[str, object]:
    versions = app.store.versions(NAMESPACE).get(name)
    if not versions:
        raise _error(404, "KeyNotFound", f"A key with (name/id) {name} was not found in this key vault.")
    if not version:
        return versions[-1]
    for record in versions:
        if record["version"] == version:
            return record
    raise _error(404, "KeyNotFound", f"A key with (name/id) {name}/{version} was not found in this key vault.")


def _tags(body: dict[str, object]) -> dict[str, str]:
    """The request's ``tags``: as Azure's API defines them, names and values that are strings (here also at most
    4096 characters of JSON in all, and no lone surrogate). Checked before the key is stored, so a tag the server
    cannot write back (a nested or non-finite value, say) is a 400, never a stored version every GET fails on."""
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(value, str) for value in tags.values()):
        raise _bad("tags must be an object whose values are strings")
    text = json.dumps(tags, ensure_ascii=False)
    if len(text) > _MAX_TAGS_JSON:
        raise _bad(f"tags must take at most {_MAX_TAGS_JSON} characters of JSON")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise _bad("tags must not contain lone surrogates") from None
    return tags


def _create(app: HsmsimApp, state: HsmState, call: Call, name: str) -> Response:
    body = call.json(_bad)
    spec = _spec(body)
    attributes = body.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise _bad("attributes must be an object")
    extractable = attributes.get("exportable")
    if extractable is None:
        extractable = False
    elif not isinstance(extractable, bool):  # bool("false") is True: a key the client asked to keep in
        raise _bad("attributes.exportable must be a boolean")
    tags = _tags(body)
    version = secrets.token_hex(16)
    label = f"{name}/{version}"
    store = state.store("soft")
    assert isinstance(store, SoftKeyStore)
    key = store.generate(spec, label, policy=KeyPolicy(extractable=extractable))
    record = {"version": version, "label": label, "created": int(datetime.now(UTC).timestamp()), "tags": tags}
    try:
        app.store.add_version(NAMESPACE, name, record)
    except StateFullError:
        store.discard(label)  # no version lists it: it would stay on disk, never served
        raise
    return JSONResponse(_bundle(call, name, record, key))


def _get(app: HsmsimApp, state: HsmState, call: Call, name: str, version: str, *, attestation: bool) -> Response:
    record = _find(app, name, version)
    key = state.store("soft").get(str(record["label"]))
    bundle = _bundle(call, name, record, key)
    if attestation:
        attributes = bundle["attributes"]
        assert isinstance(attributes, dict)
        attributes["attestation"] = attestation_object(state, key, str(bundle["key"]["kid"]))  # type: ignore[index]
    return JSONResponse(bundle)


def attestation_object(state: HsmState, key: StoredKey, kid: str) -> dict[str, object]:
    """``attributes.attestation`` of the KeyBundle, from the ``marvell-azure`` format. Raises a 400 ApiError when
    the format cannot attest the key as named: its URI is longer than the 128 bytes of Marvell's OBJ_ATTR_ID (said
    so), or the format refuses it for another reason (its own message, escaped)."""
    try:
        evidence = state.hsm(key.label).attest(key.label, FORMAT, {"key_id": kid})
    except ParameterError as exc:
        if len(kid.encode()) > OBJ_ATTR_ID_BYTES:
            raise _bad(f"hsmsim cannot attest this key: its URI is {len(kid.encode())} bytes, and the emulated "
                       f"attestation holds it in Marvell's {OBJ_ATTR_ID_BYTES}-byte OBJ_ATTR_ID (use a shorter key "
                       "name or host name)") from None
        raise _bad(f"hsmsim cannot attest this key: {escaped(str(exc))}") from None
    bundle = json.loads(evidence.files[evidence.primary])
    attestation = bundle.get("attributes", {}).get("attestation", bundle)
    assert isinstance(attestation, dict)
    return attestation


def dispatch(app: HsmsimApp, call: Call) -> Response:
    """Challenge unauthenticated calls, check the api-version, and route one keys call."""
    if not token_matches(call, app.token):
        raise _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                     {"WWW-Authenticate": CHALLENGE})
    api_version = call.query.get("api-version")
    if api_version not in API_VERSIONS:
        raise _bad(f"The specified API version {api_version!r} is not supported.")
    segments = call.segments
    if len(segments) < 2 or not _NAME.fullmatch(segments[1]):
        raise _bad("key names are 1 to 127 letters, digits and dashes")
    state = app.store.device(NAMESPACE, FORMAT)
    if len(segments) == 3 and segments[2] == "create" and call.method == "POST":
        return _create(app, state, call, segments[1])
    if call.method == "GET" and len(segments) in (2, 3):
        return _get(app, state, call, segments[1], segments[2] if len(segments) == 3 else "", attestation=False)
    if call.method == "GET" and len(segments) == 4 and segments[3] == "attestation":
        if api_version not in ATTESTATION_API_VERSIONS:
            raise _bad(f"attestation needs api-version 7.6 or later, not {api_version}")
        return _get(app, state, call, segments[1], segments[2], attestation=True)
    raise _error(404, "NotFound", f"no endpoint {call.method} /{'/'.join(segments)}")
