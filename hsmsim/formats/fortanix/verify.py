"""The Fortanix reference verifier: a key attestation response + the root + time + profile → Verdict.

Where the documentation is vague it follows the real response and the vendor's Java verifier
(``fortanix/user-assurance``): the authority chain is validated at the verification time, as the
vendor's verifier does at its clock (DSM hands back a stored statement with the current 30-day
authority certificate, so a statement may predate its authority: the published one does); SKIs
are SHA-1 over the whole DER SubjectPublicKeyInfo; the authority's non-DER extension values are
read leniently (:mod:`~hsmsim.formats.fortanix.certificates`) while signatures are verified over
the bytes as received. The authority is not a CA, so openssl cannot verify the statement as a
leaf: the walk verifies the authority under the policy and the statement's signature separately
(``scripts/verify_fortanix_openssl.sh``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

from hsmsim.checks import by_base_name, check_csr_binding, one_file, one_that_passes, require_code_signing_key
from hsmsim.encoding import der_children, der_content, der_oid, key_facts, spki_der
from hsmsim.formats.fortanix.certificates import ReadCertificate, read_certificate, read_chain_certificate
from hsmsim.formats.fortanix.layout import JsonLimits
from hsmsim.formats.fortanix.options import FortanixOptions
from hsmsim.formats.fortanix.pki import (
    ENROLLMENT_POLICY,
    ITEM_MIN_PROTECTION_PROFILE,
    ITEM_SITE_OPERATOR_APPROVAL,
    KEY_ATTESTATION_EKU,
    KEY_ATTESTATION_POLICY,
    PROFILE_NAMES,
    ski,
)
from hsmsim.formats.fortanix.statement import (
    CLAIM_GENERATED,
    CLAIM_NEVER_EXPORTABLE,
    CLAIM_VALUE,
    KEY_ID_OID,
    STATEMENT_CN,
    STATEMENT_USAGES,
    USAGES_BY_KEY_TYPE,
    parse_json,
    read_response,
)
from hsmsim.keystore.base import KeyType
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import require_key_usage, subject_and_issuer, subject_text, validate_chain
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

_KU_FIELDS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign")
_STATEMENT_EXTENSIONS = {ExtensionOID.KEY_USAGE, CLAIM_GENERATED, CLAIM_NEVER_EXPORTABLE,
                         ExtensionOID.AUTHORITY_KEY_IDENTIFIER}


def _signed_by(child: ReadCertificate, issuer: ReadCertificate) -> bool:
    """The signature on ``child``, over its TBSCertificate as received, verifies with ``issuer``'s key."""
    try:
        child.received.verify_directly_issued_by(issuer.cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _authority_candidates(statement: ReadCertificate, chain: list[ReadCertificate]) -> list[ReadCertificate]:
    """Every ``authority_chain`` certificate named as the statement's issuer whose key signed it (an authority and
    its re-certification with the same key are both); CHAIN_INCOMPLETE when none is named, CERT_SIGNATURE_INVALID
    when none signed."""
    issuer_name = subject_and_issuer(statement.cert)[1]
    named = [c for c in chain if subject_and_issuer(c.cert)[0] == issuer_name]
    if not named:
        issuer = issuer_name.rfc4514_string()
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"no authority_chain certificate is the statement's issuer {issuer!r}")
    signed = [candidate for candidate in named if _signed_by(statement, candidate)]
    if not signed:
        raise Rejected(Reason.CERT_SIGNATURE_INVALID, "the statement is not signed by the authority it names")
    return signed


class _AsReceived(Mapping[x509.Certificate, x509.Certificate]):
    """The chain's certificates mapped to their certificates as received, as ``{c.cert: c.received for c in chain}``
    maps them (a key's value is that of the last entry equal to it), found without hashing a certificate (which
    re-reads its whole structure, tens of microseconds): by identity, else by signature value and then equality."""

    __slots__ = ("_chain",)

    def __init__(self, chain: list[ReadCertificate]) -> None:
        self._chain = chain

    def __getitem__(self, cert: x509.Certificate) -> x509.Certificate:
        for entry in reversed(self._chain):
            if entry.cert is cert or (entry.cert.signature == cert.signature and entry.cert == cert):
                return entry.received
        raise KeyError(cert)

    def __iter__(self) -> Iterator[x509.Certificate]:
        seen: list[x509.Certificate] = []
        for entry in self._chain:
            if not any(entry.cert is other or entry.cert == other for other in seen):
                seen.append(entry.cert)
                yield entry.cert

    def __len__(self) -> int:
        return sum(1 for _cert in self)

    def __bool__(self) -> bool:
        return bool(self._chain)


def _find_authority(statement: ReadCertificate, chain: list[ReadCertificate], trust: TrustAnchors, when: datetime,
                    options: FortanixOptions) -> tuple[ReadCertificate, list[x509.Certificate]]:
    """The authority (:func:`_authority_candidates`) and its path to an anchor at ``when``, with the path's key
    identifiers, policies and the authority's role checked. The chain is taken in any order: of several
    candidates (the period's authority and its renewal) the one whose path passes is the authority; when none
    passes, the reason is that of the first candidate by DER, never of the first in the chain."""

    def path_of(authority: ReadCertificate) -> tuple[ReadCertificate, list[x509.Certificate]]:
        try:
            path = validate_chain(authority.cert, [c.cert for c in chain if c is not authority], trust.get("root"),
                                  when, as_received=_AsReceived(chain),
                                  recurring_leaf=True)  # the cluster's authority, in each of its responses
        except Rejected as rejection:
            detail = f"authority chain at {when:%Y-%m-%dT%H:%M:%SZ}: {rejection.detail}"
            raise Rejected(rejection.reason, detail) from None
        _check_authority_path(statement.cert, path, options)
        return authority, path

    return one_that_passes(_authority_candidates(statement, chain), path_of,
                           lambda candidate: candidate.received.public_bytes(Encoding.DER))


def _describe(cert: x509.Certificate) -> str:
    return subject_text(cert) or "<empty subject>"


@dataclass(frozen=True)
class _Quoted:
    """A certificate as a failure names it (its quoted subject), rendered only when a message is written."""

    cert: x509.Certificate

    def __str__(self) -> str:
        return repr(_describe(self.cert))


def _extension(cert: x509.Certificate, oid: ObjectIdentifier) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


@lru_cache(maxsize=64)
def _key_identifiers(cert: x509.Certificate) -> tuple[bytes | None, bytes]:
    """The subjectKeyIdentifier ``cert`` carries (None without one) and the SHA-1 of its DER SubjectPublicKeyInfo,
    by the certificate's DER: the authority and its CAs, whose identifiers these are, recur in every response."""
    ext = _extension(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return (ext.value.digest if ext is not None else None,  # type: ignore[attr-defined]
            ski(cert.public_key()).digest)  # type: ignore[arg-type]


def _key_identifier(cert: x509.Certificate, what: object) -> bytes:
    carried, computed = _key_identifiers(cert)
    if carried is None:
        raise Rejected(Reason.MALFORMED, f"{what} has no subjectKeyIdentifier")
    if carried != computed:
        raise Rejected(Reason.MALFORMED, f"{what} subjectKeyIdentifier is not the SHA-1 of its DER "
                                         "SubjectPublicKeyInfo (the vendor's verifier recomputes it so)")
    return carried


def _check_issuer_id(cert: x509.Certificate, issuer_id: bytes, what: object) -> None:
    ext = _extension(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    if ext is None or ext.value.key_identifier is None:  # type: ignore[attr-defined]
        raise Rejected(Reason.MALFORMED, f"{what} has no authorityKeyIdentifier keyIdentifier")
    if ext.value.key_identifier != issuer_id:  # type: ignore[attr-defined]
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"{what} authorityKeyIdentifier does not match its issuer's key")


_PATHS_LIMIT = 64
_accepted_paths: dict[tuple[int | str, ...], tuple[tuple[x509.Certificate, ...], bytes]] = {}
"""The authority paths :func:`_check_authority_path` accepted, by the identity of their certificates and the
protection profile asked for, with the authority's SKI; each entry holds its certificates, so their ids are not
reused while it lives. The authority and its CA are the same objects in every response of a cluster
(:func:`read_chain_certificate`, and the walk's remembered issuers), and what is checked of them alone is a pure
function of their bytes."""


def _check_authority_path(statement: x509.Certificate, path: list[x509.Certificate], options: FortanixOptions) -> None:
    """SKI = SHA-1 of the DER SubjectPublicKeyInfo on the authority and every CA; each AKI (the statement's too) =
    its issuer's SKI; the key attestation policy (:func:`_check_policies`); the authority's role
    (:func:`_check_authority`). The statement's AKI is checked on every call, the path's own checks once per path
    of the same objects."""
    key: tuple[int | str, ...] = (*map(id, path), options.protection_profile)
    entry = _accepted_paths.get(key)
    if entry is not None and all(known is cert for known, cert in zip(entry[0], path, strict=True)):
        _check_issuer_id(statement, entry[1], "statement")
        return
    ids = [_key_identifier(cert, _Quoted(cert)) for cert in path]
    _check_issuer_id(statement, ids[0], "statement")
    for cert, issuer_id in zip(path[:-1], ids[1:], strict=True):
        _check_issuer_id(cert, issuer_id, _Quoted(cert))
    _check_policies(path)
    _check_authority(path[0], options)
    if len(_accepted_paths) >= _PATHS_LIMIT:
        _accepted_paths.clear()
    _accepted_paths[key] = (tuple(path), ids[0])


def _check_policies(path: list[x509.Certificate]) -> None:
    """The authority and every CA below the anchor assert the key attestation policy (no anyPolicy)."""
    for cert in path[:-1]:
        ext = _extension(cert, ExtensionOID.CERTIFICATE_POLICIES)
        oids = {p.policy_identifier for p in ext.value} if ext is not None else set()  # type: ignore[attr-defined]
        if KEY_ATTESTATION_POLICY not in oids:
            raise Rejected(Reason.CERT_POLICY, f"{_describe(cert)!r} does not assert certificate policy "
                                               f"{KEY_ATTESTATION_POLICY.dotted_string}")


def _enrollment_items(value: bytes) -> list[list[bytes]]:
    try:
        items = [der_children(der_content(item)) for item in der_children(der_content(value))]
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"cluster node enrollment policy is not DER: {exc}") from None
    if value[:1] != b"\x30" or any(not item or item[0][:1] != b"\x06" for item in items):
        raise Rejected(Reason.MALFORMED, "cluster node enrollment policy is not a SEQUENCE OF {OID, ANY}")
    return items


def _check_authority(authority: x509.Certificate, options: FortanixOptions) -> None:
    """keyUsage digitalSignature (CERT_KEY_USAGE), the key attestation EKU (CERT_EKU), the enrollment policy."""
    require_key_usage(authority)
    eku = _extension(authority, ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is None or KEY_ATTESTATION_EKU not in eku.value:  # type: ignore[operator]
        raise Rejected(Reason.CERT_EKU, f"the authority lacks extendedKeyUsage {KEY_ATTESTATION_EKU.dotted_string}")
    policy = _extension(authority, ENROLLMENT_POLICY)
    if policy is None:
        raise Rejected(Reason.ATTR_MISSING, "the authority carries no cluster node enrollment policy "
                                            f"({ENROLLMENT_POLICY.dotted_string})")
    items = _enrollment_items(policy.value.value)  # type: ignore[attr-defined]
    if [der_oid(ITEM_MIN_PROTECTION_PROFILE), der_oid(options.protection_profile)] not in items:
        raise Rejected(Reason.CERT_POLICY, "the cluster's minimum protection profile is not "
                                           f"{options.protection_profile}")
    if not any(item[0] == der_oid(ITEM_SITE_OPERATOR_APPROVAL) for item in items):
        raise Rejected(Reason.CERT_POLICY, "the cluster's enrollment policy lacks site-operator approval")


def _check_statement_time(statement: x509.Certificate, at: datetime) -> None:
    if at < statement.not_valid_before_utc:
        raise Rejected(Reason.CERT_NOT_YET_VALID,
                       f"the statement is valid only from {statement.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}")
    if at > statement.not_valid_after_utc:
        raise Rejected(Reason.CERT_EXPIRED, f"the statement expired {statement.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")


def _statement_structure(statement: x509.Certificate) -> tuple[str | None, tuple[str, ...]]:
    """The kid and the unknown extensions; rejects critical extensions other than keyUsage."""
    for ext in statement.extensions:
        if ext.critical and ext.oid != ExtensionOID.KEY_USAGE:
            raise Rejected(Reason.CERT_UNKNOWN_CRITICAL,
                           f"statement extension {ext.oid.dotted_string} is critical; only keyUsage may be")
    subject = subject_and_issuer(statement)[0]
    names = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [STATEMENT_CN]:
        raise Rejected(Reason.MALFORMED, f"statement subject CN is {names!r}, not {STATEMENT_CN!r}")
    kids = subject.get_attributes_for_oid(KEY_ID_OID)
    unknown = tuple(e.oid.dotted_string for e in statement.extensions if e.oid not in _STATEMENT_EXTENSIONS)
    return (str(kids[0].value) if len(kids) == 1 else None), unknown


def _possible_usages(public: CertificatePublicKeyTypes) -> tuple[str, ...]:
    """The keyUsage bits DSM can grant a key of this class; none for a class DSM does not attest."""
    if isinstance(public, rsa.RSAPublicKey):
        return USAGES_BY_KEY_TYPE[KeyType.RSA]
    if isinstance(public, ec.EllipticCurvePublicKey):
        return USAGES_BY_KEY_TYPE[KeyType.EC]
    if isinstance(public, ed25519.Ed25519PublicKey):
        return USAGES_BY_KEY_TYPE[KeyType.EC_EDWARDS]
    return ()


def _check_key_usage(statement: x509.Certificate, key_type: str, possible: tuple[str, ...]) -> tuple[str, ...]:
    """The statement's usages: present, within the DSM allow-list, and possible for the key type."""
    ext = _extension(statement, ExtensionOID.KEY_USAGE)
    if ext is None:
        raise Rejected(Reason.ATTR_MISSING, "the statement has no keyUsage: the key's permissions are unknown")
    ku = ext.value
    usages = tuple(f for f in _KU_FIELDS if getattr(ku, f))
    if ku.key_agreement and (ku.encipher_only or ku.decipher_only):  # type: ignore[attr-defined]
        usages += ("encipher_only/decipher_only",)
    beyond = [u for u in usages if u not in STATEMENT_USAGES]
    if beyond:
        raise Rejected(Reason.CERT_KEY_USAGE, f"statement keyUsage grants {', '.join(beyond)}, "
                                              "which no DSM key permission maps to")
    impossible = [u for u in usages if u not in possible]
    if impossible:
        raise Rejected(Reason.CERT_KEY_USAGE, f"statement keyUsage grants {', '.join(impossible)} "
                                              f"to the {key_type} key")
    return usages


def _claim(statement: x509.Certificate, oid: ObjectIdentifier) -> bool:
    ext = _extension(statement, oid)
    if ext is None:
        return False
    if ext.value.value != CLAIM_VALUE:  # type: ignore[attr-defined]
        raise Rejected(Reason.MALFORMED, f"claim {oid.dotted_string} is not an empty SEQUENCE")
    return True


def _check_binding(spki: bytes, csr: bytes | None, profile: Profile) -> bool:
    """Whether a CSR binds the statement's key; no CSR is acceptable to the structural profile only.

    The response is the whole of DSM's evidence (the vendor's verifier takes no CSR); a CA binding
    the attested key to a request (the strict profile) needs a CSR (two different ones were MALFORMED already).
    """
    if csr is None:
        if profile is Profile.STRICT:
            raise Rejected(Reason.MISSING_INPUT, "no CSR (one .csr) to bind the attested key to")
        return False
    check_csr_binding(spki, csr, "the statement's")
    return True


def _check_layout(chain: list[ReadCertificate], authority: ReadCertificate, path: list[x509.Certificate],
                  trust: TrustAnchors) -> None:
    """authority_chain is exactly [authority, its CA, the trusted root], as DSM emits it.

    The vendor's verifier indexes the array so and compares its last entry with the trusted root.
    """
    anchors = {a.public_bytes(Encoding.DER) for a in trust.get("root")}
    layout = (len(chain) == 3 and chain[0] is authority and len(path) == 3 and chain[1].cert == path[1]
              and chain[2].received.public_bytes(Encoding.DER) in anchors)
    if not layout:
        raise Rejected(Reason.MALFORMED, "authority_chain is not [authority, Key Attestation CA, the trusted root] "
                                         "as DSM emits it (the vendor's verifier requires exactly that)")


def _check_strict(unknown: tuple[str, ...], key_type: str, size: int | None, usages: tuple[str, ...]) -> None:
    if unknown:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown content: {', '.join(unknown)}")
    if key_type != "RSA":
        raise Rejected(Reason.UNSUPPORTED, f"the statement attests a key of type {key_type}: DSM's published "
                                           "statements and the vendor's verifier know RSA statement keys only")
    require_code_signing_key(key_type, size)
    if "digital_signature" not in usages:
        raise Rejected(Reason.KEY_POLICY, "the key may not sign (statement keyUsage lacks digitalSignature)")


def _gather(evidence: Evidence) -> tuple[bytes, bytes | None]:
    """The response and the CSR; files are read by base name, two different files for one of them are MALFORMED
    (:func:`~hsmsim.checks.by_base_name`, :func:`~hsmsim.checks.one_file`)."""
    files = by_base_name(evidence.files)
    responses = [n for n in files if n.lower().endswith(".json")]
    if evidence.primary in files and evidence.primary.lower().endswith(".json"):
        responses = [evidence.primary]
    if not responses:
        raise Rejected(Reason.MISSING_INPUT, "no key attestation response (.json) in the evidence")
    if len(responses) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one response JSON: {sorted(responses)[:4]}")
    return files[responses[0]], one_file(files, [name for name in files if name.lower().endswith(".csr")], "the CSR")


def _notes(read: dict[str, ReadCertificate], bound: bool) -> str:
    """What the verdict's detail adds: a missing CSR, and the certificates read leniently."""
    notes = [] if bound else ["no CSR: the attested key (claims.spki_der) is bound to no request"]
    lenient = [f"{what} {', '.join(cert.non_der)}" for what, cert in read.items() if cert.non_der]
    if lenient:
        notes.append(f"non-DER extension values read as DER, signatures checked over the bytes as received: "
                     f"{'; '.join(lenient)}")
    return "".join(f"; {note}" for note in notes)


def verify_evidence(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile,
                    options: FortanixOptions, limits: JsonLimits) -> Verdict:
    """Check the response against the root at ``at``; never raises on bad evidence.

    Order: bounded JSON and its shape, base64, the certificates (DER, or non-DER extension values
    read leniently), the statement's validity at ``at``, the authority (issuer by name, proven by
    signature), the authority chain to the anchor at ``at`` (or at the statement's notBefore, per
    ``options.chain_time``), SKI/AKI, the key attestation policy, the authority's EKU and
    enrollment policy, the statement's criticality, subject and keyUsage, the claims' encoding,
    CSR binding (when a CSR is given; strict requires one), the claims, then the strict profile's
    layout and key policy.
    """
    try:
        return _verify(evidence, trust, at, profile, options, limits)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)


def _verify(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile,
            options: FortanixOptions, limits: JsonLimits) -> Verdict:
    data, csr = _gather(evidence)
    response = read_response(parse_json(data, limits), limits, profile)
    read = {"statement": read_certificate(response.statement, "statement", repeated=Reason.ATTR_CONFLICT)}
    read.update({f"authority_chain[{i}]": read_chain_certificate(der, f"authority_chain[{i}]")
                 for i, der in enumerate(response.chain)})
    statement, *chain = read.values()
    _check_statement_time(statement.cert, at)
    when = at if options.chain_time == "verifier" else statement.cert.not_valid_before_utc
    authority, path = _find_authority(statement, chain, trust, when, options)
    kid, unknown_extensions = _statement_structure(statement.cert)
    public = statement.cert.public_key()
    key_type, size = key_facts(public)
    usages = _check_key_usage(statement.cert, key_type, _possible_usages(public))
    generated = _claim(statement.cert, CLAIM_GENERATED)
    never_exportable = _claim(statement.cert, CLAIM_NEVER_EXPORTABLE)
    spki = spki_der(public)
    bound = _check_binding(spki, csr, profile)
    if not generated:
        raise Rejected(Reason.ATTR_NOT_LOCAL, "no 'generated in DSM' claim (1.3.6.1.4.1.49690.2.4.1.1)")
    if not never_exportable:
        raise Rejected(Reason.ATTR_NOT_NEVER_EXTRACTABLE,
                       "no 'never exportable' claim (1.3.6.1.4.1.49690.2.4.1.2)")
    if profile is Profile.STRICT:
        _check_layout(chain, authority, path, trust)
        _check_strict(response.unknown + unknown_extensions, key_type, size, usages)
    claims = Claims(
        spki_der=spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
        never_extractable=True, sensitive=None, always_sensitive=None, vendor="Fortanix",
        model="DSM SaaS", label=kid,
    )
    profile_name = PROFILE_NAMES.get(options.protection_profile, options.protection_profile)
    detail = (f"attested by {_describe(authority.cert)}; keyUsage {', '.join(usages)}; "
              f"cluster minimum protection profile {profile_name}{_notes(read, bound)}")
    return Verdict(Reason.OK, detail, claims)
