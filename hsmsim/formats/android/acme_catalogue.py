"""The android-acme vector set: ACME device-attest-01 ``android-key`` statements and their defects.

Goldens reuse the android-key workbench with ``attestationChallenge = keyAuthorization`` and the device's
serial attested (attestationIdSerial), beside the order's identifier (that serial) and the finalize CSR; the
defects here are the statement's own (CBOR, fmt, alg, sig, x5c, keyAuthorization binding) and its binding to
the order (identifier, CSR). The chain and KeyDescription defects are the android-key set's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hsmsim import mutate
from hsmsim.formats.android import cbor
from hsmsim.formats.android.acme import (
    COSE_RS256,
    FORMAT,
    attestation_object,
    finalize_csr,
    key_authorization,
    sign_key_authorization,
)
from hsmsim.formats.android.catalogue import ATTEST_TIME, AndroidKit, Workbench, golden_case, mutation_cases
from hsmsim.formats.android.keydescription import SecurityLevel
from hsmsim.formats.android.layout import ATTOBJ_SUFFIX, CSR_SUFFIX, IDENTIFIER_SUFFIX, KEYAUTH_SUFFIX
from hsmsim.keystore.base import KeySpec
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Severity, VectorCase
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.container import b64url, cbor_decode

GOLDENS = ("tee-rkp-ec-p256", "tee-rkp-rsa-3072", "tee-2026-root-ec-p256", "strongbox-rkp-no-root-ec-p256")
REFS = ("shared/specs/round2_formats.md 2.4", "draft-ietf-acme-device-attest", "smallstep/certificates acme")


@dataclass
class AcmeBench:
    """An android-key workbench plus the statement around it."""

    chain: Workbench
    key_auth: bytes | None
    identifier: bytes | None
    csr: bytes | None
    alg: int = 0
    sig: bytes = b""
    fmt: str = "android-key"
    extra: dict[str, object] = field(default_factory=dict)
    attobj_override: bytes | None = None

    @classmethod
    def open(cls, kit: AndroidKit, name: str) -> AcmeBench:
        """The golden ``name``: the chain made for the keyAuthorization, the statement signed, the order naming the
        device's serial, the finalize CSR for the attested key."""
        key_auth = key_authorization(kit.seed, name, ATTEST_TIME)
        chain = Workbench.golden_for(kit, name, key_auth)
        key = chain.private_key
        assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        bench = cls(chain, key_auth, kit.device.serial.encode(), finalize_csr(key, name))
        bench.resign()
        return bench

    def resign(self) -> None:
        """Sign the keyAuthorization with the attested key (the genuine statement signature)."""
        assert self.key_auth is not None
        self.sign(self.key_auth)

    def sign(self, message: bytes) -> None:
        """Sign ``message`` with the attested key as the statement's ``alg``/``sig``."""
        key = self.chain.private_key
        assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        self.alg, self.sig = sign_key_authorization(key, message)

    def attobj(self) -> bytes:
        if self.attobj_override is not None:
            return self.attobj_override
        return attestation_object([der for der, _ in self.chain.encodings()], self.alg, self.sig, fmt=self.fmt,
                                  extra=self.extra)

    def evidence(self) -> Evidence:
        stem = self.chain.golden.name
        files = {f"{stem}{ATTOBJ_SUFFIX}": self.attobj()}
        if self.key_auth is not None:
            files[f"{stem}{KEYAUTH_SUFFIX}"] = self.key_auth
        if self.identifier is not None:
            files[f"{stem}{IDENTIFIER_SUFFIX}"] = self.identifier
        if self.csr is not None:
            files[f"{stem}{CSR_SUFFIX}"] = self.csr
        return Evidence(FORMAT, files, f"{stem}{ATTOBJ_SUFFIX}")


Operator = Callable[[AcmeBench], None]


def _statement(bench: AcmeBench, fn: Callable[[dict[str, object]], None]) -> None:
    document = cbor_decode(bench.attobj(), "attObj")
    assert isinstance(document, dict) and isinstance(document["attStmt"], dict)
    fn(document["attStmt"])
    bench.attobj_override = cbor.encode(document)


def _drop(member: str) -> Operator:
    def remove(stmt: dict[str, object]) -> None:
        del stmt[member]
    return lambda bench: _statement(bench, remove)


def _raw_ecdsa(bench: AcmeBench) -> None:
    r, s = decode_dss_signature(bench.sig)
    bench.sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _sign_other(message: Callable[[AcmeBench], bytes]) -> Operator:
    return lambda bench: bench.sign(message(bench))


def _short_token(bench: AcmeBench) -> None:
    """A keyAuthorization whose token is 15 bytes (120 bits), which the device attests and signs as any other."""
    assert bench.key_auth is not None
    token = b64url(drbg(bench.chain.kit.seed, "android/acme/short-token").read(15))
    bench.key_auth = token.encode() + b"." + bench.key_auth.split(b".", 1)[1]
    _chain_challenge(lambda b: b.key_auth or b"")(bench)


def _chain_challenge(challenge: Callable[[AcmeBench], bytes]) -> Operator:
    def apply(bench: AcmeBench) -> None:
        bench.chain.description = replace(bench.chain.description, attestation_challenge=challenge(bench))
        bench.chain.resign()
    return apply


def _software_level(bench: AcmeBench) -> None:
    software = SecurityLevel.SOFTWARE
    bench.chain.description = replace(bench.chain.description, attestation_security_level=software,
                                      keymint_security_level=software)
    bench.chain.resign()


def _unattested_serial(bench: AcmeBench) -> None:
    hw = bench.chain.description.hardware_enforced
    bench.chain.description = replace(bench.chain.description,
                                      hardware_enforced=replace(hw, attestation_id_serial=None))
    bench.chain.resign()


def _other_key_csr(bench: AcmeBench) -> None:
    other = derive_key(bench.chain.kit.seed, f"{FORMAT}/unattested-csr-key", KeySpec.parse("ec-p256"))
    assert isinstance(other, ec.EllipticCurvePrivateKey)
    bench.csr = finalize_csr(other, bench.chain.golden.name)


def _indefinite_x5c(bench: AcmeBench) -> None:
    document = cbor_decode(bench.attobj(), "attObj")
    assert isinstance(document, dict) and isinstance(document["attStmt"], dict)
    x5c = document["attStmt"]["x5c"]
    assert isinstance(x5c, list)
    definite = cbor.encode(x5c)
    indefinite = b"\x9f" + b"".join(cbor.encode(cert) for cert in x5c) + b"\xff"
    bench.attobj_override = mutate.replace_once(bench.attobj(), definite, indefinite)


def _duplicate_fmt(bench: AcmeBench) -> None:
    body = bench.attobj()
    assert body[0] == 0xA2  # a map of two entries: fmt, attStmt
    bench.attobj_override = b"\xa3" + cbor.encode("fmt") + cbor.encode("tpm") + body[1:]


def _nested(bench: AcmeBench) -> None:
    _statement(bench, lambda stmt: stmt.__setitem__("ext", [[[[[[[[[[[1]]]]]]]]]]]))


def _note(bug_type: str, severity: Severity, description: str, effect: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, REFS)


def mutations() -> list[Mutation]:
    """Every android-acme defect, in catalogue order."""
    m: list[Mutation] = []
    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "tee-rkp-ec-p256") -> None:
        m.append(Mutation(f"{FORMAT}::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    add("sig::bit-flip", "AcmeSigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of sig flipped", "the key authorization is not proven"),
        "last bit of attStmt.sig inverted", "bytes.flip_bit", "/attStmt/sig",
        lambda bench: setattr(bench, "sig", mutate.flip_bit(bench.sig, -1)), invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("sig::other-key-authorization", "AcmeSigOtherKeyAuthorization",
        _note("BINDING", crit, "sig over another challenge's keyAuthorization",
              "a statement made for another order or account is replayed"),
        "attStmt.sig over a keyAuthorization for another token", "sig.replace", "/attStmt/sig",
        _sign_other(lambda bench: key_authorization(bench.chain.kit.seed, "another-order", ATTEST_TIME)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("sig::over-sha256-digest", "AcmeSigOverDigest",
        _note("ENCODING", med, "sig over the 32-byte SHA-256 of the keyAuthorization, hashed once more",
              "clients hashing twice, or verifiers not hashing, disagree"),
        "attStmt.sig = ES256(SHA-256(keyAuthorization))", "sig.replace", "/attStmt/sig",
        _sign_other(lambda bench: hashlib.sha256(bench.key_auth or b"").digest()),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("sig::raw-r-s", "AcmeSigRawRs",
        _note("ENCODING", low, "ECDSA sig as raw r||s (64 bytes) instead of DER",
              "COSE-minded verifiers accept what WebAuthn/ACME encode as DER"),
        "attStmt.sig re-encoded as 32-byte r then 32-byte s", "sig.encoding", "/attStmt/sig", _raw_ecdsa,
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("sig::alg-mismatch", "AcmeAlgMismatch",
        _note("WRONG_PRIMITIVE", med, "alg -257 (RS256) for a P-256 key", "verifiers trusting alg misverify"),
        "attStmt.alg set to -257", "cbor.set", "/attStmt/alg", lambda bench: setattr(bench, "alg", COSE_RS256),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("stmt::sig-missing", "AcmeSigMissing",
        _note("BINDING", high, "no sig in attStmt", "verifiers that skip absent signatures accept any client"),
        "attStmt.sig removed", "cbor.remove", "/attStmt/sig", _drop("sig"), invalid(Reason.MALFORMED), resign=False)
    add("stmt::x5c-missing", "AcmeX5cMissing",
        _note("CHAIN", high, "no x5c in attStmt", "nothing is attested"), "attStmt.x5c removed", "cbor.remove",
        "/attStmt/x5c", _drop("x5c"), invalid(Reason.MALFORMED), resign=False)
    add("stmt::fmt-tpm", "AcmeFmtNotAndroid",
        _note("ENCODING", med, "fmt tpm around an android-key statement", "verifiers ignoring fmt mis-dispatch"),
        "fmt set to tpm", "cbor.set", "/fmt", lambda bench: setattr(bench, "fmt", "tpm"),
        invalid(Reason.UNSUPPORTED), resign=False)
    add("challenge::not-key-authorization", "AcmeChallengeNotKeyAuthorization",
        _note("BINDING", crit, "attestationChallenge is another value than the keyAuthorization (sig still valid)",
              "verifiers checking only sig accept a key attested for another purpose"),
        "attestationChallenge set to another order's keyAuthorization, leaf re-signed", "asn1.set",
        "/x5c[0]/KeyDescription/attestationChallenge",
        _chain_challenge(lambda bench: key_authorization(bench.chain.kit.seed, "another-order", ATTEST_TIME)),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("challenge::sha256-of-key-authorization", "AcmeChallengeDigest",
        _note("BINDING", med, "attestationChallenge = SHA-256(keyAuthorization) (the WebAuthn clientDataHash habit)",
              "servers comparing the other form reject genuine devices, or accept both"),
        "attestationChallenge set to SHA-256(keyAuthorization), leaf re-signed", "asn1.set",
        "/x5c[0]/KeyDescription/attestationChallenge",
        _chain_challenge(lambda bench: hashlib.sha256(bench.key_auth or b"").digest()),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("challenge::token-15-bytes", "AcmeTokenShort",
        _note("BINDING", med, "the keyAuthorization's token is 15 bytes (120 bits); chain and sig are made for it",
              "RFC 8555 8.3 requires at least 128 bits of entropy: a verifier that only compares the challenge with "
              "the keyAuthorization accepts an answer to a guessable challenge"),
        "keyAuthorization with a 15-byte token, attestationChallenge and sig over it, leaf re-signed", "file.replace",
        "<golden>.keyauth", _short_token, invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("file::key-authorization-missing", "AcmeKeyAuthorizationMissing",
        _note("BINDING", high, "no .keyauth beside the statement", "nothing to bind the statement to"),
        "the .keyauth file removed", "file.remove", "<golden>.keyauth", lambda bench: setattr(bench, "key_auth", None),
        invalid(Reason.MISSING_INPUT), resign=False)
    add("file::identifier-missing", "AcmeIdentifierMissing",
        _note("BINDING", high, "no .identifier beside the statement: the order's permanent-identifier is unknown",
              "a verifier that never reads the order's identifier certifies any device's key for any order"),
        "the .identifier file removed", "file.remove", "<golden>.identifier",
        lambda bench: setattr(bench, "identifier", None), invalid(Reason.MISSING_INPUT), resign=False)
    add("identifier::other-device", "AcmeIdentifierOtherDevice",
        _note("BINDING", crit, "the order names another device's serial than the attested attestationIdSerial",
              "a verifier that skips the identifier check issues a certificate naming a device that never "
              "attested the key"),
        "the .identifier file holds another serial", "file.replace", "<golden>.identifier",
        lambda bench: setattr(bench, "identifier", b"HSMSIM0THERDEVICE"), invalid(Reason.ATTR_CONFLICT),
        resign=False)
    add("identifier::serial-not-attested", "AcmeSerialNotAttested",
        _note("BINDING", med, "no attestationIdSerial in hardwareEnforced (no device ID attestation)",
              "nothing ties the key to the device the order names (structural accepts: ID attestation needs a "
              "device owner; strict, as step-ca, requires it)"),
        "attestationIdSerial removed from hardwareEnforced, leaf re-signed", "asn1.remove",
        "/x5c[0]/KeyDescription/hardwareEnforced/attestationIdSerial", _unattested_serial,
        strict_only(Reason.ATTR_MISSING), resign=True)
    add("csr::missing", "AcmeCsrMissing",
        _note("BINDING", high, "no finalize CSR beside the statement",
              "a verifier that never reads the CSR cannot tie the certificate it issues to the attested key"),
        "the .csr file removed", "file.remove", "<golden>.csr", lambda bench: setattr(bench, "csr", None),
        invalid(Reason.MISSING_INPUT), resign=False)
    add("csr::other-key", "AcmeCsrOtherKey",
        _note("BINDING", crit, "the finalize CSR requests a software P-256 key no TEE attested",
              "a verifier that skips the CSR binding certifies an unattested (exportable) key as hardware-backed"),
        "the .csr file replaced by a CSR of another key", "file.replace", "<golden>.csr", _other_key_csr,
        invalid(Reason.KEY_MISMATCH), resign=False)
    add("level::software", "AcmeSecurityLevelSoftware",
        _note("ATTRIBUTE_POLICY", crit, "a Software-level KeyDescription (step-ca requires level >= 1)",
              "a software key passes as hardware-backed"),
        "both security levels Software, leaf re-signed", "asn1.set", "/x5c[0]/KeyDescription/attestationSecurityLevel",
        _software_level, invalid(Reason.SECURITY_LEVEL), resign=True)
    add("cbor::trailing-bytes", "AcmeCborTrailingBytes",
        _note("ENCODING", low, "a zero byte after the CBOR map", "stream decoders ignore it"),
        "00 appended to the attestation object", "bytes.extend", "<golden>.attobj",
        lambda bench: setattr(bench, "attobj_override", bench.attobj() + b"\x00"), invalid(Reason.MALFORMED),
        resign=False)
    add("cbor::indefinite-length", "AcmeCborIndefiniteLength",
        _note("ENCODING", low, "x5c as an indefinite-length array", "CTAP2-canonical decoders refuse it"),
        "x5c head 0x8N replaced by 0x9F ... 0xFF", "cbor.encoding", "/attStmt/x5c", _indefinite_x5c,
        invalid(Reason.MALFORMED), resign=False)
    add("cbor::duplicate-fmt", "AcmeCborDuplicateKey",
        _note("ENCODING", high, "fmt given twice (tpm, then android-key)",
              "first-wins and last-wins decoders disagree"),
        "a first fmt tpm entry inserted", "cbor.duplicate", "/fmt", _duplicate_fmt, invalid(Reason.ATTR_CONFLICT),
        resign=False)
    add("cbor::deep-nesting", "AcmeCborDeepNesting",
        _note("ROBUSTNESS", med, "an extra attStmt member nested eleven arrays deep", "recursive decoders overflow"),
        "attStmt.ext = [[[[[[[[[[[1]]]]]]]]]]]", "cbor.insert", "/attStmt/ext", _nested,
        invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("variant::auth-data-present", "AcmeAuthDataPresent",
        _note("BASIC", Severity.INFO, "authData present (ACME says it SHOULD be omitted)",
              "none: a correct verifier ignores it"),
        "authData of 37 zero bytes added", "cbor.insert", "/authData",
        lambda bench: bench.extra.__setitem__("authData", bytes(37)), valid(), resign=False)
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the android-acme vectors use, with its definition."""
    return flag_notes(PROVENANCE_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The android-acme vectors for ``seed``: goldens, then every mutation."""
    built = AndroidKit.build(seed)
    kit = replace(built, options=replace(built.options, attest_serial=True))
    made: dict[str, AcmeBench] = {}

    def open_copy(kit: AndroidKit, name: str) -> AcmeBench:
        """The golden ``name`` made (its leaf and statement signed) once; each mutation edits its own copy."""
        if name not in made:
            made[name] = AcmeBench.open(kit, name)
        golden = made[name]
        return replace(golden, chain=replace(golden.chain, above=list(golden.chain.above)), extra=dict(golden.extra))

    goldens = [golden_case(kit, f"{FORMAT}::golden::{name}", f"unmutated device-attest-01 statement, {name} chain",
                           ("Golden",), valid(), open_copy(kit, name).evidence()) for name in GOLDENS]
    return goldens + mutation_cases(kit, mutations(), open_copy)
