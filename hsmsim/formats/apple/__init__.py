"""Apple device attestation: ACME device-attest-01 with Managed Device Attestation (``apple-acme``),
App Attest (``apple-appattest``), and the WebAuthn ``apple`` (anonymous) attestation statement, each under
its emulated Apple root.

Importing this package registers its formats, and the ``apple`` statement with its ``webauthn`` vectors."""

from hsmsim.formats import register
from hsmsim.formats.apple.format import AppAttestFormat, AppleAcmeFormat
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.webauthn.statements import CatalogueVectors, StatementFormat, register_deferred_statement

__all__ = ["APPLE_ACME", "APPLE_APPATTEST", "AppAttestFormat", "AppleAcmeFormat"]


def _statement() -> StatementFormat:
    from hsmsim.formats.apple.webauthn_statement import AppleAnonymousAttestation  # on the statement's first use

    return AppleAnonymousAttestation()



def _webauthn_vector_cases(seed: str) -> list[VectorCase]:
    from hsmsim.formats.apple.webauthn_catalogue import (
        vector_cases,  # only when vectors are built: verifying never needs it
    )

    return vector_cases(seed)


def _webauthn_notes() -> dict[str, FlagNote]:
    from hsmsim.formats.apple.webauthn_catalogue import notes

    return notes()


APPLE_ACME = register(AppleAcmeFormat())
APPLE_APPATTEST = register(AppAttestFormat())
register_deferred_statement("apple", _statement, vectors=CatalogueVectors(_webauthn_vector_cases, _webauthn_notes))
