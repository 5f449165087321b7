"""The naive Primus verifier as a persistent JSON Lines process (hsmsim conformance protocol).

    python naive_primus_server.py [--flaw loose-pem ...]

Reads one request per line on stdin, answers one line on stdout, exits on EOF:

    {"op":"hello"}                                  -> {"name","version","formats","features"}
    {"op":"verify","id":...,"inputs":{"files":{rel: path}, "anchor": path, "time": ISO, ...}}
                                                    -> {"id","verdict","reason","detail"}
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from cryptography import x509
from naive_primus import FLAWS, __version__, check


def main() -> int:
    """Serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flaw", action="append", choices=FLAWS, default=[])
    flaws = frozenset(parser.parse_args().flaw)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            reply = {"name": "naive-primus", "version": __version__, "formats": ["primus"], "features": []}
        else:
            inputs = request["inputs"]
            files = {rel: Path(path).read_bytes() for rel, path in inputs["files"].items()}
            anchors = x509.load_pem_x509_certificates(Path(inputs["anchor"]).read_bytes())
            at = datetime.fromisoformat(inputs["time"].replace("Z", "+00:00"))
            verdict, step, detail = check(files, anchors, at, flaws)
            reply = {"id": request["id"], "verdict": verdict, "reason": step or None, "detail": detail}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
