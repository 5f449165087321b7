"""YubiKey PIV attestation evidence: the slot certificate the f9 key issues, and its three output profiles.

The slot certificate (``docs.yubico.com`` PIV attestation OID arc, ``shared/specs/other_formats.md`` 2.1):
a random 16-byte serial, issuer = the f9 subject, validity copied from the f9 certificate, subject
``YubiKey PIV Attestation <slot>``, the slot key's SPKI, SHA-256 PKCS#1 v1.5 (RSA f9) signature, and
the extensions 3.3 firmware, 3.7 serial, 3.8 PIN/touch policy, 3.9 form factor (firmware 5 and later; bit
0x80 set on a FIPS-series device, as a real YubiKey 5 FIPS writes ``83`` for a USB-C keychain).
The device refuses to attest an imported key, so a slot certificate implies a key generated on it.

Output profiles (``profile`` parameter):

* ``ykman``: ``<stem>.attestation.pem`` (``ykman piv keys attest``), ``<stem>.f9.pem`` (``ykman piv
  certificates export f9``) and, under the 2024 PKI, ``yubico-intermediate.pem`` (the intermediates
  Yubico publishes);
* ``sectigo``: ``<stem>.sectigo.pem``, Sectigo's package: the attestation certificate then the f9
  certificate (then, under the 2024 PKI, the intermediates: a choice, Sectigo's text predates that PKI);
* ``step``: ``<stem>.acme-step.json``, what step-ca holds for an ACME ``device-attest-01`` challenge:
  the order's ``permanent-identifier`` (the serial), the token, the account key thumbprint and the
  client's ``attObj`` = CBOR ``{"fmt": "step", "attStmt": {"alg", "sig", "x5c"}}``, where ``sig`` is
  the slot key's signature over the key authorization, itself CBOR-encoded (step-ca unmarshals it),
  and ``x5c`` = [attestation, f9, every intermediate].

Beside them: the key's CSR ``<stem>.csr``, ``<stem>.request.json`` (what the relying party asked: the
serial, the slot, the weakest PIN and touch policies it takes) and the emulated root.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from hsmsim.encoding import cert_pem, indented_json
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.yubico.extensions import FORM_FACTOR_FIPS, PinPolicy, TouchPolicy, piv_extensions
from hsmsim.formats.yubico.layout import (
    INTERMEDIATES_FILE,
    PIV_FORMAT,
    REQUEST_SUFFIX,
    ROOT_FILES,
    SECTIGO_SUFFIX,
    STEP_SUFFIX,
)
from hsmsim.formats.yubico.pki import YubiKeyDevice, f9_certificate, f9_key, piv_pki
from hsmsim.keystore.base import PrivateKey, PublicKey, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, build_csr, name
from hsmsim.pki.seed import drbg

PROFILES = ("ykman", "sectigo", "step")
COSE_ES256, COSE_EDDSA, COSE_RS256 = -7, -8, -257
LEGACY_SPECS = ("rsa-2048", "ec-p256", "ec-p384")
"""What firmware before 5.7 generates; 5.7 adds RSA-3072/4096 and Ed25519."""
SLOTS = ("9a", "9c", "9d", "9e", *(f"{n:02x}" for n in range(0x82, 0x96)))


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class PivRequest:
    """What the relying party asked for (``<stem>.request.json``); a field left None is not checked."""

    serial: int | None = None
    slot: str | None = None
    pin_policy: PinPolicy | None = None
    touch_policy: TouchPolicy | None = None

    def to_json(self) -> bytes:
        """Two-space indented JSON, newline-terminated; policies by their ykman names."""
        doc: dict[str, object] = {}
        if self.serial is not None:
            doc["serial"] = self.serial
        if self.slot is not None:
            doc["slot"] = self.slot
        if self.pin_policy is not None:
            doc["pinPolicy"] = self.pin_policy.name.lower().replace("_", "-")
        if self.touch_policy is not None:
            doc["touchPolicy"] = self.touch_policy.name.lower()
        return indented_json(doc, 2)


@dataclass(frozen=True)
class AcmeChallenge:
    """The ACME side of a ``step`` statement: the challenge token and the account key's JWK thumbprint."""

    token: str
    thumbprint: bytes

    @property
    def key_authorization(self) -> bytes:
        """RFC 8555 8.1: ``token "." base64url(thumbprint)``."""
        return f"{self.token}.{b64url(self.thumbprint)}".encode()

    @classmethod
    def from_seed(cls, seed: str, label: str) -> AcmeChallenge:
        """A token and an account thumbprint derived from the seed (the thumbprint as the server holds it)."""
        rng = drbg(seed, f"yubico/acme/{label}")
        return cls(b64url(rng.read(32)), hashlib.sha256(rng.read(32)).digest())


def step_signature(signer: PrivateKey, message: bytes) -> bytes:
    """The signature step-ca checks: ECDSA-SHA256 (DER), RSA PKCS#1 v1.5 SHA-256, or Ed25519 over ``message``."""
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        return signer.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    if isinstance(signer, rsa.RSAPrivateKey):
        return signer.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return signer.sign(message)


def cose_alg(public: PublicKey) -> int:
    """The COSE algorithm of a step statement for ``public``."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        return COSE_ES256
    if isinstance(public, ed25519.Ed25519PublicKey):
        return COSE_EDDSA
    return COSE_RS256


def att_obj(alg: int, sig: bytes, x5c: list[bytes], *, fmt: str = "step") -> bytes:
    """CBOR ``{"fmt": fmt, "attStmt": {"alg", "sig": CBOR(bstr sig), "x5c"}}`` (canonical encoding)."""
    statement = {"alg": alg, "sig": cbor2.dumps(sig), "x5c": x5c}
    return cbor2.dumps({"fmt": fmt, "attStmt": statement}, canonical=True)


def acme_record(identifier: str, challenge: AcmeChallenge, attestation_object: bytes) -> bytes:
    """The record step-ca validates: identifier, challenge, account thumbprint, the client's payload."""
    return indented_json({
        "identifier": {"type": "permanent-identifier", "value": identifier},
        "challenge": {"type": "device-attest-01", "token": challenge.token},
        "accountKeyThumbprint": b64url(challenge.thumbprint),
        "payload": {"attObj": b64url(attestation_object)},
    }, 2)


def slot_certificate(seed: str, device: YubiKeyDevice, slot: str, public: PublicKey, *,
                     pin: PinPolicy, touch: TouchPolicy, f9: x509.Certificate | None = None,
                     signer: PrivateKey | None = None) -> x509.Certificate:
    """The attestation certificate the device's f9 key issues for the key in ``slot``."""
    f9 = f9 or f9_certificate(seed, device)
    serial = int.from_bytes(drbg(seed, f"yubico/yubikey/{device.serial}/{slot}/{public_fingerprint(public)}")
                            .read(16), "big") & ((1 << 127) - 1)
    form_factor = device.form_factor | (FORM_FACTOR_FIPS if device.fips else 0)
    extensions = piv_extensions(firmware=device.firmware, serial=device.serial, policy=(pin, touch),
                                form_factor=form_factor if device.firmware[0] >= 5 else None)
    return build_certificate(CertSpec(
        subject=name(("CN", f"YubiKey PIV Attestation {slot}", UTF8)), issuer=f9.subject, public_key=public,
        serial=serial or 1, not_before=f9.not_valid_before_utc, not_after=f9.not_valid_after_utc,
        extensions=tuple(Ext(e) for e in extensions)), signer or f9_key(seed, device))


def public_fingerprint(public: PublicKey) -> str:
    """The first 16 hex digits of SHA-256 over the key's SPKI (names per-key derivations)."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


@dataclass
class PivBundle:
    """One PIV attestation before packaging: the certificates and the files around them."""

    stem: str
    profile: str
    attestation: x509.Certificate
    f9: x509.Certificate
    intermediates: list[x509.Certificate]
    root: x509.Certificate
    root_file: str
    csr_pem: bytes | None
    request: PivRequest | None
    challenge: AcmeChallenge
    step_sig: bytes = b""
    identifier: str = ""
    extra: dict[str, bytes] = field(default_factory=dict)

    def x5c(self) -> list[bytes]:
        """[attestation, f9, intermediates...] as DER."""
        return [c.public_bytes(serialization.Encoding.DER) for c in (self.attestation, self.f9, *self.intermediates)]

    def evidence(self) -> Evidence:
        """The files of ``profile``, the CSR, the request and the root."""
        files: dict[str, bytes] = {}
        if self.profile == "ykman":
            primary = f"{self.stem}.attestation.pem"
            files[primary] = cert_pem(self.attestation)
            files[f"{self.stem}.f9.pem"] = cert_pem(self.f9)
            if self.intermediates:
                files[INTERMEDIATES_FILE] = b"".join(cert_pem(c) for c in self.intermediates)
        elif self.profile == "sectigo":
            primary = f"{self.stem}{SECTIGO_SUFFIX}"
            files[primary] = b"".join(cert_pem(c) for c in (self.attestation, self.f9, *self.intermediates))
        else:
            primary = f"{self.stem}{STEP_SUFFIX}"
            obj = att_obj(cose_alg(self.attestation.public_key()), self.step_sig, self.x5c())  # type: ignore[arg-type]
            files[primary] = acme_record(self.identifier, self.challenge, obj)
        if self.csr_pem is not None:
            files[f"{self.stem}.csr"] = self.csr_pem
        if self.request is not None:
            files[f"{self.stem}{REQUEST_SUFFIX}"] = self.request.to_json()
        files[self.root_file] = cert_pem(self.root)
        files.update(self.extra)
        return Evidence(PIV_FORMAT, files, primary)


def check_key(key: StoredKey, device: YubiKeyDevice) -> None:
    """Raise :class:`UnsupportedKeyError` for a key the device would not attest."""
    if key.public_key is None:
        raise UnsupportedKeyError("PIV attests asymmetric keys only")
    if not key.attributes.local:
        raise UnsupportedKeyError(f"{key.label} was imported: a YubiKey refuses to attest an imported key")
    if not key.attributes.generated_and_never_extractable:
        raise UnsupportedKeyError(f"{key.label} is (or was) extractable: a YubiKey's slot keys never leave it")
    if device.firmware < (5, 7, 0) and key.spec.name not in LEGACY_SPECS:
        raise UnsupportedKeyError(f"firmware {device.firmware_version} has no {key.spec.name} keys (5.7 and later do)")


def assemble(seed: str, device: YubiKeyDevice, key: StoredKey, signer: PrivateKey, *, slot: str = "9a",
             pin: PinPolicy = PinPolicy.ONCE, touch: TouchPolicy = TouchPolicy.ALWAYS, profile: str = "ykman",
             request: PivRequest | None = None, at: datetime | None = None) -> PivBundle:
    """Attest ``key`` in ``slot`` of ``device`` and package it as ``profile`` (the generator's pure core)."""
    check_key(key, device)
    if profile not in PROFILES:
        raise ParameterError.invalid("profile", f"one of {', '.join(PROFILES)}", profile)
    if slot not in SLOTS:
        raise ParameterError.invalid("slot", "a PIV key slot (9a, 9c, 9d, 9e, 82 to 95)", slot)
    assert key.public_key is not None
    if profile == "step" and isinstance(key.public_key, ec.EllipticCurvePublicKey) \
            and key.public_key.curve.name != "secp256r1":
        raise UnsupportedKeyError("step-ca verifies EC step statements on P-256 only")
    pki = piv_pki(seed, device.generation)
    f9 = f9_certificate(seed, device)
    attestation = slot_certificate(seed, device, slot, key.public_key, pin=pin, touch=touch, f9=f9)
    csr = build_csr(name(("CN", key.label, UTF8)), signer).public_bytes(serialization.Encoding.PEM)
    challenge = AcmeChallenge.from_seed(seed, key.label)
    bundle = PivBundle(safe_file_stem(key.label), profile, attestation, f9, [i.certificate for i in pki.intermediates],
                       pki.root.certificate, ROOT_FILES[device.generation], csr,
                       request if request is not None else PivRequest(device.serial, slot, pin, touch), challenge,
                       identifier=str(device.serial))
    if profile == "step":
        bundle.step_sig = step_signature(signer, challenge.key_authorization)
    return bundle
