"""The Fortanix vector set: golden responses and one-defect mutations with their expected verdicts.

Each :class:`Mutation` names one defect (a flag with its note), the operator and path it
touches, whether the genuine cluster authority re-signed the statement afterwards
(``Resigned``) or the statement was left as issued while something around it changed
(``Stale``), and the reason each profile must return. Everything is derived from the seed:
keys, serials, kids, Faker labels, fixed times.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH, Device
from hsmsim.encoding import der_children, der_content, der_oid, der_tlv
from hsmsim.formats.fortanix.captured_encoding import with_captured_encoding
from hsmsim.formats.fortanix.generate import assemble, build_statement, key_id
from hsmsim.formats.fortanix.layout import JSON_INDENT, JSON_PREFIX
from hsmsim.formats.fortanix.pki import (
    AUTHORITY_LIFETIME,
    ENROLLMENT_POLICY,
    ITEM_MIN_PROTECTION_PROFILE,
    FortanixPki,
    aki,
    authority_extensions,
    fortanix_pki,
    ski,
)
from hsmsim.formats.fortanix.statement import (
    CLAIM_GENERATED,
    CLAIM_NEVER_EXPORTABLE,
    KEY_ID_OID,
    b64_der,
    dump_response,
    response_document,
)
from hsmsim.keystore.base import KeyPolicy, KeySpec, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, second_csr_note, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, Ext, build_csr, key_usage, map_extensions, name, reissue, resign_tbs
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason

GOLDEN_SPECS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
ATTEST_TIME = datetime(2025, 11, 3, 14, 22, 7, tzinfo=UTC)
VALIDATION_TIME = datetime(2025, 11, 10, tzinfo=UTC)
"""Inside the golden authority certificate's 30-day period (2025-10-20 to 2025-11-19), as the vendor's clock must be."""
RENEWED_VALIDATION_TIME = datetime(2025, 11, 25, tzinfo=UTC)
"""Inside the next authority period, where DSM returns the stored statement with the renewed certificate."""
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
DECRYPT_ONLY = "decrypt-only"


# -- the seeded world ------------------------------------------------------------------------

@dataclass(frozen=True)
class FortanixKit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    device: Device
    pki: FortanixPki
    """The hierarchy at the attestation time, its authority with DSM's non-DER extension values."""
    authority_der: x509.Certificate
    """The same authority certificate with DER extension values (what builders re-issue from)."""
    keys: dict[str, StoredKey]
    store: SoftKeyStore
    organisation: str
    goldens: dict[str, Evidence] = field(default_factory=dict, compare=False)
    """Each golden response by key spec, assembled once: every mutation starts from it."""

    @classmethod
    def build(cls, seed: str) -> FortanixKit:
        """Seed → Faker names, a DSM SaaS cluster, its PKI at the attestation time, one key per spec."""
        fake = seeded_faker(seed, ["en_US", "en_GB"], "fortanix")
        organisation = fake.company()
        region = fake.random_element(("amer", "eu", "uk", "apac", "au"))
        device = Device(format="fortanix", serial=f"{region}.smartkey.io", seed=seed, model="Fortanix DSM SaaS",
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        slug = re.sub(r"[^a-z0-9]+", "-", organisation.lower()).strip("-")[:24]
        store = SoftKeyStore(seed=seed)
        keys = {}
        for index, spec in enumerate(GOLDEN_SPECS):
            purpose = fake.random_element(("codesign", "release-signing", "tsa", "document-seal", "firmware"))
            keys[spec] = store.generate(KeySpec.parse(spec), f"{slug}-{purpose}-{spec}",
                                        created=KEYS_CREATED + timedelta(hours=index, minutes=fake.random_int(0, 59)))
        keys[DECRYPT_ONLY] = store.generate(
            KeySpec.parse("rsa-3072"), f"{slug}-key-transport-rsa-3072",
            policy=KeyPolicy(sign=False, decrypt=True, unwrap=True), created=KEYS_CREATED + timedelta(hours=9))
        pki = fortanix_pki(seed, device.serial, ATTEST_TIME, captured_encoding=True)
        authority_der = fortanix_pki(seed, device.serial, ATTEST_TIME).authority
        return cls(seed, device, pki, authority_der, keys, store, organisation)

    def authority(self, der: x509.Certificate) -> x509.Certificate:
        """An authority certificate built with DER values, given DSM's encodings and the CA's signature."""
        return with_captured_encoding(der, self.pki.ca_key)


# -- the response under construction ---------------------------------------------------------

@dataclass
class Workbench:
    """A golden response opened up for one mutation: statement, chain, JSON layout, outer files."""

    kit: FortanixKit
    key: StoredKey
    statement: x509.Certificate
    chain: list[x509.Certificate]
    outer: dict[str, bytes]
    json_name: str
    document: dict[str, Any] | None = None
    raw: bytes | None = None
    indent: int | None = JSON_INDENT
    validation_time: datetime = VALIDATION_TIME

    @classmethod
    def open(cls, kit: FortanixKit, spec: str) -> Workbench:
        """The golden response of ``spec`` (exactly the generator's output) as a workbench."""
        key = kit.keys[spec]
        if spec not in kit.goldens:
            kit.goldens[spec] = assemble(key, kit.store.signer(key), kit.pki, kit.seed, ATTEST_TIME).evidence()
        evidence = kit.goldens[spec]
        document = json.loads(evidence.files[evidence.primary])
        chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in document["authority_chain"]]
        statement = x509.load_der_x509_certificate(base64.b64decode(document["attestation_statement"]["statement"]))
        outer = {k: v for k, v in evidence.files.items() if k != evidence.primary}
        return cls(kit, key, statement, chain, outer, evidence.primary)

    @property
    def csr_name(self) -> str:
        return next(n for n in self.outer if n.endswith(".csr"))

    def reissue_statement(self, **changes: object) -> None:
        """Rebuild the statement with ``changes`` and sign it with the genuine authority key."""
        self.statement = reissue(self.statement, self.kit.pki.authority_key, **changes)

    def statement_extensions(self, fn: Callable[[list[Ext]], list[Ext]]) -> None:
        """Re-issue the statement with its extensions passed through ``fn``."""
        current = [Ext(e.value, e.critical) for e in self.statement.extensions]
        self.reissue_statement(extensions=tuple(fn(current)))

    def set_cert(self, index: int, cert: x509.Certificate) -> None:
        """Replace ``authority_chain[index]``."""
        self.chain[index] = cert

    def doc(self) -> dict[str, Any]:
        """The response object for the current certificates."""
        return response_document(self.chain, self.statement)

    def response(self) -> bytes:
        """The response JSON bytes: a raw override, else the (edited) document."""
        if self.raw is not None:
            return self.raw
        return dump_response(self.document or self.doc(), self.indent)

    def evidence(self) -> Evidence:
        return Evidence("fortanix", {self.json_name: self.response(), **self.outer}, self.json_name)


Operator = Callable[[Workbench], None]


# -- operators ------------------------------------------------------------------------------

def _exts(fn: Callable[[list[Ext]], list[Ext]]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.statement_extensions(fn)
    return apply


def _without(oid: x509.ObjectIdentifier) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [e for e in exts if e.value.oid != oid]


def _critical(oid: x509.ObjectIdentifier) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [Ext(e.value, True) if e.value.oid == oid else e for e in exts]


def _replacing(oid: x509.ObjectIdentifier, new: Ext) -> Callable[[list[Ext]], list[Ext]]:
    return lambda exts: [new if e.value.oid == oid else e for e in exts]


def _key_usage(*usages: str) -> Operator:
    return _exts(_replacing(x509.KeyUsage.oid, Ext(key_usage(*usages), critical=True)))


def _duplicate_generated_claim(bench: Workbench) -> None:
    """Two 'generated' claim extensions (DER written by hand: builders refuse duplicates)."""
    oid = der_oid(CLAIM_GENERATED.dotted_string)

    def duplicate(extensions: list[bytes]) -> list[bytes]:
        out = []
        for ext in extensions:
            out.append(ext)
            if der_children(der_content(ext))[0] == oid:
                out.append(ext)
        return out

    tbs = map_extensions(bench.statement.tbs_certificate_bytes, duplicate)
    bench.statement = resign_tbs(bench.statement, tbs, bench.kit.pki.authority_key)


def _duplicate_authority_extension(bench: Workbench) -> None:
    """The authority certificate with its first extension twice (DER by hand), re-signed by the CA."""
    golden = bench.chain[0]  # as DSM encodes it: the duplicate is the only difference from the golden
    tbs = map_extensions(golden.tbs_certificate_bytes, lambda exts: [exts[0], *exts])
    bench.set_cert(0, resign_tbs(golden, tbs, bench.kit.pki.ca_key))


def _add_statement_ski(bench: Workbench) -> None:
    public = bench.statement.public_key()
    bench.statement_extensions(lambda exts: [*exts, Ext(ski(public))])  # type: ignore[arg-type]


def _statement_for_other_key(bench: Workbench) -> None:
    bench.reissue_statement(public_key=bench.kit.keys["rsa-4096"].public_key)


def _reissue_authority(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        kit = bench.kit
        bench.set_cert(0, kit.authority(reissue(kit.authority_der, kit.pki.ca_key, **changes)))
    return apply


def _authority_exts(fn: Callable[[list[Ext]], list[Ext]]) -> Operator:
    def apply(bench: Workbench) -> None:
        kit, pki = bench.kit, bench.kit.pki
        current = list(authority_extensions(pki.authority_key.public_key(), pki.ca))
        bench.set_cert(0, kit.authority(reissue(kit.authority_der, pki.ca_key, extensions=tuple(fn(current)))))
    return apply


def _authority_ski_method_1(bench: Workbench) -> None:
    """The authority's SKI (and the statement's AKI, re-signed) by RFC 5280 method 1."""
    public = bench.kit.pki.authority_key.public_key()
    method_1 = x509.SubjectKeyIdentifier.from_public_key(public)
    _authority_exts(_replacing(x509.SubjectKeyIdentifier.oid, Ext(method_1)))(bench)
    bench.statement_extensions(_replacing(x509.AuthorityKeyIdentifier.oid, Ext(x509.AuthorityKeyIdentifier(
        key_identifier=method_1.digest, authority_cert_issuer=None, authority_cert_serial_number=None))))


def _renewed_authority(bench: Workbench) -> None:
    """The stored statement handed back with the next period's authority certificate (same key)."""
    kit = bench.kit
    renewed = fortanix_pki(kit.seed, kit.device.serial, ATTEST_TIME + AUTHORITY_LIFETIME, captured_encoding=True)
    bench.set_cert(0, renewed.authority)
    bench.validation_time = RENEWED_VALIDATION_TIME


def _both_authorities(renewed_first: bool) -> Operator:
    """authority_chain with the period's authority certificate and its renewal (same name and key) both before the
    CA: the renewal first, validated in the first period, or the period's first, validated in the renewal's."""
    def apply(bench: Workbench) -> None:
        kit = bench.kit
        renewed = fortanix_pki(kit.seed, kit.device.serial, ATTEST_TIME + AUTHORITY_LIFETIME,
                               captured_encoding=True).authority
        current = bench.chain[0]
        bench.chain[0:1] = [renewed, current] if renewed_first else [current, renewed]
        if not renewed_first:
            bench.validation_time = RENEWED_VALIDATION_TIME
    return apply


def _ca_exts(fn: Callable[[list[Ext]], list[Ext]]) -> Operator:
    def apply(bench: Workbench) -> None:
        current = [Ext(e.value, e.critical) for e in bench.chain[1].extensions]
        bench.set_cert(1, reissue(bench.chain[1], bench.kit.pki.root_key, extensions=tuple(fn(current))))
    return apply


def _drop(index: int) -> Operator:
    def apply(bench: Workbench) -> None:
        del bench.chain[index]
    return apply


def _sign_with_impostor(bench: Workbench) -> None:
    """The statement keeps the authority's name but an uncertified RSA-3072 key signs it."""
    impostor = derive_key(bench.kit.seed, "fortanix/impostor-authority", KeySpec.parse("rsa-3072"))
    bench.statement = reissue(bench.statement, impostor)


def _lookalike_root(bench: Workbench) -> None:
    """A root with the genuine DN and another key; the CA (same key) re-issued under it."""
    pki = bench.kit.pki
    lookalike_key = derive_key(bench.kit.seed, "fortanix/lookalike-root", KeySpec.parse("rsa-4096"))
    public = lookalike_key.public_key()
    kept = [Ext(e.value, e.critical) for e in pki.root.extensions if e.oid != x509.SubjectKeyIdentifier.oid]
    root = reissue(pki.root, lookalike_key, public_key=public, extensions=(*kept, Ext(ski(public))))
    ca = reissue(pki.ca, lookalike_key, extensions=tuple(
        Ext(aki(root)) if e.oid == x509.AuthorityKeyIdentifier.oid else Ext(e.value, e.critical)
        for e in pki.ca.extensions))
    bench.chain = [bench.chain[0], ca, root]


def _shuffle(bench: Workbench) -> None:
    bench.chain = [bench.chain[2], bench.chain[0], bench.chain[1]]


def _der_authority(bench: Workbench) -> None:
    bench.set_cert(0, bench.kit.authority_der)


def _decrypt_only(bench: Workbench) -> None:
    """The statement and CSR of the decrypt-only key, in files named for it as the DSM CLI names them."""
    key = bench.kit.keys[DECRYPT_ONLY]
    kid = key_id(bench.kit.seed, key)
    bench.key = key
    bench.statement = build_statement(key, kid, bench.kit.pki, ATTEST_TIME, bench.kit.seed)
    bench.json_name = f"{JSON_PREFIX}{kid}.json"
    del bench.outer[bench.csr_name]
    bench.outer[f"{safe_file_stem(key.label)}.csr"] = build_csr(
        name(("CN", key.label, UTF8)), bench.kit.store.signer(key)).public_bytes(serialization.Encoding.PEM)


def _replace_csr(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-4096"]
    csr = build_csr(name(("CN", bench.key.label, UTF8)), bench.kit.store.signer(other))
    bench.outer[bench.csr_name] = csr.public_bytes(serialization.Encoding.PEM)


def _second_csr(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-4096"]
    csr = build_csr(name(("CN", other.label, UTF8)), bench.kit.store.signer(other))
    bench.outer["other.csr"] = csr.public_bytes(serialization.Encoding.PEM)


def _remove_csr(bench: Workbench) -> None:
    del bench.outer[bench.csr_name]


def _break_csr_signature(bench: Workbench) -> None:
    der = x509.load_pem_x509_csr(bench.outer[bench.csr_name]).public_bytes(serialization.Encoding.DER)
    body = mutate.wrap_base64(base64.b64encode(mutate.flip_bit(der, -9)))
    bench.outer[bench.csr_name] = b"-----BEGIN CERTIFICATE REQUEST-----\n" + body + \
        b"\n-----END CERTIFICATE REQUEST-----\n"


def _doc_op(fn: Callable[[dict[str, Any], Workbench], None]) -> Operator:
    def apply(bench: Workbench) -> None:
        document = bench.doc()
        fn(document, bench)
        bench.document = document
    return apply


def _statement_text(fn: Callable[[str, Workbench], str]) -> Operator:
    def edit(document: dict[str, Any], bench: Workbench) -> None:
        statement = document["attestation_statement"]
        statement["statement"] = fn(statement["statement"], bench)
    return _doc_op(edit)


def _statement_pem(_text: str, bench: Workbench) -> str:
    return bench.statement.public_bytes(serialization.Encoding.PEM).decode()


def _base64url(text: str, _bench: Workbench) -> str:
    assert "+" in text or "/" in text
    return text.replace("+", "-").replace("/", "_")


def _wrapped(text: str, _bench: Workbench) -> str:
    return mutate.wrap_base64(text.encode()).decode()


def _trailing_der(_text: str, bench: Workbench) -> str:
    return base64.b64encode(bench.statement.public_bytes(serialization.Encoding.DER) + b"\x00\x00").decode()


def _chain_entry_pem(document: dict[str, Any], bench: Workbench) -> None:
    document["authority_chain"][0] = bench.chain[0].public_bytes(serialization.Encoding.PEM).decode()


def _raw_op(fn: Callable[[bytes, Workbench], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.raw = fn(bench.response(), bench)
    return apply


def _duplicate_statement_member(data: bytes, bench: Workbench) -> bytes:
    """A first ``statement`` for another key, then the genuine one: first- and last-wins parsers disagree."""
    other = bench.kit.keys["rsa-4096"]
    forged = build_statement(other, key_id(bench.kit.seed, other), bench.kit.pki, ATTEST_TIME, bench.kit.seed)
    genuine = f'"statement": "{b64_der(bench.statement)}"'.encode()
    return mutate.replace_once(data, genuine, f'"statement": "{b64_der(forged)}",\n        '.encode() + genuine)


def _deep_member(data: bytes, _bench: Workbench) -> bytes:
    return mutate.replace_once(data, b"{\n", b'{\n    "metadata": ' + b"[" * 64 + b"]" * 64 + b",\n")


def _huge_member(data: bytes, _bench: Workbench) -> bytes:
    return mutate.replace_once(data, b"{\n", b'{\n    "metadata": "' + b"A" * 200_000 + b'",\n')


# -- the catalogue --------------------------------------------------------------------------

SPEC = "shared/specs/luna_fortanix_nshield.md 4"
DOC = "Fortanix: Using Fortanix DSM for Verifying Key Attestation Statements"
JAVA = "fortanix/user-assurance key-attestation/java-example"
CSBR = "CA/B Forum Code Signing BR 6.2.7.4"


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC,))


def mutations() -> list[Mutation]:
    """Every Fortanix defect, in catalogue order."""
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "rsa-3072") -> None:
        m.append(Mutation(f"fortanix::{id_}", flag, note, comment, operator, path, apply, expected, resign, golden))

    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
    stmt = "attestation_statement.statement"

    # policy
    add("policy::authority-policy-missing", "AuthorityPolicyMissing",
        _note("POLICY", crit, "the cluster authority asserts no certificate policy",
              "any end-entity key under the CA could pose as a key attestation authority", SPEC, DOC),
        "authority re-issued by the CA without certificatePolicies", "cert.reissue",
        "authority_chain[0]/certificatePolicies",
        _authority_exts(_without(x509.CertificatePolicies.oid)), invalid(Reason.CERT_POLICY), resign=False)
    add("policy::ca-policy-missing", "CaPolicyMissing",
        _note("POLICY", high, "the Key Attestation CA asserts no certificate policy",
              "the path does not carry the key attestation policy (openssl -explicit_policy fails)", SPEC),
        "CA re-issued by the root without certificatePolicies", "cert.reissue",
        "authority_chain[1]/certificatePolicies",
        _ca_exts(_without(x509.CertificatePolicies.oid)), invalid(Reason.CERT_POLICY), resign=False)
    add("policy::ca-any-policy", "CaAnyPolicy",
        _note("POLICY", med, "the Key Attestation CA asserts anyPolicy instead of the key attestation policy",
              "RFC 5280 path validation (openssl) accepts it; the vendor's verifier requires the exact OID", JAVA),
        "CA re-issued with certificatePolicies anyPolicy (2.5.29.32.0)", "cert.reissue",
        "authority_chain[1]/certificatePolicies",
        _ca_exts(_replacing(x509.CertificatePolicies.oid, Ext(x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)])))),
        invalid(Reason.CERT_POLICY), resign=False)
    add("policy::enrollment-policy-missing", "EnrollmentPolicyMissing",
        _note("POLICY", high, "the authority carries no cluster node enrollment policy",
              "nothing says the cluster's nodes run on protected hardware", JAVA),
        "authority re-issued without extension 1.3.6.1.4.1.49690.2.5", "cert.reissue", "authority_chain[0]/2.5",
        _authority_exts(_without(ENROLLMENT_POLICY)), invalid(Reason.ATTR_MISSING), resign=False)
    other_profile = x509.UnrecognizedExtension(ENROLLMENT_POLICY, der_tlv(0x30, der_tlv(
        0x30, der_oid(ITEM_MIN_PROTECTION_PROFILE) + der_oid("1.3.6.1.4.1.49690.2.5.1.99"))))
    add("policy::protection-profile-unknown", "ProtectionProfileUnknown",
        _note("POLICY", high, "the enrollment policy names an unknown minimum protection profile and "
                              "no site-operator approval",
              "keys may live on cluster nodes without the FX2200's physical protection", JAVA),
        "enrollment policy item 2.5.1 with qualifier …2.5.1.99, item 2.5.2 absent", "cert.reissue",
        "authority_chain[0]/2.5", _authority_exts(_replacing(ENROLLMENT_POLICY, Ext(other_profile))),
        invalid(Reason.CERT_POLICY), resign=False)
    add("policy::authority-eku-missing", "AuthorityEkuMissing",
        _note("POLICY", high, "the authority lacks extendedKeyUsage 1.3.6.1.4.1.49690.8.1",
              "a certificate not meant for key attestation signs statements", JAVA),
        "authority re-issued without extendedKeyUsage", "cert.reissue", "authority_chain[0]/extendedKeyUsage",
        _authority_exts(_without(x509.ExtendedKeyUsage.oid)), invalid(Reason.CERT_EKU), resign=False)

    # claims
    claims_refs = (SPEC, DOC, CSBR)
    add("claims::generated-missing", "ClaimGeneratedMissing",
        _note("ATTRIBUTE_POLICY", crit, "no 'generated in DSM' claim (…2.4.1.1)",
              "a CA would certify a key made outside the HSM", *claims_refs),
        "statement re-issued without the generated claim", "ext.remove", f"{stmt}/2.4.1.1",
        _exts(_without(CLAIM_GENERATED)), invalid(Reason.ATTR_NOT_LOCAL), resign=True)
    add("claims::never-exportable-missing", "ClaimNeverExportableMissing",
        _note("ATTRIBUTE_POLICY", crit, "no 'never exportable' claim (…2.4.1.2)",
              "the key may exist outside the HSM", *claims_refs),
        "statement re-issued without the never-exportable claim", "ext.remove", f"{stmt}/2.4.1.2",
        _exts(_without(CLAIM_NEVER_EXPORTABLE)), invalid(Reason.ATTR_NOT_NEVER_EXTRACTABLE), resign=True)
    add("claims::generated-critical", "ClaimGeneratedCritical",
        _note("ENCODING", med, "the generated claim is marked critical; only keyUsage may be",
              "RFC 5280 verifiers that do not know the OID must reject the certificate", SPEC, "RFC 5280 4.2"),
        "generated claim with critical TRUE, re-signed", "ext.critical", f"{stmt}/2.4.1.1",
        _exts(_critical(CLAIM_GENERATED)), invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    add("claims::never-exportable-critical", "ClaimNeverExportableCritical",
        _note("ENCODING", med, "the never-exportable claim is marked critical; only keyUsage may be",
              "RFC 5280 verifiers that do not know the OID must reject the certificate", SPEC, "RFC 5280 4.2"),
        "never-exportable claim with critical TRUE, re-signed", "ext.critical", f"{stmt}/2.4.1.2",
        _exts(_critical(CLAIM_NEVER_EXPORTABLE)), invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    add("claims::generated-boolean-false", "ClaimGeneratedBooleanFalse",
        _note("ENCODING", high, "the generated claim holds BOOLEAN FALSE instead of an empty SEQUENCE",
              "a verifier testing presence only accepts a claim that says the opposite"),
        "claim value 01 01 00, re-signed", "ext.set", f"{stmt}/2.4.1.1",
        _exts(_replacing(CLAIM_GENERATED, Ext(x509.UnrecognizedExtension(CLAIM_GENERATED, b"\x01\x01\x00")))),
        invalid(Reason.MALFORMED), resign=True)
    add("claims::generated-duplicate", "ClaimGeneratedDuplicate",
        _note("ENCODING", med, "the generated claim extension appears twice",
              "RFC 5280 forbids repeated extensions; parsers differ on which one counts", "RFC 5280 4.2"),
        "second copy of extension …2.4.1.1 (DER by hand), re-signed", "ext.duplicate", f"{stmt}/2.4.1.1",
        _duplicate_generated_claim, invalid(Reason.ATTR_CONFLICT), resign=True)

    add("chain::authority-duplicate-extension", "AuthorityDuplicateExtension",
        _note("ENCODING", med, "the authority certificate carries its first extension twice, properly signed",
              "RFC 5280 forbids repeated extensions; parsers differ on which one counts, and cryptography "
              "raises on first access", "RFC 5280 4.2"),
        "first extension of authority_chain[0] repeated (DER by hand), re-signed by the CA", "ext.duplicate",
        "/authority_chain[0]/extensions", _duplicate_authority_extension, invalid(Reason.MALFORMED),
        resign=False)

    # key usage
    add("keyusage::broader-than-permissions", "KeyUsageBroader",
        _note("ATTRIBUTE_POLICY", high, "statement keyUsage adds keyCertSign and cRLSign",
              "no DSM permission maps to certificate signing; the statement claims more than the key may do",
              SPEC, JAVA),
        "keyUsage digitalSignature+keyCertSign+cRLSign, re-signed", "ext.set", f"{stmt}/keyUsage",
        _key_usage("digital_signature", "key_cert_sign", "crl_sign"), invalid(Reason.CERT_KEY_USAGE), resign=True)
    add("keyusage::agreement-on-rsa", "KeyUsageAgreementOnRsa",
        _note("ATTRIBUTE_POLICY", med, "statement keyUsage grants keyAgreement to an RSA key",
              "the permissions contradict the key type"),
        "keyUsage digitalSignature+keyAgreement on RSA-3072, re-signed", "ext.set", f"{stmt}/keyUsage",
        _key_usage("digital_signature", "key_agreement"), invalid(Reason.CERT_KEY_USAGE), resign=True)
    add("keyusage::missing", "KeyUsageMissing",
        _note("ATTRIBUTE_POLICY", med, "the statement has no keyUsage",
              "the key's permissions are unknown; a verifier defaulting to 'any' accepts them", JAVA),
        "statement re-issued without keyUsage", "ext.remove", f"{stmt}/keyUsage",
        _exts(_without(x509.KeyUsage.oid)), invalid(Reason.ATTR_MISSING), resign=True)

    # chain
    nb = ATTEST_TIME.replace(microsecond=0)
    add("chain::authority-expired-at-not-before", "AuthorityExpiredAtNotBefore",
        _note("CHAIN", high, "the authority certificate expired before the statement's notBefore",
              "a retired authority key keeps issuing statements; expired at any time the statement is valid", SPEC),
        "authority valid notBefore-31d .. notBefore-1d", "cert.reissue", "authority_chain[0]/validity",
        _reissue_authority(not_before=nb - timedelta(days=31), not_after=nb - timedelta(days=1)),
        invalid(Reason.CERT_EXPIRED), resign=False)
    add("chain::statement-not-yet-valid", "StatementNotYetValid",
        _note("CHAIN", med, "the statement's notBefore is after the validation time",
              "post-dated statements defeat revocation by time"),
        "statement notBefore 2045-01-01, re-signed", "cert.reissue", f"{stmt}/validity",
        lambda b: b.reissue_statement(not_before=datetime(2045, 1, 1, tzinfo=UTC)),
        invalid(Reason.CERT_NOT_YET_VALID), resign=True)
    add("chain::ca-missing", "CaMissing",
        _note("CHAIN", high, "the Key Attestation CA is missing from authority_chain",
              "the authority cannot be tied to the root"),
        "authority_chain holds authority and root", "cert.remove", "authority_chain[1]", _drop(1),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::authority-missing", "AuthorityMissing",
        _note("CHAIN", high, "the cluster authority is missing from authority_chain",
              "nothing proves who signed the statement"),
        "authority_chain holds CA and root", "cert.remove", "authority_chain[0]", _drop(0),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::statement-signed-by-impostor", "StatementSignedByImpostor",
        _note("SIGNATURE_BYPASS", crit, "the statement names the authority but an uncertified key signed it",
              "a verifier matching names only accepts statements anyone can mint", JAVA),
        "statement re-signed by an impostor RSA-3072 key", "cert.resign", stmt, _sign_with_impostor,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::lookalike-root", "LookalikeRoot",
        _note("CHAIN", crit, "the chain ends at a root with the genuine DN and another key",
              "verifiers comparing root names instead of keys trust a forged hierarchy"),
        "root re-made with a look-alike key; the CA re-issued under it", "chain.replace", "authority_chain[1..2]",
        _lookalike_root, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::ca-not-ca", "CaNotCa",
        _note("CHAIN", crit, "the Key Attestation CA has basicConstraints CA:FALSE but issues the authority",
              "any end-entity certificate could issue authorities"),
        "CA re-issued with CA:FALSE", "cert.reissue", "authority_chain[1]/basicConstraints",
        _ca_exts(_replacing(x509.BasicConstraints.oid, Ext(x509.BasicConstraints(ca=False, path_length=None),
                                                            critical=True))),
        invalid(Reason.CERT_NOT_CA), resign=False)
    add("chain::aki-mismatch", "StatementAkiMismatch",
        _note("CHAIN", med, "the statement's authorityKeyIdentifier names the CA, not the authority",
              "key-identifier path builders (openssl) find no issuer; name-only builders do"),
        "statement AKI = the CA's SKI, re-signed", "ext.set", f"{stmt}/authorityKeyIdentifier",
        lambda b: b.statement_extensions(_replacing(x509.AuthorityKeyIdentifier.oid, Ext(aki(b.chain[1])))),
        invalid(Reason.CHAIN_INCOMPLETE), resign=True)
    add("chain::authority-ski-method-1", "AuthoritySkiMethod1",
        _note("CHAIN", low, "the authority's subjectKeyIdentifier is RFC 5280 method 1 (SHA-1 of the key's BIT "
                            "STRING), the statement's AKI following it; DSM hashes the whole SubjectPublicKeyInfo",
              "the vendor's verifier recomputes SHA-1 over the encoded SubjectPublicKeyInfo and rejects; openssl "
              "does not check how an SKI was made", JAVA, "RFC 5280 4.2.1.2"),
        "authority re-issued with a method-1 SKI, statement AKI = that SKI, re-signed", "ext.set",
        "authority_chain[0]/subjectKeyIdentifier", _authority_ski_method_1, invalid(Reason.MALFORMED),
        resign=True)

    # binding
    add("binding::csr-other-key", "CsrOtherKey",
        _note("KEY_BINDING", crit, "the CSR asks to certify a key other than the attested one",
              "a CA would certify an unattested (possibly exportable) key", CSBR),
        "CSR for another RSA key", "csr.replace", "<label>.csr", _replace_csr, invalid(Reason.KEY_MISMATCH),
        resign=False)
    add("binding::statement-other-key", "StatementOtherKey",
        _note("KEY_BINDING", crit, "the statement attests a key other than the CSR's",
              "the attested key and the certified key differ", CSBR),
        "statement SubjectPublicKeyInfo = another RSA key, re-signed", "cert.reissue",
        f"{stmt}/subjectPublicKeyInfo", _statement_for_other_key, invalid(Reason.KEY_MISMATCH), resign=True)
    add("binding::csr-signature-broken", "CsrSignatureBroken",
        _note("KEY_BINDING", high, "the CSR self-signature does not verify", "no proof of possession"),
        "one bit of the CSR signature flipped", "bytes.flip_bit", "<label>.csr", _break_csr_signature,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("binding::second-csr", "SecondCsr",
        second_csr_note("KEY_BINDING", "the statement's key", (SPEC,)),
        "other.csr for the RSA-4096 key added", "file.add", "other.csr", _second_csr, invalid(Reason.MALFORMED),
        resign=False)

    # JSON shape and robustness
    robustness = "ROBUSTNESS"
    add("json::format-unknown", "JsonFormatUnknown",
        _note("ENCODING", med, "attestation_statement.format is not x509_certificate",
              "a verifier ignoring format parses a blob of unknown type as a certificate", DOC),
        'format "x509_certificate_chain"', "json.set", "attestation_statement.format",
        _doc_op(lambda d, _b: d["attestation_statement"].update(format="x509_certificate_chain")),
        invalid(Reason.UNSUPPORTED), resign=False)
    add("json::authority-chain-missing", "JsonAuthorityChainMissing",
        _note("ENCODING", high, "the response has no authority_chain", "the statement cannot be tied to the root"),
        "authority_chain member removed", "json.remove", "authority_chain",
        _doc_op(lambda d, _b: d.pop("authority_chain")), invalid(Reason.MISSING_INPUT), resign=False)
    add("json::statement-missing", "JsonStatementMissing",
        _note("ENCODING", high, "attestation_statement has no statement", "there is nothing to verify"),
        "statement member removed", "json.remove", stmt,
        _doc_op(lambda d, _b: d["attestation_statement"].pop("statement")), invalid(Reason.MISSING_INPUT),
        resign=False)
    add("json::duplicate-statement-member", "JsonDuplicateMember",
        _note("ENCODING", crit, "two statement members: another key's statement first, the genuine one last",
              "first-wins and last-wins JSON parsers attest different keys", "RFC 8259 4"),
        "duplicate statement member inserted before the genuine one", "json.duplicate", stmt,
        _raw_op(_duplicate_statement_member), invalid(Reason.ATTR_CONFLICT), resign=False)
    add("json::number-overflows-double", "JsonNumberOverflow",
        _note("ENCODING", low, "an unknown member holds the number 1e99999999999",
              "parsers disagree (infinity, an error, a big decimal); I-JSON forbids numbers beyond a double",
              "RFC 7493 2.2"),
        'member "x": 1e99999999999 added', "json.insert", "/x",
        _raw_op(lambda d, _b: d.replace(b"{", b'{"x": 1e99999999999, ', 1)), invalid(Reason.MALFORMED),
        resign=False)
    add("json::lone-surrogate", "JsonLoneSurrogate",
        _note("ENCODING", low, "the statement format string ends in the lone surrogate escape \\ud800",
              "not Unicode: parsers replace, drop or refuse it, and printing it raises", "RFC 7493 2.1"),
        'format "x509_certificate\\ud800"', "json.set", "attestation_statement.format",
        _raw_op(lambda d, _b: d.replace(b'"x509_certificate"', b'"x509_certificate\\ud800"', 1)),
        invalid(Reason.MALFORMED), resign=False)
    add("json::not-an-object", "JsonNotAnObject",
        _note("ENCODING", low, "the response is a JSON array holding the object", "shape confusion"),
        "response wrapped in [ ]", "json.wrap", "/", _raw_op(lambda d, _b: b"[" + d.rstrip(b"\n") + b"]\n"),
        invalid(Reason.MALFORMED), resign=False)
    add("json::chain-entry-not-string", "JsonChainEntryNotString",
        _note("ENCODING", low, "an authority_chain entry is a number", "type confusion in lenient decoders"),
        "authority_chain[1] = 0", "json.set", "authority_chain[1]",
        _doc_op(lambda d, _b: d["authority_chain"].__setitem__(1, 0)), invalid(Reason.MALFORMED), resign=False)
    add("json::trailing-data", "JsonTrailingData",
        _note("ENCODING", low, "a second JSON value after the response", "streaming parsers read only the first"),
        '{"authority_chain": []} appended', "bytes.extend", "/",
        _raw_op(lambda d, _b: d + b'{"authority_chain": []}\n'), invalid(Reason.MALFORMED), resign=False)
    add("json::deep-nesting", "JsonDeepNesting",
        _note(robustness, high, "an extra member nested 64 arrays deep", "recursive parsers exhaust the stack",
              "CWE-674"),
        '"metadata": [[[…]]] (64 levels)', "json.insert", "metadata", _raw_op(_deep_member),
        invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("json::huge-string", "JsonHugeString",
        _note(robustness, med, "an extra member holding a 200,000-character string",
              "unbounded reads exhaust memory or time", "CWE-400"),
        '"metadata": "AAAA…" (200,000 characters)', "json.insert", "metadata", _raw_op(_huge_member),
        invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("json::chain-too-long", "JsonChainTooLong",
        _note(robustness, low, "authority_chain holds 12 entries", "path building over many candidates is costly"),
        "the CA repeated nine more times (12 entries)", "json.set", "authority_chain",
        _doc_op(lambda d, _b: d["authority_chain"].extend([d["authority_chain"][1]] * 9)),
        invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("json::unknown-member", "JsonUnknownMember",
        _note("EXTENSIBILITY", Severity.INFO, "a top-level member the format does not define",
              "structural verifiers tolerate it; strict ones reject unknown content"),
        '"kid": "<kid>" added at the top level', "json.insert", "kid",
        _doc_op(lambda d, b: d.update(kid=str(b.statement.subject.get_attributes_for_oid(KEY_ID_OID)[0].value))),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=False)

    # encodings of the certificates inside the JSON
    add("encoding::statement-pem", "StatementPem",
        _note("ENCODING", med, "the statement is a PEM block, not base64 DER",
              "lenient loaders accept both; the documented format is base64 DER", DOC),
        "statement = PEM text of the same certificate", "json.set", stmt, _statement_text(_statement_pem),
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::chain-entry-pem", "ChainEntryPem",
        _note("ENCODING", med, "an authority_chain entry is a PEM block, not base64 DER",
              "lenient loaders accept both; the documented format is base64 DER", DOC),
        "authority_chain[0] = PEM text of the same certificate", "json.set", "authority_chain[0]",
        _doc_op(_chain_entry_pem), invalid(Reason.MALFORMED), resign=False)
    add("encoding::statement-base64url", "StatementBase64Url",
        _note("ENCODING", low, "the statement uses the URL-safe base64 alphabet",
              "decoders that accept both alphabets read bytes the format never emits", "RFC 4648 5"),
        "'+' and '/' replaced by '-' and '_'", "json.set", stmt, _statement_text(_base64url),
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::statement-base64-wrapped", "StatementBase64Wrapped",
        _note("ENCODING", Severity.INFO, "the statement's base64 is wrapped at 64 columns (MIME/PEM style)",
              "the DER is unchanged; strict decoders (Java's Base64.getDecoder, the strict profile) reject "
              "line breaks, lenient ones accept them", "RFC 4648 3.1", JAVA),
        "newline every 64 characters inside the statement string", "json.set", stmt, _statement_text(_wrapped),
        strict_only(Reason.MALFORMED), resign=False)
    add("encoding::statement-trailing-bytes", "StatementTrailingBytes",
        _note("ENCODING", med, "two zero bytes after the statement's DER",
              "parsers that stop at the first TLV accept appended data"),
        "DER + 00 00, base64 re-encoded", "json.set", stmt, _statement_text(_trailing_der),
        invalid(Reason.MALFORMED), resign=False)
    # acceptable and valid variants
    add("variant::unknown-statement-extension", "StatementUnknownExtension",
        _note("EXTENSIBILITY", Severity.INFO, "the statement carries a non-critical subjectKeyIdentifier",
              "structural verifiers tolerate it; strict ones reject unknown content"),
        "SKI added to the statement, re-signed", "ext.add", f"{stmt}/subjectKeyIdentifier",
        _add_statement_ski,
        strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    add("variant::decrypt-only-key", "DecryptOnlyKey",
        _note("PROFILE", Severity.LOW, "a key with decrypt and unwrap permissions only: keyUsage "
                                       "keyEncipherment+dataEncipherment",
              "valid evidence; the strict (code-signing) profile rejects a key that may not sign", CSBR),
        "statement and CSR for an RSA-3072 key without the sign permission", "key.replace", stmt, _decrypt_only,
        strict_only(Reason.KEY_POLICY), resign=True)
    add("variant::compact-json", "CompactJson",
        _note("BASIC", Severity.INFO, "the response on one line, as an HTTP client receives it",
              "none: a correct verifier accepts it"),
        "no indentation", "json.reformat", "/", lambda b: setattr(b, "indent", None), valid(), resign=False)
    add("variant::stored-statement-renewed-authority", "StoredStatementRenewedAuthority",
        _note("CHAIN", Severity.INFO, "the statement predates its authority certificate: DSM hands back the stored "
                                      "statement with the next 30-day certificate of the same authority key, as "
                                      "in the published response (statement 2023-09-01 00:36, authority from 14:28)",
              "the vendor's verifier (its clock) accepts; validating at the statement's notBefore (openssl "
              "-attime, hsmsim chain_time='statement') rejects it as not yet valid", JAVA, SPEC),
        "authority_chain[0] = the next period's authority certificate; validation time in that period",
        "cert.replace", "authority_chain[0]", _renewed_authority, valid(), resign=False)
    add("variant::authority-der-extensions", "AuthorityDerExtensions",
        _note("ENCODING", Severity.INFO, "the authority's basicConstraints and keyUsage in DER (30 00, 03 02 07 80) "
                                         "instead of DSM's 30 03 01 01 00 and 03 02 01 80",
              "none: every verifier reads DER; it is what a DSM fixing its encoder would send", "X.690 11.5"),
        "authority re-encoded in DER, re-signed by the CA", "cert.reencode", "authority_chain[0]/basicConstraints",
        _der_authority, valid(), resign=False)
    add("variant::chain-order-shuffled", "ChainOrderShuffled",
        _note("BASIC", Severity.INFO, "authority_chain in root, authority, CA order",
              "the documentation allows any order and a path builder (hsmsim structural) accepts it; the vendor's "
              "Java verifier indexes the array as [authority, CA, root], as DSM emits it, and rejects it (so does "
              "the strict profile: MALFORMED)", SPEC, JAVA),
        "authority_chain reordered root, authority, CA", "chain.reorder", "authority_chain", _shuffle,
        strict_only(Reason.MALFORMED), resign=False)
    add("variant::chain-without-root-copy", "ChainWithoutRootCopy",
        _note("BASIC", Severity.INFO, "authority_chain holds authority and CA only",
              "the root comes from the trust store, so a path builder (hsmsim structural) accepts it; the vendor's "
              "Java verifier requires exactly three entries, the last equal to the trusted root, as DSM emits "
              "them, and rejects it (so does the strict profile: MALFORMED)", JAVA),
        "root copy dropped from authority_chain", "cert.remove", "authority_chain[2]", _drop(2),
        strict_only(Reason.MALFORMED), resign=False)
    add("variant::response-without-csr", "ResponseWithoutCsr",
        _note("KEY_BINDING", Severity.INFO, "the response alone, no CSR beside it (DSM's API returns only the "
                                            "response; the published one has no CSR)",
              "the statement is verified and claims.spki_der names the attested key; nothing binds it to a "
              "request, which the strict (CA code-signing) profile requires (MISSING_INPUT)", DOC, CSBR),
        "CSR removed", "file.remove", "<label>.csr", _remove_csr, strict_only(Reason.MISSING_INPUT), resign=False)
    order_note = ("a verifier that takes the first certificate named as the issuer that signed the statement "
                  "validates the other period's certificate and rejects ({}) what the other order accepts; the "
                  "documentation takes the chain in any order, so the candidate whose path validates is the "
                  "authority (the strict profile, the vendor's [authority, CA, root] layout, rejects four entries: "
                  "MALFORMED)")
    add("variant::renewed-authority-listed-first", "RenewedAuthorityListedFirst",
        _note("CHAIN", Severity.LOW, "authority_chain holds the renewed authority certificate (same name and key) "
                                     "before the period's own, validated in the period",
              order_note.format("CERT_NOT_YET_VALID"), SPEC, DOC),
        "authority_chain = [renewed authority, authority, CA, root]", "cert.insert", "authority_chain[0]",
        _both_authorities(renewed_first=True), strict_only(Reason.MALFORMED), resign=False)
    add("variant::expired-authority-listed-first", "ExpiredAuthorityListedFirst",
        _note("CHAIN", Severity.LOW, "authority_chain holds the previous period's authority certificate (same name "
                                     "and key, expired) before the renewed one, validated in the renewed period",
              order_note.format("CERT_EXPIRED"), SPEC, DOC),
        "authority_chain = [authority, renewed authority, CA, root]; validation time in the renewed period",
        "cert.insert", "authority_chain[1]", _both_authorities(renewed_first=False), strict_only(Reason.MALFORMED),
        resign=False)
    return m


COMMON_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated response from the emulated DSM cluster",
                       "a verifier that rejects it is broken for this key type", (SPEC,)),
    "Resigned": FlagNote("PROVENANCE", Severity.INFO,
                         "the genuine cluster authority re-signed the statement after the mutation",
                         "the defect reaches the semantic checks behind the signature", ()),
    "Stale": FlagNote("PROVENANCE", Severity.INFO,
                      "the statement is not the genuine authority's signature over the mutated content, or the "
                      "mutation is outside the statement",
                      "the chain, signature or shape checks should catch it first", ()),
    "StrictKeyPolicy": FlagNote("PROFILE", Severity.LOW,
                                "key type or size outside the CA/B Forum code-signing rules",
                                "valid evidence; the strict profile rejects it with KEY_POLICY", (CSBR,)),
    "StatementKeyNotRsa": FlagNote("PROFILE", Severity.LOW,
                                   "an EC statement key: hsmsim emulates EC statements (a GUESS; DSM's only "
                                   "published statement is RSA and its documentation says 'certain types of "
                                   "asymmetric keys')",
                                   "structural verifiers accept; the vendor's Java verifier rejects any non-RSA "
                                   "statement key ('invalid public key type'), and so does the strict profile "
                                   "(UNSUPPORTED)", (JAVA, SPEC)),
}


def notes() -> dict[str, FlagNote]:
    """Every flag the Fortanix vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The Fortanix vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = FortanixKit.build(seed)
    anchors = (kit.pki.root,)
    cases = []
    for spec in GOLDEN_SPECS:
        weak, ec = spec == "rsa-2048", spec.startswith("ec-")
        policy_flags = ("StrictKeyPolicy",) if weak else ("StatementKeyNotRsa",) if ec else ()
        expected = strict_only(Reason.KEY_POLICY) if weak else strict_only(Reason.UNSUPPORTED) if ec else valid()
        cases.append(VectorCase(
            id=f"fortanix::golden::{spec}{'-unconfirmed' if ec else ''}",
            comment=f"unmutated key attestation statement of a generated {spec} key",
            flags=("Golden", *policy_flags), expected=expected,
            evidence=Workbench.open(kit, spec).evidence(), anchors=anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE),
        ))
    for mutation in mutations():
        bench = Workbench.open(kit, mutation.golden)
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.evidence(), anchors=anchors,
            validation_time=bench.validation_time,
            provenance=Provenance(seed=seed, signing=signing, golden=f"fortanix::golden::{mutation.golden}",
                                  operator=mutation.operator, path=mutation.path),
        ))
    return cases

