"""The Luna PKC vector set: golden PKCs and one-defect mutations with their expected verdicts.

Each :class:`Mutation` names one defect (a flag with its note), the operator and path it
touches, whether a genuine Luna CA key re-signed the changed certificate afterwards
(``Resigned``) or the bytes are no longer what a genuine key signed (``Stale``), and the reason
each profile must return. Everything is derived from the seed: keys, serials, Faker labels and
organisation, fixed times.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hsmsim import mutate
from hsmsim.device import DEVICE_EPOCH
from hsmsim.encoding import der_oid, der_sequence, der_tlv, pem, spki_der
from hsmsim.formats.luna.generate import LunaBundle, anchor_der, assemble, build_csr, certs_only_pkcs7
from hsmsim.formats.luna.layout import FORMAT_NAME
from hsmsim.formats.luna.options import LunaOptions
from hsmsim.formats.luna.pki import (
    EKU_DAC,
    EKU_HOC,
    EKU_PKC,
    EKU_ROOT,
    EXT_SERIAL,
    OID_BC,
    OID_EKU,
    LunaCertSpec,
    LunaExt,
    LunaPki,
    algorithm_identifier,
    build_luna_certificate,
    eku,
    encode_name,
    luna_pki,
    ouid,
    pkc_spec,
    private,
    rsa_root_reissue,
    serial_extension,
    sign_message,
)
from hsmsim.keystore.base import KeySpec, PrivateKey, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, seeded_faker, strict_only, valid
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Profile, Reason

GOLDEN_SPECS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
PARTITION = "default"


# -- the seeded world ------------------------------------------------------------------------

@dataclass(frozen=True)
class LunaKit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    serial: int
    keys: dict[str, StoredKey]
    store: SoftKeyStore
    options: LunaOptions
    bundles: dict[tuple[str, LunaOptions], LunaBundle] = field(default_factory=dict, compare=False)
    """Each golden PKC by key spec and options, assembled once: every mutation starts from it."""

    @classmethod
    def build(cls, seed: str) -> LunaKit:
        """Seed -> Faker names, a Luna device serial, and one generated key per golden spec."""
        fake = seeded_faker(seed, ["en_CA"], "luna")
        organisation = fake.company()
        serial = int(fake.numerify("5#####"))
        slug = re.sub(r"[^a-z0-9]+", "-", organisation.lower()).strip("-")[:24]
        store = SoftKeyStore(seed=f"luna/{seed}")
        keys = {}
        for index, spec in enumerate(GOLDEN_SPECS):
            purpose = fake.random_element(("codesign", "tls", "seal", "timestamp", "signing"))
            keys[spec] = store.generate(KeySpec.parse(spec), f"{slug}-{purpose}-{spec}",
                                        created=KEYS_CREATED + timedelta(hours=index, minutes=fake.random_int(0, 59)))
        options = LunaOptions(csr_subject=(("C", "CA"), ("CN", "{label}"), ("L", fake.city()), ("O", organisation)))
        return cls(seed, serial, keys, store, options)

    def pki(self, options: LunaOptions) -> LunaPki:
        """The device's hierarchy written with ``options``."""
        return luna_pki(self.seed, self.serial, model=options.model, firmware=options.firmware,
                        encoding=options.encoding, ca_extensions=options.ca_extensions)

    def anchor(self, ec_key: bool, options: LunaOptions) -> x509.Certificate:
        """The TEST-ONLY trust anchor of a hierarchy, as cryptography loads it."""
        return x509.load_der_x509_certificate(anchor_der(self.pki(options), ec_key, options.pkc_type, options))


# -- the PKC under construction ------------------------------------------------------------------

@dataclass
class Workbench:
    """A golden PKC opened up for one mutation: certificate specs, their signers, bag, CSR, container."""

    kit: LunaKit
    key: StoredKey
    options: LunaOptions
    bundle: LunaBundle
    specs: list[LunaCertSpec]
    signers: list[PrivateKey]
    certs: list[bytes]
    csr: bytes | None
    anchors: tuple[x509.Certificate, ...]
    container: dict[str, bytes] = field(default_factory=dict)
    post: Callable[[bytes], bytes] | None = None

    @classmethod
    def open(cls, kit: LunaKit, spec: str, **overrides: object) -> Workbench:
        """The golden PKC of ``spec`` (with LunaOptions ``overrides``) as a workbench."""
        key = kit.keys[spec]
        options = replace(kit.options, **overrides)  # type: ignore[arg-type]
        if (spec, options) not in kit.bundles:
            kit.bundles[spec, options] = assemble(key, kit.store.signer(key), kit.seed, kit.serial, PARTITION, options)
        bundle = kit.bundles[spec, options]
        ec_key = key.spec.key_type.value == "EC"
        issuers = kit.pki(options).issuers(ec_key, options.pkc_type)
        leaf = pkc_spec(kit.pki(options), key.public_key, ouid(kit.seed, kit.serial, PARTITION, key.label),  # type: ignore[arg-type]
                        pkc_type=options.pkc_type, unpadded_ecdsa_s=options.unpadded_ecdsa_s)
        specs = [leaf, *(ca.spec for ca in issuers)]
        signers = [ca.key for ca in issuers] + [issuers[-1].key]
        return cls(kit, key, options, bundle, specs, signers, list(bundle.certificates), bundle.csr_pem,
                   (kit.anchor(ec_key, options),))

    def reissue(self, index: int, *, signer: PrivateKey | None = None, **changes: object) -> None:
        """Rebuild certificate ``index`` with ``changes`` to its spec, signed by its genuine issuer
        (or ``signer``)."""
        self.specs[index] = replace(self.specs[index], **changes)  # type: ignore[arg-type]
        self.certs[index] = build_luna_certificate(self.specs[index], signer or self.signers[index],
                                                   self.options.encoding)

    def replace_extension(self, index: int, oid: str, new: LunaExt | None) -> None:
        """Re-issue certificate ``index`` with extension ``oid`` replaced in place (or removed)."""
        extensions = tuple(new if e.oid == oid else e for e in self.specs[index].extensions)
        self.reissue(index, extensions=tuple(e for e in extensions if e is not None))

    def evidence(self) -> Evidence:
        """The files a verifier receives: the PKC, the CSR (unless removed) and the root file."""
        pkc = certs_only_pkcs7(self.certs, **self.container)
        if self.post is not None:
            pkc = self.post(pkc)
        evidence = self.bundle.evidence(pkc)
        files = dict(evidence.files)
        csr_name = f"{self.bundle.stem}.csr"
        if self.csr is None:
            files.pop(csr_name)
        else:
            files[csr_name] = self.csr
        return Evidence(FORMAT_NAME, files, evidence.primary)


Operator = Callable[[Workbench], None]


# -- operators ----------------------------------------------------------------------------------

def _impostor(kit: LunaKit, role: str) -> rsa.RSAPrivateKey:
    key = derive_key(kit.seed, f"luna/impostor/{role}", KeySpec.parse("rsa-2048"))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _drop(*indexes: int) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.certs = [c for i, c in enumerate(bench.certs) if i not in indexes]
    return apply


def _leaf_by_impostor(bench: Workbench) -> None:
    bench.reissue(0, signer=_impostor(bench.kit, "dac"))


def _leaf_issued_by_hoc(bench: Workbench) -> None:
    bench.reissue(0, signer=bench.signers[1], issuer=bench.specs[2].subject)
    del bench.certs[1]


def _shuffle(bench: Workbench) -> None:
    leaf, dac, hoc, mic, root = bench.certs
    bench.certs = [dac, root, leaf, mic, hoc]


def _lookalike_chain(bench: Workbench) -> list[bytes]:
    """The whole chain re-made under a root with the genuine root's name and another key."""
    keys = [_impostor(bench.kit, role) for role in ("dac", "hoc", "mic", "root")]
    specs = [bench.specs[0]] + [replace(spec, spki=spki_der(key.public_key()))
                                for spec, key in zip(bench.specs[1:], keys, strict=True)]
    signers = [*keys, keys[-1]]
    return [build_luna_certificate(spec, signer, bench.options.encoding)
            for spec, signer in zip(specs, signers, strict=True)]


def _root_lookalike(bench: Workbench) -> None:
    bench.certs = _lookalike_chain(bench)


def _root_copy_swapped(bench: Workbench) -> None:
    bench.certs[-1] = _lookalike_chain(bench)[-1]


def _flip_signature(index: int) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.certs[index] = mutate.flip_bit(bench.certs[index], -9)
    return apply


def _eku(index: int, *oids: str) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.replace_extension(index, OID_EKU, eku(*oids) if oids else None)
    return apply


def _csr_other_key(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-4096"]
    bench.csr = build_csr(bench.key, bench.kit.store.signer(other), bench.options)


def _csr_broken(bench: Workbench) -> None:
    assert bench.csr is not None
    body = b"".join(line for line in bench.csr.splitlines() if not line.startswith(b"-----"))
    der = mutate.flip_bit(base64.b64decode(body), -9)
    bench.csr = pem(der, "NEW CERTIFICATE REQUEST", b"\r\n")


def _leaf_other_key(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-4096"].public_key
    bench.reissue(0, spki=spki_der(other))  # type: ignore[arg-type]


def _serial(value: bytes | None) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.replace_extension(0, EXT_SERIAL, private(EXT_SERIAL, value) if value is not None else None)
    return apply


def _other_serial(bench: Workbench) -> bytes:
    return serial_extension(bench.kit.serial + 1).value


def _leaf_serial_other(bench: Workbench) -> None:
    _serial(_other_serial(bench))(bench)


def _dac_cn_other(bench: Workbench) -> None:
    rdns = (("C", "CA"), ("O", "Chrysalis-ITS"), ("OU", "Chrysalis-ITS DeviceAuthenticationCertificate"),
            ("CN", f"Luna {bench.options.model}-{bench.kit.serial + 1}"))
    bench.reissue(1, subject=encode_name(rdns))
    bench.reissue(0, issuer=bench.specs[1].subject)


def _ouid_other(bench: Workbench) -> None:
    object_id = ouid(bench.kit.seed, bench.kit.serial + 1, PARTITION, bench.key.label)
    bench.reissue(0, subject=encode_name((("OU", "Chrysalis-ITS Proof of Origin"), ("CN", object_id))))


def _hoc_not_ca(bench: Workbench) -> None:
    bench.replace_extension(2, OID_BC, None)


def _dac_sha1(bench: Workbench) -> None:
    bench.reissue(1, signature="sha1_rsa")


def _dac_unknown_critical(bench: Workbench) -> None:
    bench.reissue(1, extensions=(*bench.specs[1].extensions, LunaExt("1.3.6.1.4.1.12383.2.99", b"\x01",
                                                                     critical=True)))


def _leaf_unknown_extension(bench: Workbench) -> None:
    bench.reissue(0, extensions=(*bench.specs[0].extensions, private("1.3.6.1.4.1.12383.2.99", b"\x01\x00\x00\x00")))


def _dac_expired(bench: Workbench) -> None:
    bench.reissue(1, not_after=datetime(2025, 6, 30, tzinfo=UTC))


def _leaf_not_yet_valid(bench: Workbench) -> None:
    bench.reissue(0, not_before=datetime(2026, 6, 1, tzinfo=UTC))


def _signer_info(bench: Workbench) -> bytes:
    """A well-formed SignerInfo by the DAC over nothing in particular."""
    dac = bench.specs[1]
    signature = sign_message(b"hsmsim", bench.signers[0], "sha256_rsa")
    return der_sequence(core.Integer(1).dump(), der_sequence(dac.issuer, core.Integer(dac.serial).dump()),
                        der_sequence(der_oid("2.16.840.1.101.3.4.2.1")),
                        algorithm_identifier("sha256_rsa"), core.OctetString(signature).dump())


def _container(**parts: Callable[[Workbench], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.container = {name: make(bench) for name, make in parts.items()}
    return apply


def _crl(bench: Workbench) -> bytes:
    dac = bench.specs[1]
    tbs = der_sequence(algorithm_identifier("sha384_rsa"), dac.subject,
                       core.UTCTime(datetime(2025, 1, 1, tzinfo=UTC)).dump())
    return der_sequence(tbs, algorithm_identifier("sha384_rsa"),
                        der_tlv(0x03, b"\x00" + sign_message(tbs, bench.signers[0], "sha384_rsa")))


def _nested(depth: int) -> bytes:
    out = b""
    for _ in range(depth):
        out = der_sequence(out)
    return out


def _post(fn: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.post = fn
    return apply


def _huge_length(pkc: bytes) -> bytes:
    header = 2 + (pkc[1] & 0x7F if pkc[1] & 0x80 else 0)
    return b"\x30\x89" + (len(pkc) - header).to_bytes(9, "big") + pkc[header:]


def _indefinite(pkc: bytes) -> bytes:
    header = 2 + (pkc[1] & 0x7F if pkc[1] & 0x80 else 0)
    return b"\x30\x80" + pkc[header:] + b"\x00\x00"


def _too_many(bench: Workbench) -> None:
    bench.certs = bench.certs + [bench.certs[1]] * 4


def _duplicate(bench: Workbench) -> None:
    bench.certs.insert(2, bench.certs[1])


def _unchanged(bench: Workbench) -> None:
    """The options of the vector (see ``_VARIANT_OPTIONS``) are the whole change."""


def _no_csr(bench: Workbench) -> None:
    bench.csr = None


def _reissued_root_anchor(bench: Workbench) -> None:
    bench.anchors = (x509.load_der_x509_certificate(rsa_root_reissue(bench.kit.pki(bench.options))),)


# -- the catalogue --------------------------------------------------------------------------------

SPEC = "shared/specs/luna_fortanix_nshield.md 2"
INTEROP = "shared/interop/README.md 2"
VALIDATOR = "ThalesGroup/luna-pkc-validator PkcValidatorCli, PkcValidator"
SECTIGO = "shared/specs/round2_formats.md (Sectigo: TC-Trust Center type)"
CSBR = "CA/B Forum Code Signing BR 6.2.7.4"
SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")
ENVELOPED_DATA_OID = bytes.fromhex("2a864886f70d010703")


def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC,))


def mutations() -> list[Mutation]:
    """Every Luna defect, in catalogue order."""
    m: list[Mutation] = []

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "rsa-3072") -> None:
        m.append(Mutation(f"{FORMAT_NAME}::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          golden))

    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
    forged = "a verifier would accept a key the HSM never confirmed"
    chain = "CHAIN"

    # chain
    add("chain::leaf-not-signed-by-dac", "LeafNotSignedByDac",
        _note(chain, crit, "the PKC names the DAC as issuer but another key signed it", forged),
        "leaf re-signed by an impostor RSA key, names unchanged", "cert.resign", "certificates[0]",
        _leaf_by_impostor, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::leaf-issued-by-hoc", "LeafIssuedByHoc",
        _note(chain, high, "the PKC is issued by the HOC directly and the DAC is gone",
              "a verifier checking only each link accepts a chain without the device certificate. Every link "
              "verifies and every named issuer is present, so nothing is CHAIN_INCOMPLETE: the certificate in the "
              "DAC's position (the PKC's issuer) carries the HOC's EKU, reserved for another position (CERT_EKU)"),
        "leaf re-issued by the genuine HOC, DAC dropped (every link verifies)", "cert.reissue",
        "certificates[0].issuer", _leaf_issued_by_hoc, invalid(Reason.CERT_EKU), resign=True)
    add("chain::hoc-missing", "HocMissing",
        _note(chain, high, "the Hardware Origin Certificate is missing from the bag",
              "the DAC cannot be tied to the manufacturer"),
        "certificate 2 (HOC) removed", "cert.remove", "certificates[2]", _drop(2),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::mic-missing", "MicMissing",
        _note(chain, high, "the Manufacturing Integrity Certificate is missing from the bag",
              "the HOC cannot be tied to the root"),
        "certificate 3 (MIC) removed", "cert.remove", "certificates[3]", _drop(3),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::order-shuffled", "ChainOrderShuffled",
        _note(chain, low, "the five certificates in the order DAC, root, PKC, MIC, HOC",
              "openssl builds the path anyway; the vendor's validator, which checks each certificate "
              "against the next, fails", SPEC, "ThalesGroup/luna-pkc-validator PkcValidator"),
        "bag reordered; every certificate genuine", "cert.reorder", "certificates", _shuffle,
        strict_only(Reason.MALFORMED), resign=False)
    add("chain::dac-expired", "DacExpired",
        _note(chain, med, "the DAC expired before the validation time", "an expired device identity is trusted"),
        "DAC notAfter 2025-06-30, re-signed by the HOC", "cert.set", "certificates[1].validity.notAfter",
        _dac_expired, invalid(Reason.CERT_EXPIRED), resign=True)
    add("chain::leaf-not-yet-valid", "LeafNotYetValid",
        _note(chain, med, "the PKC is valid only after the validation time", "a post-dated confirmation is trusted"),
        "leaf notBefore 2026-06-01, re-signed by the DAC", "cert.set", "certificates[0].validity.notBefore",
        _leaf_not_yet_valid, invalid(Reason.CERT_NOT_YET_VALID), resign=True)
    add("chain::root-lookalike", "RootLookalike",
        _note(chain, crit, "a complete chain under a self-signed root with the genuine root's name and another key",
              "a verifier matching the root by name only trusts an attacker's hierarchy"),
        "root, MIC, HOC, DAC re-made with impostor keys, same names; every link verifies", "cert.replace",
        "certificates[1:]", _root_lookalike, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::root-copy-swapped", "RootCopySwapped",
        _note(chain, high, "the root in the bag has the genuine name but another key",
              "a verifier trusting the bag's own root (not the anchor) is misled"),
        "in-bag root replaced by a look-alike", "cert.replace", "certificates[4]", _root_copy_swapped,
        invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::hoc-not-ca", "HocNotCa",
        _note(chain, med, "the HOC has no basicConstraints CA:TRUE", "a non-CA certificate issues the DAC"),
        "basicConstraints removed from the HOC, re-signed by the MIC", "ext.remove", "certificates[2].basicConstraints",
        _hoc_not_ca, invalid(Reason.CERT_NOT_CA), resign=True)
    add("chain::dac-sha1", "DacSha1",
        _note(chain, med, "the DAC is signed with sha1WithRSA", "a SHA-1 collision could forge the device identity",
              SPEC, "RFC 9155"),
        "DAC re-signed by the HOC with sha1WithRSA", "cert.resign", "certificates[1].signatureAlgorithm", _dac_sha1,
        invalid(Reason.UNSUPPORTED), resign=True)
    add("chain::dac-unknown-critical", "DacUnknownCritical",
        _note(chain, med, "the DAC carries an unknown critical extension (12383.2.99)",
              "RFC 5280 requires rejecting it", SPEC, "RFC 5280 4.2"),
        "critical 1.3.6.1.4.1.12383.2.99 added to the DAC, re-signed", "ext.add", "certificates[1].extensions",
        _dac_unknown_critical, invalid(Reason.CERT_UNKNOWN_CRITICAL), resign=True)
    add("chain::dac-signature-bit-flip", "DacSignatureBitFlip",
        _note(chain, high, "one bit of the DAC's signature flipped", forged),
        "bit flipped near the end of the DAC signature", "bytes.flip_bit", "certificates[1].signatureValue",
        _flip_signature(1), invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::duplicate-certificate", "DuplicateCertificate",
        _note("ENCODING", low, "the DAC appears twice in the bag", "path builders disagree on which copy to use"),
        "DAC inserted again after itself", "cert.duplicate", "certificates[1]", _duplicate,
        invalid(Reason.MALFORMED), resign=False)

    # EKU per position
    eku_note = "EKU_POSITION"
    add("eku::dac-has-hoc-eku", "DacHasHocEku",
        _note(eku_note, high, "the DAC carries the HOC's EKU 1.8 instead of 1.12",
              "a certificate is accepted in a role the manufacturer did not give it"),
        "DAC EKU set to 12383.1.8, re-signed by the HOC", "ext.set", "certificates[1].extendedKeyUsage",
        _eku(1, EKU_HOC), invalid(Reason.CERT_EKU), resign=True)
    add("eku::pkc-eku-on-dac", "PkcEkuOnDac",
        _note(eku_note, high, "the DAC also carries the PKC-only EKU 1.13",
              "a CA certificate could pass as a confirmed key"),
        "DAC EKU set to 12383.1.12 + 12383.1.13, re-signed", "ext.set", "certificates[1].extendedKeyUsage",
        _eku(1, EKU_DAC, EKU_PKC), invalid(Reason.CERT_EKU), resign=True)
    add("eku::leaf-eku-missing", "LeafEkuMissing",
        _note(eku_note, high, "the PKC has no EKU 1.13", "any DAC-issued certificate passes as a key confirmation"),
        "extendedKeyUsage removed from the leaf, re-signed by the DAC", "ext.remove",
        "certificates[0].extendedKeyUsage", _eku(0), invalid(Reason.CERT_EKU), resign=True)
    add("eku::mic-has-root-eku", "MicHasRootEku",
        _note(eku_note, med, "the MIC carries the root's EKU 1.1 instead of 1.7",
              "positions of the hierarchy become interchangeable"),
        "MIC EKU set to 12383.1.1, re-signed by the root", "ext.set", "certificates[3].extendedKeyUsage",
        _eku(3, EKU_ROOT), invalid(Reason.CERT_EKU), resign=True)
    add("eku::ecc-hoc-rsa-eku", "EccHocRsaEku",
        _note(eku_note, med, "the ECC HOC carries the RSA HOC's EKU 1.8 instead of 1.15",
              "the two hierarchies' roles are confused"),
        "ECC HOC EKU set to 12383.1.8, re-signed by the ECC root", "ext.set", "certificates[1].extendedKeyUsage",
        _eku(1, EKU_HOC), invalid(Reason.CERT_EKU), resign=True, golden="ec-p256")

    # key binding
    binding = "KEY_BINDING"
    add("binding::csr-other-key", "CsrOtherKey",
        _note(binding, crit, "the CSR asks for another key than the PKC confirms",
              "a CA certifies a key the HSM never confirmed", SPEC, INTEROP),
        "CSR for the RSA-4096 golden key, same subject", "file.replace", "<label>.csr", _csr_other_key,
        invalid(Reason.KEY_MISMATCH), resign=False)
    add("binding::leaf-other-key", "LeafSpkiNotCsr",
        _note(binding, crit, "the PKC leaf confirms another key than the CSR's",
              "a genuine confirmation of key A is used to certify key B"),
        "leaf SPKI set to the RSA-4096 golden key, re-signed by the DAC", "cert.set",
        "certificates[0].subjectPublicKeyInfo", _leaf_other_key, invalid(Reason.KEY_MISMATCH), resign=True)
    add("binding::csr-signature-broken", "CsrSignatureBroken",
        _note(binding, med, "the CSR's self-signature does not verify", "no proof of possession of the key"),
        "bit flipped in the CSR signature", "bytes.flip_bit", "<label>.csr", _csr_broken,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("binding::csr-missing", "CsrMissing",
        _note(binding, med, "no CSR beside the PKC", "nothing binds the confirmed key to a request"),
        "CSR removed", "file.remove", "<label>.csr", _no_csr, invalid(Reason.MISSING_INPUT), resign=False)

    # Luna extensions
    ext = "DEVICE_IDENTITY"
    add("ext::serial-mismatch-leaf-dac", "SerialMismatchLeafDac",
        _note(ext, high, "the PKC's HSM serial (12383.2.1) differs from its DAC's",
              "a verifier reading the serial from the leaf reports another HSM"),
        "leaf 12383.2.1 set to serial + 1, re-signed by the DAC", "ext.set", "certificates[0].12383.2.1",
        _leaf_serial_other, invalid(Reason.ATTR_CONFLICT), resign=True)
    add("ext::serial-missing", "SerialMissing",
        _note(ext, med, "the PKC has no HSM serial extension", "the confirming HSM is unknown"),
        "leaf 12383.2.1 removed, re-signed by the DAC", "ext.remove", "certificates[0].12383.2.1",
        _serial(None), invalid(Reason.ATTR_MISSING), resign=True)
    add("ext::serial-wrong-length", "SerialWrongLength",
        _note("ENCODING", low, "the HSM serial extension holds 8 bytes, not a uint32",
              "readers disagree on the serial"),
        "leaf 12383.2.1 set to 8 bytes, re-signed by the DAC", "ext.set", "certificates[0].12383.2.1",
        _serial(bytes(8)), invalid(Reason.MALFORMED), resign=True)
    add("ext::dac-cn-other-serial", "DacCnOtherSerial",
        _note(ext, med, "the DAC's CN names another serial than its 12383.2.1",
              "the device identity is ambiguous"),
        "DAC CN Luna K7-<serial + 1> (re-signed by the HOC), leaf re-issued under it", "cert.set",
        "certificates[1].subject.CN", _dac_cn_other, invalid(Reason.ATTR_CONFLICT), resign=True)
    add("ext::ouid-other-serial", "OuidOtherSerial",
        _note(ext, low, "the PKC's object id (CN) ends in another HSM's serial",
              "the object id's layout is inferred from real samples; strict verifiers check it"),
        "leaf CN set to an OUID of serial + 1, re-signed by the DAC", "cert.set", "certificates[0].subject.CN",
        _ouid_other, strict_only(Reason.ATTR_CONFLICT), resign=True)
    add("ext::ecc-hoc-cn-mismatch", "EccSerialMismatchHoc",
        _note(ext, high, "the ECC PKC's HSM serial differs from its HOC's CN", "another HSM is reported"),
        "ECC leaf 12383.2.1 set to serial + 1, re-signed by the HOC", "ext.set", "certificates[0].12383.2.1",
        _leaf_serial_other, invalid(Reason.ATTR_CONFLICT), resign=True, golden="ec-p256")

    # the container
    robustness = "ROBUSTNESS"
    add("container::signer-infos-garbage", "SignerInfosGarbage",
        _note("ENCODING", med, "signerInfos holds an OCTET STRING, not a SignerInfo",
              "lenient PKCS#7 readers skip it, strict ones fail"),
        "signerInfos = { OCTET STRING 'garbage' }", "pkcs7.set", "signedData.signerInfos",
        _container(signer_infos=lambda b: core.OctetString(b"garbage").dump()), invalid(Reason.MALFORMED),
        resign=False)
    add("container::signer-infos-present", "SignerInfosPresent",
        _note("EXTENSIBILITY", low, "a well-formed SignerInfo by the DAC in the certs-only bag",
              "a verifier might believe something was signed; the PKC carries no signed claims"),
        "one SignerInfo (DAC, sha256, RSA) added", "pkcs7.set", "signedData.signerInfos",
        _container(signer_infos=_signer_info), strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    add("container::certificates-empty", "CertificatesEmpty",
        _note(robustness, med, "the certificates [0] field is present and empty", "nothing is confirmed"),
        "certificates emptied", "cert.remove", "signedData.certificates", _drop(0, 1, 2, 3, 4),
        invalid(Reason.MISSING_INPUT), resign=False)
    add("container::crls-present", "CrlsPresent",
        _note("EXTENSIBILITY", info, "a CRL by the DAC in the bag (openssl crl2pkcs7 without -nocrl)",
              "harmless, but Luna never writes it"),
        "crls [1] with one CRL signed by the DAC", "pkcs7.set", "signedData.crls", _container(crls=_crl),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    add("container::content-present", "EncapsulatedContent",
        _note("EXTENSIBILITY", med, "unsigned data inside the certs-only bag's content",
              "a verifier reading it takes unsigned claims for evidence"),
        "encapContentInfo carries [0] OCTET STRING 'extractable=false'", "pkcs7.set", "signedData.encapContentInfo",
        _container(content=lambda b: core.OctetString(b"extractable=false").dump()),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    add("container::not-signed-data", "NotSignedData",
        _note("ENCODING", med, "contentType is envelopedData", "a reader that ignores the type misparses"),
        "contentType 1.2.840.113549.1.7.3", "bytes.replace", "contentType",
        _post(lambda p: mutate.replace_once(p, SIGNED_DATA_OID, ENVELOPED_DATA_OID)),
        invalid(Reason.MALFORMED), resign=False)
    add("container::trailing-bytes", "TrailingBytes",
        _note("ENCODING", low, "16 zero bytes after the PKCS#7 structure", "readers disagree on where the PKC ends"),
        "16 zero bytes appended", "bytes.extend", "<label>-pkc.p7b", _post(lambda p: mutate.extend(p, bytes(16))),
        invalid(Reason.MALFORMED), resign=False)
    add("container::truncated", "Truncated",
        _note(robustness, med, "the PKC cut in half", "readers must fail cleanly"),
        "first half of the PKC only", "bytes.truncate", "<label>-pkc.p7b",
        _post(lambda p: mutate.truncate(p, len(p) // 2)), invalid(Reason.MALFORMED), resign=False)
    add("container::huge-length", "HugeLength",
        _note(robustness, high, "the outer SEQUENCE declares its length in 9 bytes",
              "a reader allocating by the declared length exhausts memory", "CWE-789"),
        "outer length re-encoded as 0x89 + 9 bytes", "bytes.replace", "ContentInfo.length", _post(_huge_length),
        invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("container::indefinite-length", "IndefiniteLength",
        _note("ENCODING", low, "the outer SEQUENCE uses BER indefinite length", "DER readers fail, BER readers accept"),
        "outer length 0x80 with end-of-contents", "bytes.replace", "ContentInfo.length", _post(_indefinite),
        invalid(Reason.MALFORMED), resign=False)
    add("container::deep-nesting", "DeepNesting",
        _note(robustness, high, "200 nested SEQUENCEs in the crls field", "recursive readers overflow the stack",
              "CWE-674"),
        "crls [1] holds 200 nested SEQUENCEs", "pkcs7.set", "signedData.crls",
        _container(crls=lambda b: _nested(200)), invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("container::too-many-certificates", "TooManyCertificates",
        _note(robustness, med, "nine certificates in the bag", "unbounded path building costs time"),
        "the DAC appended four more times", "cert.add", "signedData.certificates", _too_many,
        invalid(Reason.LIMIT_EXCEEDED), resign=False)

    # acceptable and valid variants
    add("variant::strict-der", "StrictDer",
        _note("ENCODING", info, "certificates in proper DER: no explicit critical FALSE",
              "none: the same certificates Luna would write, minus its BER default; cryptography can parse them"),
        "golden re-issued with strict_der=True", "options.set", "strict_der", _unchanged, valid(),
        resign=True)
    add("variant::ecc-unpadded-s", "EcdsaUnpaddedS",
        _note("ENCODING", info, "the ECC PKC's ECDSA s has its top bit set and no 0x00 pad, as in the real sample",
              "the INTEGER is negative as DER reads it, so the ECDSA-Sig-Value breaks its format: openssl verify "
              "fails with error 7 and the strict profile says MALFORMED; a lenient Luna verifier (structural) reads "
              "r and s unsigned, as the real device needs", SPEC, INTEROP),
        "ECC leaf signed with unpadded_ecdsa_s=True", "options.set", "unpadded_ecdsa_s", _unchanged,
        strict_only(Reason.MALFORMED), resign=True, golden="ec-p256")
    add("variant::root-omitted", "RootOmitted",
        _note("BASIC", low, "the bag ends at the MIC; the verifier must supply the root. No real Luna emits "
              "this: both real PKCs carry their root",
              "Thales's luna-pkc-validator rejects it (its chain check requires the last certificate to be "
              "self-signed: 'Cert chain validation failed'); the openssl walk and hsmsim's structural profile "
              "complete the chain from the trust anchor; strict does not (CHAIN_UNTRUSTED)",
              SPEC, INTEROP, VALIDATOR),
        "root removed from the bag", "cert.remove", "certificates[4]", _drop(4),
        strict_only(Reason.CHAIN_UNTRUSTED), resign=False)
    add("variant::reissued-root-anchor", "ReissuedRootAnchor",
        _note("BASIC", info, "the trust anchor is the sha384 re-issue of the root (same name and key)",
              "none: Luna trust is by DN and key, not by certificate bytes", SPEC),
        "trust anchor = root re-issued (serial 80450000000D, sha384, SKI/AKI)", "trust.replace", "trust.anchors",
        _reissued_root_anchor, valid(), resign=False)
    add("variant::root-ca-extensions", "RootCaExtensions",
        _note("BASIC", info, "the emulated root carries keyUsage and basicConstraints CA:TRUE",
              "none; a plain openssl verify then passes (the real root has neither: error 79)"),
        "golden re-issued with ca_extensions=True", "options.set", "ca_extensions", _unchanged, valid(),
        resign=True)
    add("variant::unknown-extension", "UnknownExtension",
        _note("EXTENSIBILITY", info, "a non-critical private extension Luna does not write (12383.2.99)",
              "structural verifiers tolerate it; strict ones reject unknown content"),
        "non-critical 12383.2.99 added to the leaf, re-signed by the DAC", "ext.add", "certificates[0].extensions",
        _leaf_unknown_extension, strict_only(Reason.UNEXPECTED_CONTENT), resign=True)
    return m


_VARIANT_OPTIONS: dict[str, dict[str, object]] = {
    f"{FORMAT_NAME}::variant::strict-der": {"strict_der": True},
    f"{FORMAT_NAME}::variant::ecc-unpadded-s": {"unpadded_ecdsa_s": True},
    f"{FORMAT_NAME}::variant::root-ca-extensions": {"ca_extensions": True},
}

COMMON_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated evidence from the emulated HSM",
                       "a verifier that rejects it is broken for this key type", (SPEC,)),
    "Resigned": FlagNote("PROVENANCE", Severity.INFO,
                         "a genuine Luna CA key re-signed the changed certificate",
                         "the defect reaches the semantic checks behind the signatures", ()),
    "Stale": FlagNote("PROVENANCE", Severity.INFO,
                      "the changed bytes are not what a genuine Luna key signed",
                      "the signature, chain or container check should catch it first", ()),
    "StrictKeyPolicy": FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                "valid evidence; the strict profile rejects it with KEY_POLICY", (CSBR,)),
    "PkcType1": FlagNote(
        "BASIC", Severity.LOW,
        "cmu getpkc -pkctype=1 (TC-Trust Center): 3 certificates not ending at the SafeNet root, as Sectigo "
        "describes it; hsmsim's PKC, DAC, TC root contents are a GUESS (the real chain is unpublished)",
        "real verifiers reject this type: Sectigo asks for the Chrysalis-ITS type because the TC-Trust Center "
        "chain does not end at the expected SafeNet root; Thales's luna-pkc-validator picks its EKU table by "
        "length (3 certificates: the ECC table 1.13, 1.15, 1.14), so the DAC's 1.12 fails ('PKC is not from "
        "valid Luna HSM'). hsmsim's structural profile accepts it under the TC root, strict says UNSUPPORTED",
        (SPEC, SECTIGO, VALIDATOR)),
}


def notes() -> dict[str, FlagNote]:
    """Every flag the Luna vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations())


def _case(bench: Workbench, id_: str, comment: str, flags: tuple[str, ...],
          expected: dict[Profile, Reason], provenance: Provenance) -> VectorCase:
    return VectorCase(id=id_, comment=comment, flags=flags, expected=expected, evidence=bench.evidence(),
                      anchors=bench.anchors, validation_time=VALIDATION_TIME, provenance=provenance)


def vector_cases(seed: str) -> list[VectorCase]:
    """The Luna vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = LunaKit.build(seed)
    cases = []
    goldens: list[tuple[str, str, dict[str, object]]] = [(spec, spec, {}) for spec in GOLDEN_SPECS]
    goldens.append(("rsa-3072-pkctype1", "rsa-3072", {"pkc_type": 1}))
    for name, spec, overrides in goldens:
        bench = Workbench.open(kit, spec, **overrides)
        weak = spec == "rsa-2048"
        flags = ("Golden", *(("StrictKeyPolicy",) if weak else ()), *(("PkcType1",) if overrides else ()))
        expected = (strict_only(Reason.KEY_POLICY) if weak else strict_only(Reason.UNSUPPORTED) if overrides
                    else valid())
        cases.append(_case(bench, f"{FORMAT_NAME}::golden::{name}",
                           f"unmutated PKC (pkctype {bench.options.pkc_type}) of a generated {spec} key", flags,
                           expected, Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = Workbench.open(kit, mutation.golden, **_VARIANT_OPTIONS.get(mutation.id, {}))
        mutation.apply(bench)
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(_case(bench, mutation.id, mutation.comment, (mutation.flag, signing.value),
                           mutation.expected,
                           Provenance(seed=seed, signing=signing, golden=f"{FORMAT_NAME}::golden::{mutation.golden}",
                                      operator=mutation.operator, path=mutation.path)))
    return cases
