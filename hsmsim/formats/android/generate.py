"""The ``android-key`` generator: a KeyMint KeyDescription for a key, its leaf certificate, the PEM chain.

What the device sends is the chain, leaf first, as PEM (``<label>.pem``); the relying party keeps the
challenge it issued (``<label>.challenge``, raw bytes) beside it. Values a real KeyMint takes from the
device (boot key, patch levels, attestation ids, the calling app) are derived from the seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa

from hsmsim.device import AttestationRequest
from hsmsim.encoding import cert_pem, spki_der
from hsmsim.errors import HsmsimError, ParameterError, UnsupportedKeyError
from hsmsim.formats.android.keydescription import (
    Algorithm,
    ApplicationId,
    AuthorizationList,
    EcCurve,
    KeyDescription,
    MlDsaVariant,
    Origin,
    PackageInfo,
    Purpose,
    RootOfTrust,
    SecurityLevel,
    VerifiedBootState,
    encode_key_description,
)
from hsmsim.formats.android.layout import CHALLENGE_SUFFIX, ROOTS_FILE
from hsmsim.formats.android.options import AndroidOptions
from hsmsim.formats.android.pki import (
    AndroidIdentity,
    ChainShape,
    android_identity,
    attestation_key,
    attestation_leaf,
    trust_roots,
)
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg

MAX_CHALLENGE_BYTES = 4096
"""The largest challenge the verifier reads (``LIMIT_EXCEEDED`` past it), so the largest ``attest`` writes."""
FACTORY_ATTESTATION_VERSION = 300
"""A factory-provisioned chain comes from a KeyMint 3 device (attestation and keyMint version 300), as the real 2022
factory chain ``shared/interop/android/invalid/tags_not_in_ascending_order.pem`` (whose chain dates the emulated
factory PKI follows)."""
_KEYMASTER_VERSIONS = {1: 2, 2: 3, 3: 4, 4: 41}
_SHA256, _SHA384 = 4, 5

AttestedPublicKey = (rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                     | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey)


@dataclass(frozen=True)
class KeyFacts:
    """What KeyMint records about an attested key besides its public half."""

    created: datetime
    purposes: tuple[int, ...] = (Purpose.SIGN, Purpose.VERIFY)
    origin: int = Origin.GENERATED


def _key_tags(public_key: AttestedPublicKey) -> dict[str, object]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return {"algorithm": Algorithm.RSA, "key_size": public_key.key_size, "digests": (_SHA256,),
                "paddings": (3, 5), "rsa_public_exponent": public_key.public_numbers().e}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": EcCurve.P_256, "secp384r1": EcCurve.P_384, "secp521r1": EcCurve.P_521}
        digest = _SHA256 if public_key.curve.key_size == 256 else _SHA384
        return {"algorithm": Algorithm.EC, "key_size": public_key.curve.key_size, "digests": (digest,),
                "ec_curve": curve[public_key.curve.name]}
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return {"algorithm": Algorithm.EC, "key_size": 256, "digests": (0,), "ec_curve": EcCurve.CURVE_25519}
    variant = MlDsaVariant.ML_DSA_65 if isinstance(public_key, mldsa.MLDSA65PublicKey) else MlDsaVariant.ML_DSA_87
    return {"algorithm": Algorithm.ML_DSA, "ml_dsa_variant": variant}


def default_attestation_version(public_key: AttestedPublicKey, shape: ChainShape, options: AndroidOptions,
                                level: SecurityLevel = SecurityLevel.TRUSTED_ENVIRONMENT) -> int:
    """KeyMint 5 (500) for ML-DSA keys, KeyMint 3 (300) for factory chains, else the options' version for the
    level (StrongBox: ``strongbox_attestation_version``, KeyMint 3 as on every real StrongBox chain)."""
    if isinstance(public_key, mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey):
        return 500
    if shape is ChainShape.FACTORY:
        return FACTORY_ATTESTATION_VERSION
    if level is SecurityLevel.STRONG_BOX:
        return options.strongbox_attestation_version
    return options.attestation_version


@lru_cache(maxsize=64)
def device_root_of_trust(seed: str, serial: str, version: int) -> RootOfTrust:
    """A locked device with verified boot: the boot key and hash are derived from the seed (once per process: every
    key the device attests carries it)."""
    rng = drbg(seed, f"android/device/{serial}/boot")
    return RootOfTrust(rng.read(32), True, VerifiedBootState.VERIFIED, rng.read(32) if version >= 3 else None)


@lru_cache(maxsize=64)
def application_id(seed: str, package: str) -> ApplicationId:
    """The calling app: one package, version 1, one signing-certificate digest derived from the seed (once per
    process)."""
    digest = hashlib.sha256(drbg(seed, f"android/app/{package}").read(32)).digest()
    return ApplicationId((PackageInfo(package.encode(), 1),), (digest,))


@lru_cache(maxsize=64)
def _module_hash(seed: str) -> bytes:
    return drbg(seed, "android/module-hash").read(32)


def key_description(*, seed: str, serial: str, public_key: AttestedPublicKey, facts: KeyFacts, challenge: bytes,
                    level: SecurityLevel, version: int, options: AndroidOptions, shape: ChainShape) -> KeyDescription:
    """The KeyDescription a KeyMint of ``version`` at ``level`` writes for the key, DER-ready: from version 3 with
    the device's brand, device, product, manufacturer and model, as the caiman (sdk 36) RKP samples, except on a
    factory chain (``shape``), as neither published factory chain carries them; with ``options.attest_serial`` the
    device's serial too (attestationIdSerial), whatever the version and shape."""
    keymint = version if version >= 100 else _KEYMASTER_VERSIONS.get(version, version)
    ids = {} if version < 3 or shape is ChainShape.FACTORY else {
        "attestation_id_brand": options.brand.encode(), "attestation_id_device": options.device.encode(),
        "attestation_id_product": options.device.encode(), "attestation_id_manufacturer": options.manufacturer.encode(),
        "attestation_id_model": options.model.encode()}
    if options.attest_serial:
        ids["attestation_id_serial"] = serial.encode()
    hardware = AuthorizationList(
        purposes=tuple(sorted(facts.purposes)), **_key_tags(public_key),  # type: ignore[arg-type]
        no_auth_required=True, origin=facts.origin, root_of_trust=device_root_of_trust(seed, serial, version),
        os_version=options.os_version, os_patch_level=options.os_patch_level // 100,
        **ids,  # type: ignore[arg-type]
        vendor_patch_level=options.os_patch_level if version >= 3 else None,
        boot_patch_level=options.os_patch_level if version >= 3 else None,
    )
    software = AuthorizationList(
        creation_date_time=int(facts.created.timestamp() * 1000),
        attestation_application_id=application_id(seed, options.package),
        module_hash=_module_hash(seed) if version >= 400 else None,
    )
    return KeyDescription(version, level, keymint, level, challenge, b"", software, hardware)


def default_challenge(seed: str, label: str, at: datetime) -> bytes:
    """A UUID-shaped challenge, as Google's sample app issues, derived from the seed, label and time."""
    h = drbg(seed, f"android/challenge/{label}/{at.isoformat()}").read(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}".encode()


def chain_pem(certificates: list[x509.Certificate]) -> bytes:
    """The certificates as one PEM file, in the given (leaf-first) order."""
    return b"".join(cert_pem(cert) for cert in certificates)


def above_leaf(identity: AttestationIdentity, shape: ChainShape, *, pinned_issue: bool = False
               ) -> list[x509.Certificate]:
    """The certificates the device sends after the leaf: the chain, and the root when the shape sends it, in the
    issue the device sends (RKP under the legacy root: the 2019 issue; ``pinned_issue``: the pinned ``root``)."""
    if not shape.includes_root:
        return list(identity.chain)
    sent = identity.sent_root if isinstance(identity, AndroidIdentity) and not pinned_issue else None
    return [*identity.chain, sent or identity.root]


def evidence_files(stem: str, pem: bytes, challenge: bytes | None) -> dict[str, bytes]:
    """The evidence files: ``<stem>.pem`` and, when the relying party issued one, ``<stem>.challenge``."""
    files = {f"{stem}.pem": pem}
    if challenge is not None:
        files[f"{stem}{CHALLENGE_SUFFIX}"] = challenge
    return files


def pinned_roots_pem(seed: str) -> bytes:
    """The contents of :data:`ROOTS_FILE` for a device of ``seed``."""
    return b"".join(cert_pem(root) for root in trust_roots(seed))


def _user_attesting_key(request: AttestationRequest) -> PrivateKey | None:
    """The request's attesting key when it is a user's key; None for the device's own (derived per level)."""
    device = request.device
    own = attestation_key(device.seed, device.serial, SecurityLevel.TRUSTED_ENVIRONMENT, ChainShape.RKP)
    return None if spki_der(own.public_key()) == spki_der(request.attesting.key.public_key()) else request.attesting.key


def request_inputs(request: AttestationRequest, options: AndroidOptions) -> tuple[AttestedPublicKey, KeyFacts,
                                                                                 SecurityLevel, ChainShape]:
    """The key, what KeyMint records about it, the security level and the chain shape of ``request``.

    Parameters (``request.parameters``): ``security_level`` (``TRUSTED_ENVIRONMENT`` or ``STRONG_BOX``, any case),
    ``shape`` (a :class:`ChainShape` value). Raises :class:`UnsupportedKeyError` for keys KeyMint cannot
    attest (secret, extractable), :class:`ParameterError` for another level or shape.
    """
    key = request.key
    public_key = key.public_key
    if public_key is None:
        raise UnsupportedKeyError("android-key attests asymmetric keys only (KeyMint secret keys have no certificate)")
    if key.attributes.ever_extractable:
        raise UnsupportedKeyError("KeyMint keys are never extractable; create the key without --extractable")
    params = request.parameters
    given_level = params.get("security_level", options.security_level.name)
    level = SecurityLevel.__members__.get(str(given_level).upper())
    if level is None or level is SecurityLevel.SOFTWARE:  # software attestation: the corpus's Keymaster 1 golden only
        raise ParameterError.invalid("security_level", "TRUSTED_ENVIRONMENT or STRONG_BOX", given_level)
    given_shape = str(params.get("shape", options.shape.value))
    if given_shape not in tuple(ChainShape):
        raise ParameterError.invalid("shape", f"one of {', '.join(ChainShape)}", params.get("shape"))
    shape = ChainShape(given_shape)
    purposes = [Purpose.SIGN, Purpose.VERIFY] if key.attributes.sign else []
    purposes += [Purpose.ENCRYPT, Purpose.DECRYPT] if key.attributes.decrypt else []
    purposes += [Purpose.AGREE_KEY] if key.attributes.derive else []
    facts = KeyFacts(key.created, tuple(purposes), Origin.GENERATED if key.attributes.local else Origin.IMPORTED)
    return public_key, facts, level, shape


def generate_evidence(request: AttestationRequest, options: AndroidOptions) -> Evidence:
    """The chain PEM and the issued challenge for the request's key, and :data:`ROOTS_FILE`.

    Parameters: :func:`request_inputs`' and ``challenge`` (text of at most :data:`MAX_CHALLENGE_BYTES` bytes, else
    :class:`ParameterError`, as the verifier reads no more). The evidence files never overwrite
    :data:`ROOTS_FILE`: raises :class:`HsmsimError` (one line) for a key whose label's file stem is
    ``attestation_roots``, whose chain would be named so.
    """
    key = request.key
    public_key, facts, level, shape = request_inputs(request, options)
    challenge_text = request.parameters.get("challenge")
    challenge = (str(challenge_text).encode() if challenge_text is not None
                 else default_challenge(request.device.seed, key.label, request.at))
    if len(challenge) > MAX_CHALLENGE_BYTES:
        raise ParameterError.invalid("challenge", f"text of at most {MAX_CHALLENGE_BYTES} bytes", challenge_text)
    identity = android_identity(request.device.seed, request.device.serial, level, shape, request.at,
                                key=_user_attesting_key(request))
    version = default_attestation_version(public_key, shape, options, level)
    description = key_description(seed=request.device.seed, serial=request.device.serial, public_key=public_key,
                                  facts=facts, challenge=challenge, level=level, version=version, options=options,
                                  shape=shape)
    leaf = attestation_leaf(public_key, encode_key_description(description), identity,
                            description_first=options.description_first(shape))
    pem = chain_pem([leaf, *above_leaf(identity, shape)])
    stem = safe_file_stem(key.label)
    files = evidence_files(stem, pem, challenge)
    if ROOTS_FILE in files:
        raise HsmsimError(f"android-key cannot attest a key labelled {key.label!r}: its chain would be written "
                          f"as {ROOTS_FILE}, the file of the pinned roots; give the key another label")
    files[ROOTS_FILE] = pinned_roots_pem(request.device.seed)
    return Evidence("android-key", files, f"{stem}.pem")
