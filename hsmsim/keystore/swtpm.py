"""The ``swtpm`` backend: keys live inside a real software TPM 2.0 (swtpm + libtpms).

This backend is the genuine-evidence oracle for the TPM formats: its keys are made by
``TPM2_Create`` inside libtpms, :meth:`SwtpmKeyStore.certify` returns what ``TPM2_Certify``
produced, byte for byte, and :meth:`SwtpmKeyStore.quote` what ``TPM2_Quote`` did. The emulated
TPM format stays pure Python; this store is for comparing with it, never for golden vectors (TPM
keys are random).

Guarantees
----------
* Generated keys use the WebAuthn-compatible template: scheme and symmetric NULL, nameAlg
  SHA-256, objectAttributes ``fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|sign``
  (``0x00040472``), an empty authPolicy and an empty auth value. Specs: ``rsa-2048``,
  ``rsa-3072`` (exponent 0, i.e. 65537), ``ec-p256`` and ``ec-p384``. Anything else, or a
  :class:`~hsmsim.keystore.base.KeyPolicy` the template cannot honour, raises
  :class:`~hsmsim.errors.UnsupportedKeyError`.
* Imported keys enter through ``TPM2_Import`` of a duplication blob (no inner wrapper); the TPM
  requires fixedTPM and fixedParent clear there, so they carry ``userWithAuth|noDA|sign``
  (``0x00040440``) and report LOCAL=false, EXTRACTABLE=true, NEVER_EXTRACTABLE=false.
* Every :class:`~hsmsim.keystore.base.KeyAttributes` field is derived from the key's TPMT_PUBLIC
  as the TPM returned it: LOCAL = sensitiveDataOrigin, EXTRACTABLE = not fixedTPM, SIGN = sign,
  DECRYPT = decrypt; ``id`` is the TPM Name (nameAlg ‖ SHA-256(TPMT_PUBLIC)).
* Keys are children of a storage root key persisted at ``0x81000001``; each key is kept as its
  TPM2B_PUBLIC and SRK-wrapped TPM2B_PRIVATE in ``keys/<Name>.json`` and loaded for each use, so
  keys survive a restart of swtpm and use no persistent handles.
* The attestation key (AK) is an ECC P-256 restricted signing key with scheme ECDSA/SHA-256
  (objectAttributes ``0x00050072``, as ``tpm2_createak`` makes it), a child of the RSA-2048 EK
  that ``swtpm_setup`` persisted at ``0x81010001``, itself persisted at ``0x81010002``. It is in
  the endorsement hierarchy, so ``TPM2_Certify`` and ``TPM2_Quote`` report clock, reset/restart counts and the
  firmware version unobfuscated.
* A second AK, of :attr:`~hsmsim.keystore.base.AkTemplate.WINDOWS`, is created on the first
  :meth:`SwtpmKeyStore.certify` or :meth:`SwtpmKeyStore.attestation_key` that asks for it: an RSA-2048
  restricted signing key with scheme RSASSA/SHA-256 (objectAttributes ``0x00050072``, the emulated Windows
  AIK's template), a child of the SRK as Windows' Platform Crypto Provider creates its AIKs, persisted at
  ``0x81000002``. Its signer is in the storage hierarchy, so the TPM obfuscates resetCount, restartCount and
  firmwareVersion in what it signs, as in every real Windows key attestation.
* The EK certificate comes from ``swtpm_setup --create-ek-cert`` with a private swtpm-localca
  (``localca/`` here: root ``swtpm-localca-rootca`` → intermediate ``swtpm-localca`` → EK), so
  nothing under ``/var/lib`` or ``/etc`` is written.
* Errors (a missing tool, a TPM error code, swtpm dying or not answering) raise
  :class:`~hsmsim.errors.KeystoreError` with one line; no call blocks longer than
  ``op_timeout`` seconds: a watchdog stops swtpm when a command overruns.

Layout of a store directory::

    tpm/            swtpm's state (tpm2-00.permall)
    localca/        the private swtpm-localca: config, root and intermediate keys and certs
    ek/             the EK certificates swtpm_setup wrote (ek-rsa2048.crt, ek-secp384r1.crt; DER)
    setup.conf      swtpm_setup's configuration
    provisioned.json  written last: the store is ready (EK, SRK and AK exist)
    keys/           one JSON record per key
    swtpm.lock      flock held while this process runs swtpm on the state
    swtpm.pid       that swtpm's pid and socket directory (to clean up after a killed process)
    swtpm.log       swtpm's output of the current run

The swtpm process
-----------------
swtpm starts on first use, not at construction: listing keys reads only the JSON records. It
serves the TPM on a Unix socket in a private 0700 temporary directory, not on TCP ports, so no
port is chosen or shared and no other local user can reach the TPM; libtss2's ``swtpm`` TCTI
speaks to it (``path=``; control channel at ``path.ctrl``). The file lock lets one process at a
time run swtpm on a state directory; another waits up to ``lock_timeout`` seconds, then gets a
:class:`KeystoreError`. swtpm is stopped (``TPM2_Shutdown(CLEAR)``, then SIGTERM, then SIGKILL)
by :meth:`SwtpmKeyStore.close`, at interpreter exit, and, when started from the main thread,
by the kernel if this process dies (``PR_SET_PDEATHSIG``). A swtpm left behind by a killed
process is stopped before the next start. The TPM's dictionary-attack counter is reset at every
start, since the AK is DA-protected and an unclean stop counts as a failure.

The TPM has no resource manager here, so every transient object and session is flushed right
after use. libtss2's own log lines are silenced (``TSS2_LOG=all+NONE`` unless already set);
its error codes reach the :class:`KeystoreError` text.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from hsmsim._atomic import locked, write_atomic
from hsmsim.errors import (
    BackendUnavailableError,
    BundleError,
    KeyNotFoundError,
    KeystoreError,
    UnsupportedKeyError,
)
from hsmsim.keystore.base import (
    AkTemplate,
    KeyPolicy,
    KeySpec,
    KeyType,
    PrivateKey,
    StoredKey,
    TpmAttestationKey,
    TpmCertification,
    TpmCertifier,
    TpmQuote,
    creation_time,
)
from hsmsim.keystore.held import HeldECKey, HeldKey, HeldRSAKey
from hsmsim.keystore.soft import build_attributes, spec_of
from hsmsim.safeio import load_json_object, peek_regular_file
from hsmsim.tpm.marshal import HASH_ALGS, TpmAlg, TpmaObject, TpmEccCurve
from hsmsim.verdict import escaped

try:  # tpm2-pytss is optional (the ``tpm`` extra): without it the backend is unavailable
    from tpm2_pytss import ESAPI, TCTILdr, TSS2_Exception
    from tpm2_pytss.constants import (
        ESYS_TR,
        TPM2_ALG,
        TPM2_CAP,
        TPM2_HC,
        TPM2_RH,
        TPM2_SE,
        TPM2_ST,
        TPM2_SU,
        TPMA_OBJECT,
    )
    from tpm2_pytss.types import (
        TPM2B_PRIVATE,
        TPM2B_PUBLIC,
        TPM2B_SENSITIVE,
        TPML_PCR_SELECTION,
        TPMT_PUBLIC,
        TPMT_SIG_SCHEME,
        TPMT_SYM_DEF,
        TPMT_SYM_DEF_OBJECT,
        TPMT_TK_HASHCHECK,
    )
    from tpm2_pytss.utils import wrap

    _HAVE_PYTSS = True
except ImportError:  # pragma: no cover - exercised only where tpm2-pytss is missing
    _HAVE_PYTSS = False

SRK_HANDLE = 0x81000001
EK_HANDLE = 0x81010001  # where swtpm_setup persists the RSA-2048 EK
AK_HANDLE = 0x81010002
WINDOWS_AIK_HANDLE = 0x81000002  # the Windows AIK: a child of the SRK, in the owner's persistent range
SIGNING_KEY_ATTRIBUTES = 0x00040472  # fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|sign
IMPORTED_KEY_ATTRIBUTES = 0x00040440  # userWithAuth|noDA|sign: TPM2_Import needs fixedTPM/fixedParent clear
AK_ATTRIBUTES = (TpmaObject.FIXED_TPM | TpmaObject.FIXED_PARENT | TpmaObject.SENSITIVE_DATA_ORIGIN
                 | TpmaObject.USER_WITH_AUTH | TpmaObject.RESTRICTED | TpmaObject.SIGN_ENCRYPT)

_TEMPLATES = {  # tpm2-tools "alg:scheme:symmetric" specifiers
    "rsa-2048": "rsa2048:null:null",
    "rsa-3072": "rsa3072:null:null",
    "ec-p256": "ecc256:null:null",
    "ec-p384": "ecc384:null:null",
}
_CURVES: dict[int, str] = {TpmEccCurve.NIST_P256: "secp256r1", TpmEccCurve.NIST_P384: "secp384r1"}
_TOOLS = ("swtpm", "swtpm_setup", "swtpm_localca")
_INSTALL_HINT = (
    "install swtpm with `apt-get install swtpm swtpm-tools` (or `make setup`) and tpm2-pytss with "
    "`pip install tpm2-pytss` (it builds against libtss2-dev and pkg-config)"
)
_DEFAULT_POLICY = KeyPolicy()
_LOG_TAIL = 4096
_SETUP_MIN_FREE = 1 << 20
"""Below this many free bytes a failed swtpm_setup is put down to the full file system (a TPM state is ~100 KB)."""
_SHORT_WRITE = "only wrote"
"""What swtpm logs when writing its NVRAM state came short (SWTPM_NVRAM_StoreData)."""
_SETUP_CAUSE = re.compile(r"error|could not|cannot|failed|no space|denied", re.IGNORECASE)
_RECORD_LIMIT = 64 * 1024
"""A key record: a label, two times and the TPM2B_PUBLIC and TPM2B_PRIVATE in hex (under 4 KiB for RSA-4096)."""
_PID_FILE_LIMIT = 4096
"""``swtpm.pid``: a pid and a temporary directory's path."""
_SOCKDIR_PREFIX = "hsmsim-swtpm-"
_SETUP_TIMEOUT = 120.0  # swtpm_setup makes RSA keys and certificates: slow on a loaded machine
_MAX_EXTRA_DATA = 64  # sizeof(TPMU_HA): TPM2B_DATA's buffer
_PR_SET_PDEATHSIG = 1

T = TypeVar("T")


@dataclass(frozen=True)
class _Record:
    """A key as kept on disk: TPM2B_PUBLIC and the SRK-wrapped TPM2B_PRIVATE; ``order`` is the
    creation order."""

    label: str
    order: int
    created: datetime
    public: bytes
    private: bytes


def _os_error(exc: OSError) -> str:
    """An OSError as ``reason (path)``, the path escaped."""
    return f"{exc.strerror} ({escaped(str(exc.filename))})" if exc.filename else str(exc.strerror or exc)


def swtpm_available() -> str | None:
    """None when this backend can run here, else the one-line reason it cannot."""
    if not _HAVE_PYTSS:
        return f"tpm2-pytss is not installed; {_INSTALL_HINT}"
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not on PATH; {_INSTALL_HINT}"
    return None


class SwtpmKeyStore:
    """Key store whose keys live in a software TPM 2.0 under ``directory``.

    ``directory`` None: a temporary state removed by :meth:`close`. Thread-safe (one lock
    around the TPM). Usable as a context manager.
    """

    backend = "swtpm"

    def __init__(
        self, directory: Path | None = None, *, lock_timeout: float = 10.0, op_timeout: float = 120.0,
    ) -> None:
        """Open the store; swtpm itself starts on the first operation that needs the TPM.

        Raises :class:`BackendUnavailableError` when swtpm, swtpm-tools or tpm2-pytss is
        missing, :class:`KeystoreError` for an unreadable key record.
        """
        reason = swtpm_available()
        if reason is not None:
            raise BackendUnavailableError(f"the swtpm backend cannot run: {reason}")
        self._tempdir: Path | None = None
        if directory is None:
            self._tempdir = Path(tempfile.mkdtemp(prefix="hsmsim-swtpm-state-"))
            directory = self._tempdir
        self.directory = directory
        (directory / "keys").mkdir(parents=True, exist_ok=True)
        self._tpm = _Swtpm(directory, lock_timeout=lock_timeout, op_timeout=op_timeout)
        self._finalizer = weakref.finalize(self, _stop_and_remove, self._tpm, self._tempdir)
        self._records: dict[str, _Record] = {}
        self._reload()
        self._closed = False

    def _reload(self) -> None:
        """Read the key records other stores (processes) wrote since."""
        for path in sorted((self.directory / "keys").glob("*.json")):
            record = _read_record(path)
            self._records.setdefault(record.label, record)

    # -- creation ---------------------------------------------------------------------------
    def generate(
        self, spec: KeySpec, label: str, *, policy: KeyPolicy = _DEFAULT_POLICY,
        created: datetime | None = None,
    ) -> StoredKey:
        """Create a key inside the TPM (``TPM2_Create`` under the SRK) with the WebAuthn template.

        Raises :class:`UnsupportedKeyError` for a spec or policy the template cannot give and
        :class:`KeystoreError` for a label in use (also by another process on this directory).
        """
        when = creation_time(created)
        with locked(self.directory / "keys" / ".lock"):
            return self._generate(spec, label, policy, when)

    def _generate(self, spec: KeySpec, label: str, policy: KeyPolicy, created: datetime) -> StoredKey:
        self._check_label_free(label)
        check_creatable(spec, policy, imported=False)
        public = TPM2B_PUBLIC.parse(_TEMPLATES[spec.name], objectAttributes=SIGNING_KEY_ATTRIBUTES)

        def create(esys: Any) -> tuple[Any, Any]:
            private, out_public, *_ = esys.create(self._tpm.srk, None, public)
            return private, out_public

        private, out_public = self._tpm.run("TPM2_Create", create)
        return self._add(label, out_public.marshal(), private.marshal(), created)

    def import_key(
        self, material: PrivateKey | bytes, label: str, *, policy: KeyPolicy = _DEFAULT_POLICY,
        created: datetime | None = None,
    ) -> StoredKey:
        """Import an RSA-2048/3072 or EC P-256/P-384 private key with ``TPM2_Import``.

        The key reports LOCAL=false and EXTRACTABLE=true (fixedTPM clear), as the TPM says.
        """
        when = creation_time(created)
        with locked(self.directory / "keys" / ".lock"):
            return self._import(material, label, policy, when)

    def _import(
        self, material: PrivateKey | bytes, label: str, policy: KeyPolicy, created: datetime,
    ) -> StoredKey:
        self._check_label_free(label)
        if not isinstance(material, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedKeyError("the swtpm backend imports RSA and EC private keys only")
        check_creatable(spec_of(material), policy, imported=True)
        der = material.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = TPM2B_PUBLIC(TPMT_PUBLIC.from_pem(der, objectAttributes=IMPORTED_KEY_ATTRIBUTES))
        sensitive = TPM2B_SENSITIVE.from_pem(der)
        srk_public = self._tpm.srk_public()
        encryption_key, duplicate, seed = wrap(srk_public, public, sensitive)

        def import_(esys: Any) -> Any:
            return esys.import_(
                self._tpm.srk, encryption_key, public, duplicate, seed, TPMT_SYM_DEF_OBJECT(algorithm=TPM2_ALG.NULL)
            )

        private = self._tpm.run("TPM2_Import", import_)
        return self._add(label, public.marshal(), private.marshal(), created)

    def _add(self, label: str, public: bytes, private: bytes, created: datetime) -> StoredKey:
        order = 1 + max((r.order for r in self._records.values()), default=0)
        record = _Record(label, order, created, public, private)
        key = _stored(record)
        text = json.dumps({
            "label": label, "order": order, "created": record.created.isoformat(),
            "public": public.hex(), "private": private.hex(),
        }, indent=1)
        path = self.directory / "keys" / f"{key.attributes.id.hex()}.json"
        try:  # the TPM keeps nothing of a key without its record (no persistent handle): no key is left behind
            write_atomic(path, text.encode())
        except OSError as exc:
            raise KeystoreError(f"cannot store {label!r} in {escaped(str(path.parent))}: {_os_error(exc)}") from exc
        self._records[label] = record
        return key

    def _check_label_free(self, label: str) -> None:
        self._live()
        self._reload()
        if label in self._records:
            raise KeystoreError(f"a key labelled {label!r} already exists in {self.directory}")

    # -- lookup -----------------------------------------------------------------------------
    def get(self, label: str) -> StoredKey:
        """The key with this label (read from its record; swtpm is not started)."""
        self._live()
        return _stored(self._record(label))

    def all_keys(self) -> list[StoredKey]:
        """Every key, in creation order."""
        self._live()
        return [_stored(r) for r in sorted(self._records.values(), key=lambda r: r.order)]

    def _record(self, label: str) -> _Record:
        self._live()
        if label not in self._records:
            self._reload()
        try:
            return self._records[label]
        except KeyError:
            raise KeyNotFoundError(f"no key labelled {label!r} in the swtpm key store {self.directory}") from None

    # -- using keys -------------------------------------------------------------------------
    def signer(self, key: StoredKey) -> PrivateKey:
        """A cryptography private-key object whose ``sign()`` runs ``TPM2_Sign`` in the TPM."""
        record = self._record(key.label)
        public = _stored(record).public_key
        if isinstance(public, rsa.RSAPublicKey):
            return TpmRSAPrivateKey(self, record.label, public)
        assert isinstance(public, ec.EllipticCurvePublicKey)
        return TpmECPrivateKey(self, record.label, public)

    @property
    def tpm(self) -> TpmCertifier:
        """This store: its keys are in the TPM, which certifies them (:meth:`certify`)."""
        return self

    def public_area(self, label: str) -> bytes:
        """The TPMT_PUBLIC of the key ``label`` as the TPM returned it (no size prefix; swtpm is not started)."""
        return _public_area(self._record(label).public)

    def certify(self, label: str, extra_data: bytes, ak: AkTemplate = AkTemplate.TPM2_TOOLS) -> TpmCertification:
        """``TPM2_Certify`` of the key ``label`` by the AK of template ``ak``, with ``extra_data`` as qualifyingData.

        The AK's own scheme (ECDSA/SHA-256, or RSASSA/SHA-256 for the Windows AIK) signs. Raises
        :class:`KeystoreError` for more than 64 bytes of ``extra_data`` (a TPM2B_DATA) or when the TPM refuses.
        """
        record = self._record(label)
        self._check_extra_data(extra_data)

        def certify(esys: Any) -> TpmCertification:
            signer = self._tpm.attestation_handle(ak)
            with self._tpm.loaded(record) as handle:
                attest, signature = esys.certify(
                    handle, signer, extra_data, TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL)
                )
            return TpmCertification(bytes(attest), signature.marshal(), _public_area(record.public))

        return self._tpm.run("TPM2_Certify", certify)

    def quote(self, pcr_selection: bytes, extra_data: bytes) -> TpmQuote:
        """``TPM2_Quote`` by the AK of the PCRs ``pcr_selection`` (a marshalled TPML_PCR_SELECTION), with
        ``extra_data`` as qualifyingData.

        The AK's own scheme (ECDSA/SHA-256) signs; the TPM's only active bank is SHA-256, whose PCRs nothing
        extends (no firmware boots swtpm), so they are as TPM2_Startup(CLEAR) left them. Raises
        :class:`KeystoreError` for more than 64 bytes of ``extra_data``, a selection that does not unmarshal, or when
        the TPM refuses.
        """
        self._check_extra_data(extra_data)
        try:
            selection, used = TPML_PCR_SELECTION.unmarshal(pcr_selection)
        except (TSS2_Exception, ValueError) as exc:
            raise KeystoreError(f"pcr_selection is not a TPML_PCR_SELECTION: {exc}") from exc
        if used != len(pcr_selection):
            raise KeystoreError("pcr_selection has bytes after its TPML_PCR_SELECTION")

        def quote(esys: Any) -> TpmQuote:
            attest, signature = esys.quote(self._tpm.ak, pcr_select=selection, qualifying_data=extra_data,
                                           in_scheme=TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL))
            return TpmQuote(bytes(attest), signature.marshal())

        return self._tpm.run("TPM2_Quote", quote)

    def attestation_key(self, ak: AkTemplate = AkTemplate.TPM2_TOOLS) -> TpmAttestationKey:
        """The persistent AK of template ``ak`` (the default one created at provisioning, the Windows AIK on
        first use)."""
        self._live()

        def read(esys: Any) -> TpmAttestationKey:
            public, name, qualified_name = esys.read_public(self._tpm.attestation_handle(ak))
            area = public.publicArea.marshal()
            key = serialization.load_der_public_key(public.publicArea.to_der())
            assert isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
            handle = WINDOWS_AIK_HANDLE if ak is AkTemplate.WINDOWS else AK_HANDLE
            return TpmAttestationKey(handle, area, bytes(name), bytes(qualified_name), key)

        return self._tpm.run("TPM2_ReadPublic", read)

    def endorsement_chain(self) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
        """The RSA EK certificate (the AK's parent), the swtpm-localca intermediate and its root,
        leaf first, as swtpm_setup and swtpm_localca wrote them at provisioning."""
        self._live()
        if not (self.directory / "provisioned.json").is_file():
            self._tpm.run("provisioning", lambda esys: None)
        try:
            return (
                x509.load_der_x509_certificate((self.directory / "ek" / "ek-rsa2048.crt").read_bytes()),
                x509.load_pem_x509_certificate((self.directory / "localca" / "issuercert.pem").read_bytes()),
                x509.load_pem_x509_certificate(
                    (self.directory / "localca" / "swtpm-localca-rootca-cert.pem").read_bytes()
                ),
            )
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"the EK certificate chain in {self.directory} is unreadable: {exc}") from exc

    @staticmethod
    def _check_extra_data(extra_data: bytes) -> None:
        if len(extra_data) > _MAX_EXTRA_DATA:
            raise KeystoreError(
                f"extra_data is {len(extra_data)} bytes; a TPM2B_DATA holds at most {_MAX_EXTRA_DATA}"
            )

    def _sign(self, label: str, digest: bytes, scheme: TpmAlg, hash_alg: int) -> Any:
        """``TPM2_Sign`` of ``digest`` with the key ``label``; returns the TPMT_SIGNATURE object."""
        record = self._record(label)
        in_scheme = TPMT_SIG_SCHEME(scheme=scheme)
        in_scheme.details.any.hashAlg = hash_alg
        ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)

        def sign(esys: Any) -> Any:
            with self._tpm.loaded(record) as handle:
                return esys.sign(handle, digest, in_scheme, ticket)

        return self._tpm.run("TPM2_Sign", sign)

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop swtpm (if this store started it), release the lock, and remove a temporary
        state. Idempotent."""
        self._closed = True
        self._finalizer()

    def __enter__(self) -> SwtpmKeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def swtpm_pid(self) -> int | None:
        """The pid of the running swtpm, None when it is not running."""
        return self._tpm.pid

    def _live(self) -> None:
        if self._closed:
            raise KeystoreError("the swtpm key store is closed")


def _spec_text(spec: KeySpec) -> str:
    try:
        return spec.name
    except UnsupportedKeyError:
        return repr(spec)


def check_creatable(spec: KeySpec, policy: KeyPolicy, *, imported: bool) -> None:
    """Raise :class:`UnsupportedKeyError` when the backend cannot create (or, ``imported``, import) a key of ``spec``
    with ``policy``. Pure: callers run it before a store is opened, so a refused first creation stores nothing."""
    if _spec_text(spec) not in _TEMPLATES:
        made = "imports" if imported else "creates"
        raise UnsupportedKeyError(
            f"the swtpm backend {made} {', '.join(_TEMPLATES)} keys, not {_spec_text(spec)} "
            "(libtpms has no RSA-4096, Ed25519 or AES signing keys)"
        )
    _check_policy(policy, extractable=None if imported else False)


def _check_policy(policy: KeyPolicy, *, extractable: bool | None) -> None:
    """Raise when ``policy`` asks for what a TPM signing key of this backend cannot be."""
    wrong = [name for name, ok in (
        ("sensitive=False", policy.sensitive), ("sign=False", policy.sign),
        ("decrypt=True", not policy.decrypt), ("unwrap=True", not policy.unwrap),
        ("derive=True", not policy.derive), ("modifiable=True", not policy.modifiable),
        ("copyable=True", not policy.copyable),
        ("extractable=True", extractable is None or policy.extractable == extractable),
    ) if not ok]
    if wrong:
        raise UnsupportedKeyError(
            f"the swtpm backend makes only fixed-template signing keys; it cannot honour {', '.join(wrong)}"
        )


def _read_record(path: Path) -> _Record:
    """The key record ``path`` (a regular file of at most 64 KiB); raises :class:`KeystoreError` (one line) when it
    cannot be read or does not hold a key of this backend."""
    try:
        data = load_json_object(path, _RECORD_LIMIT)
    except BundleError as exc:
        raise KeystoreError(f"corrupt swtpm key record: {exc}") from None
    shown = escaped(str(path))
    label, order, created, public, private = (data.get(name) for name in ("label", "order", "created", "public",
                                                                           "private"))
    if not (isinstance(label, str) and type(order) is int and isinstance(created, str) and isinstance(public, str)
            and isinstance(private, str)):
        raise KeystoreError(f"corrupt swtpm key record {shown}: label, created, public and private must be "
                            "strings, order an integer")
    try:
        record = _Record(label=label, order=order, created=datetime.fromisoformat(created),
                         public=bytes.fromhex(public), private=bytes.fromhex(private))
        if record.created.utcoffset() is None:
            raise ValueError("created is a time without a UTC offset")
        _stored(record)
    except (ValueError, KeyError, TypeError, UnsupportedKeyError, TSS2_Exception) as exc:
        raise KeystoreError(f"corrupt swtpm key record {shown}: {escaped(str(exc))}") from exc
    return record


def _public_area(tpm2b_public: bytes) -> bytes:
    """The TPMT_PUBLIC inside a marshalled TPM2B_PUBLIC."""
    size = int.from_bytes(tpm2b_public[:2], "big")
    if size != len(tpm2b_public) - 2:
        raise ValueError("TPM2B_PUBLIC size does not match its content")
    return tpm2b_public[2:]


def _stored(record: _Record) -> StoredKey:
    """The :class:`StoredKey` of a record, every attribute derived from its TPMT_PUBLIC."""
    area = _public_area(record.public)
    public, _ = TPMT_PUBLIC.unmarshal(area)
    attributes = int(public.objectAttributes)
    key = serialization.load_der_public_key(public.to_der())
    spec: KeySpec
    if public.type == TPM2_ALG.RSA:
        spec = KeySpec(KeyType.RSA, int(public.parameters.rsaDetail.keyBits))
    elif public.type == TPM2_ALG.ECC and int(public.parameters.eccDetail.curveID) in _CURVES:
        spec = KeySpec(KeyType.EC, curve=_CURVES[int(public.parameters.eccDetail.curveID)])
    else:
        raise UnsupportedKeyError(f"key {record.label!r} has TPM type {int(public.type):#06x}")
    if public.nameAlg != TPM2_ALG.SHA256:
        raise UnsupportedKeyError(f"key {record.label!r} has nameAlg {int(public.nameAlg):#06x}, not SHA-256")
    fixed_tpm = bool(attributes & TpmaObject.FIXED_TPM)
    policy = KeyPolicy(
        sensitive=True, extractable=not fixed_tpm, sign=bool(attributes & TpmaObject.SIGN_ENCRYPT),
        decrypt=bool(attributes & TpmaObject.DECRYPT),
    )
    name = int(public.nameAlg).to_bytes(2, "big") + hashlib.sha256(area).digest()
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return StoredKey(
        spec=spec,
        attributes=build_attributes(spec, record.label, name, policy,
                                    local=bool(attributes & TpmaObject.SENSITIVE_DATA_ORIGIN)),
        public_key=key,
        created=record.created,
    )


def _stop_and_remove(tpm: _Swtpm, tempdir: Path | None) -> None:
    tpm.stop()
    if tempdir is not None:
        shutil.rmtree(tempdir, ignore_errors=True)


# -- the swtpm process and its ESAPI context ---------------------------------------------------

def setup_failure(root: Path, status: int, stdout: bytes, stderr: bytes, log: Path) -> str:
    """Why swtpm_setup failed on the state directory ``root``, in one line: a state that could not be written (a
    full file system, which its output only shows as a short NVRAM write) said so, else the first error line of
    its stderr and log (the cause; the last ones say that authoring failed), else its last line of output, else
    its exit status."""
    logged = peek_regular_file(log, _LOG_TAIL, from_end=True) or b""
    said = [line.strip() for part in (stderr[-_LOG_TAIL:], logged)
            for line in part.decode(errors="replace").splitlines() if line.strip()]
    try:
        free: int | None = shutil.disk_usage(root).free
    except OSError:
        free = None
    if any(_SHORT_WRITE in line for line in said) or (free is not None and free < _SETUP_MIN_FREE):
        room = f"{free:,} bytes free" if free is not None else "free space unknown"
        return (f"swtpm could not write the TPM state in {escaped(str(root))}: is its file system full or "
                f"read-only? ({room})")
    causes = [line for line in said if _SETUP_CAUSE.search(line)]
    if causes:
        return escaped(causes[0])
    last = [line.strip() for line in stdout[-_LOG_TAIL:].decode(errors="replace").splitlines() if line.strip()]
    return escaped((said or last)[-1]) if said or last else f"exit status {status}"


class _Swtpm:
    """One swtpm process on a state directory, started on demand, and the ESAPI context on it."""

    def __init__(self, root: Path, *, lock_timeout: float, op_timeout: float) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self.op_timeout = op_timeout
        self._mutex = threading.RLock()
        self._lock_fd: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._sockdir: Path | None = None
        self._esys: Any = None
        self._tcti: Any = None
        self.srk: Any = None
        self.ak: Any = None
        self.windows_aik: Any = None
        self._timed_out = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def run(self, what: str, operation: Callable[[Any], T]) -> T:
        """Run ``operation(esys)`` on the (started) TPM under a watchdog; errors become
        :class:`KeystoreError`."""
        with self._mutex:
            self._ensure_started()
            return self._guarded(what, operation)

    def _guarded(self, what: str, operation: Callable[[Any], T]) -> T:
        self._timed_out = False
        watchdog = threading.Timer(self.op_timeout, self._overrun)
        watchdog.daemon = True
        watchdog.start()
        try:
            return operation(self._esys)
        except TSS2_Exception as exc:
            if self._timed_out:
                self.stop()
                raise KeystoreError(
                    f"swtpm did not answer {what} within {self.op_timeout:g} s and was stopped"
                ) from exc
            if self._proc is not None and self._proc.poll() is not None:
                detail = self._log_tail()
                self.stop()
                raise KeystoreError(f"swtpm exited during {what}: {detail}") from exc
            raise KeystoreError(f"{what} failed: {exc}") from exc
        finally:
            watchdog.cancel()

    def _overrun(self) -> None:
        self._timed_out = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    @contextlib.contextmanager
    def loaded(self, record: _Record) -> Iterator[Any]:
        """The key of ``record`` loaded under the SRK, flushed on exit."""
        public, _ = TPM2B_PUBLIC.unmarshal(record.public)
        private, _ = TPM2B_PRIVATE.unmarshal(record.private)
        handle = self._esys.load(self.srk, private, public)
        try:
            yield handle
        finally:
            self._esys.flush_context(handle)

    def attestation_handle(self, ak: AkTemplate) -> Any:
        """The ESYS handle of the AK of template ``ak`` in the started TPM; the Windows AIK is created and
        persisted the first time (under the state's file lock: no other process runs this TPM meanwhile)."""
        if ak is AkTemplate.TPM2_TOOLS:
            return self.ak
        if self.windows_aik is None:
            esys = self._esys
            _, handles = esys.get_capability(TPM2_CAP.HANDLES, TPM2_HC.HR_PERSISTENT, 64)
            if WINDOWS_AIK_HANDLE not in set(handles.data.handles):
                template = TPM2B_PUBLIC.parse("rsa2048:rsassa-sha256:null", objectAttributes=AK_ATTRIBUTES)
                private, public, *_ = esys.create(self.srk, None, template)
                handle = esys.load(self.srk, private, public)
                try:
                    esys.evict_control(ESYS_TR.OWNER, handle, WINDOWS_AIK_HANDLE)
                finally:
                    esys.flush_context(handle)
            self.windows_aik = esys.tr_from_tpmpublic(WINDOWS_AIK_HANDLE)
        return self.windows_aik

    def srk_public(self) -> Any:
        """The SRK's TPMT_PUBLIC (to wrap imported keys for it)."""
        return self.run("TPM2_ReadPublic", lambda esys: esys.read_public(self.srk)[0].publicArea)

    # -- start ------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._esys is not None:
            if self._proc is not None and self._proc.poll() is None:
                return
            detail = self._log_tail()
            self.stop()
            raise KeystoreError(f"swtpm on {self.root} has exited: {detail}")
        self._lock()
        try:
            self._stop_left_behind()
            marker = self.root / "provisioned.json"
            if not marker.is_file():
                self._manufacture()
            self._spawn()
            self._guarded("TPM2_DictionaryAttackLockReset",
                          lambda esys: esys.dictionary_attack_lock_reset(ESYS_TR.LOCKOUT))
            if not marker.is_file():
                self._guarded("provisioning the SRK and AK", self._provision)
                write_atomic(marker, json.dumps({
                    "ek": f"{EK_HANDLE:#x}", "srk": f"{SRK_HANDLE:#x}", "ak": f"{AK_HANDLE:#x}",
                    "provisioned": datetime.now(UTC).replace(microsecond=0).isoformat(),
                }, indent=1).encode())
            self.srk, self.ak = self._guarded("finding the SRK and AK", lambda esys: (
                esys.tr_from_tpmpublic(SRK_HANDLE), esys.tr_from_tpmpublic(AK_HANDLE)))
        except OSError as exc:  # a state directory that is read-only or full
            self.stop()
            raise KeystoreError(f"cannot run swtpm on {escaped(str(self.root))}: {_os_error(exc)}") from exc
        except BaseException:
            self.stop()
            raise

    def _lock(self) -> None:
        try:
            fd = os.open(self.root / "swtpm.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise KeystoreError(f"cannot run swtpm on {escaped(str(self.root))}: {_os_error(exc)}") from exc
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise KeystoreError(
                        f"the swtpm state in {self.root} is in use by another process "
                        f"(waited {self.lock_timeout:g} s for {self.root / 'swtpm.lock'})"
                    ) from None
                time.sleep(0.05)
        self._lock_fd = fd

    def _stop_left_behind(self) -> None:
        """Stop a swtpm that a killed process left running on this state, and remove its socket
        directory (we hold the lock, so no live store uses either)."""
        try:
            left = load_json_object(self.root / "swtpm.pid", _PID_FILE_LIMIT)
            pid, sockets = int(left["pid"]), Path(str(left["sockets"]))  # type: ignore[call-overload]
        except (BundleError, ValueError, KeyError, TypeError):
            return
        if _is_swtpm_on(pid, self.root / "tpm"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        if sockets.name.startswith(_SOCKDIR_PREFIX) and sockets.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(sockets, ignore_errors=True)
        (self.root / "swtpm.pid").unlink(missing_ok=True)

    def _manufacture(self) -> None:
        """swtpm_setup: a fresh TPM with RSA and ECC EKs and their certificates from a private CA."""
        tpm, localca, ek = self.root / "tpm", self.root / "localca", self.root / "ek"
        for path in (tpm, ek):
            shutil.rmtree(path, ignore_errors=True)
        for path in (tpm, localca, ek):
            path.mkdir(parents=True, exist_ok=True)
        (localca / "localca.conf").write_text(
            f"statedir = {localca}\nsigningkey = {localca / 'signkey.pem'}\n"
            f"issuercert = {localca / 'issuercert.pem'}\ncertserial = {localca / 'certserial'}\n"
        )
        (localca / "localca.options").write_text("")
        (self.root / "setup.conf").write_text(
            f"create_certs_tool = {shutil.which('swtpm_localca')}\n"
            f"create_certs_tool_config = {localca / 'localca.conf'}\n"
            f"create_certs_tool_options = {localca / 'localca.options'}\n"
            "active_pcr_banks = sha256\n"
        )
        log = self.root / "swtpm_setup.log"
        log.unlink(missing_ok=True)
        cmd = ["swtpm_setup", "--tpm2", "--tpmstate", str(tpm), "--create-ek-cert",
               "--config", str(self.root / "setup.conf"), "--write-ek-cert-files", str(ek),
               "--logfile", str(log), "--overwrite"]
        timeout = max(self.op_timeout, _SETUP_TIMEOUT)
        try:  # its own session, so that a timeout also stops the swtpm that swtpm_setup runs
            setup = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        except OSError as exc:
            raise KeystoreError(f"swtpm_setup could not run: {exc}") from exc
        try:
            stdout, stderr = setup.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(setup.pid, signal.SIGKILL)
            setup.communicate()
            raise KeystoreError(f"swtpm_setup did not finish within {timeout:g} s") from exc
        if setup.returncode != 0:
            why = setup_failure(self.root, setup.returncode, stdout, stderr, log)
            raise KeystoreError(f"swtpm_setup failed: {why}")

    def _spawn(self) -> None:
        self._sockdir = Path(tempfile.mkdtemp(prefix=_SOCKDIR_PREFIX))  # 0700, short: AF_UNIX paths are limited
        sock = self._sockdir / "tpm.sock"
        cmd = ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.root / 'tpm'}",
               "--server", f"type=unixio,path={sock}", "--ctrl", f"type=unixio,path={sock}.ctrl",
               "--flags", "not-need-init,startup-clear"]
        with open(self.root / "swtpm.log", "wb") as log:
            try:
                self._proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent_hook(),
                )
            except OSError as exc:
                raise KeystoreError(f"cannot start swtpm: {exc}") from exc
        left = {"pid": self._proc.pid, "sockets": str(self._sockdir)}
        write_atomic(self.root / "swtpm.pid", json.dumps(left).encode())
        deadline = time.monotonic() + 10
        while not (sock.exists() and Path(f"{sock}.ctrl").exists()):
            if self._proc.poll() is not None:
                raise KeystoreError(f"swtpm exited at start: {self._log_tail()}")
            if time.monotonic() >= deadline:
                raise KeystoreError("swtpm did not open its socket within 10 s")
            time.sleep(0.005)
        os.environ.setdefault("TSS2_LOG", "all+NONE")
        while True:
            tcti = None
            try:
                tcti = TCTILdr("swtpm", f"path={sock}")
                self._esys = ESAPI(tcti)
            except TSS2_Exception as exc:
                if tcti is not None:
                    with contextlib.suppress(TSS2_Exception):
                        tcti.close()
                # swtpm creates a socket's file when it binds it, a moment before it listens: on a loaded
                # machine a connection in that moment is refused (tcti:IO failure), so try again until the deadline
                if self._proc.poll() is not None or time.monotonic() >= deadline:
                    raise KeystoreError(f"cannot reach swtpm through libtss2's swtpm TCTI: {exc}") from exc
                time.sleep(0.01)
            else:
                self._tcti = tcti
                return

    def _provision(self, esys: Any) -> None:
        """Persist the SRK (ECC P-256 storage primary) and the AK (child of the RSA EK)."""
        _, handles = esys.get_capability(TPM2_CAP.HANDLES, TPM2_HC.HR_PERSISTENT, 64)
        persistent = set(handles.data.handles)
        if SRK_HANDLE not in persistent:
            template = TPM2B_PUBLIC.parse(
                "ecc256:aes128cfb", objectAttributes=TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS)
            handle, *_ = esys.create_primary(None, template, ESYS_TR.OWNER)
            esys.evict_control(ESYS_TR.OWNER, handle, SRK_HANDLE)
            esys.flush_context(handle)
        if AK_HANDLE not in persistent:
            ek = esys.tr_from_tpmpublic(EK_HANDLE)
            template = TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256:null", objectAttributes=AK_ATTRIBUTES)
            with _endorsement_policy(esys) as session:
                private, public, *_ = esys.create(ek, None, template, session1=session)
            with _endorsement_policy(esys) as session:
                handle = esys.load(ek, private, public, session1=session)
            esys.evict_control(ESYS_TR.OWNER, handle, AK_HANDLE)
            esys.flush_context(handle)

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Shut the TPM down, stop swtpm, remove the socket directory and release the lock."""
        with self._mutex:
            proc, esys = self._proc, self._esys
            self._esys = self.srk = self.ak = self.windows_aik = None
            if esys is not None:
                if proc is not None and proc.poll() is None:
                    with contextlib.suppress(TSS2_Exception):
                        self._guarded_shutdown(esys)
                with contextlib.suppress(TSS2_Exception):
                    esys.close()
            self._tcti = None
            if proc is not None:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
                (self.root / "swtpm.pid").unlink(missing_ok=True)
                self._proc = None
            if self._sockdir is not None:
                shutil.rmtree(self._sockdir, ignore_errors=True)
                self._sockdir = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _guarded_shutdown(self, esys: Any) -> None:
        watchdog = threading.Timer(5, self._overrun)
        watchdog.daemon = True
        watchdog.start()
        try:
            esys.shutdown(TPM2_SU.CLEAR)
        finally:
            watchdog.cancel()

    def _log_tail(self) -> str:
        tail = peek_regular_file(self.root / "swtpm.log", _LOG_TAIL, from_end=True) or b""
        lines = tail.decode(errors="replace").strip().splitlines()
        meaningful = [line for line in lines if "client disconnected" not in line]
        return meaningful[-1] if meaningful else f"no message (see {self.root / 'swtpm.log'})"


def _is_swtpm_on(pid: int, state: Path) -> bool:
    """Whether process ``pid`` is a swtpm serving the TPM state directory ``state``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return Path(cmdline[0].decode(errors="replace")).name == "swtpm" and f"dir={state}".encode() in cmdline


@contextlib.contextmanager
def _endorsement_policy(esys: Any) -> Iterator[Any]:
    """A policy session satisfying the EK's policy (PolicySecret on the endorsement hierarchy)."""
    session = esys.start_auth_session(
        ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.POLICY, TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL), TPM2_ALG.SHA256
    )
    try:
        esys.policy_secret(ESYS_TR.ENDORSEMENT, session)
        yield session
    finally:
        with contextlib.suppress(TSS2_Exception):
            esys.flush_context(session)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn making the kernel SIGTERM swtpm when this process dies.

    Only from the main thread: PR_SET_PDEATHSIG fires when the *thread* that forked exits.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


# -- signer objects ----------------------------------------------------------------------------
def _tpm_hash(algorithm: hashes.HashAlgorithm) -> int:
    tpm_alg = HASH_ALGS.get(algorithm.name)
    if tpm_alg is None:
        raise UnsupportedKeyError(f"the TPM does not sign {algorithm.name} digests")
    return tpm_alg


def _digest(
    data: bytes | bytearray | memoryview, algorithm: asym_utils.Prehashed | hashes.HashAlgorithm,
) -> tuple[bytes, hashes.HashAlgorithm]:
    if isinstance(algorithm, asym_utils.Prehashed):
        if len(data) != algorithm.digest_size:
            raise ValueError("the prehashed digest has the wrong length")
        return bytes(data), algorithm._algorithm
    h = hashes.Hash(algorithm)
    h.update(bytes(data))
    return h.finalize(), algorithm


class _TpmKey(HeldKey):
    """Shared plumbing of the TPM-backed signers: the store."""

    where = "in the TPM"

    def __init__(self, store: SwtpmKeyStore, label: str, public: Any) -> None:
        super().__init__(label, public)
        self._store = store


class TpmRSAPrivateKey(_TpmKey, HeldRSAKey):
    """An RSA key in the TPM: PKCS#1 v1.5 (RSASSA) or PSS with salt = digest length (RSAPSS)."""

    def sign(
        self, data: bytes,
        padding: asym_padding.AsymmetricPadding,  # the ABC's keyword names: keep them
        algorithm: asym_utils.Prehashed | hashes.HashAlgorithm | asym_utils.NoDigestInfo,
    ) -> bytes:
        """The signature bytes from ``TPM2_Sign``; the TPM adds the DigestInfo / PSS encoding."""
        if isinstance(algorithm, asym_utils.NoDigestInfo):
            raise UnsupportedKeyError("the TPM signs digests with their DigestInfo; NoDigestInfo is not offered")
        digest, hash_alg = _digest(data, algorithm)
        if isinstance(padding, asym_padding.PKCS1v15):
            scheme = TpmAlg.RSASSA
        elif isinstance(padding, asym_padding.PSS):
            salt = padding._salt_length  # cryptography has no public accessor for it
            if not (salt is asym_padding.PSS.DIGEST_LENGTH or salt == hash_alg.digest_size):
                raise UnsupportedKeyError("the TPM signs PSS with a salt as long as the digest only")
            scheme = TpmAlg.RSAPSS
        else:
            raise UnsupportedKeyError(f"unsupported RSA signature padding {padding.name}")
        signature = self._store._sign(self._label, digest, scheme, _tpm_hash(hash_alg))
        field = signature.signature.rsapss if scheme is TpmAlg.RSAPSS else signature.signature.rsassa
        return bytes(field.sig)


class TpmECPrivateKey(_TpmKey, HeldECKey):
    """An EC key in the TPM; ``sign`` hashes in Python and returns DER like cryptography."""

    def sign(
        self, data: bytes | bytearray | memoryview, signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        """ECDSA by ``TPM2_Sign``; the TPM's r and s are returned as a DER ``Ecdsa-Sig-Value``.

        A request for deterministic (RFC 6979) ECDSA, which hsmsim's CSR builder makes so that
        soft-key output is reproducible, gets the TPM's randomised ECDSA: the TPM offers no
        RFC 6979 and its keys are random anyway, so nothing it signs is reproducible.
        """
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedKeyError(f"unsupported EC signature algorithm {signature_algorithm!r}")
        digest, hash_alg = _digest(data, signature_algorithm.algorithm)
        signature = self._store._sign(self._label, digest, TpmAlg.ECDSA, _tpm_hash(hash_alg))
        ecdsa = signature.signature.ecdsa
        return asym_utils.encode_dss_signature(
            int.from_bytes(bytes(ecdsa.signatureR), "big"), int.from_bytes(bytes(ecdsa.signatureS), "big")
        )


__all__ = [
    "AK_HANDLE", "EK_HANDLE", "IMPORTED_KEY_ATTRIBUTES", "SIGNING_KEY_ATTRIBUTES", "SRK_HANDLE", "WINDOWS_AIK_HANDLE",
    "SwtpmKeyStore", "TpmECPrivateKey", "TpmRSAPrivateKey",
    "swtpm_available",
]
