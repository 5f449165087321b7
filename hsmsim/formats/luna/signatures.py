"""Signature checks of the Luna verifier: RSA PKCS#1 v1.5 and ECDSA over SHA-1/2, read leniently.

ECDSA ``r`` and ``s`` are read as unsigned, as the lenient link check of
``shared/interop/README.md`` prescribes, so Luna's unpadded ``s`` (and its NULL parameters in
ecdsa-with-SHA*) are reported as quirks, not rejected here (the strict profile then refuses a
non-DER ``r`` or ``s``: :mod:`hsmsim.formats.luna.verify`). Failures raise
:class:`hsmsim.verdict.Rejected` (MALFORMED, UNSUPPORTED); a signature that does not verify is a
``False`` result.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from hsmsim.formats.luna.der_reader import Algorithm, children, expect, parse_document
from hsmsim.verdict import Reason, Rejected

SHA1_WITH_RSA = "1.2.840.113549.1.1.5"
_SIGNATURES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    SHA1_WITH_RSA: ("rsa", hashes.SHA1),
    "1.2.840.113549.1.1.11": ("rsa", hashes.SHA256),
    "1.2.840.113549.1.1.12": ("rsa", hashes.SHA384),
    "1.2.840.113549.1.1.13": ("rsa", hashes.SHA512),
    "1.2.840.10045.4.3.2": ("ecdsa", hashes.SHA256),
    "1.2.840.10045.4.3.3": ("ecdsa", hashes.SHA384),
    "1.2.840.10045.4.3.4": ("ecdsa", hashes.SHA512),
}


def load_public_key(spki: bytes, what: str) -> PublicKeyTypes:
    """A cryptography public key from DER SPKI; MALFORMED if it does not load."""
    try:
        return serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm, TypeError) as exc:
        raise Rejected(Reason.MALFORMED, f"{what}: public key does not load: {exc}") from None


def _ecdsa_signature(signature: bytes, what: str) -> tuple[bytes, set[str]]:
    node = parse_document(signature, what)
    parts = children(expect(node, 0x30, what), what)
    if len(parts) != 2:
        raise Rejected(Reason.MALFORMED, f"{what}: ECDSA-Sig-Value must hold r and s")
    flags: set[str] = set()
    values = []
    for label, part in zip("rs", parts, strict=True):
        raw = expect(part, 0x02, f"{what} {label}").value
        if not raw:
            raise Rejected(Reason.MALFORMED, f"{what}: empty ECDSA {label}")
        if raw[0] & 0x80:
            flags.add(f"ecdsa-{label}-unpadded")
        elif len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80:
            flags.add(f"ecdsa-{label}-not-minimal")
        values.append(int.from_bytes(raw, "big"))
    return encode_dss_signature(values[0], values[1]), flags


def check_signature(message: bytes, signature: bytes, algorithm: Algorithm, signer_spki: bytes,
                    what: str) -> tuple[bool, frozenset[str]]:
    """Whether ``signature`` over ``message`` verifies with the key ``signer_spki``, and the quirks seen.

    ECDSA integers are read as unsigned (Luna's unpadded ``s`` is reported, not rejected).
    Raises UNSUPPORTED for algorithms outside RSA PKCS#1 v1.5 and ECDSA with SHA-1/2.
    """
    known = _SIGNATURES.get(algorithm.oid)
    if known is None:
        raise Rejected(Reason.UNSUPPORTED, f"{what}: signature algorithm {algorithm.oid} is not supported")
    family, hash_cls = known
    key = load_public_key(signer_spki, what)
    flags: set[str] = set()
    try:
        if family == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hash_cls())
        elif family == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            if algorithm.null_params:
                flags.add("ecdsa-null-params")
            der, quirks = _ecdsa_signature(signature, f"{what} signature")
            flags |= quirks
            key.verify(der, message, ec.ECDSA(hash_cls()))
        else:
            return False, frozenset(flags)
    except (InvalidSignature, ValueError):  # ValueError: e.g. a digest too large for a tiny RSA key
        return False, frozenset(flags)
    return True, frozenset(flags)
