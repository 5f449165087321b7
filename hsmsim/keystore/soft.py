"""The ``soft`` backend: keys made in-process with cryptography, PKCS#11 semantics emulated.

Attributes follow what a PKCS#11 token reports: a generated key is LOCAL with its
key-generation mechanism, ALWAYS_SENSITIVE = SENSITIVE and NEVER_EXTRACTABLE =
not EXTRACTABLE; an imported key is none of those. With ``seed`` set, key material
is derived from ``(seed, label)`` so generated evidence is reproducible. With
``directory`` set, keys persist as one JSON file each, written atomically; a label is unique
across every store and process sharing the directory (creation holds a lock on
``directory/.lock`` and rereads the directory first), and a store sees keys other stores made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hsmsim._atomic import locked, write_atomic
from hsmsim.encoding import spki_der
from hsmsim.errors import BundleError, KeyNotFoundError, KeystoreError, UnsupportedKeyError
from hsmsim.keystore.base import (
    KeyAttributes,
    KeyClass,
    KeyPolicy,
    KeySpec,
    KeyType,
    PrivateKey,
    StoredKey,
    TpmCertifier,
    creation_time,
)
from hsmsim.pki.seed import derive_key, derive_secret
from hsmsim.safeio import load_json_file
from hsmsim.verdict import escaped

_GEN_MECHANISM = {
    KeyType.RSA: "RSA_PKCS_KEY_PAIR_GEN",
    KeyType.EC: "EC_KEY_PAIR_GEN",
    KeyType.EC_EDWARDS: "EC_EDWARDS_KEY_PAIR_GEN",
    KeyType.AES: "AES_KEY_GEN",
}
MAX_KEY_FILE_BYTES = 256 * 1024
"""The most one persisted key record may hold (an RSA-4096 record is under 4 KiB)."""
_EC_PARAMS = {  # DER OID of the named curve, as CKA_EC_PARAMS holds it
    "secp256r1": bytes.fromhex("06082a8648ce3d030107"),
    "secp384r1": bytes.fromhex("06052b81040022"),
    "ed25519": bytes.fromhex("06032b6570"),
}


def aes_check_value(value: bytes) -> bytes:
    """CKA_CHECK_VALUE of an AES key: the first 3 bytes of AES-ECB(key, 0^16)."""
    encryptor = Cipher(algorithms.AES(value), modes.ECB()).encryptor()
    return (encryptor.update(b"\x00" * 16) + encryptor.finalize())[:3]


def spec_of(material: PrivateKey | CertificatePublicKeyTypes | bytes) -> KeySpec:
    """The :class:`KeySpec` of existing key material (private or public); raises for unsupported keys."""
    if isinstance(material, bytes):
        return KeySpec(KeyType.AES, len(material) * 8)
    if isinstance(material, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return KeySpec(KeyType.RSA, material.key_size)
    if isinstance(material, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return KeySpec(KeyType.EC, curve=material.curve.name)
    if isinstance(material, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return KeySpec(KeyType.EC_EDWARDS, curve="ed25519")
    raise UnsupportedKeyError(f"unsupported key material {type(material).__name__}")


def build_attributes(
    spec: KeySpec, label: str, key_id: bytes, policy: KeyPolicy, *, local: bool
) -> KeyAttributes:
    """The attributes a PKCS#11 token reports for a key generated (``local``) or imported."""
    return KeyAttributes(
        key_class=spec.key_class,
        key_type=spec.key_type,
        label=label,
        id=key_id,
        token=True,
        private=True,
        sensitive=policy.sensitive,
        always_sensitive=policy.sensitive and local,
        extractable=policy.extractable,
        never_extractable=(not policy.extractable) and local,
        local=local,
        key_gen_mechanism=_GEN_MECHANISM[spec.key_type] if local else None,
        sign=policy.sign,
        decrypt=policy.decrypt,
        unwrap=policy.unwrap,
        derive=policy.derive,
        modifiable=policy.modifiable,
        copyable=policy.copyable,
        destroyable=policy.destroyable,
        modulus_bits=spec.size if spec.key_type is KeyType.RSA else None,
        ec_params=_EC_PARAMS.get(spec.curve or "") if spec.key_type is not KeyType.RSA else None,
        value_len=(spec.size or 0) // 8 if spec.key_type is KeyType.AES else None,
    )


class SoftKeyStore:
    """In-process key store (the embedded default). Thread-safe; a directory may be shared by processes."""

    backend = "soft"
    tpm: TpmCertifier | None = None

    def __init__(self, *, seed: str | None = None, directory: Path | None = None) -> None:
        self._seed = seed
        self._directory = directory
        self._keys: dict[str, tuple[StoredKey, PrivateKey | bytes]] = {}
        self._order: dict[str, int] = {}
        """Each key's place in creation order (1, 2, ...; 0 for a record written before records held one): keys
        are listed by creation time, which has whole seconds, and created in the same second by this number."""
        self._loaded: set[str] = set()
        self._lock = threading.RLock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._refresh()

    # -- creation ---------------------------------------------------------------------
    def generate(
        self, spec: KeySpec, label: str, *, policy: KeyPolicy = KeyPolicy(),
        created: datetime | None = None,
    ) -> StoredKey:
        """Generate a key; derived from ``(seed, label)`` when the store has a seed."""
        material: PrivateKey | bytes
        if self._seed is None:
            material = new_key_material(spec)
        elif spec.key_type is KeyType.AES:
            assert spec.size is not None
            material = derive_secret(self._seed, f"key/{label}", spec.size // 8)
        else:
            material = derive_key(self._seed, f"key/{label}", spec)
        return self._add(material, label, policy, created, local=True)

    def import_key(
        self, material: PrivateKey | bytes, label: str, *, policy: KeyPolicy = KeyPolicy(),
        created: datetime | None = None,
    ) -> StoredKey:
        """Import existing material; the key reports LOCAL=false like a real token."""
        return self._add(material, label, policy, created, local=False)

    def _add(
        self, material: PrivateKey | bytes, label: str, policy: KeyPolicy,
        created: datetime | None, *, local: bool,
    ) -> StoredKey:
        spec = spec_of(material)
        if isinstance(material, bytes):
            public, check_value = None, aes_check_value(material)
            key_id = hashlib.sha256(b"hsmsim-secret-id\x00" + label.encode()).digest()[:20]
        else:
            public, check_value = material.public_key(), None
            key_id = hashlib.sha1(spki_der(public)).digest()
        key = StoredKey(
            spec=spec,
            attributes=build_attributes(spec, label, key_id, policy, local=local),
            public_key=public,
            created=creation_time(created),
            check_value=check_value,
        )
        if self._directory is None:
            with self._lock:
                self._claim(label, key, material)
            return key
        try:
            with locked(self._directory / ".lock"):  # every record is read under it: the order is the next one
                self._refresh()
                order = self._claim(label, key, material)
                try:
                    self._save(key, material, order)
                except BaseException:  # a key that was not stored must not stay served from memory
                    with self._lock:
                        del self._keys[label], self._order[label]
                    raise
        except OSError as exc:
            raise KeystoreError(f"cannot store {label!r} in {escaped(str(self._directory))}: {exc.strerror}") from exc
        return key

    def _claim(self, label: str, key: StoredKey, material: PrivateKey | bytes) -> int:
        """Hold the new key under ``label`` as the last one created; return its place in creation order."""
        with self._lock:
            if label in self._keys:
                raise KeystoreError(f"a key labelled {label!r} already exists")
            self._keys[label] = (key, material)
            self._order[label] = order = 1 + max(self._order.values(), default=0)
            return order

    def discard(self, label: str) -> None:
        """Remove the key ``label`` and its file, for a caller whose record of the key could not be written just
        after it was made (nothing else refers to it yet); raises :class:`KeyNotFoundError` when there is none."""
        key = self.get(label)
        if self._directory is not None:
            name = f"{key.attributes.id.hex()}.json"
            try:
                with locked(self._directory / ".lock"):
                    (self._directory / name).unlink(missing_ok=True)
            except OSError as exc:
                raise KeystoreError(f"cannot remove {label!r} from {escaped(str(self._directory))}: "
                                    f"{exc.strerror}") from exc
        with self._lock:
            if self._directory is not None:
                self._loaded.discard(f"{key.attributes.id.hex()}.json")
            self._keys.pop(label, None)
            self._order.pop(label, None)

    # -- lookup -----------------------------------------------------------------------
    def get(self, label: str) -> StoredKey:
        """The key with this label (looking on disk for keys other stores made since)."""
        entry = self._keys.get(label)
        if entry is None and self._directory is not None:
            self._refresh()
            entry = self._keys.get(label)
        if entry is None:
            raise KeyNotFoundError(f"no key labelled {label!r} in the soft key store")
        return entry[0]

    def all_keys(self) -> list[StoredKey]:
        """Every key, in creation order: by creation time, keys created in the same second in the order they were
        made (records written before records held that order first, in the order this store read them)."""
        if self._directory is not None:
            self._refresh()
        with self._lock:
            entries = [(entry[0], self._order.get(label, 0)) for label, entry in self._keys.items()]
        return [key for key, _ in sorted(entries, key=lambda entry: (entry[0].created, entry[1]))]

    def signer(self, key: StoredKey) -> PrivateKey:
        """The in-process private key object for ``key``."""
        self.get(key.label)
        material = self._keys[key.label][1]
        if isinstance(material, bytes):
            raise UnsupportedKeyError(f"{key.label!r} is a secret key and cannot sign")
        return material

    def close(self) -> None:
        """Nothing to release."""

    # -- persistence ------------------------------------------------------------------
    def _refresh(self) -> None:
        """Load key files this store has not seen (made by other stores or processes)."""
        assert self._directory is not None
        listed = sorted(self._directory.glob("*.json"))  # unlocked: a listing must not stall the store's other calls
        with self._lock:
            for path in listed:
                if path.name not in self._loaded:
                    self._load(path)

    def _save(self, key: StoredKey, material: PrivateKey | bytes, order: int) -> None:
        assert self._directory is not None
        if isinstance(material, bytes):
            secret = material
        else:
            secret = material.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        attrs = asdict(key.attributes)
        attrs["id"] = key.attributes.id.hex()
        attrs["ec_params"] = key.attributes.ec_params.hex() if key.attributes.ec_params else None
        record = {
            "attributes": attrs,
            "created": key.created.isoformat(),
            "material": base64.b64encode(secret).decode(),
            "order": order,
            "secret": isinstance(material, bytes),
        }
        path = self._directory / f"{key.attributes.id.hex()}.json"
        write_atomic(path, json.dumps(record, indent=1, sort_keys=True).encode())
        self._loaded.add(path.name)

    def _load(self, path: Path) -> None:
        try:
            record = load_json_file(path, MAX_KEY_FILE_BYTES)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            raw = base64.b64decode(record["material"], validate=True)
            material: PrivateKey | bytes = raw if record["secret"] is True else _load_private(raw)
            attributes = _attributes(record["attributes"])
            if attributes.never_extractable and attributes.extractable:
                raise ValueError("attributes say both extractable and never_extractable")
            if attributes.always_sensitive and not attributes.sensitive:
                raise ValueError("attributes say always_sensitive but not sensitive")
            created = datetime.fromisoformat(record["created"])
            if created.utcoffset() is None:
                raise ValueError("created is a time without a UTC offset")
            order = record.get("order", 0)  # absent from records hsmsim wrote before 2026-12
            if "order" in record and (type(order) is not int or order < 1):
                raise ValueError("order is not a positive integer")
            key = StoredKey(
                spec=spec_of(material),
                attributes=attributes,
                public_key=None if isinstance(material, bytes) else material.public_key(),
                created=created,
                check_value=aes_check_value(material) if isinstance(material, bytes) else None,
            )
        except BundleError as exc:
            raise KeystoreError(f"corrupt key file: {exc}") from None
        except KeyError as exc:
            raise KeystoreError(f"corrupt key file {escaped(str(path))}: no {exc}") from None
        except (ValueError, TypeError, UnsupportedKeyError) as exc:
            raise KeystoreError(f"corrupt key file {escaped(str(path))}: {escaped(str(exc)[:120])}") from None
        if attributes.label not in self._keys:
            self._keys[attributes.label] = (key, material)
            self._order[attributes.label] = order
        self._loaded.add(path.name)


# Attribute types a key record writes as a string: bytes in hex, enums by value.
_FROM_TEXT: dict[str, Callable[[str], object]] = {"bytes": bytes.fromhex, "KeyClass": KeyClass, "KeyType": KeyType}


def _attributes(raw: object) -> KeyAttributes:
    """The attributes of a key record: an object holding exactly :class:`KeyAttributes`' fields, each as its declared
    type is written (booleans JSON booleans, integers JSON integers, strings and enum values strings, bytes hex
    strings; null only where the type is optional). Raises TypeError or ValueError naming the first field that is
    not."""
    if not isinstance(raw, dict):
        raise TypeError(f"attributes is {_json_kind(raw)}, not an object")
    declared = {field.name: str(field.type) for field in fields(KeyAttributes)}
    missing, unknown = [name for name in declared if name not in raw], sorted(set(raw) - set(declared))
    if missing:
        raise ValueError(f"attributes lack {', '.join(missing)}")
    if unknown:
        raise ValueError(f"attributes have unknown {escaped(', '.join(unknown))[:120]}")
    values: dict[str, Any] = {name: _attribute(name, kind, raw[name]) for name, kind in declared.items()}
    return KeyAttributes(**values)


def _attribute(name: str, declared: str, value: object) -> object:
    """``value`` read as the attribute ``name`` of type ``declared`` (its annotation, e.g. ``int | None``)."""
    base = declared.removesuffix(" | None")
    if value is None and base != declared:
        return None
    if (base == "bool" and type(value) is bool) or (base == "int" and type(value) is int) or (
            base == "str" and isinstance(value, str)):
        return value
    parse = _FROM_TEXT.get(base)
    if isinstance(value, str) and parse is not None:
        try:
            return parse(value)
        except ValueError:
            raise ValueError(f"attribute {name} is '{escaped(value[:40])}', not a {base} value") from None
    wanted = {"bool": "a boolean", "int": "an integer", "bytes": "a hex string"}.get(base, "a string")
    raise TypeError(f"attribute {name} is {_json_kind(value)}, not {wanted}{' or null' if base != declared else ''}")


def _json_kind(value: object) -> str:
    """What JSON value ``value`` is, as a message names it."""
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"), (list, "a list"),
             (dict, "an object"))
    return "null" if value is None else next((kind for cls, kind in kinds if isinstance(value, cls)), "a value")


def _load_private(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise UnsupportedKeyError(f"unsupported key material {type(key).__name__}")
    return key


def new_key_material(spec: KeySpec) -> PrivateKey | bytes:
    """Fresh random key material for ``spec`` (made outside any store, e.g. to import)."""
    if spec.key_type is KeyType.AES:
        assert spec.size is not None
        return os.urandom(spec.size // 8)
    return _fresh_key(spec)


def _fresh_key(spec: KeySpec) -> PrivateKey:
    if spec.key_type is KeyType.RSA:
        assert spec.size is not None
        return rsa.generate_private_key(65537, spec.size)
    if spec.key_type is KeyType.EC:
        return ec.generate_private_key({"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1()}[spec.curve or ""])
    return ed25519.Ed25519PrivateKey.generate()
