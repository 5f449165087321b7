"""What tells a WebAuthn registration on disk, importable without the container's codecs, the ceremony, the
verifier or the statements: the record's suffix and bound, and the members a ``.json`` record is recognised by.
:mod:`~hsmsim.formats.webauthn.format` and :mod:`~hsmsim.formats.webauthn.verify` use the same values."""

from hsmsim.webauthn.limits import MAX_ATTESTATION_OBJECT
from hsmsim.webauthn.limits import RECORD_SUFFIX as RECORD_SUFFIX  # re-exported: the record's name

FORMAT = "webauthn"
MAX_RECORD_BYTES = 2 * MAX_ATTESTATION_OBJECT
RECORD_MEMBERS = (b'"attestationObject"', b'"expectedRpId"')
"""The members a ``.json`` file holds to be taken for a record when it is not named ``*.webauthn.json``."""
