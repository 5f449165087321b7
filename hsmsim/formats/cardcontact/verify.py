"""The reference verifier of SmartCard-HSM evidence: SRCA → DICA → device certificate, then the authenticated
request's outer signature by the device key and its inner signature by the attested key, then the CSR's key.

Order of checks (the first failure is the verdict): the request and EF.C_DevAut parse strictly (MALFORMED,
LIMIT_EXCEEDED, UNSUPPORTED); a trust anchor carries a self-signed SRCA (CHAIN_UNTRUSTED); the DICA's CAR names it
(CHAIN_UNTRUSTED) and its key signed the DICA (CERT_SIGNATURE_INVALID); the device certificate's CAR is the DICA's
CHR (CHAIN_INCOMPLETE) and the DICA signed it (CERT_SIGNATURE_INVALID); roles (CERT_NOT_CA, CERT_PROFILE); each
certificate's days hold the validation day (CERT_NOT_YET_VALID, CERT_EXPIRED); the outer CAR is the device's CHR
(CHAIN_INCOMPLETE) and the device key signed the request (SIGNATURE_INVALID); the key signed its own request
(CSR_SIGNATURE_INVALID); a CSR beside it asks for the same key (CSR_SIGNATURE_INVALID, KEY_MISMATCH); the strict
profile's code-signing key rules (KEY_POLICY).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.checks import check_csr_binding, one_file, require_code_signing_key
from hsmsim.encoding import key_facts, spki_der
from hsmsim.formats.cardcontact import cvc
from hsmsim.formats.cardcontact.layout import C_DEVAUT_FILE, FORMAT
from hsmsim.formats.cardcontact.pki import carried_cvc
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict, escaped

DeviceChain = tuple[cvc.CvCertificate, cvc.CvCertificate, cvc.CvCertificate, ec.EllipticCurvePublicKey]
"""SRCA, DICA, device certificate, and the device's key on the SRCA's curve."""
VENDOR = "CardContact"
MODEL = "SmartCard-HSM"


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Within the block, a CV error becomes a verdict reason naming ``what``."""
    try:
        yield
    except cvc.CvcLimitError as exc:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{what}: {exc}") from None
    except cvc.CvcUnsupportedError as exc:
        raise Rejected(Reason.UNSUPPORTED, f"{what}: {exc}") from None
    except cvc.CvcError as exc:
        raise Rejected(Reason.MALFORMED, f"{what}: {exc}") from None


def trusted_roots(trust: TrustAnchors) -> list[tuple[cvc.CvCertificate, ec.EllipticCurvePublicKey]]:
    """The self-signed SRCA certificates the anchors carry (X.509 carriers whose CV certificate is a root whose
    own key signed it), each with its key; anchors of any other kind are ignored."""
    roots = []
    for cert in trust.all():
        cv = carried_cvc(cert)
        root = None if cv is None else _self_signed_root(cv)
        if root is not None:
            roots.append(root)
    return roots


@lru_cache(maxsize=64)
def _self_signed_root(cv: bytes) -> tuple[cvc.CvCertificate, ec.EllipticCurvePublicKey] | None:
    """The SRCA ``cv`` holds, with its key, when it is a root its own key signed; else None. A pure function of
    the bytes, so each anchor is parsed and its signature checked once per process: a verifier passes the same
    anchors to every call."""
    try:
        root = cvc.parse_certificate_file(cv, 1, "root")[0]
        key = root.public_key.ec_key(None)
    except cvc.CvcError:
        return None
    if root.car == root.chr and root.role == cvc.ROLE_ROOT and cvc.verifies(key, root.signature, root.body):
        return root, key
    return None


@lru_cache(maxsize=256)
def _signed_by_root(root: bytes, signature: bytes, body: bytes) -> bool:
    """Whether the trusted SRCA whose CV bytes are ``root`` made ``signature`` over ``body`` (a DICA's). A pure
    function of the bytes: a DICA recurs in every bundle of its batch, so its signature is checked once per
    process, as the X.509 walk remembers the signatures between intermediates and anchors. A request's signatures
    are checked afresh on every call."""
    trusted = _self_signed_root(root)
    return trusted is not None and cvc.verifies(trusted[1], signature, body)


def _check_days(cert: cvc.CvCertificate, what: str, at: datetime) -> None:
    day = cvc.on_day(at)
    assert cert.effective is not None and cert.expiry is not None
    if day < cert.effective:
        raise Rejected(Reason.CERT_NOT_YET_VALID, f"{what} {cert.chr} is effective from {cert.effective}")
    if day > cert.expiry:
        raise Rejected(Reason.CERT_EXPIRED, f"{what} {cert.chr} expired on {cert.expiry}")


def _check_role(cert: cvc.CvCertificate, what: str, role: int) -> None:
    if cert.role_oid != cvc.SC_HSM_ROLE_OID or cert.role is None:
        raise Rejected(Reason.CERT_PROFILE, f"{what} {cert.chr}: CHAT role OID is not the SmartCard-HSM one")
    if role == cvc.ROLE_DEVICE and cert.role & 0xC0 != 0:
        raise Rejected(Reason.CERT_PROFILE, f"{what} {cert.chr} has role {cert.role:02X}, not a device role")
    if role != cvc.ROLE_DEVICE and cert.role & 0xC0 != role:
        raise Rejected(Reason.CERT_NOT_CA, f"{what} {cert.chr} has role {cert.role:02X}, not {role:02X}")


def check_device_chain(c_devaut: bytes, trust: TrustAnchors, at: datetime) -> DeviceChain:
    """``(srca, dica, device, device key)`` once EF.C_DevAut chains to a trusted SRCA at ``at``; raises
    :class:`Rejected`."""
    chain = _device_chain(c_devaut, tuple(root.raw for root, _key in trusted_roots(trust)))
    for cert, what in zip(chain[:3], ("the SRCA", "the DICA", "the device certificate"), strict=True):
        _check_days(cert, what, at)
    return chain


@lru_cache(maxsize=64)
def _device_chain(c_devaut: bytes, roots: tuple[bytes, ...]) -> DeviceChain:
    """Everything :func:`check_device_chain` checks but the days, against the trusted SRCAs whose CV bytes are
    ``roots``. A pure function of the bytes: EF.C_DevAut is the same file in every bundle a card emits, so its
    parsing and the device certificate's signature are checked once per process, as the X.509 walk remembers a
    device's certificates. A chain that fails raises and is not remembered; the request, new in every bundle, is
    parsed and its signatures checked on every call."""
    with _reading("EF.C_DevAut"):
        device, dica = cvc.parse_certificate_file(c_devaut, 2, "EF.C_DevAut")
    if not roots:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no SmartCard-HSM root CA (a self-signed SRCA CV certificate in "
                                               "its X.509 carrier) among the trust anchors")
    named = [root for root, _key in (_trusted_root(raw) for raw in roots) if root.chr == dica.car]
    if not named:
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the DICA {dica.chr} names {dica.car}, which is no trusted SRCA")
    if dica.public_key.has_domain or device.public_key.has_domain or not dica.public_key.is_ec \
            or not device.public_key.is_ec:
        raise Rejected(Reason.MALFORMED, "a DICA or device key is not an EC point on the SRCA's curve")
    with _reading("EF.C_DevAut"):
        srca_curve = cvc.curve_of(named[0].public_key.elements)
        dica_key = dica.public_key.ec_key(srca_curve)
        device_key = device.public_key.ec_key(srca_curve)
    srca = next((root for root in named if _signed_by_root(root.raw, dica.signature, dica.body)), None)
    if srca is None:
        raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"no trusted {dica.car} key signed the DICA {dica.chr}")
    if device.car != dica.chr:
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"the device certificate names {device.car}; EF.C_DevAut holds "
                                                f"the DICA {dica.chr}")
    if not cvc.verifies(dica_key, device.signature, device.body):
        raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"the DICA {dica.chr} did not sign the device certificate")
    _check_role(dica, "the DICA", cvc.ROLE_ISSUER)
    _check_role(device, "the device certificate", cvc.ROLE_DEVICE)
    return srca, dica, device, device_key


def _trusted_root(cv: bytes) -> tuple[cvc.CvCertificate, ec.EllipticCurvePublicKey]:
    root = _self_signed_root(cv)
    assert root is not None  # the bytes of a root trusted_roots returned
    return root


def attested_key(request: cvc.AuthenticatedRequest) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """The key the request carries (EC on its own domain parameters); raises :class:`Rejected`."""
    key = request.inner.public_key
    if key.is_ec and not key.has_domain:
        raise Rejected(Reason.MALFORMED, "the request's EC key lacks the domain parameters the card writes")
    with _reading("request key"):
        return key.ec_key(None) if key.is_ec else key.rsa_key()


def _csr(evidence: Evidence) -> bytes | None:
    return one_file(evidence.files, [file_name for file_name in evidence.files if file_name.endswith(".csr")],
                    "the CSR")


def _verify(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    raw = evidence.files.get(evidence.primary)
    if raw is None:
        raise Rejected(Reason.MISSING_INPUT, f"no authenticated request {escaped(evidence.primary)}")
    c_devaut = evidence.files.get(C_DEVAUT_FILE)
    if c_devaut is None:
        raise Rejected(Reason.MISSING_INPUT, f"no {C_DEVAUT_FILE} (the card's device and DICA certificates)")
    with _reading("authenticated request"):
        request = cvc.parse_authenticated_request(raw)
    key = attested_key(request)
    srca, dica, device, device_key = check_device_chain(c_devaut, trust, at)
    if request.outer_car != device.chr:
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"the request's outer CAR {request.outer_car} is not the device "
                                                f"certificate {device.chr}")
    if not cvc.verifies(device_key, request.outer_signature, request.outer_signed):
        raise Rejected(Reason.SIGNATURE_INVALID, f"the device key {device.chr} did not sign the request")
    if not cvc.verifies(key, request.inner.signature, request.inner.body):
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "the attested key did not sign its own request")
    spki = spki_der(key)
    csr = _csr(evidence)
    if csr is not None:
        check_csr_binding(spki, csr, "the key of the authenticated request")
    key_type, key_size = key_facts(key)
    if profile is Profile.STRICT:
        require_code_signing_key(key_type, key_size)
    claims = Claims(
        spki_der=spki, key_type=key_type, key_size=key_size, generated_on_device=True, extractable=None,
        never_extractable=None, sensitive=None, always_sensitive=None, vendor=VENDOR, model=MODEL,
        serial=device.chr[:-5], label=request.inner.chr,
        extra={"device_chr": device.chr, "dica_chr": dica.chr, "srca_chr": srca.chr,
               "csr_checked": csr is not None})
    return Verdict(Reason.OK, f"key {request.inner.chr} generated on SmartCard-HSM {device.chr} "
                              f"({srca.chr} / {dica.chr})", claims)


def verify_evidence(evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """Check SmartCard-HSM evidence at ``at`` under ``profile``; never raises on bad evidence."""
    if evidence.format != FORMAT:
        return Verdict(Reason.MALFORMED, f"evidence of format {escaped(evidence.format)}, not {FORMAT}")
    try:
        return _verify(evidence, trust, at, profile)
    except Rejected as rejected:
        return Verdict(rejected.reason, rejected.detail)
