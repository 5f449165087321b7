"""TPM 2.0 key attestation: the TPM core (TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE, Names), an
emulated TPM and its manufacturer PKI, and the WebAuthn ``tpm`` statement.

Importing this package registers its formats ``tpm-acme``, ``parsec-tpm`` and ``ms-kast`` (Windows TPM key
attestation in a certificate request), and the WebAuthn ``tpm`` attestation statement (the ``webauthn``
format's default: its AK is the format's attestation identity), deferred: the statement
(``TPM_ATTESTATION``, :class:`~hsmsim.formats.tpm.webauthn.TpmAttestation`) is made on its first use.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING

from hsmsim.formats import register
from hsmsim.formats.tpm.format import MsKastFormat, ParsecTpmFormat, TpmAcmeFormat
from hsmsim.webauthn.statements import CatalogueVectors, register_deferred_statement

if TYPE_CHECKING:
    from hsmsim.device import Device
    from hsmsim.formats.tpm.webauthn import TpmAttestation
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity


@functools.cache
def _statement() -> TpmAttestation:
    from hsmsim.formats.tpm.webauthn import TpmAttestation  # on the statement's first use

    return TpmAttestation()


def __getattr__(name: str) -> TpmAttestation:
    """``TPM_ATTESTATION``: the registered WebAuthn ``tpm`` statement, made on first use."""
    if name == "TPM_ATTESTATION":
        return _statement()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _provision(device: Device, partition: str,
               attesting: tuple[str, PrivateKey, datetime] | None) -> AttestationIdentity:
    return _statement().provision_ak(device, attesting)


def _webauthn_vector_cases(seed: str) -> list[VectorCase]:
    return _statement().registration_vectors(seed)


def _webauthn_notes() -> dict[str, FlagNote]:
    from hsmsim.formats.tpm.webauthn import registration_notes  # only when vectors are built

    return registration_notes()


TPM_ACME = register(TpmAcmeFormat())
PARSEC_TPM = register(ParsecTpmFormat())
MS_KAST = register(MsKastFormat())
register_deferred_statement("tpm", _statement, provision=_provision,
                            vectors=CatalogueVectors(_webauthn_vector_cases, _webauthn_notes))
