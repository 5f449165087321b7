"""The ``parsec-tpm`` format: Parsec's TPM key and platform attestation tokens, with the ActivateCredential exchange.

Parsec's AttestKey on a TPM backend (mechanism CertifyAndQuote; CCC ``parsec-evidence-tpm``, as Veraison
verifies it) gives a key attestation token ``kat = {tpmVer, kid, sig, pubArea, certInfo}``: TPM2_Certify of the
key by the default attesting key (the AK), certInfo.extraData = the verifier's nonce, ``sig`` a marshalled
TPMT_SIGNATURE, ``kid`` the identifier by which the verifier knows the AK; and a platform attestation token
``pat = {tpmVer, kid, sig, attestInfo}``: TPM2_Quote of the platform's PCRs by the same AK with the same nonce,
the same ``kid``. Parsec's ``ActivateCredential`` mechanism lets a third party learn that the AK is resident with
the TPM's EK: it runs TPM2_MakeCredential against the EK (from its certificate) for the AK's Name, and the TPM
answers with TPM2_ActivateCredential (``hsmsim.formats.tpm.credential``).

On disk (``docs/formats/tpm.md``): the verifier's record ``<label>.parsec-tpm.json``
(``{"expectedNonce", "kat", "pat"}``, base64 members), the AK chain ``<label>.ak-chain.pem`` (AK certificate,
intermediate), the exchange ``<label>.activate-credential.json`` (the third party's record: EK
certificate, AK public area, the Name it sealed the credential for, the credential, credentialBlob,
secret, and what the TPM released), and the emulated root ``tpm_root_ca.pem``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.checks import require_code_signing_key
from hsmsim.device import AttestationRequest, bytes_parameter, flag_parameter
from hsmsim.encoding import indented_json, spki_der
from hsmsim.errors import ParameterError
from hsmsim.formats.tpm import layout
from hsmsim.formats.tpm.credential import make_credential, release_credential
from hsmsim.formats.tpm.device import EmulatedTpm, signing_scheme, tpm_sign
from hsmsim.formats.tpm.format import ParsecTpmFormat
from hsmsim.formats.tpm.generate import StatementDraft
from hsmsim.formats.tpm.genuine import genuine_tpm
from hsmsim.formats.tpm.layout import TpmPkiProfile
from hsmsim.formats.tpm.marshal import HASH_NAMES, TPM_GENERATED_VALUE, TpmAlg, TpmSt, alg_name, digest_size
from hsmsim.formats.tpm.pki import EKU_EK_CERTIFICATE, ek_certificate
from hsmsim.formats.tpm.statement import (
    area_key_facts,
    check_ak_certificate,
    check_attest,
    check_attested_name,
    check_chain,
    check_object_attributes,
    check_signature,
    is_bound_attestation_key,
    tpm_claims,
)
from hsmsim.formats.tpm.structures import (
    PcrSelection,
    QuoteInfo,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    attest_type_name,
)
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.model.evidence import Evidence, TrustAnchors, safe_file_stem
from hsmsim.pki.chain import CERT_PARSE_ERRORS, fully_parsed, validate_chain
from hsmsim.pki.seed import drbg
from hsmsim.tpm.hierarchy import key_spki
from hsmsim.tpm.pcr import BOOT_PCRS
from hsmsim.verdict import Profile, Reason, Rejected, Verdict
from hsmsim.webauthn.container import parse_json_object

KAT_MEMBERS = ("tpmVer", "kid", "sig", "pubArea", "certInfo")
PAT_MEMBERS = ("tpmVer", "kid", "sig", "attestInfo")
ACTIVATION_MEMBERS = ("ekCertificate", "akPublic", "objectName", "credential", "credentialBlob", "secret")
MAX_CHAIN_CERTS = 4
KID_TYPE = b"\x01"
"""kid = 0x01 ‖ SHA-256(the AK's SubjectPublicKeyInfo): the shape of a Veraison instance id (a CHOICE)."""
_SIGNATURE_ALGS: dict[tuple[int, int], int] = {(TpmAlg.ECDSA, TpmAlg.SHA256): -7, (TpmAlg.ECDSA, TpmAlg.SHA384): -35,
                   (TpmAlg.RSASSA, TpmAlg.SHA256): -257}
"""TPMT_SIGNATURE (sigAlg, hashAlg) → the COSE algorithm the signature check runs."""
QUOTE_PCRS = BOOT_PCRS
"""What the platform token quotes by default: PCRs 0-7, the measured boot up to the OS loader (Parsec quotes the
PCRs its ``root_of_trust`` configuration lists; a boot-state quote typically takes these)."""
PCR_COUNT = 24
"""A PC Client TPM's PCRs per bank (TCG PC Client Platform TPM Profile): what parameter ``pcrs`` may select."""
AK_RESIDENCY_ASSERTED = "record-asserted"
"""Claim ``ak_residency`` of a token with an ActivateCredential record: the record says the TPM released the
credential, which no offline check can confirm (``none`` without a record)."""
QUOTE_AFTER_CERTIFY = timedelta(milliseconds=50)
"""How long after TPM2_Certify the emulated TPM runs TPM2_Quote (Parsec issues them back to back)."""


def key_id(key: PublicKey | PrivateKey) -> bytes:
    """The ``kid`` of an attesting key (its public or private key): 0x01 ‖ SHA-256(DER SubjectPublicKeyInfo)."""
    return _key_id(key_spki(key))


def _key_id(spki: bytes) -> bytes:
    return KID_TYPE + hashlib.sha256(spki).digest()


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()  # base64.b64encode, without its wrapper


def _from_b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise Rejected(Reason.MALFORMED, f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise Rejected(Reason.MALFORMED, f"{what} is not base64") from None


def pem_chain(ders: list[bytes]) -> bytes:
    """PEM armour around each DER entry (as received: entries need not parse)."""
    return "".join(map(_armoured, ders)).encode()


@functools.lru_cache(maxsize=64)
def _armoured(der: bytes) -> str:
    # Remembered: the vector catalogue writes one AK chain into most of its vectors.
    return f"-----BEGIN CERTIFICATE-----\n{_lines_of_64(_b64(der))}\n-----END CERTIFICATE-----\n"


def _lines_of_64(text: str) -> str:
    # What textwrap.fill(text, 64) makes of base64 (no blanks to break at), without its regex machinery.
    return "\n".join(text[start:start + 64] for start in range(0, len(text), 64))


# -- generation ---------------------------------------------------------------------------------

@dataclass(kw_only=True)
class ParsecDraft(StatementDraft):
    """One Parsec key attestation before rendering (see :class:`StatementDraft` for the token's fields).

    ``platform_token`` adds the platform attestation token (:meth:`platform`) quoting ``pcrs``; ``pcr_bank``
    (default: the AK's signing hash), ``quote_signer``, ``quote_kid``, ``quote_extra_data`` and ``attest_info_edit``
    (run before signing) change it. ``activation`` adds the ActivateCredential exchange and ``chain_file`` the AK
    chain. ``make_for_ek`` seals the credential to another EK than the TPM's. ``activation_key`` (a TPMT_PUBLIC) is
    the object the credential is sealed for and the TPM activates with (default: the AK). ``ek_certificate``
    replaces the EK certificate the third party used. ``activation_edit`` and ``record_edit`` edit the JSON before
    it is written.
    """

    signature_encoding: str = "tpmt"
    nonce: bytes
    credential: bytes
    credential_seed: bytes
    oaep_seed: bytes
    expected_nonce: bytes | None = None
    kid: bytes | None = None
    platform_token: bool = True
    pcr_bank: int | None = None
    pcrs: tuple[int, ...] = QUOTE_PCRS
    quote_signer: PrivateKey | None = None
    quote_kid: bytes | None = None
    quote_extra_data: bytes | None = None
    attest_info_edit: Callable[[bytes], bytes] | None = None
    activation: bool = True
    chain_file: bool = True
    make_for_ek: rsa.RSAPublicKey | None = None
    activation_key: TpmtPublic | None = None
    ek_certificate: bytes | None = None
    activation_edit: Callable[[dict[str, Any]], None] | None = None
    record_edit: Callable[[dict[str, Any]], None] | None = None

    def ak_key(self) -> PublicKey:
        """The attesting key's public key (the TPM's own AK for a genuine TPM)."""
        return self.genuine.ak_public if self.genuine is not None else self.identity.key.public_key()

    def _ak(self) -> PublicKey | PrivateKey:
        # The AK's private key where there is one: what names it is encoded once per key, not once per statement.
        return self.genuine.ak_public if self.genuine is not None else self.identity.key

    def token(self) -> tuple[dict[str, Any], list[bytes]]:
        """The key attestation token (JSON members) and the AK chain (DER, leaf first)."""
        statement = self.tpm_statement(lambda _alg: self.nonce)
        kat: dict[str, Any] = {"tpmVer": statement.pop("ver"), "kid": _b64(self.kid or key_id(self._ak()))}
        statement.pop("alg")
        chain = statement.pop("x5c")
        for member, value in statement.items():
            kat[member] = _b64(value) if isinstance(value, bytes) else value
        return kat, chain

    def platform(self) -> dict[str, Any]:
        """The platform attestation token (JSON members): TPM2_Quote by the AK of ``pcrs`` in the bank of
        the AK's signing hash, with qualifyingData = the nonce, :data:`QUOTE_AFTER_CERTIFY` after the kat's
        TPM2_Certify (same TPM, same boot, same hierarchy: the counters are as certInfo's); ``kid`` the kat's. A
        genuine TPM quotes its own PCRs."""
        bank = self.pcr_bank or signing_scheme(self.ak_key()).hash_alg
        assert bank is not None  # an AK's scheme is never NULL
        selections = (PcrSelection.of(bank, self.pcrs),)
        extra = self.quote_extra_data if self.quote_extra_data is not None else self.nonce
        if self.genuine is not None:
            attest_info, sig = self.genuine.quote(selections, extra)
        else:
            ak = self.identity.key
            attest_info = self.tpm.quote_info(selections, ak, extra, self.at + QUOTE_AFTER_CERTIFY).marshal()
            if self.attest_info_edit:
                attest_info = self.attest_info_edit(attest_info)
            signer = self.quote_signer or ak
            sig = tpm_sign(signer, attest_info, signing_scheme(signer.public_key())).marshal()
        return {"tpmVer": "2.0", "kid": _b64(self.quote_kid or key_id(self._ak())), "sig": _b64(sig),
                "attestInfo": _b64(attest_info)}

    def exchange(self) -> dict[str, Any]:
        """The third party's record of MakeCredential against the EK and the TPM's ActivateCredential."""
        ek = self.tpm.ek_key
        assert isinstance(ek, rsa.RSAPrivateKey)
        target = self.activation_key or self.tpm.ak_public(self._ak())
        own_ek = ek.public_key()
        made = make_credential(self.make_for_ek or own_ek, target.name(), self.credential, self.credential_seed,
                               self.oaep_seed)
        # Neither answer needs the RSA private operation: sealed to this TPM's own EK, its OAEP decryption gives
        # back credential_seed and the emulated TPM goes on from there; sealed to another EK, the decryption fails
        # OAEP's checks (but for a chance below 2^-256) and the TPM refuses, as activate_credential would.
        released = (_released_credential(self.credential_seed, target.name(), made.credential_blob)
                    if self.make_for_ek is None or self.make_for_ek == own_ek else None)
        ek_cert = self.ek_certificate or _ek_certificate_der(self.tpm)
        record: dict[str, Any] = {
            "ekCertificate": _b64(ek_cert), "akPublic": _b64(target.marshal()), "objectName": _b64(target.name()),
            "credential": _b64(self.credential), "credentialBlob": _b64(made.credential_blob),
            "secret": _b64(made.secret), "activated": None if released is None else _b64(released)}
        if self.activation_edit:
            self.activation_edit(record)
        return record

    def evidence(self) -> Evidence:
        """``<label>.parsec-tpm.json`` (the pat unless off), ``<label>.ak-chain.pem``, the exchange (unless off), the
        root."""
        stem = safe_file_stem(self.label)
        kat, chain = self.token()
        nonce = self.expected_nonce if self.expected_nonce is not None else self.nonce
        record: dict[str, Any] = {"expectedNonce": _b64(nonce), "kat": kat}
        if self.platform_token:
            record["pat"] = self.platform()
        if self.record_edit:
            self.record_edit(record)
        files = {f"{stem}{layout.PARSEC_RECORD_SUFFIX}": indented_json(record, 2)}
        if self.chain_file:
            files[f"{stem}{layout.AK_CHAIN_SUFFIX}"] = pem_chain(chain)
        if self.activation and self.genuine is None:
            files[f"{stem}{layout.ACTIVATION_SUFFIX}"] = indented_json(self.exchange(), 2)
        files.update(self.beside())
        return Evidence(layout.PARSEC_FORMAT, files, f"{stem}{layout.PARSEC_RECORD_SUFFIX}")


@functools.lru_cache(maxsize=64)
def _released_credential(seed: bytes, object_name: bytes, credential_blob: bytes) -> bytes | None:
    """:func:`release_credential` remembered by its exact inputs, for generation only: the vector catalogue
    repeats one golden exchange for most of its defects."""
    return release_credential(seed, object_name, credential_blob)


@functools.lru_cache(maxsize=16)
def _ek_certificate_der(tpm: EmulatedTpm) -> bytes:
    """The TPM's EK certificate (DER): one per emulated TPM, as a real TPM carries it, issued once per process."""
    return ek_certificate(tpm.pki, tpm.seed, tpm.serial, tpm.ek_key.public_key(), tpm.model,
                          tpm.initialised).public_bytes(Encoding.DER)


def _bytes_parameter(parameters: Mapping[str, object], name: str, minimum: int = 0) -> bytes | None:
    must = f"bytes or base64 text of {minimum} to 64 bytes" if minimum else "bytes or base64 text of at most 64 bytes"
    data = bytes_parameter(parameters, name, lambda text: base64.b64decode(text, validate=True), must)
    if data is not None and not minimum <= len(data) <= 64:  # TPM2B_DATA, TPM2B_DIGEST
        raise ParameterError.invalid(name, must, parameters.get(name))
    return data


_PCR_SPAN = re.compile(r"([0-9]{1,2})(?:-([0-9]{1,2}))?")


def pcr_indices_parameter(parameters: Mapping[str, object], name: str) -> tuple[int, ...] | None:
    """The PCRs parameter ``name`` selects, ascending (None when absent or None): text such as ``0,1,2``, ``0-7,14``
    or ``all`` (PCRs 0-23), one index as an int, or a list of ints. Raises :class:`ParameterError` for anything
    else, an index past 23, a PCR named twice, or no PCR."""
    given = parameters.get(name)
    if given is None:
        return None
    must = f"PCR indices 0-{PCR_COUNT - 1} such as 0,1,2 or 0-7 or all, each once"
    indices: list[int] = []
    if isinstance(given, str):
        text = given.strip().lower()
        items = [f"0-{PCR_COUNT - 1}"] if text == "all" else text.split(",")
        for item in items:
            span = _PCR_SPAN.fullmatch(item.strip())
            if span is None:
                raise ParameterError.invalid(name, must, given)
            low, high = int(span[1]), int(span[2] or span[1])
            if not low <= high < PCR_COUNT:
                raise ParameterError.invalid(name, must, given)
            indices.extend(range(low, high + 1))
    elif isinstance(given, int) and not isinstance(given, bool):
        indices = [given]
    elif isinstance(given, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in given):
        indices = list(given)
    else:
        raise ParameterError.invalid(name, must, given)
    if not indices or len(set(indices)) != len(indices) or not all(0 <= i < PCR_COUNT for i in indices):
        raise ParameterError.invalid(name, must, given)
    return tuple(sorted(indices))


def parsec_draft_for(request: AttestationRequest, pki_profile: TpmPkiProfile) -> ParsecDraft:
    """The draft of ``request`` by the request's device's emulated TPM of the hierarchy ``pki_profile`` (its EK). The AK
    certificate, its chain and root come from ``request.attesting``, which must be an AK of that hierarchy (what
    :meth:`TpmAkProvider.profiled` returns); nothing checks it, as the catalogues make defect drafts with foreign AKs.
    Parameters: ``nonce`` (bytes or base64, :data:`layout.MIN_NONCE_BYTES` to 64 bytes; default derived, 32 bytes),
    ``platform_token`` (default true: the pat), ``pcrs`` (what the pat quotes, :func:`pcr_indices_parameter`;
    default :data:`QUOTE_PCRS`), ``activate_credential`` (default true),
    ``credential`` (the third party's, bytes or base64)."""
    params = request.parameters
    seed, label = request.device.seed, request.key.label
    moment = f"{label}/{request.at:%Y%m%dT%H%M%S}"
    nonce = (_bytes_parameter(params, "nonce", layout.MIN_NONCE_BYTES)
             or drbg(seed, f"parsec-tpm/nonce/{moment}").read(32))
    credential = (_bytes_parameter(params, "credential")
                  or drbg(seed, f"parsec-tpm/credential/{moment}").read(32))
    exchange = drbg(seed, f"parsec-tpm/make-credential/{moment}")
    platform_token = flag_parameter(params, "platform_token", True)
    pcrs = pcr_indices_parameter(params, "pcrs") or QUOTE_PCRS
    activation = flag_parameter(params, "activate_credential", True)
    tpm = EmulatedTpm.for_device(request.device, pki_profile)
    genuine = genuine_tpm(request, tpm, key_name=ParsecTpmFormat.ak_name, names_device=False)
    return ParsecDraft(
        tpm=tpm, identity=request.attesting, at=request.at, label=label, genuine=genuine,
        area=genuine.key_public() if genuine is not None else tpm.key_public(request.key),
        nonce=nonce, credential=credential, credential_seed=exchange.read(32), oaep_seed=exchange.read(32),
        platform_token=platform_token, pcrs=pcrs, activation=activation)


# -- verification -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kat:
    """The decoded key attestation token."""

    tpm_ver: str
    kid: bytes
    sig: bytes
    pub_area: bytes
    cert_info: bytes
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class Pat:
    """The decoded platform attestation token."""

    tpm_ver: str
    kid: bytes
    sig: bytes
    attest_info: bytes
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class ParsecRecord:
    """The verifier's record: the nonce it sent, the kat and the pat (None when the record has none)."""

    expected_nonce: bytes
    kat: Kat
    pat: Pat | None


def _token(doc: dict[str, Any], name: str, members: tuple[str, ...]) -> tuple[str, dict[str, bytes], tuple[str, ...]]:
    """(tpmVer, the other members decoded, the unknown member names) of the token ``name`` of the record."""
    token = doc[name]
    if not isinstance(token, dict):
        raise Rejected(Reason.MALFORMED, f"{name} is not a JSON object")
    for member in members:
        if member not in token:
            raise Rejected(Reason.MISSING_INPUT, f"{name} has no {member}")
    if not isinstance(token["tpmVer"], str):
        raise Rejected(Reason.MALFORMED, f"{name}.tpmVer is not a string")
    values = {m: _from_b64(token[m], f"{name}.{m}") for m in members[1:]}
    return token["tpmVer"], values, tuple(sorted(k for k in token if k not in members))


def read_record(data: bytes) -> ParsecRecord:
    """The record's nonce, kat and pat (MISSING_INPUT for an absent member but pat, MALFORMED, ATTR_CONFLICT,
    LIMIT_EXCEEDED); whether a pat is required is the verifier's to say."""
    doc = parse_json_object(data, "Parsec record", layout.PARSEC_MAX_RECORD_BYTES)
    if "expectedNonce" not in doc:
        raise Rejected(Reason.MISSING_INPUT, "the record has no expectedNonce")
    nonce = _from_b64(doc["expectedNonce"], "expectedNonce")
    if "kat" not in doc:
        raise Rejected(Reason.MISSING_INPUT, "the record has no kat (key attestation token)")
    tpm_ver, values, unknown = _token(doc, "kat", KAT_MEMBERS)
    kat = Kat(tpm_ver, values["kid"], values["sig"], values["pubArea"], values["certInfo"], unknown)
    pat = None
    if "pat" in doc:
        tpm_ver, values, unknown = _token(doc, "pat", PAT_MEMBERS)
        pat = Pat(tpm_ver, values["kid"], values["sig"], values["attestInfo"], unknown)
    return ParsecRecord(nonce, kat, pat)


def load_chain(data: bytes | None) -> list[x509.Certificate]:
    """The AK chain file's certificates (MISSING_INPUT when absent, MALFORMED, LIMIT_EXCEEDED)."""
    if data is None:
        raise Rejected(Reason.MISSING_INPUT, f"no AK chain (<label>{layout.AK_CHAIN_SUFFIX}) beside the record")
    if data.count(b"-----BEGIN") > MAX_CHAIN_CERTS:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the AK chain holds more than {MAX_CHAIN_CERTS} certificates")
    try:
        certs = [fully_parsed(c) for c in x509.load_pem_x509_certificates(data)]
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, "the AK chain is not PEM certificates") from None
    return certs


def check_tpmt_signature(ak: PublicKeyTypes, token: str, signed: bytes, member: str, sig: bytes) -> TpmtSignature:
    """``sig`` (``<token>.sig``) is a TPMT_SIGNATURE (ECDSA/SHA-256|384 or RSASSA/SHA-256) by the AK's public key
    ``ak`` over ``signed`` (``<token>.<member>``); returns it, or raises SIGNATURE_INVALID."""
    try:
        signature = TpmtSignature.unmarshal(sig)
    except Rejected:
        raise Rejected(Reason.SIGNATURE_INVALID, f"{token}.sig is not a marshalled TPMT_SIGNATURE") from None
    alg = _SIGNATURE_ALGS.get((signature.sig_alg, signature.hash_alg))
    if alg is None:
        raise Rejected(Reason.SIGNATURE_INVALID, f"TPMT_SIGNATURE 0x{signature.sig_alg:04x}/"
                                                 f"0x{signature.hash_alg:04x} is not a supported scheme")
    # alg is read off the TPMT_SIGNATURE's scheme, not sent as a COSE alg: a TPM signs with the hash the scheme names,
    # whatever the AK's curve, so the COSE curve pairing does not apply.
    check_signature(ak, alg, signed, signature.bare(), f"{token}.{member}", cose_curve=False)
    return signature


def check_platform_token(pat: Pat, kid: bytes, ak: PublicKeyTypes, nonce: bytes) -> QuoteInfo:
    """The pat of a token whose kat is ``kid`` and signed by ``ak``, made for ``nonce`` (CCC parsec-platform-evidence-
    tpm; Veraison's PAT.Validate): tpmVer "2.0" (UNSUPPORTED); kid the kat's (ATTESTATION_KEY_MISMATCH); sig a
    TPMT_SIGNATURE by the AK over attestInfo (SIGNATURE_INVALID); attestInfo a strict TPMS_ATTEST, magic
    TPM_GENERATED and type ATTEST_QUOTE (MALFORMED), extraData the nonce (CHALLENGE_MISMATCH); a PCR selected
    (ATTR_MISSING), every bank that of the signature's hash (ATTR_CONFLICT), pcrDigest that hash's size (MALFORMED).

    Returns the quote. Its PCR values are not appraised: that needs the platform's reference values."""
    if pat.tpm_ver != "2.0":
        raise Rejected(Reason.UNSUPPORTED, f"pat.tpmVer is {pat.tpm_ver[:10]!r}, not '2.0'")
    if not hmac.compare_digest(pat.kid, kid):
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "pat.kid is not kat.kid: the platform token names another "
                                                        "attesting key")
    signature = check_tpmt_signature(ak, "pat", pat.attest_info, "attestInfo", pat.sig)
    attest = TpmsAttest.unmarshal(pat.attest_info, "pat.attestInfo")
    if attest.magic != TPM_GENERATED_VALUE:
        raise Rejected(Reason.MALFORMED, f"pat.attestInfo.magic is 0x{attest.magic:08x}, not TPM_GENERATED_VALUE")
    if attest.type != TpmSt.ATTEST_QUOTE or not isinstance(attest.attested, QuoteInfo):
        raise Rejected(Reason.MALFORMED, f"pat.attestInfo.type is {attest_type_name(attest.type)}, not "
                                         "TPM_ST_ATTEST_QUOTE: the platform token is no TPM2_Quote")
    if not hmac.compare_digest(attest.extra_data, nonce):
        shown = attest.extra_data.hex()[:16]
        raise Rejected(Reason.CHALLENGE_MISMATCH, f"pat.attestInfo.extraData ({shown}…) is not the verifier's nonce")
    quote = attest.attested
    if not any(selection.indices for selection in quote.selections):
        raise Rejected(Reason.ATTR_MISSING, "the quote selects no PCR: it attests no platform state")
    for selection in quote.selections:
        if selection.hash_alg != signature.hash_alg:
            raise Rejected(Reason.ATTR_CONFLICT, f"the quote's PCR bank {alg_name(selection.hash_alg)} is not the "
                                                 f"signature's hash {alg_name(signature.hash_alg)}")
    if len(quote.pcr_digest) != digest_size(signature.hash_alg):
        raise Rejected(Reason.MALFORMED, f"pcrDigest is {len(quote.pcr_digest)} bytes, not a "
                                         f"{alg_name(signature.hash_alg)} digest")
    return quote


def quote_claims(quote: QuoteInfo) -> dict[str, str | bool | int]:
    """The claims of a checked quote: ``pcr_selection`` (``sha256:0,1,...``, banks joined by ``+``), ``pcr_digest``
    (hex), and ``pcr_values_appraised`` false (hsmsim has no reference values for the PCRs)."""
    selection = "+".join(f"{HASH_NAMES.get(s.hash_alg, alg_name(s.hash_alg))}:"  # type: ignore[call-overload]
                         f"{','.join(map(str, s.indices))}" for s in quote.selections)
    return {"pcr_selection": selection, "pcr_digest": quote.pcr_digest.hex(), "pcr_values_appraised": False}


def check_activation(data: bytes, ak_spki: bytes, intermediates: list[x509.Certificate],
                     anchors: list[x509.Certificate], at: datetime) -> None:
    """The ActivateCredential record is consistent and says the TPM released the credential: what an offline verifier
    can check. It does not prove the AK resident with the EK: only the EK's holder can open credentialBlob and secret
    (TPM 2.0 Part 1 §24), and ``activated`` is written by whoever wrote the record, so the proof is the challenger's
    own comparison at the time of the exchange.

    The EK certificate chains to the root with EKU tcg-kp-EKCertificate; akPublic is a restricted signing
    key bound to its TPM whose key is the AK certificate's (SPKI ``ak_spki``); the credential was sealed for
    akPublic's Name; the TPM released exactly the credential (compared in constant time).
    """
    doc = parse_json_object(data, "ActivateCredential record", layout.PARSEC_MAX_RECORD_BYTES)
    for member in ACTIVATION_MEMBERS:
        if member not in doc:
            raise Rejected(Reason.MISSING_INPUT, f"the ActivateCredential record has no {member}")
    values = {m: _from_b64(doc[m], m) for m in ACTIVATION_MEMBERS}
    try:
        ek_cert = fully_parsed(x509.load_der_x509_certificate(values["ekCertificate"]))
    except CERT_PARSE_ERRORS:
        raise Rejected(Reason.MALFORMED, "ekCertificate is not a DER certificate") from None
    validate_chain(ek_cert, intermediates, anchors, at, recurring_leaf=True)  # the TPM's, in each of its records
    try:
        eku = ek_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = x509.ExtendedKeyUsage([])
    if EKU_EK_CERTIFICATE not in eku:
        raise Rejected(Reason.CERT_EKU, "ekCertificate lacks extendedKeyUsage tcg-kp-EKCertificate (2.23.133.8.1)")
    ek_key = ek_cert.public_key()
    if not isinstance(ek_key, rsa.RSAPublicKey):
        raise Rejected(Reason.UNSUPPORTED, "only an RSA EK is supported for ActivateCredential")
    area = TpmtPublic.unmarshal(values["akPublic"])
    if area.spki() != ak_spki:
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "akPublic is not the AK certificate's key")
    if not is_bound_attestation_key(area):
        raise Rejected(Reason.KEY_PURPOSE, f"akPublic objectAttributes 0x{int(area.object_attributes):08x} are not a "
                                          "restricted signing key bound to its TPM: it could sign forged TPMS_ATTEST")
    if values["objectName"] != area.name():
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "the credential was sealed for another Name than akPublic's")
    if len(values["secret"]) != ek_key.key_size // 8:
        raise Rejected(Reason.MALFORMED, "secret is not an RSA-OAEP ciphertext for the EK's modulus")
    activated = doc.get("activated")
    if activated is None:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "the TPM did not release the credential (ActivateCredential "
                                                  "failed): the AK is not shown to be resident with the EK")
    if not hmac.compare_digest(_from_b64(activated, "activated"), values["credential"]):
        raise Rejected(Reason.CHALLENGE_MISMATCH, "the TPM released another credential than the one sealed")


def verify_parsec_files(evidence: Evidence, record: bytes, trust: TrustAnchors, at: datetime, profile: Profile,
                        min_nonce: int) -> Verdict:
    """The token (already bounded) with the AK chain and ActivateCredential record beside it: chain, kid,
    TPMT_SIGNATURE, certInfo, pubArea, the platform token, then the exchange; an expectedNonce shorter than
    ``min_nonce`` bytes is CHALLENGE_MISMATCH. Raises Rejected."""
    parsed = read_record(record)
    kat, pat = parsed.kat, parsed.pat
    if kat.tpm_ver != "2.0":
        raise Rejected(Reason.UNSUPPORTED, f"kat.tpmVer is {kat.tpm_ver[:10]!r}, not '2.0'")
    stem = evidence.primary.removesuffix(layout.PARSEC_RECORD_SUFFIX)
    chain = load_chain(evidence.files.get(f"{stem}{layout.AK_CHAIN_SUFFIX}"))
    if not chain:
        raise Rejected(Reason.MISSING_INPUT, "the AK chain file holds no certificate")
    check_chain(chain, trust.get("root"), at, recurring_leaf=True)  # the AK certifies each key of its TPM
    facts = check_ak_certificate(chain[0], None)
    ak_key = chain[0].public_key()
    ak_spki = spki_der(ak_key)
    if not hmac.compare_digest(kat.kid, _key_id(ak_spki)):
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH, "kat.kid does not identify the AK certificate's key")
    check_tpmt_signature(ak_key, "kat", kat.cert_info, "certInfo", kat.sig)
    if len(parsed.expected_nonce) < min_nonce:
        raise Rejected(Reason.CHALLENGE_MISMATCH, f"expectedNonce is {len(parsed.expected_nonce)} bytes, fewer than "
                                                  f"{min_nonce}: no verifier's challenge, the token is not shown fresh")
    certify = check_attest(TpmsAttest.unmarshal(kat.cert_info), parsed.expected_nonce, "the verifier's nonce")
    area = TpmtPublic.unmarshal(kat.pub_area)
    check_attested_name(area, certify)
    check_object_attributes(area)
    if pat is None:
        raise Rejected(Reason.MISSING_INPUT, "the record has no pat: Parsec's evidence carries a platform "
                                             "attestation token beside the kat")
    quote = check_platform_token(pat, kat.kid, ak_key, parsed.expected_nonce)
    activation = evidence.files.get(f"{stem}{layout.ACTIVATION_SUFFIX}")
    if activation is not None:
        check_activation(activation, ak_spki, chain[1:], trust.get("root"), at)
    if profile is Profile.STRICT:
        if activation is None:
            raise Rejected(Reason.MISSING_INPUT, "no ActivateCredential record: nothing says a challenger saw the "
                                                 "AK activate a credential sealed to a certified EK")
        for name, unknown in (("kat", kat.unknown), ("pat", pat.unknown)):
            if unknown:
                raise Rejected(Reason.UNEXPECTED_CONTENT, f"unknown {name} members: {', '.join(unknown)[:80]}")
        require_code_signing_key(*area_key_facts(area))
    proof = ("AK residency with the EK asserted by the ActivateCredential record, not verifiable offline"
             if activation is not None else "no ActivateCredential")
    claims = {**quote_claims(quote), "ak_residency": AK_RESIDENCY_ASSERTED if activation is not None else "none"}
    return Verdict(Reason.OK, f"TPM key certified by an AK of {facts.vendor} {facts.model} ({proof}); PCRs "
                              f"{claims['pcr_selection']} quoted, not appraised", tpm_claims(area, facts, extra=claims))
