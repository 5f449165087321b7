"""The JSON Schema of a vector file (``vectors/schema/hsmsim_vector_v1.json``), defined once here."""

from __future__ import annotations

from hsmsim.verdict import Profile, Reason

_REASONS = [r.value for r in Reason]
_PROFILE_VERDICT = {
    "type": "object", "additionalProperties": False, "required": ["result", "reason"],
    "properties": {"result": {"enum": ["valid", "invalid"]}, "reason": {"enum": _REASONS}},
}
_FILE = {
    "type": "object", "additionalProperties": False, "required": ["path", "sha256", "base64"],
    "properties": {
        "path": {"type": "string", "pattern": r"^[A-Za-z0-9._-][A-Za-z0-9._/-]*$"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "base64": {"type": "string", "contentEncoding": "base64"},
    },
}
_NOTE = {
    "type": "object", "additionalProperties": False,
    "required": ["bugType", "severity", "description", "effect", "refs"],
    "properties": {
        "bugType": {"type": "string"}, "severity": {"enum": ["critical", "high", "medium", "low", "info"]},
        "description": {"type": "string"}, "effect": {"type": "string"},
        "refs": {"type": "array", "items": {"type": "string"}},
    },
}
_TEST = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "tcId", "comment", "flags", "result", "expectedReason", "severity", "profiles", "features",
                 "inputs", "trust", "provenance"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*(::[a-z0-9][a-z0-9-]*)+$"},
        "tcId": {"type": "integer", "minimum": 1},
        "comment": {"type": "string"},
        "flags": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"}, "minItems": 1},
        "result": {"enum": ["valid", "invalid", "acceptable"]},
        "expectedReason": {"enum": _REASONS},
        "severity": {"enum": ["critical", "high", "medium", "low", "info"]},
        "profiles": {
            "type": "object", "additionalProperties": False, "required": [p.value for p in Profile],
            "properties": {p.value: _PROFILE_VERDICT for p in Profile},
        },
        "features": {"type": "array", "items": {"type": "string"}},
        "inputs": {
            "type": "object", "additionalProperties": False, "required": ["primary", "dir", "files"],
            "properties": {"primary": {"type": "string"}, "dir": {"type": "string"},
                           "files": {"type": "array", "items": _FILE, "minItems": 1}},
        },
        "trust": {
            "type": "object", "additionalProperties": False, "required": ["anchors", "validationTime"],
            "properties": {
                "anchors": {"type": "array", "items": {"type": "string", "pattern": "^-----BEGIN CERTIFICATE-----"}},
                "validationTime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
            },
        },
        "provenance": {
            "type": "object", "additionalProperties": False,
            "required": ["golden", "operator", "path", "seed", "signing"],
            "properties": {
                "golden": {"type": ["string", "null"]}, "operator": {"type": ["string", "null"]},
                "path": {"type": ["string", "null"]}, "seed": {"type": "string"},
                "signing": {"enum": ["Genuine", "Resigned", "Stale"]},
            },
        },
    },
}

VECTOR_SCHEMA: dict[str, object] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "hsmsim_vector_v1.json",
    "title": "hsmsim attestation verification vectors, version 1",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "format", "operation", "suiteVersion", "generator", "masterSeed", "header", "notes",
                 "numberOfTests", "tests"],
    "properties": {
        "schema": {"const": "hsmsim_vector_v1.json"},
        "format": {"type": "string"},
        "operation": {"const": "verify"},
        "suiteVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "generator": {
            "type": "object", "additionalProperties": False, "required": ["name", "version"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
        "masterSeed": {"type": "string"},
        "header": {"type": "array", "items": {"type": "string"}},
        "notes": {"type": "object", "additionalProperties": _NOTE},
        "numberOfTests": {"type": "integer", "minimum": 0},
        "tests": {"type": "array", "items": _TEST},
    },
}
