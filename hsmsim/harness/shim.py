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
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from hsmsim.errors import BundleError, HsmsimError
from hsmsim.harness.adapters import answer_from, build_request, import_entry
from hsmsim.harness.model import Actual
from hsmsim.harness.text import one_line
from hsmsim.harness.vectors import Submission
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, MAX_BUNDLE_FILES, MAX_TRUST_ANCHOR_BYTES, Evidence
from hsmsim.safeio import ReadBudget, read_regular_file


class ShimRequestError(HsmsimError):
    """A ``verify`` request the shim cannot put to the function: malformed, or naming inputs it cannot read (missing,
    not regular files, past the limits a format's ``load`` keeps). Answered ``ERROR`` with this one line."""


def _submission(request: Mapping[str, object]) -> Submission:
    """What a ``verify`` request puts to the verifier, read back from the files the harness wrote, as a format's
    ``load`` reads evidence: regular files only, each evidence file at most 16 MiB and all within one
    :class:`ReadBudget`, at most 64 anchors of 1 MiB each. Raises :class:`ShimRequestError`."""
    try:
        inputs = request["inputs"]
        features = request.get("features") or ()
        if not (isinstance(inputs, dict) and isinstance(inputs["files"], dict) and isinstance(features, list | tuple)):
            raise ShimRequestError("malformed verify request: inputs, inputs.files or features of the wrong type")
        budget, anchor_budget = ReadBudget(), ReadBudget()
        files = {str(rel): read_regular_file(Path(path), MAX_BUNDLE_FILE_BYTES, budget)
                 for rel, path in inputs["files"].items()}
        anchors = sorted(Path(inputs["anchors_dir"]).glob("anchor-*.pem"), key=lambda p: int(p.stem.split("-")[1]))
        if len(anchors) > MAX_BUNDLE_FILES:
            raise ShimRequestError(f"the request names {len(anchors)} anchors; at most {MAX_BUNDLE_FILES} are read")
        anchors_pem = tuple(read_regular_file(p, MAX_TRUST_ANCHOR_BYTES, anchor_budget).decode() for p in anchors)
        vector_id, format_name = str(request["id"]), str(request["format"])
        primary = Path(inputs["primary"]).relative_to(inputs["dir"]).as_posix()
        at = datetime.fromisoformat(str(inputs["time"]))
    except BundleError as exc:
        raise ShimRequestError(one_line(str(exc), 300)) from None
    except (KeyError, TypeError, ValueError) as exc:  # UnicodeDecodeError included
        raise ShimRequestError(one_line(f"malformed verify request: {type(exc).__name__}: {exc}", 300)) from None
    return Submission(id=vector_id, format=format_name, evidence=Evidence(format_name, files, primary),
                      anchors_pem=anchors_pem, at=at, features=tuple(str(f) for f in features))


def serve(entry: str, pythonpath: tuple[str, ...] = (), hello: str | None = None) -> int:
    """Answer requests on stdin until EOF; returns the exit status.

    The protocol keeps stdin and stdout to itself: the function (on import, in ``hello``, per case; Python or C) reads
    an empty standard input and writes to standard error whatever it prints, as it does in-process."""
    requests = os.fdopen(os.dup(0), encoding="utf-8")
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    with open(os.devnull, "rb") as nothing:
        os.dup2(nothing.fileno(), 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    function = import_entry(entry, pythonpath, ".")
    hello_data: dict[str, object] = {}
    if hello:
        value = import_entry(hello, pythonpath, ".")()
        hello_data = dict(value) if isinstance(value, Mapping) else {}
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "hello":
            out.write(json.dumps({"op": "hello", **hello_data}) + "\n")
        elif request.get("op") == "verify":
            try:
                submission = _submission(request)
            except ShimRequestError as exc:
                out.write(json.dumps({"id": request.get("id"), "verdict": "ERROR", "detail": str(exc)}) + "\n")
                out.flush()
                continue
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
