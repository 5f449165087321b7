"""Moved to :mod:`hsmsim.tpm.structures` (below the formats, shared with the ``ietf`` family); this path
re-exports it so existing imports keep working."""

from hsmsim.tpm.structures import (
    CURVE_IDS,
    CURVES,
    DEFAULT_RSA_EXPONENT,
    NULL_SCHEME,
    NULL_SYMMETRIC,
    PCR_SELECT_MIN,
    Attested,
    CertifyInfo,
    ClockInfo,
    EccParms,
    EccPoint,
    OpaqueAttested,
    PcrSelection,
    QuoteInfo,
    RsaParms,
    Scheme,
    SymDef,
    TpmsAttest,
    TpmtPublic,
    TpmtSignature,
    attest_type_name,
    check_qualified_name,
    ecc_public,
    name_of,
    object_attributes,
    pcr_selection_list,
    qualified_name,
    rsa_public,
)

__all__ = [
    "CURVE_IDS", "CURVES", "DEFAULT_RSA_EXPONENT", "NULL_SCHEME", "NULL_SYMMETRIC", "PCR_SELECT_MIN", "Attested",
    "CertifyInfo", "ClockInfo", "EccParms", "EccPoint", "OpaqueAttested", "PcrSelection", "QuoteInfo", "RsaParms",
    "Scheme", "SymDef", "TpmsAttest", "TpmtPublic", "TpmtSignature", "attest_type_name", "check_qualified_name",
    "ecc_public", "name_of", "object_attributes", "pcr_selection_list", "qualified_name", "rsa_public",
]
