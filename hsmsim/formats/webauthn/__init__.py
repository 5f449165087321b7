"""WebAuthn registrations (the ``webauthn`` format): the relying party's checks, dispatch to the attestation
statement formats other families register, and the standard statements ``packed``, ``fido-u2f`` and ``none``.

Importing this package registers the ``webauthn`` format and those statements.
"""

from hsmsim.formats import register
from hsmsim.formats.webauthn.format import WebAuthnFormat
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.webauthn.statements import CatalogueVectors, StatementFormat, register_deferred_statement

# Each statement's module is imported on the statement's first lookup, not when the family is.


def _none() -> StatementFormat:
    from hsmsim.formats.webauthn.standard import NoneAttestation

    return NoneAttestation()


def _packed() -> StatementFormat:
    from hsmsim.formats.webauthn.standard import PackedAttestation

    return PackedAttestation()


def _fido_u2f() -> StatementFormat:
    from hsmsim.formats.webauthn.standard import FidoU2fAttestation

    return FidoU2fAttestation()


def _vector_cases(seed: str) -> list[VectorCase]:
    from hsmsim.formats.webauthn.catalogue import vector_cases  # only when vectors are built: verifying never needs it

    return vector_cases(seed)


def _notes() -> dict[str, FlagNote]:
    from hsmsim.formats.webauthn.catalogue import notes

    return notes()


WEBAUTHN = register(WebAuthnFormat())
register_deferred_statement("none", _none)
register_deferred_statement("packed", _packed, vectors=CatalogueVectors(_vector_cases, _notes))
register_deferred_statement("fido-u2f", _fido_u2f)
