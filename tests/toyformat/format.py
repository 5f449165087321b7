"""The toy format: a signed JSON statement about a key, certified by an emulated root.

Evidence (the files a user receives)::

    statement.json    {"extractable", "label", "spec", "spki", "type"}: canonical JSON, sorted keys
    statement.sig     Ed25519 over statement.json by the partition's attestation key
    attestation.crt   the attestation key's certificate, issued by TOY_ROOT_EMULATED
    toy_root.crt      the emulated root, beside them (a verifier trusts only the root it is given)

The reference verifier rejects with three reasons: MALFORMED (a file is missing or does not parse),
CHAIN_UNTRUSTED (no trust anchor issued the attestation certificate), SIGNATURE_INVALID.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from hsmsim.device import AttestationRequest, Device
from hsmsim.encoding import cert_pem, spki_der
from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.keystore.base import KeySpec, PrivateKey
from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.builder import UTF8, CertSpec, build_certificate, name
from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.pki.seed import derive_key, derive_serial
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

NAME = "toy"
STATEMENT_TYPE = "toy-statement/v1"
STATEMENT, SIGNATURE, CERTIFICATE, ROOT = "statement.json", "statement.sig", "attestation.crt", "toy_root.crt"
ROOT_CN = "TOY_ROOT_EMULATED"
_ED25519 = KeySpec.parse("ed25519")
_VALIDITY = timedelta(days=3650)


def root_identity(seed: str, cn: str = ROOT_CN) -> tuple[PrivateKey, x509.Certificate]:
    """The emulated root key and its self-signed certificate, a pure function of ``seed``."""
    key = derive_key(seed, f"toy/root/{cn}", _ED25519)
    subject = name(("CN", cn, UTF8))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    cert = build_certificate(CertSpec(subject, subject, key.public_key(), derive_serial(seed, f"toy/root/{cn}"),
                                      start, start + _VALIDITY), key)
    return key, cert


def certify(seed: str, label: str, key: PrivateKey, created: datetime, root_cn: str = ROOT_CN) -> AttestationIdentity:
    """``key`` as an attestation key certified by the root called ``root_cn``."""
    root_key, root = root_identity(seed, root_cn)
    cert = build_certificate(CertSpec(name(("CN", label, UTF8)), root.subject, key.public_key(),
                                      derive_serial(seed, f"toy/{root_cn}/{label}"), created, created + _VALIDITY),
                             root_key)
    return AttestationIdentity(key, cert, (cert,), root)


def statement_bytes(label: str, spec: str, spki: bytes, extractable: bool) -> bytes:
    """The canonical statement: sorted keys, no whitespace."""
    body = {"extractable": extractable, "label": label, "spec": spec, "spki": base64.b64encode(spki).decode(),
            "type": STATEMENT_TYPE}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_statement(identity: AttestationIdentity, statement: bytes) -> Evidence:
    """The evidence for ``statement`` signed by ``identity``'s Ed25519 key."""
    if not isinstance(identity.key, ed25519.Ed25519PrivateKey):
        raise UnsupportedKeyError("the toy format signs with Ed25519 attestation keys only")
    return Evidence(NAME, {
        STATEMENT: statement,
        SIGNATURE: identity.key.sign(statement),
        CERTIFICATE: cert_pem(identity.certificate),
        ROOT: cert_pem(identity.root),
    }, STATEMENT)


def _certificate(evidence: Evidence) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(evidence.files[CERTIFICATE])
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{CERTIFICATE} is not a PEM certificate: {exc}") from None


def _check_issued_by_anchor(cert: x509.Certificate, trust: TrustAnchors) -> None:
    for anchor in trust.all():
        try:
            cert.verify_directly_issued_by(anchor)
        except (*CERT_PARSE_ERRORS, InvalidSignature):
            continue
        return
    raise Rejected(Reason.CHAIN_UNTRUSTED, f"no trust anchor issued {CERTIFICATE}")


def _check_signature(cert: x509.Certificate, evidence: Evidence) -> None:
    try:
        public = cert.public_key()
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"{CERTIFICATE} has an unreadable key: {exc}") from None
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise Rejected(Reason.SIGNATURE_INVALID, "the attestation key is not an Ed25519 key")
    try:
        public.verify(evidence.files[SIGNATURE], evidence.files[STATEMENT])
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID, f"{SIGNATURE} does not verify over {STATEMENT}") from None


def _claims(statement: bytes) -> Claims:
    try:
        body = json.loads(statement)
    except (ValueError, RecursionError):
        raise Rejected(Reason.MALFORMED, f"{STATEMENT} is not JSON") from None
    if not isinstance(body, dict) or body.get("type") != STATEMENT_TYPE:
        raise Rejected(Reason.MALFORMED, f"{STATEMENT} is not a {STATEMENT_TYPE} statement")
    spki_text, spec_text, extractable, label = (body.get(k) for k in ("spki", "spec", "extractable", "label"))
    if not (isinstance(spki_text, str) and isinstance(spec_text, str) and isinstance(extractable, bool)
            and isinstance(label, str)):
        raise Rejected(Reason.MALFORMED, f"{STATEMENT} lacks a member or has one of the wrong type")
    try:
        spki = base64.b64decode(spki_text, validate=True)
        spec = KeySpec.parse(spec_text)
    except (ValueError, UnsupportedKeyError) as exc:
        raise Rejected(Reason.MALFORMED, f"{STATEMENT}: {exc}") from None
    return Claims(spki_der=spki, key_type=spec.name, key_size=spec.bits, generated_on_device=None,
                  extractable=extractable, never_extractable=None, sensitive=None, always_sensitive=None,
                  vendor="hsmsim toy", label=label)


def _is_statement(path: Path) -> bool:
    try:
        return path.name == STATEMENT and STATEMENT_TYPE.encode() in path.read_bytes()[:4096]
    except OSError:
        return False


class ToyFormat:
    """The toy format's hooks (:class:`hsmsim.formats.contract.Format`)."""

    name = NAME
    title = "hsmsim toy signed statement"
    key_specs = ("ec-p256", "ed25519")
    layout = BundleLayout((STATEMENT,), lambda path: _is_statement(path))

    def provision(self, device: Device, partition: str,
                  attesting: tuple[str, PrivateKey, datetime] | None = None) -> AttestationIdentity:
        """The partition's Ed25519 attestation key under TOY_ROOT_EMULATED (or ``attesting``'s key)."""
        if attesting is not None:
            label, key, created = attesting
            return certify(device.seed, label, key, created)
        key = derive_key(device.seed, f"toy/{device.serial}/{partition}/attestation", _ED25519)
        return certify(device.seed, f"{partition}-attestation", key, device.attestation_created)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """The one PKI: the default partition's attestation certificate under TOY_ROOT_EMULATED."""
        return (PkiExport.of(self.provision(device, "default")),)

    def generate(self, request: AttestationRequest) -> Evidence:
        """A signed statement about the request's key."""
        key = request.key
        if key.public_key is None or key.spec.name not in self.key_specs:
            raise UnsupportedKeyError(f"the toy format attests {', '.join(self.key_specs)} keys, not {key.spec.name}")
        statement = statement_bytes(key.label, key.spec.name, spki_der(key.public_key), key.attributes.extractable)
        return sign_statement(request.attesting, statement)

    def verify(self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        """Chain to a trust anchor, then the statement's signature, then its content. Never raises."""
        try:
            missing = [f for f in (STATEMENT, SIGNATURE, CERTIFICATE) if f not in evidence.files]
            if missing:
                raise Rejected(Reason.MALFORMED, f"missing {', '.join(missing)}")
            cert = _certificate(evidence)
            _check_issued_by_anchor(cert, trust)
            _check_signature(cert, evidence)
            claims = _claims(evidence.files[STATEMENT])
        except Rejected as rejected:
            return Verdict(rejected.reason, rejected.detail)
        return Verdict(Reason.OK, claims=claims)

    def load(self, path: Path) -> Evidence:
        """The toy files in ``path`` (a directory) or beside it (a file)."""
        directory = path if path.is_dir() else path.parent
        files = {f: (directory / f).read_bytes() for f in (STATEMENT, SIGNATURE, CERTIFICATE, ROOT)
                 if (directory / f).is_file()}
        if STATEMENT not in files:
            raise BundleError(f"{directory} holds no {STATEMENT}")
        return Evidence(NAME, files, STATEMENT)

    def detect(self, path: Path) -> bool:
        """True for a toy statement file, or a directory holding one."""
        return _is_statement(path / STATEMENT if path.is_dir() else path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER roots."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """One golden and two named defects."""
        from tests.toyformat.catalogue import vector_cases

        return vector_cases(self, seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """The defects' flags."""
        from tests.toyformat.catalogue import NOTES

        return dict(NOTES)

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its catalogue-driven model from the vectors."""
        return None

