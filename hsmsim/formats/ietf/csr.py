"""The CSR attestation bundle (draft-ietf-lamps-csr-attestation): generator and reference verifier.

A PKCS#10 request carries one ``id-aa-attestation`` attribute holding one AttestationBundle, whose
statements all concern the request's key; a CRMF (RFC 4211) CertReqMsg carries the bundle as the
CertTemplate extension of the same OID (``ext-attestation``), its proof of possession a POPOSigningKey by
the key over the CertRequest. Statement types:

* ``id-evidence`` (1.3.6.1.5.5.999, the PKIX Evidence arc; the draft assigns no statement type, so the
  Evidence module's own arc names it): ``stmt`` is the Evidence SEQUENCE, verified by this family's
  ``pkix-evidence`` verifier as if given with the CSR and the bundle's certs beside it (called directly:
  the CSR's self-signature, verified once, is not verified again).
* ``tcg-attest-certify`` (2.23.133.20.1): a TcgAttestCertify (:mod:`~hsmsim.formats.ietf.tcg`).
* hsmsim's private arc ``2.25.277441276849583172135182184666119029479.1.<n>`` (a UUID OID, X.667, so no
  registration is needed), one per format (:data:`PRIVATE_TYPES`): ``stmt`` is an
  ``HsmsimStatement ::= SEQUENCE { format UTF8String, primary UTF8String, files SEQUENCE OF SEQUENCE {
  name UTF8String, content OCTET STRING } }`` holding that format's native files (Primus zip with XML,
  signature and chain; Marvell blob; Luna PKC; Fortanix statement; ...) without their roots, verified
  by that format through the registry; the statement's key must be the CSR's.

A type OID the verifier does not know is reported (UNSUPPORTED), never skipped. Every statement that answers a
challenge answers the relying party's nonce (:data:`NONCE_BINDINGS`); every statement must vouch for the key (a
self attestation does not); statements whose serial is an HSM's name one HSM; and a wrapped FIDO statement's path
is pinned to a FIDO attestation certificate, since every inner format gets the merged roots file.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key
from cryptography.x509.oid import NameOID

from hsmsim.checks import check_csr_signature
from hsmsim.device import AttestationRequest
from hsmsim.encoding import cert_pem, der_children, der_content, der_sequence, pem, spki_der
from hsmsim.errors import ParameterError, UnsupportedFormatError, UnsupportedKeyError
from hsmsim.formats import get_format
from hsmsim.formats.ietf import asn1, tcg
from hsmsim.formats.ietf.asn1 import TCG_ATTEST_CERTIFY, Bundle, Statement
from hsmsim.formats.ietf.evidence import check as check_evidence
from hsmsim.formats.ietf.evidence import request_nonce, statement_inputs
from hsmsim.formats.ietf.layout import (
    CRMF,
    CSR_ATTESTATION,
    ID_AA_ATTESTATION,
    ID_EVIDENCE,
    NONCE_SUFFIX,
    PKCS10,
    PKIX_EVIDENCE,
    SUFFIXES,
    csr_der,
    evidence_der,
)
from hsmsim.formats.ietf.pki import tpm_identity
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import MAX_BUNDLE_FILES, Evidence, TrustAnchors, safe_file_stem
from hsmsim.pki.builder import UTF8, name
from hsmsim.pki.chain import CERT_PARSE_ERRORS, certificate_from_der
from hsmsim.pki.signing import sign
from hsmsim.pki.signing import verify as verify_signature
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.container import MAX_ATTESTATION_OBJECT, AttestationObject, Registration, b64url

TCG_CERTIFY = "tcg-attest-certify"
"""The statement name of a TcgAttestCertify (not a registered format: this family makes and checks it)."""
ROOTS_FILE = "csr_attestation_roots.pem"
HSMSIM_ARC = "2.25.277441276849583172135182184666119029479"
PRIVATE_TYPES = {
    "primus": f"{HSMSIM_ARC}.1.1", "marvell-azure": f"{HSMSIM_ARC}.1.2", "marvell-google": f"{HSMSIM_ARC}.1.3",
    "luna-pkc": f"{HSMSIM_ARC}.1.4", "fortanix": f"{HSMSIM_ARC}.1.5", "webauthn": f"{HSMSIM_ARC}.1.6",
    "tpm-acme": f"{HSMSIM_ARC}.1.7",
}
"""The private statement type of each hsmsim format carried as an HsmsimStatement."""
WEBAUTHN, TPM_ACME = "webauthn", "tpm-acme"
NONCE_BINDINGS = {
    PKIX_EVIDENCE: "the transaction entity's nonce claim is the nonce",
    TCG_CERTIFY: "TPMS_ATTEST.extraData (qualifyingData) is the nonce",
    WEBAUTHN: "the relying party's challenge (the record's expectedChallenge, which clientData.challenge must "
              "equal) is the nonce's bytes",
    TPM_ACME: "the ACME challenge token (challenge.token, hashed into keyAuthorization, whose SHA-256 is "
              "certInfo.extraData) is base64url(nonce), unpadded",
}
"""How each statement that answers a challenge is bound to the relying party's nonce (``<label>.nonce``); the
other formats' evidence answers none (a Primus, Luna, Marvell or Fortanix statement is fresh only as the key is)."""
HSM_SERIAL_KINDS = (PKIX_EVIDENCE, "primus", "luna-pkc")
"""The statements whose claimed serial is the HSM's serial number (PKIX Evidence's hwserial, a Primus device
certificate's, a Luna's): statements about one key name one (:func:`require_one_platform`)."""
FIDO_ATTESTATION_OU = "Authenticator Attestation"
"""The subject OU of a FIDO attestation certificate (WebAuthn 8.2.1): what a wrapped ``packed`` or ``fido-u2f``
statement's certificate must carry (:func:`_require_fido_pki`)."""
STATEMENT_TYPES = {PKIX_EVIDENCE: ID_EVIDENCE, TCG_CERTIFY: TCG_ATTEST_CERTIFY, **PRIVATE_TYPES}
STATEMENT_NAMES = {oid: statement_name for statement_name, oid in STATEMENT_TYPES.items()}
FORMS = (PKCS10, CRMF)
"""The request forms: a PKCS#10 ``<label>.csr`` (PEM) or a CRMF CertReqMsg ``<label>.crmf`` (DER)."""
MAX_STATEMENTS = 16
MAX_RECORD_BYTES = 2 * MAX_ATTESTATION_OBJECT
"""A wrapped WebAuthn record's bound, as the webauthn format's (which read it first)."""
MAX_CERTS = 16
EVIDENCE_PARTS = ("statement.evidence.der", "bundle-certs.pem")
"""How a rejection of a PKIX Evidence statement names the Evidence and the bundle's certificates."""


# -- HsmsimStatement ----------------------------------------------------------------------------

def encode_native(evidence: Evidence) -> bytes:
    """HsmsimStatement DER of a format's native files."""
    files = [der_sequence(asn1.utf8(n), asn1.octets(d)) for n, d in evidence.files.items()]
    return der_sequence(asn1.utf8(evidence.format), asn1.utf8(evidence.primary), der_sequence(*files))


def decode_native(stmt: bytes) -> Evidence:
    """The Evidence an HsmsimStatement carries; raises ValueError."""
    parts = der_children(asn1.read_value(stmt, asn1.SEQUENCE), der=True)
    if len(parts) != 3:
        raise ValueError("HsmsimStatement is not {format, primary, files}")
    files: dict[str, bytes] = {}
    items = der_children(asn1.read_value(parts[2], asn1.SEQUENCE), der=True)
    if len(items) > MAX_BUNDLE_FILES:
        raise ValueError(f"more than {MAX_BUNDLE_FILES} files")
    for item in items:
        pair = der_children(asn1.read_value(item, asn1.SEQUENCE), der=True)
        if len(pair) != 2:
            raise ValueError("a file is not {name, content}")
        file_name = asn1.read_utf8(pair[0])
        if file_name in files:
            raise ValueError(f"file {file_name!r} twice")
        files[file_name] = asn1.read_value(pair[1], asn1.OCTETS)
    return Evidence(asn1.read_utf8(parts[0]), files, asn1.read_utf8(parts[1]))


def _self_signed_certs(data: bytes) -> list[x509.Certificate] | None:
    """The certificates of a certificate file when every one is self-signed (a root shipped beside evidence)."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        return None
    return certs if certs and all(c.subject == c.issuer for c in certs) else None


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{200,}={0,2}")


def _embedded_roots(data: bytes) -> list[x509.Certificate]:
    """Self-signed certificates a document embeds as PEM, as base64 (or base64url) DER or as base64 of PEM
    (Azure's ``certificatePemFile``), e.g. the owner root inside Azure's JSON."""
    texts = [data.replace(b"\\n", b"\n")]
    for match in _BASE64_RUN.finditer(data.replace(b"\\n", b"").replace(b"\n", b"")):
        try:
            run = match.group(0).rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
            texts.append(base64.b64decode(run + b"=" * (-len(run) % 4)))
        except (ValueError, binascii.Error):
            continue
    roots: list[x509.Certificate] = []
    for text in texts:
        try:
            certs = (x509.load_pem_x509_certificates(text) if b"-----BEGIN CERTIFICATE-----" in text
                     else [x509.load_der_x509_certificate(text)] if text[:1] == b"\x30" else [])
        except ValueError:
            continue
        roots += [c for c in certs if c.subject == c.issuer and c not in roots]
    return roots


def split_roots(evidence: Evidence) -> tuple[Evidence, list[x509.Certificate]]:
    """``evidence`` without the root files shipped beside it, and every root it ships (as files or embedded
    in a document): a relying party gets them out of band, so they become the CSR verifier's anchors."""
    kept: dict[str, bytes] = {}
    roots: list[x509.Certificate] = []
    for file_name, data in evidence.files.items():
        found = _self_signed_certs(data) if file_name != evidence.primary else None
        if found is None:
            kept[file_name] = data
            roots += [r for r in _embedded_roots(data) if r not in roots]
        else:
            roots += found
    return replace(evidence, files=kept), roots


# -- generation ---------------------------------------------------------------------------------

@dataclass
class CsrDraft:
    """A CSR attestation before encoding: what the catalogue edits, then :meth:`build` signs."""

    subject: x509.Name
    spki: bytes
    signer: PrivateKey
    statements: list[Statement]
    certs: list[bytes] | None
    roots: list[x509.Certificate]
    nonce: bytes
    extra_attributes: list[tuple[str, list[bytes]]] = field(default_factory=list)
    bundles: int = 1
    attributes: int = 1
    form: str = PKCS10
    popo_signed: bool = True
    """CRMF: a POPOSigningKey by the key (else ``raVerified``)."""

    def bundle(self) -> bytes:
        """The AttestationBundle DER."""
        return asn1.encode_bundle(Bundle(tuple(self.statements), tuple(self.certs) if self.certs is not None else None))

    def build(self) -> bytes:
        """The request DER, signed by the key itself; ``attributes`` repeats the attribute (CRMF: the extension),
        ``bundles`` the attribute's value."""
        if self.form == CRMF:
            return self.build_crmf()
        bundle = self.bundle()
        attrs = [(ID_AA_ATTESTATION, [bundle] * self.bundles)] * self.attributes + [
            (oid, values) for oid, values in self.extra_attributes]
        info = asn1.encode_request_info(self.subject.public_bytes(), self.spki, attrs)
        algorithm, signature = sign(self.signer, info)
        return asn1.encode_request(info, algorithm, signature)

    def build_crmf(self) -> bytes:
        """The CertReqMsg DER: the bundle as the template's extension, ``attributes`` times."""
        extension = asn1.CrmfExtension(ID_AA_ATTESTATION, False, self.bundle())
        request = asn1.encode_cert_request(0, self.subject.public_bytes(), self.spki, [extension] * self.attributes)
        if not self.popo_signed:
            return asn1.encode_cert_req_msg(request, None, None)
        return asn1.encode_cert_req_msg(request, *sign(self.signer, request))


def inner_parameters(format_name: str, nonce: bytes) -> dict[str, object]:
    """The parameters a wrapped format's generator gets: a format whose evidence answers a challenge answers the
    CSR attestation's nonce (:data:`NONCE_BINDINGS`), every other its defaults."""
    if format_name == PKIX_EVIDENCE:
        return {"nonce": nonce}
    if format_name == WEBAUTHN:
        return {"challenge": nonce}
    if format_name == TPM_ACME:
        return {"token": b64url(nonce)}
    return {}


def inner_request(request: AttestationRequest, format_name: str, nonce: bytes) -> AttestationRequest:
    """The request a wrapped format generates its statement for: the same key and device, attested by the
    identity that format provisions, with :func:`inner_parameters`; raises UnsupportedKeyError for a key the
    format cannot attest."""
    fmt = get_format(format_name)
    if request.key.spec.name not in fmt.key_specs:
        raise UnsupportedKeyError(f"{format_name} cannot attest {request.key.spec.name} keys")
    return replace(request, attesting=fmt.provision(request.device, request.partition),
                   parameters=inner_parameters(format_name, nonce))


def make_statement(request: AttestationRequest, statement_name: str, nonce: bytes
                   ) -> tuple[Statement, list[bytes], list[x509.Certificate]]:
    """One statement about the request's key, made by its own format through the registry (a
    TcgAttestCertify by the emulated TPM here): ``(statement, bundle certs, roots)``."""
    if statement_name == TCG_CERTIFY:
        ak = tpm_identity(request.device.seed, request.device.serial, created=request.device.attestation_created)
        clock = int((request.at - request.device.initialised).total_seconds() * 1000)
        stmt = tcg.certify(request.key, ak, tcg.tpm_hierarchy(request.device.seed, request.device.serial),
                           nonce=nonce, clock=clock, firmware=0x2015011300154822,
                           sig_encoding=str(request.parameters.get("sig_encoding", "bare")))
        return Statement(TCG_ATTEST_CERTIFY, stmt), [ak.certificate.public_bytes(Encoding.DER)], [ak.root]
    if statement_name == PKIX_EVIDENCE:
        inner = get_format(PKIX_EVIDENCE).generate(inner_request(request, PKIX_EVIDENCE, nonce))
        inner, roots = split_roots(inner)
        return Statement(ID_EVIDENCE, evidence_der(inner.files[inner.primary])), [], roots
    if statement_name not in PRIVATE_TYPES:
        raise UnsupportedFormatError(f"no CSR attestation statement type for {statement_name!r}; "
                                     f"known: {', '.join(sorted(STATEMENT_TYPES))}")
    wrapped = inner_request(request, statement_name, nonce)
    inner, roots = split_roots(get_format(statement_name).generate(wrapped))
    anchor = wrapped.attesting.root
    return Statement(PRIVATE_TYPES[statement_name], encode_native(inner)), [], [*roots, anchor]


def draft_for(request: AttestationRequest, statement_names: Sequence[str], form: str = PKCS10) -> CsrDraft:
    """The draft request (``form``) of the request's key with one statement per name, in order."""
    if form not in FORMS:
        raise ParameterError.invalid("form", f"one of {', '.join(FORMS)}", form)
    if request.key.public_key is None or request.key_signer is None:
        raise UnsupportedKeyError("a CSR needs an asymmetric key the store can sign with")
    nonce = request_nonce(request)
    statements, certs, roots = [], [], []
    for statement_name in statement_names:
        statement, more_certs, more_roots = make_statement(request, statement_name, nonce)
        statements.append(statement)
        certs += [c for c in more_certs if c not in certs]
        roots += [r for r in more_roots if r not in roots]
    return CsrDraft(subject=name(("CN", request.key.label, UTF8)), spki=spki_der(request.key.public_key),
                    signer=request.key_signer, statements=statements, certs=certs or None, roots=roots, nonce=nonce,
                    form=form)


def request_name(stem: str, draft: CsrDraft) -> str:
    """``<stem>.csr`` or ``<stem>.crmf``."""
    return f"{stem}{SUFFIXES[draft.form]}"


def draft_files(stem: str, draft: CsrDraft, csr: bytes | None = None) -> dict[str, bytes]:
    """The request (``<stem>.csr`` PEM, or ``<stem>.crmf`` DER), ``<stem>.nonce`` and the roots of every
    statement."""
    der = csr if csr is not None else draft.build()
    return {request_name(stem, draft): der if draft.form == CRMF else pem(der, "CERTIFICATE REQUEST"),
            f"{stem}{NONCE_SUFFIX}": draft.nonce.hex().encode() + b"\n",
            ROOTS_FILE: b"".join(cert_pem(r) for r in draft.roots)}


def default_statements(request: AttestationRequest) -> list[str]:
    """The ``statements`` parameter, else the device's own format's statement (if it has one) and PKIX Evidence.
    Raises :class:`ParameterError` unless the parameter names at least one statement, each a known one (an
    AttestationBundle holds one or more)."""
    given = request.parameters.get("statements")
    if given is not None:
        chosen = ([s for s in given.split(",") if s] if isinstance(given, str)
                  else list(given) if isinstance(given, list | tuple) else None)
        if not chosen or not all(isinstance(s, str) and s in STATEMENT_TYPES for s in chosen):
            raise ParameterError.invalid(
                "statements", f"one or more statement names from {', '.join(sorted(STATEMENT_TYPES))}", given)
        return chosen
    own = request.device.format
    return [own, PKIX_EVIDENCE] if own in PRIVATE_TYPES else [PKIX_EVIDENCE]


def generate(request: AttestationRequest) -> Evidence:
    """The CSR attestation of the request's key: its request (parameter ``form``), nonce and roots, named by the
    key label's :func:`~hsmsim.model.evidence.safe_file_stem`, so they all lie in the bundle directory."""
    draft = draft_for(request, default_statements(request), str(request.parameters.get("form", PKCS10)))
    stem = safe_file_stem(request.key.label)
    return Evidence(CSR_ATTESTATION, draft_files(stem, draft), request_name(stem, draft))


# -- verification -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """The request as the verifier reads it: its SPKI (proof of possession checked), the same key as
    cryptography re-encodes it (what an inner PKIX Evidence statement's key entities are matched against, in both
    forms), and its bundle."""

    key_spki: bytes
    spki: bytes
    bundle: Bundle
    certs: tuple[x509.Certificate, ...]


def read_request(data: bytes, profile: Profile) -> Request:
    """Parse the request (PKCS#10 or CRMF CertReqMsg), check its proof of possession and find exactly one
    attribute (extension) with exactly one bundle."""
    try:
        der = csr_der(data)
    except (ValueError, binascii.Error) as exc:
        raise Rejected(Reason.MALFORMED, f"CSR does not parse: {exc}") from None
    if asn1.is_cert_req_msg(der):
        return _read_crmf(der, profile)
    try:
        info = asn1.decode_request(der)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"CSR does not parse: {exc}") from None
    pkcs10_spki = check_csr_signature(der)
    found = [values for oid, values in info.attributes if oid == ID_AA_ATTESTATION]
    if not found:
        raise Rejected(Reason.ATTR_MISSING, "the CSR has no id-aa-attestation attribute")
    if len(found) > 1:
        raise Rejected(Reason.ATTR_CONFLICT, f"{len(found)} id-aa-attestation attributes (COUNTS MAX 1)")
    if len(found[0]) != 1:
        raise Rejected(Reason.ATTR_CONFLICT if found[0] else Reason.MALFORMED,
                       f"the id-aa-attestation attribute holds {len(found[0])} bundles (exactly one)")
    return _with_bundle(pkcs10_spki, info.spki, found[0][0], profile)


def _read_crmf(der: bytes, profile: Profile) -> Request:
    """A CertReqMsg: its template's key signed the CertRequest (POPOSigningKey), one attestation extension."""
    try:
        msg = asn1.decode_cert_req_msg(der)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"CertReqMsg does not parse: {exc}") from None
    if msg.spki is None:
        raise Rejected(Reason.MALFORMED, "the CertTemplate has no publicKey")
    try:
        public_key = load_der_public_key(msg.spki)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Rejected(Reason.MALFORMED, f"the CertTemplate's publicKey does not parse: {str(exc)[:80]}") from None
    if msg.popo_tag != 1 or msg.algorithm is None or msg.signature is None:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "no signature proof of possession (POPOSigningKey): "
                                                     f"ProofOfPossession choice {msg.popo_tag}")
    if msg.popo_input:
        raise Rejected(Reason.MALFORMED, "POPOSigningKey carries poposkInput although the template names the key "
                                         "(RFC 4211 4.1: it MUST then be absent)")
    valid = verify_signature(public_key, msg.algorithm, msg.signature, msg.cert_request)
    if valid is None:
        raise Rejected(Reason.UNSUPPORTED, "the POPOSigningKey algorithm is not supported for this key")
    if not valid:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "the POPOSigningKey signature over the CertRequest does not "
                                                     "verify")
    found = [e for e in msg.extensions if e.oid == ID_AA_ATTESTATION]
    if not found:
        raise Rejected(Reason.ATTR_MISSING, "the CertTemplate has no id-aa-attestation extension")
    if len(found) > 1:
        raise Rejected(Reason.ATTR_CONFLICT, f"{len(found)} id-aa-attestation extensions (an extension appears "
                                             "at most once)")
    return _with_bundle(spki_der(public_key), msg.spki, found[0].value, profile)


def _with_bundle(key_spki: bytes, spki: bytes, bundle_der: bytes, profile: Profile) -> Request:
    """The request with its parsed bundle: the module's sizes, strict's no trailing elements, X.509 certs (a
    well-formed ``other`` entry ignored, any other CertificateChoices MALFORMED)."""
    try:
        bundle = asn1.decode_bundle(bundle_der)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(Reason.MALFORMED, f"AttestationBundle does not parse: {exc}") from None
    if not bundle.statements:
        raise Rejected(Reason.MALFORMED, "AttestationBundle.attestations is empty (SIZE 1..MAX)")
    if len(bundle.statements) > MAX_STATEMENTS or len(bundle.certs or ()) > MAX_CERTS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"more than {MAX_STATEMENTS} statements or {MAX_CERTS} certs")
    if bundle.certs is not None and not bundle.certs:
        raise Rejected(Reason.MALFORMED, "AttestationBundle.certs is present but empty (SIZE 1..MAX)")
    if profile is Profile.STRICT and any(s.trailing for s in bundle.statements):
        raise Rejected(Reason.UNEXPECTED_CONTENT, "an AttestationStatement carries elements after stmt "
                                                  "(the superseded hint)")
    certs = []
    for index, cert in enumerate(bundle.certs or ()):
        if cert[:1] == b"\xa3":
            _check_other_certificate(cert, index)
            continue
        if cert[:1] != b"\x30":
            raise Rejected(Reason.MALFORMED, f"bundle cert {index} (tag {cert[0]:#04x}) is no LimitedCertChoices: "
                                             "the module allows certificate and other [3] only")
        try:
            certs.append(certificate_from_der(cert))
        except CERT_PARSE_ERRORS:
            raise Rejected(Reason.MALFORMED, f"bundle cert {index} does not parse") from None
    return Request(key_spki, spki, bundle, tuple(certs))


def _check_other_certificate(tlv: bytes, index: int) -> None:
    """An ``other [3] IMPLICIT OtherCertificateFormat {otherCertFormat OID, otherCert ANY}`` entry, which the module
    allows and no statement here uses: a well-formed one is ignored, a malformed one is MALFORMED."""
    try:
        parts = der_children(der_content(tlv, der=True), der=True)
        if len(parts) != 2:
            raise ValueError("not {otherCertFormat, otherCert}")
        asn1.read_oid(parts[0])
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"bundle cert {index} is no OtherCertificateFormat: {exc}") from None


def _bound(claims: Claims | None, spki: bytes, what: str) -> Claims:
    if claims is None or claims.spki_der != spki:
        raise Rejected(Reason.KEY_MISMATCH, f"the {what} statement concerns another key than the CSR's")
    return claims


def check_statement(statement: Statement, request: Request, nonce: bytes | None, trust: TrustAnchors,
                    at: datetime, profile: Profile) -> Claims:
    """One statement, verified by its own format (through the registry) and bound to the CSR's key, answering the
    relying party's nonce when one is given (:data:`NONCE_BINDINGS`), and vouching for something: a statement
    whose claims say nothing of where the key was generated or whether it can leave (a WebAuthn ``packed`` self
    attestation, which only the key itself signed) is MISSING_INPUT in both profiles."""
    kind = STATEMENT_NAMES.get(statement.type)
    if kind is None:
        raise Rejected(Reason.UNSUPPORTED, f"unknown statement type {statement.type}")
    return _verified(kind, statement, request, nonce, trust, at, profile)


def _vouching(claims: Claims) -> Claims:
    if claims.generated_on_device is None and claims.extractable is None and claims.never_extractable is None:
        raise Rejected(Reason.MISSING_INPUT, "the statement vouches for nothing about the key (it says neither "
                                             "where the key was generated nor whether it can leave)")
    return claims


def _verified(kind: str, statement: Statement, request: Request, nonce: bytes | None, trust: TrustAnchors,
              at: datetime, profile: Profile) -> Claims:
    if kind == TCG_CERTIFY:
        return _vouching(tcg.verify_statement(statement.stmt, request.certs, request.spki, trust, at, profile, nonce))
    if kind == PKIX_EVIDENCE:
        inputs = statement_inputs(statement.stmt, request.certs, nonce, request.key_spki, EVIDENCE_PARTS)
        return _vouching(_bound(check_evidence(inputs, trust, at, profile), request.spki, kind))
    try:
        inner = decode_native(statement.stmt)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(Reason.MALFORMED, f"HsmsimStatement does not parse: {exc}") from None
    if inner.format != kind:
        raise Rejected(Reason.MALFORMED, f"an HsmsimStatement of type {kind} says it is {inner.format}")
    verdict = get_format(kind).verify(inner, trust, at=at, profile=profile)
    if not verdict.accepted:
        raise Rejected(verdict.reason, verdict.detail)
    claims = _vouching(_bound(verdict.claims, request.spki, kind))
    if kind == WEBAUTHN:
        record = Registration.parse(inner.primary_record(MAX_RECORD_BYTES),
                                    lenient_base64=profile is Profile.STRUCTURAL)
        _require_fido_pki(record)
        if nonce is not None and record.expected_challenge != nonce:
            raise Rejected(Reason.CHALLENGE_MISMATCH, "the WebAuthn challenge is not the relying party's nonce")
    if kind == TPM_ACME and nonce is not None and _acme_token(inner) != b64url(nonce):
        raise Rejected(Reason.CHALLENGE_MISMATCH, "the ACME challenge token is not base64url of the relying "
                                                  "party's nonce")
    return claims


def _require_fido_pki(record: Registration) -> None:
    """A wrapped ``packed`` full or ``fido-u2f`` statement's attestation certificate is a FIDO attestation
    certificate (subject OU :data:`FIDO_ATTESTATION_OU`, WebAuthn 8.2.1). The webauthn verifier chains it to the
    roots it is given, and here that is the merged roots file, whose TPM, PKIX Evidence or vendor roots are no FIDO
    attestation roots (WebAuthn 7.1 step 23: trust anchors are per attestation format): a P-256 key certified
    under any of them (the TcgAttestCertify AK) could otherwise vouch as a security key. CHAIN_UNTRUSTED."""
    att_obj = AttestationObject.decode(record.attestation_object)
    x5c = att_obj.att_stmt.get("x5c") if att_obj.fmt in ("packed", "fido-u2f") else None
    if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], bytes):
        return
    try:
        subject = x509.load_der_x509_certificate(x5c[0]).subject
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, "the attestation certificate does not parse") from None
    units = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    if units != [FIDO_ATTESTATION_OU]:
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the {att_obj.fmt} attestation certificate "
                                               f"{subject.rfc4514_string()[:80]!r} is no FIDO attestation "
                                               f"certificate (subject OU {FIDO_ATTESTATION_OU!r}): in a CSR "
                                               "attestation its path may end at another statement's root")


def _acme_token(inner: Evidence) -> str | None:
    """The challenge token of a tpm-acme record (its verifier has read the record: ``challenge.token``)."""
    try:
        document = json.loads(inner.files[inner.primary])
        token = document["challenge"]["token"]
    except (ValueError, KeyError, TypeError):
        return None
    return token if isinstance(token, str) else None


def read_nonce(files: Mapping[str, bytes]) -> bytes | None:
    """The relying party's nonce (``*.nonce``, hex), if one was given; raises Rejected: MALFORMED for a file that is
    not hex, and for two nonce files naming different nonces (which one the statements must answer would be a
    matter of order; identical copies are one nonce)."""
    found: dict[bytes, str] = {}
    for file_name, data in files.items():
        if file_name.endswith(NONCE_SUFFIX):
            try:
                found.setdefault(bytes.fromhex(data.decode("ascii").strip()), file_name)
            except (UnicodeDecodeError, ValueError):
                raise Rejected(Reason.MALFORMED, f"{file_name} is not a hex nonce") from None
    if len(found) > 1:
        names = sorted(found.values())
        raise Rejected(Reason.MALFORMED, f"two nonce files name different nonces: {names[0][:80]!r} and "
                                         f"{names[1][:80]!r}")
    return next(iter(found), None)


def _require_one_request(files: Mapping[str, bytes], primary: str) -> None:
    """No second request (``*.csr``, ``*.crmf``) beside the one verified, unless it is a copy: MALFORMED naming
    both (which request the nonce and the statements belong to would be ambiguous)."""
    for file_name, data in sorted(files.items()):
        if file_name != primary and file_name.endswith(tuple(SUFFIXES.values())) and data != files[primary]:
            raise Rejected(Reason.MALFORMED, f"two requests: {primary[:80]!r} and {file_name[:80]!r}")


def check(files: Mapping[str, bytes], primary: str, trust: TrustAnchors, at: datetime, profile: Profile) -> Claims:
    """Every check of the profile; returns the first statement's claims. Raises Rejected."""
    if primary not in files:
        raise Rejected(Reason.MISSING_INPUT, f"the CSR {primary} is missing")
    _require_one_request(files, primary)
    request = read_request(files[primary], profile)
    nonce = read_nonce(files)
    claims: list[tuple[str, Claims]] = []
    for index, statement in enumerate(request.bundle.statements):
        kind = STATEMENT_NAMES.get(statement.type, statement.type)
        try:
            claims.append((kind, check_statement(statement, request, nonce, trust, at, profile)))
        except Rejected as rejection:
            raise Rejected(rejection.reason, f"statement {index} ({kind}): {rejection.detail}") from None
    require_one_platform(claims)
    return claims[0][1]


def require_one_platform(claims: Sequence[tuple[str, Claims]]) -> None:
    """The draft's "all statements apply to the same key and platform", where statements make it comparable: the
    statements whose serial is an HSM's serial number (:data:`HSM_SERIAL_KINDS`) must name one serial
    (ATTR_CONFLICT), e.g. a Primus statement beside PKIX Evidence reporting another HSM's hwserial. Other serials
    are another scheme (a TPM's EK URN, a Marvell partition serial) and are not compared."""
    serials = [(index, claim.serial) for index, (kind, claim) in enumerate(claims)
               if kind in HSM_SERIAL_KINDS and claim.serial is not None]
    for index, serial in serials[1:]:
        if serial != serials[0][1]:
            raise Rejected(Reason.ATTR_CONFLICT, f"statements {serials[0][0]} and {index} are about two HSMs: "
                                                 f"serials {serials[0][1][:40]!r} and {serial[:40]!r}")


def verify_csr(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None, profile: Profile) -> Verdict:
    """The reference verifier of ``csr-attestation``; never raises on bad evidence."""
    try:
        claims = check(evidence.files, evidence.primary, trust, at or datetime.now(UTC), profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
    return Verdict(Reason.OK, claims=claims)
