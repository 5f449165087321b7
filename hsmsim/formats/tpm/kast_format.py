"""The ``ms-kast`` format: Windows TPM key attestation in a certificate request (MS-WCCE), as a CA receives it.

A Windows client that enrolls a TPM-backed key (Microsoft Platform Crypto Provider) sends its CA a CMC Full
PKI Request (or a bare PKCS#10) whose request carries the KeyAttestationStatement (TPM2_Certify of the key by
the TPM's AIK, the AIK's signature, the key's PCP blob) and the AIK public key and certificate enveloped to
the CA's exchange certificate (:mod:`hsmsim.formats.tpm.kast`).

hsmsim's emulated Windows client uses the emulated TPM (:mod:`hsmsim.formats.tpm.device`): an RSA-2048 AIK
certified by the emulated TPM attestation CA; the emulator is the CA too, so the AIK info is enveloped to
an emulated CA exchange certificate derived from the seed, whose key opens it. A key in a real TPM (the
``swtpm`` backend) is certified there (:mod:`hsmsim.formats.tpm.genuine`): the KADS's TPMS_ATTEST, signature
and the key blob's TPMT_PUBLIC are that TPM's, by its Windows-template AIK (RSA-2048, RSASSA/SHA-256, a child
of the SRK), whose certificate the emulated CA issues; the rest of the request is made as for an emulated key.

On disk (``docs/formats/ms-kast.md``): ``<label>.kast.cmc`` (or ``<label>.kast.p10``), DER or PEM; beside it
the emulated CA's exchange key ``<label>.ca-exchange.p8`` (PKCS#8 PEM, TEST-ONLY: the CA's own input), for a
bare PKCS#10 the AIK's issuing CA ``<label>.aik-ca.pem`` (what the CMC would carry), and the emulated root
``tpm_root_ca.pem``. A verifier may instead be given the CA key as a trust file (role
``ca-exchange``) or the AIK certificate itself (role ``aik``). Any Evidence whose primary file is such a
request is accepted, e.g. ``files={"request.cmc": der}`` as the ``purebred`` format hands it over.

The verdict's claims say ``tpm_signature_checked``: False when the AIK could not be recovered (a real request
enveloped to another CA); the structural profile then still requires an AIK CA certificate in the request
(:func:`check_aik_ca`), the strict profile rejects (MISSING_INPUT).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
    load_pem_private_key,
)

from hsmsim.checks import one_that_passes, require_code_signing_key
from hsmsim.device import AttestationRequest, flag_parameter
from hsmsim.encoding import cert_pem, der_content, der_sequence, der_set_of_order, der_tlv, spki_der
from hsmsim.errors import BundleError, ParameterError, UnsupportedKeyError
from hsmsim.formats.tpm import kast as wire
from hsmsim.formats.tpm import layout
from hsmsim.formats.tpm.device import EmulatedTpm, Parent, signing_scheme, tpm_sign
from hsmsim.formats.tpm.generate import ROOT_FILE
from hsmsim.formats.tpm.genuine import EK_CHAIN_SUFFIX, GenuineTpm, genuine_tpm
from hsmsim.formats.tpm.layout import TpmPkiProfile
from hsmsim.formats.tpm.marshal import TPM_GENERATED_VALUE, TPM_RH_OWNER, TpmSt, hash_bytes, tpm2b, u32
from hsmsim.formats.tpm.pki import EKU_AIK_CERTIFICATE, EKU_MS_AIK_CA, ROOT_NOT_BEFORE
from hsmsim.formats.tpm.statement import (
    AkFacts,
    area_key_facts,
    check_ak_certificate,
    check_attest,
    check_attested_name,
    check_object_attributes,
    is_bound_attestation_key,
    tpm_claims,
)
from hsmsim.formats.tpm.structures import OpaqueAttested, TpmsAttest, TpmtPublic, qualified_name
from hsmsim.keystore.base import AkTemplate, KeySpec, PrivateKey, PublicKey
from hsmsim.model.evidence import (
    MAX_TRUST_ANCHOR_BYTES,
    Evidence,
    TrustAnchors,
    safe_file_stem,
)
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.chain import CERT_PARSE_ERRORS, certificate_from_der, fully_parsed, name_keys, validate_chain
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key, derive_serial, drbg
from hsmsim.safeio import ReadBudget, read_regular_file
from hsmsim.verdict import Profile, Reason, Rejected, Verdict, escaped

DEFAULT_KSP = "Microsoft Smart Card Key Storage Provider"
"""What every real Surface request names (the TPM virtual smart card KSP over the Platform Crypto Provider)."""
OUTPUTS = ("cmc", "pkcs10")
CA_EXCHANGE_CN = "hsmsim Windows CA Exchange EMULATED"
NOT_RECOVERED = "TPM (AIK not recovered)"


@functools.lru_cache(maxsize=16)
def ca_exchange(seed: str, role: str = "ms-kast/ca-exchange") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The emulated CA's exchange key (RSA-2048) and its self-signed exchange certificate for ``seed``."""
    key = derive_key(seed, role, KeySpec.parse("rsa-2048"))
    assert isinstance(key, rsa.RSAPrivateKey)
    subject = name(("C", "CH", PRINTABLE), ("O", "hsmsim", UTF8), ("CN", CA_EXCHANGE_CN, UTF8))
    start = ROOT_NOT_BEFORE
    cert = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(), serial=derive_serial(seed, role),
        not_before=start, not_after=start + timedelta(days=20 * 365),
        extensions=(Ext(key_usage("key_encipherment"), critical=True),
                    Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True)),
    ), key)
    return key, cert


def pkcs8_pem(key: PrivateKey) -> bytes:
    """``key`` as an unencrypted PKCS#8 PEM (the trust file of role ``ca-exchange``)."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _policy_digests(rng_bytes: bytes) -> bytes:
    """TPML_DIGEST of the PCP key's six policy branches (the fifth empty), as the real blobs carry them."""
    digests = [rng_bytes[i * 32:(i + 1) * 32] for i in range(5)]
    return u32(6) + b"".join(tpm2b(d) for d in digests[:4]) + tpm2b(b"") + tpm2b(digests[4])


# -- generation -------------------------------------------------------------------------------------

@dataclass(kw_only=True)
class KastDraft:
    """One Windows key attestation request before rendering. The optional fields are the catalogue's knobs:
    each replaces one part (or edits rendered bytes) before the enclosing structure is signed."""

    tpm: EmulatedTpm
    identity: AttestationIdentity
    key_public: PublicKey
    key_signer: PrivateKey
    area: TpmtPublic
    at: datetime
    label: str
    subject_cn: str
    ca_key: rsa.RSAPrivateKey
    ca_certificate: x509.Certificate
    cek: bytes
    iv: bytes
    oaep_seed: bytes
    private_blob: bytes
    policy_digests: bytes
    output: str = "cmc"
    ksp_name: str = DEFAULT_KSP
    qualifying_data: bytes = wire.WINDOWS_QUALIFYING_DATA
    certified_area: TpmtPublic | None = None
    blob_area: TpmtPublic | None = None
    attest_edit: Callable[[TpmsAttest], TpmsAttest] | None = None
    certify_signer: PrivateKey | None = None
    signature_edit: Callable[[bytes], bytes] | None = None
    kads_edit: Callable[[bytes], bytes] | None = None
    kast_edit: Callable[[bytes], bytes] | None = None
    statement_value: Callable[[bytes], bytes] | None = None
    attributes_edit: Callable[[list[bytes]], list[bytes]] | None = None
    aik_certificate: x509.Certificate | None = None
    aik_spki: bytes | None = None
    aik_plaintext_edit: Callable[[bytes], bytes] | None = None
    envelope_recipient: x509.Certificate | None = None
    envelope_edit: Callable[[bytes], bytes] | None = None
    csr_signer: PrivateKey | None = None
    csr_edit: Callable[[bytes], bytes] | None = None
    cmc_signer: PrivateKey | None = None
    cmc_ski: bytes | None = None
    cmc_certificates: list[x509.Certificate] | None = None
    """The CMC's certificates in this order (default: the AIK's CA certificates and root in DER SET OF order)."""
    cmc_attributes: Callable[[bytes], list[bytes]] | None = None
    cmc_edit: Callable[[bytes], bytes] | None = None
    include_ca_key: bool = True
    id_binding: bool = False
    id_binding_public: TpmtPublic | None = None
    creation_attest_edit: Callable[[TpmsAttest], TpmsAttest] | None = None
    creation_data_edit: Callable[[bytes], bytes] | None = None
    id_binding_signer: PrivateKey | None = None
    id_binding_edit: Callable[[bytes], bytes] | None = None
    trusted_root: x509.Certificate | None = None
    """The root the CA trusts, written as ``tpm_root_ca.pem`` (default: the identity's root): hsmsim's copy of
    the verifier's anchor, never evidence, so a foreign-PKI defect keeps the genuine root there."""
    genuine: GenuineTpm | None = None
    """The real TPM holding the key: it certifies the key by its Windows AIK (the KADS's TPMS_ATTEST, signature
    and the blob's TPMT_PUBLIC as it returned them; ``certified_area``, ``blob_area``, ``attest_edit`` and
    ``certify_signer`` do not apply), the AIK info carries that AIK and its certificate, and the real EK chain is
    written beside the request."""

    def aik_public(self) -> PublicKey:
        """The AIK's public key: the real TPM's Windows AIK, or the emulated identity's."""
        return self.genuine.ak_public if self.genuine is not None else self.identity.key.public_key()

    def binding(self) -> bytes:
        """The idBinding: the AIK's public area and creation data, TPM2_CertifyCreation of the AIK by itself."""
        aik = self.identity.key
        public = self.id_binding_public or self.tpm.ak_public(aik.public_key())
        srk = self.tpm.srk_public().name()
        data = wire.creation_data(srk, qualified_name(u32(TPM_RH_OWNER), srk))
        attest = self.tpm.attest(TpmSt.ATTEST_CREATION, aik.public_key(), b"", self.at,
                                 wire.creation_info(public.name(), hashlib.sha256(data).digest()), Parent.SRK)
        if self.creation_data_edit:
            data = self.creation_data_edit(data)
        if self.creation_attest_edit:
            attest = self.creation_attest_edit(attest)
        attest_bytes = attest.marshal()
        signer = self.id_binding_signer or aik
        signature = tpm_sign(signer, attest_bytes, signing_scheme(signer.public_key()))
        binding = wire.IdBinding(public.marshal(), data, attest_bytes, signature).marshal()
        return self.id_binding_edit(binding) if self.id_binding_edit else binding

    def key_attestation(self) -> bytes:
        """The KAST: TPM2_Certify of the key by the AIK, the AIK's signature and the key's PCP blob."""
        if self.genuine is not None:
            attest_bytes, signature, public = self.genuine.certify(self.qualifying_data, "bare")
        else:
            aik = self.identity.key
            attest = self.tpm.certify_info(self.certified_area or self.area, aik.public_key(), self.qualifying_data,
                                           self.at, Parent.SRK)
            if self.attest_edit:
                attest = self.attest_edit(attest)
            attest_bytes = attest.marshal()
            signer = self.certify_signer or aik
            signature = tpm_sign(signer, attest_bytes, signing_scheme(signer.public_key())).bare()
            public = (self.blob_area or self.area).marshal()
        if self.signature_edit:
            signature = self.signature_edit(signature)
        blob = wire.pcp_key_blob(tpm2b(public), self.private_blob, self.policy_digests)
        kads = wire.kads_bytes(attest_bytes, signature, blob)
        if self.kads_edit:
            kads = self.kads_edit(kads)
        kast = wire.kast_bytes(self.binding() if self.id_binding else b"", kads)
        return self.kast_edit(kast) if self.kast_edit else kast

    def aik_info(self) -> bytes:
        """szOID_ENROLL_AIK_INFO's value: the AIK SPKI and certificate enveloped to the CA exchange certificate."""
        cert = self.aik_certificate or (self.genuine.ak_certificate if self.genuine is not None
                                        else self.identity.certificate)
        plaintext = der_sequence(self.aik_spki or spki_der(self.aik_public()), cert.public_bytes(Encoding.DER))
        if self.aik_plaintext_edit:
            plaintext = self.aik_plaintext_edit(plaintext)
        recipient = self.envelope_recipient or self.ca_certificate
        recipient_key = recipient.public_key()
        assert isinstance(recipient_key, rsa.RSAPublicKey)
        envelope = wire.enveloped_data(plaintext, recipient_key, recipient.issuer.public_bytes(),
                                       recipient.serial_number, self.cek, self.iv, self.oaep_seed)
        return self.envelope_edit(envelope) if self.envelope_edit else envelope

    def request(self) -> bytes:
        """The inner PKCS#10, in Windows's attribute order, signed by the key."""
        spki = spki_der(self.key_public)
        ski = wire.key_identifier(spki)
        statement = self.key_attestation()
        value = self.statement_value(statement) if self.statement_value else der_tlv(wire.OCTETS, statement)
        attributes = [wire.ski_extension_request(ski),
                      wire.attribute_tlv(wire.OID_KSP_NAME, wire.bmp_string(self.ksp_name)),
                      wire.attribute_tlv(wire.OID_STATEMENT, value),
                      wire.attribute_tlv(wire.OID_AIK_INFO, self.aik_info())]
        if self.attributes_edit:
            attributes = self.attributes_edit(attributes)
        subject = name(("C", "US", PRINTABLE), ("CN", self.subject_cn, UTF8)).public_bytes()
        csr = wire.build_csr(self.key_signer, subject, spki, attributes, signer=self.csr_signer)
        return self.csr_edit(csr) if self.csr_edit else csr

    def rendered(self) -> bytes:
        """The request as sent: the CMC Full PKI Request (default) or the bare PKCS#10."""
        csr = self.request()
        if self.output == "pkcs10":
            return csr
        ski = self.cmc_ski or wire.key_identifier(spki_der(self.key_public))
        content = wire.pki_data(csr)
        # The AIK's CA certificates and root in DER SET OF order, as Windows writes them; cmc_certificates as given.
        certificates = ([c.public_bytes(Encoding.DER) for c in self.cmc_certificates]
                        if self.cmc_certificates is not None
                        else der_set_of_order([c.public_bytes(Encoding.DER)
                                               for c in [*self.identity.chain[1:], self.identity.root]]))
        cmc = wire.cmc_request(content, self.cmc_signer or self.key_signer, ski, certificates,
                               self.cmc_attributes(content) if self.cmc_attributes else None)
        return self.cmc_edit(cmc) if self.cmc_edit else cmc

    def evidence(self) -> Evidence:
        """``<label>.kast.cmc`` (or ``.kast.p10``), the CA's exchange key, the emulated root, and a real TPM's EK
        chain (``<label>.ek-chain.pem``)."""
        stem = safe_file_stem(self.label)
        primary = f"{stem}{layout.PKCS10_SUFFIX if self.output == 'pkcs10' else layout.CMC_SUFFIX}"
        files = {primary: self.rendered()}
        if self.include_ca_key:
            files[f"{stem}{layout.CA_KEY_SUFFIX}"] = pkcs8_pem(self.ca_key)
        if self.output == "pkcs10":
            files[f"{stem}{layout.AIK_CA_SUFFIX}"] = b"".join(cert_pem(c) for c in self.identity.chain[1:])
        files[ROOT_FILE] = (self.trusted_root or self.identity.root).public_bytes(Encoding.PEM)
        if self.genuine is not None:
            files[f"{stem}{EK_CHAIN_SUFFIX}"] = self.genuine.ek_chain_pem()
        return Evidence(layout.KAST_FORMAT, files, primary)


def kast_draft_for(request: AttestationRequest, pki_profile: TpmPkiProfile) -> KastDraft:
    """The draft of ``request`` by the request's device's emulated TPM of the hierarchy ``pki_profile`` (its EK). The AK
    certificate, its chain and root come from ``request.attesting``, which must be an AK of that hierarchy (what
    :meth:`TpmAkProvider.profiled` returns); nothing checks it, as the catalogues make defect drafts with foreign AKs.
    Parameters: ``output`` (cmc | pkcs10), ``ksp_name``, ``id_binding`` (true: write the idBinding that real requests
    leave empty). A key in a real TPM (``request.tpm``) is certified there by its Windows AIK (:class:`GenuineTpm`);
    ``id_binding`` is then refused (ParameterError): TPM2_CertifyCreation of that AIK needs the creation ticket of
    its TPM2_Create, which the key store does not keep."""
    params = request.parameters
    output = str(params.get("output", "cmc"))
    if output not in OUTPUTS:
        raise ParameterError.invalid("output", f"one of {', '.join(OUTPUTS)}", params.get("output"))
    if request.key_signer is None or request.key.public_key is None:
        raise UnsupportedKeyError("a key attestation request is signed by the key: it needs an asymmetric key")
    seed, label = request.device.seed, request.key.label
    rng = drbg(seed, f"ms-kast/{request.device.serial}/{label}/{request.at:%Y%m%dT%H%M%S}")
    policy = rng.read(32)
    tpm = EmulatedTpm.for_device(request.device, pki_profile)
    id_binding = flag_parameter(params, "id_binding", False)
    genuine = genuine_tpm(request, tpm, key_name=layout.AIK_NAME, names_device=False, ak_template=AkTemplate.WINDOWS)
    if genuine is not None and id_binding:
        raise ParameterError("id_binding=true cannot be written for a key in a real TPM: TPM2_CertifyCreation of "
                             "its AIK needs the AIK's creation ticket, which the key store does not keep")
    area = genuine.key_public() if genuine is not None else replace(tpm.key_public(request.key), auth_policy=policy)
    public = request.key.public_key
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedKeyError("a TPM key is RSA or ECC")
    key_bytes = public.key_size // 16 if isinstance(public, rsa.RSAPublicKey) else (public.key_size + 7) // 8
    ca_key, ca_cert = ca_exchange(seed)
    return KastDraft(
        tpm=tpm, identity=request.attesting, key_public=request.key.public_key, key_signer=request.key_signer,
        area=area, at=request.at, label=label, subject_cn=str(uuid.UUID(bytes=rng.read(16), version=4)),
        ca_key=ca_key, ca_certificate=ca_cert, cek=rng.read(16), iv=rng.read(16), oaep_seed=rng.read(20),
        private_blob=tpm2b(rng.read(94 + key_bytes)), policy_digests=_policy_digests(rng.read(160)),
        output=output, ksp_name=str(params.get("ksp_name", DEFAULT_KSP)), id_binding=id_binding, genuine=genuine)


# -- verification ---------------------------------------------------------------------------------

def request_der(data: bytes) -> bytes:
    """The request's DER: ``data`` itself, or the body of its one PEM block (CMS, PKCS7 or CERTIFICATE REQUEST)."""
    if not data.lstrip().startswith(b"-----BEGIN"):
        return wire.single_tlv(data, "the request")
    lines = data.strip().splitlines()
    if not lines[-1].startswith(b"-----END"):
        raise Rejected(Reason.MALFORMED, "the PEM request has no END line")
    try:
        der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(Reason.MALFORMED, "the PEM request body is not base64") from None
    return wire.single_tlv(der, "the request")


@dataclass(frozen=True)
class Aik:
    """The AIK as recovered: its SPKI and certificate (when the client sent one)."""

    spki: bytes
    certificate: x509.Certificate | None


@functools.lru_cache(maxsize=64)
def _loaded_ca_key(data: bytes) -> PrivateKeyTypes:
    """The PEM key ``data``, loaded once per process: loading checks an RSA key's consistency (tens of ms), a
    pure function of the bytes; a key that does not load raises and is not remembered."""
    return load_pem_private_key(data, None)


def _ca_keys(evidence: Evidence, trust: TrustAnchors) -> list[rsa.RSAPrivateKey]:
    keys: list[PrivateKeyTypes] = trust.private_keys(layout.ROLE_CA_KEY)
    for file_name, data in sorted(evidence.files.items()):
        if file_name.endswith(layout.CA_KEY_SUFFIX):
            try:
                keys.append(_loaded_ca_key(data))
            except (ValueError, TypeError, UnsupportedAlgorithm):
                raise Rejected(Reason.MALFORMED, f"{file_name} is not an unencrypted PKCS#8 PEM key") from None
    return [k for k in keys if isinstance(k, rsa.RSAPrivateKey)]


def recover_aik(csr: wire.Csr, ca_keys: list[rsa.RSAPrivateKey]) -> Aik | None:
    """The AIK from szOID_ENROLL_AIK_INFO when one of ``ca_keys`` opens it; None when there is no AIK info or it
    is enveloped to another CA."""
    infos = csr.attribute(wire.OID_AIK_INFO)
    if len(infos) > 1:
        raise Rejected(Reason.ATTR_CONFLICT, "the request carries szOID_ENROLL_AIK_INFO twice")
    if not infos or not ca_keys:
        return None
    if len(infos[0].values) != 1:
        raise Rejected(Reason.ATTR_CONFLICT if infos[0].values else Reason.MALFORMED,
                       f"szOID_ENROLL_AIK_INFO holds {len(infos[0].values)} values, not one EnvelopedData")
    envelope = wire.parse_enveloped(infos[0].values[0])
    for key in ca_keys:
        plaintext = wire.open_envelope(envelope, key)
        if plaintext is not None:
            spki, cert_der = wire.aik_info(plaintext)
            cert = None
            if cert_der is not None:
                try:
                    cert = fully_parsed(certificate_from_der(cert_der))  # the machine's, in each of its requests
                except CERT_PARSE_ERRORS:
                    raise Rejected(Reason.MALFORMED, "the AIK certificate in the AIK info does not parse") from None
            return Aik(spki, cert)
    return None


def check_id_binding(binding: wire.IdBinding, aik: PublicKey, certify_signer: bytes) -> None:
    """The idBinding's public area is the AIK, a restricted signing key bound to its TPM (KEY_PURPOSE), which
    signed TPM2_CertifyCreation of itself (SIGNATURE_INVALID; another object: ATTESTATION_KEY_MISMATCH) over
    exactly this creation data (ATTR_CONFLICT). The creation data names the AIK's parent, so its qualified name is
    known: QN(AIK) = H(parentQualifiedName ‖ Name(AIK)) (TPM 2.0 Part 1, Names) must be the qualifiedSigner of
    that CertifyCreation and of the key's certify, ``certify_signer`` (ATTESTATION_KEY_MISMATCH)."""
    area = TpmtPublic.unmarshal(binding.aik_public)
    if area.spki() != spki_der(aik):
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "the idBinding's public area is not the AIK")
    if not is_bound_attestation_key(area):
        raise Rejected(Reason.KEY_PURPOSE, f"the AIK's objectAttributes 0x{int(area.object_attributes):08x} are not "
                                          "a restricted signing key bound to its TPM")
    check_certify_signature(aik, binding.attest, binding.signature.bare(), "the idBinding signature")
    attest = TpmsAttest.unmarshal(binding.attest)
    if (attest.magic != TPM_GENERATED_VALUE or attest.type != TpmSt.ATTEST_CREATION
            or not isinstance(attest.attested, OpaqueAttested)):
        raise Rejected(Reason.MALFORMED, "the idBinding attest is not a TPM-generated TPM_ST_ATTEST_CREATION")
    object_name, creation_hash = wire.read_creation_info(attest.attested.body)
    if object_name != area.name():
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "the idBinding certifies the creation of another key than "
                                                        "the AIK")
    if creation_hash != hash_bytes(area.name_alg, binding.creation_data):
        raise Rejected(Reason.ATTR_CONFLICT, "the idBinding's creationHash is not the hash of its creation data")
    aik_qualified_name = qualified_name(wire.read_parent_qualified_name(binding.creation_data), area.name())
    for signer, what in ((attest.qualified_signer, "the idBinding's TPM2_CertifyCreation"),
                         (certify_signer, "the key's TPM2_Certify")):
        if signer != aik_qualified_name:
            raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, f"{what} names another signer (qualifiedSigner) than the "
                                                            "AIK under the parent its creation data names")


def check_certify_signature(aik: PublicKey, attest: bytes, signature: bytes, what: str = "the KADS signature") -> None:
    """The KADS signature is the AIK's bare RSASSA-SHA256 (or ECDSA DER, SHA-384 on P-384) signature over the
    TPMS_ATTEST."""
    try:
        if isinstance(aik, rsa.RSAPublicKey):
            aik.verify(signature, attest, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(aik, ec.EllipticCurvePublicKey):
            hash_type = hashes.SHA384() if aik.curve.key_size > 256 else hashes.SHA256()
            aik.verify(signature, attest, ec.ECDSA(hash_type))
        else:
            raise Rejected(Reason.UNSUPPORTED, f"an AIK is RSA or ECC, not {type(aik).__name__}")
    except (InvalidSignature, ValueError):
        raise Rejected(Reason.SIGNATURE_INVALID, f"{what} is not the AIK's over its TPMS_ATTEST") from None


def _certificates(ders: Sequence[bytes]) -> list[x509.Certificate]:
    try:
        return [fully_parsed(certificate_from_der(der)) for der in ders]  # the AIK's CAs recur in every request
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, "a CMC certificate does not parse") from None


def _statement(csr: wire.Csr) -> bytes:
    statements = csr.attribute(wire.OID_STATEMENT)
    if not statements:
        raise Rejected(Reason.ATTR_MISSING, "the request carries no szOID_ENROLL_ATTESTATION_STATEMENT "
                                            "(1.3.6.1.4.1.311.21.24)")
    if len(statements) > 1 or len(statements[0].values) > 1:
        raise Rejected(Reason.ATTR_CONFLICT, "the request carries more than one attestation statement")
    if not statements[0].values or statements[0].values[0][:1] != bytes([wire.OCTETS]):
        raise Rejected(Reason.MALFORMED, "the attestation statement is not one OCTET STRING, as Windows wraps it")
    return der_content(statements[0].values[0])


def verify_request(evidence: Evidence, data: bytes, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """The request ``data`` (already bounded) with the files beside it: CMC and CSR signatures, KAST/KADS structure,
    key binding, then the AIK (when recovered) and its chain; raises Rejected."""
    der = request_der(data)
    cmc = wire.parse_cmc(der) if wire.is_content_info(der) else None
    csr = wire.parse_csr(cmc.request if cmc else der)
    key = csr.public_key()
    if not wire.verify_signature(key, csr.signature_algorithm, csr.signature, csr.info):
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "the request's self-signature does not verify")
    if cmc is not None:
        if cmc.sid_ski is not None and cmc.sid_ski != csr.subject_key_identifier():
            raise Rejected(Reason.KEY_MISMATCH, "the CMC signer's key identifier is not the requested key's")
        wire.check_cmc_signature(cmc, key)
    kast = wire.parse_kast(_statement(csr))
    area = TpmtPublic.unmarshal(wire.key_blob_public(kast.key_blob))
    if area.spki() != csr.spki:
        raise Rejected(Reason.KEY_MISMATCH, "the key blob's public area is not the requested key")
    key_attest = TpmsAttest.unmarshal(kast.key_attest)
    certify = check_attest(key_attest, wire.WINDOWS_QUALIFYING_DATA, "Windows's key attestation qualifying data")
    check_attested_name(area, certify)
    check_object_attributes(area)
    binding = wire.IdBinding.unmarshal(kast.id_binding) if kast.id_binding else None
    intermediates = _certificates(cmc.certificates) if cmc else _aik_ca_files(evidence)
    aik = recover_aik(csr, _ca_keys(evidence, trust))
    facts: AkFacts | None = None
    certificate = aik.certificate if aik is not None else None
    certified_key = certificate.public_key() if certificate is not None else None
    if aik is not None and certified_key is not None and spki_der(certified_key) != aik.spki:
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "the AIK info's public key is not its certificate's")
    if certificate is None:
        certificate = next((c for c in trust.get(layout.ROLE_AIK) if _signs(c, kast)), None)
    if certificate is not None:
        # The AIK is the machine's: its certificate recurs in every request the machine makes.
        validate_chain(certificate, intermediates, trust.get("root"), at, recurring_leaf=True)
        facts = check_ak_certificate(certificate, None)
        aik_key = _aik_key(certified_key if certified_key is not None else certificate.public_key())
        check_certify_signature(aik_key, kast.key_attest, kast.signature)
        if binding is not None:
            check_id_binding(binding, aik_key, key_attest.qualified_signer)
    if profile is Profile.STRICT:
        if facts is None:
            raise Rejected(Reason.MISSING_INPUT, "the AIK could not be recovered (enveloped to another CA, or "
                                                 "no CA key given): the TPM signature is not checked")
        if kast.aik_opaque:
            raise Rejected(Reason.UNEXPECTED_CONTENT, "the KAST carries an aikOpaque blob")
        unknown = sorted({a.oid for a in csr.attributes} - set(wire.KNOWN_ATTRIBUTES))
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown request attributes: {', '.join(unknown)[:80]}")
        require_code_signing_key(*area_key_facts(area))
    ksp = csr.attribute(wire.OID_KSP_NAME)
    extra: dict[str, str | bool | int] = {
        "tpm_signature_checked": facts is not None, "key_spki_sha256": hashlib.sha256(csr.spki).hexdigest(),
        "envelope": "cmc" if cmc else "pkcs10"}
    if ksp and ksp[0].values and ksp[0].values[0][:1] == bytes([wire.BMP]):
        extra["ksp_name"] = der_content(ksp[0].values[0]).decode("utf-16-be", "replace")
    claims = tpm_claims(area, facts or AkFacts("", NOT_RECOVERED, "", ""), extra=extra)
    if facts is None:
        aik_ca = check_aik_ca(intermediates, trust, at)
        # The key blob's attributes are the client's word until the AIK's signature over them is checked.
        claims = replace(claims, generated_on_device=None, extractable=None, never_extractable=None, sensitive=None,
                         always_sensitive=None)
        return Verdict(Reason.OK, "Windows key attestation: structure, proof of possession and key binding "
                                  "checked; the AIK is not recovered (enveloped to another CA, or no CA key given): "
                                  f"the request's AIK CA {aik_ca.subject.rfc4514_string()[:80]} chains to a TPM root "
                                  "(a public certificate: the TPM's signature is not checked)", claims)
    return Verdict(Reason.OK, f"TPM key certified by a Windows AIK of {facts.vendor} {facts.model}", claims)


AIK_CA_EKUS = (EKU_AIK_CERTIFICATE, EKU_MS_AIK_CA)
"""The extendedKeyUsage of a Microsoft AIK CA (tcg-kp-AIKCertificate and Microsoft's AIK CA purpose), as every
``EUS-*-KeyId-...`` certificate in the real Surface requests and hsmsim's emulated AIK CA carry it."""


def is_aik_ca(cert: x509.Certificate) -> bool:
    """True for an AIK CA certificate: issued by another CA (not self-issued, so no copy of a root), basicConstraints
    CA:TRUE and extendedKeyUsage naming both :data:`AIK_CA_EKUS`."""
    subject, issuer = name_keys(cert)
    if subject == issuer:
        return False
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, *CERT_PARSE_ERRORS):
        return False
    return basic.ca and all(usage in eku for usage in AIK_CA_EKUS)


def check_aik_ca(certs: Sequence[x509.Certificate], trust: TrustAnchors, at: datetime) -> x509.Certificate:
    """When the AIK is not recovered, the request (the CMC's certificates, or ``.aik-ca.pem`` beside a PKCS#10) must
    still carry an AIK CA certificate (:func:`is_aik_ca`) that chains to a TPM root (the trust anchors of role
    ``root``), as every real request carries Microsoft's under Microsoft TPM Root Certificate Authority 2014: else a
    request made entirely in software, carrying a copy of any anchor or another PKI's CA, would pass. Returns that
    AIK CA. None carried: MISSING_INPUT; none chains: the chain reason of the first by DER, whatever their order.
    The AIK CAs are public certificates, so this bounds which TPM PKI a request claims its AIK from; it proves no
    TPM made the key."""
    aik_cas = [cert for cert in certs if is_aik_ca(cert)]
    if not aik_cas:
        raise Rejected(Reason.MISSING_INPUT, "the AIK is not recovered and the request carries no AIK CA "
                                             "certificate (CA:TRUE, extendedKeyUsage tcg-kp-AIKCertificate and "
                                             "1.3.6.1.4.1.311.21.36, issued by a TPM root) to chain to a trust anchor")

    def chained(aik_ca: x509.Certificate) -> x509.Certificate:
        try:
            validate_chain(aik_ca, [c for c in certs if c is not aik_ca], trust.get("root"), at, recurring_leaf=True)
        except Rejected as rejection:
            raise Rejected(rejection.reason, f"the request's AIK CA: {rejection.detail}") from None
        return aik_ca

    return one_that_passes(aik_cas, chained, lambda cert: cert.public_bytes(Encoding.DER))


def _aik_ca_files(evidence: Evidence) -> list[x509.Certificate]:
    """The AIK's issuing CAs written beside a bare PKCS#10 (``<label>.aik-ca.pem``)."""
    certs: list[x509.Certificate] = []
    for file_name, data in sorted(evidence.files.items()):
        if file_name.endswith(layout.AIK_CA_SUFFIX):
            if data.count(b"-----BEGIN") > wire.MAX_CMC_CERTIFICATES:
                raise Rejected(Reason.LIMIT_EXCEEDED, f"{file_name} holds too many certificates")
            try:
                certs += [fully_parsed(c) for c in x509.load_pem_x509_certificates(data)]
            except CERT_PARSE_ERRORS:
                raise Rejected(Reason.MALFORMED, f"{file_name} is not PEM certificates") from None
    return certs


def _aik_key(key: PublicKeyTypes) -> PublicKey:
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise Rejected(Reason.UNSUPPORTED, f"an AIK is RSA or ECC, not {type(key).__name__}")
    return key


def _signs(cert: x509.Certificate, kast: wire.Kast) -> bool:
    try:
        check_certify_signature(_aik_key(cert.public_key()), kast.key_attest, kast.signature)
    except Rejected:
        return False
    return True


def looks_like_request(head: bytes) -> bool:
    """A CMC Full PKI Request whose request, or a PKCS#10 whose own attributes, carry the KAST attribute."""
    try:
        der = request_der(head)
        csr = wire.parse_csr(wire.parse_cmc(der).request if wire.is_content_info(der) else der)
    except Rejected:
        return False
    return bool(csr.attribute(wire.OID_STATEMENT))


def trust_anchors_from_files(paths: Sequence[Path]) -> TrustAnchors:
    """Certificates (PEM or DER): AIK certificates (EKU tcg-kp-AIKCertificate, CA:FALSE) under ``aik``, the rest
    under ``root``; PKCS#8 private keys (PEM or DER) under ``ca-exchange``. Raises BundleError."""
    budget = ReadBudget()
    roots: list[x509.Certificate] = []
    aiks: list[x509.Certificate] = []
    keys: list[PrivateKeyTypes] = []
    for path in paths:
        data = read_regular_file(path, MAX_TRUST_ANCHOR_BYTES, budget)
        key = _private_key(data, path)
        if key is not None:
            keys.append(key)
            continue
        for cert in TrustAnchors.from_pem_files([path], budget=budget).get():
            (aiks if _is_aik_certificate(cert) else roots).append(cert)
    return TrustAnchors({"root": tuple(roots), layout.ROLE_AIK: tuple(aiks)}, {layout.ROLE_CA_KEY: tuple(keys)})


def _private_key(data: bytes, path: Path) -> PrivateKeyTypes | None:
    """The private key a trust file holds (PEM ``PRIVATE KEY`` or DER PKCS#8), None for a certificate file."""
    if b"-----BEGIN" in data:
        if b"PRIVATE KEY-----" not in data:
            return None
        try:
            return _loaded_ca_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise BundleError(f"{escaped(str(path))} is not an unencrypted PKCS#8 private key") from None
    try:
        return load_der_private_key(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _is_aik_certificate(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return EKU_AIK_CERTIFICATE in eku and not basic.ca

