"""Reading corpus-shaped JSON vectors back into :class:`hsmsim.model.vectors.VectorCase`."""

from __future__ import annotations

import base64
from datetime import datetime

from cryptography import x509

from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import Provenance, Signing, VectorCase
from hsmsim.verdict import Profile, Reason

SCHEMA_NAME = "hsmsim_vector_v1.json"


def case_from_json(vector: dict[str, object], seed: str) -> VectorCase:
    """A :class:`VectorCase` back from a corpus-shaped JSON vector (promoted fuzz findings)."""
    inputs = vector["inputs"]
    trust = vector["trust"]
    provenance = vector["provenance"]
    assert isinstance(inputs, dict) and isinstance(trust, dict) and isinstance(provenance, dict)
    files = {entry["path"]: base64.b64decode(entry["base64"]) for entry in inputs["files"]}
    profiles = vector["profiles"]
    assert isinstance(profiles, dict)
    return VectorCase(
        id=str(vector["id"]), comment=str(vector["comment"]), flags=tuple(vector["flags"]),  # type: ignore[arg-type]
        expected={Profile(p): Reason(v["reason"]) for p, v in profiles.items()},
        evidence=Evidence(str(vector["id"]).split("::")[0], files, str(inputs["primary"])),
        anchors=tuple(x509.load_pem_x509_certificate(a.encode()) for a in trust["anchors"]),
        validation_time=datetime.fromisoformat(str(trust["validationTime"]).replace("Z", "+00:00")),
        provenance=Provenance(seed=str(provenance.get("seed") or seed), signing=Signing(provenance["signing"]),
                              golden=provenance.get("golden"), operator=provenance.get("operator"),
                              path=provenance.get("path")),
    )
