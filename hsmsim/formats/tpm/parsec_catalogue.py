"""The parsec-tpm vector set: golden Parsec key and platform attestation tokens with their ActivateCredential
exchange, and one-defect mutations.

The world is the webauthn catalogue's (same seed, device, TPM and keys) with the Parsec AK. Each mutation
edits one field of a golden :class:`ParsecDraft`, which is then rendered (``Resigned`` when the AK signs
the defect, ``Stale`` when it does not). The statement defects shared by every TPM consumer come from
:func:`shared_mutations` (without the CBOR ones: the token is JSON).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace

from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import AttestationRequest
from hsmsim.formats.tpm.catalogue import (
    ATTEST_TIME,
    COMMON_NOTES,
    Operator,
    TpmKit,
    Workbench,
    _set,
    _statement,
    build_cases,
    in_catalogue_order,
    provided_rsa_ak,
    shared_mutations,
)
from hsmsim.formats.tpm.device import AK_ATTRIBUTES, EmulatedTpm, public_area, signing_scheme
from hsmsim.formats.tpm.format import ParsecTpmFormat
from hsmsim.formats.tpm.marshal import TpmAlg, TpmaObject
from hsmsim.formats.tpm.parsec import ParsecDraft, key_id, parsec_draft_for
from hsmsim.formats.tpm.pki import ek_certificate
from hsmsim.formats.tpm.structures import TpmtPublic, TpmtSignature
from hsmsim.keystore.base import KeySpec
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.vectors import FlagNote, Severity, VectorCase
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Profile, Reason

SPEC = "shared/specs/other_formats.md 6"
CCC = "CCC parsec-key-evidence-tpm (Veraison parsec/tpm)"
CCC_PAT = "CCC parsec-platform-evidence-tpm (Veraison parsec/tpm pat.go)"
TPM_PART1 = "TPM 2.0 Library Part 1 §24 (credential protection)"
TPM_PART2 = "TPM 2.0 Library Part 2"


def parsec_draft(kit: TpmKit, spec: str) -> ParsecDraft:
    """The golden draft of ``spec``: exactly what the format's ``generate`` renders for that key."""
    key = kit.keys[spec]
    request = AttestationRequest(
        device=kit.device, partition="default", key=key, key_signer=kit.store.signer(key), attesting=kit.identity,
        parameters={"nonce": drbg(kit.seed, f"parsec-tpm/vectors/nonce/{spec}").read(32)}, at=ATTEST_TIME)
    return parsec_draft_for(request, kit.tpm.pki_profile)


def _parsec(bench: Workbench) -> ParsecDraft:
    assert isinstance(bench.draft, ParsecDraft)
    return bench.draft


def _other_tpm(bench: Workbench) -> EmulatedTpm:
    tpm = bench.kit.tpm
    return replace(tpm, serial=f"{tpm.serial}-other")


def _seal_to_other_ek(bench: Workbench) -> None:
    _parsec(bench).make_for_ek = _other_tpm(bench).ek_key.public_key()  # type: ignore[assignment]


def _other_tpm_ek_certificate(bench: Workbench) -> None:
    other = _other_tpm(bench)
    cert = ek_certificate(other.pki, other.seed, other.serial, other.ek_key.public_key(), other.model,
                          other.initialised)
    draft = _parsec(bench)
    draft.make_for_ek = other.ek_key.public_key()  # type: ignore[assignment]
    draft.ek_certificate = cert.public_bytes(Encoding.DER)


def _ek_certified_by_foreign_ca(bench: Workbench) -> None:
    """This TPM's own EK (serial and key) certified by another seed's EK CA of the same names: the credential is
    still sealed to, and released by, this EK; only the issuer is not the trusted one."""
    tpm = bench.kit.tpm
    foreign = replace(tpm, seed=f"{bench.kit.seed}/unknown-root")
    cert = ek_certificate(foreign.pki, tpm.seed, tpm.serial, tpm.ek_key.public_key(), tpm.model, tpm.initialised)
    _parsec(bench).ek_certificate = cert.public_bytes(Encoding.DER)


def _sealed_for_attested_key(bench: Workbench) -> None:
    draft = _parsec(bench)
    ak_area = draft.tpm.ak_public(draft.ak_key())
    draft.activation_key = draft.area

    def keep_ak_public(record: dict[str, object]) -> None:
        record["akPublic"] = base64.b64encode(ak_area.marshal()).decode()
    draft.activation_edit = keep_ak_public


def _other_restricted_key(bench: Workbench) -> None:
    other = derive_key(bench.kit.seed, "parsec-tpm/other-ak", KeySpec.parse("ec-p256")).public_key()
    _parsec(bench).activation_key = bench.kit.tpm.ak_public(other)


def _unrestricted_ak(bench: Workbench) -> None:
    draft = _parsec(bench)
    key = draft.ak_key()
    draft.activation_key = public_area(key, AK_ATTRIBUTES & ~TpmaObject.RESTRICTED, scheme=signing_scheme(key))


def _record_set(member: str, value: object) -> Operator:
    def edit(record: dict[str, object]) -> None:
        record[member] = value
    return _set(activation_edit=edit)


def _replayed_credential(bench: Workbench) -> None:
    earlier = drbg(bench.kit.seed, "parsec-tpm/earlier-credential").read(32)
    _record_set("activated", base64.b64encode(earlier).decode())(bench)


def _ak_certificate_as_ek(bench: Workbench) -> None:
    der = bench.kit.identity.certificate.public_bytes(Encoding.DER)
    _record_set("ekCertificate", base64.b64encode(der).decode())(bench)


def _truncate_secret(record: dict[str, object]) -> None:
    secret = base64.b64decode(str(record["secret"]))
    record["secret"] = base64.b64encode(secret[:-1]).decode()


def _kat_edit(edit: Callable[[dict[str, object]], None]) -> Operator:
    def record_edit(record: dict[str, object]) -> None:
        kat = record["kat"]
        assert isinstance(kat, dict)
        edit(kat)
    return _set(record_edit=record_edit)


def _drop(member: str) -> Callable[[dict[str, object]], None]:
    def edit(document: dict[str, object]) -> None:
        del document[member]
    return edit


def _sig_as_array(kat: dict[str, object]) -> None:
    kat["sig"] = list(base64.b64decode(str(kat["sig"])))


def _sig_field(offset: int, value: bytes) -> Operator:
    def edit(statement: dict[str, object]) -> None:
        sig = statement["sig"]
        assert isinstance(sig, bytes)
        statement["sig"] = sig[:offset] + value + sig[offset + len(value):]
    return _statement(edit)


def _other_key_id(bench: Workbench) -> bytes:
    other = bench.kit.keys["ec-p384"].public_key
    assert other is not None
    return key_id(other)


def _kid_of_other_key(bench: Workbench) -> None:
    _parsec(bench).kid = _other_key_id(bench)


def _pat_kid_of_other_key(bench: Workbench) -> None:
    _parsec(bench).quote_kid = _other_key_id(bench)


def _pat_edit(edit: Callable[[dict[str, object], dict[str, object]], None]) -> Operator:
    def record_edit(record: dict[str, object]) -> None:
        kat, pat = record["kat"], record["pat"]
        assert isinstance(kat, dict) and isinstance(pat, dict)
        edit(pat, kat)
    return _set(record_edit=record_edit)


def _kat_as_pat(pat: dict[str, object], kat: dict[str, object]) -> None:
    pat["attestInfo"], pat["sig"] = kat["certInfo"], kat["sig"]


def _pat_alg_member(pat: dict[str, object], _kat: dict[str, object]) -> None:
    pat["alg"] = 11


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC, CCC))


def mutations() -> list[Mutation]:
    """Every parsec-tpm defect, in catalogue order."""
    m = [mutation for mutation in shared_mutations("parsec-tpm", (SPEC, CCC))
         if not mutation.id.startswith("parsec-tpm::cbor::")]

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "ec-p256") -> None:
        m.append(Mutation(f"parsec-tpm::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    not_resident = "an AK in software, or in another TPM, passes as resident with this TPM's EK"

    add("signature::bare-der", "SigBareDer",
        _note("ENCODING", high, "kat.sig is the bare DER ECDSA signature (the WebAuthn convention), not a "
              "TPMT_SIGNATURE", "a verifier that accepts both conventions widens what it parses as a signature",
              SPEC, "shared/specs/round2_formats.md 2.1.1"),
        "genuine AK signature, bare DER", "sig.encode", "kat.sig", _set(signature_encoding="bare"),
        invalid(Reason.SIGNATURE_INVALID), resign=True)
    add("signature::hash-sha384-claimed", "SigHashMismatch",
        _note("WRONG_PRIMITIVE", high, "the TPMT_SIGNATURE says SHA-384 over an ECDSA/SHA-256 signature",
              "a verifier that trusts the signature's own hashAlg can be steered to another digest"),
        "TPMT_SIGNATURE.hash = 0x000c", "bytes.set", "kat.sig", _sig_field(2, b"\x00\x0c"),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::sig-alg-rsassa", "SigAlgRsassa",
        _note("WRONG_PRIMITIVE", med, "the TPMT_SIGNATURE says RSASSA over ECDSA r and s",
              "a parser that trusts sigAlg reads r as an RSA signature and s as trailing bytes"),
        "TPMT_SIGNATURE.sigAlg = 0x0014", "bytes.set", "kat.sig", _sig_field(0, b"\x00\x14"),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("binding::kid-mismatch", "KidMismatch",
        _note("BINDING", crit, "kat.kid identifies another key than the AK that signed",
              "a verifier that looks the AK up by kid checks the signature with a key it did not mean to trust"),
        "kid = 0x01 ‖ SHA-256(SPKI of the P-384 user key)", "json.set", "kat.kid", _kid_of_other_key,
        invalid(Reason.ATTESTATION_KEY_MISMATCH), resign=True)
    add("binding::nonce-replayed", "NonceReplayed",
        _note("BINDING", crit, "certInfo.extraData is the nonce of an earlier request, not the verifier's",
              "a recorded token is replayed as fresh"),
        "expectedNonce of another request", "json.set", "expectedNonce",
        lambda b: setattr(_parsec(b), "expected_nonce", drbg(b.kit.seed, "parsec-tpm/other-nonce").read(32)),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::extra-data-empty", "ExtraDataEmpty",
        _note("BINDING", crit, "TPM2_Certify without qualifying data (extraData empty)",
              "a certification made without any nonce passes as fresh"),
        "extraData = '', re-signed", "tpm.set", "certInfo.extraData", _set(extra_data=b""),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::nonce-empty", "NonceEmpty",
        _note("BINDING", crit, "no nonce anywhere: certInfo's and the quote's extraData are empty, and so is the "
              "record's expectedNonce", "the token's producer also writes the record, so a comparison of equal "
              "empty values passes a certification made without any challenge as fresh", CCC,
              "TPM 2.0 Library Part 3 §11.1 (nonceCaller at least 16 octets)"),
        "nonce = '' (expectedNonce and both extraData), re-signed", "tpm.set", "expectedNonce",
        lambda b: setattr(_parsec(b), "nonce", b""), invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("binding::nonce-short", "NonceShort",
        _note("BINDING", high, "a 15-byte nonce (expectedNonce and both extraData), one byte under the 16 the "
              "verifier requires", "a nonce this short can be guessed or collected in advance: the token is not "
              "shown fresh", CCC, "TPM 2.0 Library Part 3 §11.1 (nonceCaller at least 16 octets)"),
        "nonce = the golden's first 15 bytes, re-signed", "tpm.set", "expectedNonce",
        lambda b: setattr(_parsec(b), "nonce", _parsec(b).nonce[:15]), invalid(Reason.CHALLENGE_MISMATCH),
        resign=True)
    add("kat::kid-missing", "KidMissing",
        _note("TPM_STRUCTURE", med, "kat without kid", "nothing names the attesting key"),
        "kat.kid removed", "json.remove", "kat.kid", _kat_edit(_drop("kid")), invalid(Reason.MISSING_INPUT),
        resign=True)
    add("kat::sig-missing", "SigMissing",
        _note("SIGNATURE_BYPASS", crit, "kat without sig", "an unsigned certInfo passes as attested"),
        "kat.sig removed", "json.remove", "kat.sig", _kat_edit(_drop("sig")), invalid(Reason.MISSING_INPUT),
        resign=False)
    add("kat::sig-not-string", "SigNotString",
        _note("ENCODING", low, "kat.sig is a JSON array of byte values, not base64", "a lenient decoder guesses"),
        "kat.sig = [0, 24, ...]", "json.set", "kat.sig", _kat_edit(_sig_as_array), invalid(Reason.MALFORMED),
        resign=True)
    add("pat::missing", "PatMissing",
        _note("TPM_STRUCTURE", high, "the record holds a kat and no pat (platform attestation token), the shape "
              "hsmsim wrote before 1.1.0 and writes with platform_token=false", "nothing attests the platform the "
              "key lives on; Parsec's evidence always carries both tokens and Veraison refuses it ('nil platform "
              "attestation token supplied')", CCC_PAT, "veraison/parsec tpm/common.go (validateKatPat)"),
        "pat not written", "json.remove", "pat", _set(platform_token=False), invalid(Reason.MISSING_INPUT),
        resign=True)
    add("pat::signed-by-other-key", "PatSigByOtherKey",
        _note("SIGNATURE_BYPASS", crit, "the pat's TPM2_Quote is signed by a P-256 key that is not the AK",
              "a quote from another TPM, or from software, vouches for this platform", CCC_PAT),
        "an uncertified P-256 key signs attestInfo", "sig.sign", "pat.sig",
        lambda b: setattr(_parsec(b), "quote_signer",
                          derive_key(b.kit.seed, "parsec-tpm/foreign-ak", KeySpec.parse("ec-p256"))),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("pat::kid-mismatch", "PatKidMismatch",
        _note("BINDING", high, "pat.kid names another key than kat.kid, though the AK signs both",
              "a verifier that looks each token's key up by its own kid checks the quote with a key it did not mean "
              "to trust; Veraison refuses the mismatch", CCC_PAT, "veraison/parsec tpm/common.go (validateKatPat)"),
        "pat.kid = 0x01 ‖ SHA-256(SPKI of the P-384 user key)", "json.set", "pat.kid", _pat_kid_of_other_key,
        invalid(Reason.ATTESTATION_KEY_MISMATCH), resign=True)
    add("pat::type-certify", "PatTypeCertify",
        _note("TPM_STRUCTURE", crit, "pat.attestInfo and pat.sig are the kat's certInfo and sig: a TPM2_Certify "
              "(TPM_ST_ATTEST_CERTIFY) signed by the AK, not a TPM2_Quote",
              "a verifier that checks only the signature takes a key certification for a platform quote of no PCRs",
              CCC_PAT, TPM_PART2 + " 10.12.8"),
        "pat.attestInfo = kat.certInfo, pat.sig = kat.sig", "json.set", "pat.attestInfo", _pat_edit(_kat_as_pat),
        invalid(Reason.MALFORMED), resign=True)
    add("pat::nonce-replayed", "PatNonceReplayed",
        _note("BINDING", crit, "the quote's extraData is the nonce of an earlier request while the kat's is the "
              "verifier's", "a recorded platform quote is replayed beside a fresh key certification", CCC_PAT),
        "pat.attestInfo.extraData = another request's nonce, re-signed", "tpm.set", "pat.attestInfo.extraData",
        lambda b: setattr(_parsec(b), "quote_extra_data", drbg(b.kit.seed, "parsec-tpm/other-nonce").read(32)),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("pat::sha1-bank", "PatBankHashMismatch",
        _note("WRONG_PRIMITIVE", med, "the quote selects the SHA-1 PCR bank while the AK signs ECDSA/SHA-256 "
              "(pcrDigest is SHA-256 over the SHA-1 PCRs, as a TPM computes it)",
              "reference values of one bank are compared with a digest over another; the CCC procedure and "
              "Veraison want the bank of the signature's hash", CCC_PAT, "veraison/parsec tpm/pat.go (Validate)"),
        "pcrSelect = sha1:0-7, re-signed", "tpm.set", "pat.attestInfo.attested.quote.pcrSelect",
        _set(pcr_bank=TpmAlg.SHA1), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("pat::trailing-bytes", "PatTrailingBytes",
        _note("ENCODING", med, "two bytes after TPMS_QUOTE_INFO in attestInfo, covered by the signature",
              "a lenient parser lets signed garbage through", CCC_PAT, TPM_PART2 + " 10.12.8"),
        "00 00 appended to attestInfo before signing", "bytes.extend", "pat.attestInfo",
        _set(attest_info_edit=lambda b: b + b"\x00\x00"), invalid(Reason.MALFORMED), resign=True)
    add("pat::unknown-member", "PatUnknownMember",
        _note("PROFILE", Severity.INFO, "the pat carries an extra member alg = 11, as the tokens of Veraison's "
              "tpm/test evidence do", "valid under the structural profile; the strict profile rejects unknown "
              "content", CCC_PAT, "veraison/parsec tpm/test/evidence_invalid_pat.json"),
        "pat['alg'] = 11", "json.set", "pat.alg", _pat_edit(_pat_alg_member), strict_only(Reason.UNEXPECTED_CONTENT),
        resign=True)
    add("record::kat-missing", "KatMissing",
        _note("TPM_STRUCTURE", med, "the record holds no kat", "nothing is attested"),
        "kat removed", "json.remove", "kat", _set(record_edit=_drop("kat")), invalid(Reason.MISSING_INPUT),
        resign=True)
    add("record::nonce-missing", "NonceMissing",
        _note("BINDING", high, "the record names no expected nonce", "freshness cannot be checked"),
        "expectedNonce removed", "json.remove", "expectedNonce", _set(record_edit=_drop("expectedNonce")),
        invalid(Reason.MISSING_INPUT), resign=True)
    add("chain::ak-chain-missing", "AkChainMissing",
        _note("CHAIN", high, "no AK certificate chain beside the token", "the AK cannot be tied to a TPM maker"),
        "<label>.ak-chain.pem removed", "file.remove", "<label>.ak-chain.pem", _set(chain_file=False),
        invalid(Reason.MISSING_INPUT), resign=True)
    add("activate::sealed-to-other-ek", "ActivateWrongEk",
        _note("BINDING", crit, "MakeCredential sealed the credential to another TPM's EK than the certified one; "
              "the TPM cannot release it and the record says so (activated null)", "a verifier that ignores the "
              "exchange's recorded outcome accepts an unproven AK (a record that claims the release cannot be "
              "refuted offline: only the EK's holder opens the blob)",
              SPEC, TPM_PART1),
        "secret = OAEP to another EK; ActivateCredential fails", "credential.make", "secret", _seal_to_other_ek,
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("activate::ek-certificate-of-other-tpm", "ActivateOtherTpmEk",
        _note("BINDING", crit, "the EK certificate (genuine, same root) is another TPM's; the credential is "
              "sealed to that EK, which this TPM cannot open, and the record says so (activated null)",
              not_resident, SPEC, TPM_PART1),
        "ekCertificate and secret for another emulated TPM", "credential.make", "ekCertificate",
        _other_tpm_ek_certificate, invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("activate::ek-certificate-foreign-root", "ActivateEkUntrusted",
        _note("CHAIN", crit, "the TPM's EK certificate is issued by another (emulated) TPM maker's CA of the same "
              "names; the credential is sealed to that EK and activates", "any software 'TPM' with its own EK CA "
              "passes", SPEC, TPM_PART1),
        "ekCertificate: the same EK and serial, issued by another seed's EK CA", "credential.make", "ekCertificate",
        _ek_certified_by_foreign_ca, invalid(Reason.CERT_SIGNATURE_INVALID), resign=True)
    add("activate::ek-certificate-is-ak-certificate", "ActivateEkNotEk",
        _note("CERT_PROFILE", high, "the AK certificate stands in for the EK certificate",
              "a certificate without tcg-kp-EKCertificate anchors the exchange", SPEC, TPM_PART1),
        "ekCertificate = the AK certificate", "json.set", "ekCertificate", _ak_certificate_as_ek,
        invalid(Reason.CERT_EKU), resign=True)
    add("activate::sealed-for-attested-key", "ActivateWrongName",
        _note("BINDING", crit, "the credential was sealed for (and released by) the attested key's Name, "
              "while akPublic is the AK", "the exchange proves another object resident, not the AK",
              SPEC, TPM_PART1),
        "objectName = Name(attested key)", "credential.make", "objectName", _sealed_for_attested_key,
        invalid(Reason.ATTESTATION_KEY_MISMATCH), resign=True)
    add("activate::ak-public-of-other-key", "ActivateOtherAk",
        _note("BINDING", crit, "akPublic is another restricted key than the AK certificate's",
              "the exchange proves a different AK resident", SPEC, TPM_PART1),
        "akPublic of another P-256 restricted key, sealed for its Name", "credential.make", "akPublic",
        _other_restricted_key, invalid(Reason.ATTESTATION_KEY_MISMATCH), resign=True)
    add("activate::ak-not-restricted", "ActivateAkNotRestricted",
        _note("KEY_PROTECTION", crit, "akPublic lacks restricted: the 'AK' is an ordinary signing key",
              "it can sign a forged TPMS_ATTEST with magic TPM_GENERATED", SPEC, "shared/specs/other_formats.md 1.8"),
        "akPublic objectAttributes & ~restricted", "credential.make", "akPublic.objectAttributes",
        _unrestricted_ak, invalid(Reason.KEY_PURPOSE), resign=True)
    add("activate::credential-replayed", "ActivateReplayed",
        _note("BINDING", crit, "the released credential is an earlier exchange's, not the one just sealed",
              "a recorded answer passes for a live TPM", SPEC, TPM_PART1),
        "activated = an earlier credential", "json.set", "activated", _replayed_credential,
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("activate::secret-truncated", "ActivateSecretTruncated",
        _note("ENCODING", low, "secret one byte shorter than the EK modulus", "not an OAEP ciphertext for this EK"),
        "secret[:-1]", "bytes.truncate", "secret", _set(activation_edit=_truncate_secret),
        invalid(Reason.MALFORMED), resign=True)
    add("activate::secret-missing", "ActivateSecretMissing",
        _note("TPM_STRUCTURE", low, "the exchange record lacks secret", "the exchange cannot be checked"),
        "secret removed", "json.remove", "secret", _set(activation_edit=_drop("secret")),
        invalid(Reason.MISSING_INPUT), resign=True)
    add("activate::missing", "ActivateMissing",
        _note("PROFILE", low, "no ActivateCredential exchange beside the token",
              "valid under the structural profile; the strict profile requires the challenger's record of the "
              "exchange (which asserts, and cannot prove offline, that the AK is resident with a certified EK)"),
        "<label>.activate-credential.json not written", "file.remove", "<label>.activate-credential.json",
        _set(activation=False), strict_only(Reason.MISSING_INPUT), resign=True)
    add("variant::rsa-ak", "RsaAk",
        _note("BASIC", Severity.INFO, "an RSA-2048 AK: TPMT_SIGNATURE RSASSA/SHA-256",
              "none: a correct verifier accepts it"),
        "AK RSA-2048", "ak.replace", "kat.sig", provided_rsa_ak, valid(), resign=True)
    return in_catalogue_order(m)


VERAISON_INCOMPATIBLE = "VeraisonIncompatible"
VERAISON_NOTE = FlagNote(
    "PROFILE", Severity.INFO, "an accepted token whose attested key is not ECC or whose kat or pat sig is not ECDSA",
    "valid for hsmsim (Parsec's TPM provider makes and attests RSA keys too), but Veraison's parsec/tpm verifier "
    "rejects it: KAT.Validate wants a TPMT_SIGNATURE of sigAlg ECDSA and a pubArea of type ECC, PAT.Validate a "
    "TPMT_SIGNATURE of sigAlg ECDSA",
    ("veraison/parsec tpm/kat.go (Validate, validateCertAndPub)", "veraison/parsec tpm/pat.go (Validate)", CCC))


def veraison_incompatible(case: VectorCase) -> bool:
    """Whether Veraison's parsec/tpm ``KAT.Validate`` or ``PAT.Validate`` refuses the tokens of a case some profile
    accepts: a pubArea (the attested key) of another type than ECC, or a kat or pat sig whose sigAlg is not ECDSA.
    (Every accepted case carries a pat: hsmsim requires one, as Veraison does.)"""
    if all(reason is not Reason.OK for reason in case.expected.values()):
        return False
    record = json.loads(case.evidence.files[case.evidence.primary])
    area = TpmtPublic.unmarshal(base64.b64decode(record["kat"]["pubArea"]))
    signatures = (TpmtSignature.unmarshal(base64.b64decode(record[token]["sig"])) for token in ("kat", "pat"))
    return area.type != TpmAlg.ECC or any(signature.sig_alg != TpmAlg.ECDSA for signature in signatures)


def notes() -> dict[str, FlagNote]:
    """Every flag the parsec-tpm vectors use, with its definition."""
    return {**flag_notes(COMMON_NOTES, mutations()), VERAISON_INCOMPATIBLE: VERAISON_NOTE}


def vector_cases(seed: str, fmt: ParsecTpmFormat) -> list[VectorCase]:
    """The parsec-tpm vectors for ``seed`` by ``fmt``'s TPM: goldens first, then every mutation of the catalogue;
    an accepted token Veraison would refuse also carries the flag :data:`VERAISON_INCOMPATIBLE`."""
    kit = TpmKit.build(seed, fmt)
    cases = build_cases("parsec-tpm", seed, kit, lambda spec: parsec_draft(kit, spec), mutations(),
                        "Parsec key attestation token")
    return [replace(case, flags=(*case.flags, VERAISON_INCOMPATIBLE)) if veraison_incompatible(case) else case
            for case in cases]
