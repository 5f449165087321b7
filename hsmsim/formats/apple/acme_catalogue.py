"""The apple-acme vector set: device-attest-01 ``apple`` answers per key type and identifier, and their defects.

An :class:`AcmeBench` opens a golden (the draft answer, the leaf's extensions, the certificates above it);
a :class:`~hsmsim.model.catalogue.Mutation` edits it. ``Resigned`` mutations rebuild the leaf with the
genuine Sub CA key after the edit, so the defect reaches the checks behind the chain; ``Stale`` ones edit the
statement, the record or the CSR, which nothing signs, or sign with a key that is not the genuine one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim import mutate
from hsmsim.device import Device
from hsmsim.encoding import der_children, der_content, der_oid, der_tlv, pem
from hsmsim.formats.apple.acme import (
    AcmeDraft,
    DeviceFacts,
    attestation_object,
    freshness_code,
    mda_leaf,
)
from hsmsim.formats.apple.extensions import OID_FRESHNESS, OID_OS_VERSION, OID_SERIAL, OID_UDID
from hsmsim.formats.apple.layout import ACME_FORMAT
from hsmsim.formats.apple.pki import ENTERPRISE, PkiSpec, apple_pki, raw_extension
from hsmsim.formats.apple.vectors import (
    ATTEST_TIME,
    attested_key,
    golden_case,
    mutation_cases,
    note,
)
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, second_csr_note, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import PROVENANCE_NOTES, FlagNote, Severity, VectorCase
from hsmsim.pki.builder import UTF8, Ext, build_csr, map_extensions, name, reissue, resign_tbs
from hsmsim.pki.seed import derive_key, drbg
from hsmsim.verdict import Reason
from hsmsim.webauthn.container import b64url, cbor_decode, cbor_encode

REFS = ("shared/specs/other_formats.md 4.3", "draft-ietf-acme-device-attest", "smallstep/certificates acme")
_note = note(REFS)


@dataclass(frozen=True)
class Golden:
    """One golden: the attested key spec, and which attested identifier the order names, under which type."""

    name: str
    spec: str
    names: str
    identifier_type: str


GOLDENS = tuple(Golden(*row) for row in (
    ("ec-p256-serial", "ec-p256", "serial", "permanent-identifier"),
    ("ec-p384-serial", "ec-p384", "serial", "permanent-identifier"),
    ("ec-p256-udid", "ec-p256", "udid", "permanent-identifier"),
    ("ec-p256-hardware-module-udid", "ec-p256", "udid", "hardware-module"),
))
GOLDEN_BY_NAME = {g.name: g for g in GOLDENS}


def _token_text(seed: str, role: str, size: int = 32) -> str:
    return b64url(drbg(seed, f"{ACME_FORMAT}/token/{role}").read(size))


def _csr(key: PrivateKey, label: str) -> bytes:
    return build_csr(name(("CN", label, UTF8)), key).public_bytes(Encoding.PEM)


@dataclass
class AcmeBench:
    """A golden device-attest-01 answer opened up for one mutation."""

    seed: str
    golden: Golden
    draft: AcmeDraft
    extensions: list[Ext]
    above: list[x509.Certificate]
    leaf: x509.Certificate | None = None
    validity: tuple[datetime, datetime] | None = None
    leaf_signer: PrivateKey | None = None
    raw_leaf_edit: Callable[[x509.Certificate], x509.Certificate] | None = None
    fmt: str = "apple"
    statement_extra: dict[str, object] = field(default_factory=dict)
    object_extra: dict[str, object] = field(default_factory=dict)
    x5c_override: list[bytes] | None = None
    att_obj_override: bytes | None = None
    record_edit: Callable[[bytes], bytes] | None = None
    extra: dict[str, bytes] = field(default_factory=dict)
    """Files added beside the record and its CSR."""

    @classmethod
    def open(cls, seed: str, name: str) -> AcmeBench:
        """The golden ``name`` with its leaf issued."""
        golden = GOLDEN_BY_NAME[name]
        key = attested_key(seed, ACME_FORMAT, golden.spec)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        facts = DeviceFacts.derive(seed, Device.from_seed(ACME_FORMAT, seed).serial)
        identifier = facts.serial if golden.names == "serial" else facts.udid
        assert identifier is not None
        pki = apple_pki(seed, ENTERPRISE)
        draft = AcmeDraft(pki=pki, label=name, at=ATTEST_TIME, public_key=key.public_key(), facts=facts,
                          token=_token_text(seed, name), identifier_type=golden.identifier_type, identifier=identifier,
                          csr_pem=_csr(key, name))
        bench = cls(seed, golden, draft, draft.extensions(), [pki.intermediate.certificate])
        bench.resign()
        return bench

    def resign(self) -> None:
        """Issue the leaf for the current extensions with the draft PKI's Sub CA key (the genuine one unless an
        operator replaced the PKI) or the bench's signer."""
        leaf = mda_leaf(self.draft.pki, self.draft.public_key, self.extensions, self.draft.at, self.draft.label)
        if self.validity is not None or self.leaf_signer is not None:
            changes = {"not_before": self.validity[0], "not_after": self.validity[1]} if self.validity else {}
            leaf = reissue(leaf, self.leaf_signer or self.draft.pki.intermediate.key, **changes)
        self.leaf = self.raw_leaf_edit(leaf) if self.raw_leaf_edit is not None else leaf

    def certificates(self) -> list[x509.Certificate]:
        assert self.leaf is not None
        return [self.leaf, *self.above]

    def att_obj(self) -> bytes:
        if self.att_obj_override is not None:
            return self.att_obj_override
        if self.x5c_override is None and not self.statement_extra and self.fmt == "apple" and not self.object_extra:
            return attestation_object(self.certificates())
        x5c = self.x5c_override if self.x5c_override is not None else [
            c.public_bytes(Encoding.DER) for c in self.certificates()]
        statement: dict[str, object] = {"x5c": x5c, **self.statement_extra}
        return cbor_encode({"fmt": self.fmt, "attStmt": statement, **self.object_extra})

    def evidence(self) -> Evidence:
        evidence = self.draft.evidence(self.att_obj())
        if self.record_edit is None and not self.extra:
            return evidence
        record = self.record_edit(evidence.files[evidence.primary]) if self.record_edit else None
        files = {**evidence.files, **self.extra, **({evidence.primary: record} if record is not None else {})}
        return Evidence(evidence.format, files, evidence.primary)


Operator = Callable[[AcmeBench], None]


# -- operators ------------------------------------------------------------------------------

def _without(oid: str) -> Operator:
    def apply(bench: AcmeBench) -> None:
        bench.extensions = [e for e in bench.extensions if e.value.oid.dotted_string != oid]
    return apply


def _set_value(oid: str, value: Callable[[AcmeBench], bytes], critical: bool = False) -> Operator:
    def apply(bench: AcmeBench) -> None:
        bench.extensions = [raw_extension(oid, value(bench), critical) if e.value.oid.dotted_string == oid else e
                            for e in bench.extensions]
    return apply


def _freshness(value: Callable[[AcmeBench], bytes]) -> Operator:
    return _set_value(OID_FRESHNESS, value)


def _key_authorization(bench: AcmeBench) -> bytes:
    thumbprint = b64url(hashlib.sha256(b"account " + bench.seed.encode()).digest())
    return f"{bench.draft.token}.{thumbprint}".encode()


def _other_device(bench: AcmeBench) -> None:
    other = DeviceFacts.derive(bench.seed, "another-device")
    bench.extensions = [e for e in bench.extensions
                        if e.value.oid.dotted_string not in (OID_SERIAL, OID_UDID)]
    bench.extensions[:0] = [raw_extension(OID_SERIAL, (other.serial or "").encode()),
                            raw_extension(OID_UDID, (other.udid or "").encode())]


def _both(first: Operator, second: Operator) -> Operator:
    def apply(bench: AcmeBench) -> None:
        first(bench)
        second(bench)
    return apply


def _csr_missing(bench: AcmeBench) -> None:
    bench.draft.csr_pem = None


def _record(**changes: str) -> Operator:
    def apply(bench: AcmeBench) -> None:
        for attr, value in changes.items():
            setattr(bench.draft, attr, value)
    return apply


FOREIGN = replace(ENTERPRISE, role="apple/foreign-enterprise",
                  root_cn="Enterprise Attestation Root CA FOREIGN EMULATED",
                  intermediate_cn="Enterprise Attestation Sub CA FOREIGN EMULATED")


def _pki(spec: PkiSpec, seed_suffix: str = "") -> Operator:
    """Issue the leaf under another PKI: ``spec`` (other names) or, with ``seed_suffix``, the same names and
    other keys. The other Sub CA signs the leaf (Stale); with the same names the leaf keeps the genuine leaf's
    subject and serial, so only the keys above it differ."""
    def apply(bench: AcmeBench) -> None:
        genuine = bench.leaf
        assert genuine is not None
        other = apple_pki(f"{bench.seed}{seed_suffix}", spec)
        bench.draft.pki = other
        bench.above = [other.intermediate.certificate]
        if seed_suffix:
            bench.raw_leaf_edit = lambda leaf: reissue(leaf, other.intermediate.key, subject=genuine.subject,
                                                       serial=genuine.serial_number)
        bench.resign()
    return apply


def _foreign_root_appended(bench: AcmeBench) -> None:
    bench.above.append(apple_pki(f"{bench.seed}/another-apple", ENTERPRISE).root.certificate)


def _genuine_root_appended(bench: AcmeBench) -> None:
    bench.above.append(bench.draft.pki.root.certificate)


def _intermediate_not_ca(bench: AcmeBench) -> None:
    pki = bench.draft.pki
    bench.above = [reissue(pki.intermediate.certificate, pki.root.key, extensions=(
        Ext(x509.BasicConstraints(ca=False, path_length=None), True),
        *(Ext(e.value, e.critical) for e in pki.intermediate.certificate.extensions
          if not isinstance(e.value, x509.BasicConstraints))), hash_name="sha384")]


def _validity(start: timedelta, length: timedelta) -> Operator:
    def apply(bench: AcmeBench) -> None:
        bench.validity = (ATTEST_TIME + start, ATTEST_TIME + start + length)
    return apply


def _signed_by_attested_key(bench: AcmeBench) -> None:
    bench.leaf_signer = attested_key(bench.seed, ACME_FORMAT, bench.golden.spec)
    bench.resign()  # the attested key, not the Sub CA's, signs the leaf: Stale


def _duplicate_freshness(bench: AcmeBench) -> None:
    def twice(extensions: list[bytes]) -> list[bytes]:
        oid = der_oid(OID_FRESHNESS)
        index = next(i for i, ext in enumerate(extensions) if der_children(der_content(ext))[0] == oid)
        return [*extensions[:index + 1], extensions[index], *extensions[index + 1:]]

    def edit(leaf: x509.Certificate) -> x509.Certificate:
        return resign_tbs(leaf, map_extensions(leaf.tbs_certificate_bytes, twice), bench.draft.pki.intermediate.key)
    bench.raw_leaf_edit = edit


def _rsa_key(bench: AcmeBench) -> None:
    rsa_key = derive_key(bench.seed, f"{ACME_FORMAT}/keys/rsa-2048", KeySpec.parse("rsa-2048"))
    bench.draft.public_key = rsa_key.public_key()  # type: ignore[assignment]
    bench.draft.csr_pem = _csr(rsa_key, bench.draft.label)


def _csr_other_key(bench: AcmeBench) -> None:
    bench.draft.csr_pem = _csr(attested_key(bench.seed, ACME_FORMAT, "ec-p384"), bench.draft.label)


def _token(token: Callable[[AcmeBench], str]) -> Operator:
    """The order's token replaced, and the device's freshness code made for it (the leaf is re-issued)."""
    def apply(bench: AcmeBench) -> None:
        bench.draft.token = token(bench)
        bench.draft.freshness = freshness_code(bench.draft.token)
        bench.extensions = bench.draft.extensions()
    return apply


def _second_csr(bench: AcmeBench) -> None:
    bench.extra["other.csr"] = _csr(attested_key(bench.seed, ACME_FORMAT, "ec-p384"), bench.draft.label)


def _csr_bad_signature(bench: AcmeBench) -> None:
    assert bench.draft.csr_pem is not None
    der = x509.load_pem_x509_csr(bench.draft.csr_pem).public_bytes(Encoding.DER)
    bench.draft.csr_pem = pem(mutate.flip_bit(der, -2), "CERTIFICATE REQUEST")


def _x5c(fn: Callable[[list[bytes]], list[bytes]]) -> Operator:
    def apply(bench: AcmeBench) -> None:
        bench.x5c_override = fn([c.public_bytes(Encoding.DER) for c in bench.certificates()])
    return apply


def _object(fn: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: AcmeBench) -> None:
        bench.att_obj_override = fn(bench.att_obj())
    return apply


def _indefinite_x5c(body: bytes) -> bytes:
    document = cbor_decode(body, "attObj")
    assert isinstance(document, dict)
    x5c = document["attStmt"]["x5c"]
    definite = cbor_encode(x5c)
    indefinite = b"\x9f" + b"".join(cbor_encode(cert) for cert in x5c) + b"\xff"
    return mutate.replace_once(body, definite, indefinite)


def _duplicate_fmt(body: bytes) -> bytes:
    assert body[0] == 0xA2  # {fmt, attStmt}
    return b"\xa3" + cbor_encode("fmt") + cbor_encode("tpm") + body[1:]


def mutations() -> list[Mutation]:
    """Every apple-acme defect, in catalogue order."""
    m: list[Mutation] = []
    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO

    def add(id_: str, flag: str, note_: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict, *, resign: bool, golden: str = "ec-p256-serial") -> None:  # type: ignore[type-arg]
        m.append(Mutation(f"{ACME_FORMAT}::{id_}", flag, note_, comment, operator, path, apply, expected, resign,
                          golden))

    leaf_ext = "/attStmt/x5c[0]/extensions"
    # -- freshness (8.11.1) --
    add("freshness::missing", "FreshnessMissing",
        _note("BINDING", crit, "the leaf has no freshness code 1.2.840.113635.100.8.11.1",
              "step-ca skips the comparison when the extension is absent: any old attestation is replayable"),
        "8.11.1 removed, leaf re-issued", "x509.remove_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _without(OID_FRESHNESS), invalid(Reason.ATTR_MISSING), resign=True)
    add("freshness::other-token", "FreshnessOtherToken",
        _note("BINDING", crit, "freshness code = SHA-256 of another challenge's token",
              "an attestation made for another order is replayed"),
        "8.11.1 = SHA-256(another token)", "x509.set_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _freshness(lambda b: freshness_code(_token_text(b.seed, "another-order"))), invalid(Reason.CHALLENGE_MISMATCH),
        resign=True)
    add("freshness::sha256-key-authorization", "FreshnessOverKeyAuthorization",
        _note("BINDING", med, "freshness code = SHA-256(keyAuthorization) instead of SHA-256(token)",
              "servers hashing the keyAuthorization reject genuine devices or accept both forms"),
        "8.11.1 = SHA-256(token.thumbprint)", "x509.set_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _freshness(lambda b: hashlib.sha256(_key_authorization(b)).digest()), invalid(Reason.CHALLENGE_MISMATCH),
        resign=True)
    add("freshness::unhashed-token", "FreshnessUnhashedToken",
        _note("BINDING", med, "freshness code = the token's bytes, not their SHA-256",
              "servers comparing with the token itself accept what no device sends"),
        "8.11.1 = token", "x509.set_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _freshness(lambda b: b.draft.token.encode()), invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("freshness::der-octet-string", "FreshnessDerWrapped",
        _note("ENCODING", low, "freshness code wrapped as a DER OCTET STRING (04 20 ...)",
              "servers that DER-decode the value accept what step-ca and Apple compare raw"),
        "8.11.1 = 04 20 || SHA-256(token)", "x509.set_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _freshness(lambda b: der_tlv(0x04, freshness_code(b.draft.token))), invalid(Reason.CHALLENGE_MISMATCH),
        resign=True)
    add("freshness::truncated", "FreshnessTruncated",
        _note("BINDING", med, "freshness code cut to 16 bytes", "prefix comparisons accept it"),
        "8.11.1 = first 16 bytes of SHA-256(token)", "x509.set_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _freshness(lambda b: freshness_code(b.draft.token)[:16]), invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("freshness::duplicated", "FreshnessDuplicated",
        _note("ENCODING", high, "the freshness extension appears twice in the leaf",
              "first-wins and last-wins parsers disagree (RFC 5280 forbids it)"),
        "8.11.1 written twice, leaf re-signed", "x509.duplicate_extension", f"{leaf_ext}/{OID_FRESHNESS}",
        _duplicate_freshness, invalid(Reason.MALFORMED), resign=True)
    short = ("SHA-256 of a token the server made too short is a value any device answer for such an order "
             "carries, so the answer replays across orders; a verifier comparing the code only accepts it "
             "(RFC 8555 8.3: a token has at least 128 bits of entropy)")
    add("freshness::token-empty", "TokenEmpty",
        _note("BINDING", high, "the order's challenge token is empty, the freshness code SHA-256(\"\")", short),
        "challenge.token = \"\", 8.11.1 = SHA-256(\"\"), leaf re-issued", "json.set", "/challenge/token",
        _token(lambda b: ""), invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("freshness::token-15-bytes", "TokenShort",
        _note("BINDING", med, "the order's challenge token is 15 bytes (120 bits), the freshness code its SHA-256",
              short),
        "challenge.token = base64url of 15 bytes, 8.11.1 its SHA-256, leaf re-issued", "json.set",
        "/challenge/token", _token(lambda b: _token_text(b.seed, "short-order", 15)),
        invalid(Reason.CHALLENGE_MISMATCH), resign=True)
    add("freshness::critical", "FreshnessCritical",
        _note("CHAIN", low, "the freshness extension marked critical",
              "path validators must reject an unknown critical extension"),
        "8.11.1 critical", "x509.set_critical", f"{leaf_ext}/{OID_FRESHNESS}",
        _set_value(OID_FRESHNESS, lambda b: freshness_code(b.draft.token), critical=True),
        invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    # -- the device identifier --
    add("identifier::other-device", "IdentifierOtherDevice",
        _note("BINDING", crit, "the leaf attests another device's serial number and UDID",
              "a device obtains a certificate for an identifier it is not"),
        "8.9.1 and 8.9.2 of another device", "x509.set_extension", f"{leaf_ext}/{OID_SERIAL}", _other_device,
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("identifier::order-other-serial", "IdentifierOrderOtherSerial",
        _note("BINDING", crit, "the order names another serial number than the one attested",
              "verifiers that ignore the order's identifier certify any device"),
        "identifier.value = another serial", "json.set", "/identifier/value",
        _record(identifier="C02XG0FDH7JY"), invalid(Reason.ATTR_CONFLICT), resign=False)
    add("identifier::serial-and-udid-missing", "IdentifierMissing",
        _note("BINDING", high, "the leaf carries neither 8.9.1 nor 8.9.2",
              "step-ca compares empty strings: an empty identifier would match"),
        "8.9.1 and 8.9.2 removed", "x509.remove_extension", f"{leaf_ext}/{OID_SERIAL}",
        _both(_without(OID_SERIAL), _without(OID_UDID)), invalid(Reason.ATTR_MISSING), resign=True)
    add("identifier::serial-der-utf8string", "IdentifierDerWrapped",
        _note("ENCODING", low, "the serial number wrapped as a DER UTF8String (0C 0A ...)",
              "servers that DER-decode the value accept what step-ca compares raw"),
        "8.9.1 = 0C len serial", "x509.set_extension", f"{leaf_ext}/{OID_SERIAL}",
        _set_value(OID_SERIAL, lambda b: der_tlv(0x0C, b.draft.identifier.encode())),
        invalid(Reason.ATTR_CONFLICT), resign=True)
    add("identifier::case-folded", "IdentifierCaseFolded",
        _note("BINDING", low, "the order names the serial number in lower case",
              "case-insensitive comparisons match identifiers Apple treats as different"),
        "identifier.value lower-cased", "json.set", "/identifier/value",
        lambda b: setattr(b.draft, "identifier", b.draft.identifier.lower()), invalid(Reason.ATTR_CONFLICT),
        resign=False)
    add("identifier::type-dns", "IdentifierTypeDns",
        _note("BASIC", med, "the order's identifier type is dns", "device-attest-01 validates device identifiers"),
        "identifier.type = dns", "json.set", "/identifier/type", _record(identifier_type="dns"),
        invalid(Reason.UNSUPPORTED), resign=False)
    add("identifier::invalid-utf8", "IdentifierNotUtf8",
        _note("ENCODING", low, "the serial number extension holds bytes that are not UTF-8",
              "lossy decoders map it to replacement characters"),
        "8.9.1 = ff fe ...", "x509.set_extension", f"{leaf_ext}/{OID_SERIAL}",
        _set_value(OID_SERIAL, lambda b: b"\xff\xfe" + (b.draft.facts.serial or "").encode()),
        invalid(Reason.MALFORMED), resign=True)
    # -- the chain --
    add("chain::wrong-root", "WrongRoot",
        _note("CHAIN", crit, "leaf and Sub CA of another PKI, whose root is not trusted",
              "any CA can mint device attestations"),
        "leaf and Sub CA from a foreign Enterprise-Attestation-shaped PKI", "pki.replace", "/attStmt/x5c",
        _pki(FOREIGN), invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::root-name-collision", "RootNameCollision",
        _note("CHAIN", crit, "a Sub CA named as Apple's, issued by a root with the genuine root's name and another key",
              "verifiers that match the root by name accept a forged PKI"),
        "the leaf (same subject and serial) and Sub CA from the same-named PKI of another seed", "pki.replace",
        "/attStmt/x5c",
        _pki(ENTERPRISE, "/another-apple"), invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::foreign-root-appended", "ForeignRootAppended",
        _note("CHAIN", high, "a foreign self-signed root appended to x5c",
              "verifiers taking x5c[-1] as the root trust or reject by accident"),
        "another PKI's root appended", "cert.append", "/attStmt/x5c[2]", _foreign_root_appended,
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::intermediate-missing", "IntermediateMissing",
        _note("CHAIN", high, "x5c without the Sub CA", "the leaf's issuer is nowhere"),
        "x5c = [leaf]", "cert.remove", "/attStmt/x5c[1]", lambda b: setattr(b, "above", []),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::leaf-expired", "LeafExpired",
        _note("CHAIN", high, "the leaf expired a day before validation", "stale attestations are accepted"),
        "leaf valid for 3 days ending the day before", "x509.set_validity", "/attStmt/x5c[0]/validity",
        _validity(timedelta(days=-4), timedelta(days=3)), invalid(Reason.CERT_EXPIRED), resign=True)
    add("chain::leaf-not-yet-valid", "LeafNotYetValid",
        _note("CHAIN", med, "the leaf becomes valid a day after validation", "clock skew or a forged date"),
        "leaf valid from the next day", "x509.set_validity", "/attStmt/x5c[0]/validity",
        _validity(timedelta(days=1), timedelta(days=3)), invalid(Reason.CERT_NOT_YET_VALID), resign=True)
    add("chain::leaf-signed-by-attested-key", "LeafSelfIssued",
        _note("SIGNATURE_BYPASS", crit, "the leaf names the Sub CA as issuer but is signed by the attested key",
              "verifiers that match issuer names without checking signatures accept a forged leaf"),
        "leaf signed with the attested key", "x509.resign", "/attStmt/x5c[0]/signature", _signed_by_attested_key,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::intermediate-not-ca", "IntermediateNotCa",
        _note("CHAIN", high, "the Sub CA re-issued with basicConstraints CA:FALSE",
              "verifiers skipping basicConstraints accept leaf-issued leaves"),
        "Sub CA basicConstraints CA false, re-signed by the root", "x509.set_extension", "/attStmt/x5c[1]",
        _intermediate_not_ca, invalid(Reason.CERT_NOT_CA), resign=True)
    add("chain::order-reversed", "X5cReversed",
        _note("ENCODING", med, "x5c lists the Sub CA first and the leaf second",
              "verifiers that pick the leaf by shape, not position, accept it"),
        "x5c = [Sub CA, leaf]", "cbor.reorder", "/attStmt/x5c", _x5c(lambda x5c: x5c[::-1]),
        invalid(Reason.MALFORMED), resign=False)
    # -- the attested key and the CSR --
    add("key::csr-other-key", "CsrOtherKey",
        _note("BINDING", crit, "the finalize CSR requests another key than the attested one",
              "a software key is certified on the strength of a Secure Enclave attestation"),
        "CSR for another key", "file.replace", "<golden>.csr", _csr_other_key, invalid(Reason.KEY_MISMATCH),
        resign=False)
    add("key::csr-missing", "CsrMissing",
        _note("BINDING", high, "no finalize CSR beside the record", "nothing binds the attested key to the order"),
        "the .csr file removed", "file.remove", "<golden>.csr", _csr_missing,
        invalid(Reason.MISSING_INPUT), resign=False)
    add("key::csr-bad-signature", "CsrBadSignature",
        _note("SIGNATURE_BYPASS", high, "the CSR's self-signature has a flipped bit",
              "no proof of possession of the attested key"),
        "CSR signature bit flipped (PEM kept)", "bytes.flip_bit", "<golden>.csr", _csr_bad_signature,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("key::second-csr", "SecondCsr",
        second_csr_note("BINDING", "the attested key", REFS,
                        description="a second finalize CSR, for another key, beside the attested key's own"),
        "other.csr for another key added", "file.add", "other.csr", _second_csr, invalid(Reason.MALFORMED),
        resign=False)
    add("key::rsa", "AttestedKeyRsa",
        _note("KEY_POLICY", med, "the leaf certifies an RSA-2048 key (the CSR too)",
              "the Secure Enclave holds only P-256 and P-384 keys: this attestation was not made by one"),
        "leaf and CSR for an RSA-2048 key", "x509.set_key", "/attStmt/x5c[0]/subjectPublicKeyInfo", _rsa_key,
        invalid(Reason.KEY_POLICY), resign=True)
    # -- the statement and its CBOR --
    add("stmt::fmt-appattest", "FmtNotApple",
        _note("ENCODING", med, "fmt apple-appattest around an ACME apple statement",
              "verifiers that ignore fmt mis-dispatch (pyattest never reads it)"),
        "fmt = apple-appattest", "cbor.set", "/fmt", lambda b: setattr(b, "fmt", "apple-appattest"),
        invalid(Reason.UNSUPPORTED), resign=False)
    add("stmt::x5c-missing", "X5cMissing",
        _note("CHAIN", high, "attStmt is an empty map", "nothing is attested"),
        "attStmt.x5c removed", "cbor.remove", "/attStmt/x5c",
        _object(lambda body: cbor_encode({"fmt": "apple", "attStmt": {}})), invalid(Reason.MALFORMED), resign=False)
    add("stmt::x5c-empty", "X5cEmpty",
        _note("CHAIN", high, "x5c is an empty array", "indexing x5c[0] fails or is skipped"),
        "attStmt.x5c = []", "cbor.set", "/attStmt/x5c", _x5c(lambda _x5c: []), invalid(Reason.MALFORMED),
        resign=False)
    add("stmt::leaf-garbage", "X5cLeafGarbage",
        _note("ROBUSTNESS", med, "x5c[0] is 64 bytes that are not a certificate", "parsers must fail cleanly"),
        "x5c[0] replaced by seed bytes", "cbor.set", "/attStmt/x5c[0]",
        _x5c(lambda x5c: [b"\x30\x3e" + bytes(62), *x5c[1:]]), invalid(Reason.MALFORMED), resign=False)
    add("stmt::sig-present", "StatementSigPresent",
        _note("BASIC", low, "attStmt carries a sig member Apple never writes",
              "structural verifiers tolerate it; the strict profile allows nothing beyond x5c"),
        "attStmt.sig = 64 zero bytes", "cbor.insert", "/attStmt/sig",
        lambda b: b.statement_extra.__setitem__("sig", bytes(64)), strict_only(Reason.UNEXPECTED_CONTENT),
        resign=False)
    add("cbor::trailing-bytes", "CborTrailingBytes",
        _note("ENCODING", low, "a zero byte after the CBOR map", "stream decoders ignore it"),
        "00 appended to attObj", "bytes.extend", "/payload/attObj", _object(lambda body: body + b"\x00"),
        invalid(Reason.MALFORMED), resign=False)
    add("cbor::indefinite-length", "CborIndefiniteLength",
        _note("ENCODING", low, "x5c as an indefinite-length array", "CTAP2-canonical decoders refuse it"),
        "x5c head 0x82 replaced by 0x9F ... 0xFF", "cbor.encoding", "/attStmt/x5c", _object(_indefinite_x5c),
        invalid(Reason.MALFORMED), resign=False)
    add("cbor::duplicate-fmt", "CborDuplicateKey",
        _note("ENCODING", high, "fmt given twice (tpm, then apple)", "first-wins and last-wins decoders disagree"),
        "a first fmt tpm entry inserted", "cbor.duplicate", "/fmt", _object(_duplicate_fmt),
        invalid(Reason.ATTR_CONFLICT), resign=False)
    add("record::att-obj-padded-base64", "AttObjPaddedBase64",
        _note("ENCODING", low, "payload.attObj in padded base64url", "RFC 8555 JSON carries unpadded base64url"),
        "'=' padding appended to payload.attObj", "json.set", "/payload/attObj",
        _pad_att_obj, invalid(Reason.MALFORMED), resign=False)
    # -- accepted variants --
    add("variant::auth-data-present", "AuthDataPresent",
        _note("BASIC", info, "attObj carries authData (the draft says it may be omitted)",
              "none: a correct verifier ignores it"),
        "authData of 37 zero bytes added", "cbor.insert", "/authData",
        lambda b: b.object_extra.__setitem__("authData", bytes(37)), valid(), resign=False)
    add("variant::genuine-root-appended", "GenuineRootAppended",
        _note("BASIC", info, "x5c ends with the genuine root (Apple omits it)", "none: the path is the same"),
        "the Enterprise Attestation root appended", "cert.append", "/attStmt/x5c[2]", _genuine_root_appended,
        valid(), resign=False)
    add("variant::os-version-missing", "OsVersionMissing",
        _note("ATTRIBUTE_POLICY", low, "the leaf omits the OS version 8.10.1",
              "structural verifiers do not need it; the strict profile requires it for device posture"),
        "8.10.1 removed", "x509.remove_extension", f"{leaf_ext}/{OID_OS_VERSION}", _without(OID_OS_VERSION),
        strict_only(Reason.ATTR_MISSING), resign=True)
    return m


def _pad_att_obj(bench: AcmeBench) -> None:
    def pad(record: bytes) -> bytes:
        encoded = b64url(bench.att_obj()).encode()
        return mutate.replace_once(record, encoded, encoded + b"=" * (-len(encoded) % 4 or 4))
    bench.record_edit = pad


def notes() -> dict[str, FlagNote]:
    """Every flag the apple-acme vectors use, with its definition."""
    return flag_notes(PROVENANCE_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The apple-acme vectors for ``seed``: goldens, then every mutation."""
    anchors = (apple_pki(seed, ENTERPRISE).root.certificate,)
    goldens = [golden_case(seed, anchors, f"{ACME_FORMAT}::golden::{g.name}",
                           f"unmutated device-attest-01 apple answer, {g.spec} key, order names the {g.names} as "
                           f"{g.identifier_type}", valid(), AcmeBench.open(seed, g.name).evidence())
               for g in GOLDENS]
    return goldens + mutation_cases(seed, anchors, mutations(), lambda name: AcmeBench.open(seed, name))
