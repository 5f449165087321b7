"""WebAuthn registrations (the ``webauthn`` format): the relying party's checks, dispatch to the attestation
statement formats other families register, and the standard statements ``packed``, ``fido-u2f`` and ``none``.

Importing this package registers the ``webauthn`` format and those statements.
"""

from hsmsim.formats import register
from hsmsim.formats.webauthn.format import WebAuthnFormat
from hsmsim.formats.webauthn.standard import FidoU2fAttestation, NoneAttestation, PackedAttestation
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.webauthn.statements import CatalogueVectors, register_statement


def _vector_cases(seed: str) -> list[VectorCase]:
    from hsmsim.formats.webauthn.catalogue import vector_cases  # only when vectors are built: verifying never needs it

    return vector_cases(seed)


def _notes() -> dict[str, FlagNote]:
    from hsmsim.formats.webauthn.catalogue import notes

    return notes()


WEBAUTHN = register(WebAuthnFormat())
register_statement(NoneAttestation())
register_statement(PackedAttestation(), vectors=CatalogueVectors(_vector_cases, _notes))
register_statement(FidoU2fAttestation())
