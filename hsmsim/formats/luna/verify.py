"""The Luna PKC reference verifier: evidence, trust anchors, time and profile in, a Verdict out.

It follows the vendor's validator and ``shared/specs/luna_fortanix_nshield.md`` 2: every
certificate is signed by the next, the last equals a trust anchor by DN and key, the EKU at each
position is Luna's, the HSM serial extensions agree, and the leaf SPKI equals the CSR's. Choices
where the vendor is silent are listed in ``docs/formats/luna.md``. Bad evidence never raises out
of :func:`verify_pkc`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.checks import one_file, require_code_signing_key
from hsmsim.encoding import key_facts
from hsmsim.formats.luna.der_reader import (
    Cert,
    CertBag,
    basic_constraints_ca,
    is_remembered_issuer,
    key_usage_bits,
    name_text,
    oid_list,
    parse_certificate,
    parse_certs_only,
    parse_csr,
    parse_recurring_certificate,
    remember_issuer,
)
from hsmsim.formats.luna.layout import PKC_SUFFIXES, names_the_pkc, pkc_stem
from hsmsim.formats.luna.pki import (
    EKU_DAC,
    EKU_ECC_HOC,
    EKU_ECC_ROOT,
    EKU_HOC,
    EKU_MIC,
    EKU_PKC,
    EKU_ROOT,
    EXT_2_4,
    EXT_2_6,
    EXT_2_7,
    EXT_FIRMWARE,
    EXT_KEY_FLAGS,
    EXT_SERIAL,
    OID_AKI,
    OID_BC,
    OID_EKU,
    OID_KU,
    OID_POLICIES,
    OID_SKI,
    firmware_text,
)
from hsmsim.formats.luna.signatures import SHA1_WITH_RSA, check_signature, load_public_key
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, Evidence, TrustAnchors
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

_KNOWN_CRITICAL = {OID_EKU, OID_KU, OID_BC, OID_SKI, OID_AKI, OID_POLICIES}
_KNOWN_EXTENSIONS = _KNOWN_CRITICAL | {EXT_SERIAL, EXT_FIRMWARE, EXT_2_4, EXT_KEY_FLAGS, EXT_2_6, EXT_2_7}
_OUID = re.compile(r"[0-9a-f]{24}")


@dataclass(frozen=True)
class Layout:
    """One Luna hierarchy: the role and required EKU of every position, leaf first."""

    name: str
    roles: tuple[str, ...]
    ekus: tuple[str | None, ...]


RSA_LAYOUT = Layout("RSA", ("PKC", "DAC", "HOC", "MIC", "root"), (EKU_PKC, EKU_DAC, EKU_HOC, EKU_MIC, EKU_ROOT))
ECC_LAYOUT = Layout("ECC", ("PKC", "HOC", "root"), (EKU_PKC, EKU_ECC_HOC, EKU_ECC_ROOT))
TC_LAYOUT = Layout("TC-Trust Center", ("PKC", "DAC", "TC root"), (EKU_PKC, EKU_DAC, None))


@dataclass(frozen=True)
class _Inputs:
    pkc: bytes
    csr: bytes | None


def _gather(evidence: Evidence) -> _Inputs:
    for rel, data in evidence.files.items():
        if len(data) > MAX_BUNDLE_FILE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
    pkcs = [rel for rel in evidence.files if rel.lower().endswith(PKC_SUFFIXES)]
    if not pkcs and evidence.primary in evidence.files and not evidence.primary.lower().endswith((".csr", ".pem")):
        pkcs = [evidence.primary]
    if not pkcs:
        raise Rejected(Reason.MISSING_INPUT, "no PKC (.p7b) in the evidence")
    if len(pkcs) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one PKC in the evidence: {sorted(pkcs)}")
    csrs = [rel for rel, data in evidence.files.items()
            if rel.lower().endswith((".csr", ".req")) or b"CERTIFICATE REQUEST-----" in data[:64]]
    stem = pkc_stem(pkcs[0])
    matching = [rel for rel in csrs if names_the_pkc(rel, stem)]
    return _Inputs(evidence.files[pkcs[0]], one_file(evidence.files, matching or csrs, "the CSR"))


def _linked(certs: list[Cert]) -> bool:
    return all(child.issuer == parent.subject for child, parent in itertools.pairwise(certs))


def _reordered(certs: list[Cert]) -> list[Cert] | None:
    """The one leaf-first order of ``certs`` in which every certificate names the next as issuer."""
    issuers = {c.issuer for c in certs if not c.self_issued}
    leaves = [c for c in certs if c.subject not in issuers]
    if len(leaves) != 1:
        return None
    ordered = [leaves[0]]
    while len(ordered) < len(certs) and not ordered[-1].self_issued:
        following = [c for c in certs if c.subject == ordered[-1].issuer and c not in ordered]
        if len(following) != 1:
            return None
        ordered.append(following[0])
    return ordered if len(ordered) == len(certs) else None


def _ordered(certs: list[Cert], profile: Profile, quirks: set[str]) -> list[Cert]:
    if _linked(certs):
        return certs
    ordered = _reordered(certs)
    if ordered is None:
        return certs  # the link check names the first break
    if profile is Profile.STRICT:
        raise Rejected(Reason.MALFORMED, "the PKC's certificates are not leaf first, as Luna writes them and "
                                         "the vendor's validator requires")
    quirks.add("chain-reordered")
    return ordered


def _check_link(child: Cert, issuer: Cert, index: int, quirks: set[str]) -> None:
    if child.algorithm.oid == SHA1_WITH_RSA and issuer is not child:
        raise Rejected(Reason.UNSUPPORTED, f"certificate {index} ({child.name!r}) is signed with sha1WithRSA; SHA-1 "
                                           "is accepted only on the root's self-signature")
    if issuer.self_issued or index > 0:
        valid, flags = _recurring_signature(child, issuer, index)
    else:
        valid, flags = check_signature(child.tbs, child.signature, child.algorithm, issuer.spki,
                                       f"certificate {index}")
    if not valid:
        raise Rejected(Reason.CERT_SIGNATURE_INVALID,
                       f"certificate {index} ({child.name!r}) is not signed by {issuer.name!r}")
    quirks.update(flags)


@lru_cache(maxsize=256)
def _recurring_signature(cert: Cert, issuer: Cert, index: int) -> tuple[bool, frozenset[str]]:
    """``check_signature`` of a certificate above the leaf, or of one signed by a self-issued root (the root's own
    self-signature included): a pure function of both certificates' bytes. The device's and vendor's issuers and
    the root (the trust anchor's copy) are the same in every PKC of a device, so the signatures between them, and
    the root's on the certificate below it, are checked once per process; the leaf's, new in every PKC, under a
    certificate that is not a root is checked afresh."""
    return check_signature(cert.tbs, cert.signature, cert.algorithm, issuer.spki, f"certificate {index}")


def _check_links(chain: list[Cert], quirks: set[str]) -> None:
    for index, cert in enumerate(chain):
        if index + 1 < len(chain):
            issuer = chain[index + 1]
            if cert.issuer != issuer.subject:
                raise Rejected(Reason.CHAIN_INCOMPLETE, f"certificate {index} ({cert.name!r}) names issuer "
                                                        f"{_issuer_text(cert)!r}, but the next certificate is "
                                                        f"{issuer.name!r}")
        elif cert.self_issued:
            issuer = cert
        else:
            return
        _check_link(cert, issuer, index, quirks)


_NON_DER_ECDSA = ("ecdsa-r-unpadded", "ecdsa-s-unpadded", "ecdsa-r-not-minimal", "ecdsa-s-not-minimal")


def _refuse_non_der_ecdsa(quirks: set[str]) -> None:
    """MALFORMED when a link's ECDSA-Sig-Value integers were not DER (the strict profile): an unpadded integer
    with its top bit set is negative as DER reads it, which openssl (error 7) and cryptography refuse."""
    seen = [quirk for quirk in _NON_DER_ECDSA if quirk in quirks]
    if seen:
        raise Rejected(Reason.MALFORMED, f"an ECDSA certificate signature's integers are not DER ({', '.join(seen)}): "
                                         "strict requires a DER ECDSA-Sig-Value")


def _issuer_text(cert: Cert) -> str:
    return name_text(cert.issuer)


_anchor_objects: dict[int, tuple[x509.Certificate, Cert | None]] = {}
""":func:`_anchor_cert` of the trust anchor objects most recently given, by identity (an entry holds its object, so
its id is not reused while it lives): a verifier passes the same anchors to every call."""


def _anchors(trust: TrustAnchors) -> list[Cert]:
    parsed = []
    for anchor in trust.all():
        entry = _anchor_objects.get(id(anchor))
        if entry is None or entry[0] is not anchor:
            if len(_anchor_objects) >= 64:
                _anchor_objects.clear()
            entry = _anchor_objects[id(anchor)] = (anchor, _anchor_cert(anchor.public_bytes(Encoding.DER)))
        if entry[1] is not None:
            parsed.append(entry[1])
    return parsed


@lru_cache(maxsize=64)
def _anchor_cert(der: bytes) -> Cert | None:
    """A trust anchor as the verifier reads it, None when it does not parse (parsed once per anchor)."""
    try:
        return parse_recurring_certificate(der, "trust anchor")
    except Rejected:
        return None


def _anchor(chain: list[Cert], anchors: list[Cert], quirks: set[str], profile: Profile) -> tuple[list[Cert], Cert]:
    """The path to a trust anchor (leaf first, root last) and the root whose EKU names the hierarchy.

    A bag that ends below its root is completed by the anchor that signed its last certificate,
    except under ``strict``: both real PKCs carry their root, and the vendor's validator requires
    a self-signed last certificate. A bag whose last certificate's issuer is no anchor is
    CHAIN_UNTRUSTED (the wrong root, as when the bag carries a root that is not trusted); a lone
    PKC without its issuer is CHAIN_INCOMPLETE.
    """
    if not anchors:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no trust anchor given")
    last = chain[-1]
    if any(a.subject == last.subject and a.spki == last.spki for a in anchors):
        if not last.self_issued:  # a self-issued last certificate had its self-signature checked with the links
            raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"the root copy {last.name!r} in the PKC is not self-signed")
        return chain, last
    if last.self_issued:
        lookalike = any(a.subject == last.subject for a in anchors)
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the chain ends at {last.name!r}, which is not a trusted root"
                                               + (" (same name as a trust anchor, different key)" if lookalike else ""))
    named = [a for a in anchors if a.subject == last.issuer]
    if not named:
        if len(chain) == 1:
            raise Rejected(Reason.CHAIN_INCOMPLETE,
                           f"the issuer {_issuer_text(last)!r} of the PKC is neither in the bag nor trusted")
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the chain ends at {last.name!r}, whose issuer "
                                               f"{_issuer_text(last)!r} is not a trusted root")
    if last.algorithm.oid == SHA1_WITH_RSA:
        raise Rejected(Reason.UNSUPPORTED, f"{last.name!r} is signed with sha1WithRSA; SHA-1 is accepted only on "
                                           "the root's self-signature")
    for anchor in named:
        valid, flags = check_signature(last.tbs, last.signature, last.algorithm, anchor.spki, "last certificate")
        if valid:
            if profile is Profile.STRICT:
                raise Rejected(Reason.CHAIN_UNTRUSTED,
                               f"the PKC ends at {last.name!r}, not at a self-signed root: Luna writes the root "
                               "into the bag and the vendor's validator requires it (strict does not complete "
                               "the chain from the trust anchor)")
            quirks.update(flags)
            quirks.add("root-from-trust-anchor")
            return [*chain, anchor], anchor
    raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"{last.name!r} is not signed by the trusted {_issuer_text(last)!r}")


def _ekus(cert: Cert, what: str) -> tuple[str, ...]:
    ext = cert.extension(OID_EKU)
    return oid_list(ext.value, f"{what} extendedKeyUsage") if ext is not None else ()


def _layout(root: Cert) -> Layout:
    ekus = _ekus(root, "root")
    if EKU_ROOT in ekus:
        return RSA_LAYOUT
    if EKU_ECC_ROOT in ekus:
        return ECC_LAYOUT
    return TC_LAYOUT


def _check_shape(path: list[Cert], layout: Layout) -> None:
    """A path shorter than the hierarchy links every certificate to its named issuer (a missing issuer was
    CHAIN_INCOMPLETE before), so it skips a role: some position holds a certificate without that role's EKU
    (CERT_EKU), e.g. a PKC issued by the HOC where Luna's is issued by a DAC."""
    expected = len(layout.roles)
    if len(path) < expected:
        roles = zip(path, layout.roles, layout.ekus, strict=False)  # the path is the shorter
        index = next((i for i, (cert, role, eku) in enumerate(roles)
                      if eku is not None and eku not in _ekus(cert, role)), len(path) - 1)
        raise Rejected(Reason.CERT_EKU, f"the {layout.name} PKC path skips a role: it has {len(path)} certificates, "
                                        f"Luna's has {expected} ({', '.join(layout.roles)}); the "
                                        f"{layout.roles[index]} position holds {path[index].name!r} with EKU "
                                        f"{', '.join(_ekus(path[index], layout.roles[index])) or 'none'}")
    if len(path) > expected:
        raise Rejected(Reason.MALFORMED, f"the {layout.name} PKC path has {len(path)} certificates; Luna's has "
                                         f"{expected} ({', '.join(layout.roles)})")


def _check_certificates(path: list[Cert], layout: Layout, at: datetime) -> None:
    for index, (cert, role) in enumerate(zip(path, layout.roles, strict=True)):
        if at < cert.not_before:
            raise Rejected(Reason.CERT_NOT_YET_VALID,
                           f"{role} {cert.name!r} is valid only from {cert.not_before:%Y-%m-%dT%H:%M:%SZ}")
        if at > cert.not_after:
            raise Rejected(Reason.CERT_EXPIRED, f"{role} {cert.name!r} expired {cert.not_after:%Y-%m-%dT%H:%M:%SZ}")
        for ext in cert.extensions:
            if ext.critical and ext.oid not in _KNOWN_CRITICAL:
                raise Rejected(Reason.CERT_UNKNOWN_CRITICAL, f"{role} {cert.name!r} has unknown critical extension "
                                                             f"{ext.oid}")
        if 0 < index < len(path) - 1:
            bc = cert.extension(OID_BC)
            if bc is None or not basic_constraints_ca(bc.value, f"{role} basicConstraints"):
                raise Rejected(Reason.CERT_NOT_CA, f"{role} {cert.name!r} issues certificates without "
                                                   "basicConstraints CA:TRUE")
            ku = cert.extension(OID_KU)
            if ku is not None and 5 not in key_usage_bits(ku.value, f"{role} keyUsage"):
                raise Rejected(Reason.CERT_NOT_CA, f"{role} {cert.name!r} keyUsage lacks keyCertSign")
    for index, (cert, role, required) in enumerate(zip(path, layout.roles, layout.ekus, strict=True)):
        ekus = _ekus(cert, role)
        if required is not None and required not in ekus:
            raise Rejected(Reason.CERT_EKU, f"the {role} {cert.name!r} lacks EKU {required} "
                                            f"(has {', '.join(ekus) or 'none'})")
        if index > 0 and EKU_PKC in ekus:
            raise Rejected(Reason.CERT_EKU, f"the {role} {cert.name!r} carries the PKC-only EKU {EKU_PKC}")


def _uint32(cert: Cert, role: str) -> int:
    ext = cert.extension(EXT_SERIAL)
    if ext is None:
        raise Rejected(Reason.ATTR_MISSING, f"the {role} has no HSM serial extension ({EXT_SERIAL})")
    if len(ext.value) != 4:
        raise Rejected(Reason.MALFORMED, f"the {role}'s HSM serial extension is {len(ext.value)} bytes, not 4")
    return int.from_bytes(ext.value, "little")


@dataclass(frozen=True)
class _Device:
    serial: int
    model: str | None
    firmware: str | None
    object_id: str | None


def _check_device(path: list[Cert], layout: Layout, profile: Profile) -> _Device:
    leaf = path[0]
    serial = _uint32(leaf, "PKC")
    issuer_cn = path[1].common_name() or ""
    model = None
    if layout is ECC_LAYOUT:
        if issuer_cn != str(serial):
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC says HSM serial {serial}, its HOC is {issuer_cn!r}")
    else:
        dac_serial = _uint32(path[1], "DAC")
        if dac_serial != serial:
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC says HSM serial {serial}, its DAC says {dac_serial}")
        model, _, cn_serial = issuer_cn.rpartition("-")
        if cn_serial != str(serial):
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC says HSM serial {serial}, its DAC is {issuer_cn!r}")
    object_id = leaf.common_name()
    if profile is Profile.STRICT:
        if object_id is None or not _OUID.fullmatch(object_id):
            raise Rejected(Reason.MALFORMED, f"the PKC's CN {object_id!r} is not a 24-hex Luna object id")
        if object_id[16:] != serial.to_bytes(4, "little").hex():
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC's object id {object_id} ends in another HSM's serial")
    firmware_ext = next((ext for c in path[:2] if (ext := c.extension(EXT_FIRMWARE)) is not None), None)
    firmware = firmware_text(firmware_ext.value) if firmware_ext is not None else None
    return _Device(serial, model or None, firmware, object_id)


def _check_binding(spki: bytes, csr_data: bytes | None) -> None:
    if csr_data is None:
        raise Rejected(Reason.MISSING_INPUT, "no CSR to bind the confirmed key to")
    csr = parse_csr(csr_data)
    valid, _ = check_signature(csr.info, csr.signature, csr.algorithm, csr.spki, "CSR")
    if not valid:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "CSR self-signature does not verify")
    if csr.spki != spki:
        raise Rejected(Reason.KEY_MISMATCH, "the CSR's public key differs from the PKC leaf's")


def _check_strict(bag: CertBag, path: list[Cert], layout: Layout, key_type: str, size: int | None) -> None:
    if layout is TC_LAYOUT:
        raise Rejected(Reason.UNSUPPORTED, "a pkctype 1 (TC-Trust Center) PKC: its chain is unpublished, Sectigo "
                                           "rejects it (it does not end at the SafeNet root) and the vendor's "
                                           "validator reads a 3-certificate bag with the ECC EKU table")
    if bag.extras:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"the PKC carries what Luna never writes: {'; '.join(bag.extras)}")
    for cert in path:
        unknown = [e.oid for e in cert.extensions if e.oid not in _KNOWN_EXTENSIONS]
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"{cert.name!r} has unknown extensions: {', '.join(unknown)}")
    require_code_signing_key(key_type, size)


def _flags(path: list[Cert], quirks: set[str]) -> list[str]:
    if any(e.explicit_false for cert in path for e in cert.extensions):
        quirks.add("explicit-critical-false")
    return sorted(quirks)


def verify_pkc(evidence: Evidence, trust: TrustAnchors, *, at: datetime, profile: Profile) -> Verdict:
    """Check the PKC at ``at`` under ``profile``; never raises on bad evidence.

    Order: inputs and bounds, the container, every certificate, order, each link signed by the
    next (strict: with DER ECDSA integers), the last equal to a trust anchor by DN and key, the
    hierarchy's length (a skipped role is CERT_EKU), validity at
    ``at``, critical extensions, CA flags, EKU per position, HSM serial extensions, CSR binding,
    then the profile's policy. The verdict detail lists encoding quirks tolerated.
    """
    try:
        return _verify(evidence, trust, at, profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)


def _verify(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    inputs = _gather(evidence)
    bag = parse_certs_only(inputs.pkc)
    if not bag.certificates:
        raise Rejected(Reason.MISSING_INPUT, "the PKC holds no certificate")
    # The leaf, new in every PKC, is parsed afresh; the device's and vendor's issuers recur.
    certs = [(parse_recurring_certificate if is_remembered_issuer(der) else parse_certificate)(
        der, f"certificate {i}", walked=True) for i, der in enumerate(bag.certificates)]
    if len({c.der for c in certs}) != len(certs):
        raise Rejected(Reason.MALFORMED, "a certificate appears twice in the PKC")
    quirks: set[str] = set()
    chain = _ordered(certs, profile, quirks)
    _check_links(chain, quirks)
    if profile is Profile.STRICT:
        _refuse_non_der_ecdsa(quirks)
    path, root = _anchor(chain, _anchors(trust), quirks, profile)
    for issuer in chain[1:]:  # only a chain that reached a trust anchor: its issuers recur in real use
        remember_issuer(issuer.der)
    layout = _layout(root)
    _check_shape(path, layout)
    _check_certificates(path, layout, at)
    device = _check_device(path, layout, profile)
    leaf = path[0]
    _check_binding(leaf.spki, inputs.csr)
    key_type, size = key_facts(load_public_key(leaf.spki, "PKC subjectPublicKeyInfo"))
    if profile is Profile.STRICT:
        _check_strict(bag, path, layout, key_type, size)
    claims = Claims(
        spki_der=leaf.spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
        never_extractable=True, sensitive=None, always_sensitive=None, vendor="Thales", model=device.model,
        serial=str(device.serial), firmware=device.firmware,
    )
    flags = _flags(path, quirks)
    detail = f"PKC {device.object_id} confirmed by the {layout.name} chain of Luna {device.serial}"
    return Verdict(Reason.OK, detail + (f"; flags: {', '.join(flags)}" if flags else ""), claims)
