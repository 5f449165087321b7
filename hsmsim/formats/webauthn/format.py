"""The ``webauthn`` format: a WebAuthn registration as the relying party records it, with whichever
attestation statement the authenticator chose (``tpm``, ``packed``, ``fido-u2f``, ``android-key``, ...).

On disk (``docs/formats/webauthn.md``) a registration is the relying party's record
``<label>.webauthn.json``: what the RP expected (challenge, origin, RP ID) and the browser's
PublicKeyCredential JSON with base64url ``clientDataJSON`` and ``attestationObject``; the statement's
emulated roots come beside it as ``<fmt>_root_ca.pem``.

The reference verifier runs the relying-party steps of WebAuthn §7.1 (clientData type, challenge,
origin; rpIdHash; UP; BS without BE; attested credential data; credential id), then hands the attStmt
to the statement format named by ``fmt`` (:mod:`hsmsim.webauthn.statements`), whose procedure chains to
the roots given. ``none`` is rejected: nothing vouches for the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from hsmsim.device import AttestationRequest, Device, record_within
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import names
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.safeio import ReadBudget, is_json_record, read_regular_file
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.ceremony import RECORD_SUFFIX, ceremony_for
from hsmsim.webauthn.container import (
    FLAG_BE,
    FLAG_BS,
    FLAG_UP,
    MAX_ATTESTATION_OBJECT,
    AttestationObject,
    AuthenticatorData,
    Registration,
    cbor_decode,
    parse_client_data,
    parse_cose_key,
    rp_id_hash,
)
from hsmsim.webauthn.statements import (
    SignedData,
    StatementVectors,
    statement_format,
    statement_names,
    statement_provisioner,
    statement_vectors,
)

MAX_RECORD_BYTES = 2 * MAX_ATTESTATION_OBJECT
DEFAULT_STATEMENT = "tpm"
"""The statement ``generate`` emits without a ``fmt`` parameter, and whose identity ``provision`` gives."""
KEY_SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384", "ed25519")
"""The union of what the statements attest (each statement refuses what its authenticator cannot hold)."""


def signed_data(record: Registration) -> tuple[AttestationObject, SignedData]:
    """WebAuthn §7.1 relying-party steps 5-21 over ``record`` (steps 10-11: no crossOrigin true, no topOrigin, as the
    record expects no framing); the attestation object and what its statement signs. Raises Rejected (MALFORMED,
    CHALLENGE_MISMATCH, RELYING_PARTY_MISMATCH, ATTR_MISSING, ATTR_CONFLICT)."""
    client = parse_client_data(record.client_data_json)
    if client.type != "webauthn.create":
        raise Rejected(Reason.MALFORMED, f"clientData.type is {client.type[:30]!r}, not 'webauthn.create'")
    if client.challenge != record.expected_challenge:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "clientData.challenge is not the challenge the relying party sent")
    if client.origin != record.expected_origin:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"clientData.origin {client.origin[:60]!r} is not "
                                                      f"{record.expected_origin[:60]!r}")
    # §7.1 steps 10-11: the record names the one origin the relying party serves and no page it expects to be framed
    # in, so a registration made in a cross-origin iframe is not one it expected.
    if client.cross_origin:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, "clientData.crossOrigin is true: the relying party does not "
                                                      "expect to be framed by another origin")
    if client.top_origin is not None:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"clientData.topOrigin {client.top_origin[:60]!r} is present: "
                                                      "the relying party expects no top origin")
    obj = AttestationObject.decode(record.attestation_object)
    auth = AuthenticatorData.parse(obj.auth_data)
    if auth.rp_id_hash != rp_id_hash(record.expected_rp_id):
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"authData.rpIdHash is not SHA-256({record.expected_rp_id!r})")
    if not auth.flags & FLAG_UP:
        raise Rejected(Reason.ATTR_MISSING, "authData flags lack UP (user present)")
    if auth.flags & FLAG_BS and not auth.flags & FLAG_BE:
        raise Rejected(Reason.MALFORMED, "authData flags set BS (backed up) without BE (backup eligible)")
    if auth.credential is None:
        raise Rejected(Reason.MALFORMED, "authData carries no attested credential data (AT flag clear)")
    if auth.credential.credential_id != record.credential_id or record.raw_id not in (None, record.credential_id):
        raise Rejected(Reason.ATTR_CONFLICT, "credential id and rawId differ from authData's credentialId")
    cose = cbor_decode(auth.credential.public_key_cbor, "credentialPublicKey")
    credential_key = parse_cose_key(cose)
    return obj, SignedData(
        auth_data=obj.auth_data, client_data_hash=hashlib.sha256(record.client_data_json).digest(),
        credential_key=credential_key, aaguid=auth.credential.aaguid, credential_id=auth.credential.credential_id,
        rp_id_hash=auth.rp_id_hash, credential_alg=cose[3])


def verify_registration(record: Registration, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """The relying-party checks, then the statement of ``fmt``; raises Rejected."""
    obj, signed = signed_data(record)
    names()  # the format registry imports every family, so every statement is registered
    claims = dict(statement_format(obj.fmt).verify(obj.att_stmt, signed, trust, at=at, profile=profile))
    detail = str(claims.pop("detail", f"{obj.fmt} attestation verified"))
    return Verdict(Reason.OK, detail, Claims(**claims))  # type: ignore[arg-type]


def _is_record(path: Path) -> bool:
    """A ``*.webauthn.json`` file, or a ``.json`` record whose credential response holds an attestationObject."""
    return is_json_record(path, RECORD_SUFFIX, (b'"attestationObject"', b'"expectedRpId"'), MAX_RECORD_BYTES)


class WebAuthnFormat:
    """The ``webauthn`` format: a WebAuthn registration with any registered attestation statement."""

    name = "webauthn"
    title = "WebAuthn registration"
    key_specs: tuple[str, ...] = KEY_SPECS
    layout = BundleLayout((f"*{RECORD_SUFFIX}",), _is_record)
    """The record ``<label>.webauthn.json``; the statement's root copies beside it are not evidence."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The default statement's attestation identity (the TPM's AK); other statements bring their own."""
        names()
        return statement_provisioner(DEFAULT_STATEMENT)(device, partition, attesting)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """Every statement's PKIs, the default statement's first: its default one named ``""`` (the identity
        :meth:`provision` gives), each other named after its ``fmt`` (``tpm-ecdsa-p384``, ``packed``, ``apple``)."""
        names()
        exports: list[PkiExport] = []
        for fmt in sorted(statement_names(), key=lambda name: (name != DEFAULT_STATEMENT, name)):
            for index, export in enumerate(statement_format(fmt).pki_exports(device)):
                exports.append(export if fmt == DEFAULT_STATEMENT and index == 0 else export.within(fmt))
        return tuple(exports)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The relying party's record of a registration of the request's key. Parameters: ``fmt`` (default
        ``tpm``), the ceremony's (:func:`hsmsim.webauthn.ceremony.ceremony_for`) and the statement's own."""
        fmt = str(request.parameters.get("fmt", DEFAULT_STATEMENT))
        names()
        try:
            statement = statement_format(fmt)
        except Rejected:
            raise ParameterError.invalid("fmt", f"one of {', '.join(statement_names())}",
                                         request.parameters.get("fmt")) from None
        if request.key.public_key is None:
            raise UnsupportedKeyError("a WebAuthn credential is an asymmetric key")
        ceremony = ceremony_for(request, fmt, statement.aaguid(request), request.key.public_key)
        return record_within(ceremony.produce_evidence(lambda auth_data, client_data_hash: statement.produce(
            request, auth_data, client_data_hash)), MAX_RECORD_BYTES)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """The relying-party and statement checks; bad evidence becomes a Verdict, never an exception."""
        try:
            profile = Profile(profile)
            record = Registration.parse(evidence.primary_record(MAX_RECORD_BYTES),
                                        lenient_base64=profile is Profile.STRUCTURAL)
            return verify_registration(record, trust, at or datetime.now(UTC), profile)
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def load(self, path: Path) -> Evidence:
        """Read a ``.webauthn.json`` record, or a directory's (:attr:`layout`), bounded (the roots are given
        separately, as trust anchors)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        return Evidence(format=self.name, files={path.name: read_regular_file(path, MAX_RECORD_BYTES, ReadBudget())},
                        primary=path.name)

    def detect(self, path: Path) -> bool:
        """A ``*.webauthn.json`` file, or a ``.json`` record whose credential response holds an attestationObject; a
        directory holding one."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """The default statement's registrations first (the TPM goldens), then every other family's."""
        return [case for source in self._vector_sources() for case in source.vector_cases(seed)]

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of every statement's vectors."""
        return {flag: note for source in self._vector_sources() for flag, note in source.vector_notes().items()}

    def _vector_sources(self) -> list[StatementVectors]:
        names()
        ordered = sorted(statement_vectors(), key=lambda pair: (pair[0] != DEFAULT_STATEMENT, pair[0]))
        return [source for _, source in ordered]

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None
