"""Serve a Python verifier function over the persistent JSON Lines protocol.

    python -m hsmsim.harness.shim module:function [--pythonpath DIR ...] [--hello module:function]

This is what ``mode = "python"`` with ``isolate = true`` runs: the function gets the same
:class:`hsmsim.harness.adapters.VerifyRequest` as in-process, but a hang can be killed and a
crash cannot take the harness down. It is also a reference implementation of the protocol
(``docs/conformance.md``): one JSON object per line in, one per line out, exit on EOF.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from hsmsim.harness.adapters import answer_from, build_request, import_entry
from hsmsim.harness.model import Actual
from hsmsim.harness.vectors import Submission
from hsmsim.model.evidence import Evidence


def _submission(request: Mapping[str, object]) -> Submission:
    """What a ``verify`` request puts to the verifier, read back from the files the harness wrote."""
    inputs = request["inputs"]
    assert isinstance(inputs, dict)
    files = {rel: Path(path).read_bytes() for rel, path in inputs["files"].items()}
    anchors = sorted(Path(inputs["anchors_dir"]).glob("anchor-*.pem"), key=lambda p: int(p.stem.split("-")[1]))
    format_name = str(request["format"])
    primary = Path(inputs["primary"]).relative_to(inputs["dir"]).as_posix()
    features = request.get("features") or ()
    assert isinstance(features, list | tuple)
    return Submission(id=str(request["id"]), format=format_name, evidence=Evidence(format_name, files, primary),
                      anchors_pem=tuple(p.read_text() for p in anchors),
                      at=datetime.fromisoformat(str(inputs["time"])), features=tuple(str(f) for f in features))


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
            submission = _submission(request)
            answer = answer_from(function(build_request(submission, str(request.get("profile", "structural")))))
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
