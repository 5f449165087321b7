"""The toy format's vectors: one golden and two named defects."""

from __future__ import annotations

from datetime import UTC, datetime

from hsmsim.device import Device
from hsmsim.encoding import spki_der
from hsmsim.keystore.base import KeySpec
from hsmsim.model.catalogue import invalid, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason
from tests.toyformat.format import NAME, STATEMENT, ToyFormat, certify, sign_statement, statement_bytes

VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
GOLDEN = f"{NAME}::golden::ec-p256"

NOTES = {
    "StatementEdited": FlagNote(
        "SIGNATURE", Severity.CRITICAL, "the statement was changed after it was signed (extractable set to true)",
        "a verifier that skips the signature believes any claim"),
    "ForeignIssuer": FlagNote(
        "CHAIN", Severity.CRITICAL, "the attestation certificate is issued by another emulated root",
        "a verifier that does not check the issuer accepts any self-made attestation key"),
}


def vector_cases(fmt: ToyFormat, seed: str) -> list[VectorCase]:
    """The golden (an EC P-256 key, not extractable) and its two defects, all from ``seed``."""
    device = Device.from_seed(NAME, seed)
    identity = fmt.provision(device, "default")
    attested = derive_key(seed, f"{NAME}/attested/signing", KeySpec.parse("ec-p256"))
    statement = statement_bytes("signing", "ec-p256", spki_der(attested.public_key()), extractable=False)
    golden = sign_statement(identity, statement)
    edited = Evidence(NAME, {**golden.files, STATEMENT: statement.replace(b'"extractable":false',
                                                                          b'"extractable":true')}, STATEMENT)
    foreign_identity = certify(seed, "default-attestation", identity.key,
                               device.attestation_created, root_cn="TOY_OTHER_ROOT_EMULATED")
    foreign = sign_statement(foreign_identity, statement)

    def case(vector_id: str, comment: str, flags: tuple[str, ...], expected: dict[Profile, Reason], evidence: Evidence,
             provenance: Provenance) -> VectorCase:
        return VectorCase(vector_id, comment, flags, expected, evidence, (identity.root,), VALIDATION_TIME, provenance)

    return [
        case(GOLDEN, "an EC P-256 key attested by the partition's attestation key", ("Golden",), valid(), golden,
             Provenance(seed, Signing.GENUINE)),
        case(f"{NAME}::signature::statement-edited", "extractable set to true after signing",
             ("StatementEdited", "Stale"), invalid(Reason.SIGNATURE_INVALID), edited,
             Provenance(seed, Signing.STALE, GOLDEN, "json.set", "statement.json/extractable")),
        case(f"{NAME}::chain::foreign-issuer", "the attestation key certified by another emulated root",
             ("ForeignIssuer", "Resigned"), invalid(Reason.CHAIN_UNTRUSTED), foreign,
             Provenance(seed, Signing.RESIGNED, GOLDEN, "cert.reissue", "attestation.crt/issuer")),
    ]
