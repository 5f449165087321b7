"""Findings on disk, as ready-to-add vectors, and their promotion into the corpus.

A finding directory holds ``finding.json`` — one vector in the corpus schema (inputs,
trust, per-profile verdicts from the reference verifier, provenance naming the fuzz
operators) plus what the target said — and the native files. ``promote`` appends the
vector to ``vectors/promoted/<format>.json``, which the corpus builder includes under a
``<format>::fuzz::<name>`` id.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim._atomic import write_atomic
from hsmsim.corpus.build import PROMOTED_DIR, CorpusError
from hsmsim.fuzz.engine import Finding, ReferenceTarget
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.verdict import Profile


def finding_vector(finding: Finding, model: FuzzModel, seed: str, target_name: str) -> dict[str, object]:
    """The finding as a corpus-shaped vector; verdicts per profile come from the reference verifier."""
    built = finding.built
    trust = TrustAnchors({"root": model.anchors})
    reference = ReferenceTarget(model.format)
    profiles = {}
    for profile in Profile:
        outcome = reference.verify(built.evidence, trust, model.validation_time, profile)
        profiles[profile.value] = {"result": "valid" if outcome.verdict == "ACCEPT" else "invalid",
                                   "reason": outcome.reason or outcome.verdict}
    results = {p["result"] for p in profiles.values()}
    operators = "+".join(name for name, _ in built.applied) or "none"
    return {
        "id": f"{model.format}::fuzz::{finding.slug}",
        "comment": f"fuzz finding ({finding.kind}) against {target_name}: {operators}",
        "flags": ["FuzzFinding", "Resigned" if built.resigned else "Stale"],
        "result": results.pop() if len(results) == 1 else "acceptable",
        "expectedReason": profiles["strict"]["reason"] if profiles["strict"]["reason"] != "OK"
        else profiles["structural"]["reason"],
        "profiles": profiles,
        "inputs": {
            "primary": built.evidence.primary,
            "files": [{"path": rel, "sha256": hashlib.sha256(data).hexdigest(),
                       "base64": base64.b64encode(data).decode()} for rel, data in built.evidence.files.items()],
        },
        "trust": {"anchors": [a.public_bytes(Encoding.PEM).decode() for a in model.anchors],
                  "validationTime": model.validation_time.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "provenance": {"golden": f"{model.format}::golden::{built.case.golden}", "operator": operators,
                       "path": "; ".join(path for _, path in built.applied) or None,
                       "seed": f"{seed}:{built.case.index}", "signing": "Resigned" if built.resigned else "Stale"},
        "finding": {"kind": finding.kind, "key": finding.key, "target": target_name,
                    "targetVerdict": finding.target.verdict, "targetReason": finding.target.reason,
                    "targetDetail": finding.target.detail, "referenceVerdict": finding.reference.verdict,
                    "referenceReason": finding.reference.reason},
    }


def write_finding(out: Path, finding: Finding, model: FuzzModel, seed: str, target_name: str) -> Path:
    """Write ``out/findings/<slug>/`` (finding.json + native files); returns the directory."""
    directory = out / "findings" / finding.slug
    vector = finding_vector(finding, model, seed, target_name)
    for rel, data in finding.built.evidence.files.items():
        write_atomic(directory / "files" / Path(rel).name, data)
    write_atomic(directory / "finding.json", (json.dumps(vector, indent=1) + "\n").encode())
    return directory


def promote(finding_dir: Path, corpus: Path) -> str:
    """Add the finding's vector to ``corpus/promoted/<format>.json``; returns its id.

    Raises :class:`CorpusError` when the finding is unreadable or already promoted. Run
    ``hsmsim vectors generate`` afterwards to number it and write its native files.
    """
    try:
        vector = json.loads((finding_dir / "finding.json").read_text())
        vector_id = str(vector["id"])
    except (OSError, ValueError, KeyError) as exc:
        raise CorpusError(f"{finding_dir} holds no readable finding.json") from exc
    format_name = vector_id.split("::")[0]
    path = corpus / PROMOTED_DIR / f"{format_name}.json"
    promoted = json.loads(path.read_text()) if path.exists() else []
    if any(entry["id"] == vector_id for entry in promoted):
        raise CorpusError(f"{vector_id} is already promoted")
    vector.pop("finding", None)
    promoted.append(vector)
    write_atomic(path, (json.dumps(promoted, indent=1) + "\n").encode())
    return vector_id
