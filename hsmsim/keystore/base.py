"""The key store interface: key specs, PKCS#11 attributes, and the store protocol.

Every backend returns :class:`StoredKey` objects whose :class:`KeyAttributes` were
read back from where the key lives (for PKCS#11, from the token), never assumed.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hsmsim.errors import KeystoreError, UnsupportedKeyError

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


MAX_LABEL_BYTES = 64
"""The upper bound of an X.509 commonName (ub-common-name), which carries a key's label into certificates and
CSRs; counted, as cryptography counts it, in UTF-8 bytes."""
# Controls, lone surrogates (and undecodable bytes, which Python carries as surrogates), line/paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def label_problem(label: str, what: str = "a key label") -> str | None:
    """Why a device could not attest a key labelled ``label``, as a sentence about ``what``; None when it can.

    The label is the commonName of certificates and CSRs and sits in attestation XML and JSON, so it must be
    1 to :data:`MAX_LABEL_BYTES` UTF-8 bytes, not only spaces, with no control character, line separator, lone
    surrogate (an undecodable byte on the command line arrives as one) or Unicode noncharacter (U+FFFE, U+FFFF, ...).
    ``key create``, the server and a CSR's commonName share this rule.
    """
    if not label.strip():
        return f"{what} must not be empty"
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in label):
        return (f"{what} must not contain control characters, line separators, lone surrogates or bytes that are "
                "not UTF-8")
    if any(_is_noncharacter(char) for char in label):
        return f"{what} must not contain Unicode noncharacters (such as U+FFFE or U+FFFF)"
    size = len(label.encode())
    if size > MAX_LABEL_BYTES:
        return f"{what} must be at most {MAX_LABEL_BYTES} bytes in UTF-8 (an X.509 commonName's limit), not {size}"
    return None


class KeyType(enum.StrEnum):
    """PKCS#11 key types hsmsim models (CKK_*)."""

    RSA = "RSA"
    EC = "EC"
    EC_EDWARDS = "EC_EDWARDS"
    AES = "AES"


class KeyClass(enum.StrEnum):
    """PKCS#11 object classes of attested keys (CKO_*)."""

    PRIVATE_KEY = "PRIVATE_KEY"
    SECRET_KEY = "SECRET_KEY"


@dataclass(frozen=True)
class KeySpec:
    """What to generate: a key type and its size in bits or its curve name."""

    key_type: KeyType
    size: int | None = None
    curve: str | None = None

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """Parse ``rsa-3072``, ``ec-p256``, ``ec-p384``, ``ed25519``, ``aes-128`` or ``aes-256``.

        Raises :class:`UnsupportedKeyError` for anything else.
        """
        spec = _KEY_SPECS.get(text.strip().lower())
        if spec is None:
            raise UnsupportedKeyError(
                f"unsupported key spec {text!r}; choose one of {', '.join(_KEY_SPECS)}"
            )
        return spec

    @property
    def name(self) -> str:
        """The canonical spec string accepted by :meth:`parse`."""
        for name, spec in _KEY_SPECS.items():
            if spec == self:
                return name
        raise UnsupportedKeyError(f"unsupported key spec {self!r}")

    @property
    def known(self) -> bool:
        """Whether this is one of the specs :meth:`parse` accepts (a token can hold others: RSA-1024, secp256k1)."""
        return self in _KEY_SPECS.values()

    @staticmethod
    def names() -> tuple[str, ...]:
        """The spec strings :meth:`parse` accepts, in the order ``key create --help`` lists them."""
        return tuple(_KEY_SPECS)

    @property
    def key_class(self) -> KeyClass:
        """PRIVATE_KEY for asymmetric specs, SECRET_KEY for AES."""
        return KeyClass.SECRET_KEY if self.key_type is KeyType.AES else KeyClass.PRIVATE_KEY

    @property
    def bits(self) -> int:
        """Key size in bits (curve order size for EC)."""
        if self.key_type is KeyType.EC:
            return {"secp256r1": 256, "secp384r1": 384}[self.curve or ""]
        if self.key_type is KeyType.EC_EDWARDS:
            return 256
        assert self.size is not None
        return self.size


_KEY_SPECS: dict[str, KeySpec] = {
    "rsa-2048": KeySpec(KeyType.RSA, 2048),
    "rsa-3072": KeySpec(KeyType.RSA, 3072),
    "rsa-4096": KeySpec(KeyType.RSA, 4096),
    "ec-p256": KeySpec(KeyType.EC, curve="secp256r1"),
    "ec-p384": KeySpec(KeyType.EC, curve="secp384r1"),
    "ed25519": KeySpec(KeyType.EC_EDWARDS, curve="ed25519"),
    "aes-128": KeySpec(KeyType.AES, 128),
    "aes-256": KeySpec(KeyType.AES, 256),
}


@dataclass(frozen=True)
class KeyPolicy:
    """The security attributes requested at creation (CKA_SENSITIVE, CKA_EXTRACTABLE, usages)."""

    sensitive: bool = True
    extractable: bool = False
    sign: bool = True
    decrypt: bool = False
    unwrap: bool = False
    derive: bool = False
    modifiable: bool = False
    copyable: bool = False
    destroyable: bool = True


@dataclass(frozen=True)
class KeyAttributes:
    """The PKCS#11 attributes of a private or secret key, as read from its store.

    ``key_gen_mechanism`` is the CKM_* name (e.g. ``RSA_PKCS_KEY_PAIR_GEN``) or None when
    the key was imported (CK_UNAVAILABLE_INFORMATION).
    """

    key_class: KeyClass
    key_type: KeyType
    label: str
    id: bytes
    token: bool
    private: bool
    sensitive: bool
    always_sensitive: bool
    extractable: bool
    never_extractable: bool
    local: bool
    key_gen_mechanism: str | None
    sign: bool
    decrypt: bool
    unwrap: bool
    derive: bool
    modifiable: bool
    copyable: bool
    destroyable: bool
    modulus_bits: int | None = None
    ec_params: bytes | None = None
    value_len: int | None = None

    @property
    def generated_and_never_extractable(self) -> bool:
        """Whether the key was made where it lives (LOCAL) and never could leave it (not EXTRACTABLE, and
        NEVER_EXTRACTABLE: not extractable now nor at any time before): what evidence that carries no attributes (a
        YubiKey slot, Apple, FIDO and KeyMint attestation) states of every key it attests."""
        return self.local and not self.extractable and self.never_extractable

    @property
    def ever_extractable(self) -> bool:
        """Whether the key is extractable, or was at some time: a generated key whose NEVER_EXTRACTABLE is false (a
        key made extractable and changed since). An imported key's NEVER_EXTRACTABLE is false by PKCS#11 whatever
        became of it, so for one this is its EXTRACTABLE alone."""
        return self.extractable or (self.local and not self.never_extractable)


def creation_time(created: datetime | None) -> datetime:
    """The creation time a store records for a new key: ``created`` in UTC, or now (in whole seconds) when None.
    Raises :class:`KeystoreError` for a time without a UTC offset, which every store refuses when reading it back
    (it would be a different instant on another machine)."""
    if created is None:
        return datetime.now(UTC).replace(microsecond=0)
    if created.utcoffset() is None:
        raise KeystoreError(f"the creation time {created.isoformat()} has no UTC offset")
    return created.astimezone(UTC)


@dataclass(frozen=True)
class StoredKey:
    """A key held by a key store: its spec, its read-back attributes and its public half.

    ``public_key`` is None for secret keys. ``created`` is the store's creation time.
    """

    spec: KeySpec
    attributes: KeyAttributes
    public_key: PublicKey | None
    created: datetime
    check_value: bytes | None = None

    @property
    def label(self) -> str:
        """The key's CKA_LABEL."""
        return self.attributes.label


class TpmCertification(NamedTuple):
    """What ``TPM2_Certify`` returned: the signed TPMS_ATTEST, the AK's TPMT_SIGNATURE over it,
    and the certified key's TPMT_PUBLIC (all marshalled, without TPM2B size prefixes)."""

    attest: bytes
    signature: bytes
    public: bytes


class TpmQuote(NamedTuple):
    """What ``TPM2_Quote`` returned: the signed TPMS_ATTEST (type QUOTE) and the AK's TPMT_SIGNATURE over it (both
    marshalled, without TPM2B size prefixes)."""

    attest: bytes
    signature: bytes


class AkTemplate(enum.Enum):
    """Which of a real TPM's attestation keys signs: the TPM holds one AK per template."""

    TPM2_TOOLS = "tpm2-tools"
    """ECC P-256, ECDSA/SHA-256, a child of the EK (what ``tpm2_createak`` makes): the AK of ``webauthn``,
    ``tpm-acme`` and ``parsec-tpm``."""
    WINDOWS = "windows"
    """RSA-2048, RSASSA/SHA-256, a child of the SRK (the storage hierarchy, so the TPM obfuscates the counters
    and firmwareVersion of what it signs): a Windows AIK, the AK of ``ms-kast``."""


@dataclass(frozen=True)
class TpmAttestationKey:
    """A TPM's attestation key (AK): its handle, TPMT_PUBLIC, TPM Name, qualified name (what
    TPMS_ATTEST's qualifiedSigner holds) and public key."""

    handle: int
    public_area: bytes
    name: bytes
    qualified_name: bytes
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class TpmCertifier(Protocol):
    """A key store whose keys live in a real TPM, which certifies them with its own AK."""

    def public_area(self, label: str) -> bytes:
        """The TPMT_PUBLIC (marshalled, no size prefix) the TPM holds for the key ``label``."""
        ...

    def certify(self, label: str, extra_data: bytes, ak: AkTemplate = AkTemplate.TPM2_TOOLS) -> TpmCertification:
        """``TPM2_Certify`` of the key ``label`` by the AK of template ``ak``, with ``extra_data`` as
        qualifyingData."""
        ...

    def quote(self, pcr_selection: bytes, extra_data: bytes) -> TpmQuote:
        """``TPM2_Quote`` by the AK of the PCRs ``pcr_selection`` (a marshalled TPML_PCR_SELECTION), with
        ``extra_data`` as qualifyingData."""
        ...

    def attestation_key(self, ak: AkTemplate = AkTemplate.TPM2_TOOLS) -> TpmAttestationKey:
        """The AK of template ``ak``: the default one is what :meth:`quote` signs with."""
        ...

    def endorsement_chain(self) -> tuple[x509.Certificate, ...]:
        """The EK certificate (the default AK's parent) and its issuers, leaf first."""
        ...


class KeyStore(Protocol):
    """Where keys live. Backends: ``soft`` (in-process), ``pkcs11`` (a real token), ``swtpm`` (a software TPM)."""

    backend: str

    @property
    def tpm(self) -> TpmCertifier | None:
        """The TPM that holds this store's keys and certifies them, None when the keys are not in a TPM."""
        ...

    def generate(
        self, spec: KeySpec, label: str, *, policy: KeyPolicy = KeyPolicy(),
        created: datetime | None = None,
    ) -> StoredKey:
        """Generate a key inside the store; the returned attributes say LOCAL=true."""
        ...

    def import_key(
        self, material: PrivateKey | bytes, label: str, *, policy: KeyPolicy = KeyPolicy(),
        created: datetime | None = None,
    ) -> StoredKey:
        """Import key material made elsewhere; the returned attributes say LOCAL=false,
        NEVER_EXTRACTABLE=false and ALWAYS_SENSITIVE=false, as a real token reports."""
        ...

    def get(self, label: str) -> StoredKey:
        """The key with this label; raises :class:`KeyNotFoundError`."""
        ...

    def all_keys(self) -> list[StoredKey]:
        """Every key in the store, in creation order."""
        ...

    def signer(self, key: StoredKey) -> PrivateKey:
        """A cryptography private-key object that signs with ``key`` where it lives.

        For the pkcs11 backend the key never leaves the token; the object still works
        with cryptography's CSR and certificate builders.
        """
        ...

    def close(self) -> None:
        """Release sessions and handles."""
        ...
