"""WebAuthn registrations (the ``webauthn`` format): the relying party's checks, dispatch to the attestation
statement formats other families register, and the standard statements ``packed``, ``fido-u2f`` and ``none``.

Importing this package registers the ``webauthn`` format and those statements.
"""

from hsmsim.formats import register
from hsmsim.formats.webauthn.catalogue import notes, vector_cases
from hsmsim.formats.webauthn.format import WebAuthnFormat
from hsmsim.formats.webauthn.standard import FidoU2fAttestation, NoneAttestation, PackedAttestation
from hsmsim.webauthn.statements import CatalogueVectors, register_statement

WEBAUTHN = register(WebAuthnFormat())
register_statement(NoneAttestation())
register_statement(PackedAttestation(), vectors=CatalogueVectors(vector_cases, notes))
register_statement(FidoU2fAttestation())
