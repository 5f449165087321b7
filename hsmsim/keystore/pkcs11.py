"""The ``pkcs11`` backend: keys live in a real PKCS#11 token (SoftHSM2 by default).

Guarantees
----------
* Keys are token objects (``CKA_TOKEN=true``) created by ``C_GenerateKey(Pair)`` or, for
  :meth:`Pkcs11KeyStore.import_key`, by ``C_CreateObject`` with the key components. Private
  key material never leaves the token: :meth:`Pkcs11KeyStore.signer` returns an object whose
  ``sign()`` runs ``C_Sign`` on the token.
* Every :class:`~hsmsim.keystore.base.KeyAttributes` field is read back from the token with
  ``C_GetAttributeValue``, never filled in from the request. The only defaults are the
  PKCS#11 defaults for ``CKA_MODIFIABLE``/``CKA_COPYABLE``/``CKA_DESTROYABLE`` (true), used
  when a pre-v2.40 token does not know those attributes.
* What SoftHSM 2.6.1 reports (checked, not assumed): a generated key says ``LOCAL=true``,
  ``KEY_GEN_MECHANISM`` = the generation mechanism, ``ALWAYS_SENSITIVE`` = ``SENSITIVE`` and
  ``NEVER_EXTRACTABLE`` = not ``EXTRACTABLE``. An imported key says ``LOCAL=false``,
  ``ALWAYS_SENSITIVE=false``, ``NEVER_EXTRACTABLE=false`` whatever the policy, and
  ``KEY_GEN_MECHANISM`` = ``CK_UNAVAILABLE_INFORMATION``, which is reported as None.
  ``ALWAYS_SENSITIVE``, ``NEVER_EXTRACTABLE`` and ``LOCAL`` cannot be put in a creation
  template (SoftHSM answers ``CKR_ATTRIBUTE_READ_ONLY``), so the token sets them itself.
* For a generated Ed25519 key SoftHSM rewrites the private key's ``CKA_EC_PARAMS`` as the
  PrintableString ``edwards25519`` (``130c6564...3139``) even when the OID 1.3.101.112 was
  requested; the public key keeps the OID. ``ec_params`` reports what the private key object
  holds, so it differs between generated and imported Ed25519 keys.
* ``CKA_ID``: imported asymmetric keys get SHA-1 of their SubjectPublicKeyInfo, so importing
  the same material twice is refused. Generated keys and AES keys get 20 random bytes: the
  public key is only known after generation, and SoftHSM does not let ``CKA_MODIFIABLE``
  change after creation, so a SHA-1 ``CKA_ID`` could not be written afterwards for keys whose
  policy makes them unmodifiable.
* A key made on the token by another tool is read like any other, except one :meth:`Pkcs11KeyStore.get`
  refuses with :class:`~hsmsim.errors.UnsupportedKeyError`: a spec hsmsim has no name for (RSA-1024,
  secp256k1, AES-192, DES) or a private key whose public key object is missing or shares its ``CKA_ID``
  with another (the public key, and so what the key is, cannot be told).
* Labels are unique among private and secret keys: creating a second key with a label in use
  raises :class:`~hsmsim.errors.KeystoreError`.
* Tokens have no creation-time attribute. ``created`` comes from a JSON sidecar,
  ``hsmsim-created.json``, in the store directory. It maps hex ``CKA_ID`` to an ISO time and is
  rewritten atomically. Its order is the creation order used by :meth:`Pkcs11KeyStore.keys`.
  A key's time is written before the key is made, so a file that cannot be written (a full disk)
  stops the creation with :class:`~hsmsim.errors.KeystoreError` and leaves nothing on the token.
  A key made by another tool gets its first-seen time. Without a store directory (a
  non-SoftHSM module and no ``token_dir``) the sidecar stays in memory.

SoftHSM2 setup
--------------
With SoftHSM2 (the default), each store gets a private directory: ``token_dir`` if given
(persistent; an initialised token there is reused across process restarts, and an emptied
``tokens/`` whose sidecar records keys is refused rather than initialised again), else a
temporary directory removed by :meth:`Pkcs11KeyStore.close`. That directory holds
``softhsm2.conf`` (``objectstore.backend = file``, ``log.level = ERROR``), the SoftHSM token
directory ``tokens/`` and the sidecar. The token is initialised with ``softhsm2-util
--init-token --free`` (python-pkcs11 cannot call ``C_InitToken``) and found by label.

A token that exists already
---------------------------
``existing_token=True`` opens the token labelled ``token_label`` of ``module`` as the module finds it (for
SoftHSM2, in the tokens of the caller's ``SOFTHSM2_CONF``), logged in with ``user_pin``: hsmsim writes no
configuration and never initialises a token there, so a missing token, a wrong PIN or a module that cannot be
loaded is a :class:`~hsmsim.errors.KeystoreError` in one line. ``token_dir`` then holds only the creation-time
file (and the lock serialising creations). A state records the token it uses in :data:`TOKEN_RECORD`
(:func:`read_token_record`, :func:`write_token_record`): the module's path and the token's label, never the PIN.

SoftHSM reads ``SOFTHSM2_CONF`` only in ``C_Initialize``, once per process. So the store sets
that variable (restoring it when the last store closes) and re-initialises the library when
it was already initialised with another configuration. The library is finalised when the last
store using it closes; python-pkcs11 keeps one library object per path, so other code in the
process using the same module sees that too. Several stores on the **same** directory may be
open at once (they share one logged-in session: PKCS#11 login state is per process and
token). A store on a **different** directory can open only after the others close; otherwise
it raises :class:`~hsmsim.errors.KeystoreError`. Separate processes (e.g. pytest-xdist
workers) are independent.

Signers
-------
:meth:`Pkcs11KeyStore.signer` returns a subclass of cryptography's ``rsa.RSAPrivateKey``,
``ec.EllipticCurvePrivateKey`` or ``ed25519.Ed25519PrivateKey``. cryptography 50 accepts all
three in ``x509.CertificateSigningRequestBuilder().sign()`` and ``CertificateBuilder().sign()``.
For Ed25519, pass ``algorithm=None``; a CSR built this way verifies. If an older cryptography
refuses the Ed25519 subclass, ``signer.sign(tbs)`` still gives a raw Ed25519 signature from the
token, so a caller can build the CertificationRequest by hand (e.g. with asn1crypto).

* RSA: PKCS#1 v1.5 uses ``CKM_SHA{224,256,384,512}_RSA_PKCS``. PSS uses
  ``CKM_SHA*_RSA_PKCS_PSS`` with ``CK_RSA_PKCS_PSS_PARAMS`` (hash, MGF1 hash, salt length).
  ``Prehashed`` uses ``CKM_RSA_PKCS`` over DigestInfo, or ``CKM_RSA_PKCS_PSS``.
* ECDSA: the data is hashed in Python, then signed with ``CKM_ECDSA`` (SoftHSM 2.6.1 has no
  ``CKM_ECDSA_SHA*``). The raw ``r||s`` is returned DER-encoded, as cryptography does.
* Ed25519: ``CKM_EDDSA`` with no parameters (pure Ed25519).

``private_numbers``, ``private_bytes``, ``private_bytes_raw``, ``decrypt`` and ``exchange``
raise :class:`~hsmsim.errors.KeystoreError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from hsmsim._atomic import locked, write_atomic
from hsmsim.encoding import spki_der
from hsmsim.errors import (
    BackendUnavailableError,
    BundleError,
    KeyNotFoundError,
    KeystoreError,
    UnsupportedKeyError,
)
from hsmsim.keystore.base import (
    KeyAttributes,
    KeyClass,
    KeyPolicy,
    KeySpec,
    KeyType,
    PrivateKey,
    PublicKey,
    StoredKey,
    TpmCertifier,
    creation_time,
)
from hsmsim.keystore.held import HeldECKey, HeldEd25519Key, HeldKey, HeldRSAKey
from hsmsim.keystore.soft import spec_of
from hsmsim.safeio import load_json_object
from hsmsim.verdict import escaped

try:  # python-pkcs11 is optional: without it the backend is unavailable, not broken
    import pkcs11
    from asn1crypto import core as asn1_core
    from pkcs11 import MGF, Attribute, Mechanism, MechanismFlag, ObjectClass
    from pkcs11 import KeyType as P11KeyType
    from pkcs11.attributes import AttributeMapper, handle_ulong
    from pkcs11.exceptions import (
        AttributeSensitive,
        AttributeTypeInvalid,
        NoSuchToken,
        PinExpired,
        PinIncorrect,
        PinInvalid,
        PinLenRange,
        PinLocked,
        PKCS11Error,
        UserPinNotInitialized,
    )
    from pkcs11.util.ec import encode_ecdsa_signature
    _HAVE_PKCS11 = True
except ImportError:  # pragma: no cover - exercised only where python-pkcs11 is missing
    _HAVE_PKCS11 = False

SOFTHSM_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
MODULE_ENV = "HSMSIM_PKCS11_MODULE"
TOKEN_RECORD = "pkcs11-token.json"
"""The file, in a state's ``token/`` directory, naming the existing token its pkcs11 backend uses."""
TOKEN_RECORD_LIMIT = 64 * 1024
TOKEN_LABEL_BYTES = 32
"""``CK_TOKEN_INFO.label`` is 32 bytes, blank-padded."""
_INSTALL_HINT = "install SoftHSM2 with `apt-get install softhsm2` or `make setup`"
_SIDECAR = "hsmsim-created.json"
SIDECAR_LIMIT = 4 * 1024 * 1024
"""The creation-time file beside a token: one CKA_ID and ISO 8601 time (about 60 bytes) per key, room for 70,000."""
_LOCK = ".hsmsim.lock"  # serialises token initialisation and key creation between processes
_STAGING = ".init-"  # where a token is initialised before it is renamed into tokens/
_RESCANS = 25
_BACKUP = ".token-objects"  # token.object of each token as initialised, to repair a torn one
_DEFAULT_POLICY = KeyPolicy()
_CK_UNAVAILABLE_INFORMATION = (1 << (8 * struct.calcsize("L"))) - 1

_OID_SECP256R1 = bytes.fromhex("06082a8648ce3d030107")
_OID_SECP384R1 = bytes.fromhex("06052b81040022")
_OID_ED25519 = bytes.fromhex("06032b6570")
_EC_PARAMS_BY_CURVE = {"secp256r1": _OID_SECP256R1, "secp384r1": _OID_SECP384R1}
_ED25519_NAMES = {"1.3.101.112", "edwards25519", "ed25519"}

# hash name -> (CKM_SHA*_RSA_PKCS, CKM_SHA*_RSA_PKCS_PSS, CKM_SHA*, CKG_MGF1_SHA*, DigestInfo)
_RSA_HASHES: dict[str, tuple[str, str, str, str, bytes]] = {
    "sha224": ("SHA224_RSA_PKCS", "SHA224_RSA_PKCS_PSS", "SHA224", "SHA224",
               bytes.fromhex("302d300d06096086480165030402040500041c")),
    "sha256": ("SHA256_RSA_PKCS", "SHA256_RSA_PKCS_PSS", "SHA256", "SHA256",
               bytes.fromhex("3031300d060960864801650304020105000420")),
    "sha384": ("SHA384_RSA_PKCS", "SHA384_RSA_PKCS_PSS", "SHA384", "SHA384",
               bytes.fromhex("3041300d060960864801650304020205000430")),
    "sha512": ("SHA512_RSA_PKCS", "SHA512_RSA_PKCS_PSS", "SHA512", "SHA512",
               bytes.fromhex("3051300d060960864801650304020305000440")),
}


def find_softhsm_module() -> str | None:
    """The SoftHSM2 module path: ``$HSMSIM_PKCS11_MODULE``, then the usual install paths."""
    env = os.environ.get(MODULE_ENV, "").strip()
    if env:
        return env if Path(env).is_file() else None
    return next((path for path in SOFTHSM_CANDIDATES if Path(path).is_file()), None)


def _not_a_file(path: str) -> str:
    """Why ``path`` cannot be a module, in a few words."""
    return "is not a file" if os.path.lexists(path) else "does not exist"


def module_problem(path: str) -> str | None:
    """Why ``path`` cannot be loaded as a PKCS#11 module, in a few words ("does not exist", "is a directory", ...),
    or None when it names a regular file (after symlinks). Only looked at, never opened: a FIFO or device named
    here is refused before ``dlopen`` could block on it or have an effect."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "is a dangling symbolic link" if os.path.islink(path) else "does not exist"
    except OSError as exc:
        return f"cannot be looked at: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return "is a directory, not a shared library"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device), not a shared library"
    return None


def token_label_problem(label: str) -> str | None:
    """Why ``label`` cannot be a PKCS#11 token label, or None: it is 1 to :data:`TOKEN_LABEL_BYTES` bytes of UTF-8
    with no control character and no trailing blank (the padding of ``CK_TOKEN_INFO.label``)."""
    try:
        size = len(label.encode())
    except UnicodeEncodeError:
        return "a token label must be UTF-8"
    if not label:
        return "a token label must not be empty"
    if size > TOKEN_LABEL_BYTES:
        return f"a PKCS#11 token label is at most {TOKEN_LABEL_BYTES} bytes in UTF-8, not {size}"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in label):
        return "a token label must not hold control characters"
    if label.endswith(" "):
        return "a token label must not end with a blank (PKCS#11 pads labels with blanks)"
    return None


@dataclass(frozen=True)
class ExistingToken:
    """A token that exists already in a PKCS#11 module hsmsim did not set up: ``module`` is an absolute path,
    ``label`` a valid token label (:meth:`named` checks both), ``serial`` its ``CK_TOKEN_INFO.serialNumber`` once
    a state has recorded it (None in a request)."""

    module: str
    label: str
    serial: str | None = None

    @classmethod
    def named(cls, module: str | os.PathLike[str], label: str) -> ExistingToken:
        """The token ``label`` of the module at ``module`` (made absolute: never searched in the library path);
        raises :class:`BackendUnavailableError` (one line) when the path is no regular file and
        :class:`KeystoreError` when ``label`` is no token label."""
        path = os.path.abspath(os.fspath(module))
        problem = module_problem(path)
        if problem is not None:
            raise BackendUnavailableError(f"PKCS#11 module {escaped(path)} {problem}")
        label_issue = token_label_problem(label)
        if label_issue is not None:
            raise KeystoreError(f"{label_issue}: {escaped(label)!r}")
        return cls(path, label)

    def same_as(self, other: ExistingToken) -> bool:
        """Whether ``other`` names this token: the same label, and the same module path or file (the serial is
        checked against the token found when it is opened)."""
        if self.label != other.label:
            return False
        if self.module == other.module:
            return True
        try:
            return os.path.samefile(self.module, other.module)
        except OSError:
            return False

    def __str__(self) -> str:
        return f"token {escaped(self.label)!r} of {escaped(self.module)}"


def requested_token(module: str | os.PathLike[str] | None, label: str | None, *,
                    names: tuple[str, str] = ("--pkcs11-module", "--token-label")) -> ExistingToken | None:
    """The existing token a caller names by ``module`` and ``label`` (:meth:`ExistingToken.named`), None when it
    names neither. Without ``module`` the token is SoftHSM2's (:func:`find_softhsm_module`). Raises
    :class:`KeystoreError` (one line, the arguments called ``names``) for a module without a label: hsmsim
    opens a token of a module it did not set up by its label, and never creates one."""
    module_name, label_name = names
    if label is None:
        if module is None:
            return None
        raise KeystoreError(f"{module_name} needs {label_name}: hsmsim uses an existing token of another module, "
                            "named by its label, and never creates one there")
    found = module if module is not None else find_softhsm_module()
    if found is None:
        raise BackendUnavailableError(f"{label_name}: SoftHSM2 was not found (and ${MODULE_ENV} names none); "
                                      f"name the token's module with {module_name}")
    return ExistingToken.named(found, label)


def read_token_record(directory: Path) -> ExistingToken | None:
    """The existing token recorded in ``directory`` (a state's ``token/``), or None when there is no record (no
    such directory, or hsmsim's own SoftHSM2 token there). Read bounded; raises :class:`KeystoreError` (one line,
    ``corrupt ...``) when the record is not a regular file holding ``{"module": ABSOLUTE PATH, "token_label":
    LABEL, "token_serial": SERIAL}``."""
    path = directory / TOKEN_RECORD
    if not os.path.lexists(path):
        return None
    try:
        data = load_json_object(path, TOKEN_RECORD_LIMIT)
    except BundleError as exc:
        raise KeystoreError(f"corrupt PKCS#11 token record: {exc}") from None
    module, label = data.get("module"), data.get("token_label")
    if not isinstance(module, str) or not os.path.isabs(module) or "\x00" in module:
        raise KeystoreError(f"corrupt PKCS#11 token record {escaped(str(path))}: module is not an absolute path")
    if not isinstance(label, str) or token_label_problem(label) is not None:
        raise KeystoreError(f"corrupt PKCS#11 token record {escaped(str(path))}: token_label is not a token label")
    serial = data.get("token_serial")
    if not isinstance(serial, str) or len(serial) > 16:
        raise KeystoreError(f"corrupt PKCS#11 token record {escaped(str(path))}: token_serial is not a token's "
                            "serial number (at most 16 characters)")
    return ExistingToken(module, label, serial)


def write_token_record(directory: Path, token: ExistingToken) -> None:
    """Record ``token`` in ``directory`` (atomically, once: a record another process wrote meanwhile is kept and
    raises :class:`KeystoreError` when it names another token). Raises :class:`KeystoreError` (one line) when the
    file cannot be written."""
    path = directory / TOKEN_RECORD
    text = json.dumps({"module": token.module, "token_label": token.label, "token_serial": token.serial},
                      indent=1) + "\n"
    try:
        write_atomic(path, text.encode(), exclusive=True)
    except FileExistsError:
        recorded = read_token_record(directory)
        if recorded is None or not recorded.same_as(token):
            raise KeystoreError(f"{escaped(str(path))} was written meanwhile naming another token") from None
    except OSError as exc:
        raise KeystoreError(f"cannot write the PKCS#11 token record {escaped(str(path))}: {exc.strerror}") from exc


def _is_softhsm(module: str) -> bool:
    return "softhsm" in Path(module).name.lower()


def _p11_name(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- process-wide library bookkeeping ------------------------------------------------------
@dataclass
class _SharedSession:
    session: Any
    pin: str
    users: int = 0


@dataclass
class _LoadedLib:
    lib: Any
    conf: str | None
    users: int = 0
    saved_env: str | None = None
    # PKCS#11 login state is per application and token, and C_Logout from any session logs
    # them all out, so stores on the same token share one logged-in session.
    sessions: dict[bytes, _SharedSession] = field(default_factory=dict)


_LIBS: dict[str, _LoadedLib] = {}
_LIBS_LOCK = threading.RLock()
_CONF_ENV = "SOFTHSM2_CONF"


def _acquire_lib(module: str, conf: str | None) -> Any:
    """Load (or share) the PKCS#11 library, initialised with ``conf`` for SoftHSM."""
    with _LIBS_LOCK:
        entry = _LIBS.get(module)
        if entry is not None and entry.users and entry.conf != conf:
            raise KeystoreError(
                f"another Pkcs11KeyStore in this process uses {module} with {entry.conf}; "
                "SoftHSM reads its configuration once per initialisation, close that store first"
            )
        saved = entry.saved_env if entry is not None and entry.users else os.environ.get(_CONF_ENV)
        if conf is not None:
            os.environ[_CONF_ENV] = conf
        loaded = getattr(pkcs11, "_loaded", None)
        was_initialised = True if loaded is None else bool(
            module in loaded and loaded[module].initialized
        )
        try:
            lib = pkcs11.lib(module)
            shared = entry is not None and entry.users > 0  # same conf, checked above
            if conf is not None and was_initialised and not shared:
                lib.reinitialize()  # initialised earlier, possibly with another SOFTHSM2_CONF
        except PKCS11Error as exc:
            _restore_env(saved)
            raise BackendUnavailableError(
                f"cannot load PKCS#11 module {module}: {_p11_name(exc)}"
            ) from exc
        if entry is None or not entry.users:
            entry = _LIBS[module] = _LoadedLib(lib=lib, conf=conf, saved_env=saved)
        entry.users += 1
        return lib


def _release_lib(module: str) -> None:
    with _LIBS_LOCK:
        entry = _LIBS.get(module)
        if entry is None or entry.users <= 0:
            return
        entry.users -= 1
        if entry.users == 0:
            with contextlib.suppress(PKCS11Error):
                entry.lib.finalize()
            if entry.conf is not None:
                _restore_env(entry.saved_env)


def _acquire_session(module: str, token: Any, pin: str) -> Any:
    """The logged-in R/W session of this process on ``token``, opened on first use."""
    with _LIBS_LOCK:
        entry = _LIBS[module]
        key = bytes(token.serial)
        shared = entry.sessions.get(key)
        if shared is None:
            try:
                session = token.open(rw=True, user_pin=pin, attribute_mapper=_attribute_mapper())
            except PinIncorrect as exc:
                raise KeystoreError(f"wrong user PIN for token {token.label!r} (CKR_PIN_INCORRECT)") from exc
            except (PinLenRange, PinLocked, PinExpired, PinInvalid, UserPinNotInitialized) as exc:
                raise KeystoreError(f"cannot log in to token {token.label!r} with the user PIN: "
                                    f"{_LOGIN_REFUSALS[type(exc).__name__]}") from exc
            except PKCS11Error as exc:
                raise KeystoreError(
                    f"cannot open token {token.label!r}: {_p11_name(exc)}"
                ) from exc
            shared = entry.sessions[key] = _SharedSession(session=session, pin=pin)
        elif shared.pin != pin:
            raise KeystoreError(
                f"token {token.label!r} is already open in this process with another user PIN"
            )
        shared.users += 1
        return shared.session


_LOGIN_REFUSALS = {  # python-pkcs11's exception -> the CKR_ its module returned, and what it means
    "PinLenRange": "CKR_PIN_LEN_RANGE (the PIN is too short or too long for this token)",
    "PinLocked": "CKR_PIN_LOCKED (too many wrong PINs: the token's security officer must unlock it)",
    "PinExpired": "CKR_PIN_EXPIRED (set a new user PIN with the token's own tools)",
    "PinInvalid": "CKR_PIN_INVALID (the PIN holds characters the token does not accept)",
    "UserPinNotInitialized": "CKR_USER_PIN_NOT_INITIALIZED (the token has no user PIN yet)",
}


def _release_session(module: str, key: bytes) -> None:
    with _LIBS_LOCK:
        entry = _LIBS.get(module)
        shared = entry.sessions.get(key) if entry is not None else None
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            del entry.sessions[key]  # type: ignore[union-attr]
            with contextlib.suppress(PKCS11Error):
                shared.session.close()  # C_Logout + C_CloseSession


def _restore_env(saved: str | None) -> None:
    if saved is None:
        os.environ.pop(_CONF_ENV, None)
    else:
        os.environ[_CONF_ENV] = saved


def _attribute_mapper() -> Any:
    """python-pkcs11's mapper, but CKA_KEY_GEN_MECHANISM unpacked as a raw CK_ULONG.

    The stock mapper turns it into a ``Mechanism`` enum and fails on
    CK_UNAVAILABLE_INFORMATION, which is exactly what imported keys report.
    """
    mapper = AttributeMapper()
    mapper.register_handler(Attribute.KEY_GEN_MECHANISM, *handle_ulong)
    return mapper


class Pkcs11KeyStore:
    """Key store backed by a PKCS#11 token (SoftHSM2 unless ``module`` says otherwise).

    Not thread-safe. Stores on the same token in one process share one logged-in session
    (PKCS#11 login state is per process and token). Usable as a context manager.
    """

    backend = "pkcs11"
    tpm: TpmCertifier | None = None

    def __init__(
        self, *, module: str | None = None, token_dir: Path | None = None,
        token_label: str = "hsmsim", user_pin: str = "1234", so_pin: str = "12345678",
        existing_token: bool = False,
    ) -> None:
        """Open (and for SoftHSM2, create if needed) the token labelled ``token_label``.

        With ``existing_token`` the token must exist already in ``module`` as the module finds it (SoftHSM2: in the
        caller's ``SOFTHSM2_CONF``): no configuration is written, no token initialised, ``so_pin`` is unused and
        ``token_dir`` (optional) holds only the creation-time file.

        Raises :class:`BackendUnavailableError` when python-pkcs11 or the module is missing (or its path names no
        regular file, refused before it is loaded), :class:`KeystoreError` when the token is missing or cannot be
        opened or logged into (a wrong PIN says ``CKR_PIN_INCORRECT``).
        """
        if not _HAVE_PKCS11:
            raise BackendUnavailableError(
                f"the pkcs11 backend needs python-pkcs11 (`pip install python-pkcs11`); "
                f"{_INSTALL_HINT}"
            )
        if module is None:
            module = find_softhsm_module()
            if module is None:
                where = os.environ.get(MODULE_ENV, "").strip()
                raise BackendUnavailableError(
                    f"{MODULE_ENV}={where} {_not_a_file(where)}; {_INSTALL_HINT}" if where else
                    f"SoftHSM2 not found (looked in {', '.join(SOFTHSM_CANDIDATES)}); "
                    f"{_INSTALL_HINT} or set {MODULE_ENV}"
                )
        elif existing_token and module_problem(module) is not None:
            raise BackendUnavailableError(f"PKCS#11 module {escaped(module)} {module_problem(module)}")
        elif not Path(module).is_file():
            raise BackendUnavailableError(
                f"PKCS#11 module {module} {_not_a_file(module)}; {_INSTALL_HINT}"
            )
        self.module = module
        self.token_label = token_label
        self._user_pin = user_pin
        self._so_pin = so_pin
        # hsmsim configures SoftHSM2 and initialises its token itself, unless told the token exists already
        self._softhsm = _is_softhsm(module) and not existing_token
        self._existing = existing_token
        self._tempdir: Path | None = None
        self._lib: Any = None
        self._session: Any = None
        self._session_key = b""
        self.token_serial = ""
        self._handles: dict[tuple[int, bytes], Any] = {}
        self._created: dict[str, str] = {}
        self._closed = False

        if self._softhsm and token_dir is None:
            shm = Path("/dev/shm")  # token writes are ~10x faster on tmpfs
            base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
            self._tempdir = Path(tempfile.mkdtemp(prefix="hsmsim-softhsm-", dir=base))
            token_dir = self._tempdir
        self.token_dir = token_dir
        self._sidecar = token_dir / _SIDECAR if token_dir is not None else None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- opening ----------------------------------------------------------------------------
    def _open(self) -> None:
        conf: str | None = None
        if self.token_dir is not None:
            self.token_dir.mkdir(parents=True, exist_ok=True)
        if self._softhsm:
            assert self.token_dir is not None
            with locked(self.token_dir / _LOCK):
                conf = str(self._write_conf(self.token_dir))
                tokens = self.token_dir / "tokens"
                if not any(tokens.iterdir()):  # fresh directory: init before C_Initialize
                    self._refuse_lost_token(tokens)
                    self._init_token()
        self._lib = _acquire_lib(self.module, conf)
        try:
            token = self._find_token()
        except KeystoreError:
            if not self._softhsm:
                raise
            token = None  # another process was writing the token directory: rescan under the lock below
        if token is None and self._softhsm:
            assert self.token_dir is not None
            with _LIBS_LOCK, locked(self.token_dir / _LOCK):
                if _LIBS[self.module].users > 1:
                    raise KeystoreError(
                        f"no token {self.token_label!r} in {self.token_dir} and other stores "
                        "share the SoftHSM library; close them before creating a new token"
                    )
                token = self._find_token_again()
                if token is None:
                    self._init_token()
                    self._lib.reinitialize()
                    token = self._find_token()
        if token is None:
            where = ""
            if self._existing and _is_softhsm(self.module):
                conf = os.environ.get(_CONF_ENV)
                where = (f" (SoftHSM2 reads its tokens from {_CONF_ENV}={escaped(conf)})" if conf else
                         f" (SoftHSM2 reads its tokens from its default configuration: {_CONF_ENV} is not set)")
            never = "; hsmsim never initialises a token it did not set up" if self._existing else ""
            raise KeystoreError(f"no token labelled {escaped(self.token_label)!r} in {escaped(self.module)}"
                                f"{where}{never}")
        if self._softhsm:
            assert self.token_dir is not None
            # SoftHSM rewrites token.object in place at each login: logins of several processes on one
            # token directory take turns, so none reads the file another is writing.
            with locked(self.token_dir / _LOCK):
                self._session = _acquire_session(self.module, token, self._user_pin)
        else:
            self._session = _acquire_session(self.module, token, self._user_pin)
        self._session_key = bytes(token.serial)
        self.token_serial = bytes(token.serial).decode("latin-1")  # CK_TOKEN_INFO.serialNumber, unpadded
        self._created = self._read_sidecar()

    def _find_token_again(self) -> Any:
        """After another process may have made or written the token: rescan, and if this
        directory's token for our label is known to exist, retry a moment rather than make a
        second one (SoftHSM can miss a token while another process rewrites it)."""
        assert self.token_dir is not None
        for attempt in range(_RESCANS):
            if attempt == _RESCANS // 2:
                self._restore_token_objects()
            self._lib.reinitialize()  # SoftHSM scans the token directory at C_Initialize
            try:
                token = self._find_token()
            except KeystoreError:  # a token file caught mid-write by SoftHSM's scan: look again
                token = None
            else:
                if token is not None or not self._made_marker().exists():
                    return token
            time.sleep(0.2)
        raise KeystoreError(f"the token {self.token_label!r} in {self.token_dir} cannot be read now; try again")

    def _restore_token_objects(self) -> None:
        """Put back each token's ``token.object`` as initialisation wrote it.

        SoftHSM rewrites that file in place at every login, so a process killed at that moment
        can leave it torn and the token unreadable for good. Its content (label, PIN-wrapped
        token key) does not change afterwards in hsmsim's use, so the copy kept at
        initialisation repairs it. Called with the directory lock held.
        """
        assert self.token_dir is not None
        for saved in (self.token_dir / _BACKUP).glob("*.object"):
            target = self.token_dir / "tokens" / saved.stem / "token.object"
            if target.parent.is_dir() and (not target.exists() or target.read_bytes() != saved.read_bytes()):
                write_atomic(target, saved.read_bytes())

    def _refuse_lost_token(self, tokens: Path) -> None:
        """Raise :class:`KeystoreError` when the creation-time file records keys but ``tokens`` is empty: the token
        holding them was deleted, and initialising a fresh one would hide that they are gone."""
        recorded = self._read_sidecar()
        if recorded:
            raise KeystoreError(
                f"the token directory {escaped(str(tokens))} is empty, but {_SIDECAR} beside it records "
                f"{len(recorded)} key{'s' if len(recorded) > 1 else ''} made on it: restore the token, or remove "
                f"{escaped(str(self.token_dir))} to start an empty one")

    def _made_marker(self) -> Path:
        assert self.token_dir is not None
        return self.token_dir / f".made-{hashlib.sha256(self.token_label.encode()).hexdigest()[:16]}"

    def _find_token(self) -> Any:
        try:
            tokens = list(self._lib.get_tokens(token_label=self.token_label))
        except NoSuchToken:
            return None
        except PKCS11Error as exc:
            raise KeystoreError(f"cannot list tokens of {self.module}: {_p11_name(exc)}") from exc
        if len(tokens) > 1:
            raise KeystoreError(f"{len(tokens)} tokens are labelled {self.token_label!r}")
        return tokens[0] if tokens else None

    @staticmethod
    def _write_conf(root: Path) -> Path:
        tokens = root / "tokens"
        tokens.mkdir(exist_ok=True)
        conf = root / "softhsm2.conf"
        text = (
            f"directories.tokendir = {tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
        )
        if not conf.is_file() or conf.read_text() != text:
            _atomic_write(conf, text)
        return conf

    def _init_token(self) -> None:
        """Initialise the token in a staging directory, then rename it into ``tokens/``.

        The caller holds the directory lock. A process killed during initialisation leaves
        only a staging directory (removed by the next initialiser), never a half-made token in
        ``tokens/`` that would make "is there a token?" true, or a second token with the label.
        """
        assert self.token_dir is not None
        util = shutil.which("softhsm2-util")
        if util is None:
            raise BackendUnavailableError(f"softhsm2-util is not on PATH; {_INSTALL_HINT}")
        for stale in self.token_dir.glob(_STAGING + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=self.token_dir))
        try:
            conf = str(self._write_conf(staging))
            cmd = [util, "--module", self.module, "--init-token", "--free",
                   "--label", self.token_label, "--pin", self._user_pin, "--so-pin", self._so_pin]
            try:
                done = subprocess.run(
                    cmd, env={**os.environ, _CONF_ENV: conf}, capture_output=True, text=True,
                    timeout=60, check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise KeystoreError(f"softhsm2-util --init-token failed: {exc}") from exc
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip().splitlines()
                raise KeystoreError(
                    f"softhsm2-util --init-token failed: {detail[-1] if detail else done.returncode}"
                )
            for made in (staging / "tokens").iterdir():
                write_atomic(self.token_dir / _BACKUP / f"{made.name}.object", (made / "token.object").read_bytes())
            self._made_marker().touch()  # before the rename: a token without its marker could be made twice
            for made in (staging / "tokens").iterdir():
                os.rename(made, self.token_dir / "tokens" / made.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- creation ---------------------------------------------------------------------------
    def generate(
        self, spec: KeySpec, label: str, *, policy: KeyPolicy = _DEFAULT_POLICY,
        created: datetime | None = None,
    ) -> StoredKey:
        """Generate a key on the token (``C_GenerateKey``/``C_GenerateKeyPair``).

        The returned attributes are read back; SoftHSM reports LOCAL=true and the
        generation mechanism. Raises :class:`KeystoreError` for a duplicate label, also when
        another process sharing the token directory made it.
        """
        when = creation_time(created)  # refused before anything is made on the token
        with self._exclusive():
            return self._generate(spec, label, policy, when)

    def _generate(self, spec: KeySpec, label: str, policy: KeyPolicy, created: datetime) -> StoredKey:
        session = self._live()
        self._check_label_free(label)
        key_id = os.urandom(20)
        private_tpl = self._private_template(label, key_id, policy)
        with self._creation_recorded(key_id, created):
            self._generate_on_token(session, spec, label, key_id, policy, private_tpl)
        return self.get(label)

    def _generate_on_token(self, session: Any, spec: KeySpec, label: str, key_id: bytes, policy: KeyPolicy,
                           private_tpl: dict[Any, Any]) -> None:
        try:
            if spec.key_type is KeyType.AES:
                if spec.size not in (128, 256):
                    raise UnsupportedKeyError(f"unsupported AES size {spec.size}")
                tpl = {**private_tpl, **self._secret_usage(policy)}
                self._with_v240_fallback(lambda t: session.generate_key(
                    P11KeyType.AES, spec.size, capabilities=MechanismFlag(0), template=t,
                ), tpl)
            else:
                public_tpl = self._public_template(spec.key_type, label, key_id, policy)
                key_length: int | None = None
                if spec.key_type is KeyType.RSA:
                    if spec.size not in (2048, 3072, 4096):
                        raise UnsupportedKeyError(f"unsupported RSA size {spec.size}")
                    key_length = spec.size
                    public_tpl[Attribute.MODULUS_BITS] = spec.size
                    public_tpl[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
                    p11_type, mech = P11KeyType.RSA, Mechanism.RSA_PKCS_KEY_PAIR_GEN
                elif spec.key_type is KeyType.EC:
                    params = _EC_PARAMS_BY_CURVE.get(spec.curve or "")
                    if params is None:
                        raise UnsupportedKeyError(f"unsupported EC curve {spec.curve!r}")
                    public_tpl[Attribute.EC_PARAMS] = params
                    p11_type, mech = P11KeyType.EC, Mechanism.EC_KEY_PAIR_GEN
                else:
                    # SoftHSM 2.6.1 accepts both the OID 1.3.101.112 and the PrintableString
                    # "edwards25519"; the OID is the RFC 8410 / PKCS#11 3.0 form.
                    public_tpl[Attribute.EC_PARAMS] = _OID_ED25519
                    p11_type, mech = P11KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN
                self._with_v240_fallback(lambda t: session.generate_keypair(
                    p11_type, key_length, capabilities=MechanismFlag(0), mechanism=mech,
                    public_template=public_tpl, private_template=t,
                ), private_tpl)
        except PKCS11Error as exc:
            raise KeystoreError(
                f"token refused to generate {spec.key_type} {spec.size or spec.curve} key "
                f"{label!r}: {_p11_name(exc)}"
            ) from exc

    def import_key(
        self, material: PrivateKey | bytes, label: str, *, policy: KeyPolicy = _DEFAULT_POLICY,
        created: datetime | None = None,
    ) -> StoredKey:
        """Put existing key material on the token with ``C_CreateObject``.

        Creates the private (or secret) key object and, for asymmetric keys, its public key
        object. The token itself then reports LOCAL=false, ALWAYS_SENSITIVE=false,
        NEVER_EXTRACTABLE=false and no KEY_GEN_MECHANISM; those values are read back.
        """
        when = creation_time(created)
        with self._exclusive():
            return self._import(material, label, policy, when)

    def _import(
        self, material: PrivateKey | bytes, label: str, policy: KeyPolicy, created: datetime,
    ) -> StoredKey:
        session = self._live()
        spec = spec_of(material)
        self._check_label_free(label)
        if not spec.known:
            raise UnsupportedKeyError(f"unsupported key spec {_described(spec)}")
        private_tpl = self._private_template(label, b"", policy)
        public_tpl: dict[Any, Any] | None = None
        if isinstance(material, bytes):
            key_id = os.urandom(20)
            private_tpl.update({
                Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: P11KeyType.AES,
                Attribute.VALUE: bytes(material), **self._secret_usage(policy),
            })
        else:
            key_id = hashlib.sha1(spki_der(material.public_key())).digest()
            if self._search({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: key_id}):
                raise KeystoreError(
                    f"this key material is already on the token (CKA_ID {key_id.hex()})"
                )
            public_tpl = self._public_template(spec.key_type, label, key_id, policy)
            private_tpl[Attribute.CLASS] = ObjectClass.PRIVATE_KEY
            _add_components(material, private_tpl, public_tpl)
        private_tpl[Attribute.ID] = key_id
        with self._creation_recorded(key_id, created):
            public_obj = None
            try:
                if public_tpl is not None:
                    public_obj = session.create_object(public_tpl)
                self._with_v240_fallback(session.create_object, private_tpl)
            except PKCS11Error as exc:
                if public_obj is not None:
                    with contextlib.suppress(PKCS11Error):
                        public_obj.destroy()
                raise KeystoreError(
                    f"token refused to import {spec.key_type} key {label!r}: {_p11_name(exc)}"
                ) from exc
        return self.get(label)

    def _private_template(self, label: str, key_id: bytes, policy: KeyPolicy) -> dict[Any, Any]:
        # SoftHSM 2.6.1 accepts every policy attribute below on generate and create, in every
        # combination tried (including SENSITIVE=false/EXTRACTABLE=true/DESTROYABLE=false), so
        # none is skipped. Pre-v2.40 tokens that do not know COPYABLE/DESTROYABLE are handled
        # by _with_v240_fallback.
        return {
            Attribute.TOKEN: True, Attribute.PRIVATE: True,
            Attribute.LABEL: label, Attribute.ID: key_id,
            Attribute.SENSITIVE: policy.sensitive, Attribute.EXTRACTABLE: policy.extractable,
            Attribute.SIGN: policy.sign, Attribute.DECRYPT: policy.decrypt,
            Attribute.UNWRAP: policy.unwrap, Attribute.DERIVE: policy.derive,
            Attribute.MODIFIABLE: policy.modifiable, Attribute.COPYABLE: policy.copyable,
            Attribute.DESTROYABLE: policy.destroyable,
        }

    @staticmethod
    def _secret_usage(policy: KeyPolicy) -> dict[Any, Any]:
        # A secret key does both halves of each operation; give the token no usage the
        # policy did not ask for (python-pkcs11's defaults would allow ENCRYPT/WRAP/VERIFY).
        return {Attribute.ENCRYPT: policy.decrypt, Attribute.WRAP: policy.unwrap,
                Attribute.VERIFY: policy.sign}

    @staticmethod
    def _public_template(
        key_type: KeyType, label: str, key_id: bytes, policy: KeyPolicy
    ) -> dict[Any, Any]:
        rsa_key = key_type is KeyType.RSA
        return {
            Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: _P11_KEY_TYPE[key_type],
            Attribute.TOKEN: True, Attribute.PRIVATE: False,
            Attribute.LABEL: label, Attribute.ID: key_id,
            Attribute.VERIFY: True, Attribute.ENCRYPT: rsa_key and policy.decrypt,
            Attribute.WRAP: rsa_key and policy.unwrap, Attribute.DERIVE: False,
        }

    @staticmethod
    def _with_v240_fallback(create: Any, template: dict[Any, Any]) -> Any:
        try:
            return create(template)
        except AttributeTypeInvalid:
            reduced = {k: v for k, v in template.items()
                       if k not in (Attribute.COPYABLE, Attribute.DESTROYABLE)}
            if len(reduced) == len(template):
                raise
            return create(reduced)

    def _exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Key creation is serialised between processes sharing the token directory."""
        return locked(self.token_dir / _LOCK) if self.token_dir is not None else contextlib.nullcontext()

    def _check_label_free(self, label: str) -> None:
        if not label:
            raise KeystoreError("a key label must not be empty")
        if self._key_objects(label):
            raise KeystoreError(f"a key labelled {label!r} already exists on the token")

    # -- lookup -----------------------------------------------------------------------------
    def get(self, label: str) -> StoredKey:
        """The key with this CKA_LABEL, attributes read from the token.

        Raises :class:`KeyNotFoundError` when no private or secret key has that label, and
        :class:`UnsupportedKeyError` when the key is not one of :meth:`KeySpec.names` (RSA-1024, secp256k1 or
        DES keys another tool made) or is a private key whose public key object is missing or not alone with its
        CKA_ID (its public key, and so what it is, cannot be told).
        """
        objects = self._key_objects(label)
        if not objects:
            raise KeyNotFoundError(f"no key labelled {label!r} on token {self.token_label!r}")
        if len(objects) > 1:
            raise KeystoreError(f"{len(objects)} keys on the token are labelled {label!r}")
        return self._stored(objects[0])

    def all_keys(self) -> list[StoredKey]:
        """Every private and secret key on the token, in creation order.

        Keys made by other tools come last, by label. The keys :meth:`get` refuses as
        unsupported (DES, Ed448, RSA-1024, secp256k1, a private key without its one public key
        object, ...) are left out.
        """
        found: list[StoredKey] = []
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.SECRET_KEY):
            for obj in self._search({Attribute.CLASS: cls}):
                try:
                    found.append(self._stored(obj))
                except UnsupportedKeyError:
                    continue
        order = {key_id: n for n, key_id in enumerate(self._created)}
        found.sort(key=lambda k: (order.get(k.attributes.id.hex(), len(order)), k.label))
        return found

    def signer(self, key: StoredKey) -> PrivateKey:
        """A cryptography private-key object whose ``sign()`` runs ``C_Sign`` on the token.

        Raises :class:`UnsupportedKeyError` for secret keys and :class:`KeystoreError` when
        the token says CKA_SIGN=false.
        """
        self._live()
        if key.attributes.key_class is KeyClass.SECRET_KEY:
            raise UnsupportedKeyError(f"{key.label!r} is a secret key and cannot sign")
        if key.public_key is None:
            raise KeystoreError(f"key {key.label!r} has no public key object on the token")
        if not key.attributes.sign:
            raise KeystoreError(f"key {key.label!r} has CKA_SIGN=false on the token")
        public = key.public_key
        if isinstance(public, rsa.RSAPublicKey):
            return TokenRSAPrivateKey(self, key.attributes.id, key.label, public)
        if isinstance(public, ec.EllipticCurvePublicKey):
            return TokenECPrivateKey(self, key.attributes.id, key.label, public)
        return TokenEd25519PrivateKey(self, key.attributes.id, key.label, public)

    def close(self) -> None:
        """Log out, close the session, finalise the library when no other store uses it, and
        remove the temporary token directory if this store made one. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._handles.clear()
        if self._session is not None:
            _release_session(self.module, self._session_key)
            self._session = None
        if self._lib is not None:
            _release_lib(self.module)
            self._lib = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def __enter__(self) -> Pkcs11KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- token access -----------------------------------------------------------------------
    def _live(self) -> Any:
        if self._closed or self._session is None:
            raise KeystoreError("the PKCS#11 key store is closed")
        return self._session

    def _search(self, template: dict[Any, Any]) -> list[Any]:
        session = self._live()
        try:
            return list(session.get_objects(template))
        except PKCS11Error as exc:
            raise KeystoreError(f"token search failed: {_p11_name(exc)}") from exc

    def _key_objects(self, label: str) -> list[Any]:
        return [obj for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.SECRET_KEY)
                for obj in self._search({Attribute.CLASS: cls, Attribute.LABEL: label})]

    def _private_object(self, key_id: bytes) -> Any:
        cached = self._handles.get((int(ObjectClass.PRIVATE_KEY), key_id))
        if cached is not None:
            return cached
        found = self._search({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: key_id})
        if len(found) != 1:
            raise KeystoreError(
                f"expected one private key with CKA_ID {key_id.hex()}, found {len(found)}"
            )
        self._handles[(int(ObjectClass.PRIVATE_KEY), key_id)] = found[0]
        return found[0]

    def _sign(self, key_id: bytes, data: bytes, mechanism: Any, param: Any = None) -> bytes:
        """``C_Sign`` with the private key ``key_id``; used by the signer objects."""
        obj = self._private_object(key_id)
        try:
            return bytes(obj.sign(data, mechanism=mechanism, mechanism_param=param))
        except AttributeError as exc:  # python-pkcs11 adds sign() only when CKA_SIGN=true
            raise KeystoreError(f"key {key_id.hex()} cannot sign (CKA_SIGN=false)") from exc
        except PKCS11Error as exc:
            raise KeystoreError(
                f"token refused to sign with {mechanism.name}: {_p11_name(exc)}"
            ) from exc

    # -- reading attributes back ------------------------------------------------------------
    def _stored(self, obj: Any) -> StoredKey:
        read = _Reader(obj)
        key_class = {ObjectClass.PRIVATE_KEY: KeyClass.PRIVATE_KEY,
                     ObjectClass.SECRET_KEY: KeyClass.SECRET_KEY}[read.get(Attribute.CLASS)]
        p11_type = read.get(Attribute.KEY_TYPE)
        key_type = {P11KeyType.RSA: KeyType.RSA, P11KeyType.EC: KeyType.EC,
                    P11KeyType.EC_EDWARDS: KeyType.EC_EDWARDS,
                    P11KeyType.AES: KeyType.AES}.get(p11_type)
        label = read.get(Attribute.LABEL) or ""
        if key_type is None:
            raise UnsupportedKeyError(f"key {label!r} has unsupported key type {p11_type!r}")
        key_id = read.get(Attribute.ID) or b""
        public_obj = None
        pubs: list[Any] = []
        if key_class is KeyClass.PRIVATE_KEY:
            pubs = self._search({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})
            public_obj = _Reader(pubs[0]) if len(pubs) == 1 else None

        modulus_bits = value_len = None
        ec_params = None
        public: PublicKey | None = None
        check_value = None
        if key_type is KeyType.RSA:
            n = (public_obj.get(Attribute.MODULUS) if public_obj else None) or read.get(
                Attribute.MODULUS)
            e = (public_obj.get(Attribute.PUBLIC_EXPONENT) if public_obj else None) or read.get(
                Attribute.PUBLIC_EXPONENT)
            modulus_bits = public_obj.get(Attribute.MODULUS_BITS) if public_obj else None
            if n and e:
                public = rsa.RSAPublicNumbers(int.from_bytes(e, "big"),
                                              int.from_bytes(n, "big")).public_key()
                modulus_bits = modulus_bits or public.key_size
            spec = KeySpec(KeyType.RSA, modulus_bits)
        elif key_type in (KeyType.EC, KeyType.EC_EDWARDS):
            ec_params = read.get(Attribute.EC_PARAMS)
            curve = _curve_name(ec_params or b"")
            if key_type is KeyType.EC_EDWARDS:
                if curve not in _ED25519_NAMES:
                    raise UnsupportedKeyError(f"key {label!r}: unsupported Edwards curve {curve}")
                spec = KeySpec(KeyType.EC_EDWARDS, curve="ed25519")
            else:
                spec = KeySpec(KeyType.EC, curve=_ec_curve(curve, label).name)
            if public_obj is not None:
                point = _ec_point(public_obj.get(Attribute.EC_POINT) or b"")
                if key_type is KeyType.EC_EDWARDS:
                    public = ed25519.Ed25519PublicKey.from_public_bytes(point)
                else:
                    public = ec.EllipticCurvePublicKey.from_encoded_point(
                        _ec_curve(curve, label), point)
        else:
            value_len = read.get(Attribute.VALUE_LEN)
            check_value = read.get(Attribute.CHECK_VALUE)
            spec = KeySpec(KeyType.AES, (value_len or 0) * 8)
        # A key another tool made may be one no format models (RSA-1024, secp256k1, AES-192), or a private key whose
        # public key cannot be told (no public key object with its CKA_ID, or several): refused here, so that it is
        # never attested as something else (a private key without a public key would pass for a secret key).
        if not spec.known:
            raise UnsupportedKeyError(f"key {label!r} is {_described(spec)}, not one of hsmsim's key specs "
                                      f"({', '.join(KeySpec.names())})")
        if key_class is KeyClass.PRIVATE_KEY and public is None:
            raise UnsupportedKeyError(
                f"key {label!r}: its public key cannot be told: {len(pubs)} public key objects on the token have "
                f"its CKA_ID {key_id.hex() or '(empty)'}; hsmsim needs exactly one")

        mech = read.get(Attribute.KEY_GEN_MECHANISM)
        attributes = KeyAttributes(
            key_class=key_class, key_type=key_type, label=label, id=key_id,
            token=read.flag(Attribute.TOKEN), private=read.flag(Attribute.PRIVATE),
            sensitive=read.flag(Attribute.SENSITIVE),
            always_sensitive=read.flag(Attribute.ALWAYS_SENSITIVE),
            extractable=read.flag(Attribute.EXTRACTABLE),
            never_extractable=read.flag(Attribute.NEVER_EXTRACTABLE),
            local=read.flag(Attribute.LOCAL),
            key_gen_mechanism=_mechanism_name(mech),
            sign=read.flag(Attribute.SIGN), decrypt=read.flag(Attribute.DECRYPT),
            unwrap=read.flag(Attribute.UNWRAP), derive=read.flag(Attribute.DERIVE),
            modifiable=read.flag(Attribute.MODIFIABLE, default=True),
            copyable=read.flag(Attribute.COPYABLE, default=True),
            destroyable=read.flag(Attribute.DESTROYABLE, default=True),
            modulus_bits=modulus_bits, ec_params=ec_params, value_len=value_len,
        )
        return StoredKey(spec=spec, attributes=attributes, public_key=public,
                         created=self._created_at(key_id), check_value=check_value)

    # -- creation-time sidecar --------------------------------------------------------------
    def _read_sidecar(self) -> dict[str, str]:
        """The creation times recorded beside the token (none when nothing is there); raises :class:`KeystoreError`
        (one line) when the file is not a regular file of at most :data:`SIDECAR_LIMIT` bytes holding an object
        of ISO 8601 times with a UTC offset (as the other stores, which refuse a time that is another instant on
        another machine)."""
        if self._sidecar is None or not os.path.lexists(self._sidecar):
            return {}
        try:
            data = load_json_object(self._sidecar, SIDECAR_LIMIT)
        except BundleError as exc:
            raise KeystoreError(f"corrupt creation-time file: {exc}") from None
        for key_id, when in data.items():
            try:
                offset = datetime.fromisoformat(when).utcoffset()  # type: ignore[arg-type]
            except (TypeError, ValueError):
                offset = None
            if offset is None:
                raise KeystoreError(f"corrupt creation-time file {escaped(str(self._sidecar))}: the time of key "
                                    f"{escaped(key_id)!r} is not an ISO 8601 time with a UTC offset") from None
        return {key_id: str(when) for key_id, when in data.items()}

    @contextlib.contextmanager
    def _creation_recorded(self, key_id: bytes, created: datetime) -> Iterator[None]:
        """Record the creation time of ``key_id`` before the body puts the key on the token, and withdraw it when the
        body fails: a time that cannot be written (a full or read-only disk) stops the creation before the token
        holds a key that ``key create`` reported as not made."""
        self._record_created(key_id, created)
        try:
            yield
        except BaseException:
            with contextlib.suppress(KeystoreError):
                self._update_sidecar(lambda times: times.pop(key_id.hex(), None))
            raise

    def _record_created(self, key_id: bytes, created: datetime) -> None:
        """Add ``key_id``'s creation time to the sidecar; raises :class:`KeystoreError` (one line) when it cannot be
        written, and then keeps nothing of it."""
        when = created.isoformat()
        self._update_sidecar(lambda times: times.__setitem__(key_id.hex(), when))

    def _update_sidecar(self, change: Callable[[dict[str, str]], object]) -> None:
        times = dict(self._created)
        if self._sidecar is None:
            change(times)
            self._created = times
            return
        with self._exclusive():  # keep what other processes recorded since this store read it
            times = {**self._read_sidecar(), **times}
            change(times)
            try:
                _atomic_write(self._sidecar, json.dumps(times, indent=1) + "\n")
            except OSError as exc:
                raise KeystoreError(f"cannot write the creation-time file {escaped(str(self._sidecar))}: "
                                    f"{exc.strerror}") from exc
        self._created = times

    def _created_at(self, key_id: bytes) -> datetime:
        text = self._created.get(key_id.hex())
        if text is None:  # made by another process?
            self._created = {**self._read_sidecar(), **self._created}
            text = self._created.get(key_id.hex())
        if text is None:  # made by another tool: remember when hsmsim first saw it (in memory if it cannot be written)
            try:
                self._record_created(key_id, creation_time(None))
            except KeystoreError:
                self._created[key_id.hex()] = creation_time(None).isoformat()
            text = self._created[key_id.hex()]
        return datetime.fromisoformat(text)


# -- signer objects ----------------------------------------------------------------------------
class _TokenKey(HeldKey):
    """Shared plumbing of the token-backed signers: the store and the CKA_ID."""

    where = "on the PKCS#11 token"

    def __init__(self, store: Pkcs11KeyStore, key_id: bytes, label: str, public: Any) -> None:
        super().__init__(label, public)
        self._store = store
        self._key_id = key_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} label={self._label!r} id={self._key_id.hex()}>"


class TokenRSAPrivateKey(_TokenKey, HeldRSAKey):
    """An RSA private key on the token; ``sign`` runs CKM_SHA*_RSA_PKCS(_PSS)."""

    _public: rsa.RSAPublicKey

    def sign(
        self, data: bytes,
        padding: asym_padding.AsymmetricPadding,  # the ABC's keyword names: keep them
        algorithm: asym_utils.Prehashed | hashes.HashAlgorithm | asym_utils.NoDigestInfo,
    ) -> bytes:
        """Sign on the token with PKCS#1 v1.5 or PSS (SHA-224/256/384/512 or prehashed)."""
        data = bytes(data)
        pad = padding
        if isinstance(algorithm, asym_utils.NoDigestInfo):
            if not isinstance(pad, asym_padding.PKCS1v15):
                raise UnsupportedKeyError("NoDigestInfo is only defined for PKCS1v15")
            return self._store._sign(self._key_id, data, Mechanism.RSA_PKCS)
        # Prehashed and MGF1 keep their hash, and PSS its salt length, in private attributes: cryptography
        # offers no public accessor (hence its upper bound in pyproject.toml).
        prehashed = isinstance(algorithm, asym_utils.Prehashed)
        hash_alg = algorithm._algorithm if isinstance(algorithm, asym_utils.Prehashed) else algorithm
        names = _RSA_HASHES.get(getattr(hash_alg, "name", ""))
        if names is None:
            raise UnsupportedKeyError(f"unsupported RSA signature hash {hash_alg!r}")
        pkcs1_mech, pss_mech, hash_mech, _mgf, digest_info = names
        if prehashed and len(data) != hash_alg.digest_size:
            raise ValueError("the prehashed digest has the wrong length")
        if isinstance(pad, asym_padding.PKCS1v15):
            if prehashed:
                return self._store._sign(self._key_id, digest_info + data, Mechanism.RSA_PKCS)
            return self._store._sign(self._key_id, data, Mechanism[pkcs1_mech])
        if isinstance(pad, asym_padding.PSS):
            mgf = pad.mgf
            if not isinstance(mgf, asym_padding.MGF1):
                raise UnsupportedKeyError(f"unsupported PSS mask generation {mgf!r}")
            mgf_names = _RSA_HASHES.get(mgf._algorithm.name)
            if mgf_names is None:
                raise UnsupportedKeyError(f"unsupported MGF1 hash {mgf._algorithm.name}")
            param = (Mechanism[hash_mech], MGF[mgf_names[3]],
                     self._salt_length(pad, hash_alg.digest_size))
            if prehashed:
                return self._store._sign(self._key_id, data, Mechanism.RSA_PKCS_PSS, param)
            return self._store._sign(self._key_id, data, Mechanism[pss_mech], param)
        raise UnsupportedKeyError(f"unsupported RSA signature padding {pad.name}")

    def _salt_length(self, pad: asym_padding.PSS, digest_size: int) -> int:
        salt = pad._salt_length
        if isinstance(salt, int):
            return salt
        if salt is asym_padding.PSS.DIGEST_LENGTH:
            return digest_size
        if salt is asym_padding.PSS.MAX_LENGTH:
            em_len = (self.key_size - 1 + 7) // 8
            return em_len - digest_size - 2
        raise ValueError("PSS salt length AUTO is only supported for verification")


class TokenECPrivateKey(_TokenKey, HeldECKey):
    """An EC private key on the token; ``sign`` hashes in Python and runs CKM_ECDSA."""

    _public: ec.EllipticCurvePublicKey

    def sign(self, data: bytes | bytearray | memoryview,
             signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        """ECDSA on the token; returns the DER ``Ecdsa-Sig-Value`` like cryptography does.

        A request for deterministic (RFC 6979) ECDSA, which hsmsim's CSR builder makes so that
        soft-key output is reproducible, gets the token's randomised ECDSA: PKCS#11 offers no
        RFC 6979 and token keys are random anyway, so nothing the token signs is reproducible.
        """
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedKeyError(f"unsupported EC signature algorithm {signature_algorithm!r}")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, asym_utils.Prehashed):
            digest = bytes(data)
            if len(digest) != algorithm.digest_size:
                raise ValueError("the prehashed digest has the wrong length")
        else:
            h = hashes.Hash(algorithm)
            h.update(bytes(data))
            digest = h.finalize()
        raw = self._store._sign(self._key_id, digest, Mechanism.ECDSA)
        return bytes(encode_ecdsa_signature(raw))


class TokenEd25519PrivateKey(_TokenKey, HeldEd25519Key):
    """An Ed25519 private key on the token; ``sign`` runs CKM_EDDSA (pure Ed25519)."""

    _public: ed25519.Ed25519PublicKey

    def sign(self, data: bytes | bytearray | memoryview) -> bytes:
        """The 64-byte Ed25519 signature of ``data``, made on the token."""
        return self._store._sign(self._key_id, bytes(data), Mechanism.EDDSA)


# -- helpers -----------------------------------------------------------------------------------
_P11_KEY_TYPE: dict[KeyType, Any] = {}
if _HAVE_PKCS11:
    _P11_KEY_TYPE = {KeyType.RSA: P11KeyType.RSA, KeyType.EC: P11KeyType.EC,
                     KeyType.EC_EDWARDS: P11KeyType.EC_EDWARDS, KeyType.AES: P11KeyType.AES}


class _Reader:
    """Reads attributes one at a time: SoftHSM fails a whole C_GetAttributeValue batch when
    one attribute is invalid or sensitive."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, attribute: Any) -> Any:
        try:
            return self._obj[attribute]
        except (AttributeTypeInvalid, AttributeSensitive):
            return None
        except ValueError:  # a vendor-defined CKK_/CKO_ value python-pkcs11 has no enum for
            return None
        except PKCS11Error as exc:
            raise KeystoreError(
                f"cannot read {attribute.name} from the token: {_p11_name(exc)}"
            ) from exc

    def flag(self, attribute: Any, *, default: bool = False) -> bool:
        value = self.get(attribute)
        return default if value is None else bool(value)


def _described(spec: KeySpec) -> str:
    """A key spec in words, also one :meth:`KeySpec.parse` does not accept (``RSA-1024``, ``EC secp256k1``)."""
    if spec.key_type is KeyType.RSA or spec.key_type is KeyType.AES:
        return f"{spec.key_type.value}-{spec.size}"
    return f"{spec.key_type.value} {spec.curve}"


def _mechanism_name(value: int | None) -> str | None:
    if value is None or value == _CK_UNAVAILABLE_INFORMATION:
        return None
    try:
        return Mechanism(value).name
    except ValueError:
        return f"0x{value:08x}"


def _curve_name(params: bytes) -> str:
    """Dotted OID (or printable name) held in CKA_EC_PARAMS."""
    try:
        if params[:1] == b"\x06":
            return str(asn1_core.ObjectIdentifier.load(params).dotted)
        if params[:1] == b"\x13":
            return str(asn1_core.PrintableString.load(params).native)
    except ValueError:
        pass
    return params.hex()


def _ec_curve(name: str, label: str) -> ec.EllipticCurve:
    try:
        return ec.get_curve_for_oid(x509.ObjectIdentifier(name))()
    except (ValueError, LookupError) as exc:
        raise UnsupportedKeyError(f"key {label!r}: unsupported EC curve {name}") from exc


def _ec_point(value: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point; some tokens give it bare."""
    if value[:1] == b"\x04":
        try:
            inner = asn1_core.OctetString.load(value).native
            if isinstance(inner, bytes) and inner:
                return inner
        except ValueError:
            pass
    return value


def _add_components(
    material: PrivateKey, private_tpl: dict[Any, Any], public_tpl: dict[Any, Any]
) -> None:
    """The C_CreateObject attributes of an RSA, EC or Ed25519 private key and its public key."""
    if isinstance(material, rsa.RSAPrivateKey):
        numbers = material.private_numbers()
        n, e = _be(numbers.public_numbers.n), _be(numbers.public_numbers.e)
        private_tpl.update({
            Attribute.KEY_TYPE: P11KeyType.RSA, Attribute.MODULUS: n,
            Attribute.PUBLIC_EXPONENT: e, Attribute.PRIVATE_EXPONENT: _be(numbers.d),
            Attribute.PRIME_1: _be(numbers.p), Attribute.PRIME_2: _be(numbers.q),
            Attribute.EXPONENT_1: _be(numbers.dmp1), Attribute.EXPONENT_2: _be(numbers.dmq1),
            Attribute.COEFFICIENT: _be(numbers.iqmp),
        })
        public_tpl.update({Attribute.MODULUS: n, Attribute.PUBLIC_EXPONENT: e})
    elif isinstance(material, ec.EllipticCurvePrivateKey):
        params = _EC_PARAMS_BY_CURVE.get(material.curve.name)
        if params is None:
            raise UnsupportedKeyError(f"unsupported EC curve {material.curve.name}")
        size = (material.curve.key_size + 7) // 8
        point = material.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        private_tpl.update({
            Attribute.KEY_TYPE: P11KeyType.EC, Attribute.EC_PARAMS: params,
            Attribute.VALUE: material.private_numbers().private_value.to_bytes(size, "big"),
        })
        public_tpl.update({Attribute.EC_PARAMS: params,
                           Attribute.EC_POINT: asn1_core.OctetString(point).dump()})
    else:
        raw = material.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
        point = material.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        # SoftHSM 2.6.1 takes the raw 32-byte seed as CKA_VALUE (an OCTET STRING-wrapped
        # value fails with CKR_GENERAL_ERROR) and reports EC_POINT as OCTET STRING(32 bytes).
        private_tpl.update({Attribute.KEY_TYPE: P11KeyType.EC_EDWARDS,
                            Attribute.EC_PARAMS: _OID_ED25519, Attribute.VALUE: raw})
        public_tpl.update({Attribute.EC_PARAMS: _OID_ED25519,
                           Attribute.EC_POINT: asn1_core.OctetString(point).dump()})


def _be(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

