"""The WebAuthn ``apple`` attestation statement (Apple anonymous attestation, WebAuthn L3 §8.8).

attStmt is ``{"x5c": [credCert, "Apple WebAuthn CA 1"]}``: no ``alg``, no ``sig``. Apple's anonymization CA
issues credCert for the credential key, with the nonce SHA-256(authData || clientDataHash) in extension
1.2.840.113635.100.8.2 (``SEQUENCE { [1] EXPLICIT OCTET STRING }``). The authenticator's AAGUID is
``f24a8e70-d0d3-f82c-2937-32523cc4de5a`` and its credential ids are 20 bytes, as in the real 2021 passkey
registration of py_webauthn's tests (``tests/data/py_webauthn/apple_passkey.webauthn.json``).

Verification, in order: x5c present (MALFORMED); the chain to the roots given (the chain reasons); the nonce
extension present (ATTR_MISSING), DER (MALFORMED), equal to the computed nonce (CHALLENGE_MISMATCH); credCert's
key is the credential key (KEY_MISMATCH); under the strict profile nothing beside x5c (UNEXPECTED_CONTENT) and
the CA/B Forum code-signing key rule on the credential key (KEY_POLICY), as for ``packed`` and ``tpm``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.checks import require_code_signing_key
from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import key_facts, spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.apple.extensions import OID_NONCE, check_x5c, load_x5c, nonce_extension_value, read_nonce
from hsmsim.formats.apple.pki import WEBAUTHN, ApplePki, apple_pki, leaf_name, raw_extension
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.model.evidence import TrustAnchors
from hsmsim.pki.builder import Ext, reissue
from hsmsim.pki.identity import PkiExport
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.statements import ProducedStatement, SignedData

FMT = "apple"
AAGUID = bytes.fromhex("f24a8e70d0d3f82c293732523cc4de5a")
"""The AAGUID of Apple's platform authenticator in its ``apple`` registrations (the real 2021 passkey's)."""


def apple_nonce(auth_data: bytes, client_data_hash: bytes) -> bytes:
    """The credCert nonce: SHA-256(authData || clientDataHash)."""
    return hashlib.sha256(auth_data + client_data_hash).digest()


@dataclass
class AppleStatementDraft:
    """The inputs of one ``apple`` statement. ``produce`` renders it as built; a vector catalogue edits one field
    first (``None`` and empty fields take their genuine value)."""

    pki: ApplePki
    credential_key: PublicKey
    label: str
    at: datetime
    certified_key: PublicKey | None = None
    """The key credCert certifies (the credential key unless a defect says otherwise)."""
    nonce_value: bytes | None = None
    """The 8.2 extension value, replacing DER(SEQUENCE {[1] {OCTET STRING nonce}})."""
    client_data_hash: bytes | None = None
    """The clientDataHash the nonce covers, replacing the ceremony's."""
    omit_nonce: bool = False
    validity: tuple[datetime, datetime] | None = None
    signer: PrivateKey | None = None
    """Who signs credCert, replacing Apple WebAuthn CA 1's key."""
    x5c_tail: list[x509.Certificate] | None = None
    """The certificates after credCert, replacing ``[Apple WebAuthn CA 1]``."""
    extra: dict[str, object] = field(default_factory=dict)

    def cred_cert(self, auth_data: bytes, client_data_hash: bytes) -> x509.Certificate:
        """credCert for the draft's key with the nonce over ``auth_data`` and ``client_data_hash``."""
        nonce = apple_nonce(auth_data, self.client_data_hash or client_data_hash)
        value = self.nonce_value if self.nonce_value is not None else nonce_extension_value(nonce)
        extensions: list[Ext] = [] if self.omit_nonce else [raw_extension(OID_NONCE, value)]
        cert = self.pki.leaf(self.certified_key or self.credential_key,
                             leaf_name(self.pki.seed, f"webauthn/{self.label}/{self.at.isoformat()}"), extensions,
                             self.at)
        if self.validity is None and self.signer is None:
            return cert
        changes = {"not_before": self.validity[0], "not_after": self.validity[1]} if self.validity else {}
        return reissue(cert, self.signer or self.pki.intermediate.key, **changes)

    def render(self, auth_data: bytes, client_data_hash: bytes) -> dict[str, object]:
        """The attStmt."""
        tail = self.x5c_tail if self.x5c_tail is not None else [self.pki.intermediate.certificate]
        x5c = [cert.public_bytes(Encoding.DER) for cert in (self.cred_cert(auth_data, client_data_hash), *tail)]
        return {"x5c": x5c, **self.extra}


def draft_for(request: AttestationRequest) -> AppleStatementDraft:
    """The statement an Apple platform authenticator makes for the request's key (an ES256 P-256 credential)."""
    key = request.key.public_key
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise UnsupportedKeyError("Apple platform authenticators make ES256 (P-256) credentials")
    if not request.key.attributes.generated_and_never_extractable:
        raise UnsupportedKeyError(f"{request.key.label} was imported or is (or was) extractable; an Apple platform "
                                  "authenticator attests only credentials it generated")
    return AppleStatementDraft(apple_pki(request.device.seed, WEBAUTHN), key, request.key.label, request.at)


class AppleAnonymousAttestation:
    """WebAuthn ``apple``: Apple's anonymization CA certifies the credential key; the nonce binds the ceremony."""

    name = FMT

    def aaguid(self, request: AttestationRequest) -> bytes:
        """Apple's platform authenticator's AAGUID (:data:`AAGUID`)."""
        return AAGUID

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The emulated Apple WebAuthn CA 1 under its root."""
        pki = apple_pki(device.seed, WEBAUTHN)
        return (PkiExport("", pki.root.certificate, (), pki.intermediate.certificate),)

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """credCert and Apple WebAuthn CA 1 over the ceremony's nonce; the emulated Apple WebAuthn root beside it."""
        draft = draft_for(request)
        return ProducedStatement(draft.render(auth_data, client_data_hash), (draft.pki.root.certificate,))

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """The module's checks; returns the Claims keyword arguments and ``detail``; raises Rejected."""
        if "x5c" not in att_stmt:
            raise Rejected(Reason.MALFORMED, "apple attStmt has no x5c")
        certs = load_x5c(att_stmt["x5c"])
        check_x5c(certs, trust.get("root") or trust.all(), at)
        read_nonce(certs[0], apple_nonce(signed.auth_data, signed.client_data_hash),
                   "SHA-256(authData || clientDataHash)")
        if spki_der(certs[0].public_key()) != spki_der(signed.credential_key):
            raise Rejected(Reason.KEY_MISMATCH, "credCert's public key is not the credential public key")
        if profile is Profile.STRICT:
            unknown = sorted(str(k)[:20] for k in att_stmt if k != "x5c")
            if unknown:
                raise Rejected(Reason.UNEXPECTED_CONTENT, f"apple attStmt carries members beyond x5c: {unknown[:4]}")
        key_type, size = key_facts(signed.credential_key)
        if profile is Profile.STRICT:
            require_code_signing_key(key_type, size)
        return {"spki_der": spki_der(signed.credential_key), "key_type": key_type, "key_size": size,
                "generated_on_device": True, "extractable": None, "never_extractable": None, "sensitive": None,
                "always_sensitive": None, "vendor": "Apple", "model": "anonymous attestation",
                "detail": f"apple anonymous attestation of a {key_type} credential, chained to "
                          f"{certs[-1].issuer.rfc4514_string()[:80]!r}"}

