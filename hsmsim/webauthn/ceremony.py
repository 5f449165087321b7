"""One WebAuthn registration ceremony, rendered to the relying party's record.

A :class:`Ceremony` holds every input of a registration except the attestation statement:
authenticator data for the credential, clientDataJSON, and what the relying party expected.
:meth:`Ceremony.render` asks a statement producer for the attStmt over ``authData ‖ clientDataHash``
and encodes the attestation object. The ``webauthn`` generator renders a ceremony as built; a vector
catalogue edits one field of a golden ceremony first, so a golden vector is byte for byte what
``generate`` writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import AttestationRequest, bytes_parameter, flag_parameter
from hsmsim.errors import ParameterError
from hsmsim.keystore.base import PublicKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.seed import drbg
from hsmsim.webauthn.container import (
    FLAG_AT,
    FLAG_UP,
    FLAG_UV,
    AttestedCredential,
    AuthenticatorData,
    Registration,
    cbor_encode,
    client_data_json,
    cose_alg_for,
    cose_key,
    from_b64url,
    rp_id_hash,
)
from hsmsim.webauthn.limits import RECORD_SUFFIX as RECORD_SUFFIX  # re-exported: the record's name
from hsmsim.webauthn.statements import ProducedStatement

DEFAULT_RP_ID = "hsmsim.example"
FORMAT_NAME = "webauthn"


def root_file(fmt: str) -> str:
    """The file beside a record holding the roots of statement ``fmt`` (e.g. ``tpm_root_ca.pem``)."""
    return f"{fmt}_root_ca.pem"


def roots_pem(roots: tuple[x509.Certificate, ...]) -> bytes:
    """The roots as concatenated PEM."""
    return b"".join(root.public_bytes(Encoding.PEM) for root in roots)


StatementProducer = Callable[[bytes, bytes], Mapping[str, object]]
"""``(authData, clientDataHash) -> attStmt``."""


@dataclass(kw_only=True)
class Ceremony:
    """One registration before rendering. Fields left ``None`` take their genuine value.

    ``auth_data_edit`` runs on the authData bytes before the statement signs them; ``object_edit`` on the
    encoded attestation object, after.
    """

    fmt: str
    label: str
    challenge: bytes
    credential_id: bytes
    credential_key: PublicKey
    aaguid: bytes
    rp_id: str = DEFAULT_RP_ID
    origin: str | None = None
    flags: int = FLAG_UP | FLAG_UV | FLAG_AT
    sign_count: int = 0
    credential_alg: int | None = None
    client_data: bytes | None = None
    expected_challenge: bytes | None = None
    expected_origin: str | None = None
    expected_rp_id: str | None = None
    raw_id: bytes | None = None
    transports: tuple[str, ...] = ("internal",)
    attachment: str = "platform"
    auth_data_edit: Callable[[bytes], bytes] | None = None
    object_edit: Callable[[bytes], bytes] | None = None

    @property
    def genuine_origin(self) -> str:
        """The origin the browser reports: ``origin``, or ``https://<rp_id>``."""
        return self.origin if self.origin is not None else f"https://{self.rp_id}"

    def auth_data(self) -> bytes:
        """authenticatorData with the attested credential (then ``auth_data_edit``)."""
        key = self.credential_key
        alg = self.credential_alg if self.credential_alg is not None else cose_alg_for(key)
        credential = AttestedCredential(self.aaguid, self.credential_id, cbor_encode(cose_key(key, alg)))
        data = AuthenticatorData(rp_id_hash(self.rp_id), self.flags, self.sign_count, credential).marshal()
        return self.auth_data_edit(data) if self.auth_data_edit else data

    def client_data_json(self) -> bytes:
        """clientDataJSON for the challenge and origin, unless overridden."""
        if self.client_data is not None:
            return self.client_data
        return client_data_json(self.challenge, self.genuine_origin)

    def render(self, statement: StatementProducer) -> Registration:
        """The relying party's record, its attStmt from ``statement(authData, clientDataHash)``."""
        auth_data = self.auth_data()
        client_data = self.client_data_json()
        att_stmt = statement(auth_data, hashlib.sha256(client_data).digest())
        encoded = cbor_encode({"fmt": self.fmt, "attStmt": att_stmt, "authData": auth_data})
        if self.object_edit:
            encoded = self.object_edit(encoded)
        return Registration(
            credential_id=self.credential_id, client_data_json=client_data, attestation_object=encoded,
            expected_challenge=self.expected_challenge if self.expected_challenge is not None else self.challenge,
            expected_origin=self.expected_origin if self.expected_origin is not None else self.genuine_origin,
            expected_rp_id=self.expected_rp_id if self.expected_rp_id is not None else self.rp_id,
            raw_id=self.raw_id, transports=self.transports, attachment=self.attachment)

    def produce_evidence(self, produce: Callable[[bytes, bytes], ProducedStatement]) -> Evidence:
        """The record with the attStmt ``produce(authData, clientDataHash)`` returns, its roots beside it as
        ``<fmt>_root_ca.pem`` (when it has any) and its further files."""
        produced: list[ProducedStatement] = []

        def statement(auth_data: bytes, client_data_hash: bytes) -> Mapping[str, object]:
            produced.append(produce(auth_data, client_data_hash))
            return produced[0].att_stmt

        registration = self.render(statement)
        roots = {root_file(self.fmt): roots_pem(produced[0].roots)} if produced[0].roots else {}
        return self.evidence(registration, {**roots, **produced[0].files})

    def evidence(self, registration: Registration, beside: Mapping[str, bytes]) -> Evidence:
        """The ``webauthn`` evidence: the record ``<label>.webauthn.json`` and the files ``beside`` it."""
        record = f"{safe_file_stem(self.label)}{RECORD_SUFFIX}"
        return Evidence(FORMAT_NAME, {record: registration.to_json(), **beside}, record)


def _challenge(parameters: Mapping[str, object], seed: str, label: str, at: datetime) -> bytes:
    given = bytes_parameter(parameters, "challenge", lambda text: from_b64url(text, "parameter challenge"),
                            "bytes or canonical base64url text")
    return given if given is not None else drbg(seed, f"webauthn/challenge/{label}/{at:%Y%m%dT%H%M%S}").read(32)


@dataclass(frozen=True)
class AuthenticatorShape:
    """What the authenticator emitting a statement format writes around the statement, as the real registrations
    of ``docs/formats/webauthn.md`` show it (Windows Hello's by default)."""

    credential_id_bytes: int = 32
    eddsa_credential_id_bytes: int | None = None
    """The credential id length of an Ed25519 credential, when it differs."""
    global_counter: bool = False
    """A signature counter shared by every credential (a YubiKey's): a fresh registration carries the signatures
    made so far, a small non-zero count. Otherwise 0, as TPMs, Apple, Android and a U2F registration (its counter
    written by the client) have it."""
    transports: tuple[str, ...] = ("internal",)
    attachment: str = "platform"


YUBIKEY_5_NFC = AuthenticatorShape(credential_id_bytes=64, eddsa_credential_id_bytes=128, global_counter=True,
                                   transports=("nfc", "usb"), attachment="cross-platform")
"""A YubiKey 5 NFC's CTAP2 registration (py_webauthn's and python-fido2's packed samples: 64-byte ids for ES256,
128 for the 5Ci's EdDSA credential; counters 2 to 52; transports nfc and usb)."""
AUTHENTICATOR_SHAPES = {
    "packed": YUBIKEY_5_NFC,
    "fido-u2f": replace(YUBIKEY_5_NFC, global_counter=False),
    "apple": AuthenticatorShape(credential_id_bytes=20),
}
"""The shape of each statement format's authenticator: the YubiKey for ``packed`` and ``fido-u2f`` (whose 64-byte
key handle and zero counter py_webauthn's YubiKey U2F sample has), an Apple passkey's 20-byte id; the default
for every other."""


def credential_id_length(fmt: str, key: PublicKey) -> int:
    """The length of the credential id the authenticator of ``fmt`` writes for ``key``."""
    shape = AUTHENTICATOR_SHAPES.get(fmt, AuthenticatorShape())
    if shape.eddsa_credential_id_bytes is not None and isinstance(key, ed25519.Ed25519PublicKey):
        return shape.eddsa_credential_id_bytes
    return shape.credential_id_bytes


def ceremony_for(request: AttestationRequest, fmt: str, aaguid: bytes, credential_key: PublicKey) -> Ceremony:
    """The registration of the request's key as a browser and authenticator run it. Parameters: ``challenge``
    (bytes or base64url; default derived from the seed, label and time), ``rp_id``, ``origin`` (default
    ``https://<rp_id>``), ``user_verified`` (default true, but false for ``fido-u2f``, whose CTAP1 authenticators
    cannot verify the user: true is refused there; :func:`hsmsim.device.flag_parameter`).
    The credential id and signature counter are derived from the seed, as long and as counted as the statement's
    authenticator writes them, its transports and attachment as the client reports them
    (:data:`AUTHENTICATOR_SHAPES`)."""
    params = request.parameters
    device, label = request.device, request.key.label
    rp_id = str(params.get("rp_id", DEFAULT_RP_ID))
    u2f = fmt == "fido-u2f"
    verified = flag_parameter(params, "user_verified", not u2f)
    if u2f and verified:
        raise ParameterError("parameter user_verified must be false for fido-u2f: a U2F (CTAP1) authenticator "
                             "cannot verify the user")
    shape = AUTHENTICATOR_SHAPES.get(fmt, AuthenticatorShape())
    counter = drbg(device.seed, f"webauthn/{device.serial}/counter/{label}").read(1)[0] % 64 + 1
    return Ceremony(
        fmt=fmt, label=label, challenge=_challenge(params, device.seed, label, request.at),
        credential_id=drbg(device.seed, f"webauthn/{device.serial}/credential/{label}").read(
            credential_id_length(fmt, credential_key)),
        credential_key=credential_key, aaguid=aaguid, rp_id=rp_id, origin=str(params.get("origin", f"https://{rp_id}")),
        flags=FLAG_UP | FLAG_AT | (FLAG_UV if verified else 0), sign_count=counter if shape.global_counter else 0,
        transports=shape.transports, attachment=shape.attachment)


class StatementDraft(Protocol):
    """A statement under construction: what a vector catalogue edits before rendering."""

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        """The emulated roots shipped beside the record."""
        ...

    def render(self, auth_data: bytes, client_data_hash: bytes) -> dict[str, object]:
        """The attStmt over ``auth_data ‖ client_data_hash``."""
        ...


Kit = TypeVar("Kit")
Draft = TypeVar("Draft", bound=StatementDraft)


@dataclass
class Workbench(Generic[Kit, Draft]):
    """A golden registration opened for one mutation: the seeded world, the ceremony and the statement draft."""

    kit: Kit
    ceremony: Ceremony
    draft: Draft

    def evidence(self) -> Evidence:
        """The rendered record and the roots beside it."""
        draft = self.draft
        return self.ceremony.produce_evidence(
            lambda auth_data, client_data_hash: ProducedStatement(draft.render(auth_data, client_data_hash),
                                                                  draft.roots))


def set_draft(**changes: object) -> Callable[[Workbench[Any, Any]], None]:
    """A catalogue operator setting fields of the workbench's statement draft."""
    def apply(bench: Workbench[Any, Any]) -> None:
        for field_name, value in changes.items():
            setattr(bench.draft, field_name, value)
    return apply
