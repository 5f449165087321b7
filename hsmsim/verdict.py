"""Verdicts, reason codes and normalised claims shared by every attestation format.

A reference verifier returns a :class:`Verdict`; it never raises on bad evidence.
``Reason`` is closed: a verifier maps every rejection to exactly one member, so
"rejected for the wrong reason" is observable by the harness.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

MAX_SHOWN_DIGITS = 40
"""Integers with more decimal digits than this are shown by size only (see :func:`shown_int`)."""


def shown_int(value: int) -> str:
    """``value`` in decimal, or ``<N-bit integer>`` when it is too long to be worth printing.

    Every message that shows an integer taken from evidence goes through this: Python refuses to
    turn an integer of more than 4,300 digits into a string (``ValueError``), and a 500-digit
    number in a one-line verdict helps nobody.
    """
    if value.bit_length() > MAX_SHOWN_DIGITS * 3:  # 2**120 has 37 digits: always short enough
        return f"<{value.bit_length()}-bit integer>"
    return str(value)


def escaped(text: str) -> str:
    """``text`` with every character that is not printable (controls, line and paragraph separators,
    lone surrogates, ...) written as a backslash escape, so it prints as one line in any encoding
    that holds the rest of ``text``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class Reason(enum.StrEnum):
    """Why evidence was accepted or rejected. The wire value equals the name."""

    OK = "OK"
    """Every check of the selected profile passed."""
    MALFORMED = "MALFORMED"
    """The evidence cannot be parsed, or its structure breaks the format (DTD, comment, bad base64, non-DER where
    DER is required, a field of the wrong width such as a CK_ULONG that is not 4 bytes, an extension repeated in a
    chain certificate (RFC 5280 4.2), ...). Also an ambiguous bundle: two different files for one role the format
    reads once (two files of one base name in different folders, two CSRs, two request files, two nonce files),
    which is rejected, never resolved by the order of the files; the detail names two of the candidates. Copies of
    one file (the same bytes) are not ambiguous (``hsmsim.checks.one_file``, ``hsmsim.checks.by_base_name``)."""
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    """A size, count, depth or expansion bound was hit before the evidence could be checked."""
    MISSING_INPUT = "MISSING_INPUT"
    """A file the format requires (signature, chain, CSR, ...) is absent from the bundle."""
    UNSUPPORTED = "UNSUPPORTED"
    """The evidence uses an algorithm or variant the verifier does not implement."""
    CHAIN_INCOMPLETE = "CHAIN_INCOMPLETE"
    """No certificate in the bundle or trust store carries the name of a chain element's issuer, and the path
    has a gap: the element is the leaf itself (a leaf without its intermediate), or the bundle still holds
    certificates the path from the leaf did not reach. When the path has used up every certificate of the bundle
    and its top names an issuer that is no anchor, the reason is CHAIN_UNTRUSTED instead."""
    CHAIN_UNTRUSTED = "CHAIN_UNTRUSTED"
    """The chain ends at a certificate that is not one of the trust anchors: a self-signed certificate that is no
    anchor (e.g. the bundle's copy of a wrong root), or the top of a used-up bundle (every bundle certificate is on
    the path, at least one above the leaf) whose named issuer is no anchor, which is what a wrong root gives
    whether or not the bundle carries its own root copy. Also: no trust anchor given."""
    CERT_SIGNATURE_INVALID = "CERT_SIGNATURE_INVALID"
    """A certificate names its issuer, but the issuer's key did not sign it."""
    CERT_EXPIRED = "CERT_EXPIRED"
    """A chain certificate's notAfter is before the validation time, or an attested key's stated expiry is (the
    ``expiry`` claim of a PKIX Evidence key entity: the time after which the key is not to be used)."""
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    """A chain certificate's notBefore is after the validation time."""
    CERT_NOT_CA = "CERT_NOT_CA"
    """An issuing certificate lacks basicConstraints CA:TRUE or keyCertSign."""
    CERT_PATH_LENGTH = "CERT_PATH_LENGTH"
    """An issuing certificate's pathLenConstraint is exceeded."""
    CERT_KEY_USAGE = "CERT_KEY_USAGE"
    """A certificate's keyUsage does not fit its role: the attestation certificate may not sign, or an
    attested key's certificate grants usages no key permission allows or its key type cannot do."""
    CERT_UNKNOWN_CRITICAL = "CERT_UNKNOWN_CRITICAL"
    """A chain certificate carries a critical extension the verifier does not understand."""
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    """The attestation signature does not verify with the attestation certificate's key."""
    ATTESTATION_KEY_MISMATCH = "ATTESTATION_KEY_MISMATCH"
    """A loose attestation public key in the bundle differs from the attestation certificate's key."""
    CSR_SIGNATURE_INVALID = "CSR_SIGNATURE_INVALID"
    """The CSR's self-signature does not verify (no proof of possession)."""
    KEY_MISMATCH = "KEY_MISMATCH"
    """The attested public key differs from the key the CSR (or certificate) asks to certify."""
    ATTR_MISSING = "ATTR_MISSING"
    """An attribute the verdict depends on is absent from the evidence."""
    ATTR_CONFLICT = "ATTR_CONFLICT"
    """An attribute (a member, claim, key attribute or authorization entry the verdict reads, including an
    attestation statement's claim extension) appears more than once, or contradicts another attribute. An
    extension repeated in a chain certificate is MALFORMED instead (RFC 5280 4.2 forbids it)."""
    ATTR_NOT_LOCAL = "ATTR_NOT_LOCAL"
    """The key was not generated on the device (imported, unwrapped or derived from outside)."""
    ATTR_EXTRACTABLE = "ATTR_EXTRACTABLE"
    """The key is extractable."""
    ATTR_NOT_NEVER_EXTRACTABLE = "ATTR_NOT_NEVER_EXTRACTABLE"
    """The key was extractable at some point in its life."""
    ATTR_NOT_SENSITIVE = "ATTR_NOT_SENSITIVE"
    """The key is not sensitive (strict profile)."""
    ATTR_NOT_ALWAYS_SENSITIVE = "ATTR_NOT_ALWAYS_SENSITIVE"
    """The key was not sensitive at some point in its life (strict profile)."""
    KEY_POLICY = "KEY_POLICY"
    """The attested key's type or size is not allowed by the profile (e.g. CA/B Forum code signing)."""
    UNEXPECTED_CONTENT = "UNEXPECTED_CONTENT"
    """The evidence carries elements the strict profile does not allow."""
    CERT_EKU = "CERT_EKU"
    """A chain certificate's extendedKeyUsage lacks the purpose its position requires, or carries one
    reserved for another position (e.g. Thales Luna's 1.3.6.1.4.1.12383.1.x roles)."""
    CERT_POLICY = "CERT_POLICY"
    """A chain certificate lacks a certificate policy (or enrollment policy item) the format requires."""
    CERT_PROFILE = "CERT_PROFILE"
    """A certificate breaks the profile of its role: e.g. a TPM AK certificate with a subject, CA:TRUE, no
    critical TCG subjectAltName, or a tpmManufacturer outside the TCG vendor registry."""
    CERT_REVOKED = "CERT_REVOKED"
    """A chain certificate is revoked or suspended in the status list the verifier was given
    (e.g. Google's Android attestation status list)."""
    CHALLENGE_MISMATCH = "CHALLENGE_MISMATCH"
    """The evidence is not bound to the verifier's freshness value: the nonce, attestation challenge or
    WebAuthn challenge differs from the one the relying party issued, or a TPM extraData is not the hash the
    verifier computes."""
    RELYING_PARTY_MISMATCH = "RELYING_PARTY_MISMATCH"
    """The evidence was made for another relying party: the WebAuthn origin or rpIdHash differs from the
    expected one."""
    KEY_PURPOSE = "KEY_PURPOSE"
    """The attested key's authorised uses do not fit what it is attested for: it may not sign, it is a
    restricted TPM key (signs only TPM-generated data), or it may also serve purposes or applications the
    profile forbids (e.g. an Android key without purpose SIGN)."""
    SECURITY_LEVEL = "SECURITY_LEVEL"
    """The evidence says the key or its attestation lives in software, not in the secure hardware the
    verdict depends on (e.g. Android attestationSecurityLevel Software)."""
    DEVICE_INTEGRITY = "DEVICE_INTEGRITY"
    """The attesting device reports a boot state the profile does not trust (e.g. Android rootOfTrust:
    bootloader unlocked, verified boot not Verified)."""
    ATTR_ACCESS_POLICY = "ATTR_ACCESS_POLICY"
    """The attested key's access policy is weaker than the relying party asked for: e.g. a YubiKey PIV key
    usable without its PIN, or without a touch, where the request requires one."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """The verifier raised instead of deciding: always a bug in hsmsim, never a property of the evidence.
    The detail names the exception class. Only :func:`hsmsim.formats.verify_guarded` returns it."""


class Profile(enum.StrEnum):
    """Policy applied on top of the cryptographic checks."""

    STRUCTURAL = "structural"
    """The vendor's documented checks: chain, signature, key binding, generated on device,
    extractable=false, never_extractable=true. Unknown extra content is tolerated."""
    STRICT = "strict"
    """STRUCTURAL plus sensitive/always_sensitive, no unknown content, and the CA/B Forum
    code-signing key rules (RSA >= 3072 bits, ECDSA P-256/P-384; no Ed25519, no secret keys)."""


@dataclass(frozen=True)
class Claims:
    """What a verifier established about the attested key, the same shape for every format.

    ``None`` means the evidence does not say.
    """

    spki_der: bytes | None
    key_type: str
    key_size: int | None
    generated_on_device: bool | None
    extractable: bool | None
    never_extractable: bool | None
    sensitive: bool | None
    always_sensitive: bool | None
    vendor: str
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    fips_level: str | None = None
    label: str | None = None
    extra: Mapping[str, str | bool | int] = field(default_factory=dict, hash=False)
    """Format-specific facts a caller may act on, e.g. ms-kast's ``tpm_signature_checked`` (whether the TPM's
    certification signature was verified or could not be, the AIK being enveloped to another CA)."""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict; the SPKI is hex; ``extra`` only when a format set it."""
        data = asdict(self)
        data["spki_der"] = self.spki_der.hex() if self.spki_der is not None else None
        if self.extra:
            data["extra"] = dict(self.extra)
        else:
            del data["extra"]
        return data


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one piece of evidence.

    ``accepted`` is True exactly when ``reason`` is ``Reason.OK``.
    """

    reason: Reason
    detail: str = ""
    claims: Claims | None = field(default=None, compare=False)

    @property
    def accepted(self) -> bool:
        """True when every check of the profile passed."""
        return self.reason is Reason.OK

    def summary(self) -> str:
        """One human line: ``ACCEPT`` or ``REJECT <REASON>: detail``, the detail :func:`escaped`."""
        if self.accepted:
            return "ACCEPT"
        return f"REJECT {self.reason.value}: {escaped(self.detail)}" if self.detail else f"REJECT {self.reason.value}"

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (verdict, reason, detail, claims) that ``json.dumps`` always encodes as valid
        UTF-8 JSON: a lone surrogate in the detail is written as its backslash escape text."""
        return {
            "verdict": "ACCEPT" if self.accepted else "REJECT",
            "reason": self.reason.value,
            "detail": self.detail.encode("utf-8", "backslashreplace").decode("utf-8"),
            "claims": self.claims.to_json() if self.claims else None,
        }


class Rejected(Exception):  # noqa: N818 - control flow inside verifiers, never escapes verify()
    """Raised by a check to stop verification with a reason; caught by the format's ``verify``."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[Rejected], tuple[Reason, str]]:
        return (Rejected, (self.reason, self.detail))  # picklable across worker processes
