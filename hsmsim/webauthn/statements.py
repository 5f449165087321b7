"""The WebAuthn attestation-statement formats: one object per ``fmt`` identifier (the IANA WebAuthn
registry: ``tpm``, ``packed``, ``fido-u2f``, ``android-key``, ``apple``, ``none``), registered by the
family that owns it.

The ``webauthn`` format (and ACME ``device-attest-01``, whose attestation object carries the same
``fmt``/``attStmt``) runs the relying-party checks itself and hands the statement to
``statement_format(obj.fmt)``. A family registers its statements from its ``__init__`` (deferred, so that
importing the family imports no statement verifier: :func:`register_deferred_statement`); the format
registry imports every family before it answers a lookup, so a caller reached through
:func:`hsmsim.formats.get_format` finds every statement here.

Trust: every statement verifier chains to the anchors in ``trust.get("root")`` (all roots the user passed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptography import x509

from hsmsim.device import AttestationRequest, Device
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.verdict import Profile, Reason, Rejected


@dataclass(frozen=True)
class SignedData:
    """What an attestation statement signs and vouches for."""

    auth_data: bytes
    """The raw authenticatorData."""
    client_data_hash: bytes
    """SHA-256(clientDataJSON)."""
    credential_key: PublicKey
    """The attested credential public key (from authData's COSE_Key)."""
    aaguid: bytes
    """The 16-byte AAGUID from authData."""
    credential_id: bytes = b""
    """authData's credentialId (fido-u2f signs it)."""
    rp_id_hash: bytes = b""
    """authData's rpIdHash (fido-u2f signs it)."""
    credential_alg: int = 0
    """The COSE alg of the credential key as authData announces it (packed self attestation must match it)."""


@dataclass(frozen=True)
class ProducedStatement:
    """An attStmt as an authenticator emits it, and the emulated roots shipped beside the record."""

    att_stmt: dict[str, object]
    roots: tuple[x509.Certificate, ...]
    """The verifier's anchors: written beside the record as ``<fmt>_root_ca.pem``."""
    files: Mapping[str, bytes] = field(default_factory=dict)
    """Further files beside the record (a real TPM's EK chain), by file name."""


class StatementFormat(Protocol):
    """One WebAuthn attestation statement format: what an authenticator emits, and its verification procedure."""

    name: str
    """The WebAuthn ``fmt`` identifier."""

    def aaguid(self, request: AttestationRequest) -> bytes:
        """The 16-byte AAGUID the authenticator puts into authData."""
        ...

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """Every emulated PKI this statement from ``device`` may chain to, the default one first (named ``""``),
        others named after the parameter values that choose them; none when nothing vouches (``none``)."""
        ...

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """The attStmt over ``auth_data ‖ client_data_hash`` for the request's key; raises UnsupportedKeyError."""
        ...

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """The statement's verification procedure; raises Rejected on bad evidence.

        Returns the keyword arguments of :class:`hsmsim.verdict.Claims` for the attested key, and
        ``detail``: the accepting verdict's text.
        """
        ...


Provisioner = Callable[[Device, str, tuple[str, PrivateKey, datetime] | None], AttestationIdentity]
"""A statement's attestation identity for a device partition (see :func:`register_statement`)."""


class StatementVectors(Protocol):
    """A family's ``webauthn`` vectors for the statement formats it owns (goldens and named defects)."""

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """``webauthn`` registrations derived from ``seed`` only."""
        ...

    def vector_notes(self) -> dict[str, FlagNote]:
        """The definition of every flag those vectors use."""
        ...


@dataclass(frozen=True)
class CatalogueVectors:
    """:class:`StatementVectors` from a catalogue's two functions."""

    cases: Callable[[str], list[VectorCase]]
    notes: Callable[[], dict[str, FlagNote]]

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """``cases(seed)``."""
        return self.cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """``notes()``."""
        return self.notes()


@dataclass(frozen=True)
class FidoAuthenticator:
    """A security-key model's FIDO attestation PKI: what ``packed`` full attestation and ``fido-u2f`` sign with.

    ``issuer_key`` signed ``certificate``, so a vector catalogue can re-issue it with one defect.
    """

    model: str
    aaguid: bytes
    key: PrivateKey
    """The (batch) attestation key."""
    certificate: x509.Certificate
    """The attestation certificate (the FIDO packed profile; a security key sends it for fido-u2f too)."""
    chain: tuple[x509.Certificate, ...]
    """Certificates between the attestation certificate and the root, nearest first."""
    issuer_key: PrivateKey
    root: x509.Certificate


AuthenticatorSource = Callable[[str], FidoAuthenticator]
"""Device seed -> the authenticator's emulated PKI (deterministic)."""


_STATEMENTS: dict[str, StatementFormat] = {}
_DEFERRED: dict[str, Callable[[], StatementFormat]] = {}
_AUTHENTICATORS: dict[str, AuthenticatorSource] = {}
_PROVISIONERS: dict[str, Provisioner] = {}
_VECTORS: dict[str, StatementVectors] = {}


def register_statement(fmt: StatementFormat, *, provision: Provisioner | None = None,
                       vectors: StatementVectors | None = None) -> None:
    """Add ``fmt`` under ``fmt.name``; a second statement with the same name is an error.

    ``provision`` gives the identity ``AttestationRequest.attesting`` carries when this statement is the
    ``webauthn`` format's default; ``vectors`` adds the family's vectors to the ``webauthn`` catalogue.
    """
    if fmt.name in _DEFERRED or (fmt.name in _STATEMENTS and _STATEMENTS[fmt.name] is not fmt):
        raise ValueError(f"attestation statement format {fmt.name!r} is already registered")
    _STATEMENTS[fmt.name] = fmt
    if provision is not None:
        _PROVISIONERS[fmt.name] = provision
    if vectors is not None:
        _VECTORS[fmt.name] = vectors


def register_deferred_statement(name: str, load: Callable[[], StatementFormat], *,
                                provision: Provisioner | None = None,
                                vectors: StatementVectors | None = None) -> None:
    """Add the statement ``name``, whose format ``load()`` gives on its first lookup: a family's ``__init__``
    registers its statement so without importing its generator and verifier (which ``load`` imports). As
    :func:`register_statement` otherwise; ``load()`` must give a format named ``name``."""
    if name in _STATEMENTS or _DEFERRED.get(name, load) is not load:
        raise ValueError(f"attestation statement format {name!r} is already registered")
    _DEFERRED[name] = load
    if provision is not None:
        _PROVISIONERS[name] = provision
    if vectors is not None:
        _VECTORS[name] = vectors


def statement_format(name: str) -> StatementFormat:
    """The registered statement format ``name`` (a deferred one imported now); raises Rejected(UNSUPPORTED) for an
    unknown fmt."""
    if name not in _STATEMENTS and name in _DEFERRED:
        fmt = _DEFERRED[name]()
        if fmt.name != name:
            raise ValueError(f"the statement format registered as {name!r} is named {fmt.name!r}")
        _STATEMENTS[name] = fmt
    try:
        return _STATEMENTS[name]
    except KeyError:
        raise Rejected(Reason.UNSUPPORTED, f"attestation statement format {name[:30]!r} is not supported") from None


def statement_names() -> tuple[str, ...]:
    """Every registered ``fmt`` (deferred ones too), sorted."""
    return tuple(sorted({*_STATEMENTS, *_DEFERRED}))


def statement_provisioner(name: str) -> Provisioner:
    """The provisioner registered with statement ``name``; raises KeyError when it has none."""
    return _PROVISIONERS[name]


def statement_vectors() -> tuple[tuple[str, StatementVectors], ...]:
    """``(fmt, vector source)`` of every statement registered with one, in ``fmt`` order."""
    return tuple((name, _VECTORS[name]) for name in sorted(_VECTORS))


def register_authenticator(name: str, source: AuthenticatorSource) -> None:
    """Add a security-key model's FIDO PKI (a vendor family registers its own)."""
    _AUTHENTICATORS[name] = source


def fido_authenticator(name: str, seed: str) -> FidoAuthenticator:
    """The FIDO PKI of the model ``name`` for ``seed``; raises KeyError for an unknown model."""
    return _AUTHENTICATORS[name](seed)


def authenticator_names() -> tuple[str, ...]:
    """Every registered security-key model, sorted."""
    return tuple(sorted(_AUTHENTICATORS))
