"""An emulated TPM 2.0: its endorsement and storage primaries, an attestation key, and TPM2_Certify.

Pure Python and deterministic: every key and counter is derived from the seed and the TPM's
serial, ECDSA signatures use RFC 6979, and the clock is the time since the device was
initialised. The hierarchy mirrors what ``tpm2_createek`` / ``tpm2_createak`` / ``tpm2_create``
build on a real TPM:

* EK: RSA-2048 under the endorsement hierarchy, the TCG default template (restricted decrypt,
  AES-128-CFB, the standard EK policy), so its Name is what a real EK of that key would have.
* AK: a restricted signing key (ECC P-256 / ECDSA-SHA256 by default) under the EK; its qualified
  Name is TPMS_ATTEST.qualifiedSigner.
* SRK: ECC P-256 storage primary under the owner hierarchy; attested keys are its children.
* PCRs: one measured boot per TPM, its measurements derived from the seed (:meth:`EmulatedTpm.measured_boot`);
  TPM2_Quote signs their digest.

The templates, qualified names and signing are :mod:`hsmsim.tpm.hierarchy`, shared with the ``ietf``
family's TcgAttestCertify.

An hsmsim key becomes a TPM object whose TPMA_OBJECT says what its :class:`KeyAttributes` say:
generated keys have sensitiveDataOrigin (an imported key lacks it, as TPM2_Import leaves it
clear), non-extractable keys have fixedTPM and fixedParent (an extractable key is duplicable).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hsmsim.device import Device
from hsmsim.encoding import spki_der
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.tpm.layout import TPM_KEY_SPECS, TpmPkiProfile
from hsmsim.formats.tpm.pki import (
    AK_LIFETIME,
    DEFAULT_MODEL,
    EMULATED_AAGUID,
    TpmModel,
    TpmPki,
    ak_certificate_extensions,
    authority_key_identifier,
    tpm_pki,
    windows_aik_extensions,
)
from hsmsim.keystore.base import KeySpec, PrivateKey, PublicKey, StoredKey
from hsmsim.pki.builder import CertSpec, Ext, build_certificate, spec_of_certificate
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, derive_serial, drbg
from hsmsim.tpm.hierarchy import (
    AES_128_CFB,
    AK_ATTRIBUTES,
    EK_ATTRIBUTES,
    EK_POLICY,
    SRK_ATTRIBUTES,
    KeyHierarchy,
    Parent,
    ak_public,
    obfuscated,
    public_area,
    signing_scheme,
    tpm_sign,
)
from hsmsim.tpm.marshal import TpmaObject, TpmSt
from hsmsim.tpm.pcr import BOOT_PCRS, EV_SEPARATOR, MeasuredBoot, pcr_digest
from hsmsim.tpm.structures import (
    Attested,
    CertifyInfo,
    ClockInfo,
    PcrSelection,
    QuoteInfo,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    object_attributes,
)

__all__ = [
    "AES_128_CFB", "AK_ATTRIBUTES", "EK_ATTRIBUTES", "EK_POLICY", "PLAIN_KEY_TEMPLATE", "SRK_ATTRIBUTES",
    "WINDOWS_HELLO_AUTH_POLICY", "WINDOWS_HELLO_KEY_TEMPLATE", "Certification", "EmulatedTpm", "KeyTemplate", "Parent",
    "ek_urn", "object_attributes", "public_area", "signing_scheme", "tpm_sign",
]

NO_ATTRIBUTES = TpmaObject(0)


@dataclass(frozen=True)
class KeyTemplate:
    """How the software that creates a TPM key fills in what the key's own attributes do not decide: the
    authPolicy, and TPMA_OBJECT bits it sets on RSA keys. Usage (sign, decrypt) and protection come from the key
    (:func:`object_attributes`), never from the template."""

    auth_policy: bytes = b""
    rsa_attributes: TpmaObject = NO_ATTRIBUTES
    """Added to an RSA key's attributes (Windows Hello: noDA on RSA keys, not on ECC ones)."""
    rsa_decrypt: bool = False
    """Whether this creator's RSA keys also decrypt, as Windows Hello's do: what a vector catalogue generates its RSA
    keys with. :meth:`public_area` does not add decrypt; the key's attributes do."""

    def public_area(self, public_key: PublicKey, attributes: TpmaObject) -> TpmtPublic:
        """The TPMT_PUBLIC (nameAlg SHA-256, symmetric and scheme NULL) of ``public_key`` with ``attributes``,
        :attr:`rsa_attributes` for an RSA key, and :attr:`auth_policy`."""
        extra = self.rsa_attributes if isinstance(public_key, rsa.RSAPublicKey) else NO_ATTRIBUTES
        return public_area(public_key, attributes | extra, auth_policy=self.auth_policy)


PLAIN_KEY_TEMPLATE = KeyTemplate()
"""No authPolicy, nothing beyond the key's attributes: what ``tpm2_create`` makes without options."""
WINDOWS_HELLO_AUTH_POLICY = bytes.fromhex("9dffcbf36c383ae699fb9868dc6dcb89d7153884be2803922c124158bfad22ae")
"""The authPolicy of Windows Hello credential keys in 5 of the 6 published ``tpm`` registrations (Intel and Nuvoton
TPMs, RSA and ECC keys; py_webauthn's surface_pro_4 and ECC samples carry it)."""
WINDOWS_HELLO_KEY_TEMPLATE = KeyTemplate(WINDOWS_HELLO_AUTH_POLICY, TpmaObject.NO_DA, rsa_decrypt=True)
"""Windows Hello's credential keys: :data:`WINDOWS_HELLO_AUTH_POLICY`; RSA keys noDA and sign+decrypt
(objectAttributes 0x00060472), ECC keys sign only, without noDA (0x00040072)."""


def ek_urn(ek: PublicKey) -> str:
    """``urn:ek:sha256:<base64 SHA-256 of the EK's DER SubjectPublicKeyInfo>``: a TPM's permanent
    identifier in ACME device attestation (as smallstep names TPMs)."""
    digest = hashlib.sha256(spki_der(ek)).digest()
    return f"urn:ek:sha256:{base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class Certification:
    """The output of TPM2_Certify: certifyInfo and the AK's signature over it."""

    attest: TpmsAttest
    signature: TpmtSignature

    @property
    def cert_info(self) -> bytes:
        """The marshalled TPMS_ATTEST, the bytes the signature covers."""
        return self.attest.marshal()


@dataclass(frozen=True)
class EmulatedTpm:
    """One emulated TPM, identified by ``serial`` under ``seed``; ``initialised`` starts its clock.

    ``pki_profile`` names the manufacturer hierarchy that certifies it: its EK certificate and every AK
    certificate come from :attr:`pki`.
    """

    seed: str
    serial: str
    initialised: datetime
    model: TpmModel = DEFAULT_MODEL
    pki_profile: TpmPkiProfile = field(kw_only=True)

    @classmethod
    def for_device(cls, device: Device, pki_profile: TpmPkiProfile) -> EmulatedTpm:
        """The emulated TPM of an hsmsim device (its ``model`` string, when set, names the TPM model), certified
        by the hierarchy of ``pki_profile``."""
        model = TpmModel(model=device.model) if device.model else DEFAULT_MODEL
        return cls(device.seed, device.serial, device.initialised, model, pki_profile=pki_profile)

    @property
    def pki(self) -> TpmPki:
        """The manufacturer hierarchy (of :attr:`pki_profile`) that issues this TPM's EK and AK certificates."""
        return tpm_pki(self.seed, self.pki_profile)

    def ak_certificate(self, public_key: PublicKey, *, created: datetime, key_name: str = "ak",
                       permanent_id: str | None = None) -> x509.Certificate:
        """The AK certificate :attr:`pki`'s attestation CA issues for ``public_key``, this TPM's AK ``key_name``
        (WebAuthn §8.3.1 profile, see :mod:`hsmsim.formats.tpm.pki`); under the ``rsa`` profile shaped as a Windows
        AIK certificate (:func:`~hsmsim.formats.tpm.pki.windows_aik_extensions`), without the AAGUID extension
        the other profile's carries, expiring with its CA (as real ones); otherwise valid for
        :data:`~hsmsim.formats.tpm.pki.AK_LIFETIME`. Its serial has 127 bits, 16 octets in DER, as Windows AIK
        certificates'.

        With ``permanent_id`` (ACME device attestation) it names the device in its SAN and carries no AAGUID.
        """
        pki = self.pki
        return build_certificate(CertSpec(
            subject=x509.Name([]), issuer=pki.intermediate.subject, public_key=public_key,
            serial=derive_serial(self.seed, self.role(key_name), 127), not_before=created,
            not_after=self._ak_not_after(created, permanent_id),
            extensions=self._ak_extensions(public_key, permanent_id), hash_name=pki.algorithms.hash_name,
        ), pki.intermediate_key)

    def _windows_aik(self, permanent_id: str | None) -> bool:
        """Whether the AK certificate is a Windows AIK certificate: under the ``rsa`` profile, unless ACME's."""
        return permanent_id is None and self.pki_profile == "rsa"

    def _ak_not_after(self, created: datetime, permanent_id: str | None) -> datetime:
        """A Windows AIK certificate ends with its CA (py_webauthn's two Windows Hello samples); another AK certificate
        :data:`~hsmsim.formats.tpm.pki.AK_LIFETIME` after ``created``."""
        return self.pki.intermediate.not_valid_after_utc if self._windows_aik(permanent_id) else created + AK_LIFETIME

    def _ak_extensions(self, public_key: PublicKey, permanent_id: str | None) -> tuple[Ext, ...]:
        issuer_key = self.pki.intermediate_key.public_key()
        if self._windows_aik(permanent_id):
            return windows_aik_extensions(self.model, public_key, issuer_key)
        aaguid = EMULATED_AAGUID if permanent_id is None else None
        return (*ak_certificate_extensions(self.model, aaguid, permanent_id), authority_key_identifier(issuer_key))

    def ak_identity(self, *, created: datetime, key: PrivateKey | None = None, key_name: str = "ak",
                    permanent_id: str | None = None, spec: str = "ec-p256") -> AttestationIdentity:
        """This TPM's attestation key ``key_name`` (derived with ``spec`` unless ``key`` is given) and its
        :meth:`ak_certificate`.

        ``chain`` is (AK certificate, intermediate) — the WebAuthn ``x5c`` — and ``root`` the anchor of :attr:`pki`.
        The derived identity is built once per process.
        """
        if key is None:
            return _derived_ak_identity(self, created, key_name, permanent_id, spec)
        return _ak_identity(self, created, key, key_name, permanent_id)

    def recertify(self, identity: AttestationIdentity) -> AttestationIdentity:
        """``identity``'s AK certified by :attr:`pki` instead: its certificate re-issued by this hierarchy's
        attestation CA with the same subject, key, serial and notBefore, in the hierarchy's digest, with the
        notAfter and extensions :meth:`ak_certificate` gives under this hierarchy (an ACME AK keeps its own
        extensions and validity, the AKI naming the new CA). The AK this TPM would provision under its own hierarchy,
        when ``identity`` is that AK under another."""
        pki = self.pki
        aki = authority_key_identifier(pki.intermediate_key.public_key())
        spec = spec_of_certificate(identity.certificate)
        if _names_device(identity.certificate):
            extensions = tuple(aki if isinstance(e.value, x509.AuthorityKeyIdentifier) else e for e in spec.extensions)
            not_after = spec.not_after
        else:
            extensions = self._ak_extensions(identity.key.public_key(), None)
            not_after = self._ak_not_after(spec.not_before, None)
        cert = build_certificate(replace(spec, issuer=pki.intermediate.subject, extensions=extensions,
                                         not_after=not_after, hash_name=pki.algorithms.hash_name),
                                 pki.intermediate_key)
        return AttestationIdentity(key=identity.key, certificate=cert, chain=(cert, pki.intermediate), root=pki.root)

    def role(self, name: str) -> str:
        """The derivation role of this TPM's object ``name`` (``tpm/<serial>/<name>``)."""
        return f"tpm/{self.serial}/{name}"

    @functools.cached_property
    def hierarchy(self) -> KeyHierarchy:
        """This TPM's primaries (roles ``tpm/<serial>/ek``, ``/srk``, ``/shProof``)."""
        return KeyHierarchy(self.seed, f"tpm/{self.serial}")

    @property
    def ek_key(self) -> PrivateKey:
        """The endorsement key (RSA-2048)."""
        return self.hierarchy.ek_key

    def ek_urn(self) -> str:
        """This TPM's EK URN (:func:`ek_urn`)."""
        return ek_urn(self.ek_key.public_key())

    def ek_public(self) -> TpmtPublic:
        """The EK's public area from the TCG default RSA template."""
        return self.hierarchy.ek_public()

    def srk_public(self) -> TpmtPublic:
        """The storage primary's public area (ECC P-256, AES-128-CFB)."""
        return self.hierarchy.srk_public()

    def ak_public(self, ak: PublicKey | PrivateKey) -> TpmtPublic:
        """The public area of an attestation key (its public or private key): restricted signing with its fixed
        scheme."""
        return ak_public(ak)

    def ak_qualified_name(self, ak: PublicKey | PrivateKey, parent: Parent = Parent.EK) -> bytes:
        """QN(AK) = H(QN(parent) ‖ Name(AK)); the parent is the EK (``tpm2_createak``) unless said otherwise."""
        return self.hierarchy.ak_qualified_name(ak, parent)

    def key_qualified_name(self, area: TpmtPublic) -> bytes:
        """QN of a child of the SRK: H(QN(SRK) ‖ Name(key))."""
        return self.hierarchy.key_qualified_name(area)

    def key_public(self, key: StoredKey, template: KeyTemplate = PLAIN_KEY_TEMPLATE) -> TpmtPublic:
        """The TPMT_PUBLIC the TPM holds for an hsmsim key (symmetric and scheme NULL, as WebAuthn needs), created
        with ``template`` (its attributes from the key's, :func:`object_attributes`)."""
        if key.spec.name not in TPM_KEY_SPECS or key.public_key is None:
            raise UnsupportedKeyError(f"the emulated TPM holds {', '.join(TPM_KEY_SPECS)} keys, not {key.spec.name}")
        return template.public_area(key.public_key, object_attributes(key.attributes))

    def clock_info(self, at: datetime) -> ClockInfo:
        """Milliseconds since initialisation; reset and restart counts derived from the seed; safe."""
        return _clock_info(self, at)

    def attest(self, type_: TpmSt, ak: PublicKey | PrivateKey, qualifying_data: bytes, at: datetime,
               attested: Attested, parent: Parent = Parent.EK) -> TpmsAttest:
        """The TPMS_ATTEST this TPM signs with ``ak`` (its public or private key; a child of ``parent``) at time
        ``at``: qualifiedSigner = QN(AK); under the SRK (outside the endorsement and platform hierarchies)
        resetCount, restartCount and firmwareVersion obfuscated with the storage hierarchy's shProof
        (:func:`hsmsim.tpm.hierarchy.obfuscated`)."""
        attest = TpmsAttest(
            type=type_, qualified_signer=self.ak_qualified_name(ak, parent), extra_data=qualifying_data,
            clock_info=self.clock_info(at), firmware_version=self.model.firmware_version, attested=attested)
        return obfuscated(attest, self.hierarchy.sh_proof) if parent is Parent.SRK else attest

    def certify_info(self, area: TpmtPublic, ak: PublicKey | PrivateKey, qualifying_data: bytes, at: datetime,
                     parent: Parent = Parent.EK) -> TpmsAttest:
        """The TPMS_ATTEST TPM2_Certify(object=area, signHandle=ak, qualifyingData) returns at time ``at`` (see
        :meth:`attest`)."""
        return self.attest(TpmSt.ATTEST_CERTIFY, ak, qualifying_data, at,
                           CertifyInfo(area.name(), self.key_qualified_name(area)), parent)

    def measured_boot(self) -> MeasuredBoot:
        """This TPM's boot since its last TPM2_Startup: PCRs 0-7 each extended with one to four measurements
        derived from the seed (32 bytes each, stand-ins for firmware code and data), then EV_SEPARATOR. Emulated:
        the values are those of no real platform."""
        return _measured_boot(self)

    def quote_info(self, selections: tuple[PcrSelection, ...], ak: PublicKey | PrivateKey, qualifying_data: bytes,
                   at: datetime, parent: Parent = Parent.EK) -> TpmsAttest:
        """The TPMS_ATTEST TPM2_Quote(signHandle=ak, qualifyingData, PCRselect=selections) returns at time ``at``:
        pcrDigest is the digest, under the hash of the AK's signing scheme, of the selected PCRs of
        :meth:`measured_boot` (see :meth:`attest`)."""
        hash_alg = ak_public(ak).parameters.scheme.hash_alg
        assert hash_alg is not None  # an AK's scheme is never NULL
        digest = pcr_digest(hash_alg, self.measured_boot().values(selections))
        return self.attest(TpmSt.ATTEST_QUOTE, ak, qualifying_data, at, QuoteInfo(selections, digest), parent)

    def certify(self, area: TpmtPublic, ak: PrivateKey, qualifying_data: bytes, at: datetime) -> Certification:
        """TPM2_Certify with inScheme NULL: certifyInfo signed with the AK's own scheme."""
        attest = self.certify_info(area, ak, qualifying_data, at)
        return Certification(attest, tpm_sign(ak, attest.marshal(), signing_scheme(ak.public_key())))


def _names_device(certificate: x509.Certificate) -> bool:
    """Whether an AK certificate names its device (an ACME AK: an otherName permanentIdentifier in its SAN)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return bool(san.get_values_for_type(x509.OtherName))


# A TPM's primaries and its reset counts never change, nor does an AK's public area or a derived AK's identity: each
# is derived once, not at every TPM2_Certify.

@functools.lru_cache(maxsize=64)
def _derived_ak_identity(tpm: EmulatedTpm, created: datetime, key_name: str, permanent_id: str | None,
                         spec: str) -> AttestationIdentity:
    key = derive_key(tpm.seed, tpm.role(key_name), KeySpec.parse(spec))
    return _ak_identity(tpm, created, key, key_name, permanent_id)


def _ak_identity(tpm: EmulatedTpm, created: datetime, key: PrivateKey, key_name: str,
                 permanent_id: str | None) -> AttestationIdentity:
    cert = tpm.ak_certificate(key.public_key(), created=created, key_name=key_name, permanent_id=permanent_id)
    return AttestationIdentity(key=key, certificate=cert, chain=(cert, tpm.pki.intermediate), root=tpm.pki.root)


@functools.lru_cache(maxsize=64)
def _measured_boot(tpm: EmulatedTpm) -> MeasuredBoot:
    rng = drbg(tpm.seed, tpm.role("measured-boot"))
    log = []
    for _ in BOOT_PCRS:
        count = 1 + rng.randint_bits(8) % 4
        log.append((*(rng.read(32) for _ in range(count)), EV_SEPARATOR))
    return MeasuredBoot(tuple(log))


@functools.lru_cache(maxsize=64)
def _clock_info(tpm: EmulatedTpm, at: datetime) -> ClockInfo:
    rng = drbg(tpm.seed, tpm.role("clock"))
    clock = max(0, int((at - tpm.initialised).total_seconds() * 1000))
    return ClockInfo(clock, 1 + rng.randint_bits(8) % 64, rng.randint_bits(8) % 4, 1)
