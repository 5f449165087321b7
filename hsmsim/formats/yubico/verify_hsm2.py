"""The YubiHSM 2 reference verifier: key attestation chain + pinned root + time + profile → Verdict.

Order: the chain file (leaf first), the path key certificate -> device attestation certificate ->
sub-CA -> pinned root at ``at``, the key extensions with python-yubihsm's encodings (short-form
lengths), the device certificate's serial equals the key certificate's, the subject names the object
id, the CSR binds the attested key, the request's serial, then the origin (generated, never imported
or re-imported under wrap) and the capabilities (not exportable under wrap); strict adds a required
CSR, a sign capability, the CA/B Forum code-signing key rules and no unknown extensions.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from hsmsim.checks import check_csr_binding, one_file, one_name, require_code_signing_key
from hsmsim.encoding import key_facts, spki_der
from hsmsim.formats.yubico.extensions import (
    EXPORTABLE_MASK,
    HSM_KEY_OIDS,
    HSM_SERIAL,
    SIGN_MASK,
    Origin,
    capability_names,
    extension_value,
    extensions_by_oid,
    firmware_text,
    read_der_integer,
    read_hsm_key_extensions,
)
from hsmsim.formats.yubico.layout import CHAIN_SUFFIX, HSM_ROOT_FILE, is_key_attestation
from hsmsim.formats.yubico.verify_piv import (
    bundle_files,
    common_names,
    json_object,
    load_certs,
    without_superseded_roots,
)
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import validate_chain
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

_GENERATED, _IMPORTED, _IMPORTED_WRAPPED = int(Origin.GENERATED), int(Origin.IMPORTED), int(Origin.IMPORTED_WRAPPED)
_ORIGIN_BITS = _GENERATED | _IMPORTED | _IMPORTED_WRAPPED


def verify_hsm2(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """Check YubiHSM 2 key attestation evidence; never raises on bad evidence."""
    try:
        return _verify(evidence, trust, at, profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)


def _is_csr(name: str, data: bytes) -> bool:
    return name.endswith(".csr") or b"CERTIFICATE REQUEST-----" in data[:64]


def _chain(files: dict[str, bytes]) -> list[x509.Certificate]:
    """Leaf first: the chain file (``<stem>_chain.pem``, or the real sample's ``chain.pem``), else the one key
    attestation certificate among the bundle's certificate files (the real ``key_attestation.crt``) followed by
    every other certificate there (the device certificate, the sub-CA), which the path is built from."""
    chain = one_name(files, [n for n in files if n.endswith(CHAIN_SUFFIX) or n == "chain.pem"],
                     f"the chain (<stem>{CHAIN_SUFFIX})")
    if chain is not None:
        # the root copy beside the chain file is part of the bundle, as it is without a chain file
        copies = [c for rel, data in files.items() if rel.endswith(HSM_ROOT_FILE) for c in load_certs(data, rel)]
        return load_certs(files[chain], chain) + copies
    held = [cert for name, data in sorted(files.items()) if b"-----BEGIN CERTIFICATE-----" in data
            and not _is_csr(name, data) for cert in load_certs(data, name)]
    leaves = list(dict.fromkeys(cert for cert in held if is_key_attestation(cert)))  # a Certificate hashes by DER
    if len(leaves) != 1:
        raise Rejected(Reason.MISSING_INPUT, f"no chain file (<stem>{CHAIN_SUFFIX}) and {len(leaves)} key attestation "
                                             "certificates, not one")
    return [leaves[0], *(cert for cert in held if cert != leaves[0])]


def _gather(evidence: Evidence) -> tuple[list[x509.Certificate], bytes | None, dict[str, object] | None]:
    files = bundle_files(evidence)
    csr = one_file(files, [n for n, data in files.items() if _is_csr(n, data)], "the CSR")
    request = one_file(files, [n for n in files if n.endswith(".request.json")], "the request (.request.json)")
    return _chain(files), csr, json_object(request, "the request") if request is not None else None


def _verify(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    certs, csr, request = _gather(evidence)
    leaf = certs[0]
    # The trust store's certificate of a name supersedes a bundle root of that name that is another certificate:
    # a lookalike anchor fails on its signature (CERT_SIGNATURE_INVALID). Another root's copy ends a wrong-root
    # path (CHAIN_UNTRUSTED); a gap below the carried root leaves it unreached (CHAIN_INCOMPLETE: validate_chain).
    anchors = trust.all()
    bundle = without_superseded_roots(certs[1:], anchors)
    path = validate_chain(leaf, bundle, anchors, at)
    extensions = extensions_by_oid(leaf)
    fields = read_hsm_key_extensions(extensions)
    device_serial = extension_value(path[1], HSM_SERIAL)
    if device_serial is None or read_der_integer(device_serial, "the device certificate's serial") != fields.serial:
        raise Rejected(Reason.ATTR_CONFLICT, f"the key certificate's serial {fields.serial} is not the serial of the "
                                             "device attestation certificate that issued it")
    names = common_names(leaf.subject)
    if names != [f"YubiHSM Attestation id:0x{fields.object_id:04x}"]:
        raise Rejected(Reason.ATTR_CONFLICT, f"subject {names!r} does not name object id 0x{fields.object_id:04x}")
    public_key = leaf.public_key()
    spki = spki_der(public_key)
    if csr is not None:
        check_csr_binding(spki, csr, "the attested key")
    elif profile is Profile.STRICT:
        raise Rejected(Reason.MISSING_INPUT, "no CSR (a .csr, or a PEM certificate request) to bind the key to")
    if request is not None and request.get("serial") is not None and request["serial"] != fields.serial:
        raise Rejected(Reason.ATTR_CONFLICT, f"the key is on YubiHSM {fields.serial}, the request names "
                                             f"{str(request['serial'])[:12]}")
    origin = fields.origin
    if origin & ~_ORIGIN_BITS:
        raise Rejected(Reason.MALFORMED, f"origin {origin:#04x} has unknown bits")
    if origin & _GENERATED and origin & _IMPORTED:
        raise Rejected(Reason.ATTR_CONFLICT, "origin says both generated and imported")
    if not origin & _GENERATED:
        raise Rejected(Reason.ATTR_NOT_LOCAL, f"origin {origin:#04x}: the key was imported, not generated")
    if origin & _IMPORTED_WRAPPED:
        raise Rejected(Reason.ATTR_NOT_NEVER_EXTRACTABLE, "origin generated+imported_wrapped: the key was exported "
                                                          "under wrap and imported back")
    if fields.capabilities & EXPORTABLE_MASK:
        raise Rejected(Reason.ATTR_EXTRACTABLE, "the key has the exportable-under-wrap capability")
    key_type, size = key_facts(public_key)
    if profile is Profile.STRICT:
        if not fields.capabilities & SIGN_MASK:
            raise Rejected(Reason.KEY_PURPOSE, "the key has no sign capability")
        unknown = [oid.dotted_string for oid in extensions if oid not in HSM_KEY_OIDS]
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown key certificate extensions: {', '.join(unknown)}")
        require_code_signing_key(key_type, size)
    claims = Claims(
        spki_der=spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
        never_extractable=True, sensitive=None, always_sensitive=None, vendor="Yubico", model="YubiHSM 2",
        serial=str(fields.serial), firmware=firmware_text(fields.firmware), fips_level=None, label=fields.label)
    detail = (f"object 0x{fields.object_id:04x} on YubiHSM {fields.serial} (firmware {claims.firmware}); domains "
              f"{fields.domains:#06x}; capabilities {', '.join(capability_names(fields.capabilities)) or 'none'}")
    return Verdict(Reason.OK, detail, claims)
