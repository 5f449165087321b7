"""The apple-appattest vector set: attestations per environment, and one defect per Apple validation step.

An :class:`AppBench` opens a golden draft with its credCert issued; ``Resigned`` mutations edit the draft
and issue credCert again with the genuine CA key (the nonce covers the edited authData), ``Stale`` ones keep
the golden credCert, edit what no Apple key signs (the record, the CBOR around the statement) or have credCert
signed by another key than the genuine CA's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hsmsim import mutate
from hsmsim.formats.apple.appattest import (
    AAGUID,
    AppAttestDraft,
    attestation_nonce,
    cose_ec2,
    default_app_id,
    key_id,
    receipt_environment,
)
from hsmsim.formats.apple.extensions import nonce_extension_value
from hsmsim.formats.apple.layout import APPATTEST_FORMAT
from hsmsim.formats.apple.pki import APP_ATTEST, WEBAUTHN, PkiSpec, apple_pki
from hsmsim.formats.apple.receipt import attest_receipt
from hsmsim.formats.apple.record import b64
from hsmsim.formats.apple.vectors import ATTEST_TIME, attested_key, golden_case, mutation_cases, note
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Severity, VectorCase
from hsmsim.pki.builder import reissue
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.container import FLAG_AT, FLAG_ED, b64url, cbor_decode, cbor_encode

REFS = ("shared/specs/other_formats.md 4.2", "Apple: Validating apps that connect to your server")
_note = note(REFS)
GOLDENS = ("production", "development")
FOREIGN = replace(APP_ATTEST, role="apple/foreign-app-attest", root_cn="App Attestation Root CA FOREIGN EMULATED",
                  intermediate_cn="App Attestation CA FOREIGN EMULATED")


def _challenge(seed: str, role: str) -> bytes:
    return drbg(seed, f"{APPATTEST_FORMAT}/challenge/{role}").read(32)


@dataclass
class AppBench:
    """A golden attestation opened up for one mutation."""

    seed: str
    golden: str
    draft: AppAttestDraft
    validity: tuple[datetime, datetime] | None = None
    serial: int | None = None
    attestation_edit: Callable[[bytes], bytes] | None = None
    record_edit: Callable[[bytes], bytes] | None = None

    @classmethod
    def open(cls, seed: str, environment: str) -> AppBench:
        """The golden for ``environment`` with credCert issued."""
        key = attested_key(seed, APPATTEST_FORMAT, "ec-p256")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        label = f"app-{environment}"
        draft = AppAttestDraft(pki=apple_pki(seed, APP_ATTEST), label=label, at=ATTEST_TIME,
                               public_key=key.public_key(), app_id=default_app_id(seed), environment=environment,
                               challenge=_challenge(seed, environment),
                               receipt_environment=receipt_environment(environment))
        bench = cls(seed, environment, draft)
        bench.resign()
        return bench

    def resign(self) -> None:
        """Issue credCert for the draft as it is now (nonce over its authData) with the draft's CA key, and the
        bench's validity and serial when set."""
        self.draft.cred_cert_override = None
        cert = self.draft.cred_cert()
        changes: dict[str, object] = {} if self.serial is None else {"serial": self.serial}
        if self.validity is not None:
            changes.update(not_before=self.validity[0], not_after=self.validity[1])
        self.draft.cred_cert_override = reissue(cert, self.draft.pki.intermediate.key, **changes) if changes else cert

    def evidence(self) -> Evidence:
        attestation = self.draft.attestation()
        if self.attestation_edit is not None:
            attestation = self.attestation_edit(attestation)
        evidence = self.draft.evidence(attestation)
        if self.record_edit is None:
            return evidence
        return Evidence(evidence.format, {evidence.primary: self.record_edit(evidence.files[evidence.primary])},
                        evidence.primary)


Operator = Callable[[AppBench], None]


def _set(**changes: object) -> Operator:
    def apply(bench: AppBench) -> None:
        for attr, value in changes.items():
            setattr(bench.draft, attr, value)
    return apply


def _derived(attr: str, value: Callable[[AppBench], object]) -> Operator:
    return lambda bench: setattr(bench.draft, attr, value(bench))


def _other_key(bench: AppBench) -> ec.EllipticCurvePublicKey:
    key = attested_key(bench.seed, f"{APPATTEST_FORMAT}/other", "ec-p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.public_key()


def _nonce_value(value: Callable[[AppBench], bytes]) -> Operator:
    def apply(bench: AppBench) -> None:
        bench.draft.nonce_value = value(bench)
    return apply


def _genuine_nonce(bench: AppBench) -> bytes:
    return attestation_nonce(bench.draft.auth_data(), bench.draft.challenge)


def _spki_key_id(bench: AppBench) -> None:
    spki = bench.draft.public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(spki).digest()
    bench.draft.credential_id = digest
    bench.draft.record_key_id = digest


def _pki(spec: PkiSpec) -> Operator:
    """credCert issued by another PKI's CA (Stale: not the genuine CA key)."""
    def apply(bench: AppBench) -> None:
        bench.draft.pki = apple_pki(bench.seed, spec)
        bench.resign()
    return apply


def _x5c(fn: Callable[[AppBench, list[bytes]], list[bytes]]) -> Operator:
    def apply(bench: AppBench) -> None:
        x5c = [bench.draft.cred_cert().public_bytes(Encoding.DER),
               bench.draft.pki.intermediate.certificate.public_bytes(Encoding.DER)]
        bench.draft.x5c_override = fn(bench, x5c)
    return apply


def _cred_cert_validity(start: timedelta, length: timedelta) -> Operator:
    def apply(bench: AppBench) -> None:
        bench.validity = (ATTEST_TIME + start, ATTEST_TIME + start + length)
    return apply


def _cred_cert_forged(bench: AppBench) -> None:
    signer = attested_key(bench.seed, APPATTEST_FORMAT, "ec-p256")
    bench.draft.cred_cert_override = reissue(bench.draft.cred_cert(), signer)


def _p384(bench: AppBench) -> None:
    key = attested_key(bench.seed, APPATTEST_FORMAT, "ec-p384")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    bench.serial = bench.draft.cred_cert().serial_number  # the key changes, not the issuance (the serial)
    bench.draft.public_key = key.public_key()


def _nonce_over_edited_auth_data(bench: AppBench) -> None:
    """8.2 over authData with the counter 7; authData is sent with the attestation's counter 0."""
    edited = replace(bench.draft, sign_count=7, cred_cert_override=None)
    bench.draft.nonce_value = nonce_extension_value(attestation_nonce(edited.auth_data(), bench.draft.challenge))


def _document(fn: Callable[[dict[str, Any]], object]) -> Operator:
    """Edit the decoded attestation object and write it back canonically (what no Apple key signs)."""
    def edit(body: bytes) -> bytes:
        document = cbor_decode(body, "attestation")
        assert isinstance(document, dict)
        fn(document)
        return cbor_encode(document)
    return lambda bench: setattr(bench, "attestation_edit", edit)


def _statement(fn: Callable[[dict[str, Any]], object]) -> Operator:
    return _document(lambda document: fn(document["attStmt"]))


def _record_app_id(app_id: str) -> Operator:
    """The server expects ``app_id``; authData keeps the attested App ID's hash."""
    def apply(bench: AppBench) -> None:
        bench.draft.rp_id, bench.draft.app_id = bench.draft.app_id, app_id
    return apply


def _receipt_of_other_key(bench: AppBench) -> None:
    """Apple's receipt of the attestation of another key (same app, same time)."""
    other = replace(bench.draft, public_key=_other_key(bench), cred_cert_override=None)
    bench.draft.receipt = attest_receipt(bench.seed, other.receipt_content(other.cred_cert()))


def _receipt_naming(app_id: str) -> Operator:
    """The genuine receipt with field 2 naming ``app_id``, signed by the genuine receipt key."""
    def apply(bench: AppBench) -> None:
        content = bench.draft.receipt_content(bench.draft.cred_cert())
        bench.draft.receipt = attest_receipt(bench.seed, replace(content, app_id=app_id))
    return apply


def _stand_in_receipt(bench: AppBench) -> None:
    """What hsmsim wrote before it made Apple's CMS receipt: a DER SEQUENCE header over 180 seeded bytes."""
    stand_in = drbg(bench.seed, f"{APPATTEST_FORMAT}/receipt/{bench.draft.label}").read(180)
    bench.draft.receipt = b"\x30\x81\xb4" + stand_in


def _record_text(old: Callable[[AppBench], str], new: Callable[[AppBench], str]) -> Operator:
    def apply(bench: AppBench) -> None:
        bench.record_edit = lambda record: mutate.replace_once(record, old(bench).encode(), new(bench).encode())
    return apply


def mutations() -> list[Mutation]:
    """Every apple-appattest defect, in catalogue order."""
    m: list[Mutation] = []
    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

    def add(id_: str, flag: str, note_: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "production") -> None:
        m.append(Mutation(f"{APPATTEST_FORMAT}::{id_}", flag, note_, comment, operator, path, apply, expected, resign,
                          golden))

    nonce_path = "/attStmt/x5c[0]/extensions/1.2.840.113635.100.8.2"
    # -- step 2-4: the nonce --
    add("nonce::other-challenge", "NonceOtherChallenge",
        _note("BINDING", crit, "the server's record holds another challenge than the one attested",
              "an attestation made for another session is replayed"),
        "record challenge replaced", "json.set", "/challenge", _set(challenge=b"another one-time challenge"),
        invalid(Reason.CHALLENGE_MISMATCH), resign=False)
    add("nonce::missing", "NonceMissing",
        _note("BINDING", crit, "credCert has no nonce extension 1.2.840.113635.100.8.2",
              "nothing binds credCert to this authData and challenge"),
        "8.2 removed, credCert re-issued", "x509.remove_extension", nonce_path, _set(omit_nonce=True),
        invalid(Reason.ATTR_MISSING), resign=True)
    add("nonce::auth-data-only", "NonceOverAuthDataOnly",
        _note("BINDING", high, "nonce = SHA-256(authData), the clientDataHash left out",
              "the challenge is not bound: any session accepts it"),
        "8.2 = SHA-256(authData)", "x509.set_extension", nonce_path,
        _nonce_value(lambda b: nonce_extension_value(hashlib.sha256(b.draft.auth_data()).digest())),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("nonce::unhashed-challenge", "NonceUnhashedChallenge",
        _note("BINDING", med, "nonce = SHA-256(authData || challenge): the challenge not hashed first",
              "servers that skip the clientDataHash step agree with a client that does too"),
        "8.2 = SHA-256(authData || challenge)", "x509.set_extension", nonce_path,
        _nonce_value(lambda b: nonce_extension_value(hashlib.sha256(b.draft.auth_data() + b.draft.challenge)
                                                     .digest())), invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("nonce::long-form-length", "NonceLongFormLength",
        _note("ENCODING", low, "the nonce SEQUENCE written with a long-form length (30 81 24 ...)",
              "parsers slicing value[6:] (py_webauthn, pyattest) read the wrong bytes"),
        "8.2 = 30 81 24 a1 22 04 20 || nonce", "x509.set_extension", nonce_path,
        _nonce_value(lambda b: b"\x30\x81" + nonce_extension_value(_genuine_nonce(b))[1:]),
        invalid(Reason.MALFORMED), resign=True)
    add("nonce::no-explicit-tag", "NonceNoExplicitTag",
        _note("ENCODING", low, "the nonce as SEQUENCE { OCTET STRING } without the [1] tag",
              "lenient parsers that search for the octet string accept it"),
        "8.2 = 30 22 04 20 || nonce", "x509.set_extension", nonce_path,
        _nonce_value(lambda b: b"\x30\x22\x04\x20" + _genuine_nonce(b)), invalid(Reason.MALFORMED), resign=True)
    add("nonce::auth-data-edited", "AuthDataEditedAfterSigning",
        _note("BINDING", crit, "authData's counter changed (7 to 0) after credCert was issued over it",
              "verifiers that skip the nonce accept any authData"),
        "credCert re-issued with 8.2 over authData with signCount 7; authData sent with signCount 0",
        "x509.set_extension", nonce_path, _nonce_over_edited_auth_data, invalid(Reason.CHALLENGE_MISMATCH),
        resign=True)
    # -- step 5 and 9: the key identifier --
    add("key-id::record-other-key", "KeyIdOtherKey",
        _note("BINDING", crit, "the app reports the key id of another key",
              "the server files the attestation under a key it did not attest"),
        "record keyId = SHA-256 of another key's point", "json.set", "/keyId",
        _derived("record_key_id", lambda b: key_id(_other_key(b))), invalid(Reason.KEY_MISMATCH), resign=False)
    add("key-id::sha256-of-spki", "KeyIdOverSpki",
        _note("ENCODING", med, "key id and credentialId = SHA-256 of the SubjectPublicKeyInfo, not of the point",
              "servers hashing the SPKI accept keys identified differently from the device"),
        "credentialId and keyId = SHA-256(SPKI DER)", "bytes.set", "/authData/credentialId", _spki_key_id,
        invalid(Reason.KEY_MISMATCH), resign=True)
    add("credential-id::other-key", "CredentialIdOtherKey",
        _note("BINDING", high, "authData credentialId is another key's identifier", "step 9 catches it"),
        "credentialId = SHA-256 of another key's point", "bytes.set", "/authData/credentialId",
        _derived("credential_id", lambda b: key_id(_other_key(b))), invalid(Reason.KEY_MISMATCH), resign=True)
    add("cose-key::other-key", "CoseKeyOtherKey",
        _note("BINDING", high, "authData's credential public key is not credCert's key",
              "verifiers that take the key from authData use a key Apple never certified"),
        "credentialPublicKey = another P-256 key", "cbor.set", "/authData/credentialPublicKey",
        _derived("cose_key", lambda b: cose_ec2(_other_key(b))), invalid(Reason.KEY_MISMATCH), resign=True)
    # -- step 6: the App ID --
    add("rp-id::other-app", "RpIdOtherApp",
        _note("RELYING_PARTY", crit, "rpIdHash of another team's App ID", "another app's key passes as this app's"),
        "rpIdHash = SHA-256(another App ID)", "bytes.set", "/authData/rpIdHash",
        _set(rp_id="ZZZZZZZZZZ.com.example.other"), invalid(Reason.RELYING_PARTY_MISMATCH), resign=True)
    add("rp-id::bundle-only", "RpIdBundleOnly",
        _note("RELYING_PARTY", med, "rpIdHash = SHA-256 of the bundle id without the team id",
              "servers hashing the bundle id alone accept apps re-signed by another team"),
        "rpIdHash = SHA-256(bundle id)", "bytes.set", "/authData/rpIdHash",
        _derived("rp_id", lambda b: b.draft.app_id.split(".", 1)[1]), invalid(Reason.RELYING_PARTY_MISMATCH),
        resign=True)
    add("rp-id::record-other-app", "RecordOtherApp",
        _note("RELYING_PARTY", high, "the server expects another App ID than the one attested",
              "a server with several apps accepts one app's attestation for another"),
        "record appId replaced", "json.set", "/appId", _record_app_id("ZZZZZZZZZZ.com.example.other"),
        invalid(Reason.RELYING_PARTY_MISMATCH), resign=False)
    # -- step 7: the counter --
    add("counter::one", "CounterNotZero",
        _note("BINDING", high, "authData counter 1 (an attestation's is 0)",
              "an assertion's authData passed off as an attestation's"),
        "signCount = 1, credCert re-issued", "bytes.set", "/authData/signCount", _set(sign_count=1),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    # -- step 8: the environment --
    add("aaguid::development-in-production", "AaguidDevelopmentInProduction",
        _note("ATTRIBUTE_POLICY", high, "aaguid appattestdevelop where the server runs in production",
              "development builds (any device, debug entitlements) pass as production apps"),
        "aaguid = appattestdevelop", "bytes.set", "/authData/aaguid", _set(aaguid=AAGUID["development"]),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("aaguid::production-in-development", "AaguidProductionInDevelopment",
        _note("ATTRIBUTE_POLICY", med, "aaguid of production where the server runs in development",
              "environments mixed up: a verifier accepting either cannot tell them apart"),
        "aaguid = appattest + 7 zero bytes", "bytes.set", "/authData/aaguid", _set(aaguid=AAGUID["production"]),
        invalid(Reason.ATTR_CONFLICT), resign=True, golden="development")
    add("aaguid::zero", "AaguidZero",
        _note("ATTRIBUTE_POLICY", med, "aaguid of sixteen zero bytes", "not an App Attest environment"),
        "aaguid = 00 * 16", "bytes.set", "/authData/aaguid", _set(aaguid=bytes(16)), invalid(Reason.ATTR_CONFLICT),
        resign=True)
    add("aaguid::space-padded", "AaguidSpacePadded",
        _note("ENCODING", low, "aaguid 'appattest' padded with spaces instead of zero bytes",
              "prefix or strip() comparisons accept it"),
        "aaguid = 'appattest       '", "bytes.set", "/authData/aaguid", _set(aaguid=b"appattest       "),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    # -- authData structure --
    add("flags::no-attested-data", "FlagsNoAttestedData",
        _note("ENCODING", med, "flags 0x00: AT clear while attested credential data follows",
              "parsers that read by length, not flags, accept it"),
        "flags = 0x00", "bytes.set", "/authData/flags", _set(flags=0), invalid(Reason.MALFORMED), resign=True)
    add("flags::extension-data", "FlagsExtensionData",
        _note("ENCODING", low, "flags ED set without extensions", "the credential key parse runs into nothing"),
        "flags = AT | ED", "bytes.set", "/authData/flags", _set(flags=FLAG_AT | FLAG_ED), invalid(Reason.MALFORMED),
        resign=True)
    add("auth-data::trailing-byte", "AuthDataTrailingByte",
        _note("ENCODING", low, "a zero byte after the COSE key in authData",
              "parsers that stop after the key ignore it"),
        "00 appended to authData", "bytes.extend", "/authData",
        _derived("cose_key", lambda b: cose_ec2(b.draft.public_key) + b"\x00"), invalid(Reason.MALFORMED),
        resign=True)
    add("auth-data::cose-key-truncated", "AuthDataCoseKeyTruncated",
        _note("ROBUSTNESS", low, "authData ends three bytes into the COSE key's y coordinate",
              "parsers must fail cleanly"),
        "last 3 bytes of authData cut", "bytes.truncate", "/authData/credentialPublicKey",
        _derived("cose_key", lambda b: cose_ec2(b.draft.public_key)[:-3]), invalid(Reason.MALFORMED), resign=True)
    # -- step 1: the chain --
    add("chain::wrong-root", "WrongRoot",
        _note("CHAIN", crit, "credCert and CA of another PKI, whose root is not trusted",
              "any CA can mint App Attest keys"),
        "credCert under a foreign App-Attestation-shaped PKI", "pki.replace", "/attStmt/x5c", _pki(FOREIGN),
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::webauthn-pki", "WebAuthnPki",
        _note("CHAIN", high, "credCert issued under the (emulated) Apple WebAuthn PKI",
              "verifiers trusting every Apple root accept a WebAuthn credCert as App Attest"),
        "credCert and CA from the Apple WebAuthn PKI", "pki.replace", "/attStmt/x5c", _pki(WEBAUTHN),
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::intermediate-missing", "IntermediateMissing",
        _note("CHAIN", high, "x5c without Apple App Attestation CA 1", "credCert's issuer is nowhere"),
        "x5c = [credCert]", "cert.remove", "/attStmt/x5c[1]", _x5c(lambda _b, x5c: x5c[:1]),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::foreign-root-appended", "ForeignRootAppended",
        _note("CHAIN", high, "a foreign self-signed root appended to x5c",
              "verifiers taking x5c[-1] as the root trust or reject by accident"),
        "another PKI's root appended", "cert.append", "/attStmt/x5c[2]",
        _x5c(lambda b, x5c: [*x5c, apple_pki(f"{b.seed}/another-apple", APP_ATTEST).root.certificate
                             .public_bytes(Encoding.DER)]), invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::cred-cert-expired", "CredCertExpired",
        _note("CHAIN", high, "credCert expired a day before validation", "stale attestations are accepted"),
        "credCert valid for 3 days ending the day before", "x509.set_validity", "/attStmt/x5c[0]/validity",
        _cred_cert_validity(timedelta(days=-4), timedelta(days=3)), invalid(Reason.CERT_EXPIRED), resign=True)
    add("chain::cred-cert-forged", "CredCertForged",
        _note("SIGNATURE_BYPASS", crit, "credCert names Apple's CA as issuer but is signed by the attested key",
              "verifiers matching issuer names without signatures accept forged keys"),
        "credCert signed with the attested key", "x509.resign", "/attStmt/x5c[0]/signature", _cred_cert_forged,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("key::p384", "KeyP384",
        _note("KEY_POLICY", med, "credCert, authData and key id for a P-384 key",
              "App Attest keys are P-256: no Secure Enclave made this one"),
        "attested key replaced by a P-384 key throughout (credCert serial kept)", "x509.set_key",
        "/attStmt/x5c[0]/subjectPublicKeyInfo",
        _p384, invalid(Reason.KEY_POLICY), resign=True)
    # -- the statement and its CBOR --
    add("stmt::fmt-apple", "FmtApple",
        _note("ENCODING", med, "fmt apple (WebAuthn anonymous) around an App Attest statement",
              "pyattest never reads fmt"),
        "fmt = apple", "cbor.set", "/fmt", _set(fmt="apple"), invalid(Reason.UNSUPPORTED), resign=False)
    add("stmt::receipt-missing", "ReceiptMissing",
        _note("BASIC", med, "attStmt has no receipt", "the server cannot ask Apple for fraud metrics"),
        "attStmt.receipt removed", "cbor.remove", "/attStmt/receipt", _statement(lambda stmt: stmt.pop("receipt")),
        invalid(Reason.MALFORMED), resign=False)
    add("stmt::receipt-text", "ReceiptText",
        _note("ENCODING", low, "receipt as a text string", "typed decoders must refuse it"),
        "attStmt.receipt = base64 text", "cbor.set", "/attStmt/receipt",
        _statement(lambda stmt: stmt.__setitem__("receipt", b64(stmt["receipt"]))), invalid(Reason.MALFORMED),
        resign=False)
    add("receipt::other-key", "ReceiptOtherKey",
        _note("BINDING", high, "the receipt is Apple's receipt of another key's attestation (field 3 holds that "
                               "key's credCert)",
              "the server asks Apple for the fraud metric of another key: a device serving many attestations "
              "passes off a fresh key's clean count"),
        "attStmt.receipt = the receipt of another P-256 key's credCert, signed by the receipt key", "cms.replace",
        "/attStmt/receipt/eContent/3", _receipt_of_other_key, invalid(Reason.KEY_MISMATCH), resign=True)
    add("receipt::other-app", "ReceiptOtherApp",
        _note("RELYING_PARTY", med, "the receipt names another App ID (field 2) than the attested one",
              "the server stores a receipt Apple keeps for another app"),
        "receipt field 2 = another App ID, re-signed by the receipt key", "cms.set", "/attStmt/receipt/eContent/2",
        _receipt_naming("ZZZZZZZZZZ.com.example.other"), invalid(Reason.RELYING_PARTY_MISMATCH), resign=True)
    add("receipt::not-cms", "ReceiptNotCms",
        _note("ENCODING", low, "the receipt is a DER SEQUENCE of 180 random bytes, not a CMS SignedData",
              "Apple's steps, fido2-net-lib and pyattest never read it (structural accepts); Apple's fraud service "
              "cannot use it (strict rejects)"),
        "attStmt.receipt = 30 81 b4 || 180 seeded bytes", "cbor.set", "/attStmt/receipt", _stand_in_receipt,
        strict_only(Reason.MALFORMED), resign=False)
    add("stmt::x5c-missing", "X5cMissing",
        _note("CHAIN", high, "attStmt has no x5c", "nothing is attested"),
        "attStmt.x5c removed", "cbor.remove", "/attStmt/x5c", _statement(lambda stmt: stmt.pop("x5c")),
        invalid(Reason.MALFORMED), resign=False)
    add("stmt::extra-member", "StatementExtraMember",
        _note("BASIC", low, "attStmt carries an alg member Apple never writes",
              "structural verifiers tolerate it; the strict profile allows only x5c and receipt"),
        "attStmt.alg = -7", "cbor.insert", "/attStmt/alg", _set(statement_extra={"alg": -7}),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    add("cbor::trailing-bytes", "CborTrailingBytes",
        _note("ENCODING", low, "a zero byte after the attestation object", "stream decoders ignore it"),
        "00 appended", "bytes.extend", "/attestation", lambda b: setattr(b, "attestation_edit", lambda d: d + b"\0"),
        invalid(Reason.MALFORMED), resign=False)
    add("cbor::auth-data-missing", "AuthDataMissing",
        _note("BASIC", high, "the attestation object has no authData", "no rpIdHash, counter or key id to check"),
        "authData removed", "cbor.remove", "/authData", _document(lambda doc: doc.pop("authData")),
        invalid(Reason.MALFORMED), resign=False)
    add("record::key-id-base64url", "KeyIdBase64Url",
        _note("ENCODING", low, "the key id stored as base64url instead of the standard base64 the app receives",
              "servers decoding leniently accept either"),
        "keyId re-encoded unpadded base64url", "json.set", "/keyId",
        _record_text(lambda b: b64(b.draft.key_id), lambda b: b64url(b.draft.key_id)), invalid(Reason.MALFORMED),
        resign=False)
    add("record::environment-unknown", "EnvironmentUnknown",
        _note("BASIC", low, "the record's environment is 'sandbox'", "only development and production exist"),
        "environment = sandbox", "json.set", "/environment",
        _record_text(lambda _b: '"production"', lambda _b: '"sandbox"'), invalid(Reason.MALFORMED), resign=False)
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the apple-appattest vectors use, with its definition."""
    return flag_notes(PROVENANCE_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The apple-appattest vectors for ``seed``: a golden per environment, then every mutation."""
    anchors = (apple_pki(seed, APP_ATTEST).root.certificate,)
    goldens = [golden_case(seed, anchors, f"{APPATTEST_FORMAT}::golden::{environment}",
                           f"unmutated App Attest attestation of a P-256 key, {environment} environment", valid(),
                           AppBench.open(seed, environment).evidence()) for environment in GOLDENS]
    return goldens + mutation_cases(seed, anchors, mutations(), lambda name: AppBench.open(seed, name))
