"""The ``webauthn`` vectors of the Apple ``apple`` statement: an ES256 passkey registration and its defects.

A :class:`RegistrationBench` is the ceremony (:class:`hsmsim.webauthn.ceremony.Ceremony`) and the statement
draft ``produce`` renders; a mutation edits one field of either. The statement is rendered when the vector
is, so every credCert edit is signed by the genuine Apple WebAuthn CA 1 key (``Resigned``) unless the
mutation signs with another key or edits the encoded object (``Stale``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from hsmsim.formats.apple.extensions import nonce_extension_value
from hsmsim.formats.apple.pki import APP_ATTEST, WEBAUTHN, apple_pki
from hsmsim.formats.apple.vectors import ATTEST_TIME, attested_key, golden_case, mutation_cases, note
from hsmsim.formats.apple.webauthn_statement import AAGUID, FMT, AppleStatementDraft, apple_nonce
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Severity, VectorCase
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.ceremony import Ceremony, root_file, roots_pem
from hsmsim.webauthn.container import cbor_decode, cbor_encode

REFS = ("shared/specs/other_formats.md 4.1", "WebAuthn L3 8.8 Apple Anonymous Attestation")
_note = note(REFS)
GOLDEN = "apple-ec-p256"
FOREIGN = replace(WEBAUTHN, role="apple/foreign-webauthn", root_cn="WebAuthn Root CA FOREIGN EMULATED",
                  intermediate_cn="WebAuthn CA FOREIGN EMULATED")


@dataclass
class RegistrationBench:
    """A golden ``apple`` registration opened for one mutation."""

    seed: str
    ceremony: Ceremony
    draft: AppleStatementDraft

    @classmethod
    def open(cls, seed: str) -> RegistrationBench:
        """The golden registration of the seed's P-256 passkey."""
        key = attested_key(seed, "apple-webauthn", "ec-p256")
        ceremony = Ceremony(fmt=FMT, label=GOLDEN, challenge=drbg(seed, f"apple/webauthn/challenge/{GOLDEN}").read(32),
                            credential_id=drbg(seed, f"apple/webauthn/credential/{GOLDEN}").read(20),
                            credential_key=key.public_key(), aaguid=AAGUID)
        draft = AppleStatementDraft(apple_pki(seed, WEBAUTHN), key.public_key(), GOLDEN, ATTEST_TIME)
        return cls(seed, ceremony, draft)

    def resign(self) -> None:
        """Nothing to do: the statement is rendered, and credCert issued, when the evidence is."""

    def evidence(self) -> Evidence:
        registration = self.ceremony.render(self.draft.render)
        return self.ceremony.evidence(registration, {root_file(FMT): roots_pem((apple_pki(self.seed, WEBAUTHN)
                                                                                .root.certificate,))})


Operator = Callable[[RegistrationBench], None]


def _draft(**changes: object) -> Operator:
    def apply(bench: RegistrationBench) -> None:
        for attr, value in changes.items():
            setattr(bench.draft, attr, value)
    return apply


def _nonce_bytes(fn: Callable[[bytes], bytes]) -> Operator:
    """credCert's 8.2 value = ``fn(genuine nonce)``."""
    def apply(bench: RegistrationBench) -> None:
        nonce = apple_nonce(bench.ceremony.auth_data(), hashlib.sha256(bench.ceremony.client_data_json()).digest())
        bench.draft.nonce_value = fn(nonce)
    return apply


def _pki(spec_name: str) -> Operator:
    def apply(bench: RegistrationBench) -> None:
        spec = {"foreign": FOREIGN, "app-attest": APP_ATTEST}[spec_name]
        bench.draft.pki = apple_pki(bench.seed, spec)
    return apply


def _other_key(bench: RegistrationBench) -> None:
    other = attested_key(bench.seed, "apple-webauthn/other", "ec-p256")
    assert isinstance(other, ec.EllipticCurvePrivateKey)
    bench.draft.certified_key = other.public_key()


def _ed25519_credential(bench: RegistrationBench) -> None:
    key = attested_key(bench.seed, "apple-webauthn", "ed25519").public_key()
    bench.ceremony.credential_key = key
    bench.draft.credential_key = key


def _forged(bench: RegistrationBench) -> None:
    bench.draft.signer = attested_key(bench.seed, "apple-webauthn", "ec-p256")


def _drop_x5c(bench: RegistrationBench) -> None:
    def edit(body: bytes) -> bytes:
        document = cbor_decode(body, "attestationObject")
        document["attStmt"].pop("x5c")
        return cbor_encode(document)
    bench.ceremony.object_edit = edit


def mutations() -> list[Mutation]:
    """Every defect of the ``apple`` statement, in catalogue order."""
    m: list[Mutation] = []
    crit, high, low = Severity.CRITICAL, Severity.HIGH, Severity.LOW

    def add(id_: str, flag: str, note_: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool = True) -> None:
        m.append(Mutation(f"webauthn::apple::{id_}", flag, note_, comment, operator, path, apply, expected, resign,
                          GOLDEN))

    nonce = "/attStmt/x5c[0]/extensions/1.2.840.113635.100.8.2"
    add("nonce-missing", "AppleNonceMissing",
        _note("BINDING", crit, "credCert has no nonce extension 1.2.840.113635.100.8.2",
              "nothing binds credCert to this ceremony: it can be replayed for any registration of the key"),
        "8.2 removed", "x509.remove_extension", nonce, _draft(omit_nonce=True), invalid(Reason.ATTR_MISSING))
    add("nonce-other-challenge", "AppleNonceOtherChallenge",
        _note("BINDING", crit, "the nonce covers another clientDataHash than this registration's",
              "a statement made for another challenge is replayed"),
        "8.2 over SHA-256 of another clientDataJSON", "x509.set_extension", nonce,
        _draft(client_data_hash=hashlib.sha256(b"another clientDataJSON").digest()),
        invalid(Reason.CHALLENGE_MISMATCH))
    add("nonce-set-not-sequence", "AppleNonceSetNotSequence",
        _note("ENCODING", low, "the nonce wrapped in a SET (31 24 ...) instead of a SEQUENCE, same offsets",
              "parsers slicing value[6:] (py_webauthn) accept what is not Apple's structure"),
        "8.2 first byte 30 -> 31", "x509.set_extension", nonce,
        _nonce_bytes(lambda n: b"\x31" + nonce_extension_value(n)[1:]), invalid(Reason.MALFORMED))
    add("nonce-long-form-length", "AppleNonceLongFormLength",
        _note("ENCODING", low, "the nonce SEQUENCE written with a long-form length (30 81 24 ...)",
              "parsers slicing value[6:] read the wrong bytes; DER parsers must refuse it"),
        "8.2 = 30 81 24 a1 22 04 20 || nonce", "x509.set_extension", nonce,
        _nonce_bytes(lambda n: b"\x30\x81" + nonce_extension_value(n)[1:]), invalid(Reason.MALFORMED))
    add("cert-of-other-key", "AppleCertOfOtherKey",
        _note("BINDING", crit, "credCert certifies another key than the credential key",
              "the relying party stores a key Apple never attested"),
        "credCert for another P-256 key", "x509.set_key", "/attStmt/x5c[0]/subjectPublicKeyInfo", _other_key,
        invalid(Reason.KEY_MISMATCH))
    add("chain-foreign-root", "AppleChainForeignRoot",
        _note("CHAIN", crit, "credCert and CA of another PKI whose root is not trusted",
              "any CA can mint Apple attestations"),
        "credCert under a foreign WebAuthn-shaped PKI", "pki.replace", "/attStmt/x5c", _pki("foreign"),
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain-app-attest-pki", "AppleChainAppAttestPki",
        _note("CHAIN", high, "credCert issued under the (emulated) Apple App Attestation PKI",
              "verifiers trusting every Apple root accept an App Attest key as a passkey"),
        "credCert and CA from the App Attest PKI", "pki.replace", "/attStmt/x5c", _pki("app-attest"),
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("intermediate-missing", "AppleIntermediateMissing",
        _note("CHAIN", high, "x5c holds credCert only", "credCert's issuer is nowhere"),
        "x5c = [credCert]", "cert.remove", "/attStmt/x5c[1]", _draft(x5c_tail=[]), invalid(Reason.CHAIN_INCOMPLETE),
        resign=False)
    add("cert-expired", "AppleCertExpired",
        _note("CHAIN", high, "credCert expired a day before validation", "stale attestations are accepted"),
        "credCert valid for 3 days ending the day before", "x509.set_validity", "/attStmt/x5c[0]/validity",
        _draft(validity=(ATTEST_TIME - timedelta(days=4), ATTEST_TIME - timedelta(days=1))),
        invalid(Reason.CERT_EXPIRED))
    add("cert-forged", "AppleCertForged",
        _note("SIGNATURE_BYPASS", crit, "credCert names Apple WebAuthn CA 1 but is signed by the credential key",
              "verifiers matching issuer names without signatures accept forged attestations"),
        "credCert signed with the credential key", "x509.resign", "/attStmt/x5c[0]/signature", _forged,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("x5c-missing", "AppleX5cMissing",
        _note("CHAIN", high, "attStmt is an empty map", "nothing is attested"),
        "attStmt.x5c removed", "cbor.remove", "/attStmt/x5c", _drop_x5c, invalid(Reason.MALFORMED), resign=False)
    add("extra-member", "AppleStatementExtraMember",
        _note("BASIC", low, "attStmt carries an alg member Apple never writes",
              "structural verifiers tolerate it; the strict profile allows only x5c"),
        "attStmt.alg = -7", "cbor.insert", "/attStmt/alg", _draft(extra={"alg": -7}),
        strict_only(Reason.UNEXPECTED_CONTENT))
    add("credential-ed25519", "AppleCredentialEd25519",
        _note("PROFILE", low, "an Ed25519 credential key (Apple's passkeys are P-256), correctly attested",
              "valid evidence; the strict profile rejects the key with KEY_POLICY (CA/B Forum code signing)"),
        "credential key and credCert's key = Ed25519", "key.replace",
        "authData.attestedCredentialData.credentialPublicKey", _ed25519_credential, strict_only(Reason.KEY_POLICY))
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the apple registrations use."""
    return flag_notes({}, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The golden registration, then every mutation."""
    anchors = (apple_pki(seed, WEBAUTHN).root.certificate,)
    golden = golden_case(seed, anchors, f"webauthn::golden::{GOLDEN}",
                         "unmutated apple (anonymous) registration of a P-256 passkey", valid(),
                         RegistrationBench.open(seed).evidence())
    return [golden, *mutation_cases(seed, anchors, mutations(), lambda _name: RegistrationBench.open(seed))]

