"""The tpm-acme vector set: golden device-attest-01 answers and one-defect mutations.

The world is the webauthn catalogue's (same seed, device, TPM and keys) with the ACME AK, whose
certificate names the TPM's EK URN as permanentIdentifier. Each mutation edits one field of a
golden :class:`AcmeDraft`, which is then rendered (``Resigned`` when the AK signs the defect,
``Stale`` when it does not).
"""

from __future__ import annotations

import hashlib

import cbor2
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from hsmsim.device import AttestationRequest
from hsmsim.formats.tpm.acme import AcmeDraft, acme_draft_for, jwk_thumbprint, key_authorization
from hsmsim.formats.tpm.catalogue import (
    ATTEST_TIME,
    COMMON_NOTES,
    Operator,
    TpmKit,
    Workbench,
    _ak_reissue,
    _parameters,
    _set,
    _set_member,
    _statement,
    build_cases,
    in_catalogue_order,
    provided_rsa_ak,
    shared_mutations,
)
from hsmsim.formats.tpm.format import TpmAcmeFormat
from hsmsim.formats.tpm.marshal import TpmAlg
from hsmsim.formats.tpm.pki import tpm_san
from hsmsim.formats.tpm.structures import Scheme
from hsmsim.keystore.base import KeySpec
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.vectors import FlagNote, Severity, VectorCase
from hsmsim.pki.builder import UTF8, Ext, build_csr, name
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.container import b64url, cbor_encode

STEP_CA = "smallstep acme/challenge.go (doTPMAttestationFormat)"
SPEC = "shared/specs/other_formats.md 1.6"


def acme_draft(kit: TpmKit, spec: str) -> AcmeDraft:
    """The golden draft of ``spec``: exactly what the format's ``generate`` renders for that key."""
    key = kit.keys[spec]
    request = AttestationRequest(device=kit.device, partition="default", key=key, key_signer=kit.store.signer(key),
                                 attesting=kit.identity, at=ATTEST_TIME)
    return acme_draft_for(request, kit.tpm.pki_profile)


def _acme(bench: Workbench) -> AcmeDraft:
    assert isinstance(bench.draft, AcmeDraft)
    return bench.draft


def _other_account(bench: Workbench) -> None:
    draft = _acme(bench)
    other = derive_key(bench.kit.seed, "tpm-acme/other-account", KeySpec.parse("ec-p256")).public_key()
    draft.extra_data = hashlib.sha256(key_authorization(draft.token, jwk_thumbprint(other))).digest()


def _token_only(bench: Workbench) -> None:
    bench.draft.extra_data = hashlib.sha256(_acme(bench).token.encode()).digest()


def _short_token(bench: Workbench) -> None:
    """A 15-byte token (120 bits), which the TPM answers as it would any other."""
    _acme(bench).token = b64url(drbg(bench.kit.seed, "tpm-acme/short-token").read(15))


def _csr_of_other_key(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-3072"]
    csr = build_csr(name(("CN", _acme(bench).label, UTF8)), bench.kit.store.signer(other))
    _acme(bench).csr_pem = csr.public_bytes(Encoding.PEM)


def _other_identifier(bench: Workbench) -> None:
    _acme(bench).expected_identifier = "urn:ek:sha256:" + "A" * 43 + "="


def _without_permanent_identifier(bench: Workbench) -> None:
    model = bench.kit.tpm.model
    _ak_reissue(extensions=lambda exts: [Ext(tpm_san(model), critical=True)
                                         if e.value.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME else e
                                         for e in exts])(bench)


def _with_fmt(fmt: str) -> Operator:
    def edit(encoded: bytes) -> bytes:
        document = cbor2.loads(encoded)
        document["fmt"] = fmt
        return cbor_encode(document)
    return _set(object_edit=edit)


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC, STEP_CA))


def mutations() -> list[Mutation]:
    """Every tpm-acme defect, in catalogue order."""
    m = shared_mutations("tpm-acme", (SPEC, STEP_CA))

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "ec-p256") -> None:
        m.append(Mutation(f"tpm-acme::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

    add("signature::bare-der", "SigBareDer",
        _note("ENCODING", high, "sig is the bare DER ECDSA signature (the WebAuthn convention), not a TPMT_SIGNATURE",
              "a verifier that accepts both conventions widens what it parses as a signature",
              SPEC, "shared/specs/other_formats.md 1.3"),
        "genuine AK signature, bare DER", "sig.encode", "attStmt.sig", _set(signature_encoding="bare"),
        invalid(Reason.SIGNATURE_INVALID), resign=True)
    add("signature::alg-rs256-for-ecdsa", "AlgMismatch",
        _note("WRONG_PRIMITIVE", high, "attStmt.alg RS256 while the TPMT_SIGNATURE is ECDSA",
              "a verifier that picks the algorithm from alg alone can be steered to another primitive"),
        "attStmt.alg -257", "cbor.set", "attStmt.alg", _statement(_set_member("alg", -257)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::alg-es384", "AlgNotAccepted",
        _note("WRONG_PRIMITIVE", med, "attStmt.alg ES384, which step-ca does not accept (ES256, RS256, RS1 only)",
              "a verifier outside its documented algorithms"),
        "attStmt.alg -35", "cbor.set", "attStmt.alg", _statement(_set_member("alg", -35)),
        invalid(Reason.UNSUPPORTED), resign=False)
    add("binding::extra-data-token-only", "ExtraDataTokenOnly",
        _note("BINDING", crit, "extraData is SHA-256(token), without the account key thumbprint",
              "an answer is not bound to the ACME account: another account can replay it", "RFC 8555 8.1"),
        "extraData = SHA-256(token), re-signed", "tpm.set", "certInfo.extraData", _token_only,
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::extra-data-other-account", "ExtraDataOtherAccount",
        _note("BINDING", crit, "extraData binds the token to another account's key thumbprint",
              "one account's device attestation is accepted for another account"),
        "keyAuthorization with another account's thumbprint, re-signed", "tpm.set", "certInfo.extraData",
        _other_account, invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::token-15-bytes", "TokenShort",
        _note("BINDING", med, "the order's challenge token is 15 bytes (120 bits)",
              "RFC 8555 8.3 requires at least 128 bits of entropy: a verifier that only compares extraData with "
              "SHA-256(keyAuthorization) accepts an answer to a guessable challenge", "RFC 8555 8.3"),
        "challenge.token = base64url of 15 bytes, extraData over its keyAuthorization, re-signed", "record.set",
        "challenge.token", _short_token, invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::csr-other-key", "CsrOtherKey",
        _note("BINDING", crit, "the finalize CSR requests another key than the attested one",
              "the certificate is issued for a key the TPM never attested"),
        "CSR of the RSA-3072 key", "csr.replace", "<label>.csr", _csr_of_other_key,
        invalid(Reason.KEY_MISMATCH), resign=True)
    add("binding::csr-missing", "CsrMissing",
        _note("BINDING", high, "no finalize CSR beside the answer", "nothing ties the attested key to the order"),
        "<label>.csr removed", "file.remove", "<label>.csr", _set(csr_pem=b""),
        invalid(Reason.MISSING_INPUT), resign=True)
    add("binding::identifier-mismatch", "PermanentIdentifierMismatch",
        _note("BINDING", crit, "the order's permanent-identifier is not the AK certificate's permanentIdentifier",
              "a certificate names a device other than the one that attested"),
        "identifier.value of another EK", "record.set", "identifier.value", _other_identifier,
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("akcert::no-permanent-identifier", "AkCertNoPermanentIdentifier",
        _note("PROFILE", Severity.LOW, "AK certificate SAN without permanentIdentifier",
              "step-ca accepts it (the device is then not named); the strict profile requires the device's identity"),
        "AK certificate re-issued with the TCG directoryName only", "cert.reissue", "x5c[0]/subjectAltName",
        _without_permanent_identifier, strict_only(Reason.ATTR_MISSING), resign=True)
    add("statement::fmt-android-key", "FmtNotTpm",
        _note("TPM_STRUCTURE", med, "attObj fmt says android-key over a tpm statement",
              "a verifier that ignores fmt parses the statement with the wrong rules"),
        "fmt = android-key", "cbor.set", "fmt", _with_fmt("android-key"), invalid(Reason.UNSUPPORTED), resign=True)
    add("variant::scheme-ecdsa", "PubAreaSchemeEcdsa",
        _note("BASIC", Severity.INFO, "pubArea scheme ECDSA/SHA-256, as tpm2_create -G ecc256:ecdsa writes it",
              "none: ACME (unlike WebAuthn) does not require a NULL scheme"),
        "parameters.scheme = ECDSA(SHA-256), certified and re-signed", "tpm.set", "pubArea.parameters.scheme",
        _parameters(scheme=Scheme(TpmAlg.ECDSA, TpmAlg.SHA256)), valid(), resign=True)
    add("variant::rsa-ak", "RsaAk",
        _note("BASIC", Severity.INFO, "an RSA-2048 AK: RS256 with a TPMT_SIGNATURE of RSASSA/SHA-256",
              "none: a correct verifier accepts it"),
        "AK RSA-2048, alg RS256", "ak.replace", "attStmt.alg", provided_rsa_ak, valid(), resign=True)
    return in_catalogue_order(m)


def notes() -> dict[str, FlagNote]:
    """Every flag the tpm-acme vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations())


def vector_cases(seed: str, fmt: TpmAcmeFormat) -> list[VectorCase]:
    """The tpm-acme vectors for ``seed`` by ``fmt``'s TPM: goldens first, then every mutation of the catalogue."""
    kit = TpmKit.build(seed, fmt)
    return build_cases("tpm-acme", seed, kit, lambda spec: acme_draft(kit, spec), mutations(),
                       "device-attest-01 answer")
