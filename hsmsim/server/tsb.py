"""The Securosys TSB subset: create a key, read its signed attributes, download the attestation zip, CSR.

Shapes follow ``shared/specs/primus.md`` 1.2. Passwords arrive as arrays of single
characters (the TSB convention). GUESSES, documented in the README: the error body
``{"errorCode", "reason", "message"}``, the zip's Content-Type/Disposition, and the CSR
request body (``signKeyName``/``label``, ``keyPassword``/``password``, optional ``commonName``).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurveOID
from starlette.responses import JSONResponse, Response

from hsmsim.encoding import spki_der
from hsmsim.errors import KeyNotFoundError, ParameterError, UnsupportedKeyError
from hsmsim.keystore.base import MAX_LABEL_BYTES, KeyPolicy, KeySpec, KeyType, StoredKey, label_problem
from hsmsim.safeio import parse_xml, read_zip
from hsmsim.server.app import ApiError, Call, token_matches
from hsmsim.server.store import PasswordError

if TYPE_CHECKING:
    from hsmsim.model.evidence import Evidence
    from hsmsim.server.app import HsmsimApp
    from hsmsim.state import HsmState

NAMESPACE = "primus"
_EC_SPECS_BY_CURVE_OID = {EllipticCurveOID.SECP256R1.dotted_string: "ec-p256",
                          EllipticCurveOID.SECP384R1.dotted_string: "ec-p384"}


def _error(status: int, reason: str, message: str) -> ApiError:
    return ApiError(status, {"errorCode": status, "reason": reason, "message": message})


_EARLY_REASONS = {408: "res.error.request.timeout", 413: "res.error.request.too.large"}


def early_error(status: int, message: str) -> ApiError:
    """The TSB-shaped refusal of a request the server turned away before routing it (413, 408)."""
    return _error(status, _EARLY_REASONS.get(status, "res.error.bad.request"), message)


def _bad_request(message: str) -> ApiError:
    return _error(400, "res.error.bad.request", message)


def _password(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(c, str) and len(c) == 1 for c in value) and len(value) <= 256:
        password = "".join(value)
        if any(0xD800 <= ord(char) <= 0xDFFF for char in password):  # no UTF-8 for it to be hashed from
            raise _bad_request("password must not contain lone surrogates")
        return password
    raise _bad_request("password must be null or an array of single characters")


def _name_text(key: str, value: object) -> str:
    """``value`` if it is text a device can attest and write as a certificate's commonName (the shared rule,
    :func:`~hsmsim.keystore.base.label_problem`); else the 400 naming ``key``."""
    if not isinstance(value, str):
        raise _bad_request(f"{key} must be a string of 1 to {MAX_LABEL_BYTES} bytes in UTF-8")
    problem = label_problem(value, key)
    if problem is not None:
        raise _bad_request(problem)
    return value


def _label(body: dict[str, object], *keys: str) -> str:
    """The first of ``keys`` the body has, checked to be a label every later step can carry.

    Labels go into the key-attributes XML (UTF-8), certificate and CSR common names (at most
    64 UTF-8 bytes) and download names, so they are checked here, before anything is stored.
    """
    for key in keys:
        value = body.get(key)
        if value is not None:
            return _name_text(key, value)
    raise _bad_request(f"{keys[0]} is required")


def _attachment(file_name: str) -> str:
    """A ``Content-Disposition`` for a download (RFC 6266): an ASCII-safe ``filename`` and, when
    that had to change the name, the exact name (path separators replaced) as ``filename*``."""
    name = file_name.replace("/", "_").replace("\\", "_")
    fallback = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]", "_", name))
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _spec(body: dict[str, object]) -> KeySpec:
    algorithm = str(body.get("algorithm", "")).upper()
    size, curve = body.get("keySize"), body.get("curveOid")
    text = {"RSA": f"rsa-{size}", "AES": f"aes-{size}", "ED": "ed25519"}.get(algorithm)
    if algorithm == "EC":
        text = _EC_SPECS_BY_CURVE_OID.get(str(curve), "")
    try:
        return KeySpec.parse(text or "")
    except UnsupportedKeyError:
        raise _bad_request(f"unsupported algorithm {algorithm!r} with keySize={size!r} curveOid={curve!r}") from None


def _policy(body: dict[str, object]) -> KeyPolicy:
    attributes = body.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise _bad_request("attributes must be an object")
    defaults = KeyPolicy()
    values = {}
    for field_name in ("sign", "decrypt", "unwrap", "derive", "extractable", "modifiable", "destroyable",
                       "sensitive", "copyable"):
        value = attributes.get(field_name, getattr(defaults, field_name))
        if not isinstance(value, bool):
            raise _bad_request(f"attributes.{field_name} must be a boolean")
        values[field_name] = value
    return KeyPolicy(**values)


def _authorised_key(app: HsmsimApp, state: HsmState, body: dict[str, object], *label_keys: str) -> StoredKey:
    label = _label(body, *label_keys)
    try:
        key = state.store("soft").get(label)
    except KeyNotFoundError:
        raise _error(404, "res.error.key.not.found", f"key {label!r} not found") from None
    try:
        app.store.check_password(NAMESPACE, label, _password(body.get("password", body.get("keyPassword"))))
    except PasswordError as exc:
        raise _error(403, "res.error.key.password.wrong", str(exc)) from None
    return key


def _attest(state: HsmState, key: StoredKey, parameters: dict[str, object]) -> Evidence:
    """The key's Primus evidence; a 400 when the HSM refuses to attest it (say, the server's clock now reads a
    time before the key's recorded creation)."""
    try:
        return state.hsm(key.label).attest(key.label, mechanism="primus", parameters=parameters)
    except ParameterError as exc:
        raise _bad_request(f"cannot attest key {key.label!r}: {exc}") from None


def _signed_xml(state: HsmState, key: StoredKey, at: datetime) -> tuple[bytes, bytes]:
    """The key-attributes XML and its signature: the members of the attestation zip the HSM makes at ``at``."""
    evidence = _attest(state, key, {"attest_time": at, "csr": False})
    members = read_zip(evidence.files[evidence.primary])
    xml = next(data for member, data in members.items() if member.endswith(".xml"))
    signature = next(data for member, data in members.items() if member.endswith(".sig"))
    return xml, signature


def _attributes_response(state: HsmState, key: StoredKey, *, extended: bool) -> Response:
    now = datetime.now(UTC).replace(microsecond=0)
    xml, signature = _signed_xml(state, key, now)
    # The JSON mirrors the signed XML, so the algorithm fields are read from it rather than derived again.
    document = parse_xml(xml)
    attrs = key.attributes
    public = None
    if key.public_key is not None:
        public = base64.b64encode(spki_der(key.public_key)).decode()
    description: dict[str, object] = {
        "label": attrs.label, "id": attrs.id.hex(), "algorithm": document.findtext("algorithm"),
        "algorithmOid": document.findtext("algorithm_oid"), "curveOid": document.findtext("curve_oid"),
        "keySize": key.spec.bits if key.spec.key_type is not KeyType.EC_EDWARDS else None,
        "createTime": key.created.strftime("%Y-%m-%dT%H:%M:%SZ"), "attestTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publicKey": public, "addressTruncated": None,
        "attributes": {
            "decrypt": attrs.decrypt, "sign": attrs.sign, "ekaSign": False, "unwrap": attrs.unwrap,
            "derive": attrs.derive, "sensitive": attrs.sensitive, "alwaysSensitive": attrs.always_sensitive,
            "extractable": attrs.extractable, "neverExtractable": attrs.never_extractable,
            "modifiable": attrs.modifiable, "copyable": attrs.copyable, "destroyable": attrs.destroyable,
        },
        "policy": None,
    }
    if extended:
        description.update({"uuid": None, "derivedAttributes": None, "keyUsageCount": 0})
    return JSONResponse({
        "xml": xml.decode(), "json": description,
        "xmlSignature": base64.b64encode(signature).decode(),
        "attestationKeyName": "attestation-key",
    })


def _create(app: HsmsimApp, state: HsmState, call: Call) -> Response:
    body = call.json(_bad_request)
    label = _label(body, "label")
    spec, policy = _spec(body), _policy(body)
    password = _password(body.get("password"))
    store = state.store("soft")
    with app.store.key_lock(NAMESPACE, label):
        try:
            store.get(label)
        except KeyNotFoundError:
            pass
        else:
            raise _error(409, "res.error.key.already.exists", f"a key labelled {label!r} already exists")
        app.store.set_password(NAMESPACE, label, password)  # first: a key is never visible without it
        key = store.generate(spec, label, policy=policy)
    return _attributes_response(state, key, extended=False)


def _attributes(app: HsmsimApp, state: HsmState, call: Call) -> Response:
    key = _authorised_key(app, state, call.json(_bad_request), "label")
    return _attributes_response(state, key, extended=True)


def _attestation_zip(app: HsmsimApp, state: HsmState, call: Call) -> Response:
    key = _authorised_key(app, state, call.json(_bad_request), "label")
    evidence = _attest(state, key, {"csr": False})  # the zip alone: the CSR is the CSR endpoint's
    return Response(evidence.files[evidence.primary], media_type="application/octet-stream",
                    headers={"Content-Disposition": _attachment(evidence.primary)})


def _csr(app: HsmsimApp, state: HsmState, call: Call) -> Response:
    body = call.json(_bad_request)
    key = _authorised_key(app, state, body, "signKeyName", "label")
    if key.public_key is None:
        raise _bad_request(f"key {key.label!r} is a secret key; no CSR can be made")
    common_name = _name_text("commonName", body.get("commonName", key.label))
    evidence = _attest(state, key, {"csr_common_name": common_name})
    csr = next(data for file_name, data in evidence.files.items() if file_name.endswith(".csr"))
    return Response(csr, media_type="application/octet-stream",
                    headers={"Content-Disposition": _attachment(f"{key.label}.csr")})


_ROUTES = {
    ("POST", ("v1", "key")): _create,
    ("POST", ("v1", "key", "attributes")): _attributes,
    ("POST", ("v1", "key", "keyAttestation")): _attestation_zip,
    ("POST", ("v1", "certificate", "synchronous", "request", "download")): _csr,
    ("POST", ("v1", "certificate", "request")): _csr,
}


def dispatch(app: HsmsimApp, call: Call) -> Response:
    """Authenticate (bearer token) and route one TSB call."""
    if not token_matches(call, app.token):
        raise _error(401, "res.error.unauthorized", "missing or invalid bearer token")
    handler = _ROUTES.get((call.method, tuple(call.segments)))
    if handler is None:
        raise _error(404, "res.error.not.found", f"no endpoint {call.method} /{'/'.join(call.segments)}")
    return handler(app, app.store.device(NAMESPACE, "primus"), call)
