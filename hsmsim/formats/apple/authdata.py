"""WebAuthn authenticator data with attested credential data, as App Attest writes it, and COSE EC2 keys.

authData = rpIdHash(32) || flags(1) || signCount(u32, big-endian) || aaguid(16) || credentialIdLength(u16) ||
credentialId || credentialPublicKey (COSE_Key, canonical CBOR). App Attest sets only the AT flag (0x40),
a zero counter, the aaguid ``appattestdevelop`` or ``appattest`` + seven zero bytes, and a credentialId that
is the key identifier, SHA-256 of the key's uncompressed X9.62 point.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hsmsim.formats.apple import cbor
from hsmsim.verdict import Reason, Rejected

FLAG_AT = 0x40
FLAG_ED = 0x80
MAX_COSE_KEY = 1024
_CURVES: dict[int, ec.EllipticCurve] = {1: ec.SECP256R1(), 2: ec.SECP384R1()}
_CURVE_IDS = {"secp256r1": (1, -7), "secp384r1": (2, -35)}


@dataclass(frozen=True)
class AuthenticatorData:
    """The fields of authData with attested credential data (``extensions`` raw, usually empty)."""

    rp_id_hash: bytes
    flags: int
    sign_count: int
    aaguid: bytes
    credential_id: bytes
    credential_public_key: bytes
    extensions: bytes = b""

    def encode(self) -> bytes:
        """The authData bytes."""
        return (self.rp_id_hash + bytes([self.flags]) + self.sign_count.to_bytes(4, "big") + self.aaguid
                + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self.credential_public_key
                + self.extensions)

    @classmethod
    def parse(cls, data: bytes) -> AuthenticatorData:
        """Parse authData that must carry attested credential data and no extensions (Rejected MALFORMED)."""
        if len(data) < 55:
            raise Rejected(Reason.MALFORMED, f"authData is {len(data)} bytes, too short for attested credential data")
        flags = data[32]
        if not flags & FLAG_AT:
            raise Rejected(Reason.MALFORMED, "authData flags lack AT: no attested credential data")
        if flags & FLAG_ED:
            raise Rejected(Reason.MALFORMED, "authData flags set ED: App Attest writes no extensions")
        id_length = int.from_bytes(data[53:55], "big")
        key_start = 55 + id_length
        if key_start > len(data):
            raise Rejected(Reason.MALFORMED, "authData credentialId runs past the end")
        key = data[key_start:]
        cbor.decode(key, "credentialPublicKey", MAX_COSE_KEY)  # all of the rest, canonical (no trailing bytes)
        return cls(data[:32], flags, int.from_bytes(data[33:37], "big"), data[37:53], data[55:key_start], key)


def cose_ec2(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The canonical COSE_Key of a P-256 (ES256) or P-384 (ES384) public key."""
    crv, alg = _CURVE_IDS[public_key.curve.name]
    numbers = public_key.public_numbers()
    width = (public_key.curve.key_size + 7) // 8
    return cbor.encode({1: 2, 3: alg, -1: crv, -2: numbers.x.to_bytes(width, "big"),
                        -3: numbers.y.to_bytes(width, "big")})


def cose_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """The EC public key of an EC2 COSE_Key on P-256 or P-384 (Rejected MALFORMED / UNSUPPORTED)."""
    key = cbor.decode(data, "credentialPublicKey", MAX_COSE_KEY)
    if not isinstance(key, dict) or key.get(1) != 2:
        raise Rejected(Reason.UNSUPPORTED, "credentialPublicKey is not an EC2 COSE key")
    curve = _CURVES.get(key.get(-1))  # type: ignore[arg-type]
    x, y = key.get(-2), key.get(-3)
    if curve is None or not isinstance(x, bytes) or not isinstance(y, bytes):
        raise Rejected(Reason.UNSUPPORTED, "credentialPublicKey is not a P-256 or P-384 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
    except ValueError:
        raise Rejected(Reason.MALFORMED, "credentialPublicKey is not a point on its curve") from None


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """App Attest's key identifier: SHA-256 of the uncompressed X9.62 point."""
    return hashlib.sha256(public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)).digest()
