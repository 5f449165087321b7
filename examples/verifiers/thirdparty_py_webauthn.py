"""A WebAuthn relying party on py_webauthn (``webauthn`` on PyPI), verifying hsmsim's ``webauthn`` records.

It does what py_webauthn's README shows: ``verify_registration_response`` with the challenge, RP ID
and origin the RP expected, and the vector's roots in ``pem_root_certs_bytes_by_fmt`` for every
statement format hsmsim emits (tpm, packed, fido-u2f, android-key, apple). The certificate
store's clock is the vector's validation time, through the hook py_webauthn documents for that
(``validate_certificate_chain._generate_new_cert_store``). Any exception is a REJECT. Needs the
``thirdparty`` extra (``pip install -e '.[thirdparty]'``).
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

__version__ = "1.0"

_CLOCK = threading.Lock()


@contextmanager
def _store_clock(at: datetime) -> Iterator[None]:
    from OpenSSL.crypto import X509Store

    # the module, not the function of the same name that webauthn.helpers re-exports
    chain = importlib.import_module("webauthn.helpers.validate_certificate_chain")

    def store_at_time() -> X509Store:
        store = X509Store()
        store.set_time(at.replace(tzinfo=None))
        return store

    with _CLOCK:
        original = chain._generate_new_cert_store
        chain._generate_new_cert_store = store_at_time
        try:
            yield
        finally:
            chain._generate_new_cert_store = original


def hello() -> dict[str, Any]:
    """The adapter's formats and the library version."""
    from importlib.metadata import version

    return {"formats": ["webauthn"], "version": f"py_webauthn {version('webauthn')}"}


def verify(request: Any) -> dict[str, str]:
    """Verdict for one hsmsim VerifyRequest: ACCEPT when py_webauthn verifies the registration."""
    from webauthn import verify_registration_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import AttestationFormat

    formats = (AttestationFormat.TPM, AttestationFormat.PACKED, AttestationFormat.FIDO_U2F,
                AttestationFormat.ANDROID_KEY, AttestationFormat.APPLE)
    try:
        record = json.loads(request.evidence.files[request.evidence.primary])
        roots = [anchor.encode() for anchor in request.anchors_pem]
        with _store_clock(request.at):
            verify_registration_response(
                credential=record["credential"],
                expected_challenge=base64url_to_bytes(record["expectedChallenge"]),
                expected_rp_id=record["expectedRpId"],
                expected_origin=record["expectedOrigin"],
                pem_root_certs_bytes_by_fmt=dict.fromkeys(formats, roots),
            )
    except Exception as exc:  # noqa: BLE001 - py_webauthn raises many types; all mean "not verified"
        return {"verdict": "REJECT", "detail": f"{type(exc).__name__}: {exc}"}
    return {"verdict": "ACCEPT", "reason": "OK"}
