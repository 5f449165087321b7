"""The ACME ``device-attest-01`` statement in the WebAuthn ``android-key`` format (step-ca's variant).

The client answers the challenge with an attestation object ``{"fmt": "android-key", "attStmt": {"alg",
"sig", "x5c"}}`` (CBOR; authData omitted, as draft-ietf-acme-device-attest allows). The key was
generated with ``attestationChallenge = keyAuthorization`` (``token "." base64url(JWK thumbprint)``),
and ``sig`` is the attested key's ES256 (P-256) or RS256 signature over the keyAuthorization, i.e. over
SHA-256(keyAuthorization) (``shared/specs/round2_formats.md`` 2.4).

Evidence files: ``<label>.attobj`` (the CBOR), ``<label>.keyauth`` (the keyAuthorization the ACME
server computed), ``<label>.identifier`` (the value of the order's ``permanent-identifier``, UTF-8 text) and
``<label>.csr`` (the finalize CSR, PEM or DER), as tpm-acme and apple-acme hold the same roles. The device
names itself by device ID attestation: ``hardwareEnforced.attestationIdSerial`` [713], which step-ca compares
with the order's identifier (``shared/specs/round2_formats.md`` 2.4); the draft's CA "verifies the identifier
matches the attested device" and, at finalize, that the CSR requests the attested key
(``shared/specs/other_formats.md`` 4.3).

Its verification is :mod:`hsmsim.formats.android.acme_verify`'s, imported by the format's hooks alone: making
vectors needs none of the verifier.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import AttestationRequest, ForwardedParameters
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.android import cbor
from hsmsim.formats.android.generate import generate_evidence
from hsmsim.formats.android.layout import ATTOBJ_SUFFIX, CSR_SUFFIX, IDENTIFIER_SUFFIX, KEYAUTH_SUFFIX, ROOTS_FILE
from hsmsim.formats.android.options import AndroidOptions
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, build_csr, name
from hsmsim.pki.seed import drbg
from hsmsim.verdict import Reason, Rejected
from hsmsim.webauthn.acme import MIN_TOKEN_BYTES, check_token

FORMAT = "android-acme"
COSE_ES256 = -7
COSE_RS256 = -257


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_authorization(seed: str, label: str, at: datetime) -> bytes:
    """A keyAuthorization as an ACME server computes it: a token and the account key's thumbprint,
    both derived from the seed (the thumbprint per seed, the token per key and time)."""
    token = _b64url(drbg(seed, f"android/acme/token/{label}/{at.isoformat()}").read(32))
    thumbprint = _b64url(drbg(seed, "android/acme/account-thumbprint").read(32))
    return f"{token}.{thumbprint}".encode()


def check_key_authorization_token(key_auth: bytes) -> None:
    """The token of ``key_auth`` (``token "." thumbprint``: what precedes the first ``.``) is canonical base64url of
    at least :data:`~hsmsim.webauthn.acme.MIN_TOKEN_BYTES` bytes; else CHALLENGE_MISMATCH
    (:func:`~hsmsim.webauthn.acme.check_token`)."""
    try:
        token = key_auth.decode("ascii").split(".", 1)[0]
    except UnicodeDecodeError:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "the keyAuthorization is not ASCII text") from None
    check_token(token, "the keyAuthorization's token")


def sign_key_authorization(key: PrivateKey, key_auth: bytes) -> tuple[int, bytes]:
    """``(alg, sig)``: ES256 (deterministic ECDSA) for P-256 keys, RS256 for RSA keys."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return COSE_ES256, key.sign(key_auth, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    if isinstance(key, rsa.RSAPrivateKey):
        return COSE_RS256, key.sign(key_auth, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError("device-attest-01 android-key statements are ES256 (P-256) or RS256 (RSA)")


def attestation_object(x5c: list[bytes], alg: int, sig: bytes, *, fmt: str = "android-key",
                       extra: Mapping[str, object] | None = None) -> bytes:
    """The CBOR attestation object (authData omitted) of the chain ``x5c`` (DER, leaf first): ``fmt``, ``attStmt``,
    then the ``extra`` members (a member of the same name as one before replaces its value in place), in that order.
    Vectors pass another ``fmt`` or ``extra``; a device writes neither."""
    return cbor.encode({"fmt": fmt, "attStmt": {"alg": alg, "sig": sig, "x5c": x5c}, **(extra or {})})


def finalize_csr(signer: PrivateKey, label: str) -> bytes:
    """The finalize CSR (PEM) a client sends for the attested key: ``CN=<label>``, signed by that key."""
    return build_csr(name(("CN", label, UTF8)), signer).public_bytes(Encoding.PEM)


def generate_acme_evidence(request: AttestationRequest, options: AndroidOptions) -> Evidence:
    """``<label>.attobj``, ``<label>.keyauth``, ``<label>.identifier`` and ``<label>.csr`` for the request's key (a
    P-256 or RSA key), the KeyDescription attesting the device's serial (``options.attest_serial`` set).

    Parameters: ``key_authorization`` (text, ``token.thumbprint`` with a token of at least 16 bytes, else
    :class:`ParameterError`) replaces the derived one, ``identifier`` (text; default: the device's
    serial) the order's identifier; the others are ``android-key``'s.
    """
    signer = request.key_signer
    if not isinstance(signer, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) or (
            isinstance(signer, ec.EllipticCurvePrivateKey) and signer.curve.name != "secp256r1"):
        raise UnsupportedKeyError("ACME android-key statements sign with ES256 (P-256) or RS256 (RSA) keys")
    given = request.parameters.get("key_authorization")
    key_auth = str(given).encode() if given is not None else key_authorization(
        request.device.seed, request.key.label, request.at)
    try:
        check_key_authorization_token(key_auth)
    except Rejected:
        raise ParameterError.invalid("key_authorization", f"token.thumbprint, the token canonical base64url of at "
                                     f"least {MIN_TOKEN_BYTES} bytes", given) from None
    parameters = ForwardedParameters(request.parameters, override={"challenge": key_auth.decode()})
    chain_request = AttestationRequest(request.device, request.partition, request.key, signer, request.attesting,
                                       parameters, request.at)
    chain = generate_evidence(chain_request, replace(options, attest_serial=True))
    x5c = [cert.public_bytes(Encoding.DER) for cert in x509.load_pem_x509_certificates(chain.files[chain.primary])]
    alg, sig = sign_key_authorization(signer, key_auth)
    stem = safe_file_stem(request.key.label)
    identifier = str(request.parameters.get("identifier") or request.device.serial).encode()
    return Evidence(FORMAT, {f"{stem}{ATTOBJ_SUFFIX}": attestation_object(x5c, alg, sig),
                             f"{stem}{KEYAUTH_SUFFIX}": key_auth, f"{stem}{IDENTIFIER_SUFFIX}": identifier,
                             f"{stem}{CSR_SUFFIX}": finalize_csr(signer, request.key.label),
                             ROOTS_FILE: chain.files[ROOTS_FILE]},
                    f"{stem}{ATTOBJ_SUFFIX}")
