"""The Purebred reference verifier: request (or pre-enrollment container) + target certificate -> Verdict.

Checks, in order (each raises :class:`Rejected` at the first failure):

1. the primary file is a PKCS#10 request, a certs-only SignedData holding an Android chain (Android
   pre-enrollment) or a CMC request (Windows pre-enrollment) (MALFORMED);
2. a request: its self-signature verifies (CSR_SIGNATURE_INVALID); it carries exactly one Purebred
   evidence attribute (none: ATTR_MISSING; two, or one with two values: ATTR_CONFLICT; an unknown kind
   under the arc: UNSUPPORTED) with exactly one value, wrapped as the real requests wrap it (MALFORMED);
3. a certs-only SignedData carries id-data (MALFORMED) and certificates (MISSING_INPUT); strict: no
   signerInfos, no eContent (UNEXPECTED_CONTENT);
4. the evidence verifies under its own format, reached through the registry: ``android-key`` (the bag
   ordered leaf to root, with the ``.challenge`` and status list given beside the request),
   ``yubico-piv`` (the ykman pair and the request) or ``ms-kast`` (the CMC request, with the CA's
   ``.ca-exchange.p8`` and ``.aik-ca.pem`` given beside the request); that format's
   rejection is this verdict's (a format not installed: UNSUPPORTED);
5. Windows, when ``ms-kast`` could not recover the AIK (claim ``tpm_signature_checked`` false): ``ms-kast`` itself
   requires the CMC request to carry an AIK CA certificate chaining to a trust anchor of role ``root``
   (``check_aik_ca`` in the ``tpm`` family), so its acceptance already says so;
6. the attested key is the request's key and the target certificate's, when one is given (KEY_MISMATCH);
   strict: a pre-enrollment container needs its target certificate (MISSING_INPUT).

The accepting verdict carries the inner format's claims.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from hsmsim.checks import by_base_name, check_csr_signature, one_csr_check
from hsmsim.encoding import pem, spki_der
from hsmsim.errors import UnsupportedFormatError
from hsmsim.formats import get_format
from hsmsim.formats.purebred.envelope import (
    ANDROID,
    ID_CCT_PKI_DATA,
    ID_DATA,
    KINDS_BY_OID,
    WINDOWS,
    YUBIKEY,
    Kind,
    SignedData,
    read_request,
    read_signed_data,
    unwrap,
)
from hsmsim.formats.purebred.layout import (
    ANDROID_KEY_DESCRIPTION,
    MAX_REQUEST_BYTES,
    PUREBRED_ARC,
    SIBLING_SUFFIXES,
    STATUS_FILE,
    basename,
    is_target_name,
    request_der,
)
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import CERT_PARSE_ERRORS, NameKey, certificates_shared, fully_parsed, name_keys
from hsmsim.verdict import Profile, Reason, Rejected, Verdict

MAX_CERTS = 16
_KEY_DESCRIPTION_OID = x509.ObjectIdentifier(ANDROID_KEY_DESCRIPTION)


@dataclass(frozen=True)
class Envelope:
    """What the primary file holds: the evidence kind, its ContentInfo and the request (None when pre-enrolling)."""

    kind: Kind
    content: bytes
    request: bytes | None
    request_spki: bytes | None
    signed: SignedData | None = None
    """The SignedData of ``content`` when reading the envelope has already opened it (an Android pre-enrollment
    container)."""


def _from_request(der: bytes) -> Envelope:
    request = read_request(der)
    check_csr_signature(der)
    found = [(oid, values) for oid, values in request.attributes if oid.startswith(f"{PUREBRED_ARC}.")]
    unknown = sorted({oid for oid, _values in found if oid not in KINDS_BY_OID})
    if unknown:
        raise Rejected(Reason.UNSUPPORTED, f"unknown Purebred evidence attribute {unknown[0]}")
    if not found:
        raise Rejected(Reason.ATTR_MISSING, f"the request carries no Purebred evidence attribute ({PUREBRED_ARC}.2, "
                                            ".3 or .4)")
    if len(found) > 1:
        raise Rejected(Reason.ATTR_CONFLICT, f"{len(found)} Purebred evidence attributes "
                                             f"({', '.join(oid for oid, _v in found)}): exactly one")
    oid, values = found[0]
    kind = KINDS_BY_OID[oid]
    if len(values) != 1:
        raise Rejected(Reason.ATTR_CONFLICT if values else Reason.MALFORMED,
                       f"the {kind.name} attribute holds {len(values)} values (exactly one)")
    try:
        content = unwrap(kind, values[0])
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, str(exc)) from None
    return Envelope(kind, content, der, request.spki)


def read_envelope(data: bytes) -> Envelope:
    """The evidence kind and ContentInfo of a request or pre-enrollment container (checks 1-2)."""
    if len(data) > MAX_REQUEST_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        der = request_der(data)
        try:
            signed = read_signed_data(der)
        except ValueError:
            return _from_request(der)
    except ValueError as exc:
        raise Rejected(Reason.MALFORMED, f"neither a Purebred request nor a pre-enrollment container: {exc}") from None
    if signed.content_type == ID_CCT_PKI_DATA:
        return Envelope(WINDOWS, der, None, None)
    return Envelope(ANDROID, der, None, None, signed)


def _certificates(envelope: Envelope, profile: Profile) -> tuple[tuple[bytes, ...], list[x509.Certificate]]:
    """Check 3: the certificates of a certs-only SignedData, as received (DER) and loaded."""
    kind, signed = envelope.kind, envelope.signed
    if signed is None:
        try:
            signed = read_signed_data(envelope.content)
        except ValueError as exc:
            raise Rejected(Reason.MALFORMED, f"the {kind.name} ContentInfo: {exc}") from None
    if signed.content_type != ID_DATA:
        raise Rejected(Reason.MALFORMED, f"the {kind.name} SignedData carries {signed.content_type}, not a certs-only "
                                         "bag (id-data)")
    if not signed.certificates:
        raise Rejected(Reason.MISSING_INPUT, f"the {kind.name} SignedData carries no certificate")
    if len(signed.certificates) > MAX_CERTS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the {kind.name} SignedData carries more than {MAX_CERTS} certificates")
    if profile is Profile.STRICT and (signed.signer_infos or signed.has_content):
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"the {kind.name} SignedData is not certs-only (signerInfos or "
                                                  "eContent)")
    certs = []
    for index, der in enumerate(signed.certificates):
        if der[:1] != b"\x30":
            raise Rejected(Reason.UNSUPPORTED, f"certificate {index} of the {kind.name} SignedData is not an X.509 "
                                               "certificate choice")
        try:
            certs.append(fully_parsed(x509.load_der_x509_certificate(der)))  # names are read (leaf_first) at once
        except CERT_PARSE_ERRORS as exc:
            raise Rejected(Reason.MALFORMED, f"certificate {index} does not parse: {str(exc)[:100]}") from None
    return signed.certificates, certs


def leaf_first(certs: list[x509.Certificate]) -> list[int]:
    """The positions of the bag's certificates (a SET OF: no order) as a chain: the one certificate no other
    entry names as issuer, then its issuers by name, then whatever is left (a certificate equal to one
    already placed is left out); MALFORMED when no single certificate is the leaf. Entries count by position:
    a certificate listed twice names itself as issuer if it is self-issued."""
    # Names looked up by name_key (equal exactly when the Names are), not compared pair by pair.
    names = [name_keys(c) for c in certs]
    naming = Counter(issuer for _subject, issuer in names)
    leaves = [i for i, (subject, issuer) in enumerate(names) if naming[subject] - (issuer == subject) == 0]
    if len(leaves) != 1:
        raise Rejected(Reason.MALFORMED, f"cannot tell the attested certificate: {len(leaves)} certificates issue "
                                         "no other one")
    by_subject: dict[NameKey, list[int]] = {}
    for index, (subject, _issuer) in enumerate(names):
        by_subject.setdefault(subject, []).append(index)
    order, chain = [leaves[0]], [certs[leaves[0]]]
    current: int | None = leaves[0]
    while current is not None:
        current = next((i for i in by_subject.get(names[current][1], ()) if certs[i] not in chain), None)
        if current is not None:
            order.append(current)
            chain.append(certs[current])
    return order + [i for i, c in enumerate(certs) if c not in chain]


def _siblings(files: Mapping[str, bytes], suffix: str) -> dict[str, bytes]:
    """The ``suffix`` files by base name; two different files of one base name are MALFORMED
    (:func:`~hsmsim.checks.by_base_name`)."""
    return by_base_name({rel: data for rel, data in files.items() if basename(rel).endswith(suffix)})


def _beside(kind: Kind, files: Mapping[str, bytes], stem: str) -> dict[str, bytes]:
    """The files the inner format reads beside its evidence, renamed to ``stem``: at most one per suffix."""
    found: dict[str, bytes] = {}
    for suffix in SIBLING_SUFFIXES[kind.name]:
        named = _siblings(files, suffix)
        if len(named) > 1:
            raise Rejected(Reason.MALFORMED, f"more than one {suffix} file: {sorted(named)}")
        found.update({suffix if suffix == STATUS_FILE else f"{stem}{suffix}": data for data in named.values()})
    return found


def inner_evidence(envelope: Envelope, files: Mapping[str, bytes],
                   profile: Profile) -> tuple[Evidence, dict[bytes, x509.Certificate]]:
    """The evidence the inner format reads, made from the ContentInfo and the files given beside the request, and
    the certificates it carries that this check has loaded and fully parsed, by their DER."""
    kind = envelope.kind
    if kind is WINDOWS:
        return Evidence(kind.inner_format, {"request.cmc": envelope.content, **_beside(kind, files, "request")},
                        "request.cmc"), {}
    ders, certs = _certificates(envelope, profile)
    loaded = dict(zip(ders, certs, strict=True))
    # PEM of each DER as received: the bytes cert_pem would write of the loaded certificate, not re-encoded.
    chain = [pem(ders[i]) for i in leaf_first(certs)]
    if kind is ANDROID:
        inner = {"attested.pem": b"".join(chain), **_beside(kind, files, "attested")}
        return Evidence(kind.inner_format, inner, "attested.pem"), loaded
    assert kind is YUBIKEY
    if len(chain) < 2:
        raise Rejected(Reason.CHAIN_INCOMPLETE, "the YubiKey SignedData holds the attestation certificate without "
                                                "its f9 certificate")
    inner = {"slot.attestation.pem": chain[0], "slot.f9.pem": b"".join(chain[1:])}
    if envelope.request is not None:
        inner["slot.csr"] = envelope.request
    return Evidence(kind.inner_format, inner, "slot.attestation.pem"), loaded


def read_target(files: Mapping[str, bytes]) -> x509.Certificate | None:
    """The target certificate given beside the request (PEM or DER), if one is."""
    targets = [rel for rel in files if is_target_name(rel)]
    if len(targets) > 1:
        raise Rejected(Reason.MALFORMED, f"{len(targets)} target certificates: which one was issued is ambiguous")
    if not targets:
        return None
    data = files[targets[0]]
    try:
        return fully_parsed(x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----BEGIN")
                            else x509.load_der_x509_certificate(data))
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"the target certificate {targets[0]} does not parse: {str(exc)[:100]}") \
            from None


def check(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """Every check of the profile (module notes); raises :class:`Rejected`."""
    files = evidence.files
    if evidence.primary not in files:
        raise Rejected(Reason.MISSING_INPUT, f"the request {evidence.primary} is missing")
    envelope = read_envelope(files[evidence.primary])
    target = read_target(files)
    inner, loaded = inner_evidence(envelope, files, profile)
    try:
        fmt = get_format(envelope.kind.inner_format)
    except UnsupportedFormatError:
        raise Rejected(Reason.UNSUPPORTED, f"{envelope.kind.inner_format} format not available") from None
    with certificates_shared(loaded):  # the inner format's reader parses none of them again
        verdict = fmt.verify(inner, trust, at=at, profile=profile)
    if not verdict.accepted:
        raise Rejected(verdict.reason, f"{envelope.kind.inner_format}: {verdict.detail}")
    attested = verdict.claims.spki_der if verdict.claims is not None else None
    if envelope.request_spki is not None and attested != envelope.request_spki:
        raise Rejected(Reason.KEY_MISMATCH, f"the {envelope.kind.name} evidence attests another key than the "
                                            "request's")
    if target is not None and spki_der(target.public_key()) != (envelope.request_spki or attested):
        raise Rejected(Reason.KEY_MISMATCH, "the target certificate certifies another key than the attested one")
    if target is None and envelope.request is None and profile is Profile.STRICT:
        raise Rejected(Reason.MISSING_INPUT, "a pre-enrollment container binds no key without its target certificate")
    container = "request" if envelope.request is not None else "pre-enrollment container"
    bound = "request and target" if target is not None and envelope.request is not None else (
        "target" if target is not None else "request" if envelope.request is not None else "nothing beside it")
    detail = (f"{envelope.kind.name} {container}; key bound to the {bound}; "
              f"{envelope.kind.inner_format}: {verdict.detail}")
    return Verdict(Reason.OK, detail, verdict.claims)


def verify(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
           profile: Profile = Profile.STRUCTURAL) -> Verdict:
    """The reference verifier of ``purebred``; never raises on bad evidence."""
    try:
        with one_csr_check():
            return check(evidence, trust, at or datetime.now(UTC), Profile(profile))
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
