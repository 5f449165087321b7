"""The SmartCard-HSM vector set: golden authenticated requests and one-defect mutations with their expected verdicts.

A :class:`Workbench` holds the parts of one golden bundle (the request body, the inner and outer signatures, the
outer CAR, the device and DICA certificates, the CSR); a mutation edits a part and says whether the genuine signer
of what it touched signed again afterwards (``Resigned``: the device key over the request, the DICA over the device
certificate, the SRCA over the DICA) or not (``Stale``). Everything is derived from the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.device import DEVICE_EPOCH, Device
from hsmsim.encoding import cert_pem, pem
from hsmsim.formats.cardcontact import cvc
from hsmsim.formats.cardcontact.generate import authenticate, request_body
from hsmsim.formats.cardcontact.layout import C_DEVAUT_FILE, FORMAT, REQUEST_SUFFIX, ROOT_FILE
from hsmsim.formats.cardcontact.pki import (
    DICA_CHR,
    DICA_DAYS,
    INNER_CAR,
    SRCA_CHR,
    SRCA_DAYS,
    CardContactPki,
    brainpool_key,
    cardcontact_pki,
    cv_certificate,
    device_days,
    key_chr,
)
from hsmsim.keystore.base import KeySpec, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import (
    Mutation,
    flag_notes,
    invalid,
    mutation_case,
    second_csr_note,
    seeded_faker,
    strict_only,
    valid,
)
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, build_csr, name
from hsmsim.verdict import Profile, Reason

GOLDEN_SPECS = ("rsa-2048", "ec-p256", "ec-p384")
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=30)
VALIDATION_TIME = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
"""Inside every emulated certificate's days (the device certificate runs from the card's initialisation)."""

TR03110 = "BSI TR-03110-3 (CV certificates, authenticated requests)"
TR03111 = "BSI TR-03111 5.2.1 (plain ECDSA signature r || s)"
OPENSC = "OpenSC src/libopensc/pkcs15-sc-hsm.c (c_asn1_authreq), card-sc-hsm.c (EF.C_DevAut chain)"
SCSH = "CardContact scsh-scripts sc-hsm/lib/smartcardhsm.js (validateCertificateChain, rootCerts)"
OPENKEX = "openKex cardio SmartCardHsm.checkKeySignature (outer signature over 7F21 || 42)"
CSBR = "CA/B Forum Code Signing Baseline Requirements 6.1.5"

Signer = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CardContactKit:
    """Everything the vectors are made of, derived from one seed."""

    seed: str
    device: Device
    pki: CardContactPki
    keys: dict[str, StoredKey]
    signers: dict[str, Signer]
    other: dict[str, Signer]
    """A second key per spec: another key of the same card (for key substitutions)."""

    @classmethod
    def build(cls, seed: str) -> CardContactKit:
        """Seed → a card (serial, initialisation), its PKI, one key per golden spec and a second one."""
        fake = seeded_faker(seed, ["de_DE", "en_US"], "cardcontact")
        device = Device(format=FORMAT, serial=fake.numerify("1#######"), seed=seed, model="SmartCard-HSM 4K",
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        store = SoftKeyStore(seed=f"cardcontact/{seed}")
        keys, signers, other = {}, {}, {}
        for index, spec in enumerate(GOLDEN_SPECS):
            label = f"{fake.user_name()}-{spec}"
            keys[spec] = store.generate(KeySpec.parse(spec), label, created=KEYS_CREATED + timedelta(hours=index))
            signer = store.signer(keys[spec])
            assert isinstance(signer, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
            signers[spec] = signer
            second = store.signer(store.generate(KeySpec.parse(spec), f"{label}-2",
                                                 created=KEYS_CREATED + timedelta(hours=index, minutes=5)))
            assert isinstance(second, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
            other[spec] = second
        pki = cardcontact_pki(seed, device.serial, device.initialised)
        return cls(seed, device, pki, keys, signers, other)


@dataclass
class Workbench:
    """One bundle under construction: its parts, and what signs each of them when a mutation asks for it."""

    kit: CardContactKit
    spec: str
    signer: Signer
    body: bytes
    inner_signature: bytes
    outer_car: str
    outer_signature: bytes | None
    """None: the device key signs the finished 7F21 || 42 (a Resigned request); bytes: kept as they are."""
    device: bytes
    dica: bytes
    csr_pem: bytes | None
    validation_time: datetime = VALIDATION_TIME
    request_edit: Callable[[bytes], bytes] | None = None
    devaut_edit: Callable[[bytes], bytes] | None = None
    drop: set[str] = field(default_factory=set)
    extra: dict[str, bytes] = field(default_factory=dict)
    """Files added beside the bundle's own."""

    @classmethod
    def open(cls, kit: CardContactKit, spec: str) -> Workbench:
        """The golden bundle of ``spec`` taken apart."""
        signer = kit.signers[spec]
        body = request_body(signer.public_key(), key_chr(kit.device.serial))
        csr = build_csr(name(("CN", kit.keys[spec].label, UTF8)), signer)
        return cls(kit, spec, signer, body, cvc.sign(signer, body), kit.pki.device_chr, None, kit.pki.device,
                   kit.pki.dica, csr.public_bytes(serialization.Encoding.PEM))

    def inner(self) -> bytes:
        """The 7F21 of the request as it stands."""
        return cvc.encode(cvc.T_CVC, self.body + cvc.encode(cvc.T_SIGNATURE, self.inner_signature))

    def request(self) -> bytes:
        """The 67 as it stands: the outer signature kept, or made by the device key over the finished parts."""
        inner = self.inner()
        if self.outer_signature is None:
            out = authenticate(inner, self.outer_car, self.kit.pki.device_key)
        else:
            car = cvc.encode(cvc.T_CAR, self.outer_car.encode())
            out = cvc.encode(cvc.T_AUTH_REQUEST, inner + car + cvc.encode(cvc.T_SIGNATURE, self.outer_signature))
        return self.request_edit(out) if self.request_edit else out

    def evidence(self) -> Evidence:
        """The bundle's files as the generator names them."""
        stem = safe_file_stem(self.kit.keys[self.spec].label)
        c_devaut = self.device + self.dica
        files = {f"{stem}{REQUEST_SUFFIX}": self.request(),
                 C_DEVAUT_FILE: self.devaut_edit(c_devaut) if self.devaut_edit else c_devaut,
                 ROOT_FILE: cert_pem(self.kit.pki.carriers[0])}
        if self.csr_pem is not None:
            files[f"{stem}.csr"] = self.csr_pem
        files.update(self.extra)
        return Evidence(format=FORMAT, files={k: v for k, v in files.items() if k not in self.drop},
                        primary=f"{stem}{REQUEST_SUFFIX}")

    def device_cert(self, *, car: str = DICA_CHR, role: int = cvc.ROLE_DEVICE,
                    days: tuple[date, date] | None = None, signer: ec.EllipticCurvePrivateKey | None = None) -> None:
        """Re-issue the device certificate with a change, signed by the genuine DICA unless ``signer`` is given."""
        self.device = cv_certificate(car=car, chr_=self.kit.pki.device_chr,
                                     public_key=self.kit.pki.device_key.public_key(), domain=False, role=role,
                                     days=days or device_days(self.kit.device.initialised),
                                     signer=signer or self.kit.pki.dica_key)

    def dica_cert(self, *, car: str = SRCA_CHR, role: int = cvc.ROLE_ISSUER,
                  signer: ec.EllipticCurvePrivateKey | None = None) -> None:
        """Re-issue the DICA certificate with a change, signed by the genuine SRCA unless ``signer`` is given."""
        self.dica = cv_certificate(car=car, chr_=DICA_CHR, public_key=self.kit.pki.dica_key.public_key(),
                                   domain=False, role=role, days=DICA_DAYS, signer=signer or self.kit.pki.srca_key,
                                   extensions=b"")

    def rekey(self, signer: Signer, body: bytes | None = None) -> None:
        """Put ``signer``'s key (or ``body``) in the request, self-signed by ``signer``."""
        self.body = body if body is not None else request_body(signer.public_key(), key_chr(self.kit.device.serial))
        self.inner_signature = cvc.sign(signer, self.body)


Operator = Callable[[Workbench], None]


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _genuine_outer(bench: Workbench) -> bytes:
    car = cvc.encode(cvc.T_CAR, bench.outer_car.encode())
    return cvc.sign(bench.kit.pki.device_key, bench.inner() + car)


def _flip_outer(bench: Workbench) -> None:
    bench.outer_signature = _flip_last(_genuine_outer(bench))


def _outer_by_impostor(bench: Workbench) -> None:
    car = cvc.encode(cvc.T_CAR, bench.outer_car.encode())
    bench.outer_signature = cvc.sign(_impostor("device"), bench.inner() + car)


def _outer_without_car(bench: Workbench) -> None:
    bench.outer_signature = cvc.sign(bench.kit.pki.device_key, bench.inner())


def _break_inner(bench: Workbench) -> None:
    bench.inner_signature = _flip_last(bench.inner_signature)


def _other_key_in_request(bench: Workbench) -> None:
    bench.rekey(bench.kit.other[bench.spec])


def _csr_of_other_key(bench: Workbench) -> None:
    csr = build_csr(name(("CN", bench.kit.keys[bench.spec].label, UTF8)), bench.kit.other[bench.spec])
    bench.csr_pem = csr.public_bytes(serialization.Encoding.PEM)


def _second_csr(bench: Workbench) -> None:
    csr = build_csr(name(("CN", bench.kit.keys[bench.spec].label, UTF8)), bench.kit.other[bench.spec])
    bench.extra["other.csr"] = csr.public_bytes(serialization.Encoding.PEM)


def _break_csr(bench: Workbench) -> None:
    assert bench.csr_pem is not None
    der = x509.load_pem_x509_csr(bench.csr_pem).public_bytes(serialization.Encoding.DER)
    bench.csr_pem = pem(_flip_last(der), "CERTIFICATE REQUEST")


def _with_public_key(bench: Workbench, elements: dict[int, bytes], oid: str) -> None:
    """The request body with a 7F49 of ``oid`` and ``elements``, self-signed by the bench's key."""
    pub = cvc.encode(cvc.T_PUBKEY, cvc.encode(cvc.T_OID, cvc.oid_content(oid))
                     + b"".join(cvc.encode(t, elements[t]) for t in sorted(elements)))
    body = cvc.encode(cvc.T_BODY, cvc.encode(cvc.T_CPI, b"\x00") + cvc.encode(cvc.T_CAR, INNER_CAR.encode()) + pub
                      + cvc.encode(cvc.T_CHR, key_chr(bench.kit.device.serial).encode()))
    bench.rekey(bench.signer, body)


def _ec_elements(bench: Workbench) -> dict[int, bytes]:
    public = bench.signer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return dict(cvc.parse_public_key(cvc.parse_all(cvc.encode_public_key(public, domain=True))[0]).elements)


def _domain_edit(tag: int, value: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        elements = _ec_elements(bench)
        elements[tag] = value(elements[tag])
        _with_public_key(bench, elements, cvc.ECDSA_SHA256)
    return apply


def _brainpool_params(bench: Workbench) -> None:
    """The P-256 key's point under brainpoolP256r1's parameters."""
    elements = {**cvc.BRAINPOOL_P256.elements(), 0x86: _ec_elements(bench)[0x86]}
    _with_public_key(bench, elements, cvc.ECDSA_SHA256)


def _without_domain(bench: Workbench) -> None:
    public = bench.signer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    bench.rekey(bench.signer, request_body(public, key_chr(bench.kit.device.serial), domain=False))


def _algorithm(oid: str) -> Operator:
    def apply(bench: Workbench) -> None:
        _with_public_key(bench, _ec_elements(bench), oid)
    return apply


def _cpi(bench: Workbench) -> None:
    bench.rekey(bench.signer, bench.body.replace(cvc.encode(cvc.T_CPI, b"\x00"), cvc.encode(cvc.T_CPI, b"\x01"), 1))


def _long_chr_length(bench: Workbench) -> None:
    chr_ = key_chr(bench.kit.device.serial).encode()
    body = cvc.parse_all(bench.body)[0]
    content = body.value.replace(cvc.encode(cvc.T_CHR, chr_), b"\x5f\x20\x81" + bytes([len(chr_)]) + chr_, 1)
    bench.rekey(bench.signer, cvc.encode(cvc.T_BODY, content))


def _request_edit(edit: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.request_edit = edit
    return apply


def _devaut_edit(edit: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.devaut_edit = edit
    return apply


def _swap_devaut(bench: Workbench) -> None:
    bench.device, bench.dica = bench.dica, bench.device


def _drop(file_name: str) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.drop.add(file_name)
    return apply


def _no_csr(bench: Workbench) -> None:
    bench.csr_pem = None


def _outer_car(car: str) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.outer_car = car
    return apply


def _impostor(role: str) -> ec.EllipticCurvePrivateKey:
    return brainpool_key("hsmsim-impostor", role)


def _device_by_other_dica(bench: Workbench) -> None:
    bench.device_cert(signer=_impostor("dica"))


def _impostor_pair(bench: Workbench) -> None:
    impostor = _impostor("dica")
    bench.dica = cv_certificate(car=SRCA_CHR, chr_=DICA_CHR, public_key=impostor.public_key(), domain=False,
                                role=cvc.ROLE_ISSUER, days=DICA_DAYS, signer=_impostor("srca"), extensions=b"")
    bench.device_cert(signer=impostor)


def _dica_from_other_srca(bench: Workbench) -> None:
    bench.dica_cert(car="ZZSRCACC100002", signer=_impostor("srca"))


def _expired_device(bench: Workbench) -> None:
    day = bench.validation_time.date()
    bench.device_cert(days=(day - timedelta(days=5 * 365), day - timedelta(days=1)))


def _future_device(bench: Workbench) -> None:
    day = bench.validation_time.date()
    bench.device_cert(days=(day + timedelta(days=1), day + timedelta(days=5 * 365)))


def _after_srca(bench: Workbench) -> None:
    bench.validation_time = datetime(SRCA_DAYS[1].year, 12, 1, tzinfo=UTC)


def _device_car(bench: Workbench) -> None:
    bench.device_cert(car="ZZDIEM0100002")


def _dica_role(bench: Workbench) -> None:
    bench.dica_cert(role=cvc.ROLE_DEVICE)


def _device_role(bench: Workbench) -> None:
    bench.device_cert(role=cvc.ROLE_ISSUER)


def _note(bug: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug, severity, description, effect, refs)


def mutations() -> list[Mutation]:
    """Every one-defect mutation of the catalogue, with the reason each profile must return."""
    out: list[Mutation] = []

    def add(suffix: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str = "ec-p256") -> None:
        out.append(Mutation(f"{FORMAT}::{suffix}", flag, note, comment, operator, path, apply, expected, resign,
                            golden))

    sig = Severity.CRITICAL
    # -- the outer signature (device key) --
    add("outer-signature::flipped", "OuterSignatureInvalid",
        _note("SIGNATURE", sig, "the outer signature (5F37 of the 67) does not verify with the device key",
              "an unauthenticated request passes as a card's", TR03110, OPENKEX),
        "last byte of the outer signature flipped", "bytes.flip", "67/5F37", _flip_outer,
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("outer-signature::impostor-key", "OuterSignedByOtherKey",
        _note("SIGNATURE", sig, "the outer signature is a valid signature by a brainpoolP256r1 key that is not the "
                                "device certificate's", "any key can vouch for a key generated anywhere", TR03110),
        "outer signature made by an impostor key over the right bytes", "sig.replace", "67/5F37",
        _outer_by_impostor, invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("outer-signature::without-car", "OuterSignatureOmitsCar",
        _note("SIGNATURE", Severity.MEDIUM, "the device key signed the 7F21 alone, not 7F21 || 42 (the outer CAR)",
              "a verifier hashing other bytes than the card signs accepts this and rejects genuine requests",
              OPENKEX, TR03110),
        "outer signature by the device key over the inner request only", "sig.replace", "67/5F37",
        _outer_without_car, invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("outer-car::other-device", "OuterCarMismatch",
        _note("CHAIN", Severity.HIGH, "the outer CAR names another card than the device certificate's CHR",
              "the request is bound to a device certificate it does not name", TR03110, OPENKEX),
        "outer CAR = another serial's device CHR, re-signed by the device key", "field.replace", "67/42",
        _outer_car("ZZEM999999900000"), invalid(Reason.CHAIN_INCOMPLETE), resign=True)
    # -- the inner signature and the key --
    add("inner-signature::flipped", "InnerSignatureInvalid",
        _note("POP", sig, "the inner signature (5F37 of the 7F21) does not verify with the request's key",
              "no proof that the key in the request is the one the card generated", TR03110),
        "last byte of the inner signature flipped; outer re-signed by the device key", "bytes.flip", "67/7F21/5F37",
        _break_inner, invalid(Reason.CSR_SIGNATURE_INVALID), resign=True)
    add("key::other-key-in-request", "RequestKeyNotCsrKey",
        _note("KEY_BINDING", sig, "a genuine request of the card for another key than the CSR's",
              "a CA certifies a key the evidence does not attest", CSBR),
        "the request carries the card's second key (self-signed, device re-signed); the CSR stays the first key's",
        "key.replace", "67/7F21/7F4E/7F49", _other_key_in_request, invalid(Reason.KEY_MISMATCH), resign=True)
    add("csr::other-key", "CsrKeyNotRequestKey",
        _note("KEY_BINDING", sig, "the CSR beside the request asks for another key",
              "a CA certifies a key the evidence does not attest", CSBR),
        "CSR made by another key", "file.replace", "<label>.csr", _csr_of_other_key, invalid(Reason.KEY_MISMATCH),
        resign=False)
    add("csr::signature-broken", "CsrSignatureInvalid",
        _note("POP", Severity.HIGH, "the CSR's self-signature does not verify", "no proof of possession", CSBR),
        "last byte of the CSR's signature flipped", "bytes.flip", "<label>.csr", _break_csr,
        invalid(Reason.CSR_SIGNATURE_INVALID), resign=False)
    add("csr::second-csr", "SecondCsr",
        second_csr_note("KEY_BINDING", "the request's key", (CSBR,)),
        "other.csr made by another key added", "file.add", "other.csr", _second_csr, invalid(Reason.MALFORMED),
        resign=False)
    add("key::wrong-curve-b", "WrongCurveParameters",
        _note("PARAMETERS", Severity.HIGH, "the request's EC key carries a changed coefficient b (83): parameters "
                                           "of no curve the card generates on",
              "a verifier that takes the parameters as given checks the key on an attacker's curve", "BSI TR-03111"),
        "coefficient b's last byte flipped; inner and outer signatures made again", "field.replace",
        "67/7F21/7F4E/7F49/83", _domain_edit(0x83, _flip_last), invalid(Reason.MALFORMED), resign=True)
    add("key::cofactor-2", "WrongCofactor",
        _note("PARAMETERS", Severity.MEDIUM, "the request's EC key carries cofactor 02 (87) on P-256",
              "parameters of no curve the card generates on", "BSI TR-03111"),
        "cofactor 01 → 02; signatures made again", "field.replace", "67/7F21/7F4E/7F49/87",
        _domain_edit(0x87, lambda _v: b"\x02"), invalid(Reason.MALFORMED), resign=True)
    add("key::point-on-other-curve", "ParametersOfOtherCurve",
        _note("PARAMETERS", Severity.HIGH, "a P-256 point under brainpoolP256r1's parameters",
              "the point is on no curve of the parameters", "BSI TR-03111"),
        "domain parameters replaced by brainpoolP256r1's; signatures made again", "field.replace",
        "67/7F21/7F4E/7F49", _brainpool_params, invalid(Reason.MALFORMED), resign=True)
    add("key::no-domain-parameters", "RequestKeyWithoutParameters",
        _note("PARAMETERS", Severity.LOW, "the request's EC key is the point alone, without the domain parameters "
                                          "the card always writes in a request",
              "nothing names the key's curve", OPENSC, SCSH),
        "7F49 = OID and 86 only; signatures made again", "field.remove", "67/7F21/7F4E/7F49/81..87",
        _without_domain, invalid(Reason.MALFORMED), resign=True)
    add("key::ecdsa-sha512-oid", "UnsupportedKeyAlgorithm",
        _note("ALGORITHM", Severity.LOW, "the key's OID is id-TA-ECDSA-SHA-512, which the SmartCard-HSM does not "
                                         "write", "the verifier cannot know which hash the inner signature used",
              TR03110),
        "7F49's OID = 0.4.0.127.0.7.2.2.2.2.5; signatures made again", "field.replace", "67/7F21/7F4E/7F49/06",
        _algorithm("0.4.0.127.0.7.2.2.2.2.5"), invalid(Reason.UNSUPPORTED), resign=True)
    # -- encoding --
    add("encoding::truncated", "TruncatedRequest",
        _note("ENCODING", Severity.MEDIUM, "the request ends 10 bytes early", "a reader past the end", TR03110),
        "last 10 bytes cut", "bytes.truncate", "67", _request_edit(lambda b: b[:-10]), invalid(Reason.MALFORMED),
        resign=False)
    add("encoding::trailing-bytes", "TrailingBytes",
        _note("ENCODING", Severity.MEDIUM, "two bytes (90 00, a status word) after the request",
              "data the signature does not cover rides along", TR03110),
        "90 00 appended", "bytes.append", "67", _request_edit(lambda b: b + b"\x90\x00"),
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::non-minimal-length", "NonMinimalLength",
        _note("ENCODING", Severity.LOW, "the key's CHR length in long form (81 10) where one byte does",
              "two encodings of one request", TR03110),
        "5F20 10 → 5F20 81 10; signatures made again", "tlv.reencode", "67/7F21/7F4E/5F20", _long_chr_length,
        invalid(Reason.MALFORMED), resign=True)
    add("encoding::cpi-01", "WrongProfileIdentifier",
        _note("ENCODING", Severity.LOW, "certificate profile identifier 01", "not a TR-03110 version 1 request",
              TR03110),
        "5F29 00 → 01; signatures made again", "field.replace", "67/7F21/7F4E/5F29", _cpi, invalid(Reason.MALFORMED),
        resign=True)
    add("encoding::oversized", "OversizedRequest",
        _note("LIMIT", Severity.LOW, "a request of more than 64 KiB", "unbounded reading", TR03110),
        "70 000 zero bytes appended", "bytes.append", "67", _request_edit(lambda b: b + bytes(70_000)),
        invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("devaut::trailing-certificate", "DevAutThreeElements",
        _note("ENCODING", Severity.MEDIUM, "EF.C_DevAut holds a third certificate after the DICA",
              "which certificate is the issuer?", OPENSC, SCSH),
        "the DICA certificate appended once more", "bytes.append", "C_DevAut.bin",
        _devaut_edit(lambda b: b + b[len(cvc.parse_all(b)[0].raw):]), invalid(Reason.MALFORMED), resign=False)
    add("devaut::missing", "DevAutMissing",
        _note("MISSING", Severity.HIGH, "no EF.C_DevAut beside the request", "nothing ties the device key to the SRCA",
              SCSH), "C_DevAut.bin removed", "file.remove", "C_DevAut.bin", _drop(C_DEVAUT_FILE),
        invalid(Reason.MISSING_INPUT), resign=False)
    add("devaut::dica-first", "DevAutOrderSwapped",
        _note("CHAIN", Severity.MEDIUM, "EF.C_DevAut holds the DICA first, then the device certificate (the card "
                                        "writes the device certificate first)",
              "the second element, read as the DICA, is not issued by an SRCA", SCSH, OPENSC),
        "the two certificates swapped", "chain.reorder", "C_DevAut.bin", _swap_devaut,
        invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    # -- the device PKI --
    add("chain::device-by-other-dica", "DeviceCertByOtherDica",
        _note("CHAIN", sig, "the device certificate is signed by another key under the genuine DICA's name",
              "an impostor card passes as genuine", SCSH, OPENKEX),
        "device certificate re-signed by an impostor DICA key (same CAR)", "cert.resign", "C_DevAut.bin[0]",
        _device_by_other_dica, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::impostor-dica", "DicaNotFromSrca",
        _note("CHAIN", sig, "an impostor DICA under the genuine names (its certificate signed by an impostor SRCA "
                            "key named like the trusted one) issued the device certificate",
              "a self-made PKI passes as CardContact's", SCSH),
        "DICA replaced by an impostor's, device certificate issued by it", "cert.replace", "C_DevAut.bin[1]",
        _impostor_pair, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::dica-from-other-srca", "DicaFromOtherRoot",
        _note("CHAIN", sig, "the DICA names another SRCA (ZZSRCACC100002) than the trusted one",
              "a card of another scheme passes", SCSH),
        "DICA CAR = ZZSRCACC100002, signed by that root's key", "cert.replace", "C_DevAut.bin[1]",
        _dica_from_other_srca, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::device-car-mismatch", "DeviceCarNotDicaChr",
        _note("CHAIN", Severity.HIGH, "the device certificate's CAR is not the DICA's CHR (re-signed by the DICA key)",
              "the chain is linked by key only, not by name", TR03110, OPENKEX),
        "device CAR = ZZDIEM0100002", "field.replace", "C_DevAut.bin[0]/42", _device_car,
        invalid(Reason.CHAIN_INCOMPLETE), resign=True)
    add("chain::device-expired", "DeviceCertExpired",
        _note("VALIDITY", Severity.HIGH, "the device certificate's expiration date (5F24) is before the validation "
                                         "day", "a retired card's key passes", TR03110),
        "device certificate re-issued with days ending the day before the validation time", "cert.reissue",
        "C_DevAut.bin[0]/5F24", _expired_device, invalid(Reason.CERT_EXPIRED), resign=True)
    add("chain::device-not-yet-valid", "DeviceCertNotYetValid",
        _note("VALIDITY", Severity.MEDIUM, "the device certificate's effective date (5F25) is after the validation "
                                           "day", "dates are not checked", TR03110),
        "device certificate re-issued effective the day after the validation time", "cert.reissue",
        "C_DevAut.bin[0]/5F25", _future_device, invalid(Reason.CERT_NOT_YET_VALID), resign=True)
    add("chain::after-srca-expiry", "SrcaExpired",
        _note("VALIDITY", Severity.MEDIUM, "validated after the SRCA's expiration date (2032-11-08)",
              "the root's days are not checked", TR03110),
        "validation time 2032-12-01", "time.shift", "validation_time", _after_srca, invalid(Reason.CERT_EXPIRED),
        resign=False)
    add("chain::dica-role-device", "DicaRoleNotCa",
        _note("ROLE", Severity.HIGH, "the DICA's CHAT role is 00 (a device), re-signed by the SRCA",
              "a device certificate issues device certificates", TR03110),
        "DICA CHAT 53 80 → 53 00", "field.replace", "C_DevAut.bin[1]/7F4C/53", _dica_role,
        invalid(Reason.CERT_NOT_CA), resign=True)
    add("chain::device-role-issuer", "DeviceRoleIsCa",
        _note("ROLE", Severity.LOW, "the device certificate's CHAT role is 80 (an issuer), re-signed by the DICA",
              "a CA key passes as a card's device key", TR03110),
        "device CHAT 53 00 → 53 80", "field.replace", "C_DevAut.bin[0]/7F4C/53", _device_role,
        invalid(Reason.CERT_PROFILE), resign=True)
    # -- variants the verifier accepts --
    add("variant::without-csr", "RequestWithoutCsr",
        _note("KEY_BINDING", Severity.INFO, "the authenticated request and EF.C_DevAut alone, no PKCS#10 beside them",
              "the request is the key's proof; claims.extra.csr_checked is false", OPENSC),
        "CSR removed", "file.remove", "<label>.csr", _no_csr, valid(), resign=False)
    return out


COMMON_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated authenticated request of a key generated on the emulated "
                       "SmartCard-HSM, with its EF.C_DevAut and CSR",
                       "a verifier that rejects it is broken for this key type", (TR03110, OPENSC)),
    "Resigned": FlagNote("PROVENANCE", Severity.INFO,
                         "the genuine signer of the part the mutation touched signed again (the device key the "
                         "request, the DICA the device certificate, the SRCA the DICA)",
                         "the defect reaches the checks behind the signature", ()),
    "Stale": FlagNote("PROVENANCE", Severity.INFO,
                      "the mutated part is not signed again by its genuine signer, or the mutation is outside it",
                      "the signature, chain or shape checks should catch it first", ()),
    "StrictKeyPolicy": FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                "valid evidence; the strict profile rejects it with KEY_POLICY", (CSBR,)),
}


def notes() -> dict[str, FlagNote]:
    """Every flag the SmartCard-HSM vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations())


def vector_cases(seed: str) -> list[VectorCase]:
    """The SmartCard-HSM vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = CardContactKit.build(seed)
    anchors = (kit.pki.carriers[0],)
    cases = []
    for spec in GOLDEN_SPECS:
        weak = spec == "rsa-2048"
        cases.append(VectorCase(
            id=f"{FORMAT}::golden::{spec}", comment=f"unmutated authenticated request of a generated {spec} key",
            flags=("Golden", *(("StrictKeyPolicy",) if weak else ())),
            expected=strict_only(Reason.KEY_POLICY) if weak else valid(),
            evidence=Workbench.open(kit, spec).evidence(), anchors=anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE)))
    for mutation in mutations():
        bench = Workbench.open(kit, mutation.golden)
        mutation.apply(bench)
        cases.append(mutation_case(mutation, bench.evidence(), anchors, bench.validation_time, seed,
                                   f"{FORMAT}::golden::{mutation.golden}"))
    return cases
