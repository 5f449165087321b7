"""Serve a Python verifier function over the persistent JSON Lines protocol.

    python -m hsmsim.harness.shim module:function [--pythonpath DIR ...] [--hello module:function]

This is what ``mode = "python"`` with ``isolate = true`` runs: the function gets the same
:class:`hsmsim.harness.adapters.VerifyRequest` as in-process, but a hang can be killed and a
crash cannot take the harness down. It is also a reference implementation of the protocol
(``docs/conformance.md``): one JSON object per line in, one per line out, exit on EOF.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from hsmsim.harness.adapters import answer_from, build_request, import_entry
from hsmsim.harness.model import Actual
from hsmsim.harness.vectors import Vector


def _vector(request: Mapping[str, object]) -> Vector:
    """Rebuild a Vector from a ``verify`` request's files (the shim reads what the harness wrote)."""
    inputs = request["inputs"]
    assert isinstance(inputs, dict)
    files = tuple((rel, base64.b64encode(Path(path).read_bytes()).decode()) for rel, path in inputs["files"].items())
    anchors_dir = Path(inputs["anchors_dir"])
    anchors = tuple(p.read_text() for p in sorted(anchors_dir.glob("anchor-*.pem"),
                                                  key=lambda p: int(p.stem.split("-")[1])))
    primary = Path(inputs["primary"]).relative_to(inputs["dir"]).as_posix()
    return Vector(id=str(request["id"]), format=str(request["format"]), category="", comment="", flags=(),
                  severity="info", result="valid", expected_reason="OK", profiles={}, features=tuple(
                      request.get("features", ())), primary=primary, files=files, anchors=anchors,  # type: ignore[arg-type]
                  validation_time=str(inputs["time"]))


def serve(entry: str, pythonpath: tuple[str, ...] = (), hello: str | None = None) -> int:
    """Answer requests on stdin until EOF; returns the exit status."""
    function = import_entry(entry, pythonpath, ".")
    hello_data: dict[str, object] = {}
    if hello:
        value = import_entry(hello, pythonpath, ".")()
        hello_data = dict(value) if isinstance(value, Mapping) else {}
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "hello":
            out.write(json.dumps({"op": "hello", **hello_data}) + "\n")
        elif request.get("op") == "verify":
            vector = _vector(request)
            answer = answer_from(function(build_request(vector, str(request.get("profile", "structural")))))
            reply = {"id": request["id"], "verdict": answer.verdict.value, "reason": answer.reason,
                     "detail": answer.detail}
            if answer.verdict is Actual.ERROR:
                reply = {"id": request["id"], "verdict": "ERROR", "detail": answer.detail}
            out.write(json.dumps(reply) + "\n")
        else:
            out.write(json.dumps({"id": request.get("id"), "verdict": "ERROR",
                                  "detail": f"unknown op {request.get('op')!r}"}) + "\n")
        out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entry")
    parser.add_argument("--pythonpath", action="append", default=[])
    parser.add_argument("--hello", default=None)
    args = parser.parse_args(argv)
    return serve(args.entry, tuple(args.pythonpath), args.hello)


if __name__ == "__main__":
    sys.exit(main())
