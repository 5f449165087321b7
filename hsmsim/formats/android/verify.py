"""The Android key attestation reference verifier: chain + challenge + status list -> Verdict.

Order of the checks (each raises :class:`Rejected` at the first failure):

1. inputs and bounds; the certificates parse;
2. exactly the leaf carries the KeyDescription (ATTR_MISSING; another certificate with one: ATTR_CONFLICT,
   the ``CHAIN_EXTENDED_WITH_FAKE_ATTESTATION_EXTENSION`` of android/keyattestation);
3. the chain validates to a pinned root at the validation time, in leaf-to-root order, every file
   certificate on the path (a trailing copy of the root, any issue with its name and key, is allowed);
   the leaf's issuer (the attestation key's certificate) is an issuer by position, CA:TRUE not required;
   no certificate is REVOKED or SUSPENDED in the status list when one is given (CERT_REVOKED);
4. the KeyDescription parses (``strict``: DER, tags ascending, no unknown tag) and its version is known;
5. the security levels, decided by the root the chain ends at. The attestation level is never above the
   KeyMint level (ATTR_CONFLICT). Under a hardware root both agree (ATTR_CONFLICT) and are TEE or StrongBox
   (SECURITY_LEVEL). Under a known Android software attestation root (its SPKI SHA-256: Google's RSA or EC
   root, or hsmsim's emulation of either) the attestation level is Software (else SECURITY_LEVEL), KeyMint
   may be higher (a Keymaster 1 TEE key attested by the keystore's software), and the key is attested at
   Software: structural accepts it, saying so in the claims, strict rejects it (SECURITY_LEVEL);
6. the challenge equals the one the relying party issued (CHALLENGE_MISMATCH; strict: it must be given);
7. from ``hardwareEnforced`` only: origin GENERATED, purpose SIGN, no allApplications, algorithm and
   size match the leaf's key, rootOfTrust present (a software attestation may lack it);
8. strict: the leaf's keyUsage allows signing, no purpose beyond SIGN/VERIFY, device locked with verified
   boot (Verified or SelfSigned), and the CA/B Forum code-signing key rule.

An accepting verdict's detail is ``key=value`` pairs (see ``docs/formats/android.md``): security level
(the KeyMint level too when it differs), versions, origin, purposes, boot state, device lock, OS version and
patch levels, the calling app. The claims' ``extra`` ``security_level`` is the level the key is attested at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa

from hsmsim.checks import one_file, require_code_signing_key
from hsmsim.encoding import canonical_pem_ders, der_content, der_oid, key_facts, spki_der
from hsmsim.formats.android.generate import MAX_CHALLENGE_BYTES
from hsmsim.formats.android.keydescription import (
    KNOWN_ATTESTATION_VERSIONS,
    Algorithm,
    AuthorizationList,
    EcCurve,
    KeyDescription,
    MlDsaVariant,
    Origin,
    Purpose,
    SecurityLevel,
    VerifiedBootState,
    parse_key_description,
    patch_level_text,
)
from hsmsim.formats.android.layout import (
    CHAIN_SUFFIXES,
    CHALLENGE_SUFFIX,
    OID_KEY_DESCRIPTION,
    STATUS_FILE,
    key_description_der,
)
from hsmsim.formats.android.status import check_revocation, read_status_list
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import (
    CERT_PARSE_ERRORS,
    ChainPolicy,
    fully_parsed,
    name_keys,
    remember_recurring,
    require_key_usage,
    shared_certificate,
    subject_text,
    validate_chain,
)
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

MAX_CHAIN_BYTES = 256 * 1024
MAX_CHAIN_CERTIFICATES = 8
_HARDWARE = (SecurityLevel.TRUSTED_ENVIRONMENT, SecurityLevel.STRONG_BOX)
_STRICT_PURPOSES = {Purpose.SIGN, Purpose.VERIFY}
_TRUSTED_BOOT = (VerifiedBootState.VERIFIED, VerifiedBootState.SELF_SIGNED)
_LEVELS = {level.value: level for level in SecurityLevel}
_NAMES: dict[type[IntEnum], dict[int, str]] = {kind: {member.value: member.name for member in kind}
                                                for kind in (SecurityLevel, Origin, Purpose, VerifiedBootState)}
"""Members, and member names, by value: looked up as ``kind(value)`` and ``in kind.__members__.values()`` look them
up (by equality, for the integers a KeyDescription holds), without enum's Python-level calls."""
GOOGLE_SOFTWARE_ROOT_SPKI_SHA256 = bytes.fromhex("f2c4746f545946c100e72297f8f946344d7052f03a2f694221f9c893b0e6f711")
"""Google's Android software attestation root for RSA keys (C=US, ST=California, L=Mountain View, O=Google, Inc.,
OU=Android; RSA-1024, 2016-01-04 to 2035-12-30), to which AOSP keystore's software Keymaster chains an RSA key:
the SPKI of ``TrustAnchors/Pixel/Pixel1.der`` in Purebred's SampleAttestations (``kRsaAttestRootCert`` in AOSP).
The private key of the software attestation key below it ships in AOSP, so anything it signs is only the OS's
word."""
GOOGLE_EC_SOFTWARE_ROOT_SPKI_SHA256 = bytes.fromhex("d5100c7942ef2e8310dc30ef82729680cf48d690735c3f68179a33c7c370f286")
"""Google's Android software attestation root for EC keys (the names above plus CN=Android Keystore Software
Attestation Root; P-256, 2016-01-11 to 2036-01-06), to which the software Keymaster chains an EC key through
``Android Keystore Software Attestation Intermediate``: the SPKI of ``kEcAttestRootCert`` in AOSP
``system/keymaster/contexts/soft_attestation_cert.cpp`` (identical in an Android 11 tree and in LineageOS's
android_system_keymaster). Its attestation key ships in AOSP as well."""
EMULATED_SOFTWARE_ROOT_SPKI_SHA256 = bytes.fromhex("c87bedcd62a54e5376056db9d33565a066409f5562d06137e72d26a1390de937")
"""hsmsim's emulated software attestation root for RSA keys (``pki.software_root(Algorithm.RSA)``: one for every
seed, as Google's)."""
EMULATED_EC_SOFTWARE_ROOT_SPKI_SHA256 = bytes.fromhex(
    "67b6ff0836d9cb2987be50492aa015ce26270bfcbce2f4a8878b39564e1c7b99")
"""hsmsim's emulated software attestation root for EC keys (``pki.software_root(Algorithm.EC)``)."""
SOFTWARE_ROOT_SPKI_SHA256 = frozenset({GOOGLE_SOFTWARE_ROOT_SPKI_SHA256, GOOGLE_EC_SOFTWARE_ROOT_SPKI_SHA256,
                                       EMULATED_SOFTWARE_ROOT_SPKI_SHA256, EMULATED_EC_SOFTWARE_ROOT_SPKI_SHA256})
"""The keys of every known Android software attestation root: a chain ending at one is a software attestation."""


@dataclass(frozen=True)
class ChainInputs:
    """What the verifier was handed: the chain (leaf first), the issued challenge, the status list."""

    chain_pem: bytes
    challenge: bytes | None
    status: bytes | None


def _basename(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def gather(evidence: Evidence) -> ChainInputs:
    """The chain file (the primary, else the one ``.pem``), the ``.challenge`` file and the status list."""
    files = dict(evidence.files)
    if evidence.primary in files and evidence.primary.lower().endswith(CHAIN_SUFFIXES):
        chain_name = evidence.primary
    else:
        chains = [rel for rel in files if rel.lower().endswith(CHAIN_SUFFIXES)]
        if len(chains) != 1:
            raise Rejected(Reason.MISSING_INPUT if not chains else Reason.MALFORMED,
                           f"expected one PEM chain file, found {len(chains)}")
        chain_name = chains[0]
    challenges = [rel for rel in files if rel.endswith(CHALLENGE_SUFFIX)]
    if len(challenges) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one {CHALLENGE_SUFFIX} file: {sorted(challenges)}")
    status = one_file(files, [rel for rel in files if _basename(rel) == STATUS_FILE],
                      f"the status list ({STATUS_FILE})")
    if len(files[chain_name]) > MAX_CHAIN_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"{chain_name} is larger than {MAX_CHAIN_BYTES} bytes")
    challenge = files[challenges[0]] if challenges else None
    if challenge is not None and len(challenge) > MAX_CHALLENGE_BYTES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the challenge is larger than {MAX_CHALLENGE_BYTES} bytes")
    return ChainInputs(files[chain_name], challenge, status)


def load_chain(chain_pem: bytes) -> tuple[list[x509.Certificate], list[bytes] | None]:
    """The PEM certificates, fully parsed, and their DER when the text is in the canonical form (else None);
    MISSING_INPUT when there are none."""
    ders = canonical_pem_ders(chain_pem)
    # canonical text holds one "-----BEGIN" per certificate, and no other
    if (chain_pem.count(b"-----BEGIN") if ders is None else len(ders)) > MAX_CHAIN_CERTIFICATES:
        raise Rejected(Reason.LIMIT_EXCEEDED, f"the chain holds more than {MAX_CHAIN_CERTIFICATES} certificates")
    try:
        loaded = (x509.load_pem_x509_certificates(chain_pem) if ders is None
                  else [shared_certificate(der) or x509.load_der_x509_certificate(der) for der in ders])
        chain = [fully_parsed(cert) for cert in loaded]
    except (*CERT_PARSE_ERRORS, x509.DuplicateExtension) as exc:
        raise Rejected(Reason.MALFORMED, f"the chain is not PEM certificates: {str(exc)[:120]}") from None
    if not chain:
        raise Rejected(Reason.MISSING_INPUT, "the chain holds no certificate")
    return chain, ders


_OID_CONTENT = der_content(der_oid(OID_KEY_DESCRIPTION))


def _check_extension_position(chain: list[x509.Certificate], ders: Sequence[bytes] | None) -> bytes:
    """The leaf's KeyDescription; raises when the leaf has none or another certificate has one. ``ders``: the
    certificates' DER, when the caller has it: a certificate whose DER lacks the extension's OID (its content
    octets, which a parsed certificate encodes only so) has no such extension, and its extensions are not read."""
    der = key_description_der(chain[0])
    if der is None:
        raise Rejected(Reason.ATTR_MISSING, f"the leaf carries no KeyDescription ({OID_KEY_DESCRIPTION})")
    for depth, cert in enumerate(chain[1:], start=1):
        if ders is not None and _OID_CONTENT not in ders[depth]:
            continue
        if key_description_der(cert) is not None:
            raise Rejected(Reason.ATTR_CONFLICT,
                           f"chain certificate {depth} ({cert.subject.rfc4514_string()!r}) also carries a "
                           "KeyDescription: only the leaf may")
    return der


def _same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    """Same subject (compared as :func:`~hsmsim.pki.chain.name_keys` keys: equal exactly when the Names are, and read
    once per certificate by the chain walk) and same public key."""
    return name_keys(a)[0] == name_keys(b)[0] and a.public_key() == b.public_key()


_POLICY = ChainPolicy(leaf_issuer_by_position=True)


def _check_path(chain: list[x509.Certificate], anchors: list[x509.Certificate], at: datetime) -> list[x509.Certificate]:
    path = validate_chain(chain[0], chain[1:], anchors, at, _POLICY)
    below_anchor = path[:-1]
    if chain[:len(below_anchor)] != below_anchor:
        raise Rejected(Reason.MALFORMED, "the chain is not in leaf-to-root order")
    tail = chain[len(below_anchor):]
    if len(tail) > 1 or (tail and tail[0] != path[-1] and not _same_key(tail[0], path[-1])):
        raise Rejected(Reason.CHAIN_UNTRUSTED,
                       f"the chain ends at {tail[-1].subject.rfc4514_string()!r}, which is not the pinned root "
                       f"{path[-1].subject.rfc4514_string()!r}")
    if tail:
        remember_recurring(tail[0])  # the root copy: the anchor's name and key, in every chain of the vendor
    return path


def _require(auth: AuthorizationList, attr: str, what: str) -> object:
    value = getattr(auth, attr)
    if value is None:
        raise Rejected(Reason.ATTR_MISSING, f"hardwareEnforced has no {what}")
    return value


def _key_facts(public: object) -> tuple[str, int | None]:
    if isinstance(public, mldsa.MLDSA65PublicKey):
        return "ML-DSA-65", None
    if isinstance(public, mldsa.MLDSA87PublicKey):
        return "ML-DSA-87", None
    return key_facts(public)


_CURVES = {"EC-secp256r1": EcCurve.P_256, "EC-secp384r1": EcCurve.P_384, "EC-secp521r1": EcCurve.P_521,
           "Ed25519": EcCurve.CURVE_25519}
_VARIANTS = {"ML-DSA-65": MlDsaVariant.ML_DSA_65, "ML-DSA-87": MlDsaVariant.ML_DSA_87}


def _check_key_match(hw: AuthorizationList, key_type: str, size: int | None) -> None:
    algorithm = _require(hw, "algorithm", "algorithm")
    expected = (Algorithm.RSA if key_type == "RSA" else Algorithm.ML_DSA if key_type in _VARIANTS
                else Algorithm.EC if key_type in _CURVES else None)
    if algorithm != expected:
        raise Rejected(Reason.ATTR_CONFLICT, f"algorithm {algorithm} contradicts the leaf's {key_type} key")
    if hw.key_size is not None and size is not None and hw.key_size != size:
        raise Rejected(Reason.ATTR_CONFLICT, f"keySize {hw.key_size} contradicts the leaf's {size}-bit key")
    if hw.ec_curve is not None and hw.ec_curve != _CURVES.get(key_type):
        raise Rejected(Reason.ATTR_CONFLICT, f"ecCurve {hw.ec_curve} contradicts the leaf's {key_type} key")
    if key_type in _VARIANTS and hw.ml_dsa_variant is not None and hw.ml_dsa_variant != _VARIANTS[key_type]:
        raise Rejected(Reason.ATTR_CONFLICT, f"mlDsaVariant {hw.ml_dsa_variant} contradicts the leaf's {key_type} key")


@lru_cache(maxsize=64)
def is_software_root(root: x509.Certificate) -> bool:
    """Whether ``root`` is a known Android software attestation root, recognised by its key (SPKI SHA-256).
    Remembered per trust anchor (a Certificate hashes and compares by its DER): the same few roots end every chain."""
    return hashlib.sha256(spki_der(root.public_key())).digest() in SOFTWARE_ROOT_SPKI_SHA256


def _levels_differ(attested: SecurityLevel, keymint: SecurityLevel) -> str:
    return f"attestationSecurityLevel {attested.name} differs from keyMintSecurityLevel {keymint.name}"


def _check_levels(kd: KeyDescription, root: x509.Certificate, profile: Profile, *,
                  allow_software: bool = False) -> SecurityLevel:
    """The attested level (the attestation's); raises on a contradiction or a level the profile refuses.
    ``allow_software``: a Software level under a hardware root passes (WebAuthn §8.4's default)."""
    if kd.attestation_version not in KNOWN_ATTESTATION_VERSIONS:
        raise Rejected(Reason.UNSUPPORTED, f"attestationVersion {kd.attestation_version} is not a known version")
    levels = []
    for name, value in (("attestationSecurityLevel", kd.attestation_security_level),
                        ("keyMintSecurityLevel", kd.keymint_security_level)):
        level = _LEVELS.get(value)
        if level is None:
            raise Rejected(Reason.MALFORMED, f"{name} {value} is not a SecurityLevel")
        levels.append(level)
    attested, keymint = levels
    if attested > keymint:
        raise Rejected(Reason.ATTR_CONFLICT, f"{_levels_differ(attested, keymint)}: the attestation cannot be "
                                             "stronger than the key's KeyMint")
    if not is_software_root(root):
        if attested != keymint:
            raise Rejected(Reason.ATTR_CONFLICT, _levels_differ(attested, keymint))
        if attested not in _HARDWARE and not allow_software:
            raise Rejected(Reason.SECURITY_LEVEL, "the key is attested by Software under a hardware attestation "
                                                  "root, not by a TEE or StrongBox")
        return attested
    if attested is not SecurityLevel.SOFTWARE:
        raise Rejected(Reason.SECURITY_LEVEL, f"the chain ends at an Android software attestation root, which "
                                              f"cannot vouch for a {attested.name} attestation")
    if profile is Profile.STRICT:
        raise Rejected(Reason.SECURITY_LEVEL, "a software attestation (an Android software attestation root): "
                                              "the OS, not a TEE or StrongBox, vouches for the key")
    return attested


def _check_challenge(kd: KeyDescription, challenge: bytes | None, profile: Profile) -> None:
    if challenge is None:
        if profile is Profile.STRICT:
            raise Rejected(Reason.MISSING_INPUT, f"no {CHALLENGE_SUFFIX} file: the issued challenge is unknown")
        return
    if kd.attestation_challenge != challenge:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "attestationChallenge differs from the challenge issued")


def _check_origin(kd: KeyDescription) -> None:
    hw, sw = kd.hardware_enforced, kd.software_enforced
    origin = hw.origin
    if origin is None:
        where = " (only softwareEnforced has one)" if sw.origin is not None else ""
        raise Rejected(Reason.ATTR_MISSING, f"hardwareEnforced has no origin{where}")
    if sw.origin is not None and sw.origin != origin:
        raise Rejected(Reason.ATTR_CONFLICT,
                       f"softwareEnforced origin {sw.origin} contradicts hardwareEnforced origin {origin}")
    if origin not in _NAMES[Origin]:
        raise Rejected(Reason.MALFORMED, f"origin {origin} is not a KeyOrigin")
    if origin != Origin.GENERATED:
        raise Rejected(Reason.ATTR_NOT_LOCAL, f"origin is {Origin(origin).name}, not GENERATED in the secure hardware")


def _check_purposes(kd: KeyDescription, profile: Profile) -> None:
    hw = kd.hardware_enforced
    if hw.purposes is None:
        where = " (only softwareEnforced lists them)" if kd.software_enforced.purposes is not None else ""
        raise Rejected(Reason.ATTR_MISSING, f"hardwareEnforced has no purpose{where}")
    if Purpose.SIGN not in hw.purposes:
        raise Rejected(Reason.KEY_PURPOSE, f"purposes {list(hw.purposes)} do not include SIGN (2)")
    if hw.all_applications or kd.software_enforced.all_applications:
        raise Rejected(Reason.KEY_PURPOSE, "allApplications: any app on the device may use the key")
    if profile is Profile.STRICT and not set(hw.purposes) <= _STRICT_PURPOSES:
        raise Rejected(Reason.KEY_PURPOSE, f"purposes {list(hw.purposes)} go beyond SIGN and VERIFY")


def _check_root_of_trust(kd: KeyDescription, level: SecurityLevel, profile: Profile) -> None:
    rot = kd.hardware_enforced.root_of_trust
    if rot is None and level is SecurityLevel.SOFTWARE:
        return  # Keymaster 0/1 hardware reports no boot state, and the OS's word on it would add nothing
    if rot is None:
        where = " (only softwareEnforced has one)" if kd.software_enforced.root_of_trust is not None else ""
        raise Rejected(Reason.ATTR_MISSING, f"hardwareEnforced has no rootOfTrust{where}")
    if rot.verified_boot_state not in _NAMES[VerifiedBootState]:
        raise Rejected(Reason.MALFORMED, f"verifiedBootState {rot.verified_boot_state} is not a VerifiedBootState")
    if profile is not Profile.STRICT:
        return
    if not rot.device_locked:
        raise Rejected(Reason.DEVICE_INTEGRITY, "the bootloader is unlocked (rootOfTrust deviceLocked false)")
    if rot.verified_boot_state not in _TRUSTED_BOOT:
        raise Rejected(Reason.DEVICE_INTEGRITY,
                       f"verifiedBootState is {VerifiedBootState(rot.verified_boot_state).name}")


def _name(kind: type[IntEnum], value: int) -> str:
    """``kind(value).name`` (raising its ValueError for a value that is no member)."""
    name = _NAMES[kind].get(value)
    return name if name is not None else kind(value).name


def describe(kd: KeyDescription) -> str:
    """The accepted attestation's facts as ``key=value`` pairs (the documented extra of the verdict)."""
    hw, sw = kd.hardware_enforced, kd.software_enforced
    rot = hw.root_of_trust
    app = sw.attestation_application_id or hw.attestation_application_id
    pairs = {
        "securityLevel": _name(SecurityLevel, kd.attestation_security_level),
        "keyMintSecurityLevel": (_name(SecurityLevel, kd.keymint_security_level)
                                 if kd.keymint_security_level != kd.attestation_security_level else None),
        "attestationVersion": kd.attestation_version,
        "keyMintVersion": kd.keymint_version,
        "origin": _name(Origin, hw.origin) if hw.origin is not None else None,
        "purposes": ",".join(_NAMES[Purpose].get(p) or str(p) for p in hw.purposes or ()),
        "verifiedBootState": _name(VerifiedBootState, rot.verified_boot_state) if rot else None,
        "deviceLocked": str(rot.device_locked).lower() if rot else None,
        "osVersion": hw.os_version,
        "osPatchLevel": patch_level_text(hw.os_patch_level) if hw.os_patch_level is not None else None,
        "vendorPatchLevel": patch_level_text(hw.vendor_patch_level) if hw.vendor_patch_level is not None else None,
        "bootPatchLevel": patch_level_text(hw.boot_patch_level) if hw.boot_patch_level is not None else None,
        "app": ",".join(p.name.decode("utf-8", "replace") for p in app.packages) if app else None,
    }
    return " ".join(f"{k}={v}" for k, v in pairs.items() if v is not None and v != "")


def _claims(leaf: x509.Certificate, kd: KeyDescription, key_type: str, size: int | None,
            level: SecurityLevel) -> Claims:
    hw = kd.hardware_enforced
    generated = hw.origin == Origin.GENERATED

    def text(value: bytes | None) -> str | None:
        return value.decode("utf-8", "replace") if value is not None else None

    firmware = f"Android {hw.os_version}" if hw.os_version is not None else None
    if firmware and hw.os_patch_level is not None:
        firmware += f" patch {hw.os_patch_level}"
    return Claims(
        spki_der=spki_der(leaf.public_key()),
        key_type=key_type, key_size=size, generated_on_device=generated,
        extractable=False, never_extractable=generated, sensitive=True, always_sensitive=generated,
        vendor=text(hw.attestation_id_manufacturer) or "Android",
        model=text(hw.attestation_id_model), serial=text(hw.attestation_id_serial), firmware=firmware,
        fips_level=None, label=None, extra={"security_level": level.name},
    )


def check_chain(chain: list[x509.Certificate], challenge: bytes | None, status: bytes | None,
                trust: TrustAnchors, at: datetime, profile: Profile, *, ders: Sequence[bytes] | None = None
                ) -> tuple[KeyDescription, Verdict]:
    """Checks 2-8 of the module notes over a loaded chain (``ders``: the certificates' DER, when the caller has
    it: some checks read it instead of parsed fields, to the same effect); returns the leaf's KeyDescription and the
    accepting verdict, raises :class:`Rejected`."""
    der = _check_extension_position(chain, ders)
    path = _check_path(chain, trust.all(), at)
    if status is not None:
        check_revocation([*chain, *path], read_status_list(status))
    kd = parse_key_description(der, strict=profile is Profile.STRICT)
    level = _check_levels(kd, path[-1], profile)
    _check_challenge(kd, challenge, profile)
    _check_origin(kd)
    _check_purposes(kd, profile)
    if profile is Profile.STRICT:
        # Structural lets the hardwareEnforced purposes decide: Keymaster 3 leaves (Pixel 2) say
        # keyEncipherment|dataEncipherment for a key whose purposes include SIGN.
        require_key_usage(chain[0])
    key_type, size = _key_facts(chain[0].public_key())
    _check_key_match(kd.hardware_enforced, key_type, size)
    _check_root_of_trust(kd, level, profile)
    if profile is Profile.STRICT:
        require_code_signing_key(key_type, size)
    detail = f"{describe(kd)} root={subject_text(path[-1])!r}"
    return kd, Verdict(Reason.OK, detail, _claims(chain[0], kd, key_type, size, level))


def _union_of(ours: tuple[int, ...] | None, theirs: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """A repeated tag over both lists: ``ours`` when ``theirs`` adds nothing, else the sorted values of both."""
    if not theirs:
        return ours
    if ours is None:
        return theirs
    return ours if set(theirs) <= set(ours) else tuple(sorted({*ours, *theirs}))


def _check_key_facts_agree(kd: KeyDescription) -> None:
    """ATTR_CONFLICT when both lists give a key fact (algorithm, keySize, ecCurve, mlDsaVariant) differently."""
    hw, sw = kd.hardware_enforced, kd.software_enforced
    for name in _KEY_FACT_FIELDS:
        theirs = getattr(sw, name)
        if theirs is not None:
            ours = getattr(hw, name)
            if ours is not None and ours != theirs:
                raise Rejected(Reason.ATTR_CONFLICT, f"softwareEnforced {name} {theirs} contradicts "
                                                     f"hardwareEnforced {name} {ours}")


def union_view(kd: KeyDescription) -> KeyDescription:
    """``kd`` whose hardwareEnforced list is the union of both lists: what WebAuthn §8.4 reads when the relying party
    accepts keys outside a TEE. A field only softwareEnforced sets is taken from it; a repeated field both set
    (purposes, digests...) holds the values of both, so softwareEnforced DECRYPT beside hardwareEnforced SIGN makes
    purposes {SIGN, DECRYPT}; a key fact both set differently (algorithm, keySize, ecCurve, mlDsaVariant) is
    ATTR_CONFLICT, as a contradicting origin is (:func:`_check_origin`). Raises :class:`Rejected`."""
    _check_key_facts_agree(kd)
    hw, sw = vars(kd.hardware_enforced), vars(kd.software_enforced)
    filled: dict[str, object] = {}
    for name in _UNION_FIELDS:
        theirs = sw[name]
        if theirs is None or theirs is False:
            continue
        ours = hw[name]
        if ours is None or ours is False:
            filled[name] = theirs
        elif name in _REPEATED_FIELDS and ours is not (both := _union_of(ours, theirs)):
            filled[name] = both
    return replace(kd, hardware_enforced=replace(kd.hardware_enforced, **filled)) if filled else kd  # type: ignore[arg-type]


_UNION_FIELDS = tuple(f.name for f in fields(AuthorizationList) if f.compare)
_REPEATED_FIELDS = frozenset({"purposes", "block_modes", "digests", "paddings", "rsa_oaep_mgf_digests"})
_KEY_FACT_FIELDS = ("algorithm", "key_size", "ec_curve", "ml_dsa_variant")


def check_webauthn_chain(chain: list[x509.Certificate], client_data_hash: bytes, trust: TrustAnchors, at: datetime,
                         profile: Profile, *, ders: Sequence[bytes] | None = None) -> tuple[Claims, str]:
    """WebAuthn §8.4 over the x5c chain of an ``android-key`` statement (the signature is the caller's):
    the KeyDescription only in the leaf, the chain to ``trust.get("root")``, attestationChallenge =
    clientDataHash, no allApplications in either list, origin GENERATED, and purposes exactly SIGN over the union of
    both lists (:func:`union_view`, whose contradicting key facts are ATTR_CONFLICT) in either profile. Structural:
    the other facts read from that union, any security level (the specification's default), the leaf's keyUsage
    unread (§8.4 does not read it). Strict: from hardwareEnforced only, a TEE or StrongBox, a leaf keyUsage allowing
    signatures, device locked with verified boot, the CA/B Forum key rule.
    ``ders`` as :func:`check_chain`'s. Returns the claims and the accepting detail; raises :class:`Rejected`."""
    strict = profile is Profile.STRICT
    der = _check_extension_position(chain, ders)
    path = _check_path(chain, trust.get("root"), at)
    if strict:
        # §8.4 reads the purposes, not the leaf's keyUsage: Keymaster 3 leaves (Pixel 2) say
        # keyEncipherment|dataEncipherment for a key whose purposes include SIGN, as check_chain allows
        require_key_usage(chain[0])
    kd = parse_key_description(der, strict=strict)
    level = _check_levels(kd, path[-1], profile, allow_software=not strict)
    if kd.attestation_challenge != client_data_hash:
        raise Rejected(Reason.CHALLENGE_MISMATCH, "attestationChallenge is not the clientDataHash")
    if strict:
        _check_key_facts_agree(kd)
        view = kd
        purposes = _union_of(kd.hardware_enforced.purposes, kd.software_enforced.purposes)
    else:
        view = union_view(kd)
        purposes = view.hardware_enforced.purposes
    _check_origin(view)
    _check_purposes(view, profile)
    # exactly SIGN over both lists in either profile: a purpose softwareEnforced adds is a purpose of the key
    if purposes != (Purpose.SIGN,):
        raise Rejected(Reason.KEY_PURPOSE, f"purposes {list(purposes or ())} (both lists) are not exactly SIGN, "
                                           "as WebAuthn requires")
    key_type, size = _key_facts(chain[0].public_key())
    _check_key_match(view.hardware_enforced, key_type, size)
    _check_root_of_trust(view, level, profile)
    if strict:
        require_code_signing_key(key_type, size)
    root = subject_text(path[-1])
    return _claims(chain[0], view, key_type, size, level), f"android-key {describe(view)} root={root!r}"


def verify_evidence(evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
                    profile: Profile = Profile.STRUCTURAL) -> Verdict:
    """Verify a bare ``android-key`` chain (with its ``.challenge`` and status list when given).

    Never raises on bad evidence: every defect is a :class:`Verdict` with its reason.
    """
    try:
        inputs = gather(evidence)
        chain, ders = load_chain(inputs.chain_pem)
        return check_chain(chain, inputs.challenge, inputs.status, trust, at or datetime.now(UTC), Profile(profile),
                           ders=ders)[1]
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)
