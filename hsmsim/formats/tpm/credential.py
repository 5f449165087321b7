"""TPM2_MakeCredential (the third party's side) and TPM2_ActivateCredential (the TPM's), for an RSA EK.

The protocol by which a verifier learns that an attestation key sits in the same TPM as an
endorsement key (TPM 2.0 Part 1 §24, Part 3 §12.5-12.6; what Parsec's ``ActivateCredential``
mechanism runs). The verifier picks a credential and a seed, encrypts the seed to the EK
(RSA-OAEP, label ``IDENTITY\\0``) and seals the credential under keys derived from the seed and the
AK's Name. Only a TPM that holds the EK's private key *and* has an object with that Name loaded can
return the credential.

* ``symKey = KDFa(nameAlg, seed, "STORAGE", Name, "", EK symmetric bits)``; encIdentity is
  AES-CFB (IV 0) over TPM2B(credential).
* ``hmacKey = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)``; integrity is
  HMAC(hmacKey, encIdentity ‖ Name).
* credentialBlob (TPM2B_ID_OBJECT content) = TPM2B(integrity) ‖ encIdentity; secret
  (TPM2B_ENCRYPTED_SECRET content) is the OAEP ciphertext.

The OAEP padding takes its random seed from the caller, so the output is reproducible from a seed
(vectors must be byte-stable); it is standard EME-OAEP, and ``tests/formats/test_tpm.py`` checks the
emulated ActivateCredential against tpm2-pytss's ``make_credential``.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from hsmsim.formats.tpm.marshal import tpm2b
from hsmsim.tpm.hierarchy import kdfa
from hsmsim.tpm.marshal import TpmAlg
from hsmsim.tpm.oaep import oaep_encrypt

IDENTITY_LABEL = b"IDENTITY\x00"
EK_SYMMETRIC_BITS = 128  # the TCG default EK template: AES-128-CFB
MAX_CREDENTIAL = 64  # a TPM2B_DIGEST


def _cfb(key: bytes, data: bytes, *, decrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), CFB(b"\x00" * 16))
    context = cipher.decryptor() if decrypt else cipher.encryptor()
    return context.update(data) + context.finalize()


@dataclass(frozen=True)
class MadeCredential:
    """What TPM2_MakeCredential returns: credentialBlob (TPM2B_ID_OBJECT content) and secret."""

    credential_blob: bytes
    secret: bytes


def make_credential(ek: rsa.RSAPublicKey, object_name: bytes, credential: bytes, seed: bytes,
                    oaep_seed: bytes) -> MadeCredential:
    """Seal ``credential`` for the object named ``object_name`` in the TPM whose (nameAlg SHA-256) EK is ``ek``.

    ``seed`` (32 bytes) is the protocol seed, ``oaep_seed`` (32 bytes) the OAEP randomness.
    """
    if not credential or len(credential) > MAX_CREDENTIAL or len(seed) != 32:
        raise ValueError("the credential must be 1..64 bytes and the seed 32 bytes")
    return _made_credential(ek.public_numbers(), object_name, credential, seed, oaep_seed)


@functools.lru_cache(maxsize=64)
def _made_credential(ek_numbers: rsa.RSAPublicNumbers, object_name: bytes, credential: bytes, seed: bytes,
                     oaep_seed: bytes) -> MadeCredential:
    # Remembered by its exact inputs: the vector catalogue seals one golden exchange again for most of its
    # defects (the same credential, seeds, Name and EK), and a third party that did so would get these bytes.
    sym_key = kdfa(TpmAlg.SHA256, seed, b"STORAGE", object_name, b"", EK_SYMMETRIC_BITS)
    enc_identity = _cfb(sym_key, tpm2b(credential), decrypt=False)
    hmac_key = kdfa(TpmAlg.SHA256, seed, b"INTEGRITY", b"", b"", 256)
    integrity = hmac.digest(hmac_key, enc_identity + object_name, "sha256")
    return MadeCredential(tpm2b(integrity) + enc_identity, _secret(ek_numbers, seed, oaep_seed))


@functools.lru_cache(maxsize=64)
def _secret(ek_numbers: rsa.RSAPublicNumbers, seed: bytes, oaep_seed: bytes) -> bytes:
    # Remembered apart from the blob: the catalogue seals one seed again for other Names (an RSA public
    # operation in Python is most of the cost of MakeCredential).
    return oaep_encrypt(ek_numbers, seed, seed=oaep_seed, hash_name="sha256", label=IDENTITY_LABEL)


def activate_credential(ek: rsa.RSAPrivateKey, object_name: bytes, credential_blob: bytes,
                        secret: bytes) -> bytes | None:
    """TPM2_ActivateCredential in the TPM holding ``ek`` with the object named ``object_name`` loaded:
    the credential, or None when the TPM refuses (the secret is not for this EK, or the blob is not
    for this Name: TPM_RC_VALUE / TPM_RC_INTEGRITY)."""
    try:
        seed = ek.decrypt(secret, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), IDENTITY_LABEL))
    except ValueError:
        return None
    return release_credential(seed, object_name, credential_blob)


def release_credential(seed: bytes, object_name: bytes, credential_blob: bytes) -> bytes | None:
    """The rest of TPM2_ActivateCredential once the TPM holds the protocol ``seed`` the secret carried: the
    credential, or None when the blob is not for the object named ``object_name`` (TPM_RC_INTEGRITY)."""
    if len(credential_blob) < 2:
        return None
    size = int.from_bytes(credential_blob[:2], "big")
    integrity, enc_identity = credential_blob[2:2 + size], credential_blob[2 + size:]
    hmac_key = kdfa(TpmAlg.SHA256, seed, b"INTEGRITY", b"", b"", 256)
    if not hmac.compare_digest(integrity, hmac.digest(hmac_key, enc_identity + object_name, "sha256")):
        return None
    sym_key = kdfa(TpmAlg.SHA256, seed, b"STORAGE", object_name, b"", EK_SYMMETRIC_BITS)
    plain = _cfb(sym_key, enc_identity, decrypt=True)
    if len(plain) < 2 or int.from_bytes(plain[:2], "big") != len(plain) - 2:
        return None
    return plain[2:]
