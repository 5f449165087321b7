"""The YubiKey PIV reference verifier: evidence + pinned roots + time + profile → Verdict.

What it checks (``shared/specs/other_formats.md`` 2.3, ``round2_formats.md`` 2.3), in order:

1. the evidence's layout: the ykman pair, Sectigo's package, step-ca's ``attObj`` record, or a PKCS#10
   request carrying the Purebred attribute ``1.3.6.1.4.1.37623.26.4`` (the real YubiKey 4.3.3 samples);
2. the attested certificate is the slot certificate (``x5c[0]``, the package's first certificate), valid at
   the time and without critical extensions; it is **signed by the f9 key** — not merely accompanied by a
   good f9 (go-ykpiv #30);
3. the path from the slot certificate through the f9 reaches a pinned root through the intermediates the
   evidence carries (the 2024 PKI needs every one; nothing is fetched). It starts at the slot certificate, so
   the f9 is counted below its issuers: a slot certificate passed off as the f9 (another slot's key signing)
   fails on the real f9's pathlen 0 or missing basicConstraints. The f9, the device's attestation key, issues
   by position: firmware 5.4 and later write basicConstraints CA pathlen 0 on it, YubiKey 4 and 5.2 firmware
   none (a CA by position, as go-ykpiv marks it; strict: not a CA); one that says ``CA:FALSE``, or has a
   keyUsage without keyCertSign, is not. The root's own pathlen is not applied (RFC 5280 6.1);
4. the slot certificate names its slot, and carries firmware, serial and policy
   with their exact encodings (3.7 a DER INTEGER, 3.3 raw bytes); the f9's firmware agrees;
5. the CSR asks to certify the attested key; the serial, slot and policies meet the request (a policy
   of 0 is resolved to the slot's default first); step: the order's permanent-identifier is the serial
   and the slot key signed the key authorization;
6. strict: a CSR is required, CA/B Forum code-signing keys, no unknown slot-certificate extensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtensionOID

from hsmsim.checks import by_base_name, check_csr_binding, one_file, one_name, require_code_signing_key
from hsmsim.encoding import der_children, der_content, der_oid, key_facts, parse_json, spki_der
from hsmsim.formats.yubico.extensions import (
    FORM_FACTORS,
    PIV_OIDS,
    ExtensionMap,
    PinPolicy,
    PivExtensions,
    TouchPolicy,
    extensions_by_oid,
    firmware_text,
    read_piv_extensions,
    resolved_pin,
    resolved_touch,
)
from hsmsim.formats.yubico.layout import INTERMEDIATES_FILE, REQUEST_SUFFIX, ROOT_FILES, SECTIGO_SUFFIX, STEP_SUFFIX
from hsmsim.formats.yubico.piv import COSE_EDDSA, COSE_ES256, COSE_RS256, AcmeChallenge
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import (
    CERT_PARSE_ERRORS,
    ChainPolicy,
    fully_parsed,
    name_keys,
    shared_pem_certificates,
    subject_and_issuer,
    subject_text,
    validate_chain,
)
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.container import from_b64url

PUREBRED_ATTRIBUTE = "1.3.6.1.4.1.37623.26.4"
MAX_FILE = 256 * 1024
MAX_CERTS = 8
_SLOT_PREFIX = "YubiKey PIV Attestation "
_PATH_POLICY = ChainPolicy(leaf_issuer_by_position=True, anchor_path_length=False)
"""The f9 signs the slot certificates by position (the YubiKey 4 and 5.2 f9s lack basicConstraints: _check_f9_role
judges it per profile); the root's own pathLenConstraint is not applied (RFC 5280 6.1), as the 2016 issue of the
legacy root says pathlen 0 above the f9."""
_COMMON_NAME = x509.NameOID.COMMON_NAME


@dataclass
class PivInputs:
    """The evidence read into its parts: which layout, the certificates, CSR, request, step record."""

    layout: str
    certs: list[x509.Certificate]
    """As carried: the attested certificate first where the layout fixes it (package, x5c)."""
    csr: bytes | None
    request: dict[str, object] | None
    step: dict[str, object] | None = None
    root_copies: list[x509.Certificate] = field(default_factory=list)
    """The root copy the bundle carries beside the chain (``piv-attestation-ca.pem`` / ``yubico-ca-1.pem``)."""


def load_certs(data: bytes, what: str) -> list[x509.Certificate]:
    certs = shared_pem_certificates(data)
    if certs is None:
        try:
            certs = (x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                     else [x509.load_der_x509_certificate(data)])
            for cert in certs:
                fully_parsed(cert)
        except CERT_PARSE_ERRORS as exc:
            raise Rejected(Reason.MALFORMED, f"{what} does not parse as certificates: {str(exc)[:100]}") from None
    if len(certs) > MAX_CERTS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} holds more than {MAX_CERTS} certificates")
    return certs


def json_object(data: bytes, what: str) -> dict[str, object]:
    if len(data) > MAX_FILE:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what} is larger than {MAX_FILE} bytes")
    try:
        doc = parse_json(data)
    except ValueError:
        raise Rejected(Reason.MALFORMED, f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise Rejected(Reason.MALFORMED, f"{what} is not a JSON object")
    return doc


def purebred_certificates(csr_der: bytes) -> list[bytes] | None:
    """The certificates of the Purebred attribute's PKCS#7, or None when the request carries none.

    CertificationRequest = SEQUENCE {info SEQUENCE {version, subject, spki, [0] attributes}, ...};
    the attribute's one value is a ContentInfo whose SignedData holds the certificates in ``[0]``.
    """
    try:
        info = der_children(der_content(csr_der))[0]
        attributes = [c for c in der_children(der_content(info)) if c[:1] == b"\xa0"]
        for attribute in der_children(der_content(attributes[0])) if attributes else []:
            oid, values = der_children(der_content(attribute))
            if oid != der_oid(PUREBRED_ATTRIBUTE):
                continue
            content_info = der_children(der_content(values))[0]
            signed = der_content(der_children(der_content(content_info))[1])
            fields = der_children(der_content(der_children(signed)[0]))
            bag = next(f for f in fields if f[:1] == b"\xa0")
            return der_children(der_content(bag))
    except (ValueError, IndexError, StopIteration):
        raise Rejected(Reason.MALFORMED, "the request's attestation attribute does not parse") from None
    return None


def bundle_files(evidence: Evidence) -> dict[str, bytes]:
    """The evidence's files by base name, each at most :data:`MAX_FILE` bytes (LIMIT_EXCEEDED); two different files
    of one base name are MALFORMED (:func:`~hsmsim.checks.by_base_name`)."""
    for rel, data in evidence.files.items():
        if len(data) > MAX_FILE:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_FILE} bytes")
    return by_base_name(evidence.files)


def gather(evidence: Evidence) -> PivInputs:
    """Read the evidence's layout (MISSING_INPUT when none is recognised) and the root copy it carries."""
    files = bundle_files(evidence)
    inputs = _gather_layout(files)
    inputs.root_copies = [c for rel, data in files.items() if rel.endswith(tuple(ROOT_FILES.values()))
                          for c in load_certs(data, rel)]
    return inputs


def _gather_layout(files: dict[str, bytes]) -> PivInputs:
    csr = one_file(files, [n for n in files if n.endswith(".csr")], "the CSR")
    request_data = one_file(files, [n for n in files if n.endswith(REQUEST_SUFFIX)], f"the request ({REQUEST_SUFFIX})")
    request = json_object(request_data, "the request") if request_data is not None else None
    step = one_name(files, [n for n in files if n.endswith(STEP_SUFFIX)], f"the step record ({STEP_SUFFIX})")
    if step is not None:
        return PivInputs("step", [], csr, request, json_object(files[step], step))
    package = one_name(files, [n for n in files if n.endswith(SECTIGO_SUFFIX)],
                       f"the Sectigo package ({SECTIGO_SUFFIX})")
    if package is not None:
        return PivInputs("sectigo", load_certs(files[package], package), csr, request)
    attestation = one_name(files, [n for n in files if n.endswith(".attestation.pem")],
                           "the attestation certificate (.attestation.pem)")
    if attestation is not None:
        certs = load_certs(files[attestation], attestation)
        if len(certs) != 1:
            raise Rejected(Reason.MALFORMED, f"{attestation} holds {len(certs)} certificates, not one")
        for suffix in (".f9.pem", INTERMEDIATES_FILE):
            for rel in (n for n in files if n.endswith(suffix)):
                certs += load_certs(files[rel], rel)
        return PivInputs("ykman", certs, csr, request)
    for rel, data in files.items():
        if rel.endswith((".bin", ".der", ".p10", ".csr")):
            der = data if not data.startswith(b"-----BEGIN") else None
            carried = purebred_certificates(der) if der is not None else None
            if carried is not None:
                certs = [c for blob in carried for c in load_certs(blob, rel)]
                return PivInputs("purebred", certs, der, request)
    raise Rejected(Reason.MISSING_INPUT, "no YubiKey attestation (ykman pair, Sectigo package, step record, "
                                         "or a request carrying 1.3.6.1.4.1.37623.26.4)")


@dataclass(frozen=True)
class StepStatement:
    """A decoded step ``attObj``: the algorithm, the signature and the certificates."""

    alg: int
    sig: bytes
    x5c: list[bytes]
    identifier: str
    challenge: AcmeChallenge


def read_step(record: dict[str, object]) -> StepStatement:
    """The step record's parts (MALFORMED, UNSUPPORTED, LIMIT_EXCEEDED)."""
    identifier, challenge, payload = record.get("identifier"), record.get("challenge"), record.get("payload")
    if not (isinstance(identifier, dict) and isinstance(challenge, dict) and isinstance(payload, dict)):
        raise Rejected(Reason.MALFORMED, "the step record lacks identifier, challenge or payload")
    if identifier.get("type") != "permanent-identifier" or not isinstance(identifier.get("value"), str):
        raise Rejected(Reason.UNSUPPORTED, "the order's identifier is not a permanent-identifier")
    token = challenge.get("token")
    if not isinstance(token, str):
        raise Rejected(Reason.MALFORMED, "challenge.token is not a string")
    thumbprint = from_b64url(record.get("accountKeyThumbprint"), "accountKeyThumbprint")
    raw = from_b64url(payload.get("attObj"), "payload.attObj")
    try:
        obj = cbor2.loads(raw)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError, MemoryError):
        raise Rejected(Reason.MALFORMED, "attObj is not CBOR") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("attStmt"), dict):
        raise Rejected(Reason.MALFORMED, "attObj is not a map with an attStmt map")
    if obj.get("fmt") != "step":
        raise Rejected(Reason.UNSUPPORTED, f"attObj fmt {str(obj.get('fmt'))[:20]!r} is not 'step'")
    statement = obj["attStmt"]
    alg, sig, x5c = statement.get("alg"), statement.get("sig"), statement.get("x5c")
    if not isinstance(alg, int) or not isinstance(sig, bytes) or not isinstance(x5c, list) or not x5c:
        raise Rejected(Reason.MALFORMED, "attStmt needs an int alg, a byte-string sig and a non-empty x5c")
    if len(x5c) > MAX_CERTS or not all(isinstance(c, bytes) for c in x5c):
        raise Rejected(Reason.MALFORMED, "x5c is not a short list of byte strings")
    try:
        inner = cbor2.loads(sig)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError):
        inner = None
    if not isinstance(inner, bytes):
        raise Rejected(Reason.MALFORMED, "sig is not a CBOR-encoded byte string (step-ca unmarshals it)")
    return StepStatement(alg, inner, x5c, identifier["value"], AcmeChallenge(token, thumbprint))


def split_roles(inputs: PivInputs) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The attested certificate and the rest: the first certificate where the layout fixes the order (Sectigo
    puts the attestation first, step's x5c[0] is the leaf), else the one no other certificate names as issuer."""
    certs = inputs.certs
    if not certs:
        raise Rejected(Reason.MISSING_INPUT, "no certificate in the evidence")
    names = [name_keys(c) for c in certs]  # compared as Name.__eq__ compares, in C
    if inputs.layout in ("sectigo", "step", "ykman"):
        leaf = certs[0]
        if any(issuer == names[0][0] for _subject, issuer in names[1:]):
            raise Rejected(Reason.MALFORMED, f"the first certificate ({leaf.subject.rfc4514_string()!r}) issues "
                                             "another one: the attestation certificate must come first")
    else:
        leaves = [c for i, c in enumerate(certs)
                  if not any(names[o][1] == names[i][0] for o in range(len(certs)) if o != i)]
        if len(leaves) != 1:
            raise Rejected(Reason.MALFORMED, "cannot tell the attestation certificate from the chain")
        leaf = leaves[0]
    return leaf, [c for c in certs if c is not leaf]


def _check_f9_role(f9_extensions: ExtensionMap, profile: Profile) -> None:
    """CERT_NOT_CA for an f9 that says CA:FALSE or lacks keyCertSign, and under strict for one without
    basicConstraints (a non-CA by RFC 5280 6.1.4(k); openssl verify error 79)."""
    # cryptography parses each of these OIDs into its one class
    bc = f9_extensions.get(ExtensionOID.BASIC_CONSTRAINTS)
    if bc is not None:
        if not cast(x509.BasicConstraints, bc.value).ca:
            raise Rejected(Reason.CERT_NOT_CA, "the f9 certificate says basicConstraints CA:FALSE")
    elif profile is Profile.STRICT:
        # the YubiKey 4 and 5.2 factory f9s lack basicConstraints: structural takes them as a CA by position
        raise Rejected(Reason.CERT_NOT_CA, "the f9 certificate has no basicConstraints (RFC 5280 6.1.4(k): "
                                           "not a CA; real YubiKey 4 and 5.2 f9s)")
    ku = f9_extensions.get(ExtensionOID.KEY_USAGE)
    if ku is not None and not cast(x509.KeyUsage, ku.value).key_cert_sign:
        raise Rejected(Reason.CERT_NOT_CA, "the f9 certificate's keyUsage lacks keyCertSign")


def _check_time(cert: x509.Certificate, at: datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise Rejected(Reason.CERT_NOT_YET_VALID, f"{what} is valid only from {cert.not_valid_before_utc:%Y-%m-%d}")
    if at > cert.not_valid_after_utc:
        raise Rejected(Reason.CERT_EXPIRED, f"{what} expired {cert.not_valid_after_utc:%Y-%m-%d}")


def common_names(name: x509.Name) -> list[str]:
    """The text of each CN attribute of ``name``, in the order ``name.get_attributes_for_oid`` lists them."""
    return [str(attribute.value) for rdn in name.rdns for attribute in rdn if attribute.oid == _COMMON_NAME]


def _slot(attestation: x509.Certificate) -> str:
    names = common_names(attestation.subject)
    if len(names) != 1 or not names[0].startswith(_SLOT_PREFIX) or len(names[0]) != len(_SLOT_PREFIX) + 2:
        raise Rejected(Reason.CERT_PROFILE, f"attestation subject {names!r} is not 'YubiKey PIV Attestation <slot>'")
    return names[0][-2:].lower()


def _check_step(statement: StepStatement, attestation: x509.Certificate, serial: int) -> None:
    if statement.identifier != str(serial):
        raise Rejected(Reason.ATTR_CONFLICT, f"the order's permanent-identifier {statement.identifier[:24]!r} is not "
                                             f"the attested serial {serial}")
    public = attestation.public_key()
    message = statement.challenge.key_authorization
    expected = {COSE_ES256: ec.EllipticCurvePublicKey, COSE_RS256: rsa.RSAPublicKey,
                COSE_EDDSA: ed25519.Ed25519PublicKey}.get(statement.alg)
    if expected is None or not isinstance(public, expected):
        raise Rejected(Reason.UNSUPPORTED, f"alg {statement.alg} does not fit the attested {type(public).__name__}")
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            if public.curve.name != "secp256r1":
                raise Rejected(Reason.UNSUPPORTED, "step-ca verifies EC step statements on P-256 only")
            public.verify(statement.sig, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(statement.sig, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(public, ed25519.Ed25519PublicKey)
            public.verify(statement.sig, message)
    except (InvalidSignature, ValueError):
        raise Rejected(Reason.SIGNATURE_INVALID, "the slot key's signature over the key authorization does not "
                                                 "verify") from None


_POLICY_NAMES: dict[type[PinPolicy] | type[TouchPolicy], dict[str, PinPolicy | TouchPolicy]] = {
    kind: {member.name.lower().replace("_", "-"): member for member in kind} for kind in (PinPolicy, TouchPolicy)}
"""Each policy member by its ykman name (``match-once``)."""


def _policy_name(value: object, kind: type[PinPolicy] | type[TouchPolicy]) -> PinPolicy | TouchPolicy | None:
    if value is None:
        return None
    member = _POLICY_NAMES[kind].get(value) if isinstance(value, str) else None
    if member is None:
        raise Rejected(Reason.MALFORMED, f"the request's policy {str(value)[:20]!r} is not a {kind.__name__}")
    return member


def _check_request(request: dict[str, object], facts: PivExtensions, slot: str, serial: int) -> None:
    wanted_serial = request.get("serial")
    if wanted_serial is not None and wanted_serial != serial:
        raise Rejected(Reason.ATTR_CONFLICT, f"the key is on YubiKey {serial}, the request names {wanted_serial}")
    wanted_slot = request.get("slot")
    if wanted_slot is not None and wanted_slot != slot:
        raise Rejected(Reason.ATTR_CONFLICT, f"the key is in slot {slot}, the request names {str(wanted_slot)[:8]}")
    pin = resolved_pin(facts.pin or PinPolicy.DEFAULT, slot)
    touch = resolved_touch(facts.touch or TouchPolicy.DEFAULT)
    wanted_pin = _policy_name(request.get("pinPolicy"), PinPolicy)
    if isinstance(wanted_pin, PinPolicy) and pin.strength < wanted_pin.strength:
        raise Rejected(Reason.ATTR_ACCESS_POLICY, f"PIN policy {pin.name.lower()} is weaker than the requested "
                                                  f"{wanted_pin.name.lower()}")
    wanted_touch = _policy_name(request.get("touchPolicy"), TouchPolicy)
    if isinstance(wanted_touch, TouchPolicy) and touch.strength < wanted_touch.strength:
        raise Rejected(Reason.ATTR_ACCESS_POLICY, f"touch policy {touch.name.lower()} is weaker than the requested "
                                                  f"{wanted_touch.name.lower()}")


def fips_level(firmware: tuple[int, int, int]) -> str:
    """The validation a FIPS-series YubiKey of this firmware holds: 140-3 from 5.7, 140-2 before."""
    return "FIPS 140-3 Level 2" if firmware >= (5, 7, 0) else "FIPS 140-2 Level 2"


def verify_piv(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """Check YubiKey PIV evidence against the pinned roots at ``at``; never raises on bad evidence."""
    try:
        return _verify(evidence, trust, at, profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)


def _verify(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    inputs = gather(evidence)
    statement = None
    if inputs.layout == "step":
        assert inputs.step is not None
        statement = read_step(inputs.step)
        inputs.certs = [c for i, der in enumerate(statement.x5c) for c in load_certs(der, f"x5c[{i}]")]
    attestation, others = split_roles(inputs)
    _check_time(attestation, at, "the attestation certificate")
    extensions = extensions_by_oid(attestation)
    for oid, ext in extensions.items():
        if ext.critical:
            raise Rejected(Reason.CERT_UNKNOWN_CRITICAL, f"attestation extension {oid.dotted_string} is critical")
    # The bundle's root copy is part of the bundle, so a wrong root ends the path at that self-signed copy
    # (CHAIN_UNTRUSTED) rather than at a missing issuer. The trust store's certificate of a name supersedes a copy
    # of that name that is another certificate: a lookalike anchor fails on its signature (CERT_SIGNATURE_INVALID).
    anchors = trust.all()
    intermediates = others + without_superseded_roots(inputs.root_copies, anchors)
    # The path starts at the attestation certificate, so the f9 is counted below its issuers: a slot certificate
    # passed off as the f9 puts the real f9 (pathlen 0, or no basicConstraints) above an issuing certificate.
    try:
        path = validate_chain(attestation, intermediates, anchors, at, _PATH_POLICY)
    except Rejected as rejection:
        raise Rejected(rejection.reason, f"attestation chain: {rejection.detail}") from None
    if len(path) < 2:
        raise Rejected(Reason.CHAIN_INCOMPLETE, "the attestation certificate is itself a trust anchor: no f9 issued it")
    f9_extensions = extensions_by_oid(path[1])
    _check_f9_role(f9_extensions, profile)
    slot = _slot(attestation)
    facts = read_piv_extensions(extensions, "the attestation certificate")
    device = read_piv_extensions(f9_extensions, "the f9 certificate")
    if facts.firmware is None or facts.serial is None or facts.pin is None or facts.touch is None:
        raise Rejected(Reason.ATTR_MISSING, "the attestation certificate lacks its firmware (3.3), serial (3.7) "
                                            "or PIN/touch policy (3.8)")
    if device.firmware is not None and device.firmware != facts.firmware:
        raise Rejected(Reason.ATTR_CONFLICT, f"f9 firmware {firmware_text(device.firmware)} differs from the "
                                             f"attestation's {firmware_text(facts.firmware)}")
    public_key = attestation.public_key()
    spki = spki_der(public_key)
    if inputs.csr is not None:
        check_csr_binding(spki, inputs.csr, "the attested key")
    elif profile is Profile.STRICT:
        raise Rejected(Reason.MISSING_INPUT, "no CSR (one .csr) to bind the attested key to")
    if statement is not None:
        _check_step(statement, attestation, facts.serial)
    if inputs.request is not None:
        _check_request(inputs.request, facts, slot, facts.serial)
    key_type, size = key_facts(public_key)
    if profile is Profile.STRICT:
        unknown = [oid.dotted_string for oid in extensions if oid not in PIV_OIDS]
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown attestation extensions: {', '.join(unknown)}")
        require_code_signing_key(key_type, size)
    fips = facts.fips or device.fips
    form = FORM_FACTORS.get(facts.form_factor, "form factor not stated") if facts.form_factor is not None \
        else "form factor not stated"
    series = "FIPS Series" if fips else "CSPN Series" if (facts.cspn or device.cspn) else "Series"
    claims = Claims(
        spki_der=spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
        never_extractable=True, sensitive=None, always_sensitive=None, vendor="Yubico",
        model=f"YubiKey {facts.firmware[0]} {series}, {form}", serial=str(facts.serial),
        firmware=firmware_text(facts.firmware), fips_level=fips_level(facts.firmware) if fips else None, label=slot)
    pin = resolved_pin(facts.pin, slot).name.lower()
    touch = resolved_touch(facts.touch).name.lower()
    detail = (f"slot {slot} of YubiKey {facts.serial} (firmware {claims.firmware}, {form}); PIN policy {pin}, "
              f"touch policy {touch}; chain {' <- '.join(_cn(c) for c in path)} ({inputs.layout})")
    return Verdict(Reason.OK, detail, claims)


def _cn(cert: x509.Certificate) -> str:
    names = common_names(subject_and_issuer(cert)[0])
    return names[0] if names else subject_text(cert)


def without_superseded_roots(certs: list[x509.Certificate], anchors: list[x509.Certificate]) -> list[x509.Certificate]:
    """``certs`` without each self-signed one named like an anchor that is another certificate: the trust store's
    certificate of a name supersedes a bundle root of that name, so a lookalike fails on its signature."""
    kept = []
    for cert in certs:  # each loaded by load_certs, so its names are read once
        subject_key, issuer_key = name_keys(cert)
        if not (issuer_key == subject_key
                and any(subject_and_issuer(cert)[0] == a.subject and cert != a for a in anchors)):
            kept.append(cert)
    return kept
