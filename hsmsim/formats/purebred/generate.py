"""The Purebred generator: hsmsim's own evidence of the request's key, made by its format through the
registry, carried the way the real Purebred requests carry it.

Files: ``<label>_request.bin`` (the DER PKCS#10 with, for Android and Windows, an extensionRequest for the subject
key identifier, then a SCEP challengePassword and the evidence attribute, as the real requests;
``<label>_attestation.bin`` for an Android or Windows pre-enrollment container), ``<label>_target.der`` (the
certificate issued for the key, shaped as the real ones: self-signed for a pre-enrollment, issued by the emulated
``DOD PB ID SW CA-46 EMULATED`` for a request; :mod:`hsmsim.formats.purebred.pki`), the relying party's
``<label>.challenge`` for Android (for Windows the emulated CA's ``<label>.ca-exchange.p8``), and
``purebred_roots.pem`` (the inner format's root).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from hsmsim.device import AttestationRequest, Device, ForwardedParameters
from hsmsim.encoding import cert_pem, spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import get_format
from hsmsim.formats.purebred.envelope import (
    ANDROID,
    CHALLENGE_PASSWORD,
    EXTENSION_REQUEST,
    KINDS,
    WINDOWS,
    YUBIKEY,
    Kind,
    RequestDraft,
    certs_only,
    key_identifier_request,
    printable,
    wrap,
)
from hsmsim.formats.purebred.layout import FORMAT, PREENROLL_SUFFIX, REQUEST_SUFFIX, SIBLING_SUFFIXES, request_der
from hsmsim.formats.purebred.pki import preenroll_target, scep_target
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import PRINTABLE, UTF8, name
from hsmsim.pki.seed import drbg

ROOTS_FILE = "purebred_roots.pem"
CONTAINERS = ("request", "preenroll")
_OWN_PARAMETERS = ("kind", "container")
# Parameters that change the inner format's attesting hierarchy: purebred_roots.pem holds the provisioned root.
_REFUSED_PARAMETERS = ("pki_profile",)
_KIND_OF_FORMAT = {"yubico-piv": YUBIKEY, "ms-kast": WINDOWS}


def kind_for(device: Device, parameters: Mapping[str, object]) -> Kind:
    """The ``kind`` parameter, else the kind of the device's own format (android for any other device)."""
    given = parameters.get("kind")
    if given is None:
        return _KIND_OF_FORMAT.get(device.format, ANDROID)
    if given not in KINDS:
        raise ParameterError.invalid("kind", f"one of {', '.join(KINDS)}", given)
    return KINDS[str(given)]


@dataclass(frozen=True)
class Parts:
    """What one generation is made of, before the envelope is encoded: the catalogue edits these."""

    kind: Kind
    certs: list[bytes]
    """The certs-only SignedData's certificates (empty for Windows): the Android chain leaf first, the YubiKey's f9,
    slot certificate and intermediates. The bag holds them in DER SET OF order, as the real devices write it."""
    content: bytes
    """The ContentInfo the attribute (or the pre-enrollment container) carries."""
    beside: dict[str, bytes]
    """Inner files the inner verifier reads beside the request, by suffix (:data:`SIBLING_SUFFIXES`)."""
    roots: list[x509.Certificate]


def _pem_certificates(data: bytes) -> list[bytes]:
    return [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(data)]


def inner_parts(request: AttestationRequest, kind: Kind) -> Parts:
    """The inner format's evidence of the request's key, generated through the registry, as envelope parts."""
    fmt = get_format(kind.inner_format)
    if request.key.spec.name not in fmt.key_specs:
        raise UnsupportedKeyError(f"{kind.inner_format} cannot attest {request.key.spec.name} keys")
    refused = [name for name in _REFUSED_PARAMETERS if name in request.parameters]
    if refused:
        raise ParameterError(f"purebred cannot pass {', '.join(refused)} to {kind.inner_format}: "
                             f"{ROOTS_FILE} holds the root the inner format provisions")
    parameters = (ForwardedParameters(request.parameters, hidden=_OWN_PARAMETERS, default={"slot": "9e"},
                                      override={"profile": "ykman"}) if kind is YUBIKEY
                  else ForwardedParameters(request.parameters, hidden=_OWN_PARAMETERS))
    inner_request = replace(request, attesting=fmt.provision(request.device, request.partition),
                            parameters=parameters)
    inner = fmt.generate(inner_request)
    roots = [inner_request.attesting.root]
    beside = {suffix: data for suffix in SIBLING_SUFFIXES[kind.name] for rel, data in inner.files.items()
              if rel.endswith(suffix)}
    if kind is WINDOWS:
        return Parts(kind, [], request_der(inner.files[inner.primary]), beside, roots)
    if kind is ANDROID:
        certs = _pem_certificates(inner.files[inner.primary])
        return Parts(kind, certs, certs_only(certs), beside, roots)
    slot = _pem_certificates(inner.files[inner.primary])
    f9 = _pem_certificates(inner.files[inner.primary.replace(".attestation.pem", ".f9.pem")])
    intermediates = [c for rel, data in inner.files.items() if rel.endswith("intermediate.pem")
                     for c in _pem_certificates(data)]
    certs = [*f9, *slot, *intermediates]
    return Parts(kind, certs, certs_only(certs), beside, roots)


def challenge_password(request: AttestationRequest) -> str:
    """The SCEP one-time password the device puts in its request, shaped as the real ones (an eight-digit number,
    a colon and 256 bytes in base64: 353 characters), derived from the seed and label."""
    stream = drbg(request.device.seed, f"purebred/otp/{request.key.label}")
    number = int.from_bytes(stream.read(8), "big") % 10**8
    return f"{number:08d}:{base64.b64encode(stream.read(256)).decode()}"


def request_subject(request: AttestationRequest, kind: Kind) -> x509.Name:
    """The request's subject as the real devices write it: ``C=US, CN=<device identifier>``, C a PrintableString
    and CN one too, but a UTF8String from Windows; the identifier 40 hex digits derived from the seed and label."""
    identifier = drbg(request.device.seed, f"purebred/subject/{request.key.label}").read(20).hex()
    return name(("C", "US", PRINTABLE), ("CN", identifier, UTF8 if kind is WINDOWS else PRINTABLE))


def draft(request: AttestationRequest, kind: Kind, content: bytes) -> RequestDraft:
    """The request for the request's key: for Android and Windows an extensionRequest for its subject key
    identifier, then the challengePassword and the kind's attribute wrapping ``content``."""
    if request.key.public_key is None or request.key_signer is None:
        raise UnsupportedKeyError("a Purebred request needs an asymmetric key the store can sign with")
    attributes = [(EXTENSION_REQUEST, [key_identifier_request(request.key.public_key)])] \
        if kind.requests_key_identifier else []
    attributes += [(CHALLENGE_PASSWORD, [printable(challenge_password(request))]), (kind.oid, [wrap(kind, content)])]
    return RequestDraft(request_subject(request, kind), spki_der(request.key.public_key), request.key_signer,
                        attributes)


def target_certificate(request: AttestationRequest, kind: Kind, preenroll: bool) -> bytes:
    """The certificate issued for the key, shaped as the real ones of ``kind``: for a pre-enrollment self-signed by
    the key, else issued by the emulated Purebred CA for the request's subject CN
    (:mod:`hsmsim.formats.purebred.pki`)."""
    assert request.key.public_key is not None and request.key_signer is not None
    seed, label = request.device.seed, request.key.label
    if preenroll:
        return preenroll_target(seed, label, request.key.public_key, request.key_signer, request.at,
                                windows=kind is WINDOWS, model=request.device.model,
                                device_serial=request.device.serial)
    common_name = str(request_subject(request, kind).get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    return scep_target(seed, label, request.key.public_key, common_name, request.at, yubikey=kind is YUBIKEY)


def evidence_files(stem: str, container: bytes, preenroll: bool, target: bytes | None, parts: Parts
                   ) -> dict[str, bytes]:
    """The generated files (module notes), ``<stem>`` where the notes say ``<label>``."""
    primary = f"{stem}{PREENROLL_SUFFIX if preenroll else REQUEST_SUFFIX}"
    files = {primary: container}
    if target is not None:
        files[f"{stem}_target.der"] = target
    files.update({f"{stem}{suffix}": data for suffix, data in parts.beside.items()})
    files[ROOTS_FILE] = b"".join(cert_pem(r) for r in parts.roots)
    return files


def generate(request: AttestationRequest) -> Evidence:
    """The Purebred request (or pre-enrollment container) of the request's key with its target and roots, named
    by the key label's :func:`~hsmsim.model.evidence.safe_file_stem`, so they all lie in the bundle directory."""
    kind = kind_for(request.device, request.parameters)
    container = str(request.parameters.get("container", "request"))
    if container not in CONTAINERS:
        raise ParameterError.invalid("container", f"one of {', '.join(CONTAINERS)}",
                                     request.parameters.get("container"))
    preenroll = container == "preenroll" and kind is not YUBIKEY  # a YubiKey pre-enrolls with its request
    parts = inner_parts(request, kind)
    envelope = parts.content if preenroll else draft(request, kind, parts.content).build()
    files = evidence_files(safe_file_stem(request.key.label), envelope, preenroll,
                           target_certificate(request, kind, preenroll), parts)
    return Evidence(FORMAT, files, next(iter(files)))
