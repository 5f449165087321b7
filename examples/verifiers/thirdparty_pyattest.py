"""An App Attest server on pyattest (PyPI ``pyattest``), verifying hsmsim's ``apple-appattest`` records.

It does what pyattest's README shows: ``AppleConfig(key_id, app_id, production, root_ca)`` with the
vector's root, then ``Attestation(attestation, challenge, config).verify()``. pyattest builds its own
pyhanko-certvalidator ``ValidationContext``; the adapter gives it the vector's validation time as
``moment`` (pyhanko's documented parameter). Any exception is a REJECT.

pyattest is not an hsmsim dependency (it pins python-jose, pyjwt, pyhanko-certvalidator and aiohttp):
install it yourself (``pip install pyattest==1.0.5``); without it, ``hello`` raises and the harness skips
the adapter.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import threading
from typing import Any

__version__ = "1.0"

_CLOCK = threading.Lock()


def hello() -> dict[str, Any]:
    """The adapter's format and the library version (ImportError without pyattest)."""
    from importlib.metadata import version

    import pyattest  # noqa: F401 - fails here, not per vector, when pyattest is absent

    return {"formats": ["apple-appattest"], "version": f"pyattest {version('pyattest')}"}


def verify(request: Any) -> dict[str, str]:
    """Verdict for one hsmsim VerifyRequest: ACCEPT when pyattest verifies the attestation."""
    from pyattest.attestation import Attestation
    from pyattest.configs.apple import AppleConfig
    from pyattest.verifiers import apple_attestation

    try:
        record = json.loads(request.evidence.files[request.evidence.primary])
        challenge = record["challenge"]
        config = AppleConfig(key_id=base64.b64decode(record["keyId"]), app_id=record["appId"],
                             production=record["environment"] == "production",
                             root_ca=request.anchors_pem[0].encode())
        attestation = Attestation(base64.b64decode(record["attestation"]),
                                  base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4)), config)
        with _CLOCK:
            original = apple_attestation.ValidationContext
            apple_attestation.ValidationContext = functools.partial(original, moment=request.at)
            try:
                asyncio.run(attestation.verify())
            finally:
                apple_attestation.ValidationContext = original
    except Exception as exc:  # noqa: BLE001 - pyattest raises many types; all mean "not verified"
        return {"verdict": "REJECT", "detail": f"{type(exc).__name__}: {exc}"}
    return {"verdict": "ACCEPT", "reason": "OK"}
