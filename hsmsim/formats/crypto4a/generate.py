"""Crypto4A QASM attestation messages from an attestation request: the claims, the two signatures, the files.

The claim set is the real example's (``skm attest claim`` with the device claims and a private key's claims),
each claim the QASM can truthfully make about the key: ``key-is-confined`` only for a key that cannot leave,
``key-is-hardware-generated`` only for a key generated inside, ``key-never-extracted`` only for a key never
extractable. The codes of ``object-class`` (private-key 4), ``object-type`` (ecc 2), ``object-keystore``
(independent 256) and of the capabilities sign (261) and derive (263) are the real message's; ``object-type``
rsa (1) is a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization

from hsmsim.device import AttestationRequest, text_parameter
from hsmsim.encoding import cert_pem, der_oid, der_sequence, spki_der
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.crypto4a.layout import FORMAT, MESSAGE_SUFFIX, ROOT_FILE
from hsmsim.formats.crypto4a.message import (
    HSS_LMS_HASHSIG,
    Claim,
    SignatureBlock,
    Value,
    armour,
    claim,
    encode_message,
    encode_tbs,
)
from hsmsim.formats.crypto4a.pki import DEFAULT_HSS, HSS_CHOICES, Crypto4aPki, HssChoice, qasm_number, uuid_bytes
from hsmsim.keystore.base import KeyClass, KeyType, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, build_csr, name
from hsmsim.pki.signing import sign

DEFAULT_FIRMWARE = "4.0.2.493"
OBJECT_CLASS_PRIVATE_KEY = 4
OBJECT_TYPES = {KeyType.EC: 2, KeyType.RSA: 1}
KEYSTORE_INDEPENDENT = 0x0100
CAPABILITIES = {"sign": 0x0105, "derive": 0x0107}


def hss_choice(parameters: Mapping[str, object]) -> HssChoice:
    """The ``hss`` parameter: ``H5`` (default, fast) or ``H10`` (the real QASM's trees). Raises ParameterError."""
    given = text_parameter(parameters, "hss") or DEFAULT_HSS
    choice = HSS_CHOICES.get(given.upper())
    if choice is None:
        raise ParameterError.invalid("hss", " or ".join(HSS_CHOICES), given)
    return choice


def key_uuid(seed: str, key: StoredKey) -> bytes:
    """The attested private key's object UUID (version 4 shaped, as the real one)."""
    return uuid_bytes(seed, f"key/{key.label}", version4=True)


def device_claims(pki_seed: str, serial: str, at: datetime, firmware: str) -> list[Claim]:
    """The QASM's claims in the real order: UUID, serial, attestation time, firmware, certified production, and
    that its attestation keys are unique."""
    return [
        claim("qasm-uuid", None, Value.octets(uuid_bytes(pki_seed, f"{serial}/qasm"))),
        claim("qasm-serial", None, Value.text(f"QSM{qasm_number(serial)}")),
        claim("attestation-time", None, Value.time(at)),
        claim("qasm-firmware-version", None, Value.text(firmware)),
        claim("qasm-certified-production"),
        claim("attestation-keys-are-unique"),
    ]


def key_claims(uuid: bytes, key: StoredKey) -> list[Claim]:
    """The claims about one private key, in the real order, each only when true of the key."""
    if key.public_key is None or key.attributes.key_class is not KeyClass.PRIVATE_KEY:
        raise UnsupportedKeyError("a Crypto4A attestation here covers private keys (RSA or EC)")
    object_type = OBJECT_TYPES.get(key.attributes.key_type)
    if object_type is None:
        raise UnsupportedKeyError(f"no Crypto4A object type for {key.spec.name}")
    a = key.attributes
    claims = [claim("key-spki", uuid, Value.octets(spki_der(key.public_key))),
              claim("object-class", uuid, Value.number(OBJECT_CLASS_PRIVATE_KEY)),
              claim("object-type", uuid, Value.number(object_type)),
              claim("object-keystore", uuid, Value.number(KEYSTORE_INDEPENDENT))]
    claims += [claim(n, uuid) for n, true in (("key-is-confined", not a.extractable),
                                              ("key-is-hardware-generated", a.local),
                                              ("key-never-extracted", a.never_extractable)) if true]
    for capability, allowed in (("sign", a.sign), ("derive", a.derive)):
        which = "key-has-capability" if allowed else "key-does-not-have-capability"
        claims.append(claim(which, uuid, Value.number(CAPABILITIES[capability])))
    return sorted(claims, key=lambda c: [int(x) for x in c.oid.split(".")])


def signature_blocks(pki: Crypto4aPki, tbs: bytes) -> list[SignatureBlock]:
    """The EC authority's then the HSS authority's signature over ``tbs``, each naming its key and certificate."""
    algorithm, value = sign(pki.ec.key, tbs)
    return [SignatureBlock(pki.ec_key_id, pki.ec.chain_der[0], algorithm, value),
            SignatureBlock(pki.hss.key_id, pki.hss.certificate, der_sequence(der_oid(HSS_LMS_HASHSIG)),
                           pki.hss.key.sign(tbs))]


def attached(pki: Crypto4aPki) -> list[bytes]:
    """The attached certificates as the real message has them: the sub-CA and root once per signer."""
    above = [pki.ec.chain_der[1], pki.ec.root.public_bytes(serialization.Encoding.DER)]
    return above + above


@dataclass(frozen=True)
class Parts:
    """A message before armour: its claims and what signs them."""

    claims: list[Claim]
    pki: Crypto4aPki

    def der(self) -> bytes:
        """The signed message."""
        tbs = encode_tbs(self.claims)
        return encode_message(tbs, signature_blocks(self.pki, tbs), attached(self.pki))


def files(stem: str, message_der: bytes, csr_pem: bytes, root_pem: bytes) -> dict[str, bytes]:
    """What a relying party receives: ``<stem>_attestation.pem``, ``<stem>.csr`` and the root copy."""
    return {f"{stem}{MESSAGE_SUFFIX}": armour(message_der), f"{stem}.csr": csr_pem, ROOT_FILE: root_pem}


def request_parts(request: AttestationRequest, pki: Crypto4aPki) -> Parts:
    """The claims of the request's key and device at the request's time, signed by ``pki``'s authorities."""
    device = request.device
    claims = device_claims(device.seed, device.serial, request.at, device.firmware or DEFAULT_FIRMWARE)
    return Parts(claims + key_claims(key_uuid(device.seed, request.key), request.key), pki)


def generate(request: AttestationRequest, pki: Crypto4aPki) -> Evidence:
    """The attestation message, CSR and root for the request's key."""
    if request.key_signer is None:
        raise UnsupportedKeyError("a Crypto4A attestation covers a private key, whose CSR it comes with")
    parts = request_parts(request, pki)
    csr = build_csr(name(("CN", request.key.label, UTF8)), request.key_signer)
    stem = safe_file_stem(request.key.label)
    return Evidence(FORMAT, files(stem, parts.der(), csr.public_bytes(serialization.Encoding.PEM),
                                  cert_pem(pki.root)), f"{stem}{MESSAGE_SUFFIX}")
