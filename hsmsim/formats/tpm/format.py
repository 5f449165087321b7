"""The ``webauthn`` format: a WebAuthn registration whose attestation is a TPM 2.0 ``tpm`` statement.

Generator and reference verifier side by side. On disk (``docs/formats/tpm.md``) a registration is
the relying party's record ``<label>.webauthn.json``: what the RP expected (challenge, origin,
RP ID) and the browser's PublicKeyCredential JSON with base64url ``clientDataJSON`` and
``attestationObject``; the emulated root ``tpm_root_ca.pem`` comes beside it.

The reference verifier runs the relying-party steps of WebAuthn §7.1 (clientData type, challenge,
origin; rpIdHash; UP; attested credential data) and the ``tpm`` verification procedure of §8.3
(ver, pubArea key = credential key with symmetric/scheme NULL, magic, type, extraData, attested
name, AK signature, AK certificate profile, chain to the root), then what a CA needs from a key
attestation: generated in the TPM (sensitiveDataOrigin), not duplicable (fixedTPM + fixedParent),
not restricted, and under the strict profile the CA/B Forum code-signing key rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.tpm.device import TPM_KEY_SPECS, EmulatedTpm
from hsmsim.formats.tpm.generate import SIGNATURE_ENCODINGS, Draft
from hsmsim.formats.tpm.genuine import genuine_tpm
from hsmsim.formats.tpm.pki import ak_identity
from hsmsim.formats.tpm.statement import (
    check_ak_certificate,
    check_attest,
    check_chain,
    check_object_attributes,
    check_pub_area,
    check_signature,
    check_strict_policy,
    extra_data_for,
    load_x5c,
    read_statement,
    tpm_claims,
)
from hsmsim.formats.tpm.structures import TpmsAttest, TpmtPublic
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import MAX_SIBLING_BYTES, Evidence, TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg
from hsmsim.safeio import ReadBudget, peek_regular_file, read_regular_file
from hsmsim.verdict import Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.ceremony import DEFAULT_RP_ID, RECORD_SUFFIX
from hsmsim.webauthn.container import (
    FLAG_AT,
    FLAG_BE,
    FLAG_BS,
    FLAG_UP,
    FLAG_UV,
    MAX_ATTESTATION_OBJECT,
    AttestationObject,
    AuthenticatorData,
    Registration,
    cbor_decode,
    from_b64url,
    parse_client_data,
    parse_cose_key,
    rp_id_hash,
)

MAX_RECORD_BYTES = 2 * MAX_ATTESTATION_OBJECT


def _challenge(value: object, seed: str, label: str, at: datetime) -> bytes:
    if value is None:
        return drbg(seed, f"webauthn/challenge/{label}/{at:%Y%m%dT%H%M%S}").read(32)
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return from_b64url(value, "parameter challenge")
        except Rejected as exc:
            raise UnsupportedKeyError(exc.detail) from None
    raise UnsupportedKeyError("parameter challenge must be bytes or base64url text")


def draft_for(request: AttestationRequest) -> Draft:
    """The registration draft of ``request``; parameters: ``challenge`` (bytes or base64url),
    ``rp_id``, ``origin``, ``fmt`` (tpm | none), ``signature_encoding`` (bare | tpmt), ``user_verified``."""
    params = request.parameters
    tpm = EmulatedTpm.for_device(request.device)
    key = request.key
    label = key.label
    rp_id = str(params.get("rp_id", DEFAULT_RP_ID))
    fmt = str(params.get("fmt", "tpm"))
    encoding = str(params.get("signature_encoding", "bare"))
    if fmt not in ("tpm", "none") or encoding not in SIGNATURE_ENCODINGS:
        raise UnsupportedKeyError(f"fmt must be tpm or none and signature_encoding one of {SIGNATURE_ENCODINGS}")
    flags = FLAG_UP | FLAG_AT | (FLAG_UV if params.get("user_verified", True) else 0)
    genuine = genuine_tpm(request, key_name=WebAuthnFormat.ak_name, names_device=False)
    return Draft(
        tpm=tpm, identity=request.attesting, at=request.at, label=label, genuine=genuine,
        area=genuine.key_public() if genuine is not None else tpm.key_public(key),
        challenge=_challenge(params.get("challenge"), request.device.seed, label, request.at),
        credential_id=drbg(request.device.seed, f"webauthn/{request.device.serial}/credential/{label}").read(32),
        rp_id=rp_id, origin=str(params.get("origin", f"https://{rp_id}")), fmt=fmt, flags=flags,
        signature_encoding=encoding)


def _verify_record(record: Registration, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    client = parse_client_data(record.client_data_json)
    if client.type != "webauthn.create":
        raise Rejected(Reason.MALFORMED, f"clientData.type is {client.type[:30]!r}, not 'webauthn.create'")
    if client.challenge != record.expected_challenge:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "clientData.challenge is not the challenge the relying party sent")
    if client.origin != record.expected_origin:
        raise Rejected(Reason.RELYING_PARTY_MISMATCH, f"clientData.origin {client.origin[:60]!r} is not "
                                                      f"{record.expected_origin[:60]!r}")
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
    credential_key = parse_cose_key(cbor_decode(auth.credential.public_key_cbor, "credentialPublicKey"))
    client_hash = hashlib.sha256(record.client_data_json).digest()
    if obj.fmt == "none":
        if obj.att_stmt:
            raise Rejected(Reason.MALFORMED, "fmt none with a non-empty attStmt")
        raise Rejected(Reason.MISSING_INPUT, "fmt none: no attestation statement vouches for the key")
    if obj.fmt != "tpm":
        raise Rejected(Reason.UNSUPPORTED, f"attestation statement format {obj.fmt[:30]!r} is not tpm")
    stmt = read_statement(dict(obj.att_stmt))
    if stmt.ver != "2.0":
        raise Rejected(Reason.UNSUPPORTED, f"tpm attStmt.ver is {stmt.ver[:10]!r}, not '2.0'")
    x5c = load_x5c(stmt.x5c)
    check_chain(x5c, trust.get("root"), at)
    facts = check_ak_certificate(x5c[0], auth.credential.aaguid)
    check_signature(x5c[0], stmt.alg, stmt.cert_info, stmt.sig)
    certify = check_attest(TpmsAttest.unmarshal(stmt.cert_info), extra_data_for(stmt.alg, obj.auth_data, client_hash))
    area = TpmtPublic.unmarshal(stmt.pub_area)
    check_pub_area(area, certify, credential_key)
    check_object_attributes(area)
    if profile is Profile.STRICT:
        check_strict_policy(stmt, area)
    claims = tpm_claims(area, facts)
    return Verdict(Reason.OK, f"TPM key certified by an AK of {facts.vendor} {facts.model}", claims)


class TpmStatementFormat:
    """What every format of this family shares: key specs, the bounded record read, anchors, no fuzz model.

    A subclass sets ``name``, ``title``, ``record_limit`` and implements :meth:`verify_files`.
    """

    name: str
    title: str
    key_specs: tuple[str, ...] = TPM_KEY_SPECS
    record_limit: int = MAX_RECORD_BYTES
    ak_name: str = "ak"
    """Derivation role of the format's AK (a TPM holds one AK per use)."""
    names_device: bool = False
    """The AK certificate names the TPM by its EK URN (permanentIdentifier), as ACME needs."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The TPM's AK (ECC P-256, or a user key as AK) with its AK certificate under the emulated CA."""
        tpm = EmulatedTpm.for_device(device)
        permanent_id = tpm.ek_urn() if self.names_device else None
        if attesting is None:
            return ak_identity(device.seed, device.serial, tpm.model, created=device.attestation_created,
                               key_name=self.ak_name, permanent_id=permanent_id)
        label, key, created = attesting
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UnsupportedKeyError("a TPM attestation key must be RSA or ECC")
        return ak_identity(device.seed, device.serial, tpm.model, created=max(created, device.initialised),
                           key=key, key_name=f"{self.ak_name}/{label}", permanent_id=permanent_id)

    def verify_files(self, evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                     profile: Profile) -> Verdict:
        """Verify the primary record (already bounded); raises Rejected."""
        raise NotImplementedError

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """The format's checks (:meth:`verify_files`); bad evidence becomes a Verdict, never an exception."""
        try:
            data = evidence.files.get(evidence.primary)
            if data is None:
                raise Rejected(Reason.MISSING_INPUT, f"{evidence.primary} is not in the evidence")
            if len(data) > self.record_limit:
                raise Rejected(Reason.LIMIT_EXCEEDED, f"record is {len(data)} bytes (limit {self.record_limit})")
            return self.verify_files(evidence, data, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def read_record(self, path: Path, siblings: Sequence[Path] = ()) -> Evidence:
        """The record at ``path`` (bounded) and the ``siblings`` that exist, regular files only, within
        one :class:`~hsmsim.safeio.ReadBudget`; raises BundleError."""
        budget = ReadBudget()
        files = {path.name: read_regular_file(path, self.record_limit, budget)}
        for sibling in siblings:
            if sibling.exists():
                files[sibling.name] = read_regular_file(sibling, MAX_SIBLING_BYTES, budget)
        return Evidence(format=self.name, files=files, primary=path.name)

    def detect_record(self, path: Path, suffix: str, markers: tuple[bytes, ...]) -> bool:
        """``path`` is a ``*<suffix>`` file, or a bounded ``.json`` file holding every one of ``markers``."""
        head = peek_regular_file(path, self.record_limit) if path.suffix.lower() == ".json" else None
        if head is None:
            return False
        return path.name.endswith(suffix) or all(marker in head for marker in markers)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None


class WebAuthnFormat(TpmStatementFormat):
    """The ``webauthn`` format: WebAuthn registration with a TPM 2.0 attestation (``tpm`` or ``none``)."""

    name = "webauthn"
    title = "WebAuthn registration with TPM 2.0 attestation"

    def generate(self, request: AttestationRequest) -> Evidence:
        """The relying party's record of a registration of the request's key (see :func:`draft_for`)."""
        return draft_for(request).evidence()

    def verify_files(self, evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime,
                     profile: Profile) -> Verdict:
        """The WebAuthn relying-party and ``tpm`` statement checks, then the key's TPM attributes."""
        return _verify_record(Registration.parse(record), trust, at, profile)

    def load(self, path: Path) -> Evidence:
        """Read a ``.webauthn.json`` record (the root is given separately, as a trust anchor)."""
        return self.read_record(path)

    def detect(self, path: Path) -> bool:
        """A ``*.webauthn.json`` file, or a ``.json`` record whose credential response holds an attestationObject."""
        return self.detect_record(path, RECORD_SUFFIX, (b'"attestationObject"', b'"expectedRpId"'))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden registrations for RSA-2048/3072 and EC P-256/P-384 and the one-defect mutations."""
        from hsmsim.formats.tpm.catalogue import vector_cases

        return vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the webauthn vectors."""
        from hsmsim.formats.tpm.catalogue import notes

        return notes()
