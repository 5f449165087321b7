"""Helpers the format tests share."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
from cryptography import x509

from hsmsim.corpus.build import build_corpus
from hsmsim.formats.contract import Format
from hsmsim.model.corpus_schema import vector_schema
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile


def check_catalogue_verdicts(out: Path, fmt: Format, seed: str) -> dict[str, Any]:
    """Build ``fmt``'s vectors into ``out`` and assert that the vector file fits the schema and that every vector,
    read back from its JSON, gets from ``fmt.verify`` under each profile the reason its definition states; returns
    the vector file's document."""
    report = build_corpus(out, seed=seed, formats=[fmt.name])
    document: dict[str, Any] = json.loads((out / f"{fmt.name}_verify.json").read_text())
    jsonschema.Draft202012Validator(json.loads(json.dumps(vector_schema()))).validate(document)
    assert report.vectors == document["numberOfTests"] == len(document["tests"])
    for test in document["tests"]:
        files = {f["path"]: base64.b64decode(f["base64"]) for f in test["inputs"]["files"]}
        anchors = tuple(x509.load_pem_x509_certificate(a.encode()) for a in test["trust"]["anchors"])
        at = datetime.fromisoformat(test["trust"]["validationTime"].replace("Z", "+00:00"))
        evidence = Evidence(fmt.name, files, test["inputs"]["primary"])
        for profile, expected in test["profiles"].items():
            verdict = fmt.verify(evidence, TrustAnchors({"root": anchors}), at=at, profile=Profile(profile))
            assert verdict.reason.value == expected["reason"], f"{test['id']} {profile}: {verdict.summary()}"
    return document
