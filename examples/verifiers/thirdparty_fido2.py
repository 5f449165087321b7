"""A WebAuthn relying party on python-fido2 (``fido2`` on PyPI), verifying hsmsim's ``webauthn`` records.

It uses fido2's server API as its documentation shows: a ``Fido2Server`` for the expected RP ID with
``attestation="direct"``, an origin check, and an ``AttestationVerifier`` whose ``ca_lookup`` returns
the trusted root; ``register_complete`` with the state of the expected challenge. fido2 checks the
chain's signatures only (no validity period). fido2 has no ``android-key`` verifier, so the adapter
declines those registrations (SKIPPED). Any exception is a REJECT. Needs the ``thirdparty``
extra (``pip install -e '.[thirdparty]'``).
"""

from __future__ import annotations

import json
from typing import Any

__version__ = "1.0"


def hello() -> dict[str, Any]:
    """The adapter's formats and the library version."""
    from importlib.metadata import version

    return {"formats": ["webauthn"], "version": f"python-fido2 {version('fido2')}"}


def _statement_format(record: Any) -> str | None:
    """The registration's attestation ``fmt``, or None when fido2 cannot decode the attestation object."""
    from fido2.utils import websafe_decode
    from fido2.webauthn import AttestationObject

    try:
        return str(AttestationObject(websafe_decode(record["credential"]["response"]["attestationObject"])).fmt)
    except Exception:  # noqa: BLE001 - an undecodable object is rejected by register_complete below
        return None


def verify(request: Any) -> dict[str, str]:
    """Verdict for one hsmsim VerifyRequest: ACCEPT when ``Fido2Server.register_complete`` succeeds."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from fido2.attestation import AttestationVerifier
    from fido2.server import Fido2Server
    from fido2.webauthn import AttestationConveyancePreference, PublicKeyCredentialRpEntity

    class RootVerifier(AttestationVerifier):
        def __init__(self, root_der: bytes) -> None:
            super().__init__()
            self.root_der = root_der

        def ca_lookup(self, attestation_result: Any, auth_data: Any) -> bytes:
            return self.root_der

    try:
        record = json.loads(request.evidence.files[request.evidence.primary])
        if _statement_format(record) == "android-key":
            return {"verdict": "SKIPPED", "detail": "python-fido2 has no android-key attestation verifier"}
        root = x509.load_pem_x509_certificate(request.anchors_pem[0].encode()).public_bytes(Encoding.DER)
        server = Fido2Server(
            PublicKeyCredentialRpEntity(name="hsmsim", id=record["expectedRpId"]),
            attestation=AttestationConveyancePreference.DIRECT,
            verify_origin=lambda origin: origin == record["expectedOrigin"],
            verify_attestation=RootVerifier(root),
        )
        state = {"challenge": record["expectedChallenge"], "user_verification": "discouraged"}
        server.register_complete(state, record["credential"])
    except Exception as exc:  # noqa: BLE001 - fido2 raises many types; all mean "not verified"
        return {"verdict": "REJECT", "detail": f"{type(exc).__name__}: {exc}"}
    return {"verdict": "ACCEPT", "reason": "OK"}
