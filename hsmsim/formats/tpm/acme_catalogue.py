"""The tpm-acme vector set: golden device-attest-01 answers and one-defect mutations.

The world is the webauthn catalogue's (same seed, device, TPM and keys) with the ACME AK, whose
certificate names the TPM's EK URN as permanentIdentifier. Each mutation edits one field of a
golden :class:`AcmeDraft`, which is then rendered (``Resigned`` when the AK signs the defect,
``Stale`` when it does not).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import cbor2
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from hsmsim.device import AttestationRequest
from hsmsim.formats.tpm.acme import AcmeDraft, TpmAcmeFormat, acme_draft_for, jwk_thumbprint, key_authorization
from hsmsim.formats.tpm.catalogue import (
    ATTEST_TIME,
    GOLDEN_SPECS,
    IMPORTED,
    STRICT_KEY_POLICY_NOTE,
    VALIDATION_TIME,
    Operator,
    TpmKit,
    Workbench,
    _ak_reissue,
    _attest,
    _attributes,
    _flip,
    _foreign_pki,
    _other_name,
    _parameters,
    _quote,
    _set,
    _set_member,
    _statement,
    _without,
)
from hsmsim.formats.tpm.generate import chain_der
from hsmsim.formats.tpm.marshal import TpmAlg, TpmaObject
from hsmsim.formats.tpm.pki import tpm_san
from hsmsim.formats.tpm.structures import Scheme
from hsmsim.formats.tpm.webauthn import cbor_encode
from hsmsim.keystore.base import KeySpec
from hsmsim.model.catalogue import Mutation, invalid, strict_only, valid
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, Ext, build_csr, name
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason

STEP_CA = "smallstep acme/challenge.go (doTPMAttestationFormat)"
SPEC = "shared/specs/other_formats.md 1.6"


def acme_kit(seed: str) -> TpmKit:
    """The webauthn kit of ``seed`` with the ACME AK as its attestation identity."""
    kit = TpmKit.build(seed)
    return replace(kit, identity=TpmAcmeFormat().provision(kit.device, "default"))


def acme_draft(kit: TpmKit, spec: str) -> AcmeDraft:
    """The golden draft of ``spec``: exactly what the format's ``generate`` renders for that key."""
    key = kit.keys[spec]
    request = AttestationRequest(device=kit.device, partition="default", key=key, key_signer=kit.store.signer(key),
                                 attesting=kit.identity, at=ATTEST_TIME)
    return acme_draft_for(request)


def _acme(bench: Workbench) -> AcmeDraft:
    assert isinstance(bench.draft, AcmeDraft)
    return bench.draft


def _other_account(bench: Workbench) -> None:
    draft = _acme(bench)
    other = derive_key(bench.kit.seed, "tpm-acme/other-account", KeySpec.parse("ec-p256")).public_key()
    draft.extra_data = hashlib.sha256(key_authorization(draft.token, jwk_thumbprint(other))).digest()


def _token_only(bench: Workbench) -> None:
    bench.draft.extra_data = hashlib.sha256(_acme(bench).token.encode()).digest()


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


def _rsa_acme_ak(bench: Workbench) -> None:
    kit = bench.kit
    key = derive_key(kit.seed, f"tpm/{kit.device.serial}/ak-rsa", KeySpec.parse("rsa-2048"))
    bench.draft.identity = TpmAcmeFormat().provision(
        kit.device, "default", attesting=("rsa-ak", key, kit.device.attestation_created))


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
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "ec-p256") -> None:
        m.append(Mutation(f"tpm-acme::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM
    forged = "a verifier would accept TPM claims the AK never signed"

    add("signature::bare-der", "SigBareDer",
        _note("ENCODING", high, "sig is the bare DER ECDSA signature (the WebAuthn convention), not a TPMT_SIGNATURE",
              "a verifier that accepts both conventions widens what it parses as a signature",
              SPEC, "shared/specs/other_formats.md 1.3"),
        "genuine AK signature, bare DER", "sig.encode", "attStmt.sig", _set(signature_encoding="bare"),
        invalid(Reason.SIGNATURE_INVALID), resign=True)
    add("signature::sig-bit-flip", "SigBitFlip",
        _note("SIGNATURE_BYPASS", crit, "one bit of the TPMT_SIGNATURE's s flipped", forged),
        "last bit of attStmt.sig inverted", "bytes.flip_bit", "attStmt.sig", _statement(_flip("sig", -1)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::other-key", "SigByOtherKey",
        _note("SIGNATURE_BYPASS", crit, "certInfo signed by a P-256 key that is not the certified AK",
              "anyone with a key could mint TPM attestations"),
        "an uncertified P-256 key signs certInfo", "sig.sign", "attStmt.sig",
        lambda b: setattr(b.draft, "signer", derive_key(b.kit.seed, "webauthn/foreign-ak", KeySpec.parse("ec-p256"))),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
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
    add("attest::magic-not-generated", "MagicNotGenerated",
        _note("TPM_STRUCTURE", crit, "certInfo.magic is not TPM_GENERATED_VALUE",
              "anything the AK signs could pass as a TPM attestation"),
        "magic 0x00544347, re-signed", "tpm.set", "certInfo.magic", _attest(lambda a: replace(a, magic=0x00544347)),
        invalid(Reason.MALFORMED), resign=True)
    add("attest::type-quote", "TypeQuote",
        _note("TPM_STRUCTURE", high, "certInfo is a TPM2_Quote, not a TPM2_Certify",
              "a quote of PCRs would pass as a key certification"),
        "type 0x8018 with a TPMS_QUOTE_INFO body, re-signed", "tpm.set", "certInfo.type", _attest(_quote),
        invalid(Reason.MALFORMED), resign=True)
    add("attest::trailing-bytes", "CertInfoTrailingBytes",
        _note("ENCODING", med, "two bytes after TPMS_CERTIFY_INFO, covered by the signature",
              "a lenient parser lets signed garbage through"),
        "00 00 appended to certInfo before signing", "bytes.extend", "attStmt.certInfo",
        _set(cert_info_edit=lambda b: b + b"\x00\x00"), invalid(Reason.MALFORMED), resign=True)
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
    add("binding::extra-data-tpm2-tools-default", "ExtraDataTpm2ToolsDefault",
        _note("BINDING", crit, "extraData is 00ff55aa, what tpm2_certify writes without qualifying data",
              "a certification made without any challenge passes as fresh", "shared/specs/round2_formats.md 2.1.2"),
        "extraData = 00ff55aa, re-signed", "tpm.set", "certInfo.extraData", _set(extra_data=bytes.fromhex("00ff55aa")),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::attested-name-mismatch", "AttestedNameMismatch",
        _note("BINDING", crit, "certInfo certifies another TPM object's Name than pubArea's",
              "the AK vouches for one key while the certificate is issued for another"),
        "attested.name = Name of another key in the TPM, re-signed", "tpm.set", "certInfo.attested.name",
        _other_name, invalid(Reason.KEY_MISMATCH), resign=True)
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
    add("attributes::no-fixed-tpm", "NoFixedTpm",
        _note("KEY_PROTECTION", crit, "objectAttributes lack fixedTPM",
              "a duplicable key is accepted as hardware-bound",
              SPEC, "go-attestation CertificationParameters.Verify"),
        "objectAttributes & ~fixedTPM, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: a & ~TpmaObject.FIXED_TPM), invalid(Reason.ATTR_EXTRACTABLE), resign=True)
    add("attributes::no-sensitive-data-origin", "NoSensitiveDataOrigin",
        _note("KEY_PROTECTION", crit, "objectAttributes lack sensitiveDataOrigin",
              "a key made outside the TPM is accepted as generated on it", SPEC,
              "go-attestation CertificationParameters.Verify"),
        "objectAttributes & ~sensitiveDataOrigin, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: a & ~TpmaObject.SENSITIVE_DATA_ORIGIN), invalid(Reason.ATTR_NOT_LOCAL), resign=True)
    add("attributes::restricted", "RestrictedKey",
        _note("KEY_PROTECTION", med, "the certified key is restricted",
              "an AK-like key is certified for TLS or signing",
              SPEC, "go-attestation CertificationParameters.Verify"),
        "objectAttributes | restricted, certified and re-signed", "tpm.set", "pubArea.objectAttributes",
        _attributes(lambda a: a | TpmaObject.RESTRICTED), invalid(Reason.ATTR_USAGE), resign=True)
    add("attributes::imported-key", "ImportedKey",
        _note("KEY_PROTECTION", crit, "an imported key: certified without sensitiveDataOrigin",
              "a key generated outside the TPM is accepted as generated on the device"),
        "an imported EC P-256 key", "key.import", "pubArea", _set(), invalid(Reason.ATTR_NOT_LOCAL), resign=True,
        golden=IMPORTED)
    add("akcert::no-eku", "AkCertNoEku",
        _note("CERT_PROFILE", high, "AK certificate without tcg-kp-AIKCertificate",
              "any certificate could act as an AK"),
        "AK certificate re-issued without EKU", "cert.reissue", "x5c[0]/extensions/extKeyUsage",
        _ak_reissue(extensions=_without(ExtensionOID.EXTENDED_KEY_USAGE)), invalid(Reason.CERT_EKU), resign=True)
    add("akcert::subject-present", "AkCertSubject",
        _note("CERT_PROFILE", med, "AK certificate with a non-empty subject", "the AK profile is not enforced"),
        "AK certificate re-issued with CN=attestation-key", "cert.reissue", "x5c[0]/subject",
        _ak_reissue(subject=name(("CN", "attestation-key", UTF8))), invalid(Reason.CERT_PROFILE), resign=True)
    add("akcert::no-permanent-identifier", "AkCertNoPermanentIdentifier",
        _note("PROFILE", Severity.LOW, "AK certificate SAN without permanentIdentifier",
              "step-ca accepts it (the device is then not named); the strict profile requires the device's identity"),
        "AK certificate re-issued with the TCG directoryName only", "cert.reissue", "x5c[0]/subjectAltName",
        _without_permanent_identifier, strict_only(Reason.ATTR_MISSING), resign=True)
    add("chain::unknown-root", "ChainUnknownRoot",
        _note("CHAIN", crit, "a complete TPM-shaped AK chain under another emulated root",
              "any software 'TPM' with its own CA passes"),
        "AK, AK certificate, intermediate and root from another seed", "chain.replace", "attStmt.x5c", _foreign_pki,
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::x5c-missing-intermediate", "X5cMissingIntermediate",
        _note("CHAIN", med, "x5c holds only the AK certificate", "the chain cannot be built to the root"),
        "x5c = [AK certificate]", "cbor.set", "attStmt.x5c",
        lambda b: setattr(b.draft, "x5c", chain_der([b.kit.identity.certificate])),
        invalid(Reason.CHAIN_INCOMPLETE), resign=True)
    add("chain::ak-expired", "AkCertExpired",
        _note("CHAIN", high, "AK certificate expired before the validation time",
              "a retired AK still vouches for keys"),
        "AK certificate notAfter 2025-12-01", "cert.reissue", "x5c[0]/validity",
        _ak_reissue(not_after=datetime(2025, 12, 1, tzinfo=UTC)), invalid(Reason.CERT_EXPIRED), resign=True)
    add("statement::fmt-android-key", "FmtNotTpm",
        _note("TPM_STRUCTURE", med, "attObj fmt says android-key over a tpm statement",
              "a verifier that ignores fmt parses the statement with the wrong rules"),
        "fmt = android-key", "cbor.set", "fmt", _with_fmt("android-key"), invalid(Reason.UNSUPPORTED), resign=True)
    add("statement::ver-1-0", "VersionNot20",
        _note("TPM_STRUCTURE", Severity.LOW, "attStmt.ver is '1.0'", "a TPM 1.2-era statement is parsed as 2.0"),
        "ver = '1.0'", "cbor.set", "attStmt.ver", _set(ver="1.0"), invalid(Reason.UNSUPPORTED), resign=True)
    add("statement::pub-area-trailing-bytes", "PubAreaTrailingBytes",
        _note("ENCODING", med, "one byte after TPMT_PUBLIC in pubArea",
              "the Name hashed and the structure parsed differ"),
        "00 appended to pubArea", "bytes.extend", "attStmt.pubArea",
        lambda b: setattr(b.draft, "pub_area", b.draft.area.marshal() + b"\x00"), invalid(Reason.MALFORMED),
        resign=True)
    add("statement::unknown-member", "StatementUnknownMember",
        _note("PROFILE", Severity.INFO, "attStmt carries an extra member 'x-hsmsim'",
              "valid under the structural profile; the strict profile rejects unknown content"),
        "attStmt['x-hsmsim'] = h''", "cbor.set", "attStmt.x-hsmsim", _statement(_set_member("x-hsmsim", b"")),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    add("cbor::trailing-bytes", "CborTrailingBytes",
        _note("ENCODING", med, "a byte after the attObj CBOR map", "lenient decoders ignore it"),
        "00 appended", "bytes.extend", "payload.attObj", _set(object_edit=lambda b: b + b"\x00"),
        invalid(Reason.MALFORMED), resign=True)
    add("variant::scheme-ecdsa", "PubAreaSchemeEcdsa",
        _note("BASIC", Severity.INFO, "pubArea scheme ECDSA/SHA-256, as tpm2_create -G ecc256:ecdsa writes it",
              "none: ACME (unlike WebAuthn) does not require a NULL scheme"),
        "parameters.scheme = ECDSA(SHA-256), certified and re-signed", "tpm.set", "pubArea.parameters.scheme",
        _parameters(scheme=Scheme(TpmAlg.ECDSA, TpmAlg.SHA256)), valid(), resign=True)
    add("variant::rsa-ak", "RsaAk",
        _note("BASIC", Severity.INFO, "an RSA-2048 AK: RS256 with a TPMT_SIGNATURE of RSASSA/SHA-256",
              "none: a correct verifier accepts it"),
        "AK RSA-2048, alg RS256", "ak.replace", "attStmt.alg", _rsa_acme_ak, valid(), resign=True)
    return m


def notes() -> dict[str, FlagNote]:
    """Every flag the tpm-acme vectors use, with its definition."""
    out = {**PROVENANCE_NOTES, "StrictKeyPolicy": STRICT_KEY_POLICY_NOTE}
    for mutation in mutations():
        out[mutation.flag] = mutation.note
    return out


def vector_cases(seed: str) -> list[VectorCase]:
    """The tpm-acme vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = acme_kit(seed)
    anchors = (kit.identity.root,)
    cases = []
    for spec in GOLDEN_SPECS:
        weak = spec == "rsa-2048"
        cases.append(VectorCase(
            id=f"tpm-acme::golden::{spec}", comment=f"unmutated device-attest-01 answer for a generated {spec} key",
            flags=("Golden", *(("StrictKeyPolicy",) if weak else ())),
            expected=strict_only(Reason.KEY_POLICY) if weak else valid(),
            evidence=acme_draft(kit, spec).evidence(), anchors=anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = Workbench(kit, acme_draft(kit, mutation.golden))
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        golden = mutation.golden if mutation.golden in GOLDEN_SPECS else None
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.evidence(), anchors=anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing,
                                  golden=f"tpm-acme::golden::{golden}" if golden else None,
                                  operator=mutation.operator, path=mutation.path)))
    return cases
