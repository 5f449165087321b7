"""Moved to :mod:`hsmsim.tpm.marshal` (below the formats, shared with the ``ietf`` family); this path
re-exports it so existing imports keep working."""

from hsmsim.tpm.marshal import (
    HASH_ALGS,
    HASH_NAMES,
    MAX_DATA,
    MAX_DIGEST,
    MAX_ECC_BYTES,
    MAX_NAME,
    MAX_RSA_BYTES,
    MAX_STRUCTURE_BYTES,
    TPM_GENERATED_VALUE,
    TPM_RH_ENDORSEMENT,
    TPM_RH_OWNER,
    TPMA_OBJECT_RESERVED,
    Reader,
    TpmAlg,
    TpmaObject,
    TpmEccCurve,
    TpmSt,
    alg_name,
    digest_size,
    hash_bytes,
    tpm2b,
    u16,
    u32,
    u64,
)

__all__ = [
    "HASH_ALGS", "HASH_NAMES", "MAX_DATA", "MAX_DIGEST", "MAX_ECC_BYTES", "MAX_NAME", "MAX_RSA_BYTES",
    "MAX_STRUCTURE_BYTES", "TPM_GENERATED_VALUE", "TPM_RH_ENDORSEMENT", "TPM_RH_OWNER", "TPMA_OBJECT_RESERVED",
    "Reader", "TpmAlg", "TpmaObject", "TpmEccCurve", "TpmSt", "alg_name", "digest_size", "hash_bytes", "tpm2b", "u16",
    "u32", "u64",
]
