"""Android Keystore / KeyMint key attestation: the bare certificate chain whose leaf carries a KeyDescription
(``android-key``), the ACME device-attest-01 statement carrying it (``android-acme``), and the WebAuthn
``android-key`` attestation statement.

Importing this package registers its formats and the WebAuthn statement."""

from hsmsim.formats import register
from hsmsim.formats.android.format import AndroidAcmeFormat, AndroidKeyFormat
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.webauthn.statements import CatalogueVectors, StatementFormat, register_deferred_statement

__all__ = ["ANDROID_ACME", "ANDROID_KEY", "AndroidAcmeFormat", "AndroidKeyFormat"]


def _statement() -> StatementFormat:
    from hsmsim.formats.android.options import AndroidOptions  # on the statement's first use
    from hsmsim.formats.android.webauthn import AndroidKeyAttestation

    return AndroidKeyAttestation(AndroidOptions())


def _webauthn_vector_cases(seed: str) -> list[VectorCase]:
    from hsmsim.formats.android.webauthn import vector_cases  # only when vectors are built

    return vector_cases(seed)


def _webauthn_notes() -> dict[str, FlagNote]:
    from hsmsim.formats.android.webauthn import notes

    return notes()


ANDROID_KEY = register(AndroidKeyFormat())
ANDROID_ACME = register(AndroidAcmeFormat())
register_deferred_statement("android-key", _statement,
                            vectors=CatalogueVectors(_webauthn_vector_cases, _webauthn_notes))
